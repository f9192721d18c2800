/*
 * Client-side consumer-group codecs: request encoders and response parsers (see
 * messages_group_client.h). The wire layouts are drawn next to the broker-side codecs in
 * messages_group.c, transcribed from Apache Kafka's <Name>Request.json / <Name>Response.json;
 * this file walks the same fields in the other direction, so a round trip (encode here, parse
 * there, or the reverse) checks the two against each other, and the frames captured from
 * librdkafka in tests/vectors/group check both against a real client.
 *
 * Like the broker side, response parsers treat a null where the spec has a non-nullable STRING
 * or BYTES as malformed, and reject truncation and trailing bytes.
 */
#include <string.h>

#include "kafka_client/messages_group_client.h"
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

/* ---- FindCoordinator -------------------------------------------------------------------------
 */

void kafka_encode_find_coordinator_request(struct kw *w, int16_t version,
                                           const struct find_coordinator_req *req)
{
    kw_string(w, req->key);
    if (version >= 1)
        kw_i8(w, req->key_type);
}

int kafka_parse_find_coordinator_response(struct kr *r, int16_t version, struct arena *a,
                                          struct find_coordinator_resp *out)
{
    (void)a;
    if (version < 0 || version > 2)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->error_code = kr_i16(r);
    out->error_message = version >= 1 ? kr_string(r) : KSTR_NULL;
    out->node_id = kr_i32(r);
    out->host = msg_string(r);
    out->port = kr_i32(r);
    return msg_end(r);
}

/* ---- JoinGroup -------------------------------------------------------------------------------
 */

void kafka_encode_join_group_request(struct kw *w, int16_t version,
                                     const struct join_group_req *req)
{
    kw_string(w, req->group_id);
    kw_i32(w, req->session_timeout_ms);
    if (version >= 1)
        kw_i32(w, req->rebalance_timeout_ms);
    kw_string(w, req->member_id);
    if (version >= 5)
        kw_string(w, req->group_instance_id);
    kw_string(w, req->protocol_type);
    kw_array(w, req->nprotocols);
    for (int32_t i = 0; i < req->nprotocols; i++) {
        kw_string(w, req->protocols[i].name);
        kw_bytes(w, req->protocols[i].metadata);
    }
}

int kafka_parse_join_group_response(struct kr *r, int16_t version, struct arena *a,
                                    struct join_group_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 5)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 2 ? kr_i32(r) : 0;
    out->error_code = kr_i16(r);
    out->generation_id = kr_i32(r);
    out->protocol_name = msg_string(r);
    out->leader = msg_string(r);
    out->member_id = msg_string(r);
    out->nmembers = msg_array(r, W_STR + (version >= 5 ? W_STR : 0) + W_BYT);
    MSG_ALLOC(a, out->nmembers, out->members, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nmembers; i++) {
        out->members[i].member_id = msg_string(r);
        out->members[i].group_instance_id = version >= 5 ? kr_string(r) : KSTR_NULL;
        out->members[i].metadata = msg_bytes(r);
    }
    return msg_end(r);
}

/* ---- SyncGroup -------------------------------------------------------------------------------
 */

void kafka_encode_sync_group_request(struct kw *w, int16_t version,
                                     const struct sync_group_req *req)
{
    kw_string(w, req->group_id);
    kw_i32(w, req->generation_id);
    kw_string(w, req->member_id);
    if (version >= 3)
        kw_string(w, req->group_instance_id);
    kw_array(w, req->nassignments);
    for (int32_t i = 0; i < req->nassignments; i++) {
        kw_string(w, req->assignments[i].member_id);
        kw_bytes(w, req->assignments[i].assignment);
    }
}

int kafka_parse_sync_group_response(struct kr *r, int16_t version, struct arena *a,
                                    struct sync_group_resp *out)
{
    (void)a;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->error_code = kr_i16(r);
    out->assignment = msg_bytes(r);
    return msg_end(r);
}

/* ---- Heartbeat -------------------------------------------------------------------------------
 */

