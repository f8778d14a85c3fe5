/*
 * index.c - the vector index file: reader (validate, map, search) and
 * resumable writer; see index.h for the layout.
 *
 * Validation order in index_parse() (each step assumes the ones before it):
 *   1. the file holds a whole header; magic, version, header size, CRC;
 *   2. the header says complete; dim, dtype, n_fields in range; strings
 *      NUL-terminated inside their slots;
 *   3. vec_offset = header size, vec_bytes = count x stride (no overflow);
 *   4. meta_offset is 64-aligned, not before the vectors' end, and
 *      meta_offset + meta_bytes = file size;
 *   5. the offset table fits in meta_bytes, the blob after it is non-empty
 *      and ends with NUL, and every offset points inside the blob.
 */
#include "ml/index.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IX_MAGIC "MLWVIDX1"
#define IX_VERSION 1u
#define IX_FLAG_COMPLETE 1u
#define IX_CRC_AT (INDEX_HEADER_SIZE - 4)
#define IX_META_ALIGN 64

/* header field offsets */
enum {
    IX_O_MAGIC = 0, IX_O_VERSION = 8, IX_O_HSIZE = 12, IX_O_DIM = 16, IX_O_DTYPE = 20,
    IX_O_COUNT = 24, IX_O_NFIELDS = 32, IX_O_FLAGS = 36, IX_O_VEC_OFF = 40, IX_O_VEC_BYTES = 48,
    IX_O_META_OFF = 56, IX_O_META_BYTES = 64, IX_O_BUILD_KEY = 72, IX_O_MODEL_ID = 80,
    IX_O_MODEL_DTYPE = 208, IX_O_MODEL_DIR = 224
};

/* ------------------------------------------------------------------------ */
/* Little-endian fields and CRC                                              */

static uint32_t ix_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ix_get64(const uint8_t *p)
{
    return (uint64_t)ix_get32(p) | (uint64_t)ix_get32(p + 4) << 32;
}

