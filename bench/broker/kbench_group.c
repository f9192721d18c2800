/*
 * kbench group-catchup: how fast a consumer group reads a backlog, against one consumer alone.
 *
 *   kbench produce --server H:P --topic T --count N --partitions 6     (fills the backlog)
 *   kbench group-catchup --server H:P --topic T --members M [--group G]
 *
 * Model. M members, each a thread with its own rd_kafka_t (own connections, own fetcher
 * threads, own queue), all rd_kafka_subscribe()d to T with the same group.id, which is fresh
 * for every run (default kbench-catchup-<pid>-<M>) so nothing is committed for it yet and
 * auto.offset.reset=earliest starts every partition at its first record. Settings are
 * librdkafka 2.0.2's defaults (eager "range,roundrobin" assignment, auto-commit every 5 s,
 * session.timeout.ms 45000) plus the consumer queue thresholds every consumer of this
 * benchmark gets (conf_consumer_queue in kbench.c, librdkafka issue #2879).
 *
 * Before the run, the high watermark of every partition is read (ListOffsets): that is the
 * backlog. The clock starts just before the first rd_kafka_subscribe() call of any member (the
 * handles exist already, as a service's consumer does before it subscribes), so the group's
 * FindCoordinator, JoinGroup (including the broker's group.initial.rebalance.delay.ms),
 * SyncGroup and OffsetFetch are inside the figure, and stops when the last partition's last
 * record has been consumed by any member:
 *
 *   records_per_s = backlog / (caught_up_ns - first_subscribe_ns)
 *
 * Progress is kept per partition as 1 + the highest offset consumed by any member (an atomic
 * maximum); a record at or below that mark was consumed before (a partition that moved in a
 * rebalance before its offset was committed) and counts as a duplicate, not as progress. The
 * run fails unless every partition is caught up before --timeout.
 *
 * Output: mode=group-catchup members= partitions= records= duplicates= errors= seconds=
 * records_per_s= mb_per_s= first_record_ms= (subscribe to the first record: the join)
 * drain_records_per_s= (backlog / time from the first record to the last) member_min= member_max=
 * (records per member) assignments= (rebalance callbacks that assigned).
 */
#include <pthread.h>
#include <unistd.h>

#include "kbench_int.h"

/* The rebalance hook of a group consumer: applies the assignment, then tells the owner. */
struct group_cb {
    void (*fn)(void *, rd_kafka_resp_err_t, const rd_kafka_topic_partition_list_t *);
    void *opaque;
};

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct group_cb *cb = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else if (coop) {
        e = rd_kafka_incremental_unassign(rk, parts);
    } else {
        rd_kafka_assign(rk, NULL);
    }
    if (e != NULL) {
        fprintf(stderr, "kbench: rebalance: %s\n", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    if (cb->fn != NULL)
        cb->fn(cb->opaque, err, parts);
}

int group_consumer_new(const struct bench_opts *o, const char *client_id,
                       void (*fn)(void *, rd_kafka_resp_err_t,
                                  const rd_kafka_topic_partition_list_t *),
                       void *opaque, rd_kafka_t **out)
{
    char err[256], num[32];
    struct group_cb *cb = malloc(sizeof(*cb));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = cb ? conf_common(conf, o) : TANDEM_ENOMEM;
    rc = rc ? rc : conf_set(conf, "group.id", o->group);
    rc = rc ? rc : conf_set(conf, "client.id", client_id);
    rc = rc ? rc : conf_set(conf, "enable.partition.eof", "false");
    rc = rc ? rc : conf_set(conf, "auto.offset.reset", "earliest");
    rc = rc ? rc : conf_consumer_queue(conf);
    if (rc == 0 && o->session_timeout_ms > 0) {
        snprintf(num, sizeof(num), "%lld", o->session_timeout_ms);
        rc = conf_set(conf, "session.timeout.ms", num);
    }
    if (rc == 0 && o->heartbeat_interval_ms > 0) {
        snprintf(num, sizeof(num), "%lld", o->heartbeat_interval_ms);
        rc = conf_set(conf, "heartbeat.interval.ms", num);
    }
    const char *debug = getenv("KBENCH_RDKAFKA_DEBUG"); /* e.g. cgrp: librdkafka's own log */
    if (rc == 0 && debug != NULL && *debug != '\0')
        rc = conf_set(conf, "debug", debug);
    if (rc != 0)
        goto fail;
    cb->fn = fn;
    cb->opaque = opaque;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, cb); /* lives as long as the process: one per handle */
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (*out == NULL) {
        fprintf(stderr, "kbench: group consumer: %s\n", err);
        rc = TANDEM_EINVAL; /* rd_kafka_new failed: conf is still ours */
        goto fail;
    }
    rd_kafka_poll_set_consumer(*out);
    return 0;
fail:
    rd_kafka_conf_destroy(conf);
    free(cb);
    return rc;
}

