/*
 * report.c - one user's aggregates as a self-contained HTML page (see
 * report.h). Pure: data structs in, HTML text out.
 */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

enum { MAIN_W = 580, MAIN_H = 210, LAB_W = 300, LAB_H = 150 };

static const char *const MEAL_NAMES[MEAL_N] = {"breakfast", "lunch", "dinner", "snack", "other"};
static const char *const DOMAIN_NAMES[DOMAIN_REPORT_N] = {"vitals", "nutrition", "labs"};

/* ---- periods ---- */

enum report_level report_pick_level(int64_t days)
{
    if (days > 1830)
        return REPORT_MONTHLY;
    if (days > 400)
        return REPORT_WEEKLY;
    return REPORT_DAILY;
}

int32_t report_period_start(enum report_level level, int32_t day)
{
    switch (level) {
    case REPORT_WEEKLY: return mlw_week_start(day);
    case REPORT_MONTHLY: return mlw_month_start(day);
    default: return day;
    }
}

int report_period_days(enum report_level level, int32_t start)
{
    switch (level) {
    case REPORT_WEEKLY: return 7;
    case REPORT_MONTHLY: return mlw_month_end(start) - start + 1;
    default: return 1;
    }
}

static const char *level_noun(enum report_level level)
{
    return level == REPORT_WEEKLY ? "week" : level == REPORT_MONTHLY ? "month" : "day";
}

/* ---- the shared x axis ---- */

struct xaxis {
    enum report_level level;
    double x0, x1;                /* days */
    double ticks[SVG_MAX_TICKS + 2];
    char labels[SVG_MAX_TICKS + 2][16];
    const char *lp[SVG_MAX_TICKS + 2];
    size_t n;
};

static void xaxis_init(struct xaxis *a, enum report_level level, int32_t from, int32_t to)
{
    memset(a, 0, sizeof *a);
    a->level = level;
    int32_t s0 = report_period_start(level, from), s1 = report_period_start(level, to);
    a->x0 = s0;
    a->x1 = (double)s1 + report_period_days(level, s1);
    double span = a->x1 - a->x0, per = span / 6;
    if (per <= 25) {
        /* every k days */
        int k = per <= 1 ? 1 : per <= 2 ? 2 : per <= 7 ? 7 : 14;
        for (double x = a->x0; x < a->x1 && a->n < 7; x += k) {
            a->ticks[a->n] = x;
            mlw_date_format((mlw_day)x, a->labels[a->n]);
            a->n++;
        }
    } else {
        /* every k months, at month starts */
        static const int steps[] = {1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200, 2400, 6000, 12000};
        double months = per / 30.44;
        int k = steps[sizeof steps / sizeof steps[0] - 1];
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            if (steps[i] >= months) {
                k = steps[i];
                break;
            }
        int y, m, d;
        mlw_civil_from_days((mlw_day)a->x0, &y, &m, &d);
        int64_t mi = (int64_t)y * 12 + (m - 1);
        mi = (mi + k - 1) / k * k;
        if (d > 1 && mi == (int64_t)y * 12 + (m - 1))
            mi += k;
        for (; a->n < SVG_MAX_TICKS; mi += k) {
            int ty = (int)(mi / 12), tm = (int)(mi % 12) + 1;
            if (ty > 9999)
                break;
            double x = mlw_days_from_civil(ty, tm, 1);
            if (x >= a->x1)
                break;
            a->ticks[a->n] = x;
            if (k >= 12)
                snprintf(a->labels[a->n], sizeof a->labels[a->n], "%04d", ty);
            else
                snprintf(a->labels[a->n], sizeof a->labels[a->n], "%04d-%02d", ty, tm);
            a->n++;
        }
    }
    for (size_t i = 0; i < a->n; i++)
        a->lp[i] = a->labels[i];
}

static double period_mid(enum report_level level, int32_t day)
{
    return day + report_period_days(level, day) / 2.0;
}

/* ---- thinning ---- */

static size_t thin_to(size_t n, size_t max) { return n > max ? (n + max - 1) / max : 1; }
static size_t thin_step(size_t n) { return thin_to(n, REPORT_MAX_POINTS); }

struct cols {
    double *x, *v, *lo, *hi;
    size_t n;
};

