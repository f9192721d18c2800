/*
 * Dispatch over the consumer-group APIs, shared by the codec unit test (tests/unit/
 * test_codec_group.c) and the group fuzzer (tests/fuzz/fuzz_group.c).
 *
 * One union for any group request the broker parses, one for any group response it encodes;
 * group_apis lists each API with the highest version its codecs implement (all start at 0). The
 * four functions call, for an API key and version, the broker's request parser
 * (messages_group.h) and the client's request encoder (messages_group_client.h), or the client's
 * response parser and the broker's response encoder. A parser returns what the codec returns, or
 * TANDEM_ENOENT for an API key that is not a group API; an encoder ignores such a key.
 */
#ifndef TANDEM_TEST_CODEC_GROUP_DISPATCH_H
#define TANDEM_TEST_CODEC_GROUP_DISPATCH_H

#include <stdint.h>

#include "protocol/kafka.h"
#include "base/kbuf.h"
#include "protocol/messages_group.h"
#include "kafka_client/messages_group_client.h"
#include "tandem/error.h"

union group_req {
    struct find_coordinator_req find_coordinator;
    struct join_group_req join_group;
    struct sync_group_req sync_group;
    struct heartbeat_req heartbeat;
    struct leave_group_req leave_group;
    struct offset_commit_req offset_commit;
    struct offset_fetch_req offset_fetch;
    struct list_groups_req list_groups;
    struct describe_groups_req describe_groups;
    struct delete_groups_req delete_groups;
};

union group_resp {
    struct find_coordinator_resp find_coordinator;
    struct join_group_resp join_group;
    struct sync_group_resp sync_group;
    struct heartbeat_resp heartbeat;
    struct leave_group_resp leave_group;
    struct offset_commit_resp offset_commit;
    struct offset_fetch_resp offset_fetch;
    struct list_groups_resp list_groups;
    struct describe_groups_resp describe_groups;
    struct delete_groups_resp delete_groups;
};

static const struct {
    int16_t api, max;
} group_apis[] = {
    {KAFKA_FIND_COORDINATOR, 4}, {KAFKA_JOIN_GROUP, 6},  {KAFKA_SYNC_GROUP, 4},
    {KAFKA_HEARTBEAT, 4},        {KAFKA_LEAVE_GROUP, 5}, {KAFKA_OFFSET_COMMIT, 8},
    {KAFKA_OFFSET_FETCH, 8},     {KAFKA_LIST_GROUPS, 4}, {KAFKA_DESCRIBE_GROUPS, 5},
    {KAFKA_DELETE_GROUPS, 2},
};

static inline int group_parse_req(int16_t api, int16_t v, struct kr *r, struct arena *a,
                                  union group_req *o)
{
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        return kafka_parse_find_coordinator_request(r, v, a, &o->find_coordinator);
    case KAFKA_JOIN_GROUP:
        return kafka_parse_join_group_request(r, v, a, &o->join_group);
    case KAFKA_SYNC_GROUP:
        return kafka_parse_sync_group_request(r, v, a, &o->sync_group);
    case KAFKA_HEARTBEAT:
        return kafka_parse_heartbeat_request(r, v, a, &o->heartbeat);
    case KAFKA_LEAVE_GROUP:
        return kafka_parse_leave_group_request(r, v, a, &o->leave_group);
    case KAFKA_OFFSET_COMMIT:
        return kafka_parse_offset_commit_request(r, v, a, &o->offset_commit);
    case KAFKA_OFFSET_FETCH:
        return kafka_parse_offset_fetch_request(r, v, a, &o->offset_fetch);
    case KAFKA_LIST_GROUPS:
        return kafka_parse_list_groups_request(r, v, a, &o->list_groups);
    case KAFKA_DESCRIBE_GROUPS:
        return kafka_parse_describe_groups_request(r, v, a, &o->describe_groups);
    case KAFKA_DELETE_GROUPS:
        return kafka_parse_delete_groups_request(r, v, a, &o->delete_groups);
    }
    return TANDEM_ENOENT;
}

