/*
 * libFuzzer target for the Kafka request path: everything the broker does with the bytes of a
 * request frame before any state is touched.
 *
 * Input: one frame without its size prefix (request header + body), as in tests/vectors.
 *   1. kafka_parse_request_header();
 *   2. the body is parsed as a request of that API at EVERY version the codecs implement (not
 *      just the one in the header, so a seed for one version explores all of them); when a parse
 *      succeeds, the parsed request is re-encoded with the client encoder, parsed again and
 *      re-encoded again, and the two encodings must be identical (a parse that accepted
 *      something it cannot reproduce is a bug);
 *   3. the same body is parsed as a RESPONSE of that API at every version; when it parses, the
 *      broker's encoder must reproduce a stable encoding the same way;
 *   4. every Produce partition's records, and the whole input, go through kbatch_validate, and
 *      again with the CRC field fixed up, so the record walk behind the CRC check is reached.
 * ASan/UBSan catch out-of-bounds reads; __builtin_trap() reports broken invariants.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol/record_batch.h"
#include "../unit/test_codec_util.h"

#define ARENA_CAP (8u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* The same with a correct CRC, so that the fuzzer reaches the record walk behind the CRC check. */
static void validate_with_good_crc(const uint8_t *p, size_t len)
{
    struct kbatch b;
    size_t used = 0;
    if (len < KBATCH_HEADER_SIZE || kbatch_parse_header(p, len, &b) != 0 || kbatch_size(&b) > len)
        return;
    uint8_t *copy = malloc(kbatch_size(&b));
    memcpy(copy, p, kbatch_size(&b));
    put_be32(copy + 17, kbatch_compute_crc(copy, kbatch_size(&b)));
    if (kbatch_validate(copy, kbatch_size(&b), &b, &used) == 0)
        check(used == kbatch_size(&b) && b.records_count == b.last_offset_delta + 1);
    free(copy);
}

/* Walks the record batches in a Produce partition the way the broker does. */
static void validate_records(struct kbytes rec)
{
    size_t off = 0;
    while (rec.len > 0 && off < (size_t)rec.len) {
        struct kbatch b;
        size_t used = 0;
        if (kbatch_validate(rec.p + off, (size_t)rec.len - off, &b, &used) != 0) {
            validate_with_good_crc(rec.p + off, (size_t)rec.len - off);
            return;
        }
        check(used >= KBATCH_HEADER_SIZE && used <= (size_t)rec.len - off);
        off += used;
    }
}

/* enc(parse(enc(x))) == enc(x) for a request parsed from the input. */
static void request_stable(int16_t api, int16_t v, const union codec_req *req)
{
    struct kw w1, w2;
    struct kr r;
    struct arena a;
    union codec_req again;
    kw_init(&w1, 0);
    kw_init(&w2, 0);
    arena_init(&a, ARENA_CAP);
    codec_encode_request(api, v, &w1, req);
    kr_init(&r, w1.buf, w1.len);
    int rc = codec_parse_request(api, v, &r, &a, &again);
    check(rc == 0 || rc == TANDEM_ETOOLARGE);
    if (rc == 0) {
        codec_encode_request(api, v, &w2, &again);
        check(w1.len == w2.len && memcmp(w1.buf, w2.buf, w1.len) == 0);
    }
    arena_cleanup(&a);
    kw_cleanup(&w1);
    kw_cleanup(&w2);
}

static void response_stable(int16_t api, int16_t v, const union codec_resp *resp)
{
    struct kw w1, w2;
    struct kr r;
    struct arena a;
    union codec_resp again;
    kw_init(&w1, 0);
    kw_init(&w2, 0);
    arena_init(&a, ARENA_CAP);
    codec_encode_response(api, v, &w1, resp);
    kr_init(&r, w1.buf, w1.len);
    int rc = codec_parse_response(api, v, &r, &a, &again);
    check(rc == 0 || rc == TANDEM_ETOOLARGE);
    if (rc == 0) {
        codec_encode_response(api, v, &w2, &again);
        check(w1.len == w2.len && memcmp(w1.buf, w2.buf, w1.len) == 0);
    }
    arena_cleanup(&a);
    kw_cleanup(&w1);
    kw_cleanup(&w2);
}

static void fuzz_version(int16_t api, int16_t v, const uint8_t *body, size_t len)
{
    struct arena a;
    struct kr r;
    union codec_req req;
    union codec_resp resp;

    arena_init(&a, ARENA_CAP);
    kr_init(&r, body, len);
    int rc = codec_parse_request(api, v, &r, &a, &req);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE);
    check(r.p >= body && r.p <= body + len);
    if (rc == 0) {
        request_stable(api, v, &req);
        if (api == KAFKA_PRODUCE)
            for (int32_t i = 0; i < req.produce.ntopics; i++)
                for (int32_t j = 0; j < req.produce.topics[i].npartitions; j++)
                    validate_records(req.produce.topics[i].partitions[j].records);
    }
    arena_cleanup(&a);

    arena_init(&a, ARENA_CAP);
    kr_init(&r, body, len);
    rc = codec_parse_response(api, v, &r, &a, &resp);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE);
    if (rc == 0)
        response_stable(api, v, &resp);
    arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kbatch b;
    size_t used;
    (void)kbatch_validate(data, size, &b, &used);
    validate_with_good_crc(data, size);

    struct kafka_req_header h;
    size_t hl;
    if (kafka_parse_request_header(data, size, &h, &hl) != 0)
        return 0;
    check(hl <= size);
    int16_t lo, hi;
    if (!codec_util_covers(h.request_api_key) ||
        kafka_codec_versions(h.request_api_key, &lo, &hi) != 0)
        return 0; /* the group APIs are fuzz_group.c's */
    for (int16_t v = lo; v <= hi; v++)
        fuzz_version(h.request_api_key, v, data + hl, size - hl);
    return 0;
}
