/*
 * kafka-bad-input: hostile and malformed Kafka traffic, sent over raw TCP, that tandem-broker
 * must survive without changing stored data ("bad input gets a clear error and changes nothing").
 *
 * Each case opens its own connection(s) and, when done, proves the broker still serves a fresh
 * connection (ApiVersions v0 answered with error 0). The cases:
 *
 *   garbage     4 KiB of random bytes, then our write side is shut: the broker must close
 *   truncated   a size prefix of 100 then 50 bytes, then close (and: one left half-sent)
 *   sizes       size prefixes 2^31-1, -2^31, -1 and 0: the broker must close the connection
 *               promptly and must not allocate for them (RSS checked with --pid)
 *   crc         Produce v3 (acks=-1) of a well-formed batch to --control-topic: error 0; the same
 *               batch with one flipped byte to --topic: CORRUPT_MESSAGE (2); then batches with a
 *               valid CRC but a lying lastOffsetDelta, a wrong record offsetDelta, a batchLength
 *               past the end, and magic 1: any non-zero error code, never a close
 *   versions    ApiVersions v127: UNSUPPORTED_VERSION (35) with a version list in a v0 body, and
 *               the same connection then answers ApiVersions v0; unknown API keys and Metadata
 *               v99: a close or an error, never a crash
 *   partitions  (not in the default list) CreatePartitions requests librdkafka refuses to send:
 *               --topic named twice (one result, INVALID_REQUEST "Duplicate topic in request."),
 *               next to an unknown topic (UNKNOWN_TOPIC_OR_PARTITION), at v0 and v1; a count of
 *               100001 (INVALID_PARTITIONS). The caller checks that --topic did not change.
 *
 * Frames (Kafka protocol guide, "Common Request and Response Structure"):
 *
 *   OFFSET SIZE FIELD                       (request header v1)
 *   0      4    Size (bytes after this field)
 *   4      2    request_api_key
 *   6      2    request_api_version
 *   8      4    correlation_id
 *   12     2+n  client_id (STRING)
 *
 *   Produce v3 body: transactional_id NULLABLE_STRING, acks INT16, timeout_ms INT32,
 *     [topic STRING, [partition INT32, records BYTES]]
 *   Produce v3 response: [topic STRING, [partition INT32, error_code INT16, base_offset INT64,
 *     log_append_time INT64]], throttle_time_ms INT32
 *   ApiVersions v0 response: error_code INT16, [api_key INT16, min INT16, max INT16]
 *
 * Exit 0 when the broker behaved on every case, 1 with the first failing case named otherwise.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/kafka.h"
#include "base/kbuf.h"
#include "kafka_client/messages_client.h"
#include "protocol/record_batch.h"
#include "raw_kafka.h"

#define IO_TIMEOUT_MS 10000

static struct sockaddr_in g_addr;
static const char *g_topic = "stable";
static const char *g_control = "control";
static int g_pid = 0;
static int32_t g_corr = 1000;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            fprintf(stderr, "bad-input: FAIL: " __VA_ARGS__); \
            fprintf(stderr, "\n");                            \
            goto fail;                                        \
        }                                                     \
    } while (0)

static void req_begin(struct kw *w, int16_t key, int16_t version, int32_t corr)
{
    kw_reset(w);
    kw_i32(w, 0);
    kw_i16(w, key);
    kw_i16(w, version);
    kw_i32(w, corr);
    kw_cstring(w, "bad-input");
}

static void req_end(struct kw *w)
{
    kw_put_i32_at(w, 0, (int32_t)(w->len - 4));
}

static long rss_kb(void)
{
    if (g_pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", g_pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* Parses an ApiVersions v0 response body (after the correlation id); prints it when verbose. */
static int parse_api_versions(struct kr *r, int16_t *error, bool verbose)
{
    *error = kr_i16(r);
    int32_t n = kr_array(r, 6);
    bool produce_v3 = false;
    for (int32_t i = 0; i < n && !r->err; i++) {
        int16_t key = kr_i16(r), min = kr_i16(r), max = kr_i16(r);
        if (verbose)
            fprintf(stderr, "bad-input:   api %d versions %d..%d\n", key, min, max);
        if (key == KAFKA_PRODUCE && min <= 3 && max >= 3)
            produce_v3 = true;
    }
    if (r->err)
        return -1;
    return *error != 0 || produce_v3 ? 0 : -2;
}

