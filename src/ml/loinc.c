/*
 * loinc.c - LOINC CSV reading, term selection, embedding text, and filtered
 * candidate search; see loinc.h.
 */
#include "ml/loinc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */

/* One field of the current record: bytes in the input, quoted or not. */
struct lc_field {
    const char *p;
    size_t len;
    int quoted;      /* p/len are inside the quotes; "" pairs still doubled */
};

struct lc_csv {
    const char *p, *end;
    size_t line;     /* 1-based line of the current position */
    struct lc_field *fields;
    size_t n, cap;
};

/*
** Read the next record into c->fields. Returns 1 (a record), 0 (end of input)
** or -1 (error in msg).
*/
static int lc_next_record(struct lc_csv *c, char *msg, size_t msg_cap)
{
    c->n = 0;
    if (c->p >= c->end)
        return 0;
    size_t start_line = c->line;
    for (;;) {
        if (c->n == c->cap) {
            size_t ncap = c->cap ? 2 * c->cap : 64;
            struct lc_field *nf = realloc(c->fields, ncap * sizeof *nf);
            if (nf == NULL) {
                snprintf(msg, msg_cap, "out of memory");
                return -1;
            }
            c->fields = nf;
            c->cap = ncap;
        }
        struct lc_field *f = &c->fields[c->n++];
        if (c->p < c->end && *c->p == '"') {
            const char *s = ++c->p;
            for (;;) {
                if (c->p >= c->end) {
                    snprintf(msg, msg_cap, "line %zu: unterminated quoted field", start_line);
                    return -1;
                }
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        c->p += 2;
                        continue;
                    }
                    break;
                }
                if (*c->p == '\n')
                    c->line++;
                c->p++;
            }
            f->p = s;
            f->len = (size_t)(c->p - s);
            f->quoted = 1;
            c->p++; /* closing quote */
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                snprintf(msg, msg_cap, "line %zu: unexpected character after a quoted field",
                         c->line);
                return -1;
            }
        } else {
            const char *s = c->p;
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                c->p++;
            f->p = s;
            f->len = (size_t)(c->p - s);
            f->quoted = 0;
        }
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        /* end of record: \n, \r\n, or end of input */
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n')
            c->p++;
        c->line++;
        return 1;
    }
}

/* Copy a field into the arena, undoubling "" in quoted fields and trimming spaces. */
static const char *lc_copy(struct arena *a, const struct lc_field *f)
{
    const char *s = f->p;
    size_t len = f->len;
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return "";
    char *d = arena_alloc(a, len + 1);
    if (d == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        d[o++] = s[i];
        if (f->quoted && s[i] == '"' && i + 1 < len && s[i + 1] == '"')
            i++;
    }
    d[o] = '\0';
    return d;
}

static int lc_field_is(const struct lc_field *f, const char *name)
{
    size_t n = strlen(name);
    return f->len == n && strncasecmp(f->p, name, n) == 0;
}

/* ------------------------------------------------------------------------ */
/* Selection                                                                 */

enum {
    LC_CODE, LC_COMPONENT, LC_PROPERTY, LC_TIME, LC_SYSTEM, LC_SCALE, LC_METHOD, LC_CLASS,
    LC_CLASSTYPE, LC_STATUS, LC_LONG, LC_SHORT, LC_RELATED, LC_UCUM, LC_UNITS, LC_NCOLS
};

static const char *const lc_column_names[LC_NCOLS] = {
    "LOINC_NUM", "COMPONENT", "PROPERTY", "TIME_ASPCT", "SYSTEM", "SCALE_TYP", "METHOD_TYP",
    "CLASS", "CLASSTYPE", "STATUS", "LONG_COMMON_NAME", "SHORTNAME", "RELATEDNAMES2",
    "EXAMPLE_UCUM_UNITS", "EXAMPLE_UNITS"};

static const int lc_required[] = {LC_CODE, LC_COMPONENT, LC_SYSTEM, LC_LONG};

