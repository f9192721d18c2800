/*
 * auth.c: tandem/auth.h: the verifier and issuer of ES256 tokens.
 *
 * VERIFY, cheapest first:
 *   1. the length (at most AUTH_TOKEN_MAX) and the cache (cache.c): a hit returns the claims
 *      verified before, unless the token has expired since (then it is refused as expired);
 *   2. token.c: shape, header, the pinned algorithm (a token with any other "alg" stops here,
 *      before libjwt or a key is involved), the claims decoded;
 *   3. libjwt's jwt_decode with the public key PEM: the signature. Then jwt_get_alg must be ES256
 *      again: the pin holds even if libjwt and token.c ever disagreed on the header;
 *   4. token.c's claims check (exp, nbf, iat, iss, aud, sub) on the claims token.c decoded (the
 *      bytes the signature covers), then the cache keeps them until exp + leeway.
 *
 * SIGN: the claims as one JSON object handed to libjwt (jwt_add_grants_json), ES256 with the
 * private key PEM, jwt_encode_str.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/err.h>

#include "auth_int.h"
#include "common/log.h"

struct tandem_auth {
    char *pub, *priv; /* PEM text; priv NULL: verify only */
    size_t pub_len, priv_len;
    char *issuer, *audience;
    int64_t lifetime_s, leeway_s;
    int64_t (*clock)(void *arg);
    void *clock_arg;
    struct auth_cache *cache;
    _Atomic uint64_t rejected, signatures;
};

/* ---- claims ---------------------------------------------------------------------------------- */

struct auth_claims *auth_claims_new(json_t *raw, int64_t exp)
{
    const json_t *sub = json_object_get(raw, "sub");
    const json_t *user = json_object_get(raw, "username");
    const json_t *iat = json_object_get(raw, "iat");
    struct auth_claims *c = json_is_string(sub) ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL) {
        json_decref(raw);
        return NULL;
    }
    c->pub.sub = json_string_value(sub);
    c->pub.username = json_is_string(user) ? json_string_value(user) : NULL;
    c->pub.exp = exp;
    c->pub.iat = json_is_integer(iat) ? (int64_t)json_integer_value(iat)
                 : json_is_real(iat)  ? (int64_t)json_real_value(iat)
                                      : 0;
    c->pub.raw = raw;
    atomic_init(&c->refs, 1);
    return c;
}

