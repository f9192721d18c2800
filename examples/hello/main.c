/*
 * example-hello: a complete tandem service.
 *
 * GET /hello answers {"message":"Hello, World!"} as a cacheable representation: an ETag, so a
 * client (or the gateway) revalidating with If-None-Match gets 304 Not Modified, and a
 * Cache-Control that lets caches keep it for a minute. GET is safe, so it changes nothing; a
 * state change is a POST: POST /greetings publishes a "hello.greeted" CloudEvent to the topic
 * hello-events (fire-and-forget, carrying the request's traceparent) and answers 202 Accepted,
 * and the service consumes that topic in the group "hello", logging and counting every greeting
 * it sees. GET /greetings/live is a stream of server-sent events: every greeting published, as it
 * arrives, to every browser (EventSource) connected. Each instance consumes the topic in a group
 * of its own ("hello-live-<instance>"), so every instance sees every greeting and a client
 * behind the gateway gets them all whichever instance it reached; the consumer's thread hands
 * each one to the workers' loops (tandem_sse_each), where the streams live. The last 32 are kept,
 * so a client that reconnects with Last-Event-ID gets what it missed. The runtime gives the rest:
 * configuration (TANDEM_LISTEN, TANDEM_BROKERS, TANDEM_DATA_DIR, TANDEM_WORKERS or flags),
 * /healthz, /readyz, /metrics, traceparent, JSON logs, 404/405 as problem+json, and the drain on
 * SIGTERM (HTTP, consumer commits, producer flush).
 *
 *   build/bin/example-hello --listen 127.0.0.1:8101 --brokers 127.0.0.1:9092 &
 *   curl -i http://127.0.0.1:8101/hello
 *   curl -i -X POST http://127.0.0.1:8101/greetings
 *   curl -N http://127.0.0.1:8101/greetings/live           (then POST more greetings)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/service.h"

static const char HELLO[] = "{\"message\":\"Hello, World!\"}";
static const char GREETED[] = "{\"greeting\":\"Hello, World!\"}";

static atomic_uint_fast64_t greetings_seen;

/* GET /hello (and HEAD, answered by the GET route). */
static void hello(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    tandem_respond_cached(req, "application/json", HELLO, strlen(HELLO), "public, max-age=60");
}

/* POST /greetings: publish the event, answer 202 (it is delivered asynchronously). arg: service. */
static void greet(struct tandem_http_request *req, void *arg)
{
    struct tandem_event_out ev = {
        .topic = "hello-events",
        .key = "world",
        .key_len = 5,
        .type = "hello.greeted",
        .traceparent = tandem_request_traceparent(req),
        .data = GREETED,
        .data_len = strlen(GREETED),
    };
    struct tandem_producer *p = tandem_service_producer(arg);
    if (p == NULL || tandem_publish(p, &ev, NULL, NULL) != 0) {
        tandem_respond_problem(req, 503, "the greeting could not be queued");
        return;
    }
    tandem_respond_json(req, 202, json_pack("{s:s}", "status", "accepted"));
}

/* ---- GET /greetings/live ------------------------------------------------------------------------
 *
 * Greetings get a sequence number as the live consumer sees them; the last KEPT are kept (ring).
 * Each stream remembers the last number it was sent (its arg), so a greeting reaches it exactly
 * once: from the replay when it connects, or from the consumer's hand-over afterwards. */
#define KEPT 32

struct greeting {
    uint64_t seq;
    char id[48]; /* "<partition>-<offset>": the SSE id, the same on every instance */
    size_t len;
    char json[];
};

static struct {
    pthread_mutex_t mu;
    uint64_t seq;                /* greetings seen so far */
    struct greeting *kept[KEPT]; /* kept[seq % KEPT]: the last KEPT */
} live = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct watcher {
    uint64_t sent; /* the last greeting's number this stream was sent */
};

static void send_greeting(struct tandem_sse *sse, const struct greeting *g)
{
    struct watcher *w = tandem_sse_arg(sse);
    if (g->seq > w->sent) {
        tandem_sse_send(sse, "greeted", g->id, g->json, g->len); /* a full queue: dropped */
        w->sent = g->seq;
    }
}

static void unwatch(struct tandem_sse *sse, void *arg)
{
    (void)sse;
    free(arg); /* the client left, or the service drains */
}

