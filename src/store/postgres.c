/*
 * postgres.c - the PostgreSQL backend of store.h, through libpq.
 *
 * Statements are written with '?' placeholders and rewritten to $1..$n
 * once, then prepared on the connection and cached by SQL text. Parameters
 * and results travel as text (the server infers parameter types from
 * context); results are converted to integers/reals by column type.
 *
 * A lost connection (server restart, network drop) is reported as
 * MLW_ETRANSIENT: the caller rolls back and retries the unit of work, and
 * the next statement reconnects with backoff. Serialization failures,
 * deadlocks, lock and statement timeouts are retryable too.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <poll.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "store/store.h"

#define PG_CACHE_MAX 256

/* Type OIDs from pg_type.h (stable across releases). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
       OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

struct pg_stmt {
    size_t len;
    char *sql;     /* the caller's text (with '?') */
    char name[16]; /* prepared statement name on this connection */
};

struct pg_store {
    struct store base;
    PGconn *conn;
    char *conninfo;
    struct pg_stmt cache[PG_CACHE_MAX];
    int ncache;
    int next_id;
    int in_tx;
    char listening[64]; /* channel LISTENed on this session, "" if none */
};

static int retryable_state(const char *state)
{
    if (state == NULL)
        return 0;
    return !strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
           !strcmp(state, "57014") || !strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
           !strcmp(state, "57P02") || !strcmp(state, "57P03") || !strcmp(state, "53300");
}

static void drop_cache(struct pg_store *s)
{
    for (int i = 0; i < s->ncache; i++)
        free(s->cache[i].sql);
    s->ncache = 0;
}

static int pg_connect(struct pg_store *s, struct mlw_err *err)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return MLW_OK;
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
        drop_cache(s); /* prepared statements and LISTEN died with the session */
        s->listening[0] = '\0';
        metrics_count(METRICS_DB_RECONNECTS, NULL, 1);
    }
    s->conn = PQconnectdb(s->conninfo);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        /* libpq messages name host and user, never the password. */
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
        PQfinish(s->conn);
        s->conn = NULL;
        return mlw_err_set(err, MLW_ETRANSIENT, "cannot connect to PostgreSQL: %s", msg);
    }
    PGresult *r = PQexec(s->conn,
                         "SET statement_timeout = '120s'; SET lock_timeout = '60s';"
                         " SET idle_in_transaction_session_timeout = '300s';"
                         /* Tables grow from empty while a worker runs: a
                          * generic plan made on empty statistics would scan
                          * them sequentially forever. Plan each execution. */
                         " SET plan_cache_mode = force_custom_plan;"
                         /* Values arrive as text: dates and timestamps as
                          * 'YYYY-MM-DD[ HH:MM:SS[.f]]' whatever the server's
                          * DateStyle, doubles in their exact shortest form
                          * whatever its extra_float_digits, strings in UTF-8. */
                         " SET datestyle = 'ISO, YMD'; SET extra_float_digits = 3;"
                         " SET client_encoding = 'UTF8';"
                         " SET client_min_messages = warning");
    PQclear(r);
    return MLW_OK;
}

