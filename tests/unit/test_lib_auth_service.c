/*
 * Tokens in the runtime (src/lib/service/service_auth.c) over real 127.0.0.1 sockets: a service
 * configured by --jwt-* flags (key files made by tandem_auth_keygen_files) signs a token at
 * POST /login and requires it at GET /user: "Token" and "Bearer" accepted; a missing header, a
 * malformed one, garbage, an expired token, one not valid yet, a tampered payload, another key's
 * signature, "alg": "none", HS256 with the public key PEM as the secret and ES384 are each 401
 * application/problem+json with WWW-Authenticate: Token. GET /articles/{slug} has optional auth:
 * anonymous without a header, the user with a token, 401 with a bad one. The cache's counters are
 * in /metrics. A request's claims stay valid until its answer is written, even when the cache
 * has let go of them (an answer borrowing claims->username). A service without a verifier answers
 * 500; bad --jwt-* options are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jwt.h>

#include "auth_int.h"
#include "tandem/auth.h"
#include "tandem/pool.h"
#include "test_auth_util.h"
#include "test_service_util.h"

static struct tandem_service *svc;

static void login(struct tandem_http_request *req, void *arg)
{
    json_t *in = tandem_json_body(req);
    if (in == NULL) {
        return;
    }
    json_t *extra = json_pack("{s:s}", "role", "editor");
    char *tok = NULL;
    int rc = tandem_auth_sign(tandem_service_auth_get(svc),
                              json_string_value(json_object_get(in, "sub")),
                              json_string_value(json_object_get(in, "username")), extra, &tok);
    json_decref(extra);
    json_decref(in);
    if (rc != 0) {
        tandem_respond_problem(req, 500, "cannot sign");
        return;
    }
    tandem_respond_json(req, 200, json_pack("{s:s}", "token", tok));
    free(tok);
}

static void user(struct tandem_http_request *req, void *arg)
{
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    /* asked again: the same claims, no second verification */
    if (tandem_require_auth(req) != c) {
        tandem_respond_problem(req, 500, "claims changed");
        return;
    }
    tandem_respond_json(req, 200,
                        json_pack("{s:s,s:s?,s:O}", "sub", c->sub, "username", c->username, "role",
                                  json_object_get(c->raw, "role")));
}

static void article(struct tandem_http_request *req, void *arg)
{
    const struct tandem_claims *c = NULL;
    if (tandem_optional_auth(req, &c) != 0) {
        return;
    }
    tandem_respond_json(req, 200,
                        json_pack("{s:s,s:s?}", "slug", tandem_param(req, "slug"), "viewer",
                                  c != NULL ? c->username : NULL));
}

static char out[65536];
static int port;

/* GET path with "Authorization: <auth>" (NULL: none); returns the status. */
static int get(const char *path, const char *auth)
{
    char hdr[9000];
    if (auth != NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", auth);
    }
    return tsvc_http(port, "GET", path, auth != NULL ? hdr : NULL, NULL, out, sizeof(out), NULL);
}

/* 401 with the problem document and WWW-Authenticate, detail containing why. */
static void expect_401(const char *path, const char *auth, const char *why)
{
    int status = get(path, auth);
    if (status != 401 || strstr(out, why) == NULL) {
        fail_msg("GET %s with %s: %d, want 401 saying %s:\n%s", path, auth ? auth : "(none)",
                 status, why, out);
    }
    assert_non_null(strstr(out, "\r\nWWW-Authenticate: Token\r\n"));
    assert_non_null(strstr(out, "\r\nContent-Type: application/problem+json\r\n"));
    assert_non_null(strstr(tsvc_body(out), "\"status\":401"));
    assert_non_null(strstr(tsvc_body(out), "\"title\":\"Unauthorized\""));
}

