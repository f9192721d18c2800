/*
 * tandem-load: an HTTP/1.1 keep-alive load generator for the tandem benchmarks and the tests
 * that run the gateway under load (issue 5).
 *
 *     tandem-load [-c CONNS] [-d SECS] [-r RPS] [-n N] [-m METHOD] [-b BODY] [-H 'N: v']...
 *                 [-t TIMEOUT_MS] [--json] [--allow-failures] http://127.0.0.1:PORT/PATH
 *
 * It talks only to 127.0.0.1 (the URL must say so). CONNS keep-alive connections each carry one
 * request at a time: back to back (closed loop, the default) or, with -r, at a fixed total rate
 * with latency measured from when each request was due. It counts answers by status and failures
 * by kind (connect, reset, closed, timeout, malformed, 5xx), resends an idempotent request once
 * when a keep-alive connection closes before any byte of its answer (counted as retried, not
 * failed; never a POST), and prints requests, rate, failures, status counts and p50/p90/p99/max
 * latency in microseconds, or one JSON object with --json. SIGINT/SIGTERM end the run early,
 * cleanly: requests in flight get their answer and the summary is printed.
 *
 * Exit code: 0 when every request got a non-5xx answer; 1 when any failed or none was answered
 * (0 with --allow-failures); 2 for a usage error or a run that could not start.
 *
 * This file: options, the request bytes, the summary. The loop is in load_loop.c, the response
 * parser in resp.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load_int.h"
#include "tandem/error.h"

#define MAX_HEADERS 32

static const char usage_text[] =
    "usage: tandem-load [options] http://127.0.0.1:PORT/PATH\n"
    "  -c, --connections N    keep-alive connections (default 1)\n"
    "  -d, --duration SECS    run length, may be fractional (default 5)\n"
    "  -r, --rate RPS         fixed total request rate (default: closed loop)\n"
    "  -n, --requests N       stop after N requests\n"
    "  -m, --method M         GET HEAD POST PUT DELETE PATCH OPTIONS (default GET)\n"
    "  -b, --body TEXT        request body (Content-Type application/json unless -H sets one)\n"
    "  -H, --header 'N: v'    extra request header (repeatable)\n"
    "  -t, --timeout MS       per request (default 5000)\n"
    "      --json             print one JSON object\n"
    "      --allow-failures   exit 0 even when requests failed\n";

static int usage(const char *why)
{
    if (why != NULL) {
        fprintf(stderr, "tandem-load: %s\n", why);
    }
    fputs(usage_text, stderr);
    return 2;
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_pos_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e9) {
        return false;
    }
    *out = v;
    return true;
}

/* "http://127.0.0.1:PORT[/PATH]": the only target there is. */
static bool parse_url(const char *url, struct load_opts *o)
{
    static const char prefix[] = "http://127.0.0.1:";
    if (strncmp(url, prefix, sizeof(prefix) - 1) != 0) {
        return false;
    }
    const char *p = url + sizeof(prefix) - 1;
    const char *slash = strchr(p, '/');
    size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
    char digits[8];
    uint64_t port;
    if (n == 0 || n >= sizeof(digits)) {
        return false;
    }
    memcpy(digits, p, n);
    digits[n] = '\0';
    if (!parse_u64(digits, 1, 65535, &port)) {
        return false;
    }
    o->port = (uint16_t)port;
    o->path = slash != NULL ? slash : "/";
    for (const char *c = o->path; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            return false; /* no spaces or controls in a request target */
        }
    }
    return true;
}

static bool has_ctl(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\r' || *s == '\n') {
            return true;
        }
    }
    return false;
}

