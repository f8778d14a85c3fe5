/*
 * tokenizer.c - BERT WordPiece tokenizer (see tokenizer.h for the pipeline and contract).
 *
 * Reference: Hugging Face `tokenizers` (npm package `tokenizers`, the Rust library through its
 * official binding), configured as BertTokenizerFast.from_pretrained() configures it. Every
 * rule below was checked against that library, code point by code point where it matters
 * (tests/integration/test_tokenizer_parity.sh keeps checking it).
 *
 * Unicode tables. The rules ask "is this a control, a non-spacing mark, a punctuation
 * mark, white space?", need canonical decompositions and combining classes (NFD) and
 * lower-case mappings. libutf8proc 2.8 answers from Unicode 15. tokenizers answers from three
 * sources of different ages: the `unicode_categories` crate (Unicode 8) for categories, its
 * NFD crate (Unicode 9) for combining classes and decompositions, and Rust's standard
 * library (newer than Unicode 15) for White_Space and lower case. Running both libraries over
 * every code point (U+0000..U+10FFFF: clean text, CJK spacing, NFD + mark removal, lower
 * case, pre-tokenizer splits, canonical reordering) found about 730 code points that
 * differ, all covered by the small tables below:
 *   hf_unassigned[]  characters newer than Unicode 8 that libutf8proc puts in Cc/Cf/Mn/P*;
 *                    tokenizers sees them as unassigned, so it keeps them, does not strip
 *                    them and does not split on them;
 *   hf_category()    three characters whose category changed after Unicode 8;
 *   hf_ccc_zero[]    marks whose combining class tokenizers' NFD does not know (it treats
 *                    them as class 0, so never reorders them), and nfd() leaves U+11938
 *                    undecomposed for the same reason;
 *   hf_lower_extra[] lower-case mappings of characters newer than libutf8proc's tables.
 * After them the two agree on every code point. The tables are measured behaviour of the
 * reference library (tokenizers 0.23.2), not copied code. A newer libutf8proc would know
 * characters that tokenizers does not; the parity test sweeps every code point through both,
 * so such a drift shows up as a test failure, not as silent differences.
 *
 * Memory: the vocabulary is one block of text (tokens NUL-terminated in place), an offset
 * and a length per id, and an open-addressing hash table of ids (linear probing, FNV-1a).
 * tokenizer_encode() works in a few growable arrays of code points that it frees on return.
 */
#include "ml/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VOCAB_MAX_BYTES (256u << 20) /* a BERT vocab.txt is ~230 KB */

#define N_SPECIALS 5
static const char *const special_names[N_SPECIALS] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                      "[MASK]"};

struct tokenizer {
    struct tokenizer_opts opts;
    int strip_accents;        /* opts.strip_accents resolved against opts.lowercase */
    char *blob;               /* vocab file bytes; each token NUL-terminated in place */
    uint32_t *tok_off;        /* [n_tokens] offset of token id in blob */
    uint32_t *tok_len;        /* [n_tokens] bytes of token id */
    size_t n_tokens;
    int32_t *slots;           /* [n_slots] id or -1; n_slots is a power of two */
    size_t n_slots;
    size_t max_tok_len;       /* longest token in bytes, bounds the WordPiece search */
    int32_t special_ids[N_SPECIALS]; /* ids of special_names[], -1 when absent */
};

enum { SPECIAL_PAD, SPECIAL_UNK, SPECIAL_CLS, SPECIAL_SEP, SPECIAL_MASK };

/* ---------------------------------------------------------------------------------------- */
/* Unicode predicates, as tokenizers sees them                                              */

struct cp_range {
    uint32_t lo, hi; /* inclusive */
};

/*
 * Code points assigned in Unicode 15 (libutf8proc) with a category that matters here (Cc, Cf,
 * Co, Mn or P*) but unassigned in the tables tokenizers uses. Measured, not guessed: see the
 * file comment. Sorted, non-overlapping.
 */
