/*
 * Field-by-field checks of the captured producer, consumer, admin and idempotent-producer frames
 * (tests/vectors/README.md): the decoded values must be exactly what librdkafka sent, and the
 * record batches inside Produce requests and Fetch responses must validate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/record_batch.h"
#include "test_codec_util.h"

#define VEC TANDEM_VECTORS_DIR

struct frame {
    uint8_t *buf;
    size_t len;
    struct kafka_req_header h;
    struct arena arena;
    union codec_req req;
    union codec_resp resp;
};

static uint8_t *load(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", VEC, rel);
    uint8_t *buf = codec_load(path, len);
    if (!buf)
        fail_msg("cannot read %s", path);
    return buf;
}

static void req_load(struct frame *f, const char *rel)
{
    size_t hl;
    f->buf = load(rel, &f->len);
    assert_int_equal(kafka_parse_request_header(f->buf, f->len, &f->h, &hl), 0);
    arena_init(&f->arena, 0);
    struct kr r;
    kr_init(&r, f->buf + hl, f->len - hl);
    assert_int_equal(
        codec_parse_request(f->h.request_api_key, f->h.request_api_version, &r, &f->arena, &f->req),
        0);
}

static void resp_load(struct frame *f, const char *rel, int16_t api, int16_t v)
{
    int32_t corr;
    struct kr r;
    f->buf = load(rel, &f->len);
    arena_init(&f->arena, 0);
    kr_init(&r, f->buf, f->len);
    assert_int_equal(kafka_parse_response_header(&r, kafka_response_header_version(api, v), &corr),
                     0);
    assert_int_equal(codec_parse_response(api, v, &r, &f->arena, &f->resp), 0);
}

static void frame_free(struct frame *f)
{
    arena_cleanup(&f->arena);
    free(f->buf);
}

static void assert_kstr(struct kstr s, const char *want)
{
    if (!kstr_eq(s, want))
        fail_msg("got \"%.*s\", want \"%s\"", s.len < 0 ? 0 : s.len, s.p ? s.p : "", want);
}

/* Checks a Produce request from kclient: one topic, partition 0, one batch of 5 records. */
static void check_produce(const char *rel, int16_t version, int16_t acks, int codec)
{
    struct frame f;
    req_load(&f, rel);
    const struct produce_req *p = &f.req.produce;
    assert_int_equal(f.h.request_api_key, KAFKA_PRODUCE);
    assert_int_equal(f.h.request_api_version, version);
    assert_kstr(f.h.client_id, "tandem-capture");
    assert_int_equal(p->transactional_id.len, -1);
    assert_int_equal(p->acks, acks);
    assert_int_equal(p->timeout_ms, 30000); /* librdkafka's request.timeout.ms default */
    assert_int_equal(p->ntopics, 1);
    assert_kstr(p->topics[0].name, "tandem-topic");
    assert_int_equal(p->topics[0].npartitions, 1);
    assert_int_equal(p->topics[0].partitions[0].index, 0);
    struct kbytes rec = p->topics[0].partitions[0].records;
    assert_true(rec.len > KBATCH_HEADER_SIZE);
    struct kbatch b;
    size_t used;
    assert_int_equal(kbatch_validate(rec.p, (size_t)rec.len, &b, &used), 0);
    assert_int_equal(used, (size_t)rec.len);
    assert_int_equal(b.attributes & KBATCH_ATTR_CODEC_MASK, codec);
    assert_int_equal(b.records_count, 5);
    assert_int_equal(b.last_offset_delta, 4);
    assert_int_equal(b.base_offset, 0);
    frame_free(&f);
}

static void test_produce_requests(void **state)
{
    (void)state;
    check_produce("produce-gzip-acks1/004-Produce-v7.req.bin", 7, 1, KCODEC_GZIP);
    check_produce("produce-zstd-acksall/004-Produce-v7.req.bin", 7, -1, KCODEC_ZSTD);
    check_produce("produce-v3-snappy/004-Produce-v3.req.bin", 3, 1, KCODEC_SNAPPY);
    check_produce("produce-none/004-Produce-v7.req.bin", 7, -1, KCODEC_NONE);
}

