/*
 * `tandem [-f FILE] export kubernetes -o DIR [options]`: the manifest as Kubernetes objects,
 * rendered by kube.c and written here, one file per service (docs/scale-out.md).
 *
 * What this layer adds to the pure renderer: reading the options (each checked, a bad one is
 * usage: exit 2 with the reason), the token key pair (the manifest's own files, which `tandem up`
 * made, so tokens issued on one machine keep verifying in the cluster; or, with --new-jwt-keys, a
 * fresh pair made by libtandem as `up` makes it, never written anywhere but the Secret), and the
 * files: each written to a temporary name and renamed, the Secrets' file created 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/kube.h"
#include "common/mem.h"
#include "tandem/error.h"

#ifdef TANDEM_CLI_JWT
#include "tandem/auth.h"
#endif

#ifndef TANDEM_CLI_VERSION
#define TANDEM_CLI_VERSION "0"
#endif

#define KEY_MAX_BYTES (64 * 1024)

static const char EXPORT_USAGE[] =
    "usage: tandem [-f FILE] export kubernetes -o DIR [options]\n"
    "\n"
    "  -o, --output DIR        where the YAML files go (created if missing; files rewritten)\n"
    "  --image REF             every container's image (default tandem:" TANDEM_CLI_VERSION
    ", what\n"
    "                          `make image` builds)\n"
    "  --brokers LIST          an external Kafka cluster, host:port,host:port,...: no broker\n"
    "                          StatefulSet, every service's TANDEM_BROKERS is LIST\n"
    "  --gateway HOST[:PORT]   what 127.0.0.1:<gateway port> in a service's env becomes (default\n"
    "                          ingress-nginx-controller.ingress-nginx.svc.cluster.local)\n"
    "  --storage SIZE          each service's volume (default 1Gi)\n"
    "  --broker-storage SIZE   the broker's volume (default 10Gi)\n"
    "  --new-jwt-keys          a fresh token key pair in the Secret instead of the manifest's\n"
    "                          jwt files (tokens issued before stop verifying)\n"
    "\n"
    "See docs/scale-out.md.\n";

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "tandem: export: %s '%s'\n(tandem export --help for usage)\n", what, arg);
    return 2;
}

/* host:port[,host:port...], hosts of [A-Za-z0-9.-], ports 1..65535. */
static bool brokers_ok(const char *s)
{
    const char *p = s;
    for (;;) {
        size_t host = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
        if (host == 0 || p[host] != ':') {
            return false;
        }
        p += host + 1;
        size_t digits = strspn(p, "0123456789");
        long port = digits > 0 && digits <= 5 ? strtol(p, NULL, 10) : 0;
        if (port < 1 || port > 65535) {
            return false;
        }
        p += digits;
        if (*p == '\0') {
            return true;
        }
        if (*p++ != ',') {
            return false;
        }
    }
}

/* A Kubernetes quantity for storage: digits and a binary or decimal suffix (1Gi, 500M). */
static bool size_ok(const char *s)
{
    static const char *const SUFFIX[] = {"", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", NULL};
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 12) {
        return false;
    }
    for (size_t i = 0; SUFFIX[i] != NULL; i++) {
        if (strcmp(s + digits, SUFFIX[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* An image reference or an address: printable, no spaces or quotes. */
static bool word_ok(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 512) {
        return false;
    }
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '"' || *c == '\'' || *c == '\\') {
            return false;
        }
    }
    return true;
}

/* The whole of a small file, NUL-terminated, or NULL with errno set. */
static char *read_small(const char *path)
{
    char *buf = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    buf = xmalloc(KEY_MAX_BYTES + 1);
    size_t n = fread(buf, 1, KEY_MAX_BYTES + 1, f);
    bool err = ferror(f) != 0;
    fclose(f);
    if (err || n > KEY_MAX_BYTES) {
        free(buf);
        errno = err ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

#ifdef TANDEM_CLI_JWT
/* A fresh pair, made by libtandem in a private temporary directory and removed from it. */
static int new_keys(char **pub, char **priv)
{
    char dir[] = "/tmp/tandem-export-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "tandem: export: cannot make a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    char kp[64], pp[64];
    snprintf(kp, sizeof(kp), "%s/jwt.key", dir);
    snprintf(pp, sizeof(pp), "%s/jwt.pub", dir);
    int rc = tandem_auth_keygen_files(kp, pp);
    if (rc == 0) {
        *priv = read_small(kp);
        *pub = read_small(pp);
    }
    unlink(kp);
    unlink(pp);
    rmdir(dir);
    if (rc != 0 || *priv == NULL || *pub == NULL) {
        fprintf(stderr, "tandem: export: cannot make a key pair: %s\n", tandem_strerror(rc));
        return 1;
    }
    return 0;
}
#else
static int new_keys(char **pub, char **priv)
{
    (void)pub;
    (void)priv;
    fprintf(stderr, "tandem: export: this tandem was built without tokens (libjwt-dev and "
                    "libssl-dev were missing): it cannot make a key pair\n");
    return 1;
}
#endif

/* The manifest's own pair, as `tandem up` made it. */
static int read_keys(const struct cli_manifest *m, char **pub, char **priv)
{
    const char *paths[2] = {m->jwt.public_key, m->jwt.private_key};
    char **outs[2] = {pub, priv};
    for (int i = 0; i < 2; i++) {
        *outs[i] = read_small(paths[i]);
        if (*outs[i] == NULL) {
            fprintf(stderr,
                    "tandem: export: jwt: cannot read %s: %s (`tandem up` makes the pair at its "
                    "first start; or pass --new-jwt-keys for a fresh one)\n",
                    paths[i], strerror(errno));
            return 1;
        }
    }
    return 0;
}

/* mkdir -p. */
static int make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof(buf), "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    struct stat st;
    if (stat(buf, &st) != 0) {
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* DIR/NAME through DIR/.NAME.tmp and a rename; mode 0600 for a file with a private key. */
static int write_file(const char *dir, const struct cli_kube_file *f)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, f->name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, f->name);
    mode_t mode = f->secret ? 0600 : 0644;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        goto fail;
    }
    size_t len = strlen(f->text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, f->text + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            goto fail;
        }
        off += (size_t)n;
    }
    if (fchmod(fd, mode) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "tandem: export: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return 1;
}

/* What the gateway does that the objects cannot (docs/scale-out.md), said once per route. */
static void print_notes(const struct cli_manifest *m)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const struct cli_service *s = &m->services[i];
        for (size_t j = 0; j < s->n_routes; j++) {
            const struct cli_route *r = &s->routes[j];
            if (r->cache) {
                fprintf(stderr,
                        "tandem: export: note: route %s: not cached (ingress-nginx has no cache "
                        "annotation)\n",
                        r->path);
            }
            if (r->methods != 0) {
                fprintf(stderr,
                        "tandem: export: note: route %s: other methods reach %s (ingress-nginx "
                        "cannot answer them 405)\n",
                        r->path, s->name);
            }
        }
        if (s->control) {
            fprintf(stderr,
                    "tandem: export: note: %s: control: true needs tandem's supervisor, which "
                    "Kubernetes replaces: it runs without its actions\n",
                    s->name);
        }
    }
}