static const struct cp_range hf_unassigned[] = {
    {0x61D, 0x61D}, {0x7FD, 0x7FD}, {0x890, 0x891}, {0x898, 0x89F}, {0x8CA, 0x8E2},
    {0x9FD, 0x9FE}, {0xA76, 0xA76}, {0xAFA, 0xAFF}, {0xB55, 0xB55}, {0xC04, 0xC04},
    {0xC3C, 0xC3C}, {0xC77, 0xC77}, {0xC84, 0xC84}, {0xD00, 0xD00}, {0xD3B, 0xD3C},
    {0xD81, 0xD81}, {0xEBA, 0xEBA}, {0xECE, 0xECE}, {0x180F, 0x180F}, {0x1885, 0x1886},
    {0x1ABF, 0x1ACE}, {0x1B7D, 0x1B7E}, {0x1DF6, 0x1DFB}, {0x2E43, 0x2E4F}, {0x2E52, 0x2E5D},
    {0xA82C, 0xA82C}, {0xA8C5, 0xA8C5}, {0xA8FF, 0xA8FF}, {0xA9BD, 0xA9BD}, {0x10D24, 0x10D27},
    {0x10EAB, 0x10EAD}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F55, 0x10F59},
    {0x10F82, 0x10F89}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110C2, 0x110C2},
    {0x110CD, 0x110CD}, {0x111CF, 0x111CF}, {0x1123E, 0x1123E}, {0x11241, 0x11241},
    {0x1133B, 0x1133B}, {0x11438, 0x1143F}, {0x11442, 0x11444}, {0x11446, 0x11446},
    {0x1144B, 0x1144F}, {0x1145A, 0x1145B}, {0x1145D, 0x1145E}, {0x11660, 0x1166C},
    {0x116B9, 0x116B9}, {0x1182F, 0x11837}, {0x11839, 0x1183B}, {0x1193B, 0x1193C},
    {0x1193E, 0x1193E}, {0x11943, 0x11946}, {0x119D4, 0x119D7}, {0x119DA, 0x119DB},
    {0x119E0, 0x119E0}, {0x119E2, 0x119E2}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38},
    {0x11A3B, 0x11A47}, {0x11A51, 0x11A56}, {0x11A59, 0x11A5B}, {0x11A8A, 0x11A96},
    {0x11A98, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C30, 0x11C36},
    {0x11C38, 0x11C3D}, {0x11C3F, 0x11C3F}, {0x11C41, 0x11C45}, {0x11C70, 0x11C71},
    {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3}, {0x11CB5, 0x11CB6},
    {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45},
    {0x11D47, 0x11D47}, {0x11D90, 0x11D91}, {0x11D95, 0x11D95}, {0x11D97, 0x11D97},
    {0x11EF3, 0x11EF4}, {0x11EF7, 0x11EF8}, {0x11F00, 0x11F01}, {0x11F36, 0x11F3A},
    {0x11F40, 0x11F40}, {0x11F42, 0x11F4F}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2},
    {0x13430, 0x13440}, {0x13447, 0x13455}, {0x16E97, 0x16E9A}, {0x16F4F, 0x16F4F},
    {0x16FE2, 0x16FE2}, {0x16FE4, 0x16FE4}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46},
    {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024},
    {0x1E026, 0x1E02A}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE},
    {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF}, {0x1E944, 0x1E94A}, {0x1E95E, 0x1E95F},
};

static int range_find(const struct cp_range *r, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/*
 * Characters with a non-zero canonical combining class in Unicode 15 that tokenizers' NFD
 * tables (a different, older crate) give class 0, so it never reorders them. Measured.
 */
static const struct cp_range hf_ccc_zero[] = {
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE}, {0xC3C, 0xC3C},
    {0xD3B, 0xD3C}, {0xEBA, 0xEBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA},
    {0xA82C, 0xA82C}, {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF},
    {0x10F46, 0x10F50}, {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B},
    {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x1193D, 0x1193E},
    {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47},
    {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97},
    {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136},
    {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
};

/*
 * Lower-case mappings that Rust's standard library (newer Unicode than libutf8proc 2.8) has
 * and libutf8proc lacks: c in [lo, hi] maps to c + delta. Measured.
 */
static const struct {
    uint32_t lo, hi;
    int32_t delta;
} hf_lower_extra[] = {
    {0x1C89, 0x1C89, 1},
    {0xA7CB, 0xA7CB, -42343},
    {0xA7CC, 0xA7CC, 1},
    {0xA7CE, 0xA7CE, 1},
    {0xA7D2, 0xA7D2, 1},
    {0xA7D4, 0xA7D4, 1},
    {0xA7DA, 0xA7DA, 1},
    {0xA7DC, 0xA7DC, -42561},
    {0x10D50, 0x10D65, 32},
    {0x16EA0, 0x16EB8, 27},
};

/* The general category tokenizers would report for c. */
static utf8proc_category_t hf_category(uint32_t c)
{
    switch (c) { /* category changed after Unicode 8 */
    case 0x166D:  /* CANADIAN SYLLABICS CHI SIGN: Po there, So in Unicode 15 */
    case 0x111C9: /* SHARADA SANDHI MARK: Po there, Mn in Unicode 15 */
        return UTF8PROC_CATEGORY_PO;
    case 0x1734:  /* HANUNOO SIGN PAMUDPOD: Mn there, Mc in Unicode 15 */
        return UTF8PROC_CATEGORY_MN;
    default:
        break;
    }
    if (range_find(hf_unassigned, ARRAY_LEN(hf_unassigned), c))
        return UTF8PROC_CATEGORY_CN;
    return utf8proc_category((utf8proc_int32_t)c);
}

/* tokenizers' is_control(): categories Cc, Cf, Co (not Cn), except \t \n \r. */
static int hf_is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return 0;
    switch (hf_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
        return 1;
    default:
        return 0;
    }
}

