/* Fuzz strset_from_json, and write the set back out (strset_to_json). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "domain/strset.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct arena a;
    arena_init(&a, 4096);
    struct strset set;
    memset(&set, 0, sizeof set);
    if (strset_from_json(&set, &a, s) == 0)
        (void)strset_to_json(&set, &a);
    arena_free(&a);
    free(s);
    return 0;
}
