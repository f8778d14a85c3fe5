/*
 * loinc.h - the LOINC table as embedding-search material: reading the
 * official CSV, choosing the terms to index, the text each is embedded from,
 * and candidate search with specimen and unit filters over an index built
 * from them (index.h). Pure computation: callers do the file I/O.
 *
 * Input: LoincTable/Loinc.csv of the LOINC distribution (or
 * LoincTableCore.csv): RFC 4180 CSV, a header row naming the columns (any
 * order; quoted or not), fields quoted with "" escapes, CRLF or LF, quoted
 * newlines allowed, optional UTF-8 BOM. Columns used: LOINC_NUM, COMPONENT,
 * SYSTEM, LONG_COMMON_NAME (required); PROPERTY, TIME_ASPCT, SCALE_TYP,
 * METHOD_TYP, CLASS, CLASSTYPE, STATUS, SHORTNAME, RELATEDNAMES2,
 * EXAMPLE_UCUM_UNITS, EXAMPLE_UNITS (optional).
 *
 * Default selection ("lab-relevant, non-deprecated"): CLASSTYPE 1
 * (laboratory) and STATUS ACTIVE or TRIAL. A table without a CLASSTYPE
 * column keeps every class; without STATUS every row counts as ACTIVE.
 *
 * Text embedded for a term (LOINC_TEXT_VERSION 1):
 *   "<long common name>; <component>; <system>; <related names>"
 * (empty parts left out; related names as LOINC writes them, "; "-separated;
 * the tokenizer truncates the end of long texts).
 */
#ifndef MLW_ML_LOINC_H
#define MLW_ML_LOINC_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "ml/index.h"

#define LOINC_TEXT_VERSION 1

enum loinc_status {
    LOINC_STATUS_ACTIVE = 1u << 0,
    LOINC_STATUS_TRIAL = 1u << 1,
    LOINC_STATUS_DISCOURAGED = 1u << 2,
    LOINC_STATUS_DEPRECATED = 1u << 3,
    LOINC_STATUS_OTHER = 1u << 4        /* any other value */
};
#define LOINC_STATUS_DEFAULT (LOINC_STATUS_ACTIVE | LOINC_STATUS_TRIAL)

/* One term; every string is non-NULL ("" when the column is empty/absent). */
struct loinc_term {
    const char *code;        /* LOINC_NUM, e.g. "4548-4" */
    const char *component;
    const char *property;    /* MCnc, SCnc, MFr, ... */
    const char *time;        /* TIME_ASPCT: Pt, 24H, ... */
    const char *system;      /* specimen: Bld, Ser/Plas, Urine, ... */
    const char *scale;       /* Qn, Ord, Nom, ... */
    const char *method;
    const char *klass;       /* CLASS: CHEM, HEM/BC, MICRO, ... */
    const char *status;
    const char *long_name;   /* LONG_COMMON_NAME */
    const char *short_name;
    const char *related;     /* RELATEDNAMES2 */
    const char *units;       /* EXAMPLE_UCUM_UNITS, else EXAMPLE_UNITS */
};

struct loinc_filter {
    int all_classes;         /* 1: keep every CLASSTYPE, not only 1 (laboratory) */
    unsigned statuses;       /* LOINC_STATUS_* bits to keep; 0 = LOINC_STATUS_DEFAULT */
    size_t limit;            /* keep at most this many terms (0 = all) */
};

struct loinc_table {
    struct loinc_term *terms;
    size_t count;
    size_t rows;             /* data rows read */
    size_t skipped_class;    /* rows left out by CLASSTYPE */
    size_t skipped_status;   /* rows left out by STATUS */
    struct arena arena;      /* the strings */
};

/*
** Parse a whole LOINC CSV image and select terms. label names the input in
** messages. Returns MLW_OK and fills *t (release with loinc_table_free());
** MLW_EFORMAT (missing column, unterminated quote, row with the wrong number
** of fields: the message gives the line), MLW_ENOMEM. On failure *t is empty.
*/
int loinc_table_parse(const char *csv, size_t len, const char *label,
                      const struct loinc_filter *f,   /* NULL = defaults */
                      struct loinc_table *t,          /* OUT */
                      struct mlw_err *err);

void loinc_table_free(struct loinc_table *t);

/* Parse "ACTIVE,TRIAL,..." (any case) into LOINC_STATUS_* bits; -1 if a word is unknown. */
int loinc_status_parse(const char *list, unsigned *out);

/*
** The text embedded for t, NUL-terminated, in buf (cap bytes). Returns its
** length; a text that does not fit is cut at cap - 1 bytes on a UTF-8
** character boundary.
*/
size_t loinc_term_text(const struct loinc_term *t, char *buf, size_t cap);

/* What the vectors of an index over t depend on besides the model: the
 * selected codes in order and LOINC_TEXT_VERSION (FNV-1a 64). */
uint64_t loinc_table_key(const struct loinc_table *t);

/* Index metadata fields written for each term, in this order. */
#define LOINC_N_FIELDS 11
extern const char *const loinc_field_names[LOINC_N_FIELDS];
/* The LOINC_N_FIELDS strings of term t, in loinc_field_names order. */
void loinc_term_fields(const struct loinc_term *t, const char **out);

/*
** Does a LOINC SYSTEM value (e.g. "Ser/Plas", "Urine sed", "Bld") match the
** specimen a user wrote ("serum", "urine", "blood", "csf", "Ser/Plas", ...)?
** Case-insensitive; common words map to LOINC abbreviations.
*/
int loinc_specimen_match(const char *system, const char *specimen);

/*
** Is a reported unit compatible with a term's PROPERTY (e.g. mg/dL with
** MCnc, mmol/L with SCnc, % with MFr/NFr/VFr, U/L with CCnc) or equal to its
** example unit? *known is set to 0 when the unit's kind is not recognised
** (then the answer is 1: no evidence against).
*/
int loinc_unit_match(const char *property, const char *example_units, const char *unit,
                     int *known);

struct loinc_query {
    const char *specimen;    /* NULL = any */
    const char *unit;        /* NULL = any */
    size_t k;                /* candidates wanted */
};

struct loinc_hit {
    size_t row;              /* vector / metadata row in the index */
    float score;             /* cosine similarity */
};

/*
** Exact search: score every vector of idx against qvec (unit length), drop
** rows whose system or property disagree with q->specimen / q->unit, and
** return the q->k best in hits (best first). *unit_known is 0 when q->unit
** was given but not recognised (no unit filter applied then). idx must carry
** the LOINC fields (loinc_field_names). Returns MLW_OK, MLW_EFORMAT (fields
** missing), MLW_ENOMEM.
*/
int loinc_search(const struct index *idx, const float *qvec, const struct loinc_query *q,
                 struct loinc_hit *hits,     /* OUT: [q->k] */
                 size_t *n_hits,             /* OUT */
                 int *unit_known,            /* OUT: may be NULL */
                 struct mlw_err *err);

/*
** CLI: `loinc build ...` and `loinc search ...` (argv[0] = "loinc"); see
** loinc_cmd.c. Returns the process exit status (0, 1 runtime, 2 usage).
*/
int cmd_loinc(int argc, char **argv);

#endif
