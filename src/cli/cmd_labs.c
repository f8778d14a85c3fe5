/* cmd_labs.c - `mlworker labs categorize`: the lab catalog's decision for
 * test names, as the lab pipeline would make it (without a database, so an
 * operator's manual mappings are not consulted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "domain/labcat.h"
#include "jobs/labs_job.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlworker labs categorize [--json] [--explain] [--context SECTION] [NAME...]\n"
            "       mlworker labs catalog [--json]\n"
            "\n"
            "categorize: how the compiled-in lab catalog files each test NAME (or each line of\n"
            "  stdin when no NAME is given): category, canonical name, test code, LOINC code,\n"
            "  match kind (exact, token, fuzzy, none) and score.\n"
            "  --context SECTION  the report section the names came from (e.g. \"URINE ROUTINE\");\n"
            "                     it supplies a specimen the name does not state\n"
            "  --explain          also print the matcher's reason for each decision\n"
            "  --json             one JSON object per name, one per line\n"
            "catalog: the catalog's categories and tests (code, category, specimen, unit, LOINC)\n");
}

static void print_json(const char *input, const struct labcat_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "input", input);
    cJSON_AddStringToObject(o, "category", r->category);
    if (r->canonical) {
        cJSON_AddStringToObject(o, "canonical_name", r->canonical);
        cJSON_AddStringToObject(o, "test_code", r->code);
    } else {
        cJSON_AddNullToObject(o, "canonical_name");
        cJSON_AddNullToObject(o, "test_code");
    }
    cJSON_AddStringToObject(o, "loinc_code", r->loinc);
    cJSON_AddStringToObject(o, "match_kind", labcat_kind_name(r->kind));
    cJSON_AddNumberToObject(o, "score", r->score);
    cJSON_AddStringToObject(o, "specimen", labcat_specimen_name(r->specimen));
    cJSON_AddStringToObject(o, "reason", r->why);
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        puts(s);
        free(s);
    }
    cJSON_Delete(o);
}

static void print_row(const char *input, const struct labcat_result *r, int explain)
{
    printf("%-36.36s  %-28.28s  %-32.32s  %-10.10s  %-8s  %-5s  %.2f\n", input, r->category,
           r->canonical ? r->canonical : "-", r->code ? r->code : "-", r->loinc,
           labcat_kind_name(r->kind), r->score);
    if (explain)
        printf("    %s\n", r->why);
}

static int categorize(const struct labcat *cat, int argc, char **argv)
{
    int json = 0, explain = 0, first = -1;
    const char *context = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--explain"))
            explain = 1;
        else if (!strcmp(argv[i], "--context") && i + 1 < argc)
            context = argv[++i];
        else if (!strcmp(argv[i], "--")) {
            first = i + 1;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mlworker labs categorize: unknown option '%s' (see --help)\n",
                    argv[i]);
            return EXIT_USAGE;
        } else {
            first = i;
            break;
        }
    }
    if (!json)
        printf("%-36s  %-28s  %-32s  %-10s  %-8s  %-5s  %s\n", "input", "category",
               "canonical name", "code", "LOINC", "kind", "score");
    struct labcat_result r;
    if (first >= 0 && first < argc) {
        for (int i = first; i < argc; i++) {
            labcat_match(cat, argv[i], strlen(argv[i]), context, &r);
            json ? print_json(argv[i], &r) : print_row(argv[i], &r, explain);
        }
        return 0;
    }
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        labcat_match(cat, line, strlen(line), context, &r);
        json ? print_json(line, &r) : print_row(line, &r, explain);
    }
    return 0;
}

static int list_catalog(const struct labcat *cat, int json)
{
    for (size_t i = 0; i < labcat_ntests(cat); i++) {
        const struct labcat_test *t = labcat_test_at(cat, i);
        const char *category = labcat_category_at(cat, (size_t)t->category)->name;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON *codes = cJSON_CreateArray();
            if (!o || !codes) {
                cJSON_Delete(o);
                cJSON_Delete(codes);
                return 1;
            }
            cJSON_AddStringToObject(o, "code", t->code);
            cJSON_AddStringToObject(o, "name", t->name);
            cJSON_AddStringToObject(o, "category", category);
            cJSON_AddStringToObject(o, "specimen", t->specimen == LABCAT_SPEC_NONE
                                                       ? "any" : labcat_specimen_name(t->specimen));
            cJSON_AddStringToObject(o, "unit", t->unit);
            for (int k = 0; k < t->nloinc; k++)
                cJSON_AddItemToArray(codes, cJSON_CreateString(t->loinc[k]));
            cJSON_AddItemToObject(o, "loinc", codes);
            char *s = cJSON_PrintUnformatted(o);
            if (s) {
                puts(s);
                free(s);
            }
            cJSON_Delete(o);
        } else {
            printf("%-10s  %-40.40s  %-28.28s  %-9s  %s\n", t->code, t->name, category,
                   t->specimen == LABCAT_SPEC_NONE ? "any" : labcat_specimen_name(t->specimen),
                   t->nloinc ? t->loinc[0] : "-");
        }
    }
    if (!json)
        printf("%zu tests in %zu categories\n", labcat_ntests(cat), labcat_ncategories(cat));
    return 0;
}

int cmd_labs(int argc, char **argv)
{
    if (argc == 0 || cli_wants_help(argc < 1 ? 0 : 1, argv)) {
        usage(argc == 0 ? stderr : stdout);
        return argc == 0 ? EXIT_USAGE : 0;
    }
    if (cli_wants_help(argc - 1, argv + 1)) {
        usage(stdout);
        return 0;
    }
    struct mlw_err err = {0};
    const struct labcat *cat = labs_catalog(&err);
    if (!cat) {
        fprintf(stderr, "mlworker: %s\n", err.msg);
        return 1;
    }
    if (!strcmp(argv[0], "categorize"))
        return categorize(cat, argc - 1, argv + 1);
    if (!strcmp(argv[0], "catalog"))
        return list_catalog(cat, argc > 1 && !strcmp(argv[1], "--json"));
    fprintf(stderr, "mlworker labs: unknown subcommand '%s'\n", argv[0]);
    usage(stderr);
    return EXIT_USAGE;
}
