/*
 * sqs.h - an Amazon SQS client: the AWS JSON 1.0 protocol over libcurl.
 *
 * Every call is one HTTPS (or, for local emulators, HTTP) POST to the
 * endpoint's "/" with
 *     Content-Type: application/x-amz-json-1.0
 *     X-Amz-Target: AmazonSQS.<Action>
 * and a JSON body holding QueueUrl and the action's parameters, signed
 * with SigV4 (queue/sigv4.h) for service "sqs" with keys from the
 * credential chain (queue/aws_credentials.h). This is the protocol boto3
 * 1.43 and the current AWS SDKs use.
 *
 * Endpoint: the queue URL's scheme://host[:port], unless
 * AWS_ENDPOINT_URL_SQS or else AWS_ENDPOINT_URL names another one (local
 * emulators, proxies, VPC endpoints). Region: AWS_REGION, else
 * AWS_DEFAULT_REGION, else the queue URL's host (sqs.<region>.amazonaws.com,
 * <region>.queue.amazonaws.com), else the caller's default. TLS peer and
 * host verification are always on for https (AWS_CA_BUNDLE may name the CA
 * file). One curl handle is reused, so connections are kept alive.
 *
 * Errors (the int status of every call, err filled):
 *   MLW_ETRANSIENT  throttling, HTTP 5xx, network failures, truncated or
 *                   unparseable responses: already retried here
 *                   (SQS_MAX_ATTEMPTS, exponential backoff with full jitter,
 *                   sleeps interruptible by a stop request); the caller
 *                   backs off further.
 *   MLW_EFATAL      access denied, non-existent queue, bad signature or
 *                   keys: configuration errors, not retried.
 *   MLW_EINVAL      the service rejected the request (invalid receipt
 *                   handle, parameter out of range, message too large).
 *   MLW_EFORMAT     an MD5 the service returned does not match what was
 *                   sent (send) - the message may be corrupted.
 *   MLW_ESTOPPED    a stop was requested while waiting (long poll or
 *                   backoff); nothing was received.
 *   MLW_ENOMEM, MLW_ENOTFOUND (no credentials).
 * err->msg names the action, the AWS error code and its message, never a
 * secret.
 *
 * Thread: a client is used by one thread at a time.
 */
#ifndef MLW_QUEUE_SQS_H
#define MLW_QUEUE_SQS_H

#include <stddef.h>

#include "core/err.h"

#define SQS_MAX_ATTEMPTS 4      /* per call, for retryable failures */
#define SQS_MAX_BATCH 10        /* the service's limit on batch calls */
#define SQS_MD5_HEX 33          /* 32 hex digits + NUL */

struct sqs_client;

/* A message attribute. data_type is "String", "Number" or "Binary" (with
 * optional ".label" suffix); value is the text (Binary: base64 as on the
 * wire, as the JSON protocol carries it). */
struct sqs_attr {
    char *name;
    char *data_type;
    char *value;
};

struct sqs_message {
    char *message_id;
    char *receipt_handle;
    char *body;
    char md5_of_body[SQS_MD5_HEX];
    char md5_of_attrs[SQS_MD5_HEX]; /* "" when no attributes */
    int md5_ok;                     /* 1: body and attribute MD5s verified */
    int receive_count;              /* ApproximateReceiveCount, 0 if absent */
    long long sent_ms;              /* SentTimestamp (epoch ms), 0 if absent */
    long long first_receive_ms;     /* ApproximateFirstReceiveTimestamp, 0 if absent */
    struct sqs_attr *attrs;         /* MessageAttributes */
    size_t n_attrs;
};

struct sqs_messages {
    struct sqs_message *items;
    size_t n;
};

/* A send request (SendMessage, or one entry of SendMessageBatch). */
struct sqs_send_entry {
    const char *body;
    const struct sqs_attr *attrs;
    size_t n_attrs;
    int delay_seconds;              /* 0..900; -1 = queue default */
    /* OUT: */
    char message_id[128];
    char md5_of_body[SQS_MD5_HEX];
    char md5_of_attrs[SQS_MD5_HEX];
    int ok;                         /* batch: 1 if this entry was accepted */
};

/* Approximate queue depth (GetQueueAttributes). */
struct sqs_depth {
    long long visible;   /* ApproximateNumberOfMessages */
    long long in_flight; /* ApproximateNumberOfMessagesNotVisible */
    long long delayed;   /* ApproximateNumberOfMessagesDelayed */
};

/*
 * A client for queue_url. getenv_fn reads the endpoint, region and
 * credentials variables (getenv in production); default_region is used
 * when neither the environment nor the URL give one. No network I/O
 * (credentials are resolved on the first call). Returns MLW_OK,
 * MLW_EINVAL (malformed URL) or MLW_ENOMEM.
 */
