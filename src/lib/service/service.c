/*
 * service.c: libtandem's runtime: configuration, routes, the request path, the built-in
 * endpoints, and run-until-SIGTERM with a bounded drain.
 *
 * THE REQUEST PATH. The http core (tandem/http.h) calls svc_dispatch on a worker thread for each
 * request. It allocates the request's context (struct svc_req, on req->user: the trace context,
 * the request id, the route match and its decoded parameters, the start time), takes the
 * traceparent from the request or starts a trace, takes the X-Request-Id when it is a safe one
 * (tandem_request_id_valid), and matches the router (tandem/router.h): a route's handler is
 * called, a miss is answered 404, a wrong method 405 with Allow, a bad path 400/414, all as
 * problem+json. Whenever the request is answered, by whichever function, the core calls
 * svc_done first: it adds the traceparent header, counts and times the request in this
 * worker's stats (metrics.c), writes the access-log line (at debug for the built-in probes'
 * answers below 400) and releases the context.
 *
 * SHUTDOWN. SIGTERM and SIGINT are blocked before the workers start (threads inherit the mask),
 * so only tandem_service_run's sigwait ever takes them. Then: tandem_http_server_drain (stop
 * accepting, close idle connections, let requests in flight be answered, at most drain-timeout),
 * tandem_http_server_stop, the consumers stopped, the on_stop hooks in reverse order, the
 * producer freed, return 0 (run.c; all but a running handler within the one drain-timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "service_int.h"

static const char *env_get(const char *name)
{
    return getenv(name);
}

const char *svc_name(const struct tandem_service *s)
{
    return s->name;
}

/* ---- the request path ------------------------------------------------------------------------ */

static void trace_context(struct svc_req *x, const struct tandem_http_request *req)
{
    struct tandem_traceparent tp;
    const char *h = tandem_http_header(req, "traceparent");
    if (h == NULL || tandem_traceparent_parse(h, strlen(h), &tp) != 0) {
        if (tandem_trace_new(true, &tp) != 0) {
            memset(&tp, 0x11, sizeof(tp)); /* no randomness: a fixed, valid context */
            tp.version = 0;
            tp.flags = 0;
        }
    }
    tandem_traceparent_format(&tp, x->traceparent);
    tandem_trace_id_hex(tp.trace_id, x->trace_id);
    const char *id = tandem_http_header(req, "x-request-id");
    size_t idl = id != NULL ? strlen(id) : 0;
    if (tandem_request_id_valid(id, idl)) {
        memcpy(x->request_id, id, idl + 1);
    } else {
        x->request_id[0] = '\0'; /* absent or unsafe: not logged, not passed on */
    }
}

/*
 * The context outlives svc_done: the core calls on_done before it writes the answer, and the
 * answer's body may point into the context (a handler answering tandem_param(req, "id") or
 * tandem_request_id(req) as it is; freeing it in svc_done was a use after free). So the context
 * of the request answered last on a worker thread waits in svc_spare, and is reused (or freed)
 * when that thread dispatches or finishes another request, by when that answer has been written;
 * a stop hook on the worker's loop frees the last one. A request dropped unanswered (status 0,
 * tandem_http_server_stop, not on a worker) has no answer to write: its context is freed at once.
 * The token's claims the context holds (service_auth.c) go with it, for the same reason: an answer
 * may borrow from them (claims->username as the body).
 */
static _Thread_local struct svc_req *svc_spare;
static _Thread_local bool svc_spare_hooked;

/* Releases what x holds beyond its own memory: the claims (NULL after this). */
static void req_clear(struct svc_req *x)
{
#ifdef TANDEM_SERVICE_AUTH
    svc_auth_done(x);
#else
    (void)x;
#endif
}

/* Frees a context (NULL: no-op) whose answer has been written, or that has none. */
static void req_free(struct svc_req *x)
{
    if (x != NULL) {
        req_clear(x);
        free(x);
    }
}

static void spare_free(void *arg)
{
    (void)arg;
    req_free(svc_spare);
    svc_spare = NULL;
    svc_spare_hooked = false;
}

