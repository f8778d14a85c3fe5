#!/usr/bin/env bash
# test_verify_ml.sh - mlworker verify / recompute on lab rows the ML engine decided
# (LOINC_ENABLED=1), with a tiny random-weight model (tests/ml/gen_model.py) and an index of
# ../shared/data/loinc-sample.csv, as in test_labs_loinc.sh.
#
#   - a database processed with the engine verifies clean when verify loads the engine the
#     way run does (same variables): codes, categories and the ML columns of migration 004;
#   - without LOINC_ENABLED, verify still passes: the ML-decided rows are taken as stored, with
#     a note naming how many;
#   - a tampered ML field (loinc_source, needs_review, a code, a score) is reported, column by
#     column; recompute without the engine refuses (it would replace ML decisions by the
#     catalog's); recompute with it repairs to the original values;
#   - a database processed without the engine does not verify clean with it (verify really
#     predicts the ML step).
# Env (set by ctest): MLWORKER, MLW_SOURCE_DIR, MLW_SHARED_DATA. Needs /usr/bin/python3 + numpy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"
PYN=/usr/bin/python3
export MLW_SHARED_DATA=${MLW_SHARED_DATA:-$MLW_SOURCE_DIR/../shared/data}
CSV="$MLW_SHARED_DATA/loinc-sample.csv"
unset ML_WORKER_MODEL_DIR ML_WORKER_LOINC_INDEX ML_WORKER_LLM_URL OPENAI_API_KEY \
      ML_WORKER_LOINC_MIN_SCORE ML_WORKER_CATEGORY_MIN_SCORE LOINC_ENABLED ML_WORKER_MODEL_DTYPE
export ML_WORKER_HTTP_ADDR=off ML_WORKER_THREADS=1
[ -f "$CSV" ] || { fail "prerequisite: $CSV missing"; finish; exit 1; }
"$PYN" -c 'import numpy' 2>/dev/null || { fail "prerequisite: $PYN cannot import numpy"; finish; exit 1; }

"$PYN" "$MLW_SOURCE_DIR/tests/ml/gen_model.py" "$TMP/tiny" --tiny --seed 11 >/dev/null 2>&1 ||
  { fail "gen_model.py"; finish; exit 1; }
"$MLWORKER" loinc build --loinc "$CSV" --model "$TMP/tiny" --out "$TMP/loinc.idx" 2>"$TMP/build.log" ||
  { fail "loinc build: $(tail -n 3 "$TMP/build.log")"; finish; exit 1; }
ML_ENV=(LOINC_ENABLED=1 ML_WORKER_MODEL_DIR="$TMP/tiny" ML_WORKER_LOINC_INDEX="$TMP/loinc.idx"
        ML_WORKER_CATEGORY_MIN_SCORE=0.5)
mw() { local db=$1; shift; env DATABASE_URL="sqlite:///$db" "$MLWORKER" "$@"; }
mwml() { local db=$1; shift; env DATABASE_URL="sqlite:///$db" "${ML_ENV[@]}" "$MLWORKER" "$@"; }
expect_rc() { # expect_rc DESC WANT cmd...
  local desc=$1 want=$2 rc; shift 2
  set +e; "$@" >"$TMP/out" 2>&1; rc=$?; set -e
  sed 's/^/    /' "$TMP/out" | tail -n 14
  if [ "$rc" -eq "$want" ]; then pass "$desc"; else fail "$desc (exit $rc, want $want)"; fi
}
q() { "$PY" -c "import sqlite3,sys; print('\n'.join('|'.join('' if v is None else str(v) for v in r) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))" "$1" "$2"; }

# 120 LOINC long common names (most unknown to the catalog), garbage names, catalog names; over
# 3 users and 40 days, so the ML decisions land in daily/monthly/... buckets.
"$PY" - "$CSV" "$TMP/rows.tsv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
sel = [r for r in rows if r["CLASSTYPE"] == "1" and r["STATUS"] in ("ACTIVE", "TRIAL")]
names = [r["LONG_COMMON_NAME"] for r in sel][:120]
names += ["xqzzv blorf", "Zorbleflux quandary index", "qwerty uiop", "HbA1c", "Hemoglobin",
          "Glucose", "Sodium"]
with open(sys.argv[2], "w") as f:
    for i, n in enumerate(names * 2):
        f.write("%d\t%s\t%s\t2024-%02d-%02d\n" % (1 + i % 3, n, 1 + i % 17, 1 + i % 4, 1 + i % 28))
EOF
newdb() {
  migrate "$1"
  "$PY" - "$1" "$TMP/rows.tsv" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for line in open(sys.argv[2], encoding="utf-8"):
    u, n, v, d = line.rstrip("\n").split("\t")
    c.execute("INSERT INTO lab_reports (user_id, test_name, test_value, test_unit, test_date)"
              " VALUES (?, ?, ?, 'mg/dL', ?)", (int(u), n, v, d))
c.commit()
EOF
}

say "a database processed with the ML engine"
A=$TMP/a.db
newdb "$A"
worker_ran_ok "$A" "$TMP/run-a.log" "worker run (LOINC_ENABLED=1)" "${ML_ENV[@]}"
nemb=$(q "$A" "SELECT count(*) FROM lab_report_categorized WHERE loinc_source='embedding'")
nrev=$(q "$A" "SELECT count(*) FROM lab_report_categorized WHERE needs_review")
ncat=$(q "$A" "SELECT count(*) FROM lab_report_categorized WHERE category_source IN ('embedding','loinc')")
if [ "$nemb" -ge 10 ] && [ "$nrev" -ge 2 ]; then
  pass "the engine decided rows: $nemb codes by embedding, $nrev flagged for review, $ncat ML categories"
