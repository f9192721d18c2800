/*
 * Manifest reading: libyaml's document API loads the whole file into a node tree (each node
 * carries its start mark), then one function per mapping walks it into struct cli_manifest.
 *
 * Strictness is the point: the manifest is the one file a user edits, so every key is known,
 * every value has one type, and the first problem stops the load with FILE:LINE:COLUMN. Numbers
 * and booleans must be plain (unquoted) scalars; strings may be any scalar. Duplicate keys are
 * refused (YAML says they are an error; libyaml does not check).
 *
 * Cross-service checks (ports, dependencies, cycles) run after the whole tree is read, from the
 * marks saved in the structs; see manifest_check.c. Services and routes: manifest_service.c.
 */
#include "cli/manifest_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "tandem/error.h"

#define MANIFEST_MAX_BYTES (1024 * 1024)

int manifest_fail(struct manifest_err *e, struct cli_mark at, const char *fmt, ...)
{
    if (e->failed) {
        return TANDEM_EINVAL;
    }
    e->failed = true;
    size_t off = 0;
    int n;
    if (at.line > 0) {
        n = snprintf(e->buf, e->len, "%s:%d:%d: ", e->path, at.line, at.column);
    } else {
        n = snprintf(e->buf, e->len, "%s: ", e->path);
    }
    if (n > 0) {
        off = (size_t)n < e->len ? (size_t)n : e->len;
    }
    va_list ap;
    va_start(ap, fmt);
    if (off < e->len) {
        vsnprintf(e->buf + off, e->len - off, fmt, ap);
    }
    va_end(ap);
    return TANDEM_EINVAL;
}

struct cli_mark mf_mark(const yaml_node_t *n)
{
    struct cli_mark m = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
    return m;
}

const char *mf_type(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

int mf_want(struct mf_ctx *c, const yaml_node_t *n, yaml_node_type_t t, const char *key)
{
    if (n->type == t) {
        return 0;
    }
    const char *what = t == YAML_MAPPING_NODE    ? "a mapping"
                       : t == YAML_SEQUENCE_NODE ? "a sequence"
                                                 : "a string";
    return manifest_fail(c->e, mf_mark(n), "%s: expected %s, found %s", key, what, mf_type(n));
}

const char *mf_sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

yaml_node_t *mf_node(struct mf_ctx *c, int i)
{
    return yaml_document_get_node(c->doc, i);
}

/* Refuses keys outside `allowed` (NULL-terminated), non-scalar and duplicate keys. */
int mf_check_keys(struct mf_ctx *c, const yaml_node_t *map, const char *where,
                  const char *const *allowed)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = mf_node(c, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            return manifest_fail(c->e, mf_mark(k), "%s: keys must be strings", where);
        }
        bool ok = allowed == NULL;
        for (size_t i = 0; allowed != NULL && allowed[i] != NULL && !ok; i++) {
            ok = strcmp(mf_sval(k), allowed[i]) == 0;
        }
        if (!ok) {
            return manifest_fail(c->e, mf_mark(k), "%s: unknown key '%s'", where, mf_sval(k));
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = mf_node(c, q->key);
            if (strcmp(mf_sval(k2), mf_sval(k)) == 0) {
                return manifest_fail(c->e, mf_mark(k), "%s: duplicate key '%s' (first at line %d)",
                                     where, mf_sval(k), mf_mark(k2).line);
            }
        }
    }
    return 0;
}

yaml_node_t *mf_get(struct mf_ctx *c, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (strcmp(mf_sval(mf_node(c, p->key)), key) == 0) {
            return mf_node(c, p->value);
        }
    }
    return NULL;
}

int mf_str(struct mf_ctx *c, const yaml_node_t *n, const char *key, char **out)
{
    int rc = mf_want(c, n, YAML_SCALAR_NODE, key);
    if (rc == 0 && n->data.scalar.length == 0) {
        rc = manifest_fail(c->e, mf_mark(n), "%s: must not be empty", key);
    }
    if (rc == 0) {
        *out = xstrndup(mf_sval(n), n->data.scalar.length);
    }
    return rc;
}

