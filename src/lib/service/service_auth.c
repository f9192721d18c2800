/*
 * service_auth.c: tandem/auth.h in the runtime: the service's verifier (from its --jwt-* options
 * or given), "Authorization: Token <jwt>" read and verified for a handler, 401 answers, and the
 * verifier's counters in /metrics. Built when tandem_auth is (TANDEM_SERVICE_AUTH).
 *
 * A request's claims are verified once: the first tandem_require_auth / tandem_optional_auth
 * keeps the reference on the request's context (svc_req.claims) and later calls return it; the
 * runtime releases it with the context (service.c, svc_auth_done), once the answer has been
 * written or the request dropped: not in svc_done, which the core calls before it writes the
 * body, since an answer may borrow from the claims (claims->username as the body; the cache may
 * have let go of them meanwhile). So a handler that answers later (from a pool completion, a
 * client callback) still reads them, and may answer with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "service_int.h"
#include "tandem/auth.h"

struct svc_auth {
    struct tandem_auth *auth;
    bool owned; /* built here from the options: freed with the service */
};

/* Declares the --jwt-* options and builds the verifier from them (none, *out NULL, when --help was
 * asked: the options are listed, no key is read). Returns 0 or an error (logged). */
static int auth_from_options(struct tandem_service *s, struct tandem_auth **out)
{
    static const char *const opts[][3] = {
        {"jwt-public-key", NULL, "PEM file of the public key that verifies tokens (required)"},
        {"jwt-private-key", NULL, "PEM file of the private key that signs tokens (issuer only)"},
        {"jwt-issuer", NULL, "token issuer (iss) to put and require"},
        {"jwt-audience", NULL, "token audience (aud) to put and require"},
        {"jwt-lifetime", "86400", "seconds a signed token stays valid"},
        {"jwt-cache", "4096", "verified tokens kept in the cache"},
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        int rc = tandem_service_option(s, opts[i][0], opts[i][1], opts[i][2]);
        if (rc != 0) {
            log_error("auth: cannot declare the option", "\"option\":\"%s\",\"error\":\"%s\"",
                      opts[i][0], tandem_strerror(rc));
            return rc;
        }
    }
    if (s->cfg.help) {
        *out = NULL;
        return 0;
    }
    long lifetime = 0, cache = 0;
    const char *bad = NULL;
    if (svc_parse_int(svc_config_get(&s->cfg, "jwt-lifetime"), 1, 315360000, &lifetime) != 0) {
        bad = "jwt-lifetime";
    } else if (svc_parse_int(svc_config_get(&s->cfg, "jwt-cache"), 1, 1 << 24, &cache) != 0) {
        bad = "jwt-cache";
    } else if (svc_config_get(&s->cfg, "jwt-public-key") == NULL ||
               *svc_config_get(&s->cfg, "jwt-public-key") == '\0') {
        log_error("auth: --jwt-public-key (TANDEM_JWT_PUBLIC_KEY) is required: the PEM file of "
                  "the tokens' public key",
                  NULL);
        return TANDEM_EINVAL;
    }
    if (bad != NULL) {
        char esc[256];
        log_error("invalid configuration", "\"option\":\"%s\",\"value\":%s", bad,
                  log_json_str(esc, sizeof(esc), svc_config_get(&s->cfg, bad)));
        return TANDEM_EINVAL;
    }
    const char *priv = svc_config_get(&s->cfg, "jwt-private-key");
    struct tandem_auth_config cfg = {
        .public_key_file = svc_config_get(&s->cfg, "jwt-public-key"),
        .private_key_file = priv != NULL && *priv != '\0' ? priv : NULL,
        .issuer = svc_config_get(&s->cfg, "jwt-issuer"),
        .audience = svc_config_get(&s->cfg, "jwt-audience"),
        .lifetime_s = lifetime,
        .cache_entries = (size_t)cache,
    };
    return tandem_auth_new(&cfg, out);
}

static void auth_emit(struct tandem_metrics_writer *w, void *arg)
{
    struct svc_auth *sa = arg;
    struct tandem_auth_stats st;
    tandem_auth_stats(sa->auth, &st);
    const struct svc_metric m[] = {
        {"tandem_auth_cache_hits_total", "Token verifications answered from the cache.", false,
         (double)st.hits},
        {"tandem_auth_cache_misses_total", "Token verifications not found in the cache.", false,
         (double)st.misses},
        {"tandem_auth_cache_evictions_total", "Cached tokens dropped (room needed, or expired).",
         false, (double)st.evictions},
        {"tandem_auth_cache_entries", "Verified tokens in the cache.", true, (double)st.entries},
        {"tandem_auth_signatures_total", "Token signatures checked.", false, (double)st.signatures},
        {"tandem_auth_rejected_total", "Tokens refused.", false, (double)st.rejected},
    };
    svc_metrics_emit(w, m, sizeof(m) / sizeof(m[0]));
}

