/* cmd_status.c - `mlworker status`: is the worker keeping up? */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "core/config.h"
#include "ops/status.h"
#include "queue/queue.h"

static const char *env(const char *name) { return getenv(name); }

static void fmt_age(double s, char *out, size_t cap)
{
    if (s < 0)
        snprintf(out, cap, "-");
    else if (s < 120)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 7200)
        snprintf(out, cap, "%.0fm", s / 60);
    else if (s < 172800)
        snprintf(out, cap, "%.1fh", s / 3600);
    else
        snprintf(out, cap, "%.1fd", s / 86400);
}

/* The status as one JSON object (cJSON escapes every string). NULL: out of memory. */
static char *status_json(const char *database, const struct ops_status *s, const struct queue *q,
                         const char *qerr, const struct queue_depth *qd)
{
    cJSON *o = cJSON_CreateObject(), *doms = NULL, *qo = NULL;
    int ok = o && cJSON_AddStringToObject(o, "database", database) &&
             cJSON_AddNumberToObject(o, "schema_version", s->schema_version) &&
             cJSON_AddNumberToObject(o, "schema_latest", s->schema_latest) &&
             cJSON_AddNumberToObject(o, "pending_migrations", s->pending_migrations) &&
             (doms = cJSON_AddObjectToObject(o, "domains"));
    for (int d = 0; ok && d < 3; d++) {
        const struct ops_domain_status *x = &s->d[d];
        if (!x->available)
            continue;
        cJSON *j = cJSON_AddObjectToObject(doms, x->name);
        ok = j && cJSON_AddNumberToObject(j, "pending", (double)x->pending) &&
             cJSON_AddNumberToObject(j, "processing", (double)x->processing) &&
             cJSON_AddNumberToObject(j, "failed", (double)x->failed) &&
             cJSON_AddNumberToObject(j, "completed", (double)x->completed) &&
             (x->oldest_pending_age < 0
                  ? cJSON_AddNullToObject(j, "oldest_pending_age_s") != NULL
                  : cJSON_AddNumberToObject(j, "oldest_pending_age_s",
                                            round(x->oldest_pending_age)) != NULL);
    }
    if (ok && !q && !qerr[0])
        ok = cJSON_AddNullToObject(o, "queue") != NULL;
    else if (ok && qerr[0])
        ok = (qo = cJSON_AddObjectToObject(o, "queue")) &&
             cJSON_AddStringToObject(qo, "error", "see stderr");
    else if (ok)
        ok = (qo = cJSON_AddObjectToObject(o, "queue")) &&
             cJSON_AddNumberToObject(qo, "visible", (double)qd->visible) &&
             cJSON_AddNumberToObject(qo, "in_flight", (double)qd->in_flight) &&
             cJSON_AddNumberToObject(qo, "delayed", (double)qd->delayed) &&
             cJSON_AddNumberToObject(qo, "dead", (double)qd->dead);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

int cmd_status(int argc, char **argv)
{
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: mlworker status [--json]\n\n"
                   "Per domain: raw rows pending (pending + queued), processing (left by the\n"
                   "original worker), failed (labs: failed + insufficient) and completed, and the\n"
                   "age of the oldest pending row; the queue depth when ML_WORKER_SQS_QUEUE_URL is\n"
                   "set; the schema version and pending migrations. Reads only.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "mlworker status: unknown option '%s' (see --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct db_target db;
    struct mlw_err err = {0};
    struct store *st;
    if (cli_open_store("status", CLI_SCHEMA_ANY, &db, &st))
        return 1;
    struct ops_status s;
    if (ops_status_read(st, &s, &err) != MLW_OK) {
        fprintf(stderr, "mlworker status: %s\n", err.msg);
        store_close(st);
        config_db_free(&db);
        return 1;
    }
    /* the queue, when one is configured */
    const char *url = getenv("ML_WORKER_SQS_QUEUE_URL");
    struct queue_depth qd = {-1, -1, -1, -1};
    char qerr[MLW_ERR_LEN] = "";
    const char *qwhere = NULL;
    struct queue *q = NULL;
    if (url && *url) {
        struct queue_options qo = {env, "us-east-1", &db, 0};
        struct mlw_err e = {0};
        if (queue_open(url, &qo, &q, &e) == MLW_OK) {
            queue_set_stop_fn(q, NULL);
            qwhere = queue_where(q);
            if (queue_depth(q, &qd, &e) != MLW_OK)
                snprintf(qerr, sizeof qerr, "%s", e.msg);
        } else {
            snprintf(qerr, sizeof qerr, "%s", e.msg);
        }
    }
    int oom = 0;
    if (json) {
        char *text = status_json(db.display, &s, q, qerr, &qd);
        if (text)
            printf("%s\n", text);
        else
            oom = fprintf(stderr, "mlworker status: out of memory\n") != 0;
        cJSON_free(text);
    } else {
        printf("database   %s\n", db.display);
        printf("schema     version %d of %d%s", s.schema_version, s.schema_latest,
               s.pending_migrations ? "" : " (up to date)\n");
        if (s.pending_migrations)
            printf(", %d migration(s) pending: run `mlworker migrate`\n", s.pending_migrations);
        printf("\n%-10s %10s %11s %9s %11s  %s\n", "domain", "pending", "processing", "failed",
               "completed", "oldest pending");
        for (int d = 0; d < 3; d++) {
            const struct ops_domain_status *x = &s.d[d];
            if (!x->available) {
                printf("%-10s (tables not in this database)\n", x->name);
                continue;
            }
            char age[32];
            fmt_age(x->oldest_pending_age, age, sizeof age);
            printf("%-10s %10lld %11lld %9lld %11lld  %s\n", x->name, (long long)x->pending,
                   (long long)x->processing, (long long)x->failed, (long long)x->completed, age);
        }
        if (q && !qerr[0])
            printf("\nqueue      %s: %lld visible, %lld in flight, %lld delayed%s", qwhere,
                   qd.visible, qd.in_flight, qd.delayed, qd.dead >= 0 ? "" : "\n");
        if (q && !qerr[0] && qd.dead >= 0)
            printf(", %lld dead\n", qd.dead);
        if (!url || !*url)
            printf("\nqueue      none configured (ML_WORKER_SQS_QUEUE_URL)\n");
    }
    if (qerr[0])
        fprintf(stderr, "mlworker status: queue: %s\n", qerr);
    queue_close(q);
    store_close(st);
    config_db_free(&db);
    return qerr[0] || oom ? 1 : 0;
}
