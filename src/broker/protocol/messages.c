/*
 * Kafka message codecs, part 1: the request and response headers, the version tables, and the
 * ApiVersions and Metadata messages. Produce, Fetch and ListOffsets are in messages_data.c;
 * CreateTopics, DeleteTopics, InitProducerId and CreatePartitions in messages_admin.c; the
 * consumer-group APIs in messages_group.c; the security APIs answered as disabled, still written
 * by hand, in messages_security.c.
 *
 * Model. A frame on the wire is INT32 size, then a header, then a body. The network loop cuts
 * frames; kafka_parse_request_header() reads the header and tells the header's size; the
 * dispatcher then hands the body to the parser of that API and version. Every parser is a pure
 * function over borrowed bytes: strings and byte ranges in the output point into the frame, so
 * the frame must outlive the parsed struct; arrays are carved from a per-request arena that is
 * freed at once when the response is sent. A truncated body, a negative length, a count larger
 * than the bytes left, a null where the spec does not allow one, or bytes left over after the
 * last field all give TANDEM_EPROTO, and none of them can make a parser read out of bounds or
 * allocate more than the frame justifies.
 *
 * The codecs are schema tables, one per message, transcribed from Apache Kafka
 * clients/src/main/resources/common/message/<Name>{Request,Response}.json, and run by one engine
 * (schema.h, schema.c) that reads and writes any version, with the flexible encodings (compact
 * lengths, tagged fields) from each message's first flexible version.
 */
#include <string.h>

#include "protocol/kafka.h"
#include "protocol/messages.h"
#include "protocol/messages_int.h"
#include "protocol/schema_int.h"
#include "protocol/schema_msgs.h"
#include "tandem/error.h"

/* ---- helpers shared with the other codec files -------------------------------------------------
 */

int msg_read_i32_array(struct kr *r, struct arena *a, int32_t *n, int32_t **out)
{
    int rc = 0;
    *n = msg_array(r, W_I32);
    int32_t *v = msg_alloc(a, *n, sizeof(int32_t), &rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < *n; i++)
        v[i] = kr_i32(r);
    *out = v;
    return 0;
}

void msg_write_i32_array(struct kw *w, int32_t n, const int32_t *v)
{
    kw_array(w, n);
    for (int32_t i = 0; i < n; i++)
        kw_i32(w, v[i]);
}

/* ---- versions ---------------------------------------------------------------------------------
 */

/* First flexible version of each API ("flexibleVersions" in <Name>Request.json); -1 = never.
 * Only the APIs listed here are known; other keys are treated as never flexible. */
static const struct {
    int16_t api_key;
    int16_t flexible_from;
} flexible_table[] = {
    {KAFKA_PRODUCE, 9},
    {KAFKA_FETCH, 12},
    {KAFKA_LIST_OFFSETS, 6},
    {KAFKA_METADATA, 9},
    {KAFKA_OFFSET_COMMIT, 8},
    {KAFKA_OFFSET_FETCH, 6},
    {KAFKA_FIND_COORDINATOR, 3},
    {KAFKA_JOIN_GROUP, 6},
    {KAFKA_HEARTBEAT, 4},
    {KAFKA_LEAVE_GROUP, 4},
    {KAFKA_SYNC_GROUP, 4},
    {KAFKA_DESCRIBE_GROUPS, 5},
    {KAFKA_LIST_GROUPS, 3},
    {KAFKA_SASL_HANDSHAKE, -1},
    {KAFKA_API_VERSIONS, 3},
    {KAFKA_CREATE_TOPICS, 5},
    {KAFKA_DELETE_TOPICS, 4},
    {KAFKA_DELETE_RECORDS, 2},
    {KAFKA_INIT_PRODUCER_ID, 2},
    {23 /* OffsetForLeaderEpoch */, 4},
    {KAFKA_ADD_PARTITIONS_TO_TXN, 3},
    {KAFKA_ADD_OFFSETS_TO_TXN, 3},
    {KAFKA_END_TXN, 3},
    {KAFKA_TXN_OFFSET_COMMIT, 3},
    {KAFKA_DESCRIBE_ACLS, 2},
    {KAFKA_CREATE_ACLS, 2},
    {KAFKA_DELETE_ACLS, 2},
    {KAFKA_DESCRIBE_CONFIGS, 4},
    {KAFKA_ALTER_CONFIGS, 2},
    {KAFKA_SASL_AUTHENTICATE, 2},
    {KAFKA_CREATE_PARTITIONS, 2},
    {KAFKA_DELETE_GROUPS, 2},
    {KAFKA_INCREMENTAL_ALTER_CONFIGS, 1},
    {KAFKA_OFFSET_DELETE, -1},
};

