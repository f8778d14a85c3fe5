#!/usr/bin/env bash
# HTTP endpoints, live: /healthz /readyz /metrics of a running worker on a temporary SQLite
# database; the exposition checked by `promtool check metrics` and scraped by a real Prometheus
# server (1 s interval) whose query API must return the worker's row counts; a worker thread
# stuck in a database call (another connection holds SQLite's write lock longer than
# ML_WORKER_HEALTH_DEADLINE) turns /healthz red, and green again once it moves; address
# conflicts and malformed addresses.  Env: MLWORKER, MLW_SOURCE_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"
unset ML_WORKER_HTTP_ADDR ML_WORKER_HEALTH_DEADLINE

for tool in curl promtool prometheus; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is not installed (scripts/install-deps.sh test installs curl and prometheus)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for SECONDS CMD...: retry CMD every 0.2 s until it succeeds (0) or time runs out (1)
wait_for() {
  local end=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -le "$end" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
# is_status CODE CURL_ARGS...
is_status() {
  local want=$1
  shift
  [ "$(status_of "$@")" = "$want" ]
}
# metric NAME_WITH_LABELS FILE: the sample's value ("" if absent)
metric() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
sql() { "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$@"; }

say "temp dir $TMP"
DB=$TMP/http.db
migrate "$DB"
gen --db "$DB" --users 4 --days 4 --rows 600 --seed 7 >/dev/null
gen --db "$DB" --bad --manifest "$TMP/bad.json" >/dev/null
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

say "worker with ML_WORKER_HTTP_ADDR=127.0.0.1:$PORT"
DATABASE_URL="sqlite:///$DB" ML_WORKER_HTTP_ADDR=127.0.0.1:$PORT ML_WORKER_POLL_INTERVAL=0.3 \
  ML_WORKER_HEALTH_DEADLINE=2 "$MLWORKER" run >"$TMP/worker.log" 2>&1 &
WPID=$!
BG_PIDS+=("$WPID")
check "listens and logs its address" wait_for 10 grep -q "HTTP endpoints on $URL" "$TMP/worker.log"
pending() { [ "$(sql "$DB" "SELECT (SELECT count(*) FROM vitals_raw_data WHERE aggregation_status IN ('pending','queued')) + (SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status IN ('pending','queued'))")" = 0 ]; }
check "the backlog is processed" wait_for 30 pending

say "/healthz, /readyz"
curl -s -i --max-time 5 "$URL/healthz" >"$TMP/healthz" || true
check "/healthz 200 with the aggregation thread" \
  grep -q '"status":"ok".*"name":"aggregation"' "$TMP/healthz"
check "/healthz answers HTTP 200" grep -q '^HTTP/1.1 200' "$TMP/healthz"
check "HEAD /healthz 200" is_status 200 -I "$URL/healthz"
curl -s -i --max-time 5 "$URL/readyz" >"$TMP/readyz" || true
sed -n '$p' "$TMP/readyz" | sed 's/^/    /'
check "/readyz 200: database, schema current, no model" bash -c \
  "grep -q '^HTTP/1.1 200' '$TMP/readyz' && grep -q '\"database\":{\"ok\":true' '$TMP/readyz' &&
   grep -q '\"schema\":{\"ok\":true,\"detail\":\"schema version [0-9]* (current)' '$TMP/readyz' &&
   grep -q '\"status\":\"ready\"' '$TMP/readyz'"
check "unknown path 404" is_status 404 "$URL/nope"
hc() { DATABASE_URL="sqlite:///$DB" ML_WORKER_HTTP_ADDR=$1 timeout 10 "$MLWORKER" healthcheck "${@:2}"; }
check "mlworker healthcheck: exit 0" hc 127.0.0.1:$PORT
check "mlworker healthcheck /readyz: exit 0" hc 127.0.0.1:$PORT /readyz
check "mlworker healthcheck asks loopback for 0.0.0.0:PORT" hc 0.0.0.0:$PORT
check "mlworker healthcheck on a closed port: exit 1" bash -c "! DATABASE_URL='sqlite:///$DB' ML_WORKER_HTTP_ADDR=127.0.0.1:$(free_port) timeout 10 '$MLWORKER' healthcheck"
check "POST 405" is_status 405 -X POST "$URL/metrics"

say "/metrics"
curl -s -D "$TMP/metrics.head" --max-time 5 "$URL/metrics" >"$TMP/metrics.txt"
check "content type text/plain; version=0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' \
  "$TMP/metrics.head"
check "promtool check metrics: valid, no lint problems" bash -c \
  "out=\$(promtool check metrics <'$TMP/metrics.txt' 2>&1); rc=\$?; printf '%s' \"\$out\"; [ \$rc -eq 0 ] && [ -z \"\$out\" ]"
V_DONE=$(sql "$DB" "SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='categorized'")
V_FAIL=$(sql "$DB" "SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='failed'")
N_DONE=$(sql "$DB" "SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status='completed'")
echo "    database: vitals $V_DONE categorized / $V_FAIL failed, nutrition $N_DONE completed"
check "rows processed (vitals) = categorized rows in the database ($V_DONE)" \
  test "$(metric 'mlworker_rows_processed_total{domain="vitals"}' "$TMP/metrics.txt")" = "$V_DONE"
check "rows failed (vitals) = failed rows in the database ($V_FAIL)" \
  test "$(metric 'mlworker_rows_failed_total{domain="vitals"}' "$TMP/metrics.txt")" = "$V_FAIL"
check "rows processed (nutrition) = completed rows ($N_DONE)" \
  test "$(metric 'mlworker_rows_processed_total{domain="nutrition"}' "$TMP/metrics.txt")" = "$N_DONE"
check "batch duration histogram has samples" bash -c \
  "[ \"\$(awk '\$1 == \"mlworker_batch_duration_seconds_count{domain=\\\"vitals\\\"}\" {print \$2}' '$TMP/metrics.txt')\" -ge 1 ]"
check "process RSS between 1 MB and 200 MB" bash -c \
  "v=\$(awk '\$1 == \"process_resident_memory_bytes\" {print \$2}' '$TMP/metrics.txt'); [ \"\$v\" -gt 1000000 ] && [ \"\$v\" -lt 200000000 ]"
check "build info names version and mode" \
  grep -q '^mlworker_build_info{version="[0-9.]*",mode="aggregation"} 1$' "$TMP/metrics.txt"
check "thread healthy gauge" grep -q '^mlworker_thread_healthy{thread="aggregation"} 1$' "$TMP/metrics.txt"
check "model inference histogram registered" \
  grep -q '^mlworker_model_inference_duration_seconds_count 0$' "$TMP/metrics.txt"

say "a real Prometheus server scrapes it"
PPORT=$(free_port)
mkdir -p "$TMP/prom"
cat >"$TMP/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: mlworker
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
check "promtool check config" promtool check config "$TMP/prom/prometheus.yml"
prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
  --web.listen-address=127.0.0.1:$PPORT >"$TMP/prom/prometheus.log" 2>&1 &
PROM=$!
BG_PIDS+=("$PROM")
check "Prometheus ready" wait_for 20 curl -sf "http://127.0.0.1:$PPORT/-/ready"
# query EXPR: the first sample's value from the HTTP API ("" if none)
query() {
  curl -s --max-time 5 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
    "$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
scraped() { [ "$(query 'up{job="mlworker"}')" = 1 ]; }
check "target up{job=\"mlworker\"} = 1" wait_for 20 scraped
GOT=$(query 'mlworker_rows_processed_total{job="mlworker",domain="vitals"}')
check "query API: mlworker_rows_processed_total{domain=\"vitals\"} = $V_DONE (got '$GOT')" \
  test "$GOT" = "$V_DONE"
GOT=$(query 'sum(mlworker_thread_healthy)')
check "query API: sum(mlworker_thread_healthy) = 1 (got '$GOT')" test "$GOT" = 1

say "a thread stuck in a database call turns /healthz red"
# Another connection holds SQLite's write lock for 6 s; the worker's next batch waits in
# SQLite's busy handler, past its 2 s deadline.
"$PY" -c 'import sqlite3,sys,time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(6)
c.execute("ROLLBACK")' "$DB" "$TMP/locked" &
LOCKER=$!
BG_PIDS+=("$LOCKER")
wait_for 5 test -f "$TMP/locked" || true
check "/healthz turns 503 while the batch waits for the lock" wait_for 6 is_status 503 "$URL/healthz"
curl -s --max-time 5 "$URL/healthz" | sed 's/^/    /'
echo
check "the body names the overdue thread" bash -c \
  "curl -s --max-time 5 '$URL/healthz' | grep -q '\"name\":\"aggregation\",\"state\":\"working\".*\"ok\":false,\"overdue_s\"'"
curl -s --max-time 5 "$URL/metrics" >"$TMP/metrics.stuck"
check "mlworker_thread_healthy{thread=\"aggregation\"} 0 meanwhile" \
  grep -q '^mlworker_thread_healthy{thread="aggregation"} 0$' "$TMP/metrics.stuck"
check "/readyz stays 200 (the database answers reads)" is_status 200 "$URL/readyz"
check "mlworker healthcheck: exit 1 meanwhile" bash -c "! DATABASE_URL='sqlite:///$DB' ML_WORKER_HTTP_ADDR=127.0.0.1:$PORT timeout 10 '$MLWORKER' healthcheck"
wait "$LOCKER" || true
check "/healthz green again once the lock is released" wait_for 10 is_status 200 "$URL/healthz"
kill -TERM "$PROM" 2>/dev/null || true
wait "$PROM" 2>/dev/null || true

say "a second worker on the same address keeps working without endpoints"
set +e
DATABASE_URL="sqlite:///$DB" ML_WORKER_HTTP_ADDR=127.0.0.1:$PORT ML_WORKER_EXIT_WHEN_IDLE=1 \
  timeout 30 "$MLWORKER" run >"$TMP/second.log" 2>&1
rc=$?
set -e
check "exit 0 ($rc)" test "$rc" -eq 0
check "warns that the endpoints are disabled" grep -q "HTTP endpoints disabled: cannot listen on 127.0.0.1:$PORT" \
  "$TMP/second.log"
check "ML_WORKER_HTTP_ADDR=off: no endpoints, logged" bash -c \
  "DATABASE_URL='sqlite:///$DB' ML_WORKER_HTTP_ADDR=off ML_WORKER_EXIT_WHEN_IDLE=1 timeout 30 '$MLWORKER' run 2>&1 |
   grep -q 'HTTP endpoints disabled (ML_WORKER_HTTP_ADDR is empty or off)'"
set +e
DATABASE_URL="sqlite:///$DB" ML_WORKER_HTTP_ADDR=9090 ML_WORKER_EXIT_WHEN_IDLE=1 \
  timeout 30 "$MLWORKER" run >"$TMP/bad.out" 2>"$TMP/bad.err"
rc=$?
set -e
sed 's/^/    /' "$TMP/bad.err"
check "malformed ML_WORKER_HTTP_ADDR: exit 1, one line naming it" bash -c \
  "[ $rc -eq 1 ] && [ \$(grep -c . '$TMP/bad.err') -eq 1 ] && grep -q 'ML_WORKER_HTTP_ADDR' '$TMP/bad.err'"

say "SIGTERM: graceful stop, the port is closed"
kill -TERM "$WPID"
set +e
wait "$WPID"
rc=$?
set -e
check "worker exit 0 ($rc)" test "$rc" -eq 0
check "port closed after exit" bash -c "! curl -s --max-time 2 '$URL/healthz' >/dev/null"
check "no scrape errors logged by the worker" bash -c "! grep -q 'HTTP endpoint:' '$TMP/worker.log'"

grep "HTTP endpoint:" "$TMP/worker.log" | head -5 | sed "s/^/    /" || true
finish
