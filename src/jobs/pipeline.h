/*
 * pipeline.h - the domain pipelines: claim pending raw rows, validate and
 * normalise them, recompute every affected aggregate bucket from the level
 * below, commit. One transaction per (user, date) group.
 *
 * Correctness does not depend on claims: a categorized row is keyed by its
 * raw row and every bucket is recomputed from complete inputs, so a row
 * processed twice (a claim that timed out, a crash after commit) gives the
 * same result as once. Claims only keep workers from doing the same work.
 *
 * Rows are marked 'failed' (with failure_reason) only for problems in the
 * data itself. Database errors never fail rows: the group is rolled back,
 * the claim released, and the error returned so the caller backs off.
 */
#ifndef MLW_PIPELINE_H
#define MLW_PIPELINE_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct pipeline_opts {
    int batch_size;     /* rows claimed per call */
    int claim_timeout;  /* seconds; older 'processing' claims are taken back */
    int64_t user_id;    /* only this user's rows; -1 for everyone */
};

struct pipeline_stats {
    int64_t claimed;    /* rows claimed */
    int64_t done;       /* rows categorized / completed */
    int64_t failed;     /* rows marked failed */
    int64_t skipped;    /* claims lost to another worker or the app */
    int64_t groups;     /* (user, date) transactions committed */
    int64_t reclaimed;  /* stale claims returned to pending */
    int64_t released;   /* claims handed back unprocessed (shutdown, errors) */
};

enum domain { DOMAIN_VITALS, DOMAIN_NUTRITION };

struct batch; /* claimed rows, between claim and process */

/* Claim up to opts->batch_size pending rows of a domain. *out is NULL when
 * nothing was pending. */
int pipeline_claim(struct store *st, enum domain d, const struct pipeline_opts *opts,
                   struct batch **out, struct pipeline_stats *stats, struct mlw_err *err);
int64_t batch_size_claimed(const struct batch *b);
/* Process a claimed batch group by group; stops early (releasing the rest)
 * when a stop is requested or on a database error. Frees the batch. */
int pipeline_process(struct store *st, struct batch *b, struct pipeline_stats *stats,
                     struct mlw_err *err);

/* Release a claimed batch without processing it, and free it. */
void pipeline_abandon(struct store *st, struct batch *b, struct pipeline_stats *stats);

/* Is anything claimable in this domain? (cheap; used for idle checks) */
int pipeline_pending(struct store *st, enum domain d, const struct pipeline_opts *opts,
                     int64_t *count, struct mlw_err *err);

#endif
