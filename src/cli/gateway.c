/*
 * nginx.conf from a manifest. The text is built top to bottom into one growing buffer:
 *
 *   main context   the user to run as (only when tandem runs as root: see cli_gateway.user),
 *                  daemon off (tandem supervises nginx), pid and error log under var/gateway/
 *   http           temp paths under var/gateway/ (Debian's defaults in /var/lib/nginx are not
 *                  ours to write), the request id map, the JSON access log, the cache zone,
 *                  one limit_req zone per rate-limited route, one upstream per service
 *   server         the listen address, headers passed upstream, retry policy, nginx's own errors
 *                  as problem documents, 404s for the instances' own endpoints, then per route
 *                  an exact location (= /p) and a prefix one (/p/), or a regex for a pattern
 *                  (/a/STAR/b), and a 404 for the rest
 *   probe server   the supervisor's readiness probe
 *
 * Invariants relied on from the manifest (see manifest.h): service names and route paths use
 * only characters that need no quoting in nginx.conf, and no two routes take a path in common
 * where nginx would choose the less specific one (route.c), so no two locations collide.
 */
#include "cli/gateway.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "tandem/error.h"

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = (o->cap + (size_t)n + 1) * 2;
        o->p = xrealloc(o->p, o->cap);
    }
}

/*
 * Request id, trace context and the access log's own fields, all derived per request by maps
 * (evaluated lazily, so only what a request uses costs anything):
 *
 *   $tandem_request_id   the client's X-Request-Id when it is 1-128 of [A-Za-z0-9._:-] (so it
 *                        can never break a header, a log line or a shell), else nginx's random
 *                        $request_id (32 hex digits)
 *   $tandem_trace_in     the client's traceparent when it is a valid W3C version-00 one, else ""
 *   $tandem_traceparent  that one, or a new trace: 00-<$request_id>-<its last 16 digits>-01
 *   $tandem_tracestate   the client's tracestate, only with its traceparent (W3C: a restarted
 *                        trace drops it)
 *   $tandem_trace_id     the trace id of $tandem_traceparent, for the log
 *   $tandem_ts_*         the time as the services log it (2026-01-02T03:04:05.678Z; nginx runs
 *                        with TZ=UTC0, set by the supervisor)
 *   $tandem_log_uri      $request_uri when it is valid UTF-8, else its valid prefix and U+FFFD:
 *                        escape=json escapes quotes, backslashes and control bytes but copies
 *                        bytes >= 0x80 as they are, which is not JSON when they are not UTF-8
 */
static const char TRACE_MAPS[] =
    "    map $http_x_request_id $tandem_request_id {\n"
    "        \"~^[A-Za-z0-9._:-]{1,128}$\" $http_x_request_id;\n"
    "        default $request_id;\n"
    "    }\n"
    "    map $http_traceparent $tandem_trace_in {\n"
    "        \"~^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$\" $http_traceparent;\n"
    "        default \"\";\n"
    "    }\n"
    "    map $request_id $tandem_span_id {\n"
    "        \"~(?!0{16}$)(?<tandem_span_c>[0-9a-f]{16})$\" $tandem_span_c;\n"
    "        default 0000000000000001;\n"
    "    }\n"
    "    map $tandem_trace_in $tandem_traceparent {\n"
    "        \"\" 00-$request_id-$tandem_span_id-01;\n"
    "        default $tandem_trace_in;\n"
    "    }\n"
    "    map $tandem_trace_in $tandem_tracestate {\n"
    "        \"\" \"\";\n"
    "        default $http_tracestate;\n"
    "    }\n"
    "    map $tandem_traceparent $tandem_trace_id {\n"
    "        \"~^00-(?<tandem_trace_c>[0-9a-f]{32})-\" $tandem_trace_c;\n"
    "    }\n"
    "    map $time_iso8601 $tandem_ts_s {\n"
    "        \"~^(?<tandem_ts_c>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\" "
    "$tandem_ts_c;\n"
    "    }\n"
    "    map $upstream_connect_time $tandem_unreachable {\n"
    "        \"~^-(, -)*$\" 1;\n"
    "        default \"\";\n"
    "    }\n"
    "    map $tandem_unreachable $tandem_retry_after {\n"
    "        1 2;\n"
    "        default \"\";\n"
    "    }\n"
    "    map $msec $tandem_ts_ms {\n"
    "        \"~[.](?<tandem_ms_c>[0-9]{3})$\" $tandem_ms_c;\n"
    "        default 000;\n"
    "    }\n";

