/*
 * bert.c - BERT encoder: weight loading (the only file I/O, in bert_load)
 * and the forward pass; see bert.h for the math.
 *
 * Execution model. bert_load() starts n_threads - 1 workers; the thread that
 * calls bert_embed() is worker 0. bert_embed() splits the batch into chunks
 * of at most cap_tokens packed tokens, and for each chunk publishes a job
 * (bumps `generation`) and runs bert_forward(tid = 0). Every worker runs the
 * same bert_forward() on its share of each step, with a barrier between
 * steps that read what another thread wrote:
 *
 *   embed rows | {QKV cols | attention (seq, head) | Wo cols | add+LN rows |
 *   W1+gelu cols | W2 cols | add+LN rows} x layers | pool sequences
 *
 * The last barrier of bert_forward() is also the completion signal: when
 * worker 0 passes it, every worker has finished the chunk. Workers then wait
 * for the next generation (or `shutdown`).
 *
 * Invariants: a chunk holds at least one sequence and at most cap_tokens
 * tokens; every sequence is 1..max_position tokens; all ids are in range
 * (checked before any work starts, so the forward pass cannot fail).
 */
#include "ml/bert.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ml/gelu.h"
#include "ml/qgemm.h"
#include "ml/safetensors.h"
#include "ml/sgemm.h"
#include "ml/weights.h"

/*
** Element-wise loops are written over blocks of 16 with a constant trip count
** (and a scalar tail): GCC vectorizes those at -O2, and on x86-64 the
** functions marked BERT_CLONES are also compiled for AVX2 and AVX-512 and
** chosen at load time.
*/
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BERT_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define BERT_CLONES
#endif

#define BERT_MAX_LAYERS 256
#define BERT_MAX_THREADS 256
#define BERT_DEFAULT_BATCH_TOKENS 2048
/* Query rows per attention block: the score buffer is [BERT_QBLOCK, max_pos]. */
#define BERT_QBLOCK 64

/* y = x W^T + b with W [n, k]: fp32 in place (w), or packed bf16/int8 (q). */
struct bert_linear {
    const float *w;            /* fp32 [n, k], or NULL when q holds the weights */
    struct qgemm_weights q;
    const float *b;            /* [n] */
};

struct bert_layer {
    struct bert_linear wq, wk, wv; /* [H, H] */
    struct bert_linear wo;         /* [H, H] */
    const float *ln1_g, *ln1_b;    /* [H] */
    struct bert_linear w1;         /* [FF, H] */
    struct bert_linear w2;         /* [H, FF] */
    const float *ln2_g, *ln2_b;    /* [H] */
};

struct bert_model;

/* A weight matrix waiting to be packed (bf16/int8 loading). */
struct bert_conv {
    const struct safetensors_tensor *t;
    int n, k;
    struct bert_linear *lin;
    int rc;
    struct mlw_err err;
};

struct bert_worker_arg {
    struct bert_model *m;
    int tid;
};

/* One chunk of packed sequences, set by bert_embed() for the workers. */
struct bert_job {
    const int32_t *const *ids; /* n_seq sequences */
    const int *lens;
    int n_seq;
    int n_tok;                 /* sum of lens */
    float *out;                /* [n_seq, H] */
};

struct bert_model {
    struct model_config cfg;
    struct safetensors st;
    int H, FF, n_heads, d_head, n_layers, max_pos, vocab;
    float eps;
    int normalize;
    enum bert_dtype dtype;     /* FP32, BF16 or INT8 */
    enum qgemm_type qtype;     /* BF16/INT8: the packed weight type */

    const float *word;         /* [vocab, H] */
    int word_mapped;           /* word lies in the file mapping: bert_release_word_table() */
    const float *pos;          /* [max_pos, H] */
    const float *type0;        /* [H]: token type 0 */
    const float *emb_ln_g, *emb_ln_b;
    struct bert_layer *layers;

    float **owned;             /* fp32 copies of F16/BF16/unaligned tensors */
    size_t n_owned, cap_owned;
    struct bert_conv *convs;   /* loading only: weights to pack */
    size_t n_convs, cap_convs;

    /* workspace for one chunk; each layer reuses two buffers:
     *   big: Q | K | V [T, 3H], then the Wo output [T, H], then gelu(W1 x) [T, FF]
     *   ctx: the attention output [T, H], then the W2 output [T, H]
     * (each step reads a buffer only after the barrier that ends its last writer) */
    int cap_tokens;
    float *x;                  /* [cap_tokens, H]   hidden states */
    float *big;                /* [cap_tokens, max(3H, FF)] */
    float *ctx;                /* [cap_tokens, H] */
    float *scores;             /* [n_threads, BERT_QBLOCK, max_pos] */
    int *seq_start;            /* [cap_tokens] token offset of each sequence */
    uint8_t *act;              /* BF16/INT8: [cap_tokens, act_ld] prepared activations */
    size_t act_ld;             /* bytes per prepared row (the widest input, FF) */
    float *act_scale;          /* INT8: [cap_tokens] per-row activation scale */
    float *qscratch;           /* [n_threads, qscratch_n] for the portable bf16 kernel */
    size_t qscratch_n;
    float *sscratch;           /* FP32 with sgemm: [n_threads, sscratch_n], 64-byte aligned */
    size_t sscratch_n;

    /* threads */
    int n_threads;
    pthread_t *threads;        /* n_threads - 1 workers */
    struct bert_worker_arg *args; /* [n_threads]; args[0] unused (the caller) */
    int n_started;
    pthread_mutex_t embed_lock; /* one bert_embed() at a time */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long generation;
    int shutdown;
    int sync_ready;            /* mu/cv/barrier initialised */
    int lock_ready;
    pthread_barrier_t barrier;
    struct bert_job job;
    atomic_int attn_next[BERT_MAX_LAYERS]; /* work-item counters, reset per chunk */
};


