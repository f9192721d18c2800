/*
 * Metadata: one broker (this one, node.id, advertised host and bound port), which is the
 * controller and the leader of every partition, with itself as the only replica and ISR member.
 * Topics are auto-created here when the request allows it (v4+ AllowAutoTopicCreation; always for
 * v0-3) and auto.create.topics.enable is on, as librdkafka's test suite expects.
 *
 * Also api_topic(), the topic lookup every handler uses: Produce auto-creates as Metadata does;
 * Fetch, ListOffsets, the admin APIs and OffsetCommit only look up.
 */
#include <inttypes.h>
#include <string.h>

#include "api/api.h"
#include "common/log.h"
#include "tandem/error.h"

struct topic *api_topic(struct broker *b, struct kstr name, bool auto_create, int16_t *err)
{
    if (name.len <= 0 || !topic_name_valid(name.p, (size_t)name.len)) {
        *err = KAFKA_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    struct topic *t = logmgr_find(b->logs, name.p, (size_t)name.len);
    if (t)
        return t;
    if (!auto_create || !b->cfg->auto_create_topics) {
        *err = KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    char nm[256];
    memcpy(nm, name.p, (size_t)name.len);
    nm[name.len] = '\0';
    int rc = logmgr_create_topic(b->logs, nm, (int32_t)b->cfg->num_partitions, NULL, NULL, 0, &t);
    if (rc) {
        *err = rc == TANDEM_EINVAL ? KAFKA_INVALID_TOPIC_EXCEPTION : KAFKA_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    log_info("topic auto-created", "\"topic\":\"%s\",\"partitions\":%" PRId64, nm,
             b->cfg->num_partitions);
    return t;
}

struct topic_list {
    struct request *req;
    struct metadata_topic *out;
    int32_t n, cap;
};

static void fill_topic(struct broker *b, struct request *req, struct topic *t,
                       struct metadata_topic *mt, int16_t ver)
{
    (void)ver;
    mt->error_code = KAFKA_NONE;
    mt->name = (struct kstr){t->name, (int32_t)strlen(t->name)};
    mt->is_internal = false;
    mt->topic_authorized_operations = INT32_MIN;
    mt->partitions = arena_array(&req->arena, (size_t)t->npartitions, sizeof(*mt->partitions));
    mt->npartitions = mt->partitions ? t->npartitions : 0;
    int32_t *self = arena_alloc(&req->arena, sizeof(int32_t));
    if (!self) {
        mt->npartitions = 0;
        return;
    }
    *self = (int32_t)b->cfg->node_id;
    for (int32_t p = 0; p < mt->npartitions; p++) {
        struct metadata_partition *mp = &mt->partitions[p];
        mp->error_code = KAFKA_NONE;
        mp->partition_index = p;
        mp->leader_id = *self;
        mp->leader_epoch = 0;
        mp->nreplica_nodes = 1;
        mp->replica_nodes = self;
        mp->nisr_nodes = 1;
        mp->isr_nodes = self;
        mp->noffline_replicas = 0;
        mp->offline_replicas = NULL;
    }
}

static void collect(struct topic *t, void *arg)
{
    struct topic_list *tl = arg;
    if (tl->n < tl->cap)
        fill_topic(tl->req->b, tl->req, t, &tl->out[tl->n++], tl->req->hdr.request_api_version);
}

void handle_metadata(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct metadata_req in;
    if (kafka_parse_metadata_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed Metadata request");
        return;
    }
    struct metadata_broker self = {
        .node_id = (int32_t)b->cfg->node_id,
        .host = {b->host, (int32_t)strlen(b->host)},
        .port = b->port,
        .rack = KSTR_NULL,
    };
    struct metadata_resp resp = {
        .nbrokers = 1,
        .brokers = &self,
        .cluster_id = {b->cluster_id, (int32_t)strlen(b->cluster_id)},
        .controller_id = (int32_t)b->cfg->node_id,
        .cluster_authorized_operations = INT32_MIN,
    };
    bool all = in.ntopics < 0 || (ver == 0 && in.ntopics == 0);
    if (all) {
        struct topic_list tl = {.req = req, .cap = logmgr_topic_count(b->logs)};
        tl.out = arena_array(&req->arena, (size_t)tl.cap, sizeof(*tl.out));
        if (tl.cap && !tl.out)
            tl.cap = 0;
        logmgr_foreach(b->logs, collect, &tl);
        resp.ntopics = tl.n;
        resp.topics = tl.out;
    } else {
        resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
        resp.ntopics = resp.topics ? in.ntopics : 0;
        for (int32_t i = 0; i < resp.ntopics; i++) {
            int16_t err = KAFKA_UNKNOWN_TOPIC_ID; /* v10+: a null name asks by topic id */
            struct topic *t = in.topics[i].len < 0
                                  ? NULL
                                  : api_topic(b, in.topics[i], in.allow_auto_topic_creation, &err);
            if (t) {
                fill_topic(b, req, t, &resp.topics[i], ver);
            } else {
                resp.topics[i].error_code = err;
                resp.topics[i].name = in.topics[i];
                resp.topics[i].topic_authorized_operations = INT32_MIN;
            }
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_metadata_response(&w, ver, &resp);
    request_respond(req, &w);
}
