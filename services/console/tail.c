/*
 * The events as they flow: one Kafka consumer reading every partition of every topic at its end.
 *
 * Model. The consumer joins no group and commits nothing: it is assigned (incremental_assign) each
 * partition the broker's metadata lists, found within TAIL_META_MS of its creation, starting
 * TAIL_BACKLOG records before the end so the console opens on the recent past. Its group.id
 * ("tandem-console") exists only for librdkafka's API: a consumer that never joins or commits is
 * not a group at the broker, so it shows in no group listing and moves no one's offsets.
 *
 * For each record it keeps a summary (topic, partition, offset, time, ce_type, key, ce_source)
 * in the topic's ring of the last TAIL_RECENT, counts it per topic and per (topic, source) when
 * it is live (at or after the end seen at assignment: the backlog is history, not rate), and
 * queues the summary for the console stream, sent every TAIL_FLUSH_MS as one "events" event (at
 * most TAIL_PENDING per flush; the rest counted as "more"). While a browser has a live tail open
 * (tail_watchers), each record is also formatted whole (record.c) and handed, in batches, to the
 * workers holding the tails (tandem_sse_each), each tail taking its topic's records up to
 * TAIL_PER_S a second and counting what it skips.
 *
 * One thread: the consumer's poll loop, which also refreshes the metadata and flushes. Everything
 * the other threads read (rings, counters) is under `mu`; the watermarks come from librdkafka's
 * own cache (rd_kafka_get_watermark_offsets, thread-safe), kept current by the fetches.
 */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "tandem/service.h"

#define TAIL_RECENT   64          /* summaries kept per topic */
#define TAIL_BACKLOG  20          /* records read back per partition at assignment */
#define TAIL_META_MS  2000        /* metadata refresh: new topics and partitions */
#define TAIL_FLUSH_MS 500         /* console stream "events" */
#define TAIL_PENDING  200         /* summaries per flush at most */
#define TAIL_BATCH_MS 250         /* live tail batches */
#define TAIL_PER_S    200         /* records a second per live tail at most */
#define TAIL_VALUE    (16 * 1024) /* value bytes per record in a live tail */
#define TAIL_SOURCES  16          /* publishers counted per topic */

struct summary {
    int32_t partition;
    int64_t offset, ts;
    char type[96], key[72], source[96];
};

struct tpart {
    int32_t id;
    int64_t live_from; /* the end at assignment: records from here on are live */
};

struct ttopic {
    char name[128];
    struct tpart *parts;
    size_t n_parts;
    double live; /* live records seen */
    struct {
        char source[96];
        double n;
    } sources[TAIL_SOURCES];
    size_t n_sources;
    struct summary ring[TAIL_RECENT];
    size_t ring_n, ring_head;
    bool seen; /* listed by the last metadata */
};

/* A batch of formatted records for the live tails; freed by the last worker (done). */
struct tbatch {
    size_t n, cap;
    struct {
        char topic[128];
        int32_t partition;
        char *text;
    } * r;
};

struct tail {
    struct console *c;
    rd_kafka_t *rk;
    pthread_t thread;
    atomic_bool stop;
    atomic_int watchers;
    pthread_mutex_t mu;
    struct ttopic *topics;
    size_t n_topics;
    json_t *pending; /* summaries for the console stream */
    size_t pending_more;
    struct tbatch *batch;
};

/* A live tail's state: its topic, partition (-1: all), and its share per second. */
struct tail_watch {
    struct tail *t;
    char topic[128];
    int32_t partition;
    int64_t second;
    int sent, skipped;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct ttopic *topic_of(struct tail *t, const char *name)
{
    for (size_t i = 0; i < t->n_topics; i++) {
        if (strcmp(t->topics[i].name, name) == 0) {
            return &t->topics[i];
        }
    }
    return NULL;
}

static int64_t live_from(const struct ttopic *tp, int32_t partition)
{
    for (size_t i = 0; i < tp->n_parts; i++) {
        if (tp->parts[i].id == partition) {
            return tp->parts[i].live_from;
        }
    }
    return INT64_MAX;
}

/* Copies header `name`'s value (printable) into dst, or "". */
static void header_str(rd_kafka_headers_t *h, const char *name, char *dst, size_t cap)
{
    const void *v = NULL;
    size_t n = 0;
    dst[0] = '\0';
    if (h == NULL || rd_kafka_header_get_last(h, name, &v, &n) != 0 || v == NULL) {
        return;
    }
    n = n < cap - 1 ? n : cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Bytes that would not make a JSON string (control bytes, bytes that are not UTF-8) as '?'. */
static void printable(char *s)
{
    json_t *j = json_string(s);
    if (j != NULL) {
        json_decref(j);
        return;
    }
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            *s = '?';
        }
    }
}

