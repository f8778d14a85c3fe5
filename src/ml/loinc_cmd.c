/*
 * loinc_cmd.c - `mlworker loinc build|search|info`: the LOINC vector index
 * from the command line. Argument handling, file reading, progress and
 * printing; the work is in loinc.c, index.c and embed.c.
 *
 *   loinc build --loinc Loinc.csv --model DIR --out loinc.idx [options]
 *   loinc search [--index F] [--model DIR] [--specimen S] [--unit U] [-k N] QUERY...
 *   loinc info [--index F]
 *   loinc calibrate --labeled FILE [--model DIR] [--index F] [--target-precision P] [--json]
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/signals.h"
#include "domain/labcat.h"
#include "ml/calibrate.h"
#include "ml/embed.h"
#include "ml/index.h"
#include "ml/labmap.h"
#include "ml/loinc.h"
#include "ml/mlctx.h"

#define LC_TEXT_MAX 4096

static double lc_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double lc_now(void) { return lc_clock(CLOCK_MONOTONIC); }

static int lc_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Read a whole file into a malloc'd buffer. */
static int lc_read_file(const char *path, char **out, size_t *len, struct mlw_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mlw_err_set(err, errno == ENOENT ? MLW_ENOTFOUND : MLW_EIO,
                           "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return mlw_err_set(err, MLW_EIO, "%s: not a readable regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory for %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != size) {
        free(buf);
        return mlw_err_set(err, MLW_EIO, "%s: short read", path);
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return MLW_OK;
}

static void lc_fmt_duration(double s, char *buf, size_t cap)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lds", t);
}

/* Progress on stderr: a redrawn bar on a terminal, else a line every 10 s / 10 %. */
struct lc_progress {
    size_t total, start_done;
    double t0, last;
    int tty;
    size_t last_decile;
};

static void lc_progress_show(struct lc_progress *p, size_t done, int final)
{
    double now = lc_now();
    size_t decile = p->total ? done * 10 / p->total : 10;
    if (!final) {
        if (p->tty && now - p->last < 0.25)
            return;
        if (!p->tty && now - p->last < 10.0 && decile == p->last_decile)
            return;
    }
    p->last = now;
    p->last_decile = decile;
    double el = now - p->t0;
    double rate = el > 0 ? (double)(done - p->start_done) / el : 0.0;
    char eta[32] = "?", elapsed[32];
    if (rate > 0)
        lc_fmt_duration((double)(p->total - done) / rate, eta, sizeof eta);
    lc_fmt_duration(el, elapsed, sizeof elapsed);
    double frac = p->total ? (double)done / (double)p->total : 1.0;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30.0);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu %5.1f%%  %.0f terms/s  %s  ETA %s   ", bar, done,
                p->total, 100.0 * frac, rate, elapsed, final ? "0s" : eta);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "loinc build: %zu/%zu (%.1f%%), %.0f terms/s, elapsed %s, ETA %s\n",
                done, p->total, 100.0 * frac, rate, elapsed, final ? "0s" : eta);
    }
}

/* ------------------------------------------------------------------------ */
/* build                                                                     */

static void lc_build_usage(FILE *f)
{
    fputs("usage: mlworker loinc build --loinc Loinc.csv --model DIR --out loinc.idx [options]\n"
          "  --loinc FILE       LOINC table (LoincTable/Loinc.csv or LoincTableCore.csv)\n"
          "  --model DIR        Hugging Face BERT model directory (default ML_WORKER_MODEL_DIR)\n"
          "  --out FILE         index to write (default ML_WORKER_LOINC_INDEX, else loinc.idx);\n"
          "                     FILE.partial holds an unfinished build\n"
          "  --dtype D          encoder weights fp32|bf16|int8 (default ML_WORKER_MODEL_DTYPE)\n"
          "  --vectors T        stored vectors f32 (default) or int8 (4x smaller)\n"
          "  --status LIST      statuses to keep (default ACTIVE,TRIAL; ALL for every one)\n"
          "  --all-classes      keep clinical, attachment and survey terms too\n"
          "                     (default: CLASSTYPE 1, laboratory)\n"
          "  --limit N          index only the first N selected terms\n"
          "  --batch N          texts per encoder call (default 64)\n"
          "  --threads N        encoder threads (default ML_WORKER_THREADS or the cores)\n"
          "  --no-resume        start over even if FILE.partial matches\n"
          "An interrupted build (Ctrl-C, kill, crash) resumes where it stopped when run again\n"
          "with the same table, selection and model.\n",
          f);
}

