/*
 * The client side of the transaction codecs in protocol/messages_txn.h: request encoders and
 * response parsers for AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit, v0-2.
 * Conventions are those of messages_group_client.h. The broker never calls these; the codec unit
 * test and the fuzzer do.
 */
#ifndef TANDEM_KAFKA_CLIENT_MESSAGES_TXN_CLIENT_H
#define TANDEM_KAFKA_CLIENT_MESSAGES_TXN_CLIENT_H

#include "base/kbuf.h"
#include "protocol/messages_txn.h"

void kafka_encode_add_partitions_to_txn_request(struct kw *w, int16_t version,
                                                const struct add_partitions_to_txn_req *req);
int kafka_parse_add_partitions_to_txn_response(struct kr *r, int16_t version, struct arena *a,
                                               struct add_partitions_to_txn_resp *out);

void kafka_encode_add_offsets_to_txn_request(struct kw *w, int16_t version,
                                             const struct add_offsets_to_txn_req *req);
int kafka_parse_add_offsets_to_txn_response(struct kr *r, int16_t version, struct arena *a,
                                            struct txn_simple_resp *out);

void kafka_encode_end_txn_request(struct kw *w, int16_t version, const struct end_txn_req *req);
int kafka_parse_end_txn_response(struct kr *r, int16_t version, struct arena *a,
                                 struct txn_simple_resp *out);

void kafka_encode_txn_offset_commit_request(struct kw *w, int16_t version,
                                            const struct txn_offset_commit_req *req);
int kafka_parse_txn_offset_commit_response(struct kr *r, int16_t version, struct arena *a,
                                           struct txn_offset_commit_resp *out);

#endif
