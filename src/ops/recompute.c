/* recompute.c - the walk over domains and users shared by recompute,
 * recompute --dry-run and verify, and the repairs; see recompute.h. */
#include "ops/recompute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/signals.h"
#include "jobs/labs_job.h"
#include "core/timeutil.h"
#include "ops/progress.h"

#define USER_ATTEMPTS 8


/* qsort that accepts an empty (NULL) array. */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

void ops_report_add(struct ops_report *rep, const struct ops_diff *d)
{
    int i = 0;
    while (i < rep->ntables && strcmp(rep->tables[i].table, d->table))
        i++;
    if (i == rep->ntables) {
        if (rep->ntables == OPS_MAX_TABLES)
            return;
        rep->tables[rep->ntables++] = (struct ops_table_stat){d->table, 0, 0, 0};
    }
    struct ops_table_stat *t = &rep->tables[i];
    if (d->kind == OPS_DIFF_MISMATCH)
        t->mismatched++;
    else if (d->kind == OPS_DIFF_STALE)
        t->stale++;
    else
        t->missing++;
}

static void merge_tables(struct ops_report *rep, const struct ops_report *u)
{
    for (int i = 0; i < u->ntables; i++) {
        int j = 0;
        while (j < rep->ntables && strcmp(rep->tables[j].table, u->tables[i].table))
            j++;
        if (j == rep->ntables) {
            if (rep->ntables == OPS_MAX_TABLES)
                continue;
            rep->tables[rep->ntables++] = (struct ops_table_stat){u->tables[i].table, 0, 0, 0};
        }
        rep->tables[j].mismatched += u->tables[i].mismatched;
        rep->tables[j].stale += u->tables[i].stale;
        rep->tables[j].missing += u->tables[i].missing;
    }
}

