/*
 * fleet-consume-bench: what a position costs on its way from a topic to the fleet's handler, for
 * the payload choice of docs/fleet.md ("Why binary") and the consumer path's rate.
 *
 *   fleet-consume-bench --brokers H:P [--records N] [--vehicles V] [--rounds R]
 *                       [--cases bin-none,bin-ct,bin-ce,json-ce] [--paths tandem,rdkafka,fleet]
 *                       [--topic T]
 *
 * For each case (payload x headers) it produces N positions of V vehicles, keyed by the id, into
 * a topic of its own (auto-created: run the broker with --num-partitions 4), then reads them
 * back once per path, timing the first record handed to the handler to the N-th:
 *
 *   payloads  bin   the 32-byte binary position (services/fleet/position.c)
 *             json  {"id":..,"lat":..,"lon":..,"speed":..,"heading":..,"ts":..}
 *   headers   none  no record headers
 *             ct    content-type only (application/vnd.tandem.position.v1, or application/json)
 *             ce    the full CloudEvents binary mode as libtandem's producer writes it
 * (ce_specversion, ce_id, ce_source, ce_type, content-type, ce_time, traceparent) paths     tandem
 * libtandem's consumer (tandem_consumer_start): one record at a time through a handler that decodes
 * the payload (CloudEvents headers decoded by libtandem) rdkafka  librdkafka's high-level consumer
 * alone in a loop (poll, decode, store the offset every 1000 records): the floor under any consumer
 * of librdkafka
 *
 * and the fleet path (bin-none only): the fleet service's own handler (fleet_on_event: decode,
 * key check, fleet_apply into a table, the partition's offset) on libtandem's consumer with the
 * fleet's prefetch: the service's events side without HTTP, records applied per second.
 *
 * --topic T produces into T instead (--paths none: only that): vehicle-positions, for a
 * tandem-fleet to consume (docs/fleet.md, "Measured"); --now 1 stamps each position with the
 * clock at its production (for the fleet's visible latency) instead of a fixed past time.
 *
 * Output: one Markdown table (case, bytes per record on the wire, produce rate, each path's rate
 * as the median of the rounds). The topic names carry the process id, so runs do not share
 * state; each read is a fresh consumer group.
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tandem/events.h"

/* librdkafka 2.0.2 stops fetching once queued.min.messages records wait and looks again a second
 * later (docs/benchmarks.md, the broker's consume row): the floor is measured without that pause,
 * as kbench does. (FLEET_QUEUED_MIN in the environment overrides it.) */
#define QUEUED_MIN (getenv("FLEET_QUEUED_MIN") != NULL ? getenv("FLEET_QUEUED_MIN") : "10000000")

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct opts {
    const char *brokers;
    long records, vehicles;
    int rounds;
    const char *cases, *paths;
    const char *topic; /* --topic: produce there (vehicle-positions for a tandem-fleet) */
    bool now;          /* --now 1: each position's ts is the clock's when it is produced */
};

struct counter {
    atomic_long n;
    long target;
    atomic_llong first_ns, last_ns;
    long bad;
    bool json;
};

static void position_of(long i, long vehicles, struct fleet_pos *p)
{
    p->id = (uint64_t)(i % vehicles) + 1;
    p->ts = 1796500000000LL + i;
    p->lat = 488566000 + (int32_t)(i % 1000) * 10;
    p->lon = 23522000 - (int32_t)(i % 777) * 10;
    p->speed_mm = 8300;
    p->heading_cd = 9000;
}

