/*
 * service_int.h: what the files of libtandem's runtime share.
 *
 *   config.c   flags + TANDEM_* environment -> option values (pure: argv and a getenv function in,
 *              strings out; unit-tested).
 *   metrics.c  per-worker request counters and latency histograms, merged at scrape time; the
 *              Prometheus text writer.
 *   service.c  the runtime: routes, the request path (dispatch, trace context, access log,
 *              on_done), built-in endpoints, run and drain.
 *   respond.c  what handlers call: params, JSON bodies, the answering set (tandem_respond_*),
 *              logging.
 *   ready.c    the ready checks' probe thread, /readyz from its cached results, the broker
 *              check.
 *   service_events.c  the service's producer and consumers (tandem/events.h): metrics, ready
 *              check and drain hook; built when librdkafka is (TANDEM_SERVICE_EVENTS).
 *   sse.c      server-sent events (tandem_respond_sse, tandem_sse_*): each worker's streams,
 *              heartbeats, broadcasts from any thread through the workers' loops.
 *
 * Per-request context (struct svc_req) hangs on tandem_http_request.user from dispatch until
 * the http core reports the request done (answered or dropped); it is freed, or reused, once the
 * answer has been written (service.c, svc_spare).
 */
#ifndef TANDEM_LIB_SERVICE_INT_H
#define TANDEM_LIB_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/core/core_int.h"
#include "tandem/router.h"
#include "tandem/service.h"
#include "tandem/trace.h"

/* ---- config.c -------------------------------------------------------------------------------- */

struct svc_arg {
    char *key, *value;
    bool used;
};

struct svc_opt {
    char *key, *env, *help, *value;
    const char *source; /* "flag", "env", "default" */
};

struct svc_config {
    struct svc_arg *args; /* every --key value from argv, in order */
    size_t nargs;
    struct svc_opt *opts;
    size_t nopts;
    bool help;
    const char *(*getenv_fn)(const char *name);
};

/* Splits argv[1..argc) into --key value / --key=value pairs (and --help). Returns 0 or
 * TANDEM_EINVAL (a positional argument, or a flag without a value; *bad names it). */
int svc_config_init(struct svc_config *c, int argc, char **argv,
                    const char *(*getenv_fn)(const char *), const char **bad);
/* Declares key and resolves it: last --key flag, else TANDEM_<KEY>, else def. Returns 0,
 * TANDEM_EEXIST or TANDEM_EINVAL (bad key). */
int svc_config_declare(struct svc_config *c, const char *key, const char *def, const char *help);
/* The value of key or NULL. */
const char *svc_config_get(const struct svc_config *c, const char *key);
/* Replaces key's value (declared keys only). */
void svc_config_set(struct svc_config *c, const char *key, const char *value);
/* The first flag no option consumed, or NULL. */
const char *svc_config_unknown(const struct svc_config *c);
void svc_config_cleanup(struct svc_config *c);
/* Splits "host:port" (IPv4 dotted quad, port 0..65535) into host (NUL-terminated, host_len bytes)
 * and *port. Returns 0 or TANDEM_EINVAL. */
int svc_parse_listen(const char *s, char *host, size_t host_len, int *port);
/* Parses a decimal integer in [min, max]. Returns 0 or TANDEM_EINVAL. */
int svc_parse_int(const char *s, long min, long max, long *out);

/* ---- ready.c -------------------------------------------------------------------------------- */

#define SVC_PROBE_MS       1000 /* the probe thread runs every check this often */
#define SVC_PROBE_STALE_MS 5000 /* an answer older than this counts as failing */

/* 0 when one of the brokers in list ("host:port,host:port", at most 16 tried) accepts a TCP
 * connection within timeout_ms (all tried at once: the call takes at most timeout_ms);
 * TANDEM_EIO otherwise. */
int svc_brokers_reachable(const char *list, int timeout_ms);

struct tandem_http_request;
/* Starts the probe thread over s->checks (fixed from here: tandem_service_ready_check refuses
 * once s->prober is set). Returns 0 or TANDEM_EIO (no thread: the run fails). */
int svc_ready_start(struct tandem_service *s);
/* Stops and joins the probe thread (no check runs after it returns); no-op when not started. */
void svc_ready_stop(struct tandem_service *s);
/* GET /readyz: answers from the probe thread's last results, never calling a check. */
void svc_readyz(struct tandem_http_request *req, void *arg);

/* ---- metrics.c ------------------------------------------------------------------------------- */

