/*
 * qgemm.c - int8 and bf16 matrix products; see qgemm.h for the math and the
 * packed weight layout.
 *
 * Loop order of the SIMD kernels (y[T, c0..c1) for one thread):
 *
 *   for each block of QG_TB activation rows          (rows stay in L2)
 *     for each pair of 16-channel weight blocks      (one pair: 32·Kp weights)
 *       for each tile of up to QG_TR rows
 *         QG_TR x 2 accumulators of 16 lanes; per K group: 2 weight loads,
 *         QG_TR broadcasts, 2·QG_TR VPDPBUSD / VDPBF16PS
 *         epilogue: int8: (acc - corr) · sx[t] · sw[n]; bf16: acc; masked stores
 *
 * The tile is written once per kernel as an always_inline function over
 * compile-time R (rows) and NB (weight blocks, 1 or 2), instantiated by a
 * switch, so the accumulators live in registers (16 + 2 + 1 of 32 zmm).
 */
#include "ml/qgemm.h"

#include "ml/gelu.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QG_X86 1
#else
#define QG_X86 0
#endif

#define QG_BLOCK 16  /* output channels per packed block */
#define QG_TB 64     /* activation rows per cache block */
#define QG_TR 8      /* activation rows per register tile */
#define QG_FB_COLS 64 /* columns widened at once by the portable bf16 kernel */
#define QG_MAX_K 65536

/* ------------------------------------------------------------------------ */
/* Conversions and packing                                                   */

