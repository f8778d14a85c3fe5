/*
 * weights.c - pick and open a model directory's weight file; see weights.h.
 */
#include "ml/weights.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ml/torchbin.h"

int weights_path(const char *dir, char *path, size_t cap, struct mlw_err *err)
{
    static const char *names[] = {WEIGHTS_SAFETENSORS, WEIGHTS_TORCH};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int n = snprintf(path, cap, "%s/%s", dir, names[i]);
        if (n < 0 || (size_t)n >= cap)
            return mlw_err_set(err, MLW_EINVAL, "%s: path too long", dir);
        if (access(path, F_OK) == 0)
            return MLW_OK;
    }
    snprintf(path, cap, "%s/%s", dir, WEIGHTS_SAFETENSORS);
    return mlw_err_set(err, MLW_ENOTFOUND, "%s: no weights: neither %s nor %s is there", dir,
                       WEIGHTS_SAFETENSORS, WEIGHTS_TORCH);
}

int weights_open(const char *dir, struct safetensors *st, struct mlw_err *err)
{
    memset(st, 0, sizeof *st);
    char path[4200];
    int rc = weights_path(dir, path, sizeof path, err);
    if (rc != MLW_OK)
        return rc;
    size_t n = strlen(path), t = strlen(WEIGHTS_TORCH);
    if (n >= t && strcmp(path + n - t, WEIGHTS_TORCH) == 0)
        return torchbin_open(path, 0, st, err);
    return safetensors_open(path, st, err);
}
