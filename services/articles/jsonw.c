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
    static const char HEX[] = "0123456789ABCDEF"; /* as jansson writes them */
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
    char buf[24], *p = buf + sizeof(buf);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0) {
        *--p = '-';
    }
    jsonw_raw(w, p, (size_t)(buf + sizeof(buf) - p));
}

/* Writes v as n decimal digits, zero-padded, at p. */
static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

void jsonw_time(struct jsonw *w, int64_t unix_ms)
{
    if (unix_ms < 0) {
        unix_ms = 0; /* as blog_time_format */
    }
    int64_t days = unix_ms / 86400000, ms = unix_ms % 86400000;
    /* the civil date of a day count (the proleptic Gregorian calendar in eras of 400 years,
     * each 146097 days, counted from 0000-03-01 so that the leap day ends a year) */
    int64_t z = days + 719468, era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = (unsigned)(era * 400 + yoe) + (month <= 2);
    char t[] = "\"YYYY-MM-DDTHH:MM:SS.mmmZ\"";
    digits(t + 1, year % 10000, 4);
    digits(t + 6, month, 2);
    digits(t + 9, day, 2);
    digits(t + 12, (unsigned)(ms / 3600000), 2);
    digits(t + 15, (unsigned)(ms / 60000 % 60), 2);
    digits(t + 18, (unsigned)(ms / 1000 % 60), 2);
    digits(t + 21, (unsigned)(ms % 1000), 3);
    jsonw_raw(w, t, sizeof(t) - 1);
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
    char *s = w->failed ? NULL : malloc(w->len + 1);
    if (s != NULL) {
        memcpy(s, w->p, w->len);
        s[w->len] = '\0';
        *len = w->len;
    }
    jsonw_free(w);
    return s;
}
