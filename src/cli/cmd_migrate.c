/* cmd_migrate.c - `mlworker migrate`: create or upgrade the schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/config.h"
#include "jobs/labs_job.h"
#include "store/store.h"

static const char *env(const char *name) { return getenv(name); }

int cmd_migrate(int argc, char **argv)
{
    int check = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: mlworker migrate [--check]\n\n"
                   "Creates or upgrades the schema of the database named by DATABASE_URL\n"
                   "(or SQLALCHEMY_DATABASE_URI, POSTGRES_*, default sqlite://mlworker.db).\n"
                   "Idempotent: running it again changes nothing. Never drops data.\n"
                   "  --check   report the schema version and, when behind, what migrate would\n"
                   "            do (tables to create or adopt, columns to add); exit 1 if behind\n");
            return 0;
        } else if (!strcmp(argv[i], "--check")) {
            check = 1;
        } else {
            fprintf(stderr, "mlworker migrate: unknown option '%s' (see --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    struct db_target db;
    struct mlw_err err = {0};
    if (config_db_target(&db, env, &err) != MLW_OK) {
        fprintf(stderr, "mlworker: configuration error: %s\n", err.msg);
        return 1;
    }
    struct store *st;
    if (store_open(&db, &st, &err) != MLW_OK) {
        fprintf(stderr, "mlworker: cannot open the database (%s): %s\n", db.origin, err.msg);
        config_db_free(&db);
        return 1;
    }
    int version = 0, latest = store_schema_latest(db.kind), rc = 0;
    if (store_schema_version(st, &version, &err) != MLW_OK) {
        fprintf(stderr, "mlworker: cannot read the schema version: %s\n", err.msg);
        rc = 1;
    } else if (check) {
        /* Pending = not recorded, which can include versions below the
         * highest recorded one (migrations from parallel branches). */
        printf("schema version %d, latest %d\n", version, latest);
        int pending = store_migrate_plan(st, stdout, &err);
        if (pending < 0) {
            fprintf(stderr, "mlworker: cannot inspect the schema: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%s\n", pending ? "migration needed" : "up to date");
            rc = pending ? 1 : 0;
        }
    } else {
        int applied = 0;
        if (store_migrate(st, &applied, &err) != MLW_OK) {
            fprintf(stderr, "mlworker: migration failed: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%s: schema version %d (%d migration%s applied)\n", db.display,
                   version + applied > latest ? latest : (applied ? latest : version), applied,
                   applied == 1 ? "" : "s");
            /* lab_test_mappings follows the lab catalog compiled into this binary */
            int synced = 0;
            int64_t requeued = 0;
            if (labs_catalog_sync(st, &synced, &requeued, &err) != MLW_OK) {
                fprintf(stderr, "mlworker: %s\n", err.msg);
                rc = 1;
            } else if (synced) {
                const struct labcat *cat = labs_catalog(NULL);
                printf("lab catalog: %zu tests written to lab_test_mappings; %lld lab report(s)"
                       " re-queued for re-categorization\n",
                       cat ? labcat_ntests(cat) : (size_t)0, (long long)requeued);
            }
        }
    }
    store_close(st);
    config_db_free(&db);
    return rc;
}
