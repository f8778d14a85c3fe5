#!/usr/bin/env python3
"""Independent oracle for the lab pipeline (stdlib only).

  labs_oracle.py gen --db DB [--users N --days D --rows R --seed S --start-date D0]
                     [--late | --edit | --bad]     write raw lab_reports rows
  labs_oracle.py check --db DB                      recompute and compare (exit 1 on mismatch)
  labs_oracle.py compare A B                        lab tables of two databases equal?
  labs_oracle.py copy-raw SRC DST                   lab_reports rows, statuses reset
  labs_oracle.py selftest                           the formulas against hand-computed values

`check` follows docs/semantics.md "Labs" (written independently of src/domain/labs.c):
  * every raw row is final: 'insufficient' (Missing test_value / test_name / test_date, in that
    order), 'failed' (invalid date, name over 255 bytes) or 'categorized';
  * each categorized raw row has exactly one lab_report_categorized row (id = raw id) with the
    raw row's value, unit, range, status, date and section, a LOINC code (or UNKNOWN), a test
    code and a category of the catalog; other raw rows have none. Names from the generator's
    table of known names get the expected test code;
  * lab_reports_daily/monthly/quarterly/yearly equal a recomputation from those rows (keys,
    text values, counts, units, normal ranges, statuses).
The name matcher itself is not reimplemented: its decisions are checked by the unit tests.
"""

import argparse
import datetime
import math
import os
import random
import re
import sqlite3
import sys

