/*
 * labmap.c - LOINC candidate reranking and acceptance; see labmap.h.
 */
#include "ml/labmap.h"

#include <stdio.h>
#include <string.h>

#include "ml/loinc.h"

#define LM_MAX_WORDS LABMAP_MAX_WORDS
#define LM_WORD_MAX LABMAP_WORD_MAX

struct lm_words {
    char w[LM_MAX_WORDS][LM_WORD_MAX];
    int n;
};

static const char *const lm_stop[] = {"in", "by", "or", "and", "of", "the", "on", "for",
                                      "from", "with", "at", "to", "per"};

static int lm_is_stop(const char *w)
{
    for (size_t i = 0; i < sizeof lm_stop / sizeof lm_stop[0]; i++)
        if (strcmp(w, lm_stop[i]) == 0)
            return 1;
    return 0;
}

static int lm_word_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch >= 0x80;
}

int labmap_words(const char *s, int skip_brackets, char (*out)[LABMAP_WORD_MAX], int max)
{
    int n = 0;
    int depth = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p == '[') {
            depth++;
            p++;
            continue;
        }
        if (*p == ']') {
            if (depth > 0)
                depth--;
            p++;
            continue;
        }
        if (!lm_word_char(*p)) {
            p++;
            continue;
        }
        char w[LM_WORD_MAX];
        size_t k = 0;
        while (*p && lm_word_char(*p)) {
            if (k + 1 < sizeof w)
                w[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
            p++;
        }
        w[k] = '\0';
        if ((skip_brackets && depth > 0) || lm_is_stop(w) || n == max)
            continue;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(out[i], w) == 0;
        if (!dup)
            memcpy(out[n++], w, k + 1);
    }
    return n;
}

/* Distinct words of s; skip_brackets: leave out text inside [...]. */
static void lm_split(const char *s, int skip_brackets, struct lm_words *out)
{
    out->n = labmap_words(s, skip_brackets, out->w, LM_MAX_WORDS);
}

static int lm_has(const struct lm_words *s, const char *w)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->w[i], w) == 0)
            return 1;
    return 0;
}

/* Lexical overlap and whether the two word sets are equal. */
static double lm_lexical(const char *name, const char *loinc_name, int *same)
{
    struct lm_words q, all, main;
    lm_split(name, 0, &q);
    lm_split(loinc_name, 0, &all);
    lm_split(loinc_name, 1, &main);
    *same = 0;
    if (q.n == 0 || all.n == 0)
        return 0.0;
    int hit = 0;
    for (int i = 0; i < q.n; i++)
        hit += lm_has(&all, q.w[i]);
    double qcov = (double)hit / q.n;
    /* the term's words found in the name; words only inside [...] (the
     * property: Mass/volume, Moles/volume) weigh half */
    double got = 0.0, total = 0.0;
    int all_hit = 0;
    for (int i = 0; i < all.n; i++) {
        double wt = lm_has(&main, all.w[i]) ? 1.0 : 0.5;
        int h = lm_has(&q, all.w[i]);
        total += wt;
        got += h ? wt : 0.0;
        all_hit += h;
    }
    *same = hit == q.n && all_hit == all.n;
    return 0.7 * qcov + 0.3 * (got / total);
}

double labmap_lexical(const char *name, const char *loinc_name)
{
    int same;
    return lm_lexical(name, loinc_name, &same);
}

void labmap_params_default(struct labmap_params *p)
{
    p->min_score = LABMAP_DEFAULT_MIN_SCORE;
    p->min_margin = LABMAP_DEFAULT_MIN_MARGIN;
    p->w_cos = 0.5;
    p->w_lex = 0.5;
    p->spec_bonus = 0.05;
    p->spec_penalty = 0.15;
    p->unit_bonus = 0.05;
    p->unit_penalty = 0.15;
}

const char *labmap_specimen_words(const char *s)
{
    if (s == NULL)
        return NULL;
    if (strcmp(s, "blood") == 0)
        return "blood/serum/plasma";
    if (strcmp(s, "urine") == 0 || strcmp(s, "urine-24h") == 0)
        return "urine";
    if (strcmp(s, "stool") == 0 || strcmp(s, "csf") == 0 || strcmp(s, "sputum") == 0)
        return s;
    return NULL; /* unstated, swab (too many LOINC systems), unknown */
}

