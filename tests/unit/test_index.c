/*
 * test_index.c - the vector index file (ml/index.h): writer round trip and
 * resume, exact search (f32 and int8), top-k ordering, and the reader on
 * truncated and corrupted images: every prefix of a valid file, targeted
 * header/metadata damage, and random byte flips must give MLW_EFORMAT with a
 * message naming the file, or a valid index whose every field is readable -
 * never a crash (run under ASan/UBSan by `make test`).
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

#include "ml/index.h"

enum { DIM = 24, COUNT = 37, NF = 3 };

static uint64_t g_rng = 88172645463325252ull;

static uint64_t rnd64(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static float rndf(void) { return (float)(rnd64() >> 40) / (float)(1u << 24) - 0.5f; }

static void unit_vec(float *v, int dim)
{
    double s = 0;
    for (int j = 0; j < dim; j++) {
        v[j] = rndf();
        s += (double)v[j] * v[j];
    }
    for (int j = 0; j < dim; j++)
        v[j] = (float)(v[j] / sqrt(s));
}

static const char *const NAMES[NF] = {"code", "name", "system"};

struct fixture {
    char dir[64];
    char path[128];
    float vecs[COUNT * DIM];
    char *fields[COUNT * NF];
};

static void info_init(struct index_info *info, enum index_dtype dtype, uint64_t key)
{
    memset(info, 0, sizeof *info);
    info->dim = DIM;
    info->dtype = dtype;
    info->build_key = key;
    snprintf(info->model_id, sizeof info->model_id, "tiny@0123456789abcdef");
    snprintf(info->model_dtype, sizeof info->model_dtype, "fp32");
    snprintf(info->model_dir, sizeof info->model_dir, "/models/tiny");
}

/* Write a COUNT-vector index to f->path in two appends. */
static void write_index(struct fixture *f, enum index_dtype dtype)
{
    struct index_info info;
    info_init(&info, dtype, 42);
    struct index_writer *w;
    size_t done = 99;
    char note[256];
    struct mlw_err err = {0};
    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(done, 0);
    assert_int_equal(index_writer_append(w, f->vecs, 10, &err), MLW_OK);
    assert_int_equal(index_writer_append(w, f->vecs + 10 * DIM, COUNT - 10, &err), MLW_OK);
    assert_int_equal(index_writer_finish(w, NAMES, NF, (const char *const *)f->fields, COUNT,
                                         &err),
                     MLW_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mlw_index.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/test.idx", f->dir);
    for (int i = 0; i < COUNT; i++) {
        unit_vec(f->vecs + i * DIM, DIM);
        char buf[64];
        snprintf(buf, sizeof buf, "%d-%d", 1000 + i, i % 10);
        f->fields[i * NF] = strdup(buf);
        snprintf(buf, sizeof buf, "Analyte %d [Mass/volume] in Serum", i);
        f->fields[i * NF + 1] = strdup(buf);
        f->fields[i * NF + 2] = i % 3 ? strdup(i % 2 ? "Urine" : "Ser/Plas") : NULL; /* "" */
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < COUNT * NF; i++)
        free(f->fields[i]);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n > 0);
    rewind(fp);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(index_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(index_crc32(index_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    for (int d = 0; d < 2; d++) {
        enum index_dtype dtype = d ? INDEX_DTYPE_INT8 : INDEX_DTYPE_F32;
        write_index(f, dtype);
        struct index idx;
        struct mlw_err err = {0};
        assert_int_equal(index_open(f->path, &idx, &err), MLW_OK);
        assert_int_equal(idx.count, COUNT);
        assert_int_equal(idx.info.dim, DIM);
        assert_int_equal(idx.info.dtype, dtype);
        assert_int_equal(idx.info.build_key, 42);
        assert_string_equal(idx.info.model_id, "tiny@0123456789abcdef");
        assert_string_equal(idx.info.model_dir, "/models/tiny");
        assert_int_equal(index_field_index(&idx, "name"), 1);
        assert_int_equal(index_field_index(&idx, "nope"), -1);
        for (int i = 0; i < COUNT; i++)
            for (int k = 0; k < NF; k++)
                assert_string_equal(index_field(&idx, (size_t)i, k),
                                    f->fields[i * NF + k] ? f->fields[i * NF + k] : "");
        assert_string_equal(index_field(&idx, COUNT, 0), "");
        assert_string_equal(index_field(&idx, 0, NF), "");

        /* each stored vector is its own best match; scores match a double dot */
        float scores[COUNT];
        size_t top[3];
        for (int i = 0; i < COUNT; i++) {
            const float *q = f->vecs + i * DIM;
            assert_int_equal(index_search(&idx, q, scores, &err), MLW_OK);
            for (int r = 0; r < COUNT; r++) {
                double dot = 0;
                for (int j = 0; j < DIM; j++)
                    dot += (double)q[j] * f->vecs[r * DIM + j];
                assert_true(fabs(scores[r] - dot) < (d ? 0.02 : 1e-5));
            }
            assert_int_equal(index_top_k(scores, COUNT, NULL, 3, top), 3);
            assert_int_equal(top[0], (size_t)i);
            assert_true(scores[top[0]] >= scores[top[1]] && scores[top[1]] >= scores[top[2]]);
        }
        index_close(&idx);
        index_close(&idx); /* twice is harmless */
    }
}

static void test_top_k(void **state)
{
    (void)state;
    float s[8] = {0.5f, 0.9f, NAN, 0.9f, -1.0f, 0.7f, 0.1f, 0.2f};
    uint8_t keep[8] = {1, 1, 1, 1, 1, 0, 1, 1};
    size_t out[8];
    assert_int_equal(index_top_k(s, 8, NULL, 4, out), 4);
    assert_int_equal(out[0], 1); /* tie 0.9: lower index first */
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 5);
    assert_int_equal(out[3], 0);
    assert_int_equal(index_top_k(s, 8, keep, 3, out), 3);
    assert_int_equal(out[2], 0); /* 5 filtered out */
    assert_int_equal(index_top_k(s, 8, NULL, 8, out), 8);
    assert_int_equal(out[7], 2); /* NaN last */
    assert_int_equal(index_top_k(s, 8, NULL, 0, out), 0);
    assert_int_equal(index_top_k(s, 0, NULL, 3, out), 0);
}

static void test_resume(void **state)
{
    struct fixture *f = *state;
    struct index_info info;
    info_init(&info, INDEX_DTYPE_F32, 7);
    struct index_writer *w;
    size_t done;
    char note[256];
    struct mlw_err err = {0};
    unlink(f->path);
    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(index_writer_append(w, f->vecs, 5, &err), MLW_OK);
    index_writer_abort(w);

    /* a torn append: bytes past the recorded vectors are dropped */
    char partial[160];
    snprintf(partial, sizeof partial, "%s.partial", f->path);
    FILE *fp = fopen(partial, "ab");
    assert_non_null(fp);
    fputs("garbage", fp);
    fclose(fp);

    struct index idx;
    assert_int_equal(index_open(f->path, &idx, &err), MLW_ENOTFOUND);
    assert_int_equal(index_open(partial, &idx, &err), MLW_EFORMAT);

    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(done, 5);
    assert_string_equal(note, "");
    assert_int_equal(index_writer_append(w, f->vecs + 5 * DIM, COUNT - 5, &err), MLW_OK);
    /* wrong metadata count: refused, writer freed */
    assert_int_equal(index_writer_finish(w, NAMES, NF, (const char *const *)f->fields,
                                         COUNT - 1, &err),
                     MLW_EINVAL);
    mlw_err_clear(&err);

    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(done, COUNT);
    assert_int_equal(index_writer_finish(w, NAMES, NF, (const char *const *)f->fields, COUNT,
                                         &err),
                     MLW_OK);
    assert_int_equal(index_open(f->path, &idx, &err), MLW_OK);
    assert_int_equal(idx.count, COUNT);
    assert_memory_equal(idx.vecs, f->vecs, sizeof f->vecs); /* resumed = written at once */
    index_close(&idx);

    /* another build key, or resume off: starts over and says why */
    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(index_writer_append(w, f->vecs, 3, &err), MLW_OK);
    index_writer_abort(w);
    info.build_key = 8;
    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(done, 0);
    assert_non_null(strstr(note, "another model"));
    assert_int_equal(index_writer_append(w, f->vecs, 3, &err), MLW_OK);
    index_writer_abort(w);
    assert_int_equal(index_writer_open(f->path, &info, 0, &w, &done, note, sizeof note, &err),
                     MLW_OK);
    assert_int_equal(done, 0);
    assert_non_null(strstr(note, "resuming is off"));
    index_writer_abort(w);

    info.dim = 0;
    assert_int_equal(index_writer_open(f->path, &info, 1, &w, &done, note, sizeof note, &err),
                     MLW_EINVAL);
}

/* Parse a damaged image: either a clean error naming the label, or a valid index. */
static int parse_checked(const uint8_t *buf, size_t len)
{
    struct index idx;
    struct mlw_err err = {0};
    int rc = index_parse(buf, len, "damaged.idx", &idx, &err);
    if (rc == MLW_OK) {
        assert_true(idx.count <= len);
        for (size_t i = 0; i < idx.count; i++)
            for (int k = 0; k < idx.n_fields; k++)
                assert_true(strlen(index_field(&idx, i, k)) < idx.blob_len);
        float *scores = malloc((idx.count + 1) * sizeof *scores);
        float *q = calloc((size_t)idx.info.dim, sizeof *q);
        assert_non_null(scores);
        assert_non_null(q);
        q[0] = 1.0f;
        assert_int_equal(index_search(&idx, q, scores, &err), MLW_OK);
        free(scores);
        free(q);
        index_close(&idx);
    } else {
        assert_int_equal(rc, MLW_EFORMAT);
        assert_non_null(strstr(err.msg, "damaged.idx"));
        assert_null(idx.vecs);
    }
    return rc;
}

/* Copy of buf with the header CRC recomputed (to reach the checks behind it). */
static uint8_t *with_crc(const uint8_t *buf, size_t len)
{
    uint8_t *c = malloc(len);
    assert_non_null(c);
    memcpy(c, buf, len);
    uint32_t crc = index_crc32(0, c, INDEX_HEADER_SIZE - 4);
    for (int i = 0; i < 4; i++)
        c[INDEX_HEADER_SIZE - 4 + i] = (uint8_t)(crc >> (8 * i));
    return c;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void expect_error(const uint8_t *buf, size_t len, const char *what)
{
    struct index idx;
    struct mlw_err err = {0};
    int rc = index_parse(buf, len, "damaged.idx", &idx, &err);
    if (rc == MLW_OK || strstr(err.msg, what) == NULL)
        fail_msg("expected an error about \"%s\", got rc %d \"%s\"", what, rc, err.msg);
    assert_int_equal(rc, MLW_EFORMAT);
}

static void test_damaged(void **state)
{
    struct fixture *f = *state;
    for (int d = 0; d < 2; d++) {
        write_index(f, d ? INDEX_DTYPE_INT8 : INDEX_DTYPE_F32);
        size_t len;
        uint8_t *good = slurp(f->path, &len);
        assert_int_equal(parse_checked(good, len), MLW_OK);

        /* every proper prefix is refused */
        for (size_t n = 0; n < len; n++) {
            uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches overreads */
            assert_non_null(copy);
            memcpy(copy, good, n);
            assert_int_equal(parse_checked(copy, n), MLW_EFORMAT);
            free(copy);
        }
        expect_error(good, 100, "truncated");

        uint8_t *c = malloc(len);
        assert_non_null(c);
        memcpy(c, good, len);
        c[0] = 'X';
        expect_error(c, len, "bad magic");
        memcpy(c, good, len);
        c[100] ^= 1;
        expect_error(c, len, "checksum");
        free(c);

        struct {
            size_t at;
            uint64_t value;
            int width;
            const char *what;
        } edits[] = {
            {8, 2, 4, "version"},
            {12, 256, 4, "header size"},
            {36, 0, 4, "incomplete"},
            {16, 0, 4, "dimension"},
            {16, 100000, 4, "dimension"},
            {20, 9, 4, "dtype"},
            {32, 0, 4, "fields"},
            {24, COUNT + 1, 8, "truncated or corrupt"},
            {24, UINT64_MAX / 2, 8, "truncated or corrupt"},
            {40, 1024, 8, "vectors at offset"},
            {48, 0, 8, "truncated or corrupt"},
            {56, 8, 8, "metadata at"},
            {64, 1, 8, "metadata at"},
            {32, 5000, 4, "fields"},
            {80, 'x', 128, "unterminated"},  /* the model id slot without a NUL */
        };
        for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
            uint8_t *m = malloc(len);
            assert_non_null(m);
            memcpy(m, good, len);
            if (edits[e].width == 8)
                put64(m + edits[e].at, edits[e].value);
            else if (edits[e].width == 4)
                for (int i = 0; i < 4; i++)
                    m[edits[e].at + (size_t)i] = (uint8_t)(edits[e].value >> (8 * i));
            else
                memset(m + edits[e].at, (int)edits[e].value, (size_t)edits[e].width);
            uint8_t *fixed = with_crc(m, len);
            expect_error(fixed, len, edits[e].what);
            free(fixed);
            free(m);
        }

        /* metadata damage: an offset past the strings, a blob without its final NUL */
        uint64_t meta_off = 0;
        for (int i = 0; i < 8; i++)
            meta_off |= (uint64_t)good[56 + i] << (8 * i);
        uint8_t *m = malloc(len);
        assert_non_null(m);
        memcpy(m, good, len);
        put64(m + (size_t)meta_off + 4 * NF, 0xffffffffffffffffull); /* two offsets */
        expect_error(m, len, "outside the strings");
        memcpy(m, good, len);
        m[len - 1] = 'x';
        expect_error(m, len, "NUL");
        /* a table bigger than the metadata */
        memcpy(m, good, len);
        uint8_t *big = with_crc(m, len);
        for (int i = 0; i < 4; i++)
            big[32 + i] = (uint8_t)(60u >> (8 * i));
        uint8_t *big2 = with_crc(big, len);
        expect_error(big2, len, "does not fit");
        free(big);
        free(big2);
        free(m);

        /* random damage: 1..4 bytes flipped, CRC fixed half of the time */
        int ok = 0, bad = 0;
        for (int it = 0; it < 3000; it++) {
            uint8_t *r = malloc(len);
            assert_non_null(r);
            memcpy(r, good, len);
            int flips = 1 + (int)(rnd64() % 4);
            for (int k = 0; k < flips; k++) {
                size_t at = (size_t)(rnd64() % len);
                if (rnd64() % 2)
                    at %= INDEX_HEADER_SIZE; /* aim at the header half of the time */
                r[at] ^= (uint8_t)(1u << (rnd64() % 8));
            }
            uint8_t *t = rnd64() % 2 ? with_crc(r, len) : NULL;
            if (parse_checked(t ? t : r, len) == MLW_OK)
                ok++;
            else
                bad++;
            free(t);
            free(r);
        }
        print_message("%s: %zu bytes, %zu prefixes refused; random damage: %d accepted, "
                      "%d refused\n", d ? "int8" : "f32", len, len, ok, bad);
        assert_true(bad > 0 && ok > 0);
        free(good);
    }
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct index idx;
    struct mlw_err err = {0};
    char path[160];
    snprintf(path, sizeof path, "%s/missing.idx", f->dir);
    assert_int_equal(index_open(path, &idx, &err), MLW_ENOTFOUND);
    assert_non_null(strstr(err.msg, "missing.idx"));
    mlw_err_clear(&err);
    assert_int_equal(index_open(f->dir, &idx, &err), MLW_EIO); /* a directory */
    mlw_err_clear(&err);
    snprintf(path, sizeof path, "%s/short.idx", f->dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("MLWVIDX1", fp);
    fclose(fp);
    assert_int_equal(index_open(path, &idx, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
