/*
 * The HTTP client's policies, as pure functions: which calls are retried, how long to wait
 * between attempts, what Retry-After asks for, and the circuit breaker of an upstream.
 *
 * BREAKER. One per upstream (scheme://host:port), a three-state machine over attempts (not
 * calls: a call retried three times against a dead upstream is three failures):
 *
 *   CLOSED    --threshold consecutive failures-->        OPEN (until now + cooldown)
 *   OPEN      --first admit after the cool-down-->       HALF_OPEN, that attempt is the probe
 *   HALF_OPEN --probe succeeds-->                        CLOSED (count reset)
 *   HALF_OPEN --probe fails or is cancelled-->           OPEN (another cool-down)
 *
 * While OPEN, and while HALF_OPEN with the probe out, admit refuses (TANDEM_EUNSUPPORTED).
 * "Consecutive failures" was chosen over a failure ratio in a window: it needs no window
 * bookkeeping, reacts within N attempts to a dead upstream, and a healthy upstream with rare
 * errors never trips it. A failure is a transport error, a timeout or a 5xx answer; any other
 * answer (4xx included: the upstream is up and saying no) is a success.
 *
 * BACKOFF. "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015): the
 * n-th wait is uniform in [0, min(max, base * 2^n)), which spreads retries of many clients that
 * failed together instead of having them return in lock-step.
 */
#include "client_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int breaker_admit(struct breaker *b, int64_t now, bool *probe)
{
    *probe = false;
    if (b->state == TANDEM_BREAKER_OPEN) {
        if (now < b->open_until) {
            return TANDEM_EUNSUPPORTED;
        }
        b->state = TANDEM_BREAKER_HALF_OPEN;
        b->probe_in_flight = false;
    }
    if (b->state == TANDEM_BREAKER_HALF_OPEN) {
        if (b->probe_in_flight) {
            return TANDEM_EUNSUPPORTED;
        }
        b->probe_in_flight = true;
        *probe = true;
    }
    return 0;
}

void breaker_record(struct breaker *b, bool ok, bool probe, int threshold, int64_t cooldown,
                    int64_t now)
{
    if (probe) {
        b->probe_in_flight = false;
        if (ok) {
            b->state = TANDEM_BREAKER_CLOSED;
            b->consecutive = 0;
        } else {
            b->state = TANDEM_BREAKER_OPEN;
            b->open_until = now + cooldown;
        }
        return;
    }
    if (b->state != TANDEM_BREAKER_CLOSED) {
        return; /* an attempt admitted before the breaker opened: the state already says it */
    }
    if (ok) {
        b->consecutive = 0;
        return;
    }
    b->consecutive++;
    if (b->consecutive >= threshold) {
        b->state = TANDEM_BREAKER_OPEN;
        b->open_until = now + cooldown;
    }
}

bool method_idempotent(const char *m)
{
    static const char *const idem[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof idem / sizeof idem[0]; i++) {
        if (strcmp(m, idem[i]) == 0) {
            return true;
        }
    }
    return false;
}

bool outcome_retryable(int err, int status)
{
    if (err == TANDEM_EIO || err == TANDEM_ETIMEDOUT) {
        return true;
    }
    return err == 0 && (status == 429 || status == 502 || status == 503 || status == 504);
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

int64_t backoff_delay(int64_t base, int64_t max, int retry, uint64_t *rng)
{
    int64_t cap = base;
    for (int i = 0; i < retry && cap < max; i++) {
        cap *= 2;
    }
    if (cap > max) {
        cap = max;
    }
    if (cap <= 0) {
        return 0;
    }
    return (int64_t)(xorshift64(rng) % (uint64_t)cap);
}

int64_t retry_after_ms(const char *value, int64_t now_unix)
{
    if (value == NULL || *value == '\0') {
        return -1;
    }
    if (value[0] >= '0' && value[0] <= '9') {
        char *end = NULL;
        long long s = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t') {
            end++;
        }
        if (*end != '\0' || s < 0 || s > 86400LL * 365) {
            return -1;
        }
        return (int64_t)s * 1000;
    }
    time_t t = curl_getdate(value, NULL); /* IMF-fixdate and the obsolete forms */
    if (t == (time_t)-1) {
        return -1;
    }
    return (int64_t)t <= now_unix ? 0 : ((int64_t)t - now_unix) * 1000;
}
