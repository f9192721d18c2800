/*
 * Consumer-group messages: FindCoordinator v0-4, JoinGroup v0-6, SyncGroup v0-4, Heartbeat v0-4,
 * LeaveGroup v0-5, OffsetCommit v0-8, OffsetFetch v0-8, ListGroups v0-4, DescribeGroups v0-5,
 * DeleteGroups v0-2, flexible from FindCoordinator 3, JoinGroup 6, SyncGroup 4, Heartbeat 4,
 * LeaveGroup 4, OffsetCommit 8, OffsetFetch 6, ListGroups 3, DescribeGroups 5, DeleteGroups 2.
 *
 * Same conventions as messages.h (Apache Kafka clients/src/main/resources/common/message/
 * <Name>Request.json and <Name>Response.json; "vN+" marks a field present from version N;
 * strings and bytes borrow from the frame; arrays come from the arena).
 */
#ifndef TANDEM_PROTOCOL_MESSAGES_GROUP_H
#define TANDEM_PROTOCOL_MESSAGES_GROUP_H

#include "protocol/messages.h"

/* ---- FindCoordinator (10), v0-4 ---------------------------------------------------------------
 */

struct find_coordinator_req {
    struct kstr key;           /* v0-3 */
    int8_t key_type;           /* v1+: 0 group, 1 transaction */
    int32_t ncoordinator_keys; /* v4+: the keys, batched (KIP-699) */
    struct kstr *coordinator_keys;
};

struct find_coordinator_coordinator { /* v4+: one per key */
    struct kstr key;
    int32_t node_id;
    struct kstr host;
    int32_t port;
    int16_t error_code;
    struct kstr error_message; /* nullable */
};

struct find_coordinator_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    struct kstr error_message; /* v1+, nullable */
    int32_t node_id;
    struct kstr host;
    int32_t port;
    /* v4+: the fields above (but throttle_time_ms) are gone; one answer per key instead */
    int32_t ncoordinators;
    struct find_coordinator_coordinator *coordinators;
};

/* ---- JoinGroup (11), v0-6 ---------------------------------------------------------------------
 */

struct join_group_protocol {
    struct kstr name;
    struct kbytes metadata;
};

struct join_group_req {
    struct kstr group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v1+, else = session_timeout_ms */
    struct kstr member_id;
    struct kstr group_instance_id; /* v5+, nullable */
    struct kstr protocol_type;
    int32_t nprotocols;
    struct join_group_protocol *protocols;
};

struct join_group_member {
    struct kstr member_id;
    struct kstr group_instance_id; /* v5+, nullable */
    struct kbytes metadata;
};

struct join_group_resp {
    int32_t throttle_time_ms; /* v2+ */
    int16_t error_code;
    int32_t generation_id;
    struct kstr protocol_name;
    struct kstr leader;
    struct kstr member_id;
    int32_t nmembers;
    struct join_group_member *members;
};

/* ---- SyncGroup (14), v0-4 ---------------------------------------------------------------------
 */

struct sync_group_assignment {
    struct kstr member_id;
    struct kbytes assignment;
};

struct sync_group_req {
    struct kstr group_id;
    int32_t generation_id;
    struct kstr member_id;
    struct kstr group_instance_id; /* v3+, nullable */
    int32_t nassignments;
    struct sync_group_assignment *assignments;
};

struct sync_group_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    struct kbytes assignment;
};

/* ---- Heartbeat (12), v0-4 ---------------------------------------------------------------------
 */

struct heartbeat_req {
    struct kstr group_id;
    int32_t generation_id;
    struct kstr member_id;
    struct kstr group_instance_id; /* v3+, nullable */
};

struct heartbeat_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
};

/* ---- LeaveGroup (13), v0-5 --------------------------------------------------------------------
 */

struct leave_group_member {
    struct kstr member_id;
    struct kstr group_instance_id; /* nullable */
    int16_t error_code;            /* response only */
};

struct leave_group_req {
    struct kstr group_id;
    /* v0-2: one member (member_id), given as members[0]; v3+: the members array. */
    int32_t nmembers;
    struct leave_group_member *members;
    struct kstr member_id; /* v0-2 on the wire; the codec moves it to members[0] */
};

struct leave_group_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    int32_t nmembers; /* v3+ */
    struct leave_group_member *members;
};

/* ---- OffsetCommit (8), v0-8 -------------------------------------------------------------------
 */

struct offset_commit_req_partition {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v6+, else -1 */
    int64_t commit_timestamp;       /* v1 only, else -1 */
    struct kstr committed_metadata; /* nullable */
};

struct offset_commit_req_topic {
    struct kstr name;
    int32_t npartitions;
    struct offset_commit_req_partition *partitions;
};

struct offset_commit_req {
    struct kstr group_id;
    int32_t generation_id;         /* v1+, else -1 */
    struct kstr member_id;         /* v1+, else "" */
    struct kstr group_instance_id; /* v7+, nullable */
    int64_t retention_time_ms;     /* v2-4, else -1 */
    int32_t ntopics;
    struct offset_commit_req_topic *topics;
};

struct offset_commit_resp_partition {
    int32_t partition_index;
    int16_t error_code;
};

struct offset_commit_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct offset_commit_resp_partition *partitions;
};

struct offset_commit_resp {
    int32_t throttle_time_ms; /* v3+ */
    int32_t ntopics;
    struct offset_commit_resp_topic *topics;
};

/* ---- OffsetFetch (9), v0-8 --------------------------------------------------------------------
 */

struct offset_fetch_req_topic {
    struct kstr name;
    int32_t npartition_indexes;
    int32_t *partition_indexes;
};

