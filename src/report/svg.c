/*
 * svg.c - chart primitives for the HTML report (see svg.h).
 *
 * Everything writes text into a struct sbuf. Coordinates are written with
 * one decimal: charts are a few hundred pixels wide, so that is sub-pixel
 * and keeps a report with thousands of marks small.
 */
#include "report/svg.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable buffer ---- */

static int sbuf_reserve(struct sbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void sbuf_free(struct sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (sbuf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s) { sbuf_put(b, s, strlen(s)); }

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sbuf_put(b, small, (size_t)n);
        return;
    }
    if (sbuf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    else if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

void svg_escape(struct sbuf *b, const char *str, size_t n, size_t max_chars)
{
    static const char REPL[] = "\xef\xbf\xbd"; /* U+FFFD */
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, chars = 0, run = 0; /* run: start of plain bytes not yet copied */
    while (i < n) {
        if (max_chars && chars == max_chars) {
            sbuf_put(b, str + run, i - run);
            sbuf_puts(b, "\xe2\x80\xa6");
            return;
        }
        size_t len = utf8_seq(s + i, n - i);
        const char *rep = NULL;
        if (len == 0) {
            rep = REPL;
            len = 1;
        } else if (len == 1) {
            unsigned c = s[i];
            switch (c) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            case '\t': case '\n': break;
            default:
                if (c < 0x20 || c == 0x7F)
                    rep = REPL;
            }
        } else if (len == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0) {
            rep = REPL; /* C1 control characters */
        }
        if (rep) {
            sbuf_put(b, str + run, i - run);
            sbuf_puts(b, rep);
            run = i + len;
        }
        i += len;
        chars++;
    }
    sbuf_put(b, str + run, n - run);
}

void svg_escape_str(struct sbuf *b, const char *s, size_t max_chars)
{
    if (s)
        svg_escape(b, s, strlen(s), max_chars);
}

/* ---- ticks ---- */

static double clampd(double v, double lim) { return v > lim ? lim : v < -lim ? -lim : v; }

void svg_nice_ticks(double lo, double hi, int target, struct svg_ticks *out)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    lo = clampd(lo, 1e300);
    hi = clampd(hi, 1e300);
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo < fabs(hi) * 1e-12 || hi == lo) {
        double d = fabs(lo) * 0.1;
        if (d < 1e-300)
            d = 1;
        lo -= d;
        hi += d;
    }
    if (target < 2)
        target = 2;
    if (target > SVG_MAX_TICKS)
        target = SVG_MAX_TICKS;
    double rough = (hi - lo) / (target - 1);
    double mag = pow(10.0, floor(log10(rough)));
    double norm = rough / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    for (;;) {
        double first = floor(lo / step) * step;
        double last = ceil(hi / step) * step;
        double cnt = floor((last - first) / step + 0.5) + 1;
        if (cnt <= SVG_MAX_TICKS + 1 || !isfinite(cnt)) {
            out->first = first;
            out->step = step;
            out->count = cnt < 2 || !isfinite(cnt) ? 2 : (int)cnt;
            return;
        }
        step *= 2; /* only reached through rounding at extreme magnitudes */
    }
}

void svg_format_tick(double v, double step, char *out, size_t outsz)
{
    if (fabs(v) < step * 1e-9)
        v = 0; /* no "-0" or 1e-17 */
    if (fabs(v) >= 1e7 || (step < 1e-6 && v != 0)) {
        snprintf(out, outsz, "%.3g", v);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6)
        dec = 6;
    snprintf(out, outsz, "%.*f", dec, v);
}

/* ---- charts ---- */

enum { M_LEFT = 46, M_RIGHT = 10, M_TOP = 8, M_BOTTOM = 22 };

