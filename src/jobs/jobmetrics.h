/*
 * jobmetrics.h - the jobs layer's one-line instrumentation: turns pipeline
 * batch statistics and SQS message outcomes into the process metrics
 * (core/metrics.h). Every call is a no-op until metrics_process_init().
 *
 * Batches:
 *     struct jobmetrics_mark mk = jobmetrics_begin(&stats);
 *     rc = pipeline_run_batch(st, DOMAIN_VITALS, &opts, &stats, &rows, &err);
 *     jobmetrics_batch(DOMAIN_VITALS, &mk, &stats, rows);
 * adds the rows done / failed, reclaimed claims and retries the batch added
 * to stats, and observes its duration when it took rows.
 *
 * Messages: jobmetrics_received() when a message's job type is known,
 * jobmetrics_outcome() when its handling ended, jobmetrics_deleted() when
 * it was deleted. The job type of a message is remembered by message id
 * between these calls (a small table; the oldest entry is dropped when
 * full). Job types outside the five the worker knows count as "unknown",
 * so a hostile body cannot grow the label set.
 *
 * Thread: any thread (the message table has its own lock).
 */
#ifndef MLW_JOBMETRICS_H
#define MLW_JOBMETRICS_H

#include <stdint.h>

#include "jobs/pipeline.h"

struct jobmetrics_mark {
    double t0;                    /* mlw_monotonic() at the mark */
    struct pipeline_stats before; /* stats at the mark */
};

struct jobmetrics_mark jobmetrics_begin(const struct pipeline_stats *s);
void jobmetrics_batch(enum domain d, const struct jobmetrics_mark *mk,
                      const struct pipeline_stats *after, int64_t rows);

void jobmetrics_received(const char *message_id, const char *job_type);
void jobmetrics_outcome(const char *message_id, int failed);
void jobmetrics_deleted(const char *message_id);

/* The label a job type counts under: itself if known, else "unknown". */
const char *jobmetrics_job_label(const char *job_type);
/* "vitals", "nutrition", ... */
const char *jobmetrics_domain_label(enum domain d);

#endif
