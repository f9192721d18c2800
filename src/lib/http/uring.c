/*
 * uring.c: the io_uring I/O backend of an HTTP worker (struct hio_ops; worker.c has the rest).
 *
 * MODEL. One ring per worker, created disabled on the thread that starts the server and enabled
 * by the worker thread, which is then its only user (IORING_SETUP_SINGLE_ISSUER, and
 * DEFER_TASKRUN: completions are produced only while the worker waits in io_uring_enter, never by
 * interrupting it). Nothing is polled by a kernel thread (no SQPOLL). Every request in flight is
 * named by its user_data: the address of its object with a tag in the low 3 bits:
 *
 *     RECV    a connection's multishot receive (one completion per arrival, into a provided
 *             buffer: no system call per request on the read side)
 *     SEND    a connection's send of wbuf (at most one in flight)
 *     ACCEPT  the worker's multishot accept on its listening socket
 *     EFD     the worker's multishot poll on its eventfd (posts, stop, drain)
 *     WATCH   a loop watch's one-shot poll, re-armed after each callback: the level-triggered
 *             semantics libcurl expects
 *     IGNORE  cancellations and poll updates (their completions carry nothing)
 *
 * ONE SYSTEM CALL PER ITERATION. The requests an iteration prepares (the answers' sends, re-armed
 * receives and polls) sit in the submission queue until the next wait, io_uring_submit_and_wait
 * (with the timeout of the earliest deadline), submits them and waits in the same io_uring_enter.
 * A send is issued at once by that call (the kernel tries it inline), so answers leave at the
 * same point of the iteration as under epoll.
 *
 * INPUT. A receive completion's bytes are copied from the provided buffer into the connection's
 * input buffer and the buffer goes straight back to the ring (256 x 4 KiB per worker). The kernel
 * keeps receiving while the connection has paused (a request at its handler, output backed up):
 * those bytes are kept, and once more than HCONN_IN_CAP are waiting the receive is cancelled, so
 * TCP's flow control holds the peer back as it does under epoll; it is armed again when the
 * connection takes input. EOF (a completion of 0 bytes) is remembered (rd_end) and acted on when
 * the connection takes input again, at the point where epoll's recv would have returned 0. A
 * receive that ends for lack of buffers is armed again at the end of the iteration.
 *
 * OUTPUT. Answers are appended to c->out; a send takes the whole of it by swapping it with the
 * empty c->wbuf (the kernel may read wbuf until the send completes, so it is never appended to);
 * a short send sends the rest; further answers wait in out for the next send.
 *
 * LIFETIME. A connection counts its requests in flight (ops). Closing it cancels them and closes
 * the fd; its memory is freed only once the last completion has come back (a zombie until then:
 * see bury in worker.c). When the worker stops, what it queued is submitted, everything else is
 * cancelled, and the worker waits (up to 2 s) for every completion, so nothing in the kernel refers
 * to its memory when hworker_free runs on another thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "http_int.h"

#define SQ_ENTRIES   1024
#define CQ_ENTRIES   8192
#define RBUF_COUNT   256 /* provided receive buffers per worker (a power of two) */
#define RBUF_SIZE    4096
#define RBUF_GROUP   0
#define MAX_CQES     1024 /* handled per iteration, so timers and timeouts keep their turn */
#define STOP_WAIT_MS 2000

enum { U_RECV = 1, U_SEND = 2, U_ACCEPT = 3, U_EFD = 4, U_WATCH = 5, U_IGNORE = 6, U_TAGS = 7 };

struct huring {
    struct io_uring ring;
    bool ring_ok;
    struct io_uring_buf_ring *br; /* mmap'ed: the kernel pins it */
    char *bufs;                   /* RBUF_COUNT x RBUF_SIZE */
    unsigned inflight;            /* requests whose user_data names an object */
    bool accept_armed, efd_armed;
    bool stopped; /* after ur_stop: no more requests, fds are closed directly */
};

static uint64_t ud(const void *p, int tag)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)tag;
}

/* A free submission entry; a full queue is submitted first (it holds SQ_ENTRIES requests, so this
 * happens only in bursts). */