static struct svc_req *req_alloc(size_t buf_len)
{
    struct svc_req *x = svc_spare;
    svc_spare = NULL;
    if (x != NULL && x->buf_cap >= buf_len) {
        req_clear(x); /* its answer went out before this request was dispatched */
        return x;
    }
    req_free(x);
    size_t cap = buf_len < 256 ? 256 : buf_len; /* most paths: one allocation per worker */
    x = xmalloc(sizeof(*x) + cap);
    x->buf_cap = cap;
    return x;
}

static void req_release(struct svc_req *x, int status)
{
    struct tandem_loop *l = tandem_loop_current();
    if (status == 0 || l == NULL ||
        (!svc_spare_hooked && tandem_loop_on_stop(l, spare_free, NULL, NULL) != 0)) {
        req_free(x);
        return;
    }
    svc_spare_hooked = true;
    req_free(svc_spare); /* its answer went out before this request was dispatched */
    svc_spare = x;
}

void svc_dispatch(struct tandem_http_request *req, void *arg)
{
    struct tandem_service *s = arg;
    size_t plen = strlen(req->path);
    size_t buf_len = plen + TANDEM_ROUTE_MAX_PARAMS + 1;
    struct svc_req *x = req_alloc(buf_len);
    x->svc = s;
    x->start_ns = (uint64_t)clock_mono_ns();
    x->method = svc_method_index(req->method);
    x->route = (int)s->nroutes;
    x->claims = NULL;
    x->streamed = false;
    trace_context(x, req);
    req->user = x;
    int rc = tandem_router_match(s->router, req->method, strlen(req->method), req->path, plen,
                                 x->buf, buf_len, &x->m);
    if (rc == 0) {
        struct svc_route *r = x->m.handler;
        x->route = r->index;
        r->fn(req, r->arg);
        return;
    }
    if (rc == TANDEM_EUNSUPPORTED) {
        tandem_respond_header(req, "Allow", x->m.allow);
        char detail[128];
        snprintf(detail, sizeof(detail), "%s is not allowed here; allowed: %s", req->method,
                 x->m.allow);
        tandem_respond_problem(req, 405, detail);
    } else if (rc == TANDEM_ENOENT) {
        tandem_respond_problem(req, 404, "no route for this path");
    } else {
        tandem_respond_problem(req, x->m.status >= 400 ? x->m.status : 400, "bad request path");
    }
}

void svc_done(struct tandem_http_request *req, int status, void *arg)
{
    struct tandem_service *s = arg;
    struct svc_req *x = svc_req_of(req);
    if (x == NULL) {
        return;
    }
    uint64_t ns = (uint64_t)clock_mono_ns() - x->start_ns;
    if (status != 0) {
        if (!x->streamed) { /* a stream's head carried it (tandem_respond_sse) */
            tandem_http_add_header(req, "traceparent", x->traceparent);
        }
        svc_stats_record(&s->stats[req->worker], x->route, x->method, status, ns);
    }
    /* probes and scrapes that succeed at debug: the supervisor asks every instance's /readyz
     * every second; their failures stay at info */
    bool quiet = x->route < (int)s->nroutes && s->routes[x->route]->quiet && status < 400;
    struct log_line l; /* every string escaped: a path may hold any byte but CR and LF */
    if (log_line_begin(&l, quiet ? LOG_DEBUG : LOG_INFO, "request")) {
        log_line_str(&l, "trace_id", x->trace_id);
        if (x->request_id[0] != '\0') {
            log_line_str(&l, "request_id", x->request_id);
        }
        log_line_str(&l, "method", req->method);
        log_line_str(&l, "path", req->path);
        log_line_str(&l, "route", s->route_names[x->route]);
        log_line_int(&l, "status", status);
        log_line_ms(&l, "duration_ms", ns);
        log_line_int(&l, "worker", req->worker);
        log_line_end(&l);
    }
    req->user = NULL;
    req_release(x, status);
}

/* The http core answered a request itself (400, 408, 413, 431): no context, no route, no
 * duration; counted so that /metrics sees every answer. */
void svc_core_error(int worker, int status, void *arg)
{
    struct tandem_service *s = arg;
    svc_stats_count(&s->stats[worker], (int)s->nroutes + 1, SVC_METHOD_NONE, status);
}

