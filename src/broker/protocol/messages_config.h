/*
 * The configuration and record admin APIs: DescribeConfigs v0-3, AlterConfigs v0-1,
 * IncrementalAlterConfigs v0, DeleteRecords v0-1 and OffsetDelete v0.
 *
 * Same conventions as messages.h (Apache Kafka clients/src/main/resources/common/message/
 * <Name>Request.json and <Name>Response.json; "vN+" marks a field present from version N;
 * strings borrow from the frame; arrays come from the arena, NULL when empty). Every version
 * here is below its API's first flexible version (DescribeConfigs 4, AlterConfigs 2,
 * IncrementalAlterConfigs 1, DeleteRecords 2; OffsetDelete v0 is never flexible), so there are
 * no compact encodings or tagged fields in this file.
 */
#ifndef TANDEM_PROTOCOL_MESSAGES_CONFIG_H
#define TANDEM_PROTOCOL_MESSAGES_CONFIG_H

#include "protocol/messages.h"

/* ConfigResource.Type (org.apache.kafka.common.config.ConfigResource). */
#define KAFKA_RESOURCE_TOPIC  2
#define KAFKA_RESOURCE_BROKER 4

/* DescribeConfigsResponse.ConfigSource. */
enum kafka_config_source {
    KAFKA_CONFIG_SOURCE_UNKNOWN = 0,
    KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG = 1,
    KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG = 2,
    KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG = 3,
    KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG = 4,
    KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG = 5,
};

/* DescribeConfigsResponse.ConfigType (v3+). */
enum kafka_config_type {
    KAFKA_CONFIG_TYPE_UNKNOWN = 0,
    KAFKA_CONFIG_TYPE_BOOLEAN = 1,
    KAFKA_CONFIG_TYPE_STRING = 2,
    KAFKA_CONFIG_TYPE_INT = 3,
    KAFKA_CONFIG_TYPE_SHORT = 4,
    KAFKA_CONFIG_TYPE_LONG = 5,
    KAFKA_CONFIG_TYPE_DOUBLE = 6,
    KAFKA_CONFIG_TYPE_LIST = 7,
    KAFKA_CONFIG_TYPE_CLASS = 8,
    KAFKA_CONFIG_TYPE_PASSWORD = 9,
};

/* IncrementalAlterConfigsRequest.ConfigOperation (AlterConfigOp.OpType). */
enum kafka_config_op {
    KAFKA_CONFIG_OP_SET = 0,
    KAFKA_CONFIG_OP_DELETE = 1,
    KAFKA_CONFIG_OP_APPEND = 2,
    KAFKA_CONFIG_OP_SUBTRACT = 3,
};

/* ---- DescribeConfigs (32), v0-3 ---------------------------------------------------------------
 */

struct describe_configs_req_resource {
    int8_t resource_type;
    struct kstr resource_name;
    int32_t nconfiguration_keys; /* -1: null (every config) */
    struct kstr *configuration_keys;
};

struct describe_configs_req {
    int32_t nresources;
    struct describe_configs_req_resource *resources;
    bool include_synonyms;      /* v1+, else false */
    bool include_documentation; /* v3+, else false */
};

struct describe_configs_synonym {
    struct kstr name;
    struct kstr value; /* nullable */
    int8_t source;
};

struct describe_configs_resource_result {
    struct kstr name;
    struct kstr value; /* nullable */
    bool read_only;
    bool is_default;      /* v0 only */
    int8_t config_source; /* v1+ */
    bool is_sensitive;
    int32_t nsynonyms; /* v1+ */
    struct describe_configs_synonym *synonyms;
    int8_t config_type;        /* v3+ */
    struct kstr documentation; /* v3+, nullable */
};

struct describe_configs_result {
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int8_t resource_type;
    struct kstr resource_name;
    int32_t nconfigs;
    struct describe_configs_resource_result *configs;
};

