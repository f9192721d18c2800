/*
 * The group coordinator's state machine (group/group.c), driven with a fake clock and fake
 * requests: every JoinGroup/SyncGroup answer is captured, so each test checks exactly which
 * request was answered, when, and with what.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "group/group.h"
#include "protocol/kafka.h"
#include "tandem/error.h"

/* A fake request: what the coordinator answered. */
struct fake {
    int answered;
    int16_t error;
    int32_t generation;
    char member_id[128];
    char leader[128];
    char protocol[64];
    int nmembers;
    char assignment[64];
};

static void join_done(void *req, const struct gc_join_result *r, void *arg)
{
    struct fake *f = req;
    f->answered++;
    f->error = r->error_code;
    f->generation = r->generation_id;
    snprintf(f->member_id, sizeof(f->member_id), "%s", r->member_id);
    snprintf(f->leader, sizeof(f->leader), "%s", r->leader);
    snprintf(f->protocol, sizeof(f->protocol), "%s", r->protocol_name);
    f->nmembers = r->nmembers;
}

static void sync_done(void *req, int16_t err, const uint8_t *a, size_t len, void *arg)
{
    struct fake *f = req;
    f->answered++;
    f->error = err;
    snprintf(f->assignment, sizeof(f->assignment), "%.*s", (int)len, a ? (const char *)a : "");
}

static struct gc *new_gc(void)
{
    struct gc_config cfg;
    gc_config_defaults(&cfg);
    cfg.initial_rebalance_delay_ms = 100;
    struct gc_callbacks cb = {.join_done = join_done, .sync_done = sync_done};
    return gc_new(&cfg, &cb);
}

static struct kstr S(const char *s) {
    return s ? (struct kstr){s, (int32_t)strlen(s)} : KSTR_NULL;
}

static void
join(struct gc *gc, struct fake *f, const char *member, const char *instance, const char *proto,
     bool v4, int64_t now)
{
    struct gc_protocol p[2] = {{S(proto), {(const uint8_t *)"meta", 4}},
                               {S("range"), {(const uint8_t *)"m2", 2}}};
    struct gc_join_params jp = {
        .group_id = S("g"),
        .member_id = S(member ? member : ""),
        .group_instance_id = S(instance),
        .client_id = S("client"),
        .client_host = S("/127.0.0.1"),
        .protocol_type = S("consumer"),
        .session_timeout_ms = 6000,
        .rebalance_timeout_ms = 10000,
        .nprotocols = 2,
        .protocols = p,
        .require_known_member_id = v4,
    };
    memset(f, 0, sizeof(*f));
    gc_join(gc, &jp, f, now);
}

static void sync_(struct gc *gc, struct fake *f, const char *member, int32_t gen, int n,
                  const struct gc_assignment *a, int64_t now)
{
    memset(f, 0, sizeof(*f));
    gc_sync(gc, S("g"), gen, S(member), KSTR_NULL, n, a, f, now);
}

/* Two members join an empty group: answered together after the initial delay, one leader. */
static void test_two_members_rebalance(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b;
    join(gc, &a, NULL, NULL, "roundrobin", false, 0);
    assert_int_equal(a.answered, 0); /* initial delay */
    join(gc, &b, NULL, NULL, "roundrobin", false, 10);
    assert_int_equal(b.answered, 0);
    gc_tick(gc, 50);
    assert_int_equal(a.answered, 0);
    gc_tick(gc, 100);
    assert_int_equal(a.answered, 1);
    assert_int_equal(b.answered, 1);
    assert_int_equal(a.error, KAFKA_NONE);
    assert_int_equal(a.generation, 1);
    assert_int_equal(b.generation, 1);
    assert_string_equal(a.protocol, "roundrobin");
    assert_string_equal(a.leader, a.member_id); /* the first member leads */
    assert_int_equal(a.nmembers, 2);
    assert_int_equal(b.nmembers, 0); /* followers get no member list */

    /* follower syncs first and waits; the leader's sync answers both */
    char leader[128], follower[128];
    strcpy(leader, a.member_id);
    strcpy(follower, b.member_id);
    struct fake sa, sb;
    sync_(gc, &sb, follower, 1, 0, NULL, 120);
    assert_int_equal(sb.answered, 0);
    struct gc_assignment as[2] = {{S(leader), {(const uint8_t *)"P0", 2}},
                                  {S(follower), {(const uint8_t *)"P1", 2}}};
    sync_(gc, &sa, leader, 1, 2, as, 130);
    assert_int_equal(sa.answered, 1);
    assert_int_equal(sb.answered, 1);
    assert_string_equal(sa.assignment, "P0");
    assert_string_equal(sb.assignment, "P1");
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(follower), KSTR_NULL, 200), KAFKA_NONE);
    assert_int_equal(gc_heartbeat(gc, S("g"), 0, S(follower), KSTR_NULL, 200),
                     KAFKA_ILLEGAL_GENERATION);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S("nobody"), KSTR_NULL, 200),
                     KAFKA_UNKNOWN_MEMBER_ID);
    gc_free(gc);
}

