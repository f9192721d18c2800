/*
 * lib-events-check: drives libtandem's events (include/tandem/events.h) against a real broker
 * for tests/integration/lib_events.sh. Each command is one scenario and exits 0 only when all
 * its checks passed; failures are printed as "FAIL: ..." lines.
 *
 *   roundtrip -b B -t T -g G -n N   N keyed events published (10 keys, ids, subjects, and a
 *                                   traceparent for even ones) then consumed by a group: every
 *                                   attribute intact, per-key order, committed = log end, lag 0
 *   retry     -b B -t T -g G        a record RETRY twice then OK (attempts 1, 2, 3; its offset
 *                                   not committed before the OK), one FAIL and one exhausting
 *                                   its attempts: both in T.dlq with the error headers, and the
 *                                   records after them consumed
 *   produce   -b B -t T -n N [-k K]  N events, values {"seq":i}, keys k<i%K> (K: 10), then flush
 *   consume   -b B -t T -g G -o F [-d MS]  consumes until SIGTERM, appending "seq offset
 *                                   attempt topic" per handled record to F (MS ms per record);
 *                                   stops with tandem_consumer_stop and prints STOPPED. T may
 *                                   be several topics, comma-separated (one subscription)
 *   drain     -b B -t T -g G        stop() while a handler is in progress: it finishes and its
 *                                   offset is committed
 *   overrun   -b B -t T -g G        stop(200 ms) while a handler runs 1.5 s more and then
 *                                   publishes through a producer and writes to its arg: stop
 *                                   returns only after the handler did, so freeing both right
 *                                   after is safe (ASan: the handler used them after free)
 *   abandon   -b B -t T -g G        stop() while a record waits 5 s for its retry: stop returns at
 *                                   once, the record is not retried nor committed
 *   unreachable -b B -t T           a producer whose broker never answers: flush times out, free
 *                                   drops the records and each callback gets TANDEM_ECLOSED
 *   hook      -b B -t T -g G        the assignment hook (on_partitions) sets where the
 *                                   partition starts (an offset, the beginning, the committed
 *                                   offset), is called before any record and never during a
 *                                   handler, and at stop after the final commit; a 3-record
 *                                   prefetch (queued_records) still delivers every record
 *   rewind    -b B -t T -g G -n N   N records in partition 0; when half are handled, the
 *                                   partition is resumed though not paused (librdkafka before
 *                                   2.4.0 then fetches it again from the start): each record is
 *                                   handled once, the rewind is counted (stats.rewound) when
 *                                   this librdkafka has the bug, and committed = N
 *   committed -b B -t T -g G -p P   prints the group's committed offset of partition P
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "tandem/events.h"

#include "it_check.h"
#include "kafka_int.h"

#define MAX_TOPICS 8

static const char *brokers, *topic, *group, *outfile;
static const char *topic_list[MAX_TOPICS]; /* -t split at commas; topic is the first */
static int ntopic_list;
static int nevents = 1000, delay_ms, partition, nkeys = 10;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A consumer handle that never subscribes: reads the group's committed offsets. */
static rd_kafka_t *offsets_handle(void)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        exit(2);
    }
    return rk;
}

static int64_t committed_of(rd_kafka_t *rk, int32_t part)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, part);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 10000);
    int64_t off = err ? -2 : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

/* Waits up to secs for the committed offset of part to reach want. */
static int64_t wait_committed(rd_kafka_t *rk, int32_t part, int64_t want, int secs)
{
    int64_t deadline = now_ms() + secs * 1000, off;
    while ((off = committed_of(rk, part)) < want && now_ms() < deadline)
        sleep_ms(100);
    return off;
}

/* --- publishing -------------------------------------------------------------------------- */

static atomic_int delivered_ok, delivered_err;
static pthread_t main_thread;
static atomic_int cb_on_main;

static void on_delivery(int err, const char *t, int32_t part, int64_t off, void *opaque)
{
    if (err == 0 && part >= 0 && off >= 0)
        atomic_fetch_add(&delivered_ok, 1);
    else
        atomic_fetch_add(&delivered_err, 1);
    if (pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&cb_on_main, 1);
}

#define TP_FMT "00-%032x-%016x-01"

