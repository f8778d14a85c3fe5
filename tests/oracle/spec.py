"""Shared, independent statement of the vitals/nutrition contract used by the oracle.

Everything here is written from the specification (reference/original-data-model.md §2-§3,
reference/CLARIFICATIONS.md and issue 2), never from the worker's sources.  Pure functions
only; no database access.
"""

import datetime
import json
import math
import re

# --------------------------------------------------------------------------------------------
# Text helpers (ASCII-only case folding and trimming, as the contract says)

ASCII_WS = " \t\n\r\f\v"
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def ascii_lower(s):
    return s.translate(_LOWER)


def ascii_trim(s):
    return s.strip(ASCII_WS)


def json_sources(items):
    """The canonical sources_included text: sorted by code point, Python json.dumps style."""
    return json.dumps(sorted(set(items)))


def json_sources_variants(items):
    lst = sorted(set(items))
    return {json.dumps(lst), json.dumps(lst, ensure_ascii=False)}


# --------------------------------------------------------------------------------------------
# Vitals enumerations and the unit table (§2.1 + CLARIFICATIONS)

VITAL_METRICS = [
    "Heart Rate", "Blood Pressure Systolic", "Blood Pressure Diastolic", "Blood Sugar",
    "Temperature", "Weight", "Height", "BMI", "Oxygen Saturation", "Steps", "Stand Hours",
    "Active Energy", "Flights Climbed", "Workouts", "Workout Duration", "Workout Calories",
    "Workout Distance", "Sleep", "Distance Walking",
]

TOTAL_METRICS = {
    "Steps", "Active Energy", "Workout Duration", "Workout Calories", "Workout Distance",
    "Distance Walking", "Flights Climbed", "Stand Hours",
}


def _mul(f):
    return lambda x: x * f


def _div(d):
    return lambda x: x / d


def _aliases(spec):
    """spec: list of (alias names, converter)."""
    out = {}
    for names, conv in spec:
        for n in names:
            out[ascii_lower(n)] = conv
    return out


_ONE = _mul(1.0)
_HOURS_IN = [  # to hours
    (["hours", "hour", "hr", "h"], _ONE),
    (["minutes", "minute", "min"], _div(60.0)),
    (["seconds", "second", "sec", "s"], _div(3600.0)),
]
_MINUTES_IN = [  # to minutes
    (["minutes", "minute", "min"], _ONE),
    (["hours", "hour", "hr", "h"], _mul(60.0)),
    (["seconds", "second", "sec", "s"], _div(60.0)),
]
_KCAL_IN = [
    (["kcal", "kilocalories", "kilocalorie"], _ONE),
    (["cal", "calories", "calorie"], _mul(0.001)),
    (["kJ", "kilojoules", "kilojoule"], _mul(0.239006)),
    (["J", "joules", "joule"], _mul(0.000239006)),
]


def _f_to_c(x):
    return (x - 32.0) * 5.0 / 9.0


# metric -> (standard unit, alias table, low, high)
UNIT_TABLE = {
    "Height": ("cm", _aliases([
        (["cm", "centimeters"], _ONE), (["in", "inches", "inch"], _mul(2.54)),
        (["ft", "feet", "foot"], _mul(30.48)), (["m", "meters", "meter"], _mul(100.0))]), 30, 300),
    "Weight": ("kg", _aliases([
        (["kg", "kilograms", "kilogram"], _ONE),
        (["lb", "lbs", "pounds", "pound"], _mul(0.453592)),
        (["g", "grams", "gram"], _mul(0.001)),
        (["oz", "ounces", "ounce"], _mul(0.0283495))]), 1, 500),
    "Temperature": ("°C", _aliases([
        (["°C", "celsius", "c"], _ONE),
        (["°F", "fahrenheit", "f", "degF"], _f_to_c)]), 30, 45),
    "Heart Rate": ("bpm", _aliases([
        (["bpm", "beats/min", "beats per minute", "count/min", "/min"], _ONE)]), 30, 220),
    "Blood Pressure Systolic": ("mmHg", _aliases([
        (["mmHg", "mm Hg", "millimeters of mercury", "torr"], _ONE),
        (["kPa"], _mul(7.50062))]), 50, 300),
    "Blood Pressure Diastolic": ("mmHg", _aliases([
        (["mmHg", "mm Hg", "millimeters of mercury", "torr"], _ONE),
        (["kPa"], _mul(7.50062))]), 30, 200),
    "Blood Sugar": ("mg/dL", _aliases([
        (["mg/dL", "mg/dl", "milligrams per deciliter"], _ONE),
        (["mmol/L", "mmol/l", "millimoles per liter"], _mul(18.0182))]), 20, 800),
    "BMI": ("kg/m²", _aliases([
        (["kg/m²", "kg/m2", "kilograms per square meter"], _ONE)]), 10, 80),
    "Oxygen Saturation": ("%", _aliases([
        (["%", "percent", "percentage"], _ONE), (["fraction"], _mul(100.0))]), 50, 100),
    "Steps": ("steps", _aliases([(["steps", "step", "count", "counts"], _ONE)]), 0, 100000),
    "Stand Hours": ("hours", _aliases(_HOURS_IN), 0, 24),
    "Active Energy": ("kcal", _aliases(_KCAL_IN), 0, 10000),
    "Workout Calories": ("kcal", _aliases(_KCAL_IN), 0, 5000),
    "Flights Climbed": ("flights", _aliases([
        (["flights", "flight", "floors", "floor", "levels", "level", "stories", "story"], _ONE)]),
        0, 500),
    "Workouts": ("minutes", _aliases(_MINUTES_IN), 0, 600),
    "Workout Duration": ("minutes", _aliases(_MINUTES_IN), 0, 600),
    "Workout Distance": ("meters", _aliases([
        (["meters", "meter", "m"], _ONE), (["km", "kilometers", "kilometer"], _mul(1000.0)),
        (["mi", "miles", "mile"], _mul(1609.34)), (["ft", "feet", "foot"], _mul(0.3048)),
        (["yd", "yards", "yard"], _mul(0.9144))]), 0, 100000),
    "Sleep": ("hours", _aliases(_HOURS_IN), 0, 24),
    "Distance Walking": ("km", _aliases([
        (["km", "kilometers", "kilometer"], _ONE), (["mi", "miles", "mile"], _mul(1.60934)),
        (["m", "meters", "meter"], _mul(0.001)), (["ft", "feet", "foot"], _mul(0.0003048))]),
        0, 200),
}
assert sorted(UNIT_TABLE) == sorted(VITAL_METRICS)

