/*
 * The pure half of libtandem's events: what a published record's headers are, how a received
 * record's headers become a struct tandem_event, the retry backoff, the consumer's defaults and
 * the dead-letter headers. No librdkafka here: headers are cloudevents.h's plain arrays, and the
 * producer and consumer translate them to and from rd_kafka_headers_t. The layout of both header
 * sets is drawn in events_int.h.
 *
 * Invariants: nothing allocates; every output string is NUL-terminated in a caller buffer whose
 * size is checked; header values borrow their strings (see each function).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events_int.h"

static const char HEX[] = "0123456789abcdef";

void events_uuid_format(const uint8_t rnd[16], char out[EVENTS_UUID_SIZE])
{
    uint8_t b[16];
    memcpy(b, rnd, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 (RFC 9562 §5.4) */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = HEX[b[i] >> 4];
        out[o++] = HEX[b[i] & 15];
    }
    out[o] = '\0';
}

int events_time_format(int64_t unix_ms, char out[EVENTS_TIME_SIZE])
{
    if (unix_ms < 0 || unix_ms >= INT64_C(253402300800000)) /* 10000-01-01 */
        return TANDEM_ERANGE;
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL)
        return TANDEM_ERANGE;
    int w = snprintf(out, EVENTS_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(unix_ms % 1000));
    return w > 0 && w < EVENTS_TIME_SIZE ? 0 : TANDEM_ERANGE;
}

int events_headers_build(const struct tandem_event_out *ev, const char *source, const char *id,
                         const char *time, const char *traceparent, struct tandem_kafka_header *out,
                         size_t cap, size_t *n)
{
    if (cap < EVENTS_MAX_HEADERS)
        return TANDEM_ETOOLARGE;
    if (ev->topic == NULL || ev->topic[0] == '\0' || ev->type == NULL || traceparent == NULL ||
        !tandem_traceparent_valid(traceparent, strlen(traceparent)))
        return TANDEM_EINVAL;
    struct tandem_cloudevent ce;
    tandem_ce_init(&ce);
    ce.id = id;
    ce.source = source;
    ce.type = ev->type;
    ce.datacontenttype = "application/json";
    ce.subject = ev->subject;
    ce.time = time;
    char names[4]; /* no extensions */
    const char *key;
    size_t key_len, count;
    int rc = tandem_ce_to_kafka(&ce, out, cap - 1, &count, names, sizeof(names), &key, &key_len);
    if (rc != 0)
        return rc == TANDEM_ETOOLARGE ? rc : TANDEM_EINVAL;
    out[count].name = "traceparent";
    out[count].value = traceparent;
    out[count].value_len = strlen(traceparent);
    *n = count + 1;
    return 0;
}

size_t events_decode_buf_size(const struct tandem_kafka_header *h, size_t n)
{
    size_t total = TANDEM_TRACEPARENT_SIZE + 1;
    for (size_t i = 0; i < n; i++)
        total += h[i].value_len + strlen(h[i].name) + 2;
    return total;
}

int events_record_decode(const struct tandem_kafka_header *h, size_t n, char *buf, size_t len,
                         struct tandem_event *ev)
{
    ev->id = ev->type = ev->source = ev->subject = ev->time = NULL;
    ev->traceparent = NULL;
    if (len < TANDEM_TRACEPARENT_SIZE)
        return TANDEM_ETOOLARGE;
    /* The traceparent first, at the start of buf; the attributes after it. */
    const struct tandem_kafka_header *tp = tandem_kafka_header_find(h, n, "traceparent");
    if (tp != NULL && tp->value != NULL && tp->value_len == TANDEM_TRACEPARENT_LEN &&
        tandem_traceparent_valid(tp->value, tp->value_len)) {
        memcpy(buf, tp->value, TANDEM_TRACEPARENT_LEN);
        buf[TANDEM_TRACEPARENT_LEN] = '\0';
        ev->traceparent = buf;
    }
    struct tandem_cloudevent ce;
    int rc = tandem_ce_from_kafka(h, n, buf + TANDEM_TRACEPARENT_SIZE,
                                  len - TANDEM_TRACEPARENT_SIZE, &ce);
    if (rc != 0)
        return rc;
    ev->id = ce.id;
    ev->type = ce.type;
    ev->source = ce.source;
    ev->subject = ce.subject;
    ev->time = ce.time;
    return 0;
}

