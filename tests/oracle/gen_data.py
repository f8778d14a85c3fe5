#!/usr/bin/env python3
"""Generate realistic raw vitals and nutrition rows into an existing (migrated) SQLite database.

  gen_data.py --db PATH [--users N] [--days N] [--rows N] [--seed N] [--start-date YYYY-MM-DD]
              [--late] [--bad] [--manifest PATH]

Default mode inserts about --rows rows (85% vitals, 15% nutrition) for users 1..N over --days
days from --start-date, all 'pending' with explicit created_at.  The data is HealthKit-like:
all 19 metric types in mixed units (lbs/kg, °F/°C, mmol/L, minutes/seconds/hours, kJ, Cal),
overlapping sleep stages (within an hour and across hours) with Awake stages, several data
sources, identical instants in different units (150 lbs and 68 kg), timestamps with and without
a fraction and with a 'T' separator, a couple of metrics the unit table does not know
(pass-through), meals with meal types in odd case and whitespace, NULL nutrients and created_at
ties.

--late inserts about --rows extra rows, mostly into (user, date) pairs that already have data,
with created_at later than every existing row.

--edit edits about --rows already processed rows in place (new values, dates moved to another
day/week/month, now-invalid units or nutrients, a whole nutrition day made invalid) and resets
them to 'pending', as the app does when it corrects data.

--bad inserts hostile rows (unknown units, out-of-range, negative and infinite values, text in
a number column, absurd and malformed dates, 10 000-character strings, invalid UTF-8, SQL
metacharacters) next to the existing data; --manifest PATH writes a JSON list describing each
one: {"table", "id", "expect": "failed" | "processed" | "either", "what"}.
"""

import argparse
import datetime as dt
import json
import math
import random
import sqlite3
import sys

NUTRIENTS = [
    "calories", "protein_g", "fat_g", "carbs_g", "fiber_g", "sugar_g", "sodium_mg",
    "vitamin_a_mcg", "vitamin_c_mg", "vitamin_d_mcg", "vitamin_e_mg", "vitamin_k_mcg",
    "vitamin_b1_mg", "vitamin_b2_mg", "vitamin_b3_mg", "vitamin_b6_mg", "vitamin_b12_mcg",
    "folate_mcg", "calcium_mg", "iron_mg", "magnesium_mg", "phosphorus_mg", "potassium_mg",
    "zinc_mg", "copper_mg", "manganese_mg", "selenium_mcg",
]
# typical amount per 100 kcal, used to make nutrients roughly proportional to calories
NUTRIENT_SCALE = {
    "protein_g": 4.0, "fat_g": 3.5, "carbs_g": 12.0, "fiber_g": 1.5, "sugar_g": 4.0,
    "sodium_mg": 120.0, "vitamin_a_mcg": 40.0, "vitamin_c_mg": 5.0, "vitamin_d_mcg": 0.3,
    "vitamin_e_mg": 0.8, "vitamin_k_mcg": 6.0, "vitamin_b1_mg": 0.06, "vitamin_b2_mg": 0.07,
    "vitamin_b3_mg": 0.9, "vitamin_b6_mg": 0.08, "vitamin_b12_mcg": 0.2, "folate_mcg": 20.0,
    "calcium_mg": 50.0, "iron_mg": 0.8, "magnesium_mg": 20.0, "phosphorus_mg": 60.0,
    "potassium_mg": 150.0, "zinc_mg": 0.6, "copper_mg": 0.05, "manganese_mg": 0.15,
    "selenium_mcg": 3.0,
}

VITAL_SOURCES = [("apple_healthkit", 60), ("device_sync", 15), ("manual_entry", 10),
                 ("api_import", 10), ("document_extraction", 5)]
NUT_SOURCES = [("photo_analysis", 35), ("manual_entry", 30), ("barcode_scan", 15),
               ("recipe_import", 10), ("api_import", 10)]
MEAL_SPELLINGS = {
    "breakfast": ["breakfast", " Breakfast", "BREAKFAST", "Breakfast ", "breakfast"],
    "lunch": ["lunch", "LUNCH", "Lunch", "\tlunch", "lunch"],
    "dinner": ["dinner", "Dinner", "DINNER ", "dinner"],
    "snack": ["snack", "Snack", " SNACK", "snack"],
    "other": ["other", "Other", "brunch", "Snacks", "late night"],
}
MEAL_HOURS = {"breakfast": (6, 9), "lunch": (11, 14), "dinner": (18, 21), "snack": (10, 22),
              "other": (9, 23)}
FOODS = ["oatmeal", "banana", "greek yogurt", "scrambled eggs", "toast", "coffee with milk",
         "chicken salad", "rice bowl", "dal", "paneer tikka", "chapati", "salmon", "broccoli",
         "pasta", "apple", "almonds", "protein bar", "orange juice", "lentil soup", "idli",
         "dosa", "sambar", "grilled fish", "quinoa", "avocado toast", "smoothie"]
DISH_TYPES = ["vegetarian", "vegan", "chicken", "beef", "fish", "shellfish", "other", None]


