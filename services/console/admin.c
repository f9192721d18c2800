/*
 * The broker as Kafka UIs show it, through librdkafka's admin API (Debian 12's 2.0.2) and a
 * consumer of the console's own: the consumer groups (members, assignments, committed offsets),
 * resetting a group's offsets, and reading a topic's records from an offset or a time.
 *
 * What goes over the wire, and what tandem-broker answers it with (docs/broker.md):
 *
 *   rd_kafka_ListConsumerGroups        ListGroups v2 (no state filter: that is v4)
 *   rd_kafka_DescribeConsumerGroups    FindCoordinator, DescribeGroups v4 (members' assignments)
 *   rd_kafka_ListConsumerGroupOffsets  OffsetFetch v5 with no partition list: all the group's
 *                                      committed offsets (one group per call: 2.0.2's limit)
 *   rd_kafka_AlterConsumerGroupOffsets OffsetCommit v7 with generation -1, no member id and no
 *                                      instance id: Kafka's "simple" commit, which a coordinator
 *                                      accepts only for a group without members
 *                                      (UNKNOWN_MEMBER_ID otherwise), as tandem-broker does
 *   rd_kafka_query_watermark_offsets,  ListOffsets (earliest, latest, by timestamp)
 *   rd_kafka_offsets_for_times
 *
 * Every call here blocks its thread until its answer or its timeout: the poller's thread (the
 * groups, once a second) or a pool thread (a reset, a browse). The browse consumer is one
 * librdkafka handle shared by every browse, one at a time (browse_mu): assigned the partitions
 * at their start offsets, read up to the ends they had when the browse began, unassigned.
 *
 * The admin handle is replaced after a coordinator call timed out (DescribeConsumerGroups,
 * ListConsumerGroupOffsets, AlterConsumerGroupOffsets). In librdkafka 2.0.2 such a call waits for
 * its group's coordinator in a coordinator request (rdkafka_coord.c) that outlives the call's
 * timeout: its own timeout is never checked. When the coordinator comes back (the broker
 * restarted), the request finds its admin call gone, releases the call's enqueue-once object,
 * fails, and releases it again from the failure's response callback: the assertion
 * `eonce->refcnt > 0` in rd_kafka_enq_once_del_source_return aborts the process. A call made
 * while the broker is down, the broker back a few seconds later, was enough (the console died
 * once in system-chaos-pg). Destroying the handle instead fails the waiting requests on the
 * terminating path, which releases the object once. So the call that saw the timeout marks the
 * handle stale, and the last call to give the handle back replaces it at once, while the broker
 * is still away; a call that finds it stale replaces it before going on (rk_lock: calls hold it
 * shared, the swap exclusively).
 */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "tandem/service.h"

#define BROWSE_VALUE    (64 * 1024) /* value bytes per record in a browse */
#define BROWSE_WAIT_MS  3000
#define ADMIN_LOOKUP_MS 2000

struct admin {
    /* admin requests (a producer handle: it never produces); under rk_lock: shared to use it,
     * exclusive to replace it */
    rd_kafka_t *rk;
    pthread_rwlock_t rk_lock;
    atomic_bool stale;            /* a coordinator call on rk timed out: replace rk */
    atomic_uint_fast64_t renewed; /* times rk was replaced (the log says each) */
    char *brokers;
    rd_kafka_t *browse; /* the topic browser's consumer */
    pthread_mutex_t browse_mu;
};

/* librdkafka's own warnings and errors as the service's JSON log lines. */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level > 4) {
        return; /* notices and below: librdkafka's chatter */
    }
    json_t *d = json_string(buf);
    char *detail = d != NULL ? json_dumps(d, JSON_ENCODE_ANY) : NULL;
    tandem_log_warn(NULL, "rdkafka", "\"client\":\"%s\",\"fac\":\"%.32s\",\"detail\":%s",
                    rd_kafka_name(rk), fac, detail != NULL ? detail : "null");
    free(detail);
    json_decref(d);
}

