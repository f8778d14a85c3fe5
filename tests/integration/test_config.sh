#!/usr/bin/env bash
# Configuration and CLI: invalid settings give exit 1 and one clear stderr line naming the
# variable; usage errors give exit 2; --help exits 0; the database URL forms and the default
# database work.  Env: MLWORKER, MLW_SOURCE_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

say "temp dir $TMP"
DB=$TMP/cfg.db
migrate "$DB"
OKENV=(DATABASE_URL="sqlite:///$DB" ML_WORKER_EXIT_WHEN_IDLE=1)

# expect DESC WANT_RC WANT_LINES WORDS CMD...: run CMD (env assignments first), check its exit
# code, the number of non-empty stderr lines (- for any) and that stderr mentions each of WORDS
# ('|'-separated alternatives, ','-separated required words; - for none)
expect() {
  local desc=$1 want_rc=$2 want_lines=$3 words=$4 rc lines ok=1 w alt found
  shift 4
  set +e
  (cd "$TMP" && timeout 30 env "$@") >"$TMP/out" 2>"$TMP/err"
  rc=$?
  set -e
  lines=$(grep -c . "$TMP/err" || true)
  [ "$rc" -eq "$want_rc" ] || ok=0
  [ "$want_lines" = "-" ] || [ "$lines" -eq "$want_lines" ] || ok=0
  if [ "$words" != "-" ]; then
    IFS=',' read -ra req <<<"$words"
    for w in "${req[@]}"; do
      found=0
      IFS='|' read -ra alts <<<"$w"
      for alt in "${alts[@]}"; do grep -qF -- "$alt" "$TMP/err" && found=1; done
      [ "$found" -eq 1 ] || ok=0
    done
  fi
  if [ "$ok" -eq 1 ]; then
    pass "$desc (exit $rc, $lines stderr line(s))"
  else
    fail "$desc: exit $rc (want $want_rc), $lines stderr line(s) (want $want_lines), must mention: $words"
  fi
  sed 's/^/    stderr: /' "$TMP/err" | head -n 8
  return 0
}

say "invalid configuration: exit 1, one line naming the variable"
expect "bad ML_WORKER_MODE" 1 1 ML_WORKER_MODE "${OKENV[@]}" ML_WORKER_MODE=turbo "$MLWORKER" run
expect "non-numeric ML_WORKER_AGGREGATION_BATCH_SIZE" 1 1 ML_WORKER_AGGREGATION_BATCH_SIZE \
  "${OKENV[@]}" ML_WORKER_AGGREGATION_BATCH_SIZE=ten "$MLWORKER" run
expect "trailing garbage in ML_WORKER_AGGREGATION_BATCH_SIZE" 1 1 ML_WORKER_AGGREGATION_BATCH_SIZE \
  "${OKENV[@]}" ML_WORKER_AGGREGATION_BATCH_SIZE=12abc "$MLWORKER" run
expect "negative ML_WORKER_AGGREGATION_BATCH_SIZE" 1 1 ML_WORKER_AGGREGATION_BATCH_SIZE \
  "${OKENV[@]}" ML_WORKER_AGGREGATION_BATCH_SIZE=-1 "$MLWORKER" run
expect "bad ML_WORKER_LOG_FORMAT" 1 1 ML_WORKER_LOG_FORMAT \
  "${OKENV[@]}" ML_WORKER_LOG_FORMAT=xml "$MLWORKER" run
expect "non-numeric ML_WORKER_CLAIM_TIMEOUT" 1 1 ML_WORKER_CLAIM_TIMEOUT \
  "${OKENV[@]}" ML_WORKER_CLAIM_TIMEOUT=soon "$MLWORKER" run
expect "non-numeric ML_WORKER_POLL_INTERVAL" 1 1 ML_WORKER_POLL_INTERVAL \
  "${OKENV[@]}" ML_WORKER_POLL_INTERVAL=abc "$MLWORKER" run
expect "two problems: two lines, each naming its variable" 1 2 \
  "ML_WORKER_MODE,ML_WORKER_AGGREGATION_BATCH_SIZE" "${OKENV[@]}" ML_WORKER_MODE=turbo \
  ML_WORKER_AGGREGATION_BATCH_SIZE=ten "$MLWORKER" run
expect "unsupported DATABASE_URL scheme" 1 1 DATABASE_URL \
  DATABASE_URL=mysql://localhost/x ML_WORKER_EXIT_WHEN_IDLE=1 "$MLWORKER" run

say "unusable database: exit 1 with a clear error"
expect "migrate: database in a nonexistent directory" 1 1 "DATABASE_URL|nonexistent-dir" \
  DATABASE_URL=sqlite:///nonexistent-dir/x.db "$MLWORKER" migrate
expect "run: database in a nonexistent directory" 1 - "DATABASE_URL|nonexistent-dir" \
  DATABASE_URL=sqlite:///nonexistent-dir/x.db ML_WORKER_EXIT_WHEN_IDLE=1 "$MLWORKER" run
