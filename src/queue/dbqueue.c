/*
 * dbqueue.c - the database-backed job queue (see dbqueue.h for the
 * message states, the table and the waiting strategy).
 *
 * Statements are written once per dialect; the only differences are the
 * clock expression (milliseconds since the epoch on the database's clock)
 * and PostgreSQL's FOR UPDATE SKIP LOCKED on the claim. A receive is:
 *
 *   loop:  next = MIN(visible_at) - now over the queue's queued rows  (read)
 *          next <= 0 -> claim (one write transaction):
 *                 SELECT the oldest visible rows LIMIT n [FOR UPDATE SKIP LOCKED]
 *                 rows received max_receives times already -> status 'dead'
 *                 the others -> receive_count + 1, visible_at = now + timeout
 *          got some, or the wait is over -> return
 *          wait until next, a notification / file change, or the deadline
 */
#include "queue/dbqueue.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <unistd.h>
#include <time.h>

#include "core/log.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "store/store.h"

#define SQLITE_TICK 0.1       /* seconds between data_version checks (no inotify) */
#define SQLITE_SAFETY_TICK 2.0 /* with inotify: a data_version check this often anyway */
#define MAX_VISIBILITY 43200
#define MAX_DELAY 900
#define MAX_ATTRS 10

/* Statements of one dialect. NOW is the dialect's clock expression. */
struct dq_sql {
    const char *next_visible;
    const char *candidates;
    const char *mark_dead;   /* prefix for store_exec_in */
    const char *mark_received;
    const char *del;
    const char *change_vis;
    const char *insert;
    const char *depth;
    const char *list_dead;
    const char *redrive;
    const char *has_table;
};

#define COLS "id, message_id, body, attributes, md5_of_body, md5_of_attributes, receive_count"

#define DQ_SQL(NOW, LOCK, HAS_TABLE)                                                             \
    {                                                                                            \
        "SELECT MIN(visible_at) - " NOW " FROM mlw_queue_messages"                               \
        " WHERE queue_name = ? AND status = 'queued'",                                           \
        "SELECT " COLS " FROM mlw_queue_messages"                                                \
        " WHERE queue_name = ? AND status = 'queued' AND visible_at <= " NOW                     \
        " ORDER BY visible_at, id LIMIT ?" LOCK,                                                 \
        "UPDATE mlw_queue_messages SET status = 'dead', dead_at = " NOW " WHERE id IN",          \
        "UPDATE mlw_queue_messages SET receive_count = receive_count + 1,"                       \
        " visible_at = " NOW " + ?, first_received_at = COALESCE(first_received_at, " NOW ")"   \
        " WHERE id IN",                                                                          \
        "DELETE FROM mlw_queue_messages WHERE id = ? AND receive_count = ?"                      \
        " AND queue_name = ? AND status = 'queued'",                                             \
        "UPDATE mlw_queue_messages SET visible_at = " NOW " + ?"                                 \
        " WHERE id = ? AND receive_count = ? AND queue_name = ? AND status = 'queued'"           \
        " AND visible_at > " NOW,                                                                \
        "INSERT INTO mlw_queue_messages (queue_name, message_id, body, attributes,"              \
        " md5_of_body, md5_of_attributes, status, receive_count, sent_at, visible_at)"           \
        " VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, " NOW ", " NOW " + ?)",                         \
        "SELECT"                                                                                 \
        " COALESCE(SUM(CASE WHEN status = 'queued' AND visible_at <= " NOW " THEN 1 ELSE 0 END), 0)," \
        " COALESCE(SUM(CASE WHEN status = 'queued' AND visible_at > " NOW                        \
        " AND receive_count > 0 THEN 1 ELSE 0 END), 0),"                                         \
        " COALESCE(SUM(CASE WHEN status = 'queued' AND visible_at > " NOW                        \
        " AND receive_count = 0 THEN 1 ELSE 0 END), 0),"                                         \
        " COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0)"                         \
        " FROM mlw_queue_messages WHERE queue_name = ?",                                         \
        "SELECT " COLS " FROM mlw_queue_messages WHERE queue_name = ? AND status = 'dead'"       \
        " ORDER BY dead_at, id LIMIT ?",                                                         \
        "UPDATE mlw_queue_messages SET status = 'queued', receive_count = 0, dead_at = NULL,"    \
        " first_received_at = NULL, visible_at = " NOW                                           \
        " WHERE queue_name = ? AND status = 'dead'",                                             \
        HAS_TABLE                                                                                \
    }

static const struct dq_sql SQL_SQLITE =
    DQ_SQL("CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)", "",
           "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mlw_queue_messages'");
