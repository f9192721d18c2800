/*
 * tandem/service.h: libtandem's runtime, what turns a handful of handlers into a service.
 *
 * MODEL. A service is one process: tandem_service_new reads its configuration (flags, then
 * TANDEM_* environment variables, then defaults), the program registers routes, ready checks,
 * drain hooks and metrics sources, and tandem_service_run serves HTTP on TANDEM_WORKERS worker
 * threads (tandem/http.h) until SIGTERM or SIGINT, then drains and returns 0.
 *
 *   flag          environment        key          default
 *   --listen      TANDEM_LISTEN      "listen"     127.0.0.1:8101  (IPv4 host:port; port 0 = any)
 *   --brokers     TANDEM_BROKERS     "brokers"    127.0.0.1:9092
 *   --data-dir    TANDEM_DATA_DIR    "data-dir"   var/<name>      (shared by the instances)
 *   --instance    TANDEM_INSTANCE    "instance"   0               (the instance's number)
 *   --instance-dir TANDEM_INSTANCE_DIR "instance-dir" <data-dir>/<instance> (this instance's own)
 *   --workers     TANDEM_WORKERS     "workers"    1               (event-loop threads, 0..256; 0 =
 * one per CPU)
 *   --log-level   TANDEM_LOG_LEVEL   "log-level"  info            (debug, info, warn, error)
 *   --pool-threads TANDEM_POOL_THREADS "pool-threads" 0           (tandem/pool.h; 0 = one per CPU)
 *   --pool-queue  TANDEM_POOL_QUEUE  "pool-queue" 256             (jobs waiting; beyond: 503)
 *   --assignment-strategy TANDEM_ASSIGNMENT_STRATEGY "assignment-strategy" unset (consumers'
 *                 partition.assignment.strategy; cooperative-sticky: incremental rebalancing)
 *   --sse-heartbeat TANDEM_SSE_HEARTBEAT "sse-heartbeat" 15         (seconds, 1..3600: a comment
 *                 on server-sent event streams quiet that long, see tandem_respond_sse)
 *
 * A flag beats the environment, which beats the default. Flags are written --name=value or
 * --name value. --help prints every option (with the service's own, tandem_service_option).
 *
 * Every request: its W3C traceparent is taken from the request, or a new trace is started when it
 * has none or an invalid one; handlers read it with tandem_request_traceparent; the response
 * carries it back in a traceparent header; its X-Request-Id, when safe, is its request id
 * (tandem_request_id); one JSON access-log line per request names the trace id, the request id,
 * route, method, status and duration. Routing uses tandem/router.h: an unknown path is a 404,
 * a known path with another method a 405 with Allow, both as application/problem+json.
 *
 * Answering: a handler answers with the tandem_respond_* set below ("answering a request"), and
 * only with it. The set is declared here, not in tandem/http.h, because this is the header a
 * service includes and because its calls need what the bare HTTP core must not: JSON values
 * (jansson), problem documents and ETags (tandem_core), the runtime's per-request context. Two
 * families in two headers were how services came to mix them; the core keeps its one primitive
 * (tandem_http_respond, tandem_http_add_header) for programs that embed it alone.
 *
 * Built-in routes: GET /healthz (200 {"status":"ok"} while the process serves), GET /readyz (200
 * {"status":"ready"} when every ready check passes, else 503 problem+json naming the failing
 * checks) and GET /metrics (Prometheus text format 0.0.4).
 *
 * Beyond this header: tandem/validate.h (tandem_json_body_valid: a body checked against a table,
 * 422 with RealWorld's errors), tandem/auth.h (tandem_service_auth, tandem_require_auth: tokens)
 * and tandem/pool.h (tandem_offload: blocking work off the workers) belong to the runtime too.
 *
 * Threads: handlers, ready checks, metrics sources run on worker threads, several at once when
 * there are several workers. Registration (routes, checks, hooks, sources, options) happens
 * before tandem_service_run, on one thread. All strings passed in are copied unless said.
 */
