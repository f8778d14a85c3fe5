#!/usr/bin/env python3
"""Independent oracle for the vitals and nutrition pipelines.

Recomputes every vitals aggregate (hourly, daily, weekly, monthly) and every nutrition
aggregate (daily, weekly, monthly) from the raw rows of an SQLite database, following the
contract (reference/original-data-model.md §2-§3, reference/CLARIFICATIONS.md, issue 2), and
compares with what the worker wrote:

  * same set of logical keys in each aggregate table, every column equal (numbers at relative
    tolerance 1e-6, text exact, NULL vs value is a difference);
  * no raw row left 'pending'/'queued'/'processing'; each raw row is 'categorized' (vitals) /
    'completed' (nutrition) or 'failed' with a non-empty failure_reason, as the contract says;
  * each non-failed vitals raw row has exactly one vitals_raw_categorized row (raw_id) with the
    converted value, standard unit and LOINC code; failed rows have none.

Exit 0 with a one-line summary when everything matches, 1 on any mismatch (with a diff of the
first mismatches), 2 on usage errors.

Rows whose only oddity is invalid UTF-8 in a free-text field (notes, source_device,
food_item_name, ...) are accepted either way ("either"): processed, or failed with a reason.
"""

import argparse
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402

REL_TOL = 1e-6
ABS_TOL = 1e-9
_SURROGATE = re.compile("[\udc80-\udcff]")


def open_db(path):
    if not os.path.exists(path):
        raise SystemExit("oracle: no such database: %s" % path)
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    return conn


def has_bad_utf8(*vals):
    return any(isinstance(v, str) and _SURROGATE.search(v) for v in vals)


def close(a, b, rel=REL_TOL):
    if a == b:
        return True
    return abs(a - b) <= max(ABS_TOL, rel * max(abs(a), abs(b)))


class Report:
    def __init__(self, max_show):
        self.max_show = max_show
        self.problems = {}  # section -> [count, [lines]]

    def add(self, section, line):
        ent = self.problems.setdefault(section, [0, []])
        ent[0] += 1
        if len(ent[1]) < self.max_show:
            ent[1].append(line)

    def failed(self):
        return bool(self.problems)

    def print(self, out):
        for section, (n, lines) in self.problems.items():
            print("MISMATCH [%s]: %d problem(s)" % (section, n), file=out)
            for ln in lines:
                print("  " + ln, file=out)
            if n > len(lines):
                print("  ... and %d more" % (n - len(lines)), file=out)


def short(v, n=80):
    r = repr(v)
    return r if len(r) <= n else r[: n - 20] + "...(%d chars)" % len(r)


# ------------------------------------------------------------------------------------------
# Vitals


class Sample:
    __slots__ = ("raw_id", "user_id", "metric", "value", "unit", "start", "end", "source",
                 "notes", "loinc", "hour_start", "date", "source_device", "confidence")


def resolve_loinc(mappings, metric):
    lm = spec.ascii_lower(metric)
    for vs, code in mappings:
        if isinstance(vs, str) and spec.ascii_lower(vs) == lm:
            return code
    for vs, code in mappings:
        if isinstance(vs, str) and lm in spec.ascii_lower(vs):
            return code
    return None


# mlworker's text limits (src/jobs/pipeline_int.h), in characters: longer values fail the row.
NAME_MAX_CHARS = 1024
TEXT_MAX_CHARS = 16384


def too_long(r, names, texts=()):
    """The first column over its limit, or None."""
    for cols, limit in ((names, NAME_MAX_CHARS), (texts, TEXT_MAX_CHARS)):
        for c in cols:
            if isinstance(r[c], str) and len(r[c]) > limit:
                return c
    return None


