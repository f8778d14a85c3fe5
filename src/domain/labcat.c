/*
 * labcat.c - the lab catalog parser and the lab test name matcher. See
 * labcat.h for the matching steps and data/lab_catalog.txt for the format.
 *
 * Data structures, built once by labcat_load():
 *   - every synonym of every test (the canonical name and the original seed
 *     names included) is normalised exactly like an input name and kept as a
 *     list of vocabulary word ids plus the specimen its text states;
 *   - one hash table maps keys to synonyms. Each synonym is entered under
 *     four keys: its words joined by spaces (EXACT), the words concatenated
 *     (spacing ignored: "hb a1c" = "hba1c"), the words sorted (order
 *     ignored), and all its words including specimen words concatenated;
 *   - the vocabulary (every word of every synonym) with, per word, the
 *     synonyms containing it (the "part of one test" rule and the spelling
 *     correction use it; the cost of a lookup depends on the name, not on
 *     the catalog size).
 */
#include "domain/labcat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"

#define TOK_MAX 40
#define MAX_TOKENS 64
#define MAX_GROUPS 24
#define KEY_MAX (MAX_TOKENS * TOK_MAX)

/* ---- normalisation -------------------------------------------------------- */

struct tok {
    char s[TOK_MAX];
    unsigned char n;
    unsigned char group; /* 0: outside parentheses; k: the k-th parenthesised part */
};

struct norm {
    struct tok t[MAX_TOKENS];
    int n;
    enum labcat_specimen spec;
    int spec_words;       /* specimen words taken out of the name */
    int noise;            /* noise / method words dropped */
    int restored;         /* everything was specimen/noise: kept as analyte words */
    struct tok all[MAX_TOKENS]; /* analyte and specimen words, for the raw compact key */
    int nall;
};

/* Latin Extended-A (U+0100..U+017F) folded to ASCII letters. */
static const char LATIN_EXT_A[] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiJjJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOo"
    "RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
_Static_assert(sizeof LATIN_EXT_A == 129, "one letter per code point U+0100..U+017F");

/* Latin-1 letters U+00C0..U+00FF ('.' = not a letter; '1' = "ae", '2' = "ss"). */
static const char LATIN_1[] =
    "AAAAAA1CEEEEIIIIDNOOOOO.OUUUUYT2aaaaaa1ceeeeiiiidnooooo.ouuuuyty";
_Static_assert(sizeof LATIN_1 == 65, "one entry per code point U+00C0..U+00FF");

/* Decode one UTF-8 sequence at s[*i]; invalid bytes give 0xFFFD and advance 1. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (len == 0 || *i + (size_t)len > n) {
        (*i)++;
        return 0xFFFD;
    }
    uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (int k = 1; k < len; k++) {
        unsigned char cc = s[*i + (size_t)k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)len;
    return cp;
}

/* ASCII letters for a code point: "" for separators. */
static const char *fold_cp(uint32_t cp, char buf[3])
{
    buf[1] = buf[2] = '\0';
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            buf[0] = (char)(cp - 'A' + 'a');
        else if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
            buf[0] = (char)cp;
        else
            buf[0] = '\0';
        return buf;
    }
    if (cp >= 0xC0 && cp <= 0xFF) {
        char f = LATIN_1[cp - 0xC0];
        if (f == '.')
            return "";
        if (f == '1')
            return "ae";
        if (f == '2')
            return "ss";
        buf[0] = (char)(f >= 'A' && f <= 'Z' ? f - 'A' + 'a' : f);
        return buf;
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        char f = LATIN_EXT_A[cp - 0x100];
        buf[0] = (char)(f >= 'A' && f <= 'Z' ? f - 'A' + 'a' : f);
        return buf;
    }
    switch (cp) {
    case 0xB5: case 0x3BC: return "u";       /* micro sign, mu: "µmol" */
    case 0x3B1: return "alpha";
    case 0x3B2: return "beta";
    case 0x3B3: return "gamma";
    case 0x3B4: return "delta";
    case 0x3BA: return "kappa";
    case 0x3BB: return "lambda";
    default: return "";
    }
}

struct tokenizer {
    struct norm *nm;
    char cur[TOK_MAX];
    int len;
    int group, depth, ngroups;
};

static void tk_flush(struct tokenizer *tk)
{
    if (tk->len > 0 && tk->nm->n < MAX_TOKENS) {
        struct tok *t = &tk->nm->t[tk->nm->n++];
        memcpy(t->s, tk->cur, (size_t)tk->len);
        t->s[tk->len] = '\0';
        t->n = (unsigned char)tk->len;
        t->group = (unsigned char)tk->group;
    }
    tk->len = 0;
}

static void tk_append(struct tokenizer *tk, const char *s)
{
    for (; *s; s++)
        if (tk->len < TOK_MAX - 1)
            tk->cur[tk->len++] = *s;
}

static void tk_word(struct tokenizer *tk, const char *w)
{
    tk_flush(tk);
    tk_append(tk, w);
    tk_flush(tk);
}

static void tokenize(const char *name, size_t len, struct norm *nm)
{
    struct tokenizer tk = {.nm = nm};
    const unsigned char *s = (const unsigned char *)name;
    size_t i = 0;
    uint32_t prev = ' ';
    while (i < len) {
        uint32_t cp = utf8_next(s, len, &i);
        char buf[3];
        const char *f;
        if (cp == '\'' || cp == 0x2019 || cp == 0x60) {
            /* "Gram's", "RBC's": the apostrophe joins */
        } else if (cp == '%') {
            tk_word(&tk, "percent");
        } else if (cp == '#') {
            char pb[3];
            if (*fold_cp(prev, pb))
                tk_word(&tk, "absolute"); /* "Neut#", "LYMPH#" */
            else
                tk_flush(&tk);             /* a footnote marker */
        } else if (cp == '(' || cp == '[' || cp == '{') {
            tk_flush(&tk);
            if (tk.depth++ == 0)
                tk.group = tk.ngroups < MAX_GROUPS - 1 ? ++tk.ngroups : tk.ngroups;
        } else if (cp == ')' || cp == ']' || cp == '}') {
            tk_flush(&tk);
            if (tk.depth > 0 && --tk.depth == 0)
                tk.group = 0;
        } else if ((cp == ',' || cp == ';') && tk.depth == 0) {
            /* "LDL Cholesterol, Direct": what follows a comma is a part of
             * its own, like a parenthesised one */
            tk_flush(&tk);
            tk.group = tk.ngroups < MAX_GROUPS - 1 ? ++tk.ngroups : tk.ngroups;
        } else if (*(f = fold_cp(cp, buf))) {
            if (strlen(f) > 2) { /* a Greek letter written out: its own word */
                tk_flush(&tk);
                tk_append(&tk, f);
            } else {
                tk_append(&tk, f);
            }
        } else {
            tk_flush(&tk);
        }
        prev = cp;
    }
    tk_flush(&tk);
}

struct strmap {
    const char *from, *to;
};

/* Whole-word rewrites after plural folding: abbreviations used inside names
 * and common misspellings. Sorted by `from` (bsearch). */
static const struct strmap CANON[] = {
    {"abs", "absolute"},
    {"alk", "alkaline"},
    {"anti", "anti"},
    {"apo", "apolipoprotein"},
    {"bil", "bilirubin"},
    {"bili", "bilirubin"},
    {"cho", "cholesterol"},
    {"chol", "cholesterol"},
    {"cholesterole", "cholesterol"},
    {"cholestrol", "cholesterol"},
    {"cnt", "count"},
    {"colour", "color"},
    {"conc", "concentration"},
    {"concn", "concentration"},
    {"corp", "corpuscular"},
    {"creat", "creatinine"},
    {"dir", "direct"},
    {"eos", "eosinophil"},
    {"eosino", "eosinophil"},
    {"gluc", "glucose"},
    {"glycosylated", "glycated"},
    {"hb", "hemoglobin"},
    {"hemo", "hemoglobin"},
    {"hgb", "hemoglobin"},
    {"hour", "hr"},
    {"lp", "lipoprotein"},
    {"lymph", "lymphocyte"},
    {"lympho", "lymphocyte"},
    {"mono", "monocyte"},
    {"neut", "neutrophil"},
    {"neutro", "neutrophil"},
    {"percentage", "percent"},
    {"plt", "platelet"},
    {"postprandial", "post prandial"},
    {"prot", "protein"},
    {"thyroxin", "thyroxine"},
    {"tot", "total"},
    {"trig", "triglyceride"},
    {"vit", "vitamin"},
};

/* Words that never distinguish one test from another: filler, method and
 * instrument names. Sorted (bsearch). */
static const char *const NOISE[] = {
    "analyser", "analyzer", "and", "assay", "at", "auto", "automated", "bcg", "bcp", "biuret",
    "bromo", "bromocresol", "by", "calc", "calculated", "calculation", "chemiluminescence",
    "chemiluminescent", "chod", "clia", "cmia", "colorimetric", "colorimetry", "computed",
    "counter", "cresol", "dcct", "deproteinization", "derived", "diazo", "diazonium", "diazotized",
    "dye", "eclia", "eia", "electrode", "elfa", "elisa", "enzymatic", "estimation", "fever", "for",
    "gldh", "god",
    "gpo", "green", "hexokinase", "hpf", "hplc", "ifcc", "immunoassay", "immunoturbidimetric",
    "immunoturbidimetry", "in", "ion", "ise", "jaffe", "kinetic", "level", "lpf", "machine",
    "measurement", "method", "methodology", "mod", "modified", "nephelometric", "nephelometry",
    "ngsp", "of", "on", "or", "pap", "pathogenic", "photometric", "photometry", "pod", "purple", "qual",
    "qualitative", "quant", "quantitative", "result", "sample", "selective", "specimen",
    "spectrophotometric", "spectrophotometry", "spot", "sulfanilic", "test", "the",
    "turbidimetric", "turbidimetry", "type", "urease", "uricase", "using", "value", "westergren",
    "whole", "wintrobe", "with", "wo"};

