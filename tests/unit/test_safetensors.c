/*
 * test_safetensors.c - the safetensors reader: valid files, every kind of
 * malformed header (each must give a clear error naming the file and, where
 * there is one, the tensor), f16/bf16 conversion, and a deterministic fuzz
 * loop over mutated headers that must never crash (run under ASan too).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ml/safetensors.h"

/* Build a whole file image: 8-byte length, header, data_len bytes of data.
 * Returns an exactly sized malloc'd buffer (so ASan sees any overread). */
static uint8_t *make_file(const char *header, size_t data_len, size_t *len_out)
{
    size_t hlen = strlen(header);
    size_t len = 8 + hlen + data_len;
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hlen + i] = (uint8_t)(i * 7 + 3);
    *len_out = len;
    return buf;
}

/* Parse header+data and expect failure with `code` and a message containing
 * every non-NULL needle. */
static void expect_error(const char *header, size_t data_len, int code, const char *needle1,
                         const char *needle2)
{
    size_t len;
    uint8_t *buf = make_file(header, data_len, &len);
    struct safetensors st;
    struct mlw_err err = {0};
    int rc = safetensors_parse(buf, len, "model.safetensors", &st, &err);
    if (rc != code || strstr(err.msg, "model.safetensors") == NULL ||
        (needle1 && strstr(err.msg, needle1) == NULL) ||
        (needle2 && strstr(err.msg, needle2) == NULL))
        fail_msg("header %s: got rc=%d msg='%s', want rc=%d with '%s' '%s'", header, rc,
                 err.msg, code, needle1 ? needle1 : "", needle2 ? needle2 : "");
    assert_int_equal(st.n_tensors, 0);
    assert_null(st.tensors);
    safetensors_close(&st);
    free(buf);
}

static const char *VALID =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"b\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[16,28]},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
    "\"c\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[28,36]},"
    "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[36,38]},"
    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[38,38]}}   ";

static void test_valid(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = make_file(VALID, 38, &len);
    struct safetensors st;
    struct mlw_err err = {0};
    assert_int_equal(safetensors_parse(buf, len, "mem", &st, &err), MLW_OK);
    assert_int_equal(st.n_tensors, 5);
    const struct safetensors_tensor *a = safetensors_find(&st, "a");
    assert_non_null(a);
    assert_int_equal(a->dtype, SAFETENSORS_DTYPE_F32);
    assert_int_equal(a->ndim, 1);
    assert_int_equal(a->shape[0], 4);
    assert_int_equal(a->nbytes, 16);
    assert_ptr_equal(a->data, st.data);
    const struct safetensors_tensor *s = safetensors_find(&st, "s");
    assert_non_null(s);
    assert_int_equal(s->ndim, 0);
    assert_int_equal(s->numel, 1);
    assert_null(safetensors_find(&st, "nope"));
    assert_null(safetensors_find(&st, "__metadata__"));

    const struct safetensors_tensor *t;
    int64_t shape_b[2] = {2, 3};
    assert_int_equal(safetensors_get_float(&st, "b", 2, shape_b, &t, &err), MLW_OK);
    assert_ptr_equal(t, safetensors_find(&st, "b"));

    int64_t wrong[2] = {3, 2};
    assert_int_equal(safetensors_get_float(&st, "b", 2, wrong, &t, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "\"b\""));
    assert_non_null(strstr(err.msg, "[2, 3]"));
    assert_non_null(strstr(err.msg, "expected [3, 2]"));

    mlw_err_clear(&err);
    int64_t shape_c[2] = {1, 1};
    assert_int_equal(safetensors_get_float(&st, "c", 2, shape_c, &t, &err), MLW_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "I64"));

    mlw_err_clear(&err);
    assert_int_equal(safetensors_get_float(&st, "missing.weight", 2, shape_c, &t, &err),
                     MLW_ENOTFOUND);
    assert_non_null(strstr(err.msg, "mem"));
    assert_non_null(strstr(err.msg, "\"missing.weight\""));
    safetensors_close(&st);
    safetensors_close(&st); /* idempotent */
    free(buf);
}

