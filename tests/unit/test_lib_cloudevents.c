/*
 * CloudEvents Kafka binding tests (src/lib/core/cloudevents.c): the binding's binary-mode example
 * (kafka-protocol-binding.md §3.2.5) decoded and re-encoded header by header, the §3.1 key
 * mapping, structured-mode detection (§3), UTF-8 and duplicate checks, validation of required
 * attributes, and RFC 3339 date-times (§5.6 and §5.8 examples).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tandem/cloudevents.h"

#define H(n, v)             \
    {                       \
        n, v, sizeof(v) - 1 \
    }

/* §3.2.5's example record (the spec shows the values quoted for display; the bytes are the
 * strings), with our JSON data, a partition key and a traceparent. */
static const struct tandem_kafka_header example[] = {
    H("ce_specversion", "1.0"),
    H("ce_type", "com.example.someevent"),
    H("ce_source", "/mycontext/subcontext"),
    H("ce_id", "1234-1234-1234"),
    H("ce_time", "2018-04-05T03:56:24Z"),
    H("content-type", "application/json"),
    H("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    H("ce_partitionkey", "mykey"),
    H("ce_comexampleextension1", "value"),
};
#define NEX (sizeof(example) / sizeof(example[0]))

static void test_decode_example(void **state)
{
    char buf[512];
    struct tandem_cloudevent ev;
    assert_int_equal(tandem_ce_from_kafka(example, NEX, buf, sizeof(buf), &ev), 0);
    assert_string_equal(ev.specversion, "1.0");
    assert_string_equal(ev.id, "1234-1234-1234");
    assert_string_equal(ev.source, "/mycontext/subcontext");
    assert_string_equal(ev.type, "com.example.someevent");
    assert_string_equal(ev.datacontenttype, "application/json");
    assert_string_equal(ev.time, "2018-04-05T03:56:24Z");
    assert_null(ev.dataschema);
    assert_null(ev.subject);
    assert_int_equal(ev.next, 2);
    assert_string_equal(tandem_ce_ext(&ev, "partitionkey"), "mykey");
    assert_string_equal(tandem_ce_ext(&ev, "comexampleextension1"), "value");
    assert_null(tandem_ce_ext(&ev, "traceparent")); /* a record header, not an attribute */
    const struct tandem_kafka_header *tp = tandem_kafka_header_find(example, NEX, "traceparent");
    assert_non_null(tp);
    assert_int_equal(tp->value_len, 55);

    /* re-encode: fixed order, key from partitionkey (which stays a header, §3.1) */
    struct tandem_kafka_header out[TANDEM_CE_MAX_HEADERS];
    char names[128];
    size_t n = 0, key_len = 0;
    const char *key = NULL;
    assert_int_equal(tandem_ce_to_kafka(&ev, out, TANDEM_CE_MAX_HEADERS, &n, names, sizeof(names),
                                        &key, &key_len),
                     0);
    static const char *const want[][2] = {
        {"ce_specversion", "1.0"},
        {"ce_id", "1234-1234-1234"},
        {"ce_source", "/mycontext/subcontext"},
        {"ce_type", "com.example.someevent"},
        {"content-type", "application/json"},
        {"ce_time", "2018-04-05T03:56:24Z"},
        {"ce_partitionkey", "mykey"},
        {"ce_comexampleextension1", "value"},
    };
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(out[i].name, want[i][0]);
        assert_int_equal(out[i].value_len, strlen(want[i][1]));
        assert_memory_equal(out[i].value, want[i][1], out[i].value_len);
    }
    assert_int_equal(key_len, 5);
    assert_memory_equal(key, "mykey", 5);

    /* too little room */
    assert_int_equal(tandem_ce_to_kafka(&ev, out, 7, &n, names, sizeof(names), &key, &key_len),
                     TANDEM_ETOOLARGE);
    assert_int_equal(tandem_ce_to_kafka(&ev, out, 8, &n, names, 20, &key, &key_len),
                     TANDEM_ETOOLARGE);
    assert_int_equal(tandem_ce_from_kafka(example, NEX, buf, 60, &ev), TANDEM_ETOOLARGE);
}

