/*
 * Token tests (src/lib/auth/, include/tandem/auth.h) on keys made here (tandem_auth_keygen) and a
 * clock the test sets: a valid token gives its claims; garbage, a tampered payload, a bad or
 * another key's signature, "alg": "none", HS256 signed with the public key's PEM as the secret,
 * ES384 signed with the right key, an expired token, a token not valid yet or issued in the
 * future, missing claims, a foreign issuer or audience are all refused; the cache answers a
 * second verification without a signature check, drops a cached token once it expires, stays
 * within its bound under many tokens, and holds under several threads; keys are checked at
 * tandem_auth_new and written by tandem_auth_keygen_files.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth_int.h"
#include "tandem/auth.h"
#include "test_auth_util.h"

#define T0 1700000000

static int64_t fake_now = T0;
static char *priv1, *pub1, *priv2, *pub2;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static int setup(void **state)
{
    assert_int_equal(tandem_auth_keygen(&priv1, &pub1), 0);
    assert_int_equal(tandem_auth_keygen(&priv2, &pub2), 0);
    return 0;
}

static int teardown(void **state)
{
    free(priv1);
    free(pub1);
    free(priv2);
    free(pub2);
    return 0;
}

static struct tandem_auth *new_auth(const char *priv, const char *pub, size_t cache)
{
    struct tandem_auth_config cfg = {
        .public_key = pub,
        .private_key = priv,
        .lifetime_s = 3600,
        .leeway_s = 30,
        .cache_entries = cache,
        .clock = test_clock,
    };
    struct tandem_auth *a = NULL;
    assert_int_equal(tandem_auth_new(&cfg, &a), 0);
    return a;
}

/* Verifies tok; returns the why of a refusal, or NULL when accepted (claims released). */
static const char *refusal(struct tandem_auth *a, const char *tok)
{
    const struct tandem_claims *c = NULL;
    const char *why = NULL;
    int rc = tandem_auth_verify(a, tok, strlen(tok), &c, &why);
    if (rc == 0) {
        assert_non_null(c);
        tandem_claims_release(c);
        return NULL;
    }
    assert_int_equal(rc, TANDEM_EINVAL);
    assert_null(c);
    assert_non_null(why);
    return why;
}