static struct io_uring_sqe *sqe_get(struct huring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    while (sqe == NULL) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void cancel(struct huring *u, uint64_t target)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, U_IGNORE);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

static void buf_recycle(struct huring *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * RBUF_SIZE, RBUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(RBUF_COUNT), 0);
    io_uring_buf_ring_advance(u->br, 1);
}

/* ---- connections --------------------------------------------------------------------------- */

static void arm_recv(struct hconn *c)
{
    struct huring *u = c->w->ur;
    struct io_uring_sqe *sqe = sqe_get(u);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RBUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud(c, U_RECV));
    c->rd_armed = true;
    c->rd_cancel = false;
    c->ops++;
    u->inflight++;
}

static void send_wbuf(struct hconn *c)
{
    struct huring *u = c->w->ur;
    struct io_uring_sqe *sqe = sqe_get(u);
    io_uring_prep_send(sqe, c->fd, c->wbuf.p + c->wbuf.off, c->wbuf.len - c->wbuf.off,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(c, U_SEND));
    c->wr_busy = true;
    c->ops++;
    u->inflight++;
}

/* A request naming c completed for good. A zombie whose last one this was goes back to the
 * graveyard (freed at the end of the iteration). */
static void op_done(struct hconn *c)
{
    c->ops--;
    c->w->ur->inflight--;
    if (c->zombie && c->ops == 0) {
        hconn_unzombie(c);
    }
}

static void in_append(struct hconn *c, const char *p, size_t n)
{
    if (c->in_len + n > c->in_cap && c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len + n > c->in_cap) {
        size_t cap = c->in_cap * 2;
        c->in_cap = cap > c->in_len + n ? cap : c->in_len + n;
        c->in = xrealloc(c->in, c->in_cap);
    }
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
}

/* The connection takes input again (or may): parses what was kept meanwhile, acts on an EOF
 * seen meanwhile, arms the receive if it is not. */
static void ur_read(struct hconn *c)
{
    if (c->lingering) {
        c->in_off = c->in_len = 0; /* discard */
    } else {
        hconn_input(c);
    }
    if (c->dead) {
        return;
    }
    if (c->rd_end) {
        if (!c->eof && hconn_wants_input(c) && c->in_off == c->in_len) {
            hconn_eof(c);
        }
        return;
    }
    if (!c->rd_armed && hconn_wants_input(c)) {
        arm_recv(c);
    }
}

static void ur_flush(struct hconn *c)
{
    if (c->wr_busy) {
        return; /* its completion sends what has been added since */
    }
    if (c->out.len == c->out.off) {
        hconn_sent(c);
        return;
    }
    struct hbuf t = c->wbuf; /* empty: no send in flight */
    c->wbuf = c->out;
    c->out = t;
    send_wbuf(c);
}

static void ur_close(struct hconn *c)
{
    struct huring *u = c->w->ur;
    if (!u->stopped) {
        if (c->rd_armed && !c->rd_cancel) {
            cancel(u, ud(c, U_RECV));
            c->rd_cancel = true;
        }
        if (c->wr_busy) {
            cancel(u, ud(c, U_SEND));
        }
    }
    close(c->fd); /* the requests hold the socket until they end */
}

static bool ur_busy(const struct hconn *c)
{
    return c->ops > 0;
}

static void on_recv(struct hconn *c, int res, unsigned flags)
{
    struct huring *u = c->w->ur;
    bool more = flags & IORING_CQE_F_MORE;
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (res > 0 && !c->dead && !c->lingering && !c->closing) {
            in_append(c, u->bufs + (size_t)bid * RBUF_SIZE, (size_t)res);
        }
        buf_recycle(u, bid);
    }
    if (!more) {
        c->rd_armed = false;
        c->rd_cancel = false;
        op_done(c);
    }
    if (c->dead) {
        return;
    }
    if (res == 0) {
        c->rd_end = true;
    } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        hconn_close(c); /* reset */
        return;
    }
    if (c->rd_armed && !c->rd_cancel && !hconn_wants_input(c) &&
        c->in_len - c->in_off > HCONN_IN_CAP) {
        cancel(u, ud(c, U_RECV)); /* paused and enough kept: let TCP hold the peer back */
        c->rd_cancel = true;
    }
    ur_read(c);
    if (c->rd_end) {
        hconn_rdhup(c); /* a stream's client left */
    }
    hconn_settle(c);
}

