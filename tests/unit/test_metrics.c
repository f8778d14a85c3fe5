/* Unit tests of the metrics registry (core/metrics.h): Prometheus text
 * exposition, label and help escaping, histogram buckets, validation,
 * limits, concurrency; the process registry and the jobs layer's
 * message bookkeeping (jobs/jobmetrics.h). */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"
#include "jobs/jobmetrics.h"

static char *render(struct metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(m, &text, &len, NULL), MLW_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static struct metrics *new_registry(void)
{
    struct metrics *m = NULL;
    assert_int_equal(metrics_init(&m, NULL), MLW_OK);
    return m;
}

static void test_counter_and_gauge_text(void **state)
{
    (void)state;
    struct metrics *m = new_registry();
    struct metrics_family *c, *g;
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "jobs_total", "Jobs done.", NULL, 0,
                                      NULL, 0, &c, NULL),
                     MLW_OK);
    static const char *const dom[] = {"domain"};
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "queue_depth", "Depth.", dom, 1, NULL, 0,
                                      &g, NULL),
                     MLW_OK);
    /* Unlabelled families show 0 before any update; labelled ones only HELP/TYPE. */
    char *t = render(m);
    assert_string_equal(t, "# HELP jobs_total Jobs done.\n"
                           "# TYPE jobs_total counter\n"
                           "jobs_total 0\n"
                           "# HELP queue_depth Depth.\n"
                           "# TYPE queue_depth gauge\n");
    free(t);
    assert_int_equal(metrics_add(c, NULL, 3), MLW_OK);
    assert_int_equal(metrics_add(c, NULL, 0.5), MLW_OK);
    assert_int_equal(metrics_set(g, (const char *[]){"vitals"}, 42), MLW_OK);
    assert_int_equal(metrics_add(g, (const char *[]){"vitals"}, -2), MLW_OK);
    assert_int_equal(metrics_set(g, (const char *[]){"nutrition"}, -1.25), MLW_OK);
    t = render(m);
    assert_string_equal(t, "# HELP jobs_total Jobs done.\n"
                           "# TYPE jobs_total counter\n"
                           "jobs_total 3.5\n"
                           "# HELP queue_depth Depth.\n"
                           "# TYPE queue_depth gauge\n"
                           "queue_depth{domain=\"vitals\"} 40\n"
                           "queue_depth{domain=\"nutrition\"} -1.25\n");
    free(t);
    assert_true(metrics_value(c, NULL) == 3.5);
    assert_true(metrics_value(g, (const char *[]){"vitals"}) == 40);
    assert_true(metrics_value(g, (const char *[]){"absent"}) == 0);
    metrics_free(m);
}

static void test_escaping(void **state)
{
    (void)state;
    struct metrics *m = new_registry();
    struct metrics_family *f;
    static const char *const labels[] = {"a", "b"};
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "esc", "Back\\slash and\nnewline \"kept\".",
                                      labels, 2, NULL, 0, &f, NULL),
                     MLW_OK);
    /* quote, backslash, newline escaped; invalid UTF-8 bytes become '?';
     * valid multi-byte UTF-8 passes through. */
    metrics_set(f, (const char *[]){"say \"hi\"\\now\nthen", "caf\xc3\xa9 \xff\xc3("}, 1);
    metrics_set(f, (const char *[]){NULL, ""}, 2);
    char *t = render(m);
    assert_string_equal(t, "# HELP esc Back\\\\slash and\\nnewline \"kept\".\n"
                           "# TYPE esc gauge\n"
                           "esc{a=\"say \\\"hi\\\"\\\\now\\nthen\",b=\"caf\xc3\xa9 ?" "?(\"} 1\n"
                           "esc{a=\"\",b=\"\"} 2\n");
    free(t);
    metrics_free(m);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    struct metrics *m = new_registry();
    struct metrics_family *h;
    static const double b[] = {0.1, 0.5, 1};
    static const char *const dom[] = {"domain"};
    assert_int_equal(metrics_register(m, METRICS_HISTOGRAM, "batch_seconds", "Batch time.", dom, 1,
                                      b, 3, &h, NULL),
                     MLW_OK);
    const char *v[] = {"vitals"};
    /* 0.1 lands in le="0.1" (upper bounds are inclusive); 2 only in +Inf. */
    assert_int_equal(metrics_observe(h, v, 0.05), MLW_OK);
    assert_int_equal(metrics_observe(h, v, 0.1), MLW_OK);
    assert_int_equal(metrics_observe(h, v, 0.25), MLW_OK);
    assert_int_equal(metrics_observe(h, v, 2), MLW_OK);
    assert_int_equal(metrics_observe(h, v, NAN), MLW_EINVAL);
    assert_int_equal(metrics_add(h, v, 1), MLW_EINVAL);
    assert_int_equal(metrics_set(h, v, 1), MLW_EINVAL);
    char *t = render(m);
    assert_string_equal(t, "# HELP batch_seconds Batch time.\n"
                           "# TYPE batch_seconds histogram\n"
                           "batch_seconds_bucket{domain=\"vitals\",le=\"0.1\"} 2\n"
                           "batch_seconds_bucket{domain=\"vitals\",le=\"0.5\"} 3\n"
                           "batch_seconds_bucket{domain=\"vitals\",le=\"1\"} 3\n"
                           "batch_seconds_bucket{domain=\"vitals\",le=\"+Inf\"} 4\n"
                           "batch_seconds_sum{domain=\"vitals\"} 2.4\n"
                           "batch_seconds_count{domain=\"vitals\"} 4\n");
    free(t);
    assert_true(metrics_value(h, v) == 4);

    /* An unlabelled histogram shows all-zero buckets before any sample. */
    struct metrics_family *u;
    static const double b2[] = {0.001, 10};
    assert_int_equal(metrics_register(m, METRICS_HISTOGRAM, "infer_seconds", "x", NULL, 0, b2, 2,
                                      &u, NULL),
                     MLW_OK);
    t = render(m);
    assert_non_null(strstr(t, "infer_seconds_bucket{le=\"0.001\"} 0\n"
                              "infer_seconds_bucket{le=\"10\"} 0\n"
                              "infer_seconds_bucket{le=\"+Inf\"} 0\n"
                              "infer_seconds_sum 0\n"
                              "infer_seconds_count 0\n"));
    free(t);
    metrics_free(m);
}

