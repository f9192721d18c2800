/*
 * rest.c: the REST sender of tandem-ingest: the simulator's updates as HTTP/1.1 POSTs, one update
 * a request (rest) or up to `batch` a request (rest-batch), answered once the fleet applied them.
 *
 * As fast as REST honestly goes: `conns` keep-alive connections (TCP_NODELAY), one request in
 * flight on each (no pipelining: HTTP/1.1 clients do not pipeline in practice, and a proxy in
 * front may not), every request written with one send() from a buffer the body was formatted
 * into in place (the head is written just before it), answers parsed by tandem-load's parser
 * (bench/load/resp.c), one epoll set on one thread.
 *
 * Model:
 *
 *   simulator --(due)--> backlog (FIFO) ----+--> idle connection --> request --> 2xx: acked
 *                                           |                                --> failure:
 *   retries (heap by due time) <------------+------ backoff (100 ms doubling to 2 s, jitter) --'
 *
 * An update is made when the simulator says it is due, whatever the server does (the fleet's
 * vehicles do not wait), and waits in the backlog for a free connection: when the server is slower
 * than the updates, the backlog grows and the updates' visible latency with it (their ts is when
 * they were due). The backlog holds at most backlog_max updates (retries included); beyond it a
 * new update is dropped and counted lost. A failed request's updates are tried again after a
 * backoff, with priority over the backlog, until retry_for seconds after their first try; then
 * they are lost. Positions are idempotent (the fleet keeps the newest ts of a vehicle and ignores
 * an older or equal one), so resending is always safe.
 *
 * What a failure means for the ledger: a request that never reached the service (connect refused,
 * the gateway's own 503 "no instance ... running", a 429, a reset before the request was written,
 * the keep-alive race: a reused connection closed before any byte of the answer) surely was not
 * applied; a 4xx but 429 is a refusal (lost, not retried); anything else after the request was
 * written (a timeout, a reset or close mid-answer, a 500, 502 or 504, and the service's own 503:
 * the fleet's may follow a partly applied batch) may have been applied: its updates are
 * "unknown" in the ledger until a retry is acknowledged.
 *
 * Batches: with batch > 1 a connection takes what is waiting, up to batch; it waits for more at
 * most linger_ms (5 ms, librdkafka's linger) when fewer than batch wait. The drain: after the
 * send window no update is made; what waits is sent for at most drain_s, then counted "left".
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest_io.h"
#include "resp.h"
#include "tandem/error.h"

#define HEAD_ROOM    256        /* bytes before the body for the request head */
#define TICK_NS      1000000ull /* the loop wakes at least this often */
#define SCAN_NS      5000000ull /* timeouts are looked at this often */
#define BACKOFF0_NS  100000000ull
#define BACKOFF_MAX  2000000000ull
#define LINGER_NS(c) ((uint64_t)(c)->linger_ms * 1000000ull)
#define READ_LEN     65536

enum cstate { C_DOWN, C_CONNECTING, C_IDLE, C_WRITING, C_READING };

struct conn {
    int fd;
    enum cstate st;
    uint32_t gen;
    uint16_t port;
    bool reused;        /* has carried a complete answer */
    uint32_t fails;     /* consecutive failed connects */
    uint64_t wake;      /* C_DOWN: when to connect */
    struct item *items; /* the request's updates */
    int n;
    char *buf; /* HEAD_ROOM + the body */
    size_t req_off, req_len, woff, rx;
    uint64_t t_sent;
    struct load_resp resp;
    char answer[256]; /* the answer's first body bytes (whose 503 it is) */
};

struct ring {
    struct item *v;
    size_t head, len, cap;
};

struct heap {
    struct item *v;
    size_t n, cap;
};

struct rrun {
    const struct run_config *c;
    struct sender_stats *st;
    const char *path;
    int ep;
    struct conn *conns;
    struct ring fresh;
    struct heap retry;
    uint64_t now, window_end, drain_end;
    bool making, sending;
    uint64_t inflight; /* connections with a request */
    uint64_t rng;
    size_t buf_cap;
    char rbuf[READ_LEN];
};

/* ---- the backlog and the retries ------------------------------------------------------------ */

static size_t waiting(const struct rrun *r)
{
    return r->fresh.len + r->retry.n;
}

static int ring_push(struct ring *q, const struct item *it)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 65536;
        struct item *v = malloc(cap * sizeof(*v));
        if (v == NULL) {
            return TANDEM_ENOMEM;
        }
        for (size_t i = 0; i < q->len; i++) {
            v[i] = q->v[(q->head + i) % q->cap];
        }
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    q->v[(q->head + q->len) % q->cap] = *it;
    q->len++;
    return 0;
}

