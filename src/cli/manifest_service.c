/*
 * Service and route parsing (services: in tandem.yaml), split from manifest.c, which holds the
 * generic readers (mf_str, mf_int, ...) it uses through manifest_int.h. Same rules: every key
 * known, one type per value, the first problem wins and names its FILE:LINE:COLUMN.
 *
 * Route paths are kept to segments of [A-Za-z0-9_.~-] or a lone "*" (route.c) because the gateway
 * writes them into nginx.conf verbatim; "/a" and "/a/" are the same route (both give the location
 * "/a/"), and routes that nginx would let shadow each other are refused.
 */
#include "cli/manifest_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "tandem/error.h"

/* The variables the supervisor sets for every instance (proc.c), and where their values come
 * from. A manifest that set one would move an instance off the port the supervisor probes and the
 * gateway proxies to, off its data directories, or hand a service a key the jwt: section did not
 * give it; and `up` would only fail 30 s later, if at all. TANDEM_BROKERS is the supervisor's
 * when the manifest has a broker: section (tandem-broker's address, or broker.external); without
 * one a service's env may name a cluster itself. */
static const struct {
    const char *name, *from;
} OWNED_ENV[] = {
    {"TANDEM_LISTEN", "for each instance (127.0.0.1:port + i)"},
    {"TANDEM_DATA_DIR", "for each service (var/services/NAME, shared by its instances)"},
    {"TANDEM_INSTANCE", "for each instance (its number i)"},
    {"TANDEM_INSTANCE_DIR", "for each instance (var/services/NAME/i)"},
    {"TANDEM_JWT_PUBLIC_KEY", "from the manifest's jwt: section"},
    {"TANDEM_JWT_PRIVATE_KEY", "from the manifest's jwt: section (for services with jwt: sign)"},
    {"TANDEM_CONTROL_SOCKET", "for services with control: true (the supervisor's socket)"},
    {"TANDEM_CONSOLE_SECRET_FILE", "for services with control: true (var/tandem/console.secret)"},
};

static int check_env_owner(struct mf_ctx *c, const yaml_node_t *k, const char *name)
{
    for (size_t i = 0; i < sizeof(OWNED_ENV) / sizeof(OWNED_ENV[0]); i++) {
        if (strcmp(name, OWNED_ENV[i].name) == 0) {
            return manifest_fail(c->e, mf_mark(k),
                                 "env: %s is set by tandem %s and cannot be overridden", name,
                                 OWNED_ENV[i].from);
        }
    }
    if (strcmp(name, "TANDEM_BROKERS") == 0 && c->m->broker.present) {
        return manifest_fail(c->e, mf_mark(k),
                             "env: TANDEM_BROKERS is set by tandem to the manifest's broker; "
                             "name another cluster in broker.external");
    }
    return 0;
}

static int parse_env(struct mf_ctx *c, const yaml_node_t *n, struct cli_service *s)
{
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "env");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "env", NULL);
    }
    if (rc != 0) {
        return rc;
    }
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    s->env = xcalloc(cnt + 1, sizeof(*s->env));
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        yaml_node_t *k = mf_node(c, n->data.mapping.pairs.start[i].key);
        yaml_node_t *v = mf_node(c, n->data.mapping.pairs.start[i].value);
        const char *name = mf_sval(k);
        bool ok = isalpha((unsigned char)name[0]) || name[0] == '_';
        for (const char *p = name; ok && *p; p++) {
            ok = isalnum((unsigned char)*p) || *p == '_';
        }
        if (!ok) {
            return manifest_fail(c->e, mf_mark(k), "env: '%s' is not a variable name", name);
        }
        rc = check_env_owner(c, k, name);
        if (rc == 0) {
            rc = mf_want(c, v, YAML_SCALAR_NODE, "env");
        }
        if (rc == 0) {
            s->env[i].name = xstrndup(name, k->data.scalar.length);
            s->env[i].value = xstrndup(mf_sval(v), v->data.scalar.length);
            s->n_env = i + 1;
        }
    }
    return rc;
}

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", CLI_GET},       {"HEAD", CLI_HEAD},   {"POST", CLI_POST},       {"PUT", CLI_PUT},
    {"DELETE", CLI_DELETE}, {"PATCH", CLI_PATCH}, {"OPTIONS", CLI_OPTIONS},
};

