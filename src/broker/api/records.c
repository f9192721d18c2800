/*
 * The record admin APIs: DeleteRecords (v0-1) and OffsetDelete (v0).
 *
 * DeleteRecords moves a partition's log start offset forward (plog_delete_records): the records
 * below it are synced, the new start is written to the partition's log-start-offset file, and
 * only then is it in effect and are the segments wholly below it removed. So the answer, sent at
 * once, is already durable: after kill -9 and a restart the start is where the answer said.
 * Offset -1 means the high watermark (the log end offset on one node); an offset above it, or
 * below -1, is OFFSET_OUT_OF_RANGE; an offset at or below the current start changes nothing and
 * answers the current start, as Kafka does. A Fetch below the start then answers
 * OFFSET_OUT_OF_RANGE, ListOffsets earliest answers the start, and Fetch and Produce report it
 * as log_start_offset.
 *
 * OffsetDelete removes one group's committed offsets for the partitions named, with the rules
 * of Kafka's GroupCoordinator.handleDeleteOffsets: an unknown (or Dead) group is
 * GROUP_ID_NOT_FOUND; a group of protocol type "consumer" keeps the offsets of topics its
 * members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for those partitions) and loses the others;
 * any other group must be Empty, else NON_EMPTY_GROUP. Partitions of unknown topics are
 * UNKNOWN_TOPIC_OR_PARTITION (KafkaApis checks them first). Each deleted offset is a record in
 * the offsets log (offsets_log_delete_offset), and the answer waits until it is synced, as
 * OffsetCommit's does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "group/group.h"
#include "group/offsets_log.h"
#include "protocol/messages_config.h"
#include "tandem/error.h"

/* ---- DeleteRecords -------------------------------------------------------------------------- */

static void delete_partition(struct topic *t, int16_t topic_err,
                             const struct delete_records_req_partition *in,
                             struct delete_records_resp_partition *out)
{
    out->partition_index = in->partition_index;
    out->low_watermark = -1;
    if (!t || in->partition_index < 0 || in->partition_index >= t->npartitions) {
        out->error_code = t ? KAFKA_UNKNOWN_TOPIC_OR_PARTITION : topic_err;
        return;
    }
    struct plog *l = t->partitions[in->partition_index];
    int64_t offset = in->offset == -1 ? plog_end_offset(l) : in->offset;
    int rc = plog_delete_records(l, offset, &out->low_watermark);
    if (rc == TANDEM_ERANGE) {
        out->error_code = KAFKA_OFFSET_OUT_OF_RANGE;
        out->low_watermark = -1;
    } else if (rc) {
        out->error_code = KAFKA_KAFKA_STORAGE_ERROR;
        out->low_watermark = -1;
    } else {
        out->error_code = KAFKA_NONE;
    }
}

void handle_delete_records(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct delete_records_req in;
    if (kafka_parse_delete_records_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DeleteRecords request");
        return;
    }
    struct delete_records_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics + 1, sizeof(*resp.topics));
    if (!resp.topics) {
        request_fail(req, "DeleteRecords request too large");
        return;
    }
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct delete_records_req_topic *ti = &in.topics[i];
        struct delete_records_resp_topic *to = &resp.topics[i];
        to->name = ti->name;
        to->npartitions = ti->npartitions;
        to->partitions =
            arena_array(&req->arena, (size_t)ti->npartitions + 1, sizeof(*to->partitions));
        if (!to->partitions) {
            request_fail(req, "DeleteRecords request too large");
            return;
        }
        int16_t err = KAFKA_NONE;
        struct topic *t = api_topic(req->b, ti->name, false, &err);
        for (int32_t j = 0; j < ti->npartitions; j++)
            delete_partition(t, err, &ti->partitions[j], &to->partitions[j]);
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_delete_records_response(&w, ver, &resp);
    request_respond(req, &w);
}

/* ---- OffsetDelete --------------------------------------------------------------------------- */

/* What gc_describe tells about the group, copied into the request's arena. */
struct group_view {
    struct request *req;
    bool found;
    enum group_state state;
    bool consumer;        /* protocol type "consumer" */
    struct kstr *topics;  /* topics the members subscribe to */
    int32_t ntopics, cap; /* (a topic may appear more than once) */
};

/* Adds the topics of one member's ConsumerProtocolSubscription (version INT16, topics
 * ARRAY of STRING, then fields this does not need). Metadata that does not parse adds nothing. */
