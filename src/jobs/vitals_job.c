/*
 * vitals_job.c - the vitals group processor.
 *
 * For one (user, day) group, inside the caller's transaction:
 *   1. each claimed raw row is validated and normalised to its metric's
 *      standard unit; good rows are upserted into vitals_raw_categorized
 *      (keyed by raw_id), bad rows are marked failed and lose any earlier
 *      categorized copy;
 *   2. every day whose samples changed (this day, and the old day of a row
 *      whose start moved) gets its hourly and daily rows recomputed;
 *   3. the weeks and months of those days are recomputed from daily rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/units.h"
#include "domain/vitals.h"
#include "jobs/pipeline_int.h"

/* Batch row columns: the raw row, then where its categorized copy (if any)
 * sits now, so a moved or failed row's old buckets can be recomputed. */
enum { C_ID, C_USER, C_START, C_METRIC, C_VALUE, C_UNIT, C_END, C_SOURCE, C_DEVICE, C_NOTES,
       C_CONFIDENCE, C_CREATED, C_OLD_START, C_OLD_METRIC };

/* Text columns read capped (pipeline_int.h): over-long rows fail, and a
 * batch stays small whatever the table holds. */
#define ROW_COLS                                                                           \
    "r.id, r.user_id, r.start_date, " PIPELINE_CAP_NAME("r.metric_type") ", r.value, "     \
    PIPELINE_CAP_NAME("r.unit") ", r.end_date, " PIPELINE_CAP_NAME("r.data_source") ", "   \
    PIPELINE_CAP_NAME("r.source_device") ", " PIPELINE_CAP_TEXT("r.notes")                 \
    ", r.confidence_score, r.created_at, c.start_date, c.metric_type"

static const struct pipeline_text_col TEXT_COLS[] = {
    {C_METRIC, "metric_type", PIPELINE_MAX_NAME_CHARS},
    {C_UNIT, "unit", PIPELINE_MAX_NAME_CHARS},
    {C_SOURCE, "data_source", PIPELINE_MAX_NAME_CHARS},
    {C_DEVICE, "source_device", PIPELINE_MAX_NAME_CHARS},
    {C_NOTES, "notes", PIPELINE_MAX_TEXT_CHARS}};
#define ROW_FROM                                                                           \
    " FROM vitals_raw_data r LEFT JOIN vitals_raw_categorized c ON c.raw_id = r.id"
#define SELECT_HEAD "SELECT " ROW_COLS ROW_FROM " WHERE r.aggregation_status='pending'"
#define SELECT_TAIL " ORDER BY r.created_at, r.id LIMIT ?"

static const char SQL_CAT_DELETE[] = "DELETE FROM vitals_raw_categorized WHERE raw_id=?";
static const char SQL_FINISH_OK[] =
    "UPDATE vitals_raw_data SET aggregation_status='categorized', failure_reason=NULL,"
    " updated_at=?, aggregated_at=? WHERE id IN";
/* Upserts are HEAD + VALUES (...), (...) + TAIL (store_exec_values). */
#define CAT_COLS 16
static const char SQL_CAT_HEAD[] =
    "INSERT INTO vitals_raw_categorized (raw_id, user_id, metric_type, value, unit, start_date,"
    " end_date, data_source, source_device, notes, confidence_score, loinc_code,"
    " aggregation_status, aggregated_at, created_at, updated_at)";
static const char SQL_CAT_TAIL[] =
    " ON CONFLICT (raw_id) DO UPDATE SET user_id=excluded.user_id,"
    " metric_type=excluded.metric_type, value=excluded.value, unit=excluded.unit,"
    " start_date=excluded.start_date, end_date=excluded.end_date,"
    " data_source=excluded.data_source, source_device=excluded.source_device,"
    " notes=excluded.notes, confidence_score=excluded.confidence_score,"
    " loinc_code=excluded.loinc_code, aggregation_status=excluded.aggregation_status,"
    " aggregated_at=excluded.aggregated_at, updated_at=excluded.updated_at";
static const char SQL_MAPPINGS[] =
    "SELECT vital_sign, loinc_code FROM vitals_mappings"
    " ORDER BY sort_order IS NULL, sort_order, vital_sign";
