/*
 * test_tokenizer.c - unit tests for the WordPiece tokenizer (src/ml/tokenizer.c).
 *
 * Expected ids were produced by Hugging Face tokenizers 0.23.2 (tests/tokenizer/hf_tokenize.js)
 * on the real BERT vocabularies in $MLW_SHARED_DATA, and read through by hand (token strings
 * in the comments). The exhaustive comparison is tests/integration/test_tokenizer_parity.sh.
 *
 * Driver mode: `test_tokenizer --tokenize ARGS...` runs `mlworker tokenize ARGS...` (the same
 * cmd_tokenize()), so the parity test does not depend on how src/main.c dispatches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/tokenizer.h"

#define CAP 1024

struct fixture {
    struct tokenizer *cased;   /* bert-base-cased, do_lower_case false */
    struct tokenizer *uncased; /* bert-base-uncased, do_lower_case true */
};

static void vocab_path(char *buf, size_t n, const char *name)
{
    const char *dir = getenv("MLW_SHARED_DATA");
    if (dir == NULL || *dir == '\0')
        dir = "../shared/data";
    snprintf(buf, n, "%s/%s", dir, name);
}

static int setup(void **state)
{
    static struct fixture fx;
    char path[1024];
    struct mlw_err err = {0};
    struct tokenizer_opts o;

    tokenizer_opts_init(&o);
    vocab_path(path, sizeof path, "bert-base-cased-vocab.txt");
    if (tokenizer_load_vocab(path, &o, &fx.cased, &err) != MLW_OK) {
        fprintf(stderr, "load %s: %s\n", path, err.msg);
        return -1;
    }
    o.lowercase = 1;
    vocab_path(path, sizeof path, "bert-base-uncased-vocab.txt");
    mlw_err_clear(&err);
    if (tokenizer_load_vocab(path, &o, &fx.uncased, &err) != MLW_OK) {
        fprintf(stderr, "load %s: %s\n", path, err.msg);
        return -1;
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tokenizer_free(fx->cased);
    tokenizer_free(fx->uncased);
    return 0;
}

/* Encode text (len bytes) and compare with want[0..n_want); prints both sides on mismatch. */
static void check_len(const struct tokenizer *tok, const char *text, size_t len, size_t max_len,
                      const int32_t *want, size_t n_want)
{
    int32_t ids[CAP];
    size_t n = 0;
    struct mlw_err err = {0};
    int rc = tokenizer_encode(tok, text, len, max_len, ids, CAP, &n, &err);
    if (rc != MLW_OK)
        fail_msg("encode failed: %s", err.msg);
    int same = n == n_want;
    for (size_t i = 0; same && i < n; i++)
        same = ids[i] == want[i];
    if (!same) {
        fprintf(stderr, "text: \"%.*s\"\n  want:", (int)len, text);
        for (size_t i = 0; i < n_want; i++)
            fprintf(stderr, " %d", (int)want[i]);
        fprintf(stderr, "\n  got: ");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", (int)ids[i]);
        fprintf(stderr, "\n");
        fail_msg("ids differ");
    }
}

#define CHECK(tok, text, max_len, ...)                                                     \
    do {                                                                                   \
        static const int32_t want_[] = {__VA_ARGS__};                                      \
        check_len((tok), (text), sizeof(text) - 1, (max_len), want_,                       \
                  sizeof want_ / sizeof want_[0]);                                         \
    } while (0)

static void test_lab_names_cased(void **state)
{
    struct fixture *fx = *state;
    /* [CLS] He ##mo ##g ##lo ##bin A1 ##c [SEP] */
    CHECK(fx->cased, "Hemoglobin A1c", 512, 101, 1124, 3702, 1403, 2858, 7939, 18967, 1665, 102);
    /* [CLS] H ##b ##A ##1 ##c [SEP] */
    CHECK(fx->cased, "HbA1c", 512, 101, 145, 1830, 1592, 1475, 1665, 102);
    /* [CLS] G ##lu ##cos ##e [MASK] [ mask ] 5 . 4 mm ##ol / L [SEP]: the special token
     * written in the text stays whole; its lower-case spelling does not. */
    CHECK(fx->cased, "Glucose [MASK] [mask] 5.4 mmol/L", 0, 101, 144, 7535, 13538, 1162, 103, 164,
          7739, 166, 126, 119, 125, 2608, 4063, 120, 149, 102);
}

static void test_lab_names_uncased(void **state)
{
    struct fixture *fx = *state;
    /* [CLS] hem ##og ##lo ##bin a1 ##c [SEP] */
    CHECK(fx->uncased, "Hemoglobin A1c", 512, 101, 19610, 8649, 4135, 8428, 17350, 2278, 102);
    /* [CLS] h ##ba ##1 ##c [SEP] */
    CHECK(fx->uncased, "HbA1c", 512, 101, 1044, 3676, 2487, 2278, 102);
    CHECK(fx->uncased, "Glucose [MASK] [mask] 5.4 mmol/L", 512, 101, 18423, 103, 1031, 7308, 1033,
          1019, 1012, 1018, 3461, 4747, 1013, 1048, 102);
}

static void test_accents(void **state)
{
    struct fixture *fx = *state;
    /* cased keeps accents: [CLS] café Ü ##ber na ##ï ##ve [SEP] */
    CHECK(fx->cased, "café Über naïve", 512, 101, 20583, 243, 3169, 9468, 28203, 2707, 102);
    /* uncased lower-cases and strips them: [CLS] cafe uber naive [SEP] */
    CHECK(fx->uncased, "Café ÜBER naïve", 512, 101, 7668, 19169, 15743, 102);
    /* decomposed input gives the same as precomposed */
    CHECK(fx->uncased, "Cafe\xcc\x81 U\xcc\x88""BER nai\xcc\x88ve", 512, 101, 7668, 19169, 15743,
          102);
    /* U+0130: NFD I + U+0307, mark stripped: [CLS] istanbul [SEP]; cased: İ ##stan ##bul */
    CHECK(fx->uncased, "İstanbul", 512, 101, 9960, 102);
    CHECK(fx->cased, "İstanbul", 512, 101, 300, 13946, 27515, 102);
}

static void test_cjk_and_emoji(void **state)
{
    struct fixture *fx = *state;
    /* each ideograph is its own word; 字 is not in the vocabulary: [CLS] 中 文 [UNK] test [SEP] */
    CHECK(fx->cased, "中文字 test", 512, 101, 980, 1030, 100, 2774, 102);
    CHECK(fx->uncased, "中文字 test", 512, 101, 1746, 1861, 100, 3231, 102);
    /* an emoji is neither punctuation nor CJK: "😀world" is one unknown word */
    CHECK(fx->cased, "hello 😀world", 512, 101, 19082, 100, 102);
    CHECK(fx->cased, "😀", 512, 101, 100, 102);
    /* compatibility characters are not folded (NFD, not NFKD): [CLS] ﬁ ##nal [UNK] ½ [SEP] */
    CHECK(fx->cased, "ﬁnal Ⅻ ½", 512, 101, 1094, 7050, 100, 223, 102);
}

static void test_control_and_whitespace(void **state)
{
    struct fixture *fx = *state;
    /* NUL, ZERO WIDTH SPACE, DEL and BOM are dropped, joining the pieces: [CLS] a ##b ##c ##de */
    CHECK(fx->cased, "a\0b\xe2\x80\x8b" "c\x7f" "d\xef\xbb\xbf" "e", 512, 101, 170, 1830, 1665,
          2007, 102);
    /* only white space (tab, newline, ideographic space) */
    CHECK(fx->cased, "  \t\n\xe3\x80\x80 ", 512, 101, 102);
    CHECK(fx->cased, "", 512, 101, 102);
    /* NBSP splits words like a space */
    CHECK(fx->cased, "Hemoglobin\xc2\xa0" "A1c", 512, 101, 1124, 3702, 1403, 2858, 7939, 18967,
          1665, 102);
}

static void test_invalid_utf8(void **state)
{
    struct fixture *fx = *state;
    /* every invalid sequence becomes U+FFFD, which clean-text drops: like "HbA1c" */
    static const char *const bad[] = {
        "Hb\xff" "A1c",         /* byte never valid */
        "Hb\xc0\xaf" "A1c",     /* overlong '/' */
        "Hb\xed\xa0\x80" "A1c", /* UTF-16 surrogate */
        "Hb\xe2\x82" "A1c",     /* truncated 3-byte sequence */
        "Hb\xf4\x90\x80\x80" "A1c", /* above U+10FFFF */
        "Hb\x80\x80" "A1c",     /* stray continuation bytes */
    };
    static const int32_t want[] = {101, 145, 1830, 1592, 1475, 1665, 102};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_len(fx->cased, bad[i], strlen(bad[i]), 512, want, 7);
    /* truncated at the very end */
    static const int32_t want2[] = {101, 145, 1830, 102};
    check_len(fx->cased, "Hb\xf0\x9f\x98", 5, 512, want2, 4);
}

static void test_long_words(void **state)
{
    struct fixture *fx = *state;
    char buf[256];
    int32_t ids[CAP];
    size_t n;
    /* 100 characters is still WordPiece'd; 101 is one [UNK] */
    memset(buf, 'a', 100);
    assert_int_equal(tokenizer_encode(fx->cased, buf, 100, 512, ids, CAP, &n, NULL), MLW_OK);
    assert_int_equal(n, 53); /* [CLS] a ##aa x49 ##a [SEP] */
    assert_int_equal(ids[1], 170);
    assert_int_equal(ids[2], 22118);
    assert_int_equal(ids[50], 22118);
    assert_int_equal(ids[51], 1161);
    memset(buf, 'a', 101);
    CHECK(fx->cased, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaaaaaaaaaaaaaa", 512, 101, 100, 102);
    /* the limit counts characters, not bytes: 100 x "é" (200 bytes) is not [UNK] */
    for (int i = 0; i < 100; i++)
        memcpy(buf + 2 * i, "\xc3\xa9", 2);
    assert_int_equal(tokenizer_encode(fx->cased, buf, 200, 512, ids, CAP, &n, NULL), MLW_OK);
    assert_true(n > 3);
    assert_int_not_equal(ids[1], 100);
    for (int i = 0; i < 101; i++)
        memcpy(buf + 2 * i, "\xc3\xa9", 2);
    check_len(fx->cased, buf, 202, 512, (const int32_t[]){101, 100, 102}, 3);
}

static void test_truncation(void **state)
{
    struct fixture *fx = *state;
    /* max_len counts [CLS] and [SEP]: [CLS] He ##mo ##g [SEP] */
    CHECK(fx->cased, "Hemoglobin A1c", 5, 101, 1124, 3702, 1403, 102);
    CHECK(fx->cased, "Hemoglobin A1c", 2, 101, 102);
    CHECK(fx->cased, "Hemoglobin A1c", 9, 101, 1124, 3702, 1403, 2858, 7939, 18967, 1665, 102);
    CHECK(fx->cased, "Hemoglobin A1c", 10, 101, 1124, 3702, 1403, 2858, 7939, 18967, 1665, 102);
    /* truncation inside a special token sequence */
    CHECK(fx->cased, "[MASK][MASK][MASK]", 4, 101, 103, 103, 102);

    int32_t ids[4];
    size_t n = 0;
    struct mlw_err err = {0};
    /* max_len 1 cannot hold [CLS] and [SEP] */
    assert_int_equal(tokenizer_encode(fx->cased, "a", 1, 1, ids, 4, &n, &err), MLW_EINVAL);
    assert_true(err.msg[0] != '\0');
    /* out_cap too small: error, and n tells what is needed */
    mlw_err_clear(&err);
    assert_int_equal(tokenizer_encode(fx->cased, "Hemoglobin A1c", 14, 0, ids, 4, &n, &err),
                     MLW_EINVAL);
    assert_int_equal(n, 9);
}

static void test_padding_and_mask(void **state)
{
    struct fixture *fx = *state;
    int32_t ids[16];
    uint8_t mask[16];
    size_t n = 0, real = 0;
    assert_int_equal(tokenizer_encode_padded(fx->cased, "HbA1c", 5, 512, 10, ids, mask, 16, &n,
                                             &real, NULL),
                     MLW_OK);
    assert_int_equal(n, 10);
    assert_int_equal(real, 7);
    static const int32_t want[] = {101, 145, 1830, 1592, 1475, 1665, 102, 0, 0, 0};
    static const uint8_t want_mask[] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    assert_memory_equal(ids, want, sizeof want);
    assert_memory_equal(mask, want_mask, sizeof want_mask);
    /* pad_to below the length: no padding, all ones */
    assert_int_equal(tokenizer_encode_padded(fx->cased, "HbA1c", 5, 512, 3, ids, mask, 16, &n,
                                             &real, NULL),
                     MLW_OK);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mask[i], 1);
}

static void test_normalize(void **state)
{
    (void)state;
    struct tokenizer_opts o;
    char *out = NULL;
    size_t len = 0;
    tokenizer_opts_init(&o);
    o.lowercase = 1;
    const char in[] = "\xc3\x87" "a\tva\xc2\xa0?\x01 \xe4\xb8\xad"; /* "Ça\tva\u00a0?\x01 中" */
    assert_int_equal(tokenizer_normalize(&o, in, sizeof in - 1, &out, &len, NULL), MLW_OK);
    assert_string_equal(out, "ca va ?  \xe4\xb8\xad ");
    assert_int_equal(len, strlen(out));
    free(out);
    /* lowercase without strip_accents keeps marks; U+0130 lower-cases to i + U+0307 */
    o.strip_accents = 0;
    assert_int_equal(tokenizer_normalize(&o, "\xc4\xb0" "\xc3\x89", 4, &out, &len, NULL), MLW_OK);
    assert_string_equal(out, "i\xcc\x87\xc3\xa9");
    free(out);
    /* strip accents without lowercase */
    o.lowercase = 0;
    o.strip_accents = 1;
    assert_int_equal(tokenizer_normalize(&o, "\xc3\x89t\xc3\xa9", 5, &out, &len, NULL), MLW_OK);
    assert_string_equal(out, "Ete");
    free(out);
}

static void test_vocab_loading(void **state)
{
    (void)state;
    struct tokenizer *tok = NULL;
    struct mlw_err err = {0};

    assert_int_equal(tokenizer_load_vocab("/nonexistent/vocab.txt", NULL, &tok, &err),
                     MLW_ENOTFOUND);
    assert_null(tok);
    assert_non_null(strstr(err.msg, "/nonexistent/vocab.txt"));

    mlw_err_clear(&err);
    const char no_unk[] = "[PAD]\n[CLS]\n[SEP]\nhello\n";
    assert_int_equal(tokenizer_load_vocab_mem(no_unk, sizeof no_unk - 1, NULL, &tok, &err),
                     MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "[UNK]"));

    mlw_err_clear(&err);
    assert_int_equal(tokenizer_load_vocab_mem("", 0, NULL, &tok, &err), MLW_EFORMAT);

    mlw_err_clear(&err);
    const char bad_utf8[] = "[UNK]\n[CLS]\n[SEP]\nab\xff\n";
    assert_int_equal(tokenizer_load_vocab_mem(bad_utf8, sizeof bad_utf8 - 1, NULL, &tok, &err),
                     MLW_EFORMAT);
    assert_non_null(strstr(err.msg, "line 4"));

    /* trailing white space and CR are not part of a token; a duplicate takes its last line;
     * the last line needs no newline; [PAD] is optional */
    const char v[] = "[UNK]\r\n[CLS] \n[SEP]\t\nhel\nlo\n##lo\nhel\nworld";
    mlw_err_clear(&err);
    assert_int_equal(tokenizer_load_vocab_mem(v, sizeof v - 1, NULL, &tok, &err), MLW_OK);
    assert_int_equal(tokenizer_vocab_size(tok), 8);
    assert_int_equal(tokenizer_unk_id(tok), 0);
    assert_int_equal(tokenizer_cls_id(tok), 1);
    assert_int_equal(tokenizer_sep_id(tok), 2);
    assert_int_equal(tokenizer_pad_id(tok), -1);
    assert_int_equal(tokenizer_token_to_id(tok, "hel", 3), 6);
    assert_string_equal(tokenizer_id_to_token(tok, 1), "[CLS]");
    assert_string_equal(tokenizer_id_to_token(tok, 3), "hel");
    assert_null(tokenizer_id_to_token(tok, 8));
    assert_null(tokenizer_id_to_token(tok, -1));
    /* hello = hel ##lo; "lohel" has no "##hel" piece, so it is [UNK] as a whole */
    CHECK(tok, "hello world lohel", 0, 1, 6, 5, 7, 0, 2);
    /* padding needs [PAD] */
    int32_t ids[8];
    size_t n;
    mlw_err_clear(&err);
    assert_int_equal(tokenizer_encode_padded(tok, "hel", 3, 0, 6, ids, NULL, 8, &n, NULL, &err),
                     MLW_EINVAL);
    tokenizer_free(tok);
    tokenizer_free(NULL);
}

