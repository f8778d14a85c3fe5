#!/usr/bin/env bash
# `mlworker report` end to end: raw rows with known counts per chart (and hostile strings, rows
# that fail) processed by `mlworker run`, the report written, then loaded from disk in headless
# Chromium with the network unreachable: marks per chart counted in the DOM after load against
# the seeded data, no <script>/<img>/external reference, a screenshot kept as a test artifact
# ($MLW_BUILD_DIR/test-artifacts/report.png). Then the bad inputs (unknown user, inverted range,
# bad dates, missing options), an empty range (every chart a "no data" panel), and a user with
# about a million aggregate rows (30 years) whose report must stay small at every level.
# Env: MLWORKER, MLW_SOURCE_DIR, MLW_BUILD_DIR (artifacts; default: the temp dir).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

HELPER="$PY $MLW_SOURCE_DIR/tests/integration/report_helper.py"
ART=${MLW_BUILD_DIR:-$TMP}/test-artifacts
mkdir -p "$ART"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "chromium is not installed (scripts/install-deps.sh test installs it)" >&2
  exit 1
fi
# Headless, no sandbox (root in CI), a throwaway profile, every host name unresolvable: a page
# that tried to fetch anything from the network would fail to load it.
chrome() {
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$TMP/chrome-profile" --no-first-run --disable-extensions \
    --disable-background-networking --host-resolver-rules="MAP * ~NOTFOUND" \
    --proxy-server="127.0.0.1:9" "$@" 2>>"$TMP/chromium.log"
}

DB=$TMP/r.db
say "seed user 1 (March 2026) and run the worker"
migrate "$DB"
EXPECT=$($HELPER seed-small "$DB")
echo "    expected marks: $EXPECT"
worker_ran_ok "$DB" "$TMP/run.log" "worker processed the seeded rows"
export DATABASE_URL="sqlite:///$DB"

say "write the report"
OUT=$TMP/report.html
check "mlworker report --user 1 exits 0" "$MLWORKER" report --user 1 --from 2026-03-01 \
  --to 2026-03-31 --out "$OUT"
size=$(stat -c %s "$OUT" 2>/dev/null || echo 0)
echo "    report.html: $size bytes"
check "no temporary file left next to the report" bash -c "! ls '$TMP'/report.html.tmp.* 2>/dev/null"
check "no external reference (http:, https:, src=, @import, url( outside data:)" bash -c "
  ! grep -Eio 'https?:|src=|@import|url\\([^d]' '$OUT'"
check "no <script> in the file; hostile strings appear escaped" bash -c "
  ! grep -qi '<script' '$OUT' && grep -q '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;' '$OUT'"
check "the file is valid UTF-8" iconv -f UTF-8 -t UTF-8 "$OUT" -o /dev/null

say "load it in headless Chromium (network unreachable)"
chrome --dump-dom "file://$OUT" >"$TMP/dom.html" || true
check "Chromium rendered a DOM" test -s "$TMP/dom.html"
check "marks per chart in the DOM match the seeded data; no script/img elements" \
  $HELPER dom "$TMP/dom.html" "$EXPECT"
check "processing status in the DOM: 5 failed vitals, 1 failed nutrition, 1 insufficient lab" \
  "$PY" - "$TMP/dom.html" <<'EOF'
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
def row(dom):
    m = re.search(r'<tr data-domain="%s"><td>[a-z]+</td><td class="pending">(\d+)</td>'
                  r'<td class="failed">(\d+)</td><td>([^<]*)</td>' % dom, t)
    return m.groups() if m else None
got = (row("vitals"), row("nutrition"), row("labs"))
print(got)
sys.exit(0 if got == (("0", "5", "\u2013"), ("0", "1", "\u2013"), ("0", "0", "1")) else 1)
EOF
rm -f "$ART/report.png"
chrome --screenshot="$ART/report.png" --window-size=1280,2400 "file://$OUT" >/dev/null || true
check "screenshot saved as a test artifact (a PNG of more than 20 kB)" bash -c "
  head -c 8 '$ART/report.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' &&
  [ \$(stat -c %s '$ART/report.png') -gt 20000 ]"
echo "    artifact: $ART/report.png"

