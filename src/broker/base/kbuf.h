/*
 * kbuf: the Kafka protocol's primitive types, read from and written to byte buffers.
 *
 * The reader (struct kr) is a cursor over borrowed bytes with a sticky error: every getter
 * returns 0 / an empty value once the input is exhausted or malformed, and kr->err says so, so a
 * decoder reads a whole message straight down and checks kr->err once at the end. Nothing here
 * allocates; lengths read from the wire are checked against the bytes that remain before they are
 * used, so a hostile length can never make a decoder allocate or read out of bounds.
 *
 * The writer (struct kw) appends to a growable buffer. A writer can also carry "splices": places
 * where bytes that the writer does not own (record batches in a segment file, struct file_slice)
 * are to be sent between two stretches of the buffer, so Fetch responses go out with sendfile.
 *
 * kbuf lives in base/, below the codecs, because storage (segment indexes, producer snapshots),
 * the offsets log and the network loop use its reader, writer and big-endian helpers as well.
 *
 * Encodings (Kafka protocol guide, "Protocol Primitive Types"):
 *   INT8/16/32/64      big-endian two's complement
 *   UNSIGNED_VARINT    LEB128, at most 5 bytes for 32 bits
 *   VARINT/VARLONG     zigzag + LEB128 (record fields inside a record batch)
 *   STRING             INT16 length, then bytes; NULLABLE_STRING: length -1 is null
 *   COMPACT_STRING     UNSIGNED_VARINT length+1, then bytes; 0 is null
 *   BYTES              INT32 length, then bytes; COMPACT_BYTES: UNSIGNED_VARINT length+1
 *   ARRAY              INT32 count (-1 null); COMPACT_ARRAY: UNSIGNED_VARINT count+1
 *   TAGGED_FIELDS      UNSIGNED_VARINT count, then (tag, size, bytes) each
 */
#ifndef TANDEM_BASE_KBUF_H
#define TANDEM_BASE_KBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed string or byte range; len -1 means null. Not NUL-terminated. */
struct kstr {
    const char *p;
    int32_t len;
};

struct kbytes {
    const uint8_t *p;
    int32_t len;
};

#define KSTR_NULL ((struct kstr){NULL, -1})
#define KSTR(s)   ((struct kstr){(s), (int32_t)sizeof(s) - 1})

bool kstr_eq(struct kstr a, const char *s);

/* ---- reader ---------------------------------------------------------------------------------- */

struct kr {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* 0, or TANDEM_EPROTO once anything was malformed or truncated */
};

static inline void kr_init(struct kr *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p + len;
    r->err = 0;
}

static inline size_t kr_left(const struct kr *r)
{
    return (size_t)(r->end - r->p);
}

int8_t kr_i8(struct kr *r);
int16_t kr_i16(struct kr *r);
int32_t kr_i32(struct kr *r);
int64_t kr_i64(struct kr *r);
bool kr_bool(struct kr *r);
uint32_t kr_uvarint(struct kr *r);
int32_t kr_varint(struct kr *r);  /* zigzag */
int64_t kr_varlong(struct kr *r); /* zigzag */
void kr_skip(struct kr *r, size_t n);

/* Strings and bytes borrow from the input. The *_compact variants take flexible encodings. */
struct kstr kr_string(struct kr *r);          /* nullable allowed: len -1 */
struct kstr kr_compact_string(struct kr *r);  /* nullable allowed: len -1 */
struct kbytes kr_bytes(struct kr *r);         /* nullable allowed: len -1 */
struct kbytes kr_compact_bytes(struct kr *r); /* nullable allowed: len -1 */

/* Array counts: -1 for a null array. A count larger than the bytes left (each element takes at
 * least min_elem_size bytes) sets the error, so callers may allocate count elements safely. */
int32_t kr_array(struct kr *r, size_t min_elem_size);
int32_t kr_compact_array(struct kr *r, size_t min_elem_size);
/* Skips a TAGGED_FIELDS section. */
void kr_tagged_fields(struct kr *r);

/* ---- writer ---------------------------------------------------------------------------------- */

struct kw_splice {
    size_t at;        /* buffer offset the external bytes follow */
    const void *ext;  /* caller's handle to the external bytes (a struct file_slice *) */
    uint32_t ext_len; /* how many external bytes */
};

struct kw {
    uint8_t *buf;
    size_t len;
    size_t cap;
    struct kw_splice *splices;
    int nsplices;
    int splices_cap;
    uint64_t ext_total; /* sum of ext_len over splices */
};

void kw_init(struct kw *w, size_t initial_cap);
void kw_cleanup(struct kw *w);
void kw_reset(struct kw *w);
/* Makes room for n more bytes and returns a pointer to them (len is not advanced). */
uint8_t *kw_reserve(struct kw *w, size_t n);
void kw_raw(struct kw *w, const void *p, size_t n);
void kw_i8(struct kw *w, int8_t v);
void kw_i16(struct kw *w, int16_t v);
void kw_i32(struct kw *w, int32_t v);
void kw_i64(struct kw *w, int64_t v);
void kw_bool(struct kw *w, bool v);
void kw_uvarint(struct kw *w, uint32_t v);
void kw_varint(struct kw *w, int32_t v);
void kw_varlong(struct kw *w, int64_t v);
void kw_string(struct kw *w, struct kstr s);  /* len -1 writes null */
void kw_cstring(struct kw *w, const char *s); /* NULL writes null */
void kw_compact_string(struct kw *w, struct kstr s);
void kw_bytes(struct kw *w, struct kbytes b);
void kw_compact_bytes(struct kw *w, struct kbytes b);
void kw_array(struct kw *w, int32_t count);
void kw_compact_array(struct kw *w, int32_t count);
void kw_empty_tagged_fields(struct kw *w);
/* Overwrites 4 bytes at an earlier offset (length back-patching). */
void kw_put_i32_at(struct kw *w, size_t at, int32_t v);
/* Records that ext_len external bytes go on the wire at the current position. */
void kw_splice(struct kw *w, const void *ext, uint32_t ext_len);

/* Big-endian loads and stores for fixed layouts (record batch headers, index entries). */
static inline uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}
static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

#endif
