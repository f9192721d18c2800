/*
 * The consumer-group APIs: Kafka requests in, the coordinator (group/group.h) and the offsets
 * log (group/offsets_log.h) underneath.
 *
 * JoinGroup and SyncGroup may be answered later than they arrive: the request object is handed
 * to the coordinator as an opaque pointer, keeps a reference on its connection, and the
 * coordinator's join_done/sync_done callbacks encode and send the answer. OffsetCommit writes
 * each offset to the offsets log and holds its response until the flusher has synced it
 * (request_hold_until_durable), so an acknowledged commit survives a crash; DeleteGroups does
 * the same with the record that clears the group's offsets. A timer drives gc_tick() at the
 * next deadline the coordinator reports (session expiry, rebalance timeout, initial delay).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "flusher.h"
#include "group/group.h"
#include "group/offsets_log.h"
#include "protocol/messages_group.h"
#include "tandem/error.h"

static struct kstr cstr(const char *s)
{
    return s ? (struct kstr){s, (int32_t)strlen(s)} : KSTR_NULL;
}

/* ---- timers ------------------------------------------------------------------------------ */

static void schedule(struct broker *b);

static void on_group_timer(void *arg)
{
    struct broker *b = arg;
    b->group_timer = 0;
    schedule(b);
}

/* Runs the coordinator's clock and arms the timer for its next deadline. */
static void schedule(struct broker *b)
{
    int64_t now = loop_now_ms(b->loop);
    int64_t next = gc_tick(b->gc, now);
    if (next < 0)
        return;
    if (next < 5)
        next = 5; /* coalesce */
    if (b->group_timer && b->group_timer_at <= now + next)
        return;
    if (b->group_timer)
        loop_timer_cancel(b->loop, b->group_timer);
    b->group_timer = loop_timer_add(b->loop, next, on_group_timer, b);
    b->group_timer_at = now + next;
}

/* ---- coordinator callbacks ----------------------------------------------------------------- */

static void join_done(void *r, const struct gc_join_result *res, void *arg)
{
    struct request *req = r;
    int16_t ver = req->hdr.request_api_version;
    struct join_group_member *members = NULL;
    if (res->nmembers > 0) {
        members = arena_array(&req->arena, (size_t)res->nmembers, sizeof(*members));
        for (int i = 0; members && i < res->nmembers; i++) {
            members[i].member_id = cstr(res->members[i].member_id);
            members[i].group_instance_id = cstr(res->members[i].group_instance_id);
            members[i].metadata =
                (struct kbytes){res->members[i].metadata, (int32_t)res->members[i].metadata_len};
        }
    }
    struct join_group_resp resp = {
        .error_code = res->error_code,
        .generation_id = res->generation_id,
        .protocol_name = cstr(res->protocol_name),
        .leader = cstr(res->leader),
        .member_id = cstr(res->member_id),
        .nmembers = members ? res->nmembers : 0,
        .members = members,
    };
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_join_group_response(&w, ver, &resp);
    request_respond(req, &w);
    (void)arg;
}

static void sync_done(void *r, int16_t err, const uint8_t *assignment, size_t len, void *arg)
{
    struct request *req = r;
    struct sync_group_resp resp = {
        .error_code = err,
        .assignment = {assignment ? assignment : (const uint8_t *)"", (int32_t)len},
    };
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_sync_group_response(&w, req->hdr.request_api_version, &resp);
    request_respond(req, &w);
    (void)arg;
}