KCAL_METRICS = {"Active Energy", "Workout Calories"}


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def convert_vital(metric, value, unit):
    """Returns (value_std, unit_std, None) or (None, None, reason)."""
    if not is_number(value):
        return None, None, "value is not a number"
    value = float(value)
    if not math.isfinite(value):
        return None, None, "value is not finite"
    if not isinstance(unit, str):
        return None, None, "unit is not text"
    if metric not in UNIT_TABLE:
        return value, unit, None  # pass-through, own unit
    std, table, lo, hi = UNIT_TABLE[metric]
    t = ascii_trim(unit)
    if metric in KCAL_METRICS and t == "Cal":
        conv = _ONE
    else:
        conv = table.get(ascii_lower(t))
    if conv is None:
        return None, None, "unknown unit %r for %s" % (unit, metric)
    v = conv(value)
    if not math.isfinite(v) or v < lo or v > hi:
        return None, None, "out of range"
    return v, std, None


# --------------------------------------------------------------------------------------------
# Timestamps and dates

_TS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                    r"(?:\.([0-9]+))?")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
MAX_ORDINAL = datetime.date.max.toordinal()


class Timestamp:
    """A parsed naive timestamp, exactly comparable (fraction kept to 18 digits)."""
    __slots__ = ("date", "hour", "minute", "second", "frac", "key")

    def __init__(self, date, hour, minute, second, frac):
        self.date, self.hour, self.minute, self.second, self.frac = date, hour, minute, second, frac
        self.key = (date.toordinal() * 86400 + hour * 3600 + minute * 60 + second, frac)

    def hour_start(self):
        return "%s %02d:00:00" % (fmt_date(self.date), self.hour)

    def __repr__(self):
        return "%s %02d:%02d:%02d.%018d" % (fmt_date(self.date), self.hour, self.minute,
                                             self.second, self.frac)


def fmt_date(d):
    return "%04d-%02d-%02d" % (d.year, d.month, d.day)


def parse_date(s):
    if not isinstance(s, str):
        return None
    m = _DATE_RE.fullmatch(s)
    if not m:
        return None
    try:
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_ts(s):
    if not isinstance(s, str):
        return None
    m = _TS_RE.fullmatch(s)
    if not m:
        return None
    try:
        d = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    h, mi, se = int(m.group(4)), int(m.group(5)), int(m.group(6))
    if h > 23 or mi > 59 or se > 59:
        return None
    fr = m.group(7) or ""
    frac = int((fr + "0" * 18)[:18])
    return Timestamp(d, h, mi, se, frac)


def week_start(d):
    return d - datetime.timedelta(days=d.weekday())


def week_fits(d):
    """False when the Monday-Sunday week of d would end after 9999-12-31."""
    return d.toordinal() - d.weekday() + 6 <= MAX_ORDINAL


def week_end(d):
    return week_start(d) + datetime.timedelta(days=6)


# --------------------------------------------------------------------------------------------
# Nutrition

NUTRIENTS = [
    "calories", "protein_g", "fat_g", "carbs_g", "fiber_g", "sugar_g", "sodium_mg",
    "vitamin_a_mcg", "vitamin_c_mg", "vitamin_d_mcg", "vitamin_e_mg", "vitamin_k_mcg",
    "vitamin_b1_mg", "vitamin_b2_mg", "vitamin_b3_mg", "vitamin_b6_mg", "vitamin_b12_mcg",
    "folate_mcg",
    "calcium_mg", "iron_mg", "magnesium_mg", "phosphorus_mg", "potassium_mg", "zinc_mg",
    "copper_mg", "manganese_mg", "selenium_mcg",
]
assert len(NUTRIENTS) == 27
MEAL_TYPES = ["breakfast", "lunch", "dinner", "snack"]


def meal_kind(meal_type):
    if not isinstance(meal_type, str):
        return None
    k = ascii_lower(ascii_trim(meal_type))
    return k if k in MEAL_TYPES else None
