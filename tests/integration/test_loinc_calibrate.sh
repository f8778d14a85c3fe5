#!/usr/bin/env bash
# test_loinc_calibrate.sh - `mlworker loinc calibrate` on a tiny random-weight model
# (tests/ml/gen_model.py) and an index of ../shared/data/loinc-sample.csv.
#
#   decisions   a labelled list: exact LOINC long common names with their codes (the engine's
#               top candidate is the expected code), the same kind of names with a wrong expected
#               code, garbage names expecting no code; the --dump per-name decisions say so
#   table       the --json thresholds (accepted, correct, wrong, precision, recall, coverage at
#               every score where the outcome changes) equal an independent computation in
#               Python over the dump; the recommendation is the lowest threshold reaching the
#               target precision, and its printed value keeps exactly that outcome
#   text        the table and the ML_WORKER_LOINC_MIN_SCORE= line agree with --json
#   none        a list whose every accept is wrong: no threshold reaches the target (said, null)
#   errors      missing file, malformed line (file:line), bad option, missing arguments
#
# Env (set by ctest): MLWORKER, MLW_SOURCE_DIR, MLW_SHARED_DATA. Needs /usr/bin/python3 + numpy.
set -u
SRC=${MLW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MLW_BUILD_DIR:-$SRC/build}
MLW=${MLWORKER:-$BUILD/mlworker}
PY=/usr/bin/python3
export MLW_SHARED_DATA=${MLW_SHARED_DATA:-$SRC/../shared/data}
CSV="$MLW_SHARED_DATA/loinc-sample.csv"
unset ML_WORKER_MODEL_DIR ML_WORKER_LOINC_INDEX ML_WORKER_LOINC_MIN_SCORE ML_WORKER_LLM_URL \
      LOINC_ENABLED ML_WORKER_MODEL_DTYPE
export ML_WORKER_THREADS=1

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

TMP=$(mktemp -d /tmp/mlw_loinc_calibrate.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cp "$MLW" "$TMP/mlworker"
MLW=$TMP/mlworker

"$PY" "$SRC/tests/ml/gen_model.py" "$TMP/tiny" --tiny --seed 11 > /dev/null 2>&1 ||
    { bad "gen_model.py"; finish; }
"$MLW" loinc build --loinc "$CSV" --model "$TMP/tiny" --out "$TMP/loinc.idx" 2> "$TMP/build.log" ||
    { bad "loinc build: $(tail -n 3 "$TMP/build.log")"; finish; }

# 18 exact names with their codes, 6 with another term's code, 6 garbage names expecting none
"$PY" - "$CSV" "$TMP/lab.csv" "$TMP/wrong.csv" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], encoding="utf-8"))
        if r["CLASSTYPE"] == "1" and r["STATUS"] in ("ACTIVE", "TRIAL")]
q = lambda s: '"' + s.replace('"', '""') + '"'
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("name,loinc_code,specimen,unit\n# exact long common names\n")
    for r in rows[:18]:
        f.write("%s,%s,,\n" % (q(r["LONG_COMMON_NAME"]), r["LOINC_NUM"]))
    f.write("\n# wrong expected codes\n")
    for i, r in enumerate(rows[18:24]):
        f.write("%s,%s\n" % (q(r["LONG_COMMON_NAME"]), rows[i]["LOINC_NUM"]))
    for g in ("zzqx blorf", "quantum flux capacitor", "xylophone tuning",
              "banana split", "qwerty asdf", "Moon phase"):
        f.write("%s,,blood,mg/dL\n" % g)
with open(sys.argv[3], "w", encoding="utf-8") as f:
    for i, r in enumerate(rows[30:36]):
        f.write("%s\t%s\n" % (r["LONG_COMMON_NAME"], rows[i]["LOINC_NUM"]))
EOF

cal() { "$MLW" loinc calibrate --model "$TMP/tiny" --index "$TMP/loinc.idx" "$@"; }

echo "# decisions and table"
if cal --labeled "$TMP/lab.csv" --json --dump "$TMP/dump.jsonl" > "$TMP/out.json" 2> "$TMP/err.log"; then
    ok "calibrate --json ran: $(cut -c1-120 "$TMP/out.json")"