/* JoinGroup v4+: an unknown member first gets MEMBER_ID_REQUIRED with its id. */
static void test_member_id_required(void **state)
{
    struct gc *gc = new_gc();
    struct fake a;
    join(gc, &a, NULL, NULL, "range", true, 0);
    assert_int_equal(a.answered, 1);
    assert_int_equal(a.error, KAFKA_MEMBER_ID_REQUIRED);
    assert_true(strncmp(a.member_id, "client-", 7) == 0);
    char id[128];
    strcpy(id, a.member_id);
    join(gc, &a, id, NULL, "range", true, 10);
    gc_tick(gc, 200);
    assert_int_equal(a.answered, 1);
    assert_int_equal(a.error, KAFKA_NONE);
    assert_string_equal(a.member_id, id);
    gc_free(gc);
}

/* A member that stops heartbeating is removed after its session timeout; the other is told to
 * rejoin (REBALANCE_IN_PROGRESS) and gets the next generation alone. */
static void test_session_expiry(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, s;
    join(gc, &a, NULL, NULL, "range", false, 0);
    join(gc, &b, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    char ida[128], idb[128];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    struct gc_assignment as[1] = {{S(ida), {(const uint8_t *)"x", 1}}};
    sync_(gc, &s, ida, 1, 1, as, 110);
    assert_int_equal(s.error, KAFKA_NONE);
    /* a keeps heartbeating, b is silent */
    for (int64_t t = 1000; t <= 6000; t += 1000)
        assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), KSTR_NULL, t), KAFKA_NONE);
    gc_tick(gc, 6200); /* b's deadline: 110 + 6000 */
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), KSTR_NULL, 6300),
                     KAFKA_REBALANCE_IN_PROGRESS);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(idb), KSTR_NULL, 6300), KAFKA_UNKNOWN_MEMBER_ID);
    join(gc, &a, ida, NULL, "range", false, 6400);
    assert_int_equal(a.answered, 1); /* the only member rejoined: completes at once */
    assert_int_equal(a.generation, 2);
    assert_string_equal(a.leader, ida);
    gc_free(gc);
}

