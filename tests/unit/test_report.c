/* test_report.c - the HTML report: escaping, ticks, marks per chart, no-data
 * panels and the size bound (src/report/svg.c, src/report/report.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "report/report.h"
#include "report/svg.h"

#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static char *esc(const char *s, size_t n, size_t max_chars)
{
    struct sbuf b = {0};
    svg_escape(&b, s, n, max_chars);
    sbuf_puts(&b, "");
    return b.p;
}

#define FFFD "\xef\xbf\xbd"

static void test_escape(void **state)
{
    (void)state;
    char *e = esc("<script>alert('x')&\"</script>", 29, 0);
    assert_string_equal(e, "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;");
    free(e);
    /* invalid UTF-8: a stray byte, a truncated sequence, an overlong '/', a surrogate */
    e = esc("a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e", 12, 0);
    assert_string_equal(e, "a" FFFD "b" FFFD "c" FFFD FFFD "d" FFFD FFFD FFFD "e");
    free(e);
    /* valid multi-byte kept; control characters and C1 controls replaced; NUL inside */
    e = esc("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x01\t\n\xc2\x85x\0y", 17, 0);
    assert_string_equal(e, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" FFFD "\t\n" FFFD "x" FFFD "y");
    free(e);
    /* a cut counts code points and ends with an ellipsis */
    e = esc("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, 2);
    assert_string_equal(e, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    free(e);
    e = esc("abc", 3, 3);
    assert_string_equal(e, "abc");
    free(e);
}

static void check_ticks(double lo, double hi, int target)
{
    struct svg_ticks t;
    svg_nice_ticks(lo, hi, target, &t);
    double last = t.first + t.step * (t.count - 1);
    assert_true(t.count >= 2 && t.count <= SVG_MAX_TICKS + 1);
    assert_true(t.step > 0);
    lo = fmax(lo, -1e300); /* svg_nice_ticks works within +-1e300 */
    hi = fmin(hi, 1e300);
    if (isfinite(lo) && isfinite(hi) && lo < hi) {
        assert_true(t.first <= lo + fabs(lo) * 1e-12);
        assert_true(last >= hi - fabs(hi) * 1e-12);
    }
    /* step is 1, 2 or 5 times a power of ten */
    double m = t.step / pow(10, floor(log10(t.step)));
    assert_true(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9 ||
                fabs(m - 10) < 1e-9);
}

static void test_ticks(void **state)
{
    (void)state;
    struct svg_ticks t;
    svg_nice_ticks(0, 97, 5, &t);
    assert_near(t.first, 0, 1e-12);
    assert_near(t.step, 20, 1e-12);
    assert_int_equal(t.count, 6);
    svg_nice_ticks(3.2, 3.8, 5, &t);
    assert_near(t.step, 0.1, 1e-12);
    assert_near(t.first, 3.2, 1e-9);
    assert_int_equal(t.count, 7);
    svg_nice_ticks(-5, 5, 5, &t);
    assert_near(t.step, 2, 1e-12);
    assert_near(t.first, -6, 1e-12);
    assert_int_equal(t.count, 7);
    svg_nice_ticks(7, 7, 5, &t); /* one value: widened around it */
    assert_true(t.first < 7 && t.first + t.step * (t.count - 1) > 7);
    svg_nice_ticks(NAN, 3, 5, &t);
    assert_near(t.first, 0, 1e-12);
    svg_nice_ticks(0, 0, 5, &t);
    assert_true(t.first < 0 && t.first + t.step * (t.count - 1) > 0);
    check_ticks(-1e308, 1e308, 5);
    check_ticks(1e-300, 2e-300, 5);
    check_ticks(60.5, 181.25, 5);
    check_ticks(9999, 10001, 5);
    unsigned s = 12345;
    for (int i = 0; i < 2000; i++) {
        s = s * 1103515245u + 12345u;
        double a = ((double)(s >> 8) / 16777216.0 - 0.5) * pow(10, (int)(s % 13) - 4);
        s = s * 1103515245u + 12345u;
        double b = a + (double)(s >> 8) / 16777216.0 * pow(10, (int)(s % 11) - 4);
        check_ticks(a, b, 2 + (int)(s % 8));
    }
    char buf[32];
    svg_format_tick(0.1 + 0.2, 0.1, buf, sizeof buf);
    assert_string_equal(buf, "0.3");
    svg_format_tick(-1e-17, 0.5, buf, sizeof buf);
    assert_string_equal(buf, "0.0"); /* no "-0.0" */
    svg_format_tick(120, 20, buf, sizeof buf);
    assert_string_equal(buf, "120");
    svg_format_tick(2.5e9, 5e8, buf, sizeof buf);
    assert_string_equal(buf, "2.5e+09");
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(report_pick_level(1), REPORT_DAILY);
    assert_int_equal(report_pick_level(400), REPORT_DAILY);
    assert_int_equal(report_pick_level(401), REPORT_WEEKLY);
    assert_int_equal(report_pick_level(1830), REPORT_WEEKLY);
    assert_int_equal(report_pick_level(1831), REPORT_MONTHLY);
    mlw_day d = mlw_days_from_civil(2026, 2, 18); /* a Wednesday */
    assert_int_equal(report_period_start(REPORT_WEEKLY, d), mlw_days_from_civil(2026, 2, 16));
    assert_int_equal(report_period_start(REPORT_MONTHLY, d), mlw_days_from_civil(2026, 2, 1));
    assert_int_equal(report_period_days(REPORT_MONTHLY, mlw_days_from_civil(2026, 2, 1)), 28);
    assert_int_equal(report_period_days(REPORT_WEEKLY, d), 7);
}

/* The <svg> element of chart `name` number `nth` (0-based) in html: its
 * data-marks and the number of elements whose class starts with "mark". */
static int chart_marks(const char *html, const char *name, int nth, long *declared, long *counted)
{
    char key[96];
    snprintf(key, sizeof key, "data-chart=\"%s\" data-marks=\"", name);
    const char *p = html;
    for (int i = 0;; i++) {
        p = strstr(p, key);
        if (p == NULL)
            return -1;
        if (i == nth)
            break;
        p += strlen(key);
    }
    *declared = strtol(p + strlen(key), NULL, 10);
    const char *end = strstr(p, "</svg>");
    assert_non_null(end);
    *counted = 0;
    for (const char *q = p; (q = strstr(q, "class=\"mark ")) != NULL && q < end; q++)
        (*counted)++;
    return 0;
}

static long marks_of(const char *html, const char *name, int nth)
{
    long declared = -1, counted = -2;
    assert_int_equal(chart_marks(html, name, nth, &declared, &counted), 0);
    assert_int_equal(declared, counted);
    return declared;
}

static size_t count_str(const char *html, const char *s)
{
    size_t n = 0;
    for (const char *q = html; (q = strstr(q, s)) != NULL; q += strlen(s))
        n++;
    return n;
}

static void series(struct report_series *s, int32_t day0, size_t n, double base, int with_band)
{
    s->p = calloc(n ? n : 1, sizeof *s->p);
    assert_non_null(s->p);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->p[i].day = day0 + (int32_t)i;
        s->p[i].v = base + (double)(i % 7);
        s->p[i].lo = with_band ? s->p[i].v - 10 : NAN;
        s->p[i].hi = with_band ? s->p[i].v + 12 : NAN;
    }
}

static const char *HOSTILE = "<script>alert(\"x\")</script> & 'q' \xff\xfe";

static void fill_small(struct report_data *d)
{
    int32_t day0 = mlw_days_from_civil(2026, 3, 1);
    d->user_id = 7;
    d->from = day0;
    d->to = day0 + 30;
    d->level = REPORT_DAILY;
    d->lab_level = REPORT_DAILY;
    series(&d->heart_rate, day0, 31, 60, 1);
    series(&d->steps, day0, 20, 5000, 0);
    d->steps.p[3].v = 0; /* a zero total draws no bar */
    series(&d->energy, day0, 31, 300, 0);
    series(&d->sleep, day0 + 1, 30, 6.5, 0);
    series(&d->weight, day0, 10, 70, 0);
    series(&d->bp_sys, day0, 12, 118, 0);
    series(&d->bp_dia, day0, 11, 76, 0);
    d->nmeals = 10;
    d->meals = calloc(10, sizeof *d->meals);
    assert_non_null(d->meals);
    for (int i = 0; i < 10; i++) {
        struct report_meal_point *m = &d->meals[i];
        m->day = day0 + i;
        m->kcal[MEAL_BREAKFAST] = 400;
        m->kcal[MEAL_LUNCH] = 600;
        m->kcal[MEAL_DINNER] = 700;
        m->kcal[MEAL_SNACK] = i % 2 ? 150 : 0; /* 5 snacks */
        m->protein_g = 80;
        m->carbs_g = 250;
        m->fat_g = i == 0 ? 0 : 70; /* 9 fat segments */
    }
    d->nlabs = 2;
    d->labs = calloc(2, sizeof *d->labs);
    assert_non_null(d->labs);
    d->labs[0].name = strdup("HbA1c");
    d->labs[0].unit = strdup("%");
    d->labs[0].range_lo = 4;
    d->labs[0].range_hi = 5.6;
    d->labs[0].n = 3;
    d->labs[0].p = calloc(3, sizeof *d->labs[0].p);
    for (int i = 0; i < 3; i++)
        d->labs[0].p[i] = (struct report_lab_point){day0 + 10 * i, 5.2 + 0.3 * i, LAB_FLAG_AMBER};
    d->labs[1].name = strdup(HOSTILE);
    d->labs[1].category = strdup(HOSTILE);
    d->labs[1].range_lo = NAN;
    d->labs[1].range_hi = NAN;
    d->labs[1].text_values = 2; /* text only: a no-data panel */
    d->status.have_labs = 1;
    d->status.pending[0] = 3;
    d->status.failed[1] = 2;
    d->status.nreasons = 2;
    d->status.reasons = calloc(2, sizeof *d->status.reasons);
    d->status.reasons[0] = (struct report_reason){DOMAIN_REPORT_VITALS, strdup(HOSTILE), 5};
    d->status.reasons[1] = (struct report_reason){DOMAIN_REPORT_NUTRITION, NULL, 1};
    d->status.other_reasons = 4;
    d->status.other_reason_rows = 9;
}

static void test_marks(void **state)
{
    (void)state;
    struct report_data d = {0};
    fill_small(&d);
    struct sbuf out = {0};
    struct mlw_err err = {0};
    assert_int_equal(report_render(&d, &out, &err), MLW_OK);
    const char *h = out.p;
    assert_int_equal(marks_of(h, "heart_rate", 0), 31);
    assert_int_equal(marks_of(h, "steps", 0), 19);
    assert_int_equal(marks_of(h, "energy", 0), 31);
    assert_int_equal(marks_of(h, "sleep", 0), 30);
    assert_int_equal(marks_of(h, "weight", 0), 10);
    assert_int_equal(marks_of(h, "blood_pressure", 0), 23);
    assert_int_equal(marks_of(h, "calories", 0), 35);
    assert_int_equal(marks_of(h, "macros", 0), 29);
    assert_int_equal(marks_of(h, "lab", 0), 3);
    assert_int_equal(marks_of(h, "lab", 1), 0); /* the text-only test */
    long a, b;
    assert_int_equal(chart_marks(h, "lab", 2, &a, &b), -1);
    assert_non_null(strstr(h, "class=\"band hr\""));
    assert_non_null(strstr(h, "class=\"range normal\""));
    assert_non_null(strstr(h, "id=\"macro-split\""));
    assert_non_null(strstr(h, "id=\"more-reasons\">4 more distinct reasons (9 rows)"));
    /* hostile text is escaped everywhere it appears */
    assert_null(strstr(h, "<script"));
    assert_null(strstr(h, "\xff"));
    assert_true(count_str(h, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; "
                             FFFD FFFD) >= 3);
    /* nothing external */
    assert_null(strstr(h, "http:"));
    assert_null(strstr(h, "https:"));
    assert_null(strstr(h, "src="));
    assert_null(strstr(h, "url("));
    assert_null(strstr(h, "@import"));
    sbuf_free(&out);
    report_data_free(&d);
    assert_null(d.labs);
}

static void test_nodata(void **state)
{
    (void)state;
    struct report_data d = {0};
    d.user_id = 3;
    d.from = d.to = mlw_days_from_civil(2026, 1, 1);
    struct sbuf out = {0};
    assert_int_equal(report_render(&d, &out, NULL), MLW_OK);
    static const char *const charts[] = {"heart_rate", "steps", "energy", "sleep", "weight",
                                         "blood_pressure", "calories", "macros", "lab"};
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++) {
        assert_int_equal(marks_of(out.p, charts[i], 0), 0);
    }
    assert_int_equal(count_str(out.p, "class=\"chart nodata\""), 9);
    assert_int_equal(count_str(out.p, "no data in this range"), 9 * 2); /* title + text */
    assert_non_null(strstr(out.p, "No failed rows."));
    sbuf_free(&out);
}

