/*
 * group-check: a librdkafka high-level consumer and producer for the consumer-group integration
 * tests (tests/integration/group_*.sh). It is a judge, not a library: each subcommand does one
 * thing a real application does and prints what it saw in a line format the scripts grep.
 *
 *   create    -b B -t T -p N                 CreateTopics (N partitions)
 *   produce   -b B -t T -n N [-s S] [--partitions 0,3,...]
 *             values and keys are the decimal numbers S..S+N-1; record i goes to the i-th entry of
 *             --partitions (round robin), else to the default partitioner; acks=all; exit 0 only
 *             when every record was acknowledged
 *   consume   -b B -t T -g G [--strategy range|roundrobin|cooperative-sticky] [--session-ms MS]
 *             [--out FILE] [--manual-commit] [--max N] [--idle-exit MS] [--instance-id ID]
 *             [--batch N (records per poll batch, 1000)] [--delay-ms MS (work per batch)]
 *             rd_kafka_subscribe; stdout gets one line per assignment change:
 *               ASSIGNED <wall ms> <partitions sorted, comma separated, or ->
 *             and CLOSED at the end; FILE gets one line per record, "PARTITION OFFSET VALUE",
 *             flushed after every poll batch (a last line that a killed member left without its
 *             newline is dropped at the start, see open_records). --manual-commit:
 *             enable.auto.commit=false and a synchronous rd_kafka_commit of the consumed positions
 *             after every batch, after the batch reached FILE (at-least-once: a kill -9 between
 *             the two gives duplicates, never a gap). SIGTERM/SIGINT, --max records or
 *             --idle-exit ms without a record (once assigned) end the loop with
 *             rd_kafka_consumer_close (a clean leave).
 *   committed -b B -t T -g G                 "PARTITION OFFSET" per partition (rd_kafka_committed;
 *                                            -1 when nothing is committed)
 *   ends      -b B -t T                      "PARTITION HIGH_WATERMARK" per partition
 *   groups    -b B                           ListConsumerGroups: "GROUP <id> <state>", then the
 *                                            legacy rd_kafka_list_groups: "LEGACY <id> <state>
 *                                            <protocol type> <members>"
 *   describe  -b B -g G                      DescribeConsumerGroups: "STATE <s>", "MEMBERS <n>",
 *                                            "MEMBER <consumer id> <client id> <partitions>"
 *   delete    -b B -g G                      DeleteGroups: "DELETE <group> <error name>"
 *
 * Environment: GC_DEBUG (librdkafka debug contexts), GC_METADATA_REFRESH_MS
 * (topic.metadata.refresh.interval.ms, so a member notices new partitions sooner than librdkafka's
 * 5 minutes).
 *
 * Exit codes: 0 done, 1 a failure (printed to stderr), 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTS 256

struct opts {
    const char *brokers, *topic, *group, *strategy, *out, *instance_id, *partitions;
    int64_t count, start, max;
    int nparts, session_ms, idle_exit_ms, batch, delay_ms;
    bool manual_commit;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "group-check: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    fprintf(stderr, "%%%d %" PRId64 " %s %s: %s\n", level, wall_ms(), rd_kafka_name(rk), fac, buf);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die(key, err);
}

static rd_kafka_t *client(const struct opts *o, rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    if (!conf)
        conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", o->brokers);
    set(conf, "client.id", "group-check");
    rd_kafka_conf_set_log_cb(conf, log_cb);
    const char *dbg = getenv("GC_DEBUG");
    if (dbg && *dbg)
        set(conf, "debug", dbg);
    const char *refresh = getenv("GC_METADATA_REFRESH_MS");
    if (refresh && *refresh)
        set(conf, "topic.metadata.refresh.interval.ms", refresh);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk)
        die("rd_kafka_new", err);
    return rk;
}

/* Partition count of o->topic from metadata, retried for up to 20 s. */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    for (int tries = 0; tries < 100 && n < 0; tries++) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topics[0].partition_cnt > 0)
            n = md->topics[0].partition_cnt;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n < 0) {
            struct timespec pause = {0, 200 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    rd_kafka_topic_destroy(rkt);
    if (n < 0)
        die("metadata", "topic has no partitions after 20 s");
    return n > MAX_PARTS ? MAX_PARTS : n;
}

/* ---- produce ------------------------------------------------------------------------------- */

static int64_t g_delivered, g_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (g_failed++ < 5)
            fprintf(stderr, "group-check: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        g_delivered++;
    }
}