void kafka_encode_heartbeat_request(struct kw *w, int16_t version, const struct heartbeat_req *req)
{
    kw_string(w, req->group_id);
    kw_i32(w, req->generation_id);
    kw_string(w, req->member_id);
    if (version >= 3)
        kw_string(w, req->group_instance_id);
}

int kafka_parse_heartbeat_response(struct kr *r, int16_t version, struct arena *a,
                                   struct heartbeat_resp *out)
{
    (void)a;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->error_code = kr_i16(r);
    return msg_end(r);
}

/* ---- LeaveGroup ------------------------------------------------------------------------------
 */

void kafka_encode_leave_group_request(struct kw *w, int16_t version,
                                      const struct leave_group_req *req)
{
    kw_string(w, req->group_id);
    if (version <= 2) {
        kw_string(w, req->nmembers > 0 ? req->members[0].member_id : KSTR(""));
        return;
    }
    kw_array(w, req->nmembers);
    for (int32_t i = 0; i < req->nmembers; i++) {
        kw_string(w, req->members[i].member_id);
        kw_string(w, req->members[i].group_instance_id);
    }
}

int kafka_parse_leave_group_response(struct kr *r, int16_t version, struct arena *a,
                                     struct leave_group_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 3)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->error_code = kr_i16(r);
    if (version >= 3) {
        out->nmembers = msg_array(r, W_STR + W_STR + W_I16);
        MSG_ALLOC(a, out->nmembers, out->members, rc);
        if (rc)
            return rc;
        for (int32_t i = 0; i < out->nmembers; i++) {
            out->members[i].member_id = msg_string(r);
            out->members[i].group_instance_id = kr_string(r);
            out->members[i].error_code = kr_i16(r);
        }
    }
    return msg_end(r);
}

/* ---- OffsetCommit ----------------------------------------------------------------------------
 */

void kafka_encode_offset_commit_request(struct kw *w, int16_t version,
                                        const struct offset_commit_req *req)
{
    kw_string(w, req->group_id);
    if (version >= 1) {
        kw_i32(w, req->generation_id);
        kw_string(w, req->member_id);
    }
    if (version >= 7)
        kw_string(w, req->group_instance_id);
    if (version >= 2 && version <= 4)
        kw_i64(w, req->retention_time_ms);
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct offset_commit_req_topic *t = &req->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct offset_commit_req_partition *p = &t->partitions[j];
            kw_i32(w, p->partition_index);
            kw_i64(w, p->committed_offset);
            if (version >= 6)
                kw_i32(w, p->committed_leader_epoch);
            if (version == 1)
                kw_i64(w, p->commit_timestamp);
            kw_string(w, p->committed_metadata);
        }
    }
}

int kafka_parse_offset_commit_response(struct kr *r, int16_t version, struct arena *a,
                                       struct offset_commit_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 7)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 3 ? kr_i32(r) : 0;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct offset_commit_resp_topic *t = &out->topics[i];
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

/* ---- OffsetFetch -----------------------------------------------------------------------------
 */

void kafka_encode_offset_fetch_request(struct kw *w, int16_t version,
                                       const struct offset_fetch_req *req)
{
    kw_string(w, req->group_id);
    if (req->ntopics < 0)
        kw_array(w, version >= 2 ? -1 : 0);
    else
        kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        kw_string(w, req->topics[i].name);
        msg_write_i32_array(w, req->topics[i].npartition_indexes, req->topics[i].partition_indexes);
    }
}

static int parse_offset_fetch_topic(struct kr *r, int16_t version, struct arena *a,
                                    struct offset_fetch_resp_topic *t)
{
    int rc = 0;
    size_t pmin = W_I32 + W_I64 + (version >= 5 ? W_I32 : 0) + W_STR + W_I16;
    t->name = msg_string(r);
    t->npartitions = msg_array(r, pmin);
    MSG_ALLOC(a, t->npartitions, t->partitions, rc);
    if (rc)
        return rc;
    for (int32_t j = 0; j < t->npartitions; j++) {
        struct offset_fetch_resp_partition *p = &t->partitions[j];
        p->partition_index = kr_i32(r);
        p->committed_offset = kr_i64(r);
        p->committed_leader_epoch = version >= 5 ? kr_i32(r) : -1;
        p->metadata = kr_string(r);
        p->error_code = kr_i16(r);
    }
    return 0;
}