static void publish_n(int n, bool attrs)
{
    struct tandem_events_config cfg = {.brokers = brokers, .client_id = "it", .source = "/it/src"};
    struct tandem_producer *p;
    if (tandem_producer_new(&cfg, &p) != 0) {
        fprintf(stderr, "tandem_producer_new failed\n");
        exit(2);
    }
    for (int i = 0; i < n; i++) {
        char key[16], data[64], id[32], subject[32], tp[64];
        snprintf(key, sizeof(key), "k%d", i % nkeys);
        snprintf(data, sizeof(data), "{\"seq\":%d,\"key\":\"%s\"}", i, key);
        snprintf(id, sizeof(id), "id-%d", i);
        snprintf(subject, sizeof(subject), "s-%d", i);
        snprintf(tp, sizeof(tp), TP_FMT, i + 1, i + 7);
        struct tandem_event_out ev = {.topic = topic,
                                      .key = key,
                                      .key_len = strlen(key),
                                      .type = "it.event",
                                      .data = data,
                                      .data_len = strlen(data)};
        if (attrs) {
            ev.id = i % 3 ? id : NULL;
            ev.subject = subject;
            ev.traceparent = i % 2 ? NULL : tp;
        }
        int rc;
        while ((rc = tandem_publish(p, &ev, on_delivery, NULL)) == TANDEM_EAGAIN)
            sleep_ms(10);
        CHECK(rc == 0, "publish %d: %s", i, tandem_strerror(rc));
    }
    CHECK(tandem_producer_flush(p, 30000) == 0, "flush timed out");
    struct tandem_event_stats st;
    tandem_producer_stats(p, &st);
    CHECK(st.produced == (uint64_t)n && st.delivered == (uint64_t)n && st.delivery_failed == 0,
          "producer stats %" PRIu64 "/%" PRIu64 "/%" PRIu64, st.produced, st.delivered,
          st.delivery_failed);
    /* Invalid input is refused at once, and nothing is queued. */
    struct tandem_event_out bad = {.topic = topic, .type = "it.event", .data = "{", .data_len = 1};
    CHECK(tandem_publish(p, &bad, on_delivery, NULL) == TANDEM_EINVAL, "non-JSON data accepted");
    bad.data = "{}";
    bad.data_len = 2;
    bad.traceparent = "00-00000000000000000000000000000000-0000000000000000-01";
    CHECK(tandem_publish(p, &bad, on_delivery, NULL) == TANDEM_EINVAL, "bad traceparent accepted");
    tandem_producer_free(p);
    CHECK(atomic_load(&delivered_ok) == n, "%d of %d delivery reports ok", delivered_ok, n);
    CHECK(atomic_load(&delivered_err) == 0, "%d failed delivery reports", delivered_err);
    CHECK(atomic_load(&cb_on_main) == 0, "a delivery callback ran on the publishing thread");
}

/* --- consuming --------------------------------------------------------------------------- */

struct seen {
    atomic_int count;
    int last_seq[10];
    int dups;
};

static int seq_of(const struct tandem_event *ev)
{
    const char *d = ev->data;
    if (d == NULL || ev->data_len < 8 || memcmp(d, "{\"seq\":", 7) != 0)
        return -1;
    return atoi(d + 7);
}

static int roundtrip_handler(const struct tandem_event *ev, void *arg)
{
    struct seen *s = arg;
    int seq = seq_of(ev);
    CHECK(seq >= 0 && seq < nevents, "bad data at offset %" PRId64, ev->offset);
    if (seq < 0 || seq >= nevents)
        return TANDEM_EVENT_OK;
    char key[16], id[32], subject[32], tp[64];
    snprintf(key, sizeof(key), "k%d", seq % 10);
    snprintf(id, sizeof(id), "id-%d", seq);
    snprintf(subject, sizeof(subject), "s-%d", seq);
    snprintf(tp, sizeof(tp), TP_FMT, seq + 1, seq + 7);
    CHECK(ev->key_len == strlen(key) && memcmp(ev->key, key, ev->key_len) == 0, "key of %d", seq);
    CHECK(ev->attempt == 1, "attempt %d", ev->attempt);
    CHECK(ev->type && strcmp(ev->type, "it.event") == 0, "type of %d", seq);
    CHECK(ev->source && strcmp(ev->source, "/it/src") == 0, "source of %d", seq);
    CHECK(ev->subject && strcmp(ev->subject, subject) == 0, "subject of %d", seq);
    CHECK(ev->time && strlen(ev->time) == 24 && ev->time[23] == 'Z', "time of %d", seq);
    if (seq % 3)
        CHECK(ev->id && strcmp(ev->id, id) == 0, "id of %d", seq);
    else
        CHECK(ev->id && strlen(ev->id) == 36 && ev->id[14] == '4', "uuid of %d", seq);
    if (seq % 2 == 0)
        CHECK(ev->traceparent && strcmp(ev->traceparent, tp) == 0, "traceparent of %d", seq);
    else
        CHECK(ev->traceparent && strlen(ev->traceparent) == 55, "new trace of %d", seq);
    int k = seq % 10;
    CHECK(seq > s->last_seq[k], "key %d: %d after %d (order)", k, seq, s->last_seq[k]);
    s->last_seq[k] = seq;
    atomic_fetch_add(&s->count, 1);
    return TANDEM_EVENT_OK;
}

