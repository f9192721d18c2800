/*
 * Client-side codecs, part 1: framing, headers, ApiVersions, Metadata, CreateTopics,
 * DeleteTopics, InitProducerId and CreatePartitions (request encoders, response parsers). The wire
 * layouts are drawn next to the server-side codecs in messages.c and messages_admin.c; this file
 * walks the same fields in the other direction, so a round trip (encode here, parse there, or the
 * reverse) checks both against each other, and the captured frames in tests/vectors check both
 * against real clients and librdkafka's mock broker.
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
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct create_topics_req_topic *t = &req->topics[i];
        kw_string(w, t->name);
        kw_i32(w, t->num_partitions);
        kw_i16(w, t->replication_factor);
        kw_array(w, t->nassignments);
        for (int32_t j = 0; j < t->nassignments; j++) {
            kw_i32(w, t->assignments[j].partition_index);
            msg_write_i32_array(w, t->assignments[j].nbroker_ids, t->assignments[j].broker_ids);
        }
        kw_array(w, t->nconfigs);
        for (int32_t j = 0; j < t->nconfigs; j++) {
            kw_string(w, t->configs[j].name);
            kw_string(w, t->configs[j].value);
        }
    }
    kw_i32(w, req->timeout_ms);
    if (version >= 1)
        kw_bool(w, req->validate_only);
}

int kafka_parse_create_topics_response(struct kr *r, int16_t version, struct arena *a,
                                       struct create_topics_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 4)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 2 ? kr_i32(r) : 0;
    out->ntopics = msg_array(r, W_STR + W_I16 + (version >= 1 ? W_STR : 0));
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        out->topics[i].name = msg_string(r);
        out->topics[i].error_code = kr_i16(r);
        out->topics[i].error_message = version >= 1 ? kr_string(r) : KSTR_NULL;
    }
    return msg_end(r);
}

/* ---- DeleteTopics -----------------------------------------------------------------------------
 */

void kafka_encode_delete_topics_request(struct kw *w, int16_t version,
                                        const struct delete_topics_req *req)
{
    (void)version;
    kw_array(w, req->ntopic_names);
    for (int32_t i = 0; i < req->ntopic_names; i++)
        kw_string(w, req->topic_names[i]);
    kw_i32(w, req->timeout_ms);
}

int kafka_parse_delete_topics_response(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_topics_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->nresponses = msg_array(r, W_STR + W_I16);
    MSG_ALLOC(a, out->nresponses, out->responses, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresponses; i++) {
        out->responses[i].name = msg_string(r);
        out->responses[i].error_code = kr_i16(r);
    }
    return msg_end(r);
}

/* ---- InitProducerId ---------------------------------------------------------------------------
 */

void kafka_encode_init_producer_id_request(struct kw *w, int16_t version,
                                           const struct init_producer_id_req *req)
{
    (void)version;
    kw_string(w, req->transactional_id);
    kw_i32(w, req->transaction_timeout_ms);
}

int kafka_parse_init_producer_id_response(struct kr *r, int16_t version, struct arena *a,
                                          struct init_producer_id_resp *out)
{
    (void)a;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    out->throttle_time_ms = kr_i32(r);
    out->error_code = kr_i16(r);
    out->producer_id = kr_i64(r);
    out->producer_epoch = kr_i16(r);
    return msg_end(r);
}

/* ---- CreatePartitions -------------------------------------------------------------------------
 */

void kafka_encode_create_partitions_request(struct kw *w, int16_t version,
                                            const struct create_partitions_req *req)
{
    (void)version;
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct create_partitions_req_topic *t = &req->topics[i];
        kw_string(w, t->name);
        kw_i32(w, t->count);
        kw_array(w, t->nassignments < 0 ? -1 : t->nassignments);
        for (int32_t j = 0; j < t->nassignments; j++)
            msg_write_i32_array(w, t->assignments[j].nbroker_ids, t->assignments[j].broker_ids);
    }
    kw_i32(w, req->timeout_ms);
    kw_bool(w, req->validate_only);
}

int kafka_parse_create_partitions_response(struct kr *r, int16_t version, struct arena *a,
                                           struct create_partitions_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    out->nresults = msg_array(r, W_STR + W_I16 + W_STR);
    MSG_ALLOC(a, out->nresults, out->results, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresults; i++) {
        out->results[i].name = msg_string(r);
        out->results[i].error_code = kr_i16(r);
        out->results[i].error_message = kr_string(r);
    }
    return msg_end(r);
}
