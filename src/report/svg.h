/*
 * svg.h - chart primitives for the HTML report: a growable text buffer,
 * HTML/XML escaping, "nice" axis ticks and inline SVG charts.
 *
 * Pure computation: nothing here does I/O. A chart is built into its own
 * buffer (struct svg_chart) and then closed into the page with
 * svg_chart_end(), which writes the <svg> element with the chart's name and
 * the number of marks it drew:
 *
 *   <svg class="chart" data-chart="heart_rate" data-marks="31" ...>
 *
 * Every mark (a data point, a bar, a bar segment) is one element whose class
 * list starts with "mark", so a test can count them in the DOM. Decorations
 * (grid, axes, lines, bands) never carry the "mark" class.
 *
 * Coordinates: x and y are data values; the chart maps them linearly onto its
 * plot area. NaN means "no value" everywhere (skipped, or a gap in a line).
 *
 * Memory: a buffer that fails to grow stays at its last good content and
 * remembers the failure (sbuf.oom); check it once at the end.
 */
#ifndef MLW_SVG_H
#define MLW_SVG_H

#include <stddef.h>
#include <stdint.h>

struct sbuf {
    char *p;      /* NUL-terminated content (NULL until the first write) */
    size_t len;
    size_t cap;
    int oom;      /* 1 once an allocation failed; later writes are dropped */
};

void sbuf_free(struct sbuf *b);
void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s[0..n) escaped for HTML text and attribute values: & < > " ' become
 * entities, invalid UTF-8 and control characters other than tab and newline
 * become U+FFFD. At most max_chars code points are written (0 = no limit);
 * a cut string ends with "…". */
void svg_escape(struct sbuf *b, const char *s, size_t n, size_t max_chars);
/* The same for a NUL-terminated string (NULL writes nothing). */
void svg_escape_str(struct sbuf *b, const char *s, size_t max_chars);

/* Axis ticks: a step of 1, 2 or 5 times a power of ten such that about
 * `target` ticks cover [lo, hi]; first = the largest multiple of step <= lo,
 * last >= hi, count = ticks from first to last (2..SVG_MAX_TICKS+1).
 * lo == hi is widened around the value; non-finite input gives 0..1. */
#define SVG_MAX_TICKS 20
struct svg_ticks {
    double first;
    double step;
    int count;
};
void svg_nice_ticks(double lo, double hi, int target, struct svg_ticks *out);
/* Format a tick value with as many decimals as the step needs (<= 6). */
void svg_format_tick(double v, double step, char *out, size_t outsz);

/* A chart under construction. */
struct svg_chart {
    struct sbuf body;
    int width, height;                 /* pixels */
    double left, top, pw, ph;          /* plot area */
    double x0, x1, y0, y1;             /* data range mapped onto it */
    struct svg_ticks yt;
    size_t marks;
};

/* Start a chart of width x height pixels for x in [x0, x1] and y in
 * [ylo, yhi] (y is widened to nice ticks, and to include 0 when zero_base).
 * Returns 0, or -1 when the range is unusable (x1 <= x0 or non-finite). */
int svg_chart_begin(struct svg_chart *c, int width, int height, double x0, double x1, double ylo,
                    double yhi, int zero_base);
double svg_x(const struct svg_chart *c, double x);
double svg_y(const struct svg_chart *c, double y);

/* Grid lines and y tick labels; x labels at the given positions with the
 * given texts (escaped). */
void svg_axes(struct svg_chart *c, const double *xticks, const char *const *xlabels, size_t nx,
              const char *ylabel);
/* A polyline through the non-NaN points (gaps at NaN); decoration. */
void svg_line(struct svg_chart *c, const double *x, const double *y, size_t n, const char *cls);
/* A filled band between lo and hi (both non-NaN), split at gaps; decoration. */
void svg_band(struct svg_chart *c, const double *x, const double *lo, const double *hi, size_t n,
              const char *cls);
/* One circle per non-NaN point: marks with class "mark <cls>". */
void svg_points(struct svg_chart *c, const double *x, const double *y, size_t n, double r,
                const char *cls);
/* One bar per non-NaN, non-zero value, centred on x, bar_w data units wide,
 * from 0: marks. */
void svg_bars(struct svg_chart *c, const double *x, const double *y, size_t n, double bar_w,
              const char *cls);
/* Stacked bars: series[s][i] for s < nseries stacked in order; one mark per
 * segment with a positive value, class "mark <cls[s]>". */
void svg_stacked_bars(struct svg_chart *c, const double *x, const double *const *series,
                      size_t nseries, size_t n, double bar_w, const char *const *cls);
/* A horizontal band from lo to hi across the plot (NaN side = plot edge);
 * decoration. */
void svg_hrange(struct svg_chart *c, double lo, double hi, const char *cls);

/* Close the chart into out as one <svg> element named `name` (escaped),
 * with data-marks; frees the chart's buffer. `title` becomes its <title>. */
void svg_chart_end(struct svg_chart *c, struct sbuf *out, const char *name, const char *title);
/* Free a chart that will not be written. */
void svg_chart_discard(struct svg_chart *c);

/* A "no data" panel in place of a chart: an <svg> with data-marks="0" and
 * class "chart nodata" that says `message`. */
void svg_nodata(struct sbuf *out, const char *name, int width, int height, const char *message);

#endif