static int cmd_produce(const struct opts *o)
{
    int parts[MAX_PARTS], nparts = 0;
    if (o->partitions) {
        const char *p = o->partitions;
        while (*p && nparts < MAX_PARTS) {
            char *end;
            parts[nparts++] = (int)strtol(p, &end, 10);
            p = *end == ',' ? end + 1 : end;
            if (end == p && *p)
                die("--partitions", o->partitions);
        }
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "acks", "all");
    set(conf, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, conf);
    for (int64_t i = 0; i < o->count; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), "%" PRId64, o->start + i);
        int32_t part = nparts ? parts[i % nparts] : RD_KAFKA_PARTITION_UA;
        rd_kafka_resp_err_t err;
        for (;;) {
            err =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(part),
                                  RD_KAFKA_V_KEY(v, (size_t)len), RD_KAFKA_V_VALUE(v, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 50);
        }
        if (err)
            die("produce", rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    rd_kafka_destroy(rk);
    if (g_failed || g_delivered != o->count) {
        fprintf(stderr, "group-check: produced %" PRId64 " of %" PRId64 " (%" PRId64 " failed)\n",
                g_delivered, o->count, g_failed);
        return 1;
    }
    fprintf(stderr, "group-check: produced %" PRId64 " records to %s\n", g_delivered, o->topic);
    return 0;
}

/* ---- consume ------------------------------------------------------------------------------- */

static int cmp_part(const void *a, const void *b)
{
    const rd_kafka_topic_partition_t *x = a, *y = b;
    return x->partition - y->partition;
}

/*
 * The assignment as the rebalance callback left it: this process's own copy, kept by the callback
 * from the partitions it (un)assigns, so that nothing in the callback asks librdkafka after its
 * (un)assign call.
 *
 * Why: in librdkafka 2.0.2 rd_kafka_rebalance_protocol() and rd_kafka_assignment() are requests
 * to the consumer-group thread through the group's op queue (forwarded to rk_ops), waited for with
 * no timeout. Inside rd_kafka_consumer_close, the unassign of the final revocation is what lets the
 * group terminate (at once for a static member, which sends no LeaveGroup; after the LeaveGroup
 * answer for a dynamic one), and rd_kafka_cgrp_terminated() disables and *purges* that queue: a
 * request that reached it in between is destroyed without a reply and its caller waits forever
 * (librdkafka issue #4041). group_manual_ack and group_restart hung there now and then, with
 * rebalance_cb blocked in rd_kafka_rebalance_protocol() after rd_kafka_assign(rk, NULL). Asking
 * before the (un)assign is safe: the group waits for that call and cannot terminate first.
 */
static rd_kafka_topic_partition_list_t *g_held;

/* Prints the consumer's whole current assignment (g_held): "ASSIGNED <ms> 0,3,4". */
static void print_assignment(void)
{
    rd_kafka_topic_partition_list_t *cur = rd_kafka_topic_partition_list_copy(g_held);
    if (cur->cnt > 1) /* an empty list has no elems array */
        qsort(cur->elems, (size_t)cur->cnt, sizeof(cur->elems[0]), cmp_part);
    printf("ASSIGNED %" PRId64 " ", wall_ms());
    for (int i = 0; i < cur->cnt; i++)
        printf("%s%d", i ? "," : "", (int)cur->elems[i].partition);
    printf("%s\n", cur->cnt ? "" : "-");
    fflush(stdout);
    rd_kafka_topic_partition_list_destroy(cur);
}

/* g_held after the callback's (un)assign: eager replaces the whole assignment, cooperative adds
 * or removes the partitions given. */
