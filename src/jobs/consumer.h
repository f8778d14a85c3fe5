/*
 * consumer.h - the SQS consumer (ML_WORKER_MODE=sqs, and the queue half of
 * both mode).
 *
 * Messages are the original's trigger bodies (reference
 * original-operations.md 4.2): a JSON object with "job_type" and, per
 * type, "user_id", "document_id", "tests", "test_name", "priority",
 * "submitted_at"; extra fields are ignored and missing optional ones
 * tolerated.
 *
 * Message states and who moves them (one message at a time, in receive
 * order):
 *
 *   RECEIVED --handle_message()--> WORKING --commit--> DONE --delete--> gone
 *   WORKING  --budget spent / stop, work remains--> re-enqueued copy, then
 *            the original deleted (fallback: released, visibility 0)
 *   RECEIVED --malformed / unknown / not available--> LEFT (not deleted;
 *            the queue's redrive policy moves it to the DLQ)
 *   WORKING  --database error--> LEFT (never deleted), consumer backs off
 *   RECEIVED --stop requested before it started--> RELEASED (visibility 0)
 *
 * Invariants: a message is deleted only after the work it asked for has
 * committed; a database error never deletes a message; while a message is
 * in the worker's hands its visibility is extended (heartbeat) every third
 * of ML_WORKER_VISIBILITY_TIMEOUT; a trigger drains its user's (or
 * everyone's) pending rows within a budget of 80 % of the visibility
 * timeout, so no backlog is stranded; every error path backs off
 * (exponential, 1 s .. 60 s, with jitter); the stats block is logged every
 * ML_WORKER_STATS_INTERVAL seconds even when idle.
 */
#ifndef MLW_CONSUMER_H
#define MLW_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "jobs/pipeline.h"
#include "store/store.h"

struct consumer_stats {
    double started;            /* mlw_monotonic() at start (set by consumer_run if 0) */
    int64_t received;          /* messages received */
    int64_t processed;         /* messages whose work committed */
    int64_t errors;            /* messages that failed (left for redelivery) */
    int64_t deleted;           /* messages deleted */
    int64_t requeued;          /* triggers re-enqueued because work remained */
    int64_t released;          /* messages released at shutdown (visibility 0) */
    int64_t left;              /* malformed / unknown / unavailable: left for redrive */
    int64_t receive_errors;    /* failed ReceiveMessage calls (after retries) */
    int64_t sqs_retries;       /* SQS calls retried (throttling, 5xx, network) */
    struct pipeline_stats vitals, nutrition, labs;
};

/*
 * The sqs-mode loop: receive, dispatch, delete, until a stop is requested
 * (returns 0 after releasing what it had not started) or, with
 * ML_WORKER_EXIT_WHEN_IDLE=1, until a receive comes back empty (0).
 * Returns 1 on a fatal error: no queue URL, or an access-denied /
 * non-existent-queue answer before any receive succeeded. st is used by
 * this thread only. Logs the final stats block itself.
 */
int consumer_run(const struct config *cfg, struct store *st, struct consumer_stats *stats);

void consumer_log_stats(const struct consumer_stats *s);

/* ---- message parsing (pure; exposed for the unit tests) ---- */

/* The largest message body processed: the queue's MaximumMessageSize
 * (deploy/terraform: 262144 B, the original's). SQS now accepts up to
 * 1 MiB and a database queue takes any size, but trigger bodies are under
 * 1 KiB: a larger one is not parsed, stays in the queue and reaches the
 * DLQ (dead letters) through the redrive policy. */
#define CONSUMER_MAX_BODY_BYTES 262144

/*
 * Is this body processable by size? Returns MLW_OK, or MLW_EFORMAT with
 * err naming the size and the limit (never the content).
 */
int consumer_check_body_size(size_t body_len, struct mlw_err *err);

enum consumer_job_type {
    JOB_UNKNOWN,
    JOB_PENDING_VITALS,     /* process_pending_vitals */
    JOB_PENDING_NUTRITION,  /* process_pending_nutrition */
    JOB_PENDING_LABS,       /* process_pending_labs */
    JOB_LAB_CATEGORIZATION, /* lab_categorization (deprecated) */
    JOB_LOINC_MAPPING       /* loinc_mapping */
};

struct consumer_job {
    enum consumer_job_type type;
    char job_type[64];      /* as sent ("unknown" when missing) */
    int64_t user_id;        /* -1 when absent or null */
    int64_t document_id;    /* -1 when absent */
    int n_tests;            /* lab_categorization: entries of "tests" */
    char test_name[256];    /* loinc_mapping */
};

/*
 * Parse a message body. Returns MLW_OK (type may be JOB_UNKNOWN for a job
 * type this worker does not know: job->job_type names it), or
 * MLW_EFORMAT with the reason in err: not JSON, not an object, job_type
 * missing or not a string, user_id / document_id not a non-negative
 * integer (a numeric string is accepted), tests not a list, test_name
 * missing for loinc_mapping.
 */
int consumer_parse_job(const char *body, struct consumer_job *job, struct mlw_err *err);

#endif
