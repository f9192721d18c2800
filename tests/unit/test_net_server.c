/*
 * Unit tests of the framing server (src/broker/net/): real sockets on 127.0.0.1, port 0. The
 * loop runs in the test thread; the client side of each test runs in a second thread with
 * blocking sockets (5 s receive timeouts), records what it saw, and stops the loop. Assertions
 * happen in the test thread after the join (cmocka is not thread-safe). A 20 s watchdog timer
 * fails a test that hangs.
 *
 * The test handler dispatches on a frame's first byte:
 *   'E' echo          'D' n  echo after a timer of n*10 ms (out-of-order fills)
 *   'S' splice reply  'C' echo then conn_close     'N' cancel (no response)
 *   'T' steal+echo    'B' n32 respond with n32 bytes ('b'), seq in the first 4 bytes
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log/log.h"
#include "net/net.h"
#include "base/kbuf.h"

struct ctx {
    struct loop *l;
    struct server *s;
    int port;
    atomic_int frames;
    atomic_int closes;
    atomic_int releases;
    size_t max_unsent_seen;
    int steal_same[4];
    int nsteal;
    int file_fd;
    bool timed_out;
    /* client results */
    bool (*client)(struct ctx *x);
    bool ok;
    char why[200];
};

static struct ctx *g;

/* ---- client helpers (client thread) ---------------------------------------------------------- */

static int cli_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

static bool recv_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = recv(fd, b, n, 0);
        if (k <= 0)
            return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

static bool send_frame(int fd, const void *body, size_t len)
{
    uint8_t h[4];
    put_be32(h, (uint32_t)len);
    return send_all(fd, h, 4) && send_all(fd, body, len);
}

/* Receives one frame into a malloc'd buffer; returns its length or -1. */
static long recv_frame(int fd, uint8_t **out)
{
    uint8_t h[4];
    if (!recv_all(fd, h, 4))
        return -1;
    uint32_t n = be32(h);
    *out = malloc(n ? n : 1);
    if (!recv_all(fd, *out, n)) {
        free(*out);
        return -1;
    }
    return (long)n;
}

/* True if the server closed the connection (EOF or reset) within the receive timeout. */
static bool expect_closed(int fd)
{
    uint8_t b[256];
    for (;;) {
        ssize_t k = recv(fd, b, sizeof(b), 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return true;
        if (k < 0)
            return false;
    }
}

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            snprintf(x->why, sizeof(x->why), "%s:%d: %s", __FILE__, __LINE__, #cond); \
            return false;                                                             \
        }                                                                             \
    } while (0)

static bool echo_roundtrip(struct ctx *x, int fd, const char *msg)
{
    uint8_t *r = NULL;
    CHECK(send_frame(fd, msg, strlen(msg)));
    long n = recv_frame(fd, &r);
    CHECK(n == (long)strlen(msg));
    bool same = memcmp(r, msg, (size_t)n) == 0;
    free(r);
    CHECK(same);
    return true;
}

/* ---- handler (loop thread) ------------------------------------------------------------------- */

struct later {
    struct conn *c;
    struct conn_slot *slot;
    uint8_t *data;
    size_t len;
    bool owned;
};

static void fill_bytes(struct conn *c, struct conn_slot *slot, const void *p, size_t n)
{
    struct kw w;
    kw_init(&w, 0);
    kw_raw(&w, p, n);
    conn_fill(c, slot, &w);
    kw_cleanup(&w); /* harmless: w was left empty */
}

static void fill_later(void *arg)
{
    struct later *lt = arg;
    fill_bytes(lt->c, lt->slot, lt->data, lt->len);
    conn_unref(lt->c);
    free(lt->data);
    free(lt);
}

static void release_slice(void *ext)
{
    atomic_fetch_add(&g->releases, 1);
    free(ext);
}

static void add_slice(struct kw *w, int fd, off_t pos, uint32_t len)
{
    struct file_slice *ls = calloc(1, sizeof(*ls));
    ls->fd = fd;
    ls->pos = pos;
    ls->len = len;
    kw_splice(w, ls, len);
}

