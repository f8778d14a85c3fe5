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

#define GROUP_ATTEMPTS 6

struct batch {
    const struct domain_ops *ops;
    struct store_rows claimed;
    struct group *groups;
    size_t ngroups;
    size_t *index; /* storage for the groups' row lists */
};

static const struct domain_ops *domain_of(enum domain d)
{
    return d == DOMAIN_VITALS ? &vitals_domain : &nutrition_domain;
}

int64_t batch_size_claimed(const struct batch *b) { return b ? (int64_t)b->claimed.nrows : 0; }

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

static int reclaim_stale(struct store *st, const struct domain_ops *ops, int timeout,
                         int64_t *reclaimed, struct mlw_err *err)
{
    char sql[256], cutoff[MLW_TS_LEN];
    time_t t = time(NULL) - timeout;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(cutoff, sizeof cutoff, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET aggregation_status='pending', claimed_by=NULL, claimed_at=NULL"
             " WHERE aggregation_status='processing' AND (claimed_at IS NULL OR claimed_at <= ?)",
             ops->table);
    struct sval p[1] = {sv_text(cutoff)};
    int rc = store_exec(st, sql, p, 1, reclaimed, err);
    if (rc)
        return rc;
    /* The original treats the legacy status 'queued' as pending; folding it
     * into 'pending' keeps the claim a single ordered index range scan. */
    snprintf(sql, sizeof sql,
             "UPDATE %s SET aggregation_status='pending' WHERE aggregation_status='queued'",
             ops->table);
    return store_exec(st, sql, NULL, 0, NULL, err);
}

static int release_claims(struct store *st, const struct domain_ops *ops, int64_t *released)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET aggregation_status='pending', claimed_by=NULL, claimed_at=NULL"
             " WHERE claimed_by=? AND aggregation_status='processing'",
             ops->table);
    struct sval p[1] = {sv_text(st->worker_id)};
    struct mlw_err e = {0};
    int64_t n = 0;
    int rc = store_exec(st, sql, p, 1, &n, &e);
    if (rc)
        log_warn("could not release %s claims (%s); they return after the claim timeout",
                 ops->name, e.msg);
    else if (released)
        *released += n;
    return rc;
}

int pipeline_finish_row(struct store *st, const char *table, int64_t id, const char *status,
                        const char *failure_reason, struct mlw_err *err)
{
    char sql[320], now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET aggregation_status=?, failure_reason=?, updated_at=?, aggregated_at=?,"
             " claimed_by=NULL, claimed_at=NULL"
             " WHERE id=? AND claimed_by=? AND aggregation_status='processing'",
             table);
    int ok = failure_reason == NULL;
    struct sval p[6] = {sv_text(status), sv_text(failure_reason), sv_text(now),
                        ok ? sv_text(now) : sv_null(), sv_int(id), sv_text(st->worker_id)};
    int64_t changes = 0;
    int rc = store_exec(st, sql, p, 6, &changes, err);
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

static int cmp_rows_by_group(const void *pa, const void *pb, void *ctx)
{
    const struct store_rows *rows = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int64_t ua = sv_as_int(store_cell(rows, a, 1)), ub = sv_as_int(store_cell(rows, b, 1));
    if (ua != ub)
        return ua < ub ? -1 : 1;
    int64_t ia = sv_as_int(store_cell(rows, a, 0)), ib = sv_as_int(store_cell(rows, b, 0));
    return ia < ib ? -1 : ia > ib;
}

/* Split claimed rows into per-user groups (ordered by user, then id). All
 * of a user's days in one batch share a transaction, so each affected week
 * and month is recomputed once per batch instead of once per day. */
static int make_groups(struct batch *b)
{
    size_t n = b->claimed.nrows;
    b->index = malloc(n * sizeof *b->index);
    b->groups = malloc(n * sizeof *b->groups);
    if (!b->index || !b->groups)
        return -1;
    for (size_t i = 0; i < n; i++)
        b->index[i] = i;
    qsort_r(b->index, n, sizeof *b->index, cmp_rows_by_group, &b->claimed);
    b->ngroups = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        int64_t u = sv_as_int(store_cell(&b->claimed, b->index[i], 1));
        while (j < n && sv_as_int(store_cell(&b->claimed, b->index[j], 1)) == u)
            j++;
        b->groups[b->ngroups++] = (struct group){u, b->index + i, j - i};
        i = j;
    }
    return 0;
}

static void batch_free(struct batch *b)
{
    if (b == NULL)
        return;
    store_rows_free(&b->claimed);
    free(b->groups);
    free(b->index);
    free(b);
}