static struct item *ring_front(struct ring *q)
{
    return q->len > 0 ? &q->v[q->head] : NULL;
}

static void ring_pop(struct ring *q)
{
    q->head = (q->head + 1) % q->cap;
    q->len--;
}

static int heap_push(struct heap *h, const struct item *it)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4096;
        struct item *v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL) {
            return TANDEM_ENOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = *it;
    while (i > 0 && h->v[(i - 1) / 2].due_ns > h->v[i].due_ns) {
        struct item t = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static void heap_pop(struct heap *h, struct item *out)
{
    *out = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < h->n && h->v[l].due_ns < h->v[m].due_ns) {
            m = l;
        }
        if (l + 1 < h->n && h->v[l + 1].due_ns < h->v[m].due_ns) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        struct item t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

static void note_backlog(struct rrun *r)
{
    uint64_t n = waiting(r);
    atomic_store_explicit(&r->st->backlog, n, memory_order_relaxed);
    if (n > atomic_load_explicit(&r->st->backlog_max, memory_order_relaxed)) {
        atomic_store_explicit(&r->st->backlog_max, n, memory_order_relaxed);
    }
}

static uint64_t jitter(struct rrun *r, uint64_t wait)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return wait / 2 + r->rng % (wait / 2 + 1); /* equal jitter: [wait/2, wait] */
}

/* The updates of a failed request: retried after a backoff, or lost when their window is over
 * (or the drain ended). unknown: the request may have been applied. */
static void items_failed(struct rrun *r, struct item *items, int n, bool unknown)
{
    struct sender_stats *st = r->st;
    for (int i = 0; i < n; i++) {
        struct item it = items[i];
        int64_t index = sim_index(r->c->sim, it.p.id);
        if (unknown && index >= 0) {
            ledger_unknown(r->c->ledger, (uint64_t)index, it.p.ts);
        }
        it.attempts++;
        uint64_t wait = BACKOFF0_NS << (it.attempts - 1 < 5 ? it.attempts - 1 : 5);
        wait = jitter(r, wait < BACKOFF_MAX ? wait : BACKOFF_MAX);
        it.due_ns = r->now + wait;
        bool window_over = it.due_ns - it.first_ns > (uint64_t)(r->c->retry_for_s * 1e9);
        if (!r->sending) {
            atomic_fetch_add_explicit(&st->left, 1, memory_order_relaxed);
        } else if (window_over || heap_push(&r->retry, &it) != 0) {
            atomic_fetch_add_explicit(&st->lost, 1, memory_order_relaxed);
        }
        if (unknown) {
            atomic_fetch_add_explicit(&st->unknown, 1, memory_order_relaxed);
        }
    }
}

/* ---- connections ---------------------------------------------------------------------------- */

static void conn_close(struct rrun *r, struct conn *c, uint64_t wake)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->st = C_DOWN;
    c->wake = wake;
    (void)r;
}

static void conn_drop_request(struct rrun *r, struct conn *c)
{
    if (c->n > 0) {
        c->n = 0;
        r->inflight--;
    }
}

static void set_events(struct rrun *r, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events,
                             .data.u64 = (uint64_t)(c - r->conns) | (uint64_t)c->gen << 32};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_open(struct rrun *r, struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_close(r, c, r->now + 100000000ull);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->gen++;
    c->reused = false;
    struct epoll_event ev = {.events = EPOLLOUT,
                             .data.u64 = (uint64_t)(c - r->conns) | (uint64_t)c->gen << 32};
    epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->st = C_CONNECTING;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        c->st = C_IDLE;
        set_events(r, c, EPOLLIN);
    } else if (errno != EINPROGRESS) {
        c->fails++;
        conn_close(r, c, r->now + 10000000ull);
    }
}

/* A connect failed: try again later, 10 ms doubling to 1 s. */
static void connect_failed(struct rrun *r, struct conn *c)
{
    uint64_t wait = 10000000ull << (c->fails < 7 ? c->fails : 7);
    c->fails++;
    conn_close(r, c, r->now + (wait < 1000000000ull ? wait : 1000000000ull));
}

/* The request on c failed; unknown: it may have been applied. The connection is closed unless
 * keep is set (an answer that says keep-alive). */
