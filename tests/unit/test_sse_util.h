/*
 * A reference reader of text/event-stream, written from the WHATWG HTML standard, section 9.2.6
 * "Interpreting an event stream", to judge what libtandem writes (core_sse_format, the runtime's
 * tandem_sse_*): test_lib_sse.c, test_lib_service_sse.c and tests/fuzz/fuzz_sse.c. It works on
 * bytes: the stream's lines end at CRLF, LF or a lone CR (bytes a UTF-8 decoder leaves alone), a
 * line starting with ':' is a comment, "field: value" loses one space after the colon, a blank
 * line dispatches (nothing when the data buffer is empty), data lines are joined with LF and the
 * last LF removed, an id holding NUL is ignored, retry takes ASCII digits only. Every event
 * dispatched is kept, in order.
 */
#ifndef TANDEM_TEST_SSE_UTIL_H
#define TANDEM_TEST_SSE_UTIL_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SSE_REF_MAX 64

struct sse_ref_buf {
    char *p;
    size_t len, cap;
};

struct sse_ref_event {
    struct sse_ref_buf type, data, id; /* type "" means "message" */
};

struct sse_ref {
    struct sse_ref_buf data, type, last_id; /* the buffers of 9.2.6 */
    long long retry;                        /* -1: never set */
    int comments;
    int n; /* events dispatched (only the first SSE_REF_MAX kept) */
    struct sse_ref_event ev[SSE_REF_MAX];
};

static inline void sse_ref_put(struct sse_ref_buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void sse_ref_set(struct sse_ref_buf *b, const char *p, size_t n)
{
    b->len = 0;
    sse_ref_put(b, p, n);
}

static inline void sse_ref_dispatch(struct sse_ref *r)
{
    if (r->data.len == 0) { /* "set the data buffer and the event type buffer to empty" */
        r->type.len = 0;
        return;
    }
    if (r->n < SSE_REF_MAX) {
        struct sse_ref_event *e = &r->ev[r->n];
        sse_ref_set(&e->data, r->data.p, r->data.len - 1); /* the last LF removed */
        sse_ref_set(&e->type, r->type.len ? r->type.p : "", r->type.len);
        sse_ref_set(&e->id, r->last_id.len ? r->last_id.p : "", r->last_id.len);
    }
    r->n++;
    r->data.len = 0;
    r->type.len = 0;
}

static inline void sse_ref_line(struct sse_ref *r, const char *p, size_t n)
{
    if (n == 0) {
        sse_ref_dispatch(r);
        return;
    }
    if (p[0] == ':') {
        r->comments++;
        return;
    }
    const char *colon = memchr(p, ':', n);
    size_t fl = colon != NULL ? (size_t)(colon - p) : n;
    const char *v = colon != NULL ? colon + 1 : p + n;
    size_t vl = colon != NULL ? n - fl - 1 : 0;
    if (vl > 0 && v[0] == ' ') {
        v++;
        vl--;
    }
    if (fl == 5 && memcmp(p, "event", 5) == 0) {
        sse_ref_set(&r->type, v, vl);
    } else if (fl == 4 && memcmp(p, "data", 4) == 0) {
        sse_ref_put(&r->data, v, vl);
        sse_ref_put(&r->data, "\n", 1);
    } else if (fl == 2 && memcmp(p, "id", 2) == 0) {
        if (memchr(v, '\0', vl) == NULL) {
            sse_ref_set(&r->last_id, v, vl);
        }
    } else if (fl == 5 && memcmp(p, "retry", 5) == 0) {
        bool digits = vl > 0 && vl < 18;
        long long ms = 0;
        for (size_t i = 0; digits && i < vl; i++) {
            digits = v[i] >= '0' && v[i] <= '9';
            ms = ms * 10 + (v[i] - '0');
        }
        if (digits) {
            r->retry = ms;
        }
    }
}

/* Reads the whole stream p[0..n) (what follows the last line break is an incomplete line, and
 * an incomplete event is discarded at the end, as the standard says). */
static inline void sse_ref_parse(struct sse_ref *r, const char *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\r') {
            sse_ref_line(r, p + start, i - start);
            if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
                i++;
            }
            start = i + 1;
        }
    }
}

static inline void sse_ref_init(struct sse_ref *r)
{
    memset(r, 0, sizeof(*r));
    r->retry = -1;
}

static inline void sse_ref_free(struct sse_ref *r)
{
    free(r->data.p);
    free(r->type.p);
    free(r->last_id.p);
    for (int i = 0; i < SSE_REF_MAX; i++) {
        free(r->ev[i].type.p);
        free(r->ev[i].data.p);
        free(r->ev[i].id.p);
    }
}

/* What a client reads back from data: every CRLF and lone CR turned into LF. */
static inline size_t sse_ref_normalize(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < n && p[i + 1] == '\n') {
                i++;
            }
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

#endif