static void test_valid_token(void **state)
{
    fake_now = T0;
    struct tandem_auth *a = new_auth(priv1, pub1, 0);
    json_t *extra = json_pack("{s:[s,s],s:s}", "roles", "reader", "writer", "sub", "ignored");
    char *tok = NULL;
    assert_int_equal(tandem_auth_sign(a, "42", "jake", extra, &tok), 0);
    json_decref(extra);
    /* header {"alg":"ES256","typ":"JWT"} (either order), three segments */
    struct auth_token t;
    const char *why = NULL;
    assert_int_equal(auth_token_parse(tok, strlen(tok), "ES256", &t, &why), AUTH_OK);
    assert_string_equal(json_string_value(json_object_get(t.header, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(t.header, "typ")), "JWT");
    auth_token_cleanup(&t);

    const struct tandem_claims *c = NULL;
    assert_int_equal(tandem_auth_verify(a, tok, strlen(tok), &c, &why), 0);
    assert_string_equal(c->sub, "42");
    assert_string_equal(c->username, "jake");
    assert_int_equal(c->iat, T0);
    assert_int_equal(c->exp, T0 + 3600);
    json_t *roles = json_object_get(c->raw, "roles");
    assert_int_equal(json_array_size(roles), 2);
    assert_string_equal(json_string_value(json_array_get(roles, 1)), "writer");
    tandem_claims_release(c);

    /* a verifier with the public key only verifies too, and refuses to sign */
    struct tandem_auth *v = new_auth(NULL, pub1, 0);
    assert_null(refusal(v, tok));
    char *t2 = NULL;
    assert_int_equal(tandem_auth_sign(v, "1", NULL, NULL, &t2), TANDEM_EINVAL);
    assert_null(t2);
    assert_int_equal(tandem_auth_sign(a, "", NULL, NULL, &t2), TANDEM_EINVAL);
    assert_int_equal(tandem_auth_sign(a, "1", "\xff", NULL, &t2), TANDEM_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(tandem_auth_sign(a, "1", NULL, arr, &t2), TANDEM_EINVAL);
    json_decref(arr);
    free(tok);
    tandem_auth_free(v);
    tandem_auth_free(a);
}

static void test_refused(void **state)
{
    fake_now = T0;
    struct tandem_auth *a = new_auth(priv1, pub1, 0);
    struct tandem_auth *other = new_auth(priv2, pub2, 0);
    char *good = NULL, *foreign = NULL;
    assert_int_equal(tandem_auth_sign(a, "42", "jake", NULL, &good), 0);
    assert_int_equal(tandem_auth_sign(other, "42", "jake", NULL, &foreign), 0);
    char claims[256];
    snprintf(claims, sizeof(claims), "{\"sub\":\"42\",\"username\":\"jake\",\"iat\":%d,\"exp\":%d}",
             T0, T0 + 3600);

    /* garbage and shapes */
    assert_string_equal(refusal(a, "garbage"), "malformed token");
    assert_string_equal(refusal(a, "a.b"), "malformed token");
    assert_string_equal(refusal(a, "a.b.c.d"), "malformed token");
    assert_non_null(refusal(a, "..."));
    assert_non_null(refusal(a, "eyJhbGciOiJFUzI1NiJ9.e30.!!!"));
    char big[AUTH_TOKEN_MAX + 2];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_string_equal(refusal(a, big), "malformed token");
    const struct tandem_claims *c = NULL;
    const char *why = NULL;
    assert_int_equal(tandem_auth_verify(a, "", 0, &c, &why), TANDEM_EINVAL);

    /* tampered payload (another sub, the signature kept) */
    char *tampered = with_claims(good, "{\"sub\":\"1\",\"username\":\"admin\",\"exp\":1800000000}");
    assert_string_equal(refusal(a, tampered), "invalid signature");
    /* one character of the signature changed: still 64 bytes, does not verify */
    char *badsig = strdup(good);
    char *last = badsig + strlen(badsig) - 3;
    *last = *last == 'A' ? 'B' : 'A';
    assert_string_equal(refusal(a, badsig), "invalid signature");
    /* signed by another key */
    assert_string_equal(refusal(a, foreign), "invalid signature");
    /* alg none, with and without a signature segment */
    char *none = libjwt_token(JWT_ALG_NONE, NULL, claims);
    assert_non_null(refusal(a, none));
    char *none_sig = malloc(strlen(none) + 100);
    snprintf(none_sig, strlen(none) + 100, "%s%s", none, strrchr(good, '.') + 1);
    assert_string_equal(refusal(a, none_sig), "algorithm not accepted");
    /* HS256 with the public key's PEM as the HMAC secret: libjwt alone would accept it */
    char *hs = libjwt_token(JWT_ALG_HS256, pub1, claims);
    jwt_t *j = NULL;
    assert_int_equal(jwt_decode(&j, hs, (const unsigned char *)pub1, (int)strlen(pub1)), 0);
    jwt_free(j); /* (the hole: libjwt verified it) */
    assert_non_null(refusal(a, hs));
    /* ES384 signed with the right P-256 key: libjwt alone would accept it too */
    char *es384 = libjwt_token(JWT_ALG_ES384, priv1, claims);
    assert_int_equal(jwt_decode(&j, es384, (const unsigned char *)pub1, (int)strlen(pub1)), 0);
    jwt_free(j);
    assert_string_equal(refusal(a, es384), "algorithm not accepted");
    /* a header with crit, or another typ: built by hand over the good signature */
    static const char *headers[] = {"{\"alg\":\"ES256\",\"crit\":[\"b64\"],\"b64\":false}",
                                    "{\"alg\":\"ES256\",\"typ\":\"JOSE+JSON\"}",
                                    "{\"alg\":\"es256\"}", "{\"alg\":[\"ES256\"]}", "{}"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(*headers); i++) {
        char h[256], tok[2048];
        auth_b64url_encode((const uint8_t *)headers[i], strlen(headers[i]), h);
        snprintf(tok, sizeof(tok), "%s%s", h, strchr(good, '.'));
        const char *r = refusal(a, tok);
        assert_true(strcmp(r, "algorithm not accepted") == 0 ||
                    strcmp(r, "critical header extension not understood") == 0 ||
                    strcmp(r, "token type is not JWT") == 0);
    }
    /* a header member given twice is malformed */
    char h[256], tok[2048];
    const char *dup = "{\"alg\":\"ES256\",\"alg\":\"none\"}";
    auth_b64url_encode((const uint8_t *)dup, strlen(dup), h);
    snprintf(tok, sizeof(tok), "%s%s", h, strchr(good, '.'));
    assert_string_equal(refusal(a, tok), "malformed token header");
    assert_null(refusal(a, good));

    struct tandem_auth_stats st;
    tandem_auth_stats(a, &st);
    assert_true(st.rejected >= 15);
    free(tampered);
    free(badsig);
    free(none);
    free(none_sig);
    free(hs);
    free(es384);
    free(good);
    free(foreign);
    tandem_auth_free(other);
    tandem_auth_free(a);
}

static void test_times_and_claims(void **state)
{
    fake_now = T0;
    struct tandem_auth_config cfg = {.public_key = pub1,
                                     .private_key = priv1,
                                     .issuer = "users",
                                     .audience = "blog",
                                     .leeway_s = 30,
                                     .clock = test_clock};
    struct tandem_auth *a = NULL;
    assert_int_equal(tandem_auth_new(&cfg, &a), 0);
    static const struct {
        const char *claims, *why; /* why NULL: accepted */
    } t[] = {
        {"{\"sub\":\"1\",\"exp\":1700003600,\"iss\":\"users\",\"aud\":\"blog\"}", NULL},
        {"{\"sub\":\"1\",\"exp\":1700003600.9,\"iss\":\"users\",\"aud\":[\"x\",\"blog\"]}", NULL},
        /* expired: exp + leeway <= now */
        {"{\"sub\":\"1\",\"exp\":1699999970,\"iss\":\"users\",\"aud\":\"blog\"}", "token expired"},
        {"{\"sub\":\"1\",\"exp\":1699999971,\"iss\":\"users\",\"aud\":\"blog\"}", NULL},
        /* nbf in the future beyond the leeway */
        {"{\"sub\":\"1\",\"exp\":1700003600,\"nbf\":1700000031,\"iss\":\"users\",\"aud\":\"blog\"}",
         "token not valid yet"},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"nbf\":1700000030,\"iss\":\"users\",\"aud\":\"blog\"}",
         NULL},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"iat\":1700000100,\"iss\":\"users\",\"aud\":\"blog\"}",
         "token issued in the future"},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"iat\":\"x\",\"iss\":\"users\",\"aud\":\"blog\"}",
         "token has an invalid nbf or iat"},
        {"{\"sub\":\"1\",\"iss\":\"users\",\"aud\":\"blog\"}", "token has no valid expiry"},
        {"{\"sub\":\"1\",\"exp\":\"1700003600\",\"iss\":\"users\",\"aud\":\"blog\"}",
         "token has no valid expiry"},
        {"{\"sub\":\"1\",\"exp\":-5,\"iss\":\"users\",\"aud\":\"blog\"}",
         "token has no valid expiry"},
        {"{\"exp\":1700003600,\"iss\":\"users\",\"aud\":\"blog\"}", "token has no subject"},
        {"{\"sub\":\"\",\"exp\":1700003600,\"iss\":\"users\",\"aud\":\"blog\"}",
         "token has no subject"},
        {"{\"sub\":42,\"exp\":1700003600,\"iss\":\"users\",\"aud\":\"blog\"}",
         "token has no subject"},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"iss\":\"other\",\"aud\":\"blog\"}",
         "token issuer not accepted"},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"aud\":\"blog\"}", "token issuer not accepted"},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"iss\":\"users\",\"aud\":[\"x\"]}",
         "token audience not accepted"},
        {"{\"sub\":\"1\",\"exp\":1700003600,\"iss\":\"users\"}", "token audience not accepted"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        json_t *claims = json_loads(t[i].claims, 0, NULL);
        assert_non_null(claims);
        char *tok = NULL;
        assert_int_equal(tandem_auth_sign_claims(a, claims, &tok), 0);
        const char *why = refusal(a, tok);
        if (t[i].why == NULL ? why != NULL : (why == NULL || strcmp(why, t[i].why) != 0)) {
            fail_msg("claims %s: got %s, want %s", t[i].claims, why ? why : "accepted",
                     t[i].why ? t[i].why : "accepted");
        }
        json_decref(claims);
        free(tok);
    }
    /* tandem_auth_sign puts iss and aud, so its tokens pass */
    char *tok = NULL;
    assert_int_equal(tandem_auth_sign(a, "7", NULL, NULL, &tok), 0);
    assert_null(refusal(a, tok));
    free(tok);
    tandem_auth_free(a);
}