static const char SQL_DAY_SAMPLES[] =
    "SELECT raw_id, metric_type, value, unit, start_date, end_date, data_source, notes,"
    " loinc_code FROM vitals_raw_categorized"
    " WHERE user_id=? AND metric_type=? AND start_date>=? AND start_date<?";

#define AGG_COLS 15
static const char SQL_HOURLY_HEAD[] =
    "INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start, loinc_code,"
    " total_value, average_value, min_value, max_value, count, duration_minutes, unit,"
    " primary_source, sources_included, created_at, updated_at)";
static const char SQL_HOURLY_TAIL[] =
    " ON CONFLICT (user_id, metric_type, hour_start) DO UPDATE SET"
    " loinc_code=excluded.loinc_code, total_value=excluded.total_value,"
    " average_value=excluded.average_value, min_value=excluded.min_value,"
    " max_value=excluded.max_value, count=excluded.count,"
    " duration_minutes=excluded.duration_minutes, unit=excluded.unit,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_HOURLY_SCOPE[] =
    "SELECT id, hour_start FROM vitals_hourly_aggregates"
    " WHERE user_id=? AND metric_type=? AND hour_start>=? AND hour_start<?";
static const char SQL_HOURLY_DELETE[] = "DELETE FROM vitals_hourly_aggregates WHERE id=?";

static const char SQL_DAILY_HEAD[] =
    "INSERT INTO vitals_daily_aggregates (user_id, metric_type, date, loinc_code, total_value,"
    " average_value, min_value, max_value, count, duration_minutes, unit, primary_source,"
    " sources_included, created_at, updated_at)";
static const char SQL_DAILY_TAIL[] =
    " ON CONFLICT (user_id, metric_type, date) DO UPDATE SET"
    " loinc_code=excluded.loinc_code, total_value=excluded.total_value,"
    " average_value=excluded.average_value, min_value=excluded.min_value,"
    " max_value=excluded.max_value, count=excluded.count,"
    " duration_minutes=excluded.duration_minutes, unit=excluded.unit,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_DAILY_DELETE[] =
    "DELETE FROM vitals_daily_aggregates WHERE user_id=? AND metric_type=? AND date=?";
static const char SQL_DAILY_RANGE[] =
    "SELECT metric_type, date, total_value, average_value, min_value, max_value, count, unit,"
    " loinc_code, primary_source, sources_included FROM vitals_daily_aggregates"
    " WHERE user_id=? AND metric_type=? AND date>=? AND date<=?";

static const char SQL_WEEKLY_HEAD[] =
    "INSERT INTO vitals_weekly_aggregates (user_id, metric_type, week_start_date, week_end_date,"
    " loinc_code, total_value, average_value, min_value, max_value, days_with_data, unit,"
    " primary_source, sources_included, created_at, updated_at)";
static const char SQL_WEEKLY_TAIL[] =
    " ON CONFLICT (user_id, metric_type, week_start_date) DO UPDATE SET"
    " week_end_date=excluded.week_end_date, loinc_code=excluded.loinc_code,"
    " total_value=excluded.total_value, average_value=excluded.average_value,"
    " min_value=excluded.min_value, max_value=excluded.max_value,"
    " days_with_data=excluded.days_with_data, unit=excluded.unit,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_WEEKLY_DELETE[] =
    "DELETE FROM vitals_weekly_aggregates WHERE user_id=? AND metric_type=? AND week_start_date=?";

static const char SQL_MONTHLY_HEAD[] =
    "INSERT INTO vitals_monthly_aggregates (user_id, metric_type, year, month, loinc_code,"
    " total_value, average_value, min_value, max_value, days_with_data, unit, primary_source,"
    " sources_included, created_at, updated_at)";
static const char SQL_MONTHLY_TAIL[] =
    " ON CONFLICT (user_id, metric_type, year, month) DO UPDATE SET"
    " loinc_code=excluded.loinc_code, total_value=excluded.total_value,"
    " average_value=excluded.average_value, min_value=excluded.min_value,"
    " max_value=excluded.max_value, days_with_data=excluded.days_with_data,"
    " unit=excluded.unit, primary_source=excluded.primary_source,"
    " sources_included=excluded.sources_included, updated_at=excluded.updated_at";
