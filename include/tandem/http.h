/*
 * tandem/http.h: libtandem's HTTP/1.1 server core.
 *
 * MODEL. A server owns N worker threads. Each worker has its own epoll loop and its own
 * listening socket, bound with SO_REUSEPORT to the same address and port, so the kernel spreads
 * new connections across workers and a connection lives on one thread for its whole life:
 * nothing on the request path is shared or locked.
 *
 * A connection carries requests one after another (keep-alive); a client may pipeline them
 * (send several before reading). The server parses one request, hands it to the handler, and
 * only parses the next once the handler has answered, so responses always leave in request
 * order. A handler answers with tandem_http_respond(), either before it returns or later from
 * the same worker thread: the request object stays valid until it has been answered, even if the
 * client has gone away meanwhile. tandem_http_respond and tandem_http_add_header are this core's
 * one primitive, for a program that embeds the core alone (a benchmark server, a test; a problem
 * body for it comes from tandem/problem.h's tandem_problem_body). A service built on libtandem's
 * runtime answers with tandem/service.h's tandem_respond_* set instead, which is built on them.
 *
 * An answer may also stay open and be written piece by piece (tandem_http_stream_*, below:
 * chunked, with back-pressure; server-sent events are built on it in service.h).
 *
 * Errors the core detects itself are answered with an RFC 9457 application/problem+json body
 * and the connection is closed: 400 malformed request (RFC 9112 strictly: no white space before
 * a field's colon, exactly one Host in HTTP/1.1, HTTP/1.0 or 1.1 only), 408 request not complete
 * within request_timeout_ms (slowloris), 413 body above max_body_bytes (a chunk at its size
 * line), 431 request line + headers above max_header_bytes, 505 another major HTTP version. A
 * connection with no request in progress is closed silently after
 * idle_timeout_ms. See docs/internals/http.md.
 *
 * Code that must wait (for another service, a timer) without blocking the worker uses the
 * worker's loop (tandem_loop_* below): the HTTP client does, when it is called from a worker.
 */
#ifndef TANDEM_HTTP_H
#define TANDEM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tandem_http_server;

/* The request view a handler gets. Every string is NUL-terminated and borrowed from the request
 * object: valid until the request has been answered. */
struct tandem_http_request {
    const char *method; /* "GET", "POST", ... as sent (upper case) */
    const char *path;   /* "/users/42" (the target before '?', not percent-decoded) */
    const char *query;  /* "a=1&b=2" (after '?', without it), "" when there is none */
    const char *body;   /* the body (chunked bodies de-chunked), NUL-terminated; "" if none */
    size_t body_len;
    int http_minor;   /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    uint64_t conn_id; /* unique per worker, for logs */
    int worker;       /* 0 .. workers-1: the worker thread this request runs on */
    void *user;       /* free for the application (libtandem's runtime keeps its per-request
                         context here); NULL when the handler is called */
};

/* Called on the worker thread for each complete request. The handler must answer it exactly
 * once, now or later on the same thread (see tandem_http_respond). */
typedef void (*tandem_http_handler_fn)(struct tandem_http_request *req, void *arg);

/* How the workers do their I/O (tandem_http_config.io). */
enum {
    TANDEM_HTTP_IO_DEFAULT = 0, /* the environment variable TANDEM_HTTP_IO ("epoll" or "uring"),
                                   else epoll */
    TANDEM_HTTP_IO_EPOLL = 1,   /* edge-triggered epoll, recv and send system calls */
    TANDEM_HTTP_IO_URING = 2,   /* io_uring (Linux 6.1+): multishot accept and receive, sends
                                   batched into one io_uring_enter per loop iteration; epoll when
                                   the kernel refuses io_uring (logged once) */
};

