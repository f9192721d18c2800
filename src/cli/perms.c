/*
 * Who may read what tandem writes, and who nginx's workers run as.
 *
 * Everything under var/ is the owner's only: the supervisor sets umask 077 before it creates
 * anything, and every process it starts inherits it, so logs, databases, the broker's segments,
 * nginx's logs and cache are created 0600 and their directories 0700. Files and directories an
 * older tandem created world-readable are brought to the same modes at `up`.
 *
 * nginx's workers. A master started by root runs its workers as the `user` directive says (its
 * default, nobody, is not chosen here: it is meant to own nothing, and every daemon that falls back
 * to it shares it). When tandem runs as root the workers run as www-data, else nobody, with that
 * user's primary group: a worker that a request exploits then holds neither root nor the rest of
 * var/. The workers open by path only the cache and temp directories under var/gateway/ (their
 * logs are descriptors inherited from the master, which also creates those directories and chowns
 * them to the worker user); so var/ and var/gateway/ become 0711 (others may pass through, not
 * list or read), and whatever an older run left in those directories is chowned to the worker.
 * The project directory itself must be reachable by that user (every directory above it searchable
 * by it); when it is not (a project under /root, mode 0700), the workers run as root as before and
 * `up` says why. Without root nginx cannot switch users, no directive is written, and the workers
 * run as the invoking user.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/supervisor.h"
#include "tandem/error.h"

#define NGINX_MAX_NOFILE 65536 /* 32768 worker connections: about 15 MB per worker */

static const char *const WORKER_USERS[] = {"www-data", "nobody"};

/* The directories under var/gateway/ nginx's workers write by path (gateway.c). */
static const char *const WORKER_DIRS[] = {
    "var/gateway/cache",        "var/gateway/client_body_temp", "var/gateway/proxy_temp",
    "var/gateway/fastcgi_temp", "var/gateway/uwsgi_temp",       "var/gateway/scgi_temp",
};

/* Whether uid/gid may search (pass through) `dir` and every directory above it; `why` names the
 * first one it may not. Supplementary groups are not considered. */
static bool searchable(const char *dir, uid_t uid, gid_t gid, char *why, size_t why_len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", dir);
    size_t len = strlen(path);
    for (size_t end = 1; end <= len; end++) {
        if (path[end] != '/' && path[end] != '\0') {
            continue;
        }
        char c = path[end];
        path[end] = '\0';
        struct stat st;
        bool ok = stat(path, &st) == 0;
        if (ok) {
            mode_t bit = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
            ok = (st.st_mode & bit) != 0;
        }
        if (!ok) {
            snprintf(why, why_len, "%s (mode %03o)", path, (unsigned)(st.st_mode & 0777));
            return false;
        }
        path[end] = c;
    }
    return true;
}

void sup_perms_identity(struct sup *s)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t n = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NGINX_MAX_NOFILE ? NGINX_MAX_NOFILE
                                                                                  : rl.rlim_max;
        s->m.gateway.nofile = (int)n;
    }
    if (geteuid() != 0) {
        return;
    }
    struct passwd *pw = NULL;
    for (size_t i = 0; i < sizeof(WORKER_USERS) / sizeof(WORKER_USERS[0]) && pw == NULL; i++) {
        pw = getpwnam(WORKER_USERS[i]);
    }
    struct group *gr = pw != NULL ? getgrgid(pw->pw_gid) : NULL;
    char where[PATH_MAX + 32] = "its own directory";
    char why[PATH_MAX + 96] = "there is no www-data or nobody user";
    if (pw != NULL && gr != NULL && pw->pw_uid != 0 &&
        searchable(s->m.dir, pw->pw_uid, pw->pw_gid, where, sizeof(where))) {
        snprintf(s->gw_user, sizeof(s->gw_user), "%s %s", pw->pw_name, gr->gr_name);
        s->gw_uid = pw->pw_uid;
        s->gw_gid = pw->pw_gid;
        s->gw_apart = true;
    } else {
        if (pw != NULL) {
            snprintf(why, sizeof(why), "%s cannot reach %s", pw->pw_name, where);
        }
        /* named explicitly: without a directive nginx would pick nobody */
        struct passwd *root = getpwuid(0);
        struct group *g0 = getgrgid(0);
        snprintf(s->gw_user, sizeof(s->gw_user), "%s %s", root != NULL ? root->pw_name : "root",
                 g0 != NULL ? g0->gr_name : "root");
        sup_log("nginx's workers run as root: %s", why);
    }
    if (strspn(s->gw_user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- ") ==
        strlen(s->gw_user)) {
        s->m.gateway.user = s->gw_user;
    }
}

/* mkdir then chmod: the mode also for a directory an older run created. */
static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        fprintf(stderr, "tandem: cannot create %s: %s\n", path, strerror(errno));
        return TANDEM_EIO;
    }
    if (chmod(path, mode) != 0) {
        fprintf(stderr, "tandem: cannot chmod %s: %s\n", path, strerror(errno));
        return TANDEM_EIO;
    }
    return 0;
}

int sup_perms_dirs(struct sup *s)
{
    mode_t pass = s->gw_apart ? 0711 : 0700;
    const struct {
        const char *path;
        mode_t mode;
    } dirs[] = {
        {"var", pass},         {"var/tandem", 0700},   {"var/tandem/logs", 0700},
        {"var/gateway", pass}, {"var/services", 0700},
    };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int rc = make_dir(dirs[i].path, dirs[i].mode);
        if (rc != 0) {
            return rc;
        }
    }
    /* What an older tandem left readable by others in the directories others may pass. */
    static const char *const files[] = {"var/gateway/access.log", "var/gateway/error.log",
                                        "var/gateway/nginx.conf", "var/gateway/nginx.pid"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (chmod(files[i], 0600) != 0 && errno != ENOENT) {
            fprintf(stderr, "tandem: cannot chmod %s: %s\n", files[i], strerror(errno));
            return TANDEM_EIO;
        }
    }
    return 0;
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    if ((st->st_uid != chown_uid || st->st_gid != chown_gid) &&
        lchown(path, chown_uid, chown_gid) != 0) {
        sup_log("cannot chown %s for nginx's workers: %s", path, strerror(errno));
    }
    return 0;
}

void sup_perms_gateway(struct sup *s)
{
    if (!s->gw_apart) {
        return;
    }
    chown_uid = s->gw_uid;
    chown_gid = s->gw_gid;
    for (size_t i = 0; i < sizeof(WORKER_DIRS) / sizeof(WORKER_DIRS[0]); i++) {
        if (access(WORKER_DIRS[i], F_OK) == 0) {
            nftw(WORKER_DIRS[i], chown_one, 16, FTW_PHYS);
        }
    }
}