static void request_failed(struct rrun *r, struct conn *c, bool unknown, bool keep)
{
    atomic_fetch_add_explicit(&r->st->failed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->st->requests, 1, memory_order_relaxed);
    items_failed(r, c->items, c->n, unknown);
    conn_drop_request(r, c);
    if (keep) {
        c->st = C_IDLE;
        set_events(r, c, EPOLLIN);
    } else {
        conn_close(r, c, r->now);
    }
}

/* The keep-alive race: a reused connection ended before any byte of the answer, so the server
 * most likely closed it before reading the request (every HTTP client sends it again). It may
 * also have died after applying it: the ledger says unknown until an answer comes. */
static void keepalive_race(struct rrun *r, struct conn *c)
{
    atomic_fetch_add_explicit(&r->st->retried, (uint64_t)c->n, memory_order_relaxed);
    for (int i = 0; i < c->n; i++) {
        int64_t index = sim_index(r->c->sim, c->items[i].p.id);
        if (index >= 0 && c->woff == c->req_len) {
            ledger_unknown(r->c->ledger, (uint64_t)index, c->items[i].p.ts);
        }
        c->items[i].due_ns = r->now;
        if (heap_push(&r->retry, &c->items[i]) != 0) {
            atomic_fetch_add_explicit(&r->st->lost, 1, memory_order_relaxed);
        }
    }
    conn_drop_request(r, c);
    conn_close(r, c, r->now);
}

static void do_write(struct rrun *r, struct conn *c)
{
    while (c->woff < c->req_len) {
        ssize_t n = send(c->fd, c->buf + c->req_off + c->woff, c->req_len - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(r, c, EPOLLIN | EPOLLOUT);
            return;
        }
        /* not all written: the server cannot have acted on it; the keep-alive race when reused */
        if (c->reused && c->woff == 0) {
            keepalive_race(r, c);
            return;
        }
        request_failed(r, c, false, false);
        return;
    }
    c->st = C_READING;
    set_events(r, c, EPOLLIN);
}

/* Formats the request of c's items and starts writing it. */
static void send_request(struct rrun *r, struct conn *c)
{
    char *body = c->buf + HEAD_ROOM;
    size_t blen =
        rest_body(r->c->workload, r->c->batch > 1, c->items, c->n, body, r->buf_cap - HEAD_ROOM);
    char head[HEAD_ROOM];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json"
                      "\r\nContent-Length: %zu\r\n\r\n",
                      r->path, (unsigned)c->port, blen);
    if (blen == 0 || hl <= 0 || (size_t)hl >= sizeof(head)) {
        fprintf(stderr, "tandem-ingest: rest: a request does not fit its buffer\n");
        abort(); /* a bug: buffers are sized for the largest batch */
    }
    memcpy(body - hl, head, (size_t)hl);
    c->req_off = HEAD_ROOM - (size_t)hl;
    c->req_len = (size_t)hl + blen;
    c->woff = 0;
    c->rx = 0;
    c->t_sent = r->now;
    load_resp_begin(&c->resp, false);
    c->resp.body = c->answer;
    c->resp.body_cap = sizeof(c->answer);
    c->st = C_WRITING;
    r->inflight++;
    do_write(r, c);
}

/* Gives idle c what waits: due retries first, then the backlog. */
static void dispatch(struct rrun *r, struct conn *c)
{
    if (!r->sending || waiting(r) == 0) {
        return;
    }
    int batch = r->c->batch;
    bool retry_due = r->retry.n > 0 && r->retry.v[0].due_ns <= r->now;
    struct item *oldest = ring_front(&r->fresh);
    if (!retry_due && oldest == NULL) {
        return;
    }
    if (batch > 1 && r->making && !retry_due && r->fresh.len < (size_t)batch &&
        oldest->first_ns + LINGER_NS(r->c) > r->now) {
        return; /* linger for a fuller batch */
    }
    struct sender_stats *st = r->st;
    c->n = 0;
    while (c->n < batch && r->retry.n > 0 && r->retry.v[0].due_ns <= r->now) {
        heap_pop(&r->retry, &c->items[c->n++]);
        atomic_fetch_add_explicit(&st->retried, 1, memory_order_relaxed);
    }
    while (c->n < batch && r->fresh.len > 0) {
        c->items[c->n++] = *ring_front(&r->fresh);
        ring_pop(&r->fresh);
        atomic_fetch_add_explicit(&st->sent, 1, memory_order_relaxed);
    }
    if (c->n > 0) {
        send_request(r, c);
    }
}

