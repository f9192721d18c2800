/*
 * Private helpers shared by the message codecs (protocol/messages*.c) and by their client
 * direction (tests/common/kafka_client/), so both read and write the wire the same way.
 *
 * The codecs read straight down a message with the sticky-error reader of kbuf.h and check the
 * error once at the end (msg_end), which also rejects trailing bytes. Arrays are allocated from
 * the per-request arena only after kr_array validated their count against the bytes that are
 * left, with the smallest wire size of one element; so an allocation is bounded by a small
 * multiple of the frame size, and the arena's cap bounds it again.
 */
#ifndef TANDEM_PROTOCOL_MESSAGES_INT_H
#define TANDEM_PROTOCOL_MESSAGES_INT_H

#include <stdint.h>

#include "base/kbuf.h"
#include "protocol/messages.h"
#include "tandem/error.h"

/* Smallest wire sizes used as kr_array minimums. */
#define W_I16 2
#define W_I32 4
#define W_I64 8
#define W_STR 2 /* INT16 length of an empty STRING */
#define W_ARR 4 /* INT32 count of an empty ARRAY */
#define W_BYT 4 /* INT32 length of empty BYTES */

/* A non-nullable ARRAY: a count of -1 is malformed. */
static inline int32_t msg_array(struct kr *r, size_t min_elem_size)
{
    int32_t n = kr_array(r, min_elem_size);
    if (n < 0) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
        return 0;
    }
    return n;
}

/* A non-nullable COMPACT_ARRAY. */
static inline int32_t msg_compact_array(struct kr *r, size_t min_elem_size)
{
    int32_t n = kr_compact_array(r, min_elem_size);
    if (n < 0) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
        return 0;
    }
    return n;
}

/* A non-nullable STRING: length -1 is malformed. */
static inline struct kstr msg_string(struct kr *r)
{
    struct kstr s = kr_string(r);
    if (s.len < 0 && !r->err) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
    }
    return s;
}

/* A non-nullable COMPACT_STRING. */
static inline struct kstr msg_compact_string(struct kr *r)
{
    struct kstr s = kr_compact_string(r);
    if (s.len < 0 && !r->err) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
    }
    return s;
}

/* End of a message: 0 when everything was read and nothing is left over, else TANDEM_EPROTO. */
static inline int msg_end(struct kr *r)
{
    if (!r->err && kr_left(r) != 0) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
    }
    return r->err ? TANDEM_EPROTO : 0;
}

/* Allocates n (validated, >= 0) zeroed elements; NULL for n <= 0. Sets *rc to TANDEM_ETOOLARGE
 * when the arena's cap is hit. */
static inline void *msg_alloc(struct arena *a, int32_t n, size_t size, int *rc)
{
    if (n <= 0)
        return NULL;
    void *p = arena_array(a, (size_t)n, size);
    if (!p)
        *rc = TANDEM_ETOOLARGE;
    return p;
}

#define MSG_ALLOC(a, n, ptr, rc) ((ptr) = msg_alloc((a), (n), sizeof(*(ptr)), &(rc)))

/* Reads an ARRAY of INT32 (non-nullable) into arena memory. Returns 0 or a TANDEM_E* code. */
int msg_read_i32_array(struct kr *r, struct arena *a, int32_t *n, int32_t **out);
/* Writes an ARRAY of INT32. */
void msg_write_i32_array(struct kw *w, int32_t n, const int32_t *v);

#endif
