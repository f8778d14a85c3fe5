/*
 * status.h - `mlworker status`: raw row counts by state per domain, the age
 * of the oldest pending row, the schema version and pending migrations.
 * Reads only (a few COUNT queries).
 */
#ifndef MLW_OPS_STATUS_H
#define MLW_OPS_STATUS_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct ops_domain_status {
    const char *name;
    int available;               /* its tables exist */
    int64_t pending;             /* pending + queued */
    int64_t processing;          /* 'processing' (the original worker's claims) */
    int64_t failed;              /* failed (labs: + insufficient) */
    int64_t completed;           /* categorized / completed */
    double oldest_pending_age;   /* seconds since created_at (UTC); -1 none */
};

struct ops_status {
    int schema_version, schema_latest, pending_migrations;
    struct ops_domain_status d[3]; /* vitals, nutrition, labs */
};

int ops_status_read(struct store *st, struct ops_status *out, struct mlw_err *err);

#endif
