/*
 * One connection: frames in, responses out, in order.
 *
 * INPUT. Bytes are read into a fixed 64 KiB buffer rbuf[rstart, rend) that holds whole small
 * frames. A frame whose body is larger than BIG_FRAME (32 KiB) is given its own buffer as soon as
 * its size prefix is seen: the bytes already in rbuf are copied over once, and the rest is read
 * straight into it (readv: the frame's remainder, then rbuf for whatever follows), so a 1 MiB
 * Produce costs no memmove and can be handed to the handler without a copy
 * (conn_steal_frame). The big buffer is allocated min(size, 1 MiB) at first and doubled only as
 * bytes really arrive, so a hostile size prefix cannot make us allocate 100 MiB up front. rbuf
 * is compacted (memmove of the unfinished tail, at most 4 + 32 KiB) only when the tail room gets
 * smaller than the largest small frame; it is freed whenever it is empty and the socket drained,
 * so thousands of quiet connections hold no buffers.
 *
 *     rbuf:  [ consumed | frame | frame | partial  |   free        ]
 *            0          rstart                     rend            RBUF_SIZE
 *
 * OUTPUT. Slots form a FIFO in reservation order. A filled slot is a list of parts: the 4-byte
 * size prefix, then memory stretches of the response buffer and file stretches (splices):
 *
 *     OFFSET SIZE          FIELD
 *     0      4             Size (INT32 big-endian) = w->len + sum(ext_len)
 *     4      splices[0].at buf[0 .. at)
 *     ...    ext_len       file bytes of splices[0].ext, by sendfile(2)
 *     ...    ...           buf[splices[0].at .. splices[1].at), and so on; then buf's tail
 *
 * The flush gathers memory parts of consecutive filled slots into one sendmsg (up to 64 iovecs,
 * MSG_MORE when a file part follows), sends file parts with sendfile, and stops at the first
 * slot not yet filled: that is the ordering invariant. A cancelled slot is skipped.
 *
 * STATE. reading = open && !closing && inflight < max_inflight && unsent <= max_queued_bytes.
 * The epoll interest is EPOLLIN iff reading, EPOLLOUT iff the last write found the socket full
 * (or the write budget ran out). Every change goes through conn_update(), which also closes a
 * closing conn once its queue is empty and puts conns with ready work on the server's pending
 * list for the flush hook.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "net/net_int.h"
#include "tandem/error.h"

#define RBUF_SIZE    (64u * 1024)
#define BIG_FRAME    (32u * 1024) /* bodies larger than this get their own buffer */
#define BIG_STEP     (1u << 20)   /* a big buffer starts at most this large */
#define READ_BUDGET  (1u << 20)   /* bytes read per conn per event */
#define WRITE_BUDGET (4u << 20)   /* bytes written per conn per flush */
#define FRAME_BUDGET 256          /* frames handled per conn per pass */
#define MAX_IOV      64
#define LINGER_MS    5000 /* longest wait for the peer's FIN after our own */

/* ---- lifetime -------------------------------------------------------------------------------- */

static void release_ext(struct conn *c, void *ext)
{
    if (c->release)
        c->release(ext);
    else
        free(ext);
}

void slot_free(struct conn *c, struct conn_slot *s)
{
    free(s->buf);
    for (int i = 0; i < s->nsplices; i++)
        release_ext(c, (void *)s->splices[i].ext);
    free(s->splices);
    if (s->parts != s->inline_parts)
        free(s->parts);
    free(s);
}

void slot_unlink(struct conn *c, struct conn_slot *s)
{
    struct conn_slot **pp = &c->q_head, *prev = NULL;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = s->next;
    if (c->q_tail == s)
        c->q_tail = prev;
    c->inflight--;
}

static void conn_free_mem(void *arg)
{
    struct conn *c = arg;
    while (c->q_head) {
        struct conn_slot *s = c->q_head;
        c->q_head = s->next;
        slot_free(c, s);
    }
    free(c->rbuf);
    free(c->big);
    free(c);
}

