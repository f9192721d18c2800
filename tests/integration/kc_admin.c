/*
 * kafka-check admin: CreateTopics, DeleteTopics and CreatePartitions through librdkafka's Admin
 * API, and the Metadata view of a topic (all-topics Metadata, which never auto-creates anything).
 *
 *   admin create -p N [-c key=value]... [--expect NAME]   CreateTopics, replication factor 1
 *   admin delete [--expect NAME]                          DeleteTopics
 *   admin partitions -p TOTAL [--validate-only] [--assign A] [--expect NAME]
 *                                                         CreatePartitions to TOTAL partitions;
 *                                                         A lists each new partition's brokers,
 *                                                         partitions split by '/', brokers by ','
 *                                                         ("0/0": two new partitions on node 0)
 *   admin exists [-p N]                                   listed, no error (and N partitions)
 *   admin absent                                          not listed
 *
 * --expect names the Kafka error the topic's result must carry (librdkafka's name without the
 * RD_KAFKA_RESP_ERR_ prefix, e.g. TOPIC_ALREADY_EXISTS); without it the result must be
 * NO_ERROR. The request-level result (timeouts, transport) must always succeed.
 */
#include "kafka_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kc_admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct kc_opts *o,
                         rd_kafka_event_type_t type)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, o->timeout_s * 1000);
    int rc = -1;
    if (!ev) {
        fprintf(stderr, "kafka-check: admin: no result within %d s\n", o->timeout_s);
        return -1;
    }
    if (rd_kafka_event_type(ev) != type) {
        fprintf(stderr, "kafka-check: admin: unexpected event %s: %s\n", rd_kafka_event_name(ev),
                rd_kafka_event_error_string(ev));
        goto fail;
    }
    if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "kafka-check: admin request failed: %s: %s\n",
                rd_kafka_err2name(rd_kafka_event_error(ev)), rd_kafka_event_error_string(ev));
        goto fail;
    }
    const rd_kafka_topic_result_t **res;
    size_t n = 0;
    if (type == RD_KAFKA_EVENT_CREATETOPICS_RESULT)
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    else if (type == RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT)
        res =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
    else
        res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    if (n != 1 || strcmp(rd_kafka_topic_result_name(res[0]), o->topic) != 0) {
        fprintf(stderr, "kafka-check: admin: %zu topic results, want 1 for %s\n", n, o->topic);
        goto fail;
    }
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[0]);
    const char *want = o->expect ? o->expect : "NO_ERROR";
    const char *got = rd_kafka_err2name(err);
    const char *msg = rd_kafka_topic_result_error_string(res[0]);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "kafka-check: %s %s: got %s (%d) \"%s\", want %s\n",
                rd_kafka_event_name(ev), o->topic, got, (int)err, msg ? msg : "", want);
        goto fail;
    }
    fprintf(stderr, "kafka-check: %s %s: %s as expected%s%s\n", rd_kafka_event_name(ev), o->topic,
            got, msg ? ": " : "", msg ? msg : "");
    rc = 0;
fail:
    rd_kafka_event_destroy(ev);
    return rc;
}

static rd_kafka_AdminOptions_t *kc_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                                 const struct kc_opts *o)
{
    char err[512];
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(opt, o->timeout_s * 1000, err, sizeof(err));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        rd_kafka_AdminOptions_set_operation_timeout(opt, 10000, err, sizeof(err));
    if (o->validate_only)
        kc_die_if(rd_kafka_AdminOptions_set_validate_only(opt, 1, err, sizeof(err)),
                  "set_validate_only: %s", err);
    return opt;
}

