/*
 * resp.c: the response parser of tandem-load (see resp.h), on http-parser in HTTP_RESPONSE mode.
 *
 * One answer at a time: on_message_complete pauses the parser, so http_parser_execute returns
 * the number of bytes up to the answer's last byte and leaves the rest. An interim 1xx answer
 * (100 Continue, 103 Early Hints) also completes a "message" for http-parser; it is skipped and
 * the parser goes on to the final answer in the same bytes. Answers to HEAD and 1xx, 204 and 304
 * answers end at their empty line even when they carry a Content-Length (found by the fuzz
 * target: http-parser reads such a body). A 101 is an error: tandem-load never
 * asks to switch protocols; so is a status outside 100..599, which http-parser lets through.
 */
#include "resp.h"

#include <string.h>

#include "tandem/error.h"

static int on_message_begin(http_parser *p)
{
    struct load_resp *r = p->data;
    r->started = true;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct load_resp *r = p->data;
    if (p->status_code / 100 == 1) {
        return p->status_code == 101 ? -1 : 1; /* interim: no body, the final answer follows */
    }
    if (p->status_code < 200 || p->status_code > 599) {
        return -1; /* RFC 9110 section 15: three digits, 100..599 */
    }
    r->status = p->status_code;
    r->headers_done = true;
    /* 1: no body, whatever Content-Length says (RFC 9112 section 6.3; http-parser would read one
     * for a 1xx, 204 or 304 that carries a Content-Length) */
    return r->head_request || p->status_code == 204 || p->status_code == 304 ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct load_resp *r = p->data;
    if (r->body != NULL && r->body_bytes < r->body_cap) {
        size_t room = r->body_cap - r->body_bytes;
        memcpy(r->body + r->body_bytes, at, len < room ? len : room);
    }
    r->body_bytes += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct load_resp *r = p->data;
    if (!r->headers_done) {
        return 0; /* an interim 1xx answer ended: wait for the final one */
    }
    r->done = true;
    r->keep_alive = http_should_keep_alive(p) != 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void load_resp_begin(struct load_resp *r, bool head_request)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(&r->p, HTTP_RESPONSE);
    r->p.data = r;
    r->head_request = head_request;
}

int load_resp_feed(struct load_resp *r, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (r->done) {
        return 0;
    }
    size_t got = http_parser_execute(&r->p, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->p);
    if (r->done) {
        *used = got;
        return 0;
    }
    if (e != HPE_OK || got != len || len == 0) {
        return TANDEM_EPROTO; /* malformed, or the stream ended before the answer did */
    }
    *used = got;
    return TANDEM_EAGAIN;
}