int mf_int(struct mf_ctx *c, const yaml_node_t *n, const char *key, long min, long max, int *out)
{
    bool ok = n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
              n->data.scalar.length > 0 && n->data.scalar.length < 12;
    for (size_t i = 0; ok && i < n->data.scalar.length; i++) {
        ok = isdigit(n->data.scalar.value[i]) != 0;
    }
    if (!ok) {
        return manifest_fail(c->e, mf_mark(n), "%s: expected an integer, found %s", key,
                             n->type == YAML_SCALAR_NODE ? "a string" : mf_type(n));
    }
    long v = strtol(mf_sval(n), NULL, 10);
    if (v < min || v > max) {
        return manifest_fail(c->e, mf_mark(n), "%s: %ld is out of range %ld..%ld", key, v, min,
                             max);
    }
    *out = (int)v;
    return 0;
}

int mf_bool(struct mf_ctx *c, const yaml_node_t *n, const char *key, bool *out)
{
    bool plain = n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (plain && strcmp(mf_sval(n), "true") == 0) {
        *out = true;
        return 0;
    }
    if (plain && strcmp(mf_sval(n), "false") == 0) {
        *out = false;
        return 0;
    }
    return manifest_fail(c->e, mf_mark(n), "%s: expected true or false", key);
}

int mf_str_list(struct mf_ctx *c, const yaml_node_t *n, const char *key, char ***out, size_t *n_out)
{
    int rc = mf_want(c, n, YAML_SEQUENCE_NODE, key);
    if (rc != 0) {
        return rc;
    }
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    *out = xcalloc(cnt + 1, sizeof(char *));
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        rc = mf_str(c, mf_node(c, n->data.sequence.items.start[i]), key, &(*out)[i]);
        if (rc == 0) {
            *n_out = i + 1;
        }
    }
    return rc;
}

/* "host:port": host of [A-Za-z0-9.-], port 1..65535. */
static int get_listen(struct mf_ctx *c, const yaml_node_t *n, const char *key,
                      struct cli_listen *out)
{
    int rc = mf_want(c, n, YAML_SCALAR_NODE, key);
    if (rc != 0) {
        return rc;
    }
    const char *s = mf_sval(n);
    const char *colon = strrchr(s, ':');
    bool ok = colon != NULL && colon > s && colon[1] != '\0' && strlen(colon + 1) <= 5;
    for (const char *p = s; ok && p < colon; p++) {
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '-';
    }
    for (const char *p = colon ? colon + 1 : s; ok && *p; p++) {
        ok = isdigit((unsigned char)*p) != 0;
    }
    long port = ok ? strtol(colon + 1, NULL, 10) : 0;
    if (!ok || port < 1 || port > 65535) {
        return manifest_fail(c->e, mf_mark(n), "%s: expected HOST:PORT (port 1..65535), found '%s'",
                             key, s);
    }
    free(out->host);
    out->host = xstrndup(s, (size_t)(colon - s));
    out->port = (int)port;
    out->mark = mf_mark(n);
    return 0;
}

/* An absolute path to an executable regular file, relative ones resolved against m->dir. */
int mf_binary(struct mf_ctx *c, const yaml_node_t *n, const char *key, bool check, char **out)
{
    char *raw = NULL;
    int rc = mf_str(c, n, key, &raw);
    if (rc != 0) {
        return rc;
    }
    size_t len = strlen(c->m->dir) + strlen(raw) + 2;
    char *abs = xmalloc(len);
    if (raw[0] == '/') {
        snprintf(abs, len, "%s", raw);
    } else {
        snprintf(abs, len, "%s/%s", c->m->dir, raw);
    }
    struct stat st;
    if (check && (stat(abs, &st) != 0 || !S_ISREG(st.st_mode))) {
        rc = manifest_fail(c->e, mf_mark(n), "%s: '%s' not found (looked for %s)", key, raw, abs);
    } else if (check && access(abs, X_OK) != 0) {
        rc = manifest_fail(c->e, mf_mark(n), "%s: '%s' is not executable", key, raw);
    }
    free(raw);
    if (rc != 0) {
        free(abs);
        return rc;
    }
    *out = abs;
    return 0;
}

