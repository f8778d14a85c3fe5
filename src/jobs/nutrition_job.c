/*
 * nutrition_job.c - the nutrition group processor.
 *
 * For one (user, meal_date) group, inside the caller's transaction: mark
 * each claimed row completed or failed (negative / non-finite nutrient, bad
 * date), then recompute the day from all of its non-failed rows, and the
 * week and month from their daily rows. A bucket left without input loses
 * its row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/nutrition.h"
#include "jobs/pipeline_int.h"

#define NUTRIENTS(X)                                                                          \
    X(calories) X(protein_g) X(fat_g) X(carbs_g) X(fiber_g) X(sugar_g) X(sodium_mg)          \
    X(vitamin_a_mcg) X(vitamin_c_mg) X(vitamin_d_mcg) X(vitamin_e_mg) X(vitamin_k_mcg)       \
    X(vitamin_b1_mg) X(vitamin_b2_mg) X(vitamin_b3_mg) X(vitamin_b6_mg) X(vitamin_b12_mcg)   \
    X(folate_mcg) X(calcium_mg) X(iron_mg) X(magnesium_mg) X(phosphorus_mg)                  \
    X(potassium_mg) X(zinc_mg) X(copper_mg) X(manganese_mg) X(selenium_mcg)

#define COL(x) ", " #x
#define TOTAL_COL(x) ", total_" #x
#define AVG_COL(x) ", avg_daily_" #x
#define Q(x) ", ?"
#define SET_TOTAL(x) ", total_" #x "=excluded.total_" #x
#define SET_AVG(x) ", avg_daily_" #x "=excluded.avg_daily_" #x

/* Batch rows: id, user_id, meal_date, aggregated_date, then the 27 nutrients. */
enum { C_ID, C_USER, C_DATE, C_COUNTED, C_NUTR };

/* Then the lengths of the text the day recomputation reads (C_LEN_MEAL,
 * C_LEN_SOURCE): longer than PIPELINE_MAX_NAME_CHARS makes the row 'failed'. */
enum { C_LEN_MEAL = C_NUTR + NUTR_COUNT, C_LEN_SOURCE };
#define ROW_COLS                                                                    \
    "r.id, r.user_id, r.meal_date, r.aggregated_date" NUTRIENTS(COL)                   \
    ", length(r.meal_type), length(r.data_source)"
#define SELECT_HEAD                                                                  \
    "SELECT " ROW_COLS " FROM nutrition_raw_data r WHERE r.aggregation_status='pending'"
#define SELECT_TAIL " ORDER BY r.created_at, r.id LIMIT ?"

/* aggregated_date remembers the day a row was counted under, so that a row
 * the app moves to another day is taken out of the old day's totals. */
static const char SQL_FINISH[] =
    "UPDATE nutrition_raw_data SET aggregation_status=?, failure_reason=?, updated_at=?,"
    " aggregated_at=?, aggregated_date=? WHERE id=? AND aggregation_status='pending'";

static const char SQL_FINISH_OK[] =
    "UPDATE nutrition_raw_data SET aggregation_status='completed', failure_reason=NULL,"
    " updated_at=?, aggregated_at=?, aggregated_date=? WHERE id IN";

static const char SQL_DAY_ITEMS[] =
    "SELECT id, " PIPELINE_CAP_NAME("meal_type") ", " PIPELINE_CAP_NAME("data_source")
    ", created_at" NUTRIENTS(COL)
    " FROM nutrition_raw_data WHERE user_id=? AND meal_date=? AND aggregation_status<>'failed'";

static const char SQL_DAILY_UPSERT[] =
    "INSERT INTO nutrition_daily_aggregates (user_id, date" NUTRIENTS(TOTAL_COL)
    ", meal_count, breakfast_count, lunch_count, dinner_count, snack_count,"
    " breakfast_calories, lunch_calories, dinner_calories, snack_calories, primary_source,"
    " sources_included, latest_created_at, latest_raw_id, created_at, updated_at)"
    " VALUES (?, ?" NUTRIENTS(Q) ", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, date) DO UPDATE SET meal_count=excluded.meal_count" NUTRIENTS(SET_TOTAL)
    ", breakfast_count=excluded.breakfast_count, lunch_count=excluded.lunch_count,"
    " dinner_count=excluded.dinner_count, snack_count=excluded.snack_count,"
    " breakfast_calories=excluded.breakfast_calories, lunch_calories=excluded.lunch_calories,"
    " dinner_calories=excluded.dinner_calories, snack_calories=excluded.snack_calories,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " latest_created_at=excluded.latest_created_at, latest_raw_id=excluded.latest_raw_id,"
    " updated_at=excluded.updated_at";