static int cmp_strmap(const void *k, const void *e)
{
    return strcmp((const char *)k, ((const struct strmap *)e)->from);
}
static int cmp_cstr(const void *k, const void *e)
{
    return strcmp((const char *)k, *(const char *const *)e);
}

static int is_noise(const char *w)
{
    return bsearch(w, NOISE, sizeof NOISE / sizeof NOISE[0], sizeof NOISE[0], cmp_cstr) != NULL;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* British spellings and plurals, in place. */
static void fold_spelling(struct tok *t)
{
    static const struct strmap PREFIX[] = {
        {"haem", "hem"}, {"anaem", "anem"}, {"leuc", "leuk"}, {"oestr", "estr"},
        {"foet", "fet"}, {"faec", "fec"}, {"sulph", "sulf"}, {"oesoph", "esoph"}};
    for (size_t k = 0; k < sizeof PREFIX / sizeof PREFIX[0]; k++) {
        size_t pl = strlen(PREFIX[k].from), tl = strlen(PREFIX[k].to);
        if (starts(t->s, PREFIX[k].from)) {
            memmove(t->s + tl, t->s + pl, (size_t)t->n - pl + 1);
            memcpy(t->s, PREFIX[k].to, tl);
            t->n = (unsigned char)(t->n - pl + tl);
            break;
        }
    }
    size_t n = t->n;
    static const char *const KEEP_S[] = {"dheas", "plbs", "ppbs"}; /* abbreviations, not plurals */
    int keep = 0;
    for (size_t k = 0; k < sizeof KEEP_S / sizeof KEEP_S[0]; k++)
        keep |= strcmp(t->s, KEEP_S[k]) == 0;
    if (keep) {
        /* as written */
    } else if (n >= 5 && strcmp(t->s + n - 3, "ies") == 0) { /* antibodies -> antibody */
        t->s[n - 3] = 'y';
        t->s[n - 2] = '\0';
        t->n = (unsigned char)(n - 2);
    } else if (n >= 4 && t->s[n - 1] == 's' && t->s[n - 2] != 's' && t->s[n - 2] != 'u' &&
               t->s[n - 2] != 'i') {
        t->s[n - 1] = '\0';
        t->n = (unsigned char)(n - 1);
    }
    /* "2h", "2hrs" -> "2hr" */
    if (t->n >= 2 && t->s[t->n - 1] == 'h' && t->n < TOK_MAX - 1) {
        char tmp[TOK_MAX];
        memcpy(tmp, t->s, t->n - 1u);
        tmp[t->n - 1] = '\0';
        if (all_digits(tmp)) {
            t->s[t->n++] = 'r';
            t->s[t->n] = '\0';
        }
    }
}

static int spec_rank(enum labcat_specimen s)
{
    static const int rank[LABCAT_SPEC_COUNT] = {0, 1, 5, 6, 4, 7, 3, 2};
    return rank[s];
}

static void set_spec(struct norm *nm, enum labcat_specimen s)
{
    if (spec_rank(s) > spec_rank(nm->spec))
        nm->spec = s;
}

static enum labcat_specimen specimen_word(const char *w)
{
    static const struct {
        const char *w;
        enum labcat_specimen s;
    } W[] = {
        {"serum", LABCAT_SPEC_BLOOD},     {"sera", LABCAT_SPEC_BLOOD},
        {"plasma", LABCAT_SPEC_BLOOD},    {"edta", LABCAT_SPEC_BLOOD},
        {"venous", LABCAT_SPEC_BLOOD},    {"capillary", LABCAT_SPEC_BLOOD},
        {"citrated", LABCAT_SPEC_BLOOD},  {"fluoride", LABCAT_SPEC_BLOOD},
        {"heparinised", LABCAT_SPEC_BLOOD}, {"heparinized", LABCAT_SPEC_BLOOD},
        {"citrate", LABCAT_SPEC_BLOOD},   {"wb", LABCAT_SPEC_BLOOD},
        {"urine", LABCAT_SPEC_URINE},     {"urinary", LABCAT_SPEC_URINE},
        {"stool", LABCAT_SPEC_STOOL},     {"fecal", LABCAT_SPEC_STOOL},
        {"fece", LABCAT_SPEC_STOOL},      {"motion", LABCAT_SPEC_STOOL},
        {"csf", LABCAT_SPEC_CSF},         {"cerebrospinal", LABCAT_SPEC_CSF},
        {"sputum", LABCAT_SPEC_SPUTUM},   {"swab", LABCAT_SPEC_SWAB},
    };
    for (size_t k = 0; k < sizeof W / sizeof W[0]; k++)
        if (strcmp(w, W[k].w) == 0)
            return W[k].s;
    return LABCAT_SPEC_NONE;
}

/* Step 1. */
static void normalize(const char *name, size_t len, struct norm *nm)
{
    struct norm raw;
    memset(&raw, 0, sizeof raw);
    tokenize(name, len, &raw);

    /* Runs of single characters are one abbreviation: "S.G.P.T.", "T 3". */
    struct norm m;
    m.n = 0;
    for (int i = 0; i < raw.n;) {
        int j = i;
        while (j < raw.n && raw.t[j].n == 1 && raw.t[j].group == raw.t[i].group)
            j++;
        if (j - i >= 2) {
            struct tok *t = &m.t[m.n++];
            t->n = 0;
            t->group = raw.t[i].group;
            for (int k = i; k < j && t->n < TOK_MAX - 1; k++)
                t->s[t->n++] = raw.t[k].s[0];
            t->s[t->n] = '\0';
            i = j;
        } else {
            m.t[m.n++] = raw.t[i++];
        }
    }

    /* Spelling, plurals, abbreviations; noise marked. */
    struct tok w[MAX_TOKENS];
    unsigned char noise[MAX_TOKENS];
    int nw = 0;
    for (int i = 0; i < m.n && nw < MAX_TOKENS; i++) {
        struct tok t = m.t[i];
        fold_spelling(&t);
        const struct strmap *e =
            bsearch(t.s, CANON, sizeof CANON / sizeof CANON[0], sizeof CANON[0], cmp_strmap);
        const char *rep = e ? e->to : t.s;
        const char *parts[2] = {rep, NULL}; /* a rewrite gives at most two words */
        char first[TOK_MAX];
        const char *space = strchr(rep, ' ');
        if (space) {
            size_t fl = (size_t)(space - rep);
            memcpy(first, rep, fl);
            first[fl] = '\0';
            parts[0] = first;
            parts[1] = space + 1;
        }
        for (int k = 0; k < 2 && parts[k] && nw < MAX_TOKENS; k++) {
            struct tok *o = &w[nw];
            snprintf(o->s, sizeof o->s, "%s", parts[k]);
            o->n = (unsigned char)strlen(o->s);
            o->group = t.group;
            noise[nw] = (unsigned char)is_noise(o->s);
            nw++;
        }
    }
    /* "2" "hr" -> "2hr" (post-meal timings) */
    for (int i = 0; i + 1 < nw; i++)
        if (all_digits(w[i].s) && strcmp(w[i + 1].s, "hr") == 0 && w[i].n + 2 < TOK_MAX - 1) {
            strcat(w[i].s, "hr");
            w[i].n = (unsigned char)(w[i].n + 2);
            memmove(&w[i + 1], &w[i + 2], sizeof w[0] * (size_t)(nw - i - 2));
            memmove(&noise[i + 1], &noise[i + 2], (size_t)(nw - i - 2));
            nw--;
        }

    /* Specimen words. */
    unsigned char spec[MAX_TOKENS];
    memset(spec, 0, sizeof spec);
    nm->n = 0;
    nm->spec = LABCAT_SPEC_NONE;
    nm->spec_words = nm->noise = nm->restored = 0;
    int first_word = -1, last_word = -1;
    for (int i = 0; i < nw; i++)
        if (!noise[i]) {
            if (first_word < 0)
                first_word = i;
            last_word = i;
        }
    for (int i = 0; i < nw; i++) {
        if (noise[i])
            continue;
        enum labcat_specimen s = specimen_word(w[i].s);
        if (s != LABCAT_SPEC_NONE) {
            spec[i] = (unsigned char)s;
            continue;
        }
        /* 24 hour (or 12 hour) urine */
        if (strcmp(w[i].s, "24hr") == 0 || strcmp(w[i].s, "12hr") == 0) {
            spec[i] = LABCAT_SPEC_URINE24;
            continue;
        }
        if ((strcmp(w[i].s, "24") == 0 || strcmp(w[i].s, "12") == 0) && i + 1 < nw &&
            strcmp(w[i + 1].s, "hr") == 0) {
            spec[i] = spec[i + 1] = LABCAT_SPEC_URINE24;
            i++;
            continue;
        }
        /* "S. Creatinine", "Sr. Albumin": a leading serum abbreviation */
        if (i == first_word && w[i].group == 0 &&
            (strcmp(w[i].s, "s") == 0 || strcmp(w[i].s, "sr") == 0 ||
             strcmp(w[i].s, "ser") == 0)) {
            for (int j = i + 1; j < nw; j++)
                if (!noise[j]) {
                    if (w[j].n >= 2)
                        spec[i] = LABCAT_SPEC_BLOOD;
                    break;
                }
            continue;
        }
        /* "Blood Glucose", "Glucose, Blood": blood as a specimen only at the ends */
        if (strcmp(w[i].s, "blood") == 0 && (i == first_word || i == last_word) &&
            !(i > 0 && strcmp(w[i - 1].s, "occult") == 0))
            spec[i] = LABCAT_SPEC_BLOOD; /* ... but "occult blood" is an analyte */
    }
    for (int i = 0; i < nw; i++) {
        if (noise[i]) {
            nm->noise++;
            continue;
        }
        if (nm->nall < MAX_TOKENS)
            nm->all[nm->nall++] = w[i];
        if (spec[i]) {
            set_spec(nm, (enum labcat_specimen)spec[i]);
            nm->spec_words++;
            continue;
        }
        nm->t[nm->n++] = w[i];
    }
    if (nm->n == 0) {
        /* Only specimen / noise words ("Urine", "Blood (Urine)", "Test"):
         * keep the words that are left as the analyte. */
        for (int i = 0; i < nw; i++)
            if (!noise[i] && (spec[i] == LABCAT_SPEC_BLOOD || spec[i] == 0))
                nm->t[nm->n++] = w[i];
        if (nm->n == 0)
            for (int i = 0; i < nw; i++)
                if (!noise[i])
                    nm->t[nm->n++] = w[i];
        if (nm->n > 0) {
            nm->restored = 1;
            /* the kept words are no longer a specimen statement, unless a
             * stronger specimen (urine, stool) was also named */
            enum labcat_specimen keep = LABCAT_SPEC_NONE;
            for (int i = 0; i < nw; i++)
                if (!noise[i] && spec[i] && spec[i] != LABCAT_SPEC_BLOOD &&
                    spec_rank((enum labcat_specimen)spec[i]) > spec_rank(keep))
                    keep = (enum labcat_specimen)spec[i];
            int only_strong = 1;
            for (int i = 0; i < nm->n; i++)
                if (specimen_word(nm->t[i].s) != LABCAT_SPEC_BLOOD &&
                    strcmp(nm->t[i].s, "blood") && strcmp(nm->t[i].s, "s") &&
                    strcmp(nm->t[i].s, "sr"))
                    only_strong = 0;
            if (only_strong && keep != LABCAT_SPEC_NONE) {
                /* "Blood (Urine)": analyte blood, specimen urine */
                int k = 0;
                for (int i = 0; i < nm->n; i++)
                    if (specimen_word(nm->t[i].s) == LABCAT_SPEC_NONE)
                        nm->t[k++] = nm->t[i];
                if (k > 0)
                    nm->n = k;
            }
            nm->spec = keep;
        }
    }
}

static size_t join_tokens(const struct tok *t, int n, const char *sep, char *out, size_t cap)
{
    size_t o = 0, sl = strlen(sep);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i && o + sl < cap) {
            memcpy(out + o, sep, sl);
            o += sl;
        }
        size_t l = t[i].n;
        if (o + l >= cap)
            l = cap - o - 1;
        memcpy(out + o, t[i].s, l);
        o += l;
    }
    out[o] = '\0';
    return o;
}

