/*
 * load_loop.c: tandem-load's event loop: N keep-alive connections to 127.0.0.1:port on one epoll
 * set, one request in flight per connection at most.
 *
 * Model. Each connection is a small state machine:
 *
 *     WAIT --(its time)--> CONNECTING --> [IDLE] --> WRITING --> READING --+--> (next request)
 *       ^                                                                  |
 *       +-------- closed (by the server, an error, a timeout) ------------+
 *
 * Closed loop (rate 0): a connection sends its next request as soon as the previous answer is
 * complete; latency runs from the first byte written. Fixed rate: the schedule says when each
 * request is due (start + i / rate); a due request goes to an idle connection, or waits in a
 * FIFO for the next one that frees up, and its latency runs from when it was due, so a slow
 * server cannot hide its queueing (no coordinated omission).
 *
 * The keep-alive race. A server may close a keep-alive connection at any moment it holds no
 * request; our request may cross that close on the wire. So on a connection that has carried an
 * answer before, an end of stream or a reset before ANY byte of the answer came back means "the
 * server never saw it": an idempotent request (GET HEAD PUT DELETE OPTIONS) is resent once on a
 * new connection and counted as retried, as curl and browsers do; a POST or PATCH is never
 * resent (it may have been acted on) and counts as failed. The same close on a fresh connection,
 * or after part of the answer, is a failure.
 *
 * Invariants: inflight == the number of connections with has_req; a connection in WAIT holds no
 * fd; latencies are recorded only for complete answers; after the end no new request starts,
 * in-flight ones get their answer or their timeout, and the loop returns when none is left.
 * Timeouts are scanned every TICK_NS, so they fire up to 5 ms late.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load_int.h"
#include "resp.h"
#include "tandem/error.h"

#define TICK_NS      5000000ull  /* timeout scan period */
#define BACKOFF_NS   10000000ull /* before re-connecting after a failed connect */
#define NEVER        UINT64_MAX
#define PENDING_MAX  (1u << 22) /* fixed-rate backlog cap; beyond it requests count as unsent */
#define READ_BUF_LEN 65536

const char *const load_fail_names[LOAD_F_COUNT] = {
    [LOAD_F_CONNECT] = "connect", [LOAD_F_RESET] = "reset",         [LOAD_F_CLOSED] = "closed",
    [LOAD_F_TIMEOUT] = "timeout", [LOAD_F_MALFORMED] = "malformed", [LOAD_F_5XX] = "5xx",
};

enum cstate { C_WAIT, C_CONNECTING, C_IDLE, C_WRITING, C_READING };

struct conn {
    int fd; /* -1 in C_WAIT */
    enum cstate st;
    bool has_req; /* a request is assigned (being written, awaited, or resent) */
    bool reused;  /* this connection has carried a complete answer */
    bool retried; /* the current request was resent once already */
    uint32_t events;
    uint32_t gen;     /* bumped per socket, so an event of a closed socket is recognised */
    size_t woff;      /* request bytes written */
    size_t rx;        /* answer bytes received */
    uint64_t t_start; /* latency origin of the current request */
    uint64_t wake;    /* C_WAIT: when to connect (NEVER: stay closed) */
    struct load_resp resp;
};

