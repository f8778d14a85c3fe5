/*
 * qgemm.h - reduced-precision matrix products for the BERT encoder:
 * int8 weights (per-output-channel symmetric) with int8 activations
 * (dynamic, symmetric, per row) and int32 accumulation, and bf16 weights.
 *
 *   y[t, n] = sum_k x[t, k] · W[n, k]          x: [T, K] fp32, W: [N, K] (Linear layout)
 *
 * int8. At load, each weight row n is quantized with its own scale
 *   sw[n] = max_k |W[n, k]| / 127,   Wq[n, k] = round(W[n, k] / sw[n])  in [-127, 127]
 * Before each product, each activation row t is quantized the same way
 *   sx[t] = max_k |x[t, k]| / 127,   xq[t, k] = round(x[t, k] / sx[t])
 * and stored shifted to unsigned, xu = xq + 128 in [1, 255], because the
 * VNNI instruction multiplies unsigned by signed bytes. Then
 *   y[t, n] = sx[t] · sw[n] · (sum_k xu[t, k] · Wq[n, k]  -  128 · sum_k Wq[n, k])
 * The sums are exact in int32 (|terms| <= 255 · 127, K <= 65536), so every
 * kernel gives bit-identical results.
 *
 * bf16. Weights are rounded to bfloat16 (nearest even) at load. On CPUs with
 * AVX512-BF16 the activations are rounded to bf16 too and the products run on
 * VDPBF16PS with fp32 accumulation; elsewhere blocks of weights are widened
 * back to fp32 and multiplied with the fp32 activations by cblas_sgemm.
 *
 * Packed layout (both types): output channels in blocks of 16; inside a
 * block, K is cut in groups of G = 4 (int8) or 2 (bf16) and each group
 * stores the 16 channels' G values side by side, 64 bytes:
 *   data[(n / 16) · Kp · 16 + (k / G) · 16 · G + (n % 16) · G + k % G]
 * N is padded to a multiple of 16 and K to Kp, a multiple of G, with zeros.
 * One 32-bit broadcast of G activations times one 64-byte weight vector
 * updates 16 outputs: VPDPBUSD (AVX512-VNNI) or VDPBF16PS (AVX512-BF16).
 *
 * Kernels: the SIMD ones are compiled with target attributes and chosen at
 * run time with __builtin_cpu_supports(); the portable C ones run anywhere.
 * MLW_QGEMM_PORTABLE=1 in the environment (or qgemm_force_portable()) forces
 * the portable ones.
 *
 * Thread: packed weights are read-only; any number of threads may multiply
 * with them at once, each on its own column range.
 */
#ifndef MLW_ML_QGEMM_H
#define MLW_ML_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum qgemm_type {
    QGEMM_TYPE_I8,
    QGEMM_TYPE_BF16
};

struct qgemm_weights {
    enum qgemm_type type;
    int n, k;            /* logical shape [n, k] */
    int n_pad, k_pad;    /* n rounded up to 16, k to the group size */
    void *data;          /* packed, 64-byte aligned (int8_t or uint16_t) */
    float *scale;        /* int8: [n_pad] sw; NULL for bf16 */
    int32_t *corr;       /* int8: [n_pad] 128 · sum_k Wq[n, k]; NULL for bf16 */
};

/*
** Quantize (int8) or round (bf16) the fp32 matrix w [n, k] and pack it.
** Returns MLW_OK, MLW_EINVAL (n or k < 1, k > 65536) or MLW_ENOMEM; on
** failure *q is empty (freeing it is harmless).
*/
int qgemm_weights_init(struct qgemm_weights *q,   /* OUT */
                       enum qgemm_type type,
                       const float *w,            /* [n, k] row-major */
                       int n, int k,
                       struct mlw_err *err);      /* OUT: detail; may be NULL */

/* Same from bfloat16 bit patterns (a BF16 checkpoint): bf16 packs them unchanged. */
int qgemm_weights_init_bf16(struct qgemm_weights *q, enum qgemm_type type,
                            const uint16_t *w, int n, int k, struct mlw_err *err);

/* Free what init allocated; safe on a zeroed struct. */
void qgemm_weights_free(struct qgemm_weights *q);

/* Bytes of one prepared activation row for products with w (>= k_pad). */
size_t qgemm_act_row_bytes(const struct qgemm_weights *w);

/*
** Prepare activation rows t0..t1-1 of x ([*, k], row stride ldx) for
** products with weights of `type` and width k: int8 writes xu rows (k_pad
** bytes, stride ld_act bytes) and row_scale[t] = sx[t]; bf16 writes bf16 rows
** (row_scale unused, may be NULL). Rows of only zeros get scale 1.
*/
void qgemm_prepare_rows(enum qgemm_type type, int k,
                        const float *x, size_t ldx,
                        int t0, int t1,
                        void *act, size_t ld_act,   /* OUT: [T, ld_act] bytes */
                        float *row_scale);          /* OUT: [T] (int8) */

/*
** y[t, c] = act(sum_k x[t, k] · W[c, k] + bias[c]) for t in [0, T) and c in
** [c0, c1); bias may be NULL; act is the exact-erf GELU when gelu != 0, else
** the identity (applied while the tile is in cache). c0 must be a multiple of
** 16; c1 <= n. act/row_scale come from
** qgemm_prepare_rows() over rows 0..T-1; x is the fp32 source, which the
** portable bf16 kernel reads instead. scratch: qgemm_scratch_floats(w)
** floats owned by the calling thread (may be NULL when that is 0).
*/
void qgemm_matmul(const struct qgemm_weights *w,
                  const float *x, size_t ldx,
                  const void *act, size_t ld_act, const float *row_scale,
                  int T,
                  float *y, size_t ldy,                 /* OUT: columns c0..c1-1 */
                  int c0, int c1,
                  const float *bias, int gelu,
                  float *scratch);

/* Per-thread scratch floats qgemm_matmul() needs for w (0 for most kernels). */
size_t qgemm_scratch_floats(const struct qgemm_weights *w);

/* 1: use only the portable kernels from now on (tests); 0: detect again. */
void qgemm_force_portable(int on);

/* Name of the kernel qgemm_matmul() uses for `type`: "avx512-vnni",
 * "avx512-bf16", "portable". */
const char *qgemm_kernel_name(enum qgemm_type type);

/* bfloat16 bit pattern of v, rounded to nearest even (NaN stays NaN). */
uint16_t qgemm_f32_to_bf16(float v);

#endif
