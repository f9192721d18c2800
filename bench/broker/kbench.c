/*
 * kbench: the Kafka side of the broker benchmark, a librdkafka client in several modes.
 *
 *   kbench produce --server H:P --topic T --count N --size S --acks 1|all [--linger-ms L]
 *                  [--batch-size B] [--idempotent 1] [--txn-every K]
 *   kbench consume --server H:P --topic T --count N
 *   kbench latency --server H:P --topic T --rate R --seconds D [--warmup W] [--linger-ms L]
 *   kbench group-catchup | group-failover ...   consumer groups: kbench_group.c,
 *                                               kbench_failover.c
 *   (--mock instead of --server runs against librdkafka's in-process mock cluster)
 *
 * produce --partitions P first creates the topic with P partitions (CreateTopics) and sends
 * record i to partition i % P (the consumer-group benchmarks' backlog); without it the topic is
 * auto-created and librdkafka's partitioner chooses.
 *
 * --idempotent 1 enables idempotence (acks=all); --txn-every K makes the producer transactional
 * (KIP-98): the records go in transactions of K, each ended by rd_kafka_commit_transaction (which
 * waits for every delivery and for the broker's markers), and the figure runs to the end of the
 * last commit. The two side by side are what a transaction costs.
 *
 * produce: one producer, compression none, no keys. One warm-up record is produced and
 * flushed first (connection, metadata and topic auto-creation are not part of the figure);
 * then N records are handed to librdkafka as fast as it accepts them. Throughput is N divided
 * by the time from the first produce call to the last delivery report, and the run fails
 * unless all N reports are successes.
 *
 * consume: no group membership (assign(), not subscribe(); nothing is committed): every
 * partition of T is assigned from the beginning; throughput is N divided by the time from
 * assign() to the N-th record.
 *
 * latency: a producer (main thread) sends R records/s for W+D seconds, paced in ticks of
 * 100 µs, each record carrying its send time (payload layout in bench_util.h); a consumer on
 * a second thread is assigned every partition at its high watermark before the first record
 * is sent, and records now - send_ns for every record sent after the warm-up into a
 * histogram. The figure is produce-to-consume: client batching, the broker's append and the
 * broker's wake-up of the waiting fetch are all inside it.
 *
 * Output: one key=value line on stdout (bench_util.h); exit status 0 only when every record
 * was acknowledged or received before --timeout.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <unistd.h>

#include "kbench_int.h"

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct produce_state *st = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (atomic_fetch_add(&st->errors, 1) == 0)
            fprintf(stderr, "kbench: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        atomic_fetch_add(&st->delivered, 1);
    }
    atomic_store(&st->last_dr_ns, bench_now_ns());
}

int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kbench: %s=%s: %s\n", k, v, err);
        return TANDEM_EINVAL;
    }
    return 0;
}

/* Sets the connection properties shared by producers and consumers. */
int conf_common(rd_kafka_conf_t *conf, const struct bench_opts *o)
{
    if (o->server == NULL) {
        fprintf(stderr, "kbench: --server or --mock is required\n");
        return TANDEM_EINVAL;
    }
    return conf_set(conf, "bootstrap.servers", o->server);
}

int producer_new(const struct bench_opts *o, struct produce_state *st, rd_kafka_t **out)
{
    char num[32], err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = conf_common(conf, o);
    rc = rc ? rc : conf_set(conf, "acks", o->acks);
    snprintf(num, sizeof(num), "%lld", o->linger_ms);
    rc = rc ? rc : conf_set(conf, "linger.ms", num);
    snprintf(num, sizeof(num), "%lld", o->batch_size);
    rc = rc ? rc : conf_set(conf, "batch.size", num);
    rc = rc ? rc : conf_set(conf, "compression.codec", "none");
    rc = rc ? rc : conf_set(conf, "queue.buffering.max.messages", "500000");
    rc = rc ? rc : conf_set(conf, "message.timeout.ms", "60000");
    if (o->idempotent || o->txn_every > 0)
        rc = rc ? rc : conf_set(conf, "enable.idempotence", "true");
    if (o->txn_every > 0) {
        char id[64];
        snprintf(id, sizeof(id), "kbench-%ld", (long)getpid());
        rc = rc ? rc : conf_set(conf, "transactional.id", id);
    }
    if (rc != 0)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, st);
    *out = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (*out == NULL) {
        fprintf(stderr, "kbench: producer: %s\n", err);
        return TANDEM_EINVAL; /* rd_kafka_new failed: conf is still ours */
    }
    if (o->txn_every > 0) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(*out, (int)(o->timeout * 1000));
        if (e) {
            fprintf(stderr, "kbench: init_transactions: %s\n", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rd_kafka_destroy(*out);
            *out = NULL;
            return TANDEM_EIO;
        }
    }
    return 0;
