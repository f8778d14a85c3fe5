/*
 * sgemm.c - fp32 Linear products on unpacked weights; see sgemm.h.
 *
 * Loop order (one thread, columns c0..c1):
 *
 *   for each block of up to 256 token rows (as many as fit 768 KB of xt)
 *     transpose each 64-row sub-block into xt[k][16·V], V = ceil(rows / 16)
 *     for each output (Q, K, V share the block)
 *       for each group of 16 output columns        (16·k weights, L2-resident)
 *         for each sub-block
 *           for each tile of R of the 16 columns
 *             R x V accumulators of 16 tokens; per k: V loads of xt, R
 *             broadcasts of W[n, k], R·V FMAs; epilogue: + b[n], gelu,
 *             masked scatter into ybuf [64][16]
 *           store ybuf: one 64-byte row per token into y
 *
 * R·V is 16 accumulators (24 for V = 3; 8 for V = 1, where the R weight rows
 * are streams from memory and 8 of them ran 1.4x faster than 16 here), so a
 * tile fits the 32 zmm registers with the xt vectors. Tiles are one
 * always_inline function over compile-time R and V, instantiated by a switch
 * (the pattern of qgemm.c).
 */
#include "ml/sgemm.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml/gelu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SG_X86 1
#else
#define SG_X86 0
#endif

#define SG_SB 64 /* token rows per transposed sub-block (4 vectors of 16) */
#define SG_SCRATCH 196608 /* floats of scratch (768 KB: inside a 1 MB L2) */

static atomic_int sg_state = -1; /* -1 unknown, 0 no, 1 yes */

int sgemm_available(void)
{
    int st = atomic_load_explicit(&sg_state, memory_order_relaxed);
    if (st >= 0)
        return st;
    st = 0;
#if SG_X86
    __builtin_cpu_init();
    st = __builtin_cpu_supports("avx512f") ? 1 : 0;
#endif
    const char *env = getenv("MLW_SGEMM_OPENBLAS");
    if (env != NULL && strcmp(env, "1") == 0)
        st = 0;
    atomic_store_explicit(&sg_state, st, memory_order_relaxed);
    return st;
}

size_t sgemm_scratch_floats(int k)
{
    size_t one = (size_t)SG_SB * (size_t)(k > 0 ? k : 0);
    return one > SG_SCRATCH ? one : SG_SCRATCH;
}

/* Token rows per block: as many sub-blocks as the scratch holds, at most 4. */
static int sg_block_tokens(int k)
{
    int n = (int)(SG_SCRATCH / ((size_t)SG_SB * (size_t)k));
    n = n < 1 ? 1 : n > 4 ? 4 : n;
    return n * SG_SB;
}

/* xt[kk · S + t] = x[t, kk] for t < nb; 0 for nb <= t < S. */
static void sg_transpose(const float *x, size_t ldx, int nb, int k, int S, float *xt)
{
    for (int t = 0; t < nb; t++) {
        const float *row = x + (size_t)t * ldx;
        for (int kk = 0; kk < k; kk++)
            xt[(size_t)kk * (size_t)S + (size_t)t] = row[kk];
    }
    if (nb < S)
        for (int kk = 0; kk < k; kk++)
            memset(xt + (size_t)kk * (size_t)S + (size_t)nb, 0,
                   (size_t)(S - nb) * sizeof *xt);
}

#if SG_X86
#define SG_TARGET __attribute__((target("avx512f")))

/*
** y[t, r] = sum_kk xt[kk][t] · w[r · ldw + kk] + b[r] (then gelu) for r < R,
** t < nt (nt <= 16 V); y: row stride ldy.
*/
static inline __attribute__((always_inline)) SG_TARGET void
sg_tile(const float *xt, int k, const float *w, size_t ldw, const float *b, float *y,
        size_t ldy, int nt, int gelu, const int R, const int V)
{
    __m512 acc[8][4];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = _mm512_setzero_ps();
    const size_t S = 16 * (size_t)V;
    for (int kk = 0; kk < k; kk++) {
        const float *xk = xt + (size_t)kk * S;
        __m512 xv[4];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            xv[v] = _mm512_load_ps(xk + 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512 wb = _mm512_set1_ps(w[(size_t)r * ldw + (size_t)kk]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++)
                acc[r][v] = _mm512_fmadd_ps(wb, xv[v], acc[r][v]);
        }
    }
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)ldy));
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) {
        int left = nt - 16 * v;
        __mmask16 mask = left >= 16 ? (__mmask16)0xffff
                                    : (__mmask16)((1u << (left > 0 ? left : 0)) - 1u);
        float *yv = y + (size_t)(16 * v) * ldy;
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            __m512 val = acc[r][v];
            if (b != NULL)
                val = _mm512_add_ps(val, _mm512_set1_ps(b[r]));
            if (gelu)
                val = gelu_erf_ps512(val);
            _mm512_mask_i32scatter_ps(yv + r, mask, idx, val, 4);
        }
    }
}

