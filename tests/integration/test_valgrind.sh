#!/usr/bin/env bash
# Every unit test binary under valgrind memcheck: invalid reads/writes, use
# of uninitialised values and definite leaks fail the test.
# test_qgemm is left out: it asserts that the SIMD and portable kernels give
# bit-identical floats, which valgrind's floating-point emulation does not
# preserve (it fails there with no memory error); it runs under ASan instead.
set -uo pipefail
BUILD=${MLW_BUILD_DIR:?MLW_BUILD_DIR not set}
if ! command -v valgrind >/dev/null; then
  echo "valgrind is not installed (scripts/install-deps.sh installs it)"
  echo "0 passed, 1 failed"
  exit 1
fi
passed=0 failed=0
for t in "$BUILD"/test_*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  name=$(basename "$t")
  [ "$name" = test_qgemm ] && { echo "skip $name (bit-exact SIMD checks; see header)"; continue; }
  log=$(mktemp)
  if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
       --track-origins=no "$t" >"$log" 2>&1; then
    echo "PASS: $name under valgrind"
    passed=$((passed + 1))
  else
    echo "FAIL: $name under valgrind"
    grep -E "==[0-9]+==|FAILED|ERROR" "$log" | head -20
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