/* The topic names Kafka accepts: 1..249 of [A-Za-z0-9._-], not "." nor "..". */
static bool valid_topic(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n <= 249 &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") == n &&
           strcmp(t, ".") != 0 && strcmp(t, "..") != 0;
}

/* A bootstrap list: HOST:PORT[,HOST:PORT...], hosts of [A-Za-z0-9.-], ports 1..65535, no spaces.
 * On failure `bad` holds the first wrong entry (cut to bad_len). */
static bool valid_bootstrap(const char *s, char *bad, size_t bad_len)
{
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *colon = memrchr(p, ':', len);
        size_t host = colon == NULL ? 0 : (size_t)(colon - p);
        size_t digits = colon == NULL ? 0 : len - host - 1;
        bool ok = host > 0 && digits > 0 && digits <= 5;
        for (size_t i = 0; ok && i < host; i++) {
            ok = isalnum((unsigned char)p[i]) || p[i] == '.' || p[i] == '-';
        }
        for (size_t i = host + 1; ok && i < len; i++) {
            ok = isdigit((unsigned char)p[i]) != 0;
        }
        long port = ok ? strtol(colon + 1, NULL, 10) : 0;
        if (!ok || port < 1 || port > 65535) {
            snprintf(bad, bad_len, "%.*s", (int)len, p);
            return false;
        }
        if (p[len] == '\0') {
            return true;
        }
        p += len + 1;
    }
}

/* broker: { external, replication_factor, partitions, topics } (the caller saw `external`). */
static int parse_external(struct mf_ctx *c, const yaml_node_t *n)
{
    static const char *const embedded[] = {"listen", "data_dir", "args", "binary", NULL};
    struct cli_broker *b = &c->m->broker;
    b->partitions = CLI_DEFAULT_PARTITIONS;
    for (size_t i = 0; embedded[i] != NULL; i++) {
        yaml_node_t *v = mf_get(c, n, embedded[i]);
        if (v != NULL) {
            return manifest_fail(c->e, mf_mark(v),
                                 "broker.%s: configures tandem-broker, which does not run with "
                                 "broker.external",
                                 embedded[i]);
        }
    }
    yaml_node_t *ext = mf_get(c, n, "external");
    char bad[CLI_MAX_BOOTSTRAP + 2];
    int rc = mf_str(c, ext, "broker.external", &b->external);
    if (rc == 0 && strlen(b->external) > CLI_MAX_BOOTSTRAP) {
        rc = manifest_fail(c->e, mf_mark(ext), "broker.external: longer than %d bytes",
                           CLI_MAX_BOOTSTRAP);
    } else if (rc == 0 && !valid_bootstrap(b->external, bad, sizeof(bad))) {
        rc = manifest_fail(c->e, mf_mark(ext),
                           "broker.external: expected HOST:PORT[,HOST:PORT...] (ports 1..65535, "
                           "no spaces), found '%s'",
                           bad);
    }
    yaml_node_t *v;
    if (rc == 0 && (v = mf_get(c, n, "replication_factor")) != NULL) {
        rc = mf_int(c, v, "broker.replication_factor", 1, 32767, &b->replication_factor);
    }
    if (rc == 0 && (v = mf_get(c, n, "partitions")) != NULL) {
        rc = mf_int(c, v, "broker.partitions", 1, 100000, &b->partitions);
    }
    if (rc == 0 && (v = mf_get(c, n, "topics")) != NULL) {
        rc = mf_str_list(c, v, "broker.topics", &b->topics, &b->n_topics);
        for (size_t i = 0; rc == 0 && i < b->n_topics; i++) {
            struct cli_mark at = mf_mark(mf_node(c, v->data.sequence.items.start[i]));
            if (!valid_topic(b->topics[i])) {
                rc = manifest_fail(c->e, at,
                                   "broker.topics: '%s' is not a topic name (1..249 of "
                                   "[A-Za-z0-9._-], not . or ..)",
                                   b->topics[i]);
            }
            for (size_t j = 0; rc == 0 && j < i; j++) {
                if (strcmp(b->topics[i], b->topics[j]) == 0) {
                    rc = manifest_fail(c->e, at, "broker.topics: '%s' is listed twice",
                                       b->topics[i]);
                }
            }
        }
    }
    return rc;
}

