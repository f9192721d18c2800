/*
 * group-bad: consumer-group requests that a well-behaved client never sends, built with the
 * client codecs of tests/common/kafka_client/messages_group_client.h and sent over raw TCP, each
 * checked for the exact ErrorCode that Apache Kafka's GroupCoordinator gives (the order of its
 * checks: group id, session timeout, protocol, member id, generation, state). Cases:
 *
 *   dynamic            JoinGroup v4 with an empty member id: MEMBER_ID_REQUIRED (79) with a
 *                      member id (KIP-394), printed as "MEMBER_ID <id>" on stdout; the rejoin with
 *                      it: NONE, leader of 1. JoinGroup with session_timeout_ms 0 and 1800001:
 *                      INVALID_SESSION_TIMEOUT (26); group id "": INVALID_GROUP_ID (24); protocol
 *                      type "connect" into a "consumer" group: INCONSISTENT_GROUP_PROTOCOL (23).
 *                      Heartbeat from an unknown member id: UNKNOWN_MEMBER_ID (25). After a rejoin
 *                      (generation + 1), SyncGroup and Heartbeat at the previous generation:
 *                      ILLEGAL_GENERATION (22). OffsetCommit v7 at generation 5 from an unknown
 *                      member: UNKNOWN_MEMBER_ID, nothing stored (OffsetFetch v5); from the member
 *                      at an old generation: ILLEGAL_GENERATION. LeaveGroup v1 of an unknown
 *                      member: UNKNOWN_MEMBER_ID; a Heartbeat after leaving: UNKNOWN_MEMBER_ID
 *   simple             simple commits (generation -1, no member): partition 0 NONE; partition 99
 *                      and an unknown topic UNKNOWN_TOPIC_OR_PARTITION (3); 4097 bytes of metadata
 *                      OFFSET_METADATA_TOO_LARGE (12); OffsetFetch v5 of all then shows only
 *                      partition 0 at its first offset. DescribeGroups v4 of an unknown group:
 *                      NONE, state Dead
 *   static             JoinGroup v5 with a group.instance.id and no member id: NONE at once; the
 *                      same instance again (a restart, KIP-345) gets a new member id, and the old
 *                      id is fenced: Heartbeat v3 and OffsetCommit v7 FENCED_INSTANCE_ID (82)
 *   rebalance          a second member on its own connection joins a stable group: its JoinGroup
 *                      is held, the first member's Heartbeat gets REBALANCE_IN_PROGRESS (27), it
 *                      rejoins, both get generation + 1 (the first is leader of 2); the follower's
 *                      SyncGroup is held until the leader's and carries what the leader assigned;
 *                      the follower's commit at the old generation: ILLEGAL_GENERATION; after it
 *                      leaves, the leader's Heartbeat: REBALANCE_IN_PROGRESS
 *   expiry             a member with a 1000 ms session that stops heartbeating: UNKNOWN_MEMBER_ID
 *                      2.5 s later
 *   rebalance_timeout  a member that does not rejoin within its rebalance timeout (1500 ms) is
 *                      dropped: the joining member's held JoinGroup completes as leader of 1
 *
 *   hold               (a separate run) a held JoinGroup and a held SyncGroup while the broker
 *                      is stopped: see hold()
 *
 *   group-bad HOST:PORT TOPIC [GROUP_PREFIX [hold]]   (TOPIC exists with 2..98 partitions;
 *                                                      groups are PREFIX-<case>, default "gb")
 *
 * Frames (Kafka protocol guide, "Common Request and Response Structure"), every group API here
 * below its first flexible version, so request header v1 and response header v0:
 *
 *   OFFSET SIZE FIELD
 *   0      4    Size (bytes after this field)
 *   4      2    request_api_key
 *   6      2    request_api_version
 *   8      4    correlation_id
 *   12     2+n  client_id (STRING)
 *   ...         body (messages_group_client.c)
 *
 *   response: Size INT32, correlation_id INT32, body
 *
 * Exit 0 when every case got its expected answer, 1 with the first failure named otherwise.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/kafka.h"
#include "base/kbuf.h"
#include "kafka_client/messages_client.h"
#include "kafka_client/messages_group_client.h"
#include "raw_kafka.h"

#define IO_TIMEOUT_MS 15000
#define RESP_CAP      (1 << 20)

static struct sockaddr_in g_addr;
static struct kstr g_topic;
static int32_t g_corr = 1;
static uint8_t g_resp[RESP_CAP];

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            fprintf(stderr, "group-bad: FAIL: " __VA_ARGS__); \
            fprintf(stderr, "\n");                            \
            goto fail;                                        \
        }                                                     \
    } while (0)

#define CHECK_CODE(got, want, what)                                             \
    CHECK((got) == (want), "%s: error %d (%s), want %d (%s)", what, (int)(got), \
          kafka_error_name((int16_t)(got)), (int)(want), kafka_error_name((int16_t)(want)))

/* Starts a request frame: size placeholder and header v1. Returns the size's offset. */
static size_t req_begin(struct kw *w, int16_t key, int16_t version)
{
    kw_reset(w);
    size_t at = kafka_frame_begin(w);
    struct kafka_req_header h = {.request_api_key = key,
                                 .request_api_version = version,
                                 .correlation_id = ++g_corr,
                                 .client_id = KSTR("group-bad")};
    kafka_encode_request_header(w, &h);
    return at;
}

