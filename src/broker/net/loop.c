/*
 * The event loop: epoll for file descriptors, a min-heap of one-shot timers, before-sleep hooks.
 *
 * One iteration (loop_run_once):
 *
 *   1. the user's before-sleep hook, then the internal hooks (each server flushes its pending
 *      output there, so everything filled during the previous iteration leaves now);
 *   2. epoll_wait, for at most the time until the first timer (0 if a hook called loop_nowait);
 *   3. the cached clock is refreshed; each collected event goes to its loop_io's callback,
 *      unless that io was deleted earlier in the batch;
 *   4. deferred calls (frees of objects an event of this batch could still have named);
 *   5. due timers, in (deadline, id) order; timers added during this step wait for the next
 *      iteration.
 *
 * epoll is level-triggered: a callback does a bounded amount of work and leaves the rest for the
 * kernel to report again, which is what makes per-connection fairness free (see
 * docs/internals/net.md for the measurement behind the choice).
 *
 * Timers live in a binary min-heap of pointers ordered by (when, id); each timer knows its heap
 * index, and an open-addressing hash (linear probing, backward-shift deletion) maps id -> timer,
 * so loop_timer_cancel is O(log n) and a stale id finds nothing.
 *
 * loop_stop may run in a signal handler or another thread: it only stores an atomic flag and
 * writes 8 bytes to the loop's eventfd, both async-signal-safe.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "net/net_int.h"
#include "tandem/error.h"

#define LOOP_MAX_EVENTS 256

struct timer {
    int64_t when;
    uint64_t id;
    loop_cb cb;
    void *arg;
    size_t idx; /* position in the heap */
};

struct watch {
    struct loop_io io;
    loop_cb cb;
    void *arg;
    struct watch *next;
    struct loop_defer defer;
};

struct hook {
    loop_cb cb;
    void *arg;
};

struct loop {
    int epfd;
    int evfd;
    struct loop_io evio;
    atomic_int stop;
    bool nowait;
    int64_t now;

    struct timer **heap;
    size_t nheap, heap_cap;
    struct timer **tab; /* id -> timer, open addressing; tab_cap is a power of two */
    size_t ntab, tab_cap;
    uint64_t next_id;

    struct watch *watches;
    struct loop_defer *deferred;
    loop_cb before_sleep;
    void *before_sleep_arg;
    struct hook hooks[LOOP_MAX_HOOKS];
    int nhooks;
};

int64_t loop_clock_ms(void)
{
    return clock_mono_ms();
}

int64_t loop_now_ms(struct loop *l)
{
    return l->now;
}

/* ---- fd registration ------------------------------------------------------------------------- */

int loop_io_add(struct loop *l, struct loop_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
        log_warn("epoll_ctl add failed", "\"fd\":%d,\"errno\":%d", io->fd, errno);
        return TANDEM_EIO;
    }
    io->events = events;
    io->registered = true;
    return 0;
}

int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
    if (!io->registered || io->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) {
        log_warn("epoll_ctl mod failed", "\"fd\":%d,\"errno\":%d", io->fd, errno);
        return TANDEM_EIO;
    }
    io->events = events;
    return 0;
}

void loop_io_del(struct loop *l, struct loop_io *io)
{
    if (!io->registered)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->registered = false;
    io->events = 0;
}

void loop_defer(struct loop *l, struct loop_defer *d, loop_cb fn, void *arg)
{
    d->fn = fn;
    d->arg = arg;
    d->next = l->deferred;
    l->deferred = d;
}

static void run_deferred(struct loop *l)
{
    while (l->deferred) {
        struct loop_defer *d = l->deferred;
        l->deferred = d->next;
        d->fn(d->arg);
    }
}

/* ---- hooks ----------------------------------------------------------------------------------- */

int loop_hook_add(struct loop *l, loop_cb cb, void *arg)
{
    if (l->nhooks == LOOP_MAX_HOOKS)
        return TANDEM_ENOSPC;
    l->hooks[l->nhooks++] = (struct hook){cb, arg};
    return 0;
}

void loop_hook_del(struct loop *l, loop_cb cb, void *arg)
{
    for (int i = 0; i < l->nhooks; i++) {
        if (l->hooks[i].cb == cb && l->hooks[i].arg == arg) {
            memmove(&l->hooks[i], &l->hooks[i + 1],
                    (size_t)(l->nhooks - i - 1) * sizeof(struct hook));
            l->nhooks--;
            return;
        }
    }
}

