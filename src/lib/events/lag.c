/*
 * lag.c: a consumer's lag per partition, from librdkafka's statistics (STATISTICS.md of
 * librdkafka 2.0.2, "topics" -> "partitions"). Pure: the statistics JSON text in, a table out;
 * the consumer (consumer.c) feeds it from its statistics callback and keeps the table.
 *
 * The partition fields read, all int gauges (-1001, RD_KAFKA_OFFSET_INVALID, when unknown):
 *
 *   lo_offset         the partition's low watermark on the broker
 *   hi_offset         its high watermark (the log end offset)
 *   ls_offset         its last stable offset (= hi_offset without transactions)
 *   app_offset        offset of the last record handed to the application + 1
 *   committed_offset  the group's last committed offset for it
 *
 * and, per partition, what the gauges say:
 *
 *   end        ls_offset when known, else hi_offset (the consumer reads read_committed, so the
 *              last stable offset is where it can read to; librdkafka's own consumer_lag uses it)
 *   position   app_offset once a record was handed to the handler; before that the offset the
 *              service started the assignment at (its partitions hook, say from a snapshot: the
 *              consumer then never asks the group for its committed offset, so the statistics
 *              have none), else the committed offset (where consumption resumes), else lo_offset
 *              (auto.offset.reset=earliest)
 *   lag            end - position   records not yet handed to the handler
 *   committed_lag  end - committed  records not yet committed (the committed offset, else the
 *                                   service's start offset, else the low watermark before any
 *                                   commit): what a crash would hand out again
 *
 * A partition whose end is not known yet (no fetch answer so far) is left out. Both lags are
 * clamped at 0 (watermarks and positions come from different moments).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "events_int.h"

static int64_t offset_of(const json_t *part, const char *name)
{
    const json_t *v = json_object_get(part, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

bool events_lag_compute(const struct events_lag_offsets *o, struct tandem_partition_lag *out)
{
    int64_t end = o->ls >= 0 ? o->ls : o->hi;
    if (end < 0) {
        return false;
    }
    int64_t base = o->lo >= 0 ? o->lo : 0;
    int64_t position = o->app >= 0         ? o->app
                       : o->start >= 0     ? o->start
                       : o->committed >= 0 ? o->committed
                                           : base;
    int64_t committed = o->committed >= 0 ? o->committed : o->start >= 0 ? o->start : base;
    out->end = end;
    out->position = position;
    out->committed = o->committed >= 0 ? o->committed : -1;
    out->lag = end > position ? end - position : 0;
    out->committed_lag = end > committed ? end - committed : 0;
    return true;
}

int events_stats_lags(const char *json, size_t len,
                      bool (*keep)(const char *topic, int32_t partition, void *arg, int64_t *start),
                      void *arg, struct tandem_partition_lag **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_error_t e;
    json_t *root = json_loadb(json, len, 0, &e);
    json_t *topics = json_object_get(root, "topics");
    if (!json_is_object(topics)) {
        json_decref(root);
        return TANDEM_EINVAL;
    }
    size_t cap = 0;
    int rc = 0;
    const char *tname;
    json_t *topic;
    json_object_foreach(topics, tname, topic)
    {
        const char *pid;
        json_t *part;
        json_t *parts = json_object_get(topic, "partitions");
        if (strlen(tname) > TANDEM_TOPIC_MAX || !json_is_object(parts)) {
            continue;
        }
        json_object_foreach(parts, pid, part)
        {
            const json_t *pv = json_object_get(part, "partition");
            int64_t p = json_is_integer(pv) ? (int64_t)json_integer_value(pv) : -1;
            int64_t start = -1;
            if (p < 0 || p > INT32_MAX || !keep(tname, (int32_t)p, arg, &start)) {
                continue; /* -1: librdkafka's internal unassigned partition */
            }
            struct events_lag_offsets o = {
                .start = start,
                .lo = offset_of(part, "lo_offset"),
                .hi = offset_of(part, "hi_offset"),
                .ls = offset_of(part, "ls_offset"),
                .app = offset_of(part, "app_offset"),
                .committed = offset_of(part, "committed_offset"),
            };
            struct tandem_partition_lag l;
            memset(&l, 0, sizeof(l));
            if (!events_lag_compute(&o, &l)) {
                continue;
            }
            memcpy(l.topic, tname, strlen(tname) + 1);
            l.partition = (int32_t)p;
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                struct tandem_partition_lag *grown = realloc(*out, cap * sizeof(**out));
                if (grown == NULL) {
                    rc = TANDEM_ENOMEM;
                    goto done;
                }
                *out = grown;
            }
            (*out)[(*n)++] = l;
        }
    }
done:
    json_decref(root);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
