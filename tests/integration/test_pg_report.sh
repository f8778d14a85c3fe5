#!/usr/bin/env bash
# `mlworker report` on PostgreSQL: a real PostgreSQL on 127.0.0.1 (tests/pg/pg_server.sh). The
# raw rows of test_report.sh (report_helper.py seed-small) go into SQLite and, by
# tests/pg/dbsync.py copy, into PostgreSQL (minus the one row PostgreSQL cannot hold: a unit
# that is not valid UTF-8, deleted from the SQLite file too); the worker processes both; the
# report for user 1, March 2026, is written from each. Checks: marks per chart (counted in the
# HTML, no browser) equal the seeded counts on both; the two HTML files are byte-identical but
# for the line that names the generation date (the only line allowed to differ: masked); the
# same for an empty range and an open range; unknown user -> exit 1, inverted range -> exit 2.
set -euo pipefail
source "$(dirname "$0")/../oracle/itest_lib.sh"
source "$MLW_SOURCE_DIR/tests/pg/pg_server.sh"
SYS_PY=/usr/bin/python3
"$SYS_PY" -c 'import psycopg2' 2>/dev/null || { echo "psycopg2 missing for $SYS_PY (apt install python3-psycopg2)"; exit 1; }
trap 'pg_stop; cleanup' EXIT

HELPER="$PY $MLW_SOURCE_DIR/tests/integration/report_helper.py"
pgsync() { "$SYS_PY" "$MLW_SOURCE_DIR/tests/pg/dbsync.py" "$@"; }

say "start PostgreSQL"
pg_start
echo "    $PG_URL (server $("$PG_BIN/postgres" --version))"
# A collation with linguistic order (ICU, as most production clusters have: en_US.UTF-8), not
# the C order of the test cluster: what the report sorts by text must not depend on it.
psql -X -q "$PG_URL" -c "CREATE DATABASE report TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'" >/dev/null
U="postgresql://mlw@127.0.0.1:$PG_PORT/report"

say "seed user 1 (March 2026, test_report.sh's rows) into SQLite and PostgreSQL"
DB=$TMP/r.db
migrate "$DB"
EXPECT=$($HELPER seed-small "$DB")
echo "    expected marks: $EXPECT"
# More failing rows, whose reasons differ in case and accent: 30 distinct reasons of one row
# each, of which the report lists 20, ties by text: the same 20, in the same order, on both
# databases whatever the PostgreSQL database's collation.
"$PY" - "$DB" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executemany("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date,"
              " data_source) VALUES (1, 'Heart Rate', 70, ?, '2026-03-07 09:00:00',"
              " '2026-03-07 09:00:00', 'manual')", [("Zbpm",), ("abpm",), ("\u00c4bpm",)] +
              [("%s%02d" % (a, i),) for a in "Zb" for i in range(11)])
c.commit()
PYEOF
check "migrate PostgreSQL" env DATABASE_URL="$U" timeout 60 "$MLWORKER" migrate
pgsync copy "$DB" "$U" >"$TMP/copy.log" 2>&1 || { cat "$TMP/copy.log"; fail "copy raw rows to PostgreSQL"; }
sed 's/^/    /' "$TMP/copy.log"
check "both hold the same raw rows" pgsync compare "$DB" "$U" vitals_raw_data nutrition_raw_data lab_reports
worker_ran_ok "$DB" "$TMP/run.log" "worker on SQLite"
pg_run() { env DATABASE_URL="$U" ML_WORKER_EXIT_WHEN_IDLE=1 timeout 120 "$MLWORKER" run >"$TMP/pgrun.log" 2>&1; }
check "worker on PostgreSQL" pg_run
check "nothing left pending on PostgreSQL" bash -c "[ \"\$(psql -X -At '$U' -c \"SELECT (SELECT count(*) FROM vitals_raw_data WHERE aggregation_status = 'pending') + (SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status = 'pending') + (SELECT count(*) FROM lab_reports WHERE categorization_status = 'pending')\")\" = 0 ]"
check "aggregates identical on both" pgsync compare "$DB" "$U"

