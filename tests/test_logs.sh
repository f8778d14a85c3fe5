# test_logs.sh - sourced by the shell tests (through tests/oracle/itest_lib.sh,
# or directly): keeps their logs for the secret scan, reads test credentials.
#
#   mlw_keep_logs DIR [PREFIX]  copy the logs under DIR (*.log, *.out, *.err,
#                               files named out/err) into $MLW_TEST_LOGS
#                               (ctest sets it to <build>/test-logs/<test>;
#                               unset: nothing is kept). Call it before
#                               removing DIR. Inputs (credential files,
#                               databases) are not copied.
#   mlw_reset_logs              empty $MLW_TEST_LOGS (itest_lib.sh does, at start)
#   mlw_secret NAME             print the value of NAME from tests/secrets.txt
#
# tests/check_secrets.sh greps everything under <build>/test-logs for the
# values of tests/secrets.txt after the suite.

_MLW_TL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

mlw_secret() {
  local v
  v=$(sed -n "s/^$1=//p" "$_MLW_TL_SRC/tests/secrets.txt" | head -n 1)
  if [ -z "$v" ]; then
    echo "mlw_secret: no $1 in tests/secrets.txt" >&2
    return 1
  fi
  printf '%s\n' "$v"
}

# mlw_reset_logs: empty $MLW_TEST_LOGS (this run's logs replace the last
# run's); only a ctest-shaped path (.../test-logs/<test>) is removed.
mlw_reset_logs() {
  case ${MLW_TEST_LOGS:-} in
    */test-logs/*) rm -rf "$MLW_TEST_LOGS" ;;
  esac
}

mlw_keep_logs() {
  local src=$1 prefix=${2:-} f rel dst
  [ -n "${MLW_TEST_LOGS:-}" ] && [ -d "$src" ] || return 0
  mkdir -p "$MLW_TEST_LOGS" || return 0
  while IFS= read -r -d '' f; do
    rel=${f#"$src"/}
    dst=$MLW_TEST_LOGS/$prefix$rel
    mkdir -p "$(dirname "$dst")" && cp "$f" "$dst" 2>/dev/null || true
  done < <(find "$src" -type f \( -name '*.log' -o -name '*.out' -o -name '*.err' \
             -o -name out -o -name err \) -size -64M -print0 2>/dev/null)
  return 0
}
