/*
 * Storage internals: segments, their indexes, producer state, shared by the files of
 * src/broker/log/.
 *
 * Model. A partition (struct plog) is an ordered array of segments. Segment i holds the batches
 * with offsets [base_offset, next_offset); segments are contiguous (segs[i]->next_offset ==
 * segs[i+1]->base_offset) and only the last one (the active segment) is ever written. A segment
 * is three files named after its base offset: .log (batches verbatim), .index and .timeindex
 * (sparse indexes, also kept whole in memory so lookups are binary searches without I/O).
 *
 * Threads and ownership. The loop thread does everything except plog_sync(),
 * plog_durable_offset() and log_slice_release(). plog.lock protects the segment array and the
 * fields the flusher reads (segment size, next_offset, plog end_offset, total_bytes); the loop
 * thread takes it only to publish a change, and reads its own writes without it. Everything else
 * in a segment (indexes, timestamps) is loop-thread only. A segment is reference counted
 * (atomic): the plog's array holds one reference, each file slice and each in-progress
 * plog_sync holds one. The last unref closes the files and frees the memory, on whatever thread
 * drops it; a segment removed from the array is never touched by the loop thread again, which is
 * what makes that safe.
 */
#ifndef TANDEM_LOG_LOG_INT_H
#define TANDEM_LOG_LOG_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "log/log.h"
#include "protocol/record_batch.h"

#define LOG_IDX_ENTRY       8  /* .index entry: relativeOffset u32 BE, position u32 BE */
#define LOG_TIDX_ENTRY      12 /* .timeindex entry: timestamp i64 BE, relativeOffset u32 BE */
#define LOG_PRODUCER_WINDOW 5

struct idx_entry {
    uint32_t rel; /* base offset of the batch - segment base offset */
    uint32_t pos; /* byte position of that batch in the .log */
};

struct tidx_entry {
    int64_t ts;   /* largest maxTimestamp in the segment up to here (strictly increasing) */
    uint32_t rel; /* base offset of the batch that carried it - segment base offset */
};

struct segment {
    atomic_int refs;
    int64_t base_offset;
    int fd;           /* .log, O_RDWR */
    int fd_index;     /* .index; -1 once rolled (the index lives in memory) */
    int fd_timeindex; /* .timeindex; -1 once rolled */
    char *path;       /* "<dir>/<20-digit base offset>", without extension */

    /* Written by the loop thread under plog.lock; read by the flusher under it. */
    uint64_t size;
    int64_t next_offset;
    /* Flusher side, under plog.lock: bytes known to be on stable storage. */
    uint64_t synced_size;

    /* Loop thread only. */
    int64_t created_ms; /* wall clock of the first append (or of the open), for segment.ms */
    int64_t max_ts;     /* largest batch maxTimestamp, INT64_MIN when none */
    int64_t max_ts_offset;
    uint64_t bytes_since_index;
    struct idx_entry *idx;
    uint32_t nidx, idx_cap;
    struct tidx_entry *tidx;
    uint32_t ntidx, tidx_cap;
};

struct producer_batch {
    int32_t base_seq;
    int32_t last_seq;
    int64_t base_offset;
};

struct producer_entry {
    int64_t producer_id; /* -1: free slot */
    int16_t epoch;
    uint8_t n;    /* batches remembered, <= LOG_PRODUCER_WINDOW */
    uint8_t head; /* slot of the most recent one */
    struct producer_batch b[LOG_PRODUCER_WINDOW];
};

struct producer_table {
    struct producer_entry *slots; /* open addressing, linear probing */
    uint32_t cap;                 /* power of two, or 0 */
    uint32_t count;
};

/* A transaction open on a partition: its producer's first offset since its last marker. */
struct ptxn_open {
    int64_t producer_id;
    int64_t first_offset;
};

/* The transactions of a partition (log/txn.c): the open ones, and the aborted ones in marker
 * order (so also in order of last_offset), Kafka's .txnindex kept in memory. */
struct ptxn_state {
    struct ptxn_open *open;
    int nopen, open_cap;
    struct log_aborted_txn *aborted;
    size_t naborted, aborted_cap;
};

struct plog {
    char *dir;
    char *name; /* "<topic>-<partition>", for log lines */
    const struct log_config *cfg;
    pthread_mutex_t lock;
    struct segment **segs;
    int nsegs, segs_cap;
    int64_t end_offset;
    /* Loop thread: the log start offset, >= segs[0]->base_offset (DeleteRecords moves it inside
     * a segment; retention moves it to the first segment kept). Durable in LOG_START_FILE. */
    int64_t log_start;
    uint64_t total_bytes;
    _Atomic int64_t durable;
    struct producer_table producers;
    struct ptxn_state txns;
};

/* What the clean-shutdown marker said about a partition. */
struct plog_hint {
    bool clean;
    int64_t end_offset;
    uint64_t active_size;
};

/* Reads exactly len bytes at pos; 0, TANDEM_EAGAIN at end of file, TANDEM_EIO. */
int log_pread_all(int fd, void *p, size_t len, off_t pos);

