#!/usr/bin/env python3
"""Self-test of the oracle against hand-computed expectations (no worker involved).

Builds a tiny database (schema from `$MLWORKER migrate` when MLWORKER is set, else from the
schema files), inserts raw rows plus the aggregate rows a correct worker must write — every
number below was worked out by hand from the contract — and checks that oracle.py accepts
them and rejects a series of single, deliberate corruptions.
"""

import io
import os
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oracle  # noqa: E402

# ---- raw vitals: (id, user, metric, value, unit, start, end, source, notes, status) ----------
VR = [
    (1, 1, "Heart Rate", 60.0, "bpm", "2026-01-26 08:10:00", "2026-01-26 08:10:00", "apple_healthkit", None, "categorized"),
    (2, 1, "Heart Rate", 80.0, "count/min", "2026-01-26 08:40:00.5", "2026-01-26 08:40:00.5", "manual_entry", None, "categorized"),
    (3, 1, "Heart Rate", 70.0, "BPM", "2026-01-26T09:05:00", "2026-01-26T09:05:00", "apple_healthkit", None, "categorized"),
    (4, 1, "Heart Rate", 90.0, "bpm", "2026-02-01 10:00:00", "2026-02-01 10:00:00", "device_sync", None, "categorized"),
    (5, 1, "Weight", 150.0, "lbs", "2026-01-27 07:00:00", "2026-01-27 07:00:00", "manual_entry", None, "categorized"),
    (6, 1, "Weight", 68.0, "kg", "2026-01-27 07:00:00", "2026-01-27 07:00:00", "manual_entry", None, "categorized"),
    (7, 1, "Steps", 1000.0, "count", "2026-01-27 10:15:00", "2026-01-27 10:20:00", "apple_healthkit", None, "categorized"),
    (8, 1, "Steps", 500.0, "steps", "2026-01-27 10:45:00", "2026-01-27 10:50:00", "device_sync", None, "categorized"),
    (9, 1, "Temperature", 98.6, "°F", "2026-01-28 12:00:00", "2026-01-28 12:00:00", "manual_entry", None, "categorized"),
    (10, 1, "Sleep", 30.0, "minutes", "2026-01-28 23:00:00", "2026-01-28 23:30:00", "apple_healthkit", "Core", "categorized"),
    (11, 1, "Sleep", 0.6, "hours", "2026-01-28 23:10:00", "2026-01-28 23:50:00", "device_sync", "Deep", "categorized"),
    (12, 1, "Sleep", 900.0, "seconds", "2026-01-28 23:30:00", "2026-01-28 23:45:00", "apple_healthkit", "REM", "categorized"),
    (13, 1, "Sleep", 5.0, "min", "2026-01-28 23:51:00", "2026-01-28 23:56:00", "api_import", "Core", "categorized"),
    (14, 1, "Sleep", 30.0, "minutes", "2026-01-28 23:50:00", "2026-01-29 00:20:00", "apple_healthkit", "Core", "categorized"),
    (15, 1, "Sleep", 0.33, "hours", "2026-01-28 23:20:00", "2026-01-28 23:40:00", "manual_entry", "Awake", "categorized"),
    (16, 1, "Sleep", 0.5, "hours", "2026-01-29 02:00:00", "2026-01-29 02:30:00", "apple_healthkit", "Awake", "categorized"),
    (17, 1, "Heart Rate", 250.0, "bpm", "2026-01-26 08:20:00", "2026-01-26 08:20:00", "apple_healthkit", None, "failed"),
    (18, 1, "Weight", 70.0, "stone", "2026-01-27 07:30:00", "2026-01-27 07:30:00", "manual_entry", None, "failed"),
    (19, 1, "Heart Rate", 75.0, "bpm", "2026-01-28 12:00", "2026-01-28 12:00", "apple_healthkit", None, "failed"),
    (20, 1, "Respiratory Rate", 16.0, "breaths/min", "2026-01-28 05:00:00", "2026-01-28 05:00:00", "apple_healthkit", None, "categorized"),
]
# ---- categorized: raw_id -> (value, unit, loinc) ----------------------------------------------
CAT = {1: (60.0, "bpm", "8867-4"), 2: (80.0, "bpm", "8867-4"), 3: (70.0, "bpm", "8867-4"),
       4: (90.0, "bpm", "8867-4"), 5: (68.0388, "kg", "29463-7"), 6: (68.0, "kg", "29463-7"),
       7: (1000.0, "steps", "41950-7"), 8: (500.0, "steps", "41950-7"),
       9: (37.0, "°C", "8310-5"), 10: (0.5, "hours", None), 11: (0.6, "hours", None),
       12: (0.25, "hours", None), 13: (5 / 60, "hours", None), 14: (0.5, "hours", None),
       15: (0.33, "hours", None), 16: (0.5, "hours", None), 20: (16.0, "breaths/min", "9279-1")}