/* LeaveGroup triggers a rebalance at once; a leaver's pending sync is answered. */
static void test_leave(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b;
    join(gc, &a, NULL, NULL, "range", false, 0);
    join(gc, &b, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    char ida[128], idb[128];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    struct fake sb;
    sync_(gc, &sb, idb, 1, 0, NULL, 110);
    assert_int_equal(gc_leave(gc, S("g"), S(ida), KSTR_NULL, 120), KAFKA_NONE);
    assert_int_equal(sb.answered, 1);
    assert_int_equal(sb.error, KAFKA_REBALANCE_IN_PROGRESS);
    assert_int_equal(gc_leave(gc, S("g"), S(ida), KSTR_NULL, 130), KAFKA_UNKNOWN_MEMBER_ID);
    join(gc, &b, idb, NULL, "range", false, 140);
    assert_int_equal(b.answered, 1);
    assert_int_equal(b.generation, 2);
    assert_string_equal(b.leader, idb);
    gc_free(gc);
}

/* A member whose protocols share nothing with the group is refused. */
static void test_inconsistent_protocol(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b;
    join(gc, &a, NULL, NULL, "range", false, 0);
    struct gc_protocol p = {S("other"), {(const uint8_t *)"", 0}};
    struct gc_join_params jp = {.group_id = S("g"),
                                .member_id = S(""),
                                .group_instance_id = KSTR_NULL,
                                .client_id = S("c"),
                                .client_host = S("h"),
                                .protocol_type = S("consumer"),
                                .session_timeout_ms = 6000,
                                .rebalance_timeout_ms = 6000,
                                .nprotocols = 1,
                                .protocols = &p};
    memset(&b, 0, sizeof(b));
    gc_join(gc, &jp, &b, 10);
    assert_int_equal(b.answered, 1);
    assert_int_equal(b.error, KAFKA_INCONSISTENT_GROUP_PROTOCOL);
    jp.protocols = NULL;
    jp.nprotocols = 0;
    jp.session_timeout_ms = 10;
    memset(&b, 0, sizeof(b));
    gc_join(gc, &jp, &b, 10);
    assert_int_equal(b.error, KAFKA_INVALID_SESSION_TIMEOUT);
    gc_free(gc); /* a's pending join is answered at free */
    assert_int_equal(a.answered, 1);
    assert_int_equal(a.error, KAFKA_COORDINATOR_NOT_AVAILABLE);
}

/* Static members (KIP-345): a restart with the same instance id takes over without a
 * rebalance, and the old member id is fenced. */
static void test_static_member(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, s;
    join(gc, &a, NULL, "inst-a", "range", true, 0); /* static: no MEMBER_ID_REQUIRED */
    join(gc, &b, NULL, "inst-b", "range", true, 0);
    gc_tick(gc, 100);
    assert_int_equal(a.error, KAFKA_NONE);
    char ida[128], idb[128];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    struct gc_assignment as[2] = {{S(ida), {(const uint8_t *)"A", 1}},
                                  {S(idb), {(const uint8_t *)"B", 1}}};
    const char *leader = strcmp(a.leader, ida) == 0 ? ida : idb;
    const char *follower = leader == ida ? idb : ida;
    const char *finst = leader == ida ? "inst-b" : "inst-a";
    sync_(gc, &s, leader, 1, 2, as, 110);
    assert_int_equal(s.error, KAFKA_NONE);
    /* the follower restarts: same instance id, new member id, same generation, no rebalance */
    struct fake r;
    join(gc, &r, NULL, finst, "range", true, 200);
    assert_int_equal(r.answered, 1);
    assert_int_equal(r.error, KAFKA_NONE);
    assert_int_equal(r.generation, 1);
    assert_string_not_equal(r.member_id, follower);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(follower), S(finst), 210),
                     KAFKA_FENCED_INSTANCE_ID);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(r.member_id), S(finst), 210), KAFKA_NONE);
    struct fake rs;
    memset(&rs, 0, sizeof(rs));
    gc_sync(gc, S("g"), 1, S(r.member_id), S(finst), 0, NULL, &rs, 220);
    assert_int_equal(rs.error, KAFKA_NONE);
    assert_string_equal(rs.assignment, leader == ida ? "B" : "A"); /* kept its assignment */
    gc_free(gc);
}

/* KIP-345, the leader's restart while the group is CompletingRebalance: the leader got its
 * JoinGroup answer and was killed before its SyncGroup; it comes back under the same instance id.
 * The generation's assignment can only come from a leader, so the group rebalances (Kafka's
 * updateStaticMemberAndRebalance): the follower's waiting SyncGroup is told REBALANCE_IN_PROGRESS,
 * the returning member waits in the new rebalance and leads it. Answering it at once as a
 * follower of its own dead incarnation left every SyncGroup of the generation waiting for ever
 * (members waiting on us are never expired). */
static void test_static_leader_restart_completing(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, sb;
    join(gc, &a, NULL, "inst-a", "range", true, 0);
    join(gc, &b, NULL, "inst-b", "range", true, 10);
    gc_tick(gc, 100);
    assert_int_equal(a.generation, 1);
    char ida[128], idb[128];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    assert_string_equal(a.leader, ida);
    sync_(gc, &sb, idb, 1, 0, NULL, 110); /* the follower waits for the leader's assignment */
    assert_int_equal(sb.answered, 0);

    struct fake r; /* a was killed before its SyncGroup; its restart: */
    join(gc, &r, NULL, "inst-a", "range", true, 200);
    assert_int_equal(r.answered, 0); /* waits for the rebalance */
    assert_int_equal(sb.answered, 1);
    assert_int_equal(sb.error, KAFKA_REBALANCE_IN_PROGRESS);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), S("inst-a"), 210),
                     KAFKA_FENCED_INSTANCE_ID);
    join(gc, &b, idb, "inst-b", "range", true, 220); /* b rejoins: everyone has joined */
    assert_int_equal(r.answered, 1);
    assert_int_equal(b.answered, 1);
    assert_int_equal(r.error, KAFKA_NONE);
    assert_int_equal(r.generation, 2);
    assert_int_equal(b.generation, 2);
    char idr[128];
    strcpy(idr, r.member_id);
    assert_string_not_equal(idr, ida);
    assert_string_equal(r.leader, idr); /* the returning leader leads, with the member list */
    assert_string_equal(b.leader, idr);
    assert_int_equal(r.nmembers, 2);

    struct fake sr;
    sync_(gc, &sb, idb, 2, 0, NULL, 230);
    struct gc_assignment as[2] = {{S(idr), {(const uint8_t *)"A", 1}},
                                  {S(idb), {(const uint8_t *)"B", 1}}};
    memset(&sr, 0, sizeof(sr));
    gc_sync(gc, S("g"), 2, S(idr), S("inst-a"), 2, as, &sr, 240);
    assert_int_equal(sr.answered, 1);
    assert_int_equal(sb.answered, 1);
    assert_string_equal(sr.assignment, "A");
    assert_string_equal(sb.assignment, "B");
    assert_int_equal(gc_heartbeat(gc, S("g"), 2, S(idb), S("inst-b"), 250), KAFKA_NONE);
    gc_free(gc);
}

