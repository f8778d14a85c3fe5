/*
 * verify.h - `mlworker verify`: recompute in memory from the raw rows and
 * compare with what is stored (diff.h), writing nothing. Each user is read
 * in one snapshot (SQLite read transaction; PostgreSQL REPEATABLE READ,
 * READ ONLY), so workers committing meanwhile cause no false differences.
 */
#ifndef MLW_OPS_VERIFY_H
#define MLW_OPS_VERIFY_H

#include "ops/recompute.h"

/* Compare the selected domains and users; cb gets each difference. */
int ops_verify(struct store *st, const struct ops_opts *o, ops_diff_cb cb, void *ctx,
               struct ops_report *rep, struct mlw_err *err);

#endif