static void held_update(const rd_kafka_topic_partition_list_t *parts, bool assign, bool cooperative)
{
    if (!cooperative) {
        rd_kafka_topic_partition_list_destroy(g_held);
        g_held = assign ? rd_kafka_topic_partition_list_copy(parts)
                        : rd_kafka_topic_partition_list_new(0);
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        bool have = rd_kafka_topic_partition_list_find(g_held, p->topic, p->partition) != NULL;
        if (assign && !have)
            rd_kafka_topic_partition_list_add(g_held, p->topic, p->partition);
        else if (!assign && have)
            rd_kafka_topic_partition_list_del(g_held, p->topic, p->partition);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    /* The one question to the group thread, asked while it waits for our (un)assign. */
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    bool cooperative = protocol && strcmp(protocol, "COOPERATIVE") == 0;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (assign) {
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
    } else {
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
    }
    /* From here on, no call that waits on the group thread (see g_held). */
    if (error) {
        fprintf(stderr, "group-check: incremental (un)assign: %s\n", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        fprintf(stderr, "group-check: assign: %s\n", rd_kafka_err2str(aerr));
    } else {
        held_update(parts, assign, cooperative);
    }
    fprintf(stderr, "group-check: rebalance %s (%s), %d partitions\n", assign ? "assign" : "revoke",
            protocol ? protocol : "NONE", parts->cnt);
    print_assignment();
}

/* Synchronously commits the positions (next offset to consume) of the current assignment. */
static void commit_positions(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *cur = NULL;
    if (rd_kafka_assignment(rk, &cur) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_position(rk, cur);
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(cur->cnt);
    for (int i = 0; i < cur->cnt; i++)
        if (cur->elems[i].offset >= 0)
            rd_kafka_topic_partition_list_add(c, cur->elems[i].topic, cur->elems[i].partition)
                ->offset = cur->elems[i].offset;
    if (c->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, c, 0);
        if (err)
            fprintf(stderr, "group-check: commit: %s\n", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(c);
    rd_kafka_topic_partition_list_destroy(cur);
}

static rd_kafka_t *group_consumer(const struct opts *o)
{
    char buf[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "group.id", o->group);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", o->manual_commit ? "false" : "true");
    set(conf, "auto.commit.interval.ms", "500");
    snprintf(buf, sizeof(buf), "%d", o->session_ms);
    set(conf, "session.timeout.ms", buf);
    snprintf(buf, sizeof(buf), "%d", o->session_ms / 6 > 100 ? o->session_ms / 6 : 100);
    set(conf, "heartbeat.interval.ms", buf);
    if (o->strategy)
        set(conf, "partition.assignment.strategy", o->strategy);
    if (o->instance_id)
        set(conf, "group.instance.id", o->instance_id);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/*
 * Opens the record file FILE for appending, after dropping a last line without its newline.
 * Each poll batch reaches the file in one write(2), but a kill -9 can still cut that write short:
 * Linux checks for a fatal signal between the page-cache pages of a write and returns what it
 * copied so far, so the file ends mid-line at a 4096-byte boundary (seen: 8 of 300 kills of a
 * process writing 3,300-byte blocks). The cut batch was never committed (the commit follows the
 * write), so its records come again to the next member; a restart drops the torn line as a log
 * recovery drops a torn record, instead of letting the next member's first line run into it.
 */
static FILE *open_records(const char *path)
{
    FILE *f = fopen(path, "a+");
    if (!f)
        die("open", path);
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        die("stat", path);
    off_t keep = st.st_size;
    char buf[4096];
    while (keep > 0) {
        off_t from = keep > (off_t)sizeof buf ? keep - (off_t)sizeof buf : 0;
        ssize_t n = pread(fileno(f), buf, (size_t)(keep - from), from);
        if (n != keep - from)
            die("read", path);
        while (n > 0 && buf[n - 1] != '\n')
            n--;
        if (n > 0) {
            keep = from + n;
            break;
        }
        keep = from;
    }
    if (keep < st.st_size) {
        fprintf(stderr, "group-check: %s: dropped a torn last line of %lld bytes\n", path,
                (long long)(st.st_size - keep));
        if (ftruncate(fileno(f), keep) != 0)
            die("truncate", path);
    }
    /* One write per batch (flushed after each), so a kill -9 tears at most the last batch. */
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static int cmd_consume(const struct opts *o)
{
    if (!o->group)
        die("consume", "-g GROUP is required");
    FILE *out = o->out ? open_records(o->out) : NULL;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    g_held = rd_kafka_topic_partition_list_new(0);
    rd_kafka_t *rk = group_consumer(o);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err)
        die("subscribe", rd_kafka_err2str(err));
    int64_t total = 0, last = wall_ms();
    bool assigned = false;
    while (!g_stop && (o->max <= 0 || total < o->max)) {
        int n = 0;
        while (n < o->batch && (o->max <= 0 || total < o->max)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, n ? 0 : 100);
            if (!m)
                break;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "group-check: consume: %s\n", rd_kafka_message_errstr(m));
            } else {
                if (out)
                    fprintf(out, "%d %" PRId64 " %.*s\n", (int)m->partition, m->offset, (int)m->len,
                            (const char *)m->payload);
                n++;
                total++;
            }
            rd_kafka_message_destroy(m);
        }
        if (n > 0) {
            if (out)
                fflush(out);
            if (o->delay_ms > 0) {
                struct timespec work = {o->delay_ms / 1000, (o->delay_ms % 1000) * 1000000L};
                nanosleep(&work, NULL);
            }
            if (o->manual_commit)
                commit_positions(rk);
            last = wall_ms();
        }
        if (!assigned) {
            rd_kafka_topic_partition_list_t *cur = NULL;
            if (rd_kafka_assignment(rk, &cur) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (cur->cnt > 0) {
                    assigned = true;
                    last = wall_ms();
                }
                rd_kafka_topic_partition_list_destroy(cur);
            }
        }
        if (o->idle_exit_ms > 0 && assigned && wall_ms() - last >= o->idle_exit_ms)
            break;
    }
    fprintf(stderr, "group-check: consumed %" PRId64 " records, closing\n", total);
    err = rd_kafka_consumer_close(rk);
    if (err)
        fprintf(stderr, "group-check: close: %s\n", rd_kafka_err2str(err));
    rd_kafka_destroy(rk);
    rd_kafka_topic_partition_list_destroy(g_held);
    if (out)
        fclose(out);
    printf("CLOSED %" PRId64 " %" PRId64 "\n", wall_ms(), total);
    return 0;
}

/* ---- committed offsets, watermarks --------------------------------------------------------- */

static int cmd_committed(const struct opts *o)
{
    if (!o->group)
        die("committed", "-g GROUP is required");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "group.id", o->group);
    set(conf, "enable.auto.commit", "false");
    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, conf);
    int n = partition_count(rk, o->topic);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, o->topic, p);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 15000);
    if (err)
        die("rd_kafka_committed", rd_kafka_err2str(err));
    int rc = 0;
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].err) {
            fprintf(stderr, "group-check: committed %d: %s\n", (int)l->elems[i].partition,
                    rd_kafka_err2str(l->elems[i].err));
            rc = 1;
        }
        printf("%d %" PRId64 "\n", (int)l->elems[i].partition,
               l->elems[i].offset < 0 ? (int64_t)-1 : l->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return rc;
}

