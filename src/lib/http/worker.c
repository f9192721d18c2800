/*
 * worker.c: one worker thread of the HTTP server: its epoll loop, its listening socket (bound
 * with SO_REUSEPORT next to the other workers' sockets), its connections and their timeouts.
 *
 * THE LOOP is self-contained and smaller than the broker's (src/broker/net/loop.c): it needs no
 * general timers, because every timeout of a connection is one of three fixed durations. A
 * connection waiting under a timeout sits in the list of that kind, appended at the tail when
 * it enters it, so each list is sorted by deadline and the loop only ever looks at the heads:
 *
 *     request  first byte of a request seen, request not complete:  request_timeout_ms -> 408
 *     idle     between requests (or output blocked):                idle_timeout_ms  -> close
 *     linger   answered its last response, write side shut down,
 *              reading until the client closes:                    LINGER_MS        -> close
 *
 * A connection with a request at its handler is in no list (the handler owns the clock). One
 * iteration is: epoll_wait (until the earliest head) -> accept / read / write -> expire the list
 * heads -> free the connections closed in this iteration (never earlier: an event collected in
 * the same batch may still name them).
 *
 * A CONNECTION reads into a fixed input buffer and feeds the parser; each complete request goes
 * to the handler, and the next one is parsed only after it was answered, so answers queue in
 * request order in the output buffer, which is written once per read (a pipelined burst gets one
 * write). Reading pauses while a request is at the handler, while more than MAX_UNSENT bytes
 * wait to be sent, and while a close is being flushed.
 *
 * EPOLL is edge-triggered for connections (as nginx does): each socket is registered once, for
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP, at accept, and never modified, so the request path makes no
 * epoll_ctl and epoll_wait never re-polls a socket it reported before. The price is state the
 * loop keeps itself: rd_ready says the socket may hold unread bytes (set by an EPOLLIN edge,
 * cleared by EAGAIN or by a read shorter than the room offered, unless EPOLLRDHUP said the peer
 * has shut its side: its FIN raises no further edge, so reading goes on to EOF); a paused
 * connection that resumes reads on rd_ready without waiting for an event. Output needs no flag:
 * a send that hit EAGAIN is resumed by the next EPOLLOUT edge. The listening socket and the
 * eventfd stay level-triggered. An error found by the
 * parser (400/413/431) or a request timeout (408) is answered with a problem+json body and
 * "Connection: close"; every close after an answer is a lingering close (shutdown(SHUT_WR), then
 * read and discard until EOF), so a client that is still sending does not get a reset that
 * would destroy the answer before it reads it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "http_int.h"

#define IN_CAP     16384
#define MAX_UNSENT (1u << 20)
#define LINGER_MS  2000
#define MAX_EVENTS 256

enum tlist { T_NONE, T_REQUEST, T_IDLE, T_LINGER, T_COUNT };

struct hconn {
    uint8_t kind; /* HKIND_CONN (0): epoll data.ptr of a connection or of a loop watch */
    struct hworker *w;
    int fd;
    uint64_t id;
    struct hparse hp;
    struct hreq *req; /* the request being parsed or at the handler; NULL when none yet */
    char *in;         /* unparsed bytes are in[in_off, in_len) */
    size_t in_off, in_len;
    struct hbuf out;
    bool rd_ready; /* the socket may hold unread bytes (edge seen, no short read since) */
    bool rd_hup;   /* the peer shut its write side: read on to EOF, short reads or not */
    bool eof;      /* recv returned 0: close once the answers are out (no lingering) */
    bool pending;  /* req is at the handler */
    bool closing;  /* no more requests: flush, then linger */
    bool lingering;
    bool dead; /* fd closed; memory freed at the end of the iteration */
    bool in_dispatch;
    enum tlist tl;
    int64_t deadline;
    struct hconn *tprev, *tnext; /* in the list tl */
    struct hconn *aprev, *anext; /* all live connections, or the graveyard once dead */
    struct hconn *fnext;         /* in the worker's flush queue (when flush_queued) */
    bool flush_queued;
};

struct tlist_head {
    struct hconn *head, *tail;
};

