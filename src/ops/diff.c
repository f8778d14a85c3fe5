/* diff.c - expected (recomputed in memory from raw rows) versus stored;
 * see diff.h. The computation is the pipeline's: its row checks
 * (jobs/vitals_job.c, nutrition_job.c, labs_job.c) and the pure domain modules; only the reading and the
 * comparison are here. */
#include "ops/diff.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/labcat.h"
#include "domain/labs.h"
#include "domain/nutrition.h"
#include "domain/vitals.h"
#include "jobs/labs_job.h"


/* qsort that accepts an empty (NULL) array. */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* ---- tables ------------------------------------------------------------------- */

/* T_SCORE: an ML score (float32 encoder arithmetic, which may differ in the
 * last digits between CPUs): compared with absolute tolerance SCORE_TOL. */
enum vt { T_NUM, T_INT, T_TEXT, T_TS, T_DATE, T_SCORE };
#define SCORE_TOL 1e-5
struct colspec {
    const char *name;
    enum vt t;
};
/* Which key columns give the period: LV_HOUR/DAY/WEEK: key 0 (timestamp or
 * date); LV_MONTH/QUARTER: key 0 year, key 1 month/quarter; LV_YEAR: key 0;
 * LV_ROW: key 0 is the row id and value `dayval` its date. */
enum level { LV_HOUR, LV_DAY, LV_WEEK, LV_MONTH, LV_QUARTER, LV_YEAR, LV_ROW };

#define MAXCOLS 48
struct tspec {
    const char *table;
    enum level lv;
    struct colspec key[6];
    int nkey;
    struct colspec val[MAXCOLS];
    int nval;
    int metric_key;   /* index of metric_type among keys; -1 none */
    int dayval;       /* LV_ROW: index of the date value */
    int metric_val;   /* LV_ROW: index of the metric value (vitals); -1 none */
    const char *select; /* LV_ROW: keys, values, then the raw row's status; param user */
};

#define VAGG_VALS                                                                          \
    {"loinc_code", T_TEXT}, {"total_value", T_NUM}, {"average_value", T_NUM},             \
    {"min_value", T_NUM}, {"max_value", T_NUM}
#define VAGG_TAIL {"unit", T_TEXT}, {"primary_source", T_TEXT}, {"sources_included", T_TEXT}

static const struct tspec V_CAT = {
    "vitals_raw_categorized", LV_ROW, {{"raw_id", T_INT}}, 1,
    {{"user_id", T_INT}, {"metric_type", T_TEXT}, {"value", T_NUM}, {"unit", T_TEXT},
     {"start_date", T_TS}, {"end_date", T_TS}, {"data_source", T_TEXT},
     {"source_device", T_TEXT}, {"notes", T_TEXT}, {"confidence_score", T_NUM},
     {"loinc_code", T_TEXT}},
    11, -1, 4, 1,
    "SELECT c.raw_id, c.user_id, c.metric_type, c.value, c.unit, c.start_date, c.end_date,"
    " c.data_source, c.source_device, c.notes, c.confidence_score, c.loinc_code,"
    " r.aggregation_status FROM vitals_raw_categorized c"
    " LEFT JOIN vitals_raw_data r ON r.id = c.raw_id WHERE c.user_id=?"};
static const struct tspec V_HOURLY = {
    "vitals_hourly_aggregates", LV_HOUR, {{"hour_start", T_TS}, {"metric_type", T_TEXT}}, 2,
    {VAGG_VALS, {"count", T_INT}, {"duration_minutes", T_NUM}, VAGG_TAIL}, 10, 1, -1, -1, NULL};
static const struct tspec V_DAILY = {
    "vitals_daily_aggregates", LV_DAY, {{"date", T_DATE}, {"metric_type", T_TEXT}}, 2,
    {VAGG_VALS, {"count", T_INT}, {"duration_minutes", T_NUM}, VAGG_TAIL}, 10, 1, -1, -1, NULL};
static const struct tspec V_WEEKLY = {
    "vitals_weekly_aggregates", LV_WEEK, {{"week_start_date", T_DATE}, {"metric_type", T_TEXT}},
    2, {{"week_end_date", T_DATE}, VAGG_VALS, {"days_with_data", T_INT}, VAGG_TAIL}, 10, 1, -1,
    -1, NULL};
static const struct tspec V_MONTHLY = {
    "vitals_monthly_aggregates", LV_MONTH,
    {{"year", T_INT}, {"month", T_INT}, {"metric_type", T_TEXT}}, 3,
    {VAGG_VALS, {"days_with_data", T_INT}, VAGG_TAIL}, 9, 2, -1, -1, NULL};

#define N27(p, t)                                                                           \
    {p "calories", t}, {p "protein_g", t}, {p "fat_g", t}, {p "carbs_g", t}, {p "fiber_g", t}, \
    {p "sugar_g", t}, {p "sodium_mg", t}, {p "vitamin_a_mcg", t}, {p "vitamin_c_mg", t},       \
    {p "vitamin_d_mcg", t}, {p "vitamin_e_mg", t}, {p "vitamin_k_mcg", t},                     \
    {p "vitamin_b1_mg", t}, {p "vitamin_b2_mg", t}, {p "vitamin_b3_mg", t},                    \
    {p "vitamin_b6_mg", t}, {p "vitamin_b12_mcg", t}, {p "folate_mcg", t},                     \
    {p "calcium_mg", t}, {p "iron_mg", t}, {p "magnesium_mg", t}, {p "phosphorus_mg", t},      \
    {p "potassium_mg", t}, {p "zinc_mg", t}, {p "copper_mg", t}, {p "manganese_mg", t},        \
    {p "selenium_mcg", t}

static const struct tspec N_DAILY = {
    "nutrition_daily_aggregates", LV_DAY, {{"date", T_DATE}}, 1,
    {N27("total_", T_NUM), {"meal_count", T_INT}, {"breakfast_count", T_INT},
     {"lunch_count", T_INT}, {"dinner_count", T_INT}, {"snack_count", T_INT},
     {"breakfast_calories", T_NUM}, {"lunch_calories", T_NUM}, {"dinner_calories", T_NUM},
     {"snack_calories", T_NUM}, {"primary_source", T_TEXT}, {"sources_included", T_TEXT},
     {"latest_created_at", T_TS}, {"latest_raw_id", T_INT}},
    27 + 13, -1, -1, -1, NULL};
static const struct tspec N_WEEKLY = {
    "nutrition_weekly_aggregates", LV_WEEK, {{"week_start_date", T_DATE}}, 1,
    {{"week_end_date", T_DATE}, N27("avg_daily_", T_NUM), {"total_weekly_calories", T_NUM},
     {"total_weekly_meals", T_INT}, {"days_with_data", T_INT}, {"primary_source", T_TEXT},
     {"sources_included", T_TEXT}},
    1 + 27 + 5, -1, -1, -1, NULL};
static const struct tspec N_MONTHLY = {
    "nutrition_monthly_aggregates", LV_MONTH, {{"year", T_INT}, {"month", T_INT}}, 2,
    {N27("avg_daily_", T_NUM), {"total_monthly_calories", T_NUM},
     {"total_monthly_meals", T_INT}, {"days_with_data", T_INT}, {"primary_source", T_TEXT},
     {"sources_included", T_TEXT}},
    27 + 5, -1, -1, -1, NULL};

/* Categorized lab rows, with the ML provenance columns of migration 004 (verify
 * and recompute run on the latest schema only: cli_open_store). */
static const struct tspec L_CAT_ML = {
    "lab_report_categorized", LV_ROW, {{"id", T_INT}}, 1,
    {{"user_id", T_INT}, {"test_name", T_TEXT}, {"test_code", T_TEXT}, {"loinc_code", T_TEXT},
     {"test_category", T_TEXT}, {"test_value", T_TEXT}, {"test_unit", T_TEXT},
     {"reference_range", T_TEXT}, {"test_status", T_TEXT}, {"test_date", T_DATE},
     {"inferred_test_category", T_TEXT}, {"loinc_source", T_TEXT}, {"loinc_score", T_SCORE},
     {"needs_review", T_INT}, {"category_source", T_TEXT}, {"category_score", T_SCORE}},
    16, -1, 9, -1,
    "SELECT c.id, c.user_id, c.test_name, c.test_code, c.loinc_code, c.test_category,"
    " c.test_value, c.test_unit, c.reference_range, c.test_status, c.test_date,"
    " c.inferred_test_category, c.loinc_source, c.loinc_score, c.needs_review,"
    " c.category_source, c.category_score, r.categorization_status"
    " FROM lab_report_categorized c LEFT JOIN lab_reports r ON r.id = c.id WHERE c.user_id=?"};
