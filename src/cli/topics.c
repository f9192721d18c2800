/*
 * topics.c: the topics of an external Kafka cluster (broker.external), made ready before `up`
 * starts a service.
 *
 * Model. With broker.external, tandem runs no broker; the cluster decides what a topic looks like
 * when a client's first use auto-creates it (its num.partitions and default.replication.factor,
 * one copy in a stock Kafka), or refuses unknown topics (auto.create.topics.enable=false, usual in
 * production). So `up` creates the manifest's broker.topics itself, through the Admin API
 * (CreateTopics, KIP-4), with broker.partitions partitions and broker.replication_factor copies:
 * by default min(3, the brokers the cluster's metadata lists), three being the usual production
 * figure and a smaller cluster taking what it has. Each created topic gets min.insync.replicas 2
 * when it has 3 copies or more (1 otherwise): the services produce with acks=all, so an
 * acknowledged record is then on two brokers at least, and one broker down stops no write.
 *
 * Topics that exist already are left as they are (Kafka changes no replication factor in place);
 * a different replication factor or fewer partitions than asked is logged, not refused. A cluster
 * whose controller does not take CreateTopics (too old a Kafka: librdkafka says
 * _UNSUPPORTED_FEATURE) leaves a missing topic to its auto-creation, logged as such. A cluster
 * with no controller at all (librdkafka's mock cluster of 2.0.2 names broker 0, which it does not
 * have, and answers no admin API) makes CreateTopics wait for one until the deadline: `up` fails,
 * saying to create the topics beforehand (tandem-mock-cluster's `create`).
 *
 * All of it is synchronous, bounded by the caller's timeout: it runs before any process starts.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/supervisor.h"
#include "common/clock.h"
#include "common/mem.h"
#include "tandem/error.h"

/* librdkafka's own complaints (connection refused while the cluster starts...) into the
 * supervisor's log, errors only. */
static void topics_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3) {
        sup_log("kafka: %s: %s", fac, buf);
    }
}

static const rd_kafka_metadata_topic_t *md_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, name) == 0 && md->topics[i].err == 0) {
            return &md->topics[i];
        }
    }
    return NULL;
}

/* The cluster's metadata (every topic), retried until the deadline: the cluster may still be
 * starting. 0 and *out (rd_kafka_metadata_destroy), or TANDEM_ETIMEDOUT. */
static int topics_metadata(rd_kafka_t *rk, int64_t deadline, const rd_kafka_metadata_t **out)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            return TANDEM_ETIMEDOUT;
        }
        e = rd_kafka_metadata(rk, 1, NULL, out, (int)(left < 5000 ? left : 5000));
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (*out)->broker_cnt > 0) {
            return 0;
        }
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_metadata_destroy(*out);
        }
        *out = NULL;
        /* an error that came back at once (no broker resolved yet...) is not retried in a spin */
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* CreateTopics for names[0..n), waited for until the deadline. Each topic's outcome is logged;
 * returns 0 (created, already there, or left to auto-creation), TANDEM_EINVAL (the cluster
 * refused one: the message in err), TANDEM_ETIMEDOUT. */
