/*
 * test_lib_service_sse: server-sent events in the runtime (service.h's tandem_respond_sse and
 * tandem_sse_*, src/lib/service/sse.c), over real sockets: a service with two workers and a
 * heartbeat of one second, in this process. Every stream is read back with the WHATWG algorithm
 * (test_sse_util.h) after its chunks are decoded.
 *
 *   GET /live          a stream: retry 1500, then "hello" (JSON with the path) or, when the client
 *                      sent Last-Event-ID, "resume" with that id as its data
 *   GET /other/live    the same, for broadcasts scoped by route
 *
 * Checks: the head (200, text/event-stream, no-cache, X-Accel-Buffering, one traceparent,
 * chunked); broadcasts from a thread that is not a worker reach every stream of their route on
 * both workers, in order, with any bytes in the data (CR, LF, NUL, bytes that are not UTF-8);
 * heartbeats on a quiet stream; the gauge in /metrics; the client leaving (on_close, the gauge
 * back to 0, the access-log line's request counted with status 200); tandem_sse_each closing
 * streams (last chunk, then the connection serves the next request); HEAD; and SIGTERM ending
 * open streams (last chunk, close, on_close, exit 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdatomic.h>

#include "test_http_util.h"
#include "test_service_util.h"
#include "test_sse_util.h"

static atomic_int closes;

static void on_close(struct tandem_sse *sse, void *arg)
{
    (void)arg;
    assert_int_equal(tandem_sse_send(sse, NULL, NULL, "x", 1), TANDEM_ECLOSED);
    tandem_sse_close(sse); /* a no-op in here */
    atomic_fetch_add(&closes, 1);
}

static void live(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    struct tandem_sse *sse = tandem_respond_sse(req, on_close, NULL);
    if (sse == NULL) {
        return;
    }
    assert_ptr_equal(tandem_sse_request(sse), req);
    assert_int_equal(tandem_sse_retry(sse, 1500), 0);
    assert_int_equal(tandem_sse_send(sse, "bad\nname", NULL, "x", 1), TANDEM_EINVAL);
    const char *last = tandem_sse_last_event_id(sse);
    if (last != NULL) {
        assert_int_equal(tandem_sse_send(sse, "resume", NULL, last, strlen(last)), 0);
    } else {
        assert_int_equal(
            tandem_sse_send_json(sse, "hello", "0", json_pack("{s:s}", "path", req->path)), 0);
    }
}

/* A stream read by the test: its socket and everything read so far. */
struct client {
    int fd;
    char buf[65536];
    size_t len;
    const char *body; /* after the head */
};

