"""Helpers for test_report.sh (`mlworker report`).

  report_helper.py seed-small DB     raw rows of user 1 (March 2026) with known counts per chart,
                                     hostile strings, rows that fail; prints the expected marks
                                     per chart as JSON on stdout
  report_helper.py seed-huge DB USER about a million rows of one user written straight into the
                                     aggregate tables (30 years) and failed raw rows with many
                                     distinct reasons
  report_helper.py dom DOMFILE EXPECT_JSON
                                     counts the marks per chart in a DOM chromium dumped after
                                     loading the report and compares them with the expected ones
"""
import datetime
import html.parser
import json
import sqlite3
import sys

HOSTILE = '<script>alert("x")</script> & \'Co\''
D0 = datetime.date(2026, 3, 1)


def day(i):
    return (D0 + datetime.timedelta(days=i)).isoformat()


def seed_small(db):
    c = sqlite3.connect(db)
    vit = []

    def v(metric, value, unit, d, hh=8, mm=0, src="apple_healthkit", end_d=None, end_hh=None):
        vit.append((1, metric, value, unit, "%s %02d:%02d:00" % (day(d), hh, mm),
                    "%s %02d:%02d:00" % (day(end_d if end_d is not None else d),
                                         end_hh if end_hh is not None else hh, mm), src))

    for d in range(31):                      # heart rate every day, 3 samples
        for k, hh in enumerate((8, 13, 20)):
            v("Heart Rate", 60 + d % 5 + 7 * k, "bpm", d, hh)
    for d in range(20):                      # steps on 20 days
        v("Steps", 4000 + 100 * d, "count", d, 10)
    for d in range(25):                      # active energy on 25 days
        v("Active Energy", 300 + d, "kcal", d, 11)
    for d in range(15):                      # 15 nights
        v("Sleep", 7.5, "hours", d, 23, 0, end_d=d + 1, end_hh=6)
    for d in range(0, 30, 3):                # weight on 10 days
        v("Weight", 70 + d / 10, "kg", d, 7)
    for d in range(12):                      # blood pressure on 12 days
        v("Blood Pressure Systolic", 120 + d, "mmHg", d, 7, 5)
        v("Blood Pressure Diastolic", 80 - d / 2, "mmHg", d, 7, 5)
    # rows that fail, with hostile text in what the reason quotes
    for i in range(3):
        v("Heart Rate", 70, "<script>x</script>%d" % i, 2, 9, i)
    v("Heart Rate", 70, "b\u00e4d & \"q\"", 3, 9, 0)
    c.executemany("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date,"
                  " end_date, data_source) VALUES (?, ?, ?, ?, ?, ?, ?)", vit)
    # a row whose unit is not valid UTF-8 (a BLOB cast to text): fails, reason escaped
    c.execute("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, end_date,"
              " data_source) VALUES (1, 'Heart Rate', 70, CAST(x'ff3c62fe' AS TEXT),"
              " '2026-03-05 09:00:00', '2026-03-05 09:00:00', 'manual')")
    meals = []
    for d in range(14):                      # 14 days: breakfast, lunch, dinner; a snack every other day
        for mt, kcal, hh in (("breakfast", 400, 8), ("lunch", 650, 13), ("dinner", 700, 19)) + \
                ((("snack", 150, 16),) if d % 2 == 0 else ()):
            meals.append((1, "food", mt, 100, "g", kcal, kcal * 0.05, kcal * 0.03, kcal * 0.12,
                          day(d), "%s %02d:00:00" % (day(d), hh), "manual_entry"))
    meals.append((1, "bad", "snack", 1, "g", 100, -5, 0, 0, day(2), day(2) + " 10:00:00",
                  "manual_entry"))
    c.executemany("INSERT INTO nutrition_raw_data (user_id, food_item_name, meal_type,"
                  " portion_size, portion_unit, calories, protein_g, fat_g, carbs_g, meal_date,"
                  " meal_time, data_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", meals)
    labs = []
    for i, d in enumerate((1, 14, 28)):
        labs.append((1, "HbA1c", "DIABETES", "%.1f" % (5.2 + 0.3 * i), "%", "4.0-5.6",
                     "High" if 5.2 + 0.3 * i > 5.6 else "Normal", day(d)))
    for d in (3, 20):
        labs.append((1, HOSTILE, HOSTILE, "12", "<b>u</b>", "10-20", "Normal", day(d)))
    labs.append((1, "Urine Protein", "URINE", "Negative", None, None, "Normal", day(5)))
    labs.append((1, "Ferritin", "IRON", "  ", "ng/mL", None, None, day(6)))  # insufficient
    c.executemany("INSERT INTO lab_reports (user_id, test_name, test_category, test_value,"
                  " test_unit, reference_range, test_status, test_date)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", labs)
    c.commit()
    c.close()
    # what the report must show for 2026-03-01 .. 2026-03-31
    print(json.dumps({"heart_rate": 31, "steps": 20, "energy": 25, "sleep": 15, "weight": 10,
                      "blood_pressure": 24, "calories": 14 * 3 + 7, "macros": 14 * 3,
                      "lab": [0, 3, 2]}))


