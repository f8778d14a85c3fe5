/*
 * test_sgemm.c - fp32 products on unpacked weights (ml/sgemm.h): every tile
 * shape (token counts around the 16-lane vectors, the 64-row sub-blocks and
 * the blocks of up to 256,
 * column counts around the register tiles) against a double-precision
 * product, bias and gelu fused, column ranges honoured, several outputs.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/gelu.h"
#include "ml/sgemm.h"

static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static float rnd(void)
{
    uint64_t x = g_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g_rng = x;
    return (float)((x * 2685821657736338717ull) >> 40) / (float)(1u << 24) - 0.5f;
}

static float *rnd_matrix(size_t n)
{
    float *m = malloc(n * sizeof *m + 1);
    assert_non_null(m);
    for (size_t i = 0; i < n; i++)
        m[i] = rnd();
    return m;
}

static double gelu_ref(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }

/* Check outs[o].y against the double product on columns c0..c1, sentinel elsewhere. */
static void check(const float *x, size_t ldx, int T, int k, int N, const float *w, const float *b,
                  const float *y, size_t ldy, int c0, int c1, int gelu)
{
    for (int t = 0; t < T; t++)
        for (int n = 0; n < (int)ldy; n++) {
            float got = y[(size_t)t * ldy + (size_t)n];
            if (n < c0 || n >= c1 || n >= N) {
                if (got != -7.0f)
                    fail_msg("T=%d k=%d: y[%d,%d] written outside columns %d..%d", T, k, t, n,
                             c0, c1);
                continue;
            }
            double s = b != NULL ? b[n] : 0.0;
            for (int kk = 0; kk < k; kk++)
                s += (double)x[(size_t)t * ldx + (size_t)kk] * w[(size_t)n * (size_t)k + kk];
            if (gelu)
                s = gelu_ref(s);
            if (fabs(got - s) > 2e-5 * (1.0 + sqrt((double)k)))
                fail_msg("T=%d k=%d N=%d gelu=%d: y[%d,%d] = %.7g, expected %.7g", T, k, N, gelu,
                         t, n, got, s);
        }
}

static void run_case(int T, int k, int N, int c0, int c1, int gelu, int with_bias, int n_out)
{
    size_t ldx = (size_t)k + 3, ldy = (size_t)N + 5;
    float *x = rnd_matrix((size_t)T * ldx);
    float *scratch = aligned_alloc(64, (sgemm_scratch_floats(k) * sizeof(float) + 63) / 64 * 64);
    assert_non_null(scratch);
    struct sgemm_out outs[3];
    for (int o = 0; o < n_out; o++) {
        outs[o].w = rnd_matrix((size_t)N * (size_t)k);
        outs[o].b = with_bias ? rnd_matrix((size_t)N) : NULL;
        float *y = malloc((size_t)T * ldy * sizeof *y);
        assert_non_null(y);
        for (size_t i = 0; i < (size_t)T * ldy; i++)
            y[i] = -7.0f;
        outs[o].y = y;
    }
    sgemm_nt(x, ldx, T, k, outs, n_out, ldy, c0, c1, gelu, scratch);
    for (int o = 0; o < n_out; o++) {
        check(x, ldx, T, k, N, outs[o].w, outs[o].b, outs[o].y, ldy, c0, c1, gelu);
        free((void *)outs[o].w);
        free((void *)outs[o].b);
        free(outs[o].y);
    }
    free(x);
    free(scratch);
}

/* Token counts across 1..4 vectors and several 64-row blocks; column counts
 * that leave remainders of every tile height. */
static void test_shapes(void **state)
{
    (void)state;
    static const int Ts[] = {1, 2, 12, 16, 17, 31, 33, 48, 49, 64, 65, 130};
    static const int Ns[] = {1, 3, 8, 19, 37};
    static const int Ks[] = {1, 7, 64};
    for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; i++)
        for (size_t j = 0; j < sizeof Ns / sizeof Ns[0]; j++)
            for (size_t l = 0; l < sizeof Ks / sizeof Ks[0]; l++)
                run_case(Ts[i], Ks[l], Ns[j], 0, Ns[j], 0, 1, 1);
}

static void test_column_range_gelu_no_bias(void **state)
{
    (void)state;
    run_case(70, 96, 48, 16, 32, 1, 1, 1);
    run_case(13, 40, 37, 5, 30, 1, 0, 1);
    run_case(200, 33, 20, 0, 20, 0, 0, 1);
    run_case(300, 20, 24, 3, 24, 1, 1, 2); /* two blocks of sub-blocks */
}

static void test_three_outputs(void **state)
{
    (void)state;
    run_case(100, 48, 32, 0, 32, 0, 1, 3);
    run_case(9, 48, 32, 16, 32, 0, 1, 3);
}

static void test_bert_sized(void **state)
{
    (void)state;
    run_case(12, 768, 40, 0, 40, 0, 1, 1);
    run_case(64, 3072, 16, 0, 16, 1, 1, 1);
}

static void test_empty_is_noop(void **state)
{
    (void)state;
    float y = -7.0f, x = 1.0f, w = 1.0f, scratch[64] = {0};
    struct sgemm_out o = {&w, NULL, &y};
    sgemm_nt(&x, 1, 0, 1, &o, 1, 1, 0, 1, 0, scratch);
    sgemm_nt(&x, 1, 1, 1, &o, 1, 1, 1, 1, 0, scratch);
    assert_true(y == -7.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_column_range_gelu_no_bias),
        cmocka_unit_test(test_three_outputs),
        cmocka_unit_test(test_bert_sized),
        cmocka_unit_test(test_empty_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