static struct tandem_consumer *start(tandem_event_handler_fn fn, void *arg, int max_attempts,
                                     int64_t backoff_ms)
{
    struct tandem_consumer_config cfg = {.brokers = brokers,
                                         .group_id = group,
                                         .topics = topic_list,
                                         .ntopics = ntopic_list,
                                         .handler = fn,
                                         .arg = arg,
                                         .max_attempts = max_attempts,
                                         .backoff_initial_ms = backoff_ms,
                                         .backoff_max_ms = backoff_ms * 8,
                                         .session_timeout_ms = 6000,
                                         .client_id = "it"};
    struct tandem_consumer *c;
    int rc = tandem_consumer_start(&cfg, &c);
    if (rc != 0) {
        fprintf(stderr, "tandem_consumer_start: %s\n", tandem_strerror(rc));
        exit(2);
    }
    return c;
}

static int cmd_roundtrip(void)
{
    publish_n(nevents, true);
    struct seen s = {0};
    for (int k = 0; k < 10; k++)
        s.last_seq[k] = -1;
    struct tandem_consumer *c = start(roundtrip_handler, &s, 0, 50);
    int64_t deadline = now_ms() + 60000;
    while (atomic_load(&s.count) < nevents && now_ms() < deadline)
        sleep_ms(50);
    CHECK(atomic_load(&s.count) == nevents, "consumed %d of %d", s.count, nevents);
    sleep_ms(1200); /* a lag refresh after the last record */
    struct tandem_event_stats st;
    tandem_consumer_stats(c, &st);
    CHECK(st.consumed == (uint64_t)nevents && st.retried == 0 && st.dead_lettered == 0,
          "consumer stats consumed %" PRIu64, st.consumed);
    CHECK(st.lag == 0, "lag %" PRId64, st.lag);
    CHECK(st.committed > 0, "no commit counted");
    CHECK(tandem_consumer_stop(c, 20000) == 0, "stop timed out");
    /* Everything committed: the committed offsets add up to the number of records. */
    rd_kafka_t *rk = offsets_handle();
    int64_t total = 0;
    for (int32_t p = 0; p < 4; p++) {
        int64_t off = committed_of(rk, p);
        total += off > 0 ? off : 0;
    }
    CHECK(total == nevents, "committed offsets sum to %" PRId64, total);
    rd_kafka_destroy(rk);
    printf("roundtrip: %d events, %d delivery reports\n", nevents, delivered_ok);
    return failures ? 1 : 0;
}

/* --- retries and dead letters ------------------------------------------------------------ */

struct retry_state {
    rd_kafka_t *offsets;
    int attempts[5][8]; /* per seq: the attempt numbers seen, in order */
    int n[5];
    atomic_int handled;
};

static int retry_handler(const struct tandem_event *ev, void *arg)
{
    struct retry_state *s = arg;
    int seq = seq_of(ev);
    if (seq < 0 || seq > 4)
        return TANDEM_EVENT_OK;
    if (s->n[seq] < 8)
        s->attempts[seq][s->n[seq]++] = ev->attempt;
    /* Not committed before it is done: the group's offset is at most this record's. */
    int64_t c = committed_of(s->offsets, ev->partition);
    CHECK(c <= ev->offset, "seq %d attempt %d: committed %" PRId64 " past offset %" PRId64, seq,
          ev->attempt, c, ev->offset);
    int r = TANDEM_EVENT_OK;
    if (seq == 1 && ev->attempt < 3)
        r = TANDEM_EVENT_RETRY;
    else if (seq == 2)
        r = TANDEM_EVENT_FAIL;
    else if (seq == 3)
        r = TANDEM_EVENT_RETRY; /* until exhausted */
    if (r == TANDEM_EVENT_OK || seq == 2 || (seq == 3 && ev->attempt == 3))
        atomic_fetch_add(&s->handled, 1);
    return r;
}

static const char *header(rd_kafka_headers_t *h, const char *name, char *buf, size_t len)
{
    const void *v;
    size_t size;
    if (h == NULL || rd_kafka_header_get_last(h, name, &v, &size) || v == NULL || size >= len)
        return "";
    memcpy(buf, v, size);
    buf[size] = '\0';
    return buf;
}

/* Reads up to n records of partition 0 of topic t from the start, without a group, through *rkp
 * (destroy the messages, then *rkp). Returns the count. */
