/* Fuzz loinc_table_parse (LOINC CSV: header row and data rows), then the
 * per-term text and key of what it accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ml/loinc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *csv = malloc(size ? size : 1);
    if (!csv)
        return 0;
    if (size)
        memcpy(csv, data, size);
    struct loinc_table t;
    memset(&t, 0, sizeof t);
    struct mlw_err err;
    struct loinc_filter f = {.all_classes = size > 0 && (data[size - 1] & 1), .statuses = 0,
                             .limit = 0};
    if (loinc_table_parse(csv, size, "fuzz", &f, &t, &err) == MLW_OK) {
        char buf[1024];
        for (size_t i = 0; i < t.count; i++)
            (void)loinc_term_text(&t.terms[i], buf, sizeof buf);
        (void)loinc_table_key(&t);
    }
    loinc_table_free(&t);
    free(csv);
    return 0;
}
