/*
 * cmd_report.c - `mlworker report --user ID [--from DATE] [--to DATE] --out FILE`.
 *
 * Reads one user's stored aggregates (never raw rows for charts) at the
 * level the range calls for (daily up to 400 days, weekly up to 5 years,
 * monthly beyond; labs daily up to 400 days, monthly beyond), the processing
 * status of the user's raw rows (counts and the most frequent failure
 * reasons), fills struct report_data, renders it (src/report/report.c) and
 * writes the file through a temporary file and rename(), so a reader never
 * sees half a report.
 */
#include "cli/cmd_report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/config.h"
#include "core/timeutil.h"
#include "jobs/labs_job.h"

#define REPORT_TOP_REASONS 20

/* ---- values ---- */

static double num(const struct sval *v)
{
    switch (v->type) {
    case SV_REAL: return v->d;
    case SV_INT: return (double)v->i;
    case SV_TEXT: {
        /* lab values are text: a number only when the whole text is one */
        const char *s = sv_as_text(v);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno == ERANGE)
            return NAN;
        while (*end == ' ')
            end++;
        return *end == '\0' && isfinite(d) ? d : NAN;
    }
    default: return NAN;
    }
}

static char *dup_text(const struct sval *v)
{
    const char *s = sv_as_text(v);
    return s ? strdup(s) : NULL;
}

/* The first day of the row's period: column c holds a date (daily, weekly),
 * or columns c, c+1 a year and a month (monthly). -1 if unreadable. */
static int32_t row_day(const struct store_rows *r, size_t i, int c, int monthly)
{
    if (monthly) {
        int64_t y = sv_as_int(store_cell(r, i, c)), m = sv_as_int(store_cell(r, i, c + 1));
        if (y < 1 || y > 9999 || m < 1 || m > 12)
            return -1;
        return mlw_days_from_civil((int)y, (int)m, 1);
    }
    const char *s = sv_as_text(store_cell(r, i, c));
    mlw_day d;
    if (s == NULL || strlen(s) < 10 || mlw_date_parse(s, 10, &d, NULL) != 0)
        return -1;
    return d;
}

static int64_t month_index(int32_t day)
{
    int y, m, d;
    mlw_civil_from_days(day, &y, &m, &d);
    return (int64_t)y * 12 + m - 1;
}

/* Range parameters for a query at `level`: two dates, or two month indexes. */
struct qrange {
    char a[MLW_DATE_LEN], b[MLW_DATE_LEN];
    struct sval pa, pb;
};

static void qrange_init(struct qrange *q, enum report_level level, int32_t from, int32_t to)
{
    if (level == REPORT_MONTHLY) {
        q->pa = sv_int(month_index(from));
        q->pb = sv_int(month_index(to));
    } else {
        mlw_date_format(report_period_start(level, from), q->a);
        mlw_date_format(to, q->b);
        q->pa = sv_text(q->a);
        q->pb = sv_text(q->b);
    }
}

/* ---- vitals ---- */

enum vkind { VK_MEAN, VK_MEAN_BAND, VK_TOTAL_PER_DAY };

