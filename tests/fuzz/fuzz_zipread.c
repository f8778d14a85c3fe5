/* Fuzz the ZIP reader (every entry's data is read end to end) and the
 * PyTorch checkpoint reader on the same bytes (zip or legacy format); every
 * accepted tensor's bytes are read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ml/torchbin.h"
#include "ml/zipread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zipread z;
    struct mlw_err err = {0};
    if (zipread_parse(data, size, "fuzz", &z, &err) == MLW_OK) {
        for (size_t i = 0; i < z.n_entries; i++) {
            const uint8_t *d;
            size_t len;
            struct mlw_err e2 = {0};
            if (zipread_entry_data(&z, &z.entries[i], &d, &len, &e2) == MLW_OK)
                (void)zipread_crc32(0, d, len);
            if (zipread_find(&z, z.entries[i].name) != &z.entries[i])
                abort();
        }
        zipread_close(&z);
    }
    struct safetensors st;
    memset(&err, 0, sizeof err);
    if (torchbin_parse(data, size, "fuzz", TORCHBIN_VERIFY_CRC, &st, &err) == MLW_OK) {
        uint32_t acc = 0;
        for (size_t i = 0; i < st.n_tensors; i++) {
            const struct safetensors_tensor *t = &st.tensors[i];
            if (safetensors_find(&st, t->name) != t)
                abort();
            acc = zipread_crc32(acc, t->data, t->nbytes);
        }
        (void)acc;
        safetensors_close(&st);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    return 0;
}
