#!/usr/bin/env bash
# check_secrets.sh - the last step of `make test`: no test credential, and no
# sanitizer report, in any log the suite wrote.
#
# Usage: tests/check_secrets.sh DIR_OR_FILE...
#   `make test` passes <build>/test-logs (every test's worker, moto and
#   PostgreSQL logs, kept there by the shared test helpers through
#   MLW_TEST_LOGS) and <build>/Testing/Temporary (ctest's LastTest*.log: all
#   test output) of the plain and the sanitizer build.
# Secrets: every NAME=value of tests/secrets.txt (MLW_SECRETS_FILE overrides);
# each value is searched as is and by its first 12 characters (a value cut or
# URL-encoded after that still matches). Sanitizer reports: the ERROR/SUMMARY
# lines of ASan, LSan and UBSan and UBSan's "runtime error:".
# Prints what it scanned (files, bytes), then each finding as file:line and
# the secret's NAME (never the value); exit 1 on any finding or when there
# was nothing to scan, 2 on bad usage.
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secrets=${MLW_SECRETS_FILE:-$src/tests/secrets.txt}
if [ $# -eq 0 ]; then
  echo "usage: $0 DIR_OR_FILE..." >&2
  exit 2
fi
if [ ! -r "$secrets" ]; then
  echo "check_secrets: cannot read $secrets" >&2
  exit 2
fi

paths=()
for p in "$@"; do
  if [ -e "$p" ]; then paths+=("$p"); else echo "check_secrets: $p does not exist (skipped)"; fi
done
files=0 bytes=0
if [ ${#paths[@]} -gt 0 ]; then
  read -r files bytes < <(find "${paths[@]}" -type f -printf '%s\n' |
                          awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }')
fi
echo "check_secrets: scanned $files files, $bytes bytes in ${paths[*]:-(nothing)}"
if [ "$files" -eq 0 ]; then
  echo "check_secrets: FAIL: no logs to scan (did the suite run?)"
  exit 1
fi

found=0 n_secrets=0
# report NAME: grep output lines (file:line:text) -> file:line NAME
report() {
  local name=$1 loc
  while IFS= read -r loc; do
    echo "check_secrets: FAIL: $name found at $loc"
    found=$((found + 1))
  done < <(cut -d: -f1,2)
}
while IFS= read -r line; do
  case $line in ''|'#'*) continue ;; esac
  name=${line%%=*}
  value=${line#*=}
  if [ "${#value}" -lt 12 ]; then
    echo "check_secrets: FAIL: $name in $secrets is shorter than 12 characters"
    found=$((found + 1))
    continue
  fi
  n_secrets=$((n_secrets + 1))
  report "$name" < <(grep -rnaF -e "$value" -e "${value:0:12}" -- "${paths[@]}" 2>/dev/null)
done <"$secrets"
report "sanitizer report" < <(grep -rnaE -e '(ERROR|SUMMARY): (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)' \
  -e '[^ ]+:[0-9]+:[0-9]+: runtime error: ' -- "${paths[@]}" 2>/dev/null)
if [ "$found" -gt 0 ]; then
  echo "check_secrets: FAIL: $found finding(s) ($n_secrets secrets from $secrets)"
  exit 1
fi
echo "check_secrets: OK: none of $n_secrets secrets and no sanitizer report in the logs"