static unsigned lc_status_bit(const char *s, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } st[] = {{"ACTIVE", LOINC_STATUS_ACTIVE},
              {"TRIAL", LOINC_STATUS_TRIAL},
              {"DISCOURAGED", LOINC_STATUS_DISCOURAGED},
              {"DEPRECATED", LOINC_STATUS_DEPRECATED}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (len == strlen(st[i].name) && strncasecmp(s, st[i].name, len) == 0)
            return st[i].bit;
    return LOINC_STATUS_OTHER;
}

int loinc_status_parse(const char *list, unsigned *out)
{
    unsigned bits = 0;
    const char *p = list;
    while (*p) {
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *s = p;
        while (s < e && isspace((unsigned char)*s))
            s++;
        const char *t = e;
        while (t > s && isspace((unsigned char)t[-1]))
            t--;
        if (t > s) {
            if ((size_t)(t - s) == 3 && strncasecmp(s, "ALL", 3) == 0)
                bits |= LOINC_STATUS_ACTIVE | LOINC_STATUS_TRIAL | LOINC_STATUS_DISCOURAGED |
                        LOINC_STATUS_DEPRECATED | LOINC_STATUS_OTHER;
            else {
                unsigned b = lc_status_bit(s, (size_t)(t - s));
                if (b == LOINC_STATUS_OTHER)
                    return -1;
                bits |= b;
            }
        }
        p = *e ? e + 1 : e;
    }
    if (bits == 0)
        return -1;
    *out = bits;
    return 0;
}

int loinc_table_parse(const char *csv, size_t len, const char *label,
                      const struct loinc_filter *f, struct loinc_table *t,
                      struct mlw_err *err)
{
    memset(t, 0, sizeof *t);
    arena_init(&t->arena, 1 << 20);
    struct loinc_filter def = {0};
    if (f == NULL)
        f = &def;
    unsigned statuses = f->statuses ? f->statuses : LOINC_STATUS_DEFAULT;
    struct lc_csv c = {.p = csv, .end = csv + len, .line = 1};
    if (len >= 3 && memcmp(csv, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;
    char msg[200];
    int rc = MLW_OK;
    size_t cap = 0;
    int col[LC_NCOLS];
    size_t n_cols;

    int got = lc_next_record(&c, msg, sizeof msg);
    if (got <= 0) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: %s", label,
                         got == 0 ? "empty file (no header row)" : msg);
        goto fail;
    }
    n_cols = c.n;
    for (int k = 0; k < LC_NCOLS; k++) {
        col[k] = -1;
        for (size_t i = 0; i < c.n; i++)
            if (lc_field_is(&c.fields[i], lc_column_names[k])) {
                col[k] = (int)i;
                break;
            }
    }
    for (size_t r = 0; r < sizeof lc_required / sizeof lc_required[0]; r++)
        if (col[lc_required[r]] < 0) {
            rc = mlw_err_set(err, MLW_EFORMAT,
                             "%s: no %s column in the header row (is this LOINC's "
                             "Loinc.csv or LoincTableCore.csv?)", label,
                             lc_column_names[lc_required[r]]);
            goto fail;
        }