static int send_frame(int fd, struct kw *w, size_t at)
{
    kafka_frame_end(w, at);
    return raw_send_all(fd, w->buf, w->len);
}

/* Reads the response with correlation id corr into g_resp; r is set to its body. A response may
 * be held by the coordinator (JoinGroup waits for the rebalance), hence the long timeout. */
static int recv_resp(int fd, int32_t corr, struct kr *r)
{
    int n = raw_recv_frame(fd, g_resp, RESP_CAP, IO_TIMEOUT_MS);
    if (n < 4)
        return -1;
    kr_init(r, g_resp, (size_t)n);
    int32_t got = 0;
    if (kafka_parse_response_header(r, 0, &got) || got != corr)
        return -1;
    return 0;
}

/* Sends the frame and reads its response; r is set to the response body. Returns 0 or -1. */
static int roundtrip(int fd, struct kw *w, size_t at, struct kr *r)
{
    return send_frame(fd, w, at) || recv_resp(fd, g_corr, r) ? -1 : 0;
}

/* ConsumerProtocolSubscription v0 (version INT16, topics [STRING], user_data BYTES null). */
static void subscription(struct kw *w)
{
    kw_i16(w, 0);
    kw_array(w, 1);
    kw_string(w, g_topic);
    kw_bytes(w, (struct kbytes){NULL, -1});
}

/* A group member as this test plays it: what it sends (instance, ptype, session_ms) and what the
 * coordinator last told it (id, generation, leader, nmembers). */
struct member {
    char id[256];
    const char *instance; /* group.instance.id (JoinGroup v5, Heartbeat v3), NULL: dynamic */
    const char *ptype;    /* protocol type, NULL: "consumer" */
    int32_t session_ms;   /* sent as is */
    int32_t rebalance_ms; /* 0: 10000 */
    int32_t generation;
    bool leader;
    int32_t nmembers;
};

static struct kstr cs(const char *s)
{
    return s ? (struct kstr){s, (int32_t)strlen(s)} : KSTR_NULL;
}

static int16_t join_version(const struct member *m)
{
    return m->instance ? 5 : 4;
}

/* Sends JoinGroup (v4, v5 for a static member) as m; returns its correlation id, -1 on I/O. */
static int32_t join_send(int fd, struct kw *w, const char *group, const struct member *m)
{
    struct kw meta;
    kw_init(&meta, 64);
    subscription(&meta);
    struct join_group_protocol proto = {KSTR("range"), {meta.buf, (int32_t)meta.len}};
    struct join_group_req req = {
        .group_id = cs(group),
        .session_timeout_ms = m->session_ms,
        .rebalance_timeout_ms = m->rebalance_ms ? m->rebalance_ms : 10000,
        .member_id = cs(m->id),
        .group_instance_id = cs(m->instance),
        .protocol_type = cs(m->ptype ? m->ptype : "consumer"),
        .nprotocols = 1,
        .protocols = &proto,
    };
    size_t at = req_begin(w, KAFKA_JOIN_GROUP, join_version(m));
    kafka_encode_join_group_request(w, join_version(m), &req);
    kw_cleanup(&meta);
    return send_frame(fd, w, at) ? -1 : g_corr;
}

