/*
 * Pure parts of libtandem's events (src/lib/events/codec.c): the headers of a published record
 * (names, order and values, events_int.h's table), their decoding back into a struct
 * tandem_event (a round trip, records that are not CloudEvents, a bad traceparent), UUID version
 * 4 formatting (RFC 9562 §5.4), RFC 3339 times, the backoff's bounds, the consumer's defaults and
 * the dead-letter headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events_int.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static void assert_header(const struct tandem_kafka_header *h, const char *name, const char *v)
{
    assert_string_equal(h->name, name);
    assert_int_equal(h->value_len, strlen(v));
    assert_memory_equal(h->value, v, strlen(v));
}

static void test_headers_roundtrip(void **state)
{
    struct tandem_event_out ev = {.topic = "posts",
                                  .key = "k1",
                                  .key_len = 2,
                                  .type = "com.example.post.created",
                                  .subject = "posts/1",
                                  .data = "{}",
                                  .data_len = 2};
    struct tandem_kafka_header h[EVENTS_MAX_HEADERS];
    size_t n = 0;
    assert_int_equal(events_headers_build(&ev, "/posts", "id-1", "2026-11-26T22:48:53.123Z", TP, h,
                                          EVENTS_MAX_HEADERS, &n),
                     0);
    assert_int_equal(n, 8);
    assert_header(&h[0], "ce_specversion", "1.0");
    assert_header(&h[1], "ce_id", "id-1");
    assert_header(&h[2], "ce_source", "/posts");
    assert_header(&h[3], "ce_type", "com.example.post.created");
    assert_header(&h[4], "content-type", "application/json");
    assert_header(&h[5], "ce_subject", "posts/1");
    assert_header(&h[6], "ce_time", "2026-11-26T22:48:53.123Z");
    assert_header(&h[7], "traceparent", TP);

    size_t len = events_decode_buf_size(h, n);
    char *buf = malloc(len);
    struct tandem_event out = {0};
    assert_int_equal(events_record_decode(h, n, buf, len, &out), 0);
    assert_string_equal(out.id, "id-1");
    assert_string_equal(out.source, "/posts");
    assert_string_equal(out.type, "com.example.post.created");
    assert_string_equal(out.subject, "posts/1");
    assert_string_equal(out.time, "2026-11-26T22:48:53.123Z");
    assert_string_equal(out.traceparent, TP);
    free(buf);

    /* No subject: seven headers, ce_subject absent. */
    ev.subject = NULL;
    assert_int_equal(events_headers_build(&ev, "/posts", "id-1", "2026-11-26T22:48:53Z", TP, h,
                                          EVENTS_MAX_HEADERS, &n),
                     0);
    assert_int_equal(n, 7);
    assert_header(&h[5], "ce_time", "2026-11-26T22:48:53Z");
}

static void test_headers_invalid(void **state)
{
    struct tandem_event_out ev = {.topic = "t", .type = "x"};
    struct tandem_kafka_header h[EVENTS_MAX_HEADERS];
    size_t n;
    const char *t = "2026-11-26T22:48:53Z";
    assert_int_equal(events_headers_build(&ev, "/s", "1", t, TP, h, EVENTS_MAX_HEADERS, &n), 0);
    assert_int_equal(events_headers_build(&ev, "/s", "1", t, "00-00", h, EVENTS_MAX_HEADERS, &n),
                     TANDEM_EINVAL);
    assert_int_equal(events_headers_build(&ev, "/s", "", t, TP, h, EVENTS_MAX_HEADERS, &n),
                     TANDEM_EINVAL);
    assert_int_equal(events_headers_build(&ev, "/s", "1", t, TP, h, 3, &n), TANDEM_ETOOLARGE);
    ev.subject = "";
    assert_int_equal(events_headers_build(&ev, "/s", "1", t, TP, h, EVENTS_MAX_HEADERS, &n),
                     TANDEM_EINVAL);
    ev.subject = NULL;
    ev.type = NULL;
    assert_int_equal(events_headers_build(&ev, "/s", "1", t, TP, h, EVENTS_MAX_HEADERS, &n),
                     TANDEM_EINVAL);
    ev.type = "x";
    ev.topic = "";
    assert_int_equal(events_headers_build(&ev, "/s", "1", t, TP, h, EVENTS_MAX_HEADERS, &n),
                     TANDEM_EINVAL);
}

static void test_decode_not_cloudevent(void **state)
{
    /* A plain record (a traceparent in upper case, which W3C refuses, and no ce_ headers). */
    struct tandem_kafka_header h[] = {
        {"traceparent", "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", 55},
        {"other", "x", 1},
    };
    char buf[256];
    struct tandem_event ev;
    memset(&ev, 0xff, sizeof(ev));
    assert_int_equal(events_record_decode(h, 2, buf, sizeof(buf), &ev), TANDEM_ENOENT);
    assert_null(ev.id);
    assert_null(ev.type);
    assert_null(ev.source);
    assert_null(ev.subject);
    assert_null(ev.time);
    assert_null(ev.traceparent);
    /* Only a valid traceparent: kept, attributes NULL. */
    h[0].value = TP;
    assert_int_equal(events_record_decode(h, 1, buf, sizeof(buf), &ev), TANDEM_ENOENT);
    assert_string_equal(ev.traceparent, TP);
    assert_null(ev.id);
    assert_int_equal(events_record_decode(NULL, 0, buf, sizeof(buf), &ev), TANDEM_ENOENT);
    assert_null(ev.traceparent);
}