/* One UTF-8 character (RFC 3629 section 4, without C0 NUL), as a PCRE alternation over bytes:
 * nginx compiles map regexes without PCRE's UTF mode, so they match bytes. */
#define UTF8_CHAR                                                                 \
    "(?:[\\x01-\\x7f]|[\\xc2-\\xdf][\\x80-\\xbf]|\\xe0[\\xa0-\\xbf][\\x80-\\xbf]" \
    "|[\\xe1-\\xec\\xee\\xef][\\x80-\\xbf]{2}|\\xed[\\x80-\\x9f][\\x80-\\xbf]"    \
    "|\\xf0[\\x90-\\xbf][\\x80-\\xbf]{2}|[\\xf1-\\xf3][\\x80-\\xbf]{3}"           \
    "|\\xf4[\\x80-\\x8f][\\x80-\\xbf]{2})"

static const char LOG_MAPS[] =
    "    map $request_uri $tandem_log_uri {\n"
    "        \"~^" UTF8_CHAR "*$\" $request_uri;\n"
    "        \"~^(?<tandem_uri_c>" UTF8_CHAR "*)\" \"${tandem_uri_c}\xef\xbf\xbd\";\n"
    "    }\n";

static const char LOG_FORMAT[] =
    "    log_format tandem_json escape=json\n"
    "        '{\"ts\":\"$tandem_ts_s.${tandem_ts_ms}Z\",\"remote\":\"$remote_addr\","
    "\"request_id\":\"$tandem_request_id\",\"trace_id\":\"$tandem_trace_id\",'\n"
    "        '\"method\":\"$request_method\",\"uri\":\"$tandem_log_uri\",\"status\":$status,"
    "\"bytes\":$body_bytes_sent,\"duration_s\":$request_time,'\n"
    "        '\"upstream\":\"$upstream_addr\",\"upstream_status\":\"$upstream_status\","
    "\"upstream_s\":\"$upstream_response_time\",\"cache\":\"$upstream_cache_status\"}';\n";

/* The route's methods joined by sep ("GET|HEAD" for a regex, "GET, HEAD" for a header); GET
 * implies HEAD; 0 (a route without `methods`) is every method. */
static void methods_list(unsigned methods, const char *sep, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    if (methods == 0) {
        methods = ~0U;
    }
    if (methods & CLI_GET) {
        methods |= CLI_HEAD;
    }
    for (unsigned bit = 1; bit <= CLI_OPTIONS && off < len; bit <<= 1) {
        if (methods & bit) {
            int n =
                snprintf(buf + off, len - off, "%s%s", off > 0 ? sep : "", cli_method_name(bit));
            off += n > 0 ? (size_t)n : 0;
        }
    }
}

/*
 * CORS (gateway.cors), answered by nginx so every service gets it alike. Every answer (a
 * service's or nginx's own) carries Access-Control-Allow-Origin: "*", or the request's Origin
 * when it is one of the manifest's origins ($tandem_cors_origin, empty otherwise, and nginx then
 * leaves the header out), with Vary: Origin; and Access-Control-Expose-Headers for the headers a
 * script needs that are not CORS-safelisted. The services' own CORS headers are hidden, so there
 * is never a second, contradicting one. A preflight (OPTIONS with Access-Control-Request-Method)
 * is answered 204 by nginx before the route's method check and limits, with the route's methods,
 * the allowed request headers and Access-Control-Max-Age. No credentials: the blog's API
 * authenticates with an Authorization header, which a CORS request may send once allowed.
 */
static const char CORS_HEADERS[] = CLI_CORS_HEADERS;
static const char CORS_EXPOSE[] = CLI_CORS_EXPOSE;
static const char *const CORS_HIDE[] = {
    "Access-Control-Allow-Origin",   "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",  "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers", "Access-Control-Max-Age",
};

static bool cors_any(const struct cli_manifest *m)
{
    return m->gateway.cors.n_origins == 1 && strcmp(m->gateway.cors.origins[0], "*") == 0;
}