static void on_frame(struct conn *c, uint8_t *f, size_t len, void *arg)
{
    struct ctx *x = arg;
    atomic_fetch_add(&x->frames, 1);
    if (conn_unsent_bytes(c) > x->max_unsent_seen)
        x->max_unsent_seen = conn_unsent_bytes(c);
    struct conn_slot *slot = conn_reserve(c);
    char op = len ? (char)f[0] : 'E';
    if (op == 'D' || op == 'T') {
        struct later *lt = calloc(1, sizeof(*lt));
        lt->c = c;
        lt->slot = slot;
        lt->len = len;
        if (op == 'T') {
            lt->data = conn_steal_frame(c);
            x->steal_same[x->nsteal++] = lt->data == f;
            if (conn_steal_frame(c) != NULL) /* second steal must fail */
                x->steal_same[x->nsteal - 1] = -1;
        } else {
            lt->data = malloc(len);
            memcpy(lt->data, f, len);
        }
        conn_ref(c);
        loop_timer_add(x->l, op == 'D' ? f[1] * 10 : 1, fill_later, lt);
    } else if (op == 'N') {
        conn_cancel(c, slot);
    } else if (op == 'S') {
        struct kw w;
        kw_init(&w, 0);
        kw_raw(&w, "AAA", 3);
        add_slice(&w, x->file_fd, 10, 5000);
        kw_raw(&w, "BBB", 3);
        add_slice(&w, x->file_fd, 7000, 3000);
        add_slice(&w, x->file_fd, 0, 1); /* two splices back to back */
        kw_raw(&w, "CCC", 3);
        conn_fill(c, slot, &w);
    } else if (op == 'B') {
        uint32_t n = be32(f + 1);
        uint8_t *b = malloc(n);
        memset(b, 'b', n);
        memcpy(b, f + 5, 4); /* sequence number */
        fill_bytes(c, slot, b, n);
        free(b);
    } else {
        fill_bytes(c, slot, f, len);
        if (op == 'C')
            conn_close(c);
    }
}

static void on_close(struct conn *c, void *arg)
{
    struct ctx *x = arg;
    atomic_fetch_add(&x->closes, 1);
    assert_true(conn_is_closed(c));
}

static const struct server_handler handler = {on_frame, on_close};

/* ---- harness --------------------------------------------------------------------------------- */

static void *client_main(void *arg)
{
    struct ctx *x = arg;
    x->ok = x->client(x);
    loop_stop(x->l);
    return NULL;
}

static void stop_loop(void *arg)
{
    loop_stop(arg);
}

static void watchdog(void *arg)
{
    struct ctx *x = arg;
    x->timed_out = true;
    loop_stop(x->l);
}

/* Runs client against a fresh server with cfg (listen filled in here). */
static void run(struct ctx *x, struct server_config *cfg, bool (*client)(struct ctx *))
{
    g = x;
    cfg->listen = "127.0.0.1:0";
    assert_int_equal(loop_new(&x->l), 0);
    cfg->release = release_slice;
    assert_int_equal(server_new(x->l, cfg, &handler, x, &x->s), 0);
    x->port = server_port(x->s);
    assert_true(x->port > 0);
    x->client = client;
    uint64_t wd = loop_timer_add(x->l, 20000, watchdog, x);
    pthread_t th;
    pthread_create(&th, NULL, client_main, x);
    assert_int_equal(loop_run(x->l), 0);
    pthread_join(th, NULL);
    loop_timer_cancel(x->l, wd);
    /* let the server see the clients' last closes */
    for (int i = 0; i < 20 && server_conn_count(x->s) > 0; i++)
        loop_run_once(x->l, 10);
}

static void finish(struct ctx *x)
{
    server_free(x->s);
    loop_free(x->l);
    if (x->file_fd > 0)
        close(x->file_fd);
    if (!x->ok)
        fail_msg("client: %s", x->why);
    assert_false(x->timed_out);
}

static struct server_config defaults(void)
{
    struct server_config c;
    server_config_defaults(&c);
    return c;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static bool cli_echo(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    CHECK(echo_roundtrip(x, fd, "Ehello"));
    CHECK(echo_roundtrip(x, fd, "E"));
    /* an empty frame is a frame too */
    uint8_t *r = NULL;
    CHECK(send_frame(fd, "", 0));
    CHECK(recv_frame(fd, &r) == 0);
    free(r);
    /* a frame dribbled one byte at a time */
    uint8_t fr[] = {0, 0, 0, 4, 'E', 'x', 'y', 'z'};
    for (size_t i = 0; i < sizeof(fr); i++) {
        CHECK(send_all(fd, fr + i, 1));
        usleep(1000);
    }
    CHECK(recv_frame(fd, &r) == 4 && memcmp(r, "Exyz", 4) == 0);
    free(r);
    close(fd);
    return true;
}

static void test_echo(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_echo);
    assert_int_equal(atomic_load(&x.frames), 4);
    assert_int_equal(atomic_load(&x.closes), 1);
    finish(&x);
}

