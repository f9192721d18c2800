/*
 * tandem problem details: HTTP API errors as RFC 9457 documents (application/problem+json).
 *
 * A problem is a JSON object with the standard members (RFC 9457 §3.1) "type" (a URI reference,
 * "about:blank" when absent), "title", "status", "detail" and "instance", plus extension members
 * (§3.2). tandem always writes them in that order, then extensions in the order they were set, as
 * compact JSON, so a document is byte-for-byte predictable. With type "about:blank" the title is
 * the HTTP reason phrase of the status (§4.2.1); tandem_problem_new sets it so.
 *
 * Ownership: struct tandem_problem is a heap object (tandem_problem_new/parse ... _free); every
 * string passed in is copied; strings returned by getters are borrowed from the problem and
 * valid until it is freed or that member is set again; encoded bodies are malloc'd and the caller
 * frees them with free(). Strings must be UTF-8 (JSON, RFC 8259 §8.1); TANDEM_EINVAL otherwise.
 */
#ifndef TANDEM_PROBLEM_H
#define TANDEM_PROBLEM_H

#include <stddef.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_PROBLEM_CONTENT_TYPE "application/problem+json"

struct tandem_problem;

/* The reason phrase of an HTTP status (RFC 9110 §15), e.g. 404 -> "Not Found"; "Unknown Status"
 * for codes it does not know. Static storage. */
TANDEM_EXPORT const char *tandem_http_reason(int status);

/* A new problem {"type":"about:blank","title":<reason>,"status":status}, plus "detail" when
 * detail is not NULL. status must be 400..599. Returns 0 and *out (free with tandem_problem_free),
 * or TANDEM_EINVAL. */
TANDEM_EXPORT int tandem_problem_new(int status, const char *detail, struct tandem_problem **out);
TANDEM_EXPORT void tandem_problem_free(struct tandem_problem *p);

/* Setters; NULL removes an optional member (detail, instance). Setting a type other than
 * "about:blank" also needs a title that describes it (§3.1.3), so both go together; title NULL
 * keeps the current one. Return 0 or TANDEM_EINVAL (bad UTF-8, NULL type). */
TANDEM_EXPORT int tandem_problem_set_type(struct tandem_problem *p, const char *type,
                                          const char *title);
TANDEM_EXPORT int tandem_problem_set_detail(struct tandem_problem *p, const char *detail);
TANDEM_EXPORT int tandem_problem_set_instance(struct tandem_problem *p, const char *instance);

/*
 * Extension members (§3.2). name must not be a standard member and, as §3.2 recommends for
 * names that must work beyond JSON, start with a letter, be made of letters, digits and '_', and
 * be at least three characters long; TANDEM_EINVAL otherwise. Setting an existing name replaces
 * its value in place. _set_json takes the member's value as JSON text (an array of field errors,
 * say); TANDEM_EINVAL when it does not parse.
 */
TANDEM_EXPORT int tandem_problem_set_str(struct tandem_problem *p, const char *name,
                                         const char *value);
TANDEM_EXPORT int tandem_problem_set_int(struct tandem_problem *p, const char *name,
                                         long long value);
TANDEM_EXPORT int tandem_problem_set_json(struct tandem_problem *p, const char *name,
                                          const char *json);

/* Getters: borrowed strings, NULL when absent (type is never NULL: "about:blank" by default).
 * tandem_problem_get_str returns a string-valued extension member, else NULL. */
TANDEM_EXPORT int tandem_problem_status(const struct tandem_problem *p);
TANDEM_EXPORT const char *tandem_problem_type(const struct tandem_problem *p);
TANDEM_EXPORT const char *tandem_problem_title(const struct tandem_problem *p);
TANDEM_EXPORT const char *tandem_problem_detail(const struct tandem_problem *p);
TANDEM_EXPORT const char *tandem_problem_instance(const struct tandem_problem *p);
TANDEM_EXPORT const char *tandem_problem_get_str(const struct tandem_problem *p, const char *name);

/* Encodes the document as compact JSON (json_dumps's bytes). Returns 0 with *body (NUL-terminated,
 * malloc'd, the caller free()s it) and *len (without the NUL), or TANDEM_EINVAL when an extension
 * value cannot be encoded (jansson out of memory). Running out of memory otherwise aborts
 * (libtandem's one out-of-memory hook). */
TANDEM_EXPORT int tandem_problem_encode(const struct tandem_problem *p, char **body, size_t *len);

/*
 * Parses a received problem document (an HTTP client reading another service's error). Members
 * whose JSON type is wrong are ignored, as §3.1 requires; a missing or invalid "status" gives 0;
 * a missing "type" reads as "about:blank". Other members become extensions. Returns 0 and *out,
 * or TANDEM_EINVAL when the text is not a JSON object.
 */
TANDEM_EXPORT int tandem_problem_parse(const char *json, size_t len, struct tandem_problem **out);

/*
 * The canned document in one call: {"type":"about:blank","title":<reason>,"status":status} with
 * "detail" when detail is not NULL, the same bytes the server writes for its own errors (400, 404,
 * 405, 408, 413, 415, 422, 429, 431, 500, 503) and for any 4xx/5xx. For a program that embeds the
 * HTTP core alone (tandem/http.h: answer with tandem_http_respond and this body); a service
 * answers with tandem_respond_problem (tandem/service.h). Returns 0 with *body and *len as
 * tandem_problem_encode, or TANDEM_EINVAL (*body NULL) for a status outside 400..599 or a detail
 * that is not UTF-8.
 */
TANDEM_EXPORT int tandem_problem_body(int status, const char *detail, char **body, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