/* ---- built-in endpoints ---------------------------------------------------------------------- */

static void healthz(struct tandem_http_request *req, void *arg)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    tandem_respond(req, 200, "application/json", ok, sizeof(ok) - 1);
}

static void metrics(struct tandem_http_request *req, void *arg)
{
    struct tandem_service *s = arg;
    struct tandem_metrics_writer w;
    svc_writer_init(&w);
    svc_metrics_http(&w, s->stats, s->workers, s->nroutes, s->route_names);
    for (size_t i = 0; i < s->nsources; i++) {
        void (*emit)(struct tandem_metrics_writer *, void *) =
            (void (*)(struct tandem_metrics_writer *, void *))s->sources[i].fn;
        emit(&w, s->sources[i].arg);
    }
    tandem_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", w.p, w.len);
    svc_writer_cleanup(&w);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static bool name_valid(const char *n)
{
    if (n == NULL || *n == '\0' || strlen(n) > 64) {
        return false;
    }
    for (; *n != '\0'; n++) {
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9') ||
              *n == '-' || *n == '_')) {
            return false;
        }
    }
    return true;
}

/* Declares the runtime's options and checks their values. */
static int builtin_options(struct tandem_service *s)
{
    char data_dir[96];
    snprintf(data_dir, sizeof(data_dir), "var/%s", s->name);
    struct svc_config *c = &s->cfg;
    svc_config_declare(c, "listen", "127.0.0.1:8101", "address to serve HTTP on (host:port)");
    svc_config_declare(c, "brokers", "127.0.0.1:9092", "Kafka bootstrap servers");
    svc_config_declare(c, "data-dir", data_dir,
                       "directory for the service's data (shared by its instances)");
    svc_config_declare(c, "instance", "0", "this instance's number among the service's");
    char inst_dir[4200];
    snprintf(inst_dir, sizeof(inst_dir), "%s/%s", svc_config_get(c, "data-dir"),
             svc_config_get(c, "instance"));
    svc_config_declare(c, "instance-dir", inst_dir,
                       "directory for what is this instance's own (default: DATA_DIR/INSTANCE)");
    svc_config_declare(c, "workers", "1", "event-loop threads serving HTTP (0: one per CPU)");
    svc_config_declare(c, "log-level", "info", "debug, info, warn or error");
    svc_config_declare(
        c, "drain-timeout", "10",
        "seconds the drain gets after SIGTERM (requests, consumers, producer flush)");
    svc_config_declare(c, "pool-threads", "0",
                       "threads for blocking work (tandem_offload; 0: one per CPU)");
    svc_config_declare(c, "pool-queue", "256", "jobs waiting for the pool at most; beyond: 503");
    svc_config_declare(c, "sse-heartbeat", "15",
                       "seconds between heartbeats on quiet server-sent event streams");
    svc_config_declare(c, "assignment-strategy", NULL,
                       "consumer groups' partition.assignment.strategy (cooperative-sticky: "
                       "incremental rebalancing; unset: librdkafka's default)");
    char host[64];
    int port;
    long v;
    enum log_level lvl;
    const char *bad = NULL;
    if (svc_parse_listen(svc_config_get(c, "listen"), host, sizeof(host), &port) != 0) {
        bad = "listen";
    } else if (svc_parse_int(svc_config_get(c, "workers"), 0, 256, &v) != 0) {
        bad = "workers";
    } else if (log_level_parse(svc_config_get(c, "log-level"), &lvl) != 0) {
        bad = "log-level";
    } else if (svc_parse_int(svc_config_get(c, "drain-timeout"), 0, 3600, &v) != 0) {
        bad = "drain-timeout";
    } else if (svc_parse_int(svc_config_get(c, "pool-threads"), 0, 256, &v) != 0) {
        bad = "pool-threads";
    } else if (svc_parse_int(svc_config_get(c, "pool-queue"), 1, 1000000, &v) != 0) {
        bad = "pool-queue";
    } else if (svc_parse_int(svc_config_get(c, "sse-heartbeat"), 1, 3600, &v) != 0) {
        bad = "sse-heartbeat";
    } else if (*svc_config_get(c, "data-dir") == '\0') {
        bad = "data-dir";
    } else if (svc_parse_int(svc_config_get(c, "instance"), 0, 65535, &v) != 0) {
        bad = "instance";
    } else if (*svc_config_get(c, "instance-dir") == '\0') {
        bad = "instance-dir";
    }
    if (bad != NULL) {
        char esc[256];
        log_error("invalid configuration", "\"option\":\"%s\",\"value\":%s", bad,
                  log_json_str(esc, sizeof(esc), svc_config_get(c, bad)));
        return TANDEM_EINVAL;
    }
    log_setup(s->name, lvl);
    return 0;
}

