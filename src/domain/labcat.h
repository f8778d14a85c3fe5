/*
 * labcat.h - the lab catalog and the deterministic lab test name matcher.
 *
 * The catalog (data/lab_catalog.txt, embedded in the binary at build time)
 * lists categories and tests: canonical name, category, specimen, usual
 * unit, LOINC code(s) and the synonyms found on real reports. labcat_load()
 * parses that text into lookup tables; labcat_match() maps a raw test name
 * (as an LLM extracted it from a report) to one catalog test, or to none.
 *
 * Matching, in this order; every step records why it decided:
 *
 *   1. normalise: accents folded, case folded, punctuation to spaces,
 *      runs of single letters joined ("S.G.P.T." -> "sgpt"), British
 *      spellings ("haemoglobin" -> "hemoglobin"), plurals, in-phrase
 *      abbreviations ("Tot. Chol" -> "total cholesterol"), noise and
 *      method words ("test", "level", "by Jaffe") dropped, and the
 *      specimen ("Serum", "S.", "Urine", "Whole blood", "24 hr") taken out
 *      of the name and kept aside; parenthesised parts are remembered;
 *   2. exact: the normalised name is a synonym of one test (spacing and
 *      word order also ignored: "Glucose Fasting" = "Fasting Glucose");
 *   3. token rules: a name listing one test several ways ("SGPT (ALT)",
 *      "ESR (Erythrocyte Sedimentation Rate)") where every part names the
 *      same test; the name without its parenthesised qualifiers; a name
 *      that is a distinctive part of exactly one test's synonym;
 *   4. character similarity: words not in the catalog's vocabulary that
 *      are one edit (two for long words) from exactly one catalog word are
 *      corrected ("Hemoglobn", "Trigylcerides"), then steps 2-3 again;
 *   5. otherwise nothing: the caller files the name under "Others" with
 *      LOINC "UNKNOWN". Ambiguity is never resolved by guessing.
 *
 * Specimen matters: a test is only matched with a compatible specimen, so
 * "Urine Glucose" and "Glucose" (blood) are different tests, and a name
 * without a specimen takes the test that is marked as what the bare name
 * means (blood glucose). The optional context (the report section the LLM
 * saw, e.g. "URINE ROUTINE") supplies a specimen when the name has none.
 *
 * Pure: no I/O, no globals; labcat_match() allocates nothing and is safe to
 * call from several threads on one loaded catalog.
 */
#ifndef MLW_LABCAT_H
#define MLW_LABCAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Longest name (bytes) the matcher looks at; longer names match nothing. */
#define LABCAT_MAX_NAME 300
#define LABCAT_WHY_LEN 320
#define LABCAT_MAX_LOINC 4
/* The LOINC sentinel the original stores when a test has no code. */
#define LABCAT_LOINC_UNKNOWN "UNKNOWN"
/* The category of names that match nothing. */
#define LABCAT_OTHERS "Others"

enum labcat_specimen {
    LABCAT_SPEC_NONE = 0, /* not stated */
    LABCAT_SPEC_BLOOD,    /* blood, serum, plasma, whole blood */
    LABCAT_SPEC_URINE,    /* spot / random urine */
    LABCAT_SPEC_URINE24,  /* timed (24 hour) urine */
    LABCAT_SPEC_STOOL,
    LABCAT_SPEC_CSF,
    LABCAT_SPEC_SPUTUM,
    LABCAT_SPEC_SWAB,     /* throat, nasal, wound swabs and pus */
    LABCAT_SPEC_COUNT
};

enum labcat_kind {
    LABCAT_NONE = 0,  /* nothing matched: Others / UNKNOWN */
    LABCAT_EXACT,     /* the normalised name is a synonym */
    LABCAT_TOKEN,     /* token rules (word order, alias lists, qualifiers, parts) */
    LABCAT_FUZZY      /* after correcting misspelt words */
};