struct tandem_http_config {
    const char *host;           /* address to bind, "127.0.0.1" (NULL: "127.0.0.1") */
    int port;                   /* 0: the kernel chooses one (see tandem_http_server_port) */
    int workers;                /* worker threads (0: one per online CPU) */
    size_t max_header_bytes;    /* request line + headers; above: 431 (0: 8192) */
    size_t max_body_bytes;      /* above: 413 (0: 1 MiB) */
    int64_t request_timeout_ms; /* first byte of a request to its last; above: 408 (0: 10000) */
    int64_t idle_timeout_ms;    /* keep-alive connection with no request (0: 60000) */
    int max_connections;        /* per worker; beyond it new connections are closed (0: 10000) */
    tandem_http_handler_fn handler;
    void *arg;
    /* Optional (NULL: none). Called on the worker thread exactly once for every request that
     * reached the handler: when it is answered (status = the answer's status, before the answer
     * is written, so tandem_http_add_header still works; the connection may be gone already) or
     * when it is dropped unanswered by tandem_http_server_stop (status 0). Lets a runtime count,
     * time and log every answer and free what it hung on req->user. */
    void (*on_done)(struct tandem_http_request *req, int status, void *arg);
    /* Optional (NULL: none). Called on the worker thread (index worker) each time the core answers
     * a request itself, before any handler saw it: 400 malformed, 408 not complete in time, 413
     * body too large, 431 headers too large, 505 HTTP version not supported. Lets a runtime count
     * those answers too. */
    void (*on_error)(int worker, int status, void *arg);
    int io; /* TANDEM_HTTP_IO_*; every behaviour is the same on each (see docs/internals/http.md) */
    /* Bytes a connection may hold unsent while it streams an answer (tandem_http_stream_write):
     * a write that would queue more is refused with TANDEM_EAGAIN (0: 64 KiB). */
    size_t max_stream_queue;
};

/* Binds cfg->workers listening sockets and starts the workers. cfg is copied. Returns 0,
 * TANDEM_EINVAL (no handler, bad host, bad io or TANDEM_HTTP_IO value), TANDEM_EIO
 * (socket/bind/listen/thread failed). */
TANDEM_EXPORT int tandem_http_server_start(const struct tandem_http_config *cfg,
                                           struct tandem_http_server **out);
/* The bound port. */
TANDEM_EXPORT int tandem_http_server_port(const struct tandem_http_server *s);
/* The I/O backend the workers use: TANDEM_HTTP_IO_EPOLL or TANDEM_HTTP_IO_URING (never DEFAULT;
 * EPOLL when io_uring was asked for and refused). */
TANDEM_EXPORT int tandem_http_server_io(const struct tandem_http_server *s);
/* Graceful drain (for SIGTERM): every worker stops accepting (its listening socket is closed),
 * closes its idle connections and lets the others finish the request they are receiving or that
 * is at the handler; each answer from then on carries "Connection: close". Returns 0 once every
 * connection is closed, or TANDEM_ETIMEDOUT after timeout_ms with some still open. Call
 * tandem_http_server_stop afterwards in either case (it drops what is left). Not from a worker. */
TANDEM_EXPORT int tandem_http_server_drain(struct tandem_http_server *s, int64_t timeout_ms);
/* Stops every worker, closes every connection, joins the threads and frees the server. Requests
 * not yet answered are dropped (their memory freed). Call it from a thread that is not a worker.
 * NULL is a no-op. */
TANDEM_EXPORT void tandem_http_server_stop(struct tandem_http_server *s);

/* Case-insensitive header lookup; returns the value of the first header named name (leading and
 * trailing white space removed) or NULL. Borrowed like the request's strings. */
TANDEM_EXPORT const char *tandem_http_header(const struct tandem_http_request *req,
                                             const char *name);

/* Adds a response header for the coming tandem_http_respond (Content-Length, Date, Server and
 * Connection are written by the core). name and value are copied. Returns 0, TANDEM_EINVAL (CR
 * or LF in either: header injection) or TANDEM_ETOOLARGE (more than 4 KiB of extra headers). */
TANDEM_EXPORT int tandem_http_add_header(struct tandem_http_request *req, const char *name,
                                         const char *value);

/* Answers req: status line, headers, Content-Type (if content_type is not NULL) and body (body
 * is copied; omitted for HEAD, whose Content-Length is still body_len; omitted with no
 * Content-Length at all for 204 and 304, RFC 9110 §8.6). Afterwards req is gone.
 * Must run on req's worker thread. Returns 0 or TANDEM_EINVAL (status outside 100..599). */