static const struct dq_sql SQL_POSTGRES =
    DQ_SQL("CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT)", " FOR UPDATE SKIP LOCKED",
           "SELECT count(*) FROM information_schema.tables WHERE table_name = 'mlw_queue_messages'"
           " AND table_schema = current_schema()");

struct dbqueue {
    struct store *st;
    const struct dq_sql *sql;
    char name[81];
    int max_receives;
    int (*stop_fn)(void);
    int listening;          /* PostgreSQL: LISTEN issued on this session */
    int64_t data_version;   /* SQLite: last PRAGMA data_version */
    int inotify_fd;         /* SQLite: watches the database and its WAL file; -1: poll */
    char where[400];
};

/* ---- pure helpers ---- */

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

long dbqueue_split_url(const char *url, const char **name_at)
{
    const char *hash = strrchr(url, '#');
    *name_at = NULL;
    if (!hash)
        return (long)strlen(url);
    size_t n = strlen(hash + 1);
    if (n == 0 || n > 80)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!name_char(hash[1 + i]))
            return -1;
    *name_at = hash + 1;
    return (long)(hash - url);
}

int dbqueue_check_body(const char *body, struct mlw_err *err)
{
    const unsigned char *p = (const unsigned char *)body;
    size_t len = strlen(body);
    if (len == 0)
        return mlw_err_set(err, MLW_EINVAL, "the message body is empty"), -1;
    if (len > DBQUEUE_MAX_BODY)
        return mlw_err_set(err, MLW_EINVAL, "the message body is %zu bytes (at most %d)", len,
                           DBQUEUE_MAX_BODY), -1;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        uint32_t cp;
        int n;
        if (c < 0x80) {
            cp = c;
            n = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            n = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            n = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            n = 4;
        } else {
            return mlw_err_set(err, MLW_EINVAL, "the message body is not valid UTF-8 (byte %zu)",
                               i), -1;
        }
        if (i + (size_t)n > len)
            return mlw_err_set(err, MLW_EINVAL, "the message body ends inside a UTF-8 sequence"),
                   -1;
        for (int k = 1; k < n; k++) {
            if ((p[i + (size_t)k] & 0xC0) != 0x80)
                return mlw_err_set(err, MLW_EINVAL,
                                   "the message body is not valid UTF-8 (byte %zu)", i), -1;
            cp = (cp << 6) | (p[i + (size_t)k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
            return mlw_err_set(err, MLW_EINVAL, "the message body has an overlong UTF-8 "
                                                "sequence (byte %zu)", i), -1;
        int allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                      (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
        if (!allowed)
            return mlw_err_set(err, MLW_EINVAL, "the message body has character U+%04X, which "
                                                "SQS does not allow (byte %zu)", (unsigned)cp, i),
                   -1;
        i += (size_t)n;
    }
    return 0;
}

int dbqueue_attrs_to_json(const struct sqs_attr *attrs, size_t n, char **json,
                          struct mlw_err *err)
{
    *json = NULL;
    if (n > MAX_ATTRS)
        return mlw_err_set(err, MLW_EINVAL, "%zu message attributes (at most %d)", n, MAX_ATTRS);
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct sqs_attr *a = &attrs[i];
        if (!a->name || !a->name[0] || !a->data_type || !a->value) {
            cJSON_Delete(root);
            return mlw_err_set(err, MLW_EINVAL, "message attribute without name, type or value");
        }
        int binary = !strncmp(a->data_type, "Binary", 6);
        if (!binary && strncmp(a->data_type, "String", 6) && strncmp(a->data_type, "Number", 6)) {
            cJSON_Delete(root);
            return mlw_err_set(err, MLW_EINVAL, "attribute %.80s: data type %.40s is not String, "
                                                "Number or Binary", a->name, a->data_type);
        }
        if (cJSON_GetObjectItemCaseSensitive(root, a->name)) {
            cJSON_Delete(root);
            return mlw_err_set(err, MLW_EINVAL, "attribute %.80s given twice", a->name);
        }
        cJSON *o = cJSON_AddObjectToObject(root, a->name);
        if (!o || !cJSON_AddStringToObject(o, "DataType", a->data_type) ||
            !cJSON_AddStringToObject(o, binary ? "BinaryValue" : "StringValue", a->value)) {
            cJSON_Delete(root);
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        }
    }
    *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return *json ? MLW_OK : mlw_err_set(err, MLW_ENOMEM, "out of memory");
}

static void attrs_free(struct sqs_attr *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].data_type);
        free(a[i].value);
    }
    free(a);
}

