#!/usr/bin/env bash
# Labs on PostgreSQL: a real PostgreSQL 15 on 127.0.0.1 (tests/pg/pg_server.sh). Checks:
#  - the same lab_reports rows (tests/oracle/labs_oracle.py gen: known and unknown names,
#    text values, odd ranges, hostile rows) give identical lab tables on SQLite and PostgreSQL,
#    also after late rows, rows the app edits and resets, a catalog change and a manual mapping;
#  - three concurrent workers (small batches, catalog sync racing at start) give the same;
#  - adopting the original application's lab tables (its categorized primary key, narrow
#    aggregate unique keys, seed and auto mappings, aggregate rows): migrate keeps every row,
#    replaces the keys, and the worker's results equal a from-scratch SQLite run.
set -euo pipefail
source "$(dirname "$0")/../oracle/itest_lib.sh"
source "$MLW_SOURCE_DIR/tests/pg/pg_server.sh"
SYS_PY=/usr/bin/python3
"$SYS_PY" -c 'import psycopg2' 2>/dev/null || { echo "psycopg2 missing for $SYS_PY (apt install python3-psycopg2)"; exit 1; }
trap 'pg_stop; cleanup' EXIT

SEED=${MLW_TEST_SEED:-4242}
LABS="$PY $ORACLE_DIR/labs_oracle.py"
pgsync() { "$SYS_PY" "$MLW_SOURCE_DIR/tests/pg/dbsync.py" "$@"; }
LAB_TABLES="lab_reports lab_report_categorized lab_reports_daily lab_reports_monthly lab_reports_quarterly lab_reports_yearly"
pg_run() { # pg_run URL LOG [VAR=value...]
  local url=$1 log=$2; shift 2
  env DATABASE_URL="$url" ML_WORKER_EXIT_WHEN_IDLE=1 "$@" timeout 300 "$MLWORKER" run >"$log" 2>&1
}
q() { psql -X -At "$1" -c "$2"; }   # q URL SQL -> unaligned rows
expect() { # expect DESC URL SQL WANT
  local got
  got=$(q "$2" "$3" 2>&1) || true
  if [ "$got" = "$4" ]; then pass "$1"; else fail "$1: got '$got', want '$4'"; fi
}

say "start PostgreSQL (seed $SEED; set MLW_TEST_SEED to change)"
pg_start
echo "    $PG_URL (server $("$PG_BIN/postgres" --version))"
newdb() { psql -X -q "$PG_URL" -c "CREATE DATABASE $1" >/dev/null; echo "postgresql://mlw@127.0.0.1:$PG_PORT/$1"; }

say "same lab rows on SQLite and PostgreSQL"
A=$TMP/a.db
migrate "$A"
$LABS gen --db "$A" --users 3 --days 120 --rows 1500 --seed "$SEED" >/dev/null
$LABS gen --db "$A" --seed $((SEED + 3)) --bad >/dev/null
A0=$TMP/a0.db
cp "$A" "$A0"
U=$(newdb same)
check "migrate PostgreSQL (labs schema, catalog sync)" env DATABASE_URL="$U" "$MLWORKER" migrate
check "copy lab_reports to PostgreSQL" pgsync copy "$A0" "$U"
cp "$A0" "$A"   # minus the hostile rows PostgreSQL cannot hold
check "worker on SQLite" run_worker "$A" "$TMP/a1.log"
check "worker on PostgreSQL" pg_run "$U" "$TMP/u1.log"
check "batch log counts lab reports on PostgreSQL" grep -q "lab reports" "$TMP/u1.log"
check "oracle on SQLite" $LABS check --db "$A"
check "PostgreSQL lab tables identical to SQLite" pgsync compare "$A" "$U"
A1=$TMP/a1.db
cp "$A" "$A1"

say "late rows and rows the app edits and resets"
$LABS gen --db "$A" --users 3 --days 120 --rows 300 --seed $((SEED + 1)) --late >/dev/null
$LABS gen --db "$A" --rows 90 --seed $((SEED + 2)) --edit >/dev/null
check "copy new and reset rows" pgsync copy "$A" "$U"
check "worker on SQLite" run_worker "$A" "$TMP/a2.log"
check "worker on PostgreSQL" pg_run "$U" "$TMP/u2.log"
check "oracle on SQLite" $LABS check --db "$A"
check "still identical (moved rows leave no stale buckets on either)" pgsync compare "$A" "$U"

