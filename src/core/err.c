/* err.c - see err.h. */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

int mlw_err_set(struct mlw_err *err, int code, const char *fmt, ...)
{
    if (err == NULL || err->msg[0] != '\0')
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* Messages are single lines: logs and failure_reason columns rely on it. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

void mlw_err_clear(struct mlw_err *err)
{
    if (err) {
        err->code = MLW_OK;
        err->msg[0] = '\0';
    }
}

const char *mlw_status_name(int code)
{
    switch (code) {
    case MLW_OK: return "ok";
    case MLW_EINVAL: return "invalid";
    case MLW_ENOMEM: return "out of memory";
    case MLW_EIO: return "i/o error";
    case MLW_EDB: return "database error";
    case MLW_EBUSY: return "busy";
    case MLW_ENOTFOUND: return "not found";
    case MLW_EFORMAT: return "malformed";
    case MLW_EUNSUPPORTED: return "unsupported";
    case MLW_ETRANSIENT: return "transient failure";
    case MLW_EFATAL: return "fatal";
    case MLW_ESTOPPED: return "stopped";
    }
    return "unknown error";
}