int tandem_service_auth(struct tandem_service *s, struct tandem_auth *auth)
{
    if (s->auth != NULL) {
        return TANDEM_EEXIST;
    }
    if (s->running) {
        return TANDEM_EINVAL;
    }
    struct tandem_auth *a = auth;
    if (a == NULL) {
        int rc = auth_from_options(s, &a);
        if (rc != 0 || a == NULL) {
            return rc; /* a NULL: --help, nothing to verify with */
        }
    }
    s->auth = xcalloc(1, sizeof(*s->auth));
    s->auth->auth = a;
    s->auth->owned = auth == NULL;
    tandem_service_metrics_source(s, auth_emit, s->auth);
    return 0;
}

struct tandem_auth *tandem_service_auth_get(struct tandem_service *s)
{
    return s->auth != NULL ? s->auth->auth : NULL;
}

void svc_auth_done(struct svc_req *x)
{
    tandem_claims_release(x->claims);
    x->claims = NULL;
}

void svc_auth_free(struct tandem_service *s)
{
    if (s->auth != NULL && s->auth->owned) {
        tandem_auth_free(s->auth->auth);
    }
    free(s->auth);
    s->auth = NULL;
}

static void unauthorized(struct tandem_http_request *req, const char *detail)
{
    tandem_respond_header(req, "WWW-Authenticate", "Token");
    tandem_respond_problem(req, 401, detail);
}

/* The token of an Authorization value "Token <jwt>" or "Bearer <jwt>" (scheme case-insensitive,
 * one or more spaces), or NULL. */
static const char *token_of(const char *h, size_t *len)
{
    size_t n = 0;
    if (strncasecmp(h, "Token", 5) == 0) {
        n = 5;
    } else if (strncasecmp(h, "Bearer", 6) == 0) {
        n = 6;
    }
    if (n == 0 || (h[n] != ' ' && h[n] != '\t')) {
        return NULL;
    }
    const char *t = h + n + strspn(h + n, " \t");
    *len = strcspn(t, " \t");
    return *len > 0 && t[*len] == '\0' ? t : NULL;
}

/* Verifies req's token once; 0 with *out (NULL: no header and optional), or an error after
 * answering. */
static int authenticate(struct tandem_http_request *req, bool optional,
                        const struct tandem_claims **out)
{
    struct svc_req *x = svc_req_of(req);
    *out = NULL;
    if (x == NULL || x->svc->auth == NULL) {
        log_error("auth: a handler asked for the token, but the service has no verifier "
                  "(tandem_service_auth)",
                  NULL);
        tandem_respond_problem(req, 500, "authentication is not configured");
        return TANDEM_EINVAL;
    }
    if (x->claims != NULL) {
        *out = x->claims;
        return 0;
    }
    const char *h = tandem_http_header(req, "Authorization");
    if (h == NULL) {
        if (optional) {
            return 0;
        }
        unauthorized(req, "missing Authorization header (Token <jwt>)");
        return TANDEM_EINVAL;
    }
    size_t len = 0;
    const char *tok = token_of(h, &len);
    if (tok == NULL) {
        unauthorized(req, "the Authorization header must be \"Token <jwt>\" or \"Bearer <jwt>\"");
        return TANDEM_EINVAL;
    }
    const char *why = NULL;
    int rc = tandem_auth_verify(x->svc->auth->auth, tok, len, &x->claims, &why);
    if (rc == TANDEM_ENOMEM) {
        tandem_respond_problem(req, 500, "out of memory verifying the token");
        return rc;
    }
    if (rc != 0) {
        unauthorized(req, why != NULL ? why : "token not accepted");
        return rc;
    }
    *out = x->claims;
    return 0;
}

const struct tandem_claims *tandem_require_auth(struct tandem_http_request *req)
{
    const struct tandem_claims *c = NULL;
    return authenticate(req, false, &c) == 0 ? c : NULL;
}

int tandem_optional_auth(struct tandem_http_request *req, const struct tandem_claims **claims)
{
    return authenticate(req, true, claims);
}
