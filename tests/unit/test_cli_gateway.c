/*
 * Gateway tests (src/cli/gateway.c): the nginx.conf generated for a manifest must equal the
 * golden file tests/vectors/cli/gateway.conf byte for byte, and Debian's nginx must accept it
 * (`nginx -t -p <prefix> -c <file>`), as well as the configs generated after scaling a service
 * to zero and to three instances. Without nginx the nginx checks skip and the run exits
 * TEST_SKIP (test_skip.h): CTest reports it skipped, not passed.
 *
 * Regenerate the golden file after an intended change with TANDEM_GOLDEN_UPDATE=1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/gateway.h"
#include "cli/manifest.h"
#include "test_skip.h"

#define GOLDEN TANDEM_VECTORS_DIR "/cli/gateway.conf"

static char dir[64];

static const char MANIFEST[] =
    "broker: { listen: 127.0.0.1:9092, data_dir: var/broker, args: [--num-partitions, \"4\"] }\n"
    "gateway: { listen: 127.0.0.1:8080, cache: { size: 64m } }\n"
    "services:\n"
    "  hello:\n"
    "    binary: bin/svc\n"
    "    instances: 2\n"
    "    port: 8101\n"
    "    env: { TANDEM_LOG_LEVEL: info }\n"
    "    depends_on: [broker]\n"
    "    routes:\n"
    "      - { path: /hello, cache: true }\n"
    "      - { path: /greetings, methods: [POST], rate_limit: 10r/s }\n"
    "  users:\n"
    "    binary: bin/svc\n"
    "    port: 8201\n"
    "    depends_on: [hello]\n"
    "    routes:\n"
    "      - { path: /users/, methods: [GET, PUT, DELETE], rate_limit: 600r/m, burst: 5 }\n"
    "      - { path: /users/*/follow, methods: [POST, DELETE] }\n"
    "      - { path: /user, exact: true }\n";

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    char path[128];
    static struct cli_manifest m;
    char err[512];
    snprintf(dir, sizeof(dir), "/tmp/tandem-gw-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/bin", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/var", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/var/gateway", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/bin/svc", dir);
    write_file(path, "#!/bin/sh\n", 10, 0755);
    snprintf(path, sizeof(path), "%s/tandem.yaml", dir);
    write_file(path, MANIFEST, strlen(MANIFEST), 0644);
    if (cli_manifest_load(path, &m, err, sizeof(err)) != 0) {
        print_error("%s\n", err);
        return -1;
    }
    *state = &m;
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];
    cli_manifest_cleanup(*state);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_golden(void **state)
{
    char *conf = NULL;
    assert_int_equal(cli_gateway_render(*state, NULL, &conf), 0);
    if (getenv("TANDEM_GOLDEN_UPDATE") != NULL) {
        write_file(GOLDEN, conf, strlen(conf), 0644);
    }
    size_t len = 0;
    char *want = read_all(GOLDEN, &len);
    assert_non_null(want);
    assert_string_equal(conf, want);
    free(want);
    free(conf);
}

/* The nginx checks skipped for want of /usr/sbin/nginx: main() then reports the run as skipped
 * (TEST_SKIP), not passed. */
static int skipped;

/* 0 when `nginx -t -p dir -c file` accepts the config, 1 when it refuses. Without nginx it frees
 * owned (the caller's copy of conf, or NULL), counts the skip and skips the test: it does not
 * return. */
