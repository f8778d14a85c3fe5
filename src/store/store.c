/* store.c - backend-independent parts of store.h: values, result sets,
 * dispatch and migrations. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "store/schema.h"

struct sval sv_text(const char *s)
{
    return s ? (struct sval){.type = SV_TEXT, .s = s, .n = strlen(s)} : sv_null();
}

struct sval sv_textn(const char *s, size_t n)
{
    return s ? (struct sval){.type = SV_TEXT, .s = s, .n = n} : sv_null();
}

int64_t sv_as_int(const struct sval *v)
{
    switch (v->type) {
    case SV_INT: return v->i;
    case SV_REAL: return (int64_t)v->d;
    case SV_TEXT: return strtoll(v->s, NULL, 10);
    default: return 0;
    }
}

const char *sv_as_text(const struct sval *v) { return v->type == SV_TEXT ? v->s : NULL; }

void store_rows_free(struct store_rows *r)
{
    if (r->buf) {
        arena_free((struct arena *)r->buf);
        free(r->buf);
    }
    free(r->cells);
    memset(r, 0, sizeof *r);
}

int store_open(const struct db_target *target, struct store **out, struct mlw_err *err)
{
    *out = NULL;
    switch (target->kind) {
    case DB_SQLITE:
        return store_sqlite_open(target->location, out, err);
    case DB_POSTGRES:
        return store_postgres_open(target->location, out, err);
    }
    return mlw_err_set(err, MLW_EINVAL, "unknown database kind");
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

int store_exec(struct store *st, const char *sql, const struct sval *p, int np, int64_t *changes,
               struct mlw_err *err)
{
    return st->ops->exec(st, sql, p, np, changes, err);
}

int store_query(struct store *st, const char *sql, const struct sval *p, int np,
                struct store_rows *out, struct mlw_err *err)
{
    return st->ops->query(st, sql, p, np, out, err);
}

int store_idle_wait(struct store *st, const char *channel, double seconds)
{
    if (channel && *channel && st->ops->wait_notify) {
        struct mlw_err err = {0};
        double t0 = mlw_monotonic();
        int rc = st->ops->wait_notify(st, channel, seconds, &err);
        if (rc >= 0)
            return rc;
        /* The database is unreachable: sleep out the rest; the next batch
         * reports the error. */
        double left = seconds - (mlw_monotonic() - t0);
        if (left > 0)
            signals_sleep(left);
        return 0;
    }
    signals_sleep(seconds);
    return 0;
}

static size_t chunk_rows(size_t left)
{
    return left >= 64 ? 64 : left >= 16 ? 16 : left >= 4 ? 4 : 1;
}

/* "(?, ?, ?)" repeated rows times, comma separated, appended at out. */
static char *append_tuples(char *out, int per_tuple, size_t tuples)
{
    for (size_t r = 0; r < tuples; r++) {
        if (r)
            *out++ = ',';
        *out++ = '(';
        for (int c = 0; c < per_tuple; c++) {
            if (c)
                *out++ = ',';
            *out++ = '?';
        }
        *out++ = ')';
    }
    *out = '\0';
    return out;
}

int store_exec_values(struct store *st, const char *head, const char *tail, int per_row,
                      const struct sval *params, size_t nrows, struct mlw_err *err)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *sql = malloc(hl + tl + 16 + 64 * ((size_t)per_row * 2 + 3));
    if (sql == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc = MLW_OK;
    for (size_t done = 0; done < nrows && rc == MLW_OK;) {
        size_t k = chunk_rows(nrows - done);
        memcpy(sql, head, hl);
        memcpy(sql + hl, " VALUES ", 8);
        char *end = append_tuples(sql + hl + 8, per_row, k);
        memcpy(end, tail, tl + 1);
        rc = store_exec(st, sql, params + done * (size_t)per_row, (int)(k * (size_t)per_row), NULL, err);
        done += k;
    }
    free(sql);
    return rc;
}