static int parse_broker(struct mf_ctx *c, const yaml_node_t *n)
{
    static const char *const keys[] = {"listen",     "data_dir", "args",
                                       "binary",     "external", "replication_factor",
                                       "partitions", "topics",   NULL};
    static const char *const external_only[] = {"replication_factor", "partitions", "topics", NULL};
    struct cli_broker *b = &c->m->broker;
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "broker");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "broker", keys);
    }
    b->present = true;
    b->mark = mf_mark(n);
    if (rc == 0 && mf_get(c, n, "external") != NULL) {
        return parse_external(c, n);
    }
    for (size_t i = 0; rc == 0 && external_only[i] != NULL; i++) {
        const yaml_node_t *only = mf_get(c, n, external_only[i]);
        if (only != NULL) {
            rc = manifest_fail(c->e, mf_mark(only),
                               "broker.%s: only with broker.external (tandem-broker is one "
                               "node, and creates topics as its args say)",
                               external_only[i]);
        }
    }
    b->listen.host = xstrndup("127.0.0.1", 9);
    b->listen.port = 9092;
    b->listen.mark = mf_mark(n);
    yaml_node_t *v;
    if (rc == 0 && (v = mf_get(c, n, "listen")) != NULL) {
        rc = get_listen(c, v, "broker.listen", &b->listen);
    }
    if (rc == 0 && (v = mf_get(c, n, "data_dir")) != NULL) {
        rc = mf_str(c, v, "broker.data_dir", &b->data_dir);
    } else if (rc == 0) {
        b->data_dir = xstrndup("var/broker", 10);
    }
    if (rc == 0 && (v = mf_get(c, n, "args")) != NULL) {
        rc = mf_str_list(c, v, "broker.args", &b->args, &b->n_args);
    }
    if (rc == 0 && (v = mf_get(c, n, "binary")) != NULL) {
        rc = mf_binary(c, v, "broker.binary", true, &b->binary);
    } else if (rc == 0) {
        size_t len = strlen(c->m->dir) + sizeof("/build/bin/tandem-broker");
        b->binary = xmalloc(len);
        snprintf(b->binary, len, "%s/build/bin/tandem-broker", c->m->dir);
    }
    return rc;
}

/* nginx size: digits with an optional k, m or g suffix. */
static bool valid_size(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 9 || strtol(s, NULL, 10) == 0) {
        return false;
    }
    return s[n] == '\0' || (strchr("kKmMgG", s[n]) != NULL && s[n + 1] == '\0');
}

/* An origin as browsers send it: http or https, a lowercase host, an optional port, no path. */
static bool valid_origin(const char *o)
{
    const char *host = strncmp(o, "http://", 7) == 0    ? o + 7
                       : strncmp(o, "https://", 8) == 0 ? o + 8
                                                        : NULL;
    if (host == NULL) {
        return false;
    }
    size_t h = strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-");
    if (h == 0 || h > 253) {
        return false;
    }
    const char *port = host + h;
    if (*port == '\0') {
        return true;
    }
    size_t digits = strspn(port + 1, "0123456789");
    long v = *port == ':' && digits > 0 && digits <= 5 ? strtol(port + 1, NULL, 10) : 0;
    return v >= 1 && v <= 65535 && port[1 + digits] == '\0';
}

