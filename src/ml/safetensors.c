/*
 * safetensors.c - map and validate a .safetensors file; see safetensors.h.
 *
 * Validation order (each step assumes the ones before it passed):
 *   1. the file holds the 8-byte length, and the length fits in the file
 *      and under SAFETENSORS_MAX_HEADER;
 *   2. the header is one JSON object followed only by whitespace padding;
 *   3. each entry has a known dtype, an integer shape and two integer
 *      offsets with begin <= end <= data length, and shape x size = end - begin
 *      (computed without overflow);
 *   4. sorted by offset, the ranges tile the data buffer exactly: no overlap,
 *      no hole, nothing after the last tensor (the format's own rule);
 *   5. sorted by name, no name repeats.
 */
#include "ml/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* JSON numbers are doubles: integers above 2^53 cannot be told apart. */
#define ST_MAX_JSON_INT 9007199254740992.0

struct st_dtype_info {
    const char *name;
    size_t size;
};

static const struct st_dtype_info st_dtypes[] = {
    [SAFETENSORS_DTYPE_F32] = {"F32", 4},      [SAFETENSORS_DTYPE_F16] = {"F16", 2},
    [SAFETENSORS_DTYPE_BF16] = {"BF16", 2},    [SAFETENSORS_DTYPE_F64] = {"F64", 8},
    [SAFETENSORS_DTYPE_I64] = {"I64", 8},      [SAFETENSORS_DTYPE_I32] = {"I32", 4},
    [SAFETENSORS_DTYPE_I16] = {"I16", 2},      [SAFETENSORS_DTYPE_I8] = {"I8", 1},
    [SAFETENSORS_DTYPE_U8] = {"U8", 1},        [SAFETENSORS_DTYPE_BOOL] = {"BOOL", 1},
    [SAFETENSORS_DTYPE_F8_E4M3] = {"F8_E4M3", 1}, [SAFETENSORS_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
    [SAFETENSORS_DTYPE_U16] = {"U16", 2},      [SAFETENSORS_DTYPE_U32] = {"U32", 4},
    [SAFETENSORS_DTYPE_U64] = {"U64", 8},
};
_Static_assert(sizeof st_dtypes / sizeof st_dtypes[0] == SAFETENSORS_DTYPE_U64 + 1,
               "one entry per dtype");

const char *safetensors_dtype_name(enum safetensors_dtype dtype)
{
    if ((size_t)dtype < sizeof st_dtypes / sizeof st_dtypes[0])
        return st_dtypes[dtype].name;
    return "?";
}

size_t safetensors_dtype_size(enum safetensors_dtype dtype)
{
    if ((size_t)dtype < sizeof st_dtypes / sizeof st_dtypes[0])
        return st_dtypes[dtype].size;
    return 0;
}

static int st_dtype_parse(const char *s, enum safetensors_dtype *out)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (strcmp(s, st_dtypes[i].name) == 0) {
            *out = (enum safetensors_dtype)i;
            return 0;
        }
    }
    return -1;
}

float safetensors_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        /* zero or subnormal: mant x 2^-24, exact in float */
        float v = (float)mant * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13); /* inf / nan */
    else
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float safetensors_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void safetensors_to_f32(enum safetensors_dtype dtype, const void *src, size_t n, float *dst)
{
    const unsigned char *p = src;
    switch (dtype) {
    case SAFETENSORS_DTYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case SAFETENSORS_DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            dst[i] = safetensors_f16_to_f32(h);
        }
        break;
    case SAFETENSORS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t b = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            dst[i] = safetensors_bf16_to_f32(b);
        }
        break;
    default:
        /* callers check the dtype first (safetensors_get_float) */
        memset(dst, 0, n * sizeof(float));
        break;
    }
}