static int load_vitals(struct store *st, int64_t user, const char *metric, enum report_level lvl,
                       int32_t from, int32_t to, enum vkind kind, struct report_series *out,
                       struct mlw_err *err)
{
    static const char *const SQL[] = {
        "SELECT date, 0, average_value, min_value, max_value, total_value, 1"
        " FROM vitals_daily_aggregates WHERE user_id = ? AND metric_type = ?"
        " AND date BETWEEN ? AND ? ORDER BY date",
        "SELECT week_start_date, 0, average_value, min_value, max_value, total_value,"
        " days_with_data FROM vitals_weekly_aggregates WHERE user_id = ? AND metric_type = ?"
        " AND week_start_date BETWEEN ? AND ? ORDER BY week_start_date",
        "SELECT year, month, average_value, min_value, max_value, total_value, days_with_data"
        " FROM vitals_monthly_aggregates WHERE user_id = ? AND metric_type = ?"
        " AND year * 12 + month - 1 BETWEEN ? AND ? ORDER BY year, month"};
    struct qrange q;
    qrange_init(&q, lvl, from, to);
    struct sval p[4] = {sv_int(user), sv_text(metric), q.pa, q.pb};
    struct store_rows r;
    int rc = store_query(st, SQL[lvl], p, 4, &r, err);
    if (rc)
        return rc;
    out->n = 0;
    out->p = r.nrows ? calloc(r.nrows, sizeof *out->p) : NULL;
    if (r.nrows && out->p == NULL) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r.nrows; i++) {
        int32_t day = row_day(&r, i, 0, lvl == REPORT_MONTHLY);
        if (day < 0)
            continue;
        struct report_point pt = {.day = day, .v = NAN, .lo = NAN, .hi = NAN};
        if (kind == VK_TOTAL_PER_DAY) {
            double days = num(store_cell(&r, i, 6));
            pt.v = num(store_cell(&r, i, 5));
            if (lvl != REPORT_DAILY)
                pt.v = days > 0 ? pt.v / days : NAN;
        } else {
            pt.v = num(store_cell(&r, i, 2));
            if (kind == VK_MEAN_BAND) {
                pt.lo = num(store_cell(&r, i, 3));
                pt.hi = num(store_cell(&r, i, 4));
            }
        }
        if (isfinite(pt.v))
            out->p[out->n++] = pt;
    }
    store_rows_free(&r);
    return MLW_OK;
}

/* ---- nutrition ---- */

