/*
 * The event consumer: one librdkafka high-level consumer in a group, one thread of ours.
 *
 * Model. The thread loops: rd_kafka_consumer_poll, hand the record to the handler, and when the
 * record is done (handler OK, or the dead letter acknowledged) store offset + 1 for its
 * partition (enable.auto.offset.store=false) and commit the stored offsets: asynchronously, at
 * most every 100 records or 200 ms, and synchronously whenever it matters (partitions revoked,
 * stop). librdkafka's auto-commit is off, so an offset never reaches the group before its record
 * is done: at-least-once.
 *
 * Invariants.
 *   - One record at a time, in poll order, so the records of a partition are handled in order.
 *     A retried record keeps the thread (backoff with jitter between attempts); it does not poll
 *     meanwhile, so max.poll.interval.ms is raised above the worst case of all waits (codec.c).
 *   - The rebalance callback runs inside rd_kafka_consumer_poll / rd_kafka_consumer_close on this
 *     thread, so never during a handler: on revoke it commits synchronously before giving the
 *     partitions up, and every handled offset is committed before another member gets them.
 *     With partition.assignment.strategy=cooperative-sticky (assignment_strategy) the protocol
 *     is COOPERATIVE: an assignment adds partitions (rd_kafka_incremental_assign) and a
 *     revocation removes only the partitions that move (rd_kafka_incremental_unassign), after
 *     the same synchronous commit; the partitions kept are consumed on. Each step is logged.
 *   - A record is handled at most once per assignment of its partition: a fetch that goes back
 *     over records this member handled since the partition was assigned (librdkafka's, see
 *     already_handled) is skipped up to where it had got.
 *   - A dead letter goes through a private idempotent producer (acks=all) whose reports this
 *     thread polls; the offset is stored only once the broker acknowledged it. When that fails
 *     it is retried (backoff) until it succeeds or stop is asked; an abandoned record stays
 *     uncommitted and is redelivered.
 *   - Stop: the flag is read between records and in backoff waits; the thread commits, closes
 *     (LeaveGroup), destroys librdkafka and signals done. If the stopper gave up waiting, the
 *     thread frees the consumer itself ("orphaned").
 *   - Lag: librdkafka's main queue is NOT redirected to the consumer queue
 *     (rd_kafka_poll_set_consumer), so a second thread of ours, the stats thread, serves it with
 *     rd_kafka_poll: the statistics callback (every STATS_INTERVAL_MS: per-partition watermarks,
 *     positions and committed offsets, read by lag.c into the lag table under lag_mu), the
 *     offset-commit callbacks and librdkafka's client-wide errors (on_error). So the lag keeps
 *     moving while a handler blocks the consumer thread, and nothing on the consumer thread
 *     waits for it. The table holds only the partitions in the assignment, which the rebalance
 *     callback keeps (also under lag_mu). The stats thread stops after the consumer closed,
 *     before librdkafka is destroyed; the consumer thread serves what is left once more.
 *   - on_partitions (the assignment hook) runs inside the rebalance callback, so on this thread
 *     and never during a handler: on assignment before rd_kafka_assign, with the offsets it sets
 *     given to librdkafka (TANDEM_OFFSET_COMMITTED stays RD_KAFKA_OFFSET_INVALID: the committed
 *     offset); on revocation after the synchronous commit, before the partitions are given up.
 *     It is waited for and fenced off like a handler call (in_handler, orphaned).
 *   - The handler is never started once stop is asked (the check and in_handler are under mu),
 *     and tandem_consumer_stop always waits for the call in progress to return, whatever its
 *     timeout: an orphaned thread only commits, closes and frees its own librdkafka handles, so
 *     nothing the handler reaches (its arg, a producer it publishes to) is touched after stop
 *     returns. The timeout bounds only that commit and close.
 *
 * Topics that do not exist yet. A service subscribes at start, and its topics appear when their
 * owners first publish. librdkafka 2.0.2 joins with the subscribed topics that exist (its
 * "effective subscription", which is also all it tells the coordinator in JoinGroup) and reports
 * the others once as RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART. While none exists it retries its
 * join every second, each time with a Metadata request, so a consumer of one missing topic sees
 * it at once; but once one topic exists the member is steady, and nothing but the periodic
 * refresh (topic.metadata.refresh.interval.ms, 300 s by default; rd_kafka_metadata_refresh_cb ->
 * rd_kafka_metadata_refresh_consumer_topics) asks for the missing ones again. That refresh is
 * set to METADATA_REFRESH_MS, so a topic created later is consumed about a second after it
 * appears. The cost: one Metadata request per consumer per METADATA_REFRESH_MS, for its
 * subscribed and assigned topics (a few hundred bytes each way), and the broker list refreshed
 * as often. allow.auto.create.topics would not help: the join's Metadata requests never ask for
 * creation (rd_kafka_cgrp_metadata_refresh), and creating a topic is its owner's business.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "common/clock.h"
#include "common/log.h"
#include "events_int.h"
#include "kafka_int.h"

#define MAX_IN_HEADERS      64
#define COMMIT_EVERY        100
#define COMMIT_INTERVAL_MS  200
#define STATS_INTERVAL_MS   "1000"
#define METADATA_REFRESH_MS "1000"
#define DLQ_TIMEOUT_MS      "30000"

struct tandem_consumer {
    rd_kafka_t *rk;
    rd_kafka_t *dlq;
    struct events_consumer_settings s;
    char *suffix;
    tandem_event_handler_fn handler;
    tandem_partitions_fn on_partitions;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, done, orphaned; /* under mu */
    bool in_handler;           /* under mu: a handler (or on_partitions) call is in progress */
    uint64_t rng;
    unsigned uncommitted; /* records stored since the last commit; thread only */
    int64_t last_commit_ms;
    atomic_uint_fast64_t consumed, retried, dead_lettered, committed, rewound;
    pthread_t stats_thread;
    bool stats_started;
    atomic_bool stats_stop;
    pthread_mutex_t lag_mu;
    struct assigned *assigned; /* under lag_mu: the assignment */
    size_t nassigned;
    struct tandem_partition_lag *lags; /* under lag_mu: as of the last statistics */
    size_t nlags;
};

