/*
 * zipread.c - read-only ZIP archive index over a buffer; see zipread.h.
 *
 * Record layouts (APPNOTE.TXT 6.3): all integers little-endian.
 *   end of central directory   sig 0x06054b50, 22 bytes + comment
 *   ZIP64 end locator          sig 0x07064b50, 20 bytes, just before the above
 *   ZIP64 end record           sig 0x06064b50, 56 bytes + extensible data
 *   central directory header   sig 0x02014b50, 46 bytes + name + extra + comment
 *   local file header          sig 0x04034b50, 30 bytes + name + extra
 * Invariant after zipread_parse(): for every entry,
 *   data_offset + csize <= len, and entries are sorted by unique names.
 */
#include "ml/zipread.h"

#include <stdlib.h>
#include <string.h>

#define ZR_SIG_LOCAL 0x04034b50u
#define ZR_SIG_CENTRAL 0x02014b50u
#define ZR_SIG_EOCD 0x06054b50u
#define ZR_SIG_EOCD64 0x06064b50u
#define ZR_SIG_LOC64 0x07064b50u
#define ZR_EOCD_LEN 22u
#define ZR_LOC64_LEN 20u
#define ZR_EOCD64_LEN 56u
#define ZR_CENTRAL_LEN 46u
#define ZR_LOCAL_LEN 30u

static uint16_t zr_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t zr_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t zr_u64(const uint8_t *p) { return zr_u32(p) | ((uint64_t)zr_u32(p + 4) << 32); }