def classify_vital(r):
    """r: dict of a raw row.  Returns (verdict, reason, converted) with verdict in
    'ok' | 'fail' | 'either'."""
    if not isinstance(r["metric_type"], str) or not isinstance(r["data_source"], str):
        return "fail", "metric_type/data_source not text", None
    start = spec.parse_ts(r["start_date"])
    if start is None:
        return "fail", "bad start_date %s" % short(r["start_date"]), None
    end = spec.parse_ts(r["end_date"])
    if end is None:
        return "fail", "bad end_date %s" % short(r["end_date"]), None
    if not spec.week_fits(start.date):
        return "fail", "week of %s ends after 9999-12-31" % spec.fmt_date(start.date), None
    long_col = too_long(r, ("metric_type", "unit", "data_source", "source_device"), ("notes",))
    if long_col:
        return "fail", "%s longer than the limit" % long_col, None
    v, u, why = spec.convert_vital(r["metric_type"], r["value"], r["unit"])
    if why:
        return "fail", why, None
    verdict = "either" if has_bad_utf8(r["notes"], r["source_device"], r["metric_type"],
                                       r["unit"], r["data_source"]) else "ok"
    return verdict, None, (v, u, start, end)


VITAL_RAW_COLS = ["id", "user_id", "metric_type", "value", "unit", "start_date", "end_date",
                  "data_source", "source_device", "notes", "confidence_score",
                  "aggregation_status", "failure_reason"]
CAT_COLS = ["raw_id", "id", "user_id", "metric_type", "value", "unit", "start_date", "end_date",
            "data_source", "source_device", "notes", "confidence_score", "loinc_code"]


def check_status(rep, section, rid, verdict, reason, status, failure_reason, success):
    """Returns True when the row counts as processed successfully."""
    fr_ok = isinstance(failure_reason, str) and failure_reason.strip() != ""
    if status not in (success, "failed"):
        rep.add(section, "id %s: status %r (expected %s)" % (
            rid, status, success if verdict != "fail" else "failed"))
        return False
    if verdict == "ok" and status != success:
        rep.add(section, "id %s: good row marked failed (reason %s)" % (rid, short(failure_reason)))
        return False
    if verdict == "fail" and status != "failed":
        rep.add(section, "id %s: bad row (%s) has status %r" % (rid, reason, status))
        return False
    if status == "failed" and not fr_ok:
        rep.add(section, "id %s: failed without a failure_reason (%r)" % (rid, failure_reason))
    return status == success


def vitals_expected(conn, rep, stats):
    mappings = conn.execute(
        "SELECT vital_sign, loinc_code FROM vitals_mappings "
        "ORDER BY sort_order IS NULL, sort_order, rowid").fetchall()
    samples = []
    n_ok = n_fail = n_either = 0
    for row in conn.execute("SELECT %s FROM vitals_raw_data ORDER BY id" % ", ".join(VITAL_RAW_COLS)):
        r = dict(zip(VITAL_RAW_COLS, row))
        verdict, reason, conv = classify_vital(r)
        if verdict == "ok":
            n_ok += 1
        elif verdict == "fail":
            n_fail += 1
        else:
            n_either += 1
        check_status(rep, "vitals_raw_data status", r["id"], verdict, reason,
                            r["aggregation_status"], r["failure_reason"], "categorized")
        include = verdict == "ok" or (verdict == "either" and r["aggregation_status"] == "categorized")
        if not include:
            continue
        s = Sample()
        s.raw_id, s.user_id, s.metric = r["id"], r["user_id"], r["metric_type"]
        s.value, s.unit, s.start, s.end = conv
        s.source, s.notes = r["data_source"], r["notes"]
        s.loinc = resolve_loinc(mappings, s.metric)
        s.hour_start = s.start.hour_start()
        s.date = s.start.date
        s.source_device, s.confidence = r["source_device"], r["confidence_score"]
        samples.append(s)
    stats["vitals_raw"] = (n_ok, n_fail, n_either)

    # categorized rows
    cats = {}
    for row in conn.execute("SELECT %s FROM vitals_raw_categorized" % ", ".join(CAT_COLS)):
        c = dict(zip(CAT_COLS, row))
        cats.setdefault(c["raw_id"], []).append(c)
    by_id = {s.raw_id: s for s in samples}
    raw_status = dict(conn.execute("SELECT id, aggregation_status FROM vitals_raw_data"))
    for raw_id, lst in cats.items():
        if raw_id not in raw_status:
            rep.add("vitals_raw_categorized", "categorized id %s has raw_id %s with no raw row"
                    % (lst[0]["id"], raw_id))
        elif raw_id not in by_id:
            rep.add("vitals_raw_categorized", "raw id %s (status %r) is not a processed row but has "
                    "%d categorized row(s)" % (raw_id, raw_status[raw_id], len(lst)))
    for s in samples:
        lst = cats.get(s.raw_id, [])
        if len(lst) != 1:
            rep.add("vitals_raw_categorized", "raw id %s has %d categorized rows (expected 1)"
                    % (s.raw_id, len(lst)))
            continue
        c = lst[0]
        diffs = []
        for col, exp in (("user_id", s.user_id), ("metric_type", s.metric), ("unit", s.unit),
                         ("data_source", s.source), ("notes", s.notes),
                         ("source_device", s.source_device), ("loinc_code", s.loinc)):
            if c[col] != exp:
                diffs.append("%s: expected %s got %s" % (col, short(exp), short(c[col])))
        if not (spec.is_number(c["value"]) and close(float(c["value"]), s.value)):
            diffs.append("value: expected %r got %s" % (s.value, short(c["value"])))
        conf = c["confidence_score"]
        if not (conf == s.confidence or (spec.is_number(conf) and spec.is_number(s.confidence)
                                          and close(conf, s.confidence))):
            diffs.append("confidence_score: expected %r got %r" % (s.confidence, conf))
        for col, exp in (("start_date", s.start), ("end_date", s.end)):
            got = spec.parse_ts(c[col])
            if got is None or got.key != exp.key:
                diffs.append("%s: expected %s got %s" % (col, exp, short(c[col])))
        if diffs:
            rep.add("vitals_raw_categorized", "raw id %s (%s): %s" % (s.raw_id, s.metric,
                                                                      "; ".join(diffs)))
    stats["vitals_samples"] = len(samples)
    return samples


