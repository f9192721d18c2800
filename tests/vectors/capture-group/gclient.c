/*
 * gclient: a librdkafka high-level consumer for the consumer-group captures in
 * tests/vectors/group (a dev tool, not part of the build; capture.sh compiles and runs it).
 *
 *   gclient BOOTSTRAP TOPIC GROUP N [INSTANCE_ID]
 *
 * Subscribes to TOPIC in GROUP (enable.auto.commit=false, heartbeats every 500 ms), reads N
 * messages, commits their offsets synchronously with rd_kafka_commit, polls for two more
 * seconds so heartbeats are sent, and closes (LeaveGroup for a dynamic member; a static member,
 * INSTANCE_ID given, leaves without one). Talks to 127.0.0.1 only; stops within ~30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "gclient: %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    char err[256];
    if (argc < 5) {
        fprintf(stderr, "usage: gclient BOOTSTRAP TOPIC GROUP N [INSTANCE_ID]\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "client.id", "tandem-group-capture");
    set(conf, "group.id", argv[3]);
    set(conf, "enable.auto.commit", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "heartbeat.interval.ms", "500");
    set(conf, "session.timeout.ms", "6000");
    if (argc >= 6)
        set(conf, "group.instance.id", argv[5]);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "gclient: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);

    int want = atoi(argv[4]), got = 0, committed = 0;
    for (int i = 0; i < 250 && got < want; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err)
            got++;
        rd_kafka_message_destroy(m);
    }
    if (got > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        committed = e == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!committed)
            fprintf(stderr, "gclient: commit: %s\n", rd_kafka_err2str(e));
    }
    for (int i = 0; i < 20; i++) { /* two seconds of heartbeats */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    fprintf(stderr, "gclient: consumed %d, committed %d\n", got, committed);
    return got == want && committed ? 0 : 1;
}
