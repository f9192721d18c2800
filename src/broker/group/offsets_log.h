/*
 * The offsets log: committed offsets on disk.
 *
 * One append-only file, <data-dir>/__consumer_offsets/offsets.log, of self-checking records:
 *
 *   OFFSET SIZE FIELD
 *   0      4    length N of the record body that follows the CRC (big-endian)
 *   4      4    CRC-32C of the N body bytes
 *   8      1    type: 1 = commit, 2 = clear a group's offsets, 3 = clear a topic's offsets,
 *                     4 = the group's protocol type, 5 = delete one partition's offset
 *   9      2    group id length G, then G bytes (type 3: the topic name)
 *   type 4 only:
 *   ..     2    protocol type length P, then P bytes ("consumer"; Kafka keeps it in its
 *               GroupMetadata record, so an empty group describes the same after a restart).
 *               Written before a group's first commit since its protocol type last changed, and
 *               before its offsets in a snapshot. A broker older than type 4 reads it as a
 *               corrupt record and truncates the log there: do not downgrade past it.
 *   type 5 only (one partition's offset deleted, OffsetDelete; same downgrade note as type 4):
 *   ..     2    topic length T, then T bytes
 *   ..     4    partition
 *   commit only:
 *   ..     2    topic length T, then T bytes
 *   ..     4    partition
 *   ..     8    committed offset
 *   ..     4    leader epoch
 *   ..     8    commit timestamp (ms since the epoch)
 *   ..     2    metadata length M (-1 = null), then M bytes
 *
 * Open replays every record into the coordinator (later records win) and truncates a torn or
 * corrupt tail. Appends go through write(2); offsets_log_sync() (the flusher thread) makes
 * them durable, and offsets_log_durable() tells the loop how far that reached, in appended
 * bytes counted since open (monotonic even across rewrites). When the file has grown past
 * four times what a snapshot would take (and at least 16 MiB), offsets_log_compact() writes a
 * snapshot of the live offsets to a new file, fsyncs it and renames it into place, so the file
 * stays bounded by the live data.
 */
#ifndef TANDEM_GROUP_OFFSETS_LOG_H
#define TANDEM_GROUP_OFFSETS_LOG_H

#include <stdint.h>

#include "group/group.h"

struct offsets_log;

/* Opens (creating) the log under data_dir and loads it into gc. */
int offsets_log_open(const char *data_dir, struct gc *gc, struct offsets_log **out);
void offsets_log_close(struct offsets_log *l);

/* Appends records (loop thread). Return 0 or TANDEM_EIO; *end is the position to wait for. */
int offsets_log_commit(struct offsets_log *l, const char *group, size_t group_len,
                       const char *topic, size_t topic_len, int32_t partition, int64_t offset,
                       int32_t leader_epoch, int64_t commit_ts, const char *metadata,
                       int32_t metadata_len, int64_t *end);
int offsets_log_clear_group(struct offsets_log *l, const char *group, int64_t *end);
/* Records that a group's offset of one partition is deleted (record type 5). */
int offsets_log_delete_offset(struct offsets_log *l, const char *group, size_t group_len,
                              const char *topic, size_t topic_len, int32_t partition, int64_t *end);
/* Records a group's protocol type (record type 4). */
int offsets_log_group_type(struct offsets_log *l, const char *group, size_t group_len,
                           const char *protocol_type, int64_t *end);
/* Records that every group's offsets of a deleted topic are gone. */
int offsets_log_clear_topic(struct offsets_log *l, const char *topic, int64_t *end);

/* Thread-safe: fdatasync what was appended so far. */
int offsets_log_sync(struct offsets_log *l);
/* Thread-safe: appended bytes known to be durable. */
int64_t offsets_log_durable(struct offsets_log *l);
/* Rewrites the file as a snapshot of gc's offsets if it has grown too much (loop thread).
 * Returns 1 if it did, 0 if not needed, or an error. */
int offsets_log_compact(struct offsets_log *l, struct gc *gc);
uint64_t offsets_log_size(const struct offsets_log *l);

#endif