static void test_uuid(void **state)
{
    uint8_t zero[16] = {0}, ones[16];
    memset(ones, 0xff, sizeof(ones));
    char out[EVENTS_UUID_SIZE];
    events_uuid_format(zero, out);
    assert_string_equal(out, "00000000-0000-4000-8000-000000000000");
    events_uuid_format(ones, out);
    assert_string_equal(out, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    uint8_t seq[16];
    for (int i = 0; i < 16; i++)
        seq[i] = (uint8_t)(i * 17);
    events_uuid_format(seq, out);
    assert_string_equal(out, "00112233-4455-4677-8899-aabbccddeeff");
}

static void test_time(void **state)
{
    char out[EVENTS_TIME_SIZE];
    assert_int_equal(events_time_format(0, out), 0);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    assert_int_equal(events_time_format(INT64_C(1796251733123), out), 0);
    assert_string_equal(out, "2026-12-02T22:48:53.123Z");
    assert_true(tandem_rfc3339_valid(out, strlen(out)));
    assert_int_equal(events_time_format(INT64_C(951782400007), out), 0); /* leap day 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00.007Z");
    assert_int_equal(events_time_format(-1, out), TANDEM_ERANGE);
    assert_int_equal(events_time_format(INT64_C(253402300800000), out), TANDEM_ERANGE);
}

static void test_backoff(void **state)
{
    /* base doubles from 100 to the cap 10000; equal jitter keeps each wait in [base/2, base]. */
    static const int64_t bases[] = {100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000};
    for (int f = 1; f <= 9; f++) {
        int64_t b = bases[f - 1];
        assert_int_equal(events_backoff_ms(f, 100, 10000, 0), b / 2);
        assert_int_equal(events_backoff_ms(f, 100, 10000, (uint32_t)(b / 2)), b);
        for (uint32_t r = 0; r < 100000; r += 997) {
            int64_t w = events_backoff_ms(f, 100, 10000, r * 2654435761u);
            assert_true(w >= b / 2 && w <= b);
        }
    }
    assert_int_equal(events_backoff_ms(1000, 100, 10000, 0), 5000); /* no overflow */
    assert_int_equal(events_backoff_ms(3, 0, 0, 123), 0);
}

static void test_settings(void **state)
{
    const char *topics[] = {"a", "b"};
    struct tandem_consumer_config cfg = {.brokers = "127.0.0.1:9092",
                                         .group_id = "g",
                                         .topics = topics,
                                         .ntopics = 2,
                                         .handler = (tandem_event_handler_fn)1};
    struct events_consumer_settings s;
    assert_int_equal(events_consumer_settings(&cfg, &s), 0);
    assert_int_equal(s.max_attempts, 5);
    assert_int_equal(s.backoff_initial_ms, 100);
    assert_int_equal(s.backoff_max_ms, 10000);
    assert_string_equal(s.dead_letter_suffix, ".dlq");
    assert_int_equal(s.session_timeout_ms, 10000);
    assert_int_equal(s.max_poll_interval_ms, 300000);
    cfg.max_attempts = 100;
    cfg.backoff_max_ms = 60000;
    assert_int_equal(events_consumer_settings(&cfg, &s), 0);
    assert_int_equal(s.max_poll_interval_ms, 99 * 60000 + 60000);
    cfg.max_attempts = 10000; /* retries outlasting max.poll.interval.ms's bound */
    assert_int_equal(events_consumer_settings(&cfg, &s), TANDEM_EINVAL);
    cfg.max_attempts = 0;
    cfg.backoff_max_ms = 0;
    cfg.backoff_initial_ms = 20000; /* initial above the cap */
    assert_int_equal(events_consumer_settings(&cfg, &s), TANDEM_EINVAL);
    cfg.backoff_initial_ms = 0;
    cfg.dead_letter_suffix = "";
    assert_int_equal(events_consumer_settings(&cfg, &s), TANDEM_EINVAL);
    cfg.dead_letter_suffix = NULL;
    topics[1] = "";
    assert_int_equal(events_consumer_settings(&cfg, &s), TANDEM_EINVAL);
    topics[1] = "b";
    cfg.ntopics = 0;
    assert_int_equal(events_consumer_settings(&cfg, &s), TANDEM_EINVAL);
    cfg.ntopics = 2;
    cfg.handler = NULL;
    assert_int_equal(events_consumer_settings(&cfg, &s), TANDEM_EINVAL);
    assert_int_equal(events_consumer_settings(NULL, &s), TANDEM_EINVAL);
}

static void test_dlq_headers(void **state)
{
    struct events_dlq d;
    struct tandem_kafka_header h[EVENTS_DLQ_HEADERS];
    events_dlq_headers(&d, "orders", 3, INT64_C(9000000000), 5, false, h);
    assert_header(&h[0], "tandem_error", "retries exhausted");
    assert_header(&h[1], "tandem_attempts", "5");
    assert_header(&h[2], "tandem_original_topic", "orders");
    assert_header(&h[3], "tandem_original_partition", "3");
    assert_header(&h[4], "tandem_original_offset", "9000000000");
    events_dlq_headers(&d, "orders", 0, 0, 1, true, h);
    assert_header(&h[0], "tandem_error", "permanent failure");
    assert_header(&h[1], "tandem_attempts", "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_roundtrip),
        cmocka_unit_test(test_headers_invalid),
        cmocka_unit_test(test_decode_not_cloudevent),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_dlq_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