say "a catalog change and a manual mapping, the same SQL on both"
cat >"$TMP/change.sql" <<'EOF'
UPDATE mlw_lab_catalog SET version='0000000000000000';
UPDATE lab_report_categorized SET inferred_test_category='Others', test_code='STALE',
  catalog_version='0000000000000000'
 WHERE id IN (SELECT id FROM lab_report_categorized ORDER BY id LIMIT 25);
INSERT INTO lab_test_mappings (test_name, test_name_standardized, test_code, test_category,
  loinc_code, mapping_source) VALUES ('widgetase', 'Widgetase (W)', 'WIDG', 'Cardiac Markers', NULL, 'manual')
  ON CONFLICT (test_name) DO UPDATE SET test_name_standardized=excluded.test_name_standardized,
  test_code=excluded.test_code, test_category=excluded.test_category, loinc_code=NULL,
  mapping_source='manual';
UPDATE lab_reports SET categorization_status='pending' WHERE test_name='Widgetase';
-- names are looked up ASCII-lowercased (SQLite's lower()), not by the locale's rules
INSERT INTO lab_test_mappings (test_name, test_code, test_category, mapping_source)
  VALUES ('Ältase', 'AELT', 'Liver Function Tests (LFT)', 'manual');
INSERT INTO lab_reports (id, user_id, test_name, test_value, test_date, categorization_status, created_at,
  updated_at) VALUES (900001, 1, 'ÄLTASE', '7', '2026-01-10', 'pending', '2026-02-01 09:00:00', '2026-02-01 09:00:00');
EOF
"$PY" -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2], encoding='utf-8').read()); c.commit()" "$A" "$TMP/change.sql"
psql -X -q -v ON_ERROR_STOP=1 "$U" -f "$TMP/change.sql" >/dev/null
check "worker on SQLite" run_worker "$A" "$TMP/a3.log"
check "worker on PostgreSQL" pg_run "$U" "$TMP/u3.log"
check "PostgreSQL re-queued the stale rows" grep -q "25 lab report(s) re-queued" "$TMP/u3.log"
expect "Widgetase rows carry the manual decision on PostgreSQL" "$U" \
  "SELECT DISTINCT c.test_code, c.match_kind FROM lab_report_categorized c JOIN lab_reports r ON r.id = c.id WHERE r.test_name='Widgetase'" \
  "WIDG|manual"
expect "a manual mapping matches its name ASCII-lowercased only ('ÄLTASE' is 'Ältase')" "$U" \
  "SELECT test_code || '|' || match_kind FROM lab_report_categorized WHERE id = 900001" "AELT|manual"
check "still identical after re-categorization and the manual mapping" pgsync compare "$A" "$U"

say "three concurrent workers, small batches, catalog sync racing at start"
UC=$(newdb conc)
env DATABASE_URL="$UC" "$MLWORKER" migrate >/dev/null
pgsync copy "$A0" "$UC" >/dev/null
q "$UC" "UPDATE mlw_lab_catalog SET version='0000000000000000'" >/dev/null
pids=()
for w in 1 2 3; do
  env DATABASE_URL="$UC" ML_WORKER_EXIT_WHEN_IDLE=1 ML_WORKER_AGGREGATION_BATCH_SIZE=$((15 + w * 11)) \
    timeout 300 "$MLWORKER" run >"$TMP/conc$w.log" 2>&1 &
  pids+=($!)
  BG_PIDS+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
if [ $rc -eq 0 ]; then pass "three workers exited 0"; else fail "a worker failed"; tail -n 5 "$TMP"/conc*.log; fi
if grep -qiE "deadlock|duplicate key|unique constraint|batch failed" "$TMP"/conc*.log; then
  fail "errors in the worker logs"; grep -iE "deadlock|duplicate key|unique constraint|batch failed" "$TMP"/conc*.log | head -5
else
  pass "no deadlock, unique-violation or batch errors"
