/*
 * embed_cmd.c - `mlworker embed` and `mlworker embed-ids`.
 *
 * embed:     texts (arguments, or stdin lines) through the model's tokenizer
 *            and encoder (embed.h); one JSON array of floats per input.
 * embed-ids: JSON arrays of token ids from stdin (one per line), embedded in
 *            batches with bert_embed(); one JSON array of floats per line.
 *            Used by the parity tests and for debugging a model directory
 *            without the tokenizer.
 * Both print in input order. Only I/O and argument handling live here.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ml/bert.h"
#include "ml/embed.h"

static void ec_usage(FILE *f, const char *name)
{
    fprintf(f,
            "usage: %s [--threads N] [--batch N] [--dtype fp32|bf16|int8] [--no-normalize]\n"
            "       [--repeat N] [--model] DIR\n"
            "  stdin:  one JSON array of token ids per line, e.g. [101, 7592, 102]\n"
            "  stdout: one JSON array of floats (the sentence embedding) per input line\n"
            "  --repeat N: time instead: embed the input N times (after one untimed pass)\n"
            "              and print one JSON object with the latency of every batch\n",
            name);
}

/* One embedding as a JSON array on its own line. */
static void ec_print_vec(const float *e, int H)
{
    fputc('[', stdout);
    for (int j = 0; j < H; j++)
        printf(j ? ",%.9g" : "%.9g", (double)e[j]);
    fputs("]\n", stdout);
}

static int ec_parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

struct ec_seqs {
    int32_t **ids;
    int *lens;
    int n, cap;
};

static void ec_seqs_free(struct ec_seqs *q)
{
    for (int i = 0; i < q->n; i++)
        free(q->ids[i]);
    free(q->ids);
    free(q->lens);
    memset(q, 0, sizeof *q);
}

/* Parse one line "[1, 2, 3]" into a new sequence. Returns 0, or -1 with msg. */
static int ec_parse_line(const char *line, long lineno, struct ec_seqs *q, char *msg, size_t cap)
{
    cJSON *arr = cJSON_Parse(line);
    if (arr == NULL || !cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        snprintf(msg, cap, "stdin line %ld: not a JSON array of token ids", lineno);
        return -1;
    }
    int len = cJSON_GetArraySize(arr);
    int32_t *ids = malloc((size_t)(len > 0 ? len : 1) * sizeof *ids);
    if (ids == NULL) {
        cJSON_Delete(arr);
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int32_t)v->valuedouble) {
            free(ids);
            cJSON_Delete(arr);
            snprintf(msg, cap, "stdin line %ld: element %d is not a 32-bit integer", lineno, i);
            return -1;
        }
        ids[i++] = (int32_t)v->valuedouble;
    }
    cJSON_Delete(arr);
    if (q->n == q->cap) {
        int ncap = q->cap ? 2 * q->cap : 64;
        int32_t **nids = realloc(q->ids, (size_t)ncap * sizeof *nids);
        if (nids == NULL) {
            free(ids);
            snprintf(msg, cap, "out of memory");
            return -1;
        }
        q->ids = nids;
        int *nlens = realloc(q->lens, (size_t)ncap * sizeof *nlens);
        if (nlens == NULL) {
            free(ids);
            snprintf(msg, cap, "out of memory");
            return -1;
        }
        q->lens = nlens;
        q->cap = ncap;
    }
    q->ids[q->n] = ids;
    q->lens[q->n] = len;
    q->n++;
    return 0;
}

static double ec_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --repeat: one untimed pass, then `repeat` timed passes over q in batches;
 * prints {"dtype", "kernel", "threads", "batch", "sequences", "latency_ms": [...],
 * "cpu_ms": [...]}: wall time and process CPU time (all threads) of each batch. */
