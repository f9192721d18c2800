/*
 * events.c: the events sender of tandem-ingest. Each update is one record on the topic
 * vehicle-positions, key the vehicle id in decimal (so one vehicle's positions keep their order:
 * one partition), value the 32-byte binary position (codec.c), produced fire-and-forget: the
 * sender never waits for one record; librdkafka batches them (linger.ms, 10,000 records or 1 MB a
 * batch) and the broker acknowledges batches.
 *
 * librdkafka directly rather than libtandem's producer: libtandem's tandem_publish writes a
 * CloudEvent with JSON data (it refuses data that is not one JSON text), and the fleet's record
 * is binary (docs/fleet.md has the measurement that chose it). The settings are libtandem's
 * where they matter for the comparison: idempotence on (acks=all, per-key order kept across
 * retries), the murmur2 partitioner of the Java client (the same partition for a key as every
 * tandem service), linger 5 ms.
 *
 * Pacing: the simulator says when each update is due (sim_due); the loop makes every update due
 * by now, then sleeps a millisecond in rd_kafka_poll (which serves the delivery reports): updates
 * are handed over in 1 ms chunks, each with its own due time as ts.
 * A full local queue (librdkafka's 1,000,000 records: the broker is slower than the updates) is
 * waited out in rd_kafka_poll and counted as a stall; an update is never dropped here.
 *
 * Delivery reports run on this thread (rd_kafka_poll): each success records the update in the
 * ledger (its payload is decoded back), each failure is counted, and an update whose fate
 * librdkafka cannot know (possibly persisted) is recorded as unknown.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_io.h"
#include "tandem/error.h"

struct ev_run {
    const struct run_config *c;
    uint64_t outstanding; /* produced, no report yet */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct ev_run *r = opaque;
    struct sender_stats *st = r->c->st;
    r->outstanding--;
    struct pos p;
    int ok = pos_decode_bin(m->payload, m->len, &p);
    int64_t index = ok == 0 ? sim_index(r->c->sim, p.id) : -1;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add_explicit(&st->acked, 1, memory_order_relaxed);
        if (index >= 0) {
            ledger_ok(r->c->ledger, (uint64_t)index, &p);
        }
        return;
    }
    bool purged =
        m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
    if (purged) {
        atomic_fetch_add_explicit(&st->left, 1, memory_order_relaxed); /* the drain ended */
    } else {
        atomic_fetch_add_explicit(&st->failed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->lost, 1, memory_order_relaxed);
    }
    if (rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED && index >= 0) {
        atomic_fetch_add_explicit(&st->unknown, 1, memory_order_relaxed);
        ledger_unknown(r->c->ledger, (uint64_t)index, p.ts);
    }
    static _Atomic int said;
    if (!purged && atomic_fetch_add(&said, 1) == 0) {
        fprintf(stderr, "tandem-ingest: events: a record failed: %s\n", rd_kafka_err2str(m->err));
    }
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "tandem-ingest: events: %s=%s: %s\n", k, v, err);
        return TANDEM_EINVAL;
    }
    return 0;
}

