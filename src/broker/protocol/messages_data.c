/*
 * Kafka message codecs, part 2: the data path, Produce (v0-8), Fetch (v0-11) and ListOffsets
 * (v0-5). See messages.c for the model (borrowed strings, arena arrays, sticky-error reader,
 * trailing bytes rejected) and messages.h for the structs. None of these versions is flexible.
 *
 * Record data is never copied: a Produce request's records are a byte range into the frame, and
 * a Fetch response either copies a small in-memory range or, for log data, writes the INT32
 * length and leaves a splice for the network loop to fill with sendfile.
 */
#include <string.h>

#include "protocol/messages.h"
#include "protocol/messages_int.h"
#include "tandem/error.h"

/* ---- Produce (ProduceRequest.json / ProduceResponse.json) --------------------------------------
 *
 * Request:
 *   transactional_id NULLABLE_STRING, v3+
 *   acks INT16
 *   timeout_ms INT32
 *   topics ARRAY: name STRING,
 *     partitions ARRAY: index INT32, records NULLABLE_BYTES (record batches)
 */

int kafka_parse_produce_request(struct kr *r, int16_t version, struct arena *a,
                                struct produce_req *out)
{
    int rc = 0;
    if (version < 0 || version > 8)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->transactional_id = version >= 3 ? kr_string(r) : KSTR_NULL;
    out->acks = kr_i16(r);
    out->timeout_ms = kr_i32(r);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct produce_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, W_I32 + W_BYT);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            t->partitions[j].index = kr_i32(r);
            t->partitions[j].records = kr_bytes(r);
        }
    }
    return msg_end(r);
}

/*
 * Response:
 *   responses ARRAY: name STRING,
 *     partitions ARRAY: index INT32, error_code INT16, base_offset INT64,
 *       log_append_time_ms INT64 (v2+), log_start_offset INT64 (v5+),
 *       record_errors ARRAY (v8+): batch_index INT32, batch_index_error_message NULLABLE_STRING,
 *       error_message NULLABLE_STRING (v8+)
 *   throttle_time_ms INT32, v1+ (after the topics, unlike most responses)
 */
void kafka_encode_produce_response(struct kw *w, int16_t version, const struct produce_resp *resp)
{
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct produce_resp_topic *t = &resp->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct produce_resp_partition *p = &t->partitions[j];
            kw_i32(w, p->index);
            kw_i16(w, p->error_code);
            kw_i64(w, p->base_offset);
            if (version >= 2)
                kw_i64(w, p->log_append_time_ms);
            if (version >= 5)
                kw_i64(w, p->log_start_offset);
            if (version >= 8) {
                kw_array(w, p->nrecord_errors);
                for (int32_t k = 0; k < p->nrecord_errors; k++) {
                    kw_i32(w, p->record_errors[k].batch_index);
                    kw_string(w, p->record_errors[k].batch_index_error_message);
                }
                kw_string(w, p->error_message);
            }
        }
    }
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
}

/* ---- Fetch (FetchRequest.json / FetchResponse.json) --------------------------------------------
 *
 * Request:
 *   replica_id INT32, max_wait_ms INT32, min_bytes INT32,
 *   max_bytes INT32 (v3+), isolation_level INT8 (v4+),
 *   session_id INT32 (v7+), session_epoch INT32 (v7+),
 *   topics ARRAY: topic STRING,
 *     partitions ARRAY: partition INT32, current_leader_epoch INT32 (v9+), fetch_offset INT64,
 *       log_start_offset INT64 (v5+), partition_max_bytes INT32
 *   forgotten_topics_data ARRAY (v7+): topic STRING, partitions [INT32]
 *   rack_id STRING (v11+)
 */

static size_t fetch_partition_min_size(int16_t version)
{
    return W_I32 + (version >= 9 ? W_I32 : 0) + W_I64 + (version >= 5 ? W_I64 : 0) + W_I32;
}

static int parse_fetch_topics(struct kr *r, int16_t version, struct arena *a, struct fetch_req *out)
{
    int rc = 0;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct fetch_req_topic *t = &out->topics[i];
        t->topic = msg_string(r);
        t->npartitions = msg_array(r, fetch_partition_min_size(version));
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            struct fetch_req_partition *p = &t->partitions[j];
            p->partition = kr_i32(r);
            p->current_leader_epoch = version >= 9 ? kr_i32(r) : -1;
            p->fetch_offset = kr_i64(r);
            p->log_start_offset = version >= 5 ? kr_i64(r) : -1;
            p->partition_max_bytes = kr_i32(r);
        }
    }
    return 0;
}

int kafka_parse_fetch_request(struct kr *r, int16_t version, struct arena *a, struct fetch_req *out)
{
    int rc = 0;
    if (version < 0 || version > 11)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->replica_id = kr_i32(r);
    out->max_wait_ms = kr_i32(r);
    out->min_bytes = kr_i32(r);
    out->max_bytes = version >= 3 ? kr_i32(r) : INT32_MAX;
    out->isolation_level = version >= 4 ? kr_i8(r) : 0;
    out->session_id = version >= 7 ? kr_i32(r) : 0;
    out->session_epoch = version >= 7 ? kr_i32(r) : -1;
    rc = parse_fetch_topics(r, version, a, out);
    if (rc)
        return rc;
    if (version >= 7) {
        out->nforgotten = msg_array(r, W_STR + W_ARR);
        MSG_ALLOC(a, out->nforgotten, out->forgotten_topics_data, rc);
        if (rc)
            return rc;
        for (int32_t i = 0; i < out->nforgotten; i++) {
            struct fetch_req_forgotten *f = &out->forgotten_topics_data[i];
            f->topic = msg_string(r);
            rc = msg_read_i32_array(r, a, &f->npartitions, &f->partitions);
            if (rc)
                return rc;
        }
    }
    out->rack_id = version >= 11 ? msg_string(r) : KSTR("");
    return msg_end(r);
}

