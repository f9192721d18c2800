/*
 * libFuzzer target for the transaction codecs (messages_txn.h, messages_txn_client.h) and the
 * transaction log's record decoder (group/txn_log.h).
 *
 * The input is read as a request frame without its size prefix: the request header is parsed
 * (kafka_parse_request_header), and the body after it (or, when the header does not parse, the
 * whole input) is given to every transaction request parser (AddPartitionsToTxn,
 * AddOffsetsToTxn, EndTxn, TxnOffsetCommit) at every version from -1 to 3, to every response
 * parser likewise, and to txn_record_decode. Invariants, beyond "no crash, no sanitizer report":
 *   - a parser returns 0, TANDEM_EPROTO, TANDEM_ETOOLARGE (arena cap) or TANDEM_EUNSUPPORTED
 *     (only outside 0-2); the record decoder 0 or TANDEM_ECORRUPT;
 *   - what a request parser accepts, the client encoder writes out, and that parses and encodes
 *     again to the identical bytes; an accepted log record re-encodes to the identical bytes.
 * Seeds: tests/fuzz/corpus/txn/ (one request frame per API and version, written by
 * tests/fuzz/corpus/txn/make_seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group/txn_log.h"
#include "kafka_client/messages_txn_client.h"
#include "protocol/kafka.h"
#include "protocol/messages.h"
#include "protocol/messages_txn.h"
#include "tandem/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_CAP (1u << 20)

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

union treq {
    struct add_partitions_to_txn_req ap;
    struct add_offsets_to_txn_req ao;
    struct end_txn_req e;
    struct txn_offset_commit_req tc;
};

static int parse_req(int16_t api, int16_t v, struct kr *r, struct arena *a, union treq *o)
{
    switch (api) {
    case KAFKA_ADD_PARTITIONS_TO_TXN:
        return kafka_parse_add_partitions_to_txn_request(r, v, a, &o->ap);
    case KAFKA_ADD_OFFSETS_TO_TXN:
        return kafka_parse_add_offsets_to_txn_request(r, v, a, &o->ao);
    case KAFKA_END_TXN:
        return kafka_parse_end_txn_request(r, v, a, &o->e);
    default:
        return kafka_parse_txn_offset_commit_request(r, v, a, &o->tc);
    }
}

static void encode_req(int16_t api, int16_t v, struct kw *w, const union treq *o)
{
    switch (api) {
    case KAFKA_ADD_PARTITIONS_TO_TXN:
        kafka_encode_add_partitions_to_txn_request(w, v, &o->ap);
        break;
    case KAFKA_ADD_OFFSETS_TO_TXN:
        kafka_encode_add_offsets_to_txn_request(w, v, &o->ao);
        break;
    case KAFKA_END_TXN:
        kafka_encode_end_txn_request(w, v, &o->e);
        break;
    default:
        kafka_encode_txn_offset_commit_request(w, v, &o->tc);
        break;
    }
}

static int parse_resp(int16_t api, int16_t v, struct kr *r, struct arena *a)
{
    struct add_partitions_to_txn_resp ap;
    struct txn_simple_resp s;
    struct txn_offset_commit_resp tc;
    switch (api) {
    case KAFKA_ADD_PARTITIONS_TO_TXN:
        return kafka_parse_add_partitions_to_txn_response(r, v, a, &ap);
    case KAFKA_ADD_OFFSETS_TO_TXN:
        return kafka_parse_add_offsets_to_txn_response(r, v, a, &s);
    case KAFKA_END_TXN:
        return kafka_parse_end_txn_response(r, v, a, &s);
    default:
        return kafka_parse_txn_offset_commit_response(r, v, a, &tc);
    }
}

static void fuzz_version(int16_t api, int16_t v, const uint8_t *p, size_t n)
{
    struct arena a;
    struct kr r;
    union treq q, q2;
    arena_init(&a, ARENA_CAP);
    kr_init(&r, p, n);
    int rc = parse_req(api, v, &r, &a, &q);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE || rc == TANDEM_EUNSUPPORTED);
    check(rc != TANDEM_EUNSUPPORTED || v < 0 || v > KAFKA_TXN_MAX_VERSION);
    if (rc == 0) {
        struct kw w1, w2;
        kw_init(&w1, 0);
        kw_init(&w2, 0);
        encode_req(api, v, &w1, &q);
        kr_init(&r, w1.buf, w1.len);
        check(parse_req(api, v, &r, &a, &q2) == 0);
        encode_req(api, v, &w2, &q2);
        check(w1.len == w2.len && memcmp(w1.buf, w2.buf, w1.len) == 0);
        kw_cleanup(&w1);
        kw_cleanup(&w2);
    }
    kr_init(&r, p, n);
    rc = parse_resp(api, v, &r, &a);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE || rc == TANDEM_EUNSUPPORTED);
    arena_cleanup(&a);
}

static void fuzz_record(const uint8_t *p, size_t n)
{
    struct arena a;
    struct txn_record rec;
    arena_init(&a, ARENA_CAP);
    int rc = txn_record_decode(p, n, &a, &rec);
    check(rc == 0 || rc == TANDEM_ECORRUPT);
    if (rc == 0) {
        struct kw w;
        kw_init(&w, 0);
        txn_record_encode(&w, &rec);
        check(w.len == n && memcmp(w.buf, p, n) == 0);
        kw_cleanup(&w);
    }
    arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int16_t apis[] = {KAFKA_ADD_PARTITIONS_TO_TXN, KAFKA_ADD_OFFSETS_TO_TXN,
                                   KAFKA_END_TXN, KAFKA_TXN_OFFSET_COMMIT};
    struct kafka_req_header h;
    size_t hl = 0;
    const uint8_t *body = data;
    size_t n = size;
    if (kafka_parse_request_header(data, size, &h, &hl) == 0) {
        check(hl <= size);
        body = data + hl;
        n = size - hl;
    }
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++)
        for (int16_t v = -1; v <= KAFKA_TXN_MAX_VERSION + 1; v++)
            fuzz_version(apis[i], v, body, n);
    fuzz_record(data, size);
    return 0;
}
