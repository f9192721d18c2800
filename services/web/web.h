/*
 * services/web: the blog's pages in a browser (docs/web.md).
 *
 * tandem-web serves the single-page app that web/build.mjs makes: index.html and the files under
 * assets/, each named by the hash of its content. At start it reads the whole directory into
 * memory (a few hundred KiB), each file with its gzip twin when the build made one, and from then
 * on answers from that table alone: a request can only ever get one of the files that were there
 * at start, whatever its path says, so no path can lead outside the directory. The app's pages
 * (/, /login, /article/<slug>, ...) are answered with index.html (client-side routing with the
 * History API; the app draws the page of the URL).
 *
 * On an empty system it can also fill the blog with demo data (demo.c), through the gateway's
 * public API like any client, once.
 */
#ifndef WEB_H
#define WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "tandem/service.h"

/* One file of the app, in memory. */
struct web_file {
    char *path;        /* the URL path: "/index.html", "/assets/app.3KX2Q7ZA.js" */
    const char *type;  /* Content-Type */
    const char *cache; /* Cache-Control */
    char *body;
    size_t len;
    char *gz; /* the .gz twin's bytes, or NULL */
    size_t gz_len;
};

struct web_files {
    struct web_file *v; /* sorted by path */
    size_t n;
    size_t bytes; /* total of bodies and twins */
};

/* ---- request.c: pure checks of what a client sends (fuzzed: tests/fuzz/fuzz_web.c) ---- */

/*
 * Judges a request target's path (as received: before '?', not percent-decoded). Returns true
 * when it is acceptable: it starts with '/', and has no control character or backslash, no bad
 * percent-escape, no encoded NUL, '/' or '\', and no segment that is "." or ".." once decoded.
 */
bool web_path_ok(const char *path);

/* Whether an Accept-Encoding field value (NULL: absent) lets the answer be gzip (RFC 9110
 * §12.5.3: "gzip" or "x-gzip" with a q-value above 0, or "*" above 0 when gzip is not named). */
bool web_accepts_gzip(const char *field);

/* The Content-Type for a file name, by its extension ("application/octet-stream" when unknown). */
const char *web_content_type(const char *name);

/* ---- files.c ---- */

/* Reads every regular file under dir (symbolic links and dot-files skipped; name.gz is kept as
 * name's twin, not as a file of its own) into *out. Returns 0, TANDEM_ENOENT (no index.html
 * there: not an app build), TANDEM_ETOOLARGE (above 4096 files or 64 MiB), TANDEM_EIO, or
 * TANDEM_ENOMEM; logged. */
int web_files_load(const char *dir, struct web_files *out);
void web_files_cleanup(struct web_files *f);

/* The file at URL path, or NULL. */
const struct web_file *web_files_find(const struct web_files *f, const char *path);

/* The route handler of GET/HEAD /{path...}; arg is the struct web_files. */
void web_serve(struct tandem_http_request *req, void *arg);

/* ---- demo.c ---- */

struct web_demo;

/*
 * Starts the loader thread: unless <data_dir>/demo-data.done exists, it takes the lock
 * <data_dir>/demo-data.lock (another instance holding it is loading: nothing to do), waits for
 * GET <gateway>/api/articles to answer, and when it answers articlesCount 0 registers the demo
 * users, follows, articles, favorites and comments of json (the demo document) through the
 * gateway, retrying while services are unavailable; then writes demo-data.done (also when the
 * system had data: it is never loaded on a system that has). Returns 0 or TANDEM_E*.
 */
int web_demo_start(const char *gateway, const char *data_dir, const char *json,
                   struct web_demo **out);
/* Stops the loader (a call in flight ends within its deadline) and frees it. NULL: no-op. */
void web_demo_stop(struct web_demo *d);

#endif
