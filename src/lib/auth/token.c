/*
 * token.c: a compact JWS taken apart and its registered claims checked, before and after any
 * signature is looked at (layout in auth_int.h; RFC 7515 §7.1, RFC 7519 §4.1).
 *
 * Everything here is a pure function of its arguments: bytes in, JSON objects and a verdict out.
 * Untrusted input is bounded before it is decoded: the token by AUTH_TOKEN_MAX, the header by
 * AUTH_HEADER_MAX, the signature by its fixed length; decoding never allocates more than the
 * segment it decodes. The algorithm is checked here, from the header's own bytes, before any key
 * is used: a token whose "alg" is not the pinned one never reaches libjwt.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_int.h"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

int auth_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap) {
        return -1;
    }
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        return -1; /* bits to spare must be zero: one encoding per byte string */
    }
    *out_len = o;
    return 0;
}

size_t auth_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[v >> 18];
        out[o++] = B64URL[(v >> 12) & 63];
        out[o++] = B64URL[(v >> 6) & 63];
        out[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        out[o++] = B64URL[in[i] >> 2];
        out[o++] = B64URL[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        out[o++] = B64URL[v >> 10];
        out[o++] = B64URL[(v >> 4) & 63];
        out[o++] = B64URL[(v & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

/* Decodes one segment holding a JSON object (at most max bytes decoded). NULL when it is not. */
static json_t *segment_json(const char *s, size_t n, size_t max)
{
    if (n == 0 || n / 4 * 3 > max) {
        return NULL;
    }
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    if (buf == NULL) {
        return NULL;
    }
    size_t len = 0;
    json_t *j = NULL;
    if (auth_b64url_decode(s, n, buf, n / 4 * 3 + 3, &len) == 0) {
        json_error_t e;
        j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e); /* objects only */
    }
    free(buf);
    return j;
}

enum auth_reason auth_token_parse(const char *token, size_t len, const char *alg,
                                  struct auth_token *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = "malformed token";
    if (len == 0 || len > AUTH_TOKEN_MAX || memchr(token, '\0', len) != NULL) {
        return AUTH_MALFORMED;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    const char *end = token + len;
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL) {
        return AUTH_MALFORMED; /* not three segments */
    }
    size_t sig_len = 0;
    if (auth_b64url_decode(d2 + 1, (size_t)(end - d2 - 1), out->sig, sizeof(out->sig), &sig_len) !=
            0 ||
        sig_len != AUTH_SIG_LEN) {
        *why = "malformed signature";
        return AUTH_MALFORMED;
    }
    out->header = segment_json(token, (size_t)(d1 - token), AUTH_HEADER_MAX);
    if (out->header == NULL) {
        *why = "malformed token header";
        return AUTH_MALFORMED;
    }
    const json_t *a = json_object_get(out->header, "alg");
    const json_t *typ = json_object_get(out->header, "typ");
    enum auth_reason r = AUTH_OK;
    if (!json_is_string(a) || strcmp(json_string_value(a), alg) != 0) {
        *why = "algorithm not accepted";
        r = AUTH_ALGORITHM;
    } else if (json_object_get(out->header, "crit") != NULL) {
        *why = "critical header extension not understood";
        r = AUTH_ALGORITHM;
    } else if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT"))) {
        *why = "token type is not JWT";
        r = AUTH_ALGORITHM;
    }
    if (r != AUTH_OK) {
        auth_token_cleanup(out);
        return r;
    }
    out->claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1), AUTH_TOKEN_MAX);
    if (out->claims == NULL) {
        auth_token_cleanup(out);
        *why = "malformed token claims";
        return AUTH_MALFORMED;
    }
    out->signing_len = (size_t)(d2 - token);
    *why = NULL;
    return AUTH_OK;
}

void auth_token_cleanup(struct auth_token *t)
{
    json_decref(t->header);
    json_decref(t->claims);
    t->header = t->claims = NULL;
}

/* A NumericDate (RFC 7519 §2) as whole seconds: false when v is not a finite number >= 0. */
static bool numeric_date(const json_t *v, int64_t *out)
{
    if (!json_is_number(v)) {
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0) {
        return false;
    }
    *out = d >= 9e15 ? (int64_t)9e15 : (int64_t)floor(d);
    return true;
}

static bool audience_has(const json_t *aud, const char *want)
{
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), want) == 0;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) {
            return true;
        }
    }
    return false;
}

enum auth_reason auth_claims_check(const json_t *claims, const struct auth_rules *r, int64_t now,
                                   int64_t *exp_out, const char **why)
{
    const json_t *sub = json_object_get(claims, "sub");
    const json_t *nbf = json_object_get(claims, "nbf");
    const json_t *iat = json_object_get(claims, "iat");
    const json_t *iss = json_object_get(claims, "iss");
    int64_t exp = 0, t = 0;
    if (!json_is_string(sub) || json_string_length(sub) == 0) {
        *why = "token has no subject";
        return AUTH_CLAIMS;
    }
    if (!numeric_date(json_object_get(claims, "exp"), &exp)) {
        *why = "token has no valid expiry";
        return AUTH_CLAIMS;
    }
    if ((nbf != NULL && !numeric_date(nbf, &t)) || (iat != NULL && !numeric_date(iat, &t))) {
        *why = "token has an invalid nbf or iat";
        return AUTH_CLAIMS;
    }
    if (r->issuer != NULL && (!json_is_string(iss) || strcmp(json_string_value(iss), r->issuer))) {
        *why = "token issuer not accepted";
        return AUTH_CLAIMS;
    }
    if (r->audience != NULL && !audience_has(json_object_get(claims, "aud"), r->audience)) {
        *why = "token audience not accepted";
        return AUTH_CLAIMS;
    }
    if (now >= exp + r->leeway_s) {
        *why = "token expired";
        return AUTH_EXPIRED;
    }
    if (nbf != NULL && numeric_date(nbf, &t) && t > now + r->leeway_s) {
        *why = "token not valid yet";
        return AUTH_NOT_YET_VALID;
    }
    if (iat != NULL && numeric_date(iat, &t) && t > now + r->leeway_s) {
        *why = "token issued in the future";
        return AUTH_NOT_YET_VALID;
    }
    if (exp_out != NULL) {
        *exp_out = exp;
    }
    *why = NULL;
    return AUTH_OK;
}