/* Rust's char::is_whitespace (the White_Space property); stable since Unicode 6.3. */
static int hf_is_whitespace(uint32_t c)
{
    if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680)
        return 1;
    if (c >= 0x2000 && c <= 0x200A)
        return 1;
    return c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* BertPreTokenizer's punctuation: ASCII punctuation (33-47, 58-64, 91-96, 123-126) or P*. */
static int hf_is_punct(uint32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    if (c < 128)
        return 0;
    switch (hf_category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

static int hf_is_nonspacing_mark(uint32_t c)
{
    return hf_category(c) == UTF8PROC_CATEGORY_MN;
}

/*
 * CJK ideographs that BertNormalizer surrounds with spaces. These are tokenizers' ranges;
 * note 0x2B920 where Google's BERT has 0x2B820, so U+2B820..U+2B91F are not padded.
 */
static int hf_is_chinese(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---------------------------------------------------------------------------------------- */
/* Growable arrays                                                                          */

struct cpbuf {
    uint32_t *v;
    size_t n, cap;
};

static int cpbuf_reserve(struct cpbuf *b, size_t need)
{
    if (need <= b->cap)
        return MLW_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof *b->v)
            return MLW_ENOMEM;
        cap *= 2;
    }
    uint32_t *v = realloc(b->v, cap * sizeof *v);
    if (v == NULL)
        return MLW_ENOMEM;
    b->v = v;
    b->cap = cap;
    return MLW_OK;
}

static int cpbuf_push(struct cpbuf *b, uint32_t c)
{
    if (b->n == b->cap && cpbuf_reserve(b, b->n + 1) != MLW_OK)
        return MLW_ENOMEM;
    b->v[b->n++] = c;
    return MLW_OK;
}

static void cpbuf_free(struct cpbuf *b)
{
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8                                                                                    */

/*
 * Decode the character at s[0..len) (len >= 1). Returns the bytes consumed (>= 1) and sets
 * *cp. An invalid or truncated sequence (overlong, surrogate, > U+10FFFF, stray continuation
 * byte) gives U+FFFD and consumes its longest valid prefix, at least one byte (the WHATWG
 * rule, the one JavaScript's TextDecoder uses).
 */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b0 = s[0];
    size_t need;
    uint32_t c;
    unsigned char lo = 0x80, hi = 0xBF;

    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        c = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0;
        else if (b0 == 0xED)
            hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        c = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *cp = 0xFFFD;
            return i;
        }
        c = (c << 6) | (s[i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = c;
    return i;
}

/* Encode c (a valid scalar value) into out[0..4). Returns the byte count. */
static size_t utf8_encode(uint32_t c, unsigned char *out)
{
    if (c < 0x80) {
        out[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (unsigned char)(0xC0 | (c >> 6));
        out[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (c >> 12));
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (c >> 18));
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

static int decode_all(const char *text, size_t len, struct cpbuf *out)
{
    const unsigned char *s = (const unsigned char *)text;
    out->n = 0;
    if (cpbuf_reserve(out, len + 1) != MLW_OK)
        return MLW_ENOMEM;
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        i += utf8_decode(s + i, len - i, &c);
        out->v[out->n++] = c; /* never more code points than bytes */
    }
    return MLW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* BertNormalizer                                                                           */

static int resolve_strip(const struct tokenizer_opts *o)
{
    return o->strip_accents == TOKENIZER_STRIP_ACCENTS_AUTO ? (o->lowercase != 0)
                                                             : (o->strip_accents != 0);
}

/* Rust's char::to_lowercase: the full mapping, which differs from the simple one only in
 * U+0130 (the only unconditional multi-character lower-case mapping), plus the mappings of
 * characters newer than libutf8proc's tables. */
static int push_lower(struct cpbuf *out, uint32_t c)
{
    if (c == 0x130) {
        if (cpbuf_push(out, 'i') != MLW_OK)
            return MLW_ENOMEM;
        return cpbuf_push(out, 0x307);
    }
    for (size_t i = 0; i < ARRAY_LEN(hf_lower_extra); i++)
        if (c >= hf_lower_extra[i].lo && c <= hf_lower_extra[i].hi)
            return cpbuf_push(out, (uint32_t)((int32_t)c + hf_lower_extra[i].delta));
    return cpbuf_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

/* Canonical combining class, as tokenizers' NFD knows it. */
static int ccc(uint32_t c)
{
    int k = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
    if (k != 0 && range_find(hf_ccc_zero, ARRAY_LEN(hf_ccc_zero), c))
        return 0;
    return k;
}

/* NFD: full canonical decomposition, then canonical ordering of combining marks. */
static int nfd(const struct cpbuf *in, struct cpbuf *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        utf8proc_int32_t d[16];
        int boundclass = 0;
        if (in->v[i] == 0x11938) { /* tokenizers' NFD predates this decomposition */
            if (cpbuf_push(out, in->v[i]) != MLW_OK)
                return MLW_ENOMEM;
            continue;
        }
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)in->v[i], d, 16,
                                                     UTF8PROC_DECOMPOSE, &boundclass);
        if (k < 1 || k > 16) { /* cannot happen for a valid scalar value; keep it as is */
            d[0] = (utf8proc_int32_t)in->v[i];
            k = 1;
        }
        if (cpbuf_reserve(out, out->n + (size_t)k) != MLW_OK)
            return MLW_ENOMEM;
        for (utf8proc_ssize_t j = 0; j < k; j++)
            out->v[out->n++] = (uint32_t)d[j];
    }
    /* Stable insertion sort of each run of non-starters by combining class. */
    for (size_t i = 1; i < out->n; i++) {
        int ci = ccc(out->v[i]);
        if (ci == 0)
            continue;
        size_t j = i;
        while (j > 0) {
            int cj = ccc(out->v[j - 1]);
            if (cj <= ci)
                break;
            uint32_t t = out->v[j];
            out->v[j] = out->v[j - 1];
            out->v[j - 1] = t;
            j--;
        }
    }
    return MLW_OK;
}

/*
 * BertNormalizer over in[0..n): clean text, CJK spacing, strip accents, lowercase, in
 * tokenizers' order. Result in *out; a and b are scratch.
 */
static int normalize_cps(const struct tokenizer_opts *o, const uint32_t *in, size_t n,
                         struct cpbuf *out, struct cpbuf *a, struct cpbuf *b)
{
    int strip = resolve_strip(o);
    a->n = 0;
    if (cpbuf_reserve(a, n + 16) != MLW_OK)
        return MLW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        /* clean_text */
        if (c == 0 || c == 0xFFFD || hf_is_control(c))
            continue;
        if (hf_is_whitespace(c))
            c = ' ';
        if (o->handle_chinese_chars && hf_is_chinese(c)) {
            if (cpbuf_push(a, ' ') || cpbuf_push(a, c) || cpbuf_push(a, ' '))
                return MLW_ENOMEM;
        } else if (cpbuf_push(a, c) != MLW_OK) {
            return MLW_ENOMEM;
        }
    }
    const struct cpbuf *src = a;
    if (strip) {
        if (nfd(a, b) != MLW_OK)
            return MLW_ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < b->n; i++)
            if (!hf_is_nonspacing_mark(b->v[i]))
                b->v[k++] = b->v[i];
        b->n = k;
        src = b;
    }
    out->n = 0;
    if (cpbuf_reserve(out, src->n + 16) != MLW_OK)
        return MLW_ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        int rc = o->lowercase ? push_lower(out, src->v[i]) : cpbuf_push(out, src->v[i]);
        if (rc != MLW_OK)
            return MLW_ENOMEM;
    }
    return MLW_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Vocabulary                                                                               */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_BASIS 0xcbf29ce484222325ULL