static void ix_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void ix_put64(uint8_t *p, uint64_t v)
{
    ix_put32(p, (uint32_t)v);
    ix_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t index_crc32(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

size_t index_row_bytes(int dim, enum index_dtype dtype)
{
    if (dtype == INDEX_DTYPE_INT8)
        return 4 + ((size_t)dim + 3) / 4 * 4;
    return (size_t)dim * sizeof(float);
}

/* A string slot of the header: NUL-terminated inside cap bytes. */
static int ix_slot_ok(const uint8_t *h, size_t at, size_t cap)
{
    return memchr(h + at, '\0', cap) != NULL;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

/* Steps 1-2 on a header image; fills info/count/fields. complete: require flag. */
static int ix_parse_header(const uint8_t *h, size_t len, const char *label, int complete,
                           struct index_info *info, uint64_t *count, uint32_t *n_fields,
                           struct mlw_err *err)
{
    if (len < INDEX_HEADER_SIZE)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: truncated: %zu bytes, shorter than the %d-byte header", label,
                           len, INDEX_HEADER_SIZE);
    if (memcmp(h + IX_O_MAGIC, IX_MAGIC, 8) != 0)
        return mlw_err_set(err, MLW_EFORMAT, "%s: not an mlworker vector index (bad magic)",
                           label);
    uint32_t version = ix_get32(h + IX_O_VERSION);
    if (version != IX_VERSION)
        return mlw_err_set(err, MLW_EFORMAT, "%s: index format version %u (this build reads %u)",
                           label, version, IX_VERSION);
    if (ix_get32(h + IX_O_HSIZE) != INDEX_HEADER_SIZE)
        return mlw_err_set(err, MLW_EFORMAT, "%s: header size %u, expected %d", label,
                           ix_get32(h + IX_O_HSIZE), INDEX_HEADER_SIZE);
    if (index_crc32(0, h, IX_CRC_AT) != ix_get32(h + IX_CRC_AT))
        return mlw_err_set(err, MLW_EFORMAT, "%s: header checksum mismatch (corrupt file)",
                           label);
    uint32_t flags = ix_get32(h + IX_O_FLAGS);
    if (complete && !(flags & IX_FLAG_COMPLETE))
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: incomplete index (its build did not finish; run loinc build "
                           "again to resume it)", label);
    uint32_t dim = ix_get32(h + IX_O_DIM), dtype = ix_get32(h + IX_O_DTYPE);
    *n_fields = ix_get32(h + IX_O_NFIELDS);
    if (dim < 1 || dim > INDEX_MAX_DIM)
        return mlw_err_set(err, MLW_EFORMAT, "%s: vector dimension %u out of range 1..%d", label,
                           dim, INDEX_MAX_DIM);
    if (dtype != INDEX_DTYPE_F32 && dtype != INDEX_DTYPE_INT8)
        return mlw_err_set(err, MLW_EFORMAT, "%s: unknown vector dtype %u", label, dtype);
    if (complete && (*n_fields < 1 || *n_fields > INDEX_MAX_FIELDS))
        return mlw_err_set(err, MLW_EFORMAT, "%s: %u metadata fields (1..%d allowed)", label,
                           *n_fields, INDEX_MAX_FIELDS);
    if (!ix_slot_ok(h, IX_O_MODEL_ID, INDEX_MODEL_ID_MAX) ||
        !ix_slot_ok(h, IX_O_MODEL_DTYPE, INDEX_MODEL_DTYPE_MAX) ||
        !ix_slot_ok(h, IX_O_MODEL_DIR, INDEX_MODEL_DIR_MAX))
        return mlw_err_set(err, MLW_EFORMAT, "%s: unterminated string in the header", label);
    memset(info, 0, sizeof *info);
    info->dim = (int)dim;
    info->dtype = (enum index_dtype)dtype;
    info->build_key = ix_get64(h + IX_O_BUILD_KEY);
    memcpy(info->model_id, h + IX_O_MODEL_ID, INDEX_MODEL_ID_MAX);
    memcpy(info->model_dtype, h + IX_O_MODEL_DTYPE, INDEX_MODEL_DTYPE_MAX);
    memcpy(info->model_dir, h + IX_O_MODEL_DIR, INDEX_MODEL_DIR_MAX);
    *count = ix_get64(h + IX_O_COUNT);
    return MLW_OK;
}

int index_parse(const void *buf, size_t len, const char *label, struct index *idx,
                struct mlw_err *err)
{
    memset(idx, 0, sizeof *idx);
    const uint8_t *h = buf;
    uint64_t count;
    uint32_t nf;
    struct index_info info;
    int rc = ix_parse_header(h, len, label, 1, &info, &count, &nf, err);
    if (rc != MLW_OK)
        return rc;
    size_t stride = index_row_bytes(info.dim, info.dtype);
    uint64_t vec_off = ix_get64(h + IX_O_VEC_OFF), vec_bytes = ix_get64(h + IX_O_VEC_BYTES);
    uint64_t meta_off = ix_get64(h + IX_O_META_OFF), meta_bytes = ix_get64(h + IX_O_META_BYTES);
    if (vec_off != INDEX_HEADER_SIZE)
        return mlw_err_set(err, MLW_EFORMAT, "%s: vectors at offset %llu, expected %d", label,
                           (unsigned long long)vec_off, INDEX_HEADER_SIZE);
    if (count > (uint64_t)len / stride || vec_bytes != count * stride)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: header says %llu vectors of %zu bytes in %llu bytes; the file "
                           "has %zu bytes (truncated or corrupt)", label,
                           (unsigned long long)count, stride, (unsigned long long)vec_bytes,
                           len);
    uint64_t vec_end = vec_off + vec_bytes;
    if (meta_off % IX_META_ALIGN != 0 || meta_off < vec_end || meta_off > len ||
        meta_bytes != len - meta_off)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: metadata at %llu (+%llu bytes) does not end the %zu-byte file "
                           "(truncated or corrupt)", label, (unsigned long long)meta_off,
                           (unsigned long long)meta_bytes, len);
    uint64_t table = (count + 1) * (uint64_t)nf * 4; /* count < len: no overflow */
    if (table >= meta_bytes)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: metadata table of %llu bytes does not fit in %llu bytes", label,
                           (unsigned long long)table, (unsigned long long)meta_bytes);
    const uint8_t *meta = h + meta_off;
    const char *blob = (const char *)meta + table;
    size_t blob_len = (size_t)(meta_bytes - table);
    if (blob[blob_len - 1] != '\0')
        return mlw_err_set(err, MLW_EFORMAT, "%s: metadata strings do not end with NUL", label);
    const uint32_t *offsets = (const uint32_t *)meta; /* meta_off is 64-aligned */
    for (uint64_t i = 0; i < (count + 1) * nf; i++) {
        uint32_t o = ix_get32(meta + 4 * i);
        if (o >= blob_len)
            return mlw_err_set(err, MLW_EFORMAT,
                               "%s: metadata entry %llu points outside the strings (%u >= %zu)",
                               label, (unsigned long long)i, o, blob_len);
    }
    idx->info = info;
    idx->count = (size_t)count;
    idx->n_fields = (int)nf;
    idx->stride = stride;
    idx->vecs = h + vec_off;
    idx->offsets = offsets;
    idx->blob = blob;
    idx->blob_len = blob_len;
    idx->label = strdup(label);
    if (idx->label == NULL) {
        memset(idx, 0, sizeof *idx);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    return MLW_OK;
}

