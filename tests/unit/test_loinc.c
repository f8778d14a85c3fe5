/*
 * test_loinc.c - LOINC CSV reading and term selection, the embedding text,
 * specimen and unit agreement (ml/loinc.h), and the selection on the real
 * sample ../shared/data/loinc-sample.csv (MLW_SHARED_DATA).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/loinc.h"

static const char HEADER[] =
    "\"LOINC_NUM\",\"COMPONENT\",\"PROPERTY\",\"SYSTEM\",\"CLASSTYPE\",\"STATUS\","
    "\"LONG_COMMON_NAME\",\"RELATEDNAMES2\",\"EXAMPLE_UCUM_UNITS\"\n";

static int parse(const char *csv, const struct loinc_filter *f, struct loinc_table *t,
                 struct mlw_err *err)
{
    return loinc_table_parse(csv, strlen(csv), "test.csv", f, t, err);
}

static void test_csv(void **state)
{
    (void)state;
    char csv[2048];
    snprintf(csv, sizeof csv,
             "\xEF\xBB\xBF%s"
             "\"4548-4\",\"Hemoglobin A1c/Hemoglobin.total\",\"MFr\",\"Bld\",\"1\",\"ACTIVE\","
             "\"Hemoglobin A1c/Hemoglobin.total in Blood\",\"A1c; HbA1c; \"\"glycated\"\"\",\"%%\"\r\n"
             "2345-7,Glucose,MCnc,Ser/Plas,1,TRIAL,Glucose [Mass/volume] in Serum or Plasma,"
             "\"Gluc;\nmultiline\",mg/dL\n"
             "\n"
             "\"1-8\",\"Old\",\"MCnc\",\"Ser\",\"1\",\"DEPRECATED\",\"Old test\",\"\",\"\"\n"
             "\"9-9\",\"Survey\",\"Find\",\"^Patient\",\"4\",\"ACTIVE\",\"A survey\",\"\",\"\"\n"
             "\"7-7\",\"Disc\",\"SCnc\",\"Urine\",\"1\",\"discouraged\",\"Disc test\",\"\",\"\"",
             HEADER);
    struct loinc_table t;
    struct mlw_err err = {0};
    assert_int_equal(parse(csv, NULL, &t, &err), MLW_OK);
    assert_int_equal(t.rows, 5);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.skipped_class, 1);
    assert_int_equal(t.skipped_status, 2);
    assert_string_equal(t.terms[0].code, "4548-4");
    assert_string_equal(t.terms[0].related, "A1c; HbA1c; \"glycated\"");
    assert_string_equal(t.terms[0].units, "%");
    assert_string_equal(t.terms[0].method, ""); /* absent column */
    assert_string_equal(t.terms[1].code, "2345-7");
    assert_string_equal(t.terms[1].related, "Gluc;\nmultiline");
    assert_string_equal(t.terms[1].system, "Ser/Plas");

    char text[256];
    size_t n = loinc_term_text(&t.terms[1], text, sizeof text);
    assert_string_equal(text, "Glucose [Mass/volume] in Serum or Plasma; Glucose; Ser/Plas; "
                              "Gluc;\nmultiline");
    assert_int_equal(n, strlen(text));
    /* cut on a UTF-8 boundary */
    struct loinc_term u = t.terms[0];
    u.long_name = "Caf\xC3\xA9";
    u.component = "";
    u.system = "";
    u.related = "";
    assert_int_equal(loinc_term_text(&u, text, 5), 3);
    assert_string_equal(text, "Caf");
    assert_int_equal(loinc_term_text(&u, text, 6), 5);
    uint64_t key = loinc_table_key(&t);
    loinc_table_free(&t);

    struct loinc_filter all = {.all_classes = 1, .statuses = 0};
    assert_int_equal(loinc_status_parse("all", &all.statuses), 0);
    assert_int_equal(parse(csv, &all, &t, &err), MLW_OK);
    assert_int_equal(t.count, 5);
    assert_true(loinc_table_key(&t) != key);
    loinc_table_free(&t);
    struct loinc_filter lim = {.statuses = 0, .limit = 1};
    assert_int_equal(loinc_status_parse("active, Discouraged", &lim.statuses), 0);
    assert_int_equal(lim.statuses, LOINC_STATUS_ACTIVE | LOINC_STATUS_DISCOURAGED);
    assert_int_equal(parse(csv, &lim, &t, &err), MLW_OK);
    assert_int_equal(t.count, 1);
    loinc_table_free(&t);
    unsigned bits;
    assert_int_equal(loinc_status_parse("ACTIVE,retired", &bits), -1);
    assert_int_equal(loinc_status_parse("", &bits), -1);
}

static void expect_csv_error(const char *csv, const char *what)
{
    struct loinc_table t;
    struct mlw_err err = {0};
    int rc = parse(csv, NULL, &t, &err);
    if (rc == MLW_OK || strstr(err.msg, what) == NULL || strstr(err.msg, "test.csv") == NULL)
        fail_msg("expected \"%s\", got %d \"%s\"", what, rc, err.msg);
    assert_int_equal(t.count, 0);
    assert_null(t.terms);
}