#define LAB_IDENT {"test_category", T_TEXT}, {"loinc_code", T_TEXT}, {"test_code", T_TEXT}
#define LAB_VALS                                                                          \
    {{"test_name", T_TEXT}, {"avg_value", T_TEXT}, {"min_value", T_TEXT},                 \
     {"max_value", T_TEXT}, {"count", T_INT}, {"unit", T_TEXT},                          \
     {"normal_range_min", T_NUM}, {"normal_range_max", T_NUM}, {"status", T_TEXT}}, 9
static const struct tspec L_DAILY = {"lab_reports_daily", LV_DAY,
                                     {{"date", T_DATE}, LAB_IDENT}, 4, LAB_VALS, -1, -1, -1, NULL};
static const struct tspec L_MONTHLY = {"lab_reports_monthly", LV_MONTH,
                                       {{"year", T_INT}, {"month", T_INT}, LAB_IDENT}, 5, LAB_VALS,
                                       -1, -1, -1, NULL};
static const struct tspec L_QUARTERLY = {"lab_reports_quarterly", LV_QUARTER,
                                         {{"year", T_INT}, {"quarter", T_INT}, LAB_IDENT}, 5,
                                         LAB_VALS, -1, -1, -1, NULL};
static const struct tspec L_YEARLY = {"lab_reports_yearly", LV_YEAR,
                                      {{"year", T_INT}, LAB_IDENT}, 4, LAB_VALS, -1, -1, -1, NULL};

/* ---- buckets -------------------------------------------------------------------- */

struct bucket {
    char *key;
    mlw_day first, last;   /* the period (-1: unreadable) */
    const char *metric;
    struct sval *v;        /* tspec nval values */
    int64_t id;            /* LV_ROW */
    int pending;           /* LV_ROW stored: its raw row is not processed yet */
    int orphan;            /* LV_ROW stored: its raw row is gone */
};

struct bvec {
    struct bucket *b;
    size_t n, cap;
};

static struct bucket *bvec_push(struct bvec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 256;
        struct bucket *b = realloc(v->b, cap * sizeof *b);
        if (!b)
            return NULL;
        v->b = b;
        v->cap = cap;
    }
    struct bucket *b = &v->b[v->n++];
    memset(b, 0, sizeof *b);
    return b;
}

/* One user's comparison. */
struct dctx {
    struct store *st;
    enum domain d;
    int64_t user;
    const struct ops_range *r;
    mlw_day load_from, load_to;   /* r widened to whole weeks and years */
    struct arena *a;
    ops_diff_cb cb;
    void *cb_ctx;
    struct ops_counts *c;
    struct mlw_err *err;
    struct ops_pending *pend;     /* (metric, day)s a pending row touches; sorted by day */
    size_t npend, pend_cap;
    int oom;
};

/* A pending row touches day d (vitals: of metric; NULL: every bucket of the
 * day). metric must live in x->a. */
static void add_pending_day(struct dctx *x, mlw_day d, const char *metric)
{
    if (x->npend == x->pend_cap) {
        size_t cap = x->pend_cap ? 2 * x->pend_cap : 64;
        struct ops_pending *p = realloc(x->pend, cap * sizeof *p);
        if (!p) {
            x->oom = 1;
            return;
        }
        x->pend = p;
        x->pend_cap = cap;
    }
    x->pend[x->npend++] = (struct ops_pending){metric, d};
}

static void add_pending_text(struct dctx *x, const struct sval *v, int ts, const struct sval *mv)
{
    const char *s = sv_as_text(v);
    mlw_ts t;
    mlw_day d;
    if (!s)
        return;
    const char *metric = mv ? arena_strdup(x->a, sv_as_text(mv)) : NULL;
    if (mv && !metric) {
        x->oom = sv_as_text(mv) != NULL;
        return; /* a vitals row without metric is in no bucket */
    }
    if (ts && mlw_ts_parse(s, v->n, &t, NULL) == 0)
        add_pending_day(x, mlw_ts_day(t), metric);
    else if (!ts && mlw_date_parse(s, v->n, &d, NULL) == 0)
        add_pending_day(x, d, metric);
}

static int cmp_pending(const void *a, const void *b)
{
    const struct ops_pending *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return strcmp(x->metric ? x->metric : "", y->metric ? y->metric : "");
}

/* Does a pending row touch [first, last] (of metric, when both know theirs)?
 * (pend sorted) */
static int pending_in(const struct dctx *x, mlw_day first, mlw_day last, const char *metric)
{
    size_t lo = 0, hi = x->npend;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->pend[mid].day < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < x->npend && x->pend[lo].day <= last; lo++)
        if (!metric || !x->pend[lo].metric || !strcmp(metric, x->pend[lo].metric))
            return 1;
    return 0;
}

static int in_range(const struct ops_range *r, mlw_day first, mlw_day last)
{
    if (first < 0)
        return !r->has_from && !r->has_to;
    return (!r->has_from || last >= r->from) && (!r->has_to || first <= r->to);
}

/* ---- values ---------------------------------------------------------------------- */

static struct sval copy_val(struct arena *a, const struct sval *v)
{
    struct sval o = *v;
    if (v->type == SV_TEXT) {
        o.s = arena_strndup(a, v->s, v->n);
        if (!o.s)
            o.type = SV_NULL;
    }
    return o;
}

static const char *num_text(struct arena *a, double d)
{
    char b[40];
    snprintf(b, sizeof b, "%.17g", d);
    return arena_strdup(a, b);
}

/* Canonical text of a value of type t (keys, display). */
static const char *canon(struct arena *a, enum vt t, const struct sval *v)
{
    char b[64];
    switch (v->type) {
    case SV_NULL:
        return "NULL";
    case SV_INT:
        snprintf(b, sizeof b, "%lld", (long long)v->i);
        return arena_strdup(a, b);
    case SV_REAL:
        if (t == T_INT && v->d == floor(v->d) && fabs(v->d) < 9e15) {
            snprintf(b, sizeof b, "%lld", (long long)v->d);
            return arena_strdup(a, b);
        }
        return num_text(a, v->d);
    case SV_TEXT:
        break;
    }
    if (t == T_TS) {
        mlw_ts ts;
        if (mlw_ts_parse(v->s, v->n, &ts, NULL) == 0) {
            char o[MLW_TS_LEN];
            mlw_ts_format(ts, o);
            return arena_strdup(a, o);
        }
    } else if (t == T_DATE) {
        mlw_day d;
        if (mlw_date_parse(v->s, v->n, &d, NULL) == 0) {
            char o[MLW_DATE_LEN];
            mlw_date_format(d, o);
            return arena_strdup(a, o);
        }
    }
    return arena_strndup(a, v->s, v->n);
}

static int as_number(const struct sval *v, double *out)
{
    if (v->type == SV_REAL)
        *out = v->d;
    else if (v->type == SV_INT)
        *out = (double)v->i;
    else if (v->type == SV_TEXT && v->n > 0 && v->n < 64) {
        char b[64], *end;
        memcpy(b, v->s, v->n);
        b[v->n] = '\0';
        *out = strtod(b, &end);
        return *end ? -1 : 0;
    } else
        return -1;
    return 0;
}

static int same_val(struct arena *a, enum vt t, const struct sval *e, const struct sval *s)
{
    if (e->type == SV_NULL || s->type == SV_NULL)
        return e->type == s->type;
    if (t == T_NUM || t == T_INT || t == T_SCORE) {
        double x, y;
        if (as_number(e, &x) || as_number(s, &y))
            return 0;
        if (x == y)
            return 1;
        if (t == T_SCORE)
            return fabs(x - y) <= SCORE_TOL;
        double m = fmax(fabs(x), fabs(y));
        return fabs(x - y) <= 1e-9 * m;
    }
    if (e->type == SV_TEXT && s->type == SV_TEXT && t == T_TEXT)
        return e->n == s->n && memcmp(e->s, s->s, e->n) == 0;
    return strcmp(canon(a, t, e), canon(a, t, s)) == 0;
}