int index_open(const char *path, struct index *idx, struct mlw_err *err)
{
    memset(idx, 0, sizeof *idx);
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
    if (len < INDEX_HEADER_SIZE) {
        close(fd);
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: truncated: %zu bytes, shorter than the %d-byte header", path,
                           len, INDEX_HEADER_SIZE);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return mlw_err_set(err, MLW_EIO, "%s: cannot map: %s", path, strerror(e));
    int rc = index_parse(map, len, path, idx, err);
    if (rc != MLW_OK) {
        munmap(map, len);
        return rc;
    }
    idx->map = map;
    idx->map_len = len;
    return MLW_OK;
}

void index_close(struct index *idx)
{
    if (idx == NULL)
        return;
    if (idx->map != NULL)
        munmap(idx->map, idx->map_len);
    free(idx->label);
    memset(idx, 0, sizeof *idx);
}

int index_field_index(const struct index *idx, const char *name)
{
    for (int f = 0; f < idx->n_fields; f++)
        if (strcmp(idx->blob + idx->offsets[f], name) == 0)
            return f;
    return -1;
}

const char *index_field(const struct index *idx, size_t i, int f)
{
    if (i >= idx->count || f < 0 || f >= idx->n_fields)
        return "";
    return idx->blob + idx->offsets[(i + 1) * (size_t)idx->n_fields + (size_t)f];
}

/* ------------------------------------------------------------------------ */
/* Search                                                                    */

void index_encode_row(const float *v, int dim, enum index_dtype dtype, uint8_t *row)
{
    if (dtype == INDEX_DTYPE_F32) {
        memcpy(row, v, (size_t)dim * sizeof(float));
        return;
    }
    float mx = 0.0f;
    for (int j = 0; j < dim; j++)
        mx = fabsf(v[j]) > mx ? fabsf(v[j]) : mx;
    float scale = mx > 0.0f ? mx / 127.0f : 1.0f;
    memcpy(row, &scale, sizeof scale);
    int8_t *q = (int8_t *)(row + 4);
    for (int j = 0; j < dim; j++) {
        float r = nearbyintf(v[j] / scale);
        q[j] = (int8_t)(r > 127.0f ? 127 : (r < -127.0f ? -127 : (int)r));
    }
    for (size_t j = (size_t)dim; j < index_row_bytes(dim, dtype) - 4; j++)
        q[j] = 0;
}

/* <int8 row, fp32 query>: 16 independent float lanes (no reassociation
 * needed, so GCC vectorizes the constant-length inner loop at -O2); on x86-64
 * the function is also cloned for AVX2 and AVX-512 (chosen at load). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
static float ix_dot_i8f(const int8_t *v, const float *q, size_t n)
{
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += (float)v[i + (size_t)j] * q[i + (size_t)j];
    float s = 0.0f;
    for (; i < n; i++)
        s += (float)v[i] * q[i];
    for (int j = 0; j < 16; j++)
        s += acc[j];
    return s;
}

int index_search(const struct index *idx, const float *query, float *scores,
                 struct mlw_err *err)
{
    const int dim = idx->info.dim;
    (void)err; /* nothing can fail today; the status leaves room for chunked scoring */
    if (idx->count == 0)
        return MLW_OK;
    if (idx->info.dtype == INDEX_DTYPE_F32) {
        /* rows are 4-aligned: the mapping is page-aligned and the header 512 bytes */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)idx->count, dim, 1.0f,
                    (const float *)(const void *)idx->vecs, dim, query, 1, 0.0f, scores, 1);
        return MLW_OK;
    }
    /* int8 rows against the fp32 query: only the stored vectors are rounded */
    for (size_t i = 0; i < idx->count; i++) {
        const uint8_t *row = idx->vecs + i * idx->stride;
        float rs;
        memcpy(&rs, row, sizeof rs);
        scores[i] = ix_dot_i8f((const int8_t *)(row + 4), query, (size_t)dim) * rs;
    }
    return MLW_OK;
}