fi
expect "nothing left pending" "$UC" "SELECT count(*) FROM lab_reports WHERE categorization_status='pending'" 0
# lab_test_mappings is left out here: an automatic mapping keeps the report section
# (gpt_suggested_category) of the last row of its name processed, which depends on the order
# in which concurrent workers took the rows.
# shellcheck disable=SC2086
check "concurrent result identical to the single SQLite run" pgsync compare "$A1" "$UC" $LAB_TABLES mlw_lab_catalog

say "adopt the original application's lab tables"
UL=$(newdb legacy)
psql -X -q -v ON_ERROR_STOP=1 "$UL" >/dev/null <<'SQL'
-- shapes from reference/original-data-model.md §4 and original-lab-categorization.md §3
CREATE TABLE lab_reports (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, test_name VARCHAR(255) NOT NULL,
  test_category VARCHAR(100), test_value VARCHAR(100), test_unit VARCHAR(50), reference_range VARCHAR(100),
  test_status VARCHAR(20), lab_name VARCHAR(255), lab_address TEXT, ordering_physician VARCHAR(255),
  test_date DATE NOT NULL, report_date DATE, test_notes TEXT, test_methodology VARCHAR(255),
  extracted_from_document_id INTEGER, confidence_score DOUBLE PRECISION, raw_text TEXT,
  categorization_status VARCHAR(20) NOT NULL DEFAULT 'pending', failure_reason VARCHAR(255),
  created_at TIMESTAMP DEFAULT now(), updated_at TIMESTAMP DEFAULT now());
CREATE INDEX ix_lab_reports_categorization_status ON lab_reports (categorization_status);
CREATE TABLE lab_test_mappings (id SERIAL PRIMARY KEY, test_name VARCHAR(255) NOT NULL,
  test_name_standardized VARCHAR(255), test_code VARCHAR(50), test_category VARCHAR(100) NOT NULL,
  gpt_suggested_category VARCHAR(100), description TEXT, common_units VARCHAR(100), normal_range_info TEXT,
  loinc_code VARCHAR(20), loinc_source VARCHAR(20), is_active BOOLEAN NOT NULL DEFAULT true,
  is_standardized BOOLEAN NOT NULL DEFAULT true, created_at TIMESTAMP DEFAULT now(), updated_at TIMESTAMP DEFAULT now());
CREATE UNIQUE INDEX ix_lab_test_mappings_test_name ON lab_test_mappings (test_name);
CREATE INDEX ix_lab_test_mappings_test_code ON lab_test_mappings (test_code);
CREATE INDEX ix_lab_test_mappings_loinc_code ON lab_test_mappings (loinc_code);
CREATE TABLE lab_report_categorized (id INTEGER, user_id INTEGER NOT NULL, test_name VARCHAR(255) NOT NULL,
  test_code VARCHAR(50), loinc_code VARCHAR(20) NOT NULL, test_category VARCHAR(100), test_value VARCHAR(100) NOT NULL,
  test_unit VARCHAR(50), reference_range VARCHAR(100), test_status VARCHAR(20), lab_name VARCHAR(255),
  lab_address TEXT, ordering_physician VARCHAR(255), test_date DATE NOT NULL, report_date DATE, test_notes TEXT,
  test_methodology VARCHAR(255), extracted_from_document_id INTEGER, confidence_score DOUBLE PRECISION,
  raw_text TEXT, inferred_test_category VARCHAR(100), aggregation_status VARCHAR(20) NOT NULL DEFAULT 'pending',
  created_at TIMESTAMP, updated_at TIMESTAMP, PRIMARY KEY (user_id, loinc_code, test_value, test_date));
CREATE INDEX ix_lab_report_categorized_test_code ON lab_report_categorized (test_code);
CREATE TABLE lab_reports_daily (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, date DATE NOT NULL,
  test_name VARCHAR(255) NOT NULL, test_code VARCHAR(50), loinc_code VARCHAR(20), test_category VARCHAR(100) NOT NULL,
  avg_value VARCHAR(100), min_value VARCHAR(100), max_value VARCHAR(100), count INTEGER NOT NULL DEFAULT 1,
  unit VARCHAR(50), normal_range_min DOUBLE PRECISION, normal_range_max DOUBLE PRECISION, status VARCHAR(20),
  created_at TIMESTAMP NOT NULL DEFAULT now(), updated_at TIMESTAMP NOT NULL DEFAULT now(),
  CONSTRAINT lab_reports_daily_loinc_code_unique UNIQUE (user_id, date, test_category, loinc_code));