/* What one user needs repaired. */
struct fix_bucket {
    const char *metric;
    mlw_day day;
};
struct fixes {
    struct arena *a;
    int64_t *ids;                 /* raw rows to reprocess */
    size_t nids, cap_ids;
    struct fix_bucket *b;         /* buckets to recompute */
    size_t nb, cap_b;
    int64_t *orphans;             /* categorized copies to delete */
    size_t norph, cap_orph;
    struct ops_report user_rep;   /* this user's differences (merged on commit) */
    ops_diff_cb cb;               /* the caller's */
    void *cb_ctx;
    int oom;
};

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 64;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int collect(void *ctx, const struct ops_diff *d)
{
    struct fixes *f = ctx;
    ops_report_add(&f->user_rep, d);
    if (d->raw_id > 0 && d->orphan) {
        if (grow((void **)&f->orphans, &f->cap_orph, f->norph, sizeof *f->orphans))
            return f->oom = 1, -1;
        f->orphans[f->norph++] = d->raw_id;
    } else if (d->raw_id > 0) {
        if (grow((void **)&f->ids, &f->cap_ids, f->nids, sizeof *f->ids))
            return f->oom = 1, -1;
        f->ids[f->nids++] = d->raw_id;
    }
    if ((d->raw_id <= 0 || d->orphan) && d->day >= 0) {
        if (grow((void **)&f->b, &f->cap_b, f->nb, sizeof *f->b))
            return f->oom = 1, -1;
        f->b[f->nb].metric = d->metric ? arena_strdup(f->a, d->metric) : NULL;
        f->b[f->nb++].day = d->day;
    }
    return f->cb ? f->cb(f->cb_ctx, d) : 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_fix(const void *pa, const void *pb)
{
    const struct fix_bucket *a = pa, *b = pb;
    int c = strcmp(a->metric ? a->metric : "", b->metric ? b->metric : "");
    if (c)
        return c;
    return a->day < b->day ? -1 : a->day > b->day;
}

static int repair(struct store *st, enum domain d, int64_t user, struct fixes *f,
                  struct ops_report *rep, struct mlw_err *err)
{
    int rc = MLW_OK;
    struct arena a;
    arena_init(&a, 64 * 1024);
    for (size_t i = 0; i < f->norph && rc == MLW_OK; i++) {
        struct sval p[1] = {sv_int(f->orphans[i])};
        rc = store_exec(st,
                        d == DOMAIN_VITALS ? "DELETE FROM vitals_raw_categorized WHERE raw_id=?"
                                           : "DELETE FROM lab_report_categorized WHERE id=?",
                        p, 1, NULL, err);
        rep->orphans++;
    }
    if (rc == MLW_OK && f->nids) {
        sort_n(f->ids, f->nids, sizeof *f->ids, cmp_i64);
        size_t k = 0;
        for (size_t i = 0; i < f->nids; i++)
            if (k == 0 || f->ids[k - 1] != f->ids[i])
                f->ids[k++] = f->ids[i];
        struct pipeline_stats ps = {0};
        int64_t processed = 0;
        rc = pipeline_reprocess(st, d, user, f->ids, k, &ps, &processed, err);
        rep->reprocessed += processed;
    }
    if (f->nb)
        sort_n(f->b, f->nb, sizeof *f->b, cmp_fix);
    for (size_t i = 0; i < f->nb && rc == MLW_OK; i++) {
        if (i && !cmp_fix(&f->b[i - 1], &f->b[i]))
            continue;
        arena_reset(&a);
        if (d == DOMAIN_VITALS) {
            if (!f->b[i].metric)
                continue;
            rc = vitals_job_recompute(st, user, f->b[i].metric, f->b[i].day, &a, err);
        } else if (d == DOMAIN_NUTRITION) {
            rc = nutrition_job_recompute(st, user, f->b[i].day, &a, err);
        } else {
            rc = labs_job_recompute(st, user, f->b[i].day, &a, err);
        }
        rep->recomputed++;
    }
    arena_free(&a);
    return rc;
}

/* The days pending rows touch were left out of the comparison. Recompute
 * them from the level below anyway (vitals: the row's metric): a worker
 * folds a pending row in only where it lands, so a pending row that turns
 * out bad, or lands elsewhere, would leave a wrong bucket there unrepaired.
 * The worker's own recomputation after ours (it waits for our user lock)
 * is from complete inputs, so this is always safe. */
static int recompute_pending(struct store *st, enum domain d, int64_t user,
                             const struct ops_pending *p, size_t n, struct ops_report *rep,
                             struct mlw_err *err)
{
    int rc = MLW_OK;
    struct arena a;
    arena_init(&a, 64 * 1024);
    for (size_t i = 0; i < n && rc == MLW_OK; i++) {
        int dup = 0;
        for (size_t j = i; j-- > 0 && p[j].day == p[i].day && !dup;)
            dup = !strcmp(p[j].metric ? p[j].metric : "", p[i].metric ? p[i].metric : "");
        if (dup)
            continue;
        arena_reset(&a);
        if (d == DOMAIN_VITALS) {
            if (!p[i].metric)
                continue;
            rc = vitals_job_recompute(st, user, p[i].metric, p[i].day, &a, err);
        } else if (d == DOMAIN_NUTRITION) {
            rc = nutrition_job_recompute(st, user, p[i].day, &a, err);
        } else {
            rc = labs_job_recompute(st, user, p[i].day, &a, err);
        }
        rep->pending_recomputed++;
    }
    arena_free(&a);
    return rc;
}

/* A read snapshot for a comparison that writes nothing. */
static int begin_read(struct store *st, struct mlw_err *err)
{
    if (st->dialect != DB_POSTGRES)
        return store_exec(st, "BEGIN", NULL, 0, NULL, err);
    int rc = store_begin(st, err);
    if (rc == MLW_OK)
        rc = store_exec(st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", NULL, 0,
                        NULL, err);
    if (rc)
        store_rollback(st);
    return rc;
}

static void backoff(int attempt)
{
    double s = 0.02 * (double)(1 << attempt) * (1.0 + (double)(rand() % 1000) / 1000.0);
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One user of one domain: compare, and repair in recompute mode. */
static int run_user(struct store *st, enum domain d, int64_t user, const struct ops_opts *o,
                    enum ops_mode mode, ops_diff_cb cb, void *ctx, struct ops_report *rep,
                    struct ops_progress *prog, struct mlw_err *err)
{
    struct arena a;
    arena_init(&a, 256 * 1024);
    int rc = MLW_OK;
    for (int attempt = 0;; attempt++) {
        struct mlw_err e = {0};
        struct fixes f = {0};
        struct ops_counts c = {0};
        struct ops_report urep = {0};
        struct ops_pending *pend = NULL;
        size_t npend = 0;
        arena_reset(&a);
        f.a = &a;
        /* read-only modes pass each difference on (recompute reports counts:
         * a retried attempt would repeat its differences) */
        f.cb = mode == OPS_MODE_RECOMPUTE ? NULL : cb;
        f.cb_ctx = ctx;
        rc = mode == OPS_MODE_RECOMPUTE ? store_begin(st, &e) : begin_read(st, &e);
        if (rc == MLW_OK && mode == OPS_MODE_RECOMPUTE)
            rc = pipeline_lock_user(st, d, user, &e);
        if (rc == MLW_OK)
            rc = ops_diff_user(st, d, user, &o->range, &a, collect, &f, &c, &pend, &npend, &e);
        if (rc == MLW_OK && f.oom)
            rc = mlw_err_set(&e, MLW_ENOMEM, "out of memory");
        int changed = c.mismatched + c.stale + c.missing > 0;
        if (rc == MLW_OK && changed && mode == OPS_MODE_RECOMPUTE)
            rc = repair(st, d, user, &f, &urep, &e);
        if (rc == MLW_OK && npend && mode == OPS_MODE_RECOMPUTE)
            rc = recompute_pending(st, d, user, pend, npend, &urep, &e);
        if (rc == MLW_OK && mode == OPS_MODE_RECOMPUTE)
            rc = store_commit(st, &e);
        else if (mode != OPS_MODE_RECOMPUTE || rc)
            store_rollback(st);
        if (rc == MLW_OK) {
            ops_counts_add(&rep->total, &c);
            merge_tables(rep, &f.user_rep);
            rep->reprocessed += urep.reprocessed;
            rep->recomputed += urep.recomputed;
            rep->orphans += urep.orphans;
            rep->pending_recomputed += urep.pending_recomputed;
            rep->users++;
            if (changed)
                rep->users_changed++;
            ops_progress_add(prog, c.rows + c.pending, c.buckets);
        }
        free(f.ids);
        free(f.b);
        free(f.orphans);
        free(pend);
        if (rc == MLW_OK)
            break;
        if (store_is_retryable(rc) && attempt + 1 < USER_ATTEMPTS && !signals_stop_requested()) {
            backoff(attempt);
            continue;
        }
        mlw_err_set(err, rc, "%s, user %lld: %s", ops_domain_name(d), (long long)user, e.msg);
        break;
    }
    arena_free(&a);
    return rc;
}

int ops_run(struct store *st, const struct ops_opts *o, enum ops_mode mode, ops_diff_cb cb,
            void *ctx, struct ops_report *rep, struct mlw_err *err)
{
    memset(rep, 0, sizeof *rep);
    struct ops_progress prog;
    int rc = MLW_OK;
    int64_t total = 0;
    unsigned avail = 0;
    for (int d = 0; d < 3; d++) {
        if (!(o->domains & (1u << d)))
            continue;
        if (!ops_domain_available(st, (enum domain)d)) {
            rep->skipped_domains |= 1u << d;
            continue;
        }
        avail |= 1u << d;
        if (o->nusers == 0) {
            int64_t n = 0;
            if ((rc = ops_count_rows(st, (enum domain)d, &o->range, NULL, 0, &n, err)))
                return rc;
            total += n;
        }
        for (size_t u = 0; u < o->nusers; u++) {
            int64_t n = 0;
            if ((rc = ops_count_rows(st, (enum domain)d, &o->range, &o->users[u], 1, &n, err)))
                return rc;
            total += n;
        }
    }
    ops_progress_init(&prog, stderr,
                      mode == OPS_MODE_VERIFY ? "verify"
                      : mode == OPS_MODE_DRY_RUN ? "recompute --dry-run" : "recompute",
                      total, o->quiet);
    for (int d = 0; d < 3 && rc == MLW_OK && !rep->interrupted; d++) {
        if (!(avail & (1u << d)))
            continue;
        int64_t *users = NULL;
        size_t n = 0;
        if (o->nusers) {
            users = malloc(o->nusers * sizeof *users);
            if (!users)
                return mlw_err_set(err, MLW_ENOMEM, "out of memory");
            memcpy(users, o->users, o->nusers * sizeof *users);
            n = o->nusers;
            sort_n(users, n, sizeof *users, cmp_i64);
        } else if ((rc = ops_list_users(st, (enum domain)d, &users, &n, err))) {
            break;
        }
        for (size_t i = 0; i < n && rc == MLW_OK; i++) {
            if (i && users[i] == users[i - 1])
                continue;
            if (signals_stop_requested()) {
                rep->interrupted = 1;
                break;
            }
            rc = run_user(st, (enum domain)d, users[i], o, mode, cb, ctx, rep, &prog, err);
        }
        free(users);
    }
    ops_progress_done(&prog);
    rep->seconds = mlw_monotonic() - prog.t0;
    rep->rows_per_second = ops_progress_rate(&prog);
    return rc;
}
