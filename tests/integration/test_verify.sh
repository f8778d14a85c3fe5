#!/usr/bin/env bash
# mlworker verify on a large SQLite database (~100 000 raw rows, 40 users, 90 days):
#  - passes (exit 0) on the worker's result; throughput printed;
#  - one value corrupted in one aggregate bucket via SQL: exit 1, exactly one difference,
#    naming that table, bucket key and column, with the expected (original) and stored values;
#  - one bucket deleted: exactly that bucket reported missing; one extra bucket inserted:
#    exactly that bucket reported stale; a raw row's status changed: exactly that row;
#  - each undone: exit 0 again;
#  - status: the counts equal SQL counts per domain and state, --json parses and agrees (also
#    with quotes and backslashes in the database path).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"
SEED=${MLW_TEST_SEED:-4711}
ROWS=${MLW_VERIFY_ROWS:-100000}
A=$TMP/big.db
mw() { env DATABASE_URL="sqlite:///$A" "$MLWORKER" "$@"; }
sql() { "$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print('\n'.join('|'.join('' if v is None else str(v) for v in x) for x in r))" "$A" "$1"; }
# verify_expect DESC WANT_RC TABLE KIND KEY [COLUMN EXPECTED STORED]: verify exits WANT_RC and
# reports exactly one difference: that one
verify_expect() {
  local desc=$1 want=$2 rc; shift 2
  set +e; mw verify -q --limit 50 ${VERIFY_ARGS:-} >"$TMP/out" 2>&1; rc=$?; set -e
  sed 's/^/    /' "$TMP/out" | tail -n 8
  if [ "$rc" -ne "$want" ]; then fail "$desc (exit $rc, want $want)"; return 0; fi
  check "$desc" "$PY" - "$TMP/out" "$@" <<'EOF'
import re, sys
out = open(sys.argv[1]).read().splitlines()
table, kind, key = sys.argv[2:5]
rows = [l for l in out if re.match(r"^[a-z_]+ +(mismatch|stale|missing) ", l)]
if len(rows) != 1:
    sys.exit("want exactly one difference line, got %d" % len(rows))
line = rows[0]
if not line.startswith(table + " ") or (" %s " % kind) not in line or (" %s " % key) not in line + " ":
    sys.exit("want %s %s %s, got: %s" % (table, kind, key, line))
if len(sys.argv) > 5:
    col, exp, sto = sys.argv[5:8]
    rest = line.split(key, 1)[1].split()
    if rest[0] != col:
        sys.exit("want column %s, got %s" % (col, rest[0]))
    for want, got in ((exp, rest[1]), (sto, rest[2])):
        try:
            same = abs(float(want) - float(got)) <= 1e-9 * max(1.0, abs(float(want)))
        except ValueError:
            same = want == got
        if not same:
            sys.exit("want %s expected %s stored %s, got %s" % (col, exp, sto, rest[1:]))
if not any(re.match(r"^1 difference\(s\)", l) for l in out):
    sys.exit("the summary does not say 1 difference")
print("named:", line)
EOF
}

say "a processed database with about $ROWS raw rows"
migrate "$A"
t0=$EPOCHREALTIME
gen --db "$A" --users 40 --days 90 --rows "$ROWS" --seed "$SEED" >/dev/null
echo "    generated in $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s"
worker_ran_ok "$A" "$TMP/run.log" "worker run"
N=$(sql "SELECT (SELECT count(*) FROM vitals_raw_data) + (SELECT count(*) FROM nutrition_raw_data)")
t0=$EPOCHREALTIME
set +e; mw verify -q >"$TMP/out" 2>&1; rc=$?; set -e
t1=$EPOCHREALTIME
sed 's/^/    /' "$TMP/out"
if [ "$rc" -eq 0 ] && grep -q "pair(s), $N raw rows" "$TMP/out"; then
  pass "verify passes on the correct database: $N raw rows in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s wall"
else
  fail "verify on the correct database (exit $rc, $N raw rows)"
fi

say "one value corrupted in one bucket"
IFS='|' read -r WID WU WM WD WAVG <<<"$(sql "SELECT id, user_id, metric_type, week_start_date, average_value FROM vitals_weekly_aggregates WHERE average_value IS NOT NULL ORDER BY id LIMIT 1 OFFSET 777")"
sql "UPDATE vitals_weekly_aggregates SET average_value=average_value+0.5 WHERE id=$WID" >/dev/null
STORED=$(sql "SELECT average_value FROM vitals_weekly_aggregates WHERE id=$WID")
verify_expect "verify names the bucket, the column, expected and stored" 1 \
  vitals_weekly_aggregates mismatch "user_id=$WU week_start_date=$WD metric_type=$WM" \
  average_value "$WAVG" "$STORED"
VERIFY_ARGS="--from $WD --to $WD --user $WU" verify_expect "the same with a one-day range and the user" 1 \
  vitals_weekly_aggregates mismatch "user_id=$WU week_start_date=$WD metric_type=$WM" \
  average_value "$WAVG" "$STORED"
sql "UPDATE vitals_weekly_aggregates SET average_value=$WAVG WHERE id=$WID" >/dev/null
IFS='|' read -r NID NU ND NP <<<"$(sql "SELECT id, user_id, date, total_protein_g FROM nutrition_daily_aggregates ORDER BY id LIMIT 1 OFFSET 333")"
sql "UPDATE nutrition_daily_aggregates SET total_protein_g=total_protein_g*(1+1e-6) WHERE id=$NID" >/dev/null
STORED=$(sql "SELECT total_protein_g FROM nutrition_daily_aggregates WHERE id=$NID")
verify_expect "a change of one part in a million is found (tolerance 1e-9)" 1 \
  nutrition_daily_aggregates mismatch "user_id=$NU date=$ND" total_protein_g "$NP" "$STORED"