static int read_topic(const char *t, rd_kafka_message_t **out, int n, int secs, rd_kafka_t **rkp)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "lib-events-check-reader", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, t, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int got = 0;
    int64_t deadline = now_ms() + secs * 1000;
    while (got < n && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m != NULL && m->err == 0)
            out[got++] = m;
        else if (m != NULL)
            rd_kafka_message_destroy(m);
    }
    *rkp = rk;
    return got;
}

static void check_dead_letter(rd_kafka_message_t *m, int seq, const char *error,
                              const char *attempts)
{
    char want[64], key[16], buf[128];
    snprintf(want, sizeof(want), "{\"seq\":%d,\"key\":\"k%d\"}", seq, seq % 10);
    snprintf(key, sizeof(key), "k%d", seq % 10);
    CHECK(m->len == strlen(want) && memcmp(m->payload, want, m->len) == 0, "dlq value of %d", seq);
    CHECK(m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0, "dlq key of %d", seq);
    rd_kafka_headers_t *h = NULL;
    rd_kafka_message_headers(m, &h);
    CHECK(strcmp(header(h, "tandem_error", buf, sizeof(buf)), error) == 0, "tandem_error %s", buf);
    CHECK(strcmp(header(h, "tandem_attempts", buf, sizeof(buf)), attempts) == 0,
          "tandem_attempts %s", buf);
    CHECK(strcmp(header(h, "tandem_original_topic", buf, sizeof(buf)), topic) == 0,
          "tandem_original_topic %s", buf);
    CHECK(strcmp(header(h, "tandem_original_partition", buf, sizeof(buf)), "0") == 0,
          "tandem_original_partition %s", buf);
    snprintf(want, sizeof(want), "%d", seq);
    CHECK(strcmp(header(h, "tandem_original_offset", buf, sizeof(buf)), want) == 0,
          "tandem_original_offset %s", buf);
    CHECK(strcmp(header(h, "ce_type", buf, sizeof(buf)), "it.event") == 0, "ce_type kept");
    CHECK(strlen(header(h, "traceparent", buf, sizeof(buf))) == 55, "traceparent kept");
}

static int cmd_retry(void)
{
    publish_n(5, false);
    struct retry_state s = {.offsets = offsets_handle()};
    struct tandem_consumer *c = start(retry_handler, &s, 3, 50);
    int64_t deadline = now_ms() + 60000;
    while (atomic_load(&s.handled) < 5 && now_ms() < deadline)
        sleep_ms(50);
    CHECK(atomic_load(&s.handled) == 5, "handled %d of 5", s.handled);
    int64_t off = wait_committed(s.offsets, 0, 5, 20);
    CHECK(off == 5, "committed %" PRId64 ", want 5", off);
    struct tandem_event_stats st;
    tandem_consumer_stats(c, &st);
    CHECK(tandem_consumer_stop(c, 20000) == 0, "stop timed out");
    CHECK(s.n[1] == 3 && s.attempts[1][0] == 1 && s.attempts[1][1] == 2 && s.attempts[1][2] == 3,
          "seq 1: %d attempts", s.n[1]);
    CHECK(s.n[2] == 1 && s.attempts[2][0] == 1, "seq 2 (FAIL): %d attempts", s.n[2]);
    CHECK(s.n[3] == 3 && s.attempts[3][2] == 3, "seq 3 (exhausted): %d attempts", s.n[3]);
    CHECK(s.n[0] == 1 && s.n[4] == 1, "seq 0 / 4 handled %d / %d times", s.n[0], s.n[4]);
    CHECK(st.consumed == 5 && st.retried == 4 && st.dead_lettered == 2,
          "stats consumed %" PRIu64 " retried %" PRIu64 " dead_lettered %" PRIu64, st.consumed,
          st.retried, st.dead_lettered);
    char dlq[256];
    snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
    rd_kafka_message_t *m[2];
    rd_kafka_t *rk;
    int got = read_topic(dlq, m, 2, 20, &rk);
    CHECK(got == 2, "%d dead letters, want 2", got);
    if (got == 2) {
        check_dead_letter(m[0], 2, "permanent failure", "1");
        check_dead_letter(m[1], 3, "retries exhausted", "3");
    }
    for (int i = 0; i < got; i++)
        rd_kafka_message_destroy(m[i]);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    rd_kafka_destroy(s.offsets);
    printf("retry: ok\n");
    return failures ? 1 : 0;
}

/* --- drain ------------------------------------------------------------------------------- */

static atomic_int in_handler, finished, handled_n;

static int drain_handler(const struct tandem_event *ev, void *arg)
{
    atomic_fetch_add(&handled_n, 1);
    if (seq_of(ev) == 2) {
        atomic_store(&in_handler, 1);
        sleep_ms(1500);
        atomic_store(&finished, 1);
    }
    return TANDEM_EVENT_OK;
}

