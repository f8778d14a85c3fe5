/* vitals.c - see vitals.h. */
#include "domain/vitals.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const CUMULATIVE[] = {
    "Steps", "Active Energy", "Workout Duration", "Workout Calories", "Workout Distance",
    /* mlworker adds these three (the original left them without totals): */
    "Distance Walking", "Flights Climbed", "Stand Hours"};

int vitals_metric_has_total(const char *m)
{
    for (size_t i = 0; i < sizeof CUMULATIVE / sizeof CUMULATIVE[0]; i++)
        if (!strcmp(CUMULATIVE[i], m))
            return 1;
    return 0;
}

int vitals_is_sleep(const char *m) { return !strcmp(m, "Sleep"); }

static int cmp_sample(const void *pa, const void *pb)
{
    const struct vital_sample *a = *(const struct vital_sample *const *)pa;
    const struct vital_sample *b = *(const struct vital_sample *const *)pb;
    int c = strcmp(a->metric_type, b->metric_type);
    if (c)
        return c;
    mlw_ts ha = mlw_ts_hour(a->start), hb = mlw_ts_hour(b->start);
    if (ha != hb)
        return ha < hb ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->raw_id < b->raw_id ? -1 : a->raw_id > b->raw_id;
}

static int is_awake(const char *notes)
{
    if (notes == NULL)
        return 0;
    for (const char *p = notes; *p; p++)
        if (!strncasecmp(p, "awake", 5))
            return 1;
    return 0;
}

/* The original's sleep rule: drop awake samples and implausible lengths,
 * then walk periods by start; an overlapping period replaces the first
 * overlapping kept one only if it is strictly longer. */
static void sleep_bucket(struct vital_sample *const *g, size_t n, const struct vital_sample **kept,
                         struct vital_agg *out)
{
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        const struct vital_sample *p = g[i];
        if (is_awake(p->notes) || !(p->value >= 0.1 && p->value <= 16.0))
            continue;
        size_t j = 0;
        for (; j < nk; j++)
            if (p->start < kept[j]->end && p->end > kept[j]->start)
                break;
        if (j == nk)
            kept[nk++] = p;
        else if (p->value > kept[j]->value)
            kept[j] = p;
    }
    out->present = VA_TOTAL | VA_AVG | VA_MIN | VA_MAX;
    out->total = out->avg = out->min = out->max = 0;
    out->count = (int64_t)nk;
    if (nk == 0)
        return;
    double sum = 0, mn = kept[0]->value, mx = kept[0]->value;
    for (size_t j = 0; j < nk; j++) {
        sum += kept[j]->value;
        if (kept[j]->value < mn)
            mn = kept[j]->value;
        if (kept[j]->value > mx)
            mx = kept[j]->value;
    }
    out->total = sum;
    out->avg = sum / (double)nk;
    out->min = mn;
    out->max = mx;
}

int vitals_hourly(const struct vital_sample *rows, size_t n, struct arena *a,
                  struct vital_agg **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    struct vital_sample **idx = arena_alloc(a, n * sizeof *idx);
    const struct vital_sample **kept = arena_alloc(a, n * sizeof *kept);
    struct vital_agg *res = arena_calloc(a, n, sizeof *res);
    if (!idx || !kept || !res)
        return -1;
    for (size_t i = 0; i < n; i++)
        idx[i] = (struct vital_sample *)&rows[i];
    qsort(idx, n, sizeof *idx, cmp_sample);

    size_t nb = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        mlw_ts hour = mlw_ts_hour(idx[i]->start);
        while (j < n && !strcmp(idx[j]->metric_type, idx[i]->metric_type) &&
               mlw_ts_hour(idx[j]->start) == hour)
            j++;
        struct vital_agg *b = &res[nb++];
        const struct vital_sample *latest = idx[j - 1]; /* greatest (start, raw_id) */
        b->metric_type = idx[i]->metric_type;
        b->key = hour;
        b->unit = latest->unit;
        b->loinc_code = latest->loinc_code;
        b->primary_source = latest->data_source;
        b->latest_ts = latest->start;
        b->latest_id = latest->raw_id;
        for (size_t k = i; k < j; k++)
            if (strset_add(&b->sources, a, idx[k]->data_source))
                return -1;
        if (vitals_is_sleep(b->metric_type)) {
            sleep_bucket(idx + i, j - i, kept, b);
            b->unit = "hours";
        } else {
            double sum = 0, mn = idx[i]->value, mx = idx[i]->value;
            for (size_t k = i; k < j; k++) {
                double v = idx[k]->value;
                sum += v;
                if (v < mn)
                    mn = v;
                if (v > mx)
                    mx = v;
            }
            b->count = (int64_t)(j - i);
            b->avg = sum / (double)(j - i);
            b->min = mn;
            b->max = mx;
            b->present = VA_AVG | VA_MIN | VA_MAX;
            if (vitals_metric_has_total(b->metric_type)) {
                b->total = sum;
                b->present |= VA_TOTAL;
            }
        }
        i = j;
    }
    *out = res;
    *nout = nb;
    return 0;
}