static int parse_cors(struct mf_ctx *c, const yaml_node_t *n)
{
    static const char *const keys[] = {"origins", "headers", "max_age", NULL};
    struct cli_cors *cors = &c->m->gateway.cors;
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "gateway.cors");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "gateway.cors", keys);
    }
    cors->present = true;
    cors->max_age = CLI_DEFAULT_CORS_MAX_AGE;
    yaml_node_t *v = rc == 0 ? mf_get(c, n, "origins") : NULL;
    if (rc == 0 && v == NULL) {
        return manifest_fail(c->e, mf_mark(n), "gateway.cors: missing required key 'origins'");
    }
    if (rc == 0) {
        rc = mf_str_list(c, v, "gateway.cors.origins", &cors->origins, &cors->n_origins);
    }
    if (rc == 0 && cors->n_origins == 0) {
        return manifest_fail(c->e, mf_mark(v), "gateway.cors.origins: must not be empty");
    }
    for (size_t i = 0; rc == 0 && i < cors->n_origins; i++) {
        const char *o = cors->origins[i];
        struct cli_mark at = mf_mark(mf_node(c, v->data.sequence.items.start[i]));
        if (strcmp(o, "*") == 0 && cors->n_origins > 1) {
            rc = manifest_fail(c->e, at, "gateway.cors.origins: '*' must be the only origin");
        } else if (strcmp(o, "*") != 0 && !valid_origin(o)) {
            rc = manifest_fail(c->e, at,
                               "gateway.cors.origins: '%s' is not an origin (http or https://host "
                               "in lowercase, an optional :port, no path) nor '*'",
                               o);
        }
    }
    if (rc == 0 && (v = mf_get(c, n, "headers")) != NULL) {
        rc = mf_str_list(c, v, "gateway.cors.headers", &cors->headers, &cors->n_headers);
        for (size_t i = 0; rc == 0 && i < cors->n_headers; i++) {
            const char *h = cors->headers[i];
            if (strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") !=
                strlen(h)) {
                rc = manifest_fail(c->e, mf_mark(mf_node(c, v->data.sequence.items.start[i])),
                                   "gateway.cors.headers: '%s' is not a header name", h);
            }
        }
    }
    if (rc == 0 && (v = mf_get(c, n, "max_age")) != NULL) {
        rc = mf_int(c, v, "gateway.cors.max_age", 0, 86400, &cors->max_age);
    }
    return rc;
}

static int parse_gateway(struct mf_ctx *c, const yaml_node_t *n)
{
    static const char *const keys[] = {
        "listen",       "workers", "cache", "expose_internal", "max_conns_per_client",
        "read_timeout", "cors",    NULL};
    static const char *const cache_keys[] = {"size", NULL};
    struct cli_gateway *g = &c->m->gateway;
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "gateway");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "gateway", keys);
    }
    yaml_node_t *v;
    if (rc == 0 && (v = mf_get(c, n, "listen")) != NULL) {
        rc = get_listen(c, v, "gateway.listen", &g->listen);
    }
    if (rc == 0 && (v = mf_get(c, n, "workers")) != NULL) {
        bool plain = v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && strcmp(mf_sval(v), "auto") == 0) {
            g->workers = 0;
        } else {
            rc = mf_int(c, v, "gateway.workers", 1, CLI_MAX_GATEWAY_WORKERS, &g->workers);
        }
    }
    if (rc == 0 && (v = mf_get(c, n, "expose_internal")) != NULL) {
        rc = mf_bool(c, v, "gateway.expose_internal", &g->expose_internal);
    }
    if (rc == 0 && (v = mf_get(c, n, "max_conns_per_client")) != NULL) {
        rc = mf_int(c, v, "gateway.max_conns_per_client", 1, 1000000, &g->max_conns_per_client);
    }
    if (rc == 0 && (v = mf_get(c, n, "read_timeout")) != NULL) {
        rc = mf_int(c, v, "gateway.read_timeout", 1, 86400, &g->read_timeout);
    }
    if (rc == 0 && (v = mf_get(c, n, "cors")) != NULL) {
        rc = parse_cors(c, v);
    }
    if (rc == 0 && (v = mf_get(c, n, "cache")) != NULL) {
        rc = mf_want(c, v, YAML_MAPPING_NODE, "gateway.cache");
        if (rc == 0) {
            rc = mf_check_keys(c, v, "gateway.cache", cache_keys);
        }
        yaml_node_t *sz = rc == 0 ? mf_get(c, v, "size") : NULL;
        if (sz != NULL) {
            free(g->cache_size);
            g->cache_size = NULL;
            rc = mf_str(c, sz, "gateway.cache.size", &g->cache_size);
            if (rc == 0 && !valid_size(g->cache_size)) {
                rc = manifest_fail(c->e, mf_mark(sz),
                                   "gateway.cache.size: expected a size like 64m, found '%s'",
                                   g->cache_size);
            }
        }
    }
    return rc;
}

