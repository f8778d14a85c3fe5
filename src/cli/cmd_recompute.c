/* cmd_recompute.c - `mlworker recompute` and `mlworker verify` (src/ops/):
 * argument parsing, the database, the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_ml.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/signals.h"
#include "jobs/labs_job.h"
#include "ops/recompute.h"
#include "ops/verify.h"

#define MAX_USERS 1024

struct ops_args {
    struct ops_opts o;
    int64_t users[MAX_USERS];
    int dry_run;
    long limit;   /* verify: difference lines printed */
};

static const char *env(const char *name) { return getenv(name); }

static void usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "recompute"))
        fprintf(f,
                "usage: mlworker recompute [--user ID]... [--from DATE] [--to DATE]\n"
                "                          [--domain vitals|nutrition|labs]... [--dry-run] [--quiet]\n"
                "\n"
                "Makes the categorized rows and every aggregate bucket of the range equal to what\n"
                "this binary computes from the raw rows (unit aliases, validation, lab catalog):\n"
                "per user, in one transaction with the workers' lock, it compares and repairs what\n"
                "differs (failed rows that now pass are processed again). Safe while workers run;\n"
                "rerun after an interruption to resume. --dry-run reports what would change.\n"
                "Days with rows still pending are recomputed from the level below (the workers\n"
                "fold those rows in). With LOINC_ENABLED=1 (and the model variables, as for run)\n"
                "labs are decided with the ML engine; without it, recompute refuses to touch\n"
                "labs while rows carry ML decisions.\n"
                "DATE is YYYY-MM-DD (inclusive). Exit 0 done, 1 error, 2 usage.\n");
    else
        fprintf(f,
                "usage: mlworker verify [--user ID]... [--from DATE] [--to DATE]\n"
                "                       [--domain vitals|nutrition|labs]... [--limit N] [--quiet]\n"
                "\n"
                "Recomputes in memory from the raw rows and compares with what is stored: raw\n"
                "statuses, categorized rows and every aggregate table. Prints each differing\n"
                "bucket (expected vs stored per column; numbers with relative tolerance 1e-9),\n"
                "stale buckets (stored, not expected) and missing ones. Rows still pending are\n"
                "skipped, with the buckets they fall in. Writes nothing. With LOINC_ENABLED=1\n"
                "(and the model variables, as for run) lab rows are decided with the ML engine\n"
                "and its columns compared; without it, ML-decided rows are taken as stored.\n"
                "Exit 0 all match, 1 differences (or an error), 2 usage.\n");
}

static int parse_date(const char *s, mlw_day *out)
{
    return mlw_date_parse(s, strlen(s), out, NULL);
}

