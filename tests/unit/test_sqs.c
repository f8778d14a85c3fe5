/*
 * test_sqs.c - the pure parts of the SQS client, the credential chain and
 * the consumer: message-attribute MD5 (vectors from moto, which computes
 * it like SQS), region from queue URLs, AWS error classification, the
 * shared-file and credential-document parsers, ISO-8601 expirations, and
 * job-message parsing, the answer parsers (queue/sqs_parse.h) on the seed
 * answers of tests/fuzz/corpus/sqs_response. Network behaviour is covered by
 * tests/integration/test_sqs_*.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/consumer.h"
#include "queue/aws_credentials.h"
#include "queue/sqs.h"
#include "queue/sqs_parse.h"

static void test_md5(void **state)
{
    (void)state;
    char hex[SQS_MD5_HEX];
    sqs_md5_hex("h\xc3\xa9llo \xf0\x9f\x98\x80", strlen("h\xc3\xa9llo \xf0\x9f\x98\x80"), hex);
    assert_string_equal(hex, "207dd4f0cd7a4f13b4932646cd1f8f2b");

    /* As moto answered for the same attributes (order given must not matter). */
    struct sqs_attr a[] = {{"UserId", "Number", "123"}, {"JobType", "String", "x"}};
    assert_int_equal(sqs_md5_of_attributes(a, 2, hex, NULL), MLW_OK);
    assert_string_equal(hex, "7c77e2372690839095837e5c7c96ac8b");
    struct sqs_attr b[] = {{"N", "Number", "-1.5e3"},
                           {"Blob", "Binary", "AAH/aGk="},
                           {"Alpha", "String.custom", "h\xc3\xa9llo"}};
    assert_int_equal(sqs_md5_of_attributes(b, 3, hex, NULL), MLW_OK);
    assert_string_equal(hex, "71a7815b3599986542d66691c82d2106");

    assert_int_equal(sqs_md5_of_attributes(NULL, 0, hex, NULL), MLW_OK);
    assert_string_equal(hex, "");
    struct sqs_attr bad[] = {{"Blob", "Binary", "not base64!"}};
    struct mlw_err err = {0};
    assert_int_equal(sqs_md5_of_attributes(bad, 1, hex, &err), MLW_EINVAL);
    assert_non_null(strstr(err.msg, "Blob"));
}

static void test_region(void **state)
{
    (void)state;
    char r[64];
    sqs_region_from_url("https://sqs.eu-west-2.amazonaws.com/123456789012/q", r, sizeof r);
    assert_string_equal(r, "eu-west-2");
    sqs_region_from_url("https://SQS.us-gov-west-1.amazonaws.com/1/q", r, sizeof r);
    assert_string_equal(r, "us-gov-west-1");
    sqs_region_from_url("https://sqs.cn-north-1.amazonaws.com.cn/1/q", r, sizeof r);
    assert_string_equal(r, "cn-north-1");
    sqs_region_from_url("https://ap-south-1.queue.amazonaws.com/1/q", r, sizeof r);
    assert_string_equal(r, "ap-south-1");
    sqs_region_from_url("https://queue.amazonaws.com/1/q", r, sizeof r);
    assert_string_equal(r, "us-east-1");
    sqs_region_from_url("http://127.0.0.1:4566/000000000000/q", r, sizeof r);
    assert_string_equal(r, "");
    sqs_region_from_url("https://sqs.example.com/1/q", r, sizeof r);
    assert_string_equal(r, "");
    sqs_region_from_url("garbage", r, sizeof r);
    assert_string_equal(r, "");
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(sqs_classify_error("ThrottlingException", 400), MLW_ETRANSIENT);
    assert_int_equal(sqs_classify_error("RequestThrottled", 403), MLW_ETRANSIENT);
    assert_int_equal(sqs_classify_error("", 500), MLW_ETRANSIENT);
    assert_int_equal(sqs_classify_error(NULL, 503), MLW_ETRANSIENT);
    assert_int_equal(sqs_classify_error("ExpiredToken", 400), MLW_ETRANSIENT);
    assert_int_equal(sqs_classify_error("AccessDenied", 403), MLW_EFATAL);
    assert_int_equal(sqs_classify_error("QueueDoesNotExist", 400), MLW_EFATAL);
    assert_int_equal(sqs_classify_error("AWS.SimpleQueueService.NonExistentQueue", 400),
                     MLW_EFATAL);
    assert_int_equal(sqs_classify_error("InvalidClientTokenId", 403), MLW_EFATAL);
    assert_int_equal(sqs_classify_error("ReceiptHandleIsInvalid", 400), MLW_EINVAL);
    assert_int_equal(sqs_classify_error("", 404), MLW_EINVAL);
}