static void test_tokens_over_http(void **state)
{
    char dir[] = "/tmp/tandem-auth-svc-XXXXXX", kpriv[64], kpub[64];
    key_files(dir, kpriv, kpub);

    struct tsvc t;
    const char *flags[] = {"--workers",
                           "2",
                           "--jwt-public-key",
                           kpub,
                           "--jwt-private-key",
                           kpriv,
                           "--jwt-issuer",
                           "users",
                           "--jwt-lifetime",
                           "600",
                           NULL};
    tsvc_new(&t, "authsvc", flags);
    svc = t.s;
    port = t.port;
    assert_int_equal(tandem_service_auth(t.s, NULL), 0);
    assert_int_equal(tandem_service_auth(t.s, NULL), TANDEM_EEXIST);
    assert_string_equal(tandem_service_config(t.s, "jwt-issuer"), "users");
    assert_int_equal(tandem_route(t.s, "POST", "/login", login, NULL), 0);
    assert_int_equal(tandem_route(t.s, "GET", "/user", user, NULL), 0);
    assert_int_equal(tandem_route(t.s, "GET", "/articles/{slug}", article, NULL), 0);
    tsvc_start(&t);

    assert_int_equal(tsvc_http(port, "POST", "/login", NULL,
                               "{\"sub\":\"42\",\"username\":\"jake\"}", out, sizeof(out), NULL),
                     200);
    json_t *doc = json_loads(tsvc_body(out), 0, NULL);
    char token[4096], auth[4200];
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(doc, "token")));
    json_decref(doc);

    /* accepted: Token (RealWorld) and Bearer, schemes in any case */
    static const char *schemes[] = {"Token", "Bearer", "token", "BEARER"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(auth, sizeof(auth), "%s %s", schemes[i], token);
        assert_int_equal(get("/user", auth), 200);
        assert_string_equal(tsvc_body(out),
                            "{\"sub\":\"42\",\"username\":\"jake\",\"role\":\"editor\"}");
    }

    /* refused */
    expect_401("/user", NULL, "missing Authorization header");
    expect_401("/user", "Basic amFrZTpqYWtl", "must be \\\"Token <jwt>\\\"");
    expect_401("/user", "Token", "must be");
    expect_401("/user", "Tokenx abc", "must be");
    expect_401("/user", "Token a b", "must be");
    expect_401("/user", "Token garbage", "malformed token");
    expect_401("/user", "Token e30.e30.e30", "malformed");

    struct tandem_auth *a = tandem_service_auth_get(t.s);
    time_t now = time(NULL);
    char claims[512], *tok = NULL;
    json_t *c = json_pack("{s:s,s:s,s:I,s:I}", "sub", "42", "iss", "users", "iat",
                          (json_int_t)now - 1000, "exp", (json_int_t)now - 100);
    assert_int_equal(tandem_auth_sign_claims(a, c, &tok), 0);
    json_decref(c);
    snprintf(auth, sizeof(auth), "Token %s", tok);
    expect_401("/user", auth, "token expired");
    free(tok);
    c = json_pack("{s:s,s:s,s:I,s:I}", "sub", "42", "iss", "users", "nbf", (json_int_t)now + 600,
                  "exp", (json_int_t)now + 900);
    assert_int_equal(tandem_auth_sign_claims(a, c, &tok), 0);
    json_decref(c);
    snprintf(auth, sizeof(auth), "Token %s", tok);
    expect_401("/user", auth, "token not valid yet");
    free(tok);
    c = json_pack("{s:s,s:s,s:I}", "sub", "42", "iss", "someone-else", "exp",
                  (json_int_t)now + 900);
    assert_int_equal(tandem_auth_sign_claims(a, c, &tok), 0);
    json_decref(c);
    snprintf(auth, sizeof(auth), "Token %s", tok);
    expect_401("/user", auth, "token issuer not accepted");
    free(tok);

    /* tampered: another subject under the same signature */
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"1\",\"username\":\"admin\",\"iss\":\"users\","
             "\"exp\":%lld}",
             (long long)now + 900);
    char *tampered = with_claims(token, claims);
    snprintf(auth, sizeof(auth), "Token %s", tampered);
    free(tampered);
    expect_401("/user", auth, "invalid signature");
    const char *d2 = strrchr(token, '.'); /* the good signature segment, reused below */

    /* another key pair's token, alg none, HS256 keyed with the public PEM, ES384 */
    char *priv_pem = NULL, *pub_pem = NULL, *other_priv = NULL, *other_pub = NULL;
    size_t len = 0;
    assert_int_equal(auth_read_file(kpriv, &priv_pem, &len), 0);
    assert_int_equal(auth_read_file(kpub, &pub_pem, &len), 0);
    assert_int_equal(tandem_auth_keygen(&other_priv, &other_pub), 0);
    snprintf(claims, sizeof(claims), "{\"sub\":\"42\",\"iss\":\"users\",\"exp\":%lld}",
             (long long)now + 900);
    struct {
        jwt_alg_t alg;
        const char *key, *why;
    } forged[] = {
        {JWT_ALG_ES256, other_priv, "invalid signature"},
        {JWT_ALG_NONE, NULL, "malformed signature"},
        {JWT_ALG_HS256, pub_pem, "malformed signature"},
        {JWT_ALG_ES384, priv_pem, "algorithm not accepted"},
    };
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        char *f = libjwt_token(forged[i].alg, forged[i].key, claims);
        assert_non_null(f);
        snprintf(auth, sizeof(auth), "Token %s", f);
        expect_401("/user", auth, forged[i].why);
        free(f);
    }
    /* HS256 and none with a 64-byte signature segment: the pinned alg refuses them */
    char *hs = libjwt_token(JWT_ALG_HS256, pub_pem, claims);
    snprintf(auth, sizeof(auth), "Token %.*s%s", (int)(strrchr(hs, '.') - hs), hs, d2);
    expect_401("/user", auth, "algorithm not accepted");
    free(hs);

    /* optional auth */
    assert_int_equal(get("/articles/how-to", NULL), 200);
    assert_string_equal(tsvc_body(out), "{\"slug\":\"how-to\",\"viewer\":null}");
    snprintf(auth, sizeof(auth), "Token %s", token);
    assert_int_equal(get("/articles/how-to", auth), 200);
    assert_string_equal(tsvc_body(out), "{\"slug\":\"how-to\",\"viewer\":\"jake\"}");
    expect_401("/articles/how-to", "Token garbage", "malformed token");
    expect_401("/articles/how-to", "Basic x", "must be");

    /* the cache in /metrics: 4 + 1 verifications of the login token, 1 signature check */
    assert_int_equal(get("/metrics", NULL), 200);
    assert_non_null(strstr(out, "# TYPE tandem_auth_cache_hits_total counter\n"
                                "tandem_auth_cache_hits_total 4\n"));
    assert_non_null(strstr(out, "\ntandem_auth_cache_entries 1\n"));
    assert_non_null(strstr(out, "\ntandem_auth_rejected_total 12\n"));
    assert_non_null(strstr(out, "\ntandem_auth_cache_misses_total 13\n"));
    assert_non_null(strstr(out, "tandem_http_requests_total{route=\"/user\",method=\"GET\","
                                "status=\"401\"} 16\n"));

    tsvc_stop(&t);
    free(priv_pem);
    free(pub_pem);
    free(other_priv);
    free(other_pub);
    unlink(kpriv);
    unlink(kpub);
    rmdir(dir);
}

