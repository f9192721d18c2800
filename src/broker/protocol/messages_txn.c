/*
 * Transaction API codecs (messages_txn.h): AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and
 * TxnOffsetCommit at versions 0-2. None of these versions is flexible, so every field uses the
 * classic encodings (INT16-length strings, INT32-count arrays) and the headers are v1 / v0.
 *
 * Spec: Apache Kafka clients/src/main/resources/common/message/<Name>{Request,Response}.json.
 */
#include <string.h>

#include "protocol/messages_int.h"
#include "protocol/messages_txn.h"
#include "tandem/error.h"

static bool txn_version_ok(int16_t version)
{
    return version >= 0 && version <= KAFKA_TXN_MAX_VERSION;
}

/* ---- AddPartitionsToTxn (AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json) --
 *
 * Request:
 *   transactional_id STRING
 *   producer_id INT64
 *   producer_epoch INT16
 *   topics ARRAY: name STRING, partitions [INT32]
 *
 * Response:
 *   throttle_time_ms INT32
 *   results ARRAY: name STRING, results ARRAY: partition_index INT32, error_code INT16
 */

int kafka_parse_add_partitions_to_txn_request(struct kr *r, int16_t version, struct arena *a,
                                              struct add_partitions_to_txn_req *out)
{
    int rc = 0;
    if (!txn_version_ok(version))
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->transactional_id = msg_string(r);
    out->producer_id = kr_i64(r);
    out->producer_epoch = kr_i16(r);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    if (MSG_ALLOC(a, out->ntopics, out->topics, rc), rc)
        return rc;
    for (int32_t i = 0; i < out->ntopics && !r->err; i++) {
        struct add_partitions_to_txn_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        rc = msg_read_i32_array(r, a, &t->npartitions, &t->partitions);
        if (rc)
            return rc;
    }
    return msg_end(r);
}

void kafka_encode_add_partitions_to_txn_response(struct kw *w, int16_t version,
                                                 const struct add_partitions_to_txn_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct add_partitions_to_txn_resp_topic *t = &resp->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            kw_i32(w, t->partitions[j].partition_index);
            kw_i16(w, t->partitions[j].error_code);
        }
    }
}

/* ---- AddOffsetsToTxn (AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json) ----------
 *
 * Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, group_id STRING
 * Response: throttle_time_ms INT32, error_code INT16
 */

int kafka_parse_add_offsets_to_txn_request(struct kr *r, int16_t version, struct arena *a,
                                           struct add_offsets_to_txn_req *out)
{
    (void)a;
    if (!txn_version_ok(version))
        return TANDEM_EUNSUPPORTED;
    out->transactional_id = msg_string(r);
    out->producer_id = kr_i64(r);
    out->producer_epoch = kr_i16(r);
    out->group_id = msg_string(r);
    return msg_end(r);
}

void kafka_encode_add_offsets_to_txn_response(struct kw *w, int16_t version,
                                              const struct txn_simple_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
}

/* ---- EndTxn (EndTxnRequest.json / EndTxnResponse.json) --------------------------------------
 *
 * Request:  transactional_id STRING, producer_id INT64, producer_epoch INT16, committed BOOLEAN
 * Response: throttle_time_ms INT32, error_code INT16
 */

int kafka_parse_end_txn_request(struct kr *r, int16_t version, struct arena *a,
                                struct end_txn_req *out)
{
    (void)a;
    if (!txn_version_ok(version))
        return TANDEM_EUNSUPPORTED;
    out->transactional_id = msg_string(r);
    out->producer_id = kr_i64(r);
    out->producer_epoch = kr_i16(r);
    out->committed = kr_bool(r);
    return msg_end(r);
}

void kafka_encode_end_txn_response(struct kw *w, int16_t version,
                                   const struct txn_simple_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_i16(w, resp->error_code);
}

/* ---- TxnOffsetCommit (TxnOffsetCommitRequest.json / TxnOffsetCommitResponse.json) ------------
 *
 * Request:
 *   transactional_id STRING
 *   group_id STRING
 *   producer_id INT64
 *   producer_epoch INT16
 *   topics ARRAY:
 *     name STRING
 *     partitions ARRAY:
 *       partition_index INT32
 *       committed_offset INT64
 *       committed_leader_epoch INT32     v2+
 *       committed_metadata NULLABLE_STRING
 *
 * Response:
 *   throttle_time_ms INT32
 *   topics ARRAY: name STRING, partitions ARRAY: partition_index INT32, error_code INT16
 */

int kafka_parse_txn_offset_commit_request(struct kr *r, int16_t version, struct arena *a,
                                          struct txn_offset_commit_req *out)
{
    int rc = 0;
    if (!txn_version_ok(version))
        return TANDEM_EUNSUPPORTED;
    memset(out, 0, sizeof(*out));
    out->transactional_id = msg_string(r);
    out->group_id = msg_string(r);
    out->producer_id = kr_i64(r);
    out->producer_epoch = kr_i16(r);
    out->ntopics = msg_array(r, W_STR + W_ARR);
    if (MSG_ALLOC(a, out->ntopics, out->topics, rc), rc)
        return rc;
    size_t pmin = W_I32 + W_I64 + (version >= 2 ? W_I32 : 0) + W_STR;
    for (int32_t i = 0; i < out->ntopics && !r->err; i++) {
        struct txn_offset_commit_req_topic *t = &out->topics[i];
        t->name = msg_string(r);
        t->npartitions = msg_array(r, pmin);
        if (MSG_ALLOC(a, t->npartitions, t->partitions, rc), rc)
            return rc;
        for (int32_t j = 0; j < t->npartitions && !r->err; j++) {
            struct txn_offset_commit_req_partition *p = &t->partitions[j];
            p->partition_index = kr_i32(r);
            p->committed_offset = kr_i64(r);
            p->committed_leader_epoch = version >= 2 ? kr_i32(r) : -1;
            p->committed_metadata = kr_string(r);
        }
    }
    return msg_end(r);
}

void kafka_encode_txn_offset_commit_response(struct kw *w, int16_t version,
                                             const struct txn_offset_commit_resp *resp)
{
    (void)version;
    kw_i32(w, resp->throttle_time_ms);
    kw_array(w, resp->ntopics);
    for (int32_t i = 0; i < resp->ntopics; i++) {
        const struct txn_offset_commit_resp_topic *t = &resp->topics[i];
        kw_string(w, t->name);
        kw_array(w, t->npartitions);
        for (int32_t j = 0; j < t->npartitions; j++) {
            kw_i32(w, t->partitions[j].partition_index);
            kw_i16(w, t->partitions[j].error_code);
        }
    }
}
