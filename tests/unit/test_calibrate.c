/*
 * test_calibrate.c - the pure part of `mlworker loinc calibrate`
 * (ml/calibrate.h): the labelled list's parser, the threshold curve, the
 * pick of the lowest threshold meeting a target precision, and the printed
 * threshold value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/calibrate.h"

static int parse(const char *text, struct calib_labels *l, struct mlw_err *err)
{
    memset(err, 0, sizeof *err);
    return calib_parse(text, strlen(text), "lab.csv", l, err);
}

static void test_parse_csv(void **state)
{
    (void)state;
    struct calib_labels l;
    struct mlw_err err;
    const char *t = "# comment\r\n"
                    "Name,LOINC_CODE,specimen,unit\r\n"
                    "\r\n"
                    "\"Glucose [Mass/volume] in Serum, or   Plasma\",2345-7,Blood,mg/dL\r\n"
                    "  garbage   name  ,\n"
                    "Say \"\"hi\"\",  ,unstated,\n"
                    "\"a \"\"quoted\"\" word\" , 12345678-9 ,urine-24h";
    assert_int_equal(parse(t, &l, &err), MLW_OK);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.items[0].line, 4);
    assert_string_equal(l.items[0].name, "Glucose [Mass/volume] in Serum, or Plasma");
    assert_string_equal(l.items[0].expected, "2345-7");
    assert_string_equal(l.items[0].specimen, "blood");
    assert_string_equal(l.items[0].unit, "mg/dL");
    assert_int_equal(l.items[1].line, 5);
    assert_string_equal(l.items[1].name, "garbage name");
    assert_string_equal(l.items[1].expected, "");
    assert_null(l.items[1].specimen);
    assert_null(l.items[1].unit);
    /* quotes inside an unquoted field are kept as they are */
    assert_string_equal(l.items[2].name, "Say \"\"hi\"\"");
    assert_null(l.items[2].specimen); /* unstated */
    assert_string_equal(l.items[3].name, "a \"quoted\" word");
    assert_string_equal(l.items[3].expected, "12345678-9");
    assert_string_equal(l.items[3].specimen, "urine-24h");
    calib_labels_free(&l);

    /* TSV: commas belong to the name; no header */
    assert_int_equal(parse("Cholesterol, total\t2093-3\nHDL\t\tblood\tmg/dL\n", &l, &err), MLW_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0].name, "Cholesterol, total");
    assert_string_equal(l.items[0].expected, "2093-3");
    assert_string_equal(l.items[1].expected, "");
    assert_string_equal(l.items[1].unit, "mg/dL");
    calib_labels_free(&l);
}

static void expect_error(const char *text, const char *msg)
{
    struct calib_labels l;
    struct mlw_err err;
    assert_int_equal(parse(text, &l, &err), MLW_EFORMAT);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("'%s': got '%s', wanted '%s'", text, err.msg, msg);
    assert_null(l.items);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("a,2345-7\nonly a name\n", "lab.csv:2: expected name,loinc_code");
    expect_error("a,2345-7\n\n,2345-7\n", "lab.csv:3: empty name");
    expect_error("a,2345-7\nb,GLU\n", "lab.csv:2: the code is not a LOINC code");
    expect_error("a,2345-7\nb,2345-\n", "lab.csv:2: the code is not a LOINC code");
    expect_error("a,2345-77\n", "lab.csv:1: the code is not a LOINC code");
    expect_error("a,2345-7,plasma\n", "lab.csv:1: unknown specimen");
    expect_error("x,1-1\n\"a,2345-7\n", "lab.csv:2: unterminated quote");
    expect_error("\"a\"b,2345-7\n", "lab.csv:1: text after a closing quote");
    expect_error("a,2345-7,blood,mg/dL,extra\n", "lab.csv:1: more than 4 fields");
    expect_error("# nothing\n\nname,loinc_code\n", "lab.csv: no labelled names");
    expect_error("", "no labelled names");
}

/* 8 decisions: scores, margin, labelled, correct */
static const struct calib_item ITEMS[] = {
    {0.99, 1, 1, 1}, {0.95, 1, 1, 1}, {0.95, 1, 0, 0}, /* garbage accepted: wrong */
    {0.90, 1, 1, 0},                                   /* wrong code */
    {0.85, 1, 1, 1}, {0.97, 0, 1, 1},                  /* fails the margin rule: never accepted */
    {0.40, 0, 0, 0}, {0.80, 1, 1, 1},
};
#define NITEMS (sizeof ITEMS / sizeof ITEMS[0])

