/* Fuzz mlw_ts_parse / mlw_date_parse (timestamps and dates, length-bounded,
 * not NUL-terminated: the copy is exactly size bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan sees any read past len. */
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);
    mlw_ts ts;
    mlw_day day;
    const char *why = NULL;
    (void)mlw_ts_parse(s, size, &ts, &why);
    (void)mlw_date_parse(s, size, &day, &why);
    free(s);
    return 0;
}
