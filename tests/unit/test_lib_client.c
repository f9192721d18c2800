/*
 * libtandem's HTTP client against a scripted HTTP/1.1 server in this process.
 *
 * The server (srv_*) is one thread with a poll(2) loop on 127.0.0.1:0, serving any number of
 * keep-alive connections. What it does with the next requests is a script set by the test under
 * srv.mu: close the connection without answering (close_n times), answer fail_status (fail_n
 * times, with Retry-After when set), delay every answer by delay_ms; otherwise 200 "ok". It counts
 * connections and requests and keeps the last request's method and traceparent. Timings are tens
 * of milliseconds; lower bounds are checked strictly, upper bounds with slack for ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tandem/http_client.h"
#include "tandem/trace.h"

#define MAX_CONNS 16

struct conn {
    int fd;
    char buf[8192];
    size_t len;
    int64_t respond_at; /* 0: nothing pending */
    char out[512];
    size_t out_len;
};

static struct srv {
    int lfd, port, stop_pipe[2];
    pthread_t th;
    pthread_mutex_t mu;
    int close_n, fail_n, fail_status, delay_ms; /* the script */
    const char *retry_after;
    int conns, reqs; /* observed */
    char last_method[16], last_tp[128], last_rid[160];
    struct conn c[MAX_CONNS];
} srv;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
    c->respond_at = 0;
}

/* A complete request in c->buf: decide its fate per the script. */
static void srv_request(struct conn *c, size_t used)
{
    char *hdr_end = strstr(c->buf, "\r\n\r\n");
    *hdr_end = '\0';
    pthread_mutex_lock(&srv.mu);
    srv.reqs++;
    sscanf(c->buf, "%15s", srv.last_method);
    const char *tp = strcasestr(c->buf, "\r\ntraceparent: ");
    srv.last_tp[0] = '\0';
    if (tp != NULL) {
        sscanf(tp + 15, "%127[^\r]", srv.last_tp);
    }
    const char *rid = strcasestr(c->buf, "\r\nx-request-id: ");
    srv.last_rid[0] = '\0';
    if (rid != NULL) {
        sscanf(rid + 16, "%159[^\r]", srv.last_rid);
    }
    bool drop = srv.close_n > 0;
    int status = 200;
    char extra[64] = "";
    if (drop) {
        srv.close_n--;
    } else if (srv.fail_n > 0) {
        srv.fail_n--;
        status = srv.fail_status;
        if (srv.retry_after != NULL) {
            snprintf(extra, sizeof extra, "Retry-After: %s\r\n", srv.retry_after);
        }
    }
    int delay = srv.delay_ms;
    pthread_mutex_unlock(&srv.mu);
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    if (drop) {
        conn_close(c);
        return;
    }
    int n = snprintf(c->out, sizeof c->out, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n%s\r\nok",
                     status, extra);
    c->out_len = (size_t)n;
    c->respond_at = now_ms() + delay;
}

static void srv_parse(struct conn *c)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL || c->respond_at != 0) {
        return;
    }
    size_t used = (size_t)(end - c->buf) + 4;
    const char *cl = strcasestr(c->buf, "\r\ncontent-length:");
    if (cl != NULL && cl < end) {
        used += (size_t)atol(cl + 17);
    }
    if (used <= c->len) {
        srv_request(c, used);
    }
}

static void *srv_main(void *arg)
{
    for (;;) {
        struct pollfd p[MAX_CONNS + 2];
        p[0] = (struct pollfd){.fd = srv.stop_pipe[0], .events = POLLIN};
        p[1] = (struct pollfd){.fd = srv.lfd, .events = POLLIN};
        int timeout = 1000;
        int64_t now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++) {
            p[i + 2] = (struct pollfd){.fd = srv.c[i].fd, .events = POLLIN};
            if (srv.c[i].fd >= 0 && srv.c[i].respond_at != 0) {
                int64_t d = srv.c[i].respond_at - now;
                timeout = d < timeout ? (d < 0 ? 0 : (int)d) : timeout;
            }
        }
        poll(p, MAX_CONNS + 2, timeout);
        if (p[0].revents) {
            break;
        }
        if (p[1].revents & POLLIN) {
            int fd = accept(srv.lfd, NULL, NULL);
            for (int i = 0; fd >= 0 && i < MAX_CONNS; i++) {
                if (srv.c[i].fd < 0) {
                    srv.c[i].fd = fd;
                    fd = -1;
                    pthread_mutex_lock(&srv.mu);
                    srv.conns++;
                    pthread_mutex_unlock(&srv.mu);
                }
            }
            if (fd >= 0) {
                close(fd);
            }
        }
        now = now_ms();
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &srv.c[i];
            if (c->fd >= 0 && (p[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
                if (r <= 0) {
                    conn_close(c);
                    continue;
                }
                c->len += (size_t)r;
                srv_parse(c);
            }
            if (c->fd >= 0 && c->respond_at != 0 && c->respond_at <= now) {
                c->respond_at = 0;
                if (write(c->fd, c->out, c->out_len) < 0) {
                    conn_close(c);
                    continue;
                }
                srv_parse(c); /* a pipelined request may be waiting */
            }
        }
    }
    for (int i = 0; i < MAX_CONNS; i++) {
        if (srv.c[i].fd >= 0) {
            conn_close(&srv.c[i]);
        }
    }
    return NULL;
}