/* Id of the token pre + s (pre may be empty), or -1. */
static int32_t vocab_find(const struct tokenizer *tok, const char *pre, size_t pre_len,
                          const char *s, size_t len)
{
    size_t total = pre_len + len;
    if (total > tok->max_tok_len)
        return -1;
    uint64_t h = fnv1a(fnv1a(FNV_BASIS, pre, pre_len), s, len);
    size_t mask = tok->n_slots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        int32_t id = tok->slots[i];
        if (id < 0)
            return -1;
        const char *t = tok->blob + tok->tok_off[id];
        if (tok->tok_len[id] == total && memcmp(t, pre, pre_len) == 0 &&
            memcmp(t + pre_len, s, len) == 0)
            return id;
    }
}

/* Insert id under its token; a token already present takes the new id (last line wins). */
static void vocab_insert(struct tokenizer *tok, int32_t id)
{
    const char *t = tok->blob + tok->tok_off[id];
    size_t len = tok->tok_len[id];
    uint64_t h = fnv1a(FNV_BASIS, t, len);
    size_t mask = tok->n_slots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        int32_t old = tok->slots[i];
        if (old < 0 || (tok->tok_len[old] == len &&
                        memcmp(tok->blob + tok->tok_off[old], t, len) == 0)) {
            tok->slots[i] = id;
            return;
        }
    }
}

