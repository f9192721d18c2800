/*
 * The client on an HTTP worker's loop: tandem_http_call made on a worker thread is driven by
 * that worker's own epoll loop (include/tandem/http.h, tandem_loop_*), not by the client thread,
 * and its callback runs on that worker, so a handler can call another service and answer its own
 * request from the completion while the worker goes on serving other connections.
 *
 * ONE DRIVER PER (client, worker loop), made on the worker's first call and kept until the loop
 * stops or the client is freed: its own curl multi handle (so each worker has its own connection
 * cache; calls from one worker to one upstream reuse its keep-alive connections), curl's sockets
 * as loop fd watches (level-triggered, as CURLMOPT_SOCKETFUNCTION expects), curl's timer and the
 * retry wait as loop timers. The breakers, counters and policies are the client's, under its mu,
 * shared with the thread driver and every other worker (call.c and policy.c are the same code).
 *
 * A call submitted here is started at the next turn of the loop (a 0 ms "kick" timer), never
 * inside tandem_http_call, so its callback never runs inside the caller (the thread mode
 * guarantees the same through its queue).
 *
 * END. Two ways, both on the worker thread: (1) the loop stops (tandem_http_server_stop): the
 * stop hook ends every call with TANDEM_ECLOSED (callbacks run, and may still answer the request
 * they hold: the connections are closed after the hooks) and frees the driver; (2) the client is
 * freed first: tandem_http_client_free posts the same teardown to each worker and waits on cond
 * until every loop driver is gone (when free runs on a worker itself, that worker's driver is
 * torn down in place). A post refused because the loop is stopping needs nothing: its stop hook
 * is about to run and does the same.
 */
#include "client_int.h"

#include <stdlib.h>

#include "common/mem.h"

static void on_fd(int fd, int events, void *arg)
{
    struct driver *d = arg;
    int flags = (events & TANDEM_LOOP_IN ? CURL_CSELECT_IN : 0) |
                (events & TANDEM_LOOP_OUT ? CURL_CSELECT_OUT : 0) |
                (events & TANDEM_LOOP_ERR ? CURL_CSELECT_ERR : 0);
    int running = 0;
    curl_multi_socket_action(d->multi, fd, flags, &running);
    driver_collect(d);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *socketp)
{
    (void)e;
    (void)socketp;
    struct driver *d = ud;
    if (what == CURL_POLL_REMOVE) {
        tandem_loop_fd_del(d->loop, s);
        return 0;
    }
    int ev =
        (what & CURL_POLL_IN ? TANDEM_LOOP_IN : 0) | (what & CURL_POLL_OUT ? TANDEM_LOOP_OUT : 0);
    return tandem_loop_fd_set(d->loop, s, ev, on_fd, d) == 0 ? 0 : -1;
}

static void on_curl_timeout(void *arg)
{
    struct driver *d = arg;
    d->curl_timer = NULL; /* fired: the loop freed it (curl may set a new one below) */
    int running = 0;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    driver_collect(d);
}

static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    (void)m;
    struct driver *d = ud;
    if (d->curl_timer != NULL) {
        tandem_loop_timer_cancel(d->loop, d->curl_timer);
        d->curl_timer = NULL;
    }
    if (timeout_ms >= 0) {
        tandem_loop_timer_add(d->loop, timeout_ms, on_curl_timeout, d, &d->curl_timer);
    }
    return 0;
}

static void on_kick(void *arg)
{
    struct driver *d = arg;
    d->kick = NULL;
    struct call *k = d->pending;
    d->pending = d->pending_tail = NULL;
    while (k != NULL) {
        struct call *next = k->next;
        k->next = NULL;
        call_start_attempt(k);
        k = next;
    }
}

