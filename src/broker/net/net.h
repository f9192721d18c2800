/*
 * net: the broker's I/O loop and its Kafka-framing TCP server.
 *
 * THE LOOP is Redis `ae`-sized: file-descriptor events (epoll, level-triggered), one-shot timers
 * (a min-heap), and a before-sleep hook. One iteration is
 *
 *     before-sleep hook(s) -> epoll_wait -> fd callbacks -> deferred frees -> due timers
 *
 * Everything runs on the thread that calls loop_run(); nothing here is thread-safe except
 * loop_stop(), which may be called from any thread or from a signal handler.
 *
 * THE SERVER accepts TCP connections and cuts each byte stream into Kafka frames:
 *
 *     OFFSET SIZE FIELD
 *     0      4    Size     INT32 big-endian: bytes that follow (Kafka protocol guide, "Common
 *                          Request and Response Structure"); negative or > max_frame_bytes
 *                          closes that connection
 *     4      Size body     one request (or, on the way out, one response)
 *
 * It knows nothing else of Kafka. Each complete request frame goes to handler->on_frame(). The
 * handler answers through "slots": conn_reserve() in request order, then conn_fill() (or
 * conn_cancel()) whenever the answer is ready, from any callback on the loop thread. Responses go
 * out in reservation order whatever order the slots are filled in (Kafka clients match responses
 * to requests by order on a connection as well as by correlation id).
 *
 * Lifetimes. A conn is reference-counted: the server holds one reference while the socket is
 * open; on_close() runs exactly once when the socket goes away, and the memory is freed when the
 * last reference drops (never during an fd-event batch, so stale events are harmless). A handler
 * that keeps a slot (or the conn pointer) beyond on_frame() takes conn_ref() and drops it with
 * conn_unref() after conn_fill()/conn_cancel().
 *
 * Backpressure. A conn stops reading while it has max_inflight slots reserved but not yet sent,
 * or more than max_queued_bytes of filled but unsent output, and resumes when it drains. Work per
 * connection per iteration is bounded (bytes read, frames handled, bytes written), so a fast
 * client cannot starve the others and a stuck one costs nothing but its memory.
 *
 * See docs/internals/net.md for the whole model.
 */
#ifndef TANDEM_NET_NET_H
#define TANDEM_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kw; /* base/kbuf.h */

/* ---- loop ------------------------------------------------------------------------------------ */

struct loop;
typedef void (*loop_cb)(void *arg);

/* Creates a loop (an epoll instance, an eventfd for loop_stop, an empty timer heap).
 * Returns 0, or TANDEM_EIO when the kernel refuses (errno is logged). */
int loop_new(struct loop **out);
/* Frees the loop. Timers still pending are dropped without running; fds still watched are not
 * closed (they belong to their owners). Servers must be freed first. NULL is a no-op. */
void loop_free(struct loop *l);
/* Runs iterations until loop_stop() is called; returns 0 (the stop request is consumed, so
 * loop_run() may be called again), or TANDEM_EIO if epoll_wait fails other than with EINTR. A
 * loop_stop() made before loop_run() makes it return after one iteration. */
int loop_run(struct loop *l);
/* Runs exactly one iteration, waiting at most max_wait_ms for events (-1: until the next timer
 * or event; 0: poll). For tests and embedders that step the loop. Returns 0, or TANDEM_EIO if
 * epoll_wait failed other than with EINTR. */
int loop_run_once(struct loop *l, int64_t max_wait_ms);
/* Asks loop_run() to return after the current iteration. Async-signal-safe and thread-safe: it
 * sets an atomic flag and writes the loop's own eventfd, which wakes epoll_wait. */
void loop_stop(struct loop *l);
/* CLOCK_MONOTONIC in milliseconds, read once per iteration (after epoll_wait returns) and
 * cached, so every callback of one iteration sees the same time. */
int64_t loop_now_ms(struct loop *l);
/* Same clock, read now (for measuring a callback's own duration). */
int64_t loop_clock_ms(void);

