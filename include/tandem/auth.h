/*
 * tandem/auth.h: JSON Web Tokens (RFC 7519) signed with ES256, issued by one service and
 * verified by every other one locally.
 *
 * MODEL. One service (the blog's users) holds a P-256 private key and signs tokens with it
 * (tandem_auth_sign); every service holds the matching public key and verifies tokens without
 * calling anyone (tandem_auth_verify). A token is a JWS in compact form,
 * base64url(header).base64url(claims).base64url(signature), with the header {"alg":"ES256",
 * "typ":"JWT"} and the claims {"sub":<user id>,"username":...,"iat":...,"exp":...} plus any the
 * issuer adds. Debian's libjwt (1.10, OpenSSL underneath) makes and checks the signatures; libjwt
 * 1.10 has no EdDSA, hence ES256 (ECDSA on P-256 with SHA-256, RFC 7518 §3.4).
 *
 * WHAT VERIFICATION CHECKS, in order (any failure: TANDEM_EINVAL with a reason):
 *   1. shape: at most 8 KiB, three base64url segments without padding; the header and the
 *      claims are JSON objects (a member given twice is refused); the signature is 64 bytes;
 *   2. the algorithm is PINNED: the header's "alg" must be exactly "ES256" before anything is
 *      verified, and libjwt's decoded algorithm must be ES256 again after. So "none", HS256 (a
 *      token "signed" with the public key's PEM text as an HMAC secret, which libjwt 1.10 accepts
 *      when the algorithm is not checked), ES384 and every other algorithm are refused; a header
 *      with "crit" is refused (no extension is understood), "typ" if present must be "JWT";
 *   3. the signature, with the public key;
 *   4. the claims: "sub" a non-empty string; "exp" a number (required) with now < exp + leeway;
 *      "nbf", when present, <= now + leeway; "iat", when present, <= now + leeway (not issued in
 *      the future); "iss" equal to the configured issuer and "aud" (a string or an array of
 *      strings) containing the configured audience, when those are configured.
 *
 * THE CACHE. A verified token is kept (its whole text as the key) with its claims, so the next
 * request carrying it pays a hash lookup instead of a signature check. Bounded: at most
 * cache_entries tokens, split in 16 stripes each under its own mutex (see docs/libtandem.md for
 * the measurement that chose stripes over per-worker caches); a full stripe evicts with the
 * CLOCK algorithm (an entry used since the hand last passed is spared once). An entry never
 * outlives its token: a lookup at or after exp + leeway drops it and the token is refused as
 * expired, exactly as without the cache. Only tokens that passed every check are cached.
 *
 * CLAIMS are shared, reference-counted and read-only: tandem_auth_verify hands out a reference
 * (tandem_claims_release gives it back); the runtime's tandem_require_auth holds one until the
 * request's answer has been written (so an answer may borrow from them).
 *
 * Threads: a struct tandem_auth is used by any number of threads at once (verify, sign, stats);
 * new and free on one thread, with no call in progress.
 */
#ifndef TANDEM_AUTH_H
#define TANDEM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tandem_auth;

/* Settings; strings copied by tandem_auth_new. Each key is given as PEM text or as a file's path
 * (not both). */
struct tandem_auth_config {
    const char *public_key;       /* PEM "PUBLIC KEY" of a P-256 key: verifies */
    const char *public_key_file;  /* or the file holding it */
    const char *private_key;      /* PEM "PRIVATE KEY" (PKCS #8) or "EC PRIVATE KEY", P-256, not
                                     encrypted: signs; NULL with private_key_file NULL: verify
                                     only (tandem_auth_sign refuses) */
    const char *private_key_file; /* or the file holding it */
    const char *issuer;           /* "iss" put into signed tokens and required when verifying;
                                     NULL: neither */
    const char *audience;         /* "aud" likewise (NULL: neither) */
    int64_t lifetime_s;           /* tandem_auth_sign: exp = iat + lifetime_s; 0: 86400 */
    int64_t leeway_s;             /* clock skew allowed on exp, nbf, iat; 0: 30; < 0: none */
    size_t cache_entries;         /* verified tokens kept; 0: 4096 */
    int64_t (*clock)(void *arg);  /* now, in Unix seconds; NULL: time(NULL). For tests. */
    void *clock_arg;
};

