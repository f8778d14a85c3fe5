/* Fuzz safetensors_parse on an in-memory image (header and data), then read
 * every float tensor it accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ml/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct safetensors st;
    memset(&st, 0, sizeof st);
    struct mlw_err err;
    if (safetensors_parse(data, size, "fuzz", &st, &err) == MLW_OK) {
        for (size_t i = 0; i < st.n_tensors; i++) {
            const struct safetensors_tensor *t = &st.tensors[i];
            if (safetensors_find(&st, t->name) == NULL)
                abort();
            if ((t->dtype == SAFETENSORS_DTYPE_F32 || t->dtype == SAFETENSORS_DTYPE_F16 || t->dtype == SAFETENSORS_DTYPE_BF16) &&
                t->numel <= 4096) {
                float out[4096];
                safetensors_to_f32(t->dtype, t->data, t->numel, out);
            }
        }
    }
    safetensors_close(&st);
    return 0;
}
