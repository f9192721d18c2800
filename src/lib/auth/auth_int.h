/*
 * auth_int.h: what the files of libtandem's token module share (include/tandem/auth.h).
 *
 *   token.c  pure: a compact JWS split, base64url-decoded and parsed (header, claims, signature),
 *            the pinned algorithm checked, the registered claims checked against a time. No
 *            keys, no libjwt: the fuzz target (tests/fuzz/fuzz_auth.c) runs it on raw bytes.
 *   cache.c  the bounded, striped cache of verified tokens and their claims.
 *   keys.c   PEM keys read and checked with OpenSSL (P-256, not encrypted, matching), and key
 *            pairs made (EVP).
 *   auth.c   tandem_auth_*: verification (cache, then token.c, then libjwt's signature check,
 *            then the claims) and signing through libjwt.
 *
 * A compact JWS (RFC 7515 §7.1), as token.c reads it:
 *
 *   BASE64URL(header) '.' BASE64URL(claims) '.' BASE64URL(signature)
 *   header     JSON object, at most AUTH_HEADER_MAX bytes decoded: "alg" (pinned), "typ", no "crit"
 *   claims     JSON object, the rest of the token's 8 KiB
 *   signature  AUTH_SIG_LEN bytes: R and S of ECDSA P-256, 32 bytes each, big-endian
 *              (RFC 7518 §3.4)
 */
#ifndef TANDEM_LIB_AUTH_INT_H
#define TANDEM_LIB_AUTH_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/auth.h"

#define AUTH_TOKEN_MAX  8192
#define AUTH_HEADER_MAX 1024
#define AUTH_SIG_LEN    64
#define AUTH_ALG        "ES256"

/* Why a token was refused: tandem_auth_verify's counters and reasons. */
enum auth_reason {
    AUTH_OK = 0,
    AUTH_MALFORMED,     /* not a compact JWS of JSON objects */
    AUTH_ALGORITHM,     /* alg not the pinned one, crit, typ not JWT */
    AUTH_SIGNATURE,     /* the signature does not verify with the public key */
    AUTH_EXPIRED,       /* now >= exp + leeway */
    AUTH_NOT_YET_VALID, /* nbf or iat after now + leeway */
    AUTH_CLAIMS,        /* sub, exp missing or of the wrong type; iss or aud not the expected */
    AUTH_NREASONS
};

/* ---- token.c --------------------------------------------------------------------------------- */

struct auth_token {
    json_t *header;     /* the decoded header object (a reference) */
    json_t *claims;     /* the decoded claims object (a reference) */
    size_t signing_len; /* bytes of "header.claims" at the token's start */
    uint8_t sig[AUTH_SIG_LEN];
};

/* Decodes base64url without padding (RFC 4648 §5), strictly: only its 64 characters, a length
 * that is not 1 modulo 4, and zero bits where the last character has bits to spare (so each
 * byte string has one encoding). Writes at most cap bytes. Returns 0 and *out_len, or -1. */
int auth_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* Encodes base64url without padding into out (at least 4 * ceil(n / 3) + 1 bytes), NUL ended.
 * Returns the length written. */
size_t auth_b64url_encode(const uint8_t *in, size_t n, char *out);

/*
 * Splits and decodes token[0..len) (checks 1 and 2 of auth.h: shape, alg == alg, no crit, typ).
 * Returns AUTH_OK with *out filled (release with auth_token_cleanup), or AUTH_MALFORMED /
 * AUTH_ALGORITHM with *why a static reason and nothing to clean up.
 */
enum auth_reason auth_token_parse(const char *token, size_t len, const char *alg,
                                  struct auth_token *out, const char **why);
void auth_token_cleanup(struct auth_token *t);

struct auth_rules {
    const char *issuer;   /* NULL: not checked */
    const char *audience; /* NULL: not checked */
    int64_t leeway_s;     /* >= 0 */
};

/* Check 4 of auth.h on claims at time now. Returns AUTH_OK, or AUTH_CLAIMS / AUTH_EXPIRED /
 * AUTH_NOT_YET_VALID with *why. On AUTH_OK, *exp (may be NULL) gets exp, floored. */
enum auth_reason auth_claims_check(const json_t *claims, const struct auth_rules *r, int64_t now,
                                   int64_t *exp, const char **why);

/* ---- claims (auth.c) ------------------------------------------------------------------------- */

/* The shared claims behind a struct tandem_claims pointer (pub is first: the pointer converts). */
struct auth_claims {
    struct tandem_claims pub;
    atomic_long refs;
};

/* New claims over raw (a reference is stolen), one reference held. NULL when raw has no "sub"
 * string (auth_claims_check refuses those first) or memory runs out. */
struct auth_claims *auth_claims_new(json_t *raw, int64_t exp);
void auth_claims_ref(struct auth_claims *c);
void auth_claims_unref(struct auth_claims *c);

/* ---- cache.c --------------------------------------------------------------------------------- */

#define AUTH_CACHE_STRIPES 16

struct auth_cache;

enum auth_cache_result { AUTH_CACHE_MISS, AUTH_CACHE_HIT, AUTH_CACHE_EXPIRED };

/* A cache of at most entries tokens (>= 1), in up to AUTH_CACHE_STRIPES stripes. Returns 0 or
 * TANDEM_ENOMEM. */
int auth_cache_new(size_t entries, struct auth_cache **out);
void auth_cache_free(struct auth_cache *c);

/* Looks token[0..len) up at time now: HIT with *claims (a new reference), EXPIRED (the entry was
 * there with until <= now: dropped, counted as an eviction), or MISS. */
enum auth_cache_result auth_cache_get(struct auth_cache *c, const char *token, size_t len,
                                      int64_t now, struct auth_claims **claims);

/* Keeps token[0..len) -> claims (takes its own reference) until time until (exp + leeway). A token
 * already there is left as it is. May evict (CLOCK) to make room. */
void auth_cache_put(struct auth_cache *c, const char *token, size_t len, int64_t until, int64_t now,
                    struct auth_claims *claims);

/* Counters: hits, misses, evictions, entries now. */
void auth_cache_stats(struct auth_cache *c, struct tandem_auth_stats *out);

/* ---- keys.c ---------------------------------------------------------------------------------- */

/* Checks that pem[0..len) is a P-256 public key (private = false) or an unencrypted P-256 private
 * key (private = true). Returns 0 or TANDEM_EINVAL with *why. */
int auth_key_check(const char *pem, size_t len, bool private_key, const char **why);

/* 0 when the private key's public half is the public key; TANDEM_EINVAL otherwise. */
int auth_keys_match(const char *priv, size_t priv_len, const char *pub, size_t pub_len);

/* Reads a whole PEM file (at most 64 KiB) into *out (malloc'd, NUL-terminated). Returns 0,
 * TANDEM_EIO (unreadable) or TANDEM_ETOOLARGE. */
int auth_read_file(const char *path, char **out, size_t *len);

#endif