static const char SQL_DAILY_DELETE[] =
    "DELETE FROM nutrition_daily_aggregates WHERE user_id=? AND date=?";
static const char SQL_DAILY_RANGE[] =
    "SELECT date, meal_count, primary_source, sources_included, latest_created_at,"
    " latest_raw_id" NUTRIENTS(TOTAL_COL)
    " FROM nutrition_daily_aggregates WHERE user_id=? AND date>=? AND date<=?";

static const char SQL_WEEKLY_UPSERT[] =
    "INSERT INTO nutrition_weekly_aggregates (user_id, week_start_date, week_end_date"
    NUTRIENTS(AVG_COL) ", total_weekly_calories, total_weekly_meals, days_with_data,"
    " primary_source, sources_included, created_at, updated_at)"
    " VALUES (?, ?, ?" NUTRIENTS(Q) ", ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, week_start_date) DO UPDATE SET week_end_date=excluded.week_end_date"
    NUTRIENTS(SET_AVG) ", total_weekly_calories=excluded.total_weekly_calories,"
    " total_weekly_meals=excluded.total_weekly_meals, days_with_data=excluded.days_with_data,"
    " primary_source=excluded.primary_source, sources_included=excluded.sources_included,"
    " updated_at=excluded.updated_at";
static const char SQL_WEEKLY_DELETE[] =
    "DELETE FROM nutrition_weekly_aggregates WHERE user_id=? AND week_start_date=?";
static const char SQL_MONTHLY_UPSERT[] =
    "INSERT INTO nutrition_monthly_aggregates (user_id, year, month" NUTRIENTS(AVG_COL)
    ", total_monthly_calories, total_monthly_meals, days_with_data, primary_source,"
    " sources_included, created_at, updated_at)"
    " VALUES (?, ?, ?" NUTRIENTS(Q) ", ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id, year, month) DO UPDATE SET days_with_data=excluded.days_with_data"
    NUTRIENTS(SET_AVG) ", total_monthly_calories=excluded.total_monthly_calories,"
    " total_monthly_meals=excluded.total_monthly_meals, primary_source=excluded.primary_source,"
    " sources_included=excluded.sources_included, updated_at=excluded.updated_at";
static const char SQL_MONTHLY_DELETE[] =
    "DELETE FROM nutrition_monthly_aggregates WHERE user_id=? AND year=? AND month=?";

/* NULL counts as 0; a value that is not a number (text) becomes NaN so
 * validation rejects it. */
static void read_nutrients(const struct store_rows *r, size_t i, int first, double out[NUTR_COUNT])
{
    for (int k = 0; k < NUTR_COUNT; k++) {
        const struct sval *v = store_cell(r, i, first + k);
        out[k] = v->type == SV_REAL ? v->d : v->type == SV_INT ? (double)v->i
                 : v->type == SV_NULL ? 0.0 : NAN;
    }
}

static int recompute_day(struct store *st, int64_t user, mlw_day day, const char *now,
                         struct arena *a, struct mlw_err *err)
{
    char d0[MLW_DATE_LEN];
    mlw_date_format(day, d0);
    struct sval scope[2] = {sv_int(user), sv_text(d0)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAY_ITEMS, scope, 2, &r, err);
    if (rc)
        return rc;
    struct meal_item *items = arena_calloc(a, r.nrows ? r.nrows : 1, sizeof *items);
    if (items == NULL) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        struct meal_item *it = &items[n];
        char why[128];
        read_nutrients(&r, i, 4, it->nutr);
        if (nutrition_validate(it->nutr, why, sizeof why))
            continue; /* not yet marked failed (unclaimed): never counted */
        it->id = sv_as_int(store_cell(&r, i, 0));
        it->meal_type = arena_strdup(a, sv_as_text(store_cell(&r, i, 1)));
        it->data_source = arena_strdup(a, sv_as_text(store_cell(&r, i, 2)));
        const struct sval *cv = store_cell(&r, i, 3);
        if (!sv_as_text(cv) || mlw_ts_parse(cv->s, cv->n, &it->created_at, NULL))
            it->created_at = 0;
        n++;
    }
    store_rows_free(&r);
    if (n == 0)
        return store_exec(st, SQL_DAILY_DELETE, scope, 2, NULL, err);

    struct nutrition_day d;
    if (nutrition_daily(items, n, day, a, &d))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    char *src = strset_to_json(&d.sources, a);
    if (src == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    char latest[MLW_TS_LEN];
    mlw_ts_format(d.latest_created_at, latest);
    struct sval p[2 + NUTR_COUNT + 15];
    int np = 0;
    p[np++] = sv_int(user);
    p[np++] = sv_text(d0);
    for (int k = 0; k < NUTR_COUNT; k++)
        p[np++] = sv_real(d.total[k]);
    p[np++] = sv_int(d.meal_count);
    for (int k = 0; k < 4; k++)
        p[np++] = sv_int(d.type_count[k]);
    for (int k = 0; k < 4; k++)
        p[np++] = sv_real(d.type_calories[k]);
    p[np++] = sv_text(d.primary_source);
    p[np++] = sv_text(src);
    p[np++] = sv_text(latest);
    p[np++] = sv_int(d.latest_id);
    p[np++] = sv_text(now);
    p[np++] = sv_text(now);
    return store_exec(st, SQL_DAILY_UPSERT, p, np, NULL, err);
}