static int cmp_tok(const void *a, const void *b)
{
    return strcmp(((const struct tok *)a)->s, ((const struct tok *)b)->s);
}

static void sorted_key(const struct tok *t, int n, char *out, size_t cap)
{
    struct tok s[MAX_TOKENS];
    memcpy(s, t, sizeof s[0] * (size_t)n);
    qsort(s, (size_t)n, sizeof s[0], cmp_tok);
    join_tokens(s, n, " ", out, cap);
}

void labcat_normalize(const char *name, size_t len, char *out, size_t cap,
                      enum labcat_specimen *specimen)
{
    struct norm nm;
    memset(&nm, 0, sizeof nm);
    if (len > LABCAT_MAX_NAME)
        len = LABCAT_MAX_NAME;
    normalize(name, len, &nm);
    if (cap)
        join_tokens(nm.t, nm.n, " ", out, cap);
    if (specimen)
        *specimen = nm.spec;
}

/* ---- the catalog ------------------------------------------------------------ */

enum key_kind { K_JOINED = 1, K_COMPACT = 2, K_SORTED = 4, K_RAW = 8 };

struct syn {
    uint32_t test;
    unsigned char spec;    /* specimen its text states */
    uint16_t ntok;
    uint32_t tok0;         /* into c->syn_toks (vocabulary ids) */
    const char *text;      /* joined words */
};

struct posting {
    uint32_t syn;
    unsigned char kind;
};

struct keyent {
    const char *key;
    uint32_t first, n; /* range in c->post */
};

/* One deletion variant of a vocabulary word: two words within edit distance
 * d share a string reachable by at most d deletions from each, so spelling
 * candidates come from hash lookups, not a scan of the vocabulary. */
struct delent {
    uint64_t h;
    uint32_t v;
};

struct labcat {
    struct arena a;
    struct labcat_category *cats;
    size_t ncats, capcats;
    struct labcat_test *tests;
    size_t ntests, captests;
    struct syn *syns;
    size_t nsyns, capsyns;
    uint32_t *syn_toks;
    size_t nsyn_toks, capsyn_toks;
    struct posting *post;
    size_t npost;
    struct keyent *keys;
    size_t nkeys;
    uint32_t *ktab;  /* open addressing: key index + 1, 0 = empty */
    size_t kcap;
    const char **vocab; /* sorted, unique */
    size_t nvocab, capvocab;
    uint32_t *vtab;
    size_t vcap;
    uint32_t *vfirst, *vcount, *vsyn; /* vocabulary word -> synonyms containing it */
    struct delent *dels; /* spelling index: hashes of words with 0-2 letters deleted */
    size_t ndels;
    uint64_t fingerprint;
};

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV_INIT 14695981039346656037ULL

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

void labcat_free(struct labcat *c)
{
    if (!c)
        return;
    free(c->cats);
    for (size_t i = 0; i < c->ntests; i++)
        free((void *)c->tests[i].seeds);
    free(c->tests);
    free(c->syns);
    free(c->syn_toks);
    free(c->post);
    free(c->keys);
    free(c->ktab);
    free(c->vocab);
    free(c->vtab);
    free(c->dels);
    free(c->vfirst);
    free(c->vcount);
    free(c->vsyn);
    arena_free(&c->a);
    free(c);
}

