#!/usr/bin/env bash
# The database-backed queue (ML_WORKER_SQS_QUEUE_URL=db | sqlite://... | postgresql://...)
# end to end with the real binary. On SQLite:
#  - triggers sent with `mlworker send` are consumed in sqs mode; aggregates equal the oracle;
#  - `mlworker queue depth` counts visible / in flight / delayed / dead;
#  - a worker killed with kill -9 mid-job leaves its message in flight; it is redelivered after
#    the visibility timeout and processed by the next worker;
#  - a message the worker cannot process is dead-lettered after ML_WORKER_MAX_RECEIVES (3)
#    receives; `queue dead` lists it, `queue redrive` makes it visible again;
#  - three consumers on one queue never take the same message;
#  - SIGTERM during a long poll exits 0 at once; ML_WORKER_SHUTDOWN_TIMEOUT: a job that ends
#    within it completes (message deleted), a longer one stops between batches, its trigger is
#    re-enqueued, exit 0 within the timeout;
#  - a queue in a separate SQLite file (sqlite://...#name).
# On PostgreSQL (when the server binaries are installed): three consumers, exactly once;
# LISTEN/NOTIFY wakes a long poll at once; dead-lettering.
set -euo pipefail
source "$(dirname "$0")/../oracle/itest_lib.sh"
unset ML_WORKER_SQS_QUEUE_URL ML_WORKER_BATCH_SIZE ML_WORKER_WAIT_TIME ML_WORKER_VISIBILITY_TIMEOUT \
      ML_WORKER_MAX_RECEIVES ML_WORKER_SHUTDOWN_TIMEOUT ML_WORKER_LOG_LEVEL ML_WORKER_HTTP_ADDR
export ML_WORKER_HTTP_ADDR=off

# wait_log FILE TEXT SECONDS: until TEXT appears in FILE
wait_log() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# qdepth URL [VAR=value...]: "visible in_flight delayed dead" on one line
qdepth() {
  local url=$1
  shift
  env "$@" "$MLWORKER" queue depth --queue-url "$url" | awk '{printf "%s%s", (NR > 1 ? " " : ""), $2} END {print ""}'
}
# ids_once LOG...: every "Processing message X" id appears once over all logs; prints the count
ids_once() {
  local dups
  dups=$(cat "$@" | grep -o 'Processing message [0-9a-f-]*' | sort | uniq -d | wc -l)
  [ "$dups" -eq 0 ] || { echo "$dups message(s) processed twice"; return 1; }
}

export -f qdepth ids_once
export MLWORKER

say "SQLite: triggers from mlworker send, consumed in sqs mode"
DB=$TMP/app.db
migrate "$DB"
gen --db "$DB" --users 4 --days 6 --rows 1500 --seed 41 >/dev/null
export DATABASE_URL="sqlite:///$DB" ML_WORKER_SQS_QUEUE_URL=db
for u in 1 2 3; do
  "$MLWORKER" send process-pending-vitals --user "$u" >/dev/null
  "$MLWORKER" send process-pending-nutrition --user "$u" >/dev/null
done
"$MLWORKER" send process-pending-vitals >/dev/null # no user: every user
"$MLWORKER" send process-pending-nutrition --queue-url db >/dev/null
check "queue depth: 8 visible" bash -c "[ \"\$(qdepth db)\" = '8 0 0 0' ]"
check "--json has the dead count" bash -c \
  "'$MLWORKER' queue depth --json --queue-url db | grep -qx '{\"visible\": 8, \"in_flight\": 0, \"delayed\": 0, \"dead\": 0}'"
check "the stored body is mlworker send's (the original client's JSON)" bash -c \
  "sqlite3 '$DB' \"SELECT body FROM mlw_queue_messages ORDER BY id LIMIT 1\" | grep -q '^{\"job_type\": \"process_pending_vitals\", \"user_id\": 1, \"priority\": \"normal\", \"submitted_at\": \"'"
check "attributes as SQS's JSON protocol writes them" bash -c \
  "sqlite3 '$DB' \"SELECT attributes FROM mlw_queue_messages ORDER BY id LIMIT 1\" | grep -qF '\"UserId\":{\"DataType\":\"Number\",\"StringValue\":\"1\"}'"
worker_ran_ok "$DB" "$TMP/run1.log" "worker drains the queue (batch 10)" \
  ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=1 ML_WORKER_BATCH_SIZE=10
check "8 messages received from the database queue and deleted" bash -c \
  "grep -q 'Received 8 message(s) from database queue' '$TMP/run1.log' && [ \$(grep -c 'Message deleted from queue' '$TMP/run1.log') -eq 8 ]"
check "queue empty" bash -c "[ \"\$(qdepth db)\" = '0 0 0 0' ]"
check "no pending rows left" bash -c \
  "[ \"\$(sqlite3 '$DB' \"SELECT (SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='pending') + (SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status='pending')\")\" = 0 ]"