int groups_init(struct broker *b)
{
    struct gc_config cfg;
    gc_config_defaults(&cfg);
    cfg.initial_rebalance_delay_ms = (int32_t)b->cfg->group_initial_rebalance_delay_ms;
    cfg.min_session_timeout_ms = (int32_t)b->cfg->group_min_session_timeout_ms;
    cfg.max_session_timeout_ms = (int32_t)b->cfg->group_max_session_timeout_ms;
    cfg.max_group_size = (int32_t)b->cfg->group_max_size;
    cfg.max_metadata_bytes = (int32_t)b->cfg->offset_metadata_max_bytes;
    cfg.empty_group_retention_ms = b->cfg->offsets_retention_check_interval_ms;
    if (getrandom(&cfg.member_id_seed, sizeof(cfg.member_id_seed), 0) !=
        (ssize_t)sizeof(cfg.member_id_seed))
        cfg.member_id_seed = (uint64_t)clock_wall_ms() ^ ((uint64_t)getpid() << 32);
    struct gc_callbacks cb = {.join_done = join_done, .sync_done = sync_done, .arg = b};
    b->gc = gc_new(&cfg, &cb);
    int rc = offsets_log_open(b->cfg->data_dir, b->gc, &b->olog);
    if (rc) {
        gc_free(b->gc);
        b->gc = NULL;
    }
    return rc;
}

void groups_cleanup(struct broker *b)
{
    if (b->group_timer && b->loop)
        loop_timer_cancel(b->loop, b->group_timer);
    b->group_timer = 0;
    if (b->gc)
        gc_free(b->gc); /* answers pending joins and syncs */
    b->gc = NULL;
    if (b->olog)
        offsets_log_close(b->olog);
    b->olog = NULL;
}

static void clear_group_offsets(const char *group, void *arg)
{
    struct broker *b = arg;
    int64_t end;
    if (offsets_log_clear_group(b->olog, group, &end) == 0)
        flusher_mark_offsets(b->flusher);
    char esc[300];
    log_info("committed offsets expired", "\"group\":%s", log_json_str(esc, sizeof(esc), group));
}

void groups_maintain(struct broker *b)
{
    gc_expire_offsets(b->gc, clock_wall_ms(), loop_now_ms(b->loop), b->cfg->offsets_retention_ms,
                      clear_group_offsets, b);
    if (offsets_log_compact(b->olog, b->gc) < 0)
        log_error("offsets log compaction failed", NULL);
}

/* ---- membership APIs ------------------------------------------------------------------------ */