struct offset_fetch_req_group { /* v8+ */
    struct kstr group_id;
    int32_t ntopics; /* -1 (null) = every committed partition of the group */
    struct offset_fetch_req_topic *topics;
};

struct offset_fetch_req {
    struct kstr group_id; /* v0-7 */
    int32_t ntopics;      /* v0-7; v2+: -1 (null) = every committed partition of the group */
    struct offset_fetch_req_topic *topics;
    int32_t ngroups; /* v8+: several groups in one request (KIP-709) */
    struct offset_fetch_req_group *groups;
    bool require_stable; /* v7+ (KIP-447); tandem has no pending transactional offsets */
};

struct offset_fetch_resp_partition {
    int32_t partition_index;
    int64_t committed_offset;       /* -1 if none */
    int32_t committed_leader_epoch; /* v5+ */
    struct kstr metadata;           /* nullable */
    int16_t error_code;
};

struct offset_fetch_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct offset_fetch_resp_partition *partitions;
};

struct offset_fetch_resp_group { /* v8+ */
    struct kstr group_id;
    int32_t ntopics;
    struct offset_fetch_resp_topic *topics;
    int16_t error_code;
};

struct offset_fetch_resp {
    int32_t throttle_time_ms; /* v3+ */
    int32_t ntopics;          /* v0-7 */
    struct offset_fetch_resp_topic *topics;
    int16_t error_code; /* v2-7 */
    int32_t ngroups;    /* v8+ */
    struct offset_fetch_resp_group *groups;
};

/* ---- ListGroups (16), v0-4 --------------------------------------------------------------------
 */

struct list_groups_req {
    int32_t nstates_filter; /* v4+: only groups in these states; none = all */
    struct kstr *states_filter;
};

struct list_groups_group {
    struct kstr group_id;
    struct kstr protocol_type;
    struct kstr group_state; /* v4+ */
};

struct list_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    int32_t ngroups;
    struct list_groups_group *groups;
};

/* ---- DescribeGroups (15), v0-5 ----------------------------------------------------------------
 */

struct describe_groups_req {
    int32_t ngroups;
    struct kstr *groups;
    bool include_authorized_operations; /* v3+ */
};

struct describe_groups_member {
    struct kstr member_id;
    struct kstr group_instance_id; /* v4+, nullable */
    struct kstr client_id;
    struct kstr client_host;
    struct kbytes member_metadata;
    struct kbytes member_assignment;
};

struct describe_groups_group {
    int16_t error_code;
    struct kstr group_id;
    struct kstr group_state;
    struct kstr protocol_type;
    struct kstr protocol_data;
    int32_t nmembers;
    struct describe_groups_member *members;
    int32_t authorized_operations; /* v3+ */
};

struct describe_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int32_t ngroups;
    struct describe_groups_group *groups;
};

/* ---- DeleteGroups (42), v0-2 ------------------------------------------------------------------
 */

struct delete_groups_req {
    int32_t ngroups_names;
    struct kstr *groups_names;
};

struct delete_groups_result {
    struct kstr group_id;
    int16_t error_code;
};

struct delete_groups_resp {
    int32_t throttle_time_ms;
    int32_t nresults;
    struct delete_groups_result *results;
};

/* ---- codecs ------------------------------------------------------------------------------------
 */

int kafka_parse_find_coordinator_request(struct kr *r, int16_t version, struct arena *a,
                                         struct find_coordinator_req *out);
void kafka_encode_find_coordinator_response(struct kw *w, int16_t version,
                                            const struct find_coordinator_resp *resp);
int kafka_parse_join_group_request(struct kr *r, int16_t version, struct arena *a,
                                   struct join_group_req *out);
void kafka_encode_join_group_response(struct kw *w, int16_t version,
                                      const struct join_group_resp *resp);
int kafka_parse_sync_group_request(struct kr *r, int16_t version, struct arena *a,
                                   struct sync_group_req *out);
void kafka_encode_sync_group_response(struct kw *w, int16_t version,
                                      const struct sync_group_resp *resp);
int kafka_parse_heartbeat_request(struct kr *r, int16_t version, struct arena *a,
                                  struct heartbeat_req *out);
void kafka_encode_heartbeat_response(struct kw *w, int16_t version,
                                     const struct heartbeat_resp *resp);
int kafka_parse_leave_group_request(struct kr *r, int16_t version, struct arena *a,
                                    struct leave_group_req *out);
void kafka_encode_leave_group_response(struct kw *w, int16_t version,
                                       const struct leave_group_resp *resp);
int kafka_parse_offset_commit_request(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_commit_req *out);
void kafka_encode_offset_commit_response(struct kw *w, int16_t version,
                                         const struct offset_commit_resp *resp);
int kafka_parse_offset_fetch_request(struct kr *r, int16_t version, struct arena *a,
                                     struct offset_fetch_req *out);
void kafka_encode_offset_fetch_response(struct kw *w, int16_t version,
                                        const struct offset_fetch_resp *resp);
int kafka_parse_list_groups_request(struct kr *r, int16_t version, struct arena *a,
                                    struct list_groups_req *out);
void kafka_encode_list_groups_response(struct kw *w, int16_t version,
                                       const struct list_groups_resp *resp);
int kafka_parse_describe_groups_request(struct kr *r, int16_t version, struct arena *a,
                                        struct describe_groups_req *out);
void kafka_encode_describe_groups_response(struct kw *w, int16_t version,
                                           const struct describe_groups_resp *resp);
int kafka_parse_delete_groups_request(struct kr *r, int16_t version, struct arena *a,
                                      struct delete_groups_req *out);
void kafka_encode_delete_groups_response(struct kw *w, int16_t version,
                                         const struct delete_groups_resp *resp);

#endif