/* "name=value name=value" from the key values; sets the period. */
static int make_key(struct dctx *x, const struct tspec *t, const struct sval *k, struct bucket *b)
{
    size_t len = 32;
    const char *parts[8];
    len += strlen("user_id=") + 24;
    for (int i = 0; i < t->nkey; i++) {
        parts[i] = canon(x->a, t->key[i].t, &k[i]);
        if (!parts[i])
            return -1;
        len += strlen(t->key[i].name) + strlen(parts[i]) + 2;
    }
    char *s = arena_alloc(x->a, len);
    if (!s)
        return -1;
    size_t o = (size_t)snprintf(s, len, "user_id=%lld", (long long)x->user);
    for (int i = 0; i < t->nkey; i++)
        o += (size_t)snprintf(s + o, len - o, " %s=%s", t->key[i].name, parts[i]);
    b->key = s;
    b->first = b->last = -1;
    mlw_ts ts;
    mlw_day d;
    int64_t y = 0, m = 0;
    if (t->lv == LV_MONTH || t->lv == LV_QUARTER || t->lv == LV_YEAR) {
        double dy = 0, dm = 1;
        if (as_number(&k[0], &dy) || (t->lv != LV_YEAR && as_number(&k[1], &dm)))
            return 0;
        y = (int64_t)dy;
        m = (int64_t)dm;
        if (y < 1 || y > 9999)
            return 0;
    }
    const char *p0 = k[0].type == SV_TEXT ? k[0].s : NULL;
    switch (t->lv) {
    case LV_HOUR:
        if (p0 && mlw_ts_parse(p0, k[0].n, &ts, NULL) == 0)
            b->first = b->last = mlw_ts_day(ts);
        break;
    case LV_DAY:
    case LV_WEEK:
        if (p0 && mlw_date_parse(p0, k[0].n, &d, NULL) == 0) {
            b->first = d;
            b->last = t->lv == LV_WEEK ? d + 6 : d;
        }
        break;
    case LV_MONTH:
        if (m >= 1 && m <= 12) {
            b->first = mlw_days_from_civil((int)y, (int)m, 1);
            b->last = mlw_month_end(b->first);
        }
        break;
    case LV_QUARTER:
        if (m >= 1 && m <= 4) {
            b->first = mlw_days_from_civil((int)y, (int)(m - 1) * 3 + 1, 1);
            b->last = mlw_month_end(mlw_days_from_civil((int)y, (int)m * 3, 1));
        }
        break;
    case LV_YEAR:
        b->first = mlw_days_from_civil((int)y, 1, 1);
        b->last = mlw_days_from_civil((int)y, 12, 31);
        break;
    case LV_ROW:
        b->id = sv_as_int(&k[0]);
        break;
    }
    if (t->metric_key >= 0)
        b->metric = sv_as_text(&k[t->metric_key]);
    return 0;
}

/* The period of a row (LV_ROW) from its date value. */
static void row_period(const struct tspec *t, struct bucket *b)
{
    const struct sval *v = &b->v[t->dayval];
    mlw_ts ts;
    mlw_day d;
    b->first = b->last = -1;
    if (v->type != SV_TEXT)
        return;
    if (t->val[t->dayval].t == T_TS && mlw_ts_parse(v->s, v->n, &ts, NULL) == 0)
        b->first = b->last = mlw_ts_day(ts);
    else if (t->val[t->dayval].t == T_DATE && mlw_date_parse(v->s, v->n, &d, NULL) == 0)
        b->first = b->last = d;
    if (t->metric_val >= 0)
        b->metric = sv_as_text(&b->v[t->metric_val]);
}

/* An expected bucket: keys and values given (texts must outlive the diff). */
static int add_expected(struct dctx *x, const struct tspec *t, struct bvec *v,
                        const struct sval *k, const struct sval *vals)
{
    struct bucket *b = bvec_push(v);
    struct sval *cp = b ? arena_alloc(x->a, (size_t)t->nval * sizeof *cp) : NULL;
    if (!cp || make_key(x, t, k, b))
        return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (int i = 0; i < t->nval; i++)
        cp[i] = copy_val(x->a, &vals[i]);
    b->v = cp;
    if (t->lv == LV_ROW)
        row_period(t, b);
    return MLW_OK;
}

static int load_stored(struct dctx *x, const struct tspec *t, struct bvec *v)
{
    char sql[4096];
    if (t->select) {
        snprintf(sql, sizeof sql, "%s", t->select);
    } else {
        size_t o = (size_t)snprintf(sql, sizeof sql, "SELECT ");
        for (int i = 0; i < t->nkey; i++)
            o += (size_t)snprintf(sql + o, sizeof sql - o, "%s%s", i ? ", " : "", t->key[i].name);
        for (int i = 0; i < t->nval; i++)
            o += (size_t)snprintf(sql + o, sizeof sql - o, ", %s", t->val[i].name);
        snprintf(sql + o, sizeof sql - o, " FROM %s WHERE user_id=?", t->table);
    }
    /* A range: only the rows of the load range (the periods it widens to),
     * so a range bounds the memory a user's comparison takes. */
    struct sval p[3] = {sv_int(x->user)};
    int np = 1;
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    if (x->r->has_from || x->r->has_to) {
        int y0, m0, y1, m1, dd;
        mlw_civil_from_days(x->load_from, &y0, &m0, &dd);
        mlw_civil_from_days(x->load_to, &y1, &m1, &dd);
        mlw_date_format(x->load_from, d0);
        mlw_date_format(x->load_to + 1, d1);
        size_t o = strlen(sql);
        switch (t->lv) {
        case LV_ROW:
            snprintf(sql + o, sizeof sql - o, " AND c.%s>=? AND c.%s<?", t->val[t->dayval].name,
                     t->val[t->dayval].name);
            p[np++] = sv_text(d0);
            p[np++] = sv_text(d1);
            break;
        case LV_HOUR:
        case LV_DAY:
        case LV_WEEK:
            snprintf(sql + o, sizeof sql - o, " AND %s>=? AND %s<?", t->key[0].name,
                     t->key[0].name);
            p[np++] = sv_text(d0);
            p[np++] = sv_text(d1);
            break;
        case LV_MONTH:
            snprintf(sql + o, sizeof sql - o, " AND year*100+month BETWEEN ? AND ?");
            p[np++] = sv_int((int64_t)y0 * 100 + m0);
            p[np++] = sv_int((int64_t)y1 * 100 + m1);
            break;
        case LV_QUARTER:
            snprintf(sql + o, sizeof sql - o, " AND year*10+quarter BETWEEN ? AND ?");
            p[np++] = sv_int((int64_t)y0 * 10 + (m0 - 1) / 3 + 1);
            p[np++] = sv_int((int64_t)y1 * 10 + (m1 - 1) / 3 + 1);
            break;
        case LV_YEAR:
            snprintf(sql + o, sizeof sql - o, " AND year BETWEEN ? AND ?");
            p[np++] = sv_int(y0);
            p[np++] = sv_int(y1);
            break;
        }
    }
    struct store_rows r;
    int rc = store_query(x->st, sql, p, np, &r, x->err);
    if (rc)
        return rc;
    for (size_t i = 0; i < r.nrows && rc == MLW_OK; i++) {
        struct bucket *b = bvec_push(v);
        struct sval *cp = b ? arena_alloc(x->a, (size_t)t->nval * sizeof *cp) : NULL;
        struct sval k[6];
        for (int j = 0; cp && j < t->nkey; j++)
            k[j] = copy_val(x->a, store_cell(&r, i, j));
        if (!cp || make_key(x, t, k, b)) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        for (int j = 0; j < t->nval; j++)
            cp[j] = copy_val(x->a, store_cell(&r, i, t->nkey + j));
        b->v = cp;
        if (t->lv == LV_ROW) {
            row_period(t, b);
            const char *status = sv_as_text(store_cell(&r, i, t->nkey + t->nval));
            if (!status)
                b->orphan = 1;
            else if (!strcmp(status, "pending") || !strcmp(status, "queued") ||
                     !strcmp(status, "processing"))
                b->pending = 1;
        }
    }
    store_rows_free(&r);
    return rc;
}

static int cmp_bucket(const void *a, const void *b)
{
    return strcmp(((const struct bucket *)a)->key, ((const struct bucket *)b)->key);
}

