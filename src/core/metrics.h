/*
 * metrics.h - a small thread-safe metrics registry with Prometheus text
 * exposition (format 0.0.4).
 *
 * Three kinds of metric families: counters (only go up), gauges (set or
 * add) and histograms (fixed bucket upper bounds chosen at registration;
 * +Inf is implicit). A family may have up to METRICS_MAX_LABELS label
 * names; each distinct tuple of label values is a child, created on first
 * use (at most METRICS_MAX_CHILDREN per family; updates of further tuples
 * are dropped and counted in metrics_dropped()).
 *
 * No I/O here: callers put numbers in, metrics_render() writes text into
 * memory, and the HTTP layer (http/health.c) serves it and samples what
 * must be read at scrape time (process RSS).
 *
 *   struct metrics *m;
 *   struct metrics_family *rows;
 *   static const char *const dom[] = {"domain"};
 *   metrics_init(&m, &err);
 *   metrics_register(m, METRICS_COUNTER, "mlworker_rows_processed_total", "Rows done.",
 *                    dom, 1, NULL, 0, &rows, &err);
 *   metrics_add(rows, (const char *[]){"vitals"}, 100);
 *   metrics_render(m, &text, &len, &err);   // "# HELP ...\n# TYPE ...\n..._total{domain=\"vitals\"} 100\n"
 *
 * Besides the generic registry, this module owns the process's registry
 * with the worker's own metric families (enum metrics_id), so that callers
 * anywhere instrument with one line: metrics_count(METRICS_ROWS_PROCESSED,
 * "vitals", n). Every such call is a no-op until metrics_process_init().
 *
 * Thread: every function may be called from any thread (one mutex per
 * registry). Label values and help texts never hold secrets: callers pass
 * job types, domain names and thread names only.
 */
#ifndef MLW_METRICS_H
#define MLW_METRICS_H

#include <stddef.h>

#include "core/err.h"

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_CHILDREN 128
#define METRICS_MAX_BUCKETS 32
#define METRICS_MAX_LABEL_VALUE 128 /* bytes; longer values are cut */

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics;        /* a registry */
struct metrics_family; /* one metric name; owned by its registry */

/* A new empty registry. Returns MLW_OK or MLW_ENOMEM. */
int metrics_init(struct metrics **out, struct mlw_err *err);
/* Frees the registry and every family in it. NULL is fine. */
void metrics_free(struct metrics *m);

/*
 * Register a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new in
 * m; label names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", not "le"
 * for a histogram. Histograms take n_buckets (1..METRICS_MAX_BUCKETS)
 * finite, strictly increasing upper bounds; other types pass NULL, 0.
 * help is copied. Returns MLW_OK and *out (owned by m), MLW_EINVAL with the
 * reason, or MLW_ENOMEM.
 */
int metrics_register(struct metrics *m, enum metrics_type type, const char *name,
                     const char *help, const char *const *label_names, int n_labels,
                     const double *buckets, int n_buckets,
                     struct metrics_family **out,   /* OUT: the family */
                     struct mlw_err *err);          /* OUT: may be NULL */

/*
 * Updates. label_values holds the family's n_labels strings (NULL when it
 * has none; a NULL value counts as ""). metrics_set on a counter is for
 * totals kept elsewhere (process CPU time) and may not lower it. Returns
 * MLW_OK, MLW_EINVAL (wrong kind: add or set on a histogram, observe on a
 * counter or gauge, a negative or NaN counter delta, a counter set lower,
 * a NaN observation) or MLW_ENOMEM / MLW_EBUSY when a new child could not
 * be made (the update is dropped and counted). f may be NULL (no-op).
 */
int metrics_add(struct metrics_family *f, const char *const *label_values, double delta);
int metrics_set(struct metrics_family *f, const char *const *label_values, double value);
int metrics_observe(struct metrics_family *f, const char *const *label_values, double value);

/* Current value of a counter or gauge child (0 if it does not exist);
 * a histogram child's sample count. For tests and the HTTP layer. */
double metrics_value(struct metrics_family *f, const char *const *label_values);

/* Updates dropped so far (too many children, or out of memory). */
long long metrics_dropped(struct metrics *m);