static size_t json_of(const struct fleet_pos *p, char *buf, size_t cap)
{
    int n = snprintf(
        buf, cap,
        "{\"id\":%" PRIu64 ",\"lat\":%.7f,\"lon\":%.7f,\"speed\":%.3f,\"heading\":%.2f,"
        "\"ts\":%" PRId64 "}",
        p->id, p->lat / 1e7, p->lon / 1e7, p->speed_mm / 1000.0, p->heading_cd / 100.0, p->ts);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Adds the headers of case hdr ("none", "ct", "ce") for record i. */
static rd_kafka_headers_t *headers_of(const char *hdr, bool json, long i)
{
    if (strcmp(hdr, "none") == 0) {
        return NULL;
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    const char *ct = json ? "application/json" : "application/vnd.tandem.position.v1";
    if (strcmp(hdr, "ce") == 0) {
        char id[40], tp[64];
        snprintf(id, sizeof(id), "6f1c2a8e-3b4d-4e5f-8a9b-%012lx", i);
        snprintf(tp, sizeof(tp), "00-4bf92f3577b34da6a3ce929d0e0e4736-%016lx-01", i + 1);
        rd_kafka_header_add(h, "ce_specversion", -1, "1.0", -1);
        rd_kafka_header_add(h, "ce_id", -1, id, -1);
        rd_kafka_header_add(h, "ce_source", -1, "/simulator", -1);
        rd_kafka_header_add(h, "ce_type", -1, "fleet.position", -1);
        rd_kafka_header_add(h, "content-type", -1, ct, -1);
        rd_kafka_header_add(h, "ce_time", -1, "2026-12-06T10:00:00.123Z", -1);
        rd_kafka_header_add(h, "traceparent", -1, tp, -1);
    } else {
        rd_kafka_header_add(h, "content-type", -1, ct, -1);
    }
    return h;
}

static rd_kafka_t *kafka_new(rd_kafka_type_t type, const char *const (*kv)[2], size_t n)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: %s\n", kv[i][0], err);
            exit(2);
        }
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        exit(2);
    }
    return rk;
}

/* Produces the case's records; returns records/s and sets *wire (bytes per record: key, value,
 * headers, as the record batch carries them, approximately: varint lengths not counted). */
static double produce(const struct opts *o, const char *topic, bool json, const char *hdr,
                      double *wire)
{
    const char *const kv[][2] = {{"bootstrap.servers", o->brokers},
                                 {"linger.ms", "5"},
                                 {"batch.size", "1000000"},
                                 {"queue.buffering.max.messages", "2000000"},
                                 {"enable.idempotence", "true"},
                                 /* the contract's partitioner (docs/fleet.md), Kafka's Java
                                    client's and tandem_publish's */
                                 {"partitioner", "murmur2_random"}};
    rd_kafka_t *rk = kafka_new(RD_KAFKA_PRODUCER, kv, sizeof(kv) / sizeof(kv[0]));
    long bytes = 0;
    int64_t t0 = now_ns();
    for (long i = 0; i < o->records; i++) {
        struct fleet_pos p;
        position_of(i, o->vehicles, &p);
        if (o->now) { /* the fleet's visible latency is measured from ts */
            struct timespec rt;
            clock_gettime(CLOCK_REALTIME, &rt);
            p.ts = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000;
        }
        char key[24], js[160];
        uint8_t bin[FLEET_POS_BYTES];
        size_t kn = fleet_key_of(p.id, key);
        void *val = bin;
        size_t vn = sizeof(bin);
        if (json) {
            vn = json_of(&p, js, sizeof(js));
            val = js;
        } else {
            fleet_pos_encode(&p, bin);
        }
        rd_kafka_headers_t *h = headers_of(hdr, json, i);
        if (i < 1000) {
            size_t hb = 0;
            const char *name;
            const void *v;
            size_t vs;
            for (size_t k = 0; h != NULL && rd_kafka_header_get_all(h, k, &name, &v, &vs) == 0;
                 k++) {
                hb += strlen(name) + vs;
            }
            bytes += (long)(kn + vn + hb);
        }
        for (;;) {
            rd_kafka_resp_err_t err =
                h != NULL
                    ? rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, kn),
                                        RD_KAFKA_V_VALUE(val, vn),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END)
                    : rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, kn),
                                        RD_KAFKA_V_VALUE(val, vn),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
                exit(1);
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "flush timed out\n");
        exit(1);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    rd_kafka_destroy(rk);
    *wire = (double)bytes / (double)(o->records < 1000 ? o->records : 1000);
    return (double)o->records / secs;
}

static void count_one(struct counter *c, const void *data, size_t len)
{
    struct fleet_pos p;
    const char *bad =
        c->json ? fleet_pos_parse_json(data, len, &p) : fleet_pos_decode(data, len, &p);
    if (bad != NULL) {
        c->bad++;
    }
    long n = atomic_fetch_add(&c->n, 1) + 1;
    if (n == 1) {
        atomic_store(&c->first_ns, now_ns());
    }
    if (n == c->target) {
        atomic_store(&c->last_ns, now_ns());
    }
}

