/*
 * dbqueue.h - a job queue in a table of the database, with SQS semantics
 * (the backend of queue.h for "db", "sqlite://..." and "postgresql://..."
 * queue URLs).
 *
 * Table mlw_queue_messages (schema migration <dialect>_NNN_queue.sql), one
 * row per message, keyed by queue_name:
 *
 *   send ----> queued, receive_count 0, visible_at = now + delay
 *   receive -> receive_count + 1, visible_at = now + visibility timeout
 *              (only rows with visible_at <= now; oldest first)
 *   change_visibility(t) -> visible_at = now + t   (in flight only)
 *   delete --> row gone                            (latest receipt only)
 *   a queued row visible again after max_receives receives -> status
 *              'dead' (dead_at set) at the next receive attempt, never
 *              delivered again unless redriven (dbqueue_redrive)
 *
 * Times are milliseconds since the Unix epoch on the database's clock
 * (so several worker hosts agree). A receipt handle names the row and its
 * receive count ("dbq:<row id>:<receive count>"), so a handle from an
 * earlier receive can neither delete nor extend a message received again
 * since. Claims are one transaction: on PostgreSQL the candidate rows are
 * locked FOR UPDATE SKIP LOCKED (two consumers never take the same
 * message, and never wait for each other); on SQLite the transaction takes
 * the write lock (BEGIN IMMEDIATE).
 *
 * Long polling: while nothing is visible, the receive waits until the
 * earliest queued row becomes visible, the wait ends, or a stop is
 * requested; on PostgreSQL it LISTENs on channel "mlw_queue" (every send
 * and release NOTIFYs it); on SQLite an inotify watch on the database and
 * its WAL file wakes it when another connection commits (PRAGMA
 * data_version tells those commits from our own), with a check every 2 s
 * anyway, or every 100 ms where inotify is unavailable.
 *
 * Bodies follow SQS's rules: 1 byte to 256 KiB of UTF-8 in SQS's allowed
 * character set; attributes are stored as the JSON the SQS JSON protocol
 * uses ({"Name": {"DataType": "String", "StringValue": "..."}}; Binary
 * values as "BinaryValue" base64), and the MD5s SQS would return are
 * stored with the message and checked on receive.
 */
#ifndef MLW_DBQUEUE_H
#define MLW_DBQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "queue/queue.h"
#include "queue/sqs.h"

#define DBQUEUE_DEFAULT_NAME "default"
#define DBQUEUE_DEFAULT_VISIBILITY 30 /* seconds, as SQS's default */
#define DBQUEUE_MAX_BODY 262144       /* bytes of body + attributes, as SQS */
#define DBQUEUE_NOTIFY_CHANNEL "mlw_queue"

struct dbqueue;

/*
 * Open queue `name` (NULL: "default") in the database target db. Connects
 * and, when the database lacks the queue table, applies the pending
 * migrations. max_receives <= 0 means QUEUE_DEFAULT_MAX_RECEIVES.
 */
int dbqueue_open(const struct db_target *db, const char *name, int max_receives,
                 struct dbqueue **out, struct mlw_err *err);
void dbqueue_close(struct dbqueue *q);

const char *dbqueue_where(const struct dbqueue *q); /* "<masked db> queue <name>" */
void dbqueue_set_stop_fn(struct dbqueue *q, int (*stop_fn)(void));

int dbqueue_receive(struct dbqueue *q, int max_messages, int wait_seconds,
                    int visibility_timeout, struct sqs_messages *out, struct mlw_err *err);
int dbqueue_delete(struct dbqueue *q, const char *receipt_handle, struct mlw_err *err);
int dbqueue_delete_batch(struct dbqueue *q, const char *const *receipt_handles, size_t n, int *ok,
                         struct mlw_err *err);
int dbqueue_change_visibility(struct dbqueue *q, const char *receipt_handle, int timeout,
                              struct mlw_err *err);
int dbqueue_send(struct dbqueue *q, struct sqs_send_entry *e, struct mlw_err *err);
int dbqueue_send_batch(struct dbqueue *q, struct sqs_send_entry *entries, size_t n,
                       struct mlw_err *err);
int dbqueue_depth(struct dbqueue *q, struct queue_depth *out, struct mlw_err *err);

/* Dead letters of this queue, oldest first, at most limit: *out is filled
 * like a receive (receipt_handle "", receive_count the receives it had);
 * free with sqs_messages_free(). */
int dbqueue_list_dead(struct dbqueue *q, int limit, struct sqs_messages *out,
                      struct mlw_err *err);
/* Make every dead letter of this queue visible again with a fresh receive
 * count (what SQS's DLQ redrive does). *moved gets how many. */
int dbqueue_redrive(struct dbqueue *q, int64_t *moved, struct mlw_err *err);

/* ---- pure helpers (no I/O), exposed for the unit tests ---- */

/* Split a queue URL "db#name", "sqlite://x.db#name": *name_at points at
 * the name after '#', or NULL; returns the length of the part before '#'.
 * The name must be 1..80 of [A-Za-z0-9_-] (else -1). */
long dbqueue_split_url(const char *url, const char **name_at);
/* SQS's body rule: 1..DBQUEUE_MAX_BODY bytes of valid UTF-8 made of #x9,
 * #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF. 0 if valid, else
 * -1 with the reason in err. */
int dbqueue_check_body(const char *body, struct mlw_err *err);
/* Attributes <-> the JSON stored with the message. */
int dbqueue_attrs_to_json(const struct sqs_attr *attrs, size_t n, char **json,
                          struct mlw_err *err);
int dbqueue_attrs_from_json(const char *json, struct sqs_attr **attrs, size_t *n,
                            struct mlw_err *err);
/* "dbq:<id>:<count>" <-> (id, count). parse returns -1 on a malformed handle. */
void dbqueue_format_handle(int64_t id, int64_t count, char *buf, size_t cap);
int dbqueue_parse_handle(const char *handle, int64_t *id, int64_t *count);

#endif