static void srv_start(void)
{
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.mu, NULL);
    for (int i = 0; i < MAX_CONNS; i++) {
        srv.c[i].fd = -1;
    }
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(srv.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv.lfd, 64), 0);
    socklen_t al = sizeof a;
    getsockname(srv.lfd, (struct sockaddr *)&a, &al);
    srv.port = ntohs(a.sin_port);
    assert_int_equal(pipe(srv.stop_pipe), 0);
    assert_int_equal(pthread_create(&srv.th, NULL, srv_main, NULL), 0);
}

static void srv_stop(void)
{
    assert_int_equal(write(srv.stop_pipe[1], "x", 1), 1);
    pthread_join(srv.th, NULL);
    close(srv.lfd);
    close(srv.stop_pipe[0]);
    close(srv.stop_pipe[1]);
    pthread_mutex_destroy(&srv.mu);
}

static void srv_script(int close_n, int fail_n, int fail_status, const char *retry_after,
                       int delay_ms)
{
    pthread_mutex_lock(&srv.mu);
    srv.close_n = close_n;
    srv.fail_n = fail_n;
    srv.fail_status = fail_status;
    srv.retry_after = retry_after;
    srv.delay_ms = delay_ms;
    pthread_mutex_unlock(&srv.mu);
}

static int srv_get(const int *field)
{
    pthread_mutex_lock(&srv.mu);
    int v = *field;
    pthread_mutex_unlock(&srv.mu);
    return v;
}

static char url[64];

