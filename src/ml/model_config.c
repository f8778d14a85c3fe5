/*
 * model_config.c - read a model directory's JSON configuration; see
 * model_config.h. File I/O and validation only; no weights.
 */
#include "ml/model_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Configuration files are small; anything larger is not one. */
#define MC_MAX_JSON_BYTES (4u * 1024u * 1024u)

const char *model_config_pooling_name(enum model_config_pooling p)
{
    switch (p) {
    case MODEL_CONFIG_POOLING_MEAN: return "mean";
    case MODEL_CONFIG_POOLING_CLS: return "cls";
    case MODEL_CONFIG_POOLING_MAX: return "max";
    }
    return "?";
}

static int mc_join(char *out, size_t cap, const char *dir, const char *name, struct mlw_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return mlw_err_set(err, MLW_EINVAL, "%s/%s: path too long", dir, name);
    return MLW_OK;
}

/*
** Read and parse the JSON file `path`. Returns MLW_OK and sets *out (caller
** frees with cJSON_Delete), MLW_ENOTFOUND if the file does not exist (*out
** NULL, err untouched), or another error with a message.
*/
static int mc_read_json(const char *path, cJSON **out, struct mlw_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT)
            return MLW_ENOTFOUND;
        return mlw_err_set(err, MLW_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    char *buf = malloc(MC_MAX_JSON_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MC_MAX_JSON_BYTES + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        free(buf);
        return mlw_err_set(err, MLW_EIO, "%s: read error", path);
    }
    if (n > MC_MAX_JSON_BYTES) {
        free(buf);
        return mlw_err_set(err, MLW_EFORMAT, "%s: larger than %u bytes; not a config file", path,
                           MC_MAX_JSON_BYTES);
    }
    buf[n] = '\0';
    cJSON *root = cJSON_ParseWithLength(buf, n);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        long pos = (at && at >= buf && at <= buf + n) ? (long)(at - buf) : -1;
        free(buf);
        return mlw_err_set(err, MLW_EFORMAT, "%s: invalid JSON (near byte %ld)", path, pos);
    }
    free(buf);
    if (!cJSON_IsObject(root) && !cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "%s: top level is not a JSON object or array",
                           path);
    }
    *out = root;
    return MLW_OK;
}

/* An integer field in [lo, hi]. Absent: *out = def if def_ok, else error. */
static int mc_int(const cJSON *obj, const char *path, const char *key, int lo, int hi, int def,
                  int def_ok, int *out, struct mlw_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL || cJSON_IsNull(v)) {
        if (!def_ok)
            return mlw_err_set(err, MLW_EFORMAT, "%s: missing \"%s\"", path, key);
        *out = def;
        return MLW_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return mlw_err_set(err, MLW_EFORMAT, "%s: \"%s\" must be an integer in %d..%d", path,
                           key, lo, hi);
    *out = (int)v->valuedouble;
    return MLW_OK;
}

/* A boolean field; absent or null gives def. */
static int mc_bool(const cJSON *obj, const char *path, const char *key, int def, int *out,
                   struct mlw_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL || cJSON_IsNull(v)) {
        *out = def;
        return MLW_OK;
    }
    if (!cJSON_IsBool(v))
        return mlw_err_set(err, MLW_EFORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return MLW_OK;
}

/* A string field or NULL if absent; a non-string is an error. */
static int mc_str(const cJSON *obj, const char *path, const char *key, const char **out,
                  struct mlw_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return MLW_OK;
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return mlw_err_set(err, MLW_EFORMAT, "%s: \"%s\" must be a string", path, key);
    *out = v->valuestring;
    return MLW_OK;
}