static void test_truncated(void **state)
{
    (void)state;
    struct safetensors st;
    struct mlw_err err = {0};
    uint8_t small[5] = {1, 0, 0, 0, 0};
    assert_int_equal(safetensors_parse(small, sizeof small, "t.safetensors", &st, &err),
                     MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "too short"));
    assert_non_null(strstr(err.msg, "t.safetensors"));

    mlw_err_clear(&err);
    assert_int_equal(safetensors_parse(small, 0, "t.safetensors", &st, &err), MLW_EFORMAT);

    /* header length beyond the file */
    size_t len;
    uint8_t *buf = make_file(VALID, 38, &len);
    for (size_t cut = 8; cut < 8 + strlen(VALID); cut += 17) {
        mlw_err_clear(&err);
        assert_int_equal(safetensors_parse(buf, cut, "t.safetensors", &st, &err), MLW_EFORMAT);
        assert_non_null(strstr(err.msg, "exceeds the file size"));
    }
    /* data cut short: some tensor now lies beyond the end */
    for (size_t cut = 8 + strlen(VALID); cut < len; cut++) {
        mlw_err_clear(&err);
        assert_int_equal(safetensors_parse(buf, cut, "t.safetensors", &st, &err), MLW_EFORMAT);
        assert_non_null(strstr(err.msg, "t.safetensors"));
        assert_non_null(strstr(err.msg, "tensor \""));
    }
    free(buf);

    /* absurd header lengths */
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    mlw_err_clear(&err);
    assert_int_equal(safetensors_parse(huge, sizeof huge, "h", &st, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "out of range"));
    uint8_t zero[16] = {0};
    mlw_err_clear(&err);
    assert_int_equal(safetensors_parse(zero, sizeof zero, "h", &st, &err), MLW_EFORMAT);
}

static void test_bad_json(void **state)
{
    (void)state;
    expect_error("{\"a\":{\"dtype\":\"F32\",", 0, MLW_EFORMAT, "not valid JSON", NULL);
    expect_error("not json at all", 0, MLW_EFORMAT, "not valid JSON", NULL);
    expect_error("[1,2,3]", 0, MLW_EFORMAT, "not a JSON object", NULL);
    expect_error("{} x", 0, MLW_EFORMAT, "junk after", NULL);
    expect_error("{\"__metadata__\":[1]}", 0, MLW_EFORMAT, "__metadata__", NULL);
    expect_error("{\"a\":5}", 4, MLW_EFORMAT, "\"a\"", "not a JSON object");
    /* NUL inside the header */
    size_t len;
    uint8_t *buf = make_file("{\"a\":1}  ", 0, &len);
    buf[8 + 7] = '\0';
    struct safetensors st;
    struct mlw_err err = {0};
    assert_int_equal(safetensors_parse(buf, len, "model.safetensors", &st, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "NUL"));
    free(buf);
}

static void test_bad_entries(void **state)
{
    (void)state;
    /* dtype */
    expect_error("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                 MLW_EFORMAT, "\"w\"", "unknown dtype \"F33\"");
    expect_error("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MLW_EFORMAT,
                 "\"w\"", "dtype");
    expect_error("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MLW_EFORMAT, "\"w\"",
                 "dtype");
    /* shape */
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                 MLW_EFORMAT, "\"w\"", "shape[0]");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                 MLW_EFORMAT, "\"w\"", "shape[0]");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
                 MLW_EFORMAT, "\"w\"", "shape[0]");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
                 MLW_EFORMAT, "\"w\"", "shape");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                 "\"data_offsets\":[0,4]}}", 4, MLW_EFORMAT, "\"w\"", "dimensions");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                 "\"data_offsets\":[0,4]}}", 4, MLW_EFORMAT, "\"w\"", "overflow");
    /* shape x dtype size != byte length */
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12,
                 MLW_EFORMAT, "\"w\"", "4 elements of F32");
    expect_error("{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                 MLW_EFORMAT, "\"w\"", "hold 8 bytes");
    /* offsets */
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                 MLW_EFORMAT, "\"w\"", "data_offsets");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                 MLW_EFORMAT, "\"w\"", "data_offsets");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
                 MLW_EFORMAT, "\"w\"", "data_offsets");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
                 MLW_EFORMAT, "\"w\"", "reversed");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 3,
                 MLW_EFORMAT, "\"w\"", "beyond");
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                 "\"data_offsets\":[18446744073709551612,18446744073709551616]}}", 4,
                 MLW_EFORMAT, "\"w\"", "data_offsets");
    /* overlap, hole, extra bytes, duplicates */
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                 MLW_EFORMAT, "overlap", "\"a\"");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                 MLW_EFORMAT, "overlap", NULL);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                 MLW_EFORMAT, "\"b\"", "hole");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                 MLW_EFORMAT, "extra bytes", NULL);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                 MLW_EFORMAT, "\"a\"", "twice");
}

