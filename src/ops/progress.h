/*
 * progress.h - progress of a long operator command on stderr.
 *
 * On a terminal: one line redrawn in place (bar, rows done of total,
 * buckets, rate, ETA) at most ten times a second. Otherwise (logs, CI): a
 * plain line every few seconds, so a log file shows it is alive without
 * filling up.
 */
#ifndef MLW_OPS_PROGRESS_H
#define MLW_OPS_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct ops_progress {
    FILE *out;
    int tty;            /* out is a terminal: redraw in place */
    int quiet;          /* print nothing */
    const char *label;  /* "recompute", "verify" */
    int64_t total;      /* rows expected (0: unknown) */
    int64_t rows, buckets;
    double t0, last;
    int drawn;          /* a line is on screen (tty) */
};

/* Start: total rows (0 if unknown). quiet: print nothing. */
void ops_progress_init(struct ops_progress *p, FILE *out, const char *label, int64_t total,
                       int quiet);
/* Add work done; redraws when due. */
void ops_progress_add(struct ops_progress *p, int64_t rows, int64_t buckets);
/* Final line (tty: ends the redrawn line). */
void ops_progress_done(struct ops_progress *p);
/* Format "rows/s" of the whole run. */
double ops_progress_rate(const struct ops_progress *p);

#endif