/* A fresh connection must answer ApiVersions v0 with error 0 and Produce v3 in its table. */
static int alive(const char *after, bool verbose)
{
    struct kw w;
    uint8_t buf[65536];
    int rc = -1, fd = raw_connect(&g_addr, "bad-input");
    kw_init(&w, 64);
    CHECK(fd >= 0, "after %s: cannot connect to the broker", after);
    int32_t corr = g_corr++;
    req_begin(&w, KAFKA_API_VERSIONS, 0, corr);
    req_end(&w);
    CHECK(raw_send_all(fd, w.buf, w.len) == 0, "after %s: send ApiVersions", after);
    int n = raw_recv_frame(fd, buf, sizeof(buf), IO_TIMEOUT_MS);
    CHECK(n >= 4, "after %s: ApiVersions v0 got no response (%d)", after, n);
    struct kr r;
    kr_init(&r, buf, (size_t)n);
    CHECK(kr_i32(&r) == corr, "after %s: ApiVersions correlation id mismatch", after);
    int16_t err = -1;
    int pr = parse_api_versions(&r, &err, verbose);
    CHECK(pr == 0 && err == 0, "after %s: ApiVersions v0: error %d, parse %d (want 0, Produce v3)",
          after, err, pr);
    rc = 0;
fail:
    if (fd >= 0)
        close(fd);
    kw_cleanup(&w);
    return rc;
}

static int case_garbage(unsigned seed)
{
    uint8_t junk[4096];
    srand(seed);
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)rand();
        int fd = raw_connect(&g_addr, "bad-input");
        CHECK(fd >= 0, "garbage: connect");
        raw_send_all(fd, junk, sizeof(junk)); /* the broker may close before we finish */
        shutdown(fd, SHUT_WR);
        int closed = raw_wait_closed(fd, IO_TIMEOUT_MS);
        close(fd);
        CHECK(closed == 0,
              "garbage: the broker kept the connection open for %d ms after "
              "4 KiB of random bytes and our FIN",
              IO_TIMEOUT_MS);
    }
    return alive("garbage", false);
fail:
    return -1;
}

static int case_truncated(void)
{
    uint8_t frame[54] = {0, 0, 0, 100, 0, 3, 0, 1, 0, 0, 0, 7, 0, 4, 'b', 'a', 'd', '!'};
    int fd = raw_connect(&g_addr, "bad-input");
    CHECK(fd >= 0, "truncated: connect");
    CHECK(raw_send_all(fd, frame, sizeof(frame)) == 0, "truncated: send");
    close(fd);
    int held =
        raw_connect(&g_addr, "bad-input"); /* a half-sent frame left open while others are served */
    CHECK(held >= 0, "truncated: connect");
    CHECK(raw_send_all(held, frame, sizeof(frame)) == 0, "truncated: send");
    int rc = alive("truncated frames", false);
    close(held);
    return rc;
fail:
    return -1;
}

static int case_sizes(void)
{
    static const uint32_t sizes[] = {0x7fffffffu, 0x80000000u, 0xffffffffu, 0, 0x10000000u};
    long before = rss_kb();
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t frame[4 + 16];
        memset(frame, 0x41, sizeof(frame));
        put_be32(frame, sizes[i]);
        int fd = raw_connect(&g_addr, "bad-input");
        CHECK(fd >= 0, "sizes: connect");
        raw_send_all(fd, frame, sizeof(frame));
        int closed = raw_wait_closed(fd, 5000);
        close(fd);
        CHECK(closed == 0,
              "sizes: a frame size prefix of %" PRId32 " (0x%08" PRIx32 ") did not "
              "make the broker close the connection within 5 s",
              (int32_t)sizes[i], sizes[i]);
    }
    long after = rss_kb();
    if (before > 0 && after > 0) {
        fprintf(stderr, "bad-input: broker RSS %ld kB -> %ld kB across huge size prefixes\n",
                before, after);
        CHECK(after - before < 256 * 1024, "sizes: broker RSS grew by %ld kB", after - before);
    }
    return alive("huge and negative size prefixes", false);
fail:
    return -1;
}

/* Builds a one-record batch v2 (key "bad", value "crc-check") with a correct CRC. */
static void make_batch(struct kw *b)
{
    struct kw rec;
    kw_init(&rec, 64);
    kw_i8(&rec, 0);      /* attributes */
    kw_varlong(&rec, 0); /* timestampDelta */
    kw_varint(&rec, 0);  /* offsetDelta */
    kw_varint(&rec, 3);  /* key length */
    kw_raw(&rec, "bad", 3);
    kw_varint(&rec, 9);
    kw_raw(&rec, "crc-check", 9);
    kw_varint(&rec, 0); /* headers */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    kw_reset(b);
    kw_i64(b, 0);
    kw_i32(b, 0); /* batchLength, patched below */
    kw_i32(b, -1);
    kw_i8(b, 2);
    kw_i32(b, 0); /* crc, patched below */
    kw_i16(b, 0);
    kw_i32(b, 0);
    kw_i64(b, now);
    kw_i64(b, now);
    kw_i64(b, -1);
    kw_i16(b, -1);
    kw_i32(b, -1);
    kw_i32(b, 1);
    kw_varint(b, (int32_t)rec.len);
    kw_raw(b, rec.buf, rec.len);
    kw_put_i32_at(b, 8, (int32_t)(b->len - KBATCH_LOG_OVERHEAD));
    kw_cleanup(&rec);
}

