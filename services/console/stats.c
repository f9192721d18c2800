/*
 * What the console computes from the services' metrics: snapshots of the series it reads, the
 * increase of each counter over a window, and quantiles of the duration histograms.
 *
 * Model. Every second the poller scrapes each instance's /metrics into a snapshot (msnap_parse:
 * only the series of enum msample_kind, sorted). The numbers the console shows are over a
 * sliding window of the last RATE_WINDOW seconds: for each instance, the difference between its
 * newest snapshot and the oldest one the poller still holds from the SAME process (a restarted
 * instance starts a new history: its counters began again at 0). svc_window_add sums those
 * differences over a service's instances; a counter that went down between two snapshots of one
 * process was reset (Prometheus' rule), so its whole new value is the increase.
 *
 * Quantiles: the same rule as Prometheus' histogram_quantile over the window's bucket increases
 * (cumulative counts per upper bound `le`): the rank q * total falls in the first bucket whose
 * count reaches it, and the value is interpolated linearly between that bucket's lower bound
 * (the previous bound, 0 for the first) and its upper bound; a rank in the +Inf bucket answers
 * the highest finite bound (libtandem's is 10 s), so "p99 = 10 s" reads "at least 10 s".
 *
 * Pure: no I/O, no clock (times are arguments). tests/unit/test_console_stats.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

static const struct {
    const char *name;
    enum msample_kind kind;
    const char *labels[3]; /* into a, b, c */
} SERIES[] = {
    {"tandem_http_requests_total", MK_REQ, {"route", "method", "status"}},
    {"tandem_http_request_duration_seconds_bucket", MK_BUCKET, {"route", NULL, NULL}},
    {"tandem_events_produced_total", MK_PRODUCED, {NULL, NULL, NULL}},
    {"tandem_events_delivery_failed_total", MK_DELIVERY_FAILED, {NULL, NULL, NULL}},
    {"tandem_events_consumed_total", MK_CONSUMED, {"group", NULL, NULL}},
    {"tandem_events_dead_lettered_total", MK_DEAD_LETTERED, {"group", NULL, NULL}},
    {"tandem_consumer_lag", MK_LAG, {"group", "topic", "partition"}},
    {"tandem_http_client_calls_total", MK_CLIENT_CALLS, {"upstream", NULL, NULL}},
    {"tandem_sse_streams", MK_SSE_STREAMS, {NULL, NULL, NULL}},
};

static bool is_gauge(enum msample_kind k)
{
    return k == MK_LAG || k == MK_SSE_STREAMS;
}

static int sample_cmp(const void *x, const void *y)
{
    const struct msample *a = x, *b = y;
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    int c = strcmp(a->a, b->a);
    if (c == 0) {
        c = strcmp(a->b, b->b);
    }
    if (c == 0) {
        c = strcmp(a->c, b->c);
    }
    if (c == 0 && a->le != b->le) {
        c = a->le < b->le ? -1 : 1;
    }
    return c;
}

static int keep_sample(const struct prom_sample *ps, void *arg)
{
    struct msnap *out = arg;
    for (size_t i = 0; i < sizeof(SERIES) / sizeof(SERIES[0]); i++) {
        size_t n = strlen(SERIES[i].name);
        if (ps->name_len != n || memcmp(ps->name, SERIES[i].name, n) != 0) {
            continue;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            struct msample *s = realloc(out->s, cap * sizeof(*s));
            if (s == NULL) {
                return TANDEM_ENOMEM;
            }
            out->s = s;
            out->cap = cap;
        }
        struct msample *m = &out->s[out->n];
        memset(m, 0, sizeof(*m));
        m->kind = SERIES[i].kind;
        m->v = ps->value;
        char *dst[3] = {m->a, m->b, m->c};
        size_t cap[3] = {sizeof(m->a), sizeof(m->b), sizeof(m->c)};
        for (int j = 0; j < 3; j++) {
            if (SERIES[i].labels[j] != NULL &&
                prom_label(ps, SERIES[i].labels[j], dst[j], cap[j]) == NULL) {
                return 0; /* not the series we know: skipped */
            }
        }
        if (m->kind == MK_BUCKET) {
            char le[32];
            if (prom_label(ps, "le", le, sizeof(le)) == NULL) {
                return 0;
            }
            char *stop = NULL;
            m->le = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, &stop);
            if (m->le != INFINITY && (stop == le || *stop != '\0')) {
                return 0;
            }
        }
        out->n++;
        return 0;
    }
    return 0;
}