void tokenizer_opts_init(struct tokenizer_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->lowercase = 0;
    opts->strip_accents = TOKENIZER_STRIP_ACCENTS_AUTO;
    opts->handle_chinese_chars = 1;
    opts->match_special_tokens = 1;
    opts->max_input_chars_per_word = TOKENIZER_MAX_CHARS_PER_WORD;
}

void tokenizer_free(struct tokenizer *tok)
{
    if (tok == NULL)
        return;
    free(tok->blob);
    free(tok->tok_off);
    free(tok->tok_len);
    free(tok->slots);
    free(tok);
}

/* Length of line[0..len) without trailing White_Space (Rust's str::trim_end), or -1 when
 * the line is not valid UTF-8. */
static long trimmed_len(const unsigned char *line, size_t len)
{
    size_t i = 0, keep = 0;
    while (i < len) {
        uint32_t c;
        size_t k = utf8_decode(line + i, len - i, &c);
        if (c == 0xFFFD && !(k == 3 && line[i] == 0xEF && line[i + 1] == 0xBF &&
                             line[i + 2] == 0xBD))
            return -1;
        i += k;
        if (!hf_is_whitespace(c))
            keep = i;
    }
    return (long)keep;
}

/* Takes ownership of blob (len bytes, allocated with one spare byte). */
static int load_blob(char *blob, size_t len, const struct tokenizer_opts *opts,
                     const char *what, struct tokenizer **out, struct mlw_err *err)
{
    struct tokenizer *tok = calloc(1, sizeof *tok);
    if (tok == NULL) {
        free(blob);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", what);
    }
    tok->blob = blob;
    blob[len] = '\n'; /* sentinel: every line ends in '\n' */
    if (opts)
        tok->opts = *opts;
    else
        tokenizer_opts_init(&tok->opts);
    if (tok->opts.max_input_chars_per_word == 0)
        tok->opts.max_input_chars_per_word = TOKENIZER_MAX_CHARS_PER_WORD;
    if (tok->opts.strip_accents < TOKENIZER_STRIP_ACCENTS_AUTO || tok->opts.strip_accents > 1) {
        tokenizer_free(tok);
        return mlw_err_set(err, MLW_EINVAL, "%s: strip_accents must be -1, 0 or 1", what);
    }
    tok->strip_accents = resolve_strip(&tok->opts);

    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += blob[i] == '\n';
    if (len > 0 && blob[len - 1] != '\n')
        lines++; /* last line without a final newline */
    if (lines > (size_t)INT32_MAX / 2) {
        tokenizer_free(tok);
        return mlw_err_set(err, MLW_EFORMAT, "%s: too many lines", what);
    }
    tok->n_slots = 16;
    while (tok->n_slots < lines * 2)
        tok->n_slots *= 2;
    tok->tok_off = malloc((lines ? lines : 1) * sizeof *tok->tok_off);
    tok->tok_len = malloc((lines ? lines : 1) * sizeof *tok->tok_len);
    tok->slots = malloc(tok->n_slots * sizeof *tok->slots);
    if (!tok->tok_off || !tok->tok_len || !tok->slots) {
        tokenizer_free(tok);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory for %zu tokens", what, lines);
    }
    for (size_t i = 0; i < tok->n_slots; i++)
        tok->slots[i] = -1;

    size_t pos = 0;
    for (size_t id = 0; id < lines; id++) {
        char *nl = memchr(blob + pos, '\n', len + 1 - pos);
        size_t line_len = (size_t)(nl - (blob + pos));
        long keep = trimmed_len((const unsigned char *)blob + pos, line_len);
        if (keep < 0) {
            tokenizer_free(tok);
            return mlw_err_set(err, MLW_EFORMAT, "%s: line %zu is not valid UTF-8", what,
                               id + 1);
        }
        blob[pos + (size_t)keep] = '\0';
        tok->tok_off[id] = (uint32_t)pos;
        tok->tok_len[id] = (uint32_t)keep;
        if ((size_t)keep > tok->max_tok_len)
            tok->max_tok_len = (size_t)keep;
        pos += line_len + 1;
    }
    tok->n_tokens = lines;
    for (size_t id = 0; id < lines; id++)
        vocab_insert(tok, (int32_t)id);

    for (int s = 0; s < N_SPECIALS; s++)
        tok->special_ids[s] = vocab_find(tok, "", 0, special_names[s],
                                         strlen(special_names[s]));
    for (int s = SPECIAL_UNK; s <= SPECIAL_SEP; s++) {
        if (tok->special_ids[s] < 0) {
            int rc = mlw_err_set(err, MLW_EFORMAT, "%s: vocabulary has no %s token", what,
                                 special_names[s]);
            tokenizer_free(tok);
            return rc;
        }
    }
    *out = tok;
    return MLW_OK;
}

