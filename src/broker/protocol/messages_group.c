/*
 * Kafka message codecs, part 4: the consumer-group messages (messages_group.h), broker side:
 * request parsers and response encoders for FindCoordinator v0-2, JoinGroup v0-5, SyncGroup v0-3,
 * Heartbeat v0-3, LeaveGroup v0-3, OffsetCommit v0-7, OffsetFetch v0-5, ListGroups v0-2,
 * DescribeGroups v0-4 and DeleteGroups v0-1. None of these versions is flexible (the first
 * flexible versions are FindCoordinator 3, JoinGroup 6, SyncGroup 4, Heartbeat 4, LeaveGroup 4,
 * OffsetCommit 8, OffsetFetch 6, ListGroups 3, DescribeGroups 5, DeleteGroups 2), so every field
 * here is a classic INT16-length STRING, INT32-length BYTES or INT32-count ARRAY.
 *
 * Model: the same as messages.c. A parser reads the body straight down with the sticky-error
 * reader, allocates arrays from the arena only after kr_array checked their count against the
 * bytes left (with each element's smallest wire size), and ends in msg_end, which rejects
 * truncation and trailing bytes alike with TANDEM_EPROTO. Fields a version lacks get the spec's
 * default, as messages_group.h notes per field. Non-nullable strings and bytes that arrive as
 * null (length -1) are malformed, as they are for Kafka's generated readers.
 *
 * Encoders write exactly the fields of the version asked for. A null kstr/kbytes given for a
 * field the spec declares non-nullable is written as empty rather than null, since clients
 * reject a null there (e.g. a SyncGroup assignment for a member that got nothing).
 *
 * The layouts below are transcribed from Apache Kafka clients/src/main/resources/common/message/
 * <Name>Request.json / <Name>Response.json ("vN+": present from version N, "vN-M": only there).
 */
#include <string.h>

#include "protocol/messages_group.h"
#include "protocol/messages_int.h"
#include "tandem/error.h"

/* A non-nullable BYTES: length -1 is malformed. */
static struct kbytes msg_bytes(struct kr *r)
{
    struct kbytes b = kr_bytes(r);
    if (b.len < 0 && !r->err) {
        r->err = TANDEM_EPROTO;
        r->p = r->end;
    }
    return b;
}

/* Writers for non-nullable fields: null goes out as empty. */
static void w_str(struct kw *w, struct kstr s)
{
    kw_string(w, s.len < 0 ? KSTR("") : s);
}

static void w_bytes(struct kw *w, struct kbytes b)
{
    kw_bytes(w, b.len < 0 ? (struct kbytes){NULL, 0} : b);
}

/* ---- FindCoordinator (FindCoordinatorRequest.json / FindCoordinatorResponse.json) -------------
 *
 * Request:  key STRING, key_type INT8 (v1+, default 0 = group).
 * Response: throttle_time_ms INT32 (v1+), error_code INT16, error_message NULLABLE_STRING (v1+),
 *           node_id INT32, host STRING, port INT32.
 */

int kafka_parse_find_coordinator_request(struct kr *r, int16_t version, struct arena *a,
                                         struct find_coordinator_req *out)
{
    (void)a;
    if (version < 0 || version > 2)
        return TANDEM_EUNSUPPORTED;
    out->key = msg_string(r);
    out->key_type = version >= 1 ? kr_i8(r) : 0;
    return msg_end(r);
}

void kafka_encode_find_coordinator_response(struct kw *w, int16_t version,
                                            const struct find_coordinator_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    if (version >= 1)
        kw_string(w, resp->error_message);
    kw_i32(w, resp->node_id);
    w_str(w, resp->host);
    kw_i32(w, resp->port);
}

/* ---- JoinGroup (JoinGroupRequest.json / JoinGroupResponse.json) --------------------------------
 *
 * Request:
 *   group_id STRING, session_timeout_ms INT32,
 *   rebalance_timeout_ms INT32 (v1+; absent: the session timeout, per the spec's note),
 *   member_id STRING, group_instance_id NULLABLE_STRING (v5+), protocol_type STRING,
 *   protocols ARRAY: name STRING, metadata BYTES
 * Response:
 *   throttle_time_ms INT32 (v2+), error_code INT16, generation_id INT32, protocol_name STRING,
 *   leader STRING, member_id STRING,
 *   members ARRAY: member_id STRING, group_instance_id NULLABLE_STRING (v5+), metadata BYTES
 */

