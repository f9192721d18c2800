/*
 * Kafka message codecs, part 4: the admin APIs, as schema tables (schema.h) read and written by
 * the one engine (schema.c): CreateTopics v0-6, DeleteTopics v0-5, InitProducerId v0-4 and
 * CreatePartitions v0-3, flexible from CreateTopics 5, DeleteTopics 4, InitProducerId 2 and
 * CreatePartitions 2. The structs are in messages.h; each table transcribes Apache Kafka
 * clients/src/main/resources/common/message/<Name>Request.json / <Name>Response.json.
 *
 * Not described: CreateTopics v7 and DeleteTopics v6 (topic ids).
 */
#include <stddef.h>

#include "protocol/messages.h"
#include "protocol/schema_int.h"
#include "protocol/schema_msgs.h"

/* ---- CreateTopics (flexibleVersions 5+) -------------------------------------------------------
 */

static const struct schema_field ct_assignment_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct create_topics_assignment, partition_index, 0),
    PARR(ST_ARRAY_I32, 0, V, NEVER, struct create_topics_assignment, broker_ids, nbroker_ids),
};
static const struct schema_struct ct_assignment_s =
    SCHEMA_STRUCT(struct create_topics_assignment, ct_assignment_f);

static const struct schema_field ct_config_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct create_topics_config, name, 0),
    FLD(ST_STRING, 0, V, 0, struct create_topics_config, value, 0),
};
static const struct schema_struct ct_config_s =
    SCHEMA_STRUCT(struct create_topics_config, ct_config_f);

static const struct schema_field ct_req_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct create_topics_req_topic, name, 0),
    FLD(ST_I32, 0, V, NEVER, struct create_topics_req_topic, num_partitions, 0),
    FLD(ST_I16, 0, V, NEVER, struct create_topics_req_topic, replication_factor, 0),
    ARR(0, V, NEVER, struct create_topics_req_topic, assignments, nassignments, ct_assignment_s),
    ARR(0, V, NEVER, struct create_topics_req_topic, configs, nconfigs, ct_config_s),
};
static const struct schema_struct ct_req_topic_s =
    SCHEMA_STRUCT(struct create_topics_req_topic, ct_req_topic_f);

static const struct schema_field ct_req_f[] = {
    ARR(0, V, NEVER, struct create_topics_req, topics, ntopics, ct_req_topic_s),
    FLD(ST_I32, 0, V, NEVER, struct create_topics_req, timeout_ms, 60000),
    FLD(ST_BOOL, 1, V, NEVER, struct create_topics_req, validate_only, 0),
};
const struct schema_message schema_create_topics_request = {
    "CreateTopicsRequest", 19, 0, 6, 5, SCHEMA_STRUCT(struct create_topics_req, ct_req_f)};

static const struct schema_field ct_resp_config_f[] = {
    FLD(ST_STRING, 5, V, NEVER, struct create_topics_resp_config, name, 0),
    FLD(ST_STRING, 5, V, 5, struct create_topics_resp_config, value, 0),
    FLD(ST_BOOL, 5, V, NEVER, struct create_topics_resp_config, read_only, 0),
    FLD(ST_I8, 5, V, NEVER, struct create_topics_resp_config, config_source, -1),
    FLD(ST_BOOL, 5, V, NEVER, struct create_topics_resp_config, is_sensitive, 0),
};
static const struct schema_struct ct_resp_config_s =
    SCHEMA_STRUCT(struct create_topics_resp_config, ct_resp_config_f);

