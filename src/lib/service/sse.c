/*
 * sse.c: server-sent events in the runtime (service.h's tandem_respond_sse and tandem_sse_*), on
 * the HTTP core's streamed answers (tandem_http_stream_*, src/lib/http/stream.c) and
 * tandem_core's event writer (core_sse_format).
 *
 * MODEL. A stream (struct tandem_sse) belongs to the worker thread of its request, like the
 * request itself; each worker keeps its open streams in a list (struct svc_sse_worker), touched
 * only by that thread. Other threads reach the streams through the workers' loops:
 * tandem_sse_each posts one callback to each worker that has streams open (its count is an
 * atomic, so an idle worker is not woken) and the callback walks that worker's list; a
 * broadcast is an each whose callback writes the same event, formatted once and shared by the
 * workers (freed by the last one). The loops are reached through the HTTP server
 * (tandem_http_server_loop), whose pointer sits under svc_sse.mu: set once the workers run,
 * cleared before they stop, so a post never names a loop that is gone.
 *
 * A walk survives its callback closing streams: the list keeps a cursor, the next stream to
 * visit, which an unlink moves past the stream it removes.
 *
 * LIFE OF A STREAM. tandem_respond_sse adds Cache-Control: no-cache, X-Accel-Buffering: no (nginx
 * passes the stream through unbuffered) and the traceparent to the head and begins the stream;
 * the request's access-log line and metrics wait for its end (the runtime's on_done, service.c),
 * so the line's duration is the stream's life. It ends by tandem_sse_close (the owner), or by
 * the core (the client left, read nothing for the idle timeout, the drain or the stop): then the
 * owner's on_close runs and the stream is freed after it. The worker's heartbeat timer, every
 * --sse-heartbeat seconds while the worker has streams, writes the comment ":\n\n" to each
 * stream that sent nothing since the previous beat, so proxies that time out a quiet upstream
 * (nginx's proxy_read_timeout, 60 s) keep the connection: no stream stays quiet for two beats.
 *
 * BACK-PRESSURE. An event is written whole or not at all (tandem_http_stream_write): when the
 * client reads too slowly for the queue (64 KiB), tandem_sse_send answers TANDEM_EAGAIN and the
 * event is not sent (counted in tandem_sse_dropped_total); the owner may throttle that client.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "lib/core/core_int.h"
#include "service_int.h"

static const char HEARTBEAT[] = ":\n\n";

struct tandem_sse {
    struct tandem_http_request *req;
    struct svc_sse_worker *wk;
    struct tandem_sse *prev, *next;
    tandem_sse_close_fn on_close;
    void *arg;
    int route;
    bool sent;    /* something was written since the last heartbeat tick */
    bool closing; /* in on_close: gone once it returns */
};

/* ---- the worker's list ------------------------------------------------------------------------
 */

static void list_link(struct svc_sse_worker *wk, struct tandem_sse *e)
{
    e->prev = NULL;
    e->next = wk->head;
    if (wk->head != NULL) {
        wk->head->prev = e;
    }
    wk->head = e;
    atomic_fetch_add_explicit(&wk->open, 1, memory_order_relaxed);
}

static void list_unlink(struct svc_sse_worker *wk, struct tandem_sse *e)
{
    if (wk->cursor == e) {
        wk->cursor = e->next; /* a walk in progress goes on past it */
    }
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        wk->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    atomic_fetch_sub_explicit(&wk->open, 1, memory_order_relaxed);
}

/* Calls fn(e, arg) for every stream of wk on route (-1: all), fn free to close any of them. */
static void list_walk(struct svc_sse_worker *wk, int route,
                      void (*fn)(struct tandem_sse *e, void *arg), void *arg)
{
    wk->cursor = wk->head;
    while (wk->cursor != NULL) {
        struct tandem_sse *e = wk->cursor;
        wk->cursor = e->next;
        if (route < 0 || e->route == route) {
            fn(e, arg);
        }
    }
}