/* The key paths a jwt: section left out (or both, when only a service's jwt: key turned tokens
 * on). */
static void jwt_defaults(struct cli_manifest *m)
{
    const char *def[2] = {"var/keys/jwt.key", "var/keys/jwt.pub"};
    char **path[2] = {&m->jwt.private_key, &m->jwt.public_key};
    for (size_t i = 0; i < 2 && m->jwt.present; i++) {
        if (*path[i] == NULL) {
            size_t len = strlen(m->dir) + strlen(def[i]) + 2;
            *path[i] = xmalloc(len);
            snprintf(*path[i], len, "%s/%s", m->dir, def[i]);
        }
    }
}

/* jwt: { private_key, public_key }, paths resolved against the manifest's directory. */
static int parse_jwt(struct mf_ctx *c, const yaml_node_t *n)
{
    static const char *const keys[] = {"private_key", "public_key", NULL};
    struct cli_jwt *j = &c->m->jwt;
    int rc = mf_want(c, n, YAML_MAPPING_NODE, "jwt");
    if (rc == 0) {
        rc = mf_check_keys(c, n, "jwt", keys);
    }
    j->present = true;
    const yaml_node_t *last = n;
    yaml_node_t *v;
    if (rc == 0 && (v = mf_get(c, n, "private_key")) != NULL) {
        rc = mf_binary(c, v, "jwt.private_key", false, &j->private_key);
        last = v;
    }
    if (rc == 0 && (v = mf_get(c, n, "public_key")) != NULL) {
        rc = mf_binary(c, v, "jwt.public_key", false, &j->public_key);
        last = v->start_mark.index > last->start_mark.index ? v : last;
    }
    jwt_defaults(c->m);
    if (rc == 0 && strcmp(j->private_key, j->public_key) == 0) {
        rc = manifest_fail(c->e, mf_mark(last), "jwt: private_key and public_key are one file (%s)",
                           j->private_key);
    }
    return rc;
}

static int manifest_read_root(struct mf_ctx *c, const yaml_node_t *root)
{
    static const char *const keys[] = {"broker", "gateway", "jwt", "services", NULL};
    int rc = mf_want(c, root, YAML_MAPPING_NODE, "manifest");
    if (rc == 0) {
        rc = mf_check_keys(c, root, "manifest", keys);
    }
    struct cli_gateway *g = &c->m->gateway;
    g->listen.host = xstrndup("127.0.0.1", 9);
    g->listen.port = 8080;
    g->listen.mark = mf_mark(root);
    g->cache_size = xstrndup("64m", 3);
    g->max_conns_per_client = CLI_DEFAULT_CONNS_PER_CLIENT;
    g->read_timeout = CLI_DEFAULT_READ_TIMEOUT;
    yaml_node_t *v;
    if (rc == 0 && (v = mf_get(c, root, "broker")) != NULL) {
        rc = parse_broker(c, v);
    }
    if (rc == 0 && (v = mf_get(c, root, "gateway")) != NULL) {
        rc = parse_gateway(c, v);
    }
    if (rc == 0 && (v = mf_get(c, root, "jwt")) != NULL) {
        rc = parse_jwt(c, v);
    }
    if (rc == 0) {
        v = mf_get(c, root, "services");
        if (v == NULL) {
            return manifest_fail(c->e, mf_mark(root), "manifest: missing required key 'services'");
        }
        rc = mf_parse_services(c, v);
    }
    if (rc == 0) {
        jwt_defaults(c->m);
    }
    return rc;
}

