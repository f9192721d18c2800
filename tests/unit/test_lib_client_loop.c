/*
 * test_lib_client_loop: the HTTP client driven by an HTTP worker's loop (src/lib/client/loop.c).
 *
 * Two tandem servers on 127.0.0.1 in this process, one worker each: the UPSTREAM answers /u/ok
 * (the traceparent it got), /u/slow (after 300 ms, from a loop timer), /u/hang (after 5 s),
 * /u/flaky (503 while `flaky` > 0, then 200) and /u/conn (its connection id); the FRONT's handler
 * for /f/<x> calls the upstream's /u/<x> with tandem_http_call and answers its own request from
 * the completion callback: "<err>|<status>|<attempts>|<same thread>|<body>". /now answers at once.
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
#include "tandem/http_client.h"
#include "test_http_util.h"

static struct tandem_http_server *up, *front;
static struct tandem_http_client *client;
static atomic_int flaky;
static pthread_t front_thread;

static void up_answer(void *arg)
{
    tandem_http_respond(arg, 200, "text/plain", "late", 4);
}

static void up_handler(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    char body[128];
    if (strcmp(req->path, "/u/ok") == 0) {
        const char *tp = tandem_http_header(req, "traceparent");
        tandem_http_respond(req, 200, "text/plain", tp ? tp : "-", strlen(tp ? tp : "-"));
    } else if (strcmp(req->path, "/u/slow") == 0) {
        tandem_loop_timer_add(tandem_loop_current(), 300, up_answer, req, NULL);
    } else if (strcmp(req->path, "/u/hang") == 0) {
        tandem_loop_timer_add(tandem_loop_current(), 5000, up_answer, req, NULL);
    } else if (strcmp(req->path, "/u/flaky") == 0) {
        if (atomic_fetch_sub(&flaky, 1) > 0) {
            answer_problem(req, 503, "not yet");
        } else {
            tandem_http_respond(req, 200, "text/plain", "recovered", 9);
        }
    } else if (strcmp(req->path, "/u/conn") == 0) {
        int n = snprintf(body, sizeof(body), "%llu", (unsigned long long)req->conn_id);
        tandem_http_respond(req, 200, "text/plain", body, (size_t)n);
    } else {
        answer_problem(req, 404, NULL);
    }
}

static void on_called(const struct tandem_http_response *r, void *arg)
{
    struct tandem_http_request *req = arg;
    char body[512];
    int same = tandem_loop_current() != NULL && pthread_equal(pthread_self(), front_thread);
    int n = snprintf(body, sizeof(body), "%d|%d|%d|%d|%s", r->err, r->status, r->attempts, same,
                     r->body);
    tandem_http_respond(req, 200, "text/plain", body, (size_t)n);
}

static void front_handler(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    front_thread = pthread_self();
    if (strncmp(req->path, "/f/", 3) != 0) {
        tandem_http_respond(req, 200, "text/plain", "now", 3);
        return;
    }
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/u/%s", tandem_http_server_port(up),
             req->path + 3);
    struct tandem_http_call_opts o = {
        .url = url,
        .max_retries = strstr(req->query, "retries") ? 3 : 0,
        .deadline_ms = strstr(req->query, "deadline") ? 100 : 0,
        .traceparent = tandem_http_header(req, "traceparent"),
    };
    int rc = tandem_http_call(client, &o, on_called, req);
    if (rc != 0) {
        answer_problem(req, 503, tandem_strerror(rc));
    }
}

static int setup(void **state)
{
    (void)state;
    struct tandem_http_config u = {.workers = 1, .handler = up_handler};
    struct tandem_http_config f = {.workers = 1, .handler = front_handler};
    struct tandem_http_client_config cc = {
        .breaker_failures = 2, .breaker_cooldown_ms = 200, .backoff_base_ms = 10};
    assert_int_equal(tandem_http_server_start(&u, &up), 0);
    assert_int_equal(tandem_http_server_start(&f, &front), 0);
    assert_int_equal(tandem_http_client_new(&cc, &client), 0);
    atomic_store(&flaky, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tandem_http_server_stop(front); /* first: its loop ends the calls still in flight */
    tandem_http_client_free(client);
    tandem_http_server_stop(up);
    return 0;
}

static void send_get(int fd, const char *target, const char *extra)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target,
                     extra ? extra : "");
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Reads one answer; returns a pointer to its body in buf, or NULL when none came in time. */
static const char *answer_body(int fd, char *buf, size_t cap, int timeout_ms)
{
    const char *body;
    read_answer(fd, buf, cap, timeout_ms, &body);
    return body;
}

