/*
 * The schema engine: reads and writes any message described by a struct schema_message (see
 * schema.h for the model and the wire rules). It is a recursive walk over the field table: one
 * switch per field, so the cost per field is a branch and the primitive read or write that a
 * hand-written codec would do anyway (measured against the hand-written codecs it replaced:
 * bench/broker, docs/internals/broker-protocol.md).
 *
 * Reading uses kbuf's sticky-error reader: a field read after an error returns zeros and the
 * error is checked where it matters (before an allocation) and once at the end.
 */
#include "protocol/schema.h"

#include <stdbool.h>
#include <string.h>

#include "tandem/error.h"

/* The per-field functions are inlined into the struct walks: one call per struct, not per field
 * (what keeps the engine's cost near the hand-written codecs', bench/broker/codec_bench.c). */
#define SCHEMA_INLINE static inline __attribute__((always_inline))

#define AT(base, off, type)  ((type *)((char *)(base) + (off)))
#define CAT(base, off, type) ((const type *)((const char *)(base) + (off)))

static inline bool field_in(const struct schema_field *f, int16_t v)
{
    return v >= f->vmin && v <= f->vmax;
}

/* Smallest wire size of one element of struct s at version v (flexible or not): what a count
 * read from the wire is checked against before anything is allocated. Never 0. */
static size_t struct_min_size(const struct schema_struct *s, int16_t v, bool flex)
{
    size_t n = flex ? 1 : 0; /* the tagged-field count */
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        if (!field_in(f, v) || (flex && f->tag >= 0))
            continue;
        switch (f->type) {
        case ST_I8:
        case ST_BOOL:
            n += 1;
            break;
        case ST_I16:
            n += 2;
            break;
        case ST_I32:
            n += 4;
            break;
        case ST_I64:
            n += 8;
            break;
        case ST_UUID:
            n += 16;
            break;
        case ST_STRING:
            n += flex ? 1 : 2;
            break;
        default: /* bytes, records, arrays */
            n += flex ? 1 : 4;
            break;
        }
    }
    return n ? n : 1;
}

static void fail(struct kr *r)
{
    r->err = TANDEM_EPROTO;
    r->p = r->end;
}

/* ---- decoding -------------------------------------------------------------------------------- */

struct dec {
    struct kr *r;
    struct arena *a;
    int16_t v;
    bool flex;
    int rc; /* TANDEM_ETOOLARGE from the arena; protocol errors live in r->err */
};

static int decode_struct(struct dec *d, const struct schema_struct *s, void *out);

static void set_default(const struct schema_field *f, void *out)
{
    if (f->off == SCHEMA_NONE)
        return;
    switch (f->type) {
    case ST_I8:
        *AT(out, f->off, int8_t) = (int8_t)f->dflt;
        break;
    case ST_I16:
        *AT(out, f->off, int16_t) = (int16_t)f->dflt;
        break;
    case ST_I32:
        *AT(out, f->off, int32_t) = (int32_t)f->dflt;
        break;
    case ST_I64:
        *AT(out, f->off, int64_t) = f->dflt;
        break;
    case ST_BOOL:
        *AT(out, f->off, bool) = f->dflt != 0;
        break;
    case ST_UUID:
        memset(AT(out, f->off, uint8_t), 0, 16);
        break;
    case ST_STRING:
        *AT(out, f->off, struct kstr) = f->dflt ? KSTR("") : KSTR_NULL;
        break;
    case ST_BYTES:
    case ST_RECORDS:
        *AT(out, f->off, struct kbytes) = (struct kbytes){NULL, -1};
        break;
    default: /* arrays */
        *AT(out, f->n_off, int32_t) = (int32_t)f->dflt;
        *AT(out, f->off, void *) = NULL;
        break;
    }
}

/* An array count: -1 for null (only where nullable), validated against the bytes left. */
static int32_t decode_count(struct dec *d, const struct schema_field *f, size_t min_elem)
{
    int32_t n = d->flex ? kr_compact_array(d->r, min_elem) : kr_array(d->r, min_elem);
    if (n < 0 && d->v < f->nullable)
        fail(d->r);
    if (n == 0 && (f->flags & SF_EMPTY_IS_NULL) && d->v < f->nullable)
        n = -1;
    return d->r->err ? 0 : n;
}

