/*
 * Route paths: which request paths a route of the manifest takes, shared by the manifest's checks
 * (manifest_service.c) and the gateway's nginx.conf (gateway.c), so that what the checks allow is
 * exactly what nginx will do.
 *
 * A route path is segments between slashes, each of [A-Za-z0-9_.~-] or a lone star (exactly one
 * non-empty segment), never empty, "." or "..": nginx matches locations against the normalized
 * path, where "//" is merged and dot segments resolved, so such a route could never match. (A star
 * next to a slash would end this comment: STAR below stands for it.)
 *
 *     route                      takes
 *     /p            (default)    /p and everything under /p/
 *     /p/                        everything under /p/
 *     /p, exact: true            /p only
 *     /                          every path
 *     /a/STAR/c                  /a/X/c and everything under /a/X/c/, for any one segment X
 *
 * nginx chooses an exact location first, then a regex (a route with a star), then the longest
 * prefix; the checks make that choice the most specific route's: two routes with a star may not
 * both take a path, and a route without one may not lie where a route with one takes it, only
 * above it (/api/articles and /api/articles/STAR/comments go together: the second takes its
 * paths out of the first).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/manifest.h"

#define ROUTE_MAX_SEGS 64

/* A path cut at its slashes: segs[i] of lens[i] bytes; dir when it ends with '/'. */
struct segs {
    const char *seg[ROUTE_MAX_SEGS];
    size_t len[ROUTE_MAX_SEGS];
    size_t n;
    bool dir;
};

static bool split(const char *p, struct segs *out)
{
    out->n = 0;
    out->dir = false;
    if (p[0] != '/') {
        return false;
    }
    for (p++; *p != '\0';) {
        size_t len = strcspn(p, "/");
        if (len == 0 || out->n == ROUTE_MAX_SEGS) {
            return false; /* "//" */
        }
        out->seg[out->n] = p;
        out->len[out->n++] = len;
        p += len;
        if (*p == '/') {
            p++;
            out->dir = *p == '\0';
        }
    }
    out->dir = out->dir || out->n == 0; /* "/" */
    return true;
}

static bool is_star(const struct segs *s, size_t i)
{
    return s->len[i] == 1 && s->seg[i][0] == '*';
}

bool cli_route_path_valid(const char *p)
{
    struct segs s;
    if (!split(p, &s)) {
        return false;
    }
    for (size_t i = 0; i < s.n; i++) {
        bool dots = (s.len[i] == 1 && s.seg[i][0] == '.') ||
                    (s.len[i] == 2 && s.seg[i][0] == '.' && s.seg[i][1] == '.');
        if (dots) {
            return false;
        }
        for (size_t j = 0; j < s.len[i] && !is_star(&s, i); j++) {
            char c = s.seg[i][j];
            if (!isalnum((unsigned char)c) && strchr("_.~-", c) == NULL) {
                return false;
            }
        }
    }
    return true;
}

bool cli_route_is_pattern(const char *p)
{
    return strchr(p, '*') != NULL;
}

/* Whether route r takes the path cut into `p` (literal segments; '*' in p is a literal here). */
static bool takes(const struct cli_route *r, const struct segs *rs, const struct segs *p)
{
    if (p->n < rs->n) {
        return false;
    }
    for (size_t i = 0; i < rs->n; i++) {
        bool same = rs->len[i] == p->len[i] && memcmp(rs->seg[i], p->seg[i], p->len[i]) == 0;
        if (!is_star(rs, i) && !same) {
            return false;
        }
    }
    if (r->exact) {
        return p->n == rs->n && p->dir == rs->dir;
    }
    return !rs->dir || p->n > rs->n || p->dir;
}

bool cli_route_takes(const struct cli_route *r, const char *path)
{
    struct segs rs, p;
    return split(r->path, &rs) && split(path, &p) && takes(r, &rs, &p);
}

bool cli_routes_overlap(const struct cli_route *a, const struct cli_route *b)
{
    struct segs as, bs, sample;
    if (!split(a->path, &as) || !split(b->path, &bs)) {
        return false;
    }
    /* The one shape of path both could take: each segment the literal one of either, "x" where
     * both have a star, as long as the longer of the two; tried with and without a final '/' and
     * one segment deeper, where two prefix routes meet. */
    sample.n = as.n > bs.n ? as.n : bs.n;
    for (size_t i = 0; i < sample.n; i++) {
        bool a_lit = i < as.n && !is_star(&as, i), b_lit = i < bs.n && !is_star(&bs, i);
        if (a_lit && b_lit &&
            (as.len[i] != bs.len[i] || memcmp(as.seg[i], bs.seg[i], as.len[i]) != 0)) {
            return false;
        }
        sample.seg[i] = a_lit ? as.seg[i] : b_lit ? bs.seg[i] : "x";
        sample.len[i] = a_lit ? as.len[i] : b_lit ? bs.len[i] : 1;
    }
    if (sample.n == ROUTE_MAX_SEGS) {
        return true; /* cannot go deeper: say they overlap, the safe answer */
    }
    sample.seg[sample.n] = "x";
    sample.len[sample.n] = 1;
    const struct {
        size_t extra;
        bool dir;
    } tries[] = {{0, false}, {0, true}, {1, false}};
    size_t n = sample.n;
    for (size_t t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
        sample.n = n + tries[t].extra;
        sample.dir = tries[t].dir || sample.n == 0;
        if (takes(a, &as, &sample) && takes(b, &bs, &sample)) {
            return true;
        }
    }
    return false;
}

/* Appends s to out[0, len) at *off; false once it does not fit. */
static bool append(char *out, size_t len, size_t *off, const char *s, size_t n)
{
    if (*off + n >= len) {
        return false;
    }
    memcpy(out + *off, s, n);
    *off += n;
    out[*off] = '\0';
    return true;
}

int cli_route_regex(const struct cli_route *r, char *out, size_t len)
{
    struct segs s;
    size_t off = 0;
    bool ok = len > 0 && split(r->path, &s) && append(out, len, &off, "^", 1);
    for (size_t i = 0; ok && i < s.n; i++) {
        ok = append(out, len, &off, "/", 1);
        if (is_star(&s, i)) {
            ok = ok && append(out, len, &off, "[^/]+", 5);
            continue;
        }
        for (size_t j = 0; ok && j < s.len[i]; j++) {
            ok = s.seg[i][j] == '.' ? append(out, len, &off, "\\.", 2)
                                    : append(out, len, &off, &s.seg[i][j], 1);
        }
    }
    const char *end = r->exact ? (s.dir ? "/$" : "$") : s.dir ? "/" : "(?:/|$)";
    ok = ok && append(out, len, &off, end, strlen(end));
    return ok ? 0 : -1;
}