static inline void group_encode_req(int16_t api, int16_t v, struct kw *w, const union group_req *o)
{
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        kafka_encode_find_coordinator_request(w, v, &o->find_coordinator);
        break;
    case KAFKA_JOIN_GROUP:
        kafka_encode_join_group_request(w, v, &o->join_group);
        break;
    case KAFKA_SYNC_GROUP:
        kafka_encode_sync_group_request(w, v, &o->sync_group);
        break;
    case KAFKA_HEARTBEAT:
        kafka_encode_heartbeat_request(w, v, &o->heartbeat);
        break;
    case KAFKA_LEAVE_GROUP:
        kafka_encode_leave_group_request(w, v, &o->leave_group);
        break;
    case KAFKA_OFFSET_COMMIT:
        kafka_encode_offset_commit_request(w, v, &o->offset_commit);
        break;
    case KAFKA_OFFSET_FETCH:
        kafka_encode_offset_fetch_request(w, v, &o->offset_fetch);
        break;
    case KAFKA_LIST_GROUPS:
        kafka_encode_list_groups_request(w, v, &o->list_groups);
        break;
    case KAFKA_DESCRIBE_GROUPS:
        kafka_encode_describe_groups_request(w, v, &o->describe_groups);
        break;
    case KAFKA_DELETE_GROUPS:
        kafka_encode_delete_groups_request(w, v, &o->delete_groups);
        break;
    }
}

static inline int group_parse_resp(int16_t api, int16_t v, struct kr *r, struct arena *a,
                                   union group_resp *o)
{
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        return kafka_parse_find_coordinator_response(r, v, a, &o->find_coordinator);
    case KAFKA_JOIN_GROUP:
        return kafka_parse_join_group_response(r, v, a, &o->join_group);
    case KAFKA_SYNC_GROUP:
        return kafka_parse_sync_group_response(r, v, a, &o->sync_group);
    case KAFKA_HEARTBEAT:
        return kafka_parse_heartbeat_response(r, v, a, &o->heartbeat);
    case KAFKA_LEAVE_GROUP:
        return kafka_parse_leave_group_response(r, v, a, &o->leave_group);
    case KAFKA_OFFSET_COMMIT:
        return kafka_parse_offset_commit_response(r, v, a, &o->offset_commit);
    case KAFKA_OFFSET_FETCH:
        return kafka_parse_offset_fetch_response(r, v, a, &o->offset_fetch);
    case KAFKA_LIST_GROUPS:
        return kafka_parse_list_groups_response(r, v, a, &o->list_groups);
    case KAFKA_DESCRIBE_GROUPS:
        return kafka_parse_describe_groups_response(r, v, a, &o->describe_groups);
    case KAFKA_DELETE_GROUPS:
        return kafka_parse_delete_groups_response(r, v, a, &o->delete_groups);
    }
    return TANDEM_ENOENT;
}

static inline void group_encode_resp(int16_t api, int16_t v, struct kw *w,
                                     const union group_resp *o)
{
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        kafka_encode_find_coordinator_response(w, v, &o->find_coordinator);
        break;
    case KAFKA_JOIN_GROUP:
        kafka_encode_join_group_response(w, v, &o->join_group);
        break;
    case KAFKA_SYNC_GROUP:
        kafka_encode_sync_group_response(w, v, &o->sync_group);
        break;
    case KAFKA_HEARTBEAT:
        kafka_encode_heartbeat_response(w, v, &o->heartbeat);
        break;
    case KAFKA_LEAVE_GROUP:
        kafka_encode_leave_group_response(w, v, &o->leave_group);
        break;
    case KAFKA_OFFSET_COMMIT:
        kafka_encode_offset_commit_response(w, v, &o->offset_commit);
        break;
    case KAFKA_OFFSET_FETCH:
        kafka_encode_offset_fetch_response(w, v, &o->offset_fetch);
        break;
    case KAFKA_LIST_GROUPS:
        kafka_encode_list_groups_response(w, v, &o->list_groups);
        break;
    case KAFKA_DESCRIBE_GROUPS:
        kafka_encode_describe_groups_response(w, v, &o->describe_groups);
        break;
    case KAFKA_DELETE_GROUPS:
        kafka_encode_delete_groups_response(w, v, &o->delete_groups);
        break;
    }
}

#endif