def _latest(items, key):
    return max(items, key=key)


def _is_awake(notes):
    return isinstance(notes, str) and "awake" in spec.ascii_lower(notes)


def vitals_hourly(samples):
    buckets = {}
    for s in samples:
        buckets.setdefault((s.user_id, s.metric, s.hour_start), []).append(s)
    out = {}
    for key, items in buckets.items():
        metric = key[1]
        latest = _latest(items, lambda s: (s.start.key, s.raw_id))
        row = {"loinc_code": latest.loinc, "primary_source": latest.source,
               "sources_included": sorted({s.source for s in items}),
               "duration_minutes": None, "notes": None}
        if metric == "Sleep":
            cands = [s for s in items if not _is_awake(s.notes) and 0.1 <= s.value <= 16.0]
            cands.sort(key=lambda s: (s.start.key, s.raw_id))
            kept = []
            for p in cands:
                for i, k in enumerate(kept):
                    if p.start.key < k.end.key and p.end.key > k.start.key:
                        if p.value > k.value:
                            kept[i] = p
                        break
                else:
                    kept.append(p)
            hours = [k.value for k in kept]
            if hours:
                total = sum(hours)
                row.update(total_value=total, average_value=total / len(hours),
                           min_value=min(hours), max_value=max(hours), count=len(hours))
            else:
                row.update(total_value=0.0, average_value=0.0, min_value=0.0, max_value=0.0,
                           count=0)
            row["unit"] = "hours"
        else:
            vals = [s.value for s in items]
            total = sum(vals)
            row.update(total_value=total if metric in spec.TOTAL_METRICS else None,
                       average_value=total / len(vals), min_value=min(vals),
                       max_value=max(vals), count=len(vals), unit=latest.unit)
        row["_hour"] = key[2]
        out[key] = row
    return out


def _mean(xs):
    return sum(xs) / len(xs) if xs else None


def vitals_daily(hourly):
    groups = {}
    for (uid, metric, hs), row in hourly.items():
        groups.setdefault((uid, metric, hs[:10]), []).append(row)
    out = {}
    for key, rows in groups.items():
        latest = max(rows, key=lambda r: r["_hour"])
        srcs = set()
        for r in rows:
            srcs.update(r["sources_included"])
        d = {"loinc_code": latest["loinc_code"], "primary_source": latest["primary_source"],
             "sources_included": sorted(srcs), "notes": None,
             "min_value": min(r["min_value"] for r in rows),
             "max_value": max(r["max_value"] for r in rows),
             "count": sum(r["count"] for r in rows)}
        if key[1] == "Sleep":
            total = sum(r["total_value"] for r in rows)
            d.update(total_value=total, average_value=total, unit="hours",
                     duration_minutes=total * 60.0 if total > 0 else None)
        else:
            tots = [r["total_value"] for r in rows if r["total_value"] is not None]
            avgs = [r["average_value"] for r in rows if r["average_value"] is not None]
            d.update(total_value=sum(tots) if tots else None, average_value=_mean(avgs),
                     unit=latest["unit"], duration_minutes=None)
        out[key] = d
    return out


