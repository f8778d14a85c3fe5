-- mlworker schema v4 for SQLite: how the ML engine (LOINC_ENABLED=1) decided a
-- categorized lab row; additive columns only (see docs/semantics.md, labs).
--   loinc_source     catalog | manual | embedding | llm; NULL: no code (UNKNOWN)
--   loinc_score      the best LOINC candidate's combined score (ML rows; also
--                    when it was rejected), NULL otherwise
--   needs_review     1: the ML engine looked for a code and accepted none
--   category_source  catalog | manual | loinc | embedding; NULL: Others
--   category_score   the ML category evidence (the accepted code's score, or
--                    the cosine to the nearest catalog test), NULL otherwise
ALTER TABLE lab_report_categorized ADD COLUMN loinc_source TEXT;
ALTER TABLE lab_report_categorized ADD COLUMN loinc_score REAL;
ALTER TABLE lab_report_categorized ADD COLUMN needs_review BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE lab_report_categorized ADD COLUMN category_source TEXT;
ALTER TABLE lab_report_categorized ADD COLUMN category_score REAL;
CREATE INDEX IF NOT EXISTS idx_lab_report_categorized_review
    ON lab_report_categorized (needs_review) WHERE needs_review;
