/*
 * Problem details (RFC 9457) on top of jansson, and libtandem's one problem+json encoder.
 *
 * Model: the five standard members are held apart from the extensions so that encoding always
 * writes them first and in one order: type, title, status, detail, instance (§3.1), then the
 * extension members (§3.2) in insertion order (jansson objects keep insertion order, and replacing
 * a key's value keeps its place). Strings are stored as jansson string values, which is also how
 * they are checked to be UTF-8: json_string() refuses anything else.
 *
 * The encoder (doc_write) is the only code in libtandem that writes a problem document: for a
 * struct tandem_problem (tandem_problem_encode), for the canned {type, title, status, detail}
 * (tandem_problem_body), and for the layers above through core_problem_format (core_int.h): the
 * HTTP core's own 400/408/413/431 answers and every problem the runtime answers, extension
 * members included. It writes like snprintf, into a caller's buffer and counting the bytes that
 * did not fit, so the common document is written on the stack without allocating (those answers
 * are the path a flood of bad requests takes) and a larger one costs a second pass into a heap
 * buffer of the right size. Its bytes are json_dumps's (JSON_COMPACT): same escapes, same order.
 *
 * Invariants: p->type is never NULL ("about:blank" by default); p->ext holds no standard name.
 */
#include "tandem/problem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/mem.h"
#include "core_int.h"

struct tandem_problem {
    json_t *type, *title, *detail, *instance; /* string values or NULL */
    int status;
    json_t *ext; /* object */
};

/* RFC 9110 §15 reason phrases (and RFC 6585's 428, 429, 431), indexed by status: the HTTP core
 * writes one in every status line. */
static const char *const reasons[600] = {
    [100] = "Continue",
    [101] = "Switching Protocols",
    [200] = "OK",
    [201] = "Created",
    [202] = "Accepted",
    [204] = "No Content",
    [301] = "Moved Permanently",
    [302] = "Found",
    [303] = "See Other",
    [304] = "Not Modified",
    [307] = "Temporary Redirect",
    [308] = "Permanent Redirect",
    [400] = "Bad Request",
    [401] = "Unauthorized",
    [402] = "Payment Required",
    [403] = "Forbidden",
    [404] = "Not Found",
    [405] = "Method Not Allowed",
    [406] = "Not Acceptable",
    [407] = "Proxy Authentication Required",
    [408] = "Request Timeout",
    [409] = "Conflict",
    [410] = "Gone",
    [411] = "Length Required",
    [412] = "Precondition Failed",
    [413] = "Content Too Large",
    [414] = "URI Too Long",
    [415] = "Unsupported Media Type",
    [416] = "Range Not Satisfiable",
    [417] = "Expectation Failed",
    [421] = "Misdirected Request",
    [422] = "Unprocessable Content",
    [426] = "Upgrade Required",
    [428] = "Precondition Required",
    [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [500] = "Internal Server Error",
    [501] = "Not Implemented",
    [502] = "Bad Gateway",
    [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
    [505] = "HTTP Version Not Supported",
};

const char *tandem_http_reason(int status)
{
    const char *r = status >= 0 && status < 600 ? reasons[status] : NULL;
    return r != NULL ? r : "Unknown Status";
}

static const char *const standard_names[] = {"type", "title", "status", "detail", "instance"};

static bool is_standard(const char *name)
{
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(name, standard_names[i]) == 0)
            return true;
    }
    return false;
}

/* §3.2: "SHOULD start with a letter ... SHOULD comprise only ALPHA, DIGIT and '_' ... SHOULD be
 * three characters or longer". tandem makes the SHOULDs a rule for what it writes. */
static bool ext_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 3 || is_standard(name))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '_')))
            return false;
    }
    return true;
}

/* Replaces *slot with a string value for s (NULL clears). */
static int set_string(json_t **slot, const char *s)
{
    json_t *v = NULL;
    if (s) {
        v = json_string(s);
        if (!v)
            return TANDEM_EINVAL; /* not UTF-8 (or out of memory) */
    }
    json_decref(*slot);
    *slot = v;
    return 0;
}

static struct tandem_problem *problem_alloc(void)
{
    struct tandem_problem *p = xcalloc(1, sizeof(*p));
    p->type = json_string("about:blank");
    p->ext = json_object();
    if (!p->type || !p->ext) {
        tandem_problem_free(p);
        return NULL;
    }
    return p;
}

int tandem_problem_new(int status, const char *detail, struct tandem_problem **out)
{
    *out = NULL;
    if (status < 400 || status > 599)
        return TANDEM_EINVAL;
    struct tandem_problem *p = problem_alloc();
    if (!p)
        return TANDEM_ENOMEM;
    int rc = set_string(&p->title, tandem_http_reason(status));
    if (rc == 0)
        rc = set_string(&p->detail, detail);
    if (rc != 0)
        goto fail;
    p->status = status;
    *out = p;
    return 0;
fail:
    tandem_problem_free(p);
    return rc;
}

void tandem_problem_free(struct tandem_problem *p)
{
    if (!p)
        return;
    json_decref(p->type);
    json_decref(p->title);
    json_decref(p->detail);
    json_decref(p->instance);
    json_decref(p->ext);
    free(p);
}

