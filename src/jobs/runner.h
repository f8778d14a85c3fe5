/*
 * runner.h - the worker's loops.
 *
 * Aggregation mode: claim a batch per domain, process it, repeat while
 * work remains; when idle sleep ML_WORKER_POLL_INTERVAL (a stop request
 * wakes it), or return when ML_WORKER_EXIT_WHEN_IDLE=1. A stats block is
 * logged every ML_WORKER_STATS_INTERVAL seconds, idle or not.
 */
#ifndef MLW_RUNNER_H
#define MLW_RUNNER_H

#include <stdint.h>

#include "core/config.h"
#include "jobs/pipeline.h"
#include "store/store.h"

struct runner_totals {
    double started;                 /* mlw_monotonic() at start */
    int64_t batches;
    int64_t errors;                 /* batches that hit a database error */
    struct pipeline_stats vitals, nutrition, labs;
};

/* Name this process's claims: host:pid:role. */
void runner_set_worker_id(struct store *st, const char *role);

/* Runs until stopped (returns 0), idle with exit_when_idle (0), or a fatal
 * error with exit_when_idle (1; continuous mode retries with backoff). */
int runner_aggregation(const struct config *cfg, struct store *st, struct runner_totals *t);

void runner_log_stats(const struct runner_totals *t);

#endif
