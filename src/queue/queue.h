/*
 * queue.h - the job queue behind one small interface.
 *
 * The consumer (jobs/consumer.c), the producer commands (cli/cmd_send.c)
 * and anything else that touches "the queue" go through these calls. Two
 * backends implement them, chosen by the queue URL
 * (ML_WORKER_SQS_QUEUE_URL or --queue-url):
 *
 *   http://..., https://...        Amazon SQS or an emulator (queue/sqs.c)
 *   db[#NAME]                      a table in the worker's own database
 *                                  (DATABASE_URL ...) (queue/dbqueue.c)
 *   sqlite://PATH[#NAME]           a table in that SQLite database
 *   postgresql://...[#NAME]        a table in that PostgreSQL database
 *
 * NAME (letters, digits, '-', '_'; default "default") lets one database
 * hold several queues. Both backends have SQS semantics: a message has an
 * id, a body (the same JSON bodies whichever backend), attributes, a
 * visibility timeout set on receive and extendable (heartbeat) or ended
 * (release), and a receive count; SQS moves a message to its DLQ through
 * the queue's redrive policy, the database queue marks it dead once it has
 * been received max_receives times and becomes visible again.
 *
 * Messages and send entries are the SQS client's structs (queue/sqs.h):
 * struct sqs_message, struct sqs_messages, struct sqs_send_entry,
 * struct sqs_attr, whichever backend fills them.
 *
 * Errors are the backends' (see sqs.h): MLW_ETRANSIENT (retry later),
 * MLW_EFATAL (configuration: no such queue, access denied), MLW_EINVAL
 * (rejected: stale receipt handle, invalid body), MLW_ESTOPPED (a stop was
 * requested during a long poll), MLW_ENOMEM; the database queue adds
 * MLW_EDB / MLW_EBUSY (database errors, retry later).
 *
 * Thread: a queue handle is used by one thread at a time.
 */
#ifndef MLW_QUEUE_H
#define MLW_QUEUE_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "queue/sqs.h"

#define QUEUE_DEFAULT_MAX_RECEIVES 3

enum queue_kind { QUEUE_KIND_SQS, QUEUE_KIND_DB };

struct queue;

/* Depth counts (approximate for SQS). dead: messages dead-lettered in a
 * database queue; -1 for SQS, whose dead letters live in another queue. */
struct queue_depth {
    long long visible;
    long long in_flight;
    long long delayed;
    long long dead;
};

struct queue_options {
    const char *(*getenv_fn)(const char *); /* SQS endpoint/region/credentials (getenv) */
    const char *default_region;             /* SQS: when neither env nor URL give one */
    const struct db_target *db;             /* the worker's database, for "db" (may be NULL) */
    int max_receives;                       /* database queue: dead after this many receives
                                             * (<= 0: QUEUE_DEFAULT_MAX_RECEIVES) */
};

/* Which backend a URL selects (no I/O). */
enum queue_kind queue_kind_of_url(const char *url);

/*
 * Open the queue named by url. SQS: no network I/O yet. Database queue:
 * connects, and applies pending schema migrations to that database when it
 * lacks the queue table. Returns MLW_OK, MLW_EINVAL (malformed URL, "db"
 * without a database), MLW_ENOMEM, or the store's error.
 */
int queue_open(const char *url, const struct queue_options *opt, struct queue **out,
               struct mlw_err *err);
void queue_close(struct queue *q);

enum queue_kind queue_kind(const struct queue *q);
/* "SQS" or "database queue", for log lines ("Received 3 message(s) from SQS"). */
const char *queue_label(const struct queue *q);
/* Where it is, safe to log (passwords masked): the SQS endpoint and region,
 * or the database and queue name. */
const char *queue_where(const struct queue *q);
/* SQS: where the keys came from ("" before the first call, and for the
 * database queue). Never the keys. */
const char *queue_credentials_source(const struct queue *q);
/* Attempts beyond the first over all calls (SQS retries; 0 for the database
 * queue, whose errors go to the caller at once). */