static void *decode_alloc(struct dec *d, int32_t n, size_t size)
{
    if (n <= 0 || d->r->err)
        return NULL;
    void *p = arena_array(d->a, (size_t)n, size);
    if (!p)
        d->rc = TANDEM_ETOOLARGE;
    return p;
}

static struct kstr decode_string(struct dec *d, const struct schema_field *f)
{
    struct kstr s = d->flex ? kr_compact_string(d->r) : kr_string(d->r);
    if (s.len < 0 && d->v < f->nullable && !d->r->err)
        fail(d->r);
    return s;
}

SCHEMA_INLINE void decode_field(struct dec *d, const struct schema_field *f, void *out)
{
    struct kr *r = d->r;
    bool keep = f->off != SCHEMA_NONE;
    switch (f->type) {
    case ST_I8: {
        int8_t x = kr_i8(r);
        if (keep)
            *AT(out, f->off, int8_t) = x;
        break;
    }
    case ST_I16: {
        int16_t x = kr_i16(r);
        if (keep)
            *AT(out, f->off, int16_t) = x;
        break;
    }
    case ST_I32: {
        int32_t x = kr_i32(r);
        if (keep)
            *AT(out, f->off, int32_t) = x;
        break;
    }
    case ST_I64: {
        int64_t x = kr_i64(r);
        if (keep)
            *AT(out, f->off, int64_t) = x;
        break;
    }
    case ST_BOOL: {
        bool x = kr_bool(r);
        if (keep)
            *AT(out, f->off, bool) = x;
        break;
    }
    case ST_UUID:
        if (keep && kr_left(r) >= 16)
            memcpy(AT(out, f->off, uint8_t), r->p, 16);
        kr_skip(r, 16);
        break;
    case ST_STRING: {
        struct kstr s = decode_string(d, f);
        if (keep)
            *AT(out, f->off, struct kstr) = s;
        break;
    }
    case ST_BYTES:
    case ST_RECORDS: {
        struct kbytes b = d->flex ? kr_compact_bytes(r) : kr_bytes(r);
        if (b.len < 0 && d->v < f->nullable && !r->err)
            fail(r);
        if (keep)
            *AT(out, f->off, struct kbytes) = b;
        break;
    }
    case ST_ARRAY: {
        int32_t n = decode_count(d, f, struct_min_size(f->elem, d->v, d->flex));
        /* A dropped array (SCHEMA_NONE) is still decoded, into arena memory that is discarded:
         * its elements must be well-formed too. */
        char *elems = decode_alloc(d, n, f->elem->size);
        if (d->rc)
            return;
        for (int32_t i = 0; i < n && !r->err && !d->rc; i++)
            decode_struct(d, f->elem, elems + (size_t)i * f->elem->size);
        if (keep) {
            *AT(out, f->n_off, int32_t) = n;
            *AT(out, f->off, void *) = elems;
        }
        break;
    }
    case ST_ARRAY_I32:
    case ST_ARRAY_I64:
    case ST_ARRAY_STR: {
        size_t esz = f->type == ST_ARRAY_I32 ? 4 : f->type == ST_ARRAY_I64 ? 8 : (d->flex ? 1 : 2);
        size_t csz = f->type == ST_ARRAY_I32   ? sizeof(int32_t)
                     : f->type == ST_ARRAY_I64 ? sizeof(int64_t)
                                               : sizeof(struct kstr);
        int32_t n = decode_count(d, f, esz);
        char *elems = keep ? decode_alloc(d, n, csz) : NULL;
        if (d->rc)
            return;
        for (int32_t i = 0; i < n && !r->err; i++) {
            if (f->type == ST_ARRAY_I32) {
                int32_t x = kr_i32(r);
                if (elems)
                    ((int32_t *)elems)[i] = x;
            } else if (f->type == ST_ARRAY_I64) {
                int64_t x = kr_i64(r);
                if (elems)
                    ((int64_t *)elems)[i] = x;
            } else {
                struct kstr s = d->flex ? kr_compact_string(r) : kr_string(r);
                if (s.len < 0)
                    fail(r);
                if (elems)
                    ((struct kstr *)elems)[i] = s;
            }
        }
        if (keep) {
            *AT(out, f->n_off, int32_t) = n;
            *AT(out, f->off, void *) = elems;
        }
        break;
    }
    default:
        fail(r);
        break;
    }
}

