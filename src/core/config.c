/* config.c - see config.h. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

enum opt_kind { OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_STRING, OPT_ENUM };

struct opt {
    const char *name;
    enum opt_kind kind;
    size_t offset;           /* field in struct config */
    const char *def;         /* default, as text */
    double min, max;         /* numeric bounds, inclusive */
    const char *choices;     /* OPT_ENUM: '|'-separated, index stored */
    const char *help;
};

#define F(field) offsetof(struct config, field)

static const struct opt g_opts[] = {
    {"ML_WORKER_MODE", OPT_ENUM, F(mode), "aggregation", 0, 0, "aggregation|sqs|both",
     "run mode: aggregation (background processing), sqs (queue jobs), both"},
    {"ML_WORKER_POLL_INTERVAL", OPT_DOUBLE, F(poll_interval), "30", 0.01, 86400, NULL,
     "seconds between idle checks in aggregation mode"},
    {"ML_WORKER_AGGREGATION_BATCH_SIZE", OPT_INT, F(aggregation_batch_size), "100", 1, 100000, NULL,
     "raw rows claimed per batch and domain"},
    {"ML_WORKER_EXIT_WHEN_IDLE", OPT_BOOL, F(exit_when_idle), "0", 0, 1, NULL,
     "1: process everything pending, then exit 0"},
    {"ML_WORKER_CLAIM_TIMEOUT", OPT_INT, F(claim_timeout), "600", 0, 604800, NULL,
     "seconds after which a claim left by a dead worker is taken back"},
    {"ML_WORKER_LOG_FORMAT", OPT_ENUM, F(log_json), "text", 0, 0, "text|json", "log line format"},
    {"ML_WORKER_LOG_LEVEL", OPT_ENUM, F(log_level), "info", 0, 0, "debug|info|warning|error",
     "least severe level logged"},
    {"ML_WORKER_STATS_INTERVAL", OPT_INT, F(stats_interval), "300", 1, 86400, NULL,
     "seconds between stats blocks in the log"},
    {"ML_WORKER_NOTIFY_CHANNEL", OPT_STRING, F(notify_channel), NULL, 0, 0, NULL,
     "PostgreSQL LISTEN channel that wakes an idle worker (unset: poll only)"},
    {"ML_WORKER_SQS_QUEUE_URL", OPT_STRING, F(sqs_queue_url), NULL, 0, 0, NULL,
     "SQS queue URL (required in sqs and both modes)"},
    {"ML_WORKER_BATCH_SIZE", OPT_INT, F(sqs_batch_size), "1", 1, 10, NULL,
     "SQS messages per receive (MaxNumberOfMessages)"},
    {"ML_WORKER_WAIT_TIME", OPT_INT, F(sqs_wait_time), "20", 0, 20, NULL,
     "SQS long-poll seconds (WaitTimeSeconds)"},
    {"ML_WORKER_VISIBILITY_TIMEOUT", OPT_INT, F(sqs_visibility_timeout), "300", 0, 43200, NULL,
     "SQS VisibilityTimeout on receive, seconds"},
    {"ML_WORKER_MAX_RECEIVES", OPT_INT, F(max_receives), "3", 1, 1000, NULL,
     "database queue: receives after which a message is dead-lettered"},
    {"ML_WORKER_SHUTDOWN_TIMEOUT", OPT_INT, F(shutdown_timeout), "25", 0, 3600, NULL,
     "seconds from SIGTERM to exit: the current job may run that long, then stops between batches"},
    {"AWS_REGION", OPT_STRING, F(aws_region), "us-east-1", 0, 0, NULL, "AWS region for SQS"},
    {"LOINC_ENABLED", OPT_BOOL, F(loinc_enabled), "0", 0, 1, NULL,
     "exactly 1 enables LOINC mapping with the ML model"},
    {"ML_WORKER_MODEL_DIR", OPT_STRING, F(model_dir), NULL, 0, 0, NULL,
     "Hugging Face BERT model directory (required with LOINC_ENABLED=1)"},
    {"ML_WORKER_LOINC_INDEX", OPT_STRING, F(loinc_index), NULL, 0, 0, NULL,
     "LOINC vector index from `mlworker loinc build` (required with LOINC_ENABLED=1)"},
    {"ML_WORKER_LOINC_MIN_SCORE", OPT_DOUBLE, F(loinc_min_score), "0.85", 0, 1, NULL,
     "combined score a LOINC candidate needs to be accepted (else UNKNOWN + review)"},
    {"ML_WORKER_CATEGORY_MIN_SCORE", OPT_DOUBLE, F(category_min_score), "0.95", 0, 1, NULL,
     "cosine to the nearest catalog test that moves a name out of Others"},
    {"ML_WORKER_LLM_URL", OPT_STRING, F(llm_url), NULL, 0, 0, NULL,
     "OpenAI-compatible API base for the optional LOINC reranker (unset: off)"},
    {"OPENAI_API_KEY", OPT_STRING, F(openai_api_key), NULL, 0, 0, NULL,
     "API key for ML_WORKER_LLM_URL (secret: never logged)"},
    {"LAB_AGGREGATION_AGENT_MODEL", OPT_STRING, F(llm_model), "o4-mini", 0, 0, NULL,
     "chat model asked by the LOINC reranker"},
    {"ML_WORKER_LLM_TIMEOUT", OPT_DOUBLE, F(llm_timeout), "10", 0.1, 600, NULL,
     "seconds one reranker call may take (then the embedding decision stands)"},
    {"ML_WORKER_LLM_BATCH_SECONDS", OPT_DOUBLE, F(llm_batch_seconds), "30", 0.1, 3600, NULL,
     "seconds all reranker calls of one lab batch may take together (its transaction stays short)"},
    {"ML_WORKER_LLM_MIN_SCORE", OPT_DOUBLE, F(llm_min_score), "0.5", 0, 1, NULL,
     "combined score the reranker's pick needs to be accepted"},
    {"ML_WORKER_HTTP_ADDR", OPT_STRING, F(http_addr), "127.0.0.1:9090", 0, 0, NULL,
     "HOST:PORT of /healthz /readyz /metrics (0.0.0.0:PORT: every interface; off: none)"},
    {"ML_WORKER_HEALTH_DEADLINE", OPT_INT, F(health_deadline), "300", 1, 86400, NULL,
     "seconds a worker thread may spend on one unit of work before /healthz turns red"},
};