    for (;;) {
        size_t line = c.line;
        got = lc_next_record(&c, msg, sizeof msg);
        if (got == 0)
            break;
        if (got < 0) {
            rc = mlw_err_set(err, got < 0 && strcmp(msg, "out of memory") == 0 ? MLW_ENOMEM
                                                                               : MLW_EFORMAT,
                             "%s: %s", label, msg);
            goto fail;
        }
        if (c.n == 1 && c.fields[0].len == 0)
            continue; /* blank line */
        if (c.n != n_cols) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: line %zu: %zu fields, the header has %zu",
                             label, line, c.n, n_cols);
            goto fail;
        }
        t->rows++;
        if (!f->all_classes && col[LC_CLASSTYPE] >= 0) {
            const struct lc_field *ct = &c.fields[col[LC_CLASSTYPE]];
            if (!(ct->len == 1 && ct->p[0] == '1')) {
                t->skipped_class++;
                continue;
            }
        }
        unsigned st = LOINC_STATUS_ACTIVE;
        if (col[LC_STATUS] >= 0) {
            const struct lc_field *sf = &c.fields[col[LC_STATUS]];
            if (sf->len > 0)
                st = lc_status_bit(sf->p, sf->len);
        }
        if (!(st & statuses)) {
            t->skipped_status++;
            continue;
        }
        if (f->limit > 0 && t->count >= f->limit)
            continue;
        if (t->count == cap) {
            size_t ncap = cap ? 2 * cap : 1024;
            struct loinc_term *nt = realloc(t->terms, ncap * sizeof *nt);
            if (nt == NULL) {
                rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
                goto fail;
            }
            t->terms = nt;
            cap = ncap;
        }
        const char *v[LC_NCOLS];
        for (int k = 0; k < LC_NCOLS; k++) {
            v[k] = col[k] < 0 ? "" : lc_copy(&t->arena, &c.fields[col[k]]);
            if (v[k] == NULL) {
                rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
                goto fail;
            }
        }
        if (v[LC_CODE][0] == '\0') {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: line %zu: empty LOINC_NUM", label, line);
            goto fail;
        }
        struct loinc_term *term = &t->terms[t->count++];
        term->code = v[LC_CODE];
        term->component = v[LC_COMPONENT];
        term->property = v[LC_PROPERTY];
        term->time = v[LC_TIME];
        term->system = v[LC_SYSTEM];
        term->scale = v[LC_SCALE];
        term->method = v[LC_METHOD];
        term->klass = v[LC_CLASS];
        term->status = v[LC_STATUS];
        term->long_name = v[LC_LONG];
        term->short_name = v[LC_SHORT];
        term->related = v[LC_RELATED];
        term->units = v[LC_UCUM][0] ? v[LC_UCUM] : v[LC_UNITS];
    }
    free(c.fields);
    return MLW_OK;
fail:
    free(c.fields);
    loinc_table_free(t);
    return rc;
}

void loinc_table_free(struct loinc_table *t)
{
    if (t == NULL)
        return;
    free(t->terms);
    arena_free(&t->arena);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------------ */
/* Text, key, fields                                                         */

size_t loinc_term_text(const struct loinc_term *t, char *buf, size_t cap)
{
    const char *parts[4] = {t->long_name, t->component, t->system, t->related};
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (int i = 0; i < 4; i++) {
        if (parts[i][0] == '\0')
            continue;
        if (o > 0) {
            for (const char *s = "; "; *s && o + 1 < cap; s++)
                buf[o++] = *s;
        }
        for (const char *s = parts[i]; *s && o + 1 < cap; s++)
            buf[o++] = *s;
    }
    /* cut back to a character boundary if the buffer filled up mid-character */
    if (o + 1 >= cap) {
        size_t k = o;
        while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)buf[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)buf[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (o - (k - 1) < need)
                o = k - 1;
        }
    }
    buf[o] = '\0';
    return o;
}

uint64_t loinc_table_key(const struct loinc_table *t)
{
    uint64_t h = 1469598103934665603ull;
    char ver[32];
    int n = snprintf(ver, sizeof ver, "loinc-text-v%d|", LOINC_TEXT_VERSION);
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)ver[i]) * 1099511628211ull;
    for (size_t i = 0; i < t->count; i++) {
        for (const char *s = t->terms[i].code; *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211ull;
        h = (h ^ (unsigned char)'\n') * 1099511628211ull;
    }
    return h;
}

const char *const loinc_field_names[LOINC_N_FIELDS] = {
    "code", "name", "component", "property", "time", "system",
    "scale", "method", "class", "units", "status"};

void loinc_term_fields(const struct loinc_term *t, const char **out)
{
    out[0] = t->code;
    out[1] = t->long_name;
    out[2] = t->component;
    out[3] = t->property;
    out[4] = t->time;
    out[5] = t->system;
    out[6] = t->scale;
    out[7] = t->method;
    out[8] = t->klass;
    out[9] = t->units;
    out[10] = t->status;
}

