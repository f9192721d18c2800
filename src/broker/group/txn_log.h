/*
 * The transaction log: the transaction coordinator's state on disk (Kafka's
 * __transaction_state topic, as one file).
 *
 * One append-only file, <data-dir>/__transaction_state/txn.log, of self-checking records, each
 * the whole state of one transactional id after a change (later records win, as in Kafka's
 * compacted topic):
 *
 *   OFFSET SIZE FIELD
 *   0      4    length N of the body that follows the CRC (big-endian)
 *   4      4    CRC-32C of the N body bytes
 *   8      1    type: 1 = transaction state
 *   9      2+T  transactional id STRING
 *   ..     8    producer id
 *   ..     2    producer epoch
 *   ..     1    state (enum txn_state)
 *   ..     4    transaction timeout ms
 *   ..     8    transaction start, wall-clock ms (-1 when none)
 *   ..     4    partition count, then each: topic STRING, partition INT32, end INT64 (the
 *               partition's end offset when a Prepare record was written, else -1: recovery
 *               closes only a transaction that began below it)
 *   ..     4    group count, then each: group id STRING
 *   ..     4    offset count, then each (only in PrepareCommit records: the offsets the commit
 *               makes visible): group STRING, topic STRING, partition INT32, offset INT64,
 *               leader epoch INT32, metadata NULLABLE_STRING
 *
 * (STRING = INT16 length + bytes, as on the Kafka wire.) An append is written and, when the
 * coordinator's next step depends on it, fdatasync'ed before it returns. Open replays every good
 * record through a callback and truncates a torn or corrupt tail. txn_log_rewrite_* replace the
 * file by a snapshot (temporary file, fsync, rename, fsync of the directory), which the
 * coordinator does at start-up and when the file has grown past its live data.
 */
#ifndef TANDEM_GROUP_TXN_LOG_H
#define TANDEM_GROUP_TXN_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/kbuf.h"

/* Kafka's TransactionState, less the states a single node never rests in. */
enum txn_state {
    TXN_EMPTY = 0,
    TXN_ONGOING = 1,
    TXN_PREPARE_COMMIT = 2,
    TXN_PREPARE_ABORT = 3,
    TXN_COMPLETE_COMMIT = 4,
    TXN_COMPLETE_ABORT = 5,
};

struct txn_rec_partition {
    struct kstr topic;
    int32_t partition;
    int64_t end; /* the partition's end offset when the transaction was prepared, else -1 */
};

struct txn_rec_offset {
    struct kstr group, topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    struct kstr metadata; /* nullable */
};

struct txn_record {
    struct kstr transactional_id;
    int64_t producer_id;
    int16_t producer_epoch;
    int8_t state;
    int32_t timeout_ms;
    int64_t start_ms;
    int32_t npartitions;
    struct txn_rec_partition *partitions;
    int32_t ngroups;
    struct kstr *groups;
    int32_t noffsets;
    struct txn_rec_offset *offsets;
};

struct txn_log;

/* Called for every good record at open, in file order; strings and arrays are valid only during
 * the call. */
typedef void (*txn_log_replay_fn)(const struct txn_record *rec, void *arg);

/* Opens (creating) the log under data_dir, replaying it through fn. 0, TANDEM_EIO. */
int txn_log_open(const char *data_dir, txn_log_replay_fn fn, void *arg, struct txn_log **out);
void txn_log_close(struct txn_log *l);
/* Appends one record, durable when it returns if sync (fdatasync; else it reaches the disk with
 * the next synced append, or the OS's writeback). 0 or TANDEM_EIO (the file is as before). */
int txn_log_append(struct txn_log *l, const struct txn_record *rec, bool sync);
/* Bytes in the file. */
uint64_t txn_log_size(const struct txn_log *l);

/* Replaces the file by a snapshot: begin, add each live record, commit (durable, atomic). On any
 * failure the old file stays in use. */
void txn_log_rewrite_begin(struct txn_log *l);
void txn_log_rewrite_add(struct txn_log *l, const struct txn_record *rec);
int txn_log_rewrite_commit(struct txn_log *l);

/* Codec of one record body (pure; the unit test and the fuzzer use them). decode returns 0 or
 * TANDEM_ECORRUPT; arrays come from a. */
void txn_record_encode(struct kw *w, const struct txn_record *rec);
int txn_record_decode(const uint8_t *p, size_t n, struct arena *a, struct txn_record *out);

#endif
