/*
 * worker.c: one worker thread of the HTTP server: its connections, their timeouts, and the
 * iteration of its loop. The system calls are the I/O backend's (struct hio_ops in http_int.h:
 * epoll.c or uring.c, chosen per server); everything here is the same on both.
 *
 * THE LOOP needs no general timers for connections, because every timeout of a connection is
 * one of three fixed durations. A connection waiting under a timeout sits in the list of that
 * kind, appended at the tail when it enters it, so each list is sorted by deadline and the loop
 * only ever looks at the heads:
 *
 *     request  first byte of a request seen, request not complete:  request_timeout_ms -> 408
 *     idle     between requests (or output blocked):                idle_timeout_ms  -> close
 *     linger   answered its last response, write side shut down,
 *              reading until the client closes:                    LINGER_MS        -> close
 *
 * A connection with a request at its handler is in no list (the handler owns the clock), except
 * one streaming an answer with bytes waiting unsent, which sits in the idle list, its deadline
 * pushed back whenever the kernel takes some (stream.c: a client that reads nothing goes). One
 * iteration is: the backend waits (until the earliest head, loop timer or log flush) and handles
 * what happened -> the answers queued by it are handed to the backend (flush queue) -> loop
 * timers -> what they queued (a stream's pieces) -> expire the list heads -> free the connections
 * closed in this iteration (never earlier: an event collected in the same batch may still name
 * them; under io_uring not before the last request in flight for them has completed: they wait in
 * the zombie list) -> write the thread's buffered log lines when the oldest is LOG_FLUSH_MS old
 * (common/log.h: a worker buffers its lines, the access log's above all, instead of a write(2) per
 * line).
 *
 * A CONNECTION feeds its input buffer to the parser; each complete request goes to the handler,
 * and the next one is parsed only after it was answered, so answers queue in request order in
 * the output buffer, which is handed to the kernel once per iteration (a pipelined burst gets one
 * write). Input pauses while a request is at the handler, while more than MAX_UNSENT bytes
 * wait to be sent, and while a close is being flushed (hconn_wants_input). An error found by the
 * parser (400/413/431) or a request timeout (408) is answered with a problem+json body and
 * "Connection: close"; every close after an answer is a lingering close (shutdown(SHUT_WR), then
 * read and discard until EOF), so a client that is still sending does not get a reset that
 * would destroy the answer before it reads it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "http_int.h"
#include "lib/core/core_int.h"
#include "tandem/problem.h"

#define MAX_UNSENT (1u << 20)
#define LINGER_MS  2000

static void conn_process(struct hconn *c);

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

/* The worker's three lists of connections linked through aprev/anext (all live ones, the
 * graveyard, the zombies): a connection is in one of them at a time. */
static void alist_push(struct hconn **head, struct hconn *c)
{
    c->aprev = NULL;
    c->anext = *head;
    if (*head != NULL) {
        (*head)->aprev = c;
    }
    *head = c;
}

static void alist_unlink(struct hconn **head, struct hconn *c)
{
    if (c->aprev != NULL) {
        c->aprev->anext = c->anext;
    } else {
        *head = c->anext;
    }
    if (c->anext != NULL) {
        c->anext->aprev = c->aprev;
    }
    c->aprev = c->anext = NULL;
}

size_t hconn_unsent(const struct hconn *c)
{
    return c->out.len - c->out.off + c->wbuf.len - c->wbuf.off;
}

bool hconn_wants_input(const struct hconn *c)
{
    return c->lingering || (!c->pending && !c->closing && hconn_unsent(c) < MAX_UNSENT);
}

/* Re-derives the timeout list from the connection's state. */
static void conn_update(struct hconn *c)
{
    if (c->dead) {
        return;
    }
    const struct tandem_http_config *cfg = &c->w->sh->cfg;
    if (c->lingering) {
        tl_enter(c, T_LINGER, LINGER_MS);
    } else if (hconn_unsent(c) > 0 && hstream_open(c)) { /* (the cheap test first) */
        /* a stream's output is blocked: idle_timeout_ms from the last byte the kernel took */
        if (c->tl != T_IDLE || c->sent != c->sent_mark) {
            tl_remove(c);
            c->sent_mark = c->sent;
            tl_enter(c, T_IDLE, cfg->idle_timeout_ms);
        }
    } else if (c->pending) {
        tl_enter(c, T_NONE, 0);
    } else if (c->hp.started && !c->closing) {
        tl_enter(c, T_REQUEST, cfg->request_timeout_ms);
    } else {
        tl_enter(c, T_IDLE, cfg->idle_timeout_ms);
    }
}

/* Hands what is queued to the backend (epoll writes what the socket takes, io_uring submits a
 * send with the iteration's other requests); hconn_sent follows once it is all written. */
