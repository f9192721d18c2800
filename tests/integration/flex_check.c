/*
 * kafka-flex-check: tandem-broker at the flexible versions (KIP-482) that no client on this
 * machine sends (librdkafka 2.0.2 and kafkajs 2.2.4 stop below them, docs/broker.md), spoken over
 * raw TCP with the test client's codecs (tests/common/kafka_client, the schema tables run in the
 * client direction): request header v2, response header v1 (v0 for ApiVersions).
 *
 *   kafka-flex-check --port PORT
 *
 * One scenario, each step checking the answer's fields:
 *   ApiVersions v3 advertises the versions below; CreateTopics v6 (KIP-525 fields); Metadata v12
 *   and v9 (null = all); Produce v9 (acks -1) of one record batch; ListOffsets v6; Fetch v12 of
 *   that batch; InitProducerId v2; FindCoordinator v4 (two keys); JoinGroup v6 (the
 *   MEMBER_ID_REQUIRED round trip, then leader); SyncGroup v4; Heartbeat v4; OffsetCommit v8;
 *   OffsetFetch v8 (two groups, one of them with null topics); ListGroups v4 (StatesFilter);
 *   DescribeGroups v5; LeaveGroup v5; DeleteGroups v2; CreatePartitions v3; DeleteTopics v5.
 * Exit 0 when every step passed, 1 naming the first that failed.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_client/messages_client.h"
#include "kafka_client/messages_group_client.h"
#include "protocol/kafka.h"
#include "protocol/messages_group.h"
#include "protocol/record_batch.h"
#include "raw_kafka.h"

#define TOPIC "flex-topic"
#define GROUP "flex-group"

static int g_fd = -1;
static int32_t g_corr = 1;
static uint8_t g_buf[1 << 20];
static struct arena g_arena;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "flex-check: FAIL (%s:%d) %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

typedef void (*encode_fn)(struct kw *w, int16_t v, const void *req);

/* Sends one request (header from key and version) and reads its response into r (body). */
static void call(int16_t key, int16_t v, encode_fn enc, const void *req, struct kr *r)
{
    struct kw w;
    kw_init(&w, 256);
    size_t at = kafka_frame_begin(&w);
    struct kafka_req_header h = {key, v, g_corr, KSTR("flex-check"), 0};
    kafka_encode_request_header(&w, &h);
    enc(&w, v, req);
    kafka_frame_end(&w, at);
    CHECK(raw_send_all(g_fd, w.buf, w.len) == 0, "api %d v%d: send", key, v);
    kw_cleanup(&w);
    int n = raw_recv_frame(g_fd, g_buf, sizeof(g_buf), 10000);
    CHECK(n > 0, "api %d v%d: no response (%d)", key, v, n);
    kr_init(r, g_buf, (size_t)n);
    int32_t corr;
    CHECK(kafka_parse_response_header(r, kafka_response_header_version(key, v), &corr) == 0 &&
              corr == g_corr,
          "api %d v%d: response header", key, v);
    g_corr++;
}

#define CALL(key, v, fn, req, r) call((key), (v), (encode_fn)(fn), (req), (r))
#define PARSE(fn, v, out)        CHECK(fn(&r, (v), &g_arena, (out)) == 0, "%s", #fn)

static int16_t max_version(const struct api_versions_resp *av, int16_t key)
{
    for (int32_t i = 0; i < av->napi_keys; i++)
        if (av->api_keys[i].api_key == key)
            return av->api_keys[i].max_version;
    return -1;
}

/* One uncompressed record batch v2 with one record (value "hello-flex"), CRC set. */
static void make_batch(struct kw *b)
{
    struct kw rec;
    kw_init(&rec, 64);
    kw_i8(&rec, 0);      /* attributes */
    kw_varlong(&rec, 0); /* timestampDelta */
    kw_varint(&rec, 0);  /* offsetDelta */
    kw_varint(&rec, -1); /* key: null */
    kw_varint(&rec, 10);
    kw_raw(&rec, "hello-flex", 10);
    kw_varint(&rec, 0); /* headers */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    kw_i64(b, 0);
    kw_i32(b, 0); /* batchLength, patched below */
    kw_i32(b, -1);
    kw_i8(b, 2);
    kw_i32(b, 0); /* crc, patched below */
    kw_i16(b, 0);
    kw_i32(b, 0);
    kw_i64(b, now);
    kw_i64(b, now);
    kw_i64(b, -1);
    kw_i16(b, -1);
    kw_i32(b, -1);
    kw_i32(b, 1);
    kw_varint(b, (int32_t)rec.len);
    kw_raw(b, rec.buf, rec.len);
    kw_put_i32_at(b, 8, (int32_t)(b->len - KBATCH_LOG_OVERHEAD));
    put_be32(b->buf + 17, kbatch_compute_crc(b->buf, b->len));
    kw_cleanup(&rec);
}