struct assigned {
    char topic[TANDEM_TOPIC_MAX + 1];
    int32_t partition;
    /* The offset this assignment began at when the partitions hook named one, else -1: the
     * lag's position until a record is handed out (lag.c). */
    int64_t start;
    /* The consumer thread's alone (the stats thread reads only the fields above): the records
     * handled since the partition was assigned are the offsets [first, next); -1, -1 before the
     * first. rewinding: the record before this one was skipped (see already_handled). */
    int64_t first, next;
    bool rewinding;
};

enum outcome { DONE, ABANDON };

static bool stopping(struct tandem_consumer *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* Sleeps ms unless stop is asked first; returns false when stopping. */
static bool wait_or_stop(struct tandem_consumer *c, int64_t ms)
{
    struct timespec dl = clock_deadline(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&c->mu);
    while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &dl) == 0)
        ;
    bool go_on = !c->stop;
    pthread_mutex_unlock(&c->mu);
    return go_on;
}

static uint32_t rng_next(struct tandem_consumer *c)
{
    c->rng ^= c->rng << 13; /* xorshift64 (Marsaglia 2003); jitter only */
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (uint32_t)(c->rng >> 32);
}

/* Commits the stored offsets: async when there are new ones; sync always (that also waits for
 * the async commits in flight to be overtaken, so all handled offsets are in the group after). */
static void commit(struct tandem_consumer *c, bool sync)
{
    if (c->uncommitted == 0 && !sync)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, sync ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("events: commit failed", "\"error\":\"%s\"", rd_kafka_err2name(err));
    c->uncommitted = 0;
    c->last_commit_ms = clock_mono_ms();
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct tandem_consumer *c = opaque;
    if (offsets == NULL)
        return;
    for (int i = 0; i < offsets->cnt; i++)
        if (offsets->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets->elems[i].offset >= 0)
            atomic_fetch_add(&c->committed, 1);
}