WS = " \t\n\r\f\v"
TEXT_MAX = 100
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("MLW_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))

# (name as a report writes it, expected test code or None for "no catalog test")
KNOWN = [
    ("Hemoglobin A1c", "HBA1C"), ("HbA1c", "HBA1C"), ("Glycated Haemoglobin", "HBA1C"),
    ("SGPT", "ALT"), ("SGPT (ALT)", "ALT"), ("ALT", "ALT"), ("S.G.O.T.", "AST"),
    ("K", "K"), ("Potassium", "K"), ("Serum Potassium", "K"), ("S. Creatinine", "CREAT"),
    ("Creatinine", "CREAT"), ("Urine Glucose", "U_GLU"), ("Glucose Fasting", "FBS"),
    ("FBS", "FBS"), ("PPBS", "PPBS"), ("Microalbumin", "U_MALB"), ("TSH", "TSH"),
    ("Total Cholesterol", "TC"), ("HDL Cholesterol", "HDL"), ("Triglycerides", "TG"),
    ("Haemoglobin", "HGB"), ("Hb", "HGB"), ("Platelet Count", "PLT"), ("ESR", "ESR"),
    ("Vitamin D (25-OH)", "VITD"), ("Ferritin", "FERR"), ("CRP", "CRP"),
    ("Urine Protein", "U_PROT"), ("Pus Cells", "U_WBC"),
    ("Widgetase", None), ("Frobnicase", None), ("Zeta Factor Q", None),
]
UNITS = {"HBA1C": "%", "ALT": "U/L", "AST": "U/L", "K": "mmol/L", "CREAT": "mg/dL", "FBS": "mg/dL",
         "PPBS": "mg/dL", "TSH": "mIU/L", "TC": "mg/dL", "HDL": "mg/dL", "TG": "mg/dL",
         "HGB": "g/dL", "PLT": "10^3/uL", "ESR": "mm/hr", "VITD": "ng/mL", "FERR": "ng/mL",
         "CRP": "mg/L"}
TEXTUAL = {"U_GLU": ["Negative", "Trace", "1+", "Nil"], "U_PROT": ["Negative", "Trace", "2+"],
           "U_WBC": ["2-3", "4-6", "Nil", "Plenty"], "U_MALB": ["<5", "12", "30.5", "Negative"]}
RANGES = ["70-110", "3.5 - 5.1", "0.5 to 1.2", "<5", "< 200", ">= 60", "Up to 40", "Negative",
          "M: 13-17, F: 12-15", "-3 - 5", ">= -3 to 5", "(4.0-11.0) x10^3/uL", "1,50,000 - 4,50,000",
          "10-5", None, "", "4.0\u20135.6"]
STATUSES = ["Normal", "High", "Low", "Critical", "Abnormal", None, "", "see note", "green"]
SECTIONS = ["BIOCHEMISTRY", "HAEMATOLOGY", "LIVER FUNCTION", None, "Lipid Profile"]
URINE_SECTIONS = ["URINE ROUTINE", "Clinical Pathology - Urine", None]


def section_for(rnd, code):
    """A report section that fits the test (a urine test under a blood section would be
    decided by the section, as a clinician reading the report would)."""
    return rnd.choice(URINE_SECTIONS if code and code.startswith("U_") else SECTIONS)


# ---- formulas (docs/semantics.md "Labs") ---------------------------------------------------

_NUM = re.compile(r"[+-]?(?:\d+(?:,\d{2,3})*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_RNUM = re.compile(r"[+-]?(?:\d+(?:,\d{2,3})*(?:\.\d*)?|\.\d+)")


def _finite(text):
    if len(text) >= 127:
        return None
    v = float(text)
    return v if math.isfinite(v) else None


def parse_number(s):
    if s is None:
        return None
    t = s.strip(WS)
    if not _NUM.match(t):
        return None
    return _finite(t.replace(",", ""))


_CMP = [("<=", 0), ("\u2264", 0), ("<", 0), (">=", 1), ("\u2265", 1), (">", 1), ("up to", 0),
        ("upto", 0), ("less than", 0), ("below", 0), ("more than", 1), ("greater than", 1),
        ("above", 1)]


def _ascii_lower(s):
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in s)


def parse_range(s):
    """(lo, hi) with None for a missing side, or None when nothing parses."""
    if s is None:
        return None
    i = 0
    while i < len(s) and (s[i] in WS or s[i] in "(["):
        i += 1
    cmp_ = None
    low = _ascii_lower(s[i:])
    for w, gt in _CMP:
        if low.startswith(w):
            cmp_ = gt
            i += len(w)
            break
    while i < len(s) and s[i] in WS:
        i += 1
    m = _RNUM.match(s, i)
    if not m:
        return None
    a = _finite(m.group(0).replace(",", ""))
    if a is None:
        return None
    i = m.end()
    while i < len(s) and s[i] in WS:
        i += 1
    sep = 0
    if s.startswith("-", i):
        sep = 1
    elif s[i:i + 1] in ("\u2013", "\u2014", "\u2212") and i < len(s):
        sep = 1
    elif _ascii_lower(s[i:i + 2]) == "to" and not (s[i + 2:i + 3].isascii() and s[i + 2:i + 3].isalpha()):
        sep = 2
    if sep:
        j = i + sep
        while j < len(s) and s[j] in WS:
            j += 1
        m2 = _RNUM.match(s, j)
        b = _finite(m2.group(0).replace(",", "")) if m2 else None
        if b is not None:
            return None if a > b else (a, b)
        if cmp_ is None:
            return None
    if cmp_ is None:
        return None
    return (a, None) if cmp_ else (None, a)


GREEN = {"green", "normal", "within range", "within normal limits", "wnl", "in range"}
AMBER = {"amber", "high", "low", "abnormal", "borderline", "h", "l", "above normal", "below normal",
         "elevated", "borderline high", "borderline low", "out of range"}
RED = {"red", "critical", "critical high", "critical low", "panic", "critically high",
       "critically low"}
FLAG_RANK = {"green": 1, "amber": 2, "red": 3}


def flag(status):
    if status is None:
        return None
    s = _ascii_lower(status.strip(WS))
    if s in RED:
        return "red"
    if s in AMBER:
        return "amber"
    if s in GREEN:
        return "green"
    return None


def worst(flags):
    known = [f for f in flags if f]
    return max(known, key=FLAG_RANK.get) if known else "amber"


def clip(s):
    return s[:TEXT_MAX]


def distinct(values):
    out = []
    for v in values:
        v = "None" if v is None else v
        if v not in out:
            out.append(v)
    return out


def fsum(xs):
    s = 0.0
    for x in xs:
        s += x
    return s


def derive_code(name):
    """The original's derived test code (ASCII upper-casing; 50 code points)."""
    out = []
    for ch in name:
        if ch in "()":
            continue
        if len(out) == 50:
            break
        out.append("_" if ch == " " else (ch.upper() if "a" <= ch <= "z" else ch))
    return "".join(out)


def daily_groups(rows):
    """rows: dicts with id, category, loinc, code, name, value, unit, range, status."""
    groups = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        groups.setdefault((r["category"], r["loinc"], r["code"]), []).append(r)
    out = {}
    for key, g in groups.items():
        vals = [r["value"].strip(WS) for r in g]
        nums = [parse_number(v) for v in vals]
        if all(x is not None for x in nums):
            avg, mn, mx = repr(fsum(nums) / len(nums)), repr(min(nums)), repr(max(nums))
        elif len(vals) == 1:
            avg = mn = mx = clip(vals[0])
        else:
            d = distinct(vals)
            avg = clip(", ".join(d))
            mn = clip(min(vals, key=len))   # first of the shortest (min keeps the first)
            mx = clip(max(vals, key=len))
        unit = None
        for r in reversed(g):
            u = (r["unit"] or "").strip(WS)
            if u:
                unit = u
                break
        rng = None
        for r in reversed(g):
            rng = parse_range(r["range"])
            if rng:
                break
        lo, hi = rng if rng else (None, None)
        out[key] = {"test_name": g[-1]["name"], "avg_value": avg, "min_value": mn, "max_value": mx,
                    "count": len(g), "unit": unit, "normal_range_min": lo, "normal_range_max": hi,
                    "status": worst(flag(r["status"]) for r in g)}
    return out


def rollup(rows):
    """rows: (order, key, aggregate dict) of the level below."""
    groups = {}
    for order, key, agg in sorted(rows, key=lambda x: x[0]):
        groups.setdefault(key, []).append(agg)
    out = {}
    for key, g in groups.items():
        avgs = [parse_number(a["avg_value"]) for a in g]
        mins = [parse_number(a["min_value"]) for a in g]
        maxs = [parse_number(a["max_value"]) for a in g]
        if all(x is not None for x in avgs + mins + maxs):
            avg, mn, mx = repr(fsum(avgs) / len(avgs)), repr(min(mins)), repr(max(maxs))
        else:
            avg = clip(", ".join(distinct(a["avg_value"] for a in g)))
            mn = clip(", ".join(distinct(a["min_value"] for a in g)))
            mx = clip(", ".join(distinct(a["max_value"] for a in g)))
        both = [a for a in g if a["normal_range_min"] is not None and a["normal_range_max"] is not None]
        lo = fsum(a["normal_range_min"] for a in both) / len(both) if both else None
        hi = fsum(a["normal_range_max"] for a in both) / len(both) if both else None
        unit = None
        for a in reversed(g):
            if a["unit"]:
                unit = a["unit"]
                break
        out[key] = {"test_name": g[-1]["test_name"], "avg_value": avg, "min_value": mn,
                    "max_value": mx, "count": sum(a["count"] for a in g), "unit": unit,
                    "normal_range_min": lo, "normal_range_max": hi,
                    "status": worst(flag(a["status"]) for a in g)}
    return out


# ---- database helpers ------------------------------------------------------------------------

def connect(path, ro=False):
    if ro:
        c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=60)
    else:
        c = sqlite3.connect(path, timeout=60)
    c.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    return c