static void on_send(struct hconn *c, int res)
{
    c->wr_busy = false;
    op_done(c);
    if (c->dead) {
        return;
    }
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN) {
            send_wbuf(c);
        } else {
            hconn_close(c);
        }
        return;
    }
    c->wbuf.off += (size_t)res;
    c->sent += (uint64_t)res;
    if (c->wbuf.off < c->wbuf.len) {
        send_wbuf(c); /* the rest */
        return;
    }
    c->wbuf.off = c->wbuf.len = 0;
    ur_flush(c); /* what was added since, or the end of a closing connection */
    if (!c->dead) {
        ur_read(c); /* input may have paused on unsent output */
        hconn_settle(c);
    }
}

/* ---- listening socket and eventfd -------------------------------------------------------------
 */

static void arm_accept(struct hworker *w)
{
    struct io_uring_sqe *sqe = sqe_get(w->ur);
    io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud(w, U_ACCEPT));
    w->ur->accept_armed = true;
    w->ur->inflight++;
}

static void arm_efd(struct hworker *w)
{
    struct io_uring_sqe *sqe = sqe_get(w->ur);
    io_uring_prep_poll_multishot(sqe, w->efd, POLLIN);
    io_uring_sqe_set_data64(sqe, ud(w, U_EFD));
    w->ur->efd_armed = true;
    w->ur->inflight++;
}

static void on_accept(struct hworker *w, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE)) {
        w->ur->accept_armed = false;
        w->ur->inflight--;
    }
    if (res >= 0) {
        struct hconn *c = hconn_new(w, res);
        if (c == NULL) {
            close(res); /* max_connections, or draining */
        } else {
            int one = 1;
            setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            arm_recv(c);
        }
    }
    if (!w->ur->accept_armed && w->lfd >= 0) {
        arm_accept(w);
    }
}

static void on_efd(struct hworker *w, int res, unsigned flags)
{
    if (!(flags & IORING_CQE_F_MORE)) {
        w->ur->efd_armed = false;
        w->ur->inflight--;
    }
    if (res > 0) {
        hworker_wake_event(w); /* reads the eventfd */
    }
    if (!w->ur->efd_armed) {
        arm_efd(w);
    }
}

/* ---- the loop's fd watches ----------------------------------------------------------------- */

static unsigned poll_mask(int events)
{
    return (events & TANDEM_LOOP_IN ? POLLIN : 0) | (events & TANDEM_LOOP_OUT ? POLLOUT : 0);
}

static void arm_watch(struct huring *u, struct hwatch *wt)
{
    struct io_uring_sqe *sqe = sqe_get(u);
    io_uring_prep_poll_add(sqe, wt->fd, poll_mask(wt->events));
    io_uring_sqe_set_data64(sqe, ud(wt, U_WATCH));
    wt->armed = true;
    u->inflight++;
}

static int watch_add(void *ctx, struct hwatch *wt)
{
    struct hworker *w = ctx;
    if (w->ur->stopped || fcntl(wt->fd, F_GETFD) < 0) {
        return TANDEM_EIO; /* epoll_ctl would refuse a bad fd at once too */
    }
    arm_watch(w->ur, wt);
    return 0;
}

/* A poll in flight gets the new events (if it has completed meanwhile, its callback runs and the
 * re-arm uses the new events); one not in flight is re-armed with them after its callback. */