say "write the reports"
report() { # report URL OUT args...
  local url=$1 out=$2
  shift 2
  DATABASE_URL="$url" timeout 60 "$MLWORKER" report --user 1 "$@" --out "$out"
}
# The generation date is the one line allowed to differ (a run across midnight).
masked() { sed -E 's/(Generated )[^<]* UTC by mlworker/\1X UTC by mlworker/' "$1"; }
same_html() { # same_html A B: byte-identical but for the masked line
  if diff <(masked "$1") <(masked "$2") >"$TMP/html.diff"; then return 0; fi
  head -n 40 "$TMP/html.diff" | cut -c1-300 | sed 's/^/    /'
  return 1
}
check "report from SQLite exits 0" report "sqlite:///$DB" "$TMP/sqlite.html" --from 2026-03-01 --to 2026-03-31
check "report from PostgreSQL exits 0" report "$U" "$TMP/pg.html" --from 2026-03-01 --to 2026-03-31
echo "    sqlite.html $(stat -c %s "$TMP/sqlite.html") bytes, pg.html $(stat -c %s "$TMP/pg.html") bytes"
check "marks per chart in the SQLite report match the seeded data" $HELPER dom "$TMP/sqlite.html" "$EXPECT"
check "marks per chart in the PostgreSQL report match the seeded data" $HELPER dom "$TMP/pg.html" "$EXPECT"
check "PostgreSQL report byte-identical to the SQLite one (generation date masked)" \
  same_html "$TMP/sqlite.html" "$TMP/pg.html"
check "the masked line is the only one that may differ: it is there once" \
  bash -c "[ \$(grep -c '<p class=\"meta\">Generated ' '$TMP/pg.html') -eq 1 ]"
check "processing status on PostgreSQL: 29 failed vitals, 1 failed nutrition, 1 insufficient lab" \
  "$PY" - "$TMP/pg.html" <<'PYEOF'
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
def row(dom):
    m = re.search(r'<tr data-domain="%s"><td>[a-z]+</td><td class="pending">(\d+)</td>'
                  r'<td class="failed">(\d+)</td><td>([^<]*)</td>' % dom, t)
    return m.groups() if m else None
got = (row("vitals"), row("nutrition"), row("labs"))
print(got)
sys.exit(0 if got == (("0", "29", "&ndash;"), ("0", "1", "&ndash;"), ("0", "0", "1")) else 1)
PYEOF
# Open and half-open ranges, and ranges long enough for the weekly and monthly levels.
n=0
for range in "" "--from 2026-03-09" "--to 2026-03-10" "--from 2024-06-01 --to 2026-06-30" \
             "--from 2000-01-01 --to 2026-12-31"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  if report "sqlite:///$DB" "$TMP/s$n.html" $range >"$TMP/s$n.out" 2>&1 &&
     report "$U" "$TMP/p$n.html" $range >"$TMP/p$n.out" 2>&1; then
    sed 's/^/    /' "$TMP/p$n.out"
    check "range '${range:-(all)}': byte-identical (date masked)" same_html "$TMP/s$n.html" "$TMP/p$n.html"
  else
    cat "$TMP/s$n.out" "$TMP/p$n.out"
    fail "range '${range:-(all)}': a report failed"
  fi
done
check "empty range on PostgreSQL: every chart a no-data panel" bash -c "
  DATABASE_URL='$U' '$MLWORKER' report --user 1 --from 2020-01-01 --to 2020-01-31 --out '$TMP/p-empty.html' >/dev/null &&
  [ \$(grep -o 'class=\"chart nodata\"' '$TMP/p-empty.html' | wc -l) -eq 9 ] &&
  [ \$(grep -o 'class=\"mark ' '$TMP/p-empty.html' | wc -l) -eq 0 ]"
report "sqlite:///$DB" "$TMP/s-empty.html" --from 2020-01-01 --to 2020-01-31 >/dev/null || true
check "  ... byte-identical to SQLite's (date masked)" same_html "$TMP/s-empty.html" "$TMP/p-empty.html"

say "bad input on PostgreSQL"
expect_rc() { # expect_rc RC PATTERN args...
  local want=$1 pat=$2 rc
  shift 2
  set +e
  DATABASE_URL="$U" "$MLWORKER" report "$@" >"$TMP/bad.out" 2>&1
  rc=$?
  set -e
  sed 's/^/    /' "$TMP/bad.out"
  [ "$rc" -eq "$want" ] && grep -qi -- "$pat" "$TMP/bad.out"
}
check "unknown user: exit 1, says so" expect_rc 1 "user 424242 is unknown" --user 424242 --out "$TMP/x.html"
check "unknown user writes no file" test ! -e "$TMP/x.html"
check "inverted range: exit 2" expect_rc 2 "inverted" --user 1 --from 2026-03-31 --to 2026-03-01 --out "$TMP/x.html"
check "no file written for bad input" test ! -e "$TMP/x.html"
check "no password or URL secret in the outputs" bash -c "! grep -l 'password=' '$TMP'/*.out '$TMP'/*.log 2>/dev/null"

finish
