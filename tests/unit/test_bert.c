/*
 * test_bert.c - model directory configuration, weight loading errors and
 * encoder invariants on a tiny model written by this test (no Python).
 * Numerical parity with PyTorch is tests/integration/test_bert_parity.sh,
 * which drives this executable as:
 *
 *   test_bert --embed-ids [--threads N] [--batch N] DIR < ids.jsonl
 *
 * (the same code as `mlworker embed-ids`, cmd_embed_ids() in embed_cmd.c).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ml/bert.h"
#include "ml/model_config.h"

/* Tiny shape: H=8, 2 heads, FFN 16, 2 layers, vocab 40, 16 positions. */
enum { T_H = 8, T_FF = 16, T_LAYERS = 2, T_VOCAB = 40, T_POS = 16, T_TYPES = 2 };

struct tiny_opts {
    const char *dtype;       /* "F32" (default) or "F16" */
    const char *prefix;      /* "" or "bert." */
    const char *skip;        /* tensor name (unprefixed) to leave out */
    const char *reshape;     /* tensor name (unprefixed) to store as [n+1] / [r+1, c] */
    const char *int_tensor;  /* tensor name stored as I64 instead */
    int extra_layer;         /* write one more layer than config.json says */
    int config_vocab;        /* vocab_size in config.json (0: T_VOCAB) */
    const char *pooling;     /* "mean" (default), "cls", "max" */
};

static uint64_t g_rng;

static float rnd(void)
{
    uint64_t x = g_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g_rng = x;
    return (float)((x * 2685821657736338717ull) >> 40) / (float)(1u << 24) - 0.5f;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static uint16_t f32_to_f16(float v)
{
    /* round-to-nearest for normal-range values (enough for test weights) */
    uint32_t b;
    memcpy(&b, &v, 4);
    uint32_t sign = (b >> 16) & 0x8000u;
    int32_t exp = (int32_t)((b >> 23) & 0xff) - 127 + 15;
    uint32_t mant = b & 0x7fffffu;
    if (exp <= 0)
        return (uint16_t)sign;
    uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
    if (mant & 0x1000u)
        h++;
    return (uint16_t)h;
}

struct tbuf {
    char *hdr;
    size_t hlen, hcap;
    uint8_t *data;
    size_t dlen, dcap;
};

static void tb_hdr(struct tbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->hlen + n + 1 > b->hcap) {
        b->hcap = (b->hlen + n + 1) * 2;
        b->hdr = realloc(b->hdr, b->hcap);
        assert_non_null(b->hdr);
    }
    memcpy(b->hdr + b->hlen, s, n + 1);
    b->hlen += n;
}