int dbqueue_attrs_from_json(const char *json, struct sqs_attr **attrs, size_t *n,
                            struct mlw_err *err)
{
    *attrs = NULL;
    *n = 0;
    cJSON *root = cJSON_Parse(json ? json : "");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "stored attributes are not a JSON object");
    }
    size_t cnt = (size_t)cJSON_GetArraySize(root);
    if (cnt == 0) {
        cJSON_Delete(root);
        return MLW_OK;
    }
    struct sqs_attr *a = calloc(cnt, sizeof *a);
    if (!a) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    size_t k = 0;
    int rc = MLW_OK;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "DataType");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "StringValue");
        if (!v)
            v = cJSON_GetObjectItemCaseSensitive(it, "BinaryValue");
        if (!cJSON_IsString(dt) || !cJSON_IsString(v) || !it->string) {
            rc = mlw_err_set(err, MLW_EFORMAT, "a stored attribute lacks DataType or its value");
            break;
        }
        a[k].name = strdup(it->string);
        a[k].data_type = strdup(dt->valuestring);
        a[k].value = strdup(v->valuestring);
        k++;
        if (!a[k - 1].name || !a[k - 1].data_type || !a[k - 1].value) {
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
            break;
        }
    }
    cJSON_Delete(root);
    if (rc != MLW_OK) {
        attrs_free(a, k);
        return rc;
    }
    *attrs = a;
    *n = k;
    return MLW_OK;
}

void dbqueue_format_handle(int64_t id, int64_t count, char *buf, size_t cap)
{
    snprintf(buf, cap, "dbq:%" PRId64 ":%" PRId64, id, count);
}

int dbqueue_parse_handle(const char *handle, int64_t *id, int64_t *count)
{
    if (!handle || strncmp(handle, "dbq:", 4))
        return -1;
    char *end;
    errno = 0;
    long long a = strtoll(handle + 4, &end, 10);
    if (errno || end == handle + 4 || *end != ':' || a <= 0)
        return -1;
    const char *b = end + 1;
    long long c = strtoll(b, &end, 10);
    if (errno || end == b || *end || c <= 0)
        return -1;
    *id = a;
    *count = c;
    return 0;
}

/* A random (version 4) UUID, as SQS message ids look. */
static int new_message_id(char out[37], struct mlw_err *err)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return mlw_err_set(err, MLW_EIO, "no random bytes for a message id: %s",
                               strerror(errno));
        got += (size_t)r;
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return MLW_OK;
}

/* ---- open / close ---- */

static int stopped(const struct dbqueue *q) { return q->stop_fn && q->stop_fn(); }

static int table_exists(struct dbqueue *q, int *exists, struct mlw_err *err)
{
    struct store_rows r = {0};
    int rc = store_query(q->st, q->sql->has_table, NULL, 0, &r, err);
    if (rc == MLW_OK) {
        *exists = r.nrows > 0 && sv_as_int(store_cell(&r, 0, 0)) > 0;
        store_rows_free(&r);
    }
    return rc;
}

/*
 * SQLite: another process's commit writes the WAL file (or, in rollback
 * mode, the database file). An inotify watch on both lets an idle long
 * poll sleep without polling and still wake at once; without inotify
 * (another OS, a file system without it) the wait polls data_version.
 */
static void watch_files(struct dbqueue *q, const char *path)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return;
    size_t n = strlen(path);
    char *wal = malloc(n + 5);
    int ok = inotify_add_watch(fd, path, IN_MODIFY) >= 0;
    if (wal) {
        memcpy(wal, path, n);
        memcpy(wal + n, "-wal", 5);
        ok = inotify_add_watch(fd, wal, IN_MODIFY) >= 0 && ok;
        free(wal);
    } else {
        ok = 0;
    }
    if (!ok) {
        close(fd);
        return;
    }
    q->inotify_fd = fd;
}

/* Drop queued inotify events (our own writes among them); 1 if any. */
static int drain_events(int fd)
{
    char buf[4096];
    int any = 0;
    while (read(fd, buf, sizeof buf) > 0)
        any = 1;
    return any;
}

int dbqueue_open(const struct db_target *db, const char *name, int max_receives,
                 struct dbqueue **out, struct mlw_err *err)
{
    *out = NULL;
    if (!name)
        name = DBQUEUE_DEFAULT_NAME;
    size_t nl = strlen(name);
    if (nl == 0 || nl > 80)
        return mlw_err_set(err, MLW_EINVAL, "queue name must be 1..80 characters");
    for (size_t i = 0; i < nl; i++)
        if (!name_char(name[i]))
            return mlw_err_set(err, MLW_EINVAL,
                               "queue name may only hold letters, digits, '-' and '_'");
    struct dbqueue *q = calloc(1, sizeof *q);
    if (!q)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    memcpy(q->name, name, nl + 1);
    q->max_receives = max_receives > 0 ? max_receives : QUEUE_DEFAULT_MAX_RECEIVES;
    q->stop_fn = signals_stop_requested;
    q->data_version = -1;
    snprintf(q->where, sizeof q->where, "%.300s queue %s", db->display ? db->display : "?", name);
    int rc = store_open(db, &q->st, err);
    if (rc != MLW_OK) {
        free(q);
        return rc;
    }
    q->sql = q->st->dialect == DB_POSTGRES ? &SQL_POSTGRES : &SQL_SQLITE;
    q->inotify_fd = -1;
    int exists = 0;
    if ((rc = table_exists(q, &exists, err)) == MLW_OK && !exists) {
        int applied = 0;
        rc = store_migrate(q->st, &applied, err);
        if (rc == MLW_OK && applied)
            log_info("Queue database %s: %d schema migration(s) applied",
                     db->display ? db->display : "?", applied);
    }
    if (rc != MLW_OK) {
        store_close(q->st);
        free(q);
        return rc;
    }
    if (q->st->dialect == DB_SQLITE)
        watch_files(q, db->location);
    *out = q;
    return MLW_OK;
}