static void test_cache(void **state)
{
    fake_now = T0;
    struct tandem_auth *a = new_auth(priv1, pub1, 64);
    char *tok = NULL;
    assert_int_equal(tandem_auth_sign(a, "42", "jake", NULL, &tok), 0);
    struct tandem_auth_stats st;
    const struct tandem_claims *c1 = NULL, *c2 = NULL;
    assert_int_equal(tandem_auth_verify(a, tok, strlen(tok), &c1, NULL), 0);
    tandem_auth_stats(a, &st);
    assert_int_equal(st.signatures, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.entries, 1);
    /* the second verification: from the cache, no signature check, the same claims */
    assert_int_equal(tandem_auth_verify(a, tok, strlen(tok), &c2, NULL), 0);
    tandem_auth_stats(a, &st);
    assert_int_equal(st.signatures, 1);
    assert_int_equal(st.hits, 1);
    assert_ptr_equal(c1, c2);
    tandem_claims_release(c2);
    /* an expired token is refused even when cached (exp = T0 + 3600, leeway 30) */
    fake_now = T0 + 3629;
    assert_null(refusal(a, tok));
    fake_now = T0 + 3630;
    assert_string_equal(refusal(a, tok), "token expired");
    tandem_auth_stats(a, &st);
    assert_int_equal(st.signatures, 1);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.evictions, 1);
    /* and stays refused (now without the cache: the signature is checked, exp refuses it) */
    assert_string_equal(refusal(a, tok), "token expired");
    /* claims handed out earlier outlive the entry */
    assert_string_equal(c1->sub, "42");
    tandem_claims_release(c1);
    free(tok);

    /* many distinct tokens: the cache stays within its 64 entries, and evicts */
    fake_now = T0;
    for (int i = 0; i < 1000; i++) {
        char sub[16];
        snprintf(sub, sizeof(sub), "%d", i);
        assert_int_equal(tandem_auth_sign(a, sub, NULL, NULL, &tok), 0);
        assert_null(refusal(a, tok));
        assert_null(refusal(a, tok)); /* a hit */
        free(tok);
        tandem_auth_stats(a, &st);
        assert_true(st.entries <= 64);
    }
    tandem_auth_stats(a, &st);
    assert_int_equal(st.entries, 64);
    assert_true(st.evictions >= 1000 - 64);
    assert_int_equal(st.hits, 2 + 1000);
    tandem_auth_free(a);
}