rd_kafka_conf_t *console_kafka_conf(const char *brokers, const char *client_id, char *err,
                                    size_t err_len);

rd_kafka_conf_t *console_kafka_conf(const char *brokers, const char *client_id, char *err,
                                    size_t err_len)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *set[][2] = {
        {"bootstrap.servers", brokers},
        {"client.id", client_id},
        {"log.connection.close", "false"},
    };
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
        if (rd_kafka_conf_set(conf, set[i][0], set[i][1], err, err_len) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    return conf;
}

/* A new admin handle, or NULL. */
static rd_kafka_t *admin_handle(const char *brokers)
{
    char err[512];
    rd_kafka_conf_t *conf = console_kafka_conf(brokers, "tandem-console-admin", err, sizeof(err));
    rd_kafka_t *rk = conf != NULL ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)) : NULL;
    if (rk == NULL && conf != NULL) {
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Replaces a stale admin handle: waiting for the calls in flight (wait), or only when none is. */
static void renew(struct admin *a, bool wait)
{
    if (wait ? pthread_rwlock_wrlock(&a->rk_lock) != 0
             : pthread_rwlock_trywrlock(&a->rk_lock) != 0) {
        return; /* a call is in flight: its release or the next hold renews */
    }
    rd_kafka_t *fresh = atomic_load(&a->stale) ? admin_handle(a->brokers) : NULL;
    /* without a new one the old one serves on, and the next call tries again */
    if (fresh != NULL) {
        rd_kafka_destroy(a->rk); /* fails the coordinator requests still waiting */
        a->rk = fresh;
        atomic_store(&a->stale, false);
        uint64_t n = atomic_fetch_add(&a->renewed, 1) + 1;
        tandem_log_info(NULL, "console: admin client replaced after a coordinator timeout",
                        "\"times\":%llu", (unsigned long long)n);
    }
    pthread_rwlock_unlock(&a->rk_lock);
}

/* Takes the admin handle for a call (shared), replacing it first when it is stale. */
static void admin_hold(struct admin *a)
{
    if (atomic_load(&a->stale)) {
        renew(a, true);
    }
    pthread_rwlock_rdlock(&a->rk_lock);
}

/* Gives the handle back; the last call out replaces it at once when a call made it stale, so
 * that no coordinator request is left waiting for the broker to come back. */
static void admin_release(struct admin *a)
{
    pthread_rwlock_unlock(&a->rk_lock);
    if (atomic_load(&a->stale)) {
        renew(a, false);
    }
}

/* Marks the handle stale when a coordinator call ended in a timeout (see the top). */
static void coordinator_outcome(struct admin *a, rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        atomic_store(&a->stale, true);
    }
}

int admin_new(const char *brokers, struct admin **out)
{
    char err[512];
    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return TANDEM_ENOMEM;
    }
    pthread_mutex_init(&a->browse_mu, NULL);
    pthread_rwlock_init(&a->rk_lock, NULL);
    a->brokers = strdup(brokers);
    a->rk = a->brokers != NULL ? admin_handle(brokers) : NULL;
    rd_kafka_conf_t *conf = console_kafka_conf(brokers, "tandem-console-browse", err, sizeof(err));
    const char *set[][2] = {
        {"group.id", "tandem-console-browse"}, /* never joined, never committed */
        {"enable.auto.commit", "false"},       {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},      {"queued.max.messages.kbytes", "4096"},
    };
    for (size_t i = 0; conf != NULL && i < sizeof(set) / sizeof(set[0]); i++) {
        if (rd_kafka_conf_set(conf, set[i][0], set[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            conf = NULL;
        }
    }
    a->browse = conf != NULL ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)) : NULL;
    if (a->browse == NULL && conf != NULL) {
        rd_kafka_conf_destroy(conf);
    }
    if (a->rk == NULL || a->browse == NULL) {
        tandem_log_error(NULL, "console: cannot make the admin client", NULL);
        admin_free(a);
        return TANDEM_EIO;
    }
    rd_kafka_poll_set_consumer(a->browse);
    *out = a;
    return 0;
}