check "oracle: aggregates equal" oracle "$DB"

say "kill -9 mid-job: the message stays in flight, then is redelivered after the visibility timeout"
gen --db "$DB" --users 1 --days 30 --rows 6000 --seed 42 --start-date 2025-03-01 >/dev/null
"$MLWORKER" send process-pending-vitals --user 1 >/dev/null
env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=1 ML_WORKER_VISIBILITY_TIMEOUT=2 \
    ML_WORKER_AGGREGATION_BATCH_SIZE=1 "$MLWORKER" run >"$TMP/kill.log" 2>&1 &
KPID=$!
BG_PIDS+=("$KPID")
wait_log "$TMP/kill.log" "Processing pending vitals for user 1" 10 || true
sleep 0.3
kill -9 "$KPID" 2>/dev/null || true
wait "$KPID" 2>/dev/null || true
check "after kill -9: 1 in flight" bash -c "[ \"\$(qdepth db)\" = '0 1 0 0' ]"
"$MLWORKER" send process-pending-nutrition --user 1 >/dev/null
worker_ran_ok "$DB" "$TMP/redeliver.log" "the next worker gets it once the visibility timeout passes" \
  ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=3
check "redelivered, processed, deleted" bash -c \
  "grep -q 'Received 1 message(s) from database queue' '$TMP/redeliver.log' && grep -q 'Processing pending vitals for user 1' '$TMP/redeliver.log' && grep -q 'Message deleted' '$TMP/redeliver.log' && [ \"\$(qdepth db)\" = '0 0 0 0' ]"
check "every row processed once; oracle equal" oracle "$DB"

say "a message that cannot be processed is dead-lettered after 3 receives"
# A producer's job type this worker does not know (bodies are free-form JSON to the queue).
"$PY" - "$DB" <<'PY'
import hashlib, sqlite3, sys, time, uuid
body = '{"job_type": "frobnicate", "user_id": 1}'
now = int(time.time() * 1000)
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO mlw_queue_messages (queue_name, message_id, body, attributes, md5_of_body,"
          " md5_of_attributes, status, receive_count, sent_at, visible_at)"
          " VALUES ('default', ?, ?, '{}', ?, '', 'queued', 0, ?, ?)",
          (str(uuid.uuid4()), body, hashlib.md5(body.encode()).hexdigest(), now, now))
c.commit()
PY
worker_ran_ok "$DB" "$TMP/dlq.log" "worker runs until the queue is empty" \
  ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=2 ML_WORKER_VISIBILITY_TIMEOUT=1
check "received 3 times (receive count 1, 2, 3 logged), then dead-lettered" bash -c \
  "grep -q 'receive count 1' '$TMP/dlq.log' && grep -q 'receive count 3' '$TMP/dlq.log' && ! grep -q 'receive count 4' '$TMP/dlq.log' && grep -q 'dead-lettered after 3 receives' '$TMP/dlq.log'"
check "depth: 1 dead" bash -c "[ \"\$(qdepth db)\" = '0 0 0 1' ]"
check "queue dead lists it with its body" bash -c \
  "'$MLWORKER' queue dead --queue-url db | grep -qF ' 3 {\"job_type\": \"frobnicate\", \"user_id\": 1}'"
check "queue redrive" bash -c "'$MLWORKER' queue redrive --queue-url db | grep -q '^1 message(s) redriven'"
check "visible again" bash -c "[ \"\$(qdepth db)\" = '1 0 0 0' ]"
sqlite3 "$DB" "DELETE FROM mlw_queue_messages"

say "three consumers on one queue never take the same message"
# share_test PREFIX: start three long-polling consumers (batch 1, 10, 10), send 60 triggers
# while they wait, wait for the queue to empty, stop them; then check the logs.
share_test() {
  local p=$1 w i pids=()
  for w in 1 2 3; do
    env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=5 ML_WORKER_BATCH_SIZE=$((w == 1 ? 1 : 10)) \
        ML_WORKER_VISIBILITY_TIMEOUT=120 "$MLWORKER" run >"$TMP/$p$w.log" 2>&1 &
    pids+=("$!")
    BG_PIDS+=("$!")
  done
  for w in 1 2 3; do wait_log "$TMP/$p$w.log" "polling for messages" 20 || true; done
  seq 1 60 | xargs -P 4 -I{} "$MLWORKER" send process-pending-labs --user {} >/dev/null
  for ((i = 0; i < 200; i++)); do
    [ "$(qdepth db)" = "0 0 0 0" ] && break
    sleep 0.1
  done
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" || true
  check "each message processed by exactly one consumer" ids_once "$TMP/${p}1.log" "$TMP/${p}2.log" "$TMP/${p}3.log"
  check "all 60 processed and deleted, queue empty" bash -c \
    "[ \$(cat '$TMP/${p}1.log' '$TMP/${p}2.log' '$TMP/${p}3.log' | grep -o 'Processing message [0-9a-f-]*' | sort -u | wc -l) -eq 60 ] && [ \$(cat '$TMP/${p}'?.log | grep -c 'Message deleted') -eq 60 ] && [ \"\$(qdepth db)\" = '0 0 0 0' ]"
  echo "    per consumer: $(for w in 1 2 3; do grep -c 'Processing message' "$TMP/$p$w.log" || true; done | tr '\n' ' ')"
}
share_test c