/* KIP-345, the leader's restart in a Stable group: the current generation at once, no rebalance,
 * with the leader id as it was before (its dead incarnation's), so the new incarnation does not
 * compute an assignment a Stable group would not hand out; but the group's leader is now the new
 * incarnation (Kafka's replaceStaticMember), so when it rejoins later (a leader rejoins to have
 * new partitions assigned) the group rebalances and it leads. */
static void test_static_leader_restart_stable(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, sa, sb;
    join(gc, &a, NULL, "inst-a", "range", true, 0);
    join(gc, &b, NULL, "inst-b", "range", true, 10);
    gc_tick(gc, 100);
    char ida[128], idb[128];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    assert_string_equal(a.leader, ida);
    struct gc_assignment as[2] = {{S(ida), {(const uint8_t *)"A", 1}},
                                  {S(idb), {(const uint8_t *)"B", 1}}};
    sync_(gc, &sb, idb, 1, 0, NULL, 110);
    sync_(gc, &sa, ida, 1, 2, as, 120);
    assert_string_equal(sb.assignment, "B");

    struct fake r, sr;
    join(gc, &r, NULL, "inst-a", "range", true, 200);
    assert_int_equal(r.answered, 1);
    assert_int_equal(r.error, KAFKA_NONE);
    assert_int_equal(r.generation, 1);
    assert_string_equal(r.leader, ida); /* not its own id: it will not assign */
    assert_int_equal(r.nmembers, 0);
    char idr[128];
    strcpy(idr, r.member_id);
    memset(&sr, 0, sizeof(sr));
    gc_sync(gc, S("g"), 1, S(idr), S("inst-a"), 0, NULL, &sr, 210);
    assert_int_equal(sr.answered, 1);
    assert_string_equal(sr.assignment, "A"); /* its stored assignment */
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(idb), S("inst-b"), 220), KAFKA_NONE);

    join(gc, &r, idr, "inst-a", "range", true, 300); /* the (new) leader rejoins */
    assert_int_equal(r.answered, 0);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(idb), S("inst-b"), 310),
                     KAFKA_REBALANCE_IN_PROGRESS);
    join(gc, &b, idb, "inst-b", "range", true, 320);
    assert_int_equal(r.answered, 1);
    assert_int_equal(r.generation, 2);
    assert_string_equal(r.leader, idr);
    assert_int_equal(r.nmembers, 2);
    gc_free(gc);
}

/* Review findings: a MEMBER_ID_REQUIRED id that never comes back expires without disturbing a
 * Stable group; a member waiting for its SyncGroup answer is not expired; a static member that
 * misses a rebalance keeps its place until its own session times out. */
static void test_pending_expiry_no_rebalance(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, s, stranger;
    join(gc, &a, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    char ida[128];
    strcpy(ida, a.member_id);
    struct gc_assignment as[1] = {{S(ida), {(const uint8_t *)"x", 1}}};
    sync_(gc, &s, ida, 1, 1, as, 110);
    join(gc, &stranger, NULL, NULL, "range", true, 200); /* gets MEMBER_ID_REQUIRED, vanishes */
    assert_int_equal(stranger.error, KAFKA_MEMBER_ID_REQUIRED);
    for (int64_t t = 1000; t <= 7000; t += 1000) {
        gc_tick(gc, t);
        assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), KSTR_NULL, t), KAFKA_NONE);
    }
    gc_free(gc);
}