static const char *get(const char *target, const char *extra, char *buf, size_t cap)
{
    int fd = dial(front);
    send_get(fd, target, extra);
    const char *body = answer_body(fd, buf, cap, 5000);
    close(fd);
    assert_non_null(body);
    return body;
}

static void test_async_call_answers_from_completion(void **state)
{
    (void)state;
    char buf[4096];
    const char *tp = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n";
    const char *b = get("/f/ok", tp, buf, sizeof(buf));
    /* no error, 200, one attempt, callback on the front's worker thread, the trace continued */
    assert_memory_equal(b, "0|200|1|1|00-4bf92f3577b34da6a3ce929d0e0e4736-", 45);
    assert_null(strstr(b, "00f067aa0ba902b7")); /* a new span id */
}

static void test_worker_serves_others_while_call_pending(void **state)
{
    (void)state;
    char buf[4096];
    int a = dial(front), b = dial(front);
    send_get(a, "/f/slow", NULL);
    send_get(b, "/now", NULL);
    const char *body = answer_body(b, buf, sizeof(buf), 2000);
    assert_non_null(body);
    assert_string_equal(body, "now");
    assert_null(answer_body(a, buf, sizeof(buf), 50)); /* the slow call is still out */
    body = answer_body(a, buf, sizeof(buf), 3000);
    assert_non_null(body);
    assert_string_equal(body, "0|200|1|1|late");
    close(a);
    close(b);
}

static void test_retries_deadline_reuse(void **state)
{
    (void)state;
    char buf[4096];
    atomic_store(&flaky, 1); /* (two failures in a row would open the breaker: setup) */
    assert_string_equal(get("/f/flaky?retries", NULL, buf, sizeof(buf)), "0|200|2|1|recovered");
    assert_memory_equal(get("/f/slow?deadline", NULL, buf, sizeof(buf)), "-15|0|1|1|", 10);
    char first[64];
    snprintf(first, sizeof(first), "%s", get("/f/conn", NULL, buf, sizeof(buf)));
    assert_string_equal(get("/f/conn", NULL, buf, sizeof(buf)), first); /* one connection */
}

static void test_breaker_opens_and_recovers(void **state)
{
    (void)state;
    char buf[4096];
    atomic_store(&flaky, 2);
    assert_string_equal(get("/f/flaky", NULL, buf, sizeof(buf)), "0|503|1|1|" /* body follows */
                                                                 "{\"type\":\"about:blank\","
                                                                 "\"title\":\"Service "
                                                                 "Unavailable\",\"status\":503,"
                                                                 "\"detail\":\"not yet\"}");
    assert_memory_equal(get("/f/flaky", NULL, buf, sizeof(buf)), "0|503|1|1|", 10);
    /* two failures in a row: open, the third call fails at once without an attempt */
    assert_string_equal(get("/f/flaky", NULL, buf, sizeof(buf)), "-13|0|0|1|");
    struct timespec ts = {0, 250 * 1000000};
    nanosleep(&ts, NULL);
    assert_string_equal(get("/f/flaky", NULL, buf, sizeof(buf)), "0|200|1|1|recovered");
}

static void test_stop_with_call_in_flight(void **state)
{
    (void)state;
    char buf[4096];
    int a = dial(front);
    send_get(a, "/f/hang", NULL);
    assert_null(answer_body(a, buf, sizeof(buf), 100));
    assert_int_equal(tandem_http_server_drain(front, 100), TANDEM_ETIMEDOUT);
    tandem_http_server_stop(front); /* the worker's stop hook ends the call: TANDEM_ECLOSED */
    const char *body = answer_body(a, buf, sizeof(buf), 2000);
    assert_non_null(body);
    assert_string_equal(body, "-14|0|1|1|");
    assert_non_null(strstr(buf, "Connection: close\r\n"));
    close(a);
    struct tandem_http_config f = {.workers = 1, .handler = front_handler};
    assert_int_equal(tandem_http_server_start(&f, &front), 0); /* for teardown */
}

static void test_client_freed_with_call_in_flight(void **state)
{
    (void)state;
    char buf[4096];
    int a = dial(front);
    send_get(a, "/f/hang", NULL);
    assert_null(answer_body(a, buf, sizeof(buf), 100));
    tandem_http_client_free(client); /* tears the worker's driver down on the worker */
    const char *body = answer_body(a, buf, sizeof(buf), 2000);
    assert_non_null(body);
    assert_string_equal(body, "-14|0|1|1|");
    close(a);
    assert_int_equal(tandem_http_client_new(NULL, &client), 0); /* for teardown */
}