static void error_free(rd_kafka_error_t *e)
{
    if (e != NULL) {
        log_warn("events: incremental rebalance failed", "\"error\":\"%s\"",
                 rd_kafka_error_name(e));
        rd_kafka_error_destroy(e);
    }
}

/* Logs a rebalance step: "partitions assigned" / "partitions revoked" with the protocol and
 * the partitions ("topic/partition" list, cut at the buffer). */
static void log_rebalance(const char *msg, const char *protocol,
                          const rd_kafka_topic_partition_list_t *parts)
{
    char list[512], esc[600];
    size_t n = 0;
    list[0] = '\0';
    for (int i = 0; i < parts->cnt && n < sizeof(list); i++) {
        int w = snprintf(list + n, sizeof(list) - n, "%s%s/%d", i ? "," : "", parts->elems[i].topic,
                         (int)parts->elems[i].partition);
        n = w > 0 ? n + (size_t)w : n;
    }
    log_info(msg, "\"protocol\":\"%s\",\"count\":%d,\"partitions\":%s", protocol, parts->cnt,
             log_json_str(esc, sizeof(esc), list));
}

static struct assigned *find_assigned(const struct tandem_consumer *c, const char *topic,
                                      int32_t partition)
{
    for (size_t i = 0; i < c->nassigned; i++) {
        if (c->assigned[i].partition == partition && strcmp(c->assigned[i].topic, topic) == 0)
            return &c->assigned[i];
    }
    return NULL;
}

/* events_stats_lags' filter, on the stats thread under lag_mu: an assigned partition, and where
 * the service started it. */
static bool lag_keep(const char *topic, int32_t partition, void *arg, int64_t *start)
{
    const struct assigned *a = find_assigned(arg, topic, partition);
    if (a != NULL)
        *start = a->start;
    return a != NULL;
}

/* Keeps the assignment for the lag table and the handled ranges: parts added (assigned, their
 * ranges start empty) or removed; replace: the eager protocol's assignment is the whole set (and
 * its revocation everything). */
static void track_assignment(struct tandem_consumer *c,
                             const rd_kafka_topic_partition_list_t *parts, bool add, bool replace)
{
    pthread_mutex_lock(&c->lag_mu);
    if (replace)
        c->nassigned = 0;
    for (int i = 0; add && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (strlen(p->topic) > TANDEM_TOPIC_MAX)
            continue;
        struct assigned *a = find_assigned(c, p->topic, p->partition);
        if (a == NULL) {
            struct assigned *grown = realloc(c->assigned, (c->nassigned + 1) * sizeof(*grown));
            if (grown == NULL)
                break; /* no lag shown and no rewind skipped; consumption is not affected */
            c->assigned = grown;
            a = &grown[c->nassigned++];
            snprintf(a->topic, sizeof(a->topic), "%s", p->topic);
            a->partition = p->partition;
        }
        a->start = a->first = a->next = -1;
        a->rewinding = false;
    }
    for (int i = 0; !add && !replace && i < parts->cnt; i++) {
        for (size_t k = 0; k < c->nassigned; k++) {
            if (c->assigned[k].partition == parts->elems[i].partition &&
                strcmp(c->assigned[k].topic, parts->elems[i].topic) == 0) {
                c->assigned[k] = c->assigned[--c->nassigned];
                break;
            }
        }
    }
    size_t kept = 0; /* a partition that left has no lag here any more */
    for (size_t i = 0; i < c->nlags; i++) {
        if (find_assigned(c, c->lags[i].topic, c->lags[i].partition) != NULL)
            c->lags[kept++] = c->lags[i];
    }
    c->nlags = kept;
    pthread_mutex_unlock(&c->lag_mu);
}

