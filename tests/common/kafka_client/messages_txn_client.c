/*
 * Client direction of the transaction codecs (messages_txn_client.h). Field order and versions
 * as in src/broker/protocol/messages_txn.c.
 */
#include <string.h>

#include "kafka_client/messages_txn_client.h"
#include "protocol/messages_int.h"
#include "tandem/error.h"

void kafka_encode_add_partitions_to_txn_request(struct kw *w, int16_t version,
                                                const struct add_partitions_to_txn_req *req)
{
    (void)version;
    kw_string(w, req->transactional_id);
    kw_i64(w, req->producer_id);
    kw_i16(w, req->producer_epoch);
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        kw_string(w, req->topics[i].name);
        msg_write_i32_array(w, req->topics[i].npartitions, req->topics[i].partitions);
    }
}

/* Reads topics [name, [partition_index INT32, error_code INT16]] (both results use it). */
static int parse_results(struct kr *r, struct arena *a, int32_t *ntopics,
                         struct add_partitions_to_txn_resp_topic **topics)
{
    int rc = 0;
    *ntopics = msg_array(r, W_STR + W_ARR);
    if (MSG_ALLOC(a, *ntopics, *topics, rc), rc)
        return rc;
    for (int32_t i = 0; i < *ntopics && !r->err; i++) {
        struct add_partitions_to_txn_resp_topic *t = &(*topics)[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, W_I32 + W_I16);
        if (MSG_ALLOC(a, t->npartitions, t->partitions, rc), rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions && !r->err; j++) {
            t->partitions[j].partition_index = kr_i32(r);
            t->partitions[j].error_code = kr_i16(r);
        }
    }
    return 0;
}

int kafka_parse_add_partitions_to_txn_response(struct kr *r, int16_t version, struct arena *a,
                                               struct add_partitions_to_txn_resp *out)
{
    if (version < 0 || version > KAFKA_TXN_MAX_VERSION)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    int rc = parse_results(r, a, &out->ntopics, &out->topics);
    return rc ? rc : msg_end(r);
}

void kafka_encode_add_offsets_to_txn_request(struct kw *w, int16_t version,
                                             const struct add_offsets_to_txn_req *req)
{
    (void)version;
    kw_string(w, req->transactional_id);
    kw_i64(w, req->producer_id);
    kw_i16(w, req->producer_epoch);
    kw_string(w, req->group_id);
}

static int parse_simple(struct kr *r, int16_t version, struct txn_simple_resp *out)
{
    if (version < 0 || version > KAFKA_TXN_MAX_VERSION)
        return TANDEM_EUNSUPPORTED;
    out->throttle_time_ms = kr_i32(r);
    out->error_code = kr_i16(r);
    return msg_end(r);
}

int kafka_parse_add_offsets_to_txn_response(struct kr *r, int16_t version, struct arena *a,
                                            struct txn_simple_resp *out)
{
    (void)a;
    return parse_simple(r, version, out);
}

void kafka_encode_end_txn_request(struct kw *w, int16_t version, const struct end_txn_req *req)
{
    (void)version;
    kw_string(w, req->transactional_id);
    kw_i64(w, req->producer_id);
    kw_i16(w, req->producer_epoch);
    kw_bool(w, req->committed);
}

int kafka_parse_end_txn_response(struct kr *r, int16_t version, struct arena *a,
                                 struct txn_simple_resp *out)
{
    (void)a;
    return parse_simple(r, version, out);
}

void kafka_encode_txn_offset_commit_request(struct kw *w, int16_t version,
                                            const struct txn_offset_commit_req *req)
{
    kw_string(w, req->transactional_id);
    kw_string(w, req->group_id);
    kw_i64(w, req->producer_id);
    kw_i16(w, req->producer_epoch);
    kw_array(w, req->ntopics);
    for (int32_t i = 0; i < req->ntopics; i++) {
        const struct txn_offset_commit_req_topic *t = &req->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct txn_offset_commit_req_partition *p = &t->partitions[j];
            kw_i32(w, p->partition_index);
            kw_i64(w, p->committed_offset);
            if (version >= 2)
                kw_i32(w, p->committed_leader_epoch);
            kw_string(w, p->committed_metadata);
        }
    }
}

int kafka_parse_txn_offset_commit_response(struct kr *r, int16_t version, struct arena *a,
                                           struct txn_offset_commit_resp *out)
{
    if (version < 0 || version > KAFKA_TXN_MAX_VERSION)
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->throttle_time_ms = kr_i32(r);
    int rc = 0;
    out->ntopics = msg_array(r, W_STR + W_ARR);
    if (MSG_ALLOC(a, out->ntopics, out->topics, rc), rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics && !r->err; i++) {
        struct txn_offset_commit_resp_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, W_I32 + W_I16);
        if (MSG_ALLOC(a, t->npartitions, t->partitions, rc), rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions && !r->err; j++) {
            t->partitions[j].partition_index = kr_i32(r);
            t->partitions[j].error_code = kr_i16(r);
        }
    }
    return msg_end(r);
}
