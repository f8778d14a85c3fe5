/*
 * test_zipread.c - the ZIP reader (src/ml/zipread.c) and the PyTorch
 * checkpoint reader on top of it (src/ml/torchbin.c), on archives built
 * here byte by byte: plain and ZIP64 archives, 64-byte aligned data as
 * torch writes it, every truncation, corrupted offsets, names that
 * disagree, encrypted and compressed entries, duplicate names; then
 * torchbin: tensors in place, a strided tensor gathered, tied storages,
 * missing and short storages, a bad data.pkl CRC, a legacy-format file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/torchbin.h"
#include "ml/zipread.h"

struct bb {
    uint8_t *p;
    size_t len, cap;
};

static void bb_bytes(struct bb *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void bb_u8(struct bb *b, uint8_t v) { bb_bytes(b, &v, 1); }
static void bb_u16(struct bb *b, uint16_t v)
{
    bb_u8(b, (uint8_t)v);
    bb_u8(b, (uint8_t)(v >> 8));
}
static void bb_u32(struct bb *b, uint32_t v)
{
    bb_u16(b, (uint16_t)v);
    bb_u16(b, (uint16_t)(v >> 16));
}
static void bb_u64(struct bb *b, uint64_t v)
{
    bb_u32(b, (uint32_t)v);
    bb_u32(b, (uint32_t)(v >> 32));
}

struct zent {
    const char *name;
    const void *data;
    size_t len;
    uint16_t method;
    uint16_t flags;
};

/* A zip archive of the entries; data 64-byte aligned (torch's padding). */
static struct bb build_zip(const struct zent *e, size_t n, int zip64)
{
    struct bb b = {0};
    uint64_t lofs[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        lofs[i] = b.len;
        size_t nlen = strlen(e[i].name);
        size_t hdr_end = b.len + 30 + nlen + 4;
        size_t pad = (64 - hdr_end % 64) % 64;
        bb_u32(&b, 0x04034b50u);
        bb_u16(&b, 20);
        bb_u16(&b, e[i].flags);
        bb_u16(&b, e[i].method);
        bb_u32(&b, 0);
        bb_u32(&b, zipread_crc32(0, e[i].data, e[i].len));
        bb_u32(&b, (uint32_t)e[i].len);
        bb_u32(&b, (uint32_t)e[i].len);
        bb_u16(&b, (uint16_t)nlen);
        bb_u16(&b, (uint16_t)(4 + pad));
        bb_bytes(&b, e[i].name, nlen);
        bb_u16(&b, 0x4246); /* "FB" padding field, as torch writes */
        bb_u16(&b, (uint16_t)pad);
        for (size_t k = 0; k < pad; k++)
            bb_u8(&b, 'Z');
        assert_int_equal(b.len % 64, 0);
        bb_bytes(&b, e[i].data, e[i].len);
    }
    uint64_t cd = b.len;
    for (size_t i = 0; i < n; i++) {
        size_t nlen = strlen(e[i].name);
        bb_u32(&b, 0x02014b50u);
        bb_u16(&b, 20);
        bb_u16(&b, 20);
        bb_u16(&b, e[i].flags);
        bb_u16(&b, e[i].method);
        bb_u32(&b, 0);
        bb_u32(&b, zipread_crc32(0, e[i].data, e[i].len));
        bb_u32(&b, zip64 ? 0xffffffffu : (uint32_t)e[i].len);
        bb_u32(&b, zip64 ? 0xffffffffu : (uint32_t)e[i].len);
        bb_u16(&b, (uint16_t)nlen);
        bb_u16(&b, zip64 ? 28 : 0);
        bb_u16(&b, 0);
        bb_u16(&b, 0);
        bb_u16(&b, 0);
        bb_u32(&b, 0);
        bb_u32(&b, zip64 ? 0xffffffffu : (uint32_t)lofs[i]);
        bb_bytes(&b, e[i].name, nlen);
        if (zip64) {
            bb_u16(&b, 1);
            bb_u16(&b, 24);
            bb_u64(&b, e[i].len);
            bb_u64(&b, e[i].len);
            bb_u64(&b, lofs[i]);
        }
    }
    uint64_t cd_size = b.len - cd;
    if (zip64) {
        uint64_t rec = b.len;
        bb_u32(&b, 0x06064b50u);
        bb_u64(&b, 44);
        bb_u16(&b, 45);
        bb_u16(&b, 45);
        bb_u32(&b, 0);
        bb_u32(&b, 0);
        bb_u64(&b, n);
        bb_u64(&b, n);
        bb_u64(&b, cd_size);
        bb_u64(&b, cd);
        bb_u32(&b, 0x07064b50u);
        bb_u32(&b, 0);
        bb_u64(&b, rec);
        bb_u32(&b, 1);
    }
    bb_u32(&b, 0x06054b50u);
    bb_u16(&b, 0);
    bb_u16(&b, 0);
    bb_u16(&b, zip64 ? 0xffff : (uint16_t)n);
    bb_u16(&b, zip64 ? 0xffff : (uint16_t)n);
    bb_u32(&b, zip64 ? 0xffffffffu : (uint32_t)cd_size);
    bb_u32(&b, zip64 ? 0xffffffffu : (uint32_t)cd);
    bb_u16(&b, 0);
    return b;
}