#ifndef TANDEM_SERVICE_H
#define TANDEM_SERVICE_H

#include <stddef.h>

#include <jansson.h>

#include "tandem/error.h"
#include "tandem/events.h"
#include "tandem/http.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tandem_service;
struct tandem_metrics_writer;

/*
 * Creates a service called name (letters, digits, '-', '_'; used in logs and the default data
 * directory) configured from argv (argv[0] is skipped) and the environment, as in the table
 * above. Sets up JSON-line logging to stderr. Returns 0 and *out (free with
 * tandem_service_free), or TANDEM_EINVAL after logging why (a bad value, a flag without a value).
 * Flags it does not know are kept for tandem_service_option; any still unknown when
 * tandem_service_run starts are an error there.
 */
TANDEM_EXPORT int tandem_service_new(const char *name, int argc, char **argv,
                                     struct tandem_service **out);

/*
 * Declares a service-specific option key: flag --key, environment TANDEM_<KEY> (upper case, '-'
 * as '_'), value def when neither is given (may be NULL). Resolved at once from the argv and
 * environment given to tandem_service_new. Returns 0, TANDEM_EEXIST (key already declared) or
 * TANDEM_EINVAL (key not made of lower-case letters, digits and '-'; or tandem_service_run has
 * started: the configuration is final then, see tandem_service_config).
 */
TANDEM_EXPORT int tandem_service_option(struct tandem_service *s, const char *key, const char *def,
                                        const char *help);

/* The value of an option ("listen", "brokers", "data-dir", "workers", "log-level", or a declared
 * key); NULL for an unknown key or an option without value. Borrowed from s: valid until
 * tandem_service_free, except that tandem_service_run, before it starts any thread, rewrites
 * "listen" with port 0 resolved to the port it reserved; from then on no option changes, so any
 * thread (a handler, a consumer) may read any option while the service runs. */
TANDEM_EXPORT const char *tandem_service_config(const struct tandem_service *s, const char *key);

/* A route handler: same contract as tandem_http_handler_fn (answer exactly once, now or later on
 * the same worker thread, here with the tandem_respond_* calls below), with the route's arg. */
typedef void (*tandem_route_fn)(struct tandem_http_request *req, void *arg);

/*
 * Routes method + pattern (tandem/router.h templates: "/posts/{id}", "/files/{path...}") to fn.
 * HEAD is answered by the GET route. Returns 0, TANDEM_EINVAL (bad method or pattern, or the
 * service is already running) or TANDEM_EEXIST (already routed).
 */
TANDEM_EXPORT int tandem_route(struct tandem_service *s, const char *method, const char *pattern,
                               tandem_route_fn fn, void *arg);

/* The percent-decoded value of the pattern's {name} for req, or NULL. Borrowed: valid until req
 * is answered. Only for requests dispatched by a tandem_service. */
TANDEM_EXPORT const char *tandem_param(const struct tandem_http_request *req, const char *name);

/* req's trace context as a traceparent value (55 characters): the request's own when it sent a
 * valid one, else the new trace started for it. Send it on downstream calls and events.
 * Borrowed: valid until req is answered. */
TANDEM_EXPORT const char *tandem_request_traceparent(const struct tandem_http_request *req);

/* req's request id: its X-Request-Id header (the gateway always sends one) when that is 1..128
 * characters of letters, digits and "-_.:+/=@" (tandem/trace.h), else NULL (an id that is not
 * safe is ignored, not logged). The access-log line and tandem_log_info lines carry it as
 * "request_id"; pass it on to the calls the request makes (tandem_http_call_opts.request_id).
 * Borrowed: valid until req is answered. */
TANDEM_EXPORT const char *tandem_request_id(const struct tandem_http_request *req);

/*
 * The request body parsed as JSON (a new reference: json_decref it). When the Content-Type is not
 * application/json (or a +json type) the request is answered 415 and NULL returned; when the body
 * is not valid JSON it is answered 400 (problem+json, detail with jansson's line and column) and
 * NULL returned. In both cases req is gone: the handler just returns.
 */
