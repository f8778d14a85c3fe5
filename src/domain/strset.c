/* strset.c - see strset.h. */
#include "domain/strset.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int strset_add(struct strset *s, struct arena *a, const char *item)
{
    if (item == NULL)
        return 0;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->items[mid], item);
        if (c == 0)
            return 0;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        const char **items = arena_alloc(a, cap * sizeof *items);
        if (items == NULL)
            return -1;
        if (s->n)
            memcpy(items, s->items, s->n * sizeof *items);
        s->items = items;
        s->cap = cap;
    }
    memmove(s->items + lo + 1, s->items + lo, (s->n - lo) * sizeof *s->items);
    s->items[lo] = item;
    s->n++;
    return 0;
}

int strset_union(struct strset *s, struct arena *a, const struct strset *other)
{
    for (size_t i = 0; i < other->n; i++)
        if (strset_add(s, a, other->items[i]))
            return -1;
    return 0;
}

/* Escapes like Python's json.dumps with ensure_ascii=False would not; we
 * keep ensure_ascii=True semantics (the original's default): non-ASCII as
 * \uXXXX (UTF-16 surrogate pairs above the BMP). Invalid UTF-8 bytes become
 * U+FFFD so the output is always valid JSON. */
static size_t utf8_decode(const unsigned char *p, size_t left, unsigned *cp)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80) { *cp = c; return 1; }
    if ((c & 0xE0) == 0xC0) { n = 2; *cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; *cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; *cp = c & 0x07; min = 0x10000; }
    else { *cp = 0xFFFD; return 1; }
    if (left < n) { *cp = 0xFFFD; return 1; }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) { *cp = 0xFFFD; return 1; }
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) { *cp = 0xFFFD; return 1; }
    return n;
}

char *strset_to_json(const struct strset *s, struct arena *a)
{
    size_t cap = 3;
    for (size_t i = 0; i < s->n; i++)
        cap += strlen(s->items[i]) * 12 + 4; /* worst case: \uXXXX\uXXXX per byte */
    char *out = arena_alloc(a, cap);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    out[o++] = '[';
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            out[o++] = ',', out[o++] = ' ';
        out[o++] = '"';
        const unsigned char *p = (const unsigned char *)s->items[i];
        size_t left = strlen(s->items[i]);
        while (left) {
            unsigned cp;
            size_t k = utf8_decode(p, left, &cp);
            p += k;
            left -= k;
            if (cp == '"' || cp == '\\') {
                out[o++] = '\\';
                out[o++] = (char)cp;
            } else if (cp == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
            else if (cp == '\r') { out[o++] = '\\'; out[o++] = 'r'; }
            else if (cp == '\t') { out[o++] = '\\'; out[o++] = 't'; }
            else if (cp == '\b') { out[o++] = '\\'; out[o++] = 'b'; }
            else if (cp == '\f') { out[o++] = '\\'; out[o++] = 'f'; }
            else if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
                o += (size_t)snprintf(out + o, cap - o, "\\u%04x", cp);
            } else if (cp >= 0x10000) {
                unsigned v = cp - 0x10000;
                o += (size_t)snprintf(out + o, cap - o, "\\u%04x\\u%04x", 0xD800 + (v >> 10),
                                      0xDC00 + (v & 0x3FF));
            } else {
                out[o++] = (char)cp;
            }
        }
        out[o++] = '"';
    }
    out[o++] = ']';
    out[o] = '\0';
    return out;
}

int strset_from_json(struct strset *s, struct arena *a, const char *json)
{
    if (json == NULL)
        return 0;
    cJSON *root = cJSON_Parse(json);
    if (root == NULL)
        return 0;
    int rc = 0;
    if (cJSON_IsArray(root)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, root)
        {
            if (!cJSON_IsString(it))
                continue;
            char *copy = arena_strdup(a, it->valuestring);
            if (copy == NULL || strset_add(s, a, copy)) {
                rc = -1;
                break;
            }
        }
    }
    cJSON_Delete(root);
    return rc;
}
