/*
 * test_dbqueue.c - the database-backed queue (queue/dbqueue.h) on a
 * temporary SQLite file, through the queue.h interface the consumer uses:
 * send/receive round trip with attributes and MD5s, visibility (release,
 * heartbeat, expiry), stale receipt handles, dead-lettering after
 * max_receives, redrive, depth, delays, batch calls, SQS's body rules,
 * URL parsing; and that no two embedded migrations of a dialect share a
 * version (the second would be skipped silently).
 * PostgreSQL and multi-process behaviour: tests/integration/test_dbqueue.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/dbqueue.h"
#include "queue/queue.h"
#include "store/schema.h"

static char g_dir[64];
static char g_url[128];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mlw-dbq.XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_url, sizeof g_url, "sqlite://%s/q.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct queue *open_q(const char *suffix, int max_receives)
{
    char url[200];
    snprintf(url, sizeof url, "%s%s", g_url, suffix);
    struct queue_options o = {NULL, "us-east-1", NULL, max_receives};
    struct queue *q = NULL;
    struct mlw_err err = {0};
    int rc = queue_open(url, &o, &q, &err);
    if (rc != MLW_OK)
        print_error("queue_open: %s\n", err.msg);
    assert_int_equal(rc, MLW_OK);
    queue_set_stop_fn(q, NULL);
    return q;
}

static void send_body(struct queue *q, const char *body, char id_out[128])
{
    struct sqs_send_entry e = {.body = body, .delay_seconds = -1};
    struct mlw_err err = {0};
    assert_int_equal(queue_send(q, &e, &err), MLW_OK);
    if (id_out)
        memcpy(id_out, e.message_id, 128);
}

/* Versions are unique per dialect: two files with one number would make
 * `migrate` record the first and silently skip the second. */
static void test_migrations_numbered(void **state)
{
    (void)state;
    int queue_seen = 0;
    for (const struct schema_migration *m = schema_migrations; m->dialect; m++) {
        for (const struct schema_migration *o = m + 1; o->dialect; o++) {
            if (!strcmp(m->dialect, o->dialect) && m->version == o->version)
                print_error("%s migrations %s and %s share version %d\n", m->dialect, m->name,
                            o->name, m->version);
            assert_false(!strcmp(m->dialect, o->dialect) && m->version == o->version);
        }
        queue_seen += !strcmp(m->name, "queue");
    }
    assert_int_equal(queue_seen, 2); /* sqlite and postgres */
}