/* librdkafka's statistics, on the stats thread: the lag table replaced. Returns 0: librdkafka
 * frees json. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct tandem_consumer *c = opaque;
    struct tandem_partition_lag *lags = NULL;
    size_t n = 0;
    pthread_mutex_lock(&c->lag_mu);
    if (events_stats_lags(json, len, lag_keep, c, &lags, &n) == 0) {
        free(c->lags);
        c->lags = lags;
        c->nlags = n;
    }
    pthread_mutex_unlock(&c->lag_mu);
    return 0;
}

/* librdkafka's client-wide errors (all brokers down, say), on the stats thread: logged as the
 * consumer's errors were when they came through the consumer queue. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char r[512];
    log_warn("events: consumer error", "\"error\":\"%s\",\"reason\":%s",
             rd_kafka_err2name((rd_kafka_resp_err_t)err), log_json_str(r, sizeof(r), reason));
}

static void *stats_thread(void *arg)
{
    struct tandem_consumer *c = arg;
    while (!atomic_load(&c->stats_stop))
        rd_kafka_poll(c->rk, 100);
    return NULL;
}

/* Calls on_partitions for parts (on the consumer thread, inside the rebalance callback), as a
 * handler call is made: not once the stopper has given up waiting (orphaned), and the stopper
 * waits for a call in progress (in_handler). An assignment takes the offsets the hook set. */
