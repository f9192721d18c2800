/*
 * Private parts of libtandem's HTTP client (src/lib/client/).
 *
 * policy.c is pure (no curl, no clock reads): the retry rules, the backoff draw, Retry-After,
 * and the circuit breaker's state machine, all taking "now" as an argument so the unit tests
 * can drive them. call.c is a call's life (attempts, curl easy handle set-up, response capture,
 * completion), the same in both modes. A call is driven by a DRIVER: a curl multi handle, the
 * calls it owns and what wakes it. client.c is the thread driver (the client's own thread:
 * epoll + timerfds); loop.c makes one driver per HTTP worker loop that issues calls (the
 * worker's epoll, loop timers), created on the worker's first call.
 *
 * THREADS. A driver's fields are touched by the thread that runs it alone (the client thread,
 * or that worker). mu guards the submission queue, the stopping flag, the list of loop drivers,
 * the upstream list with its breakers and counters (shared by every driver, and read by
 * tandem_http_client_stats from any thread), and the done flags sync callers wait for on cond.
 */
#ifndef TANDEM_CLIENT_INT_H
#define TANDEM_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "tandem/http.h"
#include "tandem/http_client.h"
#include "tandem/trace.h"

/* --- policy.c ----------------------------------------------------------------------------- */

struct breaker {
    int state;            /* enum tandem_breaker_state */
    int consecutive;      /* failed attempts in a row (closed) */
    int64_t open_until;   /* monotonic ms; open until then */
    bool probe_in_flight; /* half-open: the one probe is out */
};

/* Whether an attempt may start now. 0: yes (*probe set when it is the half-open probe, which
 * the caller must report back with breaker_record); TANDEM_EUNSUPPORTED: open (or half-open
 * with its probe out), fail at once. An open breaker whose cool-down is over turns half-open. */
int breaker_admit(struct breaker *b, int64_t now, bool *probe);
/* Reports an admitted attempt's outcome. ok: an answer below 500. A failure while closed counts
 * towards threshold; the threshold-th opens for cooldown ms. The probe's success closes, its
 * failure reopens. A probe that was cancelled (aborted) reopens too. */
void breaker_record(struct breaker *b, bool ok, bool probe, int threshold, int64_t cooldown,
                    int64_t now);

/* GET, HEAD, PUT, DELETE, OPTIONS (RFC 9110 §9.2.2; TRACE is left out on purpose). */
bool method_idempotent(const char *method);
/* Whether an attempt's outcome may be retried: err TANDEM_EIO/TANDEM_ETIMEDOUT, or an answer
 * 429, 502, 503, 504. */
bool outcome_retryable(int err, int status);
/* Full jitter: uniform in [0, min(max, base * 2^retry)) ms; retry counts from 0. *rng is a
 * xorshift64 state (non-zero). */
int64_t backoff_delay(int64_t base, int64_t max, int retry, uint64_t *rng);
/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date (now_unix is the wall clock in
 * seconds). Returns the wait in ms (0 for a date in the past), or -1 when value is NULL or
 * malformed. */
int64_t retry_after_ms(const char *value, int64_t now_unix);

/* --- the client --------------------------------------------------------------------------- */

struct upstream {
    struct upstream *next;
    char key[256]; /* scheme://host:port */
    struct breaker br;
    uint64_t calls, retries, failures, rejected;
};

enum call_state { CALL_QUEUED, CALL_ACTIVE, CALL_WAITING };

struct call {
    struct tandem_http_response resp; /* first: tandem_http_response_free casts back */
    struct call *next, *prev;         /* queue (under mu) or the driver's live list */
    struct tandem_http_client *c;
    struct driver *d; /* set when the call is handed to its driver */
    struct upstream *up;
    CURL *easy;
    struct curl_slist *headers; /* the caller's + traceparent + "Expect:" */
    char *method, *url, *body;
    size_t body_len;
    char traceparent[TANDEM_TRACEPARENT_SIZE];
    char upstream_key[256];
    int64_t timeout_ms, deadline, retry_at; /* deadline/retry_at: monotonic ms, 0 = none */
    int max_retries;
    bool idempotent, probe, sync, done;
    enum call_state st;
    char *rbody; /* the answer being received: body and "name\0value\0" header pairs */
    size_t rlen, rcap, hlen, hcap;
    char *hbuf;
    bool too_large;
    tandem_http_done_fn cb;
    void *arg;
};

struct driver {
    struct tandem_http_client *c;
    CURLM *multi;
    struct call *live; /* every call the driver owns (active or waiting to retry) */
    uint64_t rng;      /* backoff jitter */
    /* loop drivers only (loop == NULL: the client thread's driver) */
    struct tandem_loop *loop;
    struct tandem_loop_timer *curl_timer, *retry_timer, *kick;
    struct tandem_loop_hook *hook;
    struct call *pending, *pending_tail; /* submitted, started at the next turn of the loop */
    bool closing;                        /* the loop or the client stops: no new calls */
    struct driver *next;                 /* the client's list of loop drivers (mu) */
};

struct tandem_http_client {
    struct tandem_http_client_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct call *queue_head, *queue_tail; /* submitted, not yet seen by the thread (mu) */
    bool stopping;                        /* (mu) */
    int sync_waiters; /* (mu) tandem_http_call_sync callers not yet out of mu: free waits */
    struct upstream *upstreams; /* (mu for reading from other threads) */
    int wake_fd;                /* eventfd: submissions and stop */
    struct driver *loops;       /* (mu) one driver per worker loop that made calls */
    /* client thread only */
    int epoll_fd, curl_timer_fd, retry_timer_fd;
    struct driver td; /* the client thread's driver */
    int64_t stop_at;  /* when stopping: cancel what is left at this monotonic ms */
};

/* call.c, on the client thread */
struct call *call_build(struct tandem_http_client *c, const struct tandem_http_call_opts *opts,
                        tandem_http_done_fn cb, void *arg, int *err);
void call_destroy(struct call *k);
/* Makes k one of its driver's live calls (once: its upstream is looked up then). */
void call_adopt(struct call *k);
void call_start_attempt(struct call *k);
void call_attempt_done(struct call *k, CURLcode code);
void call_finish(struct call *k, int err);

/* client.c, for both kinds of driver, on the driver's thread */
void driver_init(struct driver *d, struct tandem_http_client *c, CURLM *multi);
/* (Re)arms the driver's retry timer at its calls' earliest retry_at. */
void driver_arm_retry(struct driver *d);
/* Starts the attempts whose backoff is over. */
void driver_run_retries(struct driver *d);
/* Hands every transfer curl reports finished to its call. */
void driver_collect(struct driver *d);

/* loop.c: tandem_http_call on a worker thread; free's teardown of the loop drivers. */
int loop_submit(struct tandem_http_client *c, struct tandem_loop *l, struct call *k);
void loop_drivers_free(struct tandem_http_client *c);

#endif