uint64_t labcat_fingerprint(const struct labcat *c) { return c->fingerprint; }
size_t labcat_ncategories(const struct labcat *c) { return c->ncats; }
const struct labcat_category *labcat_category_at(const struct labcat *c, size_t i)
{
    return i < c->ncats ? &c->cats[i] : NULL;
}
size_t labcat_ntests(const struct labcat *c) { return c->ntests; }
const struct labcat_test *labcat_test_at(const struct labcat *c, size_t i)
{
    return i < c->ntests ? &c->tests[i] : NULL;
}
int labcat_category_find(const struct labcat *c, const char *name)
{
    for (size_t i = 0; i < c->ncats; i++)
        if (strcmp(c->cats[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *labcat_kind_name(enum labcat_kind k)
{
    switch (k) {
    case LABCAT_EXACT: return "exact";
    case LABCAT_TOKEN: return "token";
    case LABCAT_FUZZY: return "fuzzy";
    default: return "none";
    }
}

const char *labcat_specimen_name(enum labcat_specimen s)
{
    static const char *const N[LABCAT_SPEC_COUNT] = {"unstated", "blood", "urine", "urine-24h",
                                                      "stool", "csf", "sputum", "swab"};
    return (unsigned)s < LABCAT_SPEC_COUNT ? N[s] : "?";
}

static int specimen_parse(const char *s, enum labcat_specimen *out)
{
    static const char *const N[] = {"any", "blood", "urine", "urine-24h", "stool",
                                    "csf", "sputum", "swab"};
    for (int i = 0; i < LABCAT_SPEC_COUNT; i++)
        if (strcmp(s, N[i]) == 0) {
            *out = (enum labcat_specimen)i;
            return 0;
        }
    return -1;
}

/* Trimmed copy of [s, e) into the arena. */
static char *dup_trim(struct arena *a, const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    return arena_strndup(a, s, (size_t)(e - s));
}

/* Split [s, e) on sep into at most max trimmed fields. Returns the count. */
static int split(struct arena *a, const char *s, const char *e, char sep, char **out, int max)
{
    int n = 0;
    while (n < max) {
        const char *p = memchr(s, sep, (size_t)(e - s));
        const char *end = p ? p : e;
        if (!(out[n++] = dup_trim(a, s, end)))
            return -1;
        if (!p)
            break;
        s = p + 1;
    }
    return n;
}

/* Pending synonyms while parsing: (test, text). */
struct pend {
    uint32_t test;
    const char *text;
    int line;
};

struct loader {
    struct labcat *c;
    struct pend *pend;
    size_t npend, cappend;
    struct { const char *key; struct posting p; } *kv;
    size_t nkv, capkv;
    struct mlw_err *err;
};

/* FNV-1a of s[0..n) with positions i and j (-1: none) left out. */
static uint64_t hash_skip(const char *s, int n, int i, int j)
{
    uint64_t h = FNV_INIT;
    for (int k = 0; k < n; k++)
        if (k != i && k != j) {
            h ^= (unsigned char)s[k];
            h *= 1099511628211ULL;
        }
    return h;
}

static int cmp_delent(const void *pa, const void *pb)
{
    const struct delent *a = pa, *b = pb;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return a->v < b->v ? -1 : a->v > b->v;
}

/* The spelling step looks at words of 4+ letters within distance 2, so
 * index every such vocabulary word with up to two letters deleted. */
static int build_deletions(struct labcat *c)
{
    size_t cap = 0;
    for (size_t v = 0; v < c->nvocab; v++) {
        size_t n = strlen(c->vocab[v]);
        if (n >= 4 && n < TOK_MAX)
            cap += 1 + n + n * (n - 1) / 2;
    }
    c->dels = malloc((cap ? cap : 1) * sizeof *c->dels);
    if (c->dels == NULL)
        return -1;
    size_t o = 0;
    for (size_t v = 0; v < c->nvocab; v++) {
        const char *w = c->vocab[v];
        int n = (int)strlen(w);
        if (n < 4 || n >= TOK_MAX)
            continue;
        c->dels[o++] = (struct delent){hash_skip(w, n, -1, -1), (uint32_t)v};
        for (int i = 0; i < n; i++) {
            c->dels[o++] = (struct delent){hash_skip(w, n, i, -1), (uint32_t)v};
            for (int j = i + 1; j < n; j++)
                c->dels[o++] = (struct delent){hash_skip(w, n, i, j), (uint32_t)v};
        }
    }
    qsort(c->dels, o, sizeof *c->dels, cmp_delent);
    size_t u = 0;
    for (size_t k = 0; k < o; k++)
        if (u == 0 || c->dels[u - 1].h != c->dels[k].h || c->dels[u - 1].v != c->dels[k].v)
            c->dels[u++] = c->dels[k];
    c->ndels = u;
    return 0;
}

/* Append the vocabulary words indexed under hash h to cand (unique). */
static void add_candidates(const struct labcat *c, uint64_t h, uint32_t *cand, size_t *n,
                           size_t cap, int *overflow)
{
    size_t lo = 0, hi = c->ndels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->dels[mid].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k < c->ndels && c->dels[k].h == h; k++) {
        size_t i = 0;
        while (i < *n && cand[i] != c->dels[k].v)
            i++;
        if (i < *n)
            continue;
        if (*n == cap) {
            *overflow = 1;
            return;
        }
        cand[(*n)++] = c->dels[k].v;
    }
}

static int vocab_find(const struct labcat *c, const char *w)
{
    if (!c->vcap)
        return -1;
    uint64_t h = fnv1a(w, strlen(w), FNV_INIT);
    for (size_t i = (size_t)h & (c->vcap - 1);; i = (i + 1) & (c->vcap - 1)) {
        uint32_t v = c->vtab[i];
        if (!v)
            return -1;
        if (strcmp(c->vocab[v - 1], w) == 0)
            return (int)(v - 1);
    }
}

static int add_kv(struct loader *L, const char *key, uint32_t syn, int kind)
{
    if (!*key)
        return 0;
    if (grow((void **)&L->kv, &L->capkv, L->nkv + 1, sizeof L->kv[0]))
        return -1;
    char *k = arena_strdup(&L->c->a, key);
    if (!k)
        return -1;
    L->kv[L->nkv].key = k;
    L->kv[L->nkv].p.syn = syn;
    L->kv[L->nkv].p.kind = (unsigned char)kind;
    L->nkv++;
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    const struct { const char *key; struct posting p; } *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    if (r)
        return r;
    return x->p.syn < y->p.syn ? -1 : x->p.syn > y->p.syn;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

/* Register one synonym (already a normalised form). */
static int add_synonym(struct loader *L, uint32_t test, const char *text, int line)
{
    struct labcat *c = L->c;
    struct norm nm;
    memset(&nm, 0, sizeof nm);
    normalize(text, strlen(text), &nm);
    if (nm.n == 0)
        return mlw_err_set(L->err, MLW_EFORMAT, "line %d: synonym '%s' has no words", line, text);
    if (grow((void **)&c->syns, &c->capsyns, c->nsyns + 1, sizeof c->syns[0]))
        return MLW_ENOMEM;
    char key[KEY_MAX];
    join_tokens(nm.t, nm.n, " ", key, sizeof key);
    struct syn *s = &c->syns[c->nsyns];
    s->test = test;
    s->spec = (unsigned char)nm.spec;
    s->ntok = (uint16_t)nm.n;
    s->tok0 = 0;
    if (!(s->text = arena_strdup(&c->a, key)))
        return MLW_ENOMEM;
    uint32_t si = (uint32_t)c->nsyns++;
    if (add_kv(L, key, si, K_JOINED))
        return MLW_ENOMEM;
    join_tokens(nm.t, nm.n, "", key, sizeof key);
    if (add_kv(L, key, si, K_COMPACT))
        return MLW_ENOMEM;
    sorted_key(nm.t, nm.n, key, sizeof key);
    if (add_kv(L, key, si, K_SORTED))
        return MLW_ENOMEM;
    join_tokens(nm.all, nm.nall, "", key, sizeof key);
    if (add_kv(L, key, si, K_RAW))
        return MLW_ENOMEM;
    /* vocabulary words (ids assigned after all synonyms are known) */
    for (int i = 0; i < nm.n; i++) {
        if (grow((void **)&c->vocab, &c->capvocab, c->nvocab + 1, sizeof c->vocab[0]))
            return MLW_ENOMEM;
        if (!(c->vocab[c->nvocab++] = arena_strdup(&c->a, nm.t[i].s)))
            return MLW_ENOMEM;
    }
    return MLW_OK;
}

static int parse_test_attr(struct loader *L, struct labcat_test *t, uint32_t ti, char *line,
                           int lineno)
{
    struct labcat *c = L->c;
    char *sp = line;
    while (*sp && *sp != ' ' && *sp != '\t')
        sp++;
    size_t wl = (size_t)(sp - line);
    while (*sp == ' ' || *sp == '\t')
        sp++;
    if (wl == 5 && strncmp(line, "loinc", 5) == 0) {
        char *fields[2 * LABCAT_MAX_LOINC + 1];
        char *end = sp + strlen(sp);
        int n = 0;
        char *p = sp;
        while (p < end && n < 2 * LABCAT_MAX_LOINC + 1) {
            while (p < end && *p == ' ')
                p++;
            char *q = p;
            while (q < end && *q != ' ')
                q++;
            if (q > p && !(fields[n++] = arena_strndup(&c->a, p, (size_t)(q - p))))
                return MLW_ENOMEM;
            p = q;
        }
        if (n == 0 || n % 2 || n > 2 * LABCAT_MAX_LOINC)
            return mlw_err_set(L->err, MLW_EFORMAT,
                               "line %d: loinc needs 'CODE CHECK' pairs (at most %d)", lineno,
                               LABCAT_MAX_LOINC);
        for (int k = 0; k < n; k += 2) {
            enum labcat_check ck;
            if (!strcmp(fields[k + 1], "sample"))
                ck = LABCAT_CHECK_SAMPLE;
            else if (!strcmp(fields[k + 1], "xref"))
                ck = LABCAT_CHECK_XREF;
            else if (!strcmp(fields[k + 1], "unchecked"))
                ck = LABCAT_CHECK_UNCHECKED;
            else
                return mlw_err_set(L->err, MLW_EFORMAT,
                                   "line %d: LOINC check '%s' is not sample, xref or unchecked",
                                   lineno, fields[k + 1]);
            const char *code = fields[k];
            size_t cl = strlen(code);
            int ok = cl >= 3 && cl <= 10 && code[cl - 2] == '-';
            for (size_t q = 0; ok && q < cl; q++)
                ok = (code[q] >= '0' && code[q] <= '9') || (q == cl - 2);
            if (!ok)
                return mlw_err_set(L->err, MLW_EFORMAT, "line %d: '%s' is not a LOINC code",
                                   lineno, code);
            if (t->nloinc >= LABCAT_MAX_LOINC)
                return mlw_err_set(L->err, MLW_EFORMAT, "line %d: too many LOINC codes", lineno);
            t->loinc[t->nloinc] = code;
            t->check[t->nloinc++] = ck;
        }
        return MLW_OK;
    }
    if (wl == 3 && strncmp(line, "syn", 3) == 0) {
        char *p = sp, *end = sp + strlen(sp);
        while (p <= end) {
            char *q = memchr(p, ';', (size_t)(end - p));
            char *e = q ? q : end;
            char *s = dup_trim(&c->a, p, e);
            if (!s)
                return MLW_ENOMEM;
            if (*s) {
                if (grow((void **)&L->pend, &L->cappend, L->npend + 1, sizeof L->pend[0]))
                    return MLW_ENOMEM;
                L->pend[L->npend++] = (struct pend){ti, s, lineno};
            }
            if (!q)
                break;
            p = q + 1;
        }
        return MLW_OK;
    }
    if (wl == 4 && strncmp(line, "seed", 4) == 0) {
        char *s = dup_trim(&c->a, sp, sp + strlen(sp));
        if (!s || grow((void **)&L->pend, &L->cappend, L->npend + 1, sizeof L->pend[0]))
            return MLW_ENOMEM;
        const char **ns = realloc((void *)t->seeds, sizeof *ns * (size_t)(t->nseeds + 1));
        if (!ns)
            return MLW_ENOMEM;
        ns[t->nseeds++] = s;
        t->seeds = ns;
        L->pend[L->npend++] = (struct pend){ti, s, lineno};
        return MLW_OK;
    }
    if (wl == 5 && strncmp(line, "flags", 5) == 0) {
        char *p = sp;
        while (*p) {
            char *q = p;
            while (*q && *q != ' ')
                q++;
            size_t fl = (size_t)(q - p);
            if (fl == 4 && !strncmp(p, "bare", 4))
                t->bare = 1;
            else if (fl == 17 && !strncmp(p, "explicit-specimen", 17))
                t->explicit_specimen = 1;
            else if (fl)
                return mlw_err_set(L->err, MLW_EFORMAT, "line %d: unknown flag '%.*s'", lineno,
                                   (int)fl, p);
            p = q;
            while (*p == ' ')
                p++;
        }
        return MLW_OK;
    }
    return mlw_err_set(L->err, MLW_EFORMAT,
                       "line %d: expected loinc, syn, seed or flags (got '%.*s')", lineno,
                       (int)wl, line);
}

static int spec_class(enum labcat_specimen s) { return s == LABCAT_SPEC_URINE24 ? LABCAT_SPEC_URINE : (int)s; }

/* Build the key table, the vocabulary and its index, and check that no key
 * names two tests for one specimen. */
static int finish(struct loader *L)
{
    struct labcat *c = L->c;
    for (size_t i = 0; i < L->npend; i++) {
        int rc = add_synonym(L, L->pend[i].test, L->pend[i].text, L->pend[i].line);
        if (rc)
            return rc == MLW_ENOMEM ? mlw_err_set(L->err, rc, "out of memory") : rc;
    }
    /* vocabulary: sort, unique, hash */
    qsort(c->vocab, c->nvocab, sizeof c->vocab[0], cmp_str_ptr);
    size_t nv = 0;
    for (size_t i = 0; i < c->nvocab; i++)
        if (nv == 0 || strcmp(c->vocab[nv - 1], c->vocab[i]))
            c->vocab[nv++] = c->vocab[i];
    c->nvocab = nv;
    c->vcap = pow2_at_least(2 * nv + 1);
    c->vtab = calloc(c->vcap, sizeof *c->vtab);
    c->vfirst = calloc(nv ? nv : 1, sizeof *c->vfirst);
    c->vcount = calloc(nv ? nv : 1, sizeof *c->vcount);
    if (!c->vtab || !c->vfirst || !c->vcount)
        return mlw_err_set(L->err, MLW_ENOMEM, "out of memory");
    for (size_t v = 0; v < nv; v++) {
        uint64_t h = fnv1a(c->vocab[v], strlen(c->vocab[v]), FNV_INIT);
        size_t i = (size_t)h & (c->vcap - 1);
        while (c->vtab[i])
            i = (i + 1) & (c->vcap - 1);
        c->vtab[i] = (uint32_t)v + 1;
    }
    if (build_deletions(c))
        return mlw_err_set(L->err, MLW_ENOMEM, "out of memory");
    /* synonym word ids */
    size_t total = 0;
    for (size_t s = 0; s < c->nsyns; s++)
        total += c->syns[s].ntok;
    c->syn_toks = malloc((total ? total : 1) * sizeof *c->syn_toks);
    c->vsyn = malloc((total ? total : 1) * sizeof *c->vsyn);
    if (!c->syn_toks || !c->vsyn)
        return mlw_err_set(L->err, MLW_ENOMEM, "out of memory");
    size_t o = 0;
    for (size_t s = 0; s < c->nsyns; s++) {
        struct syn *sy = &c->syns[s];
        sy->tok0 = (uint32_t)o;
        const char *p = sy->text;
        while (*p) {
            const char *q = strchr(p, ' ');
            size_t l = q ? (size_t)(q - p) : strlen(p);
            char w[TOK_MAX];
            memcpy(w, p, l);
            w[l] = '\0';
            int v = vocab_find(c, w);
            c->syn_toks[o++] = (uint32_t)(v < 0 ? 0 : v);
            c->vcount[v < 0 ? 0 : v]++;
            p += l + (q ? 1 : 0);
        }
    }
    c->nsyn_toks = o;
    uint32_t run = 0;
    for (size_t v = 0; v < nv; v++) {
        c->vfirst[v] = run;
        run += c->vcount[v];
        c->vcount[v] = 0;
    }
    for (size_t s = 0; s < c->nsyns; s++)
        for (uint32_t k = 0; k < c->syns[s].ntok; k++) {
            uint32_t v = c->syn_toks[c->syns[s].tok0 + k];
            /* a synonym may repeat a word; index it once */
            int dup = 0;
            for (uint32_t j = 0; j < k; j++)
                dup |= c->syn_toks[c->syns[s].tok0 + j] == v;
            if (!dup)
                c->vsyn[c->vfirst[v] + c->vcount[v]++] = (uint32_t)s;
        }

    /* keys */
    qsort(L->kv, L->nkv, sizeof L->kv[0], cmp_kv);
    c->post = malloc((L->nkv ? L->nkv : 1) * sizeof *c->post);
    c->keys = malloc((L->nkv ? L->nkv : 1) * sizeof *c->keys);
    if (!c->post || !c->keys)
        return mlw_err_set(L->err, MLW_ENOMEM, "out of memory");
    for (size_t i = 0; i < L->nkv;) {
        size_t j = i;
        struct keyent *k = &c->keys[c->nkeys++];
        k->key = L->kv[i].key;
        k->first = (uint32_t)c->npost;
        while (j < L->nkv && strcmp(L->kv[j].key, k->key) == 0) {
            /* merge kinds of the same synonym */
            if (c->npost > k->first && c->post[c->npost - 1].syn == L->kv[j].p.syn)
                c->post[c->npost - 1].kind |= L->kv[j].p.kind;
            else
                c->post[c->npost++] = L->kv[j].p;
            j++;
        }
        k->n = (uint32_t)c->npost - k->first;
        /* consistency: one test per (key, specimen) among exact keys */
        for (uint32_t a = k->first; a < k->first + k->n; a++)
            for (uint32_t b = a + 1; b < k->first + k->n; b++) {
                const struct syn *x = &c->syns[c->post[a].syn], *y = &c->syns[c->post[b].syn];
                if (x->test == y->test || !(c->post[a].kind & c->post[b].kind & (K_JOINED | K_COMPACT)))
                    continue;
                const struct labcat_test *tx = &c->tests[x->test], *ty = &c->tests[y->test];
                enum labcat_specimen sx = tx->specimen, sy = ty->specimen;
                /* a synonym stating another specimen class than its test's */
                if (x->spec && spec_class(x->spec) != spec_class(tx->specimen))
                    sx = (enum labcat_specimen)x->spec;
                if (y->spec && spec_class(y->spec) != spec_class(ty->specimen))
                    sy = (enum labcat_specimen)y->spec;
                if (sx == sy)
                    return mlw_err_set(L->err, MLW_EFORMAT,
                                       "synonym key '%s' names both %s and %s (same specimen)",
                                       k->key, tx->code, ty->code);
            }
        i = j;
    }
    c->kcap = pow2_at_least(2 * c->nkeys + 1);
    c->ktab = calloc(c->kcap, sizeof *c->ktab);
    if (!c->ktab)
        return mlw_err_set(L->err, MLW_ENOMEM, "out of memory");
    for (size_t k = 0; k < c->nkeys; k++) {
        uint64_t h = fnv1a(c->keys[k].key, strlen(c->keys[k].key), FNV_INIT);
        size_t i = (size_t)h & (c->kcap - 1);
        while (c->ktab[i])
            i = (i + 1) & (c->kcap - 1);
        c->ktab[i] = (uint32_t)k + 1;
    }
    return MLW_OK;
}

int labcat_load(const char *text, size_t len, struct labcat **out, struct mlw_err *err)
{
    *out = NULL;
    struct labcat *c = calloc(1, sizeof *c);
    if (!c)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    arena_init(&c->a, 64 * 1024);
    c->fingerprint = fnv1a(text, len, FNV_INIT) ^ (uint64_t)LABCAT_RULES_VERSION * 0x9E3779B97F4A7C15ULL;
    struct loader L = {.c = c, .err = err};
    int rc = MLW_OK, lineno = 0;
    long cur = -1;
    const char *p = text, *end = text + len;
    while (p < end && rc == MLW_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        char line[2048];
        size_t ll = (size_t)(le - p);
        if (ll >= sizeof line) {
            rc = mlw_err_set(err, MLW_EFORMAT, "line %d: longer than %zu bytes", lineno,
                             sizeof line - 1);
            break;
        }
        memcpy(line, p, ll);
        line[ll] = '\0';
        while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t'))
            line[--ll] = '\0';
        p = nl ? nl + 1 : end;
        char *s = line;
        int indented = *s == ' ' || *s == '\t';
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        if (indented) {
            if (cur < 0) {
                rc = mlw_err_set(err, MLW_EFORMAT, "line %d: attribute outside a test", lineno);
                break;
            }
            rc = parse_test_attr(&L, &c->tests[cur], (uint32_t)cur, s, lineno);
            if (rc == MLW_ENOMEM)
                mlw_err_set(err, rc, "out of memory");
            continue;
        }
        if (strncmp(s, "category ", 9) == 0) {
            /* category KEY = Name | original|mlworker */
            char *f[3];
            char *eq = strchr(s + 9, '=');
            if (!eq) {
                rc = mlw_err_set(err, MLW_EFORMAT, "line %d: category needs 'KEY = Name'", lineno);
                break;
            }
            char *key = dup_trim(&c->a, s + 9, eq);
            int n = split(&c->a, eq + 1, eq + 1 + strlen(eq + 1), '|', f, 2);
            if (!key || n < 0) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            if (n != 2 || !*key || !*f[0] || (strcmp(f[1], "original") && strcmp(f[1], "mlworker"))) {
                rc = mlw_err_set(err, MLW_EFORMAT,
                                 "line %d: category KEY = Name | original|mlworker", lineno);
                break;
            }
            for (size_t i = 0; i < c->ncats; i++)
                if (!strcmp(c->cats[i].key, key) || !strcmp(c->cats[i].name, f[0]))
                    rc = mlw_err_set(err, MLW_EFORMAT, "line %d: category '%s' defined twice",
                                     lineno, key);
            if (rc)
                break;
            if (grow((void **)&c->cats, &c->capcats, c->ncats + 1, sizeof c->cats[0])) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            c->cats[c->ncats++] = (struct labcat_category){f[0], key, !strcmp(f[1], "original")};
            continue;
        }
        if (strncmp(s, "test ", 5) == 0) {
            /* test CODE | Canonical name | CATKEY | specimen | unit */
            char *f[5];
            int n = split(&c->a, s + 5, s + strlen(s), '|', f, 5);
            if (n < 0) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            if (n != 5 || !*f[0] || !*f[1]) {
                rc = mlw_err_set(err, MLW_EFORMAT,
                                 "line %d: test CODE | Name | CATEGORY | specimen | unit", lineno);
                break;
            }
            int cat = -1;
            for (size_t i = 0; i < c->ncats; i++)
                if (!strcmp(c->cats[i].key, f[2]))
                    cat = (int)i;
            enum labcat_specimen sp;
            if (cat < 0) {
                rc = mlw_err_set(err, MLW_EFORMAT, "line %d: unknown category '%s'", lineno, f[2]);
                break;
            }
            if (specimen_parse(f[3], &sp)) {
                rc = mlw_err_set(err, MLW_EFORMAT, "line %d: unknown specimen '%s'", lineno, f[3]);
                break;
            }
            for (size_t i = 0; i < c->ntests; i++)
                if (!strcmp(c->tests[i].code, f[0]) || !strcasecmp(c->tests[i].name, f[1]))
                    rc = mlw_err_set(err, MLW_EFORMAT, "line %d: test '%s' defined twice", lineno,
                                     f[0]);
            if (rc)
                break;
            if (grow((void **)&c->tests, &c->captests, c->ntests + 1, sizeof c->tests[0])) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            struct labcat_test *t = &c->tests[c->ntests];
            memset(t, 0, sizeof *t);
            t->code = f[0];
            t->name = f[1];
            t->category = cat;
            t->specimen = sp;
            t->unit = f[4];
            cur = (long)c->ntests++;
            if (grow((void **)&L.pend, &L.cappend, L.npend + 1, sizeof L.pend[0])) {
                rc = mlw_err_set(err, MLW_ENOMEM, "out of memory");
                break;
            }
            L.pend[L.npend++] = (struct pend){(uint32_t)cur, t->name, lineno};
            continue;
        }
        rc = mlw_err_set(err, MLW_EFORMAT, "line %d: expected 'category', 'test' or an indented "
                                           "attribute", lineno);
    }
    if (rc == MLW_OK && c->ntests == 0)
        rc = mlw_err_set(err, MLW_EFORMAT, "the catalog has no tests");
    if (rc == MLW_OK)
        rc = finish(&L);
    free(L.pend);
    free(L.kv);
    if (rc != MLW_OK) {
        labcat_free(c);
        return rc;
    }
    *out = c;
    return MLW_OK;
}

/* ---- matching --------------------------------------------------------------- */

static const struct keyent *key_find(const struct labcat *c, const char *key)
{
    uint64_t h = fnv1a(key, strlen(key), FNV_INIT);
    for (size_t i = (size_t)h & (c->kcap - 1);; i = (i + 1) & (c->kcap - 1)) {
        uint32_t v = c->ktab[i];
        if (!v)
            return NULL;
        if (strcmp(c->keys[v - 1].key, key) == 0)
            return &c->keys[v - 1];
    }
}

/* Is synonym s (its test) acceptable for an input with specimen spec? */
static int compatible(const struct labcat *c, const struct syn *s, enum labcat_specimen spec)
{
    const struct labcat_test *t = &c->tests[s->test];
    (void)s;
    if (spec == LABCAT_SPEC_NONE)
        return !t->explicit_specimen;
    if (t->specimen == LABCAT_SPEC_NONE)
        return 1; /* "any" */
    if (s->spec != LABCAT_SPEC_NONE && spec_class(s->spec) == spec_class(spec))
        return 1;
    return spec_class(t->specimen) == spec_class(spec);
}

/* The candidate tests of a key for a specimen, resolved to one test.
 * Returns the test index, -1 when no compatible test, -2 when ambiguous
 * (*alt gets two of the candidates). *syn gets the synonym that matched. */
static int resolve(const struct labcat *c, const struct keyent *k, int kinds,
                   enum labcat_specimen spec, int *syn, int alt[2])
{
    int cand[16], csyn[16], nc = 0;
    for (uint32_t i = k->first; i < k->first + k->n; i++) {
        if (!(c->post[i].kind & kinds))
            continue;
        const struct syn *s = &c->syns[c->post[i].syn];
        if (!compatible(c, s, spec))
            continue;
        int dup = 0;
        for (int j = 0; j < nc; j++)
            dup |= cand[j] == (int)s->test;
        if (!dup && nc < 16) {
            csyn[nc] = (int)c->post[i].syn;
            cand[nc++] = (int)s->test;
        }
    }
    if (nc == 0)
        return -1;
    if (nc == 1) {
        *syn = csyn[0];
        return cand[0];
    }
    /* several: the one for this specimen exactly (24 hour vs spot urine);
     * without a specimen, the one marked bare (the blood one if several) */
    int best = -1, nb = 0;
    for (int j = 0; j < nc; j++) {
        const struct labcat_test *t = &c->tests[cand[j]];
        int hit = spec == LABCAT_SPEC_NONE ? t->bare : t->specimen == spec;
        if (hit) {
            best = j;
            nb++;
        }
    }
    if (nb > 1 && spec == LABCAT_SPEC_NONE) {
        nb = 0;
        for (int j = 0; j < nc; j++)
            if (c->tests[cand[j]].bare && c->tests[cand[j]].specimen == LABCAT_SPEC_BLOOD) {
                best = j;
                nb++;
            }
    }
    if (nb == 0 && spec != LABCAT_SPEC_NONE) {
        for (int j = 0; j < nc; j++)
            if (spec_class(c->tests[cand[j]].specimen) == spec_class(spec)) {
                best = j;
                nb++;
            }
    }
    if (nb == 1) {
        *syn = csyn[best];
        return cand[best];
    }
    alt[0] = cand[0];
    alt[1] = cand[1];
    return -2;
}

struct hit {
    int test, syn;
    int ambiguous; /* alt filled */
    int alt[2];
};

static int lookup(const struct labcat *c, const char *key, int kinds, enum labcat_specimen spec,
                  struct hit *h)
{
    const struct keyent *k = key_find(c, key);
    h->test = -1;
    h->ambiguous = 0;
    if (!k)
        return -1;
    int r = resolve(c, k, kinds, spec, &h->syn, h->alt);
    if (r == -2) {
        h->ambiguous = 1;
        return -1;
    }
    h->test = r;
    return r;
}

struct ctx {
    const struct labcat *c;
    struct labcat_result *out;
    enum labcat_specimen spec;
    char amb[96]; /* why an ambiguity stopped a step */
};

static void note_amb(struct ctx *x, const struct hit *h)
{
    if (h->ambiguous && !x->amb[0])
        snprintf(x->amb, sizeof x->amb, "ambiguous between %s and %s",
                 x->c->tests[h->alt[0]].code, x->c->tests[h->alt[1]].code);
}

/* Step 2 on a token list: joined, then spacing-free, then order-free. */
static int exact_steps(struct ctx *x, const struct tok *t, int n, const char **how, int *kind)
{
    char key[KEY_MAX];
    struct hit h;
    if (n <= 0)
        return -1;
    join_tokens(t, n, " ", key, sizeof key);
    if (lookup(x->c, key, K_JOINED, x->spec, &h) >= 0) {
        *how = "is a synonym of";
        *kind = LABCAT_EXACT;
        return h.test;
    }
    note_amb(x, &h);
    join_tokens(t, n, "", key, sizeof key);
    if (lookup(x->c, key, K_COMPACT | K_RAW, x->spec, &h) >= 0) {
        *how = "is (ignoring spaces) a synonym of";
        *kind = LABCAT_EXACT;
        return h.test;
    }
    note_amb(x, &h);
    sorted_key(t, n, key, sizeof key);
    if (lookup(x->c, key, K_SORTED, x->spec, &h) >= 0) {
        *how = "is (ignoring word order) a synonym of";
        *kind = LABCAT_TOKEN;
        return h.test;
    }
    note_amb(x, &h);
    return -1;
}

static int part_of_one(struct ctx *x, const struct tok *t, int n, int *syn_out);

/* Does every word of t occur in some synonym of test? ("Eosinophil" in
 * "absolute eosinophil count": a part that repeats a word of the test.) */
static int words_in_test(const struct labcat *c, const struct tok *t, int n, int test)
{
    for (int i = 0; i < n; i++) {
        int v = vocab_find(c, t[i].s), found = 0;
        if (v < 0)
            return 0;
        for (uint32_t k = 0; k < c->vcount[v] && !found; k++)
            found = (int)c->syns[c->vsyn[c->vfirst[v] + k]].test == test;
        if (!found)
            return 0;
    }
    return n > 0;
}

/* The tests (other than `except`) with a synonym that has every word of a
 * and of b: the test a part turns the main part into ("Bilirubin" +
 * "Indirect"). Returns the test, -1 for none, -2 for several. */
static int sibling_test(const struct labcat *c, const struct tok *a, int na, const struct tok *b,
                        int nb, enum labcat_specimen spec, int except)
{
    int ids[2 * MAX_TOKENS], n = 0, rare = -1;
    for (int i = 0; i < na + nb; i++) {
        const struct tok *w = i < na ? &a[i] : &b[i - na];
        int v = vocab_find(c, w->s);
        if (v < 0)
            return -1;
        ids[n] = v;
        if (rare < 0 || c->vcount[v] < c->vcount[ids[rare]])
            rare = n;
        n++;
    }
    if (n == 0)
        return -1;
    int found = -1;
    uint32_t v = (uint32_t)ids[rare];
    for (uint32_t k = 0; k < c->vcount[v]; k++) {
        const struct syn *sy = &c->syns[c->vsyn[c->vfirst[v] + k]];
        if ((int)sy->test == except || !compatible(c, sy, spec))
            continue;
        int all = 1;
        for (int i = 0; i < n && all; i++) {
            int in = 0;
            for (uint32_t j = 0; j < sy->ntok && !in; j++)
                in = c->syn_toks[sy->tok0 + j] == (uint32_t)ids[i];
            all = in;
        }
        if (!all)
            continue;
        if (found >= 0 && found != (int)sy->test)
            return -2;
        found = (int)sy->test;
    }
    return found;
}

/* Step 3a: every part of the name names the same test ("SGPT (ALT)",
 * "Total Leucocyte Count (TLC)"): cover the words with the longest runs
 * that are synonyms; all runs must resolve to one test. */
static int alias_list(struct ctx *x, const struct tok *t, int n)
{
    int test = -1, runs = 0, full = 0;
    for (int i = 0; i < n;) {
        int found = -1, flen = 0;
        for (int j = n; j > i; j--) {
            if (t[j - 1].group != t[i].group)
                continue;
            int same = 1;
            for (int k = i; k < j; k++)
                same &= t[k].group == t[i].group;
            if (!same)
                continue;
            char key[KEY_MAX];
            struct hit h;
            join_tokens(t + i, j - i, " ", key, sizeof key);
            if (lookup(x->c, key, K_JOINED | K_SORTED, x->spec, &h) < 0) {
                join_tokens(t + i, j - i, "", key, sizeof key);
                lookup(x->c, key, K_COMPACT | K_RAW, x->spec, &h);
            }
            if (h.test >= 0) {
                found = h.test;
                flen = j - i;
                break;
            }
        }
        if (found >= 0) {
            full++;
        } else {
            /* a word that belongs to one test only ("SGOT- Aspartate") */
            int syn;
            struct ctx y = *x;
            found = part_of_one(&y, t + i, 1, &syn);
            flen = 1;
        }
        if (found < 0 || (test >= 0 && found != test))
            return -1;
        test = found;
        runs++;
        i += flen;
    }
    return runs >= 2 && full >= 1 ? test : -1;
}

/* Step 3c: the words are a distinctive part of exactly one test's synonym
 * ("Glycated" of "glycated hemoglobin"). */
static int part_of_one(struct ctx *x, const struct tok *t, int n, int *syn_out)
{
    const struct labcat *c = x->c;
    /* words that are results, not tests: never a part that names a test */
    static const char *const VALUE_WORDS[] = {
        "abnormal", "absent", "borderline", "detected", "high", "low", "negative", "nil",
        "non", "normal", "positive", "present", "reactive", "trace",
        /* ... and generic words that say nothing about the analyte */
        "analysis", "card", "examination", "function", "index", "marker", "panel", "profile",
        "rapid", "report", "routine", "screen", "screening", "study", "titer", "titre"};
    if (n == 0 || n > 6)
        return -1;
    if (n == 1 && t[0].n < 5)
        return -1;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof VALUE_WORDS / sizeof VALUE_WORDS[0]; k++)
            if (strcmp(t[i].s, VALUE_WORDS[k]) == 0)
                return -1;
    int ids[MAX_TOKENS];
    int rare = -1;
    for (int i = 0; i < n; i++) {
        ids[i] = vocab_find(c, t[i].s);
        if (ids[i] < 0)
            return -1;
        if (rare < 0 || c->vcount[ids[i]] < c->vcount[ids[rare]])
            rare = i;
    }
    int test = -1, best_syn = -1;
    uint32_t v = (uint32_t)ids[rare];
    for (uint32_t k = 0; k < c->vcount[v]; k++) {
        const struct syn *s = &c->syns[c->vsyn[c->vfirst[v] + k]];
        if (s->ntok <= (unsigned)n || !compatible(c, s, x->spec))
            continue;
        int all = 1;
        for (int i = 0; i < n && all; i++) {
            int in = 0;
            for (uint32_t j = 0; j < s->ntok; j++)
                in |= c->syn_toks[s->tok0 + j] == (uint32_t)ids[i];
            all = in;
        }
        if (!all)
            continue;
        if (test >= 0 && (int)s->test != test)
            return -1; /* part of two tests: not distinctive */
        test = (int)s->test;
        /* the shortest such synonym explains it; it must be mostly these words */
        if (best_syn < 0 || s->ntok < c->syns[best_syn].ntok)
            best_syn = (int)c->vsyn[c->vfirst[v] + k];
    }
    if (best_syn >= 0 && c->syns[best_syn].ntok > 2 * (unsigned)n + 1)
        return -1;
    *syn_out = best_syn;
    return test;
}

/* Damerau-Levenshtein distance (optimal string alignment), capped. */
static int edit_distance(const char *a, int la, const char *b, int lb, int cap)
{
    int d[TOK_MAX + 1][TOK_MAX + 1];
    if (la >= TOK_MAX || lb >= TOK_MAX)
        return cap + 1;
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++) {
        int rowmin = cap + 1;
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < rowmin)
                rowmin = v;
        }
        if (rowmin > cap)
            return cap + 1;
    }
    return d[la][lb];
}

