/*
 * nbench: the NATS JetStream side of the broker benchmark, the same three modes as kbench
 * with nats.c (Debian libnats-dev 3.4) against nats-server 2.9 started with -js.
 *
 *   nbench produce --server nats://H:P --topic T --count N --size S [--max-pending P]
 *   nbench consume --server nats://H:P --topic T --count N
 *   nbench latency --server nats://H:P --topic T --rate R --seconds D [--warmup W]
 *   nbench group-catchup --server nats://H:P --topic T --members M [--group DURABLE]
 *
 * The stream. Every mode first creates (or finds) stream T with file storage, one subject T,
 * no limits. JetStream acknowledges a publish once the message is written to the stream's
 * block file, without fsync (nats-server 2.9 has no per-message sync option; its file store
 * syncs every 2 minutes, defaultSyncInterval in server/filestore.go), and there is no replica on a
 * single server. So an ack here promises what Kafka's acks=1 on one broker promises; the "acks"
 * column of the output is only a label copied from --acks.
 *
 * produce: js_PublishAsync with at most P publishes awaiting their ack (jsOptions
 * PublishAsync.MaxPending; a full window blocks the publisher). One synchronous publish
 * first as warm-up. Throughput is N divided by the time from the first publish to the last
 * ack, and the run fails unless all N acks are positive.
 *
 * consume: an ordered push consumer (ephemeral, no acks, flow control, no client-side
 * pending limits) from the first message; throughput is N divided by
 * the time from subscribing to the N-th message.
 *
 * latency: as in kbench. A second connection holds an ephemeral push consumer with
 * DeliverPolicy=new and no acks, created before the first record is sent; the producer
 * connection publishes R records/s asynchronously in 100 µs ticks. Latency is measured in
 * the subscription's callback.
 *
 * group-catchup: the analogue of kbench group-catchup (a consumer group sharing a backlog):
 * M worker threads, each with its own connection, pull from ONE durable pull consumer, the
 * JetStream way to share work. It is not the same contract as a Kafka group: NATS hands out
 * individual messages (no partitions, no order between workers) and each message is acked
 * (natsMsg_Ack, asynchronous) where a Kafka consumer commits one offset per partition now and
 * then. The stream is filled first with `nbench produce`. The clock runs from js_AddConsumer
 * (the analogue of the group join) to the last message of the stream's backlog counted by any
 * worker (messages are counted per fetched batch, as they are handed to the application).
 *
 * Output: one key=value line on stdout (bench_util.h); exit status 0 on full success.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "bench_util.h"

struct conn {
    natsConnection *nc;
    jsCtx *js;
};

struct pub_state {
    atomic_ullong acked;
    atomic_ullong errors;
    atomic_ullong last_ack_ns;
};

static int nats_fail(const char *what, natsStatus s, jsErrCode jerr)
{
    fprintf(stderr, "nbench: %s: %s (jetstream error %d)\n", what, natsStatus_GetText(s),
            (int)jerr);
    return TANDEM_EIO;
}

static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    struct pub_state *st = closure;
    if (pa != NULL) {
        atomic_fetch_add(&st->acked, 1);
    } else if (atomic_fetch_add(&st->errors, 1) == 0) {
        fprintf(stderr, "nbench: publish failed: %s\n",
                pae ? natsStatus_GetText(pae->Err) : "no ack");
    }
    atomic_store(&st->last_ack_ns, bench_now_ns());
    natsMsg_Destroy(msg);
}

/* Connects and opens a JetStream context whose async publishes report to st (may be NULL). */
static int conn_open(struct conn *c, const struct bench_opts *o, struct pub_state *st)
{
    jsOptions jo;
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, o->server ? o->server : "nats://127.0.0.1:4222");
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, (int64_t)(o->timeout * 1000));
    if (s == NATS_OK)
        s = natsConnection_Connect(&c->nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK)
        return nats_fail("connect", s, 0);
    jsOptions_Init(&jo);
    jo.Wait = (int64_t)(o->timeout * 1000);
    jo.PublishAsync.MaxPending = o->max_pending;
    jo.PublishAsync.AckHandler = on_pub_ack;
    jo.PublishAsync.AckHandlerClosure = st;
    jo.PublishAsync.StallWait = (int64_t)(o->timeout * 1000);
    s = natsConnection_JetStream(&c->js, c->nc, &jo);
    if (s != NATS_OK)
        return nats_fail("jetstream", s, 0);
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->js != NULL)
        jsCtx_Destroy(c->js);
    if (c->nc != NULL) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    c->js = NULL;
    c->nc = NULL;
}