/* The verified claims of a token. Read-only, shared between the requests that carry the token. */
struct tandem_claims {
    const char *sub;      /* "sub": the user's id; never NULL nor empty */
    const char *username; /* "username" when it is a string, else NULL */
    int64_t exp;          /* "exp" (Unix seconds, fraction dropped) */
    int64_t iat;          /* "iat", 0 when absent */
    const json_t *raw;    /* every claim, for the service's own ("roles", ...); read with
                             jansson's getters, never change it (json_incref / "O" in json_pack
                             are fine: jansson's reference counts are atomic) */
};

/* Counters since tandem_auth_new. */
struct tandem_auth_stats {
    uint64_t hits;       /* verifications answered from the cache */
    uint64_t misses;     /* verifications that checked a signature (their token was not cached) */
    uint64_t evictions;  /* entries dropped to make room or because their token expired */
    uint64_t entries;    /* entries now */
    uint64_t rejected;   /* tokens refused, whatever the reason */
    uint64_t signatures; /* signature checks made (a miss that got as far as the signature) */
};

/*
 * Reads the keys and checks them: P-256 keys, a private key not encrypted and matching the public
 * key. Returns 0 and *out (free with tandem_auth_free); TANDEM_EINVAL (no public key, both text and
 * file given, a key that is not a P-256 PEM key, keys that do not match, an issuer or audience
 * that is not UTF-8) or TANDEM_EIO (a key file unreadable). The reason is logged.
 */
TANDEM_EXPORT int tandem_auth_new(const struct tandem_auth_config *cfg, struct tandem_auth **out);

/* Frees a (the cache with it). Claims still referenced stay valid until released. NULL: no-op. */
TANDEM_EXPORT void tandem_auth_free(struct tandem_auth *a);

/*
 * Verifies token[0..len) as described above (from the cache when it is there). Returns 0 and
 * *claims (a reference: tandem_claims_release it), or TANDEM_EINVAL with *why (may be NULL) a
 * static, human-readable reason ("token expired", "algorithm not accepted", ...), or
 * TANDEM_ENOMEM.
 */
TANDEM_EXPORT int tandem_auth_verify(struct tandem_auth *a, const char *token, size_t len,
                                     const struct tandem_claims **claims, const char **why);

/* Gives back a reference from tandem_auth_verify. NULL: no-op. Any thread. */
TANDEM_EXPORT void tandem_claims_release(const struct tandem_claims *c);

/*
 * Issues a token (needs the private key): claims = extra's members (may be NULL), then "sub"
 * (required, non-empty), "username" (when not NULL), "iat" = now, "exp" = now + lifetime_s, and
 * "iss" / "aud" when configured (these win over extra's). Returns 0 and *token (NUL-terminated,
 * malloc'd: free() it), TANDEM_EINVAL (no private key, no sub, extra not an object, a string
 * that is not UTF-8) or TANDEM_ENOMEM.
 */
TANDEM_EXPORT int tandem_auth_sign(struct tandem_auth *a, const char *sub, const char *username,
                                   const json_t *extra, char **token);

/* Signs claims exactly as given (nothing added or checked), for tools and tests that need a
 * token with chosen times. Returns as tandem_auth_sign. */
TANDEM_EXPORT int tandem_auth_sign_claims(struct tandem_auth *a, const json_t *claims,
                                          char **token);

/* Fills *out. Any thread. */
TANDEM_EXPORT void tandem_auth_stats(struct tandem_auth *a, struct tandem_auth_stats *out);

/*
 * A new P-256 key pair (OpenSSL's EVP) as PEM text: *private_pem ("PRIVATE KEY", PKCS #8, not
 * encrypted) and *public_pem ("PUBLIC KEY"), both malloc'd (free() them). Returns 0 or
 * TANDEM_EIO.
 */