void loop_nowait(struct loop *l)
{
    l->nowait = true;
}

void loop_set_before_sleep(struct loop *l, loop_cb cb, void *arg)
{
    l->before_sleep = cb;
    l->before_sleep_arg = arg;
}

/* ---- timers: heap ---------------------------------------------------------------------------- */

static bool timer_less(const struct timer *a, const struct timer *b)
{
    return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void heap_set(struct loop *l, size_t i, struct timer *t)
{
    l->heap[i] = t;
    t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
    struct timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(t, l->heap[parent]))
            break;
        heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
    struct timer *t = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && timer_less(l->heap[c + 1], l->heap[c]))
            c++;
        if (!timer_less(l->heap[c], t))
            break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, t);
}

static void heap_remove(struct loop *l, struct timer *t)
{
    size_t i = t->idx;
    struct timer *last = l->heap[--l->nheap];
    if (i == l->nheap)
        return;
    heap_set(l, i, last);
    heap_up(l, i);
    heap_down(l, last->idx);
}

/* ---- timers: id -> timer hash ---------------------------------------------------------------- */

static size_t tab_home(const struct loop *l, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (l->tab_cap - 1);
}

static void tab_put(struct loop *l, struct timer *t);

static void tab_grow(struct loop *l)
{
    struct timer **old = l->tab;
    size_t old_cap = l->tab_cap;
    l->tab_cap = old_cap ? old_cap * 2 : 64;
    l->tab = xcalloc(l->tab_cap, sizeof(*l->tab));
    l->ntab = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i])
            tab_put(l, old[i]);
    }
    free(old);
}

static void tab_put(struct loop *l, struct timer *t)
{
    if ((l->ntab + 1) * 2 > l->tab_cap)
        tab_grow(l);
    size_t i = tab_home(l, t->id);
    while (l->tab[i])
        i = (i + 1) & (l->tab_cap - 1);
    l->tab[i] = t;
    l->ntab++;
}

static size_t tab_find(const struct loop *l, uint64_t id)
{
    if (l->tab_cap == 0)
        return SIZE_MAX;
    size_t i = tab_home(l, id);
    while (l->tab[i]) {
        if (l->tab[i]->id == id)
            return i;
        i = (i + 1) & (l->tab_cap - 1);
    }
    return SIZE_MAX;
}

/* Removes entry i and shifts later members of its probe run back, so lookups need no
 * tombstones. */
static void tab_del_at(struct loop *l, size_t i)
{
    size_t mask = l->tab_cap - 1, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!l->tab[j])
            break;
        size_t k = tab_home(l, l->tab[j]->id);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        l->tab[i] = l->tab[j];
        i = j;
    }
    l->tab[i] = NULL;
    l->ntab--;
}

/* ---- timers: API ----------------------------------------------------------------------------- */

uint64_t loop_timer_add(struct loop *l, int64_t after_ms, loop_cb cb, void *arg)
{
    struct timer *t = xmalloc(sizeof(*t));
    t->when = l->now + (after_ms > 0 ? after_ms : 0);
    t->id = l->next_id++;
    t->cb = cb;
    t->arg = arg;
    if (l->nheap == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 64;
        l->heap = xrealloc(l->heap, l->heap_cap * sizeof(*l->heap));
    }
    heap_set(l, l->nheap++, t);
    heap_up(l, t->idx);
    tab_put(l, t);
    return t->id;
}

void loop_timer_cancel(struct loop *l, uint64_t id)
{
    size_t i = tab_find(l, id);
    if (i == SIZE_MAX)
        return;
    struct timer *t = l->tab[i];
    tab_del_at(l, i);
    heap_remove(l, t);
    free(t);
}

size_t loop_timer_count(const struct loop *l)
{
    return l->nheap;
}

static void run_timers(struct loop *l)
{
    uint64_t limit = l->next_id; /* timers added from here on wait for the next iteration */
    while (l->nheap > 0) {
        struct timer *t = l->heap[0];
        if (t->when > l->now || t->id >= limit)
            break;
        tab_del_at(l, tab_find(l, t->id));
        heap_remove(l, t);
        loop_cb cb = t->cb;
        void *arg = t->arg;
        free(t);
        cb(arg);
    }
}

