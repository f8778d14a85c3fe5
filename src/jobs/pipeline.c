/* pipeline.c - claims, grouping and the per-group transaction loop shared
 * by every domain. See pipeline.h for the guarantees. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/signals.h"
#include "jobs/pipeline_int.h"

#define BATCH_ATTEMPTS 8


static const struct domain_ops *domain_of(enum domain d)
{
    switch (d) {
    case DOMAIN_VITALS: return &vitals_domain;
    case DOMAIN_NUTRITION: return &nutrition_domain;
    case DOMAIN_LABS: return &labs_domain;
    }
    return &vitals_domain;
}

static const char *status_col(const struct domain_ops *ops)
{
    return ops->status_column ? ops->status_column : "aggregation_status";
}

/* The domain whose raw table this is (pipeline_finish_row's callers pass
 * the table); NULL for other tables. */
static const struct domain_ops *domain_by_table(const char *table)
{
    const struct domain_ops *all[] = {&vitals_domain, &nutrition_domain, &labs_domain};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->table, table) == 0)
            return all[i];
    return NULL;
}


int dayset_init(struct dayset *s, struct arena *a, size_t cap)
{
    s->d = arena_alloc(a, (cap ? cap : 1) * sizeof *s->d);
    s->n = 0;
    s->cap = cap;
    return s->d ? 0 : -1;
}

void dayset_add(struct dayset *s, mlw_day d)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->d[i] == d)
            return;
    if (s->n < s->cap)
        s->d[s->n++] = d;
}

static int cmp_day(const void *a, const void *b)
{
    mlw_day x = *(const mlw_day *)a, y = *(const mlw_day *)b;
    return x < y ? -1 : x > y;
}

void dayset_sort(struct dayset *s) { qsort(s->d, s->n, sizeof *s->d, cmp_day); }

int pipeline_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pipeline_describe(const struct sval *v, char *out, size_t cap)
{
    if (v->type == SV_NULL) {
        snprintf(out, cap, "NULL");
        return;
    }
    if (v->type == SV_INT) {
        snprintf(out, cap, "%lld", (long long)v->i);
        return;
    }
    if (v->type == SV_REAL) {
        snprintf(out, cap, "%g", v->d);
        return;
    }
    size_t o = 0, limit = cap > 48 ? 40 : cap - 8;
    for (size_t i = 0; i < v->n && o < limit; i++)
        out[o++] = isprint((unsigned char)v->s[i]) ? v->s[i] : '?';
    if (v->n > limit)
        out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
}

/* Characters of UTF-8 text (bytes that do not continue a sequence). */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

int pipeline_check_text(const struct store_rows *c, size_t i, const struct pipeline_text_col *cols,
                        size_t n, char *why, size_t why_len)
{
    for (size_t k = 0; k < n; k++) {
        const struct sval *v = store_cell(c, i, cols[k].col);
        if (v->type != SV_TEXT || v->n <= cols[k].max_chars)
            continue;
        if (utf8_chars(v->s, v->n) > cols[k].max_chars) {
            snprintf(why, why_len, "%s is longer than %zu characters", cols[k].name,
                     cols[k].max_chars);
            return -1;
        }
    }
    return 0;
}

/* Legacy rows: the original worker marks rows 'processing' (updated_at =
 * UTC now) and may die before finishing them. Give them back after the
 * claim timeout. It also knows a 'queued' status that means pending; fold
 * it into 'pending' so selection stays one ordered index range scan. */
static int reclaim_legacy(struct store *st, const struct domain_ops *ops, int timeout,
                          int64_t *reclaimed, struct mlw_err *err)
{
    char sql[256], cutoff[MLW_TS_LEN];
    time_t t = time(NULL) - timeout;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(cutoff, sizeof cutoff, "%Y-%m-%d %H:%M:%S", &tm);
    const char *col = status_col(ops);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET %s='pending'"
             " WHERE %s='processing' AND (updated_at IS NULL OR updated_at <= ?)",
             ops->table, col, col);
    struct sval p[1] = {sv_text(cutoff)};
    int rc = store_exec(st, sql, p, 1, reclaimed, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql, "UPDATE %s SET %s='pending' WHERE %s='queued'", ops->table, col,
             col);
    return store_exec(st, sql, NULL, 0, NULL, err);
}

