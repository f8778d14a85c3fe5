/*
 * sqs_loop.c - the consumer loop of bench/sqs written on mlworker's queue
 * client (queue/queue.h), for a like-for-like comparison with the boto3
 * loop: receive (MaxNumberOfMessages = batch, all attributes) -> the no-op
 * job (parse the body as the consumer does) -> DeleteMessage, or
 * DeleteMessageBatch for several. No logging, no database. Built by
 * bench/sqs against build/libmlw.a.
 *
 *   sqs_loop QUEUE_URL BATCH drain   until a receive (1 s long poll) is empty;
 *                                    prints {"n":..,"first":..,"last":..,"loop_cpu":..}
 *
 * Endpoint, region and keys come from the environment, as for the worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/consumer.h"
#include "queue/queue.h"

static const char *env(const char *name) { return getenv(name); }

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[3], "drain")) {
        fprintf(stderr, "usage: sqs_loop QUEUE_URL BATCH drain\n");
        return 2;
    }
    int batch = atoi(argv[2]);
    struct queue_options qo = {env, "us-east-1", NULL, 0};
    struct queue *q = NULL;
    struct mlw_err err = {0};
    if (queue_open(argv[1], &qo, &q, &err) != MLW_OK) {
        fprintf(stderr, "sqs_loop: %s\n", err.msg);
        return 1;
    }
    queue_set_stop_fn(q, NULL);
    double cpu0 = cpu_seconds(), first = 0, last = 0;
    long n = 0;
    int rc = 0;
    for (;;) {
        struct sqs_messages m = {0};
        mlw_err_clear(&err);
        if (queue_receive(q, batch, 1, 300, &m, &err) != MLW_OK) {
            fprintf(stderr, "sqs_loop: %s\n", err.msg);
            queue_messages_free(&m);
            rc = 1;
            break;
        }
        if (m.n == 0) {
            queue_messages_free(&m);
            break;
        }
        if (first == 0)
            first = now_real();
        const char *handles[SQS_MAX_BATCH];
        int ok[SQS_MAX_BATCH];
        for (size_t i = 0; i < m.n; i++) {
            struct consumer_job job;
            consumer_parse_job(m.items[i].body, &job, NULL); /* the no-op job */
            handles[i] = m.items[i].receipt_handle;
        }
        int drc = m.n == 1 ? queue_delete(q, handles[0], &err)
                           : queue_delete_batch(q, handles, m.n, ok, &err);
        if (drc != MLW_OK) {
            fprintf(stderr, "sqs_loop: delete: %s\n", err.msg);
            rc = 1;
        }
        n += (long)m.n;
        last = now_real();
        queue_messages_free(&m);
        if (rc)
            break;
    }
    double cpu = cpu_seconds() - cpu0;
    printf("{\"n\": %ld, \"first\": %.6f, \"last\": %.6f, \"loop_cpu\": %.6f}\n", n, first, last, cpu);
    queue_close(q);
    return rc;
}