void admin_free(struct admin *a)
{
    if (a == NULL) {
        return;
    }
    if (a->browse != NULL) {
        rd_kafka_consumer_close(a->browse);
        rd_kafka_destroy(a->browse);
    }
    if (a->rk != NULL) {
        rd_kafka_destroy(a->rk);
    }
    pthread_rwlock_destroy(&a->rk_lock);
    pthread_mutex_destroy(&a->browse_mu);
    free(a->brokers);
    free(a);
}

/* Waits for the result event of an admin call on q; NULL with err set on timeout or error. A
 * coordinator call's timeout (coord: true) marks the handle stale. */
static rd_kafka_event_t *admin_wait(struct admin *a, bool coord, rd_kafka_queue_t *q,
                                    int timeout_ms, char *err, size_t err_len)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (ev == NULL) {
        if (coord) {
            coordinator_outcome(a, RD_KAFKA_RESP_ERR__TIMED_OUT);
        }
        snprintf(err, err_len, "the broker did not answer within %d ms", timeout_ms);
        return NULL;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (coord) {
            coordinator_outcome(a, rd_kafka_event_error(ev));
        }
        snprintf(err, err_len, "%s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *options(struct admin *a, rd_kafka_admin_op_t op, int timeout_ms)
{
    char e[128];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(a->rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, e, sizeof(e));
    return o;
}

/* The groups' names (a JSON array of strings), or NULL. */
static json_t *list_groups(struct admin *a, rd_kafka_queue_t *q, int timeout_ms, char *err,
                           size_t err_len)
{
    rd_kafka_AdminOptions_t *o = options(a, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout_ms);
    rd_kafka_ListConsumerGroups(a->rk, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_event_t *ev = admin_wait(a, false, q, timeout_ms, err, err_len);
    if (ev == NULL) {
        return NULL;
    }
    size_t n = 0;
    const rd_kafka_ConsumerGroupListing_t **gl =
        rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(ev), &n);
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(names, json_string(rd_kafka_ConsumerGroupListing_group_id(gl[i])));
    }
    rd_kafka_event_destroy(ev);
    return names;
}

static json_t *partitions_json(const rd_kafka_topic_partition_list_t *l, bool offsets)
{
    json_t *a = json_array();
    for (int i = 0; l != NULL && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        json_t *o = json_pack("{s:s,s:i}", "topic", p->topic, "partition", p->partition);
        if (offsets) {
            json_object_set_new(o, "committed", json_integer(p->offset));
            if (p->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                json_object_set_new(o, "error", json_string(rd_kafka_err2name(p->err)));
            }
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* Descriptions of `names` (state, members, assignments): a JSON array, or NULL. */
static json_t *describe(struct admin *a, rd_kafka_queue_t *q, json_t *names, int timeout_ms,
                        char *err, size_t err_len)
{
    size_t n = json_array_size(names);
    const char **ids = calloc(n + 1, sizeof(*ids));
    if (ids == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = json_string_value(json_array_get(names, i));
    }
    rd_kafka_AdminOptions_t *o = options(a, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms);
    rd_kafka_DescribeConsumerGroups(a->rk, ids, n, o, q);
    rd_kafka_AdminOptions_destroy(o);
    free(ids);
    rd_kafka_event_t *ev = admin_wait(a, true, q, timeout_ms, err, err_len);
    if (ev == NULL) {
        return NULL;
    }
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    json_t *out = json_array();
    for (size_t i = 0; i < cnt; i++) {
        const rd_kafka_ConsumerGroupDescription_t *d = gd[i];
        const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d);
        const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
        json_t *g = json_pack(
            "{s:s,s:s,s:b,s:s}", "group", rd_kafka_ConsumerGroupDescription_group_id(d), "state",
            rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d)),
            "simple", rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(d), "assignor",
            assignor != NULL ? assignor : "");
        if (e != NULL) {
            coordinator_outcome(a, rd_kafka_error_code(e));
            json_object_set_new(g, "error", json_string(rd_kafka_error_string(e)));
        }
        json_t *members = json_array();
        size_t m = rd_kafka_ConsumerGroupDescription_member_count(d);
        for (size_t j = 0; j < m; j++) {
            const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, j);
            const char *inst = rd_kafka_MemberDescription_group_instance_id(md);
            const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(md);
            json_t *mj = json_pack(
                "{s:s,s:s,s:s,s:o}", "member_id", rd_kafka_MemberDescription_consumer_id(md),
                "client_id", rd_kafka_MemberDescription_client_id(md), "host",
                rd_kafka_MemberDescription_host(md), "assignment",
                partitions_json(as != NULL ? rd_kafka_MemberAssignment_partitions(as) : NULL,
                                false));
            if (inst != NULL) {
                json_object_set_new(mj, "instance_id", json_string(inst));
            }
            json_array_append_new(members, mj);
        }
        json_object_set_new(g, "members", members);
        json_array_append_new(out, g);
    }
    rd_kafka_event_destroy(ev);
    return out;
}

