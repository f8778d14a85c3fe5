#!/usr/bin/env bash
# test_torchbin.sh - BERT weights from pytorch_model.bin (PyTorch zip and legacy formats),
# `mlworker model info` and `mlworker model convert`.
#
#   parity    a tiny random BERT written as model.safetensors (tests/ml/gen_model.py) and as
#             pytorch_model.bin by torch.save (tests/ml/gen_torchbin.py): zip and legacy
#             formats, fp32 and fp16, plain names and BertForPreTraining-style ("bert." prefix,
#             cls.* heads, decoder weight tied to the word embeddings, every matrix stored
#             with transposed strides): `mlworker embed` output is byte-identical to the
#             safetensors directory's
#   convert   `model convert` writes model.safetensors whose tensors equal the source's
#             (numpy reads both), whose header is 8-byte aligned, and which gives identical
#             embeddings; refuses to overwrite without --force; --out
#   info      format, counts, "loads: yes"
#   errors    truncated (zip and legacy, many lengths), a flipped byte (CRC), garbage, an
#             empty file, a pickle calling os.system, a missing tensor, a shape that
#             disagrees with config.json: exit 1 with a message naming the file, no crash;
#             convert of a bad file leaves nothing behind
#
# Env (set by ctest): MLWORKER, MLW_BUILD_DIR, MLW_SOURCE_DIR, MLW_SHARED_DATA. Needs Debian's
# /usr/bin/python3 with python3-torch and numpy.
set -u
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MLW_BUILD_DIR:-$SRC/build}
MLW=${MLWORKER:-$BUILD/mlworker}
PY=/usr/bin/python3
GEN="$SRC/tests/ml/gen_model.py"
GENBIN="$SRC/tests/ml/gen_torchbin.py"
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
[ -x "$MLW" ] || { bad "prerequisite: $MLW not built"; finish; }

