/*
 * Client-side codecs, part 1: framing, headers, ApiVersions, Metadata, CreateTopics,
 * DeleteTopics, InitProducerId and CreatePartitions (request encoders, response parsers). They run
 * the broker's schema tables (messages.c, messages_admin.c) through the engine in the other
 * direction; the captured frames in tests/vectors check both directions against real clients and
 * librdkafka's mock broker, and test_codec_schema.c checks the engine against frames assembled by
 * hand from the spec.
 */
#include <string.h>

#include "kafka_client/messages_client.h"
#include "protocol/messages_int.h"
#include "protocol/schema_msgs.h"
#include "tandem/error.h"

/* ---- framing and headers ----------------------------------------------------------------------
 */

size_t kafka_frame_begin(struct kw *w)
{
    size_t at = w->len;
    kw_i32(w, 0);
    return at;
}

void kafka_frame_end(struct kw *w, size_t at)
{
    kw_put_i32_at(w, at, (int32_t)(w->len - at - 4));
}

void kafka_encode_request_header(struct kw *w, const struct kafka_req_header *h)
{
    int hv = kafka_request_header_version(h->request_api_key, h->request_api_version);
    kw_i16(w, h->request_api_key);
    kw_i16(w, h->request_api_version);
    kw_i32(w, h->correlation_id);
    if (hv >= 1)
        kw_string(w, h->client_id);
    if (hv >= 2)
        kw_empty_tagged_fields(w);
}

int kafka_parse_response_header(struct kr *r, int header_version, int32_t *correlation_id)
{
    *correlation_id = kr_i32(r);
    if (header_version >= 1)
        kr_tagged_fields(r);
    return r->err ? TANDEM_EPROTO : 0;
}

/* ---- ApiVersions ------------------------------------------------------------------------------
 */

void kafka_encode_api_versions_request(struct kw *w, int16_t version,
                                       const struct api_versions_req *req)
{
    schema_encode(&schema_api_versions_request, w, version, req);
}

int kafka_parse_api_versions_response(struct kr *r, int16_t version, struct arena *a,
                                      struct api_versions_resp *out)
{
    return schema_decode(&schema_api_versions_response, r, version, a, out);
}

/* ---- Metadata ---------------------------------------------------------------------------------
 */

void kafka_encode_metadata_request(struct kw *w, int16_t version, const struct metadata_req *req)
{
    schema_encode(&schema_metadata_request, w, version, req);
}

int kafka_parse_metadata_response(struct kr *r, int16_t version, struct arena *a,
                                  struct metadata_resp *out)
{
    return schema_decode(&schema_metadata_response, r, version, a, out);
}

/* ---- CreateTopics -----------------------------------------------------------------------------
 */

void kafka_encode_create_topics_request(struct kw *w, int16_t version,
                                        const struct create_topics_req *req)
{
    schema_encode(&schema_create_topics_request, w, version, req);
}

int kafka_parse_create_topics_response(struct kr *r, int16_t version, struct arena *a,
                                       struct create_topics_resp *out)
{
    return schema_decode(&schema_create_topics_response, r, version, a, out);
}

/* ---- DeleteTopics -----------------------------------------------------------------------------
 */

void kafka_encode_delete_topics_request(struct kw *w, int16_t version,
                                        const struct delete_topics_req *req)
{
    schema_encode(&schema_delete_topics_request, w, version, req);
}

int kafka_parse_delete_topics_response(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_topics_resp *out)
{
    return schema_decode(&schema_delete_topics_response, r, version, a, out);
}

/* ---- InitProducerId ---------------------------------------------------------------------------
 */

void kafka_encode_init_producer_id_request(struct kw *w, int16_t version,
                                           const struct init_producer_id_req *req)
{
    schema_encode(&schema_init_producer_id_request, w, version, req);
}

int kafka_parse_init_producer_id_response(struct kr *r, int16_t version, struct arena *a,
                                          struct init_producer_id_resp *out)
{
    return schema_decode(&schema_init_producer_id_response, r, version, a, out);
}

/* ---- CreatePartitions -------------------------------------------------------------------------
 */

void kafka_encode_create_partitions_request(struct kw *w, int16_t version,
                                            const struct create_partitions_req *req)
{
    schema_encode(&schema_create_partitions_request, w, version, req);
}

int kafka_parse_create_partitions_response(struct kr *r, int16_t version, struct arena *a,
                                           struct create_partitions_resp *out)
{
    return schema_decode(&schema_create_partitions_response, r, version, a, out);
}
