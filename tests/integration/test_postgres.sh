#!/usr/bin/env bash
# PostgreSQL store: a real PostgreSQL 15 on 127.0.0.1 in a temporary data
# directory (as the postgres user when run as root). Checks:
#  - migrate is idempotent on PostgreSQL and adopts tables created by the original app;
#  - the same raw rows give bit-identical results on SQLite and PostgreSQL;
#  - four concurrent workers with small batches: every row exactly once;
#  - kill -9 of workers mid-batch, then completion: no loss, no double count;
#  - the server restarts while a worker runs: it reconnects and finishes.
set -euo pipefail
source "$(dirname "$0")/../oracle/itest_lib.sh"
source "$MLW_SOURCE_DIR/tests/pg/pg_server.sh"
SYS_PY=/usr/bin/python3
"$SYS_PY" -c 'import psycopg2' 2>/dev/null || { echo "psycopg2 missing for $SYS_PY (apt install python3-psycopg2)"; exit 1; }
trap 'pg_stop; cleanup' EXIT

say "start PostgreSQL"
pg_start
echo "    $PG_URL (server $("$PG_BIN/postgres" --version))"
pgsync() { "$SYS_PY" "$MLW_SOURCE_DIR/tests/pg/dbsync.py" "$@"; }
newdb() { psql -X -q "postgresql://mlw@127.0.0.1:$PG_PORT/postgres" -c "CREATE DATABASE $1" >/dev/null; echo "postgresql://mlw@127.0.0.1:$PG_PORT/$1"; }
pg_run() { # pg_run URL LOG [VAR=value...]
  local url=$1 log=$2; shift 2
  env DATABASE_URL="$url" ML_WORKER_EXIT_WHEN_IDLE=1 "$@" timeout 300 "$MLWORKER" run >"$log" 2>&1
}

say "migrate twice, then --check"
U1=$(newdb one)
check "migrate (fresh)" env DATABASE_URL="$U1" "$MLWORKER" migrate
check "migrate again (no changes)" bash -c "DATABASE_URL='$U1' '$MLWORKER' migrate | grep -q '0 migrations applied'"
check "migrate --check says up to date" env DATABASE_URL="$U1" "$MLWORKER" migrate --check

say "adopt a database created by the original application"
U0=$(newdb legacy)
psql -X -q "$U0" >/dev/null <<'SQL'
CREATE TABLE vitals_raw_data (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, metric_type VARCHAR NOT NULL,
  value DOUBLE PRECISION NOT NULL, unit VARCHAR NOT NULL, start_date TIMESTAMP NOT NULL, end_date TIMESTAMP NOT NULL,
  data_source VARCHAR NOT NULL, source_device VARCHAR, notes TEXT, confidence_score DOUBLE PRECISION,
  aggregation_status VARCHAR(20) NOT NULL DEFAULT 'completed', aggregated_at TIMESTAMP,
  created_at TIMESTAMP DEFAULT now(), updated_at TIMESTAMP DEFAULT now());
INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date, data_source, aggregation_status)
  VALUES (7, 'Heart Rate', 61, 'bpm', '2026-01-05 08:00:00', '2026-01-05 08:00:00', 'manual_entry', 'pending');
SQL
psql -X -q "$U0" >/dev/null <<'SQL'
CREATE TABLE vitals_raw_categorized (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, metric_type VARCHAR NOT NULL,
  value DOUBLE PRECISION NOT NULL, unit VARCHAR NOT NULL, start_date TIMESTAMP NOT NULL, end_date TIMESTAMP NOT NULL,
  data_source VARCHAR NOT NULL, source_device VARCHAR, notes TEXT, confidence_score DOUBLE PRECISION,
  loinc_code VARCHAR(20), aggregation_status VARCHAR(20) NOT NULL DEFAULT 'pending', aggregated_at TIMESTAMP,
  created_at TIMESTAMP DEFAULT now(), updated_at TIMESTAMP DEFAULT now());
CREATE TABLE vitals_hourly_aggregates (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, metric_type VARCHAR NOT NULL,
  loinc_code VARCHAR(20), hour_start TIMESTAMP NOT NULL, total_value DOUBLE PRECISION, average_value DOUBLE PRECISION,
  min_value DOUBLE PRECISION, max_value DOUBLE PRECISION, count INTEGER DEFAULT 0, duration_minutes DOUBLE PRECISION,
  unit VARCHAR NOT NULL, primary_source VARCHAR, sources_included VARCHAR, notes TEXT,
  created_at TIMESTAMP DEFAULT now(), updated_at TIMESTAMP DEFAULT now());