/* A JSON number that is a non-negative integer below 2^53. */
static int st_json_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!(v >= 0.0) || v > ST_MAX_JSON_INT || v != (double)(uint64_t)v)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int st_cmp_offset(const void *a, const void *b)
{
    const struct safetensors_tensor *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes)
        return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static int st_cmp_name(const void *a, const void *b)
{
    const struct safetensors_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Parse one header entry into t. Returns MLW_OK or an error naming the tensor. */
static int st_parse_entry(const cJSON *entry, const char *label, size_t data_len,
                          struct safetensors_tensor *t, struct mlw_err *err)
{
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": entry is not a JSON object",
                           label, name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype) || dtype->valuestring == NULL)
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": missing string \"dtype\"",
                           label, name);
    if (st_dtype_parse(dtype->valuestring, &t->dtype) != 0)
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": unknown dtype \"%.32s\"",
                           label, name, dtype->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape))
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": missing array \"shape\"",
                           label, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > SAFETENSORS_MAX_DIMS)
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": %d dimensions (max %d)",
                           label, name, ndim, SAFETENSORS_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    int i = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t d;
        if (st_json_uint(dim, &d) != 0)
            return mlw_err_set(err, MLW_EFORMAT,
                               "%s: tensor \"%.200s\": shape[%d] is not a non-negative integer",
                               label, name, i);
        if (d != 0 && numel > UINT64_MAX / d)
            return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": shape overflows",
                               label, name);
        numel *= d;
        t->shape[i++] = (int64_t)d;
    }

    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    uint64_t begin, end;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        st_json_uint(cJSON_GetArrayItem(offs, 0), &begin) != 0 ||
        st_json_uint(cJSON_GetArrayItem(offs, 1), &end) != 0)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: tensor \"%.200s\": \"data_offsets\" must be two non-negative "
                           "integers", label, name);
    if (begin > end)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: tensor \"%.200s\": data_offsets [%llu, %llu] are reversed",
                           label, name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_len)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: tensor \"%.200s\": data_offsets [%llu, %llu] beyond the %zu-byte "
                           "data buffer (truncated file?)",
                           label, name, (unsigned long long)begin, (unsigned long long)end,
                           data_len);
    size_t esize = safetensors_dtype_size(t->dtype);
    if (numel > UINT64_MAX / esize || numel * esize != end - begin)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: tensor \"%.200s\": shape needs %llu elements of %s but "
                           "data_offsets hold %llu bytes",
                           label, name, (unsigned long long)numel, dtype->valuestring,
                           (unsigned long long)(end - begin));
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(end - begin);
    t->offset = (size_t)begin;
    return MLW_OK;
}

static int st_parse_header(struct safetensors *st, const char *json, const char *label,
                           struct mlw_err *err)
{
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &parse_end, 0);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        long pos = at ? (long)(at - json) : -1;
        return mlw_err_set(err, MLW_EFORMAT, "%s: header is not valid JSON (near byte %ld)",
                           label, pos);
    }
    int rc = MLW_OK;
    for (const char *p = parse_end; p && *p; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: junk after the header JSON (byte %ld)",
                             label, (long)(p - json));
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: header is not a JSON object", label);
        goto out;
    }

    size_t n = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root) {
        if (entry->string == NULL) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: header entry without a name", label);
            goto out;
        }
        if (strcmp(entry->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(entry)) {
                rc = mlw_err_set(err, MLW_EFORMAT, "%s: \"__metadata__\" is not an object",
                                 label);
                goto out;
            }
            continue;
        }
        n++;
    }
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (st->tensors == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory for %zu tensors", label, n);
        goto out;
    }
    cJSON_ArrayForEach(entry, root) {
        if (strcmp(entry->string, "__metadata__") == 0)
            continue;
        struct safetensors_tensor *t = &st->tensors[st->n_tensors];
        t->name = strdup(entry->string);
        if (t->name == NULL) {
            rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
            goto out;
        }
        st->n_tensors++;
        rc = st_parse_entry(entry, label, st->data_len, t, err);
        if (rc != MLW_OK)
            goto out;
        t->data = st->data + t->offset;
    }

    /* The ranges must tile the data buffer: sorted by offset, each starts
     * where the previous ended, and the last ends at the end of the file. */
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, st_cmp_offset);
    size_t pos = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const struct safetensors_tensor *t = &st->tensors[i];
        if (t->offset < pos) {
            rc = mlw_err_set(err, MLW_EFORMAT,
                             "%s: tensor \"%.200s\": data_offsets [%zu, %zu] overlap "
                             "tensor \"%.200s\"",
                             label, t->name, t->offset, t->offset + t->nbytes,
                             st->tensors[i - 1].name);
            goto out;
        }
        if (t->offset > pos) {
            rc = mlw_err_set(err, MLW_EFORMAT,
                             "%s: tensor \"%.200s\": data_offsets start at %zu, leaving a hole "
                             "after byte %zu", label, t->name, t->offset, pos);
            goto out;
        }
        pos = t->offset + t->nbytes;
    }
    if (pos != st->data_len) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: tensors cover %zu bytes but the data buffer has %zu (extra "
                         "bytes after the last tensor)", label, pos, st->data_len);
        goto out;
    }

    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, st_cmp_name);
    for (size_t i = 1; i < st->n_tensors; i++) {
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\" appears twice", label,
                             st->tensors[i].name);
            goto out;
        }
    }