/* The committed offsets of group for the partitions of `parts` (a JSON array of {topic,
 * partition, committed}, -1 where the group committed nothing), or NULL.
 *
 * The partitions are always named: librdkafka 2.0.2 asks for "all of a group's offsets" (no
 * partition list) with an EMPTY topic array, which means "all" only in the flexible versions of
 * OffsetFetch (v6+, where an empty compact array is written as null); tandem-broker answers
 * OffsetFetch up to v5, where an empty array is an empty request, so it answers nothing. */
static json_t *committed(struct admin *a, rd_kafka_queue_t *q, const char *group,
                         const rd_kafka_topic_partition_list_t *parts, int timeout_ms, char *err,
                         size_t err_len)
{
    if (parts->cnt == 0) {
        return json_array();
    }
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_AdminOptions_t *o = options(a, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
    rd_kafka_ListConsumerGroupOffsets(a->rk, &req, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = admin_wait(a, true, q, timeout_ms, err, err_len);
    if (ev == NULL) {
        return NULL;
    }
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    json_t *out = NULL;
    if (n == 1 && rd_kafka_group_result_error(gr[0]) == NULL) {
        out = partitions_json(rd_kafka_group_result_partitions(gr[0]), true);
    } else {
        const rd_kafka_error_t *e = n == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (e != NULL) {
            coordinator_outcome(a, rd_kafka_error_code(e));
        }
        snprintf(err, err_len, "%s", e != NULL ? rd_kafka_error_string(e) : "no result");
    }
    rd_kafka_event_destroy(ev);
    return out;
}

/* Every partition of every topic the broker has (not "__" ones), or NULL. */
static rd_kafka_topic_partition_list_t *all_partitions(rd_kafka_t *rk)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, ADMIN_LOOKUP_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        for (int j = 0; t->err == RD_KAFKA_RESP_ERR_NO_ERROR && j < t->partition_cnt &&
                        strncmp(t->topic, "__", 2) != 0;
             j++) {
            rd_kafka_topic_partition_list_add(l, t->topic, t->partitions[j].id);
        }
    }
    rd_kafka_metadata_destroy(md);
    return l;
}

/* Whether group g's members are assigned a partition of topic. */
static bool assigned_topic(json_t *g, const char *topic)
{
    size_t i, j;
    json_t *m, *p;
    json_array_foreach(json_object_get(g, "members"), i, m)
    {
        json_array_foreach(json_object_get(m, "assignment"), j, p)
        {
            if (strcmp(json_string_value(json_object_get(p, "topic")), topic) == 0) {
                return true;
            }
        }
    }
    return false;
}

