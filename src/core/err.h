/*
 * err.h - errors as values.
 *
 * Every fallible function returns an int status (MLW_OK = 0, or a negative
 * MLW_E* code) and, when the caller passes one, fills a struct mlw_err with
 * a one-line human message. First error wins: once a message is set, later
 * calls to mlw_err_set() keep it, so the root cause survives unwinding.
 */
#ifndef MLW_ERR_H
#define MLW_ERR_H

#include <stdarg.h>

#define MLW_ERR_LEN 512

enum mlw_status {
    MLW_OK = 0,
    MLW_EINVAL = -1,     /* bad input or configuration */
    MLW_ENOMEM = -2,     /* allocation failed */
    MLW_EIO = -3,        /* file or network I/O failed */
    MLW_EDB = -4,        /* database error (may be transient) */
    MLW_EBUSY = -5,      /* lock contention; retry later */
    MLW_ENOTFOUND = -6,  /* missing file, row, queue, tensor */
    MLW_EFORMAT = -7,    /* malformed file or message */
    MLW_EUNSUPPORTED = -8,
    MLW_ETRANSIENT = -9, /* retryable remote failure (5xx, throttling) */
    MLW_EFATAL = -10,    /* non-retryable remote failure (access denied) */
    MLW_ESTOPPED = -11   /* shutdown requested */
};

struct mlw_err {
    int code;
    char msg[MLW_ERR_LEN];
};

/* Record code and message unless a message is already there. Returns code,
 * so callers can write `return mlw_err_set(err, MLW_EINVAL, "...")`.
 * err may be NULL. */
int mlw_err_set(struct mlw_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mlw_err_clear(struct mlw_err *err);
const char *mlw_status_name(int code);

#endif