int tandem_service_new(const char *name, int argc, char **argv, struct tandem_service **out)
{
    if (!name_valid(name)) {
        return TANDEM_EINVAL;
    }
    struct tandem_service *s = xcalloc(1, sizeof(*s));
    s->name = xstrndup(name, strlen(name));
    log_setup(s->name, LOG_INFO);
    const char *bad = NULL;
    int rc = svc_config_init(&s->cfg, argc, argv, env_get, &bad);
    if (rc != 0) {
        char esc[256];
        log_error("bad command line (flags are --name value or --name=value)", "\"arg\":%s",
                  log_json_str(esc, sizeof(esc), bad));
        goto fail;
    }
    rc = builtin_options(s);
    if (rc != 0) {
        goto fail;
    }
    rc = tandem_router_new(&s->router);
    if (rc != 0) {
        goto fail;
    }
    tandem_route(s, "GET", "/healthz", healthz, s);
    tandem_route(s, "GET", "/readyz", svc_readyz, s);
    tandem_route(s, "GET", "/metrics", metrics, s);
    for (size_t i = 0; i < s->nroutes; i++) {
        s->routes[i]->quiet = true; /* the three above */
    }
    *out = s;
    return 0;
fail:
    tandem_service_free(s);
    return rc;
}

int tandem_service_option(struct tandem_service *s, const char *key, const char *def,
                          const char *help)
{
    if (s->running) { /* threads may be reading the options: they are final */
        return TANDEM_EINVAL;
    }
    return svc_config_declare(&s->cfg, key, def, help);
}

const char *tandem_service_config(const struct tandem_service *s, const char *key)
{
    return svc_config_get(&s->cfg, key);
}

bool tandem_service_help_asked(const struct tandem_service *s)
{
    return s->cfg.help;
}

int tandem_route(struct tandem_service *s, const char *method, const char *pattern,
                 tandem_route_fn fn, void *arg)
{
    if (s->running || fn == NULL || method == NULL || pattern == NULL) {
        return TANDEM_EINVAL;
    }
    struct svc_route *r = xcalloc(1, sizeof(*r));
    r->fn = fn;
    r->arg = arg;
    r->index = (int)s->nroutes;
    int rc = tandem_router_add(s->router, method, pattern, r);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->method = xstrndup(method, strlen(method));
    r->pattern = xstrndup(pattern, strlen(pattern));
    s->routes = xrealloc(s->routes, (s->nroutes + 1) * sizeof(*s->routes));
    s->routes[s->nroutes++] = r;
    return 0;
}

static void hook_add(struct svc_hook **list, size_t *n, const char *name, void *fn, void *arg)
{
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[*n].name = name ? xstrndup(name, strlen(name)) : NULL;
    (*list)[*n].fn = fn;
    (*list)[*n].arg = arg;
    (*n)++;
}

void tandem_service_ready_check(struct tandem_service *s, const char *name, int (*check)(void *arg),
                                void *arg)
{
    if (s->prober != NULL) { /* the probe thread reads the list */
        log_warn("ready check added after the run started: ignored", NULL);
        return;
    }
    hook_add(&s->checks, &s->nchecks, name ? name : "check", (void *)check, arg);
}

void tandem_service_on_stop(struct tandem_service *s, void (*fn)(void *arg), void *arg)
{
    hook_add(&s->stops, &s->nstops, NULL, (void *)fn, arg);
}

void tandem_service_metrics_source(struct tandem_service *s,
                                   void (*emit)(struct tandem_metrics_writer *w, void *arg),
                                   void *arg)
{
    hook_add(&s->sources, &s->nsources, NULL, (void *)emit, arg);
}