static int cols_from_series(const struct report_series *s, enum report_level level, struct cols *c)
{
    size_t k = thin_step(s->n), m = (s->n + k - 1) / k;
    memset(c, 0, sizeof *c);
    if (m == 0)
        return 0;
    double *all = malloc(sizeof(double) * 4 * m);
    if (all == NULL)
        return -1;
    c->x = all;
    c->v = all + m;
    c->lo = all + 2 * m;
    c->hi = all + 3 * m;
    for (size_t i = 0; i < s->n; i += k) {
        const struct report_point *p = &s->p[i];
        c->x[c->n] = period_mid(level, p->day);
        c->v[c->n] = isfinite(p->v) ? p->v : NAN;
        c->lo[c->n] = isfinite(p->lo) ? p->lo : NAN;
        c->hi[c->n] = isfinite(p->hi) ? p->hi : NAN;
        c->n++;
    }
    return 0;
}

static void cols_free(struct cols *c) { free(c->x); memset(c, 0, sizeof *c); }

static void minmax(const double *v, size_t n, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (isnan(*lo) || v[i] < *lo)
                *lo = v[i];
            if (isnan(*hi) || v[i] > *hi)
                *hi = v[i];
        }
}

static size_t count_finite(const double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += isfinite(v[i]) != 0;
    return k;
}

/* ---- page pieces ---- */

static void figure_open(struct sbuf *b, const char *caption, const char *detail)
{
    sbuf_puts(b, "<figure><figcaption>");
    svg_escape_str(b, caption, 0);
    if (detail && *detail) {
        sbuf_puts(b, " <span class=\"detail\">");
        svg_escape_str(b, detail, 0);
        sbuf_puts(b, "</span>");
    }
    sbuf_puts(b, "</figcaption>");
}

static void thinned_note(struct sbuf *b, size_t n, size_t k, enum report_level level)
{
    if (k > 1)
        sbuf_printf(b, "<p class=\"note\">%zu %ss: every %zu%s shown.</p>", n, level_noun(level),
                    k, k == 2 ? "nd" : k == 3 ? "rd" : "th");
}

static const char *NO_DATA = "no data in this range";

/* A line of points (optionally with a min-max band) or bars. */
enum series_kind { SK_POINTS, SK_BAND_POINTS, SK_BARS };

static void series_chart(struct sbuf *b, const struct xaxis *ax, const char *name,
                         const char *caption, const char *unit, const struct report_series *s,
                         enum series_kind kind, const char *cls)
{
    char detail[96];
    snprintf(detail, sizeof detail, "(%s, %zu %s%s with data)", unit, s->n, level_noun(ax->level),
             s->n == 1 ? "" : "s");
    figure_open(b, caption, s->n ? detail : NULL);
    struct cols c;
    if (cols_from_series(s, ax->level, &c)) {
        b->oom = 1;
        return;
    }
    size_t have = count_finite(c.v, c.n);
    struct svg_chart ch;
    double lo = NAN, hi = NAN;
    minmax(c.v, c.n, &lo, &hi);
    if (kind == SK_BAND_POINTS) {
        minmax(c.lo, c.n, &lo, &hi);
        minmax(c.hi, c.n, &lo, &hi);
    }
    if (have == 0 ||
        svg_chart_begin(&ch, MAIN_W, MAIN_H, ax->x0, ax->x1, lo, hi, kind == SK_BARS) != 0) {
        svg_nodata(b, name, MAIN_W, MAIN_H, NO_DATA);
    } else {
        svg_axes(&ch, ax->ticks, ax->lp, ax->n, unit);
        if (kind == SK_BAND_POINTS)
            svg_band(&ch, c.x, c.lo, c.hi, c.n, cls);
        if (kind == SK_BARS) {
            double w = report_period_days(ax->level, report_period_start(ax->level, (int32_t)ax->x0));
            svg_bars(&ch, c.x, c.v, c.n, w * 0.75 * (double)thin_step(s->n), cls);
        } else {
            svg_line(&ch, c.x, c.v, c.n, cls);
            svg_points(&ch, c.x, c.v, c.n, 2.2, cls);
        }
        svg_chart_end(&ch, b, name, caption);
    }
    thinned_note(b, s->n, thin_step(s->n), ax->level);
    sbuf_puts(b, "</figure>\n");
    cols_free(&c);
}

