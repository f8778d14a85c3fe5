/*
 * labcat.c - throughput of the lab test name matcher (domain/labcat.h).
 * Built as bench_labcat (CMakeLists.txt); run by bench/labcat.
 *
 *   bench_labcat [EVAL_TSV] [N]
 *
 * 1. Loads the embedded catalog (data/lab_catalog.txt) and the labelled
 *    evaluation names (default tests/data/lab_eval.tsv, with their report
 *    section as context), warms up, then categorizes N (default 1 000 000)
 *    names drawn round-robin, 3 times; reports the median names/s (wall,
 *    CLOCK_MONOTONIC) and CPU seconds (CLOCK_PROCESS_CPUTIME_ID).
 * 2. Builds a catalog 10x larger through labcat_load(): the real text plus
 *    9 renamed copies of every test whose canonical name and synonyms are
 *    distinct synthetic words (same category, specimen, unit, flags and
 *    synonym/word counts; no loinc or seed lines), and measures again.
 * 3. Same-run baseline: a plain strcmp linear scan of each name over every
 *    synonym string of the catalog (what a non-indexed lookup costs), on
 *    both catalogs.
 * 4. Correctness: each evaluation name's category and test code from the
 *    big catalog must equal those from the real one (mismatch count).
 * Peak RSS from getrusage(RUSAGE_SELF).ru_maxrss at the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "domain/labcat.h"
#include "jobs/labs_job.h"

#define COPIES 9
#define RUNS 3

struct evname {
    char *name;
    size_t len;
    char *context; /* NULL when the name alone decides */
};

struct buf {
    char *p;
    size_t len, cap;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_labcat: %s\n", what);
    exit(1);
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            die("out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static double now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- evaluation names ---------------------------------------------------- */

static struct evname *read_eval(const char *path, size_t *count)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open the evaluation set");
    struct evname *v = NULL;
    size_t n = 0, cap = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab1 = strchr(line, '\t');
        if (!tab1)
            continue;
        *tab1 = '\0';
        char *tab2 = strchr(tab1 + 1, '\t');
        const char *ctx = tab2 ? tab2 + 1 : "";
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct evname *nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                die("out of memory");
            v = nv;
        }
        v[n].name = strdup(line);
        v[n].len = strlen(line);
        v[n].context = *ctx ? strdup(ctx) : NULL;
        if (!v[n].name || (*ctx && !v[n].context))
            die("out of memory");
        n++;
    }
    fclose(f);
    *count = n;
    return v;
}

/* ---- the synthetic catalog ---------------------------------------------- */

/* Distinct synthetic words: "qz" + 5 letters from an alphabet without
 * vowels, 's' (plural folding) or single-letter runs, so that no word is a
 * real one, a British spelling, or within two edits of a real word. */
static void synth_word(unsigned long id, char out[16])
{
    static const char A[] = "bcdfghjklmnprtvwxz"; /* 18 letters */
    int i = 0;
    out[i++] = 'q';
    out[i++] = 'z';
    for (int k = 0; k < 5; k++) {
        out[i++] = A[id % 18];
        id /= 18;
    }
    out[i] = '\0';
}

static unsigned long word_counter;

static void add_synth_words(struct buf *b, int nwords)
{
    char w[16];
    for (int i = 0; i < nwords; i++) {
        synth_word(word_counter++, w);
        if (i)
            buf_str(b, " ");
        buf_str(b, w);
    }
}

static int count_words(const char *s, const char *e)
{
    int n = 0, in = 0;
    for (; s < e; s++) {
        int sp = (*s == ' ' || *s == '\t' || *s == '-' || *s == '/' || *s == '(' || *s == ')' ||
                  *s == ',' || *s == '.');
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n ? n : 1;
}

/* The field [s, e) with blanks trimmed, as a new string. */
static char *trimdup(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    char *r = malloc((size_t)(e - s) + 1);
    if (!r)
        die("out of memory");
    memcpy(r, s, (size_t)(e - s));
    r[e - s] = '\0';
    return r;
}

/* All synonym strings of a catalog text ("syn a; b; c" lines), for the
 * linear-scan baseline. */
struct strlist {
    char **v;
    size_t n, cap;
};

static void strlist_add(struct strlist *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        char **nv = realloc(l->v, l->cap * sizeof *nv);
        if (!nv)
            die("out of memory");
        l->v = nv;
    }
    l->v[l->n++] = s;
}

static void collect_synonyms(const char *text, size_t len, struct strlist *out)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t'))
            q++;
        if (le - q > 4 && strncmp(q, "syn ", 4) == 0) {
            q += 4;
            while (q < le) {
                const char *semi = memchr(q, ';', (size_t)(le - q));
                const char *fe = semi ? semi : le;
                char *s = trimdup(q, fe);
                if (*s)
                    strlist_add(out, s);
                else
                    free(s);
                q = semi ? semi + 1 : le;
            }
        }
        p = nl ? nl + 1 : end;
    }
}