void dbqueue_close(struct dbqueue *q)
{
    if (!q)
        return;
    if (q->inotify_fd >= 0)
        close(q->inotify_fd);
    store_close(q->st);
    free(q);
}

const char *dbqueue_where(const struct dbqueue *q) { return q->where; }
void dbqueue_set_stop_fn(struct dbqueue *q, int (*stop_fn)(void)) { q->stop_fn = stop_fn; }

/* ---- receive ---- */

/* Milliseconds until the earliest queued row is visible (<= 0: one is
 * now); *has = 0 when the queue holds no queued row. */
static int next_visible(struct dbqueue *q, int *has, int64_t *ms, struct mlw_err *err)
{
    struct store_rows r = {0};
    struct sval p[1] = {sv_text(q->name)};
    int rc = store_query(q->st, q->sql->next_visible, p, 1, &r, err);
    if (rc != MLW_OK)
        return rc;
    *has = r.nrows > 0 && store_cell(&r, 0, 0)->type != SV_NULL;
    *ms = *has ? sv_as_int(store_cell(&r, 0, 0)) : 0;
    store_rows_free(&r);
    return MLW_OK;
}

/* Fill m from a row of COLS (receive_count already the new one). */
static int fill_message(const struct store_rows *r, size_t row, int64_t count,
                        struct sqs_message *m, struct mlw_err *err)
{
    const char *mid = sv_as_text(store_cell(r, row, 1));
    const char *body = sv_as_text(store_cell(r, row, 2));
    const char *attrs = sv_as_text(store_cell(r, row, 3));
    const char *md5b = sv_as_text(store_cell(r, row, 4));
    const char *md5a = sv_as_text(store_cell(r, row, 5));
    char handle[64] = "";
    if (count > 0)
        dbqueue_format_handle(sv_as_int(store_cell(r, row, 0)), count, handle, sizeof handle);
    m->message_id = strdup(mid ? mid : "");
    m->receipt_handle = strdup(handle);
    m->body = strdup(body ? body : "");
    if (!m->message_id || !m->receipt_handle || !m->body)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    snprintf(m->md5_of_body, sizeof m->md5_of_body, "%s", md5b ? md5b : "");
    snprintf(m->md5_of_attrs, sizeof m->md5_of_attrs, "%s", md5a ? md5a : "");
    m->receive_count = count > 0 ? (int)count : (int)sv_as_int(store_cell(r, row, 6));
    struct mlw_err aerr = {0};
    int arc = dbqueue_attrs_from_json(attrs, &m->attrs, &m->n_attrs, &aerr);
    if (arc == MLW_ENOMEM)
        return mlw_err_set(err, arc, "%s", aerr.msg);
    /* Stored MD5s checked against what was read: a row edited by hand or
     * corrupted is reported like an SQS MD5 mismatch (md5_ok = 0). */
    char md5[SQS_MD5_HEX], amd5[SQS_MD5_HEX];
    sqs_md5_hex(m->body, strlen(m->body), md5);
    int mrc = arc == MLW_OK ? sqs_md5_of_attributes(m->attrs, m->n_attrs, amd5, &aerr) : arc;
    if (mrc == MLW_ENOMEM)
        return mlw_err_set(err, mrc, "%s", aerr.msg);
    m->md5_ok = arc == MLW_OK && mrc == MLW_OK && !strcmp(md5, m->md5_of_body) &&
                !strcmp(amd5, m->md5_of_attrs);
    return MLW_OK;
}