static void fix_crc(struct kw *b)
{
    put_be32(b->buf + 17, kbatch_compute_crc(b->buf, b->len));
}

/* Sends Produce v3 of `records` to topic/0 on fd, returns the partition's error code, or
 * -1000 - n for transport failures (n from raw_recv_frame), -2000 for an unparsable response. */
static int produce_v3(int fd, const char *topic, const uint8_t *records, size_t len,
                      int64_t *base_offset)
{
    struct kw w;
    uint8_t buf[65536];
    int rc = -2000;
    kw_init(&w, 256 + len);
    int32_t corr = g_corr++;
    req_begin(&w, KAFKA_PRODUCE, 3, corr);
    kw_cstring(&w, NULL); /* transactional_id */
    kw_i16(&w, -1);       /* acks */
    kw_i32(&w, 10000);
    kw_array(&w, 1);
    kw_cstring(&w, topic);
    kw_array(&w, 1);
    kw_i32(&w, 0);
    kw_bytes(&w, (struct kbytes){records, (int32_t)len});
    req_end(&w);
    if (raw_send_all(fd, w.buf, w.len) < 0) {
        rc = -1002;
        goto out;
    }
    int n = raw_recv_frame(fd, buf, sizeof(buf), IO_TIMEOUT_MS);
    if (n < 0) {
        rc = -1000 + n;
        goto out;
    }
    struct kr r;
    kr_init(&r, buf, (size_t)n);
    int32_t got_corr = kr_i32(&r);
    int32_t ntopics = kr_array(&r, 6);
    struct kstr name = kr_string(&r);
    int32_t nparts = kr_array(&r, 14);
    int32_t part = kr_i32(&r);
    int16_t err = kr_i16(&r);
    *base_offset = kr_i64(&r);
    kr_i64(&r); /* log_append_time */
    kr_i32(&r); /* throttle_time_ms */
    if (r.err || got_corr != corr || ntopics != 1 || !kstr_eq(name, topic) || nparts != 1 ||
        part != 0 || kr_left(&r) != 0) {
        fprintf(stderr, "bad-input: unparsable Produce v3 response (%d bytes, corr %d/%d)\n", n,
                got_corr, corr);
        goto out;
    }
    rc = err;
out:
    kw_cleanup(&w);
    return rc;
}

static int case_crc(void)
{
    struct kw b;
    int64_t base = -1;
    int fd = raw_connect(&g_addr, "bad-input");
    kw_init(&b, 128);
    CHECK(fd >= 0, "crc: connect");
    make_batch(&b);
    fix_crc(&b);
    int e = produce_v3(fd, g_control, b.buf, b.len, &base);
    CHECK(e == 0 && base >= 0,
          "crc: a well-formed Produce v3 to %s got error %d base offset %" PRId64
          " (want 0, >= 0): the request builder or the broker is wrong",
          g_control, e, base);
    b.buf[b.len - 2] ^= 0x01; /* a byte of the value, covered by the CRC */
    e = produce_v3(fd, g_topic, b.buf, b.len, &base);
    CHECK(e == KAFKA_CORRUPT_MESSAGE,
          "crc: Produce v3 of a batch with a flipped byte (bad CRC) "
          "got %d (%s), want CORRUPT_MESSAGE (2)",
          e, e >= -1 ? kafka_error_name((int16_t)e) : "-");
    static const char *const what[] = {"lastOffsetDelta 5 for 1 record", "record offsetDelta 3",
                                       "batchLength past the end", "magic 1"};
    for (int k = 0; k < 4; k++) {
        make_batch(&b);
        size_t len = b.len;
        if (k == 0)
            put_be32(b.buf + 23, 5);
        if (k == 1)
            b.buf[KBATCH_HEADER_SIZE + 3] = 6; /* zigzag(3); after length, attrs, tsDelta */
        if (k == 2)
            put_be32(b.buf + 8, (uint32_t)(b.len - KBATCH_LOG_OVERHEAD + 40));
        if (k == 3)
            b.buf[16] = 1;
        if (k != 3)
            fix_crc(&b);
        e = produce_v3(fd, g_topic, b.buf, len, &base);
        CHECK(e > 0, "crc: Produce v3 of a batch with %s got %d (%s), want an error code", what[k],
              e, e >= -1 ? kafka_error_name((int16_t)e) : "transport failure");
        fprintf(stderr, "bad-input: batch with %s rejected with %d (%s)\n", what[k], e,
                kafka_error_name((int16_t)e));
    }
    close(fd);
    kw_cleanup(&b);
    return alive("bad batches", false);
fail:
    if (fd >= 0)
        close(fd);
    kw_cleanup(&b);
    return -1;
}

