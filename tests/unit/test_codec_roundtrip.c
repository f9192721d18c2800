/*
 * Round trips for every API and every version the codecs implement, over messages that use
 * every field with a non-default value:
 *   response: broker encoder -> client parser -> fields equal (or the spec default when the
 *             version lacks the field) -> broker encoder again -> identical bytes;
 *   request:  client encoder -> broker parser -> fields equal -> client encoder -> same bytes.
 * Every truncation of each encoding, and each encoding plus one byte, must be TANDEM_EPROTO.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_codec_util.h"

/* ---- sample messages --------------------------------------------------------------------------
 */

static const struct api_version_range sample_keys[] = {{0, 0, 8}, {1, 0, 11}, {18, 0, 3}};
static const int32_t nodes[] = {1, 2, 3};
static struct metadata_partition md_parts[] = {
    {0, 0, 1, 7, 3, nodes, 2, nodes, 1, nodes + 2},
    {5, 1, -1, -1, 0, NULL, 0, NULL, 0, NULL},
};
static struct metadata_topic md_topics[] = {
    {0, KSTR("orders"), false, 2, md_parts, 0x1f8},
    {3, KSTR("nope"), true, 0, NULL, 0},
};
static struct metadata_broker md_brokers[] = {
    {1, KSTR("127.0.0.1"), 9092, KSTR("rack-a")},
    {2, KSTR("localhost"), 9093, KSTR_NULL},
};
static struct produce_record_error rec_errs[] = {{3, KSTR("bad record")}, {4, KSTR_NULL}};
static struct produce_resp_partition pr_parts[] = {
    {0, 0, 42, 1700000000000, 7, 0, NULL, KSTR_NULL},
    {1, 87, -1, -1, -1, 2, rec_errs, KSTR("invalid record")},
};
static struct produce_resp_topic pr_topics[] = {{KSTR("orders"), 2, pr_parts}};
static const uint8_t batch_bytes[] = "not really a batch, but bytes are bytes";
static struct fetch_aborted_txn aborted[] = {{1000, 5}, {1001, 9}};
static struct fetch_resp_partition fr_parts[] = {
    {0, 0, 100, 90, 3, 2, aborted, 1, {batch_bytes, sizeof(batch_bytes)}, NULL, 0},
    {1, 1, -1, -1, -1, -1, NULL, -1, {NULL, -1}, NULL, 0},
};
static struct fetch_resp_topic fr_topics[] = {{KSTR("orders"), 2, fr_parts}};
static const int64_t old_offsets[] = {12, 0};
static struct list_offsets_resp_partition lo_parts[] = {{0, 0, 2, old_offsets, 1234, 12, 4},
                                                        {1, 3, 0, NULL, -1, -1, -1}};
static struct list_offsets_resp_topic lo_topics[] = {{KSTR("orders"), 2, lo_parts}};
static struct create_topics_resp_config ct_resp_configs[] = {
    {KSTR("cleanup.policy"), KSTR("compact"), false, 1, false},
    {KSTR("sasl.secret"), KSTR_NULL, true, 5, true}};
/* b's TopicConfigErrorCode is not 0, so v5+ write it as tagged field 0 */
static struct create_topics_resp_topic ct_topics[] = {
    {KSTR("a"), 0, KSTR_NULL, 0, 3, 1, 2, ct_resp_configs},
    {KSTR("b"), 36, KSTR("Topic 'b' already exists."), 29, -1, -1, -1, NULL}};
static struct delete_topics_resp_topic dt_topics[] = {{KSTR("a"), 0, KSTR_NULL},
                                                      {KSTR("zz"), 3, KSTR("no such topic")}};
static struct create_partitions_resp_result cp_results[] = {
    {KSTR("grow"), 0, KSTR_NULL},
    {KSTR("same"), 37, KSTR("Topic already has 3 partitions.")},
    {KSTR("dup"), 42, KSTR("Duplicate topic in request.")}};

