/*
 * Tests of the consumer-group codecs (messages_group.h, broker side; messages_group_client.h,
 * client side).
 *
 *   - Round trips, for every API and every version the codecs implement: a request filled with
 *     distinct values is encoded with the client encoder and parsed with the broker's parser, a
 *     response is encoded with the broker's encoder and parsed with the client parser, and every
 *     field is compared (fields a version lacks must come back as the spec's default).
 *   - Every truncation of those requests and responses, and every one-byte extension, is
 *     rejected with TANDEM_EPROTO (run under ASan/UBSan, so also never an out-of-bounds read).
 *   - Malformed input: null non-nullable strings, bad counts, null arrays where not allowed.
 *   - Frames captured from librdkafka 2.0.2's high-level consumer against its mock cluster
 *     (tests/vectors/group/<scenario>/, see tests/vectors/capture-group/capture.sh): each parses,
 *     re-encodes to the identical bytes, and has the exact values the client sent. The member
 *     ids ("0x7f...") are the mock's; a re-capture changes them and the test's constants.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/messages_group.h"
#include "kafka_client/messages_group_client.h"
#include "test_codec_util.h"
#include "../common/codec_group_dispatch.h"

#define VEC TANDEM_VECTORS_DIR "/group"

/* ---- comparison helpers -----------------------------------------------------------------------
 */

/* assert_kstr(s, "text") or assert_kstr(s, NULL) for null; failures name the caller's line. */
#define assert_kstr(s, want) check_kstr((s), (want), __LINE__)
static void check_kstr(struct kstr s, const char *want, int line)
{
    if (!want) {
        if (s.len != -1)
            fail_msg("line %d: got \"%.*s\", want null", line, s.len, s.p);
        return;
    }
    if (!kstr_eq(s, want))
        fail_msg("line %d: got \"%.*s\" (len %d), want \"%s\"", line, s.len < 0 ? 0 : s.len,
                 s.p ? s.p : "", s.len, want);
}

static void assert_same_str(struct kstr got, struct kstr want)
{
    assert_int_equal(got.len, want.len);
    if (want.len > 0)
        assert_memory_equal(got.p, want.p, (size_t)want.len);
}

static void assert_same_bytes(struct kbytes got, struct kbytes want)
{
    assert_int_equal(got.len, want.len);
    if (want.len > 0)
        assert_memory_equal(got.p, want.p, (size_t)want.len);
}

#define S(lit) KSTR(lit)
#define NUL    KSTR_NULL

/* ---- sample messages: every field distinct, nulls where the spec allows them ------------------
 */

static const uint8_t meta1[] = {0, 1, 0, 0, 0, 1, 0, 7, 't', 'o', 'p', 'i', 'c', '-', 'a'};
static const uint8_t assign1[] = {0, 1, 0, 0, 0, 1, 0, 1, 'x', 0, 0, 0, 1, 0, 0, 0, 2};
#define B(arr) ((struct kbytes){(arr), (int32_t)sizeof(arr)})
#define BEMPTY ((struct kbytes){NULL, 0})

static struct join_group_protocol jg_protocols[] = {{S("range"), B(meta1)},
                                                    {S("roundrobin"), BEMPTY}};
static struct join_group_member jg_members[] = {{S("member-1"), S("inst-1"), B(meta1)},
                                                {S("member-2"), NUL, BEMPTY}};
static struct sync_group_assignment sg_assignments[] = {{S("member-1"), B(assign1)},
                                                        {S("member-2"), BEMPTY}};
static struct leave_group_member lg_req_members[] = {{S("member-1"), S("inst-1"), 0},
                                                     {S("member-2"), NUL, 0}};
static struct leave_group_member lg_resp_members[] = {{S("member-1"), S("inst-1"), 0},
                                                      {S("member-2"), NUL, 25}};
static struct offset_commit_req_partition oc_parts[] = {
    {0, 42, 3, 1700000000000, S("meta")},
    {7, 1LL << 40, 9, 1700000000001, NUL},
};
static struct offset_commit_req_topic oc_topics[] = {{S("topic-a"), 2, oc_parts},
                                                     {S("topic-b"), 0, NULL}};
static struct offset_commit_resp_partition ocr_parts[] = {{0, 0}, {7, 12}};
static struct offset_commit_resp_topic ocr_topics[] = {{S("topic-a"), 2, ocr_parts},
                                                       {S("topic-b"), 0, NULL}};
static int32_t of_idx[] = {0, 1, 2};
static struct offset_fetch_req_topic of_topics[] = {{S("topic-a"), 3, of_idx},
                                                    {S("topic-b"), 0, NULL}};
static struct offset_fetch_resp_partition ofr_parts[] = {{0, 42, 3, S("meta"), 0},
                                                         {1, -1, -1, NUL, 3}};
static struct offset_fetch_resp_topic ofr_topics[] = {{S("topic-a"), 2, ofr_parts}};
static struct list_groups_group lg_groups[] = {{S("grp-a"), S("consumer"), S("Stable")},
                                               {S("grp-b"), S(""), S("Empty")}};
static struct kstr lg_states[] = {S("Stable"), S("Empty")};
static struct kstr fc_keys[] = {S("grp-a"), S("grp-b")};
static struct find_coordinator_coordinator fc_coords[] = {
    {S("grp-a"), 1, S("127.0.0.1"), 9092, 0, NUL},
    {S("grp-b"), -1, S(""), -1, 15, S("coordinator not available")}};
static struct offset_fetch_req_group of_groups[] = {{S("grp-a"), 2, of_topics},
                                                    {S("grp-b"), -1, NULL}};
static struct offset_fetch_resp_group ofr_groups[] = {{S("grp-a"), 1, ofr_topics, 0},
                                                      {S("grp-b"), 0, NULL, 69}};
static struct kstr group_names[] = {S("grp-a"), S("grp-b")};
static struct describe_groups_member dg_members[] = {
    {S("member-1"), S("inst-1"), S("client-1"), S("/127.0.0.1"), B(meta1), B(assign1)},
    {S("member-2"), NUL, S("client-2"), S("/127.0.0.2"), BEMPTY, BEMPTY},
};
static struct describe_groups_group dg_groups[] = {
    {0, S("grp-a"), S("Stable"), S("consumer"), S("range"), 2, dg_members, 0x0f80},
    {69, S("grp-b"), S("Dead"), S(""), S(""), 0, NULL, 0x10},
};
static struct delete_groups_result dgr_results[] = {{S("grp-a"), 0}, {S("grp-b"), 69}};

