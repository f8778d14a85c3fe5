/*
 * commands.h - the subcommands of the mlworker binary. Each takes the
 * arguments after its name and returns the process exit status:
 * 0 success or graceful stop, 1 fatal configuration/startup error,
 * 2 usage error.
 */
#ifndef MLW_COMMANDS_H
#define MLW_COMMANDS_H

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_demo(int argc, char **argv);
/* `mlworker labs categorize NAME...`: the lab catalog's decisions (cmd_labs.c). */
int cmd_labs(int argc, char **argv);
int cmd_send(int argc, char **argv);   /* src/cli/cmd_send.c: mlworker send JOB ... */
int cmd_queue(int argc, char **argv);  /* src/cli/cmd_send.c: mlworker queue depth|url */
int cmd_dlq(int argc, char **argv);    /* src/cli/cmd_dlq.c: mlworker dlq list|redrive */
int cmd_healthcheck(int argc, char **argv); /* asks the running worker's /healthz */
int cmd_recompute(int argc, char **argv); /* src/cli/cmd_recompute.c (src/ops/recompute.h) */
int cmd_verify(int argc, char **argv);    /* src/cli/cmd_recompute.c (src/ops/verify.h) */
int cmd_status(int argc, char **argv);    /* src/cli/cmd_status.c (src/ops/status.h) */
int cmd_report(int argc, char **argv); /* src/cli/cmd_report.c: one user's HTML report */

/* Shared by commands: config problems, one line each, then exit 1. */
void cli_print_problems(const char *problems);
/* The queue named by url_opt (--queue-url) or ML_WORKER_SQS_QUEUE_URL: SQS,
 * or a database queue ("db" = the database DATABASE_URL & co. name). *db
 * gets that database target (the caller frees it with config_db_free). 0, or
 * 1 after a message naming cmd (cmd_send.c). */
struct queue;
struct db_target;
int cli_open_queue(const char *url_opt, struct queue **q, struct db_target *db, const char *cmd);
/* Open the database DATABASE_URL & co. name (cli_store.c). need: what its
 * schema must be: anything (status, migrate), some mlworker version (report
 * reads tables every version has), or this binary's latest (verify and
 * recompute compare with what this version writes). 0, or 1 after a message
 * naming cmd (nothing left open). */
enum cli_schema { CLI_SCHEMA_ANY, CLI_SCHEMA_SOME, CLI_SCHEMA_LATEST };
struct store;
int cli_open_store(const char *cmd, enum cli_schema need, struct db_target *db,
                   struct store **st);
/* Does argv hold -h/--help? */
int cli_wants_help(int argc, char **argv);

#endif
