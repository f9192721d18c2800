/*
 * Request/response headers, header versions, the codec version table and the arena.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "test_codec_util.h"

static void test_header_versions(void **state)
{
    (void)state;
    /* request header: 2 from the first flexible version on, 1 before */
    assert_int_equal(kafka_request_header_version(KAFKA_API_VERSIONS, 2), 1);
    assert_int_equal(kafka_request_header_version(KAFKA_API_VERSIONS, 3), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_PRODUCE, 8), 1);
    assert_int_equal(kafka_request_header_version(KAFKA_PRODUCE, 9), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_FETCH, 11), 1);
    assert_int_equal(kafka_request_header_version(KAFKA_FETCH, 12), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_METADATA, 9), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_CREATE_TOPICS, 4), 1);
    assert_int_equal(kafka_request_header_version(KAFKA_CREATE_TOPICS, 5), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_INIT_PRODUCER_ID, 2), 2);
    assert_int_equal(kafka_request_header_version(KAFKA_OFFSET_FETCH, 6), 2);
    assert_int_equal(kafka_request_header_version(7, 0), 0); /* ControlledShutdown v0 */
    /* response header: ApiVersions is always v0 (no tagged fields), others 1 when flexible */
    assert_int_equal(kafka_response_header_version(KAFKA_API_VERSIONS, 3), 0);
    assert_int_equal(kafka_response_header_version(KAFKA_METADATA, 8), 0);
    assert_int_equal(kafka_response_header_version(KAFKA_METADATA, 9), 1);
    assert_int_equal(kafka_response_header_version(KAFKA_FIND_COORDINATOR, 3), 1);
}

static void test_codec_versions(void **state)
{
    (void)state;
    int16_t lo, hi;
    assert_int_equal(kafka_codec_versions(KAFKA_PRODUCE, &lo, &hi), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 9);
    assert_int_equal(kafka_codec_versions(KAFKA_FETCH, &lo, &hi), 0);
    assert_int_equal(hi, 12);
    assert_int_equal(kafka_codec_versions(KAFKA_API_VERSIONS, &lo, &hi), 0);
    assert_int_equal(hi, 3);
    assert_int_equal(kafka_codec_versions(KAFKA_JOIN_GROUP, &lo, &hi), 0);
    assert_int_equal(hi, 6);
    assert_int_equal(kafka_codec_versions(43 /* ElectLeaders: not implemented */, &lo, &hi),
                     TANDEM_ENOENT);
    /* a parser refuses versions outside its range */
    struct kr r;
    struct arena a;
    struct metadata_req m;
    arena_init(&a, 0);
    kr_init(&r, (const uint8_t *)"", 0);
    assert_int_equal(kafka_parse_metadata_request(&r, 13, &a, &m), TANDEM_EUNSUPPORTED);
    assert_int_equal(kafka_parse_metadata_request(&r, -1, &a, &m), TANDEM_EUNSUPPORTED);
    arena_cleanup(&a);
}

/* What the broker advertises (its dispatch table, which ApiVersions answers from) must be
 * implemented by the codecs for every version, and stay below each first flexible version. */