/* Slot 1 is filled after 100 ms, slot 2 after 10 ms, slot 3 at once, slot 4 is cancelled,
 * slot 5 at once: responses must arrive 1, 2, 3, 5. */
static bool cli_pipeline(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    uint8_t f1[] = {'D', 10, '1'}, f2[] = {'D', 1, '2'};
    CHECK(send_frame(fd, f1, 3) && send_frame(fd, f2, 3) && send_frame(fd, "E3", 2) &&
          send_frame(fd, "N4", 2) && send_frame(fd, "E5", 2));
    const char *want[] = {"D\n1", "D\0012", "E3", "E5"};
    size_t wlen[] = {3, 3, 2, 2};
    for (int i = 0; i < 4; i++) {
        uint8_t *r = NULL;
        long n = recv_frame(fd, &r);
        CHECK(n == (long)wlen[i]);
        bool same = memcmp(r, want[i], wlen[i]) == 0;
        free(r);
        CHECK(same);
    }
    close(fd);
    return true;
}

static void test_pipeline_out_of_order(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_pipeline);
    finish(&x);
}

static bool cli_splice(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    for (int round = 0; round < 3; round++) {
        CHECK(send_frame(fd, "S", 1));
        uint8_t *r = NULL;
        long n = recv_frame(fd, &r);
        CHECK(n == 3 + 5000 + 3 + 3000 + 1 + 3);
        uint8_t want[8010];
        memcpy(want, "AAA", 3);
        for (int i = 0; i < 5000; i++)
            want[3 + i] = (uint8_t)((10 + i) * 7);
        memcpy(want + 5003, "BBB", 3);
        for (int i = 0; i < 3000; i++)
            want[5006 + i] = (uint8_t)((7000 + i) * 7);
        want[8006] = 0;
        memcpy(want + 8007, "CCC", 3);
        bool same = memcmp(r, want, 8010) == 0;
        free(r);
        CHECK(same);
    }
    close(fd);
    return true;
}

static void test_splice_sendfile(void **state)
{
    struct ctx x = {0};
    char path[] = "/tmp/test_net_spliceXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    uint8_t data[12000];
    for (int i = 0; i < 12000; i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
    struct server_config cfg = defaults();
    x.file_fd = fd;
    run(&x, &cfg, cli_splice);
    assert_int_equal(atomic_load(&x.releases), 9); /* three splices per response, once each */
    finish(&x);
}

static bool cli_over_cap(struct ctx *x)
{
    int good = cli_connect(x->port), bad = cli_connect(x->port), neg = cli_connect(x->port);
    CHECK(good >= 0 && bad >= 0 && neg >= 0);
    CHECK(echo_roundtrip(x, good, "Ebefore"));
    uint8_t big[2000];
    memset(big, 'E', sizeof(big));
    CHECK(send_frame(bad, big, sizeof(big))); /* cap is 1024 */
    CHECK(expect_closed(bad));
    uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe, 'E'};
    CHECK(send_all(neg, negative, sizeof(negative)));
    CHECK(expect_closed(neg));
    CHECK(echo_roundtrip(x, good, "Eafter"));
    close(good);
    close(bad);
    close(neg);
    return true;
}

static void test_frame_over_cap_and_negative(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    cfg.max_frame_bytes = 1024;
    run(&x, &cfg, cli_over_cap);
    assert_int_equal(atomic_load(&x.frames), 2);
    assert_int_equal(atomic_load(&x.closes), 3);
    finish(&x);
}

static bool cli_truncated(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    uint8_t part[4 + 50];
    put_be32(part, 100);
    memset(part + 4, 'E', 50);
    CHECK(send_all(fd, part, sizeof(part)));
    close(fd);
    /* and a big frame (own buffer) cut short */
    fd = cli_connect(x->port);
    CHECK(fd >= 0);
    uint8_t *b = calloc(1, 200000);
    put_be32(b, 50u << 20); /* declares 50 MiB, sends 200 KB */
    b[4] = 'E';
    bool sent = send_all(fd, b, 200000);
    free(b);
    CHECK(sent);
    close(fd);
    for (int i = 0; i < 200 && atomic_load(&x->closes) < 2; i++)
        usleep(5000);
    CHECK(atomic_load(&x->closes) == 2);
    return true;
}