/* a before b in the ranking: higher score, then lower index; NaN last */
static int ix_better(const float *scores, size_t a, size_t b)
{
    float sa = scores[a], sb = scores[b];
    if (sa != sa)
        return 0;
    if (sb != sb)
        return 1;
    return sa > sb || (sa == sb && a < b);
}

size_t index_top_k(const float *scores, size_t n, const uint8_t *keep, size_t k, size_t *out)
{
    size_t m = 0;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (keep != NULL && !keep[i])
            continue;
        if (m == k && !ix_better(scores, i, out[m - 1]))
            continue;
        size_t j = m < k ? m++ : m - 1; /* insertion point from the end */
        while (j > 0 && ix_better(scores, i, out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

struct index_writer {
    int fd;
    char *path;          /* final path */
    char *partial;       /* path + ".partial" */
    struct index_info info;
    size_t stride;
    uint64_t count;      /* vectors written and recorded in the header */
    uint8_t *row;        /* one encoded row */
};

static void ix_fill_header(const struct index_writer *w, uint32_t n_fields, uint32_t flags,
                           uint64_t meta_off, uint64_t meta_bytes, uint8_t *h)
{
    memset(h, 0, INDEX_HEADER_SIZE);
    memcpy(h + IX_O_MAGIC, IX_MAGIC, 8);
    ix_put32(h + IX_O_VERSION, IX_VERSION);
    ix_put32(h + IX_O_HSIZE, INDEX_HEADER_SIZE);
    ix_put32(h + IX_O_DIM, (uint32_t)w->info.dim);
    ix_put32(h + IX_O_DTYPE, (uint32_t)w->info.dtype);
    ix_put64(h + IX_O_COUNT, w->count);
    ix_put32(h + IX_O_NFIELDS, n_fields);
    ix_put32(h + IX_O_FLAGS, flags);
    ix_put64(h + IX_O_VEC_OFF, INDEX_HEADER_SIZE);
    ix_put64(h + IX_O_VEC_BYTES, w->count * w->stride);
    ix_put64(h + IX_O_META_OFF, meta_off);
    ix_put64(h + IX_O_META_BYTES, meta_bytes);
    ix_put64(h + IX_O_BUILD_KEY, w->info.build_key);
    memcpy(h + IX_O_MODEL_ID, w->info.model_id, INDEX_MODEL_ID_MAX);
    memcpy(h + IX_O_MODEL_DTYPE, w->info.model_dtype, INDEX_MODEL_DTYPE_MAX);
    memcpy(h + IX_O_MODEL_DIR, w->info.model_dir, INDEX_MODEL_DIR_MAX);
    ix_put32(h + IX_CRC_AT, index_crc32(0, h, IX_CRC_AT));
}

/* pwrite all of buf at off. */
static int ix_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

static int ix_write_header(struct index_writer *w, uint32_t n_fields, uint32_t flags,
                           uint64_t meta_off, uint64_t meta_bytes, struct mlw_err *err)
{
    uint8_t h[INDEX_HEADER_SIZE];
    ix_fill_header(w, n_fields, flags, meta_off, meta_bytes, h);
    if (ix_pwrite(w->fd, h, sizeof h, 0) != 0)
        return mlw_err_set(err, MLW_EIO, "%s: write failed: %s", w->partial, strerror(errno));
    return MLW_OK;
}

static void ix_writer_free(struct index_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->path);
    free(w->partial);
    free(w->row);
    free(w);
}

/* Can the partial file at fd be resumed? Sets *count, or fills note. */
static int ix_try_resume(struct index_writer *w, char *note, size_t note_cap, uint64_t *count)
{
    struct stat sb;
    uint8_t h[INDEX_HEADER_SIZE];
    if (fstat(w->fd, &sb) != 0 || (size_t)sb.st_size < INDEX_HEADER_SIZE ||
        pread(w->fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
        snprintf(note, note_cap, "%s has no readable header", w->partial);
        return 0;
    }
    struct index_info got;
    uint64_t n;
    uint32_t nf;
    struct mlw_err e = {0};
    if (ix_parse_header(h, sizeof h, w->partial, 0, &got, &n, &nf, &e) != MLW_OK) {
        snprintf(note, note_cap, "%s", e.msg);
        return 0;
    }
    if (got.dim != w->info.dim || got.dtype != w->info.dtype ||
        strcmp(got.model_id, w->info.model_id) != 0 ||
        strcmp(got.model_dtype, w->info.model_dtype) != 0 ||
        got.build_key != w->info.build_key) {
        snprintf(note, note_cap,
                 "%s was started with another model, dtype or term list (%s %s)", w->partial,
                 got.model_id, got.model_dtype);
        return 0;
    }
    if ((uint64_t)sb.st_size < INDEX_HEADER_SIZE + n * w->stride) {
        snprintf(note, note_cap, "%s is shorter than its header says", w->partial);
        return 0;
    }
    *count = n;
    return 1;
}

int index_writer_open(const char *path, const struct index_info *info, int resume,
                      struct index_writer **out, size_t *done, char *note, size_t note_cap,
                      struct mlw_err *err)
{
    *out = NULL;
    *done = 0;
    if (note_cap > 0)
        note[0] = '\0';
    if (info->dim < 1 || info->dim > INDEX_MAX_DIM ||
        (info->dtype != INDEX_DTYPE_F32 && info->dtype != INDEX_DTYPE_INT8) ||
        memchr(info->model_id, '\0', INDEX_MODEL_ID_MAX) == NULL ||
        memchr(info->model_dtype, '\0', INDEX_MODEL_DTYPE_MAX) == NULL ||
        memchr(info->model_dir, '\0', INDEX_MODEL_DIR_MAX) == NULL)
        return mlw_err_set(err, MLW_EINVAL, "%s: bad index parameters", path);
    struct index_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    w->fd = -1;
    w->info = *info;
    w->stride = index_row_bytes(info->dim, info->dtype);
    size_t plen = strlen(path);
    w->path = strdup(path);
    w->partial = malloc(plen + sizeof ".partial");
    w->row = malloc(w->stride);
    if (w->path == NULL || w->partial == NULL || w->row == NULL) {
        ix_writer_free(w);
        return mlw_err_set(err, MLW_ENOMEM, "out of memory");
    }
    memcpy(w->partial, path, plen);
    memcpy(w->partial + plen, ".partial", sizeof ".partial");

    w->fd = open(w->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int rc = mlw_err_set(err, MLW_EIO, "%s: cannot create: %s", w->partial,
                             strerror(errno));
        ix_writer_free(w);
        return rc;
    }
    uint64_t have = 0;
    struct stat sb;
    int existed = fstat(w->fd, &sb) == 0 && sb.st_size > 0;
    if (existed && resume && ix_try_resume(w, note, note_cap, &have)) {
        w->count = have;
        if (note_cap > 0)
            note[0] = '\0';
    } else if (existed && !resume && note_cap > 0) {
        snprintf(note, note_cap, "%s exists and resuming is off", w->partial);
    }
    /* drop anything past the recorded vectors (a torn append), then record */
    if (ftruncate(w->fd, (off_t)(INDEX_HEADER_SIZE + w->count * w->stride)) != 0) {
        int rc = mlw_err_set(err, MLW_EIO, "%s: cannot truncate: %s", w->partial,
                             strerror(errno));
        ix_writer_free(w);
        return rc;
    }
    int rc = ix_write_header(w, 0, 0, 0, 0, err);
    if (rc == MLW_OK && fdatasync(w->fd) != 0)
        rc = mlw_err_set(err, MLW_EIO, "%s: fdatasync: %s", w->partial, strerror(errno));
    if (rc != MLW_OK) {
        ix_writer_free(w);
        return rc;
    }
    *done = (size_t)w->count;
    *out = w;
    return MLW_OK;
}

int index_writer_append(struct index_writer *w, const float *vecs, size_t n,
                        struct mlw_err *err)
{
    off_t off = (off_t)(INDEX_HEADER_SIZE + w->count * w->stride);
    for (size_t i = 0; i < n; i++) {
        index_encode_row(vecs + i * (size_t)w->info.dim, w->info.dim, w->info.dtype, w->row);
        if (ix_pwrite(w->fd, w->row, w->stride, off) != 0)
            return mlw_err_set(err, MLW_EIO, "%s: write failed: %s", w->partial,
                               strerror(errno));
        off += (off_t)w->stride;
    }
    /* vectors reach the disk before the header that counts them */
    if (fdatasync(w->fd) != 0)
        return mlw_err_set(err, MLW_EIO, "%s: fdatasync: %s", w->partial, strerror(errno));
    w->count += n;
    return ix_write_header(w, 0, 0, 0, 0, err);
}

void index_writer_abort(struct index_writer *w) { ix_writer_free(w); }

int index_writer_finish(struct index_writer *w, const char *const *names, int nf,
                        const char *const *fields, size_t count, struct mlw_err *err)
{
    int rc = MLW_OK;
    uint8_t *meta = NULL;
    if (nf < 1 || nf > INDEX_MAX_FIELDS || count != w->count) {
        rc = mlw_err_set(err, MLW_EINVAL,
                         "%s: metadata for %zu entries x %d fields, but %llu vectors written",
                         w->partial, count, nf, (unsigned long long)w->count);
        goto out;
    }
    /* blob: names then fields, each NUL-terminated; offsets table before it */
    uint64_t table = ((uint64_t)count + 1) * (uint64_t)nf * 4, blob = 1; /* leading "" */
    for (int f = 0; f < nf; f++)
        blob += strlen(names[f]) + 1;
    for (size_t i = 0; i < count * (size_t)nf; i++)
        blob += fields[i] != NULL ? strlen(fields[i]) + 1 : 0;
    if (blob > UINT32_MAX) {
        rc = mlw_err_set(err, MLW_EINVAL, "%s: metadata strings exceed 4 GiB", w->partial);
        goto out;
    }
    /* each distinct string is stored once: an open-addressing table of blob offsets */
    size_t n_str = (count + 1) * (size_t)nf, slots = 1024;
    while (slots < 2 * n_str)
        slots *= 2;
    meta = malloc((size_t)(table + blob));
    uint32_t *intern = calloc(slots, sizeof *intern); /* 0 = empty (offset 0 is "") */
    if (meta == NULL || intern == NULL) {
        free(intern);
        rc = mlw_err_set(err, MLW_ENOMEM, "out of memory for %llu bytes of metadata",
                         (unsigned long long)(table + blob));
        goto out;
    }
    char *b = (char *)meta + table;
    uint32_t at = 1;
    b[0] = '\0';
    for (size_t i = 0; i < n_str; i++) {
        const char *s = i < (size_t)nf ? names[i] : fields[i - (size_t)nf];
        if (s == NULL || s[0] == '\0') {
            ix_put32(meta + 4 * i, 0);
            continue;
        }
        size_t len = strlen(s) + 1;
        uint64_t h = 1469598103934665603ull;
        for (size_t c = 0; c + 1 < len; c++)
            h = (h ^ (unsigned char)s[c]) * 1099511628211ull;
        size_t slot = (size_t)h & (slots - 1);
        while (intern[slot] != 0 && strcmp(b + intern[slot], s) != 0)
            slot = (slot + 1) & (slots - 1);
        if (intern[slot] == 0) {
            memcpy(b + at, s, len);
            intern[slot] = at;
            at += (uint32_t)len;
        }
        ix_put32(meta + 4 * i, intern[slot]);
    }
    free(intern);
    uint64_t blob_used = at;
    uint64_t vec_end = INDEX_HEADER_SIZE + w->count * w->stride;
    uint64_t meta_off = (vec_end + IX_META_ALIGN - 1) / IX_META_ALIGN * IX_META_ALIGN;
    uint64_t meta_bytes = table + blob_used;
    static const uint8_t zeros[IX_META_ALIGN];
    if (ix_pwrite(w->fd, zeros, (size_t)(meta_off - vec_end), (off_t)vec_end) != 0 ||
        ix_pwrite(w->fd, meta, (size_t)meta_bytes, (off_t)meta_off) != 0 ||
        ftruncate(w->fd, (off_t)(meta_off + meta_bytes)) != 0) {
        rc = mlw_err_set(err, MLW_EIO, "%s: write failed: %s", w->partial, strerror(errno));
        goto out;
    }
    if (fdatasync(w->fd) != 0) {
        rc = mlw_err_set(err, MLW_EIO, "%s: fdatasync: %s", w->partial, strerror(errno));
        goto out;
    }
    rc = ix_write_header(w, (uint32_t)nf, IX_FLAG_COMPLETE, meta_off, meta_bytes, err);
    if (rc == MLW_OK && fsync(w->fd) != 0)
        rc = mlw_err_set(err, MLW_EIO, "%s: fsync: %s", w->partial, strerror(errno));
    if (rc == MLW_OK && rename(w->partial, w->path) != 0)
        rc = mlw_err_set(err, MLW_EIO, "cannot rename %s to %s: %s", w->partial, w->path,
                         strerror(errno));
out:
    free(meta);
    ix_writer_free(w);
    return rc;
}
