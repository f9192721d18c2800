/*
 * tandem router: (HTTP method, path template) -> opaque handler pointer.
 *
 * Templates are absolute paths split on '/'. Each segment is either a literal ("posts"), a
 * parameter "{name}" that matches exactly one non-empty segment, or, as the last segment only, a
 * catch-all "{name...}" that matches the rest of the path (zero or more segments, slashes kept).
 * "/posts" and "/posts/" are different templates. Routes are compiled into a trie of segments when
 * added (that allocates); matching walks the trie and never allocates.
 *
 * Precedence is by segment, left to right: a literal beats a parameter, a parameter beats a
 * catch-all; a more specific branch that dead-ends falls back to the next one (so with
 * "/posts/new" and "/posts/{id}/comments", "/posts/new/comments" matches the second).
 *
 * Outcomes of tandem_router_match (RFC 9110 §15.5.5, §15.5.6, §9.3.2):
 *   0                   a route for the path has the method (HEAD falls back to GET)
 *   TANDEM_ENOENT       no template matches the path            -> 404
 *   TANDEM_EUNSUPPORTED templates match but none has the method -> 405, m->allow is the Allow
 *                       field value, methods in the fixed order GET, HEAD, POST, PUT, PATCH,
 *                       DELETE, OPTIONS (HEAD listed whenever GET is)
 *   TANDEM_EINVAL       the path does not start with '/', or a captured value has a bad
 *                       percent-escape or "%00"                  -> 400
 *   TANDEM_ETOOLARGE    the decoded captures do not fit the caller's buffer -> 414 (a buffer of
 *                       path_len + TANDEM_ROUTE_MAX_PARAMS bytes always fits)
 * m->status holds the matching HTTP status (200, 400, 404, 405, 414) in every case.
 */
#ifndef TANDEM_ROUTER_H
#define TANDEM_ROUTER_H

#include <stddef.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_ROUTE_MAX_PARAMS 8  /* parameters per template */
#define TANDEM_ROUTE_MAX_DEPTH  32 /* segments per template */
#define TANDEM_ALLOW_MAX        64 /* bytes for the Allow value, NUL included; all 7 fit */

struct tandem_router;

/* One captured parameter. name borrows from the router (valid until tandem_router_free); value
 * points into the caller's buffer given to tandem_router_match, percent-decoded and NUL-terminated
 * (value_len excludes the NUL). */
struct tandem_route_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct tandem_route_match {
    int status;          /* 200, 400, 404, 405 or 414 (see above) */
    void *handler;       /* the registered pointer on success, else NULL */
    const char *pattern; /* the registered template (borrowed from the router), or NULL */
    size_t nparams;      /* captured parameters, in template order */
    struct tandem_route_param params[TANDEM_ROUTE_MAX_PARAMS];
    char allow[TANDEM_ALLOW_MAX]; /* on 405: "GET, HEAD, POST"; otherwise "" */
};

/* Creates an empty router. Returns 0 and stores it in *out; the caller frees it with
 * tandem_router_free. */
TANDEM_EXPORT int tandem_router_new(struct tandem_router **out);

/* Frees the router and everything it owns (templates, names). NULL is a no-op. */
TANDEM_EXPORT void tandem_router_free(struct tandem_router *r);

/*
 * Adds a route. method is one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (exact case);
 * pattern is copied; handler is stored as given (not owned, may not be NULL). Returns 0,
 * TANDEM_EINVAL for a bad method, a pattern that does not start with '/', an unbalanced or empty
 * "{}", a catch-all that is not last, too many parameters or segments, or a template that reaches
 * the same trie node as an existing one with different parameter names ("/a/{x}" vs "/a/{y}");
 * TANDEM_EEXIST when (method, template) is already routed.
 */
TANDEM_EXPORT int tandem_router_add(struct tandem_router *r, const char *method,
                                    const char *pattern, void *handler);

/*
 * Matches a request. method/method_len is the request method as received (any token; one the
 * router does not know simply matches no route). path/path_len is the request path without the
 * query (see tandem_target_split); literal segments are compared after percent-decoding the path
 * segment. Captured values are percent-decoded into buf (buf_len bytes); m->params point into it.
 * Does not allocate. Returns as described at the top of this header; fills *m in every case.
 */
TANDEM_EXPORT int tandem_router_match(const struct tandem_router *r, const char *method,
                                      size_t method_len, const char *path, size_t path_len,
                                      char *buf, size_t buf_len, struct tandem_route_match *m);

/* Looks up a captured parameter by name in a successful match; returns its decoded value
 * (NUL-terminated, borrowed from the match's buffer) or NULL. */
TANDEM_EXPORT const char *tandem_route_param(const struct tandem_route_match *m, const char *name);

/* Splits a request-target (origin-form, RFC 9112 §3.2.1) at the first '?' into path and query;
 * the query excludes the '?' and is empty (query_len 0, *query pointing at the end) when absent. A
 * '#' fragment, which clients must not send, ends the query. Never fails. */
TANDEM_EXPORT void tandem_target_split(const char *target, size_t len, const char **path,
                                       size_t *path_len, const char **query, size_t *query_len);

/*
 * Finds the first "name=value" pair in a query string (NUL-terminated, an optional leading '?' is
 * skipped; pairs separated by '&') whose decoded name equals name, and writes the decoded value
 * (percent escapes, '+' as space) NUL-terminated into buf (len bytes). A pair without '=' has the
 * empty value. Returns 0; TANDEM_ENOENT when no pair has that name; TANDEM_EINVAL when the value
 * has a bad escape or "%00"; TANDEM_ETOOLARGE when buf is too small (buf is then "" if len > 0).
 * Pairs whose names are malformed are skipped.
 */
TANDEM_EXPORT int tandem_query_get(const char *query, const char *name, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
