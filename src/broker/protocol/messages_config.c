/*
 * Kafka message codecs for the configuration and record admin APIs (messages_config.h):
 * DescribeConfigs v0-3, AlterConfigs v0-1, IncrementalAlterConfigs v0, DeleteRecords v0-1,
 * OffsetDelete v0. See messages.c for the model (sticky-error reader, arrays checked against
 * the bytes left before the arena allocates them, msg_end rejecting trailing bytes). None of
 * these versions is flexible.
 */
#include <string.h>

#include "protocol/messages_config.h"
#include "protocol/messages_int.h"
#include "tandem/error.h"

/* ---- DescribeConfigs (DescribeConfigsRequest.json / DescribeConfigsResponse.json) -------------
 *
 * Request:
 *   resources ARRAY:
 *     resource_type INT8
 *     resource_name STRING
 *     configuration_keys NULLABLE ARRAY of STRING   null = every config
 *   include_synonyms BOOLEAN        v1+
 *   include_documentation BOOLEAN   v3+
 */

#define DC_RESOURCE_MIN (1 + W_STR + W_ARR)

int kafka_parse_describe_configs_request(struct kr *r, int16_t version, struct arena *a,
                                         struct describe_configs_req *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->nresources = msg_array(r, DC_RESOURCE_MIN);
    MSG_ALLOC(a, out->nresources, out->resources, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresources; i++) {
        struct describe_configs_req_resource *res = &out->resources[i];
        res->resource_type = kr_i8(r);
        res->resource_name = msg_string(r);
        res->nconfiguration_keys = kr_array(r, W_STR); /* nullable: -1 stays -1 */
        MSG_ALLOC(a, res->nconfiguration_keys, res->configuration_keys, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < res->nconfiguration_keys; j++)
            res->configuration_keys[j] = msg_string(r);
    }
    out->include_synonyms = version >= 1 ? kr_bool(r) : false;
    out->include_documentation = version >= 3 ? kr_bool(r) : false;
    return msg_end(r);
}

/*
 * Response:
 *   throttle_time_ms INT32
 *   results ARRAY:
 *     error_code INT16, error_message NULLABLE_STRING, resource_type INT8, resource_name STRING
 *     configs ARRAY:
 *       name STRING, value NULLABLE_STRING, read_only BOOLEAN
 *       is_default BOOLEAN          v0 only
 *       config_source INT8          v1+
 *       is_sensitive BOOLEAN
 *       synonyms ARRAY              v1+: name STRING, value NULLABLE_STRING, source INT8
 *       config_type INT8            v3+
 *       documentation NULLABLE_STRING v3+
 */
void kafka_encode_describe_configs_response(struct kw *w, int16_t version,
                                            const struct describe_configs_resp *resp)
{
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->nresults);
    for (int32_t i = 0; i < resp->nresults; i++) {
        const struct describe_configs_result *res = &resp->results[i];
        kw_i16(w, res->error_code);
        kw_string(w, res->error_message);
        kw_i8(w, res->resource_type);
        kw_string(w, res->resource_name);
        kw_array(w, res->nconfigs);
        for (int32_t j = 0; j < res->nconfigs; j++) {
            const struct describe_configs_resource_result *c = &res->configs[j];
            kw_string(w, c->name);
            kw_string(w, c->value);
            kw_bool(w, c->read_only);
            if (version == 0)
                kw_bool(w, c->is_default);
            else
                kw_i8(w, c->config_source);
            kw_bool(w, c->is_sensitive);
            if (version >= 1) {
                kw_array(w, c->nsynonyms);
                for (int32_t k = 0; k < c->nsynonyms; k++) {
                    kw_string(w, c->synonyms[k].name);
                    kw_string(w, c->synonyms[k].value);
                    kw_i8(w, c->synonyms[k].source);
                }
            }
            if (version >= 3) {
                kw_i8(w, c->config_type);
                kw_string(w, c->documentation);
            }
        }
    }
}

/* ---- AlterConfigs (AlterConfigsRequest.json) and IncrementalAlterConfigs
 * (IncrementalAlterConfigsRequest.json) -----------------------------------------------------------
 *
 * Request:
 *   resources ARRAY:
 *     resource_type INT8
 *     resource_name STRING
 *     configs ARRAY:
 *       name STRING
 *       config_operation INT8       IncrementalAlterConfigs only
 *       value NULLABLE_STRING
 *   validate_only BOOLEAN
 *
 * Response (both):
 *   throttle_time_ms INT32
 *   responses ARRAY: error_code INT16, error_message NULLABLE_STRING, resource_type INT8,
 *                    resource_name STRING
 */