/* Creates the file-storage stream o->topic on subject o->topic; succeeds if it exists. */
static int stream_ensure(struct conn *c, const struct bench_opts *o)
{
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[1] = {o->topic};
    jsStreamConfig_Init(&sc);
    sc.Name = o->topic;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    natsStatus s = js_AddStream(&si, c->js, &sc, NULL, &jerr);
    if (s != NATS_OK)
        return nats_fail("add stream", s, jerr);
    jsStreamInfo_Destroy(si);
    return 0;
}

static int publish_one(struct conn *c, const struct bench_opts *o, const uint8_t *buf)
{
    for (;;) {
        natsStatus s = js_PublishAsync(c->js, o->topic, buf, (int)o->size, NULL);
        if (s == NATS_OK)
            return 0;
        if (s != NATS_TIMEOUT) /* NATS_TIMEOUT: the pending window stayed full; try again */
            return nats_fail("publish", s, 0);
    }
}

static int publish_drain(struct conn *c, const struct bench_opts *o)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = (int64_t)(o->timeout * 1000);
    natsStatus s = js_PublishAsyncComplete(c->js, &po);
    return s == NATS_OK ? 0 : nats_fail("publish complete", s, 0);
}

static int publish_warmup(struct conn *c, const struct bench_opts *o, const uint8_t *buf)
{
    jsErrCode jerr = 0;
    jsPubAck *pa = NULL;
    natsStatus s = js_Publish(&pa, c->js, o->topic, buf, (int)o->size, NULL, &jerr);
    if (s != NATS_OK)
        return nats_fail("warm-up publish", s, jerr);
    jsPubAck_Destroy(pa);
    return 0;
}

static int run_produce(const struct bench_opts *o)
{
    struct pub_state st = {0};
    struct conn c = {0};
    uint8_t *buf = calloc(1, (size_t)o->size);
    int rc = buf ? conn_open(&c, o, &st) : TANDEM_ENOMEM;
    if (rc != 0)
        goto fail;
    bench_payload_init(buf, (size_t)o->size);
    rc = stream_ensure(&c, o);
    rc = rc ? rc : publish_warmup(&c, o, buf);
    if (rc != 0)
        goto fail;
    uint64_t start = bench_now_ns();
    for (long long i = 0; i < o->count && rc == 0; i++) {
        bench_payload_stamp(buf, 0, (uint64_t)i);
        rc = publish_one(&c, o, buf);
    }
    rc = rc ? rc : publish_drain(&c, o);
    uint64_t ok = atomic_load(&st.acked), bad = atomic_load(&st.errors);
    bench_print_throughput("produce", o, ok, bad,
                           (double)(atomic_load(&st.last_ack_ns) - start) / 1e9);
    if (rc == 0 && (ok != (uint64_t)o->count || bad != 0))
        rc = TANDEM_EIO;
fail:
    conn_close(&c);
    free(buf);
    return rc;
}

/* What a subscription callback fills; guarded by mu once the subscription is live. */
struct sub_state {
    pthread_mutex_t mu;
    pthread_cond_t done;
    uint64_t target; /* signal `done` when received reaches it */
    uint64_t received;
    uint64_t bad;
    uint64_t last_ns;
    uint64_t measure_from_ns;
    size_t size;
    struct bench_hist hist;
};

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    struct sub_state *ss = closure;
    uint64_t now = bench_now_ns(), sent = 0;
    const char *data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    pthread_mutex_lock(&ss->mu);
    if (len == (int)ss->size && bench_payload_send_ns(data, (size_t)len, &sent) == 0) {
        ss->received++;
        if (sent >= ss->measure_from_ns)
            bench_hist_record(&ss->hist, now - sent);
    } else {
        ss->bad++;
    }
    ss->last_ns = now;
    if (ss->received >= ss->target)
        pthread_cond_signal(&ss->done);
    pthread_mutex_unlock(&ss->mu);
    natsMsg_Destroy(msg);
}