static void test_sync_waiter_kept_alive(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, sb;
    join(gc, &a, NULL, NULL, "range", false, 0);
    join(gc, &b, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    bool a_leads = strcmp(a.leader, a.member_id) == 0;
    const char *follower = a_leads ? b.member_id : a.member_id;
    const char *leader = a_leads ? a.member_id : b.member_id;
    sync_(gc, &sb, follower, 1, 0, NULL, 110);     /* waits for the (slow) leader's sync */
    for (int64_t t = 3000; t <= 9000; t += 3000) { /* the leader is alive, just slow */
        assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(leader), KSTR_NULL, t), KAFKA_NONE);
        gc_tick(gc, t); /* at 9000: past the follower's session timeout (110 + 6000) */
    }
    assert_int_equal(sb.answered, 0); /* still waiting, still a member */
    gc_free(gc);
    assert_int_equal(sb.answered, 1);
}

static void test_static_member_survives_rebalance(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, s, c;
    join(gc, &a, NULL, "inst-a", "range", true, 0);
    join(gc, &b, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    char ida[128], idb[128];
    strcpy(ida, a.member_id);
    strcpy(idb, b.member_id);
    const char *leader = a.leader;
    struct gc_assignment as[2] = {{S(ida), {(const uint8_t *)"A", 1}},
                                  {S(idb), {(const uint8_t *)"B", 1}}};
    sync_(gc, &s, leader, 1, 2, as, 110);
    /* a third member joins; only b rejoins; the rebalance times out at 100 + 10000 */
    join(gc, &c, NULL, NULL, "range", false, 200);
    join(gc, &b, idb, NULL, "range", false, 300);
    for (int64_t t = 3000; t <= 9000; t += 3000) /* a is alive but does not rejoin */
        assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), S("inst-a"), t),
                         KAFKA_REBALANCE_IN_PROGRESS);
    gc_tick(gc, 10300); /* the rebalance times out (200 + 10000) */
    assert_int_equal(b.answered, 1);
    assert_int_equal(c.answered, 1);
    assert_int_equal(b.generation, 2);
    /* the static member kept its place in the new generation (a dynamic one would be gone) */
    assert_int_equal(gc_heartbeat(gc, S("g"), 2, S(ida), S("inst-a"), 10400), KAFKA_NONE);
    gc_free(gc);
}

