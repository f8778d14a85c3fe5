/*
 * gelu.h - the GELU activation of BERT's feed-forward layers, exact-erf form
 * (PyTorch's default, not the tanh approximation), vectorized.
 *
 *   gelu(v) = v/2 · (1 + erf(v/√2))
 *
 * erf is computed as x · P(x²) / Q(x²) on x clamped to [-4, 4] (erf(4) rounds
 * to 1 in float), with P and Q of degree 5 fitted for this project over
 * [0, 4]; in float arithmetic the result is within 3.5e-7 of erf everywhere
 * (glibc's erff: about 6e-8), so gelu is within 7e-7 absolute. No branches or
 * calls: the loop vectorizes (AVX-512/AVX2 clones on x86-64).
 */
#ifndef MLW_ML_GELU_H
#define MLW_ML_GELU_H

#include <stddef.h>

/* y[i] = gelu(y[i]) for i < n. NaN stays NaN. */
void gelu_erf(float *y, size_t n);

/* erf(x) by the same approximation (for tests). */
float gelu_erf_approx(float x);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* gelu of 16 floats with the same operations in the same order as gelu_erf(),
 * so the results are bit-identical (min/max operand order keeps NaN as NaN).
 * For kernels compiled with an AVX-512 target. */
static inline __attribute__((always_inline, target("avx512f"))) __m512
gelu_erf_ps512(__m512 v)
{
    const __m512 z4 = _mm512_set1_ps(4.0f), m4 = _mm512_set1_ps(-4.0f);
    const __m512 one = _mm512_set1_ps(1.0f), mone = _mm512_set1_ps(-1.0f);
    __m512 x = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752440f));
    x = _mm512_min_ps(z4, x);   /* x > 4 ? 4 : x */
    x = _mm512_max_ps(m4, x);   /* x < -4 ? -4 : x */
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(1.937954210e-06f), q = _mm512_set1_ps(3.739448395e-05f);
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(2.936611792e-04f));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(1.273543109e-03f));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(4.235780919e-03f));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(1.590627293e-02f));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(5.417841917e-02f));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(1.186966390e-01f));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(2.016131229e-01f));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), _mm512_set1_ps(5.120040271e-01f));
    p = _mm512_add_ps(_mm512_mul_ps(p, z), _mm512_set1_ps(1.128378729e+00f));
    q = _mm512_add_ps(_mm512_mul_ps(q, z), one);
    __m512 r = _mm512_div_ps(_mm512_mul_ps(x, p), q);
    r = _mm512_min_ps(one, r);  /* r > 1 ? 1 : r */
    r = _mm512_max_ps(mone, r); /* r < -1 ? -1 : r */
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(one, r));
}
#endif

#endif