static void put_cors_maps(struct out *o, const struct cli_manifest *m)
{
    const struct cli_cors *c = &m->gateway.cors;
    if (!c->present) {
        return;
    }
    put(o, "    map \"$request_method:$http_access_control_request_method\" $tandem_preflight {\n"
           "        \"~^OPTIONS:.\" 1;\n"
           "        default \"\";\n"
           "    }\n");
    if (cors_any(m)) {
        return;
    }
    put(o, "    map $http_origin $tandem_cors_origin {\n");
    for (size_t i = 0; i < c->n_origins; i++) {
        put(o, "        \"%s\" $http_origin;\n", c->origins[i]);
    }
    put(o, "        default \"\";\n"
           "    }\n");
}

/* The headers every answer of the gateway carries: the request id, and CORS's when configured. */
static void put_answer_headers(struct out *o, const struct cli_manifest *m, const char *indent)
{
    put(o, "%sadd_header X-Request-Id $tandem_request_id always;\n", indent);
    if (!m->gateway.cors.present) {
        return;
    }
    if (cors_any(m)) {
        put(o, "%sadd_header Access-Control-Allow-Origin * always;\n", indent);
    } else {
        put(o,
            "%sadd_header Access-Control-Allow-Origin $tandem_cors_origin always;\n"
            "%sadd_header Vary Origin always;\n",
            indent, indent);
    }
    put(o, "%sadd_header Access-Control-Expose-Headers \"%s\" always;\n", indent, CORS_EXPOSE);
}

/* A preflight's answer, first in a route's location. */
static void put_preflight(struct out *o, const struct cli_manifest *m, const struct cli_route *r)
{
    const struct cli_cors *c = &m->gateway.cors;
    if (!c->present) {
        return;
    }
    char methods[96];
    methods_list(r->methods, ", ", methods, sizeof(methods));
    put(o, "            if ($tandem_preflight) {\n");
    put_answer_headers(o, m, "                ");
    put(o, "                add_header Access-Control-Allow-Methods \"%s\" always;\n", methods);
    put(o, "                add_header Access-Control-Allow-Headers \"%s", CORS_HEADERS);
    for (size_t i = 0; i < c->n_headers; i++) {
        put(o, ", %s", c->headers[i]);
    }
    put(o,
        "\" always;\n"
        "                add_header Access-Control-Max-Age %d always;\n"
        "                return 204;\n"
        "            }\n",
        c->max_age);
}

/*
 * Slow and greedy clients. A connection that sends its header a byte at a time holds a worker
 * connection until client_header_timeout, which counts from the connection's start, not between
 * reads (nginx's default is 60 s: about 2,000 such connections used to lock everyone out of a
 * gateway of 1024 worker_connections). Bodies and answers time out between two reads or writes.
 * limit_conn counts a client address's requests in progress (only once their header is read, so
 * it is for slow readers and floods of requests, and the header timeout for slow senders).
 * Bodies: 1 MiB (1,048,576 bytes, nginx's 1m), the limit of libtandem's HTTP server
 * (tandem_http_config.max_body_bytes' default), written out so that the two are seen to agree: a
 * larger body is refused 413 by the gateway before any of it is passed on, a problem document
 * like the service's own 413 (put_error_pages).
 */
static void put_limits(struct out *o, const struct cli_manifest *m)
{
    put(o, "    client_header_timeout 10s;\n"
           "    client_body_timeout 10s;\n"
           "    send_timeout 10s;\n"
           "    keepalive_timeout 15s;\n"
           "    reset_timedout_connection on;\n"
           "    client_max_body_size 1m;\n"
           "    limit_conn_zone $binary_remote_addr zone=tandem_conn:10m;\n"
           "    limit_conn_status 429;\n");
    put(o, "    limit_conn tandem_conn %d;\n", m->gateway.max_conns_per_client);
}

/* nginx's worker connections: half the open files a worker may have, since a proxied request
 * takes two (the client's and the upstream's), and more for the cache and temp files. */
static int worker_connections(const struct cli_manifest *m)
{
    if (m->gateway.nofile <= 0) {
        return 1024;
    }
    return m->gateway.nofile / 2 > 256 ? m->gateway.nofile / 2 : 256;
}

