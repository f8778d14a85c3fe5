/*
 * health.c - see health.h.
 *
 * Threads of the server:
 *   - libmicrohttpd's listener and one thread per connection (at most
 *     CONN_LIMIT): they answer from the heartbeat registry, the cached queue
 *     state and the metrics registry, and run the database probe (on the
 *     server's own connection, under probe_mu, 3 s limits);
 *   - the queue sampler (sqs and both modes): GetQueueAttributes every
 *     SAMPLE_EVERY_S on its own SQS client; the result feeds the depth
 *     gauges and /readyz. SQS calls never run on a request thread, so a
 *     slow SQS endpoint cannot stall /healthz.
 */
#include "http/health.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "queue/queue.h"
#include "store/store.h"

#define DEFAULT_DEADLINE_S 300.0
#define CONN_LIMIT 16
#define CONN_TIMEOUT_S 10
#define PROBE_TIMEOUT_S 3
#define SAMPLE_EVERY_S 15.0
#define QUEUE_STALE_S 60.0

/* ---- heartbeat registry ---- */

struct beat {
    char name[32];
    int used;
    int idle;
    double last;     /* monotonic time of the last report */
    double deadline; /* monotonic time by which the next report is due */
};

static struct beat g_beats[HEALTH_MAX_THREADS];
static pthread_mutex_t g_beat_mu = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *name, int idle, double due_in)
{
    double now = mlw_monotonic();
    pthread_mutex_lock(&g_beat_mu);
    struct beat *b = NULL, *free_slot = NULL;
    for (int i = 0; i < HEALTH_MAX_THREADS; i++) {
        if (g_beats[i].used && !strncmp(g_beats[i].name, name, sizeof g_beats[i].name - 1))
            b = &g_beats[i];
        else if (!g_beats[i].used && !free_slot)
            free_slot = &g_beats[i];
    }
    if (!b && free_slot) {
        b = free_slot;
        b->used = 1;
        snprintf(b->name, sizeof b->name, "%s", name);
    }
    if (b) {
        b->idle = idle;
        b->last = now;
        b->deadline = now + due_in;
    }
    pthread_mutex_unlock(&g_beat_mu);
}

void health_beat(const char *name, double deadline_s)
{
    report(name, 0, deadline_s > 0 ? deadline_s : DEFAULT_DEADLINE_S);
}

void health_idle(const char *name, double wait_s)
{
    report(name, 1, (wait_s > 0 ? wait_s : 0) + HEALTH_IDLE_GRACE_S);
}

void health_exit(const char *name)
{
    pthread_mutex_lock(&g_beat_mu);
    for (int i = 0; i < HEALTH_MAX_THREADS; i++)
        if (g_beats[i].used && !strncmp(g_beats[i].name, name, sizeof g_beats[i].name - 1))
            memset(&g_beats[i], 0, sizeof g_beats[i]);
    pthread_mutex_unlock(&g_beat_mu);
}

int health_threads(double now, struct health_thread *out, int max, int *all_ok)
{
    int n = 0;
    *all_ok = 1;
    pthread_mutex_lock(&g_beat_mu);
    for (int i = 0; i < HEALTH_MAX_THREADS; i++) {
        const struct beat *b = &g_beats[i];
        if (!b->used)
            continue;
        double overdue = now - b->deadline;
        if (overdue > 0)
            *all_ok = 0;
        if (n < max) {
            memcpy(out[n].name, b->name, sizeof out[n].name);
            out[n].idle = b->idle;
            out[n].age_s = now - b->last;
            out[n].overdue_s = overdue > 0 ? overdue : 0;
            n++;
        }
    }
    pthread_mutex_unlock(&g_beat_mu);
    return n;
}

/* ---- model state ---- */

static enum health_model g_model = HEALTH_MODEL_NONE;
static char g_model_detail[160];
static pthread_mutex_t g_model_mu = PTHREAD_MUTEX_INITIALIZER;

void health_set_model(enum health_model state, const char *detail)
{
    pthread_mutex_lock(&g_model_mu);
    g_model = state;
    snprintf(g_model_detail, sizeof g_model_detail, "%s", detail ? detail : "");
    pthread_mutex_unlock(&g_model_mu);
}

/* ---- address ---- */