static int case_versions(void)
{
    struct kw w;
    uint8_t buf[65536];
    kw_init(&w, 64);
    int fd = raw_connect(&g_addr, "bad-input");
    CHECK(fd >= 0, "versions: connect");
    int32_t corr = g_corr++;
    req_begin(&w, KAFKA_API_VERSIONS, 127, corr);
    kw_empty_tagged_fields(&w);
    req_end(&w);
    CHECK(raw_send_all(fd, w.buf, w.len) == 0, "versions: send");
    int n = raw_recv_frame(fd, buf, sizeof(buf), IO_TIMEOUT_MS);
    CHECK(n >= 6,
          "versions: ApiVersions v127 got no response (%d; -2 = closed): want "
          "UNSUPPORTED_VERSION (35) in a v0 body",
          n);
    struct kr r;
    kr_init(&r, buf, (size_t)n);
    CHECK(kr_i32(&r) == corr, "versions: ApiVersions v127 correlation id mismatch");
    int16_t err = -1;
    int pr = parse_api_versions(&r, &err, false);
    CHECK(err == KAFKA_UNSUPPORTED_VERSION, "versions: ApiVersions v127 got error %d, want 35",
          err);
    CHECK(pr == 0, "versions: ApiVersions v127 response body is not a v0 body with a version list");
    /* librdkafka retries on the same connection at a lower version. */
    corr = g_corr++;
    req_begin(&w, KAFKA_API_VERSIONS, 0, corr);
    req_end(&w);
    CHECK(raw_send_all(fd, w.buf, w.len) == 0, "versions: send v0");
    n = raw_recv_frame(fd, buf, sizeof(buf), IO_TIMEOUT_MS);
    CHECK(n >= 6, "versions: ApiVersions v0 after v127 on the same connection got %d", n);
    kr_init(&r, buf, (size_t)n);
    CHECK(kr_i32(&r) == corr && kr_i16(&r) == 0, "versions: ApiVersions v0 after v127 failed");
    close(fd);
    fd = -1;
    static const int16_t keys[][2] = {{9999, 0}, {67, 0}, {-1, 0}, {KAFKA_METADATA, 99}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        fd = raw_connect(&g_addr, "bad-input");
        CHECK(fd >= 0, "versions: connect");
        req_begin(&w, keys[i][0], keys[i][1], g_corr++);
        req_end(&w);
        raw_send_all(fd, w.buf, w.len);
        n = raw_recv_frame(fd, buf, sizeof(buf), IO_TIMEOUT_MS);
        fprintf(stderr, "bad-input: api key %d version %d: %s\n", keys[i][0], keys[i][1],
                n == -2  ? "connection closed"
                : n >= 0 ? "an error response"
                         : "no answer");
        close(fd);
        fd = -1;
        CHECK(n != -1, "versions: api key %d version %d: no answer and no close in %d ms",
              keys[i][0], keys[i][1], IO_TIMEOUT_MS);
    }
    kw_cleanup(&w);
    return alive("unknown API keys and versions", false);
fail:
    if (fd >= 0)
        close(fd);
    kw_cleanup(&w);
    return -1;
}

/* Sends one CreatePartitions request and parses its response into *out (arena a). */
static int create_partitions(int fd, int16_t v, const struct create_partitions_req *q,
                             struct arena *a, uint8_t *buf, size_t cap,
                             struct create_partitions_resp *out)
{
    struct kw w;
    kw_init(&w, 256);
    int32_t corr = g_corr++;
    req_begin(&w, KAFKA_CREATE_PARTITIONS, v, corr);
    kafka_encode_create_partitions_request(&w, v, q);
    req_end(&w);
    int rc = raw_send_all(fd, w.buf, w.len);
    kw_cleanup(&w);
    if (rc)
        return -1;
    int n = raw_recv_frame(fd, buf, cap, IO_TIMEOUT_MS);
    if (n < 4)
        return -1;
    struct kr r;
    kr_init(&r, buf, (size_t)n);
    if (kr_i32(&r) != corr)
        return -1;
    return kafka_parse_create_partitions_response(&r, v, a, out) ? -1 : 0;
}

