/*
 * http_int.h: the private pieces of libtandem's HTTP server core, bottom-up.
 *
 *   parse.c     bytes -> one request (Debian's http-parser, nodejs/http-parser 2.9, does the
 *               HTTP/1.1 grammar; this file assembles the request object and enforces the
 *               limits). Pure: no sockets, no clocks; the fuzz target drives it directly.
 *   response.c  one answer -> bytes (status line, headers, body).
 *   stream.c    a streamed answer: begun, written piece by piece (chunked), ended; its end when
 *               the client goes away, the drain or the stop comes first.
 *   loop.c      what else a worker's loop runs: fd watches, timers, posts, stop hooks.
 *   worker.c    one thread: its connections (the HTTP/1.1 state machine), their timeouts, the
 *               iteration; the system calls go through an I/O backend (struct hio_ops):
 *   epoll.c     the epoll backend: edge-triggered readiness, recv/send by system call;
 *   uring.c     the io_uring backend: multishot accept and receive into provided buffers,
 *               sends batched into the one io_uring_enter per iteration that also waits.
 *   server.c    the public start/stop: sockets bound with SO_REUSEPORT, one thread each.
 *
 * A request object (struct hreq) is the arena of one request: the request line and headers are
 * copied into `head` (each string NUL-terminated) as the parser reports them, so a request may
 * arrive in any number of reads. A connection owns at most one hreq at a time, which it re-uses
 * request after request; the hreq outlives its connection only while a handler still has to
 * answer it.
 */
#ifndef TANDEM_LIB_HTTP_INT_H
#define TANDEM_LIB_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "tandem/http.h"

#define HTTP_MAX_HEADERS    64   /* more: 431 */
#define HTTP_MAX_EXTRA_HDRS 4096 /* bytes of handler-added response headers */

struct hlimits {
    size_t max_header_bytes; /* raw bytes from the request's first byte to the end of headers */
    size_t max_body_bytes;
};

struct hconn;

struct hreq {
    struct tandem_http_request view;      /* what the handler sees; must stay the first member */
    struct hconn *conn;                   /* NULL once the connection has gone away */
    const struct tandem_http_config *cfg; /* set at dispatch (for cfg->on_done) */
    char *head;                           /* arena: target, then name\0value\0 pairs */
    size_t head_len, head_cap;
    uint32_t hdr_name[HTTP_MAX_HEADERS], hdr_value[HTTP_MAX_HEADERS]; /* offsets in head */
    int nhdr;
    char *body; /* NUL-terminated; capacity body_cap + 1 */
    size_t body_len, body_cap;
    char *extra; /* handler-added response headers, "Name: value\r\n"... */
    size_t extra_len, extra_cap;
    bool keep_alive; /* after the response (http_should_keep_alive, no Upgrade) */
    bool is_head;
    bool answered;
    /* a streamed answer (stream.c): */
    uint8_t stream;    /* HSTREAM_NONE, HSTREAM_OPEN (begun), HSTREAM_CLOSING (in on_close) */
    bool chunked;      /* HTTP/1.1: chunked body; HTTP/1.0: the body ends with the connection */
    bool stream_close; /* the connection closes once the stream has ended */
    int status;
    tandem_http_stream_close_fn on_close;
    void *close_arg;
    struct hreq *sprev, *snext; /* in the worker's list of open streams */
};

enum { HSTREAM_NONE = 0, HSTREAM_OPEN = 1, HSTREAM_CLOSING = 2 };

/* Allocates a request whose arena fits lim->max_header_bytes. Never fails (xmalloc). */
struct hreq *hreq_new(const struct hlimits *lim);
void hreq_free(struct hreq *r);

/* The incremental parser of one connection. */
struct hparse {
    http_parser p;
    const struct hlimits *lim;
    struct hreq *req; /* filled by hparse_feed */
    size_t head_raw;  /* raw bytes of the current request seen before its headers ended */
    int last;         /* which callback ran last (URL, FIELD, VALUE), to join fragments */
    bool started;     /* the first byte of a request has been seen */
    bool headers_done;
    bool done;            /* a complete request is in req */
    bool expect_continue; /* headers asked for "Expect: 100-continue" and a body follows */
    bool line_seen;       /* the request line's first byte was scanned (line_scan) */
    bool line_done;       /* ... and its LF: the version token was checked */
    uint8_t tail_len;
    char tail[10];  /* the request line's last bytes scanned so far (" HTTP/1.1\r") */
    int err_status; /* 400, 413, 431 or 505 once hparse_feed failed */
    const char *err_detail;
};