static void test_advertised_within_codecs(void **state)
{
    struct api_version_range r[KAFKA_API_KEY_MAX];
    int n = request_api_ranges(api_table, r);
    assert_true(n >= 18);
    for (int i = 0; i < n; i++) {
        int16_t lo, hi;
        assert_int_equal(kafka_codec_versions(r[i].api_key, &lo, &hi), 0);
        assert_int_equal(r[i].min_version, 0); /* KAFKA-NOTES: librdkafka needs v0 in range */
        assert_true(lo <= r[i].min_version && r[i].max_version <= hi);
        /* first flexible versions, from "flexibleVersions" in each <Name>Request.json */
        static const int16_t first_flexible[KAFKA_API_KEY_MAX] = {
            [KAFKA_PRODUCE] = 9,
            [KAFKA_FETCH] = 12,
            [KAFKA_LIST_OFFSETS] = 6,
            [KAFKA_METADATA] = 9,
            [KAFKA_OFFSET_COMMIT] = 8,
            [KAFKA_OFFSET_FETCH] = 6,
            [KAFKA_FIND_COORDINATOR] = 3,
            [KAFKA_JOIN_GROUP] = 6,
            [KAFKA_HEARTBEAT] = 4,
            [KAFKA_LEAVE_GROUP] = 4,
            [KAFKA_SYNC_GROUP] = 4,
            [KAFKA_DESCRIBE_GROUPS] = 5,
            [KAFKA_LIST_GROUPS] = 3,
            [KAFKA_API_VERSIONS] = 3,
            [KAFKA_CREATE_TOPICS] = 5,
            [KAFKA_DELETE_TOPICS] = 4,
            [KAFKA_INIT_PRODUCER_ID] = 2,
            [KAFKA_CREATE_PARTITIONS] = 2,
            [KAFKA_DELETE_GROUPS] = 2,
            [KAFKA_DELETE_RECORDS] = 2,
            [KAFKA_DESCRIBE_CONFIGS] = 4,
            [KAFKA_ALTER_CONFIGS] = 2,
            [KAFKA_INCREMENTAL_ALTER_CONFIGS] = 1,
            [KAFKA_ADD_PARTITIONS_TO_TXN] = 3,
            [KAFKA_ADD_OFFSETS_TO_TXN] = 3,
            [KAFKA_END_TXN] = 3,
            [KAFKA_TXN_OFFSET_COMMIT] = 3,
            [KAFKA_OFFSET_DELETE] = -1, /* OffsetDeleteRequest.json: "flexibleVersions": "none" */
        };
        int16_t flex = first_flexible[r[i].api_key];
        assert_true(flex != 0); /* every advertised API is in the list */
        for (int16_t v = 0; v <= r[i].max_version; v++)
            assert_int_equal(kafka_request_header_version(r[i].api_key, v),
                             flex > 0 && v >= flex ? 2 : 1);
    }
}

static void test_request_header(void **state)
{
    (void)state;
    /* ApiVersions v3, header v2: client id keeps its INT16 length, then one tagged field */
    const uint8_t v2[] = {0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07, 0x00,
                          0x02, 'i',  'd',  0x01, 0x05, 0x02, 0xaa, 0xbb, 0x99};
    struct kafka_req_header h;
    size_t used;
    assert_int_equal(kafka_parse_request_header(v2, sizeof(v2), &h, &used), 0);
    assert_int_equal(h.request_api_key, 18);
    assert_int_equal(h.request_api_version, 3);
    assert_int_equal(h.correlation_id, 7);
    assert_int_equal(h.header_version, 2);
    assert_int_equal(h.client_id.len, 2);
    assert_memory_equal(h.client_id.p, "id", 2);
    assert_int_equal(used, sizeof(v2) - 1); /* the last byte is the body */
    for (size_t cut = 0; cut < used; cut++)
        assert_int_equal(kafka_parse_request_header(v2, cut, &h, &used), TANDEM_EPROTO);

    /* Metadata v1, header v1, null client id */
    const uint8_t v1[] = {0x00, 0x03, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0xff, 0xff};
    assert_int_equal(kafka_parse_request_header(v1, sizeof(v1), &h, &used), 0);
    assert_int_equal(h.correlation_id, 0x12345678);
    assert_int_equal(h.client_id.len, -1);
    assert_int_equal(h.header_version, 1);
    assert_int_equal(used, sizeof(v1));

    /* a client id length below -1 is malformed */
    const uint8_t bad[] = {0x00, 0x03, 0x00, 0x01, 0, 0, 0, 1, 0xff, 0xfe};
    assert_int_equal(kafka_parse_request_header(bad, sizeof(bad), &h, &used), TANDEM_EPROTO);

    /* the client encoder writes the same bytes */
    struct kw w;
    kw_init(&w, 0);
    struct kafka_req_header e = {18, 3, 7, KSTR("id"), 2};
    kafka_encode_request_header(&w, &e);
    assert_int_equal(w.len, 13); /* tagged fields: empty */
    assert_memory_equal(w.buf, v2, 12);
    assert_int_equal(w.buf[12], 0);
    kw_cleanup(&w);
}

