/*
 * Kafka message codecs, part 1: the request and response headers, and the ApiVersions and
 * Metadata messages. Produce, Fetch and ListOffsets are in messages_data.c; CreateTopics,
 * DeleteTopics, InitProducerId and CreatePartitions in messages_admin.c; the consumer-group APIs
 * in messages_group.c.
 *
 * Model. A frame on the wire is INT32 size, then a header, then a body. The network loop cuts
 * frames; kafka_parse_request_header() reads the header and tells the header's size; the
 * dispatcher then hands the body to the parser of that API and version. Every parser is a pure
 * function over borrowed bytes: strings and byte ranges in the output point into the frame, so
 * the frame must outlive the parsed struct; arrays are carved from a per-request arena that is
 * freed at once when the response is sent. Parsers read the body straight down with kbuf's
 * sticky-error reader and check once at the end, so a truncated body, a negative length, a
 * count larger than the bytes left, a null where the spec does not allow one, or bytes left
 * over after the last field all give TANDEM_EPROTO, and none of them can make a parser read out
 * of bounds or allocate more than the frame justifies.
 *
 * Encoders append a response body for one version to a kw, writing only the fields that version
 * has, in the spec's order. The flexible encodings (compact lengths, tagged fields) are used only
 * where a version is flexible: among the versions tandem implements, that is ApiVersions v3
 * (request body and response body; the response header stays v0), and among the security APIs
 * it answers as disabled (messages_security.c), SaslAuthenticate v2 and the ACL APIs v2-3.
 *
 * Spec: Apache Kafka clients/src/main/resources/common/message/<Name>{Request,Response}.json;
 * each codec names its file.
 */
#include <string.h>

#include "protocol/kafka.h"
#include "protocol/messages.h"
#include "protocol/messages_int.h"
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
    {21 /* DeleteRecords */, 2},
    {KAFKA_INIT_PRODUCER_ID, 2},
    {23 /* OffsetForLeaderEpoch */, 4},
    {24 /* AddPartitionsToTxn */, 3},
    {25 /* AddOffsetsToTxn */, 3},
    {26 /* EndTxn */, 3},
    {28 /* TxnOffsetCommit */, 3},
    {KAFKA_DESCRIBE_ACLS, 2},
    {KAFKA_CREATE_ACLS, 2},
    {KAFKA_DELETE_ACLS, 2},
    {32 /* DescribeConfigs */, 4},
    {33 /* AlterConfigs */, 2},
    {KAFKA_SASL_AUTHENTICATE, 2},
    {KAFKA_CREATE_PARTITIONS, 2},
    {KAFKA_DELETE_GROUPS, 2},
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
    {KAFKA_PRODUCE, 0, 8},
    {KAFKA_FETCH, 0, 11},
    {KAFKA_LIST_OFFSETS, 0, 5},
    {KAFKA_METADATA, 0, 8},
    {KAFKA_API_VERSIONS, 0, 3},
    {KAFKA_CREATE_TOPICS, 0, 4},
    {KAFKA_DELETE_TOPICS, 0, 3},
    {KAFKA_INIT_PRODUCER_ID, 0, 1},
    {KAFKA_CREATE_PARTITIONS, 0, 1},
    /* consumer groups: messages_group.c */
    {KAFKA_FIND_COORDINATOR, 0, 2},
    {KAFKA_JOIN_GROUP, 0, 5},
    {KAFKA_SYNC_GROUP, 0, 3},
    {KAFKA_HEARTBEAT, 0, 3},
    {KAFKA_LEAVE_GROUP, 0, 3},
    {KAFKA_OFFSET_COMMIT, 0, 7},
    {KAFKA_OFFSET_FETCH, 0, 5},
    {KAFKA_LIST_GROUPS, 0, 2},
    {KAFKA_DESCRIBE_GROUPS, 0, 4},
    {KAFKA_DELETE_GROUPS, 0, 1},
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

/* ---- ApiVersions (ApiVersionsRequest.json / ApiVersionsResponse.json) --------------------------
 *
 * Request v0-2: empty body. v3 (flexible):
 *   client_software_name     COMPACT_STRING
 *   client_software_version  COMPACT_STRING
 *   tagged fields
 * Response v0-2: error_code INT16, api_keys ARRAY of {api_key, min_version, max_version INT16},
 * v1+ throttle_time_ms INT32. v3: the same with a COMPACT_ARRAY whose entries each end in a
 * tagged-field section, and a tagged-field section at the end (SupportedFeatures etc. are
 * tagged and omitted).
 */