static void sample_response(int16_t api, union codec_resp *o)
{
    memset(o, 0, sizeof(*o));
    switch (api) {
    case KAFKA_API_VERSIONS:
        o->api_versions = (struct api_versions_resp){35, 3, sample_keys, 17};
        break;
    case KAFKA_METADATA:
        o->metadata =
            (struct metadata_resp){11, 2, md_brokers, KSTR("cluster-1"), 1, 2, md_topics, 0x3f};
        break;
    case KAFKA_PRODUCE:
        o->produce = (struct produce_resp){1, pr_topics, 13};
        break;
    case KAFKA_FETCH:
        o->fetch = (struct fetch_resp){14, 0, 0, 1, fr_topics};
        break;
    case KAFKA_LIST_OFFSETS:
        o->list_offsets = (struct list_offsets_resp){15, 1, lo_topics};
        break;
    case KAFKA_CREATE_TOPICS:
        o->create_topics = (struct create_topics_resp){16, 2, ct_topics};
        break;
    case KAFKA_DELETE_TOPICS:
        o->delete_topics = (struct delete_topics_resp){17, 2, dt_topics};
        break;
    case KAFKA_INIT_PRODUCER_ID:
        o->init_producer_id = (struct init_producer_id_resp){18, 0, 4000, 2};
        break;
    case KAFKA_CREATE_PARTITIONS:
        o->create_partitions = (struct create_partitions_resp){19, 3, cp_results};
        break;
    }
}

static struct kstr md_req_topics[] = {KSTR("orders"), KSTR("payments")};
static struct produce_req_partition pq_parts[] = {{0, {batch_bytes, sizeof(batch_bytes)}},
                                                  {3, {NULL, -1}}};
static struct produce_req_topic pq_topics[] = {{KSTR("orders"), 2, pq_parts}};
static struct fetch_req_partition fq_parts[] = {{0, 5, 100, 10, 1 << 20}, {2, -1, 0, -1, 4096}};
static struct fetch_req_topic fq_topics[] = {{KSTR("orders"), 2, fq_parts}};
static int32_t forgotten_parts[] = {7, 8};
static struct fetch_req_forgotten fq_forgotten[] = {{KSTR("old"), 2, forgotten_parts}};
static struct list_offsets_req_partition lq_parts[] = {{0, 3, KAFKA_TIMESTAMP_LATEST, 1},
                                                       {1, -1, 1700000000000, 1}};
static struct list_offsets_req_topic lq_topics[] = {{KSTR("orders"), 2, lq_parts}};
static int32_t brokers_1[] = {1};
static struct create_topics_assignment ct_assign[] = {{0, 1, brokers_1}, {1, 1, brokers_1}};
static struct create_topics_config ct_configs[] = {{KSTR("cleanup.policy"), KSTR("compact")},
                                                   {KSTR("retention.ms"), KSTR_NULL}};
static struct create_topics_req_topic cq_topics[] = {
    {KSTR("new"), 3, 1, 0, NULL, 2, ct_configs},
    {KSTR("placed"), -1, -1, 2, ct_assign, 0, NULL},
};
static struct kstr dq_names[] = {KSTR("a"), KSTR("b"), KSTR("c")};
static int32_t brokers_13[] = {1, 3};
static struct create_partitions_assignment cpq_assign[] = {{1, brokers_1}, {2, brokers_13}};
static struct create_partitions_req_topic cpq_topics[] = {
    {KSTR("grow"), 3, -1, NULL},
    {KSTR("placed"), 5, 2, cpq_assign},
    {KSTR("empty"), 1, 0, NULL},
};

