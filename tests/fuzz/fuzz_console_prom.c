/*
 * libFuzzer target for the console's reader of the Prometheus text format (services/console/
 * prom.c), which parses what every instance's /metrics answers, and the snapshots made from it
 * (stats.c).
 *
 * Invariants checked, beyond "no crash, no sanitizer report, no read past the input":
 *   - every sample reported has a valid metric name and valid label names, and label values of
 *     at most 4 KiB in all;
 *   - round trip: each sample written back in the format's canonical form (escaped values, %.17g
 *     numbers) parses to the very same sample (names, labels, value bit for bit; NaN as NaN);
 *   - msnap_parse succeeds exactly when prom_parse does, and keeps its samples sorted.
 * Seeds: tests/fuzz/corpus/console_prom/.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/console/prom.c"
#include "../../services/console/stats.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_name(const char *p, size_t n, bool colon)
{
    if (n == 0 || (p[0] >= '0' && p[0] <= '9')) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || (colon && c == ':');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* s in canonical form into buf. */
static size_t canonical(const struct prom_sample *s, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%.*s", (int)s->name_len, s->name);
    if (s->n_labels > 0) {
        n += (size_t)snprintf(buf + n, cap - n, "{");
        for (size_t i = 0; i < s->n_labels; i++) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%.*s=\"", i ? "," : "",
                                  (int)s->labels[i].name_len, s->labels[i].name);
            for (size_t k = 0; k < s->labels[i].value_len; k++) {
                char c = s->labels[i].value[k];
                if (c == '\\' || c == '"') {
                    n += (size_t)snprintf(buf + n, cap - n, "\\%c", c);
                } else if (c == '\n') {
                    n += (size_t)snprintf(buf + n, cap - n, "\\n");
                } else {
                    n += (size_t)snprintf(buf + n, cap - n, "%c", c);
                }
            }
            n += (size_t)snprintf(buf + n, cap - n, "\"");
        }
        n += (size_t)snprintf(buf + n, cap - n, "}");
    }
    double v = s->value;
    if (isnan(v)) {
        n += (size_t)snprintf(buf + n, cap - n, " NaN\n");
    } else if (isinf(v)) {
        n += (size_t)snprintf(buf + n, cap - n, " %sInf\n", v > 0 ? "+" : "-");
    } else {
        n += (size_t)snprintf(buf + n, cap - n, " %.17g\n", v);
    }
    return n;
}

static int same_sample(const struct prom_sample *s, void *arg)
{
    const struct prom_sample *want = arg;
    if (s->name_len != want->name_len || memcmp(s->name, want->name, s->name_len) != 0 ||
        s->n_labels != want->n_labels) {
        abort();
    }
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct prom_label *a = &s->labels[i], *b = &want->labels[i];
        if (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) != 0 ||
            a->value_len != b->value_len || memcmp(a->value, b->value, a->value_len) != 0) {
            abort();
        }
    }
    if (isnan(want->value) ? !isnan(s->value) : memcmp(&s->value, &want->value, sizeof(double))) {
        abort();
    }
    return 0;
}

static int check(const struct prom_sample *s, void *arg)
{
    (void)arg;
    if (!valid_name(s->name, s->name_len, true) || s->n_labels > PROM_MAX_LABELS) {
        abort();
    }
    size_t total = 0;
    for (size_t i = 0; i < s->n_labels; i++) {
        if (!valid_name(s->labels[i].name, s->labels[i].name_len, false)) {
            abort();
        }
        total += s->labels[i].value_len + 1;
    }
    if (total > 4096) {
        abort();
    }
    static char buf[16384];
    size_t n = canonical(s, buf, sizeof(buf));
    if (n >= sizeof(buf) || prom_parse(buf, n, same_sample, (void *)s, NULL) != 0) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes: reading past it is a heap overflow ASan reports */
    char *text = malloc(size ? size : 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    int rc = prom_parse(text, size, check, NULL, NULL);
    struct msnap snap = {0};
    int src = msnap_parse(text, size, 0, &snap);
    if ((rc == 0) != (src == 0)) {
        abort();
    }
    for (size_t i = 1; i < snap.n; i++) {
        if (sample_cmp(&snap.s[i - 1], &snap.s[i]) > 0) {
            abort();
        }
    }
    msnap_cleanup(&snap);
    free(text);
    return 0;
}
