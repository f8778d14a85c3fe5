/* cmd_status.c - `mlworker status`: is the worker keeping up? */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* s as a JSON string literal (quotes, backslashes and control characters
 * escaped). */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
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
    if (config_db_target(&db, env, &err) != MLW_OK) {
        fprintf(stderr, "mlworker status: configuration error: %s\n", err.msg);
        return 1;
    }
    struct store *st;
    if (store_open(&db, &st, &err) != MLW_OK) {
        fprintf(stderr, "mlworker status: cannot open the database (%s): %s\n", db.origin, err.msg);
        config_db_free(&db);
        return 1;
    }
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
    if (json) {
        printf("{\"database\": ");
        print_json_string(db.display);
        printf(", \"schema_version\": %d, \"schema_latest\": %d, \"pending_migrations\": %d,"
               " \"domains\": {",
               s.schema_version, s.schema_latest, s.pending_migrations);
        int first = 1;
        for (int d = 0; d < 3; d++) {
            const struct ops_domain_status *x = &s.d[d];
            if (!x->available)
                continue;
            printf("%s\"%s\": {\"pending\": %lld, \"processing\": %lld, \"failed\": %lld,"
                   " \"completed\": %lld, \"oldest_pending_age_s\": ",
                   first ? "" : ", ", x->name, (long long)x->pending, (long long)x->processing,
                   (long long)x->failed, (long long)x->completed);
            if (x->oldest_pending_age < 0)
                printf("null}");
            else
                printf("%.0f}", x->oldest_pending_age);
            first = 0;
        }
        printf("}, \"queue\": ");
        if (!q && !qerr[0])
            printf("null");
        else if (qerr[0])
            printf("{\"error\": \"see stderr\"}");
        else
            printf("{\"visible\": %lld, \"in_flight\": %lld, \"delayed\": %lld, \"dead\": %lld}",
                   qd.visible, qd.in_flight, qd.delayed, qd.dead);
        printf("}\n");
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
    return qerr[0] ? 1 : 0;
}
