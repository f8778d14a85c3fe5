/*
 * sqlite.c - the embedded SQLite backend of store.h.
 *
 * WAL mode so readers never block the writer; a busy timeout so several
 * worker processes can share one file; BEGIN IMMEDIATE so a transaction
 * takes the write lock up front (no lock-upgrade deadlocks). Prepared
 * statements are cached per connection, keyed by the SQL text.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "store/store.h"

#define STMT_CACHE_MAX 128

struct cached_stmt {
    size_t len;      /* keyed by the SQL text (callers may pass stack buffers) */
    char *sql;
    sqlite3_stmt *stmt;
};

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    char *path;
    struct cached_stmt cache[STMT_CACHE_MAX];
    int ncache;
};

static int map_rc(struct sqlite_store *s, int rc, const char *what, struct mlw_err *err)
{
    int code = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? MLW_EBUSY : MLW_EDB;
    return mlw_err_set(err, code, "sqlite %s: %s", what, sqlite3_errmsg(s->db));
}

static int prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **out, struct mlw_err *err)
{
    size_t len = strlen(sql);
    for (int i = 0; i < s->ncache; i++)
        if (s->cache[i].len == len && !memcmp(s->cache[i].sql, sql, len)) {
            *out = s->cache[i].stmt;
            return MLW_OK;
        }
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return map_rc(s, rc, "prepare", err);
    if (s->ncache == STMT_CACHE_MAX) {
        /* Full: evict the oldest. Callers use a fixed set of statements, so
         * this only happens with generated SQL. */
        sqlite3_finalize(s->cache[0].stmt);
        free(s->cache[0].sql);
        memmove(s->cache, s->cache + 1, sizeof s->cache[0] * (STMT_CACHE_MAX - 1));
        s->ncache--;
    }
    char *copy = strdup(sql);
    if (copy == NULL) {
        sqlite3_finalize(stmt);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    s->cache[s->ncache++] = (struct cached_stmt){len, copy, stmt};
    *out = stmt;
    return MLW_OK;
}

static int bind(struct sqlite_store *s, sqlite3_stmt *stmt, const struct sval *p, int np,
                struct mlw_err *err)
{
    if (np != sqlite3_bind_parameter_count(stmt))
        return mlw_err_set(err, MLW_EINVAL, "sqlite: statement wants %d parameters, got %d",
                           sqlite3_bind_parameter_count(stmt), np);
    for (int i = 0; i < np; i++) {
        int rc;
        switch (p[i].type) {
        case SV_INT: rc = sqlite3_bind_int64(stmt, i + 1, p[i].i); break;
        case SV_REAL: rc = sqlite3_bind_double(stmt, i + 1, p[i].d); break;
        case SV_TEXT: rc = sqlite3_bind_text64(stmt, i + 1, p[i].s, p[i].n, SQLITE_STATIC, SQLITE_UTF8); break;
        default: rc = sqlite3_bind_null(stmt, i + 1); break;
        }
        if (rc != SQLITE_OK)
            return map_rc(s, rc, "bind", err);
    }
    return MLW_OK;
}

static int sq_exec(struct store *st, const char *sql, const struct sval *p, int np,
                   int64_t *changes, struct mlw_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *stmt;
    int rc = prepare(s, sql, &stmt, err);
    if (rc)
        return rc;
    if ((rc = bind(s, stmt, p, np, err)) == MLW_OK) {
        int step;
        while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
            ;
        if (step != SQLITE_DONE)
            rc = map_rc(s, step, "exec", err);
        else if (changes)
            *changes = sqlite3_changes64(s->db);
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

static int sq_query(struct store *st, const char *sql, const struct sval *p, int np,
                    struct store_rows *out, struct mlw_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *stmt;
    int rc = prepare(s, sql, &stmt, err);
    if (rc)
        return rc;
    if ((rc = bind(s, stmt, p, np, err)) != MLW_OK)
        goto done;
    struct arena *a = malloc(sizeof *a);
    if (a == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto done;
    }
    arena_init(a, 16 * 1024);
    out->buf = (struct store_rowbuf *)a;
    out->ncols = sqlite3_column_count(stmt);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (out->nrows == cap) {
            cap = cap ? cap * 2 : 16;
            struct sval *cells = realloc(out->cells, cap * (size_t)out->ncols * sizeof *cells);
            if (cells == NULL) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                goto done;
            }
            out->cells = cells;
        }
        struct sval *row = out->cells + out->nrows * (size_t)out->ncols;
        for (int c = 0; c < out->ncols; c++) {
            switch (sqlite3_column_type(stmt, c)) {
            case SQLITE_INTEGER: row[c] = sv_int(sqlite3_column_int64(stmt, c)); break;
            case SQLITE_FLOAT: row[c] = sv_real(sqlite3_column_double(stmt, c)); break;
            case SQLITE_NULL: row[c] = sv_null(); break;
            default: {
                /* TEXT, and BLOB read as bytes: hostile rows may hold either. */
                const void *src = sqlite3_column_type(stmt, c) == SQLITE_BLOB
                                      ? sqlite3_column_blob(stmt, c)
                                      : (const void *)sqlite3_column_text(stmt, c);
                int n = sqlite3_column_bytes(stmt, c);
                char *txt = arena_strndup(a, src ? src : "", src ? (size_t)n : 0);
                if (txt == NULL) {
                    rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                    goto done;
                }
                row[c] = sv_textn(txt, (size_t)n);
            }
            }
        }
        out->nrows++;
    }
    if (step != SQLITE_DONE)
        rc = map_rc(s, step, "query", err);
done:
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc)
        store_rows_free(out);
    return rc;
}

static int sq_script(struct store *st, const char *sql, struct mlw_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = (rc & 0xff) == SQLITE_BUSY ? MLW_EBUSY : MLW_EDB;
        mlw_err_set(err, code, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return code;
    }
    return MLW_OK;
}

static int sq_begin(struct store *st, struct mlw_err *err)
{
    return sq_exec(st, "BEGIN IMMEDIATE", NULL, 0, NULL, err);
}

static int sq_commit(struct store *st, struct mlw_err *err)
{
    return sq_exec(st, "COMMIT", NULL, 0, NULL, err);
}

static int sq_rollback(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (sqlite3_get_autocommit(s->db))
        return MLW_OK; /* nothing open (SQLite may have rolled back itself) */
    return sq_exec(st, "ROLLBACK", NULL, 0, NULL, NULL);
}

static void sq_close(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    for (int i = 0; i < s->ncache; i++) {
        sqlite3_finalize(s->cache[i].stmt);
        free(s->cache[i].sql);
    }
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const struct store_ops sqlite_ops = {
    "sqlite", sq_exec, sq_query, sq_script, sq_begin, sq_commit, sq_rollback, sq_close, NULL,
};

int store_sqlite_open(const char *path, struct store **out, struct mlw_err *err)
{
    *out = NULL;
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    s->base.ops = &sqlite_ops;
    s->base.dialect = DB_SQLITE;
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        mlw_err_set(err, MLW_EIO, "cannot open SQLite database '%s': %s", path,
                    s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sqlite3_close(s->db);
        free(s->path);
        free(s);
        return MLW_EIO;
    }
    sqlite3_busy_timeout(s->db, 30000);
    sqlite3_extended_result_codes(s->db, 1);
    /* WAL survives process crashes (kill -9) with synchronous=NORMAL; FULL
     * would add an fsync per commit for power-loss durability. */
    rc = sq_script(&s->base,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"
                   "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;",
                   err);
    if (rc) {
        mlw_err_set(err, rc, "cannot use SQLite database '%s'", path);
        sq_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return MLW_OK;
}
