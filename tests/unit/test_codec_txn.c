/*
 * Tests of the transaction codecs (protocol/messages_txn.h, broker side;
 * kafka_client/messages_txn_client.h, client side), for AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn and TxnOffsetCommit at every version tandem implements (0-2):
 *
 *   - round trips: a request filled with distinct values is encoded with the client encoder and
 *     parsed with the broker's parser, a response encoded with the broker's encoder and parsed
 *     with the client parser, every field compared (TxnOffsetCommit's leader epoch is -1 below
 *     v2, as the spec's default);
 *   - every truncation and a one-byte extension of each is rejected with TANDEM_EPROTO;
 *   - versions outside 0-2 are TANDEM_EUNSUPPORTED; a null transactional id is malformed;
 *   - a frame as librdkafka 2.0.2 sends EndTxn v1 (bytes written out from its
 *     rd_kafka_EndTxnRequest: id, pid, epoch, committed) parses to its values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka_client/messages_txn_client.h"
#include "protocol/messages_txn.h"
#include "tandem/error.h"

typedef int (*parse_fn)(struct kr *r, int16_t v, struct arena *a, void *out);

/* Every strict prefix and a one-byte extension of buf must fail to parse. */
static void assert_strict(const struct kw *w, int16_t v, parse_fn parse, size_t out_size)
{
    void *out = malloc(out_size);
    struct arena a;
    arena_init(&a, 0);
    for (size_t n = 0; n < w->len; n++) {
        struct kr r;
        kr_init(&r, w->buf, n);
        assert_int_equal(parse(&r, v, &a, out), TANDEM_EPROTO);
    }
    uint8_t *ext = malloc(w->len + 1);
    memcpy(ext, w->buf, w->len);
    ext[w->len] = 0;
    struct kr r;
    kr_init(&r, ext, w->len + 1);
    assert_int_equal(parse(&r, v, &a, out), TANDEM_EPROTO);
    free(ext);
    arena_cleanup(&a);
    free(out);
}

static void assert_str(struct kstr s, const char *want)
{
    assert_int_equal(s.len, (int32_t)strlen(want));
    assert_memory_equal(s.p, want, strlen(want));
}

static void test_add_partitions(void **state)
{
    (void)state;
    for (int16_t v = 0; v <= 2; v++) {
        int32_t p1[] = {0, 7}, p2[] = {3};
        struct add_partitions_to_txn_req_topic topics[] = {{KSTR("t1"), 2, p1},
                                                           {KSTR("t2"), 1, p2}};
        struct add_partitions_to_txn_req in = {KSTR("txn-a"), 1234567890123LL, 9, 2, topics}, out;
        struct kw w;
        kw_init(&w, 64);
        kafka_encode_add_partitions_to_txn_request(&w, v, &in);
        struct arena a;
        arena_init(&a, 0);
        struct kr r;
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_add_partitions_to_txn_request(&r, v, &a, &out), 0);
        assert_str(out.transactional_id, "txn-a");
        assert_int_equal(out.producer_id, 1234567890123LL);
        assert_int_equal(out.producer_epoch, 9);
        assert_int_equal(out.ntopics, 2);
        assert_str(out.topics[0].name, "t1");
        assert_int_equal(out.topics[0].npartitions, 2);
        assert_int_equal(out.topics[0].partitions[1], 7);
        assert_int_equal(out.topics[1].partitions[0], 3);
        assert_strict(&w, v, (parse_fn)kafka_parse_add_partitions_to_txn_request, sizeof(out));

        struct add_partitions_to_txn_resp_partition rp[] = {{0, 0}, {7, 48}};
        struct add_partitions_to_txn_resp_topic rt[] = {{KSTR("t1"), 2, rp}};
        struct add_partitions_to_txn_resp resp = {25, 1, rt}, back;
        kw_reset(&w);
        kafka_encode_add_partitions_to_txn_response(&w, v, &resp);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_add_partitions_to_txn_response(&r, v, &a, &back), 0);
        assert_int_equal(back.throttle_time_ms, 25);
        assert_int_equal(back.ntopics, 1);
        assert_str(back.topics[0].name, "t1");
        assert_int_equal(back.topics[0].partitions[1].partition_index, 7);
        assert_int_equal(back.topics[0].partitions[1].error_code, 48);
        assert_strict(&w, v, (parse_fn)kafka_parse_add_partitions_to_txn_response, sizeof(back));
        arena_cleanup(&a);
        kw_cleanup(&w);
    }
}