TANDEM_EXPORT int tandem_auth_keygen(char **private_pem, char **public_pem);

/*
 * The same key pair written to files: private_path with mode 0600 and public_path with 0644, each
 * created anew (an existing file is an error: keys are never overwritten). For a development
 * system's first start (docs/libtandem.md, "Keys"). Returns 0, TANDEM_EEXIST (a file exists) or
 * TANDEM_EIO (nothing is left behind then).
 */
TANDEM_EXPORT int tandem_auth_keygen_files(const char *private_path, const char *public_path);

/* ---- in a service (tandem/service.h; these are in libtandem's runtime) ---------------------
 *
 * A service turns verification on once, before tandem_service_run, with tandem_service_auth. Its
 * handlers then call tandem_require_auth (or tandem_optional_auth) first thing. The header read
 * is RealWorld's "Authorization: Token <jwt>"; "Bearer <jwt>" is accepted too (schemes are
 * case-insensitive). Refusals are 401 application/problem+json with "WWW-Authenticate: Token"
 * and a detail saying why. The cache's counters are in /metrics:
 *
 *   tandem_auth_cache_hits_total, tandem_auth_cache_misses_total,
 *   tandem_auth_cache_evictions_total, tandem_auth_cache_entries (gauge),
 *   tandem_auth_rejected_total
 */
struct tandem_service;
struct tandem_http_request;

/*
 * Turns token verification on for s. With auth NULL (what a service does) the verifier is built
 * from the options this call declares, all read from flags or the environment:
 *
 *   --jwt-public-key   TANDEM_JWT_PUBLIC_KEY   PEM file of the public key (required)
 *   --jwt-private-key  TANDEM_JWT_PRIVATE_KEY  PEM file of the private key (the issuer only)
 *   --jwt-issuer       TANDEM_JWT_ISSUER       "iss" to put and require (default: none)
 *   --jwt-audience     TANDEM_JWT_AUDIENCE     "aud" to put and require (default: none)
 *   --jwt-lifetime     TANDEM_JWT_LIFETIME     seconds a signed token lasts (default 86400)
 *   --jwt-cache        TANDEM_JWT_CACHE        verified tokens cached (default 4096)
 *
 * With auth not NULL, that verifier is used (borrowed: keep it until tandem_service_free; for
 * tests and programs that build their own). Call once, before tandem_service_run. Returns 0,
 * TANDEM_EEXIST (called before), TANDEM_EINVAL (a bad option value, a missing or bad key: logged;
 * the service should exit), TANDEM_EIO (a key file unreadable: logged).
 */
TANDEM_EXPORT int tandem_service_auth(struct tandem_service *s, struct tandem_auth *auth);

/* The service's verifier (to sign with, in the issuing service), or NULL before
 * tandem_service_auth. */
TANDEM_EXPORT struct tandem_auth *tandem_service_auth_get(struct tandem_service *s);

/*
 * For a handler whose route needs a user: returns the claims of the request's valid token
 * (borrowed: valid until req is answered, the answering call included, so claims->username may
 * be the body; the same pointer on every call for req), or answers req 401 (no Authorization
 * header, a header that is not "Token <jwt>" or "Bearer <jwt>", a token refused) and returns
 * NULL: the handler just returns. A service without tandem_service_auth answers 500 (logged).
 */
TANDEM_EXPORT const struct tandem_claims *tandem_require_auth(struct tandem_http_request *req);

/*
 * For a route where a user is optional (RealWorld's GET /api/articles/{slug}): without an
 * Authorization header, returns 0 with *claims NULL (anonymous); with a valid token, 0 and
 * *claims as tandem_require_auth; with a header that is present but not valid (malformed, expired,
 * forged), answers 401 as tandem_require_auth does and returns TANDEM_EINVAL: the handler just
 * returns.
 */
TANDEM_EXPORT int tandem_optional_auth(struct tandem_http_request *req,
                                       const struct tandem_claims **claims);

#ifdef __cplusplus
}
#endif
#endif
