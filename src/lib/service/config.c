/*
 * config.c: a service's configuration from flags and TANDEM_* environment variables.
 *
 * MODEL. argv is split once into (key, value) pairs ("--listen 127.0.0.1:0" and
 * "--listen=127.0.0.1:0" are the same pair; "--help" sets a flag). Options are then declared one
 * by one, the runtime's five first and the service's own later (tandem_service_option); each
 * declaration resolves at once, in this order of precedence:
 *
 *     the last --key flag  >  the environment variable TANDEM_<KEY>  >  the default
 *
 * (TANDEM_<KEY> is the key in upper case with '-' as '_': data-dir -> TANDEM_DATA_DIR), and marks
 * the flags it consumed. A flag that no declaration consumed is unknown; the runtime refuses to
 * start with one (a typo must not silently fall back to a default).
 *
 * Pure: no I/O; the environment is read through the getenv_fn given to svc_config_init, so the
 * unit tests pass their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "service_int.h"

static char *dup_n(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int svc_config_init(struct svc_config *c, int argc, char **argv,
                    const char *(*getenv_fn)(const char *), const char **bad)
{
    memset(c, 0, sizeof(*c));
    c->getenv_fn = getenv_fn;
    c->args = xcalloc((size_t)(argc > 0 ? argc : 1), sizeof(*c->args));
    *bad = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0' || a[2] == '=') {
            *bad = a;
            return TANDEM_EINVAL;
        }
        const char *eq = strchr(a, '=');
        struct svc_arg *p = &c->args[c->nargs];
        if (eq != NULL) {
            p->key = dup_n(a + 2, (size_t)(eq - a - 2));
            p->value = dup_n(eq + 1, strlen(eq + 1));
        } else if (i + 1 < argc) {
            p->key = dup_n(a + 2, strlen(a + 2));
            p->value = dup_n(argv[i + 1], strlen(argv[i + 1]));
            i++;
        } else {
            *bad = a;
            return TANDEM_EINVAL;
        }
        c->nargs++;
    }
    return 0;
}

static bool key_valid(const char *k)
{
    if (*k == '\0' || *k == '-') {
        return false;
    }
    for (; *k != '\0'; k++) {
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '-')) {
            return false;
        }
    }
    return true;
}

static struct svc_opt *find(const struct svc_config *c, const char *key)
{
    for (size_t i = 0; i < c->nopts; i++) {
        if (strcmp(c->opts[i].key, key) == 0) {
            return &c->opts[i];
        }
    }
    return NULL;
}

int svc_config_declare(struct svc_config *c, const char *key, const char *def, const char *help)
{
    if (key == NULL || !key_valid(key) || strlen(key) > 64) {
        return TANDEM_EINVAL;
    }
    if (find(c, key) != NULL) {
        return TANDEM_EEXIST;
    }
    c->opts = xrealloc(c->opts, (c->nopts + 1) * sizeof(*c->opts));
    struct svc_opt *o = &c->opts[c->nopts++];
    memset(o, 0, sizeof(*o));
    o->key = dup_n(key, strlen(key));
    o->help = dup_n(help ? help : "", strlen(help ? help : ""));
    char env[80] = "TANDEM_";
    size_t n = 7;
    for (const char *k = key; *k != '\0'; k++) {
        env[n++] = *k == '-' ? '_' : (char)(*k - (*k >= 'a' && *k <= 'z' ? 'a' - 'A' : 0));
    }
    env[n] = '\0';
    o->env = dup_n(env, n);
    const char *value = def;
    o->source = "default";
    const char *ev = c->getenv_fn ? c->getenv_fn(env) : NULL;
    if (ev != NULL) {
        value = ev;
        o->source = "env";
    }
    for (size_t i = 0; i < c->nargs; i++) {
        if (strcmp(c->args[i].key, key) == 0) {
            value = c->args[i].value; /* the last one wins */
            c->args[i].used = true;
            o->source = "flag";
        }
    }
    o->value = value ? dup_n(value, strlen(value)) : NULL;
    return 0;
}

const char *svc_config_get(const struct svc_config *c, const char *key)
{
    const struct svc_opt *o = find(c, key);
    return o ? o->value : NULL;
}

void svc_config_set(struct svc_config *c, const char *key, const char *value)
{
    struct svc_opt *o = find(c, key);
    if (o != NULL) {
        free(o->value);
        o->value = dup_n(value, strlen(value));
    }
}

const char *svc_config_unknown(const struct svc_config *c)
{
    for (size_t i = 0; i < c->nargs; i++) {
        if (!c->args[i].used) {
            return c->args[i].key;
        }
    }
    return NULL;
}

void svc_config_cleanup(struct svc_config *c)
{
    for (size_t i = 0; i < c->nargs; i++) {
        free(c->args[i].key);
        free(c->args[i].value);
    }
    for (size_t i = 0; i < c->nopts; i++) {
        free(c->opts[i].key);
        free(c->opts[i].env);
        free(c->opts[i].help);
        free(c->opts[i].value);
    }
    free(c->args);
    free(c->opts);
    memset(c, 0, sizeof(*c));
}

int svc_parse_int(const char *s, long min, long max, long *out)
{
    if (s == NULL || *s == '\0') {
        return TANDEM_EINVAL;
    }
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < min || v > max) {
        return TANDEM_EINVAL;
    }
    *out = v;
    return 0;
}

int svc_parse_listen(const char *s, char *host, size_t host_len, int *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (colon == NULL || colon == s || (size_t)(colon - s) >= host_len) {
        return TANDEM_EINVAL;
    }
    long p = 0;
    if (svc_parse_int(colon + 1, 0, 65535, &p) != 0) {
        return TANDEM_EINVAL;
    }
    size_t n = (size_t)(colon - s);
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            dots++;
        } else if (s[i] < '0' || s[i] > '9') {
            return TANDEM_EINVAL;
        }
    }
    if (dots != 3) {
        return TANDEM_EINVAL;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    *port = (int)p;
    return 0;
}