TANDEM_EXPORT json_t *tandem_json_body(struct tandem_http_request *req);

/*
 * ---- answering a request --------------------------------------------------------------------
 *
 * A handler answers its request exactly once, now or later on the same worker thread, with one
 * of the calls below; afterwards req is gone. They are a service's whole answering set, all in
 * this header (tandem/http.h's tandem_http_respond and tandem_http_add_header are the bare HTTP
 * core's primitives, for programs that embed the core without this runtime: benchmark servers,
 * tests; this set is built on them). Every answer passes through the runtime: the traceparent
 * header, the metrics, the access-log line.
 *
 *   tandem_respond_header       a header for the coming answer (before it; any number)
 *   tandem_respond              status, Content-Type and bytes, as they are
 *   tandem_respond_json         status and a JSON value (application/json)
 *   tandem_respond_problem      an RFC 9457 problem (application/problem+json)
 *   tandem_respond_problem_ext  the same with extension members
 *   tandem_respond_cached       a cacheable 200 (ETag, Cache-Control), or 304/412
 *   tandem_respond_sse          a stream of server-sent events that stays open (below)
 *
 * For example, RealWorld's 401 and 422:
 *
 *   tandem_respond_header(req, "WWW-Authenticate", "Token");
 *   tandem_respond_problem(req, 401, "missing or invalid token");
 *
 *   tandem_respond_problem_ext(req, 422, "invalid fields",
 *                              json_pack("{s:{s:[s]}}", "errors", "email", "is invalid"));
 *   -> {"type":"about:blank","title":"Unprocessable Content","status":422,
 *       "detail":"invalid fields","errors":{"email":["is invalid"]}}
 *
 * A status a call cannot send (outside 100..599; for a problem outside 400..599) is a bug in the
 * service: the call logs it, answers 500 (problem+json) instead, and returns TANDEM_EINVAL, so a
 * request is never left unanswered.
 */

/* Adds a response header for req's coming answer (Content-Length, Date, Server and Connection are
 * the core's; Content-Type is the answering call's). name and value are copied. Returns 0,
 * TANDEM_EINVAL (CR or LF in either, ':' in name: header injection) or TANDEM_ETOOLARGE (more
 * than 4 KiB of added headers). */
TANDEM_EXPORT int tandem_respond_header(struct tandem_http_request *req, const char *name,
                                        const char *value);

/* Answers req with status, content_type (NULL: no Content-Type) and body[0..len) (copied; not sent
 * for HEAD, whose Content-Length is still len; neither body nor Content-Length for 204 and 304,
 * RFC 9110 section 8.6). Returns 0 or TANDEM_EINVAL (status outside 100..599: answered 500). */
TANDEM_EXPORT int tandem_respond(struct tandem_http_request *req, int status,
                                 const char *content_type, const void *body, size_t len);

/* Answers req with status and body as compact JSON (application/json). body is stolen (decref'd
 * here, also on error); NULL sends an empty body. Returns 0, TANDEM_ENOMEM (the value could not
 * be encoded: answered 500), or as tandem_respond. */
TANDEM_EXPORT int tandem_respond_json(struct tandem_http_request *req, int status, json_t *body);

/* Answers req with the RFC 9457 problem {"type":"about:blank","title":<reason phrase>,
 * "status":status,"detail":detail} (detail NULL, or not UTF-8: no "detail"). status is
 * 400..599. Returns 0 or TANDEM_EINVAL (status out of range: answered 500). */
TANDEM_EXPORT int tandem_respond_problem(struct tandem_http_request *req, int status,
                                         const char *detail);

/* As tandem_respond_problem, followed by the members of the JSON object members as the
 * document's extension members (RFC 9457 section 3.2), in their order. members is stolen
 * (decref'd here, also on error); NULL adds none. Each name must start with a letter, be letters,
 * digits and '_', at least three long, and not a standard member (type, title, status, detail,
 * instance); members that break this, or a members that is not an object, is a bug: answered 500,
 * TANDEM_EINVAL returned. Headers for the answer (WWW-Authenticate, Retry-After) go first, with
 * tandem_respond_header. */