/* ------------------------------------------------------------------------ */
/* Specimen and unit agreement                                               */

/* Lower-case copy of s[0..n) without spaces into d (cap bytes). */
static void lc_norm(const char *s, size_t n, char *d, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t')
            continue;
        d[o++] = (char)tolower(ch);
    }
    d[o] = '\0';
}

/* User words for specimens -> LOINC SYSTEM abbreviations (first word of a part). */
static const struct {
    const char *word;
    const char *codes; /* space-separated */
} lc_specimens[] = {
    {"urine", "urine ur"},          {"ur", "urine ur"},
    {"blood", "bld bldv bldc bldco bldmv bldp bld.dot"},
    {"bld", "bld bldv bldc bldco bldmv bldp bld.dot"},
    {"wholeblood", "bld"},          {"venousblood", "bldv"},
    {"arterialblood", "bldav bld"}, {"capillaryblood", "bldc"},
    {"serum", "ser"},               {"ser", "ser"},
    {"plasma", "plas"},             {"plas", "plas"},
    {"csf", "csf"},                 {"cerebrospinalfluid", "csf"},
    {"stool", "stool"},             {"feces", "stool"},
    {"faeces", "stool"},            {"saliva", "saliva"},
    {"sputum", "sputum"},           {"semen", "semen"},
    {"rbc", "rbc"},                 {"redbloodcells", "rbc"},
    {"amnioticfluid", "amnio"},     {"synovialfluid", "synv"},
    {"pleuralfluid", "plr"},        {"peritonealfluid", "periton"},
    {"tissue", "tiss"},             {"hair", "hair"},
    {"breath", "exhl"},             {"milk", "mmlk milk"},
};

/* Does the space-separated list `codes` hold word w? */
static int lc_in_list(const char *codes, const char *w)
{
    size_t n = strlen(w);
    const char *p = codes;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, w, n) == 0)
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

int loinc_specimen_match(const char *system, const char *specimen)
{
    char sys[128], want[128];
    lc_norm(system, strlen(system), sys, sizeof sys);
    lc_norm(specimen, strlen(specimen), want, sizeof want);
    if (want[0] == '\0')
        return 1;
    if (strcmp(sys, want) == 0)
        return 1;
    /* acceptable system codes for the specimen: each '/' part of it, mapped */
    char codes[512] = "";
    size_t used = 0;
    const char *p = specimen;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char part[64];
        lc_norm(p, len, part, sizeof part);
        const char *mapped = part;
        for (size_t i = 0; i < sizeof lc_specimens / sizeof lc_specimens[0]; i++)
            if (strcmp(part, lc_specimens[i].word) == 0) {
                mapped = lc_specimens[i].codes;
                break;
            }
        int n = snprintf(codes + used, sizeof codes - used, "%s%s", used ? " " : "", mapped);
        if (n < 0 || (size_t)n >= sizeof codes - used)
            break;
        used += (size_t)n;
        if (e == NULL)
            break;
        p = e + 1;
    }
    /* each '/' part of the system, first word only ("Urine sed" -> "urine") */
    p = system;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t w = 0;
        while (w < len && p[w] == ' ')
            w++;
        size_t s0 = w;
        while (w < len && p[w] != ' ')
            w++;
        char word[64];
        lc_norm(p + s0, w - s0, word, sizeof word);
        if (word[0] != '\0' && lc_in_list(codes, word))
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

enum lc_kind { LC_K_NONE, LC_K_MASS, LC_K_SUBST, LC_K_CAT, LC_K_ARB, LC_K_COUNT, LC_K_VOL,
               LC_K_TIME, LC_K_LEN };