/* ---- writing ----------------------------------------------------------------------------------
 */

/* Writes bytes already formatted; counts an event (event true) or a heartbeat. */
static int sse_write(struct tandem_sse *e, const char *p, size_t n, bool event)
{
    if (e->closing) {
        return TANDEM_ECLOSED;
    }
    int rc = tandem_http_stream_write(e->req, p, n);
    if (rc == 0) {
        e->sent = true;
        if (event) {
            atomic_fetch_add_explicit(&e->wk->events, 1, memory_order_relaxed);
        }
    } else if (event && (rc == TANDEM_EAGAIN || rc == TANDEM_ETOOLARGE)) {
        atomic_fetch_add_explicit(&e->wk->dropped, 1, memory_order_relaxed);
    }
    return rc;
}

/* Formats one event into a buffer: *out is buf or a malloc'd one (free it when it is not buf). */
static int sse_format(const char *event, const char *id, const void *data, size_t len, char *buf,
                      size_t cap, char **out, size_t *n)
{
    *out = buf;
    int rc = core_sse_format(event, id, data, len, buf, cap, n);
    if (rc == TANDEM_ETOOLARGE) {
        *out = xmalloc(*n);
        rc = core_sse_format(event, id, data, len, *out, *n, n);
    }
    return rc;
}

int tandem_sse_send(struct tandem_sse *sse, const char *event, const char *id, const void *data,
                    size_t len)
{
    if (sse->closing) {
        return TANDEM_ECLOSED;
    }
    char buf[1024], *p = NULL;
    size_t n = 0;
    int rc = sse_format(event, id, data, len, buf, sizeof(buf), &p, &n);
    if (rc == 0) {
        rc = sse_write(sse, p, n, true);
    }
    if (p != buf) {
        free(p);
    }
    return rc;
}

int tandem_sse_send_json(struct tandem_sse *sse, const char *event, const char *id, json_t *data)
{
    char *text = data != NULL ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(data);
    if (text == NULL) {
        return data == NULL ? TANDEM_EINVAL : TANDEM_ENOMEM;
    }
    int rc = tandem_sse_send(sse, event, id, text, strlen(text)); /* compact: one line */
    free(text);
    return rc;
}

int tandem_sse_retry(struct tandem_sse *sse, int64_t ms)
{
    if (ms < 0) {
        return TANDEM_EINVAL;
    }
    char line[40];
    int n = snprintf(line, sizeof(line), "retry: %lld\n\n", (long long)ms);
    return sse_write(sse, line, (size_t)n, false);
}

const char *tandem_sse_last_event_id(const struct tandem_sse *sse)
{
    return tandem_http_header(sse->req, "Last-Event-ID");
}

struct tandem_http_request *tandem_sse_request(const struct tandem_sse *sse)
{
    return sse->req;
}

void *tandem_sse_arg(const struct tandem_sse *sse)
{
    return sse->arg;
}

/* ---- heartbeats -------------------------------------------------------------------------------
 */

static void beat_one(struct tandem_sse *e, void *arg)
{
    (void)arg;
    if (!e->sent) {
        sse_write(e, HEARTBEAT, sizeof(HEARTBEAT) - 1, false); /* a full queue: no need */
    }
    e->sent = false;
}

static void beat(void *arg)
{
    struct svc_sse_worker *wk = arg;
    wk->beat = NULL;
    list_walk(wk, -1, beat_one, NULL);
    if (wk->head != NULL) {
        tandem_loop_timer_add(tandem_loop_current(), wk->beat_ms, beat, wk, &wk->beat);
    }
}

/* ---- opening and closing ----------------------------------------------------------------------
 */

/* The core ended the stream (client gone, timeout, drain, stop): the owner hears it, then it
 * goes; the core then calls on_done (the access log). */