/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static int bert_keep(struct bert_model *m, float *p)
{
    if (m->n_owned == m->cap_owned) {
        size_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **n = realloc(m->owned, cap * sizeof *n);
        if (n == NULL)
            return -1;
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return 0;
}

/*
** Fetch tensor prefix+name with shape [d0] (d1 == 0) or [d0, d1] as fp32:
** in place from the mapping when it is aligned F32, else a converted copy.
*/
static int bert_tensor(struct bert_model *m, const char *prefix, const char *name, int64_t d0,
                       int64_t d1, const float **out, struct mlw_err *err)
{
    char full[256];
    int n = snprintf(full, sizeof full, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof full)
        return mlw_err_set(err, MLW_EINVAL, "tensor name too long: %s%s", prefix, name);
    int64_t shape[2] = {d0, d1};
    const struct safetensors_tensor *t;
    int rc = safetensors_get_float(&m->st, full, d1 ? 2 : 1, shape, &t, err);
    if (rc != MLW_OK)
        return rc;
    if (t->dtype == SAFETENSORS_DTYPE_F32 && ((uintptr_t)t->data % _Alignof(float)) == 0) {
        *out = t->data;
        return MLW_OK;
    }
    float *copy = malloc(t->numel * sizeof(float));
    if (copy == NULL || bert_keep(m, copy) != 0) {
        free(copy);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory converting tensor \"%s\"",
                           m->st.path, full);
    }
    safetensors_to_f32(t->dtype, t->data, t->numel, copy);
    *out = copy;
    return MLW_OK;
}

/* Give the pages wholly inside [p, p + len) of the read-only mapping back to
 * the kernel: they were read once to convert the weights and are not needed
 * again (touching them later would just read the file again). */
static void bert_release_pages(const void *p, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
    uintptr_t b = ((uintptr_t)p + len) / (uintptr_t)pg * (uintptr_t)pg;
    if (b > a)
        (void)madvise((void *)a, b - a, MADV_DONTNEED); /* advisory: failure is harmless */
}

/*
** Give back the resident pages of the word-embedding table (when it lies in
** the file mapping). Reading one random row maps the 64 KB around it (the
** kernel's fault-around), so without this a 2048-token batch leaves most of
** the table (89 MB for BERT-base) resident. The mapping is file-backed and
** read-only: a later read of a released page maps it again from the page
** cache. Any thread may call it, also while others read the table.
*/
#define BERT_RELEASE_ROWS 64 /* rows a thread reads between two releases */
static void bert_release_word_table(const struct bert_model *m)
{
    if (m->word_mapped)
        bert_release_pages(m->word, (size_t)m->vocab * (size_t)m->H * sizeof(float));
}

/*
** Weight prefix+name [n, k] and bias prefix+bname [n] of one Linear layer.
** fp32: the weight is used in place (bert_tensor). bf16/int8: the tensor is
** checked now and queued in m->convs; bert_convert_all() packs it into
** lin->q later, on all threads.
*/
static int bert_linear_load(struct bert_model *m, const char *prefix, const char *name,
                            const char *bname, int n, int k, struct bert_linear *lin,
                            struct mlw_err *err)
{
    int rc = bert_tensor(m, prefix, bname, n, 0, &lin->b, err);
    if (rc != MLW_OK)
        return rc;
    if (m->dtype == BERT_DTYPE_FP32)
        return bert_tensor(m, prefix, name, n, k, &lin->w, err);

    char full[256];
    int len = snprintf(full, sizeof full, "%s%s", prefix, name);
    if (len < 0 || (size_t)len >= sizeof full)
        return mlw_err_set(err, MLW_EINVAL, "tensor name too long: %s%s", prefix, name);
    int64_t shape[2] = {n, k};
    const struct safetensors_tensor *t;
    rc = safetensors_get_float(&m->st, full, 2, shape, &t, err);
    if (rc != MLW_OK)
        return rc;
    if (m->n_convs == m->cap_convs) {
        size_t cap = m->cap_convs ? 2 * m->cap_convs : 64;
        struct bert_conv *c = realloc(m->convs, cap * sizeof *c);
        if (c == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        m->convs = c;
        m->cap_convs = cap;
    }
    m->convs[m->n_convs++] = (struct bert_conv){.t = t, .n = n, .k = k, .lin = lin};
    return MLW_OK;
}

/* Pack one queued weight (see bert_linear_load) and release its pages. */
static int bert_convert_one(struct bert_model *m, const struct bert_conv *c,
                            struct mlw_err *qerr)
{
    const struct safetensors_tensor *t = c->t;
    int rc;
    if (t->dtype == SAFETENSORS_DTYPE_F32 && (uintptr_t)t->data % _Alignof(float) == 0) {
        rc = qgemm_weights_init(&c->lin->q, m->qtype, t->data, c->n, c->k, qerr);
    } else if (t->dtype == SAFETENSORS_DTYPE_BF16 &&
               (uintptr_t)t->data % _Alignof(uint16_t) == 0) {
        rc = qgemm_weights_init_bf16(&c->lin->q, m->qtype, t->data, c->n, c->k, qerr);
    } else {
        float *tmp = malloc(t->numel * sizeof *tmp);
        if (tmp == NULL)
            return mlw_err_set(qerr, MLW_ENOMEM, "out of memory");
        safetensors_to_f32(t->dtype, t->data, t->numel, tmp);
        rc = qgemm_weights_init(&c->lin->q, m->qtype, tmp, c->n, c->k, qerr);
        free(tmp);
    }
    if (rc == MLW_OK)
        bert_release_pages(t->data, t->nbytes);
    return rc;
}

struct bert_conv_pool {
    struct bert_model *m;
    atomic_size_t next;
};

static void *bert_convert_worker(void *arg)
{
    struct bert_conv_pool *p = arg;
    struct bert_model *m = p->m;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= m->n_convs)
            return NULL;
        m->convs[i].rc = bert_convert_one(m, &m->convs[i], &m->convs[i].err);
    }
}