void auth_claims_ref(struct auth_claims *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void auth_claims_unref(struct auth_claims *c)
{
    if (c != NULL && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        json_decref((json_t *)c->pub.raw);
        free(c);
    }
}

void tandem_claims_release(const struct tandem_claims *c)
{
    auth_claims_unref((struct auth_claims *)c);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static int64_t wall_clock(void *arg)
{
    (void)arg;
    return (int64_t)time(NULL);
}

static int64_t now_of(const struct tandem_auth *a)
{
    return a->clock(a->clock_arg);
}

/* One key from its text or its file into *pem. Returns 0 (nothing given: *pem NULL) or an
 * error, logged. */
static int key_load(const char *text, const char *file, bool private_key, char **pem, size_t *len)
{
    const char *what = private_key ? "private" : "public";
    char esc[512];
    *pem = NULL;
    *len = 0;
    if (text != NULL && file != NULL) {
        log_error("auth: give a key as text or as a file, not both", "\"key\":\"%s\"", what);
        return TANDEM_EINVAL;
    }
    if (text != NULL) {
        *len = strlen(text);
        *pem = malloc(*len + 1);
        if (*pem == NULL) {
            return TANDEM_ENOMEM;
        }
        memcpy(*pem, text, *len + 1);
    } else if (file != NULL) {
        int rc = auth_read_file(file, pem, len);
        if (rc != 0) {
            log_error("auth: cannot read the key file",
                      "\"key\":\"%s\",\"file\":%s,\"error\":\"%s\"", what,
                      log_json_str(esc, sizeof(esc), file), tandem_strerror(rc));
            return rc;
        }
    } else {
        return 0;
    }
    const char *why = NULL;
    int rc = auth_key_check(*pem, *len, private_key, &why);
    if (rc != 0) {
        log_error("auth: unusable key", "\"key\":\"%s\",\"file\":%s,\"why\":\"%s\"", what,
                  log_json_str(esc, sizeof(esc), file ? file : "(text)"), why);
        free(*pem);
        *pem = NULL;
    }
    return rc;
}

static char *dup_opt(const char *s, int *rc)
{
    if (s == NULL) {
        return NULL;
    }
    json_t *probe = json_string(s); /* NULL when not UTF-8 */
    if (probe == NULL) {
        *rc = TANDEM_EINVAL;
        return NULL;
    }
    json_decref(probe);
    char *d = strdup(s);
    if (d == NULL) {
        *rc = TANDEM_ENOMEM;
    }
    return d;
}

int tandem_auth_new(const struct tandem_auth_config *cfg, struct tandem_auth **out)
{
    struct tandem_auth *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TANDEM_ENOMEM;
    }
    int rc = key_load(cfg->public_key, cfg->public_key_file, false, &a->pub, &a->pub_len);
    if (rc == 0 && a->pub == NULL) {
        log_error("auth: a public key is required", NULL);
        rc = TANDEM_EINVAL;
    }
    if (rc != 0) {
        goto fail;
    }
    rc = key_load(cfg->private_key, cfg->private_key_file, true, &a->priv, &a->priv_len);
    if (rc != 0) {
        goto fail;
    }
    if (a->priv != NULL && auth_keys_match(a->priv, a->priv_len, a->pub, a->pub_len) != 0) {
        log_error("auth: the private key does not belong to the public key", NULL);
        rc = TANDEM_EINVAL;
        goto fail;
    }
    a->issuer = dup_opt(cfg->issuer, &rc);
    a->audience = dup_opt(cfg->audience, &rc);
    if (rc != 0) {
        goto fail;
    }
    a->lifetime_s = cfg->lifetime_s > 0 ? cfg->lifetime_s : 86400;
    a->leeway_s = cfg->leeway_s == 0 ? 30 : cfg->leeway_s < 0 ? 0 : cfg->leeway_s;
    a->clock = cfg->clock != NULL ? cfg->clock : wall_clock;
    a->clock_arg = cfg->clock_arg;
    rc = auth_cache_new(cfg->cache_entries > 0 ? cfg->cache_entries : 4096, &a->cache);
    if (rc != 0) {
        goto fail;
    }
    *out = a;
    return 0;
fail:
    tandem_auth_free(a);
    return rc;
}

void tandem_auth_free(struct tandem_auth *a)
{
    if (a == NULL) {
        return;
    }
    auth_cache_free(a->cache);
    if (a->priv != NULL) {
        memset(a->priv, 0, a->priv_len);
    }
    free(a->priv);
    free(a->pub);
    free(a->issuer);
    free(a->audience);
    free(a);
}

/* ---- verify ---------------------------------------------------------------------------------- */

static int reject(struct tandem_auth *a, const char *reason, const char **why)
{
    atomic_fetch_add_explicit(&a->rejected, 1, memory_order_relaxed);
    if (why != NULL) {
        *why = reason;
    }
    return TANDEM_EINVAL;
}

/* libjwt's verdict on the signature of token[0..len) (NUL-terminated copy made here), and its
 * decoded algorithm pinned again. Returns AUTH_OK, AUTH_SIGNATURE or AUTH_ALGORITHM. */
static enum auth_reason signature_check(struct tandem_auth *a, const char *token, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return AUTH_SIGNATURE;
    }
    memcpy(copy, token, len);
    copy[len] = '\0';
    jwt_t *jwt = NULL;
    atomic_fetch_add_explicit(&a->signatures, 1, memory_order_relaxed);
    int rc = jwt_decode(&jwt, copy, (const unsigned char *)a->pub, (int)a->pub_len);
    enum auth_reason r = rc == 0 && jwt != NULL ? AUTH_OK : AUTH_SIGNATURE;
    if (r != AUTH_OK) {
        ERR_clear_error(); /* OpenSSL's per-thread queue: stale errors confuse its next user */
    }
    if (r == AUTH_OK && jwt_get_alg(jwt) != JWT_ALG_ES256) {
        r = AUTH_ALGORITHM;
    }
    jwt_free(jwt);
    free(copy);
    return r;
}