printf 'this is not a database, just some text that is long enough to fill a header....\n%.0s' \
  {1..20} >"$TMP/garbage.db"
expect "run: file that is not a database" 1 - - \
  DATABASE_URL="sqlite:///$TMP/garbage.db" ML_WORKER_EXIT_WHEN_IDLE=1 "$MLWORKER" run

say "usage errors: exit 2"
expect "unknown command" 2 - - "${OKENV[@]}" "$MLWORKER" bogus-command
expect "unknown option of run" 2 - - "${OKENV[@]}" "$MLWORKER" run --bogus-flag

say "help and version: exit 0 (no database touched)"
expect "mlworker --help" 0 - - DATABASE_URL=sqlite:///nonexistent-dir/x.db "$MLWORKER" --help
expect "mlworker run --help" 0 - - DATABASE_URL=sqlite:///nonexistent-dir/x.db "$MLWORKER" run --help
expect "mlworker migrate --help" 0 - - DATABASE_URL=sqlite:///nonexistent-dir/x.db "$MLWORKER" migrate --help
expect "mlworker demo --help" 0 - - "$MLWORKER" demo --help
expect "mlworker version" 0 - - "$MLWORKER" version
if [ -s "$TMP/out" ]; then pass "version prints something"; else fail "version printed nothing"; fi

say "secrets never reach the output"
PGPW=$(mlw_secret PG_PASSWORD)
PGPW_URL=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGPW")
for form in url parts; do
  if [ "$form" = url ]; then
    senv=(DATABASE_URL="postgresql://bob:$PGPW_URL@127.0.0.1:1/db")
  else
    senv=(POSTGRES_SERVER=127.0.0.1 POSTGRES_PORT=1 POSTGRES_USER=bob
          POSTGRES_PASSWORD="$PGPW" POSTGRES_DB=db)
  fi
  set +e
  (cd "$TMP" && timeout 30 env "${senv[@]}" ML_WORKER_EXIT_WHEN_IDLE=1 "$MLWORKER" run) \
    >"$TMP/out" 2>"$TMP/err"
  rc=$?
  set -e
  if grep -qF -e "${PGPW:0:12}" -e "${PGPW_URL:0:12}" "$TMP/out" "$TMP/err"; then
    fail "database password ($form) appears in the output"
  elif [ "$rc" -eq 124 ]; then
    fail "worker hung with an unreachable PostgreSQL ($form)"
  elif [ "$rc" -ge 128 ]; then
    fail "worker crashed with an unreachable PostgreSQL ($form, exit $rc)"
    tail -n 20 "$TMP/err" | sed 's/^/    /'
  else
    pass "database password ($form) not in the output (exit $rc)"
  fi
  sed 's/^/    stderr: /' "$TMP/err" | head -n 3
done

say "JSON logs: every line is one JSON object"
gen --db "$DB" --users 2 --days 3 --rows 200 --seed 5 >/dev/null
set +e
env "${OKENV[@]}" ML_WORKER_LOG_FORMAT=json "$MLWORKER" run >"$TMP/out" 2>"$TMP/err"
set -e
check "JSON log lines parse, each with a level and a message" "$PY" - "$TMP/out" "$TMP/err" <<'EOF'
import json, sys
n = 0
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8", errors="replace"):
        if not line.strip():
            continue
        obj = json.loads(line)
        assert isinstance(obj, dict) and "message" in obj and "level" in obj, line
        n += 1
print("%d JSON log lines" % n)
sys.exit(0 if n > 0 else 1)
EOF

say "valid settings and database URL forms"
expect "mode AGGREGATION (case-insensitive), idle exit" 0 - - "${OKENV[@]}" \
  ML_WORKER_MODE=AGGREGATION ML_WORKER_LOG_FORMAT=json ML_WORKER_AGGREGATION_BATCH_SIZE=7 \
  ML_WORKER_CLAIM_TIMEOUT=5 ML_WORKER_POLL_INTERVAL=1 "$MLWORKER" run
mkdir -p "$TMP/rel"
expect "relative sqlite://rel/x.db" 0 - - DATABASE_URL=sqlite://rel/x.db "$MLWORKER" migrate
if [ -f "$TMP/rel/x.db" ]; then pass "relative URL created rel/x.db"; else
  fail "relative URL did not create $TMP/rel/x.db"; fi
expect "SQLALCHEMY_DATABASE_URI fallback" 0 - - \
  SQLALCHEMY_DATABASE_URI="sqlite:///$TMP/sa.db" "$MLWORKER" migrate
if [ -f "$TMP/sa.db" ]; then pass "SQLALCHEMY_DATABASE_URI used"; else
  fail "SQLALCHEMY_DATABASE_URI not used"; fi
expect "no database configured: ./mlworker.db" 0 - - "$MLWORKER" migrate
if [ -f "$TMP/mlworker.db" ]; then pass "default ./mlworker.db created"; else
  fail "default ./mlworker.db not created in the working directory"; fi

finish