uint32_t zipread_crc32(uint32_t crc, const void *p, size_t n)
{
    static uint32_t table[256];
    static int ready; /* benign race: every thread writes the same values */
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ b[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

int zipread_is_zip(const void *buf, size_t len)
{
    if (len < 4)
        return 0;
    uint32_t sig = zr_u32(buf);
    return sig == ZR_SIG_LOCAL || sig == ZR_SIG_EOCD;
}

static int zr_cmp_name(const void *a, const void *b)
{
    const struct zipread_entry *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Offset of the end-of-central-directory record, or -1. The last one wins:
 * scan backwards over at most a 64 KiB comment. */
static long long zr_find_eocd(const uint8_t *p, size_t len)
{
    if (len < ZR_EOCD_LEN)
        return -1;
    size_t last = len - ZR_EOCD_LEN;
    size_t first = last > 65535u ? last - 65535u : 0;
    for (size_t i = last + 1; i-- > first;) {
        if (zr_u32(p + i) == ZR_SIG_EOCD && (size_t)zr_u16(p + i + 20) <= len - i - ZR_EOCD_LEN)
            return (long long)i;
    }
    return -1;
}

/*
** Apply the ZIP64 extended-information extra field (id 0x0001) of a central
** header: it holds, in this order, the fields whose 32-bit value is saturated.
*/
static int zr_zip64_extra(const uint8_t *x, size_t xlen, uint64_t *usize, uint64_t *csize,
                          uint64_t *lofs, const char *label, const char *name,
                          struct mlw_err *err)
{
    size_t i = 0;
    while (i + 4 <= xlen) {
        uint16_t id = zr_u16(x + i), sz = zr_u16(x + i + 2);
        if (sz > xlen - i - 4)
            return mlw_err_set(err, MLW_EFORMAT,
                               "%s: entry \"%.200s\": extra field runs past its end", label,
                               name);
        if (id == 0x0001) {
            const uint8_t *f = x + i + 4;
            size_t left = sz;
            uint64_t *want[3] = {usize, csize, lofs};
            for (int k = 0; k < 3; k++) {
                if (*want[k] != 0xffffffffu)
                    continue;
                if (left < 8)
                    return mlw_err_set(err, MLW_EFORMAT,
                                       "%s: entry \"%.200s\": ZIP64 extra field too short",
                                       label, name);
                *want[k] = zr_u64(f);
                f += 8;
                left -= 8;
            }
            return MLW_OK;
        }
        i += 4 + (size_t)sz;
    }
    if (*usize == 0xffffffffu || *csize == 0xffffffffu || *lofs == 0xffffffffu)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: entry \"%.200s\": 32-bit size or offset is saturated but there "
                           "is no ZIP64 extra field", label, name);
    return MLW_OK;
}

/* Parse central header at p[*pos], append to z->entries. */
static int zr_parse_central(struct zipread *z, size_t *pos, size_t cd_end, struct mlw_err *err)
{
    const uint8_t *p = z->buf;
    size_t at = *pos;
    if (cd_end - at < ZR_CENTRAL_LEN || zr_u32(p + at) != ZR_SIG_CENTRAL)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: central directory entry %zu at byte %zu is malformed or "
                           "truncated", z->label, z->n_entries, at);
    const uint8_t *h = p + at;
    uint16_t flags = zr_u16(h + 8), method = zr_u16(h + 10);
    uint32_t crc = zr_u32(h + 16);
    uint64_t csize = zr_u32(h + 20), usize = zr_u32(h + 24);
    size_t nlen = zr_u16(h + 28), xlen = zr_u16(h + 30), clen = zr_u16(h + 32);
    uint16_t disk = zr_u16(h + 34);
    uint64_t lofs = zr_u32(h + 42);
    if (nlen + xlen + clen > cd_end - at - ZR_CENTRAL_LEN)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: central directory entry %zu runs past the directory's end",
                           z->label, z->n_entries);
    const char *raw = (const char *)h + ZR_CENTRAL_LEN;
    if (memchr(raw, '\0', nlen) != NULL || nlen == 0)
        return mlw_err_set(err, MLW_EFORMAT, "%s: central directory entry %zu has an empty "
                           "name or a NUL byte in its name", z->label, z->n_entries);
    struct zipread_entry *e = &z->entries[z->n_entries];
    e->name = malloc(nlen + 1);
    if (e->name == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", z->label);
    memcpy(e->name, raw, nlen);
    e->name[nlen] = '\0';
    z->n_entries++;

    int rc = zr_zip64_extra(h + ZR_CENTRAL_LEN + nlen, xlen, &usize, &csize, &lofs, z->label,
                            e->name, err);
    if (rc != MLW_OK)
        return rc;
    if (disk != 0 && disk != 0xffffu)
        return mlw_err_set(err, MLW_EUNSUPPORTED,
                           "%s: entry \"%.200s\" is on disk %u (split archives are not "
                           "supported)", z->label, e->name, disk);
    if (flags & 0x0001u)
        return mlw_err_set(err, MLW_EUNSUPPORTED, "%s: entry \"%.200s\" is encrypted", z->label,
                           e->name);
    if (method == ZIPREAD_METHOD_STORED && csize != usize)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: entry \"%.200s\" is stored but its sizes differ (%llu vs %llu)",
                           z->label, e->name, (unsigned long long)csize,
                           (unsigned long long)usize);

    /* The local header: its name must match; the data follows its extra field. */
    if (lofs > z->len || z->len - lofs < ZR_LOCAL_LEN || zr_u32(p + lofs) != ZR_SIG_LOCAL)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: entry \"%.200s\": no local header at byte %llu (truncated "
                           "file?)", z->label, e->name, (unsigned long long)lofs);
    const uint8_t *l = p + lofs;
    size_t lnlen = zr_u16(l + 26), lxlen = zr_u16(l + 28);
    if (lnlen + lxlen > z->len - lofs - ZR_LOCAL_LEN)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: entry \"%.200s\": local header runs past the end of the file "
                           "(truncated file?)", z->label, e->name);
    if (lnlen != nlen || memcmp(l + ZR_LOCAL_LEN, raw, nlen) != 0)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: entry \"%.200s\": local header names another file", z->label,
                           e->name);
    uint64_t data = lofs + ZR_LOCAL_LEN + lnlen + lxlen;
    if (csize > z->len - data)
        return mlw_err_set(err, MLW_EFORMAT,
                           "%s: entry \"%.200s\": %llu bytes at byte %llu run past the end of "
                           "the %zu-byte file (truncated file?)", z->label, e->name,
                           (unsigned long long)csize, (unsigned long long)data, z->len);
    e->method = method;
    e->crc32 = crc;
    e->csize = csize;
    e->usize = usize;
    e->data_offset = data;
    *pos = at + ZR_CENTRAL_LEN + nlen + xlen + clen;
    return MLW_OK;
}

int zipread_parse(const void *buf, size_t len, const char *label, struct zipread *z,
                  struct mlw_err *err)
{
    memset(z, 0, sizeof *z);
    if (label == NULL)
        label = "<memory>";
    z->label = strdup(label);
    if (z->label == NULL)
        return mlw_err_set(err, MLW_ENOMEM, "%s: out of memory", label);
    z->buf = buf;
    z->len = len;
    const uint8_t *p = buf;
    int rc;

