/* cli_store.c - opening the configured database for a command (see commands.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "core/config.h"
#include "store/store.h"

static const char *env(const char *name) { return getenv(name); }

int cli_open_store(const char *cmd, enum cli_schema need, struct db_target *db, struct store **st)
{
    struct mlw_err err = {0};
    if (config_db_target(db, env, &err) != MLW_OK) {
        fprintf(stderr, "mlworker %s: configuration error: %s\n", cmd, err.msg);
        return 1;
    }
    if (store_open(db, st, &err) != MLW_OK) {
        fprintf(stderr, "mlworker %s: cannot open the database (%s): %s\n", cmd, db->origin,
                err.msg);
        config_db_free(db);
        return 1;
    }
    if (need == CLI_SCHEMA_ANY)
        return 0;
    int version = 0, latest = store_schema_latest((*st)->dialect);
    if (store_schema_version(*st, &version, &err) != MLW_OK || version == 0)
        fprintf(stderr, "mlworker %s: %s has no mlworker schema (run `mlworker migrate`)%s%s\n",
                cmd, db->display, err.msg[0] ? ": " : "", err.msg);
    else if (need == CLI_SCHEMA_LATEST && version < latest)
        fprintf(stderr, "mlworker %s: %s is at schema version %d of %d (run `mlworker migrate` first)\n",
                cmd, db->display, version, latest);
    else
        return 0;
    store_close(*st);
    config_db_free(db);
    return 1;
}