static void sample_req(int16_t api, int16_t v, union group_req *o)
{
    memset(o, 0, sizeof(*o));
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        o->find_coordinator = (struct find_coordinator_req){
            v <= 3 ? S("grp-a") : NUL, v >= 1 ? 1 : 0, v >= 4 ? 2 : 0, v >= 4 ? fc_keys : NULL};
        break;
    case KAFKA_JOIN_GROUP:
        o->join_group = (struct join_group_req){S("grp-a"),  10000,         300000, S("member-1"),
                                                S("inst-1"), S("consumer"), 2,      jg_protocols};
        break;
    case KAFKA_SYNC_GROUP:
        o->sync_group =
            (struct sync_group_req){S("grp-a"), 4, S("member-1"), S("inst-1"), 2, sg_assignments};
        break;
    case KAFKA_HEARTBEAT:
        o->heartbeat = (struct heartbeat_req){S("grp-a"), 4, S("member-1"), S("inst-1")};
        break;
    case KAFKA_LEAVE_GROUP:
        o->leave_group = (struct leave_group_req){S("grp-a"), v >= 3 ? 2 : 1, lg_req_members,
                                                  v <= 2 ? lg_req_members[0].member_id : NUL};
        break;
    case KAFKA_OFFSET_COMMIT:
        o->offset_commit = (struct offset_commit_req){S("grp-a"), 4, S("member-1"), S("inst-1"),
                                                      86400000,   2, oc_topics};
        break;
    case KAFKA_OFFSET_FETCH:
        o->offset_fetch = v <= 7
                              ? (struct offset_fetch_req){S("grp-a"), 2, of_topics, 0, NULL, v >= 7}
                              : (struct offset_fetch_req){NUL, 0, NULL, 2, of_groups, true};
        break;
    case KAFKA_LIST_GROUPS:
        o->list_groups = (struct list_groups_req){v >= 4 ? 2 : 0, v >= 4 ? lg_states : NULL};
        break;
    case KAFKA_DESCRIBE_GROUPS:
        o->describe_groups = (struct describe_groups_req){2, group_names, true};
        break;
    case KAFKA_DELETE_GROUPS:
        o->delete_groups = (struct delete_groups_req){2, group_names};
        break;
    }
}

static void sample_resp(int16_t api, union group_resp *o)
{
    memset(o, 0, sizeof(*o));
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        o->find_coordinator = (struct find_coordinator_resp){
            7, 15, S("coordinator not available"), 3, S("127.0.0.1"), 9092, 2, fc_coords};
        break;
    case KAFKA_JOIN_GROUP:
        o->join_group = (struct join_group_resp){
            5, 79, 4, S("range"), S("member-1"), S("member-2"), 2, jg_members};
        break;
    case KAFKA_SYNC_GROUP:
        o->sync_group = (struct sync_group_resp){6, 27, B(assign1)};
        break;
    case KAFKA_HEARTBEAT:
        o->heartbeat = (struct heartbeat_resp){8, 25};
        break;
    case KAFKA_LEAVE_GROUP:
        o->leave_group = (struct leave_group_resp){9, 14, 2, lg_resp_members};
        break;
    case KAFKA_OFFSET_COMMIT:
        o->offset_commit = (struct offset_commit_resp){10, 2, ocr_topics};
        break;
    case KAFKA_OFFSET_FETCH:
        o->offset_fetch = (struct offset_fetch_resp){11, 1, ofr_topics, 16, 2, ofr_groups};
        break;
    case KAFKA_LIST_GROUPS:
        o->list_groups = (struct list_groups_resp){12, 0, 2, lg_groups};
        break;
    case KAFKA_DESCRIBE_GROUPS:
        o->describe_groups = (struct describe_groups_resp){13, 2, dg_groups};
        break;
    case KAFKA_DELETE_GROUPS:
        o->delete_groups = (struct delete_groups_resp){14, 2, dgr_results};
        break;
    }
}

/* ---- field-by-field comparison, with the spec's defaults for fields a version lacks -----------
 */

static void check_offset_commit_req(int16_t v, const struct offset_commit_req *w,
                                    const struct offset_commit_req *g)
{
    assert_same_str(g->group_id, w->group_id);
    assert_int_equal(g->generation_id, v >= 1 ? w->generation_id : -1);
    assert_same_str(g->member_id, v >= 1 ? w->member_id : S(""));
    assert_same_str(g->group_instance_id, v >= 7 ? w->group_instance_id : NUL);
    assert_int_equal(g->retention_time_ms, v >= 2 && v <= 4 ? w->retention_time_ms : -1);
    assert_int_equal(g->ntopics, w->ntopics);
    for (int32_t i = 0; i < w->ntopics; i++) {
        const struct offset_commit_req_topic *wt = &w->topics[i], *gt = &g->topics[i];
        assert_same_str(gt->name, wt->name);
        assert_int_equal(gt->npartitions, wt->npartitions);
        for (int32_t j = 0; j < wt->npartitions; j++) {
            const struct offset_commit_req_partition *wp = &wt->partitions[j];
            const struct offset_commit_req_partition *gp = &gt->partitions[j];
            assert_int_equal(gp->partition_index, wp->partition_index);
            assert_int_equal(gp->committed_offset, wp->committed_offset);
            assert_int_equal(gp->committed_leader_epoch, v >= 6 ? wp->committed_leader_epoch : -1);
            assert_int_equal(gp->commit_timestamp, v == 1 ? wp->commit_timestamp : -1);
            assert_same_str(gp->committed_metadata, wp->committed_metadata);
        }
    }
}

static void check_offset_fetch_topics(int32_t wn, const struct offset_fetch_req_topic *w,
                                      int32_t gn, const struct offset_fetch_req_topic *g)
{
    assert_int_equal(gn, wn);
    for (int32_t i = 0; i < wn; i++) {
        assert_same_str(g[i].name, w[i].name);
        assert_int_equal(g[i].npartition_indexes, w[i].npartition_indexes);
        for (int32_t j = 0; j < w[i].npartition_indexes; j++)
            assert_int_equal(g[i].partition_indexes[j], w[i].partition_indexes[j]);
    }
}

