/*
 * sse.c: one server-sent event as bytes (the text/event-stream format, WHATWG HTML section 9.2
 * "Server-sent events", its parsing rules in 9.2.6 "Interpreting an event stream").
 *
 * A client splits the stream into lines at CRLF, LF or a lone CR, and reads each line as
 * "field: value" (one space after the colon dropped); a blank line dispatches the event. So the
 * one rule that keeps a stream framed is that no value written carries a CR or a LF of its own:
 *
 *     event: <event>\n        only when event is given and not empty (else the client's "message")
 *     id: <id>\n              only when id is given ("" resets the client's last event id)
 *     data: <line 1>\n        one data line per line of data, data split at CRLF, LF and lone CR,
 *     data: <line 2>\n        as the client splits: the client joins them with LF, so it reads
 *     ...                     data with every CRLF and lone CR turned into LF (nothing else
 *     \n                      changes; empty data is one empty "data: " line, dispatched as "")
 *
 * event and id are refused when they hold CR or LF (they are one line each: split, they would
 * become other fields); NUL cannot be in them (C strings), so an id is never ignored by the
 * client for holding one. data may hold any byte: NUL and bytes that are not UTF-8 pass as they
 * are (a client decodes the latter to U+FFFD, which never joins with a CR or LF). Every value is
 * written after "field: ", so a value that begins with a space keeps it. tests/unit/test_lib_sse.c
 * and tests/fuzz/fuzz_sse.c parse what this writes with the spec's algorithm and compare.
 */
#include <string.h>

#include "core_int.h"
#include "tandem/error.h"

/* Bytes of data from p up to its next line break (CRLF, LF or CR), and of that break. */
static size_t line_len(const char *p, size_t n, size_t *brk)
{
    size_t i = 0;
    while (i < n && p[i] != '\n' && p[i] != '\r') {
        i++;
    }
    *brk = i == n ? 0 : (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
    return i;
}

static size_t put(char *buf, size_t cap, size_t at, const void *p, size_t n)
{
    if (at + n <= cap) {
        memcpy(buf + at, p, n);
    }
    return at + n;
}

int core_sse_format(const char *event, const char *id, const void *data, size_t len, char *buf,
                    size_t cap, size_t *need)
{
    if ((event != NULL && strpbrk(event, "\r\n") != NULL) ||
        (id != NULL && strpbrk(id, "\r\n") != NULL)) {
        return TANDEM_EINVAL;
    }
    size_t at = 0;
    if (event != NULL && *event != '\0') {
        at = put(buf, cap, at, "event: ", 7);
        at = put(buf, cap, at, event, strlen(event));
        at = put(buf, cap, at, "\n", 1);
    }
    if (id != NULL) {
        at = put(buf, cap, at, "id: ", 4);
        at = put(buf, cap, at, id, strlen(id));
        at = put(buf, cap, at, "\n", 1);
    }
    const char *p = data != NULL ? data : "";
    size_t left = data != NULL ? len : 0;
    for (;;) {
        size_t brk;
        size_t n = line_len(p, left, &brk);
        at = put(buf, cap, at, "data: ", 6);
        at = put(buf, cap, at, p, n);
        at = put(buf, cap, at, "\n", 1);
        if (brk == 0) {
            break; /* the last line (a break at the very end leaves one empty line after it) */
        }
        p += n + brk;
        left -= n + brk;
    }
    at = put(buf, cap, at, "\n", 1);
    *need = at;
    return at <= cap ? 0 : TANDEM_ETOOLARGE;
}