static void test_encode_minimal_and_full(void **state)
{
    struct tandem_cloudevent ev;
    tandem_ce_init(&ev);
    ev.id = "42";
    ev.source = "https://tandem.local/posts";
    ev.type = "tandem.post.created";
    struct tandem_kafka_header out[TANDEM_CE_MAX_HEADERS];
    char names[64];
    size_t n = 0, key_len = 7;
    const char *key = "x";
    assert_int_equal(tandem_ce_to_kafka(&ev, out, TANDEM_CE_MAX_HEADERS, &n, names, sizeof(names),
                                        &key, &key_len),
                     0);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].name, "ce_specversion");
    assert_string_equal(out[3].name, "ce_type");
    assert_null(key);
    assert_int_equal(key_len, 0);

    ev.datacontenttype = "application/json";
    ev.dataschema = "https://tandem.local/schemas/post.json";
    ev.subject = "posts/42";
    ev.time = "2026-11-26T22:30:00.123456+01:00";
    assert_int_equal(tandem_ce_set_ext(&ev, "partitionkey", "user-7"), 0);
    assert_int_equal(tandem_ce_set_ext(&ev, "partitionkey", "user-8"), 0); /* replaced */
    assert_int_equal(ev.next, 1);
    assert_int_equal(tandem_ce_to_kafka(&ev, out, TANDEM_CE_MAX_HEADERS, &n, names, sizeof(names),
                                        &key, &key_len),
                     0);
    assert_int_equal(n, 9);
    assert_string_equal(out[5].name, "ce_dataschema");
    assert_string_equal(out[6].name, "ce_subject");
    assert_string_equal(out[7].name, "ce_time");
    assert_string_equal(out[8].name, "ce_partitionkey");
    assert_memory_equal(key, "user-8", 6);

    /* and back */
    char buf[512];
    struct tandem_cloudevent back;
    assert_int_equal(tandem_ce_from_kafka(out, n, buf, sizeof(buf), &back), 0);
    assert_string_equal(back.subject, "posts/42");
    assert_string_equal(back.dataschema, "https://tandem.local/schemas/post.json");
    assert_string_equal(tandem_ce_ext(&back, "partitionkey"), "user-8");
}

