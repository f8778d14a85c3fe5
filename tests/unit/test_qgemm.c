/*
 * test_qgemm.c - int8 / bf16 matrix products (ml/qgemm.h): the SIMD and the
 * portable kernels agree (int8: bit for bit), both are close to the fp32
 * product, column ranges and padding are honoured, bad shapes are refused.
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
#include "ml/qgemm.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static float rnd(void)
{
    uint64_t x = g_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g_rng = x;
    return (float)((x * 2685821657736338717ull) >> 40) / (float)(1u << 24) - 0.5f;
}

static float *rnd_matrix(int r, int c, float amp)
{
    float *m = malloc((size_t)r * (size_t)c * sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < (size_t)r * (size_t)c; i++)
        m[i] = amp * rnd();
    return m;
}

/* y_ref[t, n] = sum_k x[t, k] w[n, k] in double */
static double *ref_product(const float *x, const float *w, int T, int n, int k)
{
    double *y = malloc((size_t)T * (size_t)n * sizeof *y);
    assert_non_null(y);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int c = 0; c < k; c++)
                s += (double)x[(size_t)t * k + c] * w[(size_t)j * k + c];
            y[(size_t)t * n + j] = s;
        }
    return y;
}

/* Run qgemm over columns [c0, c1) of a y prefilled with a sentinel. */
static float *run(const struct qgemm_weights *q, const float *x, int T, int k, int c0, int c1)
{
    size_t ld = qgemm_act_row_bytes(q);
    uint8_t *act = malloc((size_t)T * ld + 1);
    float *sc = malloc((size_t)T * sizeof *sc + 1);
    float *y = malloc((size_t)T * (size_t)q->n * sizeof *y);
    size_t ns = qgemm_scratch_floats(q);
    float *scratch = ns ? malloc(ns * sizeof *scratch) : NULL;
    assert_non_null(act);
    assert_non_null(sc);
    assert_non_null(y);
    assert_true(ns == 0 || scratch != NULL);
    for (size_t i = 0; i < (size_t)T * (size_t)q->n; i++)
        y[i] = 12345.0f;
    qgemm_prepare_rows(q->type, k, x, (size_t)k, 0, T, act, ld, sc);
    qgemm_matmul(q, x, (size_t)k, act, ld, sc, T, y, (size_t)q->n, c0, c1, NULL, 0, scratch);
    free(act);
    free(sc);
    free(scratch);
    return y;
}

static void check_shape(enum qgemm_type type, int T, int n, int k, double tol)
{
    float *w = rnd_matrix(n, k, 0.1f);
    float *x = rnd_matrix(T, k, 2.0f);
    double *ref = ref_product(x, w, T, n, k);
    struct qgemm_weights q;
    struct mlw_err err = {0};
    assert_int_equal(qgemm_weights_init(&q, type, w, n, k, &err), MLW_OK);
    assert_int_equal(q.n_pad % 16, 0);

    qgemm_force_portable(0);
    const char *simd_name = qgemm_kernel_name(type);
    float *ys = run(&q, x, T, k, 0, n);
    qgemm_force_portable(1);
    assert_string_equal(qgemm_kernel_name(type), "portable");
    float *yp = run(&q, x, T, k, 0, n);
    qgemm_force_portable(0);

    /* error relative to the size of the row's outputs */
    double worst = 0.0, kernel_diff = 0.0;
    for (int t = 0; t < T; t++) {
        double scale = 1e-30;
        for (int j = 0; j < n; j++)
            scale = fmax(scale, fabs(ref[(size_t)t * n + j]));
        for (int j = 0; j < n; j++) {
            size_t i = (size_t)t * n + j;
            worst = fmax(worst, fabs(ys[i] - ref[i]) / scale);
            worst = fmax(worst, fabs(yp[i] - ref[i]) / scale);
            kernel_diff = fmax(kernel_diff, fabs((double)ys[i] - yp[i]) / scale);
        }
    }
    print_message("%s T=%d n=%d k=%d kernel=%s: max rel err %.3g, kernels differ by %.3g\n",
                  type == QGEMM_TYPE_I8 ? "int8" : "bf16", T, n, k, simd_name, worst,
                  kernel_diff);
    assert_true(worst < tol);
    if (type == QGEMM_TYPE_I8)
        assert_true(kernel_diff == 0.0); /* exact integer sums: identical */
    else
        assert_true(kernel_diff < tol);

    /* a column range: only [16, 16 + 20) written, the rest keeps the sentinel */
    if (n > 36) {
        float *yr = run(&q, x, T, k, 16, 36);
        for (int t = 0; t < T; t++)
            for (int j = 0; j < n; j++) {
                size_t i = (size_t)t * n + j;
                if (j >= 16 && j < 36)
                    assert_true(yr[i] == ys[i]);
                else
                    assert_true(yr[i] == 12345.0f);
            }
        free(yr);
    }
    qgemm_weights_free(&q);
    free(ys);
    free(yp);
    free(w);
    free(x);
    free(ref);
}

