/*
 * Unit tests of the event loop (src/broker/net/loop.c): timer order and cancellation (a
 * randomized stress against a reference model), watched fds, before-sleep, loop_stop from
 * another thread and from a signal handler.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net.h"
#include "tandem/error.h"

struct rec {
    struct loop *l;
    int order[64];
    int n;
    uint64_t ids[64];
};

struct tcb {
    struct rec *r;
    int tag;
};

static void record(void *arg)
{
    struct tcb *t = arg;
    t->r->order[t->r->n++] = t->tag;
}

static void stop_cb(void *arg)
{
    loop_stop(arg);
}

static void test_timers_order_and_cancel(void **state)
{
    struct loop *l;
    assert_int_equal(loop_new(&l), 0);
    struct rec r = {.l = l};
    struct tcb t[6];
    int64_t after[6] = {30, 10, 20, 10, 5, 25};
    for (int i = 0; i < 6; i++) {
        t[i] = (struct tcb){&r, i};
        r.ids[i] = loop_timer_add(l, after[i], record, &t[i]);
        assert_true(r.ids[i] > 0);
    }
    loop_timer_cancel(l, r.ids[5]); /* cancelled: never fires */
    loop_timer_cancel(l, r.ids[5]); /* twice: no-op */
    loop_timer_cancel(l, 987654);   /* unknown: no-op */
    loop_timer_cancel(l, 0);        /* zero: no-op */
    assert_int_equal(loop_timer_count(l), 5);
    loop_timer_add(l, 60, stop_cb, l);
    assert_int_equal(loop_run(l), 0);
    int want[] = {4, 1, 3, 2, 0}; /* by deadline, ties in insertion order */
    assert_int_equal(r.n, 5);
    assert_memory_equal(r.order, want, sizeof(want));
    loop_timer_cancel(l, r.ids[0]); /* already fired: no-op */
    assert_int_equal(loop_timer_count(l), 0);
    loop_free(l);
}

/* A 0 ms timer that re-arms itself fires once per iteration, so other work still runs. */
struct rearm {
    struct loop *l;
    int fired;
    int sleeps;
};

static void rearm_cb(void *arg)
{
    struct rearm *r = arg;
    r->fired++;
    if (r->fired < 5)
        loop_timer_add(r->l, 0, rearm_cb, r);
    else
        loop_stop(r->l);
}

static void count_sleep(void *arg)
{
    ((struct rearm *)arg)->sleeps++;
}

static void test_timer_zero_rearm_and_before_sleep(void **state)
{
    struct loop *l;
    assert_int_equal(loop_new(&l), 0);
    struct rearm r = {.l = l};
    loop_set_before_sleep(l, count_sleep, &r);
    loop_timer_add(l, 0, rearm_cb, &r);
    assert_int_equal(loop_run(l), 0);
    assert_int_equal(r.fired, 5);
    assert_true(r.sleeps >= 5); /* one iteration per firing */
    loop_free(l);
}

/* Stress: random deadlines, random cancellations (some from inside callbacks), checked against
 * the order a reference sort gives. */
struct stress {
    struct loop *l;
    uint64_t ids[2000];
    int64_t when[2000];
    bool cancelled[2000];
    int fired[2000];
    int nfired;
    int args[2000];
};

static struct stress *g_st;

static void stress_cb(void *arg)
{
    int i = *(int *)arg;
    g_st->fired[g_st->nfired++] = i;
    if (i % 7 == 0) { /* cancel a later one from inside a callback */
        int j = (i * 13 + 5) % 2000;
        if (!g_st->cancelled[j]) {
            bool pending = true;
            for (int k = 0; k < g_st->nfired; k++)
                pending = pending && g_st->fired[k] != j;
            if (pending) {
                loop_timer_cancel(g_st->l, g_st->ids[j]);
                g_st->cancelled[j] = true;
            }
        }
    }
}