/* Parse an exact-size copy (ASan sees overreads); returns rc, *z stays valid
 * only while *copy lives. */
static int parse_copy(const struct bb *b, uint8_t **copy, struct zipread *z,
                      struct mlw_err *err)
{
    *copy = malloc(b->len ? b->len : 1);
    assert_non_null(*copy);
    memcpy(*copy, b->p, b->len);
    memset(err, 0, sizeof *err);
    return zipread_parse(*copy, b->len, "unit.zip", z, err);
}

static void expect_zip_error(const struct bb *b, const char *needle)
{
    uint8_t *copy;
    struct zipread z;
    struct mlw_err err;
    int rc = parse_copy(b, &copy, &z, &err);
    if (rc == MLW_OK || strstr(err.msg, needle) == NULL || strstr(err.msg, "unit.zip") == NULL)
        fail_msg("rc %d, message \"%s\", wanted \"%s\"", rc, err.msg, needle);
    zipread_close(&z);
    free(copy);
}

static const struct zent two[] = {
    {"archive/data.pkl", "hello", 5, 0, 0},
    {"archive/data/0", "0123456789abcdef", 16, 0, 0},
};

static void check_two(int zip64)
{
    struct bb b = build_zip(two, 2, zip64);
    uint8_t *copy;
    struct zipread z;
    struct mlw_err err;
    assert_true(zipread_is_zip(b.p, b.len));
    assert_int_equal(parse_copy(&b, &copy, &z, &err), MLW_OK);
    assert_int_equal(z.n_entries, 2);
    assert_int_equal(z.zip64, zip64);
    const struct zipread_entry *e = zipread_find(&z, "archive/data/0");
    assert_non_null(e);
    const uint8_t *d;
    size_t len;
    assert_int_equal(zipread_entry_data(&z, e, &d, &len, &err), MLW_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(d, "0123456789abcdef", 16);
    assert_int_equal(e->data_offset % 64, 0);
    assert_int_equal(e->crc32, zipread_crc32(0, d, len));
    assert_null(zipread_find(&z, "archive/data/1"));
    zipread_close(&z);
    free(copy);
    free(b.p);
}

static void test_valid(void **state)
{
    (void)state;
    check_two(0);
    check_two(1);
    assert_int_equal(zipread_crc32(0, "123456789", 9), 0xCBF43926u);
    /* an empty archive: just the end record */
    struct bb b = build_zip(NULL, 0, 0);
    uint8_t *copy;
    struct zipread z;
    struct mlw_err err;
    assert_int_equal(parse_copy(&b, &copy, &z, &err), MLW_OK);
    assert_int_equal(z.n_entries, 0);
    zipread_close(&z);
    free(copy);
    free(b.p);
}

static void test_truncated(void **state)
{
    (void)state;
    for (int zip64 = 0; zip64 < 2; zip64++) {
        struct bb b = build_zip(two, 2, zip64);
        for (size_t n = 0; n < b.len; n++) {
            struct bb t = {.p = b.p, .len = n};
            uint8_t *copy;
            struct zipread z;
            struct mlw_err err;
            if (parse_copy(&t, &copy, &z, &err) == MLW_OK)
                fail_msg("zip64=%d truncated at %zu accepted", zip64, n);
            assert_non_null(strstr(err.msg, "unit.zip"));
            free(copy);
        }
        free(b.p);
    }
}

static void test_corrupt(void **state)
{
    (void)state;
    struct bb b = build_zip(two, 2, 0);
    size_t eocd = b.len - 22;
    size_t cd = b.p[eocd + 16] | (size_t)b.p[eocd + 17] << 8;

    struct bb c = {0};
    bb_bytes(&c, b.p, b.len);
    c.p[eocd + 16] = 0xf0; /* central directory offset past the end */
    expect_zip_error(&c, "central directory");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[eocd + 10] = 200; /* too many entries for the directory's size */
    c.p[eocd + 8] = 200;
    expect_zip_error(&c, "cannot fit");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[cd + 46] = 'X'; /* central name differs from the local one */
    expect_zip_error(&c, "local header names another file");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[cd + 24] = 0xff; /* usize != csize for a stored entry */
    expect_zip_error(&c, "sizes differ");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[cd + 20] = 0xff; /* csize and usize huge: data past the end */
    c.p[cd + 21] = 0xff;
    c.p[cd + 24] = 0xff;
    c.p[cd + 25] = 0xff;
    expect_zip_error(&c, "past the end");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[cd + 42] = 0x10; /* local header offset points at data */
    expect_zip_error(&c, "no local header");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[cd + 20] = 0xff; /* saturated sizes without a ZIP64 extra field */
    c.p[cd + 21] = 0xff;
    c.p[cd + 22] = 0xff;
    c.p[cd + 23] = 0xff;
    expect_zip_error(&c, "no ZIP64 extra field");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[eocd + 4] = 1; /* disk number */
    expect_zip_error(&c, "multi-disk");
    free(c.p);

    c = (struct bb){0};
    bb_bytes(&c, b.p, b.len);
    c.p[eocd + 12] = 0xff; /* saturated end record, no locator */
    c.p[eocd + 13] = 0xff;
    c.p[eocd + 14] = 0xff;
    c.p[eocd + 15] = 0xff;
    expect_zip_error(&c, "no ZIP64 locator");
    free(c.p);
    free(b.p);

    const struct zent enc[] = {{"a", "x", 1, 0, 1}};
    b = build_zip(enc, 1, 0);
    expect_zip_error(&b, "encrypted");
    free(b.p);
    const struct zent dup[] = {{"a", "x", 1, 0, 0}, {"a", "y", 1, 0, 0}};
    b = build_zip(dup, 2, 0);
    expect_zip_error(&b, "appears twice");
    free(b.p);

    /* a ZIP64 locator that points nowhere */
    b = build_zip(two, 2, 1);
    size_t loc = b.len - 22 - 20;
    b.p[loc + 8] = 0x01;
    expect_zip_error(&b, "no ZIP64 end record");
    free(b.p);
}

static void test_deflated(void **state)
{
    (void)state;
    const struct zent def[] = {{"a", "xyz", 3, 8, 0}};
    struct bb b = build_zip(def, 1, 0);
    uint8_t *copy;
    struct zipread z;
    struct mlw_err err;
    assert_int_equal(parse_copy(&b, &copy, &z, &err), MLW_OK);
    const uint8_t *d;
    size_t len;
    assert_int_equal(zipread_entry_data(&z, zipread_find(&z, "a"), &d, &len, &err),
                     MLW_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "compressed (method 8)"));
    zipread_close(&z);
    free(copy);
    free(b.p);
}