static void conn_flush(struct hconn *c)
{
    if (c->dead) {
        return; /* its fd number may belong to a new connection already */
    }
    c->w->io->flush(c);
}

static void conn_read(struct hconn *c)
{
    if (!c->dead) {
        c->w->io->read(c);
    }
}

void hconn_sent(struct hconn *c)
{
    if (c->closing && !c->pending && !c->lingering) {
        if (c->eof) {
            hconn_close(c);
            return;
        }
        shutdown(c->fd, SHUT_WR);
        c->lingering = true;
        conn_read(c); /* discard what is there already */
    }
}

void hconn_eof(struct hconn *c)
{
    c->eof = true;
    if (hstream_open(c) || c->lingering || hconn_unsent(c) == 0 || c->hp.started) {
        hconn_close(c); /* a lingering close ends here; a cut-off request is dropped */
    } else {
        c->closing = true; /* flushed by the caller, then closed (hconn_sent) */
    }
}

/* Answers an error the core found itself with its problem document (on the stack: no allocation
 * for the core's short details) and closes after it. */
static void conn_fail(struct hconn *c, int status, const char *detail)
{
    char buf[512], *body = NULL;
    size_t n = 0;
    if (core_problem_format(status, detail, NULL, buf, sizeof(buf), &body, &n) != 0) {
        core_problem_format(status, NULL, NULL, buf, sizeof(buf), &body, &n); /* detail not UTF-8 */
    }
    struct hresp resp = {
        .status = status,
        .content_type = TANDEM_PROBLEM_CONTENT_TYPE,
        .body = body,
        .body_len = n,
        .close = true,
    };
    hresp_write(&c->out, &resp, c->w->date);
    if (body != buf) {
        free(body);
    }
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
           hconn_unsent(c) < MAX_UNSENT) {
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
    hconn_next(c, r, resp.close);
}

void hconn_next(struct hconn *c, struct hreq *r, bool close)
{
    if (c->in == NULL) { /* a stream gave it up (stream.c) */
        c->in_cap = HCONN_IN_CAP;
        c->in = xmalloc(c->in_cap);
    }
    c->pending = false;
    c->closing = c->closing || close;
    hparse_begin(&c->hp, r); /* the request object is re-used for the next request */
    if (!c->in_dispatch) {   /* answered later: carry on with this connection now */
        conn_process(c);
        conn_read(c); /* what arrived while the handler worked (noted, or buffered, then) */
        conn_flush(c);
        conn_update(c);
    }
}

void hconn_input(struct hconn *c)
{
    conn_process(c);
}

void hconn_close(struct hconn *c)
{
    hconn_close_reason(c, TANDEM_ECLOSED);
}

void hconn_close_reason(struct hconn *c, int reason)
{
    struct hworker *w = c->w;
    if (c->dead) {
        return;
    }
    c->dead = true;
    tl_remove(c);
    w->io->close(c);
    struct hreq *stream = NULL;
    if (c->pending) {
        if (c->req->stream == HSTREAM_OPEN) {
            stream = c->req; /* ended below: nobody else will */
        } else {
            c->req->conn = NULL; /* the handler frees it when it answers */
        }
        c->req = NULL;
    }
    alist_unlink(&w->all, c); /* from the live list to the graveyard */
    alist_push(&w->grave, c);
    w->nconns--;
    if (stream != NULL) {
        hstream_gone(w, stream, reason); /* last: on_close may do anything on this worker */
    }
}

void hconn_rdhup(struct hconn *c)
{
    if (!c->dead && hstream_open(c)) {
        hconn_close(c);
    }
}

static void conn_free(struct hconn *c)
{
    hreq_free(c->req);
    hbuf_cleanup(&c->out);
    hbuf_cleanup(&c->wbuf);
    free(c->in);
    free(c);
}

/* Frees the connections closed in this iteration; those the kernel may still write into (an
 * io_uring request in flight) wait in the zombie list until the backend puts them back here. */
static void bury(struct hworker *w)
{
    while (w->grave != NULL) {
        struct hconn *c = w->grave;
        alist_unlink(&w->grave, c);
        if (w->io->busy(c)) {
            c->zombie = true;
            alist_push(&w->zombies, c);
        } else {
            conn_free(c);
        }
    }
}

void hconn_unzombie(struct hconn *c)
{
    alist_unlink(&c->w->zombies, c);
    c->zombie = false;
    alist_push(&c->w->grave, c);
}

struct hconn *hconn_new(struct hworker *w, int fd)
{
    if (w->nconns >= w->sh->cfg.max_connections || w->draining || w->stopping) {
        return NULL;
    }
    struct hconn *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->fd = fd;
    c->id = ++w->next_id;
    c->in_cap = HCONN_IN_CAP;
    c->in = xmalloc(c->in_cap);
    hparse_init(&c->hp, &w->sh->lim);
    alist_push(&w->all, c);
    w->nconns++;
    tl_enter(c, T_IDLE, w->sh->cfg.idle_timeout_ms);
    return c;
}

