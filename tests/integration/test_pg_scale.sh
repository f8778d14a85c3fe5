#!/usr/bin/env bash
# Scale-out on PostgreSQL: four workers in aggregation mode over 200 000 raw
# rows of 40 users, inserted in chunks while the workers run; one worker is
# killed with -9 and restarted, and the server restarts once. Checks: every
# raw row changed state exactly once (an audit trigger counts the writes),
# no deadlock or unique-violation errors, and the final aggregates equal a
# single SQLite run of the same rows (which the independent oracle checks).
set -euo pipefail
source "$(dirname "$0")/../oracle/itest_lib.sh"
source "$MLW_SOURCE_DIR/tests/pg/pg_server.sh"
SYS_PY=/usr/bin/python3
"$SYS_PY" -c 'import psycopg2' 2>/dev/null || { echo "psycopg2 missing for $SYS_PY"; exit 1; }
trap 'pg_stop; cleanup' EXIT
ROWS=${MLW_SCALE_ROWS:-200000}

say "generate $ROWS rows (SQLite template)"
A=$TMP/a.db
migrate "$A"
gen --db "$A" --users 40 --days 60 --rows "$ROWS" --seed 11
cp "$A" "$TMP/a0.db"

say "start PostgreSQL, schema, audit trigger"
pg_start
U=$PG_URL
env DATABASE_URL="$U" "$MLWORKER" migrate >/dev/null
psql -X -q "$U" >/dev/null <<'SQL'
CREATE TABLE audit_transitions (tbl TEXT, raw_id INTEGER, status TEXT);
CREATE FUNCTION audit_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.aggregation_status = 'pending' AND NEW.aggregation_status <> 'pending' THEN
    INSERT INTO audit_transitions VALUES (TG_TABLE_NAME, NEW.id, NEW.aggregation_status);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER UPDATE OF aggregation_status ON vitals_raw_data
  FOR EACH ROW EXECUTE FUNCTION audit_transition();
CREATE TRIGGER audit AFTER UPDATE OF aggregation_status ON nutrition_raw_data
  FOR EACH ROW EXECUTE FUNCTION audit_transition();
SQL

start_worker() { # start_worker N
  env DATABASE_URL="$U" ML_WORKER_POLL_INTERVAL=0.2 ML_WORKER_AGGREGATION_BATCH_SIZE=$((900 + $1 * 97)) \
    "$MLWORKER" run >>"$TMP/w$1.log" 2>&1 &
  WPID[$1]=$!
  BG_PIDS+=($!)
}
declare -a WPID
say "four workers; rows arrive in 8 chunks while they run"
for w in 1 2 3 4; do start_worker $w; done
for chunk in 0 1 2 3 4 5 6 7; do
  "$SYS_PY" "$MLW_SOURCE_DIR/tests/pg/dbsync.py" copy-part "$TMP/a0.db" "$U" "$chunk" 8 >/dev/null
  if [ $chunk -eq 3 ]; then
    kill -9 "${WPID[2]}" 2>/dev/null || true
    echo "    killed worker 2 with -9; restarting it"
    start_worker 2
  fi
  if [ $chunk -eq 5 ]; then
    echo "    restarting PostgreSQL"
    pg_restart
  fi
  sleep 0.3
done
pending() {
  psql -X -At "$U" -c "SELECT (SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='pending') + (SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status='pending')" 2>/dev/null || echo x
}
alive() { # any worker still running (all crashed: stop waiting for the drain)
  local w
  for w in 1 2 3 4; do kill -0 "${WPID[$w]}" 2>/dev/null && return 0; done
  return 1
}
t0=$SECONDS
while [ "$(pending)" != 0 ] && [ $((SECONDS - t0)) -lt 400 ] && alive; do sleep 0.5; done
echo "    drained $((SECONDS - t0)) s after the last chunk"
rc=0
for w in 1 2 3 4; do kill -TERM "${WPID[$w]}" 2>/dev/null || true; done
for w in 1 2 3 4; do
  wrc=0; wait "${WPID[$w]}" || wrc=$?
  if [ $wrc -ne 0 ]; then echo "    worker $w exited $wrc"; rc=1; fi
done
if [ $rc -eq 0 ]; then pass "all workers stopped with 0"; else fail "a worker exited non-zero"; for f in "$TMP"/w*.log; do echo "    $f:"; grep -E "ERROR|WARN|Fatal|fatal" "$f" | tail -5; tail -3 "$f"; done; fi

check "nothing left pending or processing" bash -c "[ \"\$(psql -X -At '$U' -c \"SELECT count(*) FROM vitals_raw_data WHERE aggregation_status IN ('pending','processing')\")\" = 0 ]"
check "every raw row changed state exactly once (audited writes)" bash -c "[ \"\$(psql -X -At '$U' -c \"
  SELECT (SELECT count(*) FROM (SELECT tbl, raw_id FROM audit_transitions GROUP BY 1, 2 HAVING count(*) <> 1) d)
       + abs((SELECT count(*) FROM audit_transitions) - (SELECT count(*) FROM vitals_raw_data) - (SELECT count(*) FROM nutrition_raw_data))\")\" = 0 ]"
if grep -qiE "deadlock|duplicate key|unique constraint" "$TMP"/w*.log; then
  fail "deadlock or unique-violation errors in the worker logs"; grep -iE "deadlock|duplicate key" "$TMP"/w*.log | head -5
else
  pass "no deadlock or unique-violation errors"
fi
cp "$TMP/a0.db" "$A"   # minus rows PostgreSQL refused as duplicates
check "single SQLite run of the same rows" run_worker "$A" "$TMP/sqlite.log" ML_WORKER_AGGREGATION_BATCH_SIZE=1000
check "oracle on the SQLite run" oracle "$A"
check "PostgreSQL (4 workers, chaos) identical to the single SQLite run" \
  "$SYS_PY" "$MLW_SOURCE_DIR/tests/pg/dbsync.py" compare "$A" "$U"
finish