static int handler(const struct tandem_event *ev, void *arg)
{
    count_one(arg, ev->data, ev->data_len);
    return TANDEM_EVENT_OK;
}

/* The fleet path: the service's own handler (decode, key check, apply into the table, the
 * partition's offset), then the count. */
struct fleet_counter {
    struct fleet f;
    struct counter c;
};

static int fleet_handler(const struct tandem_event *ev, void *arg)
{
    struct fleet_counter *fc = arg;
    if (fleet_on_event(ev, &fc->f) != TANDEM_EVENT_OK) {
        fc->c.bad++;
    }
    long n = atomic_fetch_add(&fc->c.n, 1) + 1;
    if (n == 1) {
        atomic_store(&fc->c.first_ns, now_ns());
    }
    if (n == fc->c.target) {
        atomic_store(&fc->c.last_ns, now_ns());
    }
    return TANDEM_EVENT_OK;
}

static double rate_of(struct counter *c)
{
    double secs = (double)(atomic_load(&c->last_ns) - atomic_load(&c->first_ns)) / 1e9;
    return secs > 0 ? (double)(c->target - 1) / secs : 0;
}

static double read_tandem(const struct opts *o, const char *topic, bool json, int round)
{
    char group[128];
    snprintf(group, sizeof(group), "%s-tandem-%d", topic, round);
    struct counter c = {.target = o->records, .json = json};
    const char *topics[] = {topic};
    struct tandem_consumer_config cc = {.brokers = o->brokers,
                                        .group_id = group,
                                        .topics = topics,
                                        .ntopics = 1,
                                        .handler = handler,
                                        .arg = &c,
                                        .queued_records = 1000000}; /* as the fleet's */
    struct tandem_consumer *tc = NULL;
    if (tandem_consumer_start(&cc, &tc) != 0) {
        fprintf(stderr, "tandem_consumer_start failed\n");
        exit(1);
    }
    int64_t end = now_ns() + 120 * (int64_t)1000000000;
    while (atomic_load(&c.n) < c.target && now_ns() < end) {
        usleep(2000);
    }
    tandem_consumer_stop(tc, 10000);
    if (atomic_load(&c.n) < c.target || c.bad > 0) {
        fprintf(stderr, "tandem path: %ld of %ld records, %ld bad\n", atomic_load(&c.n), c.target,
                c.bad);
        exit(1);
    }
    return rate_of(&c);
}

static double read_fleet(const struct opts *o, const char *topic, int round)
{
    char group[128];
    snprintf(group, sizeof(group), "%s-fleet-%d", topic, round);
    static struct fleet_counter fc; /* the table: 1.5 KB of partitions, the rest mmap'd */
    memset(&fc, 0, sizeof(fc));
    fc.c.target = o->records;
    fc.f.nparts = 4;
    if (fleet_table_init(&fc.f.t, (uint32_t)o->vehicles, 1u << 20) != 0) {
        fprintf(stderr, "fleet_table_init failed\n");
        exit(1);
    }
    const char *topics[] = {topic};
    struct tandem_consumer_config cc = {.brokers = o->brokers,
                                        .group_id = group,
                                        .topics = topics,
                                        .ntopics = 1,
                                        .handler = fleet_handler,
                                        .arg = &fc,
                                        .queued_records = 1000000};
    struct tandem_consumer *tc = NULL;
    if (tandem_consumer_start(&cc, &tc) != 0) {
        fprintf(stderr, "tandem_consumer_start failed\n");
        exit(1);
    }
    int64_t end = now_ns() + 120 * (int64_t)1000000000;
    while (atomic_load(&fc.c.n) < fc.c.target && now_ns() < end) {
        usleep(2000);
    }
    tandem_consumer_stop(tc, 10000);
    uint64_t applied = fc.f.t.counters[FLEET_SRC_EVENTS].applied;
    uint64_t stale = fc.f.t.counters[FLEET_SRC_EVENTS].stale;
    fleet_table_cleanup(&fc.f.t);
    if (atomic_load(&fc.c.n) < fc.c.target || fc.c.bad > 0 ||
        applied + stale != (uint64_t)o->records) {
        fprintf(stderr, "fleet path: %ld of %ld records, %ld bad, %" PRIu64 " applied\n",
                atomic_load(&fc.c.n), fc.c.target, fc.c.bad, applied);
        exit(1);
    }
    return rate_of(&fc.c);
}

