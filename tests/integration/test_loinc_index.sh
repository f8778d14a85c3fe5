#!/usr/bin/env bash
# test_loinc_index.sh - `mlworker loinc build` / `search` / `info` round trip on
# ../shared/data/loinc-sample.csv with a tiny random-weight model (tests/ml/gen_model.py).
#
#   build       default selection (laboratory CLASSTYPE, ACTIVE/TRIAL): 302 of 322 rows;
#               --all-classes --status ALL: 322; --limit; progress lines on stderr
#   round trip  each term's own embedding text, searched, finds that term first (score ~1),
#               with f32 and int8 vectors and an int8 encoder
#   filters     --specimen urine / --unit mg/dL keep only matching systems / properties;
#               an unknown unit is reported and not applied
#   resume      a build killed (SIGKILL) mid-way resumes from its .partial file and gives the
#               same bytes as an uninterrupted build; SIGINT stops cleanly with status 130
#   errors      another model, a missing index, a corrupt index, a bad CSV: clear message, exit 1
#
# Env (set by ctest): MLWORKER, MLW_SOURCE_DIR, MLW_SHARED_DATA. Needs /usr/bin/python3 + numpy.
set -u
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MLW_BUILD_DIR:-$SRC/build}
MLW=${MLWORKER:-$BUILD/mlworker}
PY=/usr/bin/python3
export MLW_SHARED_DATA=${MLW_SHARED_DATA:-$SRC/../shared/data}
CSV="$MLW_SHARED_DATA/loinc-sample.csv"
unset ML_WORKER_MODEL_DTYPE ML_WORKER_MODEL_DIR ML_WORKER_LOINC_INDEX

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
bad() { failed=$((failed + 1)); echo "not ok - $*"; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
[ -x "$MLW" ] || { bad "prerequisite: $MLW not built"; finish; }
[ -f "$CSV" ] || { bad "prerequisite: $CSV missing"; finish; }
"$PY" -c 'import numpy' 2>/dev/null || { bad "prerequisite: $PY cannot import numpy"; finish; }

TMP=$(mktemp -d /tmp/mlw_loinc.XXXXXX)
source "$SRC/tests/test_logs.sh" && mlw_reset_logs # mlw_keep_logs: logs kept for the secret scan
trap 'mlw_keep_logs "$TMP"; rm -rf "$TMP"' EXIT
t0=$(date +%s)

for spec in "tiny 11" "other 12"; do
    set -- $spec
    "$PY" "$SRC/tests/ml/gen_model.py" "$TMP/$1" --tiny --seed "$2" > /dev/null 2>&1 ||
        { bad "gen_model.py $1"; finish; }
done

# build NAME ARGS...: loinc build into $TMP/NAME.idx; stderr kept in $TMP/NAME.log
build() {
    local name=$1; shift
    "$MLW" loinc build --loinc "$CSV" --model "$TMP/tiny" --out "$TMP/$name.idx" "$@" \
        2> "$TMP/$name.log"
}

if build f32 --batch 50 && grep -q "322 rows, 302 selected" "$TMP/f32.log" &&
    grep -q "302/302 (100.0%)" "$TMP/f32.log" && grep -q "ETA" "$TMP/f32.log"; then
    ok "build: 302 of 322 rows selected, progress with ETA on stderr"
else
    bad "build: $(tail -n 5 "$TMP/f32.log")"
fi
if "$MLW" loinc info --index "$TMP/f32.idx" > "$TMP/info" &&
    grep -q "302 x 32 f32" "$TMP/info" && grep -q "tiny@" "$TMP/info"; then
    ok "info: $(tr '\n' ' ' < "$TMP/info" | head -c 200)"
else
    bad "info: $(cat "$TMP/info")"
fi
build all --all-classes --status ALL && "$MLW" loinc info --index "$TMP/all.idx" | grep -q "322 x 32" &&
    ok "build --all-classes --status ALL: 322 terms" || bad "build --all-classes --status ALL"
build lim --limit 40 --vectors int8 && "$MLW" loinc info --index "$TMP/lim.idx" | grep -q "40 x 32 int8" &&
    ok "build --limit 40 --vectors int8" || bad "build --limit 40 --vectors int8"
build i8 --vectors int8 --dtype int8 || bad "build --vectors int8 --dtype int8: $(tail -n 3 "$TMP/i8.log")"

# queries.txt: each selected term's embedding text; expect.txt: its code (same selection and
# recipe as loinc.h: CLASSTYPE 1, ACTIVE/TRIAL; "long; component; system; related")
"$PY" - "$CSV" "$TMP" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
sel = [r for r in rows if r["CLASSTYPE"] == "1" and r["STATUS"] in ("ACTIVE", "TRIAL")]
texts = {}
for r in sel:
    t = "; ".join(p for p in (r["LONG_COMMON_NAME"], r["COMPONENT"], r["SYSTEM"],
                              r["RELATEDNAMES2"]) if p)
    texts.setdefault(t, []).append(r["LOINC_NUM"])
with open(sys.argv[2] + "/queries.txt", "w") as q, open(sys.argv[2] + "/expect.txt", "w") as e:
    for t, codes in texts.items():
        if len(codes) == 1:          # identical texts cannot be told apart
            q.write(t + "\n"); e.write(codes[0] + "\n")
EOF

# roundtrip NAME INDEX MIN_SCORE MIN_FRACTION ARGS...
roundtrip() {
    local name=$1 idx=$2 min=$3 frac=$4; shift 4
    if ! "$MLW" loinc search --index "$idx" --json -k 3 "$@" < "$TMP/queries.txt" \
            > "$TMP/$name.json" 2> "$TMP/$name.err"; then
        bad "$name: search failed: $(head -c 300 "$TMP/$name.err")"; return
    fi
    local line
    if line=$("$PY" - "$TMP/$name.json" "$TMP/expect.txt" "$min" "$frac" <<'EOF'
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
exp = [l.strip() for l in open(sys.argv[2])]
assert len(res) == len(exp), (len(res), len(exp))
first = sum(r["results"][0]["code"] == e for r, e in zip(res, exp))
low = min(r["results"][0]["score"] for r in res)
ranked = all(r["results"][0]["score"] >= r["results"][1]["score"] >= r["results"][2]["score"]
             for r in res)
print("%d/%d queries find their own term first, min top score %.5f, ranked %s"
      % (first, len(exp), low, ranked))
sys.exit(0 if first >= float(sys.argv[4]) * len(exp) and low >= float(sys.argv[3]) and ranked
         else 1)
EOF
    ); then ok "$name: $line"; else bad "$name: $line"; fi
}
roundtrip roundtrip_f32 "$TMP/f32.idx" 0.9999 1.0
build f32_i8model --dtype int8 || bad "build --dtype int8: $(tail -n 3 "$TMP/f32_i8model.log")"
roundtrip roundtrip_f32_vectors_int8_model "$TMP/f32_i8model.idx" 0.9999 1.0
# The tiny random model's embeddings crowd together (rank 1 and 2 differ by ~0.003 on
# average), closer than int8 vector rounding resolves, so int8 vectors are held to less here.
roundtrip roundtrip_int8_vectors_int8_model "$TMP/i8.idx" 0.99 0.8
# a copy of the model under another name is the same model
cp -r "$TMP/tiny" "$TMP/tiny_copy"
"$MLW" loinc search --index "$TMP/f32.idx" --model "$TMP/tiny_copy" -k 1 hba1c > /dev/null 2>&1 &&
    ok "search with a renamed copy of the model" || bad "search with a renamed copy of the model"

# filters
if "$MLW" loinc search --index "$TMP/f32.idx" --json -k 500 --specimen urine potassium \
        > "$TMP/urine.json" &&
    "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
systems = sorted(set(x["system"] for x in r))
print(len(r), systems)
sys.exit(0 if r and all(s.lower().startswith("ur") for s in systems) else 1)' "$TMP/urine.json" \
        > "$TMP/urine.out"; then
    ok "--specimen urine: $(cat "$TMP/urine.out")"
else
    bad "--specimen urine: $(cat "$TMP/urine.out" 2>/dev/null)"
fi
if "$MLW" loinc search --index "$TMP/f32.idx" --json -k 500 --unit mg/dL glucose \
        > "$TMP/unit.json" &&
    "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
props = sorted(set(x["property"] for x in r))
print(len(r), props)
sys.exit(0 if r and all(p == "MCnc" or x["units"] == "mg/dL" for x in r for p in [x["property"]]) else 1)' \
        "$TMP/unit.json" > "$TMP/unit.out"; then
    ok "--unit mg/dL: $(cat "$TMP/unit.out")"
else
    bad "--unit mg/dL: $(cat "$TMP/unit.out" 2>/dev/null)"
fi
"$MLW" loinc search --index "$TMP/f32.idx" -k 3 --unit furlongs glucose > "$TMP/fur.out" 2> "$TMP/fur.err" &&
    grep -q "not recognised" "$TMP/fur.err" && [ "$(grep -c '^ *[0-9]' "$TMP/fur.out")" = 3 ] &&
    ok "unknown unit: reported, not applied" || bad "unknown unit: $(cat "$TMP/fur.err")"
"$MLW" loinc search --index "$TMP/f32.idx" -k 2 hba1c > "$TMP/text.out" &&
    grep -q "^# hba1c" "$TMP/text.out" && [ "$(grep -c '^ *[0-9] ' "$TMP/text.out")" = 2 ] &&
    ok "text output: $(sed -n 2p "$TMP/text.out" | head -c 120)" || bad "text output: $(cat "$TMP/text.out")"

# resume after SIGKILL: poll the .partial file until it holds some vectors, then kill -9
"$MLW" loinc build --loinc "$CSV" --model "$TMP/tiny" --out "$TMP/res.idx" --batch 1 --threads 1 \
    2> "$TMP/res1.log" &
pid=$!
want=$((512 + 40 * 128))     # header + 40 vectors of 32 floats
for _ in $(seq 1 2000); do
    size=$(stat -c %s "$TMP/res.idx.partial" 2>/dev/null || echo 0)
    [ "$size" -ge "$want" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ -f "$TMP/res.idx" ]; then
    echo "# the build finished before it could be killed; resume not exercised"
    ok "resume: (skipped: build too fast)"
else
    build res --batch 1 --threads 1 || true
    if grep -q "resuming .*res.idx.partial at term [1-9]" "$TMP/res.log"; then
        build ref --batch 1 --threads 1
        if cmp -s <(tail -c +513 "$TMP/res.idx") <(tail -c +513 "$TMP/ref.idx"); then
            ok "resume after SIGKILL: $(grep -o 'resuming.*' "$TMP/res.log"); result = uninterrupted build"
        else
            bad "resume after SIGKILL: index differs from an uninterrupted build"
        fi
    else
        bad "resume after SIGKILL: $(head -n 3 "$TMP/res.log")"
    fi
fi
# SIGINT: clean stop with status 130 and a hint
"$MLW" loinc build --loinc "$CSV" --model "$TMP/tiny" --out "$TMP/int.idx" --batch 1 --threads 1 \
    2> "$TMP/int.log" &
pid=$!
for _ in $(seq 1 2000); do
    [ "$(stat -c %s "$TMP/int.idx.partial" 2>/dev/null || echo 0)" -ge 1024 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
done
kill -INT "$pid" 2>/dev/null
wait "$pid"; rc=$?
if [ "$rc" = 130 ] && grep -q "again to resume" "$TMP/int.log"; then
    ok "SIGINT: exit 130, $(grep -o 'interrupted.*' "$TMP/int.log" | head -c 100)"
elif [ "$rc" = 0 ] && [ -f "$TMP/int.idx" ]; then
    ok "SIGINT: (skipped: build finished first)"
else
    bad "SIGINT: exit $rc, $(tail -n 2 "$TMP/int.log")"
fi

# errors
expect_fail() {
    local name=$1 pat=$2; shift 2
    local out rc
    out=$("$@" 2>&1 >/dev/null < /dev/null); rc=$?
    if [ "$rc" -eq 1 ] && grep -q -- "$pat" <<<"$out"; then
        ok "$name: \"$(head -n 1 <<<"$out" | head -c 160)\""
    else
        bad "$name: exit $rc, $(head -c 300 <<<"$out")"
    fi
}
expect_fail "another model" "was built with model" \
    "$MLW" loinc search --index "$TMP/f32.idx" --model "$TMP/other" hba1c
expect_fail "missing index" "cannot open" "$MLW" loinc search --index "$TMP/none.idx" hba1c
head -c 3000 "$TMP/f32.idx" > "$TMP/trunc.idx"
expect_fail "truncated index" "truncated" "$MLW" loinc search --index "$TMP/trunc.idx" hba1c
cp "$TMP/f32.idx" "$TMP/flip.idx"
printf '\x07' | dd of="$TMP/flip.idx" bs=1 seek=20 conv=notrunc 2>/dev/null
expect_fail "corrupt header" "checksum" "$MLW" loinc search --index "$TMP/flip.idx" hba1c
printf 'LOINC_NUM,COMPONENT\n1-8,x\n' > "$TMP/bad.csv"
expect_fail "bad CSV" "no SYSTEM column" \
    "$MLW" loinc build --loinc "$TMP/bad.csv" --model "$TMP/tiny" --out "$TMP/bad.idx"
out=$("$MLW" loinc search --bogus 2>&1); rc=$?
[ "$rc" = 2 ] && ok "usage error: exit 2" || bad "usage error: exit $rc $out"

echo "# $(( $(date +%s) - t0 )) s"
finish
