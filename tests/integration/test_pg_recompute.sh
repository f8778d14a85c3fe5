#!/usr/bin/env bash
# mlworker verify / recompute / status on a real PostgreSQL 15 (tests/pg/pg_server.sh):
#  - the worker's results verify clean; tampering (rows marked failed with their copies gone,
#    deleted, corrupted and extra buckets, changed lab categories) is reported by verify,
#    recompute --dry-run writes nothing, recompute repairs to exactly the from-scratch result
#    (dbsync compare against SQLite processed from the same raw rows), verify passes after,
#    and a second recompute changes nothing;
#  - status: counts equal SQL counts, oldest pending age, --json parses;
#  - recompute over everything while two workers process newly inserted rows (and a third
#    party inserts them meanwhile): nothing lost or counted twice: verify passes and the
#    result equals the from-scratch SQLite run, which the oracle checks.
set -euo pipefail
source "$(dirname "$0")/../oracle/itest_lib.sh"
source "$MLW_SOURCE_DIR/tests/pg/pg_server.sh"
SYS_PY=/usr/bin/python3
"$SYS_PY" -c 'import psycopg2' 2>/dev/null || { echo "psycopg2 missing for $SYS_PY (apt install python3-psycopg2)"; exit 1; }
trap 'pg_stop; cleanup' EXIT
SEED=${MLW_TEST_SEED:-909}
LABS="$PY $ORACLE_DIR/labs_oracle.py"
pgsync() { "$SYS_PY" "$MLW_SOURCE_DIR/tests/pg/dbsync.py" "$@"; }
# the tables recompute answers for (lab_test_mappings keeps the report section of the last row
# processed per name, which depends on the order rows were processed in)
RESULTS="vitals_raw_data vitals_raw_categorized vitals_hourly_aggregates vitals_daily_aggregates
 vitals_weekly_aggregates vitals_monthly_aggregates nutrition_raw_data nutrition_daily_aggregates
 nutrition_weekly_aggregates nutrition_monthly_aggregates lab_reports lab_report_categorized
 lab_reports_daily lab_reports_monthly lab_reports_quarterly lab_reports_yearly"
newdb() { psql -X -q "$PG_URL" -c "CREATE DATABASE $1" >/dev/null; echo "postgresql://mlw@127.0.0.1:$PG_PORT/$1"; }
q() { psql -X -At "$1" -c "$2"; }
mwu() { local url=$1; shift; env DATABASE_URL="$url" "$MLWORKER" "$@"; }
pg_run() { # pg_run URL LOG [VAR=value...]
  local url=$1 log=$2; shift 2
  env DATABASE_URL="$url" ML_WORKER_EXIT_WHEN_IDLE=1 "$@" timeout 300 "$MLWORKER" run >"$log" 2>&1
}
expect_rc() { # expect_rc DESC WANT cmd...
  local desc=$1 want=$2 rc; shift 2
  set +e; "$@" >"$TMP/out" 2>&1; rc=$?; set -e
  sed 's/^/    /' "$TMP/out" | tail -n 14
  if [ "$rc" -eq "$want" ]; then pass "$desc"; else fail "$desc (exit $rc, want $want)"; fi
}
# a digest of every result table (recompute --dry-run must leave it as it is)
digest() {
  local t out=""
  for t in vitals_raw_data vitals_raw_categorized vitals_hourly_aggregates vitals_daily_aggregates \
           vitals_weekly_aggregates vitals_monthly_aggregates nutrition_raw_data \
           nutrition_daily_aggregates nutrition_weekly_aggregates nutrition_monthly_aggregates \
           lab_reports lab_report_categorized lab_reports_daily lab_reports_monthly \
           lab_reports_quarterly lab_reports_yearly; do
    out+=$(q "$1" "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM $t t")
  done
  echo "$out" | md5sum
}

say "start PostgreSQL (seed $SEED)"
pg_start
echo "    $PG_URL (server $("$PG_BIN/postgres" --version))"