int tokenizer_load_vocab_mem(const char *data, size_t len, const struct tokenizer_opts *opts,
                             struct tokenizer **out, struct mlw_err *err)
{
    *out = NULL;
    if (len > VOCAB_MAX_BYTES)
        return mlw_err_set(err, MLW_EFORMAT, "vocabulary of %zu bytes is too large", len);
    char *blob = malloc(len + 1);
    if (blob == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory for a %zu-byte vocabulary", len);
    if (len)
        memcpy(blob, data, len);
    return load_blob(blob, len, opts, "vocabulary", out, err);
}

int tokenizer_load_vocab(const char *path, const struct tokenizer_opts *opts,
                         struct tokenizer **out, struct mlw_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mlw_err_set(err, errno == ENOENT ? MLW_ENOTFOUND : MLW_EIO, "%s: %s", path,
                           strerror(errno));
    char *blob = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            if (len > VOCAB_MAX_BYTES) {
                free(blob);
                fclose(f);
                return mlw_err_set(err, MLW_EFORMAT, "%s: larger than %u bytes", path,
                                   VOCAB_MAX_BYTES);
            }
            size_t ncap = cap ? cap * 2 : 262144;
            if (ncap > VOCAB_MAX_BYTES + 131072u)
                ncap = VOCAB_MAX_BYTES + 131072u;
            char *nb = realloc(blob, ncap + 1);
            if (nb == NULL) {
                free(blob);
                fclose(f);
                return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", path);
            }
            blob = nb;
            cap = ncap;
        }
        size_t got = fread(blob + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(blob);
                fclose(f);
                return mlw_err_set(err, MLW_EIO, "%s: read failed: %s", path, strerror(e));
            }
            break;
        }
    }
    fclose(f);
    if (len > VOCAB_MAX_BYTES) {
        free(blob);
        return mlw_err_set(err, MLW_EFORMAT, "%s: larger than %u bytes", path, VOCAB_MAX_BYTES);
    }
    return load_blob(blob, len, opts, path, out, err);
}

const char *tokenizer_id_to_token(const struct tokenizer *tok, int32_t id)
{
    if (id < 0 || (size_t)id >= tok->n_tokens)
        return NULL;
    return tok->blob + tok->tok_off[id];
}

int32_t tokenizer_token_to_id(const struct tokenizer *tok, const char *token, size_t len)
{
    return vocab_find(tok, "", 0, token, len);
}

size_t tokenizer_vocab_size(const struct tokenizer *tok) { return tok->n_tokens; }
int32_t tokenizer_cls_id(const struct tokenizer *tok) { return tok->special_ids[SPECIAL_CLS]; }
int32_t tokenizer_sep_id(const struct tokenizer *tok) { return tok->special_ids[SPECIAL_SEP]; }
int32_t tokenizer_unk_id(const struct tokenizer *tok) { return tok->special_ids[SPECIAL_UNK]; }
int32_t tokenizer_pad_id(const struct tokenizer *tok) { return tok->special_ids[SPECIAL_PAD]; }

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                 */

struct idbuf {
    int32_t *v;
    size_t n, cap;
};

static int idbuf_push(struct idbuf *b, int32_t id)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *b->v)
            return MLW_ENOMEM;
        int32_t *v = realloc(b->v, cap * sizeof *v);
        if (v == NULL)
            return MLW_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return MLW_OK;
}

struct encode_ws {
    struct cpbuf raw, norm, a, b;
    unsigned char *bytes; /* UTF-8 of the current word */
    unsigned char *bound; /* bound[i]: a character starts at bytes[i] (or i == len) */
    size_t bytes_cap;
    struct idbuf ids;     /* tokens, without [CLS]/[SEP] */
};