static void test_curve(void **state)
{
    (void)state;
    struct calib_item it[NITEMS];
    memcpy(it, ITEMS, sizeof it);
    struct calib_totals t;
    calib_totals(it, NITEMS, &t);
    assert_int_equal(t.names, 8);
    assert_int_equal(t.labelled, 6);
    assert_int_equal(t.passes_margin, 6);

    struct calib_row rows[NITEMS];
    size_t nr = calib_curve(it, NITEMS, rows);
    /* distinct accepted scores: 0.80 0.85 0.90 0.95 0.99 */
    assert_int_equal(nr, 5);
    const double th[] = {0.80, 0.85, 0.90, 0.95, 0.99};
    const size_t acc[] = {6, 5, 4, 3, 1}, cor[] = {4, 3, 2, 2, 1};
    for (size_t i = 0; i < nr; i++) {
        assert_true(rows[i].threshold == th[i]);
        assert_int_equal(rows[i].accepted, acc[i]);
        assert_int_equal(rows[i].correct, cor[i]);
        assert_int_equal(rows[i].wrong, acc[i] - cor[i]);
        assert_true(rows[i].precision == (double)cor[i] / (double)acc[i]);
        assert_true(rows[i].recall == (double)cor[i] / 6.0);
        assert_true(rows[i].coverage == (double)acc[i] / 8.0);
        /* calib_at agrees at every threshold */
        struct calib_row r;
        calib_at(ITEMS, NITEMS, th[i], &r);
        assert_int_equal(r.accepted, acc[i]);
        assert_int_equal(r.correct, cor[i]);
    }
    struct calib_row r;
    calib_at(ITEMS, NITEMS, 0.995, &r);
    assert_int_equal(r.accepted, 0);
    assert_true(r.precision < 0);

    /* lowest threshold with precision >= target */
    /* precision by threshold: 4/6 3/5 2/4 2/3 1/1 (not monotonic) */
    assert_int_equal(calib_pick(rows, nr, 0.98), 4);
    assert_int_equal(calib_pick(rows, nr, 0.7), 4);
    assert_int_equal(calib_pick(rows, nr, 0.66), 0);
    assert_int_equal(calib_pick(rows, nr, 0.5), 0);
    /* without the 0.80 decision, 0.95 is the lowest reaching 0.66 */
    struct calib_item it2[NITEMS - 1];
    memcpy(it2, ITEMS, sizeof it2);
    struct calib_row rows2[NITEMS];
    size_t nr2 = calib_curve(it2, NITEMS - 1, rows2);
    assert_int_equal(nr2, 4);
    assert_int_equal(calib_pick(rows2, nr2, 0.66), 2);
    assert_true(rows2[2].threshold == 0.95);
    assert_int_equal(calib_pick(rows, 0, 0.5), -1);

    /* nothing passes the margin rule: no rows, no pick */
    struct calib_item none[2] = {{0.9, 0, 1, 1}, {0.8, 0, 0, 0}};
    assert_int_equal(calib_curve(none, 2, rows), 0);
    /* every accept wrong: no pick */
    struct calib_item wrong[2] = {{0.9, 1, 1, 0}, {0.8, 1, 0, 0}};
    nr = calib_curve(wrong, 2, rows);
    assert_int_equal(nr, 2);
    assert_int_equal(calib_pick(rows, nr, 0.01), -1);
}

static void test_format(void **state)
{
    (void)state;
    char b[64];
    calib_format_threshold(0.979410231113434, 0.97729, b, sizeof b);
    assert_string_equal(b, "0.979");
    calib_format_threshold(0.9677312, 0.9677301, b, sizeof b);
    assert_string_equal(b, "0.967731");
    calib_format_threshold(0.85, -1.0, b, sizeof b);
    assert_string_equal(b, "0.85");
    calib_format_threshold(1.0, 0.5, b, sizeof b);
    assert_string_equal(b, "1.00");
    /* whatever it prints accepts t and rejects below */
    double t = 0.96773000000000001, below = 0.96772999999999990;
    calib_format_threshold(t, below, b, sizeof b);
    double v = strtod(b, NULL);
    assert_true(v <= t && v > below);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_csv),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