/* Run the queued conversions on up to m->n_threads threads. */
static int bert_convert_all(struct bert_model *m, struct mlw_err *err)
{
    struct bert_conv_pool pool = {.m = m};
    atomic_init(&pool.next, 0);
    pthread_t th[BERT_MAX_THREADS];
    int started = 0;
    for (int t = 1; t < m->n_threads && (size_t)t < m->n_convs; t++) {
        if (pthread_create(&th[started], NULL, bert_convert_worker, &pool) != 0)
            break; /* fewer helpers is fine: the caller converts the rest */
        started++;
    }
    bert_convert_worker(&pool);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    for (size_t i = 0; i < m->n_convs; i++)
        if (m->convs[i].rc != MLW_OK)
            return mlw_err_set(err, m->convs[i].rc, "%s: tensor \"%s\": %s", m->st.path,
                               m->convs[i].t->name, m->convs[i].err.msg);
    return MLW_OK;
}

/* LayerNorm parameters: ".weight"/".bias", or the older ".gamma"/".beta". */
static int bert_layernorm(struct bert_model *m, const char *prefix, const char *base,
                          const float **g, const float **b, struct mlw_err *err)
{
    char wname[200], bname[200];
    snprintf(wname, sizeof wname, "%s%s.weight", prefix, base);
    const char *wsuf = ".weight", *bsuf = ".bias";
    if (safetensors_find(&m->st, wname) == NULL) {
        snprintf(wname, sizeof wname, "%s%s.gamma", prefix, base);
        if (safetensors_find(&m->st, wname) != NULL) {
            wsuf = ".gamma";
            bsuf = ".beta";
        }
    }
    snprintf(wname, sizeof wname, "%s%s", base, wsuf);
    snprintf(bname, sizeof bname, "%s%s", base, bsuf);
    int rc = bert_tensor(m, prefix, wname, m->H, 0, g, err);
    if (rc == MLW_OK)
        rc = bert_tensor(m, prefix, bname, m->H, 0, b, err);
    return rc;
}

static int bert_load_weights(struct bert_model *m, struct mlw_err *err)
{
    const char *prefix = "";
    if (safetensors_find(&m->st, "embeddings.word_embeddings.weight") == NULL &&
        safetensors_find(&m->st, "bert.embeddings.word_embeddings.weight") != NULL)
        prefix = "bert.";
    int H = m->H, FF = m->FF;
    int rc;
    const float *types;
    if ((rc = bert_tensor(m, prefix, "embeddings.word_embeddings.weight", m->vocab, H, &m->word,
                          err)) ||
        (rc = bert_tensor(m, prefix, "embeddings.position_embeddings.weight", m->max_pos, H,
                          &m->pos, err)) ||
        (rc = bert_tensor(m, prefix, "embeddings.token_type_embeddings.weight",
                          m->cfg.type_vocab_size, H, &types, err)) ||
        (rc = bert_layernorm(m, prefix, "embeddings.LayerNorm", &m->emb_ln_g, &m->emb_ln_b,
                             err)))
        return rc;
    m->type0 = types;
    /* only pages of the file mapping may be released (bert_release_word_table) */
    const uint8_t *map = m->st.map, *w0 = (const uint8_t *)m->word;
    m->word_mapped = map != NULL && w0 >= map &&
                     w0 + (size_t)m->vocab * (size_t)H * sizeof(float) <= map + m->st.map_len;

    for (int l = 0; l < m->n_layers; l++) {
        struct bert_layer *L = &m->layers[l];
        char p[64];
        snprintf(p, sizeof p, "%sencoder.layer.%d.", prefix, l);
        if ((rc = bert_linear_load(m, p, "attention.self.query.weight",
                                   "attention.self.query.bias", H, H, &L->wq, err)) ||
            (rc = bert_linear_load(m, p, "attention.self.key.weight",
                                   "attention.self.key.bias", H, H, &L->wk, err)) ||
            (rc = bert_linear_load(m, p, "attention.self.value.weight",
                                   "attention.self.value.bias", H, H, &L->wv, err)) ||
            (rc = bert_linear_load(m, p, "attention.output.dense.weight",
                                   "attention.output.dense.bias", H, H, &L->wo, err)) ||
            (rc = bert_layernorm(m, p, "attention.output.LayerNorm", &L->ln1_g, &L->ln1_b,
                                 err)) ||
            (rc = bert_linear_load(m, p, "intermediate.dense.weight", "intermediate.dense.bias",
                                   FF, H, &L->w1, err)) ||
            (rc = bert_linear_load(m, p, "output.dense.weight", "output.dense.bias", H, FF,
                                   &L->w2, err)) ||
            (rc = bert_layernorm(m, p, "output.LayerNorm", &L->ln2_g, &L->ln2_b, err)))
            return rc;
    }
    /* A layer beyond num_hidden_layers means config.json and weights disagree. */
    char extra[64];
    snprintf(extra, sizeof extra, "%sencoder.layer.%d.output.dense.weight", prefix, m->n_layers);
    if (safetensors_find(&m->st, extra) != NULL)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: has tensor \"%s\" but config.json says num_hidden_layers=%d",
                           m->st.path, extra, m->n_layers);
    return MLW_OK;
}

int bert_dtype_parse(const char *s, enum bert_dtype *out)
{
    static const struct {
        const char *name;
        enum bert_dtype dtype;
    } names[] = {
        {"fp32", BERT_DTYPE_FP32}, {"f32", BERT_DTYPE_FP32},       {"float32", BERT_DTYPE_FP32},
        {"bf16", BERT_DTYPE_BF16}, {"bfloat16", BERT_DTYPE_BF16}, {"int8", BERT_DTYPE_INT8},
        {"i8", BERT_DTYPE_INT8},   {"qint8", BERT_DTYPE_INT8},
    };
    for (size_t i = 0; s != NULL && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].dtype;
            return MLW_OK;
        }
    return MLW_EINVAL;
}

