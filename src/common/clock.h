/*
 * The two clocks. clock_wall_ms: milliseconds since the epoch, for timestamps that outlive the
 * process (record times, commit times, retention). clock_mono_ms and clock_mono_ns:
 * CLOCK_MONOTONIC, for durations and deadlines, which a change of the system time must not move
 * (ns where a duration is measured finer than a millisecond: request latencies, start-up time).
 * Every part of tandem reads the time through these, except two that need what they are not: the
 * HTTP worker's once-per-iteration coarse clocks (src/lib/http/worker.c, CLOCK_*_COARSE on
 * purpose, and the age of the log lines a worker buffers, src/common/log.c, on that same clock)
 * and the log line's timestamp (src/common/log.c formats the timespec's fields).
 */
#ifndef TANDEM_COMMON_CLOCK_H
#define TANDEM_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The time `ms` milliseconds from now on clock `clk` (ms <= 0: now), as the absolute timespec that
 * pthread_cond_timedwait takes (CLOCK_REALTIME unless the condition variable was set to another
 * clock with pthread_condattr_setclock). */
static inline struct timespec clock_deadline(clockid_t clk, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    if (ms > 0) {
        ts.tv_sec += (time_t)(ms / 1000);
        ts.tv_nsec += (long)(ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
    }
    return ts;
}

#endif