const char *cli_method_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (methods[i].bit == bit) {
            return methods[i].name;
        }
    }
    return "?";
}

static int parse_methods(struct mf_ctx *c, const yaml_node_t *n, unsigned *out)
{
    int rc = mf_want(c, n, YAML_SEQUENCE_NODE, "methods");
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         rc == 0 && it < n->data.sequence.items.top; it++) {
        yaml_node_t *v = mf_node(c, *it);
        rc = mf_want(c, v, YAML_SCALAR_NODE, "methods");
        unsigned bit = 0;
        for (size_t i = 0; rc == 0 && i < sizeof(methods) / sizeof(methods[0]); i++) {
            if (strcmp(mf_sval(v), methods[i].name) == 0) {
                bit = methods[i].bit;
            }
        }
        if (rc == 0 && bit == 0) {
            rc = manifest_fail(c->e, mf_mark(v), "methods: unknown method '%s'", mf_sval(v));
        }
        *out |= bit;
    }
    if (rc == 0 && *out == 0) {
        rc = manifest_fail(c->e, mf_mark(n), "methods: must not be empty");
    }
    return rc;
}

/* "10r/s" or "600r/m", as nginx's limit_req_zone rate. */
static int parse_rate(struct mf_ctx *c, const yaml_node_t *n, struct cli_route *r)
{
    int rc = mf_want(c, n, YAML_SCALAR_NODE, "rate_limit");
    if (rc != 0) {
        return rc;
    }
    const char *s = mf_sval(n);
    size_t digits = strspn(s, "0123456789");
    long v = digits > 0 && digits < 8 ? strtol(s, NULL, 10) : 0;
    if (v < 1 || s[digits] != 'r' || s[digits + 1] != '/' ||
        (s[digits + 2] != 's' && s[digits + 2] != 'm') || s[digits + 3] != '\0') {
        return manifest_fail(c->e, mf_mark(n),
                             "rate_limit: expected N r/s or N r/m like 10r/s, found '%s'", s);
    }
    r->rate = (unsigned)v;
    r->rate_per = s[digits + 2];
    return 0;
}

const char *const cli_internal_paths[] = {"/healthz", "/readyz", "/metrics", NULL};

/* A route whose exact path is an instance's own endpoint (cli_internal_paths). */
static const char *internal_path(const char *p)
{
    for (size_t i = 0; cli_internal_paths[i] != NULL; i++) {
        if (strcmp(p, cli_internal_paths[i]) == 0) {
            return cli_internal_paths[i];
        }
    }
    return NULL;
}

/* "/a" and "/a/" route the same requests (/a/...), so they are one route. */
static bool same_route(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    la -= la > 1 && a[la - 1] == '/';
    lb -= lb > 1 && b[lb - 1] == '/';
    return la == lb && memcmp(a, b, la) == 0;
}

/* Whether routes a and b cannot both be in a manifest, with the message's text after
 * "routes: " in why: the same path, two patterns taking a path in common, or a pattern taking a
 * literal route's path (nginx tries patterns before prefixes, so that route would lose it). */
static bool conflict(const struct cli_route *a, const struct cli_route *b, char *why, size_t len)
{
    bool pa = cli_route_is_pattern(a->path), pb = cli_route_is_pattern(b->path);
    if (same_route(a->path, b->path)) {
        snprintf(why, len, "duplicate route '%s'", a->path);
    } else if (pa && pb && cli_routes_overlap(a, b)) {
        snprintf(why, len, "'%s' and '%s' both take some paths", a->path, b->path);
    } else if ((pa && !pb && cli_route_takes(a, b->path)) ||
               (pb && !pa && cli_route_takes(b, a->path))) {
        snprintf(why, len, "'%s' takes '%s', so that route would never get it",
                 pa ? a->path : b->path, pa ? b->path : a->path);
    } else {
        return false;
    }
    return true;
}