static void test_validate(void **state)
{
    struct tandem_cloudevent ev;
    tandem_ce_init(&ev);
    assert_int_equal(tandem_ce_validate(&ev), TANDEM_EINVAL); /* no id, source, type */
    ev.id = "1";
    ev.source = "/s";
    ev.type = "t";
    assert_int_equal(tandem_ce_validate(&ev), 0);
    ev.id = "";
    assert_int_equal(tandem_ce_validate(&ev), TANDEM_EINVAL);
    ev.id = "1";
    ev.subject = "";
    assert_int_equal(tandem_ce_validate(&ev), TANDEM_EINVAL);
    ev.subject = NULL;
    ev.time = "2018-04-05 03:56:24Z";
    assert_int_equal(tandem_ce_validate(&ev), TANDEM_EINVAL);
    ev.time = NULL;
    ev.specversion = "0.3";
    assert_int_equal(tandem_ce_validate(&ev), TANDEM_EUNSUPPORTED);
    ev.specversion = NULL;
    assert_int_equal(tandem_ce_validate(&ev), TANDEM_EINVAL);
    ev.specversion = "1.0";

    static const struct {
        const char *name;
        int rc;
    } names[] = {
        {"partitionkey", 0},     {"traceparent", 0},     {"abc123", 0},
        {"Abc", TANDEM_EINVAL},  {"a_b", TANDEM_EINVAL}, {"", TANDEM_EINVAL},
        {"data", TANDEM_EINVAL}, {"id", TANDEM_EINVAL},  {"datacontenttype", TANDEM_EINVAL},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(tandem_ce_set_ext(&ev, names[i].name, "v"), names[i].rc);
    assert_int_equal(tandem_ce_validate(&ev), 0);
    char nm[TANDEM_CE_MAX_EXTENSIONS][8];
    int rc = 0;
    for (size_t i = 0; rc == 0; i++) {
        nm[i % TANDEM_CE_MAX_EXTENSIONS][0] = 'x';
        nm[i % TANDEM_CE_MAX_EXTENSIONS][1] = (char)('a' + i);
        nm[i % TANDEM_CE_MAX_EXTENSIONS][2] = '\0';
        rc = tandem_ce_set_ext(&ev, nm[i % TANDEM_CE_MAX_EXTENSIONS], "v");
    }
    assert_int_equal(rc, TANDEM_ETOOLARGE);
    assert_int_equal(ev.next, TANDEM_CE_MAX_EXTENSIONS);
}

static void test_decode_errors(void **state)
{
    static const struct tandem_kafka_header base[] = {H("ce_specversion", "1.0"), H("ce_id", "1"),
                                                      H("ce_source", "/s"), H("ce_type", "t")};
    static const struct {
        struct tandem_kafka_header extra;
        int rc;
    } t[] = {
        {H("x-app", "anything"), 0},
        {H("ce_subject", "caf\xc3\xa9"), 0},
        {H("content-type", "application/cloudevents+json; charset=UTF-8"), TANDEM_EUNSUPPORTED},
        {H("content-type", "Application/CloudEvents+avro"), TANDEM_EUNSUPPORTED},
        {H("ce_id", "2"), TANDEM_EINVAL},                     /* duplicate */
        {H("ce_subject", "a\0b"), TANDEM_EINVAL},             /* NUL */
        {H("ce_subject", "\xc3\x28"), TANDEM_EINVAL},         /* bad UTF-8 */
        {H("ce_subject", "\xed\xa0\x80"), TANDEM_EINVAL},     /* surrogate */
        {H("ce_subject", "\xc0\xaf"), TANDEM_EINVAL},         /* overlong */
        {H("ce_subject", "\xf4\x90\x80\x80"), TANDEM_EINVAL}, /* > U+10FFFF */
        {H("ce_subject", "\xe2\x82"), TANDEM_EINVAL},         /* truncated */
        {H("ce_subject", "\xf0\x9f\x98\x80"), 0},             /* U+1F600 */
        {H("ce_subject", ""), TANDEM_EINVAL},
        {H("ce_time", "2018-02-29T00:00:00Z"), TANDEM_EINVAL},
        {H("ce_Ext", "v"), TANDEM_EINVAL},
        {H("ce_datacontenttype", "application/json"), TANDEM_EINVAL},
        {H("ce_data", "x"), TANDEM_EINVAL},
        {{"ce_subject", NULL, 0}, TANDEM_EINVAL}, /* null value */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tandem_kafka_header hs[5];
        memcpy(hs, base, sizeof(base));
        hs[4] = t[i].extra;
        char buf[256];
        struct tandem_cloudevent ev;
        print_message("decode %zu: %s\n", i, t[i].extra.name);
        assert_int_equal(tandem_ce_from_kafka(hs, 5, buf, sizeof(buf), &ev), t[i].rc);
        if (t[i].rc != 0)
            assert_null(ev.id);
    }
    /* no ce_specversion: not a CloudEvent */
    char buf[64];
    struct tandem_cloudevent ev;
    assert_int_equal(tandem_ce_from_kafka(base + 1, 3, buf, sizeof(buf), &ev), TANDEM_ENOENT);
    assert_int_equal(tandem_ce_from_kafka(NULL, 0, buf, sizeof(buf), &ev), TANDEM_ENOENT);
    /* missing a required attribute */
    assert_int_equal(tandem_ce_from_kafka(base, 3, buf, sizeof(buf), &ev), TANDEM_EINVAL);
    /* another specversion */
    struct tandem_kafka_header v03[4];
    memcpy(v03, base, sizeof(base));
    v03[0] = (struct tandem_kafka_header)H("ce_specversion", "0.3");
    assert_int_equal(tandem_ce_from_kafka(v03, 4, buf, sizeof(buf), &ev), TANDEM_EUNSUPPORTED);
}

static void test_rfc3339(void **state)
{
    static const struct {
        const char *s;
        bool ok;
    } t[] = {
        {"1985-04-12T23:20:50.52Z", true}, /* RFC 3339 §5.8 examples */
        {"1996-12-19T16:39:57-08:00", true},
        {"1990-12-31T23:59:60Z", true},
        {"1990-12-31T15:59:60-08:00", true},
        {"1937-01-01T12:00:27.87+00:20", true},
        {"2018-04-05T03:56:24Z", true},
        {"2018-04-05t03:56:24z", true}, /* §5.6 NOTE: lower case allowed */
        {"2000-02-29T00:00:00Z", true}, /* leap year by 400 */
        {"2024-02-29T00:00:00Z", true},
        {"1900-02-29T00:00:00Z", false},
        {"2023-02-29T00:00:00Z", false},
        {"2018-04-31T00:00:00Z", false},
        {"2018-13-01T00:00:00Z", false},
        {"2018-00-01T00:00:00Z", false},
        {"2018-04-00T00:00:00Z", false},
        {"2018-04-05T24:00:00Z", false},
        {"2018-04-05T23:60:00Z", false},
        {"2018-04-05T23:59:61Z", false},
        {"2018-04-05T03:56:24", false}, /* offset required */
        {"2018-04-05T03:56:24.Z", false},
        {"2018-04-05T03:56:24+0100", false},
        {"2018-04-05T03:56:24+24:00", false},
        {"2018-04-05T03:56Z", false},
        {"2018-04-05 03:56:24Z", false},
        {"2018-4-05T03:56:24Z", false},
        {"2018-04-05T03:56:24Zjunk", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        print_message("rfc3339 %zu: %s\n", i, t[i].s);
        assert_int_equal(tandem_rfc3339_valid(t[i].s, strlen(t[i].s)), t[i].ok);
    }
}

static void test_json_helpers(void **state)
{
    static const struct {
        const char *ct;
        bool json;
    } t[] = {
        {"application/json", true},
        {"Application/JSON; charset=utf-8", true},
        {"application/json ;charset=utf-8", true},
        {"application/problem+json", true},
        {"application/cloudevents+json", true},
        {"application/+json", false},
        {"application/jsonx", false},
        {"text/plain", false},
        {"application/avro", false},
        {"+json", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(tandem_ce_is_json(t[i].ct), t[i].json);
    assert_false(tandem_ce_is_json(NULL));
    const char *ok = "{\"id\":42,\"title\":\"Hello\"}";
    assert_true(tandem_ce_json_data_valid(ok, strlen(ok)));
    assert_true(tandem_ce_json_data_valid("42", 2));
    assert_false(tandem_ce_json_data_valid("{\"id\":", 6));
    assert_false(tandem_ce_json_data_valid("{} {}", 5));
    assert_false(tandem_ce_json_data_valid("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_example), cmocka_unit_test(test_encode_minimal_and_full),
        cmocka_unit_test(test_validate),       cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_rfc3339),        cmocka_unit_test(test_json_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
