/*
 * store.h - the database behind one small interface.
 *
 * Pipelines speak SQL through this interface; each backend (sqlite.c now,
 * postgres.c later) implements the same table of operations. SQL uses '?'
 * placeholders (the PostgreSQL backend rewrites them to $n), and the
 * statements are written in the common subset of both dialects; the few
 * places that differ ask store->dialect.
 *
 * Values cross the interface as struct sval (NULL, integer, real, text).
 * Query results are materialized into a store_rows whose strings live
 * until store_rows_free(). A store is used by one thread at a time.
 *
 * Errors: MLW_EBUSY and MLW_ETRANSIENT mean "retry the unit of work"
 * (lock contention, lost connection); MLW_EDB means the statement itself
 * failed.
 */
#ifndef MLW_STORE_H
#define MLW_STORE_H

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

enum sval_type { SV_NULL, SV_INT, SV_REAL, SV_TEXT };

struct sval {
    enum sval_type type;
    int64_t i;
    double d;
    const char *s; /* SV_TEXT: not necessarily NUL-free; n bytes */
    size_t n;
};

static inline struct sval sv_null(void) { return (struct sval){.type = SV_NULL}; }
static inline struct sval sv_int(int64_t i) { return (struct sval){.type = SV_INT, .i = i}; }
static inline struct sval sv_real(double d) { return (struct sval){.type = SV_REAL, .d = d}; }
struct sval sv_text(const char *s);             /* NULL pointer -> SV_NULL */
struct sval sv_textn(const char *s, size_t n);

struct store_rows {
    int ncols;
    size_t nrows;
    struct sval *cells;       /* nrows * ncols, row-major */
    struct store_rowbuf *buf; /* owns the text */
};

static inline const struct sval *store_cell(const struct store_rows *r, size_t row, int col)
{
    assert(row < r->nrows && col >= 0 && col < r->ncols);
    return &r->cells[row * (size_t)r->ncols + (size_t)col];
}
void store_rows_free(struct store_rows *r);

/* Value accessors with conversions; text is always NUL-terminated. */
int64_t sv_as_int(const struct sval *v);        /* 0 for NULL/non-numeric text */
const char *sv_as_text(const struct sval *v);   /* NULL for SV_NULL; numbers are not converted */

struct store;

struct store_ops {
    const char *name;
    /* Run a statement; *changes (may be NULL) gets the affected row count. */
    int (*exec)(struct store *st, const char *sql, const struct sval *params, int nparams,
                int64_t *changes, struct mlw_err *err);
    /* Run a statement that returns rows (SELECT or ... RETURNING). */
    int (*query)(struct store *st, const char *sql, const struct sval *params, int nparams,
                 struct store_rows *out, struct mlw_err *err);
    /* Run several ';'-separated statements without parameters. */
    int (*script)(struct store *st, const char *sql, struct mlw_err *err);
    /* A write transaction: SQLite takes the write lock at begin. */
    int (*begin)(struct store *st, struct mlw_err *err);
    int (*commit)(struct store *st, struct mlw_err *err);
    int (*rollback)(struct store *st);
    void (*close)(struct store *st);
    /* Optional (NULL: not supported): wait up to seconds for a notification
     * on channel (LISTENing first if needed) or a stop request. Returns 1 if
     * notified, 0 on timeout or stop. */
    int (*wait_notify)(struct store *st, const char *channel, double seconds, struct mlw_err *err);
};

struct store {
    const struct store_ops *ops;
    enum db_kind dialect;
    char worker_id[96];   /* claim owner name: host:pid:thread */
};

/* Open the database named by target (does not create the schema). */
int store_open(const struct db_target *target, struct store **out, struct mlw_err *err);
void store_close(struct store *st);

/* Thin wrappers over ops. */
int store_exec(struct store *st, const char *sql, const struct sval *p, int np, int64_t *changes,
               struct mlw_err *err);
int store_query(struct store *st, const char *sql, const struct sval *p, int np,
                struct store_rows *out, struct mlw_err *err);
int store_begin(struct store *st, struct mlw_err *err);
int store_commit(struct store *st, struct mlw_err *err);
int store_rollback(struct store *st);

/* Many rows in few statements. `head` is an INSERT up to its column list,
 * `tail` what follows VALUES (ON CONFLICT ...); each row has per_row
 * parameters. Rows go in chunks of 64/16/4/1, so at most four statement
 * shapes are prepared. Rows of one call must not conflict with each other. */
int store_exec_values(struct store *st, const char *head, const char *tail, int per_row,
                      const struct sval *params, size_t nrows, struct mlw_err *err);
/* `prefix` "(?, ?, ...)" for the values in chunks, each statement getting
 * the nfixed parameters first: e.g. "UPDATE t SET a=? WHERE id IN". */
int store_exec_in(struct store *st, const char *prefix, const struct sval *fixed, int nfixed,
                  const struct sval *values, size_t n, struct mlw_err *err);

/* Idle wait: a database notification on channel (PostgreSQL LISTEN/NOTIFY,
 * when channel is set and the backend supports it), a stop request, or the
 * timeout, whichever comes first. */
int store_idle_wait(struct store *st, const char *channel, double seconds);

/* Is this status worth retrying the whole unit of work? */
static inline int store_is_retryable(int rc) { return rc == MLW_EBUSY || rc == MLW_ETRANSIENT; }

/* Schema: apply pending migrations (idempotent). *applied gets how many ran. */
int store_migrate(struct store *st, int *applied, struct mlw_err *err);
/* Current schema version (0 = empty database) and the version this binary knows. */
int store_schema_version(struct store *st, int *version, struct mlw_err *err);
int store_schema_latest(enum db_kind dialect);
/* What store_migrate would do, written to out as lines: each pending
 * migration, the tables it would create, the existing tables it would adopt
 * and the columns it would add to them. Reads only. Returns the number of
 * pending migrations, or a negative error. */
int store_migrate_plan(struct store *st, FILE *out, struct mlw_err *err);

/* Backends. */
int store_sqlite_open(const char *path, struct store **out, struct mlw_err *err);
int store_postgres_open(const char *conninfo, struct store **out, struct mlw_err *err);

#endif