/* Step 4: correct words that are not in the vocabulary. Returns the number
 * of edits made (0: nothing corrected); note gets "a->b" pairs. */
static int correct_words(const struct labcat *c, struct tok *t, int n, char *note, size_t cap)
{
    int edits = 0;
    size_t o = 0;
    note[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (t[i].n < 4 || vocab_find(c, t[i].s) >= 0 || all_digits(t[i].s))
            continue;
        int maxd = t[i].n >= 8 ? 2 : 1;
        int best = -1, bestd = maxd + 1, ties = 0;
        /* Candidates: words sharing a deletion variant (<= maxd deletions
         * on each side) with this one; every word within distance maxd is
         * among them. Too many (a pathological input): scan everything. */
        uint32_t cand[512];
        size_t nc = 0;
        int overflow = 0, ql = t[i].n;
        const char *q = t[i].s;
        add_candidates(c, hash_skip(q, ql, -1, -1), cand, &nc, 512, &overflow);
        for (int x = 0; x < ql && !overflow; x++) {
            add_candidates(c, hash_skip(q, ql, x, -1), cand, &nc, 512, &overflow);
            for (int y = x + 1; maxd >= 2 && y < ql && !overflow; y++)
                add_candidates(c, hash_skip(q, ql, x, y), cand, &nc, 512, &overflow);
        }
        size_t nscan = overflow ? c->nvocab : nc;
        for (size_t k = 0; k < nscan; k++) {
            size_t v = overflow ? k : cand[k];
            int lv = (int)strlen(c->vocab[v]);
            if (lv < 4 || lv - t[i].n > maxd || t[i].n - lv > maxd)
                continue;
            int d = edit_distance(t[i].s, t[i].n, c->vocab[v], lv, maxd);
            if (d < bestd) {
                bestd = d;
                best = (int)v;
                ties = 0;
            } else if (d == bestd) {
                ties++;
            }
        }
        if (best < 0 || ties > 0 || bestd > maxd)
            continue;
        if (o < cap)
            o += (size_t)snprintf(note + o, cap - o, "%s'%s'->'%s'", o ? ", " : "", t[i].s,
                                  c->vocab[best]);
        snprintf(t[i].s, sizeof t[i].s, "%s", c->vocab[best]);
        t[i].n = (unsigned char)strlen(t[i].s);
        edits += bestd;
    }
    if (o >= cap && cap)
        note[cap - 1] = '\0';
    return edits;
}