static int mc_load_main(struct model_config *cfg, struct mlw_err *err)
{
    char path[MODEL_CONFIG_PATH_MAX + 64];
    int rc = mc_join(path, sizeof path, cfg->dir, "config.json", err);
    if (rc != MLW_OK)
        return rc;
    cJSON *root;
    rc = mc_read_json(path, &root, err);
    if (rc == MLW_ENOTFOUND)
        return mlw_err_set(err, MLW_ENOTFOUND,
                           "%s: missing; %s is not a Hugging Face model directory", path,
                           cfg->dir);
    if (rc != MLW_OK)
        return rc;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "%s: not a JSON object", path);
    }

    const char *s;
    if ((rc = mc_str(root, path, "model_type", &s, err)) != MLW_OK)
        goto out;
    if (s == NULL) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: missing \"model_type\"", path);
        goto out;
    }
    /* Only the BERT architecture (BioBERT, PubMedBERT, MiniLM, BGE, ... all
     * say "bert"). RoBERTa/DistilBERT/... differ in weights or positions. */
    if (strcmp(s, "bert") != 0) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                         "%s: model_type \"%.40s\" is not supported (only \"bert\")", path, s);
        goto out;
    }
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", s);

    if ((rc = mc_str(root, path, "hidden_act", &s, err)) != MLW_OK)
        goto out;
    if (s != NULL && strcmp(s, "gelu") != 0) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                         "%s: hidden_act \"%.40s\" is not supported (only exact \"gelu\")", path,
                         s);
        goto out;
    }
    if ((rc = mc_str(root, path, "position_embedding_type", &s, err)) != MLW_OK)
        goto out;
    if (s != NULL && strcmp(s, "absolute") != 0) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                         "%s: position_embedding_type \"%.40s\" is not supported (only "
                         "\"absolute\")", path, s);
        goto out;
    }
    int is_decoder = 0;
    if ((rc = mc_bool(root, path, "is_decoder", 0, &is_decoder, err)) != MLW_OK)
        goto out;
    if (is_decoder) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: decoder BERT models are not supported",
                         path);
        goto out;
    }

    if ((rc = mc_int(root, path, "hidden_size", 1, 16384, 0, 0, &cfg->hidden_size, err)) ||
        (rc = mc_int(root, path, "num_hidden_layers", 1, 256, 0, 0, &cfg->num_hidden_layers,
                     err)) ||
        (rc = mc_int(root, path, "num_attention_heads", 1, 1024, 0, 0,
                     &cfg->num_attention_heads, err)) ||
        (rc = mc_int(root, path, "intermediate_size", 1, 65536, 0, 0, &cfg->intermediate_size,
                     err)) ||
        (rc = mc_int(root, path, "max_position_embeddings", 1, 65536, 512, 1,
                     &cfg->max_position_embeddings, err)) ||
        (rc = mc_int(root, path, "type_vocab_size", 1, 1024, 2, 1, &cfg->type_vocab_size,
                     err)) ||
        (rc = mc_int(root, path, "vocab_size", 1, 4000000, 0, 0, &cfg->vocab_size, err)) ||
        (rc = mc_int(root, path, "pad_token_id", 0, 4000000, 0, 1, &cfg->pad_token_id, err)))
        goto out;
    if (cfg->hidden_size % cfg->num_attention_heads != 0) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                         cfg->hidden_size, cfg->num_attention_heads);
        goto out;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    if (eps == NULL || cJSON_IsNull(eps)) {
        cfg->layer_norm_eps = 1e-12f;
    } else if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0.0) || eps->valuedouble > 1.0) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: \"layer_norm_eps\" must be a number in (0, 1]",
                         path);
        goto out;
    } else {
        cfg->layer_norm_eps = (float)eps->valuedouble;
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* Parse <pooling dir>/config.json. */
static int mc_load_pooling(struct model_config *cfg, const char *subdir, int required,
                           struct mlw_err *err)
{
    char path[MODEL_CONFIG_PATH_MAX + 512];
    int n = snprintf(path, sizeof path, "%s/%s/config.json", cfg->dir, subdir);
    if (n < 0 || (size_t)n >= sizeof path)
        return mlw_err_set(err, MLW_EINVAL, "%s/%s: path too long", cfg->dir, subdir);
    cJSON *root;
    int rc = mc_read_json(path, &root, err);
    if (rc == MLW_ENOTFOUND) {
        if (required)
            return mlw_err_set(err, MLW_ENOTFOUND,
                               "%s: missing (modules.json lists a Pooling module there)", path);
        return MLW_OK; /* no sentence-transformers files: mean pooling */
    }
    if (rc != MLW_OK)
        return rc;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "%s: not a JSON object", path);
    }
    int mean = 0, cls = 0, max = 0, sqrt_len = 0, weighted = 0, last = 0;
    int dim = 0;
    if ((rc = mc_bool(root, path, "pooling_mode_mean_tokens", 0, &mean, err)) ||
        (rc = mc_bool(root, path, "pooling_mode_cls_token", 0, &cls, err)) ||
        (rc = mc_bool(root, path, "pooling_mode_max_tokens", 0, &max, err)) ||
        (rc = mc_bool(root, path, "pooling_mode_mean_sqrt_len_tokens", 0, &sqrt_len, err)) ||
        (rc = mc_bool(root, path, "pooling_mode_weightedmean_tokens", 0, &weighted, err)) ||
        (rc = mc_bool(root, path, "pooling_mode_lasttoken", 0, &last, err)) ||
        (rc = mc_int(root, path, "word_embedding_dimension", 1, 16384, 0, 1, &dim, err)))
        goto out;
    /* sentence-transformers also accepts a single "pooling_mode" string. */
    const char *mode;
    if ((rc = mc_str(root, path, "pooling_mode", &mode, err)) != MLW_OK)
        goto out;
    if (mode != NULL && !mean && !cls && !max && !sqrt_len && !weighted && !last) {
        if (strcmp(mode, "mean") == 0)
            mean = 1;
        else if (strcmp(mode, "cls") == 0)
            cls = 1;
        else if (strcmp(mode, "max") == 0)
            max = 1;
        else {
            rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: pooling_mode \"%.40s\" is not supported",
                             path, mode);
            goto out;
        }
    }
    if (sqrt_len || weighted || last) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                         "%s: pooling mode %s is not supported (only mean, cls or max)", path,
                         sqrt_len ? "mean_sqrt_len_tokens" : weighted ? "weightedmean_tokens"
                                                                      : "lasttoken");
        goto out;
    }
    if (mean + cls + max != 1) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                         "%s: exactly one pooling mode must be true (found %d); concatenated "
                         "poolings are not supported", path, mean + cls + max);
        goto out;
    }
    cfg->pooling = mean ? MODEL_CONFIG_POOLING_MEAN
                        : cls ? MODEL_CONFIG_POOLING_CLS : MODEL_CONFIG_POOLING_MAX;
    if (dim != 0 && dim != cfg->hidden_size) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: word_embedding_dimension %d differs from hidden_size %d", path, dim,
                         cfg->hidden_size);
        goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* modules.json: [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 *                {"idx":1,"name":"1","path":"1_Pooling","type":"...models.Pooling"}, ...] */