static struct tandem_http_client *client_new(int breaker_failures, int64_t cooldown_ms,
                                             int64_t free_wait_ms)
{
    struct tandem_http_client_config cfg = {.backoff_base_ms = 5,
                                            .backoff_max_ms = 20,
                                            .breaker_failures = breaker_failures,
                                            .breaker_cooldown_ms = cooldown_ms,
                                            .free_wait_ms = free_wait_ms};
    struct tandem_http_client *c = NULL;
    assert_int_equal(tandem_http_client_new(&cfg, &c), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", srv.port);
    return c;
}

/* One blocking call; returns the response (freed by the caller). */
static struct tandem_http_response *call(struct tandem_http_client *c, const char *method,
                                         int64_t timeout, int64_t deadline, int retries)
{
    struct tandem_http_call_opts o = {.method = method,
                                      .url = url,
                                      .timeout_ms = timeout,
                                      .deadline_ms = deadline,
                                      .max_retries = retries};
    struct tandem_http_response *r = NULL;
    assert_int_equal(tandem_http_call_sync(c, &o, &r), 0);
    return r;
}

static struct tandem_http_upstream_stats stats_of(struct tandem_http_client *c)
{
    struct tandem_http_upstream_stats s[4];
    size_t n = 0;
    tandem_http_client_stats(c, s, 4, &n);
    assert_int_equal(n, 1);
    return s[0];
}

static void test_connection_reuse(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    for (int i = 0; i < 10; i++) {
        struct tandem_http_response *r = call(c, "GET", 1000, 0, 0);
        assert_int_equal(r->err, 0);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->body_len, 2);
        assert_string_equal(r->body, "ok");
        assert_string_equal(tandem_http_response_header(r, "content-length"), "2");
        assert_null(tandem_http_response_header(r, "Retry-After"));
        tandem_http_response_free(r);
    }
    assert_int_equal(srv_get(&srv.reqs), 10);
    assert_int_equal(srv_get(&srv.conns), 1);
    assert_int_equal(stats_of(c).calls, 10);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_attempt_timeout(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    srv_script(0, 0, 0, NULL, 300);
    int64_t t0 = now_ms();
    struct tandem_http_response *r = call(c, "GET", 40, 0, 0);
    int64_t took = now_ms() - t0;
    assert_int_equal(r->err, TANDEM_ETIMEDOUT);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->attempts, 1);
    assert_true(took >= 40 && took < 250);
    tandem_http_response_free(r);
    /* retried: every attempt times out, 3 attempts */
    r = call(c, "GET", 30, 0, 2);
    assert_int_equal(r->err, TANDEM_ETIMEDOUT);
    assert_int_equal(r->attempts, 3);
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_retry_503_then_200(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    srv_script(0, 2, 503, NULL, 0);
    struct tandem_http_response *r = call(c, "GET", 1000, 0, 3);
    assert_int_equal(r->err, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 3);
    tandem_http_response_free(r);
    assert_int_equal(stats_of(c).retries, 2);
    /* retries exhausted: the last answer is the result */
    srv_script(0, 5, 502, NULL, 0);
    r = call(c, "PUT", 1000, 0, 1);
    assert_int_equal(r->err, 0);
    assert_int_equal(r->status, 502);
    assert_int_equal(r->attempts, 2);
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_post_not_retried(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    srv_script(0, 1, 503, NULL, 0);
    struct tandem_http_response *r = call(c, "POST", 1000, 0, 3);
    assert_int_equal(r->status, 503);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(srv.last_method, "POST");
    tandem_http_response_free(r);
    /* connection closed without an answer. A fresh client, so a fresh connection: on a reused
     * one, curl itself re-sends once when the connection turns out closed (a stale keep-alive). */
    tandem_http_client_free(c);
    c = client_new(0, 0, 0);
    srv_script(1, 0, 0, NULL, 0);
    r = call(c, "POST", 1000, 0, 3);
    assert_int_equal(r->err, TANDEM_EIO);
    assert_int_equal(r->attempts, 1);
    tandem_http_response_free(r);
    srv_script(1, 0, 0, NULL, 0); /* the same for GET is retried on a new connection */
    r = call(c, "GET", 1000, 0, 3);
    assert_int_equal(r->err, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 2);
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_deadline(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(1000, 0, 0); /* no breaker in the way */
    /* an upstream failing for ever: retries and backoff stop at the deadline */
    srv_script(0, 1000, 503, NULL, 0);
    int64_t t0 = now_ms();
    struct tandem_http_response *r = call(c, "GET", 1000, 80, 1000);
    int64_t took = now_ms() - t0;
    /* the last answer, or the deadline cutting the last attempt short; without the deadline the
     * 1000 attempts and their backoff (5..20 ms each) would take seconds: 400 ms of slack for a
     * loaded machine keeps that apart */
    assert_true(r->status == 503 || r->err == TANDEM_ETIMEDOUT);
    assert_true(r->attempts > 1);
    assert_true(took < 80 + 400);
    tandem_http_response_free(r);
    /* a slow answer: the deadline cuts the attempt below its own timeout */
    srv_script(0, 0, 0, NULL, 500);
    t0 = now_ms();
    r = call(c, "GET", 1000, 60, 5);
    took = now_ms() - t0;
    assert_int_equal(r->err, TANDEM_ETIMEDOUT);
    assert_true(took >= 60 && took < 450); /* cut, not the answer at 500 ms */
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_retry_after(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    srv_script(0, 1, 429, "0", 0);
    struct tandem_http_response *r = call(c, "GET", 1000, 0, 2);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 2);
    tandem_http_response_free(r);
    /* Retry-After beyond the deadline: no retry, the 429 comes back at once (not at the
     * deadline, 3 s) */
    srv_script(0, 1, 429, "5", 0);
    int64_t t0 = now_ms();
    r = call(c, "GET", 1000, 3000, 2);
    assert_int_equal(r->status, 429);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(tandem_http_response_header(r, "retry-after"), "5");
    assert_true(now_ms() - t0 < 2000);
    tandem_http_response_free(r);
    /* no deadline, but Retry-After longer than backoff_max_ms: not waited for (a day would park
     * the call, and a sync caller's worker, for a day) */
    srv_script(0, 1, 429, "86400", 0);
    t0 = now_ms();
    r = call(c, "GET", 1000, 0, 2);
    assert_int_equal(r->status, 429);
    assert_int_equal(r->attempts, 1);
    assert_true(now_ms() - t0 < 1000);
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    srv_stop();
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int n, err[8], status[8];
};

static void on_done(const struct tandem_http_response *r, void *arg)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->err[w->n] = r->err;
    w->status[w->n] = r->status;
    w->n++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static void wait_n(struct waiter *w, int n)
{
    pthread_mutex_lock(&w->mu);
    while (w->n < n) {
        pthread_cond_wait(&w->cond, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

static void test_breaker(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(3, 100, 0);
    srv_script(0, 3, 503, NULL, 0);
    for (int i = 0; i < 3; i++) {
        struct tandem_http_response *r = call(c, "GET", 1000, 0, 0);
        assert_int_equal(r->status, 503);
        tandem_http_response_free(r);
    }
    assert_int_equal(stats_of(c).breaker, TANDEM_BREAKER_OPEN);
    /* open: fail at once, the server sees nothing */
    int64_t t0 = now_ms();
    struct tandem_http_response *r = call(c, "GET", 1000, 0, 3);
    assert_int_equal(r->err, TANDEM_EUNSUPPORTED);
    assert_int_equal(r->attempts, 0);
    assert_true(now_ms() - t0 < 200); /* a retried rejection would also count in rejected */
    tandem_http_response_free(r);
    assert_int_equal(srv_get(&srv.reqs), 3);
    assert_int_equal(stats_of(c).rejected, 1);
    /* after the cool-down, one probe: a failing probe reopens */
    usleep(120 * 1000);
    srv_script(0, 1, 503, NULL, 0);
    r = call(c, "GET", 1000, 0, 0);
    assert_int_equal(r->status, 503);
    tandem_http_response_free(r);
    assert_int_equal(stats_of(c).breaker, TANDEM_BREAKER_OPEN);
    /* half-open again: the slow probe (500 ms: the checks below have that long) is alone, a
     * second call fails fast meanwhile */
    usleep(120 * 1000);
    srv_script(0, 0, 0, NULL, 500);
    struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct tandem_http_call_opts o = {.url = url, .timeout_ms = 1000};
    assert_int_equal(tandem_http_call(c, &o, on_done, &w), 0);
    usleep(20 * 1000);
    assert_int_equal(stats_of(c).breaker, TANDEM_BREAKER_HALF_OPEN);
    assert_int_equal(tandem_http_call(c, &o, on_done, &w), 0);
    wait_n(&w, 2);
    assert_int_equal(w.err[0], TANDEM_EUNSUPPORTED); /* the second call, at once */
    assert_int_equal(w.status[1], 200);              /* the probe */
    assert_int_equal(stats_of(c).breaker, TANDEM_BREAKER_CLOSED);
    srv_script(0, 0, 0, NULL, 0);
    r = call(c, "GET", 1000, 0, 0);
    assert_int_equal(r->status, 200);
    tandem_http_response_free(r);
    assert_int_equal(srv_get(&srv.reqs), 6);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_traceparent(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    const char *parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    struct tandem_http_call_opts o = {.url = url, .traceparent = parent};
    struct tandem_http_response *r = NULL;
    assert_int_equal(tandem_http_call_sync(c, &o, &r), 0);
    assert_int_equal(r->status, 200);
    struct tandem_traceparent sent, want;
    assert_int_equal(tandem_traceparent_parse(srv.last_tp, strlen(srv.last_tp), &sent), 0);
    assert_int_equal(tandem_traceparent_parse(parent, strlen(parent), &want), 0);
    assert_memory_equal(sent.trace_id, want.trace_id, 16);
    assert_memory_not_equal(sent.parent_id, want.parent_id, 8);
    assert_int_equal(sent.flags, 1);
    assert_string_equal(r->traceparent, srv.last_tp);
    tandem_http_response_free(r);
    /* no context: a new trace all the same */
    o.traceparent = NULL;
    assert_int_equal(tandem_http_call_sync(c, &o, &r), 0);
    assert_true(tandem_traceparent_valid(srv.last_tp, strlen(srv.last_tp)));
    assert_memory_not_equal(srv.last_tp + 3, parent + 3, 32);
    assert_string_equal(srv.last_rid, ""); /* no request id given: none sent */
    tandem_http_response_free(r);
    /* the request id is passed on as X-Request-Id; one that is not safe is not sent */
    o.request_id = "4f2c1b9e-7d3a-4e5f-9a8b-0c1d2e3f4a5b";
    assert_int_equal(tandem_http_call_sync(c, &o, &r), 0);
    assert_string_equal(srv.last_rid, o.request_id);
    tandem_http_response_free(r);
    o.request_id = "bad id\"";
    assert_int_equal(tandem_http_call_sync(c, &o, &r), 0);
    assert_string_equal(srv.last_rid, "");
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    srv_stop();
}

static void test_free_in_flight(void **state)
{
    srv_start();
    /* calls that finish within the bound are waited for */
    struct tandem_http_client *c = client_new(0, 0, 1000);
    srv_script(0, 0, 0, NULL, 30);
    struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct tandem_http_call_opts o = {.url = url, .timeout_ms = 2000};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tandem_http_call(c, &o, on_done, &w), 0);
    }
    tandem_http_client_free(c);
    assert_int_equal(w.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w.status[i], 200);
    }
    /* calls past the bound are cancelled with TANDEM_ECLOSED */
    c = client_new(0, 0, 50);
    srv_script(0, 0, 0, NULL, 2000);
    w.n = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tandem_http_call(c, &o, on_done, &w), 0);
    }
    int64_t t0 = now_ms();
    tandem_http_client_free(c);
    assert_true(now_ms() - t0 < 1500); /* not the calls' 2 s */
    assert_int_equal(w.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w.err[i], TANDEM_ECLOSED);
    }
    srv_stop();
}

/* tandem_http_client_free while tandem_http_call_sync callers wait: the callers it wakes (their
 * calls cancelled) re-lock the client's mutex after free joined the thread; free must wait for
 * them before it destroys the mutex and frees the client (ASan: use after free otherwise). */
static struct tandem_http_client *sync_client;
static _Atomic int sync_entered, sync_closed;

static void *sync_caller(void *arg)
{
    (void)arg;
    struct tandem_http_call_opts o = {.url = url, .timeout_ms = 10000};
    struct tandem_http_response *r = NULL;
    sync_entered++;
    int rc = tandem_http_call_sync(sync_client, &o, &r);
    if (rc == TANDEM_ECLOSED || (rc == 0 && r->err == TANDEM_ECLOSED)) {
        sync_closed++;
    }
    if (rc == 0) {
        tandem_http_response_free(r);
    }
    return NULL;
}

static void test_free_with_sync_waiters(void **state)
{
    srv_start();
    srv_script(0, 0, 0, NULL, 2000);
    for (int round = 0; round < 20; round++) {
        sync_client = client_new(0, 0, 1);
        sync_entered = 0;
        sync_closed = 0;
        pthread_t t[8];
        for (int i = 0; i < 8; i++) {
            assert_int_equal(pthread_create(&t[i], NULL, sync_caller, NULL), 0);
        }
        while (sync_entered < 8) {
            usleep(1000);
        }
        usleep(5000);
        tandem_http_client_free(sync_client);
        for (int i = 0; i < 8; i++) {
            pthread_join(t[i], NULL);
        }
        assert_int_equal(sync_closed, 8); /* every call cancelled (or refused), none lost */
    }
    srv_stop();
}

static void test_bad_calls(void **state)
{
    srv_start();
    struct tandem_http_client *c = client_new(0, 0, 0);
    struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct tandem_http_call_opts o = {.url = "ftp://127.0.0.1/x"};
    assert_int_equal(tandem_http_call(c, &o, on_done, &w), TANDEM_EINVAL);
    o.url = NULL;
    assert_int_equal(tandem_http_call(c, &o, on_done, &w), TANDEM_EINVAL);
    const char *bad[] = {"X-A: 1\r\nX-B: 2", NULL};
    o = (struct tandem_http_call_opts){.url = url, .headers = bad};
    assert_int_equal(tandem_http_call(c, &o, on_done, &w), TANDEM_EINVAL);
    /* nothing listens: connection refused */
    o = (struct tandem_http_call_opts){.url = "http://127.0.0.1:1/x"};
    struct tandem_http_response *r = NULL;
    assert_int_equal(tandem_http_call_sync(c, &o, &r), 0);
    assert_int_equal(r->err, TANDEM_EIO);
    tandem_http_response_free(r);
    tandem_http_client_free(c);
    assert_int_equal(w.n, 0);
    srv_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_reuse),
        cmocka_unit_test(test_attempt_timeout),
        cmocka_unit_test(test_retry_503_then_200),
        cmocka_unit_test(test_post_not_retried),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_breaker),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_free_with_sync_waiters),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