/* ---- watched fds ----------------------------------------------------------------------------- */

static void watch_event(struct loop_io *io, uint32_t revents)
{
    struct watch *w = NET_CONTAINER_OF(io, struct watch, io);
    w->cb(w->arg);
}

int loop_watch_fd(struct loop *l, int fd, loop_cb on_readable, void *arg)
{
    for (struct watch *w = l->watches; w; w = w->next) {
        if (w->io.fd == fd)
            return TANDEM_EEXIST;
    }
    struct watch *w = xcalloc(1, sizeof(*w));
    w->io.fd = fd;
    w->io.cb = watch_event;
    w->cb = on_readable;
    w->arg = arg;
    int rc = loop_io_add(l, &w->io, EPOLLIN);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->next = l->watches;
    l->watches = w;
    return 0;
}

void loop_unwatch_fd(struct loop *l, int fd)
{
    for (struct watch **pp = &l->watches; *pp; pp = &(*pp)->next) {
        struct watch *w = *pp;
        if (w->io.fd != fd)
            continue;
        *pp = w->next;
        loop_io_del(l, &w->io);
        loop_defer(l, &w->defer, free, w);
        return;
    }
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void stop_event(struct loop_io *io, uint32_t revents)
{
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
    }
}

int loop_new(struct loop **out)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    l->evfd = -1;
    l->next_id = 1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto fail;
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->evfd < 0)
        goto fail;
    l->evio.fd = l->evfd;
    l->evio.cb = stop_event;
    if (loop_io_add(l, &l->evio, EPOLLIN) < 0)
        goto fail;
    atomic_init(&l->stop, 0);
    l->now = loop_clock_ms();
    *out = l;
    return 0;
fail:
    log_error("loop_new failed", "\"errno\":%d", errno);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->evfd >= 0)
        close(l->evfd);
    free(l);
    return TANDEM_EIO;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    run_deferred(l);
    for (size_t i = 0; i < l->nheap; i++)
        free(l->heap[i]);
    free(l->heap);
    free(l->tab);
    while (l->watches) {
        struct watch *w = l->watches;
        l->watches = w->next;
        free(w);
    }
    close(l->evfd);
    close(l->epfd);
    free(l);
}

void loop_stop(struct loop *l)
{
    int saved = errno; /* signal handlers must not clobber errno */
    atomic_store_explicit(&l->stop, 1, memory_order_relaxed);
    uint64_t one = 1;
    ssize_t n = write(l->evfd, &one, sizeof(one));
    (void)n; /* EAGAIN means a wake-up is already pending */
    errno = saved;
}

static int wait_timeout(struct loop *l, int64_t max_wait_ms)
{
    if (l->nowait || atomic_load_explicit(&l->stop, memory_order_relaxed))
        return 0;
    int64_t t = max_wait_ms;
    if (l->nheap > 0) {
        int64_t due = l->heap[0]->when - l->now;
        if (due < 0)
            due = 0;
        if (t < 0 || due < t)
            t = due;
    }
    if (t > 60000 || t < 0)
        return t < 0 ? -1 : 60000;
    return (int)t;
}

int loop_run_once(struct loop *l, int64_t max_wait_ms)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];
    l->nowait = false;
    l->now = loop_clock_ms();
    if (l->before_sleep)
        l->before_sleep(l->before_sleep_arg);
    for (int i = 0; i < l->nhooks; i++)
        l->hooks[i].cb(l->hooks[i].arg);
    l->now = loop_clock_ms();
    int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, wait_timeout(l, max_wait_ms));
    int saved = errno;
    l->now = loop_clock_ms();
    if (n < 0 && saved != EINTR) {
        log_error("epoll_wait failed", "\"errno\":%d", saved);
        return TANDEM_EIO;
    }
    for (int i = 0; i < n; i++) {
        struct loop_io *io = evs[i].data.ptr;
        if (io->registered)
            io->cb(io, evs[i].events);
    }
    run_deferred(l);
    run_timers(l);
    run_deferred(l);
    return 0;
}

int loop_run(struct loop *l)
{
    for (;;) {
        int rc = loop_run_once(l, -1);
        if (rc < 0)
            return rc;
        if (atomic_exchange_explicit(&l->stop, 0, memory_order_relaxed))
            return 0;
    }
}