TANDEM_EXPORT int tandem_respond_problem_ext(struct tandem_http_request *req, int status,
                                             const char *detail, json_t *members);

/*
 * Answers req 422 with application/problem+json: the RFC 9457 members (type "about:blank", title
 * "Unprocessable Content", status 422, detail naming the fields) and "errors", the errors object
 * as it is ({"email":["has already been taken"]}). errors is stolen (decref'd here, always).
 * Returns 0 or as tandem_respond_problem_ext; req is answered in every case.
 */
TANDEM_EXPORT int tandem_respond_invalid(struct tandem_http_request *req, json_t *errors);

/*
 * Answers a cacheable representation: ETag (strong, from the body's bytes, tandem/cache.h) and,
 * when cache_control is not NULL, that Cache-Control value. When the request's If-None-Match
 * matches, a GET/HEAD is answered 304 Not Modified (same ETag and Cache-Control, no body) and any
 * other method 412 (problem+json). Otherwise 200 with content_type and body (copied). Returns as
 * tandem_respond.
 */
TANDEM_EXPORT int tandem_respond_cached(struct tandem_http_request *req, const char *content_type,
                                        const void *body, size_t len, const char *cache_control);

/*
 * ---- server-sent events ---------------------------------------------------------------------
 *
 * An answer that stays open and carries events as they happen (the WHATWG HTML standard's
 * text/event-stream, read by a browser's EventSource): tandem_respond_sse answers the request
 * 200 with Content-Type: text/event-stream, Cache-Control: no-cache and X-Accel-Buffering: no (so
 * nginx passes it through unbuffered) and returns the stream; tandem_sse_send writes events to it
 * on the request's worker; tandem_sse_broadcast and tandem_sse_each reach every open stream of a
 * route from any thread (a consumer's handler). A quiet stream gets the comment ":" (a heartbeat)
 * every --sse-heartbeat seconds (15; never two beats without a byte), so proxies that time out a
 * silent upstream keep it. The request's access-log line and metrics are written when the stream
 * ends, its duration being the stream's life; /metrics has tandem_sse_streams (open now),
 * tandem_sse_events_total and tandem_sse_dropped_total (events a slow client's full queue
 * refused).
 *
 *   static void live(struct tandem_http_request *req, void *arg)   (GET /greetings/live)
 *   {
 *       struct tandem_sse *sse = tandem_respond_sse(req, NULL, NULL);
 *       if (sse != NULL) {
 *           tandem_sse_retry(sse, 2000);
 *       }
 *   }
 *   ... from the consumer's thread:
 *   tandem_sse_broadcast(svc, "/greetings/live", "greeted", "42", json, strlen(json));
 *
 * A stream lives on its request's worker thread: every tandem_sse_* call but broadcast and each
 * runs there (a handler, a loop callback, an each callback). It ends in one of two ways: the
 * service calls tandem_sse_close, or the stream ends without it (the client went away, read
 * nothing for 60 s while events waited, or the service drains or stops: at SIGTERM every stream is
 * ended at once with its last chunk, so a browser reconnects, to another instance behind the
 * gateway) and on_close(sse, arg) runs on the worker; the stream is gone once tandem_sse_close
 * has returned or on_close has. Inside on_close, sends answer TANDEM_ECLOSED and
 * tandem_sse_close does nothing.
 */
struct tandem_sse;
typedef void (*tandem_sse_close_fn)(struct tandem_sse *sse, void *arg);

/* Answers req with an open event stream (above); on_close (may be NULL) and arg as above. Returns
 * the stream, or NULL when there is none and req has been answered: a HEAD request (the head
 * alone), a client that went away meanwhile, or a service draining (the stream begun and ended
 * at once: the client reconnects); also NULL, logged, and req not answered, when called off
 * req's worker (a bug). */