static rd_kafka_t *producer_new(const struct run_config *c, struct ev_run *r)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char linger[16];
    snprintf(linger, sizeof(linger), "%d", c->linger_ms);
    int rc = set(conf, "bootstrap.servers", c->brokers);
    rc = rc != 0 ? rc : set(conf, "client.id", "tandem-ingest");
    rc = rc != 0 ? rc : set(conf, "enable.idempotence", "true");
    rc = rc != 0 ? rc : set(conf, "linger.ms", linger);
    rc = rc != 0 ? rc : set(conf, "batch.num.messages", "10000");
    rc = rc != 0 ? rc : set(conf, "batch.size", "1000000");
    rc = rc != 0 ? rc : set(conf, "queue.buffering.max.messages", "1000000");
    rc = rc != 0 ? rc : set(conf, "queue.buffering.max.kbytes", "1048576");
    rc = rc != 0 ? rc : set(conf, "partitioner", "murmur2_random");
    rc = rc != 0 ? rc : set(conf, "compression.codec", "none");
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, r);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "tandem-ingest: events: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* Produces p; waits out a full queue. */
static int produce(const struct run_config *c, struct ev_run *r, rd_kafka_t *rk,
                   rd_kafka_topic_t *rkt, const struct pos *p)
{
    uint8_t value[POS_BIN_LEN];
    char key[24];
    pos_encode_bin(p, value);
    size_t klen = fmt_u64(p->id, key);
    for (;;) {
        rd_kafka_resp_err_t err;
        if (c->headers) {
            err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, klen),
                                    RD_KAFKA_V_VALUE(value, sizeof(value)),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADER("content-type", FLEET_CONTENT_TYPE,
                                                      (ssize_t)sizeof(FLEET_CONTENT_TYPE) - 1),
                                    RD_KAFKA_V_END);
        } else {
            err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, klen),
                                    RD_KAFKA_V_VALUE(value, sizeof(value)),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        }
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            r->outstanding++;
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "tandem-ingest: events: produce: %s\n", rd_kafka_err2str(err));
            return TANDEM_EIO;
        }
        atomic_fetch_add_explicit(&c->st->stalls, 1, memory_order_relaxed);
        rd_kafka_poll(rk, 1);
    }
}

static void note_backlog(struct sender_stats *st, uint64_t n)
{
    atomic_store_explicit(&st->backlog, n, memory_order_relaxed);
    if (n > atomic_load_explicit(&st->backlog_max, memory_order_relaxed)) {
        atomic_store_explicit(&st->backlog_max, n, memory_order_relaxed);
    }
}

int events_run(const struct run_config *c)
{
    struct ev_run r = {.c = c};
    struct sender_stats *st = c->st;
    rd_kafka_t *rk = producer_new(c, &r);
    if (rk == NULL) {
        return TANDEM_EIO;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, FLEET_TOPIC, NULL);
    int rc = rkt != NULL ? 0 : TANDEM_EIO;
    uint64_t start = ingest_now_ns();
    sim_start(c->sim, start, ingest_unix_ns());
    uint64_t end = start + (uint64_t)(c->duration_s * 1e9);
    uint64_t made = 0;
    while (rc == 0) {
        uint64_t now = ingest_now_ns();
        if (now >= end) {
            break;
        }
        /* every update due by now (at most 1 ms of them before serving reports) */
        uint64_t upto = now < end ? now : end;
        for (int i = 0; rc == 0 && i < 65536 && sim_due(c->sim) <= upto; i++) {
            struct pos p;
            sim_next(c->sim, &p);
            made++;
            ledger_made(c->ledger, (uint64_t)sim_index(c->sim, p.id), p.ts);
            atomic_store_explicit(&st->generated, made, memory_order_relaxed);
            rc = produce(c, &r, rk, rkt, &p);
            if (rc == 0) {
                atomic_fetch_add_explicit(&st->sent, 1, memory_order_relaxed);
            }
            if ((made & 255) == 0) {
                rd_kafka_poll(rk, 0);
            }
        }
        note_backlog(st, (uint64_t)rd_kafka_outq_len(rk));
        /* caught up: sleep a millisecond (serving reports), then make what fell due meanwhile;
         * never spin on the next update (at 500,000/s one is due every 2 us) */
        rd_kafka_poll(rk, sim_due(c->sim) > ingest_now_ns() ? 1 : 0);
    }
    atomic_store(&st->phase, 1);
    uint64_t drain_end = ingest_now_ns() + (uint64_t)(c->drain_s * 1e9);
    while (r.outstanding > 0 && ingest_now_ns() < drain_end) {
        rd_kafka_poll(rk, 10);
        note_backlog(st, (uint64_t)rd_kafka_outq_len(rk));
    }
    if (r.outstanding > 0) {
        fprintf(stderr,
                "tandem-ingest: events: %llu records still unacknowledged after the drain\n",
                (unsigned long long)r.outstanding);
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        uint64_t purge_end = ingest_now_ns() + 5000000000ull;
        while (r.outstanding > 0 && ingest_now_ns() < purge_end) {
            rd_kafka_poll(rk, 10); /* their reports: counted as left (or unknown) */
        }
    }
    note_backlog(st, r.outstanding);
    if (rkt != NULL) {
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_destroy(rk);
    atomic_store(&st->phase, 2);
    return rc;
}

int events_topic_ensure(const char *brokers, int timeout_ms, int *partitions)
{
    *partitions = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = set(conf, "bootstrap.servers", brokers);
    rc = rc != 0 ? rc : set(conf, "allow.auto.create.topics", "true");
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "tandem-ingest: events: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return TANDEM_EIO;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, FLEET_TOPIC, NULL);
    uint64_t end = ingest_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    rc = TANDEM_ETIMEDOUT;
    while (rkt != NULL && ingest_now_ns() < end) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            bool ok = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                      md->topics[0].partition_cnt > 0;
            *partitions = ok ? md->topics[0].partition_cnt : 0;
            rd_kafka_metadata_destroy(md);
            if (ok) {
                rc = 0;
                break;
            }
        }
        rd_kafka_poll(rk, 200); /* the broker creates it (auto-create) meanwhile */
    }
    if (rkt != NULL) {
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- the group's lag, as the broker sees it ----------------------------------------------------
 */

struct group_lag {
    rd_kafka_t *rk; /* a consumer of the group that never joins it: it only asks */
    rd_kafka_topic_partition_list_t *parts;
};

int group_lag_new(const char *brokers, const char *group, struct group_lag **out)
{
    struct group_lag *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return TANDEM_ENOMEM;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = set(conf, "bootstrap.servers", brokers);
    rc = rc != 0 ? rc : set(conf, "group.id", group);
    rc = rc != 0 ? rc : set(conf, "enable.auto.commit", "false");
    rc = rc != 0 ? rc : set(conf, "client.id", "tandem-ingest-lag");
    char err[512];
    g->rk = rc == 0 ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)) : NULL;
    if (g->rk == NULL) {
        if (rc == 0) {
            fprintf(stderr, "tandem-ingest: lag: %s\n", err);
        }
        rd_kafka_conf_destroy(conf);
        free(g);
        return TANDEM_EIO;
    }
    *out = g;
    return 0;
}

