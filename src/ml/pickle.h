/*
 * pickle.h - a restricted unpickler for the state dicts torch.save() writes.
 *
 * It runs the opcodes of pickle protocols 2 to 4 that a state dict needs
 * (containers, ints, floats, strings, the memo, GLOBAL/STACK_GLOBAL, REDUCE,
 * BUILD, BINPERSID) and nothing else. GLOBAL resolves only an allowlist:
 *
 *   collections.OrderedDict                      -> a dict
 *   torch._utils._rebuild_tensor_v2 / _rebuild_tensor
 *                                                -> a tensor (storage view)
 *   torch._utils._rebuild_parameter(_with_state) -> the tensor it wraps
 *   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
 *   torch.{float32,float16,...} dtypes           -> inert values
 *
 * Any other global (os.system, builtins.eval, ...) and any other opcode is
 * an error naming it and its byte offset: nothing is ever imported or
 * called. Persistent ids must be storage references,
 *   ('storage', <torch.*Storage>, key, location, numel)          zip format
 *   ('storage', <torch.*Storage>, key, location, numel, None)    legacy format
 * Limits: PICKLE_MAX_MARKS nested MARKs, PICKLE_MAX_STACK stack entries,
 * memo indices below the pickle's length, at most PICKLE_MAX_DIMS
 * dimensions per tensor. Values are never walked recursively, so
 * self-referencing containers (built with the memo) are harmless.
 *
 * The result is flat: every (string key -> tensor) item of the top-level
 * dict (or of its "state_dict" / "model" entry when the top level holds no
 * tensors), in pickle order. Items whose value is not a tensor are counted
 * and skipped.
 *
 * Thread: no shared state.
 */
#ifndef MLW_ML_PICKLE_H
#define MLW_ML_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/safetensors.h"

#define PICKLE_MAX_DIMS SAFETENSORS_MAX_DIMS
#define PICKLE_MAX_MARKS 1000
#define PICKLE_MAX_STACK 1000000

struct pickle_tensor {
    char *name;                      /* state-dict key; owned */
    enum safetensors_dtype dtype;    /* from the storage class */
    int ndim;
    int64_t shape[PICKLE_MAX_DIMS];
    int64_t stride[PICKLE_MAX_DIMS]; /* in elements */
    int64_t storage_offset;          /* in elements */
    char *storage_key;               /* "0", "1", ... (zip) or an id (legacy); owned */
    int64_t storage_numel;           /* elements, from the persistent id */
};

struct pickle_state_dict {
    struct pickle_tensor *tensors;   /* in pickle order */
    size_t n_tensors;
    size_t n_skipped;                /* items whose value is not a tensor */
};

/*
** Unpickle buf[0..len) up to its STOP opcode and extract the tensors of the
** state dict. `label` names the source in messages ("x.bin: data.pkl").
** Sets *consumed (may be NULL) to the bytes up to and including STOP.
** Returns MLW_OK and fills *sd (free with pickle_state_dict_free()), or
** MLW_EFORMAT (malformed, truncated, disallowed global or opcode, not a state
** dict), MLW_EUNSUPPORTED (storage views, big-endian), MLW_ENOMEM.
*/
int pickle_load_state_dict(const void *buf, size_t len, const char *label,
                           struct pickle_state_dict *sd, /* OUT */
                           size_t *consumed,             /* OUT: may be NULL */
                           struct mlw_err *err);

/* Free what pickle_load_state_dict() allocated. Safe on a zeroed struct. */
void pickle_state_dict_free(struct pickle_state_dict *sd);

/*
** Unpickle one pickle that must be an int (legacy header: protocol
** version), within int64. Sets *value and *consumed.
*/
int pickle_load_int(const void *buf, size_t len, const char *label, int64_t *value,
                    size_t *consumed, struct mlw_err *err);

/*
** Unpickle one pickle that must be a dict (legacy header: sys_info) and
** check it describes a little-endian writer when it says. Sets *consumed.
*/
int pickle_check_sys_info(const void *buf, size_t len, const char *label, size_t *consumed,
                          struct mlw_err *err);

/*
** Unpickle one pickle that must be a list of strings (legacy format: the
** storage keys in file order). *keys is an array of *n strings; free with
** pickle_str_list_free().
*/
int pickle_load_str_list(const void *buf, size_t len, const char *label, char ***keys,
                         size_t *n, size_t *consumed, struct mlw_err *err);
void pickle_str_list_free(char **keys, size_t n);

#endif