static void bp_chart(struct sbuf *b, const struct xaxis *ax, const struct report_data *d)
{
    const char *caption = "Blood pressure";
    char detail[96];
    snprintf(detail, sizeof detail, "(mmHg, systolic %zu / diastolic %zu %ss with data)",
             d->bp_sys.n, d->bp_dia.n, level_noun(ax->level));
    figure_open(b, caption, d->bp_sys.n + d->bp_dia.n ? detail : NULL);
    struct cols cs, cd;
    if (cols_from_series(&d->bp_sys, ax->level, &cs)) {
        b->oom = 1;
        return;
    }
    if (cols_from_series(&d->bp_dia, ax->level, &cd)) {
        cols_free(&cs);
        b->oom = 1;
        return;
    }
    double lo = NAN, hi = NAN;
    minmax(cs.v, cs.n, &lo, &hi);
    minmax(cd.v, cd.n, &lo, &hi);
    struct svg_chart ch;
    if (count_finite(cs.v, cs.n) + count_finite(cd.v, cd.n) == 0 ||
        svg_chart_begin(&ch, MAIN_W, MAIN_H, ax->x0, ax->x1, lo, hi, 0) != 0) {
        svg_nodata(b, "blood_pressure", MAIN_W, MAIN_H, NO_DATA);
    } else {
        svg_axes(&ch, ax->ticks, ax->lp, ax->n, "mmHg");
        svg_line(&ch, cs.x, cs.v, cs.n, "sys");
        svg_line(&ch, cd.x, cd.v, cd.n, "dia");
        svg_points(&ch, cs.x, cs.v, cs.n, 2.2, "sys");
        svg_points(&ch, cd.x, cd.v, cd.n, 2.2, "dia");
        svg_chart_end(&ch, b, "blood_pressure", caption);
    }
    sbuf_puts(b, "<p class=\"legend\"><span class=\"sw sys\"></span>systolic "
                 "<span class=\"sw dia\"></span>diastolic</p>");
    size_t nbp = d->bp_sys.n > d->bp_dia.n ? d->bp_sys.n : d->bp_dia.n;
    thinned_note(b, nbp, thin_step(nbp), ax->level);
    sbuf_puts(b, "</figure>\n");
    cols_free(&cs);
    cols_free(&cd);
}

static void legend(struct sbuf *b, const char *const *names, const char *const *cls, size_t n)
{
    sbuf_puts(b, "<p class=\"legend\">");
    for (size_t i = 0; i < n; i++)
        sbuf_printf(b, "<span class=\"sw %s\"></span>%s ", cls[i], names[i]);
    sbuf_puts(b, "</p>");
}

