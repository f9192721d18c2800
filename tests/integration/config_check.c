/*
 * config-check: the configuration and record admin APIs through librdkafka 2.0.2's Admin API,
 * for tests/integration/t_admin_configs.sh.
 *
 *   describe -b B --type topic|broker -n NAME [--synonyms]
 *       rd_kafka_DescribeConfigs; prints the resource's error, then one line per entry:
 *       "CONFIG <name>=<value> source=<SOURCE> ro=<0|1> sensitive=<0|1> default=<0|1>", then
 *       (with --synonyms) "SYNONYM <name> <synonym>=<value> <SOURCE>" per synonym
 *   alter -b B --type topic|broker -n NAME [--validate-only] key=value...
 *       rd_kafka_AlterConfigs (the whole set); prints "RESULT <ERROR_NAME> <message>"
 *   delete-records -b B -t TOPIC -p P -o OFFSET
 *       rd_kafka_DeleteRecords; prints "DELETED <partition> <ERROR_NAME> <low watermark>"
 *   commit -b B -g GROUP -t TOPIC -p P -o OFFSET
 *       commits OFFSET for the partition with a group.id consumer that never subscribes
 *   committed -b B -g GROUP -t TOPIC -p P
 *       prints "COMMITTED <offset>" (-1001 when none)
 *   delete-offsets -b B -g GROUP -t TOPIC -p P[,P...]
 *       rd_kafka_DeleteConsumerGroupOffsets; prints "RESULT <group ERROR_NAME>" then
 *       "PARTITION <p> <ERROR_NAME>" per partition
 *   subscribed -b B -g GROUP -t TOPIC -p P -o OFFSET --other TOPIC2
 *       a consumer subscribes to TOPIC (the group's only live member), waits for its assignment,
 *       commits OFFSET on TOPIC/P and on TOPIC2/0, then asks DeleteConsumerGroupOffsets for
 *       TOPIC/P and, separately, TOPIC2/0, printing the results as delete-offsets does, then
 *       closes
 *
 * Exits 0 when librdkafka delivered a result (whatever the error it carries: the script judges
 * it), 1 when it did not.
 */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 20000

struct opts {
    const char *cmd, *brokers, *type, *name, *group, *topic, *other, *parts;
    int64_t offset;
    bool synonyms, validate_only;
    const char *kv[32];
    int nkv;
};

static void die(const char *what)
{
    fprintf(stderr, "config-check: %s\n", what);
    exit(1);
}

static rd_kafka_t *client(const struct opts *o, rd_kafka_type_t type, const char *group)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", o->brokers, err, sizeof(err)) ||
        (group && rd_kafka_conf_set(c, "group.id", group, err, sizeof(err))) ||
        (group && rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err))) ||
        (group && rd_kafka_conf_set(c, "session.timeout.ms", "6000", err, sizeof(err))))
        die(err);
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
    if (!rk)
        die(err);
    return rk;
}

/* Waits for the admin result of type on q; dies on a request-level error, unless soft: then
 * prints "RESULT <ERROR_NAME>" and returns NULL (librdkafka reports OffsetDelete's group-level
 * error that way). */
static rd_kafka_event_t *wait_result_soft(rd_kafka_queue_t *q, rd_kafka_event_type_t type,
                                          bool soft)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
    if (!ev)
        die("no admin result in time");
    if (rd_kafka_event_type(ev) != type) {
        fprintf(stderr, "config-check: unexpected event %s\n", rd_kafka_event_name(ev));
        exit(1);
    }
    if (rd_kafka_event_error(ev) && soft) {
        printf("RESULT %s %s\n", rd_kafka_err2name(rd_kafka_event_error(ev)),
               rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "config-check: request failed: %s: %s\n",
                rd_kafka_err2name(rd_kafka_event_error(ev)), rd_kafka_event_error_string(ev));
        exit(1);
    }
    return ev;
}

static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
    return wait_result_soft(q, type, false);
}

static rd_kafka_ResourceType_t res_type(const char *s)
{
    if (strcmp(s, "topic") == 0)
        return RD_KAFKA_RESOURCE_TOPIC;
    if (strcmp(s, "broker") == 0)
        return RD_KAFKA_RESOURCE_BROKER;
    die("--type is topic or broker");
    return RD_KAFKA_RESOURCE_UNKNOWN;
}

