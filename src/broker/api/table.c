/*
 * The dispatch table: [ApiKey] = { MinVersion, MaxVersion, handler }.
 *
 * ApiVersions is answered from this same table, so what tandem advertises is exactly what it
 * implements; entries marked disabled (SASL, ACLs) are answered but not advertised. Apache Kafka
 * lists them in ApiVersions even with no SASL listener and no authorizer; tandem does not, since
 * a client reads an advertised API as a working one (librdkafka then reports "not supported by
 * broker" locally, which fails as fast as the error answer). Any other API key closes the
 * connection at once (request.c), as Kafka does for a request it cannot parse. The request
 * lifecycle (request.c) looks handlers up in it through struct broker (broker.c sets b->apis =
 * api_table), so it never depends on the handlers' files.
 *
 * What shapes the numbers:
 *   - MinVersion is 0 for every API (KAFKA-NOTES.md): librdkafka 2.0.2 checks features against
 *     single versions (Produce v0 for compression, FindCoordinator v0 for groups, ...) and
 *     silently disables them otherwise.
 *   - MaxVersion goes into each API's flexible versions (KIP-482; first flexible: Produce 9,
 *     Fetch 12, ListOffsets 6, Metadata 9, CreateTopics 5, DeleteTopics 4, InitProducerId 2,
 *     CreatePartitions 2, OffsetCommit 8, OffsetFetch 6, FindCoordinator 3, JoinGroup 6,
 *     Heartbeat 4, LeaveGroup 4, SyncGroup 4, DescribeGroups 5, ListGroups 3, DeleteGroups 2,
 *     ApiVersions 3, whose response header alone keeps no tagged fields), up to the last version
 *     whose fields tandem answers truthfully: it stops before topic ids are needed (Fetch 13,
 *     CreateTopics 7, DeleteTopics 6; Metadata 10-12 answer the zero topic id), before
 *     InitProducerId 3 (resuming a producer id, KIP-360), JoinGroup 7 / SyncGroup 5 (protocol
 *     echoes), ListOffsets 7 (max timestamp), Produce 10 and the KIP-848 versions. The codecs
 *     (protocol/schema.h tables) may describe more (kafka_codec_versions), never less.
 *   - The clients pick the highest shared version: librdkafka 2.0.2 uses flexible ApiVersions 3,
 *     InitProducerId 2 and OffsetFetch 7 of these; kafkajs 2.2.4 none (docs/broker.md).
 *   - The configuration, record and transaction APIs stay below their first flexible versions
 *     (DescribeConfigs 4, AlterConfigs 2, IncrementalAlterConfigs 1, DeleteRecords 2,
 *     AddPartitionsToTxn 3, AddOffsetsToTxn 3, EndTxn 3, TxnOffsetCommit 3; OffsetDelete has no
 *     flexible version): their codecs (messages_config.c, messages_txn.c) are still hand-written.
 */
#include "api/api.h"

