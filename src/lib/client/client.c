/*
 * The HTTP client's thread: one epoll loop driving a curl multi handle with
 * curl_multi_socket_action (curl's "multi_socket" API, see libcurl-multi(3) and the
 * hiperfifo/ephiperfifo examples in curl's docs/examples, read for the shape, not copied).
 *
 * The epoll set holds four kinds of descriptors:
 *
 *   wake_fd         eventfd: a call was queued, or tandem_http_client_free began
 *   curl_timer_fd   timerfd armed by CURLMOPT_TIMERFUNCTION: curl's own timeouts
 *   retry_timer_fd  timerfd at the earliest retry_at (or the free bound, when stopping)
 *   curl's sockets  registered by CURLMOPT_SOCKETFUNCTION with the events curl asks for
 *
 * After every wake-up the loop collects finished transfers (curl_multi_info_read) and completes
 * or retries their calls. Calls are only touched on this thread once queued; the queue itself
 * and the counters are under mu (client_int.h).
 *
 * SHUTDOWN. tandem_http_client_free sets stopping (new calls refused) and wakes the thread. The
 * thread keeps running until no call is left, or until free_wait_ms have passed; then it
 * finishes every remaining call with TANDEM_ECLOSED and exits; free joins it, then waits until
 * every tandem_http_call_sync caller has left mu (sync_waiters, counted under mu from submit on)
 * before it destroys mu and cond.
 */
#include "client_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/mem.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Arms fd to fire in ms milliseconds (ms < 0: disarm; 0: at once). */
static void timer_arm(int fd, int64_t ms)
{
    struct itimerspec its = {0};
    if (ms >= 0) {
        its.it_value.tv_sec = ms / 1000;
        its.it_value.tv_nsec = (ms % 1000) * 1000000 + 1; /* never all zero: that disarms */
    }
    timerfd_settime(fd, 0, &its, NULL);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *ud, void *socketp)
{
    struct tandem_http_client *c = ud;
    struct epoll_event ev = {.data.fd = s};
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(c->epoll_fd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
        epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *ud)
{
    struct tandem_http_client *c = ud;
    timer_arm(c->curl_timer_fd, timeout_ms);
    return 0;
}

void driver_init(struct driver *d, struct tandem_http_client *c, CURLM *multi)
{
    d->c = c;
    d->multi = multi;
    d->rng = (uint64_t)clock_mono_ms() * 0x9E3779B97F4A7C15ull ^ (uintptr_t)d;
    if (d->rng == 0) {
        d->rng = 1;
    }
}

static void on_loop_retry(void *arg)
{
    struct driver *d = arg;
    d->retry_timer = NULL; /* fired: the loop freed it */
    driver_run_retries(d);
}

void driver_arm_retry(struct driver *d)
{
    int64_t at = d->loop == NULL ? d->c->stop_at : 0;
    for (struct call *k = d->live; k != NULL; k = k->next) {
        if (k->st == CALL_WAITING && k->retry_at != 0 && (at == 0 || k->retry_at < at)) {
            at = k->retry_at;
        }
    }
    int64_t ms = at == 0 ? -1 : at - clock_mono_ms();
    ms = at != 0 && ms < 0 ? 0 : ms;
    if (d->loop == NULL) {
        timer_arm(d->c->retry_timer_fd, ms);
        return;
    }
    if (d->retry_timer != NULL) {
        tandem_loop_timer_cancel(d->loop, d->retry_timer);
        d->retry_timer = NULL;
    }
    if (ms >= 0) {
        tandem_loop_timer_add(d->loop, ms, on_loop_retry, d, &d->retry_timer);
    }
}

void driver_run_retries(struct driver *d)
{
    int64_t now = clock_mono_ms();
    bool again = true;
    while (again) { /* starting a call may finish it and change the list: rescan */
        again = false;
        for (struct call *k = d->live; k != NULL; k = k->next) {
            if (k->st == CALL_WAITING && k->retry_at != 0 && k->retry_at <= now) {
                k->retry_at = 0;
                call_start_attempt(k);
                again = true;
                break;
            }
        }
    }
    driver_arm_retry(d);
}

void driver_collect(struct driver *d)
{
    CURLMsg *msg;
    int left;
    for (;;) {
        msg = curl_multi_info_read(d->multi, &left);
        if (msg == NULL) {
            break;
        }
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        struct call *k = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&k);
        call_attempt_done(k, msg->data.result);
    }
}