void conn_ref(struct conn *c)
{
    c->refs++;
}

void conn_unref(struct conn *c)
{
    if (--c->refs > 0)
        return;
    nlist_del(&c->all); /* off server->dead (a no-op once the server is gone) */
    if (c->srv)
        loop_defer(c->loop, &c->defer, conn_free_mem, c); /* an event may still name it */
    else
        conn_free_mem(c);
}

struct conn *conn_new(struct server *s, int fd, const char *peer)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->io.fd = fd;
    c->io.cb = conn_on_event;
    c->srv = s;
    c->loop = s->loop;
    c->refs = 1;
    c->release = s->cfg.release;
    size_t pl = strlen(peer);
    if (pl >= sizeof(c->peer))
        pl = sizeof(c->peer) - 1;
    memcpy(c->peer, peer, pl);
    nlist_init(&c->pending);
    if (loop_io_add(s->loop, &c->io, EPOLLIN) < 0) {
        free(c);
        return NULL;
    }
    c->id = s->next_id++;
    c->last_active = loop_now_ms(s->loop);
    nlist_push_tail(&s->conns, &c->all);
    s->nconns++;
    return c;
}

void conn_kill(struct conn *c, const char *why)
{
    if (c->closed)
        return;
    struct server *s = c->srv;
    char esc[80];
    c->closed = true;
    if (c->linger_timer) {
        loop_timer_cancel(c->loop, c->linger_timer);
        c->linger_timer = 0;
        conn_unref(c); /* the timer's reference; the server's is still held */
    }
    log_debug("connection closed", "\"peer\":%s,\"conn\":%llu,\"why\":\"%s\"",
              log_json_str(esc, sizeof(esc), c->peer), (unsigned long long)c->id, why);
    loop_io_del(c->loop, &c->io);
    close(c->io.fd);
    nlist_del(&c->all);
    nlist_del(&c->pending);
    c->is_pending = false;
    s->nconns--;
    /* Drop output; keep reserved slots, which the handler still has to fill or cancel. */
    for (struct conn_slot *sl = c->q_head, *next; sl; sl = next) {
        next = sl->next;
        if (sl->state != SLOT_RESERVED) {
            slot_unlink(c, sl);
            slot_free(c, sl);
        }
    }
    c->unsent = 0;
    free(c->rbuf);
    free(c->big);
    c->rbuf = c->big = NULL;
    c->rstart = c->rend = 0;
    nlist_push_tail(&s->dead, &c->all);
    if (s->h.on_close)
        s->h.on_close(c, s->arg);
    conn_unref(c);
}

void conn_touch(struct conn *c)
{
    if (c->closed)
        return;
    c->last_active = loop_now_ms(c->loop);
    nlist_del(&c->all);
    nlist_push_tail(&c->srv->conns, &c->all);
}

void conn_mark_pending(struct conn *c)
{
    if (c->closed || c->is_pending)
        return;
    c->is_pending = true;
    nlist_push_tail(&c->srv->pending, &c->pending);
}

/* ---- input ----------------------------------------------------------------------------------- */

static bool can_read(const struct conn *c)
{
    const struct server_config *cfg = &c->srv->cfg;
    return !c->closed && !c->closing && !c->aborting && c->inflight < cfg->max_inflight &&
           c->unsent <= cfg->max_queued_bytes;
}

/* True when process_input() would make progress without new bytes. */
static bool has_complete_input(const struct conn *c)
{
    if (c->big)
        return c->big_have == c->big_len;
    size_t avail = c->rend - c->rstart;
    if (avail < 4)
        return false;
    int32_t size = (int32_t)be32(c->rbuf + c->rstart);
    if (size < 0 || (uint32_t)size > c->srv->cfg.max_frame_bytes || (uint32_t)size > BIG_FRAME)
        return true; /* rejected or moved to its own buffer */
    return avail >= 4 + (size_t)size;
}