static int load_nutrition(struct store *st, int64_t user, enum report_level lvl, int32_t from,
                          int32_t to, struct report_data *d, struct mlw_err *err)
{
    static const char *const SQL[] = {
        "SELECT date, 0, total_calories, total_protein_g, total_carbs_g, total_fat_g, 1"
        " FROM nutrition_daily_aggregates WHERE user_id = ? AND date BETWEEN ? AND ? ORDER BY date",
        "SELECT week_start_date, 0, avg_daily_calories, avg_daily_protein_g, avg_daily_carbs_g,"
        " avg_daily_fat_g, days_with_data FROM nutrition_weekly_aggregates WHERE user_id = ?"
        " AND week_start_date BETWEEN ? AND ? ORDER BY week_start_date",
        "SELECT year, month, avg_daily_calories, avg_daily_protein_g, avg_daily_carbs_g,"
        " avg_daily_fat_g, days_with_data FROM nutrition_monthly_aggregates WHERE user_id = ?"
        " AND year * 12 + month - 1 BETWEEN ? AND ? ORDER BY year, month"};
    /* The weekly and monthly tables keep no per-meal-type calories: those
     * come from the daily aggregates of the period (sum / days with data). */
    static const char MEALS[] =
        "SELECT date, breakfast_calories, lunch_calories, dinner_calories, snack_calories"
        " FROM nutrition_daily_aggregates WHERE user_id = ? AND date BETWEEN ? AND ? ORDER BY date";
    struct qrange q;
    qrange_init(&q, lvl, from, to);
    struct sval p[3] = {sv_int(user), q.pa, q.pb};
    struct store_rows r, m;
    int rc = store_query(st, SQL[lvl], p, 3, &r, err);
    if (rc)
        return rc;
    char a[MLW_DATE_LEN], b[MLW_DATE_LEN];
    mlw_date_format(report_period_start(lvl, from), a);
    mlw_date_format(report_period_start(lvl, to) + report_period_days(lvl, report_period_start(lvl, to)) - 1, b);
    struct sval pm[3] = {sv_int(user), sv_text(a), sv_text(b)};
    rc = store_query(st, MEALS, pm, 3, &m, err);
    if (rc) {
        store_rows_free(&r);
        return rc;
    }
    d->nmeals = 0;
    d->meals = r.nrows ? calloc(r.nrows, sizeof *d->meals) : NULL;
    if (r.nrows && d->meals == NULL) {
        store_rows_free(&r);
        store_rows_free(&m);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t j = 0; /* next daily meal row (both lists are in date order) */
    for (size_t i = 0; i < r.nrows; i++) {
        int32_t day = row_day(&r, i, 0, lvl == REPORT_MONTHLY);
        if (day < 0)
            continue;
        int32_t end = day + report_period_days(lvl, day);
        double days = num(store_cell(&r, i, 6)), sum[4] = {0, 0, 0, 0};
        for (; j < m.nrows; j++) {
            int32_t md = row_day(&m, j, 0, 0);
            if (md >= end)
                break;
            if (md < day)
                continue;
            for (int k = 0; k < 4; k++) {
                double v = num(store_cell(&m, j, 1 + k));
                if (isfinite(v))
                    sum[k] += v;
            }
        }
        struct report_meal_point *mp = &d->meals[d->nmeals];
        mp->day = day;
        double total = num(store_cell(&r, i, 2)), parts = 0;
        for (int k = 0; k < 4; k++) {
            mp->kcal[k] = days > 0 ? sum[k] / days : 0;
            parts += mp->kcal[k];
        }
        /* meal types other than the four (e.g. "other") count only in the total */
        mp->kcal[MEAL_OTHER] = isfinite(total) && total - parts > 0.5 ? total - parts : 0;
        mp->protein_g = num(store_cell(&r, i, 3));
        mp->carbs_g = num(store_cell(&r, i, 4));
        mp->fat_g = num(store_cell(&r, i, 5));
        d->nmeals++;
    }
    store_rows_free(&r);
    store_rows_free(&m);
    return MLW_OK;
}

/* ---- labs ---- */

static enum report_lab_flag lab_flag(const char *s)
{
    if (s == NULL)
        return LAB_FLAG_UNKNOWN;
    if (!strcmp(s, "green"))
        return LAB_FLAG_GREEN;
    if (!strcmp(s, "amber"))
        return LAB_FLAG_AMBER;
    if (!strcmp(s, "red"))
        return LAB_FLAG_RED;
    return LAB_FLAG_UNKNOWN;
}

static int lab_cmp(const void *a, const void *b)
{
    const struct report_lab *x = a, *y = b;
    int c = strcmp(x->category ? x->category : "", y->category ? y->category : "");
    return c ? c : strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* Ties in a LIMITed ORDER BY are broken by text in byte (code point) order
 * on both databases: SQLite's BINARY, PostgreSQL's "C" (a database's own
 * collation, e.g. en_US, would choose other rows than SQLite does). */
#define BIN_SQLITE ""
#define BIN_PG " COLLATE \"C\""

/* Labs: the REPORT_MAX_LABS tests with the most periods in the range (ties
 * by category, LOINC, code), all their rows in one query, grouped here. */
#define LAB_KEY "test_category, COALESCE(loinc_code, ''), COALESCE(test_code, '')"
#define LAB_TOP(table, range, bin)                                                             \
    "SELECT test_category AS c, COALESCE(loinc_code, '') AS l, COALESCE(test_code, '') AS t"  \
    " FROM " table " WHERE user_id = ? AND " range " GROUP BY " LAB_KEY                       \
    " ORDER BY count(*) DESC, test_category" bin ", COALESCE(loinc_code, '')" bin              \
    ", COALESCE(test_code, '')" bin " LIMIT 60"
#define LAB_ROWS_DAILY(bin)                                                                    \
    "SELECT r.date, 0, r.test_name, r.avg_value, r.unit, r.normal_range_min,"                 \
    " r.normal_range_max, r.status, r.loinc_code, g.c, g.l, g.t FROM lab_reports_daily r"     \
    " JOIN (" LAB_TOP("lab_reports_daily", LAB_DAILY_RANGE, bin) ") g"                         \
    " ON r.test_category = g.c AND COALESCE(r.loinc_code, '') = g.l"                           \
    " AND COALESCE(r.test_code, '') = g.t"                                                     \
    " WHERE r.user_id = ? AND r.date BETWEEN ? AND ? ORDER BY g.c, g.l, g.t, r.date"
#define LAB_ROWS_MONTHLY(bin)                                                                  \
    "SELECT r.year, r.month, r.test_name, r.avg_value, r.unit, r.normal_range_min,"           \
    " r.normal_range_max, r.status, r.loinc_code, g.c, g.l, g.t FROM lab_reports_monthly r"   \
    " JOIN (" LAB_TOP("lab_reports_monthly", LAB_MONTHLY_RANGE, bin) ") g"                     \
    " ON r.test_category = g.c AND COALESCE(r.loinc_code, '') = g.l"                           \
    " AND COALESCE(r.test_code, '') = g.t WHERE r.user_id = ?"                                 \
    " AND r.year * 12 + r.month - 1 BETWEEN ? AND ? ORDER BY g.c, g.l, g.t, r.year, r.month"
#define LAB_DAILY_RANGE "date BETWEEN ? AND ?"
#define LAB_MONTHLY_RANGE "year * 12 + month - 1 BETWEEN ? AND ?"

static int load_labs(struct store *st, int64_t user, enum report_level lvl, int32_t from,
                     int32_t to, struct report_data *d, struct mlw_err *err)
{
    _Static_assert(REPORT_MAX_LABS == 60, "the LIMIT in LAB_TOP");
    static const char *const COUNT[] = {
        "SELECT count(*) FROM (SELECT 1 FROM lab_reports_daily WHERE user_id = ? AND "
        LAB_DAILY_RANGE " GROUP BY " LAB_KEY ") g",
        NULL,
        "SELECT count(*) FROM (SELECT 1 FROM lab_reports_monthly WHERE user_id = ? AND "
        LAB_MONTHLY_RANGE " GROUP BY " LAB_KEY ") g"};
    static const char *const ROWS[2][3] = {
        {LAB_ROWS_DAILY(BIN_SQLITE), NULL, LAB_ROWS_MONTHLY(BIN_SQLITE)},
        {LAB_ROWS_DAILY(BIN_PG), NULL, LAB_ROWS_MONTHLY(BIN_PG)}};
    struct qrange q;
    qrange_init(&q, lvl, from, to);
    struct sval p[6] = {sv_int(user), q.pa, q.pb, sv_int(user), q.pa, q.pb};
    int64_t ngroups = 0;
    struct store_rows r;
    int rc = store_query(st, COUNT[lvl], p, 3, &r, err);
    if (rc)
        return rc;
    ngroups = r.nrows ? sv_as_int(store_cell(&r, 0, 0)) : 0;
    store_rows_free(&r);
    if (ngroups == 0)
        return MLW_OK;
    rc = store_query(st, ROWS[st->dialect == DB_POSTGRES][lvl], p, 6, &r, err);
    if (rc)
        return rc;
    size_t cap = ngroups < REPORT_MAX_LABS ? (size_t)ngroups : REPORT_MAX_LABS;
    d->labs = calloc(cap, sizeof *d->labs);
    struct report_lab_point *pts = r.nrows ? calloc(r.nrows, sizeof *pts) : NULL;
    if (d->labs == NULL || (r.nrows && pts == NULL)) {
        free(pts);
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    struct report_lab *l = NULL;
    size_t begin = 0; /* first point of the current test in pts */
    for (size_t i = 0; i < r.nrows; i++) {
        int new_group = l == NULL;
        for (int c = 9; c < 12 && !new_group; c++) {
            const char *x = sv_as_text(store_cell(&r, i, c)), *y = sv_as_text(store_cell(&r, i - 1, c));
            new_group = strcmp(x ? x : "", y ? y : "") != 0;
        }
        if (new_group) {
            if (d->nlabs == cap)
                break; /* cannot happen: LIMIT 60 */
            if (l) {
                l->p = malloc((l->n ? l->n : 1) * sizeof *l->p);
                if (l->p == NULL)
                    rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                else
                    memcpy(l->p, pts + begin, l->n * sizeof *l->p);
            }
            l = &d->labs[d->nlabs++];
            l->range_lo = l->range_hi = NAN;
            l->category = dup_text(store_cell(&r, i, 9));
            begin = i;
        }
        int32_t day = row_day(&r, i, 0, lvl == REPORT_MONTHLY);
        if (day < 0)
            continue;
        double v = num(store_cell(&r, i, 3));
        if (isfinite(v))
            pts[begin + l->n++] = (struct report_lab_point){day, v, lab_flag(sv_as_text(store_cell(&r, i, 7)))};
        else
            l->text_values++;
        /* the latest row names the test; the latest unit and normal range */
        free(l->name);
        l->name = dup_text(store_cell(&r, i, 2));
        const char *u = sv_as_text(store_cell(&r, i, 4));
        if (u && *u) {
            free(l->unit);
            l->unit = strdup(u);
        }
        const struct sval *lo = store_cell(&r, i, 5), *hi = store_cell(&r, i, 6);
        if (lo->type != SV_NULL || hi->type != SV_NULL) {
            l->range_lo = num(lo);
            l->range_hi = num(hi);
        }
        const char *loinc = sv_as_text(store_cell(&r, i, 8));
        if (l->loinc == NULL && loinc && *loinc && strcmp(loinc, "UNKNOWN"))
            l->loinc = strdup(loinc);
    }
    if (l && rc == MLW_OK) {
        l->p = malloc((l->n ? l->n : 1) * sizeof *l->p);
        if (l->p == NULL)
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        else
            memcpy(l->p, pts + begin, l->n * sizeof *l->p);
    }
    free(pts);
    store_rows_free(&r);
    d->labs_omitted = (size_t)ngroups - d->nlabs;
    if (rc == MLW_OK && d->nlabs > 1)
        qsort(d->labs, d->nlabs, sizeof *d->labs, lab_cmp);
    return rc;
}

/* ---- processing status ---- */

static int count_rows(struct store *st, const char *sql, int64_t user, int64_t *out,
                      struct mlw_err *err)
{
    struct sval p[1] = {sv_int(user)};
    struct store_rows r;
    int rc = store_query(st, sql, p, 1, &r, err);
    if (rc)
        return rc;
    *out = r.nrows ? sv_as_int(store_cell(&r, 0, 0)) : 0;
    store_rows_free(&r);
    return MLW_OK;
}

static int reason_cmp(const void *a, const void *b)
{
    const struct report_reason *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->domain != y->domain)
        return x->domain < y->domain ? -1 : 1;
    return strcmp(x->reason ? x->reason : "", y->reason ? y->reason : "");
}

static int load_status(struct store *st, int64_t user, int have_labs, struct report_status *s,
                       struct mlw_err *err)
{
    static const struct {
        const char *pending, *failed, *insufficient, *reasons;
    } Q[DOMAIN_REPORT_N] = {
        {"SELECT count(*) FROM vitals_raw_data WHERE aggregation_status IN ('pending', 'queued',"
         " 'processing') AND user_id = ?",
         "SELECT count(*) FROM vitals_raw_data WHERE aggregation_status = 'failed' AND user_id = ?",
         NULL,
         "SELECT failure_reason, count(*), count(*) OVER () FROM vitals_raw_data"
         " WHERE aggregation_status = 'failed' AND user_id = ? GROUP BY failure_reason"},
        {"SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status IN ('pending',"
         " 'queued', 'processing') AND user_id = ?",
         "SELECT count(*) FROM nutrition_raw_data WHERE aggregation_status = 'failed'"
         " AND user_id = ?",
         NULL,
         "SELECT failure_reason, count(*), count(*) OVER () FROM nutrition_raw_data"
         " WHERE aggregation_status = 'failed' AND user_id = ? GROUP BY failure_reason"},
        {"SELECT count(*) FROM lab_reports WHERE user_id = ? AND categorization_status IN"
         " ('pending', 'queued', 'processing')",
         "SELECT count(*) FROM lab_reports WHERE user_id = ? AND categorization_status = 'failed'",
         "SELECT count(*) FROM lab_reports WHERE user_id = ?"
         " AND categorization_status = 'insufficient'",
         "SELECT failure_reason, count(*), count(*) OVER () FROM lab_reports WHERE user_id = ? AND"
         " categorization_status IN ('failed', 'insufficient') GROUP BY failure_reason"}};
    /* appended to Q[].reasons: the top reasons, ties in byte order (BIN_*) */
    static const char *const TOP[2] = {" ORDER BY 2 DESC, failure_reason" BIN_SQLITE " LIMIT 20",
                                       " ORDER BY 2 DESC, failure_reason" BIN_PG " LIMIT 20"};
    _Static_assert(REPORT_TOP_REASONS == 20, "the LIMIT in the reason queries");
    s->have_labs = have_labs;
    struct report_reason *all = NULL;
    size_t nall = 0;
    int64_t distinct = 0, rows = 0;
    int rc = MLW_OK;
    for (int dm = 0; dm < DOMAIN_REPORT_N && rc == MLW_OK; dm++) {
        if (dm == DOMAIN_REPORT_LABS && !have_labs)
            break;
        int64_t nd = 0;
        rc = count_rows(st, Q[dm].pending, user, &s->pending[dm], err);
        if (!rc)
            rc = count_rows(st, Q[dm].failed, user, &s->failed[dm], err);
        if (!rc && Q[dm].insufficient)
            rc = count_rows(st, Q[dm].insufficient, user, &s->insufficient, err);
        if (rc)
            break;
        int64_t nfailed = s->failed[dm] + (dm == DOMAIN_REPORT_LABS ? s->insufficient : 0);
        rows += nfailed;
        if (nfailed == 0)
            continue;
        /* the top reasons, and (a window over the groups) how many there are */
        struct sval p[1] = {sv_int(user)};
        struct store_rows r;
        char sql[512];
        snprintf(sql, sizeof sql, "%s%s", Q[dm].reasons, TOP[st->dialect == DB_POSTGRES]);
        rc = store_query(st, sql, p, 1, &r, err);
        if (rc)
            break;
        nd = r.nrows ? sv_as_int(store_cell(&r, 0, 2)) : 0;
        distinct += nd;
        struct report_reason *grown = realloc(all, (nall + r.nrows + 1) * sizeof *all);
        if (grown == NULL) {
            store_rows_free(&r);
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
            break;
        }
        all = grown;
        for (size_t i = 0; i < r.nrows; i++)
            all[nall++] = (struct report_reason){(enum report_domain)dm,
                                                 dup_text(store_cell(&r, i, 0)),
                                                 sv_as_int(store_cell(&r, i, 1))};
        store_rows_free(&r);
    }
    if (nall > 1)
        qsort(all, nall, sizeof *all, reason_cmp);
    size_t keep = nall < REPORT_TOP_REASONS ? nall : REPORT_TOP_REASONS;
    int64_t listed_rows = 0;
    for (size_t i = 0; i < nall; i++) {
        if (i < keep)
            listed_rows += all[i].count;
        else
            free(all[i].reason);
    }
    s->reasons = all;
    s->nreasons = keep;
    s->other_reasons = distinct - (int64_t)keep;
    s->other_reason_rows = rows - listed_rows;
    if (s->other_reasons < 0)
        s->other_reasons = 0;
    if (s->other_reason_rows < 0)
        s->other_reason_rows = 0;
    return rc;
}

/* ---- the user and the range ---- */

static int user_known(struct store *st, int64_t user, int have_labs, int *known,
                      struct mlw_err *err)
{
    static const char *const TABLES[] = {"vitals_raw_data", "nutrition_raw_data",
                                         "vitals_daily_aggregates", "nutrition_daily_aggregates",
                                         "lab_reports", "lab_reports_daily"};
    *known = 0;
    for (size_t i = 0; i < sizeof TABLES / sizeof TABLES[0] && !*known; i++) {
        if (i >= 4 && !have_labs)
            break;
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE user_id = ? LIMIT 1", TABLES[i]);
        struct sval p[1] = {sv_int(user)};
        struct store_rows r;
        int rc = store_query(st, sql, p, 1, &r, err);
        if (rc)
            return rc;
        *known = r.nrows > 0;
        store_rows_free(&r);
    }
    return MLW_OK;
}

/* The first and last day with a daily aggregate (-1, -1 when none). */
static int data_span(struct store *st, int64_t user, int have_labs, int32_t *first, int32_t *last,
                     struct mlw_err *err)
{
    static const char *const SQL[] = {
        "SELECT min(date), max(date) FROM vitals_daily_aggregates WHERE user_id = ?",
        "SELECT min(date), max(date) FROM nutrition_daily_aggregates WHERE user_id = ?",
        "SELECT min(date), max(date) FROM lab_reports_daily WHERE user_id = ?"};
    *first = *last = -1;
    for (size_t i = 0; i < 3; i++) {
        if (i == 2 && !have_labs)
            break;
        struct sval p[1] = {sv_int(user)};
        struct store_rows r;
        int rc = store_query(st, SQL[i], p, 1, &r, err);
        if (rc)
            return rc;
        if (r.nrows) {
            int32_t a = row_day(&r, 0, 0, 0), b = row_day(&r, 0, 1, 0);
            if (a >= 0 && (*first < 0 || a < *first))
                *first = a;
            if (b >= 0 && b > *last)
                *last = b;
        }
        store_rows_free(&r);
    }
    return MLW_OK;
}

/* ---- writing ---- */

static int write_atomic(const char *path, const char *data, size_t n, struct mlw_err *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return mlw_err_set(err, MLW_EIO, "cannot create a temporary file next to %s: %s", path,
                           strerror(e));
    }
    mode_t um = umask(0);
    umask(um);
    int rc = MLW_OK;
    if (fchmod(fd, 0666 & ~um) != 0)
        rc = mlw_err_set(err, MLW_EIO, "cannot set the mode of %s: %s", tmp, strerror(errno));
    for (size_t off = 0; rc == MLW_OK && off < n;) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = mlw_err_set(err, MLW_EIO, "cannot write %s: %s", tmp, strerror(errno));
        else
            off += (size_t)w;
    }
    if (rc == MLW_OK && fsync(fd) != 0)
        rc = mlw_err_set(err, MLW_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == MLW_OK)
        rc = mlw_err_set(err, MLW_EIO, "cannot close %s: %s", tmp, strerror(errno));
    if (rc == MLW_OK && rename(tmp, path) != 0)
        rc = mlw_err_set(err, MLW_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != MLW_OK)
        unlink(tmp);
    free(tmp);
    return rc;
}

