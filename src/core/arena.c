/* arena.c - see arena.h. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a, size_t block_size)
{
    a->head = a->spare = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct arena_block *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > a->block_size ? n : a->block_size;
        if (a->spare && a->spare->size >= size) {
            b = a->spare;
            a->spare = b->next;
        } else {
            if (size > SIZE_MAX - sizeof *b)
                return NULL;
            b = malloc(sizeof *b + size);
            if (b == NULL)
                return NULL;
            b->size = size;
        }
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *arena_calloc(struct arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

void arena_reset(struct arena *a)
{
    /* Keep standard-size blocks for reuse; give oversized ones back. */
    while (a->head) {
        struct arena_block *b = a->head;
        a->head = b->next;
        if (b->size == a->block_size) {
            b->next = a->spare;
            a->spare = b;
        } else {
            free(b);
        }
    }
}

void arena_free(struct arena *a)
{
    arena_reset(a);
    while (a->spare) {
        struct arena_block *b = a->spare;
        a->spare = b->next;
        free(b);
    }
}