TANDEM_EXPORT struct tandem_sse *tandem_respond_sse(struct tandem_http_request *req,
                                                    tandem_sse_close_fn on_close, void *arg);

/* Sends one event: "event: <event>" (NULL or "": none, the client's "message"), "id: <id>" (NULL:
 * none; the client sends the last one back as Last-Event-ID when it reconnects), data[0..len)
 * (any bytes; one "data:" line per line, split at CRLF, LF and CR, so the client reads every line
 * break as LF), then the blank line. Copied; written whole or not at all. Returns 0,
 * TANDEM_EAGAIN (the client reads too slowly: its queue, 64 KiB, is full; the event was not
 * sent: drop it or throttle), TANDEM_ETOOLARGE (larger than the queue), TANDEM_EINVAL (CR or LF
 * in event or id) or TANDEM_ECLOSED (inside on_close). */
TANDEM_EXPORT int tandem_sse_send(struct tandem_sse *sse, const char *event, const char *id,
                                  const void *data, size_t len);
/* The same with data as compact JSON (one line). data is stolen (decref'd here, also on error);
 * NULL: TANDEM_EINVAL. Returns as tandem_sse_send, or TANDEM_ENOMEM (not encodable). */
TANDEM_EXPORT int tandem_sse_send_json(struct tandem_sse *sse, const char *event, const char *id,
                                       json_t *data);
/* Sends "retry: <ms>": how long the client waits before it reconnects. Returns as tandem_sse_send
 * (TANDEM_EINVAL: ms < 0). */
TANDEM_EXPORT int tandem_sse_retry(struct tandem_sse *sse, int64_t ms);
/* The client's Last-Event-ID header (the id of the last event it got before it reconnected), or
 * NULL. Borrowed: valid while the stream is. */
TANDEM_EXPORT const char *tandem_sse_last_event_id(const struct tandem_sse *sse);
/* The stream's request (tandem_param, tandem_log_info...), valid while the stream is, and the arg
 * given to tandem_respond_sse. */
TANDEM_EXPORT struct tandem_http_request *tandem_sse_request(const struct tandem_sse *sse);
TANDEM_EXPORT void *tandem_sse_arg(const struct tandem_sse *sse);
/* Ends the stream (its last chunk; the connection goes on) and frees it; on_close does not run.
 * NULL, or a stream inside its on_close: no-op. */
TANDEM_EXPORT void tandem_sse_close(struct tandem_sse *sse);

/* From ANY thread: fn(sse, arg) runs on each worker, for every stream open there that was
 * answered on route (the pattern as registered with tandem_route; NULL: every stream of the
 * service); fn may send to sse or close it. Then done(arg) (may be NULL) runs once, on the last
 * worker to finish or, when no worker had a stream open, on the calling thread before this
 * returns. Returns 0; or, done not run: TANDEM_EINVAL (fn NULL), TANDEM_ENOENT (route not
 * registered), TANDEM_ECLOSED (the service is not serving: before tandem_service_run has started
 * HTTP, or from the drain on). */
typedef void (*tandem_sse_each_fn)(struct tandem_sse *sse, void *arg);
TANDEM_EXPORT int tandem_sse_each(struct tandem_service *s, const char *route,
                                  tandem_sse_each_fn fn, void *arg, void (*done)(void *arg));
/* From ANY thread: sends one event (as tandem_sse_send; formatted once, copied) to every stream
 * open on route (NULL: every stream). Clients whose queue is full miss it (counted in
 * tandem_sse_dropped_total). Returns 0, TANDEM_EINVAL (CR or LF in event or id), or as
 * tandem_sse_each. */
TANDEM_EXPORT int tandem_sse_broadcast(struct tandem_service *s, const char *route,
                                       const char *event, const char *id, const void *data,
                                       size_t len);

