/*
 * libFuzzer target for libtandem's token parsing path (src/lib/auth/token.c, then auth.c's
 * verification with libjwt's signature check behind it).
 *
 * The input is an Authorization token as a client sends it. Each is taken apart by
 * auth_token_parse, its claims checked at a fixed time by auth_claims_check, and verified whole by
 * tandem_auth_verify against a key pair made at start-up (nobody holds its private key, so no
 * input can be a validly signed token). Invariants, beyond "no crash, no sanitizer report":
 *   - tandem_auth_verify never accepts: it returns TANDEM_EINVAL with a reason, no claims;
 *   - a parsed token's header has "alg" exactly "ES256", no "crit", and the signing input ends at
 *     the second dot; the signature decodes to 64 bytes;
 *   - base64url decoding is canonical: a decoded segment encodes back to the same characters.
 * Seeds: tests/fuzz/corpus/auth/ (ES256-shaped, none, HS256, ES384, crit, nbf, duplicate alg).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tandem_auth *verifier;

static void init(void)
{
    char *priv = NULL, *pub = NULL;
    if (tandem_auth_keygen(&priv, &pub) != 0) {
        abort();
    }
    struct tandem_auth_config cfg = {.public_key = pub, .audience = "blog", .cache_entries = 16};
    if (tandem_auth_new(&cfg, &verifier) != 0) {
        abort();
    }
    free(priv);
    free(pub);
}

static void check_canonical(const char *seg, size_t n)
{
    uint8_t buf[AUTH_TOKEN_MAX];
    char again[AUTH_TOKEN_MAX * 2];
    size_t len = 0;
    if (n <= AUTH_TOKEN_MAX && auth_b64url_decode(seg, n, buf, sizeof(buf), &len) == 0) {
        if (auth_b64url_encode(buf, len, again) != n || memcmp(again, seg, n) != 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (verifier == NULL) {
        init();
    }
    const char *tok = (const char *)data;
    const char *dot = memchr(tok, '.', size);
    check_canonical(tok, dot != NULL ? (size_t)(dot - tok) : size);

    struct auth_token t;
    const char *why = NULL;
    enum auth_reason r = auth_token_parse(tok, size, AUTH_ALG, &t, &why);
    if (r == AUTH_OK) {
        const json_t *alg = json_object_get(t.header, "alg");
        if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0 ||
            json_object_get(t.header, "crit") != NULL || !json_is_object(t.claims) ||
            t.signing_len >= size || tok[t.signing_len] != '.' || why != NULL) {
            abort();
        }
        struct auth_rules rules = {"users", "blog", 30};
        int64_t exp = 0;
        r = auth_claims_check(t.claims, &rules, 1700000000, &exp, &why);
        if ((r == AUTH_OK) != (why == NULL)) {
            abort();
        }
        auth_token_cleanup(&t);
    } else if (why == NULL || t.header != NULL || t.claims != NULL) {
        abort();
    }

    const struct tandem_claims *c = NULL;
    why = NULL;
    if (tandem_auth_verify(verifier, tok, size, &c, &why) != TANDEM_EINVAL || c != NULL ||
        why == NULL) {
        abort();
    }
    return 0;
}
