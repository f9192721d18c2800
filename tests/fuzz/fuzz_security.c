/*
 * libFuzzer target for the codecs of the disabled security APIs (protocol/messages_security.h:
 * SaslHandshake, SaslAuthenticate, DescribeAcls, CreateAcls, DeleteAcls) and their client
 * direction (kafka_client/messages_security_client.h).
 *
 * The input is a request frame without its size prefix: the header is parsed
 * (kafka_parse_request_header) and the body after it (or the whole input, when the header does
 * not parse) goes to every security request parser and every client response parser at every
 * version from -1 to one past the codec's maximum. Invariants beyond "no crash, no sanitizer
 * report": a parser returns 0, TANDEM_EPROTO, TANDEM_EUNSUPPORTED (only outside the range) or
 * TANDEM_ETOOLARGE; what a request parser accepts, the client encoder writes back and the parser
 * accepts again, giving the same encoding twice (enc(parse(enc(x))) == enc(x)). Seeds:
 * tests/fuzz/corpus/security/ (one frame per API and version, written by the Kafka layouts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_client/messages_security_client.h"
#include "protocol/kafka.h"
#include "protocol/messages_security.h"
#include "tandem/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_CAP (1u << 20)

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

union sreq {
    struct sasl_handshake_req hs;
    struct sasl_authenticate_req au;
    struct describe_acls_req da;
    struct create_acls_req ca;
    struct delete_acls_req dl;
};

static int parse_req(int16_t api, int16_t v, struct kr *r, struct arena *a, union sreq *o)
{
    switch (api) {
    case KAFKA_SASL_HANDSHAKE:
        return kafka_parse_sasl_handshake_request(r, v, a, &o->hs);
    case KAFKA_SASL_AUTHENTICATE:
        return kafka_parse_sasl_authenticate_request(r, v, a, &o->au);
    case KAFKA_DESCRIBE_ACLS:
        return kafka_parse_describe_acls_request(r, v, a, &o->da);
    case KAFKA_CREATE_ACLS:
        return kafka_parse_create_acls_request(r, v, a, &o->ca);
    default:
        return kafka_parse_delete_acls_request(r, v, a, &o->dl);
    }
}

static void encode_req(int16_t api, int16_t v, struct kw *w, const union sreq *o)
{
    switch (api) {
    case KAFKA_SASL_HANDSHAKE:
        kafka_encode_sasl_handshake_request(w, v, &o->hs);
        break;
    case KAFKA_SASL_AUTHENTICATE:
        kafka_encode_sasl_authenticate_request(w, v, &o->au);
        break;
    case KAFKA_DESCRIBE_ACLS:
        kafka_encode_describe_acls_request(w, v, &o->da);
        break;
    case KAFKA_CREATE_ACLS:
        kafka_encode_create_acls_request(w, v, &o->ca);
        break;
    default:
        kafka_encode_delete_acls_request(w, v, &o->dl);
        break;
    }
}

static int parse_resp(int16_t api, int16_t v, struct kr *r, struct arena *a)
{
    struct sasl_handshake_resp hs;
    struct sasl_authenticate_resp au;
    struct describe_acls_resp da;
    struct create_acls_resp ca;
    struct delete_acls_resp dl;
    switch (api) {
    case KAFKA_SASL_HANDSHAKE:
        return kafka_parse_sasl_handshake_response(r, v, a, &hs);
    case KAFKA_SASL_AUTHENTICATE:
        return kafka_parse_sasl_authenticate_response(r, v, a, &au);
    case KAFKA_DESCRIBE_ACLS:
        return kafka_parse_describe_acls_response(r, v, a, &da);
    case KAFKA_CREATE_ACLS:
        return kafka_parse_create_acls_response(r, v, a, &ca);
    default:
        return kafka_parse_delete_acls_response(r, v, a, &dl);
    }
}

static void fuzz_version(int16_t api, int16_t v, int16_t hi, const uint8_t *p, size_t n)
{
    struct arena a;
    struct kr r;
    union sreq q, q2;
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
    rc = parse_resp(api, v, &r, &a);
    check(rc == 0 || rc == TANDEM_EPROTO || rc == TANDEM_ETOOLARGE || rc == TANDEM_EUNSUPPORTED);
    arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int16_t apis[][2] = {{KAFKA_SASL_HANDSHAKE, 1},
                                      {KAFKA_SASL_AUTHENTICATE, 2},
                                      {KAFKA_DESCRIBE_ACLS, 3},
                                      {KAFKA_CREATE_ACLS, 3},
                                      {KAFKA_DELETE_ACLS, 3}};
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
