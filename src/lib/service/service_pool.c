/*
 * service_pool.c: tandem/pool.h in the runtime: the service's one pool (made at the first use,
 * sized by --pool-threads and --pool-queue), tandem_offload for handlers, its drain at SIGTERM
 * and its series in /metrics.
 *
 * tandem_offload wraps the handler's job: the pool runs work on a pool thread and posts the
 * completion to the request's worker; there the handler's done answers the request. A job the
 * drain cancels comes back with TANDEM_ECLOSED: the request is answered 503 here and done gets
 * req NULL, only to free its arg.
 *
 * The drain sits between HTTP's drain and HTTP's stop (run.c): requests waiting for the pool
 * are in flight, so HTTP's drain already waited for them; what is left at its deadline is
 * cancelled here (answered 503 on its worker, which still runs) or, when running, waited for.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "service_int.h"
#include "tandem/pool.h"

struct svc_pool {
    pthread_mutex_t mu;
    struct tandem_pool *pool; /* NULL until the first use, and again after the drain */
    struct tandem_pool *drained;
    bool closed;
};

static struct svc_pool *state_of(struct tandem_service *s)
{
    if (s->pool == NULL) { /* before tandem_service_run (one thread) or from svc_pool_run */
        s->pool = xcalloc(1, sizeof(*s->pool));
        pthread_mutex_init(&s->pool->mu, NULL);
    }
    return s->pool;
}

struct tandem_pool *tandem_service_pool(struct tandem_service *s)
{
    struct svc_pool *sp = state_of(s);
    pthread_mutex_lock(&sp->mu);
    if (sp->pool == NULL && !sp->closed) {
        long threads = 0, queue = 256;
        svc_parse_int(svc_config_get(&s->cfg, "pool-threads"), 0, 256, &threads);
        svc_parse_int(svc_config_get(&s->cfg, "pool-queue"), 1, 1000000, &queue);
        struct tandem_pool_config cfg = {.threads = (int)threads, .queue = (size_t)queue};
        int rc = tandem_pool_new(&cfg, &sp->pool);
        if (rc != 0) {
            sp->pool = NULL;
            log_error("cannot start the pool", "\"error\":\"%s\"", tandem_strerror(rc));
        } else {
            struct tandem_pool_stats st;
            tandem_pool_stats(sp->pool, &st);
            log_info("pool started", "\"threads\":%d,\"queue\":%ld", st.threads, queue);
        }
    }
    struct tandem_pool *p = sp->pool;
    pthread_mutex_unlock(&sp->mu);
    return p;
}

/* ---- tandem_offload -------------------------------------------------------------------------- */

struct offload {
    struct tandem_http_request *req;
    tandem_pool_work_fn work;
    tandem_offload_done_fn done;
    void *arg;
};

static void busy(struct tandem_http_request *req, const char *detail)
{
    tandem_respond_header(req, "Retry-After", "1");
    tandem_respond_problem(req, 503, detail);
}

static void offload_work(void *arg)
{
    struct offload *o = arg;
    o->work(o->arg);
}

/* On the request's worker. */
static void offload_done(void *arg, int status)
{
    struct offload *o = arg;
    if (status == 0) {
        o->done(o->req, o->arg);
    } else {
        busy(o->req, "the work was cancelled: the service is shutting down");
        o->done(NULL, o->arg);
    }
    free(o);
}

int tandem_offload(struct tandem_http_request *req, tandem_pool_work_fn work,
                   tandem_offload_done_fn done, void *arg)
{
    struct svc_req *x = svc_req_of(req);
    if (x == NULL || work == NULL || done == NULL || tandem_loop_current() == NULL) {
        log_error("tandem_offload: call it on the request's worker, with work and done", NULL);
        if (x != NULL) {
            tandem_respond_problem(req, 500, "work could not be scheduled");
        }
        return TANDEM_EINVAL;
    }
    struct tandem_pool *p = tandem_service_pool(x->svc);
    if (p == NULL) {
        busy(req, "the service is shutting down");
        return TANDEM_ECLOSED;
    }
    struct offload *o = xmalloc(sizeof(*o));
    *o = (struct offload){.req = req, .work = work, .done = done, .arg = arg};
    int rc = tandem_pool_submit(p, offload_work, offload_done, o);
    if (rc != 0) {
        free(o);
        busy(req, rc == TANDEM_EAGAIN ? "too much work waiting: try again shortly"
                                      : "the service is shutting down");
    }
    return rc;
}