static void test_convert(void **state)
{
    (void)state;
    assert_true(safetensors_f16_to_f32(0x3c00) == 1.0f);
    assert_true(safetensors_f16_to_f32(0xc000) == -2.0f);
    assert_true(safetensors_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(safetensors_f16_to_f32(0x3555) == 0.333251953125f);
    assert_true(safetensors_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
    assert_true(safetensors_f16_to_f32(0x8200) == -3.0517578125e-05f);
    assert_true(safetensors_f16_to_f32(0x0000) == 0.0f);
    float nz = safetensors_f16_to_f32(0x8000);
    assert_true(nz == 0.0f && signbit(nz));
    assert_true(isinf(safetensors_f16_to_f32(0x7c00)) && safetensors_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(safetensors_f16_to_f32(0xfc00)) && safetensors_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(safetensors_f16_to_f32(0x7e00)));
    assert_true(safetensors_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(safetensors_bf16_to_f32(0xc0a0) == -5.0f);
    assert_true(safetensors_bf16_to_f32(0x3eaa) == 0.33203125f);

    /* unaligned little-endian sources */
    uint8_t raw[7] = {0xff, 0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f};
    float out[3];
    safetensors_to_f32(SAFETENSORS_DTYPE_F16, raw + 1, 3, out);
    assert_true(out[0] == 1.0f && out[1] == -2.0f);
    safetensors_to_f32(SAFETENSORS_DTYPE_BF16, raw + 5, 1, out);
    assert_true(out[0] == 1.0f);
    float f32[2] = {1.5f, -7.25f};
    uint8_t bytes[9];
    memcpy(bytes + 1, f32, sizeof f32);
    safetensors_to_f32(SAFETENSORS_DTYPE_F32, bytes + 1, 2, out);
    assert_true(out[0] == 1.5f && out[1] == -7.25f);
    assert_string_equal(safetensors_dtype_name(SAFETENSORS_DTYPE_BF16), "BF16");
    assert_int_equal(safetensors_dtype_size(SAFETENSORS_DTYPE_I64), 8);
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/mlw_st_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);

    size_t len;
    uint8_t *buf = make_file(VALID, 38, &len);
    write_file(path, buf, len);
    struct safetensors st;
    struct mlw_err err = {0};
    assert_int_equal(safetensors_open(path, &st, &err), MLW_OK);
    assert_int_equal(st.n_tensors, 5);
    const struct safetensors_tensor *a = safetensors_find(&st, "a");
    assert_memory_equal(a->data, buf + 8 + strlen(VALID), 16);
    assert_non_null(st.map);
    safetensors_close(&st);

    /* truncated file on disk: the error names the path and a tensor */
    write_file(path, buf, len - 3);
    assert_int_equal(safetensors_open(path, &st, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "truncated"));
    mlw_err_clear(&err);
    write_file(path, buf, 4);
    assert_int_equal(safetensors_open(path, &st, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "too short"));
    mlw_err_clear(&err);
    write_file(path, buf, 0);
    assert_int_equal(safetensors_open(path, &st, &err), MLW_EFORMAT);
    mlw_err_clear(&err);
    free(buf);

    assert_int_equal(safetensors_open(dir, &st, &err), MLW_EIO);
    assert_non_null(strstr(err.msg, "not a regular file"));
    mlw_err_clear(&err);
    unlink(path);
    assert_int_equal(safetensors_open(path, &st, &err), MLW_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    safetensors_close(&st);
    rmdir(dir);
}

/* xorshift64*: a fixed, portable sequence. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ull;
}

static void check_invariants(const struct safetensors *st, size_t len)
{
    size_t sum = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const struct safetensors_tensor *t = &st->tensors[i];
        assert_true(t->offset + t->nbytes <= st->data_len);
        assert_true((const uint8_t *)t->data + t->nbytes <= st->data + st->data_len);
        assert_int_equal(t->nbytes, t->numel * safetensors_dtype_size(t->dtype));
        assert_ptr_equal(safetensors_find(st, t->name), t);
        /* touch every byte (ASan checks the bounds) */
        unsigned acc = 0;
        const uint8_t *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++)
            acc += p[k];
        (void)acc;
        sum += t->nbytes;
        if (i > 0)
            assert_true(strcmp(st->tensors[i - 1].name, t->name) < 0);
    }
    assert_int_equal(sum, st->data_len);
    assert_true(st->data_len <= len);
}

