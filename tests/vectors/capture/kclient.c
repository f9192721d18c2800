/*
 * kclient: drives librdkafka for the frame captures in tests/vectors (a dev tool, not part of
 * the build; tests/vectors/capture/capture.sh compiles and runs it).
 *
 *   kclient mock TOPIC PARTITIONS [KEY:MIN:MAX ...]   run librdkafka's mock cluster (1 broker,
 *                                                     127.0.0.1), print "BOOTSTRAP host:port",
 *                                                     run until SIGTERM; KEY:MIN:MAX caps the
 *                                                     versions the mock advertises
 *   kclient produce BOOTSTRAP TOPIC ACKS CODEC [idempotent]
 *                                                     5 keyed messages to partition 0, flush
 *   kclient consume BOOTSTRAP TOPIC PARTITION N       assign at the beginning, read N messages
 *   kclient admin BOOTSTRAP TOPIC                     CreateTopics (3 partitions, one config)
 *                                                     then DeleteTopics
 *   kclient partitions BOOTSTRAP TOPIC                CreatePartitions to 3 (no assignment),
 *                                                     then to 5 with both new partitions on
 *                                                     broker 1, validate-only
 *
 * Everything talks to 127.0.0.1 only and stops by itself (timeouts of a few seconds).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kclient: %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static rd_kafka_t *make(rd_kafka_type_t type, const char *bootstrap, rd_kafka_conf_t *conf)
{
    char err[256];
    if (bootstrap)
        set(conf, "bootstrap.servers", bootstrap);
    set(conf, "client.id", "tandem-capture");
    if (getenv("KCLIENT_DEBUG"))
        set(conf, "debug", getenv("KCLIENT_DEBUG"));
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kclient: rd_kafka_new: %s\n", err);
        exit(2);
    }
    return rk;
}

static int run_mock(int argc, char **argv)
{
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, NULL, rd_kafka_conf_new());
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc)
        return 1;
    rd_kafka_mock_topic_create(mc, argv[2], atoi(argv[3]), 1);
    for (int i = 4; i < argc; i++) {
        int key, lo, hi;
        if (sscanf(argv[i], "%d:%d:%d", &key, &lo, &hi) == 3)
            rd_kafka_mock_set_apiversion(mc, (int16_t)key, (int16_t)lo, (int16_t)hi);
    }
    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (int i = 0; i < 600 && !stop; i++) /* at most a minute */
        usleep(100 * 1000);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

static int run_produce(char **argv, int idempotent)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "acks", argv[4]);
    set(conf, "compression.codec", argv[5]);
    set(conf, "linger.ms", "50");
    if (idempotent)
        set(conf, "enable.idempotence", "true");
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, argv[2], conf);
    for (int i = 0; i < 5; i++) {
        char key[16], val[64];
        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(val, sizeof(val), "value-%d hello tandem hello tandem", i);
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[3]), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)),
                              RD_KAFKA_V_HEADER("h", "v", 1),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err)
            fprintf(stderr, "kclient: produce: %s\n", rd_kafka_err2str(err));
    }
    int left = rd_kafka_flush(rk, 10000) ? 1 : 0;
    rd_kafka_destroy(rk);
    return left;
}

static int run_consume(char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "group.id", "tandem-capture");
    set(conf, "enable.auto.commit", "false");
    rd_kafka_t *rk = make(RD_KAFKA_CONSUMER, argv[2], conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, argv[3], atoi(argv[4]))->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    int want = atoi(argv[5]), got = 0;
    for (int i = 0; i < 100 && got < want; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err)
            got++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    fprintf(stderr, "kclient: consumed %d\n", got);
    return got == want ? 0 : 1;
}

static void admin_wait(rd_kafka_queue_t *q)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
    if (!ev) {
        fprintf(stderr, "kclient: admin: timed out\n");
        return;
    }
    if (rd_kafka_event_error(ev))
        fprintf(stderr, "kclient: admin: %s\n", rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
}

static int run_admin(char **argv)
{
    char err[256];
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, argv[2], rd_kafka_conf_new());
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);

    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(argv[3], 3, 1, err, sizeof(err));
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    admin_wait(q);
    rd_kafka_NewTopic_destroy(nt);

    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(argv[3]);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    admin_wait(q);
    rd_kafka_DeleteTopic_destroy(dt);

    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return 0;
}

static int run_partitions(char **argv)
{
    char err[256];
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, argv[2], rd_kafka_conf_new());
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);

    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(argv[3], 3, err, sizeof(err));
    rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
    admin_wait(q);
    rd_kafka_NewPartitions_destroy(np);

    int32_t broker1[] = {1};
    np = rd_kafka_NewPartitions_new(argv[3], 5, err, sizeof(err));
    rd_kafka_NewPartitions_set_replica_assignment(np, 0, broker1, 1, err, sizeof(err));
    rd_kafka_NewPartitions_set_replica_assignment(np, 1, broker1, 1, err, sizeof(err));
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    rd_kafka_AdminOptions_set_validate_only(opt, 1, err, sizeof(err));
    rd_kafka_CreatePartitions(rk, &np, 1, opt, q);
    admin_wait(q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewPartitions_destroy(np);

    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "mock"))
        return run_mock(argc, argv);
    if (argc >= 6 && !strcmp(argv[1], "produce"))
        return run_produce(argv, argc >= 7 && !strcmp(argv[6], "idempotent"));
    if (argc >= 6 && !strcmp(argv[1], "consume"))
        return run_consume(argv);
    if (argc >= 4 && !strcmp(argv[1], "admin"))
        return run_admin(argv);
    if (argc >= 4 && !strcmp(argv[1], "partitions"))
        return run_partitions(argv);
    fprintf(stderr, "usage: see the comment at the top of kclient.c\n");
    return 2;
}
