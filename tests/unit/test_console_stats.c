/*
 * test_console_stats.c: the console's pure parts (services/console, #included): the Prometheus
 * text parser, metric snapshots and their windowed rates, error rates and quantiles, the map's
 * edges, and the control protocol's answers.
 *
 * The quantile is judged against the values themselves: random durations are put into
 * libtandem's buckets, and the estimate must lie in the bucket that holds the true quantile
 * (which is all a histogram can promise), with Prometheus' linear interpolation checked exactly
 * on hand-made cases.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/console/ctlproto.c"
#include "../../services/console/graph.c"
#include "../../services/console/prom.c"
#include "../../services/console/stats.c"

/* ---- prom ---- */

struct seen {
    int n;
    char names[16][64];
    char labels[16][256]; /* "k=v;k=v" */
    double values[16];
};

static int collect(const struct prom_sample *s, void *arg)
{
    struct seen *w = arg;
    if (w->n == 16) {
        return 0;
    }
    snprintf(w->names[w->n], sizeof(w->names[0]), "%.*s", (int)s->name_len, s->name);
    char *l = w->labels[w->n];
    l[0] = '\0';
    for (size_t i = 0; i < s->n_labels; i++) {
        size_t have = strlen(l);
        snprintf(l + have, sizeof(w->labels[0]) - have, "%s%.*s=%.*s", i ? ";" : "",
                 (int)s->labels[i].name_len, s->labels[i].name, (int)s->labels[i].value_len,
                 s->labels[i].value);
    }
    w->values[w->n++] = s->value;
    return 0;
}

static void prom_reads_the_format(void **state)
{
    (void)state;
    const char text[] = "# HELP x_total Things.\n"
                        "# TYPE x_total counter\n"
                        "x_total 4\n"
                        "\n"
                        "   # indented comment\n"
                        "h_bucket{route=\"/a/{id}\",le=\"0.005\"} 1.5e1\n"
                        "h_bucket{route=\"/a\",le=\"+Inf\",} 17 1733420000123\n"
                        "esc{v=\"q\\\"b\\\\n\\nx\"} -Inf\n"
                        "nan_metric NaN\r\n"
                        "spaced { a = \"1\" , b=\"2\" }\t+Inf\n"
                        "last:colon_name 0.25";
    struct seen w = {0};
    size_t bad = 0;
    assert_int_equal(prom_parse(text, strlen(text), collect, &w, &bad), 0);
    assert_int_equal(w.n, 7);
    assert_string_equal(w.names[0], "x_total");
    assert_true(w.values[0] == 4);
    assert_string_equal(w.labels[1], "route=/a/{id};le=0.005");
    assert_true(w.values[1] == 15);
    assert_string_equal(w.labels[2], "route=/a;le=+Inf");
    assert_string_equal(w.labels[3], "v=q\"b\\n\nx");
    assert_true(isinf(w.values[3]) && w.values[3] < 0);
    assert_true(isnan(w.values[4]));
    assert_string_equal(w.labels[5], "a=1;b=2");
    assert_true(isinf(w.values[5]) && w.values[5] > 0);
    assert_string_equal(w.names[6], "last:colon_name");
    assert_true(w.values[6] == 0.25);

    /* the last line without '\n' is read; nothing past len ("b 2" cut to "b " has no value) */
    struct seen w2 = {0};
    assert_int_equal(prom_parse("a 1\nb 2", 7, collect, &w2, NULL), 0);
    assert_int_equal(w2.n, 2);
    assert_true(w2.values[1] == 2);
    size_t line = 0;
    assert_int_equal(prom_parse("a 1\nb 2", 6, collect, &(struct seen){0}, &line), TANDEM_EINVAL);
    assert_int_equal(line, 2);
}