static const char SQL_MONTHLY_DELETE[] =
    "DELETE FROM vitals_monthly_aggregates WHERE user_id=? AND metric_type=? AND year=? AND month=?";

/* ---- LOINC for vitals: first vitals_mappings match ---------------------- */

struct loinc_map {
    struct store_rows rows;
};

/* Exact (case-insensitive) name first, else the first row in seed order
 * whose vital_sign contains the metric name (case-insensitive). */
static const char *loinc_lookup_uncached(const struct store_rows *m, const char *metric)
{
    for (size_t i = 0; i < m->nrows; i++) {
        const char *vs = sv_as_text(store_cell(m, i, 0));
        if (vs && !strcasecmp(vs, metric))
            return sv_as_text(store_cell(m, i, 1));
    }
    for (size_t i = 0; i < m->nrows; i++) {
        const char *vs = sv_as_text(store_cell(m, i, 0));
        if (vs && *metric && strcasestr(vs, metric))
            return sv_as_text(store_cell(m, i, 1));
    }
    return NULL;
}

/* Rows of a batch come in runs of the same metric: remember the last one. */
static const char *loinc_lookup(const struct store_rows *m, const char *metric,
                                const char **last_metric, const char **last_code)
{
    if (*last_metric == NULL || strcmp(*last_metric, metric)) {
        *last_metric = metric;
        *last_code = loinc_lookup_uncached(m, metric);
    }
    return *last_code;
}

/* ---- helpers -------------------------------------------------------------- */

static struct sval opt_real(unsigned present, unsigned bit, double v)
{
    return (present & bit) ? sv_real(v) : sv_null();
}

static int value_of(const struct sval *v, double *out)
{
    if (v->type == SV_REAL) {
        *out = v->d;
        return 0;
    }
    if (v->type == SV_INT) {
        *out = (double)v->i;
        return 0;
    }
    return -1;
}

/* ---- recomputation -------------------------------------------------------- */

/* The AGG_COLS parameters of one aggregate row: user, metric, period
 * columns (hour/date: 1 + duration later; week: start, end; month: year,
 * month), then the values. */
static int agg_params(struct sval *p, int64_t user, const struct vital_agg *x,
                      const struct sval *period, int nperiod, int64_t count, const char *now,
                      struct arena *a)
{
    char *src = strset_to_json(&x->sources, a);
    if (src == NULL)
        return -1;
    int np = 0;
    p[np++] = sv_int(user);
    p[np++] = sv_text(x->metric_type);
    for (int i = 0; i < nperiod; i++)
        p[np++] = period[i];
    p[np++] = sv_text(x->loinc_code);
    p[np++] = opt_real(x->present, VA_TOTAL, x->total);
    p[np++] = opt_real(x->present, VA_AVG, x->avg);
    p[np++] = opt_real(x->present, VA_MIN, x->min);
    p[np++] = opt_real(x->present, VA_MAX, x->max);
    p[np++] = sv_int(count);
    if (nperiod == 1) /* hourly and daily carry duration_minutes */
        p[np++] = opt_real(x->present, VA_DURATION, x->duration_minutes);
    p[np++] = sv_text(x->unit);
    p[np++] = sv_text(x->primary_source);
    p[np++] = sv_text(src);
    p[np++] = sv_text(now);
    p[np++] = sv_text(now);
    return 0;
}

/* Hourly and daily rows of one (user, metric, day), from its samples.
 * check_stale: a sample may have left this day (deleted, moved), so an hour
 * may have lost all its input and its row must go. */
