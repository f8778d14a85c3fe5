/*
 * pickle.c - restricted unpickler for torch state dicts; see pickle.h.
 *
 * The machine is CPython's (Lib/pickle.py `_Unpickler`, as documented in
 * Lib/pickletools.py): a value stack, a stack of MARK positions and a memo.
 * Values are heap nodes registered in one list and freed together, so
 * sharing through the memo and cycles need no reference counting and no
 * recursion. Invariants while running:
 *   - the stack never pops below the innermost MARK;
 *   - every memo index is below the pickle's length (each BINPUT costs at
 *     least two bytes), so the memo array is bounded by the input;
 *   - a TENSOR node's storage is a STORAGE node and its shape/stride arrays
 *     hold ndim <= PICKLE_MAX_DIMS non-negative entries.
 */
#include "ml/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opcodes (Lib/pickletools.py). */
enum {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BINFLOAT = 'G', OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N',
    OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U',
    OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd',
    OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j', OP_LIST = 'l', OP_BINPUT = 'q',
    OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't', OP_SETITEMS = 'u',
    OP_EMPTY_DICT = '}', OP_EMPTY_LIST = ']', OP_EMPTY_TUPLE = ')', OP_BINBYTES = 'B',
    OP_SHORT_BINBYTES = 'C', OP_PROTO = 0x80, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
    OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e,
    OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94, OP_FRAME = 0x95
};

#define PU_MAX_VALUES 2000000u
#define PU_MAX_GLOBAL_NAME 128u

enum pv_kind {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_BYTES, PV_TUPLE, PV_LIST, PV_DICT,
    PV_GLOBAL, PV_STORAGE, PV_TENSOR
};

enum pg_kind {
    PG_ORDERED_DICT, PG_REBUILD_TENSOR_V2, PG_REBUILD_TENSOR, PG_REBUILD_PARAMETER,
    PG_REBUILD_PARAMETER_STATE, PG_STORAGE, PG_DTYPE
};

struct pv_tensor {
    struct pv *storage;
    int64_t offset;
    int ndim;
    int64_t shape[PICKLE_MAX_DIMS];
    int64_t stride[PICKLE_MAX_DIMS];
};

struct pv {
    enum pv_kind kind;
    int64_t i;                  /* INT, BOOL; STORAGE: numel */
    double f;                   /* FLOAT */
    char *s;                    /* STR, BYTES; STORAGE: key (NUL-terminated copy) */
    size_t slen;
    struct pv **items;          /* TUPLE, LIST; DICT: key, value, key, value, ... */
    size_t n, cap;              /* items used (DICT: 2 x pairs) and allocated */
    enum pg_kind glob;          /* GLOBAL */
    enum safetensors_dtype dtype; /* GLOBAL storage/dtype, STORAGE */
    struct pv_tensor *t;        /* TENSOR */
};

struct pu {
    const uint8_t *p;
    size_t len, pos, op_at;
    const char *label;
    struct mlw_err *err;
    int code;                   /* first error's code (err may be NULL) */
    struct pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t n_marks, cap_marks;
    struct pv **memo;
    size_t memo_cap, memo_count;
    struct pv **all;            /* every node, for freeing */
    size_t n_all, cap_all;
};

