/*
 * cmd_dlq.c - `mlworker dlq list|redrive`: look at and move back the
 * messages the queue's redrive policy dead-lettered.
 *
 * SQS: the DLQ is found from the source queue's RedrivePolicy
 * (GetQueueAttributes, then GetQueueUrl of the ARN's name and account), or
 * given with --dlq-url.
 *   list     receives (never deletes) up to --max messages with a short
 *            visibility timeout, prints one line each, then makes them
 *            visible again. While it runs the listed messages are invisible
 *            to other readers of the DLQ.
 *   redrive  receives up to --max messages, sends each to the source queue
 *            (same body and attributes) and only then deletes it from the
 *            DLQ: a crash between the two duplicates a message, never loses
 *            it (jobs are idempotent). --dry-run lists what would move.
 * Database queue: the dead letters stay in the queue's own table; list and
 * redrive are `mlworker queue dead` and `mlworker queue redrive`.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "core/config.h"
#include "jobs/consumer.h"
#include "queue/dbqueue.h"
#include "queue/queue.h"

#define DLQ_DEFAULT_LIST 100
#define DLQ_MAX_MAX 100000
#define DLQ_BODY_SHOWN 80

static const char *env(const char *name) { return getenv(name); }

static void dlq_usage(FILE *f)
{
    fprintf(f,
            "usage: mlworker dlq list [--max N] [--visibility S] [--queue-url URL] [--dlq-url URL]\n"
            "       mlworker dlq redrive [--max N] [--dry-run] [--queue-url URL] [--dlq-url URL]\n"
            "\n"
            "The dead letters of the job queue (ML_WORKER_SQS_QUEUE_URL or --queue-url).\n"
            "SQS: the dead-letter queue is the one the queue's RedrivePolicy names (or\n"
            "--dlq-url).\n"
            "list:    print up to N (default %d) messages: MessageId, first receive time\n"
            "         (UTC), receive count, job type, body (first %d characters). Nothing\n"
            "         is deleted, but SQS has to receive a message to show it: each listed\n"
            "         message is invisible in the DLQ for up to S seconds (default 60) and\n"
            "         made visible again when the listing ends.\n"
            "redrive: move up to N messages (default: all) back to the queue: send a copy,\n"
            "         then delete it from the DLQ (a crash in between duplicates one\n"
            "         message; the jobs are idempotent). --dry-run lists what would move.\n"
            "Database queue (db, sqlite://, postgresql://): dead letters stay in the\n"
            "queue's table; list = `mlworker queue dead`, redrive = `mlworker queue\n"
            "redrive` (all of them; --max is not supported there).\n"
            "Exit status: 0 done, 1 an error (or a message that could not be moved),\n"
            "2 usage.\n",
            DLQ_DEFAULT_LIST, DLQ_BODY_SHOWN);
}

static int parse_count(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* The job type of a body, or a short note why there is none. */
static void job_type_of(const char *body, char *out, size_t cap)
{
    size_t len = strlen(body);
    if (len > CONSUMER_MAX_BODY_BYTES) {
        snprintf(out, cap, "(oversize)");
        return;
    }
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *jt = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "job_type") : NULL;
    if (!j)
        snprintf(out, cap, "(not-json)");
    else if (!cJSON_IsString(jt))
        snprintf(out, cap, "(no-job_type)");
    else {
        size_t i = 0;
        for (const char *p = jt->valuestring; *p && i + 1 < cap; p++)
            out[i++] = (unsigned char)*p <= 0x20 || *p == 0x7f ? '?' : *p;
        out[i] = '\0';
    }
    cJSON_Delete(j);
}

/* First DLQ_BODY_SHOWN bytes, control bytes as '?', "..." when cut. */
static void body_shown(const char *body, char *out, size_t cap)
{
    size_t i = 0, len = strlen(body);
    for (; i < len && i < DLQ_BODY_SHOWN && i + 4 < cap; i++)
        out[i] = (unsigned char)body[i] < 0x20 || body[i] == 0x7f ? '?' : body[i];
    if (i < len)
        memcpy(out + i, "...", 3), i += 3;
    out[i] = '\0';
}