static const struct schema_field *find_tag(const struct schema_struct *s, int16_t v, uint32_t tag)
{
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        if (f->tag >= 0 && (uint32_t)f->tag == tag && field_in(f, v))
            return f;
    }
    return NULL;
}

/* The TAGGED_FIELDS section of struct s: known tags into out, unknown ones skipped. */
static void decode_tagged(struct dec *d, const struct schema_struct *s, void *out)
{
    struct kr *r = d->r;
    uint32_t n = kr_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        uint32_t tag = kr_uvarint(r);
        uint32_t size = kr_uvarint(r);
        if (r->err || size > kr_left(r)) {
            fail(r);
            return;
        }
        const struct schema_field *f = find_tag(s, d->v, tag);
        if (!f) {
            kr_skip(r, size);
            continue;
        }
        struct kr sub;
        kr_init(&sub, r->p, size);
        struct dec sd = *d;
        sd.r = &sub;
        decode_field(&sd, f, out);
        d->rc = sd.rc;
        if (d->rc)
            return;
        if (sub.err || kr_left(&sub) != 0) {
            fail(r);
            return;
        }
        r->p += size;
    }
}

static int decode_struct(struct dec *d, const struct schema_struct *s, void *out)
{
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        if (!field_in(f, d->v) || f->tag >= 0) { /* tagged ones: decode_tagged */
            set_default(f, out);
            continue;
        }
        decode_field(d, f, out);
        if (d->rc)
            return d->rc;
    }
    if (d->flex)
        decode_tagged(d, s, out);
    return d->rc;
}

int schema_decode(const struct schema_message *m, struct kr *r, int16_t version, struct arena *a,
                  void *out)
{
    if (version < m->vmin || version > m->vmax)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, m->body.size);
    struct dec d = {r, a, version, version >= m->flexible_from, 0};
    int rc = decode_struct(&d, &m->body, out);
    if (rc)
        return rc;
    if (!r->err && kr_left(r) != 0)
        fail(r);
    return r->err ? TANDEM_EPROTO : 0;
}

/* ---- encoding -------------------------------------------------------------------------------- */

#define NEVER_NULL SCHEMA_VMAX

struct enc {
    struct kw *w;
    int16_t v;
    bool flex;
};

static void encode_struct(const struct enc *e, const struct schema_struct *s, const void *in);

/* A null where the version allows none is written empty (never an invalid message). */
static void encode_string(const struct enc *e, struct kstr s, int8_t nullable)
{
    if (s.len < 0 && e->v < nullable)
        s = KSTR("");
    if (e->flex)
        kw_compact_string(e->w, s);
    else
        kw_string(e->w, s);
}

static void encode_count(const struct enc *e, const struct schema_field *f, int32_t n)
{
    if (n < 0 && e->v < f->nullable) /* SF_EMPTY_IS_NULL, or a null the version lacks */
        n = 0;
    if (e->flex)
        kw_compact_array(e->w, n);
    else
        kw_array(e->w, n);
}