static void sse_closed(struct tandem_http_request *req, int reason, void *arg)
{
    (void)req;
    (void)reason;
    struct tandem_sse *e = arg;
    list_unlink(e->wk, e);
    e->closing = true;
    if (e->on_close != NULL) {
        e->on_close(e, e->arg);
    }
    free(e);
}

struct tandem_sse *tandem_respond_sse(struct tandem_http_request *req, tandem_sse_close_fn on_close,
                                      void *arg)
{
    struct svc_req *x = svc_req_of(req);
    struct tandem_loop *loop = tandem_loop_current();
    if (x == NULL || loop == NULL || x->svc->sse == NULL) {
        log_error("tandem_respond_sse: call it from a route handler, on the request's worker",
                  NULL);
        return NULL;
    }
    struct svc_sse_worker *wk = &x->svc->sse->w[req->worker];
    tandem_respond_header(req, "Cache-Control", "no-cache");
    tandem_respond_header(req, "X-Accel-Buffering", "no"); /* nginx: do not buffer it */
    tandem_respond_header(req, "traceparent", x->traceparent);
    x->streamed = true; /* its on_done comes at the end, after the head went out */
    struct tandem_sse *e = xcalloc(1, sizeof(*e));
    e->req = req;
    e->wk = wk;
    e->on_close = on_close;
    e->arg = arg;
    e->route = x->route;
    int rc = tandem_http_stream_begin(req, 200, "text/event-stream", sse_closed, e);
    if (rc != 0) { /* HEAD, a client gone, a server draining: answered (logged) already */
        free(e);
        return NULL;
    }
    list_link(wk, e);
    if (wk->beat == NULL) {
        tandem_loop_timer_add(loop, wk->beat_ms, beat, wk, &wk->beat);
    }
    return e;
}

void tandem_sse_close(struct tandem_sse *sse)
{
    if (sse == NULL || sse->closing) {
        return; /* inside on_close it is ending already */
    }
    struct tandem_http_request *req = sse->req;
    list_unlink(sse->wk, sse);
    free(sse);
    tandem_http_stream_end(req); /* the last chunk; the runtime's on_done logs it */
}

/* ---- from other threads -----------------------------------------------------------------------
 */

struct sse_each {
    struct svc_sse *st;
    int route;
    tandem_sse_each_fn fn;
    void *arg;
    void (*done)(void *arg);
    atomic_int refs; /* posts not yet run, plus the caller's while it posts */
};

static void each_release(struct sse_each *job)
{
    if (atomic_fetch_sub(&job->refs, 1) == 1) {
        if (job->done != NULL) {
            job->done(job->arg);
        }
        free(job);
    }
}

static void each_visit(struct tandem_sse *e, void *arg)
{
    struct sse_each *job = arg;
    job->fn(e, job->arg);
}

/* On a worker: walks that worker's streams. */
static void each_run(void *arg)
{
    struct sse_each *job = arg;
    struct tandem_loop *here = tandem_loop_current();
    for (int i = 0; i < job->st->nworkers; i++) {
        if (job->st->w[i].loop == here) {
            list_walk(&job->st->w[i], job->route, each_visit, job);
        }
    }
    each_release(job);
}

/* The index of the route registered as pattern; -1 for NULL (every route), -2 unknown. */
static int route_index(const struct tandem_service *s, const char *pattern)
{
    if (pattern == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strcmp(s->routes[i]->pattern, pattern) == 0) {
            return (int)i;
        }
    }
    return -2;
}