/* One claim transaction. */
static int claim(struct dbqueue *q, int max, int64_t vis_ms, struct sqs_messages *out,
                 int *n_dead, struct mlw_err *err)
{
    *n_dead = 0;
    int rc = store_begin(q->st, err);
    if (rc != MLW_OK)
        return rc;
    struct store_rows r = {0};
    struct sval p[2] = {sv_text(q->name), sv_int(max)};
    struct sval dead[SQS_MAX_BATCH], live[SQS_MAX_BATCH];
    size_t live_row[SQS_MAX_BATCH], nd = 0, nlive = 0;
    if ((rc = store_query(q->st, q->sql->candidates, p, 2, &r, err)) != MLW_OK)
        goto fail;
    for (size_t i = 0; i < r.nrows && i < SQS_MAX_BATCH; i++) {
        int64_t id = sv_as_int(store_cell(&r, i, 0));
        if (sv_as_int(store_cell(&r, i, 6)) >= q->max_receives) {
            dead[nd++] = sv_int(id);
        } else {
            live_row[nlive] = i;
            live[nlive++] = sv_int(id);
        }
    }
    if (nd && (rc = store_exec_in(q->st, q->sql->mark_dead, dead, 0, dead, nd, err)) != MLW_OK)
        goto fail;
    struct sval vis = sv_int(vis_ms);
    if (nlive &&
        (rc = store_exec_in(q->st, q->sql->mark_received, &vis, 1, live, nlive, err)) != MLW_OK)
        goto fail;
    if (nlive) {
        out->items = calloc(nlive, sizeof *out->items);
        if (!out->items) {
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t k = 0; k < nlive; k++) {
            size_t row = live_row[k];
            out->n++;
            rc = fill_message(&r, row, sv_as_int(store_cell(&r, row, 6)) + 1, &out->items[k], err);
            if (rc != MLW_OK)
                goto fail;
        }
    }
    if ((rc = store_commit(q->st, err)) != MLW_OK)
        goto fail;
    for (size_t i = 0; i < r.nrows && i < SQS_MAX_BATCH; i++)
        if (sv_as_int(store_cell(&r, i, 6)) >= q->max_receives) {
            const char *mid = sv_as_text(store_cell(&r, i, 1));
            log_warn("Message %s dead-lettered after %" PRId64 " receives (ML_WORKER_MAX_RECEIVES"
                     "=%d); it stays in mlw_queue_messages with status 'dead'",
                     mid ? mid : "?", sv_as_int(store_cell(&r, i, 6)), q->max_receives);
        }
    *n_dead = (int)nd;
    store_rows_free(&r);
    return MLW_OK;
fail:
    store_rollback(q->st);
    store_rows_free(&r);
    sqs_messages_free(out);
    return rc;
}

static void short_sleep(const struct dbqueue *q, double seconds)
{
    if (q->stop_fn == signals_stop_requested) {
        signals_sleep(seconds);
        return;
    }
    while (seconds > 0 && !stopped(q)) {
        double step = seconds < 0.05 ? seconds : 0.05;
        struct timespec ts = {0, (long)(step * 1e9)};
        nanosleep(&ts, NULL);
        seconds -= step;
    }
}

/* SQLite: has another connection committed since the last look? */
static int sqlite_changed(struct dbqueue *q)
{
    struct store_rows r = {0};
    if (store_query(q->st, "PRAGMA data_version", NULL, 0, &r, NULL) != MLW_OK)
        return 1; /* cannot tell: look at the table */
    int64_t v = r.nrows ? sv_as_int(store_cell(&r, 0, 0)) : -1;
    store_rows_free(&r);
    int changed = v != q->data_version;
    q->data_version = v;
    return changed;
}

/* Wait up to seconds for something that may make a message visible. */
static void wait_change(struct dbqueue *q, double seconds)
{
    if (seconds <= 0)
        return;
    if (q->st->dialect == DB_POSTGRES) {
        if (q->stop_fn == signals_stop_requested) {
            store_idle_wait(q->st, DBQUEUE_NOTIFY_CHANNEL, seconds);
            return;
        }
        /* Another stop callback: wait in slices so it is polled. */
        double end = mlw_monotonic() + seconds;
        while (!stopped(q)) {
            double left = end - mlw_monotonic();
            if (left <= 0 || store_idle_wait(q->st, DBQUEUE_NOTIFY_CHANNEL,
                                             left < 0.2 ? left : 0.2) == 1)
                return;
        }
        return;
    }
    /* A writer's WAL frames (the inotify event) land before its commit is
     * published in the WAL index, so an event whose commit is not visible
     * yet is looked at again after 2, 10, 50, 200 and 500 ms. */
    static const double recheck[] = {0.002, 0.01, 0.05, 0.2, 0.5};
    const int n_recheck = (int)(sizeof recheck / sizeof recheck[0]);
    int pending = 0; /* rechecks left since the last event */
    double end = mlw_monotonic() + seconds;
    if (q->inotify_fd >= 0) {
        if (drain_events(q->inotify_fd))
            pending = n_recheck; /* one of them may be a commit not yet published */
        if (sqlite_changed(q))   /* a commit since we last looked */
            return;
    }
    for (;;) {
        double left = end - mlw_monotonic();
        if (left <= 0 || stopped(q))
            return;
        if (q->inotify_fd < 0) {
            short_sleep(q, left < SQLITE_TICK ? left : SQLITE_TICK);
        } else {
            /* A file event, a stop request, a recheck or the safety tick;
             * with a stop callback other than the signal pipe, 50 ms slices. */
            double slice = pending ? recheck[n_recheck - pending] : SQLITE_SAFETY_TICK;
            if (slice > left)
                slice = left;
            int wake = q->stop_fn == signals_stop_requested ? signals_wake_fd() : -1;
            if (q->stop_fn && wake < 0 && slice > 0.05)
                slice = 0.05;
            struct pollfd p[2] = {{.fd = q->inotify_fd, .events = POLLIN},
                                  {.fd = wake, .events = POLLIN}};
            if (poll(p, wake >= 0 ? 2 : 1, (int)(slice * 1000.0) + 1) > 0 &&
                (p[0].revents & POLLIN)) {
                drain_events(q->inotify_fd);
                pending = n_recheck;
            } else if (pending > 0) {
                pending--;
            }
        }
        if (sqlite_changed(q))
            return;
    }
}

