#!/usr/bin/env bash
# test_tokenizer_parity.sh - mlworker's WordPiece tokenizer against Hugging Face tokenizers.
#
# Generates the corpus (tests/tokenizer/gen_corpus.py: 6000 strings plus a sweep over every
# Unicode scalar value), runs the oracle (tests/tokenizer/hf_tokenize.js, npm `tokenizers`)
# and `mlworker tokenize` on it, and compares line by line:
#   ids    bert-base-cased,   do_lower_case false, max_length 512   corpus + sweep
#   ids    bert-base-uncased, do_lower_case true,  max_length 512   corpus + sweep
#   ids    both vocabularies, max_length 16, padded to 16, with attention mask   corpus
#   text   the normalizer's output, lowercase off and on                        corpus + sweep
#   ids    uncased with strip_accents false (lower-case, keep accents)          corpus
#   text   lower-case keeping accents (corpus + sweep), strip accents only (corpus)
# Prints the first differences of each run and ends with "N passed, N failed".
#
# Environment (set by ctest): MLWORKER, MLW_BUILD_DIR, MLW_SOURCE_DIR, MLW_SHARED_DATA.
# `mlworker tokenize` is used when the binary has it; otherwise the unit test executable's
# driver mode ($MLW_BUILD_DIR/test_tokenizer --tokenize), which runs the same cmd_tokenize().
set -euo pipefail

src=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
data=${MLW_SHARED_DATA:-$src/../shared/data}
build=${MLW_BUILD_DIR:-$src/build}
mlworker=${MLWORKER:-$build/mlworker}
cased=$data/bert-base-cased-vocab.txt
uncased=$data/bert-base-uncased-vocab.txt

die() { echo "test_tokenizer_parity: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

command -v node >/dev/null || die "node not found (scripts/install-deps.sh test)"
command -v python3 >/dev/null || die "python3 not found"
[ -d "$src/tests/node_modules/tokenizers" ] ||
    die "npm package tokenizers missing: run scripts/install-deps.sh test"
[ -f "$cased" ] && [ -f "$uncased" ] || die "vocabularies missing in $data"

# A worker that crashes on the probe (a sanitizer report aborts it) fails the
# test instead of being silently replaced by the unit test's driver.
probe=$("$mlworker" tokenize --help 2>&1) && prc=0 || prc=$?
if [ "$prc" -ge 128 ]; then
    printf '%s\n' "$probe" | tail -n 20
    die "'$mlworker tokenize --help' crashed (exit $prc)"
fi
if grep -q -- '--vocab' <<<"$probe"; then
    tokenize=("$mlworker" tokenize)
elif [ -x "$build/test_tokenizer" ]; then
    tokenize=("$build/test_tokenizer" --tokenize)
else
    die "neither '$mlworker tokenize' nor $build/test_tokenizer is available"
fi
echo "tokenizer under test: ${tokenize[*]}"

work=$(mktemp -d)
source "$src/tests/test_logs.sh" && mlw_reset_logs # mlw_keep_logs: logs kept for the secret scan
trap 'mlw_keep_logs "$work"; rm -rf "$work"' EXIT

start=$(date +%s.%N)
python3 "$src/tests/tokenizer/gen_corpus.py" --seed 20240601 --count 6000 \
    --out "$work/corpus.jsonl" --sweep "$work/sweep.jsonl"
cat "$work/corpus.jsonl" "$work/sweep.jsonl" > "$work/all.jsonl"
echo "corpus: $(wc -l < "$work/corpus.jsonl") strings, sweep: $(wc -l < "$work/sweep.jsonl") lines"

hf() { node "$src/tests/tokenizer/hf_tokenize.js" "$@"; }

# name | vocab | input | options shared by both sides
runs=(
    "cased-512|$cased|all|--max-length 512"
    "uncased-512|$uncased|all|--lower --max-length 512"
    "cased-16-pad|$cased|corpus|--max-length 16 --pad-to 16 --mask"
    "uncased-16-pad|$uncased|corpus|--lower --max-length 16 --pad-to 16 --mask"
    "normalize-cased|$cased|all|--normalize"
    "normalize-lower|$cased|all|--lower --normalize"
    "uncased-keep-accents|$uncased|corpus|--lower --strip-accents no"
    "normalize-lower-keep-accents|$cased|all|--lower --strip-accents no --normalize"
    "normalize-strip-only|$cased|corpus|--strip-accents yes --normalize"
)
for r in "${runs[@]}"; do
    IFS='|' read -r name vocab input opts <<< "$r"
    # shellcheck disable=SC2086 # opts is a list of words
    hf --vocab "$vocab" $opts --input "$work/$input.jsonl" > "$work/$name.hf" ||
        die "hf_tokenize.js failed for $name"
    # shellcheck disable=SC2086
    "${tokenize[@]}" --json --vocab "$vocab" $opts < "$work/$input.jsonl" > "$work/$name.c" ||
        die "tokenize failed for $name"
    echo "$name|$input" >> "$work/runs.txt"
done

status=0
python3 - "$work" "$start" <<'EOF' || status=$?
import json, sys, time
work, start = sys.argv[1], float(sys.argv[2])
passed = failed = 0
for line in open(f"{work}/runs.txt"):
    name, inp = line.strip().split("|")
    texts = open(f"{work}/{inp}.jsonl", encoding="utf-8").read().split("\n")[:-1]
    hf = open(f"{work}/{name}.hf", encoding="utf-8").read().split("\n")[:-1]
    c = open(f"{work}/{name}.c", encoding="utf-8").read().split("\n")[:-1]
    if len(hf) != len(texts) or len(c) != len(texts):
        print(f"{name}: line counts differ: input {len(texts)}, hf {len(hf)}, mlworker {len(c)}")
        failed += len(texts)
        continue
    bad = []
    for i, (a, b) in enumerate(zip(hf, c)):
        same = a == b
        if not same and name.startswith("normalize"):
            same = json.loads(a) == json.loads(b)
        if not same:
            bad.append(i)
    passed += len(texts) - len(bad)
    failed += len(bad)
    print(f"{name}: {len(texts) - len(bad)}/{len(texts)} identical")
    for i in bad[:5]:
        print(f"  line {i + 1}: input {texts[i][:200]}")
        print(f"    tokenizers: {hf[i][:300]}")
        print(f"    mlworker:   {c[i][:300]}")
print(f"parity test took {time.time() - start:.1f} s")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
exit $status
