/*
 * ListOffsets: the offsets a consumer starts from. LATEST (-1) is the log end offset (the last
 * stable offset with IsolationLevel 1, read_committed, v2+), EARLIEST
 * (-2) the log start offset; a timestamp >= 0 gives the first record at or after it, with its
 * timestamp (plog_offset_for_time), or -1 when there is none; any other negative timestamp (-3,
 * max timestamp, v7+) answers INVALID_REQUEST. v0 answers with the array old_style_offsets, here
 * of the one offset found (none when MaxNumOffsets is 0). A partition that exists has leader
 * epoch 0 (one node); an unknown topic or partition has -1.
 */
#include "api/api.h"

void handle_list_offsets(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct list_offsets_req in;
    if (kafka_parse_list_offsets_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed ListOffsets request");
        return;
    }
    struct list_offsets_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
    if (in.ntopics && !resp.topics) {
        request_fail(req, "ListOffsets request too large");
        return;
    }
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct list_offsets_req_topic *ti = &in.topics[i];
        struct list_offsets_resp_topic *to = &resp.topics[i];
        int16_t terr;
        struct topic *t = api_topic(b, ti->name, false, &terr);
        to->name = ti->name;
        to->partitions = arena_array(&req->arena, (size_t)ti->npartitions, sizeof(*to->partitions));
        to->npartitions = to->partitions ? ti->npartitions : 0;
        for (int32_t j = 0; j < to->npartitions; j++) {
            const struct list_offsets_req_partition *pi = &ti->partitions[j];
            struct list_offsets_resp_partition *po = &to->partitions[j];
            po->partition_index = pi->partition_index;
            po->timestamp = -1;
            po->offset = -1;
            po->leader_epoch = 0;
            if (!t || pi->partition_index < 0 || pi->partition_index >= t->npartitions) {
                po->error_code = t ? KAFKA_UNKNOWN_TOPIC_OR_PARTITION : terr;
                po->leader_epoch = -1;
                continue;
            }
            struct plog *l = t->partitions[pi->partition_index];
            if (pi->timestamp == KAFKA_TIMESTAMP_LATEST) {
                /* read_committed (KIP-98): the last stable offset */
                po->offset =
                    in.isolation_level == 1 ? plog_last_stable_offset(l) : plog_end_offset(l);
            } else if (pi->timestamp == KAFKA_TIMESTAMP_EARLIEST) {
                po->offset = plog_start_offset(l);
            } else if (pi->timestamp >= 0) {
                int64_t off, ts;
                if (plog_offset_for_time(l, pi->timestamp, &off, &ts) == 0) {
                    po->offset = off;
                    po->timestamp = ts;
                }
            } else {
                po->error_code = KAFKA_INVALID_REQUEST; /* e.g. -3 (max timestamp, v7+) */
            }
            if (ver == 0) {
                int64_t *old = arena_alloc(&req->arena, sizeof(int64_t));
                if (old && po->offset >= 0 && pi->max_num_offsets > 0) {
                    *old = po->offset;
                    po->old_style_offsets = old;
                    po->nold_style_offsets = 1;
                }
            }
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_list_offsets_response(&w, ver, &resp);
    request_respond(req, &w);
}
