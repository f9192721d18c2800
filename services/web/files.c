/*
 * files.c: the app's files in memory, and the handler that serves them.
 *
 * LOADING. web_files_load walks the build directory once at start (depth-first, at most 8 levels,
 * 4096 files, 64 MiB): every regular file whose name does not start with '.' becomes an entry
 * keyed by its URL path ("/assets/app.3KX2Q7ZA.js"); name.gz beside name is read as its gzip twin.
 * Symbolic links are skipped (fstatat with AT_SYMLINK_NOFOLLOW, files opened with O_NOFOLLOW), so
 * nothing outside the directory is read even if a link points there. The table is sorted and
 * never changes afterwards: the workers read it without locks.
 *
 * ANSWERS (GET and HEAD; the runtime answers other methods 405):
 *
 *   path                        answer                       Cache-Control
 *   /assets/<name>.<hash>.<ext> the file                     public, max-age=31536000, immutable
 *   /, /index.html              index.html                   no-cache (revalidated by ETag)
 *   the app's pages: /login, /register, /settings, /editor[/...], /article/..., /profile/...,
 *                    /console[/...]
 *                               index.html                   no-cache
 *   any other path              404, index.html as the body  no-cache
 *                               (the app shows its "not found" page; crawlers see 404)
 *   /assets/... not in the table, /api/...: 404 problem+json
 *   a path web_path_ok refuses (dot segments, encoded slashes, NUL, ...): 400 problem+json
 *
 * Every answer goes through tandem_respond_cached: a strong ETag from the bytes sent, and 304
 * to a matching If-None-Match. A file with a gzip twin is sent compressed (Content-Encoding:
 * gzip, its own ETag) to a client whose Accept-Encoding allows it, and carries Vary:
 * Accept-Encoding either way, so caches keep the two apart. index.html carries the
 * Content-Security-Policy that keeps every script, style and connection on this origin.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web.h"

#define MAX_FILES 4096
#define MAX_BYTES (64u << 20)
#define MAX_DEPTH 8

static const char CACHE_IMMUTABLE[] = "public, max-age=31536000, immutable";
static const char CACHE_REVALIDATE[] = "no-cache";
static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data: https:; connect-src 'self'; font-src 'self'; "
                          "object-src 'none'; base-uri 'self'; form-action 'self'; "
                          "frame-ancestors 'none'";

/* The first path segments the app routes (router.js): answered with index.html. */
static const char *const APP_PAGES[] = {"login",   "register", "settings", "editor",
                                        "article", "profile",  "console"};

/* Reads the regular file name in dirfd whole into *out (NUL-terminated). */
static int read_file(int dirfd, const char *name, size_t cap, char **out, size_t *len)
{
    int rc = TANDEM_EIO;
    char *buf = NULL;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return TANDEM_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        goto fail;
    }
    if ((size_t)st.st_size > cap) {
        rc = TANDEM_ETOOLARGE;
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = TANDEM_ENOMEM;
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto fail;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    *out = buf;
    *len = got;
    return 0;
fail:
    free(buf);
    close(fd);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Adds every file of the directory dirfd (URL prefix prefix) to f, recursing into directories. */
static int load_dir(int dirfd, const char *prefix, int depth, struct web_files *f)
{
    DIR *d = fdopendir(dirfd); /* owns dirfd from here */
    if (d == NULL) {
        close(dirfd);
        return TANDEM_EIO;
    }
    int rc = 0;
    while (rc == 0) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            rc = errno != 0 ? TANDEM_EIO : 0;
            break;
        }
        const char *name = e->d_name;
        struct stat st;
        if (name[0] == '.' || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        char path[1024];
        int n = snprintf(path, sizeof(path), "%s/%s", prefix, name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            continue; /* a name no URL of ours has */
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth >= MAX_DEPTH) {
                continue;
            }
            int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = sub < 0 ? TANDEM_EIO : load_dir(sub, path, depth + 1, f);
            continue;
        }
        if (!S_ISREG(st.st_mode) || ends_with(name, ".gz")) {
            continue; /* twins are read with their file */
        }
        if (f->n == MAX_FILES) {
            rc = TANDEM_ETOOLARGE;
            break;
        }
        struct web_file *w = &f->v[f->n];
        memset(w, 0, sizeof(*w));
        rc = read_file(dirfd, name, MAX_BYTES - f->bytes, &w->body, &w->len);
        if (rc != 0) {
            break;
        }
        f->n++;
        f->bytes += w->len;
        w->path = strdup(path);
        if (w->path == NULL) {
            rc = TANDEM_ENOMEM;
            break;
        }
        w->type = web_content_type(name);
        w->cache = strncmp(path, "/assets/", 8) == 0 ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
        char gzname[512];
        n = snprintf(gzname, sizeof(gzname), "%s.gz", name);
        if (n > 0 && (size_t)n < sizeof(gzname) &&
            fstatat(dirfd, gzname, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            rc = read_file(dirfd, gzname, MAX_BYTES - f->bytes, &w->gz, &w->gz_len);
            f->bytes += w->gz_len;
        }
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct web_file *)a)->path, ((const struct web_file *)b)->path);
}