static void test_truncated_frame_then_close(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_truncated);
    assert_int_equal(atomic_load(&x.frames), 0);
    finish(&x);
}

static bool cli_idle(struct ctx *x)
{
    int quiet = cli_connect(x->port), busy = cli_connect(x->port);
    CHECK(quiet >= 0 && busy >= 0);
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    uint8_t slow[] = {'D', 40, 'x'}; /* filled after 400 ms: not idle meanwhile */
    CHECK(send_frame(busy, slow, 3));
    CHECK(expect_closed(quiet));
    gettimeofday(&t1, NULL);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    CHECK(ms >= 100 && ms < 2000);
    uint8_t *r = NULL;
    CHECK(recv_frame(busy, &r) == 3);
    free(r);
    CHECK(expect_closed(busy)); /* and then idle too */
    close(quiet);
    close(busy);
    return true;
}

static void test_idle_timeout(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    cfg.idle_timeout_ms = 150;
    run(&x, &cfg, cli_idle);
    assert_int_equal(atomic_load(&x.closes), 2);
    finish(&x);
}

#define BP_N    2000
#define BP_RESP (32 * 1024)

static bool cli_backpressure(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    int rcv = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    for (uint32_t i = 0; i < BP_N; i++) {
        uint8_t f[9] = {'B'};
        put_be32(f + 1, BP_RESP);
        put_be32(f + 5, i);
        CHECK(send_frame(fd, f, sizeof(f)));
    }
    /* the server stops reading (the count holds still for 200 ms; however loaded the machine,
     * within 10 s)... */
    int s1 = -1, s2 = atomic_load(&x->frames);
    for (int i = 0; i < 50 && s1 != s2; i++) {
        s1 = s2;
        usleep(200000);
        s2 = atomic_load(&x->frames);
    }
    CHECK(s1 == s2);
    CHECK(s1 < BP_N); /* ...well before the end */
    for (uint32_t i = 0; i < BP_N; i++) {
        uint8_t *r = NULL;
        long n = recv_frame(fd, &r);
        CHECK(n == BP_RESP);
        uint32_t seq = be32(r);
        bool body = r[4] == 'b' && r[BP_RESP - 1] == 'b';
        free(r);
        CHECK(seq == i && body);
    }
    CHECK(atomic_load(&x->frames) == BP_N); /* ...and resumed */
    close(fd);
    return true;
}

static void test_backpressure(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    cfg.max_queued_bytes = 256 * 1024;
    run(&x, &cfg, cli_backpressure);
    assert_true(x.max_unsent_seen <= cfg.max_queued_bytes);
    finish(&x);
}

static bool cli_inflight(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    /* 20 slow requests (answered 300 ms after they are read): with max_inflight 4 only 4 are
     * read until answers go out; the 4 are awaited however slowly the server reads, then 100 ms
     * more show no fifth (the first answer is due 200 ms after that) */
    for (int i = 0; i < 20; i++) {
        uint8_t f[] = {'D', 30, (uint8_t)i};
        CHECK(send_frame(fd, f, 3));
    }
    for (int i = 0; i < 500 && atomic_load(&x->frames) < 4; i++) {
        usleep(10000);
    }
    usleep(100000);
    CHECK(atomic_load(&x->frames) == 4);
    for (int i = 0; i < 20; i++) {
        uint8_t *r = NULL;
        CHECK(recv_frame(fd, &r) == 3);
        bool ok = r[2] == (uint8_t)i;
        free(r);
        CHECK(ok);
    }
    close(fd);
    return true;
}

static void test_max_inflight(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    cfg.max_inflight = 4;
    run(&x, &cfg, cli_inflight);
    finish(&x);
}

#define MANY 2000

static bool cli_many(struct ctx *x)
{
    static int fds[MANY];
    for (int i = 0; i < MANY; i++) {
        fds[i] = cli_connect(x->port);
        CHECK(fds[i] >= 0);
    }
    for (int i = 0; i < MANY; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "E%d", i);
        CHECK(send_frame(fds[i], m, (size_t)n));
    }
    for (int i = 0; i < MANY; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "E%d", i);
        uint8_t *r = NULL;
        CHECK(recv_frame(fds[i], &r) == n);
        bool same = memcmp(r, m, (size_t)n) == 0;
        free(r);
        CHECK(same);
    }
    for (int i = 0; i < MANY; i++)
        close(fds[i]);
    return true;
}

