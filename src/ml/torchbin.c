/*
 * torchbin.c - PyTorch checkpoints (zip and legacy) as a struct safetensors;
 * see torchbin.h for the formats.
 *
 * Steps, each assuming the ones before it passed:
 *   1. tell the format from the first bytes (ZIP local header, or the legacy
 *      magic-number pickle);
 *   2. unpickle the state dict (pickle.h: allowlisted globals only);
 *   3. find every storage's bytes: a stored zip entry <archive>/data/<key>,
 *      or the legacy records after the key list; each must hold exactly its
 *      persistent id's numel x element size bytes;
 *   4. per tensor: dtype from the storage class, numel = prod(shape) and the
 *      last element offset + sum((shape[i] - 1) x stride[i]) computed without
 *      overflow and inside the storage; contiguous tensors point into the
 *      mapping, others are gathered into st->heap;
 *   5. sort by name; a name may appear once.
 */
#include "ml/torchbin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ml/pickle.h"
#include "ml/zipread.h"

/* Where one storage's bytes are. */
struct tb_storage {
    const char *key;            /* borrowed from the pickle result */
    const uint8_t *data;
    size_t len;
};

/* PROTO 2, LONG1 of 10 bytes (0x1950a86a20f9469cfc6c little-endian), STOP */
static const uint8_t tb_legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

static int tb_cmp_name(const void *a, const void *b)
{
    const struct safetensors_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int tb_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

static int tb_add(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* Copy a strided tensor into dst, row-major contiguous. */
static void tb_gather(const struct pickle_tensor *t, const uint8_t *base, size_t esize,
                      uint64_t numel, uint8_t *dst)
{
    int64_t idx[PICKLE_MAX_DIMS] = {0};
    for (uint64_t n = 0; n < numel; n++) {
        uint64_t src = (uint64_t)t->storage_offset;
        for (int d = 0; d < t->ndim; d++)
            src += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        memcpy(dst + n * esize, base + src * esize, esize);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

/*
** Check tensor t against its storage and fill *out (except data for strided
** tensors, which get *heap_need added and *strided set).
*/
static int tb_check_tensor(const char *label, const struct pickle_tensor *t,
                           const struct tb_storage *s, const uint8_t *file,
                           struct safetensors_tensor *out, int *strided, uint64_t *heap_need,
                           struct mlw_err *err)
{
    size_t esize = safetensors_dtype_size(t->dtype);
    uint64_t numel = 1, last = (uint64_t)t->storage_offset, want = 1;
    int contiguous = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        uint64_t n = (uint64_t)t->shape[d], st = (uint64_t)t->stride[d], span;
        if (tb_mul(numel, n, &numel) != 0)
            return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": shape overflows",
                               label, t->name);
        if (n > 1 && st != want)
            contiguous = 0;
        if (tb_mul(want, n, &want) != 0)
            want = UINT64_MAX; /* only compared with strides of larger dims */
        if (n > 0 && (tb_mul(n - 1, st, &span) != 0 || tb_add(last, span, &last) != 0))
            return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": strides overflow",
                               label, t->name);
    }
    uint64_t nbytes;
    if (tb_mul(numel, esize, &nbytes) != 0 || nbytes > SIZE_MAX / 2)
        return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": too large", label,
                           t->name);
    if (numel > 0 && last >= (uint64_t)t->storage_numel)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: tensor \"%.200s\": reaches element %llu of storage \"%s\", "
                           "which holds %lld", label, t->name, (unsigned long long)last,
                           t->storage_key, (long long)t->storage_numel);
    out->dtype = t->dtype;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof out->shape);
    out->numel = (size_t)numel;
    out->nbytes = (size_t)nbytes;
    *strided = numel > 1 && !contiguous;
    if (*strided) {
        /* A view that repeats elements (stride 0, broadcast) is no weight. */
        if (numel > (uint64_t)t->storage_numel)
            return mlw_err_set(err, MLW_EUNSUPPORTED,
                               "%s: tensor \"%.200s\": %llu elements over a storage of %lld "
                               "(a broadcast view); not supported", label, t->name,
                               (unsigned long long)numel, (long long)t->storage_numel);
        *heap_need += (nbytes + 63) / 64 * 64;
        return MLW_OK;
    }
    /* offset * esize <= last * esize < storage bytes: no overflow */
    const uint8_t *p = s->data + (numel > 0 ? (size_t)t->storage_offset * esize : 0);
    out->data = p;
    out->offset = (size_t)(p - file);
    return MLW_OK;
}

