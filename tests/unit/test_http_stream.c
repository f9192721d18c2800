/*
 * test_http_stream: streamed answers (tandem_http_stream_* in include/tandem/http.h,
 * src/lib/http/stream.c) over real sockets on 127.0.0.1, one worker.
 *
 * Routes of the handler: /s answers a stream of two pieces at once (begin, write, write, end);
 * /bin one piece of every byte value; /hold begins a stream and keeps it (the test then writes
 * and ends it on the worker through tandem_loop_post); /tick writes "tick N\n" every 20 ms from
 * a loop timer, five times, then ends; anything else 200 "ok". The config's on_done and every
 * stream's on_close count what they see.
 *
 * CTest runs this file with epoll and with io_uring (TANDEM_HTTP_IO).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
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

static struct tandem_http_request *held; /* the /hold stream (worker thread only) */
static atomic_int holds;                 /* /hold streams begun */
static atomic_int closes, close_reason, dones, done_status, begin_rc;
static atomic_int ticks_written;

static void on_close(struct tandem_http_request *req, int reason, void *arg)
{
    (void)arg;
    assert_ptr_equal(req, held);
    /* inside on_close the stream is closing: writes and end do nothing */
    assert_int_equal(tandem_http_stream_write(req, "x", 1), TANDEM_ECLOSED);
    assert_int_equal(tandem_http_stream_end(req), TANDEM_ECLOSED);
    held = NULL;
    atomic_store(&close_reason, reason);
    atomic_fetch_add(&closes, 1);
}

static void on_done(struct tandem_http_request *req, int status, void *arg)
{
    (void)req;
    (void)arg;
    atomic_store(&done_status, status);
    atomic_fetch_add(&dones, 1);
}

static void tick(void *arg)
{
    struct tandem_http_request *req = arg;
    int n = atomic_fetch_add(&ticks_written, 1);
    char line[32];
    int len = snprintf(line, sizeof(line), "tick %d\n", n);
    assert_int_equal(tandem_http_stream_write(req, line, (size_t)len), 0);
    if (n == 4) {
        assert_int_equal(tandem_http_stream_end(req), 0);
        return;
    }
    assert_int_equal(tandem_loop_timer_add(tandem_loop_current(), 20, tick, req, NULL), 0);
}

static void handler(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    if (strcmp(req->path, "/s") == 0) {
        tandem_http_add_header(req, "X-Stream", "yes");
        int rc = tandem_http_stream_begin(req, 200, "text/plain", NULL, NULL);
        atomic_store(&begin_rc, rc);
        if (rc == 0) {
            assert_int_equal(tandem_http_stream_write(req, "hello", 5), 0);
            assert_int_equal(tandem_http_stream_write(req, "", 0), 0); /* nothing: no end */
            assert_int_equal(tandem_http_stream_write(req, "world!", 6), 0);
            assert_int_equal(tandem_http_stream_end(req), 0);
        }
    } else if (strcmp(req->path, "/bin") == 0) {
        char all[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (char)i;
        }
        assert_int_equal(tandem_http_stream_begin(req, 200, NULL, NULL, NULL), 0);
        assert_int_equal(tandem_http_stream_write(req, all, sizeof(all)), 0);
        assert_int_equal(tandem_http_stream_end(req), 0);
    } else if (strcmp(req->path, "/hold") == 0) {
        int rc = tandem_http_stream_begin(req, 200, "text/event-stream", on_close, NULL);
        atomic_store(&begin_rc, rc);
        if (rc == 0) {
            held = req;
            atomic_fetch_add(&holds, 1);
        }
    } else if (strcmp(req->path, "/tick") == 0) {
        atomic_store(&ticks_written, 0);
        assert_int_equal(tandem_http_stream_begin(req, 200, "text/plain", NULL, NULL), 0);
        assert_int_equal(tandem_loop_timer_add(tandem_loop_current(), 20, tick, req, NULL), 0);
    } else if (strcmp(req->path, "/bad") == 0) {
        assert_int_equal(tandem_http_stream_begin(req, 204, NULL, NULL, NULL), TANDEM_EINVAL);
        assert_int_equal(tandem_http_stream_begin(req, 304, NULL, NULL, NULL), TANDEM_EINVAL);
        assert_int_equal(tandem_http_stream_begin(req, 101, NULL, NULL, NULL), TANDEM_EINVAL);
        assert_int_equal(tandem_http_stream_write(req, "x", 1), TANDEM_EINVAL); /* not begun */
        assert_int_equal(tandem_http_stream_end(req), TANDEM_EINVAL);
        tandem_http_respond(req, 200, "text/plain", "ok", 2);
    } else {
        tandem_http_respond(req, 200, "text/plain", "ok", 2);
    }
}