TANDEM_EXPORT int tandem_http_respond(struct tandem_http_request *req, int status,
                                      const char *content_type, const void *body, size_t body_len);

/* ---- streamed answers -----------------------------------------------------------------------
 *
 * An answer that stays open and is written piece by piece (server-sent events, a long export):
 * tandem_http_stream_begin sends the status line and headers, tandem_http_stream_write sends
 * pieces, tandem_http_stream_end finishes it. To an HTTP/1.1 client the body is chunked
 * (Transfer-Encoding: chunked, RFC 9112 section 7.1) and the connection carries on afterwards
 * (keep-alive, pipelined requests waiting meanwhile); to an HTTP/1.0 client the body ends with
 * the connection (no Content-Length, Connection: close). Every call runs on req's worker thread,
 * like tandem_http_respond; other threads hand data to it with tandem_loop_post.
 *
 * A stream ends in exactly one of two ways. Either its owner calls tandem_http_stream_end, or the
 * core ends it and calls on_close(req, reason, arg) on the worker thread, once:
 *   TANDEM_ECLOSED     the client went away (it closed its side, or the connection failed);
 *   TANDEM_ETIMEDOUT   the client read nothing for idle_timeout_ms while bytes were waiting;
 *   0                  the server ended it: a drain (tandem_http_server_drain: the last chunk is
 *                      sent and the connection closes, so an SSE client reconnects elsewhere) or
 *                      tandem_http_server_stop (on the worker, before its stop hooks run).
 * After on_close returns, req is gone: the owner drops every reference to it there (inside
 * on_close, write and end answer TANDEM_ECLOSED and do nothing). The config's on_done runs once
 * for a streamed request too, when the stream ends (after on_close), with the stream's status.
 */
typedef void (*tandem_http_stream_close_fn)(struct tandem_http_request *req, int reason, void *arg);

/* Begins a streamed answer to req: the status line, the headers added so far
 * (tandem_http_add_header), Content-Type (when not NULL) and the framing above. on_close (may be
 * NULL) and arg as above. Returns 0: the stream is open (write, then end). Otherwise there is no
 * stream and req is gone (on_close never runs):
 *   TANDEM_ECLOSED  the answer is complete already: a HEAD request (the head was sent, no body),
 *                   a server draining or stopping (the head and the last chunk were sent: a
 *                   client may come back), or a client that has gone away (or shut its side);
 * or req is still to be answered: TANDEM_EINVAL (status outside 200..599, or 204 or 304, which
 * have no body; req already answered; not on req's worker thread). */
TANDEM_EXPORT int tandem_http_stream_begin(struct tandem_http_request *req, int status,
                                           const char *content_type,
                                           tandem_http_stream_close_fn on_close, void *arg);

/* Queues data[0..len) (copied) as the next piece of req's stream; it goes out at the end of the
 * loop's current step. A piece is queued whole or not at all. Returns 0 (len 0: nothing sent),
 * TANDEM_EAGAIN (the connection holds too many unsent bytes already: max_stream_queue; drop the
 * piece or try later: the client reads slowly), TANDEM_ETOOLARGE (the piece alone is larger than
 * max_stream_queue), TANDEM_ECLOSED (inside on_close) or TANDEM_EINVAL (req has no open
 * stream, or not on its worker thread). */
TANDEM_EXPORT int tandem_http_stream_write(struct tandem_http_request *req, const void *data,
                                           size_t len);

/* Bytes of req's connection not yet taken by the kernel (0 without an open stream). */
TANDEM_EXPORT size_t tandem_http_stream_queued(const struct tandem_http_request *req);

/* Ends req's stream: the last chunk (HTTP/1.1; an HTTP/1.0 connection closes), then on_done; the
 * connection goes on with the next request as after any answer. on_close does not run.
 * Afterwards req is gone. Returns 0, TANDEM_ECLOSED (inside on_close: nothing done) or
 * TANDEM_EINVAL (no open stream, or not on its worker thread). */
TANDEM_EXPORT int tandem_http_stream_end(struct tandem_http_request *req);