/* ---- metrics and lifecycle ------------------------------------------------------------------- */

static void pool_emit(struct tandem_metrics_writer *w, void *arg)
{
    struct svc_pool *sp = arg;
    struct tandem_pool_stats st;
    pthread_mutex_lock(&sp->mu);
    struct tandem_pool *p = sp->pool != NULL ? sp->pool : sp->drained;
    if (p == NULL) {
        pthread_mutex_unlock(&sp->mu);
        return;
    }
    tandem_pool_stats(p, &st);
    pthread_mutex_unlock(&sp->mu);
    const struct svc_metric m[] = {
        {"tandem_pool_threads", "Threads of the pool.", true, st.threads},
        {"tandem_pool_queued", "Jobs waiting for a pool thread.", true, (double)st.queued},
        {"tandem_pool_running", "Jobs running on the pool.", true, (double)st.running},
        {"tandem_pool_completed_total", "Jobs the pool ran.", false, (double)st.completed},
        {"tandem_pool_rejected_total", "Jobs refused: the queue was full.", false,
         (double)st.rejected},
        {"tandem_pool_cancelled_total", "Jobs cancelled before they started (shutdown).", false,
         (double)st.cancelled},
    };
    svc_metrics_emit(w, m, sizeof(m) / sizeof(m[0]));
    const char *hn = "tandem_pool_queue_wait_seconds";
    svc_metrics_header(w, hn, "Time jobs waited for a pool thread.", "histogram");
    const double *bounds = tandem_pool_wait_bounds();
    uint64_t cum = 0;
    char line[160];
    for (int i = 0; i < TANDEM_POOL_WAIT_BUCKETS; i++) {
        cum += st.wait_buckets[i];
        int n = snprintf(line, sizeof(line), "%s_bucket{le=\"%g\"} %llu\n", hn, bounds[i],
                         (unsigned long long)cum);
        svc_writer_append(w, line, (size_t)n);
    }
    int n =
        snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
                 hn, (unsigned long long)st.wait_count, hn, st.wait_sum_s, hn,
                 (unsigned long long)st.wait_count);
    svc_writer_append(w, line, (size_t)n);
}

void svc_pool_run(struct tandem_service *s)
{
    tandem_service_metrics_source(s, pool_emit, state_of(s));
}

void svc_pool_drain(struct tandem_service *s, int64_t deadline)
{
    struct svc_pool *sp = s->pool;
    if (sp == NULL) {
        return;
    }
    pthread_mutex_lock(&sp->mu);
    sp->closed = true; /* tandem_offload answers 503 from here on */
    struct tandem_pool *p = sp->pool;
    pthread_mutex_unlock(&sp->mu);
    if (p == NULL) {
        return;
    }
    int64_t left = deadline - clock_mono_ms();
    if (tandem_pool_drain(p, left > 0 ? left : 0) != 0) {
        log_warn("pool drain timeout: queued work cancelled (answered 503)", NULL);
    }
    pthread_mutex_lock(&sp->mu);
    sp->drained = p; /* freed with the service: /metrics may still read it until HTTP stops */
    sp->pool = NULL;
    pthread_mutex_unlock(&sp->mu);
}

void svc_pool_free(struct tandem_service *s)
{
    struct svc_pool *sp = s->pool;
    if (sp == NULL) {
        return;
    }
    tandem_pool_free(sp->pool);
    tandem_pool_free(sp->drained);
    pthread_mutex_destroy(&sp->mu);
    free(sp);
    s->pool = NULL;
}
