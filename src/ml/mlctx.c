/*
 * mlctx.c - the process's shared ML context for the lab pipeline; see
 * mlctx.h.
 */
#include "ml/mlctx.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/metrics.h"
#include "core/timeutil.h"
#include "http/health.h"
#include "ml/embed.h"
#include "ml/index.h"
#include "ml/labmap.h"
#include "ml/loinc.h"

#define MC_K_COS 50       /* candidates by cosine */
#define MC_K_LEX 50       /* candidates by shared words */
#define MC_MAX_WORDS LABMAP_MAX_WORDS
#define MC_WORD_MAX LABMAP_WORD_MAX
#define MC_CACHE_SLOTS 4096
#define MC_BATCH 32

/* ---- options --------------------------------------------------------------- */

static struct {
    int enabled;
    char *model_dir, *index_path, *llm_url, *llm_key, *llm_model;
    double min_score, category_min_score, llm_min_score, llm_timeout, llm_batch_seconds;
} g_opt;

/* This thread's batch reranker deadline (mlw_monotonic() seconds); 0: none. */
static _Thread_local double tl_llm_deadline;

static char *mc_dup(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int mlctx_configure(const struct mlctx_opts *o, struct mlw_err *err)
{
    free(g_opt.model_dir);
    free(g_opt.index_path);
    free(g_opt.llm_url);
    free(g_opt.llm_key);
    free(g_opt.llm_model);
    memset(&g_opt, 0, sizeof g_opt);
    g_opt.enabled = o->enabled;
    g_opt.model_dir = mc_dup(o->model_dir);
    g_opt.index_path = mc_dup(o->index_path);
    g_opt.llm_url = mc_dup(o->llm.url);
    g_opt.llm_key = mc_dup(o->llm.api_key);
    g_opt.llm_model = mc_dup(o->llm.model ? o->llm.model : "o4-mini");
    g_opt.min_score = o->min_score;
    g_opt.category_min_score = o->category_min_score;
    g_opt.llm_min_score = o->llm_min_score;
    g_opt.llm_timeout = o->llm.timeout_s > 0 ? o->llm.timeout_s : 10.0;
    g_opt.llm_batch_seconds = o->llm_batch_seconds > 0 ? o->llm_batch_seconds : 30.0;
    if ((o->model_dir && *o->model_dir && !g_opt.model_dir) ||
        (o->index_path && *o->index_path && !g_opt.index_path) ||
        (o->llm.url && *o->llm.url && !g_opt.llm_url) ||
        (o->llm.api_key && *o->llm.api_key && !g_opt.llm_key) || !g_opt.llm_model)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    return MLW_OK;
}

/* ---- words ------------------------------------------------------------------ */

static uint64_t mc_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct mc_posting {
    char *word;           /* NULL: empty slot */
    uint32_t *rows;
    uint32_t n, cap;
};

/* ---- the context ------------------------------------------------------------- */

struct mc_cache_slot {
    char *key;
    struct mlctx_decision d;
};

struct mlctx {
    struct embed_model *e;
    struct index idx;
    int dim;
    int f_code, f_name, f_prop, f_sys, f_units;
    struct mc_posting *post;   /* open addressing, post_cap slots */
    size_t post_cap, post_used;
    uint8_t *row_words;        /* words per long common name (capped at 255) */
    uint32_t *code_slots;      /* code -> row + 1, open addressing, code_cap slots */
    size_t code_cap;
    const struct labcat *cat;
    float *cat_vecs;           /* [ntests, dim] */
    size_t ncat;
    struct llm_opts llm;
    struct labmap_params lp;
    pthread_mutex_t mu;        /* the cache */
    struct mc_cache_slot *cache;
};

static struct mlctx *g_ctx;
static struct mlw_err g_load_err;
static const struct labcat *g_load_cat;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_acquire_mu = PTHREAD_MUTEX_INITIALIZER;

static double mc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mc_free(struct mlctx *m)
{
    if (m == NULL)
        return;
    embed_close(m->e);
    index_close(&m->idx);
    for (size_t i = 0; i < m->post_cap && m->post; i++) {
        free(m->post[i].word);
        free(m->post[i].rows);
    }
    free(m->post);
    free(m->row_words);
    free(m->code_slots);
    free(m->cat_vecs);
    for (size_t i = 0; m->cache && i < MC_CACHE_SLOTS; i++)
        free(m->cache[i].key);
    free(m->cache);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static struct mc_posting *mc_post_find(struct mlctx *m, const char *w, int create)
{
    if (create && (m->post_used + 1) * 2 > m->post_cap) {
        size_t ncap = m->post_cap ? m->post_cap * 2 : 4096;
        struct mc_posting *np = calloc(ncap, sizeof *np);
        if (np == NULL)
            return NULL;
        for (size_t i = 0; i < m->post_cap; i++) {
            if (m->post[i].word == NULL)
                continue;
            size_t j = mc_hash(m->post[i].word) & (ncap - 1);
            while (np[j].word != NULL)
                j = (j + 1) & (ncap - 1);
            np[j] = m->post[i];
        }
        free(m->post);
        m->post = np;
        m->post_cap = ncap;
    }
    if (m->post_cap == 0)
        return NULL;
    size_t j = mc_hash(w) & (m->post_cap - 1);
    while (m->post[j].word != NULL) {
        if (strcmp(m->post[j].word, w) == 0)
            return &m->post[j];
        j = (j + 1) & (m->post_cap - 1);
    }
    if (!create)
        return NULL;
    if ((m->post[j].word = strdup(w)) == NULL)
        return NULL;
    m->post_used++;
    return &m->post[j];
}

static int mc_build_words(struct mlctx *m, struct mlw_err *err)
{
    size_t n = m->idx.count;
    if (n > UINT32_MAX - 1)
        return mlw_err_set(err, MLW_EFORMAT, "%s: too many terms", m->idx.label);
    m->row_words = malloc(n ? n : 1);
    m->code_cap = 16;
    while (m->code_cap < 2 * n)
        m->code_cap *= 2;
    m->code_slots = calloc(m->code_cap, sizeof *m->code_slots);
    if (m->row_words == NULL || m->code_slots == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory indexing LOINC names");
    char w[MC_MAX_WORDS][MC_WORD_MAX];
    for (size_t r = 0; r < n; r++) {
        int k = labmap_words(index_field(&m->idx, r, m->f_name), 0, w, MC_MAX_WORDS);
        m->row_words[r] = (uint8_t)(k > 255 ? 255 : k);
        for (int i = 0; i < k; i++) {
            struct mc_posting *p = mc_post_find(m, w[i], 1);
            if (p == NULL)
                return mlw_err_set(err, MLW_ENOMEM, "out of memory indexing LOINC names");
            if (p->n == p->cap) {
                uint32_t nc = p->cap ? p->cap * 2 : 4;
                uint32_t *nr = realloc(p->rows, nc * sizeof *nr);
                if (nr == NULL)
                    return mlw_err_set(err, MLW_ENOMEM, "out of memory indexing LOINC names");
                p->rows = nr;
                p->cap = nc;
            }
            p->rows[p->n++] = (uint32_t)r;
        }
        const char *code = index_field(&m->idx, r, m->f_code);
        size_t j = mc_hash(code) & (m->code_cap - 1);
        while (m->code_slots[j] != 0)
            j = (j + 1) & (m->code_cap - 1);
        m->code_slots[j] = (uint32_t)r + 1;
    }
    return MLW_OK;
}

int mlctx_has_code(const struct mlctx *m, const char *code)
{
    if (m == NULL || code == NULL || m->code_cap == 0)
        return 0;
    size_t j = mc_hash(code) & (m->code_cap - 1);
    while (m->code_slots[j] != 0) {
        if (strcmp(index_field(&m->idx, m->code_slots[j] - 1, m->f_code), code) == 0)
            return 1;
        j = (j + 1) & (m->code_cap - 1);
    }
    return 0;
}

static int mc_embed(struct mlctx *m, const char *const *texts, int n, float *out,
                    struct mlw_err *err)
{
    double t0 = mc_now();
    int rc = embed_texts(m->e, texts, NULL, n, out, err);
    metrics_time(METRICS_MODEL_SECONDS, NULL, mc_now() - t0);
    return rc;
}

static int mc_embed_catalog(struct mlctx *m, struct mlw_err *err)
{
    m->ncat = labcat_ntests(m->cat);
    m->cat_vecs = malloc((m->ncat ? m->ncat : 1) * (size_t)m->dim * sizeof(float));
    if (m->cat_vecs == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory for catalog embeddings");
    const char *texts[MC_BATCH];
    for (size_t i = 0; i < m->ncat; i += MC_BATCH) {
        int k = (int)(m->ncat - i < MC_BATCH ? m->ncat - i : MC_BATCH);
        for (int j = 0; j < k; j++)
            texts[j] = labcat_test_at(m->cat, i + (size_t)j)->name;
        int rc = mc_embed(m, texts, k, m->cat_vecs + i * (size_t)m->dim, err);
        if (rc)
            return rc;
    }
    return MLW_OK;
}

static int mc_load(struct mlctx **out, struct mlw_err *err)
{
    *out = NULL;
    if (g_opt.model_dir == NULL || g_opt.index_path == NULL)
        return mlw_err_set(err, MLW_EINVAL,
                           "LOINC_ENABLED=1 needs ML_WORKER_MODEL_DIR and ML_WORKER_LOINC_INDEX");
    struct mlctx *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    m->cat = g_load_cat;
    int rc;
    struct mlw_err e = {0};
    if ((rc = embed_open(g_opt.model_dir, NULL, &m->e, &e)) != MLW_OK) {
        rc = mlw_err_set(err, rc, "ML_WORKER_MODEL_DIR=%s: %s", g_opt.model_dir, e.msg);
        goto fail;
    }
    if ((rc = index_open(g_opt.index_path, &m->idx, &e)) != MLW_OK) {
        rc = mlw_err_set(err, rc, "ML_WORKER_LOINC_INDEX: %s", e.msg);
        goto fail;
    }
    m->dim = embed_dim(m->e);
    if (!embed_model_id_same(embed_model_id(m->e), m->idx.info.model_id) ||
        m->dim != m->idx.info.dim) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s was built with model %s (%d dimensions), but ML_WORKER_MODEL_DIR=%s "
                         "is model %s (%d dimensions): rebuild the index with `mlworker loinc "
                         "build` or point ML_WORKER_MODEL_DIR at the model it was built with",
                         g_opt.index_path, m->idx.info.model_id, m->idx.info.dim,
                         g_opt.model_dir, embed_model_id(m->e), m->dim);
        goto fail;
    }
    m->f_code = index_field_index(&m->idx, "code");
    m->f_name = index_field_index(&m->idx, "name");
    m->f_prop = index_field_index(&m->idx, "property");
    m->f_sys = index_field_index(&m->idx, "system");
    m->f_units = index_field_index(&m->idx, "units");
    if (m->f_code < 0 || m->f_name < 0 || m->f_prop < 0 || m->f_sys < 0 || m->f_units < 0) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: not a LOINC index (no code/name/property/"
                         "system/units fields)", g_opt.index_path);
        goto fail;
    }
    if ((rc = mc_build_words(m, err)) != MLW_OK)
        goto fail;
    if (m->cat != NULL && (rc = mc_embed_catalog(m, &e)) != MLW_OK) {
        rc = mlw_err_set(err, rc, "embedding the catalog's test names: %s", e.msg);
        goto fail;
    }
    m->cache = calloc(MC_CACHE_SLOTS, sizeof *m->cache);
    if (m->cache == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto fail;
    }
    labmap_params_default(&m->lp);
    m->lp.min_score = g_opt.min_score;
    m->llm.url = g_opt.llm_url;
    m->llm.api_key = g_opt.llm_key;
    m->llm.model = g_opt.llm_model;
    m->llm.timeout_s = g_opt.llm_timeout;
    if (m->llm.url != NULL && (rc = llm_rerank_init(err)) != MLW_OK)
        goto fail;
    *out = m;
    return MLW_OK;
fail:
    mc_free(m);
    return rc;
}

static void mc_load_once(void)
{
    if (!g_opt.enabled)
        return;
    health_set_model(HEALTH_MODEL_LOADING, g_opt.model_dir);
    double t0 = mc_now();
    if (mc_load(&g_ctx, &g_load_err) != MLW_OK) {
        health_set_model(HEALTH_MODEL_FAILED, g_load_err.msg);
        return;
    }
    char detail[300];
    snprintf(detail, sizeof detail, "%s, %zu LOINC terms, loaded in %.1f s",
             embed_model_id(g_ctx->e), g_ctx->idx.count, mc_now() - t0);
    health_set_model(HEALTH_MODEL_READY, detail);
}

int mlctx_acquire(const struct labcat *cat, struct mlctx **out, struct mlw_err *err)
{
    pthread_mutex_lock(&g_acquire_mu);
    if (g_load_cat == NULL)
        g_load_cat = cat;
    pthread_mutex_unlock(&g_acquire_mu);
    pthread_once(&g_once, mc_load_once);
    *out = g_ctx;
    if (g_opt.enabled && g_ctx == NULL)
        return mlw_err_set(err, g_load_err.code ? g_load_err.code : MLW_EINVAL,
                           "ML engine: %s", g_load_err.msg);
    return MLW_OK;
}

/* ---- deciding ------------------------------------------------------------------ */

static char *mc_cache_key(const struct mlctx_query *q)
{
    size_t n = strlen(q->name) + 8 + (q->specimen ? strlen(q->specimen) : 0) +
               (q->unit ? strlen(q->unit) : 0) + (q->context ? strlen(q->context) : 0);
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\x1f%s\x1f%s\x1f%s", q->name, q->specimen ? q->specimen : "",
                 q->unit ? q->unit : "", q->context ? q->context : "");
    return k;
}