static int ec_time(struct bert_model *m, const struct ec_seqs *q, int batch, int repeat,
                   float *out, const char *name)
{
    struct mlw_err err = {0};
    int per_pass = (q->n + batch - 1) / batch;
    size_t cap = (size_t)(per_pass > 0 ? per_pass : 1) * (size_t)repeat;
    double *lat = malloc(cap * sizeof *lat), *cpu = malloc(cap * sizeof *cpu);
    if (lat == NULL || cpu == NULL) {
        fprintf(stderr, "%s: out of memory\n", name);
        free(lat);
        free(cpu);
        return 1;
    }
    size_t n_lat = 0;
    for (int pass = 0; pass <= repeat; pass++) {
        for (int s = 0; s < q->n; s += batch) {
            int k = q->n - s < batch ? q->n - s : batch;
            double t0 = ec_clock(CLOCK_MONOTONIC), c0 = ec_clock(CLOCK_PROCESS_CPUTIME_ID);
            if (bert_embed(m, (const int32_t *const *)(q->ids + s), q->lens + s, k, out, &err) !=
                MLW_OK) {
                fprintf(stderr, "%s: %s\n", name, err.msg);
                free(lat);
                free(cpu);
                return 1;
            }
            if (pass > 0) {
                cpu[n_lat] = (ec_clock(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
                lat[n_lat++] = (ec_clock(CLOCK_MONOTONIC) - t0) * 1e3;
            }
        }
    }
    printf("{\"dtype\":\"%s\",\"kernel\":\"%s\",\"threads\":%d,\"batch\":%d,"
           "\"sequences\":%d,\"latency_ms\":[",
           bert_dtype_name(bert_dtype(m)), bert_kernel_name(m), bert_threads(m), batch, q->n);
    for (size_t i = 0; i < n_lat; i++)
        printf(i ? ",%.4f" : "%.4f", lat[i]);
    printf("],\"cpu_ms\":[");
    for (size_t i = 0; i < n_lat; i++)
        printf(i ? ",%.4f" : "%.4f", cpu[i]);
    printf("]}\n");
    free(lat);
    free(cpu);
    return 0;
}

int cmd_embed_ids(int argc, char **argv)
{
    const char *name = argc > 0 ? argv[0] : "embed-ids";
    const char *dir = NULL;
    struct bert_opts opts = {0};
    int batch = 64, repeat = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            if (ec_parse_int(argv[++i], 1, 256, &opts.n_threads) != 0) {
                fprintf(stderr, "%s: --threads must be 1..256\n", name);
                return 2;
            }
        } else if (strcmp(a, "--repeat") == 0 && i + 1 < argc) {
            if (ec_parse_int(argv[++i], 1, 1 << 20, &repeat) != 0) {
                fprintf(stderr, "%s: --repeat must be a positive integer\n", name);
                return 2;
            }
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            if (ec_parse_int(argv[++i], 1, 1 << 20, &batch) != 0) {
                fprintf(stderr, "%s: --batch must be a positive integer\n", name);
                return 2;
            }
        } else if (strcmp(a, "--dtype") == 0 && i + 1 < argc) {
            if (bert_dtype_parse(argv[++i], &opts.dtype) != MLW_OK) {
                fprintf(stderr, "%s: --dtype must be fp32, bf16 or int8\n", name);
                return 2;
            }
        } else if (strcmp(a, "--no-normalize") == 0) {
            opts.no_normalize = 1;
        } else if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            ec_usage(stdout, name);
            return 0;
        } else if (a[0] != '-' && dir == NULL) {
            dir = a;
        } else {
            fprintf(stderr, "%s: unexpected argument '%s'\n", name, a);
            ec_usage(stderr, name);
            return 2;
        }
    }
    if (dir == NULL) {
        ec_usage(stderr, name);
        return 2;
    }

    struct ec_seqs q = {0};
    char msg[256];
    char *line = NULL;
    size_t line_cap = 0;
    long lineno = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            continue;
        if (ec_parse_line(p, lineno, &q, msg, sizeof msg) != 0) {
            fprintf(stderr, "%s: %s\n", name, msg);
            status = 1;
            break;
        }
    }
    free(line);
    if (status != 0) {
        ec_seqs_free(&q);
        return status;
    }

    struct mlw_err err = {0};
    struct bert_model *m = NULL;
    if (bert_load(dir, &opts, &m, &err) != MLW_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        ec_seqs_free(&q);
        return 1;
    }
    int H = bert_dim(m);
    float *out = malloc((size_t)(batch < q.n ? batch : (q.n > 0 ? q.n : 1)) * (size_t)H *
                        sizeof(float));
    if (out == NULL) {
        fprintf(stderr, "%s: out of memory\n", name);
        status = 1;
    }
    if (status == 0 && repeat > 0) {
        status = ec_time(m, &q, batch, repeat, out, name);
        repeat = -1; /* timed: print no embeddings */
    }
    for (int s = 0; status == 0 && repeat == 0 && s < q.n; s += batch) {
        int k = q.n - s < batch ? q.n - s : batch;
        if (bert_embed(m, (const int32_t *const *)(q.ids + s), q.lens + s, k, out, &err) !=
            MLW_OK) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            status = 1;
            break;
        }
        for (int i = 0; i < k; i++)
            ec_print_vec(out + (size_t)i * (size_t)H, H);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write output: %s\n", name, strerror(errno));
        status = 1;
    }
    free(out);
    bert_free(m);
    ec_seqs_free(&q);
    return status;
}

/* ------------------------------------------------------------------------ */
/* embed                                                                     */