const char *bert_dtype_name(enum bert_dtype dtype)
{
    switch (dtype) {
    case BERT_DTYPE_FP32: return "fp32";
    case BERT_DTYPE_BF16: return "bf16";
    case BERT_DTYPE_INT8: return "int8";
    case BERT_DTYPE_DEFAULT: break;
    }
    return "default";
}

/* opts->dtype, else ML_WORKER_MODEL_DTYPE, else fp32. */
static int bert_pick_dtype(enum bert_dtype want, enum bert_dtype *out, struct mlw_err *err)
{
    if (want != BERT_DTYPE_DEFAULT) {
        *out = want;
        return MLW_OK;
    }
    const char *env = getenv("ML_WORKER_MODEL_DTYPE");
    if (env == NULL || env[0] == '\0') {
        *out = BERT_DTYPE_FP32;
        return MLW_OK;
    }
    if (bert_dtype_parse(env, out) != MLW_OK)
        return mlw_err_set(err, MLW_EINVAL,
                           "ML_WORKER_MODEL_DTYPE=%.64s: expected fp32, bf16 or int8", env);
    return MLW_OK;
}

static int bert_default_threads(void)
{
    const char *env = getenv("ML_WORKER_THREADS");
    if (env != NULL && env[0] != '\0') {
        char *end;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 1 && v <= BERT_MAX_THREADS)
            return (int)v;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c >= 1)
            return c > BERT_MAX_THREADS ? BERT_MAX_THREADS : c;
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    if (c < 1)
        return 1;
    return c > BERT_MAX_THREADS ? BERT_MAX_THREADS : (int)c;
}

static void *bert_worker_main(void *arg);

static int bert_start_threads(struct bert_model *m, struct mlw_err *err)
{
    if (pthread_mutex_init(&m->embed_lock, NULL) != 0)
        return mlw_err_set(err, MLW_ENOMEM, "cannot create a mutex");
    m->lock_ready = 1;
    if (m->n_threads == 1)
        return MLW_OK;
    if (pthread_mutex_init(&m->mu, NULL) != 0)
        return mlw_err_set(err, MLW_ENOMEM, "cannot create a mutex");
    if (pthread_cond_init(&m->cv, NULL) != 0) {
        pthread_mutex_destroy(&m->mu);
        return mlw_err_set(err, MLW_ENOMEM, "cannot create a condition variable");
    }
    if (pthread_barrier_init(&m->barrier, NULL, (unsigned)m->n_threads) != 0) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        return mlw_err_set(err, MLW_ENOMEM, "cannot create a barrier");
    }
    m->sync_ready = 1;
    m->threads = calloc((size_t)m->n_threads, sizeof *m->threads);
    m->args = calloc((size_t)m->n_threads, sizeof *m->args);
    if (m->threads == NULL || m->args == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory for %d threads", m->n_threads);
    for (int t = 1; t < m->n_threads; t++) {
        m->args[t].m = m;
        m->args[t].tid = t;
        int e = pthread_create(&m->threads[t - 1], NULL, bert_worker_main, &m->args[t]);
        if (e != 0) /* bert_free() stops the ones that started */
            return mlw_err_set(err, MLW_ENOMEM, "cannot start encoder thread %d of %d: %s", t,
                               m->n_threads, strerror(e));
        m->n_started++;
    }
    return MLW_OK;
}

