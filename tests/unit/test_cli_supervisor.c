/*
 * Supervisor policy tests (src/cli/proc.c): what happens when a supervised process exits.
 *
 * The process here is a real child that has already exited and been reaped, handed to
 * sup_proc_reaped() as if the loop had reaped it (sup_proc_reaped sends no signal: the loop kills
 * a process group before it reaps the leader, so the reused pid cannot matter):
 *   - an exit nobody asked for is a crash: RESTARTING after 100, 200, 400, 800 ms...;
 *   - the fifth crash within 30 s is FAILED: left down, no longer wanted;
 *   - crashes further apart never fail, and the delay stops doubling at 5 s;
 *   - a process that had been ready for 30 s restarts after 100 ms again;
 *   - an exit that was asked for (stop) is STOPPED, not a crash; stopping a process that has
 *     none (restarting or failed) makes it STOPPED at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/supervisor.h"
#include "common/clock.h"

/* A pid that existed, exited with `code` and has been reaped; its wait status in *status. */
static pid_t dead_child(int code, int *status)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(code);
    }
    assert_int_equal(waitpid(pid, status, 0), pid);
    return pid;
}

static void setup_proc(struct sup *s)
{
    memset(s, 0, sizeof(*s));
    sup_proc_init(s, &s->broker, SUP_BROKER, 0, 0);
    s->broker.want = true;
}

/* Makes s->broker "running" with a pid that has just exited, and reports the exit. */
static void crash(struct sup *s, int code)
{
    int status;
    pid_t pid = dead_child(code, &status);
    s->broker.pid = pid;
    s->broker.state = SUP_READY;
    sup_proc_reaped(s, pid, status);
    assert_int_equal(s->broker.pid, 0);
}

/* A crash whose restart must be due `delay_ms` after it: bracketed by the clock just before and
 * after the report, never including the fork (which may take long on a loaded machine). */
static void crash_expect_delay(struct sup *s, int code, int delay_ms)
{
    int status;
    pid_t pid = dead_child(code, &status);
    s->broker.pid = pid;
    s->broker.state = SUP_READY;
    int64_t before = clock_mono_ms();
    sup_proc_reaped(s, pid, status);
    int64_t after = clock_mono_ms();
    assert_int_equal(s->broker.pid, 0);
    assert_int_equal(s->broker.state, SUP_RESTARTING);
    assert_true(s->broker.restart_at_ms >= before + delay_ms);
    assert_true(s->broker.restart_at_ms <= after + delay_ms);
}

static void test_backoff_then_failed(void **state)
{
    (void)state;
    struct sup s;
    setup_proc(&s);
    int want[] = {100, 200, 400, 800};
    for (int i = 0; i < 4; i++) {
        crash_expect_delay(&s, 1, want[i]);
        assert_true(s.broker.want);
    }
    crash(&s, 1);
    assert_int_equal(s.broker.state, SUP_FAILED);
    assert_false(s.broker.want);
    assert_int_equal(s.broker.n_crashes, 5);
    /* Nothing is restarted from FAILED. */
    int64_t next = clock_mono_ms() + 1000;
    sup_proc_tick(&s, &s.broker, clock_mono_ms() + 60000, &next);
    assert_int_equal(s.broker.state, SUP_FAILED);
    assert_int_equal(s.broker.pid, 0);
}

static void test_spread_crashes_cap(void **state)
{
    (void)state;
    struct sup s;
    setup_proc(&s);
    for (int i = 0; i < 12; i++) {
        /* every earlier crash is older than the window: never FAILED */
        for (int k = 0; k < SUP_CRASH_LIMIT; k++) {
            s.broker.crashes[k] -= SUP_CRASH_WINDOW_MS + 1000;
        }
        int expect = i < 6 ? SUP_BACKOFF_MIN_MS << i : SUP_BACKOFF_MAX_MS;
        expect = expect > SUP_BACKOFF_MAX_MS ? SUP_BACKOFF_MAX_MS : expect;
        crash_expect_delay(&s, 2, expect);
    }
    /* Ready for a whole window before this crash: back to the first delay. */
    s.broker.ready_ms = clock_mono_ms() - SUP_CRASH_WINDOW_MS - 1;
    crash_expect_delay(&s, 3, SUP_BACKOFF_MIN_MS);
}

static void test_asked_to_stop(void **state)
{
    (void)state;
    struct sup s;
    setup_proc(&s);
    int status;
    pid_t pid = dead_child(0, &status);
    s.broker.pid = pid;
    s.broker.state = SUP_STOPPING;
    s.broker.want = false;
    sup_proc_reaped(&s, pid, status);
    assert_int_equal(s.broker.state, SUP_STOPPED);
    assert_int_equal(s.broker.n_crashes, 0);

    s.broker.want = true;
    crash(&s, 1);
    assert_int_equal(s.broker.state, SUP_RESTARTING);
    sup_proc_stop(&s.broker); /* no process: stopped at once, no restart */
    assert_int_equal(s.broker.state, SUP_STOPPED);
    assert_false(s.broker.want);
    int64_t next = clock_mono_ms() + 1000;
    sup_proc_tick(&s, &s.broker, clock_mono_ms() + 60000, &next);
    assert_int_equal(s.broker.pid, 0);
    assert_string_equal(sup_state_name(SUP_FAILED), "failed");
    assert_string_equal(sup_state_name(SUP_RESTARTING), "restarting");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_then_failed),
        cmocka_unit_test(test_spread_crashes_cap),
        cmocka_unit_test(test_asked_to_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
