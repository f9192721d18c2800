/*
 * net_int.h: what loop.c, server.c and conn.c share and nobody else may use.
 *
 * The loop delivers epoll events to a `struct loop_io` embedded in its owner (a server's
 * listening socket, a conn, a watched fd); epoll_event.data.ptr points at it. Owners never free
 * an io inside an event batch: they close it (loop_io_del, which also marks it dead so an event
 * already collected for it is skipped) and free its memory through loop_defer(), which runs after
 * the batch. That is the whole use-after-free story for stale epoll events.
 *
 * Internal before-sleep hooks (the servers' flush) run after the user's hook; a hook that leaves
 * work undone calls loop_nowait() so the next epoll_wait polls instead of sleeping.
 */
#ifndef TANDEM_NET_NET_INT_H
#define TANDEM_NET_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/file_slice.h"
#include "base/kbuf.h"
#include "net/net.h"

struct loop_io;
typedef void (*loop_io_cb)(struct loop_io *io, uint32_t revents);

struct loop_io {
    int fd;
    uint32_t events; /* current epoll interest (EPOLLIN / EPOLLOUT) */
    bool registered; /* added to epoll and not yet deleted */
    loop_io_cb cb;   /* gets the io and epoll's revents */
};

/* Registers io->fd with the given interest. Returns 0 or TANDEM_EIO. */
int loop_io_add(struct loop *l, struct loop_io *io, uint32_t events);
/* Changes the interest; a no-op when unchanged. Returns 0 or TANDEM_EIO. */
int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events);
/* Unregisters io (idempotent); events already collected for it in this batch are dropped. The
 * caller still owns (and closes) the fd. */
void loop_io_del(struct loop *l, struct loop_io *io);

/* A deferred call, embedded in its owner: fn(arg) runs after the current event batch (or at the
 * next one, or in loop_free). Used to free memory that a collected event might still name. */
struct loop_defer {
    struct loop_defer *next;
    loop_cb fn;
    void *arg;
};
void loop_defer(struct loop *l, struct loop_defer *d, loop_cb fn, void *arg);

/* Internal before-sleep hooks, run in registration order after the user's hook. At most
 * LOOP_MAX_HOOKS. Returns 0 or TANDEM_ENOSPC. */
#define LOOP_MAX_HOOKS 8
int loop_hook_add(struct loop *l, loop_cb cb, void *arg);
void loop_hook_del(struct loop *l, loop_cb cb, void *arg);
/* The next epoll_wait of this iteration polls (timeout 0): some work is pending. */
void loop_nowait(struct loop *l);

/* ---- connections ----------------------------------------------------------------------------- */

/* Intrusive circular doubly-linked list node; a node not in a list points at itself. */
struct nlist {
    struct nlist *prev, *next;
};

enum slot_state { SLOT_RESERVED, SLOT_FILLED, SLOT_CANCELLED };

/* One piece of a response on the wire: memory (p, len) or file bytes (file != NULL: len bytes of
 * file->fd from file->pos). */
struct wpart {
    const uint8_t *p;
    struct file_slice *file;
    size_t len;
};

struct conn_slot {
    struct conn_slot *next;
    enum slot_state state;
    uint8_t hdr[4];            /* the response's size prefix */
    uint8_t *buf;              /* owned: the kw buffer */
    struct kw_splice *splices; /* owned: the kw splice array */
    int nsplices;
    int nparts;
    int part; /* send cursor: current part and the bytes of it already sent */
    size_t off;
    struct wpart *parts; /* inline[] or heap */
    struct wpart inline_parts[4];
};

struct conn {
    struct loop_io io;
    struct server *srv; /* NULL once the server was freed */
    struct loop *loop;
    uint64_t id;
    int refs;
    bool closed;    /* socket closed, on_close done */
    bool closing;   /* conn_close/EOF: read no more, close once output drained */
    bool peer_eof;  /* read() returned 0 */
    bool lingering; /* output done, write side shut down, discarding input until EOF */
    uint64_t linger_timer;
    bool aborting; /* conn_abort inside on_frame: kill when it returns */
    bool in_frame; /* inside on_frame */
    bool want_write;
    void (*release)(void *ext);
    void *data;
    char peer[64];

    /* input: a fixed-size buffer holding small frames [rstart, rend); a body larger than
     * BIG_FRAME goes into its own buffer big[0..big_have) of big_cap bytes (big_len total) */
    uint8_t *rbuf;
    size_t rstart, rend;
    uint8_t *big;
    size_t big_len, big_have, big_cap;
    uint8_t *cur_frame; /* frame being handled by on_frame (for conn_steal_frame) */
    size_t cur_len;
    bool cur_stolen;

    /* output: slots in reservation order */
    struct conn_slot *q_head, *q_tail;
    int inflight;  /* slots in the queue */
    int unfilled;  /* slots reserved and not yet filled or cancelled */
    size_t unsent; /* bytes of filled slots not yet sent */

    int64_t last_active;
    struct nlist all;     /* server->conns, least recently active first; or server->dead */
    struct nlist pending; /* server->pending: needs a flush / frame pass in the hook */
    bool is_pending;
    struct loop_defer defer;
};

struct server {
    struct loop *loop;
    struct server_config cfg;
    struct server_handler h;
    void *arg;
    struct loop_io lio;
    int port;
    int spare_fd; /* held open; closed to accept-and-drop under EMFILE */
    int nconns;
    uint64_t next_id;
    struct nlist conns;   /* open, by last activity */
    struct nlist dead;    /* closed but still referenced */
    struct nlist pending; /* conns with output or buffered frames to process */
    uint64_t sweep_timer;
    int64_t sweep_every;
};

/* conn.c, used by server.c */
struct conn *conn_new(struct server *s, int fd, const char *peer);
/* Reads and handles frames (an EPOLLIN/EPOLLOUT event). */
void conn_on_event(struct loop_io *io, uint32_t revents);
/* The hook's work for one pending conn: handle buffered frames, flush, apply close requests. */
void conn_service(struct conn *c);
/* Closes the socket now, drops output, fires on_close, drops the server's reference. */
void conn_kill(struct conn *c, const char *why);
/* Records activity: moves c to the tail of the idle list. */
void conn_touch(struct conn *c);
/* Puts c on the server's pending list (idempotent). */
void conn_mark_pending(struct conn *c);
/* Removes s from c's queue if it is there (adjusting inflight). */
void slot_unlink(struct conn *c, struct conn_slot *s);
/* Frees s: its buffer, its parts, and every splice handle through c->release (or free()). */
void slot_free(struct conn *c, struct conn_slot *s);

static inline void nlist_init(struct nlist *n)
{
    n->prev = n->next = n;
}
static inline bool nlist_empty(const struct nlist *n)
{
    return n->next == n;
}
static inline void nlist_del(struct nlist *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    nlist_init(n);
}
static inline void nlist_push_tail(struct nlist *head, struct nlist *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

#define NET_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
