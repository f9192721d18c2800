/*
 * test_http_loop: the worker loop API (tandem_loop_* in include/tandem/http.h, src/lib/http/loop.c)
 * through a real server on 127.0.0.1 with one worker. Handlers defer their answer to a timer, a
 * callback posted from another thread, a watched pipe, or the loop's stop hook; meanwhile the
 * worker must keep answering other requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tandem/http.h"
#include "test_http_util.h"

/* How long each deferred answer waits (its timer; the sleep of the thread that posts or writes
 * the pipe): a lower bound for that answer, and the time the worker has to answer another
 * request first, generous so that a loaded machine does not fail the test. */
#define DEFER_MS 300

static int cancelled_fired, stop_post_rc, timer_rc;
static atomic_int holds; /* /hold requests that reached the handler */
static pthread_t poster;
static int pipefd[2];

static void answer(void *arg)
{
    tandem_http_respond(arg, 200, "text/plain", "later", 5);
}

static void never(void *arg)
{
    (void)arg;
    cancelled_fired++;
}

static void *post_later(void *arg)
{
    struct timespec ts = {0, DEFER_MS * 1000000};
    nanosleep(&ts, NULL);
    void **a = arg;
    tandem_loop_post(a[0], answer, a[1]);
    free(a);
    return NULL;
}

static void *write_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, DEFER_MS * 1000000};
    nanosleep(&ts, NULL);
    ssize_t n = write(pipefd[1], "x", 1);
    (void)n;
    return NULL;
}

static void on_pipe(int fd, int events, void *arg)
{
    char c;
    assert_true(events & TANDEM_LOOP_IN);
    assert_int_equal(read(fd, &c, 1), 1);
    assert_int_equal(tandem_loop_fd_del(tandem_loop_current(), fd), 0);
    close(pipefd[0]);
    close(pipefd[1]);
    tandem_http_respond(arg, 200, "text/plain", "piped", 5);
}

static void on_stop(void *arg)
{
    stop_post_rc = tandem_loop_post(tandem_loop_current(), answer, arg);
    answer_problem(arg, 503, "stopping");
}

static void handler(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    struct tandem_loop *l = tandem_loop_current();
    assert_non_null(l);
    if (strcmp(req->path, "/timer") == 0) {
        struct tandem_loop_timer *t = NULL;
        timer_rc = tandem_loop_timer_add(l, DEFER_MS, answer, req, NULL);
        tandem_loop_timer_add(l, 50, never, NULL, &t);
        tandem_loop_timer_cancel(l, t);
    } else if (strcmp(req->path, "/post") == 0) {
        void **a = malloc(2 * sizeof(void *));
        a[0] = l;
        a[1] = req;
        pthread_create(&poster, NULL, post_later, a);
    } else if (strcmp(req->path, "/fd") == 0) {
        assert_int_equal(pipe(pipefd), 0);
        assert_int_equal(tandem_loop_fd_set(l, pipefd[0], TANDEM_LOOP_IN, on_pipe, req), 0);
        pthread_create(&poster, NULL, write_later, NULL);
    } else if (strcmp(req->path, "/hold") == 0) {
        assert_int_equal(tandem_loop_on_stop(l, on_stop, req, NULL), 0);
        atomic_fetch_add(&holds, 1);
    } else {
        tandem_http_respond(req, 200, "text/plain", "now", 3);
    }
}

static struct tandem_http_server *start(void)
{
    struct tandem_http_config cfg = {.workers = 1, .handler = handler};
    struct tandem_http_server *s = NULL;
    assert_int_equal(tandem_http_server_start(&cfg, &s), 0);
    return s;
}

/* Sends a GET for path and reads one answer (whole, by Content-Length) into buf within
 * timeout_ms; returns the bytes read (0: nothing came). */
static size_t get(int fd, const char *path, char *buf, size_t cap, int timeout_ms)
{
    if (path != NULL) {
        char req[256];
        int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
        assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    }
    const char *body;
    return read_answer(fd, buf, cap, timeout_ms, &body);
}

static void test_current_is_null_off_worker(void **state)
{
    (void)state;
    assert_null(tandem_loop_current());
    assert_int_equal(tandem_loop_post(NULL, answer, NULL), TANDEM_EINVAL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One tick of CLOCK_MONOTONIC_COARSE, the worker's clock, in ms (rounded up): its timers may fire
 * that much before the test's precise clock has seen their delay pass. */
static int64_t coarse_tick_ms(void)
{
    struct timespec r;
    clock_getres(CLOCK_MONOTONIC_COARSE, &r);
    return (int64_t)r.tv_sec * 1000 + (r.tv_nsec + 999999) / 1000000;
}

static void deferred(const char *path, const char *body)
{
    struct tandem_http_server *s = start();
    int a = dial(s), b = dial(s);
    char buf[4096];
    char req[128];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    int64_t t0 = mono_ms();
    assert_int_equal(send(a, req, (size_t)n, MSG_NOSIGNAL), n);
    /* the worker serves b while a waits: b's answer comes before a's can */
    assert_true(get(b, "/now", buf, sizeof(buf), 2000) > 0);
    int64_t tb = mono_ms() - t0;
    assert_non_null(strstr(buf, "\r\n\r\nnow"));
    assert_true(tb < DEFER_MS);
    /* a's answer comes later, never before its timer, post or pipe */
    assert_true(get(a, NULL, buf, sizeof(buf), 5000) > 0);
    int64_t ta = mono_ms() - t0;
    assert_non_null(strstr(buf, body));
    assert_true(ta >= DEFER_MS - coarse_tick_ms());
    if (strcmp(path, "/timer") != 0) {
        pthread_join(poster, NULL);
    }
    close(a);
    close(b);
    tandem_http_server_stop(s);
}

static void test_timer_answers_later(void **state)
{
    (void)state;
    cancelled_fired = 0;
    deferred("/timer", "\r\n\r\nlater");
    assert_int_equal(timer_rc, 0);
    assert_int_equal(cancelled_fired, 0);
}

static void test_post_from_another_thread(void **state)
{
    (void)state;
    deferred("/post", "\r\n\r\nlater");
}

static void test_fd_watch(void **state)
{
    (void)state;
    deferred("/fd", "\r\n\r\npiped");
}

static void test_stop_hook_answers_held_request(void **state)
{
    (void)state;
    struct tandem_http_server *s = start();
    int a = dial(s);
    char buf[4096];
    atomic_store(&holds, 0);
    assert_int_equal(send(a, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", 31, MSG_NOSIGNAL), 31);
    for (int i = 0; i < 500 && atomic_load(&holds) == 0; i++) { /* at the handler, however slow */
        usleep(10000);
    }
    assert_int_equal(atomic_load(&holds), 1);
    assert_int_equal(get(a, NULL, buf, sizeof(buf), 100), 0);
    stop_post_rc = 0;
    tandem_http_server_stop(s);
    assert_int_equal(stop_post_rc, TANDEM_ECLOSED); /* no posts once the loop stopped */
    assert_true(get(a, NULL, buf, sizeof(buf), 2000) > 0);
    assert_non_null(strstr(buf, "HTTP/1.1 503 "));
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    close(a);
}

int main(void)
{
    if (http_io_uring_refused()) {
        return TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_is_null_off_worker),
        cmocka_unit_test(test_timer_answers_later),
        cmocka_unit_test(test_post_from_another_thread),
        cmocka_unit_test(test_fd_watch),
        cmocka_unit_test(test_stop_hook_answers_held_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