/* Waits until ss->received reaches ss->target or deadline_ns passes; 0 or TANDEM_ETIMEDOUT. */
static int sub_wait(struct sub_state *ss, uint64_t deadline_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t left = deadline_ns > bench_now_ns() ? deadline_ns - bench_now_ns() : 0;
    uint64_t abs = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + left;
    ts.tv_sec = (time_t)(abs / 1000000000ull);
    ts.tv_nsec = (long)(abs % 1000000000ull);
    int rc = 0;
    pthread_mutex_lock(&ss->mu);
    while (ss->received < ss->target && rc == 0)
        rc = pthread_cond_timedwait(&ss->done, &ss->mu, &ts);
    int ok = ss->received >= ss->target;
    pthread_mutex_unlock(&ss->mu);
    return ok ? 0 : TANDEM_ETIMEDOUT;
}

/* Stops delivery and waits until no callback is running, so the state can be read and freed. */
static void sub_stop(natsSubscription *sub)
{
    if (natsSubscription_Drain(sub) == NATS_OK)
        natsSubscription_WaitForDrainCompletion(sub, 5000);
    else
        natsSubscription_Unsubscribe(sub);
}

static void sub_state_init(struct sub_state *ss, const struct bench_opts *o, uint64_t target)
{
    memset(ss, 0, sizeof(*ss));
    pthread_mutex_init(&ss->mu, NULL);
    pthread_cond_init(&ss->done, NULL);
    ss->target = target;
    ss->size = (size_t)o->size;
    ss->measure_from_ns = UINT64_MAX;
}

/* Subscribes with a callback: ordered from the first message, or (at_end) a plain ephemeral
 * push consumer that delivers only messages published after it exists. */
static int subscribe(struct conn *c, const struct bench_opts *o, struct sub_state *ss, int at_end,
                     natsSubscription **sub)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    jsSubOptions_Init(&so);
    so.Stream = o->topic;
    if (at_end) {
        so.Config.DeliverPolicy = js_DeliverNew;
        so.Config.AckPolicy = js_AckNone;
    } else {
        so.Ordered = true;
    }
    natsStatus s = js_Subscribe(sub, c->js, o->topic, on_msg, ss, NULL, &so, &jerr);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(*sub, -1, -1);
    return s == NATS_OK ? 0 : nats_fail("subscribe", s, jerr);
}

static int run_consume(const struct bench_opts *o)
{
    struct conn c = {0};
    struct sub_state *ss = malloc(sizeof(*ss));
    natsSubscription *sub = NULL;
    int rc = ss ? conn_open(&c, o, NULL) : TANDEM_ENOMEM;
    if (rc != 0)
        goto fail;
    sub_state_init(ss, o, (uint64_t)o->count);
    rc = stream_ensure(&c, o);
    if (rc != 0)
        goto fail;
    uint64_t start = bench_now_ns();
    rc = subscribe(&c, o, ss, 0, &sub);
    if (rc != 0)
        goto fail;
    rc = sub_wait(ss, start + (uint64_t)(o->timeout * 1e9));
    sub_stop(sub);
    pthread_mutex_lock(&ss->mu);
    uint64_t got = ss->received < ss->target ? ss->received : ss->target;
    bench_print_throughput("consume", o, got, ss->bad, (double)(ss->last_ns - start) / 1e9);
    pthread_mutex_unlock(&ss->mu);
fail:
    if (sub != NULL)
        natsSubscription_Destroy(sub);
    conn_close(&c);
    free(ss);
    return rc;
}