static void view_add_subscription(struct group_view *v, const uint8_t *p, size_t len)
{
    struct kr r;
    kr_init(&r, p, len);
    (void)kr_i16(&r);
    int32_t n = kr_array(&r, 2);
    if (r.err || n <= 0)
        return;
    if (v->ntopics + n > v->cap) {
        int32_t cap = (v->ntopics + n) * 2;
        struct kstr *t = arena_array(&v->req->arena, (size_t)cap, sizeof(*t));
        if (!t)
            return;
        if (v->ntopics)
            memcpy(t, v->topics, (size_t)v->ntopics * sizeof(*t));
        v->topics = t;
        v->cap = cap;
    }
    for (int32_t i = 0; i < n; i++) {
        struct kstr s = kr_string(&r);
        if (r.err || s.len < 0)
            return;
        char *c = arena_alloc(&v->req->arena, (size_t)s.len + 1);
        if (!c)
            return;
        memcpy(c, s.p, (size_t)s.len);
        v->topics[v->ntopics++] = (struct kstr){c, s.len};
    }
}

static void view_fill(const struct gc_group_info *g, const struct gc_member_desc *members,
                      void *arg)
{
    struct group_view *v = arg;
    v->found = true;
    v->state = g->state;
    v->consumer = g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
    if (!v->consumer)
        return;
    for (int i = 0; i < g->nmembers; i++)
        view_add_subscription(v, members[i].metadata, members[i].metadata_len);
}

static bool view_subscribed(const struct group_view *v, struct kstr topic)
{
    for (int32_t i = 0; i < v->ntopics; i++)
        if (v->topics[i].len == topic.len &&
            memcmp(v->topics[i].p, topic.p, (size_t)topic.len) == 0)
            return true;
    return false;
}

/* One partition: deletes the group's offset (logging it) unless a rule keeps it. */
static int16_t offset_delete_one(struct request *req, const struct offset_delete_req *in,
                                 const struct group_view *v, struct kstr topic, int32_t partition,
                                 int64_t *end)
{
    int16_t err = KAFKA_NONE;
    struct topic *t = api_topic(req->b, topic, false, &err);
    if (!t || partition < 0 || partition >= t->npartitions)
        return KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    if (v->consumer && view_subscribed(v, topic))
        return KAFKA_GROUP_SUBSCRIBED_TO_TOPIC;
    if (!gc_offset_get(req->b->gc, in->group_id, topic, partition))
        return KAFKA_NONE; /* nothing committed: nothing to delete */
    if (offsets_log_delete_offset(req->b->olog, in->group_id.p, (size_t)in->group_id.len, topic.p,
                                  (size_t)topic.len, partition, end))
        return KAFKA_COORDINATOR_NOT_AVAILABLE;
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)topic.len, topic.p);
    gc_offset_delete(req->b->gc, in->group_id, name, partition);
    return KAFKA_NONE;
}

void handle_offset_delete(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct offset_delete_req in;
    if (kafka_parse_offset_delete_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed OffsetDelete request");
        return;
    }
    struct offset_delete_resp resp = {0};
    struct group_view v = {.req = req};
    if (in.group_id.len <= 0)
        resp.error_code = KAFKA_INVALID_GROUP_ID;
    else if (gc_describe(req->b->gc, in.group_id, view_fill, &v) || !v.found ||
             v.state == GROUP_DEAD)
        resp.error_code = KAFKA_GROUP_ID_NOT_FOUND;
    else if (!v.consumer && v.state != GROUP_EMPTY)
        resp.error_code = KAFKA_NON_EMPTY_GROUP;
    int64_t end = -1, deleted = 0;
    if (resp.error_code == KAFKA_NONE) {
        resp.ntopics = in.ntopics;
        resp.topics = arena_array(&req->arena, (size_t)in.ntopics + 1, sizeof(*resp.topics));
        if (!resp.topics) {
            request_fail(req, "OffsetDelete request too large");
            return;
        }
        for (int32_t i = 0; i < in.ntopics; i++) {
            const struct offset_delete_req_topic *ti = &in.topics[i];
            struct offset_delete_resp_topic *to = &resp.topics[i];
            to->name = ti->name;
            to->npartitions = ti->npartitions;
            to->partitions =
                arena_array(&req->arena, (size_t)ti->npartitions + 1, sizeof(*to->partitions));
            if (!to->partitions) {
                request_fail(req, "OffsetDelete request too large");
                return;
            }
            for (int32_t j = 0; j < ti->npartitions; j++) {
                int64_t before = end;
                to->partitions[j].partition_index = ti->partitions[j];
                to->partitions[j].error_code =
                    offset_delete_one(req, &in, &v, ti->name, ti->partitions[j], &end);
                deleted += end != before;
            }
        }
    }
    if (deleted > 0) {
        char esc[300], g[256];
        snprintf(g, sizeof(g), "%.*s", (int)in.group_id.len, in.group_id.p);
        log_info("group offsets deleted", "\"group\":%s,\"partitions\":%" PRId64,
                 log_json_str(esc, sizeof(esc), g), deleted);
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_offset_delete_response(&w, ver, &resp);
    if (end < 0) {
        request_respond(req, &w);
        return;
    }
    struct durable_need need = {.kind = DURABLE_OFFSETS, .end = end};
    request_hold_until_durable(req, &w, &need, 1);
}
