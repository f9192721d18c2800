/*
 * The event producer: tandem_publish on top of one librdkafka producer.
 *
 * Model. tandem_publish builds the record's headers (codec.c), copies key, value and headers into
 * librdkafka (RD_KAFKA_MSG_F_COPY) and returns. librdkafka batches (linger.ms 5), sends with
 * acks=all and idempotence, retries on its own, and queues a delivery report per record. One
 * thread of ours, the delivery thread, polls those reports and runs the caller's callbacks, so a
 * callback never runs on a publisher's thread.
 *
 * Invariants. pending = records accepted - reports whose callback has returned; flush waits
 * (condition variable) for pending to reach 0 and never polls itself, which keeps the
 * callbacks on the delivery thread. Every accepted record owns a struct pub_ctx (callback and
 * opaque), freed by its report; free purges what is left so each one gets its report.
 */
#include <pthread.h>
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

struct tandem_producer {
    rd_kafka_t *rk;
    char *source;
    pthread_t thread;
    atomic_bool stop;    /* the delivery thread's exit flag */
    atomic_bool closing; /* tandem_producer_free has begun: publish refuses */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when pending drops */
    uint64_t pending;  /* under mu */
    atomic_uint_fast64_t produced, delivered, failed;
};

struct pub_ctx {
    tandem_delivery_fn cb;
    void *opaque;
};

static int err_of(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
        return TANDEM_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
        return TANDEM_ECLOSED;
    default:
        return TANDEM_EIO;
    }
}

/* librdkafka's delivery report callback, on the delivery thread (inside rd_kafka_poll). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *conf_opaque)
{
    struct tandem_producer *p = conf_opaque;
    struct pub_ctx *ctx = m->_private;
    int err = err_of(m->err);
    if (err == 0)
        atomic_fetch_add(&p->delivered, 1);
    else
        atomic_fetch_add(&p->failed, 1);
    if (ctx != NULL) {
        if (ctx->cb != NULL)
            ctx->cb(err, m->rkt ? rd_kafka_topic_name(m->rkt) : "", err ? -1 : m->partition,
                    err ? -1 : m->offset, ctx->opaque);
        free(ctx);
    }
    pthread_mutex_lock(&p->mu);
    p->pending--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *delivery_thread(void *arg)
{
    struct tandem_producer *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 50);
    rd_kafka_poll(p->rk, 0);
    return NULL;
}

int tandem_producer_new(const struct tandem_events_config *cfg, struct tandem_producer **out)
{
    if (cfg == NULL || cfg->brokers == NULL || cfg->brokers[0] == '\0' || cfg->source == NULL ||
        cfg->source[0] == '\0' || out == NULL)
        return TANDEM_EINVAL;
    struct tandem_producer *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = events_conf_new();
    int rc = TANDEM_ENOMEM;
    if (p == NULL || conf == NULL)
        goto fail;
    p->source = strdup(cfg->source);
    if (p->source == NULL)
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    const char *kv[][2] = {
        {"bootstrap.servers", cfg->brokers},
        {"client.id", cfg->client_id ? cfg->client_id : "tandem"},
        {"linger.ms", "5"},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"partitioner", "murmur2_random"}, /* the Java client's: same key, same partition */
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        rc = events_conf_set(conf, kv[i][0], kv[i][1]);
        if (rc != 0)
            goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    char errstr[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        char b[300];
        log_error("events: rd_kafka_new failed", "\"error\":%s",
                  log_json_str(b, sizeof(b), errstr));
        rc = TANDEM_EIO;
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    if (pthread_create(&p->thread, NULL, delivery_thread, p) != 0) {
        rc = TANDEM_EIO;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (p != NULL) {
        if (p->rk != NULL)
            rd_kafka_destroy(p->rk);
        free(p->source);
        free(p);
    }
    return rc;
}

/* Resolves id, time and traceparent, then builds the headers. */
static int build_record(struct tandem_producer *p, const struct tandem_event_out *ev,
                        rd_kafka_headers_t **out)
{
    char id[EVENTS_UUID_SIZE], when[EVENTS_TIME_SIZE], tp[TANDEM_TRACEPARENT_SIZE];
    const char *idv = ev->id, *tpv = ev->traceparent;
    if (idv == NULL) {
        uint8_t rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return TANDEM_EIO;
        events_uuid_format(rnd, id);
        idv = id;
    }
    if (tpv == NULL) {
        struct tandem_traceparent t;
        int rc = tandem_trace_new(true, &t);
        if (rc == 0)
            rc = tandem_traceparent_format(&t, tp);
        if (rc != 0)
            return rc;
        tpv = tp;
    }
    int rc = events_time_format(clock_wall_ms(), when);
    if (rc != 0)
        return rc;
    struct tandem_kafka_header h[EVENTS_MAX_HEADERS];
    size_t n;
    rc = events_headers_build(ev, p->source, idv, when, tpv, h, EVENTS_MAX_HEADERS, &n);
    if (rc != 0)
        return rc;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, (ssize_t)h[i].value_len);
    *out = hdrs;
    return 0;
}