/* Offsets: simple commits for member-less groups, member checks otherwise, and listing. */
static void test_offsets(void **state)
{
    struct gc *gc = new_gc();
    struct group *g;
    assert_int_equal(gc_commit_check(gc, S("simple"), -1, S(""), KSTR_NULL, 0, &g), KAFKA_NONE);
    gc_offset_put(g, "t", 1, 0, 42, 3, 1000, "meta", 4);
    gc_offset_put(g, "t", 1, 1, 7, -1, 1000, NULL, -1);
    gc_offset_put(g, "t", 1, 0, 43, 3, 1001, "m2", 2); /* overwrite */
    const struct gc_offset *o = gc_offset_get(gc, S("simple"), S("t"), 0);
    assert_non_null(o);
    assert_int_equal(o->offset, 43);
    assert_string_equal(o->metadata, "m2");
    o = gc_offset_get(gc, S("simple"), S("t"), 1);
    assert_null(o->metadata);
    assert_null(gc_offset_get(gc, S("simple"), S("t"), 2));
    assert_null(gc_offset_get(gc, S("other"), S("t"), 0));
    for (int p = 0; p < 1000; p++) /* grow the table */
        gc_offset_put(g, "big", 3, p, p, -1, 1000, NULL, -1);
    assert_int_equal(gc_offset_count(gc), 1002);
    assert_int_equal(gc_offset_get(gc, S("simple"), S("big"), 777)->offset, 777);

    assert_int_equal(gc_commit_check(gc, S(""), -1, S(""), KSTR_NULL, 0, &g),
                     KAFKA_INVALID_GROUP_ID);
    assert_int_equal(gc_commit_check(gc, S("nogroup"), 3, S("m"), KSTR_NULL, 0, &g),
                     KAFKA_ILLEGAL_GENERATION);
    struct fake a;
    join(gc, &a, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    assert_int_equal(gc_commit_check(gc, S("g"), 1, S("stranger"), KSTR_NULL, 100, &g),
                     KAFKA_UNKNOWN_MEMBER_ID);
    assert_int_equal(gc_commit_check(gc, S("g"), 1, S(a.member_id), KSTR_NULL, 100, &g),
                     KAFKA_REBALANCE_IN_PROGRESS); /* CompletingRebalance */
    assert_int_equal(gc_commit_check(gc, S("g"), -1, S(""), KSTR_NULL, 100, &g),
                     KAFKA_UNKNOWN_MEMBER_ID); /* simple commit to a group with members */
    assert_int_equal(gc_delete(gc, S("g")), KAFKA_NON_EMPTY_GROUP);
    assert_int_equal(gc_delete(gc, S("simple")), KAFKA_NONE);
    assert_int_equal(gc_delete(gc, S("simple")), KAFKA_GROUP_ID_NOT_FOUND);
    gc_free(gc);
}

/* A deleted topic takes its committed offsets with it, in every group; the rest stay reachable
 * (the table is rebuilt without tombstones). */
static void test_drop_topic_offsets(void **state)
{
    struct gc *gc = new_gc();
    struct group *g1, *g2;
    assert_int_equal(gc_commit_check(gc, S("g1"), -1, S(""), KSTR_NULL, 0, &g1), KAFKA_NONE);
    assert_int_equal(gc_commit_check(gc, S("g2"), -1, S(""), KSTR_NULL, 0, &g2), KAFKA_NONE);
    for (int p = 0; p < 50; p++) {
        gc_offset_put(g1, "dead", 4, p, p, -1, 1000, NULL, -1);
        gc_offset_put(g1, "live", 4, p, 100 + p, -1, 1000, NULL, -1);
    }
    gc_offset_put(g2, "dead", 4, 0, 7, -1, 1000, NULL, -1);
    assert_int_equal(gc_offsets_drop_topic(gc, "dead"), 51);
    assert_int_equal(gc_offsets_drop_topic(gc, "dead"), 0);
    for (int p = 0; p < 50; p++) {
        assert_null(gc_offset_get(gc, S("g1"), S("dead"), p));
        assert_int_equal(gc_offset_get(gc, S("g1"), S("live"), p)->offset, 100 + p);
    }
    assert_null(gc_offset_get(gc, S("g2"), S("dead"), 0));
    assert_int_equal(gc_offset_count(gc), 50);
    gc_offset_put(g1, "dead", 4, 3, 9, -1, 1000, NULL, -1); /* the table still takes inserts */
    assert_int_equal(gc_offset_get(gc, S("g1"), S("dead"), 3)->offset, 9);
    gc_free(gc);
}

static int cleared;
static void on_clear(const char *group, void *arg)
{
    cleared++;
}

static void test_offset_expiry(void **state)
{
    struct gc *gc = new_gc();
    struct group *g;
    assert_int_equal(gc_commit_check(gc, S("old"), -1, S(""), KSTR_NULL, 0, &g), KAFKA_NONE);
    gc_offset_put(g, "t", 1, 0, 1, -1, 1000, NULL, -1);
    assert_int_equal(gc_commit_check(gc, S("new"), -1, S(""), KSTR_NULL, 0, &g), KAFKA_NONE);
    gc_offset_put(g, "t", 1, 0, 1, -1, 9000, NULL, -1);
    cleared = 0;
    /* both groups are Empty from the first check on (KIP-211: retention counts from then) */
    assert_int_equal(gc_expire_offsets(gc, 10000, 0, 5000, on_clear, NULL), 0);
    assert_int_equal(gc_expire_offsets(gc, 10000, 4999, 5000, on_clear, NULL), 0);
    assert_int_equal(gc_expire_offsets(gc, 10000, 5000, 5000, on_clear, NULL), 1);
    assert_int_equal(cleared, 1);
    assert_null(gc_offset_get(gc, S("old"), S("t"), 0));
    assert_non_null(gc_offset_get(gc, S("new"), S("t"), 0)); /* committed 1 s ago */
    assert_int_equal(gc_expire_offsets(gc, 10000, 99999, -1, on_clear, NULL), 0);
    gc_free(gc);
}

/* A member that rejoins with unchanged metadata while the group is CompletingRebalance (it lost
 * the first answer, say) gets the current generation at once, the leader with the member list
 * again, and the rebalance is not restarted; a changed subscription does restart it (Kafka's
 * doCurrentMemberJoinGroup). */
static void test_rejoin_completing_rebalance(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, b, sb, sa;
    join(gc, &a, NULL, NULL, "range", false, 0);
    join(gc, &b, NULL, NULL, "range", false, 10);
    gc_tick(gc, 100);
    assert_int_equal(a.generation, 1);
    char leader[128], follower[128];
    strcpy(leader, a.member_id);
    strcpy(follower, b.member_id);
    sync_(gc, &sb, follower, 1, 0, NULL, 110); /* the follower waits for the leader's sync */
    assert_int_equal(sb.answered, 0);

    join(gc, &b, follower, NULL, "range", false, 120); /* unchanged: answered, no rebalance */
    assert_int_equal(b.answered, 1);
    assert_int_equal(b.error, KAFKA_NONE);
    assert_int_equal(b.generation, 1);
    assert_int_equal(b.nmembers, 0);
    assert_int_equal(sb.answered, 0);                /* its pending sync is still valid */
    join(gc, &a, leader, NULL, "range", false, 130); /* the leader: the member list again */
    assert_int_equal(a.answered, 1);
    assert_int_equal(a.generation, 1);
    assert_string_equal(a.leader, leader);
    assert_int_equal(a.nmembers, 2);

    struct gc_assignment as[2] = {{S(leader), {(const uint8_t *)"P0", 2}},
                                  {S(follower), {(const uint8_t *)"P1", 2}}};
    sync_(gc, &sa, leader, 1, 2, as, 140);
    assert_int_equal(sa.error, KAFKA_NONE);
    assert_int_equal(sb.answered, 1);
    assert_string_equal(sb.assignment, "P1");

    /* Stable now; a rejoin with another protocol list is a new subscription: rebalance. */
    join(gc, &b, follower, NULL, "roundrobin", false, 150);
    assert_int_equal(b.answered, 0);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(leader), KSTR_NULL, 160),
                     KAFKA_REBALANCE_IN_PROGRESS);
    gc_free(gc);
}