static struct tandem_http_server *start_cfg(size_t queue, int64_t idle_ms)
{
    struct tandem_http_config cfg = {
        .workers = 1,
        .handler = handler,
        .on_done = on_done,
        .max_stream_queue = queue,
        .idle_timeout_ms = idle_ms,
    };
    struct tandem_http_server *s = NULL;
    assert_int_equal(tandem_http_server_start(&cfg, &s), 0);
    atomic_store(&closes, 0);
    atomic_store(&dones, 0);
    atomic_store(&holds, 0);
    atomic_store(&close_reason, 1);
    return s;
}

static void send_str(int fd, const char *p)
{
    size_t n = strlen(p);
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Reads into buf (NUL-terminated; *len bytes so far) until needle (n bytes) is in it, the peer
 * closes (*eof) or timeout_ms pass. Returns whether needle was found. */
static bool read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle, size_t n,
                       int timeout_ms, bool *eof)
{
    double t0 = now_ms();
    size_t from = 0; /* needle is not in buf[0 .. from + n - 1) */
    *eof = false;
    for (;;) {
        if (memmem(buf + from, *len - from, needle, n) != NULL) {
            return true;
        }
        from = *len >= n ? *len - n + 1 : 0;
        int left = timeout_ms - (int)(now_ms() - t0);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            return false;
        }
        assert_true(*len < cap - 1);
        ssize_t r = recv(fd, buf + *len, cap - 1 - *len, 0);
        if (r <= 0) {
            *eof = true;
            return memmem(buf, *len, needle, n) != NULL;
        }
        *len += (size_t)r;
        buf[*len] = '\0';
    }
}

/* Runs fn(arg) on the server's worker and waits for it (at most 5 s). */
struct on_worker {
    void (*fn)(void *);
    void *arg;
    atomic_int done;
};

static void run_it(void *p)
{
    struct on_worker *o = p;
    o->fn(o->arg);
    atomic_store(&o->done, 1);
}

static void on_worker(struct tandem_http_server *s, void (*fn)(void *), void *arg)
{
    struct on_worker o = {.fn = fn, .arg = arg};
    assert_int_equal(tandem_loop_post(tandem_http_server_loop(s, 0), run_it, &o), 0);
    for (int i = 0; i < 500 && !atomic_load(&o.done); i++) {
        usleep(10000);
    }
    assert_true(atomic_load(&o.done));
}

static void wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 500 && atomic_load(v) < want; i++) {
        usleep(10000);
    }
    assert_int_equal(atomic_load(v), want);
}

static int write_rc;
static void write_held(void *arg)
{
    write_rc = held != NULL ? tandem_http_stream_write(held, arg, strlen(arg)) : TANDEM_ENOENT;
}

static void end_held(void *arg)
{
    (void)arg;
    assert_non_null(held);
    assert_int_equal(tandem_http_stream_end(held), 0);
    held = NULL;
}

/* One test's server and client connection; read: everything read so far (NUL-terminated). */
static struct tc {
    struct tandem_http_server *s;
    int fd;
    char read[8192];
    size_t len;
    bool eof;
} tc;

/* A client with a small receive buffer (set before the connect, so the window is small from the
 * start: the kernel's buffers fill sooner). */
static int dial_small(struct tandem_http_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 8192;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)tandem_http_server_port(s))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Starts a server (queue, idle_ms: the config's, 0 for the defaults), connects to it (with a
 * small receive buffer when small) and sends request (NULL: nothing yet). */
static struct tc *tc_open(size_t queue, int64_t idle_ms, bool small, const char *request)
{
    memset(&tc, 0, sizeof(tc));
    tc.s = start_cfg(queue, idle_ms);
    tc.fd = small ? dial_small(tc.s) : dial(tc.s);
    if (request != NULL) {
        send_str(tc.fd, request);
    }
    return &tc;
}

