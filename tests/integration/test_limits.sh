#!/usr/bin/env bash
# Resource limits (docs/operations.md "Limits"):
#  * text read from the raw tables: names/units/sources/... over 1024 characters and free text
#    (notes, raw lab text, ...) over 16384 characters make the row 'failed' with a reason
#    naming the column; values at the limit are processed;
#  * a batch of huge rows (40 vitals rows with 2 MiB notes each, 80 MiB in all) is read capped:
#    peak RSS stays under RSS_BOUND_KB (measured with /usr/bin/time -v);
#  * database queue: a message body over 256 KiB is never processed (logged with its id and
#    size, not its content), stays in the queue and is dead-lettered after
#    ML_WORKER_MAX_RECEIVES receives; `mlworker dlq list|redrive` map to queue dead|redrive.
# (SQS: tests/integration/test_limits_sqs.py.)
# Env: MLWORKER, MLW_SOURCE_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../oracle/itest_lib.sh"

RSS_BOUND_KB=${RSS_BOUND_KB:-65536}
say "temp dir $TMP"
A=$TMP/limits.db
DATABASE_URL="sqlite:///$A" "$MLWORKER" migrate >/dev/null

"$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
V = ("INSERT INTO vitals_raw_data (id, user_id, metric_type, value, unit, start_date, end_date,"
     " data_source, source_device, notes) VALUES (?, 1, ?, 70, ?, '2026-01-21 08:00:00',"
     " '2026-01-21 08:01:00', ?, ?, ?)")
rows = [  # id, metric, unit, source, device, notes
    (1, "Heart Rate", "bpm", "s" * 1024, "d" * 1024, "n" * 16384),   # at the limits: ok
    (2, "Heart Rate", "bpm", "s" * 1025, None, None),
    (3, "Heart Rate", "bpm", "watch", "d" * 1025, None),
    (4, "Heart Rate", "bpm", "watch", None, "n" * 16385),
    (5, "Heart Rate", "bpm", "watch", None, "\u00e9" * 16384),      # 16384 chars, 32 KiB: ok
    (6, "H" * 5000, "bpm", "watch", None, None),
]
c.executemany(V, rows)
M = ("INSERT INTO nutrition_raw_data (id, user_id, food_item_name, meal_type, portion_size,"
     " portion_unit, meal_date, meal_time, data_source, calories)"
     " VALUES (?, 1, 'x', ?, 1, 'g', '2026-01-21', '12:00:00', ?, 100)")
c.executemany(M, [(1, "lunch", "s" * 1024), (2, "m" * 1025, "app"), (3, "lunch", "s" * 3000)])
L = ("INSERT INTO lab_reports (id, user_id, test_name, test_value, test_unit, test_date,"
     " raw_text, test_notes) VALUES (?, 1, ?, '5.0', ?, '2026-01-21', ?, ?)")
c.executemany(L, [(1, "Hemoglobin", "g/dL", "r" * 16384, None),
                  (2, "Hemoglobin", "u" * 1025, None, None),
                  (3, "Glucose", "mg/dL", "r" * 20000, None),
                  (4, "Glucose", "mg/dL", None, "n" * 100000)])
c.commit()
EOF

say "over-long text fails with the reason, text at the limit is processed"
DATABASE_URL="sqlite:///$A" ML_WORKER_EXIT_WHEN_IDLE=1 "$MLWORKER" run >"$TMP/run1.log" 2>&1 ||
  fail "worker run (exit $?)"
check "statuses and reasons" "$PY" - "$A" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
want = {
    ("vitals_raw_data", "aggregation_status", 1): ("categorized", None),
    ("vitals_raw_data", "aggregation_status", 2): ("failed", "data_source is longer than 1024 characters"),
    ("vitals_raw_data", "aggregation_status", 3): ("failed", "source_device is longer than 1024 characters"),
    ("vitals_raw_data", "aggregation_status", 4): ("failed", "notes is longer than 16384 characters"),
    ("vitals_raw_data", "aggregation_status", 5): ("categorized", None),
    ("vitals_raw_data", "aggregation_status", 6): ("failed", "metric_type is longer than 1024 characters"),
    ("nutrition_raw_data", "aggregation_status", 1): ("completed", None),
    ("nutrition_raw_data", "aggregation_status", 2): ("failed", "meal_type is longer than 1024 characters"),
    ("nutrition_raw_data", "aggregation_status", 3): ("failed", "data_source is longer than 1024 characters"),
    ("lab_reports", "categorization_status", 1): ("categorized", None),
    ("lab_reports", "categorization_status", 2): ("failed", "test_unit is longer than 1024 characters"),
    ("lab_reports", "categorization_status", 3): ("failed", "raw_text is longer than 16384 characters"),
    ("lab_reports", "categorization_status", 4): ("failed", "test_notes is longer than 16384 characters"),
}
bad = 0
for (table, col, rid), exp in want.items():
    got = c.execute("SELECT %s, failure_reason FROM %s WHERE id=?" % (col, table), (rid,)).fetchone()
    if tuple(got) != exp:
        bad += 1
        print("%s id %d: got %r, expected %r" % (table, rid, tuple(got), exp))
