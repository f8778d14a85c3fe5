/* Fuzz tokenizer_encode / tokenizer_normalize with the real cased BERT vocab
 * ($MLW_SHARED_DATA/bert-base-cased-vocab.txt, else the shared data dir
 * next to the source tree), loaded once. Any bytes, NUL included. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ml/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tokenizer *g_tok;

static void load_vocab(void)
{
    const char *dir = getenv("MLW_SHARED_DATA");
    if (!dir || !*dir)
        dir = MLW_FUZZ_SHARED_DATA;
    char path[4096];
    snprintf(path, sizeof path, "%s/bert-base-cased-vocab.txt", dir);
    struct tokenizer_opts o;
    tokenizer_opts_init(&o);
    struct mlw_err err;
    if (tokenizer_load_vocab(path, &o, &g_tok, &err) != MLW_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path, err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_tok)
        load_vocab();
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    int32_t ids[512];
    size_t n = 0;
    struct mlw_err err;
    (void)tokenizer_encode(g_tok, text, size, 128, ids, 512, &n, &err);
    (void)tokenizer_encode(g_tok, text, size, 0, ids, 512, &n, &err);
    struct tokenizer_opts o;
    tokenizer_opts_init(&o);
    o.lowercase = size > 0 && (data[0] & 1);
    char *norm = NULL;
    size_t norm_len = 0;
    if (tokenizer_normalize(&o, text, size, &norm, &norm_len, &err) == MLW_OK)
        free(norm);
    free(text);
    return 0;
}