json_t *admin_groups(struct admin *a, int timeout_ms, char *err, size_t err_len)
{
    admin_hold(a);
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    json_t *out = NULL;
    json_t *names = list_groups(a, q, timeout_ms, err, err_len);
    if (names != NULL && json_array_size(names) == 0) {
        out = json_array();
    } else if (names != NULL) {
        out = describe(a, q, names, timeout_ms, err, err_len);
    }
    rd_kafka_topic_partition_list_t *parts =
        json_array_size(out) > 0 ? all_partitions(a->rk) : NULL;
    size_t i;
    json_t *g;
    json_array_foreach(out, i, g)
    {
        char e[256] = "the broker's topics are not known";
        json_t *offs = parts != NULL
                           ? committed(a, q, json_string_value(json_object_get(g, "group")), parts,
                                       timeout_ms, e, sizeof(e))
                           : NULL;
        /* the group's topics: those it committed an offset of, or is assigned a partition of;
         * every partition of them is the group's (one it never committed is read from its start:
         * libtandem's consumers begin at the earliest offset) */
        json_t *topics = json_object();
        size_t j;
        json_t *o;
        json_array_foreach(offs, j, o)
        {
            const char *t = json_string_value(json_object_get(o, "topic"));
            if (json_integer_value(json_object_get(o, "committed")) >= 0 || assigned_topic(g, t)) {
                json_object_set_new(topics, t, json_true());
            }
        }
        json_t *mine = json_array();
        json_array_foreach(offs, j, o)
        {
            if (json_object_get(topics, json_string_value(json_object_get(o, "topic"))) != NULL) {
                json_array_append(mine, o);
            }
        }
        json_decref(topics);
        json_object_set_new(g, "offsets", mine);
        if (offs == NULL) {
            json_object_set_new(g, "offsets_error", json_string(e));
        }
        json_decref(offs);
    }
    if (parts != NULL) {
        rd_kafka_topic_partition_list_destroy(parts);
    }
    json_decref(names);
    rd_kafka_queue_destroy(q);
    admin_release(a);
    return out;
}

/* ---- reset ------------------------------------------------------------------------------------
 */

static json_t *problem(const char *detail)
{
    return json_pack("{s:s}", "detail", detail);
}

/* Partitions of topic from the broker's metadata (ids into out, at most cap): count, or -1. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int32_t *out, int cap)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rkt != NULL &&
        rd_kafka_metadata(rk, 0, rkt, &md, ADMIN_LOOKUP_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        n = 0;
        for (int i = 0; i < md->topics[0].partition_cnt && n < cap; i++) {
            out[n++] = md->topics[0].partitions[i].id;
        }
    }
    if (md != NULL) {
        rd_kafka_metadata_destroy(md);
    }
    if (rkt != NULL) {
        rd_kafka_topic_destroy(rkt);
    }
    return n;
}

/* Resolves each partition's target offset in l from spec; 0 or an HTTP status with *body. */
static int targets(struct admin *a, rd_kafka_topic_partition_list_t *l, const char *to,
                   int64_t offset, int64_t time_ms, json_t **body)
{
    if (strcmp(to, "time") == 0) {
        for (int i = 0; i < l->cnt; i++) {
            l->elems[i].offset = time_ms;
        }
        if (rd_kafka_offsets_for_times(a->browse, l, ADMIN_LOOKUP_MS) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            *body = problem("the broker did not tell the offsets for that time");
            return 502;
        }
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *p = &l->elems[i];
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(a->browse, p->topic, p->partition, &lo, &hi,
                                             ADMIN_LOOKUP_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            *body = problem("the broker did not tell the partitions' offsets");
            return 502;
        }
        if (strcmp(to, "earliest") == 0) {
            p->offset = lo;
        } else if (strcmp(to, "latest") == 0) {
            p->offset = hi;
        } else if (strcmp(to, "offset") == 0) {
            p->offset = offset < lo ? lo : offset > hi ? hi : offset;
        } else if (p->offset < 0) { /* time: no record at or after it */
            p->offset = hi;
        }
    }
    return 0;
}

