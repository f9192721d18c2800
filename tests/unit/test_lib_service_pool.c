/*
 * tandem_offload in the runtime (src/lib/service/service_pool.c) over real 127.0.0.1 sockets, on
 * a service with ONE HTTP worker: 300 ms of work on the pool does not delay another request of
 * that worker (its latency is measured); done runs on the handler's own worker thread; a full
 * queue answers 503 with Retry-After at once; /metrics has the pool's series; at SIGTERM,
 * accepted work finishes within --drain-timeout, and past it queued work is cancelled (503,
 * done with req NULL) while running work is waited for (200), before the worker stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tandem/pool.h"
#include "test_service_util.h"

struct slow {
    pthread_t handler;
    int ms;
};

static atomic_int freed_without_req;

static void slow_work(void *arg)
{
    struct slow *w = arg;
    usleep((useconds_t)w->ms * 1000);
}

static void slow_done(struct tandem_http_request *req, void *arg)
{
    struct slow *w = arg;
    if (req == NULL) {
        atomic_fetch_add(&freed_without_req, 1); /* cancelled: answered 503 by the runtime */
    } else {
        int same = pthread_equal(w->handler, pthread_self());
        tandem_respond_json(req, 200, json_pack("{s:i,s:b}", "ms", w->ms, "same_thread", same));
    }
    free(w);
}

/* GET /slow?ms=N: N ms on the pool. */
static void slow(struct tandem_http_request *req, void *arg)
{
    struct slow *w = malloc(sizeof(*w));
    w->handler = pthread_self();
    w->ms = atoi(req->query + 3);
    if (tandem_offload(req, slow_work, slow_done, w) != 0) {
        free(w); /* answered 503 */
    }
}

static void fast(struct tandem_http_request *req, void *arg)
{
    tandem_respond_json(req, 200, json_pack("{s:s}", "fast", "yes"));
}

/* Sends GET path on a new connection and returns it (the answer is read later, tsvc_read). */
static int open_get(int port, const char *path)
{
    int fd = tsvc_connect(port);
    char raw[256];
    int n =
        snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(send(fd, raw, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

static struct tsvc start(const char *name, const char *const *flags)
{
    struct tsvc t;
    tsvc_new(&t, name, flags);
    assert_int_equal(tandem_route(t.s, "GET", "/slow", slow, NULL), 0);
    assert_int_equal(tandem_route(t.s, "GET", "/fast", fast, NULL), 0);
    tsvc_start(&t);
    char out[4096]; /* up and serving */
    assert_int_equal(tsvc_http(t.port, "GET", "/healthz", NULL, NULL, out, sizeof(out), NULL), 200);
    return t;
}

static void test_not_behind_the_work(void **state)
{
    const char *flags[] = {"--workers", "1", "--pool-threads", "2", NULL};
    struct tsvc t = start("pool1", flags);
    static char out[65536];
    for (int round = 0; round < 3; round++) {
        int slow_fd = open_get(t.port, "/slow?ms=300");
        usleep(30000); /* the handler has run: the work is on the pool */
        double ms = 0;
        assert_int_equal(tsvc_http(t.port, "GET", "/fast", NULL, NULL, out, sizeof(out), &ms), 200);
        print_message("one worker: GET /fast answered in %.2f ms while 300 ms of work ran\n", ms);
        assert_true(ms < 150); /* far below the 300 ms it would wait behind the work */
        assert_int_equal(tsvc_read(slow_fd, out, sizeof(out)), 200);
        assert_string_equal(tsvc_body(out), "{\"ms\":300,\"same_thread\":true}");
    }
    assert_int_equal(tsvc_http(t.port, "GET", "/metrics", NULL, NULL, out, sizeof(out), NULL), 200);
    assert_non_null(strstr(out, "\ntandem_pool_threads 2\n"));
    assert_non_null(strstr(out, "\ntandem_pool_completed_total 3\n"));
    assert_non_null(strstr(out, "\ntandem_pool_rejected_total 0\n"));
    assert_non_null(strstr(out, "# TYPE tandem_pool_queue_wait_seconds histogram\n"));
    assert_non_null(strstr(out, "\ntandem_pool_queue_wait_seconds_count 3\n"));
    assert_non_null(strstr(out, "tandem_pool_queue_wait_seconds_bucket{le=\"+Inf\"} 3\n"));

    /* SIGTERM with work in progress: the drain lets it finish, the answer is 200 */
    int slow_fd = open_get(t.port, "/slow?ms=300");
    usleep(30000);
    tsvc_stop(&t);
    assert_int_equal(tsvc_read(slow_fd, out, sizeof(out)), 200);
    assert_string_equal(tsvc_body(out), "{\"ms\":300,\"same_thread\":true}");
}

static void test_full_queue(void **state)
{
    const char *flags[] = {"--workers", "1", "--pool-threads", "1", "--pool-queue", "1", NULL};
    struct tsvc t = start("pool2", flags);
    static char out[65536];
    int running = open_get(t.port, "/slow?ms=500");
    usleep(50000);
    int queued = open_get(t.port, "/slow?ms=10");
    usleep(50000);
    double ms = 0;
    assert_int_equal(tsvc_http(t.port, "GET", "/slow?ms=10", NULL, NULL, out, sizeof(out), &ms),
                     503);
    assert_true(ms < 150); /* at once, not after the queue */
    assert_non_null(strstr(out, "\r\nRetry-After: 1\r\n"));
    assert_non_null(strstr(out, "\r\nContent-Type: application/problem+json\r\n"));
    assert_non_null(strstr(tsvc_body(out), "\"status\":503"));
    assert_int_equal(tsvc_read(running, out, sizeof(out)), 200);
    assert_int_equal(tsvc_read(queued, out, sizeof(out)), 200);
    assert_int_equal(tsvc_http(t.port, "GET", "/metrics", NULL, NULL, out, sizeof(out), NULL), 200);
    assert_non_null(strstr(out, "\ntandem_pool_rejected_total 1\n"));
    assert_non_null(strstr(out, "\ntandem_pool_completed_total 2\n"));
    tsvc_stop(&t);
}

static void test_drain_cancels(void **state)
{
    const char *flags[] = {
        "--workers", "1", "--pool-threads", "1", "--pool-queue", "4", "--drain-timeout", "1", NULL};
    struct tsvc t = start("pool3", flags);
    static char out[65536];
    atomic_store(&freed_without_req, 0);
    int running = open_get(t.port, "/slow?ms=1800");
    usleep(50000);
    int queued = open_get(t.port, "/slow?ms=10");
    usleep(50000);
    double t0 = tsvc_now_ms();
    tsvc_stop(&t); /* SIGTERM: 1 s of drain, then the pool: queued cancelled, running waited */
    double took = tsvc_now_ms() - t0;
    assert_int_equal(tsvc_read(queued, out, sizeof(out)), 503);
    assert_non_null(strstr(out, "\r\nRetry-After: 1\r\n"));
    assert_non_null(strstr(tsvc_body(out), "shutting down"));
    assert_int_equal(tsvc_read(running, out, sizeof(out)), 200);
    assert_string_equal(tsvc_body(out), "{\"ms\":1800,\"same_thread\":true}");
    assert_int_equal(atomic_load(&freed_without_req), 1);
    assert_true(took >= 1500); /* the running work was waited for, past the drain timeout */
}

int main(void)
{
    tsvc_block_signals();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_behind_the_work),
        cmocka_unit_test(test_full_queue),
        cmocka_unit_test(test_drain_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
