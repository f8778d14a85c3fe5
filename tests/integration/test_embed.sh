#!/usr/bin/env bash
# test_embed.sh - `mlworker embed` (text in, embedding out) and the bf16 / int8 weight formats.
#
#   text parity   `mlworker embed` on lab names, clinical phrases, unicode, an empty line and a
#                 text longer than max_seq_length, against PyTorch (tests/ml/torch_embed.py) fed
#                 the ids of Hugging Face `tokenizers` (tests/tokenizer/hf_tokenize.js):
#                 max |diff| <= 1e-4. Variants: tokenizer_config do_lower_case, and
#                 sentence_bert_config do_lower_case (text lower-cased before tokenizing).
#   dtypes        --dtype bf16: cosine >= 0.999 to PyTorch fp32; --dtype int8: >= 0.99; on the
#                 tiny config (weights std 0.02 and 0.2) and the BERT-base shape (12 x 768,
#                 vocab 28996; cached in $MLW_BUILD_DIR/ml-models, skipped with
#                 MLW_SKIP_BERT_BASE=1)
#   kernels       the portable int8 kernel (MLW_QGEMM_PORTABLE=1) gives the same bytes as the
#                 SIMD one; ML_WORKER_MODEL_DTYPE=int8 equals --dtype int8; a bad value fails
#   errors        no --model, a missing vocab.txt, a bad --dtype: clear message, exit 1/2
#
# Env (set by ctest): MLWORKER, MLW_BUILD_DIR, MLW_SOURCE_DIR, MLW_SHARED_DATA. Needs Debian's
# /usr/bin/python3 with python3-torch and numpy, and node with tests/node_modules/tokenizers.
set -u
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MLW_BUILD_DIR:-$SRC/build}
MLW=${MLWORKER:-$BUILD/mlworker}
PY=/usr/bin/python3
GEN="$SRC/tests/ml/gen_model.py"
TORCH="$SRC/tests/ml/torch_embed.py"
CMP="$SRC/tests/ml/compare.py"
HF="$SRC/tests/tokenizer/hf_tokenize.js"
export MLW_SHARED_DATA=${MLW_SHARED_DATA:-$SRC/../shared/data}
unset ML_WORKER_MODEL_DTYPE

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
    bad "prerequisite: $PY cannot import torch and numpy"; finish
fi
if ! command -v node >/dev/null || [ ! -d "$SRC/tests/node_modules/tokenizers" ]; then
    bad "prerequisite: node and tests/node_modules/tokenizers (scripts/install-deps.sh test)"
    finish
fi
[ -x "$MLW" ] || { bad "prerequisite: $MLW not built"; finish; }

TMP=$(mktemp -d /tmp/mlw_embed.XXXXXX)
source "$SRC/tests/test_logs.sh" && mlw_reset_logs # mlw_keep_logs: logs kept for the secret scan
trap 'mlw_keep_logs "$TMP"; rm -rf "$TMP"' EXIT
t0=$(date +%s)

# texts.txt: one text per line (what mlworker reads); texts.jsonl: the same as JSON strings
"$PY" - "$TMP" <<'EOF'
import json, sys
d = sys.argv[1]
texts = [
    "HbA1c", "Hemoglobin A1c/Hemoglobin.total in Blood", "Glucose [Mass/volume] in Serum or Plasma",
    "LDL Cholesterol", "eGFR (CKD-EPI 2021)", "TSH, 3rd generation", "Vitamin D, 25-Hydroxy",
    "", "  leading and trailing spaces  ", "Créatinine sérique", "Ärztliche Überweisung",
    "白血球数", "Na+ / K+ ratio 😀", "ALT (SGPT) U/L", "urine albumin:creatinine ratio",
    "C-reactive protein, high sensitivity [hs-CRP]", "ÉCHANTILLON ÎLE",
    " ".join(["Hemoglobin A1c in Blood by HPLC"] * 30),   # > 128 tokens: truncated
]
with open(d + "/texts.txt", "w") as f:
    for t in texts:
        f.write(t + "\n")
with open(d + "/texts.jsonl", "w") as f:
    for t in texts:
        f.write(json.dumps(t) + "\n")
with open(d + "/texts_lower.jsonl", "w") as f:
    for t in texts:
        f.write(json.dumps(t.lower()) + "\n")
EOF

# hf_ids IN OUT HF_ARGS...: Hugging Face token ids as JSON arrays, one per line
hf_ids() {
    local in=$1 out=$2; shift 2
    node "$HF" --vocab "$MLW_SHARED_DATA/bert-base-cased-vocab.txt" --input "$in" "$@" |
        "$PY" -c 'import sys, json
for l in sys.stdin: print(json.dumps([int(v) for v in l.split()]))' > "$out"
}

