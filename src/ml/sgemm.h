/*
 * sgemm.h - fp32 Linear products for the BERT encoder on the weights as they
 * lie in the checkpoint (no packing copy), AVX-512.
 *
 *   y[t, n] = sum_k x[t, k] · W[n, k] + b[n]     (then gelu, if asked)
 *   x: [T, k] fp32, row stride ldx; W: [N, k] row-major (PyTorch Linear
 *   layout); y: [T, N] row stride ldy; only columns c0 .. c1-1 are written.
 *
 * Why: cblas_sgemm repacks its operands on every call. With few tokens per
 * call (a batch of one lab name is ~12 tokens) copying the weight slice costs
 * more than multiplying with it, and the weights are streamed from memory
 * twice. Here the activations, not the weights, are rearranged: each block of
 * up to 256 token rows is transposed, 64 at a time, into the caller's scratch
 * (xt[k][16·V], zero-padded lanes), and a register tile of R weight rows × V vectors of 16
 * tokens accumulates broadcast(W[n, k]) · xt[k] over k, in k order, with one
 * FMA per step (fp32 throughout; the order of the k sum is the plain one, so
 * results differ from OpenBLAS's only by rounding). Bias (and gelu) are
 * applied to the accumulators before they are stored.
 *
 * Several products sharing x (Q, K and V) go through one call, so x is
 * transposed once. Thread: read-only on x and W; each thread passes its own
 * scratch and column range.
 */
#ifndef MLW_ML_SGEMM_H
#define MLW_ML_SGEMM_H

#include <stddef.h>

/* One output of sgemm_nt(): weights W [N, k], bias b [N] (or NULL), y. */
struct sgemm_out {
    const float *w;
    const float *b;
    float *y;
};

/* Nonzero when this CPU runs the AVX-512 kernel; bert.c uses cblas_sgemm
 * otherwise. MLW_SGEMM_OPENBLAS=1 in the environment (read once) makes it 0,
 * to compare the two paths. */
int sgemm_available(void);

/* Floats of scratch one thread needs for inputs of width k. */
size_t sgemm_scratch_floats(int k);

/*
** For each of the n_out outputs o: o.y[t, c0:c1] = x · o.w[c0:c1]^T + o.b,
** then gelu if `gelu`, for t < T. Columns c0..c1-1 must be rows of every
** o.w; all outputs share ldy. scratch: sgemm_scratch_floats(k) floats, 64-byte
** aligned. Without sgemm_available() it runs plain C loops (same sums, slow).
*/
void sgemm_nt(const float *x, size_t ldx, int T, int k, const struct sgemm_out *outs,
              int n_out, size_t ldy, int c0, int c1, int gelu, float *scratch);

#endif
