/*
 * cmd_report.h - `mlworker report`: one user's stored aggregates as a
 * self-contained HTML file (src/report/report.h renders it). Also used by
 * `mlworker demo` to end with a report.
 */
#ifndef MLW_CMD_REPORT_H
#define MLW_CMD_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "report/report.h"
#include "store/store.h"

struct report_request {
    int64_t user_id;
    int has_from, has_to;   /* else: the user's first / last day with aggregates */
    int32_t from, to;       /* mlw_day, inclusive; from <= to when both are given */
    const char *out_path;   /* written atomically (temporary file + rename) */
};

struct report_result {
    int32_t from, to;       /* the range reported */
    enum report_level level;
    size_t bytes;           /* size of the HTML file */
    double seconds;         /* reading the store + rendering + writing */
};

/* Read the user's aggregates and processing status from st, render, write.
 * Returns MLW_OK; MLW_ENOTFOUND when the database has no row of that user
 * (err says so); MLW_EDB / MLW_EIO / MLW_ENOMEM otherwise. */
int report_build_file(struct store *st, const struct report_request *rq,
                      struct report_result *res, struct mlw_err *err);

#endif
