/*
 * The consumer's lag from librdkafka's statistics (src/lib/events/lag.c): the rules of
 * events_lag_compute (end is the last stable offset, else the high watermark; position is the
 * record handed + 1, else the offset the service started the partition at, else the committed
 * offset, else the log start; both lags clamped at 0), and events_stats_lags over statistics JSON
 * shaped as librdkafka 2.0.2's STATISTICS.md shows it: only assigned partitions, never the
 * internal partition -1, none whose end is unknown, each with the start its filter gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events_int.h"

#define INVALID (-1001) /* RD_KAFKA_OFFSET_INVALID */

static void test_compute(void **state)
{
    static const struct {
        struct events_lag_offsets o;
        int64_t end, position, committed, lag, committed_lag;
    } t[] = {
        /* handler on offset 10 of 30 (app 11), 10 committed */
        {{0, 30, 30, 11, 10, -1}, 30, 11, 10, 19, 20},
        /* all handled and committed */
        {{0, 30, 30, 30, 30, -1}, 30, 30, 30, 0, 0},
        /* nothing handed yet: position is the committed offset */
        {{0, 30, 30, INVALID, 12, -1}, 30, 12, 12, 18, 18},
        /* a new group (no commit) on a log starting at 5: both lags count from the start */
        {{5, 30, 30, INVALID, INVALID, -1}, 30, 5, -1, 25, 25},
        /* a transaction open: the last stable offset is the end */
        {{0, 40, 35, 30, 30, -1}, 35, 30, 30, 5, 5},
        /* no last stable offset reported: the high watermark */
        {{0, 40, INVALID, 30, 20, -1}, 40, 30, 20, 10, 20},
        /* a watermark older than the position: clamped */
        {{0, 30, 30, 32, 31, -1}, 30, 32, 31, 0, 0},
        /* the service started the partition at the log end (it holds everything before, in a
         * snapshot): nothing to hand out, and the statistics have no committed offset. This read
         * the whole partition as lag (ingest_fleet's CI failure) */
        {{0, 2030, 2030, INVALID, INVALID, 2030}, 2030, 2030, -1, 0, 0},
        /* started at 20 of 30 with a commit at 12 known: position from the start, the commit as
         * the group has it */
        {{0, 30, 30, INVALID, 12, 20}, 30, 20, 12, 10, 18},
        /* once a record was handed out, the handed offset */
        {{0, 30, 30, 25, INVALID, 20}, 30, 25, -1, 5, 10},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tandem_partition_lag l;
        memset(&l, 0, sizeof(l));
        assert_true(events_lag_compute(&t[i].o, &l));
        assert_int_equal(l.end, t[i].end);
        assert_int_equal(l.position, t[i].position);
        assert_int_equal(l.committed, t[i].committed);
        assert_int_equal(l.lag, t[i].lag);
        assert_int_equal(l.committed_lag, t[i].committed_lag);
    }
    struct events_lag_offsets unknown = {INVALID, INVALID, INVALID, INVALID, INVALID, 5};
    struct tandem_partition_lag l = {.lag = 77};
    assert_false(events_lag_compute(&unknown, &l));
    assert_int_equal(l.lag, 77);
}

/* assigned: posts/0, posts/1 (started at 20 by the service) and audit/0 */
static bool keep(const char *topic, int32_t partition, void *arg, int64_t *start)
{
    (void)arg;
    if (strcmp(topic, "posts") == 0 && partition == 1)
        *start = 20;
    return (strcmp(topic, "posts") == 0 && partition <= 1) ||
           (strcmp(topic, "audit") == 0 && partition == 0);
}

static void test_stats_json(void **state)
{
    static const char json[] =
        "{\"name\":\"hello#consumer-1\",\"type\":\"consumer\",\"ts\":1,"
        "\"brokers\":{\"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"toppars\":{}}},"
        "\"topics\":{"
        " \"posts\":{\"topic\":\"posts\",\"partitions\":{"
        "  \"0\":{\"partition\":0,\"fetch_state\":\"active\",\"app_offset\":11,"
        "\"committed_offset\":10,\"lo_offset\":0,\"hi_offset\":30,\"ls_offset\":30,"
        "\"consumer_lag\":20},"
        "  \"1\":{\"partition\":1,\"app_offset\":-1001,\"committed_offset\":-1001,"
        "\"lo_offset\":0,\"hi_offset\":20,\"ls_offset\":20},"
        "  \"2\":{\"partition\":2,\"app_offset\":-1001,\"committed_offset\":-1001,"
        "\"lo_offset\":0,\"hi_offset\":50,\"ls_offset\":50},"
        "  \"-1\":{\"partition\":-1,\"app_offset\":-1001,\"committed_offset\":-1001,"
        "\"lo_offset\":-1001,\"hi_offset\":-1001,\"ls_offset\":-1001}}},"
        " \"audit\":{\"topic\":\"audit\",\"partitions\":{"
        "  \"0\":{\"partition\":0,\"app_offset\":-1001,\"committed_offset\":-1001,"
        "\"lo_offset\":-1001,\"hi_offset\":-1001,\"ls_offset\":-1001}}}},"
        "\"cgrp\":{\"state\":\"up\"}}";
    struct tandem_partition_lag *l = NULL;
    size_t n = 0;
    assert_int_equal(events_stats_lags(json, sizeof(json) - 1, keep, NULL, &l, &n), 0);
    /* posts/2 is not assigned, -1 is internal, audit/0 has no known end yet */
    assert_int_equal(n, 2);
    assert_string_equal(l[0].topic, "posts");
    assert_int_equal(l[0].partition, 0);
    assert_int_equal(l[0].lag, 19);
    assert_int_equal(l[0].committed_lag, 20);
    /* posts/1: nothing handed out or committed yet, started at its end (20) by the service */
    assert_int_equal(l[1].partition, 1);
    assert_int_equal(l[1].position, 20);
    assert_int_equal(l[1].committed, -1);
    assert_int_equal(l[1].lag, 0);
    assert_int_equal(l[1].committed_lag, 0);
    free(l);

    static const char none[] = "{\"name\":\"x\",\"topics\":{}}";
    assert_int_equal(events_stats_lags(none, sizeof(none) - 1, keep, NULL, &l, &n), 0);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(events_stats_lags("{", 1, keep, NULL, &l, &n), TANDEM_EINVAL);
    assert_int_equal(events_stats_lags("[]", 2, keep, NULL, &l, &n), TANDEM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute),
        cmocka_unit_test(test_stats_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