int dbqueue_receive(struct dbqueue *q, int max_messages, int wait_seconds,
                    int visibility_timeout, struct sqs_messages *out, struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    if (max_messages < 1 || max_messages > SQS_MAX_BATCH)
        return mlw_err_set(err, MLW_EINVAL, "receive: %d messages asked (1..10)", max_messages);
    if (wait_seconds < 0 || wait_seconds > 20)
        return mlw_err_set(err, MLW_EINVAL, "receive: wait %d s (0..20)", wait_seconds);
    if (visibility_timeout > MAX_VISIBILITY)
        return mlw_err_set(err, MLW_EINVAL, "receive: visibility timeout %d s (0..%d)",
                           visibility_timeout, MAX_VISIBILITY);
    if (visibility_timeout < 0)
        visibility_timeout = DBQUEUE_DEFAULT_VISIBILITY;
    if (stopped(q))
        return mlw_err_set(err, MLW_ESTOPPED, "receive: stop requested");
    if (q->st->dialect == DB_POSTGRES && !q->listening && wait_seconds > 0) {
        /* LISTEN before the first look, so a send between the look and
         * the wait still wakes us. A failure only costs latency. */
        struct mlw_err lerr = {0};
        if (q->st->ops->wait_notify &&
            q->st->ops->wait_notify(q->st, DBQUEUE_NOTIFY_CHANNEL, 0, &lerr) >= 0)
            q->listening = 1;
    }
    if (q->st->dialect == DB_SQLITE && q->data_version < 0)
        sqlite_changed(q);
    double deadline = mlw_monotonic() + wait_seconds;
    for (;;) {
        int has = 0, n_dead = 0;
        int64_t ms = 0;
        int rc = next_visible(q, &has, &ms, err);
        if (rc != MLW_OK)
            return rc;
        if (has && ms <= 0) {
            rc = claim(q, max_messages, (int64_t)visibility_timeout * 1000, out, &n_dead, err);
            if (rc != MLW_OK || out->n > 0)
                return rc;
            if (n_dead == 0)
                short_sleep(q, 0.01); /* another consumer took them: do not spin */
        }
        double left = deadline - mlw_monotonic();
        if (left <= 0)
            return MLW_OK;
        if (stopped(q))
            return mlw_err_set(err, MLW_ESTOPPED, "receive: stop requested");
        if (has && ms <= 0)
            continue; /* dead-lettered or raced: look again at once */
        double w = left;
        if (has && (double)ms / 1000.0 + 0.002 < w)
            w = (double)ms / 1000.0 + 0.002;
        wait_change(q, w);
    }
}

/* ---- delete, visibility ---- */

static int notify(struct dbqueue *q, struct mlw_err *err)
{
    if (q->st->dialect != DB_POSTGRES)
        return MLW_OK;
    struct sval p[2] = {sv_text(DBQUEUE_NOTIFY_CHANNEL), sv_text(q->name)};
    return store_exec(q->st, "SELECT pg_notify(?, ?)", p, 2, NULL, err);
}

static int delete_one(struct dbqueue *q, const char *handle, int *deleted, struct mlw_err *err)
{
    int64_t id, count, changes = 0;
    *deleted = 0;
    if (dbqueue_parse_handle(handle, &id, &count) != 0)
        return MLW_OK; /* malformed: nothing to delete (the caller reports it) */
    struct sval p[3] = {sv_int(id), sv_int(count), sv_text(q->name)};
    int rc = store_exec(q->st, q->sql->del, p, 3, &changes, err);
    *deleted = rc == MLW_OK && changes == 1;
    return rc;
}