struct export_args {
    const char *dir;
    struct cli_kube_opts o;
    bool new_keys;
};

static int parse_args(int argc, char **argv, struct export_args *a)
{
    a->o.image = "tandem:" TANDEM_CLI_VERSION;
    a->o.gateway_addr = "ingress-nginx-controller.ingress-nginx.svc.cluster.local";
    a->o.storage = "1Gi";
    a->o.broker_storage = "10Gi";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--new-jwt-keys") == 0) {
            a->new_keys = true;
            continue;
        }
        if (strcmp(k, "-h") == 0 || strcmp(k, "--help") == 0) {
            fputs(EXPORT_USAGE, stdout);
            return 0;
        }
        const char **dst = strcmp(k, "-o") == 0 || strcmp(k, "--output") == 0 ? &a->dir
                           : strcmp(k, "--image") == 0                        ? &a->o.image
                           : strcmp(k, "--brokers") == 0                      ? &a->o.brokers
                           : strcmp(k, "--gateway") == 0                      ? &a->o.gateway_addr
                           : strcmp(k, "--storage") == 0                      ? &a->o.storage
                           : strcmp(k, "--broker-storage") == 0               ? &a->o.broker_storage
                                                                              : NULL;
        if (dst == NULL) {
            return bad("unknown option", k);
        }
        if (i + 1 >= argc) {
            return bad("a value is missing after", k);
        }
        *dst = argv[++i];
    }
    if (a->dir == NULL || a->dir[0] == '\0') {
        fprintf(stderr, "tandem: export: -o DIR is required\n(tandem export --help for usage)\n");
        return 2;
    }
    if (!word_ok(a->o.image)) {
        return bad("--image: not an image reference:", a->o.image);
    }
    if (a->o.brokers != NULL && !brokers_ok(a->o.brokers)) {
        return bad("--brokers: expected host:port[,host:port...], found", a->o.brokers);
    }
    if (!word_ok(a->o.gateway_addr) || strchr(a->o.gateway_addr, '/') != NULL) {
        return bad("--gateway: expected HOST[:PORT], found", a->o.gateway_addr);
    }
    if (!size_ok(a->o.storage)) {
        return bad("--storage: expected a size like 1Gi or 500Mi, found", a->o.storage);
    }
    if (!size_ok(a->o.broker_storage)) {
        return bad("--broker-storage: expected a size like 10Gi, found", a->o.broker_storage);
    }
    return -1; /* go on */
}

int cli_export_main(const char *manifest, int argc, char **argv)
{
    if (argc == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(EXPORT_USAGE, argc == 0 ? stderr : stdout);
        return argc == 0 ? 2 : 0;
    }
    if (strcmp(argv[0], "kubernetes") != 0) {
        return bad("expected 'kubernetes', found", argv[0]);
    }
    struct export_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        return rc;
    }
    struct cli_manifest m;
    char err[1200];
    char *pub = NULL, *priv = NULL;
    struct cli_kube_file *files = NULL;
    size_t n = 0;
    if (cli_manifest_load(manifest, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rc = 1;
    if (m.jwt.present && (a.new_keys ? new_keys(&pub, &priv) : read_keys(&m, &pub, &priv)) != 0) {
        goto fail;
    }
    a.o.jwt_public = pub;
    a.o.jwt_private = priv;
    if (cli_kube_render(&m, &a.o, &files, &n, err, sizeof(err)) != 0) {
        fprintf(stderr, "tandem: export: %s: %s\n", manifest, err);
        goto fail;
    }
    if (make_dirs(a.dir) != 0) {
        fprintf(stderr, "tandem: export: %s: %s\n", a.dir, strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (write_file(a.dir, &files[i]) != 0) {
            goto fail;
        }
    }
    print_notes(&m);
    printf("tandem: export: %zu files in %s (kubectl apply -k %s)%s\n", n, a.dir, a.dir,
           m.jwt.present ? "; jwt-secrets.yaml holds the private key: keep it out of git" : "");
    rc = 0;
fail:
    cli_kube_files_free(files, n);
    free(pub);
    if (priv != NULL) {
        explicit_bzero(priv, strlen(priv));
    }
    free(priv);
    cli_manifest_cleanup(&m);
    return rc;
}