static void check_req(int16_t api, int16_t v, const union group_req *w, const union group_req *g)
{
    switch (api) {
    case KAFKA_FIND_COORDINATOR:
        assert_same_str(g->find_coordinator.key, w->find_coordinator.key);
        assert_int_equal(g->find_coordinator.key_type, v >= 1 ? w->find_coordinator.key_type : 0);
        assert_int_equal(g->find_coordinator.ncoordinator_keys,
                         w->find_coordinator.ncoordinator_keys);
        for (int32_t i = 0; i < w->find_coordinator.ncoordinator_keys; i++)
            assert_same_str(g->find_coordinator.coordinator_keys[i],
                            w->find_coordinator.coordinator_keys[i]);
        break;
    case KAFKA_JOIN_GROUP: {
        const struct join_group_req *wj = &w->join_group, *gj = &g->join_group;
        assert_same_str(gj->group_id, wj->group_id);
        assert_int_equal(gj->session_timeout_ms, wj->session_timeout_ms);
        assert_int_equal(gj->rebalance_timeout_ms,
                         v >= 1 ? wj->rebalance_timeout_ms : wj->session_timeout_ms);
        assert_same_str(gj->member_id, wj->member_id);
        assert_same_str(gj->group_instance_id, v >= 5 ? wj->group_instance_id : NUL);
        assert_same_str(gj->protocol_type, wj->protocol_type);
        assert_int_equal(gj->nprotocols, wj->nprotocols);
        for (int32_t i = 0; i < wj->nprotocols; i++) {
            assert_same_str(gj->protocols[i].name, wj->protocols[i].name);
            assert_same_bytes(gj->protocols[i].metadata, wj->protocols[i].metadata);
        }
        break;
    }
    case KAFKA_SYNC_GROUP: {
        const struct sync_group_req *ws = &w->sync_group, *gs = &g->sync_group;
        assert_same_str(gs->group_id, ws->group_id);
        assert_int_equal(gs->generation_id, ws->generation_id);
        assert_same_str(gs->member_id, ws->member_id);
        assert_same_str(gs->group_instance_id, v >= 3 ? ws->group_instance_id : NUL);
        assert_int_equal(gs->nassignments, ws->nassignments);
        for (int32_t i = 0; i < ws->nassignments; i++) {
            assert_same_str(gs->assignments[i].member_id, ws->assignments[i].member_id);
            assert_same_bytes(gs->assignments[i].assignment, ws->assignments[i].assignment);
        }
        break;
    }
    case KAFKA_HEARTBEAT:
        assert_same_str(g->heartbeat.group_id, w->heartbeat.group_id);
        assert_int_equal(g->heartbeat.generation_id, w->heartbeat.generation_id);
        assert_same_str(g->heartbeat.member_id, w->heartbeat.member_id);
        assert_same_str(g->heartbeat.group_instance_id,
                        v >= 3 ? w->heartbeat.group_instance_id : NUL);
        break;
    case KAFKA_LEAVE_GROUP:
        assert_same_str(g->leave_group.group_id, w->leave_group.group_id);
        assert_int_equal(g->leave_group.nmembers, w->leave_group.nmembers);
        for (int32_t i = 0; i < w->leave_group.nmembers; i++) {
            const struct leave_group_member *wm = &w->leave_group.members[i];
            assert_same_str(g->leave_group.members[i].member_id, wm->member_id);
            assert_same_str(g->leave_group.members[i].group_instance_id,
                            v >= 3 ? wm->group_instance_id : NUL);
        }
        break;
    case KAFKA_OFFSET_COMMIT:
        check_offset_commit_req(v, &w->offset_commit, &g->offset_commit);
        break;
    case KAFKA_OFFSET_FETCH:
        assert_same_str(g->offset_fetch.group_id, w->offset_fetch.group_id);
        check_offset_fetch_topics(w->offset_fetch.ntopics, w->offset_fetch.topics,
                                  g->offset_fetch.ntopics, g->offset_fetch.topics);
        assert_int_equal(g->offset_fetch.require_stable, w->offset_fetch.require_stable);
        assert_int_equal(g->offset_fetch.ngroups, w->offset_fetch.ngroups);
        for (int32_t i = 0; i < w->offset_fetch.ngroups; i++) {
            const struct offset_fetch_req_group *wg = &w->offset_fetch.groups[i];
            const struct offset_fetch_req_group *gg = &g->offset_fetch.groups[i];
            assert_same_str(gg->group_id, wg->group_id);
            check_offset_fetch_topics(wg->ntopics, wg->topics, gg->ntopics, gg->topics);
        }
        break;
    case KAFKA_LIST_GROUPS:
        assert_int_equal(g->list_groups.nstates_filter, w->list_groups.nstates_filter);
        for (int32_t i = 0; i < w->list_groups.nstates_filter; i++)
            assert_same_str(g->list_groups.states_filter[i], w->list_groups.states_filter[i]);
        break;
    case KAFKA_DESCRIBE_GROUPS:
        assert_int_equal(g->describe_groups.ngroups, w->describe_groups.ngroups);
        for (int32_t i = 0; i < w->describe_groups.ngroups; i++)
            assert_same_str(g->describe_groups.groups[i], w->describe_groups.groups[i]);
        assert_int_equal(g->describe_groups.include_authorized_operations,
                         v >= 3 && w->describe_groups.include_authorized_operations);
        break;
    case KAFKA_DELETE_GROUPS:
        assert_int_equal(g->delete_groups.ngroups_names, w->delete_groups.ngroups_names);
        for (int32_t i = 0; i < w->delete_groups.ngroups_names; i++)
            assert_same_str(g->delete_groups.groups_names[i], w->delete_groups.groups_names[i]);
        break;
    }
}

static void check_offset_fetch_resp_topics(int16_t v, int32_t n,
                                           const struct offset_fetch_resp_topic *wts,
                                           const struct offset_fetch_resp_topic *gts)
{
    for (int32_t i = 0; i < n; i++) {
        const struct offset_fetch_resp_topic *wt = &wts[i], *gt = &gts[i];
        assert_same_str(gt->name, wt->name);
        assert_int_equal(gt->npartitions, wt->npartitions);
        for (int32_t j = 0; j < wt->npartitions; j++) {
            const struct offset_fetch_resp_partition *wp = &wt->partitions[j];
            const struct offset_fetch_resp_partition *gp = &gt->partitions[j];
            assert_int_equal(gp->partition_index, wp->partition_index);
            assert_int_equal(gp->committed_offset, wp->committed_offset);
            assert_int_equal(gp->committed_leader_epoch, v >= 5 ? wp->committed_leader_epoch : -1);
            assert_same_str(gp->metadata, wp->metadata);
            assert_int_equal(gp->error_code, wp->error_code);
        }
    }
}

static void check_offset_fetch_resp(int16_t v, const struct offset_fetch_resp *w,
                                    const struct offset_fetch_resp *g)
{
    assert_int_equal(g->throttle_time_ms, v >= 3 ? w->throttle_time_ms : 0);
    assert_int_equal(g->ntopics, v <= 7 ? w->ntopics : 0);
    check_offset_fetch_resp_topics(v, g->ntopics, w->topics, g->topics);
    assert_int_equal(g->error_code, v >= 2 && v <= 7 ? w->error_code : 0);
    assert_int_equal(g->ngroups, v >= 8 ? w->ngroups : 0);
    for (int32_t i = 0; i < g->ngroups; i++) {
        assert_same_str(g->groups[i].group_id, w->groups[i].group_id);
        assert_int_equal(g->groups[i].ntopics, w->groups[i].ntopics);
        assert_int_equal(g->groups[i].error_code, w->groups[i].error_code);
        check_offset_fetch_resp_topics(v, g->groups[i].ntopics, w->groups[i].topics,
                                       g->groups[i].topics);
    }
}