static void test_size_bound(void **state)
{
    (void)state;
    struct report_data d = {0};
    const size_t N = 1000000, M = 200000;
    d.user_id = 1;
    d.from = 0;
    d.to = (int32_t)N - 1;
    d.level = REPORT_DAILY; /* the worst case: a million days at one point per day */
    d.lab_level = REPORT_DAILY;
    series(&d.heart_rate, 0, N, 60, 1);
    series(&d.steps, 0, M, 4000, 0);
    series(&d.energy, 0, M, 300, 0);
    series(&d.sleep, 0, M, 7, 0);
    series(&d.weight, 0, M, 70, 0);
    series(&d.bp_sys, 0, M, 120, 0);
    series(&d.bp_dia, 0, M, 80, 0);
    d.nmeals = M;
    d.meals = calloc(M, sizeof *d.meals);
    assert_non_null(d.meals);
    for (size_t i = 0; i < M; i++) {
        d.meals[i].day = (int32_t)i;
        for (int k = 0; k < MEAL_N; k++)
            d.meals[i].kcal[k] = 100 + k;
        d.meals[i].protein_g = d.meals[i].carbs_g = d.meals[i].fat_g = 50;
    }
    d.nlabs = 500;
    d.labs = calloc(d.nlabs, sizeof *d.labs);
    assert_non_null(d.labs);
    for (size_t l = 0; l < d.nlabs; l++) {
        char name[64];
        snprintf(name, sizeof name, "test %zu <b>&", l);
        d.labs[l].name = strdup(name);
        d.labs[l].range_lo = 1;
        d.labs[l].range_hi = 2;
        d.labs[l].n = 5000;
        d.labs[l].p = calloc(5000, sizeof *d.labs[l].p);
        assert_non_null(d.labs[l].p);
        for (size_t i = 0; i < 5000; i++)
            d.labs[l].p[i] = (struct report_lab_point){(int32_t)(i * 199), 1.5, LAB_FLAG_GREEN};
    }
    struct sbuf out = {0};
    assert_int_equal(report_render(&d, &out, NULL), MLW_OK);
    print_message("huge synthetic report: %zu bytes\n", out.len);
    assert_true(out.len < 8u * 1024 * 1024);
    assert_true(marks_of(out.p, "heart_rate", 0) <= REPORT_MAX_POINTS);
    assert_true(marks_of(out.p, "heart_rate", 0) >= REPORT_MAX_POINTS / 2);
    assert_true(marks_of(out.p, "calories", 0) <= REPORT_MAX_POINTS * MEAL_N);
    assert_int_equal(count_str(out.p, "data-chart=\"lab\""), REPORT_MAX_LABS);
    assert_non_null(strstr(out.p, "id=\"labs-omitted\">440 more tests"));
    assert_non_null(strstr(out.p, "every 834th shown"));
    sbuf_free(&out);
    report_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),   cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_levels),   cmocka_unit_test(test_marks),
        cmocka_unit_test(test_nodata),   cmocka_unit_test(test_size_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
