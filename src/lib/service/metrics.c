/*
 * metrics.c: request metrics without locks on the request path, and the Prometheus text writer.
 *
 * MODEL. Each worker thread has its own struct svc_stats and is its only writer: a counter per
 * (route, method, status) in a small open-addressing table, and a latency histogram per route.
 * Values are relaxed atomics, so a scrape (on any worker) may read them while their owner adds;
 * a new table slot is published by storing its key last. A scrape merges every worker's stats
 * into one answer. Nothing is reset, so every series is a monotonic counter, as Prometheus wants.
 *
 * Exposition: text format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
 *
 *   # HELP tandem_http_requests_total HTTP requests answered, by route, method and status.
 *   # TYPE tandem_http_requests_total counter
 *   tandem_http_requests_total{route="/hello",method="GET",status="200"} 3
 *   # TYPE tandem_http_request_duration_seconds histogram
 *   tandem_http_request_duration_seconds_bucket{route="/hello",le="0.0005"} 3
 *   ... le="+Inf", then _sum (seconds) and _count
 *
 * Route labels are the registered templates ("/posts/{id}"), never raw paths, so the number of
 * series is bounded by the code, not by clients; requests that match no route are "unmatched".
 * Requests the http core answers itself before any dispatch (400 malformed, 408, 413, 431) are
 * counted with route="(none)",method="(none)" (their method may not even be known), in the
 * counter only: they have no dispatch time to measure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "service_int.h"

const double svc_buckets[SVC_NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
int svc_method_index(const char *method)
{
    int i = core_method_index(method, strlen(method));
    return i >= 0 ? i : SVC_METHOD_OTHER;
}

const char *svc_method_name(int index)
{
    if (index >= 0 && index < CORE_NMETHODS) {
        return core_method_names[index];
    }
    return index == SVC_METHOD_OTHER ? "other" : "(none)";
}

void svc_stats_init(struct svc_stats *st, size_t nroutes)
{
    memset(st, 0, sizeof(*st));
    st->hist = xcalloc(nroutes + 1, sizeof(*st->hist));
}

void svc_stats_cleanup(struct svc_stats *st)
{
    free(st->hist);
    st->hist = NULL;
}

/* key: route (15 bits) | method (4 bits) | status (10 bits), plus 1 so that 0 means empty */
static uint32_t slot_key(int route, int method, int status)
{
    return (((uint32_t)route << 14) | ((uint32_t)method << 10) | (uint32_t)status) + 1;
}

