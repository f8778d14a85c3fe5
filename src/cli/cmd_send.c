/*
 * cmd_send.c - the producer side: `mlworker send JOB ...` and
 * `mlworker queue depth|url`.
 *
 * Bodies and attributes are the original client's (reference
 * original-operations.md 4.2-4.3): JSON objects serialized the way
 * Python's json.dumps() does (", " and ": " separators, non-ASCII as
 * \uXXXX), submitted_at a naive UTC ISO-8601 timestamp with microseconds,
 * and the message attributes JobType (String), Priority (String) and
 * UserId (Number). Unlike the original, a missing user is simply left out
 * (the original sent UserId="None", which SQS rejects); for the
 * process_pending_* triggers that means "all users".
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "core/config.h"
#include "queue/dbqueue.h"
#include "queue/queue.h"

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string as json.dumps(ensure_ascii=True) writes it. Returns -1 on
 * invalid UTF-8. */
static int sb_json_string(struct sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    sb_str(b, "\"");
    while (*p) {
        unsigned c = *p;
        uint32_t cp;
        int len;
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            len = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            len = 4;
        } else {
            return -1;
        }
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        p += len;
        switch (cp) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\r': sb_str(b, "\\r"); break;
        case '\t': sb_str(b, "\\t"); break;
        case '\b': sb_str(b, "\\b"); break;
        case '\f': sb_str(b, "\\f"); break;
        default:
            if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
                if (cp == 0x7F) {
                    char ch = 0x7F;
                    sb_add(b, &ch, 1);
                } else {
                    sb_fmt(b, "\\u%04x", (unsigned)cp);
                }
            } else if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                sb_fmt(b, "\\u%04x\\u%04x", (unsigned)(0xD800 + (v >> 10)),
                       (unsigned)(0xDC00 + (v & 0x3FF)));
            } else {
                char ch = (char)cp;
                sb_add(b, &ch, 1);
            }
        }
    }
    sb_str(b, "\"");
    return 0;
}

/* A number as Python prints an int or a float parsed from JSON. */
static void sb_number(struct sbuf *b, const cJSON *n)
{
    double d = n->valuedouble;
    if (!isfinite(d)) {
        sb_str(b, d != d ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"));
        return;
    }
    if (d == floor(d) && fabs(d) < 1e15) {
        sb_fmt(b, "%.0f", d);
        return;
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eEn")) {
        size_t l = strlen(tmp);
        snprintf(tmp + l, sizeof tmp - l, ".0");
    }
    sb_str(b, tmp);
}

/* Any cJSON value in json.dumps style. */
static int sb_json(struct sbuf *b, const cJSON *v)
{
    if (cJSON_IsNull(v))
        sb_str(b, "null");
    else if (cJSON_IsTrue(v))
        sb_str(b, "true");
    else if (cJSON_IsFalse(v))
        sb_str(b, "false");
    else if (cJSON_IsNumber(v))
        sb_number(b, v);
    else if (cJSON_IsString(v))
        return sb_json_string(b, v->valuestring);
    else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v), first = 1;
        sb_str(b, obj ? "{" : "[");
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (!first)
                sb_str(b, ", ");
            first = 0;
            if (obj) {
                if (sb_json_string(b, e->string) != 0)
                    return -1;
                sb_str(b, ": ");
            }
            if (sb_json(b, e) != 0)
                return -1;
        }
        sb_str(b, obj ? "}" : "]");
    }
    return 0;
}

/* datetime.utcnow().isoformat(): microseconds, omitted when zero. */
static void utc_isoformat(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    long us = ts.tv_nsec / 1000;
    if (us)
        snprintf(out, cap, "%.19s.%06ld", base, us % 1000000);
    else
        snprintf(out, cap, "%.19s", base);
}

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < 0)
        return -1;
    *out = v;
    return 0;
}