def _period(rows):
    latest = max(rows, key=lambda r: r["_date"])
    srcs = set()
    for r in rows:
        srcs.update(r["sources_included"])
    tots = [r["total_value"] for r in rows if r["total_value"] is not None]
    avgs = [r["average_value"] for r in rows if r["average_value"] is not None]
    mins = [r["min_value"] for r in rows if r["min_value"] is not None]
    maxs = [r["max_value"] for r in rows if r["max_value"] is not None]
    return {"loinc_code": latest["loinc_code"], "primary_source": latest["primary_source"],
            "unit": latest["unit"], "sources_included": sorted(srcs),
            "total_value": sum(tots) if tots else None, "average_value": _mean(avgs),
            "min_value": min(mins) if mins else None, "max_value": max(maxs) if maxs else None,
            "days_with_data": len(rows), "total_duration_minutes": None, "notes": None}


def vitals_weekly_monthly(daily):
    weeks, months = {}, {}
    for (uid, metric, ds), row in daily.items():
        d = spec.parse_date(ds)
        row = dict(row, _date=ds)
        ws = spec.week_start(d)
        weeks.setdefault((uid, metric, spec.fmt_date(ws)), []).append(row)
        months.setdefault((uid, metric, d.year, d.month), []).append(row)
    wout = {}
    for key, rows in weeks.items():
        w = _period(rows)
        w["week_end_date"] = spec.fmt_date(spec.week_end(spec.parse_date(key[2])))
        wout[key] = w
    mout = {k: _period(rows) for k, rows in months.items()}
    return wout, mout


# ------------------------------------------------------------------------------------------
# Nutrition

NUT_RAW_COLS = (["id", "user_id", "meal_type", "meal_date", "data_source", "created_at",
                 "aggregation_status", "failure_reason", "food_item_name", "dish_name",
                 "dish_type", "notes", "portion_unit", "image_url"] + spec.NUTRIENTS)


def classify_nutrition(r):
    if not isinstance(r["data_source"], str):
        return "fail", "data_source not text", None
    d = spec.parse_date(r["meal_date"])
    if d is None:
        return "fail", "bad meal_date %s" % short(r["meal_date"]), None
    if not spec.week_fits(d):
        return "fail", "week of %s ends after 9999-12-31" % r["meal_date"], None
    long_col = too_long(r, ("meal_type", "data_source"))
    if long_col:
        return "fail", "%s longer than the limit" % long_col, None
    vals = {}
    for n in spec.NUTRIENTS:
        v = r[n]
        if v is None:
            vals[n] = 0.0
            continue
        if not spec.is_number(v):
            return "fail", "%s not a number (%s)" % (n, short(v)), None
        v = float(v)
        if v != v or v in (float("inf"), float("-inf")):
            return "fail", "%s not finite" % n, None
        if v < 0:
            return "fail", "%s negative" % n, None
        vals[n] = v
    verdict = "either" if has_bad_utf8(r["food_item_name"], r["dish_name"], r["dish_type"],
                                       r["notes"], r["portion_unit"], r["image_url"],
                                       r["meal_type"], r["data_source"]) else "ok"
    return verdict, None, (d, vals)


def _created_key(v):
    t = spec.parse_ts(v) if isinstance(v, str) else None
    if t is not None:
        return (0, t.key)
    return (1, str(v))


