#!/usr/bin/env bash
# Crash safety: kill -9 the worker at random moments during a large run (at least 15 kills
# while work is pending), restart it each time with a 1 s claim timeout so stale claims come
# back, then run to completion: the aggregates must equal the oracle's, nothing may be left
# 'processing', nothing counted twice.  Then the same with two workers on one SQLite file.
# Env: MLWORKER, MLW_SOURCE_DIR; MLW_TEST_SEED fixes the data and the kill times;
# MLW_CRASH_KILLS (default 15) sets the number of kills.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

SEED=${MLW_TEST_SEED:-$((($$ + $(date +%s)) % 100000))}
RANDOM=$SEED
KILLS_WANTED=${MLW_CRASH_KILLS:-15}
WENV=(ML_WORKER_AGGREGATION_BATCH_SIZE=50 ML_WORKER_CLAIM_TIMEOUT=1 ML_WORKER_POLL_INTERVAL=1)
say "seed $SEED (rerun with MLW_TEST_SEED=$SEED), temp dir $TMP"

unfinished() { dbtool unfinished "$1"; }

# start_worker DB LOG: background worker (env execs it, so $! is the worker), pid in $WPID
start_worker() {
  env DATABASE_URL="sqlite:///$1" ML_WORKER_EXIT_WHEN_IDLE=1 "${WENV[@]}" \
    "$MLWORKER" run >>"$2" 2>&1 &
  WPID=$!
  BG_PIDS+=("$WPID")
}

# wait_for PID SECONDS: wait for a background worker, kill -9 it past the deadline; sets $WRC
wait_for() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "    worker $pid still running after $2 s: killed"
    kill -9 "$pid" 2>/dev/null || true
  fi
  set +e
  { wait "$pid"; } 2>/dev/null  # braces: also silences bash's "Killed" job notice
  WRC=$?
  set -e
  local keep=() p
  for p in "${BG_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  BG_PIDS=("${keep[@]}")  # reaped: never signal that pid number again
}

# kill_loop DB WANTED: start/kill until WANTED kills hit a live worker with work pending
kill_loop() {
  local db=$1 wanted=$2 kills=0 iter=0 extra=0 secs rc left
  while [ "$kills" -lt "$wanted" ] && [ "$iter" -lt $((wanted * 4)) ]; do
    iter=$((iter + 1))
    left=$(unfinished "$db")
    if [ "$left" -eq 0 ]; then
      extra=$((extra + 1))
      gen --db "$db" --users 8 --days 60 --rows 8000 --seed $((SEED + 100 + extra)) --late \
        >/dev/null
      left=$(unfinished "$db")
      echo "    (all done before enough kills: inserted late rows, $left pending)"
    fi
    start_worker "$db" "$TMP/crash.log"
    secs=$(random_secs 50 1500)
    sleep "$secs"
    { kill -9 "$WPID" || true; wait_for "$WPID" 10; } 2>/dev/null  # (quiet: no "Killed" job notice)
    rc=$WRC
    if [ "$rc" -eq 137 ]; then  # died of our SIGKILL (a finished worker exits 0)
      kills=$((kills + 1))
      printf '    kill %2d after %ss (%s rows were unfinished at start)\n' "$kills" "$secs" "$left"
    else
      printf '    worker finished by itself in < %ss (exit %s)\n' "$secs" "$rc"
      if [ "$rc" -ne 0 ]; then
        fail "worker exited $rc on its own during the kill loop"
        tail -n 20 "$TMP/crash.log" | sed 's/^/    /'
      fi
    fi
  done
  if [ "$kills" -ge "$wanted" ]; then
    pass "$kills kill -9 of a live worker with rows pending"
  else
    fail "only $kills kills in $iter tries"
  fi
}

A=$TMP/crash.db
say "large run: ~60k vitals + ~10k nutrition rows, batch size 50, claim timeout 1 s"
migrate "$A"
gen --db "$A" --users 8 --days 60 --rows 70000 --seed "$SEED" --start-date 2026-01-20
kill_loop "$A" "$KILLS_WANTED"
say "unfinished rows after the kill loop: $(unfinished "$A"); wait for claims to go stale"
sleep 2.5  # > claim timeout even with whole-second claimed_at values
worker_ran_ok "$A" "$TMP/final.log" "final run to completion" "${WENV[@]}"
left=$(unfinished "$A")
if [ "$left" -eq 0 ]; then pass "no raw row left pending/processing"; else
  fail "$left raw rows left pending/processing"; dbtool counts "$A"; fi
check "oracle after the crashes (no double counting)" oracle "$A"

say "two workers at once on one SQLite file, one of them killed once"
B=$TMP/two.db
migrate "$B"
gen --db "$B" --users 6 --days 45 --rows 20000 --seed $((SEED + 7)) --start-date 2026-01-20
start_worker "$B" "$TMP/w1.log"
W1=$WPID
start_worker "$B" "$TMP/w2.log"
W2=$WPID
sleep "$(random_secs 200 900)"
{ kill -9 "$W2" || true; wait_for "$W2" 10; } 2>/dev/null
echo "    worker 2 $([ "$WRC" -eq 137 ] && echo "killed" || echo "had already finished (exit $WRC)")"
start_worker "$B" "$TMP/w3.log"
W3=$WPID
wait_for "$W1" 240
rc1=$WRC
wait_for "$W3" 240
rc3=$WRC
if [ "$rc1" -eq 0 ] && [ "$rc3" -eq 0 ]; then pass "concurrent workers exited 0"; else
  fail "concurrent workers exited $rc1 / $rc3"
  tail -n 20 "$TMP/w1.log" "$TMP/w3.log" | sed 's/^/    /'
fi
sleep 2.5
worker_ran_ok "$B" "$TMP/w4.log" "final run after the concurrent workers" "${WENV[@]}"
left=$(unfinished "$B")
if [ "$left" -eq 0 ]; then pass "no raw row left pending/processing (two workers)"; else
  fail "$left raw rows left pending/processing (two workers)"; fi
check "oracle after two concurrent workers" oracle "$B"

say "graceful stop: SIGTERM and SIGINT in the middle of a run"
C=$TMP/term.db
migrate "$C"
gen --db "$C" --users 6 --days 45 --rows 20000 --seed $((SEED + 9)) --start-date 2026-01-20
for sig in TERM INT; do
  env DATABASE_URL="sqlite:///$C" ML_WORKER_AGGREGATION_BATCH_SIZE=50 ML_WORKER_POLL_INTERVAL=30 \
    "$MLWORKER" run >>"$TMP/term.log" 2>&1 &  # no EXIT_WHEN_IDLE: only the signal stops it
  WPID=$!
  BG_PIDS+=("$WPID")
  sleep "$(random_secs 300 800)"
  t0=$SECONDS
  kill -"$sig" "$WPID" || true
  wait_for "$WPID" 10
  if [ "$WRC" -eq 0 ] && [ $((SECONDS - t0)) -le 5 ]; then
    pass "SIG$sig: exit 0 within $((SECONDS - t0)) s ($(unfinished "$C") rows still to do)"
  else
    fail "SIG$sig: exit $WRC after $((SECONDS - t0)) s"
    tail -n 5 "$TMP/term.log" | sed 's/^/    /'
  fi
done
sleep 2.5
worker_ran_ok "$C" "$TMP/term2.log" "run to completion after the signals" "${WENV[@]}"
check "oracle after graceful stops" oracle "$C"

finish
