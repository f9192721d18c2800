/*
 * epoll.c: the epoll I/O backend of an HTTP worker (struct hio_ops, worker.c has the rest).
 *
 * EDGE-TRIGGERED connections (as nginx does): each socket is registered once, for
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, at accept, and never modified, so the request path
 * makes no epoll_ctl and epoll_wait never re-polls a socket it reported before. The price is state
 * the backend keeps itself: rd_ready says the socket may hold unread bytes (set by an EPOLLIN
 * edge, cleared by EAGAIN or by a read shorter than the room offered, unless EPOLLRDHUP said the
 * peer has shut its side: its FIN raises no further edge, so reading goes on to EOF); a paused
 * connection that resumes reads on rd_ready without waiting for an event. Output needs no flag:
 * a send that hit EAGAIN is resumed by the next EPOLLOUT edge. The listening socket, the eventfd
 * and the loop's fd watches (level-triggered, as libcurl expects) are level-triggered.
 *
 * Per request: one recv (a short read means drained), one send per connection per iteration,
 * and a share of one epoll_wait.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"

#define MAX_EVENTS 256

static char tag_listen, tag_stop; /* epoll data for the listening socket and the eventfd */

/* ---- the loop's fd watches ----------------------------------------------------------------- */

static uint32_t epoll_events(int events)
{
    return (events & TANDEM_LOOP_IN ? EPOLLIN : 0) | (events & TANDEM_LOOP_OUT ? EPOLLOUT : 0);
}

static int watch_add(void *ctx, struct hwatch *wt)
{
    struct hworker *w = ctx;
    struct epoll_event e = {.events = epoll_events(wt->events), .data.ptr = wt};
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, wt->fd, &e) == 0 ? 0 : TANDEM_EIO;
}

static int watch_mod(void *ctx, struct hwatch *wt, int events)
{
    struct hworker *w = ctx;
    struct epoll_event e = {.events = epoll_events(events), .data.ptr = wt};
    return epoll_ctl(w->ep, EPOLL_CTL_MOD, wt->fd, &e) == 0 ? 0 : TANDEM_EIO;
}

static void watch_del(void *ctx, struct hwatch *wt)
{
    struct hworker *w = ctx;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, wt->fd, NULL); /* fails harmlessly if fd was closed */
}

static bool watch_busy(const struct hwatch *wt)
{
    (void)wt;
    return false; /* an event collected for it is skipped (dead) until hloop_reap */
}

static const struct hwatch_ops watch_ops = {watch_add, watch_mod, watch_del, watch_busy};

/* ---- connections --------------------------------------------------------------------------- */

/* Writes what can be written (EAGAIN: the next EPOLLOUT edge resumes it). */
static void ep_flush(struct hconn *c)
{
    while (c->out.len > c->out.off) {
        ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                hconn_close(c);
            }
            return;
        }
        c->out.off += (size_t)n;
        c->sent += (uint64_t)n;
    }
    c->out.off = c->out.len = 0;
    hconn_sent(c);
}

/* Reads while the socket may hold bytes and the connection takes input, feeding the parser after
 * each read. Edge-triggered: the socket counts as drained after EAGAIN or a read shorter than the
 * room offered (a new arrival raises a new edge), unless the peer has shut its side (then the
 * FIN raises no further edge: read on until recv returns 0). */
static void ep_read(struct hconn *c)
{
    while (!c->dead && c->rd_ready && hconn_wants_input(c)) {
        if (c->in_off > 0) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->in_off = 0;
        }
        size_t room = c->in_cap - c->in_len;
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
                hconn_close(c); /* reset */
            }
            return;
        }
        if (n == 0) { /* the peer closed: whatever is parsed is answered, then close */
            c->rd_ready = false;
            hconn_eof(c);
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
        hconn_input(c);
    }
}

static void ep_close(struct hconn *c)
{
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static bool ep_busy(const struct hconn *c)
{
    (void)c;
    return false;
}

static void accept_all(struct hworker *w)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or an error on a connection the kernel already dropped */
        }
        struct hconn *c = hconn_new(w, fd);
        if (c == NULL) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            close(fd);
            hconn_discard(c);
        }
    }
}

static void conn_event(struct hconn *c, uint32_t ev)
{
    if (c->dead) {
        return;
    }
    if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) {
        hconn_close(c);
        return;
    }
    if (ev & EPOLLIN) {
        c->rd_ready = true; /* noted even while reading pauses: ep_read resumes on it */
    }
    if (ev & EPOLLRDHUP) {
        c->rd_hup = true;
    }
    if ((ev & EPOLLOUT) && c->out.len > c->out.off) {
        ep_flush(c);
        if (!c->dead) {
            hconn_input(c); /* reading may have paused on MAX_UNSENT */
        }
    }
    ep_read(c);
    if (c->rd_hup) {
        hconn_rdhup(c); /* a stream's client left (its FIN raises no further edge) */
    }
    hconn_settle(c);
}

/* ---- the backend ----------------------------------------------------------------------------- */

static int ep_init(struct hworker *w)
{
    w->loop.wops = &watch_ops;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (w->ep < 0) {
        return TANDEM_EIO;
    }
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &tag_listen};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->lfd, &e) != 0) {
        return TANDEM_EIO;
    }
    e.data.ptr = &tag_stop;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &e) != 0) {
        return TANDEM_EIO;
    }
    return 0;
}

static void ep_start(struct hworker *w)
{
    (void)w;
}

static void ep_wait(struct hworker *w, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(w->ep, evs, MAX_EVENTS, timeout_ms);
    for (int i = 0; i < n; i++) {
        void *p = evs[i].data.ptr;
        uint32_t ev = evs[i].events;
        if (p == &tag_listen) {
            accept_all(w);
        } else if (p == &tag_stop) {
            hworker_wake_event(w);
        } else if (*(const uint8_t *)p == HKIND_WATCH) {
            hloop_watch_event(p, (ev & EPOLLIN ? TANDEM_LOOP_IN : 0) |
                                     (ev & EPOLLOUT ? TANDEM_LOOP_OUT : 0) |
                                     (ev & (EPOLLERR | EPOLLHUP) ? TANDEM_LOOP_ERR : 0));
        } else {
            conn_event(p, ev);
        }
    }
}

static void ep_unlisten(struct hworker *w)
{
    epoll_ctl(w->ep, EPOLL_CTL_DEL, w->lfd, NULL);
    close(w->lfd);
    w->lfd = -1;
}

static void ep_stop(struct hworker *w)
{
    (void)w; /* every write was made by a system call already */
}

static void ep_cleanup(struct hworker *w)
{
    if (w->ep >= 0) {
        close(w->ep);
        w->ep = -1;
    }
}

const struct hio_ops hio_epoll = {
    .name = "epoll",
    .init = ep_init,
    .start = ep_start,
    .wait = ep_wait,
    .read = ep_read,
    .flush = ep_flush,
    .close = ep_close,
    .busy = ep_busy,
    .unlisten = ep_unlisten,
    .stop = ep_stop,
    .cleanup = ep_cleanup,
};