static int emit(struct dctx *x, const struct tspec *t, const struct bucket *b,
                enum ops_diff_kind kind, int ncols, const char *const *cols,
                const char *const *e, const char *const *s)
{
    struct ops_diff d = {x->d, t->table, b->key, kind, ncols, cols, e, s, 0, 0, b->metric,
                         b->first};
    if (t->lv == LV_ROW) {
        d.orphan = b->orphan;
        d.raw_id = b->id;
    }
    if (kind == OPS_DIFF_MISMATCH)
        x->c->mismatched++;
    else if (kind == OPS_DIFF_STALE)
        x->c->stale++;
    else
        x->c->missing++;
    return x->cb ? x->cb(x->cb_ctx, &d) : 0;
}

/* Is this bucket compared? (in range, no pending row in its period) */
static int eligible(struct dctx *x, const struct tspec *t, const struct bucket *b)
{
    if (!in_range(x->r, b->first, b->last))
        return 0;
    if (b->pending ||
        (t->lv != LV_ROW && b->first >= 0 && pending_in(x, b->first, b->last, b->metric))) {
        if (t->lv != LV_ROW)
            x->c->buckets_skipped++;
        return 0;
    }
    if (t->lv != LV_ROW)
        x->c->buckets++;
    return 1;
}

static int compare_table(struct dctx *x, const struct tspec *t, struct bvec *exp)
{
    struct bvec sto = {0};
    int rc = load_stored(x, t, &sto);
    if (rc) {
        free(sto.b);
        return rc;
    }
    sort_n(exp->b, exp->n, sizeof *exp->b, cmp_bucket);
    sort_n(sto.b, sto.n, sizeof *sto.b, cmp_bucket);
    size_t i = 0, j = 0;
    const char *cols[MAXCOLS], *ev[MAXCOLS], *sv[MAXCOLS];
    while (rc == 0 && (i < exp->n || j < sto.n)) {
        int c = i == exp->n ? 1 : j == sto.n ? -1 : strcmp(exp->b[i].key, sto.b[j].key);
        if (c < 0) {
            if (eligible(x, t, &exp->b[i]))
                rc = emit(x, t, &exp->b[i], OPS_DIFF_MISSING, 0, NULL, NULL, NULL);
            i++;
        } else if (c > 0) {
            if (eligible(x, t, &sto.b[j]) || (sto.b[j].orphan && in_range(x->r, sto.b[j].first,
                                                                           sto.b[j].last)))
                rc = emit(x, t, &sto.b[j], OPS_DIFF_STALE, 0, NULL, NULL, NULL);
            j++;
        } else {
            const struct bucket *e = &exp->b[i], *s = &sto.b[j];
            if (eligible(x, t, e) && !s->pending) {
                int n = 0;
                for (int k = 0; k < t->nval; k++)
                    if (!same_val(x->a, t->val[k].t, &e->v[k], &s->v[k])) {
                        cols[n] = t->val[k].name;
                        ev[n] = canon(x->a, t->val[k].t, &e->v[k]);
                        sv[n] = canon(x->a, t->val[k].t, &s->v[k]);
                        n++;
                    }
                if (n)
                    rc = emit(x, t, e, OPS_DIFF_MISMATCH, n, cols, ev, sv);
            }
            i++;
            j++;
        }
    }
    free(sto.b);
    return rc;
}

/* A raw row's stored status against the expected one. */
static int check_status(struct dctx *x, const char *table, int64_t id, mlw_day day,
                        const char *want, const char *want_reason, const struct sval *got,
                        const struct sval *got_reason)
{
    if (x->r->has_from || x->r->has_to) {
        if (day < 0 || !in_range(x->r, day, day))
            return 0;
    }
    x->c->rows++;
    const char *gs = sv_as_text(got), *gr = sv_as_text(got_reason);
    const char *cols[2], *ev[2], *sv[2];
    int n = 0;
    if (!gs || strcmp(gs, want)) {
        cols[n] = "status";
        ev[n] = want;
        sv[n++] = gs ? arena_strdup(x->a, gs) : "NULL";
    }
    if (!(want_reason ? gr && !strcmp(want_reason, gr) : !gr)) {
        cols[n] = "failure_reason";
        ev[n] = want_reason ? want_reason : "NULL";
        sv[n++] = gr ? arena_strdup(x->a, gr) : "NULL";
    }
    if (n == 0)
        return 0;
    char key[48];
    snprintf(key, sizeof key, "id=%lld", (long long)id);
    struct tspec t = {0};
    t.table = table;
    t.lv = LV_ROW;
    struct bucket b = {0};
    b.key = key;
    b.id = id;
    b.first = b.last = day;
    return emit(x, &t, &b, OPS_DIFF_MISMATCH, n, cols, ev, sv);
}

static int is_pending(const char *s)
{
    return s && (!strcmp(s, "pending") || !strcmp(s, "queued") || !strcmp(s, "processing"));
}

/* Raw rows of the user in the load range: "SELECT cols, extra FROM ... WHERE r.user_id=?
 * [AND date range] ORDER BY r.id". */
static int load_raw(struct dctx *x, const char *cols, const char *from, const char *datecol,
                    const char *extra, struct store_rows *out)
{
    char sql[4096], d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    int ranged = x->r->has_from || x->r->has_to;
    if (ranged)
        snprintf(sql, sizeof sql,
                 "SELECT %s, %s%s WHERE r.user_id=? AND r.%s>=? AND r.%s<? ORDER BY r.id", cols,
                 extra, from, datecol, datecol);
    else
        snprintf(sql, sizeof sql, "SELECT %s, %s%s WHERE r.user_id=? ORDER BY r.id", cols, extra,
                 from);
    mlw_date_format(x->load_from, d0);
    mlw_date_format(x->load_to + 1, d1);
    struct sval p[3] = {sv_int(x->user), sv_text(d0), sv_text(d1)};
    return store_query(x->st, sql, p, ranged ? 3 : 1, out, x->err);
}

/* ---- vitals ---------------------------------------------------------------------- */

enum { VC_ID, VC_USER, VC_START, VC_METRIC, VC_VALUE, VC_UNIT, VC_END, VC_SOURCE, VC_DEVICE,
       VC_NOTES, VC_CONFIDENCE, VC_CREATED, VC_OLD_START, VC_OLD_METRIC, VC_STATUS, VC_REASON };

static int cmp_hour_by_day(const void *pa, const void *pb)
{
    const struct vital_agg *a = pa, *b = pb;
    mlw_day x = mlw_ts_day(a->key), y = mlw_ts_day(b->key);
    return x < y ? -1 : x > y;
}

static int cmp_agg_key(const void *pa, const void *pb)
{
    const struct vital_agg *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key;
}

static struct sval opt_real(unsigned present, unsigned bit, double v)
{
    return (present & bit) ? sv_real(v) : sv_null();
}

/* Expected aggregate row of any vitals level; period keys given. */
static int vitals_bucket(struct dctx *x, const struct tspec *t, struct bvec *v,
                         const struct vital_agg *g, const struct sval *k)
{
    struct sval val[MAXCOLS];
    char *src = strset_to_json(&g->sources, x->a);
    if (!src)
        return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    int n = 0;
    if (t->lv == LV_WEEK) {
        char *we = arena_alloc(x->a, MLW_DATE_LEN);
        if (!we)
            return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
        mlw_date_format((mlw_day)g->key + 6, we);
        val[n++] = sv_text(we);
    }
    val[n++] = sv_text(g->loinc_code);
    val[n++] = opt_real(g->present, VA_TOTAL, g->total);
    val[n++] = opt_real(g->present, VA_AVG, g->avg);
    val[n++] = opt_real(g->present, VA_MIN, g->min);
    val[n++] = opt_real(g->present, VA_MAX, g->max);
    if (t->lv == LV_HOUR || t->lv == LV_DAY) {
        val[n++] = sv_int(g->count);
        val[n++] = opt_real(g->present, VA_DURATION, g->duration_minutes);
    } else {
        val[n++] = sv_int(g->days_with_data);
    }
    val[n++] = sv_text(g->unit);
    val[n++] = sv_text(g->primary_source);
    val[n++] = sv_text(src);
    return add_expected(x, t, v, k, val);
}

static int date_sval(struct dctx *x, mlw_day d, struct sval *out)
{
    char *s = arena_alloc(x->a, MLW_DATE_LEN);
    if (!s)
        return -1;
    mlw_date_format(d, s);
    *out = sv_text(s);
    return 0;
}