/* Returns 0, or EXIT_USAGE after a message; -1 for --help. */
static int parse_args(int argc, char **argv, const char *cmd, struct ops_args *a)
{
    memset(a, 0, sizeof *a);
    a->limit = 100;
    unsigned domains = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout, cmd);
            return -1;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->o.quiet = 1;
        } else if (!strcmp(arg, "--dry-run") && !strcmp(cmd, "recompute")) {
            a->dry_run = 1;
        } else if (!val) {
            fprintf(stderr, "mlworker %s: unknown option or missing value: '%s' (see --help)\n",
                    cmd, arg);
            return EXIT_USAGE;
        } else if (!strcmp(arg, "--user")) {
            char *end;
            long long u = strtoll(val, &end, 10);
            if (*val == '\0' || *end || u < 0) {
                fprintf(stderr, "mlworker %s: --user wants a user id (a number), not '%s'\n",
                        cmd, val);
                return EXIT_USAGE;
            }
            if (a->o.nusers == MAX_USERS) {
                fprintf(stderr, "mlworker %s: at most %d --user options\n", cmd, MAX_USERS);
                return EXIT_USAGE;
            }
            a->users[a->o.nusers++] = u;
            i++;
        } else if (!strcmp(arg, "--from") || !strcmp(arg, "--to")) {
            mlw_day d;
            if (parse_date(val, &d)) {
                fprintf(stderr, "mlworker %s: %s wants a date YYYY-MM-DD, not '%s'\n", cmd, arg,
                        val);
                return EXIT_USAGE;
            }
            if (arg[2] == 'f') {
                a->o.range.has_from = 1;
                a->o.range.from = d;
            } else {
                a->o.range.has_to = 1;
                a->o.range.to = d;
            }
            i++;
        } else if (!strcmp(arg, "--domain")) {
            if (!strcmp(val, "vitals"))
                domains |= 1u << DOMAIN_VITALS;
            else if (!strcmp(val, "nutrition"))
                domains |= 1u << DOMAIN_NUTRITION;
            else if (!strcmp(val, "labs"))
                domains |= 1u << DOMAIN_LABS;
            else {
                fprintf(stderr, "mlworker %s: --domain is vitals, nutrition or labs, not '%s'\n",
                        cmd, val);
                return EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(arg, "--limit") && !strcmp(cmd, "verify")) {
            char *end;
            a->limit = strtol(val, &end, 10);
            if (*end || a->limit < 0) {
                fprintf(stderr, "mlworker verify: --limit wants a number >= 0\n");
                return EXIT_USAGE;
            }
            i++;
        } else {
            fprintf(stderr, "mlworker %s: unknown option '%s' (see --help)\n", cmd, arg);
            return EXIT_USAGE;
        }
    }
    if (a->o.range.has_from && a->o.range.has_to && a->o.range.from > a->o.range.to) {
        fprintf(stderr, "mlworker %s: --from is after --to (an empty range)\n", cmd);
        return EXIT_USAGE;
    }
    a->o.domains = domains ? domains : OPS_ALL_DOMAINS;
    a->o.users = a->users;
    return 0;
}

/* The lab pipeline's ML engine, started as `run` starts it (LOINC_ENABLED=1
 * and the model variables), so the labs compared or repaired get the
 * decisions run would store. 0 (*loaded set), or 1 after a message. */
static int start_ml(const char *cmd, const struct ops_args *a, int *loaded)
{
    *loaded = 0;
    if (!(a->o.domains & (1u << DOMAIN_LABS)))
        return 0;
    struct config cfg;
    char problems[4096];
    struct mlw_err err = {0};
    int rc = 0;
    if (config_load(&cfg, env, problems, sizeof problems) != MLW_OK) {
        cli_print_problems(problems);
        rc = 1;
    } else if (cli_ml_start_no_reranker(&cfg, loaded, &err) != MLW_OK) {
        fprintf(stderr, "mlworker %s: cannot start the ML engine (LOINC_ENABLED=1): %s\n", cmd,
                err.msg);
        rc = 1;
    } else if (*loaded && !a->o.quiet) {
        fprintf(stderr, "mlworker %s: lab decisions by the catalog and the ML engine (%s)\n",
                cmd, cfg.model_dir);
    }
    config_free(&cfg);
    return rc;
}

static void print_ml_note(const struct ops_report *rep)
{
    if (rep->total.ml_unchecked)
        printf("note: %lld lab row(s) carry ML decisions but LOINC_ENABLED is off here: their "
               "LOINC code, category and ML columns were taken as stored (not checked); set "
               "LOINC_ENABLED=1 and the model variables as for `run` to check them\n",
               (long long)rep->total.ml_unchecked);
    if (rep->total.llm_unchecked)
        printf("note: %lld lab row(s) were decided with the chat reranker, which verify and "
               "recompute never call (its answers are not reproducible): their LOINC code, "
               "category and ML columns were taken as stored (not checked)\n",
               (long long)rep->total.llm_unchecked);
}

static void print_tables(const struct ops_report *rep, const char *verb_changed)
{
    for (int i = 0; i < rep->ntables; i++) {
        const struct ops_table_stat *t = &rep->tables[i];
        printf("  %-30s %lld %s, %lld stale, %lld missing\n", t->table, (long long)t->mismatched,
               verb_changed, (long long)t->stale, (long long)t->missing);
    }
}

