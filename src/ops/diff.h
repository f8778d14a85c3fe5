/*
 * diff.h - what the database should hold, recomputed in memory from the raw
 * rows, compared with what it holds.
 *
 * For one user and domain, ops_diff_user() reads the raw rows (of the
 * range, widened to whole weeks and years so every period that overlaps the
 * range has all of its input), runs each through the pipeline's own checks
 * (vitals_job_check_row, nutrition_job_check_row, labs_job_expect_row: unit
 * aliases, validation, the lab catalog and manual mappings as compiled into
 * this binary), builds every categorized row and aggregate bucket with the
 * pure domain modules (domain/vitals.c, nutrition.c, labs.c), and compares
 * them with the stored raw statuses, categorized rows and aggregate tables.
 * Each difference goes to a callback; nothing is written.
 *
 * Pending rows are not differences: a raw row still 'pending' (or 'queued',
 * or a legacy 'processing') is counted as skipped, and every bucket whose
 * period contains its date (or the date its earlier categorized copy or
 * count had) is left out of the comparison, since a worker has not folded
 * it in yet (vitals: only the buckets of its metric, the only ones a worker
 * recomputes for it).
 *
 * Numbers compare with a relative tolerance of 1e-9 (CLARIFICATIONS.md),
 * timestamps and dates as values (PostgreSQL and SQLite print them
 * differently), text exactly.
 */
#ifndef MLW_OPS_DIFF_H
#define MLW_OPS_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "jobs/pipeline.h"
#include "store/store.h"

/* An inclusive date range; a missing end is open. */
struct ops_range {
    int has_from, has_to;
    mlw_day from, to;
};

enum ops_diff_kind {
    OPS_DIFF_MISMATCH, /* stored and expected differ in some columns */
    OPS_DIFF_STALE,    /* stored, but nothing should be there */
    OPS_DIFF_MISSING   /* expected, but not stored */
};

/* One difference. Everything it points to lives until the next callback. */
struct ops_diff {
    enum domain domain;
    const char *table;
    const char *key;            /* "user_id=3 metric_type=Steps hour_start=2026-01-20 10:00:00" */
    enum ops_diff_kind kind;
    int ncols;                  /* MISMATCH: the differing columns */
    const char *const *cols;
    const char *const *expected; /* text of each value; "NULL" for NULL */
    const char *const *stored;
    /* How recompute repairs it: */
    int64_t raw_id;             /* > 0: a row: reprocess this raw row, unless orphan */
    int orphan;                 /* a categorized copy (raw_id) whose raw row is gone: delete it */
    const char *metric;         /* vitals buckets: the metric */
    mlw_day day;                /* a day inside the bucket: recompute it and the periods above */
};

typedef int (*ops_diff_cb)(void *ctx, const struct ops_diff *d);

struct ops_counts {
    int64_t rows;              /* raw rows compared (status and categorized copy) */
    int64_t pending;           /* raw rows skipped: not processed yet */
    int64_t buckets;           /* aggregate rows compared (expected or stored) */
    int64_t buckets_skipped;   /* left out: a pending row falls in their period */
    int64_t mismatched, stale, missing;
    int64_t ml_unchecked;      /* lab rows the ML step decided, taken as stored: the ML
                                * engine is off in this process (LOINC_ENABLED unset) */
    int64_t llm_unchecked;     /* lab rows the chat reranker shaped, taken as stored:
                                * operator tools never call it (not reproducible) */
};

/* Add b to a. */
void ops_counts_add(struct ops_counts *a, const struct ops_counts *b);

/* A day a pending row touches (where it is now, or where its earlier copy
 * or count was): its buckets of that day and the periods above were left
 * out. metric: vitals, the row's metric (only that metric's buckets are left
 * out); NULL for the other domains (every bucket of the day). */
struct ops_pending {
    const char *metric;
    mlw_day day;
};

/* Compare one user's domain over range r. cb may stop the walk by
 * returning non-zero (returned as is). a: scratch, reset by the caller.
 * pend (may be NULL): OUT, the pending (metric, day)s, sorted by day, with
 * duplicates; caller frees *pend with free(); the metrics live in a. */
int ops_diff_user(struct store *st, enum domain d, int64_t user, const struct ops_range *r,
                  struct arena *a, ops_diff_cb cb, void *ctx, struct ops_counts *counts,
                  struct ops_pending **pend, size_t *npend, struct mlw_err *err);

/* Every user with rows in the domain's raw, categorized or aggregate tables,
 * ascending. OUT: *users, caller frees with free(). */
int ops_list_users(struct store *st, enum domain d, int64_t **users, size_t *n,
                   struct mlw_err *err);

/* Raw rows of a domain in range (of the given users when n_users > 0):
 * the progress total. */
int ops_count_rows(struct store *st, enum domain d, const struct ops_range *r,
                   const int64_t *users, size_t n_users, int64_t *count, struct mlw_err *err);

/* Is the domain's schema there? (labs: a PostgreSQL database without the
 * labs migration) */
int ops_domain_available(struct store *st, enum domain d);

/* How many categorized lab rows did the ML step decide (any ML provenance:
 * loinc_source/category_source set by it, a score, needs_review)? 0 on a
 * database without the labs tables or migration 004. */
int ops_labs_ml_rows(struct store *st, int64_t *n, struct mlw_err *err);

const char *ops_domain_name(enum domain d);   /* "vitals", "nutrition", "labs" */
const char *ops_diff_kind_name(enum ops_diff_kind k); /* "mismatch", "stale", "missing" */

#endif