fail:
    rd_kafka_conf_destroy(conf);
    return rc;
}

int produce_one(rd_kafka_t *rk, const struct bench_opts *o, const uint8_t *buf, int32_t partition)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE((void *)buf, (size_t)o->size),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "kbench: produce: %s\n", rd_kafka_err2str(err));
            return TANDEM_EIO;
        }
        rd_kafka_poll(rk, 1);
    }
}

/* Transactional mode: begins (begin) or commits a transaction; 0 or TANDEM_EIO. */
static int txn_step(rd_kafka_t *rk, const struct bench_opts *o, bool begin)
{
    if (o->txn_every <= 0)
        return 0;
    rd_kafka_error_t *e = begin ? rd_kafka_begin_transaction(rk)
                                : rd_kafka_commit_transaction(rk, (int)(o->timeout * 1000));
    if (!e)
        return 0;
    fprintf(stderr, "kbench: %s: %s\n", begin ? "begin_transaction" : "commit_transaction",
            rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return TANDEM_EIO;
}

int produce_warmup(rd_kafka_t *rk, const struct bench_opts *o, struct produce_state *st,
                   const uint8_t *buf)
{
    int rc = txn_step(rk, o, true);
    rc = rc ? rc : produce_one(rk, o, buf, o->partitions > 0 ? 0 : RD_KAFKA_PARTITION_UA);
    rc = rc ? rc : txn_step(rk, o, false);
    if (rc != 0)
        return rc;
    rd_kafka_flush(rk, (int)(o->timeout * 1000));
    if (atomic_load(&st->delivered) != 1 || atomic_load(&st->errors) != 0) {
        fprintf(stderr, "kbench: warm-up record was not delivered\n");
        return TANDEM_EIO;
    }
    atomic_store(&st->delivered, 0);
    return 0;
}

static int run_produce(const struct bench_opts *o)
{
    struct produce_state st = {0};
    rd_kafka_t *rk = NULL;
    uint8_t *buf = calloc(1, (size_t)o->size);
    int rc = buf ? producer_new(o, &st, &rk) : TANDEM_ENOMEM;
    if (rc != 0)
        goto fail;
    bench_payload_init(buf, (size_t)o->size);
    rc = o->partitions > 0 ? topic_create(rk, o) : 0;
    rc = rc ? rc : produce_warmup(rk, o, &st, buf);
    if (rc != 0)
        goto fail;
    uint64_t start = bench_now_ns();
    rc = txn_step(rk, o, true);
    for (long long i = 0; rc == 0 && i < o->count; i++) {
        int32_t part = o->partitions > 0 ? (int32_t)(i % o->partitions) : RD_KAFKA_PARTITION_UA;
        bench_payload_stamp(buf, 0, (uint64_t)i);
        rc = produce_one(rk, o, buf, part);
        if (rc != 0)
            goto fail;
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
        if (o->txn_every > 0 && (i + 1) % o->txn_every == 0) {
            rc = txn_step(rk, o, false);
            if (rc == 0 && i + 1 < o->count)
                rc = txn_step(rk, o, true);
        }
    }
    if (rc == 0 && o->txn_every > 0 && o->count % o->txn_every != 0)
        rc = txn_step(rk, o, false);
    if (rc != 0)
        goto fail;
    uint64_t deadline = start + (uint64_t)(o->timeout * 1e9);
    while (rd_kafka_outq_len(rk) > 0 && bench_now_ns() < deadline)
        rd_kafka_poll(rk, 10);
    uint64_t ok = atomic_load(&st.delivered), bad = atomic_load(&st.errors);
    uint64_t end = atomic_load(&st.last_dr_ns);
    if (o->txn_every > 0 && bench_now_ns() > end)
        end = bench_now_ns(); /* the last commit's markers came after the last delivery */
    double secs = (double)(end - start) / 1e9;
    bench_print_throughput("produce", o, ok, bad, secs);
    rc = (ok == (uint64_t)o->count && bad == 0) ? 0 : TANDEM_EIO;
fail:
    if (rk != NULL)
        rd_kafka_destroy(rk);
    free(buf);
    return rc;
}

/* librdkafka 2.0.2 stops fetching a partition once queued.min.messages (100,000) records wait
 * in its queue and looks again only after a fixed 1 s backoff (made configurable as
 * fetch.queue.backoff.ms in 2.1): a reader of 1,000,000 records would sit idle for whole seconds
 * whatever the broker. A queue larger than any run avoids that client artifact (librdkafka issue
 * #2879 and PR #4275 describe it). Every consumer of this benchmark, group members included,
 * gets these two settings. */
int conf_consumer_queue(rd_kafka_conf_t *conf)
{
    int rc = conf_set(conf, "queued.min.messages", "10000000");
    return rc ? rc : conf_set(conf, "queued.max.messages.kbytes", "2097151");
}

static int consumer_new(const struct bench_opts *o, rd_kafka_t **out)
{
    char err[256], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = conf_common(conf, o);
    /* assign() needs a group.id in librdkafka 2.0.2 even though no group is joined and nothing
     * is committed; a per-process name keeps runs apart. */
    snprintf(group, sizeof(group), "kbench-%ld", (long)getpid());
    rc = rc ? rc : conf_set(conf, "group.id", group);
    rc = rc ? rc : conf_set(conf, "enable.auto.commit", "false");
    rc = rc ? rc : conf_set(conf, "enable.partition.eof", "false");
    rc = rc ? rc : conf_set(conf, "auto.offset.reset", "earliest");
    rc = rc ? rc : conf_consumer_queue(conf);
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (*out == NULL) {
        fprintf(stderr, "kbench: consumer: %s\n", err);
        return TANDEM_EINVAL;
    }
    rd_kafka_poll_set_consumer(*out);
    return 0;
}

/* Builds the list of every partition of o->topic, each at `offset`, or at its high watermark
 * when at_end is set. */
int partitions_of(rd_kafka_t *rk, const struct bench_opts *o, int64_t offset, int at_end,
                  rd_kafka_topic_partition_list_t **out)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int tmo = (int)(o->timeout * 1000), rc = TANDEM_ENOENT;
    *out = NULL;
    if (rkt == NULL)
        return TANDEM_ENOMEM;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, tmo);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "kbench: metadata for %s: %s\n", o->topic,
                err ? rd_kafka_err2str(err) : "no partitions");
        goto fail;
    }
    *out = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t id = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = offset;
        if (at_end) {
            err = rd_kafka_query_watermark_offsets(rk, o->topic, id, &lo, &hi, tmo);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "kbench: watermarks: %s\n", rd_kafka_err2str(err));
                goto fail;
            }
        }
        rd_kafka_topic_partition_list_add(*out, o->topic, id)->offset = hi;
    }
    rc = 0;
