/*
 * Shared pieces of the broker benchmarks (kbench.c for Kafka, nbench.c for NATS JetStream):
 * the clock, the command line, the record payload, a pacer for fixed-rate sending and a
 * latency histogram. Header-only (static functions) so each benchmark stays one file that
 * links only its own client library.
 *
 * Model. Every benchmark program prints exactly one result line on stdout, a list of
 * key=value pairs (`mode=produce records=1000000 seconds=0.812 records_per_s=1231527 ...`);
 * run.sh parses it. Diagnostics go to stderr. A program exits 0 only when every record it
 * was asked to move was acknowledged (produce) or received (consume, latency).
 *
 * Record payload (every mode writes it; latency and group-failover read it back):
 *
 *   OFFSET SIZE FIELD
 *   0      8    send_ns: CLOCK_MONOTONIC nanoseconds when the record was handed to the client
 *   8      8    seq: 0-based sequence number of the record within the run
 *   16     4    partition the producer chose (group-failover; filler 'xxxx' otherwise)
 *   20     n-20 filler bytes ('x')
 *
 * All fields are host byte order: producer and consumers run on one machine (threads of one
 * process, or in group-failover processes on it), so the monotonic clock is shared and
 * produce-to-consume latency is now - send_ns, with no clock skew. Records smaller than 20
 * bytes are not allowed.
 *
 * Histogram. Log-linear buckets over nanoseconds: values below 2^HIST_SUB_BITS are exact,
 * above that every power of two is split into 2^HIST_SUB_BITS buckets, so any reported
 * percentile is within 1/2^HIST_SUB_BITS (1.6%) of the true value. Recording is O(1) and
 * allocation-free; the table covers the whole uint64_t range.
 */
#ifndef TANDEM_BENCH_UTIL_H
#define TANDEM_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tandem/error.h"

#define BENCH_HDR_SIZE 20

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                          .tv_nsec = (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Options common to both benchmarks; each program reads the ones it uses. */
struct bench_opts {
    const char *mode;    /* produce | consume | latency | group-... (see each program) */
    const char *server;  /* host:port (Kafka) or nats://host:port (NATS) */
    const char *topic;   /* Kafka topic, NATS stream and subject */
    const char *acks;    /* Kafka: 0, 1 or all */
    long long count;     /* records to produce or consume */
    long long size;      /* payload bytes per record */
    long long linger_ms; /* Kafka linger.ms */
    long long batch_size;
    long long rate;        /* latency: records per second */
    double seconds;        /* latency: measured duration */
    double warmup;         /* latency: seconds discarded at the start */
    long long max_pending; /* NATS: async publishes in flight */
    double timeout;        /* whole run, seconds */
    int mock;              /* Kafka: librdkafka's in-process mock cluster */
    long long partitions;  /* Kafka produce: create the topic with this many, spread records */
    long long members;     /* group modes: consumers in the group (NATS: pull workers) */
    const char *group;     /* group modes: group.id (NATS: durable name); default per run */
    long long session_timeout_ms;    /* Kafka group modes: 0 = librdkafka's default */
    long long heartbeat_interval_ms; /* Kafka group modes: 0 = librdkafka's default */
    long long idempotent;            /* Kafka produce: enable.idempotence (acks=all) */
    long long txn_every;             /* Kafka produce: transactional, commit every N records */
};

static inline void bench_opts_init(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->topic = "bench";
    o->acks = "1";
    o->count = 1000000;
    o->size = 100;
    o->linger_ms = 5;
    o->batch_size = 1000000;
    o->rate = 100000;
    o->seconds = 5;
    o->warmup = 1;
    o->max_pending = 4096;
    o->timeout = 120;
    o->members = 1;
}

static inline int bench_parse_ll(const char *s, long long min, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min)
        return TANDEM_EINVAL;
    *out = v;
    return 0;
}

static inline int bench_parse_d(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return TANDEM_EINVAL;
    *out = v;
    return 0;
}

/* Parses argv[1] as the mode and the rest as --name value pairs (and --mock). Returns 0 or
 * TANDEM_EINVAL after printing what was wrong. */
static inline int bench_opts_parse(struct bench_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return TANDEM_EINVAL;
    o->mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--mock") == 0) {
            o->mock = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench: %s needs a value\n", k);
            return TANDEM_EINVAL;
        }
        const char *v = argv[++i];
        int rc = 0;
        if (strcmp(k, "--server") == 0)
            o->server = v;
        else if (strcmp(k, "--topic") == 0)
            o->topic = v;
        else if (strcmp(k, "--acks") == 0)
            o->acks = v;
        else if (strcmp(k, "--count") == 0)
            rc = bench_parse_ll(v, 1, &o->count);
        else if (strcmp(k, "--size") == 0)
            rc = bench_parse_ll(v, BENCH_HDR_SIZE, &o->size);
        else if (strcmp(k, "--linger-ms") == 0)
            rc = bench_parse_ll(v, 0, &o->linger_ms);
        else if (strcmp(k, "--batch-size") == 0)
            rc = bench_parse_ll(v, 1, &o->batch_size);
        else if (strcmp(k, "--rate") == 0)
            rc = bench_parse_ll(v, 1, &o->rate);
        else if (strcmp(k, "--seconds") == 0)
            rc = bench_parse_d(v, &o->seconds);
        else if (strcmp(k, "--warmup") == 0)
            rc = bench_parse_d(v, &o->warmup);
        else if (strcmp(k, "--max-pending") == 0)
            rc = bench_parse_ll(v, 1, &o->max_pending);
        else if (strcmp(k, "--timeout") == 0)
            rc = bench_parse_d(v, &o->timeout);
        else if (strcmp(k, "--partitions") == 0)
            rc = bench_parse_ll(v, 1, &o->partitions);
        else if (strcmp(k, "--members") == 0)
            rc = bench_parse_ll(v, 1, &o->members);
        else if (strcmp(k, "--group") == 0)
            o->group = v;
        else if (strcmp(k, "--session-timeout-ms") == 0)
            rc = bench_parse_ll(v, 1, &o->session_timeout_ms);
        else if (strcmp(k, "--heartbeat-interval-ms") == 0)
            rc = bench_parse_ll(v, 1, &o->heartbeat_interval_ms);
        else if (strcmp(k, "--idempotent") == 0)
            rc = bench_parse_ll(v, 0, &o->idempotent);
        else if (strcmp(k, "--txn-every") == 0)
            rc = bench_parse_ll(v, 1, &o->txn_every);
        else
            rc = TANDEM_EINVAL;
        if (rc != 0) {
            fprintf(stderr, "bench: bad option %s %s\n", k, v);
            return rc;
        }
    }
    return 0;
}