static void check_describe_groups_resp(int16_t v, const struct describe_groups_resp *w,
                                       const struct describe_groups_resp *g)
{
    assert_int_equal(g->throttle_time_ms, v >= 1 ? w->throttle_time_ms : 0);
    assert_int_equal(g->ngroups, w->ngroups);
    for (int32_t i = 0; i < w->ngroups; i++) {
        const struct describe_groups_group *wg = &w->groups[i], *gg = &g->groups[i];
        assert_int_equal(gg->error_code, wg->error_code);
        assert_same_str(gg->group_id, wg->group_id);
        assert_same_str(gg->group_state, wg->group_state);
        assert_same_str(gg->protocol_type, wg->protocol_type);
        assert_same_str(gg->protocol_data, wg->protocol_data);
        assert_int_equal(gg->nmembers, wg->nmembers);
        for (int32_t j = 0; j < wg->nmembers; j++) {
            const struct describe_groups_member *wm = &wg->members[j], *gm = &gg->members[j];
            assert_same_str(gm->member_id, wm->member_id);
            assert_same_str(gm->group_instance_id, v >= 4 ? wm->group_instance_id : NUL);
            assert_same_str(gm->client_id, wm->client_id);
            assert_same_str(gm->client_host, wm->client_host);
            assert_same_bytes(gm->member_metadata, wm->member_metadata);
            assert_same_bytes(gm->member_assignment, wm->member_assignment);
        }
        assert_int_equal(gg->authorized_operations, v >= 3 ? wg->authorized_operations : INT32_MIN);
    }
}

static void check_resp(int16_t api, int16_t v, const union group_resp *w, const union group_resp *g)
{
    switch (api) {
    case KAFKA_FIND_COORDINATOR: {
        const struct find_coordinator_resp *wf = &w->find_coordinator, *gf = &g->find_coordinator;
        assert_int_equal(gf->throttle_time_ms, v >= 1 ? wf->throttle_time_ms : 0);
        bool v03 = v <= 3;
        assert_int_equal(gf->error_code, v03 ? wf->error_code : 0);
        assert_same_str(gf->error_message, v >= 1 && v03 ? wf->error_message : NUL);
        assert_int_equal(gf->node_id, v03 ? wf->node_id : 0);
        assert_same_str(gf->host, v03 ? wf->host : NUL);
        assert_int_equal(gf->port, v03 ? wf->port : 0);
        assert_int_equal(gf->ncoordinators, v03 ? 0 : wf->ncoordinators);
        for (int32_t i = 0; i < gf->ncoordinators; i++) {
            const struct find_coordinator_coordinator *wc = &wf->coordinators[i];
            const struct find_coordinator_coordinator *gc = &gf->coordinators[i];
            assert_same_str(gc->key, wc->key);
            assert_int_equal(gc->node_id, wc->node_id);
            assert_same_str(gc->host, wc->host);
            assert_int_equal(gc->port, wc->port);
            assert_int_equal(gc->error_code, wc->error_code);
            assert_same_str(gc->error_message, wc->error_message);
        }
        break;
    }
    case KAFKA_JOIN_GROUP: {
        const struct join_group_resp *wj = &w->join_group, *gj = &g->join_group;
        assert_int_equal(gj->throttle_time_ms, v >= 2 ? wj->throttle_time_ms : 0);
        assert_int_equal(gj->error_code, wj->error_code);
        assert_int_equal(gj->generation_id, wj->generation_id);
        assert_same_str(gj->protocol_name, wj->protocol_name);
        assert_same_str(gj->leader, wj->leader);
        assert_same_str(gj->member_id, wj->member_id);
        assert_int_equal(gj->nmembers, wj->nmembers);
        for (int32_t i = 0; i < wj->nmembers; i++) {
            assert_same_str(gj->members[i].member_id, wj->members[i].member_id);
            assert_same_str(gj->members[i].group_instance_id,
                            v >= 5 ? wj->members[i].group_instance_id : NUL);
            assert_same_bytes(gj->members[i].metadata, wj->members[i].metadata);
        }
        break;
    }
    case KAFKA_SYNC_GROUP:
        assert_int_equal(g->sync_group.throttle_time_ms,
                         v >= 1 ? w->sync_group.throttle_time_ms : 0);
        assert_int_equal(g->sync_group.error_code, w->sync_group.error_code);
        assert_same_bytes(g->sync_group.assignment, w->sync_group.assignment);
        break;
    case KAFKA_HEARTBEAT:
        assert_int_equal(g->heartbeat.throttle_time_ms, v >= 1 ? w->heartbeat.throttle_time_ms : 0);
        assert_int_equal(g->heartbeat.error_code, w->heartbeat.error_code);
        break;
    case KAFKA_LEAVE_GROUP:
        assert_int_equal(g->leave_group.throttle_time_ms,
                         v >= 1 ? w->leave_group.throttle_time_ms : 0);
        assert_int_equal(g->leave_group.error_code, w->leave_group.error_code);
        assert_int_equal(g->leave_group.nmembers, v >= 3 ? w->leave_group.nmembers : 0);
        for (int32_t i = 0; i < g->leave_group.nmembers; i++) {
            const struct leave_group_member *wm = &w->leave_group.members[i];
            const struct leave_group_member *gm = &g->leave_group.members[i];
            assert_same_str(gm->member_id, wm->member_id);
            assert_same_str(gm->group_instance_id, wm->group_instance_id);
            assert_int_equal(gm->error_code, wm->error_code);
        }
        break;
    case KAFKA_OFFSET_COMMIT:
        assert_int_equal(g->offset_commit.throttle_time_ms,
                         v >= 3 ? w->offset_commit.throttle_time_ms : 0);
        assert_int_equal(g->offset_commit.ntopics, w->offset_commit.ntopics);
        for (int32_t i = 0; i < w->offset_commit.ntopics; i++) {
            const struct offset_commit_resp_topic *wt = &w->offset_commit.topics[i];
            const struct offset_commit_resp_topic *gt = &g->offset_commit.topics[i];
            assert_same_str(gt->name, wt->name);
            assert_int_equal(gt->npartitions, wt->npartitions);
            for (int32_t j = 0; j < wt->npartitions; j++) {
                assert_int_equal(gt->partitions[j].partition_index,
                                 wt->partitions[j].partition_index);
                assert_int_equal(gt->partitions[j].error_code, wt->partitions[j].error_code);
            }
        }
        break;
    case KAFKA_OFFSET_FETCH:
        check_offset_fetch_resp(v, &w->offset_fetch, &g->offset_fetch);
        break;
    case KAFKA_LIST_GROUPS:
        assert_int_equal(g->list_groups.throttle_time_ms,
                         v >= 1 ? w->list_groups.throttle_time_ms : 0);
        assert_int_equal(g->list_groups.error_code, w->list_groups.error_code);
        assert_int_equal(g->list_groups.ngroups, w->list_groups.ngroups);
        for (int32_t i = 0; i < w->list_groups.ngroups; i++) {
            assert_same_str(g->list_groups.groups[i].group_id, w->list_groups.groups[i].group_id);
            assert_same_str(g->list_groups.groups[i].protocol_type,
                            w->list_groups.groups[i].protocol_type);
            assert_same_str(g->list_groups.groups[i].group_state,
                            v >= 4 ? w->list_groups.groups[i].group_state : NUL);
        }
        break;
    case KAFKA_DESCRIBE_GROUPS:
        check_describe_groups_resp(v, &w->describe_groups, &g->describe_groups);
        break;
    case KAFKA_DELETE_GROUPS:
        assert_int_equal(g->delete_groups.throttle_time_ms, w->delete_groups.throttle_time_ms);
        assert_int_equal(g->delete_groups.nresults, w->delete_groups.nresults);
        for (int32_t i = 0; i < w->delete_groups.nresults; i++) {
            assert_same_str(g->delete_groups.results[i].group_id,
                            w->delete_groups.results[i].group_id);
            assert_int_equal(g->delete_groups.results[i].error_code,
                             w->delete_groups.results[i].error_code);
        }
        break;
    }
}

