/*
 * Wall-clock time in milliseconds since the epoch: timestamps that outlive the process (record
 * times, commit times, retention). Durations and deadlines use CLOCK_MONOTONIC instead.
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

#endif
