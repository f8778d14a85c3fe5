/*
 * gelu.c - vectorized exact-erf GELU; see gelu.h.
 *
 * The coefficients come from an iteratively reweighted least-squares fit of
 * the rational form x · P(x²) / Q(x²) to erf on [0, 4] (20 001 points), kept
 * to 10 significant digits; evaluated in float with Horner's rule.
 */
#include "ml/gelu.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GELU_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define GELU_CLONES
#endif

static inline float gelu_erf_inline(float x)
{
    const float P0 = 1.128378729e+00f, P1 = 2.016131229e-01f, P2 = 5.417841917e-02f,
                P3 = 4.235780919e-03f, P4 = 2.936611792e-04f, P5 = 1.937954210e-06f;
    const float Q1 = 5.120040271e-01f, Q2 = 1.186966390e-01f, Q3 = 1.590627293e-02f,
                Q4 = 1.273543109e-03f, Q5 = 3.739448395e-05f;
    x = x > 4.0f ? 4.0f : x;
    x = x < -4.0f ? -4.0f : x;
    float z = x * x;
    float p = ((((P5 * z + P4) * z + P3) * z + P2) * z + P1) * z + P0;
    float q = ((((Q5 * z + Q4) * z + Q3) * z + Q2) * z + Q1) * z + 1.0f;
    float r = x * p / q;
    r = r > 1.0f ? 1.0f : r;
    r = r < -1.0f ? -1.0f : r;
    return r;
}

float gelu_erf_approx(float x) { return gelu_erf_inline(x); }

GELU_CLONES
void gelu_erf(float *y, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float v = y[i + (size_t)j];
            y[i + (size_t)j] = 0.5f * v * (1.0f + gelu_erf_inline(v * 0.70710678118654752440f));
        }
    for (; i < n; i++)
        y[i] = 0.5f * y[i] * (1.0f + gelu_erf_inline(y[i] * 0.70710678118654752440f));
}
