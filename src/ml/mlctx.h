/*
 * mlctx.h - the process's ML engine for the lab pipeline: one model, one
 * LOINC index and one embedder, loaded once and shared by every thread
 * (the SQS consumer and the aggregation loop of `both` mode included).
 *
 *   mlctx_configure(&opts)        main thread, before worker threads start
 *   mlctx_acquire(cat, &m, &err)  any thread: loads on first call
 *                                 (pthread_once), then returns the same
 *                                 context; *m is NULL when ML is off
 *   mlctx_decide(m, &q, &d, &err) any thread
 *
 * Load: embed_open(model_dir), index_open(index), check that the index was
 * built by this model (fingerprint and dimension) and carries the LOINC
 * fields, index the long common names by word (lexical candidates), and
 * embed the catalog's test names (category fallback). Progress and the
 * outcome go to health_set_model() (/readyz). A failed load is final for
 * the process: mlctx_acquire() returns the same error each time (the lab
 * pipeline then leaves its rows pending; `mlworker run` refuses to start).
 *
 * Decide, for a name the catalog left unresolved:
 *   1. embed the name; cosine against every index vector (exact);
 *   2. candidates: the 50 best by cosine, plus the 50 names sharing the
 *      most words with it (so an exact long common name is always among
 *      them, whatever the model);
 *   3. rerank and accept with labmap_rank() (ml/labmap.h);
 *   4. with ML_WORKER_LLM_URL, offer the 5 best to the chat endpoint
 *      (ml/llm_rerank.h); a pick among them with a combined score >=
 *      llm_min_score replaces the decision; NO_MATCH withdraws an accepted
 *      code; an error, timeout or invalid answer leaves it as it was;
 *   5. category: the catalog test carrying the accepted LOINC code, else
 *      the catalog test whose name's embedding is nearest, when its cosine
 *      >= category_min_score; else none (the row stays in Others).
 * Decisions are cached per (name, specimen, unit) for the process.
 */
#ifndef MLW_ML_MLCTX_H
#define MLW_ML_MLCTX_H

#include <stddef.h>

#include "core/err.h"
#include "domain/labcat.h"
#include "ml/llm_rerank.h"

struct mlctx_opts {
    int enabled;                /* LOINC_ENABLED=1 */
    const char *model_dir;      /* copied */
    const char *index_path;     /* copied */
    double min_score;           /* labmap acceptance threshold */
    double category_min_score;
    double llm_min_score;
    double llm_batch_seconds;   /* reranker time per batch (mlctx_llm_budget_start); <= 0: 30 */
    struct llm_opts llm;        /* strings copied; url NULL = off */
};

/* Record the options (strings are copied). Call once, before threads.
 * MLW_OK, MLW_ENOMEM. A later call before any acquire replaces them. */
int mlctx_configure(const struct mlctx_opts *o, struct mlw_err *err);

struct mlctx;

/*
** The shared context, loaded on the first call. cat: the lab catalog whose
** test names the category fallback embeds (used by the first call only).
** Returns MLW_OK with *out NULL when ML is not configured/enabled, MLW_OK
** with *out set when loaded, or the load's error (MLW_ENOTFOUND for a
** missing file, MLW_EFORMAT for an index built by another model, ...) with
** a message naming the file and the fix.
*/
int mlctx_acquire(const struct labcat *cat, struct mlctx **out, struct mlw_err *err);

struct mlctx_query {
    const char *name;           /* collapsed test name */
    const char *specimen;       /* labcat_specimen_name() of what the matcher read, or NULL */
    const char *unit;           /* the row's unit, or NULL */
    const char *context;        /* the row's report section, or NULL */
};

#define MLCTX_CODE_MAX 24
#define MLCTX_WHY_LEN 600

struct mlctx_decision {
    char loinc[MLCTX_CODE_MAX];    /* accepted code, "" when none */
    const char *loinc_source;      /* "embedding" | "llm" | NULL (none accepted) */
    double loinc_score;            /* the best combined score (also when rejected) */
    char best[MLCTX_CODE_MAX];     /* the top-ranked candidate's code (also when rejected;
                                      before the reranker), "" when none */
    int has_candidates;            /* 0: the index offered nothing */
    int needs_review;              /* 1: no code accepted */
    const char *category;          /* catalog category string, or NULL (stay Others) */
    const char *category_source;   /* "loinc" | "embedding" | NULL */
    double category_score;
    enum llm_outcome llm;          /* what the reranker did */
    char why[MLCTX_WHY_LEN];       /* one line */
};

/*
** The reranker's time budget for the calling thread's current batch. The
** lab pipeline calls this as each batch's write transaction begins: all
** reranker calls of that transaction together may take at most
** ML_WORKER_LLM_BATCH_SECONDS (each call's timeout is cut to what is left), so
** a slow chat endpoint cannot hold the transaction's locks for
** (names x timeout). Names decided after the budget is spent keep the
** embedding decision (llm "skipped"; not cached, so asked again when the
** name comes back). No-op without a reranker.
*/
void mlctx_llm_budget_start(void);

/*
** Decide one name (see the top of this file). Thread-safe. Returns MLW_OK,
** MLW_ENOMEM, or the encoder's error (the caller keeps its rows pending).
*/
int mlctx_decide(struct mlctx *m, const struct mlctx_query *q, struct mlctx_decision *d,
                 struct mlw_err *err);

/* Does the index hold this LOINC code? */
int mlctx_has_code(const struct mlctx *m, const char *code);

#endif