static json_t *summary_json(const char *topic, const struct summary *s)
{
    return json_pack("{s:s,s:i,s:I,s:I,s:s,s:s,s:s}", "topic", topic, "partition", s->partition,
                     "offset", (json_int_t)s->offset, "time", (json_int_t)s->ts, "type", s->type,
                     "key", s->key, "source", s->source);
}

/* Counts n records of source (0: a publisher seen in the backlog only, listed all the same). */
static void count_source(struct ttopic *tp, const char *source, double n)
{
    for (size_t i = 0; i < tp->n_sources; i++) {
        if (strcmp(tp->sources[i].source, source) == 0) {
            tp->sources[i].n += n;
            return;
        }
    }
    if (tp->n_sources < TAIL_SOURCES) {
        snprintf(tp->sources[tp->n_sources].source, sizeof(tp->sources[0].source), "%s", source);
        tp->sources[tp->n_sources++].n = n;
    }
}

static void on_record(struct tail *t, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct summary s = {.partition = m->partition, .offset = m->offset};
    rd_kafka_timestamp_type_t tt;
    s.ts = rd_kafka_message_timestamp(m, &tt);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        h = NULL;
    }
    header_str(h, "ce_type", s.type, sizeof(s.type));
    header_str(h, "ce_source", s.source, sizeof(s.source));
    size_t kn = m->key_len < sizeof(s.key) - 1 ? m->key_len : sizeof(s.key) - 1;
    if (m->key != NULL) {
        memcpy(s.key, m->key, kn);
    }
    s.key[m->key != NULL ? kn : 0] = '\0';
    printable(s.type);
    printable(s.source);
    printable(s.key);

    char *text = NULL;
    if (atomic_load(&t->watchers) > 0) {
        json_t *r = record_json(m, TAIL_VALUE);
        if (r != NULL) {
            json_object_set_new(r, "topic", json_string(topic));
            text = json_dumps(r, JSON_COMPACT);
            json_decref(r);
        }
    }

    pthread_mutex_lock(&t->mu);
    struct ttopic *tp = topic_of(t, topic);
    if (tp != NULL) {
        tp->ring_head = (tp->ring_head + 1) % TAIL_RECENT;
        tp->ring[tp->ring_head] = s;
        tp->ring_n += tp->ring_n < TAIL_RECENT;
        bool live = m->offset >= live_from(tp, m->partition);
        tp->live += live;
        count_source(tp, s.source, live ? 1 : 0);
    }
    if (json_array_size(t->pending) < TAIL_PENDING) {
        json_array_append_new(t->pending, summary_json(topic, &s));
    } else {
        t->pending_more++;
    }
    if (text != NULL) {
        if (t->batch == NULL) {
            t->batch = calloc(1, sizeof(*t->batch));
        }
        struct tbatch *b = t->batch;
        if (b != NULL && b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 32;
            void *r = realloc(b->r, cap * sizeof(*b->r));
            if (r != NULL) {
                b->r = r;
                b->cap = cap;
            }
        }
        if (b != NULL && b->n < b->cap) {
            snprintf(b->r[b->n].topic, sizeof(b->r[0].topic), "%s", topic);
            b->r[b->n].partition = m->partition;
            b->r[b->n++].text = text;
            text = NULL;
        }
    }
    pthread_mutex_unlock(&t->mu);
    free(text);
}

static void batch_free(void *arg)
{
    struct tbatch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        free(b->r[i].text);
    }
    free(b->r);
    free(b);
}

/* On a worker, for each live tail: its records of the batch, within its share. */
static void batch_each(struct tandem_sse *sse, void *arg)
{
    struct tbatch *b = arg;
    struct tail_watch *w = tandem_sse_arg(sse);
    int64_t sec = mono_ms() / 1000;
    if (sec != w->second) {
        if (w->skipped > 0) {
            char note[64];
            snprintf(note, sizeof(note), "{\"skipped\":%d}", w->skipped);
            tandem_sse_send(sse, "skipped", NULL, note, strlen(note));
        }
        w->second = sec;
        w->sent = 0;
        w->skipped = 0;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->r[i].topic, w->topic) != 0 ||
            (w->partition >= 0 && b->r[i].partition != w->partition)) {
            continue;
        }
        if (w->sent >= TAIL_PER_S ||
            tandem_sse_send(sse, "record", NULL, b->r[i].text, strlen(b->r[i].text)) != 0) {
            w->skipped++;
        } else {
            w->sent++;
        }
    }
}