/* Refuses a route that conflicts with one of this or an earlier service. */
static int check_route_unique(struct mf_ctx *c, const struct cli_service *self, size_t n_self,
                              const struct cli_route *r)
{
    for (size_t i = 0; i <= c->m->n_services; i++) {
        const struct cli_service *s = i < c->m->n_services ? &c->m->services[i] : self;
        size_t n = s == self ? n_self : s->n_routes;
        for (size_t j = 0; j < n; j++) {
            char why[512];
            if (conflict(r, &s->routes[j], why, sizeof(why))) {
                return manifest_fail(c->e, r->mark,
                                     "routes: %s (already routed to service '%s' at line %d)", why,
                                     s->name, s->routes[j].mark.line);
            }
        }
        if (s == self) {
            break;
        }
    }
    return 0;
}

static int parse_route(struct mf_ctx *c, const yaml_node_t *n, struct cli_service *s, size_t idx)
{
    static const char *const keys[] = {"path",       "exact", "methods", "cache",
                                       "rate_limit", "burst", NULL};
    struct cli_route *r = &s->routes[idx];
    r->mark = mf_mark(n);
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "routes");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "route", keys);
    }
    yaml_node_t *v = rc == 0 ? mf_get(c, n, "path") : NULL;
    if (rc == 0 && v == NULL) {
        return manifest_fail(c->e, r->mark, "route: missing required key 'path'");
    }
    if (rc == 0) {
        rc = mf_str(c, v, "path", &r->path);
    }
    if (rc == 0 && !cli_route_path_valid(r->path)) {
        return manifest_fail(c->e, mf_mark(v),
                             "path: '%s' must be / or /-separated segments of A-Z a-z 0-9 _ . ~ - "
                             "(not . or ..) or a lone *",
                             r->path);
    }
    if (rc == 0 && internal_path(r->path) != NULL && !c->m->gateway.expose_internal) {
        return manifest_fail(c->e, mf_mark(v),
                             "path: '%s' is every instance's own endpoint, never routed by the "
                             "gateway unless gateway.expose_internal is true",
                             r->path);
    }
    yaml_node_t *path_node = v;
    if (rc == 0 && (v = mf_get(c, n, "exact")) != NULL) {
        rc = mf_bool(c, v, "exact", &r->exact);
    }
    if (rc == 0) {
        r->mark = mf_mark(path_node);
        rc = check_route_unique(c, s, idx, r);
    }
    if (rc == 0 && (v = mf_get(c, n, "methods")) != NULL) {
        rc = parse_methods(c, v, &r->methods);
    }
    if (rc == 0 && (v = mf_get(c, n, "cache")) != NULL) {
        rc = mf_bool(c, v, "cache", &r->cache);
    }
    if (rc == 0 && (v = mf_get(c, n, "rate_limit")) != NULL) {
        rc = parse_rate(c, v, r);
        r->burst = r->rate;
    }
    if (rc == 0 && (v = mf_get(c, n, "burst")) != NULL) {
        int burst = 0;
        rc = mf_int(c, v, "burst", 0, 100000, &burst);
        if (rc == 0 && r->rate == 0) {
            rc = manifest_fail(c->e, mf_mark(v), "burst: only meaningful with rate_limit");
        }
        r->burst = (unsigned)burst;
    }
    return rc;
}

/* A service's jwt: sign (it issues tokens: the private key too) or verify (the public key only,
 * as every service gets once the manifest uses tokens). Either turns the manifest's jwt on. */
static int parse_jwt_use(struct mf_ctx *c, const yaml_node_t *n, struct cli_service *s)
{
    bool scalar = n->type == YAML_SCALAR_NODE;
    if (!scalar || (strcmp(mf_sval(n), "sign") != 0 && strcmp(mf_sval(n), "verify") != 0)) {
        return manifest_fail(c->e, mf_mark(n), "jwt: expected sign or verify, found %s%s%s",
                             scalar ? "'" : "", scalar ? mf_sval(n) : mf_type(n),
                             scalar ? "'" : "");
    }
    s->jwt_sign = strcmp(mf_sval(n), "sign") == 0;
    c->m->jwt.present = true;
    return 0;
}

