/* calibrate.c - see calibrate.h. */
#include "ml/calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_MAX_FIELDS 4

static const char *const calib_specimens[] = {"blood", "urine", "urine-24h", "stool",
                                              "csf",   "sputum", "swab",     "unstated"};

static int cb_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Copy s[0..n) into *dst trimmed, inner whitespace runs collapsed to one space. */
static const char *cb_put(char **dst, const char *s, size_t n)
{
    char *start = *dst, *o = *dst;
    int pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (cb_space(s[i]) || s[i] == '\n') {
            pending = o != start;
            continue;
        }
        if (pending)
            *o++ = ' ';
        pending = 0;
        *o++ = s[i];
    }
    *o++ = '\0';
    *dst = o;
    return start;
}

static int cb_code_ok(const char *c)
{
    size_t n = strlen(c), i = 0;
    while (i < n && c[i] >= '0' && c[i] <= '9')
        i++;
    return i >= 1 && i <= 9 && i + 2 == n && c[i] == '-' && c[i + 1] >= '0' && c[i + 1] <= '9';
}

static int cb_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/*
 * Split line[0..n) into fields written to *dst (unquoted, trimmed). Returns
 * the field count, or -1 for an unterminated quote, -2 for text after a
 * closing quote, -3 for more than CALIB_MAX_FIELDS fields.
 */
static int cb_split(const char *line, size_t n, char delim, char **dst, const char **f)
{
    int nf = 0;
    size_t i = 0;
    for (;;) {
        if (nf == CALIB_MAX_FIELDS)
            return -3;
        size_t j = i;
        while (j < n && line[j] == ' ')
            j++;
        if (j < n && line[j] == '"') {
            char *o = *dst;
            size_t k = j + 1;
            for (;;) {
                if (k >= n)
                    return -1;
                if (line[k] == '"') {
                    if (k + 1 < n && line[k + 1] == '"') {
                        *o++ = '"';
                        k += 2;
                        continue;
                    }
                    k++;
                    break;
                }
                *o++ = line[k++];
            }
            while (k < n && cb_space(line[k]))
                k++;
            if (k < n && line[k] != delim)
                return -2;
            /* trim/collapse in place */
            size_t len = (size_t)(o - *dst);
            char *tmp = *dst;
            char *w = tmp;
            f[nf++] = cb_put(&w, tmp, len); /* cb_put writes at or before what it reads */
            *dst = w;
            if (k >= n)
                return nf;
            i = k + 1;
        } else {
            size_t k = i;
            while (k < n && line[k] != delim)
                k++;
            f[nf++] = cb_put(dst, line + i, k - i);
            if (k >= n)
                return nf;
            i = k + 1;
        }
    }
}

int calib_parse(const char *buf, size_t len, const char *path, struct calib_labels *out,
                struct mlw_err *err)
{
    memset(out, 0, sizeof *out);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    out->items = calloc(lines, sizeof *out->items);
    out->store = malloc(len + 8 * lines + 1);
    if (out->items == NULL || out->store == NULL) {
        calib_labels_free(out);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", path);
    }
    char *dst = out->store;
    char delim = 0;
    int first = 1;
    size_t lineno = 0;
    for (size_t p = 0; p < len;) {
        const char *line = buf + p;
        const char *nl = memchr(line, '\n', len - p);
        size_t n = nl ? (size_t)(nl - line) : len - p;
        p += n + (nl != NULL);
        lineno++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        size_t s = 0;
        while (s < n && cb_space(line[s]))
            s++;
        if (s == n || line[s] == '#')
            continue;
        if (delim == 0)
            delim = memchr(line, '\t', n) ? '\t' : ',';
        const char *f[CALIB_MAX_FIELDS] = {0};
        char *mark = dst;
        int nf = cb_split(line, n, delim, &dst, f);
        if (nf < 0) {
            int rc = mlw_err_set(err, MLW_EFORMAT, "%s:%zu: %s", path, lineno,
                                 nf == -1   ? "unterminated quote"
                                 : nf == -2 ? "text after a closing quote"
                                            : "more than 4 fields (name,loinc_code[,specimen,unit])");
            calib_labels_free(out);
            return rc;
        }
        if (first) {
            first = 0;
            if (nf >= 2 && cb_ieq(f[0], "name") &&
                (cb_ieq(f[1], "loinc_code") || cb_ieq(f[1], "loinc") || cb_ieq(f[1], "code"))) {
                dst = mark;
                continue;
            }
        }
        const char *why = NULL;
        if (nf < 2)
            why = "expected name,loinc_code[,specimen,unit] (the code may be empty)";
        else if (f[0][0] == '\0')
            why = "empty name";
        else if (f[1][0] != '\0' && !cb_code_ok(f[1]))
            why = "the code is not a LOINC code (digits-digit, e.g. 2345-7)";
        const char *spec = nf >= 3 && f[2][0] ? f[2] : NULL;
        if (why == NULL && spec != NULL) {
            size_t k = 0;
            for (; k < sizeof calib_specimens / sizeof calib_specimens[0]; k++)
                if (cb_ieq(spec, calib_specimens[k]))
                    break;
            if (k == sizeof calib_specimens / sizeof calib_specimens[0])
                why = "unknown specimen (blood, urine, urine-24h, stool, csf, sputum, swab, "
                      "unstated, or empty)";
            else
                spec = k == 7 ? NULL : calib_specimens[k];
        }
        if (why != NULL) {
            int rc = mlw_err_set(err, MLW_EFORMAT, "%s:%zu: %s", path, lineno, why);
            calib_labels_free(out);
            return rc;
        }
        struct calib_label *l = &out->items[out->n++];
        l->line = lineno;
        l->name = f[0];
        l->expected = f[1];
        l->specimen = spec;
        l->unit = nf >= 4 && f[3][0] ? f[3] : NULL;
    }
    if (out->n == 0) {
        calib_labels_free(out);
        return mlw_err_set(err, MLW_EFORMAT, "%s: no labelled names", path);
    }
    return MLW_OK;
}

