/*
 * tandem-mock-cluster: a three-broker Kafka cluster in one process, for the tests of
 * broker.external (docs/scale-out.md). It is librdkafka's mock cluster (rdkafka_mock.h,
 * rd_kafka_mock_cluster_new), the one multi-broker Kafka this machine has, run on its own so
 * that `tandem up` and its services reach it over TCP like any cluster.
 *
 *   tandem-mock-cluster [--brokers N] [--max-seconds S]
 *
 * It starts N brokers (default 3, ids 1..N) on 127.0.0.1, each on a free port the kernel picks,
 * prints one line "bootstrap HOST:PORT,HOST:PORT,..." on stdout and then takes one command a
 * line on stdin, answering each with one line "ok ..." or "error ...":
 *
 *   create TOPIC PARTITIONS         a topic (its replication factor is the cluster's: below)
 *   leader TOPIC PARTITION BROKER   move a partition's leader
 *   down BROKER / up BROKER         take a broker down (its listener and connections closed,
 *                                   its port kept) and bring it back
 *   coordinator group GROUP BROKER  pin a consumer group's coordinator
 *   describe TOPIC                  "ok TOPIC partitions P replicas R leaders L0,L1,..." from
 *                                   the cluster's metadata (read through a client of its own)
 *   quit                            stop (so does EOF on stdin, SIGTERM, and --max-seconds,
 *                                   default 600: a test that dies leaves nothing running long)
 *
 * What librdkafka 2.0.2's mock cluster is (src/rdkafka_mock*.c of v2.0.2), and so what a test on
 * it can judge: its brokers answer Produce, Fetch, ListOffsets, Metadata, the consumer group APIs
 * (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch),
 * InitProducerId (idempotent producers, with sequence checks) and the transaction APIs; no admin
 * API (CreateTopics, DescribeConfigs, ListGroups...). A Metadata request for an unknown topic
 * creates it with 4 partitions. Every topic's replication factor is min(3, brokers), whatever it
 * was created with. The log is one copy in memory shared by the "replicas": a broker going down
 * loses nothing and a leader move needs no catch-up, so the tests judge the clients' side of
 * failover (metadata refresh, retries, idempotence, rebalances, commits), not replication itself.
 * A partition keeps its last 100,000 records or 5 MB. A partition whose leader is down stays
 * leaderless until the broker is back or the leader is moved: no election.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* The answer to `describe TOPIC`, from the cluster's own metadata. */
static void mock_describe(rd_kafka_t *client, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(client, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(client, 0, rkt, &md, 5000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err != 0) {
        printf("error describe %s: %s\n", topic,
               rd_kafka_err2str(e != 0               ? e
                                : md->topic_cnt == 1 ? md->topics[0].err
                                                     : e));
    } else {
        const rd_kafka_metadata_topic_t *t = &md->topics[0];
        printf("ok %s partitions %d replicas %d leaders", topic, t->partition_cnt,
               t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0);
        for (int i = 0; i < t->partition_cnt; i++) {
            printf("%c%d", i == 0 ? ' ' : ',', (int)t->partitions[i].leader);
        }
        printf("\n");
    }
    if (md != NULL) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
}

/* One command line; answers on stdout. Returns 1 for quit. */
static int mock_command(rd_kafka_mock_cluster_t *mc, rd_kafka_t *client, char *line)
{
    char *argv[6] = {0};
    int argc = 0;
    for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w != NULL && argc < 6;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        argv[argc++] = w;
    }
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (argc == 0) {
        return 0;
    }
    if (strcmp(argv[0], "quit") == 0) {
        printf("ok bye\n");
        return 1;
    } else if (strcmp(argv[0], "create") == 0 && argc == 3) {
        e = rd_kafka_mock_topic_create(mc, argv[1], atoi(argv[2]), 1);
    } else if (strcmp(argv[0], "leader") == 0 && argc == 4) {
        e = rd_kafka_mock_partition_set_leader(mc, argv[1], atoi(argv[2]), atoi(argv[3]));
    } else if (strcmp(argv[0], "down") == 0 && argc == 2) {
        e = rd_kafka_mock_broker_set_down(mc, atoi(argv[1]));
    } else if (strcmp(argv[0], "up") == 0 && argc == 2) {
        e = rd_kafka_mock_broker_set_up(mc, atoi(argv[1]));
    } else if (strcmp(argv[0], "coordinator") == 0 && argc == 4) {
        e = rd_kafka_mock_coordinator_set(mc, argv[1], argv[2], atoi(argv[3]));
    } else if (strcmp(argv[0], "describe") == 0 && argc == 2) {
        mock_describe(client, argv[1]);
        return 0;
    } else {
        printf("error unknown command or wrong arguments: %s\n", argv[0]);
        return 0;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        printf("error %s: %s\n", argv[0], rd_kafka_err2str(e));
    } else {
        printf("ok %s\n", argv[0]);
    }
    return 0;
}

static rd_kafka_t *mock_client(const char *bootstrap, const char *client_id)
{
    char es[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if ((bootstrap != NULL &&
         rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, es, sizeof(es)) != 0) ||
        rd_kafka_conf_set(conf, "client.id", client_id, es, sizeof(es)) != 0 ||
        rd_kafka_conf_set(conf, "log_level", "3", es, sizeof(es)) != 0) {
        fprintf(stderr, "tandem-mock-cluster: %s\n", es);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (rk == NULL) {
        fprintf(stderr, "tandem-mock-cluster: %s\n", es);
    }
    return rk;
}

int main(int argc, char **argv)
{
    int brokers = 3, max_seconds = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            brokers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
            max_seconds = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: tandem-mock-cluster [--brokers N] [--max-seconds S]\n");
            return 2;
        }
    }
    if (brokers < 1 || brokers > 16 || max_seconds < 1) {
        fprintf(stderr, "tandem-mock-cluster: --brokers 1..16, --max-seconds >= 1\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: fgets returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)max_seconds);
    int code = 1;
    rd_kafka_t *owner = mock_client(NULL, "tandem-mock-cluster");
    rd_kafka_mock_cluster_t *mc = NULL;
    rd_kafka_t *client = NULL;
    if (owner == NULL) {
        goto fail;
    }
    mc = rd_kafka_mock_cluster_new(owner, brokers);
    if (mc == NULL) {
        fprintf(stderr, "tandem-mock-cluster: cannot start the mock cluster\n");
        goto fail;
    }
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    client = mock_client(bootstrap, "tandem-mock-cluster-describe");
    if (client == NULL) {
        goto fail;
    }
    printf("bootstrap %s\n", bootstrap);
    fflush(stdout);
    char line[1024];
    while (!stopping) {
        if (fgets(line, sizeof(line), stdin) == NULL) {
            if (ferror(stdin) && errno == EINTR && !stopping) {
                clearerr(stdin);
                continue;
            }
            break;
        }
        int quit = mock_command(mc, client, line);
        fflush(stdout);
        if (quit) {
            break;
        }
    }
    code = 0;
fail:
    if (client != NULL) {
        rd_kafka_destroy(client);
    }
    if (mc != NULL) {
        rd_kafka_mock_cluster_destroy(mc);
    }
    if (owner != NULL) {
        rd_kafka_destroy(owner);
    }
    return code;
}