/* Waits for the admin result of CreateTopics; 0 when created or already there. */
static int topic_create_wait(rd_kafka_queue_t *q, const struct bench_opts *o)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(o->timeout * 1000));
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    int rc = TANDEM_EIO;
    size_t n = 0;
    if (res == NULL) {
        fprintf(stderr, "kbench: create topic: %s\n",
                ev ? rd_kafka_event_error_string(ev) : "no answer");
        goto out;
    }
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    rd_kafka_resp_err_t err = n == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__FAIL;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        rc = 0;
    else
        fprintf(stderr, "kbench: create topic %s: %s\n", o->topic, rd_kafka_err2str(err));
out:
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    return rc;
}

int topic_create(rd_kafka_t *rk, const struct bench_opts *o)
{
    char err[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(o->topic, (int)o->partitions, 1, err, sizeof(err));
    if (nt == NULL) {
        fprintf(stderr, "kbench: new topic: %s\n", err);
        return TANDEM_EINVAL;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    int rc = topic_create_wait(q, o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout * 1e9);
    while (rc == 0) { /* metadata may lag the creation by a refresh */
        rd_kafka_topic_partition_list_t *parts = NULL;
        rc = partitions_of(rk, o, 0, 0, &parts);
        int cnt = parts ? parts->cnt : 0;
        if (parts != NULL)
            rd_kafka_topic_partition_list_destroy(parts);
        if (rc == 0 && cnt == (int)o->partitions)
            break;
        if (rc == 0 && cnt > (int)o->partitions) {
            fprintf(stderr, "kbench: topic %s has %d partitions\n", o->topic, cnt);
            return TANDEM_EEXIST;
        }
        if (bench_now_ns() >= deadline)
            return TANDEM_ETIMEDOUT;
        rc = 0;
        bench_sleep_ns(50000000);
    }
    return rc;
}

struct catchup {
    const struct bench_opts *o;
    int nparts;
    int64_t *end;       /* per partition: high watermark before the run (the backlog) */
    atomic_llong *next; /* per partition: 1 + highest offset consumed by any member */
    atomic_int parts_left;
    atomic_ullong start_ns, first_ns, done_ns;
    uint64_t deadline_ns;
    pthread_barrier_t go;
};

struct cmember {
    struct catchup *c;
    rd_kafka_t *rk;
    pthread_t tid;
    uint64_t records, dups, errors;
    atomic_int assignments;
};

static void catchup_rebalance(void *opaque, rd_kafka_resp_err_t err,
                              const rd_kafka_topic_partition_list_t *parts)
{
    struct cmember *m = opaque;
    (void)parts;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        atomic_fetch_add(&m->assignments, 1);
}

static void catchup_record(struct cmember *m, const rd_kafka_message_t *msg)
{
    struct catchup *c = m->c;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR || msg->partition < 0 ||
        msg->partition >= c->nparts) {
        if (m->errors++ == 0)
            fprintf(stderr, "kbench: group consume: %s\n", rd_kafka_err2str(msg->err));
        return;
    }
    unsigned long long zero = 0, now = bench_now_ns();
    m->records++;
    atomic_compare_exchange_strong(&c->first_ns, &zero, now);
    atomic_llong *next = &c->next[msg->partition];
    long long prev = atomic_load(next), mine = msg->offset + 1;
    while (mine > prev && !atomic_compare_exchange_weak(next, &prev, mine)) {
    }
    if (mine <= prev) {
        m->dups++;
        return;
    }
    int64_t end = c->end[msg->partition];
    if (prev < end && mine >= end && atomic_fetch_sub(&c->parts_left, 1) == 1)
        atomic_store(&c->done_ns, now);
}

static void *catchup_member(void *arg)
{
    struct cmember *m = arg;
    struct catchup *c = m->c;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c->o->topic, RD_KAFKA_PARTITION_UA);
    pthread_barrier_wait(&c->go);
    unsigned long long zero = 0;
    atomic_compare_exchange_strong(&c->start_ns, &zero, bench_now_ns());
    rd_kafka_resp_err_t err = rd_kafka_subscribe(m->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kbench: subscribe: %s\n", rd_kafka_err2str(err));
        m->errors++;
        return NULL;
    }
    while (atomic_load(&c->done_ns) == 0 && bench_now_ns() < c->deadline_ns) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 20);
        if (msg == NULL)
            continue;
        catchup_record(m, msg);
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(m->rk); /* leaves the group; after the clock stopped */
    return NULL;
}