struct hworker {
    const struct hserver_shared *sh;
    int index;
    int ep, lfd, efd;
    bool stopping;
    bool draining;          /* no listening socket any more; every answer closes */
    atomic_bool stop_req;   /* set by hworker_wake_stop before it writes efd */
    atomic_bool drain_req;  /* set by hworker_wake_drain before it writes efd */
    atomic_int nconns_seen; /* nconns, published for hworker_conns (other threads) */
    int nconns;
    uint64_t next_id;
    int64_t now_ms;
    int64_t date_sec;
    char date[30];
    struct tlist_head lists[T_COUNT];
    struct hconn *all, *grave;
    struct hconn *flushq;    /* answers to write at the end of this iteration */
    struct tandem_loop loop; /* watches, timers, posts, stop hooks (loop.c) */
};

static char tag_listen, tag_stop; /* epoll data for the listening socket and the stop eventfd */

static void conn_close(struct hconn *c);
static void conn_process(struct hconn *c);
static void conn_read(struct hconn *c);

/* ---- clock and timeout lists ----------------------------------------------------------------- */

static void clock_update(struct hworker *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    w->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    w->loop.now_ms = w->now_ms;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != w->date_sec) {
        w->date_sec = ts.tv_sec;
        hdate_format(w->date, ts.tv_sec);
    }
}

static void tl_remove(struct hconn *c)
{
    if (c->tl == T_NONE) {
        return;
    }
    struct tlist_head *h = &c->w->lists[c->tl];
    if (c->tprev != NULL) {
        c->tprev->tnext = c->tnext;
    } else {
        h->head = c->tnext;
    }
    if (c->tnext != NULL) {
        c->tnext->tprev = c->tprev;
    } else {
        h->tail = c->tprev;
    }
    c->tprev = c->tnext = NULL;
    c->tl = T_NONE;
}

/* Puts c in list tl with deadline now + ms, unless it is in that list already. */
static void tl_enter(struct hconn *c, enum tlist tl, int64_t ms)
{
    if (c->tl == tl) {
        return;
    }
    tl_remove(c);
    if (tl == T_NONE) {
        return;
    }
    struct tlist_head *h = &c->w->lists[tl];
    c->tl = tl;
    c->deadline = c->w->now_ms + ms;
    c->tprev = h->tail;
    c->tnext = NULL;
    if (h->tail != NULL) {
        h->tail->tnext = c;
    } else {
        h->head = c;
    }
    h->tail = c;
}

/* ---- connection state ------------------------------------------------------------------------ */

static size_t unsent(const struct hconn *c)
{
    return c->out.len - c->out.off;
}

/* Whether the connection takes more input now (the socket is read only while this holds). */
static bool conn_wants_input(const struct hconn *c)
{
    return c->lingering || (!c->pending && !c->closing && unsent(c) < MAX_UNSENT);
}

/* Re-derives the timeout list from the connection's state. (The epoll registration never
 * changes: edge-triggered, in and out, from accept to close.) */
static void conn_update(struct hconn *c)
{
    if (c->dead) {
        return;
    }
    const struct tandem_http_config *cfg = &c->w->sh->cfg;
    if (c->lingering) {
        tl_enter(c, T_LINGER, LINGER_MS);
    } else if (c->pending) {
        tl_enter(c, T_NONE, 0);
    } else if (c->hp.started && !c->closing) {
        tl_enter(c, T_REQUEST, cfg->request_timeout_ms);
    } else {
        tl_enter(c, T_IDLE, cfg->idle_timeout_ms);
    }
}

/* Writes what can be written (EAGAIN: the next EPOLLOUT edge resumes it). When a closing
 * connection has sent everything, it shuts down its write side and lingers, or closes at once
 * when the peer has already closed its side (EOF read). */
static void conn_flush(struct hconn *c)
{
    if (c->dead) {
        return; /* its fd number may belong to a new connection already */
    }
    while (unsent(c) > 0) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, unsent(c), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c);
            }
            return;
        }
        c->out.off += (size_t)n;
    }
    c->out.off = c->out.len = 0;
    if (c->closing && !c->pending && !c->lingering) {
        if (c->eof) {
            conn_close(c);
            return;
        }
        shutdown(c->fd, SHUT_WR);
        c->lingering = true;
        conn_read(c); /* discard what is there already: no edge may come for it */
    }
}