AS = '["apple_healthkit"]'
AM = '["apple_healthkit", "manual_entry"]'
AD = '["apple_healthkit", "device_sync"]'
ADM = '["apple_healthkit", "device_sync", "manual_entry"]'
SLEEP_SRC = '["api_import", "apple_healthkit", "device_sync", "manual_entry"]'
M = '["manual_entry"]'
# hourly: (metric, hour_start, loinc, total, avg, min, max, count, unit, primary, sources)
HOURLY = [
    ("Heart Rate", "2026-01-26 08:00:00", "8867-4", None, 70.0, 60.0, 80.0, 2, "bpm", "manual_entry", AM),
    ("Heart Rate", "2026-01-26 09:00:00", "8867-4", None, 70.0, 70.0, 70.0, 1, "bpm", "apple_healthkit", AS),
    ("Heart Rate", "2026-02-01 10:00:00", "8867-4", None, 90.0, 90.0, 90.0, 1, "bpm", "device_sync", '["device_sync"]'),
    ("Weight", "2026-01-27 07:00:00", "29463-7", None, 68.0194, 68.0, 68.0388, 2, "kg", "manual_entry", M),
    ("Steps", "2026-01-27 10:00:00", "41950-7", 1500.0, 750.0, 500.0, 1000.0, 2, "steps", "device_sync", AD),
    ("Temperature", "2026-01-28 12:00:00", "8310-5", None, 37.0, 37.0, 37.0, 1, "°C", "manual_entry", M),
    ("Sleep", "2026-01-28 23:00:00", None, 1.1, 0.55, 0.5, 0.6, 2, "hours", "api_import", SLEEP_SRC),
    ("Sleep", "2026-01-29 02:00:00", None, 0.0, 0.0, 0.0, 0.0, 0, "hours", "apple_healthkit", AS),
    ("Respiratory Rate", "2026-01-28 05:00:00", "9279-1", None, 16.0, 16.0, 16.0, 1, "breaths/min", "apple_healthkit", AS),
]
# daily: (metric, date, loinc, total, avg, min, max, count, duration, unit, primary, sources)
DAILY = [
    ("Heart Rate", "2026-01-26", "8867-4", None, 70.0, 60.0, 80.0, 3, None, "bpm", "apple_healthkit", AM),
    ("Heart Rate", "2026-02-01", "8867-4", None, 90.0, 90.0, 90.0, 1, None, "bpm", "device_sync", '["device_sync"]'),
    ("Weight", "2026-01-27", "29463-7", None, 68.0194, 68.0, 68.0388, 2, None, "kg", "manual_entry", M),
    ("Steps", "2026-01-27", "41950-7", 1500.0, 750.0, 500.0, 1000.0, 2, None, "steps", "device_sync", AD),
    ("Temperature", "2026-01-28", "8310-5", None, 37.0, 37.0, 37.0, 1, None, "°C", "manual_entry", M),
    ("Sleep", "2026-01-28", None, 1.1, 1.1, 0.5, 0.6, 2, 66.0, "hours", "api_import", SLEEP_SRC),
    ("Sleep", "2026-01-29", None, 0.0, 0.0, 0.0, 0.0, 0, None, "hours", "apple_healthkit", AS),
    ("Respiratory Rate", "2026-01-28", "9279-1", None, 16.0, 16.0, 16.0, 1, None, "breaths/min", "apple_healthkit", AS),
]
# weekly: (metric, week_start, week_end, loinc, total, avg, min, max, days, unit, primary, sources)
WEEKLY = [
    ("Heart Rate", "2026-01-26", "2026-02-01", "8867-4", None, 80.0, 60.0, 90.0, 2, "bpm", "device_sync", ADM),
    ("Weight", "2026-01-26", "2026-02-01", "29463-7", None, 68.0194, 68.0, 68.0388, 1, "kg", "manual_entry", M),
    ("Steps", "2026-01-26", "2026-02-01", "41950-7", 1500.0, 750.0, 500.0, 1000.0, 1, "steps", "device_sync", AD),
    ("Temperature", "2026-01-26", "2026-02-01", "8310-5", None, 37.0, 37.0, 37.0, 1, "°C", "manual_entry", M),
    ("Sleep", "2026-01-26", "2026-02-01", None, 1.1, 0.55, 0.0, 0.6, 2, "hours", "apple_healthkit", SLEEP_SRC),
    ("Respiratory Rate", "2026-01-26", "2026-02-01", "9279-1", None, 16.0, 16.0, 16.0, 1, "breaths/min", "apple_healthkit", AS),
]
# monthly: (metric, year, month, loinc, total, avg, min, max, days, unit, primary, sources)
MONTHLY = [
    ("Heart Rate", 2026, 1, "8867-4", None, 70.0, 60.0, 80.0, 1, "bpm", "apple_healthkit", AM),
    ("Heart Rate", 2026, 2, "8867-4", None, 90.0, 90.0, 90.0, 1, "bpm", "device_sync", '["device_sync"]'),
    ("Weight", 2026, 1, "29463-7", None, 68.0194, 68.0, 68.0388, 1, "kg", "manual_entry", M),
    ("Steps", 2026, 1, "41950-7", 1500.0, 750.0, 500.0, 1000.0, 1, "steps", "device_sync", AD),
    ("Temperature", 2026, 1, "8310-5", None, 37.0, 37.0, 37.0, 1, "°C", "manual_entry", M),
    ("Sleep", 2026, 1, None, 1.1, 0.55, 0.0, 0.6, 2, "hours", "apple_healthkit", SLEEP_SRC),
    ("Respiratory Rate", 2026, 1, "9279-1", None, 16.0, 16.0, 16.0, 1, "breaths/min", "apple_healthkit", AS),
]
# ---- nutrition raw: (id, user, meal_date, meal_type, calories, protein, fat, source, created, status)
NR = [
    (1, 2, "2026-01-30", " Breakfast", 300.0, 10.0, None, "manual_entry", "2026-01-30 09:00:00", "completed"),
    (2, 2, "2026-01-30", "LUNCH", 500.0, 20.0, 15.0, "photo_analysis", "2026-01-30 13:00:00", "completed"),
    (3, 2, "2026-01-30", "other", 100.0, None, 0.0, "barcode_scan", "2026-01-30 13:00:00", "completed"),
    (4, 2, "2026-02-02", "snack", 200.0, 5.0, 0.0, "api_import", "2026-02-02 16:00:00", "completed"),
    (5, 2, "2026-01-30", "dinner", 400.0, -1.0, 0.0, "manual_entry", "2026-01-30 20:00:00", "failed"),
    (6, 2, "2026-01-26", "Dinner ", 600.0, 30.0, 0.0, "recipe_import", "2026-02-05 08:00:00", "completed"),
]
# daily: date -> (cal, protein, fat, meals, (b count, cal), (l), (d), (s), primary, sources)
NDAILY = {
    "2026-01-30": (900.0, 30.0, 15.0, 3, (1, 300.0), (1, 500.0), (0, 0.0), (0, 0.0), "barcode_scan",
                   '["barcode_scan", "manual_entry", "photo_analysis"]'),
    "2026-02-02": (200.0, 5.0, 0.0, 1, (0, 0.0), (0, 0.0), (0, 0.0), (1, 200.0), "api_import", '["api_import"]'),
    "2026-01-26": (600.0, 30.0, 0.0, 1, (0, 0.0), (0, 0.0), (1, 600.0), (0, 0.0), "recipe_import", '["recipe_import"]'),
}
N4 = '["barcode_scan", "manual_entry", "photo_analysis", "recipe_import"]'
# weekly: week_start -> (week_end, avg cal, avg protein, avg fat, total cal, meals, days, primary, sources)
NWEEKLY = {"2026-01-26": ("2026-02-01", 750.0, 30.0, 7.5, 1500.0, 4, 2, "recipe_import", N4),
           "2026-02-02": ("2026-02-08", 200.0, 5.0, 0.0, 200.0, 1, 1, "api_import", '["api_import"]')}
