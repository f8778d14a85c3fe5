#!/usr/bin/env bash
# Bad input: hostile raw rows (unknown units, out-of-range, negative and infinite values, text
# in number columns, NULL nutrients, absurd and malformed dates, 10 000-character strings,
# invalid UTF-8, SQL metacharacters) next to good ones.  Each bad row must end 'failed' with a
# failure_reason, every good row must be processed and aggregated (oracle), no table may be
# harmed, and failed rows are not retried by a later run.
# Env: MLWORKER, MLW_SOURCE_DIR; MLW_TEST_SEED to vary the good data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

SEED=${MLW_TEST_SEED:-4242}
say "seed $SEED, temp dir $TMP"
A=$TMP/bad.db
migrate "$A"
gen --db "$A" --users 4 --days 35 --rows 3000 --seed "$SEED" --start-date 2026-01-20
gen --db "$A" --users 4 --days 35 --seed $((SEED + 1)) --start-date 2026-01-20 --bad \
  --manifest "$TMP/manifest.json"
count_raw() {
  "$PY" - "$1" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("SELECT (SELECT count(*) FROM vitals_raw_data) || ' ' || "
                "(SELECT count(*) FROM nutrition_raw_data)").fetchone()[0])
EOF
}
before=$(count_raw "$A")
say "raw rows (vitals nutrition) before: $before"

worker_ran_ok "$A" "$TMP/run1.log" "worker run over good and hostile rows"
check "all vitals/nutrition tables still exist" dbtool tables "$A"
after=$(count_raw "$A")
if [ "$before" = "$after" ]; then pass "no raw row lost or added ($after)"; else
  fail "raw row counts changed: $before -> $after"; fi
check "each hostile row failed with a reason / each hostile-but-valid row processed" \
  dbtool check-manifest "$A" "$TMP/manifest.json"
check "oracle: every good row aggregated, every bad row excluded" oracle "$A"

say "a second run does not retry failed rows and changes nothing"
dbtool backup "$A" "$TMP/before.db" >/dev/null
worker_ran_ok "$A" "$TMP/run2.log" "second worker run"
check "second run changed nothing" dbtool compare "$TMP/before.db" "$A"

say "the app fixes a failed row and resets it to pending: it is processed"
"$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
with c:
    rid = c.execute("SELECT id FROM vitals_raw_data WHERE unit = 'furlongs'").fetchone()[0]
    c.execute("UPDATE vitals_raw_data SET unit = 'bpm', aggregation_status = 'pending', "
              "failure_reason = NULL WHERE id = ?", (rid,))
    nid = c.execute("SELECT id FROM nutrition_raw_data WHERE protein_g = -1.0").fetchone()[0]
    c.execute("UPDATE nutrition_raw_data SET protein_g = 1.0, aggregation_status = 'pending', "
              "failure_reason = NULL WHERE id = ?", (nid,))
print("reset vitals id %d and nutrition id %d" % (rid, nid))
EOF
worker_ran_ok "$A" "$TMP/run3.log" "worker run after the fix"
check "oracle after the fixed rows" oracle "$A"

finish
