/*
 * The router: a trie of path segments, one node per distinct template prefix.
 *
 * Model. A template "/posts/{id}/comments" is the segment list ["posts", {id}, "comments"]; each
 * node has sorted literal children, at most one parameter child and at most one catch-all child.
 * A node that ends one or more templates is "terminal": it holds the template text, its parameter
 * names and one handler per method. Parameter names live on the terminal node, not on the
 * parameter edge, so "/a/{x}" and "/a/{x}/b/{y}" share the edge and each terminal knows its
 * names.
 *
 * Matching is a depth-first walk in precedence order (literal, parameter, catch-all) that stops at
 * the first terminal node having the wanted method, and meanwhile ORs together the methods of
 * every terminal node that matched the path, which is what 405's Allow reports (RFC 9110
 * §15.5.6: "the target resource's currently supported methods"). Captures are recorded as raw
 * slices of the path during the walk and decoded only for the winner. The walk's depth is bounded
 * by the trie's (TANDEM_ROUTE_MAX_DEPTH), never by the request; it allocates nothing.
 *
 * Invariants: literal children are sorted by (length, bytes), unique; a catch-all node has no
 * children; every terminal node has pattern != NULL and methods != 0.
 */
#include "tandem/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "core_int.h"

const char *const core_method_names[CORE_NMETHODS] = {"GET",   "HEAD",   "POST",   "PUT",
                                                      "PATCH", "DELETE", "OPTIONS"};

struct slice {
    const char *p;
    size_t n;
};

struct rnode {
    char *lit; /* this node's literal segment (literal children only), owned */
    size_t lit_len;
    struct rnode **kids; /* literal children, sorted */
    size_t nkids;
    struct rnode *param;                         /* "{name}" child */
    struct rnode *rest;                          /* "{name...}" child */
    char *pattern;                               /* terminal: the template, owned */
    struct slice names[TANDEM_ROUTE_MAX_PARAMS]; /* terminal: into pattern */
    size_t nnames;
    unsigned methods; /* bit per CORE_* with a handler */
    void *handlers[CORE_NMETHODS];
};

struct tandem_router {
    struct rnode root;
};

int core_method_index(const char *m, size_t n)
{
    for (int i = 0; i < CORE_NMETHODS; i++) {
        if (strlen(core_method_names[i]) == n && memcmp(core_method_names[i], m, n) == 0)
            return i;
    }
    return -1;
}

/* Orders literal segments by (length, bytes): cheap, and all we need is a total order. */
static int lit_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return an < bn ? -1 : 1;
    return memcmp(a, b, an);
}

static void node_free(struct rnode *n)
{
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    if (n->param) {
        node_free(n->param);
        free(n->param);
    }
    if (n->rest) {
        node_free(n->rest);
        free(n->rest);
    }
    free(n->lit);
    free(n->pattern);
}

int tandem_router_new(struct tandem_router **out)
{
    if (!out)
        return TANDEM_EINVAL;
    *out = xcalloc(1, sizeof(**out));
    return 0;
}

void tandem_router_free(struct tandem_router *r)
{
    if (!r)
        return;
    node_free(&r->root);
    free(r);
}

/* ---- compiling templates ----------------------------------------------------------------------
 */

enum seg_kind { SEG_LIT, SEG_PARAM, SEG_REST };

struct tseg {
    enum seg_kind kind;
    struct slice text; /* literal text, or the parameter name (without braces and "...") */
};

