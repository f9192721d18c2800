/*
 * The schema engine (protocol/schema.c) against the flexible encodings of the Kafka protocol
 * guide and KIP-482, independently of the tables it runs:
 *   - hand-assembled frames, byte by byte from the spec: compact strings and arrays (length+1,
 *     0 = null), UNSIGNED_VARINT, a tagged-field section per struct, the request header v2 (its
 *     own tagged fields after the INT16 client id); unknown tags are skipped, a known tag is
 *     decoded, and its size must match;
 *   - malformed compact lengths, over-long varints, counts beyond the bytes left, truncated
 *     tagged sections: TANDEM_EPROTO;
 *   - frames captured from librdkafka 2.0.2 and kafkajs 2.2.4 talking to tandem-broker
 *     (tests/vectors/flex/, capture-flex/capture.sh), among them the flexible ones those clients
 *     send (ApiVersions v3, InitProducerId v2, OffsetFetch v7): every request parses and the
 *     client encoder writes back the identical bytes; every response likewise.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "test_codec_util.h"
#include "../common/codec_group_dispatch.h"

#define S(lit) KSTR(lit)

static void assert_bytes(const struct kw *w, const uint8_t *want, size_t n)
{
    assert_int_equal(w->len, n);
    assert_memory_equal(w->buf, want, n);
}

static int parse_group_req(int16_t api, int16_t v, const uint8_t *p, size_t n, struct arena *a,
                           union group_req *o)
{
    struct kr r;
    kr_init(&r, p, n);
    return group_parse_req(api, v, &r, a, o);
}

/* ---- hand-assembled frames ----------------------------------------------------------------- */

/* Heartbeat v4 (HeartbeatRequest.json, flexibleVersions 4+), with a request header v2. */
static const uint8_t hb4_frame[] = {
    0x00, 0x0c,                  /* api key 12 */
    0x00, 0x04,                  /* version 4 */
    0x00, 0x00, 0x00, 0x2a,      /* correlation id 42 */
    0x00, 0x01, 'c',             /* client id: INT16 length even in header v2 */
    0x01, 0x05, 0x01, 0xee,      /* header tags: one unknown tag 5 of 1 byte */
    0x02, 'g',                   /* GroupId "g" (COMPACT_STRING: length + 1) */
    0x00, 0x00, 0x00, 0x05,      /* GenerationId 5 */
    0x02, 'm',                   /* MemberId "m" */
    0x00,                        /* GroupInstanceId null */
    0x02,                        /* body tags: two unknown ones */
    0x07, 0x03, 'a',  'b',  'c', /* tag 7, 3 bytes */
    0x64, 0x00,                  /* tag 100, empty */
};

static void test_heartbeat_v4_by_hand(void **state)
{
    (void)state;
    struct kafka_req_header h;
    size_t used;
    assert_int_equal(kafka_parse_request_header(hb4_frame, sizeof(hb4_frame), &h, &used), 0);
    assert_int_equal(h.header_version, 2);
    assert_int_equal(h.correlation_id, 42);
    assert_int_equal(used, 15);
    struct arena a;
    arena_init(&a, 0);
    union group_req q;
    assert_int_equal(
        parse_group_req(KAFKA_HEARTBEAT, 4, hb4_frame + used, sizeof(hb4_frame) - used, &a, &q), 0);
    assert_true(kstr_eq(q.heartbeat.group_id, "g"));
    assert_int_equal(q.heartbeat.generation_id, 5);
    assert_true(kstr_eq(q.heartbeat.member_id, "m"));
    assert_int_equal(q.heartbeat.group_instance_id.len, -1);
    /* written back without the unknown tags */
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_heartbeat_request(&w, 4, &q.heartbeat);
    const uint8_t back[] = {0x02, 'g', 0, 0, 0, 5, 0x02, 'm', 0x00, 0x00};
    assert_bytes(&w, back, sizeof(back));
    /* the response: ThrottleTimeMs, ErrorCode, an empty tag section */
    kw_reset(&w);
    struct heartbeat_resp resp = {9, 27};
    kafka_encode_heartbeat_response(&w, 4, &resp);
    const uint8_t want[] = {0, 0, 0, 9, 0, 27, 0x00};
    assert_bytes(&w, want, sizeof(want));
    /* and a response header v1 has its own empty tag section */
    assert_int_equal(kafka_response_header_version(KAFKA_HEARTBEAT, 4), 1);
    assert_int_equal(kafka_response_header_version(KAFKA_HEARTBEAT, 3), 0);
    kw_cleanup(&w);
    arena_cleanup(&a);
}