int pipeline_finish_row(struct store *st, const char *table, int64_t id, const char *status,
                        const char *failure_reason, struct mlw_err *err)
{
    char sql[320], now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    const struct domain_ops *ops = domain_by_table(table);
    const char *col = ops ? status_col(ops) : "aggregation_status";
    const char *done = ops && ops->finished_at_column ? ops->finished_at_column : "aggregated_at";
    int ok = failure_reason == NULL;
    struct sval p[5];
    int np = 0;
    p[np++] = sv_text(status);
    p[np++] = sv_text(failure_reason);
    p[np++] = sv_text(now);
    if (*done) {
        snprintf(sql, sizeof sql,
                 "UPDATE %s SET %s=?, failure_reason=?, updated_at=?, %s=? WHERE id=? AND %s='pending'",
                 table, col, done, col);
        p[np++] = ok ? sv_text(now) : sv_null();
    } else {
        snprintf(sql, sizeof sql,
                 "UPDATE %s SET %s=?, failure_reason=?, updated_at=? WHERE id=? AND %s='pending'",
                 table, col, col);
    }
    p[np++] = sv_int(id);
    int64_t changes = 0;
    int rc = store_exec(st, sql, p, np, &changes, err);
    return rc ? rc : changes > 0;
}

int pipeline_delete_stale(struct store *st, const char *select_sql, const char *delete_sql,
                          const struct sval *scope, int nscope, char **keep, size_t nkeep,
                          struct mlw_err *err)
{
    struct store_rows r;
    int rc = store_query(st, select_sql, scope, nscope, &r, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < r.nrows && rc == MLW_OK; i++) {
        const char *key = sv_as_text(store_cell(&r, i, 1));
        if (key && nkeep && bsearch(&key, keep, nkeep, sizeof *keep, pipeline_cmp_str))
            continue;
        struct sval p[1] = {*store_cell(&r, i, 0)};
        rc = store_exec(st, delete_sql, p, 1, NULL, err);
    }
    store_rows_free(&r);
    return rc;
}

static int cmp_rows_by_user(const void *pa, const void *pb, void *ctx)
{
    const struct store_rows *rows = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int64_t ua = sv_as_int(store_cell(rows, a, 1)), ub = sv_as_int(store_cell(rows, b, 1));
    if (ua != ub)
        return ua < ub ? -1 : 1;
    int64_t ia = sv_as_int(store_cell(rows, a, 0)), ib = sv_as_int(store_cell(rows, b, 0));
    return ia < ib ? -1 : ia > ib;
}

/* Split a batch into per-user groups (ordered by user, then id), so each
 * affected day, week and month is recomputed once per batch, and so
 * workers that lock buckets per user always lock in the same order. */
static int make_groups(const struct store_rows *rows, struct arena *a, struct group **out,
                       size_t *ngroups)
{
    size_t n = rows->nrows;
    size_t *index = arena_alloc(a, n * sizeof *index);
    struct group *groups = arena_alloc(a, n * sizeof *groups);
    if (!index || !groups)
        return -1;
    for (size_t i = 0; i < n; i++)
        index[i] = i;
    qsort_r(index, n, sizeof *index, cmp_rows_by_user, (void *)rows);
    size_t ng = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        int64_t u = sv_as_int(store_cell(rows, index[i], 1));
        while (j < n && sv_as_int(store_cell(rows, index[j], 1)) == u)
            j++;
        groups[ng++] = (struct group){u, index + i, j - i};
        i = j;
    }
    *out = groups;
    *ngroups = ng;
    return 0;
}