static int cmp_agg(const void *pa, const void *pb)
{
    const struct vital_agg *a = *(const struct vital_agg *const *)pa;
    const struct vital_agg *b = *(const struct vital_agg *const *)pb;
    int c = strcmp(a->metric_type, b->metric_type);
    if (c)
        return c;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return 0;
}

/* Shared by daily and rollup: sort rows by (metric, key) and call fold for
 * each metric's run. */
typedef int (*fold_fn)(struct vital_agg *const *g, size_t n, struct arena *a, struct vital_agg *out);

static int group_fold(const struct vital_agg *rows, size_t n, int64_t key, struct arena *a,
                      fold_fn fold, struct vital_agg **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    struct vital_agg **idx = arena_alloc(a, n * sizeof *idx);
    struct vital_agg *res = arena_calloc(a, n, sizeof *res);
    if (!idx || !res)
        return -1;
    for (size_t i = 0; i < n; i++)
        idx[i] = (struct vital_agg *)&rows[i];
    qsort(idx, n, sizeof *idx, cmp_agg);
    size_t nr = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(idx[j]->metric_type, idx[i]->metric_type))
            j++;
        struct vital_agg *r = &res[nr++];
        const struct vital_agg *latest = idx[j - 1]; /* greatest period key */
        r->metric_type = idx[i]->metric_type;
        r->key = key;
        r->unit = latest->unit;
        r->loinc_code = latest->loinc_code;
        r->primary_source = latest->primary_source;
        r->latest_ts = latest->key;
        r->latest_id = 0;
        for (size_t k = i; k < j; k++)
            if (strset_union(&r->sources, a, &idx[k]->sources))
                return -1;
        if (fold(idx + i, j - i, a, r))
            return -1;
        i = j;
    }
    *out = res;
    *nout = nr;
    return 0;
}

/* Sum of non-NULL totals, mean of non-NULL averages, min/max of non-NULL
 * mins/maxes: the formula of daily (non-sleep), weekly and monthly rows. */
static void fold_values(struct vital_agg *const *g, size_t n, struct vital_agg *r)
{
    double total = 0, avg_sum = 0;
    size_t n_total = 0, n_avg = 0;
    int has_min = 0, has_max = 0;
    for (size_t k = 0; k < n; k++) {
        const struct vital_agg *x = g[k];
        if (x->present & VA_TOTAL) {
            total += x->total;
            n_total++;
        }
        if (x->present & VA_AVG) {
            avg_sum += x->avg;
            n_avg++;
        }
        if ((x->present & VA_MIN) && (!has_min || x->min < r->min)) {
            r->min = x->min;
            has_min = 1;
        }
        if ((x->present & VA_MAX) && (!has_max || x->max > r->max)) {
            r->max = x->max;
            has_max = 1;
        }
        r->count += x->count;
    }
    r->present = (n_total ? VA_TOTAL : 0) | (n_avg ? VA_AVG : 0) | (has_min ? VA_MIN : 0) |
                 (has_max ? VA_MAX : 0);
    r->total = total;
    r->avg = n_avg ? avg_sum / (double)n_avg : 0;
}

static int fold_daily(struct vital_agg *const *g, size_t n, struct arena *a, struct vital_agg *r)
{
    (void)a;
    fold_values(g, n, r);
    if (vitals_is_sleep(r->metric_type)) {
        /* Sleep: the night's hours; missing values count as 0. */
        if (!(r->present & VA_TOTAL))
            r->total = 0;
        if (!(r->present & VA_MIN))
            r->min = 0;
        if (!(r->present & VA_MAX))
            r->max = 0;
        r->avg = r->total;
        r->present = VA_TOTAL | VA_AVG | VA_MIN | VA_MAX;
        if (r->total > 0) {
            r->duration_minutes = r->total * 60.0;
            r->present |= VA_DURATION;
        }
        r->unit = "hours";
    }
    return 0;
}

static int fold_rollup(struct vital_agg *const *g, size_t n, struct arena *a, struct vital_agg *r)
{
    (void)a;
    fold_values(g, n, r);
    r->count = 0;
    r->days_with_data = (int64_t)n;
    return 0;
}

int vitals_daily(const struct vital_agg *hourly, size_t n, mlw_day day, struct arena *a,
                 struct vital_agg **out, size_t *nout)
{
    return group_fold(hourly, n, day, a, fold_daily, out, nout);
}

int vitals_rollup(const struct vital_agg *daily, size_t n, mlw_day key, struct arena *a,
                  struct vital_agg **out, size_t *nout)
{
    return group_fold(daily, n, key, a, fold_rollup, out, nout);
}
