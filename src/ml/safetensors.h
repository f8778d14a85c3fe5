/*
 * safetensors.h - read-only access to a Hugging Face .safetensors file.
 *
 * Format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * unsigned header length N, N bytes of JSON, then the data buffer. The JSON is
 * an object; each key except "__metadata__" names a tensor:
 *
 *     "encoder.layer.0.attention.self.query.weight":
 *         {"dtype": "F32", "shape": [768, 768], "data_offsets": [begin, end]}
 *
 * Offsets are relative to the start of the data buffer. safetensors_open()
 * maps the file (MAP_PRIVATE, read only) and validates the whole header before
 * it returns: every dtype known, every shape x element size equal to its byte
 * range, ranges inside the file, sorted ranges neither overlapping nor leaving
 * holes, names unique. After that, tensor data pointers point into the mapping
 * and stay valid until safetensors_close(). Nothing is copied.
 *
 * Errors name the file and, where there is one, the tensor.
 * Thread: an opened file is immutable; any number of readers may share it.
 */
#ifndef MLW_ML_SAFETENSORS_H
#define MLW_ML_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SAFETENSORS_MAX_DIMS 8
/* Largest header accepted: the limit of Hugging Face's own reader. */
#define SAFETENSORS_MAX_HEADER 100000000u

enum safetensors_dtype {
    SAFETENSORS_DTYPE_F32,
    SAFETENSORS_DTYPE_F16,
    SAFETENSORS_DTYPE_BF16,
    SAFETENSORS_DTYPE_F64,
    SAFETENSORS_DTYPE_I64,
    SAFETENSORS_DTYPE_I32,
    SAFETENSORS_DTYPE_I16,
    SAFETENSORS_DTYPE_I8,
    SAFETENSORS_DTYPE_U8,
    SAFETENSORS_DTYPE_BOOL,
    SAFETENSORS_DTYPE_F8_E4M3,
    SAFETENSORS_DTYPE_F8_E5M2,
    SAFETENSORS_DTYPE_U16,
    SAFETENSORS_DTYPE_U32,
    SAFETENSORS_DTYPE_U64
};

struct safetensors_tensor {
    char *name;                     /* owned by the file */
    enum safetensors_dtype dtype;
    int ndim;                       /* 0 = scalar */
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t numel;                   /* product of shape (1 for a scalar) */
    size_t nbytes;                  /* numel x element size */
    size_t offset;                  /* from the start of the data buffer */
    const void *data;               /* inside the mapping; may be unaligned */
};

struct safetensors {
    char *path;                     /* copy of the opened path (for messages) */
    void *map;                      /* whole-file mapping, or NULL (parsed buffer) */
    size_t map_len;
    const uint8_t *data;            /* data buffer (after the header) */
    size_t data_len;
    struct safetensors_tensor *tensors; /* sorted by name */
    size_t n_tensors;
    const char *format;             /* static: "safetensors", "pytorch-zip", "pytorch-legacy" */
    void *heap;                     /* contiguous copies a loader made (torchbin.c: strided
                                       tensors), freed by safetensors_close(); or NULL */
};

/*
** Map and validate `path`. Returns MLW_OK and fills *st, which the caller
** releases with safetensors_close(). On failure *st is left empty (closing it
** is harmless) and err says what is wrong: MLW_EIO (cannot open/map),
** MLW_EFORMAT (malformed), MLW_ENOMEM.
*/
int safetensors_open(const char *path,          /* file to map */
                     struct safetensors *st,    /* OUT: opened file */
                     struct mlw_err *err);      /* OUT: detail; may be NULL */

/*
** Validate an in-memory image of a whole safetensors file (header and data).
** Same checks and results as safetensors_open(); `buf` must outlive *st, and
** `label` is used in messages in place of a path. Used by tests and fuzzing.
*/
int safetensors_parse(const void *buf, size_t len, const char *label,
                      struct safetensors *st, struct mlw_err *err);

/* Release what open/parse allocated and unmap. Safe on a zeroed struct. */
void safetensors_close(struct safetensors *st);

/* Called by safetensors_write() after each tensor: bytes written so far of total. */
typedef void (*safetensors_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
** Write every tensor of st (any source: a safetensors or a PyTorch file) to
** a new safetensors file at `path`, atomically: into a temporary file in the
** same directory, fsync, then rename over `path`. Tensors are laid out in
** name order with no gaps; the header is the JSON object with
** "__metadata__": {"format": "pt"}, padded with spaces so the data starts
** at a multiple of 8 bytes. progress may be NULL. Returns MLW_OK, or MLW_EIO
** (nothing is left at path, the temporary file is removed), MLW_ENOMEM.
*/
int safetensors_write(const struct safetensors *st, const char *path,
                      safetensors_progress_fn progress, void *arg, struct mlw_err *err);

/* The tensor called `name`, or NULL. O(log n). */
const struct safetensors_tensor *safetensors_find(const struct safetensors *st,
                                                  const char *name);

/*
** Find a floating-point (F32/F16/BF16) tensor and check its shape.
** `shape`/`ndim` give the expected shape. Returns MLW_OK and sets *out;
** MLW_ENOTFOUND if absent, MLW_EFORMAT on a shape mismatch, MLW_EUNSUPPORTED
** for another dtype. Messages name the file and the tensor.
*/
int safetensors_get_float(const struct safetensors *st, const char *name,
                          int ndim, const int64_t *shape,
                          const struct safetensors_tensor **out,
                          struct mlw_err *err);

/* "F32", "BF16", ... */
const char *safetensors_dtype_name(enum safetensors_dtype dtype);
/* Element size in bytes. */
size_t safetensors_dtype_size(enum safetensors_dtype dtype);

/* Convert n elements of F32/F16/BF16 data (any alignment) to float. */
void safetensors_to_f32(enum safetensors_dtype dtype, const void *src, size_t n,
                        float *dst);
/* IEEE binary16 / bfloat16 bit patterns to float (exact). */
float safetensors_f16_to_f32(uint16_t h);
float safetensors_bf16_to_f32(uint16_t b);

#endif