static void fill(struct ctx *x, int test, enum labcat_kind kind, double score)
{
    const struct labcat_test *t = &x->c->tests[test];
    struct labcat_result *r = x->out;
    r->kind = kind;
    r->score = score;
    r->test = test;
    r->category = x->c->cats[t->category].name;
    r->canonical = t->name;
    r->code = t->code;
    r->loinc = t->nloinc ? t->loinc[0] : LABCAT_LOINC_UNKNOWN;
}

static size_t appendf(char *buf, size_t cap, size_t o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t appendf(char *buf, size_t cap, size_t o, const char *fmt, ...)
{
    if (o >= cap)
        return o;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + o, cap - o, fmt, ap);
    va_end(ap);
    return w < 0 ? o : o + (size_t)w >= cap ? cap - 1 : o + (size_t)w;
}

/* Steps 2 and 3 on a normalised name. Returns 1 when decided. */
static int match_tokens(struct ctx *x, const struct tok *t, int n, const char *prefix,
                        double scale, enum labcat_kind force_kind)
{
    const struct labcat *c = x->c;
    char *why = x->out->why;
    size_t o = strlen(why);
    char joined[KEY_MAX];
    join_tokens(t, n, " ", joined, sizeof joined);
    const char *how;
    int kind;
    int test = exact_steps(x, t, n, &how, &kind);
    if (test >= 0) {
        fill(x, test, force_kind ? force_kind : (enum labcat_kind)kind,
             (kind == LABCAT_EXACT ? 1.0 : 0.95) * scale);
        appendf(why, LABCAT_WHY_LEN, o, "%s'%s' %s %s", prefix, joined, how, c->tests[test].code);
        return 1;
    }
    /* 3a: alias lists */
    test = alias_list(x, t, n);
    if (test >= 0) {
        fill(x, test, force_kind ? force_kind : LABCAT_TOKEN, 0.95 * scale);
        appendf(why, LABCAT_WHY_LEN, o, "%severy part of '%s' names %s", prefix, joined,
                c->tests[test].code);
        return 1;
    }
    /* 3b: the name's parts (parenthesised, or after a comma) agree on one
     * test: the main part names it, or a part names it and the main part's
     * words are words of that test; every other part names it, names no
     * test, or only repeats words of it ("Absolute Eosinophil Count (EOS)",
     * "LDL Cholesterol, Direct", "Lipoprotein (LPA)") */
    int has_groups = 0;
    for (int i = 0; i < n; i++)
        has_groups |= t[i].group != 0;
    if (has_groups) {
        int named[MAX_GROUPS], ng[MAX_GROUPS], start[MAX_GROUPS];
        struct tok byg[MAX_TOKENS]; /* the tokens ordered by part */
        const struct tok *gt[MAX_GROUPS];
        for (int g = 0; g < MAX_GROUPS; g++)
            ng[g] = 0, named[g] = -1;
        for (int i = 0; i < n; i++)
            ng[t[i].group]++;
        for (int g = 0, o2 = 0; g < MAX_GROUPS; g++) {
            start[g] = o2;
            gt[g] = byg + o2;
            o2 += ng[g];
            ng[g] = 0;
        }
        for (int i = 0; i < n; i++)
            byg[start[t[i].group] + ng[t[i].group]++] = t[i];
        for (int g = 0; g < MAX_GROUPS; g++) {
            if (ng[g] == 0)
                continue;
            struct ctx y = *x;
            const char *h2;
            int k2;
            named[g] = exact_steps(&y, gt[g], ng[g], &h2, &k2);
            if (named[g] < 0)
                named[g] = alias_list(&y, gt[g], ng[g]);
        }
        /* candidates: the tests the parts name, then the tests a part turns
         * the main part into */
        int cands[2 * MAX_GROUPS], nc = 0;
        for (int g = 0; g < MAX_GROUPS; g++)
            if (ng[g] > 0 && named[g] >= 0)
                cands[nc++] = named[g];
        for (int g = 1; g < MAX_GROUPS && ng[0] > 0; g++)
            if (ng[g] > 0) {
                int sib = sibling_test(c, gt[0], ng[0], gt[g], ng[g], x->spec, -1);
                if (sib >= 0)
                    cands[nc++] = sib;
            }
        for (int ci = 0; ci < nc; ci++) {
            int T = cands[ci], cand = named[0] == T ? 0 : 1;
            int ok = ng[0] > 0 && (named[0] == T || words_in_test(c, gt[0], ng[0], T));
            for (int g = 1; g < MAX_GROUPS && ok; g++) {
                if (ng[g] == 0 || named[g] == T || words_in_test(c, gt[g], ng[g], T))
                    continue;
                /* a part that names another test, or that makes the main
                 * part another test ("Bilirubin, Indirect"), disagrees */
                if (named[g] >= 0 || sibling_test(c, gt[0], ng[0], gt[g], ng[g], x->spec, T) != -1)
                    ok = 0;
            }
            if (!ok)
                continue;
            char j0[KEY_MAX];
            join_tokens(gt[0], ng[0], " ", j0, sizeof j0);
            fill(x, T, force_kind ? force_kind : LABCAT_TOKEN, (cand == 0 ? 0.9 : 0.85) * scale);
            if (cand == 0)
                appendf(why, LABCAT_WHY_LEN, o, "%s'%s' names %s; the name's other parts agree",
                        prefix, j0, c->tests[T].code);
            else
                appendf(why, LABCAT_WHY_LEN, o,
                        "%sa part of the name names %s; '%s' and the other parts agree", prefix,
                        c->tests[T].code, j0);
            return 1;
        }
    }
    return 0;
}