static int16_t flexible_from(int16_t api_key)
{
    for (size_t i = 0; i < sizeof(flexible_table) / sizeof(flexible_table[0]); i++)
        if (flexible_table[i].api_key == api_key)
            return flexible_table[i].flexible_from;
    return -1;
}

static bool is_flexible(int16_t api_key, int16_t api_version)
{
    int16_t f = flexible_from(api_key);
    return f >= 0 && api_version >= f;
}

int kafka_request_header_version(int16_t api_key, int16_t api_version)
{
    if (api_key == 7 /* ControlledShutdown */ && api_version == 0)
        return 0;
    return is_flexible(api_key, api_version) ? 2 : 1;
}

int kafka_response_header_version(int16_t api_key, int16_t api_version)
{
    if (api_key == KAFKA_API_VERSIONS) /* ApiVersionsResponse.json: header stays v0 */
        return 0;
    return is_flexible(api_key, api_version) ? 1 : 0;
}

/* The version ranges these codecs implement (see messages.h). */
static const struct {
    int16_t api_key;
    int16_t min;
    int16_t max;
} codec_versions[] = {
    {KAFKA_PRODUCE, 0, 9},
    {KAFKA_FETCH, 0, 12},
    {KAFKA_LIST_OFFSETS, 0, 6},
    {KAFKA_METADATA, 0, 12},
    {KAFKA_API_VERSIONS, 0, 3},
    {KAFKA_CREATE_TOPICS, 0, 6},
    {KAFKA_DELETE_TOPICS, 0, 5},
    {KAFKA_INIT_PRODUCER_ID, 0, 4},
    {KAFKA_CREATE_PARTITIONS, 0, 3},
    /* consumer groups: messages_group.c */
    {KAFKA_FIND_COORDINATOR, 0, 4},
    {KAFKA_JOIN_GROUP, 0, 6},
    {KAFKA_SYNC_GROUP, 0, 4},
    {KAFKA_HEARTBEAT, 0, 4},
    {KAFKA_LEAVE_GROUP, 0, 5},
    {KAFKA_OFFSET_COMMIT, 0, 8},
    {KAFKA_OFFSET_FETCH, 0, 8},
    {KAFKA_LIST_GROUPS, 0, 4},
    {KAFKA_DESCRIBE_GROUPS, 0, 5},
    {KAFKA_DELETE_GROUPS, 0, 2},
    /* configs and record admin: messages_config.c */
    {KAFKA_DESCRIBE_CONFIGS, 0, 3},
    {KAFKA_ALTER_CONFIGS, 0, 1},
    {KAFKA_INCREMENTAL_ALTER_CONFIGS, 0, 0},
    {KAFKA_DELETE_RECORDS, 0, 1},
    {KAFKA_OFFSET_DELETE, 0, 0},
    /* transactions: messages_txn.c */
    {KAFKA_ADD_PARTITIONS_TO_TXN, 0, 2},
    {KAFKA_ADD_OFFSETS_TO_TXN, 0, 2},
    {KAFKA_END_TXN, 0, 2},
    {KAFKA_TXN_OFFSET_COMMIT, 0, 2},
    /* answered as disabled, never advertised: messages_security.c */
    {KAFKA_SASL_HANDSHAKE, 0, 1},
    {KAFKA_SASL_AUTHENTICATE, 0, 2},
    {KAFKA_DESCRIBE_ACLS, 0, 3},
    {KAFKA_CREATE_ACLS, 0, 3},
    {KAFKA_DELETE_ACLS, 0, 3},
};

int kafka_codec_versions(int16_t api_key, int16_t *min_version, int16_t *max_version)
{
    for (size_t i = 0; i < sizeof(codec_versions) / sizeof(codec_versions[0]); i++) {
        if (codec_versions[i].api_key == api_key) {
            *min_version = codec_versions[i].min;
            *max_version = codec_versions[i].max;
            return 0;
        }
    }
    return TANDEM_ENOENT;
}

