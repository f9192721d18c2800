/*
 * The system's token keys: the manifest's jwt: section, made ready by `tandem up` before any
 * service starts.
 *
 * Model. Tokens are ES256 JWTs (include/tandem/auth.h): the services with `jwt: sign` (the blog's
 * users) sign them with the private key, every service verifies them with the public key. The
 * pair lives in two PEM files, var/keys/jwt.key and var/keys/jwt.pub by default. On the first
 * `up` neither exists and tandem makes them with libtandem's tandem_auth_keygen_files (a fresh
 * P-256 pair; the private file 0600, both created with O_EXCL, so a key is never overwritten);
 * every later `up` reuses them, so tokens issued before a restart keep verifying.
 *
 * What `up` refuses, before anything starts (each a one-line reason, exit 1):
 *   - only the private file exists: tandem would have to derive the public half; it says how;
 *   - only the public file exists while a service signs: a new pair would silently invalidate
 *     every token issued with the old one, so it is the user's decision (remove the file);
 *     without a signer a public key alone is fine (the tokens come from elsewhere);
 *   - a private key that others may read (mode & 077), as ssh refuses such keys: tandem never
 *     changes a key file's mode itself;
 *   - keys libtandem would refuse at the services' start (not P-256 PEM, an encrypted private
 *     key, a private key that is not the public key's pair): checked here with tandem_auth_new,
 *     which logs its reason as a JSON line, so the error is one message at `up` instead of every
 *     service crash-looping into `failed`.
 *
 * Why the CLI links libtandem's tandem_auth rather than running `openssl`: the keys are made and
 * checked by the very code the services load them with (same curve, same PEM forms, same
 * checks), the files are created exclusively with their modes set at open (no window where the
 * private key is readable), and `up` depends on no program that Debian ships in a separate
 * package (`openssl`) or on parsing its output. tandem_auth brings libjwt and libcrypto, which
 * libtandem needs anyway. A build without them (src/cli/CMakeLists.txt: no TANDEM_CLI_JWT) still
 * runs manifests without jwt:, and refuses the ones with it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/supervisor.h"
#include "tandem/error.h"

#ifdef TANDEM_CLI_JWT
#include "tandem/auth.h"
#endif

/* path as the user wrote it when it is inside the project (var/keys/jwt.key), else absolute. */
static const char *shown(const struct sup *s, const char *path)
{
    size_t n = strlen(s->m.dir);
    return strncmp(path, s->m.dir, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

/* stat(path): 1 when it exists, 0 when it does not, -1 (said on stderr) when it cannot tell. */
static int key_exists(const struct sup *s, const char *path, const char *key, struct stat *st)
{
    if (stat(path, st) == 0) {
        return 1;
    }
    if (errno == ENOENT) {
        return 0;
    }
    fprintf(stderr, "tandem: up failed: jwt.%s: %s: %s\n", key, shown(s, path), strerror(errno));
    return -1;
}

/* The directories above a key file that do not exist yet, created 0700 (existing ones, maybe the
 * user's own, are left as they are). */
static int key_dirs(const char *path)
{
    char dir[1024];
    const char *slash = strrchr(path, '/');
    int n = snprintf(dir, sizeof(dir), "%.*s", (int)(slash != NULL ? slash - path : 0), path);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        return TANDEM_EINVAL;
    }
    return n == 0 ? 0 : sup_mkdirs(dir, false);
}

#ifdef TANDEM_CLI_JWT
static int jwt_make(struct sup *s)
{
    const struct cli_jwt *j = &s->m.jwt;
    int rc = key_dirs(j->private_key);
    if (rc == 0) {
        rc = key_dirs(j->public_key);
    }
    if (rc == 0) {
        rc = tandem_auth_keygen_files(j->private_key, j->public_key);
    }
    if (rc != 0) {
        fprintf(stderr, "tandem: up failed: jwt: cannot make the key pair %s, %s: %s\n",
                shown(s, j->private_key), shown(s, j->public_key),
                rc == TANDEM_EEXIST ? "a file appeared meanwhile" : strerror(errno));
        return rc;
    }
    sup_log("jwt: made a new ES256 key pair: %s (private, mode 600), %s", shown(s, j->private_key),
            shown(s, j->public_key));
    return 0;
}

/* What the services will load, loaded once here: tandem_auth_new logs why it refuses. */
static int jwt_check(struct sup *s, bool signer)
{
    const struct cli_jwt *j = &s->m.jwt;
    struct tandem_auth_config cfg = {
        .public_key_file = j->public_key,
        .private_key_file = signer ? j->private_key : NULL,
    };
    struct tandem_auth *a = NULL;
    int rc = tandem_auth_new(&cfg, &a);
    tandem_auth_free(a);
    if (rc != 0) {
        fprintf(stderr,
                "tandem: up failed: jwt: %s%s%s is not a usable ES256 key%s (the line above says "
                "why)\n",
                shown(s, j->public_key), signer ? " with " : "",
                signer ? shown(s, j->private_key) : "", signer ? " pair" : "");
    }
    return rc;
}
#else
static int jwt_make(struct sup *s)
{
    (void)s;
    fprintf(stderr, "tandem: up failed: jwt: this tandem was built without tokens (libjwt-dev and "
                    "libssl-dev were missing): it can neither make nor check the key pair\n");
    return TANDEM_EUNSUPPORTED;
}

static int jwt_check(struct sup *s, bool signer)
{
    (void)signer;
    return jwt_make(s);
}
#endif

int sup_jwt_prepare(struct sup *s)
{
    const struct cli_jwt *j = &s->m.jwt;
    if (!j->present) {
        return 0;
    }
    bool signer = false;
    for (size_t i = 0; i < s->m.n_services; i++) {
        signer = signer || s->m.services[i].jwt_sign;
    }
    struct stat st_priv, st_pub;
    int have_priv = key_exists(s, j->private_key, "private_key", &st_priv);
    int have_pub = key_exists(s, j->public_key, "public_key", &st_pub);
    if (have_priv < 0 || have_pub < 0) {
        return TANDEM_EIO;
    }
    const char *priv = shown(s, j->private_key), *pub = shown(s, j->public_key);
    if (!have_priv && !have_pub) {
        int rc = jwt_make(s);
        if (rc != 0) {
            return rc;
        }
    } else if (!have_pub) {
        fprintf(stderr,
                "tandem: up failed: jwt.public_key: %s does not exist but the private key %s "
                "does; write its public half: openssl pkey -in %s -pubout -out %s\n",
                pub, priv, priv, pub);
        return TANDEM_ENOENT;
    } else if (!have_priv && signer) {
        fprintf(stderr,
                "tandem: up failed: jwt.private_key: %s does not exist but the public key %s "
                "does; tandem makes a pair only when neither exists, as a new one would make "
                "every token issued so far invalid (remove %s to start over)\n",
                priv, pub, pub);
        return TANDEM_ENOENT;
    } else if (have_priv && (!S_ISREG(st_priv.st_mode) || (st_priv.st_mode & 077) != 0)) {
        fprintf(stderr,
                "tandem: up failed: jwt.private_key: %s must be a file only its owner can read "
                "(mode %03o): chmod 600 %s\n",
                priv, (unsigned)(st_priv.st_mode & 0777), priv);
        return TANDEM_EINVAL;
    }
    return jwt_check(s, signer);
}