/* Every way to break Heartbeat v4's body; each must be TANDEM_EPROTO. */
static void test_malformed_compact(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t b[16];
        size_t n;
    } bad[] = {
        {"null GroupId (not nullable)", {0x00, 0, 0, 0, 5, 0x02, 'm', 0x00, 0x00}, 9},
        {"GroupId longer than the frame", {0x06, 'g'}, 2},
        {"GroupId length varint cut", {0x80}, 1},
        {"varint of 6 bytes", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 'g'}, 7},
        {"varint above 32 bits", {0xff, 0xff, 0xff, 0xff, 0x1f}, 5},
        {"tag section missing", {0x02, 'g', 0, 0, 0, 5, 0x02, 'm', 0x00}, 9},
        {"tag size beyond the end", {0x02, 'g', 0, 0, 0, 5, 0x02, 'm', 0x00, 0x01, 0x07, 0x09}, 12},
        {"second tag missing", {0x02, 'g', 0, 0, 0, 5, 0x02, 'm', 0x00, 0x02, 0x07, 0x00}, 12},
        {"trailing byte", {0x02, 'g', 0, 0, 0, 5, 0x02, 'm', 0x00, 0x00, 0x00}, 11},
    };
    struct arena a;
    arena_init(&a, 0);
    union group_req q;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (parse_group_req(KAFKA_HEARTBEAT, 4, bad[i].b, bad[i].n, &a, &q) != TANDEM_EPROTO)
            fail_msg("accepted: %s", bad[i].what);
    /* a COMPACT_ARRAY count larger than the bytes left, before anything is allocated */
    const uint8_t many[] = {0xff, 0xff, 0xff, 0xff, 0x07, 0x02, 'g'};
    assert_int_equal(parse_group_req(KAFKA_DELETE_GROUPS, 2, many, sizeof(many), &a, &q),
                     TANDEM_EPROTO);
    /* a null COMPACT_ARRAY where the spec allows none */
    const uint8_t null_arr[] = {0x00, 0x00};
    assert_int_equal(parse_group_req(KAFKA_DELETE_GROUPS, 2, null_arr, sizeof(null_arr), &a, &q),
                     TANDEM_EPROTO);
    arena_cleanup(&a);
}