int health_parse_addr(const char *text, struct sockaddr_storage *sa, socklen_t *len,
                      struct mlw_err *err)
{
    memset(sa, 0, sizeof *sa);
    *len = 0;
    if (!text || !*text || !strcasecmp(text, "off"))
        return MLW_ENOTFOUND;
    char host[64];
    const char *port_text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
            return mlw_err_set(err, MLW_EINVAL,
                               "ML_WORKER_HTTP_ADDR must be HOST:PORT or [IPv6]:PORT");
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || colon == text || (size_t)(colon - text) >= sizeof host ||
            memchr(text, ':', (size_t)(colon - text)))
            return mlw_err_set(err, MLW_EINVAL,
                               "ML_WORKER_HTTP_ADDR must be HOST:PORT (e.g. 127.0.0.1:9090, "
                               "0.0.0.0:9090 for every interface) or [IPv6]:PORT");
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }
    char *end;
    errno = 0;
    long port = strtol(port_text, &end, 10);
    if (!*port_text || *end || errno || port < 0 || port > 65535)
        return mlw_err_set(err, MLW_EINVAL, "ML_WORKER_HTTP_ADDR: port must be 0..65535");
    if (!strcasecmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
    } else {
        return mlw_err_set(err, MLW_EINVAL,
                           "ML_WORKER_HTTP_ADDR: '%.40s' is not a numeric IP address or localhost",
                           host);
    }
    return MLW_OK;
}

/* ---- the server ---- */

struct health_server {
    const struct config *cfg;
    struct MHD_Daemon *daemon;
    char url[80];

    pthread_mutex_t probe_mu; /* the probe connection */
    struct store *probe;

    pthread_mutex_t mu; /* sampler state below */
    pthread_cond_t cv;
    int stop;
    int sampler_running;
    pthread_t sampler;
    struct queue *sqs;          /* SQS or the database queue (queue.h) */
    int queue_sampled;      /* a sample has completed (ok or not) */
    int queue_ok;           /* the last sample succeeded */
    double queue_ok_at;     /* monotonic time of the last success */
    char queue_detail[300];
};

static const char *env(const char *name) { return getenv(name); }

/* The sampler's SQS client polls this while it waits (retry backoff). */
static atomic_int g_sampler_stop;
static int sampler_stop_fn(void) { return atomic_load(&g_sampler_stop) || signals_stop_requested(); }

static void sample_queue(struct health_server *h)
{
    struct queue_depth d = {0};
    struct mlw_err err = {0};
    int rc = queue_depth(h->sqs, &d, &err);
    if (rc == MLW_OK) {
        metrics_gauge(METRICS_QUEUE_MESSAGES, "visible", (double)d.visible);
        metrics_gauge(METRICS_QUEUE_MESSAGES, "in_flight", (double)d.in_flight);
        metrics_gauge(METRICS_QUEUE_MESSAGES, "delayed", (double)d.delayed);
        metrics_gauge(METRICS_QUEUE_SAMPLE_TIME, NULL, (double)time(NULL));
    }
    pthread_mutex_lock(&h->mu);
    h->queue_sampled = 1;
    h->queue_ok = rc == MLW_OK;
    if (rc == MLW_OK) {
        h->queue_ok_at = mlw_monotonic();
        snprintf(h->queue_detail, sizeof h->queue_detail,
                 "%s: %lld visible, %lld in flight, %lld delayed",
                 queue_kind(h->sqs) == QUEUE_KIND_SQS ? "GetQueueAttributes" : "queue table", d.visible,
                 d.in_flight, d.delayed);
    } else {
        snprintf(h->queue_detail, sizeof h->queue_detail, "%.290s", err.msg);
    }
    pthread_mutex_unlock(&h->mu);
    if (rc != MLW_OK)
        log_debug("queue depth sample failed: %s", err.msg);
}