say "bad input"
expect_rc() { # expect_rc RC PATTERN args...
  local want=$1 pat=$2 rc
  shift 2
  set +e
  "$MLWORKER" report "$@" >"$TMP/bad.out" 2>&1
  rc=$?
  set -e
  cat "$TMP/bad.out" | sed 's/^/    /'
  [ "$rc" -eq "$want" ] && grep -qi -- "$pat" "$TMP/bad.out"
}
check "unknown user: exit 1, says so" expect_rc 1 "user 424242 is unknown" --user 424242 --out "$TMP/x.html"
check "unknown user writes no file" test ! -e "$TMP/x.html"
check "inverted range: exit 2" expect_rc 2 "inverted" --user 1 --from 2026-03-31 --to 2026-03-01 --out "$TMP/x.html"
check "bad date: exit 2" expect_rc 2 "YYYY-MM-DD" --user 1 --from 2026-02-30 --out "$TMP/x.html"
check "user not a number: exit 2" expect_rc 2 "integer" --user 1x --out "$TMP/x.html"
check "missing --out: exit 2" expect_rc 2 "required" --user 1
check "unwritable output: exit 1" expect_rc 1 "cannot create" --user 1 --out /nonexistent-dir/r.html
check "empty range: exit 0, every chart a no-data panel" bash -c "
  '$MLWORKER' report --user 1 --from 2020-01-01 --to 2020-01-31 --out '$TMP/empty.html' &&
  [ \$(grep -o 'class=\"chart nodata\"' '$TMP/empty.html' | wc -l) -eq 9 ] &&
  [ \$(grep -o 'class=\"mark ' '$TMP/empty.html' | wc -l) -eq 0 ] &&
  grep -q 'no data in this range' '$TMP/empty.html'"

say "a user with about a million rows (30 years of aggregates, 150 000 failed raw rows)"
# Its own database, in memory-backed /dev/shm when there is one (seeding is I/O-bound).
SHM=$(mktemp -d /dev/shm/mlw-report.XXXXXX 2>/dev/null || mktemp -d "$TMP/huge.XXXXXX")
trap 'rm -rf "$SHM"; cleanup' EXIT
HDB=$SHM/huge.db
migrate "$HDB"
t0=$EPOCHREALTIME
HUGE_ROWS=$($HELPER seed-huge "$HDB" 2)
echo "    user 2: $HUGE_ROWS rows, seeded in $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s"
export DATABASE_URL="sqlite:///$HDB"
for range in "" "--from 2024-01-01 --to 2025-06-30" "--from 2025-01-01 --to 2025-12-31"; do
  # shellcheck disable=SC2086
  check "report for user 2 ${range:-(all 30 years)} is under 3 MB" bash -c "
    '$MLWORKER' report --user 2 $range --out '$TMP/huge.html' &&
    s=\$(stat -c %s '$TMP/huge.html') && echo \"size \$s bytes\" && [ \$s -lt 3000000 ] &&
    [ \$(grep -o '<tr class=\"reason\">' '$TMP/huge.html' | wc -l) -eq 20 ] &&
    grep -q 'more distinct reasons' '$TMP/huge.html'"
done
check "30 years are charted per month, 18 months per week, a year per day" bash -c "
  '$MLWORKER' report --user 2 --out '$TMP/h1.html' | grep -q monthly &&
  '$MLWORKER' report --user 2 --from 2024-01-01 --to 2025-06-30 --out '$TMP/h2.html' | grep -q weekly &&
  '$MLWORKER' report --user 2 --from 2025-01-01 --to 2025-12-31 --out '$TMP/h3.html' | grep -q daily &&
  grep -q 'data-chart=\"heart_rate\" data-marks=\"360\"' '$TMP/h1.html' &&
  grep -q 'data-chart=\"heart_rate\" data-marks=\"357\"' '$TMP/h3.html'"
chrome --dump-dom "file://$TMP/h1.html" >"$TMP/hdom.html" || true
check "the 30-year report loads in Chromium: 60 lab charts, marks match data-marks" \
  $HELPER dom "$TMP/hdom.html" '{"heart_rate": 360, "calories": 1440}'
check "the 30-year report has 60 lab charts and says how many are left out" bash -c "
  [ \$(grep -o 'data-chart=\"lab\"' '$TMP/h1.html' | wc -l) -eq 60 ] &&
  grep -q '140 more tests' '$TMP/h1.html'"

finish