/* Adds a ready check (0 = ready). Checks run on tandem_service_run's probe thread, one after the
 * other, every second, from before the workers start until the drain (after HTTP has stopped,
 * before the on_stop hooks); /readyz answers from their last results (not ready before a first
 * success, nor when the last answer is older than 5 s). Keep a check bounded: a slow one delays
 * the next probe of the others. name appears in the answer. Register before tandem_service_run
 * (a check added while it runs is ignored, logged). */
TANDEM_EXPORT void tandem_service_ready_check(struct tandem_service *s, const char *name,
                                              int (*check)(void *arg), void *arg);

/* Adds the ready check "broker": ready when one of the --brokers addresses (IPv4 host:port,
 * comma-separated; up to 16, tried at once) accepts a TCP connection within 500 ms. Services that
 * produce or consume events register it (the events module does so for them). */
TANDEM_EXPORT void tandem_service_ready_brokers(struct tandem_service *s);

/* Adds a drain hook: after HTTP has drained (no listening socket, in-flight requests answered
 * or the drain timeout passed), tandem_service_run calls the hooks in reverse order of
 * registration, on its own thread (consumers stop, producers flush, databases close). */
TANDEM_EXPORT void tandem_service_on_stop(struct tandem_service *s, void (*fn)(void *arg),
                                          void *arg);

/*
 * Events (tandem/events.h; only when libtandem was built with librdkafka). The service owns one
 * producer and its consumers; tandem_service_run adds for them the ready check "broker" (when
 * they were set up before the run), the metrics below, and a drain hook that runs first after
 * HTTP has drained, before the service's own hooks: every consumer stops (tandem_consumer_stop:
 * handled offsets committed, group left; each bounded by --drain-timeout), then the producer is
 * freed (tandem_producer_free: flushed for at most 10 s, what is left dropped).
 *
 *   tandem_events_produced_total, tandem_events_delivered_total,
 *   tandem_events_delivery_failed_total                                   (the producer)
 *   tandem_events_consumed_total{group}, tandem_events_retried_total{group},
 *   tandem_events_dead_lettered_total{group}                              (each consumer)
 *   tandem_consumer_lag{group,topic,partition}            log end offset - position
 *   tandem_consumer_committed_lag{group,topic,partition}  log end offset - committed offset
 *                                            (each assigned partition; tandem_consumer_lags)
 */

/*
 * The service's producer, created at the first call (brokers from --brokers, Kafka client id the
 * service's name, CloudEvents source "/<name>"); the same one afterwards. Thread-safe (handlers
 * call it). Returns NULL when it cannot be created (logged; a later call tries again) or once the
 * drain has freed it. Call it once before tandem_service_run to get the "broker" ready check.
 */
TANDEM_EXPORT struct tandem_producer *tandem_service_producer(struct tandem_service *s);

/*
 * Consumes topics[0..ntopics) in the consumer group group (letters, digits, '.', '_', '-';
 * one subscription per group) with fn(ev, arg) as the handler (tandem/events.h: on the
 * consumer's own thread; OK, RETRY or FAIL). The consumer (client id the service's name, the
 * events module's defaults otherwise) starts at tandem_service_run, or at once when the service
 * already runs. Topics copied. Returns 0, TANDEM_EINVAL (a bad argument), TANDEM_EEXIST (group
 * already subscribed), TANDEM_ECLOSED (the service has drained), or the error of a consumer
 * that could not start at once.
 */
TANDEM_EXPORT int tandem_service_subscribe(struct tandem_service *s, const char *group,
                                           const char *const *topics, int ntopics,
                                           tandem_event_handler_fn fn, void *arg);

/*
 * tandem_service_subscribe with the consumer's other settings (tandem/events.h): cfg's group_id,
 * topics, ntopics, handler and arg as above, and its max_attempts, backoffs, dead_letter_suffix,
 * session_timeout_ms, on_partitions (the assignment hook) and queued_records (the prefetch).
 * brokers, client_id and assignment_strategy are the service's (--brokers, its name,
 * --assignment-strategy): cfg's are ignored. Everything is copied. Returns as
 * tandem_service_subscribe (TANDEM_EINVAL also for a negative setting or an empty suffix).
 */