/* Metadata v9 (null = all topics) and v10 (TopicId, nullable Name). */
static void test_metadata_flexible_requests(void **state)
{
    (void)state;
    struct arena a;
    struct kr r;
    struct metadata_req m;
    arena_init(&a, 0);
    const uint8_t v9_all[] = {0x00, 0x01, 0x00, 0x01, 0x00}; /* null topics, true, false, true */
    kr_init(&r, v9_all, sizeof(v9_all));
    assert_int_equal(kafka_parse_metadata_request(&r, 9, &a, &m), 0);
    assert_int_equal(m.ntopics, -1);
    assert_true(m.allow_auto_topic_creation);
    assert_true(m.include_topic_authorized_operations);
    uint8_t v10[] = {0x03, /* two topics */
                     1,    2,    3,    4,   5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* TopicId */
                     0x00, /* Name null: asked by id */
                     0x00, /* topic tags */
                     0,    0,    0,    0,   0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  0,  0, /* zero id */
                     0x02, 't',  0x00,        /* Name "t", tags */
                     0x00, 0x00, 0x00, 0x00}; /* auto-create false, cluster ops, topic ops, tags */
    kr_init(&r, v10, sizeof(v10));
    assert_int_equal(kafka_parse_metadata_request(&r, 10, &a, &m), 0);
    assert_int_equal(m.ntopics, 2);
    assert_int_equal(m.topics[0].len, -1);
    assert_true(kstr_eq(m.topics[1], "t"));
    assert_false(m.allow_auto_topic_creation);
    kr_init(&r, v10, sizeof(v10)); /* v11 has no IncludeClusterAuthorizedOperations: one extra */
    assert_int_equal(kafka_parse_metadata_request(&r, 11, &a, &m), TANDEM_EPROTO);
    kr_init(&r, v10, sizeof(v10) - 1);
    assert_int_equal(kafka_parse_metadata_request(&r, 11, &a, &m), 0);
    /* v9 does not allow a null Name */
    const uint8_t v9_null_name[] = {0x02, 0x00, 0x00, 0x01, 0x00, 0x00};
    kr_init(&r, v9_null_name, sizeof(v9_null_name));
    assert_int_equal(kafka_parse_metadata_request(&r, 9, &a, &m), TANDEM_EPROTO);
    arena_cleanup(&a);
}

/* Fetch v12 (FetchRequest.json): LastFetchedEpoch per partition, ClusterId as tagged field 0. */
static void test_fetch_v12_by_hand(void **state)
{
    (void)state;
    const uint8_t req[] = {
        0xff, 0xff, 0xff, 0xff,                         /* ReplicaId -1 */
        0x00, 0x00, 0x01, 0xf4,                         /* MaxWaitMs 500 */
        0x00, 0x00, 0x00, 0x01,                         /* MinBytes 1 */
        0x00, 0x10, 0x00, 0x00,                         /* MaxBytes 1 MiB */
        0x00,                                           /* IsolationLevel */
        0x00, 0x00, 0x00, 0x00,                         /* SessionId */
        0xff, 0xff, 0xff, 0xff,                         /* SessionEpoch -1 */
        0x02,                                           /* Topics: 1 */
        0x02, 't',                                      /*   Topic "t" */
        0x02,                                           /*   Partitions: 1 */
        0x00, 0x00, 0x00, 0x03,                         /*     Partition 3 */
        0xff, 0xff, 0xff, 0xff,                         /*     CurrentLeaderEpoch -1 */
        0,    0,    0,    0,    0,    0,    0,    7,    /*     FetchOffset 7 */
        0xff, 0xff, 0xff, 0xff,                         /*     LastFetchedEpoch -1 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* LogStartOffset -1 */
        0x00, 0x01, 0x00, 0x00,                         /*     PartitionMaxBytes 64 KiB */
        0x00,                                           /*     partition tags */
        0x00,                                           /*   topic tags */
        0x01,                                           /* ForgottenTopicsData: empty */
        0x01,                                           /* RackId "" */
        0x01, 0x00, 0x02, 0x02, 'c',                    /* tags: ClusterId (tag 0) = "c" */
    };
    struct arena a;
    struct kr r;
    struct fetch_req f;
    arena_init(&a, 0);
    kr_init(&r, req, sizeof(req));
    assert_int_equal(kafka_parse_fetch_request(&r, 12, &a, &f), 0);
    assert_int_equal(f.max_wait_ms, 500);
    assert_int_equal(f.max_bytes, 1 << 20);
    assert_int_equal(f.session_epoch, -1);
    assert_int_equal(f.ntopics, 1);
    assert_true(kstr_eq(f.topics[0].topic, "t"));
    assert_int_equal(f.topics[0].partitions[0].partition, 3);
    assert_int_equal(f.topics[0].partitions[0].fetch_offset, 7);
    assert_int_equal(f.topics[0].partitions[0].partition_max_bytes, 65536);
    assert_int_equal(f.nforgotten, 0);
    assert_int_equal(f.rack_id.len, 0);
    /* a known tag (ClusterId) whose value is shorter than its size: malformed */
    uint8_t bad[sizeof(req)];
    memcpy(bad, req, sizeof(req));
    bad[sizeof(req) - 3] = 0x01; /* size 1: the compact string's length says 1 more byte */
    kr_init(&r, bad, sizeof(bad) - 1);
    assert_int_equal(kafka_parse_fetch_request(&r, 12, &a, &f), TANDEM_EPROTO);

    /* the response, with records in memory and from a file (a splice) */
    static const uint8_t recs[] = {0xaa, 0xbb, 0xcc};
    int dummy;
    struct fetch_resp_partition parts[] = {
        {3, 0, 10, 10, 0, -1, NULL, -1, {recs, 3}, NULL, 0},
        {4, 0, 10, 10, 0, 0, NULL, -1, {NULL, -1}, &dummy, 300},
    };
    struct fetch_resp_topic topics[] = {{S("t"), 2, parts}};
    struct fetch_resp resp = {0, 0, 0, 1, topics};
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_fetch_response(&w, 12, &resp);
    const uint8_t want[] = {
        0,    0,    0,    0,    0,    0,  0, 0, 0, 0, /* ThrottleTimeMs, ErrorCode, SessionId */
        0x02, 0x02, 't',  0x03,                       /* Responses: 1, Topic "t", Partitions: 2 */
        0,    0,    0,    3,    0,    0,  0, 0, 0, 0, 0, 0, 0, 10, 0,    0,
        0,    0,    0,    0,    0,    10, 0, 0, 0, 0, 0, 0, 0, 0,  0x00, /* AbortedTransactions null
                                                                          */
        0xff, 0xff, 0xff, 0xff,       /* PreferredReadReplica -1 */
        0x04, 0xaa, 0xbb, 0xcc, 0x00, /* Records (COMPACT_RECORDS), tags */
        0,    0,    0,    4,    0,    0,  0, 0, 0, 0, 0, 0, 0, 10, 0,    0,
        0,    0,    0,    0,    0,    10, 0, 0, 0, 0, 0, 0, 0, 0,  0x01, /* AbortedTransactions
                                                                            empty */
        0xff, 0xff, 0xff, 0xff, /* PreferredReadReplica -1 */
        0xad, 0x02,             /* Records: 300 + 1 as a varint, then 300 spliced bytes */
        0x00, 0x00, 0x00,       /* partition, topic, response tags */
    };
    assert_bytes(&w, want, sizeof(want));
    assert_int_equal(w.nsplices, 1);
    assert_int_equal(w.splices[0].at, sizeof(want) - 3);
    assert_int_equal(w.splices[0].ext_len, 300);
    kw_cleanup(&w);
    arena_cleanup(&a);
}