static int recompute_day(struct store *st, int64_t user, const char *metric, mlw_day day,
                         int check_stale, const char *now, struct arena *a, struct mlw_err *err)
{
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    mlw_date_format(day, d0);
    mlw_date_format(day + 1, d1);
    struct sval scope[4] = {sv_int(user), sv_text(metric), sv_text(d0), sv_text(d1)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAY_SAMPLES, scope, 4, &r, err);
    if (rc)
        return rc;
    struct vital_sample *s = arena_calloc(a, r.nrows ? r.nrows : 1, sizeof *s);
    if (s == NULL) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        struct vital_sample *x = &s[n];
        const struct sval *sv = store_cell(&r, i, 4), *ev = store_cell(&r, i, 5);
        /* Categorized rows are written canonical by us; anything else
         * (hand edits) is skipped rather than trusted. */
        if (!sv_as_text(sv) || !sv_as_text(ev) || mlw_ts_parse(sv->s, sv->n, &x->start, NULL) ||
            mlw_ts_parse(ev->s, ev->n, &x->end, NULL) || value_of(store_cell(&r, i, 2), &x->value))
            continue;
        x->raw_id = sv_as_int(store_cell(&r, i, 0));
        x->metric_type = metric;
        x->unit = arena_strdup(a, sv_as_text(store_cell(&r, i, 3)));
        x->data_source = arena_strdup(a, sv_as_text(store_cell(&r, i, 6)));
        x->notes = arena_strdup(a, sv_as_text(store_cell(&r, i, 7)));
        x->loinc_code = arena_strdup(a, sv_as_text(store_cell(&r, i, 8)));
        if (x->unit && x->data_source)
            n++;
    }
    store_rows_free(&r);

    struct vital_agg *hourly = NULL, *daily = NULL;
    size_t nh = 0, nd = 0;
    char **keep = arena_alloc(a, (n + 1) * sizeof *keep);
    if (keep == NULL || vitals_hourly(s, n, a, &hourly, &nh) ||
        vitals_daily(hourly, nh, day, a, &daily, &nd))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    struct sval *hp = arena_alloc(a, (nh + 1) * AGG_COLS * sizeof *hp);
    if (hp == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nh; i++) {
        const struct vital_agg *h = &hourly[i];
        if ((keep[i] = arena_alloc(a, MLW_TS_LEN)) == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        mlw_ts_format(h->key, keep[i]);
        struct sval period[1] = {sv_text(keep[i])};
        if (agg_params(hp + i * AGG_COLS, user, h, period, 1, h->count, now, a))
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    if ((rc = store_exec_values(st, SQL_HOURLY_HEAD, SQL_HOURLY_TAIL, AGG_COLS, hp, nh, err)))
        return rc;
    if (check_stale) {
        qsort(keep, nh, sizeof *keep, pipeline_cmp_str);
        if ((rc = pipeline_delete_stale(st, SQL_HOURLY_SCOPE, SQL_HOURLY_DELETE, scope, 4, keep,
                                        nh, err)))
            return rc;
    }
    if (nd == 0)
        return store_exec(st, SQL_DAILY_DELETE, scope, 3, NULL, err);
    struct sval period[1] = {sv_text(d0)};
    if (agg_params(hp, user, &daily[0], period, 1, daily[0].count, now, a))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    return store_exec_values(st, SQL_DAILY_HEAD, SQL_DAILY_TAIL, AGG_COLS, hp, 1, err);
}

/* Load one metric's daily rows of [first, last] as rollup inputs. */
static int load_daily(struct store *st, int64_t user, const char *metric, mlw_day first,
                      mlw_day last, struct arena *a, struct vital_agg **out, size_t *n,
                      struct mlw_err *err)
{
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    mlw_date_format(first, d0);
    mlw_date_format(last, d1);
    struct sval p[4] = {sv_int(user), sv_text(metric), sv_text(d0), sv_text(d1)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAILY_RANGE, p, 4, &r, err);
    if (rc)
        return rc;
    struct vital_agg *rows = arena_calloc(a, r.nrows ? r.nrows : 1, sizeof *rows);
    if (rows == NULL) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        struct vital_agg *x = &rows[k];
        const struct sval *dv = store_cell(&r, i, 1);
        mlw_day day;
        if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, &day, NULL))
            continue;
        x->key = day;
        x->metric_type = metric;
        static const unsigned bits[4] = {VA_TOTAL, VA_AVG, VA_MIN, VA_MAX};
        double *vals[4] = {&x->total, &x->avg, &x->min, &x->max};
        for (int c = 0; c < 4; c++)
            if (value_of(store_cell(&r, i, 2 + c), vals[c]) == 0)
                x->present |= bits[c];
        x->count = sv_as_int(store_cell(&r, i, 6));
        x->unit = arena_strdup(a, sv_as_text(store_cell(&r, i, 7)));
        x->loinc_code = arena_strdup(a, sv_as_text(store_cell(&r, i, 8)));
        x->primary_source = arena_strdup(a, sv_as_text(store_cell(&r, i, 9)));
        if (strset_from_json(&x->sources, a, sv_as_text(store_cell(&r, i, 10)))) {
            store_rows_free(&r);
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        }
        if (x->unit)
            k++;
    }
    store_rows_free(&r);
    *out = rows;
    *n = k;
    return MLW_OK;
}