static void deliver(struct conn *c, uint8_t *frame, size_t len)
{
    c->in_frame = true;
    c->cur_frame = frame;
    c->cur_len = len;
    c->cur_stolen = false;
    c->srv->h.on_frame(c, frame, len, c->srv->arg);
    c->in_frame = false;
    c->cur_frame = NULL;
}

/* Starts a big frame: its own buffer, with the body bytes rbuf already holds. */
static void start_big(struct conn *c, uint32_t size)
{
    size_t have = c->rend - c->rstart - 4;
    if (have > size)
        have = size;
    c->big_len = size;
    c->big_cap = size < BIG_STEP ? size : BIG_STEP;
    if (c->big_cap < have)
        c->big_cap = have;
    c->big = xmalloc(c->big_cap);
    memcpy(c->big, c->rbuf + c->rstart + 4, have);
    c->big_have = have;
    c->rstart += 4 + have;
}

/* Handles complete frames until none is left, the budget is spent, or the conn must stop
 * reading (paused, closing, aborted). */
static void process_input(struct conn *c)
{
    for (int n = 0; n < FRAME_BUDGET && can_read(c); n++) {
        if (c->big) {
            if (c->big_have < c->big_len)
                break;
            deliver(c, c->big, c->big_len);
            if (!c->cur_stolen)
                free(c->big);
            c->big = NULL;
            continue;
        }
        size_t avail = c->rend - c->rstart;
        if (avail < 4)
            break;
        int32_t size = (int32_t)be32(c->rbuf + c->rstart);
        if (size < 0 || (uint32_t)size > c->srv->cfg.max_frame_bytes) {
            char esc[80];
            log_warn("bad frame size, closing connection",
                     "\"peer\":%s,\"conn\":%llu,\"size\":%d,\"max\":%u",
                     log_json_str(esc, sizeof(esc), c->peer), (unsigned long long)c->id, size,
                     c->srv->cfg.max_frame_bytes);
            conn_kill(c, "bad frame size");
            return;
        }
        if ((uint32_t)size > BIG_FRAME) {
            start_big(c, (uint32_t)size);
            continue;
        }
        if (avail < 4 + (size_t)size)
            break;
        deliver(c, c->rbuf + c->rstart + 4, (size_t)size);
        c->rstart += 4 + (size_t)size;
    }
    if (c->aborting)
        conn_kill(c, "aborted");
    if (c->rbuf && c->rstart == c->rend)
        c->rstart = c->rend = 0;
}

/* Sets up the iovecs of one read: the big frame's remainder and/or rbuf's free tail. */
static int read_iov(struct conn *c, struct iovec *iov)
{
    int n = 0;
    if (c->big) {
        if (c->big_have == c->big_cap) {
            c->big_cap = c->big_cap * 2 < c->big_len ? c->big_cap * 2 : c->big_len;
            c->big = xrealloc(c->big, c->big_cap);
        }
        iov[n++] = (struct iovec){c->big + c->big_have, c->big_cap - c->big_have};
        if (c->big_cap < c->big_len)
            return n; /* more of this frame must come before anything else */
    }
    if (!c->rbuf)
        c->rbuf = xmalloc(RBUF_SIZE);
    if (c->rstart > 0 && RBUF_SIZE - c->rstart < 4 + BIG_FRAME) {
        memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
        c->rend -= c->rstart;
        c->rstart = 0;
    }
    if (c->rend < RBUF_SIZE)
        iov[n++] = (struct iovec){c->rbuf + c->rend, RBUF_SIZE - c->rend};
    return n;
}