/* The real catalog text followed by COPIES renamed copies of every test. */
static char *build_big_text(const char *text, size_t len, size_t *out_len)
{
    struct buf b = {0};
    buf_add(&b, text, len);
    if (len && text[len - 1] != '\n')
        buf_str(&b, "\n");
    for (int k = 1; k <= COPIES; k++) {
        const char *p = text, *end = text + len;
        int in_test = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *q = p;
            while (q < le && (*q == ' ' || *q == '\t'))
                q++;
            if (le - q > 5 && strncmp(q, "test ", 5) == 0) {
                /* test CODE | Name | CAT | specimen | unit */
                const char *f[5];
                const char *fe[5];
                int nf = 0;
                const char *s = q + 5;
                while (nf < 5) {
                    const char *bar = memchr(s, '|', (size_t)(le - s));
                    f[nf] = s;
                    fe[nf] = bar ? bar : le;
                    nf++;
                    if (!bar)
                        break;
                    s = bar + 1;
                }
                if (nf < 5)
                    die("unexpected test line in the catalog");
                char *code = trimdup(f[0], fe[0]);
                char tmp[64];
                snprintf(tmp, sizeof tmp, "test %sQ%d | ", code, k);
                free(code);
                buf_str(&b, tmp);
                add_synth_words(&b, 2);
                for (int i = 2; i < 5; i++) {
                    buf_str(&b, " |");
                    buf_add(&b, f[i], (size_t)(fe[i] - f[i]));
                }
                buf_str(&b, "\n");
                in_test = 1;
            } else if (in_test && le - q > 4 && strncmp(q, "syn ", 4) == 0) {
                buf_str(&b, "  syn ");
                const char *s = q + 4;
                int first = 1;
                while (s < le) {
                    const char *semi = memchr(s, ';', (size_t)(le - s));
                    const char *se = semi ? semi : le;
                    if (se > s) {
                        if (!first)
                            buf_str(&b, "; ");
                        add_synth_words(&b, count_words(s, se));
                        first = 0;
                    }
                    s = semi ? semi + 1 : le;
                }
                buf_str(&b, "\n");
            } else if (in_test && le - q > 6 && strncmp(q, "flags ", 6) == 0) {
                buf_str(&b, "  ");
                buf_add(&b, q, (size_t)(le - q));
                buf_str(&b, "\n");
            } else if (le - q > 9 && strncmp(q, "category ", 9) == 0) {
                in_test = 0;
            }
            /* loinc and seed lines are not copied: seeds belong to the
             * original rows, and the copies need no LOINC code. */
            p = nl ? nl + 1 : end;
        }
    }
    *out_len = b.len;
    return b.p;
}

/* ---- timing ------------------------------------------------------------- */

static volatile long sink;

struct timing {
    double wall, cpu;
};

static struct timing run_labcat(const struct labcat *c, const struct evname *ev, size_t nev,
                                long n)
{
    struct labcat_result r;
    long acc = 0;
    size_t i = 0;
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (long k = 0; k < n; k++) {
        labcat_match(c, ev[i].name, ev[i].len, ev[i].context, &r);
        acc += r.test;
        if (++i == nev)
            i = 0;
    }
    struct timing t = {now(CLOCK_MONOTONIC) - w0, now(CLOCK_PROCESS_CPUTIME_ID) - c0};
    sink = acc;
    return t;
}