out:
    cJSON_Delete(root);
    return rc;
}

int safetensors_parse(const void *buf, size_t len, const char *label, struct safetensors *st,
                      struct mlw_err *err)
{
    memset(st, 0, sizeof *st);
    if (label == NULL)
        label = "<memory>";
    st->path = strdup(label);
    if (st->path == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);

    const uint8_t *p = buf;
    int rc;
    if (len < 8) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: file is %zu bytes, too short for the 8-byte header length "
                         "(truncated or not a safetensors file)", label, len);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen == 0 || hlen > SAFETENSORS_MAX_HEADER) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: header length %llu is out of range 1..%u (not a safetensors "
                         "file?)", label, (unsigned long long)hlen, SAFETENSORS_MAX_HEADER);
        goto fail;
    }
    if (hlen > len - 8) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: header length %llu exceeds the file size %zu (truncated file?)",
                         label, (unsigned long long)hlen, len);
        goto fail;
    }
    st->data = p + 8 + hlen;
    st->data_len = len - 8 - (size_t)hlen;

    /* cJSON wants a NUL-terminated string; the header is not one. */
    char *json = malloc((size_t)hlen + 1);
    if (json == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory for a %llu-byte header", label,
                         (unsigned long long)hlen);
        goto fail;
    }
    memcpy(json, p + 8, (size_t)hlen);
    json[hlen] = '\0';
    if (strlen(json) != hlen) {
        free(json);
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: NUL byte inside the header", label);
        goto fail;
    }
    rc = st_parse_header(st, json, label, err);
    free(json);
    if (rc != MLW_OK)
        goto fail;
    st->format = "safetensors";
    return MLW_OK;
fail:
    safetensors_close(st);
    return rc;
}

