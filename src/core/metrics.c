/*
 * metrics.c - see metrics.h.
 *
 * A registry is a list of families behind one mutex; a family is a list of
 * children, one per label-value tuple. Updates are rare (per batch, per
 * message, per scrape), so one lock per registry costs nothing measurable
 * and keeps every read of a histogram consistent with its sum and count.
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct child {
    char *values[METRICS_MAX_LABELS];
    double value;                                  /* counter, gauge */
    double sum;                                    /* histogram */
    unsigned long long count;                      /* histogram: samples */
    unsigned long long counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, last = above all */
    struct child *next;
};

struct metrics_family {
    struct metrics *reg;
    enum metrics_type type;
    char *name;
    char *help;
    char *labels[METRICS_MAX_LABELS];
    int n_labels;
    double buckets[METRICS_MAX_BUCKETS];
    int n_buckets;
    struct child *children, *last;
    int n_children;
    struct metrics_family *next;
};

struct metrics {
    pthread_mutex_t mu;
    struct metrics_family *first, *last;
    long long dropped;
};

/* ---- names ---- */

static int name_ok(const char *s, int colons)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (colons && c == ':');
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

/* ---- registry ---- */

int metrics_init(struct metrics **out, struct mlw_err *err)
{
    *out = NULL;
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return mlw_err_set(err, MLW_ENOMEM, "metrics: out of memory");
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return mlw_err_set(err, MLW_ENOMEM, "metrics: cannot create a mutex");
    }
    *out = m;
    return MLW_OK;
}

static void child_free(struct child *c)
{
    for (int i = 0; i < METRICS_MAX_LABELS; i++)
        free(c->values[i]);
    free(c);
}