static void test_produce_v2_magic1(void **state)
{
    (void)state;
    struct frame f;
    req_load(&f, "produce-v2-magic1/004-Produce-v2.req.bin");
    assert_int_equal(f.h.request_api_version, 2);
    assert_int_equal(f.req.produce.acks, 1);
    assert_kstr(f.req.produce.topics[0].name, "tandem-topic");
    struct kbytes rec = f.req.produce.topics[0].partitions[0].records;
    struct kbatch b;
    size_t used;
    /* a v1 message set: offset, size, crc, then magic 1 at byte 16 */
    assert_int_equal(rec.p[16], 1);
    assert_int_equal(kbatch_validate(rec.p, (size_t)rec.len, &b, &used), TANDEM_EUNSUPPORTED);
    frame_free(&f);
}

static void test_produce_response(void **state)
{
    (void)state;
    struct frame f;
    resp_load(&f, "produce-none/004-Produce-v7.resp.bin", KAFKA_PRODUCE, 7);
    const struct produce_resp *p = &f.resp.produce;
    assert_int_equal(p->ntopics, 1);
    assert_kstr(p->topics[0].name, "tandem-topic");
    assert_int_equal(p->topics[0].npartitions, 1);
    assert_int_equal(p->topics[0].partitions[0].index, 0);
    assert_int_equal(p->topics[0].partitions[0].error_code, 0);
    assert_int_equal(p->topics[0].partitions[0].base_offset, 0);
    assert_int_equal(p->topics[0].partitions[0].log_start_offset, 0);
    frame_free(&f);
}

static void test_consume_list_offsets(void **state)
{
    (void)state;
    struct frame f;
    req_load(&f, "consume/008-ListOffsets-v2.req.bin");
    const struct list_offsets_req *l = &f.req.list_offsets;
    assert_int_equal(f.h.request_api_version, 2);
    assert_int_equal(l->replica_id, -1);
    assert_int_equal(l->isolation_level, 1); /* librdkafka: isolation.level=read_committed */
    assert_int_equal(l->ntopics, 1);
    assert_kstr(l->topics[0].name, "tandem-topic");
    assert_int_equal(l->topics[0].npartitions, 1);
    assert_int_equal(l->topics[0].partitions[0].partition_index, 0);
    assert_int_equal(l->topics[0].partitions[0].timestamp, KAFKA_TIMESTAMP_EARLIEST);
    assert_int_equal(l->topics[0].partitions[0].current_leader_epoch, -1);
    frame_free(&f);

    req_load(&f, "consume-fetch-v4/008-ListOffsets-v1.req.bin");
    assert_int_equal(f.h.request_api_version, 1);
    assert_int_equal(f.req.list_offsets.isolation_level, 0); /* not in v1 */
    assert_int_equal(f.req.list_offsets.topics[0].partitions[0].timestamp,
                     KAFKA_TIMESTAMP_EARLIEST);
    assert_int_equal(f.req.list_offsets.topics[0].partitions[0].max_num_offsets, 1);
    frame_free(&f);

    resp_load(&f, "consume/008-ListOffsets-v2.resp.bin", KAFKA_LIST_OFFSETS, 2);
    const struct list_offsets_resp_partition *p = &f.resp.list_offsets.topics[0].partitions[0];
    assert_kstr(f.resp.list_offsets.topics[0].name, "tandem-topic");
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->offset, 0);
    frame_free(&f);
}