/* GET /greetings/live: a stream; what a reconnecting client missed (Last-Event-ID), then live. */
static void greetings_live(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    struct watcher *w = calloc(1, sizeof(*w));
    struct tandem_sse *sse = w != NULL ? tandem_respond_sse(req, unwatch, w) : NULL;
    if (sse == NULL) {
        if (w == NULL) {
            tandem_respond_problem(req, 503, "out of memory");
        }
        free(w); /* HEAD, or the client left already: answered */
        return;
    }
    const char *last = tandem_sse_last_event_id(sse);
    pthread_mutex_lock(&live.mu);
    uint64_t first = live.seq > KEPT ? live.seq - KEPT + 1 : 1, from = live.seq + 1;
    if (last != NULL) { /* after its last one; all we have when that is older than what is kept */
        from = first;
        for (uint64_t n = first; n <= live.seq; n++) {
            from = strcmp(live.kept[n % KEPT]->id, last) == 0 ? n + 1 : from;
        }
    }
    for (uint64_t n = from; n <= live.seq; n++) {
        send_greeting(sse, live.kept[n % KEPT]);
    }
    w->sent = live.seq;
    pthread_mutex_unlock(&live.mu);
}

static void each_send(struct tandem_sse *sse, void *arg)
{
    send_greeting(sse, arg);
}

/* Each hello.greeted event in the group hello-live-<instance>, on its consumer's thread: kept,
 * then handed to every stream (on the workers' threads; the copy is freed after the last). */
static int greeted_live(const struct tandem_event *ev, void *arg)
{
    struct tandem_service *svc = arg;
    json_t *data = ev->data != NULL ? json_loadb(ev->data, ev->data_len, JSON_DECODE_ANY, NULL)
                                    : NULL; /* not JSON: left out */
    json_t *shown = json_pack("{s:i,s:I,s:o*}", "partition", (int)ev->partition, "offset",
                              (json_int_t)ev->offset, "greeting", data);
    char *text = shown != NULL ? json_dumps(shown, JSON_COMPACT) : NULL;
    json_decref(shown);
    if (text == NULL) {
        return TANDEM_EVENT_RETRY;
    }
    size_t len = strlen(text);
    struct greeting *g = malloc(sizeof(*g) + len), *copy = malloc(sizeof(*g) + len);
    if (g == NULL || copy == NULL) {
        free(g);
        free(copy);
        free(text);
        return TANDEM_EVENT_RETRY;
    }
    snprintf(g->id, sizeof(g->id), "%d-%" PRId64, (int)ev->partition, ev->offset);
    g->len = len;
    memcpy(g->json, text, len);
    free(text);
    pthread_mutex_lock(&live.mu);
    g->seq = ++live.seq;
    free(live.kept[g->seq % KEPT]);
    live.kept[g->seq % KEPT] = g;
    memcpy(copy, g, sizeof(*g) + len);
    pthread_mutex_unlock(&live.mu);
    if (tandem_sse_each(svc, "/greetings/live", each_send, copy, free) != 0) {
        free(copy); /* not serving (starting, or draining): kept for the replay only */
    }
    return TANDEM_EVENT_OK;
}

static void live_free(void)
{
    for (int i = 0; i < KEPT; i++) {
        free(live.kept[i]);
        live.kept[i] = NULL;
    }
}

/* Each hello.greeted event, on the consumer's thread. */
static int greeted(const struct tandem_event *ev, void *arg)
{
    (void)arg;
    uint64_t n = atomic_fetch_add(&greetings_seen, 1) + 1;
    tandem_log_info(NULL, "greeting consumed",
                    "\"partition\":%d,\"offset\":%" PRId64 ",\"seen\":%" PRIu64, (int)ev->partition,
                    ev->offset, n);
    return TANDEM_EVENT_OK;
}

int main(int argc, char **argv)
{
    struct tandem_service *svc = NULL;
    if (tandem_service_new("hello", argc, argv, &svc) != 0) {
        return 2; /* the reason has been logged */
    }
    const char *topics[] = {"hello-events"};
    char live_group[64];
    snprintf(live_group, sizeof(live_group), "hello-live-%s",
             tandem_service_config(svc, "instance"));
    int rc = tandem_route(svc, "GET", "/hello", hello, NULL);
    if (rc == 0) {
        rc = tandem_route(svc, "POST", "/greetings", greet, svc);
    }
    if (rc == 0) {
        rc = tandem_route(svc, "GET", "/greetings/live", greetings_live, NULL);
    }
    if (rc == 0) {
        rc = tandem_service_subscribe(svc, "hello", topics, 1, greeted, NULL);
    }
    if (rc == 0) {
        rc = tandem_service_subscribe(svc, live_group, topics, 1, greeted_live, svc);
    }

    if (rc == 0 && tandem_service_producer(svc) == NULL) {
        rc = TANDEM_EIO; /* logged */
    }
    if (rc == 0) {
        rc = tandem_service_run(svc); /* until SIGTERM; then drains */
    }
    tandem_service_free(svc); /* the consumers have stopped */
    live_free();
    return rc == 0 ? 0 : 1;
}
