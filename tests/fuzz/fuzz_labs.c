/* Fuzz lab value and reference range parsing (labs_parse_number,
 * labs_parse_range), the status flag, and number formatting of what parsed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "domain/labs.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char buf[LABS_NUM_LEN];
    double v;
    if (labs_parse_number(s, &v) == 0 && isfinite(v))
        labs_format_number(v, buf);
    double lo = 0, hi = 0;
    int has_lo = 0, has_hi = 0;
    if (labs_parse_range(s, &lo, &has_lo, &hi, &has_hi) == 0) {
        if (has_lo && isfinite(lo))
            labs_format_number(lo, buf);
        if (has_hi && isfinite(hi))
            labs_format_number(hi, buf);
    }
    (void)labs_flag_name(labs_status_flag(s));
    free(s);
    return 0;
}