int msnap_parse(const char *text, size_t len, int64_t at_ms, struct msnap *out)
{
    out->n = 0;
    out->at_ms = at_ms;
    int rc = prom_parse(text, len, keep_sample, out, NULL);
    if (rc != 0) {
        out->n = 0;
        return rc == TANDEM_ENOMEM ? rc : TANDEM_EINVAL;
    }
    if (out->n > 1) {
        qsort(out->s, out->n, sizeof(*out->s), sample_cmp);
    }
    return 0;
}

void msnap_cleanup(struct msnap *s)
{
    free(s->s);
    memset(s, 0, sizeof(*s));
}

void msnap_move(struct msnap *dst, struct msnap *src)
{
    free(dst->s);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

static const struct msample *find(const struct msnap *s, const struct msample *key)
{
    return s != NULL && s->n > 0 ? bsearch(key, s->s, s->n, sizeof(*s->s), sample_cmp) : NULL;
}

bool stats_route_ignored(const char *route)
{
    static const char *const IGNORED[] = {"/healthz", "/readyz", "/metrics", CONSOLE_STREAM,
                                          CONSOLE_TAIL};
    for (size_t i = 0; i < sizeof(IGNORED) / sizeof(IGNORED[0]); i++) {
        if (strcmp(route, IGNORED[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool internal_route(const char *route)
{
    return strncmp(route, "/internal/", 10) == 0 || strcmp(route, "/internal") == 0;
}

static struct route_window *route_of(struct svc_window *w, const char *route)
{
    for (size_t i = 0; i < w->n_routes; i++) {
        if (strcmp(w->routes[i].route, route) == 0) {
            return &w->routes[i];
        }
    }
    struct route_window *r = realloc(w->routes, (w->n_routes + 1) * sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    w->routes = r;
    r = &w->routes[w->n_routes++];
    memset(r, 0, sizeof(*r));
    snprintf(r->route, sizeof(r->route), "%s", route);
    return r;
}

/* Adds n requests of one status to h. */
static void http_add_requests(struct http_window *h, int status, double n)
{
    h->requests += n;
    if (status >= 500) {
        h->errors += n;
    } else if (status >= 400) {
        h->client_errors += n;
    }
}

/* Adds n to h's bucket of upper bound le (buckets kept sorted by le). */
static void http_add_bucket(struct http_window *h, double le, double n)
{
    int i = 0;
    while (i < h->nb && h->le[i] < le) {
        i++;
    }
    if (i < h->nb && h->le[i] == le) {
        h->bucket[i] += n;
        return;
    }
    if (h->nb == HIST_MAX_BUCKETS) {
        return; /* a histogram with more bounds than libtandem's: the rest is not kept */
    }
    memmove(&h->le[i + 1], &h->le[i], (size_t)(h->nb - i) * sizeof(h->le[0]));
    memmove(&h->bucket[i + 1], &h->bucket[i], (size_t)(h->nb - i) * sizeof(h->bucket[0]));
    h->le[i] = le;
    h->bucket[i] = n;
    h->nb++;
}

static void add_call(struct svc_window *w, const char *upstream, double n)
{
    for (size_t i = 0; i < w->n_calls; i++) {
        if (strcmp(w->calls[i].upstream, upstream) == 0) {
            w->calls[i].calls += n;
            return;
        }
    }
    if (w->n_calls < sizeof(w->calls) / sizeof(w->calls[0])) {
        snprintf(w->calls[w->n_calls].upstream, sizeof(w->calls[0].upstream), "%s", upstream);
        w->calls[w->n_calls++].calls = n;
    }
}

void svc_window_add(struct svc_window *w, const struct msnap *old, const struct msnap *cur,
                    double scale)
{
    for (size_t i = 0; i < cur->n; i++) {
        const struct msample *s = &cur->s[i];
        double inc = s->v;
        if (!is_gauge(s->kind)) {
            const struct msample *o = find(old, s);
            inc = o == NULL || o->v > s->v ? s->v : s->v - o->v;
            if (o == NULL && old == NULL) {
                inc = 0; /* no earlier scrape: nothing is known to have happened yet */
            }
            inc *= scale;
        }
        if (!(inc >= 0) || isinf(inc)) {
            continue; /* NaN, or a gauge's infinity: nothing to add */
        }
        switch (s->kind) {
        case MK_REQ:
        case MK_BUCKET: {
            if (stats_route_ignored(s->a)) {
                break;
            }
            struct route_window *r = route_of(w, s->a);
            bool pub = !internal_route(s->a);
            if (s->kind == MK_REQ) {
                int status = atoi(s->c);
                http_add_requests(&w->http, status, inc);
                if (pub) {
                    http_add_requests(&w->public, status, inc);
                }
                if (r != NULL) {
                    http_add_requests(&r->h, status, inc);
                }
            } else {
                http_add_bucket(&w->http, s->le, inc);
                if (pub) {
                    http_add_bucket(&w->public, s->le, inc);
                }
                if (r != NULL) {
                    http_add_bucket(&r->h, s->le, inc);
                }
            }
            break;
        }
        case MK_PRODUCED:
            w->produced += inc;
            break;
        case MK_DELIVERY_FAILED:
            w->delivery_failed += inc;
            break;
        case MK_CONSUMED:
            w->consumed += inc;
            break;
        case MK_DEAD_LETTERED:
            w->dead_lettered += inc;
            break;
        case MK_CLIENT_CALLS:
            add_call(w, s->a, inc);
            break;
        case MK_SSE_STREAMS:
            w->sse_streams += inc;
            break;
        case MK_LAG:
            break; /* lag comes from the broker (the group's committed offsets) */
        }
    }
}

void svc_window_cleanup(struct svc_window *w)
{
    free(w->routes);
    memset(w, 0, sizeof(*w));
}

double http_quantile(const struct http_window *h, double q)
{
    if (h->nb == 0 || !(q >= 0 && q <= 1)) {
        return NAN;
    }
    double total = h->bucket[h->nb - 1]; /* the +Inf bucket counts every request */
    if (!isinf(h->le[h->nb - 1]) || !(total > 0)) {
        return NAN;
    }
    double rank = q * total;
    for (int i = 0; i < h->nb; i++) {
        if (h->bucket[i] >= rank) {
            if (isinf(h->le[i])) {
                return i > 0 ? h->le[i - 1] : NAN;
            }
            double lower = i > 0 ? h->le[i - 1] : 0;
            double below = i > 0 ? h->bucket[i - 1] : 0;
            double in = h->bucket[i] - below;
            if (!(in > 0)) {
                return h->le[i];
            }
            return lower + (h->le[i] - lower) * ((rank - below) / in);
        }
    }
    return h->le[h->nb - 1];
}

void rate_push(struct rate_ring *r, int64_t t_ms, double v)
{
    r->head = (r->head + 1) % (RATE_WINDOW + 1);
    r->t[r->head] = t_ms;
    r->v[r->head] = v;
    if (r->n < RATE_WINDOW + 1) {
        r->n++;
    }
}

double rate_per_s(const struct rate_ring *r)
{
    if (r->n < 2) {
        return 0;
    }
    /* Walk from the oldest to the newest, summing increases (a decrease is a reset). */
    int size = RATE_WINDOW + 1;
    int i = (r->head - r->n + 1 + size) % size;
    int64_t t0 = r->t[i];
    double sum = 0, prev = r->v[i];
    for (int k = 1; k < r->n; k++) {
        i = (i + 1) % size;
        double v = r->v[i];
        sum += v >= prev ? v - prev : v;
        prev = v;
    }
    int64_t dt = r->t[r->head] - t0;
    return dt > 0 ? sum * 1000.0 / (double)dt : 0;
}
