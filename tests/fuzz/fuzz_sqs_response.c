/* Fuzz the SQS answer parsers (queue/sqs_parse.h): the input is an HTTP
 * answer as the client sees it, optional header lines then "\r\n\r\n" then
 * the JSON body (no separator: all body). Every header line goes through
 * sqs_parse_header; the body (exact size, no NUL) through sqs_parse_body,
 * then every answer parser: error code and message, ReceiveMessage (with
 * the MD5 checks), DeleteMessageBatch, SendMessage(Batch) verification,
 * GetQueueAttributes and GetQueueUrl. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "queue/sqs.h"
#include "queue/sqs_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t find_blank_line(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(d + i, "\r\n\r\n", 4))
            return i;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char qe[160] = "", rid[96] = "";
    const uint8_t *body = data;
    size_t body_n = size, hend = find_blank_line(data, size);
    if (hend < size) {
        size_t i = 0;
        while (i < hend) {
            size_t j = i;
            while (j < hend && data[j] != '\n')
                j++;
            size_t len = j < hend ? j - i + 1 : j - i;
            /* An exact-size heap copy of the line, as curl's buffer is not
             * NUL-terminated. */
            char *line = malloc(len ? len : 1);
            if (!line)
                abort();
            memcpy(line, data + i, len);
            sqs_parse_header(line, len, qe, sizeof qe, rid, sizeof rid);
            free(line);
            i = j + 1;
        }
        body = data + hend + 4;
        body_n = size - hend - 4;
    }
    char *b = malloc(body_n ? body_n : 1);
    if (!b)
        abort();
    if (body_n)
        memcpy(b, body, body_n);
    cJSON *j = sqs_parse_body(b, body_n);
    free(b);

    struct mlw_err err = {0};
    char code[160];
    const char *msg = NULL;
    sqs_parse_error(j, qe, code, sizeof code, &msg);
    if (strlen(code) >= sizeof code || !msg)
        abort();
    (void)sqs_classify_error(code, 400);
    volatile size_t sink = strlen(msg) + strlen(rid);
    (void)sink;

    struct sqs_messages m;
    (void)sqs_parse_receive(j, &m, &err);
    for (size_t i = 0; i < m.n; i++)
        if (m.items[i].body)
            sink = strlen(m.items[i].body) + strlen(m.items[i].md5_of_body);
    sqs_messages_free(&m);

    int ok[SQS_MAX_BATCH] = {0};
    sqs_parse_delete_batch(j, SQS_MAX_BATCH, ok);

    static const struct sqs_attr attrs[] = {{"JobType", "String", "process_pending_vitals"},
                                            {"UserId", "Number", "42"},
                                            {"Blob", "Binary", "aGVsbG8="}};
    struct sqs_send_entry e[3];
    memset(e, 0, sizeof e);
    e[0].body = "{\"job_type\": \"process_pending_vitals\", \"user_id\": 42}";
    e[0].attrs = attrs;
    e[0].n_attrs = 3;
    e[1].body = "";
    e[2].body = "hello";
    e[2].attrs = attrs;
    e[2].n_attrs = 1;
    for (size_t i = 0; i < 3; i++)
        e[i].delay_seconds = -1;
    (void)sqs_parse_send_batch(j, e, 3, &err);
    (void)sqs_parse_sent("SendMessage", &e[0], j, &err);

    static const char *const names[] = {"ApproximateNumberOfMessages", "QueueArn",
                                        "RedrivePolicy"};
    char **v = NULL;
    if (sqs_parse_attributes(j, names, 3, &v, &err) == MLW_OK)
        sqs_strings_free(v, 3);
    free(sqs_parse_queue_url(j));
    cJSON_Delete(j);
    return 0;
}