int kafka_parse_join_group_request(struct kr *r, int16_t version, struct arena *a,
                                   struct join_group_req *out)
{
    int rc = 0;
    if (version < 0 || version > 5)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->group_id = msg_string(r);
    out->session_timeout_ms = kr_i32(r);
    out->rebalance_timeout_ms = version >= 1 ? kr_i32(r) : out->session_timeout_ms;
    out->member_id = msg_string(r);
    out->group_instance_id = version >= 5 ? kr_string(r) : KSTR_NULL;
    out->protocol_type = msg_string(r);
    out->nprotocols = msg_array(r, W_STR + W_BYT);
    MSG_ALLOC(a, out->nprotocols, out->protocols, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nprotocols; i++) {
        out->protocols[i].name = msg_string(r);
        out->protocols[i].metadata = msg_bytes(r);
    }
    return msg_end(r);
}

void kafka_encode_join_group_response(struct kw *w, int16_t version,
                                      const struct join_group_resp *resp)
{
    if (version >= 2)
        kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    kw_i32(w, resp->generation_id);
    w_str(w, resp->protocol_name);
    w_str(w, resp->leader);
    w_str(w, resp->member_id);
    kw_array(w, resp->nmembers);
    for (int32_t i = 0; i < resp->nmembers; i++) {
        w_str(w, resp->members[i].member_id);
        if (version >= 5)
            kw_string(w, resp->members[i].group_instance_id);
        w_bytes(w, resp->members[i].metadata);
    }
}

/* ---- SyncGroup (SyncGroupRequest.json / SyncGroupResponse.json) --------------------------------
 *
 * Request:
 *   group_id STRING, generation_id INT32, member_id STRING,
 *   group_instance_id NULLABLE_STRING (v3+),
 *   assignments ARRAY: member_id STRING, assignment BYTES
 * Response: throttle_time_ms INT32 (v1+), error_code INT16, assignment BYTES.
 */

int kafka_parse_sync_group_request(struct kr *r, int16_t version, struct arena *a,
                                   struct sync_group_req *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->group_id = msg_string(r);
    out->generation_id = kr_i32(r);
    out->member_id = msg_string(r);
    out->group_instance_id = version >= 3 ? kr_string(r) : KSTR_NULL;
    out->nassignments = msg_array(r, W_STR + W_BYT);
    MSG_ALLOC(a, out->nassignments, out->assignments, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nassignments; i++) {
        out->assignments[i].member_id = msg_string(r);
        out->assignments[i].assignment = msg_bytes(r);
    }
    return msg_end(r);
}

void kafka_encode_sync_group_response(struct kw *w, int16_t version,
                                      const struct sync_group_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    w_bytes(w, resp->assignment);
}

/* ---- Heartbeat (HeartbeatRequest.json / HeartbeatResponse.json) --------------------------------
 *
 * Request:  group_id STRING, generation_id INT32, member_id STRING,
 *           group_instance_id NULLABLE_STRING (v3+).
 * Response: throttle_time_ms INT32 (v1+), error_code INT16.
 */

int kafka_parse_heartbeat_request(struct kr *r, int16_t version, struct arena *a,
                                  struct heartbeat_req *out)
{
    (void)a;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    out->group_id = msg_string(r);
    out->generation_id = kr_i32(r);
    out->member_id = msg_string(r);
    out->group_instance_id = version >= 3 ? kr_string(r) : KSTR_NULL;
    return msg_end(r);
}

void kafka_encode_heartbeat_response(struct kw *w, int16_t version,
                                     const struct heartbeat_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
}

/* ---- LeaveGroup (LeaveGroupRequest.json / LeaveGroupResponse.json) -----------------------------
 *
 * Request:
 *   group_id STRING,
 *   member_id STRING (v0-2),
 *   members ARRAY (v3+): member_id STRING, group_instance_id NULLABLE_STRING
 * Response:
 *   throttle_time_ms INT32 (v1+), error_code INT16,
 *   members ARRAY (v3+): member_id STRING, group_instance_id NULLABLE_STRING, error_code INT16
 *
 * v0-2 requests are parsed into the v3 shape: members[0] = {member_id, null}, nmembers = 1.
 */

int kafka_parse_leave_group_request(struct kr *r, int16_t version, struct arena *a,
                                    struct leave_group_req *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->group_id = msg_string(r);
    if (version <= 2) {
        struct kstr member_id = msg_string(r);
        MSG_ALLOC(a, 1, out->members, rc);
        if (rc)
            return rc;
        out->nmembers = 1;
        out->members[0].member_id = member_id;
        out->members[0].group_instance_id = KSTR_NULL;
        return msg_end(r);
    }
    out->nmembers = msg_array(r, W_STR + W_STR);
    MSG_ALLOC(a, out->nmembers, out->members, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nmembers; i++) {
        out->members[i].member_id = msg_string(r);
        out->members[i].group_instance_id = kr_string(r);
    }
    return msg_end(r);
}