static void print_scope(const char *cmd, const struct ops_args *a, const struct ops_report *rep)
{
    printf("%s: %lld (user, domain) pair(s), %lld raw rows and %lld buckets compared in %.1f s (%.0f rows/s)\n",
           cmd, (long long)rep->users, (long long)rep->total.rows, (long long)rep->total.buckets,
           rep->seconds, rep->rows_per_second);
    if (rep->total.pending)
        printf("skipped: %lld pending row(s) not processed yet, and the %lld bucket(s) they fall "
               "in\n",
               (long long)rep->total.pending, (long long)rep->total.buckets_skipped);
    for (int d = 0; d < 3; d++)
        if (rep->skipped_domains & (1u << d))
            printf("skipped: %s (its tables are not in this database)\n",
                   ops_domain_name((enum domain)d));
    if (rep->total.rows + rep->total.pending + rep->total.buckets + rep->total.stale == 0)
        printf("nothing to compare: no rows%s%s\n", a->o.nusers ? " for the given user(s)" : "",
               a->o.range.has_from || a->o.range.has_to ? " in the given range" : "");
}

int cmd_recompute(int argc, char **argv)
{
    struct ops_args *a = malloc(sizeof *a);
    if (!a)
        return 1;
    int rc = parse_args(argc, argv, "recompute", a);
    if (rc) {
        free(a);
        return rc < 0 ? 0 : rc;
    }
    struct db_target db;
    struct store *st;
    if (cli_open_store("recompute", CLI_SCHEMA_LATEST, &db, &st)) {
        free(a);
        return 1;
    }
    signals_install();
    struct mlw_err err = {0};
    struct ops_report rep;
    int status = 0, ml = 0;
    if (start_ml("recompute", a, &ml)) {
        store_close(st);
        config_db_free(&db);
        free(a);
        return 1;
    }
    int64_t ml_rows = 0;
    if (!a->dry_run && !ml && (a->o.domains & (1u << DOMAIN_LABS))) {
        /* Reprocessing without the engine would replace its decisions by the
         * catalog's (Others / UNKNOWN): refuse rather than lose them. */
        if (ops_labs_ml_rows(st, &ml_rows, &err) != MLW_OK) {
            fprintf(stderr, "mlworker recompute: %s\n", err.msg);
            status = 1;
        } else if (ml_rows) {
            fprintf(stderr,
                    "mlworker recompute: %lld lab row(s) carry decisions of the ML engine, and "
                    "LOINC_ENABLED is off here: recomputing labs would replace them with the "
                    "catalog's. Set LOINC_ENABLED=1 and the model variables as for `run`, or "
                    "leave labs out (--domain vitals --domain nutrition).\n",
                    (long long)ml_rows);
            status = 1;
        }
    }
    if (status == 0 && !a->dry_run && (a->o.domains & (1u << DOMAIN_LABS))) {
        /* lab_test_mappings follows this binary's catalog, as `run` does at start */
        int synced = 0;
        int64_t requeued = 0;
        if (labs_catalog_sync(st, &synced, &requeued, &err) != MLW_OK) {
            fprintf(stderr, "mlworker recompute: %s\n", err.msg);
            status = 1;
        }
    }
    if (status == 0 &&
        ops_run(st, &a->o, a->dry_run ? OPS_MODE_DRY_RUN : OPS_MODE_RECOMPUTE, NULL, NULL, &rep,
                &err) != MLW_OK) {
        fprintf(stderr, "mlworker recompute: %s (what committed stays; rerun to continue)\n",
                err.msg);
        status = 1;
    }
    if (status == 0) {
        print_scope(a->dry_run ? "recompute --dry-run" : "recompute", a, &rep);
        print_ml_note(&rep);
        int64_t n = rep.total.mismatched + rep.total.stale + rep.total.missing;
        if (n == 0) {
            printf("%s\n", a->dry_run ? "would change nothing: everything matches"
                                      : "changed nothing: everything matched");
        } else {
            printf("%s %lld difference(s) in %lld user(s):\n",
                   a->dry_run ? "would repair" : "repaired", (long long)n,
                   (long long)rep.users_changed);
            print_tables(&rep, a->dry_run ? "differ" : "changed");
            if (!a->dry_run)
                printf("  %lld raw row(s) processed again, %lld bucket(s) recomputed, %lld "
                       "orphan categorized row(s) deleted\n",
                       (long long)rep.reprocessed, (long long)rep.recomputed,
                       (long long)rep.orphans);
        }
        if (rep.pending_recomputed)
            printf("recomputed from the level below: %lld day(s) with rows still pending (left "
                   "out of the comparison; the workers fold those rows in)\n",
                   (long long)rep.pending_recomputed);
        if (rep.interrupted) {
            printf("interrupted: stopped between users; rerun to continue\n");
            status = 1;
        }
    }
    store_close(st);
    config_db_free(&db);
    free(a);
    return status;
}