static void read_some(struct conn *c)
{
    size_t budget = READ_BUDGET;
    while (budget > 0 && can_read(c)) {
        struct iovec iov[2];
        int niov = read_iov(c, iov);
        if (niov == 0)
            break; /* rbuf full of frames left by the frame budget */
        size_t want = iov[0].iov_len + (niov > 1 ? iov[1].iov_len : 0);
        ssize_t n = readv(c->io.fd, iov, niov);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            conn_kill(c, "read error");
            return;
        }
        if (n == 0) {
            if (c->big || c->rend > c->rstart)
                log_debug("connection closed inside a frame", "\"conn\":%llu",
                          (unsigned long long)c->id);
            c->closing = true; /* the peer sends no more; answer what was asked, then close */
            c->peer_eof = true;
            break;
        }
        size_t got = (size_t)n, first = iov[0].iov_len < got ? iov[0].iov_len : got;
        if (c->big) {
            c->big_have += first;
            c->rend += got - first;
        } else {
            c->rend += got;
        }
        budget = got < budget ? budget - got : 0;
        conn_touch(c);
        process_input(c);
        if ((size_t)n < want)
            break; /* drained */
    }
    if (c->rbuf && c->rstart == c->rend && !c->closed) {
        free(c->rbuf); /* quiet conns hold no buffer */
        c->rbuf = NULL;
        c->rstart = c->rend = 0;
    }
}

/* ---- output ---------------------------------------------------------------------------------- */

static void pop_head(struct conn *c)
{
    struct conn_slot *s = c->q_head;
    c->q_head = s->next;
    if (!c->q_head)
        c->q_tail = NULL;
    c->inflight--;
    slot_free(c, s);
}

/* Consumes n sent bytes from the head of the queue. */
static void advance(struct conn *c, size_t n)
{
    c->unsent -= n;
    while (n > 0 || (c->q_head && c->q_head->state == SLOT_CANCELLED)) {
        struct conn_slot *s = c->q_head;
        if (s->state == SLOT_CANCELLED) {
            pop_head(c);
            continue;
        }
        struct wpart *p = &s->parts[s->part];
        size_t take = p->len - s->off < n ? p->len - s->off : n;
        s->off += take;
        n -= take;
        if (s->off == p->len) {
            s->part++;
            s->off = 0;
        }
        if (s->part == s->nparts)
            pop_head(c);
    }
}

/* Gathers memory parts from the head on; stops at a file part (sets *more) or an unfilled
 * slot. Returns the iovec count. */
static int gather(struct conn *c, struct iovec *iov, size_t *total, bool *more)
{
    int n = 0;
    *total = 0;
    *more = false;
    for (struct conn_slot *s = c->q_head; s && n < MAX_IOV; s = s->next) {
        if (s->state == SLOT_CANCELLED)
            continue;
        if (s->state != SLOT_FILLED)
            break;
        int first = s == c->q_head ? s->part : 0;
        for (int i = first; i < s->nparts && n < MAX_IOV; i++) {
            struct wpart *p = &s->parts[i];
            if (p->file) {
                *more = true;
                return n;
            }
            size_t off = s == c->q_head && i == s->part ? s->off : 0;
            iov[n++] = (struct iovec){(void *)(p->p + off), p->len - off};
            *total += p->len - off;
        }
    }
    return n;
}