static void put_head(struct out *o, const struct cli_manifest *m)
{
    const char *name = strrchr(m->path, '/');
    put(o, "# Generated by tandem from %s; rewritten by every `tandem up` and `tandem scale`.\n",
        name != NULL ? name + 1 : m->path);
    put(o, "# Run as: nginx -p <the manifest's directory> -c var/gateway/nginx.conf\n");
    if (m->gateway.user != NULL) {
        put(o, "user %s;\n", m->gateway.user);
    }
    put(o, "daemon off;\n");
    if (m->gateway.workers > 0) {
        put(o, "worker_processes %d;\n", m->gateway.workers);
    } else {
        put(o, "worker_processes auto;\n"); /* one per CPU, as Debian's own nginx.conf */
    }
    if (m->gateway.nofile > 0) {
        put(o, "worker_rlimit_nofile %d;\n", m->gateway.nofile);
    }
    /* After a reload (or at SIGQUIT) old workers close what is still open after 5 s: a stream
     * (server-sent events) never ends by itself, and would keep an old worker, and the
     * supervisor's wait for the old workers (SUP_RELOAD_TIMEOUT_MS, 10 s), forever. */
    put(o,
        "worker_shutdown_timeout 5s;\n"
        "pid var/gateway/nginx.pid;\n"
        "error_log var/gateway/error.log warn;\n"
        "\n"
        "events {\n"
        "    worker_connections %d;\n"
        "}\n"
        "\n"
        "http {\n"
        "    client_body_temp_path var/gateway/client_body_temp;\n"
        "    proxy_temp_path var/gateway/proxy_temp;\n"
        "    fastcgi_temp_path var/gateway/fastcgi_temp;\n"
        "    uwsgi_temp_path var/gateway/uwsgi_temp;\n"
        "    scgi_temp_path var/gateway/scgi_temp;\n"
        "    server_tokens off;\n",
        worker_connections(m));
    put_limits(o, m);
    put(o, "\n%s%s", TRACE_MAPS, LOG_MAPS);
    put_cors_maps(o, m);
    put(o, "%s", LOG_FORMAT);
    put(o, "    access_log var/gateway/access.log tandem_json;\n"
           "\n");
    put(o,
        "    proxy_cache_path var/gateway/cache levels=1:2 keys_zone=tandem_cache:10m "
        "max_size=%s inactive=10m use_temp_path=off;\n",
        m->gateway.cache_size);
    put(o, "    limit_req_status 429;\n");
    for (size_t i = 0; i < m->n_services; i++) {
        const struct cli_service *s = &m->services[i];
        for (size_t j = 0; j < s->n_routes; j++) {
            if (s->routes[j].rate > 0) {
                put(o, "    limit_req_zone $binary_remote_addr zone=rl_%s_%zu:1m rate=%ur/%c;\n",
                    s->name, j, s->routes[j].rate, s->routes[j].rate_per);
            }
        }
    }
}

static void put_upstream(struct out *o, const struct cli_service *s, const struct cli_instances *in)
{
    put(o, "\n    upstream svc_%s {\n", s->name);
    size_t n = in != NULL ? in->n : (size_t)s->instances;
    for (size_t i = 0; i < n; i++) {
        int port = in != NULL ? in->ports[i] : s->port + (int)i;
        put(o, "        server 127.0.0.1:%d max_fails=1 fail_timeout=2s;\n", port);
    }
    if (n == 0) {
        put(o, "        server 127.0.0.1:%d down; # no instance running\n", s->port);
    }
    put(o, "        keepalive 32;\n"
           "    }\n");
}

static void put_server_head(struct out *o, const struct cli_manifest *m)
{
    put(o, "\n    server {\n");
    put(o, "        listen %s:%d;\n", m->gateway.listen.host, m->gateway.listen.port);
    put(o, "        proxy_http_version 1.1;\n"
           "        proxy_set_header Connection \"\";\n"
           "        proxy_set_header Host $host;\n"
           "        proxy_set_header X-Forwarded-For $remote_addr;\n"
           "        proxy_set_header X-Request-Id $tandem_request_id;\n"
           "        proxy_set_header traceparent $tandem_traceparent;\n"
           "        proxy_set_header tracestate $tandem_tracestate;\n"
           "        proxy_connect_timeout 1s;\n"
           "        proxy_next_upstream error timeout http_502 http_503;\n"
           "        proxy_next_upstream_tries 3;\n"
           "        proxy_next_upstream_timeout 10s;\n");
    /* between two reads of an answer: a server-sent event stream lives on its heartbeats */
    put(o, "        proxy_read_timeout %ds;\n", m->gateway.read_timeout);
}

