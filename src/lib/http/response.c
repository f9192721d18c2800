/*
 * response.c: one answer out as bytes.
 *
 * A response is written straight into the connection's output buffer, in one piece:
 *
 *     HTTP/1.1 <status> <reason>\r\n
 *     Server: tandem\r\n
 *     Date: <IMF-fixdate, RFC 9110 section 5.6.7>\r\n
 *     Content-Type: <type>\r\n            (when given)
 *     Content-Length: <body length>\r\n    (always; for HEAD the length of the body not sent;
 *                                           a streamed answer has Transfer-Encoding: chunked,
 *                                           or nothing to an HTTP/1.0 client: stream.c)
 *     Connection: close | keep-alive\r\n   (close when the connection ends after this answer;
 *                                           keep-alive only to an HTTP/1.0 client that asked)
 *     <handler-added headers>
 *     \r\n
 *     <body>                               (not for HEAD)
 *
 * so pipelined answers to one read go out in one write(2). The reason phrase is tandem_core's
 * (tandem_http_reason), as are the problem+json bodies of the core's own errors (worker.c,
 * core_problem_format): libtandem has one table of reasons and one problem encoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "http_int.h"
#include "tandem/problem.h"

void hbuf_append(struct hbuf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        if (b->off > 0) { /* slide the unsent part to the front first */
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 4096;
            while (cap < b->len + n) {
                cap *= 2;
            }
            b->p = xrealloc(b->p, cap);
            b->cap = cap;
        }
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void hbuf_cleanup(struct hbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Writes the decimal digits of v at the end of a 24-byte scratch; returns the first digit. */
static char *utoa_end(char end[24], uint64_t v)
{
    char *p = end + 24;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

#define PUT(b, lit) hbuf_append((b), (lit), sizeof(lit) - 1)

void hresp_write(struct hbuf *out, const struct hresp *r, const char *date)
{
    /* no snprintf on this path: it was 1.3% of the server's CPU in the hello benchmark */
    char code[3] = {(char)('0' + r->status / 100 % 10), (char)('0' + r->status / 10 % 10),
                    (char)('0' + r->status % 10)};
    const char *reason = tandem_http_reason(r->status);
    PUT(out, "HTTP/1.1 ");
    hbuf_append(out, code, 3);
    PUT(out, " ");
    hbuf_append(out, reason, strlen(reason));
    PUT(out, "\r\nServer: tandem\r\nDate: ");
    hbuf_append(out, date, 29);
    if (r->content_type != NULL) {
        PUT(out, "\r\nContent-Type: ");
        hbuf_append(out, r->content_type, strlen(r->content_type));
    }
    bool no_body = r->status == 204 || r->status == 304; /* RFC 9110 section 8.6 */
    if (r->framing == HRESP_CHUNKED) {
        PUT(out, "\r\nTransfer-Encoding: chunked");
    } else if (!no_body && r->framing == HRESP_LENGTH) {
        PUT(out, "\r\nContent-Length: ");
        char digits[24];
        char *d = utoa_end(digits, r->body_len);
        hbuf_append(out, d, (size_t)(digits + 24 - d));
    }
    if (r->close) {
        PUT(out, "\r\nConnection: close");
    } else if (r->keep_alive_10) {
        PUT(out, "\r\nConnection: keep-alive");
    }
    PUT(out, "\r\n");
    if (r->extra_len > 0) {
        hbuf_append(out, r->extra, r->extra_len);
    }
    PUT(out, "\r\n");
    if (!r->head_only && !no_body && r->body_len > 0) {
        hbuf_append(out, r->body, r->body_len);
    }
}

void hdate_format(char out[30], int64_t t)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char mons[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int tandem_http_respond(struct tandem_http_request *req, int status, const char *content_type,
                        const void *body, size_t body_len)
{
    struct hreq *r = (struct hreq *)req;
    if (status < 100 || status > 599 || r->answered) {
        return TANDEM_EINVAL;
    }
    if (r->cfg != NULL && r->cfg->on_done != NULL) {
        r->cfg->on_done(req, status, r->cfg->arg);
    }
    struct hresp resp = {
        .status = status,
        .content_type = content_type,
        .body = body,
        .body_len = body_len,
        .extra = r->extra,
        .extra_len = r->extra_len,
    };
    hworker_answer(r, &resp);
    return 0;
}