static int recompute_period(struct store *st, int64_t user, mlw_day first, int monthly,
                            const char *now, struct arena *a, struct mlw_err *err)
{
    mlw_day last = monthly ? mlw_month_end(first) : first + 6;
    char ws[MLW_DATE_LEN], we[MLW_DATE_LEN];
    mlw_date_format(first, ws);
    mlw_date_format(last, we);
    int y, m, dd;
    mlw_civil_from_days(first, &y, &m, &dd);
    struct sval range[3] = {sv_int(user), sv_text(ws), sv_text(we)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAILY_RANGE, range, 3, &r, err);
    if (rc)
        return rc;
    struct nutrition_day *days = arena_calloc(a, r.nrows ? r.nrows : 1, sizeof *days);
    if (days == NULL) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        struct nutrition_day *d = &days[n];
        const struct sval *dv = store_cell(&r, i, 0), *lc = store_cell(&r, i, 4);
        if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, &d->date, NULL))
            continue;
        d->meal_count = sv_as_int(store_cell(&r, i, 1));
        d->primary_source = arena_strdup(a, sv_as_text(store_cell(&r, i, 2)));
        if (strset_from_json(&d->sources, a, sv_as_text(store_cell(&r, i, 3)))) {
            store_rows_free(&r);
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        }
        if (!sv_as_text(lc) || mlw_ts_parse(lc->s, lc->n, &d->latest_created_at, NULL))
            d->latest_created_at = 0;
        d->latest_id = sv_as_int(store_cell(&r, i, 5));
        read_nutrients(&r, i, 6, d->total);
        n++;
    }
    store_rows_free(&r);

    struct sval p[3 + NUTR_COUNT + 7];
    int np = 0;
    p[np++] = sv_int(user);
    if (monthly) {
        p[np++] = sv_int(y);
        p[np++] = sv_int(m);
    } else {
        p[np++] = sv_text(ws);
        p[np++] = sv_text(we);
    }
    if (n == 0)
        return store_exec(st, monthly ? SQL_MONTHLY_DELETE : SQL_WEEKLY_DELETE, p,
                          monthly ? 3 : 2, NULL, err);
    struct nutrition_period per;
    if (nutrition_rollup(days, n, first, a, &per))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    char *src = strset_to_json(&per.sources, a);
    if (src == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (int k = 0; k < NUTR_COUNT; k++)
        p[np++] = sv_real(per.avg_daily[k]);
    p[np++] = sv_real(per.total_calories);
    p[np++] = sv_int(per.total_meals);
    p[np++] = sv_int(per.days_with_data);
    p[np++] = sv_text(per.primary_source);
    p[np++] = sv_text(src);
    p[np++] = sv_text(now);
    p[np++] = sv_text(now);
    return store_exec(st, monthly ? SQL_MONTHLY_UPSERT : SQL_WEEKLY_UPSERT, p, np, NULL, err);
}

/* Validate a batch row's date and nutrients: 0, or -1 with why. */
static int check_item(const struct store_rows *c, size_t i, mlw_day *day, char *why,
                      size_t why_len)
{
    char shown[64];
    const struct sval *dv = store_cell(c, i, C_DATE);
    const char *reason = "not a date";
    if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, day, &reason)) {
        pipeline_describe(dv, shown, sizeof shown);
        snprintf(why, why_len, "invalid meal_date '%s': %s", shown, reason);
        return -1;
    }
    if (mlw_week_start(*day) + 6 > MLW_DAY_MAX) {
        snprintf(why, why_len, "meal_date is too late: its week would end after 9999-12-31");
        return -1;
    }
    double nutr[NUTR_COUNT];
    read_nutrients(c, i, C_NUTR, nutr);
    return nutrition_validate(nutr, why, why_len) != 0 ? -1 : 0;
}

