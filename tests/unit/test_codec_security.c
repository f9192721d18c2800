/*
 * The security codecs (protocol/messages_security.h) and their client direction
 * (kafka_client/messages_security_client.h): every request the broker parses round-trips from
 * the client encoder at every version, every answer the broker writes parses back, byte layouts
 * match the spec (Apache Kafka clients/src/main/resources/common/message/<Name>.json), and the
 * dispatch table answers these APIs without advertising them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "kafka_client/messages_security_client.h"
#include "protocol/kafka.h"
#include "protocol/messages_security.h"
#include "tandem/error.h"

static bool kstr_is(struct kstr s, const char *c)
{
    return c ? s.len == (int32_t)strlen(c) && memcmp(s.p, c, (size_t)s.len) == 0 : s.len < 0;
}

static void test_sasl_handshake(void **state)
{
    for (int16_t v = 0; v <= 1; v++) {
        struct kw w;
        struct kr r;
        struct arena a;
        arena_init(&a, 0);
        kw_init(&w, 0);
        struct sasl_handshake_req q = {KSTR("PLAIN")}, q2;
        kafka_encode_sasl_handshake_request(&w, v, &q);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_sasl_handshake_request(&r, v, &a, &q2), 0);
        assert_true(kstr_is(q2.mechanism, "PLAIN"));
        kw_reset(&w);
        /* SaslHandshakeResponse.json: ErrorCode int16, Mechanisms []string */
        struct sasl_handshake_resp p = {.error_code = KAFKA_ILLEGAL_SASL_STATE}, p2;
        kafka_encode_sasl_handshake_response(&w, v, &p);
        const uint8_t want[] = {0x00, 0x22, 0x00, 0x00, 0x00, 0x00};
        assert_int_equal(w.len, sizeof(want));
        assert_memory_equal(w.buf, want, sizeof(want));
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_sasl_handshake_response(&r, v, &a, &p2), 0);
        assert_int_equal(p2.error_code, KAFKA_ILLEGAL_SASL_STATE);
        assert_int_equal(p2.nmechanisms, 0);
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
    struct kr r;
    struct arena a;
    struct sasl_handshake_req q;
    arena_init(&a, 0);
    kr_init(&r, (const uint8_t *)"\xff\xff", 2); /* a null mechanism is malformed */
    assert_int_equal(kafka_parse_sasl_handshake_request(&r, 1, &a, &q), TANDEM_EPROTO);
    kr_init(&r, (const uint8_t *)"", 0);
    assert_int_equal(kafka_parse_sasl_handshake_request(&r, 2, &a, &q), TANDEM_EUNSUPPORTED);
    arena_cleanup(&a);
}

static void test_sasl_authenticate(void **state)
{
    for (int16_t v = 0; v <= 2; v++) {
        struct kw w;
        struct kr r;
        struct arena a;
        arena_init(&a, 0);
        kw_init(&w, 0);
        struct sasl_authenticate_req q = {{(const uint8_t *)"\0u\0p", 4}}, q2;
        kafka_encode_sasl_authenticate_request(&w, v, &q);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_sasl_authenticate_request(&r, v, &a, &q2), 0);
        assert_int_equal(q2.auth_bytes.len, 4);
        assert_memory_equal(q2.auth_bytes.p, "\0u\0p", 4);
        kw_reset(&w);
        struct sasl_authenticate_resp p = {KAFKA_ILLEGAL_SASL_STATE,
                                           KSTR("no"),
                                           {(const uint8_t *)"", 0},
                                           0},
                                      p2;
        kafka_encode_sasl_authenticate_response(&w, v, &p);
        /* v0: 2 + (2+2) + 4; v1 adds SessionLifetimeMs int64; v2 compact: 2 + 3 + 1 + 8 + 1 */
        size_t want = v == 0 ? 10 : v == 1 ? 18 : 15;
        assert_int_equal(w.len, want);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_sasl_authenticate_response(&r, v, &a, &p2), 0);
        assert_int_equal(p2.error_code, KAFKA_ILLEGAL_SASL_STATE);
        assert_true(kstr_is(p2.error_message, "no"));
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
}

static const struct acl_binding binding = {2, KSTR("topic-a"), 3, KSTR("User:bob"), KSTR("*"), 3,
                                           3};

static void check_binding(const struct acl_binding *b, int16_t v)
{
    assert_int_equal(b->resource_type, 2);
    assert_true(kstr_is(b->resource_name, "topic-a"));
    assert_int_equal(b->pattern_type, 3); /* v0 has none: the spec's default, 3 */
    assert_true(kstr_is(b->principal, "User:bob"));
    assert_true(kstr_is(b->host, "*"));
    assert_int_equal(b->operation, 3);
    assert_int_equal(b->permission_type, 3);
    (void)v;
}