/* Several threads verifying a few tokens at once (ASan/TSan-friendly: counts must add up). */
struct worker_arg {
    struct tandem_auth *a;
    char **tokens;
    int ntokens, rounds, ok;
};

static void *verify_loop(void *p)
{
    struct worker_arg *w = p;
    for (int r = 0; r < w->rounds; r++) {
        const char *t = w->tokens[r % w->ntokens];
        const struct tandem_claims *c = NULL;
        if (tandem_auth_verify(w->a, t, strlen(t), &c, NULL) == 0) {
            w->ok += c->sub[0] != '\0';
            tandem_claims_release(c);
        }
    }
    return NULL;
}

static void test_cache_threads(void **state)
{
    fake_now = T0;
    struct tandem_auth *a = new_auth(priv1, pub1, 8); /* small: evictions race with hits */
    char *tokens[24];
    for (int i = 0; i < 24; i++) {
        char sub[16];
        snprintf(sub, sizeof(sub), "u%d", i);
        assert_int_equal(tandem_auth_sign(a, sub, NULL, NULL, &tokens[i]), 0);
    }
    pthread_t th[4];
    struct worker_arg w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker_arg){a, tokens, 24, 300, 0};
        assert_int_equal(pthread_create(&th[i], NULL, verify_loop, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 300);
    }
    struct tandem_auth_stats st;
    tandem_auth_stats(a, &st);
    assert_int_equal(st.hits + st.misses, 1200);
    assert_true(st.entries <= 8);
    for (int i = 0; i < 24; i++) {
        free(tokens[i]);
    }
    tandem_auth_free(a);
}