#define SVC_NBUCKETS 14 /* latency buckets (seconds), +Inf apart */
/* The method label: a CORE_* (the router's methods, lib/core/core_int.h), or one of these two. */
#define SVC_METHOD_OTHER CORE_NMETHODS /* method="other": a method no route can have */
#define SVC_METHOD_NONE \
    (CORE_NMETHODS + 1) /* "(none)": answered by the http core before dispatch */
#define SVC_STAT_SLOT 512

extern const double svc_buckets[SVC_NBUCKETS];

/* One (route, method, status) counter. key = 0: empty; written by one worker, read by scrapes. */
struct svc_slot {
    _Atomic uint32_t key;
    _Atomic uint64_t count;
};

struct svc_hist {
    _Atomic uint64_t bucket[SVC_NBUCKETS]; /* not cumulative; summed at scrape */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
};

/* Per worker: written only by that worker's thread (relaxed atomics, no locks). */
struct svc_stats {
    struct svc_slot slots[SVC_STAT_SLOT];
    _Atomic uint64_t dropped; /* table full */
    struct svc_hist *hist;    /* [nroutes + 1]: the last one is "unmatched" */
};

/* The method label's index of method: its CORE_*, else SVC_METHOD_OTHER. svc_method_name: the
 * label of an index ("GET", "other", "(none)"). */
int svc_method_index(const char *method);
const char *svc_method_name(int index);
void svc_stats_init(struct svc_stats *st, size_t nroutes);
void svc_stats_cleanup(struct svc_stats *st);
void svc_stats_record(struct svc_stats *st, int route, int method, int status, uint64_t ns);
/* Counts one answer in tandem_http_requests_total only (no duration): the http core's own errors,
 * with route nroutes + 1 ("(none)") and method SVC_METHOD_NONE. */
void svc_stats_count(struct svc_stats *st, int route, int method, int status);

struct tandem_metrics_writer {
    char *p;
    size_t len, cap;
    char last[128]; /* the name whose HELP/TYPE was written last */
};
void svc_writer_init(struct tandem_metrics_writer *w);
void svc_writer_cleanup(struct tandem_metrics_writer *w);
void svc_writer_append(struct tandem_metrics_writer *w, const char *s, size_t n);
/* One unlabelled sample of a metrics source's table (svc_metrics_emit). */
struct svc_metric {
    const char *name, *help;
    bool gauge; /* else a counter */
    double value;
};
/* Writes m[0..n) with tandem_metrics_gauge / tandem_metrics_counter. */
void svc_metrics_emit(struct tandem_metrics_writer *w, const struct svc_metric *m, size_t n);
/* Writes the # HELP and # TYPE lines of name unless they were the last ones written. */
void svc_metrics_header(struct tandem_metrics_writer *w, const char *name, const char *help,
                        const char *type);
/* Writes tandem_http_requests_total and tandem_http_request_duration_seconds merged over
 * nworkers stats; route_names[i] names route i (nroutes: "unmatched", nroutes + 1: "(none)",
 * counted only). */
void svc_metrics_http(struct tandem_metrics_writer *w, struct svc_stats *stats, int nworkers,
                      size_t nroutes, const char *const *route_names);

/* ---- service.c ------------------------------------------------------------------------------- */

struct svc_route {
    char *method, *pattern;
    tandem_route_fn fn;
    void *arg;
    int index;
    bool quiet; /* /healthz, /readyz, /metrics: probes and scrapes; answers below 400 at debug */
};

struct svc_req {
    struct tandem_service *svc;
    struct tandem_route_match m;
    char traceparent[TANDEM_TRACEPARENT_SIZE];
    char trace_id[33];
    char request_id[TANDEM_REQUEST_ID_MAX + 1]; /* X-Request-Id when valid, else "" */
    int route;                                  /* index, or nroutes for unmatched */
    int method;                                 /* svc_method_index */
    uint64_t start_ns;
    const struct tandem_claims *claims; /* service_auth.c: the token's, once verified; released
                                           with the context, once the answer is written */
    bool streamed;  /* answered with a stream (sse.c): its head went out before on_done */
    size_t buf_cap; /* at least path length + TANDEM_ROUTE_MAX_PARAMS + 1 */
    char buf[];     /* captured parameter values */
};

struct svc_hook {
    char *name;
    void *fn; /* check, stop or emit function, per list */
    void *arg;
};