static double read_rdkafka(const struct opts *o, const char *topic, bool json, int round)
{
    char group[128];
    snprintf(group, sizeof(group), "%s-rdkafka-%d", topic, round);
    const char *const kv[][2] = {
        {"bootstrap.servers", o->brokers}, {"group.id", group},
        {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"}, {"queued.min.messages", QUEUED_MIN}};
    rd_kafka_t *rk = kafka_new(RD_KAFKA_CONSUMER, kv, sizeof(kv) / sizeof(kv[0]));
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    struct counter c = {.target = o->records, .json = json};
    int64_t end = now_ns() + 120 * (int64_t)1000000000;
    while (atomic_load(&c.n) < c.target && now_ns() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            count_one(&c, m->payload, m->len);
            if (atomic_load(&c.n) % 1000 == 0) { /* the floor: store rarely */
                rd_kafka_offset_store(m->rkt, m->partition, m->offset + 1);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (atomic_load(&c.n) < c.target || c.bad > 0) {
        fprintf(stderr, "rdkafka path: %ld of %ld records\n", atomic_load(&c.n), c.target);
        exit(1);
    }
    return rate_of(&c);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    struct opts o = {.records = 1000000,
                     .vehicles = 100000,
                     .rounds = 3,
                     .cases = "bin-none,bin-ct,bin-ce,json-ce",
                     .paths = "tandem,rdkafka"};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--brokers") == 0) {
            o.brokers = argv[i + 1];
        } else if (strcmp(argv[i], "--records") == 0) {
            o.records = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--vehicles") == 0) {
            o.vehicles = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--rounds") == 0) {
            o.rounds = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--cases") == 0) {
            o.cases = argv[i + 1];
        } else if (strcmp(argv[i], "--paths") == 0) {
            o.paths = argv[i + 1];
        } else if (strcmp(argv[i], "--topic") == 0) {
            o.topic = argv[i + 1];
        } else if (strcmp(argv[i], "--now") == 0) {
            o.now = atoi(argv[i + 1]) != 0;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (o.brokers == NULL || o.records < 2 || o.vehicles < 1 || o.rounds < 1 || o.rounds > 15) {
        fprintf(stderr, "usage: fleet-consume-bench --brokers H:P [--records N] [--vehicles V] "
                        "[--rounds R] [--cases ...] [--paths tandem,rdkafka,fleet] [--topic T] "
                        "[--now 1]\n");
        return 2;
    }
    bool do_tandem = strstr(o.paths, "tandem") != NULL;
    bool do_rdkafka = strstr(o.paths, "rdkafka") != NULL;
    bool do_fleet = strstr(o.paths, "fleet") != NULL;
    printf("| case | bytes/record (key+value+headers) | produce, records/s | libtandem consumer, "
           "records/s | librdkafka loop, records/s | the fleet's handler (applied), records/s "
           "|\n|---|---|---|---|---|---|\n");
    char *cases = strdup(o.cases);
    char *save = NULL;
    for (char *c = strtok_r(cases, ",", &save); c != NULL; c = strtok_r(NULL, ",", &save)) {
        bool json = strncmp(c, "json", 4) == 0;
        const char *hdr = strchr(c, '-') != NULL ? strchr(c, '-') + 1 : "none";
        char topic[128];
        snprintf(topic, sizeof(topic), "fleet-bench-%d-%s", (int)getpid(), c);
        if (o.topic != NULL) {
            snprintf(topic, sizeof(topic), "%s", o.topic);
        }
        double wire = 0;
        double prate = produce(&o, topic, json, hdr, &wire);
        double rt[16], rr[16], rf[16];
        for (int r = 0; r < o.rounds; r++) {
            rt[r] = do_tandem ? read_tandem(&o, topic, json, r) : 0;
            rr[r] = do_rdkafka ? read_rdkafka(&o, topic, json, r) : 0;
            rf[r] = do_fleet && !json && strcmp(hdr, "none") == 0 ? read_fleet(&o, topic, r) : 0;
        }
        printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n", c, wire, prate, median(rt, o.rounds),
               median(rr, o.rounds), median(rf, o.rounds));
        fflush(stdout);
    }
    free(cases);
    return 0;
}