/* Answers an error the core found itself and closes after it. */
static void conn_fail(struct hconn *c, int status, const char *detail)
{
    char body[512];
    size_t n = hproblem_format(body, sizeof(body), status, detail);
    struct hresp resp = {
        .status = status,
        .content_type = "application/problem+json",
        .body = body,
        .body_len = n,
        .close = true,
    };
    hresp_write(&c->out, &resp, c->w->date);
    c->closing = true;
    if (c->w->sh->cfg.on_error != NULL) {
        c->w->sh->cfg.on_error(c->w->index, status, c->w->sh->cfg.arg);
    }
}

static void conn_dispatch(struct hconn *c)
{
    struct hreq *r = c->req;
    r->conn = c;
    r->cfg = &c->w->sh->cfg;
    r->view.user = NULL;
    r->view.conn_id = c->id;
    r->view.worker = c->w->index;
    c->pending = true;
    tl_enter(c, T_NONE, 0); /* the next request gets its own deadline, not this one's */
    c->in_dispatch = true;
    c->w->sh->cfg.handler(&r->view, c->w->sh->cfg.arg);
    c->in_dispatch = false;
}

/* Parses and dispatches buffered requests while the connection may take another one. */
static void conn_process(struct hconn *c)
{
    while (!c->dead && !c->pending && !c->closing && c->in_off < c->in_len &&
           unsent(c) < MAX_UNSENT) {
        if (c->req == NULL) {
            c->req = hreq_new(&c->w->sh->lim);
            hparse_begin(&c->hp, c->req);
        }
        size_t used = 0;
        int rc = hparse_feed(&c->hp, c->in + c->in_off, c->in_len - c->in_off, &used);
        c->in_off += used;
        if (rc == TANDEM_EAGAIN) {
            if (c->hp.expect_continue) { /* RFC 9110 section 10.1.1: the client waits for it */
                hbuf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                c->hp.expect_continue = false;
            }
            break;
        }
        if (rc != 0) {
            conn_fail(c, c->hp.err_status, c->hp.err_detail);
            break;
        }
        conn_dispatch(c);
    }
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    }
}

void hworker_answer(struct hreq *r, const struct hresp *resp_in)
{
    struct hconn *c = r->conn;
    r->answered = true;
    if (c == NULL) { /* the connection went away while the handler worked */
        hreq_free(r);
        return;
    }
    struct hresp resp = *resp_in;
    resp.close = !r->keep_alive || c->w->stopping || c->w->draining;
    resp.keep_alive_10 = !resp.close && r->view.http_minor == 0;
    resp.head_only = r->is_head;
    hresp_write(&c->out, &resp, c->w->date);
    c->pending = false;
    c->closing = c->closing || resp.close;
    hparse_begin(&c->hp, r); /* the request object is re-used for the next request */
    if (!c->in_dispatch) {   /* answered later: carry on with this connection now */
        conn_process(c);
        conn_read(c); /* what arrived while the handler worked (its edge was noted then) */
        conn_flush(c);
        conn_update(c);
    }
}

/* Reads while the socket may hold bytes and the connection takes input, feeding the parser after
 * each read. Edge-triggered: the socket counts as drained after EAGAIN or a read shorter than the
 * room offered (a new arrival raises a new edge), unless the peer has shut its side (then the
 * FIN raises no further edge: read on until recv returns 0). */
static void conn_read(struct hconn *c)
{
    while (!c->dead && c->rd_ready && conn_wants_input(c)) {
        if (c->in_off > 0) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->in_off = 0;
        }
        size_t room = IN_CAP - c->in_len;
        if (room == 0) {
            return; /* a request larger than the buffer is refused by the parser first */
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->rd_ready = false;
            } else {
                conn_close(c); /* reset */
            }
            return;
        }
        if (n == 0) { /* the peer closed: whatever is parsed is answered, then close */
            c->rd_ready = false;
            c->eof = true;
            if (c->lingering || unsent(c) == 0 || c->hp.started) {
                conn_close(c); /* a lingering close ends here; a cut-off request is dropped */
            } else {
                c->closing = true; /* flushed by the caller, then closed (conn_flush) */
            }
            return;
        }
        if ((size_t)n < room && !c->rd_hup) {
            c->rd_ready = false;
        }
        if (c->lingering) {
            c->in_len = 0; /* discard */
            continue;
        }
        c->in_len += (size_t)n;
        conn_process(c);
    }
}