static bool header_named(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/* Builds o->request: request line, Host, the extra headers, Content-Length when there is a body
 * or the method carries one, then the body. */
static int build_request(struct load_opts *o, const char *body, const char **hdr, int nhdr)
{
    bool has_ct = false;
    size_t body_len = body != NULL ? strlen(body) : 0;
    size_t size = strlen(o->method) + strlen(o->path) + body_len + 160;
    for (int i = 0; i < nhdr; i++) {
        size += strlen(hdr[i]) + 2;
        has_ct = has_ct || header_named(hdr[i], "content-type");
    }
    bool send_length = body != NULL || strcmp(o->method, "POST") == 0 ||
                       strcmp(o->method, "PUT") == 0 || strcmp(o->method, "PATCH") == 0;
    char *req = malloc(size);
    if (req == NULL) {
        return TANDEM_ENOMEM;
    }
    size_t at = (size_t)snprintf(req, size, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n", o->method,
                                 o->path, (unsigned)o->port);
    for (int i = 0; i < nhdr; i++) {
        at += (size_t)snprintf(req + at, size - at, "%s\r\n", hdr[i]);
    }
    if (body != NULL && !has_ct) {
        at += (size_t)snprintf(req + at, size - at, "Content-Type: application/json\r\n");
    }
    if (send_length) {
        at += (size_t)snprintf(req + at, size - at, "Content-Length: %zu\r\n", body_len);
    }
    at += (size_t)snprintf(req + at, size - at, "\r\n");
    if (body_len > 0) {
        memcpy(req + at, body, body_len);
        at += body_len;
    }
    o->request = req;
    o->request_len = at;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted latencies; 0 when there are none. */
static uint32_t pct(const struct load_stats *st, double q)
{
    if (st->nlat == 0) {
        return 0;
    }
    size_t rank = (size_t)(q * (double)st->nlat + 0.999999);
    rank = rank == 0 ? 1 : rank > st->nlat ? st->nlat : rank;
    return st->lat_us[rank - 1];
}

static uint64_t total_failed(const struct load_stats *st)
{
    uint64_t n = 0;
    for (int k = 0; k < LOAD_F_COUNT; k++) {
        n += st->failed[k];
    }
    return n;
}

static void report_json(const struct load_opts *o, const struct load_stats *st, double mean)
{
    uint64_t failed = total_failed(st);
    uint64_t requests = st->responses + failed - st->failed[LOAD_F_5XX];
    printf("{\"method\":\"%s\",\"port\":%u,\"path\":\"", o->method, (unsigned)o->port);
    for (const char *c = o->path; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            putchar('\\');
        }
        putchar(*c);
    }
    printf("\",\"connections\":%d,\"rate\":%.1f,\"duration_s\":%.3f,\"elapsed_s\":%.3f,"
           "\"requests\":%llu,\"responses\":%llu,\"rps\":%.1f,\"failed\":%llu,\"failures\":{",
           o->conns, o->rate, o->duration_s, st->elapsed_s, (unsigned long long)requests,
           (unsigned long long)st->responses,
           st->elapsed_s > 0 ? (double)st->responses / st->elapsed_s : 0.0,
           (unsigned long long)failed);
    for (int k = 0; k < LOAD_F_COUNT; k++) {
        printf("%s\"%s\":%llu", k ? "," : "", load_fail_names[k],
               (unsigned long long)st->failed[k]);
    }
    printf("},\"retried\":%llu,\"reopened\":%llu,\"unsent\":%llu,\"status\":{",
           (unsigned long long)st->retried, (unsigned long long)st->reopened,
           (unsigned long long)st->unsent);
    bool first = true;
    for (int s = 100; s < 600; s++) {
        if (st->status[s] != 0) {
            printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)st->status[s]);
            first = false;
        }
    }
    printf("},\"latency_us\":{\"p50\":%u,\"p90\":%u,\"p99\":%u,\"max\":%u,\"mean\":%.1f}}\n",
           pct(st, 0.50), pct(st, 0.90), pct(st, 0.99), pct(st, 1.0), mean);
}

