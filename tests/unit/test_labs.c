/* Unit tests of the pure lab aggregation (domain/labs.c): value and range
 * parsing, number text, status flags, daily groups and period rollups. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/labs.h"

static void num_is(const char *s, double want)
{
    double v = -12345;
    if (!labs_parse_number(s, &v))
        fail_msg("'%s' should be the number %g", s, want);
    if (v != want)
        fail_msg("'%s' = %.17g, want %.17g", s, v, want);
}

static void not_num(const char *s)
{
    double v;
    if (labs_parse_number(s, &v))
        fail_msg("'%s' should not be a number (got %g)", s ? s : "(null)", v);
}

static void test_parse_number(void **state)
{
    (void)state;
    num_is("5", 5);
    num_is(" 5.40 ", 5.4);
    num_is("-3", -3);
    num_is("+2.5", 2.5);
    num_is(".5", 0.5);
    num_is("5.", 5);
    num_is("1e3", 1000);
    num_is("1.5E-2", 0.015);
    num_is("0", 0);
    num_is("1,50,000", 150000); /* Indian digit grouping */
    num_is("150,000", 150000);
    num_is("7,500", 7500);
    not_num("4,5");    /* a decimal comma is not guessed */
    not_num("1,2345");
    not_num("<5");     /* censored values are text */
    not_num("> 1000");
    not_num("5 mg/dL");
    not_num("1+");
    not_num("10^3/uL");
    not_num("Non-reactive (0.2)");
    not_num("NaN");
    not_num("nan");
    not_num("inf");
    not_num("-Infinity");
    not_num("1e309"); /* overflows to infinity */
    not_num("--");
    not_num("-");
    not_num(".");
    not_num("");
    not_num("   ");
    not_num(NULL);
    not_num("0x10");
    not_num("1_000");
    not_num("Negative");
    not_num("5 5");
}

static void range_is(const char *s, int has_lo, double lo, int has_hi, double hi)
{
    double l = -1, h = -1;
    int hl = -1, hh = -1;
    int ok = labs_parse_range(s, &l, &hl, &h, &hh);
    if (!ok || hl != has_lo || hh != has_hi || (has_lo && l != lo) || (has_hi && h != hi))
        fail_msg("range '%s' -> ok %d, lo %d:%g, hi %d:%g", s, ok, hl, l, hh, h);
}

static void no_range(const char *s)
{
    double l, h;
    int hl, hh;
    if (labs_parse_range(s, &l, &hl, &h, &hh))
        fail_msg("'%s' should not be a range", s ? s : "(null)");
    assert_int_equal(hl, 0);
    assert_int_equal(hh, 0);
}

static void test_parse_range(void **state)
{
    (void)state;
    range_is("70-110", 1, 70, 1, 110);
    range_is("70 - 110 mg/dL", 1, 70, 1, 110);
    range_is("3.5\xe2\x80\x93" "5.1", 1, 3.5, 1, 5.1); /* en dash */
    range_is("0.5 to 1.2", 1, 0.5, 1, 1.2);
    range_is("-3 - 5", 1, -3, 1, 5);
    range_is("-3-5", 1, -3, 1, 5);
    range_is(">= -3 to 5", 1, -3, 1, 5);
    range_is("(4.0-11.0) x10^3/uL", 1, 4, 1, 11);
    range_is("1,50,000 - 4,50,000", 1, 150000, 1, 450000);
    range_is("<5", 0, 0, 1, 5);
    range_is("< 200 mg/dL", 0, 0, 1, 200);
    range_is("<= 5", 0, 0, 1, 5);
    range_is("\xe2\x89\xa4 5", 0, 0, 1, 5);
    range_is("Up to 40", 0, 0, 1, 40);
    range_is("upto 40", 0, 0, 1, 40);
    range_is("Less than 1.0", 0, 0, 1, 1);
    range_is("> 60", 1, 60, 0, 0);
    range_is(">=60", 1, 60, 0, 0);
    range_is("More than 60", 1, 60, 0, 0);
    range_is("Above 0.5", 1, 0.5, 0, 0);
    range_is("<= -3", 0, 0, 1, -3);
    no_range("Negative");
    no_range("Non Reactive");
    no_range("10-5");      /* min above max */
    no_range("5 - -3");
    no_range("M: 13-17, F: 12-15");
    no_range("5");         /* one number is not a range */
    no_range("-");
    no_range("to 5");
    no_range("");
    no_range(NULL);
    no_range("1e400 - 2");
}