static void partitions_hook(struct tandem_consumer *c, bool assigned,
                            rd_kafka_topic_partition_list_t *parts)
{
    if (c->on_partitions == NULL || parts->cnt == 0)
        return;
    pthread_mutex_lock(&c->mu);
    bool go = !c->orphaned;
    c->in_handler = go;
    pthread_mutex_unlock(&c->mu);
    if (!go)
        return;
    struct tandem_partition *tp = calloc((size_t)parts->cnt, sizeof(*tp));
    if (tp != NULL) {
        for (int i = 0; i < parts->cnt; i++) {
            tp[i].topic = parts->elems[i].topic;
            tp[i].partition = parts->elems[i].partition;
            tp[i].offset = assigned ? TANDEM_OFFSET_COMMITTED : -1;
        }
        c->on_partitions(assigned, tp, (size_t)parts->cnt, c->arg);
        for (int i = 0; assigned && i < parts->cnt; i++) {
            int64_t o = tp[i].offset;
            parts->elems[i].offset =
                o == TANDEM_OFFSET_COMMITTED ? RD_KAFKA_OFFSET_INVALID
                : o >= 0 || o == TANDEM_OFFSET_BEGINNING || o == TANDEM_OFFSET_END
                    ? o
                    : RD_KAFKA_OFFSET_INVALID;
        }
        free(tp);
    } else {
        log_error("events: out of memory for the partitions hook", NULL);
    }
    pthread_mutex_lock(&c->mu);
    c->in_handler = false;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Keeps the offsets the partitions hook started parts at (absolute ones: a logical offset has no
 * position yet) for the lag: a partition started at the log end by a service that already holds
 * everything before it has nothing to hand out, and no committed offset in the statistics. */
static void track_starts(struct tandem_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    pthread_mutex_lock(&c->lag_mu);
    for (int i = 0; i < parts->cnt; i++) {
        struct assigned *a = find_assigned(c, parts->elems[i].topic, parts->elems[i].partition);
        if (a != NULL)
            a->start = parts->elems[i].offset >= 0 ? parts->elems[i].offset : -1;
    }
    pthread_mutex_unlock(&c->lag_mu);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct tandem_consumer *c = opaque;
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    bool coop = protocol != NULL && strcmp(protocol, "COOPERATIVE") == 0;
    log_rebalance(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "events: partitions assigned"
                                                              : "events: partitions revoked",
                  protocol != NULL ? protocol : "NONE", parts);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        track_assignment(c, parts, true, !coop);
        partitions_hook(c, true, parts);
        track_starts(c, parts);
        if (coop)
            error_free(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        return;
    }
    track_assignment(c, parts, false, !coop);
    /* Revoked (or lost): commit what was handled before anyone else may read these. */
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !rd_kafka_assignment_lost(rk))
        commit(c, true);
    partitions_hook(c, false, parts);
    if (coop)
        error_free(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

struct dlq_report {
    bool done;
    rd_kafka_resp_err_t err;
};

static void on_dlq_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dlq_report *r = m->_private;
    r->err = m->err;
    r->done = true;
}

/* Produces m to its dead-letter topic and waits for the broker's answer. Returns 0 or -1. */
static int dead_letter_once(struct tandem_consumer *c, const rd_kafka_message_t *m, int attempts,
                            bool permanent)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    size_t tl = strlen(topic), sl = strlen(c->suffix);
    char *dlq_topic = malloc(tl + sl + 1);
    if (dlq_topic == NULL)
        return -1;
    memcpy(dlq_topic, topic, tl);
    memcpy(dlq_topic + tl, c->suffix, sl + 1);
    rd_kafka_headers_t *orig = NULL;
    rd_kafka_headers_t *h = rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR
                                ? rd_kafka_headers_copy(orig)
                                : rd_kafka_headers_new(EVENTS_DLQ_HEADERS);
    struct events_dlq d;
    struct tandem_kafka_header dh[EVENTS_DLQ_HEADERS];
    events_dlq_headers(&d, topic, m->partition, m->offset, attempts, permanent, dh);
    for (int i = 0; i < EVENTS_DLQ_HEADERS; i++)
        rd_kafka_header_add(h, dh[i].name, -1, dh[i].value, (ssize_t)dh[i].value_len);
    struct dlq_report r = {false, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_resp_err_t err = rd_kafka_producev(
        c->dlq, RD_KAFKA_V_TOPIC(dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&r), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        r.done = true;
        r.err = err;
    }
    while (!r.done) /* bounded by message.timeout.ms */
        rd_kafka_poll(c->dlq, 100);
    if (r.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char b[256];
        log_warn("events: dead letter not delivered", "\"topic\":%s,\"error\":\"%s\"",
                 log_json_str(b, sizeof(b), dlq_topic), rd_kafka_err2name(r.err));
    }
    free(dlq_topic);
    return r.err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

static enum outcome dead_letter(struct tandem_consumer *c, const rd_kafka_message_t *m,
                                int attempts, bool permanent)
{
    for (int tries = 1;; tries++) {
        if (dead_letter_once(c, m, attempts, permanent) == 0) {
            atomic_fetch_add(&c->dead_lettered, 1);
            return DONE;
        }
        int64_t ms =
            events_backoff_ms(tries, c->s.backoff_initial_ms, c->s.backoff_max_ms, rng_next(c));
        if (!wait_or_stop(c, ms))
            return ABANDON;
    }
}

/* Fills ev from m; *buf gets the decode buffer (free it after the handler). */
static void event_of(const rd_kafka_message_t *m, struct tandem_event *ev, char **buf)
{
    memset(ev, 0, sizeof(*ev));
    ev->topic = rd_kafka_topic_name(m->rkt);
    ev->partition = m->partition;
    ev->offset = m->offset;
    ev->key = m->key;
    ev->key_len = m->key_len;
    ev->data = m->payload;
    ev->data_len = m->len;
    *buf = NULL;
    struct tandem_kafka_header h[MAX_IN_HEADERS];
    size_t n = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        while (n < MAX_IN_HEADERS &&
               rd_kafka_header_get_all(hdrs, n, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            h[n].name = name;
            h[n].value = val;
            h[n].value_len = size;
            n++;
        }
    }
    size_t len = events_decode_buf_size(h, n);
    *buf = malloc(len);
    if (*buf != NULL)
        events_record_decode(h, n, *buf, len, ev);
}

static enum outcome handle(struct tandem_consumer *c, const rd_kafka_message_t *m)
{
    struct tandem_event ev;
    char *buf;
    event_of(m, &ev, &buf);
    atomic_fetch_add(&c->consumed, 1);
    enum outcome o = DONE;
    for (int attempt = 1;; attempt++) {
        ev.attempt = attempt;
        if (attempt > 1)
            atomic_fetch_add(&c->retried, 1);
        pthread_mutex_lock(&c->mu);
        bool go = !c->stop; /* never start a handler call once stop is asked */
        c->in_handler = go;
        pthread_mutex_unlock(&c->mu);
        if (!go) {
            o = ABANDON; /* not handled: stays uncommitted, redelivered */
            break;
        }
        int r = c->handler(&ev, c->arg);
        pthread_mutex_lock(&c->mu);
        c->in_handler = false;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        if (r == TANDEM_EVENT_OK)
            break;
        if (r == TANDEM_EVENT_RETRY && attempt < c->s.max_attempts) {
            int64_t ms = events_backoff_ms(attempt, c->s.backoff_initial_ms, c->s.backoff_max_ms,
                                           rng_next(c));
            if (wait_or_stop(c, ms))
                continue;
            o = ABANDON;
            break;
        }
        o = dead_letter(c, m, attempt, r != TANDEM_EVENT_RETRY);
        break;
    }
    free(buf);
    if (o == DONE) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, ev.topic, m->partition)->offset = m->offset + 1;
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("events: offset store failed", "\"error\":\"%s\"", rd_kafka_err2name(err));
        rd_kafka_topic_partition_list_destroy(l);
        c->uncommitted++;
    }
    return o;
}