static enum labcat_kind match_spec(const struct labcat *c, const char *name, size_t len,
                                   const char *context, int use_context,
                                   struct labcat_result *out);

enum labcat_kind labcat_match(const struct labcat *c, const char *name, size_t len,
                              const char *context, struct labcat_result *out)
{
    /* The report section only chooses between tests; when its specimen rules
     * out every test the name could be (an LLM put "SGPT" under "URINE"),
     * the name is matched on its own. */
    enum labcat_kind k = match_spec(c, name, len, context, 1, out);
    if (k == LABCAT_NONE && context && *context && out->specimen != LABCAT_SPEC_NONE &&
        strstr(out->why, "(from report section)")) {
        struct labcat_result alone;
        if (match_spec(c, name, len, NULL, 0, &alone) != LABCAT_NONE) {
            *out = alone;
            size_t l = strlen(out->why);
            appendf(out->why, LABCAT_WHY_LEN, l, "; the report section's specimen fits no such test");
        }
    }
    return out->kind;
}

/* Step 3d's reduction. Returns the number of words kept (out), and in
 * dropped a list of what went. */
static int reduce_words(const struct tok *t, int n, enum labcat_specimen spec, struct tok *out,
                        char *dropped, size_t cap)
{
    static const char *const KIT[] = {"card", "device", "dipstick", "kit", "rapid", "screen",
                                      "screening", "strip"};
    static const char *const TIMING[] = {"2hr", "am", "f", "fasting", "morning", "pm", "post",
                                         "pp", "prandial", "random"};
    int timed = spec == LABCAT_SPEC_URINE || spec == LABCAT_SPEC_URINE24 ||
                spec == LABCAT_SPEC_STOOL;
    int k = 0;
    size_t o = 0;
    dropped[0] = '\0';
    for (int i = 0; i < n; i++) {
        int drop = 0;
        for (int j = 0; j < i && !drop; j++)
            drop = strcmp(t[i].s, t[j].s) == 0;
        if (!drop && i == 0 && n > 1 && all_digits(t[i].s))
            drop = 1;
        if (!drop && strcmp(t[i].s, "percent") == 0)
            drop = 1;
        for (size_t j = 0; j < sizeof KIT / sizeof KIT[0] && !drop; j++)
            drop = strcmp(t[i].s, KIT[j]) == 0;
        for (size_t j = 0; timed && j < sizeof TIMING / sizeof TIMING[0] && !drop; j++)
            drop = strcmp(t[i].s, TIMING[j]) == 0;
        if (drop) {
            if (o < cap)
                o += (size_t)snprintf(dropped + o, cap - o, "%s'%s'", o ? ", " : "", t[i].s);
            continue;
        }
        out[k++] = t[i];
    }
    if (o >= cap && cap)
        dropped[cap - 1] = '\0';
    return k;
}