static void flush(struct tail *t, bool events, bool batch)
{
    json_t *msg = NULL;
    struct tbatch *b = NULL;
    pthread_mutex_lock(&t->mu);
    if (events && json_array_size(t->pending) > 0) {
        msg = json_pack("{s:o,s:I}", "events", t->pending, "more", (json_int_t)t->pending_more);
        t->pending = json_array();
        t->pending_more = 0;
    }
    if (batch) {
        b = t->batch;
        t->batch = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    if (msg != NULL) {
        char *text = json_dumps(msg, JSON_COMPACT);
        if (text != NULL) {
            tandem_sse_broadcast(t->c->svc, CONSOLE_STREAM, "events", NULL, text, strlen(text));
            free(text);
        }
        json_decref(msg);
    }
    if (b != NULL && tandem_sse_each(t->c->svc, CONSOLE_TAIL, batch_each, b, batch_free) != 0) {
        batch_free(b); /* not serving (yet, or any more): done will not run */
    }
}

/* Assigns the partitions the metadata lists that are not assigned yet; forgets topics gone. */
static void refresh(struct tail *t)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(t->rk, 1, NULL, &md, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return;
    }
    rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(8);
    rd_kafka_topic_partition_list_t *drop = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_topics; i++) {
        t->topics[i].seen = false;
    }
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[i];
        if (mt->err != RD_KAFKA_RESP_ERR_NO_ERROR || strncmp(mt->topic, "__", 2) == 0) {
            continue;
        }
        for (int j = 0; j < mt->partition_cnt; j++) {
            int32_t id = mt->partitions[j].id;
            pthread_mutex_lock(&t->mu);
            struct ttopic *tp = topic_of(t, mt->topic);
            bool known = tp != NULL && live_from(tp, id) != INT64_MAX;
            pthread_mutex_unlock(&t->mu);
            if (known) {
                continue;
            }
            int64_t lo = 0, hi = 0;
            if (rd_kafka_query_watermark_offsets(t->rk, mt->topic, id, &lo, &hi, 2000) !=
                RD_KAFKA_RESP_ERR_NO_ERROR) {
                continue; /* next refresh */
            }
            int64_t start = hi - TAIL_BACKLOG > lo ? hi - TAIL_BACKLOG : lo;
            rd_kafka_topic_partition_list_add(add, mt->topic, id)->offset = start;
            pthread_mutex_lock(&t->mu);
            tp = topic_of(t, mt->topic);
            if (tp == NULL) {
                struct ttopic *n = realloc(t->topics, (t->n_topics + 1) * sizeof(*n));
                if (n != NULL) {
                    t->topics = n;
                    tp = &t->topics[t->n_topics++];
                    memset(tp, 0, sizeof(*tp));
                    snprintf(tp->name, sizeof(tp->name), "%s", mt->topic);
                }
            }
            struct tpart *parts =
                tp != NULL ? realloc(tp->parts, (tp->n_parts + 1) * sizeof(*parts)) : NULL;
            if (parts != NULL) {
                tp->parts = parts;
                tp->parts[tp->n_parts++] = (struct tpart){.id = id, .live_from = hi};
            }
            pthread_mutex_unlock(&t->mu);
        }
        pthread_mutex_lock(&t->mu);
        struct ttopic *tp = topic_of(t, mt->topic);
        if (tp != NULL) {
            tp->seen = true;
        }
        pthread_mutex_unlock(&t->mu);
    }
    pthread_mutex_lock(&t->mu);
    size_t kept = 0;
    for (size_t i = 0; i < t->n_topics; i++) {
        struct ttopic *tp = &t->topics[i];
        if (tp->seen) {
            t->topics[kept++] = *tp;
            continue;
        }
        for (size_t j = 0; j < tp->n_parts; j++) { /* deleted: given back */
            rd_kafka_topic_partition_list_add(drop, tp->name, tp->parts[j].id);
        }
        free(tp->parts);
    }
    t->n_topics = kept;
    pthread_mutex_unlock(&t->mu);
    rd_kafka_metadata_destroy(md);
    rd_kafka_error_t *e = NULL;
    if (drop->cnt > 0) {
        e = rd_kafka_incremental_unassign(t->rk, drop);
        if (e != NULL) {
            rd_kafka_error_destroy(e);
        }
    }
    if (add->cnt > 0) {
        e = rd_kafka_incremental_assign(t->rk, add);
        if (e != NULL) {
            tandem_log_warn(NULL, "console: tail assignment failed", "\"error\":\"%s\"",
                            rd_kafka_error_name(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(add);
    rd_kafka_topic_partition_list_destroy(drop);
}

static void *run(void *arg)
{
    struct tail *t = arg;
    int64_t next_meta = 0, next_flush = 0, next_batch = 0;
    while (!atomic_load(&t->stop)) {
        int64_t now = mono_ms();
        if (now >= next_meta) {
            refresh(t);
            next_meta = mono_ms() + TAIL_META_MS;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 100);
        if (m != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                on_record(t, m);
            }
            rd_kafka_message_destroy(m);
        }
        now = mono_ms();
        bool ev = now >= next_flush, bt = now >= next_batch;
        if (ev || bt) {
            flush(t, ev, bt);
            next_flush = ev ? now + TAIL_FLUSH_MS : next_flush;
            next_batch = bt ? now + TAIL_BATCH_MS : next_batch;
        }
    }
    return NULL;
}

rd_kafka_conf_t *console_kafka_conf(const char *brokers, const char *client_id, char *err,
                                    size_t err_len);

int tail_start(struct console *c, struct tail **out)
{
    char err[512];
    struct tail *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return TANDEM_ENOMEM;
    }
    t->c = c;
    pthread_mutex_init(&t->mu, NULL);
    t->pending = json_array();
    rd_kafka_conf_t *conf = console_kafka_conf(c->brokers, "tandem-console", err, sizeof(err));
    const char *set[][2] = {
        {"group.id", "tandem-console"}, /* never joined, never committed: see the top */
        {"enable.auto.commit", "false"},        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "latest"},        {"fetch.wait.max.ms", "250"},
        {"queued.max.messages.kbytes", "8192"},
    };
    for (size_t i = 0; conf != NULL && i < sizeof(set) / sizeof(set[0]); i++) {
        if (rd_kafka_conf_set(conf, set[i][0], set[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            conf = NULL;
        }
    }
    t->rk = conf != NULL ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)) : NULL;
    if (t->rk == NULL) {
        if (conf != NULL) {
            rd_kafka_conf_destroy(conf);
        }
        tandem_log_error(NULL, "console: cannot make the tail consumer", "\"reason\":\"%s\"",
                         "librdkafka refused its configuration");
        json_decref(t->pending);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return TANDEM_EIO;
    }
    rd_kafka_poll_set_consumer(t->rk);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        rd_kafka_destroy(t->rk);
        json_decref(t->pending);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return TANDEM_EIO;
    }
    *out = t;
    return 0;
}

