/*
 * report.h - one user's aggregates as a self-contained HTML page.
 *
 * Pure: report_render() turns a filled struct report_data into HTML text
 * (inline CSS and SVG charts from svg.h; no scripts, fonts, images or any
 * external reference). src/cli/cmd_report.c reads the store and fills the
 * structs; this module knows no SQL.
 *
 * Every value is a stored aggregate of one period (a day, a week or a month,
 * report_data.level); NaN means "no value". Points are in period order.
 *
 * Each chart is an <svg data-chart="NAME" data-marks="N"> (svg.h) with these
 * names and marks:
 *   heart_rate     one circle per period with a mean (band = min..max)
 *   steps, energy  one bar per period with a non-zero total
 *   sleep          one bar per night with hours
 *   weight         one circle per period
 *   blood_pressure one circle per systolic and per diastolic value
 *   calories       one segment per (period, meal type) with calories > 0
 *   macros         one segment per (period, macro) with grams > 0
 *   lab            one chart per lab test, one circle per numeric value
 * A chart without marks is a "no data" panel (class "chart nodata").
 *
 * Size: a series longer than REPORT_MAX_POINTS (a lab test: REPORT_MAX_LAB_POINTS)
 * is thinned to every k-th period (the page says so), lab charts are capped at REPORT_MAX_LABS and
 * failure reasons at the caller's top N, so the page stays a few MB at most
 * whatever the input.
 */
#ifndef MLW_REPORT_H
#define MLW_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "report/svg.h"

#define REPORT_MAX_POINTS 1200
#define REPORT_MAX_LAB_POINTS 300
#define REPORT_MAX_LABS 60

enum report_level { REPORT_DAILY, REPORT_WEEKLY, REPORT_MONTHLY };

/* One period of a vitals metric. day = first day of the period (mlw_day). */
struct report_point {
    int32_t day;
    double v;       /* the charted value (mean, total per day, hours) */
    double lo, hi;  /* min and max (heart rate band), else NaN */
};

struct report_series {
    struct report_point *p;
    size_t n;
};

enum report_meal { MEAL_BREAKFAST, MEAL_LUNCH, MEAL_DINNER, MEAL_SNACK, MEAL_OTHER, MEAL_N };

/* One period of nutrition: calories per day by meal type and macros in
 * grams per day (for a week or month: the daily average over days with data). */
struct report_meal_point {
    int32_t day;
    double kcal[MEAL_N];
    double protein_g, carbs_g, fat_g;
};

enum report_lab_flag { LAB_FLAG_UNKNOWN, LAB_FLAG_GREEN, LAB_FLAG_AMBER, LAB_FLAG_RED };

struct report_lab_point {
    int32_t day;
    double v;                  /* avg_value as a number */
    enum report_lab_flag flag;
};

/* One lab test (category, LOINC code, test code) over the range. */
struct report_lab {
    char *name, *category, *loinc, *unit;  /* owned; may be NULL */
    double range_lo, range_hi;             /* latest normal range; NaN = open side */
    struct report_lab_point *p;
    size_t n;
    size_t text_values;                    /* periods whose value is text, not charted */
};

enum report_domain { DOMAIN_REPORT_VITALS, DOMAIN_REPORT_NUTRITION, DOMAIN_REPORT_LABS,
                     DOMAIN_REPORT_N };

struct report_reason {
    enum report_domain domain;
    char *reason;    /* owned; may be NULL (no reason recorded) */
    int64_t count;
};

/* Processing state of the user's raw rows (all time, not the range). */
struct report_status {
    int64_t pending[DOMAIN_REPORT_N];      /* pending, queued or processing */
    int64_t failed[DOMAIN_REPORT_N];
    int64_t insufficient;                  /* labs only */
    int have_labs;                         /* the database has the lab tables */
    struct report_reason *reasons;         /* most frequent first */
    size_t nreasons;
    int64_t other_reasons;                 /* distinct reasons not listed */
    int64_t other_reason_rows;             /* rows behind them */
};

struct report_data {
    int64_t user_id;
    int32_t from, to;                      /* requested range, inclusive (mlw_day) */
    enum report_level level;               /* vitals and nutrition */
    enum report_level lab_level;           /* REPORT_DAILY or REPORT_MONTHLY */
    const char *generated_at;              /* "YYYY-MM-DD HH:MM:SS" UTC; may be NULL */
    const char *source;                    /* database description, shown as is; may be NULL */
    struct report_series heart_rate, steps, energy, sleep, weight, bp_sys, bp_dia;
    struct report_meal_point *meals;
    size_t nmeals;
    struct report_lab *labs;
    size_t nlabs;
    size_t labs_omitted;                   /* tests beyond the cap, not charted */
    struct report_status status;
};

/* Which level a range of `days` days is charted at: daily up to 400 days,
 * weekly up to 5 years (1830 days), monthly beyond. */
enum report_level report_pick_level(int64_t days);

/* First day of the period of `level` that contains day. */
int32_t report_period_start(enum report_level level, int32_t day);
/* Number of days in the period of `level` starting at start. */
int report_period_days(enum report_level level, int32_t start);

/* Append the whole HTML page to out. Returns MLW_OK, or MLW_ENOMEM (out's
 * content is then incomplete). */
int report_render(const struct report_data *d, struct sbuf *out, struct mlw_err *err);

/* Free what report_data owns (series, meals, labs and their strings,
 * reasons) and zero those fields. */
void report_data_free(struct report_data *d);

#endif