say "a processed database; the same raw rows from scratch on SQLite"
A=$TMP/a.db
migrate "$A"
gen --db "$A" --users 4 --days 40 --rows 6000 --seed "$SEED" >/dev/null
$LABS gen --db "$A" --users 3 --days 120 --rows 800 --seed "$SEED" >/dev/null
U=$(newdb one)
check "migrate PostgreSQL" mwu "$U" migrate
check "copy raw rows" pgsync copy "$A" "$U"
check "worker on PostgreSQL" pg_run "$U" "$TMP/u1.log"
check "worker on SQLite (from scratch)" run_worker "$A" "$TMP/a1.log"
check "PostgreSQL equals SQLite" pgsync compare "$A" "$U"
expect_rc "verify passes on PostgreSQL" 0 mwu "$U" verify -q
check "it compared every raw row" grep -Eq "pair\(s\), $(q "$U" "SELECT (SELECT count(*) FROM vitals_raw_data) + (SELECT count(*) FROM nutrition_raw_data) + (SELECT count(*) FROM lab_reports)") raw rows" "$TMP/out"

say "tamper on PostgreSQL"
psql -X -q -v ON_ERROR_STOP=1 "$U" <<'SQL'
CREATE TEMP TABLE t_ids AS SELECT id FROM vitals_raw_data WHERE aggregation_status='categorized' ORDER BY id LIMIT 6 OFFSET 50;
UPDATE vitals_raw_data SET aggregation_status='failed', failure_reason='unknown unit' WHERE id IN (SELECT id FROM t_ids);
DELETE FROM vitals_raw_categorized WHERE raw_id IN (SELECT id FROM t_ids);
DELETE FROM vitals_daily_aggregates WHERE id IN (SELECT id FROM vitals_daily_aggregates ORDER BY id LIMIT 3);
UPDATE lab_report_categorized SET inferred_test_category='Others' WHERE id IN (SELECT id FROM lab_report_categorized ORDER BY id LIMIT 4);
UPDATE nutrition_weekly_aggregates SET avg_daily_calories=avg_daily_calories*1.001 WHERE id=(SELECT min(id) FROM nutrition_weekly_aggregates);
UPDATE lab_reports_monthly SET count=count+1 WHERE id=(SELECT min(id) FROM lab_reports_monthly);
INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start, count, unit) VALUES (1, 'Steps', '2020-01-01 10:00:00', 3, 'count');
SQL
expect_rc "verify finds the tampering (exit 1)" 1 mwu "$U" verify -q --limit 400
check "names the extra hourly bucket as stale" grep -q "vitals_hourly_aggregates.*stale.*hour_start=2020-01-01 10:00:00" "$TMP/out"
check "names the corrupted weekly column" grep -q "nutrition_weekly_aggregates.*mismatch.*avg_daily_calories" "$TMP/out"
check "names the failed rows" grep -q "vitals_raw_data.*mismatch.*status.*categorized.*failed" "$TMP/out"
check "counts the missing daily buckets" grep -q "vitals_daily_aggregates .* 3 missing" "$TMP/out"
check "counts the lab categories and the monthly count" grep -Eq "lab_report_categorized +4 mismatched" "$TMP/out"
WS=$(q "$U" "SELECT week_start_date FROM nutrition_weekly_aggregates WHERE id=(SELECT min(id) FROM nutrition_weekly_aggregates)")
expect_rc "a ranged verify (one day, labs and nutrition) finds the corrupted week" 1 \
  mwu "$U" verify -q --from "$WS" --to "$WS" --domain nutrition --domain labs
check "and only what lies in that range" bash -c "grep -q 'nutrition_weekly_aggregates.*avg_daily_calories' '$TMP/out' && ! grep -q 'vitals_' '$TMP/out'"
D0=$(digest "$U")
expect_rc "recompute --dry-run" 0 mwu "$U" recompute --dry-run -q
check "dry run says what it would repair" grep -q "would repair" "$TMP/out"
if [ "$(digest "$U")" = "$D0" ]; then pass "dry run wrote nothing"; else fail "dry run changed the database"; fi
expect_rc "recompute" 0 mwu "$U" recompute -q
check "recompute repaired to the from-scratch result" pgsync compare "$A" "$U" $RESULTS
expect_rc "verify passes after recompute" 0 mwu "$U" verify -q
expect_rc "a ranged verify passes after recompute" 0 mwu "$U" verify -q --from 2026-02-03 --to 2026-02-20
expect_rc "second recompute" 0 mwu "$U" recompute -q
check "second recompute changed nothing" grep -q "changed nothing" "$TMP/out"

