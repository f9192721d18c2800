/*
 * kafka-check consumers: `consume` (assign() every partition from the beginning, the end or a
 * timestamp, and check that exactly the records seq [start, start + count) arrive, with exact
 * contents and in order per partition) and `dump` (print every record of a topic).
 *
 * Model of `consume`: partition p must deliver seq p', p' + P, ... (p' the first seq >= start
 * with seq % P == p) up to start + count, nothing else; after the last expected record the
 * consumer waits for end-of-partition on every partition so that a record too many is caught.
 * Consumers run with check.crcs=true so that the CRC of every batch the broker serves is checked.
 *
 * From the end: the partitions are assigned at OFFSET_END, the consumer waits until librdkafka
 * reports every partition's fetch state "active" (the end offset is resolved, from the
 * statistics JSON), and only then produces the records itself; it must see exactly those.
 * From a timestamp: rd_kafka_offsets_for_times() (ListOffsets v1+) gives the offsets to assign.
 */
#include "kafka_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kc_active_parts = -1; /* from the last statistics JSON */

static int kc_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    static const char needle[] = "\"fetch_state\":\"active\"";
    int n = 0;
    const char *p = json;
    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += sizeof(needle) - 1;
    }
    kc_active_parts = n;
    return 0; /* librdkafka frees json */
}

static rd_kafka_t *kc_new_consumer(const struct kc_opts *o, bool stats)
{
    char err[512];
    rd_kafka_conf_t *conf = kc_conf(o);
    kc_set(conf, "group.id", "kafka-check-assign");
    kc_set(conf, "enable.auto.commit", "false");
    kc_set(conf, "enable.auto.offset.store", "false");
    kc_set(conf, "enable.partition.eof", "true");
    kc_set(conf, "check.crcs", "true");
    kc_set(conf, "auto.offset.reset", "error");
    kc_set(conf, "fetch.wait.max.ms", "200");
    if (stats) {
        kc_set(conf, "statistics.interval.ms", "100");
        rd_kafka_conf_set_stats_cb(conf, kc_stats_cb);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    kc_die_if(!rk, "rd_kafka_new: %s", err);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Builds the assignment of all nparts partitions at `offset` (a logical offset or a timestamp
 * for offsets_for_times). */
static rd_kafka_topic_partition_list_t *kc_all_parts(const char *topic, int nparts, int64_t off)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = off;
    return l;
}

static int kc_assign(rd_kafka_t *rk, const struct kc_opts *o, int nparts)
{
    int64_t logical;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (strcmp(o->from, "beginning") == 0) {
        logical = RD_KAFKA_OFFSET_BEGINNING;
    } else if (strcmp(o->from, "end") == 0) {
        logical = RD_KAFKA_OFFSET_END;
    } else if (strncmp(o->from, "ts:", 3) == 0) {
        l = kc_all_parts(o->topic, nparts, strtoll(o->from + 3, NULL, 10));
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, 10000);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka-check: offsets_for_times: %s\n", rd_kafka_err2str(err));
            goto fail;
        }
        for (int i = 0; i < l->cnt; i++) {
            fprintf(stderr,
                    "kafka-check: offsets_for_times(%s) partition %d -> offset %" PRId64 " (%s)\n",
                    o->from + 3, (int)l->elems[i].partition, l->elems[i].offset,
                    rd_kafka_err2name(l->elems[i].err));
            if (l->elems[i].err)
                goto fail;
            if (l->elems[i].offset < 0) {
                fprintf(stderr, "kafka-check: no offset for timestamp %s in partition %d\n",
                        o->from + 3, (int)l->elems[i].partition);
                goto fail;
            }
        }
        goto assign;
    } else {
        fprintf(stderr, "kafka-check: bad --from %s\n", o->from);
        return -1;
    }
    l = kc_all_parts(o->topic, nparts, logical);
assign:;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, l);
    if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kafka-check: assign: %s\n", rd_kafka_err2str(aerr));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
fail:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    return -1;
}