int64_t events_backoff_ms(int failed, int64_t initial_ms, int64_t max_ms, uint32_t rnd)
{
    int64_t base = initial_ms;
    for (int i = 1; i < failed && base < max_ms; i++)
        base *= 2;
    if (base > max_ms)
        base = max_ms;
    if (base <= 0)
        return 0;
    return base / 2 + (int64_t)(rnd % (uint64_t)(base / 2 + 1));
}

int events_consumer_settings(const struct tandem_consumer_config *cfg,
                             struct events_consumer_settings *out)
{
    if (cfg == NULL || cfg->brokers == NULL || cfg->brokers[0] == '\0' || cfg->group_id == NULL ||
        cfg->group_id[0] == '\0' || cfg->topics == NULL || cfg->ntopics < 1 ||
        cfg->handler == NULL || cfg->max_attempts < 0 || cfg->backoff_initial_ms < 0 ||
        cfg->backoff_max_ms < 0 || cfg->session_timeout_ms < 0 || cfg->queued_records < 0)
        return TANDEM_EINVAL;
    for (int i = 0; i < cfg->ntopics; i++)
        if (cfg->topics[i] == NULL || cfg->topics[i][0] == '\0')
            return TANDEM_EINVAL;
    out->max_attempts = cfg->max_attempts ? cfg->max_attempts : 5;
    out->backoff_initial_ms = cfg->backoff_initial_ms ? cfg->backoff_initial_ms : 100;
    out->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 10000;
    if (out->backoff_max_ms < out->backoff_initial_ms)
        return TANDEM_EINVAL;
    out->dead_letter_suffix = cfg->dead_letter_suffix ? cfg->dead_letter_suffix : ".dlq";
    if (out->dead_letter_suffix[0] == '\0')
        return TANDEM_EINVAL; /* the dead letters would go back to the topic itself */
    out->session_timeout_ms = cfg->session_timeout_ms ? cfg->session_timeout_ms : 10000;
    /* The thread stays on a retried record without polling: the poll interval must outlast
     * every wait of one record's retries, plus a minute for the handler calls themselves. */
    int64_t worst = (int64_t)(out->max_attempts - 1) * out->backoff_max_ms + 60000;
    if (worst < EVENTS_MAX_POLL_MS_MIN)
        worst = EVENTS_MAX_POLL_MS_MIN;
    if (worst > EVENTS_MAX_POLL_MS_MAX)
        return TANDEM_EINVAL;
    if (worst < out->session_timeout_ms)
        worst = out->session_timeout_ms;
    out->max_poll_interval_ms = (int)worst;
    return 0;
}

void events_dlq_headers(struct events_dlq *d, const char *topic, int32_t partition, int64_t offset,
                        int attempts, bool permanent,
                        struct tandem_kafka_header out[EVENTS_DLQ_HEADERS])
{
    snprintf(d->attempts, sizeof(d->attempts), "%d", attempts);
    snprintf(d->partition, sizeof(d->partition), "%" PRId32, partition);
    snprintf(d->offset, sizeof(d->offset), "%" PRId64, offset);
    const char *err = permanent ? "permanent failure" : "retries exhausted";
    const char *names[EVENTS_DLQ_HEADERS] = {"tandem_error", "tandem_attempts",
                                             "tandem_original_topic", "tandem_original_partition",
                                             "tandem_original_offset"};
    const char *values[EVENTS_DLQ_HEADERS] = {err, d->attempts, topic, d->partition, d->offset};
    for (int i = 0; i < EVENTS_DLQ_HEADERS; i++) {
        out[i].name = names[i];
        out[i].value = values[i];
        out[i].value_len = strlen(values[i]);
    }
}