/* The weekly (monthly = 0) or monthly row of one metric from its daily rows. */
static int recompute_period(struct store *st, int64_t user, const char *metric, mlw_day first,
                            int monthly, const char *now, struct arena *a, struct mlw_err *err)
{
    mlw_day last = monthly ? mlw_month_end(first) : first + 6;
    struct vital_agg *daily = NULL, *rows = NULL;
    size_t nd = 0, nr = 0;
    int rc = load_daily(st, user, metric, first, last, a, &daily, &nd, err);
    if (rc)
        return rc;
    if (vitals_rollup(daily, nd, first, a, &rows, &nr))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    char ws[MLW_DATE_LEN], we[MLW_DATE_LEN];
    mlw_date_format(first, ws);
    mlw_date_format(last, we);
    int y, m, dd;
    mlw_civil_from_days(first, &y, &m, &dd);
    struct sval period[4] = {sv_int(user), sv_text(metric)};
    if (monthly) {
        period[2] = sv_int(y);
        period[3] = sv_int(m);
    } else {
        period[2] = sv_text(ws);
        period[3] = sv_text(we);
    }
    if (nr == 0)
        return store_exec(st, monthly ? SQL_MONTHLY_DELETE : SQL_WEEKLY_DELETE, period,
                          monthly ? 4 : 3, NULL, err);
    struct sval p[AGG_COLS];
    if (agg_params(p, user, &rows[0], period + 2, 2, rows[0].days_with_data, now, a))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    return store_exec_values(st, monthly ? SQL_MONTHLY_HEAD : SQL_WEEKLY_HEAD,
                             monthly ? SQL_MONTHLY_TAIL : SQL_WEEKLY_TAIL, AGG_COLS, p, 1, err);
}

/* ---- one raw row ---------------------------------------------------------- */

/* Validate and normalise; on failure returns -1 with why. */
static int check_row(const struct store_rows *c, size_t i, mlw_ts *start, mlw_ts *end,
                     double *value, const char **unit, char *why, size_t why_len)
{
    const struct sval *sv = store_cell(c, i, C_START), *ev = store_cell(c, i, C_END);
    const char *reason;
    char shown[64];
    if (!sv_as_text(sv) || mlw_ts_parse(sv->s, sv->n, start, &reason)) {
        pipeline_describe(sv, shown, sizeof shown);
        snprintf(why, why_len, "invalid start_date '%s': %s", shown,
                 sv_as_text(sv) ? reason : "not a timestamp");
        return -1;
    }
    if (!sv_as_text(ev) || mlw_ts_parse(ev->s, ev->n, end, &reason)) {
        pipeline_describe(ev, shown, sizeof shown);
        snprintf(why, why_len, "invalid end_date '%s': %s", shown,
                 sv_as_text(ev) ? reason : "not a timestamp");
        return -1;
    }
    if (mlw_week_start(mlw_ts_day(*start)) + 6 > MLW_DAY_MAX) {
        snprintf(why, why_len, "start_date is too late: its week would end after 9999-12-31");
        return -1;
    }
    const char *metric = sv_as_text(store_cell(c, i, C_METRIC));
    if (metric == NULL || *metric == '\0') {
        snprintf(why, why_len, "missing metric_type");
        return -1;
    }
    if (pipeline_check_text(c, i, TEXT_COLS, sizeof TEXT_COLS / sizeof TEXT_COLS[0], why,
                            why_len))
        return -1;
    if (sv_as_text(store_cell(c, i, C_SOURCE)) == NULL) {
        snprintf(why, why_len, "missing data_source");
        return -1;
    }
    double v;
    if (value_of(store_cell(c, i, C_VALUE), &v)) {
        pipeline_describe(store_cell(c, i, C_VALUE), shown, sizeof shown);
        snprintf(why, why_len, "value '%s' is not a number", shown);
        return -1;
    }
    const char *u = sv_as_text(store_cell(c, i, C_UNIT));
    enum units_result ur = units_normalize(metric, v, u ? u : "", value, unit, why, why_len);
    if (ur < 0)
        return -1;
    if (*unit == NULL || **unit == '\0') {
        snprintf(why, why_len, "missing unit");
        return -1;
    }
    return 0;
}