static void tb_data(struct tbuf *b, const void *p, size_t n)
{
    if (b->dlen + n > b->dcap) {
        b->dcap = (b->dlen + n) * 2;
        b->data = realloc(b->data, b->dcap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->dlen, p, n);
    b->dlen += n;
}

static void tb_tensor(struct tbuf *b, const struct tiny_opts *o, const char *name, int r, int c,
                      float scale, float center)
{
    if (o->skip && strcmp(o->skip, name) == 0) {
        for (int i = 0; i < r * (c ? c : 1); i++)
            (void)rnd(); /* keep the stream aligned */
        return;
    }
    if (o->reshape && strcmp(o->reshape, name) == 0)
        r++;
    size_t n = (size_t)r * (size_t)(c ? c : 1);
    const char *dtype = o->dtype ? o->dtype : "F32";
    int as_int = o->int_tensor && strcmp(o->int_tensor, name) == 0;
    if (as_int)
        dtype = "I64";
    size_t begin = b->dlen;
    for (size_t i = 0; i < n; i++) {
        float v = center + scale * rnd();
        if (as_int) {
            int64_t q = (int64_t)(v * 100);
            tb_data(b, &q, 8);
        } else if (strcmp(dtype, "F16") == 0) {
            uint16_t h = f32_to_f16(v);
            tb_data(b, &h, 2);
        } else {
            tb_data(b, &v, 4);
        }
    }
    char entry[512];
    char shape[64];
    if (c)
        snprintf(shape, sizeof shape, "[%d,%d]", r, c);
    else
        snprintf(shape, sizeof shape, "[%d]", r);
    snprintf(entry, sizeof entry, "%s\"%s%s\":{\"dtype\":\"%s\",\"shape\":%s,"
             "\"data_offsets\":[%zu,%zu]}", b->hlen > 1 ? "," : "", o->prefix ? o->prefix : "",
             name, dtype, shape, begin, b->dlen);
    tb_hdr(b, entry);
}

/* Write a complete tiny model directory under a new temp dir; returns it. */
static char *tiny_model(const struct tiny_opts *o)
{
    char *dir = strdup("/tmp/mlw_bert_XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"model_type\":\"bert\",\"hidden_act\":\"gelu\",\"hidden_size\":%d,"
             "\"num_hidden_layers\":%d,\"num_attention_heads\":2,\"intermediate_size\":%d,"
             "\"max_position_embeddings\":%d,\"type_vocab_size\":%d,\"vocab_size\":%d,"
             "\"layer_norm_eps\":1e-12,\"pad_token_id\":0,"
             "\"position_embedding_type\":\"absolute\"}",
             T_H, T_LAYERS, T_FF, T_POS, T_TYPES, o->config_vocab ? o->config_vocab : T_VOCAB);
    write_text(dir, "config.json", cfg);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    const char *pool = o->pooling ? o->pooling : "mean";
    char pcfg[512];
    snprintf(pcfg, sizeof pcfg,
             "{\"word_embedding_dimension\":%d,\"pooling_mode_cls_token\":%s,"
             "\"pooling_mode_mean_tokens\":%s,\"pooling_mode_max_tokens\":%s,"
             "\"pooling_mode_mean_sqrt_len_tokens\":false}", T_H,
             strcmp(pool, "cls") == 0 ? "true" : "false",
             strcmp(pool, "mean") == 0 ? "true" : "false",
             strcmp(pool, "max") == 0 ? "true" : "false");
    write_text(dir, "1_Pooling/config.json", pcfg);
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\","
               "\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\","
               "\"type\":\"sentence_transformers.models.Pooling\"}]");

    g_rng = 0x1234567887654321ull;
    struct tbuf b = {0};
    tb_hdr(&b, "{");
    const float ws = 0.8f; /* large enough that attention is far from uniform */
    tb_tensor(&b, o, "embeddings.word_embeddings.weight", T_VOCAB, T_H, ws, 0);
    tb_tensor(&b, o, "embeddings.position_embeddings.weight", T_POS, T_H, ws, 0);
    tb_tensor(&b, o, "embeddings.token_type_embeddings.weight", T_TYPES, T_H, ws, 0);
    tb_tensor(&b, o, "embeddings.LayerNorm.weight", T_H, 0, 0.2f, 1);
    tb_tensor(&b, o, "embeddings.LayerNorm.bias", T_H, 0, 0.2f, 0);
    for (int l = 0; l < T_LAYERS + (o->extra_layer ? 1 : 0); l++) {
        static const char *names[][2] = {
            {"attention.self.query.weight", "HH"}, {"attention.self.query.bias", "H"},
            {"attention.self.key.weight", "HH"},   {"attention.self.key.bias", "H"},
            {"attention.self.value.weight", "HH"}, {"attention.self.value.bias", "H"},
            {"attention.output.dense.weight", "HH"}, {"attention.output.dense.bias", "H"},
            {"attention.output.LayerNorm.weight", "G"}, {"attention.output.LayerNorm.bias", "H"},
            {"intermediate.dense.weight", "FH"},   {"intermediate.dense.bias", "F"},
            {"output.dense.weight", "HF"},         {"output.dense.bias", "H"},
            {"output.LayerNorm.weight", "G"},      {"output.LayerNorm.bias", "H"},
        };
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            char name[128];
            snprintf(name, sizeof name, "encoder.layer.%d.%s", l, names[k][0]);
            const char *s = names[k][1];
            if (strcmp(s, "HH") == 0)
                tb_tensor(&b, o, name, T_H, T_H, ws, 0);
            else if (strcmp(s, "FH") == 0)
                tb_tensor(&b, o, name, T_FF, T_H, ws, 0);
            else if (strcmp(s, "HF") == 0)
                tb_tensor(&b, o, name, T_H, T_FF, ws, 0);
            else if (strcmp(s, "F") == 0)
                tb_tensor(&b, o, name, T_FF, 0, 0.2f, 0);
            else if (strcmp(s, "G") == 0)
                tb_tensor(&b, o, name, T_H, 0, 0.2f, 1);
            else
                tb_tensor(&b, o, name, T_H, 0, 0.2f, 0);
        }
    }
    tb_hdr(&b, "}");
    while (b.hlen % 8)
        tb_hdr(&b, " ");
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t hl = b.hlen;
    assert_int_equal(fwrite(&hl, 8, 1, f), 1);
    assert_int_equal(fwrite(b.hdr, 1, b.hlen, f), b.hlen);
    assert_int_equal(fwrite(b.data, 1, b.dlen, f), b.dlen);
    assert_int_equal(fclose(f), 0);
    free(b.hdr);
    free(b.data);
    return dir;
}