static void test_acls(void **state)
{
    for (int16_t v = 0; v <= 3; v++) {
        struct kw w;
        struct kr r;
        struct arena a;
        arena_init(&a, 0);
        kw_init(&w, 0);

        /* DescribeAcls: one filter, its names nullable */
        struct describe_acls_req dq = {binding}, dq2;
        dq.filter.resource_name = KSTR_NULL;
        kafka_encode_describe_acls_request(&w, v, &dq);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_describe_acls_request(&r, v, &a, &dq2), 0);
        assert_true(dq2.filter.resource_name.len < 0);
        assert_true(kstr_is(dq2.filter.principal, "User:bob"));
        kw_reset(&w);
        struct describe_acls_resp dp = {0, KAFKA_SECURITY_DISABLED, KSTR("off"), 0}, dp2;
        kafka_encode_describe_acls_response(&w, v, &dp);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_describe_acls_response(&r, v, &a, &dp2), 0);
        assert_int_equal(dp2.error_code, KAFKA_SECURITY_DISABLED);
        assert_true(kstr_is(dp2.error_message, "off"));
        assert_int_equal(dp2.nresources, 0);
        if (v >= 2) { /* flexible: throttle, error, compact "off" (4), compact [] (1), tags (1) */
            const uint8_t want[] = {0, 0, 0, 0, 0, 54, 4, 'o', 'f', 'f', 1, 0};
            assert_int_equal(w.len, sizeof(want));
            assert_memory_equal(w.buf, want, sizeof(want));
        }
        kw_reset(&w);

        /* CreateAcls: two creations, one result each */
        struct acl_binding two[2] = {binding, binding};
        struct create_acls_req cq = {2, two}, cq2;
        kafka_encode_create_acls_request(&w, v, &cq);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_create_acls_request(&r, v, &a, &cq2), 0);
        assert_int_equal(cq2.ncreations, 2);
        check_binding(&cq2.creations[1], v);
        kw_reset(&w);
        struct acl_result res[2] = {{KAFKA_SECURITY_DISABLED, KSTR("x"), 0},
                                    {KAFKA_SECURITY_DISABLED, KSTR_NULL, 0}};
        struct create_acls_resp cp = {0, 2, res}, cp2;
        kafka_encode_create_acls_response(&w, v, &cp);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_create_acls_response(&r, v, &a, &cp2), 0);
        assert_int_equal(cp2.nresults, 2);
        assert_int_equal(cp2.results[1].error_code, KAFKA_SECURITY_DISABLED);
        assert_true(kstr_is(cp2.results[0].error_message, "x"));
        assert_true(cp2.results[1].error_message.len < 0);
        kw_reset(&w);

        /* a creation with a null name is malformed; a filter with one is not */
        struct acl_binding nul = binding;
        nul.principal = KSTR_NULL;
        struct create_acls_req bad = {1, &nul};
        kafka_encode_create_acls_request(&w, v, &bad);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_create_acls_request(&r, v, &a, &cq2), TANDEM_EPROTO);
        struct delete_acls_req fq = {1, &nul}, fq2;
        kw_reset(&w);
        kafka_encode_delete_acls_request(&w, v, &fq);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_delete_acls_request(&r, v, &a, &fq2), 0);
        assert_int_equal(fq2.nfilters, 1);
        assert_true(fq2.filters[0].principal.len < 0);
        kw_reset(&w);
        struct delete_acls_resp fp = {0, 1, res}, fp2;
        kafka_encode_delete_acls_response(&w, v, &fp);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_delete_acls_response(&r, v, &a, &fp2), 0);
        assert_int_equal(fp2.nresults, 1);
        assert_int_equal(fp2.results[0].error_code, KAFKA_SECURITY_DISABLED);
        assert_int_equal(fp2.results[0].nmatching_acls, 0);

        /* trailing bytes are malformed */
        kw_reset(&w);
        kafka_encode_delete_acls_request(&w, v, &fq);
        kw_i8(&w, 0);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_delete_acls_request(&r, v, &a, &fq2), TANDEM_EPROTO);
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
}

/* Headers: the ACL APIs and SaslAuthenticate use the flexible request header from v2 (and the
 * response header with tagged fields); SaslHandshake never does. */
static void test_headers(void **state)
{
    assert_int_equal(kafka_request_header_version(KAFKA_DESCRIBE_ACLS, 1), 1);
    assert_int_equal(kafka_request_header_version(KAFKA_DESCRIBE_ACLS, 2), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_CREATE_ACLS, 3), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_DELETE_ACLS, 2), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_SASL_AUTHENTICATE, 1), 1);
    assert_int_equal(kafka_request_header_version(KAFKA_SASL_AUTHENTICATE, 2), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_SASL_HANDSHAKE, 1), 1);
    assert_int_equal(kafka_response_header_version(KAFKA_DELETE_ACLS, 2), 1);
    assert_int_equal(kafka_response_header_version(KAFKA_SASL_HANDSHAKE, 1), 0);
}

/* The disabled APIs are dispatched but not advertised. */
static void test_table_not_advertised(void **state)
{
    const int16_t keys[] = {KAFKA_SASL_HANDSHAKE, KAFKA_SASL_AUTHENTICATE, KAFKA_DESCRIBE_ACLS,
                            KAFKA_CREATE_ACLS, KAFKA_DELETE_ACLS};
    struct api_version_range r[KAFKA_API_KEY_MAX];
    int n = request_api_ranges(api_table, r);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        assert_non_null(api_table[keys[k]].handler);
        assert_true(api_table[keys[k]].disabled);
        int16_t lo, hi;
        assert_int_equal(kafka_codec_versions(keys[k], &lo, &hi), 0);
        assert_int_equal(api_table[keys[k]].max_version, hi);
        for (int i = 0; i < n; i++)
            assert_int_not_equal(r[i].api_key, keys[k]);
    }
    assert_false(api_table[KAFKA_PRODUCE].disabled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sasl_handshake),
        cmocka_unit_test(test_sasl_authenticate),
        cmocka_unit_test(test_acls),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_table_not_advertised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
