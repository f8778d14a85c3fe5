/*
 * labs_job.c - the lab group processor and the catalog sync.
 *
 * For one user's claimed lab_reports rows, inside the caller's transaction:
 *   1. each row is validated: a missing value, name or date makes it
 *      'insufficient' with the original's reason; an unusable value (a date
 *      that is not YYYY-MM-DD, a name over 255 bytes) makes it 'failed' with
 *      a reason. Either way it loses any earlier categorized copy;
 *   2. a good row is categorized (an operator's 'manual' lab_test_mappings
 *      row for the name wins, else the catalog matcher, domain/labcat.c),
 *      upserted into lab_report_categorized keyed by its id, its name's
 *      automatic mapping is recorded in lab_test_mappings, and it becomes
 *      'categorized';
 *   3. every day whose rows changed (the row's date, and the date its old
 *      categorized copy had) is recomputed from its categorized rows, then
 *      the months and years of those days from daily rows and the quarters
 *      from monthly rows. A bucket (test) left without rows loses its row.
 * A bad row never affects the others: its failure is data, not an error.
 */
#include "jobs/labs_job.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/labs.h"
#include "jobs/pipeline_int.h"
#include "ml/mlctx.h"

#define NAME_MAX_BYTES 255

/* Batch rows. */
enum { C_ID, C_USER, C_NAME, C_CAT, C_VALUE, C_UNIT, C_RANGE, C_STATUS, C_DATE, C_CREATED,
       C_OLD_DATE, C_LAB, C_ADDRESS, C_PHYSICIAN, C_REPORT_DATE, C_NOTES, C_METHOD, C_DOC,
       C_CONFIDENCE, C_RAW_TEXT };

/* Text columns read capped (pipeline_int.h): over-long rows fail, and a
 * batch stays small whatever the table holds. */
#define ROW_COLS                                                                            \
    "r.id, r.user_id, " PIPELINE_CAP_NAME("r.test_name") ", "                                \
    PIPELINE_CAP_NAME("r.test_category") ", " PIPELINE_CAP_NAME("r.test_value") ", "         \
    PIPELINE_CAP_NAME("r.test_unit") ", " PIPELINE_CAP_NAME("r.reference_range") ", "        \
    PIPELINE_CAP_NAME("r.test_status") ", r.test_date, r.created_at, c.test_date, "          \
    PIPELINE_CAP_NAME("r.lab_name") ", " PIPELINE_CAP_TEXT("r.lab_address") ", "             \
    PIPELINE_CAP_NAME("r.ordering_physician") ", r.report_date, "                           \
    PIPELINE_CAP_TEXT("r.test_notes") ", " PIPELINE_CAP_TEXT("r.test_methodology")          \
    ", r.extracted_from_document_id, r.confidence_score, " PIPELINE_CAP_TEXT("r.raw_text")

/* test_name has its own, tighter limit (NAME_MAX_BYTES). */
static const struct pipeline_text_col TEXT_COLS[] = {
    {C_CAT, "test_category", PIPELINE_MAX_NAME_CHARS},
    {C_VALUE, "test_value", PIPELINE_MAX_NAME_CHARS},
    {C_UNIT, "test_unit", PIPELINE_MAX_NAME_CHARS},
    {C_RANGE, "reference_range", PIPELINE_MAX_NAME_CHARS},
    {C_STATUS, "test_status", PIPELINE_MAX_NAME_CHARS},
    {C_LAB, "lab_name", PIPELINE_MAX_NAME_CHARS},
    {C_ADDRESS, "lab_address", PIPELINE_MAX_TEXT_CHARS},
    {C_PHYSICIAN, "ordering_physician", PIPELINE_MAX_NAME_CHARS},
    {C_NOTES, "test_notes", PIPELINE_MAX_TEXT_CHARS},
    {C_METHOD, "test_methodology", PIPELINE_MAX_TEXT_CHARS},
    {C_RAW_TEXT, "raw_text", PIPELINE_MAX_TEXT_CHARS}};
#define N_TEXT_COLS (sizeof TEXT_COLS / sizeof TEXT_COLS[0])
#define ROW_FROM " FROM lab_reports r LEFT JOIN lab_report_categorized c ON c.id = r.id"
#define SELECT_HEAD "SELECT " ROW_COLS ROW_FROM " WHERE r.categorization_status='pending'"
#define SELECT_TAIL " ORDER BY r.created_at, r.id LIMIT ?"

static const char SQL_FINISH[] =
    "UPDATE lab_reports SET categorization_status=?, failure_reason=?, updated_at=?"
    " WHERE id=? AND categorization_status='pending'";
static const char SQL_CAT_DELETE[] = "DELETE FROM lab_report_categorized WHERE id=?";
static const char SQL_CAT_UPSERT[] =
    "INSERT INTO lab_report_categorized (id, user_id, test_name, test_code, loinc_code,"
    " test_category, test_value, test_unit, reference_range, test_status, lab_name,"
    " lab_address, ordering_physician, test_date, report_date, test_notes, test_methodology,"
    " extracted_from_document_id, confidence_score, raw_text, inferred_test_category,"
    " aggregation_status, created_at, updated_at, match_kind, match_score, match_reason,"
    " catalog_version, loinc_source, loinc_score, needs_review, category_source, category_score)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'complete', ?, ?, ?, ?,"
    " ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET user_id=excluded.user_id, test_name=excluded.test_name,"
    " test_code=excluded.test_code, loinc_code=excluded.loinc_code,"
    " test_category=excluded.test_category, test_value=excluded.test_value,"
    " test_unit=excluded.test_unit, reference_range=excluded.reference_range,"
    " test_status=excluded.test_status, lab_name=excluded.lab_name,"
    " lab_address=excluded.lab_address, ordering_physician=excluded.ordering_physician,"
    " test_date=excluded.test_date, report_date=excluded.report_date,"
    " test_notes=excluded.test_notes, test_methodology=excluded.test_methodology,"
    " extracted_from_document_id=excluded.extracted_from_document_id,"
    " confidence_score=excluded.confidence_score, raw_text=excluded.raw_text,"
    " inferred_test_category=excluded.inferred_test_category,"
    " aggregation_status=excluded.aggregation_status, created_at=excluded.created_at,"
    " updated_at=excluded.updated_at, match_kind=excluded.match_kind,"
    " match_score=excluded.match_score, match_reason=excluded.match_reason,"
    " catalog_version=excluded.catalog_version, loinc_source=excluded.loinc_source,"
    " loinc_score=excluded.loinc_score, needs_review=excluded.needs_review,"
    " category_source=excluded.category_source, category_score=excluded.category_score";
