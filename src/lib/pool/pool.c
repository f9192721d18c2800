/*
 * pool.c: tandem/pool.h, a fixed set of threads over one bounded FIFO of jobs, whose results go
 * back to the HTTP worker that submitted them.
 *
 * MODEL. Everything shared is under one mutex (mu): the queue, the counts, the loop records. A
 * job submitted on a worker carries that worker's loop record (struct loop_rec, one per loop
 * that ever submitted, made at its first job together with a stop hook on that loop). When a
 * job's work returns, the pool thread posts the job to its loop (tandem_loop_post), where
 * deliver() runs done and frees the job. The lock order is mu, then the loop's own lock inside
 * tandem_loop_post; no loop callback of ours takes mu while the loop holds its lock.
 *
 * A LOOP STOPPING. A stopping loop refuses posts, then runs its stop hooks, then is freed with
 * its requests. Our hook (loop_stopped, on that worker): marks the record stopping (pool threads
 * then park finished jobs on the record instead of posting), takes the record's queued jobs out
 * of the queue (cancelled), waits until none of its jobs is running, marks it dead, and runs the
 * done callbacks of the cancelled and parked jobs right there, on the worker, before its
 * connections close. So done always runs on its worker, and nothing posts to a loop once it is
 * gone. A dead record is revived if a new loop turns up at the same address.
 *
 * INVARIANTS (under mu): queued == length of the queue <= cap, except that cancelled jobs leave
 * it at once; running == jobs between being taken and their delivery; rec->running counts the
 * running jobs of a record; a record is dead only with rec->running == 0 and nothing parked.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tandem/http.h"
#include "tandem/pool.h"

static const double WAIT_BOUNDS[TANDEM_POOL_WAIT_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct loop_rec;

struct job {
    struct job *next;
    tandem_pool_work_fn work;
    tandem_pool_done_fn done;
    void *arg;
    struct loop_rec *rec; /* NULL: submitted off a loop */
    int status;           /* 0, or TANDEM_ECLOSED when cancelled */
    int64_t queued_ns;
};

struct loop_rec {
    struct tandem_pool *pool;
    struct tandem_loop *loop;
    struct tandem_loop_hook *hook;
    int running;        /* its jobs in work() now */
    bool stopping;      /* its stop hook is running: park, do not post */
    bool dead;          /* the hook ran (or the pool detached): nothing more for this loop */
    struct job *parked; /* finished or cancelled while the loop took no posts */
};

struct tandem_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job queued, or stop */
    pthread_cond_t idle_cv; /* a job finished or left the queue; a record died */
    pthread_t *threads;
    int nthreads;
    struct job *head, *tail;
    size_t queued, cap;
    int running;
    bool closing, stop;
    struct loop_rec **recs;
    size_t nrecs;
    uint64_t completed, rejected, cancelled;
    uint64_t wait_buckets[TANDEM_POOL_WAIT_BUCKETS], wait_count;
    double wait_sum_s;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const double *tandem_pool_wait_bounds(void)
{
    return WAIT_BOUNDS;
}

/* ---- delivery -------------------------------------------------------------------------------- */

/* On the job's worker (a post), or on its own thread for a job off a loop: done, then free. */
static void deliver(void *arg)
{
    struct job *j = arg;
    if (j->done != NULL) {
        j->done(j->arg, j->status);
    }
    free(j);
}

static void deliver_list(struct job *j)
{
    while (j != NULL) {
        struct job *next = j->next;
        deliver(j);
        j = next;
    }
}

/*
 * A job is finished (ran, or was cancelled) (mu held). A job of a live loop is posted to it, or
 * parked on its record when the loop takes no more posts; a job off a loop is delivered here, mu
 * released meanwhile (so done may submit).
 */
static void finish(struct tandem_pool *p, struct job *j)
{
    struct loop_rec *r = j->rec;
    if (r == NULL) {
        pthread_mutex_unlock(&p->mu);
        deliver(j);
        pthread_mutex_lock(&p->mu);
        return;
    }
    if (r->stopping || tandem_loop_post(r->loop, deliver, j) != 0) {
        j->next = r->parked; /* the loop's stop hook delivers it, on the worker */
        r->parked = j;
    }
}

/* ---- the threads ----------------------------------------------------------------------------- */

