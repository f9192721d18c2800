/*
 * Committed offsets and the administrative group operations.
 *
 * Each group keeps its offsets in an open-addressing hash table keyed by (topic, partition)
 * (FNV-1a over the topic name mixed with the partition; linear probing; grown at 70% load;
 * entries are removed by clearing the table or by rebuilding it from what stays (a topic's
 * offsets dropped, one offset deleted), so no tombstones are needed). Durability is the offsets
 * log's job (offsets_log.c); this file is memory only.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "group/group_int.h"
#include "protocol/kafka.h"
#include "tandem/error.h"

static uint32_t offset_hash(const char *topic, size_t len, int32_t partition)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)topic[i]) * 16777619u;
    h = (h ^ (uint32_t)partition) * 16777619u;
    return h ? h : 1; /* 0 marks an empty slot */
}

static struct offset_entry *slot_for(struct group *g, const char *topic, size_t len,
                                     int32_t partition, uint32_t h)
{
    size_t mask = g->offsets_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct offset_entry *e = &g->offsets[i];
        if (e->hash == 0)
            return e;
        if (e->hash == h && e->partition == partition && strlen(e->topic) == len &&
            memcmp(e->topic, topic, len) == 0)
            return e;
    }
}

static void grow(struct group *g)
{
    struct offset_entry *old = g->offsets;
    size_t oldcap = g->offsets_cap;
    g->offsets_cap = oldcap ? oldcap * 2 : 16;
    g->offsets = xcalloc(g->offsets_cap, sizeof(*g->offsets));
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].hash) {
            struct offset_entry *e =
                slot_for(g, old[i].topic, strlen(old[i].topic), old[i].partition, old[i].hash);
            *e = old[i];
        }
    free(old);
}

void gc_offset_put(struct group *g, const char *topic, size_t topic_len, int32_t partition,
                   int64_t offset, int32_t leader_epoch, int64_t commit_ts, const char *metadata,
                   int32_t metadata_len)
{
    if ((g->noffsets + 1) * 10 >= g->offsets_cap * 7)
        grow(g);
    uint32_t h = offset_hash(topic, topic_len, partition);
    struct offset_entry *e = slot_for(g, topic, topic_len, partition, h);
    if (e->hash == 0) {
        e->hash = h;
        e->topic = xstrndup(topic, topic_len);
        e->partition = partition;
        g->noffsets++;
    }
    free(e->o.metadata);
    e->o.offset = offset;
    e->o.leader_epoch = leader_epoch;
    e->o.commit_timestamp = commit_ts;
    e->o.metadata = metadata_len >= 0 ? xstrndup(metadata, (size_t)metadata_len) : NULL;
    if (commit_ts > g->last_commit_ms)
        g->last_commit_ms = commit_ts;
}

const struct gc_offset *gc_offset_get(struct gc *gc, struct kstr group_id, struct kstr topic,
                                      int32_t partition)
{
    struct group *g = gc_find(gc, group_id);
    if (!g || g->noffsets == 0 || topic.len < 0)
        return NULL;
    uint32_t h = offset_hash(topic.p, (size_t)topic.len, partition);
    struct offset_entry *e = slot_for(g, topic.p, (size_t)topic.len, partition, h);
    return e->hash ? &e->o : NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct offset_entry *x = *(const struct offset_entry *const *)a;
    const struct offset_entry *y = *(const struct offset_entry *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The group's entries sorted by topic and partition (caller frees the array). */
static struct offset_entry **sorted_entries(struct group *g)
{
    struct offset_entry **v = xmalloc((g->noffsets ? g->noffsets : 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < g->offsets_cap; i++)
        if (g->offsets[i].hash)
            v[n++] = &g->offsets[i];
    qsort(v, n, sizeof(*v), entry_cmp);
    return v;
}

void gc_offset_foreach(struct gc *gc, struct kstr group_id,
                       void (*fn)(const char *topic, int32_t partition, const struct gc_offset *o,
                                  void *arg),
                       void *arg)
{
    struct group *g = gc_find(gc, group_id);
    if (!g)
        return;
    struct offset_entry **v = sorted_entries(g);
    for (size_t i = 0; i < g->noffsets; i++)
        fn(v[i]->topic, v[i]->partition, &v[i]->o, arg);
    free(v);
}

void gc_offset_foreach_all(struct gc *gc,
                           void (*fn)(const char *group, const char *topic, int32_t partition,
                                      const struct gc_offset *o, void *arg),
                           void *arg)
{
    for (struct group *g = gc->groups; g; g = g->next)
        for (size_t i = 0; i < g->offsets_cap; i++)
            if (g->offsets[i].hash)
                fn(g->id, g->offsets[i].topic, g->offsets[i].partition, &g->offsets[i].o, arg);
}

void group_offsets_free(struct group *g)
{
    for (size_t i = 0; i < g->offsets_cap; i++)
        if (g->offsets[i].hash) {
            free(g->offsets[i].topic);
            free(g->offsets[i].o.metadata);
        }
    free(g->offsets);
    g->offsets = NULL;
    g->offsets_cap = g->noffsets = 0;
}

/* Removes the offsets of topic in g (one partition, or all when partition < 0). The table has
 * no tombstones: it is rebuilt from what stays. Returns how many were removed. */
static size_t group_drop(struct group *g, const char *topic, int32_t partition)
{
    size_t keep = 0, dropped = 0;
    for (size_t i = 0; i < g->offsets_cap; i++)
        if (g->offsets[i].hash && (strcmp(g->offsets[i].topic, topic) != 0 ||
                                   (partition >= 0 && g->offsets[i].partition != partition)))
            keep++;
    if (keep == g->noffsets)
        return 0;
    struct offset_entry *old = g->offsets;
    size_t oldcap = g->offsets_cap;
    g->offsets = NULL;
    g->offsets_cap = g->noffsets = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].hash)
            continue;
        if (strcmp(old[i].topic, topic) == 0 && (partition < 0 || old[i].partition == partition)) {
            dropped++;
            free(old[i].topic);
            free(old[i].o.metadata);
            continue;
        }
        if ((g->noffsets + 1) * 10 >= g->offsets_cap * 7)
            grow(g);
        struct offset_entry *e =
            slot_for(g, old[i].topic, strlen(old[i].topic), old[i].partition, old[i].hash);
        *e = old[i];
        g->noffsets++;
    }
    free(old);
    return dropped;
}

