/*
 * tandem-ingest: `tandem bench ingest`, the same fleet-tracking workload sent over REST and over
 * events into the running system, measured side by side (docs/benchmarks.md, "Fleet tracking at
 * volume"; the map of the files is in ingest.h).
 *
 *   tandem [-f FILE] bench ingest --vehicles N --rate R --duration S
 *                                 --mode rest|rest-batch|events|all[,...] [options]
 *
 * `tandem bench ingest ...` execs this program (build/bin/tandem-ingest beside build/bin/tandem)
 * with --tandem (the command's own path) and -f (the manifest), so the bench can run `tandem ps`,
 * `tandem stop` and `tandem start` against the same system; src/cli stays a supervisor.
 *
 * Each mode runs in turn against the same system: a fresh ledger and counters, the sampler
 * started, the sender run for the send window and its drain, then the wait until the fleet has
 * applied what was sent (events: every instance's consumer lag 0 twice in a row and the applied
 * count still; REST is applied when answered), then the final state read back and compared with
 * the ledger. Exit code: 0 when every mode ran and its check passed (no update the transport
 * acknowledged is missing from the final state; with events no update lost at all), 1 when a
 * check failed, 2 for a usage error or a system that could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest_io.h"
#include "report.h"
#include "tandem/error.h"

const char *const mode_names[M_COUNT] = {
    [M_REST] = "rest",
    [M_REST_BATCH] = "rest-batch",
    [M_EVENTS] = "events",
    [M_REST_DIRECT] = "rest-direct",
    [M_REST_BATCH_DIRECT] = "rest-batch-direct",
    [M_EVENTS_BATCH] = "events-batch",
};

/* The fleet's metric label of each mode (the direct modes are REST to the fleet alike). */
static const char *const SOURCES[M_COUNT] = {
    [M_REST] = "rest",        [M_REST_BATCH] = "rest-batch",        [M_EVENTS] = "events",
    [M_REST_DIRECT] = "rest", [M_REST_BATCH_DIRECT] = "rest-batch", [M_EVENTS_BATCH] = "events",
};

static const char USAGE[] =
    "usage: tandem [-f FILE] bench ingest [options]\n"
    "  --vehicles N        vehicles driving the city grid (default 10000)\n"
    "  --rate R            updates per second, all vehicles together (default 10000; each\n"
    "                      vehicle reports every N/R s, at most 1000 times a second)\n"
    "  --duration S        seconds each mode sends (default 10)\n"
    "  --mode M[,M...]     rest, rest-batch, events, all (= rest,rest-batch,events), and\n"
    "                      rest-direct, rest-batch-direct (to the instances, not the gateway);\n"
    "                      activity: rest, rest-batch, events, events-batch, all (default all)\n"
    "  --workload W        fleet (positions) or activity (page-view beacons) (default fleet)\n"
    "  --outage S          stop the service for S seconds in each mode (tandem stop/start)\n"
    "  --outage-at T       ...T seconds into the mode (default: a third of --duration)\n"
    "  --json FILE         the raw results\n"
    "  --svg FILE          the chart: updates/s and visible latency over time\n"
    "  --connections C     REST: keep-alive connections (default 64)\n"
    "  --batch B           rest-batch: updates a request (default 1000 fleet, 50 activity)\n"
    "  --linger MS         events and rest-batch: how long a batch waits to fill (default 5)\n"
    "  --drain S           after the window, at most S seconds to send what waits (default 10)\n"
    "  --settle S          then at most S seconds for the fleet to apply it (default 30)\n"
    "  --retry-for S       REST: retry an update until S s after its first try (default 30)\n"
    "  --backlog N         REST: updates the client holds at most (default 2000000)\n"
    "  --timeout MS        REST: per request (default 5000)\n"
    "  --verify all|N|none read back all vehicles' final state, or N of them (default: all up\n"
    "                      to 10000, else 10000)\n"
    "  --headers           events: a content-type header on every record (the fleet needs\n"
    "                      none: docs/fleet.md; this measures what one costs)\n"
    "  --seed N            the simulator's seed (default 1)\n"
    "  --quiet             no progress line\n";