/* ---- round trips and truncations --------------------------------------------------------------
 */

/* Every strict prefix of buf, and buf plus one byte, must be rejected with TANDEM_EPROTO. Each
 * cut is copied into a buffer of exactly that size, so ASan sees any read past it. */
static void check_cuts(int16_t api, int16_t v, bool request, const uint8_t *buf, size_t len)
{
    for (size_t cut = 0; cut <= len + 1; cut++) {
        if (cut == len)
            continue;
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, buf, cut < len ? cut : len);
        if (cut > len)
            b[len] = 1; /* not 0: ListGroups v3+ accepts one extra 0 (librdkafka 2.0.x) */
        struct arena a;
        struct kr r;
        union group_req req;
        union group_resp resp;
        arena_init(&a, 0);
        kr_init(&r, b, cut);
        int rc = request ? group_parse_req(api, v, &r, &a, &req)
                         : group_parse_resp(api, v, &r, &a, &resp);
        if (rc != TANDEM_EPROTO)
            fail_msg("api %d v%d %s cut at %zu of %zu: rc %d", api, v, request ? "req" : "resp",
                     cut, len, rc);
        arena_cleanup(&a);
        free(b);
    }
}

static void round_trip(int16_t api, int16_t v)
{
    union group_req want_req, got_req;
    union group_resp want_resp, got_resp;
    struct arena a;
    struct kw w;
    struct kr r;
    arena_init(&a, 0);
    kw_init(&w, 0);

    sample_req(api, v, &want_req);
    group_encode_req(api, v, &w, &want_req);
    kr_init(&r, w.buf, w.len);
    assert_int_equal(group_parse_req(api, v, &r, &a, &got_req), 0);
    check_req(api, v, &want_req, &got_req);
    check_cuts(api, v, true, w.buf, w.len);

    kw_reset(&w);
    sample_resp(api, &want_resp);
    group_encode_resp(api, v, &w, &want_resp);
    kr_init(&r, w.buf, w.len);
    assert_int_equal(group_parse_resp(api, v, &r, &a, &got_resp), 0);
    check_resp(api, v, &want_resp, &got_resp);
    check_cuts(api, v, false, w.buf, w.len);

    kw_cleanup(&w);
    arena_cleanup(&a);
}

static void test_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(group_apis) / sizeof(group_apis[0]); i++) {
        for (int16_t v = 0; v <= group_apis[i].max; v++)
            round_trip(group_apis[i].api, v);
        /* one past the range, and negative: unsupported, for both parsers */
        const int16_t bad[] = {-1, (int16_t)(group_apis[i].max + 1)};
        for (size_t j = 0; j < 2; j++) {
            uint8_t zero[64] = {0};
            struct arena a;
            struct kr r;
            union group_req req;
            union group_resp resp;
            arena_init(&a, 0);
            kr_init(&r, zero, sizeof(zero));
            assert_int_equal(group_parse_req(group_apis[i].api, bad[j], &r, &a, &req),
                             TANDEM_EUNSUPPORTED);
            kr_init(&r, zero, sizeof(zero));
            assert_int_equal(group_parse_resp(group_apis[i].api, bad[j], &r, &a, &resp),
                             TANDEM_EUNSUPPORTED);
            arena_cleanup(&a);
        }
    }
}

/* ---- special cases ----------------------------------------------------------------------------
 */

/* Parses the body in w as a request; returns the parser's result. */
static int reparse(int16_t api, int16_t v, const struct kw *w, struct arena *a, union group_req *o)
{
    struct kr r;
    kr_init(&r, w->buf, w->len);
    return group_parse_req(api, v, &r, a, o);
}