int report_build_file(struct store *st, const struct report_request *rq,
                      struct report_result *res, struct mlw_err *err)
{
    double t0 = mlw_monotonic();
    int have_labs = labs_available(st), known = 0;
    int rc = user_known(st, rq->user_id, have_labs, &known, err);
    if (rc)
        return rc;
    if (!known)
        return mlw_err_set(err, MLW_ENOTFOUND,
                           "user %lld is unknown: no vitals, nutrition or lab row of this user in"
                           " the database", (long long)rq->user_id);
    int32_t first, last;
    rc = data_span(st, rq->user_id, have_labs, &first, &last, err);
    if (rc)
        return rc;
    char today[MLW_TS_LEN];
    mlw_utc_now_text(today);
    mlw_day now = 0;
    mlw_date_parse(today, 10, &now, NULL);
    struct report_data d = {.user_id = rq->user_id, .generated_at = today};
    d.from = rq->has_from ? rq->from : first >= 0 ? first : now;
    d.to = rq->has_to ? rq->to : last >= 0 ? last : now;
    if (!rq->has_to && d.to < d.from)
        d.to = d.from;
    if (!rq->has_from && d.from > d.to)
        d.from = d.to;
    int64_t days = (int64_t)d.to - d.from + 1;
    d.level = report_pick_level(days);
    d.lab_level = days > 400 ? REPORT_MONTHLY : REPORT_DAILY;

