/*
 * tandem_http's drain and on_done hook (src/lib/http/server.c, worker.c), over real 127.0.0.1
 * sockets with one worker:
 *  - drain with a request at the handler (answered later, on the worker thread, by a request that
 *    was still arriving when the drain began), an idle keep-alive connection and a new connection:
 *    the idle one is closed, the new one refused, both requests in flight are answered with
 *    "Connection: close", drain returns 0;
 *  - drain with a request nobody answers: TANDEM_ETIMEDOUT after the timeout, and stop reports
 *    the dropped request to on_done with status 0;
 *  - on_done sees every answer's status before it is written (a header added there arrives).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tandem/http.h"
#include "test_http_util.h"

static struct tandem_http_request *held;
static atomic_int done_ok, done_dropped;
static atomic_int holds; /* /hold requests that reached the handler */

static void handler(struct tandem_http_request *req, void *arg)
{
    if (strcmp(req->path, "/hold") == 0) {
        held = req; /* answered by /release, or never */
        atomic_fetch_add(&holds, 1);
        return;
    }
    if (strcmp(req->path, "/release") == 0 && held != NULL) {
        tandem_http_respond(held, 200, "text/plain", "held", 4);
        held = NULL;
    }
    tandem_http_respond(req, 200, "text/plain", "ok", 2);
}

static void on_done(struct tandem_http_request *req, int status, void *arg)
{
    if (status == 0) {
        atomic_fetch_add(&done_dropped, 1);
        return;
    }
    tandem_http_add_header(req, "X-Done", "1");
    atomic_fetch_add(&done_ok, 1);
}

static struct tandem_http_server *start(void)
{
    struct tandem_http_config cfg = {.workers = 1, .handler = handler, .on_done = on_done};
    struct tandem_http_server *s = NULL;
    assert_int_equal(tandem_http_server_start(&cfg, &s), 0);
    return s;
}

static int dial_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads until the peer closes the connection, or 3 s pass (the receive timeout) with nothing
 * to read; returns the bytes read. Asserts that the read ended by a close (EOF, or ECONNRESET
 * when the peer discarded unread input), not by the timeout (EAGAIN/EWOULDBLOCK): a connection
 * left open must not pass for one closed. */
static size_t read_to_close(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    int err = 0;
    for (;;) {
        assert_true(n < cap - 1); /* a full buffer is not a close */
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            err = r < 0 ? errno : 0;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (err != 0 && err != ECONNRESET) {
        fail_msg("the connection was not closed: recv failed with %s after %zu bytes%s",
                 strerror(err), n,
                 err == EAGAIN || err == EWOULDBLOCK ? " (the 3 s receive timeout)" : "");
    }
    return n;
}

/* Waits (at most 5 s, however loaded the machine) until n /hold requests reached the handler,
 * then 100 ms more for what was sent with them to be read. */
static void wait_holds(int n)
{
    for (int i = 0; i < 500 && atomic_load(&holds) < n; i++) {
        usleep(10000);
    }
    assert_int_equal(atomic_load(&holds), n);
    usleep(100000);
}

struct drain_arg {
    struct tandem_http_server *s;
    int64_t timeout_ms;
    int rc;
};

static void *drain_thread(void *p)
{
    struct drain_arg *a = p;
    a->rc = tandem_http_server_drain(a->s, a->timeout_ms);
    return NULL;
}

static void test_drain_finishes_in_flight(void **state)
{
    atomic_store(&done_ok, 0);
    struct tandem_http_server *s = start();
    int port = tandem_http_server_port(s);
    int a = dial_port(port), idle = dial_port(port), c = dial_port(port);
    assert_true(a >= 0 && idle >= 0 && c >= 0);
    atomic_store(&holds, 0);
    send_str(c, "GET /release HTTP/1.1\r\n"); /* still arriving */
    send_str(a, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_holds(1);

    struct drain_arg da = {.s = s, .timeout_ms = 5000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain_thread, &da), 0);
    usleep(100000);
    char buf[4096];
    assert_int_equal(read_to_close(idle, buf, sizeof(buf)), 0); /* closed by the drain, no answer */
    int late = dial_port(port);
    assert_int_equal(late, -1); /* no listening socket any more */

    send_str(c, "Host: x\r\n\r\n");
    read_to_close(c, buf, sizeof(buf));
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_non_null(strstr(buf, "X-Done: 1\r\n"));
    read_to_close(a, buf, sizeof(buf));
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\nheld"));

    pthread_join(th, NULL);
    assert_int_equal(da.rc, 0);
    assert_int_equal(atomic_load(&done_ok), 2);
    close(a);
    close(idle);
    close(c);
    tandem_http_server_stop(s);
}

static void test_drain_timeout_drops(void **state)
{
    atomic_store(&done_dropped, 0);
    struct tandem_http_server *s = start();
    int a = dial_port(tandem_http_server_port(s));
    atomic_store(&holds, 0);
    send_str(a, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_holds(1);
    assert_int_equal(tandem_http_server_drain(s, 200), TANDEM_ETIMEDOUT);
    tandem_http_server_stop(s);
    held = NULL;
    assert_int_equal(atomic_load(&done_dropped), 1);
    char buf[256];
    assert_int_equal(read_to_close(a, buf, sizeof(buf)), 0); /* dropped: closed, no answer */
    close(a);
}

int main(void)
{
    if (http_io_uring_refused()) {
        return TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_finishes_in_flight),
        cmocka_unit_test(test_drain_timeout_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