static void utc_text(long long ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_row(const struct sqs_message *m)
{
    char when[32], type[64], shown[DLQ_BODY_SHOWN + 8];
    utc_text(m->first_receive_ms, when, sizeof when);
    job_type_of(m->body, type, sizeof type);
    body_shown(m->body, shown, sizeof shown);
    printf("%s  %s  %d  %s  %zu  %s\n", m->message_id, when, m->receive_count, type,
           strlen(m->body), shown);
}

static void print_header(void)
{
    printf("MessageId  FirstReceived  Receives  JobType  Bytes  Body\n");
}

/* Receipt handles we hold in the DLQ, and the message ids seen. */
struct held {
    char **ids;
    char **handles;
    size_t n, cap;
};

static int held_has(const struct held *h, const char *id)
{
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->ids[i], id))
            return 1;
    return 0;
}

static int held_add(struct held *h, const char *id, const char *handle)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        char **a = realloc(h->ids, cap * sizeof *a);
        if (!a)
            return -1;
        h->ids = a;
        char **b = realloc(h->handles, cap * sizeof *b);
        if (!b)
            return -1;
        h->handles = b;
        h->cap = cap;
    }
    h->ids[h->n] = strdup(id);
    h->handles[h->n] = handle ? strdup(handle) : NULL;
    if (!h->ids[h->n] || (handle && !h->handles[h->n])) {
        free(h->ids[h->n]);
        free(h->handles[h->n]);
        return -1;
    }
    h->n++;
    return 0;
}

/* Make every held message visible again (best effort). */
static void held_release(struct queue *dlq, struct held *h)
{
    size_t failed = 0;
    for (size_t i = 0; i < h->n; i++) {
        struct mlw_err err = {0};
        if (h->handles[i] && queue_change_visibility(dlq, h->handles[i], 0, &err) != MLW_OK)
            failed++;
    }
    if (failed)
        fprintf(stderr, "mlworker dlq: %zu message(s) could not be made visible again now; they "
                        "reappear when their visibility timeout ends\n", failed);
}

static void held_free(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->ids[i]);
        free(h->handles[i]);
    }
    free(h->ids);
    free(h->handles);
}

/* list, or redrive --dry-run: receive without deleting, then release. */
static int sqs_list(struct queue *dlq, int max, int visibility, int dry_run)
{
    struct held h = {0};
    int rc = MLW_OK;
    struct mlw_err err = {0};
    fprintf(stderr, "mlworker dlq: listed messages stay invisible in the DLQ for up to %d s "
                    "while listing (made visible again at the end)\n", visibility);
    print_header();
    while ((int)h.n < max) {
        int want = max - (int)h.n < SQS_MAX_BATCH ? max - (int)h.n : SQS_MAX_BATCH;
        struct sqs_messages got = {0};
        rc = queue_receive(dlq, want, 1, visibility, &got, &err);
        size_t fresh = 0;
        for (size_t i = 0; i < got.n && rc == MLW_OK; i++) {
            const struct sqs_message *m = &got.items[i];
            if (held_has(&h, m->message_id)) {
                /* Seen already (its visibility ran out): keep the newest handle. */
                for (size_t k = 0; k < h.n; k++)
                    if (!strcmp(h.ids[k], m->message_id)) {
                        char *d = strdup(m->receipt_handle);
                        if (d) {
                            free(h.handles[k]);
                            h.handles[k] = d;
                        }
                    }
                continue;
            }
            if (held_add(&h, m->message_id, m->receipt_handle)) {
                rc = mlw_err_set(&err, MLW_ENOMEM, "out of memory");
                break;
            }
            fresh++;
            print_row(m);
        }
        queue_messages_free(&got);
        if (rc != MLW_OK || fresh == 0)
            break;
    }
    fflush(stdout);
    held_release(dlq, &h);
    if (rc == MLW_OK)
        fprintf(stderr, "%zu message(s)%s\n", h.n, dry_run ? " would be redriven" : "");
    else
        fprintf(stderr, "mlworker dlq: %s\n", err.msg);
    held_free(&h);
    return rc == MLW_OK ? 0 : 1;
}