static int diff_vitals(struct dctx *x)
{
    struct store_rows raw = {0}, map = {0};
    int rc = load_raw(x, vitals_job_row_cols, vitals_job_row_from, "start_date",
                      "r.aggregation_status, r.failure_reason", &raw);
    if (rc == MLW_OK)
        rc = vitals_job_load_mappings(x->st, &map, x->err);
    struct vital_sample *s = calloc(raw.nrows + 1, sizeof *s);
    struct bvec cat = {0}, hb = {0}, db = {0}, wb = {0}, mb = {0};
    struct vital_agg *hourly = NULL, *daily = NULL, *tmp;
    size_t ns = 0, nh = 0, nd = 0, ntmp;
    if (!s && rc == MLW_OK)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < raw.nrows && rc == MLW_OK; i++) {
        const char *status = sv_as_text(store_cell(&raw, i, VC_STATUS));
        if (is_pending(status)) {
            x->c->pending++;
            add_pending_text(x, store_cell(&raw, i, VC_START), 1, store_cell(&raw, i, VC_METRIC));
            add_pending_text(x, store_cell(&raw, i, VC_OLD_START), 1,
                             store_cell(&raw, i, VC_OLD_METRIC));
            continue;
        }
        int64_t id = sv_as_int(store_cell(&raw, i, VC_ID));
        mlw_ts start = 0, end = 0;
        double value = 0;
        const char *unit = NULL;
        char why[256] = "";
        int bad = vitals_job_check_row(&raw, i, &start, &end, &value, &unit, why, sizeof why);
        mlw_ts ts;
        const struct sval *sv0 = store_cell(&raw, i, VC_START);
        mlw_day day = sv_as_text(sv0) && mlw_ts_parse(sv0->s, sv0->n, &ts, NULL) == 0
                          ? mlw_ts_day(ts) : -1;
        rc = check_status(x, "vitals_raw_data", id, day, bad ? "failed" : "categorized",
                          bad ? arena_strdup(x->a, why) : NULL, store_cell(&raw, i, VC_STATUS),
                          store_cell(&raw, i, VC_REASON));
        if (rc || bad)
            continue;
        const char *metric = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, VC_METRIC)));
        const char *loinc = arena_strdup(x->a, vitals_job_loinc(&map, metric));
        char *st_txt = arena_alloc(x->a, MLW_TS_LEN), *en_txt = arena_alloc(x->a, MLW_TS_LEN);
        if (!metric || !st_txt || !en_txt) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        mlw_ts_format(start, st_txt);
        mlw_ts_format(end, en_txt);
        struct vital_sample *smp = &s[ns++];
        smp->raw_id = id;
        smp->metric_type = metric;
        smp->value = value;
        smp->unit = arena_strdup(x->a, unit);
        smp->start = start;
        smp->end = end;
        smp->data_source = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, VC_SOURCE)));
        smp->notes = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, VC_NOTES)));
        smp->loinc_code = loinc;
        struct sval k[1] = {sv_int(id)};
        struct sval val[11] = {sv_int(x->user), sv_text(metric), sv_real(value),
                               sv_text(smp->unit), sv_text(st_txt), sv_text(en_txt),
                               sv_text(smp->data_source), *store_cell(&raw, i, VC_DEVICE),
                               *store_cell(&raw, i, VC_NOTES),
                               *store_cell(&raw, i, VC_CONFIDENCE), sv_text(loinc)};
        rc = add_expected(x, &V_CAT, &cat, k, val);
    }
    store_rows_free(&raw);
    store_rows_free(&map);
    /* stored categorized rows of pending raw rows mark their days too */
    if (rc == MLW_OK) {
        struct bvec sto = {0};
        rc = load_stored(x, &V_CAT, &sto);
        for (size_t i = 0; i < sto.n; i++)
            if (sto.b[i].pending && sto.b[i].first >= 0)
                add_pending_day(x, sto.b[i].first, sto.b[i].metric);
        free(sto.b);
    }
    if (rc == MLW_OK && x->oom)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    if (rc == MLW_OK)
        sort_n(x->pend, x->npend, sizeof *x->pend, cmp_pending);
    if (rc == MLW_OK)
        rc = compare_table(x, &V_CAT, &cat);
    /* hourly from the samples; daily per day from its hours; weeks and months
     * from daily rows */
    if (rc == MLW_OK && vitals_hourly(s, ns, x->a, &hourly, &nh))
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nh && rc == MLW_OK; i++) {
        char *h = arena_alloc(x->a, MLW_TS_LEN);
        if (!h) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        mlw_ts_format(hourly[i].key, h);
        struct sval k[2] = {sv_text(h), sv_text(hourly[i].metric_type)};
        rc = vitals_bucket(x, &V_HOURLY, &hb, &hourly[i], k);
    }
    if (rc == MLW_OK && nh)
        sort_n(hourly, nh, sizeof *hourly, cmp_hour_by_day);
    daily = nh ? arena_alloc(x->a, nh * sizeof *daily) : NULL;
    if (nh && !daily && rc == MLW_OK)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nh && rc == MLW_OK;) {
        size_t j = i + 1;
        mlw_day day = mlw_ts_day(hourly[i].key);
        while (j < nh && mlw_ts_day(hourly[j].key) == day)
            j++;
        if (vitals_daily(hourly + i, j - i, day, x->a, &tmp, &ntmp)) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        for (size_t k2 = 0; k2 < ntmp && rc == MLW_OK; k2++) {
            daily[nd++] = tmp[k2];
            struct sval k[2];
            if (date_sval(x, day, &k[0])) {
                rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
                break;
            }
            k[1] = sv_text(tmp[k2].metric_type);
            rc = vitals_bucket(x, &V_DAILY, &db, &tmp[k2], k);
        }
        i = j;
    }
    /* rollups: daily rows sorted by day; each week / month is a run */
    if (rc == MLW_OK && nd)
        sort_n(daily, nd, sizeof *daily, cmp_agg_key);
    for (int monthly = 0; monthly < 2 && rc == MLW_OK; monthly++) {
        for (size_t i = 0; i < nd && rc == MLW_OK;) {
            mlw_day p0 = monthly ? mlw_month_start((mlw_day)daily[i].key)
                                 : mlw_week_start((mlw_day)daily[i].key);
            size_t j = i + 1;
            while (j < nd && (monthly ? mlw_month_start((mlw_day)daily[j].key)
                                      : mlw_week_start((mlw_day)daily[j].key)) == p0)
                j++;
            if (vitals_rollup(daily + i, j - i, p0, x->a, &tmp, &ntmp)) {
                rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
                break;
            }
            int y, m, dd;
            mlw_civil_from_days(p0, &y, &m, &dd);
            for (size_t k2 = 0; k2 < ntmp && rc == MLW_OK; k2++) {
                struct sval k[3];
                if (monthly) {
                    k[0] = sv_int(y);
                    k[1] = sv_int(m);
                    k[2] = sv_text(tmp[k2].metric_type);
                    rc = vitals_bucket(x, &V_MONTHLY, &mb, &tmp[k2], k);
                } else {
                    if (date_sval(x, p0, &k[0])) {
                        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
                        break;
                    }
                    k[1] = sv_text(tmp[k2].metric_type);
                    rc = vitals_bucket(x, &V_WEEKLY, &wb, &tmp[k2], k);
                }
            }
            i = j;
        }
    }
    if (rc == MLW_OK)
        rc = compare_table(x, &V_HOURLY, &hb);
    if (rc == MLW_OK)
        rc = compare_table(x, &V_DAILY, &db);
    if (rc == MLW_OK)
        rc = compare_table(x, &V_WEEKLY, &wb);
    if (rc == MLW_OK)
        rc = compare_table(x, &V_MONTHLY, &mb);
    free(s);
    free(cat.b);
    free(hb.b);
    free(db.b);
    free(wb.b);
    free(mb.b);
    return rc;
}

/* ---- nutrition --------------------------------------------------------------------- */

/* nutrition_job_row_cols (the nutrients, then the lengths of meal_type and
 * data_source the row check reads), then the extra columns of diff_nutrition */
enum { NC_ID, NC_USER, NC_DATE, NC_COUNTED, NC_NUTR, NC_LEN_MEAL = NC_NUTR + NUTR_COUNT,
       NC_LEN_SOURCE, NC_MEAL, NC_SOURCE, NC_CREATED, NC_STATUS, NC_REASON };

struct nitem {
    mlw_day day;
    struct meal_item it;
};

static int cmp_nitem(const void *pa, const void *pb)
{
    const struct nitem *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return a->it.id < b->it.id ? -1 : a->it.id > b->it.id;
}