static void encode_ws_free(struct encode_ws *ws)
{
    cpbuf_free(&ws->raw);
    cpbuf_free(&ws->norm);
    cpbuf_free(&ws->a);
    cpbuf_free(&ws->b);
    free(ws->bytes);
    free(ws->bound);
    free(ws->ids.v);
}

/* WordPiece on one pre-token (n code points). Appends its ids to ws->ids. */
static int wordpiece(const struct tokenizer *tok, const uint32_t *w, size_t n,
                     struct encode_ws *ws)
{
    int32_t unk = tok->special_ids[SPECIAL_UNK];
    if (n > tok->opts.max_input_chars_per_word)
        return idbuf_push(&ws->ids, unk);
    size_t need = n * 4 + 1;
    if (need > ws->bytes_cap) {
        unsigned char *nb = realloc(ws->bytes, need);
        if (nb == NULL)
            return MLW_ENOMEM;
        ws->bytes = nb;
        unsigned char *nbound = realloc(ws->bound, need);
        if (nbound == NULL)
            return MLW_ENOMEM;
        ws->bound = nbound;
        ws->bytes_cap = need;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = utf8_encode(w[i], ws->bytes + len);
        ws->bound[len] = 1;
        for (size_t j = 1; j < k; j++)
            ws->bound[len + j] = 0;
        len += k;
    }
    ws->bound[len] = 1;

    const char *s = (const char *)ws->bytes;
    size_t mark = ws->ids.n, start = 0;
    while (start < len) {
        size_t pre = start > 0 ? 2 : 0;
        size_t end = len;
        if (end - start + pre > tok->max_tok_len) { /* nothing that long is in the vocab */
            end = start + (tok->max_tok_len > pre ? tok->max_tok_len - pre : 0);
            while (end > start && !ws->bound[end])
                end--;
        }
        int32_t id = -1;
        while (end > start) {
            id = vocab_find(tok, "##", pre, s + start, end - start);
            if (id >= 0)
                break;
            do
                end--;
            while (end > start && !ws->bound[end]);
        }
        if (id < 0) { /* a piece matched nothing: the whole word is [UNK] */
            ws->ids.n = mark;
            return idbuf_push(&ws->ids, unk);
        }
        if (idbuf_push(&ws->ids, id) != MLW_OK)
            return MLW_ENOMEM;
        start = end;
    }
    return MLW_OK;
}

/* BertPreTokenizer + WordPiece over a normalized segment. Stops early once limit ids exist:
 * truncation would drop the rest anyway. */
