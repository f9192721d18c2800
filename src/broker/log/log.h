/*
 * Storage: topics, partitions and their segment logs (Kafka's log model, one node).
 *
 * CONTRACT (the broker relies on exactly this; internals are free):
 *
 * Layout under the data dir:
 *   <data-dir>/<topic>-<partition>/00000000000000000000.log        record batches, verbatim
 *   <data-dir>/<topic>-<partition>/00000000000000000000.index      sparse offset index
 *   <data-dir>/<topic>-<partition>/00000000000000000000.timeindex  sparse time index
 *   <data-dir>/<topic>.topic                                       topic config (key=value lines)
 * File names are the segment's base offset, 20 digits, as in Kafka.
 *
 * Threads: every function is called from the broker's loop thread, except plog_sync(),
 * plog_durable_offset() and log_slice_release(), which the flusher thread may call at any time
 * concurrently with appends, rolls and retention on the loop thread. (A plog is not freed while
 * the flusher may use it: the broker stops the flusher from touching a partition before it
 * deletes its topic, see logmgr_delete_topic.)
 *
 * Offsets: log start offset (first offset still served: the first segment's base offset, or above
 * it after DeleteRecords), log end offset (next offset to be assigned; on one node this is also
 * the high watermark), last stable offset (below the first offset of every open transaction; the
 * log end offset when none is open).
 */
#ifndef TANDEM_LOG_LOG_H
#define TANDEM_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/file_slice.h"
#include "protocol/record_batch.h"

struct log_config {
    uint64_t segment_bytes;        /* roll when the active .log would exceed this (1 GiB) */
    int64_t segment_ms;            /* roll when the active segment is older than this (7 d) */
    int64_t retention_bytes;       /* per partition; -1 = unlimited (default -1) */
    int64_t retention_ms;          /* -1 = forever (default 7 d) */
    uint32_t index_interval_bytes; /* an index entry every this many bytes (4096) */
    uint32_t max_message_bytes;    /* largest batch accepted (1 MiB + 12 bytes like Kafka) */
    bool log_append_time;          /* message.timestamp.type=LogAppendTime */
};

/* Fills Kafka's defaults. */
void log_config_defaults(struct log_config *cfg);
/* Applies one Kafka topic config ("retention.ms", "retention.bytes", "segment.bytes",
 * "segment.ms", "max.message.bytes", "message.timestamp.type", "cleanup.policy" (only
 * "delete"), "index.interval.bytes"); unknown keys or bad values return TANDEM_EINVAL. */
int log_config_set(struct log_config *cfg, const char *key, const char *value);

/* Writes the value of one topic config (a key log_config_set knows) as text into buf; returns
 * 0, or TANDEM_EINVAL for a key it does not know. */
int log_config_get(const struct log_config *cfg, const char *key, char *buf, size_t len);

/* ---- one partition's log --------------------------------------------------------------------- */

struct plog;

/* Reads hand out file slices (base/file_slice.h): whole batches, a byte range of one segment
 * file. A slice's ref is a reference on its segment, so the file stays readable (even after
 * retention deletes it) until log_slice_release(), which is idempotent. */
void log_slice_release(struct file_slice *s);

/* Result of an append. */
struct log_append_info {
    int64_t base_offset;     /* offset given to the first batch (the original's for a dup) */
    int64_t log_append_time; /* the time set in the batches written with LogAppendTime, else -1 */
    int64_t log_start_offset;
};