static int parse_service_body(struct mf_ctx *c, const yaml_node_t *n, struct cli_service *s)
{
    static const char *const keys[] = {"binary",     "args",   "instances", "port",    "env",
                                       "depends_on", "routes", "jwt",       "control", NULL};
    char where[96];
    snprintf(where, sizeof(where), "service '%s'", s->name);
    int rc = mf_want(c, n, YAML_MAPPING_NODE, s->name);
    if (rc == 0) {
        rc = mf_check_keys(c, n, where, keys);
    }
    const char *required[] = {"binary", "port"};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        if (mf_get(c, n, required[i]) == NULL) {
            rc = manifest_fail(c->e, s->mark, "%s: missing required key '%s'", where, required[i]);
        }
    }
    s->instances = 1;
    yaml_node_t *v;
    if (rc == 0) {
        rc = mf_binary(c, mf_get(c, n, "binary"), "binary", true, &s->binary);
    }
    if (rc == 0 && (v = mf_get(c, n, "args")) != NULL) {
        rc = mf_str_list(c, v, "args", &s->args, &s->n_args);
    }
    if (rc == 0 && (v = mf_get(c, n, "instances")) != NULL) {
        rc = mf_int(c, v, "instances", 0, CLI_MAX_INSTANCES, &s->instances);
    }
    if (rc == 0) {
        v = mf_get(c, n, "port");
        s->port_mark = mf_mark(v);
        rc = mf_int(c, v, "port", 1, 65535, &s->port);
    }
    if (rc == 0 && s->port + s->instances - 1 > 65535) {
        rc = manifest_fail(c->e, s->port_mark, "port: %d instances from %d run past 65535",
                           s->instances, s->port);
    }
    if (rc == 0 && (v = mf_get(c, n, "env")) != NULL) {
        rc = parse_env(c, v, s);
    }
    if (rc == 0 && (v = mf_get(c, n, "jwt")) != NULL) {
        rc = parse_jwt_use(c, v, s);
    }
    if (rc == 0 && (v = mf_get(c, n, "control")) != NULL) {
        rc = mf_bool(c, v, "control", &s->control);
    }
    if (rc == 0 && (v = mf_get(c, n, "depends_on")) != NULL) {
        s->deps_mark = mf_mark(v);
        rc = mf_str_list(c, v, "depends_on", &s->depends_on, &s->n_depends_on);
    }
    if (rc == 0 && (v = mf_get(c, n, "routes")) != NULL) {
        rc = mf_want(c, v, YAML_SEQUENCE_NODE, "routes");
        size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        s->routes = rc == 0 ? xcalloc(cnt + 1, sizeof(*s->routes)) : NULL;
        for (size_t i = 0; rc == 0 && i < cnt; i++) {
            rc = parse_route(c, mf_node(c, v->data.sequence.items.start[i]), s, i);
            s->n_routes = i + 1; /* cleanup frees the partial route too */
        }
    }
    return rc;
}

int mf_parse_services(struct mf_ctx *c, const yaml_node_t *n)
{
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "services");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "services", NULL);
    }
    if (rc != 0) {
        return rc;
    }
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt == 0) {
        return manifest_fail(c->e, mf_mark(n), "services: at least one service is required");
    }
    c->m->services = xcalloc(cnt, sizeof(*c->m->services));
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        yaml_node_t *k = mf_node(c, n->data.mapping.pairs.start[i].key);
        struct cli_service s = {0};
        const char *name = mf_sval(k);
        bool ok = islower((unsigned char)name[0]) || isdigit((unsigned char)name[0]);
        for (const char *p = name; ok && *p; p++) {
            ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-';
        }
        if (!ok || k->data.scalar.length > 48) {
            return manifest_fail(c->e, mf_mark(k),
                                 "services: '%s' is not a service name ([a-z0-9][a-z0-9_-]*, "
                                 "at most 48)",
                                 name);
        }
        if (strcmp(name, "broker") == 0) {
            return manifest_fail(c->e, mf_mark(k), "services: 'broker' is reserved");
        }
        s.name = xstrndup(name, k->data.scalar.length);
        s.mark = mf_mark(k);
        rc = parse_service_body(c, mf_node(c, n->data.mapping.pairs.start[i].value), &s);
        c->m->services[c->m->n_services++] = s; /* owned by the manifest even on failure */
    }
    return rc;
}