static void test_consume_fetch(void **state)
{
    (void)state;
    struct frame f;
    req_load(&f, "consume/009-Fetch-v11.req.bin");
    const struct fetch_req *q = &f.req.fetch;
    assert_int_equal(f.h.request_api_version, 11);
    assert_int_equal(q->replica_id, -1);
    assert_int_equal(q->max_wait_ms, 500);    /* fetch.wait.max.ms */
    assert_int_equal(q->min_bytes, 1);        /* fetch.min.bytes */
    assert_int_equal(q->max_bytes, 52428800); /* fetch.max.bytes */
    assert_int_equal(q->isolation_level, 1);
    assert_int_equal(q->session_id, 0); /* no fetch sessions */
    assert_int_equal(q->session_epoch, -1);
    assert_int_equal(q->ntopics, 1);
    assert_kstr(q->topics[0].topic, "tandem-topic");
    assert_int_equal(q->topics[0].npartitions, 1);
    assert_int_equal(q->topics[0].partitions[0].partition, 0);
    assert_int_equal(q->topics[0].partitions[0].current_leader_epoch, -1);
    assert_int_equal(q->topics[0].partitions[0].fetch_offset, 0);
    assert_int_equal(q->topics[0].partitions[0].log_start_offset, -1);
    assert_int_equal(q->topics[0].partitions[0].partition_max_bytes, 1048576);
    assert_int_equal(q->nforgotten, 0);
    assert_kstr(q->rack_id, "");
    frame_free(&f);

    req_load(&f, "consume/010-Fetch-v11.req.bin"); /* the next fetch, after the 5 records */
    assert_int_equal(f.req.fetch.topics[0].partitions[0].fetch_offset, 5);
    frame_free(&f);

    req_load(&f, "consume-fetch-v4/009-Fetch-v4.req.bin");
    assert_int_equal(f.h.request_api_version, 4);
    assert_int_equal(f.req.fetch.isolation_level, 1);
    assert_int_equal(f.req.fetch.session_epoch, -1); /* default: not in v4 */
    assert_int_equal(f.req.fetch.topics[0].partitions[0].log_start_offset, -1);
    assert_kstr(f.req.fetch.rack_id, "");
    frame_free(&f);

    resp_load(&f, "consume/009-Fetch-v11.resp.bin", KAFKA_FETCH, 11);
    const struct fetch_resp *r = &f.resp.fetch;
    assert_int_equal(r->error_code, 0);
    assert_int_equal(r->session_id, 0);
    assert_int_equal(r->ntopics, 1);
    const struct fetch_resp_partition *p = &r->topics[0].partitions[0];
    assert_int_equal(p->partition_index, 0);
    assert_int_equal(p->error_code, 0);
    assert_int_equal(p->high_watermark, 5);
    assert_int_equal(p->last_stable_offset, 5);
    assert_int_equal(p->preferred_read_replica, -1);
    struct kbatch b;
    size_t used;
    assert_int_equal(kbatch_validate(p->records.p, (size_t)p->records.len, &b, &used), 0);
    assert_int_equal(b.records_count, 5);
    assert_int_equal(b.base_offset, 0);
    frame_free(&f);
}

static void test_admin(void **state)
{
    (void)state;
    struct frame f;
    req_load(&f, "admin/004-CreateTopics-v4.req.bin");
    const struct create_topics_req *c = &f.req.create_topics;
    assert_int_equal(f.h.request_api_version, 4);
    assert_int_equal(c->ntopics, 1);
    assert_kstr(c->topics[0].name, "tandem-created");
    assert_int_equal(c->topics[0].num_partitions, 3);
    assert_int_equal(c->topics[0].replication_factor, 1);
    assert_int_equal(c->topics[0].nassignments, 0);
    assert_int_equal(c->topics[0].nconfigs, 1);
    assert_kstr(c->topics[0].configs[0].name, "cleanup.policy");
    assert_kstr(c->topics[0].configs[0].value, "compact");
    assert_int_equal(c->timeout_ms, 60000);
    assert_false(c->validate_only);
    frame_free(&f);

    req_load(&f, "admin/005-DeleteTopics-v1.req.bin");
    assert_int_equal(f.h.request_api_version, 1);
    assert_int_equal(f.req.delete_topics.ntopic_names, 1);
    assert_kstr(f.req.delete_topics.topic_names[0], "tandem-created");
    assert_int_equal(f.req.delete_topics.timeout_ms, 60000);
    frame_free(&f);

    resp_load(&f, "admin/004-CreateTopics-v4.resp.bin", KAFKA_CREATE_TOPICS, 4);
    assert_int_equal(f.resp.create_topics.ntopics, 1);
    assert_kstr(f.resp.create_topics.topics[0].name, "tandem-created");
    assert_int_equal(f.resp.create_topics.topics[0].error_message.len, -1);
    frame_free(&f);
}

