/*
 * weights.h - find and open the weight file of a Hugging Face model
 * directory, in whichever format it ships:
 *
 *   model.safetensors   preferred when present (safetensors.h)
 *   pytorch_model.bin   otherwise: PyTorch zip or legacy format (torchbin.h)
 *
 * Both give a struct safetensors (name -> dtype, shape, data pointer), so
 * the BERT loader does not care which one it got. `mlworker model convert`
 * turns a pytorch_model.bin into model.safetensors once, for directories
 * that are loaded often (mapping a safetensors file does no pickle work).
 */
#ifndef MLW_ML_WEIGHTS_H
#define MLW_ML_WEIGHTS_H

#include <stddef.h>

#include "core/err.h"
#include "ml/safetensors.h"

#define WEIGHTS_SAFETENSORS "model.safetensors"
#define WEIGHTS_TORCH "pytorch_model.bin"

/*
** The weight file of `dir`: dir/model.safetensors if it exists, else
** dir/pytorch_model.bin if that exists. Writes the path into path[cap].
** Returns MLW_OK, or MLW_ENOTFOUND (neither; the message names both),
** MLW_EINVAL (path too long).
*/
int weights_path(const char *dir, char *path, size_t cap, struct mlw_err *err);

/*
** Open the weight file of `dir` (see weights_path) into *st; release with
** safetensors_close(). Errors as safetensors_open() / torchbin_open().
*/
int weights_open(const char *dir, struct safetensors *st, struct mlw_err *err);

/*
** CLI: `model info DIR` and `model convert DIR [--out FILE] [--force]`.
** argv[0] is the command name. Returns the exit status (0 ok, 1 error,
** 2 usage).
*/
int cmd_model(int argc, char **argv);

#endif
