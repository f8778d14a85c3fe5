# Shared helpers for tests/integration/test_{oracle,crash,bad_input,config}.sh (sourced).
# Environment: MLWORKER (the built binary), MLW_SOURCE_DIR (repository root); both have
# defaults so a script can also be run by hand from the repository.

MLW_SOURCE_DIR=${MLW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MLWORKER=${MLWORKER:-$MLW_SOURCE_DIR/build/mlworker}
if [ ! -x "$MLWORKER" ]; then
  echo "no worker binary at $MLWORKER (set MLWORKER)" >&2
  exit 1
fi
PY=${PYTHON:-python3}
ORACLE_DIR=$MLW_SOURCE_DIR/tests/oracle
# mlw_keep_logs (logs kept in $MLW_TEST_LOGS for the secret scan), mlw_secret
source "$MLW_SOURCE_DIR/tests/test_logs.sh"
mlw_reset_logs

# A clean environment: nothing from the caller's shell may pick another database or mode.
unset DATABASE_URL SQLALCHEMY_DATABASE_URI POSTGRES_SERVER POSTGRES_PORT POSTGRES_USER \
      POSTGRES_PASSWORD POSTGRES_DB ML_WORKER_MODE ML_WORKER_POLL_INTERVAL \
      ML_WORKER_AGGREGATION_BATCH_SIZE ML_WORKER_EXIT_WHEN_IDLE ML_WORKER_CLAIM_TIMEOUT \
      ML_WORKER_LOG_FORMAT

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlw-itest.XXXXXX")
# Run a private copy, so a rebuild of the shared build tree mid-test cannot swap the binary.
cp "$MLWORKER" "$TMP/mlworker"
MLWORKER=$TMP/mlworker
BG_PIDS=()
cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null || true
  done
  mlw_keep_logs "$TMP"
  rm -rf "$TMP"
}
trap cleanup EXIT

PASSED=0
FAILED=0
say() { printf '== %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'PASS: %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL: %s\n' "$*"; }

# check "description" command args... : run, show its output, count pass/fail
check() {
  local desc=$1 out rc
  shift
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  if [ -n "$out" ]; then printf '%s\n' "$out" | sed 's/^/    /' | tail -n 60; fi
  if [ "$rc" -eq 0 ]; then pass "$desc"; else fail "$desc (exit $rc)"; fi
  return 0
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

oracle() { "$PY" "$ORACLE_DIR/oracle.py" --db "$1"; }
gen() { "$PY" "$ORACLE_DIR/gen_data.py" "$@"; }
dbtool() { "$PY" "$ORACLE_DIR/dbtool.py" "$@"; }

migrate() {
  DATABASE_URL="sqlite:///$1" timeout 60 "$MLWORKER" migrate >"$TMP/migrate.log" 2>&1 || {
    echo "migrate of $1 failed:" >&2
    cat "$TMP/migrate.log" >&2
    return 1
  }
}

# run_worker DB LOG [VAR=value...]: process everything pending, then exit (rc of the worker)
run_worker() {
  local db=$1 log=$2
  shift 2
  env DATABASE_URL="sqlite:///$db" ML_WORKER_EXIT_WHEN_IDLE=1 "$@" \
    timeout 300 "$MLWORKER" run >"$log" 2>&1
}

# worker_ran_ok DB LOG DESC [VAR=value...]: run_worker as a check
worker_ran_ok() {
  local db=$1 log=$2 desc=$3 rc t0 t1
  shift 3
  t0=$EPOCHREALTIME
  set +e
  run_worker "$db" "$log" "$@"
  rc=$?
  set -e
  t1=$EPOCHREALTIME
  if [ "$rc" -eq 0 ]; then
    pass "$desc (worker exit 0, $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s)"
  else
    fail "$desc (worker exit $rc)"
    tail -n 30 "$log" | sed 's/^/    /'
  fi
}

# random_secs LOW_MS HIGH_MS -> prints a random duration in seconds (3 decimals)
random_secs() {
  local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
  printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
