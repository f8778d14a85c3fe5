/*
 * zipread.h - a minimal read-only ZIP reader over a buffer in memory (a
 * mapped file), enough for the archives torch.save() writes.
 *
 * What it reads: the end-of-central-directory record (searched backwards
 * over a comment of up to 64 KiB), the ZIP64 locator and end record when
 * the plain record's fields are saturated or a locator is present, every
 * central-directory entry (with its ZIP64 extra field), and each entry's
 * local header to find where the data starts (PyTorch pads local headers
 * with an extra field so data is 64-byte aligned). Every offset and length
 * is checked against the buffer size before it is used; an entry's local
 * name must equal its central name.
 *
 * What it refuses: split archives, encrypted entries, names with NUL bytes,
 * duplicate names. Compressed (deflate) entries are listed with their method
 * but their data cannot be used in place: zipread_entry_data() returns
 * MLW_EUNSUPPORTED for them (torch writes stored entries only).
 *
 * Errors name the archive (label) and, where there is one, the entry.
 * Thread: a parsed archive is immutable.
 */
#ifndef MLW_ML_ZIPREAD_H
#define MLW_ML_ZIPREAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ZIPREAD_METHOD_STORED 0
#define ZIPREAD_METHOD_DEFLATE 8

struct zipread_entry {
    char *name;             /* NUL-terminated copy; owned by the archive */
    uint16_t method;        /* ZIPREAD_METHOD_* or another ZIP method number */
    uint32_t crc32;         /* from the central directory */
    uint64_t csize;         /* bytes stored in the archive */
    uint64_t usize;         /* bytes once uncompressed */
    uint64_t data_offset;   /* of the stored bytes, from the start of the buffer */
};

struct zipread {
    char *label;                    /* copy of the label (for messages) */
    const uint8_t *buf;             /* borrowed: the whole archive */
    size_t len;
    struct zipread_entry *entries;  /* sorted by name */
    size_t n_entries;
    int zip64;                      /* 1 if a ZIP64 end record was used */
};

/* 1 if buf starts like a ZIP archive (a local header or an empty archive). */
int zipread_is_zip(const void *buf, size_t len);

/*
** Parse the archive in buf[0..len). `buf` must outlive *z; `label` (a path)
** is copied for messages. Returns MLW_OK and fills *z, released with
** zipread_close(). On failure *z is empty and err says what is wrong:
** MLW_EFORMAT (malformed, truncated), MLW_EUNSUPPORTED (split/encrypted),
** MLW_ENOMEM.
*/
int zipread_parse(const void *buf, size_t len, const char *label, struct zipread *z,
                  struct mlw_err *err);

/* Free what zipread_parse() allocated. Safe on a zeroed struct. */
void zipread_close(struct zipread *z);

/* The entry called `name`, or NULL. O(log n). */
const struct zipread_entry *zipread_find(const struct zipread *z, const char *name);

/*
** The bytes of a stored entry, in place: sets *data and *len (= usize).
** MLW_EUNSUPPORTED for a compressed entry. The range was bounds-checked by
** zipread_parse().
*/
int zipread_entry_data(const struct zipread *z, const struct zipread_entry *e,
                       const uint8_t **data, size_t *len, struct mlw_err *err);

/* CRC-32 (the ZIP polynomial, 0xEDB88320 reflected) of n bytes, continuing crc
 * (start with 0). */
uint32_t zipread_crc32(uint32_t crc, const void *p, size_t n);

#endif
