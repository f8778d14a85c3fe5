/* Fuzz units_normalize: input "metric\nunit\nvalue" (value parsed with strtod). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/units.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char *metric = s, *unit = "", *val = "0";
    char *nl = strchr(metric, '\n');
    if (nl) {
        *nl = '\0';
        unit = nl + 1;
        nl = strchr(unit, '\n');
        if (nl) {
            *nl = '\0';
            val = nl + 1;
        }
    }
    double v = strtod(val, NULL), out = 0;
    const char *out_unit = NULL;
    char why[128];
    (void)units_normalize(metric, v, unit, &out, &out_unit, why, sizeof why);
    (void)units_standard(metric);
    free(s);
    return 0;
}
