/*
 * http_int.h: the private pieces of libtandem's HTTP server core, bottom-up.
 *
 *   parse.c     bytes -> one request (Debian's http-parser, nodejs/http-parser 2.9, does the
 *               HTTP/1.1 grammar; this file assembles the request object and enforces the
 *               limits). Pure: no sockets, no clocks; the fuzz target drives it directly.
 *   response.c  one answer -> bytes (status line, headers, body; problem+json bodies).
 *   worker.c    one thread: an epoll loop, its listening socket, its connections, timeouts.
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
};

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
    int err_status;       /* 400, 413 or 431 once hparse_feed failed */
    const char *err_detail;
};

/* Starts a connection's parser. */
void hparse_init(struct hparse *hp, const struct hlimits *lim);
/* Starts the next request into r (reset; r must have been made with the same limits). */
void hparse_begin(struct hparse *hp, struct hreq *r);
/* Feeds bytes. Returns 0 when a request is complete (*used: bytes consumed, the rest belongs to
 * the next request; call hparse_begin before feeding it), TANDEM_EAGAIN when every byte was
 * consumed and the request is not complete yet, or TANDEM_EPROTO when the bytes are not an
 * acceptable request: hp->err_status is then 400, 413 or 431 and hp->err_detail says why; the
 * connection cannot continue. */
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
};
void hresp_write(struct hbuf *out, const struct hresp *r, const char *date);
/* Formats the RFC 9457 body for status (detail JSON-escaped, NULL omits it) into buf; returns
 * its length (truncated to cap - 1, always NUL-terminated). */
size_t hproblem_format(char *buf, size_t cap, int status, const char *detail);
/* The reason phrase of a status ("Not Found"), "Unknown" if none. (tandem_core has the public
 * tandem_http_reason; this core does not depend on it.) */
const char *hreason(int status);
/* Writes the IMF-fixdate of unix time t ("Sun, 06 Nov 1994 08:49:37 GMT", 29 bytes + NUL). */
void hdate_format(char out[30], int64_t t);

/* ---- loop.c: what the worker's loop runs besides connections (tandem_loop_* in http.h) ------- */

#include <pthread.h>

/* The first byte of every object whose address is an epoll event's data.ptr in a worker. */
enum { HKIND_CONN = 0, HKIND_WATCH = 1 };

struct hwatch {
    uint8_t kind; /* HKIND_WATCH */
    bool dead;    /* deleted: freed by hloop_reap at the end of the iteration */
    int fd, events;
    tandem_loop_fd_fn cb;
    void *arg;
    struct hwatch *next;
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
    int ep, efd;    /* the worker's epoll set and eventfd (not owned) */
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

void hloop_init(struct tandem_loop *l, int ep, int efd);
/* An epoll event of a watch (data.ptr was w). */
void hloop_watch_event(struct hwatch *w, uint32_t events);
/* Milliseconds until the first timer is due (0: due now), -1 when there is none. */
int64_t hloop_timeout(const struct tandem_loop *l);
/* Runs the timers due at l->now_ms (not those added meanwhile). */
void hloop_run_timers(struct tandem_loop *l);
/* Runs the callbacks posted so far (the worker's eventfd fired). */
void hloop_run_posts(struct tandem_loop *l);
/* Frees the watches deleted in this iteration. */
void hloop_reap(struct tandem_loop *l);
/* On the worker thread as its loop ends: refuses further posts, runs those accepted, then the
 * stop hooks. */
void hloop_stop(struct tandem_loop *l);
/* Frees whatever is left (timers, watches, hooks never run), after the worker thread ended. */
void hloop_cleanup(struct tandem_loop *l);

/* ---- worker.c ------------------------------------------------------------------------------- */

struct hworker;
struct hserver_shared {
    struct tandem_http_config cfg; /* defaults filled in */
    struct hlimits lim;
};
/* Creates a worker around an already listening non-blocking socket (the worker owns it). */
int hworker_new(const struct hserver_shared *sh, int index, int listen_fd, struct hworker **out);
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

#endif