/* The absolute directory holding `path`. */
static int manifest_dir(const char *path, char **out)
{
    const char *slash = strrchr(path, '/');
    char *d = slash == NULL ? xstrndup(".", 1) : xstrndup(path, (size_t)(slash - path));
    if (d[0] == '\0') {
        free(d);
        d = xstrndup("/", 1);
    }
    char *abs = realpath(d, NULL);
    free(d);
    if (abs == NULL) {
        return TANDEM_ENOENT;
    }
    *out = abs;
    return 0;
}

int cli_manifest_parse(const char *path, const char *text, size_t len, struct cli_manifest *out,
                       char *err, size_t err_len)
{
    struct manifest_err e = {path, err, err_len, false};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (err_len > 0) {
        err[0] = '\0';
    }
    out->path = xstrndup(path, strlen(path));
    rc = manifest_dir(path, &out->dir);
    if (rc != 0) {
        manifest_fail(&e, (struct cli_mark){0, 0}, "cannot resolve the manifest's directory");
        goto fail;
    }
    if (len > MANIFEST_MAX_BYTES) {
        rc = manifest_fail(&e, (struct cli_mark){0, 0}, "larger than %d bytes", MANIFEST_MAX_BYTES);
        goto fail;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = TANDEM_ENOMEM;
        goto fail;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        struct cli_mark at = {(int)parser.problem_mark.line + 1,
                              (int)parser.problem_mark.column + 1};
        rc = manifest_fail(&e, at, "YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                           parser.context ? " " : "", parser.context ? parser.context : "");
        goto fail;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        rc = manifest_fail(&e, (struct cli_mark){0, 0}, "empty manifest (services: is required)");
        goto fail;
    }
    struct mf_ctx c = {&e, &doc, out};
    rc = manifest_read_root(&c, root);
    if (rc == 0) {
        rc = manifest_check(out, &e);
    }
fail:
    if (have_doc) {
        yaml_document_delete(&doc);
    }
    if (have_parser) {
        yaml_parser_delete(&parser);
    }
    if (rc != 0) {
        cli_manifest_cleanup(out);
    }
    return rc;
}

int cli_manifest_load(const char *path, struct cli_manifest *out, char *err, size_t err_len)
{
    struct manifest_err e = {path, err, err_len, false};
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return manifest_fail(&e, (struct cli_mark){0, 0}, "cannot open: %s", strerror(errno));
    }
    char *buf = xmalloc(MANIFEST_MAX_BYTES + 1);
    size_t len = fread(buf, 1, MANIFEST_MAX_BYTES + 1, f);
    int rc = ferror(f) ? manifest_fail(&e, (struct cli_mark){0, 0}, "read error") : 0;
    fclose(f);
    if (rc == 0) {
        rc = cli_manifest_parse(path, buf, len, out, err, err_len);
    }
    free(buf);
    return rc;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i]);
    }
    free(l);
}

void cli_manifest_cleanup(struct cli_manifest *m)
{
    for (size_t i = 0; i < m->n_services; i++) {
        struct cli_service *s = &m->services[i];
        free(s->name);
        free(s->binary);
        free_list(s->args, s->n_args);
        for (size_t j = 0; j < s->n_env; j++) {
            free(s->env[j].name);
            free(s->env[j].value);
        }
        free(s->env);
        free_list(s->depends_on, s->n_depends_on);
        for (size_t j = 0; j < s->n_routes; j++) {
            free(s->routes[j].path);
        }
        free(s->routes);
    }
    free(m->services);
    free(m->broker.external);
    free_list(m->broker.topics, m->broker.n_topics);
    free(m->broker.listen.host);
    free(m->broker.binary);
    free(m->broker.data_dir);
    free_list(m->broker.args, m->broker.n_args);
    free(m->gateway.listen.host);
    free(m->gateway.cache_size);
    free_list(m->gateway.cors.origins, m->gateway.cors.n_origins);
    free_list(m->gateway.cors.headers, m->gateway.cors.n_headers);
    free(m->jwt.private_key);
    free(m->jwt.public_key);
    free(m->path);
    free(m->dir);
    memset(m, 0, sizeof(*m));
}

int cli_manifest_find(const struct cli_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->n_services; i++) {
        if (strcmp(m->services[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}
