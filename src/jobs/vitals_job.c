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

/* Claim result columns. */
enum { C_ID, C_USER, C_START, C_METRIC, C_VALUE, C_UNIT, C_END, C_SOURCE, C_DEVICE, C_NOTES,
       C_CONFIDENCE, C_CREATED };

#define CLAIM_HEAD                                                                               \
    "UPDATE vitals_raw_data SET aggregation_status='processing', claimed_by=?, claimed_at=?,"   \
    " updated_at=? WHERE id IN (SELECT id FROM vitals_raw_data"                          \
    " WHERE aggregation_status='pending'"
#define CLAIM_TAIL                                                                               \
    " ORDER BY created_at, id LIMIT ?) RETURNING id, user_id, start_date, metric_type, value,"   \
    " unit, end_date, data_source, source_device, notes, confidence_score, created_at"

static const char SQL_CAT_OLD[] =
    "SELECT start_date FROM vitals_raw_categorized WHERE raw_id=?";
static const char SQL_CAT_DELETE[] =
    "DELETE FROM vitals_raw_categorized WHERE raw_id=? RETURNING start_date";
static const char SQL_CAT_UPSERT[] =
    "INSERT INTO vitals_raw_categorized (raw_id, user_id, metric_type, value, unit, start_date,"
    " end_date, data_source, source_device, notes, confidence_score, loinc_code,"
    " aggregation_status, aggregated_at, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'aggregated', ?, ?, ?)"
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
    " loinc_code FROM vitals_raw_categorized WHERE user_id=? AND start_date>=? AND start_date<?";

static const char SQL_HOURLY_UPSERT[] =
    "INSERT INTO vitals_hourly_aggregates (user_id, metric_type, hour_start, loinc_code,"
    " total_value, average_value, min_value, max_value, count, duration_minutes, unit,"
    " primary_source, sources_included, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, metric_type, hour_start) DO UPDATE SET"
    " loinc_code=excluded.loinc_code, total_value=excluded.total_value,"
    " average_value=excluded.average_value, min_value=excluded.min_value,"
    " max_value=excluded.max_value, count=excluded.count,"
    " duration_minutes=excluded.duration_minutes, unit=excluded.unit,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_HOURLY_SCOPE[] =
    "SELECT id, metric_type || char(31) || hour_start FROM vitals_hourly_aggregates"
    " WHERE user_id=? AND hour_start>=? AND hour_start<?";
static const char SQL_HOURLY_DELETE[] = "DELETE FROM vitals_hourly_aggregates WHERE id=?";

static const char SQL_DAILY_UPSERT[] =
    "INSERT INTO vitals_daily_aggregates (user_id, metric_type, date, loinc_code, total_value,"
    " average_value, min_value, max_value, count, duration_minutes, unit, primary_source,"
    " sources_included, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, metric_type, date) DO UPDATE SET"
    " loinc_code=excluded.loinc_code, total_value=excluded.total_value,"
    " average_value=excluded.average_value, min_value=excluded.min_value,"
    " max_value=excluded.max_value, count=excluded.count,"
    " duration_minutes=excluded.duration_minutes, unit=excluded.unit,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_DAILY_SCOPE[] =
    "SELECT id, metric_type FROM vitals_daily_aggregates WHERE user_id=? AND date=?";
static const char SQL_DAILY_DELETE[] = "DELETE FROM vitals_daily_aggregates WHERE id=?";
static const char SQL_DAILY_RANGE[] =
    "SELECT metric_type, date, total_value, average_value, min_value, max_value, count, unit,"
    " loinc_code, primary_source, sources_included FROM vitals_daily_aggregates"
    " WHERE user_id=? AND date>=? AND date<=?";