fail:
    if (rc != 0 && *out != NULL) {
        rd_kafka_topic_partition_list_destroy(*out);
        *out = NULL;
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

static int assign_all(rd_kafka_t *rk, const struct bench_opts *o, int at_end)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = partitions_of(rk, o, RD_KAFKA_OFFSET_BEGINNING, at_end, &parts);
    if (rc != 0)
        return rc;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kbench: assign: %s\n", rd_kafka_err2str(err));
        return TANDEM_EIO;
    }
    return 0;
}

static int run_consume(const struct bench_opts *o)
{
    rd_kafka_t *rk = NULL;
    uint64_t got = 0, errors = 0, start = 0, end = 0;
    int rc = consumer_new(o, &rk);
    if (rc != 0)
        return rc;
    start = bench_now_ns();
    rc = assign_all(rk, o, 0);
    if (rc != 0)
        goto fail;
    uint64_t deadline = start + (uint64_t)(o->timeout * 1e9);
    while (got < (uint64_t)o->count && bench_now_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len == (size_t)o->size)
            got++;
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && errors++ == 0)
            fprintf(stderr, "kbench: consume: %s (len %zu)\n", rd_kafka_err2str(m->err), m->len);
        rd_kafka_message_destroy(m);
    }
    end = bench_now_ns();
    bench_print_throughput("consume", o, got, errors, (double)(end - start) / 1e9);
    rc = got == (uint64_t)o->count ? 0 : TANDEM_ETIMEDOUT;