static void test_helpers(void **state)
{
    (void)state;
    const char *name;
    assert_int_equal(dbqueue_split_url("db", &name), 2);
    assert_null(name);
    assert_int_equal(dbqueue_split_url("db#ml-jobs_2", &name), 2);
    assert_string_equal(name, "ml-jobs_2");
    assert_int_equal(dbqueue_split_url("sqlite:///x.db#q", &name), 14);
    assert_int_equal(dbqueue_split_url("db#", &name), -1);
    assert_int_equal(dbqueue_split_url("db#a b", &name), -1);
    assert_int_equal(queue_kind_of_url("db"), QUEUE_KIND_DB);
    assert_int_equal(queue_kind_of_url("postgresql://u@h/d#q"), QUEUE_KIND_DB);
    assert_int_equal(queue_kind_of_url("https://sqs.us-east-1.amazonaws.com/1/q"),
                     QUEUE_KIND_SQS);

    char h[64];
    int64_t id, cnt;
    dbqueue_format_handle(42, 3, h, sizeof h);
    assert_string_equal(h, "dbq:42:3");
    assert_int_equal(dbqueue_parse_handle(h, &id, &cnt), 0);
    assert_true(id == 42 && cnt == 3);
    const char *bad[] = {"", "dbq:", "dbq:1", "dbq:1:", "dbq:x:1", "dbq:1:2:3", "dbq:0:1",
                         "AQEB...sqs-handle"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(dbqueue_parse_handle(bad[i], &id, &cnt), -1);

    assert_int_equal(dbqueue_check_body("{\"job_type\": \"x\"}", NULL), 0);
    assert_int_equal(dbqueue_check_body("tab\tnl\ncr\r h\xc3\xa9 \xf0\x9f\x98\x80", NULL), 0);
    struct mlw_err err = {0};
    assert_int_equal(dbqueue_check_body("", &err), -1);
    mlw_err_clear(&err);
    assert_int_equal(dbqueue_check_body("bell\x07", &err), -1);
    assert_non_null(strstr(err.msg, "U+0007"));
    assert_int_equal(dbqueue_check_body("\xff", NULL), -1);          /* not UTF-8 */
    assert_int_equal(dbqueue_check_body("\xc0\xaf", NULL), -1);      /* overlong */
    assert_int_equal(dbqueue_check_body("\xef\xbf\xbe", NULL), -1);  /* U+FFFE */
    assert_int_equal(dbqueue_check_body("\xed\xa0\x80", NULL), -1);  /* surrogate */
    assert_int_equal(dbqueue_check_body("\xe2\x82", NULL), -1);      /* truncated */
    char *big = malloc(DBQUEUE_MAX_BODY + 2);
    assert_non_null(big);
    memset(big, 'a', DBQUEUE_MAX_BODY + 1);
    big[DBQUEUE_MAX_BODY + 1] = '\0';
    assert_int_equal(dbqueue_check_body(big, NULL), -1);
    big[DBQUEUE_MAX_BODY] = '\0';
    assert_int_equal(dbqueue_check_body(big, NULL), 0);
    free(big);

    struct sqs_attr a[] = {{"JobType", "String", "process_pending_vitals"},
                           {"UserId", "Number", "123"},
                           {"Blob", "Binary", "AAH/aGk="}};
    char *json = NULL;
    assert_int_equal(dbqueue_attrs_to_json(a, 3, &json, NULL), MLW_OK);
    assert_string_equal(json, "{\"JobType\":{\"DataType\":\"String\",\"StringValue\":"
                              "\"process_pending_vitals\"},\"UserId\":{\"DataType\":\"Number\","
                              "\"StringValue\":\"123\"},\"Blob\":{\"DataType\":\"Binary\","
                              "\"BinaryValue\":\"AAH/aGk=\"}}");
    struct sqs_attr *back = NULL;
    size_t n = 0;
    assert_int_equal(dbqueue_attrs_from_json(json, &back, &n, NULL), MLW_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(back[i].name, a[i].name);
        assert_string_equal(back[i].data_type, a[i].data_type);
        assert_string_equal(back[i].value, a[i].value);
        free(back[i].name);
        free(back[i].data_type);
        free(back[i].value);
    }
    free(back);
    free(json);
    struct sqs_attr dup[] = {{"A", "String", "1"}, {"A", "String", "2"}};
    assert_int_equal(dbqueue_attrs_to_json(dup, 2, &json, NULL), MLW_EINVAL);
    struct sqs_attr badtype[] = {{"A", "Blob", "1"}};
    assert_int_equal(dbqueue_attrs_to_json(badtype, 1, &json, NULL), MLW_EINVAL);
    assert_int_equal(dbqueue_attrs_from_json("[1]", &back, &n, NULL), MLW_EFORMAT);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct queue *q = open_q("#roundtrip", 3);
    assert_int_equal(queue_kind(q), QUEUE_KIND_DB);
    assert_string_equal(queue_label(q), "database queue");
    assert_non_null(strstr(queue_where(q), "queue roundtrip"));

    const char *body = "{\"job_type\": \"process_pending_vitals\", \"user_id\": 7}";
    struct sqs_attr attrs[] = {{"JobType", "String", "process_pending_vitals"},
                               {"Priority", "String", "normal"},
                               {"UserId", "Number", "7"}};
    struct sqs_send_entry e = {.body = body, .attrs = attrs, .n_attrs = 3, .delay_seconds = -1};
    struct mlw_err err = {0};
    assert_int_equal(queue_send(q, &e, &err), MLW_OK);
    assert_int_equal(strlen(e.message_id), 36);
    assert_int_equal(e.message_id[14], '4'); /* UUID v4 */
    char md5[SQS_MD5_HEX], amd5[SQS_MD5_HEX];
    sqs_md5_hex(body, strlen(body), md5);
    assert_int_equal(sqs_md5_of_attributes(attrs, 3, amd5, NULL), MLW_OK);
    assert_string_equal(e.md5_of_body, md5);
    assert_string_equal(e.md5_of_attrs, amd5);

    struct queue_depth d;
    assert_int_equal(queue_depth(q, &d, &err), MLW_OK);
    assert_true(d.visible == 1 && d.in_flight == 0 && d.delayed == 0 && d.dead == 0);

    struct sqs_messages m = {0};
    assert_int_equal(queue_receive(q, 10, 0, 60, &m, &err), MLW_OK);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.items[0].message_id, e.message_id);
    assert_string_equal(m.items[0].body, body);
    assert_int_equal(m.items[0].receive_count, 1);
    assert_true(m.items[0].md5_ok);
    assert_string_equal(m.items[0].md5_of_attrs, amd5);
    assert_int_equal(m.items[0].n_attrs, 3);
    assert_string_equal(m.items[0].attrs[2].name, "UserId");
    assert_string_equal(m.items[0].attrs[2].data_type, "Number");
    assert_string_equal(m.items[0].attrs[2].value, "7");
    assert_int_equal(queue_depth(q, &d, &err), MLW_OK);
    assert_true(d.visible == 0 && d.in_flight == 1);

    /* In flight: not received again. */
    struct sqs_messages m2 = {0};
    assert_int_equal(queue_receive(q, 10, 0, 60, &m2, &err), MLW_OK);
    assert_int_equal(m2.n, 0);
    queue_messages_free(&m2);

    /* Heartbeat, then release: received again with a new handle; the old
     * handle can neither delete nor extend it. */
    assert_int_equal(queue_change_visibility(q, m.items[0].receipt_handle, 120, &err), MLW_OK);
    assert_int_equal(queue_change_visibility(q, m.items[0].receipt_handle, 0, &err), MLW_OK);
    assert_int_equal(queue_receive(q, 1, 0, 60, &m2, &err), MLW_OK);
    assert_int_equal(m2.n, 1);
    assert_int_equal(m2.items[0].receive_count, 2);
    assert_string_not_equal(m2.items[0].receipt_handle, m.items[0].receipt_handle);
    mlw_err_clear(&err);
    assert_int_equal(queue_delete(q, m.items[0].receipt_handle, &err), MLW_EINVAL);
    mlw_err_clear(&err);
    assert_int_equal(queue_change_visibility(q, m.items[0].receipt_handle, 30, &err), MLW_EINVAL);
    mlw_err_clear(&err);
    assert_int_equal(queue_delete(q, "garbage", &err), MLW_EINVAL);
    mlw_err_clear(&err);
    assert_int_equal(queue_delete(q, m2.items[0].receipt_handle, &err), MLW_OK);
    assert_int_equal(queue_depth(q, &d, &err), MLW_OK);
    assert_true(d.visible == 0 && d.in_flight == 0 && d.dead == 0);
    queue_messages_free(&m);
    queue_messages_free(&m2);

    /* Invalid bodies are refused like SQS refuses them. */
    struct sqs_send_entry bad = {.body = "x\x01", .delay_seconds = -1};
    mlw_err_clear(&err);
    assert_int_equal(queue_send(q, &bad, &err), MLW_EINVAL);
    assert_int_equal(bad.ok, 0);
    queue_close(q);
}