/* Writes ready output within the write budget. Returns false if the conn was killed. */
static bool flush(struct conn *c)
{
    size_t budget = WRITE_BUDGET;
    c->want_write = false;
    while (c->q_head) {
        struct conn_slot *s = c->q_head;
        if (s->state == SLOT_CANCELLED) {
            pop_head(c);
            continue;
        }
        if (s->state != SLOT_FILLED)
            return true;
        if (budget == 0) {
            c->want_write = true; /* EPOLLOUT (level) brings us back next iteration */
            return true;
        }
        struct wpart *p = &s->parts[s->part];
        ssize_t n;
        size_t want;
        if (p->file) {
            off_t pos = p->file->pos + (off_t)s->off;
            want = p->len - s->off < budget ? p->len - s->off : budget;
            n = sendfile(c->io.fd, p->file->fd, &pos, want);
            if (n == 0) {
                log_warn("spliced file shorter than promised", "\"conn\":%llu",
                         (unsigned long long)c->id);
                conn_kill(c, "short file");
                return false;
            }
        } else {
            struct iovec iov[MAX_IOV];
            bool more;
            struct msghdr m = {.msg_iov = iov};
            m.msg_iovlen = (size_t)gather(c, iov, &want, &more);
            n = sendmsg(c->io.fd, &m, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->want_write = true;
            return true;
        }
        if (n < 0) {
            conn_kill(c, "write error");
            return false;
        }
        advance(c, (size_t)n);
        conn_touch(c);
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
        if ((size_t)n < want) {
            c->want_write = true; /* socket buffer full */
            return true;
        }
    }
    return true;
}

/* Lingering close (nginx's lingering_close, for the same reason): closing a socket whose receive
 * queue holds unread bytes makes the kernel send a reset, and a reset can destroy the response
 * we just sent before the client reads it. So a server-side close sends FIN (shutdown SHUT_WR),
 * then reads and discards until the peer's FIN, for at most LINGER_MS, then closes. */
static void linger_expired(void *arg)
{
    struct conn *c = arg;
    c->linger_timer = 0;
    conn_kill(c, "closed (linger timeout)");
    conn_unref(c);
}

static void start_linger(struct conn *c)
{
    c->lingering = true;
    shutdown(c->io.fd, SHUT_WR);
    conn_ref(c);
    c->linger_timer = loop_timer_add(c->loop, LINGER_MS, linger_expired, c);
}

static void linger_read(struct conn *c)
{
    uint8_t sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->io.fd, sink, sizeof(sink));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            conn_kill(c, "closed");
            return;
        }
    }
}

/* Applies the conn's state: close when done, epoll interest, pending work. */
static void conn_update(struct conn *c)
{
    if (c->closed)
        return;
    if (c->aborting) {
        conn_kill(c, "aborted");
        return;
    }
    if (c->closing && !c->q_head && !c->lingering) {
        if (c->peer_eof) {
            conn_kill(c, "closed");
            return;
        }
        start_linger(c);
    }
    if (c->lingering) {
        if (loop_io_mod(c->loop, &c->io, EPOLLIN) < 0)
            conn_kill(c, "epoll error");
        return;
    }
    bool r = can_read(c);
    uint32_t ev = (r ? EPOLLIN : 0) | (c->want_write ? EPOLLOUT : 0);
    if (loop_io_mod(c->loop, &c->io, ev) < 0) {
        conn_kill(c, "epoll error");
        return;
    }
    if (r && has_complete_input(c))
        conn_mark_pending(c);
    else if (!c->want_write && c->q_head && c->q_head->state != SLOT_RESERVED)
        conn_mark_pending(c);
}

void conn_on_event(struct loop_io *io, uint32_t revents)
{
    struct conn *c = NET_CONTAINER_OF(io, struct conn, io);
    if (c->closed)
        return;
    conn_ref(c);
    if (c->lingering) {
        if (revents & (EPOLLERR | EPOLLHUP))
            conn_kill(c, "closed");
        else
            linger_read(c);
    } else if (revents & EPOLLERR) {
        conn_kill(c, "socket error");
    } else if ((revents & EPOLLHUP) && !(revents & EPOLLIN)) {
        conn_kill(c, "hang-up");
    } else {
        if (revents & EPOLLOUT)
            flush(c);
        if ((revents & EPOLLIN) && !c->closed)
            read_some(c);
        if (!c->closed && c->q_head && !c->want_write)
            flush(c); /* answers to what was just read leave now, not one iteration later */
        conn_update(c);
    }
    conn_unref(c);
}

void conn_service(struct conn *c)
{
    if (c->closed)
        return;
    if (can_read(c) && has_complete_input(c))
        process_input(c);
    if (!c->closed && flush(c))
        conn_update(c);
}