int svg_chart_begin(struct svg_chart *c, int width, int height, double x0, double x1, double ylo,
                    double yhi, int zero_base)
{
    memset(c, 0, sizeof *c);
    if (!isfinite(x0) || !isfinite(x1) || x1 <= x0 || width < M_LEFT + M_RIGHT + 10 ||
        height < M_TOP + M_BOTTOM + 10)
        return -1;
    if (!isfinite(ylo) || !isfinite(yhi)) {
        ylo = 0;
        yhi = 1;
    }
    if (zero_base) {
        if (ylo > 0)
            ylo = 0;
        if (yhi < 0)
            yhi = 0;
    }
    c->width = width;
    c->height = height;
    c->left = M_LEFT;
    c->top = M_TOP;
    c->pw = width - M_LEFT - M_RIGHT;
    c->ph = height - M_TOP - M_BOTTOM;
    c->x0 = x0;
    c->x1 = x1;
    svg_nice_ticks(ylo, yhi, 5, &c->yt);
    c->y0 = c->yt.first;
    c->y1 = c->yt.first + c->yt.step * (c->yt.count - 1);
    if (!(c->y1 > c->y0))
        c->y1 = c->y0 + 1;
    return 0;
}

double svg_x(const struct svg_chart *c, double x)
{
    double v = c->left + (x - c->x0) / (c->x1 - c->x0) * c->pw;
    return clampd(v, 1e6);
}

double svg_y(const struct svg_chart *c, double y)
{
    double v = c->top + c->ph - (y - c->y0) / (c->y1 - c->y0) * c->ph;
    return clampd(v, 1e6);
}

void svg_axes(struct svg_chart *c, const double *xticks, const char *const *xlabels, size_t nx,
              const char *ylabel)
{
    struct sbuf *b = &c->body;
    sbuf_puts(b, "<g class=\"grid\">");
    for (int i = 0; i < c->yt.count; i++) {
        double v = c->yt.first + c->yt.step * i;
        double y = svg_y(c, v);
        char lab[48];
        svg_format_tick(v, c->yt.step, lab, sizeof lab);
        sbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", c->left,
                    c->left + c->pw, y, y);
        sbuf_printf(b, "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>", c->left - 4, y + 3,
                    lab);
    }
    for (size_t i = 0; i < nx; i++) {
        double x = svg_x(c, xticks[i]);
        if (x < c->left - 0.5 || x > c->left + c->pw + 0.5)
            continue;
        sbuf_printf(b, "<line class=\"xt\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x, x,
                    c->top + c->ph, c->top + c->ph + 4);
        sbuf_printf(b, "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">", x, c->top + c->ph + 15);
        svg_escape_str(b, xlabels[i], 24);
        sbuf_puts(b, "</text>");
    }
    sbuf_puts(b, "</g>");
    if (ylabel && *ylabel) {
        sbuf_printf(b, "<text class=\"unit\" x=\"%.1f\" y=\"%.1f\">", c->left + 4, c->top + 10);
        svg_escape_str(b, ylabel, 40);
        sbuf_puts(b, "</text>");
    }
}

void svg_line(struct svg_chart *c, const double *x, const double *y, size_t n, const char *cls)
{
    struct sbuf *b = &c->body;
    int open = 0, pen = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i])) {
            pen = 0;
            continue;
        }
        if (!open) {
            sbuf_printf(b, "<path class=\"line %s\" d=\"", cls);
            open = 1;
        }
        sbuf_printf(b, "%c%.1f %.1f", pen ? 'L' : 'M', svg_x(c, x[i]), svg_y(c, y[i]));
        pen = 1;
    }
    if (open)
        sbuf_puts(b, "\"/>");
}

void svg_band(struct svg_chart *c, const double *x, const double *lo, const double *hi, size_t n,
              const char *cls)
{
    struct sbuf *b = &c->body;
    int open = 0;
    size_t i = 0;
    while (i < n) {
        if (isnan(x[i]) || isnan(lo[i]) || isnan(hi[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !isnan(x[j]) && !isnan(lo[j]) && !isnan(hi[j]))
            j++;
        if (!open) {
            sbuf_printf(b, "<path class=\"band %s\" d=\"", cls);
            open = 1;
        }
        for (size_t k = i; k < j; k++)
            sbuf_printf(b, "%c%.1f %.1f", k == i ? 'M' : 'L', svg_x(c, x[k]), svg_y(c, hi[k]));
        for (size_t k = j; k-- > i;)
            sbuf_printf(b, "L%.1f %.1f", svg_x(c, x[k]), svg_y(c, lo[k]));
        sbuf_puts(b, "Z");
        i = j;
    }
    if (open)
        sbuf_puts(b, "\"/>");
}

void svg_points(struct svg_chart *c, const double *x, const double *y, size_t n, double r,
                const char *cls)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i]))
            continue;
        sbuf_printf(&c->body, "<circle class=\"mark %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"/>",
                    cls, svg_x(c, x[i]), svg_y(c, y[i]), r);
        c->marks++;
    }
}