static bool kstr_is(struct kstr s, const char *want)
{
    return s.len == (int32_t)strlen(want) && memcmp(s.p, want, (size_t)s.len) == 0;
}

static int case_partitions(void)
{
    uint8_t buf[65536];
    struct arena a;
    struct create_partitions_resp resp;
    int fd = raw_connect(&g_addr, "bad-input");
    arena_init(&a, 0);
    CHECK(fd >= 0, "partitions: connect");
    struct kstr topic = {g_topic, (int32_t)strlen(g_topic)};
    for (int16_t v = 0; v <= 1; v++) {
        struct create_partitions_req_topic dup[] = {
            {topic, 3, -1, NULL}, {KSTR("bad-input-absent"), 2, -1, NULL}, {topic, 4, -1, NULL}};
        struct create_partitions_req q = {3, dup, 10000, false};
        CHECK(create_partitions(fd, v, &q, &a, buf, sizeof(buf), &resp) == 0,
              "partitions: v%d with a duplicate topic: no well-formed response", v);
        CHECK(resp.nresults == 2, "partitions: v%d: %d results, want 2 (one per distinct name)", v,
              resp.nresults);
        CHECK(kstr_is(resp.results[0].name, g_topic) &&
                  resp.results[0].error_code == KAFKA_INVALID_REQUEST &&
                  kstr_is(resp.results[0].error_message, "Duplicate topic in request."),
              "partitions: v%d: duplicate topic got error %d, want INVALID_REQUEST (42)", v,
              resp.results[0].error_code);
        CHECK(kstr_is(resp.results[1].name, "bad-input-absent") &&
                  resp.results[1].error_code == KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
              "partitions: v%d: unknown topic got error %d, want 3", v, resp.results[1].error_code);
        fprintf(stderr, "bad-input: CreatePartitions v%d duplicate topic: %.*s\n", v,
                resp.results[0].error_message.len, resp.results[0].error_message.p);
    }
    struct create_partitions_req_topic big[] = {{topic, 100001, -1, NULL}};
    struct create_partitions_req q = {1, big, 10000, false};
    CHECK(create_partitions(fd, 1, &q, &a, buf, sizeof(buf), &resp) == 0,
          "partitions: count 100001: no well-formed response");
    CHECK(resp.nresults == 1 && resp.results[0].error_code == KAFKA_INVALID_PARTITIONS,
          "partitions: count 100001 got error %d, want INVALID_PARTITIONS (37)",
          resp.nresults ? resp.results[0].error_code : -1);
    fprintf(stderr, "bad-input: CreatePartitions to 100001: %.*s\n",
            resp.results[0].error_message.len, resp.results[0].error_message.p);
    close(fd);
    arena_cleanup(&a);
    return alive("CreatePartitions", false);
fail:
    if (fd >= 0)
        close(fd);
    arena_cleanup(&a);
    return -1;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    const char *cases = "garbage,truncated,sizes,crc,versions";
    int port = 0, rounds = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--pid") == 0)
            g_pid = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--topic") == 0)
            g_topic = argv[i + 1];
        else if (strcmp(argv[i], "--control-topic") == 0)
            g_control = argv[i + 1];
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cases") == 0)
            cases = argv[i + 1];
    }
    if (port <= 0) {
        fprintf(stderr, "usage: kafka-bad-input --port PORT [--pid PID] [--topic T] "
                        "[--control-topic C] [--rounds N] "
                        "[--cases garbage,truncated,sizes,crc,versions,partitions]\n");
        return 2;
    }
    memset(&g_addr, 0, sizeof(g_addr));
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &g_addr.sin_addr);
    fprintf(stderr, "bad-input: the broker advertises:\n");
    if (alive("nothing", true) < 0)
        return 1;
    for (int round = 0; round < rounds; round++) {
        if ((strstr(cases, "garbage") && case_garbage((unsigned)round + 1) < 0) ||
            (strstr(cases, "truncated") && case_truncated() < 0) ||
            (strstr(cases, "sizes") && case_sizes() < 0) ||
            (strstr(cases, "crc") && case_crc() < 0) ||
            (strstr(cases, "versions") && case_versions() < 0) ||
            (strstr(cases, "partitions") && case_partitions() < 0))
            return 1;
        fprintf(stderr, "bad-input: round %d passed\n", round + 1);
    }
    return 0;
}