static int sqs_redrive(struct queue *src, struct queue *dlq, int max, int visibility)
{
    long long moved = 0, failed = 0;
    int rc = MLW_OK;
    struct mlw_err err = {0};
    while (moved + failed < max) {
        long long left = max - moved - failed;
        int want = left < SQS_MAX_BATCH ? (int)left : SQS_MAX_BATCH;
        struct sqs_messages got = {0};
        rc = queue_receive(dlq, want, 1, visibility, &got, &err);
        if (rc != MLW_OK || got.n == 0) {
            queue_messages_free(&got);
            break;
        }
        struct sqs_send_entry e[SQS_MAX_BATCH];
        memset(e, 0, sizeof e);
        for (size_t i = 0; i < got.n; i++) {
            e[i].body = got.items[i].body;
            e[i].attrs = got.items[i].attrs;
            e[i].n_attrs = got.items[i].n_attrs;
            e[i].delay_seconds = -1;
        }
        rc = queue_send_batch(src, e, got.n, &err);
        if (rc != MLW_OK) {
            /* Nothing known sent: leave them in the DLQ (visible again now). */
            for (size_t i = 0; i < got.n; i++) {
                struct mlw_err rerr = {0};
                queue_change_visibility(dlq, got.items[i].receipt_handle, 0, &rerr);
            }
            queue_messages_free(&got);
            break;
        }
        const char *handles[SQS_MAX_BATCH];
        size_t idx[SQS_MAX_BATCH], nd = 0;
        for (size_t i = 0; i < got.n; i++) {
            if (e[i].ok) {
                handles[nd] = got.items[i].receipt_handle;
                idx[nd++] = i;
            } else {
                /* Stays invisible until its timeout, so this run does not retry it forever. */
                failed++;
                fprintf(stderr, "mlworker dlq: message %s (%zu bytes) was not accepted by the "
                                "queue; it stays in the DLQ\n",
                        got.items[i].message_id, strlen(got.items[i].body));
            }
        }
        int ok[SQS_MAX_BATCH] = {0};
        struct mlw_err derr = {0};
        int drc = nd ? queue_delete_batch(dlq, handles, nd, ok, &derr) : MLW_OK;
        for (size_t k = 0; k < nd; k++) {
            const struct sqs_message *m = &got.items[idx[k]];
            if (drc == MLW_OK && ok[k]) {
                moved++;
                printf("%s -> %s\n", m->message_id, e[idx[k]].message_id);
            } else {
                /* Sent but not deleted: a duplicate, not a loss. */
                failed++;
                fprintf(stderr, "mlworker dlq: message %s was copied to the queue as %s but not "
                                "deleted from the DLQ (%s): it will be redriven again (a "
                                "duplicate)\n",
                        m->message_id, e[idx[k]].message_id,
                        drc != MLW_OK ? derr.msg : "rejected in the batch");
            }
        }
        queue_messages_free(&got);
    }
    fflush(stdout);
    if (rc != MLW_OK)
        fprintf(stderr, "mlworker dlq: %s\n", err.msg);
    fprintf(stderr, "%lld message(s) redriven, %lld not\n", moved, failed);
    return rc == MLW_OK && failed == 0 ? 0 : 1;
}