static void consumer_free(struct tandem_consumer *c)
{
    free(c->assigned);
    free(c->lags);
    pthread_mutex_destroy(&c->lag_mu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->suffix);
    free(c);
}

static void stats_thread_stop(struct tandem_consumer *c)
{
    if (c->stats_started) {
        atomic_store(&c->stats_stop, true);
        pthread_join(c->stats_thread, NULL);
        c->stats_started = false;
    }
}

/*
 * True when m was handled already since its partition (a, NULL when untracked) was assigned
 * here: its offset lies in the partition's handled range [first, next). librdkafka before 2.4.0 can
 * restart a partition's fetch at an older offset while the partition stays assigned: a resume
 * (which every rebalance step does to the whole assignment, the partitions kept in a cooperative
 * rebalance included) bumps the partition's op version even when it was not paused, and a fetch at
 * a new version starts over at rktp_next_offset, left wherever the last pause or fetch start put it
 * (librdkafka #4636; rd_kafka_toppar_pause_resume and rd_kafka_toppar_fetch_decide in 2.0.2).
 * Without this check those records are handled again: integration/lib_cooperative, under CI's load,
 * saw 20 records of a partition that member a kept through a rebalance handled twice. Records are
 * handled in offset order, one at a time, so every offset in the range was handled (or
 * dead-lettered) by this member; an offset below first (a reset to the log start) is handled as
 * usual. A skipped record is counted (rewound) and its offset not stored; each rewind is logged
 * once. The group's committed offset identifies records the same way: a broker that lost a tail
 * and wrote other records at its offsets is skipped past by a restarted member as well.
 */
static bool already_handled(struct tandem_consumer *c, struct assigned *a,
                            const rd_kafka_message_t *m)
{
    if (a == NULL || m->offset < a->first || m->offset >= a->next) {
        if (a != NULL)
            a->rewinding = false;
        return false;
    }
    atomic_fetch_add(&c->rewound, 1);
    if (!a->rewinding) {
        char t[TANDEM_TOPIC_MAX + 8];
        log_info("events: fetch rewound, records already handled are skipped",
                 "\"topic\":%s,\"partition\":%d,\"offset\":%" PRId64 ",\"next\":%" PRId64,
                 log_json_str(t, sizeof(t), a->topic), (int)a->partition, m->offset, a->next);
        a->rewinding = true;
    }
    return true;
}

/* Extends the handled range of m's partition (a, NULL when untracked) with m, done. */
static void handled(struct assigned *a, const rd_kafka_message_t *m)
{
    if (a == NULL)
        return;
    if (a->first < 0 || m->offset < a->first)
        a->first = m->offset;
    a->next = m->offset + 1;
}

