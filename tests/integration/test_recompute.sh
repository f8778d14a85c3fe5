#!/usr/bin/env bash
# mlworker recompute / verify / status on SQLite:
#  - verify passes on a freshly processed database and finds tampering (a row marked failed
#    'unknown unit' with its copy gone, deleted and corrupted buckets, a changed lab category,
#    an extra bucket), naming each;
#  - recompute --dry-run changes nothing; recompute repairs exactly to the from-scratch result
#    (dbtool compare against a fresh database processed from the same raw rows) and a rerun
#    changes nothing;
#  - kill -9 in the middle of a recompute, rerun: same final state;
#  - recompute over everything (every user tampered) while two workers process late rows:
#    verify passes and the oracle agrees (tests/integration/test_pg_recompute.sh does this on
#    PostgreSQL with rows inserted meanwhile);
#  - rows over the text limits (failed by the pipeline) verify clean; such a row marked
#    completed, or with another reason, is reported and repaired;
#  - usage errors (exit 2), unknown user (exit 0, message), status output.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"
SEED=${MLW_TEST_SEED:-808}
LABS="$PY $ORACLE_DIR/labs_oracle.py"
mw() { local db=$1; shift; env DATABASE_URL="sqlite:///$db" "$MLWORKER" "$@"; }
expect_rc() { # expect_rc DESC WANT cmd...
  local desc=$1 want=$2 rc; shift 2
  set +e; "$@" >"$TMP/out" 2>&1; rc=$?; set -e
  sed 's/^/    /' "$TMP/out" | tail -n 12
  if [ "$rc" -eq "$want" ]; then pass "$desc"; else fail "$desc (exit $rc, want $want)"; fi
}