say "SIGTERM during a long poll"
HPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=20 ML_WORKER_HTTP_ADDR=127.0.0.1:$HPORT \
    "$MLWORKER" run >"$TMP/poll.log" 2>&1 &
PPID_=$!
BG_PIDS+=("$PPID_")
wait_log "$TMP/poll.log" "polling for messages" 10 || true
READY=""
for ((i = 0; i < 40; i++)); do
  READY=$(curl -s "http://127.0.0.1:$HPORT/readyz" || true)
  grep -q '"queue"' <<<"$READY" && grep -q 'queue table:' <<<"$READY" && break
  sleep 0.1
done
check "/readyz samples the database queue's depth" bash -c "grep -q 'queue table: 0 visible' <<<'$READY' && curl -sf http://127.0.0.1:$HPORT/readyz >/dev/null"
sleep 0.2
T0=$EPOCHREALTIME
kill -TERM "$PPID_"
set +e; wait "$PPID_"; RC=$?; set -e
SECS=$(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $T0 }")
check "exit 0 ${SECS}s after SIGTERM (limit 1 s)" bash -c "[ $RC -eq 0 ] && awk 'BEGIN { exit !($SECS < 1.0) }'"

say "SQLite: a send by another process ends a long poll at once (inotify on the WAL)"
env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=20 "$MLWORKER" run >"$TMP/wake.log" 2>&1 &
WPID=$!
BG_PIDS+=("$WPID")
wait_log "$TMP/wake.log" "polling for messages" 10 || true
sleep 1
T0=$EPOCHREALTIME
"$MLWORKER" send process-pending-labs --user 5 >/dev/null
wait_log "$TMP/wake.log" "Message deleted" 5 || true
SECS=$(awk "BEGIN { printf \"%.3f\", $EPOCHREALTIME - $T0 }")
check "received and deleted ${SECS}s after the send (limit 0.5 s)" bash -c \
  "grep -q 'Message deleted' '$TMP/wake.log' && awk 'BEGIN { exit !($SECS < 0.5) }'"
kill -TERM "$WPID"
set +e; wait "$WPID"; RC=$?; set -e
check "exit 0 on SIGTERM" test "$RC" -eq 0

say "ML_WORKER_SHUTDOWN_TIMEOUT: the job in hand may finish"
gen --db "$DB" --users 1 --days 30 --rows 3000 --seed 43 --start-date 2025-06-01 >/dev/null
"$MLWORKER" send process-pending-vitals --user 1 >/dev/null
env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=1 ML_WORKER_AGGREGATION_BATCH_SIZE=100 \
    ML_WORKER_SHUTDOWN_TIMEOUT=20 "$MLWORKER" run >"$TMP/finish.log" 2>&1 &
FPID=$!
BG_PIDS+=("$FPID")
wait_log "$TMP/finish.log" "Processing pending vitals for user 1" 10 || true
kill -TERM "$FPID"
set +e; wait "$FPID"; RC=$?; set -e
check "job finished after SIGTERM, message deleted, exit 0" bash -c \
  "[ $RC -eq 0 ] && grep -q 'Successfully processed message' '$TMP/finish.log' && grep -q 'Message deleted' '$TMP/finish.log' && [ \"\$(qdepth db)\" = '0 0 0 0' ]"

say "ML_WORKER_SHUTDOWN_TIMEOUT: a longer job stops between batches, its trigger is re-enqueued"
gen --db "$DB" --users 1 --days 30 --rows 8000 --seed 44 --start-date 2025-09-01 >/dev/null
"$MLWORKER" send process-pending-vitals --user 1 >/dev/null
env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=1 ML_WORKER_AGGREGATION_BATCH_SIZE=1 \
    ML_WORKER_SHUTDOWN_TIMEOUT=2 "$MLWORKER" run >"$TMP/cut.log" 2>&1 &
CPID=$!
BG_PIDS+=("$CPID")
wait_log "$TMP/cut.log" "Processing pending vitals for user 1" 10 || true
sleep 0.2
T0=$EPOCHREALTIME
kill -TERM "$CPID"
set +e; wait "$CPID"; RC=$?; set -e
SECS=$(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $T0 }")
check "kept working after SIGTERM, then stopped: exit 0 after ${SECS}s (timeout 2 s)" bash -c \
  "[ $RC -eq 0 ] && awk 'BEGIN { exit !($SECS >= 1.0 && $SECS < 2.0) }' && grep -q 'finishing message' '$TMP/cut.log'"