static void fmt_is(double v, const char *want)
{
    char out[LABS_NUM_LEN];
    labs_format_number(v, out);
    if (strcmp(out, want) != 0)
        fail_msg("%.17g formats as '%s', want '%s'", v, out, want);
}

/* Python's repr() of the same doubles. */
static void test_format_number(void **state)
{
    (void)state;
    fmt_is(5, "5.0");
    fmt_is(0.1, "0.1");
    fmt_is(1.0 / 3.0, "0.3333333333333333");
    fmt_is(0.1 + 0.2, "0.30000000000000004");
    fmt_is(1e-5, "1e-05");
    fmt_is(0.0001, "0.0001");
    fmt_is(1.5e-7, "1.5e-07");
    fmt_is(1e16, "1e+16");
    fmt_is(1e15, "1000000000000000.0");
    fmt_is(123456789.123, "123456789.123");
    fmt_is(-2.5, "-2.5");
    fmt_is(0.0, "0.0");
    fmt_is(-0.0, "-0.0");
    fmt_is(2.5e100, "2.5e+100");
    fmt_is(5e-324, "5e-324");
    fmt_is(1.7976931348623157e308, "1.7976931348623157e+308");
    fmt_is(150000, "150000.0");
    fmt_is(6.1, "6.1");
    fmt_is(40, "40.0");
}

static void test_status_flag(void **state)
{
    (void)state;
    assert_int_equal(labs_status_flag("Normal"), LABS_FLAG_GREEN);
    assert_int_equal(labs_status_flag(" green "), LABS_FLAG_GREEN);
    assert_int_equal(labs_status_flag("HIGH"), LABS_FLAG_AMBER);
    assert_int_equal(labs_status_flag("Low"), LABS_FLAG_AMBER);
    assert_int_equal(labs_status_flag("Abnormal"), LABS_FLAG_AMBER);
    assert_int_equal(labs_status_flag("Critical"), LABS_FLAG_RED);
    assert_int_equal(labs_status_flag("red"), LABS_FLAG_RED);
    assert_int_equal(labs_status_flag("see note"), LABS_FLAG_UNKNOWN);
    assert_int_equal(labs_status_flag(""), LABS_FLAG_UNKNOWN);
    assert_int_equal(labs_status_flag(NULL), LABS_FLAG_UNKNOWN);
    assert_string_equal(labs_flag_name(LABS_FLAG_UNKNOWN), "amber");
    assert_string_equal(labs_flag_name(LABS_FLAG_RED), "red");
}

static struct lab_row row(int64_t id, const char *code, const char *value, const char *unit,
                          const char *range, const char *status)
{
    return (struct lab_row){id, "Liver Function Tests (LFT)", "1742-6", code, "ALT", value,
                            unit, range, status};
}

static const struct lab_agg *find(const struct lab_agg *g, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].code, code) == 0)
            return &g[i];
    fail_msg("no group %s", code);
    return NULL;
}