/* Reads the JoinGroup answer into m; returns its error code, -1 on I/O or a malformed answer. */
static int join_recv(int fd, int32_t corr, struct member *m)
{
    struct kr r;
    struct join_group_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int rc = -1;
    if (corr < 0 || recv_resp(fd, corr, &r) ||
        kafka_parse_join_group_response(&r, join_version(m), &a, &resp)) {
        fprintf(stderr, "group-bad: JoinGroup: no answer or a malformed one\n");
        goto out;
    }
    rc = resp.error_code;
    if (resp.member_id.len > 0 && resp.member_id.len < (int32_t)sizeof(m->id)) {
        memcpy(m->id, resp.member_id.p, (size_t)resp.member_id.len);
        m->id[resp.member_id.len] = '\0';
    }
    if (rc == KAFKA_NONE) {
        m->generation = resp.generation_id;
        m->leader = resp.leader.len == (int32_t)strlen(m->id) &&
                    memcmp(resp.leader.p, m->id, strlen(m->id)) == 0;
        m->nmembers = resp.nmembers;
    }
out:
    arena_cleanup(&a);
    return rc;
}

static int join(int fd, struct kw *w, const char *group, struct member *m)
{
    return join_recv(fd, join_send(fd, w, group, m), m);
}

/* ConsumerProtocolAssignment v0 of TOPIC/partition: version INT16, [topic STRING,
 * [partition INT32]], user_data BYTES (null). */
static void assignment(struct kw *w, int32_t partition)
{
    kw_i16(w, 0);
    kw_array(w, 1);
    kw_string(w, g_topic);
    kw_array(w, 1);
    kw_i32(w, partition);
    kw_bytes(w, (struct kbytes){NULL, -1});
}

/* Sends SyncGroup v3 as m at generation gen. A leader (n > 0) assigns TOPIC/parts[i] to ids[i]. */
static int32_t sync_send(int fd, struct kw *w, const char *group, const struct member *m,
                         int32_t gen, int n, const char *const *ids, const int32_t *parts)
{
    struct kw asg[2];
    struct sync_group_assignment sa[2];
    for (int i = 0; i < n && i < 2; i++) {
        kw_init(&asg[i], 64);
        assignment(&asg[i], parts[i]);
        sa[i] = (struct sync_group_assignment){cs(ids[i]), {asg[i].buf, (int32_t)asg[i].len}};
    }
    struct sync_group_req req = {
        .group_id = cs(group),
        .generation_id = gen,
        .member_id = cs(m->id),
        .group_instance_id = cs(m->instance),
        .nassignments = n < 2 ? n : 2,
        .assignments = sa,
    };
    size_t at = req_begin(w, KAFKA_SYNC_GROUP, 3);
    kafka_encode_sync_group_request(w, 3, &req);
    for (int i = 0; i < n && i < 2; i++)
        kw_cleanup(&asg[i]);
    return send_frame(fd, w, at) ? -1 : g_corr;
}

/* Reads a SyncGroup answer; *partition gets the one assigned partition (-1 if none or not the
 * layout assignment() writes). Returns the error code, -1 on I/O. */
static int sync_recv(int fd, int32_t corr, int32_t *partition)
{
    struct kr r, ar;
    struct sync_group_resp resp;
    *partition = -1;
    if (corr < 0 || recv_resp(fd, corr, &r) || kafka_parse_sync_group_response(&r, 3, NULL, &resp))
        return -1;
    if (resp.error_code == KAFKA_NONE && resp.assignment.len > 0) {
        kr_init(&ar, resp.assignment.p, (size_t)resp.assignment.len);
        kr_i16(&ar);
        int32_t nt = kr_i32(&ar);
        struct kstr t = kr_string(&ar);
        int32_t np = kr_i32(&ar);
        int32_t p = kr_i32(&ar);
        if (!ar.err && nt == 1 && np == 1 && t.len == g_topic.len &&
            memcmp(t.p, g_topic.p, (size_t)t.len) == 0)
            *partition = p;
    }
    return resp.error_code;
}

/* SyncGroup of a lone leader, which assigns TOPIC/0 to itself. */
static int sync_alone(int fd, struct kw *w, const char *group, const struct member *m, int32_t gen)
{
    const char *ids[1] = {m->id};
    int32_t parts[1] = {0}, got;
    return sync_recv(fd, sync_send(fd, w, group, m, gen, 1, ids, parts), &got);
}

/* Heartbeat (v3 with the instance id of a static member, else v2). */
static int heartbeat(int fd, struct kw *w, const char *group, const char *member,
                     const char *instance, int32_t gen)
{
    int16_t v = instance ? 3 : 2;
    struct heartbeat_req req = {
        .group_id = cs(group),
        .generation_id = gen,
        .member_id = cs(member),
        .group_instance_id = cs(instance),
    };
    size_t at = req_begin(w, KAFKA_HEARTBEAT, v);
    kafka_encode_heartbeat_request(w, v, &req);
    struct kr r;
    struct heartbeat_resp resp;
    if (roundtrip(fd, w, at, &r) || kafka_parse_heartbeat_response(&r, v, NULL, &resp))
        return -1;
    return resp.error_code;
}