/* Kind of a simple unit atom ("mg", "mmol", "l", "h", "10*9", "{cells}"). */
static enum lc_kind lc_atom_kind(const char *a)
{
    static const char *mass[] = {"kg", "g", "mg", "ug", "ng", "pg", "fg", NULL};
    static const char *subst[] = {"mol", "mmol", "umol", "nmol", "pmol", "fmol",
                                  "eq", "meq", "ueq", "osm", "mosm", NULL};
    static const char *cat[] = {"u", "mu", "ku", "kat", "ukat", "nkat", NULL};
    static const char *arb[] = {"iu", "[iu]", "miu", "m[iu]", "[miu]", "uiu", "u[iu]",
                                "[arb'u]", "[au]", NULL};
    static const char *vol[] = {"l", "dl", "ml", "ul", "nl", "fl", "cl", NULL};
    static const char *tim[] = {"s", "min", "h", "d", "wk", "24.h", "(24.h)", "24h", NULL};
    static const char *len[] = {"m", "cm", "mm", "um", NULL};
    static const struct {
        const char **list;
        enum lc_kind kind;
    } tables[] = {{mass, LC_K_MASS}, {subst, LC_K_SUBST}, {cat, LC_K_CAT}, {arb, LC_K_ARB},
                  {vol, LC_K_VOL},   {tim, LC_K_TIME},   {len, LC_K_LEN}};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const char **s = tables[t].list; *s; s++)
            if (strcmp(a, *s) == 0)
                return tables[t].kind;
    if (a[0] == '\0' || strcmp(a, "#") == 0 || strcmp(a, "{#}") == 0 ||
        strncmp(a, "10*", 3) == 0 || strncmp(a, "10^", 3) == 0 || strcmp(a, "{cells}") == 0 ||
        strcmp(a, "cells") == 0 || strcmp(a, "{copies}") == 0 || strcmp(a, "copies") == 0)
        return LC_K_COUNT;
    return LC_K_NONE;
}

/* Normalise a unit: lower case, no spaces, µ/μ/mc -> u. */
static void lc_unit_norm(const char *u, char *d, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; u[i] && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char)u[i];
        if (ch == ' ')
            continue;
        if ((ch == 0xC2 && (unsigned char)u[i + 1] == 0xB5) ||   /* U+00B5 micro sign */
            (ch == 0xCE && (unsigned char)u[i + 1] == 0xBC)) {   /* U+03BC mu */
            d[o++] = 'u';
            i++;
            continue;
        }
        d[o++] = (char)tolower(ch);
    }
    d[o] = '\0';
    /* "mcg" -> "ug" */
    char *m = strstr(d, "mcg");
    if (m != NULL) {
        m[0] = 'u';
        memmove(m + 1, m + 2, strlen(m + 2) + 1);
    }
}