static void nutrition_charts(struct sbuf *b, const struct xaxis *ax, const struct report_data *d)
{
    size_t k = thin_step(d->nmeals), m = (d->nmeals + k - 1) / k;
    double *buf = m ? malloc(sizeof(double) * (MEAL_N + 4) * m) : NULL;
    if (m && buf == NULL) {
        b->oom = 1;
        return;
    }
    double *x = buf, *kc[MEAL_N], *mac[3];
    for (int s = 0; s < MEAL_N; s++)
        kc[s] = buf + (size_t)(1 + s) * m;
    for (int s = 0; s < 3; s++)
        mac[s] = buf + (size_t)(1 + MEAL_N + s) * m;
    double sum_p = 0, sum_c = 0, sum_f = 0, sum_kcal = 0, ylo = NAN, yhi = NAN, mlo = NAN,
           mhi = NAN;
    size_t n = 0;
    for (size_t i = 0; i < d->nmeals; i += k, n++) {
        const struct report_meal_point *p = &d->meals[i];
        double tot = 0, mt = 0;
        x[n] = period_mid(ax->level, p->day);
        for (int s = 0; s < MEAL_N; s++) {
            kc[s][n] = isfinite(p->kcal[s]) && p->kcal[s] > 0 ? p->kcal[s] : 0;
            tot += kc[s][n];
        }
        mac[0][n] = isfinite(p->protein_g) && p->protein_g > 0 ? p->protein_g : 0;
        mac[1][n] = isfinite(p->carbs_g) && p->carbs_g > 0 ? p->carbs_g : 0;
        mac[2][n] = isfinite(p->fat_g) && p->fat_g > 0 ? p->fat_g : 0;
        mt = mac[0][n] + mac[1][n] + mac[2][n];
        sum_p += mac[0][n];
        sum_c += mac[1][n];
        sum_f += mac[2][n];
        sum_kcal += tot;
        minmax(&tot, 1, &ylo, &yhi);
        minmax(&mt, 1, &mlo, &mhi);
    }
    double w = report_period_days(ax->level, report_period_start(ax->level, (int32_t)ax->x0)) *
               0.75 * (double)k;
    static const char *const MEAL_CLS[MEAL_N] = {"m-breakfast", "m-lunch", "m-dinner", "m-snack",
                                                 "m-other"};
    static const char *const MAC_CLS[3] = {"x-protein", "x-carbs", "x-fat"};
    static const char *const MAC_NAMES[3] = {"protein", "carbs", "fat"};
    const char *cap = "Calories per day by meal type";
    char detail[96];
    snprintf(detail, sizeof detail, "(kcal, %zu %s%s with data)", d->nmeals, level_noun(ax->level),
             d->nmeals == 1 ? "" : "s");
    figure_open(b, cap, d->nmeals ? detail : NULL);
    struct svg_chart ch;
    if (n == 0 || !(yhi > 0) || svg_chart_begin(&ch, MAIN_W, MAIN_H, ax->x0, ax->x1, 0, yhi, 1)) {
        svg_nodata(b, "calories", MAIN_W, MAIN_H, NO_DATA);
    } else {
        svg_axes(&ch, ax->ticks, ax->lp, ax->n, "kcal");
        svg_stacked_bars(&ch, x, (const double *const *)kc, MEAL_N, n, w, MEAL_CLS);
        svg_chart_end(&ch, b, "calories", cap);
        legend(b, MEAL_NAMES, MEAL_CLS, MEAL_N);
    }
    thinned_note(b, d->nmeals, k, ax->level);
    sbuf_puts(b, "</figure>\n");

    cap = "Macronutrients per day";
    snprintf(detail, sizeof detail, "(grams, %zu %s%s with data)", d->nmeals,
             level_noun(ax->level), d->nmeals == 1 ? "" : "s");
    figure_open(b, cap, d->nmeals ? detail : NULL);
    if (n == 0 || !(mhi > 0) || svg_chart_begin(&ch, MAIN_W, MAIN_H, ax->x0, ax->x1, 0, mhi, 1)) {
        svg_nodata(b, "macros", MAIN_W, MAIN_H, NO_DATA);
    } else {
        svg_axes(&ch, ax->ticks, ax->lp, ax->n, "g");
        svg_stacked_bars(&ch, x, (const double *const *)mac, 3, n, w, MAC_CLS);
        svg_chart_end(&ch, b, "macros", cap);
        legend(b, MAC_NAMES, MAC_CLS, 3);
        double ep = sum_p * 4, ec = sum_c * 4, ef = sum_f * 9, et = ep + ec + ef;
        if (et > 0)
            sbuf_printf(b, "<p class=\"note\" id=\"macro-split\">Energy from macronutrients: protein "
                           "%.0f%%, carbs %.0f%%, fat %.0f%% (4/4/9 kcal per g); mean %.0f kcal "
                           "per day.</p>",
                        100 * ep / et, 100 * ec / et, 100 * ef / et, sum_kcal / (double)n);
    }
    sbuf_puts(b, "</figure>\n");
    free(buf);
}

static void range_text(char *out, size_t sz, double lo, double hi)
{
    if (isfinite(lo) && isfinite(hi))
        snprintf(out, sz, "normal %g to %g", lo, hi);
    else if (isfinite(lo))
        snprintf(out, sz, "normal above %g", lo);
    else if (isfinite(hi))
        snprintf(out, sz, "normal below %g", hi);
    else
        snprintf(out, sz, "no normal range");
}