uint16_t qgemm_f32_to_bf16(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a quiet NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float qg_bf16_to_f32(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static int qg_group(enum qgemm_type type) { return type == QGEMM_TYPE_I8 ? 4 : 2; }

/*
** Row helpers. Loops run over blocks of 16 with a constant trip count (and a
** scalar tail), which GCC vectorizes at -O2; on x86-64 they are also cloned
** for AVX2 and AVX-512. Rounding is round-half-even through the 1.5 * 2^23
** trick (exact for |v| < 2^22), the same as nearbyintf() and VCVTPS2DQ, so
** every path gives the same bytes.
*/
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define QG_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define QG_CLONES
#endif

#define QG_ROUND_MAGIC 12582912.0f /* 1.5 * 2^23 */

/* max |x[i]| over n values (0 for n = 0) */
QG_CLONES
static float qg_absmax(const float *x, int n)
{
    float m[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float a = fabsf(x[i + j]);
            m[j] = a > m[j] ? a : m[j];
        }
    float mx = 0.0f;
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        mx = a > mx ? a : mx;
    }
    for (int j = 0; j < 16; j++)
        mx = m[j] > mx ? m[j] : mx;
    return mx;
}

/* q[i] = round(clamp(x[i] * inv, -127, 127)) + bias, as bytes; NaN counts as
 * -127 (the semantics of VMAXPS/VMINPS, which the SIMD version uses). */
static void qg_quantize_c(const float *x, int n, float inv, int bias, uint8_t *q)
{
    for (int i = 0; i < n; i++) {
        float v = x[i] * inv;
        v = v > -127.0f ? v : -127.0f;
        v = v < 127.0f ? v : 127.0f;
        q[i] = (uint8_t)((int)((v + QG_ROUND_MAGIC) - QG_ROUND_MAGIC) + bias);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw")))
static void qg_quantize_avx512(const float *x, int n, float inv, int bias, uint8_t *q)
{
    const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f),
                 hi = _mm512_set1_ps(127.0f);
    const __m512i vb = _mm512_set1_epi32(bias);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        __m512i r = _mm512_add_epi32(_mm512_cvtps_epi32(v), vb); /* nearest even */
        _mm_storeu_si128((__m128i *)(void *)(q + i), _mm512_cvtepi32_epi8(r));
    }
    qg_quantize_c(x + i, n - i, inv, bias, q + i);
}
#endif

static atomic_int qg_avx512_state = -1; /* -1 unknown, 0 no, 1 yes */

static void qg_quantize(const float *x, int n, float inv, int bias, uint8_t *q)
{
#if defined(__x86_64__) && defined(__GNUC__)
    int st = atomic_load_explicit(&qg_avx512_state, memory_order_relaxed);
    if (st < 0) {
        __builtin_cpu_init();
        st = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
        atomic_store_explicit(&qg_avx512_state, st, memory_order_relaxed);
    }
    if (st) {
        qg_quantize_avx512(x, n, inv, bias, q);
        return;
    }
#endif
    qg_quantize_c(x, n, inv, bias, q);
}

static void qg_gelu(float *y, int n) { gelu_erf(y, (size_t)n); }

static size_t qg_index(int n, int k, int k_pad, int g)
{
    return (size_t)(n / QG_BLOCK) * (size_t)k_pad * QG_BLOCK + (size_t)(k / g) * QG_BLOCK * g +
           (size_t)(n % QG_BLOCK) * (size_t)g + (size_t)(k % g);
}

static void *qg_aligned(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}

/* Store one row of bf16 values (k of them, then zero padding) into the packed
 * bf16 layout: 2 values (4 bytes) per K pair, pairs 64 bytes apart. */
static void qg_pack_bf16_row(struct qgemm_weights *q, int n, uint16_t *vals)
{
    for (int k = q->k; k < q->k_pad; k++)
        vals[k] = 0;
    uint8_t *d = (uint8_t *)q->data + qg_index(n, 0, q->k_pad, 2) * 2;
    for (int g = 0; g < q->k_pad / 2; g++)
        memcpy(d + (size_t)g * 64, vals + 2 * g, 4);
}

/* Zero the packed slots of the padding rows n..n_pad-1 (int8 or bf16). */
static void qg_zero_pad_rows(struct qgemm_weights *q)
{
    size_t esize = q->type == QGEMM_TYPE_I8 ? 1 : 2;
    int g = qg_group(q->type);
    for (int n = q->n; n < q->n_pad; n++)
        for (int k = 0; k < q->k_pad; k += g)
            memset((uint8_t *)q->data + qg_index(n, k, q->k_pad, g) * esize, 0, (size_t)g * esize);
}

/* Shape checks and allocation shared by both init functions. */
static int qg_alloc(struct qgemm_weights *q, enum qgemm_type type, int n, int k,
                    struct mlw_err *err)
{
    memset(q, 0, sizeof *q);
    if (n < 1 || k < 1 || k > QG_MAX_K || n > (1 << 24))
        return mlw_err_set(err, MLW_EINVAL, "qgemm: bad weight shape [%d, %d]", n, k);
    int g = qg_group(type);
    q->type = type;
    q->n = n;
    q->k = k;
    q->n_pad = (n + QG_BLOCK - 1) / QG_BLOCK * QG_BLOCK;
    q->k_pad = (k + g - 1) / g * g;
    size_t elems = (size_t)q->n_pad * (size_t)q->k_pad;
    size_t esize = type == QGEMM_TYPE_I8 ? 1 : 2;
    q->data = qg_aligned(elems * esize); /* every byte is written by the packers */
    if (q->data == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "qgemm: out of memory for [%d, %d] weights", n, k);
    qg_zero_pad_rows(q);
    if (type == QGEMM_TYPE_I8) {
        q->scale = qg_aligned((size_t)q->n_pad * sizeof(float));
        q->corr = qg_aligned((size_t)q->n_pad * sizeof(int32_t));
        if (q->scale == NULL || q->corr == NULL) {
            qgemm_weights_free(q);
            return mlw_err_set(err, MLW_ENOMEM, "qgemm: out of memory");
        }
        for (int i = 0; i < q->n_pad; i++) {
            q->scale[i] = 1.0f;
            q->corr[i] = 0;
        }
    }
    return MLW_OK;
}

/* Quantize row n (k values, fp32) into the packed int8 layout: 4 bytes per
 * K group, groups 64 bytes apart; the K padding is written as zeros. */
static void qg_pack_i8_row(struct qgemm_weights *q, int n, const float *row, uint8_t *tmp)
{
    float mx = qg_absmax(row, q->k);
    float scale = mx > 0.0f ? mx / 127.0f : 1.0f;
    qg_quantize(row, q->k, 1.0f / scale, 0, tmp);
    for (int k = q->k; k < q->k_pad; k++)
        tmp[k] = 0;
    uint8_t *d = (uint8_t *)q->data + qg_index(n, 0, q->k_pad, 4);
    int32_t sum = 0;
    for (int g = 0; g < q->k_pad / 4; g++) {
        memcpy(d + (size_t)g * 64, tmp + 4 * g, 4);
        sum += (int8_t)tmp[4 * g] + (int8_t)tmp[4 * g + 1] + (int8_t)tmp[4 * g + 2] +
               (int8_t)tmp[4 * g + 3];
    }
    q->scale[n] = scale;
    q->corr[n] = 128 * sum;
}

int qgemm_weights_init(struct qgemm_weights *q, enum qgemm_type type, const float *w, int n,
                       int k, struct mlw_err *err)
{
    int rc = qg_alloc(q, type, n, k, err);
    if (rc != MLW_OK)
        return rc;
    uint8_t *tmp = malloc((size_t)q->k_pad * 2); /* int8 bytes or bf16 values */
    if (tmp == NULL) {
        qgemm_weights_free(q);
        return mlw_err_set(err, MLW_ENOMEM, "qgemm: out of memory");
    }
    for (int r = 0; r < n; r++) {
        const float *row = w + (size_t)r * (size_t)k;
        if (type == QGEMM_TYPE_I8) {
            qg_pack_i8_row(q, r, row, tmp);
        } else {
            uint16_t *vals = (uint16_t *)(void *)tmp;
            for (int c = 0; c < k; c++)
                vals[c] = qgemm_f32_to_bf16(row[c]);
            qg_pack_bf16_row(q, r, vals);
        }
    }
    free(tmp);
    return MLW_OK;
}

int qgemm_weights_init_bf16(struct qgemm_weights *q, enum qgemm_type type, const uint16_t *w,
                            int n, int k, struct mlw_err *err)
{
    int rc = qg_alloc(q, type, n, k, err);
    if (rc != MLW_OK)
        return rc;
    float *row = type == QGEMM_TYPE_I8 ? malloc((size_t)k * sizeof *row) : NULL;
    uint8_t *tmp = malloc((size_t)q->k_pad * 2); /* int8 bytes or bf16 values */
    if ((type == QGEMM_TYPE_I8 && row == NULL) || tmp == NULL) {
        free(row);
        free(tmp);
        qgemm_weights_free(q);
        return mlw_err_set(err, MLW_ENOMEM, "qgemm: out of memory");
    }
    for (int r = 0; r < n; r++) {
        const uint16_t *src = w + (size_t)r * (size_t)k;
        if (type == QGEMM_TYPE_I8) {
            for (int c = 0; c < k; c++)
                row[c] = qg_bf16_to_f32(src[c]);
            qg_pack_i8_row(q, r, row, tmp);
        } else {
            uint16_t *vals = (uint16_t *)(void *)tmp;
            memcpy(vals, src, (size_t)k * sizeof *vals);
            qg_pack_bf16_row(q, r, vals);
        }
    }
    free(row);
    free(tmp);
    return MLW_OK;
}

void qgemm_weights_free(struct qgemm_weights *q)
{
    if (q == NULL)
        return;
    free(q->data);
    free(q->scale);
    free(q->corr);
    memset(q, 0, sizeof *q);
}

size_t qgemm_act_row_bytes(const struct qgemm_weights *w)
{
    return (size_t)w->k_pad * (w->type == QGEMM_TYPE_I8 ? 1 : 2);
}

void qgemm_prepare_rows(enum qgemm_type type, int k, const float *x, size_t ldx, int t0, int t1,
                        void *act, size_t ld_act, float *row_scale)
{
    int g = qg_group(type);
    int k_pad = (k + g - 1) / g * g;
    for (int t = t0; t < t1; t++) {
        const float *row = x + (size_t)t * ldx;
        if (type == QGEMM_TYPE_I8) {
            uint8_t *d = (uint8_t *)act + (size_t)t * ld_act;
            float mx = qg_absmax(row, k);
            float scale = mx > 0.0f ? mx / 127.0f : 1.0f;
            qg_quantize(row, k, 1.0f / scale, 128, d);
            for (int c = k; c < k_pad; c++)
                d[c] = 128;
            row_scale[t] = scale;
        } else {
            uint16_t *d = (uint16_t *)((uint8_t *)act + (size_t)t * ld_act);
            for (int c = 0; c < k; c++)
                d[c] = qgemm_f32_to_bf16(row[c]);
            for (int c = k; c < k_pad; c++)
                d[c] = 0;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Kernel selection                                                          */

static atomic_int qg_portable_forced = -1; /* -1: not decided yet */

void qgemm_force_portable(int on) { atomic_store(&qg_portable_forced, on ? 1 : 0); }

static int qg_portable(void)
{
    int v = atomic_load(&qg_portable_forced);
    if (v < 0) {
        const char *e = getenv("MLW_QGEMM_PORTABLE");
        v = e != NULL && e[0] == '1';
        atomic_store(&qg_portable_forced, v);
    }
    return v;
}

static int qg_have_vnni(void)
{
#if QG_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

static int qg_have_bf16(void)
{
#if QG_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

static int qg_use_simd(enum qgemm_type type)
{
    if (qg_portable())
        return 0;
    return type == QGEMM_TYPE_I8 ? qg_have_vnni() : qg_have_bf16();
}

const char *qgemm_kernel_name(enum qgemm_type type)
{
    if (!qg_use_simd(type))
        return "portable";
    return type == QGEMM_TYPE_I8 ? "avx512-vnni" : "avx512-bf16";
}

size_t qgemm_scratch_floats(const struct qgemm_weights *w)
{
    if (w->type == QGEMM_TYPE_BF16)
        return (size_t)QG_FB_COLS * (size_t)w->k; /* used only by the portable kernel */
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Portable kernels                                                          */

/* int8: one row x one 16-channel block at a time; the 16-lane inner loop has
 * a constant trip count, which GCC vectorizes at -O2. */
static void qg_i8_portable(const struct qgemm_weights *w, const uint8_t *xu, size_t ldu,
                           const float *xs, int T, float *y, size_t ldy, int c0, int c1,
                           const float *bias, int gelu)
{
    const int8_t *W = w->data;
    const size_t bstride = (size_t)w->k_pad * QG_BLOCK;
    const int nkg = w->k_pad / 4;
    for (int t = 0; t < T; t++) {
        const uint8_t *xr = xu + (size_t)t * ldu;
        float *yr = y + (size_t)t * ldy;
        for (int n0 = c0; n0 < c1; n0 += QG_BLOCK) {
            const int8_t *wb = W + (size_t)(n0 / QG_BLOCK) * bstride;
            int32_t acc[QG_BLOCK] = {0};
            for (int g = 0; g < nkg; g++) {
                const int8_t *wg = wb + (size_t)g * 64;
                const int32_t x0 = xr[4 * g], x1 = xr[4 * g + 1], x2 = xr[4 * g + 2],
                              x3 = xr[4 * g + 3];
                for (int j = 0; j < QG_BLOCK; j++)
                    acc[j] += x0 * wg[4 * j] + x1 * wg[4 * j + 1] + x2 * wg[4 * j + 2] +
                              x3 * wg[4 * j + 3];
            }
            int ne = c1 - n0 < QG_BLOCK ? c1 - n0 : QG_BLOCK;
            for (int j = 0; j < ne; j++) {
                float v = (float)(acc[j] - w->corr[n0 + j]) * xs[t] * w->scale[n0 + j];
                yr[n0 + j] = bias != NULL ? v + bias[n0 + j] : v;
            }
            if (gelu)
                qg_gelu(yr + n0, ne);
        }
    }
}

/* bf16: widen up to QG_FB_COLS weight rows to fp32, then one sgemm. */
static void qg_bf16_portable(const struct qgemm_weights *w, const float *x, size_t ldx, int T,
                             float *y, size_t ldy, int c0, int c1, float *scratch,
                             const float *bias, int gelu)
{
    const uint16_t *W = w->data;
    const int k = w->k;
    for (int n0 = c0; n0 < c1; n0 += QG_FB_COLS) {
        int nc = c1 - n0 < QG_FB_COLS ? c1 - n0 : QG_FB_COLS;
        for (int j = 0; j < nc; j++) {
            float *dst = scratch + (size_t)j * (size_t)k;
            for (int c = 0; c < k; c++)
                dst[c] = qg_bf16_to_f32(W[qg_index(n0 + j, c, w->k_pad, 2)]);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, nc, k, 1.0f, x, (int)ldx,
                    scratch, k, 0.0f, y + n0, (int)ldy);
        for (int t = 0; t < T; t++) {
            float *yr = y + (size_t)t * ldy + n0;
            if (bias != NULL)
                for (int j = 0; j < nc; j++)
                    yr[j] += bias[n0 + j];
            if (gelu)
                qg_gelu(yr, nc);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* AVX-512 kernels                                                           */

#if QG_X86
#define QG_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define QG_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* Lanes of the 16-channel block starting at n0 that fall below c1. */
static __mmask16 qg_mask(int n0, int c1)
{
    int ne = c1 - n0;
    return ne >= QG_BLOCK ? (__mmask16)0xffff : (__mmask16)((1u << ne) - 1u);
}

static inline __attribute__((always_inline)) QG_VNNI_TARGET void
qg_i8_tile(const struct qgemm_weights *w, const uint8_t *xu, size_t ldu, const float *xs,
           float *y, size_t ldy, int n0, int c1, const float *bias, int gelu, const int R,
           const int NB)
{
    const size_t bstride = (size_t)w->k_pad * QG_BLOCK;
    const int8_t *w0 = (const int8_t *)w->data + (size_t)(n0 / QG_BLOCK) * bstride;
    const int8_t *w1 = w0 + bstride;
    const int nkg = w->k_pad / 4;
    __m512i acc[QG_TR][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc[r][0] = _mm512_setzero_si512();
        acc[r][1] = _mm512_setzero_si512();
    }
    for (int g = 0; g < nkg; g++) {
        __m512i b0 = _mm512_load_si512((const void *)(w0 + (size_t)g * 64));
        __m512i b1 = NB > 1 ? _mm512_load_si512((const void *)(w1 + (size_t)g * 64)) : b0;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            int32_t a4;
            memcpy(&a4, xu + (size_t)r * ldu + (size_t)g * 4, sizeof a4);
            __m512i a = _mm512_set1_epi32(a4);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, b0);
            if (NB > 1)
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, b1);
        }
    }
#pragma GCC unroll 2
    for (int j = 0; j < NB; j++) {
        int nb = n0 + j * QG_BLOCK;
        __mmask16 mask = qg_mask(nb, c1);
        __m512i corr = _mm512_load_si512((const void *)(w->corr + nb));
        __m512 sw = _mm512_load_ps(w->scale + nb);
        __m512 b = bias != NULL ? _mm512_maskz_loadu_ps(mask, bias + nb) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][j], corr));
            v = _mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(xs[r])), sw);
            if (bias != NULL)
                v = _mm512_add_ps(v, b);
            if (gelu)
                v = gelu_erf_ps512(v);
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + nb, mask, v);
        }
    }
}