/* ---- request header (RequestHeader.json), response header (ResponseHeader.json) ---------------
 *
 *   OFFSET SIZE FIELD
 *   0      2    request_api_key      INT16
 *   2      2    request_api_version  INT16
 *   4      4    correlation_id       INT32
 *   8      2+n  client_id            NULLABLE_STRING, header v1+ (INT16 length even in v2:
 *                                    "flexibleVersions": "none", so old brokers can read it)
 *   ...    1+   tagged fields        header v2 only
 *
 * The response header is correlation_id INT32, then (v1) an empty tagged-field section.
 */

int kafka_parse_request_header(const uint8_t *p, size_t len, struct kafka_req_header *h,
                               size_t *used)
{
    struct kr r;
    kr_init(&r, p, len);
    memset(h, 0, sizeof(*h));
    h->request_api_key = kr_i16(&r);
    h->request_api_version = kr_i16(&r);
    h->correlation_id = kr_i32(&r);
    h->client_id = KSTR_NULL;
    if (r.err)
        return TANDEM_EPROTO;
    h->header_version = kafka_request_header_version(h->request_api_key, h->request_api_version);
    if (h->header_version >= 1)
        h->client_id = kr_string(&r);
    if (h->header_version >= 2)
        kr_tagged_fields(&r);
    if (r.err)
        return TANDEM_EPROTO;
    *used = (size_t)(r.p - p);
    return 0;
}

void kafka_encode_response_header(struct kw *w, int header_version, int32_t correlation_id)
{
    kw_i32(w, correlation_id);
    if (header_version >= 1)
        kw_empty_tagged_fields(w);
}

/* ---- ApiVersions: ApiVersionsRequest.json / ApiVersionsResponse.json (flexibleVersions 3+) -----
 *
 * The response header stays v0 at every version (kafka_response_header_version). The tagged
 * SupportedFeatures (0), FinalizedFeaturesEpoch (1), FinalizedFeatures (2) and ZkMigrationReady
 * (3) are never written: tandem has no feature flags.
 */

static const struct schema_field api_versions_req_f[] = {
    FLD(ST_STRING, 3, V, NEVER, struct api_versions_req, client_software_name, 0),
    FLD(ST_STRING, 3, V, NEVER, struct api_versions_req, client_software_version, 0),
};
const struct schema_message schema_api_versions_request = {
    "ApiVersionsRequest", 18, 0, 3, 3, SCHEMA_STRUCT(struct api_versions_req, api_versions_req_f)};

static const struct schema_field api_version_range_f[] = {
    FLD(ST_I16, 0, V, NEVER, struct api_version_range, api_key, 0),
    FLD(ST_I16, 0, V, NEVER, struct api_version_range, min_version, 0),
    FLD(ST_I16, 0, V, NEVER, struct api_version_range, max_version, 0),
};
static const struct schema_struct api_version_range_s =
    SCHEMA_STRUCT(struct api_version_range, api_version_range_f);

static const struct schema_field api_versions_resp_f[] = {
    FLD(ST_I16, 0, V, NEVER, struct api_versions_resp, error_code, 0),
    ARR(0, V, NEVER, struct api_versions_resp, api_keys, napi_keys, api_version_range_s),
    FLD(ST_I32, 1, V, NEVER, struct api_versions_resp, throttle_time_ms, 0),
};
const struct schema_message schema_api_versions_response = {
    "ApiVersionsResponse",
    18,
    0,
    3,
    3,
    SCHEMA_STRUCT(struct api_versions_resp, api_versions_resp_f)};

int kafka_parse_api_versions_request(struct kr *r, int16_t version, struct arena *a,
                                     struct api_versions_req *out)
{
    return schema_decode(&schema_api_versions_request, r, version, a, out);
}

void kafka_encode_api_versions_response(struct kw *w, int16_t version,
                                        const struct api_versions_resp *resp)
{
    schema_encode(&schema_api_versions_response, w, version, resp);
}

/* ---- Metadata: MetadataRequest.json / MetadataResponse.json (flexibleVersions 9+), v0-12 -------
 *
 * Request topics: v0 an empty array means all topics (SF_EMPTY_IS_NULL), v1+ null means all.
 * v10+ each topic has a TopicId (dropped: tandem names topics only) and a nullable Name; the
 * handler answers a null name with UNKNOWN_TOPIC_ID. Response TopicId (v10+) is the zero UUID:
 * tandem topics have no ids, and the Fetch versions offered (up to 12) name topics.
 */

static const struct schema_field metadata_req_topic_f[] = {
    DROP(ST_UUID, 10, V, NEVER, 0),                                                 /* TopicId */
    {.type = ST_STRING, .vmin = 0, .vmax = V, .nullable = 10, .tag = -1, .off = 0}, /* Name */
};
static const struct schema_struct metadata_req_topic_s =
    SCHEMA_STRUCT(struct kstr, metadata_req_topic_f);

