/*
 * bert.h - a BERT sentence encoder (sentence-transformers style) in C.
 *
 *   struct mlw_err err = {0};
 *   struct bert_model *m;
 *   if (bert_load("models/biobert", NULL, &m, &err) != MLW_OK) { ...err.msg... }
 *   const int32_t *ids[2] = {a, b};  int lens[2] = {na, nb};
 *   float *out = malloc(2 * bert_dim(m) * sizeof(float));
 *   bert_embed(m, ids, lens, 2, out, &err);   // out: [2, d_model], unit rows
 *   bert_free(m);
 *
 * The model is the one in a Hugging Face directory (see model_config.h):
 * weights come from model.safetensors, else pytorch_model.bin (weights.h),
 * memory-mapped. F32 tensors are used
 * in place from the mapping (no copy); F16/BF16 tensors are converted to fp32
 * once at load. With dtype bf16 or int8 (bert_opts.dtype, else the
 * environment's ML_WORKER_MODEL_DTYPE) the six weight matrices of each layer
 * are converted at load instead (see qgemm.h: bf16, or int8 per output channel
 * with dynamic per-row int8 activations) and their pages of the mapping are
 * released; embeddings, biases and LayerNorms stay fp32, and so does the
 * attention arithmetic. Tensor names may be plain (embeddings.word_embeddings.weight,
 * encoder.layer.N.attention.self.query.weight, ...) or carry the "bert."
 * prefix of BertFor* checkpoints; the pooler is not used.
 *
 * Forward pass for a batch of token-id sequences of different lengths:
 *
 *   x   = LayerNorm(word[id] + pos[i] + type[0])                  per token
 *   for each layer:
 *     x = LayerNorm(x + Wo · MultiHeadAttention(Wq x, Wk x, Wv x) + bo)
 *     x = LayerNorm(x + W2 · gelu_erf(W1 x + b1) + b2)
 *   e   = pool(x over the sequence's tokens)   mean | CLS | max
 *   out = e / max(||e||_2, 1e-12)
 *
 * The sequences are packed one after another ([sum(len), d_model]), so no
 * padding is ever computed; attention runs per (sequence, head). Matrix
 * products go through cblas_sgemm; the work of each step is split across
 * the model's threads (columns of each weight matrix, then rows, then
 * (sequence, head) pairs), and OpenBLAS itself is set to one thread.
 *
 * Thread: a loaded model may be shared; bert_embed() calls are serialized
 * by a lock inside the model.
 */
#ifndef MLW_ML_BERT_H
#define MLW_ML_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/model_config.h"

enum bert_dtype {
    BERT_DTYPE_DEFAULT = 0, /* ML_WORKER_MODEL_DTYPE if set, else fp32 */
    BERT_DTYPE_FP32,
    BERT_DTYPE_BF16,
    BERT_DTYPE_INT8
};

struct bert_opts {
    enum bert_dtype dtype; /* weight format of the linear layers */
    int n_threads;        /* <= 0: ML_WORKER_THREADS if set, else available cores */
    int no_normalize;     /* 1: skip the L2 normalisation of the pooled vector */
    int max_batch_tokens; /* tokens per internal chunk; <= 0: 2048 (raised to at
                             least max_position_embeddings) */
};

struct bert_model;

/*
** Load the model in directory `dir` (config files + model.safetensors or
** pytorch_model.bin).
** opts may be NULL (defaults). Returns MLW_OK and sets *out, which the caller
** releases with bert_free(). On failure *out is NULL and err names the file
** and tensor at fault: MLW_ENOTFOUND (missing file or tensor), MLW_EFORMAT
** (malformed file, wrong shape), MLW_EUNSUPPORTED (architecture, dtype,
** an unsupported checkpoint variant), MLW_EINVAL (bad ML_WORKER_MODEL_DTYPE),
** MLW_EIO, MLW_ENOMEM.
** Calls openblas_set_num_threads(1) (process-wide): the model threads itself.
*/
int bert_load(const char *dir,                 /* Hugging Face model directory */
              const struct bert_opts *opts,    /* may be NULL */
              struct bert_model **out,         /* OUT: free with bert_free() */
              struct mlw_err *err);            /* OUT: detail; may be NULL */

/*
** Embed n sequences of token ids (already tokenized: [CLS] ... [SEP]).
** ids[i] has lens[i] entries, 1 <= lens[i] <= bert_max_positions(m), each in
** 0..vocab_size-1. Writes out[i * bert_dim(m) + j]: row i is the pooled
** (and, unless opts.no_normalize, L2-normalised) embedding of sequence i.
** Returns MLW_OK, or MLW_EINVAL (bad id or length; nothing written).
** Any batch size; large batches are processed in chunks of
** max_batch_tokens tokens.
*/
int bert_embed(struct bert_model *m,
               const int32_t *const *ids,      /* n sequences */
               const int *lens,                /* n lengths */
               int n,                          /* batch size, >= 0 */
               float *out,                     /* OUT: [n, bert_dim(m)] */
               struct mlw_err *err);           /* OUT: detail; may be NULL */

/*
** Parse "fp32" (also "f32", "float32"), "bf16" ("bfloat16") or "int8" ("i8",
** "qint8"), any case. Returns MLW_OK or MLW_EINVAL.
*/
int bert_dtype_parse(const char *s, enum bert_dtype *out);
/* "fp32", "bf16", "int8" ("default" for BERT_DTYPE_DEFAULT). */
const char *bert_dtype_name(enum bert_dtype dtype);
/* Weight format the model runs with (never BERT_DTYPE_DEFAULT). */
enum bert_dtype bert_dtype(const struct bert_model *m);
/* Matrix kernel of the linear layers: "openblas-sgemm", "avx512-vnni", ... */
const char *bert_kernel_name(const struct bert_model *m);

/* d_model: the length of one embedding. */
int bert_dim(const struct bert_model *m);
/* Longest sequence bert_embed() accepts (max_position_embeddings). */
int bert_max_positions(const struct bert_model *m);
/* Threads the model computes with. */
int bert_threads(const struct bert_model *m);
/* The configuration read at load (pooling, tokenizer settings, sizes). */
const struct model_config *bert_config(const struct bert_model *m);

/* Stop the model's threads, unmap and free. NULL is fine. */
void bert_free(struct bert_model *m);

/*
** CLI: `embed-ids [--threads N] [--batch N] [--dtype D] [--no-normalize] [--model] DIR`.
** argv[0] is the command name. Reads stdin, one JSON array of token ids per
** line (blank lines skipped), embeds them and prints one JSON array of
** floats (%.9g) per input line, in input order. Returns the process exit
** status (0 ok, 1 runtime error, 2 usage error); errors go to stderr.
*/
int cmd_embed_ids(int argc, char **argv);

/*
** CLI: `embed --model DIR [--dtype fp32|bf16|int8] [--threads N] [--batch N]
** [TEXT...]`. argv[0] is the command name. Embeds each TEXT argument, or
** else each stdin line, with the model's own tokenizer (embed.h) and prints
** one JSON array of floats per input, in input order. Returns the process
** exit status (0 ok, 1 runtime error, 2 usage error).
*/
int cmd_embed(int argc, char **argv);

#endif
