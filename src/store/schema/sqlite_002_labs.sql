-- mlworker schema v2 for SQLite: labs.
-- Table and column names follow the original application's contract
-- (reference/original-data-model.md §4, original-lab-categorization.md §1-3);
-- additions are marked "mlworker:". Dates are 'YYYY-MM-DD' text, timestamps
-- 'YYYY-MM-DD HH:MM:SS' text.

-- Raw extracted results, written by the app's lab agent.
CREATE TABLE IF NOT EXISTS lab_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    test_name TEXT NOT NULL,
    test_category TEXT,             -- the report section the extracting LLM saw
    test_value TEXT,
    test_unit TEXT,
    reference_range TEXT,
    test_status TEXT,
    lab_name TEXT,
    lab_address TEXT,
    ordering_physician TEXT,
    test_date TEXT NOT NULL,
    report_date TEXT,
    test_notes TEXT,
    test_methodology TEXT,
    extracted_from_document_id INTEGER,
    confidence_score REAL,
    raw_text TEXT,
    -- pending -> categorized | insufficient (missing name/value/date, as the
    -- original) | failed (mlworker: unusable data, e.g. an invalid date)
    categorization_status TEXT NOT NULL DEFAULT 'pending',
    failure_reason TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE INDEX IF NOT EXISTS idx_lab_reports_categorization_status ON lab_reports (categorization_status);
CREATE INDEX IF NOT EXISTS idx_lab_reports_pending ON lab_reports (categorization_status, created_at, id);
CREATE INDEX IF NOT EXISTS idx_lab_reports_user_date ON lab_reports (user_id, test_date);

-- Name -> category / code / LOINC dictionary. Rows: the original's 90 seed
-- rows (mapping_source 'seed'), one row per catalog test ('catalog'), one per
-- new name the worker saw ('auto', lowercased name, with the matcher's
-- decision), and rows an operator adds ('manual': they override the matcher
-- for that name). Rows the original worker created have no mapping_source.
CREATE TABLE IF NOT EXISTS lab_test_mappings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    test_name TEXT NOT NULL UNIQUE,
    test_name_standardized TEXT,
    test_code TEXT,
    test_category TEXT NOT NULL,
    gpt_suggested_category TEXT,
    description TEXT,
    common_units TEXT,
    normal_range_info TEXT,
    loinc_code TEXT,
    loinc_source TEXT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_standardized BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    mapping_source TEXT,            -- mlworker: seed | catalog | auto | manual (NULL: the original's)
    match_kind TEXT,                -- mlworker: exact | token | fuzzy | none (auto rows)
    match_score REAL,               -- mlworker
    match_reason TEXT,              -- mlworker: the matcher's explanation
    catalog_version TEXT            -- mlworker: fingerprint of the catalog that decided
);
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_category_active ON lab_test_mappings (test_category, is_active);
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_name_category ON lab_test_mappings (test_name, test_category);
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_test_code ON lab_test_mappings (test_code);
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_standardized ON lab_test_mappings (test_name_standardized);
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_loinc ON lab_test_mappings (loinc_code);
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_lower_name ON lab_test_mappings (lower(test_name));