static void test_validation(void **state)
{
    (void)state;
    struct metrics *m = new_registry();
    struct metrics_family *f;
    struct mlw_err err = {0};
    static const double inc[] = {1, 2}, dec[] = {2, 1}, inf[] = {1, INFINITY};
    static const char *const le[] = {"le"}, *const dunder[] = {"__x"}, *const twice[] = {"a", "a"};
    static const char *const five[] = {"a", "b", "c", "d", "e"}, *const bad[] = {"1x"};
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "1bad", "", NULL, 0, NULL, 0, &f, &err),
                     MLW_EINVAL);
    assert_non_null(strstr(err.msg, "invalid metric name"));
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "has-dash", "", NULL, 0, NULL, 0, &f,
                                      NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "ns:ok_total", "", NULL, 0, NULL, 0, &f,
                                      NULL),
                     MLW_OK);
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "ns:ok_total", "", NULL, 0, NULL, 0, &f,
                                      NULL),
                     MLW_EINVAL);
    assert_null(f);
    assert_int_equal(metrics_register(m, METRICS_HISTOGRAM, "h1", "", le, 1, inc, 2, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "g_le", "", le, 1, NULL, 0, &f, NULL),
                     MLW_OK);
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "g1", "", dunder, 1, NULL, 0, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "g2", "", twice, 2, NULL, 0, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "g3", "", five, 5, NULL, 0, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "g4", "", bad, 1, NULL, 0, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_HISTOGRAM, "h2", "", NULL, 0, dec, 2, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_HISTOGRAM, "h3", "", NULL, 0, inf, 2, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_HISTOGRAM, "h4", "", NULL, 0, NULL, 0, &f, NULL),
                     MLW_EINVAL);
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "g5", "", NULL, 0, inc, 2, &f, NULL),
                     MLW_EINVAL);

    struct metrics_family *c;
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "c_total", "", NULL, 0, NULL, 0, &c,
                                      NULL),
                     MLW_OK);
    assert_int_equal(metrics_add(c, NULL, -1), MLW_EINVAL);
    assert_int_equal(metrics_add(c, NULL, NAN), MLW_EINVAL);
    assert_int_equal(metrics_set(c, NULL, 10), MLW_OK); /* totals kept elsewhere */
    assert_int_equal(metrics_set(c, NULL, 9), MLW_EINVAL); /* never lower */
    assert_int_equal(metrics_observe(c, NULL, 1), MLW_EINVAL);
    assert_true(metrics_value(c, NULL) == 10);
    assert_int_equal(metrics_add(NULL, NULL, 1), MLW_OK); /* a missing family is a no-op */
    metrics_free(m);
}

