/* labs.c - pure lab aggregation; see labs.h and docs/semantics.md "Labs". */
#include "domain/labs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Digits with optional comma digit groups ("1,50,000", "150,000"), copied to
 * buf without the commas. Returns the number of input bytes used (0: none). */
static size_t scan_digits(const char *s, char *buf, size_t cap, size_t *o)
{
    size_t i = 0;
    while (is_digit(s[i])) {
        if (*o + 1 < cap)
            buf[(*o)++] = s[i];
        i++;
    }
    if (i == 0)
        return 0;
    for (;;) {
        /* a comma followed by exactly 2 or 3 digits (then not a digit) */
        if (s[i] != ',')
            break;
        size_t k = 0;
        while (is_digit(s[i + 1 + k]))
            k++;
        if (k != 2 && k != 3)
            break;
        for (size_t j = 0; j < k; j++)
            if (*o + 1 < cap)
                buf[(*o)++] = s[i + 1 + j];
        i += 1 + k;
    }
    return i;
}

/* A number at s: [sign] digits[.digits] | .digits, then an optional exponent
 * when exp is set. Returns bytes used (0: no number); the value in *v. */
static size_t scan_number(const char *s, int exp, double *v)
{
    char buf[128];
    size_t o = 0, i = 0;
    if (s[i] == '+' || s[i] == '-')
        buf[o++] = s[i++];
    size_t d = scan_digits(s + i, buf, sizeof buf, &o);
    i += d;
    size_t frac = 0;
    if (s[i] == '.') {
        size_t j = i + 1;
        while (is_digit(s[j]))
            j++;
        frac = j - i - 1;
        if (d > 0 || frac > 0) {
            for (size_t k = i; k < j; k++)
                if (o + 1 < sizeof buf)
                    buf[o++] = s[k];
            i = j;
        }
    }
    if (d == 0 && frac == 0)
        return 0;
    if (o + 1 >= sizeof buf)
        return 0; /* too many digits to be a lab value */
    if (exp && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (s[j] == '+' || s[j] == '-')
            j++;
        if (is_digit(s[j])) {
            while (is_digit(s[j]))
                j++;
            for (size_t k = i; k < j; k++)
                if (o + 1 < sizeof buf)
                    buf[o++] = s[k];
            i = j;
        }
    }
    if (o + 1 >= sizeof buf)
        return 0;
    buf[o] = '\0';
    *v = strtod(buf, NULL);
    return i;
}

