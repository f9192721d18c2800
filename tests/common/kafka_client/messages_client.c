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
    if (version >= 3) {
        kw_compact_string(w, req->client_software_name);
        kw_compact_string(w, req->client_software_version);
        kw_empty_tagged_fields(w);
    }
}

int kafka_parse_api_versions_response(struct kr *r, int16_t version, struct arena *a,
                                      struct api_versions_resp *out)
{
    int rc = 0;
    bool flex = version >= 3;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->error_code = kr_i16(r);
    out->napi_keys = flex ? msg_compact_array(r, 3 * W_I16 + 1) : msg_array(r, 3 * W_I16);
    struct api_version_range *keys;
    MSG_ALLOC(a, out->napi_keys, keys, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->napi_keys; i++) {
        keys[i].api_key = kr_i16(r);
        keys[i].min_version = kr_i16(r);
        keys[i].max_version = kr_i16(r);
        if (flex)
            kr_tagged_fields(r);
    }
    out->api_keys = keys;
    if (version >= 1)
        out->throttle_time_ms = kr_i32(r);
    if (flex)
        kr_tagged_fields(r);
    return msg_end(r);
}

/* ---- Metadata ---------------------------------------------------------------------------------
 */

void kafka_encode_metadata_request(struct kw *w, int16_t version, const struct metadata_req *req)
{
    if (req->ntopics < 0)
        kw_array(w, version == 0 ? 0 : -1);
    else
        kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++)
        kw_string(w, req->topics[i]);
    if (version >= 4)
        kw_bool(w, req->allow_auto_topic_creation);
    if (version >= 8) {
        kw_bool(w, req->include_cluster_authorized_operations);
        kw_bool(w, req->include_topic_authorized_operations);
    }
}

static int parse_metadata_partition(struct kr *r, int16_t version, struct arena *a,
                                    struct metadata_partition *p)
{
    int rc;
    int32_t *v = NULL;
    p->error_code = kr_i16(r);
    p->partition_index = kr_i32(r);
    p->leader_id = kr_i32(r);
    p->leader_epoch = version >= 7 ? kr_i32(r) : -1;
    rc = msg_read_i32_array(r, a, &p->nreplica_nodes, &v);
    p->replica_nodes = v;
    if (rc)
        return rc;
    rc = msg_read_i32_array(r, a, &p->nisr_nodes, &v);
    p->isr_nodes = v;
    if (rc)
        return rc;
    if (version >= 5) {
        rc = msg_read_i32_array(r, a, &p->noffline_replicas, &v);
        p->offline_replicas = v;
    }
    return rc;
}

static int parse_metadata_topics(struct kr *r, int16_t version, struct arena *a,
                                 struct metadata_resp *out)
{
    int rc = 0;
    size_t tmin = W_I16 + W_STR + (version >= 1 ? 1 : 0) + W_ARR + (version >= 8 ? W_I32 : 0);
    size_t pmin =
        W_I16 + 2 * W_I32 + (version >= 7 ? W_I32 : 0) + 2 * W_ARR + (version >= 5 ? W_ARR : 0);
    out->ntopics = msg_array(r, tmin);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct metadata_topic *t = &out->topics[i];
        t->error_code = kr_i16(r);
        t->name = msg_string(r);
        t->is_internal = version >= 1 ? kr_bool(r) : false;
        t->npartitions = msg_array(r, pmin);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            rc = parse_metadata_partition(r, version, a, &t->partitions[j]);
            if (rc)
                return rc;
        }
        t->topic_authorized_operations = version >= 8 ? kr_i32(r) : INT32_MIN;
    }
    return 0;
}

int kafka_parse_metadata_response(struct kr *r, int16_t version, struct arena *a,
                                  struct metadata_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 8)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 3 ? kr_i32(r) : 0;
    out->nbrokers = msg_array(r, W_I32 + W_STR + W_I32 + (version >= 1 ? W_STR : 0));
    MSG_ALLOC(a, out->nbrokers, out->brokers, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nbrokers; i++) {
        struct metadata_broker *b = &out->brokers[i];
        b->node_id = kr_i32(r);
        b->host = msg_string(r);
        b->port = kr_i32(r);
        b->rack = version >= 1 ? kr_string(r) : KSTR_NULL;
    }
    out->cluster_id = version >= 2 ? kr_string(r) : KSTR_NULL;
    out->controller_id = version >= 1 ? kr_i32(r) : -1;
    rc = parse_metadata_topics(r, version, a, out);
    if (rc)
        return rc;
    out->cluster_authorized_operations = version >= 8 ? kr_i32(r) : INT32_MIN;
    return msg_end(r);
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
