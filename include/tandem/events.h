/*
 * tandem events: publish and consume CloudEvents over Kafka (librdkafka underneath, so the same
 * service works against tandem-broker or any Kafka cluster). See docs/events.md.
 *
 * Publishing is fire-and-forget. tandem_publish copies the event, hands it to librdkafka and
 * returns at once; records are batched (linger.ms 5), sent with acks=all and idempotence on, and
 * partitioned by key (murmur2, as Kafka's Java client), so the records of one key keep their
 * order. Each record is a CloudEvents 1.0 event in the Kafka binding's binary mode: headers
 * ce_specversion, ce_id, ce_source, ce_type, content-type (application/json), ce_subject,
 * ce_time, then traceparent (W3C Trace Context); the record value is the JSON data.
 *
 * Consuming runs on a thread of its own, in a consumer group, with manual acknowledgement: an
 * offset is committed only after the handler returned TANDEM_EVENT_OK for its record, or after
 * the record was written to the dead-letter topic (at-least-once: a record may be handled twice,
 * never lost). The records of one partition are handled one at a time, in order. A handler
 * answers RETRY (the same record is handed again after an exponential backoff with jitter, up to
 * max_attempts attempts in all) or FAIL; a record that fails, or exhausts its attempts, is
 * produced to <topic><dead_letter_suffix> with its key, value and headers and these headers more:
 *
 *   tandem_error               "permanent failure" or "retries exhausted"
 *   tandem_attempts            decimal number of attempts made
 *   tandem_original_topic      the topic it was read from
 *   tandem_original_partition  decimal partition
 *   tandem_original_offset     decimal offset
 *
 * and consumption goes on once the broker has acknowledged the dead letter.
 *
 * Errors are negative TANDEM_E* codes (error.h).
 */
#ifndef TANDEM_EVENTS_H
#define TANDEM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Producer settings. Strings are copied by tandem_producer_new. */
struct tandem_events_config {
    const char *brokers;   /* bootstrap servers, "host:port[,host:port...]"; required */
    const char *client_id; /* Kafka client.id; NULL: "tandem" */
    const char *source;    /* CloudEvents source of every event published; required, non-empty */
};

struct tandem_producer;

/*
 * Creates a producer and its delivery thread (which polls librdkafka for delivery reports and
 * runs the delivery callbacks). Connecting happens in the background: an unreachable broker is
 * not an error here, it shows later in delivery reports. Returns 0 and *out (free it with
 * tandem_producer_free); TANDEM_EINVAL (missing brokers or source, a setting librdkafka
 * refuses), TANDEM_EIO (librdkafka could not start).
 */
TANDEM_EXPORT int tandem_producer_new(const struct tandem_events_config *cfg,
                                      struct tandem_producer **out);

/* One event to publish. Everything is borrowed only for the duration of tandem_publish. */
struct tandem_event_out {
    const char *topic;       /* required */
    const char *key;         /* record key (NULL: none, partitions round-robin) */
    size_t key_len;          /* bytes of key */
    const char *type;        /* CloudEvents type, required, e.g. "com.example.post.created" */
    const char *subject;     /* CloudEvents subject; NULL: none */
    const char *id;          /* CloudEvents id; NULL: a new random (version 4) UUID */
    const char *traceparent; /* a valid W3C traceparent sent as is; NULL: a new trace */
    const void *data;        /* the JSON body; NULL with data_len 0: no value (null) */
    size_t data_len;
};

/*
 * A delivery report: err is 0 once the broker acknowledged the record (acks=all) at topic /
 * partition / offset, or a negative TANDEM_E* code (TANDEM_ETIMEDOUT: not delivered within
 * message.timeout.ms; TANDEM_ECLOSED: dropped at tandem_producer_free; TANDEM_EIO: any other
 * failure), with partition and offset -1 when unknown. topic is valid during the call only.
 */
typedef void (*tandem_delivery_fn)(int err, const char *topic, int32_t partition, int64_t offset,
                                   void *opaque);

/*
 * Publishes ev: copies everything (key, data and the headers it builds), queues the record and
 * returns at once. When it returns 0, cb (if not NULL) is called exactly once, later, with opaque,
 * on the producer's delivery thread (never on the caller's thread, never inside tandem_publish).
 * Callbacks of one partition come in the order of publishing. A callback must not call
 * tandem_producer_flush or tandem_producer_free; it may publish. Thread-safe.
 * Returns 0; TANDEM_EINVAL (no topic or type, an invalid traceparent, a data that is not one JSON
 * text, an empty id or subject); TANDEM_EAGAIN (the local queue is full: flush, or try again
 * later); TANDEM_ECLOSED (the producer is being freed); TANDEM_EIO (librdkafka refused it).
 */
TANDEM_EXPORT int tandem_publish(struct tandem_producer *p, const struct tandem_event_out *ev,
                                 tandem_delivery_fn cb, void *opaque);

