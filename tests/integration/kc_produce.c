/*
 * kafka-check producers: `produce` (a range of deterministic records with a given acks and
 * codec, every delivery report checked) and `idem-produce` (the idempotent producer of the crash
 * test, which records each acknowledged seq as soon as its delivery report arrives).
 *
 * Invariants checked by `produce`:
 *   - every record gets exactly one delivery report, and every report is a success (acks=0
 *     included: librdkafka reports success once the request is written);
 *   - with acks 1/all, the offsets reported for one partition increase strictly in produce order
 *     (records are produced to an explicit partition, seq % P, so this is the broker's order).
 *
 * `idem-produce` writes "seq\n" to the acked file and flushes it from the delivery report
 * callback, so at any moment the file lists only records the broker has acknowledged with
 * acks=all. It keeps producing (at --rate) until the stop file exists or -n records were sent,
 * then waits for every outstanding delivery report. Exit code 1 on a fatal idempotence error or
 * any failed delivery.
 */
#include "kafka_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct kc_dr_state {
    int64_t delivered;
    int64_t failed;
    int64_t reports;
    bool check_order;
    int64_t last_offset[KC_MAX_PARTS];
    int64_t order_errors;
    rd_kafka_resp_err_t first_err;
    FILE *acked; /* idem-produce only */
};

static void kc_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kc_dr_state *st = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    st->reports++;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (st->failed++ < 5)
            fprintf(stderr, "kafka-check: delivery of seq %" PRId64 " to partition %d failed: %s\n",
                    seq, (int)m->partition, rd_kafka_err2str(m->err));
        if (!st->first_err)
            st->first_err = m->err;
        return;
    }
    st->delivered++;
    if (st->acked) {
        fprintf(st->acked, "%" PRId64 "\n", seq);
        fflush(st->acked);
    }
    if (st->check_order && m->partition >= 0 && m->partition < KC_MAX_PARTS) {
        if (m->offset <= st->last_offset[m->partition]) {
            if (st->order_errors++ < 5)
                fprintf(stderr,
                        "kafka-check: seq %" PRId64 " partition %d got offset %" PRId64
                        " after offset %" PRId64 "\n",
                        seq, (int)m->partition, m->offset, st->last_offset[m->partition]);
        }
        st->last_offset[m->partition] = m->offset;
    }
}

/* Produces one record, waiting (polling) while the local queue is full. */
static int kc_send(rd_kafka_t *rk, const struct kc_opts *o, int nparts, int64_t seq)
{
    char key[64], val[65536], seqs[32];
    int klen = snprintf(key, sizeof(key), "key-%" PRId64, seq);
    size_t vlen = kc_value(val, sizeof(val), o->tag, seq, o->size);
    snprintf(seqs, sizeof(seqs), "%" PRId64, seq);
    int64_t ts = o->ts_base >= 0 ? o->ts_base + seq : 0;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION((int32_t)(seq % nparts)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, (size_t)klen),
            RD_KAFKA_V_VALUE(val, vlen), RD_KAFKA_V_HEADER("seq", seqs, -1),
            RD_KAFKA_V_HEADER("tag", o->tag, -1), RD_KAFKA_V_HEADER("nil", NULL, 0),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "kafka-check: producev seq %" PRId64 ": %s\n", seq,
                    rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(rk, 50);
    }
}