static void test_many_connections(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_many);
    assert_int_equal(atomic_load(&x.frames), MANY);
    assert_int_equal(atomic_load(&x.closes), MANY);
    finish(&x);
}

static bool cli_steal(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    size_t bigsz = 2u << 20;
    uint8_t *big = malloc(bigsz);
    for (size_t i = 0; i < bigsz; i++)
        big[i] = (uint8_t)(i * 31 + 1);
    big[0] = 'T';
    CHECK(send_frame(fd, "Tsmall", 6));
    bool sent = send_frame(fd, big, bigsz) && send_frame(fd, "Eafter", 6);
    uint8_t *r = NULL;
    bool ok = sent && recv_frame(fd, &r) == 6 && memcmp(r, "Tsmall", 6) == 0;
    free(r);
    r = NULL;
    ok = ok && recv_frame(fd, &r) == (long)bigsz && memcmp(r, big, bigsz) == 0;
    free(r);
    r = NULL;
    ok = ok && recv_frame(fd, &r) == 6 && memcmp(r, "Eafter", 6) == 0;
    free(r);
    free(big);
    CHECK(ok);
    CHECK(echo_roundtrip(x, fd, "Eagain"));
    close(fd);
    return true;
}

static void test_steal_frame(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_steal);
    assert_int_equal(x.nsteal, 2);
    assert_int_equal(x.steal_same[0], 0); /* small: a copy */
    assert_int_equal(x.steal_same[1], 1); /* big: the very buffer */
    finish(&x);
}

static bool cli_close_inside(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    /* the close request comes with frames behind it: they are not read */
    CHECK(send_frame(fd, "Cbye", 4) && send_frame(fd, "Eignored", 8));
    uint8_t *r = NULL;
    CHECK(recv_frame(fd, &r) == 4);
    free(r);
    CHECK(expect_closed(fd));
    close(fd);
    return true;
}

static void test_close_inside_on_frame(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_close_inside);
    assert_int_equal(atomic_load(&x.frames), 1);
    assert_int_equal(atomic_load(&x.closes), 1);
    finish(&x);
}

static bool cli_max_conns(struct ctx *x)
{
    int a = cli_connect(x->port), b = cli_connect(x->port);
    CHECK(a >= 0 && b >= 0);
    CHECK(echo_roundtrip(x, a, "Ea") && echo_roundtrip(x, b, "Eb"));
    int c = cli_connect(x->port);
    CHECK(c >= 0);
    CHECK(expect_closed(c));
    CHECK(echo_roundtrip(x, a, "Ea2"));
    close(a);
    close(b);
    close(c);
    return true;
}

static void test_max_connections(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    cfg.max_connections = 2;
    run(&x, &cfg, cli_max_conns);
    finish(&x);
}

/* A slot still pending when the server is freed: the conn stays valid until the last unref and
 * the late fill just disposes of everything. */
static bool cli_pending_at_free(struct ctx *x)
{
    int fd = cli_connect(x->port);
    CHECK(fd >= 0);
    uint8_t f[] = {'D', 100, 'z'}; /* 1 s: outlives the test's loop */
    CHECK(send_frame(fd, f, 3));
    while (atomic_load(&x->frames) < 1)
        usleep(1000);
    close(fd);
    return true;
}

static void test_pending_slot_outlives_server(void **state)
{
    struct ctx x = {0};
    struct server_config cfg = defaults();
    run(&x, &cfg, cli_pending_at_free);
    server_free(x.s); /* the conn closes; the timer still holds a ref and the slot */
    x.s = NULL;
    loop_timer_add(x.l, 1500, stop_loop, x.l);
    assert_int_equal(loop_run(x.l), 0); /* fill_later runs on a closed, server-less conn */
    assert_int_equal(loop_timer_count(x.l), 0);
    finish(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_pipeline_out_of_order),
        cmocka_unit_test(test_splice_sendfile),
        cmocka_unit_test(test_frame_over_cap_and_negative),
        cmocka_unit_test(test_truncated_frame_then_close),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_max_inflight),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_steal_frame),
        cmocka_unit_test(test_close_inside_on_frame),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_pending_slot_outlives_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
