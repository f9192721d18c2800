/*
 * tags.c: the tags of a request, as articles keeps them.
 *
 * A tagList is an array of strings (the validator has refused other types and blank items).
 * Each tag is trimmed of white space at both ends (Unicode's White_Space property, the set the
 * validator calls blank), duplicates after trimming are dropped, and the rest sorted by their
 * bytes, which for UTF-8 is the order of code points and SQLite's BINARY collation: the order of
 * every answer's tagList and of GET /api/tags. Case is kept: "Dragons" and "dragons" are two
 * tags, as RealWorld leaves them.
 */
#include <stdlib.h>
#include <string.h>

#include "articles.h"

static bool is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* The code point starting at p (valid UTF-8, as jansson guarantees); *n its length. */
static uint32_t decode(const unsigned char *p, size_t *n)
{
    if (p[0] < 0x80) {
        *n = 1;
        return p[0];
    }
    if (p[0] < 0xe0) {
        *n = 2;
        return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
    }
    if (p[0] < 0xf0) {
        *n = 3;
        return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    }
    *n = 4;
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
           (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

/* s trimmed of white space at both ends, as a new string (NULL: out of memory). */
static char *trimmed(const char *s)
{
    const unsigned char *b = (const unsigned char *)s, *e = b + strlen(s);
    size_t n;
    while (b < e && is_space(decode(b, &n))) {
        b += n;
    }
    while (e > b) {
        const unsigned char *c = e - 1;
        while (c > b && (*c & 0xc0) == 0x80) {
            c--; /* back to the first byte of the last code point */
        }
        if (!is_space(decode(c, &n))) {
            break;
        }
        e = c;
    }
    char *t = malloc((size_t)(e - b) + 1);
    if (t != NULL) {
        memcpy(t, b, (size_t)(e - b));
        t[e - b] = '\0';
    }
    return t;
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tags_of(const json_t *list, struct tags *out)
{
    out->n = 0;
    out->v = calloc(json_array_size(list) + 1, sizeof(char *));
    if (out->v == NULL) {
        return TANDEM_ENOMEM;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        char *t = trimmed(json_string_value(item) != NULL ? json_string_value(item) : "");
        if (t == NULL) {
            tags_free(out);
            return TANDEM_ENOMEM;
        }
        if (t[0] == '\0') {
            free(t); /* the validator refuses blank items; kept out all the same */
            continue;
        }
        out->v[out->n++] = t;
    }
    qsort(out->v, out->n, sizeof(char *), by_bytes);
    size_t k = 0;
    for (i = 0; i < out->n; i++) {
        if (k > 0 && strcmp(out->v[k - 1], out->v[i]) == 0) {
            free(out->v[i]);
        } else {
            out->v[k++] = out->v[i];
        }
    }
    out->n = k;
    return 0;
}

void tags_free(struct tags *t)
{
    for (size_t i = 0; t->v != NULL && i < t->n; i++) {
        free(t->v[i]);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

char *tags_json(const struct tags *t)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_lit(&w, "[");
    for (size_t i = 0; i < t->n; i++) {
        if (i > 0) {
            jsonw_lit(&w, ",");
        }
        jsonw_str(&w, t->v[i]);
    }
    jsonw_lit(&w, "]");
    size_t len;
    return jsonw_take(&w, &len);
}