static void prom_refuses_malformed_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t line;
    } BAD[] = {
        {"9bad 1\n", 1},
        {"ok 1\nx{a=\"1\" 2\n", 2},
        {"x{a=\"unterminated} 1\n", 1},
        {"x{a=\"bad escape \\t\"} 1\n", 1},
        {"x{=\"v\"} 1\n", 1},
        {"x{a:b=\"v\"} 1\n", 1},
        {"x{a=v} 1\n", 1},
        {"x\n", 1},
        {"x 12abc\n", 1},
        {"x 0x10\n", 1},
        {"x 1 notatime\n", 1},
        {"x 1 2 3\n", 1},
        {"x{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\"} 1\n", 1},
        {"a 1\nb 2\n\nc{\n", 4},
    };
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        struct seen w = {0};
        size_t line = 0;
        assert_int_equal(prom_parse(BAD[i].text, strlen(BAD[i].text), collect, &w, &line),
                         TANDEM_EINVAL);
        assert_int_equal(line, BAD[i].line);
    }
    /* label values over 4 KiB in all */
    char big[6000];
    int n = snprintf(big, sizeof(big), "x{a=\"");
    memset(big + n, 'v', 4200);
    snprintf(big + n + 4200, sizeof(big) - (size_t)n - 4200, "\"} 1\n");
    assert_int_equal(prom_parse(big, strlen(big), collect, &(struct seen){0}, NULL), TANDEM_EINVAL);
}

static int stop_at_second(const struct prom_sample *s, void *arg)
{
    int *n = arg;
    return ++*n == 2 ? 42 : 0;
}

static void prom_callback_stops(void **state)
{
    (void)state;
    int n = 0;
    assert_int_equal(prom_parse("a 1\nb 2\nc 3\n", 12, stop_at_second, &n, NULL), 42);
    assert_int_equal(n, 2);
}

/* ---- snapshots and windows ---- */

