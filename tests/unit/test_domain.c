/* Unit tests of the pure vitals/nutrition computations, the unit table and
 * timestamp/calendar arithmetic. No database. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "domain/nutrition.h"
#include "domain/strset.h"
#include "domain/units.h"
#include "domain/vitals.h"

static mlw_ts ts(const char *s)
{
    mlw_ts t = 0;
    assert_int_equal(mlw_ts_parse(s, strlen(s), &t, NULL), 0);
    return t;
}

static mlw_day day(const char *s)
{
    mlw_day d = 0;
    assert_int_equal(mlw_date_parse(s, strlen(s), &d, NULL), 0);
    return d;
}

/* ---- timestamps ---------------------------------------------------------- */

static void test_ts_parse_forms(void **state)
{
    (void)state;
    char out[MLW_TS_LEN];
    mlw_ts_format(ts("2026-01-31 23:59:59"), out);
    assert_string_equal(out, "2026-01-31 23:59:59");
    mlw_ts_format(ts("2026-01-31T23:59:59"), out);
    assert_string_equal(out, "2026-01-31 23:59:59");
    mlw_ts_format(ts("2026-01-31 23:59:59.5"), out);
    assert_string_equal(out, "2026-01-31 23:59:59.500000");
    mlw_ts_format(ts("2026-01-31 23:59:59.123456789"), out);
    assert_string_equal(out, "2026-01-31 23:59:59.123456");
    mlw_ts_format(ts("0001-01-01 00:00:00"), out);
    assert_string_equal(out, "0001-01-01 00:00:00");
    mlw_ts_format(ts("9999-12-31 23:59:59"), out);
    assert_string_equal(out, "9999-12-31 23:59:59");
}

static void test_ts_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2026-01-31", "2026-01-31 23:59", "2026-01-31 23:59:59Z", "2026-01-31 23:59:59+05:30",
        "2026-02-30 10:00:00", "2026-13-01 10:00:00", "0000-12-31 10:00:00", "2026-01-31 24:00:00",
        "2026-01-31 23:60:00", "2026-01-31 23:59:59.", "2026-01-31 23:59:59.1234567890",
        "26-01-31 10:00:00", "", "2026-01-31x23:59:59", "2026-01-31 23:59:59 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mlw_ts t;
        const char *why = NULL;
        assert_int_equal(mlw_ts_parse(bad[i], strlen(bad[i]), &t, &why), -1);
        assert_non_null(why);
    }
    mlw_day d;
    assert_int_equal(mlw_date_parse("2026-01-31 00:00:00", 19, &d, NULL), -1);
    assert_int_equal(mlw_date_parse("2024-02-29", 10, &d, NULL), 0);
    assert_int_equal(mlw_date_parse("2023-02-29", 10, &d, NULL), -1);
}

static void test_calendar(void **state)
{
    (void)state;
    char out[MLW_DATE_LEN];
    /* A week spanning two months: Mon 2026-01-26 .. Sun 2026-02-01. */
    mlw_date_format(mlw_week_start(day("2026-02-01")), out);
    assert_string_equal(out, "2026-01-26");
    mlw_date_format(mlw_week_start(day("2026-01-26")), out);
    assert_string_equal(out, "2026-01-26");
    /* A week spanning a year end: Mon 2025-12-29 .. Sun 2026-01-04. */
    mlw_date_format(mlw_week_start(day("2026-01-03")), out);
    assert_string_equal(out, "2025-12-29");
    mlw_date_format(mlw_month_end(day("2024-02-10")), out);
    assert_string_equal(out, "2024-02-29");
    mlw_date_format(mlw_month_end(day("2100-02-10")), out);
    assert_string_equal(out, "2100-02-28");
    mlw_date_format(mlw_month_start(day("2026-12-31")), out);
    assert_string_equal(out, "2026-12-01");
    assert_int_equal(mlw_day_weekday(day("0001-01-01")), 0); /* a Monday */
    assert_int_equal(mlw_day_weekday(day("2026-11-29")), 6); /* a Sunday */
    assert_int_equal(day("9999-12-31"), MLW_DAY_MAX);
    /* Round trip every day of four centuries. */
    for (mlw_day d = day("1999-01-01"); d < day("2401-01-01"); d += 1) {
        int y, m, dd;
        mlw_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(mlw_days_from_civil(y, m, dd), d);
    }
    assert_int_equal(mlw_ts_hour(ts("2026-03-01 10:59:59.999")), ts("2026-03-01 10:00:00"));
    assert_int_equal(mlw_ts_day(ts("2026-03-01 23:59:59.999")), day("2026-03-01"));
}