NMONTHLY = {(2026, 1): (750.0, 30.0, 7.5, 1500.0, 4, 2, "recipe_import", N4),
            (2026, 2): (200.0, 5.0, 0.0, 200.0, 1, 1, "api_import", '["api_import"]')}


def make_schema(path):
    mlw = os.environ.get("MLWORKER")
    if mlw and os.path.exists(mlw):
        env = dict(os.environ, DATABASE_URL="sqlite:///" + os.path.abspath(path))
        subprocess.run([mlw, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    else:
        subprocess.run([sys.executable, os.path.join(HERE, "dbtool.py"), "init-schema", path],
                       check=True)


def fill(conn):
    for (i, u, m, v, unit, s, e, src, notes, st) in VR:
        conn.execute("INSERT INTO vitals_raw_data (id, user_id, metric_type, value, unit, start_date, "
                     "end_date, data_source, notes, aggregation_status, failure_reason, created_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?, '2026-02-10 00:00:00')",
                     (i, u, m, v, unit, s, e, src, notes, st, "bad" if st == "failed" else None))
        if i in CAT:
            cv, cu, cl = CAT[i]
            conn.execute("INSERT INTO vitals_raw_categorized (raw_id, user_id, metric_type, value, "
                         "unit, start_date, end_date, data_source, notes, loinc_code) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?)", (i, u, m, cv, cu, s, e, src, notes, cl))
    for r in HOURLY:
        conn.execute("INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start, "
                     "loinc_code, total_value, average_value, min_value, max_value, count, unit, "
                     "primary_source, sources_included) VALUES (1,?,?,?,?,?,?,?,?,?,?,?)", r)
    for r in DAILY:
        conn.execute("INSERT INTO vitals_daily_aggregates (user_id, metric_type, date, loinc_code, "
                     "total_value, average_value, min_value, max_value, count, duration_minutes, "
                     "unit, primary_source, sources_included) VALUES (1,?,?,?,?,?,?,?,?,?,?,?,?)", r)
    for r in WEEKLY:
        conn.execute("INSERT INTO vitals_weekly_aggregates (user_id, metric_type, week_start_date, "
                     "week_end_date, loinc_code, total_value, average_value, min_value, max_value, "
                     "days_with_data, unit, primary_source, sources_included) "
                     "VALUES (1,?,?,?,?,?,?,?,?,?,?,?,?)", r)
    for r in MONTHLY:
        conn.execute("INSERT INTO vitals_monthly_aggregates (user_id, metric_type, year, month, "
                     "loinc_code, total_value, average_value, min_value, max_value, "
                     "days_with_data, unit, primary_source, sources_included) "
                     "VALUES (1,?,?,?,?,?,?,?,?,?,?,?,?)", r)
    for (i, u, d, mt, cal, p, f, src, cr, st) in NR:
        conn.execute("INSERT INTO nutrition_raw_data (id, user_id, food_item_name, meal_type, "
                     "portion_size, portion_unit, calories, protein_g, fat_g, meal_date, meal_time, "
                     "data_source, created_at, aggregation_status, failure_reason) "
                     "VALUES (?,?,'food',?,1,'g',?,?,?,?,?,?,?,?,?)",
                     (i, u, mt, cal, p, f, d, d + " 12:00:00", src, cr, st,
                      "negative" if st == "failed" else None))
    for d, (cal, p, f, meals, b, l, dn, s, prim, srcs) in NDAILY.items():
        conn.execute("INSERT INTO nutrition_daily_aggregates (user_id, date, total_calories, "
                     "total_protein_g, total_fat_g, meal_count, breakfast_count, breakfast_calories, "
                     "lunch_count, lunch_calories, dinner_count, dinner_calories, snack_count, "
                     "snack_calories, primary_source, sources_included) "
                     "VALUES (2,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (d, cal, p, f, meals) + b + l + dn + s + (prim, srcs))
    for ws, (we, c, p, f, tc, meals, days, prim, srcs) in NWEEKLY.items():
        conn.execute("INSERT INTO nutrition_weekly_aggregates (user_id, week_start_date, "
                     "week_end_date, avg_daily_calories, avg_daily_protein_g, avg_daily_fat_g, "
                     "total_weekly_calories, total_weekly_meals, days_with_data, primary_source, "
                     "sources_included) VALUES (2,?,?,?,?,?,?,?,?,?,?)",
                     (ws, we, c, p, f, tc, meals, days, prim, srcs))
    for (y, mo), (c, p, f, tc, meals, days, prim, srcs) in NMONTHLY.items():
        conn.execute("INSERT INTO nutrition_monthly_aggregates (user_id, year, month, "
                     "avg_daily_calories, avg_daily_protein_g, avg_daily_fat_g, "
                     "total_monthly_calories, total_monthly_meals, days_with_data, primary_source, "
                     "sources_included) VALUES (2,?,?,?,?,?,?,?,?,?,?)",
                     (y, mo, c, p, f, tc, meals, days, prim, srcs))


CORRUPTIONS = [
    ("sleep overlap total", "UPDATE vitals_hourly_aggregates SET total_value = 1.35 WHERE metric_type='Sleep' AND total_value > 1"),
    ("awake row counted in sleep", "UPDATE vitals_daily_aggregates SET count = 3 WHERE metric_type='Sleep' AND date='2026-01-28'"),
    ("sleep zero hour missing", "DELETE FROM vitals_hourly_aggregates WHERE hour_start='2026-01-29 02:00:00'"),
    ("sources unsorted", "UPDATE vitals_daily_aggregates SET sources_included='[\"manual_entry\", \"apple_healthkit\"]' WHERE metric_type='Heart Rate' AND date='2026-01-26'"),
    ("sources without space", "UPDATE vitals_weekly_aggregates SET sources_included='[\"apple_healthkit\",\"device_sync\"]' WHERE metric_type='Steps'"),
    ("lbs not converted", "UPDATE vitals_hourly_aggregates SET average_value = 109.0 WHERE metric_type='Weight'"),
    ("total for Heart Rate", "UPDATE vitals_daily_aggregates SET total_value = 210 WHERE metric_type='Heart Rate' AND date='2026-01-26'"),
    ("weighted weekly mean", "UPDATE vitals_weekly_aggregates SET average_value = 72.5 WHERE metric_type='Heart Rate'"),
    ("week_end_date", "UPDATE vitals_weekly_aggregates SET week_end_date='2026-01-31' WHERE metric_type='Steps'"),
    ("latest tie by id", "UPDATE vitals_hourly_aggregates SET primary_source='x' WHERE metric_type='Weight'"),
    ("NULL vs 0", "UPDATE vitals_daily_aggregates SET duration_minutes = 0 WHERE metric_type='Sleep' AND date='2026-01-29'"),
    ("extra monthly row", "INSERT INTO vitals_monthly_aggregates (user_id, metric_type, year, month, unit, days_with_data) VALUES (1, 'Steps', 2026, 2, 'steps', 0)"),
    ("loinc", "UPDATE vitals_hourly_aggregates SET loinc_code='8889-8' WHERE hour_start='2026-01-26 09:00:00'"),
    ("failed row categorized", "INSERT INTO vitals_raw_categorized (raw_id, user_id, metric_type, value, unit, start_date, end_date, data_source) VALUES (17, 1, 'Heart Rate', 250, 'bpm', '2026-01-26 08:20:00', '2026-01-26 08:20:00', 'apple_healthkit')"),
    ("categorized twice", "DROP INDEX IF EXISTS ux_vitals_raw_categorized_raw_id; INSERT INTO vitals_raw_categorized (raw_id, user_id, metric_type, value, unit, start_date, end_date, data_source) VALUES (1, 1, 'Heart Rate', 60, 'bpm', '2026-01-26 08:10:00', '2026-01-26 08:10:00', 'apple_healthkit')"),
    ("categorized value unconverted", "UPDATE vitals_raw_categorized SET value = 150 WHERE raw_id = 5"),
    ("row left processing", "UPDATE vitals_raw_data SET aggregation_status='processing' WHERE id = 3"),
    ("failed without reason", "UPDATE vitals_raw_data SET failure_reason='' WHERE id = 17"),
    ("bad row not failed", "UPDATE vitals_raw_data SET aggregation_status='categorized', failure_reason=NULL WHERE id = 19"),
    ("nutrition meal type case", "UPDATE nutrition_daily_aggregates SET lunch_count = 0, lunch_calories = 0 WHERE date='2026-01-30'"),
    ("nutrition failed row summed", "UPDATE nutrition_daily_aggregates SET total_calories = 1300 WHERE date='2026-01-30'"),
    ("nutrition primary tie", "UPDATE nutrition_daily_aggregates SET primary_source='photo_analysis' WHERE date='2026-01-30'"),
    ("nutrition weekly primary from latest day", "UPDATE nutrition_weekly_aggregates SET primary_source='barcode_scan' WHERE week_start_date='2026-01-26'"),
    ("nutrition avg over 7 days", "UPDATE nutrition_monthly_aggregates SET avg_daily_fat_g = 15.0/7 WHERE month=1"),
    ("nutrition completed->pending", "UPDATE nutrition_raw_data SET aggregation_status='pending' WHERE id = 4"),
]


def oracle_rc(path):
    buf = io.StringIO()
    rc = oracle.run(path, 5, out=buf)
    return rc, buf.getvalue()


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "base.db")
        make_schema(base)
        conn = sqlite3.connect(base)
        with conn:
            fill(conn)
        conn.close()
        rc, out = oracle_rc(base)
        if rc != 0:
            print("FAIL: oracle rejects the hand-computed database:\n" + out)
            failures += 1
        else:
            print("ok   hand-computed database accepted: " + out.strip())
        for name, sql in CORRUPTIONS:
            path = os.path.join(tmp, "c.db")
            with open(base, "rb") as s, open(path, "wb") as d:
                d.write(s.read())
            conn = sqlite3.connect(path)
            conn.executescript(sql)
            conn.commit()
            conn.close()
            rc, out = oracle_rc(path)
            if rc == 1:
                first = [ln for ln in out.splitlines() if ln.startswith("  ")][:1]
                print("ok   corruption detected: %-40s %s" % (name, first[0].strip()[:90] if first else ""))
            else:
                print("FAIL corruption NOT detected: %s" % name)
                failures += 1
            os.remove(path)
    print("selftest: %d passed, %d failed" % (1 + len(CORRUPTIONS) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
