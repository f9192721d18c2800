/*
 * tandem/pool.h: a bounded pool of threads for work that must not run on an event loop:
 * CPU-heavy work (password hashing: libsodium's argon2id takes tens of milliseconds) and calls
 * that block (a library without an asynchronous interface).
 *
 * MODEL. A fixed number of threads take jobs from one FIFO queue of bounded length. A job is
 * work(arg), run on a pool thread, then done(arg, status), run where the submitter can use the
 * result:
 *
 *   submitted on an HTTP worker thread (tandem_loop_current() != NULL): done runs ON THAT
 *       WORKER, posted to its loop (tandem_loop_post), between the requests it serves; so a
 *       handler answers its request from done, and the worker serves its other connections
 *       while the work runs;
 *   submitted on any other thread: done runs on the pool thread, right after work.
 *
 * done runs exactly once per accepted job, with status 0 (work ran) or TANDEM_ECLOSED (the job
 * was cancelled before it started: work never ran; see the drain and the loop's stop below).
 *
 * BOUNDED. A full queue refuses a job at once (TANDEM_EAGAIN): the caller answers 503 with
 * Retry-After rather than letting a backlog grow without end (the runtime's tandem_offload does).
 *
 * SHUTDOWN. tandem_pool_drain refuses new jobs, lets the queued and running ones finish within a
 * timeout, then cancels those still queued (their done gets TANDEM_ECLOSED, on their worker) and
 * waits for the running ones (work is never interrupted). When a worker's loop stops
 * (tandem_http_server_stop) while it has jobs in the pool, its stop hook cancels the ones still
 * queued and waits for the ones running, and runs all their done callbacks itself, on the worker,
 * while its requests can still be answered: done never runs after its worker is gone.
 *
 * Threads: submit, stats from any thread; drain and free from a thread that is not a pool thread
 * (and, for free, not inside a done callback).
 */
#ifndef TANDEM_POOL_H
#define TANDEM_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tandem_pool;

struct tandem_pool_config {
    int threads;  /* 0: one per online CPU (at most 256) */
    size_t queue; /* jobs waiting at most (running ones not counted); 0: 64 per thread */
};

typedef void (*tandem_pool_work_fn)(void *arg);
typedef void (*tandem_pool_done_fn)(void *arg, int status);

/* Starts the threads. Returns 0 and *out (free with tandem_pool_free), TANDEM_EINVAL (threads
 * outside 0..256) or TANDEM_EIO (a thread could not start). */
TANDEM_EXPORT int tandem_pool_new(const struct tandem_pool_config *cfg, struct tandem_pool **out);

/*
 * Queues work(arg) (required), then done(arg, status) (may be NULL) as described above. Returns
 * 0 (done will run exactly once), TANDEM_EAGAIN (the queue is full), TANDEM_ECLOSED (the pool is
 * draining) or TANDEM_EINVAL (work NULL); on an error neither callback ever runs.
 */
TANDEM_EXPORT int tandem_pool_submit(struct tandem_pool *p, tandem_pool_work_fn work,
                                     tandem_pool_done_fn done, void *arg);

/*
 * Refuses new jobs from now on, and waits up to timeout_ms (< 0: no limit) for the queue to empty
 * and the running jobs to end. Then cancels the jobs still queued (done(arg, TANDEM_ECLOSED):
 * posted to their worker, or run here for jobs submitted off a loop) and waits for the running
 * ones, however long they take. Returns 0, or TANDEM_ETIMEDOUT when it had to cancel. Done
 * callbacks posted to a worker run after this returns, on that worker.
 */
TANDEM_EXPORT int tandem_pool_drain(struct tandem_pool *p, int64_t timeout_ms);

/* Drains without a limit (every queued job runs), stops and joins the threads, detaches from the
 * workers' loops, frees p. NULL: no-op. */
TANDEM_EXPORT void tandem_pool_free(struct tandem_pool *p);

#define TANDEM_POOL_WAIT_BUCKETS 14