static int lc_build(int argc, char **argv)
{
    const char *csv_path = NULL, *out = getenv("ML_WORKER_LOINC_INDEX");
    const char *model = getenv("ML_WORKER_MODEL_DIR");
    struct bert_opts opts = {0};
    struct loinc_filter filter = {0};
    enum index_dtype vdtype = INDEX_DTYPE_F32;
    long batch = 64;
    int resume = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            lc_build_usage(stdout);
            return 0;
        } else if (strcmp(a, "--all-classes") == 0) {
            filter.all_classes = 1;
        } else if (strcmp(a, "--no-resume") == 0) {
            resume = 0;
        } else if (v == NULL) {
            fprintf(stderr, "loinc build: unexpected argument '%s'\n", a);
            lc_build_usage(stderr);
            return 2;
        } else if (strcmp(a, "--loinc") == 0) {
            csv_path = argv[++i];
        } else if (strcmp(a, "--model") == 0) {
            model = argv[++i];
        } else if (strcmp(a, "--out") == 0) {
            out = argv[++i];
        } else if (strcmp(a, "--dtype") == 0) {
            if (bert_dtype_parse(argv[++i], &opts.dtype) != MLW_OK) {
                fprintf(stderr, "loinc build: --dtype must be fp32, bf16 or int8\n");
                return 2;
            }
        } else if (strcmp(a, "--vectors") == 0) {
            i++;
            if (strcmp(v, "f32") == 0 || strcmp(v, "fp32") == 0)
                vdtype = INDEX_DTYPE_F32;
            else if (strcmp(v, "int8") == 0)
                vdtype = INDEX_DTYPE_INT8;
            else {
                fprintf(stderr, "loinc build: --vectors must be f32 or int8\n");
                return 2;
            }
        } else if (strcmp(a, "--status") == 0) {
            if (loinc_status_parse(argv[++i], &filter.statuses) != 0) {
                fprintf(stderr, "loinc build: --status takes a comma-separated list of "
                                "ACTIVE, TRIAL, DISCOURAGED, DEPRECATED (or ALL)\n");
                return 2;
            }
        } else if (strcmp(a, "--limit") == 0) {
            if (lc_parse_long(argv[++i], 1, LONG_MAX, &n) != 0) {
                fprintf(stderr, "loinc build: --limit must be a positive integer\n");
                return 2;
            }
            filter.limit = (size_t)n;
        } else if (strcmp(a, "--batch") == 0) {
            if (lc_parse_long(argv[++i], 1, 4096, &batch) != 0) {
                fprintf(stderr, "loinc build: --batch must be 1..4096\n");
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0) {
            if (lc_parse_long(argv[++i], 1, 256, &n) != 0) {
                fprintf(stderr, "loinc build: --threads must be 1..256\n");
                return 2;
            }
            opts.n_threads = (int)n;
        } else {
            fprintf(stderr, "loinc build: unexpected argument '%s'\n", a);
            lc_build_usage(stderr);
            return 2;
        }
    }
    if (csv_path == NULL || model == NULL || model[0] == '\0') {
        fprintf(stderr, "loinc build: --loinc FILE and --model DIR are required\n");
        lc_build_usage(stderr);
        return 2;
    }
    if (out == NULL || out[0] == '\0')
        out = "loinc.idx";

    struct mlw_err err = {0};
    char *csv = NULL;
    size_t csv_len = 0;
    struct loinc_table table;
    memset(&table, 0, sizeof table);
    struct embed_model *e = NULL;
    struct index_writer *w = NULL;
    char **texts = NULL;
    float *vecs = NULL;
    const char **fields = NULL;
    int status = 1;

    if (lc_read_file(csv_path, &csv, &csv_len, &err) != MLW_OK ||
        loinc_table_parse(csv, csv_len, csv_path, &filter, &table, &err) != MLW_OK) {
        fprintf(stderr, "loinc build: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr,
            "loinc build: %s: %zu rows, %zu selected (%zu other classes, %zu by status)\n",
            csv_path, table.rows, table.count, table.skipped_class, table.skipped_status);
    if (table.count == 0) {
        fprintf(stderr, "loinc build: no terms selected; nothing to index\n");
        goto out;
    }
    if (embed_open(model, &opts, &e, &err) != MLW_OK) {
        fprintf(stderr, "loinc build: %s\n", err.msg);
        goto out;
    }

    struct index_info info;
    memset(&info, 0, sizeof info);
    info.dim = embed_dim(e);
    info.dtype = vdtype;
    info.build_key = loinc_table_key(&table);
    snprintf(info.model_id, sizeof info.model_id, "%s", embed_model_id(e));
    snprintf(info.model_dtype, sizeof info.model_dtype, "%s",
             bert_dtype_name(bert_dtype(embed_bert(e))));
    char absdir[PATH_MAX];
    if (realpath(model, absdir) != NULL && strlen(absdir) < sizeof info.model_dir)
        memcpy(info.model_dir, absdir, strlen(absdir) + 1); /* else: no hint recorded */
    size_t done = 0;
    char note[600];
    if (index_writer_open(out, &info, resume, &w, &done, note, sizeof note, &err) != MLW_OK) {
        fprintf(stderr, "loinc build: %s\n", err.msg);
        goto out;
    }
    if (note[0] != '\0')
        fprintf(stderr, "loinc build: starting over: %s\n", note);
    else if (done > 0)
        fprintf(stderr, "loinc build: resuming %s.partial at term %zu of %zu\n", out, done,
                table.count);
    fprintf(stderr, "loinc build: model %s (%s weights, %d threads, %s), %d-dim %s vectors\n",
            embed_model_id(e), info.model_dtype, bert_threads(embed_bert(e)),
            bert_kernel_name(embed_bert(e)), info.dim,
            vdtype == INDEX_DTYPE_F32 ? "f32" : "int8");

    texts = calloc((size_t)batch, sizeof *texts);
    vecs = malloc((size_t)batch * (size_t)info.dim * sizeof *vecs);
    if (texts == NULL || vecs == NULL) {
        fprintf(stderr, "loinc build: out of memory\n");
        goto out;
    }
    for (long i = 0; i < batch; i++) {
        texts[i] = malloc(LC_TEXT_MAX);
        if (texts[i] == NULL) {
            fprintf(stderr, "loinc build: out of memory\n");
            goto out;
        }
    }
    signals_install();
    struct lc_progress prog = {.total = table.count, .start_done = done, .t0 = lc_now(),
                               .tty = isatty(STDERR_FILENO), .last_decile = (size_t)-1};
    while (done < table.count) {
        if (signals_stop_requested()) {
            fprintf(stderr, "\nloinc build: interrupted at %zu of %zu; run the same command "
                            "again to resume\n", done, table.count);
            status = 130;
            goto out;
        }
        size_t k = table.count - done < (size_t)batch ? table.count - done : (size_t)batch;
        for (size_t j = 0; j < k; j++)
            loinc_term_text(&table.terms[done + j], texts[j], LC_TEXT_MAX);
        if (embed_texts(e, (const char *const *)texts, NULL, (int)k, vecs, &err) != MLW_OK ||
            index_writer_append(w, vecs, k, &err) != MLW_OK) {
            fprintf(stderr, "\nloinc build: %s\n", err.msg);
            goto out;
        }
        done += k;
        lc_progress_show(&prog, done, done == table.count);
    }
    if (prog.start_done == table.count)
        lc_progress_show(&prog, done, 1);

    fields = malloc(table.count * LOINC_N_FIELDS * sizeof *fields);
    if (fields == NULL) {
        fprintf(stderr, "loinc build: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < table.count; i++)
        loinc_term_fields(&table.terms[i], fields + i * LOINC_N_FIELDS);
    struct index_writer *fin = w;
    w = NULL; /* finish frees it */
    if (index_writer_finish(fin, loinc_field_names, LOINC_N_FIELDS, fields, table.count,
                            &err) != MLW_OK) {
        fprintf(stderr, "loinc build: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr, "loinc build: wrote %s: %zu terms\n", out, table.count);
    status = 0;
out:
    index_writer_abort(w);
    if (texts != NULL)
        for (long i = 0; i < batch; i++)
            free(texts[i]);
    free(texts);
    free(vecs);
    free(fields);
    embed_close(e);
    loinc_table_free(&table);
    free(csv);
    return status;
}

/* ------------------------------------------------------------------------ */
/* search                                                                    */

static void lc_search_usage(FILE *f)
{
    fputs("usage: mlworker loinc search [options] QUERY...   (or one query per stdin line)\n"
          "  --index FILE     index (default ML_WORKER_LOINC_INDEX, else loinc.idx)\n"
          "  --model DIR      model (default ML_WORKER_MODEL_DIR, else the directory the\n"
          "                   index was built from); must be the model the index was built with\n"
          "  --dtype D        encoder weights for the query (default: those of the build)\n"
          "  --specimen S     keep terms whose SYSTEM matches (urine, blood, serum, Ser/Plas...)\n"
          "  --unit U         keep terms whose PROPERTY fits the unit (mg/dL -> MCnc, ...)\n"
          "  -k N             candidates per query (default 10)\n"
          "  --json           one JSON object per query\n"
          "  --timing         print embedding and search times on stderr\n",
          f);
}

static void lc_print_json(const struct index *idx, const char *query,
                          const struct loinc_hit *hits, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    if (root == NULL || arr == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(arr);
        fprintf(stderr, "loinc search: out of memory\n");
        return;
    }
    cJSON_AddStringToObject(root, "query", query);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL)
            break;
        cJSON_AddNumberToObject(o, "rank", (double)(i + 1));
        cJSON_AddNumberToObject(o, "score", (double)hits[i].score);
        for (int f = 0; f < idx->n_fields; f++)
            cJSON_AddStringToObject(o, idx->blob + idx->offsets[f],
                                    index_field(idx, hits[i].row, f));
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(root, "results", arr);
    char *s = cJSON_PrintUnformatted(root);
    if (s != NULL) {
        puts(s);
        cJSON_free(s);
    }
    cJSON_Delete(root);
}

static void lc_print_text(const struct index *idx, const char *query,
                          const struct loinc_hit *hits, size_t n)
{
    int fc = index_field_index(idx, "code"), fn = index_field_index(idx, "name");
    int fs = index_field_index(idx, "system"), fp = index_field_index(idx, "property");
    int fu = index_field_index(idx, "units");
    printf("# %s\n", query);
    for (size_t i = 0; i < n; i++) {
        size_t r = hits[i].row;
        const char *units = index_field(idx, r, fu);
        printf("%2zu  %.4f  %-9s %s  [%s, %s%s%s]\n", i + 1, (double)hits[i].score,
               index_field(idx, r, fc), index_field(idx, r, fn), index_field(idx, r, fs),
               index_field(idx, r, fp), units[0] ? ", " : "", units);
    }
    if (n == 0)
        printf("   (no candidates)\n");
}

struct lc_searcher {
    struct index idx;
    struct embed_model *e;
    struct loinc_query q;
    struct loinc_hit *hits;
    float *qvec;
    int json, timing, warned_unit;
};

static int lc_search_one(struct lc_searcher *s, const char *query, size_t len)
{
    struct mlw_err err = {0};
    double t0 = lc_now();
    const char *texts[1] = {query};
    if (embed_texts(s->e, texts, &len, 1, s->qvec, &err) != MLW_OK) {
        fprintf(stderr, "loinc search: %s\n", err.msg);
        return 1;
    }
    double t1 = lc_now(), c1 = lc_clock(CLOCK_THREAD_CPUTIME_ID);
    size_t n = 0;
    int known = 1;
    if (loinc_search(&s->idx, s->qvec, &s->q, s->hits, &n, &known, &err) != MLW_OK) {
        fprintf(stderr, "loinc search: %s\n", err.msg);
        return 1;
    }
    double t2 = lc_now(), c2 = lc_clock(CLOCK_THREAD_CPUTIME_ID);
    if (!known && !s->warned_unit) {
        fprintf(stderr, "loinc search: unit '%s' not recognised; not filtering by unit\n",
                s->q.unit);
        s->warned_unit = 1;
    }
    char *qz = strndup(query, len);
    if (qz == NULL) {
        fprintf(stderr, "loinc search: out of memory\n");
        return 1;
    }
    if (s->json)
        lc_print_json(&s->idx, qz, s->hits, n);
    else
        lc_print_text(&s->idx, qz, s->hits, n);
    free(qz);
    if (s->timing)
        fprintf(stderr,
                "loinc search: embed %.2f ms, search %.2f ms (cpu %.2f ms) over %zu vectors\n",
                (t1 - t0) * 1e3, (t2 - t1) * 1e3, (c2 - c1) * 1e3, s->idx.count);
    return 0;
}

static int lc_search(int argc, char **argv)
{
    const char *index_path = getenv("ML_WORKER_LOINC_INDEX");
    const char *model = getenv("ML_WORKER_MODEL_DIR");
    struct bert_opts opts = {0};
    struct lc_searcher s;
    memset(&s, 0, sizeof s);
    s.q.k = 10;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            lc_search_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            s.json = 1;
        } else if (strcmp(a, "--timing") == 0) {
            s.timing = 1;
        } else if (strcmp(a, "--index") == 0 && has) {
            index_path = argv[++i];
        } else if (strcmp(a, "--model") == 0 && has) {
            model = argv[++i];
        } else if (strcmp(a, "--specimen") == 0 && has) {
            s.q.specimen = argv[++i];
        } else if (strcmp(a, "--unit") == 0 && has) {
            s.q.unit = argv[++i];
        } else if (strcmp(a, "--dtype") == 0 && has) {
            if (bert_dtype_parse(argv[++i], &opts.dtype) != MLW_OK) {
                fprintf(stderr, "loinc search: --dtype must be fp32, bf16 or int8\n");
                return 2;
            }
        } else if ((strcmp(a, "-k") == 0 || strcmp(a, "--top") == 0) && has) {
            if (lc_parse_long(argv[++i], 1, 10000, &n) != 0) {
                fprintf(stderr, "loinc search: -k must be 1..10000\n");
                return 2;
            }
            s.q.k = (size_t)n;
        } else if (strcmp(a, "--") == 0) {
            first = i + 1;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "loinc search: unexpected option '%s'\n", a);
            lc_search_usage(stderr);
            return 2;
        } else {
            first = i;
            break;
        }
    }
    if (index_path == NULL || index_path[0] == '\0')
        index_path = "loinc.idx";

    struct mlw_err err = {0};
    int status = 1;
    if (index_open(index_path, &s.idx, &err) != MLW_OK) {
        fprintf(stderr, "loinc search: %s\n", err.msg);
        return 1;
    }
    if (model == NULL || model[0] == '\0')
        model = s.idx.info.model_dir;
    if (model[0] == '\0') {
        fprintf(stderr, "loinc search: no model: give --model DIR or ML_WORKER_MODEL_DIR\n");
        goto out;
    }
    if (opts.dtype == BERT_DTYPE_DEFAULT && getenv("ML_WORKER_MODEL_DTYPE") == NULL)
        (void)bert_dtype_parse(s.idx.info.model_dtype, &opts.dtype);
    if (embed_open(model, &opts, &s.e, &err) != MLW_OK) {
        fprintf(stderr, "loinc search: %s\n", err.msg);
        goto out;
    }
    if (!embed_model_id_same(embed_model_id(s.e), s.idx.info.model_id) ||
        embed_dim(s.e) != s.idx.info.dim) {
        fprintf(stderr,
                "loinc search: %s was built with model %s, but %s is model %s; rebuild the "
                "index or pass the right --model\n",
                index_path, s.idx.info.model_id, model, embed_model_id(s.e));
        goto out;
    }
    s.hits = malloc(s.q.k * sizeof *s.hits);
    s.qvec = malloc((size_t)embed_dim(s.e) * sizeof *s.qvec);
    if (s.hits == NULL || s.qvec == NULL) {
        fprintf(stderr, "loinc search: out of memory\n");
        goto out;
    }
    status = 0;
    if (first < argc) {
        for (int i = first; status == 0 && i < argc; i++)
            status = lc_search_one(&s, argv[i], strlen(argv[i]));
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        while (status == 0 && (got = getline(&line, &cap, stdin)) >= 0) {
            size_t len = (size_t)got;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (len == 0)
                continue;
            status = lc_search_one(&s, line, len);
        }
        free(line);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "loinc search: cannot write output: %s\n", strerror(errno));
        status = 1;
    }