static const struct tb_storage *tb_find_storage(const struct tb_storage *s, size_t n,
                                                const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].key, key) == 0)
            return &s[i];
    return NULL;
}

/*
** Build st->tensors from the state dict and the located storages. Every
** storage a tensor uses must be in stor[] with exactly numel x esize bytes.
*/
static int tb_build(struct safetensors *st, const char *label, struct pickle_state_dict *sd,
                    const struct tb_storage *stor, size_t n_stor, const uint8_t *file,
                    struct mlw_err *err)
{
    st->tensors = calloc(sd->n_tensors, sizeof *st->tensors);
    int *strided = calloc(sd->n_tensors, sizeof *strided);
    if (st->tensors == NULL || strided == NULL) {
        free(strided);
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
    }
    uint64_t heap_need = 0;
    int rc = MLW_OK;
    for (size_t i = 0; i < sd->n_tensors; i++) {
        const struct pickle_tensor *t = &sd->tensors[i];
        struct safetensors_tensor *o = &st->tensors[i];
        o->name = t->name; /* ownership moves to st */
        sd->tensors[i].name = NULL;
        st->n_tensors++;
        const struct tb_storage *s = tb_find_storage(stor, n_stor, t->storage_key);
        if (s == NULL) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": storage \"%s\" is "
                             "missing (truncated file?)", label, o->name, t->storage_key);
            break;
        }
        uint64_t want;
        if (tb_mul((uint64_t)t->storage_numel, safetensors_dtype_size(t->dtype), &want) != 0 ||
            want != s->len) {
            rc = mlw_err_set(err, MLW_EFORMAT,
                             "%s: tensor \"%.200s\": storage \"%s\" holds %zu bytes, expected "
                             "%lld elements of %s", label, o->name, t->storage_key, s->len,
                             (long long)t->storage_numel, safetensors_dtype_name(t->dtype));
            break;
        }
        struct pickle_tensor tc = *t;
        tc.name = o->name; /* for messages */
        rc = tb_check_tensor(label, &tc, s, file, o, &strided[i], &heap_need, err);
        if (rc != MLW_OK)
            break;
    }
    /* Copies of strided tensors: at most a few times the file (each copy is at
     * most its storage; storages may be shared by a few views). */
    if (rc == MLW_OK && heap_need > 4 * (uint64_t)st->data_len + (1u << 20))
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: strided tensors would need %llu bytes of "
                         "copies, more than 4 times the file; not supported", label,
                         (unsigned long long)heap_need);
    if (rc == MLW_OK && heap_need > 0) {
        st->heap = malloc((size_t)heap_need);
        if (st->heap == NULL)
            rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory for %llu bytes of strided "
                             "tensors", label, (unsigned long long)heap_need);
        uint8_t *h = st->heap;
        for (size_t i = 0; rc == MLW_OK && i < sd->n_tensors; i++) {
            if (!strided[i])
                continue;
            const struct pickle_tensor *t = &sd->tensors[i];
            struct safetensors_tensor *o = &st->tensors[i];
            const struct tb_storage *s = tb_find_storage(stor, n_stor, t->storage_key);
            tb_gather(t, s->data, safetensors_dtype_size(t->dtype), o->numel, h);
            o->data = h;
            o->offset = 0;
            h += (o->nbytes + 63) / 64 * 64;
        }
    }
    free(strided);
    if (rc != MLW_OK)
        return rc;
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, tb_cmp_name);
    for (size_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
            return mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\" appears twice", label,
                               st->tensors[i].name);
    return MLW_OK;
}

static int tb_parse_zip(const uint8_t *buf, size_t len, const char *label, int flags,
                        struct safetensors *st, struct mlw_err *err)
{
    struct zipread z;
    struct pickle_state_dict sd = {0};
    struct tb_storage *stor = NULL;
    size_t n_stor = 0;
    char *name = NULL, pkl_label[600];
    int rc = zipread_parse(buf, len, label, &z, err);
    if (rc != MLW_OK)
        return rc;