void hconn_discard(struct hconn *c)
{
    struct hworker *w = c->w;
    tl_remove(c);
    alist_unlink(&w->all, c);
    w->nconns--;
    conn_free(c);
}

void hconn_queue_flush(struct hconn *c)
{
    if (!c->dead && !c->flush_queued) {
        c->flush_queued = true; /* written with the iteration's other answers */
        c->fnext = c->w->flushq;
        c->w->flushq = c;
    }
}

void hconn_settle(struct hconn *c)
{
    if (!c->dead && hconn_unsent(c) > 0 && !c->flush_queued) {
        hconn_queue_flush(c);
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
            hconn_close_reason(c, TANDEM_ETIMEDOUT); /* a stream's client read nothing */
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
    t = log_buffer_due(w->now_ms); /* the oldest buffered log line's flush */
    if (t >= 0) {
        t = t == 0 ? 0 : t + 1;
        best = (best < 0 || t < best) ? t : best;
    }
    return best > 1000000 ? 1000000 : (int)best;
}

/* The server ends every open stream (drain, stop): last chunk, on_close(0), close. */
static void streams_finish(struct hworker *w)
{
    while (w->streams != NULL) {
        hstream_finish(w->streams->conn); /* unlinks it first */
    }
}

/* Drain: stop accepting, end the open streams, close the connections that have no request under
 * way; the others close after their answer (resp.close in hworker_answer) or by their request
 * timeout. */
static void drain_begin(struct hworker *w)
{
    w->draining = true;
    w->io->unlisten(w);
    streams_finish(w);
    struct hconn *next;
    for (struct hconn *c = w->all; c != NULL; c = next) {
        next = c->anext;
        if (c->pending || c->hp.started || c->lingering) {
            continue; /* its answer closes it (hworker_answer), or it is closing already */
        }
        if (hconn_unsent(c) == 0) {
            hconn_close(c);
        } else {
            c->closing = true; /* flush the answers it has, then a lingering close */
            conn_flush(c);
            conn_update(c);
        }
    }
}

void hworker_wake_event(struct hworker *w)
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
    hloop_current = &w->loop;
    log_buffer_open(); /* this thread's log lines (access log, handlers) are buffered */
    clock_update(w);
    w->io->start(w);
    while (!w->stopping) {
        w->io->wait(w, next_timeout(w));
        clock_update(w);
        flush_queued(w);
        hloop_run_timers(&w->loop);
        flush_queued(w); /* what the timers wrote (a stream's pieces) */
        expire(w);
        hloop_reap(&w->loop);
        bury(w);
        log_buffer_tick(w->now_ms);
        atomic_store(&w->nconns_seen, w->nconns);
    }
    streams_finish(w);    /* on this thread, their owners hear of it (on_close) before the hooks */
    hloop_stop(&w->loop); /* posts, then stop hooks: held requests may still be answered */
    flush_queued(w);
    w->io->stop(w); /* what was queued goes out; the kernel lets go of the worker's memory */
    log_buffer_close();
    hloop_current = NULL;
    return NULL;
}

int hworker_new(const struct hserver_shared *sh, int index, int listen_fd, const struct hio_ops *io,
                struct hworker **out)
{
    struct hworker *w = xcalloc(1, sizeof(*w));
    w->sh = sh;
    w->io = io;
    w->index = index;
    w->lfd = listen_fd;
    w->ep = -1;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    hloop_init(&w->loop, w->efd, NULL, w); /* the backend's init sets the watch ops */
    int rc = w->efd < 0 ? TANDEM_EIO : io->init(w);
    if (rc != 0) {
        w->lfd = -1; /* the caller still owns it */
        hworker_free(w);
        return rc;
    }
    *out = w;
    return 0;
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
        bool pending = c->pending; /* no open stream: the worker finished them */
        struct hreq *r = c->req;
        hconn_close(c);
        if (pending) {
            if (w->sh->cfg.on_done != NULL) {
                w->sh->cfg.on_done(&r->view, 0, w->sh->cfg.arg);
            }
            hreq_free(r); /* nobody will answer it now */
        }
    }
    hloop_cleanup(&w->loop);
    bury(w); /* nothing is busy any more: the backend's stop waited for the kernel */
    while (w->zombies != NULL) {
        struct hconn *c = w->zombies;
        w->zombies = c->anext;
        conn_free(c);
    }
    if (w->lfd >= 0) {
        close(w->lfd);
    }
    w->io->cleanup(w);
    if (w->efd >= 0) {
        close(w->efd);
    }
    free(w);
}