static int watch_mod(void *ctx, struct hwatch *wt, int events)
{
    struct hworker *w = ctx;
    if (wt->armed) {
        struct io_uring_sqe *sqe = sqe_get(w->ur);
        io_uring_prep_poll_update(sqe, ud(wt, U_WATCH), ud(wt, U_WATCH), poll_mask(events),
                                  IORING_POLL_UPDATE_EVENTS);
        io_uring_sqe_set_data64(sqe, U_IGNORE);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
    return 0;
}

static void watch_del(void *ctx, struct hwatch *wt)
{
    struct hworker *w = ctx;
    if (wt->armed && !w->ur->stopped) {
        struct io_uring_sqe *sqe = sqe_get(w->ur);
        io_uring_prep_poll_remove(sqe, ud(wt, U_WATCH));
        io_uring_sqe_set_data64(sqe, U_IGNORE);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
}

static bool watch_busy(const struct hwatch *wt)
{
    return wt->armed;
}

static const struct hwatch_ops watch_ops = {watch_add, watch_mod, watch_del, watch_busy};

static void on_watch(struct huring *u, struct hwatch *wt, int res)
{
    wt->armed = false;
    u->inflight--;
    if (wt->dead) {
        return; /* hloop_reap frees it now */
    }
    int what = res < 0
                   ? TANDEM_LOOP_ERR
                   : (res & POLLIN ? TANDEM_LOOP_IN : 0) | (res & POLLOUT ? TANDEM_LOOP_OUT : 0) |
                         (res & (POLLERR | POLLHUP | POLLNVAL) ? TANDEM_LOOP_ERR : 0);
    hloop_watch_event(wt, what);
    if (!wt->dead && !wt->armed && res >= 0) {
        arm_watch(u, wt); /* level-triggered: reports again while the condition holds */
    }
}

/* ---- the backend ----------------------------------------------------------------------------- */

static void dispatch(struct hworker *w, uint64_t data, int res, unsigned flags)
{
    void *p = (void *)(uintptr_t)(data & ~(uint64_t)U_TAGS);
    switch ((int)(data & U_TAGS)) {
    case U_RECV:
        on_recv(p, res, flags);
        break;
    case U_SEND:
        on_send(p, res);
        break;
    case U_ACCEPT:
        on_accept(w, res, flags);
        break;
    case U_EFD:
        on_efd(w, res, flags);
        break;
    case U_WATCH:
        on_watch(w->ur, p, res);
        break;
    default:
        break; /* U_IGNORE: a cancellation or poll update that did not find its target */
    }
}

/* After ur_stop: a completion only ends what it names (no callbacks, no new requests). */
static void settle_stopped(struct hworker *w, uint64_t data, int res, unsigned flags)
{
    struct huring *u = w->ur;
    void *p = (void *)(uintptr_t)(data & ~(uint64_t)U_TAGS);
    (void)res;
    if (flags & IORING_CQE_F_BUFFER) {
        buf_recycle(u, flags >> IORING_CQE_BUFFER_SHIFT);
    }
    if (flags & IORING_CQE_F_MORE) {
        return;
    }
    switch ((int)(data & U_TAGS)) {
    case U_RECV:
        ((struct hconn *)p)->rd_armed = false;
        op_done(p);
        break;
    case U_SEND:
        ((struct hconn *)p)->wr_busy = false;
        op_done(p);
        break;
    case U_ACCEPT:
        u->accept_armed = false;
        u->inflight--;
        break;
    case U_EFD:
        u->efd_armed = false;
        u->inflight--;
        break;
    case U_WATCH:
        ((struct hwatch *)p)->armed = false;
        u->inflight--;
        break;
    default:
        break;
    }
}

/* Handles the completions that are there (at most MAX_CQES), each seen before it is handled so
 * its provided buffer and its slot are free at once. */
static void reap(struct hworker *w, bool stopped)
{
    struct io_uring_cqe *cqe;
    for (int n = 0; n < MAX_CQES && io_uring_peek_cqe(&w->ur->ring, &cqe) == 0; n++) {
        uint64_t data = cqe->user_data;
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(&w->ur->ring, cqe);
        if (stopped) {
            settle_stopped(w, data, res, flags);
        } else {
            dispatch(w, data, res, flags);
        }
    }
}

static void ur_wait(struct hworker *w, int timeout_ms)
{
    struct io_uring *ring = &w->ur->ring;
    if (timeout_ms < 0) {
        io_uring_submit_and_wait(ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL); /* one io_uring_enter */
    }
    reap(w, false);
}

static int ur_init(struct hworker *w)
{
    struct huring *u = xcalloc(1, sizeof(*u));
    w->ur = u;
    w->loop.wops = &watch_ops;
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
              IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = CQ_ENTRIES;
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p);
    if (rc < 0) { /* seccomp, kernel.io_uring_disabled, a kernel before 6.1 (DEFER_TASKRUN) */
        log_warn("http: io_uring unavailable, serving with epoll",
                 "\"reason\":\"io_uring_setup\",\"errno\":%d", -rc);
        return TANDEM_EUNSUPPORTED;
    }
    u->ring_ok = true;
    if (!(p.features & IORING_FEAT_EXT_ARG)) {
        log_warn("http: io_uring unavailable, serving with epoll",
                 "\"reason\":\"no IORING_FEAT_EXT_ARG\"");
        return TANDEM_EUNSUPPORTED;
    }
    size_t brsize = RBUF_COUNT * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, brsize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED) {
        return TANDEM_EIO;
    }
    u->br = br;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uintptr_t)br, .ring_entries = RBUF_COUNT, .bgid = RBUF_GROUP};
    rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (rc != 0) {
        log_warn("http: io_uring unavailable, serving with epoll",
                 "\"reason\":\"io_uring_register_buf_ring\",\"errno\":%d", -rc);
        return TANDEM_EUNSUPPORTED;
    }
    u->bufs = xmalloc((size_t)RBUF_COUNT * RBUF_SIZE);
    io_uring_buf_ring_init(u->br);
    for (int i = 0; i < RBUF_COUNT; i++) {
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * RBUF_SIZE, RBUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(RBUF_COUNT), i);
    }
    io_uring_buf_ring_advance(u->br, RBUF_COUNT);
    return 0;
}