int labs_parse_number(const char *s, double *out)
{
    if (!s)
        return 0;
    while (is_space(*s))
        s++;
    double v;
    size_t n = scan_number(s, 1, &v);
    if (n == 0)
        return 0;
    s += n;
    while (is_space(*s))
        s++;
    if (*s || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Case-insensitive ASCII prefix; returns its length or 0. */
static size_t prefix(const char *s, const char *p)
{
    size_t i = 0;
    for (; p[i]; i++) {
        char a = s[i], b = p[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return i;
}

int labs_parse_range(const char *s, double *lo, int *has_lo, double *hi, int *has_hi)
{
    *has_lo = *has_hi = 0;
    if (!s)
        return 0;
    while (is_space(*s) || *s == '(' || *s == '[')
        s++;
    static const struct {
        const char *w;
        int gt;
    } CMP[] = {{"<=", 0}, {"\xe2\x89\xa4", 0}, {"<", 0}, {">=", 1}, {"\xe2\x89\xa5", 1}, {">", 1},
               {"up to", 0}, {"upto", 0}, {"less than", 0}, {"below", 0},
               {"more than", 1}, {"greater than", 1}, {"above", 1}};
    int cmp = -1;
    for (size_t k = 0; k < sizeof CMP / sizeof CMP[0]; k++) {
        size_t l = prefix(s, CMP[k].w);
        if (l) {
            cmp = CMP[k].gt;
            s += l;
            break;
        }
    }
    while (is_space(*s))
        s++;
    double a, b;
    size_t n = scan_number(s, 0, &a);
    if (n == 0 || !isfinite(a))
        return 0;
    s += n;
    while (is_space(*s))
        s++;
    size_t sep = 0;
    if (*s == '-')
        sep = 1;
    else if (!strncmp(s, "\xe2\x80\x93", 3) || !strncmp(s, "\xe2\x80\x94", 3) ||
             !strncmp(s, "\xe2\x88\x92", 3))
        sep = 3;
    else if (prefix(s, "to") && !((s[2] >= 'a' && s[2] <= 'z') || (s[2] >= 'A' && s[2] <= 'Z')))
        sep = 2;
    if (sep) {
        const char *t = s + sep;
        while (is_space(*t))
            t++;
        size_t m = scan_number(t, 0, &b);
        if (m > 0 && isfinite(b)) {
            if (a > b)
                return 0;
            *lo = a;
            *hi = b;
            *has_lo = *has_hi = 1;
            return 1;
        }
        if (cmp < 0)
            return 0;
    }
    if (cmp < 0)
        return 0; /* a single number is not a range */
    if (cmp) {
        *lo = a;
        *has_lo = 1;
    } else {
        *hi = a;
        *has_hi = 1;
    }
    return 1;
}

void labs_format_number(double v, char out[LABS_NUM_LEN])
{
    if (v == 0) {
        snprintf(out, LABS_NUM_LEN, "%s", signbit(v) ? "-0.0" : "0.0");
        return;
    }
    char buf[40];
    int p;
    for (p = 1; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    /* buf = [-]d[.ddd]e[+-]xx */
    const char *q = buf;
    int neg = *q == '-';
    if (neg)
        q++;
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (is_digit(*q) && nd < 23)
            digits[nd++] = *q;
    digits[nd] = '\0';
    int e = atoi(q + 1);
    char tmp[96];
    char *o = tmp;
    size_t cap = sizeof tmp - 1;
    if (neg)
        *o++ = '-';
    if (e >= -4 && e < 16) {
        if (e >= 0) {
            char ip[24], fp[24];
            int k;
            for (k = 0; k <= e; k++)
                ip[k] = k < nd ? digits[k] : '0';
            ip[k] = '\0';
            if (nd > e + 1)
                snprintf(fp, sizeof fp, "%s", digits + e + 1);
            else
                snprintf(fp, sizeof fp, "0");
            snprintf(o, cap, "%s.%s", ip, fp);
        } else {
            snprintf(o, cap, "0.%.*s%s", -e - 1, "0000", digits);
        }
    } else {
        if (nd > 1)
            snprintf(o, cap, "%c.%se%c%02d", digits[0], digits + 1, e < 0 ? '-' : '+',
                     e < 0 ? -e : e);
        else
            snprintf(o, cap, "%ce%c%02d", digits[0], e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    /* at most 24 characters ("-1.2345678901234567e-308") */
    size_t l = strlen(tmp);
    if (l > LABS_NUM_LEN - 1)
        l = LABS_NUM_LEN - 1;
    memcpy(out, tmp, l);
    out[l] = '\0';
}

enum labs_flag labs_status_flag(const char *status)
{
    if (!status)
        return LABS_FLAG_UNKNOWN;
    char b[32];
    size_t n = 0;
    while (is_space(*status))
        status++;
    for (; *status && n < sizeof b - 1; status++)
        b[n++] = (char)(*status >= 'A' && *status <= 'Z' ? *status - 'A' + 'a' : *status);
    while (n && is_space(b[n - 1]))
        n--;
    b[n] = '\0';
    static const char *const GREEN[] = {"green", "normal", "within range", "within normal limits",
                                        "wnl", "in range"};
    static const char *const AMBER[] = {"amber", "high", "low", "abnormal", "borderline", "h",
                                        "l", "above normal", "below normal", "elevated",
                                        "borderline high", "borderline low", "out of range"};
    static const char *const RED[] = {"red", "critical", "critical high", "critical low",
                                      "panic", "critically high", "critically low"};
    for (size_t i = 0; i < sizeof RED / sizeof RED[0]; i++)
        if (!strcmp(b, RED[i]))
            return LABS_FLAG_RED;
    for (size_t i = 0; i < sizeof AMBER / sizeof AMBER[0]; i++)
        if (!strcmp(b, AMBER[i]))
            return LABS_FLAG_AMBER;
    for (size_t i = 0; i < sizeof GREEN / sizeof GREEN[0]; i++)
        if (!strcmp(b, GREEN[i]))
            return LABS_FLAG_GREEN;
    return LABS_FLAG_UNKNOWN;
}

const char *labs_flag_name(enum labs_flag f)
{
    return f == LABS_FLAG_GREEN ? "green" : f == LABS_FLAG_RED ? "red" : "amber";
}

/* Combine flags: red over amber over green; nothing known = amber. */
static enum labs_flag worst(enum labs_flag a, enum labs_flag b) { return a > b ? a : b; }

/* Copy of s without surrounding whitespace. */
static const char *trimmed(struct arena *a, const char *s)
{
    if (!s)
        return NULL;
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        n--;
    return arena_strndup(a, s, n);
}

/* At most LABS_TEXT_MAX characters (UTF-8 sequences; a stray byte counts as one). */
static const char *clip(struct arena *a, const char *s)
{
    size_t i = 0, chars = 0, n = strlen(s);
    while (i < n && chars < LABS_TEXT_MAX) {
        unsigned char c = (unsigned char)s[i];
        size_t l = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        for (size_t k = 1; k < l; k++)
            if (i + k >= n || ((unsigned char)s[i + k] & 0xC0) != 0x80)
                l = 1;
        i += l;
        chars++;
    }
    return i == n ? s : arena_strndup(a, s, i);
}

/* Code-point length (for min/max of text values). */
static size_t text_len(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    return chars;
}

/* Distinct strings in order of first appearance, joined with ", ". */
static const char *join_distinct(struct arena *a, const char *const *v, size_t n)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i] ? v[i] : "None") + 2;
    char *out = arena_alloc(a, total);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = v[i] ? v[i] : "None";
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(v[j] ? v[j] : "None", s) == 0;
        if (seen)
            continue;
        if (o) {
            memcpy(out + o, ", ", 2);
            o += 2;
        }
        size_t l = strlen(s);
        memcpy(out + o, s, l);
        o += l;
    }
    out[o] = '\0';
    return clip(a, out);
}

static const char *num_text(struct arena *a, double v)
{
    char b[LABS_NUM_LEN];
    labs_format_number(v, b);
    return arena_strdup(a, b);
}

static int cmp_group(const char *c1, const char *l1, const char *k1, const char *c2,
                     const char *l2, const char *k2)
{
    int r = strcmp(c1, c2);
    if (!r)
        r = strcmp(l1, l2);
    if (!r)
        r = strcmp(k1, k2);
    return r;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct lab_row *a = pa, *b = pb;
    int r = cmp_group(a->category, a->loinc, a->code, b->category, b->loinc, b->code);
    if (r)
        return r;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* One daily row from rows[0..n) of one group, ordered by id. */
static int daily_group(const struct lab_row *r, size_t n, struct arena *a, struct lab_agg *g)
{
    memset(g, 0, sizeof *g);
    g->category = r[0].category;
    g->loinc = r[0].loinc;
    g->code = r[0].code;
    g->name = r[n - 1].name;
    g->count = (int64_t)n;
    const char **vals = arena_alloc(a, n * sizeof *vals);
    if (!vals)
        return -1;
    int numeric = 1;
    double sum = 0, mn = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(vals[i] = trimmed(a, r[i].value)))
            return -1;
        double v;
        if (numeric && labs_parse_number(vals[i], &v)) {
            sum += v;
            if (i == 0 || v < mn)
                mn = v;
            if (i == 0 || v > mx)
                mx = v;
        } else {
            numeric = 0;
        }
    }
    if (numeric) {
        g->avg = num_text(a, sum / (double)n);
        g->min = num_text(a, mn);
        g->max = num_text(a, mx);
    } else if (n == 1) {
        g->avg = g->min = g->max = clip(a, vals[0]);
    } else {
        g->avg = join_distinct(a, vals, n);
        const char *shortest = vals[0], *longest = vals[0];
        for (size_t i = 1; i < n; i++) {
            if (text_len(vals[i]) < text_len(shortest))
                shortest = vals[i];
            if (text_len(vals[i]) > text_len(longest))
                longest = vals[i];
        }
        g->min = clip(a, shortest);
        g->max = clip(a, longest);
    }
    if (!g->avg || !g->min || !g->max)
        return -1;
    /* the latest row that has a unit / a range that parses */
    for (size_t i = n; i-- > 0;) {
        const char *u = trimmed(a, r[i].unit);
        if (u && *u) {
            g->unit = u;
            break;
        }
    }
    for (size_t i = n; i-- > 0;)
        if (labs_parse_range(r[i].range, &g->rmin, &g->has_rmin, &g->rmax, &g->has_rmax))
            break;
    enum labs_flag f = LABS_FLAG_UNKNOWN;
    for (size_t i = 0; i < n; i++)
        f = worst(f, labs_status_flag(r[i].status));
    g->status = f == LABS_FLAG_UNKNOWN ? LABS_FLAG_AMBER : f;
    return 0;
}

int labs_daily(const struct lab_row *rows, size_t n, struct arena *a, struct lab_agg **out,
               size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    struct lab_row *s = arena_alloc(a, n * sizeof *s);
    struct lab_agg *g = arena_alloc(a, n * sizeof *g);
    if (!s || !g)
        return -1;
    memcpy(s, rows, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_rows);
    size_t ng = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !cmp_group(s[i].category, s[i].loinc, s[i].code, s[j].category,
                                   s[j].loinc, s[j].code))
            j++;
        if (daily_group(s + i, j - i, a, &g[ng++]))
            return -1;
        i = j;
    }
    *out = g;
    *nout = ng;
    return 0;
}