void group_lag_free(struct group_lag *g)
{
    if (g != NULL) {
        if (g->parts != NULL) {
            rd_kafka_topic_partition_list_destroy(g->parts);
        }
        rd_kafka_destroy(g->rk);
        free(g);
    }
}

/* The topic's partitions, once. */
static int group_lag_parts(struct group_lag *g)
{
    if (g->parts != NULL) {
        return 0;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(g->rk, FLEET_TOPIC, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int rc = TANDEM_EIO;
    if (rkt != NULL && rd_kafka_metadata(g->rk, 0, rkt, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].partition_cnt > 0) {
            g->parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
            for (int i = 0; i < md->topics[0].partition_cnt; i++) {
                rd_kafka_topic_partition_list_add(g->parts, FLEET_TOPIC,
                                                  md->topics[0].partitions[i].id);
            }
            rc = 0;
        }
        rd_kafka_metadata_destroy(md);
    }
    if (rkt != NULL) {
        rd_kafka_topic_destroy(rkt);
    }
    return rc;
}

int group_lag_read(struct group_lag *g, double *lag)
{
    *lag = -1;
    int rc = group_lag_parts(g);
    if (rc != 0) {
        return rc;
    }
    if (rd_kafka_committed(g->rk, g->parts, 1000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return TANDEM_EIO;
    }
    double sum = 0;
    for (int i = 0; i < g->parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &g->parts->elems[i];
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(g->rk, FLEET_TOPIC, p->partition, &lo, &hi, 1000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            return TANDEM_EIO;
        }
        int64_t at = p->offset >= 0 ? p->offset : lo; /* nothing committed: from the start */
        sum += (double)(hi > at ? hi - at : 0);
    }
    *lag = sum;
    return 0;
}