static const char SQL_WEEKLY_UPSERT[] =
    "INSERT INTO vitals_weekly_aggregates (user_id, metric_type, week_start_date, week_end_date,"
    " loinc_code, total_value, average_value, min_value, max_value, days_with_data, unit,"
    " primary_source, sources_included, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, metric_type, week_start_date) DO UPDATE SET"
    " week_end_date=excluded.week_end_date, loinc_code=excluded.loinc_code,"
    " total_value=excluded.total_value, average_value=excluded.average_value,"
    " min_value=excluded.min_value, max_value=excluded.max_value,"
    " days_with_data=excluded.days_with_data, unit=excluded.unit,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_WEEKLY_SCOPE[] =
    "SELECT id, metric_type FROM vitals_weekly_aggregates WHERE user_id=? AND week_start_date=?";
static const char SQL_WEEKLY_DELETE[] = "DELETE FROM vitals_weekly_aggregates WHERE id=?";

static const char SQL_MONTHLY_UPSERT[] =
    "INSERT INTO vitals_monthly_aggregates (user_id, metric_type, year, month, loinc_code,"
    " total_value, average_value, min_value, max_value, days_with_data, unit, primary_source,"
    " sources_included, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, metric_type, year, month) DO UPDATE SET"
    " loinc_code=excluded.loinc_code, total_value=excluded.total_value,"
    " average_value=excluded.average_value, min_value=excluded.min_value,"
    " max_value=excluded.max_value, days_with_data=excluded.days_with_data,"
    " unit=excluded.unit, primary_source=excluded.primary_source,"
    " sources_included=excluded.sources_included, updated_at=excluded.updated_at";
static const char SQL_MONTHLY_SCOPE[] =
    "SELECT id, metric_type FROM vitals_monthly_aggregates WHERE user_id=? AND year=? AND month=?";
static const char SQL_MONTHLY_DELETE[] = "DELETE FROM vitals_monthly_aggregates WHERE id=?";

/* ---- LOINC for vitals: first vitals_mappings match ---------------------- */

struct loinc_map {
    struct store_rows rows;
};

/* Exact (case-insensitive) name first, else the first row in seed order
 * whose vital_sign contains the metric name (case-insensitive). */
static const char *loinc_lookup(const struct store_rows *m, const char *metric)
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

/* Set of days (small; linear). */
struct dayset {
    mlw_day *d; /* capacity: one per row of the group, plus the group's day */
    size_t n;
};

static void dayset_add(struct dayset *s, mlw_day d)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->d[i] == d)
            return;
    s->d[s->n++] = d;
}

static void add_old_day(struct dayset *s, const struct sval *old)
{
    mlw_ts ts;
    const char *t = sv_as_text(old);
    if (t && mlw_ts_parse(t, old->n, &ts, NULL) == 0)
        dayset_add(s, mlw_ts_day(ts));
}

/* ---- recomputation -------------------------------------------------------- */

static int write_rows(struct store *st, const char *upsert, struct sval *p, int np,
                      struct mlw_err *err)
{
    return store_exec(st, upsert, p, np, NULL, err);
}