int pipeline_claim(struct store *st, enum domain d, const struct pipeline_opts *opts,
                   struct batch **out, struct pipeline_stats *stats, struct mlw_err *err)
{
    const struct domain_ops *ops = domain_of(d);
    *out = NULL;
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    int64_t reclaimed = 0;
    if ((rc = reclaim_stale(st, ops, opts->claim_timeout, &reclaimed, err)))
        goto fail;
    struct batch *b = calloc(1, sizeof *b);
    if (b == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto fail;
    }
    b->ops = ops;
    char now[MLW_TS_LEN];
    mlw_utc_now_text(now);
    struct sval p[5] = {sv_text(st->worker_id), sv_text(now), sv_text(now)};
    int np = 3;
    if (opts->user_id >= 0)
        p[np++] = sv_int(opts->user_id);
    p[np++] = sv_int(opts->batch_size);
    rc = store_query(st, opts->user_id >= 0 ? ops->claim_user_sql : ops->claim_sql, p, np,
                     &b->claimed, err);
    if (rc) {
        batch_free(b);
        goto fail;
    }
    if ((rc = store_commit(st, err))) {
        batch_free(b);
        goto fail;
    }
    if (reclaimed) {
        stats->reclaimed += reclaimed;
        log_warn("\xe2\x99\xbb\xef\xb8\x8f  Reclaimed %lld stale %s claim(s) older than %ds",
                 (long long)reclaimed, ops->name, opts->claim_timeout);
    }
    if (b->claimed.nrows == 0) {
        batch_free(b);
        return MLW_OK;
    }
    stats->claimed += (int64_t)b->claimed.nrows;
    if (make_groups(b)) {
        release_claims(st, ops, &stats->released);
        batch_free(b);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    *out = b;
    return MLW_OK;
fail:
    store_rollback(st);
    return rc;
}

static void merge_stats(struct pipeline_stats *into, const struct pipeline_stats *g)
{
    into->done += g->done;
    into->failed += g->failed;
    into->skipped += g->skipped;
    into->groups += g->groups;
}

static void backoff_sleep(int attempt)
{
    /* 20 ms, 40 ms, ... with jitter so competing workers spread out. */
    double base = 0.02 * (double)(1 << attempt);
    double jitter = (double)(rand() % 1000) / 1000.0 * base;
    struct timespec ts = {0, (long)((base + jitter) * 1e9)};
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    nanosleep(&ts, NULL);
}

int pipeline_process(struct store *st, struct batch *b, struct pipeline_stats *stats,
                     struct mlw_err *err)
{
    if (b == NULL)
        return MLW_OK;
    const struct domain_ops *ops = b->ops;
    struct arena a;
    arena_init(&a, 256 * 1024);
    int rc = MLW_OK;
    for (size_t gi = 0; gi < b->ngroups; gi++) {
        if (signals_stop_requested()) {
            rc = MLW_ESTOPPED;
            break;
        }
        const struct group *g = &b->groups[gi];
        for (int attempt = 0;; attempt++) {
            struct pipeline_stats gs = {0};
            struct mlw_err e = {0};
            arena_reset(&a);
            rc = store_begin(st, &e);
            if (rc == MLW_OK)
                rc = ops->process_group(st, &b->claimed, g, &a, &gs, &e);
            if (rc == MLW_OK)
                rc = store_commit(st, &e);
            if (rc == MLW_OK) {
                gs.groups = 1;
                merge_stats(stats, &gs);
                break;
            }
            store_rollback(st);
            if (store_is_retryable(rc) && attempt + 1 < GROUP_ATTEMPTS) {
                log_debug("%s group user %lld: %s; retrying", ops->name, (long long)g->user_id, e.msg);
                backoff_sleep(attempt);
                continue;
            }
            mlw_err_set(err, rc, "%s group (user %lld): %s", ops->name, (long long)g->user_id, e.msg);
            break;
        }
        if (rc)
            break;
    }
    arena_free(&a);
    if (rc) /* hand back what we did not finish; the next batch retries it */
        release_claims(st, ops, &stats->released);
    batch_free(b);
    return rc == MLW_ESTOPPED ? MLW_OK : rc;
}

int pipeline_pending(struct store *st, enum domain d, const struct pipeline_opts *opts,
                     int64_t *count, struct mlw_err *err)
{
    const struct domain_ops *ops = domain_of(d);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s WHERE aggregation_status IN ('pending', 'queued')%s",
             ops->table, opts->user_id >= 0 ? " AND user_id = ?" : "");
    struct sval p[1] = {sv_int(opts->user_id)};
    struct store_rows r;
    int rc = store_query(st, sql, p, opts->user_id >= 0 ? 1 : 0, &r, err);
    if (rc)
        return rc;
    *count = r.nrows ? sv_as_int(store_cell(&r, 0, 0)) : 0;
    store_rows_free(&r);
    return MLW_OK;
}

void pipeline_abandon(struct store *st, struct batch *b, struct pipeline_stats *stats)
{
    if (b == NULL)
        return;
    release_claims(st, b->ops, &stats->released);
    batch_free(b);
}