static int nutrition_period_bucket(struct dctx *x, const struct tspec *t, struct bvec *v,
                                   const struct nutrition_period *p, mlw_day first)
{
    struct sval k[2], val[MAXCOLS];
    int n = 0;
    char *src = strset_to_json(&p->sources, x->a);
    if (!src)
        return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    if (t->lv == LV_WEEK) {
        if (date_sval(x, first, &k[0]) || date_sval(x, first + 6, &val[n++]))
            return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    } else {
        int y, m, d;
        mlw_civil_from_days(first, &y, &m, &d);
        k[0] = sv_int(y);
        k[1] = sv_int(m);
    }
    for (int i = 0; i < NUTR_COUNT; i++)
        val[n++] = sv_real(p->avg_daily[i]);
    val[n++] = sv_real(p->total_calories);
    val[n++] = sv_int(p->total_meals);
    val[n++] = sv_int(p->days_with_data);
    val[n++] = sv_text(p->primary_source);
    val[n++] = sv_text(src);
    return add_expected(x, t, v, k, val);
}

static int diff_nutrition(struct dctx *x)
{
    struct store_rows raw = {0};
    int rc = load_raw(x, nutrition_job_row_cols, " FROM nutrition_raw_data r", "meal_date",
                      "r.meal_type, r.data_source, r.created_at, r.aggregation_status,"
                      " r.failure_reason",
                      &raw);
    struct nitem *items = calloc(raw.nrows + 1, sizeof *items);
    struct nutrition_day *days = calloc(raw.nrows + 1, sizeof *days);
    struct bvec db = {0}, wb = {0}, mb = {0};
    size_t ni = 0, nd = 0;
    if ((!items || !days) && rc == MLW_OK)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < raw.nrows && rc == MLW_OK; i++) {
        const char *status = sv_as_text(store_cell(&raw, i, NC_STATUS));
        if (is_pending(status)) {
            x->c->pending++;
            add_pending_text(x, store_cell(&raw, i, NC_DATE), 0, NULL);
            add_pending_text(x, store_cell(&raw, i, NC_COUNTED), 0, NULL);
            continue;
        }
        struct nitem *it = &items[ni];
        char why[256] = "";
        int bad = nutrition_job_check_row(&raw, i, &it->day, it->it.nutr, why, sizeof why);
        int64_t id = sv_as_int(store_cell(&raw, i, NC_ID));
        const struct sval *dv = store_cell(&raw, i, NC_DATE);
        mlw_day day;
        if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, &day, NULL))
            day = -1;
        rc = check_status(x, "nutrition_raw_data", id, day, bad ? "failed" : "completed",
                          bad ? arena_strdup(x->a, why) : NULL, store_cell(&raw, i, NC_STATUS),
                          store_cell(&raw, i, NC_REASON));
        if (rc || bad)
            continue;
        it->it.id = id;
        it->it.meal_type = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, NC_MEAL)));
        it->it.data_source = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, NC_SOURCE)));
        const struct sval *cv = store_cell(&raw, i, NC_CREATED);
        if (!sv_as_text(cv) || mlw_ts_parse(cv->s, cv->n, &it->it.created_at, NULL))
            it->it.created_at = 0;
        ni++;
    }
    store_rows_free(&raw);
    if (rc == MLW_OK && x->oom)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    if (rc == MLW_OK)
        sort_n(x->pend, x->npend, sizeof *x->pend, cmp_pending);
    if (rc == MLW_OK)
        sort_n(items, ni, sizeof *items, cmp_nitem);
    struct meal_item *run = calloc(ni + 1, sizeof *run);
    if (!run && rc == MLW_OK)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < ni && rc == MLW_OK;) {
        size_t j = i;
        while (j < ni && items[j].day == items[i].day) {
            run[j - i] = items[j].it;
            j++;
        }
        struct nutrition_day *d = &days[nd++];
        if (nutrition_daily(run, j - i, items[i].day, x->a, d)) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        char *src = strset_to_json(&d->sources, x->a);
        char *latest = arena_alloc(x->a, MLW_TS_LEN);
        struct sval k[1], val[MAXCOLS];
        if (!src || !latest || date_sval(x, items[i].day, &k[0])) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        mlw_ts_format(d->latest_created_at, latest);
        int n = 0;
        for (int q = 0; q < NUTR_COUNT; q++)
            val[n++] = sv_real(d->total[q]);
        val[n++] = sv_int(d->meal_count);
        for (int q = 0; q < 4; q++)
            val[n++] = sv_int(d->type_count[q]);
        for (int q = 0; q < 4; q++)
            val[n++] = sv_real(d->type_calories[q]);
        val[n++] = sv_text(d->primary_source);
        val[n++] = sv_text(src);
        val[n++] = sv_text(latest);
        val[n++] = sv_int(d->latest_id);
        rc = add_expected(x, &N_DAILY, &db, k, val);
        i = j;
    }
    free(run);
    for (int monthly = 0; monthly < 2 && rc == MLW_OK; monthly++) {
        for (size_t i = 0; i < nd && rc == MLW_OK;) {
            mlw_day p0 = monthly ? mlw_month_start(days[i].date) : mlw_week_start(days[i].date);
            size_t j = i + 1;
            while (j < nd && (monthly ? mlw_month_start(days[j].date)
                                      : mlw_week_start(days[j].date)) == p0)
                j++;
            struct nutrition_period per;
            if (nutrition_rollup(days + i, j - i, p0, x->a, &per)) {
                rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
                break;
            }
            rc = nutrition_period_bucket(x, monthly ? &N_MONTHLY : &N_WEEKLY,
                                         monthly ? &mb : &wb, &per, p0);
            i = j;
        }
    }
    if (rc == MLW_OK)
        rc = compare_table(x, &N_DAILY, &db);
    if (rc == MLW_OK)
        rc = compare_table(x, &N_WEEKLY, &wb);
    if (rc == MLW_OK)
        rc = compare_table(x, &N_MONTHLY, &mb);
    free(items);
    free(days);
    free(db.b);
    free(wb.b);
    free(mb.b);
    return rc;
}

/* ---- labs ----------------------------------------------------------------------------- */

/* labs_job_row_cols, then the raw status and reason, then the stored
 * categorized copy's decision, ML provenance and explanation (LC_S_*; NULL
 * when the row has no categorized copy). */
enum { LC_ID, LC_USER, LC_NAME, LC_CAT, LC_VALUE, LC_UNIT, LC_RANGE, LC_STATUS, LC_DATE,
       LC_CREATED, LC_OLD_DATE, LC_LAB, LC_ADDRESS, LC_PHYSICIAN, LC_REPORT_DATE, LC_NOTES,
       LC_METHOD, LC_DOC, LC_CONFIDENCE, LC_RAW_TEXT, LC_CSTATUS, LC_REASON, LC_S_LOINC,
       LC_S_CATEGORY, LC_S_LSRC, LC_S_LSCORE, LC_S_REVIEW, LC_S_CSRC, LC_S_CSCORE,
       LC_S_WHY };
#define LAB_EXTRA_ML                                                                        \
    "r.categorization_status, r.failure_reason, c.loinc_code, c.inferred_test_category,"    \
    " c.loinc_source, c.loinc_score, c.needs_review, c.category_source, c.category_score,"  \
    " c.match_reason"

/* Did the ML step decide this stored copy? (any ML provenance) */
static int stored_ml(const struct store_rows *raw, size_t i)
{
    const struct sval *rv = store_cell(raw, i, LC_S_REVIEW);
    return store_cell(raw, i, LC_S_LSRC)->type != SV_NULL ||
           store_cell(raw, i, LC_S_LSCORE)->type != SV_NULL ||
           store_cell(raw, i, LC_S_CSRC)->type != SV_NULL ||
           store_cell(raw, i, LC_S_CSCORE)->type != SV_NULL ||
           (rv->type != SV_NULL && sv_as_int(rv) != 0);
}

/* Did the chat reranker shape this stored copy? (its outcome is in the
 * explanation: "; llm picked: ...", "; llm no_match: ...", ...) */
static int stored_llm(const struct store_rows *raw, size_t i)
{
    const char *why = sv_as_text(store_cell(raw, i, LC_S_WHY));
    return why != NULL && strstr(why, "; llm ") != NULL;
}

struct lrow {
    mlw_day day;
    struct lab_row r;
};

static int cmp_lrow(const void *pa, const void *pb)
{
    const struct lrow *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return a->r.id < b->r.id ? -1 : a->r.id > b->r.id;
}