int kafka_parse_offset_fetch_response(struct kr *r, int16_t version, struct arena *a,
                                      struct offset_fetch_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 5)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 3 ? kr_i32(r) : 0;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        rc = parse_offset_fetch_topic(r, version, a, &out->topics[i]);
        if (rc)
            return rc;
    }
    out->error_code = version >= 2 ? kr_i16(r) : 0;
    return msg_end(r);
}

/* ---- ListGroups ------------------------------------------------------------------------------
 */

void kafka_encode_list_groups_request(struct kw *w, int16_t version)
{
    (void)w;
    (void)version;
}

int kafka_parse_list_groups_response(struct kr *r, int16_t version, struct arena *a,
                                     struct list_groups_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 2)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->error_code = kr_i16(r);
    out->ngroups = msg_array(r, W_STR + W_STR);
    MSG_ALLOC(a, out->ngroups, out->groups, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ngroups; i++) {
        out->groups[i].group_id = msg_string(r);
        out->groups[i].protocol_type = msg_string(r);
    }
    return msg_end(r);
}

/* ---- DescribeGroups --------------------------------------------------------------------------
 */

void kafka_encode_describe_groups_request(struct kw *w, int16_t version,
                                          const struct describe_groups_req *req)
{
    kw_array(w, req->ngroups);
    for (int32_t i = 0; i < req->ngroups; i++)
        kw_string(w, req->groups[i]);
    if (version >= 3)
        kw_bool(w, req->include_authorized_operations);
}

static int parse_described_group(struct kr *r, int16_t version, struct arena *a,
                                 struct describe_groups_group *g)
{
    int rc = 0;
    size_t mmin = W_STR + (version >= 4 ? W_STR : 0) + 2 * W_STR + 2 * W_BYT;
    g->error_code = kr_i16(r);
    g->group_id = msg_string(r);
    g->group_state = msg_string(r);
    g->protocol_type = msg_string(r);
    g->protocol_data = msg_string(r);
    g->nmembers = msg_array(r, mmin);
    MSG_ALLOC(a, g->nmembers, g->members, rc);
    if (rc)
        return rc;
    for (int32_t j = 0; j < g->nmembers; j++) {
        struct describe_groups_member *m = &g->members[j];
        m->member_id = msg_string(r);
        m->group_instance_id = version >= 4 ? kr_string(r) : KSTR_NULL;
        m->client_id = msg_string(r);
        m->client_host = msg_string(r);
        m->member_metadata = msg_bytes(r);
        m->member_assignment = msg_bytes(r);
    }
    g->authorized_operations = version >= 3 ? kr_i32(r) : INT32_MIN;
    return 0;
}

int kafka_parse_describe_groups_response(struct kr *r, int16_t version, struct arena *a,
                                         struct describe_groups_resp *out)
{
    int rc = 0;
    size_t gmin = W_I16 + 4 * W_STR + W_ARR + (version >= 3 ? W_I32 : 0);
    if (version < 0 || version > 4)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    out->ngroups = msg_array(r, gmin);
    MSG_ALLOC(a, out->ngroups, out->groups, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ngroups; i++) {
        rc = parse_described_group(r, version, a, &out->groups[i]);
        if (rc)
            return rc;
    }
    return msg_end(r);
}

/* ---- DeleteGroups ----------------------------------------------------------------------------
 */

void kafka_encode_delete_groups_request(struct kw *w, int16_t version,
                                        const struct delete_groups_req *req)
{
    (void)version;
    kw_array(w, req->ngroups_names);
    for (int32_t i = 0; i < req->ngroups_names; i++)
        kw_string(w, req->groups_names[i]);
}

int kafka_parse_delete_groups_response(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_groups_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 1)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    out->nresults = msg_array(r, W_STR + W_I16);
    MSG_ALLOC(a, out->nresults, out->results, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->nresults; i++) {
        out->results[i].group_id = msg_string(r);
        out->results[i].error_code = kr_i16(r);
    }
    return msg_end(r);
}