-- One categorized row per raw row. The original keyed this table by
-- (user_id, loinc_code, test_value, test_date), which merged two different
-- tests with the same value on one day (both UNKNOWN) and failed whole
-- batches; mlworker keys it by id (= lab_reports.id, as the original copied it).
CREATE TABLE IF NOT EXISTS lab_report_categorized (
    id INTEGER PRIMARY KEY,         -- = lab_reports.id
    user_id INTEGER NOT NULL,
    test_name TEXT NOT NULL,        -- standardized (canonical) name
    test_code TEXT,                 -- catalog test code, or the name-derived code
    loinc_code TEXT NOT NULL DEFAULT 'UNKNOWN',
    test_category TEXT,             -- the raw row's (LLM) category
    test_value TEXT NOT NULL,
    test_unit TEXT,
    reference_range TEXT,
    test_status TEXT,
    lab_name TEXT,
    lab_address TEXT,
    ordering_physician TEXT,
    test_date TEXT NOT NULL,
    report_date TEXT,
    test_notes TEXT,
    test_methodology TEXT,
    extracted_from_document_id INTEGER,
    confidence_score REAL,
    raw_text TEXT,
    inferred_test_category TEXT,    -- the category mlworker decided (aggregates use it)
    aggregation_status TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    match_kind TEXT,                -- mlworker: exact | token | fuzzy | none | manual
    match_score REAL,               -- mlworker
    match_reason TEXT,              -- mlworker
    catalog_version TEXT            -- mlworker
);
CREATE INDEX IF NOT EXISTS idx_lab_report_categorized_user_date ON lab_report_categorized (user_id, test_date);
CREATE INDEX IF NOT EXISTS idx_lab_report_categorized_aggregation_status ON lab_report_categorized (aggregation_status);
CREATE INDEX IF NOT EXISTS idx_lab_report_categorized_loinc_code ON lab_report_categorized (loinc_code);
CREATE INDEX IF NOT EXISTS idx_lab_report_categorized_test_code ON lab_report_categorized (test_code);