static void test_daily_numeric(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 4096);
    struct lab_row rows[] = {
        row(3, "ALT", "45", "U/L", "0-40", "High"),
        row(1, "ALT", " 35 ", "U/L", "7 - 56", "Normal"),
        row(2, "ALT", "40", NULL, "garbage", NULL),
    };
    struct lab_agg *g;
    size_t n;
    assert_int_equal(labs_daily(rows, 3, &a, &g, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(g[0].avg, "40.0");
    assert_string_equal(g[0].min, "35.0");
    assert_string_equal(g[0].max, "45.0");
    assert_int_equal(g[0].count, 3);
    assert_string_equal(g[0].unit, "U/L");            /* latest row (id 3) with a unit */
    assert_true(g[0].has_rmin && g[0].has_rmax);       /* latest row whose range parses: id 3 */
    assert_true(g[0].rmin == 0 && g[0].rmax == 40);
    assert_int_equal(g[0].status, LABS_FLAG_AMBER);    /* High beats Normal */
    arena_free(&a);
}

static void test_daily_text(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 4096);
    struct lab_row rows[] = {
        row(5, "UGLU", "Trace", NULL, NULL, NULL),
        row(4, "UGLU", "Negative", NULL, NULL, "Normal"),
        row(6, "UGLU", "Negative", NULL, NULL, "Critical"),
        row(7, "CREA", "<0.5", "mg/dL", NULL, NULL),
        row(8, "CREA", "0.9", "mg/dL", NULL, NULL),
        row(9, "ONE", "Positive", NULL, NULL, NULL),
        row(10, "SAME", "Nil", NULL, NULL, NULL),
        row(11, "SAME", "Nil", NULL, NULL, NULL),
    };
    struct lab_agg *g;
    size_t n;
    assert_int_equal(labs_daily(rows, 8, &a, &g, &n), 0);
    assert_int_equal(n, 4);
    const struct lab_agg *u = find(g, n, "UGLU");
    assert_string_equal(u->avg, "Negative, Trace"); /* first appearance by id */
    assert_string_equal(u->min, "Trace");           /* shortest */
    assert_string_equal(u->max, "Negative");        /* longest */
    assert_int_equal(u->count, 3);
    assert_null(u->unit);
    assert_int_equal(u->has_rmin | u->has_rmax, 0);
    assert_int_equal(u->status, LABS_FLAG_RED);
    const struct lab_agg *c = find(g, n, "CREA");
    assert_string_equal(c->avg, "<0.5, 0.9");       /* '<0.5' is not a number */
    assert_string_equal(c->min, "0.9");
    assert_string_equal(c->max, "<0.5");
    const struct lab_agg *o = find(g, n, "ONE");
    assert_string_equal(o->avg, "Positive");
    assert_string_equal(o->min, "Positive");
    assert_int_equal(o->status, LABS_FLAG_AMBER);   /* no status known: amber */
    const struct lab_agg *s = find(g, n, "SAME");
    assert_string_equal(s->avg, "Nil");
    assert_string_equal(s->max, "Nil");
    assert_int_equal(s->count, 2);
    arena_free(&a);
}

/* Tests without LOINC codes are never merged: the group is the test code. */
static void test_daily_unknown_not_merged(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 4096);
    struct lab_row rows[] = {
        {1, "Others", "UNKNOWN", "WIDGETASE", "Widgetase", "5", NULL, NULL, NULL},
        {2, "Others", "UNKNOWN", "FROBNICASE", "Frobnicase", "7", NULL, NULL, NULL},
        {3, "Others", "UNKNOWN", "WIDGETASE", "Widgetase", "7", NULL, NULL, NULL},
    };
    struct lab_agg *g;
    size_t n;
    assert_int_equal(labs_daily(rows, 3, &a, &g, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(find(g, n, "WIDGETASE")->avg, "6.0");
    assert_string_equal(find(g, n, "FROBNICASE")->avg, "7.0");
    arena_free(&a);
}

static void test_daily_clip(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 4096);
    char v1[80], v2[80];
    memset(v1, 'a', 70);
    v1[70] = '\0';
    /* 39 two-byte characters: the clip of "v1, v2" (111 characters) must not split one */
    for (int i = 0; i < 39; i++) {
        v2[2 * i] = '\xc3';
        v2[2 * i + 1] = '\xa9';
    }
    v2[78] = '\0';
    struct lab_row rows[] = {row(1, "X", v1, NULL, NULL, NULL), row(2, "X", v2, NULL, NULL, NULL)};
    struct lab_agg *g;
    size_t n;
    assert_int_equal(labs_daily(rows, 2, &a, &g, &n), 0);
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)g[0].avg; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    assert_int_equal(chars, LABS_TEXT_MAX);
    size_t len = strlen(g[0].avg);
    assert_true((unsigned char)g[0].avg[len - 1] == 0xA9); /* ends on a whole character */
    assert_string_equal(g[0].min, v2);                      /* 39 characters, not 78 bytes */
    assert_string_equal(g[0].max, v1);
    arena_free(&a);
}

