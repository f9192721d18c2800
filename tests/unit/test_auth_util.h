/*
 * What the token tests share (test_lib_auth.c, test_lib_auth_service.c): tokens made the way an
 * attacker or another library would, with libjwt directly (any algorithm, any key: "none", HS256
 * keyed with a public key's PEM, ES384), and a token whose claims are replaced under its
 * signature.
 */
#ifndef TANDEM_TEST_AUTH_UTIL_H
#define TANDEM_TEST_AUTH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include "auth_int.h"

/* A token over claims (JSON text) signed by libjwt with alg and key (NULL key for none). */
static inline char *libjwt_token(jwt_alg_t alg, const char *key, const char *claims)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0),
                     0);
    char *t = jwt_encode_str(jwt);
    assert_non_null(t);
    jwt_free(jwt);
    return t;
}

/* tok with its claims segment replaced by the base64url of claims (the signature kept). */
static inline char *with_claims(const char *tok, const char *claims)
{
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char seg[2048];
    auth_b64url_encode((const uint8_t *)claims, strlen(claims), seg);
    size_t n = (size_t)(d1 - tok) + 1 + strlen(seg) + strlen(d2) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s.%s%s", (int)(d1 - tok), tok, seg, d2);
    return out;
}

/* A key pair written by tandem_auth_keygen_files into a new directory made from the template dir
 * (mkdtemp): priv and pub (64 bytes each) get the files' paths. */
static inline void key_files(char *dir, char *priv, char *pub)
{
    assert_non_null(mkdtemp(dir));
    snprintf(priv, 64, "%s/jwt.key", dir);
    snprintf(pub, 64, "%s/jwt.pub", dir);
    assert_int_equal(tandem_auth_keygen_files(priv, pub), 0);
}

#endif