CREATE TABLE lab_reports_monthly (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, year INTEGER NOT NULL,
  month INTEGER NOT NULL, test_name VARCHAR(255) NOT NULL, test_code VARCHAR(50), loinc_code VARCHAR(20),
  test_category VARCHAR(100) NOT NULL, avg_value VARCHAR(100), min_value VARCHAR(100), max_value VARCHAR(100),
  count INTEGER NOT NULL DEFAULT 1, unit VARCHAR(50), normal_range_min DOUBLE PRECISION,
  normal_range_max DOUBLE PRECISION, status VARCHAR(20), created_at TIMESTAMP NOT NULL DEFAULT now(),
  updated_at TIMESTAMP NOT NULL DEFAULT now(), UNIQUE (user_id, year, month, test_category, loinc_code));
CREATE TABLE lab_reports_quarterly (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, year INTEGER NOT NULL,
  quarter INTEGER NOT NULL, test_name VARCHAR(255) NOT NULL, test_code VARCHAR(50), loinc_code VARCHAR(20),
  test_category VARCHAR(100) NOT NULL, avg_value VARCHAR(100), min_value VARCHAR(100), max_value VARCHAR(100),
  count INTEGER NOT NULL DEFAULT 1, unit VARCHAR(50), normal_range_min DOUBLE PRECISION,
  normal_range_max DOUBLE PRECISION, status VARCHAR(20), created_at TIMESTAMP NOT NULL DEFAULT now(),
  updated_at TIMESTAMP NOT NULL DEFAULT now());
CREATE UNIQUE INDEX lab_reports_quarterly_loinc_code_unique
  ON lab_reports_quarterly (user_id, year, quarter, test_category, loinc_code);
CREATE TABLE lab_reports_yearly (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, year INTEGER NOT NULL,
  test_name VARCHAR(255) NOT NULL, test_code VARCHAR(50), loinc_code VARCHAR(20), test_category VARCHAR(100) NOT NULL,
  avg_value VARCHAR(100), min_value VARCHAR(100), max_value VARCHAR(100), count INTEGER NOT NULL DEFAULT 1,
  unit VARCHAR(50), normal_range_min DOUBLE PRECISION, normal_range_max DOUBLE PRECISION, status VARCHAR(20),
  created_at TIMESTAMP NOT NULL DEFAULT now(), updated_at TIMESTAMP NOT NULL DEFAULT now(),
  CONSTRAINT lab_reports_yearly_loinc_code_unique UNIQUE (user_id, year, test_category, loinc_code));

-- the original's seed rows (two of the 90) and its auto mappings (first guesses, lowercased)
INSERT INTO lab_test_mappings (test_name, test_category, common_units) VALUES
  ('ALT (Alanine Aminotransferase)', 'Liver Function Tests (LFT)', 'U/L'), ('HbA1c', 'Diabetes Panel', '%');
INSERT INTO lab_test_mappings (test_name, test_name_standardized, test_code, test_category, is_standardized) VALUES
  ('hemoglobin a1c', 'Hemoglobin A1c', 'HEMOGLOBIN_A1C', 'Complete Blood Count (CBC)', false),
  ('sgpt', 'SGPT', 'SGPT', 'Others', false);
