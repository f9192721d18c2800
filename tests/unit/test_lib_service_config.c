/*
 * libtandem runtime, the pure parts (src/lib/service/config.c, metrics.c): flag/env/default
 * precedence, the command-line forms, unknown flags, listen addresses; per-worker request
 * counters and histograms merged into Prometheus text, and the writer's HELP/TYPE grouping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service_int.h"

/* a fake environment */
static const char *fake_env(const char *name)
{
    if (strcmp(name, "TANDEM_LISTEN") == 0) {
        return "127.0.0.1:7000";
    }
    if (strcmp(name, "TANDEM_WORKERS") == 0) {
        return "3";
    }
    if (strcmp(name, "TANDEM_DATA_DIR") == 0) {
        return "/env/dir";
    }
    return NULL;
}

static void test_precedence(void **state)
{
    char *argv[] = {"svc", "--workers", "2", "--data-dir=/flag/dir", "--workers=4", NULL};
    struct svc_config c;
    const char *bad = NULL;
    assert_int_equal(svc_config_init(&c, 5, argv, fake_env, &bad), 0);
    assert_int_equal(svc_config_declare(&c, "listen", "127.0.0.1:8101", "l"), 0);
    assert_int_equal(svc_config_declare(&c, "workers", "1", "w"), 0);
    assert_int_equal(svc_config_declare(&c, "data-dir", "var/x", "d"), 0);
    assert_int_equal(svc_config_declare(&c, "brokers", "127.0.0.1:9092", "b"), 0);
    assert_string_equal(svc_config_get(&c, "listen"), "127.0.0.1:7000"); /* env over default */
    assert_string_equal(svc_config_get(&c, "workers"), "4");          /* the last flag over env */
    assert_string_equal(svc_config_get(&c, "data-dir"), "/flag/dir"); /* --k=v form */
    assert_string_equal(svc_config_get(&c, "brokers"), "127.0.0.1:9092");
    assert_null(svc_config_get(&c, "nope"));
    assert_null(svc_config_unknown(&c));
    assert_int_equal(svc_config_declare(&c, "workers", "1", "again"), TANDEM_EEXIST);
    assert_int_equal(svc_config_declare(&c, "Bad_Key", NULL, ""), TANDEM_EINVAL);
    svc_config_set(&c, "listen", "127.0.0.1:1234");
    assert_string_equal(svc_config_get(&c, "listen"), "127.0.0.1:1234");
    svc_config_cleanup(&c);
}

static void test_command_line_errors(void **state)
{
    struct svc_config c;
    const char *bad = NULL;
    char *pos[] = {"svc", "stray", NULL};
    assert_int_equal(svc_config_init(&c, 2, pos, fake_env, &bad), TANDEM_EINVAL);
    assert_string_equal(bad, "stray");
    svc_config_cleanup(&c);
    char *novalue[] = {"svc", "--listen", NULL};
    assert_int_equal(svc_config_init(&c, 2, novalue, fake_env, &bad), TANDEM_EINVAL);
    svc_config_cleanup(&c);
    char *unknown[] = {"svc", "--help", "--colour", "red", NULL};
    assert_int_equal(svc_config_init(&c, 4, unknown, fake_env, &bad), 0);
    assert_true(c.help);
    assert_int_equal(svc_config_declare(&c, "listen", "x", ""), 0);
    assert_string_equal(svc_config_unknown(&c), "colour");
    assert_int_equal(svc_config_declare(&c, "colour", "blue", "a service option"), 0);
    assert_null(svc_config_unknown(&c));
    assert_string_equal(svc_config_get(&c, "colour"), "red");
    svc_config_cleanup(&c);
}

