/*
 * test_load_resp: tandem-load's response parser (bench/load/resp.c, on http-parser). Each answer
 * is also fed split at every byte boundary, since reads may cut it anywhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../bench/load/resp.c"

/* Feeds data in pieces of at most `step` bytes; returns load_resp_feed's last code, *used the
 * bytes consumed in total. */
static int feed_steps(struct load_resp *r, const char *data, size_t len, size_t step, size_t *used)
{
    size_t at = 0;
    int rc = TANDEM_EAGAIN;
    while (at < len) {
        size_t n = len - at < step ? len - at : step;
        size_t u = 0;
        rc = load_resp_feed(r, data + at, n, &u);
        at += u;
        if (rc != TANDEM_EAGAIN) {
            break;
        }
    }
    *used = at;
    return rc;
}

/* Parses one complete answer at every split; checks status, body size, keep-alive and that it
 * took exactly `len` bytes. */
static void check_every_split(const char *text, bool head, int status, size_t body, bool ka)
{
    size_t len = strlen(text);
    for (size_t step = 1; step <= len; step++) {
        struct load_resp r;
        load_resp_begin(&r, head);
        size_t used = 0;
        assert_int_equal(feed_steps(&r, text, len, step, &used), 0);
        assert_int_equal(used, len);
        assert_true(r.done);
        assert_int_equal(r.status, status);
        assert_int_equal(r.body_bytes, body);
        assert_int_equal(r.keep_alive, ka);
    }
}

static void test_content_length(void **state)
{
    check_every_split("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: 27\r\n\r\n{\"message\":\"Hello, World!\"}",
                      false, 200, 27, true);
}

static void test_chunked_with_trailer(void **state)
{
    check_every_split("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
                      false, 200, 16, true);
}

static void test_no_body_answers(void **state)
{
    /* HEAD: the Content-Length describes the GET answer; no body bytes follow */
    check_every_split("HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n", true, 200, 0, true);
    check_every_split("HTTP/1.1 204 No Content\r\n\r\n", false, 204, 0, true);
    check_every_split("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, 304, 0, true);
}

/* 1xx, 204 and 304 answers end at the empty line, whatever Content-Length says (RFC 9112 6.3) */
static void test_no_body_despite_length(void **state)
{
    static const char text[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 27\r\n\r\nNEXT";
    struct load_resp r;
    load_resp_begin(&r, false);
    size_t used = 0;
    assert_int_equal(load_resp_feed(&r, text, sizeof(text) - 1, &used), 0);
    assert_int_equal(used, sizeof(text) - 1 - 4);
    assert_int_equal(r.body_bytes, 0);
    check_every_split("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, 204, 0, true);
    check_every_split("HTTP/1.1 100 Continue\r\nContent-Length: 2\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                      false, 200, 2, true);
}

static void test_interim_answer_skipped(void **state)
{
    check_every_split("HTTP/1.1 100 Continue\r\n\r\n"
                      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
                      false, 201, 2, true);
}

static void test_keep_alive_rules(void **state)
{
    check_every_split("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                      "Content-Length: 1\r\n\r\nx",
                      false, 503, 1, false);
    check_every_split("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, 1, false);
    check_every_split("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
                      false, 200, 1, true);
}

static void test_stops_at_answer_end(void **state)
{
    static const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    struct load_resp r;
    load_resp_begin(&r, false);
    size_t used = 0;
    assert_int_equal(load_resp_feed(&r, two, sizeof(two) - 1, &used), 0);
    assert_int_equal(used, strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    /* a finished answer takes nothing more */
    assert_int_equal(load_resp_feed(&r, two + used, sizeof(two) - 1 - used, &used), 0);
    assert_int_equal(used, 0);
}

static void test_body_until_close(void **state)
{
    static const char text[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome bytes";
    struct load_resp r;
    load_resp_begin(&r, false);
    size_t used = 0;
    assert_int_equal(load_resp_feed(&r, text, sizeof(text) - 1, &used), TANDEM_EAGAIN);
    assert_int_equal(used, sizeof(text) - 1);
    assert_int_equal(load_resp_feed(&r, "", 0, &used), 0);
    assert_true(r.done);
    assert_int_equal(r.body_bytes, 10);
    assert_false(r.keep_alive);
}

static void test_eof_cuts_answer(void **state)
{
    static const char *const cut[] = {
        "",                                                             /* nothing at all */
        "HTTP/1.1 200 O",                                               /* in the status line */
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",               /* in a sized body */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /* in a chunk */
    };
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        struct load_resp r;
        load_resp_begin(&r, false);
        size_t used = 0;
        size_t n = strlen(cut[i]);
        if (n > 0) {
            assert_int_equal(load_resp_feed(&r, cut[i], n, &used), TANDEM_EAGAIN);
        }
        assert_int_equal(load_resp_feed(&r, "", 0, &used), TANDEM_EPROTO);
        assert_false(r.done);
        assert_int_equal(r.started, n > 0);
    }
}

/* A caller's buffer gets the decoded body (chunks joined), cut at its size; the count is whole. */
static void test_body_kept(void **state)
{
    const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    size_t len = strlen(text);
    for (size_t step = 1; step <= len; step++) {
        char big[64], small[8];
        struct load_resp r;
        load_resp_begin(&r, false);
        r.body = big;
        r.body_cap = sizeof(big);
        size_t used = 0;
        assert_int_equal(feed_steps(&r, text, len, step, &used), 0);
        assert_int_equal(r.body_bytes, 12);
        assert_memory_equal(big, "hello, world", 12);
        load_resp_begin(&r, false);
        r.body = small;
        r.body_cap = sizeof(small);
        assert_int_equal(feed_steps(&r, text, len, step, &used), 0);
        assert_int_equal(r.body_bytes, 12);
        assert_memory_equal(small, "hello, w", 8);
    }
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "HTTP/x.1 200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        "<html>not http</html>",
        "HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 099 Below\r\nContent-Length: 0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct load_resp r;
        load_resp_begin(&r, false);
        size_t used = 0;
        int rc = load_resp_feed(&r, bad[i], strlen(bad[i]), &used);
        if (rc != TANDEM_EPROTO) {
            fail_msg("accepted bad answer %zu: %s", i, bad[i]);
        }
        assert_false(r.done);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_chunked_with_trailer),
        cmocka_unit_test(test_no_body_answers),
        cmocka_unit_test(test_no_body_despite_length),
        cmocka_unit_test(test_interim_answer_skipped),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_stops_at_answer_end),
        cmocka_unit_test(test_body_until_close),
        cmocka_unit_test(test_eof_cuts_answer),
        cmocka_unit_test(test_body_kept),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