static void *sampler_main(void *arg)
{
    struct health_server *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        pthread_mutex_unlock(&h->mu);
        sample_queue(h);
        pthread_mutex_lock(&h->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)SAMPLE_EVERY_S;
        while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* PostgreSQL URL with connect_timeout added (unless present); malloc'd. */
static char *with_connect_timeout(const char *url)
{
    size_t n = strlen(url) + 32;
    char *s = malloc(n);
    if (!s)
        return NULL;
    if (strstr(url, "connect_timeout="))
        snprintf(s, n, "%s", url);
    else
        snprintf(s, n, "%s%cconnect_timeout=%d", url, strchr(url, '?') ? '&' : '?',
                 PROBE_TIMEOUT_S);
    return s;
}

/* Database and schema checks on the probe connection. */
static void probe_db(struct health_server *h, int *db_ok, char *db_detail, int *schema_ok,
                     char *schema_detail, size_t cap)
{
    struct mlw_err err = {0};
    int rc = MLW_OK;
    *db_ok = *schema_ok = 0;
    snprintf(schema_detail, cap, "not checked (database unreachable)");
    pthread_mutex_lock(&h->probe_mu);
    const struct db_target *t = &h->cfg->db;
    if (!h->probe) {
        if (t->kind == DB_POSTGRES) {
            char *url = with_connect_timeout(t->location);
            rc = url ? store_postgres_open(url, &h->probe, &err)
                     : mlw_err_set(&err, MLW_ENOMEM, "out of memory");
            free(url);
        } else {
            rc = store_open(t, &h->probe, &err);
        }
    }
    struct store_rows r = {0};
    if (rc == MLW_OK && t->kind == DB_POSTGRES) {
        rc = store_query(h->probe, "SELECT set_config('statement_timeout', '3s', false)", NULL, 0,
                         &r, &err);
        store_rows_free(&r);
    }
    if (rc == MLW_OK) {
        rc = store_query(h->probe, "SELECT 1", NULL, 0, &r, &err);
        store_rows_free(&r);
    }
    if (rc == MLW_OK) {
        *db_ok = 1;
        snprintf(db_detail, cap, "%s answers", t->kind == DB_POSTGRES ? "PostgreSQL" : "SQLite");
        int version = 0, latest = store_schema_latest(t->kind);
        rc = store_schema_version(h->probe, &version, &err);
        if (rc != MLW_OK) {
            snprintf(schema_detail, cap, "cannot read the schema version: %.300s", err.msg);
        } else if (version < latest) {
            snprintf(schema_detail, cap, "schema version %d, this binary needs %d (migrating?)",
                     version, latest);
        } else {
            *schema_ok = 1;
            snprintf(schema_detail, cap, "schema version %d%s", version,
                     version > latest ? " (newer than this binary; additive)" : " (current)");
        }
    } else {
        snprintf(db_detail, cap, "%.380s", err.msg);
    }
    if (rc != MLW_OK) { /* start afresh next time */
        store_close(h->probe);
        h->probe = NULL;
    }
    pthread_mutex_unlock(&h->probe_mu);
}

static void add_check(cJSON *checks, const char *name, int ok, const char *detail)
{
    cJSON *c = cJSON_AddObjectToObject(checks, name);
    if (c) {
        cJSON_AddBoolToObject(c, "ok", ok);
        cJSON_AddStringToObject(c, "detail", detail);
    }
}

/* /readyz body; *ready gets the verdict. NULL when out of memory. */
static char *ready_body(struct health_server *h, int *ready)
{
    char db_detail[400], schema_detail[400], detail[400];
    int db_ok, schema_ok;
    probe_db(h, &db_ok, db_detail, &schema_ok, schema_detail, sizeof db_detail);
    *ready = db_ok && schema_ok;

    cJSON *root = cJSON_CreateObject();
    cJSON *checks = root ? cJSON_AddObjectToObject(root, "checks") : NULL;
    add_check(checks, "database", db_ok, db_detail);
    add_check(checks, "schema", schema_ok, schema_detail);

    if (h->cfg->mode != MODE_AGGREGATION) {
        pthread_mutex_lock(&h->mu);
        double age = mlw_monotonic() - h->queue_ok_at;
        int ok = h->queue_ok && age <= QUEUE_STALE_S;
        if (!h->queue_sampled)
            snprintf(detail, sizeof detail, "not sampled yet");
        else if (h->queue_ok)
            snprintf(detail, sizeof detail, "%.300s (%.0f s ago)", h->queue_detail, age);
        else
            snprintf(detail, sizeof detail, "last GetQueueAttributes failed: %.300s",
                     h->queue_detail);
        pthread_mutex_unlock(&h->mu);
        *ready = *ready && ok;
        add_check(checks, "queue", ok, detail);
    }

    pthread_mutex_lock(&g_model_mu);
    static const char *const model_state[] = {"not configured", "loading", "loaded",
                                              "failed to load"};
    int model_ok = g_model == HEALTH_MODEL_NONE || g_model == HEALTH_MODEL_READY;
    snprintf(detail, sizeof detail, "%s%s%s", model_state[g_model], g_model_detail[0] ? ": " : "",
             g_model_detail);
    pthread_mutex_unlock(&g_model_mu);
    *ready = *ready && model_ok;
    add_check(checks, "model", model_ok, detail);

    if (signals_stop_requested()) {
        *ready = 0;
        add_check(checks, "running", 0, "stopping");
    }
    if (root)
        cJSON_AddStringToObject(root, "status", *ready ? "ready" : "not ready");
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

/* /healthz body; *live gets the verdict. NULL when out of memory. */
static char *live_body(int *live)
{
    struct health_thread th[HEALTH_MAX_THREADS];
    int n = health_threads(mlw_monotonic(), th, HEALTH_MAX_THREADS, live);
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "status", *live ? "ok" : "unhealthy");
    cJSON *arr = cJSON_AddArrayToObject(root, "threads");
    for (int i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            break;
        }
        cJSON_AddStringToObject(o, "name", th[i].name);
        cJSON_AddStringToObject(o, "state", th[i].idle ? "idle" : "working");
        cJSON_AddNumberToObject(o, "last_report_s", (double)(long)(th[i].age_s * 1000) / 1000);
        cJSON_AddBoolToObject(o, "ok", th[i].overdue_s <= 0);
        if (th[i].overdue_s > 0)
            cJSON_AddNumberToObject(o, "overdue_s", (double)(long)(th[i].overdue_s * 1000) / 1000);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Values read at scrape time: memory, CPU, thread report ages. */
static void scrape_process(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size = 0, resident = 0;
        if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
            double page = (double)sysconf(_SC_PAGESIZE);
            metrics_gauge(METRICS_RSS_BYTES, NULL, (double)resident * page);
            metrics_gauge(METRICS_VSZ_BYTES, NULL, (double)size * page);
        }
        fclose(f);
    }
    struct timespec cpu;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0)
        metrics_gauge(METRICS_CPU_SECONDS, NULL, (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9);
    struct health_thread th[HEALTH_MAX_THREADS];
    int all_ok;
    int n = health_threads(mlw_monotonic(), th, HEALTH_MAX_THREADS, &all_ok);
    for (int i = 0; i < n; i++) {
        metrics_gauge(METRICS_THREAD_AGE, th[i].name, th[i].age_s);
        metrics_gauge(METRICS_THREAD_HEALTHY, th[i].name, th[i].overdue_s > 0 ? 0 : 1);
    }
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *body,
                               const char *type)
{
    static char oom[] = "out of memory\n";
    struct MHD_Response *r;
    if (body) {
        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    } else {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = "text/plain; charset=utf-8";
        r = MHD_create_response_from_buffer(strlen(oom), oom, MHD_RESPMEM_PERSISTENT);
    }
    if (!r) {
        if (body)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *text(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)req_cls;
    struct health_server *h = cls;
    static const char *const json = "application/json";
    static const char *const plain = "text/plain; charset=utf-8";
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        *upload_data_size = 0;
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text("only GET and HEAD\n"), plain);
    }
    if (!strcmp(url, "/healthz")) {
        int live = 0;
        char *body = live_body(&live);
        return respond(conn, live ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, json);
    }
    if (!strcmp(url, "/readyz")) {
        int ready = 0;
        char *body = ready_body(h, &ready);
        return respond(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, json);
    }
    if (!strcmp(url, "/metrics")) {
        struct metrics *m = metrics_process();
        char *body = NULL;
        size_t len = 0;
        if (m) {
            scrape_process();
            if (metrics_render(m, &body, &len, NULL) != MLW_OK)
                body = NULL;
        } else {
            body = text("");
        }
        return respond(conn, MHD_HTTP_OK, body, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (!strcmp(url, "/"))
        return respond(conn, MHD_HTTP_OK, text("mlworker: /healthz /readyz /metrics\n"), plain);
    return respond(conn, MHD_HTTP_NOT_FOUND, text("not found: try /healthz /readyz /metrics\n"),
                   plain);
}

/* fmt comes from libmicrohttpd; the attribute tells clang's -Wformat-nonliteral so. */
__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[300];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("HTTP endpoint: %s", msg);
}