void handle_find_coordinator(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct find_coordinator_req in;
    if (kafka_parse_find_coordinator_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed FindCoordinator request");
        return;
    }
    struct find_coordinator_resp resp = {
        .error_code = KAFKA_NONE,
        .error_message = KSTR_NULL,
        .node_id = (int32_t)b->cfg->node_id,
        .host = cstr(b->host),
        .port = b->port,
    };
    if (in.key_type != 0 && in.key_type != 1) { /* 0 group, 1 transaction: both are here */
        resp.error_code = KAFKA_INVALID_REQUEST;
        resp.error_message = KSTR("unknown coordinator key type");
        resp.node_id = -1;
        resp.host = KSTR("");
        resp.port = -1;
    }
    if (ver >= 4) { /* batched keys (KIP-699): the same answer for each key */
        resp.coordinators =
            arena_array(&req->arena, (size_t)in.ncoordinator_keys, sizeof(*resp.coordinators));
        resp.ncoordinators = resp.coordinators ? in.ncoordinator_keys : 0;
        for (int32_t i = 0; i < resp.ncoordinators; i++)
            resp.coordinators[i] = (struct find_coordinator_coordinator){
                .key = in.coordinator_keys[i],
                .node_id = resp.node_id,
                .host = resp.host,
                .port = resp.port,
                .error_code = resp.error_code,
                .error_message = resp.error_message,
            };
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_find_coordinator_response(&w, ver, &resp);
    request_respond(req, &w);
}

/* "127.0.0.1:5555" -> "/127.0.0.1", Kafka's client_host format. */
static struct kstr client_host(struct request *req)
{
    const char *peer = conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    char *h = arena_alloc(&req->arena, n + 2);
    if (!h)
        return KSTR("");
    h[0] = '/';
    memcpy(h + 1, peer, n);
    return (struct kstr){h, (int32_t)n + 1};
}

void handle_join_group(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct join_group_req in;
    if (kafka_parse_join_group_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed JoinGroup request");
        return;
    }
    struct gc_protocol *protos =
        arena_array(&req->arena, (size_t)(in.nprotocols > 0 ? in.nprotocols : 1), sizeof(*protos));
    if (!protos) {
        request_fail(req, "JoinGroup request too large");
        return;
    }
    for (int32_t i = 0; i < in.nprotocols; i++)
        protos[i] = (struct gc_protocol){in.protocols[i].name, in.protocols[i].metadata};
    struct gc_join_params p = {
        .group_id = in.group_id,
        .member_id = in.member_id,
        .group_instance_id = in.group_instance_id,
        .client_id = req->hdr.client_id,
        .client_host = client_host(req),
        .protocol_type = in.protocol_type,
        .session_timeout_ms = in.session_timeout_ms,
        .rebalance_timeout_ms = in.rebalance_timeout_ms,
        .nprotocols = in.nprotocols,
        .protocols = protos,
        .require_known_member_id = ver >= 4,
    };
    request_hold_conn(req); /* the answer may come later; it needs nothing from the frame */
    gc_join(b->gc, &p, req, loop_now_ms(b->loop));
    schedule(b);
}

void handle_sync_group(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct sync_group_req in;
    if (kafka_parse_sync_group_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed SyncGroup request");
        return;
    }
    struct gc_assignment *a =
        arena_array(&req->arena, (size_t)(in.nassignments > 0 ? in.nassignments : 1), sizeof(*a));
    if (!a) {
        request_fail(req, "SyncGroup request too large");
        return;
    }
    for (int32_t i = 0; i < in.nassignments; i++)
        a[i] = (struct gc_assignment){in.assignments[i].member_id, in.assignments[i].assignment};
    request_hold_conn(req);
    gc_sync(b->gc, in.group_id, in.generation_id, in.member_id, in.group_instance_id,
            in.nassignments, a, req, loop_now_ms(b->loop));
    schedule(b);
}

void handle_heartbeat(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct heartbeat_req in;
    if (kafka_parse_heartbeat_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed Heartbeat request");
        return;
    }
    struct heartbeat_resp resp = {
        .error_code = gc_heartbeat(b->gc, in.group_id, in.generation_id, in.member_id,
                                   in.group_instance_id, loop_now_ms(b->loop)),
    };
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_heartbeat_response(&w, ver, &resp);
    request_respond(req, &w);
    schedule(b);
}

void handle_leave_group(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct leave_group_req in;
    if (kafka_parse_leave_group_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed LeaveGroup request");
        return;
    }
    struct leave_group_resp resp = {.nmembers = ver >= 3 ? in.nmembers : 0, .members = in.members};
    int64_t now = loop_now_ms(b->loop);
    for (int32_t i = 0; i < in.nmembers; i++) {
        in.members[i].error_code = gc_leave(b->gc, in.group_id, in.members[i].member_id,
                                            in.members[i].group_instance_id, now);
        if (ver < 3)
            resp.error_code = in.members[i].error_code;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_leave_group_response(&w, ver, &resp);
    request_respond(req, &w);
    schedule(b);
}

/* ---- offsets ------------------------------------------------------------------------------- */

void handle_offset_commit(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct offset_commit_req in;
    if (kafka_parse_offset_commit_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed OffsetCommit request");
        return;
    }
    struct group *g = NULL;
    int16_t gerr = gc_commit_check(b->gc, in.group_id, in.generation_id, in.member_id,
                                   in.group_instance_id, loop_now_ms(b->loop), &g);
    struct offset_commit_resp resp = {.ntopics = in.ntopics};
    resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
    if (in.ntopics && !resp.topics) {
        request_fail(req, "OffsetCommit request too large");
        return;
    }
    int64_t now = clock_wall_ms(), end = -1;
    bool io_error = false;
    for (int32_t i = 0; i < in.ntopics; i++) {
        const struct offset_commit_req_topic *ti = &in.topics[i];
        struct offset_commit_resp_topic *to = &resp.topics[i];
        to->name = ti->name;
        to->partitions = arena_array(&req->arena, (size_t)ti->npartitions, sizeof(*to->partitions));
        to->npartitions = to->partitions ? ti->npartitions : 0;
        int16_t terr = KAFKA_NONE;
        struct topic *t = gerr ? NULL : api_topic(b, ti->name, false, &terr);
        for (int32_t j = 0; j < to->npartitions; j++) {
            const struct offset_commit_req_partition *pi = &ti->partitions[j];
            struct offset_commit_resp_partition *po = &to->partitions[j];
            po->partition_index = pi->partition_index;
            if (gerr) {
                po->error_code = gerr;
            } else if (!t || pi->partition_index < 0 || pi->partition_index >= t->npartitions) {
                po->error_code = t ? KAFKA_UNKNOWN_TOPIC_OR_PARTITION : terr;
            } else if (pi->committed_metadata.len > b->cfg->offset_metadata_max_bytes) {
                po->error_code = KAFKA_OFFSET_METADATA_TOO_LARGE;
            } else if (io_error) {
                po->error_code = KAFKA_COORDINATOR_NOT_AVAILABLE;
            } else {
                int64_t ts = pi->commit_timestamp >= 0 ? pi->commit_timestamp : now;
                const char *ptype = gc_group_type_to_record(g); /* before its first commit */
                if (ptype) {
                    if (offsets_log_group_type(b->olog, in.group_id.p, (size_t)in.group_id.len,
                                               ptype, &end)) {
                        log_error("offsets log append failed", NULL);
                        io_error = true;
                        po->error_code = KAFKA_COORDINATOR_NOT_AVAILABLE;
                        continue;
                    }
                    gc_group_type_recorded(g);
                }
                int rc =
                    offsets_log_commit(b->olog, in.group_id.p, (size_t)in.group_id.len, ti->name.p,
                                       (size_t)ti->name.len, pi->partition_index,
                                       pi->committed_offset, pi->committed_leader_epoch, ts,
                                       pi->committed_metadata.p, pi->committed_metadata.len, &end);
                if (rc) {
                    log_error("offsets log append failed", NULL);
                    io_error = true;
                    po->error_code = KAFKA_COORDINATOR_NOT_AVAILABLE;
                    continue;
                }
                gc_offset_put(g, ti->name.p, (size_t)ti->name.len, pi->partition_index,
                              pi->committed_offset, pi->committed_leader_epoch, ts,
                              pi->committed_metadata.p, pi->committed_metadata.len);
            }
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_offset_commit_response(&w, ver, &resp);
    schedule(b);
    if (end < 0) {
        request_respond(req, &w);
        return;
    }
    struct durable_need need = {.kind = DURABLE_OFFSETS, .end = end};
    request_hold_until_durable(req, &w, &need, 1);
}

/* OffsetFetch for every topic of a group: one counting pass (offsets come sorted by topic),
 * one allocation, one filling pass, so the work is linear in the group's offsets. */
struct fetch_all {
    struct request *req;
    struct offset_fetch_resp_topic *topics;
    struct offset_fetch_resp_partition *parts;
    int32_t ntopics, nparts;
    const char *last_topic;
};

static void fetch_all_count(const char *topic, int32_t partition, const struct gc_offset *o,
                            void *arg)
{
    struct fetch_all *fa = arg;
    if (!fa->last_topic || strcmp(fa->last_topic, topic) != 0)
        fa->ntopics++;
    fa->last_topic = topic;
    fa->nparts++;
}

static void fetch_all_fill(const char *topic, int32_t partition, const struct gc_offset *o,
                           void *arg)
{
    struct fetch_all *fa = arg;
    struct offset_fetch_resp_topic *t = fa->ntopics ? &fa->topics[fa->ntopics - 1] : NULL;
    if (!t || !kstr_eq(t->name, topic)) {
        t = &fa->topics[fa->ntopics++];
        t->name = cstr(topic);
        t->partitions = &fa->parts[fa->nparts];
        t->npartitions = 0;
    }
    fa->parts[fa->nparts++] = (struct offset_fetch_resp_partition){
        .partition_index = partition,
        .committed_offset = o->offset,
        .committed_leader_epoch = o->leader_epoch,
        .metadata = o->metadata ? cstr(o->metadata) : KSTR(""),
        .error_code = KAFKA_NONE,
    };
    t->npartitions++;
}

/* The committed offsets of one group: the topics asked for (ntopics >= 0) or all of them (-1),
 * into *ntopics_out / *topics_out; returns the group-level error code. */
static int16_t offset_fetch_group(struct request *req, struct kstr group_id, int32_t ntopics,
                                  struct offset_fetch_req_topic *topics, int32_t *ntopics_out,
                                  struct offset_fetch_resp_topic **topics_out)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct offset_fetch_req in = {.group_id = group_id, .ntopics = ntopics, .topics = topics};
    struct offset_fetch_resp resp = {.error_code = KAFKA_NONE};
    int16_t gerr = in.group_id.len <= 0 ? KAFKA_INVALID_GROUP_ID : KAFKA_NONE;
    if (gerr && (ver >= 2 || in.ntopics < 0)) {
        resp.error_code = gerr;  /* v2+ has a group-level error code */
    } else if (in.ntopics < 0) { /* v2+: every committed offset of the group */
        struct fetch_all fa = {.req = req};
        gc_offset_foreach(b->gc, in.group_id, fetch_all_count, &fa);
        fa.topics =
            arena_array(&req->arena, (size_t)(fa.ntopics ? fa.ntopics : 1), sizeof(*fa.topics));
        fa.parts = arena_array(&req->arena, (size_t)(fa.nparts ? fa.nparts : 1), sizeof(*fa.parts));
        if (!fa.topics || !fa.parts) {
            resp.error_code = KAFKA_UNKNOWN_SERVER_ERROR; /* never silently partial */
        } else {
            fa.ntopics = fa.nparts = 0;
            gc_offset_foreach(b->gc, in.group_id, fetch_all_fill, &fa);
            resp.ntopics = fa.ntopics;
            resp.topics = fa.topics;
        }
    } else {
        resp.topics = arena_array(&req->arena, (size_t)in.ntopics, sizeof(*resp.topics));
        resp.ntopics = resp.topics ? in.ntopics : 0;
        for (int32_t i = 0; i < resp.ntopics; i++) {
            const struct offset_fetch_req_topic *ti = &in.topics[i];
            struct offset_fetch_resp_topic *to = &resp.topics[i];
            to->name = ti->name;
            to->partitions =
                arena_array(&req->arena, (size_t)ti->npartition_indexes, sizeof(*to->partitions));
            to->npartitions = to->partitions ? ti->npartition_indexes : 0;
            for (int32_t j = 0; j < to->npartitions; j++) {
                int32_t p = ti->partition_indexes[j];
                const struct gc_offset *o = gc_offset_get(b->gc, in.group_id, ti->name, p);
                to->partitions[j] = (struct offset_fetch_resp_partition){
                    .partition_index = p,
                    .committed_offset = o ? o->offset : -1,
                    .committed_leader_epoch = o ? o->leader_epoch : -1,
                    .metadata = o && o->metadata ? cstr(o->metadata) : KSTR(""),
                    .error_code = gerr, /* v0-1 carry group errors per partition */
                };
            }
        }
    }
    *ntopics_out = resp.ntopics;
    *topics_out = resp.topics;
    return resp.error_code;
}

/* OffsetFetch. v8 asks for several groups at once (KIP-709), each answered as v0-7 answer one.
 * RequireStable (v7+) needs no wait: tandem keeps no pending transactional offsets. */
void handle_offset_fetch(struct request *req)
{
    int16_t ver = req->hdr.request_api_version;
    struct offset_fetch_req in;
    if (kafka_parse_offset_fetch_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed OffsetFetch request");
        return;
    }
    struct offset_fetch_resp resp = {.error_code = KAFKA_NONE};
    if (ver >= 8) {
        resp.groups = arena_array(&req->arena, (size_t)in.ngroups, sizeof(*resp.groups));
        resp.ngroups = resp.groups ? in.ngroups : 0;
        for (int32_t i = 0; i < resp.ngroups; i++) {
            const struct offset_fetch_req_group *gi = &in.groups[i];
            struct offset_fetch_resp_group *go = &resp.groups[i];
            go->group_id = gi->group_id;
            go->error_code = offset_fetch_group(req, gi->group_id, gi->ntopics, gi->topics,
                                                &go->ntopics, &go->topics);
        }
    } else {
        resp.error_code = offset_fetch_group(req, in.group_id, in.ntopics, in.topics, &resp.ntopics,
                                             &resp.topics);
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_offset_fetch_response(&w, ver, &resp);
    request_respond(req, &w);
}

/* ---- administration -------------------------------------------------------------------------- */

struct list_acc {
    struct request *req;
    struct list_groups_group *out;
    int32_t n, cap;
    const struct list_groups_req *in;
};

/* ListGroups v4 StatesFilter: is the state named (case-insensitively, as Kafka parses it)? */
static bool list_state_wanted(const struct list_groups_req *in, const char *state)
{
    if (in->nstates_filter <= 0)
        return true;
    size_t n = strlen(state);
    for (int32_t i = 0; i < in->nstates_filter; i++)
        if ((size_t)in->states_filter[i].len == n &&
            strncasecmp(in->states_filter[i].p, state, n) == 0)
            return true;
    return false;
}

static void list_one(const struct gc_group_info *g, void *arg)
{
    struct list_acc *acc = arg;
    const char *state = group_state_name(g->state);
    if (acc->n < acc->cap && list_state_wanted(acc->in, state)) {
        acc->out[acc->n].group_id = cstr(g->group_id);
        acc->out[acc->n].protocol_type = cstr(g->protocol_type);
        acc->out[acc->n].group_state = cstr(state);
        acc->n++;
    }
}

void handle_list_groups(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct list_groups_req in;
    if (kafka_parse_list_groups_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed ListGroups request");
        return;
    }
    struct list_acc acc = {.req = req, .cap = gc_group_count(b->gc), .in = &in};
    acc.out = arena_array(&req->arena, (size_t)(acc.cap ? acc.cap : 1), sizeof(*acc.out));
    if (acc.out)
        gc_list(b->gc, list_one, &acc);
    struct list_groups_resp resp = {.error_code = KAFKA_NONE, .ngroups = acc.n, .groups = acc.out};
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_list_groups_response(&w, ver, &resp);
    request_respond(req, &w);
}

struct describe_acc {
    struct request *req;
    struct describe_groups_group *out;
};

static struct kbytes copy_bytes(struct request *req, const uint8_t *p, size_t n)
{
    uint8_t *c = arena_alloc(&req->arena, n ? n : 1);
    if (!c)
        return (struct kbytes){(const uint8_t *)"", 0};
    if (n)
        memcpy(c, p, n);
    return (struct kbytes){c, (int32_t)n};
}

static struct kstr copy_str(struct request *req, const char *s)
{
    if (!s)
        return KSTR_NULL;
    struct kbytes b = copy_bytes(req, (const uint8_t *)s, strlen(s));
    return (struct kstr){(const char *)b.p, b.len};
}

static void describe_one(const struct gc_group_info *g, const struct gc_member_desc *m, void *arg)
{
    struct describe_acc *acc = arg;
    struct describe_groups_group *o = acc->out;
    struct request *req = acc->req;
    /* the coordinator's strings are only valid during this call: copy into the arena */
    o->group_state = cstr(group_state_name(g->state));
    o->protocol_type = copy_str(req, g->protocol_type);
    o->protocol_data = copy_str(req, g->protocol_name);
    o->members =
        arena_array(&req->arena, (size_t)(g->nmembers ? g->nmembers : 1), sizeof(*o->members));
    o->nmembers = o->members ? g->nmembers : 0;
    for (int i = 0; i < o->nmembers; i++) {
        o->members[i].member_id = copy_str(req, m[i].member_id);
        o->members[i].group_instance_id = copy_str(req, m[i].group_instance_id);
        o->members[i].client_id = copy_str(req, m[i].client_id);
        o->members[i].client_host = copy_str(req, m[i].client_host);
        o->members[i].member_metadata = copy_bytes(req, m[i].metadata, m[i].metadata_len);
        o->members[i].member_assignment = copy_bytes(req, m[i].assignment, m[i].assignment_len);
    }
}

void handle_describe_groups(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct describe_groups_req in;
    if (kafka_parse_describe_groups_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DescribeGroups request");
        return;
    }
    struct describe_groups_resp resp = {.ngroups = in.ngroups};
    resp.groups = arena_array(&req->arena, (size_t)in.ngroups, sizeof(*resp.groups));
    if (in.ngroups && !resp.groups) {
        request_fail(req, "DescribeGroups request too large");
        return;
    }
    for (int32_t i = 0; i < in.ngroups; i++) {
        struct describe_groups_group *o = &resp.groups[i];
        o->group_id = in.groups[i];
        o->authorized_operations = INT32_MIN;
        o->protocol_type = KSTR("");
        o->protocol_data = KSTR("");
        struct describe_acc acc = {.req = req, .out = o};
        if (in.groups[i].len <= 0) {
            o->error_code = KAFKA_INVALID_GROUP_ID;
            o->group_state = KSTR("");
        } else if (gc_describe(b->gc, in.groups[i], describe_one, &acc) == TANDEM_ENOENT) {
            o->group_state = KSTR("Dead"); /* Kafka answers unknown groups as Dead, no error */
        }
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_describe_groups_response(&w, ver, &resp);
    request_respond(req, &w);
}

void handle_delete_groups(struct request *req)
{
    struct broker *b = req->b;
    int16_t ver = req->hdr.request_api_version;
    struct delete_groups_req in;
    if (kafka_parse_delete_groups_request(&req->body, ver, &req->arena, &in)) {
        request_fail(req, "malformed DeleteGroups request");
        return;
    }
    struct delete_groups_resp resp = {.nresults = in.ngroups_names};
    resp.results = arena_array(&req->arena, (size_t)in.ngroups_names, sizeof(*resp.results));
    if (in.ngroups_names && !resp.results) {
        request_fail(req, "DeleteGroups request too large");
        return;
    }
    int64_t end = -1;
    for (int32_t i = 0; i < in.ngroups_names; i++) {
        struct kstr id = in.groups_names[i];
        resp.results[i].group_id = id;
        int16_t err = id.len <= 0 ? KAFKA_INVALID_GROUP_ID : gc_delete(b->gc, id);
        if (err == KAFKA_NONE) {
            char *name = xstrndup(id.p, (size_t)id.len); /* the whole id: a cut one is another */
            char esc[300];
            if (offsets_log_clear_group(b->olog, name, &end))
                err = KAFKA_COORDINATOR_NOT_AVAILABLE;
            else
                log_info("group deleted", "\"group\":%s", log_json_str(esc, sizeof(esc), name));
            free(name);
        }
        resp.results[i].error_code = err;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_delete_groups_response(&w, ver, &resp);
    if (end < 0) {
        request_respond(req, &w);
        return;
    }
    struct durable_need need = {.kind = DURABLE_OFFSETS, .end = end};
    request_hold_until_durable(req, &w, &need, 1);
}