static int lab_bucket(struct dctx *x, const struct tspec *t, struct bvec *v,
                      const struct lab_agg *g, mlw_day first)
{
    struct sval k[6], val[9];
    int n = 0, y, m, d;
    mlw_civil_from_days(first, &y, &m, &d);
    switch (t->lv) {
    case LV_DAY:
        if (date_sval(x, first, &k[n++]))
            return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
        break;
    case LV_MONTH:
        k[n++] = sv_int(y);
        k[n++] = sv_int(m);
        break;
    case LV_QUARTER:
        k[n++] = sv_int(y);
        k[n++] = sv_int((m - 1) / 3 + 1);
        break;
    default:
        k[n++] = sv_int(y);
        break;
    }
    k[n++] = sv_text(g->category);
    k[n++] = sv_text(g->loinc);
    k[n++] = sv_text(g->code);
    struct sval vv[9] = {sv_text(g->name),
                         sv_text(g->avg),
                         sv_text(g->min),
                         sv_text(g->max),
                         sv_int(g->count),
                         sv_text(g->unit),
                         g->has_rmin ? sv_real(g->rmin) : sv_null(),
                         g->has_rmax ? sv_real(g->rmax) : sv_null(),
                         sv_text(labs_flag_name(g->status))};
    memcpy(val, vv, sizeof vv);
    return add_expected(x, t, v, k, val);
}

/* Roll up aggs (sorted by order) into periods given by period_of. */
static int lab_rollups(struct dctx *x, const struct lab_agg *in, size_t n,
                       mlw_day (*period_of)(mlw_day), const struct tspec *t, struct bvec *v,
                       struct lab_agg **out, size_t *nout)
{
    struct lab_agg *all = calloc(n + 1, sizeof *all);
    size_t na = 0;
    if (!all)
        return mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    int rc = MLW_OK;
    for (size_t i = 0; i < n && rc == MLW_OK;) {
        mlw_day p0 = period_of(in[i].order);
        size_t j = i + 1;
        while (j < n && period_of(in[j].order) == p0)
            j++;
        struct lab_agg *g;
        size_t ng;
        if (labs_rollup(in + i, j - i, p0, x->a, &g, &ng)) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < ng && rc == MLW_OK; k++) {
            g[k].order = p0;
            all[na++] = g[k];
            rc = lab_bucket(x, t, v, &g[k], p0);
        }
        i = j;
    }
    if (out && rc == MLW_OK) {
        *out = all;
        *nout = na;
    } else {
        free(all);
    }
    return rc;
}

static mlw_day quarter_of(mlw_day d)
{
    int y, m, dd;
    mlw_civil_from_days(d, &y, &m, &dd);
    return mlw_days_from_civil(y, ((m - 1) / 3) * 3 + 1, 1);
}

static mlw_day year_of(mlw_day d)
{
    int y, m, dd;
    mlw_civil_from_days(d, &y, &m, &dd);
    return mlw_days_from_civil(y, 1, 1);
}

static int cmp_lab_order(const void *pa, const void *pb)
{
    const struct lab_agg *a = pa, *b = pb;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int diff_labs(struct dctx *x)
{
    struct store_rows raw = {0};
    const struct tspec *tcat = &L_CAT_ML;
    int rc = load_raw(x, labs_job_row_cols, labs_job_row_from, "test_date", LAB_EXTRA_ML, &raw);
    struct lrow *rows = calloc(raw.nrows + 1, sizeof *rows);
    struct lab_agg *daily = NULL, *monthly = NULL;
    size_t nr = 0, nd = 0, nm = 0;
    struct bvec cat = {0}, db = {0}, mb = {0}, qb = {0}, yb = {0};
    if (!rows && rc == MLW_OK)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < raw.nrows && rc == MLW_OK; i++) {
        const char *status = sv_as_text(store_cell(&raw, i, LC_CSTATUS));
        if (is_pending(status)) {
            x->c->pending++;
            add_pending_text(x, store_cell(&raw, i, LC_DATE), 0, NULL);
            add_pending_text(x, store_cell(&raw, i, LC_OLD_DATE), 0, NULL);
            continue;
        }
        struct labs_job_expect e;
        if ((rc = labs_job_expect_row(x->st, &raw, i, x->a, &e, x->err)))
            break;
        int64_t id = sv_as_int(store_cell(&raw, i, LC_ID));
        const struct sval *dv = store_cell(&raw, i, LC_DATE);
        mlw_day day;
        if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, &day, NULL))
            day = -1;
        rc = check_status(x, "lab_reports", id, day, e.status, e.reason,
                          store_cell(&raw, i, LC_CSTATUS), store_cell(&raw, i, LC_REASON));
        if (rc || e.reason)
            continue;
        struct sval date;
        if (date_sval(x, e.day, &date)) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        struct sval k[1] = {sv_int(id)};
        struct sval val[16] = {sv_int(x->user),
                               sv_text(e.name),
                               sv_text(e.code),
                               sv_text(e.loinc),
                               *store_cell(&raw, i, LC_CAT),
                               *store_cell(&raw, i, LC_VALUE),
                               *store_cell(&raw, i, LC_UNIT),
                               *store_cell(&raw, i, LC_RANGE),
                               *store_cell(&raw, i, LC_STATUS),
                               date,
                               sv_text(e.category),
                               sv_text(e.loinc_source),
                               e.has_loinc_score ? sv_real(e.loinc_score) : sv_null(),
                               sv_int(e.needs_review),
                               sv_text(e.category_source),
                               e.has_category_score ? sv_real(e.category_score) : sv_null()};
        int off = e.ml_off && stored_ml(&raw, i);
        if (off || stored_llm(&raw, i)) {
            /* The ML step decided this row and is off here, or the chat
             * reranker (never called by operator tools: its answers are
             * not reproducible) had a say: take the decision as stored
             * (not checked); the buckets are still checked against it. */
            if (off)
                x->c->ml_unchecked++;
            else
                x->c->llm_unchecked++;
            static const int from[6] = {LC_S_LOINC, LC_S_LSRC, LC_S_LSCORE, LC_S_REVIEW,
                                        LC_S_CSRC, LC_S_CSCORE};
            static const int to[6] = {3, 11, 12, 13, 14, 15};
            for (int q = 0; q < 6; q++)
                val[to[q]] = *store_cell(&raw, i, from[q]);
            val[10] = *store_cell(&raw, i, LC_S_CATEGORY);
            e.loinc = arena_strdup(x->a, sv_as_text(&val[3]));
            e.category = arena_strdup(x->a, sv_as_text(&val[10]));
        }
        if ((rc = add_expected(x, tcat, &cat, k, val)))
            break;
        /* the daily input, as recompute_day reads the categorized copy */
        struct lrow *lr = &rows[nr];
        const char *value = sv_as_text(store_cell(&raw, i, LC_VALUE));
        if (!value)
            continue;
        lr->day = e.day;
        lr->r.id = id;
        lr->r.category = e.category && *e.category ? e.category : LABCAT_OTHERS;
        lr->r.loinc = e.loinc && *e.loinc ? e.loinc : LABCAT_LOINC_UNKNOWN;
        lr->r.name = e.name ? e.name : "";
        lr->r.code = e.code;
        lr->r.value = arena_strdup(x->a, value);
        lr->r.unit = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, LC_UNIT)));
        lr->r.range = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, LC_RANGE)));
        lr->r.status = arena_strdup(x->a, sv_as_text(store_cell(&raw, i, LC_STATUS)));
        nr++;
    }
    store_rows_free(&raw);
    if (rc == MLW_OK) {
        struct bvec sto = {0};
        rc = load_stored(x, tcat, &sto);
        for (size_t i = 0; i < sto.n; i++)
            if (sto.b[i].pending && sto.b[i].first >= 0)
                add_pending_day(x, sto.b[i].first, sto.b[i].metric);
        free(sto.b);
    }
    if (rc == MLW_OK && x->oom)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    if (rc == MLW_OK)
        sort_n(x->pend, x->npend, sizeof *x->pend, cmp_pending);
    if (rc == MLW_OK)
        rc = compare_table(x, tcat, &cat);
    if (rc == MLW_OK)
        sort_n(rows, nr, sizeof *rows, cmp_lrow);
    struct lab_row *run = calloc(nr + 1, sizeof *run);
    daily = calloc(nr + 1, sizeof *daily);
    if ((!run || !daily) && rc == MLW_OK)
        rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < nr && rc == MLW_OK;) {
        size_t j = i;
        while (j < nr && rows[j].day == rows[i].day) {
            run[j - i] = rows[j].r;
            j++;
        }
        struct lab_agg *g;
        size_t ng;
        if (labs_daily(run, j - i, x->a, &g, &ng)) {
            rc = mlw_err_set(x->err, MLW_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < ng && rc == MLW_OK; k++) {
            g[k].order = rows[i].day;
            daily[nd++] = g[k];
            rc = lab_bucket(x, &L_DAILY, &db, &g[k], rows[i].day);
        }
        i = j;
    }
    free(run);
    if (rc == MLW_OK)
        sort_n(daily, nd, sizeof *daily, cmp_lab_order);
    if (rc == MLW_OK)
        rc = lab_rollups(x, daily, nd, mlw_month_start, &L_MONTHLY, &mb, &monthly, &nm);
    if (rc == MLW_OK)
        rc = lab_rollups(x, monthly, nm, quarter_of, &L_QUARTERLY, &qb, NULL, NULL);
    if (rc == MLW_OK)
        rc = lab_rollups(x, daily, nd, year_of, &L_YEARLY, &yb, NULL, NULL);
    if (rc == MLW_OK)
        rc = compare_table(x, &L_DAILY, &db);
    if (rc == MLW_OK)
        rc = compare_table(x, &L_MONTHLY, &mb);
    if (rc == MLW_OK)
        rc = compare_table(x, &L_QUARTERLY, &qb);
    if (rc == MLW_OK)
        rc = compare_table(x, &L_YEARLY, &yb);
    free(rows);
    free(daily);
    free(monthly);
    free(cat.b);
    free(db.b);
    free(mb.b);
    free(qb.b);
    free(yb.b);
    return rc;
}

