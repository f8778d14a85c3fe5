/*
 * config.h - worker configuration from the environment.
 *
 * Every variable is declared once in config.c's table (name, kind, bounds,
 * default); the same table drives parsing, validation and `mlworker
 * config` style listings. Parsing collects one clear line per problem
 * instead of stopping at the first, so an operator fixes them all at once.
 */
#ifndef MLW_CONFIG_H
#define MLW_CONFIG_H

#include <stddef.h>

#include "core/err.h"

enum worker_mode { MODE_AGGREGATION, MODE_SQS, MODE_BOTH };
enum db_kind { DB_SQLITE, DB_POSTGRES };

struct db_target {
    enum db_kind kind;
    char *location;     /* SQLite file path, or PostgreSQL URL/conninfo */
    char *display;      /* same with any password masked: safe to log */
    const char *origin; /* which variable it came from */
};

struct config {
    enum worker_mode mode;
    double poll_interval;       /* ML_WORKER_POLL_INTERVAL, seconds */
    int aggregation_batch_size; /* ML_WORKER_AGGREGATION_BATCH_SIZE */
    int exit_when_idle;         /* ML_WORKER_EXIT_WHEN_IDLE */
    int claim_timeout;          /* ML_WORKER_CLAIM_TIMEOUT, seconds */
    int log_json;               /* ML_WORKER_LOG_FORMAT=json */
    int log_level;              /* ML_WORKER_LOG_LEVEL, enum log_level */
    int stats_interval;         /* ML_WORKER_STATS_INTERVAL, seconds */
    char *notify_channel;       /* ML_WORKER_NOTIFY_CHANNEL (PostgreSQL LISTEN) */
    struct db_target db;

    /* SQS consumer (the original's variables and defaults). */
    char *sqs_queue_url;        /* ML_WORKER_SQS_QUEUE_URL */
    int sqs_batch_size;         /* ML_WORKER_BATCH_SIZE, 1..10 */
    int sqs_wait_time;          /* ML_WORKER_WAIT_TIME, 0..20 */
    int sqs_visibility_timeout; /* ML_WORKER_VISIBILITY_TIMEOUT */
    int max_receives;           /* ML_WORKER_MAX_RECEIVES (database queue dead-lettering) */
    int shutdown_timeout;       /* ML_WORKER_SHUTDOWN_TIMEOUT, seconds from SIGTERM to exit */
    char *aws_region;           /* AWS_REGION */
    int loinc_enabled;          /* LOINC_ENABLED == "1" */
    char *model_dir;            /* ML_WORKER_MODEL_DIR */
    char *loinc_index;          /* ML_WORKER_LOINC_INDEX */
    double loinc_min_score;     /* ML_WORKER_LOINC_MIN_SCORE */
    double category_min_score;  /* ML_WORKER_CATEGORY_MIN_SCORE */
    char *llm_url;              /* ML_WORKER_LLM_URL (NULL: reranker off) */
    char *openai_api_key;       /* OPENAI_API_KEY: secret, never logged or shown */
    char *llm_model;            /* LAB_AGGREGATION_AGENT_MODEL */
    double llm_timeout;         /* ML_WORKER_LLM_TIMEOUT, seconds */
    double llm_batch_seconds;   /* ML_WORKER_LLM_BATCH_SECONDS */
    double llm_min_score;       /* ML_WORKER_LLM_MIN_SCORE */

    char *http_addr;            /* ML_WORKER_HTTP_ADDR (NULL: endpoints off) */
    int health_deadline;        /* ML_WORKER_HEALTH_DEADLINE, seconds */
};

/* Reads the environment through getenv_fn (getenv in production, a fake in
 * tests). On problems returns MLW_EINVAL and writes each problem as one line
 * into problems (NUL-terminated, lines separated by '\n'). */
int config_load(struct config *cfg, const char *(*getenv_fn)(const char *),
                char *problems, size_t problems_len);
void config_free(struct config *cfg);

/* Resolve DATABASE_URL / SQLALCHEMY_DATABASE_URI / POSTGRES_* / default.
 * Exposed for `migrate` and `demo`, which only need the database. */
int config_db_target(struct db_target *db, const char *(*getenv_fn)(const char *),
                     struct mlw_err *err);
/* Parse one URL the way DATABASE_URL is parsed. */
int config_parse_db_url(struct db_target *db, const char *url, const char *origin,
                        struct mlw_err *err);
void config_db_free(struct db_target *db);

const char *config_mode_name(enum worker_mode m);
/* Prints every variable with its default and meaning (for --help). */
void config_print_help(void);

#endif