static void test_response_header_and_frame(void **state)
{
    (void)state;
    struct kw w;
    kw_init(&w, 0);
    size_t at = kafka_frame_begin(&w);
    kafka_encode_response_header(&w, 0, 42);
    kafka_encode_response_header(&w, 1, 43);
    kafka_frame_end(&w, at);
    const uint8_t want[] = {0, 0, 0, 9, 0, 0, 0, 42, 0, 0, 0, 43, 0};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.buf, want, sizeof(want));
    struct kr r;
    int32_t corr;
    kr_init(&r, want + 4, 4);
    assert_int_equal(kafka_parse_response_header(&r, 0, &corr), 0);
    assert_int_equal(corr, 42);
    kr_init(&r, want + 8, 4); /* v1 without its tagged-field byte */
    assert_int_equal(kafka_parse_response_header(&r, 1, &corr), TANDEM_EPROTO);
    kw_cleanup(&w);
}

static void test_arena(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 64 * 1024);
    uint8_t *prev = NULL;
    for (int i = 1; i < 200; i++) {
        uint8_t *p = arena_alloc(&a, (size_t)i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (int k = 0; k < i; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xab, (size_t)i);
        assert_true(p != prev);
        prev = p;
    }
    assert_null(arena_alloc(&a, 65 * 1024));       /* over the cap */
    assert_null(arena_array(&a, SIZE_MAX / 2, 4)); /* overflow */
    assert_non_null(arena_alloc(&a, 8 * 1024));    /* still usable */
    size_t total = 0;
    while (arena_alloc(&a, 1000))
        total += 1000;
    assert_true(total < 64 * 1024);
    arena_cleanup(&a);
    arena_cleanup(&a); /* idempotent */

    /* a parser hitting the cap fails cleanly with ETOOLARGE */
    struct kw w;
    kw_init(&w, 0);
    kw_array(&w, 2000);
    for (int i = 0; i < 2000; i++)
        kw_string(&w, KSTR("t"));
    struct kr r;
    struct metadata_req m;
    arena_init(&a, 1024);
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kafka_parse_metadata_request(&r, 1, &a, &m), TANDEM_ETOOLARGE);
    arena_cleanup(&a);
    kw_cleanup(&w);
}

static void test_hostile_counts(void **state)
{
    (void)state;
    /* counts larger than the bytes left are refused before anything is allocated */
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0};
    struct kr r;
    struct arena a;
    struct metadata_req m;
    struct delete_topics_req d;
    arena_init(&a, 0);
    kr_init(&r, huge, sizeof(huge));
    assert_int_equal(kafka_parse_metadata_request(&r, 1, &a, &m), TANDEM_EPROTO);
    assert_null(a.head);
    /* a null array where the spec does not allow one */
    const uint8_t null_arr[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1};
    kr_init(&r, null_arr, sizeof(null_arr));
    assert_int_equal(kafka_parse_delete_topics_request(&r, 1, &a, &d), TANDEM_EPROTO);
    kr_init(&r, null_arr, 4);
    assert_int_equal(kafka_parse_metadata_request(&r, 0, &a, &m), TANDEM_EPROTO);
    kr_init(&r, null_arr, 4);
    assert_int_equal(kafka_parse_metadata_request(&r, 1, &a, &m), 0);
    assert_int_equal(m.ntopics, -1);
    /* a null topic name */
    const uint8_t null_name[] = {0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 1};
    kr_init(&r, null_name, sizeof(null_name));
    assert_int_equal(kafka_parse_delete_topics_request(&r, 1, &a, &d), TANDEM_EPROTO);
    arena_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_versions),
        cmocka_unit_test(test_codec_versions),
        cmocka_unit_test(test_request_header),
        cmocka_unit_test(test_response_header_and_frame),
        cmocka_unit_test(test_advertised_within_codecs),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_hostile_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
