/*
 * kbuf: Kafka primitive types. See kbuf.h for the model and the encodings.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "base/kbuf.h"
#include "tandem/error.h"

bool kstr_eq(struct kstr a, const char *s)
{
    size_t n = strlen(s);
    return a.len >= 0 && (size_t)a.len == n && memcmp(a.p, s, n) == 0;
}

/* ---- reader ---------------------------------------------------------------------------------- */

static inline bool kr_need(struct kr *r, size_t n)
{
    if (r->err || kr_left(r) < n) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
        return false;
    }
    return true;
}

int8_t kr_i8(struct kr *r)
{
    if (!kr_need(r, 1))
        return 0;
    return (int8_t)*r->p++;
}

int16_t kr_i16(struct kr *r)
{
    if (!kr_need(r, 2))
        return 0;
    int16_t v = (int16_t)be16(r->p);
    r->p += 2;
    return v;
}

int32_t kr_i32(struct kr *r)
{
    if (!kr_need(r, 4))
        return 0;
    int32_t v = (int32_t)be32(r->p);
    r->p += 4;
    return v;
}

int64_t kr_i64(struct kr *r)
{
    if (!kr_need(r, 8))
        return 0;
    int64_t v = (int64_t)be64(r->p);
    r->p += 8;
    return v;
}

bool kr_bool(struct kr *r)
{
    return kr_i8(r) != 0;
}

static uint64_t kr_leb128(struct kr *r, int max_bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (!kr_need(r, 1))
            return 0;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return v;
    }
    r->err = TANDEM_EPROTO; /* too long */
    r->p = r->end;
    return 0;
}

uint32_t kr_uvarint(struct kr *r)
{
    uint64_t v = kr_leb128(r, 5);
    if (v > UINT32_MAX) {
        r->err = TANDEM_EPROTO;
        return 0;
    }
    return (uint32_t)v;
}

int32_t kr_varint(struct kr *r)
{
    uint32_t u = kr_uvarint(r);
    return (int32_t)((u >> 1) ^ -(u & 1));
}

int64_t kr_varlong(struct kr *r)
{
    uint64_t u = kr_leb128(r, 10);
    return (int64_t)((u >> 1) ^ -(u & 1));
}

void kr_skip(struct kr *r, size_t n)
{
    if (kr_need(r, n))
        r->p += n;
}

static struct kstr kr_take_str(struct kr *r, int64_t len)
{
    if (len < 0)
        return KSTR_NULL;
    if (len > INT32_MAX) { /* a compact length no buffer can hold: malformed, not null */
        r->err = TANDEM_EPROTO;
        r->p = r->end;
        return KSTR_NULL;
    }
    if (!kr_need(r, (size_t)len))
        return KSTR_NULL;
    struct kstr s = {(const char *)r->p, (int32_t)len};
    r->p += len;
    return s;
}

struct kstr kr_string(struct kr *r)
{
    int16_t len = kr_i16(r);
    if (len < -1) {
        r->err = TANDEM_EPROTO;
        return KSTR_NULL;
    }
    return kr_take_str(r, len);
}

struct kstr kr_compact_string(struct kr *r)
{
    uint32_t n = kr_uvarint(r);
    return kr_take_str(r, (int64_t)n - 1);
}

struct kbytes kr_bytes(struct kr *r)
{
    int32_t len = kr_i32(r);
    if (len < -1) {
        r->err = TANDEM_EPROTO;
        return (struct kbytes){NULL, -1};
    }
    struct kstr s = kr_take_str(r, len);
    return (struct kbytes){(const uint8_t *)s.p, s.len};
}

struct kbytes kr_compact_bytes(struct kr *r)
{
    uint32_t n = kr_uvarint(r);
    struct kstr s = kr_take_str(r, (int64_t)n - 1);
    return (struct kbytes){(const uint8_t *)s.p, s.len};
}

static int32_t kr_check_count(struct kr *r, int64_t count, size_t min_elem_size)
{
    if (r->err)
        return 0;
    if (count < -1) {
        r->err = TANDEM_EPROTO;
        return 0;
    }
    if (count > 0 && (uint64_t)count * (min_elem_size ? min_elem_size : 1) > kr_left(r)) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
        return 0;
    }
    return (int32_t)count;
}

int32_t kr_array(struct kr *r, size_t min_elem_size)
{
    return kr_check_count(r, kr_i32(r), min_elem_size);
}

int32_t kr_compact_array(struct kr *r, size_t min_elem_size)
{
    uint32_t n = kr_uvarint(r);
    return kr_check_count(r, (int64_t)n - 1, min_elem_size);
}

