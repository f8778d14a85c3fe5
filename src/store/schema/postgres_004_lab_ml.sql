-- mlworker schema v4 for PostgreSQL: how the ML engine (LOINC_ENABLED=1)
-- decided a categorized lab row; additive columns only (see
-- docs/semantics.md, labs).
--   loinc_source     catalog | manual | embedding | llm; NULL: no code (UNKNOWN)
--   loinc_score      the best LOINC candidate's combined score (ML rows; also
--                    when it was rejected), NULL otherwise
--   needs_review     true: the ML engine looked for a code and accepted none
--   category_source  catalog | manual | loinc | embedding; NULL: Others
--   category_score   the ML category evidence (the accepted code's score, or
--                    the cosine to the nearest catalog test), NULL otherwise
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS loinc_source VARCHAR(20);
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS loinc_score DOUBLE PRECISION;
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS needs_review BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS category_source VARCHAR(20);
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS category_score DOUBLE PRECISION;
CREATE INDEX IF NOT EXISTS idx_lab_report_categorized_review
    ON lab_report_categorized (needs_review) WHERE needs_review;