say "status"
$SYS_PY - "$U" <<'EOF'
import psycopg2, sys
c = psycopg2.connect(sys.argv[1]); cur = c.cursor()
cur.execute("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date,"
            " data_source, created_at) VALUES (9, 'Heart Rate', 60, 'bpm', '2026-01-02 08:00:00',"
            " '2026-01-02 08:00:00', 'w', now() at time zone 'utc' - interval '3 hours'),"
            " (9, 'Heart Rate', 61, 'bpm', '2026-01-02 09:00:00', '2026-01-02 09:00:00', 'w',"
            " now() at time zone 'utc')")
cur.execute("UPDATE nutrition_raw_data SET aggregation_status='processing', updated_at=now() WHERE id IN (SELECT id FROM nutrition_raw_data ORDER BY id LIMIT 2)")
c.commit()
EOF
expect_rc "status" 0 mwu "$U" status
check "status counts equal SQL counts" "$SYS_PY" - "$U" "$TMP/out" <<'EOF'
import psycopg2, re, sys
cur = psycopg2.connect(sys.argv[1]).cursor()
out = open(sys.argv[2]).read()
bad = 0
for dom, table, col in (("vitals", "vitals_raw_data", "aggregation_status"),
                        ("nutrition", "nutrition_raw_data", "aggregation_status"),
                        ("labs", "lab_reports", "categorization_status")):
    cur.execute("SELECT count(*) FILTER (WHERE %s IN ('pending','queued')), count(*) FILTER (WHERE %s='processing'),"
                " count(*) FILTER (WHERE %s IN ('failed','insufficient')), count(*) FILTER (WHERE %s NOT IN"
                " ('pending','queued','processing','failed','insufficient')) FROM %s" % (col, col, col, col, table))
    want = list(cur.fetchone())
    m = re.search(r"^%s +(\d+) +(\d+) +(\d+) +(\d+) +(\S+)" % dom, out, re.M)
    got = [int(x) for x in m.groups()[:4]] if m else None
    print(dom, "status", got, "SQL", want, "oldest", m.group(5) if m else None)
    bad += got != want
m = re.search(r"^vitals .* (\S+)$", out, re.M)
if not m or not re.match(r"^(1(79|80|81)m|3\.0h)$", m.group(1)):
    print("oldest pending vitals row: want about 3 h, got", m and m.group(1)); bad += 1
sys.exit(1 if bad else 0)
EOF
expect_rc "status --json" 0 mwu "$U" status --json
check "status --json parses and agrees" "$SYS_PY" -c "
import json, sys
d = json.load(open(sys.argv[1]))
v = d['domains']['vitals']; n = d['domains']['nutrition']
print(v, n)
assert v['pending'] == 2 and 10700 <= v['oldest_pending_age_s'] <= 11000, v
assert n['processing'] == 2 and d['schema_version'] == d['schema_latest'] and d['pending_migrations'] == 0
assert d['queue'] is None" "$TMP/out"
expect_rc "verify with pending and legacy processing rows passes (skipped)" 0 mwu "$U" verify -q
check "and says how many were skipped" grep -q "skipped: 4 pending row(s)" "$TMP/out"

say "recompute over everything while two workers process new rows"
B=$TMP/b.db
migrate "$B"
gen --db "$B" --users 12 --days 60 --rows 20000 --seed $((SEED + 1)) >/dev/null
$LABS gen --db "$B" --users 6 --days 120 --rows 1500 --seed $((SEED + 1)) >/dev/null
V=$(newdb two)
check "migrate" mwu "$V" migrate
check "copy raw rows" pgsync copy "$B" "$V"
check "first worker run" pg_run "$V" "$TMP/v1.log"
# every user's daily vitals and nutrition wrong: recompute has work for every user
q "$V" "UPDATE vitals_daily_aggregates SET total_value=total_value+1 WHERE total_value IS NOT NULL;
        UPDATE nutrition_daily_aggregates SET total_calories=total_calories+1;
        UPDATE lab_reports_daily SET count=count+1" >/dev/null