/* A name's mappings, looked up by its ASCII-lowercased form. SQLite's lower()
 * maps ASCII letters only; PostgreSQL's follows the collation's locale
 * (E-acute -> e-acute) except under "C", where it is ASCII-only too (and the
 * expression index idx_lab_test_mappings_lower_name is on that form). */
#define MAPPINGS_OF(lowered)                                                                \
    "SELECT mapping_source, test_name_standardized, test_code, test_category, loinc_code,"  \
    " test_name FROM lab_test_mappings WHERE " lowered "=? AND is_active"
static const char SQL_MAPPINGS_OF_SQLITE[] = MAPPINGS_OF("lower(test_name)");
static const char SQL_MAPPINGS_OF_PG[] = MAPPINGS_OF("lower(test_name COLLATE \"C\")");
static const char SQL_MAPPING_AUTO[] =
    "INSERT INTO lab_test_mappings (test_name, test_name_standardized, test_code, test_category,"
    " gpt_suggested_category, description, loinc_code, loinc_source, is_active, is_standardized,"
    " mapping_source, match_kind, match_score, match_reason, catalog_version, created_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, FALSE, 'auto', ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (test_name) DO UPDATE SET"
    " test_name_standardized=excluded.test_name_standardized, test_code=excluded.test_code,"
    " test_category=excluded.test_category,"
    " gpt_suggested_category=COALESCE(excluded.gpt_suggested_category,"
    " lab_test_mappings.gpt_suggested_category),"
    " description=excluded.description, loinc_code=excluded.loinc_code,"
    " loinc_source=excluded.loinc_source, match_kind=excluded.match_kind,"
    " match_score=excluded.match_score, match_reason=excluded.match_reason,"
    " catalog_version=excluded.catalog_version, updated_at=excluded.updated_at"
    " WHERE lab_test_mappings.mapping_source IS NULL OR lab_test_mappings.mapping_source='auto'";
static const char SQL_DAY_ROWS[] =
    "SELECT id, inferred_test_category, loinc_code, test_code, test_name, test_value, test_unit,"
    " reference_range, test_status FROM lab_report_categorized WHERE user_id=? AND test_date=?";

/* ---- the catalog ------------------------------------------------------------- */

static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;
static struct labcat *catalog;         /* read-only once loaded */
static struct mlw_err catalog_err;

static void catalog_load(void)
{
    labcat_load(mlw_lab_catalog_text, mlw_lab_catalog_len, &catalog, &catalog_err);
}

const struct labcat *labs_catalog(struct mlw_err *err)
{
    pthread_once(&catalog_once, catalog_load);
    if (!catalog)
        mlw_err_set(err, catalog_err.code ? catalog_err.code : MLW_EFORMAT,
                    "lab catalog (data/lab_catalog.txt): %s", catalog_err.msg);
    return catalog;
}

static void catalog_version(const struct labcat *c, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)labcat_fingerprint(c));
}

int labs_available(struct store *st)
{
    struct store_rows r;
    struct mlw_err e = {0};
    if (store_query(st, "SELECT count(*) FROM lab_reports WHERE 1=0", NULL, 0, &r, &e) != MLW_OK)
        return 0;
    store_rows_free(&r);
    return 1;
}

/* ---- decisions ------------------------------------------------------------------ */

/* The decision for one raw name: what lab_report_categorized gets. */
struct decision {
    const char *category;
    const char *name;     /* standardized name */
    const char *code;     /* test identity */
    const char *loinc;    /* never NULL */
    const char *kind;     /* exact | token | fuzzy | none | manual */
    double score;
    const char *reason;
    int manual;           /* an operator's mapping decided */
    int mapped;           /* lab_test_mappings already has a non-automatic row for the name */
    const char *specimen; /* what the matcher read from the name / context, or NULL */
    /* provenance (lab_report_categorized columns of migration 004) */
    const char *loinc_source;    /* catalog | manual | embedding | llm | NULL */
    const char *category_source; /* catalog | manual | loinc | embedding | NULL (Others) */
    int has_loinc_score, has_category_score, needs_review;
    double loinc_score, category_score;
    int ml_off;           /* the ML step would decide this name, but is off in this process */
};

/* Whitespace collapsed and trimmed (the lab agent does this at insert; the
 * worker does it again for rows written otherwise). */
static char *collapse(struct arena *a, const char *s)
{
    size_t n = strlen(s);
    char *o = arena_alloc(a, n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
            space = k > 0;
            continue;
        }
        if (space)
            o[k++] = ' ';
        space = 0;
        o[k++] = ch;
    }
    o[k] = '\0';
    return o;
}

