/* verify.c - see verify.h; the walk is ops_run (recompute.c) in its
 * read-only mode. */
#include "ops/verify.h"

int ops_verify(struct store *st, const struct ops_opts *o, ops_diff_cb cb, void *ctx,
               struct ops_report *rep, struct mlw_err *err)
{
    return ops_run(st, o, OPS_MODE_VERIFY, cb, ctx, rep, err);
}