def parse_date(s):
    if s is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return None
    try:
        d = datetime.date(int(s[:4]), int(s[5:7]), int(s[8:]))
    except ValueError:
        return None
    return d


def is_blank(s):
    return s is None or s.strip(WS) == ""


def catalog_categories():
    cats = set()
    with open(os.path.join(SOURCE_DIR, "data", "lab_catalog.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"category \S+ = (.*) \| (original|mlworker)\s*$", line)
            if m:
                cats.add(m.group(1).strip())
    return cats


# ---- gen ---------------------------------------------------------------------------------------

def value_for(rnd, code):
    if code in TEXTUAL:
        return rnd.choice(TEXTUAL[code])
    r = rnd.random()
    if r < 0.06:
        return rnd.choice(["<0.5", ">1000", "Positive", "Negative", "1,50,000", " 5.40 ", "7.", ".5"])
    base = {"PLT": 250, "ESR": 15, "TG": 150, "TC": 190, "FBS": 100, "PPBS": 140, "FERR": 80}.get(code, 5)
    v = base * (0.5 + rnd.random())
    return rnd.choice(["%.1f", "%.2f", "%.0f", "%g"]) % v


def gen(args):
    rnd = random.Random(args.seed)
    c = connect(args.db)
    start = datetime.date.fromisoformat(args.start_date)
    now = datetime.datetime(2026, 2, 1, 8, 0, 0)
    rows = []
    if args.edit:
        ids = [r[0] for r in c.execute(
            "SELECT id FROM lab_reports WHERE categorization_status='categorized' ORDER BY id")]
        rnd.shuffle(ids)
        with c:
            for i, rid in enumerate(ids[:args.rows]):
                k = i % 3
                if k == 0:    # a corrected value
                    c.execute("UPDATE lab_reports SET test_value=?, categorization_status='pending'"
                              " WHERE id=?", (value_for(rnd, "K"), rid))
                elif k == 1:  # moved to another date (maybe another month, quarter, year)
                    d = start + datetime.timedelta(days=rnd.randrange(args.days + 60))
                    c.execute("UPDATE lab_reports SET test_date=?, categorization_status='pending'"
                              " WHERE id=?", (d.isoformat(), rid))
                else:         # renamed (another test, or an unknown one)
                    name, _ = rnd.choice(KNOWN)
                    c.execute("UPDATE lab_reports SET test_name=?, categorization_status='pending'"
                              " WHERE id=?", (name, rid))
        print("edited %d processed rows and reset them to pending" % min(len(ids), args.rows))
        return
    if args.bad:
        d0 = start.isoformat()
        bad = [
            ("", "5"), ("   ", "5"), (None, "5"), ("TSH", None), ("TSH", ""), ("TSH", "  "),
            ("H" * 10000, "5"), ("Hemo\udcffglobin", "12.5"), ("SGPT\udcc3", "40"),
            ("Potassium", "1e309"), ("Potassium", "NaN"), ("Potassium", "--"), ("Potassium", "inf"),
            ("Sodium", "140"), ("Robert'); DROP TABLE lab_reports;--", "1"),
            ("Glucose", "9" * 200),
        ]
        for i, (name, value) in enumerate(bad):
            rows.append((1, name if name is not None else "", rnd.choice(SECTIONS), value, "mmol/L",
                         ">= -3 to 5" if i % 2 else "-", "High", d0))
        rows.append((1, "TSH", "X", "2.5", None, None, None, "2026-13-05"))
        rows.append((1, "TSH", "X", "2.5", None, None, None, "05/01/2026"))
        rows.append((1, "TSH", "X", "2.5", None, None, None, ""))
        rows.append((1, "TSH", "X", "2.5", None, None, None, "2026-01-05 10:00:00"))
    else:
        for _ in range(args.rows):
            user = rnd.randrange(1, args.users + 1)
            name, code = rnd.choice(KNOWN)
            d = start + datetime.timedelta(days=rnd.randrange(args.days))
            r = rnd.random()
            value = value_for(rnd, code)
            if r < 0.02:
                value = rnd.choice(["", None, "   "])
            elif r < 0.03:
                name = rnd.choice(["", "  "])
            unit = UNITS.get(code) if rnd.random() < 0.9 else rnd.choice([None, "", "mg/dL"])
            rows.append((user, name, section_for(rnd, code), value, unit, rnd.choice(RANGES),
                         rnd.choice(STATUSES), d.isoformat()))
        # two different unknown tests with the same value on the same day (never merged)
        for u in range(1, args.users + 1):
            for name in ("Widgetase", "Frobnicase"):
                rows.append((u, name, "MISC", "5", None, None, None, start.isoformat()))
    created = now + datetime.timedelta(days=30) if args.late else now
    with c:
        for i, r in enumerate(rows):
            ts = (created + datetime.timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
            name = r[1]
            c.execute("INSERT INTO lab_reports (user_id, test_name, test_category, test_value,"
                      " test_unit, reference_range, test_status, test_date, lab_name, raw_text,"
                      " created_at, updated_at) VALUES (?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?,"
                      " 'Acme Labs', NULL, ?, ?)",
                      (r[0], name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name,
                       r[2], r[3], r[4], r[5], r[6], r[7], ts, ts))
    print("wrote %d lab_reports rows" % len(rows))


# ---- check -------------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.problems = {}

    def add(self, section, line):
        ent = self.problems.setdefault(section, [0, []])
        ent[0] += 1
        if len(ent[1]) < 8:
            ent[1].append(line)

    def print(self):
        for section, (n, lines) in self.problems.items():
            print("MISMATCH [%s]: %d problem(s)" % (section, n))
            for ln in lines:
                print("  " + ln)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= max(1e-9, 1e-6 * max(abs(a), abs(b)))


def same_text(a, b):
    fa, fb = parse_number(a), parse_number(b)
    if fa is not None and fb is not None:
        return close(fa, fb)
    return a == b


AGG_COLS = ["test_name", "avg_value", "min_value", "max_value", "count", "unit",
            "normal_range_min", "normal_range_max", "status"]


def load_level(c, table, period_cols):
    cols = ["user_id"] + period_cols + ["test_category", "loinc_code", "test_code"] + AGG_COLS
    out = {}
    for row in c.execute("SELECT %s FROM %s" % (", ".join(cols), table)):
        d = dict(zip(cols, row))
        key = tuple(d[k] for k in ["user_id"] + period_cols) + (d["test_category"], d["loinc_code"],
                                                                 d["test_code"])
        if key in out:
            out[("DUPLICATE",) + key] = d
        out[key] = {k: d[k] for k in AGG_COLS}
    return out


def compare_level(rep, name, want, got):
    for k in sorted(set(want) | set(got), key=repr):
        if k not in got:
            rep.add(name, "missing row %r" % (k,))
        elif k not in want:
            rep.add(name, "unexpected row %r = %r" % (k, got[k]))
        else:
            w, g = want[k], got[k]
            for col in AGG_COLS:
                if col in ("normal_range_min", "normal_range_max"):
                    ok = close(w[col], g[col])
                elif col in ("avg_value", "min_value", "max_value"):
                    ok = same_text(w[col], g[col])
                else:
                    ok = w[col] == g[col]
                if not ok:
                    rep.add(name, "%r %s: want %r, got %r" % (k, col, w[col], g[col]))


def check(args):
    c = connect(args.db, ro=True)
    rep = Report()
    cats = catalog_categories()
    known = dict(KNOWN)
    raw = {}
    for row in c.execute("SELECT id, user_id, test_name, test_category, test_value, test_unit,"
                         " reference_range, test_status, test_date, categorization_status,"
                         " failure_reason FROM lab_reports"):
        raw[row[0]] = row
    cat_rows = {}
    for row in c.execute("SELECT id, user_id, test_name, test_code, loinc_code, test_category,"
                         " test_value, test_unit, reference_range, test_status, test_date,"
                         " inferred_test_category, aggregation_status FROM lab_report_categorized"):
        cat_rows[row[0]] = row
    manual = {}
    for name, code, cat, std in c.execute(
            "SELECT test_name, test_code, test_category, test_name_standardized"
            " FROM lab_test_mappings WHERE mapping_source='manual' AND is_active"):
        manual[_ascii_lower(name)] = (code, cat, std)
    counts = {}
    for rid, r in raw.items():
        _, user, name, section, value, unit, rng, status, date, st, reason = r
        counts[st] = counts.get(st, 0) + 1
        if is_blank(value):
            want = ("insufficient", "Missing test_value")
        elif is_blank(name):
            want = ("insufficient", "Missing test_name")
        elif is_blank(date):
            want = ("insufficient", "Missing test_date")
        elif parse_date(date) is None:
            want = ("failed", "invalid test_date")
        elif len(name.encode("utf-8", "surrogateescape")) > 255:
            want = ("failed", "test_name is")
        else:
            want = ("categorized", None)
        if st != want[0] or (want[1] and not (reason or "").startswith(want[1])) or \
                (want[1] is None and reason is not None):
            rep.add("raw status", "id %d: want %r, got (%r, %r)" % (rid, want, st, reason))
        crow = cat_rows.get(rid)
        if st != "categorized":
            if crow:
                rep.add("categorized", "id %d is %s but has a categorized row" % (rid, st))
            continue
        if not crow:
            rep.add("categorized", "id %d categorized without a categorized row" % rid)
            continue
        (_, cuser, cname, ccode, cloinc, csection, cvalue, cunit, crange, cstatus, cdate, ccat,
         cagg) = crow
        if (cuser, cvalue, cunit, crange, cstatus, csection) != (user, value, unit, rng, status, section):
            rep.add("categorized", "id %d: copied fields differ" % rid)
        if cdate != date:
            rep.add("categorized", "id %d: date %r, raw %r" % (rid, cdate, date))
        if not cloinc or not ccode or not cname or ccat not in cats:
            rep.add("categorized", "id %d: loinc %r code %r name %r category %r" % (rid, cloinc, ccode, cname, ccat))
        key = " ".join(name.split())
        if _ascii_lower(key) in manual:
            mcode, mcat, mstd = manual[_ascii_lower(key)]
            if (ccode, ccat, cname) != (mcode, mcat, mstd or key):
                rep.add("categorized", "id %d %r: manual mapping not applied: %r" % (rid, key, (ccode, ccat, cname)))
        elif key in known:
            want_code = known[key] if known[key] else derive_code(key)
            if ccode != want_code:
                rep.add("categorized", "id %d %r: code %r, want %r" % (rid, key, ccode, want_code))
            if known[key] is None and (ccat != "Others" or cloinc != "UNKNOWN" or cname != key):
                rep.add("categorized", "id %d %r: unknown test filed as %r/%r/%r" % (rid, key, ccat, cloinc, cname))
    for rid in cat_rows:
        if rid not in raw:
            rep.add("categorized", "categorized id %d has no raw row" % rid)

    # daily from categorized rows
    by_day = {}
    for r in cat_rows.values():
        (rid, user, name, code, loinc, _, value, unit, rng, status, date, cat, _) = r
        by_day.setdefault((user, date), []).append(
            {"id": rid, "category": cat or "Others", "loinc": loinc or "UNKNOWN",
             "code": code or derive_code(name), "name": name, "value": value, "unit": unit,
             "range": rng, "status": status})
    daily = {}
    for (user, date), rows in by_day.items():
        for k, agg in daily_groups(rows).items():
            daily[(user, date) + k] = agg
    compare_level(rep, "daily", daily, load_level(c, "lab_reports_daily", ["date"]))
    monthly_in, quarterly_in, yearly_in = {}, {}, {}
    for k, agg in daily.items():
        user, date = k[0], k[1]
        d = parse_date(date)
        monthly_in.setdefault((user, d.year, d.month), []).append((date, k[2:], agg))
        yearly_in.setdefault((user, d.year), []).append((date, k[2:], agg))
    monthly = {}
    for (user, y, m), rows in monthly_in.items():
        for k, agg in rollup(rows).items():
            monthly[(user, y, m) + k] = agg
    compare_level(rep, "monthly", monthly, load_level(c, "lab_reports_monthly", ["year", "month"]))
    for k, agg in monthly.items():
        user, y, m = k[0], k[1], k[2]
        quarterly_in.setdefault((user, y, (m - 1) // 3 + 1), []).append((m, k[3:], agg))
    quarterly = {}
    for (user, y, q), rows in quarterly_in.items():
        for k, agg in rollup(rows).items():
            quarterly[(user, y, q) + k] = agg
    compare_level(rep, "quarterly", quarterly,
                  load_level(c, "lab_reports_quarterly", ["year", "quarter"]))
    yearly = {}
    for (user, y), rows in yearly_in.items():
        for k, agg in rollup(rows).items():
            yearly[(user, y) + k] = agg
    compare_level(rep, "yearly", yearly, load_level(c, "lab_reports_yearly", ["year"]))

    # the mapping table: seeds kept, one row per name at most
    seeds = c.execute("SELECT count(*) FROM lab_test_mappings WHERE mapping_source='seed'").fetchone()[0]
    if seeds != 90:
        rep.add("mappings", "%d seed rows, want 90" % seeds)
    for (cat,) in c.execute("SELECT DISTINCT test_category FROM lab_test_mappings WHERE is_active"):
        if cat not in cats:
            rep.add("mappings", "category %r is not a catalog category" % cat)

    if rep.problems:
        rep.print()
        return 1
    print("labs oracle: %d raw rows (%s), %d categorized, %d daily / %d monthly / %d quarterly /"
          " %d yearly rows: all equal" % (len(raw), ", ".join("%s %d" % kv for kv in sorted(counts.items())),
                                          len(cat_rows), len(daily), len(monthly), len(quarterly),
                                          len(yearly)))
    return 0


# ---- compare / copy-raw ----------------------------------------------------------------------

LAB_TABLES = ["lab_reports", "lab_report_categorized", "lab_reports_daily", "lab_reports_monthly",
              "lab_reports_quarterly", "lab_reports_yearly"]
IGNORED = {"id", "created_at", "updated_at"}


def table_rows(c, table):
    cols = [r[1] for r in c.execute("PRAGMA table_info(%s)" % table)]
    keep = [x for x in cols if x not in IGNORED or (table in ("lab_reports", "lab_report_categorized") and x == "id")]
    rows = sorted((tuple(r) for r in c.execute("SELECT %s FROM %s" % (", ".join(keep), table))), key=repr)
    return keep, rows


def compare(args):
    a, b = connect(args.a, ro=True), connect(args.b, ro=True)
    bad = 0
    for t in LAB_TABLES:
        ca, ra = table_rows(a, t)
        cb, rb = table_rows(b, t)
        if ca != cb or ra != rb:
            bad += 1
            diff = [r for r in ra if r not in set(rb)][:3] + [r for r in rb if r not in set(ra)][:3]
            print("DIFFERENT: %s (%d vs %d rows) e.g. %r" % (t, len(ra), len(rb), diff))
        else:
            print("same: %s (%d rows)" % (t, len(ra)))
    return 1 if bad else 0


def copy_raw(args):
    c = connect(args.dst)
    c.execute("ATTACH DATABASE ? AS src", (args.src,))
    cols = [r[1] for r in c.execute("PRAGMA main.table_info(lab_reports)")]
    sel = ["'pending'" if x == "categorization_status" else "NULL" if x == "failure_reason"
           else "created_at" if x == "updated_at" else x for x in cols]
    with c:
        c.execute("INSERT INTO main.lab_reports (%s) SELECT %s FROM src.lab_reports ORDER BY id"
                  % (", ".join(cols), ", ".join(sel)))
    print("copy-raw: %d lab_reports rows" % c.execute("SELECT count(*) FROM main.lab_reports").fetchone()[0])
    return 0


# ---- selftest ----------------------------------------------------------------------------------

def selftest(_args):
    assert parse_number(" 5.40 ") == 5.4 and parse_number("1,50,000") == 150000.0
    for s in ["<5", "4,5", "NaN", "inf", "1e309", "--", "", "1+", "5 mg/dL"]:
        assert parse_number(s) is None, s
    assert parse_range("70-110") == (70, 110) and parse_range(">= -3 to 5") == (-3, 5)
    assert parse_range("<5") == (None, 5) and parse_range("More than 60") == (60, None)
    assert parse_range("10-5") is None and parse_range("Negative") is None and parse_range("5") is None
    assert parse_range("(4.0-11.0) x10^3/uL") == (4, 11)
    rows = [{"id": 1, "category": "C", "loinc": "L", "code": "X", "name": "x", "value": "35",
             "unit": "U/L", "range": "0-40", "status": "Normal"},
            {"id": 2, "category": "C", "loinc": "L", "code": "X", "name": "x", "value": "45",
             "unit": None, "range": "bad", "status": "High"},
            {"id": 3, "category": "C", "loinc": "L", "code": "T", "name": "t", "value": "Trace",
             "unit": None, "range": None, "status": None},
            {"id": 4, "category": "C", "loinc": "L", "code": "T", "name": "t", "value": "Negative",
             "unit": None, "range": None, "status": "Critical"}]
    g = daily_groups(rows)
    x, t = g[("C", "L", "X")], g[("C", "L", "T")]
    assert (x["avg_value"], x["min_value"], x["max_value"], x["count"]) == ("40.0", "35.0", "45.0", 2)
    assert (x["unit"], x["normal_range_min"], x["normal_range_max"], x["status"]) == ("U/L", 0, 40, "amber")
    assert (t["avg_value"], t["min_value"], t["max_value"], t["status"]) == ("Trace, Negative", "Trace", "Negative", "red")
    m = rollup([(2, "k", dict(x)), (1, "k", dict(x, avg_value="30.0", min_value="30.0", normal_range_min=None))])
    assert m["k"]["avg_value"] == "35.0" and m["k"]["min_value"] == "30.0" and m["k"]["count"] == 4
    assert m["k"]["normal_range_min"] == 0 and m["k"]["normal_range_max"] == 40
    assert derive_code("Widget (serum) level") == "WIDGET_SERUM_LEVEL"
    print("labs oracle self-test: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--db", required=True)
    g.add_argument("--users", type=int, default=3)
    g.add_argument("--days", type=int, default=120)
    g.add_argument("--rows", type=int, default=1500)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--start-date", default="2025-11-15")
    g.add_argument("--late", action="store_true")
    g.add_argument("--edit", action="store_true")
    g.add_argument("--bad", action="store_true")
    ch = sub.add_parser("check")
    ch.add_argument("--db", required=True)
    cp = sub.add_parser("compare")
    cp.add_argument("a")
    cp.add_argument("b")
    cr = sub.add_parser("copy-raw")
    cr.add_argument("src")
    cr.add_argument("dst")
    sub.add_parser("selftest")
    args = ap.parse_args()
    fn = {"gen": gen, "check": check, "compare": compare, "copy-raw": copy_raw, "selftest": selftest}[args.cmd]
    return fn(args) or 0


if __name__ == "__main__":
    sys.exit(main())