static void sample_request(int16_t api, int16_t v, union codec_req *o)
{
    memset(o, 0, sizeof(*o));
    switch (api) {
    case KAFKA_API_VERSIONS:
        o->api_versions = v >= 3 ? (struct api_versions_req){KSTR("tandem"), KSTR("0.1")}
                                 : (struct api_versions_req){KSTR_NULL, KSTR_NULL};
        break;
    case KAFKA_METADATA:
        o->metadata = (struct metadata_req){2, md_req_topics, v < 4, v >= 8 && v <= 10, v >= 8};
        break;
    case KAFKA_PRODUCE:
        o->produce = (struct produce_req){v >= 3 ? KSTR("txn") : KSTR_NULL, -1, 1500, 1, pq_topics};
        break;
    case KAFKA_FETCH:
        o->fetch = (struct fetch_req){-1,
                                      500,
                                      1,
                                      v >= 3 ? 1 << 24 : INT32_MAX,
                                      v >= 4 ? 1 : 0,
                                      v >= 7 ? 9 : 0,
                                      v >= 7 ? 2 : -1,
                                      1,
                                      fq_topics,
                                      v >= 7 ? 1 : 0,
                                      v >= 7 ? fq_forgotten : NULL,
                                      v >= 11 ? KSTR("rack-a") : KSTR("")};
        for (int i = 0; i < 2; i++) { /* fields the version lacks take their defaults */
            fq_parts[i].current_leader_epoch = v >= 9 ? 5 + i : -1;
            fq_parts[i].log_start_offset = v >= 5 ? 10 + i : -1;
        }
        break;
    case KAFKA_LIST_OFFSETS:
        o->list_offsets = (struct list_offsets_req){-1, v >= 2 ? 1 : 0, 1, lq_topics};
        for (int i = 0; i < 2; i++) {
            lq_parts[i].current_leader_epoch = v >= 4 ? 3 : -1;
            lq_parts[i].max_num_offsets = v == 0 ? 5 : 1;
        }
        break;
    case KAFKA_CREATE_TOPICS:
        o->create_topics = (struct create_topics_req){2, cq_topics, 30000, v >= 1};
        break;
    case KAFKA_DELETE_TOPICS:
        o->delete_topics = (struct delete_topics_req){3, dq_names, 15000};
        break;
    case KAFKA_INIT_PRODUCER_ID:
        o->init_producer_id = (struct init_producer_id_req){KSTR("txn-1"), 60000,
                                                            v >= 3 ? 4000 : -1, v >= 3 ? 2 : -1};
        break;
    case KAFKA_CREATE_PARTITIONS:
        o->create_partitions = (struct create_partitions_req){3, cpq_topics, 25000, true};
        break;
    }
}

/* ---- checks -----------------------------------------------------------------------------------
 */

static void assert_same_kstr(struct kstr a, struct kstr b)
{
    assert_int_equal(a.len, b.len);
    if (a.len > 0)
        assert_memory_equal(a.p, b.p, (size_t)a.len);
}

/* All cuts of buf[0..len) and buf plus one byte are malformed for `parse`. */
typedef int (*parse_fn)(int16_t api, int16_t v, const uint8_t *p, size_t len);

static int parse_req_bytes(int16_t api, int16_t v, const uint8_t *p, size_t len)
{
    struct arena a;
    union codec_req o;
    struct kr r;
    arena_init(&a, 0);
    kr_init(&r, p, len);
    int rc = codec_parse_request(api, v, &r, &a, &o);
    arena_cleanup(&a);
    return rc;
}

static int parse_resp_bytes(int16_t api, int16_t v, const uint8_t *p, size_t len)
{
    struct arena a;
    union codec_resp o;
    struct kr r;
    arena_init(&a, 0);
    kr_init(&r, p, len);
    int rc = codec_parse_response(api, v, &r, &a, &o);
    arena_cleanup(&a);
    return rc;
}

static void assert_cuts_rejected(parse_fn parse, int16_t api, int16_t v, const struct kw *w)
{
    uint8_t *copy = malloc(w->len + 1);
    memcpy(copy, w->buf, w->len);
    copy[w->len] = 0x7f;
    for (size_t cut = 0; cut < w->len; cut++)
        if (parse(api, v, copy, cut) != TANDEM_EPROTO)
            fail_msg("api %d v%d: cut at %zu of %zu accepted", api, v, cut, w->len);
    if (parse(api, v, copy, w->len + 1) != TANDEM_EPROTO)
        fail_msg("api %d v%d: trailing byte accepted", api, v);
    free(copy);
}

static void check_response_fields(int16_t api, int16_t v, const union codec_resp *in,
                                  const union codec_resp *out);
static void check_request_fields(int16_t api, int16_t v, const union codec_req *in,
                                 const union codec_req *out);

