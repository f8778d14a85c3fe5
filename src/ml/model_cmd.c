/*
 * model_cmd.c - `mlworker model info|convert`: what a model directory holds,
 * and pytorch_model.bin -> model.safetensors. Argument handling and
 * printing; the work is in weights.c, torchbin.c and safetensors.c.
 *
 *   model info DIR                          config, weight file, dtypes, counts,
 *                                           and whether the encoder loads
 *   model convert DIR [--out FILE] [--force]
 *                                           write DIR/model.safetensors (or FILE)
 *                                           atomically, then read it back and
 *                                           compare every tensor
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml/bert.h"
#include "ml/model_config.h"
#include "ml/safetensors.h"
#include "ml/torchbin.h"
#include "ml/weights.h"

#define MC_PATH_MAX 4200

static void mc_usage(FILE *f)
{
    fprintf(f,
            "usage: mlworker model info DIR\n"
            "       mlworker model convert DIR [--out FILE] [--force]\n"
            "\n"
            "info     architecture, weight file and format, dtypes, tensor and parameter\n"
            "         counts, and whether the encoder loads from it\n"
            "convert  read DIR/pytorch_model.bin (PyTorch zip or legacy format) and write\n"
            "         DIR/model.safetensors (or FILE) atomically; --force replaces an\n"
            "         existing file. The result is read back and compared tensor by tensor.\n");
}

static void mc_human(double bytes, char *buf, size_t cap)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

static int mc_is_float(enum safetensors_dtype d)
{
    return d == SAFETENSORS_DTYPE_F32 || d == SAFETENSORS_DTYPE_F16 ||
           d == SAFETENSORS_DTYPE_BF16 || d == SAFETENSORS_DTYPE_F64;
}

static int mc_info(const char *dir)
{
    struct mlw_err err = {0};
    struct model_config cfg;
    if (model_config_load(dir, &cfg, &err) != MLW_OK) {
        fprintf(stderr, "mlworker model info: %s\n", err.msg);
        return 1;
    }
    struct safetensors st;
    if (weights_open(dir, &st, &err) != MLW_OK) {
        fprintf(stderr, "mlworker model info: %s\n", err.msg);
        return 1;
    }
    size_t count[SAFETENSORS_DTYPE_U64 + 1] = {0};
    unsigned long long params = 0, bytes = 0;
    size_t heads = 0, prefixed = 0;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const struct safetensors_tensor *t = &st.tensors[i];
        if ((size_t)t->dtype <= SAFETENSORS_DTYPE_U64)
            count[t->dtype]++;
        if (mc_is_float(t->dtype))
            params += t->numel;
        bytes += t->nbytes;
        heads += strncmp(t->name, "cls.", 4) == 0;
        prefixed += strncmp(t->name, "bert.", 5) == 0;
    }
    char size[32];
    mc_human((double)st.map_len, size, sizeof size);
    printf("model:         %s\n", dir);
    printf("architecture:  %s: %d layers, hidden %d, %d heads, intermediate %d, vocab %d, "
           "max positions %d, pooling %s\n", cfg.model_type, cfg.num_hidden_layers,
           cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size, cfg.vocab_size,
           cfg.max_position_embeddings, model_config_pooling_name(cfg.pooling));
    printf("weights:       %s (%s, %s)\n", st.path, st.format ? st.format : "?", size);
    printf("dtypes:       ");
    for (size_t d = 0; d <= SAFETENSORS_DTYPE_U64; d++)
        if (count[d])
            printf(" %s x %zu", safetensors_dtype_name((enum safetensors_dtype)d), count[d]);
    printf("\n");
    printf("tensors:       %zu (%zu with the \"bert.\" prefix, %zu \"cls.*\" heads: unused)\n",
           st.n_tensors, prefixed, heads);
    mc_human((double)bytes, size, sizeof size);
    printf("parameters:    %llu in floating-point tensors (%s of tensor data)\n", params, size);
    safetensors_close(&st);

    struct bert_opts opts = {.dtype = BERT_DTYPE_FP32, .n_threads = 1};
    struct bert_model *m = NULL;
    if (bert_load(dir, &opts, &m, &err) != MLW_OK) {
        printf("loads:         no\n");
        fprintf(stderr, "mlworker model info: %s\n", err.msg);
        return 1;
    }
    bert_free(m);
    printf("loads:         yes\n");
    return 0;
}

struct mc_progress {
    uint64_t next;
    int on;
};

static void mc_progress_cb(void *arg, uint64_t done, uint64_t total)
{
    struct mc_progress *p = arg;
    if (!p->on || total == 0)
        return;
    if (done >= p->next || done == total) {
        char a[32], b[32];
        mc_human((double)done, a, sizeof a);
        mc_human((double)total, b, sizeof b);
        fprintf(stderr, "mlworker model convert: %s of %s (%d%%)\n", a, b,
                (int)(done * 100 / total));
        while (p->next <= done)
            p->next += total / 10 ? total / 10 : 1;
    }
}

/* Read `out` back and compare every tensor with the source. */
static int mc_verify(const struct safetensors *src, const char *out, struct mlw_err *err)
{
    struct safetensors dst;
    int rc = safetensors_open(out, &dst, err);
    if (rc != MLW_OK)
        return rc;
    if (dst.n_tensors != src->n_tensors)
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: %zu tensors written, %zu read back", out,
                         src->n_tensors, dst.n_tensors);
    for (size_t i = 0; rc == MLW_OK && i < src->n_tensors; i++) {
        const struct safetensors_tensor *a = &src->tensors[i];
        const struct safetensors_tensor *b = safetensors_find(&dst, a->name);
        if (b == NULL || b->dtype != a->dtype || b->ndim != a->ndim ||
            b->nbytes != a->nbytes || memcmp(b->shape, a->shape, sizeof a->shape[0] *
                                             (size_t)a->ndim) != 0 ||
            memcmp(b->data, a->data, a->nbytes) != 0)
            rc = mlw_err_set(err, MLW_EIO, "%s: tensor \"%.200s\" differs from the source "
                             "after writing", out, a->name);
    }
    safetensors_close(&dst);
    return rc;
}