static void take_queue(struct tandem_http_client *c, bool *stopping)
{
    uint64_t n;
    if (read(c->wake_fd, &n, sizeof n) < 0) {
        /* EAGAIN: nothing pending */
    }
    pthread_mutex_lock(&c->mu);
    struct call *q = c->queue_head;
    c->queue_head = c->queue_tail = NULL;
    *stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    while (q != NULL) {
        struct call *next = q->next;
        q->next = NULL;
        q->d = &c->td;
        call_start_attempt(q);
        q = next;
    }
}

static void *client_main(void *arg)
{
    struct tandem_http_client *c = arg;
    struct epoll_event evs[64];
    int running = 0;
    bool stopping = false;
    for (;;) {
        int n = epoll_wait(c->epoll_fd, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            uint64_t x;
            if (fd == c->wake_fd) {
                take_queue(c, &stopping);
            } else if (fd == c->curl_timer_fd) {
                if (read(fd, &x, sizeof x) > 0) {
                    curl_multi_socket_action(c->td.multi, CURL_SOCKET_TIMEOUT, 0, &running);
                }
            } else if (fd == c->retry_timer_fd) {
                if (read(fd, &x, sizeof x) > 0) {
                    driver_run_retries(&c->td);
                }
            } else {
                int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                            (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                            (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(c->td.multi, fd, flags, &running);
            }
            driver_collect(&c->td);
        }
        if (stopping && c->stop_at == 0) {
            c->stop_at = clock_mono_ms() + c->cfg.free_wait_ms;
            driver_arm_retry(&c->td);
        }
        if (stopping && (c->td.live == NULL || clock_mono_ms() >= c->stop_at)) {
            break;
        }
    }
    while (c->td.live != NULL) {
        call_finish(c->td.live, TANDEM_ECLOSED);
    }
    return NULL;
}

#define DEFAULT(field, v)        \
    do {                         \
        if (c->cfg.field < 0) {  \
            goto invalid;        \
        }                        \
        if (c->cfg.field == 0) { \
            c->cfg.field = (v);  \
        }                        \
    } while (0)

static int epoll_add(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int tandem_http_client_new(const struct tandem_http_client_config *cfg,
                           struct tandem_http_client **out)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        return TANDEM_EIO;
    }
    struct tandem_http_client *c = xcalloc(1, sizeof *c);
    c->wake_fd = c->epoll_fd = c->curl_timer_fd = c->retry_timer_fd = -1;
    if (cfg != NULL) {
        c->cfg = *cfg;
    }
    DEFAULT(connect_timeout_ms, 2000);
    DEFAULT(timeout_ms, 5000);
    DEFAULT(backoff_base_ms, 50);
    DEFAULT(backoff_max_ms, 2000);
    DEFAULT(breaker_failures, 5);
    DEFAULT(breaker_cooldown_ms, 5000);
    DEFAULT(max_host_connections, 8);
    DEFAULT(free_wait_ms, 2000);
    if (c->cfg.max_response_bytes == 0) {
        c->cfg.max_response_bytes = 8u << 20;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    c->curl_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    c->retry_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    driver_init(&c->td, c, curl_multi_init());
    if (c->wake_fd < 0 || c->epoll_fd < 0 || c->curl_timer_fd < 0 || c->retry_timer_fd < 0 ||
        c->td.multi == NULL || epoll_add(c->epoll_fd, c->wake_fd) != 0 ||
        epoll_add(c->epoll_fd, c->curl_timer_fd) != 0 ||
        epoll_add(c->epoll_fd, c->retry_timer_fd) != 0) {
        goto fail;
    }
    curl_multi_setopt(c->td.multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->td.multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->td.multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->td.multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->td.multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)c->cfg.max_host_connections);
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
        goto fail;
    }
    *out = c;
    return 0;
invalid:
    free(c);
    return TANDEM_EINVAL;
fail:
    if (c->td.multi != NULL) {
        curl_multi_cleanup(c->td.multi);
    }
    int fds[] = {c->wake_fd, c->epoll_fd, c->curl_timer_fd, c->retry_timer_fd};
    for (size_t i = 0; i < 4; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
    return TANDEM_EIO;
}

static void wake(struct tandem_http_client *c)
{
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof one) < 0) {
        /* the counter is already non-zero: the thread will wake anyway */
    }
}