static void family_free(struct metrics_family *f)
{
    struct child *c = f->children;
    while (c) {
        struct child *next = c->next;
        child_free(c);
        c = next;
    }
    for (int i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    struct metrics_family *f = m->first;
    while (f) {
        struct metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

int metrics_register(struct metrics *m, enum metrics_type type, const char *name,
                     const char *help, const char *const *label_names, int n_labels,
                     const double *buckets, int n_buckets, struct metrics_family **out,
                     struct mlw_err *err)
{
    *out = NULL;
    if (!name_ok(name, 1))
        return mlw_err_set(err, MLW_EINVAL, "metrics: invalid metric name '%.80s'",
                           name ? name : "(null)");
    if (n_labels < 0 || n_labels > METRICS_MAX_LABELS || (n_labels > 0 && !label_names))
        return mlw_err_set(err, MLW_EINVAL, "metrics: %s: 0..%d label names", name,
                           METRICS_MAX_LABELS);
    for (int i = 0; i < n_labels; i++) {
        const char *l = label_names[i];
        if (!name_ok(l, 0) || !strncmp(l, "__", 2) ||
            (type == METRICS_HISTOGRAM && !strcmp(l, "le")))
            return mlw_err_set(err, MLW_EINVAL, "metrics: %s: invalid label name '%.40s'", name,
                               l ? l : "(null)");
        for (int j = 0; j < i; j++)
            if (!strcmp(l, label_names[j]))
                return mlw_err_set(err, MLW_EINVAL, "metrics: %s: label '%s' twice", name, l);
    }
    if (type == METRICS_HISTOGRAM) {
        if (!buckets || n_buckets < 1 || n_buckets > METRICS_MAX_BUCKETS)
            return mlw_err_set(err, MLW_EINVAL, "metrics: %s: 1..%d buckets", name,
                               METRICS_MAX_BUCKETS);
        for (int i = 0; i < n_buckets; i++)
            if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                return mlw_err_set(err, MLW_EINVAL,
                                   "metrics: %s: buckets must be finite and increasing", name);
    } else if (buckets || n_buckets) {
        return mlw_err_set(err, MLW_EINVAL, "metrics: %s: only histograms have buckets", name);
    }

    struct metrics_family *f = calloc(1, sizeof *f);
    if (!f)
        return mlw_err_set(err, MLW_ENOMEM, "metrics: out of memory");
    f->reg = m;
    f->type = type;
    f->name = dup_str(name);
    f->help = dup_str(help ? help : "");
    int oom = !f->name || !f->help;
    for (int i = 0; i < n_labels && !oom; i++) {
        f->labels[i] = dup_str(label_names[i]);
        f->n_labels = i + 1;
        oom = !f->labels[i];
    }
    if (oom) {
        family_free(f);
        return mlw_err_set(err, MLW_ENOMEM, "metrics: out of memory");
    }
    f->n_labels = n_labels;
    for (int i = 0; i < n_buckets; i++)
        f->buckets[i] = buckets[i];
    f->n_buckets = type == METRICS_HISTOGRAM ? n_buckets : 0;

    pthread_mutex_lock(&m->mu);
    for (struct metrics_family *g = m->first; g; g = g->next)
        if (!strcmp(g->name, name)) {
            pthread_mutex_unlock(&m->mu);
            family_free(f);
            return mlw_err_set(err, MLW_EINVAL, "metrics: %s registered twice", name);
        }
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->mu);
    *out = f;
    return MLW_OK;
}

/* ---- children ---- */

/* Compare a stored (already cut) value with a caller's value cut the same way. */
static int value_eq(const char *stored, const char *v)
{
    size_t n = strlen(v);
    if (n > METRICS_MAX_LABEL_VALUE)
        n = METRICS_MAX_LABEL_VALUE;
    return strlen(stored) == n && !memcmp(stored, v, n);
}

/* Find or create the child for the values; NULL when it cannot be made.
 * Called with the registry locked. */
static struct child *child_get(struct metrics_family *f, const char *const *values, int *rc)
{
    for (struct child *c = f->children; c; c = c->next) {
        int same = 1;
        for (int i = 0; i < f->n_labels && same; i++)
            same = value_eq(c->values[i], values && values[i] ? values[i] : "");
        if (same)
            return c;
    }
    if (f->n_children >= METRICS_MAX_CHILDREN) {
        f->reg->dropped++;
        *rc = MLW_EBUSY;
        return NULL;
    }
    struct child *c = calloc(1, sizeof *c);
    for (int i = 0; c && i < f->n_labels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        size_t n = strlen(v);
        if (n > METRICS_MAX_LABEL_VALUE)
            n = METRICS_MAX_LABEL_VALUE;
        c->values[i] = malloc(n + 1);
        if (!c->values[i]) {
            child_free(c);
            c = NULL;
            break;
        }
        memcpy(c->values[i], v, n);
        c->values[i][n] = '\0';
    }
    if (!c) {
        f->reg->dropped++;
        *rc = MLW_ENOMEM;
        return NULL;
    }
    if (f->last)
        f->last->next = c;
    else
        f->children = c;
    f->last = c;
    f->n_children++;
    return c;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(struct metrics_family *f, const char *const *values, double x, enum op op)
{
    if (!f)
        return MLW_OK;
    int bad = 0;
    switch (op) {
    case OP_ADD:
        bad = f->type == METRICS_HISTOGRAM || (f->type == METRICS_COUNTER && !(x >= 0));
        break;
    case OP_SET:
        bad = f->type == METRICS_HISTOGRAM || (f->type == METRICS_COUNTER && !(x >= 0));
        break;
    case OP_OBSERVE:
        bad = f->type != METRICS_HISTOGRAM || isnan(x);
        break;
    }
    if (bad)
        return MLW_EINVAL;
    int rc = MLW_OK;
    pthread_mutex_lock(&f->reg->mu);
    struct child *c = child_get(f, values, &rc);
    if (c) {
        if (op == OP_ADD) {
            c->value += x;
        } else if (op == OP_SET) {
            if (f->type == METRICS_COUNTER && x < c->value)
                rc = MLW_EINVAL;
            else
                c->value = x;
        } else {
            int i = 0;
            while (i < f->n_buckets && !(x <= f->buckets[i]))
                i++;
            c->counts[i]++;
            c->count++;
            c->sum += x;
        }
    }
    pthread_mutex_unlock(&f->reg->mu);
    return rc;
}

int metrics_add(struct metrics_family *f, const char *const *label_values, double delta)
{
    return update(f, label_values, delta, OP_ADD);
}

int metrics_set(struct metrics_family *f, const char *const *label_values, double value)
{
    return update(f, label_values, value, OP_SET);
}

int metrics_observe(struct metrics_family *f, const char *const *label_values, double value)
{
    return update(f, label_values, value, OP_OBSERVE);
}

double metrics_value(struct metrics_family *f, const char *const *label_values)
{
    if (!f)
        return 0;
    double v = 0;
    pthread_mutex_lock(&f->reg->mu);
    for (struct child *c = f->children; c; c = c->next) {
        int same = 1;
        for (int i = 0; i < f->n_labels && same; i++)
            same = value_eq(c->values[i],
                            label_values && label_values[i] ? label_values[i] : "");
        if (same) {
            v = f->type == METRICS_HISTOGRAM ? (double)c->count : c->value;
            break;
        }
    }
    pthread_mutex_unlock(&f->reg->mu);
    return v;
}

long long metrics_dropped(struct metrics *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    long long n = m->dropped;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* ---- exposition ---- */

struct text {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->n + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

static void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* Escaped text: backslash and newline always, the double quote in label
 * values; invalid UTF-8 bytes become '?'. */
static void put_escaped(struct text *t, const char *s, int quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        if (*p == '\\') {
            put(t, "\\\\", 2);
        } else if (*p == '\n') {
            put(t, "\\n", 2);
        } else if (quote && *p == '"') {
            put(t, "\\\"", 2);
        } else {
            size_t l = utf8_len(p, n);
            if (l == 0) {
                put(t, "?", 1);
                l = 1;
            } else {
                put(t, (const char *)p, l);
            }
            p += l;
            n -= l;
            continue;
        }
        p++;
        n--;
    }
}

void metrics_format_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) { /* integers as integers: 10, not 1e+01 */
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* {a="x",b="y"[,le="0.5"]} or nothing when there are no labels at all. */
static void put_labels(struct text *t, const struct metrics_family *f, const struct child *c,
                       const char *le)
{
    if (f->n_labels == 0 && !le)
        return;
    put(t, "{", 1);
    for (int i = 0; i < f->n_labels; i++) {
        if (i)
            put(t, ",", 1);
        puts_(t, f->labels[i]);
        put(t, "=\"", 2);
        put_escaped(t, c ? c->values[i] : "", 1);
        put(t, "\"", 1);
    }
    if (le) {
        if (f->n_labels)
            put(t, ",", 1);
        put(t, "le=\"", 4);
        puts_(t, le);
        put(t, "\"", 1);
    }
    put(t, "}", 1);
}

static void put_sample(struct text *t, const struct metrics_family *f, const char *suffix,
                       const struct child *c, const char *le, double v)
{
    char num[40];
    puts_(t, f->name);
    puts_(t, suffix);
    put_labels(t, f, c, le);
    put(t, " ", 1);
    metrics_format_double(v, num, sizeof num);
    puts_(t, num);
    put(t, "\n", 1);
}

static void put_child(struct text *t, const struct metrics_family *f, const struct child *c)
{
    if (f->type != METRICS_HISTOGRAM) {
        put_sample(t, f, "", c, NULL, c ? c->value : 0);
        return;
    }
    unsigned long long cum = 0;
    char le[40];
    for (int i = 0; i < f->n_buckets; i++) {
        cum += c ? c->counts[i] : 0;
        metrics_format_double(f->buckets[i], le, sizeof le);
        put_sample(t, f, "_bucket", c, le, (double)cum);
    }
    put_sample(t, f, "_bucket", c, "+Inf", c ? (double)c->count : 0);
    put_sample(t, f, "_sum", c, NULL, c ? c->sum : 0);
    put_sample(t, f, "_count", c, NULL, c ? (double)c->count : 0);
}

int metrics_render(struct metrics *m, char **out, size_t *len, struct mlw_err *err)
{
    static const char *const type_name[] = {"counter", "gauge", "histogram"};
    struct text t = {0};
    *out = NULL;
    *len = 0;
    put(&t, "", 0); /* an empty registry still yields "" */
    pthread_mutex_lock(&m->mu);
    for (const struct metrics_family *f = m->first; f; f = f->next) {
        put(&t, "# HELP ", 7);
        puts_(&t, f->name);
        put(&t, " ", 1);
        put_escaped(&t, f->help, 0);
        put(&t, "\n# TYPE ", 8);
        puts_(&t, f->name);
        put(&t, " ", 1);
        puts_(&t, type_name[f->type]);
        put(&t, "\n", 1);
        if (!f->children && f->n_labels == 0)
            put_child(&t, f, NULL);
        for (const struct child *c = f->children; c; c = c->next)
            put_child(&t, f, c);
    }
    pthread_mutex_unlock(&m->mu);
    if (t.oom) {
        free(t.p);
        return mlw_err_set(err, MLW_ENOMEM, "metrics: out of memory rendering");
    }
    *out = t.p;
    *len = t.n;
    return MLW_OK;
}

/* ---- the process registry ---- */

static const double k_batch_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                         2.5,   5,    10,    30,   60,  120,  300};
static const double k_job_buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                       5,    10,   30,  60,   120, 240, 480};
static const double k_model_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   5};

#define NB(a) (int)(sizeof(a) / sizeof((a)[0]))

struct metric_def {
    const char *name;
    enum metrics_type type;
    const char *label;       /* the single label, or NULL */
    const double *buckets;
    int n_buckets;
    const char *help;
};

static const struct metric_def k_defs[METRICS_ID_COUNT] = {
    [METRICS_MSG_RECEIVED] = {"mlworker_sqs_messages_received_total", METRICS_COUNTER, "job_type",
                              NULL, 0, "SQS messages received and taken up, by job type."},
    [METRICS_MSG_DELETED] = {"mlworker_sqs_messages_deleted_total", METRICS_COUNTER, "job_type",
                             NULL, 0, "SQS messages deleted after their work committed."},
    [METRICS_MSG_FAILED] = {"mlworker_sqs_messages_failed_total", METRICS_COUNTER, "job_type",
                            NULL, 0,
                            "SQS messages not processed (left for redelivery or the DLQ)."},
    [METRICS_JOB_SECONDS] = {"mlworker_job_duration_seconds", METRICS_HISTOGRAM, "job_type",
                             k_job_buckets, NB(k_job_buckets),
                             "Time to handle one SQS message, by job type."},
    [METRICS_ROWS_PROCESSED] = {"mlworker_rows_processed_total", METRICS_COUNTER, "domain", NULL,
                                0, "Raw rows categorized or completed, by domain."},
    [METRICS_ROWS_FAILED] = {"mlworker_rows_failed_total", METRICS_COUNTER, "domain", NULL, 0,
                             "Raw rows marked failed because of their data, by domain."},
    [METRICS_BATCH_SECONDS] = {"mlworker_batch_duration_seconds", METRICS_HISTOGRAM, "domain",
                               k_batch_buckets, NB(k_batch_buckets),
                               "Duration of one batch transaction that took rows, by domain."},
    [METRICS_BATCH_ERRORS] = {"mlworker_batch_errors_total", METRICS_COUNTER, NULL, NULL, 0,
                              "Batches rolled back by a database error (retried later)."},
    [METRICS_CLAIMS_RECLAIMED] = {"mlworker_claims_reclaimed_total", METRICS_COUNTER, "domain",
                                  NULL, 0,
                                  "Stale 'processing' rows returned to pending, by domain."},
    [METRICS_DB_RETRIES] = {"mlworker_db_retries_total", METRICS_COUNTER, "domain", NULL, 0,
                            "Batch attempts retried after lock contention or a lost "
                            "connection, by domain."},
    [METRICS_DB_RECONNECTS] = {"mlworker_db_reconnects_total", METRICS_COUNTER, NULL, NULL, 0,
                               "Lost database connections re-opened."},
    [METRICS_QUEUE_MESSAGES] = {"mlworker_sqs_queue_messages", METRICS_GAUGE, "state", NULL, 0,
                                "Approximate SQS queue depth (sampled): visible, in_flight, "
                                "delayed."},
    [METRICS_QUEUE_SAMPLE_TIME] = {"mlworker_sqs_queue_sample_timestamp_seconds", METRICS_GAUGE,
                                   NULL, NULL, 0,
                                   "Unix time of the last successful queue depth sample."},
    [METRICS_MODEL_SECONDS] = {"mlworker_model_inference_duration_seconds", METRICS_HISTOGRAM,
                               NULL, k_model_buckets, NB(k_model_buckets),
                               "Duration of one model inference call."},
    [METRICS_THREAD_AGE] = {"mlworker_thread_last_report_age_seconds", METRICS_GAUGE, "thread",
                            NULL, 0, "Seconds since a worker thread last reported progress."},
    [METRICS_THREAD_HEALTHY] = {"mlworker_thread_healthy", METRICS_GAUGE, "thread", NULL, 0,
                                "1 while a worker thread reports within its deadline, else 0."},
    [METRICS_RSS_BYTES] = {"process_resident_memory_bytes", METRICS_GAUGE, NULL, NULL, 0,
                           "Resident memory size in bytes."},
    [METRICS_VSZ_BYTES] = {"process_virtual_memory_bytes", METRICS_GAUGE, NULL, NULL, 0,
                           "Virtual memory size in bytes."},
    [METRICS_CPU_SECONDS] = {"process_cpu_seconds_total", METRICS_COUNTER, NULL, NULL, 0,
                             "Total user and system CPU time spent in seconds."},
    [METRICS_START_TIME] = {"process_start_time_seconds", METRICS_GAUGE, NULL, NULL, 0,
                            "Start time of the process since unix epoch in seconds."},
    [METRICS_BUILD_INFO] = {"mlworker_build_info", METRICS_GAUGE, NULL, NULL, 0,
                            "Always 1; labels give the version and the run mode."},
    [METRICS_LAB_ML] = {"mlworker_lab_ml_decisions_total", METRICS_COUNTER, "result", NULL, 0,
                        "Lab names the catalog left unresolved, by ML result: loinc_embedding, "
                        "loinc_llm, loinc_review, category_embedding, category_loinc."},
    [METRICS_LLM_CALLS] = {"mlworker_llm_rerank_calls_total", METRICS_COUNTER, "outcome", NULL,
                           0, "LOINC reranker calls by outcome: picked, no_match, rejected, "
                           "error, timeout (all but picked keep the embedding decision)."},
};

static _Atomic(struct metrics *) g_proc;
static struct metrics_family *g_fam[METRICS_ID_COUNT];
static pthread_mutex_t g_proc_mu = PTHREAD_MUTEX_INITIALIZER;

int metrics_process_init(const char *version, const char *mode, double start_unix,
                         struct mlw_err *err)
{
    pthread_mutex_lock(&g_proc_mu);
    if (atomic_load(&g_proc)) {
        pthread_mutex_unlock(&g_proc_mu);
        return MLW_OK;
    }
    struct metrics *m = NULL;
    int rc = metrics_init(&m, err);
    for (int i = 0; rc == MLW_OK && i < METRICS_ID_COUNT; i++) {
        const struct metric_def *d = &k_defs[i];
        static const char *const info_labels[] = {"version", "mode"};
        const char *const *labels = d->label ? &d->label : NULL;
        int nl = d->label ? 1 : 0;
        if (i == METRICS_BUILD_INFO) {
            labels = info_labels;
            nl = 2;
        }
        rc = metrics_register(m, d->type, d->name, d->help, labels, nl, d->buckets, d->n_buckets,
                              &g_fam[i], err);
    }
    if (rc == MLW_OK) {
        const char *info[] = {version ? version : "", mode ? mode : ""};
        metrics_set(g_fam[METRICS_BUILD_INFO], info, 1);
        metrics_set(g_fam[METRICS_START_TIME], NULL, start_unix);
        atomic_store(&g_proc, m);
    } else {
        metrics_free(m);
        memset(g_fam, 0, sizeof g_fam);
    }
    pthread_mutex_unlock(&g_proc_mu);
    return rc;
}

void metrics_process_free(void)
{
    pthread_mutex_lock(&g_proc_mu);
    struct metrics *m = atomic_exchange(&g_proc, NULL);
    memset(g_fam, 0, sizeof g_fam);
    pthread_mutex_unlock(&g_proc_mu);
    metrics_free(m);
}

struct metrics *metrics_process(void) { return atomic_load(&g_proc); }

static struct metrics_family *fam(enum metrics_id id)
{
    if ((int)id < 0 || id >= METRICS_ID_COUNT || !atomic_load(&g_proc))
        return NULL;
    return g_fam[id];
}

void metrics_count(enum metrics_id id, const char *label, double delta)
{
    struct metrics_family *f = fam(id);
    if (f)
        metrics_add(f, f->n_labels ? &label : NULL, delta);
}

void metrics_gauge(enum metrics_id id, const char *label, double value)
{
    struct metrics_family *f = fam(id);
    if (f)
        metrics_set(f, f->n_labels ? &label : NULL, value);
}

void metrics_time(enum metrics_id id, const char *label, double seconds)
{
    struct metrics_family *f = fam(id);
    if (f)
        metrics_observe(f, f->n_labels ? &label : NULL, seconds);
}

double metrics_read(enum metrics_id id, const char *label)
{
    struct metrics_family *f = fam(id);
    return f ? metrics_value(f, f->n_labels ? &label : NULL) : 0;
}