/*
 * Appends the n batches one Produce request has for this partition, all or nothing.
 *
 * buf holds the batches back to back (len bytes) and hdr[i] is batch i's header, as
 * kbatch_validate read it from exactly these bytes: the log trusts hdr and parses nothing again
 * (it only checks that the sizes add up to len, else TANDEM_EINVAL, and that no batch exceeds
 * max.message.bytes, else TANDEM_ETOOLARGE).
 *
 * Idempotence (KIP-98): each batch whose producerId >= 0 is checked against its producer's state
 * as the batches before it in this append leave it, so a request may carry consecutive batches
 * of one producer:
 *   - same epoch, baseSequence == last sequence + 1 (or 0 after an epoch bump): appended;
 *   - a batch equal to one of the last 5 appended for that producer (same epoch, base and last
 *     sequence): a duplicate, not written again (success, with the original's offset);
 *   - a sequence gap, or an unknown producer with a non-zero sequence: TANDEM_EOUTOFORDER;
 *   - an epoch lower than the known one: TANDEM_EFENCED.
 * Every batch is checked before anything is written: on any error nothing is appended.
 *
 * Then the log sets baseOffset and partitionLeaderEpoch in the caller's buffer (hence non-const;
 * and LogAppendTime with a new CRC when configured), moves the batches to write to the front of
 * buf when duplicates sit between them, rolls the segment first when the whole append would not
 * fit, writes them with one write(2) (so the bytes reached the OS when this returns), adds index
 * entries and records the producers' new state. Readers see the append only once it is whole.
 *
 * Returns 0 (info filled), TANDEM_EDUPSEQ when every batch is a duplicate (nothing written;
 * info->base_offset is the first one's original), TANDEM_EOUTOFORDER, TANDEM_EFENCED,
 * TANDEM_ETOOLARGE (also: offsets spanning more than a segment can index, 2^32), TANDEM_EINVAL,
 * or TANDEM_EIO (a roll or the write failed: the segment is cut back to where the append began,
 * so the log is unchanged).
 */
int plog_append(struct plog *l, uint8_t *buf, size_t len, const struct kbatch *hdr, int n,
                struct log_append_info *info);

/*
 * Finds the batches to serve a fetch at `offset`: starting with the batch that contains offset
 * (which may start before it), whole batches of one segment up to max_bytes, but always at least
 * one whole batch. Returns 0 with s->len == 0 when offset == log end offset;
 * TANDEM_ERANGE when offset < log start offset or > log end offset.
 */
int plog_read(struct plog *l, int64_t offset, uint32_t max_bytes, struct file_slice *s);

/* plog_read, but only batches whose base offset is below upto (read_committed fetches pass the
 * last stable offset): s->len == 0 when the batch holding offset starts at or after upto. */
int plog_read_upto(struct plog *l, int64_t offset, uint32_t max_bytes, int64_t upto,
                   struct file_slice *s);

/* ---- transactions (KIP-98; log/txn.c) ---------------------------------------------------------
 *
 * Every partition tracks, from the batches appended (and, at open, from a scan of every batch
 * header), which producers have a transaction open on it (transactional batches since their last
 * control batch) and which transactions were aborted (an abort marker closed them). */

struct log_aborted_txn {
    int64_t producer_id;
    int64_t first_offset; /* the transaction's first batch on this partition */
    int64_t last_offset;  /* its abort marker's offset */
};

/* The last stable offset: the first offset of the earliest open transaction, else the log end
 * offset (the high watermark, on one node). */
int64_t plog_last_stable_offset(const struct plog *l);
/* The aborted transactions that overlap [from, to): last_offset >= from and first_offset < to,
 * in marker order. Copies at most cap of them to out and returns how many there are. */
size_t plog_aborted_txns(const struct plog *l, int64_t from, int64_t to,
                         struct log_aborted_txn *out, size_t cap);
/* The first offset of producer pid's open transaction on this partition, or -1 when it has
 * none. */
int64_t plog_txn_first_offset(const struct plog *l, int64_t pid);
/* Copies the producer ids of at most cap open transactions to pids; returns how many there are. */
int plog_open_txns(const struct plog *l, int64_t *pids, int cap);
/* Appends a transaction marker (a control batch, attributes transactional + control, one record
 * of Kafka's EndTransactionMarker) for producer pid at epoch: commit or abort. *offset gets its
 * offset. Returns plog_append's errors (TANDEM_EIO). */
int plog_append_marker(struct plog *l, int64_t pid, int16_t epoch, bool commit,
                       int32_t coordinator_epoch, int64_t *offset);

/* Offset for ListOffsets by time: the first offset whose batch maxTimestamp >= ts, and that
 * batch's timestamp. TANDEM_ENOENT when none (caller answers -1). */
int plog_offset_for_time(struct plog *l, int64_t ts, int64_t *offset, int64_t *timestamp);

int64_t plog_start_offset(const struct plog *l);
int64_t plog_end_offset(const struct plog *l);
uint64_t plog_size_bytes(const struct plog *l);

/* Makes every byte appended so far durable (fdatasync of each segment with unsynced data) and
 * returns the end offset it covered in *durable. Thread-safe against the loop thread. */