/* Publishes o->rate records/s for warmup + seconds (see kbench.c latency_send). */
static int latency_send(struct conn *c, const struct bench_opts *o, uint8_t *buf,
                        struct sub_state *ss, uint64_t *sent, double *send_s)
{
    struct bench_pacer p = {.start_ns = bench_now_ns(), .rate = (uint64_t)o->rate};
    p.total = (uint64_t)((o->warmup + o->seconds) * (double)o->rate);
    pthread_mutex_lock(&ss->mu);
    ss->measure_from_ns = p.start_ns + (uint64_t)(o->warmup * 1e9);
    ss->target = p.total;
    pthread_mutex_unlock(&ss->mu);
    uint64_t i = 0;
    while (i < p.total) {
        uint64_t due = bench_pacer_due(&p, bench_now_ns());
        for (; i < due; i++) {
            bench_payload_stamp(buf, bench_now_ns(), i);
            int rc = publish_one(c, o, buf);
            if (rc != 0)
                return rc;
        }
        bench_sleep_ns(100000);
    }
    *send_s = (double)(bench_now_ns() - p.start_ns) / 1e9;
    *sent = i;
    return publish_drain(c, o);
}

static int run_latency(const struct bench_opts *o)
{
    struct pub_state st = {0};
    struct conn pc = {0}, cc = {0};
    struct sub_state *ss = malloc(sizeof(*ss));
    natsSubscription *sub = NULL;
    uint8_t *buf = calloc(1, (size_t)o->size);
    uint64_t sent = 0;
    double send_s = 0;
    int rc = (ss && buf) ? conn_open(&pc, o, &st) : TANDEM_ENOMEM;
    rc = rc ? rc : conn_open(&cc, o, NULL);
    if (rc != 0)
        goto fail;
    sub_state_init(ss, o, UINT64_MAX);
    bench_payload_init(buf, (size_t)o->size);
    rc = stream_ensure(&pc, o);
    rc = rc ? rc : publish_warmup(&pc, o, buf);
    rc = rc ? rc : subscribe(&cc, o, ss, 1, &sub);
    if (rc != 0)
        goto fail;
    bench_sleep_ns(200000000); /* same settling time as kbench */
    rc = latency_send(&pc, o, buf, ss, &sent, &send_s);
    rc = rc ? rc : sub_wait(ss, bench_now_ns() + (uint64_t)(o->timeout * 1e9));
    sub_stop(sub);
    if (rc == 0 || rc == TANDEM_ETIMEDOUT) {
        pthread_mutex_lock(&ss->mu);
        bench_print_latency(o, sent, send_s, ss->received, &ss->hist);
        pthread_mutex_unlock(&ss->mu);
    }
fail:
    if (sub != NULL)
        natsSubscription_Destroy(sub);
    conn_close(&cc);
    conn_close(&pc);
    free(buf);
    free(ss);
    return rc;
}

/* group-catchup: M workers (threads, each its own connection) pull from ONE durable pull
 * consumer (AckExplicit, every message acked with natsMsg_Ack, MaxAckPending raised to the
 * backlog so the server's default of 1,000 outstanding acks does not throttle it); the
 * clock runs from creating the consumer to the last message of the backlog. */
struct pull_group {
    const struct bench_opts *o;
    const char *durable;
    uint64_t backlog;
    uint64_t deadline_ns;
    atomic_ullong received, bad, done_ns;
};

struct pull_worker {
    struct pull_group *g;
    pthread_t tid;
    int rc;
};

static void *pull_worker_run(void *arg)
{
    struct pull_worker *w = arg;
    struct pull_group *g = w->g;
    struct conn c = {0};
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsErrCode jerr = 0;
    w->rc = conn_open(&c, g->o, NULL);
    if (w->rc != 0)
        return NULL;
    jsSubOptions_Init(&so);
    so.Stream = g->o->topic;
    so.Consumer = g->durable;
    natsStatus s = js_PullSubscribe(&sub, c.js, g->o->topic, g->durable, NULL, &so, &jerr);
    if (s != NATS_OK) {
        w->rc = nats_fail("pull subscribe", s, jerr);
        goto out;
    }
    while (atomic_load(&g->done_ns) == 0 && bench_now_ns() < g->deadline_ns) {
        natsMsgList list = {0};
        s = natsSubscription_Fetch(&list, sub, 1000, 500, &jerr);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            w->rc = nats_fail("fetch", s, jerr);
            break;
        }
        for (int i = 0; i < list.Count; i++) {
            if (natsMsg_GetDataLength(list.Msgs[i]) != (int)g->o->size)
                atomic_fetch_add(&g->bad, 1);
            natsMsg_Ack(list.Msgs[i], NULL);
        }
        uint64_t n = (uint64_t)list.Count;
        uint64_t before = atomic_fetch_add(&g->received, n);
        if (before < g->backlog && before + n >= g->backlog)
            atomic_store(&g->done_ns, bench_now_ns());
        natsMsgList_Destroy(&list);
    }