static int leave(int fd, struct kw *w, const char *group, const char *member)
{
    struct leave_group_member lm = {.member_id = cs(member), .group_instance_id = KSTR_NULL};
    struct leave_group_req req = {.group_id = cs(group), .nmembers = 1, .members = &lm};
    size_t at = req_begin(w, KAFKA_LEAVE_GROUP, 1);
    kafka_encode_leave_group_request(w, 1, &req);
    struct kr r;
    struct leave_group_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int rc = -1;
    if (roundtrip(fd, w, at, &r) == 0 && kafka_parse_leave_group_response(&r, 1, &a, &resp) == 0)
        rc = resp.error_code;
    arena_cleanup(&a);
    return rc;
}

/* OffsetCommit v7 of one partition of one topic, with mlen bytes of metadata; returns that
 * partition's error code. */
static int commit(int fd, struct kw *w, const char *group, int32_t gen, const char *member,
                  const char *instance, struct kstr topic, int32_t partition, int64_t offset,
                  int32_t mlen)
{
    static char meta[8192];
    memset(meta, 'm', sizeof(meta));
    struct offset_commit_req_partition p = {.partition_index = partition,
                                            .committed_offset = offset,
                                            .committed_leader_epoch = -1,
                                            .commit_timestamp = -1,
                                            .committed_metadata = {meta, mlen}};
    struct offset_commit_req_topic t = {.name = topic, .npartitions = 1, .partitions = &p};
    struct offset_commit_req req = {
        .group_id = cs(group),
        .generation_id = gen,
        .member_id = cs(member),
        .group_instance_id = cs(instance),
        .retention_time_ms = -1,
        .ntopics = 1,
        .topics = &t,
    };
    size_t at = req_begin(w, KAFKA_OFFSET_COMMIT, 7);
    kafka_encode_offset_commit_request(w, 7, &req);
    struct kr r;
    struct offset_commit_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int rc = -1;
    if (roundtrip(fd, w, at, &r) == 0 &&
        kafka_parse_offset_commit_response(&r, 7, &a, &resp) == 0 && resp.ntopics == 1 &&
        resp.topics[0].npartitions == 1 &&
        resp.topics[0].partitions[0].partition_index == partition)
        rc = resp.topics[0].partitions[0].error_code;
    arena_cleanup(&a);
    return rc;
}

/* OffsetFetch v5 of every committed partition of group: prints them, returns how many there are
 * (-1 on error) and the offset of TOPIC/0 in *p0 (-1 if none). */
static int fetch_all(int fd, struct kw *w, const char *group, int64_t *p0)
{
    struct offset_fetch_req req = {.group_id = cs(group), .ntopics = -1};
    size_t at = req_begin(w, KAFKA_OFFSET_FETCH, 5);
    kafka_encode_offset_fetch_request(w, 5, &req);
    struct kr r;
    struct offset_fetch_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int n = -1;
    *p0 = -1;
    if (roundtrip(fd, w, at, &r) || kafka_parse_offset_fetch_response(&r, 5, &a, &resp) ||
        resp.error_code != KAFKA_NONE)
        goto out;
    n = 0;
    for (int32_t i = 0; i < resp.ntopics; i++) {
        const struct offset_fetch_resp_topic *t = &resp.topics[i];
        for (int32_t j = 0; j < t->npartitions; j++) {
            const struct offset_fetch_resp_partition *p = &t->partitions[j];
            fprintf(stderr, "group-bad: %s: committed %.*s/%d = %" PRId64 " (error %d)\n", group,
                    (int)t->name.len, t->name.p, (int)p->partition_index, p->committed_offset,
                    (int)p->error_code);
            if (p->committed_offset >= 0)
                n++;
            if (t->name.len == g_topic.len &&
                memcmp(t->name.p, g_topic.p, (size_t)g_topic.len) == 0 && p->partition_index == 0)
                *p0 = p->committed_offset;
        }
    }
out:
    arena_cleanup(&a);
    return n;
}

/* DescribeGroups v4 of one group: its error code, state in state[cap]. -1 on I/O. */
static int describe(int fd, struct kw *w, const char *group, char *state, size_t cap)
{
    struct kstr g = cs(group);
    struct describe_groups_req req = {.ngroups = 1, .groups = &g};
    size_t at = req_begin(w, KAFKA_DESCRIBE_GROUPS, 4);
    kafka_encode_describe_groups_request(w, 4, &req);
    struct kr r;
    struct describe_groups_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int rc = -1;
    if (roundtrip(fd, w, at, &r) == 0 &&
        kafka_parse_describe_groups_response(&r, 4, &a, &resp) == 0 && resp.ngroups == 1) {
        rc = resp.groups[0].error_code;
        snprintf(state, cap, "%.*s", (int)resp.groups[0].group_state.len,
                 resp.groups[0].group_state.p);
    }
    arena_cleanup(&a);
    return rc;
}