static int cmd_drain(void)
{
    publish_n(5, false);
    struct tandem_consumer *c = start(drain_handler, NULL, 0, 50);
    int64_t deadline = now_ms() + 60000;
    while (!atomic_load(&in_handler) && now_ms() < deadline)
        sleep_ms(5);
    CHECK(atomic_load(&in_handler), "the handler never reached seq 2");
    int rc = tandem_consumer_stop(c, 20000);
    CHECK(rc == 0, "stop: %s", tandem_strerror(rc));
    CHECK(atomic_load(&finished), "stop returned before the handler in progress finished");
    CHECK(atomic_load(&handled_n) == 3, "%d records handled, want 3", handled_n);
    rd_kafka_t *rk = offsets_handle();
    int64_t off = committed_of(rk, 0);
    CHECK(off == 3, "committed %" PRId64 " after stop, want 3", off);
    rd_kafka_destroy(rk);
    printf("drain: ok\n");
    return failures ? 1 : 0;
}

/* --- a fetch that goes back over handled records ------------------------------------------ */

struct rewind_seen {
    atomic_int handled;
    unsigned char *times; /* per offset: handler calls */
};

static int rewind_handler(const struct tandem_event *ev, void *arg)
{
    struct rewind_seen *r = arg;
    CHECK(ev->partition == 0 && ev->offset >= 0 && ev->offset < nevents, "record at %d/%" PRId64,
          (int)ev->partition, ev->offset);
    if (ev->offset >= 0 && ev->offset < nevents && r->times[ev->offset] < 255)
        r->times[ev->offset]++;
    atomic_fetch_add(&r->handled, 1);
    sleep_ms(2); /* a steady pace, so the resume comes mid-stream */
    return TANDEM_EVENT_OK;
}

static int cmd_rewind(void)
{
    publish_n(nevents, false);
    struct rewind_seen r = {.times = calloc((size_t)nevents, 1)};
    if (r.times == NULL)
        return 2;
    struct tandem_consumer *c = start(rewind_handler, &r, 0, 50);
    int64_t deadline = now_ms() + 60000;
    while (atomic_load(&r.handled) < nevents / 2 && now_ms() < deadline)
        sleep_ms(5);
    CHECK(atomic_load(&r.handled) >= nevents / 2, "%d of %d handled in 60 s", r.handled, nevents);
    /* A resume of a partition that is not paused: rd_kafka_resume_partitions is thread-safe. */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0);
    rd_kafka_resp_err_t err = rd_kafka_resume_partitions(events_consumer_kafka(c), l);
    CHECK(err == RD_KAFKA_RESP_ERR_NO_ERROR, "resume: %s", rd_kafka_err2name(err));
    rd_kafka_topic_partition_list_destroy(l);
    deadline = now_ms() + 60000;
    while (atomic_load(&r.handled) < nevents && now_ms() < deadline)
        sleep_ms(5);
    sleep_ms(1500); /* anything handled twice would come now */
    struct tandem_event_stats st;
    tandem_consumer_stats(c, &st);
    int rc = tandem_consumer_stop(c, 20000);
    CHECK(rc == 0, "stop: %s", tandem_strerror(rc));
    int missing = 0, twice = 0, first_twice = -1;
    for (int i = 0; i < nevents; i++) {
        missing += r.times[i] == 0;
        if (r.times[i] > 1 && twice++ == 0)
            first_twice = i;
    }
    CHECK(missing == 0, "%d records never handled", missing);
    CHECK(twice == 0, "%d records handled more than once, the first at offset %d", twice,
          first_twice);
    /* librdkafka 2.4.0 fixed its rewind (#4636); before it, the resume must have rewound, or
     * this scenario proved nothing about the skipping */
    if (rd_kafka_version() < 0x020400ff)
        CHECK(st.rewound > 0, "librdkafka %s did not rewind: nothing was skipped",
              rd_kafka_version_str());
    CHECK(st.consumed == (uint64_t)nevents, "stats.consumed %" PRIu64 ", want %d", st.consumed,
          nevents);
    rd_kafka_t *rk = offsets_handle();
    int64_t off = wait_committed(rk, 0, nevents, 20);
    CHECK(off == nevents, "committed %" PRId64 ", want %d", off, nevents);
    rd_kafka_destroy(rk);
    free(r.times);
    if (failures)
        return 1;
    printf("rewind: ok (librdkafka %s, %" PRIu64 " records skipped)\n", rd_kafka_version_str(),
           st.rewound);
    return 0;
}

/* --- stop timing out inside a handler ---------------------------------------------------- */

