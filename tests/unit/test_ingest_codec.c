/*
 * test_ingest_codec: the pure parts of tandem-ingest (bench/ingest/codec.c, body.c): the binary
 * position against its layout (docs/fleet.md), the JSON position and bodies read back by jansson
 * to the same integers, the ledger, Prometheus text (labels with escapes, several instances,
 * comments, garbage), histogram deltas across a restart and quantiles against hand-computed
 * values, the sender's latency histogram.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../bench/ingest/body.c"
#include "../../bench/ingest/codec.c"

static const struct pos P = {.id = 7,
                             .ts = 1796500000123,
                             .lat = 488566000,
                             .lon = -23522001,
                             .speed_mm = 8300,
                             .heading_cd = 9000};

static void test_binary_layout(void **state)
{
    uint8_t b[POS_BIN_LEN];
    pos_encode_bin(&P, b);
    static const uint8_t want[POS_BIN_LEN] = {
        1,    0,    0x28, 0x23,                    /* version, flags, heading 9000 */
        0x6c, 0x20, 0,    0,                       /* speed 8300 */
        7,    0,    0,    0,    0,    0,    0, 0,  /* id */
        0xf0, 0xec, 0x1e, 0x1d,                    /* lat 488566000 */
        0x2f, 0x15, 0x99, 0xfe,                    /* lon -23522001 */
        0x7b, 0x8d, 0xbe, 0x47, 0xa2, 0x01, 0, 0}; /* ts */
    assert_memory_equal(b, want, sizeof(want));
    struct pos back;
    assert_int_equal(pos_decode_bin(b, sizeof(b), &back), 0);
    assert_memory_equal(&back, &P, sizeof(P));
    assert_int_equal(pos_decode_bin(b, sizeof(b) - 1, &back), -1);
    b[0] = 2;
    assert_int_equal(pos_decode_bin(b, sizeof(b), &back), -1);
}

static void test_json_position(void **state)
{
    char out[POS_JSON_MAX];
    size_t n = pos_encode_json(&P, out, sizeof(out));
    const char want[] = "{\"id\":7,\"lat\":48.8566000,\"lon\":-2.3522001,\"speed\":8.300,"
                        "\"heading\":90.00,\"ts\":1796500000123}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(pos_encode_json(&P, out, POS_JSON_MAX - 1), 0);
    /* extremes read back exactly */
    struct pos e = {.id = (1ull << 53) - 1,
                    .ts = 4102444800000,
                    .lat = -900000000,
                    .lon = 1800000000,
                    .speed_mm = 1000000,
                    .heading_cd = 36000};
    n = pos_encode_json(&e, out, sizeof(out));
    json_t *j = json_loadb(out, n, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), (json_int_t)e.id);
    assert_int_equal(json_integer_value(json_object_get(j, "ts")), e.ts);
    assert_int_equal(llround(json_real_value(json_object_get(j, "lat")) * 1e7), e.lat);
    assert_int_equal(llround(json_real_value(json_object_get(j, "lon")) * 1e7), e.lon);
    assert_int_equal(llround(json_real_value(json_object_get(j, "speed")) * 1e3), e.speed_mm);
    assert_int_equal(llround(json_real_value(json_object_get(j, "heading")) * 1e2), 36000);
    json_decref(j);
    char d[24];
    assert_int_equal(fmt_u64(0, d), 1);
    assert_int_equal(fmt_u64(UINT64_MAX, d), 20);
    assert_memory_equal(d, "18446744073709551615", 20);
}