int sqs_open(const char *queue_url, const char *(*getenv_fn)(const char *),
             const char *default_region, struct sqs_client **out, struct mlw_err *err);
void sqs_close(struct sqs_client *c);

/* Region and endpoint the client signs for and talks to (for logs). */
const char *sqs_region(const struct sqs_client *c);
const char *sqs_endpoint(const struct sqs_client *c);
/* Where the keys came from ("environment", "container endpoint", ...);
 * "" before the first call. Never the keys themselves. */
const char *sqs_credentials_source(const struct sqs_client *c);

/* Attempts beyond the first, over all calls so far (for stats). */
long long sqs_retry_count(const struct sqs_client *c);

/* Stop callback: polled about once a second during transfers and waits.
 * When it returns non-zero, a long poll that has not yet started to
 * receive its answer is abandoned (MLW_ESTOPPED) and retry sleeps end.
 * Default: signals_stop_requested. */
void sqs_set_stop_fn(struct sqs_client *c, int (*stop_fn)(void));

/*
 * ReceiveMessage: up to max_messages (1..10), long-polling wait_seconds
 * (0..20), with visibility_timeout (< 0: the queue's default), all
 * message attributes and all system attributes. MD5s of body and
 * attributes are checked (md5_ok). *out is filled (n may be 0); free it
 * with sqs_messages_free() whatever the status.
 */
int sqs_receive(struct sqs_client *c, int max_messages, int wait_seconds, int visibility_timeout,
                struct sqs_messages *out, struct mlw_err *err);
void sqs_messages_free(struct sqs_messages *m);

int sqs_delete(struct sqs_client *c, const char *receipt_handle, struct mlw_err *err);

/*
 * DeleteMessageBatch of n (<= 10) receipt handles. ok[i] (caller array of
 * n) gets 1 for each deleted entry. Returns MLW_OK when the call went
 * through (some entries may still have failed: see ok[]).
 */
int sqs_delete_batch(struct sqs_client *c, const char *const *receipt_handles, size_t n, int *ok,
                     struct mlw_err *err);

/* ChangeMessageVisibility: 0 releases the message now; otherwise the
 * message stays invisible for that many more seconds (heartbeat). */
int sqs_change_visibility(struct sqs_client *c, const char *receipt_handle, int timeout,
                          struct mlw_err *err);

/* SendMessage. Fills e->message_id and the MD5s, which are verified
 * against the body and attributes sent (mismatch: MLW_EFORMAT). */
int sqs_send(struct sqs_client *c, struct sqs_send_entry *e, struct mlw_err *err);

/* SendMessageBatch of n (<= 10) entries; each entry's ok/message_id/MD5s
 * are filled. Returns MLW_OK when the call went through. */
int sqs_send_batch(struct sqs_client *c, struct sqs_send_entry *entries, size_t n,
                   struct mlw_err *err);

int sqs_get_depth(struct sqs_client *c, struct sqs_depth *out, struct mlw_err *err);

/* GetQueueAttributes for the named attributes (e.g. "QueueArn",
 * "RedrivePolicy"): *values gets n strings (NULL where absent) the caller
 * frees with sqs_strings_free(). */
int sqs_get_attributes(struct sqs_client *c, const char *const *names, size_t n, char ***values,
                       struct mlw_err *err);
void sqs_strings_free(char **v, size_t n);

/* GetQueueUrl for a queue name (owner: account id or NULL). *url is
 * malloc'd. The client's own queue URL is not needed for this call. */
int sqs_get_queue_url(struct sqs_client *c, const char *queue_name, const char *owner,
                      char **url, struct mlw_err *err);

/* ---- pure helpers (no I/O), exposed for the unit tests ---- */

/* MD5 of the message attributes as SQS computes it (attributes sorted by
 * name; each: 4-byte big-endian length + bytes of name, of data type, a
 * transport byte 1 (String/Number) or 2 (Binary), length + value bytes,
 * Binary values decoded from base64). hex gets "" when n == 0. */
int sqs_md5_of_attributes(const struct sqs_attr *attrs, size_t n, char hex[SQS_MD5_HEX],
                          struct mlw_err *err);
void sqs_md5_hex(const void *data, size_t len, char hex[SQS_MD5_HEX]);

/* Region from a queue URL host, into out (empty if none recognised). */
void sqs_region_from_url(const char *queue_url, char *out, size_t out_len);

/* Map an AWS error code (the part after '#' of __type, or a query-error
 * code) and HTTP status to an MLW_E* status (an expired token is
 * MLW_ETRANSIENT: the client refreshes the keys and retries). */
int sqs_classify_error(const char *code, long http_status);

#endif