TANDEM_EXPORT int tandem_service_subscribe_config(struct tandem_service *s,
                                                  const struct tandem_consumer_config *cfg);

/* Adds a metrics source: every scrape of /metrics calls emit(w, arg) after the HTTP metrics, on a
 * worker thread; emit writes its series with tandem_metrics_counter/gauge. */
TANDEM_EXPORT void
tandem_service_metrics_source(struct tandem_service *s,
                              void (*emit)(struct tandem_metrics_writer *w, void *arg), void *arg);

/* Write one sample: "name{labels} value". The # HELP and # TYPE lines are written before the
 * first sample of a name (consecutive samples of one name share them). labels is the inside of
 * the braces, already escaped ("topic=\"posts\",partition=\"0\""), or NULL. */
TANDEM_EXPORT void tandem_metrics_counter(struct tandem_metrics_writer *w, const char *name,
                                          const char *help, const char *labels, double value);
TANDEM_EXPORT void tandem_metrics_gauge(struct tandem_metrics_writer *w, const char *name,
                                        const char *help, const char *labels, double value);
/* Writes one histogram series (its # HELP and # TYPE histogram lines first, shared as above):
 * name_bucket{labels,le="<bounds[i]>"} with the cumulative counts for each of bounds[0..n)
 * (ascending), name_bucket{labels,le="+Inf"}, name_sum{labels} sum and name_count{labels}.
 * counts[0..n] are per bucket, not cumulative: counts[i] the observations in
 * (bounds[i-1], bounds[i]], counts[n] those above bounds[n-1]. labels as above, or NULL. */
TANDEM_EXPORT void tandem_metrics_histogram(struct tandem_metrics_writer *w, const char *name,
                                            const char *help, const char *labels,
                                            const double *bounds, const uint64_t *counts, size_t n,
                                            double sum);

/*
 * Serves until SIGTERM or SIGINT (blocked in every thread, taken with sigwait here), then drains:
 * stops accepting, lets in-flight requests finish (at most drain-timeout, 10 s), runs the
 * on_stop hooks, and returns 0. Logs {"msg":"ready","listen":"127.0.0.1:PORT",...} once the
 * socket is bound. With --help: prints the options and returns 0 without serving. Returns
 * TANDEM_EINVAL (an unknown flag) or TANDEM_EIO (cannot listen) without serving; then no ready
 * check or event handler runs any more (the threads it had started are stopped).
 */
TANDEM_EXPORT int tandem_service_run(struct tandem_service *s);

/* The version of libtandem.so ("0.1.0"); only in the shared library (not in the static parts). */
TANDEM_EXPORT const char *tandem_version(void);

/* Frees the service (after tandem_service_run returned, or instead of it). NULL is a no-op. */
TANDEM_EXPORT void tandem_service_free(struct tandem_service *s);

/*
 * Logs one JSON line at info level: {"ts":...,"level":"info","comp":<service>,"msg":msg,
 * "trace_id":..., fields}. req may be NULL (no trace id). fields_fmt is a printf format making
 * zero or more JSON members ("\"user\":%d"), or NULL. The line is always one valid JSON object:
 * msg is escaped (bytes that are not UTF-8 become U+FFFD), and members that do not come out as
 * valid JSON (a "\"name\":\"%s\"" of a string holding a quote, a newline or bytes that are not
 * UTF-8; a %f of NaN) are written as one escaped string, "fields_invalid":"<what was formatted>".
 * So format a string from outside as a number or escape it yourself, or it lands there.
 */
TANDEM_EXPORT void tandem_log_info(const struct tandem_http_request *req, const char *msg,
                                   const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at warn and error level (a failure the service recovers from; one it does not). */
TANDEM_EXPORT void tandem_log_warn(const struct tandem_http_request *req, const char *msg,
                                   const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));
TANDEM_EXPORT void tandem_log_error(const struct tandem_http_request *req, const char *msg,
                                    const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
