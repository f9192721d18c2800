/*
 * sampler.c: what tandem-ingest sees of a mode while it runs, once a second, on its own thread
 * (the sender keeps the main thread):
 *
 *   - the sender's counters (struct sender_stats, atomics);
 *   - the fleet's /metrics, scraped from each instance directly (the gateway answers /metrics
 *     404): the visible-latency histogram of this mode's source (fleet_visible_latency_seconds
 *     {source=...}: at the moment a position becomes visible in the fleet's REST view, now - ts),
 *     its applied, stale and rejected counters, and the consumer lag of vehicle-positions. Each
 *     instance's deltas are kept apart: an instance that stopped answering, or whose pid changed,
 *     starts again from zero (its counters restarted with it), as Prometheus' increase() does;
 *   - CPU seconds of the client, the service, the broker, the gateway (system.c);
 *   - the wire: payload bytes and segments of every connection to the system's ports, and lo.
 *
 * For the activity workload there is no histogram to read: its totals are read through the
 * gateway every 50 ms and the visible latency is the horizontal distance between two curves, the
 * beacons answered by the service A(t) and the beacons counted by its totals V(t): the k-th
 * beacon is taken to become visible when V reaches k (in order; 50 ms resolution).
 *
 * With an outage asked for, a third thread runs `tandem stop SERVICE` at its time and `tandem
 * start SERVICE` the given seconds after the stop returned, timing both, then reads the system
 * again (new pids).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest_io.h"
#include "tandem/error.h"

#define CPU_PIDS    512
#define ACT_TICK_MS 50
#define LAG_MATCH   "topic=\"" FLEET_TOPIC "\""

struct inst {
    bool have;
    int pid;
    struct hist lat;
    double applied, stale, rejected;
};

struct cpu_seen {
    int pid;
    double cpu;
};

struct curve_point {
    double t, a, v;
};

struct sampler {
    struct system *sys;
    pthread_mutex_t lock; /* sys, while the outage thread re-reads it */
    enum workload wl;
    char match[64]; /* source="..." */
    struct sender_stats *st;
    const char *mode_name;
    int interval_ms;
    bool progress, tty;
    struct outage *outage;
    pthread_t thread, outage_thread;
    bool outage_running;
    _Atomic bool stop;
    uint64_t t0;
    struct series series;
    struct totals tot;
    struct hconn conn[MAX_INSTANCES];
    struct hconn gw;
    struct inst inst[MAX_INSTANCES];
    struct cpu_seen cpu[CPU_PIDS];
    int ncpu;
    struct wire_meter *wire;
    struct group_lag *glag; /* fleet: the group's lag at the broker */
    double lo_b, lo_p;
    double prev_sent, prev_acked, prev_failed, prev_retried, prev_lost;
    double act_base; /* activity: the totals' page views at the start */
    struct curve_point *curve;
    size_t ncurve, capcurve;
};