static struct timing run_scan(const struct strlist *syn, const struct evname *ev, size_t nev,
                              long n)
{
    long acc = 0;
    size_t i = 0;
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (long k = 0; k < n; k++) {
        const char *name = ev[i].name;
        long hit = -1;
        for (size_t s = 0; s < syn->n; s++)
            if (strcmp(name, syn->v[s]) == 0) {
                hit = (long)s;
                break;
            }
        acc += hit;
        if (++i == nev)
            i = 0;
    }
    struct timing t = {now(CLOCK_MONOTONIC) - w0, now(CLOCK_PROCESS_CPUTIME_ID) - c0};
    sink = acc;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of RUNS runs, as names/s; *cpu_out: the median run's CPU s. */
static double measure(int scan, const struct labcat *c, const struct strlist *syn,
                      const struct evname *ev, size_t nev, long n, double *cpu_out,
                      double *wall_out)
{
    double rate[RUNS], cpu[RUNS], wall[RUNS];
    /* warm-up: one pass over the names (a few for the cheap matcher) */
    if (scan)
        run_scan(syn, ev, nev, (long)nev);
    else
        run_labcat(c, ev, nev, (long)nev * 20);
    for (int r = 0; r < RUNS; r++) {
        struct timing t = scan ? run_scan(syn, ev, nev, n) : run_labcat(c, ev, nev, n);
        rate[r] = (double)n / t.wall;
        cpu[r] = t.cpu;
        wall[r] = t.wall;
    }
    double sorted[RUNS];
    memcpy(sorted, rate, sizeof sorted);
    qsort(sorted, RUNS, sizeof sorted[0], cmp_double);
    for (int r = 0; r < RUNS; r++)
        if (rate[r] == sorted[RUNS / 2]) {
            *cpu_out = cpu[r];
            *wall_out = wall[r];
        }
    return sorted[RUNS / 2];
}

static void report(const char *label, double rate, double wall, double cpu, long n)
{
    printf("%-34s %12.0f names/s  (median of %d; %ld names in %.3f s wall, %.3f s CPU "
           "= %.0f names/CPU-s, %.2f us/name)\n",
           label, rate, RUNS, n, wall, cpu, cpu > 0 ? (double)n / cpu : 0.0, 1e6 / rate);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/data/lab_eval.tsv";
    long n = argc > 2 ? atol(argv[2]) : 1000000L;
    if (n <= 0)
        die("N must be positive");

    size_t nev = 0;
    struct evname *ev = read_eval(path, &nev);
    if (nev == 0)
        die("no names in the evaluation set");

    struct mlw_err err = {0};
    struct labcat *real = NULL, *big = NULL;
    double t0 = now(CLOCK_MONOTONIC);
    if (labcat_load(mlw_lab_catalog_text, mlw_lab_catalog_len, &real, &err) != 0) {
        fprintf(stderr, "real catalog: %s\n", err.msg);
        return 1;
    }
    double load_real = now(CLOCK_MONOTONIC) - t0;

    size_t big_len = 0;
    char *big_text = build_big_text(mlw_lab_catalog_text, mlw_lab_catalog_len, &big_len);
    t0 = now(CLOCK_MONOTONIC);
    if (labcat_load(big_text, big_len, &big, &err) != 0) {
        fprintf(stderr, "synthetic catalog: %s\n", err.msg);
        return 1;
    }
    double load_big = now(CLOCK_MONOTONIC) - t0;

    struct strlist syn_real = {0}, syn_big = {0};
    collect_synonyms(mlw_lab_catalog_text, mlw_lab_catalog_len, &syn_real);
    collect_synonyms(big_text, big_len, &syn_big);

    printf("evaluation names: %zu (%s), drawn round-robin\n", nev, path);
    printf("real catalog:      %zu tests, %zu synonym strings, %zu bytes, loaded in %.2f ms\n",
           labcat_ntests(real), syn_real.n, mlw_lab_catalog_len, load_real * 1e3);
    printf("synthetic catalog: %zu tests (%.1fx), %zu synonym strings, %zu bytes, loaded in "
           "%.2f ms\n",
           labcat_ntests(big), (double)labcat_ntests(big) / (double)labcat_ntests(real),
           syn_big.n, big_len, load_big * 1e3);

    /* correctness: same category and test code from both catalogs */
    size_t mismatches = 0, matched = 0;
    for (size_t i = 0; i < nev; i++) {
        struct labcat_result a, b;
        labcat_match(real, ev[i].name, ev[i].len, ev[i].context, &a);
        labcat_match(big, ev[i].name, ev[i].len, ev[i].context, &b);
        const char *ca = a.code ? a.code : "", *cb = b.code ? b.code : "";
        if (a.kind != LABCAT_NONE)
            matched++;
        if (strcmp(a.category, b.category) != 0 || strcmp(ca, cb) != 0) {
            if (mismatches < 10)
                printf("  mismatch: \"%s\": real %s/%s, big %s/%s\n", ev[i].name, a.category,
                       ca, b.category, cb);
            mismatches++;
        }
    }
    printf("categorized by the real catalog: %zu of %zu names\n", matched, nev);
    printf("mismatches big vs real catalog: %zu of %zu names\n\n", mismatches, nev);

    double cpu = 0, wall = 0;
    double r_real = measure(0, real, NULL, ev, nev, n, &cpu, &wall);
    report("labcat_match, real catalog", r_real, wall, cpu, n);
    double r_big = measure(0, big, NULL, ev, nev, n, &cpu, &wall);
    report("labcat_match, 10x catalog", r_big, wall, cpu, n);

    /* the scan is slow: fewer names, still a median of RUNS */
    long ns = n / 10 > (long)nev ? n / 10 : (long)nev;
    double s_real = measure(1, NULL, &syn_real, ev, nev, ns, &cpu, &wall);
    report("strcmp linear scan, real catalog", s_real, wall, cpu, ns);
    double s_big = measure(1, NULL, &syn_big, ev, nev, ns, &cpu, &wall);
    report("strcmp linear scan, 10x catalog", s_big, wall, cpu, ns);

    printf("\nratio 10x/real throughput: labcat_match %.3f, strcmp linear scan %.3f\n",
           r_big / r_real, s_big / s_real);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %ld KiB\n", ru.ru_maxrss);

    labcat_free(real);
    labcat_free(big);
    free(big_text);
    for (size_t i = 0; i < syn_real.n; i++)
        free(syn_real.v[i]);
    for (size_t i = 0; i < syn_big.n; i++)
        free(syn_big.v[i]);
    free(syn_real.v);
    free(syn_big.v);
    for (size_t i = 0; i < nev; i++) {
        free(ev[i].name);
        free(ev[i].context);
    }
    free(ev);
    return mismatches ? 2 : 0;
}