/* ListGroups / DescribeGroups answers captured. */
struct seen {
    int n;
    char id[64];
    enum group_state state;
    char protocol_type[32];
    int nmembers;
};

static void seen_list(const struct gc_group_info *g, void *arg)
{
    struct seen *s = arg;
    s->n++;
    snprintf(s->id, sizeof(s->id), "%s", g->group_id);
    s->state = g->state;
    snprintf(s->protocol_type, sizeof(s->protocol_type), "%s", g->protocol_type);
    s->nmembers = g->nmembers;
}

static void seen_describe(const struct gc_group_info *g, const struct gc_member_desc *m, void *arg)
{
    (void)m;
    seen_list(g, arg);
}

/* The last member leaves a group that never committed: the group stays listed and describable
 * as Empty, with its protocol type and no members, for empty_group_retention_ms (Kafka keeps it
 * until its next cleanupGroupMetadata), can be deleted meanwhile, and is forgotten after. */
static void test_empty_group_lingers(void **state)
{
    struct gc_config cfg;
    gc_config_defaults(&cfg);
    assert_int_equal(cfg.empty_group_retention_ms, 600000); /* Kafka's check interval */
    cfg.empty_group_retention_ms = 5000;
    struct gc_callbacks cb = {.join_done = join_done, .sync_done = sync_done};
    struct gc *gc = gc_new(&cfg, &cb);
    struct fake a, s;
    join(gc, &a, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    assert_int_equal(a.answered, 1);
    char ida[128];
    snprintf(ida, sizeof(ida), "%s", a.member_id);
    sync_(gc, &s, ida, 1, 0, NULL, 110);
    assert_int_equal(gc_delete(gc, S("g")), KAFKA_NON_EMPTY_GROUP);
    assert_int_equal(gc_delete(gc, S("nope")), KAFKA_GROUP_ID_NOT_FOUND);
    assert_int_equal(gc_leave(gc, S("g"), S(ida), KSTR_NULL, 1000), KAFKA_NONE);

    /* the next deadline the coordinator reports is the end of the group's linger */
    assert_int_equal(gc_tick(gc, 1000), 5000);
    struct seen l = {0};
    gc_list(gc, seen_list, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.id, "g");
    assert_int_equal(l.state, GROUP_EMPTY);
    assert_string_equal(l.protocol_type, "consumer");
    struct seen d = {0};
    assert_int_equal(gc_describe(gc, S("g"), seen_describe, &d), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.state, GROUP_EMPTY);
    assert_int_equal(d.nmembers, 0);
    assert_string_equal(d.protocol_type, "consumer");
    assert_int_equal(gc_tick(gc, 5999), 1);
    assert_int_equal(gc_group_count(gc), 1);
    assert_int_equal(gc_tick(gc, 6000), -1);
    assert_int_equal(gc_group_count(gc), 0);
    assert_int_equal(gc_describe(gc, S("g"), seen_describe, &d), TANDEM_ENOENT);

    /* deleted while it lingers: gone at once; a rejoin starts it again */
    join(gc, &a, NULL, NULL, "range", false, 7000);
    gc_tick(gc, 7100);
    snprintf(ida, sizeof(ida), "%s", a.member_id);
    assert_int_equal(gc_leave(gc, S("g"), S(ida), KSTR_NULL, 7200), KAFKA_NONE);
    gc_tick(gc, 7300);
    assert_int_equal(gc_delete(gc, S("g")), KAFKA_NONE);
    assert_int_equal(gc_delete(gc, S("g")), KAFKA_GROUP_ID_NOT_FOUND);
    assert_int_equal(gc_group_count(gc), 0);
    gc_free(gc);
}

/* gc_tick reports the exact time to the next session deadline, so a caller arming a timer for
 * it expires a silent member at its deadline, not at a periodic sweep. */
static void test_session_deadline_reported(void **state)
{
    struct gc *gc = new_gc();
    struct fake a, s;
    join(gc, &a, NULL, NULL, "range", false, 0);
    assert_int_equal(gc_tick(gc, 0), 100); /* the initial rebalance delay */
    gc_tick(gc, 100);
    char ida[128];
    snprintf(ida, sizeof(ida), "%s", a.member_id);
    sync_(gc, &s, ida, 1, 0, NULL, 110);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), KSTR_NULL, 2000), KAFKA_NONE);
    assert_int_equal(gc_tick(gc, 2000), 6000); /* session.timeout.ms 6000 from the heartbeat */
    assert_int_equal(gc_tick(gc, 7999), 1);
    gc_tick(gc, 8000);
    assert_int_equal(gc_heartbeat(gc, S("g"), 1, S(ida), KSTR_NULL, 8001), KAFKA_UNKNOWN_MEMBER_ID);
    struct seen l = {0};
    gc_list(gc, seen_list, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.state, GROUP_EMPTY);
    gc_free(gc);
}