static void test_offset_fetch_all_topics(void **state)
{
    (void)state;
    for (int16_t v = 0; v <= 5; v++) {
        struct offset_fetch_req all = {S("grp-a"), -1, NULL, 0, NULL, false};
        union group_req o;
        struct arena a;
        struct kw w;
        arena_init(&a, 0);
        kw_init(&w, 0);
        kafka_encode_offset_fetch_request(&w, v, &all);
        assert_int_equal(reparse(KAFKA_OFFSET_FETCH, v, &w, &a, &o), 0);
        /* v2+: a null array, "every committed partition"; v0-1 cannot say it: empty */
        assert_int_equal(o.offset_fetch.ntopics, v >= 2 ? -1 : 0);
        assert_null(o.offset_fetch.topics);
        /* a null array where v0-1 do not allow one is malformed */
        kw_reset(&w);
        kw_string(&w, S("grp-a"));
        kw_array(&w, -1);
        assert_int_equal(reparse(KAFKA_OFFSET_FETCH, v, &w, &a, &o), v >= 2 ? 0 : TANDEM_EPROTO);
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
}

static void test_leave_group_single_member(void **state)
{
    (void)state;
    for (int16_t v = 0; v <= 2; v++) {
        struct kw w;
        struct arena a;
        union group_req o;
        kw_init(&w, 0);
        arena_init(&a, 0);
        kw_string(&w, S("grp-a"));
        kw_string(&w, S("member-9"));
        assert_int_equal(reparse(KAFKA_LEAVE_GROUP, v, &w, &a, &o), 0);
        assert_int_equal(o.leave_group.nmembers, 1);
        assert_kstr(o.leave_group.members[0].member_id, "member-9");
        assert_kstr(o.leave_group.members[0].group_instance_id, NULL);
        /* v3 reads the same bytes as a members array: malformed */
        assert_int_equal(reparse(KAFKA_LEAVE_GROUP, 3, &w, &a, &o), TANDEM_EPROTO);
        kw_cleanup(&w);
        arena_cleanup(&a);
    }
    /* v3 with no members is well formed */
    struct kw w;
    struct arena a;
    union group_req o;
    kw_init(&w, 0);
    arena_init(&a, 0);
    kw_string(&w, S("grp-a"));
    kw_array(&w, 0);
    assert_int_equal(reparse(KAFKA_LEAVE_GROUP, 3, &w, &a, &o), 0);
    assert_int_equal(o.leave_group.nmembers, 0);
    kw_cleanup(&w);
    arena_cleanup(&a);
}

static void test_malformed(void **state)
{
    (void)state;
    struct kw w;
    struct arena a;
    union group_req o;
    kw_init(&w, 0);
    arena_init(&a, 0);

    /* null where the spec says non-nullable: group_id, protocol metadata, member_id (written by
     * hand: the encoders write such a null as empty) */
    for (int c = 0; c < 2; c++) { /* JoinGroup v5 */
        kw_reset(&w);
        kw_string(&w, c == 0 ? NUL : S("grp-a"));
        kw_i32(&w, 10000);
        kw_i32(&w, 300000);
        kw_string(&w, S("member-1"));
        kw_string(&w, NUL);
        kw_string(&w, S("consumer"));
        kw_array(&w, 1);
        kw_string(&w, S("range"));
        kw_bytes(&w, c == 1 ? (struct kbytes){NULL, -1} : B(meta1));
        assert_int_equal(reparse(KAFKA_JOIN_GROUP, 5, &w, &a, &o), TANDEM_EPROTO);
    }
    kw_reset(&w); /* Heartbeat v3 */
    kw_string(&w, S("grp-a"));
    kw_i32(&w, 1);
    kw_string(&w, NUL);
    kw_string(&w, NUL);
    assert_int_equal(reparse(KAFKA_HEARTBEAT, 3, &w, &a, &o), TANDEM_EPROTO);

    /* counts: -2, -1 for a non-nullable array, and more elements than bytes left */
    const int32_t counts[] = {-2, -1, 0x7fffffff, 3};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        kw_reset(&w);
        kw_array(&w, counts[i]);
        kw_string(&w, S("grp-a"));
        assert_int_equal(reparse(KAFKA_DELETE_GROUPS, 1, &w, &a, &o), TANDEM_EPROTO);
        assert_int_equal(reparse(KAFKA_DESCRIBE_GROUPS, 0, &w, &a, &o), TANDEM_EPROTO);
    }
    kw_reset(&w); /* OffsetCommit v2: a partition count the bytes cannot hold */
    kw_string(&w, S("g"));
    kw_i32(&w, 1);
    kw_string(&w, S("m"));
    kw_i64(&w, -1);
    kw_array(&w, 1);
    kw_string(&w, S("t"));
    kw_array(&w, 1000000);
    assert_int_equal(reparse(KAFKA_OFFSET_COMMIT, 2, &w, &a, &o), TANDEM_EPROTO);

    /* ListGroups v0-2: the body is empty, anything in it is trailing garbage */
    uint8_t one = 0;
    struct kr r;
    kr_init(&r, &one, 0);
    struct list_groups_req lgr;
    assert_int_equal(kafka_parse_list_groups_request(&r, 0, &a, &lgr), 0);
    kr_init(&r, &one, 1);
    assert_int_equal(kafka_parse_list_groups_request(&r, 2, &a, &lgr), TANDEM_EPROTO);
    arena_cleanup(&a);

    /* a valid count whose arrays exceed the arena's cap: TANDEM_ETOOLARGE, not a crash */
    arena_init(&a, 1024);
    kw_reset(&w);
    kw_array(&w, 2000);
    for (int i = 0; i < 2000; i++)
        kw_string(&w, S(""));
    assert_int_equal(reparse(KAFKA_DELETE_GROUPS, 0, &w, &a, &o), TANDEM_ETOOLARGE);
    arena_cleanup(&a);
    kw_cleanup(&w);
}

/* Encoders write null as empty where the spec does not allow null. */
static void test_encoder_non_nullable(void **state)
{
    (void)state;
    struct kw w;
    struct kr r;
    struct arena a;
    kw_init(&w, 0);
    arena_init(&a, 0);
    struct sync_group_resp sg = {0, 0, {NULL, -1}}, sgot;
    kafka_encode_sync_group_response(&w, 3, &sg);
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kafka_parse_sync_group_response(&r, 3, &a, &sgot), 0);
    assert_int_equal(sgot.assignment.len, 0);
    kw_reset(&w);
    struct find_coordinator_resp fc = {0, 15, NUL, -1, NUL, -1, 0, NULL}, fgot;
    kafka_encode_find_coordinator_response(&w, 1, &fc);
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kafka_parse_find_coordinator_response(&r, 1, &a, &fgot), 0);
    assert_kstr(fgot.host, "");
    assert_kstr(fgot.error_message, NULL); /* nullable: stays null */
    kw_cleanup(&w);
    arena_cleanup(&a);
}

/* ---- frames captured from librdkafka's group consumer -----------------------------------------
 */

/* A captured request (or response) frame, parsed. */
struct cap {
    uint8_t *buf; /* the request frame */
    size_t len;
    uint8_t *rbuf; /* the response frame */
    struct kafka_req_header h;
    struct arena arena;
    union group_req req;
    union group_resp resp;
};

/* Finds "<scenario>/NNN-<api>-v<N>.req.bin" (the first one) and fills path with its stem. */
static bool find_frame(const char *scenario, const char *api, char *stem, size_t cap)
{
    char dir[512], key[64], best[256] = "";
    snprintf(dir, sizeof(dir), "%s/%s", VEC, scenario);
    snprintf(key, sizeof(key), "-%s-v", api);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("missing %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strstr(e->d_name, key) && n > 8 && !strcmp(e->d_name + n - 8, ".req.bin") &&
            (!best[0] || strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof(best), "%.*s", (int)(n - 8), e->d_name);
    }
    closedir(d);
    if (!best[0])
        return false;
    snprintf(stem, cap, "%s/%s", dir, best);
    return true;
}

