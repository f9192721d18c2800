/*
 * Client-side consumer-group codecs: request encoders and response parsers (see
 * messages_group_client.h). They run the same schema tables as the broker side (messages_group.c,
 * transcribed from Apache Kafka's <Name>Request.json / <Name>Response.json) through the engine
 * in the other direction; the frames captured from librdkafka and kafkajs in tests/vectors check
 * both against real clients, and the hand-assembled flexible frames in test_codec_schema.c check
 * the engine against the spec.
 *
 * Like the broker side, response parsers treat a null where the spec has a non-nullable STRING
 * or BYTES as malformed, and reject truncation and trailing bytes.
 */
#include <string.h>

#include "kafka_client/messages_group_client.h"
#include "protocol/messages_int.h"
#include "protocol/schema_msgs.h"
#include "tandem/error.h"

/* ---- FindCoordinator -------------------------------------------------------------------------
 */

void kafka_encode_find_coordinator_request(struct kw *w, int16_t version,
                                           const struct find_coordinator_req *req)
{
    schema_encode(&schema_find_coordinator_request, w, version, req);
}

int kafka_parse_find_coordinator_response(struct kr *r, int16_t version, struct arena *a,
                                          struct find_coordinator_resp *out)
{
    return schema_decode(&schema_find_coordinator_response, r, version, a, out);
}

/* ---- JoinGroup -------------------------------------------------------------------------------
 */

void kafka_encode_join_group_request(struct kw *w, int16_t version,
                                     const struct join_group_req *req)
{
    schema_encode(&schema_join_group_request, w, version, req);
}

int kafka_parse_join_group_response(struct kr *r, int16_t version, struct arena *a,
                                    struct join_group_resp *out)
{
    return schema_decode(&schema_join_group_response, r, version, a, out);
}

/* ---- SyncGroup -------------------------------------------------------------------------------
 */

void kafka_encode_sync_group_request(struct kw *w, int16_t version,
                                     const struct sync_group_req *req)
{
    schema_encode(&schema_sync_group_request, w, version, req);
}

int kafka_parse_sync_group_response(struct kr *r, int16_t version, struct arena *a,
                                    struct sync_group_resp *out)
{
    return schema_decode(&schema_sync_group_response, r, version, a, out);
}

/* ---- Heartbeat -------------------------------------------------------------------------------
 */

void kafka_encode_heartbeat_request(struct kw *w, int16_t version, const struct heartbeat_req *req)
{
    schema_encode(&schema_heartbeat_request, w, version, req);
}

int kafka_parse_heartbeat_response(struct kr *r, int16_t version, struct arena *a,
                                   struct heartbeat_resp *out)
{
    return schema_decode(&schema_heartbeat_response, r, version, a, out);
}

/* ---- LeaveGroup ------------------------------------------------------------------------------
 */

void kafka_encode_leave_group_request(struct kw *w, int16_t version,
                                      const struct leave_group_req *req)
{
    struct leave_group_req v02 = *req; /* v0-2 carry members[0] as the top-level MemberId */
    if (version <= 2 && req->nmembers > 0)
        v02.member_id = req->members[0].member_id;
    schema_encode(&schema_leave_group_request, w, version, &v02);
}

int kafka_parse_leave_group_response(struct kr *r, int16_t version, struct arena *a,
                                     struct leave_group_resp *out)
{
    return schema_decode(&schema_leave_group_response, r, version, a, out);
}

/* ---- OffsetCommit ----------------------------------------------------------------------------
 */

void kafka_encode_offset_commit_request(struct kw *w, int16_t version,
                                        const struct offset_commit_req *req)
{
    schema_encode(&schema_offset_commit_request, w, version, req);
}

int kafka_parse_offset_commit_response(struct kr *r, int16_t version, struct arena *a,
                                       struct offset_commit_resp *out)
{
    return schema_decode(&schema_offset_commit_response, r, version, a, out);
}

/* ---- OffsetFetch -----------------------------------------------------------------------------
 */

void kafka_encode_offset_fetch_request(struct kw *w, int16_t version,
                                       const struct offset_fetch_req *req)
{
    schema_encode(&schema_offset_fetch_request, w, version, req);
}

int kafka_parse_offset_fetch_response(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_fetch_resp *out)
{
    return schema_decode(&schema_offset_fetch_response, r, version, a, out);
}

/* ---- ListGroups ------------------------------------------------------------------------------
 */

void kafka_encode_list_groups_request(struct kw *w, int16_t version,
                                      const struct list_groups_req *req)
{
    schema_encode(&schema_list_groups_request, w, version, req);
}

int kafka_parse_list_groups_response(struct kr *r, int16_t version, struct arena *a,
                                     struct list_groups_resp *out)
{
    return schema_decode(&schema_list_groups_response, r, version, a, out);
}

/* ---- DescribeGroups --------------------------------------------------------------------------
 */

void kafka_encode_describe_groups_request(struct kw *w, int16_t version,
                                          const struct describe_groups_req *req)
{
    schema_encode(&schema_describe_groups_request, w, version, req);
}

int kafka_parse_describe_groups_response(struct kr *r, int16_t version, struct arena *a,
                                         struct describe_groups_resp *out)
{
    return schema_decode(&schema_describe_groups_response, r, version, a, out);
}

/* ---- DeleteGroups ----------------------------------------------------------------------------
 */

void kafka_encode_delete_groups_request(struct kw *w, int16_t version,
                                        const struct delete_groups_req *req)
{
    schema_encode(&schema_delete_groups_request, w, version, req);
}

int kafka_parse_delete_groups_response(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_groups_resp *out)
{
    return schema_decode(&schema_delete_groups_response, r, version, a, out);
}