/* ---- entry points ---------------------------------------------------------------------- */

int ops_diff_user(struct store *st, enum domain d, int64_t user, const struct ops_range *r,
                  struct arena *a, ops_diff_cb cb, void *ctx, struct ops_counts *counts,
                  struct ops_pending **pend, size_t *npend, struct mlw_err *err)
{
    struct dctx x = {st, d, user, r, 0, 0, a, cb, ctx, counts, err, NULL, 0, 0, 0};
    /* whole periods around the range, so every period that overlaps it
     * gets all of its input: weeks and months (vitals, nutrition), years
     * (labs: its quarters and months lie inside them). A range therefore
     * bounds what is loaded (memory) for vitals and nutrition to about the
     * range plus a month either side. */
    mlw_day f = r->has_from ? r->from : 0, t = r->has_to ? r->to : MLW_DAY_MAX;
    int y, m, dd;
    mlw_civil_from_days(f, &y, &m, &dd);
    x.load_from = d == DOMAIN_LABS ? mlw_days_from_civil(y, 1, 1) : mlw_month_start(f);
    if (mlw_week_start(f) < x.load_from)
        x.load_from = mlw_week_start(f);
    mlw_civil_from_days(t, &y, &m, &dd);
    x.load_to = d == DOMAIN_LABS ? mlw_days_from_civil(y, 12, 31) : mlw_month_end(t);
    if (t <= MLW_DAY_MAX - 6 && mlw_week_start(t) + 6 > x.load_to)
        x.load_to = mlw_week_start(t) + 6;
    if (x.load_to >= MLW_DAY_MAX)
        x.load_to = MLW_DAY_MAX - 1;
    int rc;
    switch (d) {
    case DOMAIN_VITALS: rc = diff_vitals(&x); break;
    case DOMAIN_NUTRITION: rc = diff_nutrition(&x); break;
    default: rc = diff_labs(&x); break;
    }
    if (pend && rc == MLW_OK) {
        *pend = x.pend;
        *npend = x.npend;
    } else {
        free(x.pend);
    }
    return rc;
}

void ops_counts_add(struct ops_counts *a, const struct ops_counts *b)
{
    a->rows += b->rows;
    a->pending += b->pending;
    a->buckets += b->buckets;
    a->buckets_skipped += b->buckets_skipped;
    a->mismatched += b->mismatched;
    a->stale += b->stale;
    a->missing += b->missing;
    a->ml_unchecked += b->ml_unchecked;
    a->llm_unchecked += b->llm_unchecked;
}

static const char *const USER_TABLES[3][6] = {
    {"vitals_raw_data", "vitals_raw_categorized", "vitals_hourly_aggregates",
     "vitals_daily_aggregates", "vitals_weekly_aggregates", "vitals_monthly_aggregates"},
    {"nutrition_raw_data", "nutrition_daily_aggregates", "nutrition_weekly_aggregates",
     "nutrition_monthly_aggregates", NULL, NULL},
    {"lab_reports", "lab_report_categorized", "lab_reports_daily", "lab_reports_monthly",
     "lab_reports_quarterly", "lab_reports_yearly"},
};

static const char *raw_table(enum domain d) { return USER_TABLES[d][0]; }

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int ops_list_users(struct store *st, enum domain d, int64_t **users, size_t *n,
                   struct mlw_err *err)
{
    char sql[1024];
    size_t o = 0;
    for (int i = 0; i < 6 && USER_TABLES[d][i]; i++)
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%sSELECT DISTINCT user_id FROM %s",
                              i ? " UNION " : "", USER_TABLES[d][i]);
    struct store_rows r;
    int rc = store_query(st, sql, NULL, 0, &r, err);
    if (rc)
        return rc;
    *users = malloc((r.nrows + 1) * sizeof **users);
    if (!*users) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r.nrows; i++)
        (*users)[i] = sv_as_int(store_cell(&r, i, 0));
    *n = r.nrows;
    store_rows_free(&r);
    sort_n(*users, *n, sizeof **users, cmp_i64);
    return MLW_OK;
}

int ops_count_rows(struct store *st, enum domain d, const struct ops_range *r,
                   const int64_t *users, size_t n_users, int64_t *count, struct mlw_err *err)
{
    static const char *const datecol[3] = {"start_date", "meal_date", "test_date"};
    char sql[512], d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    struct sval p[3];
    int np = 0;
    size_t o = (size_t)snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE 1=1%s",
                                raw_table(d), n_users == 1 ? " AND user_id=?" : "");
    if (n_users == 1)
        p[np++] = sv_int(users[0]);
    if (r->has_from) {
        mlw_date_format(r->from, d0);
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND %s>=?", datecol[d]);
        p[np++] = sv_text(d0);
    }
    if (r->has_to) {
        mlw_date_format(r->to + 1, d1);
        snprintf(sql + o, sizeof sql - o, " AND %s<?", datecol[d]);
        p[np++] = sv_text(d1);
    }
    struct store_rows rows;
    int rc = store_query(st, sql, p, np, &rows, err);
    if (rc)
        return rc;
    *count = rows.nrows ? sv_as_int(store_cell(&rows, 0, 0)) : 0;
    store_rows_free(&rows);
    return MLW_OK;
}

int ops_domain_available(struct store *st, enum domain d)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE 1=0", raw_table(d));
    struct store_rows r;
    struct mlw_err e = {0};
    if (store_query(st, sql, NULL, 0, &r, &e) != MLW_OK)
        return 0;
    store_rows_free(&r);
    return 1;
}

int ops_labs_ml_rows(struct store *st, int64_t *n, struct mlw_err *err)
{
    *n = 0;
    if (!ops_domain_available(st, DOMAIN_LABS))
        return MLW_OK;
    struct store_rows r;
    int rc = store_query(st,
                         "SELECT count(*) FROM lab_report_categorized WHERE"
                         " loinc_source IN ('embedding', 'llm') OR category_source IN"
                         " ('embedding', 'loinc') OR loinc_score IS NOT NULL"
                         " OR category_score IS NOT NULL OR needs_review",
                         NULL, 0, &r, err);
    if (rc)
        return rc;
    *n = r.nrows ? sv_as_int(store_cell(&r, 0, 0)) : 0;
    store_rows_free(&r);
    return MLW_OK;
}

const char *ops_domain_name(enum domain d)
{
    return d == DOMAIN_VITALS ? "vitals" : d == DOMAIN_NUTRITION ? "nutrition" : "labs";
}

const char *ops_diff_kind_name(enum ops_diff_kind k)
{
    return k == OPS_DIFF_MISMATCH ? "mismatch" : k == OPS_DIFF_STALE ? "stale" : "missing";
}