void kr_tagged_fields(struct kr *r)
{
    uint32_t n = kr_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)kr_uvarint(r); /* tag */
        uint32_t size = kr_uvarint(r);
        kr_skip(r, size);
    }
}

/* ---- writer ---------------------------------------------------------------------------------- */

void kw_init(struct kw *w, size_t initial_cap)
{
    memset(w, 0, sizeof(*w));
    w->cap = initial_cap ? initial_cap : 256;
    w->buf = xmalloc(w->cap);
}

void kw_cleanup(struct kw *w)
{
    free(w->buf);
    free(w->splices);
    memset(w, 0, sizeof(*w));
}

void kw_reset(struct kw *w)
{
    w->len = 0;
    w->nsplices = 0;
    w->ext_total = 0;
}

uint8_t *kw_reserve(struct kw *w, size_t n)
{
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n)
            cap *= 2;
        w->buf = xrealloc(w->buf, cap);
        w->cap = cap;
    }
    return w->buf + w->len;
}

void kw_raw(struct kw *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(kw_reserve(w, n), p, n);
    w->len += n;
}

void kw_i8(struct kw *w, int8_t v)
{
    *kw_reserve(w, 1) = (uint8_t)v;
    w->len++;
}

void kw_i16(struct kw *w, int16_t v)
{
    put_be16(kw_reserve(w, 2), (uint16_t)v);
    w->len += 2;
}

void kw_i32(struct kw *w, int32_t v)
{
    put_be32(kw_reserve(w, 4), (uint32_t)v);
    w->len += 4;
}

void kw_i64(struct kw *w, int64_t v)
{
    put_be64(kw_reserve(w, 8), (uint64_t)v);
    w->len += 8;
}

void kw_bool(struct kw *w, bool v)
{
    kw_i8(w, v ? 1 : 0);
}

static void kw_leb128(struct kw *w, uint64_t v)
{
    uint8_t *p = kw_reserve(w, 10);
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    w->len += n;
}

void kw_uvarint(struct kw *w, uint32_t v)
{
    kw_leb128(w, v);
}

void kw_varint(struct kw *w, int32_t v)
{
    kw_leb128(w, (uint32_t)((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void kw_varlong(struct kw *w, int64_t v)
{
    kw_leb128(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void kw_string(struct kw *w, struct kstr s)
{
    if (s.len < 0) {
        kw_i16(w, -1);
        return;
    }
    kw_i16(w, (int16_t)s.len);
    kw_raw(w, s.p, (size_t)s.len);
}

void kw_cstring(struct kw *w, const char *s)
{
    kw_string(w, s ? (struct kstr){s, (int32_t)strlen(s)} : KSTR_NULL);
}

void kw_compact_string(struct kw *w, struct kstr s)
{
    if (s.len < 0) {
        kw_uvarint(w, 0);
        return;
    }
    kw_uvarint(w, (uint32_t)s.len + 1);
    kw_raw(w, s.p, (size_t)s.len);
}

void kw_bytes(struct kw *w, struct kbytes b)
{
    kw_i32(w, b.len < 0 ? -1 : b.len);
    if (b.len > 0)
        kw_raw(w, b.p, (size_t)b.len);
}

void kw_compact_bytes(struct kw *w, struct kbytes b)
{
    kw_uvarint(w, b.len < 0 ? 0 : (uint32_t)b.len + 1);
    if (b.len > 0)
        kw_raw(w, b.p, (size_t)b.len);
}

void kw_array(struct kw *w, int32_t count)
{
    kw_i32(w, count);
}

void kw_compact_array(struct kw *w, int32_t count)
{
    kw_uvarint(w, count < 0 ? 0 : (uint32_t)count + 1);
}

void kw_empty_tagged_fields(struct kw *w)
{
    kw_uvarint(w, 0);
}

void kw_put_i32_at(struct kw *w, size_t at, int32_t v)
{
    put_be32(w->buf + at, (uint32_t)v);
}

void kw_splice(struct kw *w, const void *ext, uint32_t ext_len)
{
    if (w->nsplices == w->splices_cap) {
        w->splices_cap = w->splices_cap ? w->splices_cap * 2 : 8;
        w->splices = xrealloc(w->splices, (size_t)w->splices_cap * sizeof(*w->splices));
    }
    w->splices[w->nsplices++] = (struct kw_splice){w->len, ext, ext_len};
    w->ext_total += ext_len;
}