gen() {
    local name=$1; shift
    if ! "$PY" "$GEN" "$TMP/$name" "$@" > "$TMP/$name.gen.log" 2>&1; then
        bad "$name: gen_model.py $*"; cat "$TMP/$name.gen.log"; return 1
    fi
}

# torch_ref NAME DIR IDS: PyTorch fp32 embeddings into $TMP/NAME.torch
torch_ref() {
    if ! "$PY" "$TORCH" --threads 2 "$2" < "$3" > "$TMP/$1.torch" 2> "$TMP/$1.t.err"; then
        bad "$1: torch reference failed: $(tail -n 3 "$TMP/$1.t.err")"; return 1
    fi
}

# embed NAME DIR ARGS...: mlworker embed of texts.txt into $TMP/NAME.c
embed() {
    local name=$1 dir=$2; shift 2
    if ! "$MLW" embed --model "$dir" "$@" < "$TMP/texts.txt" > "$TMP/$name.c" 2> "$TMP/$name.err"
    then
        bad "$name: mlworker embed failed: $(head -c 400 "$TMP/$name.err")"; return 1
    fi
}

# check NAME A B BOUND...: compare.py line as a test result
check() {
    local name=$1 a=$2 b=$3 line; shift 3
    if line=$("$PY" "$CMP" "$a" "$b" "$@" --label "$name"); then ok "$line"; else bad "$line"; fi
}

# --- text parity, fp32 -------------------------------------------------------------------
hf_ids "$TMP/texts.jsonl" "$TMP/ids_cased.jsonl" --max-length 128
gen tiny --tiny --seed 11 && torch_ref tiny "$TMP/tiny" "$TMP/ids_cased.jsonl" &&
    embed tiny_fp32 "$TMP/tiny" --threads 2 &&
    check text_tiny_fp32 "$TMP/tiny_fp32.c" "$TMP/tiny.torch" --max-abs 1e-4

# tokenizer_config.json do_lower_case true (the tokenizer lower-cases and strips accents)
if gen tiny_uncased --tiny --seed 11; then
    sed -i 's/"do_lower_case": false/"do_lower_case": true/' "$TMP/tiny_uncased/tokenizer_config.json"
    hf_ids "$TMP/texts.jsonl" "$TMP/ids_lower.jsonl" --max-length 128 --lower
    torch_ref tiny_uncased "$TMP/tiny_uncased" "$TMP/ids_lower.jsonl" &&
        embed tiny_uncased "$TMP/tiny_uncased" --threads 1 &&
        check text_tokenizer_lowercase "$TMP/tiny_uncased.c" "$TMP/tiny_uncased.torch" --max-abs 1e-4
fi

# sentence_bert_config.json do_lower_case true (str.lower() before a cased tokenizer)
if gen tiny_stlower --tiny --seed 11; then
    sed -i 's/"do_lower_case": false/"do_lower_case": true/' "$TMP/tiny_stlower/sentence_bert_config.json"
    hf_ids "$TMP/texts_lower.jsonl" "$TMP/ids_stlower.jsonl" --max-length 128
    torch_ref tiny_stlower "$TMP/tiny_stlower" "$TMP/ids_stlower.jsonl" &&
        embed tiny_stlower "$TMP/tiny_stlower" &&
        check text_sbert_lowercase "$TMP/tiny_stlower.c" "$TMP/tiny_stlower.torch" --max-abs 1e-4
fi

# texts as arguments give the same lines as stdin
mapfile -t args < "$TMP/texts.txt"
if "$MLW" embed --model "$TMP/tiny" --threads 2 -- "${args[@]}" > "$TMP/args.c" 2>"$TMP/args.err" &&
    cmp -s "$TMP/args.c" "$TMP/tiny_fp32.c"; then
    ok "texts as arguments = texts on stdin ($(wc -l < "$TMP/args.c") lines)"
else
    bad "texts as arguments differ from stdin: $(head -c 300 "$TMP/args.err")"
fi

# --- bf16 / int8 on the tiny config --------------------------------------------------------
if [ -s "$TMP/tiny.torch" ]; then
    embed tiny_bf16 "$TMP/tiny" --dtype bf16 &&
        check tiny_bf16_vs_torch_fp32 "$TMP/tiny_bf16.c" "$TMP/tiny.torch" --min-cos 0.999
    embed tiny_int8 "$TMP/tiny" --dtype int8 &&
        check tiny_int8_vs_torch_fp32 "$TMP/tiny_int8.c" "$TMP/tiny.torch" --min-cos 0.99