static const char *g_prefix = "gb";

static const char *gname(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s-%s", g_prefix, name);
    return buf;
}

/* member_required, session_timeout, heartbeat, stale_sync, commit_member, inconsistent, leave. */
static int case_dynamic(int fd, struct kw *w)
{
    char G[128];
    gname(G, sizeof(G), "members");
    struct member m = {.session_ms = 30000}, other = {.ptype = "connect", .session_ms = 30000};
    struct member zero = {.session_ms = 0}, huge = {.session_ms = 1800001};
    struct member anon = {.session_ms = 30000};
    int64_t p0;
    int rc = join(fd, w, G, &m);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup v4 with an empty member id");
    CHECK(m.id[0] != '\0', "MEMBER_ID_REQUIRED came without a member id");
    printf("MEMBER_ID %s\n", m.id);
    rc = join(fd, w, G, &m);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup v4 with the given member id");
    CHECK(m.leader && m.nmembers == 1, "lone member: leader %d, %d members", m.leader,
          (int)m.nmembers);
    rc = sync_alone(fd, w, G, &m, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of the leader");

    rc = join(fd, w, G, &zero);
    CHECK_CODE(rc, KAFKA_INVALID_SESSION_TIMEOUT, "JoinGroup with session_timeout_ms 0");
    rc = join(fd, w, G, &huge);
    CHECK_CODE(rc, KAFKA_INVALID_SESSION_TIMEOUT, "JoinGroup with session_timeout_ms 1800001");
    rc = join(fd, w, "", &anon);
    CHECK_CODE(rc, KAFKA_INVALID_GROUP_ID, "JoinGroup with an empty group id");
    rc = join(fd, w, G, &other);
    CHECK_CODE(rc, KAFKA_INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with protocol type connect");

    rc = heartbeat(fd, w, G, "no-such-member", NULL, m.generation);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "Heartbeat from an unknown member");
    rc = heartbeat(fd, w, G, m.id, NULL, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "Heartbeat from the member");

    int32_t old = m.generation;
    rc = join(fd, w, G, &m);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup again (rebalance)");
    CHECK(m.generation == old + 1, "rejoin gave generation %d, want %d", (int)m.generation,
          (int)old + 1);
    rc = sync_alone(fd, w, G, &m, old);
    CHECK_CODE(rc, KAFKA_ILLEGAL_GENERATION, "SyncGroup at the previous generation");
    rc = sync_alone(fd, w, G, &m, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup at the current generation");
    rc = heartbeat(fd, w, G, m.id, NULL, old);
    CHECK_CODE(rc, KAFKA_ILLEGAL_GENERATION, "Heartbeat at the previous generation");

    rc = commit(fd, w, G, 5, "no-such-member", NULL, g_topic, 0, 42, 0);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "OffsetCommit gen 5 from an unknown member");
    rc = fetch_all(fd, w, G, &p0);
    CHECK(rc == 0, "%s has %d committed partitions after a rejected commit, want 0", G, rc);
    rc = commit(fd, w, G, old, m.id, NULL, g_topic, 0, 42, 0);
    CHECK_CODE(rc, KAFKA_ILLEGAL_GENERATION, "OffsetCommit from the member at an old generation");
    rc = commit(fd, w, G, m.generation, m.id, NULL, g_topic, 0, 7, 0);
    CHECK_CODE(rc, KAFKA_NONE, "OffsetCommit from the member at its generation");
    rc = fetch_all(fd, w, G, &p0);
    CHECK(rc == 1 && p0 == 7, "%s: %d committed partitions, partition 0 at %" PRId64 ", want 1, 7",
          G, rc, p0);

    rc = leave(fd, w, G, "no-such-member");
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "LeaveGroup v1 of an unknown member");
    rc = leave(fd, w, G, m.id);
    CHECK_CODE(rc, KAFKA_NONE, "LeaveGroup v1 of the member");
    rc = heartbeat(fd, w, G, m.id, NULL, m.generation);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "Heartbeat after leaving");
    return 0;
fail:
    return -1;
}