static int submit(struct tandem_http_client *c, const struct tandem_http_call_opts *opts,
                  tandem_http_done_fn cb, void *arg, bool sync, struct call **out)
{
    int err;
    struct call *k = call_build(c, opts, cb, arg, &err);
    if (k == NULL) {
        return err;
    }
    k->sync = sync;
    k->st = CALL_QUEUED;
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        call_destroy(k);
        return TANDEM_ECLOSED;
    }
    if (c->queue_tail != NULL) {
        c->queue_tail->next = k;
    } else {
        c->queue_head = k;
    }
    c->queue_tail = k;
    if (out != NULL) {
        *out = k;
    }
    if (sync) {
        c->sync_waiters++; /* counted while still under mu: free cannot miss this caller */
    }
    pthread_mutex_unlock(&c->mu);
    wake(c);
    return 0;
}

int tandem_http_call(struct tandem_http_client *c, const struct tandem_http_call_opts *opts,
                     tandem_http_done_fn cb, void *arg)
{
    if (c == NULL) {
        return TANDEM_EINVAL;
    }
    struct tandem_loop *l = tandem_loop_current();
    if (l == NULL) {
        return submit(c, opts, cb, arg, false, NULL); /* the client thread's driver */
    }
    int err;
    struct call *k = call_build(c, opts, cb, arg, &err);
    if (k == NULL) {
        return err;
    }
    return loop_submit(c, l, k); /* this worker's driver; destroys k when it refuses it */
}

static void sync_done(const struct tandem_http_response *r, void *arg)
{
    struct call *k = (struct call *)r;
    pthread_mutex_lock(&k->c->mu);
    k->done = true;
    pthread_cond_broadcast(&k->c->cond);
    pthread_mutex_unlock(&k->c->mu);
}

int tandem_http_call_sync(struct tandem_http_client *c, const struct tandem_http_call_opts *opts,
                          struct tandem_http_response **out)
{
    *out = NULL;
    if (c == NULL || pthread_equal(pthread_self(), c->thread)) {
        return TANDEM_EINVAL;
    }
    struct call *k = NULL;
    int rc = submit(c, opts, sync_done, NULL, true, &k);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    while (!k->done) {
        pthread_cond_wait(&c->cond, &c->mu);
    }
    c->sync_waiters--;
    pthread_cond_broadcast(&c->cond); /* free may be waiting for the last of us */
    pthread_mutex_unlock(&c->mu);
    *out = &k->resp;
    return 0;
}

void tandem_http_client_stats(struct tandem_http_client *c, struct tandem_http_upstream_stats *out,
                              size_t cap, size_t *n)
{
    size_t i = 0;
    pthread_mutex_lock(&c->mu);
    for (struct upstream *u = c->upstreams; u != NULL; u = u->next, i++) {
        if (i >= cap) {
            continue;
        }
        struct tandem_http_upstream_stats *s = &out[i];
        memset(s, 0, sizeof *s);
        memcpy(s->upstream, u->key, sizeof s->upstream);
        s->calls = u->calls;
        s->retries = u->retries;
        s->failures = u->failures;
        s->rejected = u->rejected;
        s->breaker = u->br.state;
        s->consecutive_failures = u->br.consecutive;
    }
    pthread_mutex_unlock(&c->mu);
    *n = i;
}

void tandem_http_client_free(struct tandem_http_client *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_mutex_unlock(&c->mu);
    loop_drivers_free(c); /* their calls end with TANDEM_ECLOSED on their workers */
    wake(c);
    pthread_join(c->thread, NULL);
    /* Every call is done now, but sync callers just woken still have to re-lock mu (and
     * signal cond): mu and cond must outlive them. */
    pthread_mutex_lock(&c->mu);
    while (c->sync_waiters > 0) {
        pthread_cond_wait(&c->cond, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    curl_multi_cleanup(c->td.multi);
    close(c->wake_fd);
    close(c->epoll_fd);
    close(c->curl_timer_fd);
    close(c->retry_timer_fd);
    while (c->upstreams != NULL) {
        struct upstream *u = c->upstreams;
        c->upstreams = u->next;
        free(u);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}