static const struct schema_field ct_resp_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct create_topics_resp_topic, name, 0),
    FLD(ST_I16, 0, V, NEVER, struct create_topics_resp_topic, error_code, 0),
    FLD(ST_STRING, 1, V, 0, struct create_topics_resp_topic, error_message, 0),
    TAG(ST_I16, 5, V, NEVER, 0, struct create_topics_resp_topic, topic_config_error_code, 0),
    FLD(ST_I32, 5, V, NEVER, struct create_topics_resp_topic, num_partitions, -1),
    FLD(ST_I16, 5, V, NEVER, struct create_topics_resp_topic, replication_factor, -1),
    ARR(5, V, 5, struct create_topics_resp_topic, configs, nconfigs, ct_resp_config_s),
};
static const struct schema_struct ct_resp_topic_s =
    SCHEMA_STRUCT(struct create_topics_resp_topic, ct_resp_topic_f);

static const struct schema_field ct_resp_f[] = {
    FLD(ST_I32, 2, V, NEVER, struct create_topics_resp, throttle_time_ms, 0),
    ARR(0, V, NEVER, struct create_topics_resp, topics, ntopics, ct_resp_topic_s),
};
const struct schema_message schema_create_topics_response = {
    "CreateTopicsResponse", 19, 0, 6, 5, SCHEMA_STRUCT(struct create_topics_resp, ct_resp_f)};

int kafka_parse_create_topics_request(struct kr *r, int16_t version, struct arena *a,
                                      struct create_topics_req *out)
{
    return schema_decode(&schema_create_topics_request, r, version, a, out);
}

void kafka_encode_create_topics_response(struct kw *w, int16_t version,
                                         const struct create_topics_resp *resp)
{
    schema_encode(&schema_create_topics_response, w, version, resp);
}

/* ---- DeleteTopics (flexibleVersions 4+) -------------------------------------------------------
 */

static const struct schema_field dt_req_f[] = {
    PARR(ST_ARRAY_STR, 0, 5, NEVER, struct delete_topics_req, topic_names, ntopic_names),
    FLD(ST_I32, 0, V, NEVER, struct delete_topics_req, timeout_ms, 0),
};
const struct schema_message schema_delete_topics_request = {
    "DeleteTopicsRequest", 20, 0, 5, 4, SCHEMA_STRUCT(struct delete_topics_req, dt_req_f)};

static const struct schema_field dt_resp_topic_f[] = {
    FLD(ST_STRING, 0, V, 6, struct delete_topics_resp_topic, name, 0),
    FLD(ST_I16, 0, V, NEVER, struct delete_topics_resp_topic, error_code, 0),
    FLD(ST_STRING, 5, V, 5, struct delete_topics_resp_topic, error_message, 0),
};
static const struct schema_struct dt_resp_topic_s =
    SCHEMA_STRUCT(struct delete_topics_resp_topic, dt_resp_topic_f);

static const struct schema_field dt_resp_f[] = {
    FLD(ST_I32, 1, V, NEVER, struct delete_topics_resp, throttle_time_ms, 0),
    ARR(0, V, NEVER, struct delete_topics_resp, responses, nresponses, dt_resp_topic_s),
};
const struct schema_message schema_delete_topics_response = {
    "DeleteTopicsResponse", 20, 0, 5, 4, SCHEMA_STRUCT(struct delete_topics_resp, dt_resp_f)};

int kafka_parse_delete_topics_request(struct kr *r, int16_t version, struct arena *a,
                                      struct delete_topics_req *out)
{
    return schema_decode(&schema_delete_topics_request, r, version, a, out);
}

void kafka_encode_delete_topics_response(struct kw *w, int16_t version,
                                         const struct delete_topics_resp *resp)
{
    schema_encode(&schema_delete_topics_response, w, version, resp);
}

/* ---- InitProducerId (flexibleVersions 2+) -----------------------------------------------------
 */

static const struct schema_field ip_req_f[] = {
    FLD(ST_STRING, 0, V, 0, struct init_producer_id_req, transactional_id, 0),
    FLD(ST_I32, 0, V, NEVER, struct init_producer_id_req, transaction_timeout_ms, 0),
    FLD(ST_I64, 3, V, NEVER, struct init_producer_id_req, producer_id, -1),
    FLD(ST_I16, 3, V, NEVER, struct init_producer_id_req, producer_epoch, -1),
};
const struct schema_message schema_init_producer_id_request = {
    "InitProducerIdRequest", 22, 0, 4, 2, SCHEMA_STRUCT(struct init_producer_id_req, ip_req_f)};

