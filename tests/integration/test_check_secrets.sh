#!/usr/bin/env bash
# tests/check_secrets.sh can fail: planted secrets (as is, URL-encoded, cut
# after 12 characters) and sanitizer reports are found with file:line, a clean
# tree passes and says what it scanned, nothing to scan fails. Runs no
# mlworker code. Env: MLW_SOURCE_DIR.
set -uo pipefail
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
source "$SRC/tests/test_logs.sh"
CHECK=$SRC/tests/check_secrets.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlw-chksec.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }

# expect DESC RC PATTERN DIR...: run the check, want exit RC and PATTERN in its output
expect() {
  local desc=$1 want=$2 pat=$3 out rc
  shift 3
  out=$("$CHECK" "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
    ok "$desc"
  else
    bad "$desc (exit $rc, want $want and /$pat/)"
  fi
  sed 's/^/    /' <<<"$out" | head -n 8
}

mkdir -p "$TMP/clean/sub" "$TMP/empty"
printf 'worker started\nProcessing pending vitals for user 1\n' >"$TMP/clean/w.log"
printf 'Received 1 message(s) from SQS\n' >"$TMP/clean/sub/moto.log"
expect "clean logs pass and the scan is described" 0 \
  '^check_secrets: scanned 2 files, [0-9]+ bytes' "$TMP/clean"
expect "nothing to scan fails" 1 'no logs to scan' "$TMP/empty"

SQS=$(mlw_secret SQS_SECRET_ACCESS_KEY)
PGPW=$(mlw_secret PG_PASSWORD)
OPENAI=$(mlw_secret OPENAI_API_KEY)
cp -R "$TMP/clean" "$TMP/a"
printf 'line 1\nline 2\nsigning with %s\n' "$SQS" >"$TMP/a/sub/planted.log"
expect "a planted SQS secret fails with file:line and its name" 1 \
  "SQS_SECRET_ACCESS_KEY found at $TMP/a/sub/planted.log:3\$" "$TMP/clean" "$TMP/a"

cp -R "$TMP/clean" "$TMP/b"
printf 'connecting to postgresql://bob:%s@db/x\n' \
  "$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGPW")" \
  >"$TMP/b/url.log"
expect "a URL-encoded password is found (by its first 12 characters)" 1 \
  "PG_PASSWORD found at $TMP/b/url.log:1\$" "$TMP/b"

cp -R "$TMP/clean" "$TMP/c"
printf 'Authorization: Bearer %s...\n' "${OPENAI:0:14}" >"$TMP/c/LastTest.log"
expect "a cut OpenAI key is found" 1 "OPENAI_API_KEY found at $TMP/c/LastTest.log:1\$" "$TMP/c"

cp -R "$TMP/clean" "$TMP/d"
printf 'x\n==123==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n' >"$TMP/d/w.log"
expect "an ASan report fails" 1 "sanitizer report found at $TMP/d/w.log:2\$" "$TMP/d"
cp -R "$TMP/clean" "$TMP/e"
printf '    src/x.c:12:5: runtime error: signed integer overflow\n' >"$TMP/e/w.log"
expect "a UBSan report fails" 1 "sanitizer report found at $TMP/e/w.log:1\$" "$TMP/e"

printf 'SHORT=abc\n' >"$TMP/short.txt"
out=$(MLW_SECRETS_FILE=$TMP/short.txt "$CHECK" "$TMP/clean" 2>&1)
if [ $? -eq 1 ] && grep -q 'SHORT in .* shorter than 12' <<<"$out"; then
  ok "a secret under 12 characters is refused"
else
  bad "a secret under 12 characters is refused: $out"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