static void backoff_sleep(int attempt)
{
    /* 20 ms, 40 ms, ... with jitter so competing workers spread out. */
    double base = 0.02 * (double)(1 << attempt);
    double jitter = (double)(rand() % 1000) / 1000.0 * base;
    double s = base + jitter;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Serialize writers of one user's buckets. Two workers holding different
 * raw rows of the same user would otherwise each recompute that user's
 * buckets without seeing the other's uncommitted samples. Groups are taken
 * in ascending user order, so workers cannot deadlock on these locks.
 * SQLite needs nothing: its write lock already serializes transactions. */
static int lock_user(struct store *st, const struct domain_ops *ops, int64_t user,
                     struct mlw_err *err)
{
    if (st->dialect != DB_POSTGRES)
        return MLW_OK;
    int64_t key = ((int64_t)(ops->table[0]) << 48) ^ user; /* 'v'itals, 'n'utrition, 'l'abs */
    struct sval p[1] = {sv_int(key)};
    struct store_rows r;
    int rc = store_query(st, "SELECT pg_advisory_xact_lock(?)", p, 1, &r, err);
    if (rc == MLW_OK)
        store_rows_free(&r);
    return rc;
}

/* One attempt: everything inside one transaction. */
static int run_once(struct store *st, const struct domain_ops *ops, const struct pipeline_opts *opts,
                    struct arena *a, struct pipeline_stats *bs, int64_t *nrows, struct mlw_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    if (ops->begin_batch)
        ops->begin_batch();
    struct store_rows rows = {0};
    if ((rc = reclaim_legacy(st, ops, opts->claim_timeout, &bs->reclaimed, err)))
        goto out;
    struct sval p[2];
    int np = 0;
    if (opts->user_id >= 0)
        p[np++] = sv_int(opts->user_id);
    p[np++] = sv_int(opts->batch_size);
    /* PostgreSQL: the selected rows stay locked until commit, and rows
     * another worker holds are skipped rather than waited for. Domains
     * alias their raw table as r (vitals joins its categorized copies). */
    char sql[4096];
    snprintf(sql, sizeof sql, "%s%s", opts->user_id >= 0 ? ops->select_user_sql : ops->select_sql,
             st->dialect == DB_POSTGRES ? " FOR UPDATE OF r SKIP LOCKED" : "");
    if ((rc = store_query(st, sql, p, np, &rows, err)))
        goto out;
    struct group *groups = NULL;
    size_t ng = 0;
    if (rows.nrows && make_groups(&rows, a, &groups, &ng)) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t gi = 0; gi < ng && rc == MLW_OK; gi++) {
        if (!opts->whole_batch && signals_stop_requested())
            break; /* commit what is done; the rest stays pending */
        if ((rc = lock_user(st, ops, groups[gi].user_id, err)))
            break;
        rc = ops->process_group(st, &rows, &groups[gi], a, bs, err);
        if (rc == MLW_OK) {
            bs->groups++;
            bs->claimed += (int64_t)groups[gi].n;
            *nrows += (int64_t)groups[gi].n;
        }
    }
out:
    store_rows_free(&rows);
    if (rc == MLW_OK)
        rc = store_commit(st, err);
    if (rc)
        store_rollback(st);
    return rc;
}