/* ---- the upstream table under concurrent first calls ------------------------------------------
 *
 * Two workers of one server issue their first calls to the same 200 upstreams at the same moment
 * (a barrier lines them up; the calls' 1 ms deadline has passed when they start, so nothing is
 * sent and the hosts are never resolved), five rounds with new upstreams each (without the lock
 * around lookup and insertion, 5 runs of 6 failed, with 1,100 to 1,770 entries for 1,000). Every
 * upstream must exist once in the client (one breaker, one set of counters), whatever worker saw it
 * first. */
#define RACE_UPSTREAMS 200
#define RACE_ROUNDS    5 /* each round a new set of upstreams: the race shows in most rounds */
static struct tandem_loop *race_loops[2];
static atomic_int race_nloops, race_done;
static pthread_barrier_t race_barrier;
static pthread_mutex_t race_mu = PTHREAD_MUTEX_INITIALIZER;

static void race_handler(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    struct tandem_loop *l = tandem_loop_current();
    pthread_mutex_lock(&race_mu);
    int n = atomic_load(&race_nloops);
    if (n < 2 && (n == 0 || race_loops[0] != l)) {
        race_loops[n] = l;
        atomic_store(&race_nloops, n + 1);
    }
    pthread_mutex_unlock(&race_mu);
    tandem_http_respond(req, 200, "text/plain", "ok", 2);
}

static atomic_int race_unexpected; /* counted here, asserted on the test's thread */

static void race_called(const struct tandem_http_response *r, void *arg)
{
    (void)arg;
    if (r->err != TANDEM_ETIMEDOUT || r->attempts != 0) {
        atomic_fetch_add(&race_unexpected, 1);
    }
    atomic_fetch_add(&race_done, 1);
}

static void race_fire(void *arg)
{
    int round = (int)(intptr_t)arg;
    for (int i = 0; i < RACE_UPSTREAMS; i++) {
        char url[64];
        snprintf(url, sizeof(url), "http://u%d-%d.invalid/", round, i);
        struct tandem_http_call_opts o = {.url = url, .deadline_ms = 1};
        if (tandem_http_call(client, &o, race_called, NULL) != 0) {
            atomic_fetch_add(&race_unexpected, 1);
            atomic_fetch_add(&race_done, 1);
        }
    }
    pthread_barrier_wait(&race_barrier);
    struct timespec ts = {0, 3 * 1000000}; /* past the deadline: the kick starts no attempt */
    nanosleep(&ts, NULL);
}

static void test_upstreams_shared_by_workers(void **state)
{
    (void)state;
    struct tandem_http_config cfg = {.workers = 2, .handler = race_handler};
    struct tandem_http_server *s = NULL;
    assert_int_equal(tandem_http_server_start(&cfg, &s), 0);
    atomic_store(&race_nloops, 0);
    atomic_store(&race_done, 0);
    atomic_store(&race_unexpected, 0);
    char buf[512];
    for (int i = 0; i < 200 && atomic_load(&race_nloops) < 2; i++) { /* SO_REUSEPORT spreads */
        int fd = dial(s);
        send_get(fd, "/", NULL);
        assert_non_null(answer_body(fd, buf, sizeof(buf), 2000));
        close(fd);
    }
    assert_int_equal(atomic_load(&race_nloops), 2);
    pthread_barrier_init(&race_barrier, NULL, 2);
    for (int r = 0; r < RACE_ROUNDS; r++) {
        assert_int_equal(tandem_loop_post(race_loops[0], race_fire, (void *)(intptr_t)r), 0);
        assert_int_equal(tandem_loop_post(race_loops[1], race_fire, (void *)(intptr_t)r), 0);
        for (int i = 0; i < 500 && atomic_load(&race_done) < 2 * RACE_UPSTREAMS * (r + 1); i++) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(atomic_load(&race_done), 2 * RACE_UPSTREAMS * (r + 1));
    }
    assert_int_equal(atomic_load(&race_unexpected), 0); /* nothing sent: deadline passed */
    size_t n = 0;
    size_t cap = 2 * RACE_ROUNDS * RACE_UPSTREAMS;
    struct tandem_http_upstream_stats *st = calloc(cap, sizeof(*st));
    tandem_http_client_stats(client, st, cap, &n);
    assert_int_equal(n, RACE_ROUNDS * RACE_UPSTREAMS); /* one entry per upstream */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(st[i].calls, 2); /* both workers' calls counted on the same one */
    }
    free(st);
    tandem_http_server_stop(s);
    pthread_barrier_destroy(&race_barrier);
}

int main(void)
{
    if (http_io_uring_refused()) {
        return TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_async_call_answers_from_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_serves_others_while_call_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retries_deadline_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breaker_opens_and_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_call_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_freed_with_call_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstreams_shared_by_workers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