static int mc_convert(const char *dir, const char *out_arg, int force)
{
    char src[MC_PATH_MAX], out[MC_PATH_MAX];
    int n = snprintf(src, sizeof src, "%s/%s", dir, WEIGHTS_TORCH);
    int m = out_arg ? snprintf(out, sizeof out, "%s", out_arg)
                    : snprintf(out, sizeof out, "%s/%s", dir, WEIGHTS_SAFETENSORS);
    if (n < 0 || (size_t)n >= sizeof src || m < 0 || (size_t)m >= sizeof out) {
        fprintf(stderr, "mlworker model convert: path too long\n");
        return 2;
    }
    if (access(out, F_OK) == 0 && !force) {
        fprintf(stderr, "mlworker model convert: %s exists (--force replaces it)\n", out);
        return 1;
    }
    struct mlw_err err = {0};
    struct safetensors st;
    if (torchbin_open(src, TORCHBIN_VERIFY_CRC, &st, &err) != MLW_OK) {
        fprintf(stderr, "mlworker model convert: %s\n", err.msg);
        return 1;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < st.n_tensors; i++)
        total += st.tensors[i].nbytes;
    struct mc_progress prog = {.next = total / 10, .on = total >= (64u << 20)};
    int rc = safetensors_write(&st, out, mc_progress_cb, &prog, &err);
    if (rc == MLW_OK)
        rc = mc_verify(&st, out, &err);
    if (rc != MLW_OK) {
        fprintf(stderr, "mlworker model convert: %s\n", err.msg);
        safetensors_close(&st);
        return 1;
    }
    char size[32];
    mc_human((double)total, size, sizeof size);
    printf("wrote %s: %zu tensors, %s (from %s, %s; read back and compared)\n", out,
           st.n_tensors, size, src, st.format);
    safetensors_close(&st);
    return 0;
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        mc_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    const char *dir = NULL, *out = NULL;
    int force = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            mc_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc && dir == NULL) {
            dir = argv[++i];
        } else if (argv[i][0] != '-' && dir == NULL) {
            dir = argv[i];
        } else {
            fprintf(stderr, "mlworker model: unexpected argument '%s'\n", argv[i]);
            mc_usage(stderr);
            return 2;
        }
    }
    if (dir == NULL) {
        fprintf(stderr, "mlworker model %s: missing the model directory\n", sub);
        mc_usage(stderr);
        return 2;
    }
    if (strcmp(sub, "info") == 0 && out == NULL && !force)
        return mc_info(dir);
    if (strcmp(sub, "convert") == 0)
        return mc_convert(dir, out, force);
    fprintf(stderr, "mlworker model: unknown subcommand or option for '%s'\n", sub);
    mc_usage(stderr);
    return 2;
}
