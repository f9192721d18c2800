/*
 * jsonw.c: JSON text written straight into a buffer, for the hot read paths.
 *
 * An article's answer is a fixed shape of strings, numbers and booleans read from one SQL row;
 * building it as jansson values (a dozen allocations, then a dump) costs more than the query
 * that fetched it. So the answers are written as text: members in a fixed order, strings
 * escaped as JSON requires (RFC 8259 section 7: '"', '\\' and U+0000..U+001F; everything else,
 * multi-byte UTF-8 included, as it is, which is what jansson writes too). The buffer starts in
 * the struct (on the caller's stack) and moves to the heap only when an answer outgrows it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"

void jsonw_init(struct jsonw *w)
{
    w->p = w->stack;
    w->len = 0;
    w->cap = sizeof(w->stack);
    w->failed = false;
}

void jsonw_free(struct jsonw *w)
{
    if (w->p != w->stack) {
        free(w->p);
    }
    jsonw_init(w);
}

/* Makes room for n more bytes; false (and failed) when it cannot. */
static bool reserve(struct jsonw *w, size_t n)
{
    if (w->failed) {
        return false;
    }
    if (w->cap - w->len >= n) {
        return true;
    }
    size_t cap = w->cap * 2;
    while (cap - w->len < n) {
        cap *= 2;
    }
    char *p = w->p == w->stack ? malloc(cap) : realloc(w->p, cap);
    if (p == NULL) {
        w->failed = true;
        return false;
    }
    if (w->p == w->stack) {
        memcpy(p, w->stack, w->len);
    }
    w->p = p;
    w->cap = cap;
    return true;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
    if (reserve(w, n)) {
        memcpy(w->p + w->len, s, n);
        w->len += n;
    }
}

void jsonw_lit(struct jsonw *w, const char *s)
{
    jsonw_raw(w, s, strlen(s));
}

/* Bytes c takes in a JSON string: itself, a two-character escape, or \u00XX. */
static size_t escaped_len(unsigned char c)
{
    if (c >= 0x20) {
        return c == '"' || c == '\\' ? 2 : 1;
    }
    return c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f' ? 2 : 6;
}

void jsonw_str(struct jsonw *w, const char *s)
{
    static const char HEX[] = "0123456789abcdef";
    size_t n = 2; /* the exact length first: a 1 MiB body must not reserve six */
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        n += escaped_len(*p);
    }
    if (!reserve(w, n)) {
        return;
    }
    char *o = w->p + w->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = HEX[c >> 4];
            o[4] = HEX[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->p);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
    jsonw_raw(w, buf, (size_t)n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
    if (v) {
        jsonw_raw(w, "true", 4);
    } else {
        jsonw_raw(w, "false", 5);
    }
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
    char *s = NULL;
    if (!w->failed && (s = malloc(w->len + 1)) != NULL) {
        memcpy(s, w->p, w->len);
        s[w->len] = '\0';
        *len = w->len;
    }
    jsonw_free(w);
    return s;
}