/* ---- units ---------------------------------------------------------------- */

static void expect_unit(const char *metric, double v, const char *unit, double want,
                        const char *want_unit)
{
    double out;
    const char *ou;
    char why[200];
    enum units_result r = units_normalize(metric, v, unit, &out, &ou, why, sizeof why);
    if (r != UNITS_OK)
        fail_msg("%s %g '%s': %s", metric, v, unit, why);
    assert_true(fabs(out - want) <= 1e-9 * fmax(1, fabs(want)));
    assert_string_equal(ou, want_unit);
}

static void expect_fail(const char *metric, double v, const char *unit, enum units_result want)
{
    double out;
    const char *ou;
    char why[200] = "";
    assert_int_equal(units_normalize(metric, v, unit, &out, &ou, why, sizeof why), want);
    assert_true(strlen(why) > 0);
}

static void test_units(void **state)
{
    (void)state;
    expect_unit("Weight", 150, "lbs", 150 * 0.453592, "kg");
    expect_unit("Weight", 68, " KG ", 68, "kg");
    expect_unit("Weight", 68000, "g", 68, "kg");
    expect_unit("Temperature", 98.6, "\xc2\xb0" "F", 37.0, "\xc2\xb0" "C");
    expect_unit("Temperature", 98.6, "fahrenheit", 37.0, "\xc2\xb0" "C");
    expect_unit("Temperature", 37.2, "C", 37.2, "\xc2\xb0" "C");
    expect_unit("Heart Rate", 72, "beats/min", 72, "bpm");
    expect_unit("Heart Rate", 72, "count/min", 72, "bpm");
    expect_unit("Heart Rate", 72, "/min", 72, "bpm");
    expect_unit("Blood Sugar", 5.5, "mmol/L", 5.5 * 18.0182, "mg/dL");
    expect_unit("Blood Sugar", 99, "MG/DL", 99, "mg/dL");
    expect_unit("Blood Pressure Systolic", 16, "kPa", 16 * 7.50062, "mmHg");
    expect_unit("Oxygen Saturation", 0.97, "fraction", 97, "%");
    expect_unit("BMI", 22.5, "kg/m2", 22.5, "kg/m\xc2\xb2");
    expect_unit("Sleep", 450, "minutes", 7.5, "hours");
    expect_unit("Sleep", 3600, "s", 1.0, "hours");
    expect_unit("Stand Hours", 30, "min", 0.5, "hours");
    expect_unit("Workout Duration", 1.5, "h", 90, "minutes");
    expect_unit("Workout Duration", 90, "seconds", 1.5, "minutes");
    expect_unit("Active Energy", 418.4, "kJ", 418.4 * 0.239006, "kcal");
    expect_unit("Active Energy", 250, "Cal", 250, "kcal");          /* food-label Calorie */
    expect_unit("Active Energy", 250000, "cal", 250, "kcal");       /* small calories */
    expect_unit("Active Energy", 250000, "calories", 250, "kcal");
    expect_unit("Workout Distance", 5, "km", 5000, "meters");
    expect_unit("Distance Walking", 1, "mi", 1.60934, "km");
    expect_unit("Flights Climbed", 3, "floors", 3, "flights");
    expect_unit("Steps", 0, "count", 0, "steps");                   /* inclusive lower bound */
    expect_unit("Steps", 100000, "steps", 100000, "steps");         /* inclusive upper bound */
    expect_fail("Weight", 150, "stone", UNITS_UNKNOWN_UNIT);
    expect_fail("Heart Rate", 400, "bpm", UNITS_OUT_OF_RANGE);
    expect_fail("Heart Rate", -1, "bpm", UNITS_OUT_OF_RANGE);
    expect_fail("Temperature", 98.6, "C", UNITS_OUT_OF_RANGE);
    expect_fail("Weight", INFINITY, "kg", UNITS_NOT_FINITE);
    expect_fail("Weight", NAN, "kg", UNITS_NOT_FINITE);
    expect_fail("Custom Metric", NAN, "x", UNITS_NOT_FINITE);
    double out;
    const char *ou;
    char why[64];
    assert_int_equal(units_normalize("Respiratory Rate", 14, "breaths/min", &out, &ou, why, sizeof why),
                     UNITS_PASSTHROUGH);
    assert_string_equal(ou, "breaths/min");
}