static const double LE[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NLE (sizeof(LE) / sizeof(LE[0]))

/* Appends to buf what libtandem writes for count requests of route answered status. */
static void expose_requests(char *buf, size_t cap, const char *route, const char *status, int count)
{
    size_t have = strlen(buf);
    snprintf(buf + have, cap - have,
             "tandem_http_requests_total{route=\"%s\",method=\"GET\",status=\"%s\"} %d\n", route,
             status, count);
}

/* Appends route's duration histogram of durations[0..count): each bucket the cumulative count
 * of the durations at or below its bound. */
static void expose_buckets(char *buf, size_t cap, const char *route, int count,
                           const double *durations)
{
    size_t have = strlen(buf);
    for (size_t i = 0; i <= NLE; i++) {
        int c = 0;
        for (int k = 0; k < count; k++) {
            c += i == NLE || durations[k] <= LE[i];
        }
        char le[32];
        if (i == NLE) {
            snprintf(le, sizeof(le), "+Inf");
        } else {
            snprintf(le, sizeof(le), "%g", LE[i]);
        }
        have += (size_t)snprintf(buf + have, cap - have,
                                 "tandem_http_request_duration_seconds_bucket{route=\"%s\","
                                 "le=\"%s\"} %d\n",
                                 route, le, c);
    }
}

static void expose_route(char *buf, size_t cap, const char *route, const char *status, int count,
                         const double *durations)
{
    expose_requests(buf, cap, route, status, count);
    expose_buckets(buf, cap, route, count, durations);
}

static void append_text(char *buf, size_t cap, const char *text)
{
    size_t have = strlen(buf);
    snprintf(buf + have, cap - have, "%s", text);
}

static void snapshot_keeps_known_series_sorted(void **state)
{
    (void)state;
    char text[8192] = "# TYPE tandem_sse_streams gauge\ntandem_sse_streams 3\n"
                      "tandem_events_consumed_total{group=\"comments\"} 7\n"
                      "tandem_auth_cache_hits_total 9\n"
                      "tandem_consumer_lag{group=\"g\",topic=\"t\",partition=\"1\"} 5\n"
                      "tandem_http_client_calls_total{upstream=\"http://127.0.0.1:8111\"} 4\n";
    double d[2] = {0.002, 0.2};
    expose_route(text, sizeof(text), "/b", "200", 2, d);
    struct msnap s = {0};
    assert_int_equal(msnap_parse(text, strlen(text), 1000, &s), 0);
    assert_int_equal(s.n, 4 + 1 + NLE + 1); /* auth skipped; 15 buckets */
    for (size_t i = 1; i < s.n; i++) {
        assert_true(sample_cmp(&s.s[i - 1], &s.s[i]) < 0);
    }
    assert_int_equal(s.s[0].kind, MK_REQ);
    assert_string_equal(s.s[0].a, "/b");
    assert_string_equal(s.s[0].c, "200");
    assert_true(isinf(s.s[NLE + 1].le)); /* the last bucket */
    assert_int_equal(msnap_parse("not metrics {", 13, 0, &s), TANDEM_EINVAL);
    assert_int_equal(s.n, 0);
    msnap_cleanup(&s);
}

static void window_rates_errors_and_resets(void **state)
{
    (void)state;
    char a[16384] = "", b[16384] = "";
    double fast[400];
    for (int i = 0; i < 400; i++) {
        fast[i] = 0.0008;
    }
    expose_requests(a, sizeof(a), "/api/x", "200", 100);
    expose_requests(a, sizeof(a), "/api/x", "503", 2);
    expose_buckets(a, sizeof(a), "/api/x", 102, fast);
    expose_route(a, sizeof(a), "/readyz", "200", 50, fast);
    expose_route(a, sizeof(a), "/internal/y", "200", 10, fast);
    append_text(a, sizeof(a), "tandem_events_produced_total 10\ntandem_sse_streams 2\n");
    expose_requests(b, sizeof(b), "/api/x", "200", 300); /* +200 in 2 s */
    expose_requests(b, sizeof(b), "/api/x", "503", 6);   /* +4 */
    expose_requests(b, sizeof(b), "/api/x", "404", 10);  /* a new series: +10 */
    expose_buckets(b, sizeof(b), "/api/x", 316, fast);
    expose_route(b, sizeof(b), "/readyz", "200", 52, fast); /* ignored */
    expose_route(b, sizeof(b), "/internal/y", "200", 30, fast);
    append_text(b, sizeof(b), "tandem_events_produced_total 4\ntandem_sse_streams 5\n"); /* reset */
    struct msnap old = {0}, cur = {0};
    assert_int_equal(msnap_parse(a, strlen(a), 1000, &old), 0);
    assert_int_equal(msnap_parse(b, strlen(b), 3000, &cur), 0);
    struct svc_window w = {0};
    svc_window_add(&w, &old, &cur, 1000.0 / 2000);
    assert_true(fabs(w.http.requests - (200 + 4 + 10 + 20) / 2.0) < 1e-9);
    assert_true(fabs(w.http.errors - 2.0) < 1e-9);
    assert_true(fabs(w.http.client_errors - 5.0) < 1e-9);
    assert_true(fabs(w.public.requests - (200 + 4 + 10) / 2.0) < 1e-9);
    assert_true(fabs(w.produced - 2.0) < 1e-9);
    assert_true(w.sse_streams == 5); /* a gauge: the newest value, unscaled */
    assert_int_equal(w.n_routes, 2); /* /api/x and /internal/y; /readyz ignored */
    /* every request took 0.8 ms: p50 and p99 lie in (0.5 ms, 1 ms] */
    double p99 = http_quantile(&w.http, 0.99);
    assert_true(p99 > 0.0005 && p99 <= 0.001);
    /* no earlier scrape: nothing happened yet but the gauges */
    struct svc_window w0 = {0};
    svc_window_add(&w0, NULL, &cur, 0);
    assert_true(w0.http.requests == 0 && w0.sse_streams == 5);
    assert_true(isnan(http_quantile(&w0.http, 0.99)));
    svc_window_cleanup(&w);
    svc_window_cleanup(&w0);
    msnap_cleanup(&old);
    msnap_cleanup(&cur);
}

static void quantile_interpolates_as_prometheus(void **state)
{
    (void)state;
    struct http_window h = {
        .nb = 5, .le = {0.005, 0.01, 0.025, 0.05, INFINITY}, .bucket = {0, 50, 99, 100, 100}};
    assert_true(fabs(http_quantile(&h, 0.5) - 0.01) < 1e-12);
    assert_true(fabs(http_quantile(&h, 0.99) - 0.025) < 1e-12);
    assert_true(fabs(http_quantile(&h, 0.25) - 0.0075) < 1e-12);
    /* in the first bucket: from 0 */
    struct http_window f = {.nb = 2, .le = {0.1, INFINITY}, .bucket = {10, 10}};
    assert_true(fabs(http_quantile(&f, 0.5) - 0.05) < 1e-12);
    /* the rank in +Inf: the highest finite bound */
    struct http_window inf = {.nb = 3, .le = {0.1, 1, INFINITY}, .bucket = {1, 2, 100}};
    assert_true(http_quantile(&inf, 0.99) == 1);
    assert_true(isnan(http_quantile(&inf, 1.5)));
}

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void quantile_lies_in_the_true_bucket(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 200; round++) {
        int n = 1 + rand() % 2000;
        double *d = malloc((size_t)n * sizeof(*d));
        for (int i = 0; i < n; i++) {
            /* log-uniform from 0.1 ms to 20 s */
            d[i] = 0.0001 * pow(10, 5.3 * rand() / (double)RAND_MAX);
        }
        char text[8192] = "";
        expose_route(text, sizeof(text), "/r", "200", n, d);
        struct msnap cur = {0}, empty = {0};
        assert_int_equal(msnap_parse(text, strlen(text), 1000, &cur), 0);
        struct svc_window w = {0};
        svc_window_add(&w, &empty, &cur, 1); /* empty before: every request counts */
        qsort(d, (size_t)n, sizeof(*d), dbl_cmp);
        const double qs[] = {0.5, 0.9, 0.99};
        for (size_t k = 0; k < 3; k++) {
            double est = http_quantile(&w.http, qs[k]);
            /* the true q-quantile: the smallest value with at least q*n values at or below */
            int idx = (int)ceil(qs[k] * n) - 1;
            double truth = d[idx < 0 ? 0 : idx];
            double lo = 0, hi = INFINITY;
            for (size_t b = 0; b < NLE; b++) {
                if (truth <= LE[b]) {
                    hi = LE[b];
                    lo = b > 0 ? LE[b - 1] : 0;
                    break;
                }
                lo = LE[b];
            }
            if (isinf(hi)) {
                assert_true(est == LE[NLE - 1]); /* above 10 s: "at least 10 s" */
            } else {
                assert_true(est >= lo - 1e-12 && est <= hi + 1e-12);
            }
        }
        svc_window_cleanup(&w);
        msnap_cleanup(&cur);
        free(d);
    }
}

