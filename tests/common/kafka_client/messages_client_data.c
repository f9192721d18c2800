/*
 * Client-side codecs, part 2: Produce, Fetch and ListOffsets (request encoders, response
 * parsers). The layouts are drawn in messages_data.c. A parsed Fetch response borrows its record
 * bytes from the input (records), never records_ext.
 */
#include <string.h>

#include "kafka_client/messages_client.h"
#include "protocol/messages_int.h"
#include "tandem/error.h"

/* ---- Produce ----------------------------------------------------------------------------------
 */

void kafka_encode_produce_request(struct kw *w, int16_t version, const struct produce_req *req)
{
    if (version >= 3)
        kw_string(w, req->transactional_id);
    kw_i16(w, req->acks);
    kw_i32(w, req->timeout_ms);
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct produce_req_topic *t = &req->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            kw_i32(w, t->partitions[j].index);
            kw_bytes(w, t->partitions[j].records);
        }
    }
}

static int parse_produce_partition(struct kr *r, int16_t version, struct arena *a,
                                   struct produce_resp_partition *p)
{
    int rc = 0;
    p->index = kr_i32(r);
    p->error_code = kr_i16(r);
    p->base_offset = kr_i64(r);
    p->log_append_time_ms = version >= 2 ? kr_i64(r) : -1;
    p->log_start_offset = version >= 5 ? kr_i64(r) : -1;
    p->error_message = KSTR_NULL;
    if (version >= 8) {
        p->nrecord_errors = msg_array(r, W_I32 + W_STR);
        MSG_ALLOC(a, p->nrecord_errors, p->record_errors, rc);
        if (rc)
            return rc;
        for (int32_t k = 0; k < p->nrecord_errors; k++) {
            p->record_errors[k].batch_index = kr_i32(r);
            p->record_errors[k].batch_index_error_message = kr_string(r);
        }
        p->error_message = kr_string(r);
    }
    return 0;
}

int kafka_parse_produce_response(struct kr *r, int16_t version, struct arena *a,
                                 struct produce_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 8)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    size_t pmin = W_I32 + W_I16 + W_I64 + (version >= 2 ? W_I64 : 0) + (version >= 5 ? W_I64 : 0) +
                  (version >= 8 ? W_ARR + W_STR : 0);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct produce_resp_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, pmin);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            rc = parse_produce_partition(r, version, a, &t->partitions[j]);
            if (rc)
                return rc;
        }
    }
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    return msg_end(r);
}

/* ---- Fetch ------------------------------------------------------------------------------------
 */

void kafka_encode_fetch_request(struct kw *w, int16_t version, const struct fetch_req *req)
{
    kw_i32(w, req->replica_id);
    kw_i32(w, req->max_wait_ms);
    kw_i32(w, req->min_bytes);
    if (version >= 3)
        kw_i32(w, req->max_bytes);
    if (version >= 4)
        kw_i8(w, req->isolation_level);
    if (version >= 7) {
        kw_i32(w, req->session_id);
        kw_i32(w, req->session_epoch);
    }
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct fetch_req_topic *t = &req->topics[i];
        kw_string(w, t->topic);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct fetch_req_partition *p = &t->partitions[j];
            kw_i32(w, p->partition);
            if (version >= 9)
                kw_i32(w, p->current_leader_epoch);
            kw_i64(w, p->fetch_offset);
            if (version >= 5)
                kw_i64(w, p->log_start_offset);
            kw_i32(w, p->partition_max_bytes);
        }
    }
    if (version >= 7) {
        kw_array(w, req->nforgotten);
        for (int32_t i = 0; i < req->nforgotten; i++) {
            kw_string(w, req->forgotten_topics_data[i].topic);
            msg_write_i32_array(w, req->forgotten_topics_data[i].npartitions,
                                req->forgotten_topics_data[i].partitions);
        }
    }
    if (version >= 11)
        kw_string(w, req->rack_id.p ? req->rack_id : KSTR(""));
}