-- Aggregates. The original's unique keys were (user, period, test_category,
-- loinc_code), which merged every test without a LOINC code ('UNKNOWN') of a
-- category into one row; mlworker adds the test identity (test_code).
CREATE TABLE IF NOT EXISTS lab_reports_daily (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    date TEXT NOT NULL,
    test_name TEXT NOT NULL,
    test_code TEXT,
    loinc_code TEXT,
    test_category TEXT NOT NULL,
    avg_value TEXT,
    min_value TEXT,
    max_value TEXT,
    count INTEGER NOT NULL DEFAULT 1,
    unit TEXT,
    normal_range_min REAL,
    normal_range_max REAL,
    status TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS lab_reports_daily_loinc_code_unique
    ON lab_reports_daily (user_id, date, test_category, loinc_code, test_code);

CREATE TABLE IF NOT EXISTS lab_reports_monthly (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    test_name TEXT NOT NULL,
    test_code TEXT,
    loinc_code TEXT,
    test_category TEXT NOT NULL,
    avg_value TEXT,
    min_value TEXT,
    max_value TEXT,
    count INTEGER NOT NULL DEFAULT 1,
    unit TEXT,
    normal_range_min REAL,
    normal_range_max REAL,
    status TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS lab_reports_monthly_loinc_code_unique
    ON lab_reports_monthly (user_id, year, month, test_category, loinc_code, test_code);

CREATE TABLE IF NOT EXISTS lab_reports_quarterly (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    test_name TEXT NOT NULL,
    test_code TEXT,
    loinc_code TEXT,
    test_category TEXT NOT NULL,
    avg_value TEXT,
    min_value TEXT,
    max_value TEXT,
    count INTEGER NOT NULL DEFAULT 1,
    unit TEXT,
    normal_range_min REAL,
    normal_range_max REAL,
    status TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS lab_reports_quarterly_loinc_code_unique
    ON lab_reports_quarterly (user_id, year, quarter, test_category, loinc_code, test_code);

CREATE TABLE IF NOT EXISTS lab_reports_yearly (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    test_name TEXT NOT NULL,
    test_code TEXT,
    loinc_code TEXT,
    test_category TEXT NOT NULL,
    avg_value TEXT,
    min_value TEXT,
    max_value TEXT,
    count INTEGER NOT NULL DEFAULT 1,
    unit TEXT,
    normal_range_min REAL,
    normal_range_max REAL,
    status TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S','now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS lab_reports_yearly_loinc_code_unique
    ON lab_reports_yearly (user_id, year, test_category, loinc_code, test_code);

-- mlworker: which catalog lab_test_mappings and the categorized rows were last
-- synchronised with (data/lab_catalog.txt fingerprint).
CREATE TABLE IF NOT EXISTS mlw_lab_catalog (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL,
    tests INTEGER NOT NULL,
    synced_at TEXT NOT NULL
);

-- The original's 90 seed rows (migration 010), exact names and categories.
INSERT OR IGNORE INTO lab_test_mappings (test_name, test_category, common_units, is_active, is_standardized, mapping_source) VALUES
    ('ALT (Alanine Aminotransferase)', 'Liver Function Tests (LFT)', 'U/L', TRUE, TRUE, 'seed'),
    ('AST (Aspartate Aminotransferase)', 'Liver Function Tests (LFT)', 'U/L', TRUE, TRUE, 'seed'),
    ('ALP (Alkaline Phosphatase)', 'Liver Function Tests (LFT)', 'U/L', TRUE, TRUE, 'seed'),
    ('GGT (Gamma-glutamyl Transferase)', 'Liver Function Tests (LFT)', 'U/L', TRUE, TRUE, 'seed'),
    ('Bilirubin (Total)', 'Liver Function Tests (LFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Bilirubin (Direct)', 'Liver Function Tests (LFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Bilirubin (Indirect)', 'Liver Function Tests (LFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Albumin', 'Liver Function Tests (LFT)', 'g/dL', TRUE, TRUE, 'seed'),
    ('Total Protein', 'Liver Function Tests (LFT)', 'g/dL', TRUE, TRUE, 'seed'),
    ('Urea', 'Kidney Function Tests (KFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Creatinine', 'Kidney Function Tests (KFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Uric Acid', 'Kidney Function Tests (KFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('BUN (Blood Urea Nitrogen)', 'Kidney Function Tests (KFT)', 'mg/dL', TRUE, TRUE, 'seed'),
    ('eGFR (Estimated Glomerular Filtration Rate)', 'Kidney Function Tests (KFT)', 'mL/min/1.73m²', TRUE, TRUE, 'seed'),
    ('Hemoglobin', 'Complete Blood Count (CBC)', 'g/dL', TRUE, TRUE, 'seed'),
    ('RBC', 'Complete Blood Count (CBC)', 'million/µL', TRUE, TRUE, 'seed'),
    ('WBC', 'Complete Blood Count (CBC)', 'thousand/µL', TRUE, TRUE, 'seed'),
    ('Platelet Count', 'Complete Blood Count (CBC)', 'thousand/µL', TRUE, TRUE, 'seed'),
    ('Hematocrit', 'Complete Blood Count (CBC)', '%', TRUE, TRUE, 'seed'),
    ('MCV', 'Complete Blood Count (CBC)', 'fL', TRUE, TRUE, 'seed'),
    ('MCH', 'Complete Blood Count (CBC)', 'pg', TRUE, TRUE, 'seed'),
    ('MCHC', 'Complete Blood Count (CBC)', 'g/dL', TRUE, TRUE, 'seed'),
    ('Neutrophils', 'Complete Blood Count (CBC)', '%', TRUE, TRUE, 'seed'),
    ('Lymphocytes', 'Complete Blood Count (CBC)', '%', TRUE, TRUE, 'seed'),
    ('Monocytes', 'Complete Blood Count (CBC)', '%', TRUE, TRUE, 'seed'),
    ('Eosinophils', 'Complete Blood Count (CBC)', '%', TRUE, TRUE, 'seed'),
    ('Basophils', 'Complete Blood Count (CBC)', '%', TRUE, TRUE, 'seed'),
    ('Sodium', 'Electrolyte Panel', 'mEq/L', TRUE, TRUE, 'seed'),
    ('Potassium', 'Electrolyte Panel', 'mEq/L', TRUE, TRUE, 'seed'),
    ('Chloride', 'Electrolyte Panel', 'mEq/L', TRUE, TRUE, 'seed'),
    ('Calcium', 'Electrolyte Panel', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Magnesium', 'Electrolyte Panel', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Phosphorus', 'Electrolyte Panel', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Troponin I', 'Cardiac Markers', 'ng/mL', TRUE, TRUE, 'seed'),
    ('Troponin T', 'Cardiac Markers', 'ng/mL', TRUE, TRUE, 'seed'),
    ('CK-MB', 'Cardiac Markers', 'ng/mL', TRUE, TRUE, 'seed'),
    ('BNP', 'Cardiac Markers', 'pg/mL', TRUE, TRUE, 'seed'),
    ('NT-proBNP', 'Cardiac Markers', 'pg/mL', TRUE, TRUE, 'seed'),
    ('CRP (C-Reactive Protein)', 'Cardiac Markers', 'mg/L', TRUE, TRUE, 'seed'),
    ('LDH (Lactate Dehydrogenase)', 'Cardiac Markers', 'U/L', TRUE, TRUE, 'seed'),
    ('Fasting Blood Sugar (FBS)', 'Diabetes Panel', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Postprandial Blood Sugar (PPBS)', 'Diabetes Panel', 'mg/dL', TRUE, TRUE, 'seed'),
    ('HbA1c', 'Diabetes Panel', '%', TRUE, TRUE, 'seed'),
    ('Insulin (Fasting)', 'Diabetes Panel', 'µU/mL', TRUE, TRUE, 'seed'),
    ('Insulin (Post-meal)', 'Diabetes Panel', 'µU/mL', TRUE, TRUE, 'seed'),
    ('C-Peptide', 'Diabetes Panel', 'ng/mL', TRUE, TRUE, 'seed'),
    ('Total Cholesterol', 'Lipid Profile', 'mg/dL', TRUE, TRUE, 'seed'),
    ('LDL', 'Lipid Profile', 'mg/dL', TRUE, TRUE, 'seed'),
    ('HDL', 'Lipid Profile', 'mg/dL', TRUE, TRUE, 'seed'),
    ('VLDL', 'Lipid Profile', 'mg/dL', TRUE, TRUE, 'seed'),
    ('Triglycerides', 'Lipid Profile', 'mg/dL', TRUE, TRUE, 'seed'),
    ('TSH', 'Thyroid Profile', 'mIU/L', TRUE, TRUE, 'seed'),
    ('T3 (Triiodothyronine)', 'Thyroid Profile', 'ng/dL', TRUE, TRUE, 'seed'),
    ('T4 (Thyroxine)', 'Thyroid Profile', 'µg/dL', TRUE, TRUE, 'seed'),
    ('FT3', 'Thyroid Profile', 'pg/mL', TRUE, TRUE, 'seed'),
    ('FT4', 'Thyroid Profile', 'ng/dL', TRUE, TRUE, 'seed'),
    ('Testosterone', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('Estrogen (Estradiol)', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('Progesterone', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('LH', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('FSH', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('Prolactin', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('DHEA-S', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('Cortisol', 'Hormonal Panel', NULL, TRUE, TRUE, 'seed'),
    ('Vitamin D (25-OH)', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('Vitamin B12', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('Folate', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('Iron', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('Ferritin', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('TIBC (Total Iron-Binding Capacity)', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('Zinc', 'Vitamin & Mineral Panel', NULL, TRUE, TRUE, 'seed'),
    ('ESR (Erythrocyte Sedimentation Rate)', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('CRP', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Procalcitonin', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Widal', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Typhoid IgG', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Typhoid IgM', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Dengue NS1', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Dengue IgG', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Dengue IgM', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('COVID RT-PCR', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('COVID Antibody', 'Infection Markers', NULL, TRUE, TRUE, 'seed'),
    ('Routine Urine Test', 'Urine & Stool Tests', NULL, TRUE, TRUE, 'seed'),
    ('Urine Culture', 'Urine & Stool Tests', NULL, TRUE, TRUE, 'seed'),
    ('Stool Routine', 'Urine & Stool Tests', NULL, TRUE, TRUE, 'seed'),
    ('Stool Occult Blood', 'Urine & Stool Tests', NULL, TRUE, TRUE, 'seed'),
    ('PSA (Prostate-Specific Antigen)', 'Tumor Markers', NULL, TRUE, TRUE, 'seed'),
    ('CA-125', 'Tumor Markers', NULL, TRUE, TRUE, 'seed'),
    ('CEA', 'Tumor Markers', NULL, TRUE, TRUE, 'seed'),
    ('AFP (Alpha-fetoprotein)', 'Tumor Markers', NULL, TRUE, TRUE, 'seed');