/* The LOINC properties a unit is evidence for, space-separated; NULL if unknown. */
static const char *lc_unit_props(const char *unit)
{
    char u[64];
    lc_unit_norm(unit, u, sizeof u);
    static const struct {
        const char *unit;
        const char *props;
    } special[] = {
        {"%", "mfr nfr vfr sfr cfr afr mfr.df nfr.df relmcnc relscnc relccnc relacnc"},
        {"fl", "entvol"},          {"pg", "entmass mass"},    {"mm[hg]", "pres ppres"},
        {"mmhg", "pres ppres"},    {"mm/h", "vel"},           {"[ph]", "lscnc"},
        {"ph", "lscnc"},           {"{titer}", "titr"},       {"titer", "titr"},
        {"{ratio}", "ratio mrto srto vrto"}, {"ratio", "ratio mrto srto vrto"},
        {"mosm/kg", "osmol"},      {"mosm/l", "osmol"},       {"cm/s", "vel"},
        {"mg/g", "mrto mcnt"},     {"mmol/mol", "srto sfr"},  {"mg/mmol", "mscrto mrto"},
        {"s", "time"},             {"sec", "time"},           {"min", "time"},
        {"h", "time"},             {"{index}", "index"},      {"/[hpf]", "naric"},
        {"/[lpf]", "naric"},       {"[arb'u]/ml", "acnc"},
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcmp(u, special[i].unit) == 0)
            return special[i].props;
    char *slash = strchr(u, '/');
    char num[32], den[32];
    size_t nl = slash ? (size_t)(slash - u) : strlen(u);
    if (nl >= sizeof num)
        return NULL;
    memcpy(num, u, nl);
    num[nl] = '\0';
    snprintf(den, sizeof den, "%s", slash ? slash + 1 : "");
    /* "(24.h)" / "24.h" and "10.l"-style factors: keep the atom after the dot */
    char *dot = strrchr(den, '.');
    if (dot != NULL && den[0] != '(')
        memmove(den, dot + 1, strlen(dot + 1) + 1);
    enum lc_kind kn = lc_atom_kind(num);
    enum lc_kind kd = slash ? lc_atom_kind(den) : LC_K_NONE;
    if (!slash) {
        switch (kn) {
        case LC_K_MASS: return "mass mcnt";
        case LC_K_SUBST: return "sub scnt";
        case LC_K_VOL: return "vol";
        case LC_K_TIME: return "time";
        case LC_K_ARB: return "acnc acnt";
        case LC_K_CAT: return "cact ccnc";
        default: return NULL;
        }
    }
    if (kd == LC_K_VOL) {
        switch (kn) {
        case LC_K_MASS: return "mcnc";
        case LC_K_SUBST: return "scnc osmol";
        case LC_K_CAT: return "ccnc";
        case LC_K_ARB: return "acnc ccnc";
        case LC_K_COUNT: return "ncnc";
        case LC_K_VOL: return "vfr";
        default: return NULL;
        }
    }
    if (kd == LC_K_MASS) {
        switch (kn) {
        case LC_K_MASS: return "mcnt mrto";
        case LC_K_SUBST: return "scnt srto osmol";
        case LC_K_CAT: return "ccnt";
        case LC_K_ARB: return "acnt";
        case LC_K_COUNT: return "ncnt";
        default: return NULL;
        }
    }
    if (kd == LC_K_TIME) {
        switch (kn) {
        case LC_K_MASS: return "mrat";
        case LC_K_SUBST: return "srat";
        case LC_K_VOL: return "vrat";
        case LC_K_CAT: return "crat";
        case LC_K_COUNT: return "nrat";
        case LC_K_LEN: return "vel";
        default: return NULL;
        }
    }
    if (kd == LC_K_SUBST && kn == LC_K_SUBST)
        return "srto sfr";
    return NULL;
}

int loinc_unit_match(const char *property, const char *example_units, const char *unit,
                     int *known)
{
    char a[64], b[64];
    *known = 1;
    if (unit == NULL || unit[0] == '\0')
        return 1;
    lc_unit_norm(unit, a, sizeof a);
    lc_unit_norm(example_units, b, sizeof b);
    if (b[0] != '\0' && strcmp(a, b) == 0)
        return 1;
    const char *props = lc_unit_props(unit);
    if (props == NULL) {
        *known = 0;
        return 1;
    }
    char p[32];
    lc_norm(property, strlen(property), p, sizeof p);
    return p[0] != '\0' && lc_in_list(props, p);
}

/* ------------------------------------------------------------------------ */
/* Search                                                                    */

/*
** Filter decisions depend only on a row's system / property / units strings,
** and a LOINC index holds few distinct ones (the writer stores each distinct
** string once), so decisions are cached by the strings' blob offsets.
*/
#define LC_CACHE_SIZE 8192 /* power of two */

struct lc_cache_slot {
    uint32_t a, b;   /* offsets (system) or (property, units) */
    int8_t value;    /* -1 empty, else 0/1 */
    int8_t known;
};

static struct lc_cache_slot *lc_cache_get(struct lc_cache_slot *c, uint32_t a, uint32_t b)
{
    uint32_t h = (a * 2654435761u) ^ (b * 40503u);
    for (uint32_t probe = 0; probe < 16; probe++) {
        struct lc_cache_slot *s = &c[(h + probe) & (LC_CACHE_SIZE - 1)];
        if (s->value < 0 || (s->a == a && s->b == b)) {
            s->a = a;
            s->b = b;
            return s;
        }
    }
    return NULL; /* crowded: compute without caching */
}