/* A (metric, period) whose buckets must be recomputed. */
struct touch {
    const char *metric;
    mlw_day day;    /* the day, or the first day of the week / month */
    int removed;    /* a sample left this day: stale hourly rows possible */
};

static int cmp_touch(const void *pa, const void *pb)
{
    const struct touch *a = pa, *b = pb;
    int c = strcmp(a->metric, b->metric);
    if (c)
        return c;
    return a->day < b->day ? -1 : a->day > b->day;
}

/* Sort and merge duplicates (keeping any removed flag). */
static size_t touches_unique(struct touch *t, size_t n)
{
    if (n == 0)
        return 0;
    qsort(t, n, sizeof *t, cmp_touch);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (cmp_touch(&t[k], &t[i]) == 0)
            t[k].removed |= t[i].removed;
        else
            t[++k] = t[i];
    }
    return k + 1;
}

static int vitals_group(struct store *st, const struct store_rows *c, const struct group *g,
                        struct arena *a, struct pipeline_stats *gs, struct mlw_err *err)
{
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    struct store_rows map;
    int rc = store_query(st, SQL_MAPPINGS, NULL, 0, &map, err);
    if (rc)
        return rc;
    /* Each row touches at most two (metric, day)s: where it is now and
     * where an earlier copy of it was. */
    struct touch *t = arena_alloc(a, 2 * g->n * sizeof *t);
    size_t nt = 0;
    const char *last_metric = NULL, *last_code = NULL;
    if (t == NULL) {
        store_rows_free(&map);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }

