/*
 * Manifest tests (src/cli/manifest.c, manifest_check.c). A scratch directory holds an executable
 * bin/svc, a non-executable bin/noexec and the manifest under test, tandem.yaml. The good
 * manifest must parse to exactly the expected struct; each bad one must fail with exactly the
 * expected "FILE:LINE:COLUMN: problem" message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/manifest.h"
#include "tandem/error.h"

static char dir[64];
static char yaml_path[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    char path[128];
    snprintf(dir, sizeof(dir), "/tmp/tandem-cli-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/bin", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/bin/svc", dir);
    write_file(path, "#!/bin/sh\nexit 0\n", 0755);
    snprintf(path, sizeof(path), "%s/bin/noexec", dir);
    write_file(path, "#!/bin/sh\nexit 0\n", 0644);
    snprintf(yaml_path, sizeof(yaml_path), "%s/tandem.yaml", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char GOOD[] =
    "broker: { listen: 127.0.0.1:9092, data_dir: var/broker, args: [--num-partitions, \"4\"] }\n"
    "gateway: { listen: 127.0.0.1:8080, workers: 2, cache: { size: 64m } }\n"
    "services:\n"
    "  hello:\n"
    "    binary: bin/svc\n"
    "    instances: 2\n"
    "    port: 8101            # first instance's port\n"
    "    env: { TANDEM_LOG_LEVEL: info }\n"
    "    depends_on: [broker]\n"
    "    routes:\n"
    "      - { path: /hello, cache: true }\n"
    "      - { path: /greetings, methods: [POST], rate_limit: 10r/s }\n"
    "  users:\n"
    "    binary: bin/svc\n"
    "    port: 8201\n"
    "    depends_on: [hello, broker]\n"
    "    routes:\n"
    "      - path: /users/\n"
    "        methods: [GET, PUT, DELETE]\n"
    "        rate_limit: 600r/m\n"
    "        burst: 5\n";

static void test_good(void **state)
{
    struct cli_manifest m;
    char err[512];
    write_file(yaml_path, GOOD, 0644);
    int rc = cli_manifest_load(yaml_path, &m, err, sizeof(err));
    if (rc != 0) {
        fail_msg("%s", err);
    }
    char bin[160];
    snprintf(bin, sizeof(bin), "%s/bin/svc", m.dir);
    assert_string_equal(m.path, yaml_path);
    assert_true(m.broker.present);
    assert_string_equal(m.broker.listen.host, "127.0.0.1");
    assert_int_equal(m.broker.listen.port, 9092);
    assert_string_equal(m.broker.data_dir, "var/broker");
    assert_int_equal(m.broker.n_args, 2);
    assert_string_equal(m.broker.args[0], "--num-partitions");
    assert_string_equal(m.broker.args[1], "4");
    assert_null(m.broker.args[2]);
    assert_string_equal(m.gateway.listen.host, "127.0.0.1");
    assert_int_equal(m.gateway.listen.port, 8080);
    assert_string_equal(m.gateway.cache_size, "64m");
    assert_int_equal(m.gateway.workers, 2);
    assert_int_equal(m.n_services, 2);

    const struct cli_service *h = &m.services[0];
    assert_string_equal(h->name, "hello");
    assert_int_equal(h->mark.line, 4);
    assert_string_equal(h->binary, bin);
    assert_int_equal(h->n_args, 0);
    assert_int_equal(h->instances, 2);
    assert_int_equal(h->port, 8101);
    assert_int_equal(h->n_env, 1);
    assert_string_equal(h->env[0].name, "TANDEM_LOG_LEVEL");
    assert_string_equal(h->env[0].value, "info");
    assert_int_equal(h->n_depends_on, 1);
    assert_string_equal(h->depends_on[0], "broker");
    assert_int_equal(h->n_routes, 2);
    assert_string_equal(h->routes[0].path, "/hello");
    assert_int_equal(h->routes[0].methods, 0);
    assert_true(h->routes[0].cache);
    assert_int_equal(h->routes[0].rate, 0);
    assert_string_equal(h->routes[1].path, "/greetings");
    assert_int_equal(h->routes[1].methods, CLI_POST);
    assert_false(h->routes[1].cache);
    assert_int_equal(h->routes[1].rate, 10);
    assert_int_equal(h->routes[1].rate_per, 's');
    assert_int_equal(h->routes[1].burst, 10);
    assert_int_equal(h->routes[1].mark.line, 12);

    const struct cli_service *u = &m.services[1];
    assert_string_equal(u->name, "users");
    assert_int_equal(u->instances, 1);
    assert_int_equal(u->port, 8201);
    assert_int_equal(u->n_env, 0);
    assert_int_equal(u->n_depends_on, 2);
    assert_string_equal(u->depends_on[0], "hello");
    assert_int_equal(u->n_routes, 1);
    assert_string_equal(u->routes[0].path, "/users/");
    assert_int_equal(u->routes[0].methods, CLI_GET | CLI_PUT | CLI_DELETE);
    assert_int_equal(u->routes[0].rate, 600);
    assert_int_equal(u->routes[0].rate_per, 'm');
    assert_int_equal(u->routes[0].burst, 5);
    assert_int_equal(cli_manifest_find(&m, "users"), 1);
    assert_int_equal(cli_manifest_find(&m, "nope"), -1);
    cli_manifest_cleanup(&m);
    assert_null(m.services);
}

/* Defaults: no broker, gateway on 127.0.0.1:8080 with a 64m cache, one instance. */
static void test_defaults(void **state)
{
    struct cli_manifest m;
    char err[512];
    write_file(yaml_path, "services:\n  a: { binary: bin/svc, port: 9000 }\n", 0644);
    assert_int_equal(cli_manifest_load(yaml_path, &m, err, sizeof(err)), 0);
    assert_false(m.broker.present);
    assert_int_equal(m.gateway.listen.port, 8080);
    assert_string_equal(m.gateway.cache_size, "64m");
    assert_int_equal(m.gateway.workers, 0); /* auto */
    assert_int_equal(m.services[0].instances, 1);
    assert_int_equal(m.services[0].n_routes, 0);
    assert_false(m.gateway.expose_internal);
    assert_int_equal(m.gateway.max_conns_per_client, 256);
    assert_int_equal(m.gateway.read_timeout, 60);
    cli_manifest_cleanup(&m);
    write_file(yaml_path,
               "gateway: { expose_internal: true, max_conns_per_client: 9, read_timeout: 5 }\n"
               "services:\n  a: { binary: bin/svc, port: 9000, routes: [ { path: /readyz } ] }\n",
               0644);
    if (cli_manifest_load(yaml_path, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_true(m.gateway.expose_internal);
    assert_int_equal(m.gateway.max_conns_per_client, 9);
    assert_int_equal(m.gateway.read_timeout, 5);
    assert_false(m.gateway.cors.present);
    assert_string_equal(m.services[0].routes[0].path, "/readyz");
    cli_manifest_cleanup(&m);
}

/* Without a broker, TANDEM_BROKERS in env is how services reach an external cluster. */
/* Patterns and exact routes that may go together: a pattern under a prefix route, patterns that
 * differ in a literal segment, an exact pattern beside a longer one, an exact route and a pattern
 * that only takes what is under it. */
static void test_patterns(void **state)
{
    struct cli_manifest m;
    char err[512];
    write_file(yaml_path,
               "services:\n"
               "  a:\n"
               "    binary: bin/svc\n"
               "    port: 9000\n"
               "    routes:\n"
               "      - { path: /api/articles }\n"
               "      - { path: /api/articles/*/comments }\n"
               "      - { path: /api/articles/*/favorite, exact: true }\n"
               "      - { path: /api/profiles/*/follow, exact: true }\n"
               "      - { path: /api/profiles/*, exact: true }\n"
               "      - { path: /api/user, exact: true }\n"
               "      - { path: /, exact: true }\n",
               0644);
    if (cli_manifest_load(yaml_path, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    const struct cli_route *r = m.services[0].routes;
    assert_false(r[0].exact);
    assert_true(r[2].exact);
    assert_true(cli_route_takes(&r[1], "/api/articles/how-to/comments"));
    assert_true(cli_route_takes(&r[1], "/api/articles/how-to/comments/7"));
    assert_false(cli_route_takes(&r[1], "/api/articles/how-to"));
    assert_false(cli_route_takes(&r[1], "/api/articles/a/b/comments"));
    assert_true(cli_route_takes(&r[2], "/api/articles/x/favorite"));
    assert_false(cli_route_takes(&r[2], "/api/articles/x/favorite/1"));
    assert_true(cli_route_takes(&r[0], "/api/articles/x"));
    assert_false(cli_route_takes(&r[5], "/api/user/x"));
    char re[128];
    const char *want[] = {NULL, "^/api/articles/[^/]+/comments(?:/|$)",
                          "^/api/articles/[^/]+/favorite$"};
    for (size_t i = 1; i < 3; i++) {
        assert_int_equal(cli_route_regex(&r[i], re, sizeof(re)), 0);
        assert_string_equal(re, want[i]);
    }
    struct cli_route dot = {.path = "/v1.2/*/x/"};
    assert_int_equal(cli_route_regex(&dot, re, sizeof(re)), 0);
    assert_string_equal(re, "^/v1\\.2/[^/]+/x/");
    assert_int_equal(cli_route_regex(&dot, re, 8), -1);
    cli_manifest_cleanup(&m);
}

static void test_cors(void **state)
{
    struct cli_manifest m;
    char err[512];
    write_file(yaml_path,
               "gateway:\n"
               "  cors: { origins: [\"https://blog.example\", \"http://localhost:3000\"], "
               "headers: [X-Client] }\n"
               "services:\n  a: { binary: bin/svc, port: 9000 }\n",
               0644);
    if (cli_manifest_load(yaml_path, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    const struct cli_cors *c = &m.gateway.cors;
    assert_true(c->present);
    assert_int_equal(c->n_origins, 2);
    assert_string_equal(c->origins[1], "http://localhost:3000");
    assert_int_equal(c->n_headers, 1);
    assert_string_equal(c->headers[0], "X-Client");
    assert_int_equal(c->max_age, 600);
    cli_manifest_cleanup(&m);
}

static void test_external_brokers(void **state)
{
    struct cli_manifest m;
    char err[512];
    write_file(yaml_path,
               "services:\n  a: { binary: bin/svc, port: 9000, env: { TANDEM_BROKERS: k:9092 } }\n",
               0644);
    if (cli_manifest_load(yaml_path, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(m.services[0].env[0].name, "TANDEM_BROKERS");
    assert_string_equal(m.services[0].env[0].value, "k:9092");
    cli_manifest_cleanup(&m);
}

/* broker.external: the bootstrap list, the topics' settings and their defaults; no listen, binary
 * or data_dir (tandem runs no broker), and no port of its own to clash. */
static void test_external_broker(void **state)
{
    struct cli_manifest m;
    char err[512];
    write_file(yaml_path,
               "broker:\n"
               "  external: kafka-1.example:9092,kafka-2:19092,10.0.0.3:9092\n"
               "  replication_factor: 3\n"
               "  partitions: 12\n"
               "  topics: [users, articles.dlq, vehicle-positions]\n"
               "services:\n  a: { binary: bin/svc, port: 9092, depends_on: [broker] }\n",
               0644);
    if (cli_manifest_load(yaml_path, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_true(m.broker.present);
    assert_false(cli_broker_runs(&m.broker));
    assert_string_equal(m.broker.external, "kafka-1.example:9092,kafka-2:19092,10.0.0.3:9092");
    assert_int_equal(m.broker.replication_factor, 3);
    assert_int_equal(m.broker.partitions, 12);
    assert_int_equal(m.broker.n_topics, 3);
    assert_string_equal(m.broker.topics[1], "articles.dlq");
    assert_null(m.broker.topics[3]);
    assert_null(m.broker.listen.host);
    assert_null(m.broker.binary);
    assert_null(m.broker.data_dir);
    cli_manifest_cleanup(&m);

    write_file(yaml_path,
               "broker: { external: k:9092 }\nservices:\n  a: { binary: bin/svc, port: 1 }\n",
               0644);
    assert_int_equal(cli_manifest_load(yaml_path, &m, err, sizeof(err)), 0);
    assert_int_equal(m.broker.replication_factor, 0); /* min(3, the cluster's brokers) at up */
    assert_int_equal(m.broker.partitions, CLI_DEFAULT_PARTITIONS);
    assert_int_equal(m.broker.n_topics, 0);
    cli_manifest_cleanup(&m);

    write_file(yaml_path, "broker: {}\nservices:\n  a: { binary: bin/svc, port: 1 }\n", 0644);
    assert_int_equal(cli_manifest_load(yaml_path, &m, err, sizeof(err)), 0);
    assert_true(cli_broker_runs(&m.broker));
    assert_null(m.broker.external);
    cli_manifest_cleanup(&m);
}

/* jwt: the key paths resolved against the manifest's directory, var/keys/ by default; a service's
 * jwt: key alone turns tokens on; without either, none. */
static void test_jwt(void **state)
{
    struct cli_manifest m;
    char err[512], want[256];
    write_file(yaml_path,
               "jwt: { private_key: keys/a.key, public_key: /etc/blog/a.pub }\n"
               "services:\n"
               "  users: { binary: bin/svc, port: 9000, jwt: sign }\n"
               "  articles: { binary: bin/svc, port: 9010, jwt: verify }\n"
               "  comments: { binary: bin/svc, port: 9020 }\n",
               0644);
    if (cli_manifest_load(yaml_path, &m, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_true(m.jwt.present);
    snprintf(want, sizeof(want), "%s/keys/a.key", m.dir);
    assert_string_equal(m.jwt.private_key, want);
    assert_string_equal(m.jwt.public_key, "/etc/blog/a.pub");
    assert_true(m.services[0].jwt_sign);
    assert_false(m.services[1].jwt_sign);
    assert_false(m.services[2].jwt_sign);
    cli_manifest_cleanup(&m);

    write_file(yaml_path, "services:\n  users: { binary: bin/svc, port: 9000, jwt: sign }\n", 0644);
    assert_int_equal(cli_manifest_load(yaml_path, &m, err, sizeof(err)), 0);
    assert_true(m.jwt.present);
    snprintf(want, sizeof(want), "%s/var/keys/jwt.key", m.dir);
    assert_string_equal(m.jwt.private_key, want);
    snprintf(want, sizeof(want), "%s/var/keys/jwt.pub", m.dir);
    assert_string_equal(m.jwt.public_key, want);
    cli_manifest_cleanup(&m);

    write_file(yaml_path, "jwt: {}\nservices:\n  a: { binary: bin/svc, port: 9000 }\n", 0644);
    assert_int_equal(cli_manifest_load(yaml_path, &m, err, sizeof(err)), 0);
    assert_true(m.jwt.present);
    assert_string_equal(m.jwt.public_key, want);
    assert_false(m.services[0].jwt_sign);
    cli_manifest_cleanup(&m);

    write_file(yaml_path, "services:\n  a: { binary: bin/svc, port: 9000 }\n", 0644);
    assert_int_equal(cli_manifest_load(yaml_path, &m, err, sizeof(err)), 0);
    assert_false(m.jwt.present);
    assert_null(m.jwt.private_key);
    assert_null(m.jwt.public_key);
    cli_manifest_cleanup(&m);
}

#define SVC "services:\n  a:\n    binary: bin/svc\n    port: 9000\n"

static const struct {
    const char *yaml, *want; /* want follows "<path>:" */
} bad[] = {
    {"", " empty manifest (services: is required)"},
    {"services: [\n", "2:1: YAML: did not find expected node content while parsing a flow node"},
    {"- 1\n", "1:1: manifest: expected a mapping, found a sequence"},
    {"gateway: {}\n", "1:1: manifest: missing required key 'services'"},
    {"services: {}\n", "1:11: services: at least one service is required"},
    {SVC "colour: red\n", "5:1: manifest: unknown key 'colour'"},
    {SVC "    image: foo\n", "5:5: service 'a': unknown key 'image'"},
    {SVC "    port: 9001\n", "5:5: service 'a': duplicate key 'port' (first at line 4)"},
    {"services:\n  a:\n    port: 9000\n", "2:3: service 'a': missing required key 'binary'"},
    {"services:\n  a: { binary: bin/svc }\n", "2:3: service 'a': missing required key 'port'"},
    {"services:\n  A: { binary: bin/svc, port: 1 }\n",
     "2:3: services: 'A' is not a service name ([a-z0-9][a-z0-9_-]*, at most 48)"},
    {"services:\n  broker: { binary: bin/svc, port: 1 }\n", "2:3: services: 'broker' is reserved"},
    {"services:\n  a: { binary: bin/nope, port: 1 }\n",
     "2:16: binary: 'bin/nope' not found (looked for {DIR}/bin/nope)"},
    {"services:\n  a: { binary: bin/noexec, port: 1 }\n",
     "2:16: binary: 'bin/noexec' is not executable"},
    {"services:\n  a: { binary: [bin/svc], port: 1 }\n",
     "2:16: binary: expected a string, found a sequence"},
    {"services:\n  a: { binary: bin/svc, port: \"80\" }\n",
     "2:31: port: expected an integer, found a string"},
    {"services:\n  a: { binary: bin/svc, port: 70000 }\n",
     "2:31: port: 70000 is out of range 1..65535"},
    {"services:\n  a: { binary: bin/svc, port: 9000, instances: 65 }\n",
     "2:48: instances: 65 is out of range 0..64"},
    {"services:\n  a: { binary: bin/svc, port: 65535, instances: 2 }\n",
     "2:31: port: 2 instances from 65535 run past 65535"},
    {SVC "    env: { 1X: y }\n", "5:12: env: '1X' is not a variable name"},
    {SVC "    env: { X: [1] }\n", "5:15: env: expected a string, found a sequence"},
    {SVC "    env: { A: b, TANDEM_LISTEN: \"127.0.0.1:1\" }\n",
     "5:18: env: TANDEM_LISTEN is set by tandem for each instance (127.0.0.1:port + i) and cannot "
     "be overridden"},
    {SVC "    env:\n      TANDEM_DATA_DIR: /srv\n",
     "6:7: env: TANDEM_DATA_DIR is set by tandem for each service (var/services/NAME, shared by "
     "its instances) and cannot be overridden"},
    {SVC "    env: { TANDEM_INSTANCE: \"3\" }\n",
     "5:12: env: TANDEM_INSTANCE is set by tandem for each instance (its number i) and cannot be "
     "overridden"},
    {SVC "    env: { TANDEM_INSTANCE_DIR: /tmp }\n",
     "5:12: env: TANDEM_INSTANCE_DIR is set by tandem for each instance (var/services/NAME/i) and "
     "cannot be overridden"},
    {SVC "    env: { TANDEM_JWT_PUBLIC_KEY: k.pub }\n",
     "5:12: env: TANDEM_JWT_PUBLIC_KEY is set by tandem from the manifest's jwt: section and "
     "cannot be overridden"},
    {SVC "    jwt: sign\n    env: { TANDEM_JWT_PRIVATE_KEY: k.key }\n",
     "6:12: env: TANDEM_JWT_PRIVATE_KEY is set by tandem from the manifest's jwt: section (for "
     "services with jwt: sign) and cannot be overridden"},
    {SVC "    jwt: issue\n", "5:10: jwt: expected sign or verify, found 'issue'"},
    {SVC "    jwt: [sign]\n", "5:10: jwt: expected sign or verify, found a sequence"},
    {"jwt: var/keys\n" SVC, "1:6: jwt: expected a mapping, found a scalar"},
    {"jwt: { private: k }\n" SVC, "1:8: jwt: unknown key 'private'"},
    {"jwt: { private_key: \"\" }\n" SVC, "1:21: jwt.private_key: must not be empty"},
    {"jwt: { private_key: k, public_key: k }\n" SVC,
     "1:36: jwt: private_key and public_key are one file ({DIR}/k)"},
    {"jwt: { public_key: var/keys/jwt.key }\n" SVC,
     "1:20: jwt: private_key and public_key are one file ({DIR}/var/keys/jwt.key)"},
    {"broker: {}\n" SVC "    env: { TANDEM_BROKERS: \"kafka:9092\" }\n",
     "6:12: env: TANDEM_BROKERS is set by tandem to the manifest's broker; name another cluster "
     "in broker.external"},
    {"broker: { external: \"k1:9092, k2:9092\" }\n" SVC,
     "1:21: broker.external: expected HOST:PORT[,HOST:PORT...] (ports 1..65535, no spaces), "
     "found ' k2:9092'"},
    {"broker: { external: \"k1:9092,,k2:9092\" }\n" SVC,
     "1:21: broker.external: expected HOST:PORT[,HOST:PORT...] (ports 1..65535, no spaces), "
     "found ''"},
    {"broker: { external: k1:65536 }\n" SVC,
     "1:21: broker.external: expected HOST:PORT[,HOST:PORT...] (ports 1..65535, no spaces), "
     "found 'k1:65536'"},
    {"broker: { external: \"PLAINTEXT://k1:9092\" }\n" SVC,
     "1:21: broker.external: expected HOST:PORT[,HOST:PORT...] (ports 1..65535, no spaces), "
     "found 'PLAINTEXT://k1:9092'"},
    {"broker: { external: k1 }\n" SVC,
     "1:21: broker.external: expected HOST:PORT[,HOST:PORT...] (ports 1..65535, no spaces), "
     "found 'k1'"},
    {"broker: { external: \"\" }\n" SVC, "1:21: broker.external: must not be empty"},
    {"broker: { external: [k1:9092] }\n" SVC,
     "1:21: broker.external: expected a string, found a sequence"},
    {"broker: { external: k:1, listen: 127.0.0.1:9092 }\n" SVC,
     "1:34: broker.listen: configures tandem-broker, which does not run with broker.external"},
    {"broker: { external: k:1, replication_factor: 0 }\n" SVC,
     "1:46: broker.replication_factor: 0 is out of range 1..32767"},
    {"broker: { external: k:1, partitions: \"4\" }\n" SVC,
     "1:38: broker.partitions: expected an integer, found a string"},
    {"broker: { external: k:1, topics: [users, a/b] }\n" SVC,
     "1:42: broker.topics: 'a/b' is not a topic name (1..249 of [A-Za-z0-9._-], not . or ..)"},
    {"broker: { external: k:1, topics: [users, users] }\n" SVC,
     "1:42: broker.topics: 'users' is listed twice"},
    {"broker: { replication_factor: 3 }\n" SVC,
     "1:31: broker.replication_factor: only with broker.external (tandem-broker is one node, and "
     "creates topics as its args say)"},
    {"broker: { topics: [users] }\n" SVC,
     "1:19: broker.topics: only with broker.external (tandem-broker is one node, and creates "
     "topics as its args say)"},
    {"broker: { external: k:1 }\n" SVC "    env: { TANDEM_BROKERS: \"kafka:9092\" }\n",
     "6:12: env: TANDEM_BROKERS is set by tandem to the manifest's broker; name another cluster "
     "in broker.external"},
    {SVC "    routes: [ { path: hello } ]\n",
     "5:23: path: 'hello' must be / or /-separated segments of A-Z a-z 0-9 _ . ~ - (not . or ..) "
     "or a lone *"},
    {SVC "    routes: [ { path: \"/a;b\" } ]\n",
     "5:23: path: '/a;b' must be / or /-separated segments of A-Z a-z 0-9 _ . ~ - (not . or ..) or "
     "a lone *"},
    {SVC "    routes: [ { path: /a/b*/c } ]\n",
     "5:23: path: '/a/b*/c' must be / or /-separated segments of A-Z a-z 0-9 _ . ~ - (not . or ..) "
     "or a lone *"},
    {SVC "    routes: [ { path: /a//c } ]\n",
     "5:23: path: '/a//c' must be / or /-separated segments of A-Z a-z 0-9 _ . ~ - (not . or ..) "
     "or a lone *"},
    {SVC "    routes: [ { path: /a/../c } ]\n",
     "5:23: path: '/a/../c' must be / or /-separated segments of A-Z a-z 0-9 _ . ~ - (not . or ..) "
     "or a lone *"},
    {SVC "    routes: [ { path: /a, exact: 1 } ]\n", "5:34: exact: expected true or false"},
    {SVC "    routes: [ { path: /a/*/b }, { path: /a/x/* } ]\n",
     "5:41: routes: '/a/x/*' and '/a/*/b' both take some paths (already routed to service 'a' at "
     "line 5)"},
    {SVC "    routes: [ { path: /a/*/b }, { path: /a/*/b/c } ]\n",
     "5:41: routes: '/a/*/b/c' and '/a/*/b' both take some paths (already routed to service 'a' "
     "at line 5)"},
    {SVC "    routes: [ { path: /a/x/b/c }, { path: /a/*/b } ]\n",
     "5:43: routes: '/a/*/b' takes '/a/x/b/c', so that route would never get it (already routed "
     "to service 'a' at line 5)"},
    {SVC "    routes: [ { path: /a/*/b, exact: true }, { path: /a/x/b } ]\n",
     "5:54: routes: '/a/*/b' takes '/a/x/b', so that route would never get it (already routed to "
     "service 'a' at line 5)"},
    {SVC "    routes: [ { path: /metrics } ]\n",
     "5:23: path: '/metrics' is every instance's own endpoint, never routed by the gateway unless "
     "gateway.expose_internal is true"},
    {"gateway: { expose_internal: yes }\n" SVC,
     "1:29: gateway.expose_internal: expected true or false"},
    {"gateway: { cors: { max_age: 5 } }\n" SVC,
     "1:18: gateway.cors: missing required key 'origins'"},
    {"gateway: { cors: { origins: [] } }\n" SVC, "1:29: gateway.cors.origins: must not be empty"},
    {"gateway: { cors: { origins: [\"*\", \"https://a.b\"] } }\n" SVC,
     "1:30: gateway.cors.origins: '*' must be the only origin"},
    {"gateway: { cors: { origins: [\"https://a.b/\"] } }\n" SVC,
     "1:30: gateway.cors.origins: 'https://a.b/' is not an origin (http or https://host in "
     "lowercase, an optional :port, no path) nor '*'"},
    {"gateway: { cors: { origins: [\"https://A.b\"] } }\n" SVC,
     "1:30: gateway.cors.origins: 'https://A.b' is not an origin (http or https://host in "
     "lowercase, an optional :port, no path) nor '*'"},
    {"gateway: { cors: { origins: [\"http://a:0\"] } }\n" SVC,
     "1:30: gateway.cors.origins: 'http://a:0' is not an origin (http or https://host in "
     "lowercase, an optional :port, no path) nor '*'"},
    {"gateway: { cors: { origins: [\"*\"], headers: [\"X Y\"] } }\n" SVC,
     "1:46: gateway.cors.headers: 'X Y' is not a header name"},
    {"gateway: { cors: { origins: [\"*\"], max_age: 99999 } }\n" SVC,
     "1:45: gateway.cors.max_age: 99999 is out of range 0..86400"},
    {"gateway: { max_conns_per_client: 0 }\n" SVC,
     "1:34: gateway.max_conns_per_client: 0 is out of range 1..1000000"},
    {"gateway: { read_timeout: 0 }\n" SVC,
     "1:26: gateway.read_timeout: 0 is out of range 1..86400"},
    {SVC "    routes: [ { methods: [GET] } ]\n", "5:15: route: missing required key 'path'"},
    {SVC "    routes: [ { path: /a, methods: [FETCH] } ]\n",
     "5:37: methods: unknown method 'FETCH'"},
    {SVC "    routes: [ { path: /a, cache: yes } ]\n", "5:34: cache: expected true or false"},
    {SVC "    routes: [ { path: /a, rate_limit: 10/s } ]\n",
     "5:39: rate_limit: expected N r/s or N r/m like 10r/s, found '10/s'"},
    {SVC "    routes: [ { path: /a, rate_limit: 0r/s } ]\n",
     "5:39: rate_limit: expected N r/s or N r/m like 10r/s, found '0r/s'"},
    {SVC "    routes: [ { path: /a, burst: 3 } ]\n",
     "5:34: burst: only meaningful with rate_limit"},
    {SVC "    routes: [ { path: /a }, { path: /a/ } ]\n",
     "5:37: routes: duplicate route '/a/' (already routed to service 'a' at line 5)"},
    {SVC "    routes: [ { path: /a } ]\n  b:\n    binary: bin/svc\n    port: 9100\n"
         "    routes: [ { path: /a } ]\n",
     "9:23: routes: duplicate route '/a' (already routed to service 'a' at line 5)"},
    {SVC "  b: { binary: bin/svc, port: 8999, instances: 3 }\n",
     "5:31: port 9000 of service 'b' (ports 8999-9001) clashes with service 'a'"},
    {"gateway: { listen: 127.0.0.1:9000 }\n" SVC,
     "5:11: port 9000 of service 'a' (ports 9000-9000) clashes with the gateway"},
    {"broker: { listen: 127.0.0.1:8080 }\n" SVC,
     "1:1: port 8080 of the gateway (ports 8080-8080) clashes with the broker"},
    {"gateway: { listen: 8080 }\n" SVC,
     "1:20: gateway.listen: expected HOST:PORT (port 1..65535), found '8080'"},
    {"gateway: { workers: 0 }\n" SVC, "1:21: gateway.workers: 0 is out of range 1..32"},
    {"gateway: { workers: many }\n" SVC,
     "1:21: gateway.workers: expected an integer, found a string"},
    {"gateway: { cache: { size: lots } }\n" SVC,
     "1:27: gateway.cache.size: expected a size like 64m, found 'lots'"},
    {SVC "    depends_on: [broker]\n",
     "5:17: depends_on: service 'a' depends on the broker, but the manifest has no broker"},
    {SVC "    depends_on: [z]\n", "5:17: depends_on: service 'a' depends on unknown service 'z'"},
    {"services:\n"
     "  a: { binary: bin/svc, port: 9000, depends_on: [b] }\n"
     "  b: { binary: bin/svc, port: 9001, depends_on: [c] }\n"
     "  c: { binary: bin/svc, port: 9002, depends_on: [a] }\n",
     "2:49: depends_on: dependency cycle: a -> b -> c -> a"},
    {"services:\n  a: { binary: bin/svc, port: 9000, depends_on: [a] }\n",
     "2:49: depends_on: dependency cycle: a -> a"},
};

static void test_bad(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cli_manifest m;
        char err[512], want[512], tmpl[512];
        write_file(yaml_path, bad[i].yaml, 0644);
        int rc = cli_manifest_load(yaml_path, &m, err, sizeof(err));
        /* {DIR} in a template is the scratch directory */
        const char *d = strstr(bad[i].want, "{DIR}");
        if (d != NULL) {
            snprintf(tmpl, sizeof(tmpl), "%.*s%s%s", (int)(d - bad[i].want), bad[i].want, dir,
                     d + 5);
        } else {
            snprintf(tmpl, sizeof(tmpl), "%s", bad[i].want);
        }
        snprintf(want, sizeof(want), "%s:%s", yaml_path, tmpl);
        if (rc != TANDEM_EINVAL || strcmp(err, want) != 0) {
            print_error("case %zu: rc %d\n got: %s\nwant: %s\n", i, rc, err, want);
            failures++;
        }
        assert_null(m.services);
    }
    assert_int_equal(failures, 0);
}

static void test_missing_file(void **state)
{
    struct cli_manifest m;
    char err[256];
    assert_int_equal(cli_manifest_load("/nonexistent/tandem.yaml", &m, err, sizeof(err)),
                     TANDEM_EINVAL);
    assert_string_equal(err, "/nonexistent/tandem.yaml: cannot open: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_external_brokers),
        cmocka_unit_test(test_external_broker),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