def nutrition_expected(conn, rep, stats):
    rows = []
    n_ok = n_fail = n_either = 0
    for row in conn.execute("SELECT %s FROM nutrition_raw_data ORDER BY id" % ", ".join(NUT_RAW_COLS)):
        r = dict(zip(NUT_RAW_COLS, row))
        verdict, reason, parsed = classify_nutrition(r)
        if verdict == "ok":
            n_ok += 1
        elif verdict == "fail":
            n_fail += 1
        else:
            n_either += 1
        check_status(rep, "nutrition_raw_data status", r["id"], verdict, reason,
                     r["aggregation_status"], r["failure_reason"], "completed")
        if verdict == "ok" or (verdict == "either" and r["aggregation_status"] == "completed"):
            r["_date"], r["_vals"] = parsed
            r["_ckey"] = (_created_key(r["created_at"]), r["id"])
            rows.append(r)
    stats["nutrition_raw"] = (n_ok, n_fail, n_either)

    days = {}
    for r in rows:
        days.setdefault((r["user_id"], spec.fmt_date(r["_date"])), []).append(r)
    daily = {}
    for key, items in days.items():
        d = {"total_" + n: sum(r["_vals"][n] for r in items) for n in spec.NUTRIENTS}
        d["meal_count"] = len(items)
        for mt in spec.MEAL_TYPES:
            sel = [r for r in items if spec.meal_kind(r["meal_type"]) == mt]
            d[mt + "_count"] = len(sel)
            d[mt + "_calories"] = sum(r["_vals"]["calories"] for r in sel)
        latest = max(items, key=lambda r: r["_ckey"])
        d["primary_source"] = latest["data_source"]
        d["sources_included"] = sorted({r["data_source"] for r in items})
        d["notes"] = None
        d["_latest"] = latest["_ckey"]
        daily[key] = d

    weeks, months = {}, {}
    for (uid, ds), d in daily.items():
        dt = spec.parse_date(ds)
        weeks.setdefault((uid, spec.fmt_date(spec.week_start(dt))), []).append(d)
        months.setdefault((uid, dt.year, dt.month), []).append(d)
    latest_src = {}
    for r in rows:  # primary_source of a period = raw row with the greatest (created_at, id)
        for pk in (("w", r["user_id"], spec.fmt_date(spec.week_start(r["_date"]))),
                   ("m", r["user_id"], r["_date"].year, r["_date"].month)):
            cur = latest_src.get(pk)
            if cur is None or r["_ckey"] > cur[0]:
                latest_src[pk] = (r["_ckey"], r["data_source"])

    def period(ds, kind, pkey, name):
        n = len(ds)
        p = {"avg_daily_" + x: sum(d["total_" + x] for d in ds) / n for x in spec.NUTRIENTS}
        p["total_%s_calories" % name] = sum(d["total_calories"] for d in ds)
        p["total_%s_meals" % name] = sum(d["meal_count"] for d in ds)
        p["days_with_data"] = n
        p["primary_source"] = latest_src[(kind,) + pkey][1]
        srcs = set()
        for d in ds:
            srcs.update(d["sources_included"])
        p["sources_included"] = sorted(srcs)
        p["notes"] = None
        return p

    weekly = {}
    for key, ds in weeks.items():
        w = period(ds, "w", key, "weekly")
        w["week_end_date"] = spec.fmt_date(spec.week_end(spec.parse_date(key[1])))
        weekly[key] = w
    monthly = {key: period(ds, "m", key, "monthly") for key, ds in months.items()}
    return daily, weekly, monthly


# ------------------------------------------------------------------------------------------
# Comparison

INT_COLS = {"count", "days_with_data", "meal_count", "breakfast_count", "lunch_count",
            "dinner_count", "snack_count", "total_weekly_meals", "total_monthly_meals"}
TEXT_COLS = {"loinc_code", "unit", "primary_source", "notes", "week_end_date"}