static void data_path(void)
{
    struct kr r;
    /* ApiVersions v3 */
    struct api_versions_req avq = {KSTR("flex-check"), KSTR("1")};
    struct api_versions_resp av;
    CALL(KAFKA_API_VERSIONS, 3, kafka_encode_api_versions_request, &avq, &r);
    PARSE(kafka_parse_api_versions_response, 3, &av);
    CHECK(av.error_code == 0, "ApiVersions error %d", av.error_code);
    static const int16_t want[][2] = {
        {KAFKA_PRODUCE, 9},          {KAFKA_FETCH, 12},        {KAFKA_LIST_OFFSETS, 6},
        {KAFKA_METADATA, 12},        {KAFKA_OFFSET_COMMIT, 8}, {KAFKA_OFFSET_FETCH, 8},
        {KAFKA_FIND_COORDINATOR, 4}, {KAFKA_JOIN_GROUP, 6},    {KAFKA_HEARTBEAT, 4},
        {KAFKA_LEAVE_GROUP, 5},      {KAFKA_SYNC_GROUP, 4},    {KAFKA_DESCRIBE_GROUPS, 5},
        {KAFKA_LIST_GROUPS, 4},      {KAFKA_CREATE_TOPICS, 6}, {KAFKA_DELETE_TOPICS, 5},
        {KAFKA_INIT_PRODUCER_ID, 2}, {KAFKA_DELETE_GROUPS, 2}, {KAFKA_CREATE_PARTITIONS, 3},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        CHECK(max_version(&av, want[i][0]) == want[i][1], "api %d advertised up to %d", want[i][0],
              max_version(&av, want[i][0]));

    /* CreateTopics v6 */
    struct create_topics_config cfg = {KSTR("retention.ms"), KSTR("3600000")};
    struct create_topics_req_topic ct = {KSTR(TOPIC), 2, -1, 0, NULL, 1, &cfg};
    struct create_topics_req ctq = {1, &ct, 10000, false};
    struct create_topics_resp cto;
    CALL(KAFKA_CREATE_TOPICS, 6, kafka_encode_create_topics_request, &ctq, &r);
    PARSE(kafka_parse_create_topics_response, 6, &cto);
    CHECK(cto.ntopics == 1 && cto.topics[0].error_code == 0, "CreateTopics error");
    CHECK(cto.topics[0].num_partitions == 2 && cto.topics[0].replication_factor == 1,
          "CreateTopics v6 shape %d/%d", cto.topics[0].num_partitions,
          cto.topics[0].replication_factor);
    CHECK(cto.topics[0].nconfigs == 1 && kstr_eq(cto.topics[0].configs[0].name, "retention.ms") &&
              kstr_eq(cto.topics[0].configs[0].value, "3600000"),
          "CreateTopics v6 configs");

    /* Metadata v12 (the topic) and v9 (null: all topics) */
    struct kstr names[] = {KSTR(TOPIC)};
    struct metadata_req mq = {1, names, false, false, true};
    struct metadata_resp mo;
    CALL(KAFKA_METADATA, 12, kafka_encode_metadata_request, &mq, &r);
    PARSE(kafka_parse_metadata_response, 12, &mo);
    CHECK(mo.nbrokers == 1 && mo.controller_id == mo.brokers[0].node_id, "Metadata brokers");
    CHECK(mo.ntopics == 1 && mo.topics[0].error_code == 0 && mo.topics[0].npartitions == 2,
          "Metadata v12 topic");
    CHECK(mo.topics[0].partitions[1].leader_id == mo.brokers[0].node_id, "Metadata leader");
    mq = (struct metadata_req){-1, NULL, false, false, false};
    CALL(KAFKA_METADATA, 9, kafka_encode_metadata_request, &mq, &r);
    PARSE(kafka_parse_metadata_response, 9, &mo);
    bool found = false;
    for (int32_t i = 0; i < mo.ntopics; i++)
        found |= kstr_eq(mo.topics[i].name, TOPIC);
    CHECK(found, "Metadata v9 (all topics) lacks %s", TOPIC);

    /* Produce v9, acks -1 */
    struct kw batch;
    kw_init(&batch, 128);
    make_batch(&batch);
    struct produce_req_partition pp = {1, {batch.buf, (int32_t)batch.len}};
    struct produce_req_topic pt = {KSTR(TOPIC), 1, &pp};
    struct produce_req pq = {KSTR_NULL, -1, 10000, 1, &pt};
    struct produce_resp po;
    CALL(KAFKA_PRODUCE, 9, kafka_encode_produce_request, &pq, &r);
    PARSE(kafka_parse_produce_response, 9, &po);
    CHECK(po.ntopics == 1 && po.topics[0].partitions[0].error_code == 0 &&
              po.topics[0].partitions[0].base_offset == 0,
          "Produce v9 error %d", po.topics[0].partitions[0].error_code);

    /* ListOffsets v6: latest */
    struct list_offsets_req_partition lp = {1, -1, KAFKA_TIMESTAMP_LATEST, 1};
    struct list_offsets_req_topic lt = {KSTR(TOPIC), 1, &lp};
    struct list_offsets_req lq = {-1, 0, 1, &lt};
    struct list_offsets_resp lo;
    CALL(KAFKA_LIST_OFFSETS, 6, kafka_encode_list_offsets_request, &lq, &r);
    PARSE(kafka_parse_list_offsets_response, 6, &lo);
    CHECK(lo.topics[0].partitions[0].error_code == 0 && lo.topics[0].partitions[0].offset == 1,
          "ListOffsets v6 offset %lld", (long long)lo.topics[0].partitions[0].offset);

    /* Fetch v12 from 0 */
    struct fetch_req_partition fp = {1, -1, 0, -1, 1 << 20};
    struct fetch_req_topic ft = {KSTR(TOPIC), 1, &fp};
    struct fetch_req fq = {-1, 100, 1, 1 << 20, 0, 0, -1, 1, &ft, 0, NULL, KSTR("")};
    struct fetch_resp fo;
    CALL(KAFKA_FETCH, 12, kafka_encode_fetch_request, &fq, &r);
    PARSE(kafka_parse_fetch_response, 12, &fo);
    const struct fetch_resp_partition *fr = &fo.topics[0].partitions[0];
    CHECK(fo.error_code == 0 && fr->error_code == 0 && fr->high_watermark == 1,
          "Fetch v12 error %d hw %lld", fr->error_code, (long long)fr->high_watermark);
    CHECK(fr->records.len == (int32_t)batch.len &&
              memcmp(fr->records.p + 61, batch.buf + 61, batch.len - 61) == 0,
          "Fetch v12 records (%d bytes)", fr->records.len);
    kw_cleanup(&batch);

    /* InitProducerId v2 */
    struct init_producer_id_req iq = {KSTR_NULL, 60000, -1, -1};
    struct init_producer_id_resp io;
    CALL(KAFKA_INIT_PRODUCER_ID, 2, kafka_encode_init_producer_id_request, &iq, &r);
    PARSE(kafka_parse_init_producer_id_response, 2, &io);
    CHECK(io.error_code == 0 && io.producer_id >= 0 && io.producer_epoch == 0, "InitProducerId");
}

static void groups(void)
{
    struct kr r;
    /* FindCoordinator v4: two keys */
    struct kstr keys[] = {KSTR(GROUP), KSTR("other")};
    struct find_coordinator_req fcq = {KSTR_NULL, 0, 2, keys};
    struct find_coordinator_resp fco;
    CALL(KAFKA_FIND_COORDINATOR, 4, kafka_encode_find_coordinator_request, &fcq, &r);
    PARSE(kafka_parse_find_coordinator_response, 4, &fco);
    CHECK(fco.ncoordinators == 2 && kstr_eq(fco.coordinators[1].key, "other") &&
              fco.coordinators[0].error_code == 0 && fco.coordinators[0].port > 0,
          "FindCoordinator v4");

    /* JoinGroup v6: MEMBER_ID_REQUIRED, then joined as leader */
    static const uint8_t meta[] = {0,   1,   0,   0,   0,   1,   0,   10,   'f',  'l',  'e',
                                   'x', '-', 't', 'o', 'p', 'i', 'c', 0xff, 0xff, 0xff, 0xff};
    struct join_group_protocol proto = {KSTR("range"), {meta, sizeof(meta)}};
    struct join_group_req jq = {KSTR(GROUP),      10000, 20000, KSTR(""), KSTR_NULL,
                                KSTR("consumer"), 1,     &proto};
    struct join_group_resp jo;
    CALL(KAFKA_JOIN_GROUP, 6, kafka_encode_join_group_request, &jq, &r);
    PARSE(kafka_parse_join_group_response, 6, &jo);
    CHECK(jo.error_code == KAFKA_MEMBER_ID_REQUIRED && jo.member_id.len > 0, "JoinGroup v6 first");
    char member[256];
    snprintf(member, sizeof(member), "%.*s", jo.member_id.len, jo.member_id.p);
    jq.member_id = (struct kstr){member, (int32_t)strlen(member)};
    CALL(KAFKA_JOIN_GROUP, 6, kafka_encode_join_group_request, &jq, &r);
    PARSE(kafka_parse_join_group_response, 6, &jo);
    CHECK(jo.error_code == 0 && jo.generation_id >= 1 && kstr_eq(jo.leader, member) &&
              kstr_eq(jo.protocol_name, "range") && jo.nmembers == 1,
          "JoinGroup v6 error %d", jo.error_code);
    int32_t gen = jo.generation_id;

    /* SyncGroup v4 */
    static const uint8_t assign[] = {0, 1, 0, 0, 0, 0};
    struct sync_group_assignment sa = {jq.member_id, {assign, sizeof(assign)}};
    struct sync_group_req sq = {KSTR(GROUP), gen, jq.member_id, KSTR_NULL, 1, &sa};
    struct sync_group_resp so;
    CALL(KAFKA_SYNC_GROUP, 4, kafka_encode_sync_group_request, &sq, &r);
    PARSE(kafka_parse_sync_group_response, 4, &so);
    CHECK(so.error_code == 0 && so.assignment.len == (int32_t)sizeof(assign), "SyncGroup v4");

    /* Heartbeat v4 */
    struct heartbeat_req hq = {KSTR(GROUP), gen, jq.member_id, KSTR_NULL};
    struct heartbeat_resp ho;
    CALL(KAFKA_HEARTBEAT, 4, kafka_encode_heartbeat_request, &hq, &r);
    PARSE(kafka_parse_heartbeat_response, 4, &ho);
    CHECK(ho.error_code == 0, "Heartbeat v4 error %d", ho.error_code);

    /* OffsetCommit v8 */
    struct offset_commit_req_partition cp = {1, 1, -1, -1, KSTR("flex-meta")};
    struct offset_commit_req_topic ctp = {KSTR(TOPIC), 1, &cp};
    struct offset_commit_req cq = {KSTR(GROUP), gen, jq.member_id, KSTR_NULL, -1, 1, &ctp};
    struct offset_commit_resp co;
    CALL(KAFKA_OFFSET_COMMIT, 8, kafka_encode_offset_commit_request, &cq, &r);
    PARSE(kafka_parse_offset_commit_response, 8, &co);
    CHECK(co.ntopics == 1 && co.topics[0].partitions[0].error_code == 0, "OffsetCommit v8");

    /* OffsetFetch v8: this group (all its offsets: null topics) and an unknown one */
    int32_t idx[] = {1};
    struct offset_fetch_req_topic oft = {KSTR(TOPIC), 1, idx};
    struct offset_fetch_req_group ofg[] = {{KSTR(GROUP), -1, NULL}, {KSTR("nobody"), 1, &oft}};
    struct offset_fetch_req ofq = {KSTR_NULL, 0, NULL, 2, ofg, false};
    struct offset_fetch_resp ofo;
    CALL(KAFKA_OFFSET_FETCH, 8, kafka_encode_offset_fetch_request, &ofq, &r);
    PARSE(kafka_parse_offset_fetch_response, 8, &ofo);
    CHECK(ofo.ngroups == 2 && kstr_eq(ofo.groups[0].group_id, GROUP) &&
              ofo.groups[0].error_code == 0 && ofo.groups[0].ntopics == 1,
          "OffsetFetch v8 groups");
    const struct offset_fetch_resp_partition *op = &ofo.groups[0].topics[0].partitions[0];
    CHECK(op->partition_index == 1 && op->committed_offset == 1 &&
              kstr_eq(op->metadata, "flex-meta"),
          "OffsetFetch v8 committed %lld", (long long)op->committed_offset);
    CHECK(ofo.groups[1].ntopics == 1 &&
              ofo.groups[1].topics[0].partitions[0].committed_offset == -1,
          "OffsetFetch v8 unknown group");

    /* ListGroups v4: the group is Stable, not Empty */
    struct kstr stable[] = {KSTR("stable")}, empty[] = {KSTR("Empty")};
    struct list_groups_req lgq = {1, stable};
    struct list_groups_resp lgo;
    CALL(KAFKA_LIST_GROUPS, 4, kafka_encode_list_groups_request, &lgq, &r);
    PARSE(kafka_parse_list_groups_response, 4, &lgo);
    bool listed = false;
    for (int32_t i = 0; i < lgo.ngroups; i++)
        listed |=
            kstr_eq(lgo.groups[i].group_id, GROUP) && kstr_eq(lgo.groups[i].group_state, "Stable");
    CHECK(lgo.error_code == 0 && listed, "ListGroups v4 [stable] lacks %s", GROUP);
    lgq = (struct list_groups_req){1, empty};
    CALL(KAFKA_LIST_GROUPS, 4, kafka_encode_list_groups_request, &lgq, &r);
    PARSE(kafka_parse_list_groups_response, 4, &lgo);
    for (int32_t i = 0; i < lgo.ngroups; i++)
        CHECK(!kstr_eq(lgo.groups[i].group_id, GROUP), "ListGroups v4 [Empty] lists %s", GROUP);

    /* DescribeGroups v5 */
    struct kstr dg[] = {KSTR(GROUP)};
    struct describe_groups_req dq = {1, dg, false};
    struct describe_groups_resp dout;
    CALL(KAFKA_DESCRIBE_GROUPS, 5, kafka_encode_describe_groups_request, &dq, &r);
    PARSE(kafka_parse_describe_groups_response, 5, &dout);
    CHECK(dout.ngroups == 1 && kstr_eq(dout.groups[0].group_state, "Stable") &&
              dout.groups[0].nmembers == 1 &&
              kstr_eq(dout.groups[0].members[0].client_id, "flex-check"),
          "DescribeGroups v5");

    /* LeaveGroup v5, then DeleteGroups v2 of the now empty group */
    struct leave_group_member lm = {jq.member_id, KSTR_NULL, 0};
    struct leave_group_req lq = {KSTR(GROUP), 1, &lm, KSTR_NULL};
    struct leave_group_resp lo;
    CALL(KAFKA_LEAVE_GROUP, 5, kafka_encode_leave_group_request, &lq, &r);
    PARSE(kafka_parse_leave_group_response, 5, &lo);
    CHECK(lo.error_code == 0 && lo.nmembers == 1 && lo.members[0].error_code == 0, "LeaveGroup v5");
    struct delete_groups_req dlq = {1, dg};
    struct delete_groups_resp dlo;
    CALL(KAFKA_DELETE_GROUPS, 2, kafka_encode_delete_groups_request, &dlq, &r);
    PARSE(kafka_parse_delete_groups_response, 2, &dlo);
    CHECK(dlo.nresults == 1 && dlo.results[0].error_code == 0, "DeleteGroups v2 error %d",
          dlo.results[0].error_code);
}

static void admin_end(void)
{
    struct kr r;
    struct create_partitions_req_topic cpt = {KSTR(TOPIC), 3, -1, NULL};
    struct create_partitions_req cpq = {1, &cpt, 10000, false};
    struct create_partitions_resp cpo;
    CALL(KAFKA_CREATE_PARTITIONS, 3, kafka_encode_create_partitions_request, &cpq, &r);
    PARSE(kafka_parse_create_partitions_response, 3, &cpo);
    CHECK(cpo.nresults == 1 && cpo.results[0].error_code == 0, "CreatePartitions v3");
    struct kstr names[] = {KSTR(TOPIC), KSTR("never-there")};
    struct delete_topics_req dq = {2, names, 10000};
    struct delete_topics_resp dout;
    CALL(KAFKA_DELETE_TOPICS, 5, kafka_encode_delete_topics_request, &dq, &r);
    PARSE(kafka_parse_delete_topics_response, 5, &dout);
    CHECK(dout.nresponses == 2 && dout.responses[0].error_code == 0 &&
              dout.responses[1].error_code == KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
          "DeleteTopics v5");
}

int main(int argc, char **argv)
{
    int port = argc == 3 && strcmp(argv[1], "--port") == 0 ? atoi(argv[2]) : 0;
    if (port <= 0) {
        fprintf(stderr, "usage: kafka-flex-check --port PORT\n");
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    g_fd = raw_connect(&addr, "flex-check");
    if (g_fd < 0)
        return 1;
    arena_init(&g_arena, 0);
    data_path();
    groups();
    admin_end();
    arena_cleanup(&g_arena);
    close(g_fd);
    fprintf(stderr, "flex-check: every flexible version answered as expected\n");
    return 0;
}