/* Writes field f of in; a field not stored (SCHEMA_NONE) is written as its default. */
SCHEMA_INLINE void encode_field(const struct enc *e, const struct schema_field *f, const void *in)
{
    struct kw *w = e->w;
    bool have = f->off != SCHEMA_NONE;
    switch (f->type) {
    case ST_I8:
        kw_i8(w, have ? *CAT(in, f->off, int8_t) : (int8_t)f->dflt);
        break;
    case ST_I16:
        kw_i16(w, have ? *CAT(in, f->off, int16_t) : (int16_t)f->dflt);
        break;
    case ST_I32:
        kw_i32(w, have ? *CAT(in, f->off, int32_t) : (int32_t)f->dflt);
        break;
    case ST_I64:
        kw_i64(w, have ? *CAT(in, f->off, int64_t) : f->dflt);
        break;
    case ST_BOOL:
        kw_bool(w, have ? *CAT(in, f->off, bool) : f->dflt != 0);
        break;
    case ST_UUID: {
        static const uint8_t zero[16];
        kw_raw(w, have ? CAT(in, f->off, uint8_t) : zero, 16);
        break;
    }
    case ST_STRING:
        encode_string(e,
                      have      ? *CAT(in, f->off, struct kstr)
                      : f->dflt ? KSTR("")
                                : KSTR_NULL,
                      f->nullable);
        break;
    case ST_BYTES:
    case ST_RECORDS: {
        const void *ext = have && f->ext_off ? *CAT(in, f->ext_off, void *const) : NULL;
        if (ext) {
            uint32_t len = *CAT(in, f->n_off, uint32_t);
            if (e->flex)
                kw_uvarint(w, len + 1);
            else
                kw_i32(w, (int32_t)len);
            kw_splice(w, ext, len);
            break;
        }
        struct kbytes b = have ? *CAT(in, f->off, struct kbytes) : (struct kbytes){NULL, -1};
        if (b.len < 0 && e->v < f->nullable)
            b = (struct kbytes){NULL, 0};
        if (e->flex)
            kw_compact_bytes(w, b);
        else
            kw_bytes(w, b);
        break;
    }
    case ST_ARRAY: {
        int32_t n = have ? *CAT(in, f->n_off, int32_t) : (int32_t)f->dflt;
        encode_count(e, f, n);
        if (n < 0)
            break;
        const char *elems = have ? *CAT(in, f->off, char *const) : NULL;
        for (int32_t i = 0; i < n; i++)
            encode_struct(e, f->elem, elems + (size_t)i * f->elem->size);
        break;
    }
    case ST_ARRAY_I32:
    case ST_ARRAY_I64:
    case ST_ARRAY_STR: {
        int32_t n = have ? *CAT(in, f->n_off, int32_t) : (int32_t)f->dflt;
        encode_count(e, f, n);
        const void *elems = have ? *CAT(in, f->off, void *const) : NULL;
        for (int32_t i = 0; i < n; i++) {
            if (f->type == ST_ARRAY_I32)
                kw_i32(w, ((const int32_t *)elems)[i]);
            else if (f->type == ST_ARRAY_I64)
                kw_i64(w, ((const int64_t *)elems)[i]);
            else
                encode_string(e, ((const struct kstr *)elems)[i], NEVER_NULL);
        }
        break;
    }
    default:
        break;
    }
}

/* Whether tagged field f of in holds its default (then it is not written). Only scalars and
 * strings are tagged in the tables (schema.h). */
static bool tagged_is_default(const struct schema_field *f, const void *in)
{
    if (f->off == SCHEMA_NONE)
        return true;
    switch (f->type) {
    case ST_I8:
        return *CAT(in, f->off, int8_t) == (int8_t)f->dflt;
    case ST_I16:
        return *CAT(in, f->off, int16_t) == (int16_t)f->dflt;
    case ST_I32:
        return *CAT(in, f->off, int32_t) == (int32_t)f->dflt;
    case ST_I64:
        return *CAT(in, f->off, int64_t) == f->dflt;
    case ST_BOOL:
        return *CAT(in, f->off, bool) == (f->dflt != 0);
    case ST_STRING: {
        struct kstr s = *CAT(in, f->off, struct kstr);
        return f->dflt ? s.len == 0 : s.len < 0;
    }
    default:
        return true;
    }
}

static void encode_tagged(const struct enc *e, const struct schema_struct *s, const void *in)
{
    uint32_t n = 0;
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        if (f->tag >= 0 && field_in(f, e->v) && !tagged_is_default(f, in))
            n++;
    }
    kw_uvarint(e->w, n);
    if (n == 0)
        return;
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        if (f->tag < 0 || !field_in(f, e->v) || tagged_is_default(f, in))
            continue;
        /* Encode into a scratch writer to learn the size, then copy: tagged values are small. */
        struct kw tmp;
        kw_init(&tmp, 64);
        struct enc te = {&tmp, e->v, e->flex};
        encode_field(&te, f, in);
        kw_uvarint(e->w, (uint32_t)f->tag);
        kw_uvarint(e->w, (uint32_t)tmp.len);
        kw_raw(e->w, tmp.buf, tmp.len);
        kw_cleanup(&tmp);
    }
}

static void encode_struct(const struct enc *e, const struct schema_struct *s, const void *in)
{
    for (uint16_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        if (field_in(f, e->v) && f->tag < 0)
            encode_field(e, f, in);
    }
    if (e->flex)
        encode_tagged(e, s, in);
}

void schema_encode(const struct schema_message *m, struct kw *w, int16_t version, const void *in)
{
    if (version < m->vmin || version > m->vmax)
        return;
    struct enc e = {w, version, version >= m->flexible_from};
    encode_struct(&e, &m->body, in);
}