fi
gen tiny_wide --tiny --seed 12 --std 0.2 --pooling cls &&
    torch_ref tiny_wide "$TMP/tiny_wide" "$TMP/ids_cased.jsonl" && {
    embed tiny_wide_bf16 "$TMP/tiny_wide" --dtype bf16 --threads 1 &&
        check tiny_std0.2_bf16_vs_torch_fp32 "$TMP/tiny_wide_bf16.c" "$TMP/tiny_wide.torch" --min-cos 0.999
    embed tiny_wide_int8 "$TMP/tiny_wide" --dtype int8 --threads 2 --batch 5 &&
        check tiny_std0.2_int8_vs_torch_fp32 "$TMP/tiny_wide_int8.c" "$TMP/tiny_wide.torch" --min-cos 0.99
}
# an F16 checkpoint converted to int8 at load
gen tiny_f16 --tiny --seed 11 --dtype f16 && embed tiny_f16_int8 "$TMP/tiny_f16" --dtype int8 &&
    [ -s "$TMP/tiny.torch" ] &&
    check tiny_f16_ckpt_int8_vs_torch_fp32 "$TMP/tiny_f16_int8.c" "$TMP/tiny.torch" --min-cos 0.99

# --- kernels and the environment variable -------------------------------------------------
if [ -s "$TMP/tiny_wide_int8.c" ]; then
    if MLW_QGEMM_PORTABLE=1 "$MLW" embed --model "$TMP/tiny_wide" --dtype int8 --threads 2 \
           --batch 5 < "$TMP/texts.txt" > "$TMP/portable.c" && cmp -s "$TMP/portable.c" "$TMP/tiny_wide_int8.c"
    then
        ok "int8: portable kernel output identical to the SIMD kernel's"
    else
        bad "int8: portable kernel output differs from the SIMD kernel's"
    fi
    MLW_QGEMM_PORTABLE=1 "$MLW" embed --model "$TMP/tiny_wide" --dtype bf16 < "$TMP/texts.txt" \
        > "$TMP/portable_bf16.c" 2>/dev/null &&
        check tiny_std0.2_bf16_portable_vs_torch_fp32 "$TMP/portable_bf16.c" "$TMP/tiny_wide.torch" --min-cos 0.999
    if ML_WORKER_MODEL_DTYPE=INT8 "$MLW" embed --model "$TMP/tiny_wide" --threads 2 --batch 5 \
           < "$TMP/texts.txt" > "$TMP/env.c" && cmp -s "$TMP/env.c" "$TMP/tiny_wide_int8.c"; then
        ok "ML_WORKER_MODEL_DTYPE=INT8 = --dtype int8"
    else
        bad "ML_WORKER_MODEL_DTYPE=INT8 differs from --dtype int8"
    fi
fi

# --- errors -------------------------------------------------------------------------------
# expect_fail NAME STATUS PATTERN CMD...: exit status and a message on stderr
expect_fail() {
    local name=$1 want=$2 pat=$3; shift 3
    local out rc
    out=$("$@" 2>&1 >/dev/null < /dev/null); rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -- "$pat" <<<"$out"; then
        ok "$name: exit $rc, \"$(head -n 1 <<<"$out" | head -c 150)\""
    else
        bad "$name: exit $rc (want $want), stderr: $(head -c 300 <<<"$out")"
    fi
}
expect_fail "no --model" 2 "--model DIR is required" "$MLW" embed hello
expect_fail "bad --dtype" 2 "fp32, bf16 or int8" "$MLW" embed --model "$TMP/tiny" --dtype fp8 x
expect_fail "bad ML_WORKER_MODEL_DTYPE" 1 "ML_WORKER_MODEL_DTYPE=fp8" \
    env ML_WORKER_MODEL_DTYPE=fp8 "$MLW" embed --model "$TMP/tiny" x
if [ -d "$TMP/tiny" ]; then
    mkdir -p "$TMP/novocab" && cp -r "$TMP/tiny/." "$TMP/novocab/" && rm -f "$TMP/novocab/vocab.txt"
    expect_fail "missing vocab.txt" 1 "novocab/vocab.txt: missing" "$MLW" embed --model "$TMP/novocab" x
fi
expect_fail "missing model dir" 1 "config.json" "$MLW" embed --model "$TMP/nonexistent" x

# --- BERT-base shape ----------------------------------------------------------------------
if [ "${MLW_SKIP_BERT_BASE:-0}" != 1 ]; then
    BASE="$BUILD/ml-models/bert-base-f32-seed1"   # shared with test_bert_parity.sh
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
        torch_ref base "$BASE" "$TMP/ids_cased.jsonl" && {
            embed base_fp32 "$BASE" &&
                check base_text_fp32 "$TMP/base_fp32.c" "$TMP/base.torch" --max-abs 1e-4
            embed base_bf16 "$BASE" --dtype bf16 &&
                check base_bf16_vs_torch_fp32 "$TMP/base_bf16.c" "$TMP/base.torch" --min-cos 0.999
            embed base_int8 "$BASE" --dtype int8 &&
                check base_int8_vs_torch_fp32 "$TMP/base_int8.c" "$TMP/base.torch" --min-cos 0.99
        }
    fi
fi
echo "# $(( $(date +%s) - t0 )) s"
finish
