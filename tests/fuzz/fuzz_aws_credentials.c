/* Fuzz the pure credential parsers: the shared credentials/config INI text
 * (sections "default" and "profile dev"), the container/IMDS credentials
 * JSON document, and aws_parse_iso8601. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "queue/aws_credentials.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct mlw_err err;
    static const char *const sections[] = {"default", "profile dev"};
    for (size_t i = 0; i < 2; i++) {
        struct aws_credentials cr;
        memset(&cr, 0, sizeof cr);
        int found = 0;
        (void)aws_cred_parse_ini(s, sections[i], &cr, &found, &err);
        aws_credentials_clear(&cr);
    }
    /* JSON gets the exact-size bytes (no NUL) so over-reads show up. */
    char *j = malloc(size ? size : 1);
    if (j) {
        if (size)
            memcpy(j, data, size);
        struct aws_credentials cr;
        memset(&cr, 0, sizeof cr);
        (void)aws_cred_parse_json(j, size, &cr, &err);
        aws_credentials_clear(&cr);
        free(j);
    }
    time_t t;
    (void)aws_parse_iso8601(s, &t);
    free(s);
    return 0;
}
