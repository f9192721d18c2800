/*
 * test_lib_log: the JSON-line logger (src/common/log.c). Every line it writes must be one valid
 * JSON object (judged by jansson, which refuses bytes that are not UTF-8), whatever it is given:
 * strings with quotes, control characters and bytes that are not UTF-8 (U+FFFD in their place),
 * members a caller formatted into something that is not JSON (kept as "fields_invalid"), values
 * and lines longer than the limits (cut at a character boundary). stderr is redirected into a
 * temporary file while a test logs.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"
#include "test_log_capture.h"

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- log_json_str ---------------------------------------------------------------------------- */

static void expect_escaped(const char *in, const char *want)
{
    char buf[256];
    assert_string_equal(log_json_str(buf, sizeof(buf), in), want);
    json_error_t err;
    json_t *j = json_loads(buf, JSON_DECODE_ANY, &err);
    if (j == NULL) {
        fail_msg("%s is not JSON: %s", buf, err.text);
    }
    json_decref(j);
}

static void test_json_str(void **state)
{
    (void)state;
    expect_escaped("plain /path", "\"plain /path\"");
    expect_escaped("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_escaped("tab\tnl\ncr\r\x01\x1f", "\"tab\\u0009nl\\u000acr\\u000d\\u0001\\u001f\"");
    expect_escaped("/\xff", "\"/\\ufffd\"");                                /* not UTF-8 at all */
    expect_escaped("\xc0\xaf", "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
    expect_escaped("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* a surrogate */
    expect_escaped("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
    expect_escaped("\xe2\x82", "\"\\ufffd\\ufffd\"");                       /* cut sequence */
    expect_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect_escaped("\x7f", "\"\x7f\"");
    char buf[64];
    assert_string_equal(log_json_str(buf, sizeof(buf), NULL), "null");
    /* cut at a character boundary, never inside a sequence or an escape */
    char small[8]; /* "ab€" needs 7 bytes + NUL: fits; one more character does not */
    assert_string_equal(log_json_str(small, sizeof(small), "ab\xe2\x82\xac"), "\"ab\xe2\x82\xac\"");
    assert_string_equal(log_json_str(small, sizeof(small), "abc\xe2\x82\xac"), "\"abc\"");
    assert_string_equal(log_json_str(small, sizeof(small), "abcd\"e"), "\"abcd\"");
    assert_string_equal(log_json_str(small, sizeof(small), "\xff"), "\"\"");
}

/* ---- whole lines ----------------------------------------------------------------------------- */

static void test_lines_always_json(void **state)
{
    (void)state;
    log_setup("unit\"comp", LOG_DEBUG);
    capture_begin();
    log_info("plain", "\"port\":%d,\"ok\":true,\"list\":[1,-2.5e3,{\"a\":null}],\"s\":\"x\"", 80);
    log_info("no fields", NULL);
    log_info("bad \xff msg", "\"path\":\"%s\"", "/\xff\"x"); /* unescaped %s */
    log_info("nan", "\"v\":%f", NAN);                        /* not a JSON number */
    log_info("newline", "\"s\":\"%s\"", "a\nb");             /* a raw LF */
    log_info("trailing comma", "\"a\":1,");
    log_info("leading zero", "\"a\":01");
    log_info("escaped", "\"path\":%s", log_json_str((char[64]){0}, 64, "/\xff\"x"));
    static char big[6000];
    memset(big, 'a', sizeof(big) - 1);
    log_info("too long", "\"big\":\"%s\",\"after\":1", big); /* cut by the line */
    log_debug("debug shown", NULL);
    log_setup("unit", LOG_WARN);
    log_info("filtered", NULL);
    log_warn("warn shown", NULL);
    json_t *lines = capture_end();
    assert_int_equal(json_array_size(lines), 11);
    json_t *o = json_array_get(lines, 0);
    assert_string_equal(str_of(o, "comp"), "unit\"comp");
    assert_string_equal(str_of(o, "level"), "info");
    assert_int_equal(json_integer_value(json_object_get(o, "port")), 80);
    assert_true(json_is_array(json_object_get(o, "list")));
    assert_non_null(str_of(o, "ts"));
    assert_int_equal(strlen(str_of(o, "ts")), strlen("2026-11-26T21:50:39.123Z"));
    assert_null(json_object_get(json_array_get(lines, 1), "fields_invalid"));
    o = json_array_get(lines, 2);
    assert_string_equal(str_of(o, "msg"), "bad \xef\xbf\xbd msg");
    assert_string_equal(str_of(o, "fields_invalid"), "\"path\":\"/\xef\xbf\xbd\"x\"");
    for (size_t i = 3; i <= 5; i++) {
        assert_non_null(str_of(json_array_get(lines, i), "fields_invalid"));
    }
    assert_string_equal(str_of(json_array_get(lines, 4), "fields_invalid"), "\"s\":\"a\nb\"");
    o = json_array_get(lines, 7);
    assert_string_equal(str_of(o, "path"), "/\xef\xbf\xbd\"x");
    o = json_array_get(lines, 8);
    const char *cut = str_of(o, "fields_invalid");
    assert_non_null(cut);
    assert_true(strlen(cut) > 3000);
    assert_string_equal(str_of(json_array_get(lines, 9), "level"), "debug");
    assert_string_equal(str_of(json_array_get(lines, 10), "msg"), "warn shown");
    json_decref(lines);
    log_setup("tandem", LOG_INFO);
}

static void test_line_builder(void **state)
{
    (void)state;
    log_setup("b", LOG_INFO);
    capture_begin();
    struct log_line l;
    assert_false(log_line_begin(&l, LOG_DEBUG, "below the level"));
    assert_true(log_line_begin(&l, LOG_INFO, "built"));
    log_line_str(&l, "path", "/\xff\x01\"");
    log_line_str(&l, "none", NULL);
    log_line_int(&l, "neg", -42);
    log_line_int(&l, "zero", 0);
    log_line_ms(&l, "ms", 1234567); /* 1.234567 ms */
    log_line_ms(&l, "small", 499);  /* 0.000 */
    log_line_ms(&l, "round", 1500); /* 0.002 */
    log_line_ms(&l, "big", 12000000000ULL);
    log_line_end(&l);
    /* a line whose values do not all fit: each value is cut to LOG_VALUE_MAX, then members that
     * no longer fit are left out; the line stays valid */
    static char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    assert_true(log_line_begin(&l, LOG_INFO, "full"));
    static const char *const keys[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"};
    for (int i = 0; i < 8; i++) {
        log_line_str(&l, keys[i], big);
    }
    log_line_int(&l, "last", 7);
    log_line_end(&l);
    json_t *lines = capture_end();
    assert_int_equal(json_array_size(lines), 2);
    json_t *o = json_array_get(lines, 0);
    assert_string_equal(str_of(o, "path"), "/\xef\xbf\xbd\x01\"");
    assert_true(json_is_null(json_object_get(o, "none")));
    assert_int_equal(json_integer_value(json_object_get(o, "neg")), -42);
    assert_int_equal(json_integer_value(json_object_get(o, "zero")), 0);
    assert_float_equal(json_real_value(json_object_get(o, "ms")), 1.235, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "small")), 0.0, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "round")), 0.002, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "big")), 12000.0, 1e-9);
    o = json_array_get(lines, 1);
    assert_int_equal(strlen(str_of(o, "v0")), LOG_VALUE_MAX - 2); /* quotes */
    assert_int_equal(strlen(str_of(o, "v1")), LOG_VALUE_MAX - 2);
    assert_int_equal(strlen(str_of(o, "v2")), LOG_VALUE_MAX - 2);
    assert_non_null(str_of(o, "v3")); /* what was left of the line */
    assert_null(json_object_get(o, "v4"));
    assert_null(json_object_get(o, "last"));
    json_decref(lines);
    log_setup("tandem", LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_lines_always_json),
        cmocka_unit_test(test_line_builder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
