/*
 * queue.c - queue.h over its two backends: a const table of operations
 * per backend, filled from sqs.c and dbqueue.c, and the URL dispatch.
 */
#include "queue/queue.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/dbqueue.h"

struct queue_ops {
    const char *label;
    int (*receive)(void *b, int max, int wait, int vis, struct sqs_messages *out,
                   struct mlw_err *err);
    int (*del)(void *b, const char *handle, struct mlw_err *err);
    int (*delete_batch)(void *b, const char *const *handles, size_t n, int *ok,
                        struct mlw_err *err);
    int (*change_visibility)(void *b, const char *handle, int timeout, struct mlw_err *err);
    int (*send)(void *b, struct sqs_send_entry *e, struct mlw_err *err);
    int (*send_batch)(void *b, struct sqs_send_entry *e, size_t n, struct mlw_err *err);
    int (*depth)(void *b, struct queue_depth *out, struct mlw_err *err);
    void (*set_stop_fn)(void *b, int (*stop_fn)(void));
    void (*close)(void *b);
};

struct queue {
    const struct queue_ops *ops;
    enum queue_kind kind;
    void *backend; /* struct sqs_client * or struct dbqueue * */
    char where[400];
};

/* ---- SQS ---- */

static int sqs_op_receive(void *b, int max, int wait, int vis, struct sqs_messages *out,
                          struct mlw_err *err)
{
    return sqs_receive(b, max, wait, vis, out, err);
}
static int sqs_op_delete(void *b, const char *h, struct mlw_err *err)
{
    return sqs_delete(b, h, err);
}
static int sqs_op_delete_batch(void *b, const char *const *h, size_t n, int *ok,
                               struct mlw_err *err)
{
    return sqs_delete_batch(b, h, n, ok, err);
}
static int sqs_op_change_visibility(void *b, const char *h, int t, struct mlw_err *err)
{
    return sqs_change_visibility(b, h, t, err);
}
static int sqs_op_send(void *b, struct sqs_send_entry *e, struct mlw_err *err)
{
    return sqs_send(b, e, err);
}
static int sqs_op_send_batch(void *b, struct sqs_send_entry *e, size_t n, struct mlw_err *err)
{
    return sqs_send_batch(b, e, n, err);
}
static int sqs_op_depth(void *b, struct queue_depth *out, struct mlw_err *err)
{
    struct sqs_depth d = {0};
    int rc = sqs_get_depth(b, &d, err);
    *out = (struct queue_depth){d.visible, d.in_flight, d.delayed, -1};
    return rc;
}
static void sqs_op_set_stop_fn(void *b, int (*fn)(void)) { sqs_set_stop_fn(b, fn); }
static void sqs_op_close(void *b) { sqs_close(b); }

static const struct queue_ops sqs_ops = {
    "SQS",          sqs_op_receive,    sqs_op_delete,      sqs_op_delete_batch,
    sqs_op_change_visibility, sqs_op_send, sqs_op_send_batch, sqs_op_depth,
    sqs_op_set_stop_fn, sqs_op_close,
};

/* ---- database ---- */

static int db_op_receive(void *b, int max, int wait, int vis, struct sqs_messages *out,
                         struct mlw_err *err)
{
    return dbqueue_receive(b, max, wait, vis, out, err);
}
static int db_op_delete(void *b, const char *h, struct mlw_err *err)
{
    return dbqueue_delete(b, h, err);
}
static int db_op_delete_batch(void *b, const char *const *h, size_t n, int *ok,
                              struct mlw_err *err)
{
    return dbqueue_delete_batch(b, h, n, ok, err);
}
static int db_op_change_visibility(void *b, const char *h, int t, struct mlw_err *err)
{
    return dbqueue_change_visibility(b, h, t, err);
}
static int db_op_send(void *b, struct sqs_send_entry *e, struct mlw_err *err)
{
    return dbqueue_send(b, e, err);
}
static int db_op_send_batch(void *b, struct sqs_send_entry *e, size_t n, struct mlw_err *err)
{
    return dbqueue_send_batch(b, e, n, err);
}
static int db_op_depth(void *b, struct queue_depth *out, struct mlw_err *err)
{
    return dbqueue_depth(b, out, err);
}
static void db_op_set_stop_fn(void *b, int (*fn)(void)) { dbqueue_set_stop_fn(b, fn); }
static void db_op_close(void *b) { dbqueue_close(b); }

static const struct queue_ops db_ops = {
    "database queue",        db_op_receive, db_op_delete,     db_op_delete_batch,
    db_op_change_visibility, db_op_send,    db_op_send_batch, db_op_depth,
    db_op_set_stop_fn,       db_op_close,
};

