-- mlworker schema v2 for PostgreSQL: labs. The translation of
-- sqlite_002_labs.sql: same tables, columns, keys and seed rows.
-- Table and column names and types follow the original application's
-- contract (reference/original-data-model.md §4, original-lab-categorization.md
-- §1-3): varchar(n) where the original declares a length, date, timestamp
-- without time zone, double precision. Everything mlworker writes fits them
-- (names at most 255 bytes, codes at most 50 characters, aggregate values cut
-- to 100 characters). Additions are marked "mlworker:" and are unbounded.
--
-- Adopting a database created by the original application (its lab tables
-- exist already): every existing row is kept and mlworker's columns are added
-- with ADD COLUMN IF NOT EXISTS; nothing is dropped except the keys that
-- contradict mlworker's (each explained where it happens): the original's
-- primary key of lab_report_categorized, and the unique keys of the four
-- aggregate tables that lack the test identity.

-- Helpers for this migration (temporary, dropped at its end).
-- The key columns of an index, comma separated; NULL for expression or
-- partial indexes.
CREATE OR REPLACE FUNCTION pg_temp.mlw_index_columns(idx oid) RETURNS text
LANGUAGE sql STABLE AS $f$
    SELECT CASE WHEN bool_or(a.attname IS NULL) THEN NULL
                ELSE string_agg(a.attname::text, ',' ORDER BY k.ord) END
      FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indexrelid = idx AND k.ord <= i.indnkeyatts
       AND i.indexprs IS NULL AND i.indpred IS NULL
$f$;

-- CREATE [UNIQUE] INDEX name unless the table already has an index on exactly
-- these columns (a unique one when unique is asked): an adopted database keeps
-- its own indexes and gets no duplicates of them.
CREATE OR REPLACE FUNCTION pg_temp.mlw_ensure_index(tbl text, name text, cols text, is_unique boolean)
RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i
                WHERE i.indrelid = tbl::regclass
                  AND pg_temp.mlw_index_columns(i.indexrelid) = replace(cols, ' ', '')
                  AND (i.indisunique OR NOT is_unique)) THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE %sINDEX IF NOT EXISTS %I ON %I (%s)',
                   CASE WHEN is_unique THEN 'UNIQUE ' ELSE '' END, name, tbl, cols);
END
$f$;

-- Drop the unique constraints and unique indexes (never the primary key) of a
-- table whose key is exactly cols. Dropping a uniqueness rule loses no row.
CREATE OR REPLACE FUNCTION pg_temp.mlw_drop_unique(tbl text, cols text) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT i.indexrelid::regclass AS idx, c.conname, c.contype
               FROM pg_index i
               LEFT JOIN pg_constraint c ON c.conrelid = i.indrelid AND c.conindid = i.indexrelid
                                        AND c.contype IN ('u', 'p')
              WHERE i.indrelid = tbl::regclass AND i.indisunique
                AND pg_temp.mlw_index_columns(i.indexrelid) = replace(cols, ' ', '') LOOP
        IF r.contype = 'p' THEN
            CONTINUE;
        ELSIF r.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', tbl, r.conname);
        ELSE
            EXECUTE format('DROP INDEX %s', r.idx);
        END IF;
    END LOOP;
END
$f$;