static void test_fuzz(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,0123456789-.eE FIBUL6482_abtsz\\\x01\xff";
    size_t base_len;
    uint8_t *base = make_file(VALID, 38, &base_len);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int ok = 0, failed = 0;
    const int iters = 20000;
    for (int it = 0; it < iters; it++) {
        size_t len = base_len;
        uint8_t *buf = malloc(base_len + 64);
        assert_non_null(buf);
        memcpy(buf, base, base_len);
        int n_mut = 1 + (int)(rng_next(&seed) % 4);
        for (int k = 0; k < n_mut; k++) {
            uint64_t r = rng_next(&seed);
            size_t hlen = strlen(VALID);
            size_t pos = 8 + (size_t)((r >> 8) % (hlen ? hlen : 1));
            if (pos >= len)
                pos = len - 1;
            switch (r % 7) {
            case 0: /* replace a header byte with a JSON-ish character */
                buf[pos] = (uint8_t)alphabet[(r >> 40) % (sizeof alphabet - 1)];
                break;
            case 1: /* flip a bit anywhere */
                buf[(r >> 8) % len] ^= (uint8_t)(1u << ((r >> 40) % 8));
                break;
            case 2: /* delete a byte in the header (the length now lies) */
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
                break;
            case 3: /* insert a byte */
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (uint8_t)alphabet[(r >> 40) % (sizeof alphabet - 1)];
                len++;
                break;
            case 4: /* truncate */
                len = (size_t)((r >> 8) % (len + 1));
                break;
            case 5: /* change the length prefix a little */
                if (len >= 8)
                    buf[0] = (uint8_t)(buf[0] + (int)((r >> 40) % 5) - 2);
                break;
            case 6: /* change a digit */
                for (size_t q = pos; q < len && q < pos + 40; q++) {
                    if (buf[q] >= '0' && buf[q] <= '9') {
                        buf[q] = (uint8_t)('0' + (r >> 40) % 10);
                        break;
                    }
                }
                break;
            }
            if (len < 9)
                break;
        }
        /* exact-size copy so any overread is caught */
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, buf, len);
        free(buf);
        struct safetensors st;
        struct mlw_err err = {0};
        int rc = safetensors_parse(exact, len, "fuzz.safetensors", &st, &err);
        if (rc == MLW_OK) {
            check_invariants(&st, len);
            ok++;
        } else {
            assert_true(err.msg[0] != '\0');
            assert_non_null(strstr(err.msg, "fuzz.safetensors"));
            assert_int_equal(st.n_tensors, 0);
            failed++;
        }
        safetensors_close(&st);
        free(exact);
    }
    free(base);
    print_message("fuzz: %d iterations, %d accepted, %d rejected\n", iters, ok, failed);
    assert_int_equal(ok + failed, iters);
    assert_true(failed > iters / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),       cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_json),    cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_convert),     cmocka_unit_test(test_files),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