struct overrun {
    struct tandem_producer *p;
    int touched;
};

static atomic_int ov_in, ov_done;

static int overrun_handler(const struct tandem_event *ev, void *arg)
{
    struct overrun *o = arg;
    if (seq_of(ev) != 0)
        return TANDEM_EVENT_OK;
    atomic_store(&ov_in, 1);
    sleep_ms(1500);
    struct tandem_event_out out = {.topic = topic, .type = "it.late", .data = "1", .data_len = 1};
    tandem_publish(o->p, &out, NULL, NULL); /* freed under it before the fix */
    o->touched = 1;
    atomic_store(&ov_done, 1);
    return TANDEM_EVENT_OK;
}

static int cmd_overrun(void)
{
    publish_n(2, false);
    struct overrun *o = calloc(1, sizeof(*o));
    struct tandem_events_config cfg = {.brokers = brokers, .source = "/it/overrun"};
    CHECK(tandem_producer_new(&cfg, &o->p) == 0, "tandem_producer_new");
    struct tandem_consumer *c = start(overrun_handler, o, 0, 50);
    int64_t deadline = now_ms() + 60000;
    while (!atomic_load(&ov_in) && now_ms() < deadline)
        sleep_ms(5);
    CHECK(atomic_load(&ov_in), "the handler never reached seq 0");
    int64_t t0 = now_ms();
    int rc = tandem_consumer_stop(c, 200);
    int64_t took = now_ms() - t0;
    CHECK(rc == 0 || rc == TANDEM_ETIMEDOUT, "stop: %s", tandem_strerror(rc));
    CHECK(atomic_load(&ov_done), "stop returned after %" PRId64 " ms, the handler still running",
          took);
    tandem_producer_free(o->p); /* what the handler reached: safe to free now */
    free(o);
    sleep_ms(2000); /* an orphaned thread finishes its commit and close meanwhile */
    printf("overrun: stop returned %s after %" PRId64 " ms\n", tandem_strerror(rc), took);
    return failures ? 1 : 0;
}

/* --- the assignment hook (on_partitions) and the prefetch setting ------------------------- */

struct hook_state {
    int64_t start_at; /* what the hook sets on assignment (an offset, or a TANDEM_OFFSET_*) */
    atomic_int assigned, revoked, handled, first_seq, handled_before_hook;
    atomic_int in_hook_during_handler;
    atomic_int in_hook;
    int64_t committed_at_revoke;
    rd_kafka_t *offsets;
};

static void hook_partitions(bool assigned, struct tandem_partition *parts, size_t n, void *arg)
{
    struct hook_state *s = arg;
    atomic_store(&s->in_hook, 1);
    CHECK(n == 1 && parts[0].partition == 0 && strcmp(parts[0].topic, topic) == 0,
          "hook: %zu partitions, want %s/0", n, topic);
    if (assigned) {
        CHECK(parts[0].offset == TANDEM_OFFSET_COMMITTED, "hook: assigned offset %" PRId64,
              parts[0].offset);
        if (atomic_load(&s->handled) != 0)
            atomic_fetch_add(&s->handled_before_hook, 1);
        parts[0].offset = s->start_at;
        atomic_fetch_add(&s->assigned, 1);
    } else {
        /* revoked at stop: every handled offset is committed before the hook runs */
        s->committed_at_revoke = committed_of(s->offsets, 0);
        atomic_fetch_add(&s->revoked, 1);
    }
    atomic_store(&s->in_hook, 0);
}

static int hook_handler(const struct tandem_event *ev, void *arg)
{
    struct hook_state *s = arg;
    if (atomic_load(&s->in_hook))
        atomic_fetch_add(&s->in_hook_during_handler, 1);
    if (atomic_fetch_add(&s->handled, 1) == 0)
        atomic_store(&s->first_seq, seq_of(ev));
    return TANDEM_EVENT_OK;
}

/* One consumer of the group whose hook starts at start_at: handles want records, the first
 * being first_seq, then stops. */