-- Raw extracted results, written by the app's lab agent.
CREATE TABLE IF NOT EXISTS lab_reports (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    test_name VARCHAR(255) NOT NULL,
    test_category VARCHAR(100),         -- the report section the extracting LLM saw
    test_value VARCHAR(100),
    test_unit VARCHAR(50),
    reference_range VARCHAR(100),
    test_status VARCHAR(20),
    lab_name VARCHAR(255),
    lab_address TEXT,
    ordering_physician VARCHAR(255),
    test_date DATE NOT NULL,
    report_date DATE,
    test_notes TEXT,
    test_methodology VARCHAR(255),
    extracted_from_document_id INTEGER,
    confidence_score DOUBLE PRECISION,
    raw_text TEXT,
    -- pending -> categorized | insufficient (missing name/value/date, as the
    -- original) | failed (mlworker: unusable data, e.g. a name over 255 bytes)
    categorization_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    failure_reason VARCHAR(255),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
-- Adopting: deployments older than the original's failure_reason migration.
ALTER TABLE lab_reports ADD COLUMN IF NOT EXISTS failure_reason VARCHAR(255);
ALTER TABLE lab_reports ALTER COLUMN categorization_status SET DEFAULT 'pending';
SELECT pg_temp.mlw_ensure_index('lab_reports', 'idx_lab_reports_categorization_status', 'categorization_status', false);
SELECT pg_temp.mlw_ensure_index('lab_reports', 'idx_lab_reports_pending', 'categorization_status, created_at, id', false);
SELECT pg_temp.mlw_ensure_index('lab_reports', 'idx_lab_reports_user_date', 'user_id, test_date', false);

-- Name -> category / code / LOINC dictionary. Rows: the original's 90 seed
-- rows (mapping_source 'seed'), one row per catalog test ('catalog'), one per
-- new name the worker saw ('auto', lowercased name, with the matcher's
-- decision), and rows an operator adds ('manual': they override the matcher
-- for that name). Rows the original worker created have no mapping_source.
CREATE TABLE IF NOT EXISTS lab_test_mappings (
    id SERIAL PRIMARY KEY,
    test_name VARCHAR(255) NOT NULL UNIQUE,
    test_name_standardized VARCHAR(255),
    test_code VARCHAR(50),
    test_category VARCHAR(100) NOT NULL,
    gpt_suggested_category VARCHAR(100),
    description TEXT,
    common_units VARCHAR(100),
    normal_range_info TEXT,
    loinc_code VARCHAR(20),
    loinc_source VARCHAR(20),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_standardized BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    mapping_source VARCHAR,             -- mlworker: seed | catalog | auto | manual (NULL: the original's)
    match_kind VARCHAR,                 -- mlworker: exact | token | fuzzy | none (auto rows)
    match_score DOUBLE PRECISION,       -- mlworker
    match_reason VARCHAR,               -- mlworker: the matcher's explanation
    catalog_version VARCHAR             -- mlworker: fingerprint of the catalog that decided
);
ALTER TABLE lab_test_mappings ADD COLUMN IF NOT EXISTS mapping_source VARCHAR;
ALTER TABLE lab_test_mappings ADD COLUMN IF NOT EXISTS match_kind VARCHAR;
ALTER TABLE lab_test_mappings ADD COLUMN IF NOT EXISTS match_score DOUBLE PRECISION;
ALTER TABLE lab_test_mappings ADD COLUMN IF NOT EXISTS match_reason VARCHAR;
ALTER TABLE lab_test_mappings ADD COLUMN IF NOT EXISTS catalog_version VARCHAR;
-- The worker upserts by test_name (the original's unique key). A database
-- without that key (schema drift) gets it; duplicate names there are the
-- operator's data, so the migration stops and names them instead of choosing.
DO $$
DECLARE
    dups text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = 'lab_test_mappings'::regclass
                  AND i.indisunique AND pg_temp.mlw_index_columns(i.indexrelid) = 'test_name') THEN
        RETURN;
    END IF;
    SELECT string_agg(quote_literal(test_name), ', ') INTO dups
      FROM (SELECT test_name FROM lab_test_mappings GROUP BY test_name HAVING count(*) > 1
             ORDER BY test_name LIMIT 10) d;
    IF dups IS NOT NULL THEN
        RAISE EXCEPTION 'lab_test_mappings.test_name is not unique (e.g. %); merge those rows, then run migrate again', dups;
    END IF;
    CREATE UNIQUE INDEX IF NOT EXISTS ux_lab_test_mappings_test_name ON lab_test_mappings (test_name);
END
$$;
SELECT pg_temp.mlw_ensure_index('lab_test_mappings', 'idx_lab_test_mappings_category_active', 'test_category, is_active', false);
SELECT pg_temp.mlw_ensure_index('lab_test_mappings', 'idx_lab_test_mappings_name_category', 'test_name, test_category', false);
SELECT pg_temp.mlw_ensure_index('lab_test_mappings', 'idx_lab_test_mappings_test_code', 'test_code', false);
SELECT pg_temp.mlw_ensure_index('lab_test_mappings', 'idx_lab_test_mappings_standardized', 'test_name_standardized', false);
SELECT pg_temp.mlw_ensure_index('lab_test_mappings', 'idx_lab_test_mappings_loinc', 'loinc_code', false);
-- The worker looks names up by their ASCII-lowercased form (SQLite's lower());
-- lower() under the "C" collation is exactly that on PostgreSQL.
CREATE INDEX IF NOT EXISTS idx_lab_test_mappings_lower_name ON lab_test_mappings (lower(test_name COLLATE "C"));

-- One categorized row per raw row. The original keyed this table by
-- (user_id, loinc_code, test_value, test_date), which merged two different
-- tests with the same value on one day (both UNKNOWN) and failed whole
-- batches; mlworker keys it by id (= lab_reports.id, as the original copied it).
CREATE TABLE IF NOT EXISTS lab_report_categorized (
    id INTEGER PRIMARY KEY,             -- = lab_reports.id
    user_id INTEGER NOT NULL,
    test_name VARCHAR(255) NOT NULL,    -- standardized (canonical) name
    test_code VARCHAR(50),              -- catalog test code, or the name-derived code
    loinc_code VARCHAR(20) NOT NULL DEFAULT 'UNKNOWN',
    test_category VARCHAR(100),         -- the raw row's (LLM) category
    test_value VARCHAR(100) NOT NULL,
    test_unit VARCHAR(50),
    reference_range VARCHAR(100),
    test_status VARCHAR(20),
    lab_name VARCHAR(255),
    lab_address TEXT,
    ordering_physician VARCHAR(255),
    test_date DATE NOT NULL,
    report_date DATE,
    test_notes TEXT,
    test_methodology VARCHAR(255),
    extracted_from_document_id INTEGER,
    confidence_score DOUBLE PRECISION,
    raw_text TEXT,
    inferred_test_category VARCHAR(100), -- the category mlworker decided (aggregates use it)
    aggregation_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    match_kind VARCHAR,                 -- mlworker: exact | token | fuzzy | none | manual
    match_score DOUBLE PRECISION,       -- mlworker
    match_reason VARCHAR,               -- mlworker
    catalog_version VARCHAR             -- mlworker
);
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS match_kind VARCHAR;
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS match_score DOUBLE PRECISION;
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS match_reason VARCHAR;
ALTER TABLE lab_report_categorized ADD COLUMN IF NOT EXISTS catalog_version VARCHAR;

-- Adopting the original's lab_report_categorized: its primary key is
-- (user_id, loinc_code, test_value, test_date) and id is only a copy of
-- lab_reports.id. mlworker upserts by id (ON CONFLICT (id)), and the
-- original's key is the defect mlworker fixes (two different UNKNOWN tests
-- with one value on one day cannot both exist under it), so that key is
-- replaced by PRIMARY KEY (id). Its NOT NULL columns stay NOT NULL.
-- A key on id needs one row per id. Rows that cannot have one are not
-- deleted: they move, unchanged, to mlw_lab_report_categorized_displaced
-- (created only when there are such rows) with the reason:
--   * a NULL id (no raw row to belong to);
--   * a second row of an id (the original categorized that raw row again
--     after an edit): the row that agrees with its raw row (same user, date,
--     value) stays, else the most recently updated one; the raw row goes back
--     to 'pending', so the worker categorizes it afresh and recomputes its days.
-- Displaced rows no longer count in aggregates (they never had a raw row, or
-- duplicate one that still counts).
DO $$
DECLARE
    pk_name name;
    pk_cols text;
    moved bigint;
BEGIN
    SELECT c.conname, pg_temp.mlw_index_columns(c.conindid) INTO pk_name, pk_cols
      FROM pg_constraint c
     WHERE c.conrelid = 'lab_report_categorized'::regclass AND c.contype = 'p';
    IF pk_cols = 'id' THEN
        RETURN; -- created by mlworker, or adopted already
    END IF;
    CREATE TEMPORARY TABLE mlw_displace ON COMMIT DROP AS
    SELECT t.tid, t.id,
           CASE WHEN t.id IS NULL THEN 'NULL id'
                ELSE 'second row of id ' || t.id END AS reason
      FROM (SELECT c.ctid AS tid, c.id,
                   row_number() OVER (PARTITION BY c.id
                       ORDER BY (r.user_id = c.user_id AND r.test_date = c.test_date
                                 AND r.test_value = c.test_value) IS TRUE DESC,
                                c.updated_at DESC NULLS LAST, c.created_at DESC NULLS LAST,
                                c.ctid) AS n
              FROM lab_report_categorized c LEFT JOIN lab_reports r ON r.id = c.id) t
     WHERE t.id IS NULL OR t.n > 1;
    SELECT count(*) INTO moved FROM mlw_displace;
    IF moved > 0 THEN
        CREATE TABLE IF NOT EXISTS mlw_lab_report_categorized_displaced (LIKE lab_report_categorized);
        ALTER TABLE mlw_lab_report_categorized_displaced
            ADD COLUMN IF NOT EXISTS mlw_displaced_at TIMESTAMP,
            ADD COLUMN IF NOT EXISTS mlw_displaced_reason VARCHAR;
        INSERT INTO mlw_lab_report_categorized_displaced
        SELECT c.*, (now() AT TIME ZONE 'UTC'), d.reason
          FROM lab_report_categorized c JOIN mlw_displace d ON d.tid = c.ctid;
        UPDATE lab_reports SET categorization_status = 'pending', updated_at = (now() AT TIME ZONE 'UTC')
         WHERE categorization_status = 'categorized'
           AND id IN (SELECT id FROM mlw_displace WHERE id IS NOT NULL);
        DELETE FROM lab_report_categorized c USING mlw_displace d WHERE c.ctid = d.tid;
        RAISE WARNING 'lab_report_categorized: % row(s) without an id of their own moved to mlw_lab_report_categorized_displaced', moved;
    END IF;
    IF pk_name IS NOT NULL THEN
        EXECUTE format('ALTER TABLE lab_report_categorized DROP CONSTRAINT %I', pk_name);
    END IF;
    ALTER TABLE lab_report_categorized ADD PRIMARY KEY (id);
END
$$;
SELECT pg_temp.mlw_ensure_index('lab_report_categorized', 'idx_lab_report_categorized_user_date', 'user_id, test_date', false);
SELECT pg_temp.mlw_ensure_index('lab_report_categorized', 'idx_lab_report_categorized_aggregation_status', 'aggregation_status', false);
SELECT pg_temp.mlw_ensure_index('lab_report_categorized', 'idx_lab_report_categorized_loinc_code', 'loinc_code', false);
SELECT pg_temp.mlw_ensure_index('lab_report_categorized', 'idx_lab_report_categorized_test_code', 'test_code', false);

-- Aggregates. The original's unique keys were (user, period, test_category,
-- loinc_code), which merged every test without a LOINC code ('UNKNOWN') of a
-- category into one row; mlworker adds the test identity (test_code).
CREATE TABLE IF NOT EXISTS lab_reports_daily (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    date DATE NOT NULL,
    test_name VARCHAR(255) NOT NULL,
    test_code VARCHAR(50),
    loinc_code VARCHAR(20),
    test_category VARCHAR(100) NOT NULL,
    avg_value VARCHAR(100),
    min_value VARCHAR(100),
    max_value VARCHAR(100),
    count INTEGER NOT NULL DEFAULT 1,
    unit VARCHAR(50),
    normal_range_min DOUBLE PRECISION,
    normal_range_max DOUBLE PRECISION,
    status VARCHAR(20),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS lab_reports_monthly (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    test_name VARCHAR(255) NOT NULL,
    test_code VARCHAR(50),
    loinc_code VARCHAR(20),
    test_category VARCHAR(100) NOT NULL,
    avg_value VARCHAR(100),
    min_value VARCHAR(100),
    max_value VARCHAR(100),
    count INTEGER NOT NULL DEFAULT 1,
    unit VARCHAR(50),
    normal_range_min DOUBLE PRECISION,
    normal_range_max DOUBLE PRECISION,
    status VARCHAR(20),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS lab_reports_quarterly (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    quarter INTEGER NOT NULL,
    test_name VARCHAR(255) NOT NULL,
    test_code VARCHAR(50),
    loinc_code VARCHAR(20),
    test_category VARCHAR(100) NOT NULL,
    avg_value VARCHAR(100),
    min_value VARCHAR(100),
    max_value VARCHAR(100),
    count INTEGER NOT NULL DEFAULT 1,
    unit VARCHAR(50),
    normal_range_min DOUBLE PRECISION,
    normal_range_max DOUBLE PRECISION,
    status VARCHAR(20),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS lab_reports_yearly (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    test_name VARCHAR(255) NOT NULL,
    test_code VARCHAR(50),
    loinc_code VARCHAR(20),
    test_category VARCHAR(100) NOT NULL,
    avg_value VARCHAR(100),
    min_value VARCHAR(100),
    max_value VARCHAR(100),
    count INTEGER NOT NULL DEFAULT 1,
    unit VARCHAR(50),
    normal_range_min DOUBLE PRECISION,
    normal_range_max DOUBLE PRECISION,
    status VARCHAR(20),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    updated_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

ALTER TABLE lab_reports_daily ADD COLUMN IF NOT EXISTS test_code VARCHAR(50);
ALTER TABLE lab_reports_monthly ADD COLUMN IF NOT EXISTS test_code VARCHAR(50);
ALTER TABLE lab_reports_quarterly ADD COLUMN IF NOT EXISTS test_code VARCHAR(50);
ALTER TABLE lab_reports_yearly ADD COLUMN IF NOT EXISTS test_code VARCHAR(50);

-- Adopting the original's aggregate tables: their unique keys
-- (user, period, test_category, loinc_code) are narrower than mlworker's and
-- would reject the second UNKNOWN test of a category in a period, so they are
-- dropped (by their columns: the original named only the daily one,
-- lab_reports_daily_loinc_code_unique). No row is lost by dropping a
-- uniqueness rule; mlworker's wider key below replaces it. The original's rows
-- stay as they are (rows without test_code never collide with the new key)
-- until the worker recomputes their period: a period is recomputed from its
-- categorized rows, and its rows for tests it no longer has are removed.
SELECT pg_temp.mlw_drop_unique('lab_reports_daily', 'user_id, date, test_category, loinc_code');
SELECT pg_temp.mlw_drop_unique('lab_reports_monthly', 'user_id, year, month, test_category, loinc_code');
SELECT pg_temp.mlw_drop_unique('lab_reports_quarterly', 'user_id, year, quarter, test_category, loinc_code');
SELECT pg_temp.mlw_drop_unique('lab_reports_yearly', 'user_id, year, test_category, loinc_code');

-- A table that had no unique key at all (schema drift) may hold rows that the
-- wider key calls duplicates (the original's find-then-insert races). Aggregate
-- rows are derived data: as for vitals and nutrition (postgres_001), the newest
-- of each key stays and the next recompute of its period rewrites it. Rows
-- with a NULL in the key are never duplicates to a unique index and stay. On a
-- fresh database, or one with the original's keys, these delete nothing.
DELETE FROM lab_reports_daily a USING lab_reports_daily b
 WHERE a.user_id = b.user_id AND a.date = b.date AND a.test_category = b.test_category
   AND a.loinc_code = b.loinc_code AND a.test_code = b.test_code AND a.id < b.id;
DELETE FROM lab_reports_monthly a USING lab_reports_monthly b
 WHERE a.user_id = b.user_id AND a.year = b.year AND a.month = b.month
   AND a.test_category = b.test_category AND a.loinc_code = b.loinc_code
   AND a.test_code = b.test_code AND a.id < b.id;
DELETE FROM lab_reports_quarterly a USING lab_reports_quarterly b
 WHERE a.user_id = b.user_id AND a.year = b.year AND a.quarter = b.quarter
   AND a.test_category = b.test_category AND a.loinc_code = b.loinc_code
   AND a.test_code = b.test_code AND a.id < b.id;
DELETE FROM lab_reports_yearly a USING lab_reports_yearly b
 WHERE a.user_id = b.user_id AND a.year = b.year AND a.test_category = b.test_category
   AND a.loinc_code = b.loinc_code AND a.test_code = b.test_code AND a.id < b.id;

-- mlworker's keys (the upserts' ON CONFLICT targets), named as on SQLite.
SELECT pg_temp.mlw_ensure_index('lab_reports_daily', 'lab_reports_daily_loinc_code_unique',
                                'user_id, date, test_category, loinc_code, test_code', true);
SELECT pg_temp.mlw_ensure_index('lab_reports_monthly', 'lab_reports_monthly_loinc_code_unique',
                                'user_id, year, month, test_category, loinc_code, test_code', true);
SELECT pg_temp.mlw_ensure_index('lab_reports_quarterly', 'lab_reports_quarterly_loinc_code_unique',
                                'user_id, year, quarter, test_category, loinc_code, test_code', true);
SELECT pg_temp.mlw_ensure_index('lab_reports_yearly', 'lab_reports_yearly_loinc_code_unique',
                                'user_id, year, test_category, loinc_code, test_code', true);
-- CREATE ... IF NOT EXISTS skips silently when another object holds the name:
-- make sure every upsert target really exists, or fail the migration here.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
            ('lab_report_categorized', 'id'),
            ('lab_test_mappings', 'test_name'),
            ('lab_reports_daily', 'user_id,date,test_category,loinc_code,test_code'),
            ('lab_reports_monthly', 'user_id,year,month,test_category,loinc_code,test_code'),
            ('lab_reports_quarterly', 'user_id,year,quarter,test_category,loinc_code,test_code'),
            ('lab_reports_yearly', 'user_id,year,test_category,loinc_code,test_code')) v(tbl, cols) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.tbl::regclass AND i.indisunique
                          AND pg_temp.mlw_index_columns(i.indexrelid) = t.cols) THEN
            RAISE EXCEPTION 'no unique index on %(%) after the labs migration', t.tbl, t.cols;
        END IF;
    END LOOP;
END
$$;

-- mlworker: which catalog lab_test_mappings and the categorized rows were last
-- synchronised with (data/lab_catalog.txt fingerprint).
CREATE TABLE IF NOT EXISTS mlw_lab_catalog (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version VARCHAR NOT NULL,
    tests INTEGER NOT NULL,
    synced_at TIMESTAMP NOT NULL
);

-- The original's 90 seed rows (migration 010), exact names and categories.
-- Adopting: the original's own seed rows are there already, without a
-- mapping_source; they are marked 'seed' (as on a fresh database), so the
-- catalog sync gives them their catalog test's decision. No other column of
-- an existing row changes here.
INSERT INTO lab_test_mappings (test_name, test_category, common_units, is_active, is_standardized, mapping_source) VALUES
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
    ('AFP (Alpha-fetoprotein)', 'Tumor Markers', NULL, TRUE, TRUE, 'seed')
ON CONFLICT (test_name) DO UPDATE SET mapping_source = 'seed'
    WHERE lab_test_mappings.mapping_source IS NULL;

DROP FUNCTION pg_temp.mlw_ensure_index(text, text, text, boolean);
DROP FUNCTION pg_temp.mlw_drop_unique(text, text);
DROP FUNCTION pg_temp.mlw_index_columns(oid);
