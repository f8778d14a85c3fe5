/*
 * test_labmap.c - LOINC candidate reranking and acceptance (ml/labmap.h)
 * and the reranker's pure parts (ml/llm_rerank.h: request, reply parsing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "ml/labmap.h"
#include "ml/llm_rerank.h"

static const struct labmap_candidate GLU[] = {
    {"2345-7", "Glucose [Mass/volume] in Serum or Plasma", "MCnc", "Ser/Plas", "mg/dL", 0.80f},
    {"2339-0", "Glucose [Mass/volume] in Blood", "MCnc", "Bld", "mg/dL", 0.82f},
    {"2350-7", "Glucose [Mass/volume] in Urine", "MCnc", "Urine", "mg/dL", 0.79f},
    {"15074-8", "Glucose [Moles/volume] in Blood", "SCnc", "Bld", "mmol/L", 0.81f},
    {"1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma", "MCnc", "Ser/Plas", "mg/dL",
     0.78f},
};
#define NGLU (sizeof GLU / sizeof GLU[0])

static void test_lexical(void **state)
{
    (void)state;
    /* identical text: every word on both sides */
    assert_true(labmap_lexical("Glucose [Mass/volume] in Serum or Plasma",
                               "Glucose [Mass/volume] in Serum or Plasma") > 0.999);
    /* case, punctuation and stop words do not matter */
    assert_true(labmap_lexical("GLUCOSE, SERUM or PLASMA", "glucose in serum/plasma") > 0.999);
    /* every word of the name found; the term's property words (half weight) not:
     * 0.7 + 0.3 * 3 / 4 */
    double g = labmap_lexical("GLUCOSE, SERUM/PLASMA", "Glucose [Mass/volume] in Serum or Plasma");
    assert_true(g > 0.9249 && g < 0.9251);
    /* half the name's words found; the term's: glucose, urine (1 each), mass, volume (1/2) */
    double h = labmap_lexical("glucose xyzzy", "Glucose [Mass/volume] in Urine");
    assert_true(h > 0.35 + 0.0999 && h < 0.35 + 0.1001);  /* 0.7 * 1/2 + 0.3 * 1/3 */
    /* the property words tell Mass/mass from Moles/mass */
    assert_true(labmap_lexical("Potassium [Mass/mass] in Hair", "Potassium [Mass/mass] in Hair") >
                labmap_lexical("Potassium [Mass/mass] in Hair", "Potassium [Moles/mass] in Hair"));
    assert_true(labmap_lexical("qqq zzz", "Glucose [Mass/volume] in Urine") == 0.0);
    assert_true(labmap_lexical("", "Glucose") == 0.0);
    assert_true(labmap_lexical("in or by", "Glucose") == 0.0);  /* only stop words */
}

static void test_exact_name_accepted(void **state)
{
    (void)state;
    struct labmap_params p;
    labmap_params_default(&p);
    struct labmap_query q = {"Glucose [Mass/volume] in Urine", NULL, NULL};
    struct labmap_scored r[NGLU];
    struct labmap_result res;
    assert_int_equal(labmap_rank(&q, GLU, NGLU, &p, r, &res), 1);
    assert_int_equal(res.best, 2);
    assert_string_equal(GLU[r[0].cand].code, "2350-7");
    assert_true(res.score >= p.min_score);
    assert_true(res.margin >= p.min_margin);
    assert_non_null(strstr(res.why, "accepted 2350-7"));
    for (size_t i = 1; i < NGLU; i++)
        assert_true(r[i - 1].score >= r[i].score);
    /* a sibling term with one more word: the lead is under the margin, but
     * the name is the best term word for word and the sibling's is not */
    struct labmap_candidate sib[2] = {
        {"19126-2", "Bacteria identified in Bone marrow by Aerobe culture", "Prid", "Marrow", "",
         0.90f},
        {"75359-0", "Bacteria identified in Bone marrow by Aerobe culture and sterility", "Prid",
         "Marrow", "", 0.93f}};
    struct labmap_query sq = {"Bacteria identified in Bone marrow by Aerobe culture", NULL, NULL};
    assert_int_equal(labmap_rank(&sq, sib, 2, &p, NULL, &res), 1);
    assert_string_equal(sib[res.best].code, "19126-2");
    assert_true(res.margin < p.min_margin);
    /* both scores reach the clamp: the unclamped sum still orders them */
    struct labmap_candidate hi[NGLU];
    memcpy(hi, GLU, sizeof hi);
    for (size_t i = 0; i < NGLU; i++)
        hi[i].cosine = 0.99f;
    struct labmap_query uq = {"Glucose [Mass/volume] in Urine", "urine", "mg/dL"};
    assert_int_equal(labmap_rank(&uq, hi, NGLU, &p, r, &res), 1);
    assert_string_equal(hi[res.best].code, "2350-7");
    assert_true(res.score <= 1.0 && r[0].raw > 1.0);
    /* a SYSTEM of two specimens agrees when one of them does */
    struct labmap_candidate both = {"2703-7", "Potassium renal clearance", "VRat", "Urine+Ser/Plas",
                                    "", 0.9f};
    struct labmap_query bq = {"Potassium clearance", "urine", NULL};
    labmap_rank(&bq, &both, 1, &p, r, &res);
    assert_int_equal(r[0].specimen, 1);
}

