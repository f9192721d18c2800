/*
 * The config and record admin codecs (protocol/messages_config.h) and their client direction
 * (kafka_client/messages_config_client.h): DescribeConfigs v0-3, AlterConfigs v0-1,
 * IncrementalAlterConfigs v0, DeleteRecords v0-1, OffsetDelete v0. Every request the broker
 * parses round-trips from the client encoder at every version, every answer the broker writes
 * parses back with the same fields, byte layouts match the spec (Apache Kafka
 * clients/src/main/resources/common/message/<Name>.json), malformed input is refused, and the
 * dispatch table advertises exactly the versions the codecs implement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "kafka_client/messages_config_client.h"
#include "protocol/kafka.h"
#include "protocol/messages_config.h"
#include "tandem/error.h"

static bool kstr_is(struct kstr s, const char *c)
{
    return c ? s.len == (int32_t)strlen(c) && memcmp(s.p, c, (size_t)s.len) == 0 : s.len < 0;
}

static void test_describe_configs(void **state)
{
    (void)state;
    struct kstr keys[] = {KSTR("retention.ms"), KSTR("segment.bytes")};
    struct describe_configs_req_resource res[] = {
        {KAFKA_RESOURCE_TOPIC, KSTR("t"), 2, keys},
        {KAFKA_RESOURCE_BROKER, KSTR("0"), -1, NULL},
    };
    struct describe_configs_req q = {2, res, true, true};
    for (int16_t v = 0; v <= 3; v++) {
        struct kw w;
        struct kr r;
        struct arena a;
        struct describe_configs_req q2;
        arena_init(&a, 0);
        kw_init(&w, 0);
        kafka_encode_describe_configs_request(&w, v, &q);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_describe_configs_request(&r, v, &a, &q2), 0);
        assert_int_equal(q2.nresources, 2);
        assert_int_equal(q2.resources[0].resource_type, KAFKA_RESOURCE_TOPIC);
        assert_true(kstr_is(q2.resources[0].resource_name, "t"));
        assert_int_equal(q2.resources[0].nconfiguration_keys, 2);
        assert_true(kstr_is(q2.resources[0].configuration_keys[1], "segment.bytes"));
        assert_int_equal(q2.resources[1].nconfiguration_keys, -1); /* null: every config */
        assert_int_equal(q2.include_synonyms, v >= 1);
        assert_int_equal(q2.include_documentation, v >= 3);

        struct describe_configs_synonym syn[] = {
            {KSTR("retention.ms"), KSTR("1000"), KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG},
            {KSTR("log.retention.ms"), KSTR("604800000"), KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG},
        };
        struct describe_configs_resource_result cfg[] = {
            {KSTR("retention.ms"), KSTR("1000"), false, false,
             KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG, false, 2, syn, KAFKA_CONFIG_TYPE_LONG,
             KSTR("doc")},
            {KSTR("x"), KSTR_NULL, true, true, KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG, true, 0, NULL,
             KAFKA_CONFIG_TYPE_STRING, KSTR_NULL},
        };
        struct describe_configs_result results[] = {
            {KAFKA_NONE, KSTR_NULL, KAFKA_RESOURCE_TOPIC, KSTR("t"), 2, cfg},
            {KAFKA_INVALID_REQUEST, KSTR("no"), KAFKA_RESOURCE_BROKER, KSTR("7"), 0, NULL},
        };
        struct describe_configs_resp p = {5, 2, results}, p2;
        kw_reset(&w);
        kafka_encode_describe_configs_response(&w, v, &p);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_describe_configs_response(&r, v, &a, &p2), 0);
        assert_int_equal(p2.throttle_time_ms, 5);
        assert_int_equal(p2.nresults, 2);
        assert_int_equal(p2.results[1].error_code, KAFKA_INVALID_REQUEST);
        assert_true(kstr_is(p2.results[1].error_message, "no"));
        const struct describe_configs_resource_result *c = p2.results[0].configs;
        assert_int_equal(p2.results[0].nconfigs, 2);
        assert_true(kstr_is(c[0].value, "1000"));
        assert_true(kstr_is(c[1].value, NULL));
        assert_true(c[1].read_only && c[1].is_sensitive);
        if (v == 0) {
            assert_true(c[1].is_default && !c[0].is_default);
        } else {
            assert_int_equal(c[0].config_source, KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
            assert_int_equal(c[0].nsynonyms, 2);
            assert_true(kstr_is(c[0].synonyms[1].name, "log.retention.ms"));
            assert_int_equal(c[0].synonyms[1].source, KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
        }
        if (v >= 3) {
            assert_int_equal(c[0].config_type, KAFKA_CONFIG_TYPE_LONG);
            assert_true(kstr_is(c[0].documentation, "doc"));
            assert_true(kstr_is(c[1].documentation, NULL));
        }
        /* trailing bytes are malformed */
        kw_reset(&w);
        kafka_encode_describe_configs_request(&w, v, &q);
        kw_i8(&w, 0);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_describe_configs_request(&r, v, &a, &q2), TANDEM_EPROTO);
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
}

