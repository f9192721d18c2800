/*
 * codec-bench: the cost of the broker's data-path codecs alone, in nanoseconds per message, for
 * each version given (the versions librdkafka 2.0.2 uses, Produce v7 / Fetch v11, against the
 * flexible ones, Produce v9 / Fetch v12). It only calls the public codec functions of
 * protocol/messages.h and their client direction, so the same file builds against an older tree
 * (the hand-written codecs) for a side-by-side comparison:
 *
 *   codec-bench [ITERATIONS [classic|flexible]]
 *                                 prints one line per (message, version): ns/op, MB/s of frame;
 *                                 classic: only Produce v7 / Fetch v11, flexible: only v9 / v12
 *                                 (for instruction counts under valgrind --tool=callgrind, which
 *                                 the shared machine's load does not disturb)
 *
 * Messages, shaped like kbench's traffic: a Produce request of 1 topic x 4 partitions with 16 KiB
 * of records each (decoded), its response (encoded); a Fetch request of 1 topic x 4 partitions
 * (decoded) and its response with 1 MiB of spliced log bytes per partition (encoded; the
 * splices are recorded, never copied). Not a test: run by hand or from bench/broker/run.sh.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka_client/messages_client.h"
#include "protocol/messages.h"

#define NPART 4

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t records[16384];

static void report(const char *what, int16_t v, long iters, uint64_t ns, size_t bytes)
{
    double per = (double)ns / (double)iters;
    printf("%-24s v%-3d %10.1f ns/op %10.0f MB/s\n", what, v, per, (double)bytes / per * 1e3);
}

static void bench_produce(int16_t v, long iters)
{
    struct produce_req_partition parts[NPART];
    for (int i = 0; i < NPART; i++)
        parts[i] = (struct produce_req_partition){i, {records, (int32_t)sizeof(records)}};
    struct produce_req_topic topic = {KSTR("bench-topic"), NPART, parts};
    struct produce_req req = {KSTR_NULL, 1, 30000, 1, &topic};
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_produce_request(&w, v, &req);
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        struct arena a;
        struct kr r;
        struct produce_req out;
        arena_init(&a, 0);
        kr_init(&r, w.buf, w.len);
        if (kafka_parse_produce_request(&r, v, &a, &out) != 0 || out.topics[0].npartitions != NPART)
            abort();
        arena_cleanup(&a);
    }
    report("Produce request decode", v, iters, now_ns() - t0, w.len);

    struct produce_resp_partition rparts[NPART];
    for (int i = 0; i < NPART; i++)
        rparts[i] = (struct produce_resp_partition){.index = i,
                                                    .base_offset = 1000 * i,
                                                    .log_append_time_ms = -1,
                                                    .log_start_offset = 0,
                                                    .error_message = KSTR_NULL};
    struct produce_resp_topic rtopic = {KSTR("bench-topic"), NPART, rparts};
    struct produce_resp resp = {1, &rtopic, 0};
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kw_reset(&w);
        kafka_encode_produce_response(&w, v, &resp);
    }
    report("Produce response encode", v, iters, now_ns() - t0, w.len);
    kw_cleanup(&w);
}

static void bench_fetch(int16_t v, long iters)
{
    struct fetch_req_partition parts[NPART];
    for (int i = 0; i < NPART; i++)
        parts[i] = (struct fetch_req_partition){i, -1, 123456, -1, 1 << 20};
    struct fetch_req_topic topic = {KSTR("bench-topic"), NPART, parts};
    struct fetch_req req = {-1, 500, 1, 52428800, 0, 0, -1, 1, &topic, 0, NULL, KSTR("")};
    struct kw w;
    kw_init(&w, 0);
    kafka_encode_fetch_request(&w, v, &req);
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        struct arena a;
        struct kr r;
        struct fetch_req out;
        arena_init(&a, 0);
        kr_init(&r, w.buf, w.len);
        if (kafka_parse_fetch_request(&r, v, &a, &out) != 0 || out.topics[0].npartitions != NPART)
            abort();
        arena_cleanup(&a);
    }
    report("Fetch request decode", v, iters, now_ns() - t0, w.len);

    static int slice; /* stands for a struct file_slice: only its address is kept */
    struct fetch_resp_partition rparts[NPART];
    for (int i = 0; i < NPART; i++)
        rparts[i] = (struct fetch_resp_partition){.partition_index = i,
                                                  .high_watermark = 200000,
                                                  .last_stable_offset = 200000,
                                                  .naborted = -1,
                                                  .preferred_read_replica = -1,
                                                  .records = {NULL, -1},
                                                  .records_ext = &slice,
                                                  .records_ext_len = 1u << 20};
    struct fetch_resp_topic rtopic = {KSTR("bench-topic"), NPART, rparts};
    struct fetch_resp resp = {0, 0, 0, 1, &rtopic};
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        kw_reset(&w);
        kafka_encode_fetch_response(&w, v, &resp);
    }
    report("Fetch response encode", v, iters, now_ns() - t0, w.len + (size_t)w.ext_total);
    kw_cleanup(&w);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    bool classic = argc <= 2 || strcmp(argv[2], "flexible") != 0;
    bool flexible = argc <= 2 || strcmp(argv[2], "classic") != 0;
    int16_t lo, hi;
    printf("codec-bench: %ld iterations per line\n", iters);
    if (classic) {
        bench_produce(7, iters);
        bench_fetch(11, iters);
    }
    if (flexible && kafka_codec_versions(0, &lo, &hi) == 0 && hi >= 9 &&
        kafka_codec_versions(1, &lo, &hi) == 0 && hi >= 12) {
        bench_produce(9, iters);
        bench_fetch(12, iters);
    }
    return 0;
}