/* Sleeps as needed so that no more than rate records per second have been sent since t0. */
static void kc_pace(int rate, int64_t t0, int64_t sent)
{
    if (rate <= 0)
        return;
    int64_t due = t0 + sent * 1000 / rate;
    int64_t now = kc_now_ms();
    if (due > now) {
        struct timespec ts = {(time_t)((due - now) / 1000), (long)((due - now) % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

static rd_kafka_t *kc_new_producer(rd_kafka_conf_t *conf, struct kc_dr_state *st)
{
    char err[512];
    rd_kafka_conf_set_dr_msg_cb(conf, kc_dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    kc_die_if(!rk, "rd_kafka_new: %s", err);
    return rk;
}

int kc_produce_range(const struct kc_opts *o, int64_t start, int64_t count)
{
    static struct kc_dr_state st;
    memset(&st, 0, sizeof(st));
    for (int i = 0; i < KC_MAX_PARTS; i++)
        st.last_offset[i] = -1;
    st.check_order = strcmp(o->acks, "0") != 0;
    rd_kafka_conf_t *conf = kc_conf(o);
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", o->timeout_s * 1000);
    kc_set(conf, "acks", o->acks);
    kc_set(conf, "compression.codec", o->codec);
    kc_set(conf, "linger.ms", "5");
    kc_set(conf, "message.timeout.ms", tmo);
    rd_kafka_t *rk = kc_new_producer(conf, &st);
    int rc = -1;
    int64_t t0 = kc_now_ms();
    int nparts = kc_partition_count(rk, o->topic, 20000);
    if (nparts <= 0)
        goto fail;
    for (int64_t i = 0; i < count; i++) {
        if (kc_send(rk, o, nparts, start + i) < 0)
            goto fail;
        rd_kafka_poll(rk, 0);
        kc_pace(o->rate, t0, i + 1);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, o->timeout_s * 1000);
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka-check: flush: %s (%d records still queued)\n",
                rd_kafka_err2str(ferr), rd_kafka_outq_len(rk));
        goto fail;
    }
    if (st.reports != count || st.delivered != count || st.failed || st.order_errors) {
        fprintf(stderr,
                "kafka-check: produce acks=%s codec=%s: %" PRId64 " records, %" PRId64
                " reports, %" PRId64 " delivered, %" PRId64 " failed (first: %s), %" PRId64
                " out-of-order offsets\n",
                o->acks, o->codec, count, st.reports, st.delivered, st.failed,
                rd_kafka_err2name(st.first_err), st.order_errors);
        goto fail;
    }
    fprintf(stderr,
            "kafka-check: produced %" PRId64 " records (seq %" PRId64 "..%" PRId64
            ") to %s [%d partitions] acks=%s codec=%s in %" PRId64 " ms\n",
            count, start, start + count - 1, o->topic, nparts, o->acks, o->codec, kc_now_ms() - t0);
    rc = 0;
fail:
    rd_kafka_destroy(rk);
    return rc;
}

int kc_cmd_produce(const struct kc_opts *o)
{
    return kc_produce_range(o, o->start, o->count);
}

int kc_cmd_idem_produce(const struct kc_opts *o)
{
    static struct kc_dr_state st;
    memset(&st, 0, sizeof(st));
    kc_die_if(!o->acked_file || !o->stop_file, "idem-produce needs --acked-file and --stop-file");
    st.acked = fopen(o->acked_file, "w");
    kc_die_if(!st.acked, "cannot open %s", o->acked_file);
    rd_kafka_conf_t *conf = kc_conf(o);
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%d", o->timeout_s * 1000);
    kc_set(conf, "enable.idempotence", "true");
    kc_set(conf, "acks", "all");
    kc_set(conf, "compression.codec", o->codec);
    kc_set(conf, "linger.ms", "5");
    kc_set(conf, "message.timeout.ms", tmo);
    kc_set(conf, "retry.backoff.ms", "50");
    kc_set(conf, "reconnect.backoff.ms", "50");
    kc_set(conf, "reconnect.backoff.max.ms", "500");
    rd_kafka_t *rk = kc_new_producer(conf, &st);
    int rc = -1;
    int64_t sent = 0, t0 = kc_now_ms();
    int nparts = kc_partition_count(rk, o->topic, 20000);
    if (nparts <= 0)
        goto fail;
    int64_t next_check = 0;
    for (;;) {
        if (o->count > 0 && sent >= o->count)
            break;
        if (kc_now_ms() >= next_check) {
            if (access(o->stop_file, F_OK) == 0)
                break;
            next_check = kc_now_ms() + 50;
        }
        if (kc_send(rk, o, nparts, o->start + sent) < 0)
            goto fail;
        sent++;
        rd_kafka_poll(rk, 0);
        kc_pace(o->rate, t0, sent);
    }
    fprintf(stderr, "kafka-check: idem-produce stops sending after %" PRId64 " records\n", sent);
    rd_kafka_flush(rk, o->timeout_s * 1000);
    char errstr[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
    fprintf(stderr,
            "kafka-check: idem-produce sent %" PRId64 ", acknowledged %" PRId64 ", failed %" PRId64
            ", unreported %" PRId64 ", fatal error: %s %s\n",
            sent, st.delivered, st.failed, sent - st.reports, rd_kafka_err2name(fatal),
            fatal ? errstr : "");
    if (fatal == RD_KAFKA_RESP_ERR_NO_ERROR && st.failed == 0 && st.reports == sent)
        rc = 0;
fail:
    rd_kafka_destroy(rk);
    fclose(st.acked);
    return rc;
}