int plog_sync(struct plog *l, int64_t *durable);
/* The highest end offset known to be on stable storage. Thread-safe. */
int64_t plog_durable_offset(struct plog *l);

/* DeleteRecords: moves the log start offset up to offset (0 <= offset <= log end offset, else
 * TANDEM_ERANGE), durably: the records below it are synced, then "<dir>/log-start-offset" is
 * replaced atomically, and only then does the start move and are the segments wholly below it
 * (never the active one) removed. An offset at or below the current start changes nothing.
 * *low_watermark gets the log start offset after the call. TANDEM_EIO when the sync or the
 * file write failed (nothing changed). Loop thread. */
int plog_delete_records(struct plog *l, int64_t offset, int64_t *low_watermark);

/* Deletes whole segments past retention (never the active one); rolls an aged active segment.
 * Returns how many segments were deleted. */
int plog_maintain(struct plog *l, int64_t now_ms);

/* ---- topics ---------------------------------------------------------------------------------- */

/* The most partitions a topic may have (as librdkafka's RD_KAFKAP_PARTITIONS_MAX). */
#define LOG_MAX_PARTITIONS 100000

struct topic {
    char *name;
    int32_t npartitions;
    struct plog **partitions; /* replaced by logmgr_add_partitions: never keep this array */
    struct log_config cfg;
};

struct logmgr;

/* Opens (creating if needed) a data dir, loads every topic and recovers every partition:
 * checks every batch after the last known-good point (lengths, CRC-32C), truncates a torn or
 * corrupt tail, rebuilds missing or damaged indexes, rebuilds producer state, logs what it did.
 * defaults is copied. */
int logmgr_open(const char *data_dir, const struct log_config *defaults, struct logmgr **out);
void logmgr_close(struct logmgr *m); /* syncs and closes everything */

struct topic *logmgr_find(struct logmgr *m, const char *name, size_t name_len);
/* Calls fn for each topic, in name order. */
void logmgr_foreach(struct logmgr *m, void (*fn)(struct topic *t, void *arg), void *arg);
int logmgr_topic_count(const struct logmgr *m);

/* Creates a topic; configs are n key/value pairs applied over the defaults (see
 * log_config_set). TANDEM_EEXIST, TANDEM_EINVAL (bad name, partitions < 1, bad config). */
int logmgr_create_topic(struct logmgr *m, const char *name, int32_t npartitions,
                        const char *const *keys, const char *const *values, int nconfigs,
                        struct topic **out);
/* Grows a topic to npartitions: creates and opens the new partitions, then commits the new count
 * to "<topic>.topic" (atomic replace). On success t->partitions is a NEW array (the old one is
 * freed; the plogs in it are unchanged) and t->npartitions the new count; on failure the topic is
 * unchanged on disk and in memory. TANDEM_ENOENT (unknown topic), TANDEM_EINVAL (npartitions not
 * above the current count, above 100000, or a directory name too long), TANDEM_EIO. */
int logmgr_add_partitions(struct logmgr *m, const char *name, int32_t npartitions);
/* A topic's config overrides (the key=value lines of its .topic file): returns their count and
 * points *keys and *values at them, borrowed until the next logmgr_set_topic_configs. */
int logmgr_topic_overrides(const struct topic *t, const char *const **keys,
                           const char *const **values);
/* The settings a topic's overrides apply over (the broker's log.* settings). */
const struct log_config *logmgr_defaults(const struct logmgr *m);
/* Replaces the overrides of topic `name` with the n pairs given (AlterConfigs; an empty set
 * means every setting follows the defaults). Each pair is checked with log_config_set over the
 * defaults first: on a bad key or value returns TANDEM_EINVAL with *bad its index, changing
 * nothing. Then, unless validate_only, the .topic file is replaced atomically (the commit point,
 * so the change survives a restart) and the new settings take effect at once: the topic's
 * partitions read t->cfg on every append and retention pass. TANDEM_ENOENT (unknown topic),
 * TANDEM_EIO (the file could not be written: nothing changed). */
int logmgr_set_topic_configs(struct logmgr *m, const char *name, const char *const *keys,
                             const char *const *values, int n, bool validate_only, int *bad);
/* Removes a topic and its files. TANDEM_ENOENT if unknown. */
int logmgr_delete_topic(struct logmgr *m, const char *name);

/* Kafka's topic name rules: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". */
bool topic_name_valid(const char *name, size_t len);

#endif
