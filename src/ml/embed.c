/*
 * embed.c - tokenizer + encoder of one model directory; see embed.h.
 *
 * File I/O happens only in embed_open() (vocab.txt through the tokenizer,
 * weights through bert_load(), the fingerprint through pread()).
 */
#include "ml/embed.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "ml/weights.h"

#define EMBED_SAMPLES 64
#define EMBED_SAMPLE_BYTES 4096
#define EMBED_SMALL_FILE_MAX (16u << 20) /* config files and vocab.txt hashed whole */

struct embed_model {
    struct bert_model *bert;
    struct tokenizer *tok;
    int max_tokens;
    int lower_input;       /* sentence_bert_config do_lower_case */
    char id[EMBED_MODEL_ID_MAX];
};

/* ------------------------------------------------------------------------ */
/* Fingerprint                                                               */

/* Hash a tag and the file's bytes (or a marker when it does not exist). */
static int embed_hash_file(EVP_MD_CTX *ctx, const char *dir, const char *name)
{
    char path[MODEL_CONFIG_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (EVP_DigestUpdate(ctx, name, strlen(name) + 1) != 1)
        return -1;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return EVP_DigestUpdate(ctx, "-", 1) == 1 ? 0 : -1;
    char buf[8192];
    size_t n, total = 0;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        total += n;
        if (total > EMBED_SMALL_FILE_MAX || EVP_DigestUpdate(ctx, buf, n) != 1)
            rc = -1;
    }
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

/* Hash the weight file's first bytes (the safetensors header) and EMBED_SAMPLES
 * evenly spaced samples of it; the file is model.safetensors, else
 * pytorch_model.bin (weights.h). */
static int embed_hash_weights(EVP_MD_CTX *ctx, const char *dir)
{
    char path[MODEL_CONFIG_PATH_MAX + 64];
    if (weights_path(dir, path, sizeof path, NULL) != MLW_OK)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 ? 0 : -1;
    unsigned char *buf = malloc(EMBED_SAMPLE_BYTES);
    if (buf == NULL)
        rc = -1;
    off_t size = sb.st_size;
    for (int i = 0; rc == 0 && i <= EMBED_SAMPLES; i++) {
        /* sample 0 is the file's first bytes (length and header start) */
        off_t at = size <= EMBED_SAMPLE_BYTES
                       ? 0
                       : (off_t)((double)(size - EMBED_SAMPLE_BYTES) * i / EMBED_SAMPLES);
        ssize_t got = pread(fd, buf, EMBED_SAMPLE_BYTES, at);
        if (got < 0 || EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
            rc = -1;
    }
    if (rc == 0 && EVP_DigestUpdate(ctx, &size, sizeof size) != 1)
        rc = -1;
    free(buf);
    close(fd);
    return rc;
}

static int embed_fingerprint(struct embed_model *e, const char *dir, struct mlw_err *err)
{
    static const char *files[] = {"config.json", "vocab.txt", "tokenizer_config.json",
                                  "sentence_bert_config.json", "modules.json",
                                  "1_Pooling/config.json"};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < sizeof files / sizeof files[0]; i++)
        rc = embed_hash_file(ctx, dir, files[i]);
    if (rc == 0)
        rc = embed_hash_weights(ctx, dir);
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        rc = -1;
    EVP_MD_CTX_free(ctx);
    if (rc != 0 || mdlen < EMBED_FINGERPRINT_HEX / 2)
        return mlw_err_set(err, MLW_EIO, "%s: cannot read the model files to fingerprint them",
                           dir);

    /* base name of the directory, trailing slashes ignored */
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    size_t blen = len - start;
    if (blen > EMBED_MODEL_ID_MAX - EMBED_FINGERPRINT_HEX - 2)
        blen = EMBED_MODEL_ID_MAX - EMBED_FINGERPRINT_HEX - 2;
    char *p = e->id;
    memcpy(p, dir + start, blen);
    p += blen;
    *p++ = '@';
    for (int i = 0; i < EMBED_FINGERPRINT_HEX / 2; i++) {
        snprintf(p, 3, "%02x", md[i]);
        p += 2;
    }
    *p = '\0';
    return MLW_OK;
}

/* ------------------------------------------------------------------------ */

int embed_open(const char *dir, const struct bert_opts *opts, struct embed_model **out,
               struct mlw_err *err)
{
    *out = NULL;
    struct embed_model *e = calloc(1, sizeof *e);
    if (e == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    int rc = bert_load(dir, opts, &e->bert, err);
    if (rc != MLW_OK)
        goto fail;
    const struct model_config *cfg = bert_config(e->bert);
    e->max_tokens = cfg->max_tokens;
    e->lower_input = cfg->input_lower_case;

    char path[MODEL_CONFIG_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/vocab.txt", cfg->dir);
    if (access(path, F_OK) != 0) {
        rc = mlw_err_set(err, MLW_ENOTFOUND,
                         "%s: missing (mlworker reads the WordPiece vocabulary from vocab.txt; "
                         "tokenizer.json alone is not supported)", path);
        goto fail;
    }
    struct tokenizer_opts topts;
    tokenizer_opts_init(&topts);
    topts.lowercase = cfg->do_lower_case;
    topts.strip_accents = cfg->strip_accents < 0 ? TOKENIZER_STRIP_ACCENTS_AUTO
                                                 : cfg->strip_accents;
    topts.handle_chinese_chars = cfg->tokenize_chinese_chars;
    rc = tokenizer_load_vocab(path, &topts, &e->tok, err);
    if (rc != MLW_OK)
        goto fail;
    if (tokenizer_vocab_size(e->tok) > (size_t)cfg->vocab_size) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: %zu tokens, but config.json says vocab_size=%d", path,
                         tokenizer_vocab_size(e->tok), cfg->vocab_size);
        goto fail;
    }
    rc = embed_fingerprint(e, cfg->dir, err);
    if (rc != MLW_OK)
        goto fail;
    *out = e;
    return MLW_OK;
fail:
    embed_close(e);
    return rc;
}

void embed_close(struct embed_model *e)
{
    if (e == NULL)
        return;
    tokenizer_free(e->tok);
    bert_free(e->bert);
    free(e);
}

int embed_dim(const struct embed_model *e) { return bert_dim(e->bert); }
int embed_max_tokens(const struct embed_model *e) { return e->max_tokens; }
struct bert_model *embed_bert(struct embed_model *e) { return e->bert; }
const char *embed_model_id(const struct embed_model *e) { return e->id; }

int embed_model_id_same(const char *a, const char *b)
{
    const char *fa = strrchr(a, '@'), *fb = strrchr(b, '@');
    return fa != NULL && fb != NULL && strcmp(fa, fb) == 0;
}

/* Lower-case UTF-8 code point by code point; invalid bytes are copied. */
static char *embed_lower(const char *s, size_t len, size_t *out_len)
{
    char *d = malloc(len * 2 + 4); /* a lower-case form is at most 4 bytes per byte... */
    if (d == NULL)
        return NULL;
    size_t i = 0, o = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            d[o++] = s[i++];
            continue;
        }
        utf8proc_uint8_t buf[4];
        utf8proc_ssize_t w = utf8proc_encode_char(utf8proc_tolower(cp), buf);
        /* lower-case forms never need more than twice the bytes of the
         * original here: w <= 4 and n >= 1, and only ASCII has n == 1 (w == 1) */
        if (w <= 0 || (size_t)w > 2 * (size_t)n) {
            memcpy(d + o, s + i, (size_t)n);
            o += (size_t)n;
        } else {
            memcpy(d + o, buf, (size_t)w);
            o += (size_t)w;
        }
        i += (size_t)n;
    }
    d[o] = '\0';
    *out_len = o;
    return d;
}