/* ---- the worker's event loop ----------------------------------------------------------------
 *
 * Each worker's epoll loop is open to code that has to wait for something without blocking the
 * worker: a file descriptor (a socket of a library such as libcurl), a timer, or a callback posted
 * from another thread. Every callback below runs ON THAT WORKER'S THREAD, between the requests it
 * serves, so it may answer a deferred request (tandem_http_respond) and must not block. A loop
 * lives as long as its worker: from tandem_http_server_start to the end of
 * tandem_http_server_stop (the loop stops, then runs its stop hooks, then is freed). */
struct tandem_loop;
struct tandem_loop_timer;

/* The loop of the calling thread when it is an HTTP worker (inside a handler or any loop
 * callback), NULL on any other thread. */
TANDEM_EXPORT struct tandem_loop *tandem_loop_current(void);

enum { TANDEM_LOOP_IN = 1, TANDEM_LOOP_OUT = 2, TANDEM_LOOP_ERR = 4 };
typedef void (*tandem_loop_fn)(void *arg);
typedef void (*tandem_loop_fd_fn)(int fd, int events, void *arg);

/* Watches fd (level-triggered) for events (TANDEM_LOOP_IN | TANDEM_LOOP_OUT; ERR is always
 * reported): cb(fd, what happened, arg) runs while the condition holds. Setting a watched fd
 * again replaces its events, cb and arg. The caller keeps owning fd; call tandem_loop_fd_del
 * before closing it. Worker thread only. Returns 0, TANDEM_EINVAL (not this thread's loop, bad
 * fd) or TANDEM_EIO (epoll refused it). */
TANDEM_EXPORT int tandem_loop_fd_set(struct tandem_loop *l, int fd, int events,
                                     tandem_loop_fd_fn cb, void *arg);
/* Stops watching fd (no callback for it runs afterwards, not even one already collected).
 * Returns 0 or TANDEM_ENOENT. Worker thread only. */
TANDEM_EXPORT int tandem_loop_fd_del(struct tandem_loop *l, int fd);

/* One-shot timer: cb(arg) runs once, ms milliseconds from now (0: at the next turn of the loop,
 * never inside this call); resolution is the loop's clock, a few ms. *out (may be NULL) is valid
 * until the callback starts or the timer is cancelled. Worker thread only. Returns 0 or
 * TANDEM_EINVAL. */
TANDEM_EXPORT int tandem_loop_timer_add(struct tandem_loop *l, int64_t ms, tandem_loop_fn cb,
                                        void *arg, struct tandem_loop_timer **out);
/* Cancels a timer that has not fired (its callback never runs). Worker thread only. */
TANDEM_EXPORT void tandem_loop_timer_cancel(struct tandem_loop *l, struct tandem_loop_timer *t);

/* The loop of worker index (0 .. workers-1) of s, for tandem_loop_post from any thread; NULL for
 * an index out of range. Valid until tandem_http_server_stop. */
TANDEM_EXPORT struct tandem_loop *tandem_http_server_loop(struct tandem_http_server *s, int index);

/* From ANY thread: cb(arg) runs once on l's worker thread, soon (posts run in order). Returns 0,
 * or TANDEM_ECLOSED when the loop has stopped (cb never runs). A post accepted before the loop
 * stops always runs, before the stop hooks. */
TANDEM_EXPORT int tandem_loop_post(struct tandem_loop *l, tandem_loop_fn cb, void *arg);

/* Registers cb(arg) to run on the worker thread when its loop stops (tandem_http_server_stop),
 * after the last posted callback and before the worker's connections are closed, so requests
 * still held may be answered from it. *out identifies the hook for tandem_loop_on_stop_cancel.
 * Worker thread only. Returns 0 or TANDEM_EINVAL. */
struct tandem_loop_hook;
TANDEM_EXPORT int tandem_loop_on_stop(struct tandem_loop *l, tandem_loop_fn cb, void *arg,
                                      struct tandem_loop_hook **out);
TANDEM_EXPORT void tandem_loop_on_stop_cancel(struct tandem_loop *l, struct tandem_loop_hook *h);

#ifdef __cplusplus
}
#endif
#endif
