/*
 * main.c - command dispatch only. Each command lives in src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "ml/bert.h"
#include "ml/loinc.h"
#include "ml/tokenizer.h"
#include "ml/weights.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    int wants_name; /* fn expects argv[0] to be the command name */
};

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("mlworker %s\n", MLW_VERSION);
    return 0;
}

static const struct command COMMANDS[] = {
    {"run", cmd_run, "run the worker (the default when no command is given)", 0},
    {"migrate", cmd_migrate, "create or upgrade the database schema", 0},
    {"demo", cmd_demo, "seed a fresh embedded database with sample data, process it, summarize", 0},
    {"send", cmd_send, "send a job message to the SQS queue (producer; --help lists the jobs)", 0},
    {"queue", cmd_queue, "SQS queue depth (visible, in flight, delayed) or URL", 0},
    {"dlq", cmd_dlq, "dead letters: `dlq list` shows them, `dlq redrive` moves them back", 0},
    {"healthcheck", cmd_healthcheck, "exit 0 if the running worker's /healthz answers 200", 0},
    {"tokenize", cmd_tokenize, "BERT WordPiece tokenization of stdin lines (--vocab FILE)", 1},
    {"embed-ids", cmd_embed_ids, "BERT sentence embeddings of token-id lines (--model DIR)", 1},
    {"embed", cmd_embed, "BERT sentence embeddings of texts (--model DIR [--dtype D] TEXT...)", 1},
    {"loinc", cmd_loinc, "LOINC vector index: build from Loinc.csv, search, calibrate the threshold", 1},
    {"model", cmd_model, "model directory: info, or convert pytorch_model.bin to safetensors", 1},
    {"recompute", cmd_recompute, "rebuild categorized rows and aggregates from raw rows", 0},
    {"verify", cmd_verify, "recompute in memory, compare with what is stored", 0},
    {"status", cmd_status, "rows per state and domain, oldest pending, queue, schema", 0},
    {"labs", cmd_labs, "lab test names: `labs categorize NAME...` shows the catalog's decision", 0},
    {"report", cmd_report, "one user's aggregates as a self-contained HTML file (--user ID --out F)", 0},
    {"version", cmd_version, "print the version", 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mlworker [COMMAND] [--help]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nConfiguration comes from the environment; see `mlworker run --help`.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cmd_run(0, argv + 1);
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version"))
        return cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(name, COMMANDS[i].name))
            return COMMANDS[i].wants_name ? COMMANDS[i].fn(argc - 1, argv + 1)
                                          : COMMANDS[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "mlworker: unknown command '%s'\n", name);
    usage(stderr);
    return EXIT_USAGE;
}