static char *ascii_lower(struct arena *a, const char *s)
{
    char *o = arena_strdup(a, s);
    if (o)
        for (char *p = o; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return o;
}

static const char *arena_text(struct arena *a, const struct sval *v)
{
    return arena_strdup(a, sv_as_text(v));
}

/* Decide one name: a manual mapping, else the catalog. */
static int decide(struct store *st, const struct labcat *cat, struct arena *a, const char *name,
                  const char *context, struct decision *d, struct mlw_err *err)
{
    memset(d, 0, sizeof *d);
    char *key = ascii_lower(a, name);
    if (!key)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    struct sval p[1] = {sv_text(key)};
    struct store_rows r;
    int rc = store_query(st, st->dialect == DB_POSTGRES ? SQL_MAPPINGS_OF_PG : SQL_MAPPINGS_OF_SQLITE,
                         p, 1, &r, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < r.nrows; i++) {
        const char *src = sv_as_text(store_cell(&r, i, 0));
        if (!src || strcmp(src, "auto") != 0)
            d->mapped = 1;
        if (src && strcmp(src, "manual") == 0 && !d->manual) {
            const char *std = sv_as_text(store_cell(&r, i, 1));
            const char *code = sv_as_text(store_cell(&r, i, 2));
            const char *loinc = sv_as_text(store_cell(&r, i, 4));
            d->manual = 1;
            d->category = arena_text(a, store_cell(&r, i, 3));
            d->name = arena_strdup(a, std && *std ? std : name);
            d->loinc = arena_strdup(a, loinc && *loinc ? loinc : LABCAT_LOINC_UNKNOWN);
            char derived[256];
            labcat_derive_code(name, strlen(name), derived, sizeof derived);
            d->code = arena_strdup(a, code && *code ? code : derived);
            d->kind = "manual";
            d->score = 1.0;
            d->loinc_source = strcmp(d->loinc, LABCAT_LOINC_UNKNOWN) ? "manual" : NULL;
            d->category_source = "manual";
            d->reason = arena_strdup(a, "manual: an operator's lab_test_mappings row names this test");
            if (!d->category || !d->name || !d->loinc || !d->code || !d->reason) {
                store_rows_free(&r);
                return mlw_err_set(err, MLW_ENOMEM, "out of memory");
            }
        }
    }
    store_rows_free(&r);
    if (d->manual)
        return MLW_OK;
    struct labcat_result m;
    labcat_match(cat, name, strlen(name), context, &m);
    d->kind = labcat_kind_name(m.kind);
    d->score = m.score;
    d->category = m.category;
    d->loinc = m.loinc;
    d->reason = arena_strdup(a, m.why);
    d->specimen = m.specimen != LABCAT_SPEC_NONE ? labcat_specimen_name(m.specimen) : NULL;
    if (m.kind != LABCAT_NONE) {
        d->name = m.canonical;
        d->code = m.code;
        d->loinc_source = strcmp(m.loinc, LABCAT_LOINC_UNKNOWN) ? "catalog" : NULL;
        d->category_source = "catalog";
    } else {
        char derived[256];
        labcat_derive_code(name, strlen(name), derived, sizeof derived);
        d->name = name;
        d->code = arena_strdup(a, derived);
    }
    if (!d->reason || !d->code)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    return MLW_OK;
}

/* ---- aggregates ------------------------------------------------------------------ */

/* The four aggregate levels: table, period columns, and how to find a period. */
enum level { L_DAILY, L_MONTHLY, L_QUARTERLY, L_YEARLY };
static const struct {
    const char *table;
    const char *period_cols;   /* insert column list part */
    const char *where;         /* scope of one period (after user_id=?) */
    int nperiod;
} LEVEL[] = {
    {"lab_reports_daily", "date", "date=?", 1},
    {"lab_reports_monthly", "year, month", "year=? AND month=?", 2},
    {"lab_reports_quarterly", "year, quarter", "year=? AND quarter=?", 2},
    {"lab_reports_yearly", "year", "year=?", 1},
};

static int period_params(enum level lv, mlw_day first, struct sval *p, char date[MLW_DATE_LEN])
{
    int y, m, d;
    mlw_civil_from_days(first, &y, &m, &d);
    switch (lv) {
    case L_DAILY:
        mlw_date_format(first, date);
        p[0] = sv_text(date);
        return 1;
    case L_MONTHLY:
        p[0] = sv_int(y);
        p[1] = sv_int(m);
        return 2;
    case L_QUARTERLY:
        p[0] = sv_int(y);
        p[1] = sv_int((m - 1) / 3 + 1);
        return 2;
    case L_YEARLY:
        p[0] = sv_int(y);
        return 1;
    }
    return 0;
}

static struct sval opt_real(int has, double v) { return has ? sv_real(v) : sv_null(); }

/* Write a period's rows: upsert each, delete the tests it no longer has. */
static int write_level(struct store *st, enum level lv, int64_t user, mlw_day first,
                       const struct lab_agg *g, size_t n, const char *now, struct mlw_err *err)
{
    char sql[1024], date[MLW_DATE_LEN];
    struct sval per[2];
    int np = period_params(lv, first, per, date);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (user_id, %s, test_name, test_code, loinc_code, test_category,"
             " avg_value, min_value, max_value, count, unit, normal_range_min, normal_range_max,"
             " status, created_at, updated_at) VALUES (?, ?%s, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
             " ?, ?) ON CONFLICT (user_id, %s, test_category, loinc_code, test_code) DO UPDATE SET"
             " test_name=excluded.test_name, avg_value=excluded.avg_value,"
             " min_value=excluded.min_value, max_value=excluded.max_value,"
             " count=excluded.count, unit=excluded.unit,"
             " normal_range_min=excluded.normal_range_min,"
             " normal_range_max=excluded.normal_range_max, status=excluded.status,"
             " updated_at=excluded.updated_at",
             LEVEL[lv].table, LEVEL[lv].period_cols, LEVEL[lv].nperiod == 2 ? ", ?" : "",
             LEVEL[lv].period_cols);
    int rc = MLW_OK;
    for (size_t i = 0; i < n && rc == MLW_OK; i++) {
        struct sval p[18];
        int k = 0;
        p[k++] = sv_int(user);
        for (int j = 0; j < np; j++)
            p[k++] = per[j];
        p[k++] = sv_text(g[i].name);
        p[k++] = sv_text(g[i].code);
        p[k++] = sv_text(g[i].loinc);
        p[k++] = sv_text(g[i].category);
        p[k++] = sv_text(g[i].avg);
        p[k++] = sv_text(g[i].min);
        p[k++] = sv_text(g[i].max);
        p[k++] = sv_int(g[i].count);
        p[k++] = sv_text(g[i].unit);
        p[k++] = opt_real(g[i].has_rmin, g[i].rmin);
        p[k++] = opt_real(g[i].has_rmax, g[i].rmax);
        p[k++] = sv_text(labs_flag_name(g[i].status));
        p[k++] = sv_text(now);
        p[k++] = sv_text(now);
        rc = store_exec(st, sql, p, k, NULL, err);
    }
    if (rc)
        return rc;
    /* tests of this period that no longer have input */
    snprintf(sql, sizeof sql,
             "SELECT id, test_category, loinc_code, test_code FROM %s WHERE user_id=? AND %s",
             LEVEL[lv].table, LEVEL[lv].where);
    struct sval scope[3] = {sv_int(user), per[0], np == 2 ? per[1] : sv_null()};
    struct store_rows r;
    if ((rc = store_query(st, sql, scope, 1 + np, &r, err)))
        return rc;
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id=?", LEVEL[lv].table);
    for (size_t i = 0; i < r.nrows && rc == MLW_OK; i++) {
        const char *c = sv_as_text(store_cell(&r, i, 1)), *l = sv_as_text(store_cell(&r, i, 2));
        const char *k = sv_as_text(store_cell(&r, i, 3));
        int keep = 0;
        for (size_t j = 0; j < n && !keep && c && l && k; j++)
            keep = !strcmp(c, g[j].category) && !strcmp(l, g[j].loinc) && !strcmp(k, g[j].code);
        if (!keep) {
            struct sval p[1] = {*store_cell(&r, i, 0)};
            rc = store_exec(st, sql, p, 1, NULL, err);
        }
    }
    store_rows_free(&r);
    return rc;
}

static int recompute_day(struct store *st, int64_t user, mlw_day day, const char *now,
                         struct arena *a, struct mlw_err *err)
{
    char d0[MLW_DATE_LEN];
    mlw_date_format(day, d0);
    struct sval scope[2] = {sv_int(user), sv_text(d0)};
    struct store_rows r;
    int rc = store_query(st, SQL_DAY_ROWS, scope, 2, &r, err);
    if (rc)
        return rc;
    struct lab_row *rows = arena_calloc(a, r.nrows ? r.nrows : 1, sizeof *rows);
    if (!rows) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        struct lab_row *x = &rows[n];
        const char *cat = sv_as_text(store_cell(&r, i, 1)), *loinc = sv_as_text(store_cell(&r, i, 2));
        const char *code = sv_as_text(store_cell(&r, i, 3)), *name = sv_as_text(store_cell(&r, i, 4));
        const char *value = sv_as_text(store_cell(&r, i, 5));
        if (!value)
            continue; /* the schema says NOT NULL; rows written otherwise are skipped */
        x->id = sv_as_int(store_cell(&r, i, 0));
        x->category = arena_strdup(a, cat && *cat ? cat : LABCAT_OTHERS);
        x->loinc = arena_strdup(a, loinc && *loinc ? loinc : LABCAT_LOINC_UNKNOWN);
        x->name = arena_strdup(a, name ? name : "");
        if (code && *code) {
            x->code = arena_strdup(a, code);
        } else { /* the original's rows of seed mappings have no code: derive one */
            char derived[256];
            labcat_derive_code(x->name ? x->name : "", x->name ? strlen(x->name) : 0, derived,
                               sizeof derived);
            x->code = arena_strdup(a, derived);
        }
        x->value = arena_strdup(a, value);
        x->unit = arena_text(a, store_cell(&r, i, 6));
        x->range = arena_text(a, store_cell(&r, i, 7));
        x->status = arena_text(a, store_cell(&r, i, 8));
        if (!x->category || !x->loinc || !x->name || !x->code || !x->value) {
            store_rows_free(&r);
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        }
        n++;
    }
    store_rows_free(&r);
    struct lab_agg *g = NULL;
    size_t ng = 0;
    if (labs_daily(rows, n, a, &g, &ng))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    return write_level(st, L_DAILY, user, day, g, ng, now, err);
}