n = c.execute("SELECT count(*) FROM vitals_raw_categorized WHERE raw_id IN (1, 5)").fetchone()[0]
if n != 2:
    bad += 1
    print("categorized copies of the rows at the limit: %d (expected 2)" % n)
sys.exit(1 if bad else 0)
EOF

say "a batch of huge rows: peak RSS stays bounded"
B=$TMP/huge.db
DATABASE_URL="sqlite:///$B" "$MLWORKER" migrate >/dev/null
"$PY" - "$B" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
notes = "n" * (2 << 20)
c.executemany("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date,"
              " end_date, data_source, notes) VALUES (1, 'Heart Rate', 70, 'bpm',"
              " ?, ?, 'watch', ?)",
              [("2026-01-21 08:%02d:00" % i, "2026-01-21 08:%02d:30" % i, notes)
               for i in range(40)])
c.commit()
EOF
DATABASE_URL="sqlite:///$B" ML_WORKER_EXIT_WHEN_IDLE=1 /usr/bin/time -v "$MLWORKER" run \
  >"$TMP/huge.log" 2>"$TMP/huge.time" || fail "worker run over huge rows (exit $?)"
rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$TMP/huge.time")
failed=$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM vitals_raw_data WHERE aggregation_status='failed' AND failure_reason='notes is longer than 16384 characters'\").fetchone()[0])" "$B")
if [ "$failed" = 40 ]; then pass "40 huge rows failed with the reason"; else
  fail "huge rows failed: $failed of 40"; fi
if [ -n "$rss" ] && [ "$rss" -lt "$RSS_BOUND_KB" ]; then
  pass "peak RSS ${rss} KiB < ${RSS_BOUND_KB} KiB (80 MiB of notes in one batch)"
else
  fail "peak RSS ${rss:-?} KiB, bound ${RSS_BOUND_KB} KiB"
fi

say "database queue: an oversize body is dead-lettered unprocessed"
Q=$TMP/q.db
DATABASE_URL="sqlite:///$Q" "$MLWORKER" migrate >/dev/null
export DATABASE_URL="sqlite:///$Q" ML_WORKER_SQS_QUEUE_URL="sqlite://$Q#lim"
"$MLWORKER" send process-pending-vitals --user 1 >/dev/null
"$PY" - "$Q" <<'EOF'
import hashlib, json, sqlite3, sys, time, uuid
c = sqlite3.connect(sys.argv[1])
body = json.dumps({"job_type": "process_pending_vitals", "pad": "Zq7" * 100000})
now = int(time.time() * 1000)
c.execute("INSERT INTO mlw_queue_messages (queue_name, message_id, body, md5_of_body, sent_at,"
          " visible_at) VALUES ('lim', ?, ?, ?, ?, ?)",
          (str(uuid.uuid4()), body, hashlib.md5(body.encode()).hexdigest(), now, now))
c.commit()
EOF
# Runs 6 s (the message becomes visible again 1 s after each receive), then SIGTERM.
set +e
ML_WORKER_MODE=sqs ML_WORKER_MAX_RECEIVES=2 ML_WORKER_VISIBILITY_TIMEOUT=1 ML_WORKER_WAIT_TIME=1 \
  ML_WORKER_HTTP_ADDR=off timeout --preserve-status -s TERM 6 "$MLWORKER" run >"$TMP/q.log" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ]; then pass "queue worker stopped cleanly"; else fail "queue worker exit $rc"; fi
n_over=$(grep -c 'Oversize message .*body of 300049 bytes is over the 262144-byte limit' \
  "$TMP/q.log" || true)
if [ "$n_over" = 2 ]; then pass "oversize logged once per receive (2 receives)"; else
  fail "oversize lines: $n_over (expected 2)"; sed 's/^/    /' "$TMP/q.log" | tail -20; fi
if grep -q 'Zq7Zq7' "$TMP/q.log"; then fail "the body's content reached the log"; else
  pass "the body's content is never logged"; fi
out=$("$MLWORKER" dlq list 2>"$TMP/dlq.err")
if printf '%s\n' "$out" | grep -q ' 2  (oversize)  300049  ' &&
   [ "$(printf '%s\n' "$out" | wc -l)" = 2 ]; then
  pass "dlq list (database queue): the dead letter, 2 receives, job type, size"
else fail "dlq list output:"; printf '%s\n' "$out" "$(cat "$TMP/dlq.err")" | sed 's/^/    /'; fi
if "$MLWORKER" dlq redrive --max 1 >/dev/null 2>&1; then
  fail "dlq redrive --max on a database queue should be a usage error"
else pass "dlq redrive --max: usage error for a database queue"; fi
if "$MLWORKER" dlq redrive 2>&1 | grep -q '1 message(s) redriven'; then
  pass "dlq redrive (database queue) makes it visible again"
else fail "dlq redrive (database queue)"; fi
dead=$("$MLWORKER" queue depth | awk '$1 == "dead" {print $2}')
vis=$("$MLWORKER" queue depth | awk '$1 == "visible" {print $2}')
if [ "$dead" = 0 ] && [ "$vis" = 1 ]; then pass "queue depth: 1 visible, 0 dead"; else
  fail "queue depth after redrive: visible $vis dead $dead"; fi
mlw_keep_logs "$TMP"
finish