static void test_bodies(void **state)
{
    static struct item items[FLEET_BATCH_MAX];
    for (int i = 0; i < FLEET_BATCH_MAX; i++) {
        items[i].p = P;
        items[i].p.id = 1000 + (uint64_t)i;
        items[i].p.lat = -i * 12345;
    }
    size_t cap = (size_t)FLEET_BATCH_MAX * POS_JSON_MAX + 64;
    char *out = malloc(cap);
    size_t n = rest_body(WL_FLEET, true, items, FLEET_BATCH_MAX, out, cap);
    json_t *j = json_loadb(out, n, 0, NULL);
    json_t *a = json_object_get(j, "positions");
    assert_int_equal(json_array_size(a), FLEET_BATCH_MAX);
    for (int i = 0; i < FLEET_BATCH_MAX; i++) {
        json_t *p = json_array_get(a, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(p, "id")), 1000 + i);
        assert_int_equal(llround(json_real_value(json_object_get(p, "lat")) * 1e7), -i * 12345);
    }
    json_decref(j);
    n = rest_body(WL_FLEET, false, items, 1, out, cap);
    j = json_loadb(out, n, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1000);
    json_decref(j);
    n = rest_body(WL_ACTIVITY, true, items, ACTIVITY_BATCH_MAX, out, cap);
    j = json_loadb(out, n, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "anonymousId")), "v1000");
    a = json_object_get(j, "events");
    assert_int_equal(json_array_size(a), ACTIVITY_BATCH_MAX);
    json_t *e = json_array_get(a, 3);
    const char *slug = json_string_value(json_object_get(e, "slug"));
    char path[64];
    snprintf(path, sizeof(path), "/article/%s", slug);
    assert_string_equal(json_string_value(json_object_get(e, "path")), path);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "page_view");
    json_decref(j);
    assert_int_equal(rest_body(WL_FLEET, true, items, 2, out, 100), 0);
    assert_string_equal(rest_path(WL_FLEET, M_REST), "/api/fleet/positions");
    assert_string_equal(rest_path(WL_FLEET, M_REST_BATCH_DIRECT), "/api/fleet/positions/batch");
    assert_string_equal(rest_path(WL_ACTIVITY, M_REST_BATCH), "/api/activity/events?sync=1");
    assert_string_equal(rest_path(WL_ACTIVITY, M_EVENTS), "/api/activity/events");
    free(out);
}

static void test_ledger(void **state)
{
    struct ledger l;
    assert_int_equal(ledger_init(&l, 3), 0);
    struct pos a = P, b = P;
    b.ts = P.ts + 1;
    ledger_ok(&l, 1, &b);
    ledger_ok(&l, 1, &a); /* older: kept out */
    assert_int_equal(l.v[1].ok.ts, b.ts);
    ledger_ok(&l, 3, &a); /* not a vehicle: ignored */
    ledger_unknown(&l, 2, 5);
    ledger_unknown(&l, 2, 4);
    assert_int_equal(l.v[2].unknown_ts, 5);
    assert_int_equal(l.v[0].ok.ts, 0);
    ledger_made(&l, 0, 9);
    ledger_made(&l, 0, 8); /* older: kept out */
    ledger_made(&l, 7, 9); /* not a vehicle: ignored */
    assert_int_equal(l.v[0].made_ts, 9);
    ledger_cleanup(&l);
}

static const char METRICS[] =
    "# HELP fleet_visible_latency_seconds Now minus ts when visible.\n"
    "# TYPE fleet_visible_latency_seconds histogram\n"
    "fleet_visible_latency_seconds_bucket{source=\"events\",le=\"0.001\"} 10\n"
    "fleet_visible_latency_seconds_bucket{source=\"events\",le=\"0.01\"} 60\n"
    "fleet_visible_latency_seconds_bucket{source=\"events\",le=\"0.1\"} 90\n"
    "fleet_visible_latency_seconds_bucket{source=\"events\",le=\"+Inf\"} 100\n"
    "fleet_visible_latency_seconds_sum{source=\"events\"} 2.5\n"
    "fleet_visible_latency_seconds_count{source=\"events\"} 100\n"
    "fleet_visible_latency_seconds_bucket{source=\"rest\",le=\"0.001\"} 5\n"
    "fleet_visible_latency_seconds_bucket{source=\"rest\",le=\"+Inf\"} 5\n"
    "fleet_positions_applied_total{source=\"events\"} 95\n"
    "fleet_positions_applied_total{source=\"rest\"} 5\n"
    "fleet_positions_stale_total{source=\"events\"} 5 1700000000000\n"
    "tandem_consumer_lag{group=\"fleet\",topic=\"vehicle-positions\",partition=\"0\"} 3\n"
    "tandem_consumer_lag{group=\"fleet\",topic=\"vehicle-positions\",partition=\"1\"} 4\n"
    "tandem_consumer_lag{group=\"x\",topic=\"other\",partition=\"0\"} 100\n"
    "weird{a=\"q\\\"}x\\\\\",b=\"line\\nbreak\"} 1.5e3\n"
    "garbage line here\n"
    "no_value{a=\"b\"}\n"
    "{a=\"b\"} 3\n"
    "unterminated{a=\"b 3\n"
    "trailing 1 2 3";