static const char *pv_kind_name(enum pv_kind k)
{
    static const char *names[] = {"None", "bool", "int", "float", "str", "bytes", "tuple",
                                  "list", "dict", "global", "storage", "tensor"};
    return (size_t)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static int pu_fail(struct pu *u, int code, const char *what)
{
    if (u->code == MLW_OK)
        u->code = code;
    return mlw_err_set(u->err, code, "%s: pickle byte %zu: %s", u->label, u->op_at, what);
}

static int pu_oom(struct pu *u) { return pu_fail(u, MLW_ENOMEM, "out of memory"); }

static int pu_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (n == NULL)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

static struct pv *pu_new(struct pu *u, enum pv_kind kind)
{
    if (u->n_all >= PU_MAX_VALUES) {
        pu_fail(u, MLW_EFORMAT, "too many values (limit 2000000)");
        return NULL;
    }
    if (pu_grow((void **)&u->all, &u->cap_all, u->n_all + 1, sizeof *u->all) != 0) {
        pu_oom(u);
        return NULL;
    }
    struct pv *v = calloc(1, sizeof *v);
    if (v == NULL) {
        pu_oom(u);
        return NULL;
    }
    v->kind = kind;
    u->all[u->n_all++] = v;
    return v;
}

static void pu_free(struct pu *u)
{
    for (size_t i = 0; i < u->n_all; i++) {
        free(u->all[i]->s);
        free(u->all[i]->items);
        free(u->all[i]->t);
        free(u->all[i]);
    }
    free(u->all);
    free(u->stack);
    free(u->marks);
    free(u->memo);
    memset(u, 0, sizeof *u);
}

static int pu_push(struct pu *u, struct pv *v)
{
    if (v == NULL)
        return -1; /* pu_new already set the error */
    if (u->sp >= PICKLE_MAX_STACK) {
        pu_fail(u, MLW_EFORMAT, "stack deeper than 1000000 entries");
        return -1;
    }
    if (pu_grow((void **)&u->stack, &u->scap, u->sp + 1, sizeof *u->stack) != 0) {
        pu_oom(u);
        return -1;
    }
    u->stack[u->sp++] = v;
    return 0;
}

static size_t pu_floor(const struct pu *u) { return u->n_marks ? u->marks[u->n_marks - 1] : 0; }

static struct pv *pu_pop(struct pu *u)
{
    if (u->sp <= pu_floor(u)) {
        pu_fail(u, MLW_EFORMAT, "stack underflow");
        return NULL;
    }
    return u->stack[--u->sp];
}

static struct pv *pu_top(struct pu *u)
{
    if (u->sp <= pu_floor(u)) {
        pu_fail(u, MLW_EFORMAT, "stack underflow");
        return NULL;
    }
    return u->stack[u->sp - 1];
}

/* Pop back to the innermost MARK: items and n are the entries above it (still
 * in the stack array, valid until the next push). */
static int pu_pop_mark(struct pu *u, struct pv ***items, size_t *n)
{
    if (u->n_marks == 0)
        return pu_fail(u, MLW_EFORMAT, "no MARK to pop back to");
    size_t m = u->marks[--u->n_marks];
    *items = u->stack != NULL ? u->stack + m : NULL; /* NULL only when nothing was pushed */
    *n = u->sp - m;
    u->sp = m;
    return MLW_OK;
}

static int pu_append(struct pu *u, struct pv *c, struct pv *v)
{
    if (pu_grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items) != 0)
        return pu_oom(u);
    c->items[c->n++] = v;
    return MLW_OK;
}

static struct pv *pu_seq(struct pu *u, enum pv_kind kind, struct pv **items, size_t n)
{
    struct pv *v = pu_new(u, kind);
    if (v == NULL)
        return NULL;
    if (n > 0) {
        v->items = malloc(n * sizeof *v->items);
        if (v->items == NULL) {
            pu_oom(u);
            return NULL;
        }
        memcpy(v->items, items, n * sizeof *v->items);
        v->n = v->cap = n;
    }
    return v;
}

/* Read n bytes at the cursor. */
static const uint8_t *pu_take(struct pu *u, size_t n)
{
    if (n > u->len - u->pos) {
        pu_fail(u, MLW_EFORMAT, u->pos == u->len ? "the pickle ends without STOP (truncated)"
                                                 : "truncated (argument runs past the end)");
        return NULL;
    }
    const uint8_t *r = u->p + u->pos;
    u->pos += n;
    return r;
}

static uint64_t pu_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static int pu_str(struct pu *u, enum pv_kind kind, uint64_t n)
{
    if (n > u->len - u->pos)
        return pu_fail(u, MLW_EFORMAT, "truncated (string length runs past the end)");
    const uint8_t *b = pu_take(u, (size_t)n);
    struct pv *v = pu_new(u, kind);
    if (b == NULL || v == NULL)
        return -1;
    v->s = malloc((size_t)n + 1);
    if (v->s == NULL)
        return pu_oom(u);
    memcpy(v->s, b, (size_t)n);
    v->s[n] = '\0';
    v->slen = (size_t)n;
    return pu_push(u, v) == 0 ? MLW_OK : -1;
}

static int pu_int(struct pu *u, int64_t i, enum pv_kind kind)
{
    struct pv *v = pu_new(u, kind);
    if (v == NULL)
        return -1;
    v->i = i;
    return pu_push(u, v) == 0 ? MLW_OK : -1;
}

/* LONG1/LONG4: little-endian two's complement of n bytes; int64 only. */
static int pu_long(struct pu *u, uint64_t n)
{
    if (n > 8)
        return pu_fail(u, MLW_EFORMAT, "integer wider than 64 bits");
    const uint8_t *b = pu_take(u, (size_t)n);
    if (b == NULL)
        return -1;
    uint64_t v = n ? pu_le(b, (int)n) : 0;
    if (n > 0 && n < 8 && (b[n - 1] & 0x80))
        v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    int64_t s;
    memcpy(&s, &v, sizeof s);
    return pu_int(u, s, PV_INT);
}

struct pg_entry {
    const char *module, *name;
    enum pg_kind kind;
    enum safetensors_dtype dtype;
};