#define NOPTS (sizeof g_opts / sizeof g_opts[0])

struct problems {
    char *buf;
    size_t len, cap;
    int count;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
    p->count++;
    if (p->buf == NULL || p->cap == 0 || p->len + 2 >= p->cap)
        return;
    if (p->len > 0)
        p->buf[p->len++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->buf + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len += (size_t)n < p->cap - p->len ? (size_t)n : p->cap - p->len - 1;
}

/* Shown values are clipped and made printable so a hostile value cannot
 * forge log lines. */
static void shown(const char *v, char out[64])
{
    size_t i = 0;
    for (; v[i] && i < 60; i++)
        out[i] = isprint((unsigned char)v[i]) ? v[i] : '?';
    if (v[i])
        out[i - 1] = out[i - 2] = out[i - 3] = '.';
    out[i] = '\0';
}

static int parse_opt(struct config *cfg, const struct opt *o, const char *v, struct problems *p)
{
    char *field = (char *)cfg + o->offset;
    char sv[64];
    shown(v, sv);
    switch (o->kind) {
    case OPT_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        while (*end == ' ')
            end++;
        if (errno || end == v || *end) {
            problem(p, "%s='%s' is not an integer", o->name, sv);
            return -1;
        }
        if ((double)x < o->min || (double)x > o->max) {
            problem(p, "%s=%lld is out of range (%.0f..%.0f)", o->name, x, o->min, o->max);
            return -1;
        }
        *(int *)field = (int)x;
        return 0;
    }
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        while (*end == ' ')
            end++;
        if (errno || end == v || *end || !isfinite(x)) {
            problem(p, "%s='%s' is not a number", o->name, sv);
            return -1;
        }
        if (x < o->min || x > o->max) {
            problem(p, "%s=%s is out of range (%g..%g)", o->name, sv, o->min, o->max);
            return -1;
        }
        *(double *)field = x;
        return 0;
    }
    case OPT_BOOL:
        if (!strcmp(o->name, "LOINC_ENABLED")) {
            /* The original enables LOINC only for the exact string "1". */
            *(int *)field = !strcmp(v, "1");
            return 0;
        }
        if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
            *(int *)field = 1;
        } else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
                   !strcasecmp(v, "off") || !*v) {
            *(int *)field = 0;
        } else {
            problem(p, "%s='%s' is not a boolean (use 1 or 0)", o->name, sv);
            return -1;
        }
        return 0;
    case OPT_STRING: {
        char **dst = (char **)field;
        free(*dst);
        *dst = *v ? strdup(v) : NULL;
        if (*v && *dst == NULL) {
            problem(p, "out of memory reading %s", o->name);
            return -1;
        }
        return 0;
    }
    case OPT_ENUM: {
        int idx = 0;
        const char *c = o->choices;
        size_t vl = strlen(v);
        while (*c) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == vl && !strncasecmp(c, v, cl)) {
                *(int *)field = idx;
                return 0;
            }
            idx++;
            c += cl + (bar ? 1 : 0);
        }
        char choices[128];
        snprintf(choices, sizeof choices, "%s", o->choices);
        for (char *q = choices; *q; q++)
            if (*q == '|')
                *q = '/';
        problem(p, "%s='%s' is not one of %s", o->name, sv, choices);
        return -1;
    }
    }
    return -1;
}