int web_files_load(const char *dir, struct web_files *out)
{
    memset(out, 0, sizeof(*out));
    out->v = calloc(MAX_FILES, sizeof(*out->v));
    if (out->v == NULL) {
        return TANDEM_ENOMEM;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? TANDEM_EIO : load_dir(fd, "", 0, out);
    if (rc == 0) {
        qsort(out->v, out->n, sizeof(*out->v), by_path);
        if (web_files_find(out, "/index.html") == NULL) {
            rc = TANDEM_ENOENT;
        }
    }
    if (rc != 0) {
        tandem_log_error(NULL, "web files not loaded", "\"dir\":\"%s\",\"error\":\"%s\"", dir,
                         tandem_strerror(rc));
        web_files_cleanup(out);
        return rc;
    }
    tandem_log_info(NULL, "web files loaded", "\"dir\":\"%s\",\"files\":%zu,\"bytes\":%zu", dir,
                    out->n, out->bytes);
    return 0;
}

void web_files_cleanup(struct web_files *f)
{
    for (size_t i = 0; f->v != NULL && i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].body);
        free(f->v[i].gz);
    }
    free(f->v);
    memset(f, 0, sizeof(*f));
}

const struct web_file *web_files_find(const struct web_files *f, const char *path)
{
    struct web_file key = {.path = (char *)path};
    return f->n == 0 ? NULL : bsearch(&key, f->v, f->n, sizeof(*f->v), by_path);
}

/* Whether path is one of the app's pages (its first segment is in APP_PAGES, or it is "/"). */
static bool app_page(const char *path)
{
    if (strcmp(path, "/") == 0) {
        return true;
    }
    const char *seg = path + 1;
    size_t len = strcspn(seg, "/");
    for (size_t i = 0; i < sizeof(APP_PAGES) / sizeof(APP_PAGES[0]); i++) {
        if (strlen(APP_PAGES[i]) == len && strncmp(seg, APP_PAGES[i], len) == 0) {
            return true;
        }
    }
    return false;
}

/* Sends file w (compressed when it has a twin and the client takes gzip) with status 200 through
 * tandem_respond_cached, or with status (404) as it is. */
static void send_file(struct tandem_http_request *req, const struct web_file *w, int status)
{
    const char *body = w->body;
    size_t len = w->len;
    tandem_respond_header(req, "X-Content-Type-Options", "nosniff");
    if (w->gz != NULL) {
        tandem_respond_header(req, "Vary", "Accept-Encoding");
        if (web_accepts_gzip(tandem_http_header(req, "Accept-Encoding"))) {
            tandem_respond_header(req, "Content-Encoding", "gzip");
            body = w->gz;
            len = w->gz_len;
        }
    }
    if (strncmp(w->type, "text/html", 9) == 0) {
        tandem_respond_header(req, "Content-Security-Policy", CSP);
        tandem_respond_header(req, "Referrer-Policy", "same-origin");
    }
    if (status == 200) {
        tandem_respond_cached(req, w->type, body, len, w->cache);
    } else {
        tandem_respond_header(req, "Cache-Control", CACHE_REVALIDATE);
        tandem_respond(req, status, w->type, body, len);
    }
}

void web_serve(struct tandem_http_request *req, void *arg)
{
    const struct web_files *f = arg;
    const char *path = req->path;
    if (!web_path_ok(path)) {
        tandem_respond_problem(req, 400, "the path is not one this server answers");
        return;
    }
    const struct web_file *w = web_files_find(f, strcmp(path, "/") == 0 ? "/index.html" : path);
    if (w != NULL) {
        send_file(req, w, 200);
        return;
    }
    if (strncmp(path, "/assets/", 8) == 0 || strncmp(path, "/api/", 5) == 0 ||
        strcmp(path, "/api") == 0) {
        tandem_respond_problem(req, 404, "no such file");
        return;
    }
    send_file(req, web_files_find(f, "/index.html"), app_page(path) ? 200 : 404);
}