void calib_labels_free(struct calib_labels *l)
{
    free(l->items);
    free(l->store);
    memset(l, 0, sizeof *l);
}

void calib_totals(const struct calib_item *it, size_t n, struct calib_totals *t)
{
    memset(t, 0, sizeof *t);
    t->names = n;
    for (size_t i = 0; i < n; i++) {
        t->labelled += it[i].labelled != 0;
        t->passes_margin += it[i].passes_margin != 0;
    }
}

static void cb_fill(struct calib_row *r, double t, size_t acc, size_t cor, size_t names,
                    size_t labelled)
{
    r->threshold = t;
    r->accepted = acc;
    r->correct = cor;
    r->wrong = acc - cor;
    r->precision = acc ? (double)cor / (double)acc : -1.0;
    r->recall = labelled ? (double)cor / (double)labelled : 0.0;
    r->coverage = names ? (double)acc / (double)names : 0.0;
}

static int cb_is_correct(const struct calib_item *x)
{
    return x->labelled && x->correct;
}

void calib_at(const struct calib_item *it, size_t n, double t, struct calib_row *row)
{
    struct calib_totals tot;
    calib_totals(it, n, &tot);
    size_t acc = 0, cor = 0;
    for (size_t i = 0; i < n; i++)
        if (it[i].passes_margin && it[i].score >= t) {
            acc++;
            cor += (size_t)cb_is_correct(&it[i]);
        }
    cb_fill(row, t, acc, cor, n, tot.labelled);
}

static int cb_desc(const void *a, const void *b)
{
    const struct calib_item *x = a, *y = b;
    if (x->passes_margin != y->passes_margin)
        return x->passes_margin ? -1 : 1;
    return x->score > y->score ? -1 : x->score < y->score ? 1 : 0;
}

size_t calib_curve(struct calib_item *it, size_t n, struct calib_row *rows)
{
    struct calib_totals tot;
    calib_totals(it, n, &tot);
    if (n > 1)
        qsort(it, n, sizeof *it, cb_desc);
    size_t nr = 0, acc = 0, cor = 0;
    for (size_t i = 0; i < n && it[i].passes_margin;) {
        double s = it[i].score;
        while (i < n && it[i].passes_margin && it[i].score == s) {
            acc++;
            cor += (size_t)cb_is_correct(&it[i]);
            i++;
        }
        cb_fill(&rows[nr++], s, acc, cor, n, tot.labelled);
    }
    for (size_t a = 0, b = nr ? nr - 1 : 0; a < b; a++, b--) {
        struct calib_row t = rows[a];
        rows[a] = rows[b];
        rows[b] = t;
    }
    return nr;
}

long calib_pick(const struct calib_row *rows, size_t nrows, double target)
{
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].accepted > 0 && rows[i].precision >= target)
            return (long)i;
    return -1;
}

void calib_format_threshold(double t, double below, char *buf, size_t cap)
{
    for (int d = 2; d <= 16; d++) {
        double scale = pow(10.0, d);
        double v = floor(t * scale) / scale;
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*f", d, v);
        double back = strtod(tmp, NULL);
        if (back <= t && back > below) {
            snprintf(buf, cap, "%s", tmp);
            return;
        }
    }
    snprintf(buf, cap, "%.17g", t);
}