-- the original's state: a processed sample copied twice (NULL notes), and a duplicated hourly row
INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date, data_source, aggregation_status)
  VALUES (7, 'Heart Rate', 75, 'bpm', '2026-01-05 08:30:00', '2026-01-05 08:30:00', 'manual_entry', 'categorized');
INSERT INTO vitals_raw_categorized (user_id, metric_type, value, unit, start_date, end_date, data_source)
  VALUES (7, 'Heart Rate', 75, 'bpm', '2026-01-05 08:30:00', '2026-01-05 08:30:00', 'manual_entry'),
         (7, 'Heart Rate', 75, 'bpm', '2026-01-05 08:30:00', '2026-01-05 08:30:00', 'manual_entry');
INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start, average_value, count, unit)
  VALUES (7, 'Heart Rate', '2026-01-05 08:00:00', 75, 2, 'bpm'), (7, 'Heart Rate', '2026-01-05 08:00:00', 75, 2, 'bpm');
SQL
check "migrate --check says what it would change (adopt, add columns)" bash -c \
  "DATABASE_URL='$U0' '$MLWORKER' migrate --check > '$TMP/plan.txt'; rc=\$?; cat '$TMP/plan.txt';
   [ \$rc -eq 1 ] && grep -q 'adopt existing table vitals_raw_data' '$TMP/plan.txt' &&
   grep -q 'add column vitals_raw_data.failure_reason' '$TMP/plan.txt' &&
   grep -q 'create table vitals_daily_aggregates' '$TMP/plan.txt'"
check "migrate adopts the existing tables" env DATABASE_URL="$U0" "$MLWORKER" migrate
check "the double copy was reduced to one, linked to its raw row" bash -c \
  "[ \"\$(psql -X -At '$U0' -c \"SELECT count(*), count(raw_id) FROM vitals_raw_categorized\")\" = '1|1' ]"
check "failure_reason column added, data kept" bash -c \
  "[ \"\$(psql -X -At '$U0' -c \"SELECT count(*) FROM vitals_raw_data WHERE failure_reason IS NULL\")\" = 2 ]"

psql -X -q "$U0" -c "INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date, data_source) VALUES (7, 'Heart Rate', 68, 'bpm', '2026-01-05 09:00:00', '2026-01-05 09:00:00', 'manual_entry')" >/dev/null
check "a row inserted without a status is pending (the original's 'completed' default replaced)" bash -c \
  "[ \"\$(psql -X -At '$U0' -c \"SELECT aggregation_status FROM vitals_raw_data WHERE start_date = '2026-01-05 09:00:00'\")\" = pending ]"
check "the adopted row is processed" pg_run "$U0" "$TMP/legacy.log"
check "one hourly row, both samples counted once (61 and 75 bpm)" bash -c \
  "[ \"\$(psql -X -At '$U0' -c \"SELECT count, average_value FROM vitals_hourly_aggregates WHERE user_id=7 AND hour_start='2026-01-05 08:00:00'\")\" = '2|68' ]"

say "same input, SQLite and PostgreSQL"
A=$TMP/a.db
migrate "$A"
gen --db "$A" --users 5 --days 40 --rows 12000 --seed 7 >/dev/null
A0=$TMP/a0.db   # the raw rows before any processing, copied into each PostgreSQL database
cp "$A" "$A0"
UA=$(newdb same)
env DATABASE_URL="$UA" "$MLWORKER" migrate >/dev/null
check "copy raw rows to PostgreSQL" pgsync copy "$A0" "$UA"
cp "$A0" "$A"   # minus rows PostgreSQL refused as duplicates
check "worker on SQLite" run_worker "$A" "$TMP/a.log"
check "worker on PostgreSQL" pg_run "$UA" "$TMP/ua.log"
check "oracle on SQLite" oracle "$A"
check "PostgreSQL results identical to SQLite" pgsync compare "$A" "$UA"

