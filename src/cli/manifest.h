/*
 * The tandem manifest: what `tandem up` runs, parsed from YAML (tandem.yaml) into plain structs.
 *
 * Model. A manifest names one optional broker, one gateway (nginx) and one or more services. A
 * service is a binary started `instances` times; instance i listens on `port + i`. Each service
 * lists the gateway routes (path prefixes) that lead to it. The whole format, key by key, is in
 * docs/tandem-cli.md.
 *
 * This layer is pure apart from reading the file and checking that binaries are executable: no
 * process is started, nothing is written. cli_manifest_load() either fills a manifest that passed
 * every check or fails with one message of the form "FILE:LINE:COLUMN: problem" (LINE and COLUMN
 * from 1) naming the first problem found.
 *
 * Invariants of a loaded manifest (the gateway generator and the supervisor rely on them):
 *   - service names match [a-z0-9][a-z0-9_-]* and are unique; "broker" is not a service name;
 *   - every depends_on names a service or "broker" (only when a broker is configured), and the
 *     dependency graph has no cycle;
 *   - the ports [port, port + instances) of all services, the broker's (when tandem runs it) and
 *     the gateway's port are pairwise distinct and within 1..65535;
 *   - an external broker's bootstrap list is HOST:PORT[,HOST:PORT...] and its topic names are
 *     valid Kafka names, unique;
 *   - route paths start with '/', are segments of [A-Za-z0-9_.~-] or a lone '*' (so they can be
 *     written into nginx.conf verbatim), are unique across the manifest, and no two routes let
 *     nginx choose a less specific one (route.c);
 *   - every binary path is absolute (resolved against the manifest's directory) and executable;
 *   - jwt.present is true when the manifest has a jwt: section or a service has a jwt: key, and
 *     then both key paths are absolute and differ; no service's env names a variable the
 *     supervisor sets (TANDEM_LISTEN, TANDEM_DATA_DIR, TANDEM_INSTANCE, TANDEM_INSTANCE_DIR,
 *     TANDEM_JWT_PUBLIC_KEY, TANDEM_JWT_PRIVATE_KEY, TANDEM_CONTROL_SOCKET,
 *     TANDEM_CONSOLE_SECRET_FILE; TANDEM_BROKERS with a broker).
 */
#ifndef TANDEM_CLI_MANIFEST_H
#define TANDEM_CLI_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

/* HTTP methods a route accepts, as a bit set. 0 in a route means "every method". */
enum cli_method {
    CLI_GET = 1 << 0,
    CLI_HEAD = 1 << 1,
    CLI_POST = 1 << 2,
    CLI_PUT = 1 << 3,
    CLI_DELETE = 1 << 4,
    CLI_PATCH = 1 << 5,
    CLI_OPTIONS = 1 << 6,
};

#define CLI_MAX_INSTANCES 64
/* nginx worker processes of the gateway; the supervisor lists nginx's children (workers, cache
 * manager and loader) in arrays of 64 when it reloads. */
#define CLI_MAX_GATEWAY_WORKERS 32

/* Where the parsed value came from, for messages emitted after parsing (1-based). */
struct cli_mark {
    int line, column;
};

struct cli_listen {
    char *host; /* "127.0.0.1" */
    int port;
    struct cli_mark mark;
};

/* "KEY: value" in a service's env, in manifest order. */
struct cli_env {
    char *name, *value;
};

struct cli_route {
    char *path;       /* "/hello": matches /hello and /hello/...; segments may be "*" (route.c) */
    bool exact;       /* only the path itself, not what is under it */
    unsigned methods; /* enum cli_method bits; 0 = all */
    bool cache;       /* cache GET/HEAD answers as the upstream's Cache-Control allows */
    unsigned rate;    /* requests per rate_per; 0 = no limit */
    char rate_per;    /* 's' or 'm' */
    unsigned burst;   /* requests allowed above the rate before 429; defaults to rate */
    struct cli_mark mark;
};

struct cli_service {
    char *name;
    char *binary; /* absolute path */
    char **args;  /* extra arguments, NULL-terminated list of n_args */
    size_t n_args;
    int instances; /* 0..CLI_MAX_INSTANCES */
    int port;      /* first instance's port */
    struct cli_env *env;
    size_t n_env;
    char **depends_on; /* service names or "broker" */
    size_t n_depends_on;
    struct cli_route *routes;
    size_t n_routes;
    bool jwt_sign;             /* jwt: sign: gets the private key (TANDEM_JWT_PRIVATE_KEY) */
    bool control;              /* control: true: may drive the supervisor (the console): gets
                                  TANDEM_CONTROL_SOCKET and TANDEM_CONSOLE_SECRET_FILE */
    struct cli_mark mark;      /* of the service's name */
    struct cli_mark port_mark; /* of its port value */
    struct cli_mark deps_mark; /* of its depends_on value */
};

#define CLI_MAX_BOOTSTRAP      1000 /* bytes of broker.external */
#define CLI_DEFAULT_PARTITIONS 4

/* broker: either tandem-broker, which `up` runs (listen, binary, data_dir, args), or an external
 * Kafka cluster (external, replication_factor, partitions, topics), which `up` only points the
 * services at, after creating the topics (docs/scale-out.md). */
