/*
 * The HTTP client's pure policies (src/lib/client/policy.c): the circuit breaker's state
 * machine driven with explicit times, the full-jitter backoff's bounds, Retry-After in both
 * forms, and which methods and outcomes are retried.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "client_int.h"

static void test_breaker_states(void **state)
{
    struct breaker b = {0};
    bool probe;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(breaker_admit(&b, 0, &probe), 0);
        assert_false(probe);
        breaker_record(&b, false, probe, 3, 100, 0);
    }
    assert_int_equal(b.state, TANDEM_BREAKER_CLOSED);
    breaker_record(&b, true, false, 3, 100, 0); /* a success resets the count */
    for (int i = 0; i < 3; i++) {
        breaker_record(&b, false, false, 3, 100, 10);
    }
    assert_int_equal(b.state, TANDEM_BREAKER_OPEN);
    assert_int_equal(breaker_admit(&b, 50, &probe), TANDEM_EUNSUPPORTED);
    assert_int_equal(breaker_admit(&b, 109, &probe), TANDEM_EUNSUPPORTED);
    /* cool-down over: one probe, the others refused while it is out */
    assert_int_equal(breaker_admit(&b, 110, &probe), 0);
    assert_true(probe);
    assert_int_equal(b.state, TANDEM_BREAKER_HALF_OPEN);
    bool p2;
    assert_int_equal(breaker_admit(&b, 111, &p2), TANDEM_EUNSUPPORTED);
    /* a late failure of an attempt admitted earlier does not disturb the half-open state */
    breaker_record(&b, false, false, 3, 100, 112);
    assert_int_equal(b.state, TANDEM_BREAKER_HALF_OPEN);
    breaker_record(&b, false, true, 3, 100, 120); /* the probe fails: open again */
    assert_int_equal(b.state, TANDEM_BREAKER_OPEN);
    assert_int_equal(breaker_admit(&b, 219, &probe), TANDEM_EUNSUPPORTED);
    assert_int_equal(breaker_admit(&b, 220, &probe), 0);
    assert_true(probe);
    breaker_record(&b, true, true, 3, 100, 230); /* the probe succeeds: closed */
    assert_int_equal(b.state, TANDEM_BREAKER_CLOSED);
    assert_int_equal(b.consecutive, 0);
    assert_int_equal(breaker_admit(&b, 231, &probe), 0);
    assert_false(probe);
}

static void test_backoff_bounds(void **state)
{
    uint64_t rng = 12345;
    int64_t seen_max[6] = {0};
    for (int i = 0; i < 2000; i++) {
        for (int r = 0; r < 6; r++) {
            int64_t d = backoff_delay(10, 50, r, &rng);
            int64_t cap = r == 0 ? 10 : r == 1 ? 20 : r == 2 ? 40 : 50;
            assert_true(d >= 0 && d < cap);
            if (d > seen_max[r]) {
                seen_max[r] = d;
            }
        }
    }
    assert_true(seen_max[0] >= 8); /* the draw spreads over the whole range */
    assert_true(seen_max[5] >= 45);
    assert_int_equal(backoff_delay(10, 50, 1000, &rng) < 50, 1); /* no overflow */
    assert_int_equal(backoff_delay(0, 0, 3, &rng), 0);
}

static void test_retry_after(void **state)
{
    assert_int_equal(retry_after_ms("0", 0), 0);
    assert_int_equal(retry_after_ms("2", 0), 2000);
    assert_int_equal(retry_after_ms("120 ", 0), 120000);
    assert_int_equal(retry_after_ms("-1", 0), -1);
    assert_int_equal(retry_after_ms("1x", 0), -1);
    assert_int_equal(retry_after_ms("", 0), -1);
    assert_int_equal(retry_after_ms(NULL, 0), -1);
    assert_int_equal(retry_after_ms("soon", 0), -1);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 (the RFC 9110 example) */
    assert_int_equal(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
    assert_int_equal(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
}

static void test_what_is_retried(void **state)
{
    const char *yes[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    const char *no[] = {"POST", "PATCH", "get", "TRACE", "CONNECT"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(method_idempotent(yes[i]));
        assert_false(method_idempotent(no[i]));
    }
    assert_true(outcome_retryable(TANDEM_EIO, 0));
    assert_true(outcome_retryable(TANDEM_ETIMEDOUT, 0));
    assert_false(outcome_retryable(TANDEM_ETOOLARGE, 0));
    assert_false(outcome_retryable(TANDEM_EUNSUPPORTED, 0));
    int retried[] = {429, 502, 503, 504};
    int kept[] = {200, 400, 404, 500, 501};
    for (size_t i = 0; i < 4; i++) {
        assert_true(outcome_retryable(0, retried[i]));
    }
    for (size_t i = 0; i < 5; i++) {
        assert_false(outcome_retryable(0, kept[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker_states),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_what_is_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
