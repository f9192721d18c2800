/*
 * Private structures of the group coordinator (group.h), shared by group.c (life cycle,
 * protocols, administration), group_join.c (the rebalance protocol) and group_offsets.c
 * (committed offsets).
 */
#ifndef TANDEM_GROUP_GROUP_INT_H
#define TANDEM_GROUP_GROUP_INT_H

#include "group/group.h"

struct gproto {
    char *name;
    uint8_t *metadata;
    size_t metadata_len;
};

struct gmember {
    struct gmember *next;
    char *id;
    char *instance_id; /* NULL for dynamic members */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int nprotocols;
    struct gproto *protocols;
    uint8_t *assignment;
    size_t assignment_len;
    void *join_req;      /* pending JoinGroup */
    void *sync_req;      /* pending SyncGroup */
    int64_t deadline_ms; /* session expiry (monotonic) */
    bool pending;        /* got MEMBER_ID_REQUIRED, has not joined with it yet */
};

struct offset_entry {
    char *topic;
    int32_t partition;
    uint32_t hash;
    struct gc_offset o;
};

struct group {
    struct group *next;
    char *id;
    enum group_state state;
    int32_t generation;
    char *protocol_type;
    bool type_recorded; /* protocol_type is in the offsets log (gc_group_type_to_record) */
    char *protocol;     /* chosen protocol name */
    char *leader;       /* leader member id */
    struct gmember *members;
    int nmembers;
    struct gmember *pending;
    int64_t rebalance_deadline_ms; /* PreparingRebalance completes by then at the latest */
    int64_t initial_delay_until;   /* first join of an Empty group waits for more members */
    int64_t empty_since; /* monotonic ms the group became Empty; -1 unknown (set at next check) */

    /* committed offsets: open addressing on (topic, partition) */
    struct offset_entry *offsets;
    size_t noffsets, offsets_cap;
    int64_t last_commit_ms; /* wall clock */
};

struct gc {
    struct gc_config cfg;
    struct gc_callbacks cb;
    struct group *groups;
    int ngroups;
    uint64_t member_seq;
};

char *kstr_dup(struct kstr s);
struct group *gc_find(struct gc *gc, struct kstr id);
struct group *gc_find_or_create(struct gc *gc, struct kstr id);
void gc_remove_group(struct gc *gc, struct group *g);
void group_free(struct gc *gc, struct group *g);
void group_offsets_free(struct group *g);

#endif