static void test_visibility_expiry_and_dlq(void **state)
{
    (void)state;
    struct queue *q = open_q("#dlq", 2);
    char id[128];
    send_body(q, "{\"job_type\": \"frobnicate\"}", id);
    struct mlw_err err = {0};
    struct sqs_messages m = {0};
    /* Receive 1 with a 1 s visibility: it expires and comes back by itself
     * within a long poll of 3 s. */
    assert_int_equal(queue_receive(q, 1, 0, 1, &m, &err), MLW_OK);
    assert_int_equal(m.n, 1);
    queue_messages_free(&m);
    assert_int_equal(queue_receive(q, 1, 3, 30, &m, &err), MLW_OK);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.items[0].receive_count, 2);
    assert_string_equal(m.items[0].message_id, id);
    /* Received max_receives (2) times: released, it is dead-lettered at
     * the next receive attempt instead of delivered. */
    assert_int_equal(queue_change_visibility(q, m.items[0].receipt_handle, 0, &err), MLW_OK);
    queue_messages_free(&m);
    assert_int_equal(queue_receive(q, 10, 0, 30, &m, &err), MLW_OK);
    assert_int_equal(m.n, 0);
    queue_messages_free(&m);
    struct queue_depth d;
    assert_int_equal(queue_depth(q, &d, &err), MLW_OK);
    assert_true(d.visible == 0 && d.in_flight == 0 && d.dead == 1);

    struct dbqueue *dq = queue_dbqueue(q);
    assert_non_null(dq);
    assert_int_equal(dbqueue_list_dead(dq, 10, &m, &err), MLW_OK);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.items[0].message_id, id);
    assert_int_equal(m.items[0].receive_count, 2);
    queue_messages_free(&m);
    int64_t moved = 0;
    assert_int_equal(dbqueue_redrive(dq, &moved, &err), MLW_OK);
    assert_int_equal(moved, 1);
    assert_int_equal(queue_receive(q, 10, 0, 30, &m, &err), MLW_OK);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.items[0].receive_count, 1);
    assert_int_equal(queue_delete(q, m.items[0].receipt_handle, &err), MLW_OK);
    queue_messages_free(&m);
    queue_close(q);
}

