/*
 * libFuzzer target for libtandem's server-sent event writer (core_sse_format, src/lib/core/sse.c):
 * whatever bytes a service sends as an event, the stream stays framed.
 *
 * The input is "event \x01 id \x01 data": up to the first 0x01 byte the event name, up to the
 * second the id (no second 0x01: no id; no 0x01 at all: no event name either), the rest the
 * data (any bytes). What is written is read
 * back with the WHATWG algorithm (tests/unit/test_sse_util.h). Invariants, beyond "no crash, no
 * sanitizer report":
 *   - TANDEM_EINVAL exactly when the event name or the id holds CR or LF;
 *   - otherwise the bytes hold no CR, end with a blank line, and read back as exactly one event
 *     whose type is the event name, whose last event id is the id ("" without one) and whose data
 *     is the data with every CRLF and lone CR turned into LF;
 *   - written twice in a row they read back as two such events (nothing leaks into the next).
 * Seeds: tests/fuzz/corpus/sse/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test_sse_util.h"
#include "lib/core/core_int.h"
#include "tandem/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of p[0..n) (a NUL inside ends the C string there, as it would for a
 * caller's). */
static char *copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void check_event(const struct sse_ref_event *e, const char *event, const char *id,
                        const char *norm, size_t nl)
{
    if (e->data.len != nl || memcmp(e->data.p, norm, nl) != 0 || strcmp(e->type.p, event) != 0 ||
        strcmp(e->id.p, id != NULL ? id : "") != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *s1 = memchr(data, 0x01, size);
    const uint8_t *s2 = s1 != NULL ? memchr(s1 + 1, 0x01, size - (size_t)(s1 + 1 - data)) : NULL;
    char *event = copy(data, s1 != NULL ? (size_t)(s1 - data) : 0);
    char *id = s2 != NULL ? copy(s1 + 1, (size_t)(s2 - s1 - 1)) : NULL;
    const uint8_t *p = s2 != NULL ? s2 + 1 : s1 != NULL ? s1 + 1 : data;
    size_t n = size - (size_t)(p - data);
    size_t need = 0;
    int rc = core_sse_format(event, id, p, n, NULL, 0, &need);
    bool bad = strpbrk(event, "\r\n") != NULL || (id != NULL && strpbrk(id, "\r\n") != NULL);
    if ((rc == TANDEM_EINVAL) != bad || (!bad && rc != TANDEM_ETOOLARGE)) {
        abort();
    }
    if (!bad) {
        char *out = malloc(2 * need);
        size_t need2 = 0;
        if (core_sse_format(event, id, p, n, out, need, &need2) != 0 || need2 != need ||
            memchr(out, '\r', need) != NULL || need < 2 || out[need - 1] != '\n' ||
            out[need - 2] != '\n') {
            abort();
        }
        memcpy(out + need, out, need);
        char *norm = malloc(n + 1);
        size_t nl = sse_ref_normalize((const char *)p, n, norm);
        struct sse_ref r;
        sse_ref_init(&r);
        sse_ref_parse(&r, out, 2 * need);
        if (r.n != 2) {
            abort();
        }
        check_event(&r.ev[0], event, id, norm, nl);
        check_event(&r.ev[1], event, id, norm, nl);
        sse_ref_free(&r);
        free(norm);
        free(out);
    }
    free(event);
    free(id);
    return 0;
}