out:
    free(s.hits);
    free(s.qvec);
    embed_close(s.e);
    index_close(&s.idx);
    return status;
}

/* ------------------------------------------------------------------------ */
/* info                                                                      */

static int lc_info(int argc, char **argv)
{
    const char *index_path = getenv("ML_WORKER_LOINC_INDEX");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--index") == 0 && i + 1 < argc) {
            index_path = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            puts("usage: mlworker loinc info [--index FILE]");
            return 0;
        } else {
            fprintf(stderr, "loinc info: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (index_path == NULL || index_path[0] == '\0')
        index_path = "loinc.idx";
    struct index idx;
    struct mlw_err err = {0};
    if (index_open(index_path, &idx, &err) != MLW_OK) {
        fprintf(stderr, "loinc info: %s\n", err.msg);
        return 1;
    }
    printf("index:       %s (%zu bytes)\n", index_path, idx.map_len);
    printf("vectors:     %zu x %d %s\n", idx.count, idx.info.dim,
           idx.info.dtype == INDEX_DTYPE_F32 ? "f32" : "int8");
    printf("model:       %s (%s weights)\n", idx.info.model_id, idx.info.model_dtype);
    printf("model dir:   %s\n", idx.info.model_dir[0] ? idx.info.model_dir : "(not recorded)");
    printf("build key:   %016llx\n", (unsigned long long)idx.info.build_key);
    printf("fields:     ");
    for (int f = 0; f < idx.n_fields; f++)
        printf(" %s", idx.blob + idx.offsets[f]);
    printf("\n");
    index_close(&idx);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* calibrate                                                                 */

static void lc_calibrate_usage(FILE *f)
{
    fputs("usage: mlworker loinc calibrate --labeled FILE [--model DIR] [--index FILE] [options]\n"
          "  --labeled FILE        labelled lab names, CSV or TSV, one per line:\n"
          "                        name,loinc_code[,specimen[,unit]]  (an empty code: no code\n"
          "                        should be accepted; specimen: blood, urine, urine-24h, stool,\n"
          "                        csf, sputum, swab; optional header line name,loinc_code,...)\n"
          "  --model DIR           model (default ML_WORKER_MODEL_DIR)\n"
          "  --index FILE          index (default ML_WORKER_LOINC_INDEX)\n"
          "  --target-precision P  precision the recommended threshold must reach (default 0.98)\n"
          "  --step S              print the table on a grid 0, S, 2S, ... 1 instead of at every\n"
          "                        score where the outcome changes\n"
          "  --json                print the result as one JSON object\n"
          "  --dump FILE           write each name's decision to FILE (JSON lines)\n"
          "Each name goes through the lab pipeline's engine (embedding, candidates, rerank,\n"
          "margin rule) with the threshold at 0; the optional LLM reranker is not used.\n",
          f);
}

struct lc_cal {
    const struct calib_labels *labels;
    struct calib_item *items;
    char (*top)[MLCTX_CODE_MAX];
    double *scores;
    char (*why)[MLCTX_WHY_LEN];
};

/* Run every labelled name through the engine. */
static int lc_cal_run(struct mlctx *m, struct lc_cal *c, struct mlw_err *err)
{
    const struct calib_labels *l = c->labels;
    double t0 = lc_now(), last = t0;
    for (size_t i = 0; i < l->n; i++) {
        if (signals_stop_requested())
            return mlw_err_set(err, MLW_ESTOPPED, "interrupted at name %zu of %zu", i, l->n);
        const struct calib_label *x = &l->items[i];
        /* as the pipeline: a specimen the name states is already in its words */
        char norm[2 * LABCAT_MAX_NAME];
        enum labcat_specimen own = LABCAT_SPEC_NONE;
        labcat_normalize(x->name, strlen(x->name), norm, sizeof norm, &own);
        struct mlctx_query q = {x->name, own == LABCAT_SPEC_NONE ? x->specimen : NULL, x->unit,
                                NULL};
        struct mlctx_decision d;
        int rc = mlctx_decide(m, &q, &d, err);
        if (rc != MLW_OK)
            return rc;
        snprintf(c->top[i], sizeof c->top[i], "%s", d.best);
        snprintf(c->why[i], sizeof c->why[i], "%s", d.why);
        c->scores[i] = d.has_candidates ? d.loinc_score : 0.0;
        c->items[i].score = c->scores[i];
        c->items[i].passes_margin = d.loinc[0] != '\0';
        c->items[i].labelled = x->expected[0] != '\0';
        c->items[i].correct = d.best[0] != '\0' && strcmp(d.best, x->expected) == 0;
        double now = lc_now();
        if (l->n >= 50 && (now - last >= 5.0 || i + 1 == l->n)) {
            fprintf(stderr, "loinc calibrate: %zu/%zu names (%.0f names/s)\n", i + 1, l->n,
                    (double)(i + 1) / (now - t0 > 0 ? now - t0 : 1e-9));
            last = now;
        }
    }
    return MLW_OK;
}

static int lc_cal_dump(const char *path, const struct lc_cal *c, double cur)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "loinc calibrate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < c->labels->n && !bad; i++) {
        const struct calib_label *x = &c->labels->items[i];
        const struct calib_item *it = &c->items[i];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL) {
            bad = 1;
            break;
        }
        cJSON_AddNumberToObject(o, "line", (double)x->line);
        cJSON_AddStringToObject(o, "name", x->name);
        cJSON_AddStringToObject(o, "expected", x->expected);
        if (x->specimen)
            cJSON_AddStringToObject(o, "specimen", x->specimen);
        if (x->unit)
            cJSON_AddStringToObject(o, "unit", x->unit);
        cJSON_AddStringToObject(o, "top", c->top[i]);
        cJSON_AddNumberToObject(o, "score", c->scores[i]);
        cJSON_AddBoolToObject(o, "passes_margin", it->passes_margin);
        cJSON_AddBoolToObject(o, "correct", it->correct);
        cJSON_AddBoolToObject(o, "accepted_at_current", it->passes_margin && it->score >= cur);
        cJSON_AddStringToObject(o, "why", c->why[i]);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (s == NULL || fprintf(f, "%s\n", s) < 0)
            bad = 1;
        cJSON_free(s);
    }
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "loinc calibrate: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static cJSON *lc_cal_row_json(const struct calib_row *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "threshold", r->threshold);
    cJSON_AddNumberToObject(o, "accepted", (double)r->accepted);
    cJSON_AddNumberToObject(o, "correct", (double)r->correct);
    cJSON_AddNumberToObject(o, "wrong", (double)r->wrong);
    if (r->accepted)
        cJSON_AddNumberToObject(o, "precision", r->precision);
    else
        cJSON_AddNullToObject(o, "precision");
    cJSON_AddNumberToObject(o, "recall", r->recall);
    cJSON_AddNumberToObject(o, "coverage", r->coverage);
    return o;
}

