/*
 * loop.c: the part of a worker's event loop that is open to other code (tandem_loop_* in
 * include/tandem/http.h): file descriptors with callbacks, one-shot timers, callbacks posted from
 * other threads, and hooks run when the loop stops. worker.c owns the loop itself and calls in
 * here at fixed points of each iteration:
 *
 *     wait (epoll_wait or io_uring_enter; timeout = min(connection deadlines, hloop_timeout))
 *       -> each event: a connection (worker.c), a watch (hloop_watch_event), the eventfd
 *          (posts: hloop_run_posts; stop/drain flags)
 *       -> write the answers queued by the iteration
 *       -> hloop_run_timers -> connection timeouts -> hloop_reap (free deleted watches)
 *
 * MODEL. Everything here belongs to the worker thread except the post queue, which is under mu
 * (posting is the one way in from another thread; it writes the worker's eventfd to wake it).
 * Watches are level-triggered (libcurl's socket callback expects that) and found by fd in a
 * short list (a loop watches a handful of sockets: the connections of a curl multi). The worker's
 * I/O backend does the watching (struct hwatch_ops: an epoll registration, or a one-shot
 * io_uring poll re-armed after each callback). A deleted watch is only marked dead and freed at
 * the end of an iteration once the backend no longer refers to it, because an event already
 * collected may still point at it (and an io_uring poll holds its address until it completes).
 * Timers sit in one list sorted by deadline (inserted from the tail: most timers are added in
 * deadline order); a run first detaches the timers due now, so a timer added by a callback for
 * "now" runs at the next turn, never in the same pass (no livelock). The clock is the worker's
 * coarse monotonic one (a few ms).
 *
 * STOP. hloop_stop runs on the worker thread after its last iteration: the post queue is closed
 * (tandem_loop_post answers TANDEM_ECLOSED from then on), the posts it held run, then the stop
 * hooks, while the worker's connections and held requests still exist. hloop_cleanup frees what
 * remains without running it.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/mem.h"
#include "http_int.h"

_Thread_local struct tandem_loop *hloop_current;

void hloop_init(struct tandem_loop *l, int efd, const struct hwatch_ops *wops, void *wctx)
{
    l->efd = efd;
    l->wops = wops;
    l->wctx = wctx;
    pthread_mutex_init(&l->mu, NULL);
}

struct tandem_loop *tandem_loop_current(void)
{
    return hloop_current;
}

/* ---- file descriptors ---------------------------------------------------------------------- */

static struct hwatch *watch_find(struct tandem_loop *l, int fd)
{
    for (struct hwatch *w = l->watches; w != NULL; w = w->next) {
        if (w->fd == fd) {
            return w;
        }
    }
    return NULL;
}

int tandem_loop_fd_set(struct tandem_loop *l, int fd, int events, tandem_loop_fd_fn cb, void *arg)
{
    if (l == NULL || l != hloop_current || fd < 0 || cb == NULL) {
        return TANDEM_EINVAL;
    }
    struct hwatch *w = watch_find(l, fd);
    if (w != NULL) {
        if (w->events != events) {
            if (l->wops->mod(l->wctx, w, events) != 0) {
                return TANDEM_EIO;
            }
            w->events = events;
        }
        w->cb = cb;
        w->arg = arg;
        return 0;
    }
    w = xcalloc(1, sizeof(*w));
    w->kind = HKIND_WATCH;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->arg = arg;
    if (l->wops->add(l->wctx, w) != 0) {
        free(w);
        return TANDEM_EIO;
    }
    w->next = l->watches;
    l->watches = w;
    return 0;
}

int tandem_loop_fd_del(struct tandem_loop *l, int fd)
{
    if (l == NULL || l != hloop_current) {
        return TANDEM_EINVAL;
    }
    for (struct hwatch **pp = &l->watches; *pp != NULL; pp = &(*pp)->next) {
        struct hwatch *w = *pp;
        if (w->fd == fd) {
            *pp = w->next;
            w->dead = true;
            l->wops->del(l->wctx, w);
            w->next = l->dead_watches;
            l->dead_watches = w;
            return 0;
        }
    }
    return TANDEM_ENOENT;
}

void hloop_watch_event(struct hwatch *w, int what)
{
    if (w->dead) {
        return;
    }
    w->cb(w->fd, what, w->arg);
}

void hloop_reap(struct tandem_loop *l)
{
    struct hwatch **pp = &l->dead_watches;
    while (*pp != NULL) {
        struct hwatch *w = *pp;
        if (l->wops->busy(w)) {
            pp = &w->next; /* its io_uring poll has not completed yet */
            continue;
        }
        *pp = w->next;
        free(w);
    }
}

/* ---- timers -------------------------------------------------------------------------------- */

int tandem_loop_timer_add(struct tandem_loop *l, int64_t ms, tandem_loop_fn cb, void *arg,
                          struct tandem_loop_timer **out)
{
    if (l == NULL || l != hloop_current || cb == NULL || ms < 0) {
        return TANDEM_EINVAL;
    }
    struct tandem_loop_timer *t = xcalloc(1, sizeof(*t));
    t->at = l->now_ms + ms;
    t->cb = cb;
    t->arg = arg;
    struct tandem_loop_timer *after = l->timers_tail; /* the last one due no later than t */
    while (after != NULL && after->at > t->at) {
        after = after->prev;
    }
    t->prev = after;
    t->next = after != NULL ? after->next : l->timers;
    if (t->prev != NULL) {
        t->prev->next = t;
    } else {
        l->timers = t;
    }
    if (t->next != NULL) {
        t->next->prev = t;
    } else {
        l->timers_tail = t;
    }
    if (out != NULL) {
        *out = t;
    }
    return 0;
}