static void em_usage(FILE *f, const char *name)
{
    fprintf(f,
            "usage: %s --model DIR [--dtype fp32|bf16|int8] [--threads N] [--batch N]\n"
            "       [--] [TEXT...]\n"
            "  Embeds each TEXT, or each line of stdin when no TEXT is given (an empty\n"
            "  line is an input too), with the model's tokenizer and BERT encoder.\n"
            "  stdout: one JSON array of floats (the sentence embedding) per input, in order.\n"
            "  --dtype     weights of the linear layers (default: ML_WORKER_MODEL_DTYPE, or fp32)\n"
            "  --threads   encoder threads (default: ML_WORKER_THREADS, or the available cores)\n"
            "  --batch     texts per encoder call (default 64)\n",
            name);
}

/* Embed texts[0..n) and print them. Returns 0 or 1 (message on stderr). */
static int em_flush(struct embed_model *e, const char *name, char **texts, const size_t *lens,
                    int n, float *out)
{
    struct mlw_err err = {0};
    if (embed_texts(e, (const char *const *)texts, lens, n, out, &err) != MLW_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return 1;
    }
    int H = embed_dim(e);
    for (int i = 0; i < n; i++)
        ec_print_vec(out + (size_t)i * (size_t)H, H);
    return 0;
}

int cmd_embed(int argc, char **argv)
{
    const char *name = argc > 0 ? argv[0] : "embed";
    const char *dir = NULL;
    struct bert_opts opts = {0};
    int batch = 64;
    int first_text = argc; /* index of the first TEXT argument */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--model") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(a, "--dtype") == 0 && i + 1 < argc) {
            if (bert_dtype_parse(argv[++i], &opts.dtype) != MLW_OK) {
                fprintf(stderr, "%s: --dtype must be fp32, bf16 or int8\n", name);
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            if (ec_parse_int(argv[++i], 1, 256, &opts.n_threads) != 0) {
                fprintf(stderr, "%s: --threads must be 1..256\n", name);
                return 2;
            }
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            if (ec_parse_int(argv[++i], 1, 1 << 16, &batch) != 0) {
                fprintf(stderr, "%s: --batch must be 1..65536\n", name);
                return 2;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            em_usage(stdout, name);
            return 0;
        } else if (strcmp(a, "--") == 0) {
            first_text = i + 1;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: unexpected option '%s'\n", name, a);
            em_usage(stderr, name);
            return 2;
        } else {
            first_text = i;
            break;
        }
    }
    if (dir == NULL) {
        fprintf(stderr, "%s: --model DIR is required\n", name);
        em_usage(stderr, name);
        return 2;
    }

    struct mlw_err err = {0};
    struct embed_model *e = NULL;
    if (embed_open(dir, &opts, &e, &err) != MLW_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return 1;
    }
    int status = 0;
    float *out = malloc((size_t)batch * (size_t)embed_dim(e) * sizeof(float));
    char **texts = calloc((size_t)batch, sizeof *texts);
    size_t *lens = calloc((size_t)batch, sizeof *lens);
    if (out == NULL || texts == NULL || lens == NULL) {
        fprintf(stderr, "%s: out of memory\n", name);
        status = 1;
    } else if (first_text < argc) {
        for (int i = first_text; status == 0 && i < argc; i += batch) {
            int k = argc - i < batch ? argc - i : batch;
            for (int j = 0; j < k; j++) {
                texts[j] = argv[i + j];
                lens[j] = strlen(argv[i + j]);
            }
            status = em_flush(e, name, texts, lens, k, out);
        }
        memset(texts, 0, (size_t)batch * sizeof *texts); /* not ours to free */
    } else {
        int k = 0;
        char *line = NULL;
        size_t line_cap = 0;
        ssize_t got;
        while (status == 0 && (got = getline(&line, &line_cap, stdin)) >= 0) {
            size_t len = (size_t)got;
            if (len > 0 && line[len - 1] == '\n')
                len--;
            if (len > 0 && line[len - 1] == '\r')
                len--;
            texts[k] = line; /* the batch owns the line; getline allocates anew */
            lens[k] = len;
            k++;
            line = NULL;
            line_cap = 0;
            if (k == batch) {
                status = em_flush(e, name, texts, lens, k, out);
                for (int j = 0; j < k; j++) {
                    free(texts[j]);
                    texts[j] = NULL;
                }
                k = 0;
            }
        }
        free(line);
        if (status == 0 && ferror(stdin)) {
            fprintf(stderr, "%s: cannot read stdin: %s\n", name, strerror(errno));
            status = 1;
        }
        if (status == 0 && k > 0)
            status = em_flush(e, name, texts, lens, k, out);
        for (int j = 0; j < k; j++)
            free(texts[j]);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write output: %s\n", name, strerror(errno));
        status = 1;
    }
    free(out);
    free(texts);
    free(lens);
    embed_close(e);
    return status;
}
