/*
 * embed.h - text in, sentence embedding out: a model directory's WordPiece
 * tokenizer (tokenizer.h) in front of its BERT encoder (bert.h).
 *
 *   struct embed_model *e;
 *   if (embed_open("models/biobert", NULL, &e, &err) != MLW_OK) { ...err.msg... }
 *   const char *texts[2] = {"HbA1c", "Glucose [Mass/volume] in Serum"};
 *   float *out = malloc(2 * embed_dim(e) * sizeof(float));
 *   embed_texts(e, texts, NULL, 2, out, &err);   // out: [2, dim], unit rows
 *   embed_close(e);
 *
 * The tokenizer is built from DIR/vocab.txt with the settings the directory
 * declares (model_config.h): tokenizer_config.json do_lower_case,
 * strip_accents, tokenize_chinese_chars; sentence_bert_config.json
 * do_lower_case (the text is lower-cased before tokenizing, as
 * sentence-transformers does with str.lower(); here per code point with
 * utf8proc_tolower); truncation to max_tokens ids, [CLS] and [SEP] included.
 *
 * Thread: like bert.h, one embed_texts() at a time runs (the encoder's lock);
 * tokenization itself is reentrant.
 */
#ifndef MLW_ML_EMBED_H
#define MLW_ML_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/bert.h"
#include "ml/tokenizer.h"

/* Length of the hex model fingerprint embed_model_id() puts after the '@'. */
#define EMBED_FINGERPRINT_HEX 16
#define EMBED_MODEL_ID_MAX 128

struct embed_model;

/*
** Load the encoder (bert_load) and the tokenizer of directory `dir`.
** opts may be NULL. Returns MLW_OK and sets *out (release with
** embed_close()); on failure *out is NULL and err names the file at fault
** (MLW_ENOTFOUND for a missing vocab.txt, and bert_load()'s codes).
*/
int embed_open(const char *dir, const struct bert_opts *opts,
               struct embed_model **out,          /* OUT */
               struct mlw_err *err);              /* OUT: detail; may be NULL */

/* NULL is fine. */
void embed_close(struct embed_model *e);

/*
** Embed n texts (UTF-8, any bytes; lens[i] bytes each, or NUL-terminated
** when lens is NULL). Writes out[i * embed_dim(e) + j]. Over-long texts are
** truncated to the model's max_tokens. Returns MLW_OK, MLW_ENOMEM, MLW_EINVAL.
*/
int embed_texts(struct embed_model *e,
                const char *const *texts,
                const size_t *lens,               /* may be NULL */
                int n,
                float *out,                       /* OUT: [n, embed_dim(e)] */
                struct mlw_err *err);

/*
** Token ids of one text exactly as embed_texts() feeds them to the encoder
** ([CLS] ... [SEP], truncated). ids holds cap entries; *n_ids is set to the
** count (cap >= embed_max_tokens(e) always suffices).
*/
int embed_tokenize(const struct embed_model *e, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *n_ids, struct mlw_err *err);

int embed_dim(const struct embed_model *e);
/* Longest id sequence fed to the encoder (model_config max_tokens). */
int embed_max_tokens(const struct embed_model *e);
struct bert_model *embed_bert(struct embed_model *e);

/*
** "<directory base name>@<16 hex digits>": the hex digits are the first bytes
** of a SHA-256 over config.json, vocab.txt, the tokenizer and pooling
** settings, the safetensors header and 64 evenly spaced 4 KiB samples of the
** weights; the directory name is only a label (see embed_model_id_same()).
** Computed once at embed_open(). Valid while e lives.
*/
const char *embed_model_id(const struct embed_model *e);

/* Do two model ids name the same model? Compares the fingerprints (after the
 * last '@'), so a copied or renamed directory still matches. */
int embed_model_id_same(const char *a, const char *b);

#endif
