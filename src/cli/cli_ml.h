/*
 * cli_ml.h - the lab pipeline's ML engine (LOINC_ENABLED=1) for the
 * commands that run the pipeline or predict it: `run`, `recompute` and
 * `verify` start it the same way, so verify expects what run stores.
 */
#ifndef MLW_CLI_ML_H
#define MLW_CLI_ML_H

#include "core/config.h"
#include "core/err.h"

/*
** With cfg->loinc_enabled: record the engine's options from cfg
** (mlctx_configure) and load the model and the LOINC index now, so a
** missing or mismatched file stops the command before it does any work.
** Returns MLW_OK with *loaded = 1 (engine ready), MLW_OK with *loaded = 0
** (LOINC_ENABLED off: the pipeline decides by the catalog alone), or the
** load's error with err naming the file. Main thread, before any others.
*/
int cli_ml_start(const struct config *cfg, int *loaded, struct mlw_err *err);

/* The same without the chat reranker (ML_WORKER_LLM_URL ignored): verify and
 * recompute must not depend on a remote model's answers, which are not
 * reproducible; rows the reranker shaped are taken as stored (ops/diff.c). */
int cli_ml_start_no_reranker(const struct config *cfg, int *loaded, struct mlw_err *err);

#endif