int dbqueue_delete(struct dbqueue *q, const char *receipt_handle, struct mlw_err *err)
{
    int deleted = 0;
    int rc = delete_one(q, receipt_handle, &deleted, err);
    if (rc != MLW_OK)
        return rc;
    if (!deleted)
        return mlw_err_set(err, MLW_EINVAL, "DeleteMessage: receipt handle %.60s is not valid "
                                            "(malformed, already deleted, or the message was "
                                            "received again since)", receipt_handle);
    return MLW_OK;
}

int dbqueue_delete_batch(struct dbqueue *q, const char *const *receipt_handles, size_t n, int *ok,
                         struct mlw_err *err)
{
    if (n == 0 || n > SQS_MAX_BATCH)
        return mlw_err_set(err, MLW_EINVAL, "DeleteMessageBatch: %zu entries (1..10)", n);
    for (size_t i = 0; i < n; i++)
        ok[i] = 0;
    int rc = store_begin(q->st, err);
    for (size_t i = 0; rc == MLW_OK && i < n; i++)
        rc = delete_one(q, receipt_handles[i], &ok[i], err);
    if (rc == MLW_OK)
        rc = store_commit(q->st, err);
    if (rc != MLW_OK) {
        store_rollback(q->st);
        for (size_t i = 0; i < n; i++)
            ok[i] = 0;
    }
    return rc;
}

int dbqueue_change_visibility(struct dbqueue *q, const char *receipt_handle, int timeout,
                              struct mlw_err *err)
{
    if (timeout < 0 || timeout > MAX_VISIBILITY)
        return mlw_err_set(err, MLW_EINVAL, "ChangeMessageVisibility: %d s (0..%d)", timeout,
                           MAX_VISIBILITY);
    int64_t id, count, changes = 0;
    if (dbqueue_parse_handle(receipt_handle, &id, &count) != 0)
        return mlw_err_set(err, MLW_EINVAL, "ChangeMessageVisibility: malformed receipt handle");
    struct sval p[4] = {sv_int((int64_t)timeout * 1000), sv_int(id), sv_int(count),
                        sv_text(q->name)};
    int rc = store_exec(q->st, q->sql->change_vis, p, 4, &changes, err);
    if (rc != MLW_OK)
        return rc;
    if (changes != 1)
        return mlw_err_set(err, MLW_EINVAL, "ChangeMessageVisibility: the message is not in "
                                            "flight under this receipt handle (deleted, received "
                                            "again, or its visibility timeout passed)");
    if (timeout == 0) {
        struct mlw_err nerr = {0};
        if (notify(q, &nerr) != MLW_OK)
            log_debug("queue notification failed: %s", nerr.msg);
    }
    return MLW_OK;
}

/* ---- send ---- */

/* Validate and prepare one entry: message id, MD5s, attribute JSON. */
static int prepare_entry(struct sqs_send_entry *e, char **attrs_json, struct mlw_err *err)
{
    *attrs_json = NULL;
    e->ok = 0;
    e->message_id[0] = e->md5_of_body[0] = e->md5_of_attrs[0] = '\0';
    if (!e->body)
        return mlw_err_set(err, MLW_EINVAL, "SendMessage: no body");
    if (dbqueue_check_body(e->body, err) != 0)
        return MLW_EINVAL;
    if (e->delay_seconds > MAX_DELAY)
        return mlw_err_set(err, MLW_EINVAL, "SendMessage: delay %d s (0..%d)", e->delay_seconds,
                           MAX_DELAY);
    size_t total = strlen(e->body);
    for (size_t i = 0; i < e->n_attrs; i++)
        total += (e->attrs[i].name ? strlen(e->attrs[i].name) : 0) +
                 (e->attrs[i].data_type ? strlen(e->attrs[i].data_type) : 0) +
                 (e->attrs[i].value ? strlen(e->attrs[i].value) : 0);
    if (total > DBQUEUE_MAX_BODY)
        return mlw_err_set(err, MLW_EINVAL, "SendMessage: body and attributes are %zu bytes "
                                            "(at most %d)", total, DBQUEUE_MAX_BODY);
    int rc = dbqueue_attrs_to_json(e->attrs, e->n_attrs, attrs_json, err);
    if (rc == MLW_OK)
        rc = sqs_md5_of_attributes(e->attrs, e->n_attrs, e->md5_of_attrs, err);
    if (rc == MLW_OK)
        rc = new_message_id(e->message_id, err);
    if (rc != MLW_OK) {
        free(*attrs_json);
        *attrs_json = NULL;
        e->message_id[0] = '\0';
        return rc;
    }
    sqs_md5_hex(e->body, strlen(e->body), e->md5_of_body);
    return MLW_OK;
}

