/*
 * strset.h - small sorted sets of strings (data sources), and their JSON
 * text form as the contract writes it: ["a", "b"] sorted by code point
 * (bytewise for UTF-8), ", " between items. Memory comes from an arena.
 */
#ifndef MLW_STRSET_H
#define MLW_STRSET_H

#include <stddef.h>

#include "core/arena.h"

struct strset {
    const char **items; /* sorted, unique; strings are borrowed */
    size_t n, cap;
};

int strset_add(struct strset *s, struct arena *a, const char *item);     /* 0 or -1 (OOM) */
int strset_union(struct strset *s, struct arena *a, const struct strset *other);
/* JSON array text; NULL on OOM. An empty set gives "[]". */
char *strset_to_json(const struct strset *s, struct arena *a);
/* Parse a JSON array of strings (as written by any JSON encoder); items that
 * are not strings are ignored. Unparseable text gives an empty set (the
 * original ignores such values too). Returns -1 only on OOM. */
int strset_from_json(struct strset *s, struct arena *a, const char *json);

#endif