    /* <archive>/data.pkl, with <archive> one path component */
    const struct zipread_entry *pkl = NULL;
    for (size_t i = 0; i < z.n_entries && pkl == NULL; i++) {
        const char *n = z.entries[i].name, *slash = strchr(n, '/');
        if (slash != NULL && slash != n && strcmp(slash, "/data.pkl") == 0)
            pkl = &z.entries[i];
    }
    if (pkl == NULL) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: zip archive without <archive>/data.pkl (not a "
                         "PyTorch checkpoint)", label);
        goto out;
    }
    size_t plen = (size_t)(strchr(pkl->name, '/') - pkl->name) + 1; /* "archive/" */
    name = malloc(plen + 80);
    if (name == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
        goto out;
    }
    memcpy(name, pkl->name, plen);

    const struct zipread_entry *e;
    const uint8_t *d;
    size_t dlen;
    snprintf(name + plen, 80, "byteorder");
    if ((e = zipread_find(&z, name)) != NULL) {
        if ((rc = zipread_entry_data(&z, e, &d, &dlen, err)) != MLW_OK)
            goto out;
        if (dlen != 6 || memcmp(d, "little", 6) != 0) {
            rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: %s is not \"little\" (big-endian "
                             "checkpoints are not supported)", label, name);
            goto out;
        }
    }
    if ((rc = zipread_entry_data(&z, pkl, &d, &dlen, err)) != MLW_OK)
        goto out;
    if (zipread_crc32(0, d, dlen) != pkl->crc32) {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: %s fails its CRC check (corrupted file)", label,
                         pkl->name);
        goto out;
    }
    snprintf(pkl_label, sizeof pkl_label, "%.400s: %.150s", label, pkl->name);
    if ((rc = pickle_load_state_dict(d, dlen, pkl_label, &sd, NULL, err)) != MLW_OK)
        goto out;

    stor = calloc(sd.n_tensors, sizeof *stor);
    if (stor == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
        goto out;
    }
    for (size_t i = 0; i < sd.n_tensors; i++) {
        const char *key = sd.tensors[i].storage_key;
        if (tb_find_storage(stor, n_stor, key) != NULL)
            continue;
        snprintf(name + plen, 80, "data/%s", key); /* keys are <= 64 bytes (pickle.c) */
        if ((e = zipread_find(&z, name)) == NULL) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": archive entry \"%s\" is "
                             "missing", label, sd.tensors[i].name, name);
            goto out;
        }
        if ((rc = zipread_entry_data(&z, e, &d, &dlen, err)) != MLW_OK)
            goto out;
        if ((flags & TORCHBIN_VERIFY_CRC) && zipread_crc32(0, d, dlen) != e->crc32) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": archive entry \"%s\" "
                             "fails its CRC check (corrupted file)", label, sd.tensors[i].name,
                             name);
            goto out;
        }
        stor[n_stor++] = (struct tb_storage){.key = key, .data = d, .len = dlen};
    }
    rc = tb_build(st, label, &sd, stor, n_stor, buf, err);
    if (rc == MLW_OK)
        st->format = "pytorch-zip";
out:
    free(stor);
    free(name);
    pickle_state_dict_free(&sd);
    zipread_close(&z);
    return rc;
}

