/* runner.c - see runner.h. */
#include "jobs/runner.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "http/health.h"
#include "jobs/jobmetrics.h"
#include "jobs/labs_job.h"

void runner_set_worker_id(struct store *st, const char *role)
{
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(st->worker_id, sizeof st->worker_id, "%.60s:%ld:%.16s", host, (long)getpid(), role);
}

void runner_log_stats(const struct runner_totals *t)
{
    double up = mlw_monotonic() - t->started;
    int64_t done = t->vitals.done + t->nutrition.done + t->labs.done;
    int64_t failed = t->vitals.failed + t->nutrition.failed + t->labs.failed;
    log_info("\xf0\x9f\x93\x88 Worker Stats:");
    log_info("   Uptime: %.0fs", up);
    log_info("   Processed: %lld (vitals %lld, nutrition %lld, lab reports %lld)", (long long)done,
             (long long)t->vitals.done, (long long)t->nutrition.done, (long long)t->labs.done);
    log_info("   Failed rows: %lld (vitals %lld, nutrition %lld, lab reports %lld)",
             (long long)failed, (long long)t->vitals.failed, (long long)t->nutrition.failed,
             (long long)t->labs.failed);
    log_info("   Errors: %lld", (long long)t->errors);
    log_info("   Batches: %lld, retried: %lld, stale rows reclaimed: %lld", (long long)t->batches,
             (long long)(t->vitals.retries + t->nutrition.retries + t->labs.retries),
             (long long)(t->vitals.reclaimed + t->nutrition.reclaimed + t->labs.reclaimed));
    log_info("   Rate: %.1f rows/s", up > 0 ? (double)(done + failed) / up : 0.0);
    if (done + failed > 0)
        log_info("   Success Rate: %.1f%%", 100.0 * (double)done / (double)(done + failed));
}

static void log_domain(const char *emoji, const char *name, const char *ok_word,
                       const struct pipeline_stats *before, const struct pipeline_stats *after)
{
    int64_t done = after->done - before->done, failed = after->failed - before->failed;
    int64_t groups = after->groups - before->groups;
    if (done + failed == 0)
        return;
    log_info("%s %s: %lld %s, %lld failed (%lld user-day group%s)", emoji, name, (long long)done,
             ok_word, (long long)failed, (long long)groups, groups == 1 ? "" : "s");
}

int runner_aggregation(const struct config *cfg, struct store *st, struct runner_totals *t)
{
    struct pipeline_opts opts = {cfg->aggregation_batch_size, cfg->claim_timeout, -1, 0};
    double last_stats = mlw_monotonic();
    int idle_logged = 0, failures = 0;

    log_info("\xf0\x9f\x94\x84 Starting background aggregation mode... (batch size %d, poll every %gs%s)",
             cfg->aggregation_batch_size, cfg->poll_interval,
             cfg->exit_when_idle ? ", exit when idle" : "");
    /* Labs run where the lab tables exist; the catalog is synced first. */
    int labs_on = labs_available(st);
    if (labs_on) {
        struct mlw_err err = {0};
        int synced = 0;
        int64_t requeued = 0;
        if (labs_catalog_sync(st, &synced, &requeued, &err) != MLW_OK)
            log_warn("\xe2\x9a\xa0\xef\xb8\x8f  %s (lab reports are still processed)", err.msg);
        else if (synced)
            log_info("\xf0\x9f\xa7\xaa Lab catalog synced (%zu tests); %lld lab report(s) re-queued"
                     " for re-categorization",
                     labs_catalog(NULL) ? labcat_ntests(labs_catalog(NULL)) : (size_t)0,
                     (long long)requeued);
    } else {
        log_warn("\xe2\x9a\xa0\xef\xb8\x8f  No lab_reports table in this database: lab reports are"
                 " not processed (run `mlworker migrate`)");
    }
    while (!signals_stop_requested()) {
        health_beat("aggregation", cfg->health_deadline);
        struct mlw_err err = {0};
        struct pipeline_stats v0 = t->vitals, n0 = t->nutrition, l0 = t->labs;
        int64_t nv = 0, nn = 0, nl = 0;
        struct jobmetrics_mark mv = jobmetrics_begin(&t->vitals);
        int rc = pipeline_run_batch(st, DOMAIN_VITALS, &opts, &t->vitals, &nv, &err);
        jobmetrics_batch(DOMAIN_VITALS, &mv, &t->vitals, nv);
        struct jobmetrics_mark mn = jobmetrics_begin(&t->nutrition);
        if (rc == MLW_OK && !signals_stop_requested())
            rc = pipeline_run_batch(st, DOMAIN_NUTRITION, &opts, &t->nutrition, &nn, &err);
        jobmetrics_batch(DOMAIN_NUTRITION, &mn, &t->nutrition, nn);
        struct jobmetrics_mark ml = jobmetrics_begin(&t->labs);
        if (rc == MLW_OK && labs_on && !signals_stop_requested())
            rc = pipeline_run_batch(st, DOMAIN_LABS, &opts, &t->labs, &nl, &err);
        jobmetrics_batch(DOMAIN_LABS, &ml, &t->labs, nl);
        if (nv + nn + nl > 0) {
            idle_logged = 0;
            t->batches++;
            log_info("\xf0\x9f\x93\x8a Processing batch: %lld vitals + %lld nutrition + %lld lab reports",
                     (long long)nv, (long long)nn, (long long)nl);
            log_domain("\xf0\x9f\x92\x93", "Vitals", "categorized", &v0, &t->vitals);
            log_domain("\xf0\x9f\x8d\x8e", "Nutrition", "completed", &n0, &t->nutrition);
            log_domain("\xf0\x9f\xa7\xaa", "Lab reports", "categorized", &l0, &t->labs);
        }

        if (mlw_monotonic() - last_stats >= cfg->stats_interval) {
            runner_log_stats(t);
            last_stats = mlw_monotonic();
        }
        if (rc != MLW_OK) {
            t->errors++;
            metrics_count(METRICS_BATCH_ERRORS, NULL, 1);
            failures++;
            log_error("\xe2\x9d\x8c Aggregation batch failed: %s", err.msg);
            if (cfg->exit_when_idle)
                return 1;
            double wait = failures > 6 ? 60.0 : (double)(1 << (failures - 1));
            if (wait > cfg->poll_interval && cfg->poll_interval >= 1)
                wait = cfg->poll_interval;
            log_warn("Retrying in %.0fs", wait);
            health_idle("aggregation", wait);
            signals_sleep(wait);
            continue;
        }
        failures = 0;
        if (nv + nn + nl > 0)
            continue;
        if (cfg->exit_when_idle) {
            log_info("\xe2\x9c\x85 No pending work; exiting (ML_WORKER_EXIT_WHEN_IDLE=1)");
            return 0;
        }
        if (!idle_logged) {
            log_info("\xf0\x9f\x92\xa4 No pending work; checking again every %gs", cfg->poll_interval);
            idle_logged = 1;
        }
        double wait = cfg->poll_interval, left = cfg->stats_interval - (mlw_monotonic() - last_stats);
        health_idle("aggregation", wait);
        if (store_idle_wait(st, cfg->notify_channel, left > 0 && left < wait ? left : wait) > 0)
            log_debug("woken by a database notification");
    }
    return 0;
}