sql "UPDATE nutrition_daily_aggregates SET total_protein_g=$NP WHERE id=$NID" >/dev/null
verify_expect_pass() {
  local rc
  set +e; mw verify -q >"$TMP/out" 2>&1; rc=$?; set -e
  if [ "$rc" -eq 0 ]; then pass "$1"; else fail "$1 (exit $rc)"; sed 's/^/    /' "$TMP/out" | tail -n 8; fi
}
verify_expect_pass "undone: verify passes"

say "a deleted bucket, an extra bucket, a raw row's status"
sql "CREATE TABLE saved AS SELECT * FROM vitals_monthly_aggregates WHERE id=(SELECT id FROM vitals_monthly_aggregates ORDER BY id LIMIT 1 OFFSET 99)" >/dev/null
IFS='|' read -r MU MY MM MT <<<"$(sql "SELECT user_id, year, month, metric_type FROM saved")"
sql "DELETE FROM vitals_monthly_aggregates WHERE id=(SELECT id FROM saved)" >/dev/null
verify_expect "a deleted bucket is named missing" 1 vitals_monthly_aggregates missing \
  "user_id=$MU year=$MY month=$MM metric_type=$MT"
sql "INSERT INTO vitals_monthly_aggregates SELECT * FROM saved" >/dev/null
sql "INSERT INTO nutrition_daily_aggregates (user_id, date, total_calories, meal_count) VALUES (7, '2026-12-31', 500, 1)" >/dev/null
verify_expect "an extra bucket is named stale" 1 nutrition_daily_aggregates stale "user_id=7 date=2026-12-31"
sql "DELETE FROM nutrition_daily_aggregates WHERE user_id=7 AND date='2026-12-31'" >/dev/null
RID=$(sql "SELECT id FROM nutrition_raw_data WHERE aggregation_status='completed' ORDER BY id LIMIT 1 OFFSET 4242")
sql "UPDATE nutrition_raw_data SET failure_reason='stale-reason' WHERE id=$RID" >/dev/null
verify_expect "a raw row's failure reason is named" 1 nutrition_raw_data mismatch "id=$RID" \
  failure_reason NULL stale-reason
sql "UPDATE nutrition_raw_data SET failure_reason=NULL WHERE id=$RID" >/dev/null
verify_expect_pass "all undone: verify passes (exit 0)"

say "status"
gen --db "$A" --users 5 --days 10 --rows 500 --seed $((SEED + 1)) --late >/dev/null
sql "UPDATE vitals_raw_data SET aggregation_status='failed', failure_reason='x' WHERE id IN (SELECT id FROM vitals_raw_data WHERE aggregation_status='categorized' ORDER BY id LIMIT 3)" >/dev/null
sql "UPDATE nutrition_raw_data SET aggregation_status='processing' WHERE id IN (SELECT id FROM nutrition_raw_data WHERE aggregation_status='completed' ORDER BY id LIMIT 2)" >/dev/null
mw status >"$TMP/status.txt" 2>&1 || fail "status exit $?"
mw status --json >"$TMP/status.json" 2>&1 || fail "status --json exit $?"
sed 's/^/    /' "$TMP/status.txt"
check "status and status --json equal SQL counts" "$PY" - "$A" "$TMP/status.txt" "$TMP/status.json" <<'EOF'
import json, re, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
text = open(sys.argv[2]).read()
js = json.load(open(sys.argv[3]))
bad = 0
for dom, table, col in (("vitals", "vitals_raw_data", "aggregation_status"),
                        ("nutrition", "nutrition_raw_data", "aggregation_status"),
                        ("labs", "lab_reports", "categorization_status")):
    want = list(c.execute(
        "SELECT sum(%s IN ('pending','queued')), sum(%s='processing'), sum(%s IN ('failed','insufficient')),"
        " sum(%s NOT IN ('pending','queued','processing','failed','insufficient')) FROM %s"
        % (col, col, col, col, table)).fetchone())
    want = [w or 0 for w in want]
    m = re.search(r"^%s +(\d+) +(\d+) +(\d+) +(\d+) " % dom, text, re.M)
    got = [int(x) for x in m.groups()] if m else None
    j = js["domains"][dom]
    gotj = [j["pending"], j["processing"], j["failed"], j["completed"]]
    print(dom, "SQL", want, "status", got, "json", gotj)
    bad += got != want or gotj != want
v = js["domains"]["vitals"]
if not (v["pending"] > 0 and v["oldest_pending_age_s"] is not None and v["oldest_pending_age_s"] >= 0):
    print("vitals pending/age:", v); bad += 1
if js["schema_version"] != js["schema_latest"] or js["pending_migrations"] != 0 or js["queue"] is not None:
    print("schema/queue:", js); bad += 1
sys.exit(1 if bad else 0)
EOF
W="$TMP/we\"ird\\dir"
mkdir -p "$W"
migrate "$W/x.db"
check "status --json escapes the database path" "$PY" -c "
import json, subprocess, sys
out = subprocess.run([sys.argv[1], 'status', '--json'], env={'DATABASE_URL': 'sqlite:///' + sys.argv[2]},
                     capture_output=True, text=True, check=True).stdout
assert json.loads(out)['database'] == 'sqlite:///' + sys.argv[2], out" "$MLWORKER" "$W/x.db"

finish
