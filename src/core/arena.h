/*
 * arena.h - bump allocator for per-unit-of-work memory.
 *
 * A pipeline allocates everything for one (user, date) group from an arena
 * and drops it all with arena_reset(): no per-object frees, no leaks on
 * error paths. Pointers stay valid until reset (blocks never move).
 */
#ifndef MLW_ARENA_H
#define MLW_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;  /* current block */
    struct arena_block *spare; /* blocks kept across resets */
    size_t block_size;
};

void arena_init(struct arena *a, size_t block_size);
void *arena_alloc(struct arena *a, size_t n);             /* 16-byte aligned; NULL on OOM */
void *arena_calloc(struct arena *a, size_t count, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);       /* NULL in, NULL out */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