static void test_ini(void **state)
{
    (void)state;
    const char *text = "# comment\n"
                       "[default]\n"
                       "aws_access_key_id = AKIADEFAULT\n"
                       "aws_secret_access_key = s3cr3t/+=\n"
                       "\n"
                       "[ prod ]\r\n"
                       "  aws_access_key_id=AKIAPROD\r\n"
                       "; other comment\n"
                       "aws_secret_access_key=prodsecret\n"
                       "aws_session_token = tok=en\n"
                       "[broken]\n"
                       "aws_access_key_id = AKIAONLY\n";
    struct aws_credentials c;
    int found = 0;
    assert_int_equal(aws_cred_parse_ini(text, "default", &c, &found, NULL), MLW_OK);
    assert_string_equal(c.access_key_id, "AKIADEFAULT");
    assert_string_equal(c.secret_access_key, "s3cr3t/+=");
    assert_null(c.session_token);
    aws_credentials_clear(&c);
    assert_int_equal(aws_cred_parse_ini(text, "prod", &c, &found, NULL), MLW_OK);
    assert_string_equal(c.access_key_id, "AKIAPROD");
    assert_string_equal(c.secret_access_key, "prodsecret");
    assert_string_equal(c.session_token, "tok=en");
    aws_credentials_clear(&c);
    struct mlw_err err = {0};
    assert_int_equal(aws_cred_parse_ini(text, "broken", &c, &found, &err), MLW_EINVAL);
    assert_int_equal(found, 1);
    assert_null(strstr(err.msg, "AKIAONLY"));
    assert_int_equal(aws_cred_parse_ini(text, "absent", &c, &found, NULL), MLW_ENOTFOUND);
    assert_int_equal(found, 0);
}

static void test_json_and_dates(void **state)
{
    (void)state;
    time_t t = 0;
    assert_int_equal(aws_parse_iso8601("1970-01-02T00:00:01Z", &t), 0);
    assert_int_equal((long)t, 86401);
    assert_int_equal(aws_parse_iso8601("2024-05-06T07:08:09.123Z", &t), 0);
    assert_int_equal((long)t, 1714979289);
    assert_int_equal(aws_parse_iso8601("2024-05-06T07:08:09+00:00", &t), 0);
    assert_int_equal(aws_parse_iso8601("2024-05-06 07:08:09", &t), -1);
    assert_int_equal(aws_parse_iso8601("2024-13-06T07:08:09Z", &t), -1);

    const char *doc = "{\"Code\": \"Success\", \"AccessKeyId\": \"ASIAX\", \"SecretAccessKey\": "
                      "\"sec\", \"Token\": \"tok\", \"Expiration\": \"2024-05-06T07:08:09Z\"}";
    struct aws_credentials c;
    assert_int_equal(aws_cred_parse_json(doc, strlen(doc), &c, NULL), MLW_OK);
    assert_string_equal(c.access_key_id, "ASIAX");
    assert_string_equal(c.secret_access_key, "sec");
    assert_string_equal(c.session_token, "tok");
    assert_int_equal((long)c.expiration, 1714979289);
    aws_credentials_clear(&c);
    struct mlw_err err = {0};
    const char *bad = "{\"Code\": \"Failure\", \"SecretAccessKey\": \"leak\"}";
    assert_int_equal(aws_cred_parse_json(bad, strlen(bad), &c, &err), MLW_EFORMAT);
    assert_null(strstr(err.msg, "leak"));
    assert_int_equal(aws_cred_parse_json("[1]", 3, &c, NULL), MLW_EFORMAT);
    const char *noexp = "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"B\"}";
    assert_int_equal(aws_cred_parse_json(noexp, strlen(noexp), &c, NULL), MLW_OK);
    assert_int_equal((long)c.expiration, 0);
    aws_credentials_clear(&c);
}