#define QG_TILE_CASES(FN, NB)                                                                 \
    switch (R) {                                                                              \
    case 1: FN(1, NB); break;                                                                 \
    case 2: FN(2, NB); break;                                                                 \
    case 3: FN(3, NB); break;                                                                 \
    case 4: FN(4, NB); break;                                                                 \
    case 5: FN(5, NB); break;                                                                 \
    case 6: FN(6, NB); break;                                                                 \
    case 7: FN(7, NB); break;                                                                 \
    default: FN(8, NB); break;                                                                \
    }

QG_VNNI_TARGET
static void qg_i8_vnni(const struct qgemm_weights *w, const uint8_t *xu, size_t ldu,
                       const float *xs, int T, float *y, size_t ldy, int c0, int c1,
                       const float *bias, int gelu)
{
    for (int tb = 0; tb < T; tb += QG_TB) {
        int te = T - tb < QG_TB ? T : tb + QG_TB;
        for (int n0 = c0; n0 < c1; n0 += 2 * QG_BLOCK) {
            int two = c1 - n0 > QG_BLOCK;
            for (int t = tb; t < te; t += QG_TR) {
                int R = te - t < QG_TR ? te - t : QG_TR;
                const uint8_t *xt = xu + (size_t)t * ldu;
                float *yt = y + (size_t)t * ldy;
#define QG_I8_CALL(RR, NBB) qg_i8_tile(w, xt, ldu, xs + t, yt, ldy, n0, c1, bias, gelu, RR, NBB)
                if (two) {
                    QG_TILE_CASES(QG_I8_CALL, 2)
                } else {
                    QG_TILE_CASES(QG_I8_CALL, 1)
                }
#undef QG_I8_CALL
            }
        }
    }
}