static int mc_cache_get(struct mlctx *m, const char *key, struct mlctx_decision *d)
{
    size_t j = mc_hash(key) & (MC_CACHE_SLOTS - 1);
    int hit = 0;
    pthread_mutex_lock(&m->mu);
    if (m->cache[j].key && strcmp(m->cache[j].key, key) == 0) {
        *d = m->cache[j].d;
        hit = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return hit;
}

static void mc_cache_put(struct mlctx *m, char *key, const struct mlctx_decision *d)
{
    size_t j = mc_hash(key) & (MC_CACHE_SLOTS - 1);
    pthread_mutex_lock(&m->mu);
    free(m->cache[j].key);
    m->cache[j].key = key; /* takes it */
    m->cache[j].d = *d;
    pthread_mutex_unlock(&m->mu);
}

/* Insert row r into the top list (rows[], keys) of capacity k by key desc. */
struct mc_top {
    size_t *rows;
    double *key;
    size_t n, k;
};

static void mc_top_add(struct mc_top *t, size_t r, double key)
{
    if (t->n == t->k && key <= t->key[t->n - 1])
        return;
    size_t i = t->n < t->k ? t->n++ : t->n - 1;
    while (i > 0 && t->key[i - 1] < key) {
        t->rows[i] = t->rows[i - 1];
        t->key[i] = t->key[i - 1];
        i--;
    }
    t->rows[i] = r;
    t->key[i] = key;
}

static const struct labcat_test *mc_test_with_loinc(const struct labcat *cat, const char *code)
{
    for (size_t i = 0; cat && i < labcat_ntests(cat); i++) {
        const struct labcat_test *t = labcat_test_at(cat, i);
        for (int j = 0; j < t->nloinc; j++)
            if (strcmp(t->loinc[j], code) == 0)
                return t;
    }
    return NULL;
}

static int mc_decide_uncached(struct mlctx *m, const struct mlctx_query *q,
                              struct mlctx_decision *d, struct mlw_err *err)
{
    size_t n = m->idx.count;
    float *qv = malloc((size_t)m->dim * sizeof *qv);
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    uint8_t *cnt = calloc(n ? n : 1, 1);
    int rc = MLW_OK;
    if (qv == NULL || scores == NULL || cnt == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto out;
    }
    const char *texts[1] = {q->name};
    if ((rc = mc_embed(m, texts, 1, qv, err)) != MLW_OK)
        goto out;
    if ((rc = index_search(&m->idx, qv, scores, err)) != MLW_OK)
        goto out;

    /* candidates: best by cosine, and best by shared words */
    size_t crow[MC_K_COS + MC_K_LEX], lrow[MC_K_LEX];
    double ckey[MC_K_COS], lkey[MC_K_LEX];
    struct mc_top tc = {crow, ckey, 0, MC_K_COS}, tl = {lrow, lkey, 0, MC_K_LEX};
    for (size_t r = 0; r < n; r++)
        mc_top_add(&tc, r, (double)scores[r] - (double)r * 1e-12);
    char w[MC_MAX_WORDS][MC_WORD_MAX];
    int nw = labmap_words(q->name, 0, w, MC_MAX_WORDS);
    for (int i = 0; i < nw; i++) {
        struct mc_posting *p = mc_post_find(m, w[i], 0);
        for (uint32_t j = 0; p && j < p->n; j++)
            if (cnt[p->rows[j]] < 255)
                cnt[p->rows[j]]++;
    }
    for (int i = 0; i < nw; i++) {
        struct mc_posting *p = mc_post_find(m, w[i], 0);
        for (uint32_t j = 0; p && j < p->n; j++) {
            size_t r = p->rows[j];
            if (cnt[r] == 0)
                continue; /* seen */
            /* more shared words, then fewer extra words, then cosine */
            double key = cnt[r] * 1000.0 - (double)(m->row_words[r] - cnt[r]) + scores[r] * 0.5;
            mc_top_add(&tl, r, key);
            cnt[r] = 0;
        }
    }
    size_t nc = tc.n;
    for (size_t i = 0; i < tl.n; i++) {
        int dup = 0;
        for (size_t j = 0; j < tc.n && !dup; j++)
            dup = crow[j] == lrow[i];
        if (!dup)
            crow[nc++] = lrow[i];
    }
    struct labmap_candidate cand[MC_K_COS + MC_K_LEX];
    struct labmap_scored ranked[MC_K_COS + MC_K_LEX];
    for (size_t i = 0; i < nc; i++) {
        size_t r = crow[i];
        cand[i].code = index_field(&m->idx, r, m->f_code);
        cand[i].name = index_field(&m->idx, r, m->f_name);
        cand[i].property = index_field(&m->idx, r, m->f_prop);
        cand[i].system = index_field(&m->idx, r, m->f_sys);
        cand[i].units = index_field(&m->idx, r, m->f_units);
        cand[i].cosine = scores[r];
    }
    struct labmap_query lq = {q->name, labmap_specimen_words(q->specimen), q->unit};
    struct labmap_result res;
    labmap_rank(&lq, cand, nc, &m->lp, ranked, &res);
    d->has_candidates = nc > 0;
    d->loinc_score = res.score;
    if (res.best >= 0)
        snprintf(d->best, sizeof d->best, "%s", cand[res.best].code);
    long chosen = res.accepted ? res.best : -1;
    const char *source = res.accepted ? "embedding" : NULL;
    size_t o = (size_t)snprintf(d->why, sizeof d->why, "%s", res.why);

    /* the optional reranker: a pick among the offered candidates, scored,
     * within what is left of this batch's budget */
    double left = tl_llm_deadline > 0 ? tl_llm_deadline - mlw_monotonic() : m->llm.timeout_s;
    if (m->llm.url != NULL && nc > 0 && left < 0.05) {
        d->llm = LLM_OUTCOME_SKIPPED;
        metrics_count(METRICS_LLM_CALLS, llm_outcome_name(d->llm), 1);
        if (o < sizeof d->why)
            o += (size_t)snprintf(d->why + o, sizeof d->why - o,
                                  "; llm skipped: the batch's reranker time is spent"
                                  " (embedding decision kept)");
    } else if (m->llm.url != NULL && nc > 0) {
        struct llm_opts lo = m->llm;
        if (left < lo.timeout_s)
            lo.timeout_s = left;
        struct llm_candidate offer[LLM_MAX_OFFERED];
        size_t no = nc < LLM_MAX_OFFERED ? nc : LLM_MAX_OFFERED;
        for (size_t i = 0; i < no; i++) {
            offer[i].code = cand[ranked[i].cand].code;
            offer[i].name = cand[ranked[i].cand].name;
        }
        long pick = -1;
        char detail[LLM_DETAIL_LEN];
        d->llm = llm_rerank_call(&lo, q->name, q->unit, q->context, offer, no, &pick,
                                 detail, sizeof detail);
        metrics_count(METRICS_LLM_CALLS, llm_outcome_name(d->llm), 1);
        const char *verdict = "embedding decision kept";
        if (d->llm == LLM_OUTCOME_PICKED && pick >= 0 && mlctx_has_code(m, offer[pick].code)) {
            const struct labmap_scored *s = &ranked[pick];
            if (s->score >= g_opt.llm_min_score) {
                chosen = (long)s->cand;
                source = "llm";
                d->loinc_score = s->score;
                verdict = "accepted";
            } else {
                d->llm = LLM_OUTCOME_REJECTED;
                verdict = "pick scores below ML_WORKER_LLM_MIN_SCORE; embedding decision kept";
            }
        } else if (d->llm == LLM_OUTCOME_NO_MATCH) {
            chosen = -1;
            source = NULL;
            verdict = "no code";
        }
        if (o < sizeof d->why)
            o += (size_t)snprintf(d->why + o, sizeof d->why - o, "; llm %s: %s (%s)",
                                  llm_outcome_name(d->llm), detail, verdict);
    }
    if (chosen >= 0) {
        snprintf(d->loinc, sizeof d->loinc, "%s", cand[chosen].code);
        d->loinc_source = source;
    } else {
        d->needs_review = 1;
    }

    /* category: the catalog test with the accepted code, else the nearest name */
    const struct labcat_test *t = d->loinc[0] ? mc_test_with_loinc(m->cat, d->loinc) : NULL;
    if (t != NULL) {
        d->category = labcat_category_at(m->cat, (size_t)t->category)->name;
        d->category_source = "loinc";
        d->category_score = d->loinc_score;
    } else if (m->ncat > 0) {
        size_t best = 0;
        double bs = -2.0;
        for (size_t i = 0; i < m->ncat; i++) {
            const float *v = m->cat_vecs + i * (size_t)m->dim;
            double s = 0.0;
            for (int k = 0; k < m->dim; k++)
                s += (double)v[k] * (double)qv[k];
            if (s > bs) {
                bs = s;
                best = i;
            }
        }
        const struct labcat_test *bt = labcat_test_at(m->cat, best);
        d->category_score = bs;
        if (bs >= g_opt.category_min_score) {
            d->category = labcat_category_at(m->cat, (size_t)bt->category)->name;
            d->category_source = "embedding";
        }
        if (o < sizeof d->why)
            snprintf(d->why + o, sizeof d->why - o, "; nearest catalog test '%s' cosine %.3f%s",
                     bt->name, bs, d->category ? " gives its category" : " (too far: Others)");
    }
out:
    free(qv);
    free(scores);
    free(cnt);
    return rc;
}

void mlctx_llm_budget_start(void)
{
    tl_llm_deadline = g_opt.llm_url != NULL ? mlw_monotonic() + g_opt.llm_batch_seconds : 0;
}

int mlctx_decide(struct mlctx *m, const struct mlctx_query *q, struct mlctx_decision *d,
                 struct mlw_err *err)
{
    memset(d, 0, sizeof *d);
    char *key = mc_cache_key(q);
    if (key != NULL && mc_cache_get(m, key, d)) {
        free(key);
        return MLW_OK;
    }
    int rc = mc_decide_uncached(m, q, d, err);
    /* a reranker that failed or was skipped is asked again next time */
    if (rc == MLW_OK && key != NULL && d->llm != LLM_OUTCOME_ERROR &&
        d->llm != LLM_OUTCOME_TIMEOUT && d->llm != LLM_OUTCOME_SKIPPED) {
        mc_cache_put(m, key, d);
        key = NULL;
    }
    free(key);
    if (rc == MLW_OK) {
        metrics_count(METRICS_LAB_ML, d->loinc_source == NULL ? "loinc_review"
                                      : strcmp(d->loinc_source, "llm") == 0 ? "loinc_llm"
                                                                             : "loinc_embedding",
                      1);
        if (d->category_source != NULL)
            metrics_count(METRICS_LAB_ML, strcmp(d->category_source, "loinc") == 0
                                              ? "category_loinc"
                                              : "category_embedding",
                          1);
    }
    return rc;
}