/* DescribeConfigsRequest v1, byte for byte: one topic resource, keys null, synonyms on. And the
 * v0 response entry layout: name, value, read_only, is_default, is_sensitive. */
static void test_describe_configs_bytes(void **state)
{
    (void)state;
    const uint8_t req[] = {0,    0,    0,    1,    /* resources: 1 */
                           2,                      /* resource_type TOPIC */
                           0,    1,    't',        /* resource_name */
                           0xff, 0xff, 0xff, 0xff, /* configuration_keys: null */
                           1};                     /* include_synonyms */
    struct kr r;
    struct arena a;
    struct describe_configs_req q;
    arena_init(&a, 0);
    kr_init(&r, req, sizeof(req));
    assert_int_equal(kafka_parse_describe_configs_request(&r, 1, &a, &q), 0);
    assert_int_equal(q.nresources, 1);
    assert_int_equal(q.resources[0].nconfiguration_keys, -1);
    assert_true(q.include_synonyms);
    kr_init(&r, req, sizeof(req));
    assert_int_equal(kafka_parse_describe_configs_request(&r, 0, &a, &q), TANDEM_EPROTO);
    kr_init(&r, req, sizeof(req));
    assert_int_equal(kafka_parse_describe_configs_request(&r, 4, &a, &q), TANDEM_EUNSUPPORTED);
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 2}; /* a count the bytes cannot hold */
    kr_init(&r, huge, sizeof(huge));
    assert_int_equal(kafka_parse_describe_configs_request(&r, 1, &a, &q), TANDEM_EPROTO);
    const uint8_t null_name[] = {0, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    kr_init(&r, null_name, sizeof(null_name));
    assert_int_equal(kafka_parse_describe_configs_request(&r, 1, &a, &q), TANDEM_EPROTO);

    struct describe_configs_resource_result cfg = {
        .name = KSTR("k"), .value = KSTR("v"), .is_default = true, .documentation = KSTR_NULL};
    struct describe_configs_result res = {0, KSTR_NULL, 2, KSTR("t"), 1, &cfg};
    struct describe_configs_resp p = {0, 1, &res};
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_describe_configs_response(&w, 0, &p);
    const uint8_t want[] = {0, 0, 0,    0,    0, 0, 0,   1,   /* throttle, results: 1 */
                            0, 0, 0xff, 0xff, 2, 0, 1,   't', /* error, null message, type, name */
                            0, 0, 0,    1,    0, 1, 'k', 0,   1, 'v', /* configs: 1, name, value */
                            0, 1, 0}; /* read_only, is_default, is_sensitive */
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.buf, want, sizeof(want));
    kw_cleanup(&w);
    arena_cleanup(&a);
}

