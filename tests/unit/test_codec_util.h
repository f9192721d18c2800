/*
 * Shared by the codec tests and the fuzz target: one entry point per direction that dispatches
 * on (api key, version) to the codecs of messages.h (server side) and messages_client.h (client
 * side), over a union of the message structs, plus a file loader for tests/vectors.
 *
 * With these, any captured frame can be checked generically: parse a request with the broker's
 * parser and re-encode it with the client encoder (or parse a response with the client parser
 * and re-encode it with the broker's encoder) and the bytes must come out identical.
 */
#ifndef TANDEM_TEST_CODEC_UTIL_H
#define TANDEM_TEST_CODEC_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "protocol/kafka.h"
#include "protocol/messages.h"
#include "kafka_client/messages_client.h"
#include "tandem/error.h"

union codec_req {
    struct api_versions_req api_versions;
    struct metadata_req metadata;
    struct produce_req produce;
    struct fetch_req fetch;
    struct list_offsets_req list_offsets;
    struct create_topics_req create_topics;
    struct delete_topics_req delete_topics;
    struct init_producer_id_req init_producer_id;
    struct create_partitions_req create_partitions;
};

union codec_resp {
    struct api_versions_resp api_versions;
    struct metadata_resp metadata;
    struct produce_resp produce;
    struct fetch_resp fetch;
    struct list_offsets_resp list_offsets;
    struct create_topics_resp create_topics;
    struct delete_topics_resp delete_topics;
    struct init_producer_id_resp init_producer_id;
    struct create_partitions_resp create_partitions;
};

/* Broker side: parses a request body. TANDEM_ENOENT for an API without a codec. */
/* The APIs this dispatcher covers (the group APIs have their own test, test_codec_group.c). */
static inline bool codec_util_covers(int16_t api)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
    case KAFKA_METADATA:
    case KAFKA_PRODUCE:
    case KAFKA_FETCH:
    case KAFKA_LIST_OFFSETS:
    case KAFKA_CREATE_TOPICS:
    case KAFKA_DELETE_TOPICS:
    case KAFKA_INIT_PRODUCER_ID:
    case KAFKA_CREATE_PARTITIONS:
        return true;
    default:
        return false;
    }
}

static inline int codec_parse_request(int16_t api, int16_t v, struct kr *r, struct arena *a,
                                      union codec_req *o)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
        return kafka_parse_api_versions_request(r, v, a, &o->api_versions);
    case KAFKA_METADATA:
        return kafka_parse_metadata_request(r, v, a, &o->metadata);
    case KAFKA_PRODUCE:
        return kafka_parse_produce_request(r, v, a, &o->produce);
    case KAFKA_FETCH:
        return kafka_parse_fetch_request(r, v, a, &o->fetch);
    case KAFKA_LIST_OFFSETS:
        return kafka_parse_list_offsets_request(r, v, a, &o->list_offsets);
    case KAFKA_CREATE_TOPICS:
        return kafka_parse_create_topics_request(r, v, a, &o->create_topics);
    case KAFKA_DELETE_TOPICS:
        return kafka_parse_delete_topics_request(r, v, a, &o->delete_topics);
    case KAFKA_INIT_PRODUCER_ID:
        return kafka_parse_init_producer_id_request(r, v, a, &o->init_producer_id);
    case KAFKA_CREATE_PARTITIONS:
        return kafka_parse_create_partitions_request(r, v, a, &o->create_partitions);
    default:
        return TANDEM_ENOENT;
    }
}

/* Client side: encodes a request body. */
static inline void codec_encode_request(int16_t api, int16_t v, struct kw *w,
                                        const union codec_req *o)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
        kafka_encode_api_versions_request(w, v, &o->api_versions);
        break;
    case KAFKA_METADATA:
        kafka_encode_metadata_request(w, v, &o->metadata);
        break;
    case KAFKA_PRODUCE:
        kafka_encode_produce_request(w, v, &o->produce);
        break;
    case KAFKA_FETCH:
        kafka_encode_fetch_request(w, v, &o->fetch);
        break;
    case KAFKA_LIST_OFFSETS:
        kafka_encode_list_offsets_request(w, v, &o->list_offsets);
        break;
    case KAFKA_CREATE_TOPICS:
        kafka_encode_create_topics_request(w, v, &o->create_topics);
        break;
    case KAFKA_DELETE_TOPICS:
        kafka_encode_delete_topics_request(w, v, &o->delete_topics);
        break;
    case KAFKA_INIT_PRODUCER_ID:
        kafka_encode_init_producer_id_request(w, v, &o->init_producer_id);
        break;
    case KAFKA_CREATE_PARTITIONS:
        kafka_encode_create_partitions_request(w, v, &o->create_partitions);
        break;
    default:
        break;
    }
}

/* Client side: parses a response body. TANDEM_ENOENT for an API without a codec. */
static inline int codec_parse_response(int16_t api, int16_t v, struct kr *r, struct arena *a,
                                       union codec_resp *o)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
        return kafka_parse_api_versions_response(r, v, a, &o->api_versions);
    case KAFKA_METADATA:
        return kafka_parse_metadata_response(r, v, a, &o->metadata);
    case KAFKA_PRODUCE:
        return kafka_parse_produce_response(r, v, a, &o->produce);
    case KAFKA_FETCH:
        return kafka_parse_fetch_response(r, v, a, &o->fetch);
    case KAFKA_LIST_OFFSETS:
        return kafka_parse_list_offsets_response(r, v, a, &o->list_offsets);
    case KAFKA_CREATE_TOPICS:
        return kafka_parse_create_topics_response(r, v, a, &o->create_topics);
    case KAFKA_DELETE_TOPICS:
        return kafka_parse_delete_topics_response(r, v, a, &o->delete_topics);
    case KAFKA_INIT_PRODUCER_ID:
        return kafka_parse_init_producer_id_response(r, v, a, &o->init_producer_id);
    case KAFKA_CREATE_PARTITIONS:
        return kafka_parse_create_partitions_response(r, v, a, &o->create_partitions);
    default:
        return TANDEM_ENOENT;
    }
}

/* Broker side: encodes a response body. */
static inline void codec_encode_response(int16_t api, int16_t v, struct kw *w,
                                         const union codec_resp *o)
{
    switch (api) {
    case KAFKA_API_VERSIONS:
        kafka_encode_api_versions_response(w, v, &o->api_versions);
        break;
    case KAFKA_METADATA:
        kafka_encode_metadata_response(w, v, &o->metadata);
        break;
    case KAFKA_PRODUCE:
        kafka_encode_produce_response(w, v, &o->produce);
        break;
    case KAFKA_FETCH:
        kafka_encode_fetch_response(w, v, &o->fetch);
        break;
    case KAFKA_LIST_OFFSETS:
        kafka_encode_list_offsets_response(w, v, &o->list_offsets);
        break;
    case KAFKA_CREATE_TOPICS:
        kafka_encode_create_topics_response(w, v, &o->create_topics);
        break;
    case KAFKA_DELETE_TOPICS:
        kafka_encode_delete_topics_response(w, v, &o->delete_topics);
        break;
    case KAFKA_INIT_PRODUCER_ID:
        kafka_encode_init_producer_id_response(w, v, &o->init_producer_id);
        break;
    case KAFKA_CREATE_PARTITIONS:
        kafka_encode_create_partitions_response(w, v, &o->create_partitions);
        break;
    default:
        break;
    }
}

/* Reads a whole file into malloc'd memory; NULL if it cannot be read. */
static inline uint8_t *codec_load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    *len = n;
    return buf;
}

#endif
