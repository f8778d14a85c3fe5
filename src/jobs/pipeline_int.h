/*
 * pipeline_int.h - shared between pipeline.c (claims, groups, retries) and
 * the per-domain group processors vitals_job.c and nutrition_job.c.
 */
#ifndef MLW_PIPELINE_INT_H
#define MLW_PIPELINE_INT_H

#include "core/arena.h"
#include "core/timeutil.h"
#include "jobs/pipeline.h"

/* The rows of one user in one batch. */
struct group {
    int64_t user_id;
    size_t *rows;   /* indexes into the batch's rows, ordered by id */
    size_t n;
};

/* A small set of days (days, weeks or months touched by a group). */
struct dayset {
    mlw_day *d;
    size_t n, cap;
};
int dayset_init(struct dayset *s, struct arena *a, size_t cap);
void dayset_add(struct dayset *s, mlw_day d); /* ignores additions beyond cap */
void dayset_sort(struct dayset *s);

struct domain_ops {
    const char *name;
    const char *table;
    /* The raw table's status column; NULL means aggregation_status (labs:
     * categorization_status). */
    const char *status_column;
    /* Column stamped when a row finishes successfully; NULL means
     * aggregated_at, "" none (lab_reports has no such column). */
    const char *finished_at_column;
    const char *select_sql;      /* params: limit; returns id, user_id, ... of pending rows;
                                  * the raw table is aliased r */
    const char *select_user_sql; /* params: user, limit */
    /* Process one group inside an open transaction. Returns MLW_OK or an
     * error (the caller rolls back). */
    /* Called as each batch's transaction begins, before its groups; may be
     * NULL (labs: starts the reranker's per-batch time budget). */
    void (*begin_batch)(void);
    int (*process_group)(struct store *st, const struct store_rows *rows,
                         const struct group *g, struct arena *a, struct pipeline_stats *gs,
                         struct mlw_err *err);
};

extern const struct domain_ops vitals_domain;
extern const struct domain_ops nutrition_domain;
extern const struct domain_ops labs_domain;

/* Set a batch row's final status. Returns 1 if the row was still pending
 * (updated), 0 if it changed meanwhile, or a negative error. */
int pipeline_finish_row(struct store *st, const char *table, int64_t id, const char *status,
                        const char *failure_reason, struct mlw_err *err);

/* Replace helper: delete the rows of table in scope whose key is not among
 * keep (sorted array of NUL-terminated strings). select_sql returns
 * (id, key text) of the rows in scope. */
int pipeline_delete_stale(struct store *st, const char *select_sql, const char *delete_sql,
                          const struct sval *scope, int nscope, char **keep, size_t nkeep,
                          struct mlw_err *err);
int pipeline_cmp_str(const void *a, const void *b); /* for qsort of char* arrays */

/*
 * Limits on the text read from the raw tables, in characters. A raw row
 * with a longer value is 'failed' with a reason naming the column; the
 * batch queries read at most limit + 1 characters of each such column
 * (PIPELINE_CAP_*), so one batch holds at most batch_size rows of bounded
 * size whatever the table holds.
 *   names: metric types, units, sources, devices, test names and values,
 *          categories, lab names, meal types          1024
 *   text:  notes, addresses, methodologies, raw lab text  16384
 */
#define PIPELINE_MAX_NAME_CHARS 1024
#define PIPELINE_MAX_TEXT_CHARS 16384
/* SELECT expressions reading at most limit + 1 characters of col (NULL and
 * short values unchanged, types included). */
#define PIPELINE_CAP_NAME(col)                                                               \
    "CASE WHEN length(" col ") > 1024 THEN substr(" col ", 1, 1025) ELSE " col " END"
#define PIPELINE_CAP_TEXT(col)                                                               \
    "CASE WHEN length(" col ") > 16384 THEN substr(" col ", 1, 16385) ELSE " col " END"

/* One text column of a batch row and its limit. */
struct pipeline_text_col {
    int col;
    const char *name;
    size_t max_chars;
};

/* Is any of the n columns of row i longer than its limit? 0, or -1 with
 * why ("notes is longer than 16384 characters"). Non-text cells pass. */
int pipeline_check_text(const struct store_rows *c, size_t i, const struct pipeline_text_col *cols,
                        size_t n, char *why, size_t why_len);

/* Text of a value for failure reasons: clipped and printable. */
void pipeline_describe(const struct sval *v, char *out, size_t cap);

#endif