int kafka_parse_api_versions_request(struct kr *r, int16_t version, struct arena *a,
                                     struct api_versions_req *out)
{
    (void)a;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    out->client_software_name = KSTR_NULL;
    out->client_software_version = KSTR_NULL;
    if (version >= 3) {
        out->client_software_name = msg_compact_string(r);
        out->client_software_version = msg_compact_string(r);
        kr_tagged_fields(r);
    }
    return msg_end(r);
}

void kafka_encode_api_versions_response(struct kw *w, int16_t version,
                                        const struct api_versions_resp *resp)
{
    bool flex = version >= 3;
    kw_i16(w, resp->error_code);
    if (flex)
        kw_compact_array(w, resp->napi_keys);
    else
        kw_array(w, resp->napi_keys);
    for (int32_t i = 0; i < resp->napi_keys; i++) {
        kw_i16(w, resp->api_keys[i].api_key);
        kw_i16(w, resp->api_keys[i].min_version);
        kw_i16(w, resp->api_keys[i].max_version);
        if (flex)
            kw_empty_tagged_fields(w);
    }
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    if (flex)
        kw_empty_tagged_fields(w);
}

/* ---- Metadata (MetadataRequest.json / MetadataResponse.json), v0-8 -----------------------------
 *
 * Request:
 *   topics                                ARRAY of name STRING; v0: empty = all topics;
 *                                         v1+: nullable, null = all topics, empty = none
 *   allow_auto_topic_creation             BOOLEAN, v4+ (default true)
 *   include_cluster_authorized_operations BOOLEAN, v8+
 *   include_topic_authorized_operations   BOOLEAN, v8+
 */

int kafka_parse_metadata_request(struct kr *r, int16_t version, struct arena *a,
                                 struct metadata_req *out)
{
    int rc = 0;
    if (version < 0 || version > 8)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ntopics = version >= 1 ? kr_array(r, W_STR) : msg_array(r, W_STR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++)
        out->topics[i] = msg_string(r);
    if (version == 0 && out->ntopics == 0 && !r->err)
        out->ntopics = -1;
    out->allow_auto_topic_creation = version >= 4 ? kr_bool(r) : true;
    if (version >= 8) {
        out->include_cluster_authorized_operations = kr_bool(r);
        out->include_topic_authorized_operations = kr_bool(r);
    }
    return msg_end(r);
}

/*
 * Response:
 *   throttle_time_ms INT32, v3+
 *   brokers ARRAY: node_id INT32, host STRING, port INT32, rack NULLABLE_STRING (v1+)
 *   cluster_id NULLABLE_STRING, v2+
 *   controller_id INT32, v1+
 *   topics ARRAY: error_code INT16, name STRING, is_internal BOOLEAN (v1+),
 *     partitions ARRAY: error_code INT16, partition_index INT32, leader_id INT32,
 *       leader_epoch INT32 (v7+), replica_nodes [INT32], isr_nodes [INT32],
 *       offline_replicas [INT32] (v5+)
 *     topic_authorized_operations INT32, v8+
 *   cluster_authorized_operations INT32, v8+
 */

static void encode_metadata_topic(struct kw *w, int16_t version, const struct metadata_topic *t)
{
    kw_i16(w, t->error_code);
    kw_string(w, t->name);
    if (version >= 1)
        kw_bool(w, t->is_internal);
    kw_array(w, t->npartitions);
    for (int32_t j = 0; j < t->npartitions; j++) {
        const struct metadata_partition *p = &t->partitions[j];
        kw_i16(w, p->error_code);
        kw_i32(w, p->partition_index);
        kw_i32(w, p->leader_id);
        if (version >= 7)
            kw_i32(w, p->leader_epoch);
        msg_write_i32_array(w, p->nreplica_nodes, p->replica_nodes);
        msg_write_i32_array(w, p->nisr_nodes, p->isr_nodes);
        if (version >= 5)
            msg_write_i32_array(w, p->noffline_replicas, p->offline_replicas);
    }
    if (version >= 8)
        kw_i32(w, t->topic_authorized_operations);
}

void kafka_encode_metadata_response(struct kw *w, int16_t version, const struct metadata_resp *resp)
{
    if (version >= 3)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->nbrokers);
    for (int32_t i = 0; i < resp->nbrokers; i++) {
        const struct metadata_broker *b = &resp->brokers[i];
        kw_i32(w, b->node_id);
        kw_string(w, b->host);
        kw_i32(w, b->port);
        if (version >= 1)
            kw_string(w, b->rack);
    }
    if (version >= 2)
        kw_string(w, resp->cluster_id);
    if (version >= 1)
        kw_i32(w, resp->controller_id);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++)
        encode_metadata_topic(w, version, &resp->topics[i]);
    if (version >= 8)
        kw_i32(w, resp->cluster_authorized_operations);
}