static void lab_chart(struct sbuf *b, const struct xaxis *ax, const struct report_lab *l)
{
    sbuf_puts(b, "<figure class=\"lab\" data-test=\"");
    svg_escape_str(b, l->name ? l->name : "(unnamed)", 120);
    sbuf_puts(b, "\"><figcaption>");
    svg_escape_str(b, l->name ? l->name : "(unnamed)", 80);
    sbuf_puts(b, " <span class=\"detail\">");
    if (l->category) {
        svg_escape_str(b, l->category, 60);
        sbuf_puts(b, " &middot; ");
    }
    if (l->loinc) {
        sbuf_puts(b, "LOINC ");
        svg_escape_str(b, l->loinc, 20);
        sbuf_puts(b, " &middot; ");
    }
    if (l->unit) {
        svg_escape_str(b, l->unit, 20);
        sbuf_puts(b, " &middot; ");
    }
    char rt[96];
    range_text(rt, sizeof rt, l->range_lo, l->range_hi);
    sbuf_puts(b, rt);
    sbuf_puts(b, "</span></figcaption>");

    size_t k = thin_to(l->n, REPORT_MAX_LAB_POINTS), m = (l->n + k - 1) / k, n = 0;
    double *buf = m ? malloc(sizeof(double) * 2 * m) : NULL;
    if (m && buf == NULL) {
        b->oom = 1;
        return;
    }
    double *x = buf, *y = buf + m, lo = NAN, hi = NAN;
    for (size_t i = 0; i < l->n; i += k, n++) {
        x[n] = period_mid(ax->level, l->p[i].day);
        y[n] = isfinite(l->p[i].v) ? l->p[i].v : NAN;
    }
    minmax(y, n, &lo, &hi);
    double bounds[2] = {l->range_lo, l->range_hi};
    minmax(bounds, 2, &lo, &hi); /* the normal range is always in view */
    struct svg_chart ch;
    if (count_finite(y, n) == 0 ||
        svg_chart_begin(&ch, LAB_W, LAB_H, ax->x0, ax->x1, lo, hi, 0) != 0) {
        svg_nodata(b, "lab", LAB_W, LAB_H, l->text_values ? "no numeric values" : NO_DATA);
    } else {
        /* ticks every other label: lab charts are narrow */
        double t[SVG_MAX_TICKS + 2];
        const char *tl[SVG_MAX_TICKS + 2];
        size_t nt = 0;
        for (size_t i = 0; i < ax->n; i += 2) {
            t[nt] = ax->ticks[i];
            tl[nt++] = ax->lp[i];
        }
        svg_axes(&ch, t, tl, nt, NULL);
        if (isfinite(l->range_lo) || isfinite(l->range_hi))
            svg_hrange(&ch, l->range_lo, l->range_hi, "normal");
        svg_line(&ch, x, y, n, "lab");
        for (size_t i = 0, j = 0; i < l->n; i += k, j++) {
            static const char *const FLAG_CLS[] = {"lab f-unknown", "lab f-green", "lab f-amber",
                                                   "lab f-red"};
            svg_points(&ch, &x[j], &y[j], 1, 3, FLAG_CLS[l->p[i].flag & 3]);
        }
        svg_chart_end(&ch, b, "lab", l->name);
    }
    if (l->text_values)
        sbuf_printf(b, "<p class=\"note\">%zu text value%s not charted.</p>", l->text_values,
                    l->text_values == 1 ? "" : "s");
    thinned_note(b, l->n, k, ax->level);
    sbuf_puts(b, "</figure>\n");
    free(buf);
}

static void status_section(struct sbuf *b, const struct report_status *s)
{
    sbuf_puts(b, "<section id=\"status\"><h2>Processing status</h2>"
                 "<p class=\"note\">Raw rows of this user, all dates.</p>"
                 "<table class=\"status\"><thead><tr><th>domain</th><th>pending</th>"
                 "<th>failed</th><th>insufficient</th></tr></thead><tbody>");
    for (int dm = 0; dm < DOMAIN_REPORT_N; dm++) {
        if (dm == DOMAIN_REPORT_LABS && !s->have_labs)
            continue;
        sbuf_printf(b, "<tr data-domain=\"%s\"><td>%s</td><td class=\"pending\">%lld</td>"
                       "<td class=\"failed\">%lld</td><td>",
                    DOMAIN_NAMES[dm], DOMAIN_NAMES[dm], (long long)s->pending[dm],
                    (long long)s->failed[dm]);
        if (dm == DOMAIN_REPORT_LABS)
            sbuf_printf(b, "%lld", (long long)s->insufficient);
        else
            sbuf_puts(b, "&ndash;");
        sbuf_puts(b, "</td></tr>");
    }
    sbuf_puts(b, "</tbody></table>");
    if (s->nreasons == 0) {
        sbuf_puts(b, "<p id=\"no-failures\">No failed rows.</p>");
    } else {
        sbuf_puts(b, "<h3>Why rows failed</h3><table class=\"reasons\"><thead><tr><th>domain</th>"
                     "<th>rows</th><th>reason</th></tr></thead><tbody>");
        for (size_t i = 0; i < s->nreasons; i++) {
            const struct report_reason *r = &s->reasons[i];
            sbuf_printf(b, "<tr class=\"reason\"><td>%s</td><td>%lld</td><td>",
                        DOMAIN_NAMES[r->domain % DOMAIN_REPORT_N], (long long)r->count);
            if (r->reason)
                svg_escape_str(b, r->reason, 300);
            else
                sbuf_puts(b, "<em>(no reason recorded)</em>");
            sbuf_puts(b, "</td></tr>");
        }
        sbuf_puts(b, "</tbody></table>");
        if (s->other_reasons > 0)
            sbuf_printf(b, "<p class=\"note\" id=\"more-reasons\">%lld more distinct reason%s "
                           "(%lld row%s) not listed.</p>",
                        (long long)s->other_reasons, s->other_reasons == 1 ? "" : "s",
                        (long long)s->other_reason_rows, s->other_reason_rows == 1 ? "" : "s");
    }
    sbuf_puts(b, "</section>\n");
}