static double since(const struct sampler *s)
{
    return (double)(ingest_now_ns() - s->t0) / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- CPU ------------------------------------------------------------------------------------ */

/* CPU seconds pid used since the last look (all of them for a pid never seen: a process that
 * started since, as a restarted instance or a new nginx worker). */
static double cpu_delta(struct sampler *s, int pid, struct cpu_seen *next, int *nnext)
{
    if (pid <= 0) {
        return 0;
    }
    double now = proc_cpu_s(pid);
    if (now < 0) {
        return 0;
    }
    double was = -1;
    for (int i = 0; i < s->ncpu; i++) {
        if (s->cpu[i].pid == pid) {
            was = s->cpu[i].cpu;
            break;
        }
    }
    if (*nnext < CPU_PIDS) {
        next[(*nnext)++] = (struct cpu_seen){.pid = pid, .cpu = now};
    }
    return was < 0 ? now : now - was;
}

/* Into the four parts of x; first: only note the values (the baseline). */
static void cpu_sample(struct sampler *s, struct sample *x)
{
    static struct cpu_seen next[CPU_PIDS];
    int nnext = 0;
    x->cpu_client = cpu_delta(s, getpid(), next, &nnext);
    int n = s->wl == WL_FLEET ? s->sys->n_fleet : s->sys->n_activity;
    for (int i = 0; i < n; i++) {
        int pid = s->wl == WL_FLEET ? s->sys->fleet_pid[i] : s->sys->activity_pid[i];
        x->cpu_service += cpu_delta(s, pid, next, &nnext);
    }
    x->cpu_broker = cpu_delta(s, s->sys->broker_pid, next, &nnext);
    x->cpu_gateway = cpu_delta(s, s->sys->gateway_pid, next, &nnext);
    int kids[64];
    int nk = proc_children(s->sys->gateway_pid, kids, 64);
    for (int i = 0; i < nk; i++) {
        x->cpu_gateway += cpu_delta(s, kids[i], next, &nnext);
    }
    memcpy(s->cpu, next, sizeof(next[0]) * (size_t)nnext);
    s->ncpu = nnext;
}

/* ---- the fleet's metrics -------------------------------------------------------------------- */

/* Scrapes instance i into x (deltas since the last scrape). */
static void fleet_instance(struct sampler *s, int i, struct sample *x, struct hist *lat)
{
    struct hconn *c = &s->conn[i];
    struct inst *in = &s->inst[i];
    if (c->port != s->sys->fleet_port[i]) {
        hconn_cleanup(c);
        hconn_init(c, s->sys->fleet_port[i]);
    }
    if (s->sys->fleet_pid[i] != in->pid) {
        in->have = false; /* a new process: its counters start from zero */
        in->pid = s->sys->fleet_pid[i];
    }
    if (hconn_request(c, "GET", "/metrics", NULL, 0, 800) != 0 || c->status != 200) {
        in->have = false;
        return;
    }
    x->fleet_up++;
    struct inst now = {.have = true, .pid = in->pid};
    prom_hist(c->body, c->body_len, FLEET_LATENCY, s->match, &now.lat);
    now.applied = prom_sum(c->body, c->body_len, FLEET_APPLIED, s->match, NULL);
    now.stale = prom_sum(c->body, c->body_len, FLEET_STALE, s->match, NULL);
    now.rejected = prom_sum(c->body, c->body_len, FLEET_REJECTED, s->match, NULL);
    bool found = false;
    double lag = prom_sum(c->body, c->body_len, CONSUMER_LAG, LAG_MATCH, &found);
    x->lag = x->lag < 0 ? 0 : x->lag;
    x->lag += found ? lag : 0;
    struct hist none = {0};
    bool reset = !in->have || now.applied < in->applied || now.stale < in->stale;
    struct hist d;
    hist_delta(&now.lat, reset ? &none : &in->lat, &d);
    hist_add(lat, &d);
    double da = now.applied - (reset ? 0 : in->applied);
    double ds = now.stale - (reset ? 0 : in->stale);
    double dr = now.rejected - (reset ? 0 : in->rejected);
    x->applied += da + ds;
    s->tot.applied += da;
    s->tot.stale += ds;
    s->tot.rejected += dr;
    *in = now;
}

int fleet_scrape(struct system *sys, const char *source, double *lag, double *applied)
{
    char match[64];
    snprintf(match, sizeof(match), "source=\"%s\"", source);
    *lag = 0;
    *applied = 0;
    int rc = 0;
    for (int i = 0; i < sys->n_fleet; i++) {
        struct hconn c;
        hconn_init(&c, sys->fleet_port[i]);
        if (hconn_request(&c, "GET", "/metrics", NULL, 0, 2000) == 0 && c.status == 200) {
            *lag += prom_sum(c.body, c.body_len, CONSUMER_LAG, LAG_MATCH, NULL);
            *applied += prom_sum(c.body, c.body_len, FLEET_APPLIED, match, NULL) +
                        prom_sum(c.body, c.body_len, FLEET_STALE, match, NULL);
        } else {
            *lag = -1;
            rc = TANDEM_EIO;
        }
        hconn_cleanup(&c);
    }
    return rc;
}

/* ---- the activity service's totals ---------------------------------------------------------- */

/* The page views the activity service counted, or -1. */
static double activity_views(struct hconn *gw)
{
    if (hconn_request(gw, "GET", ACTIVITY_TOTALS, NULL, 0, 2000) != 0 || gw->status != 200) {
        return -1;
    }
    json_t *t = json_loads(gw->body, 0, NULL);
    json_t *v = json_object_get(json_object_get(t, "events"), "activity.page_viewed");
    double n = json_is_integer(v) ? (double)json_integer_value(v) : 0;
    json_decref(t);
    return n;
}

static void curve_add(struct sampler *s)
{
    double v = activity_views(&s->gw);
    if (v < 0) {
        return;
    }
    if (s->ncurve == s->capcurve) {
        size_t cap = s->capcurve ? s->capcurve * 2 : 1024;
        struct curve_point *p = realloc(s->curve, cap * sizeof(*p));
        if (p == NULL) {
            return;
        }
        s->curve = p;
        s->capcurve = cap;
    }
    s->curve[s->ncurve++] = (struct curve_point){
        .t = since(s),
        .a = (double)atomic_load_explicit(&s->st->acked, memory_order_relaxed),
        .v = v - s->act_base,
    };
}

/* the first bound is the read period: a beacon counted by the read that followed its answer */
static const double ACT_LE[] = {
    ACT_TICK_MS / 1000.0, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, INFINITY};

/* The visible latency of the beacons from the two curves (see the top of the file). */
static void curve_latency(const struct sampler *s, struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->n = (int)(sizeof(ACT_LE) / sizeof(ACT_LE[0]));
    memcpy(h->le, ACT_LE, sizeof(ACT_LE));
    size_t ia = 0;
    double done = 0; /* beacons placed */
    for (size_t j = 0; j < s->ncurve; j++) {
        double visible = s->curve[j].v;
        while (done < visible) {
            while (ia < s->ncurve && s->curve[ia].a <= done) {
                ia++; /* the first tick whose A covers beacon done + 1 */
            }
            if (ia >= s->ncurve) {
                return;
            }
            double upto = visible < s->curve[ia].a ? visible : s->curve[ia].a;
            double lat = s->curve[j].t - s->curve[ia].t;
            lat = lat < 0 ? 0 : lat;
            for (int b = 0; b < h->n; b++) {
                if (lat <= h->le[b]) {
                    for (int c = b; c < h->n; c++) {
                        h->count[c] += upto - done;
                    }
                    break;
                }
            }
            h->sum += lat * (upto - done);
            done = upto;
        }
    }
}

/* ---- one sample ----------------------------------------------------------------------------- */

static double take(_Atomic uint64_t *v, double *prev)
{
    double now = (double)atomic_load_explicit(v, memory_order_relaxed);
    double d = now - *prev;
    *prev = now;
    return d;
}

static void sample_take(struct sampler *s, bool record)
{
    struct sample x = {.lag = -1, .glag = -1, .p50 = NAN, .p99 = NAN, .p999 = NAN};
    if (s->glag != NULL) {
        group_lag_read(s->glag, &x.glag);
    }
    struct hist lat = {0};
    pthread_mutex_lock(&s->lock);
    if (s->wl == WL_FLEET) {
        for (int i = 0; i < s->sys->n_fleet; i++) {
            fleet_instance(s, i, &x, &lat);
        }
    }
    cpu_sample(s, &x);
    pthread_mutex_unlock(&s->lock);
    double b = 0, segs = 0, lb = 0, lp = 0;
    if (s->wire != NULL) {
        wire_meter_read(s->wire, &b, &segs);
    }
    lo_counters(&lb, &lp);
    x.t = since(s);
    x.sent = take(&s->st->sent, &s->prev_sent);
    x.acked = take(&s->st->acked, &s->prev_acked);
    x.failed = take(&s->st->failed, &s->prev_failed);
    x.retried = take(&s->st->retried, &s->prev_retried);
    x.lost = take(&s->st->lost, &s->prev_lost);
    x.backlog = (double)atomic_load_explicit(&s->st->backlog, memory_order_relaxed);
    x.wire_bytes = b;
    x.wire_segs = segs;
    x.lo_bytes = lb - s->lo_b;
    if (!record) {
        s->lo_b = lb;
        s->lo_p = lp;
        return; /* the baseline */
    }
    if (s->wl == WL_ACTIVITY && s->ncurve > 0) {
        x.applied = s->curve[s->ncurve - 1].v - s->tot.applied;
        s->tot.applied = s->curve[s->ncurve - 1].v;
    }
    if (hist_total(&lat) > 0) {
        x.p50 = hist_quantile(&lat, 0.50) * 1e3;
        x.p99 = hist_quantile(&lat, 0.99) * 1e3;
        x.p999 = hist_quantile(&lat, 0.999) * 1e3;
        hist_add(&s->tot.latency, &lat);
    }
    struct totals *t = &s->tot;
    t->cpu_client += x.cpu_client;
    t->cpu_service += x.cpu_service;
    t->cpu_broker += x.cpu_broker;
    t->cpu_gateway += x.cpu_gateway;
    t->wire_bytes += x.wire_bytes;
    t->wire_segs += x.wire_segs;
    t->lo_bytes += lb - s->lo_b;
    t->lo_packets += lp - s->lo_p;
    s->lo_b = lb;
    s->lo_p = lp;
    t->lag_peak = x.lag > t->lag_peak ? x.lag : t->lag_peak;
    t->glag_peak = x.glag > t->glag_peak ? x.glag : t->glag_peak;
    if (s->series.n == s->series.cap) {
        size_t cap = s->series.cap ? s->series.cap * 2 : 256;
        struct sample *p = realloc(s->series.s, cap * sizeof(*p));
        if (p == NULL) {
            return;
        }
        s->series.s = p;
        s->series.cap = cap;
    }
    s->series.s[s->series.n++] = x;
    if (s->progress) {
        double dt = s->series.n > 1 ? x.t - s->series.s[s->series.n - 2].t : x.t;
        dt = dt > 0 ? dt : 1;
        fprintf(stderr,
                "%s[%-10s] %5.1fs  sent %9.0f/s  applied %9.0f/s  p99 %7.1f ms  lag %8.0f  "
                "backlog %8.0f  failed %6.0f  lost %6.0f  up %d%s",
                s->tty ? "\r" : "", s->mode_name, x.t, x.sent / dt, x.applied / dt, x.p99,
                x.glag >= 0 ? x.glag : x.lag, x.backlog, x.failed, x.lost, x.fleet_up,
                s->tty ? "\033[K" : "\n");
        fflush(stderr);
    }
}

/* ---- the threads ---------------------------------------------------------------------------- */

static void *sampler_main(void *arg)
{
    struct sampler *s = arg;
    uint64_t tick = (uint64_t)s->interval_ms * 1000000ull;
    uint64_t next = s->t0 + tick;
    while (!atomic_load(&s->stop)) {
        if (s->wl == WL_ACTIVITY) {
            curve_add(s);
        }
        uint64_t now = ingest_now_ns();
        if (now >= next) {
            sample_take(s, true);
            next += tick;
            continue;
        }
        uint64_t wait = next - now;
        int ms = (int)(wait / 1000000) + 1;
        sleep_ms(s->wl == WL_ACTIVITY && ms > ACT_TICK_MS ? ACT_TICK_MS : ms > 50 ? 50 : ms);
    }
    if (s->wl == WL_ACTIVITY) {
        curve_add(s);
    }
    sample_take(s, true);
    if (s->progress && s->tty) {
        fputc('\n', stderr);
    }
    return NULL;
}

static void *outage_main(void *arg)
{
    struct sampler *s = arg;
    struct outage *o = s->outage;
    const char *svc = s->wl == WL_FLEET ? "fleet" : "activity";
    while (since(s) < o->at_s && !atomic_load(&s->stop)) {
        sleep_ms(10);
    }
    if (atomic_load(&s->stop)) {
        return NULL;
    }
    const char *stop_args[] = {"stop", svc, NULL};
    const char *start_args[] = {"start", svc, NULL};
    o->stop_begin = since(s);
    o->stop_rc = system_tandem(s->sys, stop_args);
    o->stop_end = since(s);
    while (since(s) < o->stop_end + o->length_s) {
        sleep_ms(10);
    }
    o->start_begin = since(s);
    o->start_rc = system_tandem(s->sys, start_args);
    o->start_end = since(s);
    pthread_mutex_lock(&s->lock);
    system_read(s->sys);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int sampler_start(struct system *sys, enum workload wl, const char *source, struct sender_stats *st,
                  const char *mode_name, int interval_ms, bool progress, struct outage *outage,
                  struct sampler **out)
{
    struct sampler *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TANDEM_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->sys = sys;
    s->wl = wl;
    snprintf(s->match, sizeof(s->match), "source=\"%s\"", source);
    s->st = st;
    s->mode_name = mode_name;
    s->interval_ms = interval_ms;
    s->progress = progress;
    s->tty = isatty(2);
    s->outage = outage;
    s->tot.lag_peak = -1;
    s->tot.glag_peak = -1;
    if (wl == WL_FLEET) {
        char brokers[32];
        snprintf(brokers, sizeof(brokers), "127.0.0.1:%u", (unsigned)sys->broker);
        if (group_lag_new(brokers, FLEET_GROUP, &s->glag) != 0) {
            s->glag = NULL; /* said on stderr; the fleet's own lag metric stays */
        }
    }
    for (int i = 0; i < MAX_INSTANCES; i++) {
        hconn_init(&s->conn[i], 0);
    }
    hconn_init(&s->gw, sys->gateway);
    if (wire_meter_new(&s->wire) == 0) {
        uint16_t ports[4 * MAX_INSTANCES];
        int n = 0;
        ports[n++] = sys->gateway;
        ports[n++] = sys->broker;
        for (int i = 0; i < sys->n_fleet; i++) {
            ports[n++] = sys->fleet_port[i];
        }
        for (int i = 0; i < sys->n_activity; i++) {
            ports[n++] = sys->activity_port[i];
        }
        wire_meter_ports(s->wire, ports, n);
    } else {
        fprintf(stderr, "tandem-ingest: cannot read the sockets' counters (inet_diag): no bytes "
                        "on the wire\n");
        s->wire = NULL;
    }
    if (wl == WL_ACTIVITY) {
        s->act_base = activity_views(&s->gw);
        s->act_base = s->act_base < 0 ? 0 : s->act_base;
    }
    s->t0 = ingest_now_ns();
    sample_take(s, false); /* the baselines: CPU, wire, lo, the fleet's counters */
    s->tot.applied = s->tot.stale = s->tot.rejected = 0;
    memset(&s->tot.latency, 0, sizeof(s->tot.latency));
    s->t0 = ingest_now_ns();
    if (outage != NULL && outage->length_s > 0) {
        outage->stop_begin = outage->stop_end = outage->start_begin = outage->start_end = -1;
        s->outage_running = pthread_create(&s->outage_thread, NULL, outage_main, s) == 0;
    }
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        free(s);
        return TANDEM_EIO;
    }
    *out = s;
    return 0;
}

void sampler_outage_join(struct sampler *s)
{
    if (s->outage_running) {
        pthread_join(s->outage_thread, NULL);
        s->outage_running = false;
    }
}

void sampler_stop(struct sampler *s, struct series *series, struct totals *totals)
{
    sampler_outage_join(s); /* the outage ends before the mode does */
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    if (s->wl == WL_ACTIVITY) {
        curve_latency(s, &s->tot.latency);
    }
    *series = s->series;
    *totals = s->tot;
    for (int i = 0; i < MAX_INSTANCES; i++) {
        hconn_cleanup(&s->conn[i]);
    }
    hconn_cleanup(&s->gw);
    wire_meter_free(s->wire);
    group_lag_free(s->glag);
    free(s->curve);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