/* Schedules cb(arg) once, after_ms (>= 0; negative counts as 0) from loop_now_ms(). Timers due
 * at the same time fire in the order they were added; a timer added by a timer callback never
 * fires in the same iteration (so a 0 ms timer that re-arms itself cannot starve the loop).
 * Returns the timer's id (> 0, never reused by this loop). */
uint64_t loop_timer_add(struct loop *l, int64_t after_ms, loop_cb cb, void *arg);
/* Cancels a pending timer in O(log n). A no-op for 0, for an id that already fired or was
 * cancelled, and for an unknown id. Safe to call from any callback, including the timer's own. */
void loop_timer_cancel(struct loop *l, uint64_t id);
/* Number of pending timers (for tests and metrics). */
size_t loop_timer_count(const struct loop *l);

/* Calls on_readable(arg) whenever fd is readable (level-triggered: until it has been drained),
 * e.g. an eventfd another thread writes. One watch per fd. Returns 0, TANDEM_EEXIST if fd is
 * already watched, TANDEM_EIO if epoll refuses it. The loop never closes fd. */
int loop_watch_fd(struct loop *l, int fd, loop_cb on_readable, void *arg);
/* Stops watching fd (before its owner closes it). A no-op if fd is not watched. Safe from any
 * callback, including fd's own: an event already collected for it will not be delivered. */
void loop_unwatch_fd(struct loop *l, int fd);
/* Sets the hook run at the start of every iteration, before the loop may sleep (NULL removes
 * it). It runs before the servers flush their output, so responses it fills leave in the same
 * iteration. */
void loop_set_before_sleep(struct loop *l, loop_cb cb, void *arg);

/* ---- server ---------------------------------------------------------------------------------- */

struct server_config {
    const char *listen;       /* "127.0.0.1:9092", "[::1]:9092", "0.0.0.0:9092"; port 0 = kernel
                                 chooses (see server_port); a host name is resolved once */
    uint32_t max_frame_bytes; /* frames above this close the connection (0: 100 MiB) */
    int64_t idle_timeout_ms;  /* close connections idle this long (0: 600000; <0: never) */
    int max_connections;      /* accept and close at once beyond this (0: 10000) */
    size_t max_queued_bytes;  /* stop reading while unsent output exceeds this (0: 16 MiB) */
    int max_inflight;         /* stop reading while this many slots are unsent (0: 64) */
    /* Disposes of one splice's `ext` (a struct file_slice *, base/file_slice.h) once its bytes
     * were sent or will never be: the broker sets a function that calls log_slice_release(ext)
     * and then free(ext). NULL means free(ext) only (for slices that hold no segment reference,
     * e.g. in tests). Called on the loop thread, exactly once per splice. The net layer reads a
     * slice's fd, position and length and never knows who owns it, so it needs nothing of
     * storage. */
    void (*release)(void *ext);
};

/* Fills every field with its default (listen NULL). Fields left 0 in a config given to
 * server_new get the same defaults, so callers may also just zero the struct. */
void server_config_defaults(struct server_config *cfg);

struct server;
struct conn;

struct server_handler {
    /* One complete frame (without its size prefix). The bytes are borrowed until on_frame
     * returns, unless the handler calls conn_steal_frame(). Called on the loop thread, in the
     * order the frames arrived on the connection. */
    void (*on_frame)(struct conn *c, uint8_t *frame, size_t len, void *arg);
    /* Once per connection, when its socket has been closed (by the peer, an error, the idle
     * timeout, a limit, conn_close, or server_free). May be NULL. After it returns the conn is
     * only usable for conn_fill/conn_cancel/conn_unref and the accessors. */
    void (*on_close)(struct conn *c, void *arg);
};

/* Binds and listens on cfg->listen (SO_REUSEADDR, non-blocking, backlog SOMAXCONN), raises
 * RLIMIT_NOFILE to its hard limit, ignores SIGPIPE if it was at its default disposition (writes to
 * a reset peer must return EPIPE, not kill the broker), and starts accepting on loop l.
 * cfg and h are copied; arg is passed to the handler's callbacks. Returns 0, TANDEM_EINVAL (bad
 * address), TANDEM_EIO (bind/listen failed; errno logged). */