/* Starts a connection's parser. */
void hparse_init(struct hparse *hp, const struct hlimits *lim);
/* Starts the next request into r (reset; r must have been made with the same limits). */
void hparse_begin(struct hparse *hp, struct hreq *r);
/* Feeds bytes. Returns 0 when a request is complete (*used: bytes consumed, the rest belongs to
 * the next request; call hparse_begin before feeding it), TANDEM_EAGAIN when every byte was
 * consumed and the request is not complete yet, or TANDEM_EPROTO when the bytes are not an
 * acceptable request: hp->err_status is then 400, 413, 431 or 505 and hp->err_detail says why;
 * the connection cannot continue. */
int hparse_feed(struct hparse *hp, const char *data, size_t len, size_t *used);

/* ---- response.c ----------------------------------------------------------------------------- */

/* A growable output buffer: bytes [off, len) are still to be sent. */
struct hbuf {
    char *p;
    size_t off, len, cap;
};
void hbuf_append(struct hbuf *b, const void *data, size_t n);
void hbuf_cleanup(struct hbuf *b);

/* Appends a whole response to out. date is the 29-byte IMF-fixdate; extra is
 * "Name: value\r\n"... (may be NULL). When close is true "Connection: close" is sent; when
 * keep_alive_10 is true "Connection: keep-alive" (HTTP/1.0 clients). head_only omits the body. */
struct hresp {
    int status;
    const char *content_type;
    const void *body;
    size_t body_len;
    const char *extra;
    size_t extra_len;
    bool close, keep_alive_10, head_only;
    uint8_t framing; /* HRESP_LENGTH (Content-Length), or a stream's: no length, and */
};
enum { HRESP_LENGTH = 0, HRESP_CHUNKED = 1, HRESP_TO_CLOSE = 2 }; /* chunked / up to the close */
void hresp_write(struct hbuf *out, const struct hresp *r, const char *date);
/* Writes the IMF-fixdate of unix time t ("Sun, 06 Nov 1994 08:49:37 GMT", 29 bytes + NUL). */
void hdate_format(char out[30], int64_t t);

/* ---- loop.c: what the worker's loop runs besides connections (tandem_loop_* in http.h) ------- */

#include <pthread.h>

/* The first byte of every object whose address is an epoll event's data.ptr in a worker. */
enum { HKIND_CONN = 0, HKIND_WATCH = 1 };

struct hwatch {
    uint8_t kind; /* HKIND_WATCH */
    bool dead;    /* deleted: freed by hloop_reap once the backend no longer refers to it */
    bool armed;   /* io_uring: a poll request for it is in flight */
    int fd, events;
    tandem_loop_fd_fn cb;
    void *arg;
    struct hwatch *next;
};

/* How a backend watches fds for the loop (epoll.c, uring.c); ctx is the loop's wctx. add and mod
 * return 0 or TANDEM_EIO; mod is called before w->events changes to events. busy: the backend
 * still refers to a deleted watch (its memory must stay). */
struct hwatch_ops {
    int (*add)(void *ctx, struct hwatch *w);
    int (*mod)(void *ctx, struct hwatch *w, int events);
    void (*del)(void *ctx, struct hwatch *w);
    bool (*busy)(const struct hwatch *w);
};

struct tandem_loop_timer {
    int64_t at; /* the loop's clock (ms) */
    bool due;   /* detached into the list being run */
    tandem_loop_fn cb;
    void *arg;
    struct tandem_loop_timer *prev, *next;
};

struct tandem_loop_hook {
    tandem_loop_fn cb;
    void *arg;
    struct tandem_loop_hook *prev, *next;
};

struct hpost {
    tandem_loop_fn cb;
    void *arg;
    struct hpost *next;
};

struct tandem_loop {
    int efd; /* the worker's eventfd (not owned) */
    const struct hwatch_ops *wops;
    void *wctx;
    int64_t now_ms; /* the worker's coarse monotonic clock, updated once per iteration */
    struct hwatch *watches, *dead_watches;
    struct tandem_loop_timer *timers, *timers_tail; /* sorted by at */
    struct tandem_loop_timer *due;                  /* being run by hloop_run_timers */
    struct tandem_loop_hook *hooks;
    pthread_mutex_t mu; /* guards the three fields below: the only state other threads touch */
    struct hpost *post_head, *post_tail;
    bool closed;
};

/* The loop of the calling worker thread (set by hworker_main), NULL elsewhere. */
extern _Thread_local struct tandem_loop *hloop_current;