TMP=$(mktemp -d /tmp/mlw_torchbin.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
printf '%s\n' "HbA1c" "Glucose [Mass/volume] in Serum or Plasma" "LDL Cholesterol" \
    "Créatinine sérique" "eGFR (CKD-EPI 2021)" > "$TMP/texts.txt"

# embed NAME DIR: embeddings of texts.txt into $TMP/NAME.out; returns mlworker's status
embed() {
    "$MLW" embed --model "$2" --threads 1 < "$TMP/texts.txt" > "$TMP/$1.out" 2> "$TMP/$1.err"
}

# same NAME REF DIR: embeddings from DIR are byte-identical to REF's
same() {
    if ! embed "$1" "$3"; then
        bad "$1: mlworker embed failed: $(head -c 400 "$TMP/$1.err")"
    elif [ ! -s "$TMP/$1.out" ]; then
        bad "$1: no output"
    elif cmp -s "$TMP/$1.out" "$TMP/$2.out"; then
        ok "$1: embeddings byte-identical to $2"
    else
        bad "$1: embeddings differ from $2"
    fi
}

genbin() {
    local src=$1 out=$2; shift 2
    if ! "$PY" "$GENBIN" "$src" "$out" "$@" > "$TMP/gen.log" 2>&1; then
        bad "gen_torchbin.py $out $*: $(tail -n 3 "$TMP/gen.log")"; return 1
    fi
}

# --- models -------------------------------------------------------------------------------
for dt in f32 f16; do
    if ! "$PY" "$GEN" "$TMP/st_$dt" --tiny --seed 21 --dtype "$dt" --position-ids \
            > "$TMP/gen.log" 2>&1; then
        bad "gen_model.py --dtype $dt: $(tail -n 3 "$TMP/gen.log")"; finish
    fi
    if ! embed "ref_$dt" "$TMP/st_$dt"; then
        bad "reference embed ($dt): $(head -c 400 "$TMP/ref_$dt.err")"; finish
    fi
done
if cmp -s "$TMP/ref_f32.out" "$TMP/ref_f16.out"; then
    bad "fp32 and fp16 references are identical (the fp16 variant tests nothing)"
fi

# --- parity --------------------------------------------------------------------------------
for dt in f32 f16; do
    genbin "$TMP/st_$dt" "$TMP/zip_$dt" && same "zip_$dt" "ref_$dt" "$TMP/zip_$dt"
    genbin "$TMP/st_$dt" "$TMP/legacy_$dt" --legacy &&
        same "legacy_$dt" "ref_$dt" "$TMP/legacy_$dt"
    genbin "$TMP/st_$dt" "$TMP/heads_$dt" --heads --strided &&
        same "heads_strided_$dt" "ref_$dt" "$TMP/heads_$dt"
done
genbin "$TMP/st_f32" "$TMP/legacy_heads" --legacy --heads --strided &&
    same legacy_heads_strided ref_f32 "$TMP/legacy_heads"
[ ! -e "$TMP/zip_f32/model.safetensors" ] || bad "gen_torchbin.py left a model.safetensors"
# int8 packs the weights at load (and releases their pages): strided copies too
for d in st_f32 heads_f32; do
    "$MLW" embed --model "$TMP/$d" --threads 2 --dtype int8 < "$TMP/texts.txt" \
        > "$TMP/int8_$d.out" 2>&1
done
[ -s "$TMP/int8_st_f32.out" ] && cmp -s "$TMP/int8_st_f32.out" "$TMP/int8_heads_f32.out" &&
    ok "int8: prefixed, tied, strided .bin identical to safetensors" ||
    bad "int8 .bin vs safetensors: $(head -c 300 "$TMP/int8_heads_f32.out")"

# --- info ----------------------------------------------------------------------------------
if out=$("$MLW" model info "$TMP/heads_f32" 2>&1) &&
        grep -q "pytorch_model.bin (pytorch-zip" <<<"$out" &&
        grep -q "8 \"cls.\*\" heads" <<<"$out" && grep -q "loads: *yes" <<<"$out" &&
        grep -q "I64 x 1" <<<"$out"; then
    ok "model info: format, heads, dtypes, loads"
else
    bad "model info: $out"
fi
out=$("$MLW" model info "$TMP/legacy_f16" 2>&1) && grep -q "pytorch-legacy" <<<"$out" &&
    grep -q "F16 x" <<<"$out" && ok "model info: legacy fp16" || bad "model info legacy: $out"

# --- convert -------------------------------------------------------------------------------
for v in zip_f32 legacy_f16 heads_f32; do
    cp -r "$TMP/$v" "$TMP/conv_$v"
    if ! out=$("$MLW" model convert "$TMP/conv_$v" 2>&1); then
        bad "convert $v: $out"; continue
    fi
    ok "convert $v: $out"
    ref=ref_f32; [ "$v" = legacy_f16 ] && ref=ref_f16
    rm "$TMP/conv_$v/pytorch_model.bin" # the safetensors file alone must do
    same "converted_$v" "$ref" "$TMP/conv_$v"
done
# tensors of the converted file equal the original safetensors file's, dtype and all
if out=$("$PY" - "$TMP/st_f32/model.safetensors" "$TMP/conv_zip_f32/model.safetensors" \
        "$TMP/st_f16/model.safetensors" "$TMP/conv_legacy_f16/model.safetensors" 2>&1 <<'EOF'
import json, struct, sys
import numpy as np
def read(path):
    buf = open(path, "rb").read()
    (n,) = struct.unpack("<Q", buf[:8])
    if (8 + n) % 8:
        raise SystemExit("%s: data does not start at a multiple of 8" % path)
    h = json.loads(buf[8:8 + n])
    meta = h.pop("__metadata__", {})
    end = max(v["data_offsets"][1] for v in h.values())
    if 8 + n + end != len(buf):
        raise SystemExit("%s: data buffer size mismatch" % path)
    return meta, {k: (v["dtype"], v["shape"], buf[8 + n + v["data_offsets"][0]:
                                               8 + n + v["data_offsets"][1]])
                  for k, v in h.items()}
for a, b in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    (_, ta), (mb, tb) = read(a), read(b)
    if mb.get("format") != "pt":
        raise SystemExit("%s: __metadata__.format is not pt" % b)
    if ta.keys() != tb.keys():
        raise SystemExit("names differ: %s" % sorted(set(ta) ^ set(tb)))
    for k in ta:
        if ta[k] != tb[k]:
            raise SystemExit("tensor %s differs" % k)
print("%d + %d tensors equal" % (len(read(sys.argv[1])[1]), len(read(sys.argv[3])[1])))
EOF
); then ok "converted tensors equal the originals: $out"; else bad "converted tensors: $out"; fi
"$MLW" model convert "$TMP/conv_heads_f32" > "$TMP/c.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "exists (--force" "$TMP/c.out" && ok "convert refuses to overwrite" ||
    bad "convert over an existing file: rc $rc $(cat "$TMP/c.out")"
cp "$TMP/zip_f32/pytorch_model.bin" "$TMP/conv_heads_f32/"
"$MLW" model convert "$TMP/conv_heads_f32" --force --out "$TMP/other.safetensors" \
    > "$TMP/c.out" 2>&1 && [ -s "$TMP/other.safetensors" ] && ok "convert --force --out" ||
    bad "convert --out: $(cat "$TMP/c.out")"

# --- errors --------------------------------------------------------------------------------
# fails NAME DIR NEEDLE: embed exits 1 (no crash) and stderr names the file and NEEDLE
fails() {
    local name=$1 dir=$2 needle=$3 rc
    embed "$name" "$dir"
    rc=$?
    if [ $rc -ne 1 ]; then
        bad "$name: exit $rc (want 1): $(head -c 300 "$TMP/$name.err")"
    elif ! grep -qF "$dir/pytorch_model.bin" "$TMP/$name.err"; then
        bad "$name: message does not name the file: $(head -c 300 "$TMP/$name.err")"
    elif ! grep -qF -- "$needle" "$TMP/$name.err"; then
        bad "$name: message lacks \"$needle\": $(head -c 300 "$TMP/$name.err")"
    else
        ok "$name: $(head -c 200 "$TMP/$name.err")"
    fi
}
mkdir -p "$TMP/bad"
(cd "$TMP/zip_f32" && cp -r config.json modules.json 1_Pooling sentence_bert_config.json \
    tokenizer_config.json vocab.txt "$TMP/bad/")
for fmt in zip_f32 legacy_f32; do
    size=$(stat -c %s "$TMP/$fmt/pytorch_model.bin")
    for n in 0 15 700 4096 $((size / 2)) $((size - 23)) $((size - 1)); do
        head -c "$n" "$TMP/$fmt/pytorch_model.bin" > "$TMP/bad/pytorch_model.bin"
        fails "truncated_${fmt}_$n" "$TMP/bad" ""
    done
done
# a flipped byte inside data.pkl (zip): the CRC check
cp "$TMP/zip_f32/pytorch_model.bin" "$TMP/bad/pytorch_model.bin"
printf 'Z' | dd of="$TMP/bad/pytorch_model.bin" bs=1 seek=200 conv=notrunc status=none
fails crc_data_pkl "$TMP/bad" "CRC"
head -c 100000 /dev/urandom > "$TMP/bad/pytorch_model.bin"
fails garbage "$TMP/bad" "not a PyTorch checkpoint"
rm -f /tmp/Zq
genbin "$TMP/st_f32" "$TMP/evil" --evil && fails evil_os_system "$TMP/evil" \
    'global "os.system" is not allowed'
[ ! -e /tmp/Zq ] && ok "os.system was not run" || bad "os.system ran"
genbin "$TMP/st_f32" "$TMP/drop" --drop encoder.layer.1.attention.self.key.weight &&
    fails missing_tensor "$TMP/drop" 'missing tensor "encoder.layer.1.attention.self.key.weight"'
cp -r "$TMP/zip_f32" "$TMP/shape"
sed -i 's/"intermediate_size": 64/"intermediate_size": 48/' "$TMP/shape/config.json"
fails wrong_shape "$TMP/shape" 'tensor "encoder.layer.0.intermediate.dense.bias" has shape [64], expected [48]'
# convert of a truncated file: exit 1, nothing left behind
head -c 5000 "$TMP/zip_f32/pytorch_model.bin" > "$TMP/bad/pytorch_model.bin"
rm -f "$TMP/bad/model.safetensors"*
"$MLW" model convert "$TMP/bad" > "$TMP/c.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -qF "$TMP/bad/pytorch_model.bin" "$TMP/c.out" &&
        [ -z "$(ls "$TMP/bad" | grep safetensors)" ]; then
    ok "convert of a truncated file: exit 1, nothing written"
else
    bad "convert truncated: rc $rc, $(cat "$TMP/c.out"), $(ls "$TMP/bad")"
fi
rm "$TMP/bad/pytorch_model.bin"
embed noweights "$TMP/bad"
[ $? -eq 1 ] && grep -q "neither model.safetensors nor pytorch_model.bin" "$TMP/noweights.err" &&
    ok "no weight file: both names in the message" || bad "no weights: $(cat "$TMP/noweights.err")"
finish