static void rm_model(char *dir)
{
    const char *files[] = {"config.json", "modules.json", "1_Pooling/config.json",
                           "model.safetensors", "pytorch_model.bin", "tokenizer_config.json",
                           "sentence_bert_config.json"};
    char path[600];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/1_Pooling", dir);
    rmdir(path);
    rmdir(dir);
    free(dir);
}

/* Load must fail with `code` and a message containing needle (and needle2). */
static void expect_load_error(const struct tiny_opts *o, int code, const char *needle,
                              const char *needle2)
{
    char *dir = tiny_model(o);
    struct bert_model *m = (struct bert_model *)1;
    struct mlw_err err = {0};
    int rc = bert_load(dir, NULL, &m, &err);
    if (rc != code || strstr(err.msg, needle) == NULL ||
        (needle2 && strstr(err.msg, needle2) == NULL))
        fail_msg("got rc=%d '%s', want %d with '%s'", rc, err.msg, code, needle);
    assert_null(m);
    rm_model(dir);
}

/* ---------------------------------------------------------------------- */

static void expect_config_error(const char *dir, int code, const char *needle)
{
    struct model_config cfg;
    struct mlw_err err = {0};
    int rc = model_config_load(dir, &cfg, &err);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("got rc=%d '%s', want %d with '%s'", rc, err.msg, code, needle);
}

static const char *BASE_CFG =
    "{\"model_type\":\"bert\",\"hidden_size\":768,\"num_hidden_layers\":12,"
    "\"num_attention_heads\":12,\"intermediate_size\":3072,\"max_position_embeddings\":512,"
    "\"type_vocab_size\":2,\"vocab_size\":28996,\"hidden_act\":\"gelu\"}";