/* Reads until needle has come (true), or the peer closed or 3 s passed (false). */
static bool tc_until(struct tc *t, const char *needle)
{
    return read_until(t->fd, t->read, sizeof(t->read), &t->len, needle, strlen(needle), 3000,
                      &t->eof);
}

/* Reads until the server closes the connection (asserted), within 3 s. */
static void tc_to_close(struct tc *t)
{
    assert_false(tc_until(t, "\x01(never sent)"));
    assert_true(t->eof);
}

/* Forgets what was read so far. */
static void tc_clear(struct tc *t)
{
    t->len = 0;
    t->read[0] = '\0';
}

/* What follows the head in what was read. */
static char *tc_body(struct tc *t)
{
    char *b = strstr(t->read, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

static void tc_close(struct tc *t)
{
    if (t->fd >= 0) {
        close(t->fd);
    }
    tandem_http_server_stop(t->s);
}

/* The whole answer, byte for byte (but the Date), and the connection goes on. */
static void test_chunked_framing_exact(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(tc_until(t, "0\r\n\r\n"));
    char *date = strstr(t->read, "Date: ");
    assert_non_null(date);
    memset(date + 6, '*', 29);
    const char want[] = "HTTP/1.1 200 OK\r\nServer: tandem\r\nDate: "
                        "*****************************\r\n"
                        "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                        "X-Stream: yes\r\n\r\n"
                        "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n";
    assert_int_equal(t->len, sizeof(want) - 1);
    assert_memory_equal(t->read, want, sizeof(want) - 1);
    assert_int_equal(atomic_load(&dones), 1);
    assert_int_equal(atomic_load(&done_status), 200);

    /* every byte value is framed by its length */
    tc_clear(t);
    send_str(t->fd, "GET /bin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(tc_until(t, "\r\n0\r\n\r\n"));
    char *body = tc_body(t);
    char out[512];
    size_t out_len = 0, used = 0, n = t->len - (size_t)(body - t->read);
    assert_int_equal(http_dechunk(body, n, out, &out_len, &used), 1);
    assert_int_equal(used, n);
    assert_int_equal(out_len, 256);
    for (int i = 0; i < 256; i++) {
        assert_int_equal((unsigned char)out[i], i);
    }
    tc_close(t);
}

/* A request pipelined behind a stream waits for its end, then is answered on the same
 * connection (keep-alive after a streamed answer). */
static void test_keep_alive_and_pipelining(void **state)
{
    (void)state;
    struct tc *t = tc_open(
        0, 0, false, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(&holds, 1);
    assert_true(tc_until(t, "\r\n\r\n"));
    on_worker(t->s, write_held, "data: one\n\n");
    assert_int_equal(write_rc, 0);
    assert_true(tc_until(t, "data: one\n\n\r\n"));
    /* the pipelined request has not been answered: it waits behind the stream */
    assert_null(strstr(t->read, "ok"));
    on_worker(t->s, end_held, NULL);
    assert_true(tc_until(t, "\r\n\r\nok"));
    /* the last chunk, then the next answer */
    assert_non_null(strstr(t->read, "0\r\n\r\nHTTP/1.1 200 OK\r\n"));
    assert_null(strstr(t->read, "Connection: close"));
    assert_int_equal(atomic_load(&closes), 0); /* ended by its owner: no on_close */
    wait_for(&dones, 2);
    /* still open for more */
    tc_clear(t);
    send_str(t->fd, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(tc_until(t, "0\r\n\r\n"));
    tc_close(t);
}

/* Pieces written from loop timers arrive as they are written, not at the end. */
static void test_pieces_arrive_as_written(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, "GET /tick HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(tc_until(t, "tick 0\n"));
    /* the first piece came while the stream was still being written */
    assert_true(atomic_load(&ticks_written) < 5);
    assert_true(tc_until(t, "0\r\n\r\n"));
    char *body = tc_body(t);
    char out[256];
    size_t out_len;
    assert_int_equal(http_dechunk(body, t->len - (size_t)(body - t->read), out, &out_len, NULL), 1);
    out[out_len] = '\0';
    assert_string_equal(out, "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n");
    tc_close(t);
}

/* HEAD of a streaming route: the head alone, the stream never opens, the connection goes on. */
static void test_head(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false,
                           "HEAD /s HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(tc_until(t, "\r\n\r\nok"));
    assert_int_equal(atomic_load(&begin_rc), TANDEM_ECLOSED);
    assert_non_null(
        strstr(t->read, "Transfer-Encoding: chunked\r\nX-Stream: yes\r\n\r\nHTTP/1.1 200"));
    assert_null(strstr(t->read, "hello"));
    assert_int_equal(atomic_load(&dones), 2);
    tc_close(t);
}

/* HTTP/1.0: no chunks, no length, the body ends with the connection. */
static void test_http10_close_delimited(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, "GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    tc_to_close(t);
    assert_non_null(strstr(t->read, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(t->read, "Connection: close\r\n"));
    assert_null(strstr(t->read, "Transfer-Encoding"));
    assert_null(strstr(t->read, "Content-Length"));
    assert_string_equal(tc_body(t), "helloworld!");
    tc_close(t);
}

/* The client closes: on_close(TANDEM_ECLOSED) and on_done(200), once; nothing leaks (ASan). The
 * same when it only shuts its writing side (nginx's rule: it is leaving). */
static void test_client_goes_away(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, NULL);
    for (int how = 0; how < 2; how++) {
        int fd = how == 0 ? t->fd : dial(t->s);
        t->fd = fd;
        tc_clear(t);
        send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
        wait_for(&holds, how + 1);
        assert_true(tc_until(t, "\r\n\r\n"));
        if (how == 0) {
            close(fd);
        } else {
            shutdown(fd, SHUT_WR);
        }
        wait_for(&closes, how + 1);
        assert_int_equal(atomic_load(&close_reason), TANDEM_ECLOSED);
        wait_for(&dones, how + 1);
        assert_int_equal(atomic_load(&done_status), 200);
        if (how == 1) {
            tc_to_close(t); /* closed by the server, no last chunk */
            assert_null(strstr(t->read, "0\r\n\r\n"));
            close(fd);
        }
    }
    /* a stream begun after the client shut its side never opens */
    t->fd = dial(t->s);
    send_str(t->fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(t->fd, SHUT_WR);
    wait_for(&dones, 3);
    tc_close(t);
}

/* Back-pressure: a client that reads nothing fills the queue; writes then answer TANDEM_EAGAIN
 * and the server's unsent bytes stay under max_stream_queue; a piece larger than it is
 * TANDEM_ETOOLARGE. Once the client reads, writes succeed again, and what it reads is exactly the
 * pieces that were accepted, whole and in order. */
#define FLOOD_QUEUE (16 * 1024)
static struct {
    int accepted, refused, round_accepted;
    size_t max_queued;
} flood;

static void flood_fill(void *arg)
{
    (void)arg;
    char piece[1000];
    flood.round_accepted = 0;
    for (int i = 0; i < 64; i++) {
        memset(piece, 'a' + flood.accepted % 26, sizeof(piece));
        snprintf(piece, sizeof(piece), "%08d", flood.accepted);
        piece[8] = ':';
        int rc = tandem_http_stream_write(held, piece, sizeof(piece));
        size_t q = tandem_http_stream_queued(held);
        flood.max_queued = q > flood.max_queued ? q : flood.max_queued;
        if (rc == TANDEM_EAGAIN) {
            flood.refused++;
            return;
        }
        assert_int_equal(rc, 0);
        flood.accepted++;
        flood.round_accepted++;
    }
}

/* Writes until the kernel's buffers are full too: ten rounds in a row accept nothing. */
static void flood_until_full(struct tandem_http_server *s)
{
    memset(&flood, 0, sizeof(flood));
    int streak = 0;
    for (int round = 0; round < 3000 && streak < 10; round++) {
        on_worker(s, flood_fill, NULL);
        streak = flood.round_accepted == 0 ? streak + 1 : 0;
        usleep(1000);
    }
    assert_int_equal(streak, 10);
    assert_true(flood.refused >= 10);
}

static void flood_too_large(void *arg)
{
    static char big[FLOOD_QUEUE];
    *(int *)arg = tandem_http_stream_write(held, big, sizeof(big));
}

static void test_back_pressure(void **state)
{
    (void)state;
    struct tc *t = tc_open(FLOOD_QUEUE, 0, true, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(&holds, 1);
    flood_until_full(t->s);
    assert_true(flood.max_queued <= FLOOD_QUEUE);
    assert_true(flood.max_queued > FLOOD_QUEUE / 2); /* it did fill */
    int rc = 0;
    on_worker(t->s, flood_too_large, &rc);
    assert_int_equal(rc, TANDEM_ETOOLARGE);

    /* read it all (with the end) and check every accepted piece came whole, in order */
    int accepted = flood.accepted;
    on_worker(t->s, end_held, NULL);
    size_t cap = (size_t)accepted * 1100 + 65536, len = 0;
    char *buf = malloc(cap);
    bool eof;
    assert_true(read_until(t->fd, buf, cap, &len, "\r\n0\r\n\r\n", 7, 10000, &eof));
    char *body = strstr(buf, "\r\n\r\n") + 4;
    char *out = malloc(cap);
    size_t out_len;
    assert_int_equal(http_dechunk(body, len - (size_t)(body - buf), out, &out_len, NULL), 1);
    assert_int_equal(out_len, (size_t)accepted * 1000);
    for (int i = 0; i < accepted; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%08d:", i);
        assert_memory_equal(out + (size_t)i * 1000, want, 9);
        assert_int_equal(out[(size_t)i * 1000 + 999], 'a' + i % 26);
    }
    free(out);
    free(buf);
    tc_close(t);
}

/* A client that reads nothing while bytes wait is closed after idle_timeout_ms:
 * on_close(TANDEM_ETIMEDOUT). */
static void test_blocked_output_times_out(void **state)
{
    (void)state;
    struct tc *t = tc_open(FLOOD_QUEUE, 300, true, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(&holds, 1);
    flood_until_full(t->s);
    wait_for(&closes, 1); /* within 5 s; the deadline is 300 ms after the last progress */
    assert_int_equal(atomic_load(&close_reason), TANDEM_ETIMEDOUT);
    tc_close(t);
}

/* Drain ends an open stream at once: the last chunk, on_close(0), the connection closes, and
 * the drain returns 0 well before its timeout. A stream begun while draining ends at once. */
struct drain_arg {
    struct tandem_http_server *s;
    int rc;
};

static void *drain_thread(void *p)
{
    struct drain_arg *a = p;
    a->rc = tandem_http_server_drain(a->s, 5000);
    return NULL;
}

static void test_drain_ends_streams(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(&holds, 1);
    on_worker(t->s, write_held, "data: before\n\n");
    struct drain_arg da = {.s = t->s};
    double t0 = now_ms();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain_thread, &da), 0);
    tc_to_close(t);
    assert_non_null(strstr(t->read, "data: before\n\n\r\n0\r\n\r\n"));
    close(t->fd); /* the server lingers until the client closes too */
    t->fd = -1;
    pthread_join(th, NULL);
    assert_int_equal(da.rc, 0);
    assert_true(now_ms() - t0 < 2000);
    assert_int_equal(atomic_load(&closes), 1);
    assert_int_equal(atomic_load(&close_reason), 0);
    assert_int_equal(atomic_load(&dones), 1);
    tc_close(t);
}

/* Stop with a stream open: on_close(0) on the worker, the client gets the last chunk and the
 * close; ASan finds nothing left. */
static void test_stop_ends_streams(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_for(&holds, 1);
    tandem_http_server_stop(t->s);
    assert_int_equal(atomic_load(&closes), 1);
    assert_int_equal(atomic_load(&close_reason), 0);
    assert_int_equal(atomic_load(&dones), 1);
    tc_to_close(t);
    assert_non_null(strstr(t->read, "\r\n\r\n0\r\n\r\n"));
    close(t->fd);
}

/* Misuse: statuses without a body, writes and ends of a request that has no stream. */
static void test_misuse(void **state)
{
    (void)state;
    struct tc *t = tc_open(0, 0, false, "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(tc_until(t, "\r\n\r\nok"));
    tc_close(t);
}

int main(void)
{
    if (http_io_uring_refused()) {
        return TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_framing_exact),
        cmocka_unit_test(test_keep_alive_and_pipelining),
        cmocka_unit_test(test_pieces_arrive_as_written),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_http10_close_delimited),
        cmocka_unit_test(test_client_goes_away),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_blocked_output_times_out),
        cmocka_unit_test(test_drain_ends_streams),
        cmocka_unit_test(test_stop_ends_streams),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