def compare_table(conn, rep, table, key_cols, expected, stats):
    cols = sorted({c for row in expected.values() for c in row if not c.startswith("_")})
    if not cols:
        cols = [c[1] for c in conn.execute("PRAGMA table_info(%s)" % table)
                if c[1] not in key_cols and c[1] not in ("id", "created_at", "updated_at")]
        cols = [c for c in cols if c in INT_COLS]  # nothing expected: only need the keys
    sql = "SELECT %s FROM %s" % (", ".join(key_cols + cols), table)
    actual = {}
    for row in conn.execute(sql):
        key = tuple(row[: len(key_cols)])
        if key in actual:
            rep.add(table, "duplicate key %s" % (key,))
        actual[key] = dict(zip(cols, row[len(key_cols):]))
    stats[table] = len(expected)
    missing = sorted(set(expected) - set(actual), key=repr)
    extra = sorted(set(actual) - set(expected), key=repr)
    def brief(row):
        keep = [c for c in ("count", "days_with_data", "meal_count", "total_value",
                            "average_value", "total_calories", "primary_source") if c in row]
        return ", ".join("%s=%s" % (c, short(row[c], 40)) for c in keep)

    for k in missing:
        rep.add(table, "missing row %s (expected %s)" % (short(k, 120), brief(expected[k])))
    for k in extra:
        rep.add(table, "unexpected row %s (%s)" % (short(k, 120), brief(actual[k])))
    for k in sorted(set(expected) & set(actual), key=repr):
        exp, act = expected[k], actual[k]
        diffs = []
        for c in cols:
            e, a = exp.get(c), act.get(c)
            if c == "sources_included":
                ok = a is not None and a in spec.json_sources_variants(e)
                if not ok:
                    diffs.append("%s: expected %s got %s" % (c, short(spec.json_sources(e)),
                                                             short(a)))
                continue
            if e is None or a is None:
                ok = e is None and a is None
            elif c in INT_COLS:
                ok = spec.is_number(a) and a == e
            elif c in TEXT_COLS or isinstance(e, str):
                ok = a == e
            else:
                ok = spec.is_number(a) and close(float(a), float(e))
            if not ok:
                diffs.append("%s: expected %s got %s" % (c, short(e), short(a)))
        if diffs:
            rep.add(table, "%s: %s" % (short(k, 120), "; ".join(diffs)))


def run(path, max_show, out=sys.stdout):
    conn = open_db(path)
    rep = Report(max_show)
    stats = {}
    samples = vitals_expected(conn, rep, stats)
    hourly = vitals_hourly(samples)
    daily = vitals_daily(hourly)
    weekly, monthly = vitals_weekly_monthly(daily)
    compare_table(conn, rep, "vitals_hourly_aggregates", ["user_id", "metric_type", "hour_start"],
                  hourly, stats)
    compare_table(conn, rep, "vitals_daily_aggregates", ["user_id", "metric_type", "date"],
                  daily, stats)
    compare_table(conn, rep, "vitals_weekly_aggregates",
                  ["user_id", "metric_type", "week_start_date"], weekly, stats)
    compare_table(conn, rep, "vitals_monthly_aggregates",
                  ["user_id", "metric_type", "year", "month"], monthly, stats)
    nd, nw, nm = nutrition_expected(conn, rep, stats)
    compare_table(conn, rep, "nutrition_daily_aggregates", ["user_id", "date"], nd, stats)
    compare_table(conn, rep, "nutrition_weekly_aggregates", ["user_id", "week_start_date"], nw,
                  stats)
    compare_table(conn, rep, "nutrition_monthly_aggregates", ["user_id", "year", "month"], nm,
                  stats)
    conn.close()
    if rep.failed():
        rep.print(out)
        print("oracle: FAIL (%s)" % path, file=out)
        return 1
    vo, vf, ve = stats["vitals_raw"]
    no, nf, ne = stats["nutrition_raw"]
    print("oracle: OK - vitals raw %d (good %d, bad %d, either %d), nutrition raw %d (good %d, "
          "bad %d, either %d); rows matched: vitals hourly %d, daily %d, weekly %d, monthly %d; "
          "nutrition daily %d, weekly %d, monthly %d" % (
              vo + vf + ve, vo, vf, ve, no + nf + ne, no, nf, ne,
              stats["vitals_hourly_aggregates"], stats["vitals_daily_aggregates"],
              stats["vitals_weekly_aggregates"], stats["vitals_monthly_aggregates"],
              stats["nutrition_daily_aggregates"], stats["nutrition_weekly_aggregates"],
              stats["nutrition_monthly_aggregates"]), file=out)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="path of the SQLite database")
    ap.add_argument("--max-diffs", type=int, default=8,
                    help="problems shown per table (default 8)")
    a = ap.parse_args()
    sys.exit(run(a.db, a.max_diffs))


if __name__ == "__main__":
    main()