/* Loads a request frame and its response; checks both parse, re-encode to the identical bytes,
 * and (request) reject every truncation. */
static void cap_load(struct cap *c, const char *stem)
{
    char path[600];
    size_t hl, rlen;
    snprintf(path, sizeof(path), "%s.req.bin", stem);
    c->buf = codec_load(path, &c->len);
    if (!c->buf)
        fail_msg("cannot read %s", path);
    assert_int_equal(kafka_parse_request_header(c->buf, c->len, &c->h, &hl), 0);
    int16_t api = c->h.request_api_key, v = c->h.request_api_version;
    arena_init(&c->arena, 0);
    struct kr r;
    kr_init(&r, c->buf + hl, c->len - hl);
    if (group_parse_req(api, v, &r, &c->arena, &c->req) != 0)
        fail_msg("%s: does not parse", path);
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_request_header(&w, &c->h);
    group_encode_req(api, v, &w, &c->req);
    if (w.len != c->len || memcmp(w.buf, c->buf, c->len) != 0)
        fail_msg("%s: re-encoded request differs", path);
    check_cuts(api, v, true, c->buf + hl, c->len - hl);

    snprintf(path, sizeof(path), "%s.resp.bin", stem);
    uint8_t *resp = codec_load(path, &rlen);
    if (!resp)
        fail_msg("cannot read %s", path);
    int32_t corr;
    kr_init(&r, resp, rlen);
    assert_int_equal(kafka_parse_response_header(&r, 0, &corr), 0);
    assert_int_equal(corr, c->h.correlation_id);
    size_t rhl = (size_t)(r.p - resp);
    if (group_parse_resp(api, v, &r, &c->arena, &c->resp) != 0)
        fail_msg("%s: does not parse", path);
    kw_reset(&w);
    kafka_encode_response_header(&w, 0, corr);
    group_encode_resp(api, v, &w, &c->resp);
    if (w.len != rlen || memcmp(w.buf, resp, rlen) != 0)
        fail_msg("%s: re-encoded response differs", path);
    check_cuts(api, v, false, resp + rhl, rlen - rhl);
    kw_cleanup(&w);
    c->rbuf = resp; /* c->resp borrows from it */
}

static void cap_free(struct cap *c)
{
    arena_cleanup(&c->arena);
    free(c->buf);
    free(c->rbuf);
}

/* One consumer's life, as librdkafka 2.0.2 sends it: FindCoordinator, JoinGroup, SyncGroup,
 * OffsetFetch, Heartbeat, OffsetCommit, LeaveGroup (dynamic members only). */
struct flow {
    const char *scenario;
    const char *member_id; /* assigned by the mock in JoinGroup */
    const char *instance;  /* group.instance.id, NULL for a dynamic member */
    int16_t v_find, v_join, v_sync, v_fetch, v_hb, v_commit, v_leave;
};

static const struct flow flows[] = {
    {"newest", "0x7f3dd80030f0", NULL, 2, 5, 3, 5, 3, 7, 1},
    {"static", "0x7f95f8003370", "tandem-instance-1", 2, 5, 3, 5, 3, 7, -1},
    {"middle", "0x7f722c0030f0", NULL, 1, 2, 1, 3, 1, 2, 0},
    {"oldest", "0x7f7abc0030f0", NULL, 0, 0, 0, 1, 0, 1, 0},
};

static void load_api(struct cap *c, const struct flow *f, const char *api, int16_t v)
{
    char stem[600];
    if (!find_frame(f->scenario, api, stem, sizeof(stem)))
        fail_msg("%s: no %s frame", f->scenario, api);
    cap_load(c, stem);
    assert_int_equal(c->h.request_api_version, v);
    assert_int_equal(c->h.header_version, 1);
    assert_kstr(c->h.client_id, "tandem-group-capture");
}

/* The consumer protocol metadata librdkafka sends (ConsumerProtocolMemberMetadata v1):
 * version 1, topics ["tandem-topic"], user_data empty, owned_partitions []. */
static void check_subscription(struct kbytes b)
{
    static const uint8_t want[] = {0,   1,   0,   0,   0,   1,   0,   12,  't', 'a',
                                   'n', 'd', 'e', 'm', '-', 't', 'o', 'p', 'i', 'c',
                                   0,   0,   0,   0,   0,   0,   0,   0};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
}

static void check_flow_join(const struct flow *f)
{
    struct cap c;
    load_api(&c, f, "FindCoordinator", f->v_find);
    assert_kstr(c.req.find_coordinator.key, "tandem-group");
    assert_int_equal(c.req.find_coordinator.key_type, 0);
    assert_int_equal(c.resp.find_coordinator.error_code, 0);
    assert_kstr(c.resp.find_coordinator.error_message, NULL);
    assert_int_equal(c.resp.find_coordinator.node_id, 1);
    assert_kstr(c.resp.find_coordinator.host, "127.0.0.1");
    assert_in_range(c.resp.find_coordinator.port, 1, 65535);
    cap_free(&c);

    load_api(&c, f, "JoinGroup", f->v_join);
    const struct join_group_req *jq = &c.req.join_group;
    assert_kstr(jq->group_id, "tandem-group");
    assert_int_equal(jq->session_timeout_ms, 6000);
    assert_int_equal(jq->rebalance_timeout_ms, f->v_join >= 1 ? 300000 : 6000);
    assert_kstr(jq->member_id, "");
    assert_kstr(jq->group_instance_id, f->v_join >= 5 ? f->instance : NULL);
    assert_kstr(jq->protocol_type, "consumer");
    assert_int_equal(jq->nprotocols, 2);
    assert_kstr(jq->protocols[0].name, "range");
    assert_kstr(jq->protocols[1].name, "roundrobin");
    check_subscription(jq->protocols[0].metadata);
    check_subscription(jq->protocols[1].metadata);
    const struct join_group_resp *jr = &c.resp.join_group;
    assert_int_equal(jr->error_code, 0);
    assert_int_equal(jr->generation_id, 2); /* the mock starts at 2 */
    assert_kstr(jr->protocol_name, "range");
    assert_kstr(jr->leader, f->member_id);
    assert_kstr(jr->member_id, f->member_id);
    assert_int_equal(jr->nmembers, 1);
    assert_kstr(jr->members[0].member_id, f->member_id);
    /* librdkafka 2.0.2's mock does not echo group.instance.id in the member list */
    assert_kstr(jr->members[0].group_instance_id, NULL);
    check_subscription(jr->members[0].metadata);
    cap_free(&c);

    load_api(&c, f, "SyncGroup", f->v_sync);
    const struct sync_group_req *sq = &c.req.sync_group;
    assert_kstr(sq->group_id, "tandem-group");
    assert_int_equal(sq->generation_id, 2);
    assert_kstr(sq->member_id, f->member_id);
    assert_kstr(sq->group_instance_id, f->v_sync >= 3 ? f->instance : NULL);
    assert_int_equal(sq->nassignments, 1); /* the leader assigns both partitions to itself */
    assert_kstr(sq->assignments[0].member_id, f->member_id);
    /* ConsumerProtocolAssignment v0: ["tandem-topic": 0, 1], user_data empty */
    static const uint8_t assignment[] = {0,   0,   0,   0,   0,   1,   0,   12,  't', 'a', 'n', 'd',
                                         'e', 'm', '-', 't', 'o', 'p', 'i', 'c', 0,   0,   0,   2,
                                         0,   0,   0,   0,   0,   0,   0,   1,   0,   0,   0,   0};
    assert_int_equal(sq->assignments[0].assignment.len, sizeof(assignment));
    assert_memory_equal(sq->assignments[0].assignment.p, assignment, sizeof(assignment));
    assert_int_equal(c.resp.sync_group.error_code, 0);
    assert_int_equal(c.resp.sync_group.assignment.len, sizeof(assignment));
    assert_memory_equal(c.resp.sync_group.assignment.p, assignment, sizeof(assignment));
    cap_free(&c);
}