static void test_specimen_and_unit(void **state)
{
    (void)state;
    struct labmap_params p;
    labmap_params_default(&p);
    p.min_score = 0.5;
    struct labmap_result res;
    struct labmap_scored r[NGLU];
    /* "Glucose" alone: blood and serum tie lexically; urine specimen picks urine */
    struct labmap_query q = {"Glucose", "urine", NULL};
    labmap_rank(&q, GLU, NGLU, &p, r, &res);
    assert_string_equal(GLU[res.best].code, "2350-7");
    assert_int_equal(r[0].specimen, 1);
    assert_non_null(strstr(res.why, "specimen agrees"));
    /* a blood specimen and a molar unit: the moles/volume term */
    struct labmap_query q2 = {"Glucose", "blood", "mmol/L"};
    labmap_rank(&q2, GLU, NGLU, &p, r, &res);
    assert_string_equal(GLU[res.best].code, "15074-8");
    assert_int_equal(r[0].unit, 1);
    /* the urine term disagrees on specimen and gets the penalty */
    for (size_t i = 0; i < NGLU; i++)
        if (strcmp(GLU[r[i].cand].code, "2350-7") == 0)
            assert_int_equal(r[i].specimen, -1);
    /* an unknown unit is no evidence either way */
    struct labmap_query q3 = {"Glucose", NULL, "furlongs"};
    labmap_rank(&q3, GLU, NGLU, &p, r, &res);
    for (size_t i = 0; i < NGLU; i++)
        assert_int_equal(r[i].unit, 0);
}

static void test_rejections(void **state)
{
    (void)state;
    struct labmap_params p;
    labmap_params_default(&p);
    struct labmap_result res;
    /* garbage: high cosine (a model crowding its vectors) is not enough */
    struct labmap_candidate c[2] = {GLU[0], GLU[1]};
    c[0].cosine = 0.97f;
    c[1].cosine = 0.96f;
    struct labmap_query q = {"xqzzv blorf", NULL, NULL};
    assert_int_equal(labmap_rank(&q, c, 2, &p, NULL, &res), 0);
    assert_true(res.score < p.min_score);
    assert_non_null(strstr(res.why, "below the threshold"));
    /* two terms that fit equally: too close to call */
    struct labmap_candidate d[2] = {GLU[0], GLU[0]};
    d[1].code = "9999-9";
    struct labmap_query q2 = {"Glucose [Mass/volume] in Serum or Plasma", NULL, NULL};
    p.min_score = 0.5;
    assert_int_equal(labmap_rank(&q2, d, 2, &p, NULL, &res), 0);
    assert_true(res.margin < p.min_margin);
    assert_non_null(strstr(res.why, "margin"));
    /* tie order: the smaller code first */
    assert_string_equal(d[res.best].code, "2345-7");
    /* no candidates */
    assert_int_equal(labmap_rank(&q2, d, 0, &p, NULL, &res), 0);
    assert_int_equal(res.best, -1);
    /* the threshold is what decides: the same evidence under a stricter one */
    struct labmap_query q3 = {"Glucose [Mass/volume] in Urine", NULL, NULL};
    p.min_score = 0.99;
    assert_int_equal(labmap_rank(&q3, GLU, NGLU, &p, NULL, &res), 0);
    p.min_score = 0.80;
    assert_int_equal(labmap_rank(&q3, GLU, NGLU, &p, NULL, &res), 1);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct labmap_params p;
    labmap_params_default(&p);
    struct labmap_query q = {"Fasting Glucose Serum", "blood", "mg/dL"};
    struct labmap_result a, b;
    struct labmap_scored ra[NGLU], rb[NGLU];
    /* the same candidates in reverse order give the same ranking */
    struct labmap_candidate rev[NGLU];
    for (size_t i = 0; i < NGLU; i++)
        rev[i] = GLU[NGLU - 1 - i];
    labmap_rank(&q, GLU, NGLU, &p, ra, &a);
    labmap_rank(&q, rev, NGLU, &p, rb, &b);
    assert_string_equal(GLU[a.best].code, rev[b.best].code);
    assert_string_equal(GLU[a.best].code, "1558-6");
    for (size_t i = 0; i < NGLU; i++)
        assert_string_equal(GLU[ra[i].cand].code, rev[rb[i].cand].code);
    assert_true(a.score == b.score);
}