static void test_alter_configs(void **state)
{
    (void)state;
    struct alter_configs_req_config cfg[] = {
        {KSTR("retention.ms"), KAFKA_CONFIG_OP_SET, KSTR("1000")},
        {KSTR("segment.bytes"), KAFKA_CONFIG_OP_DELETE, KSTR_NULL},
    };
    struct alter_configs_req_resource res[] = {{KAFKA_RESOURCE_TOPIC, KSTR("t"), 2, cfg}};
    struct alter_configs_req q = {1, res, true};
    for (int16_t v = 0; v <= 1; v++) {
        for (int incremental = 0; incremental <= 1; incremental++) {
            if (incremental && v > 0)
                continue;
            struct kw w;
            struct kr r;
            struct arena a;
            struct alter_configs_req q2;
            arena_init(&a, 0);
            kw_init(&w, 0);
            if (incremental)
                kafka_encode_incremental_alter_configs_request(&w, v, &q);
            else
                kafka_encode_alter_configs_request(&w, v, &q);
            kr_init(&r, w.buf, w.len);
            int rc = incremental ? kafka_parse_incremental_alter_configs_request(&r, v, &a, &q2)
                                 : kafka_parse_alter_configs_request(&r, v, &a, &q2);
            assert_int_equal(rc, 0);
            assert_int_equal(q2.nresources, 1);
            assert_true(q2.validate_only);
            assert_int_equal(q2.resources[0].nconfigs, 2);
            assert_true(kstr_is(q2.resources[0].configs[0].value, "1000"));
            assert_true(kstr_is(q2.resources[0].configs[1].value, NULL));
            assert_int_equal(q2.resources[0].configs[1].config_operation,
                             incremental ? KAFKA_CONFIG_OP_DELETE : KAFKA_CONFIG_OP_SET);

            struct alter_configs_resp_resource out[] = {
                {KAFKA_INVALID_CONFIG, KSTR("bad"), KAFKA_RESOURCE_TOPIC, KSTR("t")}};
            struct alter_configs_resp p = {0, 1, out}, p2;
            kw_reset(&w);
            if (incremental)
                kafka_encode_incremental_alter_configs_response(&w, v, &p);
            else
                kafka_encode_alter_configs_response(&w, v, &p);
            const uint8_t want[] = {0, 0, 0,   0,   0,   0, 0, 1, 0,  40,
                                    0, 3, 'b', 'a', 'd', 2, 0, 1, 't'};
            assert_int_equal(w.len, sizeof(want));
            assert_memory_equal(w.buf, want, sizeof(want));
            kr_init(&r, w.buf, w.len);
            assert_int_equal(kafka_parse_alter_configs_response(&r, v, &a, &p2), 0);
            assert_int_equal(p2.responses[0].error_code, KAFKA_INVALID_CONFIG);
            kw_cleanup(&w);
            arena_cleanup(&a);
        }
    }
    /* IncrementalAlterConfigs v0 request, byte for byte (the operation sits between name and
     * value), and v1 (flexible) is not implemented. */
    const uint8_t inc[] = {0, 0, 0, 1, 2, 0, 1, 't', 0, 0, 0, 1, 0, 1, 'k', 2, 0, 1, 'v', 0};
    struct kr r;
    struct arena a;
    struct alter_configs_req q2;
    arena_init(&a, 0);
    kr_init(&r, inc, sizeof(inc));
    assert_int_equal(kafka_parse_incremental_alter_configs_request(&r, 0, &a, &q2), 0);
    assert_int_equal(q2.resources[0].configs[0].config_operation, KAFKA_CONFIG_OP_APPEND);
    assert_false(q2.validate_only);
    kr_init(&r, inc, sizeof(inc));
    assert_int_equal(kafka_parse_incremental_alter_configs_request(&r, 1, &a, &q2),
                     TANDEM_EUNSUPPORTED);
    kr_init(&r, inc, sizeof(inc)); /* read as AlterConfigs the bytes do not line up */
    assert_int_equal(kafka_parse_alter_configs_request(&r, 0, &a, &q2), TANDEM_EPROTO);
    arena_cleanup(&a);
}

static void test_delete_records(void **state)
{
    (void)state;
    struct delete_records_req_partition parts[] = {{0, 55}, {3, -1}};
    struct delete_records_req_topic topics[] = {{KSTR("t"), 2, parts}};
    struct delete_records_req q = {1, topics, 3000};
    const uint8_t want_req[] = {
        0, 0, 0,  1, 0, 1, 't', 0,    0,    0,    2,    0,    0,    0,    0,    0, 0, 0,    0,   0,
        0, 0, 55, 0, 0, 0, 3,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x0b, 0xb8};
    for (int16_t v = 0; v <= 1; v++) {
        struct kw w;
        struct kr r;
        struct arena a;
        struct delete_records_req q2;
        arena_init(&a, 0);
        kw_init(&w, 0);
        kafka_encode_delete_records_request(&w, v, &q);
        assert_int_equal(w.len, sizeof(want_req));
        assert_memory_equal(w.buf, want_req, sizeof(want_req));
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_delete_records_request(&r, v, &a, &q2), 0);
        assert_int_equal(q2.timeout_ms, 3000);
        assert_int_equal(q2.topics[0].npartitions, 2);
        assert_int_equal(q2.topics[0].partitions[0].offset, 55);
        assert_int_equal(q2.topics[0].partitions[1].offset, -1);

        struct delete_records_resp_partition rp[] = {{0, 55, KAFKA_NONE},
                                                     {3, -1, KAFKA_OFFSET_OUT_OF_RANGE}};
        struct delete_records_resp_topic rt[] = {{KSTR("t"), 2, rp}};
        struct delete_records_resp p = {0, 1, rt}, p2;
        kw_reset(&w);
        kafka_encode_delete_records_response(&w, v, &p);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_delete_records_response(&r, v, &a, &p2), 0);
        assert_int_equal(p2.topics[0].partitions[0].low_watermark, 55);
        assert_int_equal(p2.topics[0].partitions[1].error_code, KAFKA_OFFSET_OUT_OF_RANGE);
        kr_init(&r, want_req, sizeof(want_req) - 1); /* truncated */
        assert_int_equal(kafka_parse_delete_records_request(&r, v, &a, &q2), TANDEM_EPROTO);
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
    struct kr r;
    struct arena a;
    struct delete_records_req q2;
    arena_init(&a, 0);
    kr_init(&r, want_req, sizeof(want_req));
    assert_int_equal(kafka_parse_delete_records_request(&r, 2, &a, &q2), TANDEM_EUNSUPPORTED);
    arena_cleanup(&a);
}

