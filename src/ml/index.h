/*
 * index.h - a flat, memory-mappable file of embedding vectors with string
 * metadata, and exact (brute-force) similarity search over it.
 *
 * File layout (little-endian; offsets from the start of the file):
 *
 *   0     header, INDEX_HEADER_SIZE (512) bytes
 *           0  magic "MLWVIDX1"          8  u32 version (1)     12 u32 header size (512)
 *          16  u32 dim                   20 u32 dtype (1 f32, 2 int8)
 *          24  u64 count                 32 u32 n_fields        36 u32 flags (1 = complete)
 *          40  u64 vec_offset (= 512)    48 u64 vec_bytes
 *          56  u64 meta_offset           64 u64 meta_bytes
 *          72  u64 build_key (what the vectors were computed from; resume check)
 *          80  char model_id[128]       208 char model_dtype[16]
 *         224  char model_dir[256]      480 reserved (zero)
 *         508  u32 CRC-32 (zlib polynomial) of bytes 0..507
 *   512   vectors: count rows of `stride` bytes
 *           f32:  dim floats (unit length as written by the builder)
 *           int8: f32 scale, then dim int8 values v, padded to a multiple of
 *                 4 bytes; the vector is scale * v (symmetric, per vector)
 *   meta_offset (a multiple of 64, >= the end of the vectors)
 *         metadata: (count + 1) x n_fields u32 offsets into the string blob
 *         that follows; row 0 holds the field names, row i + 1 the fields of
 *         vector i. The blob is NUL-terminated strings; it ends with a NUL.
 *         The builder stores each distinct string once (rows share offsets).
 *         meta_offset + meta_bytes = file size.
 *
 * A builder writes PATH.partial: the header (flags 0, count = vectors safely
 * written), then vectors, flushing with fdatasync before each header update.
 * An interrupted build can be resumed: index_writer_open() with the same
 * model id, dim, dtype and build_key keeps the vectors already there.
 * index_writer_finish() appends the metadata, marks the header complete and
 * renames the file to PATH.
 *
 * Readers (index_open / index_parse) validate everything above before they
 * return, so a truncated or corrupt file gives a clear error, never a crash.
 * The metadata offsets are read in place: little-endian hosts only.
 *
 * Thread: an opened index is read-only; index_search() may run concurrently
 * with caller-owned score buffers.
 */
#ifndef MLW_ML_INDEX_H
#define MLW_ML_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define INDEX_HEADER_SIZE 512
#define INDEX_MODEL_ID_MAX 128
#define INDEX_MODEL_DTYPE_MAX 16
#define INDEX_MODEL_DIR_MAX 256
#define INDEX_MAX_DIM 65536
#define INDEX_MAX_FIELDS 64

enum index_dtype {
    INDEX_DTYPE_F32 = 1,
    INDEX_DTYPE_INT8 = 2
};

/* What the header records about the vectors. */
struct index_info {
    int dim;
    enum index_dtype dtype;
    uint64_t build_key;
    char model_id[INDEX_MODEL_ID_MAX];        /* embed_model_id() of the encoder */
    char model_dtype[INDEX_MODEL_DTYPE_MAX];  /* encoder weight format: "fp32", ... */
    char model_dir[INDEX_MODEL_DIR_MAX];      /* where the model was (a hint) */
};

struct index {
    struct index_info info;
    size_t count;
    int n_fields;
    size_t stride;              /* bytes per vector row */
    const uint8_t *vecs;        /* count rows */
    const uint32_t *offsets;    /* (count + 1) x n_fields */
    const char *blob;
    size_t blob_len;
    void *map;                  /* whole-file mapping (index_open), or NULL */
    size_t map_len;
    char *label;                /* path or label, for messages */
};

/*
** Map and validate a complete index file. Returns MLW_OK and fills *idx
** (release with index_close()); MLW_ENOTFOUND (no such file), MLW_EIO,
** MLW_EFORMAT (truncated, corrupt, incomplete, unknown version; the message
** says which), MLW_ENOMEM. On failure *idx is empty.
*/
int index_open(const char *path, struct index *idx, struct mlw_err *err);

/* Validate an in-memory image of a whole index file; buf must outlive *idx.
 * Same checks and results as index_open(). For tests and fuzzing. */
int index_parse(const void *buf, size_t len, const char *label, struct index *idx,
                struct mlw_err *err);

/* Release; safe on a zeroed or failed struct. */
void index_close(struct index *idx);

/* Column of the field called `name`, or -1. */
int index_field_index(const struct index *idx, const char *name);
/* Field f of vector i (0 <= i < count), never NULL ("" when empty). */
const char *index_field(const struct index *idx, size_t i, int f);

/* Bytes of one vector row for dim and dtype. */
size_t index_row_bytes(int dim, enum index_dtype dtype);

/* Encode one fp32 vector as a row (f32 copy, or int8 with its scale). */
void index_encode_row(const float *v, int dim, enum index_dtype dtype, uint8_t *row);

/*
** scores[i] = <query, vector i> for every vector: exact, brute force
** (cblas_sgemv for f32; int8 rows widened against the fp32 query, SIMD
** lanes). query has dim floats (unit length for cosine scores).
** Returns MLW_OK or MLW_ENOMEM.
*/
int index_search(const struct index *idx, const float *query,
                 float *scores,                   /* OUT: [count] */
                 struct mlw_err *err);            /* OUT: detail; may be NULL */

/* The k best of n scores, best first, ties by lower index; only those with
 * keep[i] != 0 when keep is not NULL. Returns how many were written (<= k). */
size_t index_top_k(const float *scores, size_t n, const uint8_t *keep, size_t k,
                   size_t *out);                  /* OUT: [k] indexes */

/* ---- building ---------------------------------------------------------- */

struct index_writer;

/*
** Start writing `path` (really path + ".partial"). With resume != 0 and a
** partial file whose header matches info (dim, dtype, model_id, build_key),
** keeps its vectors: *done is set to how many. Otherwise starts empty
** (*done = 0), replacing any partial file. Returns MLW_OK, MLW_EIO,
** MLW_EINVAL (bad info), MLW_ENOMEM.
*/
int index_writer_open(const char *path, const struct index_info *info, int resume,
                      struct index_writer **out, size_t *done,
                      char *note, size_t note_cap,   /* OUT: why a partial file was
                                                        not resumed ("" if it was) */
                      struct mlw_err *err);

/* Append n fp32 vectors ([n, dim]); durable (fdatasync + header) on return. */
int index_writer_append(struct index_writer *w, const float *vecs, size_t n,
                        struct mlw_err *err);

/*
** Write the metadata for the count vectors written: field names names[0..nf)
** and fields[i * nf + f] for vector i (NULL = ""). Marks the file complete,
** syncs it and renames it to the final path. The writer is freed either way.
*/
int index_writer_finish(struct index_writer *w, const char *const *names, int nf,
                        const char *const *fields, size_t count, struct mlw_err *err);

/* Abandon: close the partial file, keep it on disk for a later resume. */
void index_writer_abort(struct index_writer *w);

/* CRC-32 (zlib/IEEE polynomial) of n bytes, continuing from crc (0 to start). */
uint32_t index_crc32(uint32_t crc, const void *buf, size_t n);

#endif