    /* Good rows: one status update and one categorized upsert for all of
     * them (few statements, few round trips). Failed rows: one by one,
     * each with its reason. */
    struct sval *ok_ids = arena_alloc(a, (g->n + 1) * sizeof *ok_ids);
    struct sval *cat = arena_alloc(a, (g->n + 1) * CAT_COLS * sizeof *cat);
    if (ok_ids == NULL || cat == NULL) {
        store_rows_free(&map);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t nok = 0;
    for (size_t k = 0; k < g->n && rc == MLW_OK; k++) {
        size_t i = g->rows[k];
        int64_t id = sv_as_int(store_cell(c, i, C_ID));
        mlw_ts start = 0, end = 0;
        double value = 0;
        const char *unit = NULL;
        char why[256] = "";
        int bad = check_row(c, i, &start, &end, &value, &unit, why, sizeof why);
        const char *metric = sv_as_text(store_cell(c, i, C_METRIC));
        const struct sval *os = store_cell(c, i, C_OLD_START);
        const char *om = sv_as_text(store_cell(c, i, C_OLD_METRIC));
        if (bad) {
            rc = pipeline_finish_row(st, "vitals_raw_data", id, "failed", why, err);
            if (rc < 0)
                break;
            rc = MLW_OK;
            gs->failed++;
            /* A failed row must not keep counting through an old copy. */
            struct sval pid[1] = {sv_int(id)};
            if (om && (rc = store_exec(st, SQL_CAT_DELETE, pid, 1, NULL, err)))
                break;
        } else {
            gs->done++;
            t[nt++] = (struct touch){metric, mlw_ts_day(start), 0};
            char *s_txt = arena_alloc(a, MLW_TS_LEN), *e_txt = arena_alloc(a, MLW_TS_LEN);
            if (s_txt == NULL || e_txt == NULL) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            mlw_ts_format(start, s_txt);
            mlw_ts_format(end, e_txt);
            struct sval row[CAT_COLS] = {
                sv_int(id), sv_int(g->user_id), sv_text(metric), sv_real(value), sv_text(unit),
                sv_text(s_txt), sv_text(e_txt), *store_cell(c, i, C_SOURCE),
                *store_cell(c, i, C_DEVICE), *store_cell(c, i, C_NOTES),
                *store_cell(c, i, C_CONFIDENCE),
                sv_text(loinc_lookup(&map, metric, &last_metric, &last_code)),
                sv_text("aggregated"), sv_text(now), *store_cell(c, i, C_CREATED), sv_text(now)};
            memcpy(cat + nok * CAT_COLS, row, sizeof row);
            ok_ids[nok++] = sv_int(id);
        }
        if (om) {
            /* An earlier copy of this row existed: if it sat in another
             * bucket, that bucket lost a sample. */
            mlw_ts ots;
            if (sv_as_text(os) && mlw_ts_parse(os->s, os->n, &ots, NULL) == 0 &&
                (bad || mlw_ts_hour(ots) != mlw_ts_hour(start) || strcmp(om, metric))) {
                char *m = arena_strdup(a, om);
                if (m == NULL)
                    rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                else
                    t[nt++] = (struct touch){m, mlw_ts_day(ots), 1};
            }
        }
    }
    if (rc == MLW_OK && nok) {
        struct sval fixed[2] = {sv_text(now), sv_text(now)};
        if ((rc = store_exec_in(st, SQL_FINISH_OK, fixed, 2, ok_ids, nok, err)) == MLW_OK)
            rc = store_exec_values(st, SQL_CAT_HEAD, SQL_CAT_TAIL, CAT_COLS, cat, nok, err);
    }
    store_rows_free(&map);
    if (rc)
        return rc;

    /* Recompute each touched (metric, day), then each (metric, week) and
     * (metric, month) once. */
    nt = touches_unique(t, nt);
    struct touch *w = arena_alloc(a, 2 * (nt + 1) * sizeof *w);
    if (w == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    struct touch *mo = w + nt + 1;
    for (size_t i = 0; i < nt; i++) {
        w[i] = (struct touch){t[i].metric, mlw_week_start(t[i].day), 0};
        mo[i] = (struct touch){t[i].metric, mlw_month_start(t[i].day), 0};
        if ((rc = recompute_day(st, g->user_id, t[i].metric, t[i].day, t[i].removed, now, a, err)))
            return rc; /* the caller rolls back the whole batch */
    }
    size_t nw = touches_unique(w, nt), nm = touches_unique(mo, nt);
    for (size_t i = 0; i < nw && rc == MLW_OK; i++)
        rc = recompute_period(st, g->user_id, w[i].metric, w[i].day, 0, now, a, err);
    for (size_t i = 0; i < nm && rc == MLW_OK; i++)
        rc = recompute_period(st, g->user_id, mo[i].metric, mo[i].day, 1, now, a, err);
    return rc;
}

const struct domain_ops vitals_domain = {
    .name = "vitals",
    .table = "vitals_raw_data",
    .select_sql = SELECT_HEAD SELECT_TAIL,
    .select_user_sql = SELECT_HEAD " AND r.user_id=?" SELECT_TAIL,
    .process_group = vitals_group,
};

/* ---- operator tools (src/ops/): the same steps, one at a time ---------------- */

const char vitals_job_row_cols[] = ROW_COLS;
const char vitals_job_row_from[] = ROW_FROM;

int vitals_job_check_row(const struct store_rows *c, size_t i, mlw_ts *start, mlw_ts *end,
                         double *value, const char **unit, char *why, size_t why_len)
{
    return check_row(c, i, start, end, value, unit, why, why_len);
}

int vitals_job_load_mappings(struct store *st, struct store_rows *map, struct mlw_err *err)
{
    return store_query(st, SQL_MAPPINGS, NULL, 0, map, err);
}

const char *vitals_job_loinc(const struct store_rows *map, const char *metric)
{
    return loinc_lookup_uncached(map, metric);
}

int vitals_job_recompute(struct store *st, int64_t user, const char *metric, mlw_day day,
                         struct arena *a, struct mlw_err *err)
{
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    int rc = recompute_day(st, user, metric, day, 1, now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, user, metric, mlw_week_start(day), 0, now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, user, metric, mlw_month_start(day), 1, now, a, err);
    return rc;
}