int tandem_auth_verify(struct tandem_auth *a, const char *token, size_t len,
                       const struct tandem_claims **claims, const char **why)
{
    *claims = NULL;
    if (token == NULL || len == 0 || len > AUTH_TOKEN_MAX) {
        return reject(a, "malformed token", why);
    }
    int64_t now = now_of(a);
    struct auth_claims *c = NULL;
    enum auth_cache_result cr = auth_cache_get(a->cache, token, len, now, &c);
    if (cr == AUTH_CACHE_HIT) {
        *claims = &c->pub;
        return 0;
    }
    if (cr == AUTH_CACHE_EXPIRED) {
        return reject(a, "token expired", why);
    }
    struct auth_token t;
    const char *reason = NULL;
    enum auth_reason r = auth_token_parse(token, len, AUTH_ALG, &t, &reason);
    if (r != AUTH_OK) {
        return reject(a, reason, why);
    }
    r = signature_check(a, token, len);
    if (r != AUTH_OK) {
        auth_token_cleanup(&t);
        return reject(a, r == AUTH_ALGORITHM ? "algorithm not accepted" : "invalid signature", why);
    }
    struct auth_rules rules = {a->issuer, a->audience, a->leeway_s};
    int64_t exp = 0;
    r = auth_claims_check(t.claims, &rules, now, &exp, &reason);
    if (r != AUTH_OK) {
        auth_token_cleanup(&t);
        return reject(a, reason, why);
    }
    c = auth_claims_new(t.claims, exp); /* takes the claims object */
    t.claims = NULL;
    auth_token_cleanup(&t);
    if (c == NULL) {
        return TANDEM_ENOMEM;
    }
    auth_cache_put(a->cache, token, len, exp + a->leeway_s, now, c);
    *claims = &c->pub;
    return 0;
}

void tandem_auth_stats(struct tandem_auth *a, struct tandem_auth_stats *out)
{
    memset(out, 0, sizeof(*out));
    auth_cache_stats(a->cache, out);
    out->rejected = atomic_load_explicit(&a->rejected, memory_order_relaxed);
    out->signatures = atomic_load_explicit(&a->signatures, memory_order_relaxed);
}

/* ---- sign ------------------------------------------------------------------------------------ */

int tandem_auth_sign_claims(struct tandem_auth *a, const json_t *claims, char **token)
{
    *token = NULL;
    if (a->priv == NULL || !json_is_object(claims)) {
        return TANDEM_EINVAL;
    }
    char *text = json_dumps(claims, JSON_COMPACT);
    jwt_t *jwt = NULL;
    int rc = TANDEM_ENOMEM;
    if (text == NULL || jwt_new(&jwt) != 0) {
        goto out;
    }
    rc = TANDEM_EINVAL;
    if (jwt_add_grants_json(jwt, text) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)a->priv, (int)a->priv_len) != 0) {
        goto out;
    }
    *token = jwt_encode_str(jwt);
    rc = *token != NULL ? 0 : TANDEM_ENOMEM;
out:
    jwt_free(jwt);
    free(text);
    return rc;
}

int tandem_auth_sign(struct tandem_auth *a, const char *sub, const char *username,
                     const json_t *extra, char **token)
{
    *token = NULL;
    if (sub == NULL || *sub == '\0' || (extra != NULL && !json_is_object(extra))) {
        return TANDEM_EINVAL;
    }
    json_t *c = extra != NULL ? json_deep_copy(extra) : json_object();
    if (c == NULL) {
        return TANDEM_ENOMEM;
    }
    int64_t now = now_of(a);
    int bad = json_object_set_new(c, "sub", json_string(sub));
    if (username != NULL) {
        bad |= json_object_set_new(c, "username", json_string(username));
    }
    bad |= json_object_set_new(c, "iat", json_integer(now));
    bad |= json_object_set_new(c, "exp", json_integer(now + a->lifetime_s));
    if (a->issuer != NULL) {
        bad |= json_object_set_new(c, "iss", json_string(a->issuer));
    }
    if (a->audience != NULL) {
        bad |= json_object_set_new(c, "aud", json_string(a->audience));
    }
    int rc = bad ? TANDEM_EINVAL : tandem_auth_sign_claims(a, c, token); /* a NULL: not UTF-8 */
    json_decref(c);
    return rc;
}