static int topics_create(rd_kafka_t *rk, char **names, size_t n, int partitions, int rf,
                         int64_t deadline, char *err, size_t err_len)
{
    char es[256];
    char isr[4];
    snprintf(isr, sizeof(isr), "%d", rf >= 3 ? 2 : 1);
    rd_kafka_NewTopic_t **nt = xcalloc(n, sizeof(*nt));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    int rc = 0;
    int64_t left = deadline - clock_mono_ms();
    if (left <= 0) {
        rc = TANDEM_ETIMEDOUT;
        goto fail;
    }
    rd_kafka_AdminOptions_set_request_timeout(o, (int)left, es, sizeof(es));
    rd_kafka_AdminOptions_set_operation_timeout(o, (int)left, es, sizeof(es));
    for (size_t i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(names[i], partitions, rf, es, sizeof(es));
        if (nt[i] == NULL || rd_kafka_NewTopic_set_config(nt[i], "min.insync.replicas", isr) != 0) {
            snprintf(err, err_len, "topic %s: %s", names[i], nt[i] == NULL ? es : "config");
            rc = TANDEM_EINVAL;
            goto fail;
        }
    }
    rd_kafka_CreateTopics(rk, nt, n, o, q);
    ev = rd_kafka_queue_poll(q, (int)left + 1000);
    if (ev == NULL) {
        rc = TANDEM_ETIMEDOUT;
        goto fail;
    }
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
        for (size_t i = 0; i < n; i++) {
            sup_log("broker: topic %s: the cluster takes no CreateTopics (%s); left to its "
                    "auto-creation",
                    names[i], rd_kafka_event_error_string(ev));
        }
        goto fail;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "CreateTopics: %s", rd_kafka_event_error_string(ev));
        rc = e == RD_KAFKA_RESP_ERR__TIMED_OUT ? TANDEM_ETIMEDOUT : TANDEM_EINVAL;
        goto fail;
    }
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
        const char *name = rd_kafka_topic_result_name(res[i]);
        if (te == RD_KAFKA_RESP_ERR_NO_ERROR) {
            sup_log("broker: topic %s created: %d partition(s), replication factor %d, "
                    "min.insync.replicas %s",
                    name, partitions, rf, isr);
        } else if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            sup_log("broker: topic %s: created meanwhile by another client", name);
        } else {
            snprintf(err, err_len,
                     "cannot create topic %s (%d partition(s), replication factor "
                     "%d): %s",
                     name, partitions, rf, rd_kafka_topic_result_error_string(res[i]));
            rc = TANDEM_EINVAL;
        }
    }
fail:
    if (ev != NULL) {
        rd_kafka_event_destroy(ev);
    }
    for (size_t i = 0; i < n; i++) {
        if (nt[i] != NULL) {
            rd_kafka_NewTopic_destroy(nt[i]);
        }
    }
    free(nt);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

int sup_topics_ensure(const struct cli_broker *b, int timeout_ms, char *err, size_t err_len)
{
    char es[512];
    int64_t deadline = clock_mono_ms() + timeout_ms;
    const rd_kafka_metadata_t *md = NULL;
    char **missing = NULL;
    size_t n_missing = 0;
    int rc = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", b->external, es, sizeof(es)) != 0 ||
        rd_kafka_conf_set(conf, "client.id", "tandem-up", es, sizeof(es)) != 0) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, err_len, "broker.external: %s", es);
        return TANDEM_EINVAL;
    }
    rd_kafka_conf_set_log_cb(conf, topics_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (rk == NULL) {
        snprintf(err, err_len, "broker.external: %s", es);
        return TANDEM_EIO;
    }
    rc = topics_metadata(rk, deadline, &md);
    if (rc != 0) {
        snprintf(err, err_len, "the external broker %s did not answer within %d s", b->external,
                 timeout_ms / 1000);
        goto fail;
    }
    int rf = b->replication_factor > 0 ? b->replication_factor
                                       : (md->broker_cnt < 3 ? md->broker_cnt : 3);
    sup_log("broker: external %s: %d broker(s); topics get %d partition(s), replication factor %d",
            b->external, md->broker_cnt, b->partitions, rf);
    if (rf > md->broker_cnt) {
        snprintf(err, err_len,
                 "broker.replication_factor %d needs %d brokers; the cluster at %s has %d", rf, rf,
                 b->external, md->broker_cnt);
        rc = TANDEM_EINVAL;
        goto fail;
    }
    missing = xcalloc(b->n_topics + 1, sizeof(*missing));
    for (size_t i = 0; i < b->n_topics; i++) {
        const rd_kafka_metadata_topic_t *t = md_topic(md, b->topics[i]);
        if (t == NULL) {
            missing[n_missing++] = b->topics[i];
            continue;
        }
        int copies = t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0;
        sup_log("broker: topic %s exists: %d partition(s), replication factor %d%s", t->topic,
                t->partition_cnt, copies,
                copies != rf || t->partition_cnt < b->partitions
                    ? " (not what the manifest asks: tandem changes no existing topic)"
                    : "");
    }
    if (n_missing > 0) {
        rc = topics_create(rk, missing, n_missing, b->partitions, rf, deadline, err, err_len);
        if (rc == TANDEM_ETIMEDOUT) {
            snprintf(err, err_len,
                     "the external broker %s did not create the topics within %d s (a cluster "
                     "with no controller, as librdkafka's mock cluster, never does: create them "
                     "beforehand)",
                     b->external, timeout_ms / 1000);
        }
    }
fail:
    free(missing);
    if (md != NULL) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return rc;
}