/* Aggregate rows of the level below, read back for a rollup. */
static int read_aggs(struct store *st, const char *sql, const struct sval *p, int np,
                     int monthly_input, struct arena *a, struct lab_agg **out, size_t *nout,
                     struct mlw_err *err)
{
    struct store_rows r;
    int rc = store_query(st, sql, p, np, &r, err);
    if (rc)
        return rc;
    struct lab_agg *g = arena_calloc(a, r.nrows ? r.nrows : 1, sizeof *g);
    if (!g) {
        store_rows_free(&r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        struct lab_agg *x = &g[n];
        /* column 0: date (daily input) or (year, month) packed as year*100+month */
        if (monthly_input) {
            int64_t ym = sv_as_int(store_cell(&r, i, 0));
            int y = (int)(ym / 100), m = (int)(ym % 100);
            if (y < 1 || y > 9999 || m < 1 || m > 12)
                continue;
            x->order = mlw_days_from_civil(y, m, 1);
        } else {
            const struct sval *dv = store_cell(&r, i, 0);
            mlw_day d;
            if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, &d, NULL))
                continue;
            x->order = d;
        }
        x->name = arena_text(a, store_cell(&r, i, 1));
        x->code = arena_text(a, store_cell(&r, i, 2));
        x->loinc = arena_text(a, store_cell(&r, i, 3));
        x->category = arena_text(a, store_cell(&r, i, 4));
        x->avg = arena_text(a, store_cell(&r, i, 5));
        x->min = arena_text(a, store_cell(&r, i, 6));
        x->max = arena_text(a, store_cell(&r, i, 7));
        x->count = sv_as_int(store_cell(&r, i, 8));
        x->unit = arena_text(a, store_cell(&r, i, 9));
        const struct sval *lo = store_cell(&r, i, 10), *hi = store_cell(&r, i, 11);
        x->has_rmin = lo->type == SV_REAL || lo->type == SV_INT;
        x->rmin = lo->type == SV_REAL ? lo->d : (double)lo->i;
        x->has_rmax = hi->type == SV_REAL || hi->type == SV_INT;
        x->rmax = hi->type == SV_REAL ? hi->d : (double)hi->i;
        x->status = labs_status_flag(sv_as_text(store_cell(&r, i, 12)));
        if (!x->name || !x->code || !x->loinc || !x->category)
            continue; /* rows written by hand without a test identity */
        n++;
    }
    store_rows_free(&r);
    *out = g;
    *nout = n;
    return MLW_OK;
}

#define AGG_COLS "test_name, test_code, loinc_code, test_category, avg_value, min_value," \
                 " max_value, count, unit, normal_range_min, normal_range_max, status"

static int recompute_period(struct store *st, enum level lv, int64_t user, mlw_day first,
                            const char *now, struct arena *a, struct mlw_err *err)
{
    int y, m, d;
    mlw_civil_from_days(first, &y, &m, &d);
    char d0[MLW_DATE_LEN], d1[MLW_DATE_LEN];
    struct lab_agg *in = NULL, *out = NULL;
    size_t nin = 0, nout = 0;
    int rc;
    if (lv == L_QUARTERLY) {
        int q0 = ((m - 1) / 3) * 3 + 1;
        struct sval p[4] = {sv_int(user), sv_int(y), sv_int(q0), sv_int(q0 + 2)};
        rc = read_aggs(st,
                       "SELECT year * 100 + month, " AGG_COLS " FROM lab_reports_monthly"
                       " WHERE user_id=? AND year=? AND month>=? AND month<=?",
                       p, 4, 1, a, &in, &nin, err);
        first = mlw_days_from_civil(y, q0, 1);
    } else {
        mlw_day last = lv == L_MONTHLY ? mlw_month_end(first) : mlw_days_from_civil(y, 12, 31);
        if (lv == L_YEARLY)
            first = mlw_days_from_civil(y, 1, 1);
        mlw_date_format(first, d0);
        mlw_date_format(last, d1);
        struct sval p[3] = {sv_int(user), sv_text(d0), sv_text(d1)};
        rc = read_aggs(st,
                       "SELECT date, " AGG_COLS " FROM lab_reports_daily"
                       " WHERE user_id=? AND date>=? AND date<=?",
                       p, 3, 0, a, &in, &nin, err);
    }
    if (rc)
        return rc;
    if (labs_rollup(in, nin, first, a, &out, &nout))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    return write_level(st, lv, user, first, out, nout, now, err);
}