static int parse_fetch_partition(struct kr *r, int16_t version, struct arena *a,
                                 struct fetch_resp_partition *p)
{
    int rc = 0;
    p->partition_index = kr_i32(r);
    p->error_code = kr_i16(r);
    p->high_watermark = kr_i64(r);
    p->last_stable_offset = version >= 4 ? kr_i64(r) : -1;
    p->log_start_offset = version >= 5 ? kr_i64(r) : -1;
    p->naborted = -1;
    if (version >= 4) {
        p->naborted = kr_array(r, 2 * W_I64);
        MSG_ALLOC(a, p->naborted, p->aborted_transactions, rc);
        if (rc)
            return rc;
        for (int32_t k = 0; k < p->naborted; k++) {
            p->aborted_transactions[k].producer_id = kr_i64(r);
            p->aborted_transactions[k].first_offset = kr_i64(r);
        }
    }
    p->preferred_read_replica = version >= 11 ? kr_i32(r) : -1;
    p->records = kr_bytes(r);
    return 0;
}

int kafka_parse_fetch_response(struct kr *r, int16_t version, struct arena *a,
                               struct fetch_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 11)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 1 ? kr_i32(r) : 0;
    if (version >= 7) {
        out->error_code = kr_i16(r);
        out->session_id = kr_i32(r);
    }
    size_t pmin = W_I32 + W_I16 + W_I64 + (version >= 4 ? W_I64 + W_ARR : 0) +
                  (version >= 5 ? W_I64 : 0) + (version >= 11 ? W_I32 : 0) + W_BYT;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct fetch_resp_topic *t = &out->topics[i];
        t->topic = msg_string(r);
        t->npartitions = msg_array(r, pmin);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            rc = parse_fetch_partition(r, version, a, &t->partitions[j]);
            if (rc)
                return rc;
        }
    }
    return msg_end(r);
}

/* ---- ListOffsets ------------------------------------------------------------------------------
 */

void kafka_encode_list_offsets_request(struct kw *w, int16_t version,
                                       const struct list_offsets_req *req)
{
    kw_i32(w, req->replica_id);
    if (version >= 2)
        kw_i8(w, req->isolation_level);
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct list_offsets_req_topic *t = &req->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct list_offsets_req_partition *p = &t->partitions[j];
            kw_i32(w, p->partition_index);
            if (version >= 4)
                kw_i32(w, p->current_leader_epoch);
            kw_i64(w, p->timestamp);
            if (version == 0)
                kw_i32(w, p->max_num_offsets);
        }
    }
}

static int parse_list_offsets_partition(struct kr *r, int16_t version, struct arena *a,
                                        struct list_offsets_resp_partition *p)
{
    int rc = 0;
    p->partition_index = kr_i32(r);
    p->error_code = kr_i16(r);
    p->timestamp = -1;
    p->offset = -1;
    if (version == 0) {
        int64_t *v;
        p->nold_style_offsets = msg_array(r, W_I64);
        MSG_ALLOC(a, p->nold_style_offsets, v, rc);
        if (rc)
            return rc;
        for (int32_t k = 0; k < p->nold_style_offsets; k++)
            v[k] = kr_i64(r);
        p->old_style_offsets = v;
    } else {
        p->timestamp = kr_i64(r);
        p->offset = kr_i64(r);
    }
    p->leader_epoch = version >= 4 ? kr_i32(r) : -1;
    return 0;
}

int kafka_parse_list_offsets_response(struct kr *r, int16_t version, struct arena *a,
                                      struct list_offsets_resp *out)
{
    int rc = 0;
    if (version < 0 || version > 5)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = version >= 2 ? kr_i32(r) : 0;
    size_t pmin = W_I32 + W_I16 + (version == 0 ? W_ARR : 2 * W_I64) + (version >= 4 ? W_I32 : 0);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct list_offsets_resp_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, pmin);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            rc = parse_list_offsets_partition(r, version, a, &t->partitions[j]);
            if (rc)
                return rc;
        }
    }
    return msg_end(r);
}