/* '?' outside quotes -> $n. */
static char *rewrite_params(const char *sql)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    int param = 0;
    char quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = sql[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            out[o++] = c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            out[o++] = c;
        } else if (c == '?') {
            o += (size_t)sprintf(out + o, "$%d", ++param);
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

static int result_error(struct pg_store *s, PGresult *r, const char *what, struct mlw_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int lost = PQstatus(s->conn) != CONNECTION_OK;
    int code = lost || retryable_state(state) ? (lost ? MLW_ETRANSIENT : MLW_EBUSY) : MLW_EDB;
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
    char clean[400];
    snprintf(clean, sizeof clean, "%s", msg && *msg ? msg : "unknown error");
    for (char *p = clean; *p; p++)
        if (*p == '\n')
            *p = ' ';
    mlw_err_set(err, code, "postgres %s [%s]: %s", what, state ? state : "-", clean);
    return code;
}

static int prepare(struct pg_store *s, const char *sql, const char **name, struct mlw_err *err)
{
    size_t len = strlen(sql);
    for (int i = 0; i < s->ncache; i++)
        if (s->cache[i].len == len && !memcmp(s->cache[i].sql, sql, len)) {
            *name = s->cache[i].name;
            return MLW_OK;
        }
    if (s->ncache == PG_CACHE_MAX) {
        /* Only generated SQL can fill it; start over (DEALLOCATE ALL). */
        PQclear(PQexec(s->conn, "DEALLOCATE ALL"));
        drop_cache(s);
    }
    char *text = rewrite_params(sql), *copy = strdup(sql);
    if (!text || !copy) {
        free(text);
        free(copy);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    struct pg_stmt *e = &s->cache[s->ncache];
    snprintf(e->name, sizeof e->name, "mlw%d", s->next_id++);
    PGresult *r = PQprepare(s->conn, e->name, text, 0, NULL);
    free(text);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        int rc = result_error(s, r, "prepare", err);
        PQclear(r);
        free(copy);
        return rc;
    }
    PQclear(r);
    e->len = len;
    e->sql = copy;
    s->ncache++;
    *name = e->name;
    return MLW_OK;
}

/* Run a prepared statement with text parameters. */
static int run(struct pg_store *s, const char *sql, const struct sval *p, int np, PGresult **out,
               struct mlw_err *err)
{
    *out = NULL;
    int rc = pg_connect(s, err);
    if (rc)
        return rc;
    if (s->in_tx < 0) /* reconnected mid-transaction: the unit of work is gone */
        return mlw_err_set(err, MLW_ETRANSIENT, "postgres: connection lost inside a transaction");
    const char *name = NULL;
    if ((rc = prepare(s, sql, &name, err)))
        return rc;
    /* Text parameters: numbers are printed into one scratch buffer. */
    const char *small_vals[64];
    char small_nums[64 * 32];
    const char **vals = small_vals;
    char *nums = small_nums;
    if (np > 64) {
        vals = malloc((size_t)np * sizeof *vals);
        nums = malloc((size_t)np * 32);
        if (vals == NULL || nums == NULL) {
            free(vals);
            free(nums);
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; i < np; i++) {
        char *num = nums + (size_t)i * 32;
        switch (p[i].type) {
        case SV_NULL: vals[i] = NULL; break;
        case SV_INT: snprintf(num, 32, "%lld", (long long)p[i].i); vals[i] = num; break;
        case SV_REAL:
            if (isnan(p[i].d))
                vals[i] = "NaN";
            else if (isinf(p[i].d))
                vals[i] = p[i].d > 0 ? "Infinity" : "-Infinity";
            else {
                snprintf(num, 32, "%.17g", p[i].d);
                vals[i] = num;
            }
            break;
        case SV_TEXT: vals[i] = p[i].s; break; /* NUL-terminated by construction */
        }
    }
    PGresult *r = PQexecPrepared(s->conn, name, np, vals, NULL, NULL, 0);
    if (vals != small_vals) {
        free(vals);
        free(nums);
    }
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = result_error(s, r, "statement", err);
        PQclear(r);
        if (PQstatus(s->conn) != CONNECTION_OK && s->in_tx > 0)
            s->in_tx = -1;
        return rc;
    }
    *out = r;
    return MLW_OK;
}

static int pg_exec(struct store *st, const char *sql, const struct sval *p, int np,
                   int64_t *changes, struct mlw_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    PGresult *r;
    int rc = run(s, sql, p, np, &r, err);
    if (rc)
        return rc;
    if (changes) {
        const char *t = PQcmdTuples(r);
        *changes = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(r);
    return MLW_OK;
}

static int pg_query(struct store *st, const char *sql, const struct sval *p, int np,
                    struct store_rows *out, struct mlw_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    memset(out, 0, sizeof *out);
    PGresult *r;
    int rc = run(s, sql, p, np, &r, err);
    if (rc)
        return rc;
    int nr = PQntuples(r), nc = PQnfields(r);
    struct arena *a = malloc(sizeof *a);
    out->cells = malloc(((size_t)nr * (size_t)nc + 1) * sizeof *out->cells);
    if (a == NULL || out->cells == NULL) {
        free(a);
        free(out->cells);
        out->cells = NULL;
        PQclear(r);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    arena_init(a, 16 * 1024);
    out->buf = (struct store_rowbuf *)a;
    out->ncols = nc;
    out->nrows = (size_t)nr;
    for (int c = 0; c < nc; c++) {
        Oid t = PQftype(r, c);
        for (int i = 0; i < nr; i++) {
            struct sval *v = &out->cells[(size_t)i * (size_t)nc + (size_t)c];
            if (PQgetisnull(r, i, c)) {
                *v = sv_null();
                continue;
            }
            const char *txt = PQgetvalue(r, i, c);
            if (t == OID_INT2 || t == OID_INT4 || t == OID_INT8 || t == OID_OID) {
                *v = sv_int(strtoll(txt, NULL, 10));
            } else if (t == OID_BOOL) {
                *v = sv_int(txt[0] == 't');
            } else if (t == OID_FLOAT4 || t == OID_FLOAT8 || t == OID_NUMERIC) {
                *v = sv_real(strtod(txt, NULL)); /* accepts NaN, Infinity */
            } else {
                int len = PQgetlength(r, i, c);
                char *copy = arena_strndup(a, txt, (size_t)len);
                if (copy == NULL) {
                    PQclear(r);
                    store_rows_free(out);
                    return mlw_err_set(err, MLW_ENOMEM, "out of memory");
                }
                *v = sv_textn(copy, (size_t)len);
            }
        }
    }
    PQclear(r);
    return MLW_OK;
}

static int pg_script(struct store *st, const char *sql, struct mlw_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    int rc = pg_connect(s, err);
    if (rc)
        return rc;
    PGresult *r = PQexec(s->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = result_error(s, r, "script", err);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    return MLW_OK;
}

static int pg_begin(struct store *st, struct mlw_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    s->in_tx = 0;
    int rc = pg_exec(st, "BEGIN", NULL, 0, NULL, err);
    if (rc == MLW_OK)
        s->in_tx = 1;
    return rc;
}

static int pg_commit(struct store *st, struct mlw_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    if (s->in_tx < 0)
        return mlw_err_set(err, MLW_ETRANSIENT, "postgres: connection lost inside a transaction");
    int rc = pg_exec(st, "COMMIT", NULL, 0, NULL, err);
    s->in_tx = 0;
    return rc;
}

static int pg_rollback(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    int was = s->in_tx;
    s->in_tx = 0;
    if (was <= 0 || s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK)
        return MLW_OK;
    PQclear(PQexec(s->conn, "ROLLBACK"));
    return MLW_OK;
}

static void pg_close(struct store *st)
{
    struct pg_store *s = (struct pg_store *)st;
    if (s->conn)
        PQfinish(s->conn);
    drop_cache(s);
    free(s->conninfo);
    free(s);
}

/* Channel names are identifiers: letters, digits, underscore. */
static int valid_channel(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= 'A' && c[i] <= 'Z') || c[i] == '_' ||
              (i > 0 && c[i] >= '0' && c[i] <= '9')))
            return 0;
    return 1;
}

static int pg_wait_notify(struct store *st, const char *channel, double seconds, struct mlw_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    if (!valid_channel(channel))
        return mlw_err_set(err, MLW_EINVAL, "invalid notification channel name");
    int rc = pg_connect(s, err);
    if (rc)
        return rc;
    if (strcmp(s->listening, channel)) {
        char sql[96];
        snprintf(sql, sizeof sql, "LISTEN \"%s\"", channel);
        if ((rc = pg_script(st, sql, err)))
            return rc;
        snprintf(s->listening, sizeof s->listening, "%s", channel);
    }
    double end = mlw_monotonic() + seconds;
    for (;;) {
        int got = 0;
        if (!PQconsumeInput(s->conn))
            return mlw_err_set(err, MLW_ETRANSIENT, "postgres: connection lost while waiting");
        PGnotify *n;
        while ((n = PQnotifies(s->conn)) != NULL) {
            got = 1;
            PQfreemem(n);
        }
        if (got)
            return 1;
        double left = end - mlw_monotonic();
        if (left <= 0 || signals_stop_requested())
            return 0;
        struct pollfd p[2] = {{.fd = PQsocket(s->conn), .events = POLLIN},
                              {.fd = signals_wake_fd(), .events = POLLIN}};
        poll(p, p[1].fd >= 0 ? 2 : 1, (int)(left * 1000.0) + 1);
    }
}

static const struct store_ops postgres_ops = {
    "postgres", pg_exec, pg_query, pg_script, pg_begin, pg_commit, pg_rollback, pg_close,
    pg_wait_notify,
};

int store_postgres_open(const char *conninfo, struct store **out, struct mlw_err *err)
{
    *out = NULL;
    struct pg_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conninfo = strdup(conninfo)) == NULL) {
        free(s);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    s->base.ops = &postgres_ops;
    s->base.dialect = DB_POSTGRES;
    int rc = pg_connect(s, err);
    if (rc) {
        pg_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return MLW_OK;
}
