/* Fuzz consumer_parse_job: SQS message bodies as the consumer sees them. */
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "jobs/consumer.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct consumer_job job;
    struct mlw_err err;
    (void)consumer_parse_job(s, &job, &err);
    free(s);
    return 0;
}
