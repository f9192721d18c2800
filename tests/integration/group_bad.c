/*
 * group-bad: consumer-group requests that a well-behaved client never sends, built with the
 * client codecs of src/broker/protocol/messages_group_client.h and sent over raw TCP, each
 * checked for the exact Kafka ErrorCode that Apache Kafka's GroupCoordinator gives:
 *
 *   member_required  JoinGroup v4 with an empty member id: MEMBER_ID_REQUIRED (79) and a
 *                    non-empty member id to rejoin with (KIP-394); the rejoin with it: NONE,
 *                    generation 1, this member the leader
 *   session_timeout  JoinGroup with session_timeout_ms 0: INVALID_SESSION_TIMEOUT (26)
 *   heartbeat        Heartbeat from an unknown member id: UNKNOWN_MEMBER_ID (25); from the real
 *                    member at its generation: NONE
 *   stale_sync       the member rejoins (generation 2), then a SyncGroup at generation 1:
 *                    ILLEGAL_GENERATION (22); at generation 2: NONE
 *   commit_member    OffsetCommit v7 at generation 5 from an unknown member of that group (which
 *                    has a member): UNKNOWN_MEMBER_ID (25), and nothing is stored
 *   commit_unknown   in a group without members, a simple commit (generation -1) of partition 0
 *                    (NONE), then a commit of partition 99 of the same topic and of a topic that
 *                    does not exist: UNKNOWN_TOPIC_OR_PARTITION (3) for both; OffsetFetch v5 of
 *                    every committed partition (null topics) then still shows only partition 0
 *                    at its first offset
 *   leave            LeaveGroup v1 from an unknown member: UNKNOWN_MEMBER_ID (25); from the real
 *                    member: NONE
 *
 *   group-bad HOST:PORT TOPIC     (TOPIC exists with at least one and fewer than 99 partitions)
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
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/kafka.h"
#include "protocol/kbuf.h"
#include "protocol/messages_client.h"
#include "protocol/messages_group_client.h"

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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int conn_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int recv_exact(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        int left = (int)(deadline - now_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t k = recv(fd, p + got, n - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

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

/* Sends the frame and reads its response into g_resp; r is set to the response body. The
 * response may be held by the coordinator (JoinGroup waits for the rebalance), hence the long
 * timeout. Returns 0 or -1. */
