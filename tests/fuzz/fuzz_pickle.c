/* Fuzz the restricted unpickler: the input as a state-dict pickle, then as
 * each of the legacy-format header pickles. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ml/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pickle_state_dict sd;
    struct mlw_err err = {0};
    size_t used = 0;
    if (pickle_load_state_dict(data, size, "fuzz", &sd, &used, &err) == MLW_OK) {
        if (used > size || sd.n_tensors == 0)
            abort();
        for (size_t i = 0; i < sd.n_tensors; i++)
            if (sd.tensors[i].name == NULL || sd.tensors[i].ndim > PICKLE_MAX_DIMS ||
                sd.tensors[i].storage_offset < 0 || sd.tensors[i].storage_numel < 0)
                abort();
        pickle_state_dict_free(&sd);
    } else if (err.msg[0] == '\0') {
        abort(); /* every failure explains itself */
    }
    int64_t v;
    memset(&err, 0, sizeof err);
    (void)pickle_load_int(data, size, "fuzz", &v, &used, &err);
    memset(&err, 0, sizeof err);
    (void)pickle_check_sys_info(data, size, "fuzz", &used, &err);
    char **keys;
    size_t n;
    memset(&err, 0, sizeof err);
    if (pickle_load_str_list(data, size, "fuzz", &keys, &n, &used, &err) == MLW_OK)
        pickle_str_list_free(keys, n);
    return 0;
}