static void check_flow_offsets(const struct flow *f)
{
    struct cap c;
    load_api(&c, f, "OffsetFetch", f->v_fetch);
    assert_kstr(c.req.offset_fetch.group_id, "tandem-group");
    assert_int_equal(c.req.offset_fetch.ntopics, 1);
    assert_kstr(c.req.offset_fetch.topics[0].name, "tandem-topic");
    assert_int_equal(c.req.offset_fetch.topics[0].npartition_indexes, 2);
    assert_int_equal(c.req.offset_fetch.topics[0].partition_indexes[0], 0);
    assert_int_equal(c.req.offset_fetch.topics[0].partition_indexes[1], 1);
    const struct offset_fetch_resp *fr = &c.resp.offset_fetch;
    assert_int_equal(fr->ntopics, 1);
    assert_kstr(fr->topics[0].name, "tandem-topic");
    assert_int_equal(fr->topics[0].npartitions, 2);
    for (int32_t i = 0; i < 2; i++) {
        assert_int_equal(fr->topics[0].partitions[i].partition_index, i);
        assert_int_equal(fr->topics[0].partitions[i].committed_offset, -1); /* none yet */
        assert_int_equal(fr->topics[0].partitions[i].committed_leader_epoch, -1);
        assert_kstr(fr->topics[0].partitions[i].metadata, NULL); /* none committed */
        assert_int_equal(fr->topics[0].partitions[i].error_code, 0);
    }
    assert_int_equal(fr->error_code, 0);
    cap_free(&c);

    load_api(&c, f, "Heartbeat", f->v_hb);
    assert_kstr(c.req.heartbeat.group_id, "tandem-group");
    assert_int_equal(c.req.heartbeat.generation_id, 2);
    assert_kstr(c.req.heartbeat.member_id, f->member_id);
    assert_kstr(c.req.heartbeat.group_instance_id, f->v_hb >= 3 ? f->instance : NULL);
    assert_int_equal(c.resp.heartbeat.error_code, 0);
    cap_free(&c);

    /* rd_kafka_commit after reading the 5 messages of partition 0: offset 5 */
    load_api(&c, f, "OffsetCommit", f->v_commit);
    const struct offset_commit_req *cq = &c.req.offset_commit;
    int16_t v = f->v_commit;
    assert_kstr(cq->group_id, "tandem-group");
    assert_int_equal(cq->generation_id, 2);
    assert_kstr(cq->member_id, f->member_id);
    assert_kstr(cq->group_instance_id, v >= 7 ? f->instance : NULL);
    assert_int_equal(cq->retention_time_ms, -1); /* v2-4 send -1: the broker's default */
    assert_int_equal(cq->ntopics, 1);
    assert_kstr(cq->topics[0].name, "tandem-topic");
    assert_int_equal(cq->topics[0].npartitions, 1);
    const struct offset_commit_req_partition *p = &cq->topics[0].partitions[0];
    assert_int_equal(p->partition_index, 0);
    assert_int_equal(p->committed_offset, 5);
    assert_int_equal(p->committed_leader_epoch, -1);
    assert_int_equal(p->commit_timestamp, -1); /* v1: librdkafka sends -1 (now) */
    assert_kstr(p->committed_metadata, "");
    assert_int_equal(c.resp.offset_commit.ntopics, 1);
    assert_kstr(c.resp.offset_commit.topics[0].name, "tandem-topic");
    assert_int_equal(c.resp.offset_commit.topics[0].npartitions, 1);
    assert_int_equal(c.resp.offset_commit.topics[0].partitions[0].partition_index, 0);
    assert_int_equal(c.resp.offset_commit.topics[0].partitions[0].error_code, 0);
    cap_free(&c);

    char stem[600];
    if (f->v_leave < 0) { /* a static member leaves without LeaveGroup */
        assert_false(find_frame(f->scenario, "LeaveGroup", stem, sizeof(stem)));
        return;
    }
    load_api(&c, f, "LeaveGroup", f->v_leave);
    assert_kstr(c.req.leave_group.group_id, "tandem-group");
    assert_int_equal(c.req.leave_group.nmembers, 1);
    assert_kstr(c.req.leave_group.members[0].member_id, f->member_id);
    assert_kstr(c.req.leave_group.members[0].group_instance_id, NULL);
    assert_int_equal(c.resp.leave_group.error_code, 0);
    assert_int_equal(c.resp.leave_group.nmembers, 0);
    cap_free(&c);
}

static void test_captured_consumer(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
        check_flow_join(&flows[i]);
        check_flow_offsets(&flows[i]);
    }
}

/* Every captured file, whatever its API: parses, re-encodes identically, rejects every cut. */
static void test_every_captured_frame(void **state)
{
    (void)state;
    int n = 0;
    for (size_t s = 0; s < sizeof(flows) / sizeof(flows[0]); s++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/%s", VEC, flows[s].scenario);
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len <= 8 || strcmp(e->d_name + len - 8, ".req.bin") != 0)
                continue;
            char stem[600];
            snprintf(stem, sizeof(stem), "%s/%.*s", dir, (int)(len - 8), e->d_name);
            struct cap c;
            cap_load(&c, stem);
            cap_free(&c);
            n++;
        }
        closedir(d);
    }
    assert_true(n >= 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_offset_fetch_all_topics),
        cmocka_unit_test(test_leave_group_single_member),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_encoder_non_nullable),
        cmocka_unit_test(test_captured_consumer),
        cmocka_unit_test(test_every_captured_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