/* Reads the backlog (high watermarks) into c->end; c->parts_left = non-empty partitions. */
static int catchup_backlog(struct catchup *c, rd_kafka_t *rk, uint64_t *total)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = partitions_of(rk, c->o, 0, 1, &parts);
    if (rc != 0)
        return rc;
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition + 1 > c->nparts)
            c->nparts = parts->elems[i].partition + 1;
    c->end = calloc((size_t)c->nparts, sizeof(*c->end));
    c->next = calloc((size_t)c->nparts, sizeof(*c->next));
    if (c->end == NULL || c->next == NULL) {
        rc = TANDEM_ENOMEM;
        goto out;
    }
    *total = 0;
    for (int i = 0; i < parts->cnt; i++) {
        c->end[parts->elems[i].partition] = parts->elems[i].offset;
        *total += (uint64_t)parts->elems[i].offset;
        if (parts->elems[i].offset > 0)
            atomic_fetch_add(&c->parts_left, 1);
    }
out:
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

static void catchup_print(const struct catchup *c, const struct cmember *ms, int n, uint64_t total)
{
    uint64_t dups = 0, errors = 0, lo = UINT64_MAX, hi = 0;
    int assignments = 0;
    for (int i = 0; i < n; i++) {
        dups += ms[i].dups;
        errors += ms[i].errors;
        lo = ms[i].records < lo ? ms[i].records : lo;
        hi = ms[i].records > hi ? ms[i].records : hi;
        assignments += atomic_load(&ms[i].assignments);
    }
    uint64_t start = atomic_load(&c->start_ns), done = atomic_load(&c->done_ns);
    uint64_t first = atomic_load(&c->first_ns);
    double secs = done > start ? (double)(done - start) / 1e9 : 0;
    double rps = secs > 0 ? (double)total / secs : 0;
    printf("mode=group-catchup members=%d partitions=%d records=%llu duplicates=%llu errors=%llu "
           "seconds=%.4f records_per_s=%.0f mb_per_s=%.2f first_record_ms=%.1f "
           "drain_records_per_s=%.0f member_min=%llu member_max=%llu assignments=%d\n",
           n, c->nparts, (unsigned long long)total, (unsigned long long)dups,
           (unsigned long long)errors, secs, rps, rps * (double)c->o->size / 1e6,
           first > start ? (double)(first - start) / 1e6 : 0.0,
           done > first && first > 0 ? (double)total / ((double)(done - first) / 1e9) : 0.0,
           (unsigned long long)lo, (unsigned long long)hi, assignments);
}

int run_group_catchup(const struct bench_opts *o)
{
    char gid[96], cid[32];
    struct bench_opts go = *o;
    struct catchup c = {.o = &go};
    int n = (int)o->members, started = 0, rc = 0;
    uint64_t total = 0;
    struct cmember *ms = calloc((size_t)n, sizeof(*ms));
    if (ms == NULL)
        return TANDEM_ENOMEM;
    if (go.group == NULL) {
        snprintf(gid, sizeof(gid), "kbench-catchup-%ld-%d", (long)getpid(), n);
        go.group = gid;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        ms[i].c = &c;
        snprintf(cid, sizeof(cid), "kbench-c%d", i);
        rc = group_consumer_new(&go, cid, catchup_rebalance, &ms[i], &ms[i].rk);
    }
    rc = rc ? rc : catchup_backlog(&c, ms[0].rk, &total);
    if (rc != 0 || total == 0) {
        rc = rc ? rc : TANDEM_ENOENT;
        fprintf(stderr, "kbench: group-catchup: no backlog in %s\n", o->topic);
        goto fail;
    }
    c.deadline_ns = bench_now_ns() + (uint64_t)(o->timeout * 1e9);
    pthread_barrier_init(&c.go, NULL, (unsigned)n);
    for (; started < n; started++) {
        if (pthread_create(&ms[started].tid, NULL, catchup_member, &ms[started]) != 0) {
            /* the others wait at a barrier that can no longer open */
            fprintf(stderr, "kbench: group-catchup: cannot start thread %d\n", started);
            exit(1);
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(ms[i].tid, NULL);
    pthread_barrier_destroy(&c.go);
    catchup_print(&c, ms, n, total);
    rc = atomic_load(&c.parts_left) == 0 ? 0 : TANDEM_ETIMEDOUT;
fail:
    for (int i = 0; i < n; i++)
        if (ms[i].rk != NULL)
            rd_kafka_destroy(ms[i].rk);
    free(c.end);
    free(c.next);
    free(ms);
    return rc;
}
