/*
 * recompute.h - `mlworker recompute`: make the categorized rows and every
 * aggregate bucket of a range equal to what the current code computes from
 * the raw rows, while workers run.
 *
 * Per domain, per user in ascending order, one write transaction each:
 *   1. take the pipeline's lock for (domain, user) (PostgreSQL advisory
 *      lock; SQLite's write transaction), so no worker writes that user's
 *      buckets meanwhile;
 *   2. compare expected and stored (ops_diff_user, diff.h);
 *   3. repair what differs with the pipeline's own code: raw rows whose
 *      status, failure reason or categorized copy differ (failed rows that
 *      now pass, lab rows the current catalog decides differently) are
 *      returned to pending and processed as a batch would
 *      (pipeline_reprocess); a categorized copy whose raw row is gone is
 *      deleted; every other differing bucket is recomputed from the level
 *      below (vitals_job_recompute, nutrition_job_recompute,
 *      labs_job_recompute: its day, then the periods above);
 *   4. the days (vitals: metric and day) that rows still pending touch were
 *      left out of the comparison: recompute them from the level below all
 *      the same (a worker folds each pending row in later, but only where
 *      it lands: a wrong bucket where a pending row was, or one that fails,
 *      would otherwise stay wrong);
 *   5. commit. The app's readers see the user's old state or the new one,
 *      never a half-rebuilt bucket.
 * There is no progress table: a user already repaired compares equal and
 * is skipped, so a rerun after kill -9 (which rolls the open transaction
 * back) resumes where it stopped and ends in the same state.
 *
 * The result equals a rebuild of every bucket from scratch (the repairs
 * recompute from complete inputs); buckets that already match are left
 * untouched (their ids, created_at and updated_at stay), except those of
 * days with pending rows (step 4).
 */
#ifndef MLW_OPS_RECOMPUTE_H
#define MLW_OPS_RECOMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "ops/diff.h"

#define OPS_ALL_DOMAINS 7u /* bit (1u << enum domain) per domain */

struct ops_opts {
    const int64_t *users;   /* only these users (ascending not required); none: all */
    size_t nusers;
    struct ops_range range;
    unsigned domains;       /* OPS_ALL_DOMAINS or a subset */
    int quiet;              /* no progress on stderr */
};

#define OPS_MAX_TABLES 20
struct ops_table_stat {
    const char *table;
    int64_t mismatched, stale, missing;
};

struct ops_report {
    struct ops_counts total;
    struct ops_table_stat tables[OPS_MAX_TABLES];
    int ntables;
    int64_t users;          /* users compared */
    int64_t users_changed;  /* users with a difference (repaired unless a dry run) */
    int64_t reprocessed;    /* raw rows run through the pipeline again */
    int64_t recomputed;     /* buckets (days and periods) recomputed */
    int64_t orphans;        /* categorized copies without raw row deleted */
    int64_t pending_recomputed; /* days with rows still pending, recomputed anyway */
    unsigned skipped_domains; /* not in this database (labs without its migration) */
    int interrupted;        /* a stop signal ended it between users */
    double seconds, rows_per_second;
};

enum ops_mode { OPS_MODE_VERIFY, OPS_MODE_DRY_RUN, OPS_MODE_RECOMPUTE };

/* Walk the selected domains and users: compare each (cb gets every
 * difference; may be NULL) and, in OPS_MODE_RECOMPUTE, repair. Returns
 * MLW_OK (rep filled; rep->total says what differed) or a database error
 * (what committed stays). Stops between users on a stop request. */
int ops_run(struct store *st, const struct ops_opts *o, enum ops_mode mode, ops_diff_cb cb,
            void *ctx, struct ops_report *rep, struct mlw_err *err);

/* Tally one difference into rep->tables. */
void ops_report_add(struct ops_report *rep, const struct ops_diff *d);

#endif
