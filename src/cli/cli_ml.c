/* cli_ml.c - see cli_ml.h. */
#include "cli/cli_ml.h"

#include "jobs/labs_job.h"
#include "ml/mlctx.h"

int cli_ml_start_no_reranker(const struct config *cfg, int *loaded, struct mlw_err *err)
{
    struct config c = *cfg; /* shallow: only read, never freed */
    c.llm_url = NULL;
    return cli_ml_start(&c, loaded, err);
}

int cli_ml_start(const struct config *cfg, int *loaded, struct mlw_err *err)
{
    *loaded = 0;
    if (!cfg->loinc_enabled)
        return MLW_OK;
    struct mlctx_opts mo = {.enabled = 1,
                            .model_dir = cfg->model_dir,
                            .index_path = cfg->loinc_index,
                            .min_score = cfg->loinc_min_score,
                            .category_min_score = cfg->category_min_score,
                            .llm_min_score = cfg->llm_min_score,
                            .llm_batch_seconds = cfg->llm_batch_seconds,
                            .llm = {cfg->llm_url, cfg->openai_api_key, cfg->llm_model,
                                    cfg->llm_timeout}};
    struct mlctx *ml = NULL;
    const struct labcat *cat = NULL;
    int rc = mlctx_configure(&mo, err);
    if (rc == MLW_OK && !(cat = labs_catalog(err)))
        rc = MLW_EFORMAT;
    if (rc == MLW_OK)
        rc = mlctx_acquire(cat, &ml, err);
    *loaded = rc == MLW_OK && ml != NULL;
    return rc;
}
