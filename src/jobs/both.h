/*
 * both.h - ML_WORKER_MODE=both: the SQS consumer and the aggregation loop
 * in one process, on two threads.
 *
 * The aggregation loop runs on the calling thread with the caller's store;
 * the consumer runs on a second thread with its own store connection
 * (store_open(&cfg->db)). They share the read-only configuration. A fatal
 * error in either requests a stop, so the other winds down cleanly too
 * (the consumer releases what it has not started); SIGTERM stops both.
 */
#ifndef MLW_BOTH_H
#define MLW_BOTH_H

#include "core/config.h"
#include "jobs/consumer.h"
#include "jobs/runner.h"
#include "store/store.h"

/* Returns 0 when both halves ended normally (stop request, or idle with
 * ML_WORKER_EXIT_WHEN_IDLE=1), 1 when either failed fatally (including
 * the consumer's store not opening). Logs both stats blocks at the end. */
int both_run(const struct config *cfg, struct store *agg_store, struct runner_totals *totals,
             struct consumer_stats *cstats);

#endif
