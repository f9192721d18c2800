/*
 * Problem details tests (src/lib/core/problem.c): exact JSON bodies for every status the server
 * produces, the RFC 9457 §3 example document built and parsed back, extension-name rules, the
 * §3.1 rule that members of the wrong type are ignored when parsing, and the one encoder's string
 * escapes (jansson's bytes), UTF-8 checks, caller-buffer/heap contract and extension members
 * (core_problem_format), and the reason table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/core/core_int.h"
#include "tandem/problem.h"

static void test_standard_bodies(void **state)
{
    static const struct {
        int status;
        const char *detail, *body;
    } t[] = {
        {400, "bad JSON at byte 7",
         "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
         "\"detail\":\"bad JSON at byte 7\"}"},
        {404, NULL, "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404}"},
        {405, NULL, "{\"type\":\"about:blank\",\"title\":\"Method Not Allowed\",\"status\":405}"},
        {408, NULL, "{\"type\":\"about:blank\",\"title\":\"Request Timeout\",\"status\":408}"},
        {413, NULL, "{\"type\":\"about:blank\",\"title\":\"Content Too Large\",\"status\":413}"},
        {415, NULL,
         "{\"type\":\"about:blank\",\"title\":\"Unsupported Media Type\",\"status\":415}"},
        {422, NULL,
         "{\"type\":\"about:blank\",\"title\":\"Unprocessable Content\",\"status\":422}"},
        {429, NULL, "{\"type\":\"about:blank\",\"title\":\"Too Many Requests\",\"status\":429}"},
        {431, NULL,
         "{\"type\":\"about:blank\",\"title\":\"Request Header Fields Too Large\",\"status\":431}"},
        {500, "x\"y\\z\n",
         "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500,"
         "\"detail\":\"x\\\"y\\\\z\\n\"}"},
        {503, NULL, "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503}"},
        {599, NULL, "{\"type\":\"about:blank\",\"title\":\"Unknown Status\",\"status\":599}"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char *body = NULL;
        size_t len = 0;
        assert_int_equal(tandem_problem_body(t[i].status, t[i].detail, &body, &len), 0);
        assert_string_equal(body, t[i].body);
        assert_int_equal(len, strlen(t[i].body));
        free(body);
    }
    char *body = (char *)"untouched";
    size_t len = 0;
    assert_int_equal(tandem_problem_body(200, NULL, &body, &len), TANDEM_EINVAL);
    assert_int_equal(tandem_problem_body(600, NULL, &body, &len), TANDEM_EINVAL);
    assert_int_equal(tandem_problem_body(404, "\xff\xfe", &body, &len), TANDEM_EINVAL);
    assert_string_equal(TANDEM_PROBLEM_CONTENT_TYPE, "application/problem+json");
    assert_string_equal(tandem_http_reason(304), "Not Modified");
}

/* RFC 9457 §3's first example (an out-of-credit problem with two extension members), with the
 * response's status 403 added as the "status" member. */
static const char rfc_example[] = "{\"type\":\"https://example.com/probs/out-of-credit\","
                                  "\"title\":\"You do not have enough credit.\",\"status\":403,"
                                  "\"detail\":\"Your current balance is 30, but that costs 50.\","
                                  "\"instance\":\"/account/12345/msgs/abc\",\"balance\":30,"
                                  "\"accounts\":[\"/account/12345\",\"/account/67890\"]}";

static void test_rfc_example_build(void **state)
{
    struct tandem_problem *p = NULL;
    assert_int_equal(tandem_problem_new(403, NULL, &p), 0);
    assert_int_equal(tandem_problem_set_type(p, "https://example.com/probs/out-of-credit",
                                             "You do not have enough credit."),
                     0);
    assert_int_equal(tandem_problem_set_detail(p, "Your current balance is 30, but that costs 50."),
                     0);
    assert_int_equal(tandem_problem_set_instance(p, "/account/12345/msgs/abc"), 0);
    assert_int_equal(tandem_problem_set_int(p, "balance", 0), 0);
    assert_int_equal(
        tandem_problem_set_json(p, "accounts", "[\"/account/12345\",\"/account/67890\"]"), 0);
    assert_int_equal(tandem_problem_set_int(p, "balance", 30), 0); /* replaced in place */
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(tandem_problem_encode(p, &body, &len), 0);
    assert_string_equal(body, rfc_example);
    free(body);

    /* removing optional members */
    assert_int_equal(tandem_problem_set_detail(p, NULL), 0);
    assert_int_equal(tandem_problem_set_instance(p, NULL), 0);
    assert_null(tandem_problem_detail(p));
    tandem_problem_free(p);
    tandem_problem_free(NULL);
}

