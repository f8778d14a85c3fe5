/*
 * calibrate.h - pure computation behind `mlworker loinc calibrate`: read a
 * labelled list of lab names, and from the engine's per-name decisions
 * compute precision / recall / coverage for every acceptance threshold and
 * pick the lowest threshold that meets a target precision. No I/O, no
 * globals (calib_parse allocates its result).
 *
 * A decision (one labelled name, run through the pipeline's engine with the
 * threshold at 0) is: the top-ranked candidate, its combined score, whether
 * it passed the margin rule (the only other acceptance condition), and
 * whether it is the expected code. At threshold t the pipeline accepts
 * exactly the decisions with passes_margin && score >= t, so:
 *
 *   accepted(t)  = #{ passes_margin, score >= t }
 *   correct(t)   = #{ accepted, expected code non-empty, top == expected }
 *   wrong(t)     = accepted(t) - correct(t)   (an accept where no code was
 *                  expected is wrong)
 *   precision(t) = correct / accepted          (undefined when accepted = 0)
 *   recall(t)    = correct / #{ expected code non-empty }
 *   coverage(t)  = accepted / #names
 */
#ifndef MLW_ML_CALIBRATE_H
#define MLW_ML_CALIBRATE_H

#include <stddef.h>

#include "core/err.h"

#define CALIB_CODE_MAX 24
#define CALIB_SPEC_MAX 16

/* One labelled line: name,loinc_code[,specimen[,unit]] (strings owned by
 * the calib_labels block). */
struct calib_label {
    size_t line;             /* 1-based line in the file */
    const char *name;        /* trimmed, inner whitespace collapsed; never empty */
    const char *expected;    /* expected LOINC code, "" = no code should be accepted */
    const char *specimen;    /* blood, urine, urine-24h, stool, csf, sputum, swab, or NULL */
    const char *unit;        /* or NULL */
};

struct calib_labels {
    struct calib_label *items;
    size_t n;
    char *store;             /* the strings */
};

/*
** Parse a labelled list. Delimiter: a tab if the first data line holds one,
** else a comma (CSV quoting with "" escapes). Blank lines and lines starting
** with '#' are skipped; a first line whose first two fields are "name" and
** "loinc_code" (or "loinc"/"code") is a header. Errors (MLW_EFORMAT) name
** "path:line": fewer than 2 or more than 4 fields, an empty name, an
** unterminated quote, a code that is not digits-digit, an unknown specimen.
** An empty list is MLW_EFORMAT too.
*/
int calib_parse(const char *buf, size_t len, const char *path, struct calib_labels *out,
                struct mlw_err *err);
void calib_labels_free(struct calib_labels *l);

struct calib_item {
    double score;            /* the top candidate's combined score (0: none) */
    int passes_margin;       /* 1: accepted at threshold 0 */
    int labelled;            /* 1: an expected code was given */
    int correct;             /* 1: top candidate == expected code */
};

struct calib_row {
    double threshold;
    size_t accepted, correct, wrong;
    double precision;        /* -1 when accepted == 0 */
    double recall, coverage;
};

struct calib_totals {
    size_t names, labelled, passes_margin;
};

void calib_totals(const struct calib_item *it, size_t n, struct calib_totals *t);

/* The row at threshold t. */
void calib_at(const struct calib_item *it, size_t n, double t, struct calib_row *row);

/*
** One row per distinct score of a decision that passes the margin rule
** (each such score is a threshold where the outcome changes), ascending.
** rows needs n slots. Sorts it[] by score, descending. Returns the count.
*/
size_t calib_curve(struct calib_item *it, size_t n, struct calib_row *rows);

/* Index of the lowest-threshold row whose precision >= target (rows with
 * accepts only), or -1 when none reaches it. rows ascending. */
long calib_pick(const struct calib_row *rows, size_t nrows, double target);

/*
** Write threshold t as a short decimal v with below < v <= t (so setting
** ML_WORKER_LOINC_MIN_SCORE=v accepts exactly the scores >= t); below is
** the next lower score (or -1). Uses the fewest decimals that work.
*/
void calib_format_threshold(double t, double below, char *buf, size_t cap);

#endif