void tail_stop(struct tail *t)
{
    if (t == NULL) {
        return;
    }
    atomic_store(&t->stop, true);
    pthread_join(t->thread, NULL);
    rd_kafka_consumer_close(t->rk);
    rd_kafka_destroy(t->rk);
    for (size_t i = 0; i < t->n_topics; i++) {
        free(t->topics[i].parts);
    }
    free(t->topics);
    if (t->batch != NULL) {
        batch_free(t->batch);
    }
    json_decref(t->pending);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

json_t *tail_recent(struct tail *t, size_t per_topic)
{
    json_t *a = json_array();
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_topics; i++) {
        const struct ttopic *tp = &t->topics[i];
        size_t n = tp->ring_n < per_topic ? tp->ring_n : per_topic;
        for (size_t k = n; k > 0; k--) { /* oldest of the n first */
            size_t idx = (tp->ring_head + TAIL_RECENT - (k - 1)) % TAIL_RECENT;
            json_array_append_new(a, summary_json(tp->name, &tp->ring[idx]));
        }
    }
    pthread_mutex_unlock(&t->mu);
    return a;
}

json_t *tail_topics(struct tail *t)
{
    json_t *a = json_array();
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_topics; i++) {
        const struct ttopic *tp = &t->topics[i];
        json_t *parts = json_array();
        json_int_t records = 0;
        for (size_t j = 0; j < tp->n_parts; j++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_get_watermark_offsets(t->rk, tp->name, tp->parts[j].id, &lo, &hi);
            json_array_append_new(parts, json_pack("{s:i,s:I,s:I}", "partition", tp->parts[j].id,
                                                   "low", (json_int_t)lo, "high", (json_int_t)hi));
            if (lo >= 0 && hi >= lo) {
                records += hi - lo;
            }
        }
        json_array_append_new(a, json_pack("{s:s,s:o,s:I,s:f}", "name", tp->name, "partitions",
                                           parts, "records", records, "live", tp->live));
    }
    pthread_mutex_unlock(&t->mu);
    return a;
}

void tail_publishes(struct tail *t,
                    void (*fn)(const char *topic, const char *source, double n, void *arg),
                    void *arg)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_topics; i++) {
        const struct ttopic *tp = &t->topics[i];
        for (size_t j = 0; j < tp->n_sources; j++) {
            fn(tp->name, tp->sources[j].source, tp->sources[j].n, arg);
        }
    }
    pthread_mutex_unlock(&t->mu);
}

struct tail_watch *tail_watch_open(struct tail *t, const char *topic, int32_t partition)
{
    struct tail_watch *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->t = t;
        snprintf(w->topic, sizeof(w->topic), "%s", topic);
        w->partition = partition;
        atomic_fetch_add(&t->watchers, 1);
    }
    return w;
}

void tail_watch_close(struct tail_watch *w)
{
    if (w != NULL) {
        atomic_fetch_sub(&w->t->watchers, 1);
        free(w);
    }
}