int server_new(struct loop *l, const struct server_config *cfg, const struct server_handler *h,
               void *arg, struct server **out);
/* The bound port (useful after listening on port 0). */
int server_port(const struct server *s);
/* Closes the listening socket; existing connections are untouched. Idempotent. */
void server_stop_accepting(struct server *s);
/* Number of open connections. */
int server_conn_count(const struct server *s);
/* Stops accepting, closes every connection (on_close fires for each) and frees the server.
 * Call it outside loop_run() (after it returned), never from a callback. Conns still referenced
 * by the handler stay valid (closed) until their last conn_unref(). NULL is a no-op. */
void server_free(struct server *s);

/* ---- connections and response slots --------------------------------------------------------- */

struct conn_slot;

/* Reserves the next response position on c. Call it from on_frame, in request order (a slot
 * reserved later is sent later). Never fails; on a closed conn it returns a slot that
 * conn_fill/conn_cancel simply dispose of. The slot must be filled or cancelled exactly once. */
struct conn_slot *conn_reserve(struct conn *c);
/* Fills a slot with one response frame. The conn adds the 4-byte size prefix; the body is w's
 * bytes interleaved with w's splices: w->buf[0..splices[0].at), then splices[0].ext_len bytes of
 * splices[0].ext (a struct file_slice *: ext_len bytes of file fd from offset pos, sent with
 * sendfile(2)), then w->buf[splices[0].at..splices[1].at), ... and the rest of w->buf. The conn
 * takes ownership of w's buffer and splice array and of every ext (disposed of through
 * server_config.release after sending); w is left zeroed, i.e. empty and re-usable (kw_* calls
 * grow it again; kw_cleanup on it is a harmless no-op). Filling a slot of a closed conn just
 * disposes of everything. The bytes leave at the next flush (in this iteration). A file shorter
 * than a splice promises closes the connection (the frame cannot be completed). */
void conn_fill(struct conn *c, struct conn_slot *s, struct kw *w);
/* Gives up a slot: no response for this request (acks=0 Produce). Later slots are not held
 * back by it. */
void conn_cancel(struct conn *c, struct conn_slot *s);

/* Keep c's memory alive (e.g. while a slot is pending); balance each conn_ref with conn_unref. */
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);
/* True once the socket is closed or a close has been requested. */
bool conn_is_closed(const struct conn *c);
/* Graceful close: nothing more is read (frames already buffered are dropped), responses to the
 * slots already reserved are still sent once filled, then the socket closes and on_close fires.
 * Safe from inside on_frame (the frame loop stops after it returns). */
void conn_close(struct conn *c);
/* Immediate close: unsent output is dropped. Safe from inside on_frame (takes effect when
 * on_frame returns); otherwise on_close fires before conn_abort returns. */
void conn_abort(struct conn *c);
void conn_set_data(struct conn *c, void *data);
void *conn_data(const struct conn *c);
/* A server-wide unique id, starting at 1. */
uint64_t conn_id(const struct conn *c);
/* The peer address, "127.0.0.1:53211" or "[::1]:53211"; valid as long as c. */
const char *conn_peer(const struct conn *c);
/* Inside on_frame only: hands the frame's bytes to the caller, who frees them with free().
 * A frame whose body is larger than 32 KiB was read into its own buffer and is handed over
 * without a copy: the returned pointer is the very pointer on_frame got. A smaller one shares
 * the conn's read buffer and is copied into a fresh allocation (returned; the on_frame pointer
 * stays borrowed). Returns NULL outside on_frame or when called twice for one frame. */
uint8_t *conn_steal_frame(struct conn *c);
/* Filled-but-unsent bytes (prefixes and splices included) and reserved-but-unsent slots, for
 * metrics and tests. */
size_t conn_unsent_bytes(const struct conn *c);
int conn_inflight(const struct conn *c);

#endif