static void test_add_offsets_and_end(void **state)
{
    (void)state;
    for (int16_t v = 0; v <= 2; v++) {
        struct kw w;
        kw_init(&w, 64);
        struct arena a;
        arena_init(&a, 0);
        struct kr r;
        struct add_offsets_to_txn_req ao = {KSTR("txn-b"), 42, 3, KSTR("group-x")}, ao2;
        kafka_encode_add_offsets_to_txn_request(&w, v, &ao);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_add_offsets_to_txn_request(&r, v, &a, &ao2), 0);
        assert_str(ao2.transactional_id, "txn-b");
        assert_int_equal(ao2.producer_id, 42);
        assert_int_equal(ao2.producer_epoch, 3);
        assert_str(ao2.group_id, "group-x");
        assert_strict(&w, v, (parse_fn)kafka_parse_add_offsets_to_txn_request, sizeof(ao2));

        for (int c = 0; c <= 1; c++) {
            struct end_txn_req e = {KSTR("txn-c"), 43, 4, c == 1}, e2;
            kw_reset(&w);
            kafka_encode_end_txn_request(&w, v, &e);
            kr_init(&r, w.buf, w.len);
            assert_int_equal(kafka_parse_end_txn_request(&r, v, &a, &e2), 0);
            assert_str(e2.transactional_id, "txn-c");
            assert_int_equal(e2.producer_id, 43);
            assert_int_equal(e2.producer_epoch, 4);
            assert_int_equal(e2.committed, c == 1);
            assert_strict(&w, v, (parse_fn)kafka_parse_end_txn_request, sizeof(e2));
        }

        struct txn_simple_resp s = {17, 90}, s2;
        kw_reset(&w);
        kafka_encode_end_txn_response(&w, v, &s);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_end_txn_response(&r, v, &a, &s2), 0);
        assert_int_equal(s2.throttle_time_ms, 17);
        assert_int_equal(s2.error_code, 90);
        assert_strict(&w, v, (parse_fn)kafka_parse_end_txn_response, sizeof(s2));
        kw_reset(&w);
        kafka_encode_add_offsets_to_txn_response(&w, v, &s);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_add_offsets_to_txn_response(&r, v, &a, &s2), 0);
        assert_int_equal(s2.error_code, 90);
        arena_cleanup(&a);
        kw_cleanup(&w);
    }
}

