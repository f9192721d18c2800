/*
 * parse.c: bytes in, one HTTP/1.1 request out, with limits.
 *
 * The grammar is Debian's http-parser (nodejs/http-parser 2.9.4): request line, headers,
 * Content-Length and chunked bodies (RFC 9112 sections 3, 5, 6, 7.1), keep-alive rules, and the
 * request-smuggling checks (both Content-Length and Transfer-Encoding, duplicate lengths). It
 * reports the request as a stream of callbacks whose data may be split at any byte by the read
 * boundaries, so this file copies each piece into the request's arena:
 *
 *     head:  target\0 name1\0 value1\0 name2\0 value2\0 ...
 *
 * and consecutive fragments of one piece are appended to it (`last` says which piece the
 * previous callback added to). On headers-complete the target is split at '?' into path and
 * query.
 *
 * One request at a time: on message-complete the parser is paused, so hparse_feed returns the
 * number of bytes the request took and the bytes after it (a pipelined next request) stay with
 * the caller until the request has been answered.
 *
 * Limits, each checked before memory is spent:
 *   - request line + headers: at most max_header_bytes raw bytes (counted as fed, so a header
 *     section is never read beyond the limit plus one byte) and HTTP_MAX_HEADERS headers -> 431;
 *   - body: a Content-Length above max_body_bytes is refused before any body byte is read, a
 *     chunk as soon as its chunk-size line says the body would pass it -> 413;
 *   - anything http-parser rejects -> 400.
 *
 * Where http-parser (built without HTTP_PARSER_STRICT, as Debian ships it) is more lenient than
 * RFC 9112, this file refuses what it lets through:
 *   - the HTTP-version token: http-parser checks only its 'H', the digits and the dot ("HXYZ/1.1"
 *     passes) and takes a request line without one as HTTP/0.9. The last bytes of the request
 *     line are kept as they are fed (line_scan) and must be " HTTP/" DIGIT "." DIGIT (section
 *     2.3) -> 400. Of the versions that are well-formed, 1.0 and 1.1 are served; another major
 *     version -> 505 (RFC 9110 section 15.6.6: the server does not support that major version);
 *     1.2 to 1.9 -> 400 (RFC 9110 section 2.5 would have them served as 1.1; tandem refuses a
 *     version it does not know rather than guess, as the review asked);
 *   - white space between a field name and its colon is taken into the name (section 5.1: MUST
 *     be refused with 400), so "Content-Length : 5" was a header nobody reads and the body that
 *     followed it became the next request: -> 400;
 *   - Host (section 3.2): an HTTP/1.1 request without one, any request with more than one, or
 *     with a value that is not uri-host [ ":" port ] -> 400.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "http_int.h"

enum { LAST_NONE, LAST_URL, LAST_FIELD, LAST_VALUE };

#define VERSION_TOKEN " HTTP/x.y" /* the request line's tail: HTTP-version after its SP */

struct hreq *hreq_new(const struct hlimits *lim)
{
    struct hreq *r = xcalloc(1, sizeof(*r));
    r->head_cap = lim->max_header_bytes + 2 * HTTP_MAX_HEADERS + 16;
    r->head = xmalloc(r->head_cap);
    return r;
}

void hreq_free(struct hreq *r)
{
    if (r == NULL) {
        return;
    }
    free(r->head);
    free(r->body);
    free(r->extra);
    free(r);
}

static struct hparse *hp_of(http_parser *p)
{
    return p->data;
}

static int fail(struct hparse *hp, int status, const char *detail)
{
    if (hp->err_status == 0) {
        hp->err_status = status;
        hp->err_detail = detail;
    }
    return -1; /* any other value than 0 stops http_parser_execute with an HPE_CB_* error */
}

/* Appends n bytes to the arena; NUL-terminates the piece when term. */
static int head_put(struct hparse *hp, const char *at, size_t n, bool term)
{
    struct hreq *r = hp->req;
    if (r->head_len + n + (term ? 1 : 0) > r->head_cap) {
        return fail(hp, 431, "request line and headers exceed the limit");
    }
    memcpy(r->head + r->head_len, at, n);
    r->head_len += n;
    if (term) {
        r->head[r->head_len++] = '\0';
    }
    return 0;
}