int pipeline_run_batch(struct store *st, enum domain d, const struct pipeline_opts *opts,
                       struct pipeline_stats *stats, int64_t *nrows, struct mlw_err *err)
{
    const struct domain_ops *ops = domain_of(d);
    struct arena a;
    arena_init(&a, 256 * 1024);
    int rc;
    for (int attempt = 0;; attempt++) {
        struct pipeline_stats bs = {0};
        struct mlw_err e = {0};
        *nrows = 0;
        arena_reset(&a);
        rc = run_once(st, ops, opts, &a, &bs, nrows, &e);
        if (rc == MLW_OK) {
            stats->claimed += bs.claimed;
            stats->done += bs.done;
            stats->failed += bs.failed;
            stats->groups += bs.groups;
            stats->reclaimed += bs.reclaimed;
            if (bs.reclaimed)
                log_warn("\xe2\x99\xbb\xef\xb8\x8f  Returned %lld stale 'processing' %s row(s) "
                         "older than %ds to pending",
                         (long long)bs.reclaimed, ops->name, opts->claim_timeout);
            break;
        }
        *nrows = 0;
        if (store_is_retryable(rc) && attempt + 1 < BATCH_ATTEMPTS && !signals_stop_requested()) {
            stats->retries++;
            if (rc == MLW_ETRANSIENT) /* lost connection: operators want to see it */
                log_warn("\xe2\x9a\xa0\xef\xb8\x8f  %s batch: %s; retrying", ops->name, e.msg);
            else
                log_debug("%s batch: %s; retrying", ops->name, e.msg);
            backoff_sleep(attempt);
            continue;
        }
        mlw_err_set(err, rc, "%s batch: %s", ops->name, e.msg);
        break;
    }
    arena_free(&a);
    return rc;
}

int pipeline_pending(struct store *st, enum domain d, const struct pipeline_opts *opts,
                     int64_t *count, struct mlw_err *err)
{
    const struct domain_ops *ops = domain_of(d);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s IN ('pending', 'queued')%s",
             ops->table, status_col(ops), opts->user_id >= 0 ? " AND user_id = ?" : "");
    struct sval p[1] = {sv_int(opts->user_id)};
    struct store_rows r;
    int rc = store_query(st, sql, p, opts->user_id >= 0 ? 1 : 0, &r, err);
    if (rc)
        return rc;
    *count = r.nrows ? sv_as_int(store_cell(&r, 0, 0)) : 0;
    store_rows_free(&r);
    return MLW_OK;
}

/* ---- operator tools ------------------------------------------------------------ */

int pipeline_lock_user(struct store *st, enum domain d, int64_t user, struct mlw_err *err)
{
    return lock_user(st, domain_of(d), user, err);
}

int pipeline_reprocess(struct store *st, enum domain d, int64_t user, const int64_t *ids,
                       size_t n, struct pipeline_stats *stats, int64_t *processed,
                       struct mlw_err *err)
{
    const struct domain_ops *ops = domain_of(d);
    const char *col = status_col(ops);
    char sql[4096], now[MLW_TS_LEN];
    int rc = MLW_OK;
    *processed = 0;
    mlw_utc_now_text(now);
    if (ops->begin_batch)
        ops->begin_batch();
    if (n) {
        struct sval *v = malloc(n * sizeof *v);
        if (!v)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            v[i] = sv_int(ids[i]);
        snprintf(sql, sizeof sql,
                 "UPDATE %s SET %s='pending', updated_at=? WHERE user_id=? AND %s<>'pending'"
                 " AND id IN",
                 ops->table, col, col);
        struct sval fixed[2] = {sv_text(now), sv_int(user)};
        rc = store_exec_in(st, sql, fixed, 2, v, n, err);
        free(v);
        if (rc)
            return rc;
    }
    snprintf(sql, sizeof sql, "%s%s", ops->select_user_sql,
             st->dialect == DB_POSTGRES ? " FOR UPDATE OF r SKIP LOCKED" : "");
    struct sval p[2] = {sv_int(user), sv_int((int64_t)n + 10000)};
    struct store_rows rows = {0};
    if ((rc = store_query(st, sql, p, 2, &rows, err)))
        return rc;
    struct arena a;
    arena_init(&a, 256 * 1024);
    struct group *groups = NULL;
    size_t ng = 0;
    if (rows.nrows && make_groups(&rows, &a, &groups, &ng))
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t gi = 0; gi < ng && rc == MLW_OK; gi++) {
        rc = ops->process_group(st, &rows, &groups[gi], &a, stats, err);
        if (rc == MLW_OK) {
            stats->groups++;
            stats->claimed += (int64_t)groups[gi].n;
            *processed += (int64_t)groups[gi].n;
        }
    }
    arena_free(&a);
    store_rows_free(&rows);
    return rc;
}
