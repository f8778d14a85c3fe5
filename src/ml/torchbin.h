/*
 * torchbin.h - read a PyTorch checkpoint (pytorch_model.bin) as a set of
 * tensors, through the same struct safetensors the BERT loader uses.
 *
 * Two formats, told apart by their first bytes:
 *
 *   zip (torch >= 1.6, the default): a ZIP archive (zipread.h) holding
 *     <archive>/data.pkl        the state dict, pickled (pickle.h)
 *     <archive>/data/<key>      one stored entry per storage, raw
 *                               little-endian elements
 *     <archive>/byteorder       "little" (newer torch; checked when present)
 *   legacy (torch < 1.6, or _use_new_zipfile_serialization=False):
 *     pickle(magic 0x1950a86a20f9469cfc6c) pickle(1001) pickle(sys_info)
 *     pickle(state dict) pickle([storage keys]) then, per key in that order,
 *     an int64 element count and the raw elements.
 *
 * After torchbin_open() every tensor's data points into the read-only
 * mapping of the file (nothing copied) unless the tensor is not contiguous
 * in its storage: such a tensor is gathered into one heap block owned by
 * st (st->heap). Tensors may share a storage (tied weights); their pointers
 * then alias. st->format is "pytorch-zip" or "pytorch-legacy"; the
 * tensors' `offset` is from the start of the file (0 for gathered ones).
 *
 * Every message names the file and, where there is one, the tensor or
 * archive entry. Thread: an opened file is immutable.
 */
#ifndef MLW_ML_TORCHBIN_H
#define MLW_ML_TORCHBIN_H

#include <stddef.h>

#include "core/err.h"
#include "ml/safetensors.h"

/* Also check the CRC-32 of every storage entry (zip format): reads the whole
 * file. The CRC of data.pkl is always checked. */
#define TORCHBIN_VERIFY_CRC 1

/*
** Map `path` and read it as a PyTorch checkpoint into *st (release with
** safetensors_close()). flags: 0 or TORCHBIN_VERIFY_CRC. On failure *st is
** empty and err says why: MLW_ENOTFOUND, MLW_EIO, MLW_EFORMAT (malformed,
** truncated, disallowed pickle content), MLW_EUNSUPPORTED (compressed
** entries, storage views, big-endian, an unknown format), MLW_ENOMEM.
*/
int torchbin_open(const char *path, int flags, struct safetensors *st, struct mlw_err *err);

/*
** The same on an in-memory image: `buf` must outlive *st; `label` stands in
** for the path in messages. Used by tests and fuzzing.
*/
int torchbin_parse(const void *buf, size_t len, const char *label, int flags,
                   struct safetensors *st, struct mlw_err *err);

#endif
