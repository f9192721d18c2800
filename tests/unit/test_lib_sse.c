/*
 * test_lib_sse: one server-sent event as bytes (core_sse_format, src/lib/core/sse.c): exact bytes
 * for the fields, data split into lines at CRLF, LF and CR, refusals (CR or LF in event or id),
 * the size asked for when the buffer is short; then 20,000 events of random bytes (CR, LF, NUL,
 * ':', spaces, bytes that are not UTF-8) read back with the standard's algorithm
 * (test_sse_util.h): each is one event, with its type and id, and the data with CRLF and CR
 * turned into LF, nothing else changed; several in a row, with comments and retry between, stay
 * apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/core/core_int.h"
#include "tandem/error.h"
#include "test_sse_util.h"

static void expect(const char *event, const char *id, const char *data, size_t len,
                   const char *want)
{
    char buf[512];
    size_t need = 0;
    assert_int_equal(core_sse_format(event, id, data, len, buf, sizeof(buf), &need), 0);
    assert_int_equal(need, strlen(want));
    assert_memory_equal(buf, want, need);
}

static void test_fields(void **state)
{
    (void)state;
    expect("greeted", "7", "hi", 2, "event: greeted\nid: 7\ndata: hi\n\n");
    expect(NULL, NULL, "hi", 2, "data: hi\n\n");
    expect("", "", "hi", 2, "id: \ndata: hi\n\n"); /* "" event: none; "" id: reset */
    expect(NULL, NULL, "", 0, "data: \n\n");
    expect(NULL, NULL, NULL, 99, "data: \n\n");
    expect(NULL, NULL, " x", 2, "data:  x\n\n"); /* the one space after the colon is ours */
    expect(" e", " i", "x", 1, "event:  e\nid:  i\ndata: x\n\n");
}

static void test_lines(void **state)
{
    (void)state;
    expect(NULL, NULL, "a\nb\r\nc\rd", 8, "data: a\ndata: b\ndata: c\ndata: d\n\n");
    expect(NULL, NULL, "a\n", 2, "data: a\ndata: \n\n");
    expect(NULL, NULL, "\r\n", 2, "data: \ndata: \n\n");
    expect(NULL, NULL, "\n\n", 2, "data: \ndata: \ndata: \n\n");
    expect(NULL, NULL, "\r\r\n", 3, "data: \ndata: \ndata: \n\n");
    char buf[32];
    size_t need = 0;
    assert_int_equal(core_sse_format(NULL, NULL, "a\0b", 3, buf, sizeof(buf), &need), 0);
    assert_int_equal(need, 11);
    assert_memory_equal(buf, "data: a\0b\n\n", 11); /* NUL passes as it is */
}

static void test_refusals_and_size(void **state)
{
    (void)state;
    char buf[64];
    size_t need = 0;
    assert_int_equal(core_sse_format("a\nb", NULL, "x", 1, buf, sizeof(buf), &need), TANDEM_EINVAL);
    assert_int_equal(core_sse_format("a\rb", NULL, "x", 1, buf, sizeof(buf), &need), TANDEM_EINVAL);
    assert_int_equal(core_sse_format(NULL, "1\n", "x", 1, buf, sizeof(buf), &need), TANDEM_EINVAL);
    assert_int_equal(core_sse_format(NULL, "\r", "x", 1, buf, sizeof(buf), &need), TANDEM_EINVAL);
    assert_int_equal(core_sse_format("e", "1", "0123456789", 10, buf, 8, &need), TANDEM_ETOOLARGE);
    assert_int_equal(need, strlen("event: e\nid: 1\ndata: 0123456789\n\n"));
    assert_int_equal(core_sse_format("e", "1", "0123456789", 10, buf, need, &need), 0);
}

/* A small deterministic generator (xorshift), so a failure can be replayed. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void random_text(char *out, size_t n, bool lines)
{
    static const char any[] = "\r\n\0 :abc\xff\xe2\x82\xac\xc3";
    static const char safe[] = " :abc.-_\xff\xe2\x82";
    for (size_t i = 0; i < n; i++) {
        out[i] = lines ? any[rnd() % (sizeof(any) - 1)] : safe[rnd() % (sizeof(safe) - 1)];
    }
    out[n] = '\0';
}

static void test_random_round_trips(void **state)
{
    (void)state;
    static char buf[4096], data[128], norm[128], event[16], id[16];
    for (int i = 0; i < 20000; i++) {
        size_t len = rnd() % 100;
        random_text(data, len, true);
        random_text(event, rnd() % 8, false);
        random_text(id, rnd() % 8, false);
        bool with_id = rnd() % 2;
        size_t need = 0;
        assert_int_equal(
            core_sse_format(event, with_id ? id : NULL, data, len, buf, sizeof(buf), &need), 0);
        assert_null(memchr(buf, '\r', need)); /* only LF ever ends a line */
        struct sse_ref r;
        sse_ref_init(&r);
        sse_ref_parse(&r, buf, need);
        assert_int_equal(r.n, 1);
        size_t nl = sse_ref_normalize(data, len, norm);
        assert_int_equal(r.ev[0].data.len, nl);
        assert_memory_equal(r.ev[0].data.p, norm, nl);
        assert_string_equal(r.ev[0].type.p, event);
        assert_string_equal(r.ev[0].id.p, with_id ? id : "");
        sse_ref_free(&r);
    }
}

/* Events, a heartbeat comment and a retry in one stream: each event on its own. */
static void test_stream_of_events(void **state)
{
    (void)state;
    char stream[1024];
    size_t at = 0, need = 0;
    assert_int_equal(core_sse_format("a", "1", "x\ny", 3, stream, sizeof(stream), &need), 0);
    at += need;
    memcpy(stream + at, ":\n\nretry: 2500\n\n", 16);
    at += 16;
    assert_int_equal(core_sse_format(NULL, NULL, "z", 1, stream + at, sizeof(stream) - at, &need),
                     0);
    at += need;
    struct sse_ref r;
    sse_ref_init(&r);
    sse_ref_parse(&r, stream, at);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.comments, 1);
    assert_int_equal(r.retry, 2500);
    assert_string_equal(r.ev[0].type.p, "a");
    assert_string_equal(r.ev[0].data.p, "x\ny");
    assert_string_equal(r.ev[1].type.p, ""); /* "message" */
    assert_string_equal(r.ev[1].data.p, "z");
    assert_string_equal(r.ev[1].id.p, "1"); /* the last event id stays */
    sse_ref_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_refusals_and_size),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_stream_of_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