static enum labcat_kind match_spec(const struct labcat *c, const char *name, size_t len,
                                   const char *context, int use_context,
                                   struct labcat_result *out)
{
    memset(out, 0, sizeof *out);
    out->test = -1;
    out->kind = LABCAT_NONE;
    out->category = LABCAT_OTHERS;
    out->loinc = LABCAT_LOINC_UNKNOWN;
    char *why = out->why;
    size_t o = 0;
    if (len > LABCAT_MAX_NAME) {
        appendf(why, LABCAT_WHY_LEN, 0, "none: name longer than %d bytes is not matched",
                LABCAT_MAX_NAME);
        return LABCAT_NONE;
    }
    struct norm nm;
    memset(&nm, 0, sizeof nm);
    normalize(name, len, &nm);
    struct ctx x = {.c = c, .out = out, .spec = nm.spec};
    const char *spec_from = "name";
    if (x.spec == LABCAT_SPEC_NONE && use_context && context && *context) {
        struct norm cn;
        memset(&cn, 0, sizeof cn);
        size_t cl = strlen(context);
        normalize(context, cl > LABCAT_MAX_NAME ? LABCAT_MAX_NAME : cl, &cn);
        enum labcat_specimen cs = cn.spec;
        for (int i = 0; i < cn.n; i++) /* "blood" anywhere in a section title */
            if (cs == LABCAT_SPEC_NONE && strcmp(cn.t[i].s, "blood") == 0)
                cs = LABCAT_SPEC_BLOOD;
        if (cs != LABCAT_SPEC_NONE && !cn.restored) {
            x.spec = cs;
            spec_from = "report section";
        }
    }
    out->specimen = x.spec;
    char joined[KEY_MAX];
    join_tokens(nm.t, nm.n, " ", joined, sizeof joined);
    if (nm.n == 0) {
        appendf(why, LABCAT_WHY_LEN, 0, "none: the name has no words");
        return LABCAT_NONE;
    }
    char prefix[96];
    if (x.spec != LABCAT_SPEC_NONE)
        snprintf(prefix, sizeof prefix, "specimen %s (from %s); ", labcat_specimen_name(x.spec),
                 spec_from);
    else
        prefix[0] = '\0';
    o = appendf(why, LABCAT_WHY_LEN, o, "%s", "");
    (void)o;

    if (match_tokens(&x, nm.t, nm.n, prefix, 1.0, 0))
        goto done;
    /* 3c: a distinctive part of one test (not when the words are a whole
     * synonym of some test that the specimen or an ambiguity ruled out) */
    int syn = -1, test = -1;
    if (!key_find(c, joined))
        test = part_of_one(&x, nm.t, nm.n, &syn);
    if (test >= 0) {
        fill(&x, test, LABCAT_TOKEN, 0.8);
        appendf(why, LABCAT_WHY_LEN, 0, "%s'%s' is part of '%s' and of no other test: %s",
                prefix, joined, c->syns[syn].text, c->tests[test].code);
        goto done;
    }
    /* 3d: without words that do not change the test: a repeated word, a
     * list number ("19 Eosinophils %"), "percent", test-kit words ("rapid",
     * "card"), and on urine and stool, the collection time ("Fasting urine
     * sugar") */
    struct tok red[MAX_TOKENS];
    char dropped[120];
    int nred = reduce_words(nm.t, nm.n, x.spec, red, dropped, sizeof dropped);
    if (nred > 0 && nred < nm.n) {
        char p2[300];
        snprintf(p2, sizeof p2, "%signoring %s; ", prefix, dropped);
        why[0] = '\0';
        if (match_tokens(&x, red, nred, p2, 0.9, LABCAT_TOKEN))
            goto done;
        why[0] = '\0';
    }
    /* 4: spelling, on the name and then on its reduced form */
    for (int pass = 0; pass < 2; pass++) {
        const struct tok *src = pass == 0 ? nm.t : red;
        int ns = pass == 0 ? nm.n : nred;
        if (pass == 1 && !(nred > 0 && nred < nm.n))
            break;
        struct tok fixed[MAX_TOKENS];
        memcpy(fixed, src, sizeof fixed[0] * (size_t)ns);
        char note[160];
        int edits = correct_words(c, fixed, ns, note, sizeof note);
        if (edits > 0) {
            char p2[300];
            /* An explanation cut short is fine; the return value is taken so
             * the compiler knows truncation is expected. */
            int n = pass ? snprintf(p2, sizeof p2, "%signoring %s, corrected %s; ", prefix, dropped, note)
                         : snprintf(p2, sizeof p2, "%scorrected %s; ", prefix, note);
            (void)n;
            double score = 0.9 - 0.05 * (edits - 1) - 0.05 * pass;
            if (score < 0.7)
                score = 0.7;
            why[0] = '\0';
            if (match_tokens(&x, fixed, ns, p2, score / 0.95, LABCAT_FUZZY)) {
                if (out->score > score)
                    out->score = score;
                goto done;
            }
        }
    }
    why[0] = '\0';
    if (x.amb[0])
        appendf(why, LABCAT_WHY_LEN, 0, "none: %s'%s' is %s", prefix, joined, x.amb);
    else
        appendf(why, LABCAT_WHY_LEN, 0, "none: %s'%s' matches no catalog test", prefix, joined);
    return LABCAT_NONE;
done:
    if (nm.noise || nm.spec_words) {
        size_t l = strlen(why);
        if (nm.spec_words && nm.noise)
            appendf(why, LABCAT_WHY_LEN, l, " (set aside: %d specimen and %d method/filler word%s)",
                    nm.spec_words, nm.noise, nm.noise == 1 ? "" : "s");
        else if (nm.spec_words)
            appendf(why, LABCAT_WHY_LEN, l, " (set aside: %d specimen word%s)", nm.spec_words,
                    nm.spec_words == 1 ? "" : "s");
        else
            appendf(why, LABCAT_WHY_LEN, l, " (set aside: %d method/filler word%s)", nm.noise,
                    nm.noise == 1 ? "" : "s");
    }
    return out->kind;
}

void labcat_derive_code(const char *name, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    int cps = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < len && cps < 50;) {
        unsigned char ch = (unsigned char)name[i];
        size_t l = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
        if (i + l > len)
            l = len - i;
        if (ch == '(' || ch == ')') {
            i++;
            continue;
        }
        if (o + l >= cap)
            break;
        if (ch == ' ')
            out[o++] = '_';
        else if (ch >= 'a' && ch <= 'z')
            out[o++] = (char)(ch - 'a' + 'A');
        else
            for (size_t k = 0; k < l; k++)
                out[o++] = name[i + k];
        i += l;
        cps++;
    }
    out[o] = '\0';
}
