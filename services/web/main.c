/*
 * tandem-web: the blog's pages (web.h says what it serves and how).
 *
 *   GET/HEAD /{path...}     the app's files, index.html for its pages (files.c)
 *
 * Settings besides the runtime's (docs/libtandem.md; docs/web.md):
 *   --web-root DIR      the built app (web/build.mjs's output); default <dir of this binary>/
 *                       ../share/tandem/web, which is where the build and `make install` put it
 *   --demo-data on|off  fill an empty system with the demo blog, once (demo.c); off by default
 *   --gateway URL       where the demo loader finds the public API (http://127.0.0.1:8080)
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web.h"

extern const char DEMO_JSON[];

static struct web_files files;
static struct web_demo *demo;

static void demo_stop(void *arg)
{
    web_demo_stop(demo);
    demo = NULL;
}

/* <directory of this executable>/../share/tandem/web into buf. */
static int default_root(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return TANDEM_EIO;
    }
    exe[n] = '\0';
    int m = snprintf(buf, cap, "%s/../share/tandem/web", dirname(exe));
    return m > 0 && (size_t)m < cap ? 0 : TANDEM_ETOOLARGE;
}

int main(int argc, char **argv)
{
    struct tandem_service *svc = NULL;
    if (tandem_service_new("web", argc, argv, &svc) != 0) {
        return 2; /* logged */
    }
    int rc = tandem_service_option(svc, "web-root", NULL,
                                   "the built app's directory (default: ../share/tandem/web "
                                   "beside this binary's directory)");
    if (rc == 0) {
        rc = tandem_service_option(svc, "demo-data", "off",
                                   "on: fill an empty system with the demo blog, once");
    }
    if (rc == 0) {
        rc = tandem_service_option(svc, "gateway", "http://127.0.0.1:8080",
                                   "the gateway's URL, where the demo loader calls the API");
    }
    const char *demo_opt = tandem_service_config(svc, "demo-data");
    if (rc == 0 && strcmp(demo_opt, "on") != 0 && strcmp(demo_opt, "off") != 0) {
        tandem_log_error(NULL, "--demo-data must be on or off", NULL);
        rc = TANDEM_EINVAL;
    }
    char root[PATH_MAX];
    const char *dir = tandem_service_config(svc, "web-root");
    if (rc == 0 && dir == NULL) {
        rc = default_root(root, sizeof(root));
        dir = root;
    }
    if (rc == 0) {
        rc = tandem_route(svc, "GET", "/{path...}", web_serve, &files);
    }
    if (rc == 0 && argc > 1 && strcmp(argv[1], "--help") == 0) {
        rc = tandem_service_run(svc); /* prints the options */
        tandem_service_free(svc);
        return rc == 0 ? 0 : 1;
    }
    if (rc == 0) {
        rc = web_files_load(dir, &files);
    }
    if (rc == 0 && strcmp(demo_opt, "on") == 0) {
        rc = web_demo_start(tandem_service_config(svc, "gateway"),
                            tandem_service_config(svc, "data-dir"), DEMO_JSON, &demo);
        if (rc == 0) {
            tandem_service_on_stop(svc, demo_stop, NULL);
        }
    }
    if (rc == 0) {
        rc = tandem_service_run(svc); /* until SIGTERM */
    } else {
        web_demo_stop(demo);
    }
    tandem_service_free(svc);
    web_files_cleanup(&files);
    return rc == 0 ? 0 : 1;
}