check "trigger re-enqueued: visible again, nothing in flight" bash -c \
  "grep -q 'trigger re-enqueued' '$TMP/cut.log' && [ \"\$(qdepth db)\" = '1 0 0 0' ]"
"$MLWORKER" send process-pending-nutrition --user 1 >/dev/null
worker_ran_ok "$DB" "$TMP/cut2.log" "the re-enqueued trigger completes the work" \
  ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=1 ML_WORKER_AGGREGATION_BATCH_SIZE=1000
check "oracle equal after the interrupted job" oracle "$DB"

say "a queue in its own SQLite file, named"
QURL="sqlite:///$TMP/queue.db#jobs"
check "send to sqlite://...#jobs" "$MLWORKER" send process-pending-labs --user 9 --queue-url "$QURL"
check "depth there" bash -c "[ \"\$(qdepth '$QURL')\" = '1 0 0 0' ] && [ \"\$(qdepth '${QURL%#jobs}')\" = '0 0 0 0' ]"
worker_ran_ok "$DB" "$TMP/own.log" "worker consumes it" \
  ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL="$QURL" ML_WORKER_WAIT_TIME=1
check "consumed" bash -c "[ \"\$(qdepth '$QURL')\" = '0 0 0 0' ] && grep -q 'Queue: sqlite:///.*queue.db queue jobs' '$TMP/own.log'"
check "queue url is SQS-only; dead/redrive are database-only" bash -c \
  "! '$MLWORKER' queue url x --queue-url db 2>/dev/null && ! '$MLWORKER' queue dead --queue-url https://sqs.us-east-1.amazonaws.com/1/q 2>/dev/null"

# ---- PostgreSQL ----
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  say "PostgreSQL server binaries not found: PostgreSQL part skipped"
  finish
  exit $?
fi
source "$MLW_SOURCE_DIR/tests/pg/pg_server.sh"
trap 'pg_stop; cleanup' EXIT
say "PostgreSQL: start a throwaway server"
pg_start
export DATABASE_URL=$PG_URL
check "migrate" "$MLWORKER" migrate
check "the queue migration is applied" bash -c \
  "[ \"\$(psql -X -At '$PG_URL' -c \"SELECT count(*) FROM mlw_schema_version WHERE name = 'queue'\")\" = 1 ]"

say "PostgreSQL: three consumers, FOR UPDATE SKIP LOCKED, exactly once"
share_test p

say "PostgreSQL: LISTEN/NOTIFY ends a long poll as soon as a message is sent"
env ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=20 ML_WORKER_LOG_LEVEL=debug \
    "$MLWORKER" run >"$TMP/notify.log" 2>&1 &
NPID=$!
BG_PIDS+=("$NPID")
wait_log "$TMP/notify.log" "polling for messages" 10 || true
sleep 1
T0=$EPOCHREALTIME
"$MLWORKER" send process-pending-labs --user 5 >/dev/null
wait_log "$TMP/notify.log" "Message deleted" 5 || true
SECS=$(awk "BEGIN { printf \"%.3f\", $EPOCHREALTIME - $T0 }")
check "received and deleted ${SECS}s after the send (limit 0.5 s)" bash -c \
  "grep -q 'Message deleted' '$TMP/notify.log' && awk 'BEGIN { exit !($SECS < 0.5) }'"
kill -TERM "$NPID"
set +e; wait "$NPID"; RC=$?; set -e
check "exit 0 on SIGTERM" test "$RC" -eq 0

say "PostgreSQL: dead-lettered after 3 receives"
psql -X -q "$PG_URL" -c "INSERT INTO mlw_queue_messages (queue_name, message_id, body, md5_of_body, sent_at, visible_at)
  VALUES ('default', 'poison-1', '{\"job_type\": \"frobnicate\"}', md5('{\"job_type\": \"frobnicate\"}'), 0, 0)"
check "worker runs until the queue is empty" bash -c \
  "ML_WORKER_MODE=sqs ML_WORKER_SQS_QUEUE_URL=db ML_WORKER_WAIT_TIME=2 ML_WORKER_VISIBILITY_TIMEOUT=1 ML_WORKER_EXIT_WHEN_IDLE=1 timeout 60 '$MLWORKER' run >'$TMP/pdlq.log' 2>&1"
check "3 receives, then dead" bash -c \
  "grep -q 'receive count 3' '$TMP/pdlq.log' && grep -q 'dead-lettered after 3 receives' '$TMP/pdlq.log' && [ \"\$(qdepth db)\" = '0 0 0 1' ]"

finish