const struct api_entry api_table[KAFKA_API_KEY_MAX] = {
    [KAFKA_PRODUCE] = {0, 9, handle_produce, "Produce", false},
    [KAFKA_FETCH] = {0, 12, handle_fetch, "Fetch", false},
    [KAFKA_LIST_OFFSETS] = {0, 6, handle_list_offsets, "ListOffsets", false},
    [KAFKA_METADATA] = {0, 12, handle_metadata, "Metadata", false},
    [KAFKA_API_VERSIONS] = {0, 3, handle_api_versions, "ApiVersions", false},
    [KAFKA_CREATE_TOPICS] = {0, 6, handle_create_topics, "CreateTopics", false},
    [KAFKA_DELETE_TOPICS] = {0, 5, handle_delete_topics, "DeleteTopics", false},
    [KAFKA_INIT_PRODUCER_ID] = {0, 2, handle_init_producer_id, "InitProducerId", false},
    [KAFKA_CREATE_PARTITIONS] = {0, 3, handle_create_partitions, "CreatePartitions", false},
    [KAFKA_OFFSET_COMMIT] = {0, 8, handle_offset_commit, "OffsetCommit", false},
    [KAFKA_OFFSET_FETCH] = {0, 8, handle_offset_fetch, "OffsetFetch", false},
    [KAFKA_FIND_COORDINATOR] = {0, 4, handle_find_coordinator, "FindCoordinator", false},
    [KAFKA_JOIN_GROUP] = {0, 6, handle_join_group, "JoinGroup", false},
    [KAFKA_HEARTBEAT] = {0, 4, handle_heartbeat, "Heartbeat", false},
    [KAFKA_LEAVE_GROUP] = {0, 5, handle_leave_group, "LeaveGroup", false},
    [KAFKA_SYNC_GROUP] = {0, 4, handle_sync_group, "SyncGroup", false},
    [KAFKA_DESCRIBE_GROUPS] = {0, 5, handle_describe_groups, "DescribeGroups", false},
    [KAFKA_LIST_GROUPS] = {0, 4, handle_list_groups, "ListGroups", false},
    [KAFKA_DELETE_GROUPS] = {0, 2, handle_delete_groups, "DeleteGroups", false},
    /* configs and record admin (configs.c, records.c) */
    [KAFKA_DESCRIBE_CONFIGS] = {0, 3, handle_describe_configs, "DescribeConfigs", false},
    [KAFKA_ALTER_CONFIGS] = {0, 1, handle_alter_configs, "AlterConfigs", false},
    [KAFKA_INCREMENTAL_ALTER_CONFIGS] = {0, 0, handle_incremental_alter_configs,
                                         "IncrementalAlterConfigs", false},
    [KAFKA_DELETE_RECORDS] = {0, 1, handle_delete_records, "DeleteRecords", false},
    [KAFKA_OFFSET_DELETE] = {0, 0, handle_offset_delete, "OffsetDelete", false},
    /* transactions (txn.c) */
    [KAFKA_ADD_PARTITIONS_TO_TXN] = {0, 2, handle_add_partitions_to_txn, "AddPartitionsToTxn",
                                     false},
    [KAFKA_ADD_OFFSETS_TO_TXN] = {0, 2, handle_add_offsets_to_txn, "AddOffsetsToTxn", false},
    [KAFKA_END_TXN] = {0, 2, handle_end_txn, "EndTxn", false},
    [KAFKA_TXN_OFFSET_COMMIT] = {0, 2, handle_txn_offset_commit, "TxnOffsetCommit", false},
    /* Disabled features (security.c): answered with Kafka's error for a PLAINTEXT listener
     * without an authorizer, so clients fail at once, and not advertised by ApiVersions. */
    [KAFKA_SASL_HANDSHAKE] = {0, 1, handle_sasl_handshake, "SaslHandshake", true},
    [KAFKA_SASL_AUTHENTICATE] = {0, 2, handle_sasl_authenticate, "SaslAuthenticate", true},
    [KAFKA_DESCRIBE_ACLS] = {0, 3, handle_describe_acls, "DescribeAcls", true},
    [KAFKA_CREATE_ACLS] = {0, 3, handle_create_acls, "CreateAcls", true},
    [KAFKA_DELETE_ACLS] = {0, 3, handle_delete_acls, "DeleteAcls", true},
};

/*
 * ApiVersions. An unsupported ApiVersions version is answered (by request.c, before this handler)
 * at v0 with UNSUPPORTED_VERSION and the full list, so the client can retry at a version it shares.
 */
void handle_api_versions(struct request *req)
{
    struct api_versions_req in;
    if (kafka_parse_api_versions_request(&req->body, req->hdr.request_api_version, &req->arena,
                                         &in)) {
        request_fail(req, "malformed ApiVersions request");
        return;
    }
    struct api_version_range ranges[KAFKA_API_KEY_MAX];
    struct api_versions_resp resp = {
        .error_code = KAFKA_NONE,
        .napi_keys = request_api_ranges(api_table, ranges),
        .api_keys = ranges,
    };
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_api_versions_response(&w, req->hdr.request_api_version, &resp);
    request_respond(req, &w);
}