/* Verification state of a catalog LOINC code (see the catalog header). */
enum labcat_check {
    LABCAT_CHECK_UNCHECKED = 0, /* not checkable against the data at hand */
    LABCAT_CHECK_SAMPLE,        /* found in loinc-sample.csv (LOINC 2.79+) */
    LABCAT_CHECK_XREF           /* code and long name seen in an independent public mapping */
};

struct labcat_category {
    const char *name;   /* exact category string, e.g. "Liver Function Tests (LFT)" */
    const char *key;    /* short key used in the catalog file, e.g. "LFT" */
    int original;       /* 1: one of the original worker's 13 categories */
};

struct labcat_test {
    const char *code;       /* stable test code, e.g. "ALT"; the aggregates' test identity */
    const char *name;       /* canonical name (the original seed spelling where one exists) */
    int category;           /* index into the categories */
    enum labcat_specimen specimen;
    const char *unit;       /* usual unit; "" when none */
    const char *loinc[LABCAT_MAX_LOINC]; /* [0] is the code written to rows */
    enum labcat_check check[LABCAT_MAX_LOINC];
    int nloinc;
    int bare;               /* the bare analyte name (no specimen) means this test */
    int explicit_specimen;  /* matches only when the name states its specimen */
    const char *const *seeds; /* original seed names mapped to this test */
    int nseeds;
};

struct labcat_result {
    enum labcat_kind kind;
    double score;           /* 1.0 exact .. 0.7; 0 when nothing matched */
    int test;               /* index into the tests, -1 when nothing matched */
    const char *category;   /* category string ("Others" when nothing matched) */
    const char *canonical;  /* canonical name, NULL when nothing matched */
    const char *code;       /* test code, NULL when nothing matched */
    const char *loinc;      /* primary LOINC code or "UNKNOWN" */
    enum labcat_specimen specimen; /* the specimen read from the name / context */
    char why[LABCAT_WHY_LEN];      /* one line: the decision and its reason */
};

struct labcat;

/* Parse catalog text (not necessarily NUL-terminated). On a syntax or
 * consistency error (unknown category, duplicate code, a synonym naming two
 * tests for the same specimen, ...) returns MLW_EFORMAT with "line N: ..." in
 * err. MLW_ENOMEM on allocation failure. */
int labcat_load(const char *text, size_t len, struct labcat **out, struct mlw_err *err);
void labcat_free(struct labcat *c);

/* A 64-bit fingerprint of the catalog text and of the matcher's rules
 * (LABCAT_RULES_VERSION): stored mappings made with another fingerprint are
 * re-categorized. */
#define LABCAT_RULES_VERSION 1
uint64_t labcat_fingerprint(const struct labcat *c);

size_t labcat_ncategories(const struct labcat *c);
const struct labcat_category *labcat_category_at(const struct labcat *c, size_t i);
size_t labcat_ntests(const struct labcat *c);
const struct labcat_test *labcat_test_at(const struct labcat *c, size_t i);
/* Index of the category with this exact name, or -1. */
int labcat_category_find(const struct labcat *c, const char *name);

/* Match one raw test name (len bytes, any bytes; invalid UTF-8 is treated as
 * separators). context (may be NULL) is the report section the name came
 * from; it is only used to learn a specimen the name does not state.
 * Always fills *out; returns out->kind. */
enum labcat_kind labcat_match(const struct labcat *c, const char *name, size_t len,
                              const char *context, struct labcat_result *out);

/* The normalised form of a name, as step 1 computes it: the analyte words
 * joined by single spaces, and the specimen. For tests and the CLI. */
void labcat_normalize(const char *name, size_t len, char *out, size_t cap,
                      enum labcat_specimen *specimen);

const char *labcat_kind_name(enum labcat_kind k);         /* "exact", "token", ... */
const char *labcat_specimen_name(enum labcat_specimen s); /* "blood", "urine", ... */

/* The original worker's derived test code for a name without a mapping:
 * uppercase, spaces to '_', '(' and ')' removed, first 50 characters
 * (ASCII case mapping; other bytes are kept). out needs 51*4 bytes. */
void labcat_derive_code(const char *name, size_t len, char *out, size_t cap);

#endif
