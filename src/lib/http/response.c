/*
 * response.c: one answer out as bytes.
 *
 * A response is written straight into the connection's output buffer, in one piece:
 *
 *     HTTP/1.1 <status> <reason>\r\n
 *     Server: tandem\r\n
 *     Date: <IMF-fixdate, RFC 9110 section 5.6.7>\r\n
 *     Content-Type: <type>\r\n            (when given)
 *     Content-Length: <body length>\r\n    (always; for HEAD the length of the body not sent)
 *     Connection: close | keep-alive\r\n   (close when the connection ends after this answer;
 *                                           keep-alive only to an HTTP/1.0 client that asked)
 *     <handler-added headers>
 *     \r\n
 *     <body>                               (not for HEAD)
 *
 * so pipelined answers to one read go out in one write(2). Problem bodies follow RFC 9457
 * section 3.1 with type "about:blank", whose title is the status's reason phrase.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "http_int.h"

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

const char *hreason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
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
    const char *reason = hreason(r->status);
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
    if (!no_body) {
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

size_t hproblem_format(char *buf, size_t cap, int status, const char *detail)
{
    size_t n = 0;
    int w = snprintf(buf, cap, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d",
                     hreason(status), status);
    if (w < 0 || (size_t)w >= cap) {
        return cap > 0 ? strlen(buf) : 0;
    }
    n = (size_t)w;
    if (detail != NULL) {
        static const char pre[] = ",\"detail\":\"";
        if (n + sizeof(pre) < cap) {
            memcpy(buf + n, pre, sizeof(pre) - 1);
            n += sizeof(pre) - 1;
        }
        for (const unsigned char *s = (const unsigned char *)detail; *s != '\0'; s++) {
            char esc[8];
            int el;
            if (*s == '"' || *s == '\\') {
                esc[0] = '\\';
                esc[1] = (char)*s;
                el = 2;
            } else if (*s < 0x20) {
                el = snprintf(esc, sizeof(esc), "\\u%04x", *s);
            } else {
                esc[0] = (char)*s;
                el = 1;
            }
            if (n + (size_t)el + 3 > cap) {
                break; /* truncate the detail, keep the JSON valid */
            }
            memcpy(buf + n, esc, (size_t)el);
            n += (size_t)el;
        }
        if (n + 2 < cap) {
            buf[n++] = '"';
        }
    }
    if (n + 1 < cap) {
        buf[n++] = '}';
    }
    buf[n] = '\0';
    return n;
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

int tandem_http_problem(struct tandem_http_request *req, int status, const char *detail)
{
    char body[512];
    size_t n = hproblem_format(body, sizeof(body), status, detail);
    return tandem_http_respond(req, status, "application/problem+json", body, n);
}