static void rate_ring_over_the_window(void **state)
{
    (void)state;
    struct rate_ring r = {0};
    assert_true(rate_per_s(&r) == 0);
    rate_push(&r, 0, 100);
    assert_true(rate_per_s(&r) == 0);
    for (int i = 1; i <= 10; i++) {
        rate_push(&r, i * 1000, 100 + i * 10); /* 10 per second */
    }
    assert_true(fabs(rate_per_s(&r) - 10) < 1e-9);
    rate_push(&r, 11000, 5); /* a reset: 5 new */
    /* over 6 samples, 10..11 s: increases 10*4 + 5 over 5 s */
    assert_true(fabs(rate_per_s(&r) - 45.0 / 5) < 1e-9);
}

/* ---- the map ---- */

static const struct gnode *node(const struct graph *g, const char *id)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (strcmp(g->nodes[i].id, id) == 0) {
            return &g->nodes[i];
        }
    }
    return NULL;
}

static const struct gedge *edge(const struct graph *g, enum gedge_kind k, const char *from,
                                const char *to)
{
    for (size_t i = 0; i < g->n_edges; i++) {
        const struct gedge *e = &g->edges[i];
        if (e->kind == k && strcmp(e->from, from) == 0 && strcmp(e->to, to) == 0) {
            return e;
        }
    }
    return NULL;
}

