/*
 * model_config.h - what a Hugging Face / sentence-transformers model
 * directory says about the model, read from its JSON files.
 *
 *   config.json                 architecture and sizes (BERT family only)
 *   modules.json                sentence-transformers pipeline (optional)
 *   <pooling dir>/config.json   pooling mode, from modules.json (default
 *                               1_Pooling; mean pooling when absent)
 *   sentence_bert_config.json   max_seq_length (optional)
 *   tokenizer_config.json       do_lower_case, strip_accents,
 *                               tokenize_chinese_chars, model_max_length
 *                               (optional)
 *
 * A directory whose config.json names another architecture, a non-exact
 * activation, relative position embeddings, or whose modules.json holds a
 * module mlworker cannot run (Dense, ...) is refused with MLW_EUNSUPPORTED.
 * Every message names the file at fault.
 */
#ifndef MLW_ML_MODEL_CONFIG_H
#define MLW_ML_MODEL_CONFIG_H

#include <stddef.h>

#include "core/err.h"

#define MODEL_CONFIG_PATH_MAX 4096

enum model_config_pooling {
    MODEL_CONFIG_POOLING_MEAN, /* mean over real tokens, [CLS]/[SEP] included */
    MODEL_CONFIG_POOLING_CLS,  /* hidden state of the first token */
    MODEL_CONFIG_POOLING_MAX   /* element-wise max over real tokens */
};

struct model_config {
    /* config.json */
    char model_type[32];          /* "bert" */
    int hidden_size;              /* d_model, e.g. 768 */
    int num_hidden_layers;        /* e.g. 12 */
    int num_attention_heads;      /* e.g. 12; divides hidden_size */
    int intermediate_size;        /* FFN width, e.g. 3072 */
    int max_position_embeddings;  /* longest sequence, e.g. 512 */
    int type_vocab_size;          /* e.g. 2 */
    int vocab_size;               /* e.g. 28996 */
    float layer_norm_eps;         /* e.g. 1e-12 */
    int pad_token_id;             /* e.g. 0 */

    /* sentence-transformers */
    enum model_config_pooling pooling;
    int has_modules_json;         /* 1 if modules.json was read */
    int normalize_module;         /* 1 if modules.json has a Normalize module */
    int max_seq_length;           /* sentence_bert_config.json; 0 if absent */
    int input_lower_case;         /* sentence_bert_config.json do_lower_case: lower-case
                                     the text before tokenizing; default 0 */

    /* tokenizer_config.json (defaults are BertTokenizer's) */
    int do_lower_case;            /* default 1 */
    int strip_accents;            /* -1 = follow do_lower_case, 0, 1 */
    int tokenize_chinese_chars;   /* default 1 */
    int model_max_length;         /* 0 if absent or absurd (HF writes 1e30) */

    /* Effective longest input, special tokens included: the smallest of
     * max_seq_length, model_max_length and max_position_embeddings that is set. */
    int max_tokens;

    char dir[MODEL_CONFIG_PATH_MAX];
};

/*
** Read the configuration files of the model directory `dir`.
** Returns MLW_OK and fills *cfg. MLW_ENOTFOUND if config.json is missing,
** MLW_EFORMAT for malformed JSON or out-of-range numbers, MLW_EUNSUPPORTED for
** an architecture or pipeline mlworker cannot run. Does not read weights.
*/
int model_config_load(const char *dir,            /* model directory */
                      struct model_config *cfg,   /* OUT */
                      struct mlw_err *err);       /* OUT: detail; may be NULL */

/* "mean", "cls", "max" */
const char *model_config_pooling_name(enum model_config_pooling p);

#endif
