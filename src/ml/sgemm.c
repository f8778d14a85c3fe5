/*
 * sgemm.c - fp32 Linear products on unpacked weights; see sgemm.h.
 *
 * Loop order (one thread, columns c0..c1):
 *
 *   for each block of up to SG_TB = 64 token rows
 *     transpose the block into xt[k][16·V], V = ceil(rows / 16)   (L2-resident)
 *     for each output (Q, K, V share the block)
 *       for each group of R weight rows
 *         R x V accumulators of 16 tokens; per k: V loads of xt, R broadcasts
 *         of W[n, k], R·V FMAs; epilogue: + b[n], gelu, masked scatter into y
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

#define SG_TB 64 /* token rows per transposed block */

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

size_t sgemm_scratch_floats(int k) { return (size_t)SG_TB * (size_t)(k > 0 ? k : 0); }

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

#define SG_CALL(RR, VV)                                                                       \
    sg_tile(xt, k, w + (size_t)n0 * (size_t)k, (size_t)k, b != NULL ? b + n0 : NULL,          \
            y + n0, ldy, nb, gelu, RR, VV)

/* The widest tile for V vectors, then 8, 4, 2, 1 rows for what is left. */
#define SG_ROWS(VV, RMAX)                                                                     \
    do {                                                                                      \
        if (rem >= RMAX) {                                                                    \
            SG_CALL(RMAX, VV);                                                                \
            rows = RMAX;                                                                      \
        } else if (rem >= 8) {                                                                \
            SG_CALL(8, VV);                                                                   \
            rows = 8;                                                                         \
        } else if (rem >= 4) {                                                                \
            SG_CALL(4, VV);                                                                   \
            rows = 4;                                                                         \
        } else if (rem >= 2) {                                                                \
            SG_CALL(2, VV);                                                                   \
            rows = 2;                                                                         \
        } else {                                                                              \
            SG_CALL(1, VV);                                                                   \
            rows = 1;                                                                         \
        }                                                                                     \
    } while (0)

SG_TARGET
static void sg_block_avx512(const float *xt, int nb, int k, const float *w, const float *b,
                            float *y, size_t ldy, int c0, int c1, int gelu)
{
    const int V = (nb + 15) / 16;
    for (int n0 = c0; n0 < c1;) {
        int rem = c1 - n0, rows;
        switch (V) {
        case 1: SG_ROWS(1, 8); break;
        case 2: SG_ROWS(2, 8); break;
        case 3: SG_ROWS(3, 8); break;
        default: SG_ROWS(4, 4); break;
        }
        n0 += rows;
    }
}
#undef SG_ROWS
#undef SG_CALL
#endif /* SG_X86 */

/* Plain C: the same sums in the same k order (for CPUs without AVX-512). */
static void sg_block_c(const float *xt, int nb, int S, int k, const float *w, const float *b,
                       float *y, size_t ldy, int c0, int c1, int gelu)
{
    for (int n = c0; n < c1; n++) {
        const float *wr = w + (size_t)n * (size_t)k;
        for (int t = 0; t < nb; t++) {
            float s = 0.0f;
            for (int kk = 0; kk < k; kk++)
                s += xt[(size_t)kk * (size_t)S + (size_t)t] * wr[kk];
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
    for (int tb = 0; tb < T; tb += SG_TB) {
        int nb = T - tb < SG_TB ? T - tb : SG_TB;
        int S = (nb + 15) / 16 * 16;
        sg_transpose(x + (size_t)tb * ldx, ldx, nb, k, S, scratch);
        for (int o = 0; o < n_out; o++) {
            float *y = outs[o].y + (size_t)tb * ldy;
#if SG_X86
            if (simd) {
                sg_block_avx512(scratch, nb, k, outs[o].w, outs[o].b, y, ldy, c0, c1, gelu);
                continue;
            }
#endif
            (void)simd;
            sg_block_c(scratch, nb, S, k, outs[o].w, outs[o].b, y, ldy, c0, c1, gelu);
        }
    }
}
