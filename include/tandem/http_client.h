/*
 * tandem/http_client.h: libtandem's HTTP client (libcurl underneath).
 *
 * MODEL. No thread per request: every call is driven by an event loop through a curl multi
 * handle (curl_multi_socket_action), in one of two MODES, chosen by the thread that calls
 * tandem_http_call():
 *
 *   - LOOP MODE, on an HTTP worker thread (a handler, or any tandem_loop_* callback: wherever
 *     tandem_loop_current() is not NULL): the call runs on THAT WORKER'S OWN LOOP (its epoll set
 *     and timers; one curl multi per worker, made on its first call) and the callback runs on that
 *     worker thread, so the handler may answer its request from it (a service's tandem_respond_*,
 *     tandem/service.h) while the worker serves other connections meanwhile. When the server stops
 * (or the client is freed) first, calls still in flight end with TANDEM_ECLOSED, callback on the
 * worker.
 *   - THREAD MODE, from any other thread (main, a consumer handler, a callback of a thread-mode
 *     call): the client's own event thread runs the call and the callback runs on that thread.
 *     tandem_http_call_sync always uses this mode (it blocks its caller).
 *
 * Each driver keeps its multi handle's connection cache (keep-alive connections are reused
 * across calls to the same upstream); breakers and counters are per client, shared by every
 * driver. A callback never runs inside tandem_http_call. A call is one or more attempts:
 *
 *   - each attempt is bounded by timeout_ms, the whole call (attempts and the waits between
 *     them) by deadline_ms; no attempt starts or waits past the deadline;
 *   - only idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) are retried, on connection
 *     errors, timeouts and 502/503/504, and on 429 (after Retry-After when the answer has one);
 *     the wait before retry n is drawn uniformly from [0, min(backoff_max, backoff_base * 2^n))
 *     ("full jitter");
 *   - every upstream (scheme://host:port) has a circuit breaker: after breaker_failures
 *     consecutive failed attempts (transport error, timeout or 5xx) it opens and calls fail at
 *     once with TANDEM_EUNSUPPORTED; after breaker_cooldown_ms ONE probe attempt is let through
 *     (half-open); its success closes the breaker, its failure opens it for another cool-down.
 *
 * Every call carries a W3C traceparent header: a child (same trace id, new span id) of the
 * caller's traceparent, or a new trace when the caller has none; and the caller's request id as
 * X-Request-Id when it gives one. See docs/http-client.md.
 */
#ifndef TANDEM_HTTP_CLIENT_H
#define TANDEM_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tandem_http_client;

/* Every field 0 (or NULL) takes the default shown. */
struct tandem_http_client_config {
    int64_t connect_timeout_ms;  /* TCP (+TLS) connect, within an attempt (2000) */
    int64_t timeout_ms;          /* per attempt, when the call gives none (5000) */
    int64_t backoff_base_ms;     /* first retry waits up to this (50) */
    int64_t backoff_max_ms;      /* cap of one wait (2000) */
    int breaker_failures;        /* consecutive failed attempts that open a breaker (5) */
    int64_t breaker_cooldown_ms; /* how long an open breaker rejects calls (5000) */
    int max_host_connections;    /* connections per upstream (8) */
    size_t max_response_bytes;   /* body cap; above it the attempt fails TANDEM_ETOOLARGE (8 MiB) */
    int64_t free_wait_ms;        /* tandem_http_client_free waits this long for calls (2000) */
};

struct tandem_http_call_opts {
    const char *method;         /* "GET", "POST", ... (NULL: "GET") */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" strings, NULL-terminated array (NULL: none) */
    const void *body;           /* request body (NULL: none) */
    size_t body_len;
    int64_t timeout_ms;      /* per attempt (0: the client's timeout_ms) */
    int64_t deadline_ms;     /* whole call from submission, retries included (0: none) */
    int max_retries;         /* attempts after the first, idempotent methods only (0: none) */
    const char *traceparent; /* the caller's context (NULL or invalid: a new trace) */
    const char *request_id;  /* sent as X-Request-Id (tandem_request_id of the request being
                                served); NULL, or not tandem_request_id_valid: not sent */
};

/* What a finished call produced. Every pointer is borrowed: valid during the callback (or until
 * tandem_http_response_free for tandem_http_call_sync). */