int bert_load(const char *dir, const struct bert_opts *opts, struct bert_model **out,
              struct mlw_err *err)
{
    *out = NULL;
    struct bert_opts def = {0};
    if (opts == NULL)
        opts = &def;
    struct bert_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc = model_config_load(dir, &m->cfg, err);
    if (rc != MLW_OK)
        goto fail;
    const struct model_config *c = &m->cfg;
    m->H = c->hidden_size;
    m->FF = c->intermediate_size;
    m->n_heads = c->num_attention_heads;
    m->d_head = c->hidden_size / c->num_attention_heads;
    m->n_layers = c->num_hidden_layers;
    m->max_pos = c->max_position_embeddings;
    m->vocab = c->vocab_size;
    m->eps = c->layer_norm_eps;
    m->normalize = !opts->no_normalize;
    rc = bert_pick_dtype(opts->dtype, &m->dtype, err);
    if (rc != MLW_OK)
        goto fail;
    m->qtype = m->dtype == BERT_DTYPE_INT8 ? QGEMM_TYPE_I8 : QGEMM_TYPE_BF16;
    if (m->n_layers > BERT_MAX_LAYERS) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s/config.json: %d layers (max %d)", c->dir,
                         m->n_layers, BERT_MAX_LAYERS);
        goto fail;
    }

    /* model.safetensors, else pytorch_model.bin (weights.h) */
    rc = weights_open(c->dir, &m->st, err);
    if (rc != MLW_OK)
        goto fail;
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (m->layers == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
        goto fail;
    }
    m->n_threads = opts->n_threads > 0 ? opts->n_threads : bert_default_threads();
    if (m->n_threads > BERT_MAX_THREADS)
        m->n_threads = BERT_MAX_THREADS;
    /* The model splits the work itself; nested BLAS threads would fight it. */
    openblas_set_num_threads(1);
    rc = bert_load_weights(m, err);
    if (rc == MLW_OK)
        rc = bert_convert_all(m, err);
    free(m->convs);
    m->convs = NULL;
    m->n_convs = m->cap_convs = 0;
    if (rc != MLW_OK)
        goto fail;

    m->cap_tokens = opts->max_batch_tokens > 0 ? opts->max_batch_tokens
                                               : BERT_DEFAULT_BATCH_TOKENS;
    if (m->cap_tokens < m->max_pos)
        m->cap_tokens = m->max_pos;
    size_t T = (size_t)m->cap_tokens, H = (size_t)m->H;
    m->x = malloc(T * H * sizeof(float));
    size_t wide = 3 * H > (size_t)m->FF ? 3 * H : (size_t)m->FF;
    m->big = malloc(T * wide * sizeof(float));
    m->ctx = malloc(T * H * sizeof(float));
    m->scores = malloc((size_t)m->n_threads * BERT_QBLOCK * (size_t)m->max_pos * sizeof(float));
    m->seq_start = malloc(T * sizeof(int));
    if (!m->x || !m->big || !m->ctx || !m->scores || !m->seq_start) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for a %d-token workspace",
                         m->cap_tokens);
        goto fail;
    }
    if (m->dtype == BERT_DTYPE_FP32 && sgemm_available()) {
        int kmax = m->FF > m->H ? m->FF : m->H;
        m->sscratch_n = (sgemm_scratch_floats(kmax) + 15) / 16 * 16;
        m->sscratch = aligned_alloc(64, (size_t)m->n_threads * m->sscratch_n * sizeof(float));
        if (m->sscratch == NULL) {
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for a %d-token workspace",
                             m->cap_tokens);
            goto fail;
        }
    }
    if (m->dtype != BERT_DTYPE_FP32) {
        /* the widest input is the FFN's second matrix (k = FF) */
        const struct qgemm_weights *w2 = &m->layers[0].w2.q, *w1 = &m->layers[0].w1.q;
        m->act_ld = qgemm_act_row_bytes(w2) > qgemm_act_row_bytes(w1)
                        ? qgemm_act_row_bytes(w2) : qgemm_act_row_bytes(w1);
        m->act_ld = (m->act_ld + 63) / 64 * 64;
        m->act = malloc(T * m->act_ld);
        m->act_scale = malloc(T * sizeof(float));
        m->qscratch_n = qgemm_scratch_floats(w2);
        if (qgemm_scratch_floats(w1) > m->qscratch_n)
            m->qscratch_n = qgemm_scratch_floats(w1);
        if (m->qscratch_n > 0)
            m->qscratch = malloc((size_t)m->n_threads * m->qscratch_n * sizeof(float));
        if (m->act == NULL || m->act_scale == NULL || (m->qscratch_n > 0 && !m->qscratch)) {
            rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for a %d-token workspace",
                             m->cap_tokens);
            goto fail;
        }
    }

    rc = bert_start_threads(m, err);
    if (rc != MLW_OK)
        goto fail;
    *out = m;
    return MLW_OK;
fail:
    bert_free(m);
    return rc;
}

void bert_free(struct bert_model *m)
{
    if (m == NULL)
        return;
    if (m->n_started > 0) {
        pthread_mutex_lock(&m->mu);
        m->shutdown = 1;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        for (int t = 0; t < m->n_started; t++)
            pthread_join(m->threads[t], NULL);
    }
    if (m->sync_ready) {
        pthread_barrier_destroy(&m->barrier);
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
    }
    if (m->lock_ready)
        pthread_mutex_destroy(&m->embed_lock);
    free(m->threads);
    free(m->args);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->convs);
    for (int l = 0; m->layers != NULL && l < m->n_layers; l++) {
        struct bert_layer *L = &m->layers[l];
        qgemm_weights_free(&L->wq.q);
        qgemm_weights_free(&L->wk.q);
        qgemm_weights_free(&L->wv.q);
        qgemm_weights_free(&L->wo.q);
        qgemm_weights_free(&L->w1.q);
        qgemm_weights_free(&L->w2.q);
    }
    free(m->layers);
    free(m->act);
    free(m->act_scale);
    free(m->qscratch);
    free(m->sscratch);
    free(m->x);
    free(m->big);
    free(m->ctx);
    free(m->scores);
    free(m->seq_start);
    safetensors_close(&m->st);
    free(m);
}

int bert_dim(const struct bert_model *m) { return m->H; }
int bert_max_positions(const struct bert_model *m) { return m->max_pos; }
int bert_threads(const struct bert_model *m) { return m->n_threads; }
const struct model_config *bert_config(const struct bert_model *m) { return &m->cfg; }
enum bert_dtype bert_dtype(const struct bert_model *m) { return m->dtype; }

const char *bert_kernel_name(const struct bert_model *m)
{
    if (m->dtype == BERT_DTYPE_FP32)
        return m->sscratch != NULL ? "avx512-sgemm-nt" : "openblas-sgemm";
    return qgemm_kernel_name(m->qtype);
}

/* ------------------------------------------------------------------------ */
/* Compute kernels: memory in, memory out.                                   */

/* [lo, hi) of n items for thread tid of nt; boundaries on multiples of `align`. */
static void bert_split(int n, int tid, int nt, int align, int *lo, int *hi)
{
    long a = (long)n * tid / nt, b = (long)n * (tid + 1) / nt;
    if (align > 1) {
        a = a / align * align;
        b = tid == nt - 1 ? n : b / align * align;
    }
    *lo = (int)a;
    *hi = (int)b;
}

/* y[:, c0:c1] += b[c0:c1], then gelu (gelu.h) if asked. y: [T, *] (row stride ldy). */
BERT_CLONES
static void bert_add_vec(float *y, const float *b, int n)
{
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++)
            y[j + l] += b[j + l];
    for (; j < n; j++)
        y[j] += b[j];
}

static void bert_bias_act(float *y, int ldy, int T, const float *b, int c0, int c1, int gelu)
{
    for (int t = 0; t < T; t++) {
        float *row = y + (size_t)t * (size_t)ldy;
        bert_add_vec(row + c0, b + c0, c1 - c0);
        if (gelu)
            gelu_erf(row + c0, (size_t)(c1 - c0));
    }
}

