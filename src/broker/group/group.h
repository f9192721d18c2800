/*
 * The group coordinator: Kafka's classic consumer-group protocol on one node.
 *
 * MODEL. A group is a set of members that share the partitions of the topics they subscribe to;
 * the coordinator only runs the membership protocol and stores committed offsets. Partition
 * assignment is computed by the group's leader (a client), as in Kafka. States and transitions
 * (Kafka's GroupCoordinator, KIP-345 for static members, KIP-394 for MEMBER_ID_REQUIRED):
 *
 *   Empty --join--> PreparingRebalance --all joined or timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   Stable | CompletingRebalance --join of a new/changed member, leave, session expiry-->
 *       PreparingRebalance
 *   PreparingRebalance --no member left--> Empty;   Empty --DeleteGroups--> Dead (removed)
 *   Empty, no offsets, for empty_group_retention_ms --> Dead (removed by gc_tick)
 *   Empty with offsets, for the offsets retention --> Dead (removed by gc_expire_offsets)
 *
 * JoinGroup and SyncGroup answers may be delayed (until the rebalance completes, until the leader
 * syncs); the coordinator keeps the caller's opaque request pointer and calls back through
 * gc_callbacks when the answer is known. Nothing here does I/O: time comes in as `now` (ms,
 * monotonic) and gc_tick() expires sessions and rebalance deadlines, so the whole state machine
 * is unit-testable with a fake clock. Committed offsets live in each group's table; making them
 * durable is the caller's job (group/offsets_log.h).
 *
 * INVARIANTS. A member has at most one pending join and one pending sync. A member awaiting a
 * join is never expired by its session timeout (it is waiting on us). Every pending request is
 * answered exactly once: by completion, by an error, or at gc_free().
 */
#ifndef TANDEM_GROUP_GROUP_H
#define TANDEM_GROUP_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kbuf.h"

enum group_state {
    GROUP_EMPTY,
    GROUP_PREPARING_REBALANCE,
    GROUP_COMPLETING_REBALANCE,
    GROUP_STABLE,
    GROUP_DEAD,
};

const char *group_state_name(enum group_state s); /* Kafka's names: "Stable", ... */

struct gc_config {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int32_t max_metadata_bytes;         /* offset.metadata.max.bytes */
    int32_t max_group_size;             /* group.max.size */
    /* An Empty group without committed offsets is forgotten this long after it became Empty
     * (offsets.retention.check.interval.ms: Kafka's cleanupGroupMetadata turns such a group Dead
     * at its next check, at most that long later). Until then ListGroups lists it as Empty and
     * DescribeGroups / DeleteGroups find it. A group with offsets stays until offsets retention
     * (gc_expire_offsets). */
    int64_t empty_group_retention_ms;
    uint64_t member_id_seed; /* random per start, so member ids never repeat */
};

void gc_config_defaults(struct gc_config *c);

/* A protocol a joining member supports: name and opaque metadata (the subscription). */
struct gc_protocol {
    struct kstr name;
    struct kbytes metadata;
};

struct gc_join_params {
    struct kstr group_id;
    struct kstr member_id;         /* "" for a new member */
    struct kstr group_instance_id; /* nullable: static membership */
    struct kstr client_id;
    struct kstr client_host;
    struct kstr protocol_type;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int nprotocols;
    const struct gc_protocol *protocols;
    bool require_known_member_id; /* JoinGroup v4+: answer MEMBER_ID_REQUIRED first */
};

struct gc_member_info {
    const char *member_id;
    const char *group_instance_id; /* NULL if dynamic */
    const uint8_t *metadata;
    size_t metadata_len;
};

/* Valid only during the callback. */
struct gc_join_result {
    int16_t error_code;
    int32_t generation_id;
    const char *protocol_name; /* "" when none */
    const char *leader;        /* "" when none */
    const char *member_id;
    int nmembers; /* only the leader gets the member list */
    const struct gc_member_info *members;
};

struct gc_callbacks {
    void (*join_done)(void *req, const struct gc_join_result *r, void *arg);
    void (*sync_done)(void *req, int16_t error_code, const uint8_t *assignment, size_t len,
                      void *arg);
    void *arg;
};

struct gc_assignment {
    struct kstr member_id;
    struct kbytes assignment;
};

struct gc;
struct group;

struct gc *gc_new(const struct gc_config *cfg, const struct gc_callbacks *cb);
/* Answers every pending request with COORDINATOR_NOT_AVAILABLE and frees everything. */
void gc_free(struct gc *gc);

/* JoinGroup: answers through join_done, now or later. */
void gc_join(struct gc *gc, const struct gc_join_params *p, void *req, int64_t now);
/* SyncGroup: answers through sync_done, now or later. */
void gc_sync(struct gc *gc, struct kstr group_id, int32_t generation_id, struct kstr member_id,
             struct kstr group_instance_id, int nassignments, const struct gc_assignment *a,
             void *req, int64_t now);
/* Heartbeat: returns the Kafka error code. */
int16_t gc_heartbeat(struct gc *gc, struct kstr group_id, int32_t generation_id,
                     struct kstr member_id, struct kstr group_instance_id, int64_t now);
/* LeaveGroup for one member (member_id may be "" when group_instance_id is given). */
int16_t gc_leave(struct gc *gc, struct kstr group_id, struct kstr member_id,
                 struct kstr group_instance_id, int64_t now);
