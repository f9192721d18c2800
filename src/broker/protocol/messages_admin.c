/*
 * Kafka message codecs, part 3: the admin and producer-setup messages, CreateTopics (v0-4),
 * DeleteTopics (v0-3), InitProducerId (v0-1) and CreatePartitions (v0-1). See messages.c for the
 * model. None of these versions is flexible (CreateTopics becomes flexible at v5, DeleteTopics
 * at v4, InitProducerId and CreatePartitions at v2).
 */
#include <string.h>

#include "protocol/messages.h"
#include "protocol/messages_int.h"
#include "tandem/error.h"

/* ---- CreateTopics (CreateTopicsRequest.json / CreateTopicsResponse.json) -----------------------
 *
 * Request:
 *   topics ARRAY: name STRING, num_partitions INT32 (-1: default, v4+), replication_factor INT16,
 *     assignments ARRAY: partition_index INT32, broker_ids [INT32]
 *     configs ARRAY: name STRING, value NULLABLE_STRING
 *   timeout_ms INT32
 *   validate_only BOOLEAN, v1+
 */

#define CT_TOPIC_MIN (W_STR + W_I32 + W_I16 + W_ARR + W_ARR)

static int parse_create_topic(struct kr *r, struct arena *a, struct create_topics_req_topic *t)
{
    int rc = 0;
    t->name = msg_string(r);
    t->num_partitions = kr_i32(r);
    t->replication_factor = kr_i16(r);
    t->nassignments = msg_array(r, W_I32 + W_ARR);
    MSG_ALLOC(a, t->nassignments, t->assignments, rc);
    if (rc)
        return rc;
    for (int32_t j = 0; j < t->nassignments; j++) {
        struct create_topics_assignment *as = &t->assignments[j];
        as->partition_index = kr_i32(r);
        rc = msg_read_i32_array(r, a, &as->nbroker_ids, &as->broker_ids);
        if (rc)
            return rc;
    }
    t->nconfigs = msg_array(r, W_STR + W_STR);
    MSG_ALLOC(a, t->nconfigs, t->configs, rc);
    if (rc)
        return rc;
    for (int32_t j = 0; j < t->nconfigs; j++) {
        t->configs[j].name = msg_string(r);
        t->configs[j].value = kr_string(r);
    }
    return 0;
}

int kafka_parse_create_topics_request(struct kr *r, int16_t version, struct arena *a,
                                      struct create_topics_req *out)
{
    int rc = 0;
    if (version < 0 || version > 4)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ntopics = msg_array(r, CT_TOPIC_MIN);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        rc = parse_create_topic(r, a, &out->topics[i]);
        if (rc)
            return rc;
    }
    out->timeout_ms = kr_i32(r);
    out->validate_only = version >= 1 ? kr_bool(r) : false;
    return msg_end(r);
}

/*
 * Response:
 *   throttle_time_ms INT32 (v2+)
 *   topics ARRAY: name STRING, error_code INT16, error_message NULLABLE_STRING (v1+)
 */
void kafka_encode_create_topics_response(struct kw *w, int16_t version,
                                         const struct create_topics_resp *resp)
{
    if (version >= 2)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        kw_string(w, resp->topics[i].name);
        kw_i16(w, resp->topics[i].error_code);
        if (version >= 1)
            kw_string(w, resp->topics[i].error_message);
    }
}

/* ---- DeleteTopics (DeleteTopicsRequest.json / DeleteTopicsResponse.json) -----------------------
 *
 * Request: topic_names [STRING], timeout_ms INT32.
 * Response: throttle_time_ms INT32 (v1+), responses ARRAY: name STRING, error_code INT16.
 */

int kafka_parse_delete_topics_request(struct kr *r, int16_t version, struct arena *a,
                                      struct delete_topics_req *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ntopic_names = msg_array(r, W_STR);
    MSG_ALLOC(a, out->ntopic_names, out->topic_names, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopic_names; i++)
        out->topic_names[i] = msg_string(r);
    out->timeout_ms = kr_i32(r);
    return msg_end(r);
}

void kafka_encode_delete_topics_response(struct kw *w, int16_t version,
                                         const struct delete_topics_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->nresponses);
    for (int32_t i = 0; i < resp->nresponses; i++) {
        kw_string(w, resp->responses[i].name);
        kw_i16(w, resp->responses[i].error_code);
    }
}

/* ---- InitProducerId (InitProducerIdRequest.json / InitProducerIdResponse.json) -----------------
 *
 * Request:  transactional_id NULLABLE_STRING, transaction_timeout_ms INT32.
 * Response: throttle_time_ms INT32, error_code INT16, producer_id INT64, producer_epoch INT16.
 */

int kafka_parse_init_producer_id_request(struct kr *r, int16_t version, struct arena *a,
                                         struct init_producer_id_req *out)
{
    (void)a;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    out->transactional_id = kr_string(r);
    out->transaction_timeout_ms = kr_i32(r);
    return msg_end(r);
}

void kafka_encode_init_producer_id_response(struct kw *w, int16_t version,
                                            const struct init_producer_id_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    kw_i64(w, resp->producer_id);
    kw_i16(w, resp->producer_epoch);
}

/* ---- CreatePartitions (CreatePartitionsRequest.json / CreatePartitionsResponse.json) -----------
 *
 * v1 is the same as v0 (v1 only changes when a throttled response is sent); v2 is flexible.
 *
 * Request:
 *   topics ARRAY:
 *     name STRING
 *     count INT32                   the new total partition count
 *     assignments NULLABLE ARRAY:   one entry per NEW partition, null = the broker chooses
 *       broker_ids [INT32]
 *   timeout_ms INT32
 *   validate_only BOOLEAN
 *
 * Response:
 *   throttle_time_ms INT32
 *   results ARRAY: name STRING, error_code INT16, error_message NULLABLE_STRING
 */

#define CP_TOPIC_MIN (W_STR + W_I32 + W_ARR)

int kafka_parse_create_partitions_request(struct kr *r, int16_t version, struct arena *a,
                                          struct create_partitions_req *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ntopics = msg_array(r, CP_TOPIC_MIN);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct create_partitions_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->count = kr_i32(r);
        t->nassignments = kr_array(r, W_ARR); /* nullable: -1 stays -1 */
        MSG_ALLOC(a, t->nassignments, t->assignments, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->nassignments; j++) {
            struct create_partitions_assignment *as = &t->assignments[j];
            rc = msg_read_i32_array(r, a, &as->nbroker_ids, &as->broker_ids);
            if (rc)
                return rc;
        }
    }
    out->timeout_ms = kr_i32(r);
    out->validate_only = kr_bool(r);
    return msg_end(r);
}

void kafka_encode_create_partitions_response(struct kw *w, int16_t version,
                                             const struct create_partitions_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->nresults);
    for (int32_t i = 0; i < resp->nresults; i++) {
        kw_string(w, resp->results[i].name);
        kw_i16(w, resp->results[i].error_code);
        kw_string(w, resp->results[i].error_message);
    }
}