static void conn_close(struct hconn *c)
{
    struct hworker *w = c->w;
    if (c->dead) {
        return;
    }
    c->dead = true;
    tl_remove(c);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->pending) {
        c->req->conn = NULL; /* the handler frees it when it answers */
        c->req = NULL;
    }
    /* from the live list to the graveyard */
    if (c->aprev != NULL) {
        c->aprev->anext = c->anext;
    } else {
        w->all = c->anext;
    }
    if (c->anext != NULL) {
        c->anext->aprev = c->aprev;
    }
    c->aprev = NULL;
    c->anext = w->grave;
    w->grave = c;
    w->nconns--;
}

static void conn_free(struct hconn *c)
{
    hreq_free(c->req);
    hbuf_cleanup(&c->out);
    free(c->in);
    free(c);
}

static void accept_all(struct hworker *w)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or an error on a connection the kernel already dropped */
        }
        if (w->nconns >= w->sh->cfg.max_connections) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct hconn *c = xcalloc(1, sizeof(*c));
        c->w = w;
        c->fd = fd;
        c->id = ++w->next_id;
        c->in = xmalloc(IN_CAP);
        hparse_init(&c->hp, &w->sh->lim);
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            close(fd);
            conn_free(c);
            continue;
        }
        c->anext = w->all;
        if (w->all != NULL) {
            w->all->aprev = c;
        }
        w->all = c;
        w->nconns++;
        tl_enter(c, T_IDLE, w->sh->cfg.idle_timeout_ms);
    }
}

static void conn_event(struct hconn *c, uint32_t ev)
{
    if (c->dead) {
        return;
    }
    if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) {
        conn_close(c);
        return;
    }
    if (ev & EPOLLIN) {
        c->rd_ready = true; /* noted even while reading pauses: conn_read resumes on it */
    }
    if (ev & EPOLLRDHUP) {
        c->rd_hup = true;
    }
    if ((ev & EPOLLOUT) && unsent(c) > 0) {
        conn_flush(c);
        conn_process(c); /* reading may have paused on MAX_UNSENT */
    }
    conn_read(c);
    if (!c->dead && unsent(c) > 0 && !c->flush_queued) {
        c->flush_queued = true; /* written with the iteration's other answers */
        c->fnext = c->w->flushq;
        c->w->flushq = c;
    } else {
        conn_update(c);
    }
}

/* Writes the answers queued by this iteration's events, back to back: the peers they wake find
 * several answers at once instead of being woken once per answer. */
static void flush_queued(struct hworker *w)
{
    struct hconn *c;
    while ((c = w->flushq) != NULL) {
        w->flushq = c->fnext;
        c->flush_queued = false;
        conn_flush(c); /* a no-op for one closed meanwhile */
        conn_update(c);
    }
}

static void expire(struct hworker *w)
{
    struct hconn *c;
    while ((c = w->lists[T_REQUEST].head) != NULL && c->deadline <= w->now_ms) {
        tl_remove(c);
        conn_fail(c, 408, "request not complete within the request timeout");
        conn_flush(c);
        conn_update(c);
    }
    for (int tl = T_IDLE; tl <= T_LINGER; tl++) {
        while ((c = w->lists[tl].head) != NULL && c->deadline <= w->now_ms) {
            conn_close(c);
        }
    }
}

static int next_timeout(const struct hworker *w)
{
    int64_t best = -1;
    for (int tl = T_REQUEST; tl < T_COUNT; tl++) {
        const struct hconn *c = w->lists[tl].head;
        if (c != NULL) {
            int64_t d = c->deadline - w->now_ms;
            d = d < 0 ? 0 : d + 1; /* +1: the coarse clock must have passed the deadline */
            best = (best < 0 || d < best) ? d : best;
        }
    }
    int64_t t = hloop_timeout(&w->loop);
    if (t >= 0) {
        t = t == 0 ? 0 : t + 1;
        best = (best < 0 || t < best) ? t : best;
    }
    return best > 1000000 ? 1000000 : (int)best;
}