static inline __attribute__((always_inline)) QG_BF16_TARGET void
qg_bf16_tile(const struct qgemm_weights *w, const uint16_t *xb, size_t ldb, float *y,
             size_t ldy, int n0, int c1, const float *bias, int gelu, const int R, const int NB)
{
    const size_t bstride = (size_t)w->k_pad * QG_BLOCK;
    const uint16_t *w0 = (const uint16_t *)w->data + (size_t)(n0 / QG_BLOCK) * bstride;
    const uint16_t *w1 = w0 + bstride;
    const int nkp = w->k_pad / 2;
    __m512 acc[QG_TR][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
    }
    for (int g = 0; g < nkp; g++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(w0 + (size_t)g * 32));
        __m512bh b1 = NB > 1 ? (__m512bh)_mm512_load_si512((const void *)(w1 + (size_t)g * 32))
                             : b0;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            int32_t a2;
            memcpy(&a2, xb + (size_t)r * ldb + (size_t)g * 2, sizeof a2);
            __m512bh a = (__m512bh)_mm512_set1_epi32(a2);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
            if (NB > 1)
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
        }
    }
#pragma GCC unroll 2
    for (int j = 0; j < NB; j++) {
        int nb = n0 + j * QG_BLOCK;
        __mmask16 mask = qg_mask(nb, c1);
        __m512 b = bias != NULL ? _mm512_maskz_loadu_ps(mask, bias + nb) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 v = _mm512_add_ps(acc[r][j], b);
            if (gelu)
                v = gelu_erf_ps512(v);
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + nb, mask, v);
        }
    }
}