static void test_timer_stress(void **state)
{
    struct stress *st = calloc(1, sizeof(*st));
    g_st = st;
    assert_int_equal(loop_new(&st->l), 0);
    srand(42);
    for (int i = 0; i < 2000; i++) {
        st->args[i] = i;
        st->when[i] = rand() % 40;
        st->ids[i] = loop_timer_add(st->l, st->when[i], stress_cb, &st->args[i]);
    }
    for (int i = 0; i < 2000; i += 3) {
        loop_timer_cancel(st->l, st->ids[i]);
        st->cancelled[i] = true;
    }
    loop_timer_add(st->l, 80, stop_cb, st->l);
    assert_int_equal(loop_run(st->l), 0);
    int expect = 0;
    for (int i = 0; i < 2000; i++)
        expect += !st->cancelled[i];
    assert_int_equal(st->nfired, expect);
    for (int k = 1; k < st->nfired; k++) {
        int a = st->fired[k - 1], b = st->fired[k];
        /* deadlines are relative to the same cached now, so (when, id) must be non-decreasing */
        assert_true(st->when[a] < st->when[b] || (st->when[a] == st->when[b] && a < b));
    }
    assert_int_equal(loop_timer_count(st->l), 0);
    loop_free(st->l);
    free(st);
}

struct watch_ctx {
    struct loop *l;
    int efd;
    int reads;
};

static void on_efd(void *arg)
{
    struct watch_ctx *w = arg;
    uint64_t v;
    assert_int_equal(read(w->efd, &v, sizeof(v)), sizeof(v));
    w->reads++;
    if (w->reads == 2) {
        loop_unwatch_fd(w->l, w->efd); /* from its own callback */
        loop_stop(w->l);
    }
}

static void poke(void *arg)
{
    struct watch_ctx *w = arg;
    uint64_t one = 1;
    assert_int_equal(write(w->efd, &one, sizeof(one)), sizeof(one));
}

static void test_watch_fd(void **state)
{
    struct watch_ctx w = {0};
    assert_int_equal(loop_new(&w.l), 0);
    w.efd = eventfd(0, EFD_NONBLOCK);
    assert_int_equal(loop_watch_fd(w.l, w.efd, on_efd, &w), 0);
    assert_int_equal(loop_watch_fd(w.l, w.efd, on_efd, &w), TANDEM_EEXIST);
    loop_timer_add(w.l, 5, poke, &w);
    loop_timer_add(w.l, 15, poke, &w);
    assert_int_equal(loop_run(w.l), 0);
    assert_int_equal(w.reads, 2);
    poke(&w); /* unwatched: nothing delivered */
    assert_int_equal(loop_run_once(w.l, 20), 0);
    assert_int_equal(w.reads, 2);
    loop_unwatch_fd(w.l, w.efd); /* not watched: no-op */
    close(w.efd);
    loop_free(w.l);
}

static void *stopper(void *arg)
{
    usleep(30000);
    loop_stop(arg);
    return NULL;
}

static struct loop *g_sig_loop;

static void on_alarm(int sig)
{
    loop_stop(g_sig_loop);
}

static void test_stop_from_thread_and_signal(void **state)
{
    struct loop *l;
    assert_int_equal(loop_new(&l), 0);
    pthread_t th;
    int64_t t0 = loop_clock_ms();
    pthread_create(&th, NULL, stopper, l);
    assert_int_equal(loop_run(l), 0); /* no timers: only the eventfd wakes it */
    pthread_join(th, NULL);
    assert_true(loop_clock_ms() - t0 >= 25);

    g_sig_loop = l;
    struct sigaction sa = {.sa_handler = on_alarm};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    assert_int_equal(loop_run(l), 0);
    signal(SIGALRM, SIG_DFL);

    loop_stop(l); /* before run: returns after one iteration */
    assert_int_equal(loop_run(l), 0);
    loop_timer_add(l, 100000, stop_cb, l); /* pending at free: dropped */
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_order_and_cancel),
        cmocka_unit_test(test_timer_zero_rearm_and_before_sleep),
        cmocka_unit_test(test_timer_stress),
        cmocka_unit_test(test_watch_fd),
        cmocka_unit_test(test_stop_from_thread_and_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