struct tandem_http_response {
    int err;          /* 0 when an HTTP answer arrived (whatever its status); else TANDEM_ETIMEDOUT
                         (attempt timeout or deadline), TANDEM_EIO (connection refused/reset, no
                         answer), TANDEM_EUNSUPPORTED (breaker open), TANDEM_ETOOLARGE (body above
                         max_response_bytes), TANDEM_EINVAL (bad URL), TANDEM_ECLOSED (client freed) */
    int status;       /* HTTP status of the last attempt, 0 when none */
    const char *body; /* NUL-terminated, "" when none */
    size_t body_len;
    int attempts;            /* attempts made (0 when the breaker refused the first) */
    const char *traceparent; /* the value sent */
    const char *url;
};

/* The value of response header name (case-insensitive, first occurrence, surrounding blanks
 * removed) of the last attempt's answer, or NULL. Borrowed like the response. */
TANDEM_EXPORT const char *tandem_http_response_header(const struct tandem_http_response *r,
                                                      const char *name);

/* Completion callback: runs once per call, on the worker thread that made the call (loop mode)
 * or on the client thread (thread mode). It must not block for long (every other call, and in
 * loop mode every connection of the worker, waits) and must not call tandem_http_call_sync or
 * tandem_http_client_free; it may submit new calls with tandem_http_call (same mode). */
typedef void (*tandem_http_done_fn)(const struct tandem_http_response *r, void *arg);

/* Starts a client and its thread. cfg may be NULL (all defaults) and is copied. Returns 0,
 * TANDEM_EINVAL (a negative setting) or TANDEM_EIO (curl, epoll or thread set-up failed). */
TANDEM_EXPORT int tandem_http_client_new(const struct tandem_http_client_config *cfg,
                                         struct tandem_http_client **out);

/* Submits a call: in loop mode on an HTTP worker thread, in thread mode anywhere else (see
 * MODEL). Everything in opts is copied: it may be released when this returns. Returns 0 and cb
 * runs later exactly once (never before this returns), or returns TANDEM_EINVAL (no URL, a URL
 * curl cannot parse, a header with CR/LF, negative times) or TANDEM_ECLOSED (the client is being
 * freed, or the worker's loop is stopping) and cb never runs. Any thread. */
TANDEM_EXPORT int tandem_http_call(struct tandem_http_client *c,
                                   const struct tandem_http_call_opts *opts, tandem_http_done_fn cb,
                                   void *arg);

/* Blocking form: submits the call and waits on a condition variable until it has finished, so
 * it BLOCKS THE CALLING THREAD (an HTTP worker calling it serves nothing else meanwhile: set a
 * deadline). On 0, *out is the response (*out)->err included; free it with
 * tandem_http_response_free. Returns tandem_http_call's errors, or TANDEM_EINVAL when called on
 * the client thread (it would wait for itself). */
TANDEM_EXPORT int tandem_http_call_sync(struct tandem_http_client *c,
                                        const struct tandem_http_call_opts *opts,
                                        struct tandem_http_response **out);
TANDEM_EXPORT void tandem_http_response_free(struct tandem_http_response *r);

enum tandem_breaker_state {
    TANDEM_BREAKER_CLOSED = 0,
    TANDEM_BREAKER_OPEN = 1,
    TANDEM_BREAKER_HALF_OPEN = 2,
};

/* Counters of one upstream, since the client started. */
struct tandem_http_upstream_stats {
    char upstream[256]; /* "http://127.0.0.1:8101" */
    uint64_t calls;     /* calls finished */
    uint64_t retries;   /* attempts after the first */
    uint64_t failures;  /* calls finished with err != 0 or status >= 500 */
    uint64_t rejected;  /* calls the open breaker failed at once (also in failures) */
    int breaker;        /* enum tandem_breaker_state */
    int consecutive_failures;
};

/* Copies the stats of up to cap upstreams into out and sets *n to the number of upstreams known
 * (which may exceed cap). Any thread. For /metrics, see docs/http-client.md. */
TANDEM_EXPORT void tandem_http_client_stats(struct tandem_http_client *c,
                                            struct tandem_http_upstream_stats *out, size_t cap,
                                            size_t *n);

/* Stops the client: new calls are refused (TANDEM_ECLOSED); loop-mode calls still in flight
 * end at once with TANDEM_ECLOSED, each on its worker thread (free waits for that; stop the HTTP
 * server first to let them finish normally); thread-mode calls get up to free_wait_ms to finish,
 * then the rest are cancelled (their callbacks get TANDEM_ECLOSED, on the client thread); then
 * the thread is joined, every tandem_http_call_sync caller woken is
 * waited for until it no longer touches the client, and everything is freed. Must not be called
 * from a callback. NULL is ignored. */
TANDEM_EXPORT void tandem_http_client_free(struct tandem_http_client *c);

#ifdef __cplusplus
}
#endif
#endif