static void send_usage(FILE *f)
{
    fprintf(f,
            "usage: mlworker send JOB [options]\n"
            "\n"
            "Sends one job message to the queue (ML_WORKER_SQS_QUEUE_URL: an SQS queue URL,\n"
            "or db[#NAME] / sqlite:///path.db[#NAME] / postgresql://...[#NAME] for a\n"
            "database queue), with the original client's body and attributes, and prints\n"
            "its MessageId.\n"
            "\n"
            "Jobs (dashes or underscores):\n"
            "  process-pending-vitals    [--user ID]   drain pending vitals (all users without --user)\n"
            "  process-pending-nutrition [--user ID]   drain pending nutrition rows\n"
            "  process-pending-labs      [--user ID]   drain pending lab rows\n"
            "  lab-categorization --user ID --document ID --tests FILE   (deprecated job type;\n"
            "                            FILE is a JSON list of tests, '-' for stdin)\n"
            "  loinc-mapping --test-name NAME\n"
            "\n"
            "Options:\n"
            "  --priority high|normal|low   the body's priority and the Priority attribute (normal)\n"
            "  --delay SECONDS              DelaySeconds, 0..900 (queue default)\n"
            "  --queue-url URL              instead of ML_WORKER_SQS_QUEUE_URL\n"
            "  -v, --verbose                also print the MD5s SQS returned (verified)\n"
            "\n"
            "AWS: credentials from the usual chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, ECS,\n"
            "EC2); region AWS_REGION / AWS_DEFAULT_REGION / the queue URL; endpoint from the\n"
            "queue URL or AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL.\n");
}

static const char *env(const char *name) { return getenv(name); }

static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    struct sbuf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_add(&b, chunk, n);
    int bad = ferror(f) || b.oom;
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(b.p);
        return NULL;
    }
    if (!b.p) {
        b.p = calloc(1, 1);
        if (!b.p)
            return NULL;
    }
    *len = b.n;
    return b.p;
}

int cli_open_queue(const char *url_opt, struct queue **q, struct db_target *db, const char *cmd)
{
    const char *url = url_opt ? url_opt : getenv("ML_WORKER_SQS_QUEUE_URL");
    memset(db, 0, sizeof *db);
    if (!url || !*url) {
        fprintf(stderr, "mlworker %s: no queue: set ML_WORKER_SQS_QUEUE_URL or pass --queue-url\n",
                cmd);
        return 1;
    }
    struct mlw_err err = {0};
    if (queue_kind_of_url(url) == QUEUE_KIND_DB && config_db_target(db, env, &err) != MLW_OK) {
        fprintf(stderr, "mlworker %s: %s\n", cmd, err.msg);
        return 1;
    }
    struct queue_options qo = {env, "us-east-1", db->location ? db : NULL, 0};
    if (queue_open(url, &qo, q, &err) != MLW_OK) {
        fprintf(stderr, "mlworker %s: %s\n", cmd, err.msg);
        config_db_free(db);
        return 1;
    }
    queue_set_stop_fn(*q, NULL);
    return 0;
}