/*
 * Waits until every record published so far has been delivered or has failed and its callback
 * has returned, for at most timeout_ms (< 0: no limit). Returns 0, or TANDEM_ETIMEDOUT with
 * records still pending. Thread-safe; must not be called from a delivery callback.
 */
TANDEM_EXPORT int tandem_producer_flush(struct tandem_producer *p, int timeout_ms);

/*
 * Flushes for at most 10 s, then drops what is still pending (their callbacks get
 * TANDEM_ECLOSED), stops the delivery thread and frees p. No callback runs after it returns.
 * p must not be used after, nor concurrently; NULL is a no-op.
 */
TANDEM_EXPORT void tandem_producer_free(struct tandem_producer *p);

/*
 * tandem_producer_free with the flush bounded by timeout_ms instead of 10 s (0: drop at once;
 * < 0: no limit). Dropping itself is local (librdkafka's purge) and takes a few milliseconds.
 */
TANDEM_EXPORT void tandem_producer_free_timeout(struct tandem_producer *p, int timeout_ms);

/* A received event, valid during the handler call only (copy what must outlive it). */
struct tandem_event {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key; /* NULL when the record has none */
    size_t key_len;
    const void *data; /* the record value; NULL when it has none */
    size_t data_len;
    /* The CloudEvents attributes, NUL-terminated, or all NULL when the record is not a valid
     * binary-mode CloudEvent (it is delivered all the same). */
    const char *id, *type, *source, *subject, *time;
    const char *traceparent; /* the record's traceparent header when valid, else NULL */
    int attempt;             /* 1 for the first handling of this record, 2 for the first retry... */
};

enum tandem_event_result {
    TANDEM_EVENT_OK = 0,    /* handled: its offset may be committed */
    TANDEM_EVENT_RETRY = 1, /* transient failure: hand the same record again after a backoff */
    TANDEM_EVENT_FAIL = 2   /* permanent failure: dead-letter it now (other values too) */
};

/* Handles one record; runs on the consumer's thread, one call at a time. */
typedef int (*tandem_event_handler_fn)(const struct tandem_event *ev, void *arg);

/* Where an assigned partition's consumption starts (struct tandem_partition.offset). */
#define TANDEM_OFFSET_COMMITTED (-1000) /* the group's committed offset, else the earliest */
#define TANDEM_OFFSET_BEGINNING (-2)    /* the partition's first record kept */
#define TANDEM_OFFSET_END       (-1)    /* the records appended from now on */

/* One partition of an assignment change (tandem_consumer_config.on_partitions). */
struct tandem_partition {
    const char *topic; /* valid during the call */
    int32_t partition;
    int64_t offset; /* assigned: TANDEM_OFFSET_COMMITTED, which the callback may replace by an
                       offset (>= 0) or another TANDEM_OFFSET_*; taken away: unused (-1) */
};

/*
 * An assignment change, on the consumer's thread, never during a handler call, with the handler's
 * arg. assigned: parts are now the consumer's, and none of their records has been handed to the
 * handler yet; the callback may set where each starts (a service that keeps its state and the
 * offsets it reflects elsewhere, a snapshot, resumes there). Not assigned: parts are taken away
 * (a rebalance, or the consumer stopping): the records handled from them have been committed
 * (unless the assignment was lost: the group went on without this member) and no record of them is
 * handed to the handler after this call. Once tandem_consumer_stop has returned it is never called
 * again.
 */
typedef void (*tandem_partitions_fn)(bool assigned, struct tandem_partition *parts, size_t n,
                                     void *arg);

/* Consumer settings; strings and the topic list are copied by tandem_consumer_start. */
struct tandem_consumer_config {
    const char *brokers;  /* required */
    const char *group_id; /* required */
    const char *const *topics;
    int ntopics;                     /* >= 1 */
    tandem_event_handler_fn handler; /* required */
    void *arg;                       /* handed to handler */
    int max_attempts;                /* attempts per record, retries included; 0: 5 */
    int64_t backoff_initial_ms;      /* wait before the first retry; 0: 100 */
    int64_t backoff_max_ms;          /* cap of the doubling wait; 0: 10000 */
    const char *dead_letter_suffix;  /* NULL: ".dlq" */
    int session_timeout_ms;          /* group session timeout; 0: 10000 */
    const char *client_id;           /* NULL: "tandem" */
    /* librdkafka's partition.assignment.strategy: NULL or "": its default ("range,roundrobin",
     * eager: every rebalance revokes every partition); "cooperative-sticky" for incremental
     * rebalancing (KIP-429: only the partitions that move are revoked, the others are consumed
     * on). Offsets of revoked partitions are committed before they are given up, either way. */
    const char *assignment_strategy;
    tandem_partitions_fn on_partitions; /* NULL: none */
    /* Records librdkafka fetches ahead into its queue before it stops fetching (its
     * queued.min.messages; 0: librdkafka's 100,000). librdkafka 2.0.2 looks again only a second
     * after it stopped, so a handler faster than that many records a second idles: a consumer of
     * high-volume topics raises it, at the price of librdkafka's memory while it is behind (about
     * 300 bytes per record queued, on top of the records themselves: docs/events.md). */
    int queued_records;
};