/* Database queue: the existing dead-letter calls. */
static int db_dlq(struct queue *q, int redrive, int max, int max_given, int dry_run)
{
    struct mlw_err err = {0};
    int rc;
    if (redrive && !dry_run) {
        if (max_given) {
            fprintf(stderr, "mlworker dlq redrive: a database queue redrives all its dead "
                            "letters at once (--max is for SQS)\n");
            return EXIT_USAGE;
        }
        int64_t moved = 0;
        rc = dbqueue_redrive(queue_dbqueue(q), &moved, &err);
        if (rc == MLW_OK)
            fprintf(stderr, "%" PRId64 " message(s) redriven, 0 not\n", moved);
    } else {
        struct sqs_messages m = {0};
        rc = dbqueue_list_dead(queue_dbqueue(q), max, &m, &err);
        if (rc == MLW_OK) {
            print_header();
            for (size_t k = 0; k < m.n; k++)
                print_row(&m.items[k]);
            fprintf(stderr, "%zu message(s)%s\n", m.n, dry_run ? " would be redriven" : "");
        }
        sqs_messages_free(&m);
    }
    if (rc != MLW_OK)
        fprintf(stderr, "mlworker dlq: %s\n", err.msg);
    return rc == MLW_OK ? 0 : 1;
}

int cmd_dlq(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        dlq_usage(stdout);
        return 0;
    }
    int redrive;
    if (argc >= 1 && !strcmp(argv[0], "list"))
        redrive = 0;
    else if (argc >= 1 && !strcmp(argv[0], "redrive"))
        redrive = 1;
    else {
        dlq_usage(stderr);
        return EXIT_USAGE;
    }
    int max = redrive ? DLQ_MAX_MAX : DLQ_DEFAULT_LIST, max_given = 0, dry_run = 0;
    int visibility = 60;
    const char *queue_url = NULL, *dlq_url = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max") && i + 1 < argc) {
            if (parse_count(argv[++i], 1, DLQ_MAX_MAX, &max)) {
                fprintf(stderr, "mlworker dlq: --max must be 1..%d\n", DLQ_MAX_MAX);
                return EXIT_USAGE;
            }
            max_given = 1;
        } else if (!strcmp(argv[i], "--visibility") && i + 1 < argc) {
            if (parse_count(argv[++i], 1, 43200, &visibility)) {
                fprintf(stderr, "mlworker dlq: --visibility must be 1..43200 seconds\n");
                return EXIT_USAGE;
            }
        } else if (redrive && !strcmp(argv[i], "--dry-run")) {
            dry_run = 1;
        } else if (!strcmp(argv[i], "--queue-url") && i + 1 < argc) {
            queue_url = argv[++i];
        } else if (!strcmp(argv[i], "--dlq-url") && i + 1 < argc) {
            dlq_url = argv[++i];
        } else {
            fprintf(stderr, "mlworker dlq: unexpected argument '%s'\n", argv[i]);
            dlq_usage(stderr);
            return EXIT_USAGE;
        }
    }
    struct mlw_err err = {0};
    struct db_target db;
    struct queue *q = NULL, *dlq = NULL;
    if (cli_open_queue(queue_url, &q, &db, "dlq"))
        return 1;
    int status;
    if (queue_dbqueue(q)) {
        status = db_dlq(q, redrive, max, max_given, dry_run);
        goto out;
    }
    char *derived = NULL;
    struct queue_redrive_policy pol = {0};
    if (!dlq_url) {
        if (queue_dead_letter_url(q, &derived, &pol, &err) != MLW_OK) {
            fprintf(stderr, "mlworker dlq: cannot find the dead-letter queue: %s (or pass "
                            "--dlq-url)\n", err.msg);
            status = 1;
            goto out;
        }
        dlq_url = derived;
        fprintf(stderr, "mlworker dlq: DLQ %s (maxReceiveCount %d)\n", dlq_url,
                pol.max_receive_count);
    }
    struct queue_options qo = {env, "us-east-1", NULL, 0}; /* the DLQ of an SQS queue */
    if (queue_open(dlq_url, &qo, &dlq, &err) != MLW_OK) {
        fprintf(stderr, "mlworker dlq: %s\n", err.msg);
        free(derived);
        status = 1;
        goto out;
    }
    queue_set_stop_fn(dlq, NULL);
    if (!redrive || dry_run)
        status = sqs_list(dlq, max, visibility, dry_run);
    else
        status = sqs_redrive(q, dlq, max, visibility);
    queue_close(dlq);
    free(derived);
out:
    queue_close(q);
    config_db_free(&db);
    return status;
}