int cmd_send(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        send_usage(stdout);
        return 0;
    }
    if (argc < 1) {
        send_usage(stderr);
        return EXIT_USAGE;
    }
    char job[64];
    snprintf(job, sizeof job, "%s", argv[0]);
    for (char *p = job; *p; p++)
        if (*p == '-')
            *p = '_';
    int kind;
    if (!strcmp(job, "process_pending_vitals") || !strcmp(job, "process_pending_nutrition") ||
        !strcmp(job, "process_pending_labs"))
        kind = 0;
    else if (!strcmp(job, "lab_categorization"))
        kind = 1;
    else if (!strcmp(job, "loinc_mapping"))
        kind = 2;
    else {
        fprintf(stderr, "mlworker send: unknown job '%s'\n", argv[0]);
        send_usage(stderr);
        return EXIT_USAGE;
    }

    int64_t user = -1, document = -1;
    const char *tests_path = NULL, *test_name = NULL, *priority = "normal", *queue_url = NULL;
    int delay = -1, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "mlworker send: %s needs a value\n", a);
            return EXIT_USAGE;
        } else if (!strcmp(a, "--user")) {
            if (parse_id(v, &user)) {
                fprintf(stderr, "mlworker send: --user '%s' is not a non-negative integer\n", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--document")) {
            if (parse_id(v, &document)) {
                fprintf(stderr, "mlworker send: --document '%s' is not a non-negative integer\n", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--tests")) {
            tests_path = v;
        } else if (!strcmp(a, "--test-name")) {
            test_name = v;
        } else if (!strcmp(a, "--priority")) {
            if (strcmp(v, "high") && strcmp(v, "normal") && strcmp(v, "low")) {
                fprintf(stderr, "mlworker send: --priority must be high, normal or low\n");
                return EXIT_USAGE;
            }
            priority = v;
        } else if (!strcmp(a, "--delay")) {
            int64_t d;
            if (parse_id(v, &d) || d > 900) {
                fprintf(stderr, "mlworker send: --delay must be 0..900 seconds\n");
                return EXIT_USAGE;
            }
            delay = (int)d;
        } else if (!strcmp(a, "--queue-url")) {
            queue_url = v;
        } else {
            fprintf(stderr, "mlworker send: unknown option '%s'\n", a);
            return EXIT_USAGE;
        }
        i += takes;
    }
    if (kind == 1 && (user < 0 || document < 0 || !tests_path)) {
        fprintf(stderr, "mlworker send lab-categorization: --user, --document and --tests are "
                        "required\n");
        return EXIT_USAGE;
    }
    if (kind == 2 && (!test_name || !*test_name)) {
        fprintf(stderr, "mlworker send loinc-mapping: --test-name is required\n");
        return EXIT_USAGE;
    }
    if (kind != 1 && (document >= 0 || tests_path)) {
        fprintf(stderr, "mlworker send: --document and --tests belong to lab-categorization\n");
        return EXIT_USAGE;
    }
    if (kind != 2 && test_name) {
        fprintf(stderr, "mlworker send: --test-name belongs to loinc-mapping\n");
        return EXIT_USAGE;
    }
    if (kind == 2 && user >= 0) {
        fprintf(stderr, "mlworker send loinc-mapping: takes no --user (the original sends none)\n");
        return EXIT_USAGE;
    }

    cJSON *tests = NULL;
    if (kind == 1) {
        size_t len = 0;
        char *text = read_all(tests_path, &len);
        if (!text) {
            fprintf(stderr, "mlworker send: cannot read %s: %s\n", tests_path, strerror(errno));
            return 1;
        }
        tests = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsArray(tests)) {
            fprintf(stderr, "mlworker send: %s is not a JSON list of tests\n", tests_path);
            cJSON_Delete(tests);
            return 1;
        }
    }

    /* The body, key order as the original client builds it. */
    char submitted[64];
    utc_isoformat(submitted, sizeof submitted);
    struct sbuf b = {0};
    int bad = 0;
    sb_str(&b, "{\"job_type\": ");
    bad |= sb_json_string(&b, job);
    if (kind == 2) {
        sb_str(&b, ", \"test_name\": ");
        bad |= sb_json_string(&b, test_name);
    } else if (user >= 0) {
        sb_fmt(&b, ", \"user_id\": %" PRId64, user);
    }
    if (kind == 1) {
        sb_fmt(&b, ", \"document_id\": %" PRId64 ", \"tests\": ", document);
        bad |= sb_json(&b, tests);
    }
    sb_str(&b, ", \"priority\": ");
    bad |= sb_json_string(&b, priority);
    sb_fmt(&b, ", \"submitted_at\": \"%s\"", submitted);
    if (kind == 1)
        sb_fmt(&b, ", \"test_count\": %d", cJSON_GetArraySize(tests));
    sb_str(&b, "}");
    cJSON_Delete(tests);
    if (bad || b.oom) {
        fprintf(stderr, "mlworker send: %s\n",
                b.oom ? "out of memory" : "a text value is not valid UTF-8");
        free(b.p);
        return 1;
    }

    char user_text[24];
    snprintf(user_text, sizeof user_text, "%" PRId64, user);
    struct sqs_attr attrs[3] = {{"JobType", "String", job}, {"Priority", "String", (char *)priority},
                                {"UserId", "Number", user_text}};
    struct sqs_send_entry e = {.body = b.p, .attrs = attrs, .n_attrs = user >= 0 ? 3 : 2,
                               .delay_seconds = delay};
    struct queue *q = NULL;
    struct db_target db;
    if (cli_open_queue(queue_url, &q, &db, "send")) {
        free(b.p);
        return 1;
    }
    struct mlw_err err = {0};
    int rc = queue_send(q, &e, &err);
    if (rc != MLW_OK) {
        fprintf(stderr, "mlworker send: %s\n", err.msg);
    } else {
        printf("%s\n", e.message_id);
        if (verbose) {
            printf("MD5OfMessageBody %s\n", e.md5_of_body);
            printf("MD5OfMessageAttributes %s\n", e.md5_of_attrs);
            printf("Body %s\n", b.p);
        }
    }
    queue_close(q);
    config_db_free(&db);
    free(b.p);
    return rc == MLW_OK ? 0 : 1;
}

static void queue_usage(FILE *f)
{
    fprintf(f, "usage: mlworker queue depth [--json] [--queue-url URL]\n"
               "       mlworker queue url NAME [--owner ACCOUNT] [--queue-url URL]\n"
               "       mlworker queue dead [--limit N] [--json] [--queue-url URL]\n"
               "       mlworker queue redrive [--queue-url URL]\n"
               "\n"
               "depth:   visible, in-flight and delayed message counts of the queue\n"
               "         (ML_WORKER_SQS_QUEUE_URL): GetQueueAttributes on SQS (approximate);\n"
               "         a database queue also counts its dead letters.\n"
               "url:     the URL of SQS queue NAME (GetQueueUrl) at the same endpoint.\n"
               "dead:    database queue: list dead-lettered messages (id, receives, body).\n"
               "redrive: database queue: make every dead letter visible again with a fresh\n"
               "         receive count (SQS: use the console or StartMessageMoveTask).\n"
               "\n"
               "Queue URLs: an SQS URL, or db[#NAME] (a table in the worker's database,\n"
               "DATABASE_URL), sqlite:///path.db[#NAME], postgresql://...[#NAME].\n");
}

int cmd_queue(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        queue_usage(stdout);
        return 0;
    }
    static const char *const subs[] = {"depth", "url", "dead", "redrive"};
    int sub = -1;
    for (int k = 0; argc >= 1 && k < 4; k++)
        if (!strcmp(argv[0], subs[k]))
            sub = k;
    if (sub < 0) {
        queue_usage(stderr);
        return EXIT_USAGE;
    }
    int json = 0, i = 1, limit = 100;
    const char *queue_url = NULL, *name = NULL, *owner = NULL;
    if (sub == 1) {
        if (argc < 2 || argv[1][0] == '-') {
            queue_usage(stderr);
            return EXIT_USAGE;
        }
        name = argv[1];
        i = 2;
    }
    for (; i < argc; i++) {
        if ((sub == 0 || sub == 2) && !strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--queue-url") && i + 1 < argc) {
            queue_url = argv[++i];
        } else if (sub == 1 && !strcmp(argv[i], "--owner") && i + 1 < argc) {
            owner = argv[++i];
        } else if (sub == 2 && !strcmp(argv[i], "--limit") && i + 1 < argc) {
            int64_t v;
            if (parse_id(argv[++i], &v) || v < 1 || v > 100000) {
                fprintf(stderr, "mlworker queue dead: --limit must be 1..100000\n");
                return EXIT_USAGE;
            }
            limit = (int)v;
        } else {
            fprintf(stderr, "mlworker queue: unexpected argument '%s'\n", argv[i]);
            queue_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (sub == 1 && !queue_url && !getenv("ML_WORKER_SQS_QUEUE_URL"))
        queue_url = getenv("AWS_ENDPOINT_URL_SQS") ? getenv("AWS_ENDPOINT_URL_SQS")
                                                   : getenv("AWS_ENDPOINT_URL");
    struct queue *q = NULL;
    struct db_target db;
    if (cli_open_queue(queue_url, &q, &db, "queue"))
        return 1;
    struct mlw_err err = {0};
    int rc = MLW_OK;
    if ((sub == 2 || sub == 3) && !queue_dbqueue(q)) {
        fprintf(stderr, "mlworker queue %s: only for a database queue (an SQS queue's dead "
                        "letters are in its DLQ: read it with its own URL)\n", subs[sub]);
        queue_close(q);
        config_db_free(&db);
        return 1;
    }
    if (sub == 1 && !queue_sqs_client(q)) {
        fprintf(stderr, "mlworker queue url: only for SQS (a database queue is named db#NAME)\n");
        queue_close(q);
        config_db_free(&db);
        return 1;
    }
    if (sub == 0) {
        struct queue_depth d = {0};
        rc = queue_depth(q, &d, &err);
        if (rc == MLW_OK && json && d.dead >= 0)
            printf("{\"visible\": %lld, \"in_flight\": %lld, \"delayed\": %lld, \"dead\": %lld}\n",
                   d.visible, d.in_flight, d.delayed, d.dead);
        else if (rc == MLW_OK && json)
            printf("{\"visible\": %lld, \"in_flight\": %lld, \"delayed\": %lld}\n", d.visible,
                   d.in_flight, d.delayed);
        else if (rc == MLW_OK)
            printf("visible %lld\nin_flight %lld\ndelayed %lld\n", d.visible, d.in_flight,
                   d.delayed);
        if (rc == MLW_OK && !json && d.dead >= 0)
            printf("dead %lld\n", d.dead);
    } else if (sub == 1) {
        char *url = NULL;
        rc = sqs_get_queue_url(queue_sqs_client(q), name, owner, &url, &err);
        if (rc == MLW_OK)
            printf("%s\n", url);
        free(url);
    } else if (sub == 2) {
        struct sqs_messages m = {0};
        rc = dbqueue_list_dead(queue_dbqueue(q), limit, &m, &err);
        for (size_t k = 0; rc == MLW_OK && k < m.n; k++) {
            if (json) {
                struct sbuf b = {0};
                sb_str(&b, "{\"message_id\": ");
                sb_json_string(&b, m.items[k].message_id);
                sb_fmt(&b, ", \"receive_count\": %d, \"body\": ", m.items[k].receive_count);
                if (sb_json_string(&b, m.items[k].body) != 0)
                    sb_str(&b, "null");
                sb_str(&b, "}");
                if (!b.oom)
                    printf("%s\n", b.p);
                free(b.p);
            } else {
                printf("%s %d %s\n", m.items[k].message_id, m.items[k].receive_count,
                       m.items[k].body);
            }
        }
        sqs_messages_free(&m);
    } else {
        int64_t moved = 0;
        rc = dbqueue_redrive(queue_dbqueue(q), &moved, &err);
        if (rc == MLW_OK)
            printf("%" PRId64 " message(s) redriven\n", moved);
    }
    if (rc != MLW_OK)
        fprintf(stderr, "mlworker queue: %s\n", err.msg);
    queue_close(q);
    config_db_free(&db);
    return rc == MLW_OK ? 0 : 1;
}