static void ur_start(struct hworker *w)
{
    /* this thread is the ring's submitter from now on (liburing 2.3 declares
     * io_uring_enable_rings but does not export it) */
    long rc =
        syscall(__NR_io_uring_register, w->ur->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc != 0) {
        log_error("http: io_uring enable failed", "\"errno\":%d", errno);
        w->stopping = true;
        return;
    }
    /* each io_uring_enter then names the ring by its slot in this thread's table (no fdget) */
    io_uring_register_ring_fd(&w->ur->ring);
    arm_accept(w);
    arm_efd(w);
}

static void ur_unlisten(struct hworker *w)
{
    if (w->ur->accept_armed) {
        cancel(w->ur, ud(w, U_ACCEPT));
        io_uring_submit(&w->ur->ring); /* stop accepting now, not at the next wait */
    }
    close(w->lfd);
    w->lfd = -1;
}

static void ur_stop(struct hworker *w)
{
    struct huring *u = w->ur;
    if (u->stopped) {
        return;
    }
    io_uring_submit(&u->ring); /* the last answers: each send is tried at once */
    struct io_uring_sqe *sqe = sqe_get(u);
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, U_IGNORE);
    u->stopped = true;
    int64_t t0 = clock_mono_ms();
    for (;;) {
        reap(w, true);
        if (u->inflight == 0 || clock_mono_ms() - t0 >= STOP_WAIT_MS) {
            break;
        }
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    if (u->inflight > 0) {
        log_warn("http: io_uring requests still in flight at stop", "\"count\":%u", u->inflight);
    }
    io_uring_unregister_ring_fd(&u->ring); /* a no-op when it was not registered */
}

static void ur_cleanup(struct hworker *w)
{
    struct huring *u = w->ur;
    if (u == NULL) {
        return;
    }
    if (u->ring_ok) {
        io_uring_queue_exit(&u->ring);
    }
    if (u->br != NULL) {
        munmap(u->br, RBUF_COUNT * sizeof(struct io_uring_buf));
    }
    free(u->bufs);
    free(u);
    w->ur = NULL;
}

const struct hio_ops hio_uring = {
    .name = "io_uring",
    .init = ur_init,
    .start = ur_start,
    .wait = ur_wait,
    .read = ur_read,
    .flush = ur_flush,
    .close = ur_close,
    .busy = ur_busy,
    .unlisten = ur_unlisten,
    .stop = ur_stop,
    .cleanup = ur_cleanup,
};