struct tandem_consumer;

/*
 * Joins the group, subscribes to the topics and starts the consumer's thread, which polls, runs
 * the handler, retries, dead-letters and commits. A group without committed offsets starts at the
 * earliest offset. Returns 0 and *out (stop it with tandem_consumer_stop); TANDEM_EINVAL (a
 * missing setting, a negative one, a setting librdkafka refuses), TANDEM_EIO (librdkafka or the
 * thread could not start).
 */
TANDEM_EXPORT int tandem_consumer_start(const struct tandem_consumer_config *cfg,
                                        struct tandem_consumer **out);

/*
 * Drains and frees c: stops fetching, lets the handler call in progress finish (a record waiting
 * for a retry is not retried, and a record fetched after the stop is not handed to the handler:
 * both stay uncommitted and are redelivered to the group), commits every handled offset
 * synchronously, leaves the group, and frees everything. Waits for at most timeout_ms (< 0: no
 * limit) for all that: returns 0 when it is done, TANDEM_ETIMEDOUT when not (the thread then
 * finishes the commit and close and frees c by itself). The handler call in progress is always
 * waited for, past timeout_ms if need be (logged as a warning): when this returns, whatever the
 * result, the handler is not running and never runs again, so its arg and what it reaches (a
 * producer it publishes to) may be freed. Either way c must not be used after. Must not be
 * called from the handler. NULL is a no-op returning 0.
 */
TANDEM_EXPORT int tandem_consumer_stop(struct tandem_consumer *c, int timeout_ms);

/*
 * Asks c to stop and returns at once: no handler call starts after it. c must still be stopped
 * (and freed) with tandem_consumer_stop; stopping several consumers this way first lets their
 * drains overlap. Thread-safe, also from the handler (it does not wait); NULL is a no-op.
 */
TANDEM_EXPORT void tandem_consumer_stop_begin(struct tandem_consumer *c);

/* Counters since creation. */
struct tandem_event_stats {
    uint64_t produced;        /* producer: records accepted by tandem_publish */
    uint64_t delivered;       /* producer: records acknowledged by the broker */
    uint64_t delivery_failed; /* producer: records that failed or were dropped */
    uint64_t consumed;        /* consumer: records handed to the handler (first attempts) */
    uint64_t retried;         /* consumer: handler calls that were retries */
    uint64_t dead_lettered;   /* consumer: records acknowledged by the dead-letter topic */
    uint64_t committed;       /* consumer: partition offsets committed (one per partition per
                                 successful commit) */
    int64_t lag;              /* consumer: the sum of tandem_consumer_lags' lag over its
                                 partitions; 0 for a producer */
    uint64_t rewound;         /* consumer: records delivered again by a fetch that went back
                                 while their partition stayed assigned, skipped: they had been
                                 handled (librdkafka before 2.4.0, its issue #4636) */
};

/* Fills *out with p's counters (the consumer fields are 0). Thread-safe, any thread. */
TANDEM_EXPORT void tandem_producer_stats(struct tandem_producer *p, struct tandem_event_stats *out);

/* Fills *out with c's counters (the producer fields are 0). Thread-safe, the handler included. */
TANDEM_EXPORT void tandem_consumer_stats(struct tandem_consumer *c, struct tandem_event_stats *out);

#define TANDEM_TOPIC_MAX 249 /* Kafka's longest topic name */

/*
 * One assigned partition's lag, from librdkafka's statistics (refreshed every second by a thread
 * of the consumer's own, so it keeps moving while a handler blocks):
 *
 *   end            the log end offset the consumer reads to (the last stable offset; the high
 *                  watermark without transactions)
 *   position       the next offset to hand to the handler: the record being handled + 1, or,
 *                  before the first record, the offset the partitions hook started it at (else
 *                  the committed offset, else the log start)
 *   committed      the group's committed offset, -1 before the first commit
 *   lag            end - position: records not yet handed to the handler
 *   committed_lag  end - committed (before any commit: from the hook's start offset, else the
 *                  log start): records not yet committed, which a crash would have handled again
 */
struct tandem_partition_lag {
    char topic[TANDEM_TOPIC_MAX + 1];
    int32_t partition;
    int64_t end, position, committed;
    int64_t lag, committed_lag;
};

/* Copies the lag of c's assigned partitions (as of the last statistics; a partition appears once
 * a fetch has told its end) into out[0..cap), in no set order. Returns how many there are (more
 * than cap: only cap copied). Thread-safe. */
TANDEM_EXPORT size_t tandem_consumer_lags(struct tandem_consumer *c,
                                          struct tandem_partition_lag *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