int tandem_problem_set_type(struct tandem_problem *p, const char *type, const char *title)
{
    if (!type)
        return TANDEM_EINVAL;
    json_t *t = json_string(type);
    if (!t)
        return TANDEM_EINVAL;
    if (title) {
        int rc = set_string(&p->title, title);
        if (rc != 0) {
            json_decref(t);
            return rc;
        }
    }
    json_decref(p->type);
    p->type = t;
    return 0;
}

int tandem_problem_set_detail(struct tandem_problem *p, const char *detail)
{
    return set_string(&p->detail, detail);
}

int tandem_problem_set_instance(struct tandem_problem *p, const char *instance)
{
    return set_string(&p->instance, instance);
}

/* Takes ownership of v (NULL means its constructor failed: bad UTF-8 or no memory). */
static int set_ext(struct tandem_problem *p, const char *name, json_t *v)
{
    if (!ext_name_ok(name)) {
        json_decref(v);
        return TANDEM_EINVAL;
    }
    if (!v)
        return TANDEM_EINVAL;
    return json_object_set_new(p->ext, name, v) == 0 ? 0 : TANDEM_ENOMEM;
}

int tandem_problem_set_str(struct tandem_problem *p, const char *name, const char *value)
{
    return set_ext(p, name, value ? json_string(value) : NULL);
}

int tandem_problem_set_int(struct tandem_problem *p, const char *name, long long value)
{
    return set_ext(p, name, json_integer(value));
}

int tandem_problem_set_json(struct tandem_problem *p, const char *name, const char *json)
{
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL;
    return set_ext(p, name, v);
}

int tandem_problem_status(const struct tandem_problem *p)
{
    return p->status;
}

const char *tandem_problem_type(const struct tandem_problem *p)
{
    return json_string_value(p->type);
}

const char *tandem_problem_title(const struct tandem_problem *p)
{
    return p->title ? json_string_value(p->title) : NULL;
}

const char *tandem_problem_detail(const struct tandem_problem *p)
{
    return p->detail ? json_string_value(p->detail) : NULL;
}

const char *tandem_problem_instance(const struct tandem_problem *p)
{
    return p->instance ? json_string_value(p->instance) : NULL;
}

const char *tandem_problem_get_str(const struct tandem_problem *p, const char *name)
{
    return json_string_value(json_object_get(p->ext, name)); /* NULL unless a string */
}

/* ---- the encoder ----------------------------------------------------------------------------- */

/* A document being written into buf[0..cap); len counts every byte, written or not (snprintf). */
struct pw {
    char *buf;
    size_t cap, len;
    bool bad; /* a string was not UTF-8, or a value could not be encoded */
};

