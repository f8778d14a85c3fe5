/* fuzz_common.h - helpers shared by the libFuzzer targets (tests/fuzz). */
#ifndef MLW_FUZZ_COMMON_H
#define MLW_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated heap copy of the fuzzer's bytes (which may hold NULs). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