static void bar_rect(struct svg_chart *c, double x, double base, double top, double bar_w,
                     const char *cls)
{
    double xa = svg_x(c, x - bar_w / 2), xb = svg_x(c, x + bar_w / 2);
    double ya = svg_y(c, top), yb = svg_y(c, base);
    if (ya > yb) {
        double t = ya;
        ya = yb;
        yb = t;
    }
    double w = xb - xa, h = yb - ya;
    if (w < 1) {
        xa -= (1 - w) / 2;
        w = 1;
    }
    if (h < 0.5)
        h = 0.5;
    sbuf_printf(&c->body, "<rect class=\"mark %s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                cls, xa, ya, w, h);
    c->marks++;
}

void svg_bars(struct svg_chart *c, const double *x, const double *y, size_t n, double bar_w,
              const char *cls)
{
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && isfinite(y[i]) && y[i] != 0)
            bar_rect(c, x[i], 0, y[i], bar_w, cls);
}

void svg_stacked_bars(struct svg_chart *c, const double *x, const double *const *series,
                      size_t nseries, size_t n, double bar_w, const char *const *cls)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            continue;
        double base = 0;
        for (size_t s = 0; s < nseries; s++) {
            double v = series[s][i];
            if (!isfinite(v) || v <= 0)
                continue;
            bar_rect(c, x[i], base, base + v, bar_w, cls[s]);
            base += v;
        }
    }
}

void svg_hrange(struct svg_chart *c, double lo, double hi, const char *cls)
{
    double ya = isnan(hi) ? c->top : svg_y(c, hi);
    double yb = isnan(lo) ? c->top + c->ph : svg_y(c, lo);
    if (ya < c->top)
        ya = c->top;
    if (yb > c->top + c->ph)
        yb = c->top + c->ph;
    if (yb <= ya)
        return;
    sbuf_printf(&c->body, "<rect class=\"range %s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                cls, c->left, ya, c->pw, yb - ya);
}

static void svg_open(struct sbuf *out, const char *cls, const char *name, int width, int height,
                     size_t marks, const char *title)
{
    sbuf_printf(out, "<svg class=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" data-chart=\"",
                cls, width, height, width, height);
    svg_escape_str(out, name, 0);
    sbuf_printf(out, "\" data-marks=\"%zu\">", marks);
    if (title && *title) {
        sbuf_puts(out, "<title>");
        svg_escape_str(out, title, 200);
        sbuf_puts(out, "</title>");
    }
}

void svg_chart_end(struct svg_chart *c, struct sbuf *out, const char *name, const char *title)
{
    svg_open(out, "chart", name, c->width, c->height, c->marks, title);
    if (c->body.oom)
        out->oom = 1;
    else if (c->body.len)
        sbuf_put(out, c->body.p, c->body.len);
    sbuf_puts(out, "</svg>");
    sbuf_free(&c->body);
}

void svg_chart_discard(struct svg_chart *c) { sbuf_free(&c->body); }

void svg_nodata(struct sbuf *out, const char *name, int width, int height, const char *message)
{
    svg_open(out, "chart nodata", name, width, height, 0, message);
    sbuf_printf(out, "<rect class=\"nodata-bg\" x=\"1\" y=\"1\" width=\"%d\" height=\"%d\"/>",
                width - 2, height - 2);
    sbuf_printf(out, "<text class=\"nodata-text\" x=\"%d\" y=\"%d\">", width / 2, height / 2 + 4);
    svg_escape_str(out, message, 120);
    sbuf_puts(out, "</text></svg>");
}
