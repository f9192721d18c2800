/*
 * Record batch v2 validation, over batches librdkafka produced (tests/vectors/produce-*): a good
 * batch validates; a flipped byte under the CRC is ECORRUPT; every truncation is EAGAIN; the old
 * message formats are EUNSUPPORTED; inconsistent counts and broken records are ECORRUPT even with
 * a correct CRC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32c.h"
#include "protocol/record_batch.h"
#include "test_codec_util.h"

#define VEC TANDEM_VECTORS_DIR

/* Copies the records of the first partition of a captured Produce request into *out. */
static uint8_t *captured_batch(const char *rel, size_t *len)
{
    char path[512];
    size_t flen, hl;
    snprintf(path, sizeof(path), "%s/%s", VEC, rel);
    uint8_t *frame = codec_load(path, &flen);
    assert_non_null(frame);
    struct kafka_req_header h;
    assert_int_equal(kafka_parse_request_header(frame, flen, &h, &hl), 0);
    struct arena a;
    struct produce_req p;
    struct kr r;
    arena_init(&a, 0);
    kr_init(&r, frame + hl, flen - hl);
    assert_int_equal(kafka_parse_produce_request(&r, h.request_api_version, &a, &p), 0);
    struct kbytes rec = p.topics[0].partitions[0].records;
    uint8_t *out = malloc((size_t)rec.len);
    memcpy(out, rec.p, (size_t)rec.len);
    *len = (size_t)rec.len;
    arena_cleanup(&a);
    free(frame);
    return out;
}

static void recrc(uint8_t *b, size_t len)
{
    put_be32(b + 17, kbatch_compute_crc(b, len));
}

static void test_good_batches(void **state)
{
    (void)state;
    const char *files[] = {
        "produce-none/004-Produce-v7.req.bin", "produce-gzip-acks1/004-Produce-v7.req.bin",
        "produce-zstd-acksall/004-Produce-v7.req.bin", "produce-v3-snappy/004-Produce-v3.req.bin",
        "idempotent/005-Produce-v7.req.bin"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t len, used = 0;
        uint8_t *b = captured_batch(files[i], &len);
        struct kbatch kb;
        assert_int_equal(kbatch_validate(b, len, &kb, &used), 0);
        assert_int_equal(used, len);
        assert_int_equal(kbatch_size(&kb), len);
        assert_int_equal(kb.magic, 2);
        assert_int_equal(kb.records_count, 5);
        assert_int_equal(kb.crc, kbatch_compute_crc(b, len));
        assert_true(kb.max_timestamp >= kb.base_timestamp);
        free(b);
    }
}

static void test_flipped_byte(void **state)
{
    (void)state;
    size_t len, used;
    struct kbatch kb;
    uint8_t *b = captured_batch("produce-none/004-Produce-v7.req.bin", &len);
    for (size_t i = KBATCH_CRC_START; i < len; i++) {
        b[i] ^= 0x01;
        assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
        b[i] ^= 0x01;
    }
    for (size_t i = 17; i < 21; i++) { /* the CRC field itself */
        b[i] ^= 0x80;
        assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
        b[i] ^= 0x80;
    }
    /* baseOffset and partitionLeaderEpoch are outside the CRC: the broker rewrites them */
    kbatch_set_base_offset(b, 123456);
    kbatch_set_leader_epoch(b, 9);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), 0);
    assert_int_equal(kb.base_offset, 123456);
    assert_int_equal(kb.partition_leader_epoch, 9);
    free(b);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t len, used;
    struct kbatch kb;
    uint8_t *b = captured_batch("produce-gzip-acks1/004-Produce-v7.req.bin", &len);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(kbatch_validate(b, cut, &kb, &used), TANDEM_EAGAIN);
    /* two batches back to back: the first validates with used = its size */
    uint8_t *two = malloc(2 * len);
    memcpy(two, b, len);
    memcpy(two + len, b, len);
    assert_int_equal(kbatch_validate(two, 2 * len, &kb, &used), 0);
    assert_int_equal(used, len);
    free(two);
    free(b);
}

static void test_old_magic(void **state)
{
    (void)state;
    size_t len, used;
    struct kbatch kb;
    /* librdkafka's own magic 1 message set (Produce v2) */
    uint8_t *b = captured_batch("produce-v2-magic1/004-Produce-v2.req.bin", &len);
    assert_int_equal(b[16], 1);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_EUNSUPPORTED);
    free(b);
    b = captured_batch("produce-none/004-Produce-v7.req.bin", &len);
    b[16] = 1;
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_EUNSUPPORTED);
    b[16] = 0;
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_EUNSUPPORTED);
    b[16] = 3;
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    b[16] = 2;
    put_be32(b + 8, KBATCH_MIN_LENGTH - 1); /* batchLength below the header */
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    free(b);
}

static void test_count_mismatch(void **state)
{
    (void)state;
    size_t len, used;
    struct kbatch kb;
    uint8_t *b = captured_batch("produce-none/004-Produce-v7.req.bin", &len);
    uint8_t *orig = malloc(len);
    memcpy(orig, b, len);

    put_be32(b + 57, 4); /* recordsCount 4, lastOffsetDelta 4, CRC made valid */
    recrc(b, len);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    put_be32(b + 23, 3); /* consistent header, but 5 records are there */
    recrc(b, len);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    memcpy(b, orig, len);
    put_be32(b + 57, 6); /* more records claimed than present */
    put_be32(b + 23, 5);
    recrc(b, len);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);

    /* the first record's offsetDelta (byte 3 of the record: length, attributes, ts delta) */
    memcpy(b, orig, len);
    assert_int_equal(b[KBATCH_HEADER_SIZE + 3], 0);
    b[KBATCH_HEADER_SIZE + 3] = 2; /* zigzag 1 */
    recrc(b, len);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    /* a record length running past the batch */
    memcpy(b, orig, len);
    b[KBATCH_HEADER_SIZE] = 0x7e;
    recrc(b, len);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    /* an unknown codec */
    memcpy(b, orig, len);
    b[22] |= 0x07;
    recrc(b, len);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), TANDEM_ECORRUPT);
    free(orig);
    free(b);
}

static void test_log_append_time(void **state)
{
    (void)state;
    size_t len, used;
    struct kbatch kb;
    uint8_t *b = captured_batch("produce-none/004-Produce-v7.req.bin", &len);
    kbatch_set_log_append_time(b, len, 1800000000000);
    assert_int_equal(kbatch_validate(b, len, &kb, &used), 0);
    assert_true(kb.attributes & KBATCH_ATTR_LOG_APPEND_TS);
    assert_true(kb.max_timestamp == 1800000000000);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_batches),   cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_truncated),      cmocka_unit_test(test_old_magic),
        cmocka_unit_test(test_count_mismatch), cmocka_unit_test(test_log_append_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