const char *config_mode_name(enum worker_mode m)
{
    return m == MODE_SQS ? "sqs" : m == MODE_BOTH ? "both" : "aggregation";
}

void config_db_free(struct db_target *db)
{
    free(db->location);
    free(db->display);
    db->location = db->display = NULL;
}

/* postgresql://user:secret@host/db -> postgresql://user:***@host/db */
static char *mask_password(const char *url)
{
    /* Room for the mask to be longer than the password: a secret of fewer
     * than 3 bytes (":p@") grows by up to 3 bytes to ":***@". */
    size_t len = strlen(url);
    char *out = malloc(len + 4);
    if (out == NULL)
        return NULL;
    memcpy(out, url, len + 1);
    char *scheme = strstr(out, "://");
    if (scheme == NULL)
        return out;
    char *auth = scheme + 3;
    char *at = strrchr(auth, '@');
    char *slash = strchr(auth, '/');
    if (at == NULL || (slash && slash < at))
        return out;
    char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon == NULL)
        return out;
    memmove(colon + 4, at, strlen(at) + 1);
    memcpy(colon, ":***", 4);
    return out;
}

int config_parse_db_url(struct db_target *db, const char *url, const char *origin,
                        struct mlw_err *err)
{
    memset(db, 0, sizeof *db);
    db->origin = origin;
    if (!strncmp(url, "sqlite://", 9)) {
        /* sqlite:///abs/path.db -> /abs/path.db; sqlite://rel.db -> rel.db */
        const char *path = url + 9;
        if (*path == '\0')
            return mlw_err_set(err, MLW_EINVAL, "%s: sqlite URL has no file path", origin);
        db->kind = DB_SQLITE;
        db->location = strdup(path);
        db->display = strdup(url);
    } else if (!strncmp(url, "postgresql", 10) || !strncmp(url, "postgres://", 11)) {
        /* Accept SQLAlchemy's driver suffix: postgresql+psycopg2://... */
        const char *rest = strstr(url, "://");
        if (rest == NULL)
            return mlw_err_set(err, MLW_EINVAL, "%s: not a PostgreSQL URL", origin);
        size_t n = strlen(rest) + strlen("postgresql") + 1;
        db->location = malloc(n);
        if (db->location)
            snprintf(db->location, n, "postgresql%s", rest);
        db->kind = DB_POSTGRES;
        db->display = db->location ? mask_password(db->location) : NULL;
    } else {
        char sv[64];
        shown(url, sv);
        return mlw_err_set(err, MLW_EINVAL,
                           "%s='%s' is not a sqlite:// or postgresql:// URL", origin,
                           strchr(url, '@') ? "(hidden: looks like it holds credentials)" : sv);
    }
    if (db->location == NULL || db->display == NULL) {
        config_db_free(db);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    return MLW_OK;
}

/* Percent-encode for the user/password parts of a URL (as the original's
 * urllib quote does). */
static void url_quote(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

int config_db_target(struct db_target *db, const char *(*getenv_fn)(const char *),
                     struct mlw_err *err)
{
    const char *v;
    if ((v = getenv_fn("DATABASE_URL")) && *v)
        return config_parse_db_url(db, v, "DATABASE_URL", err);
    if ((v = getenv_fn("SQLALCHEMY_DATABASE_URI")) && *v)
        return config_parse_db_url(db, v, "SQLALCHEMY_DATABASE_URI", err);
    if ((v = getenv_fn("POSTGRES_SERVER")) && *v) {
        const char *port = getenv_fn("POSTGRES_PORT"), *user = getenv_fn("POSTGRES_USER");
        const char *pass = getenv_fn("POSTGRES_PASSWORD"), *name = getenv_fn("POSTGRES_DB");
        char quser[512], qpass[512], url[2048];
        url_quote(user ? user : "", quser, sizeof quser);
        url_quote(pass ? pass : "", qpass, sizeof qpass);
        snprintf(url, sizeof url, "postgresql://%s%s%s%s%s:%s/%s", quser, *qpass ? ":" : "", qpass,
                 *quser || *qpass ? "@" : "", v, port && *port ? port : "5432", name ? name : "");
        return config_parse_db_url(db, url, "POSTGRES_SERVER", err);
    }
    return config_parse_db_url(db, "sqlite://mlworker.db", "default", err);
}

int config_load(struct config *cfg, const char *(*getenv_fn)(const char *), char *problems,
                size_t problems_len)
{
    struct problems p = {problems, 0, problems_len, 0};
    memset(cfg, 0, sizeof *cfg);
    if (problems && problems_len)
        problems[0] = '\0';
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &g_opts[i];
        const char *v = getenv_fn(o->name);
        if (o->def)
            parse_opt(cfg, o, o->def, &p); /* defaults always parse */
        if (v != NULL && !(o->kind != OPT_STRING && *v == '\0'))
            parse_opt(cfg, o, v, &p);
    }
    struct mlw_err err = {0};
    if (config_db_target(&cfg->db, getenv_fn, &err) != MLW_OK)
        problem(&p, "%s", err.msg);
    if (cfg->notify_channel) {
        int ok = strlen(cfg->notify_channel) < 64;
        for (const char *c = cfg->notify_channel; *c && ok; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                 (c != cfg->notify_channel && *c >= '0' && *c <= '9');
        if (!ok)
            problem(&p, "ML_WORKER_NOTIFY_CHANNEL must be an identifier (letters, digits, _)");
    }
    if (cfg->loinc_enabled && (cfg->model_dir == NULL || cfg->loinc_index == NULL))
        problem(&p, "LOINC_ENABLED=1 needs ML_WORKER_MODEL_DIR and ML_WORKER_LOINC_INDEX "
                    "(the model directory and the index `mlworker loinc build` wrote)");
    if (p.count == 0 && cfg->mode != MODE_AGGREGATION && cfg->sqs_queue_url == NULL)
        problem(&p, "ML_WORKER_SQS_QUEUE_URL is required when ML_WORKER_MODE=%s",
                config_mode_name(cfg->mode));
    return p.count ? MLW_EINVAL : MLW_OK;
}

void config_free(struct config *cfg)
{
    free(cfg->notify_channel);
    free(cfg->sqs_queue_url);
    free(cfg->aws_region);
    free(cfg->http_addr);
    free(cfg->model_dir);
    free(cfg->loinc_index);
    free(cfg->llm_url);
    free(cfg->openai_api_key);
    free(cfg->llm_model);
    config_db_free(&cfg->db);
    memset(cfg, 0, sizeof *cfg);
}

void config_print_help(void)
{
    printf("Environment (defaults in brackets):\n");
    for (size_t i = 0; i < NOPTS; i++)
        printf("  %-34s %s [%s]\n", g_opts[i].name, g_opts[i].help,
               g_opts[i].def ? g_opts[i].def : "unset");
    printf("  %-34s %s\n", "DATABASE_URL",
           "sqlite:///abs/path.db, sqlite://rel/path.db or postgresql://... [sqlite://mlworker.db]");
    printf("  %-34s %s\n", "SQLALCHEMY_DATABASE_URI", "used when DATABASE_URL is unset");
    printf("  %-34s %s\n", "POSTGRES_SERVER/PORT/USER/PASSWORD/DB",
           "the original's variables, used when both URLs are unset");
}