struct describe_configs_resp {
    int32_t throttle_time_ms;
    int32_t nresults;
    struct describe_configs_result *results;
};

int kafka_parse_describe_configs_request(struct kr *r, int16_t version, struct arena *a,
                                         struct describe_configs_req *out);
void kafka_encode_describe_configs_response(struct kw *w, int16_t version,
                                            const struct describe_configs_resp *resp);

/* ---- AlterConfigs (33), v0-1, and IncrementalAlterConfigs (44), v0 ----------------------------
 *
 * One request struct serves both: AlterConfigs has no config_operation (it is SET for every
 * entry and the set replaces the resource's whole configuration). Both answer with the same
 * response layout.
 */

struct alter_configs_req_config {
    struct kstr name;
    int8_t config_operation; /* IncrementalAlterConfigs only; AlterConfigs: SET */
    struct kstr value;       /* nullable */
};

struct alter_configs_req_resource {
    int8_t resource_type;
    struct kstr resource_name;
    int32_t nconfigs;
    struct alter_configs_req_config *configs;
};

struct alter_configs_req {
    int32_t nresources;
    struct alter_configs_req_resource *resources;
    bool validate_only;
};

struct alter_configs_resp_resource {
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int8_t resource_type;
    struct kstr resource_name;
};

struct alter_configs_resp {
    int32_t throttle_time_ms;
    int32_t nresponses;
    struct alter_configs_resp_resource *responses;
};

int kafka_parse_alter_configs_request(struct kr *r, int16_t version, struct arena *a,
                                      struct alter_configs_req *out);
void kafka_encode_alter_configs_response(struct kw *w, int16_t version,
                                         const struct alter_configs_resp *resp);
int kafka_parse_incremental_alter_configs_request(struct kr *r, int16_t version, struct arena *a,
                                                  struct alter_configs_req *out);
void kafka_encode_incremental_alter_configs_response(struct kw *w, int16_t version,
                                                     const struct alter_configs_resp *resp);

/* ---- DeleteRecords (21), v0-1 -----------------------------------------------------------------
 */

struct delete_records_req_partition {
    int32_t partition_index;
    int64_t offset; /* delete everything before it; -1 = the high watermark */
};

struct delete_records_req_topic {
    struct kstr name;
    int32_t npartitions;
    struct delete_records_req_partition *partitions;
};

struct delete_records_req {
    int32_t ntopics;
    struct delete_records_req_topic *topics;
    int32_t timeout_ms;
};

struct delete_records_resp_partition {
    int32_t partition_index;
    int64_t low_watermark;
    int16_t error_code;
};

struct delete_records_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct delete_records_resp_partition *partitions;
};

struct delete_records_resp {
    int32_t throttle_time_ms;
    int32_t ntopics;
    struct delete_records_resp_topic *topics;
};

int kafka_parse_delete_records_request(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_records_req *out);
void kafka_encode_delete_records_response(struct kw *w, int16_t version,
                                          const struct delete_records_resp *resp);

/* ---- OffsetDelete (47), v0 --------------------------------------------------------------------
 */

struct offset_delete_req_topic {
    struct kstr name;
    int32_t npartitions;
    int32_t *partitions; /* partition indexes */
};

struct offset_delete_req {
    struct kstr group_id;
    int32_t ntopics;
    struct offset_delete_req_topic *topics;
};

struct offset_delete_resp_partition {
    int32_t partition_index;
    int16_t error_code;
};

struct offset_delete_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct offset_delete_resp_partition *partitions;
};

struct offset_delete_resp {
    int16_t error_code;
    int32_t throttle_time_ms;
    int32_t ntopics;
    struct offset_delete_resp_topic *topics;
};

int kafka_parse_offset_delete_request(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_delete_req *out);
void kafka_encode_offset_delete_response(struct kw *w, int16_t version,
                                         const struct offset_delete_resp *resp);

#endif