/* A known tagged field: CreateTopics v5's TopicConfigErrorCode (tag 0, INT16). */
static void test_known_tag(void **state)
{
    (void)state;
    uint8_t resp[] = {
        0,    0,    0,    0,          /* ThrottleTimeMs */
        0x02,                         /* Topics: 1 */
        0x02, 'x',                    /* Name */
        0x00, 0x00,                   /* ErrorCode */
        0x00,                         /* ErrorMessage null */
        0,    0,    0,    1,    0, 1, /* NumPartitions 1, ReplicationFactor 1 */
        0x00,                         /* Configs null */
        0x02,                         /* tags: two */
        0x00, 0x02, 0x00, 0x1d,       /* tag 0, 2 bytes: TopicConfigErrorCode 29 */
        0x09, 0x01, 0x00,             /* tag 9 (unknown), 1 byte */
        0x00,                         /* response tags */
    };
    struct arena a;
    struct kr r;
    struct create_topics_resp o;
    arena_init(&a, 0);
    kr_init(&r, resp, sizeof(resp));
    assert_int_equal(kafka_parse_create_topics_response(&r, 5, &a, &o), 0);
    assert_int_equal(o.topics[0].topic_config_error_code, 29);
    assert_int_equal(o.topics[0].num_partitions, 1);
    assert_int_equal(o.topics[0].nconfigs, -1);
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_create_topics_response(&w, 5, &o); /* the unknown tag is not written back */
    assert_int_equal(w.len, sizeof(resp) - 3);
    assert_int_equal(w.buf[17], 0x01);
    kw_cleanup(&w);
    /* tag 0 claiming 3 bytes: the INT16 leaves one unread, which is malformed */
    memcpy(resp + 17, (const uint8_t[]){0x01, 0x00, 0x03, 0x00, 0x1d, 0x00, 0x00, 0x00}, 8);
    kr_init(&r, resp, 25);
    assert_int_equal(kafka_parse_create_topics_response(&r, 5, &a, &o), TANDEM_EPROTO);
    resp[19] = 0x02; /* the same with the right size, then a stray byte: trailing */
    kr_init(&r, resp, 25);
    assert_int_equal(kafka_parse_create_topics_response(&r, 5, &a, &o), TANDEM_EPROTO);
    arena_cleanup(&a);
}