else
    bad "calibrate --json: $(tail -n 3 "$TMP/err.log")"
    finish
fi
"$PY" - "$TMP/lab.csv" "$TMP/dump.jsonl" "$TMP/out.json" <<'EOF'
import csv, json, sys
lab = [r for r in csv.reader(l for l in open(sys.argv[1], encoding="utf-8")
                             if l.strip() and not l.startswith("#"))][1:]
dump = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
out = json.load(open(sys.argv[3]))
res = []
def check(cond, what):
    res.append(cond)
    print(("ok - " if cond else "not ok - ") + what)
check(len(dump) == len(lab) == 30 and [d["name"] for d in dump] == [r[0] for r in lab],
      "dump: one decision per labelled name, in order (%d)" % len(dump))
exact, wrongc, garbage = dump[:18], dump[18:24], dump[24:]
check(all(d["top"] == d["expected"] and d["correct"] and d["passes_margin"] for d in exact),
      "exact long common names: top candidate is the expected code, accepted at threshold 0")
check(all(d["top"] and d["top"] != d["expected"] and not d["correct"] for d in wrongc),
      "wrong expected codes: top candidate differs, not correct")
check(all(d["expected"] == "" and not d["correct"] and d.get("specimen") == "blood"
          and d.get("unit") == "mg/dL" for d in garbage),
      "garbage names: no expected code, never correct, specimen and unit read")
check(all(d["correct"] == (d["top"] != "" and d["top"] == d["expected"]) for d in dump),
      "correct == (top == expected) for every name")
# independent curve
acc_items = [d for d in dump if d["passes_margin"]]
labelled = sum(1 for d in dump if d["expected"])
want = []
for t in sorted({d["score"] for d in acc_items}):
    a = [d for d in acc_items if d["score"] >= t]
    c = sum(1 for d in a if d["expected"] and d["top"] == d["expected"])
    want.append(dict(threshold=t, accepted=len(a), correct=c, wrong=len(a) - c,
                     precision=c / len(a), recall=c / labelled, coverage=len(a) / len(dump)))
got = out["thresholds"]
same = len(got) == len(want) and all(
    all(abs(g[k] - w[k]) < 1e-12 for k in w) for g, w in zip(got, want))
check(same, "thresholds: %d rows equal the independent computation" % len(want))
if not same:
    print("# got  %s\n# want %s" % (got[:3], want[:3]))
check(out["names"] == 30 and out["labelled"] == 24 and out["expecting_none"] == 6
      and out["passes_margin"] == len(acc_items), "totals: 30 names, 24 labelled, 6 expecting none")
check(any(w["wrong"] > 0 for w in want) and any(w["precision"] < 0.98 for w in want),
      "the list has wrong accepts at low thresholds (the test can tell thresholds apart)")
pick = next((i for i, w in enumerate(want) if w["precision"] >= 0.98), None)
rec = out["recommended"]
if pick is None:
    check(rec is None, "no threshold reaches 0.98: recommended null")
else:
    below = want[pick - 1]["threshold"] if pick > 0 else -1
    v = float(rec["value"])
    check(abs(rec["threshold"] - want[pick]["threshold"]) < 1e-15 and
          rec["accepted"] == want[pick]["accepted"] and below < v <= want[pick]["threshold"],
          "recommended: lowest threshold with precision >= 0.98 (%s: %d accepted, precision %.3f,"
          " recall %.3f)" % (rec["value"], rec["accepted"], rec["precision"], rec["recall"]))
    a = [d for d in acc_items if d["score"] >= v]
    check(len(a) == rec["accepted"] and all(d["correct"] for d in a) == (rec["wrong"] == 0),
          "ML_WORKER_LOINC_MIN_SCORE=%s accepts exactly the recommended row's names" % rec["value"])
cur = [d for d in acc_items if d["score"] >= 0.85]
check(out["current"]["accepted"] == len(cur) and
      all(d["accepted_at_current"] == (d["passes_margin"] and d["score"] >= 0.85) for d in dump),
      "current threshold (default 0.85): %d accepted" % len(cur))
sys.exit(0 if all(res) else 1)
EOF
[ $? = 0 ] && ok "independent computation agrees" || bad "independent computation disagrees"