static void put_location(struct out *o, const struct cli_manifest *m, const struct cli_service *s,
                         size_t idx, const char *match, const char *path)
{
    const struct cli_route *r = &s->routes[idx];
    put(o, "\n        location %s%s {\n", match, path);
    put_preflight(o, m, r);
    if (r->methods != 0) {
        char re[96];
        methods_list(r->methods, "|", re, sizeof(re));
        put(o,
            "            if ($request_method !~ ^(%s)$) {\n"
            "                return 405;\n"
            "            }\n",
            re);
    }
    if (r->rate > 0) {
        put(o, "            limit_req zone=rl_%s_%zu burst=%u nodelay;\n", s->name, idx, r->burst);
    }
    if (r->cache) {
        put(o, "            proxy_cache tandem_cache;\n"
               "            proxy_cache_key $scheme$host$request_uri;\n"
               "            proxy_cache_revalidate on;\n"
               "            proxy_cache_lock on;\n"
               "            proxy_cache_bypass $http_authorization;\n"
               "            proxy_no_cache $http_authorization;\n"
               "            proxy_hide_header traceparent;\n"
               "            add_header X-Cache-Status $upstream_cache_status always;\n");
    }
    for (size_t i = 0; m->gateway.cors.present && i < sizeof(CORS_HIDE) / sizeof(CORS_HIDE[0]);
         i++) {
        put(o, "            proxy_hide_header %s;\n", CORS_HIDE[i]);
    }
    put_answer_headers(o, m, "            ");
    put(o, "            proxy_pass http://svc_%s;\n", s->name);
    put(o, "        }\n");
}

/* Each route's locations: a pattern one regex location (its regex from route.c, quoted); an exact
 * one `= /p`; otherwise `= /p` and the prefix `/p/` (a path ending in / only the prefix). Prefixes
 * are plain (not ^~), so that nginx tries the patterns before them: a pattern takes its paths out
 * of a prefix above it. The manifest's checks make sure no two of them take the same path. */
static void put_routes(struct out *o, const struct cli_manifest *m, bool *has_root)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const struct cli_service *s = &m->services[i];
        for (size_t j = 0; j < s->n_routes; j++) {
            const struct cli_route *r = &s->routes[j];
            const char *p = r->path;
            size_t len = strlen(p);
            if (cli_route_is_pattern(p)) {
                char re[1100];
                if (cli_route_regex(r, re, sizeof(re)) == 0) {
                    char quoted[1104];
                    snprintf(quoted, sizeof(quoted), "\"%s\"", re);
                    put_location(o, m, s, j, "~ ", quoted);
                }
                continue;
            }
            if (r->exact || p[len - 1] == '/') {
                put_location(o, m, s, j, r->exact ? "= " : "", p); /* "/", "/a/": a prefix only */
                *has_root = *has_root || (len == 1 && !r->exact);
                continue;
            }
            char *sub = xmalloc(len + 2);
            memcpy(sub, p, len);
            sub[len] = '/';
            sub[len + 1] = '\0';
            put_location(o, m, s, j, "= ", p);
            put_location(o, m, s, j, "", sub);
            free(sub);
        }
    }
}

/* `return STATUS '<problem document>';` at the given indentation. */
static void put_return(struct out *o, const char *indent, int status, const char *title,
                       const char *detail)
{
    put(o,
        "%sreturn %d '{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,"
        "\"detail\":\"%s\"}';\n",
        indent, status, title, status, detail);
}

/* A location answering a problem document (RFC 9457) from nginx itself, with the request id and,
 * unless NULL, a Retry-After. */
static void put_problem(struct out *o, const struct cli_manifest *m, const char *location,
                        int status, const char *title, const char *detail, const char *retry_after)
{
    put(o,
        "\n        location %s {\n"
        "            default_type application/problem+json;\n",
        location);
    put_answer_headers(o, m, "            ");
    if (retry_after != NULL) {
        put(o, "            add_header Retry-After %s always;\n", retry_after);
    }
    put_return(o, "            ", status, title, detail);
    put(o, "        }\n");
}