static void test_listen_and_ints(void **state)
{
    char host[64];
    int port = -1;
    assert_int_equal(svc_parse_listen("127.0.0.1:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_int_equal(svc_parse_listen("10.1.2.3:65535", host, sizeof(host), &port), 0);
    assert_int_equal(port, 65535);
    const char *bad[] = {"",
                         ":80",
                         "127.0.0.1",
                         "127.0.0.1:",
                         "127.0.0.1:65536",
                         "localhost:80",
                         "127.0.0.1:8x",
                         "1.2.3:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(svc_parse_listen(bad[i], host, sizeof(host), &port), TANDEM_EINVAL);
    }
    long v = 0;
    assert_int_equal(svc_parse_int("12", 1, 256, &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(svc_parse_int("0", 1, 256, &v), TANDEM_EINVAL);
    assert_int_equal(svc_parse_int("3x", 1, 256, &v), TANDEM_EINVAL);
    assert_int_equal(svc_parse_int("", 1, 256, &v), TANDEM_EINVAL);
}

static void test_metrics_merge(void **state)
{
    struct svc_stats st[2];
    svc_stats_init(&st[0], 1);
    svc_stats_init(&st[1], 1);
    int get = svc_method_index("GET");
    svc_stats_record(&st[0], 0, get, 200, 300000);     /* 0.3 ms */
    svc_stats_record(&st[1], 0, get, 200, 2000000000); /* 2 s */
    svc_stats_record(&st[1], 1, svc_method_index("BREW"), 404, 1000);
    svc_stats_count(&st[0], 2, SVC_METHOD_NONE, 431); /* the core's own answers */
    svc_stats_count(&st[1], 2, SVC_METHOD_NONE, 431);
    const char *names[] = {"/a/{id}", "unmatched", "(none)"};
    struct tandem_metrics_writer w;
    svc_writer_init(&w);
    svc_metrics_http(&w, st, 2, 1, names);
    tandem_metrics_counter(&w, "x_total", "X.", "k=\"1\"", 1);
    tandem_metrics_counter(&w, "x_total", "X.", "k=\"2\"", 2);
    tandem_metrics_gauge(&w, "lag", "Lag.", NULL, 7);
    static const double bounds[] = {0.001, 0.01, 0.1};
    static const uint64_t per[][4] = {{1, 0, 2, 1}, {0, 0, 0, 0}}; /* per bucket, + above */
    tandem_metrics_histogram(&w, "lat_seconds", "Lat.", "source=\"a\"", bounds, per[0], 3, 1.5);
    tandem_metrics_histogram(&w, "lat_seconds", "Lat.", "source=\"b\"", bounds, per[1], 3, 0);
    tandem_metrics_histogram(&w, "bare_seconds", "Bare.", NULL, bounds, per[0], 3, 0.25);
    const char *want[] = {
        "# TYPE tandem_http_requests_total counter\n",
        "tandem_http_requests_total{route=\"/a/{id}\",method=\"GET\",status=\"200\"} 2\n",
        "tandem_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 1\n",
        "tandem_http_requests_total{route=\"(none)\",method=\"(none)\",status=\"431\"} 2\n",
        "# TYPE tandem_http_request_duration_seconds histogram\n",
        "tandem_http_request_duration_seconds_bucket{route=\"/a/{id}\",le=\"0.0005\"} 1\n",
        "tandem_http_request_duration_seconds_bucket{route=\"/a/{id}\",le=\"1\"} 1\n",
        "tandem_http_request_duration_seconds_bucket{route=\"/a/{id}\",le=\"2.5\"} 2\n",
        "tandem_http_request_duration_seconds_bucket{route=\"/a/{id}\",le=\"+Inf\"} 2\n",
        "tandem_http_request_duration_seconds_sum{route=\"/a/{id}\"} 2.000300000\n",
        "tandem_http_request_duration_seconds_count{route=\"/a/{id}\"} 2\n",
        "# HELP x_total X.\n# TYPE x_total counter\nx_total{k=\"1\"} 1\nx_total{k=\"2\"} 2\n",
        "# TYPE lag gauge\nlag 7\n",
        "# HELP lat_seconds Lat.\n# TYPE lat_seconds histogram\n"
        "lat_seconds_bucket{source=\"a\",le=\"0.001\"} 1\n"
        "lat_seconds_bucket{source=\"a\",le=\"0.01\"} 1\n"
        "lat_seconds_bucket{source=\"a\",le=\"0.1\"} 3\n"
        "lat_seconds_bucket{source=\"a\",le=\"+Inf\"} 4\n"
        "lat_seconds_sum{source=\"a\"} 1.500000000\n"
        "lat_seconds_count{source=\"a\"} 4\n"
        "lat_seconds_bucket{source=\"b\",le=\"0.001\"} 0\n", /* one # TYPE for both */
        "lat_seconds_count{source=\"b\"} 0\n",
        "# TYPE bare_seconds histogram\nbare_seconds_bucket{le=\"0.001\"} 1\n",
        "bare_seconds_bucket{le=\"+Inf\"} 4\nbare_seconds_sum 0.250000000\nbare_seconds_count 4\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(w.p, want[i]) == NULL) {
            fail_msg("missing %s in:\n%s", want[i], w.p);
        }
    }
    assert_null(strstr(w.p, "route=\"(none)\",le=")); /* counted only: no duration */
    svc_writer_cleanup(&w);
    svc_stats_cleanup(&st[0]);
    svc_stats_cleanup(&st[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_command_line_errors),
        cmocka_unit_test(test_listen_and_ints),
        cmocka_unit_test(test_metrics_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