/*
** y[:, c0:c1] = x · W[c0:c1, :]^T + b[c0:c1], optionally followed by gelu.
** x: [T, k] (row stride ldx); W: [n, k] row-major (PyTorch Linear layout);
** y: [T, n] (row stride ldy). Only columns c0..c1-1 are written.
** Packed weights (bf16/int8) read the activations prepared from x by
** bert_prepare() (act, act_scale); scratch is the thread's qgemm scratch.
** fp32 runs sgemm_nt() when sscratch (the thread's sgemm scratch) is given,
** else cblas_sgemm.
*/
static void bert_linear_cols(const struct bert_model *m, const float *x, int ldx, int T, int k,
                             const struct bert_linear *lin, float *y, int ldy, int c0, int c1,
                             int gelu, float *scratch, float *sscratch)
{
    int nc = c1 - c0;
    if (nc <= 0 || T <= 0)
        return;
    if (lin->w == NULL) { /* packed bf16/int8: bias and gelu fused in the kernel */
        qgemm_matmul(&lin->q, x, (size_t)ldx, m->act, m->act_ld, m->act_scale, T, y,
                     (size_t)ldy, c0, c1, lin->b, gelu, scratch);
        return;
    }
    if (sscratch != NULL) { /* fp32 on the weights in place, bias and gelu fused */
        struct sgemm_out o = {lin->w, lin->b, y};
        sgemm_nt(x, (size_t)ldx, T, k, &o, 1, (size_t)ldy, c0, c1, gelu, sscratch);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nc, k, 1.0f, x, ldx,
                lin->w + (size_t)c0 * (size_t)k, k, 0.0f, y + c0, ldy);
    bert_bias_act(y, ldy, T, lin->b, c0, c1, gelu);
}

/* bf16/int8: prepare rows t0..t1-1 of x ([T, k], stride ldx) for the next products. */
static void bert_prepare(struct bert_model *m, const float *x, int ldx, int k, int t0, int t1)
{
    if (m->dtype != BERT_DTYPE_FP32)
        qgemm_prepare_rows(m->qtype, k, x, (size_t)ldx, t0, t1, m->act, m->act_ld,
                           m->act_scale);
}

/*
** row = LayerNorm(row) = (row - mean) / sqrt(var + eps) · g + b, biased var.
** Sums run in 16 float lanes (blocks with a constant trip count vectorize at
** -O2) and are combined in double.
*/
BERT_CLONES
static void bert_layernorm_row(float *row, int H, const float *g, const float *b, float eps)
{
    float acc[16] = {0};
    int j = 0;
    for (; j + 16 <= H; j += 16)
        for (int l = 0; l < 16; l++)
            acc[l] += row[j + l];
    double sum = 0.0;
    for (; j < H; j++)
        sum += row[j];
    for (int l = 0; l < 16; l++)
        sum += acc[l];
    const float mean = (float)(sum / H);
    for (int l = 0; l < 16; l++)
        acc[l] = 0.0f;
    for (j = 0; j + 16 <= H; j += 16)
        for (int l = 0; l < 16; l++) {
            float d = row[j + l] - mean;
            acc[l] += d * d;
        }
    double var = 0.0;
    for (; j < H; j++) {
        double d = (double)row[j] - mean;
        var += d * d;
    }
    for (int l = 0; l < 16; l++)
        var += acc[l];
    var /= H;
    const float inv = (float)(1.0 / sqrt(var + (double)eps));
    for (j = 0; j + 16 <= H; j += 16)
        for (int l = 0; l < 16; l++)
            row[j + l] = (row[j + l] - mean) * inv * g[j + l] + b[j + l];
    for (; j < H; j++)
        row[j] = (row[j] - mean) * inv * g[j] + b[j];
}

/* x[t] = LayerNorm(x[t] + r[t]) for t in [t0, t1). x, r: [T, H]. */
static void bert_add_layernorm(float *x, const float *r, int H, int t0, int t1, const float *g,
                               const float *b, float eps)
{
    for (int t = t0; t < t1; t++) {
        float *row = x + (size_t)t * (size_t)H;
        bert_add_vec(row, r + (size_t)t * (size_t)H, H);
        bert_layernorm_row(row, H, g, b, eps);
    }
}