/* ---- claims borrowed until the answer is written ------------------------------------------- */

static atomic_int later_started, later_go;

static void later_work(void *arg)
{
    (void)arg;
    atomic_store(&later_started, 1);
    for (int i = 0; i < 5000 && !atomic_load(&later_go); i++) {
        usleep(1000);
    }
}

/* Answers the user name itself, a string borrowed from the claims (auth.h: valid until req is
 * answered), as the body. */
static void later_done(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    if (req == NULL) {
        return;
    }
    const struct tandem_claims *c =
        tandem_require_auth(req); /* the request's, not verified again */
    tandem_respond(req, 200, "text/plain", c->username, strlen(c->username));
}

static void me_later(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    if (tandem_require_auth(req) != NULL) {
        tandem_offload(req, later_work, later_done, NULL);
    }
}

/* A request's claims must outlive the writing of its answer: the runtime released them in
 * on_done, which the core calls before it writes the body, so a handler answering
 * claims->username answered freed memory once nothing else held the claims (ASan:
 * heap-use-after-free). Here the cache holds one token: while the first request's work runs on
 * the pool, a second user's request evicts its token, so the request's own reference is the
 * last one when the answer goes out. */
static void test_claims_outlive_answer(void **state)
{
    char dir[] = "/tmp/tandem-auth-svc-XXXXXX", kpriv[64], kpub[64];
    key_files(dir, kpriv, kpub);
    struct tsvc t;
    const char *flags[] = {"--workers",
                           "1",
                           "--pool-threads",
                           "1",
                           "--jwt-public-key",
                           kpub,
                           "--jwt-private-key",
                           kpriv,
                           "--jwt-cache",
                           "1",
                           NULL};
    tsvc_new(&t, "claims", flags);
    svc = t.s;
    port = t.port;
    assert_int_equal(tandem_service_auth(t.s, NULL), 0);
    assert_int_equal(tandem_route(t.s, "POST", "/login", login, NULL), 0);
    assert_int_equal(tandem_route(t.s, "GET", "/user", user, NULL), 0);
    assert_int_equal(tandem_route(t.s, "GET", "/me/later", me_later, NULL), 0);
    tsvc_start(&t);

    char auth[2][4200];
    static const char *const names[] = {"jake", "anna"};
    for (int i = 0; i < 2; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"sub\":\"%d\",\"username\":\"%s\"}", i + 1, names[i]);
        assert_int_equal(tsvc_http(port, "POST", "/login", NULL, body, out, sizeof(out), NULL),
                         200);
        json_t *doc = json_loads(tsvc_body(out), 0, NULL);
        snprintf(auth[i], sizeof(auth[i]), "Authorization: Token %s\r\n",
                 json_string_value(json_object_get(doc, "token")));
        json_decref(doc);
    }

    int fd = tsvc_connect(port);
    char raw[4400];
    int n = snprintf(raw, sizeof(raw),
                     "GET /me/later HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n", auth[0]);
    assert_int_equal(send(fd, raw, (size_t)n, MSG_NOSIGNAL), n);
    for (int i = 0; i < 500 && !atomic_load(&later_started); i++) {
        usleep(10000); /* jake's token verified and cached, the work on the pool */
    }
    assert_int_equal(atomic_load(&later_started), 1);
    assert_int_equal(tsvc_http(port, "GET", "/user", auth[1], NULL, out, sizeof(out), NULL), 200);
    assert_non_null(strstr(tsvc_body(out), "\"username\":\"anna\""));
    assert_int_equal(tsvc_http(port, "GET", "/metrics", NULL, NULL, out, sizeof(out), NULL), 200);
    assert_non_null(strstr(out, "\ntandem_auth_cache_evictions_total 1\n")); /* jake's is out */

    atomic_store(&later_go, 1);
    assert_int_equal(tsvc_read(fd, out, sizeof(out)), 200);
    assert_string_equal(tsvc_body(out), "jake");

    tsvc_stop(&t);
    unlink(kpriv);
    unlink(kpub);
    rmdir(dir);
}