/* The 503 on c is the gateway's own "no instance of the service is running and accepting
 * connections" (docs/tandem-cli.md: nothing reached the service). A service's own 503 may follow
 * work done: the fleet answers 503 to a batch whose forward to another instance failed after it
 * applied the positions it holds itself. */
static bool gateway_unavailable(const struct conn *c)
{
    static const char GW[] = "no instance of the service is running";
    size_t n = c->resp.body_bytes < sizeof(c->answer) ? c->resp.body_bytes : sizeof(c->answer);
    return memmem(c->answer, n, GW, sizeof(GW) - 1) != NULL;
}

static void on_answer(struct rrun *r, struct conn *c, size_t extra)
{
    struct sender_stats *st = r->st;
    int status = c->resp.status;
    bool keep = c->resp.keep_alive && extra == 0;
    c->reused = true;
    if (status >= 200 && status < 300) {
        lat_record(&st->answer, r->now - c->t_sent);
        atomic_fetch_add_explicit(&st->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->acked, (uint64_t)c->n, memory_order_relaxed);
        for (int i = 0; i < c->n; i++) {
            int64_t index = sim_index(r->c->sim, c->items[i].p.id);
            if (index >= 0) {
                ledger_ok(r->c->ledger, (uint64_t)index, &c->items[i].p);
            }
        }
        conn_drop_request(r, c);
        if (keep) {
            c->st = C_IDLE;
            set_events(r, c, EPOLLIN);
        } else {
            conn_close(r, c, r->now);
        }
    } else if (status >= 400 && status < 500 && status != 429) {
        static _Atomic int said;
        if (atomic_fetch_add(&said, 1) == 0) {
            fprintf(stderr, "tandem-ingest: rest: %s answered %d: updates refused\n", r->path,
                    status);
        }
        atomic_fetch_add_explicit(&st->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->failed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->lost, (uint64_t)c->n, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->rejected, (uint64_t)c->n, memory_order_relaxed);
        conn_drop_request(r, c);
        if (keep) {
            c->st = C_IDLE;
            set_events(r, c, EPOLLIN);
        } else {
            conn_close(r, c, r->now);
        }
    } else {
        /* 429, and the gateway's 503 (no instance connected): not applied; any other 5xx,
         * the service's own 503 included, perhaps applied */
        request_failed(r, c, status != 429 && !(status == 503 && gateway_unavailable(c)), keep);
    }
}