fail:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

struct latency_state {
    rd_kafka_t *consumer;
    uint64_t measure_from_ns; /* records sent before this are not recorded */
    uint64_t deadline_ns;
    atomic_ullong expected; /* set by the producer when it is done; UINT64_MAX before */
    uint64_t received;
    uint64_t bad;
    struct bench_hist hist;
};

static void *latency_consumer(void *arg)
{
    struct latency_state *ls = arg;
    while (ls->received < atomic_load(&ls->expected) && bench_now_ns() < ls->deadline_ns) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ls->consumer, 20);
        if (m == NULL)
            continue;
        uint64_t now = bench_now_ns(), sent = 0;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            bench_payload_send_ns(m->payload, m->len, &sent) == 0) {
            ls->received++;
            if (sent >= ls->measure_from_ns)
                bench_hist_record(&ls->hist, now - sent);
        } else if (ls->bad++ == 0) {
            fprintf(stderr, "kbench: latency consumer: %s\n", rd_kafka_err2str(m->err));
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Sends o->rate records/s for warmup + seconds; returns the number sent in *sent. */
static int latency_send(rd_kafka_t *rk, const struct bench_opts *o, uint8_t *buf,
                        struct latency_state *ls, uint64_t *sent, double *send_s)
{
    struct bench_pacer p = {.start_ns = bench_now_ns(), .rate = (uint64_t)o->rate};
    p.total = (uint64_t)((o->warmup + o->seconds) * (double)o->rate);
    ls->measure_from_ns = p.start_ns + (uint64_t)(o->warmup * 1e9);
    uint64_t i = 0;
    while (i < p.total) {
        uint64_t due = bench_pacer_due(&p, bench_now_ns());
        for (; i < due; i++) {
            bench_payload_stamp(buf, bench_now_ns(), i);
            int rc = produce_one(rk, o, buf, RD_KAFKA_PARTITION_UA);
            if (rc != 0)
                return rc;
        }
        rd_kafka_poll(rk, 0);
        bench_sleep_ns(100000);
    }
    *send_s = (double)(bench_now_ns() - p.start_ns) / 1e9;
    *sent = i;
    rd_kafka_flush(rk, (int)(o->timeout * 1000));
    return 0;
}

static int run_latency(const struct bench_opts *o)
{
    struct produce_state st = {0};
    struct latency_state *ls = calloc(1, sizeof(*ls));
    rd_kafka_t *rk = NULL;
    uint8_t *buf = calloc(1, (size_t)o->size);
    uint64_t sent = 0;
    double send_s = 0;
    pthread_t tid;
    int started = 0, rc = (buf && ls) ? producer_new(o, &st, &rk) : TANDEM_ENOMEM;
    if (rc != 0)
        goto fail;
    bench_payload_init(buf, (size_t)o->size);
    rc = produce_warmup(rk, o, &st, buf);
    rc = rc ? rc : consumer_new(o, &ls->consumer);
    rc = rc ? rc : assign_all(ls->consumer, o, 1);
    if (rc != 0)
        goto fail;
    atomic_store(&ls->expected, UINT64_MAX);
    ls->measure_from_ns = UINT64_MAX;
    ls->deadline_ns = bench_now_ns() + (uint64_t)(o->timeout * 1e9);
    if (pthread_create(&tid, NULL, latency_consumer, ls) != 0) {
        rc = TANDEM_ENOMEM;
        goto fail;
    }
    started = 1;
    bench_sleep_ns(200000000); /* let the consumer's first fetch reach the broker */
    rc = latency_send(rk, o, buf, ls, &sent, &send_s);
    atomic_store(&ls->expected, rc == 0 ? sent : 0);
fail:
    if (started) {
        if (rc != 0)
            atomic_store(&ls->expected, 0);
        pthread_join(tid, NULL); /* returns once everything arrived or at the deadline */
    }
    if (rc == 0) {
        bench_print_latency(o, sent, send_s, ls->received, &ls->hist);
        rc = ls->received == sent && atomic_load(&st.errors) == 0 ? 0 : TANDEM_EIO;
    }
    if (ls != NULL && ls->consumer != NULL) {
        rd_kafka_consumer_close(ls->consumer);
        rd_kafka_destroy(ls->consumer);
    }
    if (rk != NULL)
        rd_kafka_destroy(rk);
    free(buf);
    free(ls);
    return rc;
}

/* --mock: one mock cluster for the whole process (librdkafka would otherwise give every
 * client handle its own), owned by a producer handle that lives until exit. Points
 * o->server at it; in consume mode also fills the topic with o->count records. */
static int mock_start(struct bench_opts *o, rd_kafka_t **owner)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "test.mock.num.brokers", "1") != 0) {
        rd_kafka_conf_destroy(conf);
        return TANDEM_EINVAL;
    }
    *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (*owner == NULL) {
        fprintf(stderr, "kbench: mock: %s\n", err);
        return TANDEM_EINVAL;
    }
    o->server = rd_kafka_mock_cluster_bootstraps(rd_kafka_handle_mock_cluster(*owner));
    if (strcmp(o->mode, "consume") != 0)
        return 0;
    return run_produce(o);
}