int store_exec_in(struct store *st, const char *prefix, const struct sval *fixed, int nfixed,
                  const struct sval *values, size_t n, struct mlw_err *err)
{
    size_t pl = strlen(prefix);
    char *sql = malloc(pl + 8 + 64 * 2);
    struct sval *p = malloc(((size_t)nfixed + 64) * sizeof *p);
    if (sql == NULL || p == NULL) {
        free(sql);
        free(p);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    memcpy(p, fixed, (size_t)nfixed * sizeof *p);
    int rc = MLW_OK;
    for (size_t done = 0; done < n && rc == MLW_OK;) {
        size_t k = chunk_rows(n - done);
        memcpy(sql, prefix, pl);
        sql[pl] = ' ';
        char *o = sql + pl + 1;
        *o++ = '(';
        for (size_t i = 0; i < k; i++) {
            if (i)
                *o++ = ',';
            *o++ = '?';
        }
        *o++ = ')';
        *o = '\0';
        memcpy(p + nfixed, values + done, k * sizeof *p);
        rc = store_exec(st, sql, p, nfixed + (int)k, NULL, err);
        done += k;
    }
    free(sql);
    free(p);
    return rc;
}

int store_begin(struct store *st, struct mlw_err *err) { return st->ops->begin(st, err); }
int store_commit(struct store *st, struct mlw_err *err) { return st->ops->commit(st, err); }
int store_rollback(struct store *st) { return st->ops->rollback(st); }

static const char *dialect_name(enum db_kind k) { return k == DB_POSTGRES ? "postgres" : "sqlite"; }

int store_schema_latest(enum db_kind dialect)
{
    int v = 0;
    for (const struct schema_migration *m = schema_migrations; m->dialect; m++)
        if (!strcmp(m->dialect, dialect_name(dialect)) && m->version > v)
            v = m->version;
    return v;
}

static const char VERSION_TABLE[] =
    "CREATE TABLE IF NOT EXISTS mlw_schema_version ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

int store_schema_version(struct store *st, int *version, struct mlw_err *err)
{
    struct store_rows r = {0};
    *version = 0;
    int rc = store_query(st,
                         st->dialect == DB_SQLITE
                             ? "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='mlw_schema_version'"
                             : "SELECT count(*) FROM information_schema.tables"
                               " WHERE table_name='mlw_schema_version' AND table_schema=current_schema()",
                         NULL, 0, &r, err);
    if (rc)
        return rc;
    int exists = r.nrows && sv_as_int(store_cell(&r, 0, 0)) > 0;
    store_rows_free(&r);
    if (!exists)
        return MLW_OK;
    rc = store_query(st, "SELECT COALESCE(MAX(version), 0) FROM mlw_schema_version", NULL, 0, &r, err);
    if (rc)
        return rc;
    *version = (int)sv_as_int(store_cell(&r, 0, 0));
    store_rows_free(&r);
    return MLW_OK;
}

static int migration_recorded(struct store *st, int version, int *done, struct mlw_err *err)
{
    struct store_rows r = {0};
    struct sval p[1] = {sv_int(version)};
    int rc = store_query(st, "SELECT count(*) FROM mlw_schema_version WHERE version = ?", p, 1, &r,
                         err);
    if (rc)
        return rc;
    *done = r.nrows && sv_as_int(store_cell(&r, 0, 0)) > 0;
    store_rows_free(&r);
    return MLW_OK;
}

int store_migrate(struct store *st, int *applied, struct mlw_err *err)
{
    *applied = 0;
    const char *dialect = dialect_name(st->dialect);
    for (const struct schema_migration *m = schema_migrations; m->dialect; m++) {
        if (strcmp(m->dialect, dialect))
            continue;
        /* One transaction per migration; whether it ran is re-read under
         * the write lock so two workers starting together apply it once.
         * Every migration not recorded yet runs, in file order, even below
         * the highest recorded version: migrations written on parallel
         * branches may land in either order. */
        int rc = store_begin(st, err);
        if (rc)
            return rc;
        int current = 0, done = 0;
        if ((rc = st->ops->script(st, VERSION_TABLE, err)) ||
            (rc = store_schema_version(st, &current, err)) ||
            (current >= m->version && (rc = migration_recorded(st, m->version, &done, err)))) {
            store_rollback(st);
            return rc;
        }
        if (done) {
            store_rollback(st);
            continue;
        }
        char now[MLW_TS_LEN];
        mlw_utc_now_text(now);
        struct sval p[3] = {sv_int(m->version), sv_text(m->name), sv_text(now)};
        if ((rc = st->ops->script(st, m->sql, err)) ||
            (rc = store_exec(st, "INSERT INTO mlw_schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                             p, 3, NULL, err)) ||
            (rc = store_commit(st, err))) {
            store_rollback(st);
            mlw_err_set(err, rc, "migration %s %03d_%s failed", dialect, m->version, m->name);
            return rc;
        }
        (*applied)++;
    }
    return MLW_OK;
}

/* Does the table (or table.column when column != NULL) exist? */
static int schema_has(struct store *st, const char *table, const char *column, int *yes,
                      struct mlw_err *err)
{
    struct store_rows r;
    int rc;
    if (st->dialect == DB_SQLITE) {
        struct sval p[2] = {sv_text(table), sv_text(column)};
        rc = column ? store_query(st, "SELECT count(*) FROM pragma_table_info(?) WHERE name=?", p, 2, &r, err)
                    : store_query(st, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", p, 1,
                                  &r, err);
    } else {
        struct sval p[2] = {sv_text(table), sv_text(column)};
        rc = column ? store_query(st, "SELECT count(*) FROM information_schema.columns WHERE"
                                      " table_schema=current_schema() AND table_name=? AND column_name=?",
                                  p, 2, &r, err)
                    : store_query(st, "SELECT count(*) FROM information_schema.tables WHERE"
                                      " table_schema=current_schema() AND table_name=?",
                                  p, 1, &r, err);
    }
    if (rc)
        return rc;
    *yes = r.nrows && sv_as_int(store_cell(&r, 0, 0)) > 0;
    store_rows_free(&r);
    return MLW_OK;
}

/* Copy the identifier following `key` at p into out; returns the end. */
static const char *ident_after(const char *p, const char *key, char *out, size_t cap)
{
    const char *q = strstr(p, key);
    if (q == NULL)
        return NULL;
    q += strlen(key);
    while (*q == ' ')
        q++;
    size_t n = 0;
    while ((*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
            (*q >= '0' && *q <= '9')) && n + 1 < cap)
        out[n++] = *q++;
    out[n] = '\0';
    return q;
}

int store_migrate_plan(struct store *st, FILE *out, struct mlw_err *err)
{
    int current = 0;
    int rc = store_schema_version(st, &current, err);
    if (rc)
        return rc;
    const char *dialect = dialect_name(st->dialect);
    int pending = 0;
    for (const struct schema_migration *m = schema_migrations; m->dialect; m++) {
        if (strcmp(m->dialect, dialect))
            continue;
        int done = 0; /* recorded? (a lower version may land after a higher one) */
        if (current >= m->version && (rc = migration_recorded(st, m->version, &done, err)))
            return rc;
        if (current >= m->version && done)
            continue;
        pending++;
        fprintf(out, "would apply %s %03d_%s\n", dialect, m->version, m->name);
        /* Tables it creates (or finds and adopts). */
        const char *p = m->sql;
        char table[128], column[128];
        while ((p = ident_after(p, "CREATE TABLE IF NOT EXISTS", table, sizeof table))) {
            int yes = 0;
            if ((rc = schema_has(st, table, NULL, &yes, err)))
                return rc;
            fprintf(out, "  %s table %s\n", yes ? "adopt existing" : "create", table);
        }
        /* Columns it adds to tables that exist. */
        p = m->sql;
        while ((p = ident_after(p, "ALTER TABLE", table, sizeof table))) {
            const char *q = p;
            while (*q == ' ')
                q++;
            if (strncmp(q, "ADD COLUMN IF NOT EXISTS", 24) != 0)
                continue;
            ident_after(q, "ADD COLUMN IF NOT EXISTS", column, sizeof column);
            int has_table = 0, has_col = 0;
            if ((rc = schema_has(st, table, NULL, &has_table, err)))
                return rc;
            if (has_table && (rc = schema_has(st, table, column, &has_col, err)))
                return rc;
            if (has_table && !has_col)
                fprintf(out, "  add column %s.%s\n", table, column);
        }
    }
    if (pending == 0)
        fprintf(out, "nothing to do: schema version %d is current\n", current);
    return pending;
}