out:
    if (sub != NULL) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    conn_close(&c);
    return NULL;
}

/* Reads the backlog (messages in the stream) and creates the durable pull consumer. */
static int pull_group_prepare(struct conn *c, struct pull_group *g, int create)
{
    jsErrCode jerr = 0;
    if (!create) {
        jsStreamInfo *si = NULL;
        natsStatus s = js_GetStreamInfo(&si, c->js, g->o->topic, NULL, &jerr);
        if (s != NATS_OK)
            return nats_fail("stream info", s, jerr);
        g->backlog = si->State.Msgs;
        jsStreamInfo_Destroy(si);
        return g->backlog > 0 ? 0 : TANDEM_ENOENT;
    }
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    jsConsumerConfig_Init(&cc);
    cc.Durable = g->durable;
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = (int64_t)g->backlog;
    natsStatus s = js_AddConsumer(&ci, c->js, g->o->topic, &cc, NULL, &jerr);
    if (s != NATS_OK)
        return nats_fail("add consumer", s, jerr);
    jsConsumerInfo_Destroy(ci);
    return 0;
}

static int run_group_catchup(const struct bench_opts *o)
{
    char durable[96];
    struct conn c = {0};
    struct pull_group g = {.o = o, .durable = o->group};
    int n = (int)o->members, started = 0;
    struct pull_worker *ws = calloc((size_t)n, sizeof(*ws));
    int rc = ws ? conn_open(&c, o, NULL) : TANDEM_ENOMEM;
    if (g.durable == NULL) {
        snprintf(durable, sizeof(durable), "nbench-catchup-%ld-%d", (long)getpid(), n);
        g.durable = durable;
    }
    rc = rc ? rc : pull_group_prepare(&c, &g, 0);
    if (rc != 0)
        goto fail;
    uint64_t start = bench_now_ns();
    g.deadline_ns = start + (uint64_t)(o->timeout * 1e9);
    rc = pull_group_prepare(&c, &g, 1);
    for (; rc == 0 && started < n; started++) {
        ws[started].g = &g;
        if (pthread_create(&ws[started].tid, NULL, pull_worker_run, &ws[started]) != 0)
            rc = TANDEM_ENOMEM;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        rc = rc ? rc : ws[i].rc;
    }
    uint64_t done = atomic_load(&g.done_ns);
    double secs = done > start ? (double)(done - start) / 1e9 : 0;
    double rps = secs > 0 ? (double)g.backlog / secs : 0;
    printf("mode=group-catchup members=%d records=%llu received=%llu errors=%llu seconds=%.4f "
           "records_per_s=%.0f mb_per_s=%.2f\n",
           n, (unsigned long long)g.backlog, (unsigned long long)atomic_load(&g.received),
           (unsigned long long)atomic_load(&g.bad), secs, rps, rps * (double)o->size / 1e6);
    if (rc == 0 && done == 0)
        rc = TANDEM_ETIMEDOUT;
fail:
    conn_close(&c);
    free(ws);
    return rc;
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
    fprintf(stderr, "nbench: unknown mode %s\n", o->mode);
    return TANDEM_EINVAL;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    bench_opts_init(&o);
    if (bench_opts_parse(&o, argc, argv) != 0) {
        fprintf(
            stderr,
            "usage: nbench produce|consume|latency|group-catchup --server nats://H:P [--topic T] "
            "[--count N] [--size S]\n"
            "       [--max-pending P] [--rate R] [--seconds D] [--warmup W] "
            "[--timeout S]\n");
        return 2;
    }
    int rc = run_mode(&o);
    if (rc != 0)
        fprintf(stderr, "nbench: %s failed: %s\n", o.mode, tandem_strerror(rc));
    nats_CloseAndWait(2000);
    return rc == 0 ? 0 : 1;
}