static bool name_ok(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Splits and validates a template; names point into pattern. */
static int template_parse(const char *pattern, struct tseg *segs, size_t *nsegs)
{
    size_t len = strlen(pattern), n = 0, nparams = 0;
    if (len == 0 || pattern[0] != '/')
        return TANDEM_EINVAL;
    size_t pos = 0;
    while (pos < len) {
        size_t start = pos + 1, end = start;
        while (end < len && pattern[end] != '/')
            end++;
        if (n == TANDEM_ROUTE_MAX_DEPTH)
            return TANDEM_EINVAL;
        struct tseg *s = &segs[n++];
        const char *p = pattern + start;
        size_t sn = end - start;
        if (sn > 0 && p[0] == '{') {
            if (p[sn - 1] != '}')
                return TANDEM_EINVAL;
            s->kind = SEG_PARAM;
            s->text = (struct slice){p + 1, sn - 2};
            if (s->text.n > 3 && memcmp(s->text.p + s->text.n - 3, "...", 3) == 0) {
                s->kind = SEG_REST;
                s->text.n -= 3;
                if (end != len)
                    return TANDEM_EINVAL; /* a catch-all must be last */
            }
            if (!name_ok(s->text.p, s->text.n) || nparams == TANDEM_ROUTE_MAX_PARAMS)
                return TANDEM_EINVAL;
            for (size_t i = 0; i + 1 < n; i++) {
                if (segs[i].kind != SEG_LIT && segs[i].text.n == s->text.n &&
                    memcmp(segs[i].text.p, s->text.p, s->text.n) == 0)
                    return TANDEM_EINVAL; /* duplicate parameter name */
            }
            nparams++;
        } else {
            if (memchr(p, '{', sn) || memchr(p, '}', sn))
                return TANDEM_EINVAL;
            s->kind = SEG_LIT;
            s->text = (struct slice){p, sn};
        }
        pos = end;
    }
    *nsegs = n;
    return 0;
}

/* Finds the literal child equal to (p, n) by binary search; *at is where it is or would go. */
static struct rnode *kid_find(const struct rnode *node, const char *p, size_t n, size_t *at)
{
    size_t lo = 0, hi = node->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct rnode *k = node->kids[mid];
        int c = lit_cmp(k->lit, k->lit_len, p, n);
        if (c == 0) {
            *at = mid;
            return node->kids[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return NULL;
}

static struct rnode *child_for(struct rnode *node, const struct tseg *s)
{
    if (s->kind == SEG_PARAM) {
        if (!node->param)
            node->param = xcalloc(1, sizeof(*node->param));
        return node->param;
    }
    if (s->kind == SEG_REST) {
        if (!node->rest)
            node->rest = xcalloc(1, sizeof(*node->rest));
        return node->rest;
    }
    size_t at;
    struct rnode *k = kid_find(node, s->text.p, s->text.n, &at);
    if (k)
        return k;
    k = xcalloc(1, sizeof(*k));
    k->lit = xstrndup(s->text.p, s->text.n);
    k->lit_len = s->text.n;
    node->kids = xrealloc(node->kids, (node->nkids + 1) * sizeof(*node->kids));
    memmove(node->kids + at + 1, node->kids + at, (node->nkids - at) * sizeof(*node->kids));
    node->kids[at] = k;
    node->nkids++;
    return k;
}

/* Makes node terminal for pattern, or checks that it already is with the same names. */
static int terminal_set(struct rnode *node, const char *pattern)
{
    struct tseg segs[TANDEM_ROUTE_MAX_DEPTH];
    size_t nsegs = 0;
    if (node->pattern) {
        /* Same node, so same shape; the parameter names must agree. */
        if (template_parse(pattern, segs, &nsegs) != 0)
            return TANDEM_EINVAL;
        size_t k = 0;
        for (size_t i = 0; i < nsegs; i++) {
            if (segs[i].kind == SEG_LIT)
                continue;
            const struct slice *have = &node->names[k++];
            if (have->n != segs[i].text.n || memcmp(have->p, segs[i].text.p, have->n) != 0)
                return TANDEM_EINVAL;
        }
        return 0;
    }
    node->pattern = xstrndup(pattern, strlen(pattern));
    if (template_parse(node->pattern, segs, &nsegs) != 0)
        return TANDEM_EINVAL; /* cannot happen: validated by the caller */
    node->nnames = 0;
    for (size_t i = 0; i < nsegs; i++) {
        if (segs[i].kind != SEG_LIT)
            node->names[node->nnames++] = segs[i].text;
    }
    return 0;
}

int tandem_router_add(struct tandem_router *r, const char *method, const char *pattern,
                      void *handler)
{
    if (!r || !method || !pattern || !handler)
        return TANDEM_EINVAL;
    int mi = core_method_index(method, strlen(method));
    if (mi < 0)
        return TANDEM_EINVAL;
    struct tseg segs[TANDEM_ROUTE_MAX_DEPTH];
    size_t nsegs = 0;
    int rc = template_parse(pattern, segs, &nsegs);
    if (rc != 0)
        return rc;
    struct rnode *node = &r->root;
    for (size_t i = 0; i < nsegs; i++)
        node = child_for(node, &segs[i]);
    rc = terminal_set(node, pattern);
    if (rc != 0)
        return rc;
    if (node->methods & (1u << mi))
        return TANDEM_EEXIST;
    node->methods |= 1u << mi;
    node->handlers[mi] = handler;
    return 0;
}

/* ---- matching ---------------------------------------------------------------------------------
 */

struct walk {
    const char *path;
    size_t len;
    int want;      /* CORE_* of the request, or -1 for a method no route can have */
    unsigned seen; /* methods of every terminal node that matched the path */
    const struct rnode *found;
    int found_method;
    struct slice caps[TANDEM_ROUTE_MAX_PARAMS];
    size_t ncaps;
};

/* A terminal check: records the node's methods and picks it when it serves the request. */
static bool walk_terminal(struct walk *w, const struct rnode *node, size_t ncap)
{
    if (!node->methods)
        return false;
    w->seen |= node->methods;
    int use = -1;
    if (w->want >= 0 && (node->methods & (1u << w->want)))
        use = w->want;
    else if (w->want == CORE_HEAD && (node->methods & (1u << CORE_GET)))
        use = CORE_GET; /* RFC 9110 §9.3.2: HEAD is GET without the content */
    if (use < 0)
        return false;
    w->found = node;
    w->found_method = use;
    w->ncaps = ncap;
    return true;
}

static const struct rnode *kid_match(const struct rnode *node, const char *p, size_t n)
{
    if (!memchr(p, '%', n)) {
        size_t at;
        return kid_find(node, p, n, &at);
    }
    for (size_t i = 0; i < node->nkids; i++) {
        if (core_pct_equal(p, n, node->kids[i]->lit, node->kids[i]->lit_len))
            return node->kids[i];
    }
    return NULL;
}

/* pos is at the '/' that starts the next segment, or at the end of the path. */
static bool walk(struct walk *w, const struct rnode *node, size_t pos, size_t ncap)
{
    if (pos == w->len)
        return walk_terminal(w, node, ncap);
    size_t start = pos + 1, end = start;
    while (end < w->len && w->path[end] != '/')
        end++;
    const char *seg = w->path + start;
    size_t seg_len = end - start;

    const struct rnode *kid = kid_match(node, seg, seg_len);
    if (kid && walk(w, kid, end, ncap))
        return true;
    if (node->param && seg_len > 0) {
        w->caps[ncap] = (struct slice){seg, seg_len};
        if (walk(w, node->param, end, ncap + 1))
            return true;
    }
    if (node->rest) {
        w->caps[ncap] = (struct slice){seg, w->len - start};
        if (walk_terminal(w, node->rest, ncap + 1))
            return true;
    }
    return false;
}

static void allow_format(unsigned seen, char *out)
{
    if (seen & (1u << CORE_GET))
        seen |= 1u << CORE_HEAD;
    size_t o = 0;
    for (int i = 0; i < CORE_NMETHODS; i++) {
        if (!(seen & (1u << i)))
            continue;
        size_t n = strlen(core_method_names[i]);
        if (o) {
            memcpy(out + o, ", ", 2);
            o += 2;
        }
        memcpy(out + o, core_method_names[i], n);
        o += n;
    }
    out[o] = '\0'; /* at most 7 names + 6 separators = 49 bytes < TANDEM_ALLOW_MAX */
}

int tandem_router_match(const struct tandem_router *r, const char *method, size_t method_len,
                        const char *path, size_t path_len, char *buf, size_t buf_len,
                        struct tandem_route_match *m)
{
    memset(m, 0, sizeof(*m));
    m->status = 400;
    if (!r || !path || path_len == 0 || path[0] != '/')
        return TANDEM_EINVAL;
    struct walk w = {.path = path, .len = path_len, .want = core_method_index(method, method_len)};
    if (!walk(&w, &r->root, 0, 0)) {
        if (!w.seen) {
            m->status = 404;
            return TANDEM_ENOENT;
        }
        m->status = 405;
        allow_format(w.seen, m->allow);
        return TANDEM_EUNSUPPORTED;
    }
    if (w.ncaps > 0 && (!buf || buf_len == 0)) {
        m->status = 414;
        return TANDEM_ETOOLARGE;
    }
    size_t used = 0;
    for (size_t i = 0; i < w.ncaps; i++) {
        size_t n = 0;
        int rc = core_pct_decode(w.caps[i].p, w.caps[i].n, false, buf + used, buf_len - used, &n);
        if (rc != 0) {
            m->nparams = 0;
            m->status = rc == TANDEM_ETOOLARGE ? 414 : 400;
            return rc;
        }
        m->params[i] =
            (struct tandem_route_param){w.found->names[i].p, w.found->names[i].n, buf + used, n};
        used += n + 1;
    }
    m->nparams = w.ncaps;
    m->status = 200;
    m->handler = w.found->handlers[w.found_method];
    m->pattern = w.found->pattern;
    return 0;
}

const char *tandem_route_param(const struct tandem_route_match *m, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i].name_len == n && memcmp(m->params[i].name, name, n) == 0)
            return m->params[i].value;
    }
    return NULL;
}
