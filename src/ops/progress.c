/* progress.c - see progress.h. */
#include "ops/progress.h"

#include <unistd.h>

#include "core/timeutil.h"

#define TTY_INTERVAL 0.1
#define LOG_INTERVAL 5.0

void ops_progress_init(struct ops_progress *p, FILE *out, const char *label, int64_t total,
                       int quiet)
{
    p->out = out;
    p->tty = isatty(fileno(out));
    p->quiet = quiet;
    p->label = label;
    p->total = total;
    p->rows = p->buckets = 0;
    p->t0 = p->last = mlw_monotonic();
    p->drawn = 0;
}

double ops_progress_rate(const struct ops_progress *p)
{
    double s = mlw_monotonic() - p->t0;
    return s > 0 ? (double)p->rows / s : 0;
}

static void draw(struct ops_progress *p, int final)
{
    double el = mlw_monotonic() - p->t0, rate = el > 0 ? (double)p->rows / el : 0;
    double frac = p->total > 0 ? (double)p->rows / (double)p->total : 0;
    if (frac > 1)
        frac = 1;
    char eta[32] = "--";
    if (!final && rate > 0 && p->total > p->rows)
        snprintf(eta, sizeof eta, "%.0fs", (double)(p->total - p->rows) / rate);
    else if (final)
        snprintf(eta, sizeof eta, "done in %.1fs", el);
    if (p->tty) {
        char bar[31];
        int full = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < full ? '#' : '.';
        bar[30] = '\0';
        fprintf(p->out, "\r%s [%s] %3.0f%% %lld/%lld rows, %lld buckets, %.0f rows/s, ETA %s\033[K",
                p->label, bar, frac * 100, (long long)p->rows, (long long)p->total,
                (long long)p->buckets, rate, eta);
        if (final)
            fputc('\n', p->out);
        p->drawn = !final;
    } else {
        fprintf(p->out, "%s: %lld/%lld rows (%.0f%%), %lld buckets, %.0f rows/s, ETA %s\n",
                p->label, (long long)p->rows, (long long)p->total, frac * 100,
                (long long)p->buckets, rate, eta);
    }
    fflush(p->out);
}

void ops_progress_add(struct ops_progress *p, int64_t rows, int64_t buckets)
{
    p->rows += rows;
    p->buckets += buckets;
    if (p->quiet)
        return;
    double now = mlw_monotonic();
    if (now - p->last >= (p->tty ? TTY_INTERVAL : LOG_INTERVAL)) {
        p->last = now;
        draw(p, 0);
    }
}

void ops_progress_done(struct ops_progress *p)
{
    if (!p->quiet)
        draw(p, 1);
}