/* Blob offset of field f of row i (the reader validated it). */
static uint32_t lc_offset(const struct index *idx, size_t i, int f)
{
    return idx->offsets[(i + 1) * (size_t)idx->n_fields + (size_t)f];
}

int loinc_search(const struct index *idx, const float *qvec, const struct loinc_query *q,
                 struct loinc_hit *hits, size_t *n_hits, int *unit_known, struct mlw_err *err)
{
    *n_hits = 0;
    if (unit_known != NULL)
        *unit_known = 1;
    int f_system = index_field_index(idx, "system");
    int f_property = index_field_index(idx, "property");
    int f_units = index_field_index(idx, "units");
    if (index_field_index(idx, "code") < 0 || f_system < 0 || f_property < 0 || f_units < 0)
        return mlw_err_set(err, MLW_EFORMAT, "%s: not a LOINC index (no code/system/property/"
                           "units metadata)", idx->label);
    size_t n = idx->count;
    int by_specimen = q->specimen != NULL && q->specimen[0] != '\0';
    int by_unit = q->unit != NULL && q->unit[0] != '\0';
    int filtering = by_specimen || by_unit;
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    size_t *top = malloc((q->k ? q->k : 1) * sizeof *top);
    uint8_t *keep = filtering ? malloc(n ? n : 1) : NULL;
    struct lc_cache_slot *spec_cache = by_specimen ? malloc(LC_CACHE_SIZE * sizeof *spec_cache)
                                                   : NULL;
    struct lc_cache_slot *unit_cache = by_unit ? malloc(LC_CACHE_SIZE * sizeof *unit_cache)
                                               : NULL;
    int rc = MLW_OK;
    if (scores == NULL || top == NULL || (filtering && keep == NULL) ||
        (by_specimen && spec_cache == NULL) || (by_unit && unit_cache == NULL)) {
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for %zu scores", n);
        goto out;
    }
    for (int c = 0; c < LC_CACHE_SIZE; c++) {
        if (spec_cache != NULL)
            spec_cache[c].value = -1;
        if (unit_cache != NULL)
            unit_cache[c].value = -1;
    }
    rc = index_search(idx, qvec, scores, err);
    int known = 1;
    for (size_t i = 0; rc == MLW_OK && filtering && i < n; i++) {
        int ok = 1;
        if (by_specimen) {
            uint32_t o = lc_offset(idx, i, f_system);
            struct lc_cache_slot *slot = lc_cache_get(spec_cache, o, 0);
            if (slot != NULL && slot->value >= 0) {
                ok = slot->value;
            } else {
                ok = loinc_specimen_match(idx->blob + o, q->specimen);
                if (slot != NULL)
                    slot->value = (int8_t)ok;
            }
        }
        if (ok && by_unit) {
            uint32_t op = lc_offset(idx, i, f_property), ou = lc_offset(idx, i, f_units);
            struct lc_cache_slot *slot = lc_cache_get(unit_cache, op, ou);
            int kn;
            if (slot != NULL && slot->value >= 0) {
                ok = slot->value;
                kn = slot->known;
            } else {
                ok = loinc_unit_match(idx->blob + op, idx->blob + ou, q->unit, &kn);
                if (slot != NULL) {
                    slot->value = (int8_t)ok;
                    slot->known = (int8_t)kn;
                }
            }
            if (!kn)
                known = 0;
        }
        keep[i] = (uint8_t)ok;
    }
    if (rc == MLW_OK) {
        size_t m = index_top_k(scores, n, keep, q->k, top);
        for (size_t i = 0; i < m; i++) {
            hits[i].row = top[i];
            hits[i].score = scores[top[i]];
        }
        *n_hits = m;
    }
    if (unit_known != NULL)
        *unit_known = known;
out:
    free(scores);
    free(keep);
    free(top);
    free(spec_cache);
    free(unit_cache);
    return rc;
}