say "four concurrent workers, small batches, then kill -9 and finish"
UC=$(newdb conc)
env DATABASE_URL="$UC" "$MLWORKER" migrate >/dev/null
pgsync copy "$A0" "$UC" >/dev/null
pids=()
for w in 1 2 3 4; do
  env DATABASE_URL="$UC" ML_WORKER_EXIT_WHEN_IDLE=1 ML_WORKER_AGGREGATION_BATCH_SIZE=$((20 + w * 7)) \
    "$MLWORKER" run >"$TMP/conc$w.log" 2>&1 &
  pids+=($!)
  BG_PIDS+=($!)
done
sleep 0.4
kill -9 "${pids[0]}" 2>/dev/null || true   # one dies mid-batch
rc=0
for p in "${pids[@]:1}"; do wait "$p" || rc=1; done
wait "${pids[0]}" 2>/dev/null || true
if [ $rc -eq 0 ]; then pass "surviving workers exited 0"; else fail "a worker failed"; tail -n 5 "$TMP"/conc*.log; fi
check "final run completes what is left" pg_run "$UC" "$TMP/conc-final.log"
check "nothing left pending" bash -c \
  "[ \"\$(psql -X -At '$UC' -c \"SELECT count(*) FROM vitals_raw_data WHERE aggregation_status IN ('pending','processing')\")\" = 0 ]"
check "concurrent result identical to SQLite (every row exactly once)" pgsync compare "$A" "$UC"

say "the server restarts while a worker runs"
UR=$(newdb restart)
env DATABASE_URL="$UR" "$MLWORKER" migrate >/dev/null
pgsync copy "$A0" "$UR" >/dev/null
env DATABASE_URL="$UR" ML_WORKER_AGGREGATION_BATCH_SIZE=25 ML_WORKER_POLL_INTERVAL=0.2 \
  "$MLWORKER" run >"$TMP/restart.log" 2>&1 &
wpid=$!
BG_PIDS+=($wpid)
sleep 0.5
pg_restart
for _ in $(seq 1 150); do
  left=$(psql -X -At "$UR" -c "SELECT (SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='pending') + (SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status='pending')" 2>/dev/null || echo x)
  [ "$left" = 0 ] && break
  sleep 0.2
done
kill -TERM "$wpid" 2>/dev/null || true
wrc=0; wait "$wpid" || wrc=$?
if [ $wrc -eq 0 ]; then pass "worker survived the restart and stopped with 0"; else fail "worker exit $wrc after restart"; tail -20 "$TMP/restart.log"; fi
if grep -qE "retrying|batch failed" "$TMP/restart.log"; then pass "the lost connection was logged and the batch retried"
else pass "the restart fell between batches (nothing to retry)"; fi
check "results after the restart identical to SQLite" pgsync compare "$A" "$UR"

say "hostile input on PostgreSQL (NaN is storable here, unlike SQLite)"
UB=$(newdb hostile)
env DATABASE_URL="$UB" "$MLWORKER" migrate >/dev/null
# names and sources may hold up to 1024 characters (docs/operations.md, Limits)
long=$(python3 -c "print('x' * 1024)")
toolong=$(python3 -c "print('x' * 10000)")
psql -X -q "$UB" >/dev/null <<SQL
INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date, data_source, notes, aggregation_status) VALUES
 (1, 'Heart Rate', 'NaN', 'bpm', '2026-02-02 10:00:00', '2026-02-02 10:00:00', 'manual_entry', 'bad:nan', 'pending'),
 (1, 'Heart Rate', 'Infinity', 'bpm', '2026-02-02 10:01:00', '2026-02-02 10:01:00', 'manual_entry', 'bad:inf', 'pending'),
 (1, 'Weight', 70, 'stone', '2026-02-02 10:02:00', '2026-02-02 10:02:00', 'manual_entry', 'bad:unit', 'pending'),
 (1, 'Heart Rate', 400, 'bpm', '2026-02-02 10:03:00', '2026-02-02 10:03:00', 'manual_entry', 'bad:range', 'pending'),
 (1, 'Heart Rate', 70, 'bpm', '9999-12-31 10:00:00', '9999-12-31 10:00:00', 'manual_entry', 'bad:year-end', 'pending'),
 (1, 'Heart Rate', 71, 'bpm', '0001-01-01 10:00:00', '0001-01-01 10:00:00', 'manual_entry', 'good:year-1', 'pending'),
 (1, 'Heart Rate', 72, 'bpm', '2026-02-02 11:00:00', '2026-02-02 11:00:00', '$long', 'good:long-source', 'pending'),
 (1, 'Heart Rate', 74, 'bpm', '2026-02-02 13:00:00', '2026-02-02 13:00:00', '$toolong', 'bad:too-long-source', 'pending'),
 (1, 'Heart Rate', 73, 'bpm', '2026-02-02 12:00:00', '2026-02-02 12:00:00', 'manual_entry', 'good:''; DROP TABLE vitals_raw_data; --', 'pending');
