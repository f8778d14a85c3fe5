/* Fuzz config_load: the input is an environment, "NAME=value" lines, read
 * through a fake getenv (last definition wins). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_VARS 64
static char *g_names[FUZZ_MAX_VARS];
static char *g_values[FUZZ_MAX_VARS];
static size_t g_n;

static const char *fake_getenv(const char *name)
{
    for (size_t i = g_n; i-- > 0;)
        if (strcmp(g_names[i], name) == 0)
            return g_values[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    g_n = 0;
    for (char *line = s; line && g_n < FUZZ_MAX_VARS;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            g_names[g_n] = line;
            g_values[g_n] = eq + 1;
            g_n++;
        }
        line = next;
    }
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    char problems[2048];
    (void)config_load(&cfg, fake_getenv, problems, sizeof problems);
    config_free(&cfg);

    struct db_target db;
    memset(&db, 0, sizeof db);
    struct mlw_err err;
    (void)config_db_target(&db, fake_getenv, &err);
    config_db_free(&db);
    free(s);
    g_n = 0;
    return 0;
}