/* librdkafka 2.0.2's ListGroups v4 (captured): its body's tag section is written twice, so it
 * ends in one extra 0x00, which Kafka ignores and tandem accepts for this API alone. */
static void test_list_groups_quirk(void **state)
{
    (void)state;
    char path[512];
    size_t n, used;
    snprintf(path, sizeof(path), "%s/flex/quirks/librdkafka-listgroups-v4.req.bin",
             TANDEM_VECTORS_DIR);
    uint8_t *f = codec_load(path, &n);
    assert_non_null(f);
    struct kafka_req_header h;
    assert_int_equal(kafka_parse_request_header(f, n, &h, &used), 0);
    assert_int_equal(h.request_api_key, KAFKA_LIST_GROUPS);
    assert_int_equal(h.request_api_version, 4);
    const uint8_t body[] = {0x01, 0x00, 0x00}; /* StatesFilter [], tags, tags again */
    assert_int_equal(n - used, sizeof(body));
    assert_memory_equal(f + used, body, sizeof(body));
    struct arena a;
    struct kr r;
    struct list_groups_req q;
    arena_init(&a, 0);
    kr_init(&r, body, sizeof(body));
    assert_int_equal(kafka_parse_list_groups_request(&r, 4, &a, &q), 0);
    assert_int_equal(q.nstates_filter, 0);
    const uint8_t other[] = {0x01, 0x00, 0x01}, two[] = {0x01, 0x00, 0x00, 0x00};
    kr_init(&r, other, sizeof(other));
    assert_int_equal(kafka_parse_list_groups_request(&r, 4, &a, &q), TANDEM_EPROTO);
    kr_init(&r, two, sizeof(two));
    assert_int_equal(kafka_parse_list_groups_request(&r, 4, &a, &q), TANDEM_EPROTO);
    const uint8_t v3[] = {0x00, 0x00};
    kr_init(&r, v3, sizeof(v3));
    assert_int_equal(kafka_parse_list_groups_request(&r, 3, &a, &q), 0);
    kr_init(&r, v3, sizeof(v3)); /* v2 is not flexible: its body is empty */
    assert_int_equal(kafka_parse_list_groups_request(&r, 2, &a, &q), TANDEM_EPROTO);
    arena_cleanup(&a);
    free(f);
}

/* ---- frames captured from real clients -------------------------------------------------------
 */

struct seen {
    int frames, flexible;
    bool init_producer_id_v2, offset_fetch_v7, api_versions_v3;
};