/* ---- vitals --------------------------------------------------------------- */

static struct vital_sample S(int64_t id, const char *metric, double v, const char *unit,
                             const char *start, const char *end, const char *src,
                             const char *notes)
{
    return (struct vital_sample){id, metric, v, unit, ts(start), ts(end), src, notes, "L-1"};
}

static void test_vitals_hourly_basic(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    struct vital_sample rows[] = {
        S(3, "Heart Rate", 80, "bpm", "2026-01-05 10:50:00", "2026-01-05 10:50:00", "b", NULL),
        S(1, "Heart Rate", 60, "bpm", "2026-01-05 10:05:00", "2026-01-05 10:05:00", "a", NULL),
        S(2, "Heart Rate", 70, "bpm", "2026-01-05 10:50:00", "2026-01-05 10:50:00", "c", NULL),
        S(4, "Heart Rate", 90, "bpm", "2026-01-05 11:00:00", "2026-01-05 11:00:00", "a", NULL),
        S(5, "Steps", 100, "steps", "2026-01-05 10:00:00", "2026-01-05 10:10:00", "a", NULL),
        S(6, "Steps", 50, "steps", "2026-01-05 10:30:00", "2026-01-05 10:40:00", "a", NULL),
    };
    struct vital_agg *h;
    size_t n;
    assert_int_equal(vitals_hourly(rows, 6, &a, &h, &n), 0);
    assert_int_equal(n, 3);
    /* Heart Rate 10:00: mean of 60, 70, 80; latest = (10:50, id 3) -> source b. */
    assert_string_equal(h[0].metric_type, "Heart Rate");
    assert_int_equal(h[0].key, ts("2026-01-05 10:00:00"));
    assert_true(fabs(h[0].avg - 70) < 1e-12);
    assert_true(h[0].min == 60 && h[0].max == 80 && h[0].count == 3);
    assert_false(h[0].present & VA_TOTAL); /* heart rate has no total */
    assert_string_equal(h[0].primary_source, "b");
    assert_string_equal(strset_to_json(&h[0].sources, &a), "[\"a\", \"b\", \"c\"]");
    assert_int_equal(h[1].key, ts("2026-01-05 11:00:00"));
    /* Steps: cumulative, total filled. */
    assert_string_equal(h[2].metric_type, "Steps");
    assert_true((h[2].present & VA_TOTAL) && h[2].total == 150 && h[2].avg == 75);

    /* Daily: mean of hourly means (70 and 90 -> 80), not the sample mean. */
    struct vital_agg *d;
    size_t nd;
    assert_int_equal(vitals_daily(h, n, day("2026-01-05"), &a, &d, &nd), 0);
    assert_int_equal(nd, 2);
    assert_true(fabs(d[0].avg - 80) < 1e-12);
    assert_int_equal(d[0].count, 4);
    assert_true(d[0].min == 60 && d[0].max == 90);
    assert_string_equal(d[0].primary_source, "a"); /* latest hour 11:00 */
    assert_false(d[0].present & VA_TOTAL);
    assert_true(d[1].total == 150);
    arena_free(&a);
}