static void hook_round(int64_t start_at, int want, int first_seq, int64_t committed_after)
{
    struct hook_state s = {.start_at = start_at, .offsets = offsets_handle()};
    atomic_store(&s.first_seq, -1);
    struct tandem_consumer_config cfg = {.brokers = brokers,
                                         .group_id = group,
                                         .topics = topic_list,
                                         .ntopics = 1,
                                         .handler = hook_handler,
                                         .arg = &s,
                                         .session_timeout_ms = 6000,
                                         .client_id = "it",
                                         .on_partitions = hook_partitions,
                                         .queued_records = 3};
    struct tandem_consumer *c;
    int rc = tandem_consumer_start(&cfg, &c);
    if (rc != 0) {
        fprintf(stderr, "tandem_consumer_start: %s\n", tandem_strerror(rc));
        exit(2);
    }
    int64_t deadline = now_ms() + 30000;
    while (atomic_load(&s.handled) < want && now_ms() < deadline)
        sleep_ms(20);
    sleep_ms(300); /* nothing more comes */
    CHECK(tandem_consumer_stop(c, 20000) == 0, "stop timed out");
    CHECK(atomic_load(&s.handled) == want, "start %" PRId64 ": handled %d, want %d", start_at,
          s.handled, want);
    CHECK(atomic_load(&s.first_seq) == first_seq, "start %" PRId64 ": first seq %d, want %d",
          start_at, s.first_seq, first_seq);
    CHECK(atomic_load(&s.assigned) == 1 && atomic_load(&s.revoked) == 1,
          "hook called %d times assigned, %d revoked; want 1 and 1", s.assigned, s.revoked);
    CHECK(atomic_load(&s.handled_before_hook) == 0, "a record was handled before the hook");
    CHECK(atomic_load(&s.in_hook_during_handler) == 0, "the hook ran during a handler call");
    CHECK(s.committed_at_revoke == committed_after,
          "committed %" PRId64 " when the revoke hook ran, want %" PRId64, s.committed_at_revoke,
          committed_after);
    rd_kafka_destroy(s.offsets);
}

/* The hook sets where the partition starts: an offset (6 of 10), the beginning (all 10 again),
 * or leaves the committed offset (only the 2 published after). The revoke hook at stop sees
 * every handled offset committed. A 3-record prefetch (queued_records) still delivers all. */
static int cmd_hook(void)
{
    publish_n(10, false);
    hook_round(6, 4, 6, 10);
    hook_round(TANDEM_OFFSET_BEGINNING, 10, 0, 10);
    delivered_ok = 0;
    publish_n(2, false); /* seq 0, 1 again, at offsets 10 and 11 */
    hook_round(TANDEM_OFFSET_COMMITTED, 2, 0, 12);
    printf("hook: ok\n");
    return failures ? 1 : 0;
}

/* --- stop during a retry's backoff; a producer that cannot reach its broker --------------- */

static atomic_int waiting;

static int abandon_handler(const struct tandem_event *ev, void *arg)
{
    if (seq_of(ev) != 1)
        return TANDEM_EVENT_OK;
    atomic_store(&waiting, ev->attempt);
    return TANDEM_EVENT_RETRY;
}

static int cmd_abandon(void)
{
    publish_n(2, false);
    struct tandem_consumer *c = start(abandon_handler, NULL, 5, 5000);
    int64_t deadline = now_ms() + 60000;
    while (!atomic_load(&waiting) && now_ms() < deadline)
        sleep_ms(5);
    sleep_ms(100);
    int64_t t0 = now_ms();
    int rc = tandem_consumer_stop(c, 20000);
    int64_t took = now_ms() - t0;
    CHECK(rc == 0, "stop: %s", tandem_strerror(rc));
    CHECK(took < 2500, "stop took %" PRId64 " ms: it waited for the backoff", took);
    CHECK(atomic_load(&waiting) == 1, "retried %d times despite stop", waiting);
    rd_kafka_t *rk = offsets_handle();
    int64_t off = committed_of(rk, 0);
    CHECK(off == 1, "committed %" PRId64 ", want 1 (the retried record stays uncommitted)", off);
    rd_kafka_destroy(rk);
    printf("abandon: stop took %" PRId64 " ms\n", took);
    return failures ? 1 : 0;
}

static atomic_int closed_reports;

static void on_closed(int err, const char *t, int32_t part, int64_t off, void *opaque)
{
    if (err == TANDEM_ECLOSED && part == -1 && off == -1)
        atomic_fetch_add(&closed_reports, 1);
}

/* brokers names a port nobody listens on: flush times out, free drops the records and every
 * callback still runs (TANDEM_ECLOSED). */
static int cmd_unreachable(void)
{
    struct tandem_events_config cfg = {.brokers = brokers, .source = "/it/src"};
    struct tandem_producer *p;
    CHECK(tandem_producer_new(&cfg, &p) == 0, "tandem_producer_new");
    struct tandem_event_out ev = {.topic = topic, .type = "it.event", .data = "1", .data_len = 1};
    for (int i = 0; i < 3; i++)
        CHECK(tandem_publish(p, &ev, on_closed, NULL) == 0, "publish %d", i);
    CHECK(tandem_producer_flush(p, 300) == TANDEM_ETIMEDOUT, "flush did not time out");
    struct tandem_event_stats st;
    tandem_producer_stats(p, &st);
    CHECK(st.produced == 3 && st.delivered == 0, "stats %" PRIu64 "/%" PRIu64, st.produced,
          st.delivered);
    tandem_producer_free(p);
    CHECK(atomic_load(&closed_reports) == 3, "%d ECLOSED reports, want 3", closed_reports);
    printf("unreachable: ok\n");
    return failures ? 1 : 0;
}