static void test_offset_delete(void **state)
{
    (void)state;
    int32_t parts[] = {0, 2};
    struct offset_delete_req_topic topics[] = {{KSTR("t"), 2, parts}};
    struct offset_delete_req q = {KSTR("g"), 1, topics}, q2;
    const uint8_t want_req[] = {0, 1, 'g', 0, 0, 0, 1, 0, 1, 't', 0,
                                0, 0, 2,   0, 0, 0, 0, 0, 0, 0,   2};
    struct kw w;
    struct kr r;
    struct arena a;
    arena_init(&a, 0);
    kw_init(&w, 0);
    kafka_encode_offset_delete_request(&w, 0, &q);
    assert_int_equal(w.len, sizeof(want_req));
    assert_memory_equal(w.buf, want_req, sizeof(want_req));
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kafka_parse_offset_delete_request(&r, 0, &a, &q2), 0);
    assert_true(kstr_is(q2.group_id, "g"));
    assert_int_equal(q2.topics[0].partitions[1], 2);
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kafka_parse_offset_delete_request(&r, 1, &a, &q2), TANDEM_EUNSUPPORTED);

    struct offset_delete_resp_partition rp[] = {{0, KAFKA_NONE},
                                                {2, KAFKA_GROUP_SUBSCRIBED_TO_TOPIC}};
    struct offset_delete_resp_topic rt[] = {{KSTR("t"), 2, rp}};
    struct offset_delete_resp p = {KAFKA_NONE, 0, 1, rt}, p2;
    kw_reset(&w);
    kafka_encode_offset_delete_response(&w, 0, &p);
    const uint8_t want[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0,
                            0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0,   86};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.buf, want, sizeof(want));
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kafka_parse_offset_delete_response(&r, 0, &a, &p2), 0);
    assert_int_equal(p2.topics[0].partitions[1].error_code, KAFKA_GROUP_SUBSCRIBED_TO_TOPIC);
    /* a null group id is malformed */
    const uint8_t null_group[] = {0xff, 0xff, 0, 0, 0, 0};
    kr_init(&r, null_group, sizeof(null_group));
    assert_int_equal(kafka_parse_offset_delete_request(&r, 0, &a, &q2), TANDEM_EPROTO);
    kw_cleanup(&w);
    arena_cleanup(&a);
}

/* Every one of these APIs is advertised, at MinVersion 0 and exactly the codec's maximum, which
 * stays below the first flexible version (non-flexible request header). */
static void test_table(void **state)
{
    (void)state;
    const int16_t keys[] = {KAFKA_DESCRIBE_CONFIGS, KAFKA_ALTER_CONFIGS,
                            KAFKA_INCREMENTAL_ALTER_CONFIGS, KAFKA_DELETE_RECORDS,
                            KAFKA_OFFSET_DELETE};
    const int16_t max[] = {3, 1, 0, 1, 0};
    struct api_version_range r[KAFKA_API_KEY_MAX];
    int n = request_api_ranges(api_table, r);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        int16_t lo, hi;
        assert_int_equal(kafka_codec_versions(keys[k], &lo, &hi), 0);
        assert_int_equal(hi, max[k]);
        assert_non_null(api_table[keys[k]].handler);
        assert_false(api_table[keys[k]].disabled);
        bool listed = false;
        for (int i = 0; i < n; i++)
            if (r[i].api_key == keys[k]) {
                listed = true;
                assert_int_equal(r[i].min_version, 0);
                assert_int_equal(r[i].max_version, max[k]);
            }
        assert_true(listed);
        assert_int_equal(kafka_request_header_version(keys[k], max[k]), 1);
        assert_int_equal(kafka_response_header_version(keys[k], max[k]), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_configs), cmocka_unit_test(test_describe_configs_bytes),
        cmocka_unit_test(test_alter_configs),    cmocka_unit_test(test_delete_records),
        cmocka_unit_test(test_offset_delete),    cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