static void test_vitals_sleep_rules(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    struct vital_sample rows[] = {
        /* Two overlapping periods in one hour: the longer one wins. */
        S(1, "Sleep", 6.0, "hours", "2026-01-05 23:05:00", "2026-01-06 05:05:00", "watch", "Core"),
        S(2, "Sleep", 7.0, "hours", "2026-01-05 23:10:00", "2026-01-06 06:10:00", "phone", NULL),
        /* Awake is dropped but its source still counts. */
        S(3, "Sleep", 0.5, "hours", "2026-01-05 23:20:00", "2026-01-05 23:50:00", "ring", "AWAKE"),
        /* Too short (< 0.1 h) is dropped. */
        S(4, "Sleep", 0.05, "hours", "2026-01-05 23:59:00", "2026-01-06 00:02:00", "watch", NULL),
        /* An hour whose only sample is filtered is written with zeros. */
        S(5, "Sleep", 20.0, "hours", "2026-01-05 14:00:00", "2026-01-06 10:00:00", "watch", NULL),
        /* A strictly-not-longer overlapping period is dropped. */
        S(6, "Sleep", 7.0, "hours", "2026-01-05 23:30:00", "2026-01-06 06:30:00", "watch", NULL),
    };
    struct vital_agg *h;
    size_t n;
    assert_int_equal(vitals_hourly(rows, 6, &a, &h, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].key, ts("2026-01-05 14:00:00"));
    assert_true(h[0].total == 0 && h[0].avg == 0 && h[0].count == 0 && h[0].min == 0);
    assert_string_equal(h[0].unit, "hours");
    assert_true(h[1].total == 7.0 && h[1].count == 1 && h[1].avg == 7.0);
    assert_string_equal(strset_to_json(&h[1].sources, &a), "[\"phone\", \"ring\", \"watch\"]");
    assert_string_equal(h[1].primary_source, "watch"); /* latest start 23:59 */
    struct vital_agg *d;
    size_t nd;
    assert_int_equal(vitals_daily(h, n, day("2026-01-05"), &a, &d, &nd), 0);
    assert_int_equal(nd, 1);
    assert_true(d[0].total == 7.0 && d[0].avg == 7.0 && d[0].min == 0 && d[0].max == 7.0);
    assert_true((d[0].present & VA_DURATION) && d[0].duration_minutes == 420);
    arena_free(&a);
}

static void test_vitals_rollup(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    struct vital_agg days[3] = {0};
    const char *srcs[3] = {"a", "b", "a"};
    for (int i = 0; i < 3; i++) {
        days[i].metric_type = "Steps";
        days[i].key = day("2026-01-26") + i * 3;
        days[i].present = VA_TOTAL | VA_AVG | VA_MIN | VA_MAX;
        days[i].total = 1000 * (i + 1);
        days[i].avg = 10 * (i + 1);
        days[i].min = i;
        days[i].max = 100 + i;
        days[i].unit = "steps";
        days[i].primary_source = srcs[i];
        strset_add(&days[i].sources, &a, srcs[i]);
    }
    days[1].present &= ~(unsigned)VA_AVG; /* a NULL average is skipped, not zero */
    struct vital_agg *w;
    size_t n;
    assert_int_equal(vitals_rollup(days, 3, day("2026-01-26"), &a, &w, &n), 0);
    assert_int_equal(n, 1);
    assert_true(w[0].total == 6000 && fabs(w[0].avg - 20) < 1e-12);
    assert_true(w[0].min == 0 && w[0].max == 102 && w[0].days_with_data == 3);
    assert_string_equal(w[0].primary_source, "a");
    assert_string_equal(strset_to_json(&w[0].sources, &a), "[\"a\", \"b\"]");
    arena_free(&a);
}