/* Drain: stop accepting, close the connections that have no request under way; the others
 * close after their answer (resp.close in hworker_answer) or by their request timeout. */
static void drain_begin(struct hworker *w)
{
    w->draining = true;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, w->lfd, NULL);
    close(w->lfd);
    w->lfd = -1;
    struct hconn *next;
    for (struct hconn *c = w->all; c != NULL; c = next) {
        next = c->anext;
        if (c->pending || c->hp.started || c->lingering) {
            continue; /* its answer closes it (hworker_answer), or it is closing already */
        }
        if (unsent(c) == 0) {
            conn_close(c);
        } else {
            c->closing = true; /* flush the answers it has, then a lingering close */
            conn_flush(c);
            conn_update(c);
        }
    }
}

static void wake_event(struct hworker *w)
{
    uint64_t v;
    ssize_t n = read(w->efd, &v, sizeof(v));
    (void)n;
    hloop_run_posts(&w->loop);
    if (atomic_load(&w->stop_req)) {
        w->stopping = true;
    } else if (atomic_load(&w->drain_req) && !w->draining) {
        drain_begin(w);
    }
}

void *hworker_main(void *arg)
{
    struct hworker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    hloop_current = &w->loop;
    clock_update(w);
    while (!w->stopping) {
        int n = epoll_wait(w->ep, evs, MAX_EVENTS, next_timeout(w));
        clock_update(w);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_listen) {
                accept_all(w);
            } else if (p == &tag_stop) {
                wake_event(w);
            } else if (*(const uint8_t *)p == HKIND_WATCH) {
                hloop_watch_event(p, evs[i].events);
            } else {
                conn_event(p, evs[i].events);
            }
        }
        flush_queued(w);
        hloop_run_timers(&w->loop);
        expire(w);
        hloop_reap(&w->loop);
        while (w->grave != NULL) {
            struct hconn *c = w->grave;
            w->grave = c->anext;
            conn_free(c);
        }
        atomic_store(&w->nconns_seen, w->nconns);
    }
    hloop_stop(&w->loop); /* posts, then stop hooks: held requests may still be answered */
    flush_queued(w);
    hloop_current = NULL;
    return NULL;
}

int hworker_new(const struct hserver_shared *sh, int index, int listen_fd, struct hworker **out)
{
    struct hworker *w = xcalloc(1, sizeof(*w));
    w->sh = sh;
    w->index = index;
    w->lfd = listen_fd;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    hloop_init(&w->loop, w->ep, w->efd);
    if (w->ep < 0 || w->efd < 0) {
        goto fail;
    }
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &tag_listen};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, listen_fd, &e) != 0) {
        goto fail;
    }
    e.data.ptr = &tag_stop;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &e) != 0) {
        goto fail;
    }
    *out = w;
    return 0;
fail:
    w->lfd = -1; /* the caller still owns it */
    hworker_free(w);
    return TANDEM_EIO;
}

void hworker_wake_drain(struct hworker *w)
{
    atomic_store(&w->drain_req, true);
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof(one));
    (void)n;
}

int hworker_conns(struct hworker *w)
{
    return atomic_load(&w->nconns_seen);
}

void hworker_wake_stop(struct hworker *w)
{
    atomic_store(&w->stop_req, true);
    uint64_t one = 1;
    ssize_t n = write(w->efd, &one, sizeof(one));
    (void)n;
}

void hworker_free(struct hworker *w)
{
    if (w == NULL) {
        return;
    }
    while (w->all != NULL) {
        struct hconn *c = w->all;
        bool pending = c->pending;
        struct hreq *r = c->req;
        conn_close(c);
        if (pending) {
            if (w->sh->cfg.on_done != NULL) {
                w->sh->cfg.on_done(&r->view, 0, w->sh->cfg.arg);
            }
            hreq_free(r); /* nobody will answer it now */
        }
    }
    hloop_cleanup(&w->loop);
    while (w->grave != NULL) {
        struct hconn *c = w->grave;
        w->grave = c->anext;
        conn_free(c);
    }
    if (w->lfd >= 0) {
        close(w->lfd);
    }
    if (w->ep >= 0) {
        close(w->ep);
    }
    if (w->efd >= 0) {
        close(w->efd);
    }
    free(w);
}
