/*
 * libtandem events, private: the pure pieces of the producer and consumer (no librdkafka, no
 * threads), in codec.c, so the unit tests (tests/unit/test_lib_events_codec.c) reach them, and the
 * shared definitions of producer.c and consumer.c.
 *
 * A published record's headers, in order (cloudevents.h's binary mode, then trace.h):
 *
 *   ce_specversion  "1.0"
 *   ce_id           given, or a random UUID (RFC 9562 version 4, lowercase, 36 characters)
 *   ce_source       the producer's configured source
 *   ce_type         given
 *   content-type    "application/json"
 *   ce_subject      given, or absent
 *   ce_time         the publishing time, RFC 3339 UTC with milliseconds: 2026-11-26T22:48:53.123Z
 *   traceparent     given (validated), or a new sampled trace
 *
 * A dead letter keeps the original headers and appends the five tandem_* headers of events.h.
 */
#ifndef TANDEM_EVENTS_INT_H
#define TANDEM_EVENTS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/cloudevents.h"
#include "tandem/events.h"
#include "tandem/trace.h"

#define EVENTS_MAX_HEADERS     (TANDEM_CE_MAX_HEADERS + 1) /* ce_* + traceparent */
#define EVENTS_UUID_SIZE       37                          /* 36 + NUL */
#define EVENTS_TIME_SIZE       32
#define EVENTS_DLQ_HEADERS     5
#define EVENTS_MAX_POLL_MS_MIN 300000   /* librdkafka's default max.poll.interval.ms */
#define EVENTS_MAX_POLL_MS_MAX 86400000 /* librdkafka's upper bound */

/* Formats 16 random bytes as a version-4 UUID (sets the version and variant bits in a copy). */
void events_uuid_format(const uint8_t rnd[16], char out[EVENTS_UUID_SIZE]);

/* Formats unix_ms as "YYYY-MM-DDThh:mm:ss.mmmZ". Returns 0 or TANDEM_ERANGE (year past 9999 or
 * before 1970). */
int events_time_format(int64_t unix_ms, char out[EVENTS_TIME_SIZE]);

/*
 * Builds the headers of a published record (the table above) into out[cap], count in *n. id,
 * time and traceparent are the values to send (the caller has resolved the defaults); header
 * values borrow ev's, source's, id's, time's and traceparent's strings. Returns 0; TANDEM_EINVAL
 * when ev has no topic or type, traceparent is invalid, or the event fails tandem_ce_validate;
 * TANDEM_ETOOLARGE when cap is below EVENTS_MAX_HEADERS.
 */
int events_headers_build(const struct tandem_event_out *ev, const char *source, const char *id,
                         const char *time, const char *traceparent, struct tandem_kafka_header *out,
                         size_t cap, size_t *n);

/* Bytes of buffer events_record_decode needs for headers h[0..n). */
size_t events_decode_buf_size(const struct tandem_kafka_header *h, size_t n);

/*
 * Sets ev's CloudEvents attributes and traceparent from a received record's headers, copying them
 * into buf (at least events_decode_buf_size bytes). Attributes are all NULL when the headers are
 * not a valid binary-mode CloudEvent, traceparent NULL when absent or invalid; other fields of ev
 * are untouched. Returns 0 for a CloudEvent, else tandem_ce_from_kafka's error (ev still set).
 */
int events_record_decode(const struct tandem_kafka_header *h, size_t n, char *buf, size_t len,
                         struct tandem_event *ev);

/*
 * The wait before attempt failed + 1: base = min(max_ms, initial_ms * 2^(failed - 1)), then
 * "equal jitter": base / 2 + rnd % (base / 2 + 1), so in [base / 2, base]. failed >= 1.
 */
int64_t events_backoff_ms(int failed, int64_t initial_ms, int64_t max_ms, uint32_t rnd);

/* A consumer configuration with its defaults applied and checked. */
struct events_consumer_settings {
    int max_attempts;
    int64_t backoff_initial_ms;
    int64_t backoff_max_ms;
    const char *dead_letter_suffix;
    int session_timeout_ms;
    int max_poll_interval_ms; /* > the worst case of all retries' waits of one record */
};

/* Checks cfg and applies the defaults of events.h. Returns 0 or TANDEM_EINVAL. */
int events_consumer_settings(const struct tandem_consumer_config *cfg,
                             struct events_consumer_settings *out);

/* Values of the dead-letter headers; the strings in out point into d. */
struct events_dlq {
    char attempts[16];
    char partition[16];
    char offset[24];
};

/* Fills out[EVENTS_DLQ_HEADERS] (names and values per events.h) for a record of topic /
 * partition / offset that failed after attempts attempts, permanently (fail) or not. */
void events_dlq_headers(struct events_dlq *d, const char *topic, int32_t partition, int64_t offset,
                        int attempts, bool permanent,
                        struct tandem_kafka_header out[EVENTS_DLQ_HEADERS]);

/* ---- lag.c ---------------------------------------------------------------------------------- */

/* One partition's offsets as librdkafka's statistics give them (-1 or below: unknown). */
struct events_lag_offsets {
    int64_t lo, hi, ls, app, committed;
    /* Not from the statistics: where this assignment of the partition began when the service
     * named the offset (its partitions hook), else -1. */
    int64_t start;
};

/* Fills out's end, position, committed and both lags from o (lag.c's essay has the rules).
 * Returns false, out untouched, when the partition's end is not known. */
bool events_lag_compute(const struct events_lag_offsets *o, struct tandem_partition_lag *out);

/*
 * Reads librdkafka's statistics JSON text: for each partition (id >= 0) of each topic for which
 * keep(topic, partition, arg, &start) is true and whose end is known, one entry; keep also gives
 * the partition's start offset (events_lag_offsets.start, -1 when the service named none).
 * Returns 0 with *out (malloc'd, free() it; NULL when *n is 0) and *n, TANDEM_EINVAL (not
 * statistics JSON) or TANDEM_ENOMEM.
 */
int events_stats_lags(const char *json, size_t len,
                      bool (*keep)(const char *topic, int32_t partition, void *arg, int64_t *start),
                      void *arg, struct tandem_partition_lag **out, size_t *n);

#endif
