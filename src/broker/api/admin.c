/*
 * The small administrative APIs: CreateTopics, DeleteTopics, CreatePartitions, InitProducerId.
 *
 * CreateTopics follows Kafka's rules on one node: NumPartitions -1 means num.partitions;
 * ReplicationFactor must be -1 or 1 (INVALID_REPLICATION_FACTOR otherwise); manual Assignments
 * are accepted when every replica is this node; Configs are topic configs (retention.ms, ...)
 * validated by log_config_set (INVALID_CONFIG); ValidateOnly checks without creating.
 * InitProducerId hands out a new producer id with epoch 0 for idempotent producers; with a
 * transactional id it asks the transaction coordinator (txn.c) for that id's producer id and a
 * new epoch.
 *
 * CreatePartitions grows topics with Kafka's rules and messages (ZkAdminManager.createPartitions
 * and AdminZkClient.createNewPartitionsAssignment): unknown topic, a count not above the current
 * one, a count above LOG_MAX_PARTITIONS, and manual assignments that do not give exactly one
 * entry per new partition naming only this node, are refused per topic; a topic named twice in
 * one request gets one INVALID_REQUEST result and is not touched (KafkaApis). The grow itself is
 * logmgr_add_partitions, done before the answer, so TimeoutMs never expires (Kafka answers
 * REQUEST_TIMED_OUT for TimeoutMs <= 0 while the grow goes on; librdkafka hides that code).
 *
 * The grow replaces the topic's partition array. That is safe because nothing keeps the array
 * between loop iterations: handlers look topics up per request (a parked Fetch by name on every
 * evaluation), held acks=-1 responses and the flusher thread keep plog pointers, which a grow
 * never moves, retention walks the topics within one call, and the group coordinator knows
 * topics only by name. Everything but the flusher runs on this (the loop) thread.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "flusher.h"
#include "group/group.h"
#include "group/offsets_log.h"
#include "identity.h"
#include "tandem/error.h"

/* Kafka topic configs that are valid but have no effect on a single-node broker that stores
 * batches verbatim (replication, compaction tuning, recompression, preallocation, ...). They are
 * accepted, logged and not stored, so admin clients and tools that always send them work.
 * Anything else unknown is INVALID_CONFIG, as in Kafka. */
static bool config_ignored(const char *key)
{
    static const char *const ignored[] = {
        "compression.type",
        "delete.retention.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "message.downconversion.enable",
        "message.format.version",
        "message.timestamp.difference.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.after.max.ms",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "remote.storage.enable",
        "segment.index.bytes",
        "segment.jitter.ms",
        "unclean.leader.election.enable",
    };
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (strcmp(key, ignored[i]) == 0)
            return true;
    return false;
}

/* Checks one CreateTopics entry; fills keys/values for its configs. Returns a Kafka error and
 * sets *msg. */
static int16_t check_create(struct broker *b, struct request *req,
                            const struct create_topics_req_topic *ti, char *name, int32_t *nparts,
                            const char ***keys, const char ***values, int32_t *nconfigs,
                            const char **msg)
{
    if (ti->name.len <= 0 || !topic_name_valid(ti->name.p, (size_t)ti->name.len)) {
        *msg = "topic names are 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'";
        return KAFKA_INVALID_TOPIC_EXCEPTION;
    }
    memcpy(name, ti->name.p, (size_t)ti->name.len);
    name[ti->name.len] = '\0';
    if (logmgr_find(b->logs, ti->name.p, (size_t)ti->name.len)) {
        *msg = "topic already exists";
        return KAFKA_TOPIC_ALREADY_EXISTS;
    }
    if (ti->nassignments > 0) {
        if (ti->num_partitions != -1 || ti->replication_factor != -1) {
            *msg = "give either assignments or partitions and replication factor";
            return KAFKA_INVALID_REQUEST;
        }
        for (int32_t i = 0; i < ti->nassignments; i++) {
            const struct create_topics_assignment *a = &ti->assignments[i];
            if (a->partition_index != i || a->nbroker_ids != 1 ||
                a->broker_ids[0] != (int32_t)b->cfg->node_id) {
                *msg = "assignments must list partitions 0..n-1, each on this single broker";
                return KAFKA_INVALID_REPLICA_ASSIGNMENT;
            }
        }
        *nparts = ti->nassignments;
        if (*nparts > 100000) {
            *msg = "number of partitions must be between 1 and 100000";
            return KAFKA_INVALID_PARTITIONS;
        }
    } else {
        *nparts = ti->num_partitions == -1 ? (int32_t)b->cfg->num_partitions : ti->num_partitions;
        if (*nparts <= 0 || *nparts > 100000) {
            *msg = "number of partitions must be between 1 and 100000";
            return KAFKA_INVALID_PARTITIONS;
        }
        if (ti->replication_factor != -1 && ti->replication_factor != 1) {
            *msg = "tandem-broker is a single node: replication factor must be 1";
            return KAFKA_INVALID_REPLICATION_FACTOR;
        }
    }
    *keys = arena_array(&req->arena, (size_t)ti->nconfigs + 1, sizeof(char *));
    *values = arena_array(&req->arena, (size_t)ti->nconfigs + 1, sizeof(char *));
    if (!*keys || !*values) {
        *msg = "too many configs";
        return KAFKA_INVALID_CONFIG;
    }
    struct log_config probe = b->cfg->log;
    int32_t kept = 0;
    for (int32_t i = 0; i < ti->nconfigs; i++) {
        const struct create_topics_config *c = &ti->configs[i];
        char *k = arena_alloc(&req->arena, (size_t)(c->name.len > 0 ? c->name.len : 0) + 1);
        char *v = arena_alloc(&req->arena, (size_t)(c->value.len > 0 ? c->value.len : 0) + 1);
        if (!k || !v || c->name.len <= 0 || c->value.len < 0) {
            *msg = "config entries need a name and a value";
            return KAFKA_INVALID_CONFIG;
        }
        memcpy(k, c->name.p, (size_t)c->name.len);
        memcpy(v, c->value.p, (size_t)c->value.len);
        if (config_ignored(k)) {
            char e[128]; /* the client's bytes */
            log_info("topic config accepted without effect", "\"topic\":\"%s\",\"config\":%s", name,
                     log_json_str(e, sizeof(e), k));
            continue;
        }
        (*keys)[kept] = k;
        (*values)[kept] = v;
        kept++;
        if (log_config_set(&probe, k, v)) {
            *msg = "unknown topic config or bad value";
            return KAFKA_INVALID_CONFIG;
        }
    }
    *nconfigs = kept;
    return KAFKA_NONE;
}