void hloop_init(struct tandem_loop *l, int efd, const struct hwatch_ops *wops, void *wctx);
/* What happened to a watch's fd (TANDEM_LOOP_IN | OUT | ERR): runs its callback unless deleted. */
void hloop_watch_event(struct hwatch *w, int what);
/* Milliseconds until the first timer is due (0: due now), -1 when there is none. */
int64_t hloop_timeout(const struct tandem_loop *l);
/* Runs the timers due at l->now_ms (not those added meanwhile). */
void hloop_run_timers(struct tandem_loop *l);
/* Runs the callbacks posted so far (the worker's eventfd fired). */
void hloop_run_posts(struct tandem_loop *l);
/* Frees the deleted watches the backend no longer refers to. */
void hloop_reap(struct tandem_loop *l);
/* On the worker thread as its loop ends: refuses further posts, runs those accepted, then the
 * stop hooks. */
void hloop_stop(struct tandem_loop *l);
/* Frees whatever is left (timers, watches, hooks never run), after the worker thread ended. */
void hloop_cleanup(struct tandem_loop *l);

/* ---- worker.c: connections and the iteration; epoll.c, uring.c: the I/O backends ------------ */

#include <stdatomic.h>

#define HCONN_IN_CAP                                                          \
    16384 /* input a connection takes while it reads (a paused one may buffer \
             more under io_uring until its receive is cancelled) */

enum tlist { T_NONE, T_REQUEST, T_IDLE, T_LINGER, T_COUNT };

struct hconn {
    uint8_t kind; /* HKIND_CONN (0): epoll data.ptr of a connection or of a loop watch */
    struct hworker *w;
    int fd;
    uint64_t id;
    struct hparse hp;
    struct hreq *req; /* the request being parsed or at the handler; NULL when none yet */
    char *in;         /* unparsed bytes are in[in_off, in_len); capacity in_cap */
    size_t in_off, in_len, in_cap;
    struct hbuf out;  /* answers not handed to the kernel yet */
    struct hbuf wbuf; /* io_uring: the bytes of the send in flight (out is swapped in) */
    bool eof;         /* the peer closed: close once the answers are out (no lingering) */
    bool pending;     /* req is at the handler */
    bool closing;     /* no more requests: flush, then linger */
    bool lingering;
    bool dead; /* fd closed; memory freed at the end of the iteration (io_uring: once no
                  request in flight refers to it) */
    bool in_dispatch;
    /* epoll backend */
    bool rd_ready; /* the socket may hold unread bytes (edge seen, no short read since) */
    bool rd_hup;   /* the peer shut its write side: read on to EOF, short reads or not */
    /* io_uring backend */
    bool rd_armed;      /* a multishot receive is in flight (until its last completion) */
    bool rd_cancel;     /* its cancellation was asked for */
    bool rd_end;        /* the receive saw EOF: consumed (hconn_eof) when input is taken again */
    bool wr_busy;       /* a send of wbuf is in flight */
    bool zombie;        /* dead, in the worker's zombie list until its last completion */
    int ops;            /* requests in flight that name this connection */
    uint64_t sent;      /* bytes the kernel took (both backends count them) */
    uint64_t sent_mark; /* sent when the stream's blocked-output deadline was last set */
    enum tlist tl;
    int64_t deadline;
    struct hconn *tprev, *tnext; /* in the list tl */
    struct hconn *aprev, *anext; /* all live connections, the graveyard or the zombies */
    struct hconn *fnext;         /* in the worker's flush queue (when flush_queued) */
    bool flush_queued;
};

struct tlist_head {
    struct hconn *head, *tail;
};

struct hworker;

/* An I/O backend. Every function runs on the worker's thread except init and cleanup (the
 * thread that starts and stops the server).
 *   init     sets up the backend's kernel objects around w->lfd and w->efd; 0, TANDEM_EIO, or
 *            TANDEM_EUNSUPPORTED (io_uring refused: the caller falls back to epoll)
 *   start    on the worker thread before its first iteration
 *   wait     waits up to timeout_ms (-1: no limit) and handles what happened: accepts (through
 *            hconn_new/hconn_open), connection input (hconn_input / hconn_eof), completed
 *            writes (hconn_sent), watches (hloop_watch_event), the eventfd (hworker_wake_event)
 *   read     the connection takes input again (it paused, or it starts lingering)
 *   flush    hands c->out to the kernel; hconn_sent(c) once everything has been written
 *   close    gives up c->fd (c->dead is already set)
 *   busy     the kernel may still refer to c's memory (it is kept until this is false)
 *   unlisten closes w->lfd (drain)
 *   stop     on the worker thread after its last iteration: what it queued goes out, then
 *            nothing in the kernel refers to the worker's memory any more
 *   cleanup  frees the backend (after the thread ended) */