/* ---- the group processor ----------------------------------------------------------- */

static int finish(struct store *st, int64_t id, const char *status, const char *reason,
                  const char *now, struct mlw_err *err)
{
    struct sval p[4] = {sv_text(status), sv_text(reason), sv_text(now), sv_int(id)};
    int64_t changed = 0;
    int rc = store_exec(st, SQL_FINISH, p, 4, &changed, err);
    return rc ? rc : changed > 0;
}

static int is_blank(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

/* Text of a cell that should be text (SQLite may hold a number there). */
static const char *cell_text(struct arena *a, const struct sval *v)
{
    char b[64];
    switch (v->type) {
    case SV_TEXT: return arena_strndup(a, v->s, v->n);
    case SV_INT: snprintf(b, sizeof b, "%lld", (long long)v->i); return arena_strdup(a, b);
    case SV_REAL: labs_format_number(v->d, b); return arena_strdup(a, b);
    default: return NULL;
    }
}

/*
 * LOINC_ENABLED=1: a name the catalog left unresolved (Others, UNKNOWN) goes
 * to the ML engine (ml/mlctx.h) for a LOINC code and a category. The
 * catalog's and an operator's decisions are never changed. A load or
 * encoder error is returned: the batch rolls back and its rows stay pending.
 */
static int ml_refine(const struct labcat *cat, struct arena *a, const char *name,
                     const char *context, const char *unit, struct decision *d,
                     struct mlw_err *err)
{
    if (d->manual || strcmp(d->kind, "none") != 0)
        return MLW_OK;
    struct mlctx *m = NULL;
    int rc = mlctx_acquire(cat, &m, err);
    if (rc == MLW_OK && m == NULL)
        d->ml_off = 1;
    if (rc || m == NULL)
        return rc;
    /* a specimen the name states is already in its words (lexical
     * evidence); only one learnt from the report section adds to them */
    char norm[2 * LABCAT_MAX_NAME];
    enum labcat_specimen own = LABCAT_SPEC_NONE;
    labcat_normalize(name, strlen(name), norm, sizeof norm, &own);
    struct mlctx_query q = {name, own == LABCAT_SPEC_NONE ? d->specimen : NULL, unit, context};
    struct mlctx_decision md;
    if ((rc = mlctx_decide(m, &q, &md, err)))
        return rc;
    d->has_loinc_score = md.has_candidates;
    d->loinc_score = md.loinc_score;
    d->needs_review = md.needs_review;
    if (md.loinc[0]) {
        d->loinc = arena_strdup(a, md.loinc);
        d->loinc_source = md.loinc_source;
    }
    if (md.category) {
        d->category = md.category;
        d->category_source = md.category_source;
    }
    if (md.category_source || md.category_score != 0.0) {
        d->has_category_score = 1;
        d->category_score = md.category_score;
    }
    size_t n = strlen(d->reason) + strlen(md.why) + 4;
    char *why = arena_alloc(a, n);
    if (!d->loinc || !why)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    snprintf(why, n, "%s; %s", d->reason, md.why);
    d->reason = why;
    return MLW_OK;
}

/*
 * The pipeline's checks of one batch row, in the original's order (labs_group
 * and labs_job_expect_row both call this, so verify cannot drift from the
 * pipeline): NULL when the row is good (*day set), else the failure reason
 * (static text, or why) with *status "insufficient" or "failed".
 */
static const char *check_row(const struct store_rows *c, size_t i, struct arena *a, mlw_day *day,
                             const char **status, char *why, size_t why_len)
{
    const struct sval *dv = store_cell(c, i, C_DATE);
    const char *name = cell_text(a, store_cell(c, i, C_NAME));
    const char *value = cell_text(a, store_cell(c, i, C_VALUE));
    const char *bad_date = "not a date";
    char shown[64];
    *status = "insufficient";
    if (is_blank(value))
        return "Missing test_value";
    if (is_blank(name))
        return "Missing test_name";
    if (dv->type == SV_NULL || (sv_as_text(dv) && is_blank(sv_as_text(dv))))
        return "Missing test_date";
    *status = "failed";
    if (!sv_as_text(dv) || mlw_date_parse(dv->s, dv->n, day, &bad_date)) {
        pipeline_describe(dv, shown, sizeof shown);
        snprintf(why, why_len, "invalid test_date '%s': %s", shown, bad_date);
        return why;
    }
    if (strlen(name) > NAME_MAX_BYTES) {
        snprintf(why, why_len, "test_name is %zu bytes long (at most %d)", strlen(name),
                 NAME_MAX_BYTES);
        return why;
    }
    if (pipeline_check_text(c, i, TEXT_COLS, N_TEXT_COLS, why, why_len))
        return why;
    *status = "categorized";
    return NULL;
}

/* The decision for a good batch row: manual mapping or catalog, then the ML
 * step (LOINC_ENABLED=1). *name: the collapsed name, *context: the row's
 * report section (arena). */
static int decide_row(struct store *st, const struct labcat *cat, const struct store_rows *c,
                      size_t i, struct arena *a, struct decision *d, char **name,
                      const char **context, struct mlw_err *err)
{
    *name = collapse(a, cell_text(a, store_cell(c, i, C_NAME)));
    *context = cell_text(a, store_cell(c, i, C_CAT));
    if (!*name)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc = decide(st, cat, a, *name, *context, d, err);
    if (rc == MLW_OK)
        rc = ml_refine(cat, a, *name, *context, cell_text(a, store_cell(c, i, C_UNIT)), d, err);
    return rc;
}

static int categorize_row(struct store *st, const struct labcat *cat, const struct store_rows *c,
                          size_t i, mlw_day day, const char *version, const char *now,
                          struct arena *a, struct mlw_err *err)
{
    int64_t id = sv_as_int(store_cell(c, i, C_ID));
    char *name;
    const char *context;
    struct decision d;
    int rc = decide_row(st, cat, c, i, a, &d, &name, &context, err);
    if (rc)
        return rc;
    char date[MLW_DATE_LEN];
    mlw_date_format(day, date);
    /* the raw row's own columns are copied as they are */
    const struct sval *created = store_cell(c, i, C_CREATED);
    struct sval p[32] = {sv_int(id),
                         *store_cell(c, i, C_USER),
                         sv_text(d.name),
                         sv_text(d.code),
                         sv_text(d.loinc),
                         *store_cell(c, i, C_CAT),
                         *store_cell(c, i, C_VALUE),
                         *store_cell(c, i, C_UNIT),
                         *store_cell(c, i, C_RANGE),
                         *store_cell(c, i, C_STATUS),
                         *store_cell(c, i, C_LAB),
                         *store_cell(c, i, C_ADDRESS),
                         *store_cell(c, i, C_PHYSICIAN),
                         sv_text(date),
                         *store_cell(c, i, C_REPORT_DATE),
                         *store_cell(c, i, C_NOTES),
                         *store_cell(c, i, C_METHOD),
                         *store_cell(c, i, C_DOC),
                         *store_cell(c, i, C_CONFIDENCE),
                         *store_cell(c, i, C_RAW_TEXT),
                         sv_text(d.category),
                         created->type == SV_NULL ? sv_text(now) : *created,
                         sv_text(now),
                         sv_text(d.kind),
                         sv_real(d.score),
                         sv_text(d.reason),
                         sv_text(version),
                         sv_text(d.loinc_source),
                         d.has_loinc_score ? sv_real(d.loinc_score) : sv_null(),
                         sv_int(d.needs_review),
                         sv_text(d.category_source),
                         d.has_category_score ? sv_real(d.category_score) : sv_null()};
    if ((rc = store_exec(st, SQL_CAT_UPSERT, p, 32, NULL, err)))
        return rc;
    if (d.manual || d.mapped)
        return MLW_OK;
    /* the name's automatic mapping, with its provenance */
    char *key = ascii_lower(a, name), desc[400];
    if (!key)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    snprintf(desc, sizeof desc, "mlworker catalog %s: %s", version, d.reason);
    int known = strcmp(d.kind, "none") != 0;
    /* the mapping keeps the catalog's decision: an ML category is per row */
    struct sval m[14] = {sv_text(key),
                         sv_text(name),
                         sv_text(d.code),
                         sv_text(known ? d.category : LABCAT_OTHERS),
                         sv_text(context && *context ? context : NULL),
                         sv_text(desc),
                         known && strcmp(d.loinc, LABCAT_LOINC_UNKNOWN) ? sv_text(d.loinc) : sv_null(),
                         known && strcmp(d.loinc, LABCAT_LOINC_UNKNOWN) ? sv_text("CATALOG") : sv_null(),
                         sv_text(d.kind),
                         sv_real(d.score),
                         sv_text(d.reason),
                         sv_text(version),
                         sv_text(now),
                         sv_text(now)};
    return store_exec(st, SQL_MAPPING_AUTO, m, 14, NULL, err);
}

static int labs_group(struct store *st, const struct store_rows *c, const struct group *g,
                      struct arena *a, struct pipeline_stats *gs, struct mlw_err *err)
{
    const struct labcat *cat = labs_catalog(err);
    if (!cat)
        return MLW_EFORMAT;
    char now[MLW_TS_LEN], version[17];
    mlw_utc_now_text(now);
    catalog_version(cat, version);
    struct dayset days;
    if (dayset_init(&days, a, 2 * g->n))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc = MLW_OK;
    for (size_t k = 0; k < g->n && rc == MLW_OK; k++) {
        size_t i = g->rows[k];
        int64_t id = sv_as_int(store_cell(c, i, C_ID));
        const struct sval *ov = store_cell(c, i, C_OLD_DATE);
        const char *status;
        char why[256];
        mlw_day day = 0, old = 0;
        int had_old = sv_as_text(ov) && mlw_date_parse(ov->s, ov->n, &old, NULL) == 0;
        const char *reason = check_row(c, i, a, &day, &status, why, sizeof why);
        if (reason) {
            int changed = finish(st, id, status, reason, now, err);
            if (changed < 0)
                return changed;
            if (changed == 0)
                continue;
            struct sval p[1] = {sv_int(id)};
            if ((rc = store_exec(st, SQL_CAT_DELETE, p, 1, NULL, err)))
                return rc;
            if (had_old)
                dayset_add(&days, old);
            gs->failed++;
            continue;
        }
        if ((rc = categorize_row(st, cat, c, i, day, version, now, a, err)))
            return rc;
        int changed = finish(st, id, "categorized", NULL, now, err);
        if (changed < 0)
            return changed;
        gs->done++;
        dayset_add(&days, day);
        if (had_old && old != day)
            dayset_add(&days, old);
    }
    struct dayset months, quarters, years;
    if (dayset_init(&months, a, days.n) || dayset_init(&quarters, a, days.n) ||
        dayset_init(&years, a, days.n))
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    dayset_sort(&days);
    for (size_t i = 0; i < days.n && rc == MLW_OK; i++) {
        int y, m, d;
        rc = recompute_day(st, g->user_id, days.d[i], now, a, err);
        mlw_civil_from_days(days.d[i], &y, &m, &d);
        dayset_add(&months, mlw_month_start(days.d[i]));
        dayset_add(&quarters, mlw_days_from_civil(y, ((m - 1) / 3) * 3 + 1, 1));
        dayset_add(&years, mlw_days_from_civil(y, 1, 1));
    }
    /* months before quarters: a quarter is computed from its monthly rows */
    for (size_t i = 0; i < months.n && rc == MLW_OK; i++)
        rc = recompute_period(st, L_MONTHLY, g->user_id, months.d[i], now, a, err);
    for (size_t i = 0; i < quarters.n && rc == MLW_OK; i++)
        rc = recompute_period(st, L_QUARTERLY, g->user_id, quarters.d[i], now, a, err);
    for (size_t i = 0; i < years.n && rc == MLW_OK; i++)
        rc = recompute_period(st, L_YEARLY, g->user_id, years.d[i], now, a, err);
    return rc;
}

const struct domain_ops labs_domain = {
    .name = "lab reports",
    .table = "lab_reports",
    .status_column = "categorization_status",
    .finished_at_column = "",
    .select_sql = SELECT_HEAD SELECT_TAIL,
    .select_user_sql = SELECT_HEAD " AND r.user_id=?" SELECT_TAIL,
    .begin_batch = mlctx_llm_budget_start,
    .process_group = labs_group,
};

/* ---- catalog sync ------------------------------------------------------------------ */

static const char SQL_CATALOG_ROW[] =
    "INSERT INTO lab_test_mappings (test_name, test_name_standardized, test_code, test_category,"
    " common_units, loinc_code, loinc_source, is_active, is_standardized, mapping_source,"
    " description, catalog_version, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, TRUE, TRUE, 'catalog', ?, ?, ?, ?)"
    " ON CONFLICT (test_name) DO UPDATE SET"
    " test_name_standardized=excluded.test_name_standardized, test_code=excluded.test_code,"
    " test_category=excluded.test_category,"
    " common_units=COALESCE(lab_test_mappings.common_units, excluded.common_units),"
    " loinc_code=excluded.loinc_code, loinc_source=excluded.loinc_source, is_active=TRUE,"
    " catalog_version=excluded.catalog_version, updated_at=excluded.updated_at"
    " WHERE lab_test_mappings.mapping_source IS NULL"
    " OR lab_test_mappings.mapping_source<>'manual'";
static const char SQL_SEED_ROW[] =
    "UPDATE lab_test_mappings SET test_name_standardized=?, test_code=?, test_category=?,"
    " loinc_code=?, loinc_source=?, catalog_version=?, updated_at=?"
    " WHERE test_name=? AND mapping_source='seed'";
static const char SQL_RETIRE[] =
    "UPDATE lab_test_mappings SET is_active=FALSE, updated_at=?"
    " WHERE mapping_source='catalog' AND catalog_version<>?";
static const char SQL_AUTO_ROWS[] =
    "SELECT id, test_name, test_name_standardized, gpt_suggested_category FROM lab_test_mappings"
    " WHERE mapping_source IS NULL OR mapping_source='auto'";
static const char SQL_AUTO_UPDATE[] =
    "UPDATE lab_test_mappings SET test_code=?, test_category=?, loinc_code=?, loinc_source=?,"
    " match_kind=?, match_score=?, match_reason=?, catalog_version=?, mapping_source='auto',"
    " updated_at=? WHERE id=?";
static const char SQL_RECHECK[] =
    "SELECT c.id, r.test_name, r.test_category, c.inferred_test_category, c.test_code,"
    " c.loinc_code, c.test_name FROM lab_report_categorized c JOIN lab_reports r ON r.id = c.id"
    " WHERE r.categorization_status='categorized' AND c.id>?"
    " AND (c.catalog_version IS NULL OR c.catalog_version<>?) ORDER BY c.id LIMIT 500";

/* pg_advisory_xact_lock key of the catalog sync: far above the pipeline's
 * per-user keys, (domain letter << 48) ^ user id. */
#define SYNC_LOCK_KEY ((int64_t)0x7f4c616273796e63LL)

static int same(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

static int sync_once(struct store *st, const struct labcat *cat, int *synced, int64_t *requeued,
                     struct mlw_err *err)
{
    char now[MLW_TS_LEN], version[17];
    mlw_utc_now_text(now);
    catalog_version(cat, version);
    struct arena a;
    arena_init(&a, 64 * 1024);
    struct store_rows r = {0};
    int rc = store_begin(st, err);
    if (rc) {
        arena_free(&a);
        return rc;
    }
    /* PostgreSQL: workers starting together sync one after the other (the
     * later ones then find the version current); SQLite's write transaction
     * already serializes them. */
    if (st->dialect == DB_POSTGRES) {
        struct sval k[1] = {sv_int(SYNC_LOCK_KEY)};
        if ((rc = store_query(st, "SELECT pg_advisory_xact_lock(?)", k, 1, &r, err)))
            goto out;
        store_rows_free(&r);
    }
    if ((rc = store_query(st, "SELECT version FROM mlw_lab_catalog WHERE id=1", NULL, 0, &r, err)))
        goto out;
    int current = r.nrows && same(sv_as_text(store_cell(&r, 0, 0)), version);
    store_rows_free(&r);
    if (current)
        goto out;
    /* 1. one row per catalog test; the seed rows get their test's decision */
    for (size_t i = 0; i < labcat_ntests(cat) && rc == MLW_OK; i++) {
        const struct labcat_test *t = labcat_test_at(cat, i);
        const char *category = labcat_category_at(cat, (size_t)t->category)->name;
        const char *loinc = t->nloinc ? t->loinc[0] : NULL;
        char desc[200];
        snprintf(desc, sizeof desc, "mlworker lab catalog: %s (%s)", t->name,
                 labcat_specimen_name(t->specimen));
        struct sval p[11] = {sv_text(t->name),   sv_text(t->name),
                             sv_text(t->code),   sv_text(category),
                             sv_text(*t->unit ? t->unit : NULL), sv_text(loinc),
                             sv_text(loinc ? "CATALOG" : NULL), sv_text(desc),
                             sv_text(version),   sv_text(now),
                             sv_text(now)};
        rc = store_exec(st, SQL_CATALOG_ROW, p, 11, NULL, err);
        for (int s = 0; s < t->nseeds && rc == MLW_OK; s++) {
            struct sval q[8] = {sv_text(t->name), sv_text(t->code), sv_text(category),
                                sv_text(loinc), sv_text(loinc ? "CATALOG" : NULL),
                                sv_text(version), sv_text(now), sv_text(t->seeds[s])};
            rc = store_exec(st, SQL_SEED_ROW, q, 8, NULL, err);
        }
    }
    struct sval rp[2] = {sv_text(now), sv_text(version)};
    if (rc || (rc = store_exec(st, SQL_RETIRE, rp, 2, NULL, err)))
        goto out;
    /* 2. automatic mappings (and the original worker's) are decided again */
    if ((rc = store_query(st, SQL_AUTO_ROWS, NULL, 0, &r, err)))
        goto out;
    for (size_t i = 0; i < r.nrows && rc == MLW_OK; i++) {
        const char *std = sv_as_text(store_cell(&r, i, 2));
        const char *name = std && *std ? std : sv_as_text(store_cell(&r, i, 1));
        if (!name)
            continue;
        struct labcat_result m;
        labcat_match(cat, name, strlen(name), sv_as_text(store_cell(&r, i, 3)), &m);
        char derived[256];
        labcat_derive_code(name, strlen(name), derived, sizeof derived);
        int known = m.kind != LABCAT_NONE && strcmp(m.loinc, LABCAT_LOINC_UNKNOWN);
        struct sval p[10] = {sv_text(m.kind != LABCAT_NONE ? m.code : derived),
                             sv_text(m.category),
                             known ? sv_text(m.loinc) : sv_null(),
                             known ? sv_text("CATALOG") : sv_null(),
                             sv_text(labcat_kind_name(m.kind)),
                             sv_real(m.score),
                             sv_text(m.why),
                             sv_text(version),
                             sv_text(now),
                             *store_cell(&r, i, 0)};
        rc = store_exec(st, SQL_AUTO_UPDATE, p, 10, NULL, err);
    }
    store_rows_free(&r);
    if (rc)
        goto out;
    /* 3. categorized rows decided by another catalog: re-queue those whose
     * decision changes, stamp the others */
    int64_t last = -1;
    for (;;) {
        struct sval p[2] = {sv_int(last), sv_text(version)};
        if ((rc = store_query(st, SQL_RECHECK, p, 2, &r, err)))
            goto out;
        if (r.nrows == 0) {
            store_rows_free(&r);
            break;
        }
        for (size_t i = 0; i < r.nrows && rc == MLW_OK; i++) {
            int64_t id = sv_as_int(store_cell(&r, i, 0));
            last = id;
            arena_reset(&a);
            const char *raw = sv_as_text(store_cell(&r, i, 1));
            char *name = raw ? collapse(&a, raw) : NULL;
            struct decision d;
            if (!name) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            if ((rc = decide(st, cat, &a, name, sv_as_text(store_cell(&r, i, 2)), &d, err)))
                break;
            int changed = !same(d.category, sv_as_text(store_cell(&r, i, 3))) ||
                          !same(d.code, sv_as_text(store_cell(&r, i, 4))) ||
                          !same(d.loinc, sv_as_text(store_cell(&r, i, 5))) ||
                          !same(d.name, sv_as_text(store_cell(&r, i, 6)));
            if (changed) {
                struct sval q[2] = {sv_text(now), sv_int(id)};
                rc = store_exec(st,
                                "UPDATE lab_reports SET categorization_status='pending',"
                                " updated_at=? WHERE id=? AND categorization_status='categorized'",
                                q, 2, NULL, err);
                (*requeued)++;
            } else {
                struct sval q[2] = {sv_text(version), sv_int(id)};
                rc = store_exec(st, "UPDATE lab_report_categorized SET catalog_version=? WHERE id=?",
                                q, 2, NULL, err);
            }
        }
        store_rows_free(&r);
        if (rc)
            goto out;
    }
    struct sval vp[3] = {sv_text(version), sv_int((int64_t)labcat_ntests(cat)), sv_text(now)};
    rc = store_exec(st,
                    "INSERT INTO mlw_lab_catalog (id, version, tests, synced_at) VALUES (1, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET version=excluded.version,"
                    " tests=excluded.tests, synced_at=excluded.synced_at",
                    vp, 3, NULL, err);
    if (rc == MLW_OK)
        *synced = 1;
out:
    store_rows_free(&r);
    if (rc == MLW_OK)
        rc = store_commit(st, err);
    if (rc) {
        store_rollback(st);
        *synced = 0;
        *requeued = 0;
    }
    arena_free(&a);
    return rc;
}

int labs_catalog_sync(struct store *st, int *synced, int64_t *requeued, struct mlw_err *err)
{
    *synced = 0;
    *requeued = 0;
    if (!labs_available(st))
        return MLW_OK;
    const struct labcat *cat = labs_catalog(err);
    if (!cat)
        return MLW_EFORMAT;
    int rc = MLW_OK;
    for (int attempt = 0; attempt < 8; attempt++) {
        struct mlw_err e = {0};
        rc = sync_once(st, cat, synced, requeued, &e);
        if (rc == MLW_OK || !store_is_retryable(rc)) {
            if (rc)
                mlw_err_set(err, rc, "lab catalog sync: %s", e.msg);
            break;
        }
        struct timespec ts = {0, 50000000L * (attempt + 1)};
        nanosleep(&ts, NULL);
    }
    return rc;
}

/* ---- operator tools (src/ops/): the same steps, one at a time ---------------------- */

const char labs_job_row_cols[] = ROW_COLS;
const char labs_job_row_from[] = ROW_FROM;

/* The checks and the decision of labs_group and categorize_row for one row,
 * without writing anything. */
int labs_job_expect_row(struct store *st, const struct store_rows *c, size_t i, struct arena *a,
                        struct labs_job_expect *out, struct mlw_err *err)
{
    char why[256];
    memset(out, 0, sizeof *out);
    const struct labcat *cat = labs_catalog(err);
    if (!cat)
        return MLW_EFORMAT;
    mlw_day day = 0;
    const char *reason = check_row(c, i, a, &day, &out->status, why, sizeof why);
    if (reason) {
        out->reason = reason == why ? arena_strdup(a, why) : reason;
        return out->reason ? MLW_OK : mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    out->day = day;
    char *name;
    const char *context;
    struct decision d;
    int rc = decide_row(st, cat, c, i, a, &d, &name, &context, err);
    if (rc)
        return rc;
    out->name = d.name;
    out->code = d.code;
    out->loinc = d.loinc;
    out->category = d.category;
    out->loinc_source = d.loinc_source;
    out->category_source = d.category_source;
    out->has_loinc_score = d.has_loinc_score;
    out->loinc_score = d.loinc_score;
    out->needs_review = d.needs_review;
    out->has_category_score = d.has_category_score;
    out->category_score = d.category_score;
    out->ml_off = d.ml_off;
    return MLW_OK;
}

int labs_job_recompute(struct store *st, int64_t user, mlw_day day, struct arena *a,
                       struct mlw_err *err)
{
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    int y, m, d;
    mlw_civil_from_days(day, &y, &m, &d);
    int rc = recompute_day(st, user, day, now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, L_MONTHLY, user, mlw_month_start(day), now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, L_QUARTERLY, user, mlw_days_from_civil(y, ((m - 1) / 3) * 3 + 1, 1),
                              now, a, err);
    if (rc == MLW_OK)
        rc = recompute_period(st, L_YEARLY, user, mlw_days_from_civil(y, 1, 1), now, a, err);
    return rc;
}
