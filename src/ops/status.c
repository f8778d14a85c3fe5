/* status.c - see status.h. */
#include "ops/status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"
#include "ops/diff.h"

static const char *const RAW[3] = {"vitals_raw_data", "nutrition_raw_data", "lab_reports"};
static const char *const COL[3] = {"aggregation_status", "aggregation_status",
                                   "categorization_status"};

int ops_status_read(struct store *st, struct ops_status *out, struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = store_schema_version(st, &out->schema_version, err);
    if (rc)
        return rc;
    out->schema_latest = store_schema_latest(st->dialect);
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        int n = store_migrate_plan(st, null, err);
        fclose(null);
        if (n < 0)
            return n;
        out->pending_migrations = n;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    mlw_ts now_ts = mlw_day_start(mlw_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1,
                                                      tm.tm_mday)) +
                    ((int64_t)tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec) * MLW_US_PER_SEC;
    for (int d = 0; d < 3; d++) {
        struct ops_domain_status *x = &out->d[d];
        x->name = ops_domain_name((enum domain)d);
        x->oldest_pending_age = -1;
        if (!ops_domain_available(st, (enum domain)d))
            continue;
        x->available = 1;
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT %s, count(*), min(created_at) FROM %s GROUP BY %s",
                 COL[d], RAW[d], COL[d]);
        struct store_rows r;
        if ((rc = store_query(st, sql, NULL, 0, &r, err)))
            return rc;
        for (size_t i = 0; i < r.nrows; i++) {
            const char *s = sv_as_text(store_cell(&r, i, 0));
            int64_t n = sv_as_int(store_cell(&r, i, 1));
            if (!s)
                continue;
            if (!strcmp(s, "pending") || !strcmp(s, "queued")) {
                x->pending += n;
                const struct sval *c = store_cell(&r, i, 2);
                mlw_ts t;
                if (sv_as_text(c) && mlw_ts_parse(c->s, c->n, &t, NULL) == 0) {
                    double age = (double)(now_ts - t) / (double)MLW_US_PER_SEC;
                    if (age < 0)
                        age = 0;
                    if (age > x->oldest_pending_age)
                        x->oldest_pending_age = age;
                }
            } else if (!strcmp(s, "processing")) {
                x->processing += n;
            } else if (!strcmp(s, "failed") || !strcmp(s, "insufficient")) {
                x->failed += n;
            } else {
                x->completed += n;
            }
        }
        store_rows_free(&r);
    }
    return MLW_OK;
}