static int roundtrip(int fd, struct kw *w, size_t at, struct kr *r)
{
    kafka_frame_end(w, at);
    size_t off = 0;
    while (off < w->len) {
        ssize_t k = send(fd, w->buf + off, w->len - off, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    uint8_t sz[4];
    if (recv_exact(fd, sz, 4, deadline))
        return -1;
    uint32_t n = be32(sz);
    if (n < 4 || n > RESP_CAP || recv_exact(fd, g_resp, n, deadline))
        return -1;
    kr_init(r, g_resp, n);
    int32_t corr = 0;
    if (kafka_parse_response_header(r, 0, &corr) || corr != g_corr)
        return -1;
    return 0;
}

/* ConsumerProtocolSubscription v0 (version INT16, topics [STRING], user_data BYTES null). */
static void subscription(struct kw *w)
{
    kw_i16(w, 0);
    kw_array(w, 1);
    kw_string(w, g_topic);
    kw_bytes(w, (struct kbytes){NULL, -1});
}

struct member {
    char id[256];
    int32_t generation;
};

/* JoinGroup v4 as member m (empty id = a new member); returns the error code, or -1 on I/O. */
static int join(int fd, struct kw *w, const char *group, struct member *m, int32_t session_ms)
{
    struct kw meta;
    kw_init(&meta, 64);
    subscription(&meta);
    struct join_group_protocol proto = {KSTR("range"), {meta.buf, (int32_t)meta.len}};
    struct join_group_req req = {
        .group_id = {group, (int32_t)strlen(group)},
        .session_timeout_ms = session_ms,
        .rebalance_timeout_ms = 10000,
        .member_id = {m->id, (int32_t)strlen(m->id)},
        .group_instance_id = KSTR_NULL,
        .protocol_type = KSTR("consumer"),
        .nprotocols = 1,
        .protocols = &proto,
    };
    size_t at = req_begin(w, KAFKA_JOIN_GROUP, 4);
    kafka_encode_join_group_request(w, 4, &req);
    kw_cleanup(&meta);
    struct kr r;
    struct join_group_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int rc = -1;
    if (roundtrip(fd, w, at, &r) || kafka_parse_join_group_response(&r, 4, &a, &resp)) {
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
        bool leader = resp.leader.len == (int32_t)strlen(m->id) &&
                      memcmp(resp.leader.p, m->id, strlen(m->id)) == 0;
        if (!leader || resp.nmembers != 1) {
            fprintf(stderr, "group-bad: JoinGroup: leader %d, %d members (want 1, 1)\n", leader,
                    (int)resp.nmembers);
            rc = -1;
        }
    }
out:
    arena_cleanup(&a);
    return rc;
}

/* SyncGroup v2 at generation gen; the leader assigns TOPIC/0 to itself. */
static int sync_group(int fd, struct kw *w, const char *group, const struct member *m, int32_t gen)
{
    struct kw asg;
    kw_init(&asg, 64);
    kw_i16(&asg, 0); /* ConsumerProtocolAssignment v0: version, [topic, [partition]], user_data */
    kw_array(&asg, 1);
    kw_string(&asg, g_topic);
    kw_array(&asg, 1);
    kw_i32(&asg, 0);
    kw_bytes(&asg, (struct kbytes){NULL, -1});
    struct sync_group_assignment sa = {{m->id, (int32_t)strlen(m->id)},
                                       {asg.buf, (int32_t)asg.len}};
    struct sync_group_req req = {
        .group_id = {group, (int32_t)strlen(group)},
        .generation_id = gen,
        .member_id = {m->id, (int32_t)strlen(m->id)},
        .group_instance_id = KSTR_NULL,
        .nassignments = 1,
        .assignments = &sa,
    };
    size_t at = req_begin(w, KAFKA_SYNC_GROUP, 2);
    kafka_encode_sync_group_request(w, 2, &req);
    kw_cleanup(&asg);
    struct kr r;
    struct sync_group_resp resp;
    struct arena a;
    arena_init(&a, 0);
    int rc = -1;
    if (roundtrip(fd, w, at, &r) || kafka_parse_sync_group_response(&r, 2, &a, &resp))
        fprintf(stderr, "group-bad: SyncGroup: no answer or a malformed one\n");
    else
        rc = resp.error_code;
    arena_cleanup(&a);
    return rc;
}

static int heartbeat(int fd, struct kw *w, const char *group, const char *member, int32_t gen)
{
    struct heartbeat_req req = {
        .group_id = {group, (int32_t)strlen(group)},
        .generation_id = gen,
        .member_id = {member, (int32_t)strlen(member)},
        .group_instance_id = KSTR_NULL,
    };
    size_t at = req_begin(w, KAFKA_HEARTBEAT, 2);
    kafka_encode_heartbeat_request(w, 2, &req);
    struct kr r;
    struct heartbeat_resp resp;
    if (roundtrip(fd, w, at, &r) || kafka_parse_heartbeat_response(&r, 2, NULL, &resp))
        return -1;
    return resp.error_code;
}

static int leave(int fd, struct kw *w, const char *group, const char *member)
{
    struct leave_group_member lm = {.member_id = {member, (int32_t)strlen(member)},
                                    .group_instance_id = KSTR_NULL};
    struct leave_group_req req = {
        .group_id = {group, (int32_t)strlen(group)}, .nmembers = 1, .members = &lm};
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

/* OffsetCommit v7 of one partition of one topic; returns that partition's error code. */
static int commit(int fd, struct kw *w, const char *group, int32_t gen, const char *member,
                  struct kstr topic, int32_t partition, int64_t offset)
{
    struct offset_commit_req_partition p = {.partition_index = partition,
                                            .committed_offset = offset,
                                            .committed_leader_epoch = -1,
                                            .commit_timestamp = -1,
                                            .committed_metadata = KSTR("")};
    struct offset_commit_req_topic t = {.name = topic, .npartitions = 1, .partitions = &p};
    struct offset_commit_req req = {
        .group_id = {group, (int32_t)strlen(group)},
        .generation_id = gen,
        .member_id = {member, (int32_t)strlen(member)},
        .group_instance_id = KSTR_NULL,
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
    struct offset_fetch_req req = {.group_id = {group, (int32_t)strlen(group)}, .ntopics = -1};
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

static int run(void)
{
    struct kw w;
    kw_init(&w, 4096);
    int fd = conn_open();
    int rc;
    int64_t p0;
    struct member m = {.id = ""}, bogus = {.id = ""};
    const char *G = "gb-members", *S = "gb-simple";
    CHECK(fd >= 0, "connect");

    /* member_required */
    rc = join(fd, &w, G, &m, 30000);
    CHECK_CODE(rc, KAFKA_MEMBER_ID_REQUIRED, "JoinGroup v4 with an empty member id");
    CHECK(m.id[0] != '\0', "MEMBER_ID_REQUIRED came without a member id");
    fprintf(stderr, "group-bad: MEMBER_ID_REQUIRED with member id %s\n", m.id);
    rc = join(fd, &w, G, &m, 30000);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup v4 with the given member id");
    fprintf(stderr, "group-bad: joined %s generation %d\n", G, (int)m.generation);
    rc = sync_group(fd, &w, G, &m, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup of the leader");

    /* session_timeout */
    rc = join(fd, &w, "gb-timeout", &bogus, 0);
    CHECK_CODE(rc, KAFKA_INVALID_SESSION_TIMEOUT, "JoinGroup with session_timeout_ms 0");

    /* heartbeat */
    rc = heartbeat(fd, &w, G, "no-such-member", m.generation);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "Heartbeat from an unknown member");
    rc = heartbeat(fd, &w, G, m.id, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "Heartbeat from the member");

    /* stale_sync */
    int32_t old = m.generation;
    rc = join(fd, &w, G, &m, 30000);
    CHECK_CODE(rc, KAFKA_NONE, "JoinGroup again (rebalance)");
    CHECK(m.generation == old + 1, "rejoin gave generation %d, want %d", (int)m.generation,
          (int)old + 1);
    rc = sync_group(fd, &w, G, &m, old);
    CHECK_CODE(rc, KAFKA_ILLEGAL_GENERATION, "SyncGroup at the previous generation");
    rc = sync_group(fd, &w, G, &m, m.generation);
    CHECK_CODE(rc, KAFKA_NONE, "SyncGroup at the current generation");
    rc = heartbeat(fd, &w, G, m.id, old);
    CHECK_CODE(rc, KAFKA_ILLEGAL_GENERATION, "Heartbeat at the previous generation");

    /* commit_member */
    rc = commit(fd, &w, G, 5, "no-such-member", g_topic, 0, 42);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "OffsetCommit gen 5 from an unknown member");
    rc = fetch_all(fd, &w, G, &p0);
    CHECK(rc == 0, "%s has %d committed partitions after a rejected commit, want 0", G, rc);
    rc = commit(fd, &w, G, m.generation, m.id, g_topic, 0, 7);
    CHECK_CODE(rc, KAFKA_NONE, "OffsetCommit from the member at its generation");
    rc = fetch_all(fd, &w, G, &p0);
    CHECK(rc == 1 && p0 == 7, "%s: %d committed partitions, partition 0 at %" PRId64 ", want 1, 7",
          G, rc, p0);

    /* commit_unknown */
    rc = commit(fd, &w, S, -1, "", g_topic, 0, 5);
    CHECK_CODE(rc, KAFKA_NONE, "simple OffsetCommit of partition 0");
    rc = commit(fd, &w, S, -1, "", g_topic, 99, 6);
    CHECK_CODE(rc, KAFKA_UNKNOWN_TOPIC_OR_PARTITION, "OffsetCommit of partition 99");
    rc = commit(fd, &w, S, -1, "", KSTR("gb-no-such-topic"), 0, 6);
    CHECK_CODE(rc, KAFKA_UNKNOWN_TOPIC_OR_PARTITION, "OffsetCommit of an unknown topic");
    rc = fetch_all(fd, &w, S, &p0);
    CHECK(rc == 1 && p0 == 5,
          "%s after rejected commits: %d committed partitions, partition 0 at %" PRId64
          ", want 1, 5",
          S, rc, p0);

    /* leave */
    rc = leave(fd, &w, G, "no-such-member");
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "LeaveGroup v1 of an unknown member");
    rc = leave(fd, &w, G, m.id);
    CHECK_CODE(rc, KAFKA_NONE, "LeaveGroup v1 of the member");
    rc = heartbeat(fd, &w, G, m.id, m.generation);
    CHECK_CODE(rc, KAFKA_UNKNOWN_MEMBER_ID, "Heartbeat after leaving");

    close(fd);
    kw_cleanup(&w);
    fprintf(stderr, "group-bad: every case answered as expected\n");
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    kw_cleanup(&w);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: group-bad HOST:PORT TOPIC\n");
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
    return run();
}