/* commit_unknown, metadata_too_large: simple commits (generation -1) to a group without members. */
static int case_simple(int fd, struct kw *w)
{
    char S[128];
    gname(S, sizeof(S), "simple");
    int64_t p0;
    int rc = commit(fd, w, S, -1, "", NULL, g_topic, 0, 5, 0);
    CHECK_CODE(rc, KAFKA_NONE, "simple OffsetCommit of partition 0");
    rc = commit(fd, w, S, -1, "", NULL, g_topic, 99, 6, 0);
    CHECK_CODE(rc, KAFKA_UNKNOWN_TOPIC_OR_PARTITION, "OffsetCommit of partition 99");
    rc = commit(fd, w, S, -1, "", NULL, KSTR("gb-no-such-topic"), 0, 6, 0);
    CHECK_CODE(rc, KAFKA_UNKNOWN_TOPIC_OR_PARTITION, "OffsetCommit of an unknown topic");
    rc = commit(fd, w, S, -1, "", NULL, g_topic, 0, 8, 4097);
    CHECK_CODE(rc, KAFKA_OFFSET_METADATA_TOO_LARGE, "OffsetCommit with 4097 bytes of metadata");
    rc = fetch_all(fd, w, S, &p0);
    CHECK(rc == 1 && p0 == 5,
          "%s after rejected commits: %d committed partitions, partition 0 at %" PRId64
          ", want 1, 5",
          S, rc, p0);
    char state[64] = "";
    rc = describe(fd, w, gname(S, sizeof(S), "never-seen"), state, sizeof(state));
    CHECK(rc == KAFKA_NONE && strcmp(state, "Dead") == 0,
          "DescribeGroups v4 of an unknown group: error %d, state '%s', want 0, Dead", rc, state);
    return 0;
fail:
    return -1;
}

/* static: a second JoinGroup v5 with the same group.instance.id and no member id (a restarted
 * instance, KIP-345) takes the member's place; the old member id is fenced. */