static void count_wait(struct tandem_pool *p, int64_t queued_ns)
{
    double s = (double)(mono_ns() - queued_ns) / 1e9;
    int b = 0;
    while (b < TANDEM_POOL_WAIT_BUCKETS && s > WAIT_BOUNDS[b]) {
        b++;
    }
    if (b < TANDEM_POOL_WAIT_BUCKETS) {
        p->wait_buckets[b]++;
    }
    p->wait_count++;
    p->wait_sum_s += s;
}

static void *pool_thread(void *arg)
{
    struct tandem_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stop) {
            pthread_cond_wait(&p->work_cv, &p->mu);
        }
        struct job *j = p->head;
        if (j == NULL) {
            break; /* stop, and nothing left */
        }
        p->head = j->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->queued--;
        p->running++;
        if (j->rec != NULL) {
            j->rec->running++;
        }
        count_wait(p, j->queued_ns);
        pthread_mutex_unlock(&p->mu);
        j->work(j->arg);
        pthread_mutex_lock(&p->mu);
        p->completed++;
        p->running--;
        struct loop_rec *r = j->rec;
        finish(p, j);
        if (r != NULL) {
            r->running--;
        }
        pthread_cond_broadcast(&p->idle_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int tandem_pool_new(const struct tandem_pool_config *cfg, struct tandem_pool **out)
{
    int n = cfg->threads;
    if (n < 0 || n > 256) {
        return TANDEM_EINVAL;
    }
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (cpus < 256 ? (int)cpus : 256) : 1;
    }
    struct tandem_pool *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return TANDEM_ENOMEM;
    }
    p->threads = calloc((size_t)n, sizeof(*p->threads));
    if (p->threads == NULL) {
        free(p);
        return TANDEM_ENOMEM;
    }
    p->cap = cfg->queue > 0 ? cfg->queue : 64 * (size_t)n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    for (; p->nthreads < n; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, pool_thread, p) != 0) {
            tandem_pool_free(p);
            return TANDEM_EIO;
        }
    }
    *out = p;
    return 0;
}

/* ---- loops ----------------------------------------------------------------------------------- */

/* The worker's loop stops (its stop hook, on the worker). */
static void loop_stopped(void *arg)
{
    struct loop_rec *r = arg;
    struct tandem_pool *p = r->pool;
    struct job *cancelled = NULL;
    pthread_mutex_lock(&p->mu);
    r->stopping = true;
    r->hook = NULL; /* the loop frees its hooks as it runs them */
    for (struct job **link = &p->head, *prev = NULL; *link != NULL;) {
        struct job *j = *link;
        if (j->rec != r) {
            prev = j;
            link = &j->next;
            continue;
        }
        *link = j->next;
        if (p->tail == j) {
            p->tail = prev;
        }
        p->queued--;
        p->cancelled++;
        j->status = TANDEM_ECLOSED;
        j->next = cancelled;
        cancelled = j;
    }
    while (r->running > 0) {
        pthread_cond_wait(&p->idle_cv, &p->mu);
    }
    struct job *parked = r->parked;
    r->parked = NULL;
    r->dead = true;
    pthread_cond_broadcast(&p->idle_cv);
    pthread_mutex_unlock(&p->mu);
    deliver_list(cancelled);
    deliver_list(parked);
}

/* The record of the calling worker's loop l, made (with its stop hook) at its first job; mu
 * held, on l's thread. NULL when the hook cannot be set. */
static struct loop_rec *rec_of(struct tandem_pool *p, struct tandem_loop *l)
{
    struct loop_rec *r = NULL;
    for (size_t i = 0; i < p->nrecs && r == NULL; i++) {
        r = p->recs[i]->loop == l ? p->recs[i] : NULL;
    }
    if (r != NULL && !r->dead) {
        return r;
    }
    if (r == NULL) {
        struct loop_rec **recs = realloc(p->recs, (p->nrecs + 1) * sizeof(*recs));
        r = calloc(1, sizeof(*r));
        if (recs == NULL || r == NULL) {
            p->recs = recs != NULL ? recs : p->recs;
            free(r);
            return NULL;
        }
        p->recs = recs;
        p->recs[p->nrecs++] = r;
    }
    /* new, or a dead record whose address a new loop reuses (we run on it: it is alive) */
    *r = (struct loop_rec){.pool = p, .loop = l};
    if (tandem_loop_on_stop(l, loop_stopped, r, &r->hook) != 0) {
        r->dead = true;
        return NULL;
    }
    return r;
}

