/*
 * labmap.h - reranking and acceptance of LOINC candidates for a lab test
 * name the catalog could not resolve. Pure computation: no I/O, no
 * allocation, no globals; the same inputs always give the same answer.
 *
 * Input: the name as the report wrote it, the specimen and unit the row
 * tells (either may be absent), and candidates from the embedding index
 * (ml/loinc.h fields) each with its cosine similarity to the name.
 *
 * Each candidate gets a combined score in [0, 1]:
 *
 *   score = w_cos * max(cos, 0) + w_lex * lex          (w_cos + w_lex = 1)
 *           + specimen   (+spec_bonus if the row's specimen agrees with the
 *                         term's SYSTEM, -spec_penalty if it disagrees,
 *                         0 when the row states none)
 *           + unit       (+unit_bonus if the row's unit fits the term's
 *                         PROPERTY or example unit, -unit_penalty if it is a
 *                         recognised unit of another kind, 0 otherwise)
 *   clamped to [0, 1] for the threshold and the stored score (ranking and
 *   the margin use the unclamped sum, so two candidates that both reach 1
 *   are still told apart by their evidence).
 *
 *   A SYSTEM of several specimens ("Urine+Ser/Plas") agrees when one does.
 *
 *   lex = 0.7 * (share of the name's words found in the term's long common
 *               name) + 0.3 * (share of the term's words found in the name,
 *               words only inside "[...]" weighing half); words are ASCII-lower-cased runs of
 *               letters and digits, without "in", "by", "or", "and", "of",
 *               "the", "on", "for", "from", "with", "at", "to", "per".
 *
 * The best candidate (ties: higher cosine, then the smaller code) is
 * accepted when its score >= min_score AND it leads the runner-up by at
 * least min_margin (waived when the name has exactly the best term's words
 * and the runner-up's words differ). Otherwise nothing is accepted: LOINC stays unknown and
 * the row is flagged for review. Ambiguity is never resolved by guessing.
 */
#ifndef MLW_ML_LABMAP_H
#define MLW_ML_LABMAP_H

#include <stddef.h>

#define LABMAP_WHY_LEN 400

/* Defaults (see docs/semantics.md "LOINC by embedding" for the calibration). */
#define LABMAP_DEFAULT_MIN_SCORE 0.85
#define LABMAP_DEFAULT_MIN_MARGIN 0.02

struct labmap_params {
    double min_score;     /* acceptance threshold on the combined score */
    double min_margin;    /* best - runner-up needed to accept */
    double w_cos, w_lex;  /* weights of cosine and lexical overlap */
    double spec_bonus, spec_penalty;
    double unit_bonus, unit_penalty;
};

/* One candidate: borrowed strings (never NULL; "" when unknown). */
struct labmap_candidate {
    const char *code;        /* LOINC_NUM */
    const char *name;        /* LONG_COMMON_NAME */
    const char *property;    /* MCnc, SCnc, ... */
    const char *system;      /* Ser/Plas, Urine, ... */
    const char *units;       /* example units */
    float cosine;            /* similarity of the name's embedding to the term's */
};

struct labmap_query {
    const char *name;        /* the test name (required) */
    const char *specimen;    /* "blood", "urine", "serum", ... or NULL */
    const char *unit;        /* the row's unit, or NULL */
};

/* A candidate's evidence. */
struct labmap_scored {
    size_t cand;             /* index into the candidates */
    double score;            /* combined, clamped to [0, 1] */
    double raw;              /* combined before clamping: ranking and margin use it */
    double lex;              /* lexical overlap, 0..1 */
    int exact;               /* the name has exactly the term's words */
    int specimen;            /* 1 agrees, -1 disagrees, 0 no evidence */
    int unit;                /* 1 fits, -1 does not, 0 no evidence */
};

struct labmap_result {
    int accepted;            /* 1: best is accepted */
    long best;               /* index into the candidates, -1 when there are none */
    double score;            /* the best combined score (0 when none) */
    double margin;           /* best - runner-up (the best score when alone) */
    char why[LABMAP_WHY_LEN];/* one line: decision and evidence */
};

/* Fill p with the defaults above (w_cos 0.5, w_lex 0.5, bonuses 0.05,
 * penalties 0.15). */
void labmap_params_default(struct labmap_params *p);

/* Lexical overlap of a name with a LOINC long common name (0..1). */
double labmap_lexical(const char *name, const char *loinc_name);

/*
** Score candidates c[0..n) for q, write them to ranked[0..n) best first
** (ranked needs n slots; may be NULL when only the result is wanted and
** n <= 256), and decide. Always fills *res; returns res->accepted.
*/
int labmap_rank(const struct labmap_query *q, const struct labmap_candidate *c, size_t n,
                const struct labmap_params *p,
                struct labmap_scored *ranked,     /* OUT: [n], may be NULL (n <= 256) */
                struct labmap_result *res);       /* OUT */

/* Map a catalog specimen name (labcat_specimen_name: blood, urine,
 * urine-24h, stool, csf, sputum, swab, unstated) to the words
 * loinc_specimen_match() reads; NULL when it says nothing usable. */
const char *labmap_specimen_words(const char *labcat_specimen);

/* The words labmap compares: the distinct ASCII-lower-cased runs of letters,
 * digits and non-ASCII bytes of s, stop words ("of", "in", ...) left out, at
 * most max, each cut to LABMAP_WORD_MAX - 1 bytes; skip_brackets: leave out
 * text inside [...]. Returns how many it wrote to w. (The ML engine indexes
 * LOINC names by the same words.) */
#define LABMAP_MAX_WORDS 48
#define LABMAP_WORD_MAX 40
int labmap_words(const char *s, int skip_brackets, char (*w)[LABMAP_WORD_MAX], int max);

#endif