static int cmp_aggs(const void *pa, const void *pb)
{
    const struct lab_agg *a = pa, *b = pb;
    int r = cmp_group(a->category, a->loinc, a->code, b->category, b->loinc, b->code);
    if (r)
        return r;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int rollup_group(const struct lab_agg *r, size_t n, struct arena *a, struct lab_agg *g)
{
    memset(g, 0, sizeof *g);
    g->category = r[0].category;
    g->loinc = r[0].loinc;
    g->code = r[0].code;
    g->name = r[n - 1].name;
    int numeric = 1;
    double sum = 0, mn = 0, mx = 0;
    for (size_t i = 0; i < n && numeric; i++) {
        double av, lo, hi;
        if (!labs_parse_number(r[i].avg, &av) || !labs_parse_number(r[i].min, &lo) ||
            !labs_parse_number(r[i].max, &hi)) {
            numeric = 0;
            break;
        }
        sum += av;
        if (i == 0 || lo < mn)
            mn = lo;
        if (i == 0 || hi > mx)
            mx = hi;
    }
    if (numeric) {
        g->avg = num_text(a, sum / (double)n);
        g->min = num_text(a, mn);
        g->max = num_text(a, mx);
    } else {
        const char **col = arena_alloc(a, n * sizeof *col);
        if (!col)
            return -1;
        for (size_t i = 0; i < n; i++)
            col[i] = r[i].avg;
        g->avg = join_distinct(a, col, n);
        for (size_t i = 0; i < n; i++)
            col[i] = r[i].min;
        g->min = join_distinct(a, col, n);
        for (size_t i = 0; i < n; i++)
            col[i] = r[i].max;
        g->max = join_distinct(a, col, n);
    }
    if (!g->avg || !g->min || !g->max)
        return -1;
    double slo = 0, shi = 0;
    size_t nr = 0;
    enum labs_flag f = LABS_FLAG_UNKNOWN;
    for (size_t i = 0; i < n; i++) {
        g->count += r[i].count;
        if (r[i].has_rmin && r[i].has_rmax) {
            slo += r[i].rmin;
            shi += r[i].rmax;
            nr++;
        }
        f = worst(f, r[i].status);
    }
    if (nr) {
        g->rmin = slo / (double)nr;
        g->rmax = shi / (double)nr;
        g->has_rmin = g->has_rmax = 1;
    }
    g->status = f == LABS_FLAG_UNKNOWN ? LABS_FLAG_AMBER : f;
    for (size_t i = n; i-- > 0;)
        if (r[i].unit && *r[i].unit) {
            g->unit = r[i].unit;
            break;
        }
    return 0;
}

int labs_rollup(const struct lab_agg *in, size_t n, int32_t period, struct arena *a,
                struct lab_agg **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    struct lab_agg *s = arena_alloc(a, n * sizeof *s);
    struct lab_agg *g = arena_alloc(a, n * sizeof *g);
    if (!s || !g)
        return -1;
    memcpy(s, in, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_aggs);
    size_t ng = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !cmp_group(s[i].category, s[i].loinc, s[i].code, s[j].category,
                                   s[j].loinc, s[j].code))
            j++;
        if (rollup_group(s + i, j - i, a, &g[ng]))
            return -1;
        g[ng++].order = period;
        i = j;
    }
    *out = g;
    *nout = ng;
    return 0;
}