#define SG_T(RR, VV) sg_tile(xt, k, w, (size_t)k, b, y, ldy, nt, gelu, RR, VV)
#define SG_R(VV)                                                                              \
    switch (R) {                                                                              \
    case 8: SG_T(8, VV); break;                                                               \
    case 4: SG_T(4, VV); break;                                                               \
    case 2: SG_T(2, VV); break;                                                               \
    default: SG_T(1, VV); break;                                                              \
    }

/* One tile of R (8, 4, 2 or 1; at most 4 when V is 4) rows and V vectors. */
SG_TARGET
static void sg_tile_rv(int R, int V, const float *xt, int k, const float *w, const float *b,
                       float *y, size_t ldy, int nt, int gelu)
{
    switch (V) {
    case 1: SG_R(1) break;
    case 2: SG_R(2) break;
    case 3: SG_R(3) break;
    default:
        if (R > 4)
            R = 4; /* not reached: callers pass R <= 4 with V = 4 */
        SG_R(4) break;
    }
}
#undef SG_R
#undef SG_T

/*
** The products for nb tokens transposed in sub-blocks of SG_SB at
** xt + j · SG_SB · k, 16 output columns at a time: the tiles scatter into
** ybuf ([SG_SB][16], L1), which is then stored as one 64-byte row per token.
** Scattering straight into y was slow when its row stride is a multiple of
** 4 KB (FF = 3072 floats): every token's line fell into the same L1 set.
** The 16 weight rows of a group are read once per block (up to 4 sub-blocks).
*/
SG_TARGET
static void sg_block_avx512(const float *xt, int nb, int k, const float *w, const float *b,
                            float *y, size_t ldy, int c0, int c1, int gelu)
{
    float ybuf[SG_SB * 16] __attribute__((aligned(64)));
    for (int g0 = c0; g0 < c1; g0 += 16) {
        int cols = c1 - g0 < 16 ? c1 - g0 : 16;
        __mmask16 cm = (__mmask16)((1u << cols) - 1u);
        for (int t0 = 0; t0 < nb; t0 += SG_SB) {
            int nt = nb - t0 < SG_SB ? nb - t0 : SG_SB;
            int V = (nt + 15) / 16, rmax = V == 4 ? 4 : 8;
            for (int n = 0; n < cols;) {
                int rem = cols - n;
                int R = rem >= rmax ? rmax : rem >= 4 ? 4 : rem >= 2 ? 2 : 1;
                sg_tile_rv(R, V, xt + (size_t)t0 * (size_t)k, k, w + (size_t)(g0 + n) * (size_t)k,
                           b != NULL ? b + g0 + n : NULL, ybuf + n, 16, nt, gelu);
                n += R;
            }
            for (int t = 0; t < nt; t++)
                _mm512_mask_storeu_ps(y + (size_t)(t0 + t) * ldy + (size_t)g0, cm,
                                      _mm512_load_ps(ybuf + 16 * t));
        }
    }
}
#endif /* SG_X86 */

/* Plain C: the same sums in the same k order (for CPUs without AVX-512). */
static void sg_block_c(const float *xt, int nb, int k, const float *w, const float *b,
                       float *y, size_t ldy, int c0, int c1, int gelu)
{
    for (int n = c0; n < c1; n++) {
        const float *wr = w + (size_t)n * (size_t)k;
        for (int t = 0; t < nb; t++) {
            int t0 = t / SG_SB * SG_SB, left = nb - t0;
            size_t S = (size_t)((left < SG_SB ? left : SG_SB) + 15) / 16 * 16;
            const float *xs = xt + (size_t)t0 * (size_t)k + (size_t)(t - t0);
            float s = 0.0f;
            for (int kk = 0; kk < k; kk++)
                s += xs[(size_t)kk * S] * wr[kk];
            y[(size_t)t * ldy + (size_t)n] = s + (b != NULL ? b[n] : 0.0f);
        }
    }
    if (gelu)
        for (int t = 0; t < nb; t++)
            gelu_erf(y + (size_t)t * ldy + c0, (size_t)(c1 - c0));
}

void sgemm_nt(const float *x, size_t ldx, int T, int k, const struct sgemm_out *outs,
              int n_out, size_t ldy, int c0, int c1, int gelu, float *scratch)
{
    if (T <= 0 || c1 <= c0 || k <= 0)
        return;
    const int simd = sgemm_available();
    const int TB = sg_block_tokens(k);
    for (int tb = 0; tb < T; tb += TB) {
        int nb = T - tb < TB ? T - tb : TB;
        for (int t0 = 0; t0 < nb; t0 += SG_SB) {
            int nt = nb - t0 < SG_SB ? nb - t0 : SG_SB;
            sg_transpose(x + (size_t)(tb + t0) * ldx, ldx, nt, k, (nt + 15) / 16 * 16,
                         scratch + (size_t)t0 * (size_t)k);
        }
        for (int o = 0; o < n_out; o++) {
            float *y = outs[o].y + (size_t)tb * ldy;
#if SG_X86
            if (simd) {
                sg_block_avx512(scratch, nb, k, outs[o].w, outs[o].b, y, ldy, c0, c1, gelu);
                continue;
            }
#endif
            (void)simd;
            sg_block_c(scratch, nb, k, outs[o].w, outs[o].b, y, ldy, c0, c1, gelu);
        }
    }
}