/* ---- nutrition ------------------------------------------------------------ */

static void test_nutrition(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    struct meal_item items[3] = {0};
    items[0] = (struct meal_item){1, " Breakfast ", {300, 10}, "manual_entry", ts("2026-01-05 08:00:00")};
    items[1] = (struct meal_item){2, "LUNCH", {500, 20}, "photo_analysis", ts("2026-01-05 13:00:00")};
    items[2] = (struct meal_item){3, "other", {100, 1}, "barcode_scan", ts("2026-01-05 13:00:00")};
    struct nutrition_day d;
    assert_int_equal(nutrition_daily(items, 3, day("2026-01-05"), &a, &d), 0);
    assert_true(d.total[0] == 900 && d.total[1] == 31 && d.meal_count == 3);
    assert_true(d.type_count[MEAL_BREAKFAST] == 1 && d.type_calories[MEAL_BREAKFAST] == 300);
    assert_true(d.type_count[MEAL_LUNCH] == 1 && d.type_count[MEAL_SNACK] == 0);
    assert_string_equal(d.primary_source, "barcode_scan"); /* created_at tie: greater id */
    assert_string_equal(strset_to_json(&d.sources, &a),
                        "[\"barcode_scan\", \"manual_entry\", \"photo_analysis\"]");

    struct nutrition_day days[2] = {d, d};
    days[1].date = d.date + 1;
    days[1].total[0] = 1100;
    days[1].latest_created_at = ts("2026-01-06 09:00:00");
    days[1].primary_source = "api_import";
    struct nutrition_period p;
    assert_int_equal(nutrition_rollup(days, 2, mlw_week_start(d.date), &a, &p), 0);
    assert_true(p.days_with_data == 2 && p.total_calories == 2000 && p.avg_daily[0] == 1000);
    assert_true(p.total_meals == 6);
    assert_string_equal(p.primary_source, "api_import");

    double ok[NUTR_COUNT] = {0}, neg[NUTR_COUNT] = {0}, inf[NUTR_COUNT] = {0};
    char why[100];
    ok[3] = -0.0;
    assert_int_equal(nutrition_validate(ok, why, sizeof why), 0);
    neg[5] = -1;
    assert_int_equal(nutrition_validate(neg, why, sizeof why), -1);
    assert_non_null(strstr(why, "sugar_g"));
    inf[26] = INFINITY;
    assert_int_equal(nutrition_validate(inf, why, sizeof why), -1);
    assert_int_equal(nutrition_meal_kind("\tSnack\n"), MEAL_SNACK);
    assert_int_equal(nutrition_meal_kind("brunch"), MEAL_OTHER);
    arena_free(&a);
}

static void test_strset_json(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    struct strset s = {0};
    strset_add(&s, &a, "z\"q");
    strset_add(&s, &a, "\xc3\xa9t\xc3\xa9");
    strset_add(&s, &a, "a\n");
    strset_add(&s, &a, "a\n");
    assert_string_equal(strset_to_json(&s, &a), "[\"a\\n\", \"z\\\"q\", \"\\u00e9t\\u00e9\"]");
    struct strset t = {0};
    assert_int_equal(strset_from_json(&t, &a, "[\"b\", 3, \"a\", \"b\"]"), 0);
    assert_int_equal(t.n, 2);
    struct strset u = {0};
    assert_int_equal(strset_from_json(&u, &a, "not json"), 0);
    assert_int_equal(u.n, 0);
    struct strset e = {0};
    assert_string_equal(strset_to_json(&e, &a), "[]");
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ts_parse_forms),   cmocka_unit_test(test_ts_parse_rejects),
        cmocka_unit_test(test_calendar),         cmocka_unit_test(test_units),
        cmocka_unit_test(test_vitals_hourly_basic), cmocka_unit_test(test_vitals_sleep_rules),
        cmocka_unit_test(test_vitals_rollup),    cmocka_unit_test(test_nutrition),
        cmocka_unit_test(test_strset_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