int dbqueue_send_batch(struct dbqueue *q, struct sqs_send_entry *entries, size_t n,
                       struct mlw_err *err)
{
    if (n == 0 || n > SQS_MAX_BATCH)
        return mlw_err_set(err, MLW_EINVAL, "SendMessageBatch: %zu entries (1..10)", n);
    char *json[SQS_MAX_BATCH] = {0};
    int valid[SQS_MAX_BATCH] = {0}, nvalid = 0;
    struct mlw_err first = {0};
    for (size_t i = 0; i < n; i++) {
        struct mlw_err eerr = {0};
        int prc = prepare_entry(&entries[i], &json[i], &eerr);
        if (prc == MLW_ENOMEM) {
            for (size_t k = 0; k < n; k++)
                free(json[k]);
            return mlw_err_set(err, prc, "%s", eerr.msg);
        }
        valid[i] = prc == MLW_OK;
        nvalid += valid[i];
        if (prc != MLW_OK)
            mlw_err_set(&first, prc, "entry %zu: %s", i, eerr.msg);
    }
    int rc = MLW_OK;
    if (nvalid > 0) {
        rc = store_begin(q->st, err);
        for (size_t i = 0; rc == MLW_OK && i < n; i++) {
            if (!valid[i])
                continue;
            const struct sqs_send_entry *e = &entries[i];
            struct sval p[7] = {sv_text(q->name),     sv_text(e->message_id),
                                sv_text(e->body),     sv_text(json[i]),
                                sv_text(e->md5_of_body), sv_text(e->md5_of_attrs),
                                sv_int((int64_t)(e->delay_seconds > 0 ? e->delay_seconds : 0) * 1000)};
            rc = store_exec(q->st, q->sql->insert, p, 7, NULL, err);
        }
        if (rc == MLW_OK)
            rc = notify(q, err);
        if (rc == MLW_OK)
            rc = store_commit(q->st, err);
        if (rc != MLW_OK)
            store_rollback(q->st);
    }
    for (size_t i = 0; i < n; i++) {
        entries[i].ok = rc == MLW_OK && valid[i];
        free(json[i]);
    }
    if (rc == MLW_OK && nvalid == 0)
        return mlw_err_set(err, first.code ? first.code : MLW_EINVAL, "%s", first.msg);
    return rc;
}

int dbqueue_send(struct dbqueue *q, struct sqs_send_entry *e, struct mlw_err *err)
{
    return dbqueue_send_batch(q, e, 1, err);
}

/* ---- depth, dead letters ---- */

int dbqueue_depth(struct dbqueue *q, struct queue_depth *out, struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    struct store_rows r = {0};
    struct sval p[1] = {sv_text(q->name)};
    int rc = store_query(q->st, q->sql->depth, p, 1, &r, err);
    if (rc != MLW_OK)
        return rc;
    if (r.nrows == 1 && r.ncols == 4) {
        out->visible = sv_as_int(store_cell(&r, 0, 0));
        out->in_flight = sv_as_int(store_cell(&r, 0, 1));
        out->delayed = sv_as_int(store_cell(&r, 0, 2));
        out->dead = sv_as_int(store_cell(&r, 0, 3));
    }
    store_rows_free(&r);
    return MLW_OK;
}

int dbqueue_list_dead(struct dbqueue *q, int limit, struct sqs_messages *out,
                      struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    struct store_rows r = {0};
    struct sval p[2] = {sv_text(q->name), sv_int(limit > 0 ? limit : 100)};
    int rc = store_query(q->st, q->sql->list_dead, p, 2, &r, err);
    if (rc != MLW_OK)
        return rc;
    if (r.nrows) {
        out->items = calloc(r.nrows, sizeof *out->items);
        if (!out->items)
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        for (size_t i = 0; rc == MLW_OK && i < r.nrows; i++) {
            out->n++;
            rc = fill_message(&r, i, 0, &out->items[i], err);
        }
    }
    store_rows_free(&r);
    if (rc != MLW_OK)
        sqs_messages_free(out);
    return rc;
}

int dbqueue_redrive(struct dbqueue *q, int64_t *moved, struct mlw_err *err)
{
    *moved = 0;
    struct sval p[1] = {sv_text(q->name)};
    int rc = store_begin(q->st, err);
    if (rc == MLW_OK)
        rc = store_exec(q->st, q->sql->redrive, p, 1, moved, err);
    if (rc == MLW_OK && *moved > 0)
        rc = notify(q, err);
    if (rc == MLW_OK)
        rc = store_commit(q->st, err);
    if (rc != MLW_OK) {
        store_rollback(q->st);
        *moved = 0;
    }
    return rc;
}