/* Ends the value being collected: trailing white space is not part of it (RFC 9112 section 5.1,
 * OWS after field-value; http-parser strips the leading OWS only). */
static void value_trim(struct hparse *hp)
{
    struct hreq *r = hp->req;
    if (hp->last != LAST_VALUE) {
        return;
    }
    size_t start = r->hdr_value[r->nhdr - 1];
    while (r->head_len > start &&
           (r->head[r->head_len - 1] == ' ' || r->head[r->head_len - 1] == '\t')) {
        r->head_len--;
    }
}

static int on_message_begin(http_parser *p)
{
    hp_of(p)->started = true;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct hparse *hp = hp_of(p);
    hp->last = LAST_URL;
    return head_put(hp, at, n, false);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct hparse *hp = hp_of(p);
    struct hreq *r = hp->req;
    if (memchr(at, ' ', n) != NULL) { /* (a tab never gets here: http-parser refuses it) */
        return fail(hp, 400, "white space in a header field name (RFC 9112 section 5.1)");
    }
    if (hp->headers_done) {
        return 0; /* a chunked body's trailer section: not kept (RFC 9112 section 7.1.2) */
    }
    if (hp->last != LAST_FIELD) {
        /* a new header: close the previous piece (target or value) */
        value_trim(hp);
        if (head_put(hp, "", 0, true) != 0) {
            return -1;
        }
        if (r->nhdr == HTTP_MAX_HEADERS) {
            return fail(hp, 431, "too many header fields");
        }
        r->hdr_name[r->nhdr] = (uint32_t)r->head_len;
        r->hdr_value[r->nhdr] = (uint32_t)r->head_len; /* set properly by on_header_value */
        r->nhdr++;
        hp->last = LAST_FIELD;
    }
    return head_put(hp, at, n, false);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct hparse *hp = hp_of(p);
    struct hreq *r = hp->req;
    if (hp->headers_done) {
        return 0; /* trailer */
    }
    if (hp->last != LAST_VALUE) {
        if (head_put(hp, "", 0, true) != 0) {
            return -1;
        }
        r->hdr_value[r->nhdr - 1] = (uint32_t)r->head_len;
        hp->last = LAST_VALUE;
    }
    return head_put(hp, at, n, false);
}

/* A Host value is uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section 3.2.2): an
 * IP-literal in brackets, or reg-name / IPv4address characters; empty is allowed (section 3.2:
 * a target without authority). A cheap character check, not a full grammar. */