static void timer_unlink(struct tandem_loop *l, struct tandem_loop_timer *t)
{
    if (t->due) { /* in the detached list (singly used from its head, doubly linked) */
        if (t->prev != NULL) {
            t->prev->next = t->next;
        } else {
            l->due = t->next;
        }
        if (t->next != NULL) {
            t->next->prev = t->prev;
        }
        return;
    }
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        l->timers = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    } else {
        l->timers_tail = t->prev;
    }
}

void tandem_loop_timer_cancel(struct tandem_loop *l, struct tandem_loop_timer *t)
{
    if (l == NULL || t == NULL) {
        return;
    }
    timer_unlink(l, t);
    free(t);
}

int64_t hloop_timeout(const struct tandem_loop *l)
{
    if (l->timers == NULL) {
        return -1;
    }
    int64_t d = l->timers->at - l->now_ms;
    return d <= 0 ? 0 : d;
}

void hloop_run_timers(struct tandem_loop *l)
{
    /* detach the prefix due now */
    struct tandem_loop_timer *t = l->timers, *last = NULL;
    while (t != NULL && t->at <= l->now_ms) {
        t->due = true;
        last = t;
        t = t->next;
    }
    if (last == NULL) {
        return;
    }
    l->due = l->timers;
    l->timers = last->next;
    last->next = NULL;
    if (l->timers != NULL) {
        l->timers->prev = NULL;
    } else {
        l->timers_tail = NULL;
    }
    while ((t = l->due) != NULL) { /* a callback may cancel a timer still in this list */
        timer_unlink(l, t);
        tandem_loop_fn cb = t->cb;
        void *arg = t->arg;
        free(t);
        cb(arg);
    }
}

/* ---- posts and stop hooks ------------------------------------------------------------------ */

int tandem_loop_post(struct tandem_loop *l, tandem_loop_fn cb, void *arg)
{
    if (l == NULL || cb == NULL) {
        return TANDEM_EINVAL;
    }
    struct hpost *p = xcalloc(1, sizeof(*p));
    p->cb = cb;
    p->arg = arg;
    pthread_mutex_lock(&l->mu);
    if (l->closed) {
        pthread_mutex_unlock(&l->mu);
        free(p);
        return TANDEM_ECLOSED;
    }
    if (l->post_tail != NULL) {
        l->post_tail->next = p;
    } else {
        l->post_head = p;
    }
    l->post_tail = p;
    pthread_mutex_unlock(&l->mu);
    uint64_t one = 1;
    ssize_t n = write(l->efd, &one, sizeof(one)); /* fails only when the counter is huge */
    (void)n;
    return 0;
}

/* Takes the whole post queue; close: refuse every later post (TANDEM_ECLOSED). */
static struct hpost *posts_take(struct tandem_loop *l, bool close)
{
    pthread_mutex_lock(&l->mu);
    l->closed = l->closed || close;
    struct hpost *p = l->post_head;
    l->post_head = l->post_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    return p;
}

static void run_post_list(struct hpost *p)
{
    while (p != NULL) {
        struct hpost *next = p->next;
        p->cb(p->arg);
        free(p);
        p = next;
    }
}

void hloop_run_posts(struct tandem_loop *l)
{
    run_post_list(posts_take(l, false));
}

int tandem_loop_on_stop(struct tandem_loop *l, tandem_loop_fn cb, void *arg,
                        struct tandem_loop_hook **out)
{
    if (l == NULL || l != hloop_current || cb == NULL) {
        return TANDEM_EINVAL;
    }
    struct tandem_loop_hook *h = xcalloc(1, sizeof(*h));
    h->cb = cb;
    h->arg = arg;
    h->next = l->hooks;
    if (l->hooks != NULL) {
        l->hooks->prev = h;
    }
    l->hooks = h;
    if (out != NULL) {
        *out = h;
    }
    return 0;
}

void tandem_loop_on_stop_cancel(struct tandem_loop *l, struct tandem_loop_hook *h)
{
    if (l == NULL || h == NULL) {
        return;
    }
    if (h->prev != NULL) {
        h->prev->next = h->next;
    } else {
        l->hooks = h->next;
    }
    if (h->next != NULL) {
        h->next->prev = h->prev;
    }
    free(h);
}

void hloop_stop(struct tandem_loop *l)
{
    run_post_list(posts_take(l, true));
    struct tandem_loop_hook *h;
    while ((h = l->hooks) != NULL) { /* a hook may cancel another one: take them one by one */
        l->hooks = h->next;
        if (l->hooks != NULL) {
            l->hooks->prev = NULL;
        }
        tandem_loop_fn cb = h->cb;
        void *arg = h->arg;
        free(h);
        cb(arg);
    }
}

void hloop_cleanup(struct tandem_loop *l)
{
    struct hpost *p = posts_take(l, true);
    while (p != NULL) { /* only when the thread never ran: nothing to run them on */
        struct hpost *next = p->next;
        free(p);
        p = next;
    }
    while (l->timers != NULL) {
        tandem_loop_timer_cancel(l, l->timers);
    }
    while (l->hooks != NULL) {
        tandem_loop_on_stop_cancel(l, l->hooks);
    }
    while (l->watches != NULL) {
        struct hwatch *w = l->watches;
        l->watches = w->next;
        free(w);
    }
    hloop_reap(l);
    pthread_mutex_destroy(&l->mu);
}