int safetensors_open(const char *path, struct safetensors *st, struct mlw_err *err)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mlw_err_set(err, errno == ENOENT ? MLW_ENOTFOUND : MLW_EIO, "%s: cannot open: %s",
                           path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return mlw_err_set(err, MLW_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mlw_err_set(err, MLW_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) {
        close(fd);
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: file is %zu bytes, too short for the 8-byte header length "
                           "(truncated or not a safetensors file)", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return mlw_err_set(err, MLW_EIO, "%s: cannot map %zu bytes: %s", path, len, strerror(e));

    int rc = safetensors_parse(map, len, path, st, err);
    if (rc != MLW_OK) {
        munmap(map, len);
        return rc;
    }
    st->map = map;
    st->map_len = len;
    return MLW_OK;
}

void safetensors_close(struct safetensors *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    free(st->path);
    free(st->heap);
    if (st->map)
        munmap(st->map, st->map_len);
    memset(st, 0, sizeof *st);
}

const struct safetensors_tensor *safetensors_find(const struct safetensors *st, const char *name)
{
    size_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->tensors[mid].name);
        if (c == 0)
            return &st->tensors[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static void st_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int w = snprintf(buf, cap, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < cap; i++) {
        w = snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

int safetensors_get_float(const struct safetensors *st, const char *name, int ndim,
                          const int64_t *shape, const struct safetensors_tensor **out,
                          struct mlw_err *err)
{
    *out = NULL;
    const struct safetensors_tensor *t = safetensors_find(st, name);
    if (t == NULL)
        return mlw_err_set(err, MLW_ENOTFOUND, "%s: missing tensor \"%.200s\"", st->path, name);
    if (t->dtype != SAFETENSORS_DTYPE_F32 && t->dtype != SAFETENSORS_DTYPE_F16 &&
        t->dtype != SAFETENSORS_DTYPE_BF16)
        return mlw_err_set(err, MLW_EUNSUPPORTED,
                           "%s: tensor \"%.200s\" has dtype %s; only F32, F16 and BF16 are "
                           "supported", st->path, name, safetensors_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char want[128], got[128];
        st_format_shape(want, sizeof want, ndim, shape);
        st_format_shape(got, sizeof got, t->ndim, t->shape);
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\" has shape %s, expected %s",
                           st->path, name, got, want);
    }
    *out = t;
    return MLW_OK;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

struct st_buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void st_buf_add(struct st_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void st_buf_fmt(struct st_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void st_buf_fmt(struct st_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1;
        return;
    }
    st_buf_add(b, tmp, (size_t)n);
}

/* A JSON string literal: quotes, backslashes and control bytes escaped. */
static void st_buf_json_str(struct st_buf *b, const char *s)
{
    st_buf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            st_buf_add(b, e, 2);
        } else if (*c < 0x20) {
            st_buf_fmt(b, "\\u%04x", *c);
        } else {
            st_buf_add(b, (const char *)c, 1);
        }
    }
    st_buf_add(b, "\"", 1);
}

static int st_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int safetensors_write(const struct safetensors *st, const char *path,
                      safetensors_progress_fn progress, void *arg, struct mlw_err *err)
{
    struct st_buf h = {0};
    uint64_t off = 0;
    static const char meta[] = "{\"__metadata__\":{\"format\":\"pt\"}";
    st_buf_add(&h, meta, sizeof meta - 1);
    for (size_t i = 0; i < st->n_tensors; i++) {
        const struct safetensors_tensor *t = &st->tensors[i];
        st_buf_add(&h, ",", 1);
        st_buf_json_str(&h, t->name);
        st_buf_fmt(&h, ":{\"dtype\":\"%s\",\"shape\":[", safetensors_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            st_buf_fmt(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        st_buf_fmt(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                   (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
    }
    st_buf_add(&h, "}", 1);
    while (!h.oom && (8 + h.len) % 8 != 0)
        st_buf_add(&h, " ", 1);
    if (h.oom) {
        free(h.p);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory building the header", path);
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (tmp == NULL) {
        free(h.p);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(h.p);
        free(tmp);
        return mlw_err_set(err, MLW_EIO, "%s: cannot create a temporary file: %s", path,
                           strerror(e));
    }
    int rc = MLW_OK;
    uint8_t len8[8];
    uint64_t hl = h.len;
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)(hl >> (8 * i));
    if (fchmod(fd, 0644) != 0 || st_write_all(fd, len8, 8) != 0 ||
        st_write_all(fd, h.p, h.len) != 0)
        rc = mlw_err_set(err, MLW_EIO, "%s: write failed: %s", tmp, strerror(errno));
    uint64_t done = 0;
    for (size_t i = 0; rc == MLW_OK && i < st->n_tensors; i++) {
        const struct safetensors_tensor *t = &st->tensors[i];
        if (st_write_all(fd, t->data, t->nbytes) != 0) {
            rc = mlw_err_set(err, MLW_EIO, "%s: write failed: %s", tmp, strerror(errno));
            break;
        }
        done += t->nbytes;
        if (progress)
            progress(arg, done, off);
    }
    if (rc == MLW_OK && fsync(fd) != 0)
        rc = mlw_err_set(err, MLW_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == MLW_OK)
        rc = mlw_err_set(err, MLW_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == MLW_OK && rename(tmp, path) != 0)
        rc = mlw_err_set(err, MLW_EIO, "%s: cannot rename %s into place: %s", path, tmp,
                         strerror(errno));
    if (rc != MLW_OK)
        unlink(tmp);
    free(tmp);
    free(h.p);
    return rc;
}