    static const struct {
        const char *metric;
        enum vkind kind;
        size_t off;
    } V[] = {{"Heart Rate", VK_MEAN_BAND, offsetof(struct report_data, heart_rate)},
             {"Steps", VK_TOTAL_PER_DAY, offsetof(struct report_data, steps)},
             {"Active Energy", VK_TOTAL_PER_DAY, offsetof(struct report_data, energy)},
             {"Sleep", VK_MEAN, offsetof(struct report_data, sleep)},
             {"Weight", VK_MEAN, offsetof(struct report_data, weight)},
             {"Blood Pressure Systolic", VK_MEAN, offsetof(struct report_data, bp_sys)},
             {"Blood Pressure Diastolic", VK_MEAN, offsetof(struct report_data, bp_dia)}};
    for (size_t i = 0; i < sizeof V / sizeof V[0] && rc == MLW_OK; i++)
        rc = load_vitals(st, rq->user_id, V[i].metric, d.level, d.from, d.to, V[i].kind,
                         (struct report_series *)((char *)&d + V[i].off), err);
    if (rc == MLW_OK)
        rc = load_nutrition(st, rq->user_id, d.level, d.from, d.to, &d, err);
    if (rc == MLW_OK && have_labs)
        rc = load_labs(st, rq->user_id, d.lab_level, d.from, d.to, &d, err);
    if (rc == MLW_OK)
        rc = load_status(st, rq->user_id, have_labs, &d.status, err);
    struct sbuf html = {0};
    if (rc == MLW_OK)
        rc = report_render(&d, &html, err);
    if (rc == MLW_OK)
        rc = write_atomic(rq->out_path, html.p, html.len, err);
    if (rc == MLW_OK && res) {
        res->from = d.from;
        res->to = d.to;
        res->level = d.level;
        res->bytes = html.len;
        res->seconds = mlw_monotonic() - t0;
    }
    sbuf_free(&html);
    report_data_free(&d);
    return rc;
}