static void test_prom(void **state)
{
    size_t len = strlen(METRICS);
    bool found = false;
    assert_true(prom_sum(METRICS, len, "fleet_positions_applied_total", NULL, &found) == 100);
    assert_true(found);
    assert_true(prom_sum(METRICS, len, "fleet_positions_applied_total", "source=\"rest\"", NULL) ==
                5);
    assert_true(
        prom_sum(METRICS, len, "tandem_consumer_lag", "topic=\"vehicle-positions\"", NULL) == 7);
    assert_true(prom_sum(METRICS, len, "weird", NULL, NULL) == 1500);
    assert_true(prom_sum(METRICS, len, "nothing", NULL, &found) == 0);
    assert_false(found);
    /* the line with an (ignored) timestamp counts; "trailing 1 2 3" too (value 1) */
    assert_true(prom_sum(METRICS, len, "fleet_positions_stale_total", NULL, NULL) == 5);
    assert_true(prom_sum(METRICS, len, "trailing", NULL, NULL) == 1);
    /* labels, unescaped */
    const char labels[] = "a=\"q\\\"}x\\\\\",b=\"line\\nbreak\"";
    char v[32];
    assert_int_equal(prom_label(labels, strlen(labels), "a", v, sizeof(v)), 5);
    assert_string_equal(v, "q\"}x\\");
    assert_int_equal(prom_label(labels, strlen(labels), "b", v, sizeof(v)), 10);
    assert_string_equal(v, "line\nbreak");
    assert_int_equal(prom_label(labels, strlen(labels), "c", v, sizeof(v)), -1);
    assert_int_equal(prom_label(labels, strlen(labels), "b", v, 5), -1);

    struct hist h;
    prom_hist(METRICS, len, "fleet_visible_latency_seconds", "source=\"events\"", &h);
    assert_int_equal(h.n, 4);
    assert_true(hist_total(&h) == 100);
    assert_true(h.sum == 2.5);
    /* p50: rank 50 in (0.001, 0.01] holding 50: 0.001 + 0.009 * 40/50 */
    assert_true(fabs(hist_quantile(&h, 0.5) - 0.0082) < 1e-12);
    /* p99: rank 99 in +Inf: the highest finite bound */
    assert_true(hist_quantile(&h, 0.99) == 0.1);
    /* the bounds, for coarse histograms */
    assert_true(hist_quantile_bound(&h, 0.5) == 0.01);
    assert_true(hist_quantile_bound(&h, 0.05) == 0.001);
    assert_true(isinf(hist_quantile_bound(&h, 0.995)));
    /* p5: in the first bucket, from 0 */
    assert_true(fabs(hist_quantile(&h, 0.05) - 0.0005) < 1e-12);
    /* both sources: summed bucket by bucket where the bounds meet */
    struct hist all;
    prom_hist(METRICS, len, "fleet_visible_latency_seconds", NULL, &all);
    assert_true(hist_total(&all) == 105);
    assert_true(all.count[0] == 15);
    struct hist none;
    prom_hist(METRICS, len, "absent", NULL, &none);
    assert_int_equal(none.n, 0);
    assert_true(isnan(hist_quantile(&none, 0.5)));
}

static void test_hist_delta(void **state)
{
    struct hist a = {.n = 3, .le = {0.01, 0.1, INFINITY}, .count = {10, 20, 30}, .sum = 1};
    struct hist b = {.n = 3, .le = {0.01, 0.1, INFINITY}, .count = {15, 40, 50}, .sum = 3};
    struct hist d;
    hist_delta(&b, &a, &d);
    assert_true(d.count[0] == 5 && d.count[1] == 20 && d.count[2] == 20 && d.sum == 2);
    /* a restart: the counters went down, so all of after is new */
    struct hist r = {.n = 3, .le = {0.01, 0.1, INFINITY}, .count = {1, 2, 3}, .sum = 0.1};
    hist_delta(&r, &b, &d);
    assert_true(d.count[2] == 3);
    /* nothing before */
    struct hist empty = {0};
    hist_delta(&b, &empty, &d);
    assert_true(d.count[2] == 50);
    struct hist acc = {0};
    hist_add(&acc, &a);
    hist_add(&acc, &b);
    assert_true(acc.count[2] == 80 && acc.sum == 4);
}

static void test_lat_hist(void **state)
{
    static struct lat_hist h;
    assert_true(isnan(lat_quantile(&h, 0.5)));
    for (int i = 0; i < 98; i++) {
        lat_record(&h, 1000000); /* 1 ms */
    }
    lat_record(&h, 50000000); /* 50 ms */
    lat_record(&h, 500);      /* below 1 us */
    assert_int_equal(lat_count(&h), 100);
    double p50 = lat_quantile(&h, 0.5);
    assert_true(p50 >= 1.0 && p50 <= 1.13);
    double p995 = lat_quantile(&h, 0.995);
    assert_true(p995 >= 50.0 && p995 <= 56.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_layout), cmocka_unit_test(test_json_position),
        cmocka_unit_test(test_bodies),        cmocka_unit_test(test_ledger),
        cmocka_unit_test(test_prom),          cmocka_unit_test(test_hist_delta),
        cmocka_unit_test(test_lat_hist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