static const struct pg_entry pg_allow[] = {
    {"collections", "OrderedDict", PG_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", PG_REBUILD_TENSOR_V2, 0},
    {"torch._utils", "_rebuild_tensor", PG_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", PG_REBUILD_PARAMETER, 0},
    {"torch._utils", "_rebuild_parameter_with_state", PG_REBUILD_PARAMETER_STATE, 0},
    {"torch", "FloatStorage", PG_STORAGE, SAFETENSORS_DTYPE_F32},
    {"torch", "HalfStorage", PG_STORAGE, SAFETENSORS_DTYPE_F16},
    {"torch", "BFloat16Storage", PG_STORAGE, SAFETENSORS_DTYPE_BF16},
    {"torch", "DoubleStorage", PG_STORAGE, SAFETENSORS_DTYPE_F64},
    {"torch", "LongStorage", PG_STORAGE, SAFETENSORS_DTYPE_I64},
    {"torch", "IntStorage", PG_STORAGE, SAFETENSORS_DTYPE_I32},
    {"torch", "ShortStorage", PG_STORAGE, SAFETENSORS_DTYPE_I16},
    {"torch", "CharStorage", PG_STORAGE, SAFETENSORS_DTYPE_I8},
    {"torch", "ByteStorage", PG_STORAGE, SAFETENSORS_DTYPE_U8},
    {"torch", "BoolStorage", PG_STORAGE, SAFETENSORS_DTYPE_BOOL},
    {"torch", "float32", PG_DTYPE, SAFETENSORS_DTYPE_F32},
    {"torch", "float16", PG_DTYPE, SAFETENSORS_DTYPE_F16},
    {"torch", "bfloat16", PG_DTYPE, SAFETENSORS_DTYPE_BF16},
    {"torch", "float64", PG_DTYPE, SAFETENSORS_DTYPE_F64},
    {"torch", "int64", PG_DTYPE, SAFETENSORS_DTYPE_I64},
    {"torch", "int32", PG_DTYPE, SAFETENSORS_DTYPE_I32},
    {"torch", "int16", PG_DTYPE, SAFETENSORS_DTYPE_I16},
    {"torch", "int8", PG_DTYPE, SAFETENSORS_DTYPE_I8},
    {"torch", "uint8", PG_DTYPE, SAFETENSORS_DTYPE_U8},
    {"torch", "bool", PG_DTYPE, SAFETENSORS_DTYPE_BOOL},
};

/* Resolve module.name against the allowlist and push the global. */
static int pu_global(struct pu *u, const char *module, size_t mlen, const char *name,
                     size_t nlen)
{
    for (size_t i = 0; i < sizeof pg_allow / sizeof pg_allow[0]; i++) {
        const struct pg_entry *g = &pg_allow[i];
        if (strlen(g->module) == mlen && memcmp(g->module, module, mlen) == 0 &&
            strlen(g->name) == nlen && memcmp(g->name, name, nlen) == 0) {
            struct pv *v = pu_new(u, PV_GLOBAL);
            if (v == NULL)
                return -1;
            v->glob = g->kind;
            v->dtype = g->dtype;
            return pu_push(u, v) == 0 ? MLW_OK : -1;
        }
    }
    /* Print the name safely: printable ASCII only, bounded. */
    char shown[2 * PU_MAX_GLOBAL_NAME + 2];
    size_t k = 0;
    for (size_t i = 0; i < mlen + 1 + nlen && k + 1 < sizeof shown; i++) {
        char c = i < mlen ? module[i] : i == mlen ? '.' : name[i - mlen - 1];
        shown[k++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    shown[k] = '\0';
    char what[2 * PU_MAX_GLOBAL_NAME + 128];
    snprintf(what, sizeof what,
             "global \"%s\" is not allowed (only torch tensor rebuild functions, storage "
             "types and collections.OrderedDict)", shown);
    return pu_fail(u, MLW_EFORMAT, what);
}

/* GLOBAL: "module\nname\n" */
static int pu_op_global(struct pu *u)
{
    const char *parts[2];
    size_t lens[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *start = u->p + u->pos;
        size_t avail = u->len - u->pos;
        size_t lim = avail < PU_MAX_GLOBAL_NAME + 1 ? avail : PU_MAX_GLOBAL_NAME + 1;
        const uint8_t *nl = memchr(start, '\n', lim);
        if (nl == NULL)
            return pu_fail(u, MLW_EFORMAT,
                           "GLOBAL name unterminated or longer than 128 bytes");
        parts[k] = (const char *)start;
        lens[k] = (size_t)(nl - start);
        u->pos += lens[k] + 1;
    }
    return pu_global(u, parts[0], lens[0], parts[1], lens[1]);
}

static int pu_op_stack_global(struct pu *u)
{
    struct pv *name = pu_pop(u);
    struct pv *module = name ? pu_pop(u) : NULL;
    if (module == NULL)
        return -1;
    if (name->kind != PV_STR || module->kind != PV_STR)
        return pu_fail(u, MLW_EFORMAT, "STACK_GLOBAL needs two strings");
    if (name->slen > PU_MAX_GLOBAL_NAME || module->slen > PU_MAX_GLOBAL_NAME)
        return pu_fail(u, MLW_EFORMAT, "STACK_GLOBAL name longer than 128 bytes");
    return pu_global(u, module->s, module->slen, name->s, name->slen);
}

static int pu_int_of(const struct pv *v, int64_t *out)
{
    if (v->kind != PV_INT && v->kind != PV_BOOL)
        return -1;
    *out = v->i;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
 * or _rebuild_tensor(storage, offset, size, stride). */
static struct pv *pu_rebuild_tensor(struct pu *u, const struct pv *args, int v2)
{
    if (args->n < 4 || (v2 && (args->n < 6 || args->n > 7)) || (!v2 && args->n != 4)) {
        pu_fail(u, MLW_EFORMAT, "tensor rebuild call with the wrong number of arguments");
        return NULL;
    }
    const struct pv *st = args->items[0], *size = args->items[2], *stride = args->items[3];
    int64_t off;
    if (st->kind != PV_STORAGE) {
        pu_fail(u, MLW_EFORMAT, "tensor rebuild: first argument is not a storage reference");
        return NULL;
    }
    if (pu_int_of(args->items[1], &off) != 0 || off < 0) {
        pu_fail(u, MLW_EFORMAT, "tensor rebuild: storage offset is not a non-negative int");
        return NULL;
    }
    if ((size->kind != PV_TUPLE && size->kind != PV_LIST) ||
        (stride->kind != PV_TUPLE && stride->kind != PV_LIST) || size->n != stride->n) {
        pu_fail(u, MLW_EFORMAT, "tensor rebuild: size and stride are not tuples of one length");
        return NULL;
    }
    if (size->n > PICKLE_MAX_DIMS) {
        pu_fail(u, MLW_EFORMAT, "tensor rebuild: more than 8 dimensions");
        return NULL;
    }
    struct pv *v = pu_new(u, PV_TENSOR);
    if (v == NULL)
        return NULL;
    v->t = calloc(1, sizeof *v->t);
    if (v->t == NULL) {
        pu_oom(u);
        return NULL;
    }
    v->t->storage = (struct pv *)st;
    v->t->offset = off;
    v->t->ndim = (int)size->n;
    for (size_t i = 0; i < size->n; i++) {
        if (pu_int_of(size->items[i], &v->t->shape[i]) != 0 || v->t->shape[i] < 0 ||
            pu_int_of(stride->items[i], &v->t->stride[i]) != 0 || v->t->stride[i] < 0) {
            pu_fail(u, MLW_EFORMAT,
                    "tensor rebuild: size and stride entries must be non-negative ints");
            return NULL;
        }
    }
    return v;
}

static int pu_op_reduce(struct pu *u)
{
    struct pv *args = pu_pop(u);
    struct pv *fn = args ? pu_pop(u) : NULL;
    if (fn == NULL)
        return -1;
    if (fn->kind != PV_GLOBAL)
        return pu_fail(u, MLW_EFORMAT, "REDUCE of something that is not an allowed global");
    if (args->kind != PV_TUPLE)
        return pu_fail(u, MLW_EFORMAT, "REDUCE arguments are not a tuple");
    struct pv *r = NULL;
    switch (fn->glob) {
    case PG_ORDERED_DICT:
        if (args->n != 0)
            return pu_fail(u, MLW_EFORMAT, "OrderedDict called with arguments");
        r = pu_new(u, PV_DICT);
        break;
    case PG_REBUILD_TENSOR_V2:
    case PG_REBUILD_TENSOR:
        r = pu_rebuild_tensor(u, args, fn->glob == PG_REBUILD_TENSOR_V2);
        break;
    case PG_REBUILD_PARAMETER:
    case PG_REBUILD_PARAMETER_STATE:
        if (args->n < 1 || args->items[0]->kind != PV_TENSOR)
            return pu_fail(u, MLW_EFORMAT, "_rebuild_parameter of something not a tensor");
        r = args->items[0];
        break;
    case PG_STORAGE:
    case PG_DTYPE:
        return pu_fail(u, MLW_EFORMAT, "REDUCE calls a storage type or dtype");
    }
    if (r == NULL)
        return -1;
    return pu_push(u, r) == 0 ? MLW_OK : -1;
}

/* BINPERSID: ('storage', StorageType, key, location, numel[, view_metadata]) */
static int pu_op_persid(struct pu *u)
{
    struct pv *pid = pu_pop(u);
    if (pid == NULL)
        return -1;
    if (pid->kind != PV_TUPLE || pid->n < 5 || pid->n > 6 || pid->items[0]->kind != PV_STR ||
        strcmp(pid->items[0]->s, "storage") != 0)
        return pu_fail(u, MLW_EFORMAT,
                       "persistent id is not ('storage', type, key, location, numel)");
    const struct pv *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    if (type->kind != PV_GLOBAL || type->glob != PG_STORAGE)
        return pu_fail(u, MLW_EFORMAT, "persistent id: storage type is not a torch.*Storage");
    if (key->kind != PV_STR || key->slen == 0 || key->slen != strlen(key->s) || key->slen > 64)
        return pu_fail(u, MLW_EFORMAT, "persistent id: storage key is not a short string");
    if (numel->kind != PV_INT || numel->i < 0)
        return pu_fail(u, MLW_EFORMAT, "persistent id: numel is not a non-negative int");
    if (pid->n == 6 && pid->items[5]->kind != PV_NONE)
        return pu_fail(u, MLW_EUNSUPPORTED,
                       "storage views (legacy view_metadata) are not supported; re-save the "
                       "checkpoint with a newer PyTorch");
    struct pv *v = pu_new(u, PV_STORAGE);
    if (v == NULL)
        return -1;
    v->dtype = type->dtype;
    v->i = numel->i;
    v->s = strdup(key->s);
    if (v->s == NULL)
        return pu_oom(u);
    v->slen = key->slen;
    return pu_push(u, v) == 0 ? MLW_OK : -1;
}

static int pu_memo_put(struct pu *u, uint64_t idx)
{
    struct pv *top = pu_top(u);
    if (top == NULL)
        return -1;
    if (idx >= u->len)
        return pu_fail(u, MLW_EFORMAT, "memo index larger than the pickle");
    if (idx >= u->memo_cap) {
        size_t old = u->memo_cap;
        if (pu_grow((void **)&u->memo, &u->memo_cap, (size_t)idx + 1, sizeof *u->memo) != 0)
            return pu_oom(u);
        memset(u->memo + old, 0, (u->memo_cap - old) * sizeof *u->memo);
    }
    if (u->memo[idx] == NULL)
        u->memo_count++;
    u->memo[idx] = top;
    return MLW_OK;
}

static int pu_memo_get(struct pu *u, uint64_t idx)
{
    if (idx >= u->memo_cap || u->memo[idx] == NULL)
        return pu_fail(u, MLW_EFORMAT, "memo GET of an index never PUT");
    return pu_push(u, u->memo[idx]) == 0 ? MLW_OK : -1;
}

static int pu_setitems(struct pu *u, struct pv *d, struct pv **kv, size_t n)
{
    if (d->kind != PV_DICT)
        return pu_fail(u, MLW_EFORMAT, "SETITEM(S) on something that is not a dict");
    if (n % 2 != 0)
        return pu_fail(u, MLW_EFORMAT, "SETITEMS with an odd number of entries");
    if (n == 0)
        return MLW_OK;
    if (pu_grow((void **)&d->items, &d->cap, d->n + n, sizeof *d->items) != 0)
        return pu_oom(u);
    memcpy(d->items + d->n, kv, n * sizeof *kv);
    d->n += n;
    return MLW_OK;
}

/* Run one opcode. Returns MLW_OK, 1 at STOP (*result set), or an error. */
static int pu_step(struct pu *u, struct pv **result)
{
    u->op_at = u->pos;
    const uint8_t *b = pu_take(u, 1);
    if (b == NULL)
        return -1;
    uint8_t op = *b;
    struct pv *v, *w, **items;
    size_t n;
    switch (op) {
    case OP_PROTO:
        if ((b = pu_take(u, 1)) == NULL)
            return -1;
        if (*b > 5)
            return pu_fail(u, MLW_EFORMAT, "unknown pickle protocol");
        return MLW_OK;
    case OP_FRAME:
        return pu_take(u, 8) ? MLW_OK : -1;
    case OP_STOP:
        if ((v = pu_pop(u)) == NULL)
            return -1;
        *result = v;
        return 1;
    case OP_MARK:
        if (u->n_marks >= PICKLE_MAX_MARKS)
            return pu_fail(u, MLW_EFORMAT, "MARKs nested deeper than 1000");
        if (pu_grow((void **)&u->marks, &u->cap_marks, u->n_marks + 1, sizeof *u->marks) != 0)
            return pu_oom(u);
        u->marks[u->n_marks++] = u->sp;
        return MLW_OK;
    case OP_POP:
        if (u->sp > pu_floor(u)) {
            u->sp--;
            return MLW_OK;
        }
        if (u->n_marks > 0) { /* CPython: POP at a mark discards the mark */
            u->n_marks--;
            return MLW_OK;
        }
        return pu_fail(u, MLW_EFORMAT, "stack underflow");
    case OP_POP_MARK:
        return pu_pop_mark(u, &items, &n);
    case OP_DUP:
        if ((v = pu_top(u)) == NULL)
            return -1;
        return pu_push(u, v) == 0 ? MLW_OK : -1;
    case OP_NONE:
        return pu_push(u, pu_new(u, PV_NONE)) == 0 ? MLW_OK : -1;
    case OP_NEWTRUE:
    case OP_NEWFALSE:
        return pu_int(u, op == OP_NEWTRUE, PV_BOOL);
    case OP_BININT:
        if ((b = pu_take(u, 4)) == NULL)
            return -1;
        return pu_int(u, (int32_t)(uint32_t)pu_le(b, 4), PV_INT);
    case OP_BININT1:
        if ((b = pu_take(u, 1)) == NULL)
            return -1;
        return pu_int(u, *b, PV_INT);
    case OP_BININT2:
        if ((b = pu_take(u, 2)) == NULL)
            return -1;
        return pu_int(u, (int64_t)pu_le(b, 2), PV_INT);
    case OP_LONG1:
        if ((b = pu_take(u, 1)) == NULL)
            return -1;
        return pu_long(u, *b);
    case OP_LONG4:
        if ((b = pu_take(u, 4)) == NULL)
            return -1;
        if (b[3] & 0x80)
            return pu_fail(u, MLW_EFORMAT, "LONG4 with a negative length");
        return pu_long(u, pu_le(b, 4));
    case OP_BINFLOAT: {
        if ((b = pu_take(u, 8)) == NULL)
            return -1;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | b[i]; /* big-endian */
        if ((v = pu_new(u, PV_FLOAT)) == NULL)
            return -1;
        memcpy(&v->f, &bits, sizeof v->f);
        return pu_push(u, v) == 0 ? MLW_OK : -1;
    }
    case OP_SHORT_BINUNICODE:
    case OP_SHORT_BINSTRING:
    case OP_SHORT_BINBYTES:
        if ((b = pu_take(u, 1)) == NULL)
            return -1;
        return pu_str(u, op == OP_SHORT_BINBYTES ? PV_BYTES : PV_STR, *b);
    case OP_BINUNICODE:
    case OP_BINBYTES:
        if ((b = pu_take(u, 4)) == NULL)
            return -1;
        return pu_str(u, op == OP_BINBYTES ? PV_BYTES : PV_STR, pu_le(b, 4));
    case OP_BINSTRING:
        if ((b = pu_take(u, 4)) == NULL)
            return -1;
        if (b[3] & 0x80)
            return pu_fail(u, MLW_EFORMAT, "BINSTRING with a negative length");
        return pu_str(u, PV_STR, pu_le(b, 4));
    case OP_BINUNICODE8:
    case OP_BINBYTES8:
        if ((b = pu_take(u, 8)) == NULL)
            return -1;
        return pu_str(u, op == OP_BINBYTES8 ? PV_BYTES : PV_STR, pu_le(b, 8));
    case OP_EMPTY_TUPLE:
        return pu_push(u, pu_new(u, PV_TUPLE)) == 0 ? MLW_OK : -1;
    case OP_EMPTY_LIST:
        return pu_push(u, pu_new(u, PV_LIST)) == 0 ? MLW_OK : -1;
    case OP_EMPTY_DICT:
        return pu_push(u, pu_new(u, PV_DICT)) == 0 ? MLW_OK : -1;
    case OP_TUPLE:
    case OP_LIST:
        if (pu_pop_mark(u, &items, &n) != MLW_OK)
            return -1;
        return pu_push(u, pu_seq(u, op == OP_TUPLE ? PV_TUPLE : PV_LIST, items, n)) == 0
                   ? MLW_OK : -1;
    case OP_DICT:
        if (pu_pop_mark(u, &items, &n) != MLW_OK)
            return -1;
        if (n % 2 != 0)
            return pu_fail(u, MLW_EFORMAT, "DICT with an odd number of entries");
        return pu_push(u, pu_seq(u, PV_DICT, items, n)) == 0 ? MLW_OK : -1;
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3:
        n = (size_t)(op - OP_TUPLE1 + 1);
        if (u->sp < pu_floor(u) + n)
            return pu_fail(u, MLW_EFORMAT, "stack underflow");
        u->sp -= n;
        return pu_push(u, pu_seq(u, PV_TUPLE, u->stack + u->sp, n)) == 0 ? MLW_OK : -1;
    case OP_APPEND:
        if ((v = pu_pop(u)) == NULL || (w = pu_top(u)) == NULL)
            return -1;
        if (w->kind != PV_LIST)
            return pu_fail(u, MLW_EFORMAT, "APPEND to something that is not a list");
        return pu_append(u, w, v);
    case OP_APPENDS:
        if (pu_pop_mark(u, &items, &n) != MLW_OK || (w = pu_top(u)) == NULL)
            return -1;
        if (w->kind != PV_LIST)
            return pu_fail(u, MLW_EFORMAT, "APPENDS to something that is not a list");
        for (size_t i = 0; i < n; i++)
            if (pu_append(u, w, items[i]) != MLW_OK)
                return -1;
        return MLW_OK;
    case OP_SETITEM: {
        struct pv *kv[2];
        if ((kv[1] = pu_pop(u)) == NULL || (kv[0] = pu_pop(u)) == NULL ||
            (w = pu_top(u)) == NULL)
            return -1;
        return pu_setitems(u, w, kv, 2);
    }
    case OP_SETITEMS:
        if (pu_pop_mark(u, &items, &n) != MLW_OK || (w = pu_top(u)) == NULL)
            return -1;
        return pu_setitems(u, w, items, n);
    case OP_BINPUT:
        if ((b = pu_take(u, 1)) == NULL)
            return -1;
        return pu_memo_put(u, *b);
    case OP_LONG_BINPUT:
        if ((b = pu_take(u, 4)) == NULL)
            return -1;
        return pu_memo_put(u, pu_le(b, 4));
    case OP_MEMOIZE:
        return pu_memo_put(u, u->memo_count);
    case OP_BINGET:
        if ((b = pu_take(u, 1)) == NULL)
            return -1;
        return pu_memo_get(u, *b);
    case OP_LONG_BINGET:
        if ((b = pu_take(u, 4)) == NULL)
            return -1;
        return pu_memo_get(u, pu_le(b, 4));
    case OP_GLOBAL:
        return pu_op_global(u);
    case OP_STACK_GLOBAL:
        return pu_op_stack_global(u);
    case OP_REDUCE:
        return pu_op_reduce(u);
    case OP_BUILD:
        /* The state of an OrderedDict (its _metadata) or a parameter: not needed. */
        if (pu_pop(u) == NULL || pu_top(u) == NULL)
            return -1;
        return MLW_OK;
    case OP_BINPERSID:
        return pu_op_persid(u);
    default:
        break;
    }
    char what[96];
    if (op >= 0x20 && op < 0x7f)
        snprintf(what, sizeof what, "unsupported opcode 0x%02x ('%c')", op, op);
    else
        snprintf(what, sizeof what, "unsupported opcode 0x%02x", op);
    return pu_fail(u, MLW_EFORMAT, what);
}

/* Run to STOP. On MLW_OK *root is the result and u must be freed by the caller. */
static int pu_run(struct pu *u, const void *buf, size_t len, const char *label,
                  struct pv **root, struct mlw_err *err)
{
    memset(u, 0, sizeof *u);
    u->p = buf;
    u->len = len;
    u->label = label ? label : "<pickle>";
    u->err = err;
    *root = NULL;
    for (;;) {
        int rc = pu_step(u, root);
        if (rc == 1)
            return MLW_OK;
        if (rc != MLW_OK) /* every failing path went through pu_fail */
            return u->code != MLW_OK ? u->code : MLW_EFORMAT;
    }
}

static int pv_is_str(const struct pv *v, const char *s)
{
    return v->kind == PV_STR && v->slen == strlen(s) && memcmp(v->s, s, v->slen) == 0;
}

static size_t pv_count_tensors(const struct pv *d)
{
    size_t c = 0;
    for (size_t i = 0; i + 1 < d->n; i += 2)
        c += d->items[i]->kind == PV_STR && d->items[i + 1]->kind == PV_TENSOR;
    return c;
}

void pickle_state_dict_free(struct pickle_state_dict *sd)
{
    if (sd == NULL)
        return;
    for (size_t i = 0; i < sd->n_tensors; i++) {
        free(sd->tensors[i].name);
        free(sd->tensors[i].storage_key);
    }
    free(sd->tensors);
    memset(sd, 0, sizeof *sd);
}

int pickle_load_state_dict(const void *buf, size_t len, const char *label,
                           struct pickle_state_dict *sd, size_t *consumed, struct mlw_err *err)
{
    memset(sd, 0, sizeof *sd);
    if (consumed)
        *consumed = 0;
    if (label == NULL)
        label = "<pickle>";
    struct pu u;
    struct pv *root;
    int rc = pu_run(&u, buf, len, label, &root, err);
    if (rc != MLW_OK)
        goto out;
    if (consumed)
        *consumed = u.pos;
    if (root->kind != PV_DICT) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: the pickle holds a %s, not a state dict", label,
                         pv_kind_name(root->kind));
        goto out;
    }
    const struct pv *d = root;
    if (pv_count_tensors(d) == 0) {
        /* {"state_dict": {...}} or {"model": {...}} wrappers */
        for (size_t i = 0; i + 1 < root->n; i += 2) {
            const struct pv *k = root->items[i], *v = root->items[i + 1];
            if ((pv_is_str(k, "state_dict") || pv_is_str(k, "model")) && v->kind == PV_DICT &&
                pv_count_tensors(v) > 0) {
                d = v;
                break;
            }
        }
    }
    size_t n = pv_count_tensors(d);
    sd->tensors = calloc(n ? n : 1, sizeof *sd->tensors);
    if (sd->tensors == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
        goto out;
    }
    for (size_t i = 0; i + 1 < d->n; i += 2) {
        const struct pv *k = d->items[i], *v = d->items[i + 1];
        if (k->kind != PV_STR || v->kind != PV_TENSOR) {
            sd->n_skipped++;
            continue;
        }
        if (k->slen != strlen(k->s) || k->slen == 0) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: a state-dict key is empty or holds a NUL "
                             "byte", label);
            goto out;
        }
        struct pickle_tensor *t = &sd->tensors[sd->n_tensors];
        t->name = strdup(k->s);
        t->storage_key = strdup(v->t->storage->s);
        sd->n_tensors++;
        if (t->name == NULL || t->storage_key == NULL) {
            rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
            goto out;
        }
        t->dtype = v->t->storage->dtype;
        t->ndim = v->t->ndim;
        memcpy(t->shape, v->t->shape, sizeof t->shape);
        memcpy(t->stride, v->t->stride, sizeof t->stride);
        t->storage_offset = v->t->offset;
        t->storage_numel = v->t->storage->i;
    }
    if (sd->n_tensors == 0)
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: the state dict holds no tensors", label);
out:
    pu_free(&u);
    if (rc != MLW_OK)
        pickle_state_dict_free(sd);
    return rc;
}

int pickle_load_int(const void *buf, size_t len, const char *label, int64_t *value,
                    size_t *consumed, struct mlw_err *err)
{
    struct pu u;
    struct pv *root;
    if (label == NULL)
        label = "<pickle>";
    int rc = pu_run(&u, buf, len, label, &root, err);
    if (rc == MLW_OK && pu_int_of(root, value) != 0)
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: expected an int pickle, found a %s", label,
                         pv_kind_name(root->kind));
    if (rc == MLW_OK)
        *consumed = u.pos;
    pu_free(&u);
    return rc;
}