struct run {
    const struct load_opts *o;
    struct load_stats *st;
    int ep;
    struct conn *c;
    uint64_t start, end, now;
    bool running;
    uint64_t issued;   /* requests started (a resend is not a new one) */
    uint64_t inflight; /* connections with has_req */
    uint64_t next_send, sched_n;
    uint64_t *pend; /* fixed rate: due times of requests waiting for a connection (ring) */
    size_t pend_head, pend_len, pend_cap;
    uint32_t *idle; /* fixed rate: idle connections (stack of indexes) */
    size_t nidle;
    char buf[READ_BUF_LEN];
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool may_issue(const struct run *r)
{
    return r->running && (r->o->max_requests == 0 || r->issued < r->o->max_requests);
}

/* epoll data: the connection's index, and its socket generation above bit 32 */
static uint64_t ev_data(const struct run *r, const struct conn *c)
{
    return (uint64_t)(c - r->c) | (uint64_t)c->gen << 32;
}

static void set_events(struct run *r, struct conn *c, uint32_t events)
{
    if (c->events == events) {
        return;
    }
    struct epoll_event ev = {.events = events, .data.u64 = ev_data(r, c)};
    epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void conn_close(struct conn *c, uint64_t wake)
{
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    c->st = C_WAIT;
    c->wake = wake;
}

static void conn_open(struct run *r, struct conn *c);
static void conn_next(struct run *r, struct conn *c);

static void drop_request(struct run *r, struct conn *c)
{
    if (c->has_req) {
        c->has_req = false;
        r->inflight--;
    }
}

/* The request of c failed (kind); the connection is closed and re-opened while it has work. */
static void fail_request(struct run *r, struct conn *c, enum load_fail kind)
{
    r->st->failed[kind]++;
    drop_request(r, c);
    conn_close(c, kind == LOAD_F_CONNECT ? r->now + BACKOFF_NS : r->now);
}

/* The connection ended (end of stream: kind CLOSED; an error: RESET) while c->has_req. */
static void conn_broken(struct run *r, struct conn *c, enum load_fail kind)
{
    if (c->rx == 0 && c->reused && r->o->idempotent && !c->retried) {
        r->st->retried++; /* the keep-alive race: the server never saw it; resend once */
        c->retried = true;
        conn_close(c, r->now);
        conn_open(r, c);
        return;
    }
    fail_request(r, c, kind);
}

static void record(struct run *r, const struct conn *c)
{
    struct load_stats *st = r->st;
    st->responses++;
    int status = c->resp.status;
    if (status >= 100 && status < 600) {
        st->status[status]++;
    }
    if (status >= 500) {
        st->failed[LOAD_F_5XX]++;
    }
    if (st->nlat == st->lat_cap) {
        size_t cap = st->lat_cap ? st->lat_cap * 2 : 65536;
        uint32_t *p = realloc(st->lat_us, cap * sizeof(*p));
        if (p == NULL) {
            return; /* the count stays right; percentiles miss this one */
        }
        st->lat_us = p;
        st->lat_cap = cap;
    }
    uint64_t us = (r->now - c->t_start) / 1000;
    st->lat_us[st->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void do_write(struct run *r, struct conn *c)
{
    const struct load_opts *o = r->o;
    while (c->woff < o->request_len) {
        ssize_t n = send(c->fd, o->request + c->woff, o->request_len - c->woff, MSG_NOSIGNAL);
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
        conn_broken(r, c, LOAD_F_RESET);
        return;
    }
    c->st = C_READING;
    set_events(r, c, EPOLLIN);
}

static void start_write(struct run *r, struct conn *c)
{
    c->woff = 0;
    c->rx = 0;
    load_resp_begin(&c->resp, r->o->head);
    c->st = C_WRITING;
    do_write(r, c);
}

static void new_request(struct run *r, struct conn *c, uint64_t t_start)
{
    c->has_req = true;
    c->retried = false;
    c->t_start = t_start;
    r->issued++;
    r->inflight++;
    start_write(r, c);
}

static bool pend_pop(struct run *r, uint64_t *t)
{
    if (r->pend_len == 0) {
        return false;
    }
    *t = r->pend[r->pend_head];
    r->pend_head = (r->pend_head + 1) % r->pend_cap;
    r->pend_len--;
    return true;
}

static void pend_push(struct run *r, uint64_t t)
{
    if (r->pend_len == r->pend_cap) {
        size_t cap = r->pend_cap ? r->pend_cap * 2 : 1024;
        uint64_t *p = cap <= PENDING_MAX ? malloc(cap * sizeof(*p)) : NULL;
        if (p == NULL) {
            r->st->unsent++;
            return;
        }
        for (size_t i = 0; i < r->pend_len; i++) {
            p[i] = r->pend[(r->pend_head + i) % r->pend_cap];
        }
        free(r->pend);
        r->pend = p;
        r->pend_cap = cap;
        r->pend_head = 0;
    }
    r->pend[(r->pend_head + r->pend_len) % r->pend_cap] = t;
    r->pend_len++;
}

/* c is connected and holds no request: give it the next one, or let it idle. */
static void conn_next(struct run *r, struct conn *c)
{
    c->st = C_IDLE;
    set_events(r, c, EPOLLIN);
    if (r->o->rate <= 0) {
        if (may_issue(r)) {
            new_request(r, c, r->now);
        }
        return;
    }
    uint64_t due;
    if (may_issue(r) && pend_pop(r, &due)) {
        new_request(r, c, due);
        return;
    }
    r->idle[r->nidle++] = (uint32_t)(c - r->c);
}

static void on_connected(struct run *r, struct conn *c)
{
    if (c->has_req) {
        start_write(r, c); /* a resend */
    } else {
        conn_next(r, c);
    }
}

static void conn_open(struct run *r, struct conn *c)
{
    if (!c->has_req && !may_issue(r)) {
        conn_close(c, NEVER); /* nothing left to do on it */
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail_request(r, c, LOAD_F_CONNECT);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->gen++;
    c->reused = false;
    c->events = EPOLLOUT;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = ev_data(r, c)};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fail_request(r, c, LOAD_F_CONNECT);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(r->o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1, nothing else */
    c->st = C_CONNECTING;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        on_connected(r, c);
    } else if (errno != EINPROGRESS) {
        fail_request(r, c, LOAD_F_CONNECT);
    }
}

static void on_connect_done(struct run *r, struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        fail_request(r, c, LOAD_F_CONNECT);
        return;
    }
    on_connected(r, c);
}

static void on_answer(struct run *r, struct conn *c, size_t extra)
{
    record(r, c);
    drop_request(r, c);
    c->reused = true;
    if (extra > 0) {
        r->st->failed[LOAD_F_MALFORMED]++; /* bytes after the answer: nobody asked for them */
        conn_close(c, r->now);
        conn_open(r, c);
    } else if (!c->resp.keep_alive) {
        r->st->reopened++;
        conn_close(c, r->now);
        conn_open(r, c);
    } else {
        conn_next(r, c);
    }
}

/* c is idle and readable: the server closed it (or talked out of turn); open a new one. */
static void on_idle_readable(struct run *r, struct conn *c)
{
    if (c->st == C_IDLE && r->o->rate > 0) {
        for (size_t i = 0; i < r->nidle; i++) {
            if (r->idle[i] == (uint32_t)(c - r->c)) {
                r->idle[i] = r->idle[--r->nidle];
                break;
            }
        }
    }
    r->st->reopened++;
    conn_close(c, r->now);
    conn_open(r, c);
}

static void on_readable(struct run *r, struct conn *c)
{
    ssize_t n = recv(c->fd, r->buf, sizeof(r->buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (!c->has_req) {
        on_idle_readable(r, c);
        return;
    }
    if (n < 0) {
        conn_broken(r, c, LOAD_F_RESET);
        return;
    }
    size_t used = 0;
    c->rx += (size_t)n;
    int rc = load_resp_feed(&c->resp, r->buf, (size_t)n, &used);
    if (rc == 0) {
        on_answer(r, c, (size_t)n - used);
    } else if (rc == TANDEM_EAGAIN) {
        return;
    } else if (n == 0) {
        conn_broken(r, c, LOAD_F_CLOSED);
    } else {
        fail_request(r, c, LOAD_F_MALFORMED);
        conn_open(r, c);
    }
}

static void on_event(struct run *r, struct conn *c, uint32_t events)
{
    if (c->fd < 0) {
        return;
    }
    switch (c->st) {
    case C_CONNECTING:
        on_connect_done(r, c);
        return;
    case C_WRITING:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            on_readable(r, c); /* an early answer or the close */
        }
        if (c->st == C_WRITING && c->fd >= 0 && (events & EPOLLOUT)) {
            do_write(r, c);
        }
        return;
    case C_IDLE:
    case C_READING:
        on_readable(r, c);
        return;
    case C_WAIT:
        return;
    }
}

/* Every TICK_NS: time out requests, re-open connections whose wait is over. */
static void scan(struct run *r)
{
    uint64_t limit = (uint64_t)r->o->timeout_ms * 1000000ull;
    for (int i = 0; i < r->o->conns; i++) {
        struct conn *c = &r->c[i];
        if (c->has_req && c->st != C_WAIT && r->now - c->t_start >= limit) {
            fail_request(r, c, LOAD_F_TIMEOUT);
            conn_open(r, c);
        } else if (c->st == C_WAIT && c->wake != NEVER && c->wake <= r->now) {
            conn_open(r, c);
        }
    }
}

/* Fixed rate: starts (or queues) every request due by now. */
static void schedule(struct run *r)
{
    while (may_issue(r) && r->next_send <= r->now) {
        uint64_t due = r->next_send;
        r->sched_n++;
        r->next_send = r->start + (uint64_t)((double)r->sched_n * 1e9 / r->o->rate);
        if (r->nidle > 0) {
            new_request(r, &r->c[r->idle[--r->nidle]], due);
        } else {
            pend_push(r, due);
        }
    }
}

static void stop_issuing(struct run *r)
{
    r->running = false;
    r->st->unsent += r->pend_len;
    r->pend_len = 0;
    for (int i = 0; i < r->o->conns; i++) {
        struct conn *c = &r->c[i];
        if (!c->has_req) {
            conn_close(c, NEVER); /* idle, or a connect no request waits for */
        }
    }
    r->nidle = 0;
}

static int raise_fd_limit(int conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return TANDEM_EIO;
    }
    if (rl.rlim_cur >= want) {
        return 0;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        return TANDEM_ERANGE;
    }
    rl.rlim_cur = want;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : TANDEM_ERANGE;
}

static void loop(struct run *r)
{
    struct epoll_event evs[256];
    uint64_t next_scan = r->now + TICK_NS;
    uint64_t hard_end = r->end + (uint64_t)r->o->timeout_ms * 1000000ull + 1000000000ull;
    for (;;) {
        r->now = now_ns();
        if (r->running && (r->now >= r->end || stop_signal != 0 || !may_issue(r))) {
            stop_issuing(r);
        }
        if (!r->running && (r->inflight == 0 || r->now >= hard_end)) {
            return;
        }
        if (r->running && r->o->rate > 0) {
            schedule(r);
        }
        if (r->now >= next_scan) {
            scan(r);
            next_scan = r->now + TICK_NS;
        }
        uint64_t wake = next_scan;
        if (r->running && r->end < wake) {
            wake = r->end;
        }
        if (r->running && r->o->rate > 0 && r->next_send < wake) {
            wake = r->next_send;
        }
        uint64_t wait = wake > r->now ? wake - r->now : 0;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
                              .tv_nsec = (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(r->ep, evs, 256, &ts, NULL);
        if (n < 0) {
            continue; /* EINTR: a signal; the top of the loop looks at it */
        }
        /* An event whose generation is not the connection's is about a socket closed since.
         * The clock is read per event: latencies end and start when the event is handled. */
        for (int i = 0; i < n; i++) {
            struct conn *c = &r->c[(uint32_t)evs[i].data.u64];
            if (c->fd >= 0 && c->gen == (uint32_t)(evs[i].data.u64 >> 32)) {
                r->now = now_ns();
                on_event(r, c, evs[i].events);
            }
        }
    }
}

int load_run(const struct load_opts *o, struct load_stats *st)
{
    int rc = raise_fd_limit(o->conns);
    if (rc != 0) {
        return rc;
    }
    struct run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return TANDEM_ENOMEM;
    }
    r->o = o;
    r->st = st;
    r->c = calloc((size_t)o->conns, sizeof(*r->c));
    r->idle = calloc((size_t)o->conns, sizeof(*r->idle));
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->c == NULL || r->idle == NULL || r->ep < 0) {
        rc = r->ep < 0 ? TANDEM_EIO : TANDEM_ENOMEM;
        goto out;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    r->start = r->now = now_ns();
    r->end = r->start + (uint64_t)(o->duration_s * 1e9);
    r->next_send = r->start;
    r->running = true;
    for (int i = 0; i < o->conns; i++) {
        r->c[i].fd = -1;
        r->c[i].st = C_WAIT;
        conn_open(r, &r->c[i]);
    }
    loop(r);
    st->elapsed_s = (double)(now_ns() - r->start) / 1e9;
    for (int i = 0; i < o->conns; i++) {
        if (r->c[i].has_req) {
            st->failed[LOAD_F_TIMEOUT]++; /* still unanswered at the hard end */
        }
        conn_close(&r->c[i], NEVER);
    }
out:
    if (r->ep >= 0) {
        close(r->ep);
    }
    free(r->c);
    free(r->idle);
    free(r->pend);
    free(r);
    return rc;
}
