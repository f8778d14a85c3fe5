#!/usr/bin/env bash
# BERT encoder parity: the C encoder against an independent PyTorch implementation
# (tests/ml/torch_embed.py) on random-weight checkpoints written by tests/ml/gen_model.py.
#
#   fp32 checkpoints:      max |C - torch| <= 1e-4 over every component
#   f16/bf16 checkpoints:  same bound against torch on the same (widened) weights, and
#                          cosine >= 0.999 against the fp32 model of the same seed
#
# One batch of 22 token-id sequences of lengths 1..64, 65 and 200; a tiny config in several variants
# (mean/cls/max pooling, "bert." prefix, int64 position_ids buffer, 1 and 2 threads,
# batches split, OpenBLAS instead of the AVX-512 fp32 products), then the BERT-base shape (12 x 768, vocab 28996) on a few sequences.
# Set MLW_SKIP_BERT_BASE=1 to skip the base shape. Env: MLW_BUILD_DIR (has test_bert),
# MLW_SOURCE_DIR, MLW_SHARED_DATA (vocab to copy). Needs Debian's /usr/bin/python3 with
# python3-torch and python3-numpy.
set -u
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MLW_BUILD_DIR:-$SRC/build}
PY=/usr/bin/python3
DRIVER="$BUILD/test_bert"
GEN="$SRC/tests/ml/gen_model.py"
TORCH="$SRC/tests/ml/torch_embed.py"
CMP="$SRC/tests/ml/compare.py"
export MLW_SHARED_DATA=${MLW_SHARED_DATA:-$SRC/../shared/data}

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
bad() { failed=$((failed + 1)); echo "not ok - $*"; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    bad "prerequisite: $PY cannot import torch and numpy (apt-get install python3-torch python3-numpy)"
    finish
fi
if [ ! -x "$DRIVER" ]; then
    bad "prerequisite: $DRIVER not built"
    finish
fi

TMP=$(mktemp -d /tmp/mlw_parity.XXXXXX)
source "$SRC/tests/test_logs.sh" && mlw_reset_logs # mlw_keep_logs: logs kept for the secret scan
trap 'mlw_keep_logs "$TMP"; rm -rf "$TMP"' EXIT

# 20 sequences of lengths 1..64 and two longer ones (65, 200: attention runs in blocks of 64
# query rows), [CLS] ... [SEP] around random ids of the cased vocab
"$PY" - > "$TMP/ids.jsonl" <<'EOF'
import json, random
r = random.Random(20240501)
for L in [1, 2, 3, 5, 8, 13, 21, 34, 55, 64, 4, 7, 16, 31, 32, 33, 63, 10, 11, 12, 65, 200]:
    ids = [r.randrange(999, 28996) for _ in range(L)]
    if L >= 2:
        ids[0], ids[-1] = 101, 102
    print(json.dumps(ids))
EOF

# gen NAME ARGS...: write a model into $TMP/NAME
gen() {
    local name=$1; shift
    if ! "$PY" "$GEN" "$TMP/$name" "$@" > "$TMP/$name.gen.log" 2>&1; then
        bad "$name: gen_model.py $*"; cat "$TMP/$name.gen.log"; return 1
    fi
}

# parity NAME MODEL_DIR IDS C_ARGS...: C vs torch on one model, max abs diff <= 1e-4
parity() {
    local name=$1 dir=$2 ids=$3; shift 3
    if ! "$DRIVER" --embed-ids "$@" "$dir" < "$ids" > "$TMP/$name.c" 2> "$TMP/$name.c.err"; then
        bad "$name: C encoder failed: $(head -c 400 "$TMP/$name.c.err")"; return 1
    fi
    if ! "$PY" "$TORCH" --threads 2 "$dir" < "$ids" > "$TMP/$name.torch" 2> "$TMP/$name.t.err"; then
        bad "$name: torch reference failed: $(tail -n 3 "$TMP/$name.t.err")"; return 1
    fi
    local line
    if line=$("$PY" "$CMP" "$TMP/$name.c" "$TMP/$name.torch" --max-abs 1e-4 --label "$name"); then
        ok "$line"
    else
        bad "$line"
    fi
}

# close NAME A B: cosine >= 0.999 row by row
close() {
    local line
    if line=$("$PY" "$CMP" "$2" "$3" --min-cos 0.999 --label "$1"); then ok "$line"; else bad "$line"; fi
}

t0=$(date +%s)
gen tiny --tiny --seed 11 && parity tiny_mean "$TMP/tiny" "$TMP/ids.jsonl" --threads 2
# the fp32 products' OpenBLAS path (CPUs without AVX-512; ml/sgemm.h)
[ -s "$TMP/tiny_mean.c" ] &&
    MLW_SGEMM_OPENBLAS=1 parity tiny_mean_openblas "$TMP/tiny" "$TMP/ids.jsonl" --threads 2
gen tiny_cls --tiny --seed 12 --std 0.2 --pooling cls --prefix bert. --position-ids &&
    parity tiny_cls_prefix_std0.2 "$TMP/tiny_cls" "$TMP/ids.jsonl" --threads 1
gen tiny_max --tiny --seed 13 --std 0.2 --pooling max &&
    parity tiny_max_std0.2_batch7 "$TMP/tiny_max" "$TMP/ids.jsonl" --threads 2 --batch 7
gen tiny_f16 --tiny --seed 11 --dtype f16 && {
    parity tiny_f16 "$TMP/tiny_f16" "$TMP/ids.jsonl" --threads 2
    [ -s "$TMP/tiny_mean.torch" ] && close tiny_f16_vs_fp32 "$TMP/tiny_f16.c" "$TMP/tiny_mean.torch"
}
gen tiny_bf16 --tiny --seed 11 --dtype bf16 && {
    parity tiny_bf16 "$TMP/tiny_bf16" "$TMP/ids.jsonl" --threads 2
    [ -s "$TMP/tiny_mean.torch" ] && close tiny_bf16_vs_fp32 "$TMP/tiny_bf16.c" "$TMP/tiny_mean.torch"
}

if [ "${MLW_SKIP_BERT_BASE:-0}" != 1 ]; then
    # The base-shaped checkpoint (440 MB) is cached in the build directory.
    BASE="$BUILD/ml-models/bert-base-f32-seed1"
    if [ ! -f "$BASE/.complete" ]; then
        rm -rf "$BASE"
        mkdir -p "$BUILD/ml-models"
        if "$PY" "$GEN" "$BASE" --base --seed 1 > "$TMP/base.gen.log" 2>&1; then
            touch "$BASE/.complete"
        else
            bad "base: gen_model.py failed"; cat "$TMP/base.gen.log"
        fi
    fi
    if [ -f "$BASE/.complete" ]; then
        sed -n '1p;5p;8p;10p;14p;17p;21p' "$TMP/ids.jsonl" > "$TMP/ids_base.jsonl"
        parity base_mean "$BASE" "$TMP/ids_base.jsonl" --threads 2
    fi
fi
echo "# $(( $(date +%s) - t0 )) s"
finish