else
  fail "the engine decided too little to test: $nemb by embedding, $nrev flagged"
fi
expect_rc "verify with the engine (as run): all match" 0 mwml "$A" verify -q
check "it compared the lab rows" grep -Eq "verify: [0-9]+ \(user, domain\) pair\(s\), 254 raw rows" "$TMP/out"
expect_rc "verify without LOINC_ENABLED passes (ML decisions taken as stored)" 0 mw "$A" verify -q
check "with a note naming the ML-decided rows" grep -q "lab row(s) carry ML decisions but LOINC_ENABLED is off" "$TMP/out"
dbtool backup "$A" "$TMP/a-good.db" >/dev/null

say "tampered ML fields are reported"
ID1=$(q "$A" "SELECT min(id) FROM lab_report_categorized WHERE loinc_source='embedding'")
ID2=$(q "$A" "SELECT max(id) FROM lab_report_categorized WHERE needs_review")
ID3=$(q "$A" "SELECT max(id) FROM lab_report_categorized WHERE loinc_source='embedding'")
"$PY" - "$A" "$ID1" "$ID2" "$ID3" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
i1, i2, i3 = map(int, sys.argv[2:5])
c.execute("UPDATE lab_report_categorized SET loinc_source='llm', loinc_score=loinc_score+0.01 WHERE id=?", (i1,))
c.execute("UPDATE lab_report_categorized SET needs_review=0 WHERE id=?", (i2,))
c.execute("UPDATE lab_report_categorized SET loinc_code='1234-5' WHERE id=?", (i3,))
c.commit()
EOF
expect_rc "verify with the engine finds them (exit 1)" 1 mwml "$A" verify -q
check "names loinc_source of row $ID1" grep -Eq "lab_report_categorized +mismatch +user_id=[0-9]+ id=$ID1 +loinc_source +embedding +llm" "$TMP/out"
check "names loinc_score of row $ID1" grep -Eq "lab_report_categorized +mismatch +user_id=[0-9]+ id=$ID1 +loinc_score" "$TMP/out"
check "names needs_review of row $ID2" grep -Eq "lab_report_categorized +mismatch +user_id=[0-9]+ id=$ID2 +needs_review +1 +0" "$TMP/out"
check "names loinc_code of row $ID3" grep -Eq "lab_report_categorized +mismatch +user_id=[0-9]+ id=$ID3 +loinc_code +[0-9]+-[0-9] +1234-5" "$TMP/out"
check "nothing else differs (3 rows)" grep -q "^3 difference(s)" "$TMP/out"
expect_rc "recompute without the engine refuses (exit 1)" 1 mw "$A" recompute -q
check "and says why" grep -q "carry decisions of the ML engine" "$TMP/out"
src1=$(q "$A" "SELECT loinc_source FROM lab_report_categorized WHERE id=$ID1")
if [ "$src1" = llm ]; then pass "refusal wrote nothing"; else fail "refusal wrote: loinc_source $src1"; fi
expect_rc "recompute --domain vitals without the engine is fine" 0 mw "$A" recompute -q --domain vitals
expect_rc "recompute with the engine" 0 mwml "$A" recompute -q
check "it repaired 3 rows" grep -q "3 raw row(s) processed again" "$TMP/out"
expect_rc "verify with the engine passes after recompute" 0 mwml "$A" verify -q
check "the ML columns are back to the worker's values" "$PY" - "$A" "$TMP/a-good.db" <<'EOF'
import sqlite3, sys
cols = "id, loinc_code, inferred_test_category, loinc_source, round(loinc_score, 6), needs_review, category_source, round(category_score, 6)"
a = sqlite3.connect(sys.argv[1]).execute("SELECT %s FROM lab_report_categorized ORDER BY id" % cols).fetchall()
b = sqlite3.connect(sys.argv[2]).execute("SELECT %s FROM lab_report_categorized ORDER BY id" % cols).fetchall()
d = [(x, y) for x, y in zip(a, b) if x != y]
print("%d rows, %d differ %s" % (len(a), len(d), d[:3]))
sys.exit(1 if d or len(a) != len(b) else 0)
EOF

say "verify predicts the ML step: a catalog-only database does not match it"
B=$TMP/b.db
newdb "$B"
worker_ran_ok "$B" "$TMP/run-b.log" "worker run (catalog only)"
expect_rc "verify without the engine: all match" 0 mw "$B" verify -q
expect_rc "verify with the engine: the ML-decidable rows differ (exit 1)" 1 mwml "$B" verify -q --limit 5
check "as loinc_code / needs_review mismatches" grep -Eq "lab_report_categorized +mismatch .*(loinc_code|needs_review)" "$TMP/out"
expect_rc "verify with a missing model: exit 1" 1 env DATABASE_URL="sqlite:///$A" LOINC_ENABLED=1 \
  ML_WORKER_MODEL_DIR="$TMP/nope" ML_WORKER_LOINC_INDEX="$TMP/loinc.idx" "$MLWORKER" verify -q
check "with the engine's message" grep -q "cannot start the ML engine" "$TMP/out"

finish