static void pw_put(struct pw *w, const char *s, size_t n)
{
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

/* The length of the UTF-8 sequence at s (1..4), or 0 when it is not one (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF; a NUL inside a sequence ends it too). */
static size_t utf8_len(const unsigned char *s)
{
    size_t n;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* Writes s as a JSON string (RFC 8259 §7), escaped as jansson escapes: '"' and '\' with a
 * backslash, the control characters with their short escape or \u00XX; the rest as it is. */
static void pw_str(struct pw *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char short_esc[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    const unsigned char *p = (const unsigned char *)s, *run = p;
    pw_put(w, "\"", 1);
    while (*p != '\0') {
        if (*p >= 0x20 && *p != '"' && *p != '\\') {
            size_t n = utf8_len(p);
            if (n == 0) {
                w->bad = true;
                return;
            }
            p += n;
            continue;
        }
        pw_put(w, (const char *)run, (size_t)(p - run));
        char esc[6] = {'\\', (char)*p, '0', '0', 0, 0};
        size_t el = 2;
        if (*p < 0x20 && short_esc[*p] != 0) {
            esc[1] = short_esc[*p];
        } else if (*p < 0x20) {
            esc[1] = 'u';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            el = 6;
        }
        pw_put(w, esc, el);
        run = ++p;
    }
    pw_put(w, (const char *)run, (size_t)(p - run));
    pw_put(w, "\"", 1);
}

/* Writes a member name and its string value (nothing when value is NULL). */
static void pw_member(struct pw *w, const char *name_colon, size_t n, const char *value)
{
    if (value != NULL) {
        pw_put(w, name_colon, n);
        pw_str(w, value);
    }
}

#define PW_MEMBER(w, lit, value) pw_member((w), (lit), sizeof(lit) - 1, (value))

/* A document to write: the standard members (NULL or 0: absent) and extension members. */
struct doc {
    const char *type, *title, *detail, *instance;
    int status;        /* 100..999, or 0 */
    const json_t *ext; /* an object, or NULL */
};

/* Writes d into buf[0..cap) (not NUL-terminated) and returns the document's length, which is
 * more than cap when it did not fit. *bad: a string was not UTF-8 or a value not encodable. */
static size_t doc_write(const struct doc *d, char *buf, size_t cap, bool *bad)
{
    struct pw w = {.buf = buf, .cap = cap};
    PW_MEMBER(&w, "{\"type\":", d->type);
    PW_MEMBER(&w, ",\"title\":", d->title);
    if (d->status != 0) {
        char digits[3] = {(char)('0' + d->status / 100 % 10), (char)('0' + d->status / 10 % 10),
                          (char)('0' + d->status % 10)};
        pw_put(&w, ",\"status\":", 10);
        pw_put(&w, digits, 3);
    }
    PW_MEMBER(&w, ",\"detail\":", d->detail);
    PW_MEMBER(&w, ",\"instance\":", d->instance);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)d->ext, key, v)
    {
        pw_put(&w, ",", 1);
        pw_str(&w, key);
        pw_put(&w, ":", 1);
        size_t room = w.len < w.cap ? w.cap - w.len : 0;
        size_t n = json_dumpb(v, room > 0 ? w.buf + w.len : NULL, room,
                              JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        w.bad |= n == 0;
        w.len += n;
    }
    pw_put(&w, "}", 1);
    *bad = w.bad;
    return w.len;
}

/* Encodes d into buf (cap bytes) when it fits, else into a buffer malloc'd to size: *out is buf
 * or that buffer (the caller frees it when it is not buf), NUL-terminated, *len without the NUL.
 * Returns 0 or TANDEM_EINVAL (*bad above; *out NULL). */
static int doc_encode(const struct doc *d, char *buf, size_t cap, char **out, size_t *len)
{
    bool bad = false;
    size_t n = doc_write(d, buf, cap, &bad);
    *out = NULL;
    if (bad)
        return TANDEM_EINVAL;
    char *p = buf;
    if (n >= cap) { /* a second pass, into the size the first one measured */
        p = xmalloc(n + 1);
        doc_write(d, p, n + 1, &bad);
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    return 0;
}

/* doc_encode into a malloc'd body, always (the public functions' contract). */
static int doc_encode_heap(const struct doc *d, char **body, size_t *len)
{
    char stack[512], *out = NULL;
    int rc = doc_encode(d, stack, sizeof(stack), &out, len);
    if (rc == 0 && out == stack) {
        out = xmalloc(*len + 1);
        memcpy(out, stack, *len + 1);
    }
    *body = out;
    return rc;
}

int tandem_problem_encode(const struct tandem_problem *p, char **body, size_t *len)
{
    struct doc d = {
        .type = tandem_problem_type(p),
        .title = tandem_problem_title(p),
        .detail = tandem_problem_detail(p),
        .instance = tandem_problem_instance(p),
        .status = p->status,
        .ext = p->ext,
    };
    return doc_encode_heap(&d, body, len);
}

/* The canned document of status (400..599) with detail and members; TANDEM_EINVAL when status is
 * out of range or a member name is not one tandem writes (ext_name_ok). */
static int canned_doc(int status, const char *detail, const json_t *members, struct doc *d)
{
    if (status < 400 || status > 599 || (members != NULL && !json_is_object(members)))
        return TANDEM_EINVAL;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)members, key, v)
    {
        if (!ext_name_ok(key))
            return TANDEM_EINVAL;
    }
    *d = (struct doc){.type = "about:blank",
                      .title = tandem_http_reason(status),
                      .detail = detail,
                      .status = status,
                      .ext = members};
    return 0;
}

int core_problem_format(int status, const char *detail, const struct json_t *members, char *buf,
                        size_t cap, char **out, size_t *len)
{
    struct doc d;
    int rc = canned_doc(status, detail, members, &d);
    if (rc != 0) {
        *out = NULL;
        return rc;
    }
    return doc_encode(&d, buf, cap, out, len);
}

int tandem_problem_parse(const char *json, size_t len, struct tandem_problem **out)
{
    int rc = TANDEM_EINVAL;
    *out = NULL;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    struct tandem_problem *p = NULL;
    if (!json_is_object(doc))
        goto fail;
    rc = TANDEM_ENOMEM;
    p = problem_alloc();
    if (!p)
        goto fail;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        json_t **slot = NULL;
        if (strcmp(key, "type") == 0)
            slot = &p->type;
        else if (strcmp(key, "title") == 0)
            slot = &p->title;
        else if (strcmp(key, "detail") == 0)
            slot = &p->detail;
        else if (strcmp(key, "instance") == 0)
            slot = &p->instance;
        if (slot) {
            if (json_is_string(v)) { /* §3.1: a member of the wrong type is ignored */
                json_decref(*slot);
                *slot = json_incref(v);
            }
        } else if (strcmp(key, "status") == 0) {
            if (json_is_integer(v) && json_integer_value(v) >= 100 && json_integer_value(v) <= 599)
                p->status = (int)json_integer_value(v);
        } else if (json_object_set(p->ext, key, v) != 0) {
            goto fail;
        }
    }
    *out = p;
    p = NULL;
    rc = 0;
fail:
    tandem_problem_free(p);
    json_decref(doc);
    return rc;
}

int tandem_problem_body(int status, const char *detail, char **body, size_t *len)
{
    struct doc d;
    int rc = canned_doc(status, detail, NULL, &d);
    *body = NULL;
    return rc != 0 ? rc : doc_encode_heap(&d, body, len);
}