int admin_reset(struct admin *a, const char *group, json_t *spec, json_t **body)
{
    char err[512] = "";
    const char *to = json_string_value(json_object_get(spec, "to"));
    const char *topic = json_string_value(json_object_get(spec, "topic"));
    json_t *jp = json_object_get(spec, "partition");
    json_int_t partition = json_is_integer(jp) ? json_integer_value(jp) : -1;
    json_int_t offset = json_integer_value(json_object_get(spec, "offset"));
    json_int_t time_ms = json_integer_value(json_object_get(spec, "time"));
    admin_hold(a);
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    json_t *names = json_pack("[s]", group);
    json_t *d = describe(a, q, names, ADMIN_LOOKUP_MS, err, sizeof(err));
    json_decref(names);
    json_t *g = json_array_get(d, 0);
    const char *state = json_string_value(json_object_get(g, "state"));
    size_t members = json_array_size(json_object_get(g, "members"));
    int status = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    const char *gerr = json_string_value(json_object_get(g, "error"));
    if (g == NULL || gerr != NULL) {
        *body = problem(gerr != NULL ? gerr
                        : err[0]     ? err
                                     : "the broker did not describe the group");
        status = 502;
    } else if (state == NULL || strcmp(state, "Dead") == 0) {
        *body = problem("no such consumer group");
        status = 404;
    } else if (members > 0) {
        char detail[512];
        snprintf(detail, sizeof(detail),
                 "Kafka resets a group's offsets only while the group is empty: %s has %zu "
                 "member(s) (state %s). Stop the service that consumes with it, then reset.",
                 group, members, state);
        *body =
            json_pack("{s:s,s:s,s:i}", "detail", detail, "state", state, "members", (int)members);
        status = 409;
    }
    if (status == 0 && topic != NULL) {
        int32_t ids[1024];
        int n = topic_partitions(a->browse, topic, ids, 1024);
        for (int i = 0; i < n; i++) {
            if (partition < 0 || ids[i] == partition) {
                rd_kafka_topic_partition_list_add(l, topic, ids[i]);
            }
        }
        if (n < 0 || l->cnt == 0) {
            *body = problem(n < 0 ? "no such topic" : "no such partition");
            status = 404;
        }
    } else if (status == 0) { /* every partition the group has an offset for */
        rd_kafka_topic_partition_list_t *all = all_partitions(a->rk);
        json_t *offs =
            all != NULL ? committed(a, q, group, all, ADMIN_LOOKUP_MS, err, sizeof(err)) : NULL;
        size_t i;
        json_t *o;
        json_array_foreach(offs, i, o)
        {
            if (json_integer_value(json_object_get(o, "committed")) >= 0) {
                rd_kafka_topic_partition_list_add(
                    l, json_string_value(json_object_get(o, "topic")),
                    (int32_t)json_integer_value(json_object_get(o, "partition")));
            }
        }
        json_decref(offs);
        if (all != NULL) {
            rd_kafka_topic_partition_list_destroy(all);
        }
        if (l->cnt == 0) {
            *body = problem("the group has no committed offsets: name the topic to reset");
            status = 422;
        }
    }
    if (status == 0) {
        status = targets(a, l, to, offset, time_ms, body);
    }
    if (status == 0) {
        rd_kafka_AlterConsumerGroupOffsets_t *req =
            rd_kafka_AlterConsumerGroupOffsets_new(group, l);
        rd_kafka_AdminOptions_t *o =
            options(a, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, ADMIN_LOOKUP_MS);
        rd_kafka_AlterConsumerGroupOffsets(a->rk, &req, 1, o, q);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        rd_kafka_event_t *ev = admin_wait(a, true, q, ADMIN_LOOKUP_MS, err, sizeof(err));
        size_t n = 0;
        const rd_kafka_group_result_t **gr =
            ev != NULL ? rd_kafka_AlterConsumerGroupOffsets_result_groups(
                             rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n)
                       : NULL;
        if (n == 1 && rd_kafka_group_result_error(gr[0]) != NULL) {
            coordinator_outcome(a, rd_kafka_error_code(rd_kafka_group_result_error(gr[0])));
        }
        const rd_kafka_topic_partition_list_t *done =
            n == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
        rd_kafka_resp_err_t perr = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; done != NULL && i < done->cnt; i++) {
            perr = perr != RD_KAFKA_RESP_ERR_NO_ERROR ? perr : done->elems[i].err;
        }
        if (done == NULL) {
            *body = problem(err[0] ? err : "the broker did not answer the reset");
            status = 502;
        } else if (perr == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
            *body = problem("Kafka resets a group's offsets only while the group is empty, and "
                            "a member joined meanwhile: stop its consumers first");
            status = 409;
        } else if (perr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char detail[256];
            snprintf(detail, sizeof(detail), "the broker refused the reset: %s",
                     rd_kafka_err2name(perr));
            *body = problem(detail);
            status = 502;
        } else {
            *body = json_pack("{s:s,s:s,s:o}", "group", group, "to", to, "offsets",
                              partitions_json(l, false));
            size_t k;
            json_t *po;
            json_array_foreach(json_object_get(*body, "offsets"), k, po)
            {
                json_object_set_new(po, "offset", json_integer(l->elems[k].offset));
            }
            status = 200;
        }
        if (ev != NULL) {
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    json_decref(d);
    rd_kafka_queue_destroy(q);
    admin_release(a);
    return status;
}

/* ---- browse -----------------------------------------------------------------------------------
 */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int record_cmp(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    json_int_t ta = json_integer_value(json_object_get(a, "timestamp"));
    json_int_t tb = json_integer_value(json_object_get(b, "timestamp"));
    if (ta != tb) {
        return ta < tb ? -1 : 1;
    }
    json_int_t pa = json_integer_value(json_object_get(a, "partition"));
    json_int_t pb = json_integer_value(json_object_get(b, "partition"));
    if (pa != pb) {
        return pa < pb ? -1 : 1;
    }
    json_int_t oa = json_integer_value(json_object_get(a, "offset"));
    json_int_t ob = json_integer_value(json_object_get(b, "offset"));
    return oa < ob ? -1 : oa > ob;
}

/* Reads [start, stop) of every partition of l (offset = start) into recs (at most cap); true when
 * every partition reached its stop in time. */
static bool browse_read(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *l, const int64_t *stop,
                        json_t **recs, size_t *n, size_t cap)
{
    int left = 0;
    bool *done = calloc((size_t)l->cnt, sizeof(*done));
    for (int i = 0; i < l->cnt; i++) {
        done[i] = l->elems[i].offset >= stop[i];
        left += !done[i];
    }
    if (left > 0) {
        rd_kafka_assign(rk, l);
    }
    int64_t deadline = mono_ms() + BROWSE_WAIT_MS;
    while (left > 0 && mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            continue;
        }
        int idx = -1;
        for (int i = 0; i < l->cnt && m->rkt != NULL; i++) {
            if (l->elems[i].partition == m->partition &&
                strcmp(l->elems[i].topic, rd_kafka_topic_name(m->rkt)) == 0) {
                idx = i;
            }
        }
        if (idx >= 0 && !done[idx]) {
            bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < stop[idx] && *n < cap) {
                recs[(*n)++] = record_json(m, BROWSE_VALUE);
            }
            if (eof || (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset + 1 >= stop[idx])) {
                done[idx] = true;
                left--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    free(done);
    return left == 0;
}

int admin_browse(struct admin *a, const char *topic, int32_t partition, const char *from,
                 int64_t offset, int64_t time_ms, int limit, json_t **body)
{
    int32_t ids[1024];
    pthread_mutex_lock(&a->browse_mu);
    int n = topic_partitions(a->browse, topic, ids, 1024);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        if (partition < 0 || ids[i] == partition) {
            rd_kafka_topic_partition_list_add(l, topic, ids[i]);
        }
    }
    int status = 0;
    if (n < 0 || l->cnt == 0) {
        *body = problem(n < 0 ? "no such topic" : "no such partition");
        status = 404;
    }
    int64_t *lo = calloc((size_t)l->cnt + 1, sizeof(*lo));
    int64_t *hi = calloc((size_t)l->cnt + 1, sizeof(*hi));
    int64_t *stop = calloc((size_t)l->cnt + 1, sizeof(*stop));
    for (int i = 0; status == 0 && i < l->cnt; i++) {
        if (rd_kafka_query_watermark_offsets(a->browse, topic, l->elems[i].partition, &lo[i],
                                             &hi[i],
                                             ADMIN_LOOKUP_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            *body = problem("the broker did not tell the partitions' offsets");
            status = 502;
        }
    }
    if (status == 0 && strcmp(from, "time") == 0) {
        for (int i = 0; i < l->cnt; i++) {
            l->elems[i].offset = time_ms;
        }
        if (rd_kafka_offsets_for_times(a->browse, l, ADMIN_LOOKUP_MS) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            *body = problem("the broker did not tell the offsets for that time");
            status = 502;
        }
    }
    for (int i = 0; status == 0 && i < l->cnt; i++) {
        int64_t *o = &l->elems[i].offset;
        if (strcmp(from, "oldest") == 0) {
            *o = lo[i];
        } else if (strcmp(from, "newest") == 0) {
            *o = hi[i] - limit > lo[i] ? hi[i] - limit : lo[i];
        } else if (strcmp(from, "offset") == 0) {
            *o = offset < lo[i] ? lo[i] : offset > hi[i] ? hi[i] : offset;
        } else if (*o < 0) { /* time: nothing at or after it */
            *o = hi[i];
        }
        stop[i] = *o + limit < hi[i] ? *o + limit : hi[i];
    }
    size_t cap = (size_t)limit * (size_t)(l->cnt > 0 ? l->cnt : 1), got = 0;
    json_t **recs = status == 0 ? calloc(cap, sizeof(*recs)) : NULL;
    bool complete = false;
    if (status == 0 && recs == NULL) {
        *body = problem("out of memory");
        status = 500;
    }
    if (status == 0) {
        complete = browse_read(a->browse, l, stop, recs, &got, cap);
    }
    json_t *parts = json_array();
    for (int i = 0; status == 0 && i < l->cnt; i++) {
        json_array_append_new(parts,
                              json_pack("{s:i,s:I,s:I,s:I}", "partition", l->elems[i].partition,
                                        "low", (json_int_t)lo[i], "high", (json_int_t)hi[i],
                                        "start", (json_int_t)l->elems[i].offset));
    }
    pthread_mutex_unlock(&a->browse_mu);
    if (status == 0) {
        if (got > 1) {
            qsort(recs, got, sizeof(*recs), record_cmp);
        }
        size_t first = strcmp(from, "newest") == 0 && got > (size_t)limit ? got - (size_t)limit : 0;
        size_t last = first + (size_t)limit < got ? first + (size_t)limit : got;
        json_t *ra = json_array();
        for (size_t i = 0; i < got; i++) {
            if (i >= first && i < last) {
                json_array_append_new(ra, recs[i]);
            } else {
                json_decref(recs[i]);
            }
        }
        *body = json_pack("{s:s,s:s,s:o,s:o,s:b}", "topic", topic, "from", from, "partitions",
                          parts, "records", ra, "complete", complete);
        status = 200;
    } else {
        json_decref(parts);
    }
    free(recs);
    free(lo);
    free(hi);
    free(stop);
    rd_kafka_topic_partition_list_destroy(l);
    return status;
}