struct verify_print {
    long limit, printed, omitted;
    int header;
};

static int print_diff(void *ctx, const struct ops_diff *d)
{
    struct verify_print *p = ctx;
    int lines = d->kind == OPS_DIFF_MISMATCH ? d->ncols : 1;
    for (int i = 0; i < lines; i++) {
        if (p->printed >= p->limit) {
            p->omitted++;
            continue;
        }
        if (!p->header) {
            printf("%-28s %-9s %-58s %-22s %-20s %s\n", "TABLE", "KIND", "KEY", "COLUMN",
                   "EXPECTED", "STORED");
            p->header = 1;
        }
        if (d->kind == OPS_DIFF_MISMATCH)
            printf("%-28s %-9s %-58s %-22s %-20s %s\n", d->table, "mismatch", d->key, d->cols[i],
                   d->expected[i], d->stored[i]);
        else
            printf("%-28s %-9s %-58s %-22s %-20s %s\n", d->table, ops_diff_kind_name(d->kind),
                   d->key, "-", d->kind == OPS_DIFF_MISSING ? "(row)" : "-",
                   d->kind == OPS_DIFF_STALE ? "(row)" : "-");
        p->printed++;
    }
    return 0;
}

int cmd_verify(int argc, char **argv)
{
    struct ops_args *a = malloc(sizeof *a);
    if (!a)
        return 1;
    int rc = parse_args(argc, argv, "verify", a);
    if (rc) {
        free(a);
        return rc < 0 ? 0 : rc;
    }
    struct db_target db;
    struct store *st;
    if (cli_open_store("verify", CLI_SCHEMA_LATEST, &db, &st)) {
        free(a);
        return 1;
    }
    struct mlw_err err = {0};
    struct ops_report rep;
    struct verify_print p = {a->limit, 0, 0, 0};
    int status = 0, ml = 0;
    if (start_ml("verify", a, &ml)) {
        status = 1;
    } else if (ops_verify(st, &a->o, print_diff, &p, &rep, &err) != MLW_OK) {
        fprintf(stderr, "mlworker verify: %s\n", err.msg);
        status = 1;
    } else {
        if (p.omitted)
            printf("... %ld more difference line(s) (--limit)\n", p.omitted);
        print_scope("verify", a, &rep);
        print_ml_note(&rep);
        int64_t n = rep.total.mismatched + rep.total.stale + rep.total.missing;
        if (n == 0) {
            printf("all match\n");
        } else {
            printf("%lld difference(s): %lld mismatched, %lld stale (stored, not expected), "
                   "%lld missing (expected, not stored)\n",
                   (long long)n, (long long)rep.total.mismatched, (long long)rep.total.stale,
                   (long long)rep.total.missing);
            print_tables(&rep, "mismatched");
            status = 1;
        }
    }
    store_close(st);
    config_db_free(&db);
    free(a);
    return status;
}
