/* cmd_run.c - `mlworker run`: the long-running worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_ml.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/timeutil.h"
#include "http/health.h"
#include "jobs/both.h"
#include "jobs/consumer.h"
#include "jobs/labs_job.h"
#include "jobs/runner.h"
#include "ml/mlctx.h"
#include "store/store.h"

static const char *env(const char *name) { return getenv(name); }

void cli_print_problems(const char *problems)
{
    const char *p = problems;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "mlworker: configuration error: %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
    }
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mlworker run\n"
            "\n"
            "Runs the worker in the mode ML_WORKER_MODE selects (aggregation by default):\n"
            "claims pending vitals and nutrition rows, categorizes them and recomputes\n"
            "their hourly/daily/weekly/monthly aggregates. Applies schema migrations first.\n"
            "SIGTERM or SIGINT stops it after the current (user, date) transaction; exit 0.\n"
            "\n");
    if (f == stdout)
        config_print_help();
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc > 0) {
        fprintf(stderr, "mlworker run: unexpected argument '%s'\n", argv[0]);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct config cfg;
    char problems[4096];
    if (config_load(&cfg, env, problems, sizeof problems) != MLW_OK) {
        cli_print_problems(problems);
        config_free(&cfg);
        return 1;
    }
    log_setup(cfg.log_json ? LOG_JSON : LOG_TEXT, (enum log_level)cfg.log_level);
    if (cfg.mode != MODE_AGGREGATION && (!cfg.sqs_queue_url || !cfg.sqs_queue_url[0])) {
        fprintf(stderr, "mlworker: configuration error: ML_WORKER_SQS_QUEUE_URL is required when "
                        "ML_WORKER_MODE=%s\n", config_mode_name(cfg.mode));
        config_free(&cfg);
        return 1;
    }
    if (signals_install() != 0) {
        fprintf(stderr, "mlworker: cannot install signal handlers\n");
        config_free(&cfg);
        return 1;
    }

    struct mlw_err err = {0};
    struct store *st = NULL;
    if (store_open(&cfg.db, &st, &err) != MLW_OK) {
        fprintf(stderr, "mlworker: cannot open the database (%s): %s\n", cfg.db.origin, err.msg);
        config_free(&cfg);
        return 1;
    }
    struct health_server *hs = NULL; /* /healthz /readyz /metrics; NULL when off */
    if (health_start(&cfg, &hs, &err) != MLW_OK) {
        fprintf(stderr, "mlworker: configuration error: %s\n", err.msg);
        store_close(st);
        config_free(&cfg);
        return 1;
    }
    int applied = 0;
    if (store_migrate(st, &applied, &err) != MLW_OK) {
        fprintf(stderr, "mlworker: cannot prepare the database schema: %s\n", err.msg);
        health_stop(hs);
        store_close(st);
        config_free(&cfg);
        return 1;
    }

    char line[81];
    memset(line, '=', 80);
    line[80] = '\0';
    log_info("%s", line);
    log_info("ML Worker Service - Lab Categorization, LOINC Mapping & Aggregation");
    log_info("Mode: %s", cfg.mode == MODE_SQS ? "SQS" : cfg.mode == MODE_BOTH ? "BOTH" : "AGGREGATION");
    log_info("%s", line);
    log_info("Version %s, database %s%s", MLW_VERSION, cfg.db.display,
             applied ? " (schema migrated)" : "");
    log_info("LOINC mapping %s", cfg.loinc_enabled ? "requested (LOINC_ENABLED=1)" : "disabled");
    if (cfg.loinc_enabled) {
        /* The model and index load once here, before the worker threads, and
         * are shared by them; a missing or mismatched file stops the start. */
        int loaded = 0;
        double t0 = mlw_monotonic();
        if (cli_ml_start(&cfg, &loaded, &err) != MLW_OK) {
            fprintf(stderr, "mlworker: cannot start the ML engine (LOINC_ENABLED=1): %s\n", err.msg);
            health_stop(hs);
            store_close(st);
            config_free(&cfg);
            return 1;
        }
        log_info("LOINC mapping: model %s, index %s loaded in %.1f s; accept at score >= %.2f, "
                 "category fallback at cosine >= %.2f; LLM reranker %s%s%s",
                 cfg.model_dir, cfg.loinc_index, mlw_monotonic() - t0, cfg.loinc_min_score,
                 cfg.category_min_score, cfg.llm_url ? "on, model " : "off",
                 cfg.llm_url ? cfg.llm_model : "", cfg.llm_url && !cfg.openai_api_key
                                                        ? " (no OPENAI_API_KEY)" : "");
    }

    if (cfg.mode != MODE_AGGREGATION) {
        /* sqs: the consumer logs its own shutdown lines and stats block. */
        struct consumer_stats cstats = {0};
        struct runner_totals both_totals = {0};
        cstats.started = both_totals.started = mlw_monotonic();
        int qrc;
        if (cfg.mode == MODE_SQS) {
            runner_set_worker_id(st, "sqs");
            qrc = consumer_run(&cfg, st, &cstats);
        } else {
            qrc = both_run(&cfg, st, &both_totals, &cstats);
        }
        health_stop(hs);
        store_close(st);
        config_free(&cfg);
        if (qrc == 0)
            log_info("ML Worker stopped gracefully");
        return qrc;
    }

    runner_set_worker_id(st, "aggregation");
    struct runner_totals totals = {0};
    totals.started = mlw_monotonic();
    int rc = runner_aggregation(&cfg, st, &totals);
    if (signals_stop_requested())
        log_info("\xf0\x9f\x9b\x91 Received signal %d, initiating graceful shutdown...", signals_last());
    log_info("ML Worker shutting down...");
    runner_log_stats(&totals);
    health_stop(hs);
    store_close(st);
    config_free(&cfg);
    if (rc == 0)
        log_info("ML Worker stopped gracefully");
    return rc;
}