static void test_child_limit_and_long_values(void **state)
{
    (void)state;
    struct metrics *m = new_registry();
    struct metrics_family *f;
    static const char *const l[] = {"k"};
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "many_total", "", l, 1, NULL, 0, &f,
                                      NULL),
                     MLW_OK);
    char v[32];
    for (int i = 0; i < METRICS_MAX_CHILDREN; i++) {
        snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(metrics_add(f, (const char *[]){v}, 1), MLW_OK);
    }
    assert_int_equal(metrics_add(f, (const char *[]){"one-too-many"}, 1), MLW_EBUSY);
    assert_int_equal(metrics_dropped(m), 1);
    assert_int_equal(metrics_add(f, (const char *[]){"v7"}, 1), MLW_OK); /* existing: fine */
    assert_true(metrics_value(f, (const char *[]){"v7"}) == 2);

    /* Values are cut to METRICS_MAX_LABEL_VALUE bytes, and the cut value
     * names the same child. */
    struct metrics_family *g;
    assert_int_equal(metrics_register(m, METRICS_GAUGE, "long_values", "", l, 1, NULL, 0, &g,
                                      NULL),
                     MLW_OK);
    char big[400], big2[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big2, big, sizeof big);
    big2[300] = 'y';
    metrics_set(g, (const char *[]){big}, 1);
    metrics_add(g, (const char *[]){big2}, 1);
    assert_true(metrics_value(g, (const char *[]){big}) == 2);
    char *t = render(m);
    const char *line = strstr(t, "long_values{k=\"");
    assert_non_null(line);
    const char *q = strchr(line + 15, '"');
    assert_int_equal(q - (line + 15), METRICS_MAX_LABEL_VALUE);
    free(t);
    metrics_free(m);
}