/*
** exp(x) for x <= 0 (softmax arguments): x = n·ln2 + r with n = round(x·log2 e)
** and r in [-ln2/2, ln2/2] (ln2 split in a high part exact in float and a low
** part), exp(r) by its Taylor polynomial of degree 6 (error < 2e-7 relative),
** times 2^n built in the exponent bits. x is clamped to -87 (exp(-87) =
** 1.6e-38 stands for anything smaller; it vanishes in the softmax sum).
** No branches or calls, so loops over it vectorize.
*/
static inline float bert_exp_neg(float x)
{
    x = x > -87.0f ? x : -87.0f;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* In place: s[j] = exp(s[j] - max) / Σ exp(s[k] - max). */
BERT_CLONES
static void bert_softmax_row(float *s, int n)
{
    float m16[16], a16[16] = {0};
    for (int l = 0; l < 16; l++)
        m16[l] = s[0];
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++)
            m16[l] = s[j + l] > m16[l] ? s[j + l] : m16[l];
    float mx = s[0];
    for (; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    for (int l = 0; l < 16; l++)
        mx = m16[l] > mx ? m16[l] : mx;
    float sum = 0.0f;
    for (j = 0; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++) {
            float e = bert_exp_neg(s[j + l] - mx);
            s[j + l] = e;
            a16[l] += e;
        }
    for (; j < n; j++) {
        s[j] = bert_exp_neg(s[j] - mx);
        sum += s[j];
    }
    for (int l = 0; l < 16; l++)
        sum += a16[l];
    float inv = 1.0f / sum;
    for (j = 0; j + 16 <= n; j += 16)
        for (int l = 0; l < 16; l++)
            s[j + l] *= inv;
    for (; j < n; j++)
        s[j] *= inv;
}

/*
** One head of self-attention over one packed sequence of L tokens:
**   ctx_h = softmax(Q_h K_h^T / sqrt(d)) V_h
** q: first row of Q_h inside qkv (row stride 3H; K_h at q + H, V_h at
** q + 2H); c: first row of ctx_h (row stride H). scores: [BERT_QBLOCK, L].
** Query rows are processed in blocks so the buffer never needs L x L.
*/
static void bert_attention_head(const float *q, int H, int L, int d, float *c, float *scores)
{
    const float *k = q + H, *v = q + 2 * H;
    const float scale = 1.0f / sqrtf((float)d);
    size_t ld = 3 * (size_t)H;
    for (int r0 = 0; r0 < L; r0 += BERT_QBLOCK) {
        int nr = L - r0 < BERT_QBLOCK ? L - r0 : BERT_QBLOCK;
        /* S = Q[r0:r0+nr] K^T · scale    [nr, L] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, L, d, scale,
                    q + (size_t)r0 * ld, (int)ld, k, (int)ld, 0.0f, scores, L);
        for (int i = 0; i < nr; i++)
            bert_softmax_row(scores + (size_t)i * (size_t)L, L);
        /* C[r0:r0+nr] = P V                 [nr, d] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, d, L, 1.0f, scores, L, v,
                    (int)ld, 0.0f, c + (size_t)r0 * (size_t)H, H);
    }
}

/* Pool the L rows of h ([L, H]) into e and normalise it. */
static void bert_pool(const float *h, int L, int H, enum model_config_pooling mode,
                      int normalize, float *e)
{
    switch (mode) {
    case MODEL_CONFIG_POOLING_CLS:
        memcpy(e, h, (size_t)H * sizeof(float));
        break;
    case MODEL_CONFIG_POOLING_MAX:
        memcpy(e, h, (size_t)H * sizeof(float));
        for (int t = 1; t < L; t++) {
            const float *row = h + (size_t)t * (size_t)H;
            for (int j = 0; j < H; j++)
                if (row[j] > e[j])
                    e[j] = row[j];
        }
        break;
    case MODEL_CONFIG_POOLING_MEAN:
    default:
        for (int j = 0; j < H; j++) {
            double s = 0.0;
            for (int t = 0; t < L; t++)
                s += h[(size_t)t * (size_t)H + (size_t)j];
            e[j] = (float)(s / L);
        }
        break;
    }
    if (normalize) {
        double ss = 0.0;
        for (int j = 0; j < H; j++)
            ss += (double)e[j] * e[j];
        double nrm = sqrt(ss);
        if (nrm < 1e-12)
            nrm = 1e-12;
        for (int j = 0; j < H; j++)
            e[j] = (float)(e[j] / nrm);
    }
}

/* ------------------------------------------------------------------------ */
/* Forward pass (SPMD: every thread runs this on its share).                */

static void bert_sync(struct bert_model *m)
{
    if (m->n_threads > 1)
        pthread_barrier_wait(&m->barrier);
}

static void bert_forward(struct bert_model *m, int tid)
{
    const struct bert_job *job = &m->job;
    const int nt = m->n_threads, H = m->H, FF = m->FF, T = job->n_tok;
    const int nh = m->n_heads, d = m->d_head;
    int t0, t1, c0, c1;
    bert_split(T, tid, nt, 1, &t0, &t1);

    /* x = LayerNorm(word[id] + pos[i] + type[0]) */
    int n_rows = 0;
    for (int s = 0; s < job->n_seq; s++) {
        int start = m->seq_start[s], L = job->lens[s];
        int a = start > t0 ? start : t0, b = start + L < t1 ? start + L : t1;
        for (int t = a; t < b; t++) {
            int i = t - start;
            float *row = m->x + (size_t)t * (size_t)H;
            const float *w = m->word + (size_t)job->ids[s][i] * (size_t)H;
            const float *p = m->pos + (size_t)i * (size_t)H;
            for (int j = 0; j < H; j++)
                row[j] = w[j] + p[j] + m->type0[j];
            if (++n_rows % BERT_RELEASE_ROWS == 0)
                bert_release_word_table(m);
            bert_layernorm_row(row, H, m->emb_ln_g, m->emb_ln_b, m->eps);
        }
    }
    if (n_rows % BERT_RELEASE_ROWS != 0)
        bert_release_word_table(m);
    bert_prepare(m, m->x, H, H, t0, t1);
    bert_sync(m);
    const int quant = m->dtype != BERT_DTYPE_FP32;
    float *qs = m->qscratch != NULL ? m->qscratch + (size_t)tid * m->qscratch_n : NULL;
    float *ss = m->sscratch != NULL ? m->sscratch + (size_t)tid * m->sscratch_n : NULL;

    float *scores = m->scores + (size_t)tid * BERT_QBLOCK * (size_t)m->max_pos;
    const size_t ld3 = 3 * (size_t)H;
    float *const qkv = m->big, *const tmp = m->big, *const ffn = m->big; /* see bert_model */
    for (int l = 0; l < m->n_layers; l++) {
        const struct bert_layer *L = &m->layers[l];

        /* Q | K | V = x Wq^T + bq | x Wk^T + bk | x Wv^T + bv     [T, 3H] */
        bert_split(H, tid, nt, 16, &c0, &c1);
        if (ss != NULL) { /* one pass over x for the three products */
            const struct sgemm_out o[3] = {{L->wq.w, L->wq.b, qkv},
                                           {L->wk.w, L->wk.b, qkv + H},
                                           {L->wv.w, L->wv.b, qkv + 2 * H}};
            sgemm_nt(m->x, (size_t)H, T, H, o, 3, ld3, c0, c1, 0, ss);
        } else {
            bert_linear_cols(m, m->x, H, T, H, &L->wq, qkv, (int)ld3, c0, c1, 0, qs, ss);
            bert_linear_cols(m, m->x, H, T, H, &L->wk, qkv + H, (int)ld3, c0, c1, 0, qs, ss);
            bert_linear_cols(m, m->x, H, T, H, &L->wv, qkv + 2 * H, (int)ld3, c0, c1, 0, qs,
                             ss);
        }
        bert_sync(m);

        /* ctx = concat_h softmax(Q_h K_h^T / √d) V_h, per sequence    [T, H] */
        const int n_items = job->n_seq * nh;
        for (;;) {
            int it = atomic_fetch_add_explicit(&m->attn_next[l], 1, memory_order_relaxed);
            if (it >= n_items)
                break;
            int s = it / nh, h = it % nh;
            size_t start = (size_t)m->seq_start[s];
            bert_attention_head(qkv + start * ld3 + (size_t)h * (size_t)d, H, job->lens[s],
                                d, m->ctx + start * (size_t)H + (size_t)h * (size_t)d, scores);
        }
        bert_sync(m);

        /* tmp = ctx Wo^T + bo */
        if (quant) {
            bert_prepare(m, m->ctx, H, H, t0, t1);
            bert_sync(m);
        }
        bert_linear_cols(m, m->ctx, H, T, H, &L->wo, tmp, H, c0, c1, 0, qs, ss);
        bert_sync(m);

        /* x = LayerNorm(x + tmp) */
        bert_add_layernorm(m->x, tmp, H, t0, t1, L->ln1_g, L->ln1_b, m->eps);
        bert_prepare(m, m->x, H, H, t0, t1);
        bert_sync(m);

        /* ffn = gelu(x W1^T + b1)                                     [T, FF] */
        int f0, f1;
        bert_split(FF, tid, nt, 16, &f0, &f1);
        bert_linear_cols(m, m->x, H, T, H, &L->w1, ffn, FF, f0, f1, 1, qs, ss);
        bert_sync(m);

        /* ctx = ffn W2^T + b2 (ctx is free again)                    [T, H] */
        if (quant) {
            bert_prepare(m, ffn, FF, FF, t0, t1);
            bert_sync(m);
        }
        bert_linear_cols(m, ffn, FF, T, FF, &L->w2, m->ctx, H, c0, c1, 0, qs, ss);
        bert_sync(m);

        /* x = LayerNorm(x + ctx) */
        bert_add_layernorm(m->x, m->ctx, H, t0, t1, L->ln2_g, L->ln2_b, m->eps);
        bert_prepare(m, m->x, H, H, t0, t1);
        bert_sync(m);
    }

    /* out[s] = normalise(pool(x[sequence s])) */
    int s0, s1;
    bert_split(job->n_seq, tid, nt, 1, &s0, &s1);
    for (int s = s0; s < s1; s++)
        bert_pool(m->x + (size_t)m->seq_start[s] * (size_t)H, job->lens[s], H, m->cfg.pooling,
                  m->normalize, job->out + (size_t)s * (size_t)H);
    bert_sync(m); /* completion: every thread is done with the chunk */
}

static void *bert_worker_main(void *arg)
{
    const struct bert_worker_arg *a = arg;
    struct bert_model *m = a->m;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        while (m->generation == seen && !m->shutdown)
            pthread_cond_wait(&m->cv, &m->mu);
        if (m->shutdown) {
            pthread_mutex_unlock(&m->mu);
            return NULL;
        }
        seen = m->generation;
        pthread_mutex_unlock(&m->mu);
        bert_forward(m, a->tid);
    }
}

/* Run the current m->job on all threads; returns when it is done. */
static void bert_run_chunk(struct bert_model *m)
{
    for (int l = 0; l < m->n_layers; l++)
        atomic_store_explicit(&m->attn_next[l], 0, memory_order_relaxed);
    if (m->n_threads > 1) {
        pthread_mutex_lock(&m->mu);
        m->generation++;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
    }
    bert_forward(m, 0);
}

int bert_embed(struct bert_model *m, const int32_t *const *ids, const int *lens, int n,
               float *out, struct mlw_err *err)
{
    if (n < 0 || (n > 0 && (ids == NULL || lens == NULL || out == NULL)))
        return mlw_err_set(err, MLW_EINVAL, "bert_embed: bad arguments");
    for (int s = 0; s < n; s++) {
        if (lens[s] < 1 || lens[s] > m->max_pos)
            return mlw_err_set(err, MLW_EINVAL,
                               "sequence %d has %d tokens; the model takes 1..%d", s, lens[s],
                               m->max_pos);
        if (ids[s] == NULL)
            return mlw_err_set(err, MLW_EINVAL, "sequence %d: no token ids", s);
        for (int i = 0; i < lens[s]; i++)
            if (ids[s][i] < 0 || ids[s][i] >= m->vocab)
                return mlw_err_set(err, MLW_EINVAL,
                                   "sequence %d: token id %ld at position %d is outside the "
                                   "vocabulary 0..%d", s, (long)ids[s][i], i, m->vocab - 1);
    }
    pthread_mutex_lock(&m->embed_lock);
    int s = 0;
    while (s < n) {
        int k = 0, tok = 0;
        while (s + k < n && tok + lens[s + k] <= m->cap_tokens) {
            m->seq_start[k] = tok;
            tok += lens[s + k];
            k++;
        }
        m->job.ids = ids + s;
        m->job.lens = lens + s;
        m->job.n_seq = k;
        m->job.n_tok = tok;
        m->job.out = out + (size_t)s * (size_t)m->H;
        bert_run_chunk(m);
        s += k;
    }
    pthread_mutex_unlock(&m->embed_lock);
    return MLW_OK;
}