static int mc_load_modules(struct model_config *cfg, struct mlw_err *err)
{
    char path[MODEL_CONFIG_PATH_MAX + 64];
    int rc = mc_join(path, sizeof path, cfg->dir, "modules.json", err);
    if (rc != MLW_OK)
        return rc;
    cJSON *root;
    rc = mc_read_json(path, &root, err);
    if (rc == MLW_ENOTFOUND)
        return mc_load_pooling(cfg, "1_Pooling", 0, err);
    if (rc != MLW_OK)
        return rc;
    cfg->has_modules_json = 1;
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "%s: not a JSON array", path);
    }
    int n_transformer = 0, n_pooling = 0;
    char pool_dir[256] = "";
    const cJSON *m;
    int i = 0;
    cJSON_ArrayForEach(m, root) {
        const char *type = NULL, *mpath = NULL;
        if (!cJSON_IsObject(m)) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: entry %d is not an object", path, i);
            goto out;
        }
        if ((rc = mc_str(m, path, "type", &type, err)) || (rc = mc_str(m, path, "path", &mpath,
                                                                       err)))
            goto out;
        if (type == NULL) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: entry %d has no \"type\"", path, i);
            goto out;
        }
        const char *base = strrchr(type, '.');
        base = base ? base + 1 : type;
        if (strcmp(base, "Transformer") == 0) {
            n_transformer++;
        } else if (strcmp(base, "Pooling") == 0) {
            n_pooling++;
            if (mpath == NULL || mpath[0] == '\0' || strstr(mpath, "..") != NULL ||
                mpath[0] == '/' || strlen(mpath) >= sizeof pool_dir) {
                rc = mlw_err_set(err, MLW_EFORMAT, "%s: Pooling module has a bad \"path\"",
                                 path);
                goto out;
            }
            snprintf(pool_dir, sizeof pool_dir, "%s", mpath);
        } else if (strcmp(base, "Normalize") == 0) {
            cfg->normalize_module = 1;
        } else {
            rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                             "%s: module \"%.80s\" is not supported (only Transformer, Pooling, "
                             "Normalize)", path, type);
            goto out;
        }
        i++;
    }
    if (n_transformer != 1 || n_pooling > 1) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED,
                         "%s: expected one Transformer and at most one Pooling module, found "
                         "%d and %d", path, n_transformer, n_pooling);
        goto out;
    }
    if (n_pooling == 1)
        rc = mc_load_pooling(cfg, pool_dir, 1, err);
