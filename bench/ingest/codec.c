/*
 * codec.c: the pure parts of tandem-ingest: a position's two encodings, the ledger, Prometheus
 * text (what the fleet's /metrics says) and quantiles of its histograms. No I/O.
 *
 * The binary record (the value of a vehicle-positions record; docs/fleet.md), little-endian:
 *
 *   OFFSET SIZE FIELD
 *   0      1    version      1
 *   1      1    flags        0 (none defined)
 *   2      2    heading      u16, centidegrees 0..35999
 *   4      4    speed        u32, mm/s
 *   8      8    id           u64, the vehicle (also the record's key, in decimal)
 *   16     4    lat          i32, 1e-7 degrees
 *   20     4    lon          i32, 1e-7 degrees
 *   24     8    ts           i64, unix ms of the fix
 *
 * The JSON object of POST /api/fleet/positions carries the same integers, written so that the
 * fleet's parse gets them back exactly: {"id":7,"lat":48.8566000,"lon":2.3522000,"speed":8.300,
 * "heading":90.00,"ts":1796500000000} (7, 3 and 2 decimals).
 *
 * Prometheus text (exposition format 0.0.4): `name{label="value",...} value [timestamp]` lines,
 * `#` comments. Only what the bench reads is parsed: names, label sets (quoted values with
 * \\, \" and \n escapes), the value as a double. A malformed line is skipped, never an error:
 * the text comes from our own services, but it still arrives over a socket.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "tandem/error.h"

/* ---- the position --------------------------------------------------------------------------- */

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | b[i];
    }
    return v;
}

void pos_encode_bin(const struct pos *p, uint8_t out[POS_BIN_LEN])
{
    out[0] = 1;
    out[1] = 0;
    put16(out + 2, p->heading_cd);
    put32(out + 4, p->speed_mm);
    put64(out + 8, p->id);
    put32(out + 16, (uint32_t)p->lat);
    put32(out + 20, (uint32_t)p->lon);
    put64(out + 24, (uint64_t)p->ts);
}

int pos_decode_bin(const uint8_t *b, size_t len, struct pos *out)
{
    if (b == NULL || len != POS_BIN_LEN || b[0] != 1) {
        return -1;
    }
    out->heading_cd = (uint16_t)get_le(b + 2, 2);
    out->speed_mm = (uint32_t)get_le(b + 4, 4);
    out->id = get_le(b + 8, 8);
    out->lat = (int32_t)(uint32_t)get_le(b + 16, 4);
    out->lon = (int32_t)(uint32_t)get_le(b + 20, 4);
    out->ts = (int64_t)get_le(b + 24, 8);
    out->pad = 0;
    return 0;
}