/* CreateTopics v5+ (KIP-525) answers with the topic's shape and configs: here the partition
 * count, replication factor 1, and the topic-level configs it was created with (source
 * DYNAMIC_TOPIC_CONFIG); the broker defaults are DescribeConfigs' to list. -1 on error. */
static void create_topic_result(struct request *req, struct create_topics_resp_topic *to,
                                int32_t nparts, const char **keys, const char **values,
                                int32_t nconfigs)
{
    to->num_partitions = -1;
    to->replication_factor = -1;
    to->nconfigs = -1;
    if (to->error_code != KAFKA_NONE)
        return;
    to->num_partitions = nparts;
    to->replication_factor = 1;
    to->configs =
        nconfigs > 0 ? arena_array(&req->arena, (size_t)nconfigs, sizeof(*to->configs)) : NULL;
    to->nconfigs = to->configs ? nconfigs : 0;
    for (int32_t i = 0; i < to->nconfigs; i++)
        to->configs[i] = (struct create_topics_resp_config){
            .name = {keys[i], (int32_t)strlen(keys[i])},
            .value = {values[i], (int32_t)strlen(values[i])},
            .config_source = 1, /* DYNAMIC_TOPIC_CONFIG */
        };
}

void handle_create_topics(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct create_topics_req in;
    if (kafka_parse_create_topics_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed CreateTopics request");
        return;
    }
    struct create_topics_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
    if (in.ntopics && !resp.topics) {
        request_fail(req, "CreateTopics request too large");
        return;
    }
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct create_topics_req_topic *ti = &in.topics[i];
        struct create_topics_resp_topic *to = &resp.topics[i];
        char name[256];
        int32_t nparts = 0, nconfigs = 0;
        const char **keys = NULL, **values = NULL, *msg = NULL;
        to->name = ti->name;
        to->error_code = check_create(b, req, ti, name, &nparts, &keys, &values, &nconfigs, &msg);
        if (to->error_code == KAFKA_NONE && !in.validate_only) {
            struct topic *t;
            int rc = logmgr_create_topic(b->logs, name, nparts, keys, values, nconfigs, &t);
            if (rc) {
                to->error_code = rc == TANDEM_EEXIST   ? KAFKA_TOPIC_ALREADY_EXISTS
                                 : rc == TANDEM_EINVAL ? KAFKA_INVALID_CONFIG
                                                       : KAFKA_KAFKA_STORAGE_ERROR;
                msg = tandem_strerror(rc);
            } else {
                log_info("topic created", "\"topic\":\"%s\",\"partitions\":%d", name, nparts);
            }
        }
        to->error_message = msg ? (struct kstr){msg, (int32_t)strlen(msg)} : KSTR_NULL;
        create_topic_result(req, to, nparts, keys, values, nconfigs);
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_create_topics_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_delete_topics(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct delete_topics_req in;
    if (kafka_parse_delete_topics_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DeleteTopics request");
        return;
    }
    struct delete_topics_resp resp = {.nresponses = in.ntopic_names};
    resp.responses = arena_array(&req->arena, (size_t)in.ntopic_names, sizeof(*resp.responses));
    if (in.ntopic_names && !resp.responses) {
        request_fail(req, "DeleteTopics request too large");
        return;
    }
    for (int32_t i = 0; i < in.ntopic_names; i++) {
        struct kstr name = in.topic_names[i];
        resp.responses[i].name = name;
        int16_t err;
        struct topic *t = api_topic(b, name, false, &err);
        if (!t) {
            resp.responses[i].error_code = err;
            continue;
        }
        for (int32_t p = 0; p < t->npartitions; p++)
            flusher_forget(b->flusher, t->partitions[p]);
        durable_forget_topic(&b->held, t);
        char nm[256];
        snprintf(nm, sizeof(nm), "%s", t->name);
        int rc = logmgr_delete_topic(b->logs, nm); /* parked fetches look topics up by name */
        resp.responses[i].error_code = rc ? KAFKA_KAFKA_STORAGE_ERROR : KAFKA_NONE;
        if (rc == 0 && gc_offsets_drop_topic(b->gc, nm) > 0) {
            /* committed offsets go with the topic, as in Kafka: a new topic of the same name
             * starts from auto.offset.reset, not from the old topic's positions */
            int64_t end;
            if (offsets_log_clear_topic(b->olog, nm, &end) == 0)
                flusher_mark_offsets(b->flusher);
            else
                log_error("offsets log: cannot record a deleted topic's offsets", NULL);
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_delete_topics_response(&w, ver, &resp);
    request_respond(req, &w);
    durable_complete(&b->held); /* produces that only waited on the deleted topic */
}

void handle_init_producer_id(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct init_producer_id_req in;
    if (kafka_parse_init_producer_id_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed InitProducerId request");
        return;
    }
    struct init_producer_id_resp resp = {.producer_id = -1, .producer_epoch = -1};
    if (in.transactional_id.len >= 0) {
        resp.error_code = txn_init_producer(b, in.transactional_id, in.transaction_timeout_ms,
                                            &resp.producer_id, &resp.producer_epoch);
        if (resp.error_code) {
            resp.producer_id = -1;
            resp.producer_epoch = -1;
        }
    } else {
        int64_t id;
        int rc = identity_next_producer_id(b, &id);
        if (rc) {
            resp.error_code = KAFKA_KAFKA_STORAGE_ERROR;
        } else {
            resp.producer_id = id;
            resp.producer_epoch = 0;
            log_info("producer id assigned", "\"producer_id\":%" PRId64, id);
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_init_producer_id_response(&w, ver, &resp);
    request_respond(req, &w);
}

/* ---- CreatePartitions ------------------------------------------------------------------------ */

struct cp_name {
    struct kstr name;
    int32_t index;
};

/* Orders names bytewise, a prefix first. */
static int cp_kstr_cmp(struct kstr a, struct kstr b)
{
    int32_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.p, b.p, (size_t)n) : 0;
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int cp_name_cmp(const void *x, const void *y)
{
    const struct cp_name *a = x, *b = y;
    int c = cp_kstr_cmp(a->name, b->name);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* Marks in dup[] every topic whose name appears more than once, and in later[] every occurrence
 * after the first (those get no result of their own). Sorting keeps a hostile request of many
 * topics at O(n log n). Returns false when the arena is exhausted. */
static bool cp_find_duplicates(struct request *req, const struct create_partitions_req *in,
                               bool *dup, bool *later)
{
    struct cp_name *v = arena_array(&req->arena, (size_t)in->ntopics, sizeof(*v));
    if (in->ntopics && !v)
        return false;
    for (int32_t i = 0; i < in->ntopics; i++)
        v[i] = (struct cp_name){in->topics[i].name, i};
    if (in->ntopics > 1)
        qsort(v, (size_t)in->ntopics, sizeof(*v), cp_name_cmp);
    for (int32_t i = 1; i < in->ntopics; i++) {
        if (cp_kstr_cmp(v[i].name, v[i - 1].name) != 0)
            continue;
        dup[v[i - 1].index] = dup[v[i].index] = true;
        later[v[i].index] = true; /* sorted by index within equal names */
    }
    return true;
}

/* Checks a manual assignment of the new partitions: one entry per new partition, each naming
 * this node only (one node: replication factor 1). Kafka's messages, in Kafka's order. */
static int16_t cp_check_assignments(struct broker *b, const struct create_partitions_req_topic *ti,
                                    int32_t current, char *msg, size_t cap)
{
    int32_t self = (int32_t)b->cfg->node_id;
    char ids[200];
    size_t n = 0;
    for (int32_t j = 0; j < ti->nassignments; j++) {
        const struct create_partitions_assignment *as = &ti->assignments[j];
        for (int32_t k = 0; k < as->nbroker_ids; k++)
            if (as->broker_ids[k] != self && n < sizeof(ids) - 16)
                n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%" PRId32, n ? ", " : "",
                                      as->broker_ids[k]);
    }
    if (n) {
        snprintf(msg, cap, "Unknown broker(s) in replica assignment: %s.", ids);
        return KAFKA_INVALID_REPLICA_ASSIGNMENT;
    }
    if (ti->nassignments != ti->count - current) {
        snprintf(msg, cap,
                 "Increasing the number of partitions by %" PRId32 " but %" PRId32
                 " assignments provided.",
                 ti->count - current, ti->nassignments);
        return KAFKA_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int32_t j = 0; j < ti->nassignments; j++) {
        const struct create_partitions_assignment *as = &ti->assignments[j];
        if (as->nbroker_ids == 0) {
            snprintf(msg, cap, "Cannot have replication factor of 0 for partition id %" PRId32 ".",
                     current + j);
            return KAFKA_INVALID_REPLICA_ASSIGNMENT;
        }
        if (as->nbroker_ids > 1) { /* only this node is known, so more than one is a repeat */
            snprintf(msg, cap,
                     "Duplicate brokers not allowed in replica assignment: %" PRId32 ", %" PRId32
                     "%s for partition id %" PRId32 ".",
                     self, self, as->nbroker_ids > 2 ? ", ..." : "", current + j);
            return KAFKA_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    return KAFKA_NONE;
}

/* Checks one topic of a CreatePartitions request; t is NULL for an unknown topic. Returns a
 * Kafka error with its message in msg. */
static int16_t cp_check(struct broker *b, const struct create_partitions_req_topic *ti,
                        const struct topic *t, char *msg, size_t cap)
{
    if (!t) {
        snprintf(msg, cap, "The topic '%.*s' does not exist.", ti->name.len > 0 ? ti->name.len : 0,
                 ti->name.p ? ti->name.p : "");
        return KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (ti->count < t->npartitions) {
        snprintf(msg, cap,
                 "Topic currently has %" PRId32
                 " partitions, which is higher than the requested %" PRId32 ".",
                 t->npartitions, ti->count);
        return KAFKA_INVALID_PARTITIONS;
    }
    if (ti->count == t->npartitions) {
        snprintf(msg, cap, "Topic already has %" PRId32 " partitions.", t->npartitions);
        return KAFKA_INVALID_PARTITIONS;
    }
    if (ti->count > LOG_MAX_PARTITIONS) {
        snprintf(msg, cap, "Topic can have at most %d partitions, %" PRId32 " requested.",
                 LOG_MAX_PARTITIONS, ti->count);
        return KAFKA_INVALID_PARTITIONS;
    }
    if (ti->nassignments >= 0)
        return cp_check_assignments(b, ti, t->npartitions, msg, cap);
    return KAFKA_NONE;
}

void handle_create_partitions(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct create_partitions_req in;
    if (kafka_parse_create_partitions_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed CreatePartitions request");
        return;
    }
    struct create_partitions_resp resp = {0};
    resp.results = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.results));
    bool *dup = arena_array(&req->arena, (size_t)in.ntopics, sizeof(bool));
    bool *later = arena_array(&req->arena, (size_t)in.ntopics, sizeof(bool));
    if (in.ntopics &&
        (!resp.results || !dup || !later || !cp_find_duplicates(req, &in, dup, later))) {
        request_fail(req, "CreatePartitions request too large");
        return;
    }
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct create_partitions_req_topic *ti = &in.topics[i];
        if (later[i])
            continue;
        struct create_partitions_resp_result *res = &resp.results[resp.nresults++];
        const size_t cap = 512;
        char *msg = arena_alloc(&req->arena, cap);
        if (!msg) {
            request_fail(req, "CreatePartitions request too large");
            return;
        }
        res->name = ti->name;
        if (dup[i]) {
            res->error_code = KAFKA_INVALID_REQUEST;
            snprintf(msg, cap, "Duplicate topic in request.");
        } else {
            int16_t err;
            struct topic *t = api_topic(b, ti->name, false, &err);
            res->error_code = cp_check(b, ti, t, msg, cap);
            if (res->error_code == KAFKA_NONE && !in.validate_only) {
                int rc = logmgr_add_partitions(b->logs, t->name, ti->count);
                if (rc) {
                    res->error_code = KAFKA_KAFKA_STORAGE_ERROR;
                    snprintf(msg, cap, "Could not add partitions: %s.", tandem_strerror(rc));
                }
            }
        }
        res->error_message = res->error_code ? (struct kstr){msg, (int32_t)strlen(msg)} : KSTR_NULL;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_create_partitions_response(&w, ver, &resp);
    request_respond(req, &w);
}
