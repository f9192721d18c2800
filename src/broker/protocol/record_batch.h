/*
 * Record batch v2 ("magic 2"): parsing and validation of the unit tandem stores verbatim.
 *
 * Layout (Kafka's DefaultRecordBatch; KIP-98; librdkafka rdkafka_proto.h):
 *
 *   OFFSET SIZE FIELD
 *   0      8    baseOffset            set by the broker on append
 *   8      4    batchLength           bytes after this field; whole batch = batchLength + 12
 *   12     4    partitionLeaderEpoch  set by the broker; not covered by the CRC
 *   16     1    magic                 must be 2
 *   17     4    crc                   CRC-32C of bytes 21 .. end
 *   21     2    attributes            bits 0-2 codec, 3 timestampType, 4 transactional, 5 control
 *   23     4    lastOffsetDelta       = recordsCount - 1
 *   27     8    baseTimestamp
 *   35     8    maxTimestamp
 *   43     8    producerId            -1 when not idempotent
 *   51     2    producerEpoch
 *   53     4    baseSequence
 *   57     4    recordsCount
 *   61     ...  records (compressed as a whole when codec != 0)
 *
 * Each record (uncompressed): length varint, attributes int8, timestampDelta varlong,
 * offsetDelta varint, keyLength varint + key, valueLength varint + value, headers count varint,
 * then per header: keyLength varint + key, valueLength varint + value.
 */
#ifndef TANDEM_PROTOCOL_RECORD_BATCH_H
#define TANDEM_PROTOCOL_RECORD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define KBATCH_HEADER_SIZE  61
#define KBATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define KBATCH_CRC_START    21
#define KBATCH_MIN_LENGTH   (KBATCH_HEADER_SIZE - KBATCH_LOG_OVERHEAD) /* smallest batchLength */

#define KBATCH_ATTR_CODEC_MASK    0x07
#define KBATCH_ATTR_LOG_APPEND_TS 0x08
#define KBATCH_ATTR_TRANSACTIONAL 0x10
#define KBATCH_ATTR_CONTROL       0x20

enum kbatch_codec { KCODEC_NONE = 0, KCODEC_GZIP, KCODEC_SNAPPY, KCODEC_LZ4, KCODEC_ZSTD };

struct kbatch {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
};

/* Total size of the batch on disk and on the wire. */
static inline size_t kbatch_size(const struct kbatch *b)
{
    return (size_t)b->batch_length + KBATCH_LOG_OVERHEAD;
}

/*
 * Reads the 61-byte header at p without checking the CRC.
 * Returns 0; TANDEM_EAGAIN when len < 61 (or the magic byte is not there yet);
 * TANDEM_EUNSUPPORTED for magic 0 or 1 (the old message formats);
 * TANDEM_ECORRUPT for any other magic or a batchLength below the minimum.
 */
int kbatch_parse_header(const uint8_t *p, size_t len, struct kbatch *out);

/*
 * Fully validates the batch at the start of p[0..len): header, that the whole batch is present,
 * the CRC-32C, lastOffsetDelta + 1 == recordsCount, and for uncompressed batches that every
 * record is well formed with offsetDelta 0, 1, 2, ... . *used is the batch's size.
 * Returns 0; TANDEM_EAGAIN if the batch is truncated; TANDEM_EUNSUPPORTED for magic < 2;
 * TANDEM_ECORRUPT otherwise (bad length, CRC, count or record).
 */
int kbatch_validate(const uint8_t *p, size_t len, struct kbatch *out, size_t *used);

/*
 * Finds the first record of a whole, uncompressed batch whose timestamp is >= ts (ListOffsets by
 * time, as Kafka's FileRecords.searchForTimestamp): its offset and timestamp. With LogAppendTime
 * every record carries the batch's maxTimestamp. Returns 0, TANDEM_ENOENT when no record
 * qualifies, TANDEM_EUNSUPPORTED for a compressed batch (its records are not readable without
 * decompression), TANDEM_ECORRUPT for malformed records.
 */
int kbatch_find_timestamp(const uint8_t *p, size_t len, int64_t ts, int64_t *offset,
                          int64_t *timestamp);

/* Computes the CRC field's value for the batch at p (size bytes). */
uint32_t kbatch_compute_crc(const uint8_t *p, size_t size);

/* Rewrites fields the broker owns. Neither touches the CRC (neither field is covered). */
void kbatch_set_base_offset(uint8_t *p, int64_t base_offset);
void kbatch_set_leader_epoch(uint8_t *p, int32_t epoch);
/* Sets LogAppendTime: attributes bit 3, maxTimestamp = ts, and recomputes the CRC. */
void kbatch_set_log_append_time(uint8_t *p, size_t size, int64_t ts);

#endif