static bool host_valid(const char *v)
{
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("-._~%!$&'()*+,;=:[]", c) != NULL;
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The checks RFC 9112 asks for once the header section is known: version and Host. Returns 0 or
 * fail()'s -1. */
static int head_check(struct hparse *hp, const http_parser *p)
{
    struct hreq *r = hp->req;
    if (p->http_major != 1) {
        return fail(hp, 505, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    if (p->http_minor > 1) {
        return fail(hp, 400, "unknown HTTP/1 minor version: only 1.0 and 1.1 are served");
    }
    int hosts = 0;
    const char *host = NULL;
    for (int i = 0; i < r->nhdr; i++) {
        if (strcasecmp(r->head + r->hdr_name[i], "host") == 0) {
            hosts++;
            host = r->head + r->hdr_value[i];
        }
    }
    if (hosts > 1) {
        return fail(hp, 400, "more than one Host header field (RFC 9112 section 3.2)");
    }
    if (hosts == 0 && p->http_minor == 1) {
        return fail(hp, 400,
                    "an HTTP/1.1 request needs a Host header field (RFC 9112 section 3.2)");
    }
    if (host != NULL && !host_valid(host)) {
        return fail(hp, 400, "the Host header field is not host[:port]");
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct hparse *hp = hp_of(p);
    struct hreq *r = hp->req;
    if (hp->last == LAST_FIELD) { /* a name without a value (http-parser allows "X:\r\n") */
        if (head_put(hp, "", 0, true) != 0) {
            return -1;
        }
        r->hdr_value[r->nhdr - 1] = (uint32_t)r->head_len;
    }
    value_trim(hp);
    if (head_put(hp, "", 0, true) != 0) {
        return -1;
    }
    hp->headers_done = true;
    if (head_check(hp, p) != 0) {
        return -1;
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > hp->lim->max_body_bytes) {
        return fail(hp, 413, "request body exceeds the limit");
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
        size_t want = (size_t)p->content_length;
        if (want > r->body_cap) {
            free(r->body);
            r->body = xmalloc(want + 1);
            r->body_cap = want;
        }
    }
    /* The target is the arena's first string: split it at '?' into path and query. */
    char *target = r->head;
    char *q = strchr(target, '?');
    r->view.path = target;
    r->view.query = "";
    if (q != NULL) {
        *q = '\0';
        r->view.query = q + 1;
    }
    const char *expect = tandem_http_header(&r->view, "expect");
    hp->expect_continue = expect != NULL && p->http_minor >= 1 &&
                          strcasecmp(expect, "100-continue") == 0 &&
                          ((p->flags & F_CHUNKED) || p->content_length > 0);
    r->view.method = http_method_str((enum http_method)p->method);
    r->view.http_minor = p->http_minor;
    r->is_head = p->method == HTTP_HEAD;
    return 0;
}

/* A chunk-size line was read (p->content_length is the chunk's size): a chunk that would take
 * the body past the limit is refused now, not once its bytes have come (a client announcing a
 * huge chunk and sending it slowly would otherwise hold the connection to the request timeout). */
static int on_chunk_header(http_parser *p)
{
    struct hparse *hp = hp_of(p);
    if (p->content_length > hp->lim->max_body_bytes - hp->req->body_len) {
        return fail(hp, 413, "request body exceeds the limit");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct hparse *hp = hp_of(p);
    struct hreq *r = hp->req;
    if (n > hp->lim->max_body_bytes - r->body_len) {
        return fail(hp, 413, "request body exceeds the limit");
    }
    if (r->body_len + n > r->body_cap) { /* chunked: grow geometrically up to the limit */
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < r->body_len + n) {
            cap *= 2;
        }
        if (cap > hp->lim->max_body_bytes) {
            cap = hp->lim->max_body_bytes;
        }
        r->body = xrealloc(r->body, cap + 1);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, at, n);
    r->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct hparse *hp = hp_of(p);
    struct hreq *r = hp->req;
    hp->done = true;
    r->keep_alive = http_should_keep_alive(p) && !p->upgrade && p->method != HTTP_CONNECT;
    if (r->body != NULL) {
        r->body[r->body_len] = '\0';
        r->view.body = r->body;
    }
    r->view.body_len = r->body_len;
    http_parser_pause(p, 1); /* one request at a time: the rest waits for the answer */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

void hparse_init(struct hparse *hp, const struct hlimits *lim)
{
    memset(hp, 0, sizeof(*hp));
    http_parser_init(&hp->p, HTTP_REQUEST);
    hp->p.data = hp;
    hp->lim = lim;
}

void hparse_begin(struct hparse *hp, struct hreq *r)
{
    http_parser_pause(&hp->p, 0);
    hp->req = r;
    hp->head_raw = 0;
    hp->last = LAST_NONE;
    hp->started = hp->headers_done = hp->done = hp->expect_continue = false;
    hp->line_seen = hp->line_done = false;
    hp->tail_len = 0;
    r->head_len = 0;
    r->nhdr = 0;
    r->body_len = 0;
    r->extra_len = 0;
    r->keep_alive = r->is_head = r->answered = false;
    r->view.method = r->view.path = r->view.query = "";
    r->view.body = "";
    r->view.body_len = 0;
}

/*
 * Follows the request line through the bytes about to be fed: CR and LF before it are skipped
 * (http-parser skips them too), its last bytes are kept in hp->tail, and at its LF the tail must
 * be VERSION_TOKEN with "HTTP" spelt out and digits for x and y (http-parser already checked the
 * digits and the dot, and that nothing follows them but CR LF). Returns 0 or fail()'s -1.
 */
static int line_scan(struct hparse *hp, const char *d, size_t n)
{
    const size_t keep = sizeof(hp->tail);
    size_t i = 0;
    while (!hp->line_seen && i < n) {
        hp->line_seen = d[i] != '\r' && d[i] != '\n';
        i += hp->line_seen ? 0 : 1;
    }
    const char *lf = memchr(d + i, '\n', n - i);
    size_t end = lf != NULL ? (size_t)(lf - d) : n;
    size_t take = end - i < keep ? end - i : keep; /* the newest bytes of the line */
    size_t stay = hp->tail_len + take > keep ? keep - take : hp->tail_len;
    memmove(hp->tail, hp->tail + hp->tail_len - stay, stay);
    memcpy(hp->tail + stay, d + end - take, take);
    hp->tail_len = (uint8_t)(stay + take);
    if (lf == NULL) {
        return 0;
    }
    hp->line_done = true;
    size_t t = hp->tail_len;
    t -= t > 0 && hp->tail[t - 1] == '\r';
    const size_t vl = sizeof(VERSION_TOKEN) - 1;
    if (t < vl || memcmp(hp->tail + t - vl, VERSION_TOKEN, vl - 3) != 0) {
        return fail(hp, 400, "the request line does not end in HTTP/<digit>.<digit>");
    }
    return 0;
}

int hparse_feed(struct hparse *hp, const char *data, size_t len, size_t *used)
{
    size_t at = 0;
    *used = 0;
    if (hp->err_status != 0) {
        return TANDEM_EPROTO;
    }
    while (at < len) {
        size_t n = len - at;
        if (!hp->headers_done && n > hp->lim->max_header_bytes - hp->head_raw + 1) {
            n = hp->lim->max_header_bytes - hp->head_raw + 1; /* never read far past the limit */
        }
        if (!hp->line_done && line_scan(hp, data + at, n) != 0) {
            return TANDEM_EPROTO;
        }
        size_t got = http_parser_execute(&hp->p, &settings, data + at, n);
        if (!hp->headers_done) {
            hp->head_raw += got;
        }
        at += got;
        if (hp->done) {
            *used = at;
            return 0;
        }
        enum http_errno e = HTTP_PARSER_ERRNO(&hp->p);
        if (hp->err_status != 0) {
            return TANDEM_EPROTO;
        }
        if (e == HPE_HEADER_OVERFLOW) {
            fail(hp, 431, "request line and headers exceed the limit");
            return TANDEM_EPROTO;
        }
        if (e != HPE_OK || got < n) {
            fail(hp, 400, http_errno_description(e));
            return TANDEM_EPROTO;
        }
        if (!hp->headers_done && hp->head_raw > hp->lim->max_header_bytes) {
            fail(hp, 431, "request line and headers exceed the limit");
            return TANDEM_EPROTO;
        }
    }
    *used = at;
    return TANDEM_EAGAIN;
}

/* ---- the request view's accessors ------------------------------------------------------------ */

static bool name_eq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a, y = *b;
        x = (x >= 'A' && x <= 'Z') ? (char)(x + 32) : x;
        y = (y >= 'A' && y <= 'Z') ? (char)(y + 32) : y;
        if (x != y) {
            return false;
        }
    }
    return *a == *b;
}

const char *tandem_http_header(const struct tandem_http_request *req, const char *name)
{
    const struct hreq *r = (const struct hreq *)req;
    for (int i = 0; i < r->nhdr; i++) {
        if (name_eq(r->head + r->hdr_name[i], name)) {
            return r->head + r->hdr_value[i]; /* http-parser strips the value's white space */
        }
    }
    return NULL;
}

int tandem_http_add_header(struct tandem_http_request *req, const char *name, const char *value)
{
    struct hreq *r = (struct hreq *)req;
    size_t nl = strlen(name), vl = strlen(value);
    if (nl == 0 || strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
        return TANDEM_EINVAL;
    }
    size_t need = r->extra_len + nl + vl + 4;
    if (need > HTTP_MAX_EXTRA_HDRS) {
        return TANDEM_ETOOLARGE;
    }
    if (need > r->extra_cap) {
        r->extra = xrealloc(r->extra, HTTP_MAX_EXTRA_HDRS);
        r->extra_cap = HTTP_MAX_EXTRA_HDRS;
    }
    memcpy(r->extra + r->extra_len, name, nl);
    memcpy(r->extra + r->extra_len + nl, ": ", 2);
    memcpy(r->extra + r->extra_len + nl + 2, value, vl);
    memcpy(r->extra + r->extra_len + nl + 2 + vl, "\r\n", 2);
    r->extra_len = need;
    return 0;
}