static void test_batches_delay_and_names(void **state)
{
    (void)state;
    struct queue *q = open_q("#batch", 3);
    struct queue *other = open_q("#other", 3);
    struct sqs_send_entry e[4] = {
        {.body = "{\"n\": 1}", .delay_seconds = -1},
        {.body = "", .delay_seconds = -1}, /* refused, the others go in */
        {.body = "{\"n\": 3}", .delay_seconds = 0},
        {.body = "{\"n\": 4}", .delay_seconds = 600},
    };
    struct mlw_err err = {0};
    assert_int_equal(queue_send_batch(q, e, 4, &err), MLW_OK);
    assert_true(e[0].ok && !e[1].ok && e[2].ok && e[3].ok);
    struct queue_depth d;
    assert_int_equal(queue_depth(q, &d, &err), MLW_OK);
    assert_true(d.visible == 2 && d.delayed == 1 && d.in_flight == 0);
    assert_int_equal(queue_depth(other, &d, &err), MLW_OK);
    assert_true(d.visible == 0 && d.delayed == 0);

    struct sqs_messages m = {0};
    assert_int_equal(queue_receive(q, 10, 0, 30, &m, &err), MLW_OK);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.items[0].body, "{\"n\": 1}"); /* oldest first */
    assert_string_equal(m.items[1].body, "{\"n\": 3}");
    const char *h[3] = {m.items[0].receipt_handle, m.items[1].receipt_handle, "dbq:999999:1"};
    int ok[3];
    assert_int_equal(queue_delete_batch(q, h, 3, ok, &err), MLW_OK);
    assert_true(ok[0] && ok[1] && !ok[2]);
    queue_messages_free(&m);
    assert_int_equal(queue_depth(q, &d, &err), MLW_OK);
    assert_true(d.visible == 0 && d.delayed == 1);

    /* A long poll that ends empty waits its time (a little over 1 s). */
    assert_int_equal(queue_receive(other, 1, 1, 30, &m, &err), MLW_OK);
    assert_int_equal(m.n, 0);
    queue_messages_free(&m);
    queue_close(other);
    queue_close(q);

    /* Malformed queue URLs. */
    struct queue_options o = {NULL, "us-east-1", NULL, 3};
    struct queue *x = NULL;
    mlw_err_clear(&err);
    assert_int_equal(queue_open("db", &o, &x, &err), MLW_EINVAL); /* no database */
    mlw_err_clear(&err);
    assert_int_equal(queue_open("sqlite:///tmp/x.db#bad name", &o, &x, &err), MLW_EINVAL);
    assert_null(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_numbered),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_visibility_expiry_and_dlq),
        cmocka_unit_test(test_batches_delay_and_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