def wchoice(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


def fmt_date(d):
    return "%04d-%02d-%02d" % (d.year, d.month, d.day)


def fmt_ts(t, sep=" "):
    s = "%s%s%02d:%02d:%02d" % (fmt_date(t), sep, t.hour, t.minute, t.second)
    if t.microsecond:
        s += ".%06d" % t.microsecond
    return s


class Gen:
    def __init__(self, rng, created_base=None):
        self.rng = rng
        self.created_base = created_base  # late mode: created_at after this instant
        self.vitals = []  # tuples for insert
        self.meals = []

    # ---- helpers
    def src(self, manual_bias=False):
        if manual_bias and self.rng.random() < 0.5:
            return "manual_entry"
        return wchoice(self.rng, VITAL_SOURCES)

    def jitter(self, t):
        """Sometimes give a timestamp a sub-second fraction."""
        if self.rng.random() < 0.12:
            t = t.replace(microsecond=self.rng.randrange(1, 1000000))
        return t

    def ts(self, t):
        return fmt_ts(t, "T" if self.rng.random() < 0.1 else " ")

    def created(self, start):
        rng = self.rng
        if self.created_base is not None:
            c = self.created_base + dt.timedelta(minutes=rng.choice([0, 0, 5, 30, 61, 120, 600]))
        elif rng.random() < 0.5:
            c = dt.datetime(start.year, start.month, start.day, 23, 55)
        else:
            c = start.replace(microsecond=0, second=0) + dt.timedelta(
                minutes=rng.choice([5, 30, 60, 180]))
            c = c.replace(minute=(c.minute // 30) * 30)
        return fmt_ts(c.replace(microsecond=0))

    def add(self, user, metric, value, unit, start, end=None, source=None, notes=None,
            device="auto", created=None):
        rng = self.rng
        if end is None:
            end = start
        if device == "auto":
            device = rng.choice(["Apple Watch", "iPhone", None, "Withings Scale"])
        conf = None if rng.random() < 0.6 else round(rng.uniform(0.85, 1.0), 3)
        self.vitals.append((user, metric, value, unit, self.ts(start), self.ts(end),
                            source or self.src(), device, notes, conf,
                            created or self.created(start)))

    @staticmethod
    def at(day, h, m=0, s=0):
        return dt.datetime(day.year, day.month, day.day, h, m, s)

    # ---- vitals generators: each adds a few related samples for (user, day)
    def heart_rate(self, user, day):
        rng = self.rng
        h = rng.randrange(24)
        base = 58 + (user % 5) * 4 + (25 if 7 <= h <= 20 and rng.random() < 0.3 else 0)
        for _ in range(rng.randint(1, 4)):
            t = self.jitter(self.at(day, h, rng.randrange(60), rng.randrange(60)))
            v = round(max(35.0, min(200.0, rng.gauss(base, 8))), rng.choice([0, 1]))
            unit = wchoice(rng, [("bpm", 6), ("count/min", 2), ("beats/min", 1), ("BPM", 1),
                                 (" bpm ", 1), ("beats per minute", 0.5), ("/min", 0.5)])
            self.add(user, "Heart Rate", v, unit, t)

    def steps(self, user, day):
        rng = self.rng
        h = rng.randrange(6, 23)
        for source in rng.sample(["apple_healthkit", "device_sync", "api_import"],
                                 rng.choice([1, 1, 2])):
            for _ in range(rng.randint(1, 3)):
                t = self.jitter(self.at(day, h, rng.randrange(60), rng.randrange(60)))
                end = t + dt.timedelta(minutes=rng.randint(1, 10))
                self.add(user, "Steps", float(rng.randint(0, 2500)),
                         wchoice(rng, [("count", 5), ("steps", 3), ("step", 1), ("Counts", 1)]),
                         t, end, source=source)

    def active_energy(self, user, day):
        rng = self.rng
        h = rng.randrange(24)
        for _ in range(rng.randint(1, 3)):
            t = self.jitter(self.at(day, h, rng.randrange(60), rng.randrange(60)))
            kcal = rng.uniform(2, 250)
            unit, v = wchoice(rng, [(("kcal", kcal), 5), (("Cal", kcal), 2),
                                    (("kJ", kcal / 0.239006), 2), (("cal", kcal * 1000), 1),
                                    (("kilocalories", kcal), 1), (("KCAL", kcal), 1)])
            self.add(user, "Active Energy", round(v, 3), unit, t, t + dt.timedelta(minutes=5))

    def distance_walking(self, user, day):
        rng = self.rng
        h = rng.randrange(6, 22)
        for _ in range(rng.randint(1, 2)):
            t = self.jitter(self.at(day, h, rng.randrange(60), rng.randrange(60)))
            km = rng.uniform(0.05, 2.5)
            unit, v = wchoice(rng, [(("km", km), 5), (("mi", km / 1.60934), 2),
                                    (("m", km * 1000), 2), (("ft", km / 0.0003048), 1)])
            self.add(user, "Distance Walking", round(v, 4), unit, t, t + dt.timedelta(minutes=9))

    def flights(self, user, day):
        rng = self.rng
        t = self.jitter(self.at(day, rng.randrange(7, 22), rng.randrange(60), rng.randrange(60)))
        self.add(user, "Flights Climbed", float(rng.randint(0, 8)),
                 wchoice(rng, [("flights", 4), ("floors", 2), ("FLIGHTS", 1), ("level", 1)]), t)

    def stand_hours(self, user, day):
        rng = self.rng
        t = self.at(day, rng.randrange(7, 22), 0, 0)
        unit, v = wchoice(rng, [(("hours", 1.0), 4), (("hr", 1.0), 1), (("h", 1.0), 1),
                                (("minutes", float(rng.randint(5, 60))), 2),
                                (("seconds", float(rng.randint(300, 3600))), 1)])
        self.add(user, "Stand Hours", v, unit, t, t + dt.timedelta(hours=1))

    def blood_pressure(self, user, day):
        rng = self.rng
        t = self.jitter(self.at(day, rng.randrange(6, 23), rng.randrange(60), rng.randrange(60)))
        sys_v, dia_v = rng.uniform(100, 150), rng.uniform(60, 95)
        unit = wchoice(rng, [("mmHg", 6), ("mm Hg", 1), ("kPa", 1), ("MMHG", 1)])
        f = 7.50062 if unit == "kPa" else 1.0
        src = self.src(manual_bias=True)
        self.add(user, "Blood Pressure Systolic", round(sys_v / f, 2), unit, t, source=src)
        self.add(user, "Blood Pressure Diastolic", round(dia_v / f, 2), unit, t, source=src)

    def blood_sugar(self, user, day):
        rng = self.rng
        t = self.jitter(self.at(day, rng.randrange(6, 23), rng.randrange(60), rng.randrange(60)))
        mg = rng.uniform(70, 200)
        unit, v = wchoice(rng, [(("mg/dL", round(mg)), 4), (("mmol/L", round(mg / 18.0182, 1)), 2),
                                (("mg/dl", round(mg)), 1), (("mmol/l", round(mg / 18.0182, 1)), 1)])
        self.add(user, "Blood Sugar", float(v), unit, t, source=self.src(True))

    def temperature(self, user, day):
        rng = self.rng
        t = self.jitter(self.at(day, rng.randrange(24), rng.randrange(60), rng.randrange(60)))
        c = rng.uniform(36.1, 37.9)
        f = c * 9 / 5 + 32
        unit, v = wchoice(rng, [(("°C", round(c, 1)), 4), (("°F", round(f, 1)), 3),
                                (("fahrenheit", round(f, 1)), 1), (("degF", round(f, 1)), 1),
                                (("celsius", round(c, 2)), 1), (("C", round(c, 1)), 1),
                                (("F", round(f, 1)), 1)])
        self.add(user, "Temperature", v, unit, t, source=self.src(True))

    def weight(self, user, day):
        rng = self.rng
        t = self.at(day, rng.randrange(6, 10), rng.randrange(60), rng.randrange(60))
        kg = 60 + user * 3 + rng.uniform(-1.5, 1.5)
        src = self.src(True)
        if rng.random() < 0.35:
            # the same weighing stored twice, once per unit, same instant, NULL notes
            self.add(user, "Weight", round(kg / 0.453592, 1), "lbs", t, source=src, notes=None)
            self.add(user, "Weight", round(kg, 1), "kg", t, source=src, notes=None)
        else:
            unit, v = wchoice(rng, [(("kg", round(kg, 2)), 4), (("lbs", round(kg / 0.453592, 1)), 3),
                                    (("lb", round(kg / 0.453592, 1)), 1),
                                    (("pounds", round(kg / 0.453592, 1)), 1),
                                    (("g", round(kg * 1000)), 1), ((" KG", round(kg, 1)), 1)])
            self.add(user, "Weight", float(v), unit, self.jitter(t), source=src)

    def height(self, user, day):
        rng = self.rng
        t = self.at(day, rng.randrange(8, 20), rng.randrange(60), 0)
        cm = 160 + user * 2 + rng.uniform(-0.5, 0.5)
        unit, v = wchoice(rng, [(("cm", round(cm, 1)), 4), (("in", round(cm / 2.54, 2)), 2),
                                (("ft", round(cm / 30.48, 3)), 1), (("m", round(cm / 100, 3)), 1)])
        self.add(user, "Height", v, unit, t, source="manual_entry")

    def bmi(self, user, day):
        rng = self.rng
        t = self.at(day, rng.randrange(6, 10), rng.randrange(60), rng.randrange(60))
        self.add(user, "BMI", round(rng.uniform(19, 32), 1),
                 wchoice(rng, [("kg/m²", 3), ("kg/m2", 2), (" KG/M2 ", 1)]), t)

    def oxygen(self, user, day):
        rng = self.rng
        h = rng.randrange(24)
        for _ in range(rng.randint(1, 3)):
            t = self.jitter(self.at(day, h, rng.randrange(60), rng.randrange(60)))
            p = rng.uniform(93, 100)
            unit, v = wchoice(rng, [(("%", round(p, 1)), 4), (("fraction", round(p / 100, 3)), 2),
                                    (("percent", round(p)), 1)])
            self.add(user, "Oxygen Saturation", float(v), unit, t)

    def workout(self, user, day):
        rng = self.rng
        kind = rng.choice(["Running", "Cycling", "Yoga", "Walking", None])
        t = self.jitter(self.at(day, rng.randrange(6, 20), rng.randrange(60), rng.randrange(60)))
        mins = rng.uniform(15, 95)
        end = t + dt.timedelta(minutes=mins)
        src = wchoice(rng, [("apple_healthkit", 5), ("device_sync", 2), ("manual_entry", 1)])
        unit, v = wchoice(rng, [(("minutes", mins), 4), (("hours", mins / 60), 1), (("min", mins), 1)])
        self.add(user, "Workouts", round(v, 4), unit, t, end, source=src, notes=kind)
        unit, v = wchoice(rng, [(("minutes", mins), 3), (("seconds", mins * 60), 2),
                                (("hr", mins / 60), 1)])
        self.add(user, "Workout Duration", round(v, 4), unit, t, end, source=src, notes=kind)
        kcal = mins * rng.uniform(4, 11)
        unit, v = wchoice(rng, [(("kcal", kcal), 4), (("kJ", kcal / 0.239006), 1),
                                (("Cal", kcal), 1)])
        self.add(user, "Workout Calories", round(v, 3), unit, t, end, source=src, notes=kind)
        if kind in ("Running", "Cycling", "Walking"):
            m = mins * {"Running": 170, "Cycling": 330, "Walking": 85}[kind]
            unit, v = wchoice(rng, [(("meters", m), 3), (("km", m / 1000), 2),
                                    (("mi", m / 1609.34), 1), (("yd", m / 0.9144), 1),
                                    (("m", m), 1)])
            self.add(user, "Workout Distance", round(v, 3), unit, t, end, source=src, notes=kind)

    def sleep(self, user, day):
        """A night: contiguous stage samples, sometimes an overlapping 'in bed' sample from
        another source, duplicated stages from a second device, Awake stages, tiny samples."""
        rng = self.rng
        h = rng.choice([21, 22, 23, 23, 0, 1, 2])
        t = self.jitter(self.at(day, h, rng.randrange(60), rng.randrange(60)))
        unit = wchoice(rng, [("hours", 3), ("minutes", 3), ("seconds", 1), ("hr", 1),
                             ("min", 1), ("h", 1), ("s", 1)])
        div = {"hours": 60.0, "hr": 60.0, "h": 60.0, "minutes": 1.0, "min": 1.0,
               "seconds": 1 / 60.0, "s": 1 / 60.0}[unit]
        src = wchoice(rng, [("apple_healthkit", 6), ("device_sync", 2), ("api_import", 1)])
        start0 = t
        total_target = rng.uniform(300, 510)
        elapsed = 0.0
        stages = []
        while elapsed < total_target:
            mins = rng.choice([rng.uniform(2, 5.5), rng.uniform(7, 40), rng.uniform(20, 75)])
            stage = wchoice(rng, [("Core", 4), ("Deep", 2), ("REM", 2), ("Awake", 1),
                                  ("awake (restless)", 0.3), ("AWAKE", 0.2), (None, 1)])
            st = t + dt.timedelta(seconds=round(elapsed * 60))
            en = st + dt.timedelta(seconds=round(mins * 60))
            stages.append((st, en, mins, stage))
            elapsed += mins
        created = self.created(start0)
        for st, en, mins, stage in stages:
            self.add(user, "Sleep", round(mins / div, 6), unit, st, en, source=src, notes=stage,
                     device="Apple Watch", created=created)
        if stages and rng.random() < 0.4:
            # a second device reports some of the same periods, shifted, in its own unit
            src2 = "device_sync" if src != "device_sync" else "api_import"
            for st, en, mins, stage in stages[: rng.randint(1, 4)]:
                sh = dt.timedelta(minutes=rng.uniform(-4, 4))
                m2 = mins + rng.uniform(-3, 6)
                if m2 <= 0:
                    continue
                self.add(user, "Sleep", round(m2, 3), "minutes", self.jitter(st + sh),
                         st + sh + dt.timedelta(minutes=m2), source=src2, notes=stage)
        if stages and rng.random() < 0.3:
            # one long 'in bed' sample overlapping the whole night
            st = stages[0][0]
            tot = sum(s[2] for s in stages)
            self.add(user, "Sleep", round(tot / 60, 4), "hours", st, st + dt.timedelta(minutes=tot),
                     source="manual_entry", notes="In bed")
        if rng.random() < 0.03:
            # an implausibly long sample: valid (<= 24 h) but dropped by the 16 h rule
            st = self.at(day, rng.randrange(0, 6), rng.randrange(60), 0)
            self.add(user, "Sleep", 17.5, "hours", st, st + dt.timedelta(hours=17.5),
                     source="api_import", notes="Asleep")
        if rng.random() < 0.1:
            # a nap entered by hand, made only of an awake note: the bucket may be all zeros
            st = self.at(day, rng.randrange(13, 17), rng.randrange(60), 0)
            self.add(user, "Sleep", 0.5, "hours", st, st + dt.timedelta(minutes=30),
                     source="manual_entry", notes="Awake")

    def respiratory(self, user, day):
        # not one of the 19 metric types: passes through unconverted (LOINC by exact match)
        rng = self.rng
        t = self.jitter(self.at(day, rng.randrange(0, 7), rng.randrange(60), rng.randrange(60)))
        self.add(user, "Respiratory Rate", float(rng.randint(11, 20)), "breaths/min", t)

    def mindful(self, user, day):
        rng = self.rng
        t = self.at(day, rng.randrange(6, 22), rng.randrange(60), 0)
        self.add(user, "Mindful Minutes", float(rng.randint(3, 20)), "min", t,
                 t + dt.timedelta(minutes=10))

    GENERATORS = [("heart_rate", 20), ("steps", 12), ("active_energy", 10),
                  ("distance_walking", 6), ("flights", 4), ("stand_hours", 4), ("sleep", 1.0),
                  ("blood_pressure", 3), ("blood_sugar", 2), ("temperature", 2), ("weight", 2.5),
                  ("height", 0.5), ("bmi", 1), ("oxygen", 3), ("workout", 2),
                  ("respiratory", 1), ("mindful", 0.5)]

    def vitals_for(self, user, day):
        getattr(self, wchoice(self.rng, self.GENERATORS))(user, day)

    # ---- nutrition
    def meal(self, user, day, reuse_created=None):
        rng = self.rng
        kind = wchoice(rng, [("breakfast", 3), ("lunch", 3), ("dinner", 3), ("snack", 2),
                             ("other", 1)])
        meal_type = rng.choice(MEAL_SPELLINGS[kind])
        lo, hi = MEAL_HOURS[kind]
        mt = self.at(day, rng.randrange(lo, hi), rng.randrange(60), 0)
        created = reuse_created or (fmt_ts(self.created_base + dt.timedelta(
            minutes=rng.choice([0, 3, 45]))) if self.created_base else
            fmt_ts(mt + dt.timedelta(minutes=rng.choice([2, 10, 10, 90]))))
        src = wchoice(rng, NUT_SOURCES)
        dish = rng.choice(["Thali", "Breakfast plate", None, "Salad bowl", "Home meal"])
        all_null_micros = rng.random() < 0.08
        for _ in range(rng.randint(1, 4)):
            cal = round(rng.uniform(20, 650), 1)
            nut = {"calories": cal}
            for n in NUTRIENTS[1:]:
                v = round(cal / 100 * NUTRIENT_SCALE[n] * rng.uniform(0.2, 1.8), 3)
                if rng.random() < 0.05 or (all_null_micros and NUTRIENTS.index(n) >= 7):
                    v = None
                nut[n] = v
            if rng.random() < 0.02:
                nut["fiber_g"] = -0.0  # negative zero is not negative
            self.meals.append({
                "user_id": user, "food_item_name": rng.choice(FOODS), "dish_name": dish,
                "dish_type": rng.choice(DISH_TYPES), "meal_type": meal_type,
                "portion_size": round(rng.uniform(0.5, 300), 1),
                "portion_unit": rng.choice(["g", "serving", "cup", "piece"]),
                "meal_date": fmt_date(day), "meal_time": fmt_ts(mt), "data_source": src,
                "confidence_score": round(rng.uniform(0.5, 1), 2), "created_at": created,
                **nut})
        return created


VITAL_INSERT = ("INSERT OR IGNORE INTO vitals_raw_data (user_id, metric_type, value, unit, "
                "start_date, end_date, data_source, source_device, notes, confidence_score, "
                "aggregation_status, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,'pending',?,?)")
NUT_COLS = (["user_id", "food_item_name", "dish_name", "dish_type", "meal_type", "portion_size",
             "portion_unit", "meal_date", "meal_time", "data_source", "confidence_score",
             "created_at"] + NUTRIENTS)
NUT_INSERT = ("INSERT INTO nutrition_raw_data (%s, aggregation_status, updated_at) VALUES (%s, "
              "'pending', ?)" % (", ".join(NUT_COLS), ", ".join("?" * len(NUT_COLS))))


def insert_all(conn, g):
    before = conn.total_changes
    conn.executemany(VITAL_INSERT, [v + (v[-1],) for v in g.vitals])
    nv = conn.total_changes - before
    before = conn.total_changes
    conn.executemany(NUT_INSERT, [[m[c] for c in NUT_COLS] + [m["created_at"]] for m in g.meals])
    return nv, conn.total_changes - before


def max_created(conn):
    best = None
    for table in ("vitals_raw_data", "nutrition_raw_data"):
        for (c,) in conn.execute("SELECT created_at FROM %s" % table):
            try:
                t = dt.datetime.strptime(str(c)[:19], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                continue
            if best is None or t > best:
                best = t
    return best


def existing_days(conn, sql):
    out = set()
    for uid, d in conn.execute(sql):
        try:
            out.add((uid, dt.date.fromisoformat(str(d)[:10])))
        except ValueError:
            pass
    return sorted(out)


def generate(conn, a, rng):
    start = dt.date.fromisoformat(a.start_date)
    days = [start + dt.timedelta(days=i) for i in range(a.days)]
    users = list(range(1, a.users + 1))
    late_base = None
    vdays = ndays = None
    if a.late:
        mc = max_created(conn)
        late_base = (mc or dt.datetime(start.year, start.month, start.day)) + dt.timedelta(days=1)
        vdays = existing_days(conn, "SELECT DISTINCT user_id, substr(start_date, 1, 10) "
                                    "FROM vitals_raw_data")
        ndays = existing_days(conn, "SELECT DISTINCT user_id, meal_date FROM nutrition_raw_data")
    g = Gen(rng, late_base)
    n_vitals = int(a.rows * 0.85)
    n_meal_rows = a.rows - n_vitals

    def pick(existing):
        if existing and rng.random() < 0.9:
            return rng.choice(existing)
        return rng.choice(users), rng.choice(days)

    if not a.late:
        # every user gets a night of sleep on most days, so weekly sleep rows are meaningful
        for u in users:
            for d in days:
                if rng.random() < 0.5:
                    g.sleep(u, d)
    while len(g.vitals) < n_vitals:
        u, d = pick(vdays)
        g.vitals_for(u, d)
        if a.late and rng.random() < 0.05:
            g.sleep(u, d)
    last_created = None
    n_items = 0
    while n_items < n_meal_rows:
        u, d = pick(ndays)
        before = len(g.meals)
        reuse = last_created if (last_created and rng.random() < 0.15) else None
        last_created = g.meal(u, d, reuse)
        n_items += len(g.meals) - before
    return insert_all(conn, g)


# ------------------------------------------------------------------------------------------
# In-place corrections of processed rows (the app edits a row and resets it to 'pending')


def edit_rows(conn, a, rng):
    """Edit about --rows processed rows in place and reset them to 'pending', the way the app
    corrects data: new values, moved dates (to another day, week or month), units or nutrient
    values that make the row invalid, a whole nutrition day turned invalid.  Returns a list of
    descriptions."""
    done = []
    vids = [r[0] for r in conn.execute(
        "SELECT id FROM vitals_raw_data WHERE aggregation_status = 'categorized' ORDER BY id")]
    nids = [r[0] for r in conn.execute(
        "SELECT id FROM nutrition_raw_data WHERE aggregation_status = 'completed' ORDER BY id")]
    n = max(1, a.rows // 2)
    reset = "aggregation_status = 'pending', failure_reason = NULL"
    for vid in rng.sample(vids, min(n, len(vids))):
        kind = rng.choice(["value", "value", "move", "move", "unit", "metric"])
        if kind == "value":
            sql = "UPDATE OR IGNORE vitals_raw_data SET value = value * 1.07, %s WHERE id = ?" % reset
            args = (vid,)
        elif kind == "move":
            days = rng.choice([1, 3, 9, 30])
            sql = ("UPDATE OR IGNORE vitals_raw_data SET start_date = datetime(replace(start_date, "
                   "'T', ' '), '+%d days'), end_date = datetime(replace(end_date, 'T', ' '), "
                   "'+%d days'), %s WHERE id = ?" % (days, days, reset))
            args = (vid,)
        elif kind == "unit":
            sql = "UPDATE OR IGNORE vitals_raw_data SET unit = 'stone', %s WHERE id = ?" % reset
            args = (vid,)
        else:
            sql = ("UPDATE OR IGNORE vitals_raw_data SET metric_type = 'Respiratory Rate', "
                   "unit = 'breaths/min', %s WHERE id = ?" % reset)
            args = (vid,)
        if conn.execute(sql, args).rowcount:
            done.append("vitals %d: %s" % (vid, kind))
    for nid in rng.sample(nids, min(n, len(nids))):
        kind = rng.choice(["calories", "move", "move", "negative", "meal_type"])
        if kind == "calories":
            sql = "UPDATE nutrition_raw_data SET calories = calories + 100, %s WHERE id = ?" % reset
        elif kind == "move":
            sql = ("UPDATE nutrition_raw_data SET meal_date = date(meal_date, '+%d days'), %s "
                   "WHERE id = ?" % (rng.choice([1, 5, 31]), reset))
        elif kind == "negative":
            sql = "UPDATE nutrition_raw_data SET protein_g = -5, %s WHERE id = ?" % reset
        else:
            sql = "UPDATE nutrition_raw_data SET meal_type = 'Snack ', %s WHERE id = ?" % reset
        conn.execute(sql, (nid,))
        done.append("nutrition %d: %s" % (nid, kind))
    # one whole (user, day) of nutrition becomes invalid: its daily row must disappear
    row = conn.execute("SELECT user_id, meal_date FROM nutrition_raw_data WHERE "
                       "aggregation_status = 'completed' ORDER BY id LIMIT 1").fetchone()
    if row:
        conn.execute("UPDATE nutrition_raw_data SET fat_g = -1, %s WHERE user_id = ? AND "
                     "meal_date = ?" % reset, row)
        done.append("nutrition day %s of user %s: every row made invalid" % (row[1], row[0]))
    return done


# ------------------------------------------------------------------------------------------
# Hostile rows

BAD_UTF8 = "X'4177616b65c328fffe'"  # "Awake" + invalid UTF-8 bytes
BAD_UTF8_2 = "X'e282ac28c3bdc0afedbfbf'"
SQLI = "'; DROP TABLE vitals_raw_data; --"
SQLI_N = "Robert'); DROP TABLE nutrition_raw_data;--"


def insert_bad(conn, a, rng):
    start = dt.date.fromisoformat(a.start_date)
    days = [start + dt.timedelta(days=i) for i in range(a.days)]
    users = list(range(1, a.users + 1))
    manifest = []
    used = set()

    def when(h=None):
        while True:
            d = rng.choice(days)
            t = dt.datetime(d.year, d.month, d.day, h if h is not None else rng.randrange(24),
                            rng.randrange(60), rng.randrange(60))
            if t not in used:
                used.add(t)
                return t

    def vital(expect, what, metric, value, unit, start_s=None, end_s=None, source="api_import",
              notes=None, notes_sql=None, device=None, device_sql=None, user=None):
        for _attempt in range(20):
            t = when()
            rid = _insert_vital(t, expect, what, metric, value, unit, start_s, end_s, source,
                                notes, notes_sql, device, device_sql, user)
            if rid is not None:
                manifest.append({"table": "vitals_raw_data", "id": rid, "expect": expect,
                                 "what": what})
                return
        raise RuntimeError("could not insert hostile row %r" % what)

    def _insert_vital(t, expect, what, metric, value, unit, start_s, end_s, source, notes,
                      notes_sql, device, device_sql, user):
        start_s = start_s if start_s is not None else fmt_ts(t)
        end_s = end_s if end_s is not None else fmt_ts(t + dt.timedelta(minutes=30))
        created = fmt_ts(dt.datetime(t.year, t.month, t.day, 23, 59))
        sql = ("INSERT INTO vitals_raw_data (user_id, metric_type, value, unit, start_date, "
               "end_date, data_source, source_device, notes, aggregation_status, created_at, "
               "updated_at) VALUES (?,?,?,?,?,?,?,%s,%s,'pending',?,?)" % (
                   "CAST(%s AS TEXT)" % device_sql if device_sql else "?",
                   "CAST(%s AS TEXT)" % notes_sql if notes_sql else "?"))
        params = [user or rng.choice(users), metric, value, unit, start_s, end_s, source]
        if not device_sql:
            params.append(device)
        if not notes_sql:
            params.append(notes)
        params += [created, created]
        try:
            return conn.execute(sql, params).lastrowid
        except sqlite3.IntegrityError:
            return None  # collides with an existing sample's identity: try another instant

    def meal(expect, what, sql_over=None, **over):
        d = rng.choice(days)
        t = dt.datetime(d.year, d.month, d.day, rng.randrange(7, 22), rng.randrange(60))
        row = {"user_id": rng.choice(users), "food_item_name": "test food", "dish_name": None,
               "dish_type": None, "meal_type": "lunch", "portion_size": 100.0,
               "portion_unit": "g", "meal_date": fmt_date(d), "meal_time": fmt_ts(t),
               "data_source": "manual_entry", "confidence_score": 0.9,
               "created_at": fmt_ts(dt.datetime(d.year, d.month, d.day, 23, 58))}
        for n in NUTRIENTS:
            row[n] = round(rng.uniform(1, 50), 2)
        row.update(over)
        cols = list(row)
        vals = []
        exprs = []
        for c in cols:
            if sql_over and c in sql_over:
                exprs.append("CAST(%s AS TEXT)" % sql_over[c])
            else:
                exprs.append("?")
                vals.append(row[c])
        cur = conn.execute("INSERT INTO nutrition_raw_data (%s, aggregation_status, updated_at) "
                           "VALUES (%s, 'pending', ?)" % (", ".join(cols), ", ".join(exprs)),
                           vals + [row["created_at"]])
        manifest.append({"table": "nutrition_raw_data", "id": cur.lastrowid, "expect": expect,
                         "what": what})

    inf = float("inf")
    F, P, E = "failed", "processed", "either"
    # --- vitals: units
    vital(F, "unknown unit stone", "Weight", 11.0, "stone")
    vital(F, "unknown unit furlongs", "Heart Rate", 70.0, "furlongs")
    vital(F, "unknown unit kelvin", "Temperature", 310.0, "K")
    vital(F, "unit of another metric (kg for Heart Rate)", "Heart Rate", 70.0, "kg")
    vital(F, "empty unit", "Steps", 100.0, "")
    vital(P, "unit in odd case/space '  KG '", "Weight", 71.5, "  KG ")
    vital(P, "unit 'LBS'", "Weight", 160.0, "LBS")
    vital(P, "'Cal' is kcal", "Active Energy", 120.0, "Cal")
    vital(P, "'cal' is small calories", "Active Energy", 120000.0, "cal")
    vital(P, "'CAL' is small calories", "Workout Calories", 90000.0, "CAL")
    # --- ranges
    vital(F, "heart rate 250 bpm", "Heart Rate", 250.0, "bpm")
    vital(F, "heart rate 29.9 bpm", "Heart Rate", 29.9, "bpm")
    vital(F, "120 °F fever (48.9 °C)", "Temperature", 120.0, "°F")
    vital(F, "weight 0.5 kg", "Weight", 0.5, "kg")
    vital(F, "SpO2 fraction 1.2", "Oxygen Saturation", 1.2, "fraction")
    vital(F, "sleep 25 hours", "Sleep", 25.0, "hours")
    vital(F, "sleep 1500 minutes", "Sleep", 1500.0, "minutes")
    vital(F, "BMI 5", "BMI", 5.0, "kg/m²")
    vital(F, "workout 11 hours", "Workouts", 11.0, "hours")
    vital(P, "heart rate 30 bpm (inclusive low)", "Heart Rate", 30.0, "bpm")
    vital(P, "heart rate 220 bpm (inclusive high)", "Heart Rate", 220.0, "bpm")
    vital(P, "steps 0", "Steps", 0.0, "steps")
    vital(P, "SpO2 100 %", "Oxygen Saturation", 100.0, "%")
    vital(P, "sleep 0.1 h (kept)", "Sleep", 0.1, "hours", notes="Core")
    vital(P, "sleep 16 h (kept)", "Sleep", 16.0, "hours", notes="Core")
    vital(P, "sleep 24 h (valid, filtered)", "Sleep", 24.0, "hours", notes="Asleep")
    vital(P, "sleep 0 h (valid, filtered)", "Sleep", 0.0, "hours")
    # --- negative / non-finite / non-numeric
    vital(F, "negative steps", "Steps", -5.0, "steps")
    vital(F, "negative active energy", "Active Energy", -10.0, "kcal")
    vital(F, "negative distance", "Distance Walking", -1.0, "km")
    vital(F, "+inf heart rate", "Heart Rate", inf, "bpm")
    vital(F, "-inf steps", "Steps", -inf, "steps")
    vital(F, "+inf pass-through metric", "Respiratory Rate", inf, "breaths/min")
    vital(F, "value stored as text 'abc'", "Weight", "abc", "kg")
    vital(F, "value stored as text 'abc' (pass-through)", "Respiratory Rate", "abc", "breaths/min")
    vital(P, "pass-through metric with negative value", "Body Fat Change", -1.5, "%")
    vital(P, "metric_type in other case is a pass-through metric", "heart rate", 64.0, "bpm")
    # --- dates and timestamps
    vital(P, "year 0001", "Heart Rate", 61.0, "bpm", start_s="0001-01-01 08:00:00",
          end_s="0001-01-01 08:00:00")
    vital(P, "year 0001 with T", "Weight", 70.0, "kg", start_s="0001-01-03T09:15:00",
          end_s="0001-01-03T09:15:00")
    vital(P, "9999-12-26 (week ends 9999-12-26)", "Heart Rate", 62.0, "bpm",
          start_s="9999-12-26 10:00:00", end_s="9999-12-26 10:00:30")
    vital(F, "9999-12-31 (week ends in year 10000)", "Heart Rate", 63.0, "bpm",
          start_s="9999-12-31 12:00:00", end_s="9999-12-31 12:00:00")
    vital(F, "zone suffix Z", "Heart Rate", 70.0, "bpm", start_s="2026-01-21T08:00:00Z")
    vital(F, "zone suffix +05:30", "Heart Rate", 71.0, "bpm", start_s="2026-01-21 08:00:00+05:30")
    vital(F, "missing seconds", "Heart Rate", 72.0, "bpm", start_s="2026-01-21 08:00")
    vital(F, "bare date", "Heart Rate", 73.0, "bpm", start_s="2026-01-21")
    vital(F, "Feb 30", "Heart Rate", 74.0, "bpm", start_s="2026-02-30 08:00:00")
    vital(F, "hour 24", "Heart Rate", 75.0, "bpm", start_s="2026-01-21 24:00:00")
    vital(F, "day-first date", "Heart Rate", 76.0, "bpm", start_s="21/01/2026 08:00:00")
    vital(F, "empty start_date", "Heart Rate", 77.0, "bpm", start_s="")
    vital(F, "garbage end_date", "Heart Rate", 78.0, "bpm", end_s="soon")
    vital(F, "year 10000 timestamp", "Heart Rate", 79.0, "bpm", start_s="10000-01-01 00:00:00")
    vital(P, "fraction with 3 digits", "Heart Rate", 80.0, "bpm", start_s="2026-01-22 10:11:12.5")
    # --- strings
    vital(P, "10 000-character notes", "Heart Rate", 81.0, "bpm", notes="n" * 10000)
    vital(F, "10 000-character data_source (limit 1024)", "Steps", 120.0, "steps", source="d" * 10000)
    vital(F, "10 000-character source_device (limit 1024)", "Steps", 130.0, "steps", device="v" * 10000)
    vital(P, "SQL metacharacters in data_source", "Heart Rate", 82.0, "bpm", source=SQLI)
    vital(P, "SQL metacharacters in notes", "Heart Rate", 83.0, "bpm", notes=SQLI)
    vital(P, "quote and backslash in data_source", "Steps", 140.0, "steps",
          source='my "quoted" \\ source')
    vital(P, "non-ASCII data_source", "Steps", 150.0, "steps", source="gérät-é")
    vital(P, "AWAKE note in upper case (dropped from sleep)", "Sleep", 1.0, "hours", notes="AWAKE")
    vital(E, "invalid UTF-8 in notes", "Sleep", 1.25, "hours", notes_sql=BAD_UTF8)
    vital(E, "invalid UTF-8 in source_device", "Heart Rate", 84.0, "bpm", device_sql=BAD_UTF8_2)
    vital(F, "invalid UTF-8 in notes and bad unit", "Heart Rate", 85.0, "bpmx", notes_sql=BAD_UTF8)

    # --- timestamp spellings that compare wrongly as text (user 99 alone: exact buckets)
    vital(P, "latest by time, not text: 'T' row earlier", "Heart Rate", 70.0, "bpm",
          start_s="2026-01-21T08:05:00", end_s="2026-01-21T08:05:00", source="src_b", user=99)
    vital(P, "latest by time, not text: ' ' row later", "Heart Rate", 80.0, "bpm",
          start_s="2026-01-21 08:50:00", end_s="2026-01-21 08:50:00", source="src_a", user=99)
    vital(P, "same instant '.000' (lower id)", "Heart Rate", 71.0, "bpm",
          start_s="2026-01-21 09:10:00.000", end_s="2026-01-21 09:10:00.000", source="src_e",
          user=99)
    vital(P, "same instant without fraction (higher id wins)", "Heart Rate", 72.0, "bpm",
          start_s="2026-01-21 09:10:00", end_s="2026-01-21 09:10:00", source="src_f", user=99)
    vital(P, "sleep 'T' period", "Sleep", 40.0, "minutes", start_s="2026-01-21T23:00:00",
          end_s="2026-01-21T23:40:00", source="src_a", notes="Core", user=99)
    vital(P, "sleep ' ' period overlapping the 'T' one (dropped)", "Sleep", 20.0, "minutes",
          start_s="2026-01-21 23:30:00", end_s="2026-01-21 23:50:00", source="src_b",
          notes="Core", user=99)
    vital(P, "sleep touching the previous end (kept)", "Sleep", 0.25, "hours",
          start_s="2026-01-21 23:40:00.000", end_s="2026-01-21T23:55:00", source="src_c",
          notes="REM", user=99)

    # --- nutrition
    nulls = {n: None for n in NUTRIENTS[1:]}
    meal(P, "all 26 nullable nutrients NULL", **nulls)
    meal(P, "NaN protein is stored as NULL", protein_g=float("nan"))
    meal(P, "-0.0 fat", fat_g=-0.0)
    meal(P, "zero everything", **{n: 0.0 for n in NUTRIENTS})
    meal(P, "huge but finite calories", calories=1e300)
    meal(F, "negative protein", protein_g=-1.0)
    meal(F, "negative calories", calories=-100.0)
    meal(F, "negative selenium", selenium_mcg=-0.001)
    meal(F, "+inf sodium", sodium_mg=inf)
    meal(F, "+inf calories", calories=inf)
    meal(F, "-inf iron", iron_mg=-inf)
    meal(F, "calories stored as text 'abc'", calories="abc")
    meal(F, "vitamin C stored as text 'abc'", vitamin_c_mg="abc")
    meal(P, "year 0001 meal_date", meal_date="0001-01-01", meal_time="0001-01-01 12:00:00")
    meal(P, "9999-12-26 meal_date", meal_date="9999-12-26", meal_time="9999-12-26 12:00:00")
    meal(F, "9999-12-31 meal_date (week ends in year 10000)", meal_date="9999-12-31",
         meal_time="9999-12-31 12:00:00")
    meal(F, "meal_date 2026-1-5", meal_date="2026-1-5")
    meal(F, "meal_date Feb 30", meal_date="2026-02-30")
    meal(F, "meal_date with a time", meal_date="2026-01-21 00:00:00")
    meal(F, "empty meal_date", meal_date="")
    meal(P, "meal_type '  DINNER  '", meal_type="  DINNER  ")
    meal(P, "meal_type 'brunch' (other)", meal_type="brunch")
    meal(P, "meal_type with SQL metacharacters", meal_type=SQLI_N)
    meal(P, "10 000-character food_item_name", food_item_name="f" * 10000)
    meal(F, "10 000-character data_source (limit 1024)", data_source="s" * 10000)
    meal(P, "SQL metacharacters in data_source", data_source=SQLI_N)
    meal(P, "SQL metacharacters in food_item_name", food_item_name=SQLI)
    meal(E, "invalid UTF-8 in food_item_name", sql_over={"food_item_name": BAD_UTF8_2})
    meal(E, "invalid UTF-8 in notes", sql_over={"notes": BAD_UTF8}, notes="x")
    meal(F, "invalid UTF-8 in dish_name and negative fat", sql_over={"dish_name": BAD_UTF8},
         dish_name="x", fat_g=-3.0)
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--rows", type=int, default=5000, help="approximate number of rows")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start-date", default="2026-01-20")
    ap.add_argument("--late", action="store_true", help="insert late rows into existing dates")
    ap.add_argument("--bad", action="store_true", help="insert hostile rows")
    ap.add_argument("--edit", action="store_true",
                    help="edit about --rows processed rows in place and reset them to pending")
    ap.add_argument("--manifest", help="with --bad: write the list of hostile rows here (JSON)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    conn = sqlite3.connect(a.db, timeout=60)
    conn.execute("PRAGMA busy_timeout = 60000")
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"vitals_raw_data", "nutrition_raw_data"} <= have:
        sys.exit("gen_data: %s has no schema (run `mlworker migrate` first)" % a.db)
    with conn:
        if a.bad:
            manifest = insert_bad(conn, a, rng)
            if a.manifest:
                with open(a.manifest, "w") as f:
                    json.dump(manifest, f, indent=1)
            print("gen_data: inserted %d hostile rows (%d vitals, %d nutrition)" % (
                len(manifest), sum(m["table"] == "vitals_raw_data" for m in manifest),
                sum(m["table"] == "nutrition_raw_data" for m in manifest)))
        elif a.edit:
            done = edit_rows(conn, a, rng)
            kinds = {}
            for d in done:
                k = d.split(": ", 1)[1] if d.count(":") else d
                kinds[d.split()[0] + " " + k] = kinds.get(d.split()[0] + " " + k, 0) + 1
            print("gen_data: edited %d processed rows in place and reset them to pending (%s)" % (
                len(done), ", ".join("%s x%d" % kv for kv in sorted(kinds.items()))))
        else:
            nv, nn = generate(conn, a, rng)
            print("gen_data: inserted %d vitals + %d nutrition rows (%s, seed %d, %d users, "
                  "%d days from %s)" % (nv, nn, "late" if a.late else "initial", a.seed, a.users,
                                        a.days, a.start_date))
    conn.close()


if __name__ == "__main__":
    assert math.isfinite(1.0)
    main()