static void check_captured(const char *dir, const char *name, struct seen *seen)
{
    char path[512];
    size_t n, rn;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *req = codec_load(path, &n);
    assert_non_null(req);
    size_t plen = strlen(path);
    memcpy(path + plen - strlen(".req.bin"), ".resp.bin", strlen(".resp.bin") + 1);
    uint8_t *resp = codec_load(path, &rn);
    assert_non_null(resp);

    struct kafka_req_header h;
    size_t used;
    assert_int_equal(kafka_parse_request_header(req, n, &h, &used), 0);
    int16_t api = h.request_api_key, v = h.request_api_version;
    struct arena a;
    struct kw w;
    struct kr r;
    arena_init(&a, 0);
    kw_init(&w, 0);
    kr_init(&r, req + used, n - used);
    int32_t corr;
    struct kr rr;
    kr_init(&rr, resp, rn);
    assert_int_equal(kafka_parse_response_header(&rr, kafka_response_header_version(api, v), &corr),
                     0);
    assert_int_equal(corr, h.correlation_id);
    size_t body_off = rn - kr_left(&rr);
    if (codec_util_covers(api)) {
        union codec_req q;
        union codec_resp o;
        if (codec_parse_request(api, v, &r, &a, &q) != 0)
            fail_msg("%s: request not accepted", path);
        codec_encode_request(api, v, &w, &q);
        assert_bytes(&w, req + used, n - used);
        if (codec_parse_response(api, v, &rr, &a, &o) != 0)
            fail_msg("%s: response not accepted", path);
        kw_reset(&w);
        codec_encode_response(api, v, &w, &o);
        assert_bytes(&w, resp + body_off, rn - body_off);
        if (api == KAFKA_INIT_PRODUCER_ID && v == 2) {
            seen->init_producer_id_v2 = true;
            assert_int_equal(q.init_producer_id.transactional_id.len, -1);
            assert_int_equal(o.init_producer_id.error_code, 0);
            assert_true(o.init_producer_id.producer_id >= 0);
        }
        seen->api_versions_v3 |= api == KAFKA_API_VERSIONS && v == 3;
    } else {
        union group_req q;
        union group_resp o;
        if (group_parse_req(api, v, &r, &a, &q) != 0)
            fail_msg("%s: request not accepted", path);
        group_encode_req(api, v, &w, &q);
        assert_bytes(&w, req + used, n - used);
        if (group_parse_resp(api, v, &rr, &a, &o) != 0)
            fail_msg("%s: response not accepted", path);
        kw_reset(&w);
        group_encode_resp(api, v, &w, &o);
        assert_bytes(&w, resp + body_off, rn - body_off);
        if (api == KAFKA_OFFSET_FETCH && v == 7) {
            seen->offset_fetch_v7 = true;
            assert_true(kstr_eq(q.offset_fetch.group_id, "flex-capture"));
            assert_int_equal(q.offset_fetch.ntopics, 1);
            assert_true(kstr_eq(q.offset_fetch.topics[0].name, "flex-group"));
            assert_int_equal(o.offset_fetch.error_code, 0);
        }
    }
    seen->frames++;
    seen->flexible += kafka_request_header_version(api, v) == 2;
    kw_cleanup(&w);
    arena_cleanup(&a);
    free(req);
    free(resp);
}

static void test_captured(void **state)
{
    (void)state;
    static const char *dirs[] = {"flex/librdkafka-idempotent", "flex/librdkafka-group",
                                 "flex/kafkajs"};
    struct seen seen = {0};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/%s", TANDEM_VECTORS_DIR, dirs[i]);
        DIR *d = opendir(dir);
        if (!d)
            fail_msg("missing %s", dir);
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strstr(e->d_name, ".req.bin"))
                check_captured(dir, e->d_name, &seen);
        closedir(d);
    }
    assert_int_equal(seen.frames, 44);
    assert_true(seen.flexible >= 4);
    assert_true(seen.init_producer_id_v2 && seen.offset_fetch_v7 && seen.api_versions_v3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeat_v4_by_hand),
        cmocka_unit_test(test_malformed_compact),
        cmocka_unit_test(test_metadata_flexible_requests),
        cmocka_unit_test(test_fetch_v12_by_hand),
        cmocka_unit_test(test_known_tag),
        cmocka_unit_test(test_list_groups_quirk),
        cmocka_unit_test(test_captured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
