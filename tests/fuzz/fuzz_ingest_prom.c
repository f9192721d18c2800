/*
 * libFuzzer target for tandem-ingest's reader of Prometheus text (bench/ingest/codec.c): what the
 * fleet's /metrics answers, read once a second by `tandem bench ingest`.
 *
 * The input is one exposition text. Each reader runs over it: prom_each (every sample's name and
 * labels must lie inside the input), prom_label on each sample's labels, prom_sum, prom_hist and
 * a histogram's quantiles. Invariants beyond "no crash, no sanitizer report": names and labels
 * point into the input; a label value fits the caller's buffer and is NUL-terminated; a
 * histogram has at most HIST_MAX buckets in ascending order; a quantile is NaN or one of the
 * histogram's bounds' span (between 0 and the highest finite bound); a delta of a histogram from
 * itself is all zeros.
 * Seeds: tests/fuzz/corpus/ingest_prom/ (a fleet's /metrics, escapes, garbage).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/ingest/codec.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct scan {
    const char *text;
    size_t len;
    int samples;
};

static int each(const char *name, size_t name_len, const char *labels, size_t labels_len,
                double value, void *arg)
{
    struct scan *s = arg;
    (void)value;
    if (name < s->text || name + name_len > s->text + s->len || name_len == 0) {
        abort();
    }
    if (labels_len > 0 && (labels < s->text || labels + labels_len > s->text + s->len)) {
        abort();
    }
    char v[16];
    int n = prom_label(labels, labels_len, "le", v, sizeof(v));
    if (n >= (int)sizeof(v) || (n >= 0 && v[n] != '\0')) {
        abort();
    }
    n = prom_label(labels, labels_len, "source", v, sizeof(v));
    if (n >= (int)sizeof(v) || (n >= 0 && v[n] != '\0')) {
        abort();
    }
    s->samples++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct scan s = {.text = text, .len = size};
    prom_each(text, size, each, &s);
    bool found = false;
    (void)prom_sum(text, size, "fleet_positions_applied_total", "source=\"events\"", &found);
    struct hist h, d;
    prom_hist(text, size, "fleet_visible_latency_seconds", NULL, &h);
    if (h.n < 0 || h.n > HIST_MAX) {
        abort();
    }
    for (int i = 1; i < h.n; i++) {
        if (!(h.le[i - 1] < h.le[i])) {
            abort();
        }
    }
    double top = 0, bottom = h.n > 0 && h.le[0] < 0 ? h.le[0] : 0;
    for (int i = 0; i < h.n; i++) {
        top = isfinite(h.le[i]) && h.le[i] > top ? h.le[i] : top;
    }
    for (double q = 0.01; q < 1; q += 0.2) {
        double v = hist_quantile(&h, q);
        if (!isnan(v) && (v < bottom || v > top)) {
            abort();
        }
    }
    hist_delta(&h, &h, &d);
    for (int i = 0; i < d.n; i++) {
        if (d.count[i] != 0 && isfinite(h.count[i])) {
            abort();
        }
    }
    return 0;
}