# late rows (into dates that have data) land while the recompute runs: rows above these ids
MAXV=$(q "$V" "SELECT max(id) FROM vitals_raw_data"); MAXN=$(q "$V" "SELECT max(id) FROM nutrition_raw_data")
MAXL=$(q "$V" "SELECT max(id) FROM lab_reports")
gen --db "$B" --users 12 --days 60 --rows 3000 --seed $((SEED + 2)) --late >/dev/null
$LABS gen --db "$B" --users 6 --days 120 --rows 300 --seed $((SEED + 2)) --late >/dev/null
W=()
for k in 1 2; do
  env DATABASE_URL="$V" ML_WORKER_POLL_INTERVAL=0.2 ML_WORKER_AGGREGATION_BATCH_SIZE=50 \
    timeout 300 "$MLWORKER" run >"$TMP/w$k.log" 2>&1 &
  W+=($!); BG_PIDS+=($!)
done
env DATABASE_URL="$V" timeout 300 "$MLWORKER" recompute >"$TMP/rc.log" 2>&1 &
RC_PID=$!; BG_PIDS+=($RC_PID)
sleep 0.5
"$SYS_PY" - "$B" "$V" "$MAXV" "$MAXN" "$MAXL" >"$TMP/copy2.log" 2>&1 <<'EOF' &
import psycopg2, sqlite3, sys, time
s = sqlite3.connect(sys.argv[1]); p = psycopg2.connect(sys.argv[2]); cur = p.cursor()
n = 0
for table, above in zip(("vitals_raw_data", "nutrition_raw_data", "lab_reports"), sys.argv[3:6]):
    cols = [r[1] for r in s.execute("PRAGMA table_info(%s)" % table)]
    rows = s.execute("SELECT %s FROM %s WHERE id > ? ORDER BY id" % (", ".join(cols), table),
                     (int(above),)).fetchall()
    q = "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join(["%s"] * len(cols)))
    for i in range(0, len(rows), 100):      # in small commits, spread over the recompute
        cur.executemany(q, rows[i:i + 100])
        p.commit()
        n += len(rows[i:i + 100])
        time.sleep(0.02)
print("inserted %d late rows" % n)
EOF
CP_PID=$!; BG_PIDS+=($CP_PID)
set +e; wait "$CP_PID"; cprc=$?; wait "$RC_PID"; rcrc=$?; set -e
[ "$cprc" -eq 0 ] && pass "late rows inserted meanwhile" || fail "copy of late rows (exit $cprc)"
sed 's/^/    /' "$TMP/rc.log" | tail -n 8
[ "$rcrc" -eq 0 ] && pass "recompute finished (exit 0) next to the workers" || fail "recompute exit $rcrc"
check "recompute repaired users" grep -q "repaired" "$TMP/rc.log"
# the workers drain what is pending, then stop
for i in $(seq 1 240); do
  p=$(q "$V" "SELECT (SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='pending')
        + (SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status='pending')
        + (SELECT count(*) FROM lab_reports WHERE categorization_status='pending')")
  [ "$p" = 0 ] && break
  sleep 0.5
done
[ "$p" = 0 ] && pass "the workers processed every new row" || fail "$p rows still pending"
for k in "${W[@]}"; do kill -TERM "$k" 2>/dev/null || true; done
wrc=0
for k in "${W[@]}"; do wait "$k" || wrc=$?; done
[ "$wrc" -eq 0 ] && pass "workers stopped cleanly" || fail "a worker exited $wrc"
grep -h "processed\|Rate" "$TMP"/w?.log | tail -n 2 | sed 's/^/    /' || true
expect_rc "verify passes: nothing lost or counted twice" 0 mwu "$V" verify -q
check "worker on SQLite (from scratch, initial and late rows)" run_worker "$B" "$TMP/b1.log"
check "oracle agrees with the from-scratch SQLite run" oracle "$B"
check "oracle (labs) agrees" $LABS check --db "$B"
check "PostgreSQL equals the from-scratch run" pgsync compare "$B" "$V" $RESULTS

finish
