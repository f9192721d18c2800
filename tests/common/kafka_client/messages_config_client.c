/*
 * Client direction of the config and record admin codecs (messages_config_client.h). Layouts:
 * Apache Kafka clients/src/main/resources/common/message/{DescribeConfigs,AlterConfigs,
 * IncrementalAlterConfigs,DeleteRecords,OffsetDelete}{Request,Response}.json, as summarised in
 * src/broker/protocol/messages_config.c.
 */
#include <string.h>

#include "kafka_client/messages_config_client.h"
#include "protocol/messages_int.h"

void kafka_encode_describe_configs_request(struct kw *w, int16_t version,
                                           const struct describe_configs_req *req)
{
    kw_array(w, req->nresources);
    for (int32_t i = 0; i < req->nresources; i++) {
        const struct describe_configs_req_resource *res = &req->resources[i];
        kw_i8(w, res->resource_type);
        kw_string(w, res->resource_name);
        kw_array(w, res->nconfiguration_keys);
        for (int32_t j = 0; j < res->nconfiguration_keys; j++)
            kw_string(w, res->configuration_keys[j]);
    }
    if (version >= 1)
        kw_bool(w, req->include_synonyms);
    if (version >= 3)
        kw_bool(w, req->include_documentation);
}

static int parse_config_entry(struct kr *r, int16_t version, struct arena *a,
                              struct describe_configs_resource_result *c)
{
    int rc = 0;
    c->name = msg_string(r);
    c->value = kr_string(r);
    c->read_only = kr_bool(r);
    c->config_source = -1;
    if (version == 0)
        c->is_default = kr_bool(r);
    else
        c->config_source = kr_i8(r);
    c->is_sensitive = kr_bool(r);
    if (version >= 1) {
        c->nsynonyms = msg_array(r, W_STR + W_STR + 1);
        MSG_ALLOC(a, c->nsynonyms, c->synonyms, rc);
        if (rc)
            return rc;
        for (int32_t k = 0; k < c->nsynonyms; k++) {
            c->synonyms[k].name = msg_string(r);
            c->synonyms[k].value = kr_string(r);
            c->synonyms[k].source = kr_i8(r);
        }
    }
    c->documentation = KSTR_NULL;
    if (version >= 3) {
        c->config_type = kr_i8(r);
        c->documentation = kr_string(r);
    }
    return 0;
}

int kafka_parse_describe_configs_response(struct kr *r, int16_t version, struct arena *a,
                                          struct describe_configs_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    out->nresults = msg_array(r, W_I16 + W_STR + 1 + W_STR + W_ARR);
    MSG_ALLOC(a, out->nresults, out->results, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresults; i++) {
        struct describe_configs_result *res = &out->results[i];
        res->error_code = kr_i16(r);
        res->error_message = kr_string(r);
        res->resource_type = kr_i8(r);
        res->resource_name = msg_string(r);
        res->nconfigs = msg_array(r, W_STR + W_STR + 3);
        MSG_ALLOC(a, res->nconfigs, res->configs, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < res->nconfigs; j++) {
            rc = parse_config_entry(r, version, a, &res->configs[j]);
            if (rc)
                return rc;
        }
    }
    return msg_end(r);
}

static void encode_alter(struct kw *w, bool incremental, const struct alter_configs_req *req)
{
    kw_array(w, req->nresources);
    for (int32_t i = 0; i < req->nresources; i++) {
        const struct alter_configs_req_resource *res = &req->resources[i];
        kw_i8(w, res->resource_type);
        kw_string(w, res->resource_name);
        kw_array(w, res->nconfigs);
        for (int32_t j = 0; j < res->nconfigs; j++) {
            kw_string(w, res->configs[j].name);
            if (incremental)
                kw_i8(w, res->configs[j].config_operation);
            kw_string(w, res->configs[j].value);
        }
    }
    kw_bool(w, req->validate_only);
}

void kafka_encode_alter_configs_request(struct kw *w, int16_t version,
                                        const struct alter_configs_req *req)
{
    (void)version;
    encode_alter(w, false, req);
}

void kafka_encode_incremental_alter_configs_request(struct kw *w, int16_t version,
                                                    const struct alter_configs_req *req)
{
    (void)version;
    encode_alter(w, true, req);
}

int kafka_parse_alter_configs_response(struct kr *r, int16_t version, struct arena *a,
                                       struct alter_configs_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    out->nresponses = msg_array(r, W_I16 + W_STR + 1 + W_STR);
    MSG_ALLOC(a, out->nresponses, out->responses, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresponses; i++) {
        out->responses[i].error_code = kr_i16(r);
        out->responses[i].error_message = kr_string(r);
        out->responses[i].resource_type = kr_i8(r);
        out->responses[i].resource_name = msg_string(r);
    }
    return msg_end(r);
}

void kafka_encode_delete_records_request(struct kw *w, int16_t version,
                                         const struct delete_records_req *req)
{
    (void)version;
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        kw_string(w, req->topics[i].name);
        kw_array(w, req->topics[i].npartitions);
        for (int32_t j = 0; j < req->topics[i].npartitions; j++) {
            kw_i32(w, req->topics[i].partitions[j].partition_index);
            kw_i64(w, req->topics[i].partitions[j].offset);
        }
    }
    kw_i32(w, req->timeout_ms);
}

int kafka_parse_delete_records_response(struct kr *r, int16_t version, struct arena *a,
                                        struct delete_records_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct delete_records_resp_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, W_I32 + W_I64 + W_I16);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            t->partitions[j].partition_index = kr_i32(r);
            t->partitions[j].low_watermark = kr_i64(r);
            t->partitions[j].error_code = kr_i16(r);
        }
    }
    return msg_end(r);
}

void kafka_encode_offset_delete_request(struct kw *w, int16_t version,
                                        const struct offset_delete_req *req)
{
    (void)version;
    kw_string(w, req->group_id);
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        kw_string(w, req->topics[i].name);
        msg_write_i32_array(w, req->topics[i].npartitions, req->topics[i].partitions);
    }
}

int kafka_parse_offset_delete_response(struct kr *r, int16_t version, struct arena *a,
                                       struct offset_delete_resp *out)
{
    int rc = 0;
    if (version != 0)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->error_code = kr_i16(r);
    out->throttle_time_ms = kr_i32(r);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct offset_delete_resp_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, W_I32 + W_I16);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            t->partitions[j].partition_index = kr_i32(r);
            t->partitions[j].error_code = kr_i16(r);
        }
    }
    return msg_end(r);
}
