/*
 * tandem cacheability helpers: strong ETags, If-None-Match, Cache-Control.
 *
 * An ETag here is a strong entity-tag (RFC 9110 §8.8.3) computed from the representation's bytes:
 * a 64-bit hash written as 16 lowercase hex digits between double quotes, e.g.
 * "\"3f1c9a0e5b7d2c44\"". Equal bodies always get equal tags, on every platform and run (the hash
 * is fixed, unseeded and byte-order independent), so several instances of a service behind the
 * gateway agree. It is not a cryptographic hash: fine for revalidation, not for integrity.
 *
 * If-None-Match (RFC 9110 §13.1.2) is evaluated with the weak comparison function (§8.8.3.2):
 * tags match when their opaque-tags are the same characters, W/ prefixes ignored. A match means a
 * GET or HEAD is answered 304 Not Modified (and any other method 412 Precondition Failed).
 *
 * Cache-Control (RFC 9111 §5.2) is a struct of the directives an API server sets and a gateway
 * cache reads: max-age, s-maxage, no-store, no-cache, private, public, must-revalidate,
 * no-transform, immutable (RFC 8246).
 */
#ifndef TANDEM_CACHE_H
#define TANDEM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TANDEM_ETAG_SIZE 19 /* '"' + 16 hex + '"' + NUL */

/* The fixed 64-bit hash behind tandem ETags (see etag.c for its definition). */
TANDEM_EXPORT uint64_t tandem_hash64(const void *p, size_t n);

/* Writes the strong ETag of body[0..len) into out, NUL-terminated (18 characters). */
TANDEM_EXPORT void tandem_etag_of(const void *body, size_t len, char out[TANDEM_ETAG_SIZE]);

/*
 * Evaluates an If-None-Match field value field[0..len) against the current representation's
 * entity-tag etag[0..etag_len) (as sent in ETag, quotes included, W/ allowed), or etag NULL when
 * the target has no current representation. Sets *match to 1 when the field is "*" and a
 * representation exists, or when one of its tags weakly matches etag; else 0. Returns 0, or
 * TANDEM_EINVAL (with *match 0) when the field is not "*" / #entity-tag, in which case the caller
 * should treat the request as unconditional. Empty list elements are allowed (RFC 9110 §5.6.1).
 */
TANDEM_EXPORT int tandem_if_none_match(const char *field, size_t len, const char *etag,
                                       size_t etag_len, int *match);

/* Compares two entity-tags (quotes included, W/ allowed): weak comparison when weak is true,
 * else strong (§8.8.3.2: both strong and identical). Malformed tags never compare equal. */
TANDEM_EXPORT bool tandem_etag_equal(const char *a, size_t alen, const char *b, size_t blen,
                                     bool weak);

struct tandem_cache_control {
    int64_t max_age;  /* seconds; -1 when absent */
    int64_t s_maxage; /* seconds; -1 when absent */
    bool no_store;
    bool no_cache;   /* also set by the qualified form no-cache="field" */
    bool is_private; /* also set by private="field" */
    bool is_public;
    bool must_revalidate;
    bool no_transform;
    bool immutable;
};

/* Sets every directive absent (max_age, s_maxage -1; flags false). */
TANDEM_EXPORT void tandem_cache_control_init(struct tandem_cache_control *cc);

/*
 * Formats a Cache-Control field value into buf (len bytes), NUL-terminated, directives in the
 * order no-store, no-cache, private, public, max-age, s-maxage, must-revalidate, no-transform,
 * immutable, separated by ", " ("" when none is set). *out_len (may be NULL) gets the length.
 * Returns 0; TANDEM_EINVAL for both private and public, or a negative age other than -1;
 * TANDEM_ETOOLARGE when buf is too small (128 bytes always suffice).
 */
TANDEM_EXPORT int tandem_cache_control_format(const struct tandem_cache_control *cc, char *buf,
                                              size_t len, size_t *out_len);

/*
 * Parses a Cache-Control field value (RFC 9111 §5.2: comma-separated directives, names
 * case-insensitive, arguments token or quoted-string, both accepted for every directive).
 * Unknown directives are ignored; for a repeated directive the first occurrence counts; an age
 * that is not delta-seconds reads as 0 (stale, as §4.2.1 advises); ages above 2^31 read as 2^31
 * (§1.2.2). Returns 0, or TANDEM_EINVAL when the list itself is malformed (then *cc is as after
 * init).
 */
TANDEM_EXPORT int tandem_cache_control_parse(const char *field, size_t len,
                                             struct tandem_cache_control *cc);

#ifdef __cplusplus
}
#endif
#endif
