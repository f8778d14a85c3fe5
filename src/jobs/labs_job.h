/*
 * labs_job.h - the lab pipeline's entry points besides its domain_ops
 * (labs_domain in pipeline_int.h): the embedded catalog, and keeping
 * lab_test_mappings and already categorized rows in step with it.
 */
#ifndef MLW_LABS_JOB_H
#define MLW_LABS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/labcat.h"
#include "store/store.h"

/* data/lab_catalog.txt, compiled in (build/generated/lab_catalog_embed.c). */
extern const char mlw_lab_catalog_text[];
extern const size_t mlw_lab_catalog_len;

/* The embedded catalog, parsed on first use (thread-safe) and kept for the
 * life of the process. NULL (with the parse error) if it does not load. */
const struct labcat *labs_catalog(struct mlw_err *err);

/* Do the lab tables exist in this database? (A PostgreSQL schema without
 * the labs migration leaves the lab pipeline off instead of failing.) */
int labs_available(struct store *st);

/* Bring lab_test_mappings and the categorized rows in step with the catalog
 * when its fingerprint changed since the last sync (no-op otherwise):
 * upsert one mapping row per catalog test, give the original's seed rows
 * their catalog category/code/LOINC, re-decide every automatic mapping, and
 * return to 'pending' each categorized lab report whose decision changes (the
 * pipeline then moves it and recomputes its buckets). One transaction.
 * *synced: 1 when it did work; *requeued: raw rows returned to pending. */
int labs_catalog_sync(struct store *st, int *synced, int64_t *requeued, struct mlw_err *err);

/* ---- operator tools (src/ops/recompute.c, verify.c) ---- */

/* The batch row layout of the lab pipeline: "SELECT " labs_job_row_cols
 * labs_job_row_from " WHERE ..." (raw table r, categorized copy c); columns
 * may be appended after these. */
struct arena;
extern const char labs_job_row_cols[];
extern const char labs_job_row_from[];

/* What the pipeline would make of one raw row: the same checks and the same
 * decision (manual mapping, catalog, then the ML engine when this process
 * loaded it: mlctx_configure + LOINC_ENABLED=1, as `mlworker run`).
 * Strings live in the arena (or are static). */
struct labs_job_expect {
    const char *status;   /* categorized | insufficient | failed */
    const char *reason;   /* failure_reason; NULL when categorized */
    int32_t day;          /* test_date (mlw_day) when categorized */
    const char *name, *code, *loinc, *category; /* the decision when categorized */
    /* provenance, as lab_report_categorized stores it (migration 004) */
    const char *loinc_source, *category_source;
    int has_loinc_score, has_category_score, needs_review;
    double loinc_score, category_score;
    /* 1: the catalog left the name unresolved and the ML step would decide
     * it (LOINC_ENABLED=1), but the engine is off in this process: the
     * decision above is the one without ML */
    int ml_off;
};
int labs_job_expect_row(struct store *st, const struct store_rows *c, size_t i, struct arena *a,
                        struct labs_job_expect *out, struct mlw_err *err);

/* Recompute one user's daily rows of day and its month, quarter and year
 * from the categorized rows (inside the caller's transaction). */
int labs_job_recompute(struct store *st, int64_t user, int32_t day, struct arena *a,
                       struct mlw_err *err);

#endif