/* ---- segment.c ---- */
int seg_open(const char *dir, int64_t base_offset, bool create, struct segment **out);
void seg_ref(struct segment *s);
void seg_unref(struct segment *s);
void seg_unlink(struct segment *s);
/* Appends at s->size; on failure truncates back and returns TANDEM_EIO. Does not move size. */
int seg_write(struct segment *s, const void *p, size_t len);
int seg_read_header(struct segment *s, uint64_t pos, struct kbatch *b);
/* Notes a batch just placed at pos (b->base_offset set) in the indexes, per Kafka's rule. */
void seg_index_batch(struct segment *s, const struct kbatch *b, uint64_t pos, size_t size,
                     uint32_t interval);
/* Adds the final time-index entry (the segment's max timestamp) when it is missing. */
void seg_index_finish(struct segment *s);
/* Position of the last indexed batch starting at or before offset (0 when none). */
uint64_t seg_index_lookup(const struct segment *s, int64_t offset);
/* An offset from which a scan for the first batch with maxTimestamp >= ts may start. */
int64_t seg_time_lookup(const struct segment *s, int64_t ts);
/* Loads both index files and checks them against size and next_offset; TANDEM_ECORRUPT when
 * either is missing entries that cannot be right. */
int seg_load_index(struct segment *s);
/* Rebuilds both indexes (memory and files) from the batch headers; also sets max_ts. */
int seg_rebuild_index(struct segment *s, uint32_t interval);
/* Empties both indexes, in memory and on disk. */
int seg_index_reset(struct segment *s);
void seg_close_index_fds(struct segment *s);

/* "<dir>/log-start-offset": the log start offset DeleteRecords set, one decimal line, replaced
 * atomically (through "log-start-offset.tmp", which recovery removes as a leftover). Absent: the
 * first segment's base offset. */
#define LOG_START_FILE "log-start-offset"

/* ---- plog.c ---- */
/* Removes the segments that lie wholly below the log start offset (never the active one). */
void plog_drop_below_start(struct plog *l);

/* ---- recover.c ---- */
/* Validates every batch of the segment (CRC, lengths, contiguous offsets), truncates a bad
 * tail, rebuilds the indexes, sets size and next_offset. */
int seg_recover(struct segment *s, uint32_t interval, const char *name, int64_t *batches,
                uint64_t *truncated);
int plog_open(const char *dir, const char *name, const struct log_config *cfg,
              const struct plog_hint *hint, struct plog **out);
/* Clean close: final time-index entry, fdatasync of the active segment, producer snapshot, then
 * frees. Returns 0 when everything reached stable storage (the partition may be marked clean). */
int plog_close(struct plog *l);
/* Frees without writing anything (topic deletion). */
void plog_free(struct plog *l);
/* Rolls the active segment (loop thread). */
int plog_roll(struct plog *l);
/* Removes the "<dir>/<offset>.snapshot" files with an offset below keep_from. */
void plog_prune_snapshots(const char *dir, int64_t keep_from);

/* ---- txn.c ---- */
void ptxn_cleanup(struct ptxn_state *t);
/* Notes an appended batch (base_offset set; bytes = the whole batch, for a control batch's
 * marker type) in the partition's transaction state. */
void ptxn_on_batch(struct ptxn_state *t, const struct kbatch *b, const uint8_t *bytes);
/* Rebuilds the transaction state by reading every batch header of the log (recovery). Returns
 * the count of control batches read. */
int64_t ptxn_rebuild(struct plog *l);

/* ---- producer.c ---- */
void producers_init(struct producer_table *t);
void producers_cleanup(struct producer_table *t);
/* Checks an idempotent batch; 0 to append, or TANDEM_EDUPSEQ (*dup_offset set),
 * TANDEM_EOUTOFORDER, TANDEM_EFENCED. */
int producers_check(const struct producer_table *t, const struct kbatch *b, int64_t *dup_offset);

/* One batch of an append, as planned before anything is written. */
struct append_step {
    int64_t base_offset; /* the offset it will get; for a duplicate, the original's */
    bool dup;            /* a retry of a batch already stored (or earlier in this append) */
};

/* Plans an append of the batches b[0..n) in order: each is checked (producers_check's rules)
 * against its producer's state as the batches before it in this append will leave it, so a
 * sequence may continue from an earlier batch of the same append, and a batch repeating one is
 * its duplicate. Offsets are assigned from next_offset to every batch that is not a duplicate.
 * Fills steps[0..n). Returns 0, or TANDEM_EOUTOFORDER / TANDEM_EFENCED for the first batch that
 * breaks the rules. The table is not changed: the caller applies producers_update per batch
 * once they are written. */
int producers_plan(const struct producer_table *t, const struct kbatch *b, int n,
                   int64_t next_offset, struct append_step *steps);
/* Records an appended batch (b->base_offset set). */
void producers_update(struct producer_table *t, const struct kbatch *b);
/* Snapshot files "<dir>/<20-digit offset>.snapshot": the state after every batch below offset. */
int producers_snapshot_write(const struct producer_table *t, const char *dir, int64_t offset);
int producers_snapshot_read(struct producer_table *t, const char *path, int64_t *offset);

#endif
