/*
 * libFuzzer target for libtandem's HTTP request path (src/lib/http/parse.c on http-parser).
 *
 * The first input byte picks a read size (1..256 bytes, so requests are cut at every kind of
 * boundary, as reads cut them); the rest is one connection's byte stream. It is fed the way a
 * worker feeds it: requests one at a time, each answered (into an output buffer, HEAD and
 * problem+json included) before the next is parsed, until the stream ends or the parser refuses
 * it. Invariants checked, beyond "no crash, no sanitizer report":
 *   - hparse_feed returns 0, TANDEM_EAGAIN (having consumed every byte) or TANDEM_EPROTO with a
 *     status of 400, 413, 431 or 505 and a detail the problem encoder takes (UTF-8), and never
 *     consumes more than it was given;
 *   - an accepted request is HTTP/1.0 or 1.1, has at most one Host header field (HTTP/1.1:
 *     exactly one), and no header name holds white space (RFC 9112 sections 2.3, 3.2, 5.1);
 *   - an accepted request's strings are NUL-terminated inside its arena, its body is within the
 *     body limit, and its header count within HTTP_MAX_HEADERS;
 *   - a request is never complete before its header section ended within the header limit.
 * Seeds: tests/fuzz/corpus/http/ (one request of each shape: GET, pipelined, chunked, HEAD,
 * HTTP/1.0, each limit, and each RFC 9112 refusal: white space before the colon, no Host, two
 * Hosts, versions 1.2, 2.0, 0.9-style and "HXYZ", a chunk size past the body limit).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "lib/core/core_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct hlimits lim = {.max_header_bytes = 2048, .max_body_bytes = 4096};

static void check_request(const struct hreq *r)
{
    if (r->nhdr > HTTP_MAX_HEADERS || r->view.body_len > lim.max_body_bytes ||
        r->head_len > r->head_cap || r->view.body[r->view.body_len] != '\0') {
        abort();
    }
    for (int i = 0; i < r->nhdr; i++) {
        if (r->hdr_name[i] >= r->head_len || r->hdr_value[i] >= r->head_len ||
            memchr(r->head + r->hdr_value[i], '\0', r->head_len - r->hdr_value[i]) == NULL) {
            abort();
        }
    }
    if (strlen(r->view.path) >= r->head_cap || r->view.method[0] == '\0') {
        abort();
    }
    int hosts = 0;
    for (int i = 0; i < r->nhdr; i++) {
        const char *name = r->head + r->hdr_name[i];
        hosts += strcasecmp(name, "host") == 0;
        if (strchr(name, ' ') != NULL || strchr(name, '\t') != NULL) {
            abort();
        }
    }
    if (r->view.http_minor > 1 || hosts > 1 || (r->view.http_minor == 1 && hosts != 1)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t step = (size_t)data[0] + 1;
    const char *p = (const char *)data + 1;
    size_t len = size - 1, at = 0, window = 0;
    struct hparse hp;
    struct hreq *r = hreq_new(&lim);
    struct hbuf out = {0};
    hparse_init(&hp, &lim);
    hparse_begin(&hp, r);
    while (at < len) {
        window = window > 0 ? window : (len - at < step ? len - at : step);
        size_t used = 0;
        int rc = hparse_feed(&hp, p + at, window, &used);
        if (used > window) {
            abort();
        }
        at += used;
        window -= used;
        if (rc == TANDEM_EAGAIN) {
            if (window != 0) {
                abort();
            }
            continue;
        }
        if (rc == TANDEM_EPROTO) {
            if (hp.err_status != 400 && hp.err_status != 413 && hp.err_status != 431 &&
                hp.err_status != 505) {
                abort();
            }
            char buf[512], *body = NULL;
            size_t n = 0;
            if (core_problem_format(hp.err_status, hp.err_detail, NULL, buf, sizeof(buf), &body,
                                    &n) != 0) {
                abort(); /* the core's error answer always encodes */
            }
            struct hresp e = {.status = hp.err_status, .body = body, .body_len = n, .close = 1};
            hresp_write(&out, &e, "Thu, 01 Jan 1970 00:00:00 GMT");
            if (body != buf) {
                free(body);
            }
            break;
        }
        if (rc != 0 || hp.head_raw > lim.max_header_bytes + 1) {
            abort();
        }
        check_request(r);
        struct hresp ok = {.status = 200,
                           .body = r->view.body,
                           .body_len = r->view.body_len,
                           .head_only = r->is_head,
                           .close = !r->keep_alive};
        hresp_write(&out, &ok, "Thu, 01 Jan 1970 00:00:00 GMT");
        out.off = out.len; /* "sent" */
        if (!r->keep_alive) {
            break;
        }
        hparse_begin(&hp, r);
    }
    hbuf_cleanup(&out);
    hreq_free(r);
    return 0;
}