static void roundtrip_api(int16_t api)
{
    int16_t lo, hi;
    assert_int_equal(kafka_codec_versions(api, &lo, &hi), 0);
    for (int16_t v = lo; v <= hi; v++) {
        struct arena a;
        struct kw w1, w2;
        struct kr r;
        arena_init(&a, 0);

        union codec_resp resp, resp2;
        sample_response(api, &resp);
        kw_init(&w1, 0);
        kw_init(&w2, 0);
        codec_encode_response(api, v, &w1, &resp);
        kr_init(&r, w1.buf, w1.len);
        assert_int_equal(codec_parse_response(api, v, &r, &a, &resp2), 0);
        check_response_fields(api, v, &resp, &resp2);
        codec_encode_response(api, v, &w2, &resp2);
        assert_int_equal(w1.len, w2.len);
        assert_memory_equal(w1.buf, w2.buf, w1.len);
        assert_cuts_rejected(parse_resp_bytes, api, v, &w1);

        union codec_req req, req2;
        sample_request(api, v, &req);
        kw_reset(&w1);
        kw_reset(&w2);
        codec_encode_request(api, v, &w1, &req);
        kr_init(&r, w1.buf, w1.len);
        assert_int_equal(codec_parse_request(api, v, &r, &a, &req2), 0);
        check_request_fields(api, v, &req, &req2);
        codec_encode_request(api, v, &w2, &req2);
        assert_int_equal(w1.len, w2.len);
        assert_memory_equal(w1.buf, w2.buf, w1.len);
        if (w1.len > 0)
            assert_cuts_rejected(parse_req_bytes, api, v, &w1);

        kw_cleanup(&w1);
        kw_cleanup(&w2);
        arena_cleanup(&a);
    }
}

#include "test_codec_roundtrip_fields.h"

static void test_api_versions(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_API_VERSIONS);
}
static void test_metadata(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_METADATA);
}
static void test_produce(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_PRODUCE);
}
static void test_fetch(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_FETCH);
}
static void test_list_offsets(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_LIST_OFFSETS);
}
static void test_create_topics(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_CREATE_TOPICS);
}
static void test_delete_topics(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_DELETE_TOPICS);
}
static void test_init_producer_id(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_INIT_PRODUCER_ID);
}
static void test_create_partitions(void **s)
{
    (void)s;
    roundtrip_api(KAFKA_CREATE_PARTITIONS);
}

/* A null Assignments array is -1 on the wire and in the struct, an empty one 0; a count below -1
 * is malformed. */
static void test_create_partitions_nulls(void **s)
{
    (void)s;
    static const uint8_t body[] = {
        0,    0,    0,    1,    /* topics: 1 */
        0,    1,    't',        /* name "t" */
        0,    0,    0,    4,    /* count 4 */
        0xff, 0xff, 0xff, 0xff, /* assignments: null */
        0,    0,    0x75, 0x30, /* timeout_ms 30000 */
        0,                      /* validate_only false */
    };
    struct arena a;
    struct kr r;
    struct create_partitions_req q;
    uint8_t bad[sizeof(body)];
    arena_init(&a, 0);
    kr_init(&r, body, sizeof(body));
    assert_int_equal(kafka_parse_create_partitions_request(&r, 1, &a, &q), 0);
    assert_int_equal(q.topics[0].nassignments, -1);
    assert_null(q.topics[0].assignments);
    assert_int_equal(q.topics[0].count, 4);
    memcpy(bad, body, sizeof(body));
    bad[14] = 0xfe; /* assignments count -2 */
    kr_init(&r, bad, sizeof(bad));
    assert_int_equal(kafka_parse_create_partitions_request(&r, 1, &a, &q), TANDEM_EPROTO);
    memcpy(bad, body, sizeof(body));
    bad[3] = 0xff; /* topics count 255 with one topic's bytes */
    kr_init(&r, bad, sizeof(bad));
    assert_int_equal(kafka_parse_create_partitions_request(&r, 0, &a, &q), TANDEM_EPROTO);
    kr_init(&r, body, sizeof(body));
    assert_int_equal(kafka_parse_create_partitions_request(&r, 4, &a, &q), TANDEM_EUNSUPPORTED);
    arena_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_versions),      cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_produce),           cmocka_unit_test(test_fetch),
        cmocka_unit_test(test_list_offsets),      cmocka_unit_test(test_create_topics),
        cmocka_unit_test(test_delete_topics),     cmocka_unit_test(test_init_producer_id),
        cmocka_unit_test(test_create_partitions), cmocka_unit_test(test_create_partitions_nulls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