/* librdkafka's rd_kafka_CreatePartitions: to 3 with the broker choosing (a null Assignments
 * array), then to 5 with both new partitions on broker 1, validate-only. */
static void test_admin_partitions(void **state)
{
    (void)state;
    struct frame f;
    req_load(&f, "admin-partitions/004-CreatePartitions-v0.req.bin");
    const struct create_partitions_req *c = &f.req.create_partitions;
    assert_int_equal(f.h.request_api_key, KAFKA_CREATE_PARTITIONS);
    assert_int_equal(f.h.request_api_version, 0);
    assert_int_equal(c->ntopics, 1);
    assert_kstr(c->topics[0].name, "tandem-topic");
    assert_int_equal(c->topics[0].count, 3);
    assert_int_equal(c->topics[0].nassignments, -1);
    assert_int_equal(c->timeout_ms, 60000);
    assert_false(c->validate_only);
    frame_free(&f);

    req_load(&f, "admin-partitions/005-CreatePartitions-v0.req.bin");
    c = &f.req.create_partitions;
    assert_int_equal(c->topics[0].count, 5);
    assert_int_equal(c->topics[0].nassignments, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c->topics[0].assignments[i].nbroker_ids, 1);
        assert_int_equal(c->topics[0].assignments[i].broker_ids[0], 1);
    }
    assert_true(c->validate_only);
    frame_free(&f);

    resp_load(&f, "admin-partitions/004-CreatePartitions-v0.resp.bin", KAFKA_CREATE_PARTITIONS, 0);
    assert_int_equal(f.resp.create_partitions.nresults, 1);
    assert_kstr(f.resp.create_partitions.results[0].name, "tandem-topic");
    assert_int_equal(f.resp.create_partitions.results[0].error_code, 0);
    assert_int_equal(f.resp.create_partitions.results[0].error_message.len, -1);
    frame_free(&f);
}

static void test_idempotent(void **state)
{
    (void)state;
    struct frame f;
    req_load(&f, "idempotent/004-InitProducerId-v1.req.bin");
    assert_int_equal(f.h.request_api_key, KAFKA_INIT_PRODUCER_ID);
    assert_int_equal(f.h.request_api_version, 1);
    assert_int_equal(f.req.init_producer_id.transactional_id.len, -1);
    assert_int_equal(f.req.init_producer_id.transaction_timeout_ms, -1);
    frame_free(&f);

    resp_load(&f, "idempotent/004-InitProducerId-v1.resp.bin", KAFKA_INIT_PRODUCER_ID, 1);
    int64_t pid = f.resp.init_producer_id.producer_id;
    assert_int_equal(f.resp.init_producer_id.error_code, 0);
    assert_true(pid >= 0);
    assert_int_equal(f.resp.init_producer_id.producer_epoch, 0);
    frame_free(&f);

    /* the Produce that follows carries that producer id, epoch 0, sequence 0 */
    req_load(&f, "idempotent/005-Produce-v7.req.bin");
    assert_int_equal(f.req.produce.acks, -1);
    struct kbytes rec = f.req.produce.topics[0].partitions[0].records;
    struct kbatch b;
    size_t used;
    assert_int_equal(kbatch_validate(rec.p, (size_t)rec.len, &b, &used), 0);
    assert_int_equal(b.attributes & KBATCH_ATTR_CODEC_MASK, KCODEC_LZ4);
    assert_int_equal(b.producer_id, pid);
    assert_int_equal(b.producer_epoch, 0);
    assert_int_equal(b.base_sequence, 0);
    assert_int_equal(b.records_count, 5);
    frame_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_requests), cmocka_unit_test(test_produce_v2_magic1),
        cmocka_unit_test(test_produce_response), cmocka_unit_test(test_consume_list_offsets),
        cmocka_unit_test(test_consume_fetch),    cmocka_unit_test(test_admin),
        cmocka_unit_test(test_admin_partitions), cmocka_unit_test(test_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