static void needs(struct tandem_http_request *req, void *arg)
{
    if (tandem_require_auth(req) != NULL) {
        tandem_respond_json(req, 200, NULL);
    }
}

static void test_misconfigured(void **state)
{
    /* no verifier: a handler asking for one gets 500, not a silent pass */
    struct tsvc t;
    tsvc_new(&t, "noauth", NULL);
    port = t.port;
    assert_null(tandem_service_auth_get(t.s));
    assert_int_equal(tandem_route(t.s, "GET", "/needs", needs, NULL), 0);
    tsvc_start(&t);
    assert_int_equal(get("/needs", "Token x"), 500);
    tsvc_stop(&t);

    /* bad options */
    const char *no_key[] = {NULL};
    tsvc_new(&t, "nokey", no_key);
    assert_int_equal(tandem_service_auth(t.s, NULL), TANDEM_EINVAL);
    tandem_service_free(t.s);
    const char *missing[] = {"--jwt-public-key", "/nonexistent/jwt.pub", NULL};
    tsvc_new(&t, "missing", missing);
    assert_int_equal(tandem_service_auth(t.s, NULL), TANDEM_EIO);
    tandem_service_free(t.s);
    const char *lifetime[] = {"--jwt-public-key", "/nonexistent/jwt.pub", "--jwt-lifetime", "0",
                              NULL};
    tsvc_new(&t, "lifetime", lifetime);
    assert_int_equal(tandem_service_auth(t.s, NULL), TANDEM_EINVAL);
    tandem_service_free(t.s);
}

int main(void)
{
    tsvc_block_signals();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_over_http),
        cmocka_unit_test(test_claims_outlive_answer),
        cmocka_unit_test(test_misconfigured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
