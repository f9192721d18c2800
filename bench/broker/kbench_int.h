/*
 * kbench's private interface: the librdkafka helpers of kbench.c (configuration, producer,
 * partition lists) that the consumer-group modes in kbench_group.c and kbench_failover.c use
 * too, and the entry points of those modes. Not a library: one program, three files.
 */
#ifndef TANDEM_KBENCH_INT_H
#define TANDEM_KBENCH_INT_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include "bench_util.h"

/* What a producer's delivery reports add up to (kbench.c on_delivery). */
struct produce_state {
    atomic_ullong delivered;
    atomic_ullong errors;
    atomic_ullong last_dr_ns;
};

/* Sets k=v on conf; 0 or TANDEM_EINVAL after printing librdkafka's reason. */
int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v);

/* bootstrap.servers from o->server; TANDEM_EINVAL when there is none. */
int conf_common(rd_kafka_conf_t *conf, const struct bench_opts *o);

/* The consumer queue thresholds every consumer of the benchmark uses (see kbench.c). */
int conf_consumer_queue(rd_kafka_conf_t *conf);

/* A producer configured from o (acks, linger.ms, batch.size) reporting into st. */
int producer_new(const struct bench_opts *o, struct produce_state *st, rd_kafka_t **out);

/* Hands one record to librdkafka for `partition` (RD_KAFKA_PARTITION_UA: the partitioner
 * picks), waiting for room in its queue. */
int produce_one(rd_kafka_t *rk, const struct bench_opts *o, const uint8_t *buf, int32_t partition);

/* Produces one record (partition 0 when o->partitions is set) and waits for its report. */
int produce_warmup(rd_kafka_t *rk, const struct bench_opts *o, struct produce_state *st,
                   const uint8_t *buf);

/* Every partition of o->topic at `offset`, or at its high watermark when at_end is set. */
int partitions_of(rd_kafka_t *rk, const struct bench_opts *o, int64_t offset, int at_end,
                  rd_kafka_topic_partition_list_t **out);

/* kbench_group.c: creates o->topic with o->partitions partitions (an existing topic with that
 * many is fine) and waits until metadata shows them all. */
int topic_create(rd_kafka_t *rk, const struct bench_opts *o);

/* kbench_group.c: a group consumer handle (group.id o->group, session and heartbeat settings
 * from o when set) whose rebalance callback calls on_rebalance(opaque, err, partitions) after
 * applying the assignment; opaque is handed back. */
int group_consumer_new(const struct bench_opts *o, const char *client_id,
                       void (*on_rebalance)(void *, rd_kafka_resp_err_t,
                                            const rd_kafka_topic_partition_list_t *),
                       void *opaque, rd_kafka_t **out);

int run_group_catchup(const struct bench_opts *o);
int run_group_failover(const struct bench_opts *o);
int run_group_member(const struct bench_opts *o);

#endif