/* From the end: waits until every partition's end offset is resolved, then produces. */
static int kc_wait_active_then_produce(rd_kafka_t *rk, const struct kc_opts *o, int nparts)
{
    int64_t deadline = kc_now_ms() + 15000;
    while (kc_active_parts < nparts) {
        if (kc_now_ms() > deadline) {
            fprintf(stderr, "kafka-check: only %d of %d partitions became active at the end\n",
                    kc_active_parts, nparts);
            return -1;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        bool bad = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (bad)
            fprintf(stderr,
                    "kafka-check: a record (partition %d offset %" PRId64 ") arrived "
                    "before anything was produced at the end\n",
                    (int)m->partition, m->offset);
        rd_kafka_message_destroy(m);
        if (bad)
            return -1;
    }
    return kc_produce_range(o, o->start, o->count);
}

int kc_cmd_consume(const struct kc_opts *o)
{
    bool from_end = strcmp(o->from, "end") == 0;
    rd_kafka_t *rk = kc_new_consumer(o, from_end);
    int rc = -1;
    int nparts = kc_partition_count(rk, o->topic, 20000);
    if (nparts <= 0 || kc_assign(rk, o, nparts) < 0)
        goto fail;
    if (from_end && kc_wait_active_then_produce(rk, o, nparts) < 0)
        goto fail;
    int64_t next[KC_MAX_PARTS], seen[KC_MAX_PARTS], end = o->start + o->count;
    bool eof[KC_MAX_PARTS];
    for (int p = 0; p < nparts; p++) {
        int64_t s = o->start + ((p - o->start % nparts) % nparts + nparts) % nparts;
        next[p] = s;
        seen[p] = 0;
        eof[p] = false;
    }
    int64_t remaining = o->count, deadline = kc_now_ms() + o->timeout_s * 1000;
    int64_t done_at = -1;
    for (;;) {
        int neof = 0;
        for (int p = 0; p < nparts; p++)
            neof += eof[p];
        if (remaining == 0 && (neof == nparts || kc_now_ms() > done_at + 5000))
            break;
        if (kc_now_ms() > deadline) {
            fprintf(stderr, "kafka-check: timeout: %" PRId64 " of %" PRId64 " records missing\n",
                    remaining, o->count);
            for (int p = 0; p < nparts; p++)
                if (next[p] < end)
                    fprintf(stderr,
                            "  partition %d: next expected seq %" PRId64 " after %" PRId64
                            " records\n",
                            p, next[p], seen[p]);
            goto fail;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        int p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < nparts)
                eof[p] = true;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            fprintf(stderr, "kafka-check: consumer error (partition %d): %s\n", p,
                    rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto fail;
        }
        int bad = 0;
        if (p < 0 || p >= nparts || next[p] >= end) {
            fprintf(stderr,
                    "kafka-check: unexpected extra record at partition %d offset %" PRId64
                    ": '%.*s'\n",
                    p, m->offset, (int)(m->len > 60 ? 60 : m->len), (const char *)m->payload);
            bad = 1;
        } else if (kc_check_message(o, m, next[p]) < 0) {
            bad = 1;
        } else if (o->check_offsets && m->offset != seen[p]) {
            fprintf(stderr,
                    "kafka-check: partition %d: record %" PRId64 " has offset %" PRId64 "\n", p,
                    seen[p], m->offset);
            bad = 1;
        }
        rd_kafka_message_destroy(m);
        if (bad)
            goto fail;
        eof[p] = false;
        next[p] += nparts;
        seen[p]++;
        if (--remaining == 0)
            done_at = kc_now_ms();
    }
    fprintf(stderr, "kafka-check: consumed and checked %" PRId64 " records from %s (%s)\n",
            o->count, o->topic, o->from);
    rc = 0;
fail:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

int kc_cmd_dump(const struct kc_opts *o)
{
    rd_kafka_t *rk = kc_new_consumer(o, false);
    int rc = -1;
    int nparts = kc_partition_count(rk, o->topic, 20000);
    if (nparts <= 0 || kc_assign(rk, o, nparts) < 0)
        goto fail;
    bool eof[KC_MAX_PARTS] = {false};
    int neof = 0;
    int64_t n = 0, deadline = kc_now_ms() + o->timeout_s * 1000;
    while (neof < nparts) {
        if (kc_now_ms() > deadline) {
            fprintf(stderr, "kafka-check: dump: timeout, %d of %d partitions at the end\n", neof,
                    nparts);
            goto fail;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        int p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < nparts && !eof[p]) {
                eof[p] = true;
                neof++;
            }
        } else if (m->err) {
            fprintf(stderr, "kafka-check: consumer error (partition %d): %s\n", p,
                    rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto fail;
        } else {
            printf("%d\t%" PRId64 "\t%.*s\t%.*s\n", p, m->offset, (int)m->key_len,
                   m->key ? (const char *)m->key : "", (int)m->len,
                   m->payload ? (const char *)m->payload : "");
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    fprintf(stderr, "kafka-check: dumped %" PRId64 " records of %s (%d partitions)\n", n, o->topic,
            nparts);
    rc = 0;
fail:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