def seed_huge(db, user):
    c = sqlite3.connect(db)
    c.execute("PRAGMA synchronous = OFF")  # a scratch database: speed over durability
    start = datetime.date(1996, 1, 1)
    n_days = 30 * 365
    metrics = ["Heart Rate", "Steps", "Active Energy", "Sleep", "Weight",
               "Blood Pressure Systolic", "Blood Pressure Diastolic"]
    days = [(start + datetime.timedelta(days=i)) for i in range(n_days)]
    rows = []
    for m in metrics:
        for i, d in enumerate(days):
            x = 50 + (i % 37)
            rows.append((user, m, d.isoformat(), x * 3, x, x - 5, x + 9, 24, "u"))
    c.executemany("INSERT INTO vitals_daily_aggregates (user_id, metric_type, date, total_value,"
                  " average_value, min_value, max_value, count, unit)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    # hourly rows the report must never read (about 525 000)
    c.executemany("INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start,"
                  " average_value, min_value, max_value, count, unit) VALUES (?, ?, ?,"
                  " 70, 60, 80, 4, 'bpm')",
                  ((user, m, "%s %02d:00:00" % (d.isoformat(), h))
                   for m in ("Heart Rate", "Steps") for d in days for h in range(24)))
    weeks = sorted({d - datetime.timedelta(days=d.weekday()) for d in days})
    months = sorted({(d.year, d.month) for d in days})
    c.executemany("INSERT INTO vitals_weekly_aggregates (user_id, metric_type, week_start_date,"
                  " week_end_date, total_value, average_value, min_value, max_value,"
                  " days_with_data, unit) VALUES (?, ?, ?, ?, 700, 70, 50, 95, 7, 'u')",
                  ((user, m, w.isoformat(), (w + datetime.timedelta(days=6)).isoformat())
                   for m in metrics for w in weeks))
    c.executemany("INSERT INTO vitals_monthly_aggregates (user_id, metric_type, year, month,"
                  " total_value, average_value, min_value, max_value, days_with_data, unit)"
                  " VALUES (?, ?, ?, ?, 3000, 70, 50, 95, 30, 'u')",
                  ((user, m, y, mo) for m in metrics for (y, mo) in months))
    c.executemany("INSERT INTO nutrition_daily_aggregates (user_id, date, total_calories,"
                  " total_protein_g, total_carbs_g, total_fat_g, meal_count, breakfast_calories,"
                  " lunch_calories, dinner_calories, snack_calories)"
                  " VALUES (?, ?, 2000, 90, 250, 70, 4, 400, 700, 750, 150)",
                  ((user, d.isoformat()) for d in days))
    c.executemany("INSERT INTO nutrition_weekly_aggregates (user_id, week_start_date,"
                  " week_end_date, avg_daily_calories, avg_daily_protein_g, avg_daily_carbs_g,"
                  " avg_daily_fat_g, days_with_data) VALUES (?, ?, ?, 2000, 90, 250, 70, 7)",
                  ((user, w.isoformat(), (w + datetime.timedelta(days=6)).isoformat())
                   for w in weeks))
    mdays = {}
    for d in days:
        mdays[(d.year, d.month)] = mdays.get((d.year, d.month), 0) + 1
    c.executemany("INSERT INTO nutrition_monthly_aggregates (user_id, year, month,"
                  " avg_daily_calories, avg_daily_protein_g, avg_daily_carbs_g, avg_daily_fat_g,"
                  " days_with_data) VALUES (?, ?, ?, 2000, 90, 250, 70, ?)",
                  ((user, y, mo, mdays[(y, mo)]) for (y, mo) in months))
    # 200 lab tests, monthly for 30 years
    c.executemany("INSERT INTO lab_reports_daily (user_id, date, test_name, test_code, loinc_code,"
                  " test_category, avg_value, min_value, max_value, count, unit, normal_range_min,"
                  " normal_range_max, status) VALUES (?, ?, ?, ?, 'UNKNOWN', 'Others', ?, ?, ?, 1,"
                  " 'mg/dL', 10, 20, 'green')",
                  ((user, "%04d-%02d-15" % (y, mo), "test <%d> & co" % t, "T%d" % t,
                    str(10 + t % 7), str(10 + t % 7), str(10 + t % 7))
                   for t in range(200) for (y, mo) in months))
    c.executemany("INSERT INTO lab_reports_monthly (user_id, year, month, test_name, test_code,"
                  " loinc_code, test_category, avg_value, min_value, max_value, count, unit,"
                  " normal_range_min, normal_range_max, status) VALUES (?, ?, ?, ?, ?, 'UNKNOWN',"
                  " 'Others', ?, ?, ?, 1, 'mg/dL', 10, 20, 'green')",
                  ((user, y, mo, "test <%d> & co" % t, "T%d" % t, str(10 + t % 7),
                    str(10 + t % 7), str(10 + t % 7))
                   for t in range(200) for (y, mo) in months))
    # 150 000 failed raw rows with 3 000 distinct reasons
    c.executemany("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date,"
                  " end_date, data_source, aggregation_status, failure_reason)"
                  " VALUES (?, 'Heart Rate', 70, 'bpm', ?, ?, 'x', 'failed', ?)",
                  ((user, "2000-01-01 00:00:%02d.%06d" % (i % 60, i), "2000-01-01 00:00:00",
                    "reason <%d> & \"%s\"" % (i % 3000, "x" * (i % 50)))
                   for i in range(150000)))
    c.commit()
    total = sum(c.execute("SELECT count(*) FROM %s WHERE user_id = ?" % t, (user,)).fetchone()[0]
                for t in ("vitals_daily_aggregates", "vitals_hourly_aggregates",
                          "vitals_weekly_aggregates", "vitals_monthly_aggregates",
                          "nutrition_daily_aggregates", "nutrition_weekly_aggregates",
                          "nutrition_monthly_aggregates", "lab_reports_daily",
                          "lab_reports_monthly", "vitals_raw_data"))
    print(total)


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts = []      # [name, declared marks, counted marks, nodata]
        self.in_svg = None
        self.tags = {}
        self.reasons = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        cls = (a.get("class") or "").split()
        if tag == "svg" and "data-chart" in a:
            self.in_svg = [a["data-chart"], int(a["data-marks"]), 0, "nodata" in cls]
            self.charts.append(self.in_svg)
        elif self.in_svg is not None and cls[:1] == ["mark"]:
            self.in_svg[2] += 1
        if tag == "tr" and "reason" in cls:
            self.reasons += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.in_svg = None


def dom_check(domfile, expect_json):
    with open(domfile, encoding="utf-8") as f:
        text = f.read()
    p = Dom()
    p.feed(text)
    want = json.loads(expect_json)
    bad = []
    got = {}
    for name, declared, counted, nodata in p.charts:
        if declared != counted:
            bad.append("%s: data-marks=%d but %d mark elements" % (name, declared, counted))
        got.setdefault(name, []).append(counted)
    for name, n in want.items():
        have = sorted(got.get(name, []))
        exp = sorted(n) if isinstance(n, list) else [n]
        if have != exp:
            bad.append("%s: marks %r, expected %r" % (name, have, exp))
    if p.tags.get("script"):
        bad.append("%d <script> elements in the DOM" % p.tags["script"])
    for t in ("img", "iframe", "link", "object", "embed"):
        if p.tags.get(t):
            bad.append("%d <%s> elements" % (p.tags[t], t))
    print("charts:", {k: v for k, v in got.items()}, "reason rows:", p.reasons)
    for b in bad:
        print("  " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "seed-small":
        seed_small(sys.argv[2])
    elif cmd == "seed-huge":
        seed_huge(sys.argv[2], int(sys.argv[3]))
    elif cmd == "dom":
        sys.exit(dom_check(sys.argv[2], sys.argv[3]))
    else:
        sys.exit("unknown command " + cmd)