static struct lab_agg agg(int32_t order, const char *code, const char *avg, const char *min,
                          const char *max, int64_t count, const char *unit, int has_r, double lo,
                          double hi, enum labs_flag st)
{
    return (struct lab_agg){"Diabetes Panel", "4548-4", code, "HbA1c", avg, min, max, count, unit,
                            has_r, has_r, lo, hi, st, order};
}

static void test_rollup(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 4096);
    struct lab_agg in[] = {
        agg(20, "A", "6.0", "5.0", "7.0", 2, "%", 1, 4, 5.6, LABS_FLAG_GREEN),
        agg(10, "A", "7.0", "7.0", "7.0", 1, "", 1, 4, 6.0, LABS_FLAG_AMBER),
        agg(30, "A", "8.0", "8.0", "9.5", 3, NULL, 0, 0, 0, LABS_FLAG_GREEN),
        agg(10, "T", "Negative", "Negative", "Negative", 1, NULL, 0, 0, 0, LABS_FLAG_AMBER),
        agg(20, "T", "Negative, Trace", "Trace", "Negative", 2, NULL, 0, 0, 0, LABS_FLAG_RED),
        agg(15, "T", "5.0", "5.0", "5.0", 1, NULL, 0, 0, 0, LABS_FLAG_GREEN),
    };
    struct lab_agg *g;
    size_t n;
    assert_int_equal(labs_rollup(in, 6, 99, &a, &g, &n), 0);
    assert_int_equal(n, 2);
    const struct lab_agg *x = find(g, n, "A");
    assert_string_equal(x->avg, "7.0");  /* mean of the three averages (counts ignored) */
    assert_string_equal(x->min, "5.0");
    assert_string_equal(x->max, "9.5");
    assert_int_equal(x->count, 6);
    assert_string_equal(x->unit, "%");   /* latest row with a unit (order 20) */
    assert_true(x->has_rmin && x->rmin == 4 && x->rmax == 5.8); /* rows with both bounds */
    assert_int_equal(x->status, LABS_FLAG_AMBER);
    assert_int_equal(x->order, 99);
    const struct lab_agg *t = find(g, n, "T");
    assert_string_equal(t->avg, "Negative, 5.0, Negative, Trace"); /* in period order */
    assert_string_equal(t->min, "Negative, 5.0, Trace");
    assert_string_equal(t->max, "Negative, 5.0");
    assert_int_equal(t->count, 4);
    assert_int_equal(t->status, LABS_FLAG_RED);
    assert_int_equal(t->has_rmin | t->has_rmax, 0);
    arena_free(&a);
}

static void test_empty(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 4096);
    struct lab_agg *g = (struct lab_agg *)&a;
    size_t n = 7;
    assert_int_equal(labs_daily(NULL, 0, &a, &g, &n), 0);
    assert_int_equal(n, 0);
    assert_null(g);
    assert_int_equal(labs_rollup(NULL, 0, 1, &a, &g, &n), 0);
    assert_int_equal(n, 0);
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_number),  cmocka_unit_test(test_parse_range),
        cmocka_unit_test(test_format_number), cmocka_unit_test(test_status_flag),
        cmocka_unit_test(test_daily_numeric), cmocka_unit_test(test_daily_text),
        cmocka_unit_test(test_daily_unknown_not_merged), cmocka_unit_test(test_daily_clip),
        cmocka_unit_test(test_rollup),        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