static bool client_read(struct client *c, int timeout_ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) {
        return false;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
    if (n <= 0) {
        return false;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return true;
}

/* Opens a stream on path (extra: header lines, or ""), reads its head. */
static void client_open(struct client *c, int port, const char *path, const char *extra)
{
    memset(c, 0, sizeof(*c));
    c->fd = tsvc_connect(port);
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n", path, extra);
    assert_int_equal(send(c->fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    while (strstr(c->buf, "\r\n\r\n") == NULL) {
        assert_true(client_read(c, 5000));
    }
    c->body = strstr(c->buf, "\r\n\r\n") + 4;
}

/* Decodes what came so far and reads it as an event stream into r (fresh). Returns
 * http_dechunk's answer (1: the stream ended). */
static int client_events(struct client *c, struct sse_ref *r)
{
    static char out[65536];
    size_t n = 0;
    int rc = http_dechunk(c->body, c->len - (size_t)(c->body - c->buf), out, &n, NULL);
    assert_int_not_equal(rc, -1);
    sse_ref_init(r);
    sse_ref_parse(r, out, n);
    return rc;
}

/* Reads until r holds at least want events (within 5 s). */
static void client_wait(struct client *c, struct sse_ref *r, int want)
{
    for (int i = 0; i < 100; i++) {
        client_events(c, r);
        if (r->n >= want) {
            return;
        }
        sse_ref_free(r);
        client_read(c, 50);
    }
    fail_msg("%d events, not %d, after 5 s", r->n, want);
}

/* Opens n streams on path (the last one on last when not NULL) and reads each one's first event:
 * the stream is registered then. */
static void open_streams(int port, struct client *c, int n, const char *path, const char *last)
{
    struct sse_ref r;
    for (int i = 0; i < n; i++) {
        client_open(&c[i], port, i == n - 1 && last != NULL ? last : path, "");
        client_wait(&c[i], &r, 1);
        sse_ref_free(&r);
    }
}

static double metric(int port, const char *name)
{
    static char out[65536];
    assert_int_equal(tsvc_http(port, "GET", "/metrics", NULL, NULL, out, sizeof(out), NULL), 200);
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(out, key);
    return p != NULL ? strtod(p + strlen(key), NULL) : -1;
}

static void wait_metric(int port, const char *name, double want)
{
    for (int i = 0; i < 250 && metric(port, name) != want; i++) {
        usleep(20000);
    }
    assert_true(metric(port, name) == want);
}

static struct tsvc start(void)
{
    static const char *const flags[] = {"--workers", "2", "--sse-heartbeat", "1", NULL};
    struct tsvc t;
    tsvc_new(&t, "ssetest", flags);
    assert_int_equal(tandem_route(t.s, "GET", "/live", live, NULL), 0);
    assert_int_equal(tandem_route(t.s, "GET", "/other/live", live, NULL), 0);
    /* not serving yet */
    assert_int_equal(tandem_sse_broadcast(t.s, "/live", NULL, NULL, "x", 1), TANDEM_ECLOSED);
    assert_int_equal(tandem_sse_broadcast(t.s, "/nope", NULL, NULL, "x", 1), TANDEM_ENOENT);
    tsvc_start(&t);
    atomic_store(&closes, 0);
    return t;
}

static void test_head_and_first_events(void **state)
{
    (void)state;
    struct tsvc t = start();
    struct client c;
    client_open(&c, t.port, "/live", "");
    assert_non_null(strstr(c.buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(c.buf, "Content-Type: text/event-stream\r\n"));
    assert_non_null(strstr(c.buf, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(c.buf, "Cache-Control: no-cache\r\n"));
    assert_non_null(strstr(c.buf, "X-Accel-Buffering: no\r\n"));
    const char *tp = strstr(c.buf, "traceparent: ");
    assert_non_null(tp);
    assert_null(strstr(tp + 1, "traceparent: ")); /* once */
    assert_null(strstr(c.buf, "Content-Length"));
    struct sse_ref r;
    client_wait(&c, &r, 1);
    assert_int_equal(r.retry, 1500);
    assert_string_equal(r.ev[0].type.p, "hello");
    assert_string_equal(r.ev[0].id.p, "0");
    assert_string_equal(r.ev[0].data.p, "{\"path\":\"/live\"}");
    sse_ref_free(&r);
    close(c.fd);

    /* reconnecting with Last-Event-ID */
    client_open(&c, t.port, "/live", "Last-Event-ID: 41\r\n");
    client_wait(&c, &r, 1);
    assert_string_equal(r.ev[0].type.p, "resume");
    assert_string_equal(r.ev[0].data.p, "41");
    sse_ref_free(&r);
    close(c.fd);

    /* HEAD: the head alone, no stream */
    char out[4096];
    assert_int_equal(tsvc_http(t.port, "HEAD", "/live", NULL, NULL, out, sizeof(out), NULL), 200);
    assert_non_null(strstr(out, "Content-Type: text/event-stream\r\n"));
    assert_string_equal(tsvc_body(out), "");
    wait_metric(t.port, "tandem_sse_streams", 0);
    tsvc_stop(&t);
}

/* Broadcasts from this thread (not a worker) reach every stream of the route on both workers, in
 * order, whatever bytes the data holds; the other route's streams get none. */
static void test_broadcast(void **state)
{
    (void)state;
    struct tsvc t = start();
    enum { N = 6 };
    static struct client c[N];
    struct sse_ref r;
    open_streams(t.port, c, N, "/live", "/other/live");
    assert_true(metric(t.port, "tandem_sse_streams") == N);
    static const char *const data[] = {"plain", "two\nlines", "cr\rlf\r\nend\n",
                                       "",      "nul\0byte",  "\xff\xfe not utf-8 \xe2\x82"};
    static const size_t len[] = {5, 9, 11, 0, 8, 15};
    for (int k = 0; k < 6; k++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", k + 1);
        assert_int_equal(tandem_sse_broadcast(t.s, "/live", "tick", id, data[k], len[k]), 0);
    }
    assert_int_equal(tandem_sse_broadcast(t.s, "/live", "a\rb", NULL, "x", 1), TANDEM_EINVAL);
    for (int i = 0; i < N - 1; i++) {
        client_wait(&c[i], &r, 7);
        assert_int_equal(r.n, 7);
        for (int k = 0; k < 6; k++) {
            char norm[32];
            size_t nl = sse_ref_normalize(data[k], len[k], norm);
            char id[8];
            snprintf(id, sizeof(id), "%d", k + 1);
            assert_string_equal(r.ev[k + 1].type.p, "tick");
            assert_string_equal(r.ev[k + 1].id.p, id);
            assert_int_equal(r.ev[k + 1].data.len, nl);
            assert_memory_equal(r.ev[k + 1].data.p, norm, nl);
        }
        sse_ref_free(&r);
    }
    /* the other route's stream got nothing but its hello (and maybe heartbeats) */
    client_read(&c[N - 1], 200);
    client_events(&c[N - 1], &r);
    assert_int_equal(r.n, 1);
    sse_ref_free(&r);
    assert_true(metric(t.port, "tandem_sse_events_total") >= N + 6 * (N - 1));
    for (int i = 0; i < N; i++) {
        close(c[i].fd);
    }
    wait_metric(t.port, "tandem_sse_streams", 0);
    assert_int_equal(atomic_load(&closes), N);
    tsvc_stop(&t);
}

/* A quiet stream gets ":" heartbeats (one a second here); the client leaving ends it: on_close,
 * the gauge, and the request counted (its access-log line) with status 200. */
static void test_heartbeat_and_leaving(void **state)
{
    (void)state;
    struct tsvc t = start();
    struct client c;
    struct sse_ref r;
    client_open(&c, t.port, "/live", "");
    client_wait(&c, &r, 1);
    sse_ref_free(&r);
    double t0 = tsvc_now_ms();
    for (;;) {
        client_events(&c, &r);
        int comments = r.comments;
        sse_ref_free(&r);
        if (comments >= 2) {
            break;
        }
        assert_true(tsvc_now_ms() - t0 < 5000);
        client_read(&c, 100);
    }
    assert_non_null(strstr(c.body, "3\r\n:\n\n\r\n")); /* the heartbeat's own chunk */
    close(c.fd);
    wait_metric(t.port, "tandem_sse_streams", 0);
    assert_int_equal(atomic_load(&closes), 1);
    char out[65536];
    assert_int_equal(tsvc_http(t.port, "GET", "/metrics", NULL, NULL, out, sizeof(out), NULL), 200);
    assert_non_null(
        strstr(out, "tandem_http_requests_total{route=\"/live\",method=\"GET\",status=\"200\"} 1"));
    tsvc_stop(&t);
}

/* tandem_sse_each from this thread closes every stream: each gets its last chunk, its
 * connection then serves the next request; done runs once. */
static atomic_int each_seen, each_done;

static void close_it(struct tandem_sse *sse, void *arg)
{
    (void)arg;
    atomic_fetch_add(&each_seen, 1);
    assert_int_equal(tandem_sse_send(sse, "bye", NULL, "", 0), 0);
    tandem_sse_close(sse);
}

static void each_finished(void *arg)
{
    (void)arg;
    atomic_fetch_add(&each_done, 1);
}

static void test_each_closes(void **state)
{
    (void)state;
    struct tsvc t = start();
    enum { N = 4 };
    static struct client c[N];
    struct sse_ref r;
    open_streams(t.port, c, N, "/live", NULL);
    assert_int_equal(tandem_sse_each(t.s, "/live", close_it, NULL, each_finished), 0);
    for (int i = 0; i < N; i++) {
        int rc = 0;
        for (int k = 0; k < 100 && rc != 1; k++) {
            rc = client_events(&c[i], &r);
            if (rc != 1) {
                sse_ref_free(&r);
                client_read(&c[i], 50);
            }
        }
        assert_int_equal(rc, 1);
        assert_string_equal(r.ev[r.n - 1].type.p, "bye");
        sse_ref_free(&r);
        /* keep-alive: the same connection answers the next request */
        const char next[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        assert_int_equal(send(c[i].fd, next, sizeof(next) - 1, MSG_NOSIGNAL),
                         (ssize_t)sizeof(next) - 1);
        char out[2048];
        assert_int_equal(tsvc_read(c[i].fd, out, sizeof(out)), 200);
        assert_non_null(strstr(out, "{\"status\":\"ok\"}"));
    }
    assert_int_equal(atomic_load(&each_seen), N);
    for (int i = 0; i < 100 && atomic_load(&each_done) == 0; i++) {
        usleep(10000);
    }
    assert_int_equal(atomic_load(&each_done), 1);
    assert_int_equal(atomic_load(&closes), 0); /* closed by the service: no on_close */
    wait_metric(t.port, "tandem_sse_streams", 0);
    tsvc_stop(&t);
}

/* SIGTERM with streams open: each ends with its last chunk and the connection closes at once;
 * on_close runs; the run returns 0 (tsvc_stop) well within the drain timeout. */
static void test_drain_ends_streams(void **state)
{
    (void)state;
    struct tsvc t = start();
    enum { N = 3 };
    static struct client c[N];
    struct sse_ref r;
    open_streams(t.port, c, N, "/live", NULL);
    double t0 = tsvc_now_ms();
    kill(getpid(), SIGTERM);
    for (int i = 0; i < N; i++) {
        while (client_read(&c[i], 3000)) {
        }
        assert_int_equal(client_events(&c[i], &r), 1); /* the last chunk came */
        sse_ref_free(&r);
        close(c[i].fd);
    }
    void *rc = NULL;
    pthread_join(t.thread, &rc);
    assert_int_equal((intptr_t)rc, 0);
    assert_true(tsvc_now_ms() - t0 < 5000); /* not the 10 s drain timeout */
    assert_int_equal(atomic_load(&closes), N);
    assert_int_equal(tandem_sse_broadcast(t.s, "/live", NULL, NULL, "x", 1), TANDEM_ECLOSED);
    tandem_service_free(t.s);
}

int main(void)
{
    tsvc_block_signals();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_and_first_events), cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_heartbeat_and_leaving), cmocka_unit_test(test_each_closes),
        cmocka_unit_test(test_drain_ends_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
