/*
 * example-hello: a complete tandem service.
 *
 * GET /hello answers {"message":"Hello, World!"} as a cacheable representation: an ETag, so a
 * client (or the gateway) revalidating with If-None-Match gets 304 Not Modified, and a
 * Cache-Control that lets caches keep it for a minute. GET is safe, so it changes nothing; a
 * state change is a POST: POST /greetings publishes a "hello.greeted" CloudEvent to the topic
 * hello-events (fire-and-forget, carrying the request's traceparent) and answers 202 Accepted,
 * and the service consumes that topic in the group "hello", logging and counting every greeting
 * it sees. The runtime gives the rest: configuration (TANDEM_LISTEN, TANDEM_BROKERS,
 * TANDEM_DATA_DIR, TANDEM_WORKERS or flags), /healthz, /readyz, /metrics, traceparent, JSON logs,
 * 404/405 as problem+json, and the drain on SIGTERM (HTTP, consumer commits, producer flush).
 *
 *   build/bin/example-hello --listen 127.0.0.1:8101 --brokers 127.0.0.1:9092 &
 *   curl -i http://127.0.0.1:8101/hello
 *   curl -i -X POST http://127.0.0.1:8101/greetings
 */
#include <inttypes.h>
#include <stdatomic.h>
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
    int rc = tandem_route(svc, "GET", "/hello", hello, NULL);
    if (rc == 0) {
        rc = tandem_route(svc, "POST", "/greetings", greet, svc);
    }
    if (rc == 0) {
        rc = tandem_service_subscribe(svc, "hello", topics, 1, greeted, NULL);
    }
    if (rc == 0 && tandem_service_producer(svc) == NULL) {
        rc = TANDEM_EIO; /* logged */
    }
    if (rc == 0) {
        rc = tandem_service_run(svc); /* until SIGTERM; then drains */
    }
    tandem_service_free(svc);
    return rc == 0 ? 0 : 1;
}