/* --- produce / consume for the crash test ------------------------------------------------ */

static volatile sig_atomic_t got_term;
static FILE *out;

static void on_term(int sig)
{
    got_term = 1;
}

static int consume_handler(const struct tandem_event *ev, void *arg)
{
    fprintf(out, "%d %" PRId64 " %d %s\n", seq_of(ev), ev->offset, ev->attempt, ev->topic);
    fflush(out);
    if (delay_ms > 0)
        sleep_ms(delay_ms);
    return TANDEM_EVENT_OK;
}

static int cmd_consume(void)
{
    out = fopen(outfile, "a");
    if (out == NULL)
        return 2;
    fprintf(out, "START\n");
    fflush(out);
    signal(SIGTERM, on_term);
    struct tandem_consumer *c = start(consume_handler, NULL, 0, 50);
    while (!got_term)
        sleep_ms(20);
    struct tandem_event_stats st;
    tandem_consumer_stats(c, &st);
    int rc = tandem_consumer_stop(c, 20000);
    printf("STOPPED rc=%d consumed=%" PRIu64 " committed=%" PRIu64 " lag=%" PRId64 "\n", rc,
           st.consumed, st.committed, st.lag);
    fclose(out);
    return rc == 0 ? 0 : 1;
}

/* Splits "a,b,c" into topic_list, in place (v is argv's). Empty names are skipped. Returns 0, or
 * -1 for no name or more than MAX_TOPICS. */
static int split_topics(char *v)
{
    ntopic_list = 0;
    for (char *save = NULL, *t = strtok_r(v, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (ntopic_list == MAX_TOPICS)
            return -1;
        topic_list[ntopic_list++] = t;
    }
    return ntopic_list > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    main_thread = pthread_self();
    if (argc < 2)
        goto usage;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *f = argv[i];
        char *v = argv[i + 1];
        if (strcmp(f, "-b") == 0)
            brokers = v;
        else if (strcmp(f, "-t") == 0 && split_topics(v) == 0)
            topic = topic_list[0];
        else if (strcmp(f, "-g") == 0)
            group = v;
        else if (strcmp(f, "-o") == 0)
            outfile = v;
        else if (strcmp(f, "-n") == 0)
            nevents = atoi(v);
        else if (strcmp(f, "-d") == 0)
            delay_ms = atoi(v);
        else if (strcmp(f, "-p") == 0)
            partition = atoi(v);
        else if (strcmp(f, "-k") == 0 && atoi(v) > 0)
            nkeys = atoi(v);
        else
            goto usage;
    }
    if (brokers == NULL || topic == NULL)
        goto usage;
    const char *cmd = argv[1];
    if (ntopic_list > 1 && strcmp(cmd, "consume") != 0)
        goto usage; /* the other scenarios are about one topic */
    if (strcmp(cmd, "unreachable") == 0)
        return cmd_unreachable();
    if (strcmp(cmd, "produce") == 0) {
        publish_n(nevents, false);
        return failures ? 1 : 0;
    }
    if (group == NULL)
        goto usage;
    if (strcmp(cmd, "roundtrip") == 0)
        return cmd_roundtrip();
    if (strcmp(cmd, "retry") == 0)
        return cmd_retry();
    if (strcmp(cmd, "drain") == 0)
        return cmd_drain();
    if (strcmp(cmd, "abandon") == 0)
        return cmd_abandon();
    if (strcmp(cmd, "overrun") == 0)
        return cmd_overrun();
    if (strcmp(cmd, "hook") == 0)
        return cmd_hook();
    if (strcmp(cmd, "rewind") == 0)
        return cmd_rewind();
    if (strcmp(cmd, "consume") == 0 && outfile != NULL)
        return cmd_consume();
    if (strcmp(cmd, "committed") == 0) {
        rd_kafka_t *rk = offsets_handle();
        printf("%" PRId64 "\n", committed_of(rk, partition));
        rd_kafka_destroy(rk);
        return 0;
    }
usage:
    fprintf(stderr, "usage: lib-events-check roundtrip|retry|produce|consume|drain|overrun|abandon|"
                    "hook|rewind|unreachable|committed "
                    "-b B -t T[,T...] [-g G] [-n N] [-k K] [-o FILE] [-d MS] [-p P]\n");
    return 2;
}