static int recompute_day(struct store *st, int64_t user, mlw_day day, const char *now,
                         struct arena *a, struct mlw_err *err)
{
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    mlw_date_format(day, d0);
    mlw_date_format(day + 1, d1);
    struct sval scope[3] = {sv_int(user), sv_text(d0), sv_text(d1)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAY_SAMPLES, scope, 3, &r, err);
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
        const struct sval *st_ = store_cell(&r, i, 4), *en = store_cell(&r, i, 5);
        const char *st_txt = sv_as_text(st_), *en_txt = sv_as_text(en);
        /* Categorized rows are written canonical by us; anything else
         * (hand edits) is skipped rather than trusted. */
        if (!st_txt || !en_txt || mlw_ts_parse(st_txt, st_->n, &x->start, NULL) ||
            mlw_ts_parse(en_txt, en->n, &x->end, NULL) || value_of(store_cell(&r, i, 2), &x->value))
            continue;
        x->raw_id = sv_as_int(store_cell(&r, i, 0));
        x->metric_type = arena_strdup(a, sv_as_text(store_cell(&r, i, 1)));
        x->unit = arena_strdup(a, sv_as_text(store_cell(&r, i, 3)));
        x->data_source = arena_strdup(a, sv_as_text(store_cell(&r, i, 6)));
        x->notes = arena_strdup(a, sv_as_text(store_cell(&r, i, 7)));
        x->loinc_code = arena_strdup(a, sv_as_text(store_cell(&r, i, 8)));
        if (!x->metric_type || !x->unit || !x->data_source)
            continue;
        n++;
    }
    store_rows_free(&r);

    struct vital_agg *hourly = NULL, *daily = NULL;
    size_t nh = 0, nd = 0;
    if (vitals_hourly(s, n, a, &hourly, &nh) || vitals_daily(hourly, nh, day, a, &daily, &nd))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");

    char **keep = arena_alloc(a, (nh + 1) * sizeof *keep);
    if (keep == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nh; i++) {
        const struct vital_agg *h = &hourly[i];
        char hour[MLW_TS_LEN];
        mlw_ts_format(h->key, hour);
        char *src = strset_to_json(&h->sources, a);
        size_t ml = strlen(h->metric_type);
        keep[i] = arena_alloc(a, ml + MLW_TS_LEN + 2);
        if (src == NULL || keep[i] == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        snprintf(keep[i], ml + MLW_TS_LEN + 2, "%s\x1f%s", h->metric_type, hour);
        struct sval p[15] = {sv_int(user), sv_text(h->metric_type), sv_text(hour),
                             sv_text(h->loinc_code), opt_real(h->present, VA_TOTAL, h->total),
                             opt_real(h->present, VA_AVG, h->avg),
                             opt_real(h->present, VA_MIN, h->min),
                             opt_real(h->present, VA_MAX, h->max), sv_int(h->count),
                             opt_real(h->present, VA_DURATION, h->duration_minutes),
                             sv_text(h->unit), sv_text(h->primary_source), sv_text(src),
                             sv_text(now), sv_text(now)};
        if ((rc = write_rows(st, SQL_HOURLY_UPSERT, p, 15, err)))
            return rc;
    }
    qsort(keep, nh, sizeof *keep, pipeline_cmp_str);
    if ((rc = pipeline_delete_stale(st, SQL_HOURLY_SCOPE, SQL_HOURLY_DELETE, scope, 3, keep, nh, err)))
        return rc;

    char **dkeep = arena_alloc(a, (nd + 1) * sizeof *dkeep);
    if (dkeep == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nd; i++) {
        const struct vital_agg *d = &daily[i];
        char *src = strset_to_json(&d->sources, a);
        if (src == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        dkeep[i] = (char *)d->metric_type;
        struct sval p[15] = {sv_int(user), sv_text(d->metric_type), sv_text(d0),
                             sv_text(d->loinc_code), opt_real(d->present, VA_TOTAL, d->total),
                             opt_real(d->present, VA_AVG, d->avg),
                             opt_real(d->present, VA_MIN, d->min),
                             opt_real(d->present, VA_MAX, d->max), sv_int(d->count),
                             opt_real(d->present, VA_DURATION, d->duration_minutes),
                             sv_text(d->unit), sv_text(d->primary_source), sv_text(src),
                             sv_text(now), sv_text(now)};
        if ((rc = write_rows(st, SQL_DAILY_UPSERT, p, 15, err)))
            return rc;
    }
    qsort(dkeep, nd, sizeof *dkeep, pipeline_cmp_str);
    struct sval dscope[2] = {sv_int(user), sv_text(d0)};
    return pipeline_delete_stale(st, SQL_DAILY_SCOPE, SQL_DAILY_DELETE, dscope, 2, dkeep, nd, err);
}

/* Load daily rows of [first, last] as vital_agg inputs for a rollup. */
static int load_daily(struct store *st, int64_t user, mlw_day first, mlw_day last,
                      struct arena *a, struct vital_agg **out, size_t *n, struct mlw_err *err)
{
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    mlw_date_format(first, d0);
    mlw_date_format(last, d1);
    struct sval p[3] = {sv_int(user), sv_text(d0), sv_text(d1)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAILY_RANGE, p, 3, &r, err);
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
        x->metric_type = arena_strdup(a, sv_as_text(store_cell(&r, i, 0)));
        static const unsigned bits[4] = {VA_TOTAL, VA_AVG, VA_MIN, VA_MAX};
        double *vals[4] = {&x->total, &x->avg, &x->min, &x->max};
        for (int c = 0; c < 4; c++)
            if (value_of(store_cell(&r, i, 2 + c), vals[c]) == 0)
                x->present |= bits[c];
        x->count = sv_as_int(store_cell(&r, i, 6));
        x->unit = arena_strdup(a, sv_as_text(store_cell(&r, i, 7)));
        x->loinc_code = arena_strdup(a, sv_as_text(store_cell(&r, i, 8)));
        x->primary_source = arena_strdup(a, sv_as_text(store_cell(&r, i, 9)));
        if (!x->metric_type || !x->unit ||
            strset_from_json(&x->sources, a, sv_as_text(store_cell(&r, i, 10)))) {
            store_rows_free(&r);
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        }
        k++;
    }
    store_rows_free(&r);
    *out = rows;
    *n = k;
    return MLW_OK;
}