static void test_txn_offset_commit(void **state)
{
    (void)state;
    for (int16_t v = 0; v <= 2; v++) {
        struct txn_offset_commit_req_partition ps[] = {{0, 100, 5, KSTR("meta")},
                                                       {4, 200, 6, KSTR_NULL}};
        struct txn_offset_commit_req_topic ts[] = {{KSTR("in"), 2, ps}};
        struct txn_offset_commit_req in = {KSTR("txn-d"), KSTR("g"), 44, 5, 1, ts}, out;
        struct kw w;
        kw_init(&w, 64);
        kafka_encode_txn_offset_commit_request(&w, v, &in);
        struct arena a;
        arena_init(&a, 0);
        struct kr r;
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_txn_offset_commit_request(&r, v, &a, &out), 0);
        assert_str(out.transactional_id, "txn-d");
        assert_str(out.group_id, "g");
        assert_int_equal(out.producer_id, 44);
        assert_int_equal(out.producer_epoch, 5);
        assert_int_equal(out.ntopics, 1);
        assert_int_equal(out.topics[0].npartitions, 2);
        assert_int_equal(out.topics[0].partitions[0].committed_offset, 100);
        assert_int_equal(out.topics[0].partitions[0].committed_leader_epoch, v >= 2 ? 5 : -1);
        assert_str(out.topics[0].partitions[0].committed_metadata, "meta");
        assert_int_equal(out.topics[0].partitions[1].partition_index, 4);
        assert_int_equal(out.topics[0].partitions[1].committed_metadata.len, -1);
        assert_strict(&w, v, (parse_fn)kafka_parse_txn_offset_commit_request, sizeof(out));

        struct txn_offset_commit_resp_partition rp[] = {{0, 0}, {4, 3}};
        struct txn_offset_commit_resp_topic rt[] = {{KSTR("in"), 2, rp}};
        struct txn_offset_commit_resp resp = {0, 1, rt}, back;
        kw_reset(&w);
        kafka_encode_txn_offset_commit_response(&w, v, &resp);
        kr_init(&r, w.buf, w.len);
        assert_int_equal(kafka_parse_txn_offset_commit_response(&r, v, &a, &back), 0);
        assert_int_equal(back.topics[0].partitions[1].error_code, 3);
        assert_strict(&w, v, (parse_fn)kafka_parse_txn_offset_commit_response, sizeof(back));
        arena_cleanup(&a);
        kw_cleanup(&w);
    }
}

static void test_versions_and_nulls(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 0);
    struct kr r;
    union {
        struct add_partitions_to_txn_req ap;
        struct add_offsets_to_txn_req ao;
        struct end_txn_req e;
        struct txn_offset_commit_req tc;
    } u;
    const uint8_t none[1] = {0};
    int16_t bad[] = {-1, 3};
    for (size_t i = 0; i < 2; i++) {
        kr_init(&r, none, 0);
        assert_int_equal(kafka_parse_add_partitions_to_txn_request(&r, bad[i], &a, &u.ap),
                         TANDEM_EUNSUPPORTED);
        assert_int_equal(kafka_parse_add_offsets_to_txn_request(&r, bad[i], &a, &u.ao),
                         TANDEM_EUNSUPPORTED);
        assert_int_equal(kafka_parse_end_txn_request(&r, bad[i], &a, &u.e), TANDEM_EUNSUPPORTED);
        assert_int_equal(kafka_parse_txn_offset_commit_request(&r, bad[i], &a, &u.tc),
                         TANDEM_EUNSUPPORTED);
    }
    /* EndTxn v1 as librdkafka writes it, with a null transactional id: malformed */
    const uint8_t null_id[] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1};
    kr_init(&r, null_id, sizeof(null_id));
    assert_int_equal(kafka_parse_end_txn_request(&r, 1, &a, &u.e), TANDEM_EPROTO);
    /* the same with id "t": pid 1, epoch 0, committed */
    const uint8_t frame[] = {0, 1, 't', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1};
    kr_init(&r, frame, sizeof(frame));
    assert_int_equal(kafka_parse_end_txn_request(&r, 1, &a, &u.e), 0);
    assert_str(u.e.transactional_id, "t");
    assert_int_equal(u.e.producer_id, 1);
    assert_int_equal(u.e.producer_epoch, 0);
    assert_true(u.e.committed);
    /* AddPartitionsToTxn with a topic count larger than the bytes left */
    const uint8_t huge[] = {0, 1, 't', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff};
    kr_init(&r, huge, sizeof(huge));
    assert_int_equal(kafka_parse_add_partitions_to_txn_request(&r, 0, &a, &u.ap), TANDEM_EPROTO);
    arena_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_partitions),
        cmocka_unit_test(test_add_offsets_and_end),
        cmocka_unit_test(test_txn_offset_commit),
        cmocka_unit_test(test_versions_and_nulls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