/* Fills a payload of o->size bytes for record seq sent at send_ns (layout in the file
 * comment). */
static inline void bench_payload_stamp(uint8_t *buf, uint64_t send_ns, uint64_t seq)
{
    memcpy(buf, &send_ns, 8);
    memcpy(buf + 8, &seq, 8);
}

static inline void bench_payload_init(uint8_t *buf, size_t size)
{
    memset(buf, 'x', size);
    bench_payload_stamp(buf, 0, 0);
}

/* Reads send_ns back; returns TANDEM_ECORRUPT when the payload is too short. */
static inline int bench_payload_send_ns(const void *p, size_t len, uint64_t *send_ns)
{
    if (p == NULL || len < BENCH_HDR_SIZE)
        return TANDEM_ECORRUPT;
    memcpy(send_ns, p, 8);
    return 0;
}

/* Writes the partition field (group-failover). */
static inline void bench_payload_stamp_partition(uint8_t *buf, int32_t partition)
{
    memcpy(buf + 16, &partition, 4);
}

/* Reads the partition field back; TANDEM_ECORRUPT when the payload is too short. */
static inline int bench_payload_partition(const void *p, size_t len, int32_t *partition)
{
    if (p == NULL || len < BENCH_HDR_SIZE)
        return TANDEM_ECORRUPT;
    memcpy(partition, (const uint8_t *)p + 16, 4);
    return 0;
}

/* Fixed-rate pacing: how many records should have been sent by `now` (never more than the
 * total). The sender sends up to this number, then sleeps a short tick. */
struct bench_pacer {
    uint64_t start_ns;
    uint64_t rate;
    uint64_t total;
};

static inline uint64_t bench_pacer_due(const struct bench_pacer *p, uint64_t now)
{
    if (now <= p->start_ns)
        return 0;
    unsigned __int128 due = (unsigned __int128)(now - p->start_ns) * p->rate / 1000000000u;
    return due > p->total ? p->total : (uint64_t)due;
}

#define HIST_SUB_BITS 6
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct bench_hist {
    uint64_t bucket[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
};

static inline size_t bench_hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (size_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= HIST_SUB_BITS */
    unsigned shift = e - HIST_SUB_BITS;
    size_t sub = (size_t)((v >> shift) & (HIST_SUB - 1));
    return ((size_t)(shift + 1) << HIST_SUB_BITS) + sub;
}

/* The middle of the bucket's value range. */
static inline uint64_t bench_hist_value(size_t idx)
{
    size_t b = idx >> HIST_SUB_BITS;
    uint64_t sub = idx & (HIST_SUB - 1);
    if (b == 0)
        return sub;
    unsigned shift = (unsigned)b - 1;
    return ((sub | HIST_SUB) << shift) + ((1ull << shift) >> 1);
}

static inline void bench_hist_record(struct bench_hist *h, uint64_t v)
{
    h->bucket[bench_hist_index(v)]++;
    h->total++;
    if (v > h->max)
        h->max = v;
}

/* The value at quantile q (0 < q <= 1), 0 for an empty histogram. */
static inline uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t v = bench_hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* Prints the latency result line (microseconds, three decimals). */
static inline void bench_print_latency(const struct bench_opts *o, uint64_t sent, double send_s,
                                       uint64_t received, const struct bench_hist *h)
{
    printf("mode=latency rate=%lld achieved_rate=%.0f sent=%llu received=%llu measured=%llu "
           "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
           o->rate, send_s > 0 ? (double)sent / send_s : 0.0, (unsigned long long)sent,
           (unsigned long long)received, (unsigned long long)h->total,
           (double)bench_hist_quantile(h, 0.50) / 1e3, (double)bench_hist_quantile(h, 0.99) / 1e3,
           (double)bench_hist_quantile(h, 0.999) / 1e3, (double)h->max / 1e3);
}

/* Prints the produce or consume result line. */
static inline void bench_print_throughput(const char *mode, const struct bench_opts *o,
                                          uint64_t records, uint64_t errors, double seconds)
{
    double rps = seconds > 0 ? (double)records / seconds : 0.0;
    printf("mode=%s acks=%s records=%llu errors=%llu seconds=%.4f records_per_s=%.0f "
           "mb_per_s=%.2f\n",
           mode, o->acks, (unsigned long long)records, (unsigned long long)errors, seconds, rps,
           rps * (double)o->size / 1e6);
}

#endif
