/*
 * kafka-check: the librdkafka client that judges tandem-broker in the integration tests.
 *
 * Model: every record a test writes is a pure function of (tag, seq): its partition, key, value,
 * headers and (optionally) timestamp can be recomputed by the reader, so a consumer checks exact
 * contents and order without any side channel. For a topic of P partitions, record seq goes to
 * partition seq % P, hence partition p holds seq = p, p + P, p + 2P, ... in that order:
 *
 *   FIELD      CONTENT
 *   partition  seq % P
 *   key        "key-<seq>"
 *   value      "<tag>-<seq>" padded with 'x' up to --size bytes
 *   headers    "seq" = "<seq>", "tag" = "<tag>", "nil" = null value
 *   timestamp  --ts-base + seq when --ts-base is given, else the producer's clock
 *
 * Subcommands (see usage()): produce, consume, idem-produce, dump, admin. Each exits 0 when every
 * check passed and 1 with a message on stderr naming the first difference otherwise.
 */
#ifndef TANDEM_IT_KAFKA_CHECK_H
#define TANDEM_IT_KAFKA_CHECK_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_MAX_CONFIGS 16
#define KC_MAX_PARTS   256

struct kc_opts {
    const char *brokers;
    const char *topic;
    const char *tag;        /* record content tag ("t") */
    const char *acks;       /* "0", "1", "all" */
    const char *codec;      /* none, gzip, snappy, lz4, zstd */
    const char *from;       /* beginning, end, ts:<ms> */
    const char *acked_file; /* idem-produce: acknowledged seqs, one a line */
    const char *stop_file;  /* idem-produce: stop producing once this file exists */
    const char *expect;     /* admin: expected error name, e.g. TOPIC_ALREADY_EXISTS */
    const char *debug;      /* librdkafka debug contexts */
    int64_t start;          /* first seq */
    int64_t count;          /* number of records */
    int64_t ts_base;        /* -1: producer's clock */
    int size;               /* value size, 0 = no padding */
    int rate;               /* records per second, 0 = unlimited */
    int timeout_s;          /* overall limit of the subcommand */
    int partitions;         /* admin create, admin partitions (the new total) */
    bool check_offsets;     /* consume: offsets are 0,1,2,... per partition from the start */
    bool no_null_header;    /* consume: records carry no "nil" header (kafkajs cannot send one) */
    bool validate_only;     /* admin partitions: ValidateOnly */
    const char *assign;     /* admin partitions: new partitions' brokers, "0/0" or "1,2/0" */
    const char *configs[KC_MAX_CONFIGS]; /* admin create: key=value */
    int nconfigs;
};

/* ---- kafka_check.c: shared helpers ---------------------------------------------------------- */

int64_t kc_now_ms(void);
void kc_die_if(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Formats the deterministic value of seq into buf (cap bytes); returns its length. */
size_t kc_value(char *buf, size_t cap, const char *tag, int64_t seq, int size);
/* A configuration with bootstrap.servers, logging and the debug contexts set. */
rd_kafka_conf_t *kc_conf(const struct kc_opts *o);
void kc_set(rd_kafka_conf_t *conf, const char *key, const char *value);
/* Waits (up to timeout_ms) until the topic exists with at least one partition, returns the
 * partition count or -1. Metadata through a producer handle may auto-create the topic. */
int kc_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms);
/* Checks one consumed message against the record of seq; returns 0 or -1 (with a message). */
int kc_check_message(const struct kc_opts *o, const rd_kafka_message_t *m, int64_t seq);

/* ---- subcommands ---------------------------------------------------------------------------- */

int kc_cmd_produce(const struct kc_opts *o);
int kc_cmd_idem_produce(const struct kc_opts *o);
int kc_cmd_consume(const struct kc_opts *o);
int kc_cmd_dump(const struct kc_opts *o);
int kc_cmd_admin(const struct kc_opts *o, const char *action);

/* Produces seq [start, start + count) with o's acks/codec; checks every delivery report.
 * Returns 0 when all count records were reported delivered. */
int kc_produce_range(const struct kc_opts *o, int64_t start, int64_t count);

#endif