static int recompute_period(struct store *st, int64_t user, mlw_day first, int monthly,
                            const char *now, struct arena *a, struct mlw_err *err)
{
    mlw_day last = monthly ? mlw_month_end(first) : first + 6;
    struct vital_agg *daily = NULL, *rows = NULL;
    size_t nd = 0, nr = 0;
    int rc = load_daily(st, user, first, last, a, &daily, &nd, err);
    if (rc)
        return rc;
    if (vitals_rollup(daily, nd, first, a, &rows, &nr))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    char ws[MLW_DATE_LEN], we[MLW_DATE_LEN];
    mlw_date_format(first, ws);
    mlw_date_format(last, we);
    int y, m, dd;
    mlw_civil_from_days(first, &y, &m, &dd);
    char **keep = arena_alloc(a, (nr + 1) * sizeof *keep);
    if (keep == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nr; i++) {
        const struct vital_agg *x = &rows[i];
        char *src = strset_to_json(&x->sources, a);
        if (src == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        keep[i] = (char *)x->metric_type;
        struct sval p[15];
        int np = 0;
        p[np++] = sv_int(user);
        p[np++] = sv_text(x->metric_type);
        if (monthly) {
            p[np++] = sv_int(y);
            p[np++] = sv_int(m);
        } else {
            p[np++] = sv_text(ws);
            p[np++] = sv_text(we);
        }
        p[np++] = sv_text(x->loinc_code);
        p[np++] = opt_real(x->present, VA_TOTAL, x->total);
        p[np++] = opt_real(x->present, VA_AVG, x->avg);
        p[np++] = opt_real(x->present, VA_MIN, x->min);
        p[np++] = opt_real(x->present, VA_MAX, x->max);
        p[np++] = sv_int(x->days_with_data);
        p[np++] = sv_text(x->unit);
        p[np++] = sv_text(x->primary_source);
        p[np++] = sv_text(src);
        p[np++] = sv_text(now);
        p[np++] = sv_text(now);
        if ((rc = write_rows(st, monthly ? SQL_MONTHLY_UPSERT : SQL_WEEKLY_UPSERT, p, np, err)))
            return rc;
    }
    qsort(keep, nr, sizeof *keep, pipeline_cmp_str);
    if (monthly) {
        struct sval scope[3] = {sv_int(user), sv_int(y), sv_int(m)};
        return pipeline_delete_stale(st, SQL_MONTHLY_SCOPE, SQL_MONTHLY_DELETE, scope, 3, keep, nr, err);
    }
    struct sval scope[2] = {sv_int(user), sv_text(ws)};
    return pipeline_delete_stale(st, SQL_WEEKLY_SCOPE, SQL_WEEKLY_DELETE, scope, 2, keep, nr, err);
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

static int vitals_group(struct store *st, const struct store_rows *c, const struct group *g,
                        struct arena *a, struct pipeline_stats *gs, struct mlw_err *err)
{
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    struct store_rows map;
    int rc = store_query(st, SQL_MAPPINGS, NULL, 0, &map, err);
    if (rc)
        return rc;
    struct dayset days = {arena_alloc(a, (g->n + 1) * sizeof(mlw_day)), 0};
    struct dayset weeks = {arena_alloc(a, (g->n + 1) * sizeof(mlw_day)), 0};
    struct dayset months = {arena_alloc(a, (g->n + 1) * sizeof(mlw_day)), 0};
    if (!days.d || !weeks.d || !months.d) {
        store_rows_free(&map);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    if (g->day != DAY_INVALID)
        dayset_add(&days, g->day);

    for (size_t k = 0; k < g->n && rc == MLW_OK; k++) {
        size_t i = g->rows[k];
        int64_t id = sv_as_int(store_cell(c, i, C_ID));
        mlw_ts start = 0, end = 0;
        double value = 0;
        const char *unit = NULL;
        char why[256] = "";
        int bad = check_row(c, i, &start, &end, &value, &unit, why, sizeof why);
        rc = pipeline_finish_row(st, "vitals_raw_data", id, bad ? "failed" : "categorized",
                                 bad ? why : NULL, err);
        if (rc < 0)
            break;
        if (rc == 0) { /* claim lost: someone else owns this row now */
            gs->skipped++;
            continue;
        }
        rc = MLW_OK;
        struct sval pid[1] = {sv_int(id)};
        struct store_rows old;
        if (bad) {
            gs->failed++;
            /* A failed row must not keep counting through an old copy. */
            if ((rc = store_query(st, SQL_CAT_DELETE, pid, 1, &old, err)))
                break;
        } else {
            gs->done++;
            if ((rc = store_query(st, SQL_CAT_OLD, pid, 1, &old, err)))
                break;
            char s_txt[MLW_TS_LEN], e_txt[MLW_TS_LEN];
            mlw_ts_format(start, s_txt);
            mlw_ts_format(end, e_txt);
            const char *metric = sv_as_text(store_cell(c, i, C_METRIC));
            struct sval p[15] = {sv_int(id), sv_int(g->user_id), sv_text(metric), sv_real(value),
                                 sv_text(unit), sv_text(s_txt), sv_text(e_txt),
                                 *store_cell(c, i, C_SOURCE), *store_cell(c, i, C_DEVICE),
                                 *store_cell(c, i, C_NOTES), *store_cell(c, i, C_CONFIDENCE),
                                 sv_text(loinc_lookup(&map, metric)), sv_text(now),
                                 *store_cell(c, i, C_CREATED), sv_text(now)};
            rc = store_exec(st, SQL_CAT_UPSERT, p, 15, NULL, err);
        }
        if (old.nrows)
            add_old_day(&days, store_cell(&old, 0, 0));
        store_rows_free(&old);
    }
    store_rows_free(&map);
    if (rc)
        return rc;

    /* Recompute each touched day, then each touched week and month once. */
    for (size_t i = 0; i < days.n && rc == MLW_OK; i++) {
        rc = recompute_day(st, g->user_id, days.d[i], now, a, err);
        dayset_add(&weeks, mlw_week_start(days.d[i]));
        dayset_add(&months, mlw_month_start(days.d[i]));
    }
    for (size_t i = 0; i < weeks.n && rc == MLW_OK; i++)
        rc = recompute_period(st, g->user_id, weeks.d[i], 0, now, a, err);
    for (size_t i = 0; i < months.n && rc == MLW_OK; i++)
        rc = recompute_period(st, g->user_id, months.d[i], 1, now, a, err);
    return rc;
}

const struct domain_ops vitals_domain = {
    .name = "vitals",
    .table = "vitals_raw_data",
    .claim_sql = CLAIM_HEAD CLAIM_TAIL,
    .claim_user_sql = CLAIM_HEAD " AND user_id=?" CLAIM_TAIL,
    .date_col = C_START,
    .date_is_timestamp = 1,
    .process_group = vitals_group,
};