static int parse_alter(struct kr *r, bool incremental, struct arena *a,
                       struct alter_configs_req *out)
{
    int rc = 0;
    memset(out, 0, sizeof(*out));
    out->nresources = msg_array(r, 1 + W_STR + W_ARR);
    MSG_ALLOC(a, out->nresources, out->resources, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresources; i++) {
        struct alter_configs_req_resource *res = &out->resources[i];
        res->resource_type = kr_i8(r);
        res->resource_name = msg_string(r);
        res->nconfigs = msg_array(r, W_STR + (incremental ? 1 : 0) + W_STR);
        MSG_ALLOC(a, res->nconfigs, res->configs, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < res->nconfigs; j++) {
            res->configs[j].name = msg_string(r);
            res->configs[j].config_operation = incremental ? kr_i8(r) : KAFKA_CONFIG_OP_SET;
            res->configs[j].value = kr_string(r);
        }
    }
    out->validate_only = kr_bool(r);
    return msg_end(r);
}

static void encode_alter_response(struct kw *w, const struct alter_configs_resp *resp)
{
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->nresponses);
    for (int32_t i = 0; i < resp->nresponses; i++) {
        kw_i16(w, resp->responses[i].error_code);
        kw_string(w, resp->responses[i].error_message);
        kw_i8(w, resp->responses[i].resource_type);
        kw_string(w, resp->responses[i].resource_name);
    }
}

int kafka_parse_alter_configs_request(struct kr *r, int16_t version, struct arena *a,
                                      struct alter_configs_req *out)
{
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    return parse_alter(r, false, a, out);
}

void kafka_encode_alter_configs_response(struct kw *w, int16_t version,
                                         const struct alter_configs_resp *resp)
{
    (void)version;
    encode_alter_response(w, resp);
}

int kafka_parse_incremental_alter_configs_request(struct kr *r, int16_t version, struct arena *a,
                                                  struct alter_configs_req *out)
{
    if (version != 0)
        return TANDEM_EUNSUPPORTED;
    return parse_alter(r, true, a, out);
}

void kafka_encode_incremental_alter_configs_response(struct kw *w, int16_t version,
                                                     const struct alter_configs_resp *resp)
{
    (void)version;
    encode_alter_response(w, resp);
}

/* ---- DeleteRecords (DeleteRecordsRequest.json / DeleteRecordsResponse.json) -------------------
 *
 * v1 is v0 (it only changes when a throttled response is sent).
 *
 * Request:
 *   topics ARRAY: name STRING, partitions ARRAY: partition_index INT32, offset INT64
 *   timeout_ms INT32
 * Response:
 *   throttle_time_ms INT32
 *   topics ARRAY: name STRING,
 *     partitions ARRAY: partition_index INT32, low_watermark INT64, error_code INT16
 */

int kafka_parse_delete_records_request(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_records_req *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct delete_records_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, W_I32 + W_I64);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            t->partitions[j].partition_index = kr_i32(r);
            t->partitions[j].offset = kr_i64(r);
        }
    }
    out->timeout_ms = kr_i32(r);
    return msg_end(r);
}

void kafka_encode_delete_records_response(struct kw *w, int16_t version,
                                          const struct delete_records_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct delete_records_resp_topic *t = &resp->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            kw_i32(w, t->partitions[j].partition_index);
            kw_i64(w, t->partitions[j].low_watermark);
            kw_i16(w, t->partitions[j].error_code);
        }
    }
}

/* ---- OffsetDelete (OffsetDeleteRequest.json / OffsetDeleteResponse.json) ----------------------
 *
 * Request:
 *   group_id STRING
 *   topics ARRAY: name STRING, partitions ARRAY: partition_index INT32
 * Response:
 *   error_code INT16
 *   throttle_time_ms INT32
 *   topics ARRAY: name STRING, partitions ARRAY: partition_index INT32, error_code INT16
 */

int kafka_parse_offset_delete_request(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_delete_req *out)
{
    int rc = 0;
    if (version != 0)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->group_id = msg_string(r);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct offset_delete_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        rc = msg_read_i32_array(r, a, &t->npartitions, &t->partitions);
        if (rc)
            return rc;
    }
    return msg_end(r);
}

void kafka_encode_offset_delete_response(struct kw *w, int16_t version,
                                         const struct offset_delete_resp *resp)
{
    (void)version;
    kw_i16(w, resp->error_code);
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct offset_delete_resp_topic *t = &resp->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            kw_i32(w, t->partitions[j].partition_index);
            kw_i16(w, t->partitions[j].error_code);
        }
    }
}