void kafka_encode_leave_group_response(struct kw *w, int16_t version,
                                       const struct leave_group_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    if (version < 3)
        return;
    kw_array(w, resp->nmembers);
    for (int32_t i = 0; i < resp->nmembers; i++) {
        w_str(w, resp->members[i].member_id);
        kw_string(w, resp->members[i].group_instance_id);
        kw_i16(w, resp->members[i].error_code);
    }
}

/* ---- OffsetCommit (OffsetCommitRequest.json / OffsetCommitResponse.json) -----------------------
 *
 * Request:
 *   group_id STRING,
 *   generation_id INT32 (v1+, default -1), member_id STRING (v1+, default ""),
 *   group_instance_id NULLABLE_STRING (v7+), retention_time_ms INT64 (v2-4 only, default -1),
 *   topics ARRAY: name STRING,
 *     partitions ARRAY: partition_index INT32, committed_offset INT64,
 *       committed_leader_epoch INT32 (v6+, default -1), commit_timestamp INT64 (v1 only,
 *       default -1), committed_metadata NULLABLE_STRING
 * Response:
 *   throttle_time_ms INT32 (v3+),
 *   topics ARRAY: name STRING, partitions ARRAY: partition_index INT32, error_code INT16
 */

static size_t offset_commit_partition_min(int16_t version)
{
    return W_I32 + W_I64 + (version >= 6 ? W_I32 : 0) + (version == 1 ? W_I64 : 0) + W_STR;
}

static int parse_offset_commit_topic(struct kr *r, int16_t version, struct arena *a,
                                     struct offset_commit_req_topic *t)
{
    int rc = 0;
    t->name = msg_string(r);
    t->npartitions = msg_array(r, offset_commit_partition_min(version));
    MSG_ALLOC(a, t->npartitions, t->partitions, rc);
    if (rc)
        return rc;
    for (int32_t j = 0; j < t->npartitions; j++) {
        struct offset_commit_req_partition *p = &t->partitions[j];
        p->partition_index = kr_i32(r);
        p->committed_offset = kr_i64(r);
        p->committed_leader_epoch = version >= 6 ? kr_i32(r) : -1;
        p->commit_timestamp = version == 1 ? kr_i64(r) : -1;
        p->committed_metadata = kr_string(r);
    }
    return 0;
}

int kafka_parse_offset_commit_request(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_commit_req *out)
{
    int rc = 0;
    if (version < 0 || version > 7)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->group_id = msg_string(r);
    out->generation_id = version >= 1 ? kr_i32(r) : -1;
    out->member_id = version >= 1 ? msg_string(r) : KSTR("");
    out->group_instance_id = version >= 7 ? kr_string(r) : KSTR_NULL;
    out->retention_time_ms = version >= 2 && version <= 4 ? kr_i64(r) : -1;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        rc = parse_offset_commit_topic(r, version, a, &out->topics[i]);
        if (rc)
            return rc;
    }
    return msg_end(r);
}

void kafka_encode_offset_commit_response(struct kw *w, int16_t version,
                                         const struct offset_commit_resp *resp)
{
    if (version >= 3)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct offset_commit_resp_topic *t = &resp->topics[i];
        w_str(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            kw_i32(w, t->partitions[j].partition_index);
            kw_i16(w, t->partitions[j].error_code);
        }
    }
}

/* ---- OffsetFetch (OffsetFetchRequest.json / OffsetFetchResponse.json) --------------------------
 *
 * Request:
 *   group_id STRING,
 *   topics ARRAY (nullable v2+: null = every partition the group has committed):
 *     name STRING, partition_indexes [INT32]
 * Response:
 *   throttle_time_ms INT32 (v3+),
 *   topics ARRAY: name STRING,
 *     partitions ARRAY: partition_index INT32, committed_offset INT64,
 *       committed_leader_epoch INT32 (v5+, default -1), metadata NULLABLE_STRING,
 *       error_code INT16
 *   error_code INT16 (v2+, top level: group or coordinator errors)
 */

int kafka_parse_offset_fetch_request(struct kr *r, int16_t version, struct arena *a,
                                     struct offset_fetch_req *out)
{
    int rc = 0;
    if (version < 0 || version > 5)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->group_id = msg_string(r);
    out->ntopics = version >= 2 ? kr_array(r, W_STR + W_ARR) : msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct offset_fetch_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        rc = msg_read_i32_array(r, a, &t->npartition_indexes, &t->partition_indexes);
        if (rc)
            return rc;
    }
    return msg_end(r);
}

