/*
 * labs.h - pure lab aggregation (reference data-model §4.5, with the fixes
 * listed in docs/compatibility.md; formulas in docs/semantics.md "Labs").
 *
 *   categorized rows of one (user, date)  --labs_daily-->   daily rows
 *   daily rows of one month               --labs_rollup-->  monthly rows
 *   monthly rows of one quarter           --labs_rollup-->  quarterly rows
 *   daily rows of one year                --labs_rollup-->  yearly rows
 *
 * A group is one test: (category, LOINC code, test code). Values are text
 * (a lab value may be "5.4", "Negative" or "<5"): a group's avg/min/max are
 * numbers written as text when every value is a plain number, otherwise
 * the distinct strings. Every choice the original left to set order is
 * deterministic here (first appearance, latest row). No I/O; all output
 * memory comes from the arena.
 */
#ifndef MLW_LABS_H
#define MLW_LABS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/timeutil.h"

/* avg/min/max text columns hold at most this many characters. */
#define LABS_TEXT_MAX 100
/* Text of a number as Python's repr() writes it ("5.0", "0.1", "1e-05"). */
#define LABS_NUM_LEN 32

/* A plain number: optional sign, digits with an optional fraction and
 * exponent, surrounding whitespace allowed, digit groups separated by commas
 * allowed ("1,50,000"); the result must be finite. "<5", "1+", "5 mg/dL",
 * "NaN", "inf", "1e309" are not numbers. Returns 1 and *out, or 0. */
int labs_parse_number(const char *s, double *out);

/* A reference range: "a - b", "a to b", "a–b" (a <= b, either may be
 * negative: "-3 - 5", ">= -3 to 5"), "< b" / "<= b" / "up to b" /
 * "less than b" / "below b" (no minimum), "> a" / ">= a" / "more than a" /
 * "greater than a" / "above a" (no maximum); text after the numbers (units)
 * is ignored. Returns 1 when something parsed; has_lo/has_hi say which. */
int labs_parse_range(const char *s, double *lo, int *has_lo, double *hi, int *has_hi);

/* Python repr() of a finite double. */
void labs_format_number(double v, char out[LABS_NUM_LEN]);

enum labs_flag { LABS_FLAG_UNKNOWN = 0, LABS_FLAG_GREEN, LABS_FLAG_AMBER, LABS_FLAG_RED };
/* The flag of an extracted test_status ("Normal" green; "High", "Low",
 * "Abnormal", "Borderline" amber; "Critical" red; the original's literal
 * green/amber/red too). */
enum labs_flag labs_status_flag(const char *status);
const char *labs_flag_name(enum labs_flag f); /* "green", "amber", "red" */

/* One lab_report_categorized row. */
struct lab_row {
    int64_t id;              /* = lab_reports.id */
    const char *category;    /* inferred_test_category */
    const char *loinc;       /* never NULL ("UNKNOWN") */
    const char *code;        /* test code: the test identity */
    const char *name;        /* standardized test name */
    const char *value;       /* test_value (non-empty) */
    const char *unit;        /* may be NULL */
    const char *range;       /* reference_range, may be NULL */
    const char *status;      /* test_status, may be NULL */
};

/* One aggregate row (daily, monthly, quarterly or yearly). */
struct lab_agg {
    const char *category, *loinc, *code, *name;
    const char *avg, *min, *max; /* text */
    int64_t count;
    const char *unit;        /* NULL when no row had one */
    int has_rmin, has_rmax;
    double rmin, rmax;       /* normal_range_min / normal_range_max */
    enum labs_flag status;   /* written as green / amber / red */
    int32_t order;           /* the period's first day (input ordering for rollups) */
};

/* Daily rows of one (user, date) from its categorized rows (any order).
 * *out is sorted by (category, loinc, code). Returns 0, or -1 on OOM. */
int labs_daily(const struct lab_row *rows, size_t n, struct arena *a, struct lab_agg **out,
               size_t *nout);

/* Rows of a longer period from the rows of the level below (any order;
 * their `order` says which came first). Output `order` is set to period. */
int labs_rollup(const struct lab_agg *in, size_t n, int32_t period, struct arena *a,
                struct lab_agg **out, size_t *nout);

#endif