/* Expires sessions, pending members and rebalance deadlines, and forgets Empty groups without
 * offsets after empty_group_retention_ms. Returns the ms until the next deadline (or -1 when
 * nothing is waiting). The caller runs it again at that deadline: expiry is as late as the
 * caller's timer, no later. */
int64_t gc_tick(struct gc *gc, int64_t now);

/* ---- offsets ------------------------------------------------------------------------------ */

struct gc_offset {
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_timestamp; /* wall-clock ms */
    char *metadata;           /* NULL for null */
};

/* Checks whether a member may commit (OffsetCommit's group-level rules); a "simple" commit
 * (generation -1, member "") is allowed when the group has no members, and creates the group.
 * Returns a Kafka error code; *g is the group for gc_offset_put on success. */
int16_t gc_commit_check(struct gc *gc, struct kstr group_id, int32_t generation_id,
                        struct kstr member_id, struct kstr group_instance_id, int64_t now,
                        struct group **g);
/* Stores one committed offset in memory (copying strings). metadata_len -1 = null. */
void gc_offset_put(struct group *g, const char *topic, size_t topic_len, int32_t partition,
                   int64_t offset, int32_t leader_epoch, int64_t commit_ts, const char *metadata,
                   int32_t metadata_len);
/* Looks up a committed offset; NULL when none. */
const struct gc_offset *gc_offset_get(struct gc *gc, struct kstr group_id, struct kstr topic,
                                      int32_t partition);
/* Calls fn for every committed offset of a group (OffsetFetch with all topics), in topic order. */
void gc_offset_foreach(struct gc *gc, struct kstr group_id,
                       void (*fn)(const char *topic, int32_t partition, const struct gc_offset *o,
                                  void *arg),
                       void *arg);
/* Same over every group (for snapshots of the offsets log). */
void gc_offset_foreach_all(struct gc *gc,
                           void (*fn)(const char *group, const char *topic, int32_t partition,
                                      const struct gc_offset *o, void *arg),
                           void *arg);
/* Loads an offset at start-up (from the offsets log), creating the group if needed. */
void gc_offset_load(struct gc *gc, const char *group, const char *topic, int32_t partition,
                    int64_t offset, int32_t leader_epoch, int64_t commit_ts, const char *metadata,
                    int32_t metadata_len);
/* The group's protocol type ("consumer"), so the offsets log can keep it beside the offsets
 * (Kafka keeps it in its GroupMetadata record): returns it when it is set and not yet recorded
 * since it last changed, else NULL. gc_group_type_recorded() says it was written. */
const char *gc_group_type_to_record(const struct group *g);
void gc_group_type_recorded(struct group *g);
/* The protocol type of a group by name, NULL when unknown or none (snapshots). */
const char *gc_group_protocol_type(struct gc *gc, const char *group);
/* Loads a group's protocol type at start-up (from the offsets log), creating the group. */
void gc_group_type_load(struct gc *gc, const char *group, const char *protocol_type);
/* Drops every group's offsets of a topic (the topic was deleted: a new topic of the same name
 * must not resume at them, as in Kafka). Returns how many were dropped. */
size_t gc_offsets_drop_topic(struct gc *gc, const char *topic);
/* Drops one committed offset of a group (OffsetDelete, and its replay at start-up); returns
 * whether there was one. The group stays (an Empty group left without offsets is forgotten by
 * gc_tick as usual). */
bool gc_offset_delete(struct gc *gc, struct kstr group_id, const char *topic, int32_t partition);
/* Drops every offset of a group (start-up replay of a tombstone). */
void gc_offsets_clear(struct gc *gc, const char *group);
/* Expires the offsets of groups that have been Empty for retention_ms (monotonic `now`; a group
 * whose Empty start is unknown, e.g. loaded at start-up, starts counting at this call) and whose
 * last commit is that old too (wall clock), as Kafka does since KIP-211; calls fn(group) for each
 * group cleared, before it is removed. Returns how many. */
int gc_expire_offsets(struct gc *gc, int64_t wall_now, int64_t now, int64_t retention_ms,
                      void (*fn)(const char *group, void *arg), void *arg);
/* Count of offsets stored, over all groups. */
size_t gc_offset_count(const struct gc *gc);

/* ---- administration ----------------------------------------------------------------------- */

struct gc_group_info {
    const char *group_id;
    enum group_state state;
    const char *protocol_type; /* "" when none */
    const char *protocol_name; /* "" when none */
    int nmembers;
};

struct gc_member_desc {
    const char *member_id;
    const char *group_instance_id;
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata; /* for the chosen protocol */
    size_t metadata_len;
    const uint8_t *assignment;
    size_t assignment_len;
};

/* ListGroups. */
void gc_list(struct gc *gc, void (*fn)(const struct gc_group_info *g, void *arg), void *arg);
/* DescribeGroups: TANDEM_ENOENT when unknown; members valid during the callback only. */
int gc_describe(struct gc *gc, struct kstr group_id,
                void (*fn)(const struct gc_group_info *g, const struct gc_member_desc *members,
                           void *arg),
                void *arg);
/* DeleteGroups: NONE, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. */
int16_t gc_delete(struct gc *gc, struct kstr group_id);
int gc_group_count(const struct gc *gc);

#endif
