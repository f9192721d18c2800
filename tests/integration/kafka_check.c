/*
 * kafka-check main: option parsing, the deterministic record model shared by the producer and
 * the consumer (see kafka_check.h), and small librdkafka helpers.
 *
 * Everything here runs in one thread. librdkafka logs go to stderr with a timestamp so that a
 * failing test shows what the client saw (connection errors, protocol errors) next to the
 * broker's own log. Set KC_DEBUG=protocol,msg (or --debug) to get librdkafka's debug contexts.
 */
#include "kafka_check.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t kc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kc_die_if(bool cond, const char *fmt, ...)
{
    if (!cond)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kafka-check: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

size_t kc_value(char *buf, size_t cap, const char *tag, int64_t seq, int size)
{
    int n = snprintf(buf, cap, "%s-%" PRId64, tag, seq);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= cap)
        len = cap - 1;
    while (size > 0 && len < (size_t)size && len + 1 < cap)
        buf[len++] = 'x';
    buf[len] = '\0';
    return len;
}

static void kc_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "%%%d %ld.%03ld %s %s: %s\n", level, (long)ts.tv_sec,
            (long)(ts.tv_nsec / 1000000), rd_kafka_name(rk), fac, buf);
}

void kc_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        kc_die_if(true, "config %s=%s: %s", key, value, err);
}

rd_kafka_conf_t *kc_conf(const struct kc_opts *o)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    kc_set(conf, "bootstrap.servers", o->brokers);
    kc_set(conf, "client.id", "kafka-check");
    rd_kafka_conf_set_log_cb(conf, kc_log_cb);
    const char *dbg = o->debug ? o->debug : getenv("KC_DEBUG");
    if (dbg && *dbg)
        kc_set(conf, "debug", dbg);
    return conf;
}

int kc_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    int64_t deadline = kc_now_ms() + timeout_ms;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;
    const char *last = "no answer";
    while (kc_now_ms() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            if (t->err == RD_KAFKA_RESP_ERR_NO_ERROR && t->partition_cnt > 0)
                n = t->partition_cnt;
            else
                last = rd_kafka_err2name(t->err);
        } else {
            last = rd_kafka_err2name(err);
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n > 0)
            break;
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    rd_kafka_topic_destroy(rkt);
    if (n < 0)
        fprintf(stderr, "kafka-check: topic %s has no partitions after %d ms (last: %s)\n", topic,
                timeout_ms, last);
    if (n > KC_MAX_PARTS)
        n = KC_MAX_PARTS;
    return n;
}

static int kc_expect_header(const rd_kafka_message_t *m, rd_kafka_headers_t *hdrs, const char *name,
                            const char *want, int64_t seq)
{
    const void *v = NULL;
    size_t vlen = 0;
    rd_kafka_resp_err_t err =
        hdrs ? rd_kafka_header_get_last(hdrs, name, &v, &vlen) : RD_KAFKA_RESP_ERR__NOENT;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "seq %" PRId64 " (partition %d offset %" PRId64 "): header %s missing\n",
                seq, (int)m->partition, m->offset, name);
        return -1;
    }
    bool ok = want ? (v && vlen == strlen(want) && memcmp(v, want, vlen) == 0) : v == NULL;
    if (!ok) {
        fprintf(stderr,
                "seq %" PRId64 " (partition %d offset %" PRId64 "): header %s is '%.*s' (len %zu)"
                ", want '%s'\n",
                seq, (int)m->partition, m->offset, name, v ? (int)vlen : 6,
                v ? (const char *)v : "(null)", vlen, want ? want : "(null)");
        return -1;
    }
    return 0;
}

