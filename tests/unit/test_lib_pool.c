/*
 * Pool tests (src/lib/pool/pool.c, include/tandem/pool.h): jobs off a loop run work then done on
 * the pool thread; a full queue refuses at once; the drain lets work finish, or past its timeout
 * cancels what is queued (done gets TANDEM_ECLOSED) and waits for what runs; the wait histogram
 * counts every job. On an HTTP worker (a tandem_http server with one worker): done runs on that
 * worker's thread, the worker answers other requests while the work runs, and when the server
 * stops with jobs in the pool, the worker's stop hook cancels the queued one and waits for the
 * running one, both done callbacks on the worker, their requests still answerable.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tandem/http.h"
#include "tandem/pool.h"
#include "test_http_util.h"

struct rec {
    pthread_t work_thread, done_thread;
    int status;
    atomic_int done_calls;
    int sleep_ms;
    atomic_int *gate; /* work spins until *gate (when set) */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void work(void *arg)
{
    struct rec *r = arg;
    r->work_thread = pthread_self();
    if (r->gate != NULL) {
        while (!atomic_load(r->gate)) {
            sleep_ms(1);
        }
    }
    sleep_ms(r->sleep_ms);
}

static void done(void *arg, int status)
{
    struct rec *r = arg;
    r->done_thread = pthread_self();
    r->status = status;
    atomic_fetch_add(&r->done_calls, 1);
}

static void wait_done(struct rec *r)
{
    for (int i = 0; i < 5000 && atomic_load(&r->done_calls) == 0; i++) {
        sleep_ms(1);
    }
    assert_int_equal(atomic_load(&r->done_calls), 1);
}

static void test_off_loop(void **state)
{
    struct tandem_pool *p = NULL;
    struct tandem_pool_config cfg = {.threads = 2, .queue = 8};
    assert_int_equal(tandem_pool_new(&cfg, &p), 0);
    struct rec r[6];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 6; i++) {
        r[i].status = -100;
        assert_int_equal(tandem_pool_submit(p, work, done, &r[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        wait_done(&r[i]);
        assert_int_equal(r[i].status, 0);
        assert_true(pthread_equal(r[i].work_thread, r[i].done_thread)); /* the pool thread */
        assert_false(pthread_equal(r[i].work_thread, pthread_self()));
    }
    assert_int_equal(tandem_pool_submit(p, NULL, done, &r[0]), TANDEM_EINVAL);
    struct tandem_pool_stats st;
    tandem_pool_stats(p, &st);
    assert_int_equal(st.threads, 2);
    assert_int_equal(st.completed, 6);
    assert_int_equal(st.wait_count, 6);
    uint64_t sum = 0;
    for (int i = 0; i < TANDEM_POOL_WAIT_BUCKETS; i++) {
        sum += st.wait_buckets[i];
    }
    assert_true(sum <= 6); /* the rest waited over 10 s: none here */
    assert_int_equal(sum, 6);
    assert_true(tandem_pool_wait_bounds()[0] == 0.0005);
    assert_true(tandem_pool_wait_bounds()[TANDEM_POOL_WAIT_BUCKETS - 1] == 10);
    tandem_pool_free(p);

    cfg.threads = 300;
    assert_int_equal(tandem_pool_new(&cfg, &p), TANDEM_EINVAL);
    cfg.threads = 0; /* one per CPU */
    assert_int_equal(tandem_pool_new(&cfg, &p), 0);
    tandem_pool_stats(p, &st);
    assert_true(st.threads >= 1);
    tandem_pool_free(p);
}

static void *release_later(void *arg)
{
    sleep_ms(300);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

static void test_full_and_drain(void **state)
{
    struct tandem_pool *p = NULL;
    struct tandem_pool_config cfg = {.threads = 1, .queue = 2};
    assert_int_equal(tandem_pool_new(&cfg, &p), 0);
    atomic_int gate = 0;
    struct rec blocker = {.gate = &gate}, q1 = {.status = -100}, q2 = {.status = -100};
    struct rec extra = {.status = -100};
    assert_int_equal(tandem_pool_submit(p, work, done, &blocker), 0);
    struct tandem_pool_stats st;
    for (int i = 0; i < 2000; i++) { /* the blocker has been taken: the queue is empty again */
        tandem_pool_stats(p, &st);
        if (st.running == 1) {
            break;
        }
        sleep_ms(1);
    }
    assert_int_equal(st.running, 1);
    assert_int_equal(tandem_pool_submit(p, work, done, &q1), 0);
    assert_int_equal(tandem_pool_submit(p, work, done, &q2), 0);
    /* full: refused at once, and its callbacks never run */
    assert_int_equal(tandem_pool_submit(p, work, done, &extra), TANDEM_EAGAIN);
    tandem_pool_stats(p, &st);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.rejected, 1);

    /* drain for 100 ms: the blocker runs on, so the two queued jobs are cancelled (done with
     * TANDEM_ECLOSED, here: they were submitted off a loop), then the drain waits for the
     * blocker, released 300 ms after the drain began */
    pthread_t releaser;
    assert_int_equal(pthread_create(&releaser, NULL, release_later, &gate), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tandem_pool_drain(p, 100), TANDEM_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 250); /* it waited for the running job */
    pthread_join(releaser, NULL);
    assert_int_equal(q1.status, TANDEM_ECLOSED);
    assert_int_equal(q2.status, TANDEM_ECLOSED);
    assert_true(pthread_equal(q1.done_thread, pthread_self())); /* run by the drain itself */
    assert_int_equal(atomic_load(&q1.done_calls), 1);
    assert_int_equal(atomic_load(&extra.done_calls), 0);
    wait_done(&blocker);
    assert_int_equal(blocker.status, 0);
    /* closed: refused */
    assert_int_equal(tandem_pool_submit(p, work, done, &extra), TANDEM_ECLOSED);
    tandem_pool_stats(p, &st);
    assert_int_equal(st.cancelled, 2);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.queued, 0);
    tandem_pool_free(p);

    /* a drain with time enough lets everything run */
    cfg.queue = 16;
    assert_int_equal(tandem_pool_new(&cfg, &p), 0);
    struct rec r[4];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 4; i++) {
        r[i].sleep_ms = 20;
        assert_int_equal(tandem_pool_submit(p, work, done, &r[i]), 0);
    }
    assert_int_equal(tandem_pool_drain(p, 5000), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i].status, 0);
        assert_int_equal(atomic_load(&r[i].done_calls), 1);
    }
    tandem_pool_free(p);
}