/* ---- the command ---- */


static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: mlworker report --user ID [--from YYYY-MM-DD] [--to YYYY-MM-DD] --out FILE\n\n"
            "Writes one self-contained HTML file (inline SVG charts, no scripts or external\n"
            "references) with the user's stored aggregates: heart rate, steps, active energy,\n"
            "sleep, weight, blood pressure, calories by meal type and macronutrients, lab\n"
            "results against their normal range, and the processing status of the user's raw\n"
            "rows (pending and failed counts, the most frequent failure reasons).\n"
            "The range defaults to the user's first and last day with data; it is charted per\n"
            "day up to 400 days, per week up to 5 years, per month beyond.\n"
            "The database comes from DATABASE_URL (see `mlworker run --help`).\n"
            "Exit status: 0 written, 1 unknown user or database error, 2 usage error.\n");
}

static int parse_day(const char *s, int32_t *out)
{
    mlw_day d;
    if (strlen(s) != 10 || mlw_date_parse(s, 10, &d, NULL) != 0)
        return -1;
    *out = d;
    return 0;
}

int cmd_report(int argc, char **argv)
{
    struct report_request rq = {0};
    int has_user = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            report_usage(stdout);
            return 0;
        } else if (i + 1 < argc && !strcmp(a, "--user")) {
            char *end;
            errno = 0;
            long long u = strtoll(argv[++i], &end, 10);
            if (errno || end == argv[i] || *end) {
                fprintf(stderr, "mlworker report: --user wants an integer user id, not '%s'\n",
                        argv[i]);
                return EXIT_USAGE;
            }
            rq.user_id = u;
            has_user = 1;
        } else if (i + 1 < argc && (!strcmp(a, "--from") || !strcmp(a, "--to"))) {
            int32_t *dst = a[2] == 'f' ? &rq.from : &rq.to;
            if (parse_day(argv[++i], dst)) {
                fprintf(stderr, "mlworker report: %s wants a date YYYY-MM-DD, not '%s'\n", a,
                        argv[i]);
                return EXIT_USAGE;
            }
            *(a[2] == 'f' ? &rq.has_from : &rq.has_to) = 1;
        } else if (i + 1 < argc && !strcmp(a, "--out")) {
            rq.out_path = argv[++i];
        } else {
            fprintf(stderr, "mlworker report: unknown or incomplete option '%s'\n", a);
            report_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!has_user || rq.out_path == NULL || !*rq.out_path) {
        fprintf(stderr, "mlworker report: --user and --out are required\n");
        report_usage(stderr);
        return EXIT_USAGE;
    }
    if (rq.has_from && rq.has_to && rq.from > rq.to) {
        fprintf(stderr, "mlworker report: --from is after --to (an inverted range)\n");
        return EXIT_USAGE;
    }
    struct db_target db;
    struct mlw_err err = {0};
    struct store *st;
    if (cli_open_store("report", CLI_SCHEMA_SOME, &db, &st))
        return 1;
    int rc = 1;
    struct report_result res = {0};
    if (report_build_file(st, &rq, &res, &err) != MLW_OK) {
        fprintf(stderr, "mlworker report: %s\n", err.msg);
    } else {
        char a[MLW_DATE_LEN], b[MLW_DATE_LEN];
        mlw_date_format(res.from, a);
        mlw_date_format(res.to, b);
        static const char *const LV[] = {"daily", "weekly", "monthly"};
        printf("mlworker report: wrote %s (%zu bytes; user %lld, %s to %s, %s) in %.3f s\n",
               rq.out_path, res.bytes, (long long)rq.user_id, a, b, LV[res.level], res.seconds);
        rc = 0;
    }
    store_close(st);
    config_db_free(&db);
    return rc;
}
