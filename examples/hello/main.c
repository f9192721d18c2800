/*
 * example-hello: a complete tandem service.
 *
 * GET /hello answers {"message":"Hello, World!"} as a cacheable representation: an ETag, so a
 * client (or the gateway) revalidating with If-None-Match gets 304 Not Modified, and a
 * Cache-Control that lets caches keep it for a minute. Each greeting also publishes a
 * "hello.greeted" CloudEvent to the topic hello-events (fire-and-forget, carrying the request's
 * traceparent), and the service consumes that topic in the group "hello", logging and counting
 * every greeting it sees. Everything else comes from the runtime: configuration
 * (--listen/TANDEM_LISTEN, --brokers/TANDEM_BROKERS, --data-dir/TANDEM_DATA_DIR,
 * --workers/TANDEM_WORKERS, --log-level/TANDEM_LOG_LEVEL), /healthz, /readyz (with the broker),
 * /metrics (with the events'), traceparent, JSON access logs, 404/405 as problem+json, and a
 * graceful drain on SIGTERM (HTTP, then the consumer commits, then the producer flushes).
 *
 *   build/bin/example-hello --listen 127.0.0.1:8101 --brokers 127.0.0.1:9092 &
 *   curl -i http://127.0.0.1:8101/hello
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "tandem/service.h"

static const char HELLO[] = "{\"message\":\"Hello, World!\"}";
static const char GREETED[] = "{\"greeting\":\"Hello, World!\"}";

static atomic_uint_fast64_t greetings_seen;

/* GET /hello (and HEAD, answered by the GET route). arg is the service. */
static void hello(struct tandem_http_request *req, void *arg)
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
        tandem_log_info(req, "greeting not published", NULL);
    }
    tandem_respond_cached(req, "application/json", HELLO, strlen(HELLO), "public, max-age=60");
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
    int rc = tandem_route(svc, "GET", "/hello", hello, svc);
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