int kc_check_message(const struct kc_opts *o, const rd_kafka_message_t *m, int64_t seq)
{
    char want_key[64], want_val[65536], got_val[80];
    int klen = snprintf(want_key, sizeof(want_key), "key-%" PRId64, seq);
    size_t vlen = kc_value(want_val, sizeof(want_val), o->tag, seq, o->size);
    if (!m->key || m->key_len != (size_t)klen || memcmp(m->key, want_key, (size_t)klen) != 0) {
        fprintf(stderr, "partition %d offset %" PRId64 ": key '%.*s', want '%s'\n",
                (int)m->partition, m->offset, m->key ? (int)m->key_len : 6,
                m->key ? (const char *)m->key : "(null)", want_key);
        return -1;
    }
    if (!m->payload || m->len != vlen || memcmp(m->payload, want_val, vlen) != 0) {
        size_t show = m->len < sizeof(got_val) - 1 ? m->len : sizeof(got_val) - 1;
        if (m->payload)
            memcpy(got_val, m->payload, show);
        got_val[m->payload ? show : 0] = '\0';
        fprintf(stderr,
                "partition %d offset %" PRId64 ": value '%s' (len %zu), want '%.60s' (len %zu)\n",
                (int)m->partition, m->offset, got_val, m->len, want_val, vlen);
        return -1;
    }
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_message_headers(m, &hdrs);
    char seqs[32];
    snprintf(seqs, sizeof(seqs), "%" PRId64, seq);
    if (kc_expect_header(m, hdrs, "seq", seqs, seq) < 0 ||
        kc_expect_header(m, hdrs, "tag", o->tag, seq) < 0 ||
        (!o->no_null_header && kc_expect_header(m, hdrs, "nil", NULL, seq) < 0))
        return -1;
    size_t want_hdrs = o->no_null_header ? 2 : 3;
    if (hdrs && rd_kafka_header_cnt(hdrs) != want_hdrs) {
        fprintf(stderr, "seq %" PRId64 ": %zu headers, want %zu\n", seq, rd_kafka_header_cnt(hdrs),
                want_hdrs);
        return -1;
    }
    if (o->ts_base >= 0) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        if (tstype != RD_KAFKA_TIMESTAMP_CREATE_TIME || ts != o->ts_base + seq) {
            fprintf(stderr,
                    "seq %" PRId64 ": timestamp %" PRId64 " (type %d), want %" PRId64
                    " (CreateTime)\n",
                    seq, ts, (int)tstype, o->ts_base + seq);
            return -1;
        }
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: kafka-check CMD -b HOST:PORT -t TOPIC [options]\n"
            "  produce       -n N [-s START] [--acks 0|1|all] [--codec C] [--size B] "
            "[--ts-base MS] [--rate R]\n"
            "  consume       -n N [-s START] --from beginning|end|ts:MS [--check-offsets]\n"
            "                (from end: assigns at the end, then produces N itself, sees only "
            "those)\n"
            "  idem-produce  --acked-file F --stop-file S [--rate R] [-n MAX]\n"
            "  dump          prints 'partition offset key value' of the whole topic, sorted\n"
            "  admin create  -p N [-c key=value]... [--expect ERROR_NAME]\n"
            "  admin delete  [--expect ERROR_NAME]\n"
            "  admin partitions -p TOTAL [--validate-only] [--assign B,B/B...] "
            "[--expect ERROR_NAME]\n"
            "  admin exists | admin absent   (all-topics Metadata)\n"
            "common: --tag T (record content), --timeout SECS, --debug CTX, --no-null-header\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct kc_opts o = {.tag = "t",
                        .acks = "all",
                        .codec = "none",
                        .from = "beginning",
                        .ts_base = -1,
                        .timeout_s = 60,
                        .partitions = 0};
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    const char *action = NULL;
    int first = 2;
    if (strcmp(cmd, "admin") == 0) {
        if (argc < 3)
            usage();
        action = argv[2];
        first = 3;
    }
    static const struct option longopts[] = {{"acks", required_argument, NULL, 'a'},
                                             {"codec", required_argument, NULL, 'z'},
                                             {"from", required_argument, NULL, 'f'},
                                             {"size", required_argument, NULL, 'S'},
                                             {"ts-base", required_argument, NULL, 'T'},
                                             {"rate", required_argument, NULL, 'r'},
                                             {"timeout", required_argument, NULL, 'w'},
                                             {"tag", required_argument, NULL, 'g'},
                                             {"acked-file", required_argument, NULL, 'A'},
                                             {"stop-file", required_argument, NULL, 'X'},
                                             {"expect", required_argument, NULL, 'e'},
                                             {"debug", required_argument, NULL, 'd'},
                                             {"check-offsets", no_argument, NULL, 'O'},
                                             {"no-null-header", no_argument, NULL, 'N'},
                                             {"validate-only", no_argument, NULL, 'V'},
                                             {"assign", required_argument, NULL, 'P'},
                                             {NULL, 0, NULL, 0}};
    optind = first;
    int c;
    while ((c = getopt_long(argc, argv, "b:t:n:s:p:c:", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.brokers = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'n':
            o.count = strtoll(optarg, NULL, 10);
            break;
        case 's':
            o.start = strtoll(optarg, NULL, 10);
            break;
        case 'p':
            o.partitions = atoi(optarg);
            break;
        case 'c':
            kc_die_if(o.nconfigs >= KC_MAX_CONFIGS, "too many -c");
            o.configs[o.nconfigs++] = optarg;
            break;
        case 'a':
            o.acks = optarg;
            break;
        case 'z':
            o.codec = optarg;
            break;
        case 'f':
            o.from = optarg;
            break;
        case 'S':
            o.size = atoi(optarg);
            break;
        case 'T':
            o.ts_base = strtoll(optarg, NULL, 10);
            break;
        case 'r':
            o.rate = atoi(optarg);
            break;
        case 'w':
            o.timeout_s = atoi(optarg);
            break;
        case 'g':
            o.tag = optarg;
            break;
        case 'A':
            o.acked_file = optarg;
            break;
        case 'X':
            o.stop_file = optarg;
            break;
        case 'e':
            o.expect = optarg;
            break;
        case 'd':
            o.debug = optarg;
            break;
        case 'O':
            o.check_offsets = true;
            break;
        case 'N':
            o.no_null_header = true;
            break;
        case 'V':
            o.validate_only = true;
            break;
        case 'P':
            o.assign = optarg;
            break;
        default:
            usage();
        }
    }
    if (!o.brokers || !o.topic)
        usage();
    kc_die_if(o.size < 0 || o.size > 60000, "--size must be 0..60000");
    int rc = 2;
    if (strcmp(cmd, "produce") == 0)
        rc = kc_cmd_produce(&o);
    else if (strcmp(cmd, "consume") == 0)
        rc = kc_cmd_consume(&o);
    else if (strcmp(cmd, "idem-produce") == 0)
        rc = kc_cmd_idem_produce(&o);
    else if (strcmp(cmd, "dump") == 0)
        rc = kc_cmd_dump(&o);
    else if (strcmp(cmd, "admin") == 0)
        rc = kc_cmd_admin(&o, action);
    else
        usage();
    return rc == 0 ? 0 : 1;
}