void svc_stats_count(struct svc_stats *st, int route, int method, int status)
{
    uint32_t key = slot_key(route, method, status);
    uint32_t h = (key * 2654435761u) % SVC_STAT_SLOT;
    for (int i = 0; i < SVC_STAT_SLOT; i++) {
        struct svc_slot *sl = &st->slots[(h + (uint32_t)i) % SVC_STAT_SLOT];
        uint32_t k = atomic_load_explicit(&sl->key, memory_order_relaxed);
        if (k == 0) {
            atomic_store_explicit(&sl->count, 1, memory_order_relaxed);
            atomic_store_explicit(&sl->key, key, memory_order_release);
            return;
        }
        if (k == key) {
            atomic_fetch_add_explicit(&sl->count, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&st->dropped, 1, memory_order_relaxed);
}

void svc_stats_record(struct svc_stats *st, int route, int method, int status, uint64_t ns)
{
    svc_stats_count(st, route, method, status);
    struct svc_hist *hg = &st->hist[route];
    double secs = (double)ns / 1e9;
    int b = 0;
    while (b < SVC_NBUCKETS && secs > svc_buckets[b]) {
        b++;
    }
    if (b < SVC_NBUCKETS) {
        atomic_fetch_add_explicit(&hg->bucket[b], 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&hg->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hg->sum_ns, ns, memory_order_relaxed);
}

void svc_writer_init(struct tandem_metrics_writer *w)
{
    memset(w, 0, sizeof(*w));
    w->cap = 4096;
    w->p = xmalloc(w->cap);
}

void svc_writer_cleanup(struct tandem_metrics_writer *w)
{
    free(w->p);
    w->p = NULL;
}

void svc_writer_append(struct tandem_metrics_writer *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        while (w->len + n + 1 > w->cap) {
            w->cap *= 2;
        }
        w->p = xrealloc(w->p, w->cap);
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void wprintf(struct tandem_metrics_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void wprintf(struct tandem_metrics_writer *w, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        svc_writer_append(w, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

void svc_metrics_header(struct tandem_metrics_writer *w, const char *name, const char *help,
                        const char *type)
{
    if (strcmp(w->last, name) == 0) {
        return;
    }
    snprintf(w->last, sizeof(w->last), "%s", name);
    wprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help ? help : name, name, type);
}

static void sample(struct tandem_metrics_writer *w, const char *name, const char *help,
                   const char *type, const char *labels, double value)
{
    svc_metrics_header(w, name, help, type);
    if (labels != NULL && *labels != '\0') {
        wprintf(w, "%s{%s} %.17g\n", name, labels, value);
    } else {
        wprintf(w, "%s %.17g\n", name, value);
    }
}

void tandem_metrics_counter(struct tandem_metrics_writer *w, const char *name, const char *help,
                            const char *labels, double value)
{
    sample(w, name, help, "counter", labels, value);
}

void tandem_metrics_gauge(struct tandem_metrics_writer *w, const char *name, const char *help,
                          const char *labels, double value)
{
    sample(w, name, help, "gauge", labels, value);
}

void tandem_metrics_histogram(struct tandem_metrics_writer *w, const char *name, const char *help,
                              const char *labels, const double *bounds, const uint64_t *counts,
                              size_t n, double sum)
{
    svc_metrics_header(w, name, help, "histogram");
    const char *sep = labels != NULL && *labels != '\0' ? "," : "";
    const char *l = labels != NULL ? labels : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        wprintf(w, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, l, sep, bounds[i],
                (unsigned long long)cum);
    }
    cum += counts[n];
    wprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, sep, (unsigned long long)cum);
    if (*l != '\0') {
        wprintf(w, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, l, sum, name, l,
                (unsigned long long)cum);
    } else {
        wprintf(w, "%s_sum %.9f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
    }
}

void svc_metrics_emit(struct tandem_metrics_writer *w, const struct svc_metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sample(w, m[i].name, m[i].help, m[i].gauge ? "gauge" : "counter", NULL, m[i].value);
    }
}

/* Route templates only contain path characters, but escape '"' and '\' anyway (0.0.4). */
static const char *label_esc(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') {
            buf[o++] = '\\';
        }
        buf[o++] = *s;
    }
    buf[o] = '\0';
    return buf;
}

void svc_metrics_http(struct tandem_metrics_writer *w, struct svc_stats *stats, int nworkers,
                      size_t nroutes, const char *const *route_names)
{
    /* counters: merge every worker's table into one (key, count) list */
    size_t cap = (size_t)nworkers * SVC_STAT_SLOT, n = 0;
    uint32_t *keys = xcalloc(cap, sizeof(*keys));
    uint64_t *counts = xcalloc(cap, sizeof(*counts));
    for (int wk = 0; wk < nworkers; wk++) {
        for (int i = 0; i < SVC_STAT_SLOT; i++) {
            struct svc_slot *sl = &stats[wk].slots[i];
            uint32_t k = atomic_load_explicit(&sl->key, memory_order_acquire);
            if (k == 0) {
                continue;
            }
            uint64_t c = atomic_load_explicit(&sl->count, memory_order_relaxed);
            size_t j = 0;
            while (j < n && keys[j] != k) {
                j++;
            }
            if (j == n) {
                keys[n++] = k;
            }
            counts[j] += c;
        }
    }
    char lab[512], esc[256];
    svc_metrics_header(w, "tandem_http_requests_total",
                       "HTTP requests answered, by route, method and status.", "counter");
    for (size_t i = 0; i < n; i++) {
        uint32_t k = keys[i] - 1;
        size_t route = k >> 14;
        int method = (int)((k >> 10) & 15), status = (int)(k & 1023);
        snprintf(lab, sizeof(lab), "route=\"%s\",method=\"%s\",status=\"%d\"",
                 label_esc(esc, sizeof(esc), route_names[route]), svc_method_name(method), status);
        tandem_metrics_counter(w, "tandem_http_requests_total", NULL, lab, (double)counts[i]);
    }
    free(keys);
    free(counts);

    const char *hn = "tandem_http_request_duration_seconds";
    svc_metrics_header(w, hn, "Time from a request's dispatch to its answer, by route.",
                       "histogram");
    for (size_t r = 0; r <= nroutes; r++) {
        uint64_t b[SVC_NBUCKETS] = {0}, count = 0, sum_ns = 0;
        for (int wk = 0; wk < nworkers; wk++) {
            struct svc_hist *hg = &stats[wk].hist[r];
            for (int i = 0; i < SVC_NBUCKETS; i++) {
                b[i] += atomic_load_explicit(&hg->bucket[i], memory_order_relaxed);
            }
            count += atomic_load_explicit(&hg->count, memory_order_relaxed);
            sum_ns += atomic_load_explicit(&hg->sum_ns, memory_order_relaxed);
        }
        if (count == 0) {
            continue;
        }
        label_esc(esc, sizeof(esc), route_names[r]);
        uint64_t cum = 0;
        for (int i = 0; i < SVC_NBUCKETS; i++) {
            cum += b[i];
            wprintf(w, "%s_bucket{route=\"%s\",le=\"%g\"} %llu\n", hn, esc, svc_buckets[i],
                    (unsigned long long)cum);
        }
        wprintf(w, "%s_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", hn, esc,
                (unsigned long long)count);
        wprintf(w, "%s_sum{route=\"%s\"} %.9f\n", hn, esc, (double)sum_ns / 1e9);
        wprintf(w, "%s_count{route=\"%s\"} %llu\n", hn, esc, (unsigned long long)count);
    }
}