static const char CSS[] =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em;"
    "border-bottom:1px solid #ddd}h3{font-size:1em}"
    ".meta{color:#555;margin:.2em 0}.grid{display:flex;flex-wrap:wrap;gap:14px}"
    "figure{margin:0;padding:6px;border:1px solid #e4e4e4;border-radius:6px}"
    "figcaption{font-weight:600;font-size:.9em;margin-bottom:4px;max-width:580px}"
    "figure.lab figcaption{max-width:300px;overflow-wrap:anywhere}"
    ".detail{font-weight:400;color:#666}.note{color:#666;font-size:.85em;margin:.3em 0;max-width:580px}"
    ".legend{font-size:.8em;margin:.2em 0}"
    ".sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 8px;border-radius:2px}"
    "svg.chart{display:block}svg text{font-size:10px;fill:#555}"
    ".grid line{stroke:#eee}.xt{stroke:#999}.yl{text-anchor:end}.xl{text-anchor:middle}"
    ".unit{font-size:10px;fill:#888}path.line{fill:none;stroke-width:1.5}"
    ".band{stroke:none;opacity:.25}"
    ".hr{fill:#d62828;stroke:#d62828}.band.hr{fill:#d62828}"
    ".steps{fill:#2a9d8f}.energy{fill:#f4a261}.sleep{fill:#5e60ce}"
    ".weight{fill:#6a994e;stroke:#6a994e}.sys,.sw.sys{fill:#c1121f;stroke:#c1121f;background:#c1121f}"
    ".dia,.sw.dia{fill:#669bbc;stroke:#669bbc;background:#669bbc}"
    ".m-breakfast{fill:#f4a261;background:#f4a261}.m-lunch{fill:#2a9d8f;background:#2a9d8f}"
    ".m-dinner{fill:#264653;background:#264653}.m-snack{fill:#e9c46a;background:#e9c46a}"
    ".m-other{fill:#adb5bd;background:#adb5bd}"
    ".x-protein{fill:#e76f51;background:#e76f51}.x-carbs{fill:#8ab17d;background:#8ab17d}"
    ".x-fat{fill:#f4d35e;background:#f4d35e}"
    ".range.normal{fill:#d8f3dc}path.line.lab{stroke:#777;stroke-width:1}"
    ".f-green{fill:#2d6a4f}.f-amber{fill:#e09f3e}.f-red{fill:#c1121f}.f-unknown{fill:#555}"
    ".nodata-bg{fill:#fafafa;stroke:#ddd;stroke-dasharray:4 3}"
    ".nodata-text{text-anchor:middle;font-size:13px;fill:#999}"
    "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;"
    "text-align:left;vertical-align:top}td{overflow-wrap:anywhere;max-width:60em}";