static const struct schema_field metadata_req_f[] = {
    ARRF(0, V, 1, SF_EMPTY_IS_NULL, struct metadata_req, topics, ntopics, metadata_req_topic_s),
    FLD(ST_BOOL, 4, V, NEVER, struct metadata_req, allow_auto_topic_creation, 1),
    FLD(ST_BOOL, 8, 10, NEVER, struct metadata_req, include_cluster_authorized_operations, 0),
    FLD(ST_BOOL, 8, V, NEVER, struct metadata_req, include_topic_authorized_operations, 0),
};
const struct schema_message schema_metadata_request = {
    "MetadataRequest", 3, 0, 12, 9, SCHEMA_STRUCT(struct metadata_req, metadata_req_f)};

static const struct schema_field metadata_broker_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct metadata_broker, node_id, 0),
    FLD(ST_STRING, 0, V, NEVER, struct metadata_broker, host, 0),
    FLD(ST_I32, 0, V, NEVER, struct metadata_broker, port, 0),
    FLD(ST_STRING, 1, V, 1, struct metadata_broker, rack, 0),
};
static const struct schema_struct metadata_broker_s =
    SCHEMA_STRUCT(struct metadata_broker, metadata_broker_f);

static const struct schema_field metadata_partition_f[] = {
    FLD(ST_I16, 0, V, NEVER, struct metadata_partition, error_code, 0),
    FLD(ST_I32, 0, V, NEVER, struct metadata_partition, partition_index, 0),
    FLD(ST_I32, 0, V, NEVER, struct metadata_partition, leader_id, 0),
    FLD(ST_I32, 7, V, NEVER, struct metadata_partition, leader_epoch, -1),
    PARR(ST_ARRAY_I32, 0, V, NEVER, struct metadata_partition, replica_nodes, nreplica_nodes),
    PARR(ST_ARRAY_I32, 0, V, NEVER, struct metadata_partition, isr_nodes, nisr_nodes),
    PARR(ST_ARRAY_I32, 5, V, NEVER, struct metadata_partition, offline_replicas, noffline_replicas),
};
static const struct schema_struct metadata_partition_s =
    SCHEMA_STRUCT(struct metadata_partition, metadata_partition_f);

static const struct schema_field metadata_topic_f[] = {
    FLD(ST_I16, 0, V, NEVER, struct metadata_topic, error_code, 0),
    FLD(ST_STRING, 0, V, 12, struct metadata_topic, name, 0),
    DROP(ST_UUID, 10, V, NEVER, 0), /* TopicId: zero */
    FLD(ST_BOOL, 1, V, NEVER, struct metadata_topic, is_internal, 0),
    ARR(0, V, NEVER, struct metadata_topic, partitions, npartitions, metadata_partition_s),
    FLD(ST_I32, 8, V, NEVER, struct metadata_topic, topic_authorized_operations, INT32_MIN),
};
static const struct schema_struct metadata_topic_s =
    SCHEMA_STRUCT(struct metadata_topic, metadata_topic_f);

static const struct schema_field metadata_resp_f[] = {
    FLD(ST_I32, 3, V, NEVER, struct metadata_resp, throttle_time_ms, 0),
    ARR(0, V, NEVER, struct metadata_resp, brokers, nbrokers, metadata_broker_s),
    FLD(ST_STRING, 2, V, 2, struct metadata_resp, cluster_id, 0),
    FLD(ST_I32, 1, V, NEVER, struct metadata_resp, controller_id, -1),
    ARR(0, V, NEVER, struct metadata_resp, topics, ntopics, metadata_topic_s),
    FLD(ST_I32, 8, 10, NEVER, struct metadata_resp, cluster_authorized_operations, INT32_MIN),
};
const struct schema_message schema_metadata_response = {
    "MetadataResponse", 3, 0, 12, 9, SCHEMA_STRUCT(struct metadata_resp, metadata_resp_f)};

int kafka_parse_metadata_request(struct kr *r, int16_t version, struct arena *a,
                                 struct metadata_req *out)
{
    return schema_decode(&schema_metadata_request, r, version, a, out);
}

void kafka_encode_metadata_response(struct kw *w, int16_t version, const struct metadata_resp *resp)
{
    schema_encode(&schema_metadata_response, w, version, resp);
}