/* A bound, listening socket for sa; -1 with errno on failure. */
static int listen_on(const struct sockaddr_storage *sa, socklen_t len)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)sa, len) != 0 || listen(fd, 32) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void format_url(const struct sockaddr_storage *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        port = ntohs(v4->sin_port);
        snprintf(out, cap, "http://%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        port = ntohs(v6->sin6_port);
        snprintf(out, cap, "http://[%s]:%u", host, port);
    }
}

static void server_free(struct health_server *h)
{
    if (!h)
        return;
    store_close(h->probe);
    queue_close(h->sqs);
    pthread_mutex_destroy(&h->probe_mu);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

int health_start(const struct config *cfg, struct health_server **out, struct mlw_err *err)
{
    *out = NULL;
    struct sockaddr_storage sa;
    socklen_t len;
    int rc = health_parse_addr(cfg->http_addr, &sa, &len, err);
    if (rc == MLW_ENOTFOUND) {
        log_info("HTTP endpoints disabled (ML_WORKER_HTTP_ADDR is empty or off)");
        return MLW_OK;
    }
    if (rc != MLW_OK)
        return rc;

    int fd = listen_on(&sa, len);
    if (fd < 0) {
        char want[80];
        format_url(&sa, want, sizeof want);
        log_warn("\xe2\x9a\xa0\xef\xb8\x8f  HTTP endpoints disabled: cannot listen on %s: %s "
                 "(set ML_WORKER_HTTP_ADDR to a free address)", want + 7, strerror(errno));
        return MLW_OK;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0)
        bound = sa;

    struct health_server *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    h->cfg = cfg;
    format_url(&bound, h->url, sizeof h->url);
    pthread_mutex_init(&h->probe_mu, NULL);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);

    double start_unix = (double)time(NULL);
    if ((rc = metrics_process_init(MLW_VERSION, config_mode_name(cfg->mode), start_unix, err))) {
        close(fd);
        server_free(h);
        return rc;
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                                 on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        log_warn("\xe2\x9a\xa0\xef\xb8\x8f  HTTP endpoints disabled: libmicrohttpd did not start "
                 "on %s", h->url + 7);
        /* No other thread of ours runs yet, so the descriptor cannot have
         * been reused if the library closed it. */
        if (fcntl(fd, F_GETFD) != -1)
            close(fd);
        metrics_process_free();
        server_free(h);
        return MLW_OK;
    }
    if (cfg->mode != MODE_AGGREGATION && cfg->sqs_queue_url && cfg->sqs_queue_url[0]) {
        struct mlw_err qerr = {0};
        atomic_store(&g_sampler_stop, 0);
        struct queue_options qo = {env, cfg->aws_region, &cfg->db, cfg->max_receives};
        if (queue_open(cfg->sqs_queue_url, &qo, &h->sqs, &qerr) != MLW_OK) {
            snprintf(h->queue_detail, sizeof h->queue_detail, "%.290s", qerr.msg);
            h->queue_sampled = 1;
        } else {
            queue_set_stop_fn(h->sqs, sampler_stop_fn);
            if (pthread_create(&h->sampler, NULL, sampler_main, h) == 0)
                h->sampler_running = 1;
            else
                log_warn("HTTP endpoints: cannot start the queue sampler; /readyz will report "
                         "the queue as not sampled");
        }
    }

    log_info("HTTP endpoints on %s: /healthz /readyz /metrics", h->url);
    *out = h;
    return MLW_OK;
}

void health_stop(struct health_server *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* joins its threads, closes the listening socket */
    int joined = 1;
    if (h->sampler_running) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        atomic_store(&g_sampler_stop, 1);
        /* A GetQueueAttributes in progress may take its HTTP timeout; do not
         * hold the shutdown for it (the process is exiting). */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 3;
        if (pthread_timedjoin_np(h->sampler, NULL, &until) != 0) {
            joined = 0;
            pthread_detach(h->sampler);
            log_warn("HTTP endpoints: the queue sampler is still in a call; leaving it");
        }
    }
    if (joined) {
        metrics_process_free();
        server_free(h);
    }
}