struct cli_broker {
    bool present;           /* a broker: section, either kind: services get TANDEM_BROKERS */
    char *external;         /* the cluster's bootstrap list, "h1:9092,h2:9092" (HOST:PORT, comma
                               separated, at most CLI_MAX_BOOTSTRAP bytes); NULL: tandem-broker,
                               and the five fields below are unset */
    int replication_factor; /* of the topics `up` creates; 0: min(3, the cluster's brokers) */
    int partitions;         /* of the topics `up` creates; default CLI_DEFAULT_PARTITIONS */
    char **topics;          /* created by `up` when missing; NULL-terminated, may be empty */
    size_t n_topics;
    struct cli_mark mark;     /* of the broker: value */
    struct cli_listen listen; /* default 127.0.0.1:9092; unset (host NULL) when external */
    char *binary;             /* absolute; default <dir>/build/bin/tandem-broker (not checked) */
    char *data_dir;           /* as written, relative to the manifest's dir; default var/broker */
    char **args;
    size_t n_args;
};

/* Paths every instance serves for the supervisor and monitoring (docs/libtandem.md), never routed
 * by the gateway unless gateway.expose_internal is true. NULL-terminated. */
extern const char *const cli_internal_paths[];

#define CLI_DEFAULT_CONNS_PER_CLIENT 256
#define CLI_DEFAULT_READ_TIMEOUT     60 /* s: 4 x libtandem's server-sent event heartbeat */
#define CLI_DEFAULT_CORS_MAX_AGE     600

/* gateway.cors: cross-origin requests answered by nginx (docs/tandem-cli.md). */
struct cli_cors {
    bool present;
    char **origins; /* "scheme://host[:port]" each, or the one "*"; NULL-terminated */
    size_t n_origins;
    char **headers; /* request headers allowed beyond the defaults; NULL-terminated */
    size_t n_headers;
    int max_age; /* seconds a browser may cache a preflight's answer */
};

struct cli_gateway {
    struct cli_listen listen; /* default 127.0.0.1:8080 */
    char *cache_size;         /* nginx size ("64m"); default "64m" */
    int workers;              /* nginx worker processes, 1..CLI_MAX_GATEWAY_WORKERS; 0 = "auto" */
    bool expose_internal;     /* route cli_internal_paths like any other path; default false */
    int max_conns_per_client; /* requests in progress per client address (limit_conn); 256 */
    int read_timeout;         /* seconds the gateway waits between two reads of an answer from a
                                 service (proxy_read_timeout); 60 */
    struct cli_cors cors;
    /* Not from the YAML, set by the supervisor (the renderer stays pure):
     * `user`: nginx's `user` directive ("USER GROUP") when tandem runs as root, so that the
     * workers run unprivileged (docs/tandem-cli.md); NULL: no directive. Borrowed, never freed by
     * cli_manifest_cleanup.
     * `nofile`: the open-file limit nginx's workers get (worker_rlimit_nofile), which sizes
     * worker_connections; 0: unknown, nginx's defaults. */
    const char *user;
    int nofile;
};

/* jwt: the ES256 key pair of the system's tokens (docs/tandem-cli.md). `up` creates it when
 * neither file exists; every service gets the public key, only services with `jwt: sign` the
 * private one. */
struct cli_jwt {
    bool present;      /* a jwt: section, or a service with a jwt: key */
    char *private_key; /* absolute; default <dir>/var/keys/jwt.key */
    char *public_key;  /* absolute; default <dir>/var/keys/jwt.pub */
};

struct cli_manifest {
    char *path; /* as given to cli_manifest_load */
    char *dir;  /* absolute directory of the manifest: the project prefix */
    struct cli_broker broker;
    struct cli_gateway gateway;
    struct cli_jwt jwt;
    struct cli_service *services;
    size_t n_services;
};

/*
 * Reads and checks the manifest at `path`. Returns 0 and fills *out (release with
 * cli_manifest_cleanup), or a negative TANDEM_E* code with *out zeroed and a NUL-terminated
 * "FILE:LINE:COLUMN: problem" (or "FILE: problem" when no position applies) in err.
 */
int cli_manifest_load(const char *path, struct cli_manifest *out, char *err, size_t err_len);

/* As cli_manifest_load, from `len` bytes of YAML; `path` names it in messages and its directory
 * is where relative binaries are looked up. */
int cli_manifest_parse(const char *path, const char *text, size_t len, struct cli_manifest *out,
                       char *err, size_t err_len);

/* Frees everything cli_manifest_load allocated; *m is zeroed. Safe on a zeroed manifest. */
void cli_manifest_cleanup(struct cli_manifest *m);

/* Route paths (route.c, whose opening comment has the rules). valid: the syntax; is_pattern: it
 * has a "*" segment; takes: whether route r takes request path `path` (a normalized path);
 * overlap: whether some path is taken by both a and b; regex: the PCRE nginx matches for r, into
 * out (0, or -1 when it does not fit). */
bool cli_route_path_valid(const char *p);
bool cli_route_is_pattern(const char *p);
bool cli_route_takes(const struct cli_route *r, const char *path);
bool cli_routes_overlap(const struct cli_route *a, const struct cli_route *b);
int cli_route_regex(const struct cli_route *r, char *out, size_t len);

/* Whether `up` runs tandem-broker (a broker: section that is not external). */
static inline bool cli_broker_runs(const struct cli_broker *b)
{
    return b->present && b->external == NULL;
}

/* Index of the service named `name`, or -1. */
int cli_manifest_find(const struct cli_manifest *m, const char *name);

/* "GET", "POST", ... for one enum cli_method bit. */
const char *cli_method_name(unsigned bit);

#endif