INSERT INTO nutrition_raw_data (user_id, food_item_name, meal_type, portion_size, portion_unit, calories, protein_g, meal_date, meal_time, data_source, notes, aggregation_status) VALUES
 (1, 'nan soup', 'lunch', 1, 'bowl', 'NaN', 1, '2026-02-02', '2026-02-02 12:00:00', 'manual_entry', 'bad:nan', 'pending'),
 (1, 'negative', 'lunch', 1, 'bowl', 100, -1, '2026-02-02', '2026-02-02 12:00:00', 'manual_entry', 'bad:negative', 'pending'),
 (1, '$long', ' Dinner ', 1, 'plate', 500, NULL, '2026-02-02', '2026-02-02 19:00:00', 'manual_entry', 'good:long-name-null-protein', 'pending'),
 (1, 'soup', 'lunch', 1, 'plate', 300, 1, '2026-02-02', '2026-02-02 13:00:00', '$toolong', 'bad:too-long-source', 'pending');
SQL
check "worker on hostile rows" pg_run "$UB" "$TMP/hostile.log"
offenders=$(psql -X -At "$UB" -c "
  SELECT left(notes, 40), aggregation_status, left(coalesce(failure_reason, ''), 80)
    FROM (SELECT notes, aggregation_status, failure_reason FROM vitals_raw_data
          UNION ALL SELECT notes, aggregation_status, failure_reason FROM nutrition_raw_data) t
   WHERE (notes LIKE 'bad:%' AND (aggregation_status <> 'failed' OR coalesce(failure_reason, '') = ''))
      OR (notes LIKE 'good:%' AND aggregation_status NOT IN ('categorized', 'completed'))")
if [ -z "$offenders" ]; then pass "every bad: row failed with a reason, every good: row processed"
else fail "rows in the wrong state:"; printf '    %s\n' "$offenders"; fi
check "NaN and negative meals excluded from the day (500 kcal, 1 meal)" bash -c "[ \"\$(psql -X -At '$UB' -c \"
  SELECT total_calories, meal_count, dinner_count FROM nutrition_daily_aggregates WHERE user_id = 1\")\" = '500|1|1' ]"
check "tables intact" bash -c "[ \"\$(psql -X -At '$UB' -c \"SELECT count(*) FROM vitals_raw_data\")\" = 9 ]"

say "LISTEN/NOTIFY wakes an idle worker (poll interval 60 s)"
UN=$(newdb notify)
env DATABASE_URL="$UN" "$MLWORKER" migrate >/dev/null
PGOPTIONS="-c client_min_messages=warning" psql -X -q "$UN" -f "$MLW_SOURCE_DIR/deploy/postgres/notify_trigger.sql" >/dev/null
env DATABASE_URL="$UN" ML_WORKER_POLL_INTERVAL=60 ML_WORKER_NOTIFY_CHANNEL=mlworker \
  "$MLWORKER" run >"$TMP/notify.log" 2>&1 &
npid=$!
BG_PIDS+=($npid)
for _ in $(seq 1 50); do grep -q "No pending work" "$TMP/notify.log" && break; sleep 0.1; done
t0=$(date +%s.%N)
psql -X -q "$UN" -c "INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date, data_source, aggregation_status) VALUES (3, 'Steps', 120, 'count', '2026-03-01 09:00:00', '2026-03-01 09:10:00', 'manual_entry', 'pending')"
done_in=""
for _ in $(seq 1 100); do
  if [ "$(psql -X -At "$UN" -c "SELECT aggregation_status FROM vitals_raw_data WHERE user_id=3")" = categorized ]; then
    done_in=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)")
    break
  fi
  sleep 0.05
done
if [ -n "$done_in" ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.0 else 1)" "$done_in"; then
  pass "a new row was processed ${done_in}s after its insert"
else
  fail "the notification did not wake the worker (${done_in:-no result} s)"; tail -5 "$TMP/notify.log"
fi
kill -TERM "$npid" 2>/dev/null || true
if wait "$npid"; then pass "idle worker stopped with 0 on SIGTERM"; else fail "idle worker exit status"; fi

finish