static int kc_admin_create(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct kc_opts *o)
{
    char err[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(o->topic, o->partitions > 0 ? o->partitions : 1, 1, err, sizeof(err));
    kc_die_if(!nt, "NewTopic: %s", err);
    for (int i = 0; i < o->nconfigs; i++) {
        char kv[512];
        snprintf(kv, sizeof(kv), "%s", o->configs[i]);
        char *eq = strchr(kv, '=');
        kc_die_if(!eq, "-c wants key=value, got %s", o->configs[i]);
        *eq = '\0';
        kc_die_if(rd_kafka_NewTopic_set_config(nt, kv, eq + 1) != RD_KAFKA_RESP_ERR_NO_ERROR,
                  "NewTopic_set_config %s", o->configs[i]);
    }
    rd_kafka_AdminOptions_t *opt = kc_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, o);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    int rc = kc_admin_wait(rk, q, o, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static int kc_admin_delete(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct kc_opts *o)
{
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(o->topic);
    rd_kafka_AdminOptions_t *opt = kc_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, o);
    rd_kafka_DeleteTopics(rk, &dt, 1, opt, q);
    int rc = kc_admin_wait(rk, q, o, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_DeleteTopic_destroy(dt);
    return rc;
}

static int kc_admin_partitions(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct kc_opts *o)
{
    char err[512];
    rd_kafka_NewPartitions_t *np =
        rd_kafka_NewPartitions_new(o->topic, (size_t)o->partitions, err, sizeof(err));
    kc_die_if(!np, "NewPartitions: %s", err);
    if (o->assign) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", o->assign);
        int idx = 0;
        for (char *save = NULL, *part = strtok_r(buf, "/", &save); part;
             part = strtok_r(NULL, "/", &save), idx++) {
            int32_t ids[16];
            size_t n = 0;
            for (char *s2 = NULL, *id = strtok_r(part, ",", &s2); id && n < 16;
                 id = strtok_r(NULL, ",", &s2))
                ids[n++] = (int32_t)atoi(id);
            kc_die_if(rd_kafka_NewPartitions_set_replica_assignment(
                          np, idx, ids, n, err, sizeof(err)) != RD_KAFKA_RESP_ERR_NO_ERROR,
                      "set_replica_assignment %d: %s", idx, err);
        }
    }
    rd_kafka_AdminOptions_t *opt = kc_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, o);
    rd_kafka_CreatePartitions(rk, &np, 1, opt, q);
    int rc = kc_admin_wait(rk, q, o, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewPartitions_destroy(np);
    return rc;
}

/* All-topics Metadata: want_present says whether the topic must be listed. */
static int kc_admin_listed(rd_kafka_t *rk, const struct kc_opts *o, bool want_present)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, o->timeout_s * 1000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka-check: Metadata: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    int rc = -1;
    const struct rd_kafka_metadata_topic *t = NULL;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, o->topic) == 0)
            t = &md->topics[i];
    if (md->broker_cnt != 1 || md->brokers[0].id != 0) {
        fprintf(stderr, "kafka-check: Metadata lists %d brokers (first id %d), want node 0 only\n",
                md->broker_cnt, md->broker_cnt ? md->brokers[0].id : -1);
        goto fail;
    }
    if (!want_present) {
        if (t) {
            fprintf(stderr, "kafka-check: topic %s is still listed (%d partitions, %s)\n", o->topic,
                    t->partition_cnt, rd_kafka_err2name(t->err));
            goto fail;
        }
        fprintf(stderr, "kafka-check: topic %s is not listed, as expected\n", o->topic);
        rc = 0;
        goto fail;
    }
    if (!t || t->err) {
        fprintf(stderr, "kafka-check: topic %s %s\n", o->topic,
                t ? rd_kafka_err2name(t->err) : "is not listed");
        goto fail;
    }
    if (o->partitions > 0 && t->partition_cnt != o->partitions) {
        fprintf(stderr, "kafka-check: topic %s has %d partitions, want %d\n", o->topic,
                t->partition_cnt, o->partitions);
        goto fail;
    }
    for (int p = 0; p < t->partition_cnt; p++) {
        const struct rd_kafka_metadata_partition *mp = &t->partitions[p];
        if (mp->id != p || mp->leader != 0 || mp->err) {
            fprintf(stderr, "kafka-check: %s partition %d: id %d leader %d error %s\n", o->topic, p,
                    mp->id, mp->leader, rd_kafka_err2name(mp->err));
            goto fail;
        }
    }
    fprintf(stderr, "kafka-check: topic %s is listed with %d partitions, leader 0\n", o->topic,
            t->partition_cnt);
    rc = 0;
fail:
    rd_kafka_metadata_destroy(md);
    return rc;
}

int kc_cmd_admin(const struct kc_opts *o, const char *action)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc_conf(o), err, sizeof(err));
    kc_die_if(!rk, "rd_kafka_new: %s", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int rc = -1;
    if (strcmp(action, "create") == 0)
        rc = kc_admin_create(rk, q, o);
    else if (strcmp(action, "delete") == 0)
        rc = kc_admin_delete(rk, q, o);
    else if (strcmp(action, "partitions") == 0)
        rc = kc_admin_partitions(rk, q, o);
    else if (strcmp(action, "exists") == 0)
        rc = kc_admin_listed(rk, o, true);
    else if (strcmp(action, "absent") == 0)
        rc = kc_admin_listed(rk, o, false);
    else
        fprintf(stderr, "kafka-check: unknown admin action %s\n", action);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}