size_t gc_offsets_drop_topic(struct gc *gc, const char *topic)
{
    size_t dropped = 0;
    for (struct group *g = gc->groups; g; g = g->next)
        dropped += group_drop(g, topic, -1);
    return dropped;
}

bool gc_offset_delete(struct gc *gc, struct kstr group_id, const char *topic, int32_t partition)
{
    struct group *g = gc_find(gc, group_id);
    return g && partition >= 0 && group_drop(g, topic, partition) > 0;
}

void gc_offset_load(struct gc *gc, const char *group, const char *topic, int32_t partition,
                    int64_t offset, int32_t leader_epoch, int64_t commit_ts, const char *metadata,
                    int32_t metadata_len)
{
    struct group *g = gc_find_or_create(gc, (struct kstr){group, (int32_t)strlen(group)});
    gc_offset_put(g, topic, strlen(topic), partition, offset, leader_epoch, commit_ts, metadata,
                  metadata_len);
}

const char *gc_group_type_to_record(const struct group *g)
{
    if (!g->protocol_type || !g->protocol_type[0] || g->type_recorded)
        return NULL;
    return g->protocol_type;
}

void gc_group_type_recorded(struct group *g)
{
    g->type_recorded = true;
}

const char *gc_group_protocol_type(struct gc *gc, const char *group)
{
    struct group *g = gc_find(gc, (struct kstr){group, (int32_t)strlen(group)});
    return g && g->protocol_type && g->protocol_type[0] ? g->protocol_type : NULL;
}

void gc_group_type_load(struct gc *gc, const char *group, const char *protocol_type)
{
    struct group *g = gc_find_or_create(gc, (struct kstr){group, (int32_t)strlen(group)});
    free(g->protocol_type);
    g->protocol_type = xstrndup(protocol_type, strlen(protocol_type));
    g->type_recorded = true;
}

void gc_offsets_clear(struct gc *gc, const char *group)
{
    struct group *g = gc_find(gc, (struct kstr){group, (int32_t)strlen(group)});
    if (!g)
        return;
    group_offsets_free(g);
    if (g->state == GROUP_EMPTY && g->nmembers == 0 && !g->pending)
        gc_remove_group(gc, g);
}

int gc_expire_offsets(struct gc *gc, int64_t wall_now, int64_t now, int64_t retention_ms,
                      void (*fn)(const char *group, void *arg), void *arg)
{
    int n = 0;
    for (struct group *g = gc->groups, *next; g; g = next) {
        next = g->next;
        if (g->state != GROUP_EMPTY || g->noffsets == 0 || retention_ms < 0)
            continue;
        if (g->empty_since < 0) { /* loaded at start-up, or created by a simple commit */
            g->empty_since = now;
            continue;
        }
        /* KIP-211: retention counts from when the group became Empty, and from its last commit
         * (a group that committed nothing for a week while Stable keeps its offsets when it
         * goes Empty for a moment). */
        if (now - g->empty_since < retention_ms || wall_now - g->last_commit_ms < retention_ms)
            continue;
        fn(g->id, arg);
        gc_remove_group(gc, g);
        n++;
    }
    return n;
}