/* ---- dispatch ---- */

static int is_db_url(const char *url)
{
    return !strcmp(url, "db") || !strncmp(url, "db#", 3) || !strncmp(url, "sqlite://", 9) ||
           !strncmp(url, "postgresql", 10) || !strncmp(url, "postgres://", 11);
}

enum queue_kind queue_kind_of_url(const char *url)
{
    return url && is_db_url(url) ? QUEUE_KIND_DB : QUEUE_KIND_SQS;
}

static int open_db(const char *url, const struct queue_options *opt, struct queue *q,
                   struct mlw_err *err)
{
    const char *name = NULL;
    long base = dbqueue_split_url(url, &name);
    if (base < 0)
        return mlw_err_set(err, MLW_EINVAL, "queue URL: the name after '#' must be 1..80 "
                                            "letters, digits, '-' or '_'");
    struct dbqueue *dq = NULL;
    int rc;
    if (base == 2 && !strncmp(url, "db", 2)) {
        if (!opt->db)
            return mlw_err_set(err, MLW_EINVAL, "queue URL 'db': no database configured");
        rc = dbqueue_open(opt->db, name, opt->max_receives, &dq, err);
    } else {
        char *u = malloc((size_t)base + 1);
        if (!u)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        memcpy(u, url, (size_t)base);
        u[base] = '\0';
        struct db_target t;
        rc = config_parse_db_url(&t, u, "ML_WORKER_SQS_QUEUE_URL", err);
        free(u);
        if (rc != MLW_OK)
            return rc;
        rc = dbqueue_open(&t, name, opt->max_receives, &dq, err);
        config_db_free(&t);
    }
    if (rc != MLW_OK)
        return rc;
    q->backend = dq;
    snprintf(q->where, sizeof q->where, "%s", dbqueue_where(dq));
    return MLW_OK;
}

int queue_open(const char *url, const struct queue_options *opt, struct queue **out,
               struct mlw_err *err)
{
    *out = NULL;
    if (!url || !*url)
        return mlw_err_set(err, MLW_EINVAL, "no queue URL");
    struct queue *q = calloc(1, sizeof *q);
    if (!q)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc;
    if (is_db_url(url)) {
        q->kind = QUEUE_KIND_DB;
        q->ops = &db_ops;
        rc = open_db(url, opt, q, err);
    } else {
        q->kind = QUEUE_KIND_SQS;
        q->ops = &sqs_ops;
        struct sqs_client *c = NULL;
        rc = sqs_open(url, opt->getenv_fn, opt->default_region, &c, err);
        if (rc == MLW_OK) {
            q->backend = c;
            snprintf(q->where, sizeof q->where, "%.200s (region %.40s, endpoint %.120s)", url,
                     sqs_region(c), sqs_endpoint(c));
        }
    }
    if (rc != MLW_OK) {
        free(q);
        return rc;
    }
    *out = q;
    return MLW_OK;
}

void queue_close(struct queue *q)
{
    if (!q)
        return;
    q->ops->close(q->backend);
    free(q);
}

enum queue_kind queue_kind(const struct queue *q) { return q->kind; }
const char *queue_label(const struct queue *q) { return q->ops->label; }
const char *queue_where(const struct queue *q) { return q->where; }

const char *queue_credentials_source(const struct queue *q)
{
    return q->kind == QUEUE_KIND_SQS ? sqs_credentials_source(q->backend) : "";
}

long long queue_retry_count(const struct queue *q)
{
    return q->kind == QUEUE_KIND_SQS ? sqs_retry_count(q->backend) : 0;
}

void queue_set_stop_fn(struct queue *q, int (*stop_fn)(void)) { q->ops->set_stop_fn(q->backend, stop_fn); }

int queue_receive(struct queue *q, int max_messages, int wait_seconds, int visibility_timeout,
                  struct sqs_messages *out, struct mlw_err *err)
{
    return q->ops->receive(q->backend, max_messages, wait_seconds, visibility_timeout, out, err);
}

void queue_messages_free(struct sqs_messages *m) { sqs_messages_free(m); }

int queue_delete(struct queue *q, const char *receipt_handle, struct mlw_err *err)
{
    return q->ops->del(q->backend, receipt_handle, err);
}

int queue_delete_batch(struct queue *q, const char *const *receipt_handles, size_t n, int *ok,
                       struct mlw_err *err)
{
    return q->ops->delete_batch(q->backend, receipt_handles, n, ok, err);
}