static int pretokenize_and_encode(const struct tokenizer *tok, const struct cpbuf *norm,
                                  size_t limit, struct encode_ws *ws)
{
    size_t i = 0;
    while (i < norm->n) {
        if (ws->ids.n >= limit)
            return MLW_OK;
        uint32_t c = norm->v[i];
        if (hf_is_whitespace(c)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (!hf_is_punct(c))
            while (j < norm->n && !hf_is_whitespace(norm->v[j]) && !hf_is_punct(norm->v[j]))
                j++;
        int rc = wordpiece(tok, norm->v + i, j - i, ws);
        if (rc != MLW_OK)
            return rc;
        i = j;
    }
    return MLW_OK;
}

/* Length of the special token starting at raw[i], setting *id; 0 when none does. */
static size_t special_at(const struct tokenizer *tok, const uint32_t *raw, size_t n, size_t i,
                         int32_t *id)
{
    if (raw[i] != '[')
        return 0;
    for (int s = 0; s < N_SPECIALS; s++) {
        if (tok->special_ids[s] < 0)
            continue;
        const char *name = special_names[s];
        size_t k = strlen(name);
        if (n - i < k)
            continue;
        size_t j = 0;
        while (j < k && raw[i + j] == (unsigned char)name[j])
            j++;
        if (j == k) {
            *id = tok->special_ids[s];
            return k;
        }
    }
    return 0;
}

static int encode_tokens(const struct tokenizer *tok, const char *text, size_t len,
                         size_t limit, struct encode_ws *ws)
{
    if (decode_all(text, len, &ws->raw) != MLW_OK)
        return MLW_ENOMEM;
    const uint32_t *raw = ws->raw.v;
    size_t n = ws->raw.n, seg = 0, i = 0;
    while (seg < n) {
        if (ws->ids.n >= limit)
            break;
        /* Find the next special token (the segment ends there), or the end of the text. */
        int32_t sid = -1;
        size_t slen = 0;
        if (tok->opts.match_special_tokens)
            for (i = seg; i < n && (slen = special_at(tok, raw, n, i, &sid)) == 0; i++)
                ;
        else
            i = n;
        if (i > seg) {
            if (normalize_cps(&tok->opts, raw + seg, i - seg, &ws->norm, &ws->a, &ws->b) !=
                MLW_OK)
                return MLW_ENOMEM;
            int rc = pretokenize_and_encode(tok, &ws->norm, limit, ws);
            if (rc != MLW_OK)
                return rc;
        }
        if (slen) {
            if (ws->ids.n < limit && idbuf_push(&ws->ids, sid) != MLW_OK)
                return MLW_ENOMEM;
            i += slen;
        }
        seg = i;
    }
    return MLW_OK;
}

int tokenizer_encode_padded(const struct tokenizer *tok, const char *text, size_t len,
                            size_t max_len, size_t pad_to, int32_t *out_ids, uint8_t *out_mask,
                            size_t out_cap, size_t *n_out, size_t *n_real, struct mlw_err *err)
{
    *n_out = 0;
    if (n_real)
        *n_real = 0;
    if (max_len == 1)
        return mlw_err_set(err, MLW_EINVAL, "max_len 1 leaves no room for [CLS] and [SEP]");
    if (text == NULL && len > 0)
        return mlw_err_set(err, MLW_EINVAL, "text is NULL");
    size_t limit = max_len ? max_len - 2 : SIZE_MAX; /* tokens between [CLS] and [SEP] */
    struct encode_ws ws;
    memset(&ws, 0, sizeof ws);
    int rc = encode_tokens(tok, text, len, limit, &ws);
    if (rc != MLW_OK) {
        encode_ws_free(&ws);
        return mlw_err_set(err, rc, "tokenizer: out of memory for a %zu-byte text", len);
    }
    size_t body = ws.ids.n;
    if (body > limit)
        body = limit;
    size_t real = body + 2;
    size_t total = real < pad_to ? pad_to : real;
    if (total > out_cap) {
        encode_ws_free(&ws);
        *n_out = total;
        return mlw_err_set(err, MLW_EINVAL, "%zu token ids do not fit in %zu", total, out_cap);
    }
    if (total > real && tok->special_ids[SPECIAL_PAD] < 0) {
        encode_ws_free(&ws);
        return mlw_err_set(err, MLW_EINVAL, "padding needs a [PAD] token in the vocabulary");
    }
    out_ids[0] = tok->special_ids[SPECIAL_CLS];
    if (body)
        memcpy(out_ids + 1, ws.ids.v, body * sizeof *out_ids);
    out_ids[body + 1] = tok->special_ids[SPECIAL_SEP];
    for (size_t k = real; k < total; k++)
        out_ids[k] = tok->special_ids[SPECIAL_PAD];
    if (out_mask)
        for (size_t k = 0; k < total; k++)
            out_mask[k] = k < real;
    encode_ws_free(&ws);
    *n_out = total;
    if (n_real)
        *n_real = real;
    return MLW_OK;
}

int tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len, size_t max_len,
                     int32_t *out_ids, size_t out_cap, size_t *n_out, struct mlw_err *err)
{
    return tokenizer_encode_padded(tok, text, len, max_len, 0, out_ids, NULL, out_cap, n_out,
                                   NULL, err);
}

int tokenizer_normalize(const struct tokenizer_opts *opts, const char *text, size_t len,
                        char **out, size_t *out_len, struct mlw_err *err)
{
    struct tokenizer_opts def;
    if (opts == NULL) {
        tokenizer_opts_init(&def);
        opts = &def;
    }
    *out = NULL;
    if (out_len)
        *out_len = 0;
    struct cpbuf raw = {0}, norm = {0}, a = {0}, b = {0};
    int rc = decode_all(text, len, &raw);
    if (rc == MLW_OK)
        rc = normalize_cps(opts, raw.v, raw.n, &norm, &a, &b);
    char *s = NULL;
    if (rc == MLW_OK) {
        s = malloc(norm.n * 4 + 1);
        if (s == NULL)
            rc = MLW_ENOMEM;
    }
    if (rc == MLW_OK) {
        size_t k = 0;
        for (size_t i = 0; i < norm.n; i++)
            k += utf8_encode(norm.v[i], (unsigned char *)s + k);
        s[k] = '\0';
        *out = s;
        if (out_len)
            *out_len = k;
    }
    cpbuf_free(&raw);
    cpbuf_free(&norm);
    cpbuf_free(&a);
    cpbuf_free(&b);
    if (rc != MLW_OK)
        return mlw_err_set(err, rc, "tokenizer: out of memory for a %zu-byte text", len);
    return MLW_OK;
}