static void graph_edges_from_what_flows(void **state)
{
    (void)state;
    struct gin_service svcs[] = {
        {"users", true, 3}, {"articles", true, 10}, {"comments", false, 0}, {"web", true, 0}};
    struct gin_port ports[] = {
        {"users", 8101}, {"articles", 8111}, {"articles", 8112}, {"comments", 8121}};
    struct gin_call calls[] = {{"comments", "http://127.0.0.1:8112", 0.5},
                               {"comments", "http://127.0.0.1:9999", 1}};
    struct gin_topic topics[] = {{"users"}, {"articles"}, {"comments"}};
    struct gin_publish pubs[] = {{"/users", "users", 1.5},
                                 {"/services/articles", "articles", 0},
                                 {"/kcat", "comments", 2},
                                 {"", "comments", 1}};
    struct gin_sub subs[] = {{"articles", "users", "articles", 1.5},
                             {"comments", "articles", NULL, 0}};
    struct graph_input in = {.gateway = true,
                             .gateway_up = true,
                             .services = svcs,
                             .n_services = 4,
                             .calls = calls,
                             .n_calls = 2,
                             .ports = ports,
                             .n_ports = 4,
                             .topics = topics,
                             .n_topics = 3,
                             .publishes = pubs,
                             .n_publishes = 4,
                             .subs = subs,
                             .n_subs = 2};
    struct graph g = {0};
    graph_update(&g, &in, 1000);
    /* nodes */
    assert_non_null(node(&g, "gateway"));
    assert_false(node(&g, "svc:comments")->up);
    assert_non_null(node(&g, "topic:articles"));
    assert_string_equal(node(&g, "group:articles")->service, "articles");
    assert_string_equal(node(&g, "group:comments")->service, "");
    assert_int_equal(node(&g, "ext:/kcat")->kind, GN_EXTERNAL);
    assert_non_null(node(&g, "ext:(no source)"));
    /* edges */
    assert_true(edge(&g, GE_ROUTE, "gateway", "svc:users")->rate == 3);
    assert_true(edge(&g, GE_ROUTE, "gateway", "svc:articles")->rate == 10);
    assert_null(edge(&g, GE_ROUTE, "gateway", "svc:web")); /* nothing flowed yet */
    assert_true(edge(&g, GE_CALL, "svc:comments", "svc:articles")->rate == 0.5);
    assert_int_equal(g.n_edges, 2 + 1 + 4 + 2); /* the unknown upstream is no edge */
    assert_true(edge(&g, GE_PUBLISH, "svc:users", "topic:users")->rate == 1.5);
    assert_non_null(edge(&g, GE_PUBLISH, "svc:articles", "topic:articles")); /* seen, rate 0 */
    assert_true(edge(&g, GE_PUBLISH, "ext:/kcat", "topic:comments")->rate == 2);
    assert_true(edge(&g, GE_SUBSCRIBE, "topic:users", "group:articles")->rate == 1.5);
    assert_non_null(edge(&g, GE_SUBSCRIBE, "topic:articles", "group:comments"));

    /* a second tick: users quiet, articles' topic deleted, comments' group gone */
    svcs[0].public_rate = 0;
    struct gin_topic topics2[] = {{"users"}, {"comments"}};
    in.topics = topics2;
    in.n_topics = 2;
    in.n_publishes = 1;
    in.n_subs = 0;
    in.n_calls = 0;
    graph_update(&g, &in, 2000);
    const struct gedge *e = edge(&g, GE_ROUTE, "gateway", "svc:users");
    assert_non_null(e);                              /* still drawn... */
    assert_true(e->rate == 0 && e->seen_ms == 1000); /* ...with nothing flowing */
    assert_non_null(edge(&g, GE_CALL, "svc:comments", "svc:articles"));
    assert_null(edge(&g, GE_PUBLISH, "svc:articles", "topic:articles"));  /* its topic went */
    assert_null(edge(&g, GE_SUBSCRIBE, "topic:users", "group:articles")); /* not listed */
    assert_null(node(&g, "group:articles"));
    assert_null(node(&g, "ext:/kcat"));
    assert_null(edge(&g, GE_PUBLISH, "ext:/kcat", "topic:comments"));
    graph_cleanup(&g);
}