/* The protocol type is handed to the offsets log once, and again after it changed (a group
 * emptied and rejoined by another kind of client). */
static void test_protocol_type_to_record(void **state)
{
    struct gc *gc = new_gc();
    struct fake a;
    join(gc, &a, NULL, NULL, "range", false, 0);
    gc_tick(gc, 100);
    struct fake s;
    sync_(gc, &s, a.member_id, 1, 0, NULL, 105);
    struct group *g = NULL;
    assert_int_equal(gc_commit_check(gc, S("g"), 1, S(a.member_id), KSTR_NULL, 110, &g),
                     KAFKA_NONE);
    assert_string_equal(gc_group_type_to_record(g), "consumer");
    gc_group_type_recorded(g);
    assert_null(gc_group_type_to_record(g));
    assert_string_equal(gc_group_protocol_type(gc, "g"), "consumer");
    assert_int_equal(gc_leave(gc, S("g"), S(a.member_id), KSTR_NULL, 200), KAFKA_NONE);
    gc_tick(gc, 200);

    struct gc_protocol p[1] = {{S("x"), {(const uint8_t *)"m", 1}}};
    struct gc_join_params jp = {
        .group_id = S("g"),
        .member_id = S(""),
        .group_instance_id = KSTR_NULL,
        .client_id = S("c"),
        .client_host = S("/127.0.0.1"),
        .protocol_type = S("connect"),
        .session_timeout_ms = 6000,
        .rebalance_timeout_ms = 10000,
        .nprotocols = 1,
        .protocols = p,
    };
    memset(&a, 0, sizeof(a));
    gc_join(gc, &jp, &a, 300);
    gc_tick(gc, 400);
    assert_int_equal(a.error, KAFKA_NONE);
    assert_string_equal(gc_group_type_to_record(g), "connect");
    gc_free(gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_members_rebalance),
        cmocka_unit_test(test_member_id_required),
        cmocka_unit_test(test_rejoin_completing_rebalance),
        cmocka_unit_test(test_session_expiry),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_inconsistent_protocol),
        cmocka_unit_test(test_static_member),
        cmocka_unit_test(test_static_leader_restart_completing),
        cmocka_unit_test(test_static_leader_restart_stable),
        cmocka_unit_test(test_pending_expiry_no_rebalance),
        cmocka_unit_test(test_sync_waiter_kept_alive),
        cmocka_unit_test(test_static_member_survives_rebalance),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_drop_topic_offsets),
        cmocka_unit_test(test_offset_expiry),
        cmocka_unit_test(test_empty_group_lingers),
        cmocka_unit_test(test_session_deadline_reported),
        cmocka_unit_test(test_protocol_type_to_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