/* Ends every call of d with TANDEM_ECLOSED, then frees d (on d's worker thread). */
static void driver_teardown(struct driver *d)
{
    struct tandem_http_client *c = d->c;
    d->closing = true;
    if (d->kick != NULL) {
        tandem_loop_timer_cancel(d->loop, d->kick);
        d->kick = NULL;
    }
    while (d->pending != NULL) { /* never started: finish them like live ones */
        struct call *k = d->pending;
        d->pending = k->next;
        k->next = NULL;
        call_adopt(k);
        call_finish(k, TANDEM_ECLOSED);
    }
    while (d->live != NULL) {
        call_finish(d->live, TANDEM_ECLOSED);
    }
    if (d->curl_timer != NULL) {
        tandem_loop_timer_cancel(d->loop, d->curl_timer);
    }
    if (d->retry_timer != NULL) {
        tandem_loop_timer_cancel(d->loop, d->retry_timer);
    }
    if (d->hook != NULL) {
        tandem_loop_on_stop_cancel(d->loop, d->hook);
    }
    curl_multi_cleanup(d->multi); /* may still report sockets to remove: the loop is alive */
    pthread_mutex_lock(&c->mu);
    for (struct driver **pp = &c->loops; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    free(d);
}

static void on_loop_stop(void *arg)
{
    struct driver *d = arg;
    d->hook = NULL; /* the loop runs and frees it */
    driver_teardown(d);
}

/* A new driver for l: its multi handle with curl's sockets and timer on l, its stop hook.
 * NULL when curl or the loop refuses. */
static struct driver *driver_new(struct tandem_http_client *c, struct tandem_loop *l)
{
    CURLM *m = curl_multi_init();
    if (m == NULL) {
        return NULL;
    }
    struct driver *d = xcalloc(1, sizeof(*d));
    driver_init(d, c, m);
    d->loop = l;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->cfg.max_host_connections);
    if (tandem_loop_on_stop(l, on_loop_stop, d, &d->hook) != 0) {
        curl_multi_cleanup(m);
        free(d);
        return NULL;
    }
    return d;
}

/* The driver of (c, l), made on first use; NULL when the client is stopping. Looked up and made
 * in one step under mu, so tandem_http_client_free either finds it in c->loops or no driver is
 * made after it began. */
static struct driver *driver_of(struct tandem_http_client *c, struct tandem_loop *l)
{
    pthread_mutex_lock(&c->mu);
    struct driver *d = c->loops;
    while (d != NULL && d->loop != l) {
        d = d->next;
    }
    if (d == NULL && !c->stopping) {
        d = driver_new(c, l);
        if (d != NULL) {
            d->next = c->loops;
            c->loops = d;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return d;
}

int loop_submit(struct tandem_http_client *c, struct tandem_loop *l, struct call *k)
{
    struct driver *d = driver_of(c, l);
    if (d == NULL || d->closing) {
        call_destroy(k);
        return TANDEM_ECLOSED;
    }
    k->d = d;
    k->st = CALL_QUEUED;
    if (d->pending_tail != NULL) {
        d->pending_tail->next = k;
    } else {
        d->pending = k;
    }
    d->pending_tail = k;
    if (d->kick == NULL && tandem_loop_timer_add(l, 0, on_kick, d, &d->kick) != 0) {
        on_kick(d); /* cannot happen on the loop's own thread; start at once rather than never */
    }
    return 0;
}

static void teardown_posted(void *arg)
{
    driver_teardown(arg);
}

void loop_drivers_free(struct tandem_http_client *c)
{
    struct tandem_loop *here = tandem_loop_current();
    struct driver *mine = NULL; /* the caller's own, when free runs on a worker */
    pthread_mutex_lock(&c->mu);
    for (struct driver *d = c->loops; d != NULL; d = d->next) {
        if (d->loop == here) {
            mine = d;
        } else {
            tandem_loop_post(d->loop, teardown_posted, d); /* ECLOSED: its stop hook does it */
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (mine != NULL) {
        driver_teardown(mine);
    }
    pthread_mutex_lock(&c->mu);
    while (c->loops != NULL) {
        pthread_cond_wait(&c->cond, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
}
