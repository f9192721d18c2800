/*
 * example-hello: a complete tandem service.
 *
 * GET /hello answers {"message":"Hello, World!"} as a cacheable representation: an ETag, so a
 * client (or the gateway) revalidating with If-None-Match gets 304 Not Modified, and a
 * Cache-Control that lets caches keep it for a minute. Everything else comes from the runtime:
 * configuration (--listen/TANDEM_LISTEN, --brokers/TANDEM_BROKERS, --data-dir/TANDEM_DATA_DIR,
 * --workers/TANDEM_WORKERS, --log-level/TANDEM_LOG_LEVEL), /healthz, /readyz, /metrics,
 * traceparent, JSON access logs, 404/405 as problem+json, and a graceful drain on SIGTERM.
 *
 *   build/bin/example-hello --listen 127.0.0.1:8101 &
 *   curl -i http://127.0.0.1:8101/hello
 *
 * TODO(events): when libtandem's events module lands, publish one "hello.greeted" event per
 * greeting and consume it here (producer + consumer registered with the service, flushed and
 * stopped by its drain), with a ready check on the broker.
 */
#include <stdio.h>
#include <string.h>

#include "tandem/service.h"

static const char HELLO[] = "{\"message\":\"Hello, World!\"}";

/* GET /hello (and HEAD, answered by the GET route). */
static void hello(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    tandem_respond_cached(req, "application/json", HELLO, strlen(HELLO), "public, max-age=60");
}

int main(int argc, char **argv)
{
    struct tandem_service *svc = NULL;
    if (tandem_service_new("hello", argc, argv, &svc) != 0) {
        return 2; /* the reason has been logged */
    }
    int rc = tandem_route(svc, "GET", "/hello", hello, NULL);
    if (rc == 0) {
        rc = tandem_service_run(svc); /* until SIGTERM; then drains */
    }
    tandem_service_free(svc);
    return rc == 0 ? 0 : 1;
}