/*
 * The answers nginx itself gives when a service cannot, as problem documents like the services'
 * own errors. A 502 of nginx's (the service's answer never came) is split by
 * $upstream_connect_time, "-" for each attempt whose connection failed ($tandem_unreachable):
 * when no attempt even connected (no instance in the upstream, all stopped, crashed or refusing)
 * the service is unavailable: 503 with Retry-After 2 (the passive health check's fail_timeout,
 * after which nginx tries an instance again), and nothing reached it, so even a POST may be sent
 * again. When one did connect and its answer failed, the request may have been acted on: 502, no
 * Retry-After. 504: no answer within proxy_read_timeout. 429: a rate or connection limit. 413: a
 * body above client_max_body_size (put_limits).
 * error_page sees only nginx's own statuses (proxy_intercept_errors is off): a service's own 502
 * or 503 passes through untouched.
 */
static void put_error_pages(struct out *o, const struct cli_manifest *m)
{
    put(o, "\n        error_page 502 = @tandem_502;\n"
           "        error_page 504 = @tandem_504;\n"
           "        error_page 429 = @tandem_429;\n"
           "        error_page 413 = @tandem_413;\n"
           "\n        location @tandem_502 {\n"
           "            default_type application/problem+json;\n");
    put_answer_headers(o, m, "            ");
    put(o, "            add_header Retry-After $tandem_retry_after always;\n"
           "            if ($tandem_unreachable) {\n");
    put_return(o, "                ", 503, "Service Unavailable",
               "no instance of the service is running and accepting connections");
    put(o, "            }\n");
    put_return(o, "            ", 502, "Bad Gateway", "the service failed to answer");
    put(o, "        }\n");
    put_problem(o, m, "@tandem_504", 504, "Gateway Timeout", "the service did not answer in time",
                NULL);
    put_problem(o, m, "@tandem_429", 429, "Too Many Requests",
                "too many requests from this address; retry later", "1");
    put_problem(o, m, "@tandem_413", 413, "Content Too Large",
                "the request body is larger than 1 MiB (1048576 bytes)", NULL);
}

/* Every instance's /healthz, /readyz and /metrics: exact locations, which nginx matches before any
 * prefix, so not even a route for / reaches them (nginx matches the normalized path: /a/../metrics
 * and /%6detrics are /metrics too). */
static void put_internal(struct out *o, const struct cli_manifest *m)
{
    if (m->gateway.expose_internal) {
        return;
    }
    for (size_t i = 0; cli_internal_paths[i] != NULL; i++) {
        char loc[64];
        snprintf(loc, sizeof(loc), "= %s", cli_internal_paths[i]);
        put_problem(o, m, loc, 404, "Not Found",
                    "an endpoint of every instance, not routed by the gateway", NULL);
    }
}

/* The supervisor's readiness probe (probe.c): any request with this Host is answered 204 by nginx
 * itself and not logged, so the gateway is ready only while nginx serves requests. */
static void put_probe_server(struct out *o, const struct cli_manifest *m)
{
    put(o,
        "\n    server {\n"
        "        listen %s:%d;\n"
        "        server_name " CLI_GATEWAY_PROBE_HOST ";\n"
        "        access_log off;\n"
        "        return 204;\n"
        "    }\n",
        m->gateway.listen.host, m->gateway.listen.port);
}

int cli_gateway_render(const struct cli_manifest *m, const struct cli_instances *inst, char **out)
{
    struct out o = {xmalloc(4096), 0, 4096};
    bool has_root = false;
    o.p[0] = '\0';
    put_head(&o, m);
    for (size_t i = 0; i < m->n_services; i++) {
        put_upstream(&o, &m->services[i], inst != NULL ? &inst[i] : NULL);
    }
    put_server_head(&o, m);
    put_error_pages(&o, m);
    put_internal(&o, m);
    put_routes(&o, m, &has_root);
    if (!has_root) {
        put_problem(&o, m, "/", 404, "Not Found", "no service routes this path", NULL);
    }
    put(&o, "    }\n");
    put_probe_server(&o, m);
    put(&o, "}\n");
    *out = o.p;
    return 0;
}