size_t fmt_u64(uint64_t v, char *out)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* v / 10^decimals as a decimal with exactly `decimals` digits after the point. */
static size_t fmt_fixed(int64_t v, int decimals, char *out)
{
    size_t n = 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) {
        out[n++] = '-';
    }
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++) {
        scale *= 10;
    }
    n += fmt_u64(m / scale, out + n);
    if (decimals == 0) {
        return n;
    }
    out[n++] = '.';
    uint64_t frac = m % scale;
    for (int i = decimals - 1; i >= 0; i--) {
        out[n + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return n + (size_t)decimals;
}

static size_t put_str(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

size_t pos_encode_json(const struct pos *p, char *out, size_t cap)
{
    if (cap < POS_JSON_MAX) {
        return 0;
    }
    size_t n = put_str(out, "{\"id\":");
    n += fmt_u64(p->id, out + n);
    n += put_str(out + n, ",\"lat\":");
    n += fmt_fixed(p->lat, 7, out + n);
    n += put_str(out + n, ",\"lon\":");
    n += fmt_fixed(p->lon, 7, out + n);
    n += put_str(out + n, ",\"speed\":");
    n += fmt_fixed(p->speed_mm, 3, out + n);
    n += put_str(out + n, ",\"heading\":");
    n += fmt_fixed(p->heading_cd, 2, out + n);
    n += put_str(out + n, ",\"ts\":");
    n += fmt_fixed(p->ts, 0, out + n);
    out[n++] = '}';
    return n;
}

/* ---- the ledger ----------------------------------------------------------------------------- */

int ledger_init(struct ledger *l, uint64_t vehicles)
{
    l->v = calloc(vehicles, sizeof(*l->v));
    l->n = l->v != NULL ? vehicles : 0;
    return l->v != NULL ? 0 : TANDEM_ENOMEM;
}

void ledger_cleanup(struct ledger *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void ledger_ok(struct ledger *l, uint64_t index, const struct pos *p)
{
    if (index < l->n && p->ts > l->v[index].ok.ts) {
        l->v[index].ok = *p;
    }
}

void ledger_unknown(struct ledger *l, uint64_t index, int64_t ts)
{
    if (index < l->n && ts > l->v[index].unknown_ts) {
        l->v[index].unknown_ts = ts;
    }
}

void ledger_made(struct ledger *l, uint64_t index, int64_t ts)
{
    if (index < l->n && ts > l->v[index].made_ts) {
        l->v[index].made_ts = ts;
    }
}

/* ---- Prometheus text ------------------------------------------------------------------------ */

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Parses one line [p, end): 0 and the sample, or -1. */
static int parse_line(const char *p, const char *end, const char **name, size_t *name_len,
                      const char **labels, size_t *labels_len, double *value)
{
    const char *q = p;
    while (q < end && name_char(*q, q == p)) {
        q++;
    }
    if (q == p) {
        return -1;
    }
    *name = p;
    *name_len = (size_t)(q - p);
    *labels = "";
    *labels_len = 0;
    if (q < end && *q == '{') {
        const char *l = ++q;
        bool quoted = false;
        while (q < end && (quoted || *q != '}')) {
            if (quoted && *q == '\\' && q + 1 < end) {
                q++;
            } else if (*q == '"') {
                quoted = !quoted;
            }
            q++;
        }
        if (q >= end) {
            return -1;
        }
        *labels = l;
        *labels_len = (size_t)(q - l);
        q++;
    }
    if (q >= end || (*q != ' ' && *q != '\t')) {
        return -1;
    }
    while (q < end && (*q == ' ' || *q == '\t')) {
        q++;
    }
    char num[64];
    size_t n = 0;
    while (q < end && *q != ' ' && *q != '\t' && n < sizeof(num) - 1) {
        num[n++] = *q++;
    }
    num[n] = '\0';
    if (n == 0) {
        return -1;
    }
    char *stop = NULL;
    double v = strtod(num, &stop);
    if (stop != num + n) {
        return -1;
    }
    *value = v;
    return 0;
}

void prom_each(const char *text, size_t len, prom_fn fn, void *arg)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        const char *name, *labels;
        size_t name_len, labels_len;
        double value;
        if (*p != '#' && parse_line(p, eol, &name, &name_len, &labels, &labels_len, &value) == 0 &&
            fn(name, name_len, labels, labels_len, value, arg) != 0) {
            return;
        }
        p = eol + 1;
    }
}

int prom_label(const char *labels, size_t len, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = labels, *end = labels + len;
    while (p < end) {
        while (p < end && (*p == ',' || *p == ' ')) {
            p++;
        }
        const char *k = p;
        while (p < end && *p != '=') {
            p++;
        }
        if (p + 1 >= end || p[1] != '"') {
            return -1;
        }
        bool match = (size_t)(p - k) == klen && memcmp(k, key, klen) == 0;
        p += 2;
        size_t n = 0;
        while (p < end && *p != '"') {
            char c = *p++;
            if (c == '\\' && p < end) {
                c = *p == 'n' ? '\n' : *p;
                p++;
            }
            if (match && n + 1 < cap) {
                out[n] = c;
            }
            n++;
        }
        if (p >= end) {
            return -1;
        }
        p++;
        if (match) {
            if (n + 1 > cap) {
                return -1;
            }
            out[n] = '\0';
            return (int)n;
        }
    }
    return -1;
}

static bool labels_contain(const char *labels, size_t len, const char *match)
{
    if (match == NULL) {
        return true;
    }
    size_t m = strlen(match);
    for (size_t i = 0; i + m <= len; i++) {
        if (memcmp(labels + i, match, m) == 0) {
            return true;
        }
    }
    return false;
}

static bool name_is(const char *name, size_t len, const char *base, const char *suffix)
{
    size_t b = strlen(base), s = strlen(suffix);
    return len == b + s && memcmp(name, base, b) == 0 && memcmp(name + b, suffix, s) == 0;
}

struct hist_scan {
    const char *name, *match;
    struct hist *h;
};

static int hist_sample(const char *name, size_t name_len, const char *labels, size_t labels_len,
                       double value, void *arg)
{
    struct hist_scan *s = arg;
    if (!labels_contain(labels, labels_len, s->match)) {
        return 0;
    }
    if (name_is(name, name_len, s->name, "_sum")) {
        s->h->sum += value;
        return 0;
    }
    if (!name_is(name, name_len, s->name, "_bucket")) {
        return 0;
    }
    char le_text[64];
    if (prom_label(labels, labels_len, "le", le_text, sizeof(le_text)) < 0) {
        return 0;
    }
    char *end = NULL;
    double le = strcmp(le_text, "+Inf") == 0 ? INFINITY : strtod(le_text, &end);
    if (isnan(le) || le == -INFINITY || (end != NULL && *end != '\0')) {
        return 0; /* not a bound */
    }
    struct hist *h = s->h;
    int i = 0;
    while (i < h->n && h->le[i] < le) {
        i++;
    }
    if (i < h->n && h->le[i] == le) {
        h->count[i] += value;
        return 0;
    }
    if (h->n == HIST_MAX) {
        return 0; /* more buckets than we keep: ignored */
    }
    memmove(&h->le[i + 1], &h->le[i], sizeof(double) * (size_t)(h->n - i));
    memmove(&h->count[i + 1], &h->count[i], sizeof(double) * (size_t)(h->n - i));
    h->le[i] = le;
    h->count[i] = value;
    h->n++;
    return 0;
}

int prom_hist(const char *text, size_t len, const char *name, const char *match, struct hist *h)
{
    memset(h, 0, sizeof(*h));
    struct hist_scan s = {.name = name, .match = match, .h = h};
    prom_each(text, len, hist_sample, &s);
    return 0;
}

struct sum_scan {
    const char *name, *match;
    double sum;
    bool found;
};

static int sum_sample(const char *name, size_t name_len, const char *labels, size_t labels_len,
                      double value, void *arg)
{
    struct sum_scan *s = arg;
    if (name_is(name, name_len, s->name, "") && labels_contain(labels, labels_len, s->match)) {
        s->sum += value;
        s->found = true;
    }
    return 0;
}

double prom_sum(const char *text, size_t len, const char *name, const char *match, bool *found)
{
    struct sum_scan s = {.name = name, .match = match};
    prom_each(text, len, sum_sample, &s);
    if (found != NULL) {
        *found = s.found;
    }
    return s.sum;
}

void hist_delta(const struct hist *after, const struct hist *before, struct hist *out)
{
    *out = *after;
    bool same = before->n == after->n;
    for (int i = 0; same && i < after->n; i++) {
        same = before->le[i] == after->le[i];
    }
    if (!same) {
        return; /* nothing before (or another shape): the whole of after */
    }
    bool reset = false;
    for (int i = 0; i < after->n; i++) {
        reset = reset || after->count[i] < before->count[i];
    }
    if (reset) {
        return;
    }
    for (int i = 0; i < after->n; i++) {
        out->count[i] = after->count[i] - before->count[i];
    }
    out->sum = after->sum - before->sum;
}

void hist_add(struct hist *a, const struct hist *b)
{
    if (a->n == 0) {
        *a = *b;
        return;
    }
    if (a->n != b->n) {
        return;
    }
    for (int i = 0; i < a->n; i++) {
        a->count[i] += b->count[i];
    }
    a->sum += b->sum;
}

double hist_total(const struct hist *h)
{
    return h->n > 0 ? h->count[h->n - 1] : 0;
}

double hist_quantile(const struct hist *h, double q)
{
    double total = hist_total(h);
    if (h->n == 0 || !(total > 0) || !isinf(h->le[h->n - 1])) {
        return NAN;
    }
    double rank = q * total;
    int i = 0;
    while (i < h->n - 1 && h->count[i] < rank) {
        i++;
    }
    if (i == h->n - 1) {
        return h->n >= 2 ? h->le[h->n - 2] : NAN; /* in +Inf: the highest finite bound */
    }
    double lo = i == 0 ? 0 : h->le[i - 1];
    double below = i == 0 ? 0 : h->count[i - 1];
    double in = h->count[i] - below;
    if (!(in > 0)) {
        return h->le[i];
    }
    return lo + (h->le[i] - lo) * (rank - below) / in;
}

double hist_quantile_bound(const struct hist *h, double q)
{
    double total = hist_total(h);
    if (h->n == 0 || !(total > 0)) {
        return NAN;
    }
    double rank = q * total;
    int i = 0;
    while (i < h->n - 1 && h->count[i] < rank) {
        i++;
    }
    return h->le[i];
}

/* ---- the sender's latency histogram --------------------------------------------------------- */

void lat_record(struct lat_hist *h, uint64_t ns)
{
    double us = (double)ns / 1000.0;
    int i = us <= 1.0 ? 0 : (int)(log10(us) * LAT_PER_DECADE);
    i = i < 0 ? 0 : i >= LAT_BUCKETS ? LAT_BUCKETS - 1 : i;
    atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
}

uint64_t lat_count(const struct lat_hist *h)
{
    uint64_t n = 0;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        n += atomic_load_explicit(&h->b[i], memory_order_relaxed);
    }
    return n;
}

double lat_quantile(const struct lat_hist *h, double q)
{
    uint64_t total = lat_count(h), seen = 0;
    if (total == 0) {
        return NAN;
    }
    double rank = q * (double)total;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->b[i], memory_order_relaxed);
        if ((double)seen >= rank) {
            return pow(10.0, (double)(i + 1) / LAT_PER_DECADE) / 1000.0; /* us -> ms */
        }
    }
    return pow(10.0, (double)LAT_BUCKETS / LAT_PER_DECADE) / 1000.0;
}

/* ---- time ------------------------------------------------------------------------------------ */

uint64_t ingest_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t ingest_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}