static void graph_sources_name_services(void **state)
{
    (void)state;
    const char *names[] = {"users", "articles"};
    assert_string_equal(graph_source_service("/users", names, 2), "users");
    assert_string_equal(graph_source_service("/services/articles", names, 2), "articles");
    assert_string_equal(graph_source_service("articles", names, 2), "articles");
    assert_null(graph_source_service("/users/x", names, 2));
    assert_null(graph_source_service("", names, 2));
    assert_null(graph_source_service(NULL, names, 2));
}

/* ---- the control protocol ---- */

static void ctl_answers_and_rows(void **state)
{
    (void)state;
    char out[64], err[64];
    const char a[] = "o comments: stopped\no second line\ne warn\nx 0\n";
    assert_int_equal(ctl_answer_parse(a, strlen(a), out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "comments: stopped\nsecond line");
    assert_string_equal(err, "warn");
    const char b[] = "e tandem: no service 'x'\nx 1";
    assert_int_equal(ctl_answer_parse(b, strlen(b), out, sizeof(out), err, sizeof(err)), 1);
    assert_string_equal(err, "tandem: no service 'x'");
    assert_int_equal(ctl_answer_parse("o half", 6, out, sizeof(out), NULL, 0), -1);
    assert_int_equal(ctl_answer_parse("x 999\n", 6, NULL, 0, NULL, 0), -1);
    char tiny[8];
    assert_int_equal(ctl_answer_parse("o 0123456789\nx 2\n", 17, tiny, sizeof(tiny), NULL, 0), 2);
    assert_string_equal(tiny, "0123456");

    struct ps_row r;
    const char row[] = "{\"service\":\"articles\",\"instance\":1,\"name\":\"articles.1\","
                       "\"state\":\"ready\",\"pid\":4242,\"port\":8112,\"restarts\":3,"
                       "\"uptime_ms\":123456,\"ready\":true,\"in_upstream\":false}";
    assert_int_equal(ps_row_parse(row, strlen(row), &r), 0);
    assert_string_equal(r.service, "articles");
    assert_string_equal(r.name, "articles.1");
    assert_int_equal(r.instance, 1);
    assert_int_equal(r.pid, 4242);
    assert_int_equal(r.port, 8112);
    assert_int_equal(r.restarts, 3);
    assert_true(r.uptime_ms == 123456);
    assert_true(r.ready && !r.in_upstream);
    assert_int_equal(ps_row_parse("{\"service\":1}", 13, &r), TANDEM_EINVAL);
    assert_int_equal(ps_row_parse("not json", 8, &r), TANDEM_EINVAL);
}

static void key_comparison(void **state)
{
    (void)state;
    const char *key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_true(console_key_equal(key, key));
    assert_false(console_key_equal("", key));
    assert_false(console_key_equal("0123456789abcdef", key));
    assert_false(
        console_key_equal("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF", key));
    char longer[80];
    snprintf(longer, sizeof(longer), "%sx", key);
    assert_false(console_key_equal(longer, key));
    assert_false(console_key_equal("", "")); /* no key: nothing is the key */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prom_reads_the_format),
        cmocka_unit_test(prom_refuses_malformed_lines),
        cmocka_unit_test(prom_callback_stops),
        cmocka_unit_test(snapshot_keeps_known_series_sorted),
        cmocka_unit_test(window_rates_errors_and_resets),
        cmocka_unit_test(quantile_interpolates_as_prometheus),
        cmocka_unit_test(quantile_lies_in_the_true_bucket),
        cmocka_unit_test(rate_ring_over_the_window),
        cmocka_unit_test(graph_edges_from_what_flows),
        cmocka_unit_test(graph_sources_name_services),
        cmocka_unit_test(ctl_answers_and_rows),
        cmocka_unit_test(key_comparison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