static void *consumer_thread(void *arg)
{
    struct tandem_consumer *c = arg;
    while (!stopping(c)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        enum outcome o = DONE;
        if (m != NULL && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* a stays valid through handle(): only a rebalance callback, which runs inside
             * this thread's poll, changes the assignment */
            struct assigned *a = find_assigned(c, rd_kafka_topic_name(m->rkt), m->partition);
            if (!already_handled(c, a, m)) {
                o = handle(c, m);
                if (o == DONE)
                    handled(a, m);
            }
        } else if (m != NULL && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* UNKNOWN_TOPIC_OR_PART names a subscribed topic not created yet (once per topic) */
            const char *topic = m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : NULL;
            char t[TANDEM_TOPIC_MAX + 8];
            log_warn("events: consumer error", "\"error\":\"%s\",\"topic\":%s",
                     rd_kafka_err2name(m->err), log_json_str(t, sizeof(t), topic));
        }
        if (m != NULL)
            rd_kafka_message_destroy(m);
        if (o == ABANDON)
            break;
        int64_t now = clock_mono_ms();
        if (c->uncommitted >= COMMIT_EVERY || now - c->last_commit_ms >= COMMIT_INTERVAL_MS)
            commit(c, false);
    }
    /* The drain: commit what was handled, leave the group (revoke commits again), close; then
     * the stats thread stops and what it left on the main queue is served here. */
    commit(c, true);
    rd_kafka_consumer_close(c->rk);
    stats_thread_stop(c);
    rd_kafka_poll(c->rk, 0);
    rd_kafka_destroy(c->rk);
    rd_kafka_flush(c->dlq, 5000);
    rd_kafka_destroy(c->dlq);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    bool orphaned = c->orphaned;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (orphaned)
        consumer_free(c);
    return NULL;
}

/* Creates one librdkafka handle of type with the settings kv[n][2]. */
static int kafka_new(rd_kafka_type_t type, const char *(*kv)[2], size_t n, void *opaque,
                     rd_kafka_t **out)
{
    rd_kafka_conf_t *conf = events_conf_new();
    for (size_t i = 0; i < n; i++) {
        if (events_conf_set(conf, kv[i][0], kv[i][1]) != 0) {
            rd_kafka_conf_destroy(conf);
            return TANDEM_EINVAL;
        }
    }
    rd_kafka_conf_set_opaque(conf, opaque);
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
        rd_kafka_conf_set_stats_cb(conf, on_stats);
        rd_kafka_conf_set_error_cb(conf, on_error);
    } else {
        rd_kafka_conf_set_dr_msg_cb(conf, on_dlq_delivery);
    }
    char errstr[256];
    *out = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (*out == NULL) {
        char b[300];
        log_error("events: rd_kafka_new failed", "\"error\":%s",
                  log_json_str(b, sizeof(b), errstr));
        rd_kafka_conf_destroy(conf);
        return TANDEM_EIO;
    }
    return 0;
}

static int subscribe(struct tandem_consumer *c, const struct tandem_consumer_config *cfg)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(cfg->ntopics);
    for (int i = 0; i < cfg->ntopics; i++)
        rd_kafka_topic_partition_list_add(l, cfg->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : TANDEM_EINVAL;
}