/* Posted by tandem_pool_free to a live loop: takes our stop hook off it. */
static void loop_detach(void *arg)
{
    struct loop_rec *r = arg;
    struct tandem_pool *p = r->pool;
    pthread_mutex_lock(&p->mu);
    if (!r->dead) {
        tandem_loop_on_stop_cancel(r->loop, r->hook);
        r->hook = NULL;
        r->dead = true;
    }
    pthread_cond_broadcast(&p->idle_cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- submit, drain, free --------------------------------------------------------------------- */

int tandem_pool_submit(struct tandem_pool *p, tandem_pool_work_fn work, tandem_pool_done_fn done,
                       void *arg)
{
    if (p == NULL || work == NULL) {
        return TANDEM_EINVAL;
    }
    struct tandem_loop *l = tandem_loop_current();
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return TANDEM_ENOMEM;
    }
    *j = (struct job){.work = work, .done = done, .arg = arg, .queued_ns = mono_ns()};
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        rc = TANDEM_ECLOSED;
    } else if (p->queued >= p->cap) {
        p->rejected++;
        rc = TANDEM_EAGAIN;
    } else if (l != NULL && (j->rec = rec_of(p, l)) == NULL) {
        rc = TANDEM_ENOMEM;
    }
    if (rc == 0) {
        if (p->tail != NULL) {
            p->tail->next = j;
        } else {
            p->head = j;
        }
        p->tail = j;
        p->queued++;
        pthread_cond_signal(&p->work_cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (rc != 0) {
        free(j);
    }
    return rc;
}

static struct timespec deadline_of(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (timeout_ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

int tandem_pool_drain(struct tandem_pool *p, int64_t timeout_ms)
{
    struct timespec dl = deadline_of(timeout_ms > 0 ? timeout_ms : 0);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    while (p->head != NULL || p->running > 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->idle_cv, &p->mu);
        } else if (pthread_cond_timedwait(&p->idle_cv, &p->mu, &dl) != 0) {
            break;
        }
    }
    while (p->head != NULL) { /* past the timeout: cancel what has not started */
        struct job *j = p->head;
        p->head = j->next;
        p->queued--;
        p->cancelled++;
        j->status = TANDEM_ECLOSED;
        rc = TANDEM_ETIMEDOUT;
        finish(p, j); /* may release mu for a job off a loop */
    }
    p->tail = NULL;
    while (p->running > 0) { /* work is never interrupted */
        pthread_cond_wait(&p->idle_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void tandem_pool_free(struct tandem_pool *p)
{
    if (p == NULL) {
        return;
    }
    if (p->nthreads > 0) {
        tandem_pool_drain(p, -1);
    }
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    /* detach from the loops still alive: each takes our hook off on its own thread */
    struct tandem_loop *self = tandem_loop_current();
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nrecs; i++) {
        struct loop_rec *r = p->recs[i];
        if (r->dead) {
            continue;
        }
        if (r->loop == self) {
            tandem_loop_on_stop_cancel(r->loop, r->hook);
            r->dead = true;
            continue;
        }
        if (tandem_loop_post(r->loop, loop_detach, r) != 0) {
            /* stopping: its hook is about to run and marks it dead */
        }
        while (!r->dead) {
            pthread_cond_wait(&p->idle_cv, &p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nrecs; i++) {
        free(p->recs[i]);
    }
    free(p->recs);
    free(p->threads);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->idle_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void tandem_pool_stats(struct tandem_pool *p, struct tandem_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = (struct tandem_pool_stats){
        .threads = p->nthreads,
        .queued = p->queued,
        .running = (uint64_t)p->running,
        .completed = p->completed,
        .rejected = p->rejected,
        .cancelled = p->cancelled,
        .wait_count = p->wait_count,
        .wait_sum_s = p->wait_sum_s,
    };
    memcpy(out->wait_buckets, p->wait_buckets, sizeof(out->wait_buckets));
    pthread_mutex_unlock(&p->mu);
}