long long queue_retry_count(const struct queue *q);

/* Stop callback polled during long polls and retry waits (default:
 * signals_stop_requested; NULL: never stop early). */
void queue_set_stop_fn(struct queue *q, int (*stop_fn)(void));

/*
 * Receive up to max_messages (1..10), waiting up to wait_seconds (0..20)
 * for the first, each made invisible for visibility_timeout seconds
 * (< 0: the queue's default; 30 s for the database queue). *out is filled
 * (n may be 0); free it with queue_messages_free() whatever the status.
 * Each message carries its receive count (this receive included) and
 * md5_ok (the body and attributes match their MD5s).
 */
int queue_receive(struct queue *q, int max_messages, int wait_seconds, int visibility_timeout,
                  struct sqs_messages *out, struct mlw_err *err);
void queue_messages_free(struct sqs_messages *m);

int queue_delete(struct queue *q, const char *receipt_handle, struct mlw_err *err);
/* Delete n (<= 10) messages; ok[i] = 1 for each deleted. MLW_OK when the
 * call went through (entries may still have failed: see ok[]). */
int queue_delete_batch(struct queue *q, const char *const *receipt_handles, size_t n, int *ok,
                       struct mlw_err *err);
/* 0 releases the message now; otherwise it stays invisible that many more
 * seconds. Fails (MLW_EINVAL) for a message no longer in flight. */
int queue_change_visibility(struct queue *q, const char *receipt_handle, int timeout,
                            struct mlw_err *err);
/* Send one message; fills e->message_id and the MD5s. */
int queue_send(struct queue *q, struct sqs_send_entry *e, struct mlw_err *err);
/* Send n (<= 10) messages; each entry's ok/message_id/MD5s are filled. */
int queue_send_batch(struct queue *q, struct sqs_send_entry *entries, size_t n,
                     struct mlw_err *err);
int queue_depth(struct queue *q, struct queue_depth *out, struct mlw_err *err);

/* ---- dead letters (mlworker dlq, src/cli/cmd_dlq.c) ---- */

/* Where an SQS queue's redrive policy sends its dead letters. */
struct queue_redrive_policy {
    char dlq_account[32];  /* account id from deadLetterTargetArn */
    char dlq_region[32];   /* region from deadLetterTargetArn */
    char dlq_name[96];     /* queue name from deadLetterTargetArn */
    int max_receive_count; /* maxReceiveCount (0 if absent) */
};

/*
 * Parse a RedrivePolicy attribute value, e.g.
 * {"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:q-dlq","maxReceiveCount":"3"}
 * (maxReceiveCount may be a string or a number). Pure. Returns MLW_OK or
 * MLW_EFORMAT (not JSON, no ARN, not an SQS ARN).
 */
int queue_parse_redrive_policy(const char *json, struct queue_redrive_policy *out,
                               struct mlw_err *err);

/*
 * The URL of SQS queue q's dead-letter queue, derived from its
 * RedrivePolicy (GetQueueAttributes, then GetQueueUrl for the ARN's name
 * and account at the same endpoint). *url is malloc'd (caller frees);
 * policy (may be NULL) gets the parsed policy. MLW_ENOTFOUND when the
 * queue has no redrive policy; MLW_EINVAL for a database queue (its dead
 * letters stay in its own table: dbqueue_list_dead / dbqueue_redrive).
 */
int queue_dead_letter_url(struct queue *q, char **url, struct queue_redrive_policy *policy,
                          struct mlw_err *err);

/* The SQS client under q, or NULL for a database queue (for SQS-only
 * calls such as GetQueueUrl). */
struct sqs_client *queue_sqs_client(struct queue *q);
/* The database queue under q, or NULL for SQS (dead-letter listing and
 * redrive, queue/dbqueue.h). */
struct dbqueue *queue_dbqueue(struct queue *q);

#endif