int queue_change_visibility(struct queue *q, const char *receipt_handle, int timeout,
                            struct mlw_err *err)
{
    return q->ops->change_visibility(q->backend, receipt_handle, timeout, err);
}

int queue_send(struct queue *q, struct sqs_send_entry *e, struct mlw_err *err)
{
    return q->ops->send(q->backend, e, err);
}

int queue_send_batch(struct queue *q, struct sqs_send_entry *entries, size_t n,
                     struct mlw_err *err)
{
    return q->ops->send_batch(q->backend, entries, n, err);
}

int queue_depth(struct queue *q, struct queue_depth *out, struct mlw_err *err)
{
    return q->ops->depth(q->backend, out, err);
}

struct sqs_client *queue_sqs_client(struct queue *q)
{
    return q->kind == QUEUE_KIND_SQS ? q->backend : NULL;
}

struct dbqueue *queue_dbqueue(struct queue *q)
{
    return q->kind == QUEUE_KIND_DB ? q->backend : NULL;
}

/* ---- dead letters ---- */

int queue_parse_redrive_policy(const char *json, struct queue_redrive_policy *out,
                               struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_Parse(json ? json : "");
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mlw_err_set(err, MLW_EFORMAT, "RedrivePolicy is not a JSON object");
    }
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(j, "deadLetterTargetArn");
    const cJSON *mrc = cJSON_GetObjectItemCaseSensitive(j, "maxReceiveCount");
    if (cJSON_IsNumber(mrc) && mrc->valuedouble >= 1 && mrc->valuedouble <= 1000)
        out->max_receive_count = (int)mrc->valuedouble;
    else if (cJSON_IsString(mrc)) {
        char *end;
        long v = strtol(mrc->valuestring, &end, 10);
        out->max_receive_count = *end == '\0' && v >= 1 && v <= 1000 ? (int)v : 0;
    }
    /* arn:aws[-partition]:sqs:REGION:ACCOUNT:NAME */
    const char *f[6] = {0};
    size_t len[6] = {0};
    int nf = 0;
    if (cJSON_IsString(arn)) {
        const char *p = arn->valuestring;
        while (nf < 6) {
            const char *c = nf < 5 ? strchr(p, ':') : p + strlen(p);
            if (!c)
                break;
            f[nf] = p;
            len[nf++] = (size_t)(c - p);
            if (!*c)
                break;
            p = c + 1;
        }
    }
    int rc = MLW_OK;
    if (!cJSON_IsString(arn))
        rc = mlw_err_set(err, MLW_EFORMAT, "RedrivePolicy has no deadLetterTargetArn");
    else if (nf != 6 || len[0] != 3 || strncmp(f[0], "arn", 3) || len[2] != 3 ||
             strncmp(f[2], "sqs", 3) || len[4] == 0 || len[5] == 0 ||
             len[3] >= sizeof out->dlq_region || len[4] >= sizeof out->dlq_account ||
             len[5] >= sizeof out->dlq_name)
        rc = mlw_err_set(err, MLW_EFORMAT, "deadLetterTargetArn '%.120s' is not an SQS queue ARN",
                         arn->valuestring);
    else {
        memcpy(out->dlq_region, f[3], len[3]);
        memcpy(out->dlq_account, f[4], len[4]);
        memcpy(out->dlq_name, f[5], len[5]);
    }
    cJSON_Delete(j);
    return rc;
}

int queue_dead_letter_url(struct queue *q, char **url, struct queue_redrive_policy *policy,
                          struct mlw_err *err)
{
    *url = NULL;
    if (q->kind != QUEUE_KIND_SQS)
        return mlw_err_set(err, MLW_EINVAL, "a database queue keeps its dead letters in its own "
                                            "table (no separate DLQ)");
    const char *names[] = {"RedrivePolicy"};
    char **v = NULL;
    int rc = sqs_get_attributes(q->backend, names, 1, &v, err);
    if (rc != MLW_OK)
        return rc;
    struct queue_redrive_policy pol;
    if (!v[0])
        rc = mlw_err_set(err, MLW_ENOTFOUND, "the queue has no RedrivePolicy (no dead-letter "
                                             "queue configured)");
    else
        rc = queue_parse_redrive_policy(v[0], &pol, err);
    sqs_strings_free(v, 1);
    if (rc == MLW_OK)
        rc = sqs_get_queue_url(q->backend, pol.dlq_name, pol.dlq_account, url, err);
    if (rc == MLW_OK && policy)
        *policy = pol;
    return rc;
}