static void test_keys(void **state)
{
    struct tandem_auth *a = NULL;
    struct tandem_auth_config cfg = {.public_key = pub1, .private_key = priv2};
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EINVAL); /* keys of two pairs */
    cfg = (struct tandem_auth_config){.private_key = priv1};
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EINVAL); /* no public key */
    cfg = (struct tandem_auth_config){.public_key = "not a key"};
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EINVAL);
    cfg = (struct tandem_auth_config){.public_key = priv1}; /* a private key as the public one */
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EINVAL);
    cfg = (struct tandem_auth_config){.public_key = pub1, .public_key_file = "/nonexistent"};
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EINVAL);
    cfg = (struct tandem_auth_config){.public_key_file = "/nonexistent/key.pem"};
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EIO);
    /* an RSA key is not for ES256 */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
    char *rsa_pem = NULL;
    long rsa_len = BIO_get_mem_data(bio, &rsa_pem);
    char *rsa_pub = strndup(rsa_pem, (size_t)rsa_len);
    BIO_free(bio);
    EVP_PKEY_free(rsa);
    cfg = (struct tandem_auth_config){.public_key = rsa_pub};
    assert_int_equal(tandem_auth_new(&cfg, &a), TANDEM_EINVAL);
    free(rsa_pub);
    assert_null(a);

    /* key files: written once, private 0600, refused when they exist; they load */
    char dir[] = "/tmp/tandem-auth-XXXXXX", kpriv[64], kpub[64];
    key_files(dir, kpriv, kpub);
    struct stat sb;
    assert_int_equal(stat(kpriv, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(tandem_auth_keygen_files(kpriv, kpub), TANDEM_EEXIST);
    cfg = (struct tandem_auth_config){.public_key_file = kpub, .private_key_file = kpriv};
    assert_int_equal(tandem_auth_new(&cfg, &a), 0);
    char *tok = NULL;
    assert_int_equal(tandem_auth_sign(a, "9", NULL, NULL, &tok), 0);
    assert_null(refusal(a, tok));
    free(tok);
    tandem_auth_free(a);
    unlink(kpriv);
    unlink(kpub);
    rmdir(dir);
}

static void test_b64url(void **state)
{
    /* RFC 4648 §10 vectors, URL alphabet, no padding */
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff"};
    static const char *out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy", "-_8"};
    for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++) {
        char enc[32];
        uint8_t dec[32];
        size_t n = 0;
        auth_b64url_encode((const uint8_t *)in[i], strlen(in[i]), enc);
        assert_string_equal(enc, out[i]);
        assert_int_equal(auth_b64url_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
        assert_int_equal(n, strlen(in[i]));
        assert_memory_equal(dec, in[i], n);
    }
    uint8_t dec[8];
    size_t n = 0;
    assert_int_equal(auth_b64url_decode("Zg==", 4, dec, sizeof(dec), &n), -1); /* padding */
    assert_int_equal(auth_b64url_decode("Zh", 2, dec, sizeof(dec), &n), -1);   /* spare bits */
    assert_int_equal(auth_b64url_decode("Z", 1, dec, sizeof(dec), &n), -1);
    assert_int_equal(auth_b64url_decode("Zm+v", 4, dec, sizeof(dec), &n), -1); /* not URL */
    assert_int_equal(auth_b64url_decode("Zm9vYmFy", 8, dec, 5, &n), -1);       /* too long */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_token),      cmocka_unit_test(test_refused),
        cmocka_unit_test(test_times_and_claims), cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_threads),    cmocka_unit_test(test_keys),
        cmocka_unit_test(test_b64url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