static int cmd_ends(const struct opts *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL);
    int n = partition_count(rk, o->topic);
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, o->topic, p, &lo, &hi, 10000);
        if (err)
            die("watermarks", rd_kafka_err2str(err));
        printf("%d %" PRId64 "\n", p, hi);
    }
    rd_kafka_destroy(rk);
    return 0;
}

/* ---- admin --------------------------------------------------------------------------------- */

/* Waits for the one admin result on q (or dies after 20 s). */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    if (!ev)
        die(what, "no result within 20 s");
    if (rd_kafka_event_error(ev))
        die(what, rd_kafka_event_error_string(ev));
    return ev;
}

static void print_partitions(const rd_kafka_topic_partition_list_t *l)
{
    if (!l || l->cnt == 0) {
        printf("-");
        return;
    }
    for (int i = 0; i < l->cnt; i++)
        printf("%s%s/%d", i ? "," : "", l->elems[i].topic, (int)l->elems[i].partition);
}

static int cmd_admin(const struct opts *o, const char *cmd)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev;
    int rc = 0;
    if (strcmp(cmd, "create") == 0) {
        char err[256];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(o->topic, o->nparts, 1, err, sizeof(err));
        if (!nt)
            die("NewTopic", err);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        ev = admin_wait(q, "CreateTopics");
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++)
            if (rd_kafka_topic_result_error(res[i]))
                die("CreateTopics", rd_kafka_topic_result_error_string(res[i]));
        rd_kafka_NewTopic_destroy(nt);
    } else if (strcmp(cmd, "groups") == 0) {
        rd_kafka_ListConsumerGroups(rk, NULL, q);
        ev = admin_wait(q, "ListConsumerGroups");
        const rd_kafka_ListConsumerGroups_result_t *res =
            rd_kafka_event_ListConsumerGroups_result(ev);
        size_t n, nerr;
        const rd_kafka_ConsumerGroupListing_t **gl =
            rd_kafka_ListConsumerGroups_result_valid(res, &n);
        const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
        for (size_t i = 0; i < n; i++)
            printf("GROUP %s %s\n", rd_kafka_ConsumerGroupListing_group_id(gl[i]),
                   rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gl[i])));
        for (size_t i = 0; i < nerr; i++) {
            fprintf(stderr, "group-check: ListConsumerGroups: %s\n",
                    rd_kafka_error_string(errs[i]));
            rc = 1;
        }
        const struct rd_kafka_group_list *legacy = NULL;
        rd_kafka_resp_err_t err = rd_kafka_list_groups(rk, NULL, &legacy, 10000);
        if (err)
            die("rd_kafka_list_groups", rd_kafka_err2str(err));
        for (int i = 0; i < legacy->group_cnt; i++)
            printf("LEGACY %s %s %s %d\n", legacy->groups[i].group, legacy->groups[i].state,
                   legacy->groups[i].protocol_type, legacy->groups[i].member_cnt);
        rd_kafka_group_list_destroy(legacy);
    } else if (strcmp(cmd, "describe") == 0) {
        const char *groups[1] = {o->group};
        rd_kafka_DescribeConsumerGroups(rk, groups, 1, NULL, q);
        ev = admin_wait(q, "DescribeConsumerGroups");
        size_t n;
        const rd_kafka_ConsumerGroupDescription_t **gd =
            rd_kafka_DescribeConsumerGroups_result_groups(
                rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(gd[i]);
            if (e) {
                printf("ERROR %s\n", rd_kafka_error_name(e));
                continue;
            }
            size_t nm = rd_kafka_ConsumerGroupDescription_member_count(gd[i]);
            printf(
                "STATE %s\nMEMBERS %zu\n",
                rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gd[i])),
                nm);
            for (size_t m = 0; m < nm; m++) {
                const rd_kafka_MemberDescription_t *md =
                    rd_kafka_ConsumerGroupDescription_member(gd[i], m);
                printf("MEMBER %s %s ", rd_kafka_MemberDescription_consumer_id(md),
                       rd_kafka_MemberDescription_client_id(md));
                print_partitions(rd_kafka_MemberAssignment_partitions(
                    rd_kafka_MemberDescription_assignment(md)));
                printf("\n");
            }
        }
    } else {
        rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(o->group);
        rd_kafka_DeleteGroups(rk, &dg, 1, NULL, q);
        ev = admin_wait(q, "DeleteGroups");
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            printf("DELETE %s %s\n", rd_kafka_group_result_name(gr[i]),
                   e ? rd_kafka_error_name(e) : "NO_ERROR");
        }
        rd_kafka_DeleteGroup_destroy(dg);
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: group-check create|produce|consume|committed|ends|groups|describe|"
                    "delete -b HOST:PORT [options] (see the comment atop group_check.c)\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {"count", required_argument, NULL, 'n'},
        {"start", required_argument, NULL, 's'},
        {"nparts", required_argument, NULL, 'p'},
        {"partitions", required_argument, NULL, 'P'},
        {"strategy", required_argument, NULL, 'S'},
        {"session-ms", required_argument, NULL, 'T'},
        {"out", required_argument, NULL, 'o'},
        {"manual-commit", no_argument, NULL, 'M'},
        {"max", required_argument, NULL, 'm'},
        {"idle-exit", required_argument, NULL, 'I'},
        {"instance-id", required_argument, NULL, 'i'},
        {"batch", required_argument, NULL, 'B'},
        {"delay-ms", required_argument, NULL, 'D'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.count = 1, .nparts = 1, .session_ms = 6000, .batch = 1000};
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "b:t:g:n:s:p:", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.brokers = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'g':
            o.group = optarg;
            break;
        case 'n':
            o.count = strtoll(optarg, NULL, 10);
            break;
        case 's':
            o.start = strtoll(optarg, NULL, 10);
            break;
        case 'p':
            o.nparts = atoi(optarg);
            break;
        case 'P':
            o.partitions = optarg;
            break;
        case 'S':
            o.strategy = optarg;
            break;
        case 'T':
            o.session_ms = atoi(optarg);
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'M':
            o.manual_commit = true;
            break;
        case 'm':
            o.max = strtoll(optarg, NULL, 10);
            break;
        case 'I':
            o.idle_exit_ms = atoi(optarg);
            break;
        case 'i':
            o.instance_id = optarg;
            break;
        case 'B':
            o.batch = atoi(optarg);
            break;
        case 'D':
            o.delay_ms = atoi(optarg);
            break;
        default:
            return usage();
        }
    }
    if (!o.brokers || o.batch < 1 || o.batch > 10000)
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    bool needs_topic =
        strcmp(cmd, "groups") != 0 && strcmp(cmd, "describe") != 0 && strcmp(cmd, "delete") != 0;
    if (needs_topic && !o.topic)
        return usage();
    if (strcmp(cmd, "produce") == 0)
        return cmd_produce(&o);
    if (strcmp(cmd, "consume") == 0)
        return cmd_consume(&o);
    if (strcmp(cmd, "committed") == 0)
        return cmd_committed(&o);
    if (strcmp(cmd, "ends") == 0)
        return cmd_ends(&o);
    if ((strcmp(cmd, "describe") == 0 || strcmp(cmd, "delete") == 0) && !o.group)
        return usage();
    if (strcmp(cmd, "create") == 0 || !needs_topic)
        return cmd_admin(&o, cmd);
    return usage();
}