static void test_specimen_words(void **state)
{
    (void)state;
    assert_string_equal(labmap_specimen_words("blood"), "blood/serum/plasma");
    assert_string_equal(labmap_specimen_words("urine-24h"), "urine");
    assert_string_equal(labmap_specimen_words("csf"), "csf");
    assert_null(labmap_specimen_words("unstated"));
    assert_null(labmap_specimen_words("swab"));
    assert_null(labmap_specimen_words(NULL));
}

/* ---- the reranker's request and reply ---- */

static const struct llm_candidate OFFER[] = {
    {"2345-7", "Glucose [Mass/volume] in Serum or Plasma"},
    {"2339-0", "Glucose [Mass/volume] in Blood"},
};

static char *reply(const char *content)
{
    cJSON *root = cJSON_CreateObject(), *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *c = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(c, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(choices, c);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static enum llm_outcome parse(const char *content, long *picked, char *detail)
{
    char *s = reply(content);
    enum llm_outcome o = llm_parse_reply(s, strlen(s), OFFER, 2, picked, detail, 200);
    free(s);
    return o;
}

static void test_llm_request(void **state)
{
    (void)state;
    char *body = llm_build_request("o4-mini", "Blood \"sugar\"", "mg/dL", NULL, OFFER, 2);
    assert_non_null(body);
    cJSON *j = cJSON_Parse(body);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "o4-mini");
    cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    const char *user = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring;
    assert_non_null(strstr(user, "Blood \"sugar\""));
    assert_non_null(strstr(user, "1. LOINC: 2345-7 - Glucose [Mass/volume] in Serum or Plasma"));
    assert_non_null(strstr(user, "2. LOINC: 2339-0"));
    assert_non_null(strstr(user, "Report section: Not provided"));
    /* no temperature: o-series models take only the default */
    assert_null(cJSON_GetObjectItem(j, "temperature"));
    cJSON_Delete(j);
    free(body);
}

static void test_llm_reply(void **state)
{
    (void)state;
    long picked;
    char detail[200];
    assert_int_equal(parse("LOINC_CODE: 2339-0\nSOURCE: LOINC", &picked, detail),
                     LLM_OUTCOME_PICKED);
    assert_int_equal(picked, 1);
    assert_int_equal(parse("  LOINC_CODE:   2345-7  \r\n", &picked, detail), LLM_OUTCOME_PICKED);
    assert_int_equal(picked, 0);
    /* the last code line wins, as the original reads it */
    assert_int_equal(parse("LOINC_CODE: 2345-7\nLOINC_CODE: 2339-0", &picked, detail),
                     LLM_OUTCOME_PICKED);
    assert_int_equal(picked, 1);
    /* a code from the model's own knowledge is not accepted */
    assert_int_equal(parse("LOINC_CODE: 1989-3\nSOURCE: CHATGPT", &picked, detail),
                     LLM_OUTCOME_REJECTED);
    assert_int_equal(picked, -1);
    assert_non_null(strstr(detail, "1989-3"));
    assert_int_equal(parse("LOINC_CODE: NO_MATCH", &picked, detail), LLM_OUTCOME_NO_MATCH);
    assert_int_equal(parse("**LOINC_CODE:** 2345-7", &picked, detail), LLM_OUTCOME_REJECTED);
    assert_int_equal(parse("I think it is 2345-7", &picked, detail), LLM_OUTCOME_REJECTED);
    /* a prefix of a code is not the code */
    assert_int_equal(parse("LOINC_CODE: 2345", &picked, detail), LLM_OUTCOME_REJECTED);
    /* not a chat completion */
    const char *bad[] = {"", "{}", "[1]", "{\"choices\":[]}", "{\"choices\":[{\"message\":{}}]}",
                         "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(llm_parse_reply(bad[i], strlen(bad[i]), OFFER, 2, &picked, detail, 200),
                         LLM_OUTCOME_ERROR);
    /* the reranker off */
    struct llm_opts off = {NULL, "sk-x", "m", 1.0};
    assert_int_equal(llm_rerank_call(&off, "x", NULL, NULL, OFFER, 2, &picked, detail, 200),
                     LLM_OUTCOME_OFF);
    assert_string_equal(llm_outcome_name(LLM_OUTCOME_TIMEOUT), "timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexical),
        cmocka_unit_test(test_exact_name_accepted),
        cmocka_unit_test(test_specimen_and_unit),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_specimen_words),
        cmocka_unit_test(test_llm_request),
        cmocka_unit_test(test_llm_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
