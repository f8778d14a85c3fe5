#!/usr/bin/env bash
# Labs end to end: lab_reports rows through `mlworker run`, checked by the independent oracle
# (tests/oracle/labs_oracle.py): statuses and reasons, categorized copies, daily / monthly /
# quarterly / yearly aggregates. Covers late rows, an idle run, incremental = from scratch, rows
# the app edits and resets, hostile rows, a catalog change (re-categorization), a manual mapping.
# Env: MLWORKER, MLW_SOURCE_DIR; MLW_TEST_SEED to vary the generated data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

SEED=${MLW_TEST_SEED:-31337}
LABS="$PY $ORACLE_DIR/labs_oracle.py"
say "seed $SEED (set MLW_TEST_SEED to change), temp dir $TMP"
check "labs oracle self-test" $LABS selftest

A=$TMP/a.db
say "first run: 3 users, 120 days from 2025-11-15 (months, quarters and a year boundary)"
migrate "$A"
check "migrate wrote the catalog and the 90 seed rows to lab_test_mappings" "$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = dict(c.execute("SELECT mapping_source, count(*) FROM lab_test_mappings GROUP BY 1").fetchall())
v = c.execute("SELECT version, tests FROM mlw_lab_catalog").fetchall()
print("mappings by source: %r; catalog %r" % (n, v))
sys.exit(0 if n.get("seed") == 90 and n.get("catalog", 0) >= 200 and len(v) == 1 else 1)
EOF
$LABS gen --db "$A" --users 3 --days 120 --rows 1500 --seed "$SEED"
worker_ran_ok "$A" "$TMP/run1.log" "worker run 1"
check "batch log line counts lab reports" grep -q "lab reports" "$TMP/run1.log"
check "oracle after run 1" $LABS check --db "$A"

say "late rows into dates already processed"
$LABS gen --db "$A" --users 3 --days 120 --rows 400 --seed $((SEED + 1)) --late
worker_ran_ok "$A" "$TMP/run2.log" "worker run 2 (late rows)"
check "oracle after late rows" $LABS check --db "$A"

say "a run with nothing pending changes nothing"
cp "$A" "$TMP/a-before.db"
worker_ran_ok "$A" "$TMP/run3.log" "worker run 3 (idle)"
check "idle run left the lab tables as they were" $LABS compare "$TMP/a-before.db" "$A"

say "from scratch: the same raw rows, statuses reset"
B=$TMP/b.db
migrate "$B"
check "copy raw rows" $LABS copy-raw "$A" "$B"
worker_ran_ok "$B" "$TMP/runb.log" "worker run on the from-scratch copy"
check "oracle on the from-scratch copy" $LABS check --db "$B"
check "incremental equals from scratch" $LABS compare "$A" "$B"

say "the app corrects processed rows (value, date, name) and resets them to pending"
$LABS gen --db "$A" --rows 120 --seed $((SEED + 2)) --edit
worker_ran_ok "$A" "$TMP/run4.log" "worker run 4 (edited rows)"
check "oracle after edits (moved rows leave no stale buckets)" $LABS check --db "$A"

say "hostile rows: empty and 10 000-character names, invalid UTF-8, 1e309, NaN, --, odd ranges"
$LABS gen --db "$A" --seed $((SEED + 3)) --bad
worker_ran_ok "$A" "$TMP/run5.log" "worker run 5 (hostile rows)"
check "oracle after hostile rows" $LABS check --db "$A"
check "every table still there, no row left pending" "$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
p = c.execute("SELECT count(*) FROM lab_reports WHERE categorization_status NOT IN"
              " ('categorized', 'insufficient', 'failed')").fetchone()[0]
t = c.execute("SELECT count(*) FROM sqlite_master WHERE type='table' AND name LIKE 'lab%'").fetchone()[0]
print("unfinished rows %d, lab tables %d" % (p, t))
sys.exit(0 if p == 0 and t == 7 else 1)
EOF

say "a catalog change re-categorizes: rows decided by an older catalog are checked again"
"$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
with c:
    c.execute("UPDATE mlw_lab_catalog SET version='0000000000000000'")
    n = c.execute("UPDATE lab_report_categorized SET inferred_test_category='Others',"
                  " test_code='STALE', catalog_version='0000000000000000'"
                  " WHERE id IN (SELECT id FROM lab_report_categorized ORDER BY id LIMIT 25)").rowcount
print("25 categorized rows given a stale decision: %d" % n)
EOF
worker_ran_ok "$A" "$TMP/run6.log" "worker run 6 (catalog changed)"
check "the worker re-queued the stale rows" grep -q "25 lab report(s) re-queued" "$TMP/run6.log"
check "oracle after re-categorization" $LABS check --db "$A"
check "no stale decision left" "$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("SELECT count(*) FROM lab_report_categorized WHERE test_code='STALE'").fetchone()[0]
print("stale rows left: %d" % n)
sys.exit(1 if n else 0)
EOF

say "an operator's manual mapping decides for its name"
"$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
with c:
    # the worker recorded an automatic mapping for the name; the operator takes it over
    c.execute("INSERT INTO lab_test_mappings (test_name, test_name_standardized, test_code,"
              " test_category, loinc_code, mapping_source) VALUES ('widgetase', 'Widgetase (W)',"
              " 'WIDG', 'Cardiac Markers', NULL, 'manual') ON CONFLICT (test_name) DO UPDATE SET"
              " test_name_standardized=excluded.test_name_standardized,"
              " test_code=excluded.test_code, test_category=excluded.test_category,"
              " loinc_code=NULL, mapping_source='manual'")
    n = c.execute("UPDATE lab_reports SET categorization_status='pending'"
                  " WHERE test_name='Widgetase'").rowcount
print("manual mapping added; %d Widgetase rows reset to pending" % n)
EOF
worker_ran_ok "$A" "$TMP/run7.log" "worker run 7 (manual mapping)"
check "Widgetase rows now carry the manual decision" "$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("SELECT DISTINCT c.test_code, c.inferred_test_category, c.test_name, c.match_kind"
                 " FROM lab_report_categorized c JOIN lab_reports r ON r.id = c.id"
                 " WHERE r.test_name='Widgetase'").fetchall()
print(rows)
sys.exit(0 if rows == [("WIDG", "Cardiac Markers", "Widgetase (W)", "manual")] else 1)
EOF
check "oracle after the manual mapping" $LABS check --db "$A"

finish
