/* both.c - see both.h. */
#include "jobs/both.h"

#include <pthread.h>
#include <string.h>

#include "core/log.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "http/health.h"

struct sqs_half {
    const struct config *cfg;
    struct consumer_stats *stats;
    int rc;
};

static void *sqs_thread(void *arg)
{
    struct sqs_half *h = arg;
    struct mlw_err err = {0};
    struct store *st = NULL;
    if (store_open(&h->cfg->db, &st, &err) != MLW_OK) {
        log_error("SQS worker error: cannot open its database connection: %s", err.msg);
        h->rc = 1;
    } else {
        runner_set_worker_id(st, "sqs");
        h->rc = consumer_run(h->cfg, st, h->stats);
        health_exit("sqs");
        store_close(st);
    }
    if (h->rc != 0) {
        log_error("SQS worker failed: stopping the aggregation worker too");
        signals_request_stop();
    }
    return NULL;
}

int both_run(const struct config *cfg, struct store *agg_store, struct runner_totals *totals,
             struct consumer_stats *cstats)
{
    log_info("Starting BOTH SQS and aggregation workers...");
    struct sqs_half half = {cfg, cstats, 0};
    if (cstats->started == 0)
        cstats->started = mlw_monotonic();
    pthread_t tid;
    int perr = pthread_create(&tid, NULL, sqs_thread, &half);
    if (perr != 0) {
        log_error("Fatal error: cannot start the SQS worker thread: %s", strerror(perr));
        return 1;
    }
    runner_set_worker_id(agg_store, "aggregation");
    int arc = runner_aggregation(cfg, agg_store, totals);
    health_exit("aggregation");
    if (arc != 0) {
        log_error("Aggregation worker failed: stopping the SQS worker too");
        signals_request_stop();
    }
    pthread_join(tid, NULL);
    log_info("Aggregation worker stats:");
    runner_log_stats(totals);
    return (arc != 0 || half.rc != 0) ? 1 : 0;
}
