/* Unit tests of configuration parsing: defaults, validation messages
 * (one line per problem, naming the variable) and database URL rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"

static const char *const *g_env;

static const char *fake_getenv(const char *name)
{
    for (const char *const *p = g_env; p && *p; p += 2)
        if (!strcmp(p[0], name))
            return p[1];
    return NULL;
}

static int load(const char *const *env, struct config *cfg, char *problems, size_t len)
{
    g_env = env;
    return config_load(cfg, fake_getenv, problems, len);
}

static int count_lines(const char *s)
{
    int n = *s ? 1 : 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_defaults(void **state)
{
    (void)state;
    struct config cfg;
    char pr[512];
    const char *env[] = {NULL};
    assert_int_equal(load(env, &cfg, pr, sizeof pr), MLW_OK);
    assert_int_equal(cfg.mode, MODE_AGGREGATION);
    assert_true(cfg.poll_interval == 30);
    assert_int_equal(cfg.aggregation_batch_size, 100);
    assert_int_equal(cfg.claim_timeout, 600);
    assert_int_equal(cfg.exit_when_idle, 0);
    assert_int_equal(cfg.sqs_batch_size, 1);
    assert_int_equal(cfg.sqs_wait_time, 20);
    assert_int_equal(cfg.sqs_visibility_timeout, 300);
    assert_string_equal(cfg.aws_region, "us-east-1");
    assert_int_equal(cfg.db.kind, DB_SQLITE);
    assert_string_equal(cfg.db.location, "mlworker.db");
    config_free(&cfg);
}

static void test_values(void **state)
{
    (void)state;
    struct config cfg;
    char pr[512];
    const char *env[] = {"ML_WORKER_MODE", "Aggregation", "ML_WORKER_EXIT_WHEN_IDLE", "1",
                         "ML_WORKER_LOG_FORMAT", "JSON", "ML_WORKER_POLL_INTERVAL", "0.5",
                         "DATABASE_URL", "sqlite:///tmp/x.db", "LOINC_ENABLED", "true", NULL};
    assert_int_equal(load(env, &cfg, pr, sizeof pr), MLW_OK);
    assert_int_equal(cfg.exit_when_idle, 1);
    assert_int_equal(cfg.log_json, 1);
    assert_true(cfg.poll_interval == 0.5);
    assert_string_equal(cfg.db.location, "/tmp/x.db");
    assert_int_equal(cfg.loinc_enabled, 0); /* only exactly "1" enables, as the original */
    config_free(&cfg);
}

static void test_problems_one_line_each(void **state)
{
    (void)state;
    struct config cfg;
    char pr[1024];
    const char *env[] = {"ML_WORKER_MODE", "turbo", "ML_WORKER_AGGREGATION_BATCH_SIZE", "lots",
                         "ML_WORKER_WAIT_TIME", "99", "ML_WORKER_LOG_FORMAT", "xml", NULL};
    assert_int_equal(load(env, &cfg, pr, sizeof pr), MLW_EINVAL);
    assert_int_equal(count_lines(pr), 4);
    assert_non_null(strstr(pr, "ML_WORKER_MODE='turbo' is not one of aggregation/sqs/both"));
    assert_non_null(strstr(pr, "ML_WORKER_AGGREGATION_BATCH_SIZE='lots' is not an integer"));
    assert_non_null(strstr(pr, "ML_WORKER_WAIT_TIME=99 is out of range"));
    assert_non_null(strstr(pr, "ML_WORKER_LOG_FORMAT"));
    config_free(&cfg);

    const char *env2[] = {"ML_WORKER_MODE", "sqs", NULL};
    assert_int_equal(load(env2, &cfg, pr, sizeof pr), MLW_EINVAL);
    assert_non_null(strstr(pr, "ML_WORKER_SQS_QUEUE_URL is required"));
    config_free(&cfg);

    /* A hostile value cannot inject a second log line. */
    const char *env3[] = {"ML_WORKER_MODE", "x\nFAKE LINE", NULL};
    assert_int_equal(load(env3, &cfg, pr, sizeof pr), MLW_EINVAL);
    assert_int_equal(count_lines(pr), 1);
    config_free(&cfg);
}

static void test_database_urls(void **state)
{
    (void)state;
    struct config cfg;
    char pr[512];
    const char *pg[] = {"POSTGRES_SERVER", "db.internal", "POSTGRES_PORT", "6543", "POSTGRES_USER",
                        "app", "POSTGRES_PASSWORD", "p@ss:w/rd", "POSTGRES_DB", "zivo", NULL};
    assert_int_equal(load(pg, &cfg, pr, sizeof pr), MLW_OK);
    assert_int_equal(cfg.db.kind, DB_POSTGRES);
    assert_string_equal(cfg.db.location, "postgresql://app:p%40ss%3Aw%2Frd@db.internal:6543/zivo");
    assert_null(strstr(cfg.db.display, "p%40ss")); /* the password never reaches logs */
    assert_string_equal(cfg.db.display, "postgresql://app:***@db.internal:6543/zivo");
    config_free(&cfg);

    const char *sa[] = {"SQLALCHEMY_DATABASE_URI", "postgresql+psycopg2://u:secret@h/db",
                        "POSTGRES_SERVER", "ignored", NULL};
    assert_int_equal(load(sa, &cfg, pr, sizeof pr), MLW_OK);
    assert_string_equal(cfg.db.location, "postgresql://u:secret@h/db");
    assert_string_equal(cfg.db.origin, "SQLALCHEMY_DATABASE_URI");
    config_free(&cfg);

    const char *rel[] = {"DATABASE_URL", "sqlite://data/w.db", NULL};
    assert_int_equal(load(rel, &cfg, pr, sizeof pr), MLW_OK);
    assert_string_equal(cfg.db.location, "data/w.db");
    config_free(&cfg);

    const char *bad[] = {"DATABASE_URL", "mysql://u:topsecret@h/db", NULL};
    assert_int_equal(load(bad, &cfg, pr, sizeof pr), MLW_EINVAL);
    assert_null(strstr(pr, "topsecret"));
    assert_non_null(strstr(pr, "DATABASE_URL"));
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_problems_one_line_each),
        cmocka_unit_test(test_database_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