static void print_entry(const rd_kafka_ConfigEntry_t *e, bool synonyms)
{
    const char *v = rd_kafka_ConfigEntry_value(e);
    printf("CONFIG %s=%s source=%s ro=%d sensitive=%d default=%d\n", rd_kafka_ConfigEntry_name(e),
           v ? v : "(null)", rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(e)),
           rd_kafka_ConfigEntry_is_read_only(e), rd_kafka_ConfigEntry_is_sensitive(e),
           rd_kafka_ConfigEntry_is_default(e));
    if (!synonyms)
        return;
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **syn = rd_kafka_ConfigEntry_synonyms(e, &n);
    for (size_t i = 0; i < n; i++) {
        const char *sv = rd_kafka_ConfigEntry_value(syn[i]);
        printf("SYNONYM %s %s=%s %s\n", rd_kafka_ConfigEntry_name(e),
               rd_kafka_ConfigEntry_name(syn[i]), sv ? sv : "(null)",
               rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(syn[i])));
    }
}

static void describe(const struct opts *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(res_type(o->type), o->name);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(ao, TIMEOUT_MS, err, sizeof(err));
    rd_kafka_DescribeConfigs(rk, &r, 1, ao, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    size_t n = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        const char *msg = rd_kafka_ConfigResource_error_string(res[i]);
        printf("RESULT %s %s\n", rd_kafka_err2name(rd_kafka_ConfigResource_error(res[i])),
               msg ? msg : "");
        size_t nc = 0;
        const rd_kafka_ConfigEntry_t **c = rd_kafka_ConfigResource_configs(res[i], &nc);
        for (size_t j = 0; j < nc; j++)
            print_entry(c[j], o->synonyms);
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ConfigResource_destroy(r);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static void alter(const struct opts *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(res_type(o->type), o->name);
    for (int i = 0; i < o->nkv; i++) {
        char kv[512];
        snprintf(kv, sizeof(kv), "%s", o->kv[i]);
        char *eq = strchr(kv, '=');
        if (!eq)
            die("alter takes key=value arguments");
        *eq = '\0';
        rd_kafka_ConfigResource_set_config(r, kv, eq + 1);
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(ao, TIMEOUT_MS, err, sizeof(err));
    if (o->validate_only)
        rd_kafka_AdminOptions_set_validate_only(ao, 1, err, sizeof(err));
    rd_kafka_AlterConfigs(rk, &r, 1, ao, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
    size_t n = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    if (n != 1)
        die("AlterConfigs: not one result");
    const char *msg = rd_kafka_ConfigResource_error_string(res[0]);
    printf("RESULT %s %s\n", rd_kafka_err2name(rd_kafka_ConfigResource_error(res[0])),
           msg ? msg : "");
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ConfigResource_destroy(r);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static void delete_records(const struct opts *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, o->topic, atoi(o->parts))->offset = o->offset;
    rd_kafka_DeleteRecords_t *d = rd_kafka_DeleteRecords_new(l);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(ao, TIMEOUT_MS, err, sizeof(err));
    rd_kafka_AdminOptions_set_operation_timeout(ao, TIMEOUT_MS, err, sizeof(err));
    rd_kafka_DeleteRecords(rk, &d, 1, ao, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT);
    const rd_kafka_topic_partition_list_t *res =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    for (int i = 0; res && i < res->cnt; i++)
        printf("DELETED %d %s %lld\n", (int)res->elems[i].partition,
               rd_kafka_err2name(res->elems[i].err), (long long)res->elems[i].offset);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_DeleteRecords_destroy(d);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static void commit(const struct opts *o, const char *topic, int32_t p, int64_t offset,
                   rd_kafka_t *with)
{
    rd_kafka_t *rk = with ? with : client(o, RD_KAFKA_CONSUMER, o->group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, l, 0);
    if (err) {
        fprintf(stderr, "config-check: commit: %s\n", rd_kafka_err2name(err));
        exit(1);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (!with) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
}

static void committed(const struct opts *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, o->group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, o->topic, atoi(o->parts));
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, TIMEOUT_MS);
    if (err || l->elems[0].err) {
        fprintf(stderr, "config-check: committed: %s\n",
                rd_kafka_err2name(err ? err : l->elems[0].err));
        exit(1);
    }
    printf("COMMITTED %lld\n", (long long)l->elems[0].offset);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void delete_offsets(const struct opts *o, const char *topic, const char *parts)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", parts);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        rd_kafka_topic_partition_list_add(l, topic, atoi(t));
    rd_kafka_DeleteConsumerGroupOffsets_t *d = rd_kafka_DeleteConsumerGroupOffsets_new(o->group, l);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(ao, TIMEOUT_MS, err, sizeof(err));
    rd_kafka_DeleteConsumerGroupOffsets(rk, &d, 1, ao, q);
    rd_kafka_event_t *ev =
        wait_result_soft(q, RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT, true);
    size_t n = 0;
    if (!ev)
        goto out;
    const rd_kafka_group_result_t **g = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
        rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *e = rd_kafka_group_result_error(g[i]);
        printf("RESULT %s\n", e ? rd_kafka_error_name(e) : "NO_ERROR");
        const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(g[i]);
        for (int j = 0; pl && j < pl->cnt; j++)
            printf("PARTITION %s/%d %s\n", pl->elems[j].topic, (int)pl->elems[j].partition,
                   rd_kafka_err2name(pl->elems[j].err));
    }
    rd_kafka_event_destroy(ev);
out:
    fflush(stdout);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_DeleteConsumerGroupOffsets_destroy(d);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

/* A live, subscribed member: its topic's offsets cannot be deleted, another topic's can. */
static void subscribed(const struct opts *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, o->group);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub))
        die("subscribe failed");
    rd_kafka_topic_partition_list_destroy(sub);
    for (int i = 0; i < 300; i++) { /* up to 30 s for the assignment */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t *a = NULL;
        if (rd_kafka_assignment(rk, &a) == 0 && a && a->cnt > 0) {
            rd_kafka_topic_partition_list_destroy(a);
            break;
        }
        if (a)
            rd_kafka_topic_partition_list_destroy(a);
        if (i == 299)
            die("no assignment within 30 s");
    }
    printf("ASSIGNED\n");
    commit(o, o->topic, atoi(o->parts), o->offset, rk);
    commit(o, o->other, 0, o->offset, rk);
    delete_offsets(o, o->topic, o->parts);
    delete_offsets(o, o->other, "0");
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int main(int argc, char **argv)
{
    struct opts o = {.offset = -1};
    if (argc < 2)
        die("usage: config-check describe|alter|delete-records|commit|committed|delete-offsets|"
            "subscribed [options] (see config_check.c)");
    o.cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--synonyms") == 0) {
            o.synonyms = true;
            continue;
        }
        if (strcmp(a, "--validate-only") == 0) {
            o.validate_only = true;
            continue;
        }
        if (a[0] != '-') {
            if (o.nkv == 32)
                die("too many key=value arguments");
            o.kv[o.nkv++] = a;
            continue;
        }
        if (!v)
            die("an option lacks its value");
        i++;
        if (strcmp(a, "-b") == 0)
            o.brokers = v;
        else if (strcmp(a, "--type") == 0)
            o.type = v;
        else if (strcmp(a, "-n") == 0)
            o.name = v;
        else if (strcmp(a, "-g") == 0)
            o.group = v;
        else if (strcmp(a, "-t") == 0)
            o.topic = v;
        else if (strcmp(a, "-p") == 0)
            o.parts = v;
        else if (strcmp(a, "-o") == 0)
            o.offset = atoll(v);
        else if (strcmp(a, "--other") == 0)
            o.other = v;
        else
            die("unknown option");
    }
    if (!o.brokers)
        die("-b is required");
    if (strcmp(o.cmd, "describe") == 0 && o.type && o.name)
        describe(&o);
    else if (strcmp(o.cmd, "alter") == 0 && o.type && o.name)
        alter(&o);
    else if (strcmp(o.cmd, "delete-records") == 0 && o.topic && o.parts)
        delete_records(&o);
    else if (strcmp(o.cmd, "commit") == 0 && o.group && o.topic && o.parts)
        commit(&o, o.topic, atoi(o.parts), o.offset, NULL);
    else if (strcmp(o.cmd, "committed") == 0 && o.group && o.topic && o.parts)
        committed(&o);
    else if (strcmp(o.cmd, "delete-offsets") == 0 && o.group && o.topic && o.parts)
        delete_offsets(&o, o.topic, o.parts);
    else if (strcmp(o.cmd, "subscribed") == 0 && o.group && o.topic && o.parts && o.other)
        subscribed(&o);
    else
        die("unknown subcommand or missing options (see config_check.c)");
    return 0;
}