void kafka_encode_offset_fetch_response(struct kw *w, int16_t version,
                                        const struct offset_fetch_resp *resp)
{
    if (version >= 3)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics < 0 ? 0 : resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct offset_fetch_resp_topic *t = &resp->topics[i];
        w_str(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct offset_fetch_resp_partition *p = &t->partitions[j];
            kw_i32(w, p->partition_index);
            kw_i64(w, p->committed_offset);
            if (version >= 5)
                kw_i32(w, p->committed_leader_epoch);
            kw_string(w, p->metadata);
            kw_i16(w, p->error_code);
        }
    }
    if (version >= 2)
        kw_i16(w, resp->error_code);
}

/* ---- ListGroups (ListGroupsRequest.json / ListGroupsResponse.json) -----------------------------
 *
 * Request:  empty (v4 adds states_filter).
 * Response: throttle_time_ms INT32 (v1+), error_code INT16,
 *           groups ARRAY: group_id STRING, protocol_type STRING
 */

int kafka_parse_list_groups_request(struct kr *r, int16_t version, struct arena *a)
{
    (void)a;
    if (version < 0 || version > 2)
        return TANDEM_EUNSUPPORTED;
    return msg_end(r);
}

void kafka_encode_list_groups_response(struct kw *w, int16_t version,
                                       const struct list_groups_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
    kw_array(w, resp->ngroups);
    for (int32_t i = 0; i < resp->ngroups; i++) {
        w_str(w, resp->groups[i].group_id);
        w_str(w, resp->groups[i].protocol_type);
    }
}

/* ---- DescribeGroups (DescribeGroupsRequest.json / DescribeGroupsResponse.json) -----------------
 *
 * Request:  groups [STRING], include_authorized_operations BOOLEAN (v3+, default false).
 * Response:
 *   throttle_time_ms INT32 (v1+),
 *   groups ARRAY: error_code INT16, group_id STRING, group_state STRING, protocol_type STRING,
 *     protocol_data STRING,
 *     members ARRAY: member_id STRING, group_instance_id NULLABLE_STRING (v4+), client_id STRING,
 *       client_host STRING, member_metadata BYTES, member_assignment BYTES
 *     authorized_operations INT32 (v3+; INT32_MIN = not requested)
 */

int kafka_parse_describe_groups_request(struct kr *r, int16_t version, struct arena *a,
                                        struct describe_groups_req *out)
{
    int rc = 0;
    if (version < 0 || version > 4)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ngroups = msg_array(r, W_STR);
    MSG_ALLOC(a, out->ngroups, out->groups, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ngroups; i++)
        out->groups[i] = msg_string(r);
    out->include_authorized_operations = version >= 3 ? kr_bool(r) : false;
    return msg_end(r);
}

static void encode_described_member(struct kw *w, int16_t version,
                                    const struct describe_groups_member *m)
{
    w_str(w, m->member_id);
    if (version >= 4)
        kw_string(w, m->group_instance_id);
    w_str(w, m->client_id);
    w_str(w, m->client_host);
    w_bytes(w, m->member_metadata);
    w_bytes(w, m->member_assignment);
}

void kafka_encode_describe_groups_response(struct kw *w, int16_t version,
                                           const struct describe_groups_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ngroups);
    for (int32_t i = 0; i < resp->ngroups; i++) {
        const struct describe_groups_group *g = &resp->groups[i];
        kw_i16(w, g->error_code);
        w_str(w, g->group_id);
        w_str(w, g->group_state);
        w_str(w, g->protocol_type);
        w_str(w, g->protocol_data);
        kw_array(w, g->nmembers);
        for (int32_t j = 0; j < g->nmembers; j++)
            encode_described_member(w, version, &g->members[j]);
        if (version >= 3)
            kw_i32(w, g->authorized_operations);
    }
}

/* ---- DeleteGroups (DeleteGroupsRequest.json / DeleteGroupsResponse.json) -----------------------
 *
 * Request:  groups_names [STRING].
 * Response: throttle_time_ms INT32 (every version),
 *           results ARRAY: group_id STRING, error_code INT16
 */

int kafka_parse_delete_groups_request(struct kr *r, int16_t version, struct arena *a,
                                      struct delete_groups_req *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->ngroups_names = msg_array(r, W_STR);
    MSG_ALLOC(a, out->ngroups_names, out->groups_names, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ngroups_names; i++)
        out->groups_names[i] = msg_string(r);
    return msg_end(r);
}

void kafka_encode_delete_groups_response(struct kw *w, int16_t version,
                                         const struct delete_groups_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->nresults);
    for (int32_t i = 0; i < resp->nresults; i++) {
        w_str(w, resp->results[i].group_id);
        kw_i16(w, resp->results[i].error_code);
    }
}