struct hio_ops {
    const char *name;
    int (*init)(struct hworker *w);
    void (*start)(struct hworker *w);
    void (*wait)(struct hworker *w, int timeout_ms);
    void (*read)(struct hconn *c);
    void (*flush)(struct hconn *c);
    void (*close)(struct hconn *c);
    bool (*busy)(const struct hconn *c);
    void (*unlisten)(struct hworker *w);
    void (*stop)(struct hworker *w);
    void (*cleanup)(struct hworker *w);
};
extern const struct hio_ops hio_epoll, hio_uring;

struct hserver_shared {
    struct tandem_http_config cfg; /* defaults filled in */
    struct hlimits lim;
};

struct huring; /* uring.c */

struct hworker {
    const struct hserver_shared *sh;
    const struct hio_ops *io;
    int index;
    int lfd, efd;
    int ep;            /* epoll backend: the epoll set */
    struct huring *ur; /* io_uring backend */
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
    struct hconn *all, *grave, *zombies;
    struct hconn *flushq;    /* answers to write at the end of this iteration */
    struct hreq *streams;    /* requests whose streamed answer is open (stream.c) */
    struct tandem_loop loop; /* watches, timers, posts, stop hooks (loop.c) */
};

/* Creates a worker around an already listening non-blocking socket (the worker owns it) on the
 * backend io. TANDEM_EUNSUPPORTED: io refused (the socket is still the caller's). */
int hworker_new(const struct hserver_shared *sh, int index, int listen_fd, const struct hio_ops *io,
                struct hworker **out);
/* The thread body: runs the loop until hworker_wake_stop. */
void *hworker_main(void *w);
/* Asks the worker's loop to drain: close its listening socket and idle connections, close the
 * others after their answer (thread-safe). hworker_conns: its open connections, as last
 * published by its loop (thread-safe). */
void hworker_wake_drain(struct hworker *w);
int hworker_conns(struct hworker *w);
/* Asks the worker's loop to stop (thread-safe). */
void hworker_wake_stop(struct hworker *w);
/* Closes every connection and frees the worker (after its thread was joined). */
void hworker_free(struct hworker *w);
/* Called by tandem_http_respond: queues the answer on req's connection. */
void hworker_answer(struct hreq *r, const struct hresp *resp);
/* The request on its connection is done (an answer, or a stream's end, was queued): its
 * connection parses the next one, or closes when close is true. */
void hconn_next(struct hconn *c, struct hreq *r, bool close);
/* Queues c to be written with the iteration's other answers (the flush queue). */
void hconn_queue_flush(struct hconn *c);

/* stream.c, for worker.c. hstream_gone: the connection of r's open stream is closing (the client
 * went away, or its output timed out: reason): r is unlinked, on_close and on_done run, r is
 * freed. hstream_finish: the server ends the open stream on c (drain, stop): the last chunk,
 * on_close(0), on_done; the connection closes after it. hstream_open: c's request has an open
 * stream (the connection then waits for its owner, reading nothing). */
void hstream_gone(struct hworker *w, struct hreq *r, int reason);
void hstream_finish(struct hconn *c);
bool hstream_open(const struct hconn *c);

/* For the backends (worker.c). */
/* A new connection on fd (accepted, non-blocking), in the idle list; NULL when the worker is at
 * max_connections or draining (the caller closes fd). */
struct hconn *hconn_new(struct hworker *w, int fd);
/* Frees a connection hconn_new made that the backend could not register (fd is the caller's). */
void hconn_discard(struct hconn *c);
size_t hconn_unsent(const struct hconn *c);
bool hconn_wants_input(const struct hconn *c);
/* Bytes were appended to c->in: parse and dispatch what can be. */
void hconn_input(struct hconn *c);
/* The peer closed its side and every byte before it was taken. */
void hconn_eof(struct hconn *c);
/* The peer shut its side (EPOLLRDHUP; a receive of 0 bytes), whatever is still unread: a
 * connection streaming an answer ends it (the client went away); no-op otherwise. */
void hconn_rdhup(struct hconn *c);
/* Closes c; an open stream on it ends with on_close(reason). hconn_close: reason
 * TANDEM_ECLOSED. */
void hconn_close_reason(struct hconn *c, int reason);
/* Everything queued was written: a closing connection shuts its write side and lingers. */
void hconn_sent(struct hconn *c);
/* After an event: queue the connection's answers for the end of the iteration, or re-derive
 * its timeout list. */
void hconn_settle(struct hconn *c);
void hconn_close(struct hconn *c);
/* A zombie's last request in flight completed: back to the graveyard, freed at the end of the
 * iteration. */
void hconn_unzombie(struct hconn *c);
/* The worker's eventfd fired (posts, stop and drain requests). */
void hworker_wake_event(struct hworker *w);

#endif