static void report_text(const struct load_opts *o, const struct load_stats *st, double mean)
{
    uint64_t failed = total_failed(st);
    uint64_t requests = st->responses + failed - st->failed[LOAD_F_5XX];
    printf("%s http://127.0.0.1:%u%s: %d connection%s, ", o->method, (unsigned)o->port, o->path,
           o->conns, o->conns == 1 ? "" : "s");
    if (o->rate > 0) {
        printf("%.1f requests/s", o->rate);
    } else {
        printf("closed loop");
    }
    printf(", %.2f s\n", st->elapsed_s);
    printf("  requests    %llu (%.1f/s answered)\n", (unsigned long long)requests,
           st->elapsed_s > 0 ? (double)st->responses / st->elapsed_s : 0.0);
    printf("  status     ");
    for (int s = 100; s < 600; s++) {
        if (st->status[s] != 0) {
            printf(" %d=%llu", s, (unsigned long long)st->status[s]);
        }
    }
    printf("\n  failed      %llu (", (unsigned long long)failed);
    for (int k = 0; k < LOAD_F_COUNT; k++) {
        printf("%s%s %llu", k ? ", " : "", load_fail_names[k], (unsigned long long)st->failed[k]);
    }
    printf(")\n  retried     %llu   reopened %llu   unsent %llu\n", (unsigned long long)st->retried,
           (unsigned long long)st->reopened, (unsigned long long)st->unsent);
    printf("  latency us  p50 %u   p90 %u   p99 %u   max %u   mean %.1f\n", pct(st, 0.50),
           pct(st, 0.90), pct(st, 0.99), pct(st, 1.0), mean);
}

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"connections", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'r'},
        {"requests", required_argument, NULL, 'n'},
        {"method", required_argument, NULL, 'm'},
        {"body", required_argument, NULL, 'b'},
        {"header", required_argument, NULL, 'H'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'J'},
        {"allow-failures", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct load_opts o = {.method = "GET", .conns = 1, .duration_s = 5, .timeout_ms = 5000};
    const char *body = NULL, *hdr[MAX_HEADERS];
    int nhdr = 0, opt;
    bool json = false, allow_failures = false;
    uint64_t v;
    while ((opt = getopt_long(argc, argv, "c:d:r:n:m:b:H:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (!parse_u64(optarg, 1, 100000, &v)) {
                return usage("-c: expected 1..100000 connections");
            }
            o.conns = (int)v;
            break;
        case 'd':
            if (!parse_pos_double(optarg, &o.duration_s)) {
                return usage("-d: expected a positive number of seconds");
            }
            break;
        case 'r':
            if (!parse_pos_double(optarg, &o.rate)) {
                return usage("-r: expected a positive rate");
            }
            break;
        case 'n':
            if (!parse_u64(optarg, 1, UINT64_MAX, &o.max_requests)) {
                return usage("-n: expected a positive count");
            }
            break;
        case 'm':
            o.method = NULL;
            for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                if (strcmp(optarg, methods[i]) == 0) {
                    o.method = methods[i];
                }
            }
            if (o.method == NULL) {
                return usage("-m: unknown method");
            }
            break;
        case 'b':
            body = optarg;
            break;
        case 'H':
            if (nhdr == MAX_HEADERS || has_ctl(optarg) || strchr(optarg, ':') == NULL) {
                return usage("-H: expected 'Name: value' (at most 32)");
            }
            hdr[nhdr++] = optarg;
            break;
        case 't':
            if (!parse_u64(optarg, 1, 3600000, &v)) {
                return usage("-t: expected 1..3600000 milliseconds");
            }
            o.timeout_ms = (int)v;
            break;
        case 'J':
            json = true;
            break;
        case 'A':
            allow_failures = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            return usage(NULL);
        }
    }
    if (optind != argc - 1) {
        return usage("expected one URL");
    }
    if (!parse_url(argv[optind], &o)) {
        return usage("the URL must be http://127.0.0.1:PORT/PATH (127.0.0.1 only)");
    }
    o.head = strcmp(o.method, "HEAD") == 0;
    o.idempotent = strcmp(o.method, "POST") != 0 && strcmp(o.method, "PATCH") != 0;
    if (build_request(&o, body, hdr, nhdr) != 0) {
        return 2;
    }

    struct load_stats st = {0};
    int rc = load_run(&o, &st);
    if (rc != 0) {
        fprintf(stderr, "tandem-load: cannot run: %s\n", tandem_strerror(rc));
        free(o.request);
        return 2;
    }
    double sum = 0;
    for (size_t i = 0; i < st.nlat; i++) {
        sum += st.lat_us[i];
    }
    double mean = st.nlat ? sum / (double)st.nlat : 0.0;
    if (st.nlat > 0) {
        qsort(st.lat_us, st.nlat, sizeof(*st.lat_us), cmp_u32);
    }
    if (json) {
        report_json(&o, &st, mean);
    } else {
        report_text(&o, &st, mean);
    }
    fflush(stdout);
    uint64_t failed = total_failed(&st);
    free(st.lat_us);
    free(o.request);
    if (allow_failures) {
        return 0;
    }
    return failed == 0 && st.responses > 0 ? 0 : 1;
}