/* ---- on an HTTP worker ------------------------------------------------------------------------
 */

struct http_job {
    struct tandem_http_request *req;
    pthread_t handler_thread;
    struct tandem_loop *loop;
    int ms;
};

static void http_work(void *arg)
{
    struct http_job *j = arg;
    sleep_ms(j->ms);
}

static void http_done(void *arg, int status)
{
    struct http_job *j = arg;
    char body[64];
    int same = pthread_equal(j->handler_thread, pthread_self()) && tandem_loop_current() == j->loop;
    int n = snprintf(body, sizeof(body), "status=%d same=%d", status, same);
    tandem_http_respond(j->req, status == 0 ? 200 : 503, "text/plain", body, (size_t)n);
    free(j);
}

/* GET /job?ms=N: N ms of work on the pool; GET /fast: answered at once. */
static void handler(struct tandem_http_request *req, void *arg)
{
    if (strcmp(req->path, "/fast") == 0) {
        tandem_http_respond(req, 200, "text/plain", "fast", 4);
        return;
    }
    struct http_job *j = calloc(1, sizeof(*j));
    j->req = req;
    j->handler_thread = pthread_self();
    j->loop = tandem_loop_current();
    j->ms = atoi(req->query + 3);
    if (tandem_pool_submit(arg, http_work, http_done, j) != 0) {
        free(j);
        tandem_http_respond(req, 503, "text/plain", "full", 4);
    }
}

static int send_get(struct tandem_http_server *s, const char *target)
{
    int fd = dial(s);
    char raw[128];
    int n = snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", target);
    assert_int_equal(send(fd, raw, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_on_worker(void **state)
{
    struct tandem_pool *p = NULL;
    struct tandem_pool_config pc = {.threads = 2, .queue = 8};
    assert_int_equal(tandem_pool_new(&pc, &p), 0);
    struct tandem_http_config hc = {.workers = 1, .handler = handler, .arg = p};
    struct tandem_http_server *s = NULL;
    assert_int_equal(tandem_http_server_start(&hc, &s), 0);

    int slow = send_get(s, "/job?ms=300");
    sleep_ms(20); /* the slow one is on the pool */
    double t0 = now_ms();
    int fast = send_get(s, "/fast");
    char buf[1024];
    const char *body = NULL;
    read_answer(fast, buf, sizeof(buf), 5000, &body);
    double fast_ms = now_ms() - t0;
    assert_non_null(body);
    assert_string_equal(body, "fast");
    read_answer(slow, buf, sizeof(buf), 5000, &body);
    double slow_ms = now_ms() - t0;
    assert_non_null(body);
    assert_string_equal(body, "status=0 same=1"); /* done ran on the handler's worker */
    print_message("one worker: /fast took %.1f ms while /job took %.1f ms on the pool\n", fast_ms,
                  slow_ms);
    assert_true(fast_ms < 150); /* not behind the 300 ms of work (generous for a loaded CI) */
    close(fast);
    close(slow);

    tandem_http_server_stop(s);
    tandem_pool_free(p);
}

/* The server stops with one job running and one queued: the worker's stop hook cancels the
 * queued one (503) and waits for the running one (200), both answered on the worker. */
static void test_loop_stops(void **state)
{
    struct tandem_pool *p = NULL;
    struct tandem_pool_config pc = {.threads = 1, .queue = 8};
    assert_int_equal(tandem_pool_new(&pc, &p), 0);
    struct tandem_http_config hc = {.workers = 1, .handler = handler, .arg = p};
    struct tandem_http_server *s = NULL;
    assert_int_equal(tandem_http_server_start(&hc, &s), 0);
    int running = send_get(s, "/job?ms=400");
    int queued = send_get(s, "/job?ms=1");
    struct tandem_pool_stats st;
    for (int i = 0; i < 2000; i++) {
        tandem_pool_stats(p, &st);
        if (st.running == 1 && st.queued == 1) {
            break;
        }
        sleep_ms(1);
    }
    assert_int_equal(st.running, 1);
    assert_int_equal(st.queued, 1);
    tandem_http_server_stop(s); /* returns once the hook has waited for the running job */
    char buf[1024];
    const char *body = NULL;
    read_answer(running, buf, sizeof(buf), 5000, &body);
    assert_non_null(body);
    assert_string_equal(body, "status=0 same=1");
    read_answer(queued, buf, sizeof(buf), 5000, &body);
    assert_non_null(body);
    assert_non_null(strstr(buf, "HTTP/1.1 503"));
    assert_string_equal(body, "status=-14 same=1"); /* TANDEM_ECLOSED, on the worker */
    tandem_pool_stats(p, &st);
    assert_int_equal(st.cancelled, 1);
    assert_int_equal(st.completed, 1);
    close(running);
    close(queued);
    tandem_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_loop),
        cmocka_unit_test(test_full_and_drain),
        cmocka_unit_test(test_on_worker),
        cmocka_unit_test(test_loop_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
