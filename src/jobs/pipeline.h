/*
 * pipeline.h - the domain pipelines: claim pending raw rows, validate and
 * normalise them, recompute every affected aggregate bucket from the level
 * below, commit.
 *
 * Claiming is the transaction itself. A batch is selected and processed in
 * one write transaction: SQLite's write lock (PostgreSQL: FOR UPDATE SKIP
 * LOCKED row locks) keeps other workers off those rows until commit, and a
 * crash or kill -9 rolls everything back to 'pending'. No row is ever left
 * in a 'processing' state by mlworker; 'processing' rows left by the
 * original Python worker are taken back after ML_WORKER_CLAIM_TIMEOUT.
 *
 * Correctness also does not depend on claims: a categorized row is keyed by
 * its raw row and every bucket is recomputed from complete inputs, so a row
 * processed twice gives the same result as once.
 *
 * Rows are marked 'failed' (with failure_reason) only for problems in the
 * data itself. Database errors never fail rows: the batch is rolled back
 * and the error returned so the caller backs off and retries.
 */
#ifndef MLW_PIPELINE_H
#define MLW_PIPELINE_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct pipeline_opts {
    int batch_size;     /* raw rows per batch (one transaction) */
    int claim_timeout;  /* seconds; older legacy 'processing' rows go back to pending */
    int64_t user_id;    /* only this user's rows; -1 for everyone */
    int whole_batch;    /* 1: a stop request does not cut the batch short (the caller
                         * stops between batches: the SQS consumer, which must not
                         * take "0 rows" for "nothing pending") */
};

struct pipeline_stats {
    int64_t claimed;    /* rows taken into committed batches */
    int64_t done;       /* rows categorized / completed */
    int64_t failed;     /* rows marked failed */
    int64_t groups;     /* user groups committed */
    int64_t reclaimed;  /* legacy 'processing' rows returned to pending */
    int64_t retries;    /* batches retried after lock contention */
};

enum domain { DOMAIN_VITALS, DOMAIN_NUTRITION, DOMAIN_LABS };

/* Process one batch of a domain in one transaction. *rows gets the number
 * of raw rows it took (0: nothing pending). Stops between user groups when
 * a stop is requested (what was processed commits; the rest stays pending),
 * unless opts->whole_batch.
 * Lock contention is retried with backoff; other errors are returned after
 * rolling back. */
int pipeline_run_batch(struct store *st, enum domain d, const struct pipeline_opts *opts,
                       struct pipeline_stats *stats, int64_t *rows, struct mlw_err *err);

/* How many rows of a domain are pending? (idle checks, logs) */
int pipeline_pending(struct store *st, enum domain d, const struct pipeline_opts *opts,
                     int64_t *count, struct mlw_err *err);

#endif
