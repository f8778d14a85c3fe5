#!/usr/bin/env bash
# Run every libFuzzer target in a build dir for a time budget each, on a
# scratch copy of its seed corpus (tests/fuzz/corpus/<name>), so new inputs
# never land in the repository. Fails on the first crash, leak or timeout;
# the reproducer is kept under the scratch dir and its path printed.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET
set -u
build=${1:?build dir}
secs=${2:?seconds per target}
src=$(cd "$(dirname "$0")/../.." && pwd)
export MLW_SHARED_DATA=${MLW_SHARED_DATA:-$src/../shared/data}
work=$(mktemp -d "${TMPDIR:-/tmp}/mlw-fuzz.XXXXXX")
fail=0
shopt -s nullglob
targets=("$build"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no fuzz_* executables in $build" >&2
    exit 1
fi
for exe in "${targets[@]}"; do
    [ -x "$exe" ] && [ -f "$exe" ] || continue
    name=$(basename "$exe"); name=${name#fuzz_}
    mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
    if [ -d "$src/tests/fuzz/corpus/$name" ]; then
        cp -R "$src/tests/fuzz/corpus/$name/." "$work/$name/corpus/"
    fi
    seeds=$(ls "$work/$name/corpus" | wc -l)
    start=$(date +%s)
    if "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
            -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" \
            "$work/$name/corpus" >"$work/$name/log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name/log" | grep -o '[0-9]*$')
        cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$name/log" | tail -1)
        echo "fuzz $name: ok, $(( $(date +%s) - start )) s, ${runs:-?} runs," \
             "corpus $seeds -> $(ls "$work/$name/corpus" | wc -l) files, ${cov:-cov ?}"
    else
        echo "fuzz $name: FAILED after $(( $(date +%s) - start )) s; log $work/$name/log" >&2
        grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$work/$name/log" | head -20 >&2
        fail=1
    fi
done
if [ $fail -eq 0 ]; then
    rm -rf "$work"
fi
exit $fail
