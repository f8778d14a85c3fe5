#!/usr/bin/env bash
# Smoke run of the libFuzzer targets (tests/fuzz): build build-fuzz with clang
# if needed, then run each target for 3 s on its seed corpus. Any crash, leak,
# sanitizer report or timeout fails the test. clang and libFuzzer come from
# scripts/install-deps.sh (clang, libclang-rt-14-dev).
set -u
src=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${MLW_FUZZ_BUILD:-$src/build-fuzz}
secs=${FUZZ_SMOKE_SECONDS:-3}
if ! command -v clang >/dev/null 2>&1; then
    echo "test_fuzz_smoke: clang not found (scripts/install-deps.sh test installs clang and libclang-rt-14-dev)" >&2
    exit 1
fi
probe=$(mktemp -d)
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n){(void)d;(void)n;return 0;}\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
    echo "test_fuzz_smoke: clang cannot link libFuzzer (install libclang-rt-14-dev):" >&2
    cat "$probe/log" >&2
    rm -rf "$probe"
    exit 1
fi
rm -rf "$probe"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DMLW_FUZZ=ON >/dev/null || exit 1
fi
cmake --build "$build" --target fuzzers -j "$(nproc)" >"$build/fuzz-build.log" 2>&1 || {
    tail -40 "$build/fuzz-build.log" >&2
    exit 1
}
exec "$src/tests/fuzz/run.sh" "$build" "$secs"