echo "# text output"
cal --labeled "$TMP/lab.csv" > "$TMP/out.txt" 2> "$TMP/err.log"
rc=$?
val=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["recommended"]; print(r["value"] if r else "none")' "$TMP/out.json")
rows=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["thresholds"]))' "$TMP/out.json")
if [ $rc = 0 ] && grep -qx "ML_WORKER_LOINC_MIN_SCORE=$val" "$TMP/out.txt" &&
    grep -q "^30 names: 24 with an expected code, 6 expecting none" "$TMP/out.txt" &&
    [ "$(grep -cE '^ +[0-9.]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.-]+ +[0-9.]+ +[0-9.]+$' "$TMP/out.txt")" = $((rows + 1)) ]; then
    ok "text: $rows threshold rows + the current one, ML_WORKER_LOINC_MIN_SCORE=$val"
else
    bad "text (rc $rc): $(tail -n 4 "$TMP/out.txt")"
fi
cal --labeled "$TMP/lab.csv" --step 0.25 --json > "$TMP/grid.json" 2>/dev/null &&
    "$PY" -c 'import json,sys; t=json.load(open(sys.argv[1]))["thresholds"]; sys.exit(not ([r["threshold"] for r in t]==[0,0.25,0.5,0.75,1] and t[-1]["accepted"]==0 and t[-1]["precision"] is None))' "$TMP/grid.json" &&
    ok "--step 0.25: rows at 0, 0.25, 0.5, 0.75, 1 (nothing scores 1: precision null)" ||
    bad "--step 0.25: $(cut -c1-200 "$TMP/grid.json")"

echo "# no threshold reaches the target"
if cal --labeled "$TMP/wrong.csv" --json > "$TMP/w.json" 2>/dev/null &&
    "$PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); sys.exit(not (o["recommended"] is None and o["thresholds"] and all(r["correct"]==0 for r in o["thresholds"])))' "$TMP/w.json" &&
    cal --labeled "$TMP/wrong.csv" 2>/dev/null | grep -q "no threshold reaches precision 0.98"; then
    ok "every accept wrong (TSV list): recommended null, text says no threshold reaches 0.98"
else
    bad "wrong-only list: $(cut -c1-200 "$TMP/w.json")"
fi

echo "# errors"
expect() { # DESC RC PATTERN ARGS...
    local desc=$1 want=$2 pat=$3
    shift 3
    cal "$@" > "$TMP/e.out" 2> "$TMP/e.err"
    local rc=$?
    if [ "$rc" = "$want" ] && grep -q -- "$pat" "$TMP/e.err"; then
        ok "$desc: exit $rc, $(grep -- "$pat" "$TMP/e.err" | head -1 | cut -c1-120)"
    else
        bad "$desc: rc $rc (want $want), stderr: $(head -c 300 "$TMP/e.err")"
    fi
}
expect "missing labelled file" 1 "nope.csv: cannot open" --labeled "$TMP/nope.csv"
printf 'name,loinc_code\nGlucose,2345-7\nbad line without code\n' > "$TMP/bad1.csv"
expect "line with one field" 1 "bad1.csv:3: expected name,loinc_code" --labeled "$TMP/bad1.csv"
printf 'Glucose,2345-7\n"Sodium,2951-2\n' > "$TMP/bad2.csv"
expect "unterminated quote" 1 "bad2.csv:2: unterminated quote" --labeled "$TMP/bad2.csv"
printf 'Glucose,GLU-1\n' > "$TMP/bad3.csv"
expect "not a LOINC code" 1 "bad3.csv:1: the code is not a LOINC code" --labeled "$TMP/bad3.csv"
printf '# only a comment\n' > "$TMP/empty.csv"
expect "no names" 1 "no labelled names" --labeled "$TMP/empty.csv"
expect "target precision out of range" 2 "must be a number in (0, 1]" --labeled "$TMP/lab.csv" \
    --target-precision 1.5
expect "no --labeled" 2 "are required"
expect "missing index" 1 "ML_WORKER_LOINC_INDEX" --labeled "$TMP/lab.csv" --index "$TMP/nope.idx"
finish