int tandem_publish(struct tandem_producer *p, const struct tandem_event_out *ev,
                   tandem_delivery_fn cb, void *opaque)
{
    if (p == NULL || ev == NULL)
        return TANDEM_EINVAL;
    if (atomic_load(&p->closing))
        return TANDEM_ECLOSED;
    if (ev->data_len > 0 &&
        (ev->data == NULL || !tandem_ce_json_data_valid(ev->data, ev->data_len)))
        return TANDEM_EINVAL;
    rd_kafka_headers_t *hdrs = NULL;
    int rc = build_record(p, ev, &hdrs);
    if (rc != 0)
        return rc;
    struct pub_ctx *ctx = NULL;
    if (cb != NULL) {
        ctx = malloc(sizeof(*ctx));
        if (ctx == NULL) {
            rd_kafka_headers_destroy(hdrs);
            return TANDEM_ENOMEM;
        }
        ctx->cb = cb;
        ctx->opaque = opaque;
    }
    pthread_mutex_lock(&p->mu);
    p->pending++; /* before the report can possibly run */
    pthread_mutex_unlock(&p->mu);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(ev->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(ev->key, ev->key ? ev->key_len : 0),
        RD_KAFKA_V_VALUE((void *)ev->data, ev->data_len), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(ctx), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&p->produced, 1);
        return 0; /* hdrs belong to librdkafka now */
    }
    pthread_mutex_lock(&p->mu);
    p->pending--;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    rd_kafka_headers_destroy(hdrs);
    free(ctx);
    return err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? TANDEM_EAGAIN : TANDEM_EIO;
}

int tandem_producer_flush(struct tandem_producer *p, int timeout_ms)
{
    if (p == NULL)
        return TANDEM_EINVAL;
    struct timespec deadline = clock_deadline(CLOCK_REALTIME, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0 && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->cv, &p->mu);
        else if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) != 0)
            rc = p->pending > 0 ? TANDEM_ETIMEDOUT : 0;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void tandem_producer_free(struct tandem_producer *p)
{
    tandem_producer_free_timeout(p, 10000);
}

void tandem_producer_free_timeout(struct tandem_producer *p, int timeout_ms)
{
    if (p == NULL)
        return;
    atomic_store(&p->closing, true);
    if (tandem_producer_flush(p, timeout_ms) != 0) {
        /* Drop the rest: each purged record gets its report (TANDEM_ECLOSED) from the thread. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        tandem_producer_flush(p, 5000);
    }
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    rd_kafka_destroy(p->rk);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->source);
    free(p);
}

void tandem_producer_stats(struct tandem_producer *p, struct tandem_event_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->produced = atomic_load(&p->produced);
    out->delivered = atomic_load(&p->delivered);
    out->delivery_failed = atomic_load(&p->failed);
}