/* ---- torchbin on hand-built checkpoints -------------------------------- */

static void pk_op(struct bb *b, uint8_t op) { bb_u8(b, op); }
static void pk_str(struct bb *b, const char *s)
{
    pk_op(b, 'X');
    bb_u32(b, (uint32_t)strlen(s));
    bb_bytes(b, s, strlen(s));
}
static void pk_global(struct bb *b, const char *mod, const char *name)
{
    pk_op(b, 'c');
    bb_bytes(b, mod, strlen(mod));
    pk_op(b, '\n');
    bb_bytes(b, name, strlen(name));
    pk_op(b, '\n');
}
static void pk_int1(struct bb *b, uint8_t v)
{
    pk_op(b, 'K');
    pk_op(b, v);
}

/* key -> _rebuild_tensor_v2(storage(skey, numel), off, (d0, d1), (s0, s1), False, OD()) */
static void pk_tensor(struct bb *b, const char *key, const char *skey, uint8_t numel,
                      uint8_t off, uint8_t d0, uint8_t d1, uint8_t s0, uint8_t s1)
{
    pk_str(b, key);
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(b, '(');
    pk_op(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", "FloatStorage");
    pk_str(b, skey);
    pk_str(b, "cpu");
    pk_int1(b, numel);
    pk_op(b, 't');
    pk_op(b, 'Q');
    pk_int1(b, off);
    pk_int1(b, d0);
    pk_int1(b, d1);
    pk_op(b, 0x86);
    pk_int1(b, s0);
    pk_int1(b, s1);
    pk_op(b, 0x86);
    pk_op(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    pk_op(b, ')');
    pk_op(b, 'R');
    pk_op(b, 't');
    pk_op(b, 'R');
}

/* w: [2,3] contiguous over storage 0 (6 floats); wt: its transpose [3,2]
 * strides (1,3) over the same storage; b: [1,2] at offset 2 of storage 1. */
static struct bb make_pkl(void)
{
    struct bb b = {0};
    pk_op(&b, 0x80);
    pk_op(&b, 2);
    pk_op(&b, '}');
    pk_op(&b, '(');
    pk_tensor(&b, "w", "0", 6, 0, 2, 3, 3, 1);
    pk_tensor(&b, "wt", "0", 6, 0, 3, 2, 1, 3);
    pk_tensor(&b, "b", "1", 4, 2, 1, 2, 2, 1);
    pk_op(&b, 'u');
    pk_op(&b, '.');
    return b;
}

static const float st0[6] = {0, 1, 2, 3, 4, 5};
static const float st1[4] = {10, 11, 12, 13};

static void test_torchbin_zip(void **state)
{
    (void)state;
    struct bb pkl = make_pkl();
    const struct zent ents[] = {
        {"model/data.pkl", pkl.p, pkl.len, 0, 0},
        {"model/data/0", st0, sizeof st0, 0, 0},
        {"model/data/1", st1, sizeof st1, 0, 0},
        {"model/byteorder", "little", 6, 0, 0},
    };
    for (int zip64 = 0; zip64 < 2; zip64++) {
        struct bb z = build_zip(ents, 4, zip64);
        uint8_t *copy = malloc(z.len);
        memcpy(copy, z.p, z.len);
        struct safetensors st;
        struct mlw_err err = {0};
        int rc = torchbin_parse(copy, z.len, "unit.bin", TORCHBIN_VERIFY_CRC, &st, &err);
        if (rc != MLW_OK)
            fail_msg("%s", err.msg);
        assert_string_equal(st.format, "pytorch-zip");
        assert_int_equal(st.n_tensors, 3);
        const struct safetensors_tensor *w = safetensors_find(&st, "w");
        const struct safetensors_tensor *wt = safetensors_find(&st, "wt");
        const struct safetensors_tensor *bt = safetensors_find(&st, "b");
        assert_non_null(w);
        assert_non_null(wt);
        assert_non_null(bt);
        assert_ptr_equal(w->data, copy + w->offset); /* in place */
        assert_int_equal(w->offset % 64, 0);
        assert_memory_equal(w->data, st0, sizeof st0);
        float want_t[6] = {0, 3, 1, 4, 2, 5};
        assert_int_equal(wt->nbytes, sizeof want_t);
        assert_memory_equal(wt->data, want_t, sizeof want_t); /* gathered */
        assert_ptr_not_equal(wt->data, w->data);
        assert_memory_equal(bt->data, st1 + 2, 2 * sizeof(float));
        const struct safetensors_tensor *got;
        int64_t shape[2] = {3, 2};
        assert_int_equal(safetensors_get_float(&st, "wt", 2, shape, &got, &err), MLW_OK);
        safetensors_close(&st);
        free(copy);
        free(z.p);
    }

    /* storage 1 too short; storage 0 missing; bad data.pkl CRC; big-endian */
    const struct zent shortst[] = {
        {"model/data.pkl", pkl.p, pkl.len, 0, 0},
        {"model/data/0", st0, sizeof st0, 0, 0},
        {"model/data/1", st1, sizeof st1 - 4, 0, 0},
    };
    const struct zent missing[] = {
        {"model/data.pkl", pkl.p, pkl.len, 0, 0},
        {"model/data/1", st1, sizeof st1, 0, 0},
    };
    const struct zent bigend[] = {
        {"model/data.pkl", pkl.p, pkl.len, 0, 0},
        {"model/byteorder", "big", 3, 0, 0},
    };
    const struct {
        const struct zent *e;
        size_t n;
        const char *needle;
    } cases[] = {
        {shortst, 3, "tensor \"b\": storage \"1\" holds 12 bytes"},
        {missing, 2, "archive entry \"model/data/0\" is missing"},
        {bigend, 2, "big-endian"},
        {ents + 1, 3, "without <archive>/data.pkl"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bb z = build_zip(cases[i].e, cases[i].n, 0);
        struct safetensors st;
        struct mlw_err err = {0};
        assert_int_not_equal(torchbin_parse(z.p, z.len, "unit.bin", 0, &st, &err), MLW_OK);
        if (strstr(err.msg, cases[i].needle) == NULL || strstr(err.msg, "unit.bin") == NULL)
            fail_msg("case %zu: \"%s\", wanted \"%s\"", i, err.msg, cases[i].needle);
        free(z.p);
    }
    /* flip one byte of data.pkl: the CRC check catches it */
    struct bb z = build_zip(ents, 4, 0);
    const uint8_t *pos = memmem(z.p, z.len, pkl.p, pkl.len);
    assert_non_null(pos);
    z.p[(size_t)(pos - z.p) + 10] ^= 1;
    struct safetensors st;
    struct mlw_err err = {0};
    assert_int_equal(torchbin_parse(z.p, z.len, "unit.bin", 0, &st, &err), MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "CRC"));
    free(z.p);
    free(pkl.p);
}

static void test_torchbin_legacy(void **state)
{
    (void)state;
    static const uint8_t magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    static const uint8_t proto[] = {0x80, 0x02, 'M', 0xe9, 0x03, '.'};
    struct bb b = {0};
    bb_bytes(&b, magic, sizeof magic);
    bb_bytes(&b, proto, sizeof proto);
    pk_op(&b, '}');
    pk_op(&b, '.');
    struct bb pkl = make_pkl();
    bb_bytes(&b, pkl.p, pkl.len);
    pk_op(&b, ']');
    pk_op(&b, '(');
    pk_str(&b, "0");
    pk_str(&b, "1");
    pk_op(&b, 'e');
    pk_op(&b, '.');
    bb_u64(&b, 6);
    bb_bytes(&b, st0, sizeof st0);
    bb_u64(&b, 4);
    bb_bytes(&b, st1, sizeof st1);
    for (size_t n = 0; n <= b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        struct safetensors st;
        struct mlw_err err = {0};
        int rc = torchbin_parse(copy, n, "unit.bin", 0, &st, &err);
        if (n < b.len) {
            if (rc == MLW_OK)
                fail_msg("legacy truncated at %zu accepted", n);
            assert_non_null(strstr(err.msg, "unit.bin"));
        } else {
            if (rc != MLW_OK)
                fail_msg("%s", err.msg);
            assert_string_equal(st.format, "pytorch-legacy");
            const struct safetensors_tensor *bt = safetensors_find(&st, "b");
            assert_non_null(bt);
            assert_memory_equal(bt->data, st1 + 2, 2 * sizeof(float));
            safetensors_close(&st);
        }
        free(copy);
    }
    free(pkl.p);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),         cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt),       cmocka_unit_test(test_deflated),
        cmocka_unit_test(test_torchbin_zip),  cmocka_unit_test(test_torchbin_legacy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
