/* Fuzz labcat_match / labcat_normalize with the built-in catalog (loaded
 * once). The first line of the input is the name, the rest the context. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "domain/labcat.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const char mlw_lab_catalog_text[];
extern const size_t mlw_lab_catalog_len;

static struct labcat *g_cat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_cat) {
        struct mlw_err err;
        if (labcat_load(mlw_lab_catalog_text, mlw_lab_catalog_len, &g_cat, &err) != MLW_OK)
            abort();
    }
    char *s = fuzz_cstr(data, size);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t name_len = nl ? (size_t)(nl - data) : size;
    const char *context = nl ? s + name_len + 1 : NULL;
    /* The name as an exact-size buffer (labcat_match takes a length). */
    char *name = malloc(name_len ? name_len : 1);
    if (name) {
        if (name_len)
            memcpy(name, data, name_len);
        struct labcat_result r;
        (void)labcat_match(g_cat, name, name_len, context, &r);
        char norm[512];
        enum labcat_specimen spec;
        labcat_normalize(name, name_len, norm, sizeof norm, &spec);
        free(name);
    }
    free(s);
    return 0;
}
