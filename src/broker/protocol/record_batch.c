/*
 * Record batch v2 validation. See record_batch.h for the layout.
 */
#include "base/crc32c.h"
#include "base/kbuf.h"
#include "protocol/record_batch.h"
#include "tandem/error.h"

int kbatch_parse_header(const uint8_t *p, size_t len, struct kbatch *out)
{
    if (len < 17)
        return TANDEM_EAGAIN;
    int8_t magic = (int8_t)p[16];
    if (magic == 0 || magic == 1)
        return TANDEM_EUNSUPPORTED;
    if (magic != 2)
        return TANDEM_ECORRUPT;
    if (len < KBATCH_HEADER_SIZE)
        return TANDEM_EAGAIN;
    out->base_offset = (int64_t)be64(p);
    out->batch_length = (int32_t)be32(p + 8);
    out->partition_leader_epoch = (int32_t)be32(p + 12);
    out->magic = magic;
    out->crc = be32(p + 17);
    out->attributes = (int16_t)be16(p + 21);
    out->last_offset_delta = (int32_t)be32(p + 23);
    out->base_timestamp = (int64_t)be64(p + 27);
    out->max_timestamp = (int64_t)be64(p + 35);
    out->producer_id = (int64_t)be64(p + 43);
    out->producer_epoch = (int16_t)be16(p + 51);
    out->base_sequence = (int32_t)be32(p + 53);
    out->records_count = (int32_t)be32(p + 57);
    if (out->batch_length < KBATCH_MIN_LENGTH)
        return TANDEM_ECORRUPT;
    return 0;
}

uint32_t kbatch_compute_crc(const uint8_t *p, size_t size)
{
    return crc32c(0, p + KBATCH_CRC_START, size - KBATCH_CRC_START);
}

/* The framing of one uncompressed record: after it, `rest` reads key, value and headers. */
struct krecord {
    int64_t timestamp_delta;
    int32_t offset_delta;
    struct kr rest;
};

/* Reads the next record from r: length varint, attributes, timestampDelta, offsetDelta.
 * Returns 0 or TANDEM_ECORRUPT (length past the batch, or truncated fields). */
static int record_next(struct kr *r, struct krecord *rec)
{
    int32_t rec_len = kr_varint(r);
    if (r->err || rec_len < 0 || (size_t)rec_len > kr_left(r))
        return TANDEM_ECORRUPT;
    kr_init(&rec->rest, r->p, (size_t)rec_len);
    r->p += rec_len;
    (void)kr_i8(&rec->rest); /* attributes */
    rec->timestamp_delta = kr_varlong(&rec->rest);
    rec->offset_delta = kr_varint(&rec->rest);
    return rec->rest.err ? TANDEM_ECORRUPT : 0;
}

/* Walks the uncompressed records of a batch: each must fit its length and carry offsetDelta i. */
static int kbatch_check_records(const uint8_t *p, size_t len, int32_t count)
{
    struct kr r;
    kr_init(&r, p, len);
    for (int32_t i = 0; i < count; i++) {
        struct krecord rc;
        if (record_next(&r, &rc) || rc.offset_delta != i)
            return TANDEM_ECORRUPT;
        struct kr rec = rc.rest;
        for (int f = 0; f < 2; f++) { /* key, value */
            int32_t n = kr_varint(&rec);
            if (n < -1)
                return TANDEM_ECORRUPT;
            if (n > 0)
                kr_skip(&rec, (size_t)n);
        }
        int32_t nheaders = kr_varint(&rec);
        if (nheaders < 0 || (size_t)nheaders > kr_left(&rec))
            return TANDEM_ECORRUPT;
        for (int32_t h = 0; h < nheaders && !rec.err; h++) {
            int32_t kn = kr_varint(&rec);
            if (kn < 0)
                return TANDEM_ECORRUPT;
            kr_skip(&rec, (size_t)kn);
            int32_t vn = kr_varint(&rec);
            if (vn < -1)
                return TANDEM_ECORRUPT;
            if (vn > 0)
                kr_skip(&rec, (size_t)vn);
        }
        if (rec.err || kr_left(&rec) != 0)
            return TANDEM_ECORRUPT;
    }
    return kr_left(&r) == 0 ? 0 : TANDEM_ECORRUPT;
}

int kbatch_validate(const uint8_t *p, size_t len, struct kbatch *out, size_t *used)
{
    int rc = kbatch_parse_header(p, len, out);
    if (rc)
        return rc;
    size_t size = kbatch_size(out);
    if (len < size)
        return TANDEM_EAGAIN;
    if (kbatch_compute_crc(p, size) != out->crc)
        return TANDEM_ECORRUPT;
    if (out->records_count < 0 || out->last_offset_delta < 0 ||
        (int64_t)out->last_offset_delta + 1 != out->records_count)
        return TANDEM_ECORRUPT;
    if ((out->attributes & KBATCH_ATTR_CODEC_MASK) == KCODEC_NONE) {
        rc = kbatch_check_records(p + KBATCH_HEADER_SIZE, size - KBATCH_HEADER_SIZE,
                                  out->records_count);
        if (rc)
            return rc;
    } else if ((out->attributes & KBATCH_ATTR_CODEC_MASK) > KCODEC_ZSTD) {
        return TANDEM_ECORRUPT;
    }
    *used = size;
    return 0;
}

int kbatch_find_timestamp(const uint8_t *p, size_t len, int64_t ts, int64_t *offset,
                          int64_t *timestamp)
{
    struct kbatch b;
    int rc = kbatch_parse_header(p, len, &b);
    if (rc)
        return rc == TANDEM_EAGAIN ? TANDEM_ECORRUPT : rc;
    if (kbatch_size(&b) > len)
        return TANDEM_ECORRUPT;
    if (b.attributes & KBATCH_ATTR_LOG_APPEND_TS) {
        if (b.max_timestamp < ts)
            return TANDEM_ENOENT;
        *offset = b.base_offset;
        *timestamp = b.max_timestamp;
        return 0;
    }
    if ((b.attributes & KBATCH_ATTR_CODEC_MASK) != KCODEC_NONE)
        return TANDEM_EUNSUPPORTED;
    struct kr r;
    kr_init(&r, p + KBATCH_HEADER_SIZE, kbatch_size(&b) - KBATCH_HEADER_SIZE);
    for (int32_t i = 0; i < b.records_count; i++) {
        struct krecord rec;
        if (record_next(&r, &rec))
            return TANDEM_ECORRUPT;
        if (b.base_timestamp + rec.timestamp_delta >= ts) {
            *offset = b.base_offset + rec.offset_delta;
            *timestamp = b.base_timestamp + rec.timestamp_delta;
            return 0;
        }
    }
    return TANDEM_ENOENT;
}

void kbatch_set_base_offset(uint8_t *p, int64_t base_offset)
{
    put_be64(p, (uint64_t)base_offset);
}

void kbatch_set_leader_epoch(uint8_t *p, int32_t epoch)
{
    put_be32(p + 12, (uint32_t)epoch);
}

void kbatch_set_log_append_time(uint8_t *p, size_t size, int64_t ts)
{
    uint16_t attrs = be16(p + 21);
    put_be16(p + 21, attrs | KBATCH_ATTR_LOG_APPEND_TS);
    put_be64(p + 35, (uint64_t)ts);
    put_be32(p + 17, kbatch_compute_crc(p, size));
}