static void test_config(void **state)
{
    (void)state;
    char *dir = strdup("/tmp/mlw_cfg_XXXXXX");
    assert_non_null(mkdtemp(dir));
    expect_config_error(dir, MLW_ENOTFOUND, "config.json");

    write_text(dir, "config.json", BASE_CFG);
    struct model_config cfg;
    struct mlw_err err = {0};
    assert_int_equal(model_config_load(dir, &cfg, &err), MLW_OK);
    assert_int_equal(cfg.hidden_size, 768);
    assert_int_equal(cfg.num_hidden_layers, 12);
    assert_int_equal(cfg.vocab_size, 28996);
    assert_true(cfg.layer_norm_eps == 1e-12f);
    assert_int_equal(cfg.pooling, MODEL_CONFIG_POOLING_MEAN);
    assert_int_equal(cfg.do_lower_case, 1);
    assert_int_equal(cfg.max_tokens, 512);
    assert_int_equal(cfg.has_modules_json, 0);

    write_text(dir, "config.json", "{\"model_type\":\"roberta\"}");
    expect_config_error(dir, MLW_EUNSUPPORTED, "roberta");
    write_text(dir, "config.json", "{\"model_type\":\"bert\",\"hidden_act\":\"gelu_new\"}");
    expect_config_error(dir, MLW_EUNSUPPORTED, "gelu_new");
    write_text(dir, "config.json",
               "{\"model_type\":\"bert\",\"position_embedding_type\":\"relative_key\"}");
    expect_config_error(dir, MLW_EUNSUPPORTED, "relative_key");
    write_text(dir, "config.json", "{\"model_type\":\"bert\",");
    expect_config_error(dir, MLW_EFORMAT, "invalid JSON");
    write_text(dir, "config.json", "{\"model_type\":\"bert\",\"hidden_size\":768}");
    expect_config_error(dir, MLW_EFORMAT, "num_hidden_layers");
    write_text(dir, "config.json",
               "{\"model_type\":\"bert\",\"hidden_size\":10,\"num_hidden_layers\":1,"
               "\"num_attention_heads\":3,\"intermediate_size\":8,\"vocab_size\":5}");
    expect_config_error(dir, MLW_EFORMAT, "multiple");
    write_text(dir, "config.json",
               "{\"model_type\":\"bert\",\"hidden_size\":-8,\"num_hidden_layers\":1,"
               "\"num_attention_heads\":2,\"intermediate_size\":8,\"vocab_size\":5}");
    expect_config_error(dir, MLW_EFORMAT, "hidden_size");
    write_text(dir, "config.json", "[1]");
    expect_config_error(dir, MLW_EFORMAT, "config.json");

    write_text(dir, "config.json", BASE_CFG);
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
               "{\"idx\":2,\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    expect_config_error(dir, MLW_EUNSUPPORTED, "Dense");

    write_text(dir, "modules.json",
               "[{\"idx\":0,\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
               "{\"idx\":2,\"path\":\"2_Normalize\","
               "\"type\":\"sentence_transformers.models.Normalize\"}]");
    expect_config_error(dir, MLW_ENOTFOUND, "1_Pooling/config.json");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_text(dir, "1_Pooling/config.json",
               "{\"pooling_mode_cls_token\":true,\"pooling_mode_mean_tokens\":true}");
    expect_config_error(dir, MLW_EUNSUPPORTED, "exactly one pooling mode");
    write_text(dir, "1_Pooling/config.json", "{\"pooling_mode_mean_sqrt_len_tokens\":true}");
    expect_config_error(dir, MLW_EUNSUPPORTED, "mean_sqrt_len");
    write_text(dir, "1_Pooling/config.json",
               "{\"word_embedding_dimension\":384,\"pooling_mode_cls_token\":true}");
    expect_config_error(dir, MLW_EFORMAT, "word_embedding_dimension");
    write_text(dir, "1_Pooling/config.json",
               "{\"word_embedding_dimension\":768,\"pooling_mode_cls_token\":true,"
               "\"pooling_mode_mean_tokens\":false,\"pooling_mode_max_tokens\":false}");
    write_text(dir, "tokenizer_config.json",
               "{\"do_lower_case\":false,\"strip_accents\":null,"
               "\"model_max_length\":1000000000000000019884624838656}");
    write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\":100,"
               "\"do_lower_case\":false}");
    mlw_err_clear(&err);
    assert_int_equal(model_config_load(dir, &cfg, &err), MLW_OK);
    assert_int_equal(cfg.pooling, MODEL_CONFIG_POOLING_CLS);
    assert_int_equal(cfg.normalize_module, 1);
    assert_int_equal(cfg.has_modules_json, 1);
    assert_int_equal(cfg.do_lower_case, 0);
    assert_int_equal(cfg.strip_accents, -1);
    assert_int_equal(cfg.model_max_length, 0);
    assert_int_equal(cfg.max_seq_length, 100);
    assert_int_equal(cfg.max_tokens, 100);
    assert_string_equal(model_config_pooling_name(cfg.pooling), "cls");

    write_text(dir, "1_Pooling/config.json", "{\"pooling_mode\":\"max\"}");
    write_text(dir, "tokenizer_config.json", "{\"do_lower_case\":\"yes\"}");
    expect_config_error(dir, MLW_EFORMAT, "do_lower_case");
    write_text(dir, "tokenizer_config.json", "{\"model_max_length\":64}");
    mlw_err_clear(&err);
    assert_int_equal(model_config_load(dir, &cfg, &err), MLW_OK);
    assert_int_equal(cfg.pooling, MODEL_CONFIG_POOLING_MAX);
    assert_int_equal(cfg.max_tokens, 64);

    write_text(dir, "modules.json", "{\"not\":\"an array\"}");
    expect_config_error(dir, MLW_EFORMAT, "modules.json");

    const char *files[] = {"config.json", "modules.json", "1_Pooling/config.json",
                           "tokenizer_config.json", "sentence_bert_config.json"};
    char path[700];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);
    free(dir);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct tiny_opts o = {0};
    o.skip = "encoder.layer.1.output.dense.bias";
    expect_load_error(&o, MLW_ENOTFOUND, "\"encoder.layer.1.output.dense.bias\"",
                      "model.safetensors");
    memset(&o, 0, sizeof o);
    o.reshape = "encoder.layer.0.attention.self.key.weight";
    expect_load_error(&o, MLW_EFORMAT, "\"encoder.layer.0.attention.self.key.weight\"",
                      "[9, 8], expected [8, 8]");
    memset(&o, 0, sizeof o);
    o.config_vocab = 41;
    expect_load_error(&o, MLW_EFORMAT, "word_embeddings", "expected [41, 8]");
    memset(&o, 0, sizeof o);
    o.extra_layer = 1;
    expect_load_error(&o, MLW_EFORMAT, "encoder.layer.2", "num_hidden_layers=2");
    memset(&o, 0, sizeof o);
    o.int_tensor = "embeddings.LayerNorm.bias";
    expect_load_error(&o, MLW_EUNSUPPORTED, "embeddings.LayerNorm.bias", "I64");
    memset(&o, 0, sizeof o);
    o.prefix = "roberta.";
    expect_load_error(&o, MLW_ENOTFOUND, "embeddings.word_embeddings.weight", NULL);

    /* weights missing, or a pytorch_model.bin that is no zip archive */
    char *dir = tiny_model(&(struct tiny_opts){0});
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    struct bert_model *m;
    struct mlw_err err = {0};
    assert_int_equal(bert_load(dir, NULL, &m, &err), MLW_ENOTFOUND);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    write_text(dir, "pytorch_model.bin", "PK");
    mlw_err_clear(&err);
    assert_int_equal(bert_load(dir, NULL, &m, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "pytorch_model.bin"));
    /* a truncated safetensors file */
    write_text(dir, "model.safetensors", "\x40\x00\x00\x00\x00\x00\x00\x00{}");
    mlw_err_clear(&err);
    assert_int_equal(bert_load(dir, NULL, &m, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    rm_model(dir);
}

static const int32_t SEQ_A[] = {1, 5, 9, 13, 2};
static const int32_t SEQ_B[] = {1, 39, 2};
static const int32_t SEQ_C[] = {1, 7, 7, 7, 8, 20, 21, 22, 30, 31, 32, 33, 34, 35, 36, 2};
static const int32_t SEQ_D[] = {3};
static const int32_t *const SEQS[] = {SEQ_A, SEQ_B, SEQ_C, SEQ_D};
static const int LENS[] = {5, 3, 16, 1};
enum { N_SEQ = 4 };

static void embed_all(const char *dir, const struct bert_opts *opts, float *out)
{
    struct bert_model *m;
    struct mlw_err err = {0};
    assert_int_equal(bert_load(dir, opts, &m, &err), MLW_OK);
    assert_int_equal(bert_dim(m), T_H);
    assert_int_equal(bert_embed(m, SEQS, LENS, N_SEQ, out, &err), MLW_OK);
    bert_free(m);
}

static double max_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_embed(void **state)
{
    (void)state;
    char *dir = tiny_model(&(struct tiny_opts){0});
    struct bert_opts one = {.n_threads = 1};
    struct bert_model *m;
    struct mlw_err err = {0};
    assert_int_equal(bert_load(dir, &one, &m, &err), MLW_OK);
    assert_int_equal(bert_threads(m), 1);
    assert_int_equal(bert_max_positions(m), T_POS);
    assert_int_equal(bert_config(m)->pooling, MODEL_CONFIG_POOLING_MEAN);

    float ref[N_SEQ * T_H];
    assert_int_equal(bert_embed(m, SEQS, LENS, N_SEQ, ref, &err), MLW_OK);
    for (int s = 0; s < N_SEQ; s++) {
        double n2 = 0;
        for (int j = 0; j < T_H; j++) {
            assert_true(isfinite(ref[s * T_H + j]));
            n2 += (double)ref[s * T_H + j] * ref[s * T_H + j];
        }
        assert_true(fabs(n2 - 1.0) < 1e-5);
    }
    /* different sequences give clearly different embeddings */
    assert_true(max_diff(ref, ref + T_H, T_H) > 0.05);

    /* each sequence alone = the same sequence in the batch */
    for (int s = 0; s < N_SEQ; s++) {
        float one_out[T_H];
        assert_int_equal(bert_embed(m, SEQS + s, LENS + s, 1, one_out, &err), MLW_OK);
        assert_true(max_diff(one_out, ref + s * T_H, T_H) < 1e-5);
    }
    /* n = 0 is fine; bad input is refused and writes nothing */
    assert_int_equal(bert_embed(m, SEQS, LENS, 0, ref, &err), MLW_OK);
    int32_t bad_id[] = {1, 40, 2};
    const int32_t *bad[] = {bad_id};
    int bad_len[] = {3};
    float junk[T_H] = {0};
    assert_int_equal(bert_embed(m, bad, bad_len, 1, junk, &err), MLW_EINVAL);
    assert_non_null(strstr(err.msg, "token id 40 at position 1"));
    bad_id[1] = -1;
    mlw_err_clear(&err);
    assert_int_equal(bert_embed(m, bad, bad_len, 1, junk, &err), MLW_EINVAL);
    bad_len[0] = 0;
    mlw_err_clear(&err);
    assert_int_equal(bert_embed(m, bad, bad_len, 1, junk, &err), MLW_EINVAL);
    bad_len[0] = T_POS + 1;
    mlw_err_clear(&err);
    assert_int_equal(bert_embed(m, SEQS, bad_len, 1, junk, &err), MLW_EINVAL);
    assert_non_null(strstr(err.msg, "1..16"));
    for (int j = 0; j < T_H; j++)
        assert_true(junk[j] == 0.0f);
    bert_free(m);

    /* 3 threads, and chunks of at most 16 tokens, give the same result */
    float out[N_SEQ * T_H];
    struct bert_opts three = {.n_threads = 3, .max_batch_tokens = 16};
    embed_all(dir, &three, out);
    assert_true(max_diff(out, ref, N_SEQ * T_H) < 1e-5);
    struct bert_opts two = {.n_threads = 2};
    embed_all(dir, &two, out);
    assert_true(max_diff(out, ref, N_SEQ * T_H) < 1e-5);

    /* without normalisation: same direction, not unit length */
    struct bert_opts raw = {.n_threads = 1, .no_normalize = 1};
    embed_all(dir, &raw, out);
    double n2 = 0;
    for (int j = 0; j < T_H; j++)
        n2 += (double)out[j] * out[j];
    assert_true(fabs(n2 - 1.0) > 1e-3);
    for (int j = 0; j < T_H; j++)
        assert_true(fabs(out[j] / sqrt(n2) - ref[j]) < 1e-5);
    rm_model(dir);

    /* "bert." prefixed names load the same weights */
    dir = tiny_model(&(struct tiny_opts){.prefix = "bert."});
    embed_all(dir, &one, out);
    assert_true(max_diff(out, ref, N_SEQ * T_H) < 1e-6);
    rm_model(dir);

    /* an F16 checkpoint of the same weights is close */
    dir = tiny_model(&(struct tiny_opts){.dtype = "F16"});
    embed_all(dir, &one, out);
    double d = max_diff(out, ref, N_SEQ * T_H);
    assert_true(d > 0 && d < 0.02);
    rm_model(dir);

    /* CLS and max pooling differ from mean and stay unit length */
    float cls[N_SEQ * T_H], mx[N_SEQ * T_H];
    dir = tiny_model(&(struct tiny_opts){.pooling = "cls"});
    embed_all(dir, &one, cls);
    rm_model(dir);
    dir = tiny_model(&(struct tiny_opts){.pooling = "max"});
    embed_all(dir, &one, mx);
    rm_model(dir);
    assert_true(max_diff(cls, ref, N_SEQ * T_H) > 0.01);
    assert_true(max_diff(mx, ref, N_SEQ * T_H) > 0.01);
    /* single-token sequence: every pooling sees the same one row */
    assert_true(max_diff(cls + 3 * T_H, ref + 3 * T_H, T_H) < 1e-6);
    assert_true(max_diff(mx + 3 * T_H, ref + 3 * T_H, T_H) < 1e-6);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--embed-ids") == 0)
        return cmd_embed_ids(argc - 1, argv + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_embed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