static void test_rfc_example_parse(void **state)
{
    struct tandem_problem *p = NULL;
    assert_int_equal(tandem_problem_parse(rfc_example, strlen(rfc_example), &p), 0);
    assert_int_equal(tandem_problem_status(p), 403);
    assert_string_equal(tandem_problem_type(p), "https://example.com/probs/out-of-credit");
    assert_string_equal(tandem_problem_title(p), "You do not have enough credit.");
    assert_string_equal(tandem_problem_detail(p), "Your current balance is 30, but that costs 50.");
    assert_string_equal(tandem_problem_instance(p), "/account/12345/msgs/abc");
    assert_null(tandem_problem_get_str(p, "balance")); /* a number, not a string */
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(tandem_problem_encode(p, &body, &len), 0);
    assert_string_equal(body, rfc_example); /* round trip, same bytes */
    free(body);
    tandem_problem_free(p);
}

static void test_parse_lenient_and_errors(void **state)
{
    static const struct {
        const char *json;
        int rc, status;
        const char *type, *title, *ext_code;
    } t[] = {
        /* §3.1.1: wrong-typed members are ignored; absent type is about:blank */
        {"{\"type\":7,\"status\":\"404\",\"title\":[],\"code\":\"E1\"}", 0, 0, "about:blank", NULL,
         "E1"},
        {"{\"status\":404.5}", 0, 0, "about:blank", NULL, NULL},
        {"{\"status\":1000}", 0, 0, "about:blank", NULL, NULL},
        {"{}", 0, 0, "about:blank", NULL, NULL},
        {"{\"status\":429,\"title\":\"Too Many Requests\"}", 0, 429, "about:blank",
         "Too Many Requests", NULL},
        {"[]", TANDEM_EINVAL, 0, NULL, NULL, NULL},
        {"{\"a\":1,\"a\":2}", TANDEM_EINVAL, 0, NULL, NULL, NULL},
        {"{", TANDEM_EINVAL, 0, NULL, NULL, NULL},
        {"", TANDEM_EINVAL, 0, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tandem_problem *p = NULL;
        print_message("parse %zu: %s\n", i, t[i].json);
        assert_int_equal(tandem_problem_parse(t[i].json, strlen(t[i].json), &p), t[i].rc);
        if (t[i].rc != 0) {
            assert_null(p);
            continue;
        }
        assert_int_equal(tandem_problem_status(p), t[i].status);
        assert_string_equal(tandem_problem_type(p), t[i].type);
        if (t[i].title)
            assert_string_equal(tandem_problem_title(p), t[i].title);
        else
            assert_null(tandem_problem_title(p));
        if (t[i].ext_code)
            assert_string_equal(tandem_problem_get_str(p, "code"), t[i].ext_code);
        else
            assert_null(tandem_problem_get_str(p, "code"));
        tandem_problem_free(p);
    }
}

static void test_extension_names(void **state)
{
    static const struct {
        const char *name;
        int rc;
    } t[] = {
        {"balance", 0},
        {"retry_after", 0},
        {"abc", 0},
        {"ab", TANDEM_EINVAL},
        {"1abc", TANDEM_EINVAL},
        {"_abc", TANDEM_EINVAL},
        {"a-bc", TANDEM_EINVAL},
        {"status", TANDEM_EINVAL},
        {"type", TANDEM_EINVAL},
        {"instance", TANDEM_EINVAL},
        {"", TANDEM_EINVAL},
    };
    struct tandem_problem *p = NULL;
    assert_int_equal(tandem_problem_new(422, "invalid fields", &p), 0);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(tandem_problem_set_str(p, t[i].name, "v"), t[i].rc);
    assert_int_equal(tandem_problem_set_str(p, "abc", "\xc3\x28"), TANDEM_EINVAL); /* bad UTF-8 */
    assert_int_equal(tandem_problem_set_json(p, "errors", "[1,"), TANDEM_EINVAL);
    assert_int_equal(tandem_problem_set_json(p, "errors", "[{\"field\":\"email\"}]"), 0);
    assert_int_equal(tandem_problem_set_type(p, NULL, "x"), TANDEM_EINVAL);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(tandem_problem_encode(p, &body, &len), 0);
    assert_string_equal(body, "{\"type\":\"about:blank\",\"title\":\"Unprocessable Content\","
                              "\"status\":422,\"detail\":\"invalid fields\",\"balance\":\"v\","
                              "\"retry_after\":\"v\",\"abc\":\"v\",\"errors\":[{\"field\":"
                              "\"email\"}]}");
    assert_string_equal(tandem_problem_get_str(p, "abc"), "v");
    free(body);
    tandem_problem_free(p);
}

/* The encoder writes strings as jansson does (jansson is the oracle: same bytes as json_dumps)
 * and refuses what is not UTF-8. */
static void test_string_escapes(void **state)
{
    static const char *const ok[] = {
        "a \"quoted\"\n detail",
        "back\\slash/and\ttab\r\b\f",
        "ctl \x01\x1f end",
        "del \x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "\xe2\x80\xa8 line separator",
        "",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *body = NULL;
        size_t len = 0;
        assert_int_equal(tandem_problem_body(413, ok[i], &body, &len), 0);
        json_t *d = json_string(ok[i]);
        char *want_detail = json_dumps(d, JSON_ENCODE_ANY | JSON_COMPACT);
        char want[512];
        snprintf(want, sizeof(want),
                 "{\"type\":\"about:blank\",\"title\":\"Content Too Large\",\"status\":413,"
                 "\"detail\":%s}",
                 want_detail);
        assert_string_equal(body, want);
        assert_int_equal(len, strlen(want));
        free(want_detail);
        json_decref(d);
        free(body);
    }
    static const char *const bad[] = {
        "\xff",
        "\xc0\xaf" /* overlong '/' */,
        "\xed\xa0\x80" /* a surrogate */,
        "\xf4\x90\x80\x80" /* above U+10FFFF */,
        "\xe2\x82" /* cut short */,
        "ok then \x80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *body = (char *)"untouched";
        size_t len = 0;
        assert_int_equal(tandem_problem_body(400, bad[i], &body, &len), TANDEM_EINVAL);
        assert_null(body);
    }
}

/* core_problem_format: on the caller's buffer when the document fits, on the heap (same bytes)
 * when not; extension members from a JSON object, checked as the setters check names. */
static void test_core_format(void **state)
{
    static const char want[] = "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
                               "\"detail\":\"request body exceeds the limit\"}";
    char buf[512], small[16], *out = NULL;
    size_t len = 0;
    assert_int_equal(core_problem_format(400, "request body exceeds the limit", NULL, buf,
                                         sizeof(buf), &out, &len),
                     0);
    assert_ptr_equal(out, buf);
    assert_string_equal(out, want);
    assert_int_equal(len, sizeof(want) - 1);
    assert_int_equal(core_problem_format(400, "request body exceeds the limit", NULL, small,
                                         sizeof(small), &out, &len),
                     0);
    assert_true(out != small);
    assert_string_equal(out, want);
    assert_int_equal(len, sizeof(want) - 1);
    free(out);
    /* exactly the document's length: no room for the NUL, so the heap */
    assert_int_equal(core_problem_format(400, "request body exceeds the limit", NULL, buf,
                                         sizeof(want) - 1, &out, &len),
                     0);
    assert_true(out != buf);
    assert_string_equal(out, want);
    free(out);

    /* RealWorld's 422: {"errors":{"field":["message"]}} as an extension member */
    json_t *m = json_pack("{s:{s:[s,s],s:[s]}}", "errors", "email", "can't be blank", "is invalid",
                          "username", "has already been taken");
    static const char want422[] =
        "{\"type\":\"about:blank\",\"title\":\"Unprocessable Content\",\"status\":422,"
        "\"detail\":\"invalid fields\",\"errors\":{\"email\":[\"can't be blank\",\"is invalid\"],"
        "\"username\":[\"has already been taken\"]}}";
    assert_int_equal(core_problem_format(422, "invalid fields", m, buf, sizeof(buf), &out, &len),
                     0);
    assert_ptr_equal(out, buf);
    assert_string_equal(out, want422);
    assert_int_equal(len, sizeof(want422) - 1);
    assert_int_equal(
        core_problem_format(422, "invalid fields", m, small, sizeof(small), &out, &len), 0);
    assert_string_equal(out, want422);
    free(out);
    json_decref(m);

    static const char *const bad_members[] = {"[1]", "{\"status\":1}", "{\"ab\":1}",
                                              "{\"a-b-c\":1}", "{\"detail\":\"x\"}"};
    for (size_t i = 0; i < sizeof(bad_members) / sizeof(bad_members[0]); i++) {
        json_t *b = json_loads(bad_members[i], 0, NULL);
        assert_non_null(b);
        out = buf;
        assert_int_equal(core_problem_format(422, NULL, b, buf, sizeof(buf), &out, &len),
                         TANDEM_EINVAL);
        assert_null(out);
        json_decref(b);
    }
    assert_int_equal(core_problem_format(399, NULL, NULL, buf, sizeof(buf), &out, &len),
                     TANDEM_EINVAL);
    assert_int_equal(core_problem_format(600, NULL, NULL, buf, sizeof(buf), &out, &len),
                     TANDEM_EINVAL);
    assert_int_equal(core_problem_format(404, "\xc3\x28", NULL, buf, sizeof(buf), &out, &len),
                     TANDEM_EINVAL);
}

/* One reason table for status lines and titles. */
static void test_reasons(void **state)
{
    assert_string_equal(tandem_http_reason(100), "Continue");
    assert_string_equal(tandem_http_reason(200), "OK");
    assert_string_equal(tandem_http_reason(204), "No Content");
    assert_string_equal(tandem_http_reason(413), "Content Too Large");
    assert_string_equal(tandem_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(tandem_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(tandem_http_reason(299), "Unknown Status");
    assert_string_equal(tandem_http_reason(600), "Unknown Status");
    assert_string_equal(tandem_http_reason(-1), "Unknown Status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_bodies),   cmocka_unit_test(test_rfc_example_build),
        cmocka_unit_test(test_rfc_example_parse), cmocka_unit_test(test_parse_lenient_and_errors),
        cmocka_unit_test(test_extension_names),   cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_core_format),       cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
