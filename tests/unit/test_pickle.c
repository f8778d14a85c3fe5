/*
 * test_pickle.c - the restricted unpickler (src/ml/pickle.c) on hand-built
 * byte sequences: a state dict as torch.save writes it, every truncation of
 * it, bad opcodes, disallowed globals (os.system), huge lengths, deep
 * nesting, self-referencing containers, memo misuse, stack underflow, bad
 * persistent ids, and the legacy-format helpers. Everything malformed must
 * give an error naming the label and the byte offset, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/pickle.h"

struct pk {
    uint8_t *p;
    size_t len, cap;
};

static void pk_bytes(struct pk *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void pk_op(struct pk *b, uint8_t op) { pk_bytes(b, &op, 1); }

static void pk_u32(struct pk *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    pk_bytes(b, x, 4);
}

static void pk_str(struct pk *b, const char *s)
{
    pk_op(b, 'X');
    pk_u32(b, (uint32_t)strlen(s));
    pk_bytes(b, s, strlen(s));
}

static void pk_int1(struct pk *b, uint8_t v)
{
    pk_op(b, 'K');
    pk_op(b, v);
}

static void pk_global(struct pk *b, const char *mod, const char *name)
{
    pk_op(b, 'c');
    pk_bytes(b, mod, strlen(mod));
    pk_op(b, '\n');
    pk_bytes(b, name, strlen(name));
    pk_op(b, '\n');
}

/* One tensor entry as torch.save writes it: key, _rebuild_tensor_v2(...) */
static void pk_tensor(struct pk *b, const char *key, const char *storage, const char *skey,
                      uint8_t numel, uint8_t d0, uint8_t d1, uint8_t s0, uint8_t s1)
{
    pk_str(b, key);
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(b, '(');
    pk_op(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", storage);
    pk_str(b, skey);
    pk_str(b, "cpu");
    pk_int1(b, numel);
    pk_op(b, 't');
    pk_op(b, 'Q');
    pk_int1(b, 0);
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

/* {"w": float [2,3] strides (3,1) storage "0"; "b": long [3] ... } */
static struct pk make_state_dict(void)
{
    struct pk b = {0};
    pk_op(&b, 0x80);
    pk_op(&b, 2);
    pk_global(&b, "collections", "OrderedDict");
    pk_op(&b, ')');
    pk_op(&b, 'R');
    pk_op(&b, 'q');
    pk_op(&b, 0);
    pk_op(&b, '(');
    pk_tensor(&b, "w", "FloatStorage", "0", 6, 2, 3, 3, 1);
    pk_tensor(&b, "t", "HalfStorage", "1", 6, 3, 2, 1, 3);
    pk_op(&b, 'u');
    /* the state dict's _metadata, set by BUILD */
    pk_op(&b, '}');
    pk_str(&b, "_metadata");
    pk_op(&b, '}');
    pk_op(&b, 's');
    pk_op(&b, 'b');
    pk_op(&b, '.');
    return b;
}

/* Run pickle_load_state_dict; return rc and leave the message in err. */
static int load(const struct pk *b, struct pickle_state_dict *sd, struct mlw_err *err)
{
    /* exact-size copy so ASan catches overreads */
    uint8_t *copy = malloc(b->len ? b->len : 1);
    assert_non_null(copy);
    memcpy(copy, b->p, b->len);
    memset(err, 0, sizeof *err);
    int rc = pickle_load_state_dict(copy, b->len, "unit.pkl", sd, NULL, err);
    free(copy);
    return rc;
}

static void expect_error(const struct pk *b, const char *needle)
{
    struct pickle_state_dict sd;
    struct mlw_err err;
    int rc = load(b, &sd, &err);
    if (rc == MLW_OK || strstr(err.msg, needle) == NULL || strstr(err.msg, "unit.pkl") == NULL)
        fail_msg("rc %d, message \"%s\", wanted \"%s\"", rc, err.msg, needle);
    assert_int_equal(sd.n_tensors, 0);
    assert_null(sd.tensors);
}

static void test_valid(void **state)
{
    (void)state;
    struct pk b = make_state_dict();
    struct pickle_state_dict sd;
    struct mlw_err err;
    size_t used = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(pickle_load_state_dict(b.p, b.len, "unit.pkl", &sd, &used, &err), MLW_OK);
    assert_int_equal(used, b.len);
    assert_int_equal(sd.n_tensors, 2);
    assert_string_equal(sd.tensors[0].name, "w");
    assert_int_equal(sd.tensors[0].dtype, SAFETENSORS_DTYPE_F32);
    assert_int_equal(sd.tensors[0].ndim, 2);
    assert_int_equal(sd.tensors[0].shape[0], 2);
    assert_int_equal(sd.tensors[0].shape[1], 3);
    assert_int_equal(sd.tensors[0].stride[0], 3);
    assert_int_equal(sd.tensors[0].stride[1], 1);
    assert_string_equal(sd.tensors[0].storage_key, "0");
    assert_int_equal(sd.tensors[0].storage_numel, 6);
    assert_string_equal(sd.tensors[1].name, "t");
    assert_int_equal(sd.tensors[1].dtype, SAFETENSORS_DTYPE_F16);
    assert_int_equal(sd.tensors[1].stride[0], 1);
    assert_int_equal(sd.tensors[1].stride[1], 3);
    pickle_state_dict_free(&sd);
    free(b.p);
}

static void test_truncated(void **state)
{
    (void)state;
    struct pk b = make_state_dict();
    for (size_t n = 0; n < b.len; n++) {
        struct pk t = {.p = b.p, .len = n};
        struct pickle_state_dict sd;
        struct mlw_err err;
        int rc = load(&t, &sd, &err);
        if (rc == MLW_OK)
            fail_msg("truncation at %zu accepted", n);
        assert_non_null(strstr(err.msg, "unit.pkl"));
    }
    struct pk t = {.p = b.p, .len = b.len - 1};
    expect_error(&t, "without STOP");
    free(b.p);
}

static void test_bad_opcode(void **state)
{
    (void)state;
    struct pk b = {0};
    pk_op(&b, 0x80);
    pk_op(&b, 2);
    pk_op(&b, '}');
    pk_op(&b, 0xff);
    expect_error(&b, "unsupported opcode 0xff");
    expect_error(&b, "byte 3");
    free(b.p);
    /* INST (protocol 0 object creation) is not in the allowed set */
    struct pk c = {0};
    pk_bytes(&c, "(ios\nsystem\n.", 13);
    expect_error(&c, "unsupported opcode 0x69 ('i')");
    free(c.p);
}

static void test_disallowed_global(void **state)
{
    (void)state;
    /* os.system("touch /tmp/x") */
    struct pk b = {0};
    pk_op(&b, 0x80);
    pk_op(&b, 2);
    pk_global(&b, "os", "system");
    pk_str(&b, "touch /tmp/x");
    pk_op(&b, 0x85);
    pk_op(&b, 'R');
    pk_op(&b, '.');
    expect_error(&b, "global \"os.system\" is not allowed");
    free(b.p);
    /* STACK_GLOBAL builtins.eval */
    struct pk c = {0};
    pk_op(&c, 0x80);
    pk_op(&c, 4);
    pk_str(&c, "builtins");
    pk_str(&c, "eval");
    pk_op(&c, 0x93);
    pk_op(&c, '.');
    expect_error(&c, "\"builtins.eval\" is not allowed");
    free(c.p);
    /* an allowed module with a disallowed name; a name with control bytes */
    struct pk d = {0};
    pk_global(&d, "torch._utils", "_rebuild_qtensor");
    pk_op(&d, '.');
    expect_error(&d, "not allowed");
    free(d.p);
    struct pk e = {0};
    pk_bytes(&e, "ctor\x01" "ch\nx\n.", 11);
    expect_error(&e, "\"tor?ch.x\"");
    free(e.p);
    /* GLOBAL without a newline within 128 bytes */
    struct pk f = {0};
    pk_op(&f, 'c');
    for (int i = 0; i < 300; i++)
        pk_op(&f, 'a');
    expect_error(&f, "GLOBAL name unterminated");
    free(f.p);
}

static void test_huge_lengths(void **state)
{
    (void)state;
    struct pk b = {0};
    pk_op(&b, 'X');
    pk_u32(&b, 0xffffffffu);
    pk_bytes(&b, "abc", 3);
    expect_error(&b, "truncated");
    free(b.p);
    struct pk c = {0};
    pk_op(&c, 0x8d); /* BINUNICODE8 */
    uint8_t big[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    pk_bytes(&c, big, 8);
    expect_error(&c, "truncated");
    free(c.p);
    struct pk d = {0};
    pk_op(&d, 0x8a); /* LONG1 of 9 bytes */
    pk_op(&d, 9);
    pk_bytes(&d, big, 8);
    pk_op(&d, 0);
    pk_op(&d, '.');
    expect_error(&d, "wider than 64 bits");
    free(d.p);
    struct pk e = {0};
    pk_op(&e, 'T'); /* BINSTRING with a negative length */
    pk_u32(&e, 0x80000000u);
    expect_error(&e, "negative length");
    free(e.p);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    struct pk b = {0};
    for (int i = 0; i < 2000; i++)
        pk_op(&b, '(');
    expect_error(&b, "MARKs nested deeper than 1000");
    free(b.p);
    /* 100000 lists each appended into the one below: depth 100000, no recursion */
    struct pk c = {0};
    for (int i = 0; i < 100000; i++)
        pk_op(&c, ']');
    for (int i = 0; i < 99999; i++)
        pk_op(&c, 'a');
    pk_op(&c, '.');
    expect_error(&c, "holds a list, not a state dict");
    free(c.p);
    /* a wide stack: 1000001 Nones */
    struct pk d = {0};
    for (int i = 0; i < 1000001; i++)
        pk_op(&d, 'N');
    expect_error(&d, "stack deeper than 1000000");
    free(d.p);
}

static void test_cycles(void **state)
{
    (void)state;
    /* l = []; l.append(l) */
    struct pk b = {0};
    pk_op(&b, ']');
    pk_op(&b, 'q');
    pk_op(&b, 0);
    pk_op(&b, 'h');
    pk_op(&b, 0);
    pk_op(&b, 'a');
    pk_op(&b, '.');
    expect_error(&b, "not a state dict");
    free(b.p);
    /* d = {}; d["a"] = d */
    struct pk c = {0};
    pk_op(&c, '}');
    pk_op(&c, 'q');
    pk_op(&c, 0);
    pk_str(&c, "a");
    pk_op(&c, 'h');
    pk_op(&c, 0);
    pk_op(&c, 's');
    pk_op(&c, '.');
    expect_error(&c, "holds no tensors");
    free(c.p);
}

static void test_memo_and_stack(void **state)
{
    (void)state;
    struct pk b = {0};
    pk_op(&b, 'h');
    pk_op(&b, 7);
    expect_error(&b, "memo GET of an index never PUT");
    free(b.p);
    struct pk c = {0};
    pk_op(&c, 'N');
    pk_op(&c, 'r');
    pk_u32(&c, 0xfffffff0u);
    pk_op(&c, '.');
    expect_error(&c, "memo index larger than the pickle");
    free(c.p);
    struct pk d = {0};
    pk_op(&d, '.');
    expect_error(&d, "stack underflow");
    free(d.p);
    struct pk e = {0};
    pk_op(&e, 'N');
    pk_op(&e, 't');
    expect_error(&e, "no MARK");
    free(e.p);
    /* SETITEM below a MARK */
    struct pk f = {0};
    pk_op(&f, '}');
    pk_op(&f, '(');
    pk_op(&f, 'N');
    pk_op(&f, 's');
    expect_error(&f, "stack underflow");
    free(f.p);
    struct pk g = {0};
    pk_op(&g, 'N');
    pk_op(&g, 'N');
    pk_op(&g, 's');
    expect_error(&g, "stack underflow");
    free(g.p);
    struct pk h = {0};
    pk_op(&h, ']');
    pk_op(&h, 'N');
    pk_op(&h, 'N');
    pk_op(&h, 's');
    expect_error(&h, "not a dict");
    free(h.p);
    /* MARK + TUPLE before anything was pushed; an empty SETITEMS (found by fuzzing) */
    struct pk i = {0};
    pk_op(&i, '(');
    pk_op(&i, 't');
    pk_op(&i, '.');
    expect_error(&i, "holds a tuple, not a state dict");
    free(i.p);
    struct pk j = {0};
    pk_op(&j, '}');
    pk_op(&j, '(');
    pk_op(&j, 'u');
    pk_op(&j, '.');
    expect_error(&j, "holds no tensors");
    free(j.p);
}

static void test_bad_reduce_and_persid(void **state)
{
    (void)state;
    /* persistent id too short */
    struct pk b = {0};
    pk_op(&b, '(');
    pk_str(&b, "storage");
    pk_global(&b, "torch", "FloatStorage");
    pk_op(&b, 't');
    pk_op(&b, 'Q');
    expect_error(&b, "persistent id is not");
    free(b.p);
    /* storage type not a storage */
    struct pk c = {0};
    pk_op(&c, '(');
    pk_str(&c, "storage");
    pk_global(&c, "collections", "OrderedDict");
    pk_str(&c, "0");
    pk_str(&c, "cpu");
    pk_int1(&c, 1);
    pk_op(&c, 't');
    pk_op(&c, 'Q');
    expect_error(&c, "not a torch.*Storage");
    free(c.p);
    /* legacy view metadata */
    struct pk d = {0};
    pk_op(&d, '(');
    pk_str(&d, "storage");
    pk_global(&d, "torch", "FloatStorage");
    pk_str(&d, "0");
    pk_str(&d, "cpu");
    pk_int1(&d, 1);
    pk_int1(&d, 1);
    pk_op(&d, 't');
    pk_op(&d, 'Q');
    expect_error(&d, "storage views");
    free(d.p);
    /* OrderedDict with arguments; calling a storage type; REDUCE of a str */
    struct pk e = {0};
    pk_global(&e, "collections", "OrderedDict");
    pk_op(&e, 'N');
    pk_op(&e, 0x85);
    pk_op(&e, 'R');
    expect_error(&e, "OrderedDict called with arguments");
    free(e.p);
    struct pk f = {0};
    pk_global(&f, "torch", "FloatStorage");
    pk_op(&f, ')');
    pk_op(&f, 'R');
    expect_error(&f, "calls a storage type");
    free(f.p);
    struct pk g = {0};
    pk_str(&g, "os");
    pk_op(&g, ')');
    pk_op(&g, 'R');
    expect_error(&g, "not an allowed global");
    free(g.p);
    /* _rebuild_tensor_v2 with a negative size */
    struct pk h = {0};
    pk_global(&h, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&h, '(');
    pk_op(&h, '(');
    pk_str(&h, "storage");
    pk_global(&h, "torch", "FloatStorage");
    pk_str(&h, "0");
    pk_str(&h, "cpu");
    pk_int1(&h, 1);
    pk_op(&h, 't');
    pk_op(&h, 'Q');
    pk_int1(&h, 0);
    pk_op(&h, 'J');
    pk_u32(&h, 0xffffffffu); /* -1 */
    pk_op(&h, 0x85);
    pk_int1(&h, 1);
    pk_op(&h, 0x85);
    pk_op(&h, 0x89);
    pk_op(&h, 'N');
    pk_op(&h, 't');
    pk_op(&h, 'R');
    expect_error(&h, "non-negative ints");
    free(h.p);
}

static void test_legacy_helpers(void **state)
{
    (void)state;
    struct mlw_err err = {0};
    int64_t v = 0;
    size_t used = 0;
    static const uint8_t proto[] = {0x80, 0x02, 'M', 0xe9, 0x03, '.', 'x'};
    assert_int_equal(pickle_load_int(proto, sizeof proto, "p", &v, &used, &err), MLW_OK);
    assert_int_equal(v, 1001);
    assert_int_equal(used, 6);
    /* LONG1 sign extension: -2 */
    static const uint8_t neg[] = {0x8a, 0x01, 0xfe, '.'};
    assert_int_equal(pickle_load_int(neg, sizeof neg, "p", &v, &used, &err), MLW_OK);
    assert_int_equal(v, -2);

    struct pk b = {0};
    pk_op(&b, '}');
    pk_op(&b, '(');
    pk_str(&b, "protocol_version");
    pk_op(&b, 'M');
    pk_op(&b, 0xe9);
    pk_op(&b, 0x03);
    pk_str(&b, "little_endian");
    pk_op(&b, 0x89);
    pk_op(&b, 'u');
    pk_op(&b, '.');
    memset(&err, 0, sizeof err);
    assert_int_equal(pickle_check_sys_info(b.p, b.len, "si", &used, &err), MLW_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "big-endian"));
    b.p[b.len - 3] = 0x88; /* little_endian True */
    memset(&err, 0, sizeof err);
    assert_int_equal(pickle_check_sys_info(b.p, b.len, "si", &used, &err), MLW_OK);
    free(b.p);

    struct pk c = {0};
    pk_op(&c, ']');
    pk_op(&c, '(');
    pk_str(&c, "140");
    pk_str(&c, "7");
    pk_op(&c, 'e');
    pk_op(&c, '.');
    char **keys;
    size_t n;
    assert_int_equal(pickle_load_str_list(c.p, c.len, "k", &keys, &n, &used, &err), MLW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0], "140");
    assert_string_equal(keys[1], "7");
    pickle_str_list_free(keys, n);
    free(c.p);
    static const uint8_t nonstr[] = {']', '(', 'N', 'e', '.'};
    memset(&err, 0, sizeof err);
    assert_int_not_equal(pickle_load_str_list(nonstr, sizeof nonstr, "k", &keys, &n, &used,
                                              &err), MLW_OK);
    assert_null(keys);
    assert_non_null(strstr(err.msg, "storage key 0 is not a string"));
}

/* Deterministic mutations of the valid pickle: never a crash or a leak. */
static void test_mutations(void **state)
{
    (void)state;
    struct pk b = make_state_dict();
    uint32_t seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        struct pk m = {0};
        pk_bytes(&m, b.p, b.len);
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % m.len;
            seed = seed * 1103515245u + 12345u;
            m.p[at] = (uint8_t)(seed >> 16);
        }
        struct pickle_state_dict sd;
        struct mlw_err err;
        if (load(&m, &sd, &err) == MLW_OK)
            pickle_state_dict_free(&sd);
        free(m.p);
    }
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),           cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_opcode),      cmocka_unit_test(test_disallowed_global),
        cmocka_unit_test(test_huge_lengths),    cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_cycles),          cmocka_unit_test(test_memo_and_stack),
        cmocka_unit_test(test_bad_reduce_and_persid), cmocka_unit_test(test_legacy_helpers),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