static void on_readable(struct rrun *r, struct conn *c)
{
    ssize_t n = recv(c->fd, r->rbuf, sizeof(r->rbuf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (c->n == 0) {
        conn_close(r, c, r->now); /* idle and readable: the server closed it */
        return;
    }
    if (n <= 0 && c->rx == 0 && c->reused && r->sending) {
        keepalive_race(r, c);
        return;
    }
    if (n < 0) {
        request_failed(r, c, true, false);
        return;
    }
    c->rx += (size_t)n;
    size_t used = 0;
    int rc = load_resp_feed(&c->resp, r->rbuf, (size_t)n, &used);
    if (rc == 0) {
        on_answer(r, c, (size_t)n - used);
    } else if (rc != TANDEM_EAGAIN) {
        request_failed(r, c, true, false);
    }
}

static void on_event(struct rrun *r, struct conn *c, uint32_t events)
{
    if (c->st == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            connect_failed(r, c);
            return;
        }
        c->fails = 0;
        c->st = C_IDLE;
        set_events(r, c, EPOLLIN);
        return;
    }
    if (c->st == C_WRITING && (events & EPOLLOUT) && !(events & (EPOLLERR | EPOLLHUP))) {
        do_write(r, c);
        return;
    }
    if (c->st == C_IDLE || c->st == C_READING || c->st == C_WRITING) {
        on_readable(r, c);
    }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void make_updates(struct rrun *r)
{
    uint64_t upto = r->now < r->window_end ? r->now : r->window_end;
    struct sender_stats *st = r->st;
    for (int i = 0; i < 65536 && sim_due(r->c->sim) <= upto; i++) {
        struct item it = {0};
        sim_next(r->c->sim, &it.p);
        it.first_ns = r->now;
        int64_t index = sim_index(r->c->sim, it.p.id);
        if (index >= 0) {
            ledger_made(r->c->ledger, (uint64_t)index, it.p.ts);
        }
        atomic_fetch_add_explicit(&st->generated, 1, memory_order_relaxed);
        if (waiting(r) >= r->c->backlog_max || ring_push(&r->fresh, &it) != 0) {
            atomic_fetch_add_explicit(&st->lost, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&st->dropped, 1, memory_order_relaxed);
        }
    }
}

static void scan(struct rrun *r)
{
    uint64_t limit = (uint64_t)r->c->timeout_ms * 1000000ull;
    for (int i = 0; i < r->c->conns; i++) {
        struct conn *c = &r->conns[i];
        if (c->n > 0 && c->st != C_DOWN && r->now - c->t_sent >= limit) {
            request_failed(r, c, true, false);
        }
        if (c->st == C_DOWN && c->wake <= r->now && (r->sending || c->n > 0)) {
            conn_open(r, c);
        }
    }
}

static int raise_fd_limit(int conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return TANDEM_EIO;
    }
    if (rl.rlim_cur >= want) {
        return 0;
    }
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : TANDEM_ERANGE;
}

static void loop(struct rrun *r)
{
    struct epoll_event evs[256];
    uint64_t next_scan = 0;
    for (;;) {
        r->now = ingest_now_ns();
        if (r->making && r->now >= r->window_end) {
            r->making = false;
            r->drain_end = r->now + (uint64_t)(r->c->drain_s * 1e9);
            atomic_store(&r->st->phase, 1);
        }
        if (r->making) {
            make_updates(r);
        }
        if (!r->making && r->sending &&
            ((waiting(r) == 0 && r->inflight == 0) || r->now >= r->drain_end)) {
            r->sending = false; /* what still waits is left (and what fails from now on) */
            atomic_fetch_add_explicit(&r->st->left, waiting(r), memory_order_relaxed);
            r->fresh.len = 0;
            r->retry.n = 0;
        }
        if (!r->making && !r->sending && r->inflight == 0) {
            note_backlog(r);
            return;
        }
        if (r->now >= next_scan) {
            scan(r);
            next_scan = r->now + SCAN_NS;
        }
        for (int i = 0; i < r->c->conns && waiting(r) > 0; i++) {
            if (r->conns[i].st == C_IDLE && r->conns[i].n == 0) {
                dispatch(r, &r->conns[i]);
            }
        }
        note_backlog(r);
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)TICK_NS};
        int n = epoll_pwait2(r->ep, evs, 256, &ts, NULL);
        for (int i = 0; i < n; i++) {
            struct conn *c = &r->conns[(uint32_t)evs[i].data.u64];
            if (c->fd >= 0 && c->gen == (uint32_t)(evs[i].data.u64 >> 32)) {
                r->now = ingest_now_ns();
                on_event(r, c, evs[i].events);
                if (c->st == C_IDLE && c->n == 0) {
                    dispatch(r, c);
                }
            }
        }
    }
}

int rest_run(const struct run_config *c)
{
    int rc = raise_fd_limit(c->conns);
    if (rc != 0) {
        return rc;
    }
    struct rrun *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return TANDEM_ENOMEM;
    }
    r->c = c;
    r->st = c->st;
    r->path = rest_path(c->workload, c->mode);
    r->rng = 0x9e3779b97f4a7c15ull;
    r->buf_cap = HEAD_ROOM + (size_t)c->batch * POS_JSON_MAX + 1024;
    r->conns = calloc((size_t)c->conns, sizeof(*r->conns));
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    rc = r->conns == NULL ? TANDEM_ENOMEM : r->ep < 0 ? TANDEM_EIO : 0;
    for (int i = 0; rc == 0 && i < c->conns; i++) {
        struct conn *k = &r->conns[i];
        k->fd = -1;
        k->port = c->ports[i % c->nports];
        k->items = malloc((size_t)c->batch * sizeof(*k->items));
        k->buf = malloc(r->buf_cap);
        rc = k->items != NULL && k->buf != NULL ? 0 : TANDEM_ENOMEM;
    }
    if (rc == 0) {
        r->now = ingest_now_ns();
        sim_start(c->sim, r->now, ingest_unix_ns());
        r->window_end = r->now + (uint64_t)(c->duration_s * 1e9);
        r->making = r->sending = true;
        for (int i = 0; i < c->conns; i++) {
            conn_open(r, &r->conns[i]);
        }
        loop(r);
    }
    atomic_store(&c->st->phase, 2);
    for (int i = 0; r->conns != NULL && i < c->conns; i++) {
        conn_close(r, &r->conns[i], 0);
        free(r->conns[i].items);
        free(r->conns[i].buf);
    }
    if (r->ep >= 0) {
        close(r->ep);
    }
    free(r->conns);
    free(r->fresh.v);
    free(r->retry.v);
    free(r);
    return rc;
}