QG_BF16_TARGET
static void qg_bf16_avx512(const struct qgemm_weights *w, const uint16_t *xb, size_t ldb, int T,
                           float *y, size_t ldy, int c0, int c1, const float *bias, int gelu)
{
    for (int tb = 0; tb < T; tb += QG_TB) {
        int te = T - tb < QG_TB ? T : tb + QG_TB;
        for (int n0 = c0; n0 < c1; n0 += 2 * QG_BLOCK) {
            int two = c1 - n0 > QG_BLOCK;
            for (int t = tb; t < te; t += QG_TR) {
                int R = te - t < QG_TR ? te - t : QG_TR;
                const uint16_t *xt = xb + (size_t)t * ldb;
                float *yt = y + (size_t)t * ldy;
#define QG_BF_CALL(RR, NBB) qg_bf16_tile(w, xt, ldb, yt, ldy, n0, c1, bias, gelu, RR, NBB)
                if (two) {
                    QG_TILE_CASES(QG_BF_CALL, 2)
                } else {
                    QG_TILE_CASES(QG_BF_CALL, 1)
                }
#undef QG_BF_CALL
            }
        }
    }
}
#endif /* QG_X86 */

void qgemm_matmul(const struct qgemm_weights *w, const float *x, size_t ldx, const void *act,
                  size_t ld_act, const float *row_scale, int T, float *y, size_t ldy, int c0,
                  int c1, const float *bias, int gelu, float *scratch)
{
    if (T <= 0 || c1 <= c0)
        return;
    if (c1 > w->n)
        c1 = w->n;
    int simd = qg_use_simd(w->type);
    if (w->type == QGEMM_TYPE_I8) {
#if QG_X86
        if (simd) {
            qg_i8_vnni(w, act, ld_act, row_scale, T, y, ldy, c0, c1, bias, gelu);
            return;
        }
#endif
        qg_i8_portable(w, act, ld_act, row_scale, T, y, ldy, c0, c1, bias, gelu);
    } else {
#if QG_X86
        if (simd) {
            qg_bf16_avx512(w, act, ld_act / 2, T, y, ldy, c0, c1, bias, gelu);
            return;
        }
#endif
        (void)simd;
        qg_bf16_portable(w, x, ldx, T, y, ldy, c0, c1, scratch, bias, gelu);
    }
}
