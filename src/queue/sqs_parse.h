/*
 * sqs_parse.h - the parsers of SQS answers (queue/sqs.c), exposed for the
 * unit tests and the fuzz target tests/fuzz/fuzz_sqs_response.c. Internal:
 * callers outside src/queue use queue/sqs.h. No I/O; every input is
 * untrusted bytes from the network (or an emulator).
 */
#ifndef MLW_QUEUE_SQS_PARSE_H
#define MLW_QUEUE_SQS_PARSE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "queue/sqs.h"

/* One response header line (as curl hands it: "Name: value\r\n", not
 * NUL-terminated, n bytes): x-amzn-query-error goes into query_error,
 * x-amzn-requestid into request_id (trimmed, truncated to fit); other
 * headers are ignored. */
void sqs_parse_header(const char *data, size_t n, char *query_error, size_t qe_len,
                      char *request_id, size_t rid_len);

/* The JSON of an answer body (n bytes, not necessarily NUL-terminated);
 * NULL when it does not parse. An HTTP 200 answer must be an object. */
cJSON *sqs_parse_body(const char *p, size_t n);

/* An error answer (j may be NULL): the code from the query-error header
 * (up to ';') or else __type after its last '#', into code; *msg points
 * into j ("message" or "Message"), "" when none. */
void sqs_parse_error(const cJSON *j, const char *query_error, char *code, size_t code_len,
                     const char **msg);

/* One element of ReceiveMessage's Messages: ids, body, MD5s (checked:
 * md5_ok), ApproximateReceiveCount, MessageAttributes. On error x holds
 * what was parsed (freed by sqs_messages_free of its array). */
int sqs_parse_message(const cJSON *jm, struct sqs_message *x, struct mlw_err *err);

/* A ReceiveMessage answer into *out (zeroed first; free it with
 * sqs_messages_free whatever the status). */
int sqs_parse_receive(const cJSON *resp, struct sqs_messages *out, struct mlw_err *err);

/* The index ("0".."n-1") of a batch result entry's Id; -1 when invalid. */
int sqs_parse_entry_index(const cJSON *e, size_t n);

/* DeleteMessageBatch answer: ok[i] = 1 for each Successful entry (ok[]
 * is not cleared here). */
void sqs_parse_delete_batch(const cJSON *resp, size_t n, int *ok);

/* A SendMessage answer (or one Successful entry of a batch) for e:
 * MessageId and MD5s copied into e and checked against e's body and
 * attributes (mismatch: MLW_EFORMAT). */
int sqs_parse_sent(const char *action, struct sqs_send_entry *e, const cJSON *res,
                   struct mlw_err *err);

/* SendMessageBatch answer: each Successful entry checked (ok set). Returns
 * the first verification error, else MLW_OK. */
int sqs_parse_send_batch(const cJSON *resp, struct sqs_send_entry *entries, size_t n,
                         struct mlw_err *err);

/* GetQueueAttributes answer: *values gets n strings (NULL where absent). */
int sqs_parse_attributes(const cJSON *resp, const char *const *names, size_t n, char ***values,
                         struct mlw_err *err);

/* GetQueueUrl answer: the malloc'd QueueUrl, NULL when absent. */
char *sqs_parse_queue_url(const cJSON *resp);

#endif