static const struct schema_field ip_resp_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct init_producer_id_resp, throttle_time_ms, 0),
    FLD(ST_I16, 0, V, NEVER, struct init_producer_id_resp, error_code, 0),
    FLD(ST_I64, 0, V, NEVER, struct init_producer_id_resp, producer_id, -1),
    FLD(ST_I16, 0, V, NEVER, struct init_producer_id_resp, producer_epoch, 0),
};
const struct schema_message schema_init_producer_id_response = {
    "InitProducerIdResponse", 22, 0, 4, 2, SCHEMA_STRUCT(struct init_producer_id_resp, ip_resp_f)};

int kafka_parse_init_producer_id_request(struct kr *r, int16_t version, struct arena *a,
                                         struct init_producer_id_req *out)
{
    return schema_decode(&schema_init_producer_id_request, r, version, a, out);
}

void kafka_encode_init_producer_id_response(struct kw *w, int16_t version,
                                            const struct init_producer_id_resp *resp)
{
    schema_encode(&schema_init_producer_id_response, w, version, resp);
}

/* ---- CreatePartitions (flexibleVersions 2+) ---------------------------------------------------
 */

static const struct schema_field cp_assignment_f[] = {
    PARR(ST_ARRAY_I32, 0, V, NEVER, struct create_partitions_assignment, broker_ids, nbroker_ids),
};
static const struct schema_struct cp_assignment_s =
    SCHEMA_STRUCT(struct create_partitions_assignment, cp_assignment_f);

static const struct schema_field cp_req_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct create_partitions_req_topic, name, 0),
    FLD(ST_I32, 0, V, NEVER, struct create_partitions_req_topic, count, 0),
    ARR(0, V, 0, struct create_partitions_req_topic, assignments, nassignments, cp_assignment_s),
};
static const struct schema_struct cp_req_topic_s =
    SCHEMA_STRUCT(struct create_partitions_req_topic, cp_req_topic_f);

static const struct schema_field cp_req_f[] = {
    ARR(0, V, NEVER, struct create_partitions_req, topics, ntopics, cp_req_topic_s),
    FLD(ST_I32, 0, V, NEVER, struct create_partitions_req, timeout_ms, 0),
    FLD(ST_BOOL, 0, V, NEVER, struct create_partitions_req, validate_only, 0),
};
const struct schema_message schema_create_partitions_request = {
    "CreatePartitionsRequest", 37, 0, 3, 2, SCHEMA_STRUCT(struct create_partitions_req, cp_req_f)};

static const struct schema_field cp_result_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct create_partitions_resp_result, name, 0),
    FLD(ST_I16, 0, V, NEVER, struct create_partitions_resp_result, error_code, 0),
    FLD(ST_STRING, 0, V, 0, struct create_partitions_resp_result, error_message, 0),
};
static const struct schema_struct cp_result_s =
    SCHEMA_STRUCT(struct create_partitions_resp_result, cp_result_f);

static const struct schema_field cp_resp_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct create_partitions_resp, throttle_time_ms, 0),
    ARR(0, V, NEVER, struct create_partitions_resp, results, nresults, cp_result_s),
};
const struct schema_message schema_create_partitions_response = {
    "CreatePartitionsResponse",
    37,
    0,
    3,
    2,
    SCHEMA_STRUCT(struct create_partitions_resp, cp_resp_f)};

int kafka_parse_create_partitions_request(struct kr *r, int16_t version, struct arena *a,
                                          struct create_partitions_req *out)
{
    return schema_decode(&schema_create_partitions_request, r, version, a, out);
}

void kafka_encode_create_partitions_response(struct kw *w, int16_t version,
                                             const struct create_partitions_resp *resp)
{
    schema_encode(&schema_create_partitions_response, w, version, resp);
}
