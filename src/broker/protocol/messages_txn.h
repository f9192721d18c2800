/*
 * Codecs of the transaction APIs (KIP-98): AddPartitionsToTxn (24), AddOffsetsToTxn (25),
 * EndTxn (26) and TxnOffsetCommit (28), each at versions 0-2, the versions below their first
 * flexible one (3 for all four). InitProducerId and FindCoordinator, which transactions use too,
 * keep their codecs in messages_admin.c and messages_group.c.
 *
 * Same model as messages.h: parsers are pure functions over the request body, strings point into
 * the frame, arrays come from the request's arena after their counts were checked against the
 * bytes left, and anything malformed is TANDEM_EPROTO (TANDEM_EUNSUPPORTED outside 0-2). The
 * other direction (request encoders, response parsers) is in tests/common/kafka_client.
 *
 * Spec: Apache Kafka clients/src/main/resources/common/message/{AddPartitionsToTxn,
 * AddOffsetsToTxn,EndTxn,TxnOffsetCommit}{Request,Response}.json.
 */
#ifndef TANDEM_PROTOCOL_MESSAGES_TXN_H
#define TANDEM_PROTOCOL_MESSAGES_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/kbuf.h"

#define KAFKA_TXN_MAX_VERSION 2

/* ---- AddPartitionsToTxn (24), v0-2: v1 and v2 only change how errors are reported ---------- */

struct add_partitions_to_txn_req_topic {
    struct kstr name;
    int32_t npartitions;
    int32_t *partitions;
};

struct add_partitions_to_txn_req {
    struct kstr transactional_id;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t ntopics;
    struct add_partitions_to_txn_req_topic *topics;
};

struct add_partitions_to_txn_resp_partition {
    int32_t partition_index;
    int16_t error_code;
};

struct add_partitions_to_txn_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct add_partitions_to_txn_resp_partition *partitions;
};

struct add_partitions_to_txn_resp {
    int32_t throttle_time_ms;
    int32_t ntopics;
    struct add_partitions_to_txn_resp_topic *topics;
};

int kafka_parse_add_partitions_to_txn_request(struct kr *r, int16_t version, struct arena *a,
                                              struct add_partitions_to_txn_req *out);
void kafka_encode_add_partitions_to_txn_response(struct kw *w, int16_t version,
                                                 const struct add_partitions_to_txn_resp *resp);

/* ---- AddOffsetsToTxn (25), v0-2 ---------------------------------------------------------- */

struct add_offsets_to_txn_req {
    struct kstr transactional_id;
    int64_t producer_id;
    int16_t producer_epoch;
    struct kstr group_id;
};

/* Also EndTxn's response: the same two fields. */
struct txn_simple_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
};

int kafka_parse_add_offsets_to_txn_request(struct kr *r, int16_t version, struct arena *a,
                                           struct add_offsets_to_txn_req *out);
void kafka_encode_add_offsets_to_txn_response(struct kw *w, int16_t version,
                                              const struct txn_simple_resp *resp);

/* ---- EndTxn (26), v0-2 ------------------------------------------------------------------- */

struct end_txn_req {
    struct kstr transactional_id;
    int64_t producer_id;
    int16_t producer_epoch;
    bool committed;
};

int kafka_parse_end_txn_request(struct kr *r, int16_t version, struct arena *a,
                                struct end_txn_req *out);
void kafka_encode_end_txn_response(struct kw *w, int16_t version,
                                   const struct txn_simple_resp *resp);

/* ---- TxnOffsetCommit (28), v0-2: v2 adds CommittedLeaderEpoch ----------------------------- */

struct txn_offset_commit_req_partition {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v2+, else -1 */
    struct kstr committed_metadata; /* nullable */
};

struct txn_offset_commit_req_topic {
    struct kstr name;
    int32_t npartitions;
    struct txn_offset_commit_req_partition *partitions;
};

struct txn_offset_commit_req {
    struct kstr transactional_id;
    struct kstr group_id;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t ntopics;
    struct txn_offset_commit_req_topic *topics;
};

struct txn_offset_commit_resp_partition {
    int32_t partition_index;
    int16_t error_code;
};

struct txn_offset_commit_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct txn_offset_commit_resp_partition *partitions;
};

struct txn_offset_commit_resp {
    int32_t throttle_time_ms;
    int32_t ntopics;
    struct txn_offset_commit_resp_topic *topics;
};

int kafka_parse_txn_offset_commit_request(struct kr *r, int16_t version, struct arena *a,
                                          struct txn_offset_commit_req *out);
void kafka_encode_txn_offset_commit_response(struct kw *w, int16_t version,
                                             const struct txn_offset_commit_resp *resp);

#endif