/*
 * Response:
 *   throttle_time_ms INT32 (v1+), error_code INT16 (v7+), session_id INT32 (v7+),
 *   responses ARRAY: topic STRING,
 *     partitions ARRAY: partition_index INT32, error_code INT16, high_watermark INT64,
 *       last_stable_offset INT64 (v4+), log_start_offset INT64 (v5+),
 *       aborted_transactions NULLABLE ARRAY (v4+): producer_id INT64, first_offset INT64,
 *       preferred_read_replica INT32 (v11+),
 *       records NULLABLE_BYTES (RECORDS)
 */

static void encode_fetch_records(struct kw *w, const struct fetch_resp_partition *p)
{
    if (p->records_ext) {
        kw_i32(w, (int32_t)p->records_ext_len);
        kw_splice(w, p->records_ext, p->records_ext_len);
        return;
    }
    kw_bytes(w, p->records);
}

void kafka_encode_fetch_response(struct kw *w, int16_t version, const struct fetch_resp *resp)
{
    if (version >= 1)
        kw_i32(w, resp->throttle_time_ms);
    if (version >= 7) {
        kw_i16(w, resp->error_code);
        kw_i32(w, resp->session_id);
    }
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct fetch_resp_topic *t = &resp->topics[i];
        kw_string(w, t->topic);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct fetch_resp_partition *p = &t->partitions[j];
            kw_i32(w, p->partition_index);
            kw_i16(w, p->error_code);
            kw_i64(w, p->high_watermark);
            if (version >= 4)
                kw_i64(w, p->last_stable_offset);
            if (version >= 5)
                kw_i64(w, p->log_start_offset);
            if (version >= 4) {
                kw_array(w, p->naborted);
                for (int32_t k = 0; k < p->naborted; k++) {
                    kw_i64(w, p->aborted_transactions[k].producer_id);
                    kw_i64(w, p->aborted_transactions[k].first_offset);
                }
            }
            if (version >= 11)
                kw_i32(w, p->preferred_read_replica);
            encode_fetch_records(w, p);
        }
    }
}

/* ---- ListOffsets (ListOffsetsRequest.json / ListOffsetsResponse.json) ---------------------------
 *
 * Request:
 *   replica_id INT32, isolation_level INT8 (v2+),
 *   topics ARRAY: name STRING,
 *     partitions ARRAY: partition_index INT32, current_leader_epoch INT32 (v4+),
 *       timestamp INT64 (-1 latest, -2 earliest), max_num_offsets INT32 (v0 only)
 */

int kafka_parse_list_offsets_request(struct kr *r, int16_t version, struct arena *a,
                                     struct list_offsets_req *out)
{
    int rc = 0;
    if (version < 0 || version > 5)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->replica_id = kr_i32(r);
    out->isolation_level = version >= 2 ? kr_i8(r) : 0;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    MSG_ALLOC(a, out->ntopics, out->topics, rc);
    if (rc)
        return rc;
    size_t pmin = W_I32 + (version >= 4 ? W_I32 : 0) + W_I64 + (version == 0 ? W_I32 : 0);
    for (int32_t i = 0; i < out->ntopics; i++) {
        struct list_offsets_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, pmin);
        MSG_ALLOC(a, t->npartitions, t->partitions, rc);
        if (rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions; j++) {
            struct list_offsets_req_partition *p = &t->partitions[j];
            p->partition_index = kr_i32(r);
            p->current_leader_epoch = version >= 4 ? kr_i32(r) : -1;
            p->timestamp = kr_i64(r);
            p->max_num_offsets = version == 0 ? kr_i32(r) : 1;
        }
    }
    return msg_end(r);
}

/*
 * Response:
 *   throttle_time_ms INT32 (v2+),
 *   topics ARRAY: name STRING,
 *     partitions ARRAY: partition_index INT32, error_code INT16,
 *       old_style_offsets [INT64] (v0 only), timestamp INT64 (v1+), offset INT64 (v1+),
 *       leader_epoch INT32 (v4+)
 */
void kafka_encode_list_offsets_response(struct kw *w, int16_t version,
                                        const struct list_offsets_resp *resp)
{
    if (version >= 2)
        kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct list_offsets_resp_topic *t = &resp->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct list_offsets_resp_partition *p = &t->partitions[j];
            kw_i32(w, p->partition_index);
            kw_i16(w, p->error_code);
            if (version == 0) {
                kw_array(w, p->nold_style_offsets);
                for (int32_t k = 0; k < p->nold_style_offsets; k++)
                    kw_i64(w, p->old_style_offsets[k]);
            } else {
                kw_i64(w, p->timestamp);
                kw_i64(w, p->offset);
            }
            if (version >= 4)
                kw_i32(w, p->leader_epoch);
        }
    }
}