static void test_non_bert_opts(void **state)
{
    (void)state;
    struct tokenizer_opts o;
    struct tokenizer *tok = NULL;
    const char v[] = "[UNK]\n[CLS]\n[SEP]\n[MASK]\n中\n文\n中文\nab\n##c\n";
    tokenizer_opts_init(&o);
    o.handle_chinese_chars = 0;
    o.match_special_tokens = 0;
    o.max_input_chars_per_word = 3;
    assert_int_equal(tokenizer_load_vocab_mem(v, sizeof v - 1, &o, &tok, NULL), MLW_OK);
    /* no CJK spacing: 中文 is one word; [MASK] is split by punctuation; abcd is too long */
    CHECK(tok, "中文 [MASK] abc abcd", 0, 1, 6, 0, 0, 0, 7, 8, 0, 2);
    tokenizer_free(tok);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--tokenize") == 0)
        return cmd_tokenize(argc - 1, argv + 1);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lab_names_cased),
        cmocka_unit_test(test_lab_names_uncased),
        cmocka_unit_test(test_accents),
        cmocka_unit_test(test_cjk_and_emoji),
        cmocka_unit_test(test_control_and_whitespace),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_long_words),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_padding_and_mask),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_vocab_loading),
        cmocka_unit_test(test_non_bert_opts),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, setup, teardown);
}