out:
    cJSON_Delete(root);
    return rc;
}

static int mc_load_sbert(struct model_config *cfg, struct mlw_err *err)
{
    char path[MODEL_CONFIG_PATH_MAX + 64];
    int rc = mc_join(path, sizeof path, cfg->dir, "sentence_bert_config.json", err);
    if (rc != MLW_OK)
        return rc;
    cJSON *root;
    rc = mc_read_json(path, &root, err);
    if (rc == MLW_ENOTFOUND)
        return MLW_OK;
    if (rc != MLW_OK)
        return rc;
    if (!cJSON_IsObject(root))
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: not a JSON object", path);
    else
        rc = mc_int(root, path, "max_seq_length", 1, 1 << 20, 0, 1, &cfg->max_seq_length, err);
    if (rc == MLW_OK) {
        /* sentence-transformers lower-cases the text (str.lower()) before
         * the tokenizer sees it when this is true. */
        rc = mc_bool(root, path, "do_lower_case", 0, &cfg->input_lower_case, err);
    }
    cJSON_Delete(root);
    return rc;
}

static int mc_load_tokenizer(struct model_config *cfg, struct mlw_err *err)
{
    char path[MODEL_CONFIG_PATH_MAX + 64];
    int rc = mc_join(path, sizeof path, cfg->dir, "tokenizer_config.json", err);
    if (rc != MLW_OK)
        return rc;
    cJSON *root;
    rc = mc_read_json(path, &root, err);
    if (rc == MLW_ENOTFOUND)
        return MLW_OK;
    if (rc != MLW_OK)
        return rc;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mlw_err_set(err, MLW_EFORMAT, "%s: not a JSON object", path);
    }
    int strip = -1;
    if ((rc = mc_bool(root, path, "do_lower_case", 1, &cfg->do_lower_case, err)) ||
        (rc = mc_bool(root, path, "strip_accents", -1, &strip, err)) ||
        (rc = mc_bool(root, path, "tokenize_chinese_chars", 1, &cfg->tokenize_chinese_chars,
                      err)))
        goto out;
    cfg->strip_accents = strip;
    /* model_max_length is often 1000000000000000019884624838656 (= "none"). */
    const char *keys[] = {"model_max_length", "max_len"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
        if (v == NULL || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0)) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: \"%s\" must be a non-negative number", path,
                             keys[k]);
            goto out;
        }
        if (v->valuedouble >= 1 && v->valuedouble <= 1e6) {
            cfg->model_max_length = (int)v->valuedouble;
            break;
        }
    }
out:
    cJSON_Delete(root);
    return rc;
}

int model_config_load(const char *dir, struct model_config *cfg, struct mlw_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->pooling = MODEL_CONFIG_POOLING_MEAN;
    cfg->do_lower_case = 1;
    cfg->strip_accents = -1;
    cfg->tokenize_chinese_chars = 1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof cfg->dir)
        return mlw_err_set(err, MLW_EINVAL, "model directory path is empty or too long");
    memcpy(cfg->dir, dir, len);
    cfg->dir[len] = '\0';

    int rc;
    if ((rc = mc_load_main(cfg, err)) || (rc = mc_load_tokenizer(cfg, err)) ||
        (rc = mc_load_sbert(cfg, err)) || (rc = mc_load_modules(cfg, err)))
        return rc;

    cfg->max_tokens = cfg->max_position_embeddings;
    if (cfg->max_seq_length > 0 && cfg->max_seq_length < cfg->max_tokens)
        cfg->max_tokens = cfg->max_seq_length;
    if (cfg->model_max_length > 0 && cfg->model_max_length < cfg->max_tokens)
        cfg->max_tokens = cfg->model_max_length;
    return MLW_OK;
}
