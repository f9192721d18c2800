/*
 * text.c: RealWorld's dates and slugs.
 *
 * Dates are ISO 8601 in UTC with milliseconds ("2016-02-18T03:22:56.637Z"), the form of the
 * spec's examples and the one its Postman tests match. Slugs are made from titles: a slug is
 * part of a URL, so it keeps only ASCII letters and digits; everything else (spaces,
 * punctuation, accents, emoji) becomes one '-' per run.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "blog.h"

int64_t blog_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void blog_time_format(int64_t unix_ms, char out[BLOG_TIME_SIZE])
{
    if (unix_ms < 0) {
        unix_ms = 0;
    }
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, BLOG_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
}

json_t *blog_time_json(int64_t unix_ms)
{
    char s[BLOG_TIME_SIZE];
    blog_time_format(unix_ms, s);
    return json_string(s);
}

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

size_t blog_slugify(const char *title, char *out, size_t cap)
{
    size_t n = 0, max = cap - 1 < BLOG_SLUG_MAX ? cap - 1 : BLOG_SLUG_MAX;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)title; *p != '\0' && n < max; p++) {
        if (!is_alnum(*p)) {
            dash = n > 0;
            continue;
        }
        if (dash) {
            if (n + 1 >= max) {
                break;
            }
            out[n++] = '-';
            dash = 0;
        }
        out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    if (n == max) { /* cut: end at a word boundary when one is near */
        for (size_t i = n; i > 0 && n - i < 16; i--) {
            if (out[i - 1] == '-') {
                n = i - 1;
                break;
            }
        }
    }
    if (n == 0) {
        memcpy(out, "article", 8);
        return 7;
    }
    out[n] = '\0';
    return n;
}

bool blog_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != 0) {
        unsigned c = *p;
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* the second byte's range (RFC 3629 section 4) */
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
            hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
        } else {
            return false;
        }
        if (p[1] < lo || p[1] > hi) {
            return false;
        }
        for (size_t i = 2; i <= n; i++) {
            if (p[i] < 0x80 || p[i] > 0xbf) {
                return false;
            }
        }
        p += n + 1;
    }
    return true;
}