A=$TMP/a.db
say "a processed database (vitals, nutrition, labs)"
migrate "$A"
gen --db "$A" --users 4 --days 40 --rows 6000 --seed "$SEED" >/dev/null
$LABS gen --db "$A" --users 3 --days 120 --rows 800 --seed "$SEED" >/dev/null
worker_ran_ok "$A" "$TMP/run1.log" "worker run"
expect_rc "verify passes on a correct database" 0 mw "$A" verify -q
B=$TMP/b.db
migrate "$B"
check "copy raw rows for a from-scratch run" dbtool copy-raw "$A" "$B"
"$PY" - "$A" "$B" <<'PYEOF'
import sqlite3, sys
a = sqlite3.connect(sys.argv[1]); b = sqlite3.connect(sys.argv[2])
cols = [r[1] for r in a.execute("PRAGMA table_info(lab_reports)")]
rows = a.execute("SELECT %s FROM lab_reports" % ",".join(cols)).fetchall()
with b:
    b.execute("DELETE FROM lab_reports")
    b.executemany("INSERT INTO lab_reports (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols))), rows)
    b.execute("UPDATE lab_reports SET categorization_status='pending', failure_reason=NULL")
PYEOF
worker_ran_ok "$B" "$TMP/runb.log" "from-scratch run"

say "tamper with the results, as an older binary or a bug would have left them"
"$PY" - "$A" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
with c:
    ids = [r[0] for r in c.execute("SELECT id FROM vitals_raw_data WHERE aggregation_status='categorized' ORDER BY id LIMIT 6 OFFSET 50")]
    for i in ids:
        c.execute("UPDATE vitals_raw_data SET aggregation_status='failed', failure_reason='unknown unit' WHERE id=?", (i,))
        c.execute("DELETE FROM vitals_raw_categorized WHERE raw_id=?", (i,))
    c.execute("DELETE FROM vitals_daily_aggregates WHERE id IN (SELECT id FROM vitals_daily_aggregates ORDER BY id LIMIT 3)")
    c.execute("UPDATE lab_report_categorized SET inferred_test_category='Others' WHERE id IN (SELECT id FROM lab_report_categorized ORDER BY id LIMIT 4)")
    c.execute("UPDATE nutrition_weekly_aggregates SET avg_daily_calories=avg_daily_calories*1.001 WHERE id=(SELECT min(id) FROM nutrition_weekly_aggregates)")
    c.execute("UPDATE lab_reports_monthly SET count=count+1 WHERE id=(SELECT min(id) FROM lab_reports_monthly)")
    c.execute("INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start, count, unit) VALUES (1, 'Steps', '2020-01-01 10:00:00', 3, 'count')")
PYEOF
expect_rc "verify finds the tampering (exit 1)" 1 mw "$A" verify -q --limit 400
check "verify names the extra hourly bucket as stale" grep -q "vitals_hourly_aggregates.*stale.*hour_start=2020-01-01 10:00:00" "$TMP/out"
check "verify names the corrupted weekly column" grep -q "nutrition_weekly_aggregates.*mismatch.*avg_daily_calories" "$TMP/out"
check "verify names the failed rows" grep -q "vitals_raw_data.*mismatch.*status.*categorized.*failed" "$TMP/out"
check "verify counts missing daily buckets" grep -q "vitals_daily_aggregates .* 3 missing" "$TMP/out"
dbtool backup "$A" "$TMP/a-tampered.db" >/dev/null
expect_rc "recompute --dry-run reports" 0 mw "$A" recompute --dry-run -q
check "dry run wrote nothing" dbtool compare "$TMP/a-tampered.db" "$A"
expect_rc "recompute" 0 mw "$A" recompute -q
check "recompute repaired: from-scratch result" dbtool compare "$B" "$A"
expect_rc "verify passes after recompute" 0 mw "$A" verify -q
expect_rc "second recompute changes nothing" 0 mw "$A" recompute -q
check "second recompute said so" grep -q "changed nothing" "$TMP/out"
check "oracle agrees" oracle "$A"

say "kill -9 during a recompute, then rerun"
C=$TMP/c.db
migrate "$C"
gen --db "$C" --users 30 --days 60 --rows 40000 --seed $((SEED + 1)) >/dev/null
worker_ran_ok "$C" "$TMP/runc.log" "worker run (40k rows)"
D=$TMP/d.db
cp "$C" "$D"
# every user's daily vitals wrong: every user needs a repair
"$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE vitals_daily_aggregates SET total_value=total_value+1 WHERE total_value IS NOT NULL'); c.commit()" "$C"
env DATABASE_URL="sqlite:///$C" "$MLWORKER" recompute >"$TMP/kill.log" 2>&1 &
KP=$!
BG_PIDS+=("$KP")
sleep 0.4
kill -9 "$KP" 2>/dev/null || true
wait "$KP" 2>/dev/null || true
expect_rc "verify after kill -9 still finds what is left" 1 mw "$C" verify -q --limit 0
expect_rc "rerun recompute" 0 mw "$C" recompute -q
check "final state equals the untampered database" dbtool compare "$D" "$C"

say "recompute over everything while two workers process new rows"
"$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE vitals_daily_aggregates SET total_value=total_value+1 WHERE total_value IS NOT NULL'); c.execute('UPDATE nutrition_daily_aggregates SET total_calories=total_calories+1'); c.commit()" "$C"
gen --db "$C" --users 30 --days 60 --rows 6000 --seed $((SEED + 3)) --late >/dev/null
W=()
for k in 1 2; do
  env DATABASE_URL="sqlite:///$C" ML_WORKER_EXIT_WHEN_IDLE=1 ML_WORKER_AGGREGATION_BATCH_SIZE=50 \
    timeout 300 "$MLWORKER" run >"$TMP/w$k.log" 2>&1 &
  W+=($!); BG_PIDS+=($!)
done
expect_rc "recompute next to two workers" 0 mw "$C" recompute -q
check "it left days with pending rows to the workers" grep -q "day(s) with rows still pending" "$TMP/out"
wrc=0
for k in "${W[@]}"; do wait "$k" || wrc=$?; done
[ "$wrc" -eq 0 ] && pass "both workers finished (exit 0)" || fail "a worker exited $wrc"
expect_rc "verify passes: nothing lost or counted twice" 0 mw "$C" verify -q
check "no row left pending" bash -c "[ \"\$(env DATABASE_URL='sqlite:///$C' '$MLWORKER' status --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin)[\"domains\"]; print(d[\"vitals\"][\"pending\"] + d[\"nutrition\"][\"pending\"])')\" = 0 ]"
check "oracle agrees" oracle "$C"

say "rows over the text limits (failed by the pipeline) verify clean"
E=$TMP/limits.db
migrate "$E"
"$PY" - "$E" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executemany("INSERT INTO vitals_raw_data (id, user_id, metric_type, value, unit, start_date,"
    " end_date, data_source, source_device, notes) VALUES (?, 1, ?, 70, 'bpm',"
    " '2026-01-21 08:00:00', '2026-01-21 08:01:00', ?, ?, ?)",
    [(1, "Heart Rate", "s" * 1024, "d" * 1024, "n" * 16384), (2, "Heart Rate", "s" * 1025, None, None),
     (3, "Heart Rate", "watch", None, "n" * 16385), (4, "H" * 1025, "watch", None, None),
     (5, "Heart Rate", "watch", None, "\u00e9" * 16384)])
c.executemany("INSERT INTO nutrition_raw_data (id, user_id, food_item_name, meal_type, portion_size,"
    " portion_unit, meal_date, meal_time, data_source, calories) VALUES (?, 1, 'x', ?, 1, 'g',"
    " '2026-01-21', '12:00:00', ?, 100)",
    [(1, "lunch", "s" * 1024), (2, "m" * 1025, "app"), (3, "lunch", "s" * 3000), (4, "dinner", "app")])
c.executemany("INSERT INTO lab_reports (id, user_id, test_name, test_value, test_unit, test_date,"
    " raw_text, test_notes, lab_address) VALUES (?, 1, ?, '5.0', ?, '2026-01-21', ?, ?, ?)",
    [(1, "Hemoglobin", "g/dL", "r" * 16384, None, None), (2, "Hemoglobin", "u" * 1025, None, None, None),
     (3, "Glucose", "mg/dL", "r" * 20000, None, None), (4, "Glucose", "mg/dL", None, None, "a" * 16385),
     (5, "Glucose", "mg/dL", None, None, None)])
c.commit()
PYEOF
worker_ran_ok "$E" "$TMP/rune.log" "worker run (rows over the limits)"
check "the pipeline failed the over-long rows" "$PY" -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
f = [r[0] for r in c.execute(\"SELECT failure_reason FROM vitals_raw_data WHERE aggregation_status='failed' UNION ALL SELECT failure_reason FROM nutrition_raw_data WHERE aggregation_status='failed' UNION ALL SELECT failure_reason FROM lab_reports WHERE categorization_status='failed'\")]
print(f); assert len(f) == 8 and all('is longer than' in r for r in f)" "$E"
expect_rc "verify passes on rows over the limits" 0 mw "$E" verify -q
"$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE nutrition_raw_data SET aggregation_status='completed', failure_reason=NULL WHERE id=2\"); c.execute(\"UPDATE lab_reports SET failure_reason='raw_text is longer than 99 characters' WHERE id=3\"); c.commit()" "$E"
expect_rc "verify finds an over-long row marked completed, and a wrong reason" 1 mw "$E" verify -q
check "names the nutrition row and its reason" grep -Eq "nutrition_raw_data +mismatch +id=2 +failure_reason +meal_type is longer than 1024" "$TMP/out"
check "names the lab row's reason" grep -Eq "lab_reports +mismatch +id=3 +failure_reason +raw_text is longer than 16384" "$TMP/out"
expect_rc "recompute repairs them" 0 mw "$E" recompute -q
expect_rc "verify passes after recompute" 0 mw "$E" verify -q

say "bad input"
expect_rc "unknown user: exit 0" 0 mw "$A" verify --user 999999 -q
check "unknown user: says nothing to compare" grep -q "nothing to compare" "$TMP/out"
expect_rc "empty range: exit 0" 0 mw "$A" recompute --from 1990-01-01 --to 1990-01-31 -q
expect_rc "range of one day: verify passes" 0 mw "$A" verify --from 2026-01-25 --to 2026-01-25 -q
expect_rc "inverted range: usage error" 2 mw "$A" verify --from 2026-02-01 --to 2026-01-01
expect_rc "bad date: usage error" 2 mw "$A" recompute --from 2026-13-01
expect_rc "bad user: usage error" 2 mw "$A" verify --user abc
expect_rc "bad domain: usage error" 2 mw "$A" verify --domain sleep
expect_rc "unknown option: usage error" 2 mw "$A" recompute --frobnicate
cp "$A" "$TMP/old.db"
"$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM mlw_schema_version WHERE version > 1'); c.commit()" "$TMP/old.db"
expect_rc "older schema: verify refuses" 1 mw "$TMP/old.db" verify -q
check "older schema: says to migrate first" grep -q "run .mlworker migrate. first" "$TMP/out"
expect_rc "older schema: recompute refuses" 1 mw "$TMP/old.db" recompute -q

say "status"
gen --db "$A" --users 2 --days 5 --rows 200 --seed $((SEED + 2)) --late >/dev/null
expect_rc "status" 0 mw "$A" status
check "status shows pending vitals" grep -Eq "^vitals +[1-9]" "$TMP/out"
expect_rc "status --json" 0 mw "$A" status --json
check "status --json parses" "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['domains']['vitals']['pending']>0 and d['pending_migrations']==0" "$TMP/out"
expect_rc "verify with pending rows passes (skipped, not a mismatch)" 0 mw "$A" verify -q
check "verify says how many were skipped" grep -q "pending row(s) not processed yet" "$TMP/out"

finish