/* loinc_specimen_match() for each '+'-separated part of a SYSTEM. */
static int lm_specimen_agrees(const char *system, const char *specimen)
{
    char part[128];
    const char *p = system;
    for (;;) {
        const char *e = strchr(p, '+');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= sizeof part)
            n = sizeof part - 1;
        memcpy(part, p, n);
        part[n] = '\0';
        if (loinc_specimen_match(part, specimen))
            return 1;
        if (e == NULL)
            return 0;
        p = e + 1;
    }
}

static void lm_score(const struct labmap_query *q, const struct labmap_candidate *c,
                     const struct labmap_params *p, size_t i, struct labmap_scored *s)
{
    s->cand = i;
    s->lex = lm_lexical(q->name, c->name, &s->exact);
    s->specimen = 0;
    s->unit = 0;
    double cos = c->cosine > 0.0f ? (double)c->cosine : 0.0;
    if (cos > 1.0)
        cos = 1.0;
    double v = p->w_cos * cos + p->w_lex * s->lex;
    /* "XXX" (specimen to be specified elsewhere) says nothing either way */
    if (q->specimen && q->specimen[0] && c->system[0] && strcmp(c->system, "XXX") != 0) {
        s->specimen = lm_specimen_agrees(c->system, q->specimen) ? 1 : -1;
        v += s->specimen > 0 ? p->spec_bonus : -p->spec_penalty;
    }
    if (q->unit && q->unit[0]) {
        int known = 1;
        int fits = loinc_unit_match(c->property, c->units, q->unit, &known);
        if (known) {
            s->unit = fits ? 1 : -1;
            v += fits ? p->unit_bonus : -p->unit_penalty;
        }
    }
    s->raw = v;
    s->score = v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

/* Is a ranked before b? */
static int lm_before(const struct labmap_scored *a, const struct labmap_scored *b,
                     const struct labmap_candidate *c)
{
    if (a->raw != b->raw)
        return a->raw > b->raw;
    if (c[a->cand].cosine != c[b->cand].cosine)
        return c[a->cand].cosine > c[b->cand].cosine;
    int k = strcmp(c[a->cand].code, c[b->cand].code);
    return k != 0 ? k < 0 : a->cand < b->cand;
}

static const char *lm_ev(int v, const char *yes, const char *no)
{
    return v > 0 ? yes : v < 0 ? no : "";
}

int labmap_rank(const struct labmap_query *q, const struct labmap_candidate *c, size_t n,
                const struct labmap_params *p, struct labmap_scored *ranked,
                struct labmap_result *res)
{
    struct labmap_scored local[256];
    memset(res, 0, sizeof *res);
    res->best = -1;
    if (ranked == NULL) {
        if (n > 256)
            n = 256;
        ranked = local;
    }
    if (n == 0) {
        snprintf(res->why, sizeof res->why, "embedding: no LOINC candidates");
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        lm_score(q, &c[i], p, i, &ranked[i]);
    /* insertion sort: n is small (tens) and the order must be total */
    for (size_t i = 1; i < n; i++) {
        struct labmap_scored x = ranked[i];
        size_t j = i;
        while (j > 0 && lm_before(&x, &ranked[j - 1], c)) {
            ranked[j] = ranked[j - 1];
            j--;
        }
        ranked[j] = x;
    }
    const struct labmap_scored *b = &ranked[0];
    const struct labmap_candidate *bc = &c[b->cand];
    res->best = (long)b->cand;
    res->score = b->score;
    res->margin = n > 1 ? b->raw - ranked[1].raw : b->score;
    int ok_score = b->score >= p->min_score;
    /* the name is the term's long common name, word for word, and the
     * runner-up's is not: no closer call is possible */
    int exact = b->exact && (n == 1 || !ranked[1].exact);
    int ok_margin = res->margin >= p->min_margin || exact;
    res->accepted = ok_score && ok_margin;
    char runner[120] = "";
    if (n > 1)
        snprintf(runner, sizeof runner, ", runner-up %s %.3f", c[ranked[1].cand].code,
                 ranked[1].score);
    snprintf(res->why, sizeof res->why,
             "embedding: %s %s '%.80s' score %.3f (cosine %.3f, lexical %.3f%s%s%s%s)%s; %s %.2f",
             res->accepted ? "accepted" : "rejected", bc->code, bc->name, b->score,
             (double)bc->cosine, b->lex, b->specimen ? ", " : "",
             lm_ev(b->specimen, "specimen agrees", "specimen differs"), b->unit ? ", " : "",
             lm_ev(b->unit, "unit fits", "unit does not fit"), runner,
             res->accepted ? "threshold"
             : !ok_score   ? "below the threshold"
                           : "lead under the margin",
             !ok_score || res->accepted ? p->min_score : p->min_margin);
    return res->accepted;
}