static void lc_cal_row_text(const struct calib_row *r, const char *label)
{
    char prec[16] = "-";
    if (r->accepted)
        snprintf(prec, sizeof prec, "%.4f", r->precision);
    printf("%10s %9zu %8zu %6zu %10s %7.4f %9.4f\n", label, r->accepted, r->correct, r->wrong,
           prec, r->recall, r->coverage);
}

/* A row's threshold as the value to set: on a grid as it is, else the
 * shortest decimal that keeps the row's outcome. */
static void lc_cal_label(const struct calib_row *t, size_t i, int grid, char *buf, size_t cap)
{
    if (grid)
        snprintf(buf, cap, "%.4g", t[i].threshold);
    else
        calib_format_threshold(t[i].threshold, i > 0 ? t[i - 1].threshold : -1.0, buf, cap);
}

static int lc_calibrate(int argc, char **argv)
{
    const char *model = getenv("ML_WORKER_MODEL_DIR"), *index = getenv("ML_WORKER_LOINC_INDEX");
    const char *labeled = NULL, *dump = NULL;
    double target = 0.98, step = 0.0, cur = LABMAP_DEFAULT_MIN_SCORE;
    int json = 0;
    const char *cur_env = getenv("ML_WORKER_LOINC_MIN_SCORE");
    if (cur_env != NULL && cur_env[0] != '\0') {
        char *end;
        double v = strtod(cur_env, &end);
        if (*end == '\0' && v >= 0.0 && v <= 1.0)
            cur = v;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            lc_calibrate_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (v == NULL) {
            fprintf(stderr, "loinc calibrate: unexpected argument '%s'\n", a);
            lc_calibrate_usage(stderr);
            return 2;
        } else if (strcmp(a, "--model") == 0) {
            model = argv[++i];
        } else if (strcmp(a, "--index") == 0) {
            index = argv[++i];
        } else if (strcmp(a, "--labeled") == 0 || strcmp(a, "--labelled") == 0) {
            labeled = argv[++i];
        } else if (strcmp(a, "--dump") == 0) {
            dump = argv[++i];
        } else if (strcmp(a, "--target-precision") == 0 || strcmp(a, "--step") == 0) {
            char *end;
            double x = strtod(argv[++i], &end);
            int isstep = a[2] == 's';
            if (*end != '\0' || end == v || !(x > 0.0 && x <= 1.0)) {
                fprintf(stderr, "loinc calibrate: %s must be a number in (0, 1]\n", a);
                return 2;
            }
            *(isstep ? &step : &target) = x;
        } else {
            fprintf(stderr, "loinc calibrate: unexpected argument '%s'\n", a);
            lc_calibrate_usage(stderr);
            return 2;
        }
    }
    if (labeled == NULL || model == NULL || model[0] == '\0' || index == NULL ||
        index[0] == '\0') {
        fprintf(stderr, "loinc calibrate: --labeled FILE, --model DIR (or ML_WORKER_MODEL_DIR) "
                        "and --index FILE (or ML_WORKER_LOINC_INDEX) are required\n");
        lc_calibrate_usage(stderr);
        return 2;
    }

    struct mlw_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    struct calib_labels labels = {0};
    struct lc_cal c = {.labels = &labels};
    struct calib_row *rows = NULL;
    int status = 1;
    if (lc_read_file(labeled, &buf, &len, &err) != MLW_OK ||
        calib_parse(buf, len, labeled, &labels, &err) != MLW_OK) {
        fprintf(stderr, "loinc calibrate: %s\n", err.msg);
        goto out;
    }
    size_t n = labels.n;
    c.items = calloc(n, sizeof *c.items);
    c.top = calloc(n, sizeof *c.top);
    c.scores = calloc(n, sizeof *c.scores);
    c.why = calloc(n, sizeof *c.why);
    rows = calloc(n + 1, sizeof *rows);
    if (!c.items || !c.top || !c.scores || !c.why || !rows) {
        fprintf(stderr, "loinc calibrate: out of memory\n");
        goto out;
    }
    struct mlctx_opts mo = {.enabled = 1, .model_dir = model, .index_path = index,
                            .min_score = 0.0, .category_min_score = 2.0,
                            .llm_min_score = 1.0, .llm = {0}};
    struct mlctx *m = NULL;
    fprintf(stderr, "loinc calibrate: loading %s and %s\n", model, index);
    if (mlctx_configure(&mo, &err) != MLW_OK || mlctx_acquire(NULL, &m, &err) != MLW_OK ||
        m == NULL) {
        fprintf(stderr, "loinc calibrate: %s\n", m == NULL && err.msg[0] == '\0'
                                                    ? "the ML engine did not load" : err.msg);
        goto out;
    }
    signals_install();
    if (lc_cal_run(m, &c, &err) != MLW_OK) {
        fprintf(stderr, "loinc calibrate: %s\n", err.msg);
        status = err.code == MLW_ESTOPPED ? 130 : 1;
        goto out;
    }
    if (dump != NULL && lc_cal_dump(dump, &c, cur) != 0)
        goto out;

    struct calib_totals tot;
    calib_totals(c.items, n, &tot);
    struct calib_row at_cur;
    calib_at(c.items, n, cur, &at_cur);
    size_t nr = calib_curve(c.items, n, rows); /* sorts c.items: per-name data is dumped */
    long pick = calib_pick(rows, nr, target);
    char rec[64] = "";
    if (pick >= 0)
        calib_format_threshold(rows[pick].threshold, pick > 0 ? rows[pick - 1].threshold : -1.0,
                               rec, sizeof rec);
    struct calib_row grid[1024];
    size_t ng = 0;
    if (step > 0.0)
        for (double t = 0.0; t <= 1.0 + 1e-9 && ng < 1024; t = round((double)ng * step * 1e9) / 1e9)
            calib_at(c.items, n, t, &grid[ng++]);
    const struct calib_row *table = step > 0.0 ? grid : rows;
    size_t ntable = step > 0.0 ? ng : nr;

    if (json) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
        if (root == NULL || arr == NULL) {
            cJSON_Delete(root);
            cJSON_Delete(arr);
            fprintf(stderr, "loinc calibrate: out of memory\n");
            goto out;
        }
        cJSON_AddNumberToObject(root, "names", (double)tot.names);
        cJSON_AddNumberToObject(root, "labelled", (double)tot.labelled);
        cJSON_AddNumberToObject(root, "expecting_none", (double)(tot.names - tot.labelled));
        cJSON_AddNumberToObject(root, "passes_margin", (double)tot.passes_margin);
        cJSON_AddNumberToObject(root, "target_precision", target);
        for (size_t i = 0; i < ntable; i++) {
            cJSON *r = lc_cal_row_json(&table[i]);
            char val[64];
            lc_cal_label(table, i, step > 0.0, val, sizeof val);
            if (r != NULL)
                cJSON_AddStringToObject(r, "value", val);
            cJSON_AddItemToArray(arr, r);
        }
        cJSON_AddItemToObject(root, "thresholds", arr);
        cJSON *curj = lc_cal_row_json(&at_cur);
        cJSON_AddItemToObject(root, "current", curj);
        if (pick >= 0) {
            cJSON *r = lc_cal_row_json(&rows[pick]);
            cJSON_AddStringToObject(r, "value", rec);
            cJSON_AddItemToObject(root, "recommended", r);
        } else {
            cJSON_AddNullToObject(root, "recommended");
        }
        char *s = cJSON_PrintUnformatted(root);
        if (s != NULL)
            puts(s);
        cJSON_free(s);
        cJSON_Delete(root);
    } else {
        printf("%zu names: %zu with an expected code, %zu expecting none; %zu pass the margin "
               "rule\n", tot.names, tot.labelled, tot.names - tot.labelled, tot.passes_margin);
        printf("%10s %9s %8s %6s %10s %7s %9s\n", "threshold", "accepted", "correct", "wrong",
               "precision", "recall", "coverage");
        for (size_t i = 0; i < ntable; i++) {
            char lab[64];
            lc_cal_label(table, i, step > 0.0, lab, sizeof lab);
            lc_cal_row_text(&table[i], lab);
        }
        char lab[32];
        snprintf(lab, sizeof lab, "%.4f", cur);
        printf("at the current ML_WORKER_LOINC_MIN_SCORE=%g:\n", cur);
        lc_cal_row_text(&at_cur, lab);
        if (pick >= 0) {
            const struct calib_row *r = &rows[pick];
            printf("recommended for precision >= %g: accepts %zu of %zu names, %zu wrong, "
                   "precision %.4f, recall %.4f\n",
                   target, r->accepted, tot.names, r->wrong, r->precision, r->recall);
            printf("ML_WORKER_LOINC_MIN_SCORE=%s\n", rec);
        } else {
            printf("no threshold reaches precision %g on this list: keep the current value, "
                   "label more names or improve the model/index\n", target);
        }
    }
    status = 0;
out:
    free(rows);
    free(c.items);
    free(c.top);
    free(c.scores);
    free(c.why);
    calib_labels_free(&labels);
    free(buf);
    return status;
}

static void lc_usage(FILE *f)
{
    fputs("usage: mlworker loinc build|search|info [options]   (--help after each for more)\n"
          "  build   embed the LOINC table into a vector index file (resumable)\n"
          "  search  ranked LOINC candidates for lab test names\n"
          "  info    describe an index file\n"
          "  calibrate  precision/recall per acceptance threshold over labelled names, and\n"
          "             the ML_WORKER_LOINC_MIN_SCORE that meets a target precision\n",
          f);
}

int cmd_loinc(int argc, char **argv)
{
    if (argc < 2) {
        lc_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "build") == 0)
        return lc_build(argc - 1, argv + 1);
    if (strcmp(sub, "search") == 0)
        return lc_search(argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0)
        return lc_info(argc - 1, argv + 1);
    if (strcmp(sub, "calibrate") == 0)
        return lc_calibrate(argc - 1, argv + 1);
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        lc_usage(stdout);
        return 0;
    }
    fprintf(stderr, "loinc: unknown subcommand '%s'\n", sub);
    lc_usage(stderr);
    return 2;
}