int pickle_check_sys_info(const void *buf, size_t len, const char *label, size_t *consumed,
                          struct mlw_err *err)
{
    struct pu u;
    struct pv *root;
    if (label == NULL)
        label = "<pickle>";
    int rc = pu_run(&u, buf, len, label, &root, err);
    if (rc == MLW_OK && root->kind != PV_DICT)
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: expected the sys_info dict, found a %s", label,
                         pv_kind_name(root->kind));
    for (size_t i = 0; rc == MLW_OK && i + 1 < root->n; i += 2) {
        const struct pv *v = root->items[i + 1];
        if (pv_is_str(root->items[i], "little_endian") && v->kind == PV_BOOL && !v->i)
            rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: written on a big-endian machine",
                             label);
    }
    if (rc == MLW_OK)
        *consumed = u.pos;
    pu_free(&u);
    return rc;
}

void pickle_str_list_free(char **keys, size_t n)
{
    for (size_t i = 0; keys != NULL && i < n; i++)
        free(keys[i]);
    free(keys);
}

int pickle_load_str_list(const void *buf, size_t len, const char *label, char ***keys,
                         size_t *n, size_t *consumed, struct mlw_err *err)
{
    struct pu u;
    struct pv *root;
    *keys = NULL;
    *n = 0;
    if (label == NULL)
        label = "<pickle>";
    int rc = pu_run(&u, buf, len, label, &root, err);
    if (rc == MLW_OK && root->kind != PV_LIST && root->kind != PV_TUPLE)
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: expected a list of storage keys, found a %s",
                         label, pv_kind_name(root->kind));
    if (rc == MLW_OK) {
        *keys = calloc(root->n ? root->n : 1, sizeof **keys);
        if (*keys == NULL)
            rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
    }
    for (size_t i = 0; rc == MLW_OK && i < root->n; i++) {
        const struct pv *v = root->items[i];
        if (v->kind != PV_STR || v->slen != strlen(v->s)) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: storage key %zu is not a string", label, i);
            break;
        }
        (*keys)[i] = strdup(v->s);
        if ((*keys)[i] == NULL) {
            rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
            break;
        }
        (*n)++;
    }
    if (rc == MLW_OK) {
        *consumed = u.pos;
    } else {
        pickle_str_list_free(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    pu_free(&u);
    return rc;
}
