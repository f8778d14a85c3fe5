#!/usr/bin/env bash
# Independent oracle: the worker's vitals and nutrition aggregates must equal what
# tests/oracle/oracle.py recomputes from the raw rows, after a first run, after late rows
# (incremental), and equal to a from-scratch run over the same final raw rows.
# Env: MLWORKER, MLW_SOURCE_DIR; MLW_TEST_SEED to vary the generated data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

SEED=${MLW_TEST_SEED:-20260120}
say "seed $SEED (set MLW_TEST_SEED to change), temp dir $TMP"

say "oracle self-test against hand-computed values"
check "oracle self-test" "$PY" "$ORACLE_DIR/selftest.py"

A=$TMP/a.db
say "first run: 5 users, 40 days from 2026-01-20 (month boundary, weeks spanning months)"
migrate "$A"
check "migrate is idempotent" env DATABASE_URL="sqlite:///$A" "$MLWORKER" migrate
gen --db "$A" --users 5 --days 40 --rows 9000 --seed "$SEED" --start-date 2026-01-20
worker_ran_ok "$A" "$TMP/run1.log" "worker run 1"
check "oracle after run 1" oracle "$A"

say "late rows into dates already processed (created_at later than everything), some 'queued'"
gen --db "$A" --users 5 --days 40 --rows 1500 --seed $((SEED + 1)) --start-date 2026-01-20 --late
"$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
with c:
    for t in ("vitals_raw_data", "nutrition_raw_data"):
        n = c.execute("UPDATE %s SET aggregation_status = 'queued' WHERE aggregation_status = "
                      "'pending' AND id %% 7 = 0" % t).rowcount
        print("%s: %d late rows set to 'queued' (the original's other pending status)" % (t, n))
EOF
worker_ran_ok "$A" "$TMP/run2.log" "worker run 2 (late rows)"
check "oracle after late rows" oracle "$A"

say "a second run with nothing pending changes nothing"
dbtool backup "$A" "$TMP/a-before.db" >/dev/null
worker_ran_ok "$A" "$TMP/run3.log" "worker run 3 (idle)"
check "idle run left every table as it was" dbtool compare "$TMP/a-before.db" "$A"

say "from scratch: same final raw rows (same ids, created_at), statuses reset to pending"
B=$TMP/b.db
migrate "$B"
check "copy raw rows" dbtool copy-raw "$A" "$B"
worker_ran_ok "$B" "$TMP/runb.log" "worker run on the from-scratch copy"
check "oracle on the from-scratch copy" oracle "$B"
check "incremental equals from-scratch (all aggregate, categorized and raw tables)" \
  dbtool compare "$A" "$B"

say "the app corrects processed rows in place and resets them to pending"
gen --db "$A" --rows 80 --seed $((SEED + 4)) --edit
worker_ran_ok "$A" "$TMP/run4.log" "worker run 4 (edited rows)"
check "oracle after in-place edits (moved dates leave no stale buckets)" oracle "$A"

say "year end: 3 weeks from 2025-12-22 (a week spanning two years)"
C=$TMP/c.db
migrate "$C"
gen --db "$C" --users 3 --days 21 --rows 3000 --seed $((SEED + 2)) --start-date 2025-12-22
worker_ran_ok "$C" "$TMP/runc.log" "worker run (year end)"
gen --db "$C" --users 3 --days 21 --rows 500 --seed $((SEED + 3)) --start-date 2025-12-22 --late
worker_ran_ok "$C" "$TMP/runc2.log" "worker run (year end, late rows)"
check "oracle (year end)" oracle "$C"
check "week 2025-12-29..2026-01-04 present" "$PY" - "$C" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("SELECT count(*) FROM vitals_weekly_aggregates WHERE week_start_date = '2025-12-29' "
              "AND week_end_date = '2026-01-04'").fetchone()[0]
m = c.execute("SELECT count(*) FROM nutrition_weekly_aggregates WHERE week_start_date = '2025-12-29' "
              "AND week_end_date = '2026-01-04'").fetchone()[0]
print("vitals weekly rows for the week: %d, nutrition: %d" % (n, m))
sys.exit(0 if n > 0 and m > 0 else 1)
EOF

finish