static int nginx_check(const char *conf, char *owned)
{
    const char *nginx = access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : NULL;
    if (nginx == NULL) {
        free(owned);
        skipped++;
        skip();
    }
    char file[128], errlog[128];
    snprintf(file, sizeof(file), "%s/var/gateway/nginx.conf", dir);
    snprintf(errlog, sizeof(errlog), "%s/var/gateway/error.log", dir);
    write_file(file, conf, strlen(conf), 0644);
    pid_t pid = fork();
    if (pid == 0) {
        execl(nginx, "nginx", "-q", "-t", "-p", dir, "-e", errlog, "-c", file, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static void test_nginx_accepts(void **state)
{
    const struct cli_manifest *m = *state;
    static const int none[1] = {0}, three[] = {8105, 8103, 8104}, one[] = {8201};
    const struct cli_instances scaled_down[] = {{none, 0}, {one, 1}};
    const struct cli_instances scaled_up[] = {{three, 3}, {one, 1}};
    const struct cli_instances *cases[] = {NULL, scaled_down, scaled_up};
    for (size_t i = 0; i < 3; i++) {
        char *conf = NULL;
        assert_int_equal(cli_gateway_render(m, cases[i], &conf), 0);
        if (nginx_check(conf, conf) != 0) {
            fail_msg("nginx -t refused config %zu:\n%s", i, conf);
        }
        if (i == 1) {
            assert_non_null(strstr(conf, "server 127.0.0.1:8101 down;"));
        }
        if (i == 2) {
            assert_non_null(strstr(conf, "server 127.0.0.1:8105 max_fails=1 fail_timeout=2s;\n"
                                         "        server 127.0.0.1:8103"));
        }
        free(conf);
    }
}

/* gateway.workers: a number is written as is, 0 (the default) as "auto"; nginx accepts both. */
static void test_workers(void **state)
{
    struct cli_manifest m = *(const struct cli_manifest *)*state; /* shallow: only read */
    const int workers[] = {0, 3};
    const char *want[] = {"\nworker_processes auto;\n", "\nworker_processes 3;\n"};
    for (size_t i = 0; i < 2; i++) {
        m.gateway.workers = workers[i];
        char *conf = NULL;
        assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
        assert_non_null(strstr(conf, want[i]));
        assert_int_equal(nginx_check(conf, conf), 0);
        free(conf);
    }
}

/* What the supervisor sets (never the YAML): the workers' user when it runs as root, and their
 * open-file limit, which sizes worker_connections (half of it: a proxied request takes two). */
static void test_user_and_files(void **state)
{
    struct cli_manifest m = *(const struct cli_manifest *)*state; /* shallow: only read */
    m.gateway.user = "nobody nogroup";
    m.gateway.nofile = 20000;
    char *conf = NULL;
    assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
    assert_non_null(strstr(conf, "\nuser nobody nogroup;\ndaemon off;\n"));
    assert_non_null(strstr(conf, "\nworker_rlimit_nofile 20000;\n"));
    assert_non_null(strstr(conf, "\n    worker_connections 10000;\n"));
    assert_int_equal(nginx_check(conf, conf), 0);
    free(conf);
    m.gateway.nofile = 300; /* a tiny limit still leaves nginx room to work */
    assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
    assert_non_null(strstr(conf, "\n    worker_connections 256;\n"));
    free(conf);
}

/* gateway.expose_internal: the exact locations that hide /metrics, /readyz and /healthz are gone,
 * and a route may then name them. */
static void test_expose_internal(void **state)
{
    struct cli_manifest m = *(const struct cli_manifest *)*state; /* shallow: only read */
    char *conf = NULL;
    assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
    assert_non_null(strstr(conf, "location = /metrics {\n"));
    free(conf);
    m.gateway.expose_internal = true;
    assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
    assert_null(strstr(conf, "location = /metrics"));
    assert_null(strstr(conf, "location = /healthz"));
    free(conf);
}

/* gateway.cors: the origin map, the headers on every answer (a route's, nginx's own errors), the
 * services' own CORS headers hidden, a preflight answered with the route's methods; "*" without
 * a map. nginx accepts both. */
static void test_cors(void **state)
{
    struct cli_manifest m = *(const struct cli_manifest *)*state; /* shallow: only read */
    char *origins[] = {"https://blog.example", "http://localhost:3000", NULL};
    char *headers[] = {"X-Client", NULL};
    m.gateway.cors = (struct cli_cors){true, origins, 2, headers, 1, 60};
    char *conf = NULL;
    assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
    assert_non_null(strstr(conf, "    map $http_origin $tandem_cors_origin {\n"
                                 "        \"https://blog.example\" $http_origin;\n"
                                 "        \"http://localhost:3000\" $http_origin;\n"
                                 "        default \"\";\n"));
    assert_non_null(strstr(conf,
                           "        location = /greetings {\n"
                           "            if ($tandem_preflight) {\n"
                           "                add_header X-Request-Id $tandem_request_id always;\n"
                           "                add_header Access-Control-Allow-Origin "
                           "$tandem_cors_origin always;\n"
                           "                add_header Vary Origin always;\n"));
    assert_non_null(strstr(conf, "add_header Access-Control-Allow-Methods \"POST\" always;\n"
                                 "                add_header Access-Control-Allow-Headers "
                                 "\"Authorization, Content-Type, If-Match, If-None-Match, "
                                 "X-Request-Id, traceparent, tracestate, X-Client\" always;\n"
                                 "                add_header Access-Control-Max-Age 60 always;\n"
                                 "                return 204;\n"
                                 "            }\n"
                                 "            if ($request_method !~ ^(POST)$) {\n"));
    assert_non_null(strstr(conf, "            proxy_hide_header Access-Control-Allow-Origin;\n"));
    const char *acao = "add_header Access-Control-Allow-Origin $tandem_cors_origin always;";
    const char *in[] = {"location @tandem_502 {", "location = /metrics {", "location / {"};
    for (size_t i = 0; i < 3; i++) {
        const char *loc = strstr(conf, in[i]);
        assert_non_null(loc);
        const char *end = strstr(loc, "\n        }\n");
        const char *h = strstr(loc, acao);
        assert_true(h != NULL && h < end);
    }
    assert_int_equal(nginx_check(conf, conf), 0);
    free(conf);
    char *any[] = {"*", NULL};
    m.gateway.cors = (struct cli_cors){true, any, 1, NULL, 0, 600};
    assert_int_equal(cli_gateway_render(&m, NULL, &conf), 0);
    assert_null(strstr(conf, "$tandem_cors_origin"));
    assert_non_null(strstr(conf, "add_header Access-Control-Allow-Origin * always;\n"));
    assert_int_equal(nginx_check(conf, conf), 0);
    free(conf);
}

/* The check itself must be able to fail: nginx refuses an unknown directive. */
static void test_nginx_refuses(void **state)
{
    assert_int_equal(nginx_check("events {}\nhttp { no_such_directive on; }\n", NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),         cmocka_unit_test(test_workers),
        cmocka_unit_test(test_user_and_files), cmocka_unit_test(test_expose_internal),
        cmocka_unit_test(test_cors),           cmocka_unit_test(test_nginx_accepts),
        cmocka_unit_test(test_nginx_refuses),
        /* one per line */
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    if (failed == 0 && skipped > 0) {
        printf("SKIP: %d nginx check(s): /usr/sbin/nginx not found (apt-get install nginx)\n",
               skipped);
        return TEST_SKIP;
    }
    return failed;
}
