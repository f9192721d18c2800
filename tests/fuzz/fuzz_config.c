/*
 * libFuzzer target for the config and record admin codecs (protocol/messages_config.h:
 * DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, DeleteRecords, OffsetDelete) and their
 * client direction (kafka_client/messages_config_client.h).
 *
 * The input is a request frame without its size prefix: the header is parsed
 * (kafka_parse_request_header) and the body after it (or the whole input, when the header does
 * not parse) goes to every one of these request parsers and every client response parser at
 * every version from -1 to one past the codec's maximum. Invariants beyond "no crash, no
 * sanitizer report": a parser returns 0, TANDEM_EPROTO, TANDEM_EUNSUPPORTED (only outside the
 * range) or TANDEM_ETOOLARGE; what a request parser accepts, the client encoder writes back and
 * the parser accepts again, giving the same encoding twice (enc(parse(enc(x))) == enc(x)); what
 * a response parser accepts, the broker's encoder writes back the same way. Seeds:
 * tests/fuzz/corpus/config/ (one frame per API and version, written from the Kafka layouts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_client/messages_config_client.h"
#include "protocol/kafka.h"
#include "protocol/messages_config.h"
#include "tandem/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_CAP (1u << 20)

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

union creq {
    struct describe_configs_req dc;
    struct alter_configs_req ac;
    struct delete_records_req dr;
    struct offset_delete_req od;
};

union cresp {
    struct describe_configs_resp dc;
    struct alter_configs_resp ac;
    struct delete_records_resp dr;
    struct offset_delete_resp od;
};

static int parse_req(int16_t api, int16_t v, struct kr *r, struct arena *a, union creq *o)
{
    switch (api) {
    case KAFKA_DESCRIBE_CONFIGS:
        return kafka_parse_describe_configs_request(r, v, a, &o->dc);
    case KAFKA_ALTER_CONFIGS:
        return kafka_parse_alter_configs_request(r, v, a, &o->ac);
    case KAFKA_INCREMENTAL_ALTER_CONFIGS:
        return kafka_parse_incremental_alter_configs_request(r, v, a, &o->ac);
    case KAFKA_DELETE_RECORDS:
        return kafka_parse_delete_records_request(r, v, a, &o->dr);
    default:
        return kafka_parse_offset_delete_request(r, v, a, &o->od);
    }
}

static void encode_req(int16_t api, int16_t v, struct kw *w, const union creq *o)
{
    switch (api) {
    case KAFKA_DESCRIBE_CONFIGS:
        kafka_encode_describe_configs_request(w, v, &o->dc);
        break;
    case KAFKA_ALTER_CONFIGS:
        kafka_encode_alter_configs_request(w, v, &o->ac);
        break;
    case KAFKA_INCREMENTAL_ALTER_CONFIGS:
        kafka_encode_incremental_alter_configs_request(w, v, &o->ac);
        break;
    case KAFKA_DELETE_RECORDS:
        kafka_encode_delete_records_request(w, v, &o->dr);
        break;
    default:
        kafka_encode_offset_delete_request(w, v, &o->od);
        break;
    }
}

/* IncrementalAlterConfigs answers with AlterConfigs' layout (its v0 is AlterConfigs v0/v1). */
static int parse_resp(int16_t api, int16_t v, struct kr *r, struct arena *a, union cresp *o)
{
    switch (api) {
    case KAFKA_DESCRIBE_CONFIGS:
        return kafka_parse_describe_configs_response(r, v, a, &o->dc);
    case KAFKA_ALTER_CONFIGS:
    case KAFKA_INCREMENTAL_ALTER_CONFIGS:
        return kafka_parse_alter_configs_response(r, v, a, &o->ac);
    case KAFKA_DELETE_RECORDS:
        return kafka_parse_delete_records_response(r, v, a, &o->dr);
    default:
        return kafka_parse_offset_delete_response(r, v, a, &o->od);
    }
}

static void encode_resp(int16_t api, int16_t v, struct kw *w, const union cresp *o)
{
    switch (api) {
    case KAFKA_DESCRIBE_CONFIGS:
        kafka_encode_describe_configs_response(w, v, &o->dc);
        break;
    case KAFKA_ALTER_CONFIGS:
    case KAFKA_INCREMENTAL_ALTER_CONFIGS:
        kafka_encode_alter_configs_response(w, v, &o->ac);
        break;
    case KAFKA_DELETE_RECORDS:
        kafka_encode_delete_records_response(w, v, &o->dr);
        break;
    default:
        kafka_encode_offset_delete_response(w, v, &o->od);
        break;
    }
}

static void fuzz_version(int16_t api, int16_t v, int16_t hi, const uint8_t *p, size_t n)
{
    struct arena a;
    struct kr r;
    union creq q, q2;
    union cresp s, s2;
    arena_init(&a, ARENA_CAP);
    kr_init(&r, p, n);
    int rc = parse_req(api, v, &r, &a, &q);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE || rc == TANDEM_EUNSUPPORTED);
    check(rc != TANDEM_EUNSUPPORTED || v < 0 || v > hi);
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
    rc = parse_resp(api, v, &r, &a, &s);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE || rc == TANDEM_EUNSUPPORTED);
    if (rc == 0) {
        struct kw w1, w2;
        kw_init(&w1, 0);
        kw_init(&w2, 0);
        encode_resp(api, v, &w1, &s);
        kr_init(&r, w1.buf, w1.len);
        check(parse_resp(api, v, &r, &a, &s2) == 0);
        encode_resp(api, v, &w2, &s2);
        check(w1.len == w2.len && memcmp(w1.buf, w2.buf, w1.len) == 0);
        kw_cleanup(&w1);
        kw_cleanup(&w2);
    }
    arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int16_t apis[][2] = {{KAFKA_DESCRIBE_CONFIGS, 3},
                                      {KAFKA_ALTER_CONFIGS, 1},
                                      {KAFKA_INCREMENTAL_ALTER_CONFIGS, 0},
                                      {KAFKA_DELETE_RECORDS, 1},
                                      {KAFKA_OFFSET_DELETE, 0}};
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
        for (int16_t v = -1; v <= apis[i][1] + 1; v++)
            fuzz_version(apis[i][0], v, apis[i][1], body, n);
    return 0;
}
