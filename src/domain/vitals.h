/*
 * vitals.h - pure vitals aggregation (reference data-model §2.6, with the
 * deliberate fixes listed in docs/compatibility.md).
 *
 *   categorized samples of one (user, day) --vitals_hourly-->  hourly buckets
 *   hourly buckets of one day             --vitals_daily--->   daily rows
 *   daily rows of one week or month       --vitals_rollup-->   weekly/monthly rows
 *
 * Every level is recomputed from the complete level below, so the result is
 * a function of the data alone: retries, restarts and concurrent workers
 * cannot double count. No I/O; all output memory comes from the arena.
 */
#ifndef MLW_VITALS_H
#define MLW_VITALS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/timeutil.h"
#include "domain/strset.h"

/* One categorized sample (a vitals_raw_categorized row). */
struct vital_sample {
    int64_t raw_id;
    const char *metric_type;
    double value;            /* in unit (standard unit after normalisation) */
    const char *unit;
    mlw_ts start, end;
    const char *data_source;
    const char *notes;       /* may be NULL */
    const char *loinc_code;  /* may be NULL */
};

/* Nullable doubles of an aggregate row. */
enum { VA_TOTAL = 1, VA_AVG = 2, VA_MIN = 4, VA_MAX = 8, VA_DURATION = 16 };

/* One aggregate row at any level. `key` is the period: the hour's mlw_ts for
 * hourly rows, the mlw_day of the date / week start / month start otherwise. */
struct vital_agg {
    const char *metric_type;
    int64_t key;
    unsigned present;        /* VA_* bits of the values that are not NULL */
    double total, avg, min, max, duration_minutes;
    int64_t count;           /* hourly/daily: samples; weekly/monthly: unused */
    int64_t days_with_data;  /* weekly/monthly */
    const char *unit;
    const char *loinc_code;  /* may be NULL */
    const char *primary_source;
    struct strset sources;
    /* Tie-break for "latest" one level up: the (start, raw_id) of the latest
     * sample for hourly rows; the period key for higher levels. */
    mlw_ts latest_ts;
    int64_t latest_id;
};

/* Does total_value get filled for this metric? (cumulative metrics) */
int vitals_metric_has_total(const char *metric_type);
int vitals_is_sleep(const char *metric_type);

/* Group samples (any order) into hourly buckets by (metric, start hour).
 * Output sorted by (metric_type, key). Returns 0 or -1 on OOM. */
int vitals_hourly(const struct vital_sample *rows, size_t n, struct arena *a,
                  struct vital_agg **out, size_t *nout);

/* Daily rows for day from that day's hourly rows (any order).
 * Output sorted by metric_type. */
int vitals_daily(const struct vital_agg *hourly, size_t n, mlw_day day, struct arena *a,
                 struct vital_agg **out, size_t *nout);

/* Weekly or monthly rows (same formulas) from the daily rows of the period;
 * key is the period's first day. Output sorted by metric_type. */
int vitals_rollup(const struct vital_agg *daily, size_t n, mlw_day key, struct arena *a,
                  struct vital_agg **out, size_t *nout);

#endif