static int tb_parse_legacy(const uint8_t *buf, size_t len, const char *label,
                           struct safetensors *st, struct mlw_err *err)
{
    struct pickle_state_dict sd = {0};
    struct tb_storage *stor = NULL;
    char **keys = NULL;
    size_t n_keys = 0, pos = sizeof tb_legacy_magic, used;
    int64_t proto;
    char plabel[600];
#define TB_LABEL(what) \
    (snprintf(plabel, sizeof plabel, "%.400s: %s pickle at byte %zu", label, what, pos), plabel)
    int rc = pickle_load_int(buf + pos, len - pos, TB_LABEL("version"), &proto, &used, err);
    if (rc != MLW_OK)
        return rc;
    pos += used;
    if (proto != 1001)
        return mlw_err_set(err, MLW_EUNSUPPORTED, "%s: legacy protocol version %lld (only "
                           "1001 is known)", label, (long long)proto);
    rc = pickle_check_sys_info(buf + pos, len - pos, TB_LABEL("sys_info"), &used, err);
    if (rc != MLW_OK)
        return rc;
    pos += used;
    if ((rc = pickle_load_state_dict(buf + pos, len - pos, TB_LABEL("state dict"), &sd, &used,
                                     err)) != MLW_OK)
        return rc;
    pos += used;
    if ((rc = pickle_load_str_list(buf + pos, len - pos, TB_LABEL("storage keys"), &keys,
                                   &n_keys, &used, err)) != MLW_OK)
        goto out;
#undef TB_LABEL
    pos += used;
    stor = calloc(n_keys ? n_keys : 1, sizeof *stor);
    if (stor == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
        goto out;
    }
    /* Each record: int64 element count, then the elements. The element size
     * comes from a tensor that uses the storage. */
    for (size_t k = 0; k < n_keys; k++) {
        const struct pickle_tensor *user = NULL;
        for (size_t i = 0; i < sd.n_tensors && user == NULL; i++)
            if (strcmp(sd.tensors[i].storage_key, keys[k]) == 0)
                user = &sd.tensors[i];
        if (user == NULL) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: storage \"%.64s\" is used by no tensor of "
                             "the state dict", label, keys[k]);
            goto out;
        }
        if (len - pos < 8) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": storage \"%.64s\" record "
                             "is missing (truncated file?)", label, user->name, keys[k]);
            goto out;
        }
        uint64_t n = 0, bytes;
        for (int i = 7; i >= 0; i--)
            n = (n << 8) | buf[pos + (size_t)i];
        pos += 8;
        if (n != (uint64_t)user->storage_numel) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": storage \"%.64s\" record "
                             "claims %llu elements, the state dict %lld", label, user->name,
                             keys[k], (unsigned long long)n, (long long)user->storage_numel);
            goto out;
        }
        if (tb_mul(n, safetensors_dtype_size(user->dtype), &bytes) != 0 || bytes > len - pos) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: tensor \"%.200s\": storage \"%.64s\" (%llu "
                             "elements of %s) runs past the end of the file (truncated file?)",
                             label, user->name, keys[k], (unsigned long long)n,
                             safetensors_dtype_name(user->dtype));
            goto out;
        }
        stor[k] = (struct tb_storage){.key = keys[k], .data = buf + pos, .len = (size_t)bytes};
        pos += (size_t)bytes;
    }
    rc = tb_build(st, label, &sd, stor, n_keys, buf, err);
    if (rc == MLW_OK)
        st->format = "pytorch-legacy";
out:
    free(stor);
    pickle_str_list_free(keys, n_keys);
    pickle_state_dict_free(&sd);
    return rc;
}

int torchbin_parse(const void *buf, size_t len, const char *label, int flags,
                   struct safetensors *st, struct mlw_err *err)
{
    memset(st, 0, sizeof *st);
    if (label == NULL)
        label = "<memory>";
    st->path = strdup(label);
    if (st->path == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
    st->data = buf;
    st->data_len = len;
    const uint8_t *p = buf;
    int rc;
    if (zipread_is_zip(buf, len)) {
        rc = tb_parse_zip(p, len, label, flags, st, err);
    } else if (len >= sizeof tb_legacy_magic &&
               memcmp(p, tb_legacy_magic, sizeof tb_legacy_magic) == 0) {
        rc = tb_parse_legacy(p, len, label, st, err);
    } else if (len >= 262 && memcmp(p + 257, "ustar", 5) == 0) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: a tar-format checkpoint (PyTorch < 0.4); "
                         "load and re-save it with a newer PyTorch", label);
    } else {
        rc = mlw_err_set(err, MLW_EFORMAT, "%s: not a PyTorch checkpoint (neither a zip "
                         "archive nor the legacy pickle format; truncated or corrupted?)",
                         label);
    }
    if (rc != MLW_OK) {
        safetensors_close(st);
        return rc;
    }
    return MLW_OK;
}

int torchbin_open(const char *path, int flags, struct safetensors *st, struct mlw_err *err)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mlw_err_set(err, errno == ENOENT ? MLW_ENOTFOUND : MLW_EIO, "%s: cannot open: %s",
                           path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return mlw_err_set(err, MLW_EIO, "%s: not a readable regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        close(fd);
        return mlw_err_set(err, MLW_EFORMAT, "%s: empty file (truncated?)", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return mlw_err_set(err, MLW_EIO, "%s: cannot map %zu bytes: %s", path, len, strerror(e));
    int rc = torchbin_parse(map, len, path, flags, st, err);
    if (rc != MLW_OK) {
        munmap(map, len);
        return rc;
    }
    st->map = map;
    st->map_len = len;
    return MLW_OK;
}
