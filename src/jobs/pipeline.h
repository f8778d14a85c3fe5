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
#include "core/timeutil.h"
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

/* ---- operator tools (src/ops/: recompute, verify) ----------------------------
 * The pipeline's steps one at a time, inside the caller's transaction. */

struct arena;

/* Take the per-(domain, user) bucket lock the batches take (PostgreSQL
 * pg_advisory_xact_lock; nothing on SQLite, whose write transaction is the
 * lock). Held until the transaction ends. */
int pipeline_lock_user(struct store *st, enum domain d, int64_t user, struct mlw_err *err);

/* Return the listed raw rows of user (any status) to pending, then process
 * every pending row of that user as one batch group would (categorize,
 * mark, recompute the touched buckets). Rows another worker holds are
 * skipped (PostgreSQL) and stay pending for it. Caller: transaction open,
 * pipeline_lock_user taken. *processed gets the rows processed. */
int pipeline_reprocess(struct store *st, enum domain d, int64_t user, const int64_t *ids,
                       size_t n, struct pipeline_stats *stats, int64_t *processed,
                       struct mlw_err *err);

/* Batch row layouts ("SELECT " cols from " WHERE ..."; raw table r,
 * categorized copy c); callers may append columns after these. */
extern const char vitals_job_row_cols[];
extern const char vitals_job_row_from[];
extern const char nutrition_job_row_cols[]; /* FROM nutrition_raw_data r; id, user_id,
                                             * meal_date, aggregated_date, 27 nutrients,
                                             * length(meal_type), length(data_source) */

/* Validate and normalise one vitals batch row as the pipeline does:
 * 0, or -1 with why. */
int vitals_job_check_row(const struct store_rows *c, size_t i, mlw_ts *start, mlw_ts *end,
                         double *value, const char **unit, char *why, size_t why_len);
/* vitals_mappings in seed order, and the LOINC code of a metric (first
 * match, as the pipeline). */
int vitals_job_load_mappings(struct store *st, struct store_rows *map, struct mlw_err *err);
const char *vitals_job_loinc(const struct store_rows *map, const char *metric);
/* Recompute one user's hourly and daily rows of (metric, day) from the
 * categorized samples, then that day's week and month. */
int vitals_job_recompute(struct store *st, int64_t user, const char *metric, mlw_day day,
                         struct arena *a, struct mlw_err *err);

/* Validate one nutrition batch row with every check the pipeline makes
 * (date, nutrients, text lengths): 0 with its day and 27 nutrients, or -1
 * with why. */
int nutrition_job_check_row(const struct store_rows *c, size_t i, mlw_day *day, double *nutr,
                            char *why, size_t why_len);
/* Recompute one user's daily row of day from its rows, then its week and month. */
int nutrition_job_recompute(struct store *st, int64_t user, mlw_day day, struct arena *a,
                            struct mlw_err *err);

#endif