static int case_static(int fd, struct kw *w)
{
    char G[128];
    gname(G, sizeof(G), "static");
    struct member a = {.instance = "inst-1", .session_ms = 30000};
    struct member b = {.instance = "inst-1", .session_ms = 30000};
    int rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup v5 of a static member without member id");
    CHECK(a.id[0] && a.leader && a.nmembers == 1, "static join: id '%s', leader %d, %d members",
          a.id, a.leader, (int)a.nmembers);
    rc = sync_alone(fd, w, G, &a, a.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of the static member");
    rc = join(fd, w, G, &b);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup v5 of the same instance again (a restart)");
    CHECK(strcmp(a.id, b.id) != 0, "the restarted instance kept member id %s", a.id);
    rc = heartbeat(fd, w, G, a.id, "inst-1", a.generation);
    CHECK_CODE(rc, KAFKA_FENCED_INSTANCE_ID, "Heartbeat v3 with the replaced member id");
    rc = commit(fd, w, G, a.generation, a.id, "inst-1", g_topic, 0, 3, 0);
    CHECK_CODE(rc, KAFKA_FENCED_INSTANCE_ID, "OffsetCommit v7 with the replaced member id");
    if (b.leader) {
        rc = sync_alone(fd, w, G, &b, b.generation);
        CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of the restarted instance");
    }
    rc = heartbeat(fd, w, G, b.id, "inst-1", b.generation);
    CHECK_CODE(rc, KAFKA_NONE, "Heartbeat v3 of the restarted instance");
    return 0;
fail:
    return -1;
}

/* rebalance: a second member (own connection) joins a stable group: the first gets
 * REBALANCE_IN_PROGRESS on its heartbeat, rejoins, both get generation+1; the follower's
 * SyncGroup waits for the leader's and then carries what the leader assigned it. */
static int case_rebalance(int fd, struct kw *w)
{
    char G[128];
    gname(G, sizeof(G), "rebalance");
    struct member a = {.session_ms = 30000}, b = {.session_ms = 30000};
    int fd2 = raw_connect(&g_addr, "group-bad");
    int32_t pa = -1, pb = -1;
    CHECK(fd2 >= 0, "second connection");
    int rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup of A");
    rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup of A with its member id");
    rc = sync_alone(fd, w, G, &a, a.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of A alone");
    int32_t gen1 = a.generation;
    rc = join(fd2, w, G, &b);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup of B");
    int32_t bcorr = join_send(fd2, w, G, &b); /* held until A rejoins */
    rc = heartbeat(fd, w, G, a.id, NULL, gen1);
    CHECK_CODE(rc, KAFKA_REBALANCE_IN_PROGRESS, "Heartbeat of A while B joins");
    rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup of A (rejoin)");
    rc = join_recv(fd2, bcorr, &b);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup of B (held answer)");
    CHECK(a.generation == gen1 + 1 && b.generation == a.generation,
          "generations A %d, B %d, want %d", (int)a.generation, (int)b.generation, (int)gen1 + 1);
    CHECK(a.leader && a.nmembers == 2 && !b.leader && b.nmembers == 0,
          "A leader %d with %d members, B leader %d with %d members", a.leader, (int)a.nmembers,
          b.leader, (int)b.nmembers);
    int32_t bsync = sync_send(fd2, w, G, &b, b.generation, 0, NULL, NULL); /* waits for A */
    const char *ids[2] = {a.id, b.id};
    const int32_t parts[2] = {0, 1};
    rc = sync_recv(fd, sync_send(fd, w, G, &a, a.generation, 2, ids, parts), &pa);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of A (leader)");
    rc = sync_recv(fd2, bsync, &pb);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of B (follower, held answer)");
    CHECK(pa == 0 && pb == 1, "assignments A %d, B %d, want 0, 1", (int)pa, (int)pb);
    rc = commit(fd2, w, G, gen1, b.id, NULL, g_topic, 1, 3, 0);
    CHECK_CODE(rc, KAFKA_ILLEGAL_GENERATION, "OffsetCommit of B at the old generation");
    rc = commit(fd2, w, G, b.generation, b.id, NULL, g_topic, 1, 3, 0);
    CHECK_CODE(rc, KAFKA_NONE, "OffsetCommit of B");
    rc = leave(fd2, w, G, b.id);
    CHECK_CODE(rc, KAFKA_NONE, "LeaveGroup of B");
    rc = heartbeat(fd, w, G, a.id, NULL, a.generation);
    CHECK_CODE(rc, KAFKA_REBALANCE_IN_PROGRESS, "Heartbeat of A after B left");
    rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup of A after B left");
    CHECK(a.nmembers == 1 && a.generation == gen1 + 2, "A alone: %d members, generation %d",
          (int)a.nmembers, (int)a.generation);
    close(fd2);
    return 0;
fail:
    if (fd2 >= 0)
        close(fd2);
    return -1;
}

/* expiry: a member that stops heartbeating is gone after its session timeout (1000 ms). */
static int case_expiry(int fd, struct kw *w)
{
    char G[128];
    gname(G, sizeof(G), "expiry");
    struct member m = {.session_ms = 1000};
    int rc = join(fd, w, G, &m);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup (session 1000 ms)");
    rc = join(fd, w, G, &m);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup (session 1000 ms) with its member id");
    rc = sync_alone(fd, w, G, &m, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup (session 1000 ms)");
    rc = heartbeat(fd, w, G, m.id, NULL, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "Heartbeat within the session");
    struct timespec pause = {2, 500 * 1000 * 1000};
    nanosleep(&pause, NULL);
    rc = heartbeat(fd, w, G, m.id, NULL, m.generation);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "Heartbeat 2.5 s into a 1 s session");
    return 0;
fail:
    return -1;
}

/* rebalance_timeout: a member that does not rejoin within the rebalance timeout is dropped, and
 * the rebalance completes without it. */
static int case_rebalance_timeout(int fd, struct kw *w)
{
    char G[128];
    gname(G, sizeof(G), "slow");
    struct member a = {.session_ms = 30000, .rebalance_ms = 1500};
    struct member b = {.session_ms = 30000, .rebalance_ms = 1500};
    int fd2 = raw_connect(&g_addr, "group-bad");
    CHECK(fd2 >= 0, "second connection");
    int rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup of A");
    rc = join(fd, w, G, &a);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup of A with its member id");
    rc = sync_alone(fd, w, G, &a, a.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of A alone");
    rc = join(fd2, w, G, &b);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup of B");
    int64_t t0 = raw_now_ms();
    rc = join(fd2, w, G, &b); /* A never rejoins */
    int64_t took = raw_now_ms() - t0;
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup of B while A does not rejoin");
    CHECK(b.leader && b.nmembers == 1 && b.generation == a.generation + 1,
          "B after the rebalance timeout: leader %d, %d members, generation %d (want 1, 1, %d)",
          b.leader, (int)b.nmembers, (int)b.generation, (int)a.generation + 1);
    CHECK(took >= 1000 && took <= 6000, "B's JoinGroup took %" PRId64 " ms, rebalance timeout 1500",
          took);
    rc = heartbeat(fd, w, G, a.id, NULL, a.generation);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "Heartbeat of A, dropped by the rebalance timeout");
    close(fd2);
    return 0;
fail:
    if (fd2 >= 0)
        close(fd2);
    return -1;
}

/* hold: leaves a JoinGroup (group PREFIX-held-join) and a follower's SyncGroup (PREFIX-held-sync)
 * held by the coordinator, prints HELD, and waits for the broker to close the connections (the
 * script stops the broker meanwhile: a clean shutdown must answer or drop held requests without
 * leaking them). Exit 0 once every connection was closed by the broker within 30 s. */
static int hold(void)
{
    struct kw w;
    kw_init(&w, 4096);
    char J[128], S[128];
    gname(J, sizeof(J), "held-join");
    gname(S, sizeof(S), "held-sync");
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = raw_connect(&g_addr, "group-bad");
    struct member a = {.session_ms = 60000, .rebalance_ms = 60000};
    struct member b = {.session_ms = 60000, .rebalance_ms = 60000};
    struct member l = {.session_ms = 60000, .rebalance_ms = 60000};
    struct member f = {.session_ms = 60000, .rebalance_ms = 60000};
    int rc = -1;
    CHECK(fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0, "connect");
    /* J: a is stable, b's JoinGroup waits for a, which never rejoins. */
    join(fds[0], &w, J, &a);
    CHECK_CODE(join(fds[0], &w, J, &a), KAFKA_NONE, "hold: JoinGroup of a");
    CHECK_CODE(sync_alone(fds[0], &w, J, &a, a.generation), KAFKA_NONE, "hold: SyncGroup of a");
    join(fds[1], &w, J, &b);
    CHECK(join_send(fds[1], &w, J, &b) > 0, "hold: send b's JoinGroup");
    /* S: l and f both joined generation 2; f's SyncGroup waits for l's, which never comes. */
    join(fds[0], &w, S, &l);
    CHECK_CODE(join(fds[0], &w, S, &l), KAFKA_NONE, "hold: JoinGroup of l");
    CHECK_CODE(sync_alone(fds[0], &w, S, &l, l.generation), KAFKA_NONE, "hold: SyncGroup of l");
    join(fds[2], &w, S, &f);
    int32_t fcorr = join_send(fds[2], &w, S, &f);
    CHECK_CODE(join(fds[0], &w, S, &l), KAFKA_NONE, "hold: JoinGroup of l (rejoin)");
    CHECK_CODE(join_recv(fds[2], fcorr, &f), KAFKA_NONE, "hold: JoinGroup of f");
    CHECK(sync_send(fds[2], &w, S, &f, f.generation, 0, NULL, NULL) > 0, "hold: send f's sync");
    printf("HELD\n");
    for (int i = 0; i < 3; i++) {
        /* Whatever the broker answers first, it must then close the connection. */
        CHECK(raw_wait_closed(fds[i], 30000) == 0, "hold: connection %d still open after 30 s", i);
    }
    printf("CLOSED_BY_BROKER\n");
    rc = 0;
fail:
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    kw_cleanup(&w);
    return rc;
}

static int run(void)
{
    struct kw w;
    kw_init(&w, 4096);
    int fd = raw_connect(&g_addr, "group-bad");
    int rc = -1;
    CHECK(fd >= 0, "connect");
    static const struct {
        const char *name;
        int (*fn)(int, struct kw *);
    } cases[] = {
        {"dynamic", case_dynamic}, {"simple", case_simple},
        {"static", case_static},   {"rebalance", case_rebalance},
        {"expiry", case_expiry},   {"rebalance_timeout", case_rebalance_timeout},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(cases[i].fn(fd, &w) == 0, "case %s", cases[i].name);
        fprintf(stderr, "group-bad: case %s: ok\n", cases[i].name);
    }
    fprintf(stderr, "group-bad: every case answered as expected\n");
    rc = 0;
fail:
    if (fd >= 0)
        close(fd);
    kw_cleanup(&w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: group-bad HOST:PORT TOPIC [GROUP_PREFIX [hold]]\n");
        return 2;
    }
    char host[64];
    const char *colon = strrchr(argv[1], ':');
    if (!colon || (size_t)(colon - argv[1]) >= sizeof(host)) {
        fprintf(stderr, "group-bad: bad address %s\n", argv[1]);
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1) {
        fprintf(stderr, "group-bad: bad host %s\n", host);
        return 2;
    }
    g_topic = (struct kstr){argv[2], (int32_t)strlen(argv[2])};
    if (argc == 4)
        g_prefix = argv[3];
    setvbuf(stdout, NULL, _IOLBF, 0);
    return argc == 5 && strcmp(argv[4], "hold") == 0 ? hold() : run();
}