int report_render(const struct report_data *d, struct sbuf *out, struct mlw_err *err)
{
    struct xaxis ax, lax;
    xaxis_init(&ax, d->level, d->from, d->to);
    xaxis_init(&lax, d->lab_level, d->from, d->to);
    char from[MLW_DATE_LEN], to[MLW_DATE_LEN];
    mlw_date_format(d->from, from);
    mlw_date_format(d->to, to);

    sbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    sbuf_printf(out, "<title>Health report, user %lld</title><style>", (long long)d->user_id);
    sbuf_puts(out, CSS);
    sbuf_puts(out, "</style></head>\n<body>\n");
    sbuf_printf(out, "<h1>Health report for user %lld</h1>", (long long)d->user_id);
    sbuf_printf(out, "<p class=\"meta\" id=\"range\" data-from=\"%s\" data-to=\"%s\" "
                     "data-level=\"%s\">%s to %s &middot; one point per %s</p>",
                from, to, level_noun(d->level), from, to, level_noun(d->level));
    if (d->generated_at || d->source) {
        sbuf_puts(out, "<p class=\"meta\">");
        if (d->generated_at) {
            sbuf_puts(out, "Generated ");
            svg_escape_str(out, d->generated_at, 40);
            sbuf_puts(out, " UTC by mlworker from stored aggregates");
        }
        if (d->source) {
            sbuf_puts(out, " &middot; ");
            svg_escape_str(out, d->source, 200);
        }
        sbuf_puts(out, "</p>");
    }

    sbuf_puts(out, "\n<section id=\"vitals\"><h2>Vitals</h2><div class=\"grid\">\n");
    series_chart(out, &ax, "heart_rate", "Heart rate: mean with min-max band", "bpm",
                 &d->heart_rate, SK_BAND_POINTS, "hr");
    series_chart(out, &ax, "steps", "Steps per day", "steps", &d->steps, SK_BARS, "steps");
    series_chart(out, &ax, "energy", "Active energy per day", "kcal", &d->energy, SK_BARS,
                 "energy");
    series_chart(out, &ax, "sleep", "Sleep per night", "hours", &d->sleep, SK_BARS, "sleep");
    series_chart(out, &ax, "weight", "Weight", "kg", &d->weight, SK_POINTS, "weight");
    bp_chart(out, &ax, d);
    sbuf_puts(out, "</div></section>\n");

    sbuf_puts(out, "<section id=\"nutrition\"><h2>Nutrition</h2><div class=\"grid\">\n");
    nutrition_charts(out, &ax, d);
    sbuf_puts(out, "</div></section>\n");

    sbuf_printf(out, "<section id=\"labs\"><h2>Lab results</h2><p class=\"note\">One point per "
                     "%s (the %s mean); green band: the latest normal range.</p>",
                level_noun(d->lab_level), level_noun(d->lab_level));
    if (d->nlabs == 0) {
        sbuf_puts(out, "<div class=\"grid\"><figure class=\"lab\">");
        svg_nodata(out, "lab", LAB_W, LAB_H, NO_DATA);
        sbuf_puts(out, "</figure></div>");
    } else {
        sbuf_puts(out, "<div class=\"grid\">\n");
        for (size_t i = 0; i < d->nlabs && i < REPORT_MAX_LABS; i++)
            lab_chart(out, &lax, &d->labs[i]);
        sbuf_puts(out, "</div>");
        size_t omitted = d->labs_omitted + (d->nlabs > REPORT_MAX_LABS ? d->nlabs - REPORT_MAX_LABS : 0);
        if (omitted)
            sbuf_printf(out, "<p class=\"note\" id=\"labs-omitted\">%zu more test%s with fewer "
                             "results not charted.</p>",
                        omitted, omitted == 1 ? "" : "s");
    }
    sbuf_puts(out, "</section>\n");

    status_section(out, &d->status);
    sbuf_puts(out, "</body></html>\n");
    if (out->oom)
        return mlw_err_set(err, MLW_ENOMEM, "out of memory while writing the report");
    return MLW_OK;
}

static void series_free(struct report_series *s)
{
    free(s->p);
    s->p = NULL;
    s->n = 0;
}

void report_data_free(struct report_data *d)
{
    series_free(&d->heart_rate);
    series_free(&d->steps);
    series_free(&d->energy);
    series_free(&d->sleep);
    series_free(&d->weight);
    series_free(&d->bp_sys);
    series_free(&d->bp_dia);
    free(d->meals);
    d->meals = NULL;
    d->nmeals = 0;
    for (size_t i = 0; i < d->nlabs; i++) {
        struct report_lab *l = &d->labs[i];
        free(l->name);
        free(l->category);
        free(l->loinc);
        free(l->unit);
        free(l->p);
    }
    free(d->labs);
    d->labs = NULL;
    d->nlabs = 0;
    for (size_t i = 0; i < d->status.nreasons; i++)
        free(d->status.reasons[i].reason);
    free(d->status.reasons);
    d->status.reasons = NULL;
    d->status.nreasons = 0;
}