    long long eocd_at = zr_find_eocd(p, len);
    if (eocd_at < 0) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: no ZIP end-of-central-directory record (truncated file or not a "
                         "zip archive)", label);
        goto fail;
    }
    size_t eocd = (size_t)eocd_at;
    uint64_t disk = zr_u16(p + eocd + 4), cd_disk = zr_u16(p + eocd + 6);
    uint64_t n_disk = zr_u16(p + eocd + 8), n_total = zr_u16(p + eocd + 10);
    uint64_t cd_size = zr_u32(p + eocd + 12), cd_ofs = zr_u32(p + eocd + 16);
    size_t cd_limit = eocd; /* the directory ends before the end records */

    if (eocd >= ZR_LOC64_LEN && zr_u32(p + eocd - ZR_LOC64_LEN) == ZR_SIG_LOC64) {
        const uint8_t *loc = p + eocd - ZR_LOC64_LEN;
        uint64_t rec = zr_u64(loc + 8);
        if (zr_u32(loc + 4) != 0 || zr_u32(loc + 16) > 1) {
            rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: split ZIP64 archive", label);
            goto fail;
        }
        if (rec > eocd - ZR_LOC64_LEN || eocd - ZR_LOC64_LEN - rec < ZR_EOCD64_LEN ||
            zr_u32(p + rec) != ZR_SIG_EOCD64) {
            rc = mlw_err_set(err, MLW_EFORMAT,
                             "%s: ZIP64 locator points to byte %llu, where there is no ZIP64 "
                             "end record", label, (unsigned long long)rec);
            goto fail;
        }
        const uint8_t *r = p + rec;
        disk = zr_u32(r + 16);
        cd_disk = zr_u32(r + 20);
        n_disk = zr_u64(r + 24);
        n_total = zr_u64(r + 32);
        cd_size = zr_u64(r + 40);
        cd_ofs = zr_u64(r + 48);
        cd_limit = (size_t)rec;
        z->zip64 = 1;
    } else if (n_total == 0xffffu || cd_size == 0xffffffffu || cd_ofs == 0xffffffffu) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: end record fields are saturated but there is no ZIP64 locator",
                         label);
        goto fail;
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n_total) {
        rc = mlw_err_set(err, MLW_EUNSUPPORTED, "%s: split (multi-disk) ZIP archive", label);
        goto fail;
    }
    if (cd_ofs > cd_limit || cd_size > cd_limit - cd_ofs) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: central directory [%llu, +%llu) lies outside the file "
                         "(truncated file?)", label, (unsigned long long)cd_ofs,
                         (unsigned long long)cd_size);
        goto fail;
    }
    if (n_total > cd_size / ZR_CENTRAL_LEN) {
        rc = mlw_err_set(err, MLW_EFORMAT,
                         "%s: %llu entries cannot fit in a %llu-byte central directory", label,
                         (unsigned long long)n_total, (unsigned long long)cd_size);
        goto fail;
    }
    z->entries = calloc(n_total ? (size_t)n_total : 1, sizeof *z->entries);
    if (z->entries == NULL) {
        rc = mlw_err_set(err, MLW_ENOMEM, "%s: out of memory for %llu entries", label,
                         (unsigned long long)n_total);
        goto fail;
    }
    size_t pos = (size_t)cd_ofs, cd_end = (size_t)(cd_ofs + cd_size);
    for (uint64_t i = 0; i < n_total; i++) {
        rc = zr_parse_central(z, &pos, cd_end, err);
        if (rc != MLW_OK)
            goto fail;
    }
    qsort(z->entries, z->n_entries, sizeof *z->entries, zr_cmp_name);
    for (size_t i = 1; i < z->n_entries; i++) {
        if (strcmp(z->entries[i - 1].name, z->entries[i].name) == 0) {
            rc = mlw_err_set(err, MLW_EFORMAT, "%s: entry \"%.200s\" appears twice", label,
                             z->entries[i].name);
            goto fail;
        }
    }
    return MLW_OK;
fail:
    zipread_close(z);
    return rc;
}

void zipread_close(struct zipread *z)
{
    if (z == NULL)
        return;
    for (size_t i = 0; i < z->n_entries; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z->label);
    memset(z, 0, sizeof *z);
}

const struct zipread_entry *zipread_find(const struct zipread *z, const char *name)
{
    size_t lo = 0, hi = z->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, z->entries[mid].name);
        if (c == 0)
            return &z->entries[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int zipread_entry_data(const struct zipread *z, const struct zipread_entry *e,
                       const uint8_t **data, size_t *len, struct mlw_err *err)
{
    *data = NULL;
    *len = 0;
    if (e->method != ZIPREAD_METHOD_STORED)
        return mlw_err_set(err, MLW_EUNSUPPORTED,
                           "%s: entry \"%.200s\" is compressed (method %u); only stored "
                           "entries, as torch.save writes them, can be read", z->label, e->name,
                           e->method);
    *data = z->buf + e->data_offset;
    *len = (size_t)e->usize;
    return MLW_OK;
}