static int run_mode(const struct bench_opts *o)
{
    if (strcmp(o->mode, "produce") == 0)
        return run_produce(o);
    if (strcmp(o->mode, "consume") == 0)
        return run_consume(o);
    if (strcmp(o->mode, "latency") == 0)
        return run_latency(o);
    if (strcmp(o->mode, "group-catchup") == 0)
        return run_group_catchup(o);
    if (strcmp(o->mode, "group-failover") == 0)
        return run_group_failover(o);
    if (strcmp(o->mode, "group-member") == 0)
        return run_group_member(o);
    fprintf(stderr, "kbench: unknown mode %s\n", o->mode);
    return TANDEM_EINVAL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_opts_init(&o);
    if (bench_opts_parse(&o, argc, argv) != 0) {
        fprintf(stderr, "usage: kbench produce|consume|latency|group-catchup|group-failover "
                        "(--server H:P | --mock)\n"
                        "       [--topic T] [--count N] [--size S] [--acks 0|1|all] "
                        "[--linger-ms L] [--partitions P]\n"
                        "       [--batch-size B] [--rate R] [--seconds D] [--warmup W] "
                        "[--timeout S]\n"
                        "       [--members M] [--group G] [--session-timeout-ms T] "
                        "[--heartbeat-interval-ms H]\n");
        return 2;
    }
    rd_kafka_t *mock_owner = NULL;
    int rc = o.mock ? mock_start(&o, &mock_owner) : 0;
    rc = rc ? rc : run_mode(&o);
    if (mock_owner != NULL)
        rd_kafka_destroy(mock_owner);
    if (rc != 0)
        fprintf(stderr, "kbench: %s failed: %s\n", o.mode, tandem_strerror(rc));
    return rc == 0 ? 0 : 1;
}