static void test_parse_job(void **state)
{
    (void)state;
    struct consumer_job j;
    struct mlw_err err = {0};
    assert_int_equal(consumer_parse_job("{\"job_type\": \"process_pending_vitals\", \"user_id\": "
                                        "123, \"priority\": \"normal\", \"extra\": [1]}",
                                        &j, &err),
                     MLW_OK);
    assert_int_equal(j.type, JOB_PENDING_VITALS);
    assert_int_equal(j.user_id, 123);
    assert_int_equal(consumer_parse_job("{\"job_type\": \"process_pending_nutrition\"}", &j, NULL),
                     MLW_OK);
    assert_int_equal(j.type, JOB_PENDING_NUTRITION);
    assert_int_equal(j.user_id, -1);
    assert_int_equal(consumer_parse_job("{\"job_type\": \"process_pending_labs\", \"user_id\": "
                                        "null}", &j, NULL),
                     MLW_OK);
    assert_int_equal(j.type, JOB_PENDING_LABS);
    assert_int_equal(j.user_id, -1);
    assert_int_equal(consumer_parse_job("{\"job_type\": \"process_pending_vitals\", \"user_id\": "
                                        "\"42\"}", &j, NULL),
                     MLW_OK);
    assert_int_equal(j.user_id, 42);
    assert_int_equal(consumer_parse_job("{\"job_type\": \"lab_categorization\", \"user_id\": 1, "
                                        "\"document_id\": 9, \"tests\": [{}, {}]}", &j, NULL),
                     MLW_OK);
    assert_int_equal(j.type, JOB_LAB_CATEGORIZATION);
    assert_int_equal(j.document_id, 9);
    assert_int_equal(j.n_tests, 2);
    assert_int_equal(consumer_parse_job("{\"job_type\": \"loinc_mapping\", \"test_name\": "
                                        "\"HbA1c\\n\"}", &j, NULL),
                     MLW_OK);
    assert_int_equal(j.type, JOB_LOINC_MAPPING);
    assert_string_equal(j.test_name, "HbA1c?");
    assert_int_equal(consumer_parse_job("{\"job_type\": \"frobnicate\"}", &j, NULL), MLW_OK);
    assert_int_equal(j.type, JOB_UNKNOWN);
    assert_string_equal(j.job_type, "frobnicate");
    assert_int_equal(consumer_parse_job("{\"job_type\": \"PROCESS_PENDING_VITALS\"}", &j, NULL),
                     MLW_OK);
    assert_int_equal(j.type, JOB_UNKNOWN); /* case-sensitive, as the original */

    const char *bad[] = {"", "not json", "[1]", "\"s\"", "{}", "{\"job_type\": 5}",
                         "{\"job_type\": \"process_pending_vitals\", \"user_id\": -1}",
                         "{\"job_type\": \"process_pending_vitals\", \"user_id\": 1.5}",
                         "{\"job_type\": \"process_pending_vitals\", \"user_id\": \"x\"}",
                         "{\"job_type\": \"lab_categorization\", \"tests\": 3}",
                         "{\"job_type\": \"loinc_mapping\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mlw_err_clear(&err);
        assert_int_equal(consumer_parse_job(bad[i], &j, &err), MLW_EFORMAT);
        assert_true(err.msg[0] != '\0');
    }
}

/* A seed answer of the fuzz corpus, body only (after "\r\n\r\n" if any);
 * the header part's lines go through sqs_parse_header. */
static cJSON *seed(const char *name, char *qe, size_t qe_len, char *rid, size_t rid_len)
{
    const char *src = getenv("MLW_SOURCE_DIR");
    char path[1024], buf[16384];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/sqs_response/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    qe[0] = rid[0] = '\0';
    char *body = strstr(buf, "\r\n\r\n");
    if (!body)
        return sqs_parse_body(buf, n);
    for (char *l = buf; l < body;) {
        char *e = strchr(l, '\n');
        size_t len = (size_t)(e - l) + 1;
        sqs_parse_header(l, len, qe, qe_len, rid, rid_len);
        l = e + 1;
    }
    body += 4;
    return sqs_parse_body(body, strlen(body));
}