-- processed rows: 1 (categorized CBC by the original), 2 (categorized twice: value 38, then 40);
-- pending: two unknown tests with one value on one day (the original's key merged them), a
-- row without a value, a potassium
INSERT INTO lab_reports (id, user_id, test_name, test_category, test_value, test_unit, reference_range,
  test_status, test_date, categorization_status, created_at) VALUES
  (1, 7, 'Hemoglobin A1c', 'BIOCHEMISTRY', '6.1', '%', '4.0-5.6', 'High', '2026-01-05', 'categorized', '2026-01-06 08:00:00'),
  (2, 7, 'SGPT', 'LIVER FUNCTION', '40', 'U/L', '0-40', 'Normal', '2026-01-05', 'categorized', '2026-01-06 08:00:01'),
  (3, 7, 'Widgetase', 'MISC', '5', NULL, NULL, NULL, '2026-01-06', 'pending', '2026-01-07 08:00:00'),
  (4, 7, 'Frobnicase', 'MISC', '5', NULL, NULL, NULL, '2026-01-06', 'pending', '2026-01-07 08:00:01'),
  (5, 7, 'TSH', 'THYROID', NULL, 'mIU/L', NULL, NULL, '2026-01-06', 'pending', '2026-01-07 08:00:02'),
  (6, 7, 'Serum Potassium', 'BIOCHEMISTRY', '4.2', 'mmol/L', '3.5-5.1', 'Normal', '2026-04-02', 'pending', '2026-04-03 08:00:00');
SELECT setval(pg_get_serial_sequence('lab_reports', 'id'), 6);
INSERT INTO lab_report_categorized (id, user_id, test_name, test_code, loinc_code, test_category, test_value,
  test_unit, test_date, inferred_test_category, created_at, updated_at) VALUES
  (1, 7, 'Hemoglobin A1c', 'HEMOGLOBIN_A1C', 'UNKNOWN', 'BIOCHEMISTRY', '6.1', '%', '2026-01-05', 'Complete Blood Count (CBC)', '2026-01-06 08:00:00', '2026-01-06 09:00:00'),
  (2, 7, 'SGPT', 'SGPT', 'UNKNOWN', 'LIVER FUNCTION', '38', 'U/L', '2026-01-05', 'Others', '2026-01-06 08:00:01', '2026-01-06 09:00:00'),
  (2, 7, 'SGPT', 'SGPT', 'UNKNOWN', 'LIVER FUNCTION', '40', 'U/L', '2026-01-05', 'Others', '2026-01-06 08:00:01', '2026-01-06 10:00:00'),
  (NULL, 7, 'Zinc', NULL, 'UNKNOWN', NULL, '90', NULL, '2026-01-05', 'Vitamin & Mineral Panel', NULL, NULL);
INSERT INTO lab_reports_daily (user_id, date, test_name, test_code, loinc_code, test_category, avg_value, min_value, max_value, count, status) VALUES
  (7, '2026-01-05', 'Hemoglobin A1c', 'HEMOGLOBIN_A1C', 'UNKNOWN', 'Complete Blood Count (CBC)', '6.1', '6.1', '6.1', 1, 'amber'),
  (7, '2026-01-05', 'SGPT', 'SGPT', 'UNKNOWN', 'Others', '40.0', '40.0', '40.0', 1, 'amber'),
  (8, '2025-12-01', 'Ferritin', NULL, 'UNKNOWN', 'Vitamin & Mineral Panel', '80', '80', '80', 1, 'amber');
INSERT INTO lab_reports_monthly (user_id, year, month, test_name, test_code, loinc_code, test_category, avg_value, min_value, max_value, count, status) VALUES
  (7, 2026, 1, 'SGPT', NULL, 'UNKNOWN', 'Others', '40.0', '40.0', '40.0', 1, 'amber');
INSERT INTO lab_reports_yearly (user_id, year, test_name, test_code, loinc_code, test_category, avg_value, min_value, max_value, count, status) VALUES
  (7, 2026, 'SGPT', NULL, 'UNKNOWN', 'Others', '40.0', '40.0', '40.0', 1, 'amber');
SQL
ORIGINAL_NAMES="('ALT (Alanine Aminotransferase)', 'HbA1c', 'hemoglobin a1c', 'sgpt')"
counts="SELECT (SELECT count(*) FROM lab_reports), (SELECT count(*) FROM lab_test_mappings WHERE test_name IN $ORIGINAL_NAMES)"
expect "original state: 6 raw rows, 4 mappings" "$UL" "$counts" "6|4"
check "migrate adopts the lab tables" env DATABASE_URL="$UL" "$MLWORKER" migrate
check "migrate again changes nothing" bash -c "DATABASE_URL='$UL' '$MLWORKER' migrate | grep -q '0 migrations applied'"
expect "raw rows and the original's mappings kept" "$UL" "$counts" "6|4"
expect "the original's seed rows are marked seed, its auto rows re-decided with provenance" "$UL" \
  "SELECT test_name || ':' || mapping_source FROM lab_test_mappings WHERE test_name IN $ORIGINAL_NAMES ORDER BY 1" \
  "ALT (Alanine Aminotransferase):seed
HbA1c:seed
hemoglobin a1c:auto
sgpt:auto"
expect "categorized rows: 2 kept, 2 displaced (second row of id 2, NULL id), none lost" "$UL" \
  "SELECT (SELECT count(*) FROM lab_report_categorized), (SELECT string_agg(coalesce(id::text, '-') || '/' || test_value || '/' || mlw_displaced_reason, ', ' ORDER BY test_value) FROM mlw_lab_report_categorized_displaced)" \
  "2|2/38/second row of id 2, -/90/NULL id"
expect "the kept row of id 2 is the one that agrees with its raw row" "$UL" \
  "SELECT test_value FROM lab_report_categorized WHERE id = 2" "40"
expect "lab_report_categorized keyed by id now" "$UL" \
  "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'lab_report_categorized'::regclass AND contype = 'p'" \
  "PRIMARY KEY (id)"
expect "narrow aggregate keys replaced by keys with test_code" "$UL" \
  "SELECT string_agg(indexrelid::regclass::text || '=' || split_part(pg_get_indexdef(indexrelid), ' USING btree ', 2), '; ' ORDER BY indexrelid::regclass::text)
     FROM pg_index WHERE indisunique AND NOT indisprimary AND indrelid::regclass::text LIKE 'lab_reports_%'" \
  "lab_reports_daily_loinc_code_unique=(user_id, date, test_category, loinc_code, test_code); lab_reports_monthly_loinc_code_unique=(user_id, year, month, test_category, loinc_code, test_code); lab_reports_quarterly_loinc_code_unique=(user_id, year, quarter, test_category, loinc_code, test_code); lab_reports_yearly_loinc_code_unique=(user_id, year, test_category, loinc_code, test_code)"
expect "the original's indexes kept and not duplicated" "$UL" \
  "SELECT count(*) FILTER (WHERE indexname LIKE 'ix_%'), count(*) FILTER (WHERE indexname IN ('idx_lab_test_mappings_test_code', 'idx_lab_test_mappings_loinc', 'idx_lab_report_categorized_test_code', 'idx_lab_reports_categorization_status')) FROM pg_indexes WHERE tablename LIKE 'lab%'" \
  "5|0"
expect "raw row 1 (decision changed) and raw row 2 (categorized twice) are pending again" "$UL" \
  "SELECT string_agg(id || ':' || categorization_status, ' ' ORDER BY id) FROM lab_reports" \
  "1:pending 2:pending 3:pending 4:pending 5:pending 6:pending"
check "worker on the adopted database" pg_run "$UL" "$TMP/legacy.log"
expect "every raw row finished" "$UL" \
  "SELECT string_agg(id || ':' || categorization_status, ' ' ORDER BY id) FROM lab_reports" \
  "1:categorized 2:categorized 3:categorized 4:categorized 5:insufficient 6:categorized"
expect "HbA1c is a Diabetes Panel test now; SGPT is ALT" "$UL" \
  "SELECT string_agg(id || ':' || inferred_test_category || '/' || test_code, ' ' ORDER BY id) FROM lab_report_categorized WHERE id IN (1, 2)" \
  "1:Diabetes Panel/HBA1C 2:Liver Function Tests (LFT)/ALT"
expect "two unknown tests with one value on one day: two categorized rows, two daily rows" "$UL" \
  "SELECT (SELECT count(*) FROM lab_report_categorized WHERE test_date = '2026-01-06'), (SELECT count(*) FROM lab_reports_daily WHERE date = '2026-01-06')" \
  "2|2"
expect "an aggregate of a period mlworker never recomputed is kept" "$UL" \
  "SELECT count(*) FROM lab_reports_daily WHERE user_id = 8" 1
q "$UL" "DELETE FROM lab_reports_daily WHERE user_id = 8" >/dev/null
L=$TMP/legacy.db
migrate "$L"
check "the adopted raw rows, from scratch on SQLite" pgsync labs-to-sqlite "$UL" "$L"
check "worker on SQLite" run_worker "$L" "$TMP/legacy-sqlite.log"
check "oracle on SQLite" $LABS check --db "$L"
# shellcheck disable=SC2086
check "adopted PostgreSQL results identical to the SQLite run (the original's stale rows replaced)" \
  pgsync compare "$L" "$UL" $LAB_TABLES

finish