int tandem_sse_each(struct tandem_service *s, const char *route, tandem_sse_each_fn fn, void *arg,
                    void (*done)(void *arg))
{
    struct svc_sse *st = s->sse;
    int r = route_index(s, route);
    if (fn == NULL) {
        return TANDEM_EINVAL;
    }
    if (r == -2) {
        return TANDEM_ENOENT;
    }
    if (st == NULL) {
        return TANDEM_ECLOSED;
    }
    pthread_mutex_lock(&st->mu);
    if (st->http == NULL) {
        pthread_mutex_unlock(&st->mu);
        return TANDEM_ECLOSED;
    }
    struct sse_each *job = xcalloc(1, sizeof(*job));
    *job = (struct sse_each){.st = st, .route = r, .fn = fn, .arg = arg, .done = done};
    atomic_init(&job->refs, 1);
    for (int i = 0; i < st->nworkers; i++) {
        if (atomic_load_explicit(&st->w[i].open, memory_order_relaxed) == 0) {
            continue; /* no stream there to visit: not woken */
        }
        atomic_fetch_add(&job->refs, 1);
        if (tandem_loop_post(st->w[i].loop, each_run, job) != 0) {
            atomic_fetch_sub(&job->refs, 1); /* stopping: nothing to reach there */
        }
    }
    pthread_mutex_unlock(&st->mu);
    each_release(job); /* done runs here when no worker had a stream */
    return 0;
}

/* A broadcast: one formatted event shared by the workers. */
struct sse_msg {
    size_t len;
    char bytes[];
};

static void msg_send(struct tandem_sse *e, void *arg)
{
    struct sse_msg *m = arg;
    sse_write(e, m->bytes, m->len, true);
}

int tandem_sse_broadcast(struct tandem_service *s, const char *route, const char *event,
                         const char *id, const void *data, size_t len)
{
    size_t n = 0;
    int rc = core_sse_format(event, id, data, len, NULL, 0, &n);
    if (rc != TANDEM_ETOOLARGE) {
        return rc; /* TANDEM_EINVAL: CR or LF in event or id */
    }
    struct sse_msg *m = xmalloc(sizeof(*m) + n);
    core_sse_format(event, id, data, len, m->bytes, n, &m->len);
    rc = tandem_sse_each(s, route, msg_send, m, free);
    if (rc != 0) {
        free(m);
    }
    return rc;
}

/* ---- the service's side -----------------------------------------------------------------------
 */

static void sse_emit(struct tandem_metrics_writer *w, void *arg)
{
    struct svc_sse *st = arg;
    double open = 0, events = 0, dropped = 0;
    for (int i = 0; i < st->nworkers; i++) {
        open += atomic_load_explicit(&st->w[i].open, memory_order_relaxed);
        events += (double)atomic_load_explicit(&st->w[i].events, memory_order_relaxed);
        dropped += (double)atomic_load_explicit(&st->w[i].dropped, memory_order_relaxed);
    }
    const struct svc_metric m[] = {
        {"tandem_sse_streams", "Server-sent event streams open.", true, open},
        {"tandem_sse_events_total", "Server-sent events written to streams.", false, events},
        {"tandem_sse_dropped_total",
         "Server-sent events not written: the client read too slowly (its queue was full).", false,
         dropped},
    };
    svc_metrics_emit(w, m, sizeof(m) / sizeof(m[0]));
}

void svc_sse_run(struct tandem_service *s, int64_t heartbeat_ms)
{
    struct svc_sse *st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    st->nworkers = s->workers;
    st->w = xcalloc((size_t)s->workers, sizeof(*st->w));
    for (int i = 0; i < s->workers; i++) {
        st->w[i].beat_ms = heartbeat_ms;
    }
    s->sse = st;
    tandem_service_metrics_source(s, sse_emit, st);
}

void svc_sse_serving(struct tandem_service *s, struct tandem_http_server *http)
{
    struct svc_sse *st = s->sse;
    if (st == NULL) {
        return;
    }
    pthread_mutex_lock(&st->mu);
    st->http = http;
    for (int i = 0; http != NULL && i < st->nworkers; i++) {
        st->w[i].loop = tandem_http_server_loop(http, i); /* kept: posts already made read it */
    }
    pthread_mutex_unlock(&st->mu);
}

void svc_sse_free(struct tandem_service *s)
{
    struct svc_sse *st = s->sse;
    if (st == NULL) {
        return;
    }
    pthread_mutex_destroy(&st->mu);
    free(st->w);
    free(st);
    s->sse = NULL;
}