static void test_csv_errors(void **state)
{
    (void)state;
    char csv[1024];
    expect_csv_error("", "empty file");
    expect_csv_error("LOINC_NUM,COMPONENT,SYSTEM\n1-8,A,Ser\n", "no LONG_COMMON_NAME column");
    snprintf(csv, sizeof csv, "%s\"1-8\",\"A\",\"MCnc\",\"Ser\",\"1\",\"ACTIVE\",\"x\",\"\"\n",
             HEADER);
    expect_csv_error(csv, "line 2: 8 fields, the header has 9");
    snprintf(csv, sizeof csv, "%s\"1-8\",\"A\",\"MCnc\",\"Ser\",\"1\",\"ACTIVE\",\"x\",\"\",\"\n",
             HEADER);
    expect_csv_error(csv, "line 2: unterminated quoted field");
    snprintf(csv, sizeof csv, "%s\"1-8\"x,\"A\",\"MCnc\",\"Ser\",\"1\",\"ACTIVE\",\"x\",\"\",\"\"\n",
             HEADER);
    expect_csv_error(csv, "after a quoted field");
    snprintf(csv, sizeof csv, "%s\"\",\"A\",\"MCnc\",\"Ser\",\"1\",\"ACTIVE\",\"x\",\"\",\"\"\n",
             HEADER);
    expect_csv_error(csv, "empty LOINC_NUM");
}

static void test_specimen(void **state)
{
    (void)state;
    struct {
        const char *system, *specimen;
        int want;
    } cases[] = {
        {"Urine", "urine", 1},        {"Urine sed", "urine", 1},   {"Ur", "Urine", 1},
        {"Ser/Plas", "serum", 1},     {"Ser/Plas", "plasma", 1},   {"Ser", "plasma", 0},
        {"Ser/Plas", "Ser/Plas", 1},  {"Bld", "blood", 1},         {"BldV", "blood", 1},
        {"Bld", "urine", 0},          {"CSF", "csf", 1},           {"Stool", "feces", 1},
        {"Ser/Plas/Bld", "blood", 1}, {"XXX", "urine", 0},         {"Urine", "", 1},
        {"RBC", "red blood cells", 1}, {"Plr fld", "pleural fluid", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (loinc_specimen_match(cases[i].system, cases[i].specimen) != cases[i].want)
            fail_msg("system %s specimen %s: want %d", cases[i].system, cases[i].specimen,
                     cases[i].want);
}

static void test_unit(void **state)
{
    (void)state;
    struct {
        const char *property, *example, *unit;
        int want, known;
    } cases[] = {
        {"MCnc", "", "mg/dL", 1, 1},     {"SCnc", "", "mg/dL", 0, 1},
        {"SCnc", "", "mmol/L", 1, 1},    {"MCnc", "", "mmol/L", 0, 1},
        {"MFr", "%", "%", 1, 1},         {"NFr", "", "%", 1, 1},
        {"CCnc", "", "U/L", 1, 1},       {"NCnc", "", "10*9/L", 1, 1},
        {"NCnc", "", "/uL", 1, 1},       {"MCnc", "", "µg/dL", 1, 1},
        {"MCnc", "", "mcg/mL", 1, 1},    {"MRat", "", "g/(24.h)", 1, 1},
        {"VRat", "", "mL/min", 1, 1},    {"SRto", "", "mmol/mol", 1, 1},
        {"MCnc", "", "furlongs", 1, 0},  {"Prid", "", "", 1, 1},
        {"Titr", "{titer}", "{titer}", 1, 1}, {"ACnc", "", "[IU]/mL", 1, 1},
        {"SCnt", "", "mmol/kg", 1, 1},   {"Vel", "", "cm/s", 1, 1},
        {"MCnc", "", "ng/mL", 1, 1},     {"Imp", "", "mg/dL", 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int known = -1;
        int got = loinc_unit_match(cases[i].property, cases[i].example, cases[i].unit, &known);
        if (got != cases[i].want || known != cases[i].known)
            fail_msg("property %s unit %s: got %d/%d want %d/%d", cases[i].property,
                     cases[i].unit, got, known, cases[i].want, cases[i].known);
    }
}

static void test_sample(void **state)
{
    (void)state;
    const char *dir = getenv("MLW_SHARED_DATA");
    char path[512];
    snprintf(path, sizeof path, "%s/loinc-sample.csv", dir ? dir : "../shared/data");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        print_message("skipped: %s not found\n", path);
        skip();
    }
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    struct loinc_table t;
    struct mlw_err err = {0};
    assert_int_equal(loinc_table_parse(buf, n, path, NULL, &t, &err), MLW_OK);
    /* README: 322 rows; CLASSTYPE 1: 311; DEPRECATED 7, DISCOURAGED 2 */
    assert_int_equal(t.rows, 322);
    assert_int_equal(t.skipped_class, 11);
    assert_int_equal(t.count + t.skipped_status, 311);
    for (size_t i = 0; i < t.count; i++) {
        assert_true(t.terms[i].code[0] != '\0');
        assert_true(t.terms[i].long_name[0] != '\0');
        assert_true(strcmp(t.terms[i].status, "DEPRECATED") != 0);
    }
    loinc_table_free(&t);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),      cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_specimen), cmocka_unit_test(test_unit),
        cmocka_unit_test(test_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