/* Counters since tandem_pool_new, and gauges now. */
struct tandem_pool_stats {
    int threads;
    uint64_t queued;    /* jobs waiting now */
    uint64_t running;   /* jobs in work() now */
    uint64_t completed; /* work() returned */
    uint64_t rejected;  /* refused: the queue was full */
    uint64_t cancelled; /* cancelled before they started (drain, a worker's loop stopping) */
    /* time from submission to a thread taking the job, in seconds: wait_buckets[i] counts the
     * waits <= tandem_pool_wait_bounds()[i] and above the bound before (not cumulative) */
    uint64_t wait_buckets[TANDEM_POOL_WAIT_BUCKETS];
    uint64_t wait_count;
    double wait_sum_s;
};

TANDEM_EXPORT void tandem_pool_stats(struct tandem_pool *p, struct tandem_pool_stats *out);

/* The upper bounds of the wait buckets, in seconds, increasing: 0.0005 0.001 0.0025 0.005 0.01
 * 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 (TANDEM_POOL_WAIT_BUCKETS of them; +Inf is wait_count). */
TANDEM_EXPORT const double *tandem_pool_wait_bounds(void);

/* ---- in a service (tandem/service.h; these are in libtandem's runtime) ---------------------
 *
 * The service has one pool, made at the first use with --pool-threads (TANDEM_POOL_THREADS; 0 =
 * one per CPU, the default) threads and a queue of --pool-queue (TANDEM_POOL_QUEUE; default 256)
 * jobs. At SIGTERM, after HTTP has drained (requests waiting for the pool are in flight, so the
 * HTTP drain waits for them within --drain-timeout), the pool drains with what is left of the
 * deadline: work still queued then is cancelled and its request answered 503, work running is
 * waited for; only then do the HTTP workers stop. Its series in /metrics:
 *
 *   tandem_pool_threads, tandem_pool_queued, tandem_pool_running            (gauges)
 *   tandem_pool_completed_total, tandem_pool_rejected_total, tandem_pool_cancelled_total
 *   tandem_pool_queue_wait_seconds (histogram)
 */
struct tandem_service;
struct tandem_http_request;

/* The service's pool (made at the first call), for code off the request path (a consumer's
 * handler hashing, say: done runs on the pool thread then). NULL once the drain has begun, or
 * when it cannot be made (logged). Thread-safe. */
TANDEM_EXPORT struct tandem_pool *tandem_service_pool(struct tandem_service *s);

/* done of tandem_offload: req to answer, or NULL when the runtime has answered it (503: the work
 * was cancelled by the drain) and only arg is left to free. */
typedef void (*tandem_offload_done_fn)(struct tandem_http_request *req, void *arg);

/*
 * From a handler (on req's worker): runs work(arg) on the service's pool, then done(req, arg) on
 * req's worker, where done answers req. Other requests of that worker are served meanwhile.
 * Returns 0 when accepted. Otherwise req has already been answered 503 with "Retry-After: 1"
 * (TANDEM_EAGAIN: the queue is full; TANDEM_ECLOSED: the service is shutting down), neither work
 * nor done will run, and the handler frees arg and returns. TANDEM_EINVAL: not called on a
 * worker thread, or req not a service's request (req answered 500).
 *
 *   static void hash_work(void *arg)   { struct signup *su = arg; crypto_pwhash_str(...); }
 *   static void hash_done(struct tandem_http_request *req, void *arg)
 *   {
 *       struct signup *su = arg;
 *       if (req != NULL) {
 *           ... insert the user, answer 201 ...
 *       }
 *       free(su);
 *   }
 *   ... in the handler:
 *   if (tandem_offload(req, hash_work, hash_done, su) != 0) {
 *       free(su); // answered 503
 *   }
 */
TANDEM_EXPORT int tandem_offload(struct tandem_http_request *req, tandem_pool_work_fn work,
                                 tandem_offload_done_fn done, void *arg);

#ifdef __cplusplus
}
#endif
#endif