static void test_format_double(void **state)
{
    (void)state;
    char b[40];
    struct {
        double v;
        const char *want;
    } cases[] = {{0, "0"},           {10, "10"},     {300, "300"},
                 {0.005, "0.005"},   {2.5, "2.5"},   {-1.25, "-1.25"},
                 {1e-7, "1e-07"},    {0.1 + 0.2, "0.30000000000000004"},
                 {1e20, "1e+20"},    {123456789012345.0, "123456789012345"},
                 {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        metrics_format_double(cases[i].v, b, sizeof b);
        assert_string_equal(b, cases[i].want);
    }
    /* Every finite value reads back exactly. */
    double x = 1.0 / 3.0;
    metrics_format_double(x, b, sizeof b);
    assert_true(strtod(b, NULL) == x);
}

struct adder {
    struct metrics_family *f;
    int n;
};

static void *add_many(void *arg)
{
    struct adder *a = arg;
    const char *lab[] = {"shared"};
    for (int i = 0; i < a->n; i++) {
        metrics_add(a->f, lab, 1);
        metrics_observe(NULL, lab, 0); /* a NULL family is a no-op */
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct metrics *m = new_registry();
    struct metrics_family *f;
    static const char *const l[] = {"k"};
    assert_int_equal(metrics_register(m, METRICS_COUNTER, "par_total", "", l, 1, NULL, 0, &f,
                                      NULL),
                     MLW_OK);
    pthread_t th[4];
    struct adder a = {f, 20000};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, add_many, &a), 0);
    for (int i = 0; i < 4; i++) {
        char *t = render(m); /* renders while others add */
        free(t);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(metrics_value(f, (const char *[]){"shared"}) == 80000);
    metrics_free(m);
}

static void test_process_registry(void **state)
{
    (void)state;
    /* Before init every call is a no-op. */
    metrics_count(METRICS_ROWS_PROCESSED, "vitals", 5);
    assert_null(metrics_process());
    assert_true(metrics_read(METRICS_ROWS_PROCESSED, "vitals") == 0);

    assert_int_equal(metrics_process_init("9.9.9", "both", 1700000000, NULL), MLW_OK);
    assert_int_equal(metrics_process_init("ignored", "sqs", 0, NULL), MLW_OK); /* idempotent */
    metrics_count(METRICS_ROWS_PROCESSED, "vitals", 5);
    metrics_count(METRICS_ROWS_PROCESSED, "vitals", 2);
    metrics_count(METRICS_DB_RECONNECTS, NULL, 1);
    metrics_gauge(METRICS_QUEUE_MESSAGES, "visible", 7);
    metrics_time(METRICS_MODEL_SECONDS, NULL, 0.02);
    assert_true(metrics_read(METRICS_ROWS_PROCESSED, "vitals") == 7);
    assert_true(metrics_read(METRICS_MODEL_SECONDS, NULL) == 1);

    char *t = render(metrics_process());
    assert_non_null(strstr(t, "mlworker_build_info{version=\"9.9.9\",mode=\"both\"} 1\n"));
    assert_non_null(strstr(t, "process_start_time_seconds 1700000000\n"));
    assert_non_null(strstr(t, "mlworker_rows_processed_total{domain=\"vitals\"} 7\n"));
    assert_non_null(strstr(t, "mlworker_db_reconnects_total 1\n"));
    assert_non_null(strstr(t, "mlworker_sqs_queue_messages{state=\"visible\"} 7\n"));
    assert_non_null(strstr(t, "mlworker_model_inference_duration_seconds_bucket{le=\"0.025\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE mlworker_job_duration_seconds histogram\n"));
    /* Every counter name ends in _total (Prometheus convention). */
    for (const char *p = strstr(t, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        const char *eol = strchr(p, '\n');
        if (eol - p > 8 && !strncmp(eol - 8, " counter", 8))
            assert_true(!strncmp(eol - 14, "_total", 6));
    }
    free(t);
    metrics_process_free();
    assert_null(metrics_process());
    metrics_count(METRICS_ROWS_PROCESSED, "vitals", 5); /* no-op again */
}

static void test_jobmetrics(void **state)
{
    (void)state;
    assert_int_equal(metrics_process_init("1", "sqs", 0, NULL), MLW_OK);
    assert_string_equal(jobmetrics_job_label("process_pending_vitals"), "process_pending_vitals");
    assert_string_equal(jobmetrics_job_label("drop table"), "unknown");
    assert_string_equal(jobmetrics_job_label(NULL), "unknown");
    assert_string_equal(jobmetrics_domain_label(DOMAIN_VITALS), "vitals");
    assert_string_equal(jobmetrics_domain_label(DOMAIN_NUTRITION), "nutrition");

    /* m1 succeeds and is deleted; m2 fails; m3 has a hostile job type. */
    jobmetrics_received("m1", "process_pending_vitals");
    jobmetrics_received("m2", "loinc_mapping");
    jobmetrics_received("m3", "x\"}\n evil");
    jobmetrics_outcome("m1", 0);
    jobmetrics_outcome("m2", 1);
    jobmetrics_outcome("m3", 1);
    jobmetrics_deleted("m1");
    jobmetrics_deleted("never-seen");
    assert_true(metrics_read(METRICS_MSG_RECEIVED, "process_pending_vitals") == 1);
    assert_true(metrics_read(METRICS_MSG_RECEIVED, "loinc_mapping") == 1);
    assert_true(metrics_read(METRICS_MSG_RECEIVED, "unknown") == 1);
    assert_true(metrics_read(METRICS_MSG_DELETED, "process_pending_vitals") == 1);
    assert_true(metrics_read(METRICS_MSG_DELETED, "unknown") == 1);
    assert_true(metrics_read(METRICS_MSG_FAILED, "loinc_mapping") == 1);
    assert_true(metrics_read(METRICS_MSG_FAILED, "unknown") == 1);
    assert_true(metrics_read(METRICS_JOB_SECONDS, "process_pending_vitals") == 1);

    /* More messages than the table holds: the oldest entries are dropped,
     * counts stay right for the recent ones. */
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "bulk%d", i);
        jobmetrics_received(id, "process_pending_nutrition");
    }
    jobmetrics_deleted("bulk99");
    assert_true(metrics_read(METRICS_MSG_RECEIVED, "process_pending_nutrition") == 100);
    assert_true(metrics_read(METRICS_MSG_DELETED, "process_pending_nutrition") == 1);

    /* Batches: deltas of the pipeline statistics, duration when rows > 0. */
    struct pipeline_stats s = {0};
    struct jobmetrics_mark mk = jobmetrics_begin(&s);
    s.done += 90;
    s.failed += 10;
    s.reclaimed += 3;
    s.retries += 1;
    jobmetrics_batch(DOMAIN_NUTRITION, &mk, &s, 100);
    mk = jobmetrics_begin(&s);
    jobmetrics_batch(DOMAIN_NUTRITION, &mk, &s, 0); /* empty poll: no duration sample */
    assert_true(metrics_read(METRICS_ROWS_PROCESSED, "nutrition") == 90);
    assert_true(metrics_read(METRICS_ROWS_FAILED, "nutrition") == 10);
    assert_true(metrics_read(METRICS_CLAIMS_RECLAIMED, "nutrition") == 3);
    assert_true(metrics_read(METRICS_DB_RETRIES, "nutrition") == 1);
    assert_true(metrics_read(METRICS_BATCH_SECONDS, "nutrition") == 1);
    metrics_process_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge_text),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_child_limit_and_long_values),
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_process_registry),
        cmocka_unit_test(test_jobmetrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