/* Text lengths of a pipeline batch row (C_LEN_*): 0, or -1 with why. */
static int check_text_lengths(const struct store_rows *c, size_t i, char *why, size_t why_len)
{
    static const struct {
        int col;
        const char *name;
    } cols[] = {{C_LEN_MEAL, "meal_type"}, {C_LEN_SOURCE, "data_source"}};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        const struct sval *v = store_cell(c, i, cols[k].col);
        if (v->type == SV_INT && v->i > PIPELINE_MAX_NAME_CHARS) {
            snprintf(why, why_len, "%s is longer than %d characters", cols[k].name,
                     PIPELINE_MAX_NAME_CHARS);
            return -1;
        }
    }
    return 0;
}

/* Every check the pipeline makes of one batch row (nutrition_group and
 * nutrition_job_check_row, so verify cannot drift from it): 0 with its day,
 * or -1 with why. */
static int check_row(const struct store_rows *c, size_t i, mlw_day *day, char *why,
                     size_t why_len)
{
    return check_item(c, i, day, why, why_len) || check_text_lengths(c, i, why, why_len) ? -1 : 0;
}

struct ok_row {
    mlw_day day;
    int64_t id;
};

static int cmp_ok_row(const void *pa, const void *pb)
{
    const struct ok_row *a = pa, *b = pb;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int nutrition_group(struct store *st, const struct store_rows *c, const struct group *g,
                           struct arena *a, struct pipeline_stats *gs, struct mlw_err *err)
{
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    struct dayset days;
    if (dayset_init(&days, a, 2 * g->n))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc = MLW_OK;
    struct ok_row *ok = arena_alloc(a, (g->n + 1) * sizeof *ok);
    struct sval *ids = arena_alloc(a, (g->n + 1) * sizeof *ids);
    size_t nok = 0;
    if (ok == NULL || ids == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t k = 0; k < g->n; k++) {
        size_t i = g->rows[k];
        char why[256] = "";
        mlw_day day = 0;
        int bad = check_row(c, i, &day, why, sizeof why);
        int64_t id = sv_as_int(store_cell(c, i, C_ID));
        if (bad) {
            struct sval p[6] = {sv_text("failed"), sv_text(why), sv_text(now), sv_null(),
                                sv_null(), sv_int(id)};
            if ((rc = store_exec(st, SQL_FINISH, p, 6, NULL, err)))
                return rc;
            gs->failed++;
        } else {
            ok[nok++] = (struct ok_row){day, id};
            gs->done++;
            dayset_add(&days, day);
        }
        /* The day it was counted under before (moved by the app, or now
         * failed) must lose it. */
        const struct sval *cv = store_cell(c, i, C_COUNTED);
        mlw_day counted;
        if (sv_as_text(cv) && mlw_date_parse(cv->s, cv->n, &counted, NULL) == 0 &&
            (bad || counted != day))
            dayset_add(&days, counted);
    }
    /* Completed rows: one status update per meal date (usually one). */
    qsort(ok, nok, sizeof *ok, cmp_ok_row);
    for (size_t i = 0; i < nok;) {
        size_t j = i;
        while (j < nok && ok[j].day == ok[i].day) {
            ids[j - i] = sv_int(ok[j].id);
            j++;
        }
        char date[MLW_DATE_LEN];
        mlw_date_format(ok[i].day, date);
        struct sval fixed[3] = {sv_text(now), sv_text(now), sv_text(date)};
        if ((rc = store_exec_in(st, SQL_FINISH_OK, fixed, 3, ids, j - i, err)))
            return rc;
        i = j;
    }
    struct dayset weeks, months;
    if (dayset_init(&weeks, a, days.n) || dayset_init(&months, a, days.n))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    dayset_sort(&days);
    rc = MLW_OK;
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

const struct domain_ops nutrition_domain = {
    .name = "nutrition",
    .table = "nutrition_raw_data",
    .select_sql = SELECT_HEAD SELECT_TAIL,
    .select_user_sql = SELECT_HEAD " AND r.user_id=?" SELECT_TAIL,
    .process_group = nutrition_group,
};

/* ---- operator tools (src/ops/): the same steps, one at a time ---------------- */

const char nutrition_job_row_cols[] = ROW_COLS;

int nutrition_job_check_row(const struct store_rows *c, size_t i, mlw_day *day, double *nutr,
                            char *why, size_t why_len)
{
    *day = 0;
    if (check_row(c, i, day, why, why_len))
        return -1;
    read_nutrients(c, i, C_NUTR, nutr);
    return 0;
}

int nutrition_job_recompute(struct store *st, int64_t user, mlw_day day, struct arena *a,
                            struct mlw_err *err)
{
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    int rc = recompute_day(st, user, day, now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, user, mlw_week_start(day), 0, now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, user, mlw_month_start(day), 1, now, a, err);
    return rc;
}