size_t gc_offset_count(const struct gc *gc)
{
    size_t n = 0;
    for (const struct group *g = gc->groups; g; g = g->next)
        n += g->noffsets;
    return n;
}

int16_t gc_commit_check(struct gc *gc, struct kstr group_id, int32_t generation_id,
                        struct kstr member_id, struct kstr group_instance_id, int64_t now,
                        struct group **out)
{
    if (group_id.len <= 0)
        return KAFKA_INVALID_GROUP_ID;
    struct group *g = gc_find(gc, group_id);
    if (generation_id < 0 && member_id.len <= 0 && group_instance_id.len < 0) {
        /* a "simple" commit from a consumer that assigns partitions itself */
        if (g && g->nmembers > 0)
            return KAFKA_UNKNOWN_MEMBER_ID;
        *out = g ? g : gc_find_or_create(gc, group_id);
        return KAFKA_NONE;
    }
    if (!g)
        return KAFKA_ILLEGAL_GENERATION;
    struct gmember *m = NULL;
    if (group_instance_id.len >= 0) {
        for (m = g->members; m; m = m->next)
            if (m->instance_id && (size_t)group_instance_id.len == strlen(m->instance_id) &&
                memcmp(m->instance_id, group_instance_id.p, (size_t)group_instance_id.len) == 0)
                break;
        if (m && !kstr_eq(member_id, m->id))
            return KAFKA_FENCED_INSTANCE_ID;
    }
    if (!m)
        for (m = g->members; m; m = m->next)
            if (kstr_eq(member_id, m->id))
                break;
    if (!m)
        return KAFKA_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation)
        return KAFKA_ILLEGAL_GENERATION;
    if (g->state == GROUP_COMPLETING_REBALANCE)
        return KAFKA_REBALANCE_IN_PROGRESS;
    m->deadline_ms = now + m->session_timeout_ms; /* a commit counts as a heartbeat */
    *out = g;
    return KAFKA_NONE;
}

/* ---- administration -------------------------------------------------------------------------- */

static void group_info(const struct group *g, struct gc_group_info *gi)
{
    gi->group_id = g->id;
    gi->state = g->state;
    gi->protocol_type = g->protocol_type ? g->protocol_type : "";
    gi->protocol_name = g->state == GROUP_STABLE && g->protocol ? g->protocol : "";
    gi->nmembers = g->nmembers;
}

void gc_list(struct gc *gc, void (*fn)(const struct gc_group_info *g, void *arg), void *arg)
{
    for (struct group *g = gc->groups; g; g = g->next) {
        struct gc_group_info gi;
        group_info(g, &gi);
        fn(&gi, arg);
    }
}

int gc_describe(struct gc *gc, struct kstr group_id,
                void (*fn)(const struct gc_group_info *g, const struct gc_member_desc *members,
                           void *arg),
                void *arg)
{
    struct group *g = gc_find(gc, group_id);
    if (!g)
        return TANDEM_ENOENT;
    struct gc_group_info gi;
    group_info(g, &gi);
    struct gc_member_desc *d = xcalloc((size_t)(g->nmembers ? g->nmembers : 1), sizeof(*d));
    int n = 0;
    for (struct gmember *m = g->members; m; m = m->next, n++) {
        d[n].member_id = m->id;
        d[n].group_instance_id = m->instance_id;
        d[n].client_id = m->client_id ? m->client_id : "";
        d[n].client_host = m->client_host ? m->client_host : "";
        for (int i = 0; g->protocol && i < m->nprotocols; i++)
            if (strcmp(m->protocols[i].name, g->protocol) == 0) {
                d[n].metadata = m->protocols[i].metadata;
                d[n].metadata_len = m->protocols[i].metadata_len;
            }
        d[n].assignment = m->assignment;
        d[n].assignment_len = m->assignment_len;
    }
    fn(&gi, d, arg);
    free(d);
    return 0;
}

int16_t gc_delete(struct gc *gc, struct kstr group_id)
{
    struct group *g = gc_find(gc, group_id);
    if (!g)
        return KAFKA_GROUP_ID_NOT_FOUND;
    if (g->state != GROUP_EMPTY || g->nmembers > 0 || g->pending)
        return KAFKA_NON_EMPTY_GROUP;
    gc_remove_group(gc, g);
    return KAFKA_NONE;
}

int gc_group_count(const struct gc *gc)
{
    return gc->ngroups;
}