int tandem_consumer_start(const struct tandem_consumer_config *cfg, struct tandem_consumer **out)
{
    struct events_consumer_settings s;
    if (out == NULL || events_consumer_settings(cfg, &s) != 0)
        return TANDEM_EINVAL;
    struct tandem_consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return TANDEM_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->lag_mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->s = s;
    c->handler = cfg->handler;
    c->on_partitions = cfg->on_partitions;
    c->arg = cfg->arg;
    int rc = TANDEM_ENOMEM;
    c->suffix = strdup(s.dead_letter_suffix);
    if (c->suffix == NULL)
        goto fail;
    if (getrandom(&c->rng, sizeof(c->rng), 0) != (ssize_t)sizeof(c->rng) || c->rng == 0)
        c->rng = 0x9e3779b97f4a7c15u;
    char session[16], poll[16], queued[16];
    snprintf(session, sizeof(session), "%d", s.session_timeout_ms);
    snprintf(poll, sizeof(poll), "%d", s.max_poll_interval_ms);
    snprintf(queued, sizeof(queued), "%d", cfg->queued_records > 0 ? cfg->queued_records : 100000);
    const char *client = cfg->client_id ? cfg->client_id : "tandem";
    const char *ckv[][2] = {
        {"bootstrap.servers", cfg->brokers},
        {"group.id", cfg->group_id},
        {"client.id", client},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        /* missing topics: see the opening comment */
        {"topic.metadata.refresh.interval.ms", METADATA_REFRESH_MS},
        {"session.timeout.ms", session},
        {"max.poll.interval.ms", poll},
        {"statistics.interval.ms", STATS_INTERVAL_MS},
        {"topic.metadata.refresh.interval.ms", METADATA_REFRESH_MS}, /* late topics: see top */
        {"queued.min.messages", queued}, /* the prefetch: events.h, queued_records */
        {"partition.assignment.strategy", cfg->assignment_strategy}, /* last: optional */
    };
    size_t nckv = sizeof(ckv) / sizeof(ckv[0]);
    if (cfg->assignment_strategy == NULL || cfg->assignment_strategy[0] == '\0')
        nckv--; /* librdkafka's default */
    const char *pkv[][2] = {
        {"bootstrap.servers", cfg->brokers},
        {"client.id", client},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "0"},
        {"message.timeout.ms", DLQ_TIMEOUT_MS},
    };
    rc = kafka_new(RD_KAFKA_CONSUMER, ckv, nckv, c, &c->rk);
    if (rc != 0)
        goto fail;
    rc = kafka_new(RD_KAFKA_PRODUCER, pkv, sizeof(pkv) / sizeof(pkv[0]), c, &c->dlq);
    if (rc != 0)
        goto fail;
    rc = subscribe(c, cfg);
    if (rc != 0)
        goto fail;
    c->last_commit_ms = clock_mono_ms();
    rc = TANDEM_EIO;
    if (pthread_create(&c->stats_thread, NULL, stats_thread, c) != 0)
        goto fail;
    c->stats_started = true;
    if (pthread_create(&c->thread, NULL, consumer_thread, c) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    stats_thread_stop(c);
    if (c->rk != NULL) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    if (c->dlq != NULL)
        rd_kafka_destroy(c->dlq);
    consumer_free(c);
    return rc;
}

void tandem_consumer_stop_begin(struct tandem_consumer *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

int tandem_consumer_stop(struct tandem_consumer *c, int timeout_ms)
{
    if (c == NULL)
        return 0;
    struct timespec dl = clock_deadline(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    while (!c->done) {
        if (timeout_ms < 0)
            pthread_cond_wait(&c->cv, &c->mu);
        else if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
            break;
    }
    if (!c->done && c->in_handler) {
        /* Past the timeout with the handler still running: wait for it, unbounded, so that
         * nothing it reaches is freed under it (events.h). Said loudly: the drain overruns. */
        log_warn("events: consumer stop timed out inside the handler; waiting for it to return",
                 "\"timeout_ms\":%d", timeout_ms);
        while (!c->done && c->in_handler)
            pthread_cond_wait(&c->cv, &c->mu);
    }
    if (!c->done) {
        c->orphaned = true; /* the thread frees c when it is done */
        pthread_detach(c->thread);
        pthread_mutex_unlock(&c->mu);
        return TANDEM_ETIMEDOUT;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    consumer_free(c);
    return 0;
}

void tandem_consumer_stats(struct tandem_consumer *c, struct tandem_event_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->consumed = atomic_load(&c->consumed);
    out->retried = atomic_load(&c->retried);
    out->dead_lettered = atomic_load(&c->dead_lettered);
    out->committed = atomic_load(&c->committed);
    out->rewound = atomic_load(&c->rewound);
    pthread_mutex_lock(&c->lag_mu);
    for (size_t i = 0; i < c->nlags; i++)
        out->lag += c->lags[i].lag;
    pthread_mutex_unlock(&c->lag_mu);
}

rd_kafka_t *events_consumer_kafka(struct tandem_consumer *c)
{
    return c->rk;
}

size_t tandem_consumer_lags(struct tandem_consumer *c, struct tandem_partition_lag *out, size_t cap)
{
    pthread_mutex_lock(&c->lag_mu);
    size_t n = c->nlags;
    if (n > 0 && cap > 0)
        memcpy(out, c->lags, (n < cap ? n : cap) * sizeof(*out));
    pthread_mutex_unlock(&c->lag_mu);
    return n;
}