int embed_tokenize(const struct embed_model *e, const char *text, size_t len, int32_t *ids,
                   size_t cap, size_t *n_ids, struct mlw_err *err)
{
    char *lowered = NULL;
    if (e->lower_input) {
        lowered = embed_lower(text, len, &len);
        if (lowered == NULL)
            return mlw_err_set(err, MLW_ENOMEM, "out of memory");
        text = lowered;
    }
    int rc = tokenizer_encode(e->tok, text, len, (size_t)e->max_tokens, ids, cap, n_ids, err);
    free(lowered);
    return rc;
}

int embed_texts(struct embed_model *e, const char *const *texts, const size_t *lens, int n,
                float *out, struct mlw_err *err)
{
    if (n <= 0)
        return n == 0 ? MLW_OK : mlw_err_set(err, MLW_EINVAL, "embed_texts: n < 0");
    size_t cap = (size_t)e->max_tokens;
    int32_t *flat = malloc((size_t)n * cap * sizeof *flat);
    const int32_t **ids = malloc((size_t)n * sizeof *ids);
    int *seq_lens = malloc((size_t)n * sizeof *seq_lens);
    int rc = MLW_OK;
    if (flat == NULL || ids == NULL || seq_lens == NULL)
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for %d texts", n);
    for (int i = 0; rc == MLW_OK && i < n; i++) {
        size_t len = lens != NULL ? lens[i] : strlen(texts[i]);
        size_t got = 0;
        int32_t *dst = flat + (size_t)i * cap;
        rc = embed_tokenize(e, texts[i], len, dst, cap, &got, err);
        ids[i] = dst;
        seq_lens[i] = (int)got;
    }
    if (rc == MLW_OK)
        rc = bert_embed(e->bert, ids, seq_lens, n, out, err);
    free(flat);
    free(ids);
    free(seq_lens);
    return rc;
}