static void test_int8(void **state)
{
    (void)state;
    check_shape(QGEMM_TYPE_I8, 1, 1, 1, 0.02);
    check_shape(QGEMM_TYPE_I8, 3, 8, 5, 0.02);
    check_shape(QGEMM_TYPE_I8, 19, 50, 37, 0.02);
    check_shape(QGEMM_TYPE_I8, 70, 96, 200, 0.02);   /* > one 64-row block, 3 tiles of 32 */
    check_shape(QGEMM_TYPE_I8, 9, 48, 768, 0.02);
}

static void test_bf16(void **state)
{
    (void)state;
    check_shape(QGEMM_TYPE_BF16, 1, 1, 1, 0.01);
    check_shape(QGEMM_TYPE_BF16, 3, 8, 5, 0.01);
    check_shape(QGEMM_TYPE_BF16, 19, 50, 37, 0.01);
    check_shape(QGEMM_TYPE_BF16, 70, 96, 201, 0.01);
    check_shape(QGEMM_TYPE_BF16, 9, 48, 768, 0.01);
}

static void test_zero_rows(void **state)
{
    (void)state;
    int n = 20, k = 12, T = 3;
    float *w = rnd_matrix(n, k, 1.0f);
    memset(w + 5 * k, 0, (size_t)k * sizeof *w); /* an all-zero weight row */
    float *x = rnd_matrix(T, k, 1.0f);
    memset(x + k, 0, (size_t)k * sizeof *x);     /* an all-zero activation row */
    struct qgemm_weights q;
    assert_int_equal(qgemm_weights_init(&q, QGEMM_TYPE_I8, w, n, k, NULL), MLW_OK);
    float *y = run(&q, x, T, k, 0, n);
    for (int j = 0; j < n; j++)
        assert_true(y[(size_t)n + j] == 0.0f);
    for (int t = 0; t < T; t++)
        assert_true(y[(size_t)t * n + 5] == 0.0f);
    free(y);
    qgemm_weights_free(&q);
    free(w);
    free(x);
}

static void test_bf16_rounding(void **state)
{
    (void)state;
    assert_int_equal(qgemm_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(qgemm_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0) */
    assert_int_equal(qgemm_f32_to_bf16(1.00390625f), 0x3f80);
    /* 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (up) */
    assert_int_equal(qgemm_f32_to_bf16(1.01171875f), 0x3f82);
    assert_int_equal(qgemm_f32_to_bf16(INFINITY), 0x7f80);
    uint16_t nan = qgemm_f32_to_bf16(NAN);
    assert_true((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
}

static void test_gelu(void **state)
{
    (void)state;
    double worst = 0.0;
    for (int i = -600000; i <= 600000; i++) {
        float x = (float)i * 1e-5f;
        worst = fmax(worst, fabs((double)gelu_erf_approx(x) - erf((double)x)));
    }
    print_message("erf approximation: max abs error %.3g on [-6, 6]\n", worst);
    assert_true(worst < 4e-7);
    float y[37];
    for (int i = 0; i < 37; i++)
        y[i] = (float)(i - 18) * 0.37f;
    y[5] = NAN;
    y[6] = INFINITY;
    y[7] = -INFINITY;
    gelu_erf(y, 37);
    assert_true(isnan(y[5]));
    assert_true(y[6] == INFINITY);
    for (int i = 8; i < 37; i++) {
        double v = (double)(i - 18) * 0.37f;
        assert_true(fabs(y[i] - 0.5 * v * (1.0 + erf(v / sqrt(2.0)))) < 1e-6);
    }
}

static void test_errors(void **state)
{
    (void)state;
    float w[4] = {1, 2, 3, 4};
    struct qgemm_weights q;
    struct mlw_err err = {0};
    assert_int_equal(qgemm_weights_init(&q, QGEMM_TYPE_I8, w, 0, 4, &err), MLW_EINVAL);
    assert_non_null(strstr(err.msg, "shape"));
    assert_null(q.data);
    qgemm_weights_free(&q);
    assert_int_equal(qgemm_weights_init(&q, QGEMM_TYPE_BF16, w, 1, 70000, NULL), MLW_EINVAL);
    qgemm_weights_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8),          cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_zero_rows),     cmocka_unit_test(test_bf16_rounding),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_gelu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