struct tandem_service {
    char *name;
    struct svc_config cfg;
    struct tandem_router *router;
    struct svc_route **routes;
    size_t nroutes;
    const char **route_names; /* [nroutes + 2], built by run: then "unmatched", "(none)" */
    struct svc_hook *checks, *stops, *sources;
    size_t nchecks, nstops, nsources;
    int workers;
    struct svc_stats *stats; /* [workers] */
    struct tandem_http_server *http;
    struct svc_events *events; /* service_events.c; NULL until events are used */
    struct svc_prober *prober; /* ready.c; set while tandem_service_run probes */
    struct svc_auth *auth;     /* service_auth.c; NULL until tandem_service_auth */
    struct svc_pool *pool;     /* service_pool.c; the pool's state, made before any thread */
    struct svc_sse *sse;       /* sse.c; made by tandem_service_run before any thread */
    bool running;
};

/* sse.c: one worker's streams. head, cursor and beat belong to the worker's thread; open and the
 * counters are read by any thread (/metrics, tandem_sse_each); loop is set before serving. */
struct svc_sse_worker {
    struct tandem_sse *head;        /* its open streams */
    struct tandem_sse *cursor;      /* the next stream a walk visits (moved past an unlinked one) */
    struct tandem_loop_timer *beat; /* the heartbeat timer, while streams are open */
    int64_t beat_ms;
    struct tandem_loop *loop;
    atomic_int open;
    _Atomic uint64_t events, dropped;
};

struct svc_sse {
    pthread_mutex_t mu;
    struct tandem_http_server *http; /* under mu: set while the workers serve (posts allowed) */
    int nworkers;
    struct svc_sse_worker *w; /* [nworkers] */
};

/* sse.c: svc_sse_run (run, before any thread) makes the workers' state with the heartbeat period
 * and registers the metrics source; svc_sse_serving(s, http) once the workers serve, and
 * svc_sse_serving(s, NULL) before they stop (no post after it); svc_sse_free (tandem_service_free,
 * after HTTP has stopped). */
void svc_sse_run(struct tandem_service *s, int64_t heartbeat_ms);
void svc_sse_serving(struct tandem_service *s, struct tandem_http_server *http);
void svc_sse_free(struct tandem_service *s);

/* run.c: now + drain-timeout (default 10 s), in monotonic ms; *seconds (may be NULL) gets the
 * timeout. */
int64_t svc_drain_deadline(const struct tandem_service *s, long *seconds);

/* service_events.c: at tandem_service_run, before serving: registers the events' ready check and
 * metrics source, starts the consumers subscribed so far. Returns 0 or the error of a consumer
 * that could not start. At SIGTERM, with deadline = monotonic ms at SIGTERM + drain-timeout:
 * svc_events_stop_consumers after HTTP has drained (waits for handlers in progress even past
 * the deadline), svc_events_close_producer after every on_stop hook. svc_events_free
 * (tandem_service_free) stops and frees whatever the drain did not. */
int svc_events_run(struct tandem_service *s);
void svc_events_stop_consumers(struct tandem_service *s, int64_t deadline);
void svc_events_close_producer(struct tandem_service *s, int64_t deadline);
void svc_events_free(struct tandem_service *s);

/* service_pool.c: svc_pool_run (run, before any thread) registers the pool's metrics source;
 * svc_pool_drain (after HTTP has drained, before it stops) drains the pool with what is left of
 * deadline (monotonic ms), cancelled work answered 503; svc_pool_free (tandem_service_free). */
void svc_pool_run(struct tandem_service *s);
void svc_pool_drain(struct tandem_service *s, int64_t deadline);
void svc_pool_free(struct tandem_service *s);

/* service_auth.c (built with tandem_auth: TANDEM_SERVICE_AUTH): svc_auth_done releases a
 * request's claims and sets x->claims NULL (service.c, once the request's answer is written);
 * svc_auth_free frees what tandem_service_auth made (tandem_service_free). */
void svc_auth_done(struct svc_req *x);
void svc_auth_free(struct tandem_service *s);

/* service.c: the http core's callbacks (run.c starts the server with them). */
void svc_dispatch(struct tandem_http_request *req, void *arg);
void svc_done(struct tandem_http_request *req, int status, void *arg);
void svc_core_error(int worker, int status, void *arg);

/* The runtime's context of a dispatched request. */
static inline struct svc_req *svc_req_of(const struct tandem_http_request *req)
{
    return (struct svc_req *)req->user;
}
const char *svc_name(const struct tandem_service *s);

#endif