static void test_parse_answers(void **state)
{
    (void)state;
    char qe[160], rid[96], code[160];
    const char *msg;
    struct mlw_err err = {0};

    /* ReceiveMessage as moto sends it: MD5s of body and attributes check. */
    cJSON *j = seed("receive_moto", qe, sizeof qe, rid, sizeof rid);
    assert_non_null(j);
    struct sqs_messages m;
    assert_int_equal(sqs_parse_receive(j, &m, &err), MLW_OK);
    assert_int_equal(m.n, 2);
    assert_true(m.items[0].md5_ok && m.items[1].md5_ok);
    assert_int_equal(m.items[0].receive_count, 1);
    assert_int_equal(m.items[1].receive_count, 3);
    assert_int_equal(m.items[0].n_attrs, 3);
    assert_string_equal(m.items[0].receipt_handle, "AQEB1ZmFrZS1yZWNlaXB0LWhhbmRsZQ==");
    sqs_messages_free(&m);
    cJSON_Delete(j);

    /* Binary attribute, numeric receive count (fauxqs); a wrong body MD5. */
    j = seed("receive_fauxqs", qe, sizeof qe, rid, sizeof rid);
    assert_int_equal(sqs_parse_receive(j, &m, &err), MLW_OK);
    assert_int_equal(m.n, 1);
    assert_true(m.items[0].md5_ok);
    assert_int_equal(m.items[0].receive_count, 2);
    sqs_messages_free(&m);
    cJSON_Delete(j);
    j = seed("receive_badmd5", qe, sizeof qe, rid, sizeof rid);
    assert_int_equal(sqs_parse_receive(j, &m, &err), MLW_OK);
    assert_false(m.items[0].md5_ok);
    sqs_messages_free(&m);
    cJSON_Delete(j);

    /* A message without a receipt handle is a malformed answer. */
    j = cJSON_Parse("{\"Messages\": [{\"MessageId\": \"a\", \"Body\": \"b\"}]}");
    assert_int_equal(sqs_parse_receive(j, &m, &err), MLW_ETRANSIENT);
    sqs_messages_free(&m);
    cJSON_Delete(j);

    /* Errors: the query-error header wins over __type; else after '#'. */
    j = seed("error_nonexistent", qe, sizeof qe, rid, sizeof rid);
    sqs_parse_error(j, qe, code, sizeof code, &msg);
    assert_string_equal(code, "AWS.SimpleQueueService.NonExistentQueue");
    assert_string_equal(msg, "The specified queue does not exist.");
    assert_string_equal(rid, "2b6c3f52-1a77-5d1e-9c3b-7a1e0f2c6d11");
    assert_int_equal(sqs_classify_error(code, 400), MLW_EFATAL);
    cJSON_Delete(j);
    j = seed("error_throttle", qe, sizeof qe, rid, sizeof rid);
    sqs_parse_error(j, qe, code, sizeof code, &msg);
    assert_string_equal(code, "RequestThrottled");
    assert_string_equal(msg, "Rate exceeded");
    cJSON_Delete(j);
    j = seed("error_html", qe, sizeof qe, rid, sizeof rid);
    assert_null(j);
    sqs_parse_error(NULL, qe, code, sizeof code, &msg);
    assert_string_equal(code, "");
    assert_string_equal(msg, "");

    /* Batch answers: only valid Ids count. */
    int ok[SQS_MAX_BATCH] = {0};
    j = seed("delete_batch", qe, sizeof qe, rid, sizeof rid);
    sqs_parse_delete_batch(j, SQS_MAX_BATCH, ok);
    for (int i = 0; i < SQS_MAX_BATCH; i++)
        assert_int_equal(ok[i], i == 0 || i == 1 || i == 9);
    cJSON_Delete(j);
    static const struct sqs_attr attrs[] = {{"JobType", "String", "process_pending_vitals"},
                                            {"UserId", "Number", "42"},
                                            {"Blob", "Binary", "aGVsbG8="}};
    struct sqs_send_entry e[3] = {
        {.body = "{\"job_type\": \"process_pending_vitals\", \"user_id\": 42}", .attrs = attrs,
         .n_attrs = 3},
        {.body = ""},
        {.body = "hello", .attrs = attrs, .n_attrs = 1}};
    j = seed("send_batch", qe, sizeof qe, rid, sizeof rid);
    assert_int_equal(sqs_parse_send_batch(j, e, 3, &err), MLW_OK);
    assert_true(e[0].ok && e[1].ok && e[2].ok);
    assert_string_equal(e[2].message_id, "a3");
    cJSON_Delete(j);
    j = seed("send", qe, sizeof qe, rid, sizeof rid);
    assert_int_equal(sqs_parse_sent("SendMessage", &e[0], j, &err), MLW_OK);
    assert_int_equal(sqs_parse_sent("SendMessage", &e[2], j, &err), MLW_EFORMAT);
    cJSON_Delete(j);

    static const char *const names[] = {"ApproximateNumberOfMessages", "QueueArn", "Absent"};
    char **v = NULL;
    j = seed("attributes", qe, sizeof qe, rid, sizeof rid);
    assert_int_equal(sqs_parse_attributes(j, names, 3, &v, &err), MLW_OK);
    assert_string_equal(v[0], "12");
    assert_string_equal(v[1], "arn:aws:sqs:us-east-1:123456789012:mlw-jobs");
    assert_null(v[2]);
    sqs_strings_free(v, 3);
    cJSON_Delete(j);
    j = seed("queue_url", qe, sizeof qe, rid, sizeof rid);
    char *url = sqs_parse_queue_url(j);
    assert_string_equal(url, "http://127.0.0.1:4566/123456789012/mlw-jobs");
    free(url);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_region),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_ini),
        cmocka_unit_test(test_json_and_dates),
        cmocka_unit_test(test_parse_job),
        cmocka_unit_test(test_parse_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