struct opts {
    struct system sys;
    enum workload wl;
    uint64_t vehicles;
    double rate, duration, outage, outage_at, drain, settle, retry_for;
    int conns, batch, linger, timeout_ms;
    uint64_t backlog, verify, seed;
    bool headers, quiet;
    enum mode modes[M_COUNT];
    int nmodes;
    const char *json, *svg;
    char command[2048];
};

static int usage(const char *why, const char *arg)
{
    fprintf(stderr, "tandem bench ingest: ");
    fprintf(stderr, why, arg);
    fprintf(stderr, "\n%s", USAGE);
    return 2;
}

static bool num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        return false;
    }
    *out = v;
    return true;
}

static int add_mode(struct opts *o, const char *name)
{
    if (strcmp(name, "all") == 0) {
        enum mode fleet[] = {M_REST, M_REST_BATCH, M_EVENTS};
        enum mode act[] = {M_REST, M_REST_BATCH, M_EVENTS, M_EVENTS_BATCH};
        int n = o->wl == WL_FLEET ? 3 : 4;
        for (int i = 0; i < n; i++) {
            int rc = add_mode(o, mode_names[o->wl == WL_FLEET ? fleet[i] : act[i]]);
            if (rc != 0) {
                return rc;
            }
        }
        return 0;
    }
    for (int m = 0; m < M_COUNT; m++) {
        if (strcmp(name, mode_names[m]) != 0) {
            continue;
        }
        bool fits = o->wl == WL_FLEET ? m != M_EVENTS_BATCH
                                      : m != M_REST_DIRECT && m != M_REST_BATCH_DIRECT;
        if (!fits || o->nmodes == M_COUNT) {
            return -1;
        }
        o->modes[o->nmodes++] = (enum mode)m;
        return 0;
    }
    return -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    enum {
        O_VEH = 256,
        O_RATE,
        O_DUR,
        O_MODE,
        O_WL,
        O_OUT,
        O_OUTAT,
        O_JSON,
        O_SVG,
        O_CONNS,
        O_BATCH,
        O_LINGER,
        O_DRAIN,
        O_SETTLE,
        O_RETRY,
        O_BACKLOG,
        O_TIMEOUT,
        O_VERIFY,
        O_NOHDR,
        O_SEED,
        O_QUIET,
        O_TANDEM
    };
    static const struct option LONG[] = {{"vehicles", 1, 0, O_VEH},
                                         {"rate", 1, 0, O_RATE},
                                         {"duration", 1, 0, O_DUR},
                                         {"mode", 1, 0, O_MODE},
                                         {"workload", 1, 0, O_WL},
                                         {"outage", 1, 0, O_OUT},
                                         {"outage-at", 1, 0, O_OUTAT},
                                         {"json", 1, 0, O_JSON},
                                         {"svg", 1, 0, O_SVG},
                                         {"connections", 1, 0, O_CONNS},
                                         {"batch", 1, 0, O_BATCH},
                                         {"linger", 1, 0, O_LINGER},
                                         {"drain", 1, 0, O_DRAIN},
                                         {"settle", 1, 0, O_SETTLE},
                                         {"retry-for", 1, 0, O_RETRY},
                                         {"backlog", 1, 0, O_BACKLOG},
                                         {"timeout", 1, 0, O_TIMEOUT},
                                         {"verify", 1, 0, O_VERIFY},
                                         {"headers", 0, 0, O_NOHDR},
                                         {"seed", 1, 0, O_SEED},
                                         {"quiet", 0, 0, O_QUIET},
                                         {"tandem", 1, 0, O_TANDEM},
                                         {"file", 1, 0, 'f'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *modes = "all";
    o->wl = WL_FLEET;
    o->vehicles = 10000;
    o->rate = 10000;
    o->duration = 10;
    o->outage_at = -1;
    o->drain = 10;
    o->settle = 30;
    o->retry_for = 30;
    o->conns = 64;
    o->batch = 0;
    o->linger = 5;
    o->timeout_ms = 5000;
    o->backlog = 2000000;
    o->verify = 10000;
    o->seed = 1;
    o->headers = false;
    snprintf(o->sys.tandem, sizeof(o->sys.tandem), "tandem");
    snprintf(o->sys.manifest, sizeof(o->sys.manifest), "tandem.yaml");
    size_t at = 0;
    for (int i = 0; i < argc && at < sizeof(o->command) - 1; i++) {
        at += (size_t)snprintf(o->command + at, sizeof(o->command) - at, "%s%s", i ? " " : "",
                               argv[i]);
    }
    int c;
    double v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:h", LONG, NULL)) != -1) {
        switch (c) {
        case O_VEH:
            if (!num(optarg, 1, 1e8, &v)) {
                return usage("--vehicles: expected 1..100000000, found '%s'", optarg);
            }
            o->vehicles = (uint64_t)v;
            break;
        case O_RATE:
            if (!num(optarg, 1, 1e8, &o->rate)) {
                return usage("--rate: expected 1..100000000 updates/s, found '%s'", optarg);
            }
            break;
        case O_DUR:
            if (!num(optarg, 0.5, 86400, &o->duration)) {
                return usage("--duration: expected 0.5..86400 s, found '%s'", optarg);
            }
            break;
        case O_MODE:
            modes = optarg;
            break;
        case O_WL:
            if (strcmp(optarg, "fleet") != 0 && strcmp(optarg, "activity") != 0) {
                return usage("--workload: expected fleet or activity, found '%s'", optarg);
            }
            o->wl = strcmp(optarg, "fleet") == 0 ? WL_FLEET : WL_ACTIVITY;
            break;
        case O_OUT:
            if (!num(optarg, 0, 3600, &o->outage)) {
                return usage("--outage: expected 0..3600 s, found '%s'", optarg);
            }
            break;
        case O_OUTAT:
            if (!num(optarg, 0, 86400, &o->outage_at)) {
                return usage("--outage-at: expected seconds, found '%s'", optarg);
            }
            break;
        case O_JSON:
            o->json = optarg;
            break;
        case O_SVG:
            o->svg = optarg;
            break;
        case O_CONNS:
            if (!num(optarg, 1, 10000, &v)) {
                return usage("--connections: expected 1..10000, found '%s'", optarg);
            }
            o->conns = (int)v;
            break;
        case O_BATCH:
            if (!num(optarg, 1, FLEET_BATCH_MAX, &v)) {
                return usage("--batch: expected 1..1000, found '%s'", optarg);
            }
            o->batch = (int)v;
            break;
        case O_LINGER:
            if (!num(optarg, 0, 1000, &v)) {
                return usage("--linger: expected 0..1000 ms, found '%s'", optarg);
            }
            o->linger = (int)v;
            break;
        case O_DRAIN:
            if (!num(optarg, 0, 3600, &o->drain)) {
                return usage("--drain: expected 0..3600 s, found '%s'", optarg);
            }
            break;
        case O_SETTLE:
            if (!num(optarg, 0, 3600, &o->settle)) {
                return usage("--settle: expected 0..3600 s, found '%s'", optarg);
            }
            break;
        case O_RETRY:
            if (!num(optarg, 0, 86400, &o->retry_for)) {
                return usage("--retry-for: expected 0..86400 s, found '%s'", optarg);
            }
            break;
        case O_BACKLOG:
            if (!num(optarg, 1, 1e9, &v)) {
                return usage("--backlog: expected 1..1000000000, found '%s'", optarg);
            }
            o->backlog = (uint64_t)v;
            break;
        case O_TIMEOUT:
            if (!num(optarg, 1, 600000, &v)) {
                return usage("--timeout: expected 1..600000 ms, found '%s'", optarg);
            }
            o->timeout_ms = (int)v;
            break;
        case O_VERIFY:
            if (strcmp(optarg, "all") == 0) {
                o->verify = UINT64_MAX;
            } else if (strcmp(optarg, "none") == 0) {
                o->verify = 0;
            } else if (num(optarg, 1, 1e9, &v)) {
                o->verify = (uint64_t)v;
            } else {
                return usage("--verify: expected all, none or a count, found '%s'", optarg);
            }
            break;
        case O_NOHDR:
            o->headers = true;
            break;
        case O_SEED:
            if (!num(optarg, 0, 1e15, &v)) {
                return usage("--seed: expected a number, found '%s'", optarg);
            }
            o->seed = (uint64_t)v;
            break;
        case O_QUIET:
            o->quiet = true;
            break;
        case O_TANDEM:
            snprintf(o->sys.tandem, sizeof(o->sys.tandem), "%s", optarg);
            break;
        case 'f':
            snprintf(o->sys.manifest, sizeof(o->sys.manifest), "%s", optarg);
            break;
        case 'h':
            fputs(USAGE, stdout);
            exit(0);
        default:
            return usage("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        return usage("unexpected '%s'", argv[optind]);
    }
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", modes);
    char *save = NULL;
    for (char *m = strtok_r(copy, ",", &save); m != NULL; m = strtok_r(NULL, ",", &save)) {
        if (add_mode(o, m) != 0) {
            return usage("--mode: unknown (or not of this workload) '%s'", m);
        }
    }
    if (o->nmodes == 0) {
        return usage("--mode: none given%s", "");
    }
    if (o->rate / (double)o->vehicles > 1000) {
        return usage("--rate: more than 1000 updates a second per vehicle (%s)",
                     "raise --vehicles");
    }
    if (o->batch == 0) {
        o->batch = o->wl == WL_FLEET ? FLEET_BATCH_MAX : ACTIVITY_BATCH_MAX;
    }
    if (o->wl == WL_ACTIVITY && o->batch > ACTIVITY_BATCH_MAX) {
        return usage("--batch: at most 50 beacons a request (%s)", "the activity service's");
    }
    if (o->outage_at < 0) {
        o->outage_at = o->duration / 3;
    }
    if (o->outage > 0 && o->outage_at >= o->duration) {
        return usage("--outage-at: must fall within --duration (%s)", "the send window");
    }
    return 0;
}

/* ---- waiting for the service to apply what was sent ---------------------------------------- */

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Events: until every instance answers with lag 0 twice, 1.1 s apart, and the applied count no
 * longer moves; at most settle_s. Returns whether it settled, and says on stderr what the last
 * scrape showed when it did not. Called once the outage is over: sys no longer changes. */
static bool settle_events(struct system *sys, const char *source, double settle_s)
{
    uint64_t end = ingest_now_ns() + (uint64_t)(settle_s * 1e9);
    int zeros = 0;
    double lag = -1, applied = -1, last_applied = -1;
    while (ingest_now_ns() < end) {
        if (fleet_scrape(sys, source, &lag, &applied) == 0 && lag == 0 && applied == last_applied) {
            if (++zeros >= 2) {
                return true;
            }
        } else {
            zeros = 0;
        }
        last_applied = applied;
        sleep_s(1.1);
    }
    fprintf(stderr,
            "tandem bench ingest: events: the fleet did not settle within %.0f s; last scrape: "
            "lag %.0f (-1: an instance did not answer), applied+stale %.0f\n",
            settle_s, lag, applied);
    return false;
}

/* Activity: until the totals count as many page views as were accepted since base. */
static bool settle_activity(struct system *sys, double base, double expected, double settle_s,
                            double *seen)
{
    struct hconn gw;
    hconn_init(&gw, sys->gateway);
    uint64_t end = ingest_now_ns() + (uint64_t)(settle_s * 1e9);
    bool ok = false;
    do {
        if (hconn_request(&gw, "GET", ACTIVITY_TOTALS, NULL, 0, 2000) == 0 && gw.status == 200) {
            json_t *t = json_loads(gw.body, 0, NULL);
            json_t *v = json_object_get(json_object_get(t, "events"), "activity.page_viewed");
            *seen = (json_is_integer(v) ? (double)json_integer_value(v) : 0) - base;
            json_decref(t);
            ok = *seen >= expected;
        }
        if (!ok) {
            sleep_s(0.05);
        }
    } while (!ok && ingest_now_ns() < end);
    hconn_cleanup(&gw);
    return ok;
}

static double activity_count(struct system *sys)
{
    double seen = 0;
    settle_activity(sys, 0, INFINITY, 0, &seen);
    return seen;
}

/*
 * The fleet takes REST positions only for the partitions its instances hold (503 otherwise:
 * docs/fleet.md), and holds none before the topic exists: the topic is made sure of, then
 * vehicles 1..64 (all the partitions, but with odds of 1 in 10^7 for 4 partitions) are read
 * through the gateway until none answers 503, for at most timeout_s. Returns whether it is ready.
 */
static bool fleet_ready(struct system *sys, double timeout_s)
{
    char brokers[32];
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%u", (unsigned)sys->broker);
    int partitions = 0;
    if (events_topic_ensure(brokers, (int)(timeout_s * 1000), &partitions) != 0) {
        fprintf(stderr, "tandem bench ingest: the topic " FLEET_TOPIC " does not exist and the "
                        "broker did not create it\n");
        return false;
    }
    struct hconn gw;
    hconn_init(&gw, sys->gateway);
    uint64_t end = ingest_now_ns() + (uint64_t)(timeout_s * 1e9);
    bool ready = false;
    while (!ready && ingest_now_ns() < end) {
        ready = true;
        for (int id = 1; ready && id <= 64; id++) {
            char path[64];
            snprintf(path, sizeof(path), FLEET_VEHICLE "%d", id);
            ready = hconn_request(&gw, "GET", path, NULL, 0, 2000) == 0 &&
                    (gw.status == 200 || gw.status == 404);
        }
        if (!ready) {
            sleep_s(0.2);
        }
    }
    hconn_cleanup(&gw);
    if (!ready) {
        fprintf(stderr,
                "tandem bench ingest: the fleet still answers 503 (no instance holds "
                "the partitions of %d) after %.0f s\n",
                partitions, timeout_s);
    }
    return ready;
}

/* ---- the final state ------------------------------------------------------------------------ */

/*
 * Reads vehicle index i and classifies it against the ledger. since_ms: the mode's start (unix
 * ms): a state older than that is a previous mode's, as good as none for this one.
 */
static void verify_one(struct hconn *gw, const struct ledger *l, uint64_t id_base, uint64_t i,
                       int64_t since_ms, struct verify *v)
{
    const struct ledger_entry *e = &l->v[i];
    if (e->made_ts == 0) {
        v->skipped++;
        return;
    }
    v->checked++;
    bool last_unknown = e->unknown_ts >= e->made_ts;
    v->last_unknown += last_unknown;
    v->lost_last += !last_unknown && e->ok.ts < e->made_ts;
    char path[96];
    snprintf(path, sizeof(path), FLEET_VEHICLE "%llu", (unsigned long long)(id_base + i));
    int rc = hconn_request(gw, "GET", path, NULL, 0, 5000);
    if (rc != 0 || (gw->status != 200 && gw->status != 404)) {
        v->missing++; /* unreadable */
        return;
    }
    int64_t ts = 0;
    int32_t lat = 0, lon = 0;
    if (gw->status == 200) {
        json_t *doc = json_loads(gw->body, 0, NULL);
        json_t *o = json_object_get(doc, "vehicle");
        o = o != NULL ? o : doc;
        ts = json_integer_value(json_object_get(o, "ts"));
        lat = (int32_t)llround(json_number_value(json_object_get(o, "lat")) * 1e7);
        lon = (int32_t)llround(json_number_value(json_object_get(o, "lon")) * 1e7);
        json_decref(doc);
    }
    ts = ts < since_ms ? 0 : ts; /* a previous mode's (or none) */
    v->behind_made += !last_unknown && ts < e->made_ts;
    if (ts == e->ok.ts) {
        if (ts == 0 || (lat == e->ok.lat && lon == e->ok.lon)) {
            v->match++;
        } else {
            v->differ++;
        }
    } else if (ts == 0) {
        v->missing++; /* acknowledged, yet the fleet has nothing of this mode */
    } else if (ts < e->ok.ts) {
        v->behind++;
    } else if (ts <= e->unknown_ts) {
        v->newer_unknown++;
    } else {
        v->ahead++;
    }
}

static void verify_fleet(struct system *sys, const struct ledger *l, uint64_t id_base,
                         uint64_t want, int64_t since_ms, struct verify *v)
{
    memset(v, 0, sizeof(*v));
    if (want == 0) {
        return;
    }
    v->done = true;
    struct hconn gw;
    hconn_init(&gw, sys->gateway);
    uint64_t n = l->n, step = want >= n ? 1 : n / want;
    for (uint64_t i = 0; i < n; i += step) {
        verify_one(&gw, l, id_base, i, since_ms, v);
    }
    hconn_cleanup(&gw);
}

static bool verify_ok(const struct result *r, enum workload wl)
{
    const struct verify *v = &r->v;
    if (wl == WL_ACTIVITY) {
        return !v->done || v->seen == v->expected;
    }
    bool state_ok = !v->done || (v->behind == 0 && v->ahead == 0 && v->differ == 0 &&
                                 v->missing == 0 && v->lost_last == v->behind_made);
    bool events_ok = r->mode != M_EVENTS || (r->lost == 0 && r->left == 0);
    return state_ok && events_ok && r->settled;
}

/* ---- one mode ------------------------------------------------------------------------------- */

static int run_mode(struct opts *o, struct sim *sim, struct ledger *ledger, enum mode m,
                    struct result *r)
{
    memset(r, 0, sizeof(*r));
    memset(ledger->v, 0, ledger->n * sizeof(*ledger->v));
    r->mode = m;
    r->name = mode_names[m];
    r->source = SOURCES[m];
    r->coarse = o->wl == WL_ACTIVITY; /* read every 50 ms: sampler.c */
    r->window_s = o->duration;
    bool events = o->wl == WL_FLEET && m == M_EVENTS;
    r->path = events ? FLEET_TOPIC : rest_path(o->wl, m);
    struct sender_stats *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return TANDEM_ENOMEM;
    }
    uint16_t direct[MAX_INSTANCES];
    for (int i = 0; i < o->sys.n_fleet; i++) {
        direct[i] = o->sys.fleet_port[i];
    }
    char brokers[32];
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%u", (unsigned)o->sys.broker);
    bool is_direct = m == M_REST_DIRECT || m == M_REST_BATCH_DIRECT;
    bool batch = m == M_REST_BATCH || m == M_REST_BATCH_DIRECT || m == M_EVENTS_BATCH;
    struct run_config rc = {
        .workload = o->wl,
        .mode = m,
        .sim = sim,
        .ledger = ledger,
        .st = st,
        .duration_s = o->duration,
        .drain_s = o->drain,
        .brokers = brokers,
        .linger_ms = o->linger,
        .headers = o->headers,
        .ports = is_direct ? direct : &o->sys.gateway,
        .nports = is_direct ? o->sys.n_fleet : 1,
        .conns = o->conns,
        .batch = batch ? o->batch : 1,
        .retry_for_s = o->retry_for,
        .backlog_max = o->backlog,
        .timeout_ms = o->timeout_ms,
    };
    r->had_outage = o->outage > 0;
    r->outage = (struct outage){.at_s = o->outage_at, .length_s = o->outage};
    double act_base = o->wl == WL_ACTIVITY ? activity_count(&o->sys) : 0;
    struct sampler *s = NULL;
    int rc_ = sampler_start(&o->sys, o->wl, r->source, st, r->name, 1000, !o->quiet,
                            r->had_outage ? &r->outage : NULL, &s);
    if (rc_ != 0) {
        free(st);
        return rc_;
    }
    uint64_t t0 = ingest_now_ns();
    int64_t since_ms = ingest_unix_ns() / 1000000;
    rc_ = events ? events_run(&rc) : rest_run(&rc);
    sampler_outage_join(s); /* the service is back (and sys re-read) before the wait */
    if (events) {
        r->settled = settle_events(&o->sys, r->source, o->settle);
    } else if (o->wl == WL_ACTIVITY) {
        r->v.done = true;
        r->v.expected = (double)atomic_load(&st->acked);
        r->settled = settle_activity(&o->sys, act_base, r->v.expected, o->settle, &r->v.seen);
    } else {
        r->settled = true; /* applied when answered */
    }
    r->settled_s = (double)(ingest_now_ns() - t0) / 1e9;
    sampler_stop(s, &r->series, &r->tot);
    r->generated = atomic_load(&st->generated);
    r->sent = atomic_load(&st->sent);
    r->acked = atomic_load(&st->acked);
    r->requests = atomic_load(&st->requests);
    r->failed = atomic_load(&st->failed);
    r->retried = atomic_load(&st->retried);
    r->lost = atomic_load(&st->lost);
    r->rejected = atomic_load(&st->rejected);
    r->dropped = atomic_load(&st->dropped);
    r->left = atomic_load(&st->left);
    r->unknown = atomic_load(&st->unknown);
    r->backlog_max = atomic_load(&st->backlog_max);
    r->stalls = atomic_load(&st->stalls);
    r->answer_p50 = lat_quantile(&st->answer, 0.50);
    r->answer_p99 = lat_quantile(&st->answer, 0.99);
    free(st);
    if (rc_ != 0) {
        return rc_;
    }
    /* catch-up after an outage: from the start's return until the group's lag at the broker is
     * back to its level before the stop (the fleet's own metric at 0 when the broker's is not
     * known) */
    r->catchup_s = NAN;
    if (events && r->had_outage && r->outage.start_end >= 0) {
        double normal = 0;
        for (size_t i = 0; i < r->series.n && r->series.s[i].t < r->outage.stop_begin; i++) {
            normal = r->series.s[i].glag > normal ? r->series.s[i].glag : normal;
        }
        for (size_t i = 0; i < r->series.n; i++) {
            const struct sample *x = &r->series.s[i];
            bool back = x->glag >= 0 ? x->glag <= normal : x->lag == 0;
            if (x->t > r->outage.start_end && back && x->fleet_up == o->sys.n_fleet) {
                r->catchup_s = x->t - r->outage.start_end;
                break;
            }
        }
    }
    if (o->wl == WL_FLEET) {
        uint64_t want = o->verify == UINT64_MAX ? ledger->n : o->verify;
        verify_fleet(&o->sys, ledger, 1, want, since_ms, &r->v);
    }
    report_derive(r);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return 2;
    }
    int rc = parse(argc, argv, o);
    if (rc != 0) {
        free(o);
        return rc;
    }
    if (system_read(&o->sys) != 0) {
        free(o);
        return 2;
    }
    int need = o->wl == WL_FLEET ? o->sys.n_fleet : o->sys.n_activity;
    if (o->sys.gateway == 0 || need == 0 || (o->wl == WL_FLEET && o->sys.broker == 0)) {
        fprintf(stderr,
                "tandem bench ingest: the system of %s has no %s (it needs the gateway%s "
                "and the %s service)\n",
                o->sys.manifest, need == 0 ? (o->wl == WL_FLEET ? "fleet" : "activity") : "gateway",
                o->wl == WL_FLEET ? ", the broker" : "", o->wl == WL_FLEET ? "fleet" : "activity");
        free(o);
        return 2;
    }
    struct sim_config sc = {.vehicles = o->vehicles,
                            .rate = o->rate,
                            .id_base = 1,
                            .seed = o->seed,
                            .lat0 = 48.8156,
                            .lon0 = 2.2241};
    struct sim *sim = NULL;
    struct ledger ledger = {0};
    struct result *res = calloc((size_t)o->nmodes, sizeof(*res));
    if (res == NULL || sim_new(&sc, &sim) != 0 || ledger_init(&ledger, o->vehicles) != 0) {
        fprintf(stderr, "tandem bench ingest: out of memory for %llu vehicles\n",
                (unsigned long long)o->vehicles);
        return 2;
    }
    struct report_config cfg = {
        .workload = o->wl,
        .vehicles = o->vehicles,
        .rate = o->rate,
        .duration_s = o->duration,
        .conns = o->conns,
        .batch = o->batch,
        .linger_ms = o->linger,
        .outage_s = o->outage,
        .outage_at_s = o->outage_at,
        .command = o->command,
    };
    int done = 0;
    bool all_ok = true;
    if (o->wl == WL_FLEET && !fleet_ready(&o->sys, 30)) {
        all_ok = false; /* the modes run all the same: their table shows what the fleet did */
    }
    for (int i = 0; i < o->nmodes; i++) {
        if (i > 0) {
            sleep_s(1);
            system_read(&o->sys);
        }
        rc = run_mode(o, sim, &ledger, o->modes[i], &res[i]);
        if (rc != 0) {
            fprintf(stderr, "tandem bench ingest: %s: %s\n", mode_names[o->modes[i]],
                    tandem_strerror(rc));
            all_ok = false;
            break;
        }
        done++;
        if (!verify_ok(&res[i], o->wl)) {
            all_ok = false;
        }
    }
    if (done > 0) {
        report_table(stdout, &cfg, res, done);
        if (o->json != NULL && report_json(o->json, &cfg, res, done) != 0) {
            all_ok = false;
        }
        if (o->svg != NULL && report_svg(o->svg, &cfg, res, done) != 0) {
            all_ok = false;
        }
    }
    for (int i = 0; i < done; i++) {
        free(res[i].series.s);
    }
    free(res);
    ledger_cleanup(&ledger);
    sim_free(sim);
    free(o);
    return done == 0 ? 2 : all_ok ? 0 : 1;
}