/*
 * Render every family in registration order, children in creation order,
 * as Prometheus text format 0.0.4: "# HELP", "# TYPE", then one line per
 * sample; histograms as cumulative _bucket{le=...} lines ending with
 * le="+Inf", then _sum and _count. Label values are escaped (\\, \", \n)
 * and invalid UTF-8 bytes become '?'. A family with no children and no
 * labels renders one sample of 0 (histograms: all-zero buckets), so every
 * metric is visible from the first scrape. *out is malloc'd text, NUL
 * terminated (caller frees with free()); *len its length.
 */
int metrics_render(struct metrics *m, char **out, size_t *len, struct mlw_err *err);

/* Shortest text that reads back as v ("+Inf", "-Inf", "NaN" for the
 * specials), as Prometheus writes values. buf: at least 32 bytes. */
void metrics_format_double(double v, char *buf, size_t cap);

/* ---- the process's registry: the worker's own metrics ---- */

enum metrics_id {
    METRICS_MSG_RECEIVED,     /* counter {job_type}: SQS messages received */
    METRICS_MSG_DELETED,      /* counter {job_type}: deleted after their work committed */
    METRICS_MSG_FAILED,       /* counter {job_type}: left for redelivery / redrive */
    METRICS_JOB_SECONDS,      /* histogram {job_type}: handling time of one message */
    METRICS_ROWS_PROCESSED,   /* counter {domain}: raw rows categorized / completed */
    METRICS_ROWS_FAILED,      /* counter {domain}: raw rows marked failed (bad data) */
    METRICS_BATCH_SECONDS,    /* histogram {domain}: one batch transaction, rows > 0 */
    METRICS_BATCH_ERRORS,     /* counter: batches rolled back by a database error */
    METRICS_CLAIMS_RECLAIMED, /* counter {domain}: stale 'processing' rows taken back */
    METRICS_DB_RETRIES,       /* counter {domain}: batch attempts retried (locks, lost link) */
    METRICS_DB_RECONNECTS,    /* counter: lost database connections re-opened */
    METRICS_QUEUE_MESSAGES,   /* gauge {state}: sampled SQS depth: visible, in_flight, delayed */
    METRICS_QUEUE_SAMPLE_TIME,/* gauge: unix time of the last successful depth sample */
    METRICS_MODEL_SECONDS,    /* histogram: one model inference call */
    METRICS_THREAD_AGE,       /* gauge {thread}: seconds since the thread last reported */
    METRICS_THREAD_HEALTHY,   /* gauge {thread}: 1 within its deadline, else 0 */
    METRICS_RSS_BYTES,        /* gauge: process_resident_memory_bytes (set at scrape) */
    METRICS_VSZ_BYTES,        /* gauge: process_virtual_memory_bytes (set at scrape) */
    METRICS_CPU_SECONDS,      /* counter: process_cpu_seconds_total (set at scrape) */
    METRICS_START_TIME,       /* gauge: process_start_time_seconds */
    METRICS_BUILD_INFO,       /* gauge {version, mode}: always 1 */
    METRICS_LAB_ML,           /* counter {result}: ML decisions on unresolved lab names */
    METRICS_LLM_CALLS,        /* counter {outcome}: LOINC reranker calls */
    METRICS_ID_COUNT
};

/*
 * Create the process registry with every family above. version and mode go
 * into mlworker_build_info; start_unix is the process start (unix seconds).
 * Idempotent (a second call returns MLW_OK). Call before starting threads.
 */
int metrics_process_init(const char *version, const char *mode, double start_unix,
                         struct mlw_err *err);
/* Drop the process registry (after every thread that reports has ended). */
void metrics_process_free(void);
/* The process registry, or NULL before metrics_process_init(). */
struct metrics *metrics_process(void);

/* One-line instrumentation of the families above; label is the family's
 * single label value (NULL for families without labels). No-ops before
 * metrics_process_init(). metrics_count on a counter adds, on a gauge adds;
 * metrics_gauge sets (counters too: for totals sampled from elsewhere, such
 * as process CPU time); metrics_time observes into a histogram. */
void metrics_count(enum metrics_id id, const char *label, double delta);
void metrics_gauge(enum metrics_id id, const char *label, double value);
void metrics_time(enum metrics_id id, const char *label, double seconds);
/* Value of a family child of the process registry (tests). */
double metrics_read(enum metrics_id id, const char *label);

#endif
