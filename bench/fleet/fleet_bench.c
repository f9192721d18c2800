/*
 * fleet-bench: the fleet's own costs, in memory, without a broker or HTTP: the apply path every
 * position goes through, the memory a vehicle takes, and the bounding-box queries, alone and while
 * a writer applies at full speed (the contention between the consumer thread and HTTP workers).
 *
 *   fleet-bench [--vehicles N] [--updates U] [--queries Q] [--dist country|cities|both]
 *               [--trail-points T] [--seconds S]
 *
 * Distributions (each a fresh table in a fresh process state; N vehicles):
 *   country  uniform over 42..51 N, -5..8 E (about France)
 *   cities   40 cities spread over the same area, vehicles around each with a normal spread of
 *            0.05 degrees (about 5 km): dense cells, the index's harder case
 *
 * Rows (a Markdown table on stdout):
 *   load                 the first position of every vehicle (inserts), ns per apply
 *   apply                U updates of random vehicles, each moved about 10 m with a newer ts
 *                        (some cross cells), one thread, ns per apply and applies/s
 *   apply + 1 reader     the same while another thread runs bounding-box queries without pause
 *   memory               RSS after the load minus RSS before the table existed, per vehicle
 *                        (the table, its index and the trail ring; --trail-points 0 leaves the
 *                        ring out)
 *   bbox 100             Q queries with limit 100 of a box centred on a random vehicle, sized to
 *                        hold about 300 vehicles: p50, p99, max in µs
 *   bbox 100 + writer    the same while a writer applies updates without pause
 *   bbox country         the whole area, limit 100 (stops at once)
 *   bbox thin            a 0.002-degree-high box across the whole area, limit 1000: many cells
 *                        walked for few vehicles
 *   bbox empty           a 10 x 10 degree box of open sea (no vehicle): skipped by the counts
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double unif(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double normal(void)
{
    double u = unif() + 1e-12, v = unif();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) {
            res = 0;
        }
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

#define LAT0 42.0
#define LAT1 51.0
#define LON0 -5.0
#define LON1 8.0

struct world {
    struct fleet_table t;
    long n;
    int32_t *lat, *lon; /* where the bench put each vehicle last (id = index + 1) */
    int64_t ts;
    bool cities;
    double city_lat[40], city_lon[40];
    double box_half; /* half the side of a box holding about 300 vehicles, degrees */
};

static void place(struct world *w, long i)
{
    double lat, lon;
    if (w->cities) {
        int c = (int)(rnd() % 40);
        lat = w->city_lat[c] + 0.05 * normal();
        lon = w->city_lon[c] + 0.05 * normal();
    } else {
        lat = LAT0 + (LAT1 - LAT0) * unif();
        lon = LON0 + (LON1 - LON0) * unif();
    }
    w->lat[i] = (int32_t)lround(lat * 1e7);
    w->lon[i] = (int32_t)lround(lon * 1e7);
}

static void pos_of(struct world *w, long i, struct fleet_pos *p)
{
    p->id = (uint64_t)i + 1;
    p->lat = w->lat[i];
    p->lon = w->lon[i];
    p->ts = ++w->ts;
    p->speed_mm = 8300;
    p->heading_cd = 9000;
}

#define CHUNK_UPDATES 500000

/* Fills buf with n updates of random vehicles, each moved by about 10 m with a newer ts (made
 * before the clock starts: the bench's own arrays stay out of the figure). */
static void updates_of(struct world *w, struct fleet_pos *buf, long n)
{
    for (long k = 0; k < n; k++) {
        long i = (long)(rnd() % (uint64_t)w->n);
        w->lat[i] += (int32_t)(rnd() % 1801) - 900;
        w->lon[i] += (int32_t)(rnd() % 1801) - 900;
        pos_of(w, i, &buf[k]);
    }
}

/* Applies `updates` updates in chunks; returns ns per apply (only the applies timed). */
static double apply_runs(struct world *w, long updates)
{
    static struct fleet_pos buf[CHUNK_UPDATES];
    int64_t spent = 0;
    for (long done = 0; done < updates;) {
        long n = updates - done < CHUNK_UPDATES ? updates - done : CHUNK_UPDATES;
        updates_of(w, buf, n);
        int64_t t0 = now_ns();
        for (long k = 0; k < n; k++) {
            if (fleet_apply(&w->t, &buf[k], 0, FLEET_SRC_EVENTS) != FLEET_APPLIED) {
                fprintf(stderr, "update: not applied\n");
                exit(1);
            }
        }
        spent += now_ns() - t0;
        done += n;
    }
    return (double)spent / (double)updates;
}

struct lat_stats {
    double p50, p99, max;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static struct lat_stats stats_of(int64_t *v, long n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    return (struct lat_stats){.p50 = (double)v[n / 2] / 1e3,
                              .p99 = (double)v[(long)((double)n * 0.99)] / 1e3,
                              .max = (double)v[n - 1] / 1e3};
}

static struct fleet_box box_around(struct world *w, long i, double half)
{
    double lat = w->lat[i] / 1e7, lon = w->lon[i] / 1e7;
    return (struct fleet_box){.min_lat = (int32_t)lround((lat - half) * 1e7),
                              .max_lat = (int32_t)lround((lat + half) * 1e7),
                              .min_lon = (int32_t)lround((lon - half) * 1e7),
                              .max_lon = (int32_t)lround((lon + half) * 1e7)};
}

static struct fleet_pos qbuf[1000];

/* Runs q queries of boxes around random vehicles; fills the latency stats; *avg_found. */
static struct lat_stats bbox_runs(struct world *w, long q, size_t limit, double *avg_found)
{
    int64_t *lat = malloc((size_t)q * sizeof(*lat));
    long found = 0;
    for (long k = 0; k < q; k++) {
        struct fleet_box b = box_around(w, (long)(rnd() % (uint64_t)w->n), w->box_half);
        bool more;
        int64_t t0 = now_ns();
        found += (long)fleet_query(&w->t, &b, 0, qbuf, limit, &more);
        lat[k] = now_ns() - t0;
    }
    *avg_found = (double)found / (double)q;
    struct lat_stats s = stats_of(lat, q);
    free(lat);
    return s;
}

static struct lat_stats fixed_runs(struct world *w, const struct fleet_box *b, long q, size_t limit,
                                   double *avg_found)
{
    int64_t *lat = malloc((size_t)q * sizeof(*lat));
    long found = 0;
    for (long k = 0; k < q; k++) {
        bool more;
        int64_t t0 = now_ns();
        found += (long)fleet_query(&w->t, b, 0, qbuf, limit, &more);
        lat[k] = now_ns() - t0;
    }
    *avg_found = (double)found / (double)q;
    struct lat_stats s = stats_of(lat, q);
    free(lat);
    return s;
}

struct bg {
    struct world *w;
    atomic_bool stop;
    atomic_long done;
    bool writer; /* else a reader */
    uint64_t rng;
};

static void *bg_thread(void *arg)
{
    struct bg *b = arg;
    struct world *w = b->w;
    uint64_t r = b->rng;
    while (!atomic_load(&b->stop)) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        long i = (long)(r % (uint64_t)w->n);
        if (b->writer) {
            struct fleet_pos p;
            int64_t ts = __atomic_add_fetch(&w->ts, 1, __ATOMIC_RELAXED);
            if (fleet_read_slot(&w->t, fleet_lookup(&w->t, (uint64_t)i + 1), &p, NULL, NULL)) {
                p.lat += (int32_t)(r % 1801) - 900;
                p.lon += (int32_t)((r >> 20) % 1801) - 900;
                p.ts = ts;
                fleet_apply(&w->t, &p, 0, FLEET_SRC_EVENTS);
            }
        } else {
            static __thread struct fleet_pos out[100];
            struct fleet_box bx = box_around(w, i, w->box_half);
            bool more;
            fleet_query(&w->t, &bx, 0, out, 100, &more);
        }
        atomic_fetch_add(&b->done, 1);
    }
    return NULL;
}

static void run(const char *dist, long n, long updates, long queries, uint32_t trail)
{
    struct world *w = calloc(1, sizeof(*w));
    w->n = n;
    w->cities = strcmp(dist, "cities") == 0;
    w->ts = 1796500000000LL;
    w->lat = malloc((size_t)n * sizeof(int32_t));
    w->lon = malloc((size_t)n * sizeof(int32_t));
    for (int c = 0; c < 40; c++) {
        w->city_lat[c] = LAT0 + 0.5 + (LAT1 - LAT0 - 1) * unif();
        w->city_lon[c] = LON0 + 0.5 + (LON1 - LON0 - 1) * unif();
    }
    for (long i = 0; i < n; i++) {
        place(w, i);
    }
    long rss0 = rss_kb();
    if (fleet_table_init(&w->t, (uint32_t)(n + n / 4), trail) != 0) {
        fprintf(stderr, "fleet_table_init failed\n");
        exit(1);
    }
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        struct fleet_pos p;
        pos_of(w, i, &p);
        if (fleet_apply(&w->t, &p, 0, FLEET_SRC_EVENTS) != FLEET_APPLIED) {
            fprintf(stderr, "load: not applied\n");
            exit(1);
        }
    }
    double load_ns = (double)(now_ns() - t0) / (double)n;
    long rss1 = rss_kb();
    double apply_ns = apply_runs(w, updates);
    long rss2 = rss_kb();

    /* box size: about 300 vehicles around a random one, found by doubling */
    w->box_half = 0.001;
    for (int tries = 0; tries < 20; tries++) {
        double avg;
        bbox_runs(w, 200, 1000, &avg);
        if (avg >= 300) {
            break;
        }
        w->box_half *= 1.5;
    }
    double found;
    struct lat_stats q100 = bbox_runs(w, queries, 100, &found);

    struct bg wr = {.w = w, .writer = true, .rng = 0x9e3779b97f4a7c15ULL};
    pthread_t th;
    pthread_create(&th, NULL, bg_thread, &wr);
    double found_w;
    struct lat_stats q100w = bbox_runs(w, queries, 100, &found_w);
    atomic_store(&wr.stop, true);
    pthread_join(th, NULL);
    double writer_rate = 0; /* not a figure: the writer ran only while queries ran */

    struct bg rd = {.w = w, .writer = false, .rng = 0x2545f4914f6cdd1dULL};
    pthread_create(&th, NULL, bg_thread, &rd);
    t0 = now_ns();
    double apply_r_ns = apply_runs(w, updates);
    double wall = (double)(now_ns() - t0);
    atomic_store(&rd.stop, true);
    pthread_join(th, NULL);
    double reader_qps = (double)atomic_load(&rd.done) / (wall / 1e9);
    (void)writer_rate;

    struct fleet_box country = {.min_lat = (int32_t)(LAT0 * 1e7),
                                .max_lat = (int32_t)(LAT1 * 1e7),
                                .min_lon = (int32_t)(LON0 * 1e7),
                                .max_lon = (int32_t)(LON1 * 1e7)};
    double fc, ft, fe;
    struct lat_stats qc = fixed_runs(w, &country, queries / 10 + 1, 100, &fc);
    struct fleet_box thin = country;
    thin.min_lat = (int32_t)(46.5 * 1e7);
    thin.max_lat = thin.min_lat + 20000;
    struct lat_stats qt = fixed_runs(w, &thin, queries / 10 + 1, 1000, &ft);
    struct fleet_box sea = {.min_lat = (int32_t)(-40 * 1e7),
                            .max_lat = (int32_t)(-30 * 1e7),
                            .min_lon = (int32_t)(-30 * 1e7),
                            .max_lon = (int32_t)(-20 * 1e7)};
    struct lat_stats qe = fixed_runs(w, &sea, queries / 10 + 1, 100, &fe);

    printf("| %s | load (first position of each), ns/apply | %.0f | | |\n", dist, load_ns);
    printf("| %s | apply (updates, ~10 m moves), ns/apply | %.0f | %.2f M/s | |\n", dist, apply_ns,
           1e3 / apply_ns);
    printf("| %s | apply while 1 thread queries, ns/apply | %.0f | %.2f M/s | reader: %.0f "
           "queries/s |\n",
           dist, apply_r_ns, 1e3 / apply_r_ns, reader_qps);
    printf("| %s | memory: RSS after load / after updates, bytes per vehicle | %.0f | %.0f | "
           "trail ring %u points |\n",
           dist, (double)(rss1 - rss0) * 1024 / (double)n, (double)(rss2 - rss0) * 1024 / (double)n,
           trail ? w->t.trail_mask + 1 : 0);
    printf("| %s | bbox limit 100 (box of ~300: %.3f deg side), µs p50 / p99 / max | %.1f | %.1f | "
           "%.1f (found %.1f) |\n",
           dist, 2 * w->box_half, q100.p50, q100.p99, q100.max, found);
    printf("| %s | bbox limit 100 while 1 thread applies, µs p50 / p99 / max | %.1f | %.1f | %.1f "
           "(found %.1f) |\n",
           dist, q100w.p50, q100w.p99, q100w.max, found_w);
    printf("| %s | bbox the whole area, limit 100, µs p50 / p99 / max | %.1f | %.1f | %.1f "
           "(found %.0f) |\n",
           dist, qc.p50, qc.p99, qc.max, fc);
    printf("| %s | bbox thin (0.002 deg x 13 deg), limit 1000, µs p50 / p99 / max | %.1f | %.1f | "
           "%.1f (found %.0f) |\n",
           dist, qt.p50, qt.p99, qt.max, ft);
    printf("| %s | bbox empty sea (10 x 10 deg), µs p50 / p99 / max | %.1f | %.1f | %.1f |\n", dist,
           qe.p50, qe.p99, qe.max);
    fflush(stdout);
    fleet_table_cleanup(&w->t);
    free(w->lat);
    free(w->lon);
    free(w);
}

int main(int argc, char **argv)
{
    long n = 1000000, updates = 5000000, queries = 20000;
    uint32_t trail = 524288;
    const char *dist = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--vehicles") == 0) {
            n = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--updates") == 0) {
            updates = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--queries") == 0) {
            queries = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--dist") == 0) {
            dist = argv[i + 1];
        } else if (strcmp(argv[i], "--trail-points") == 0) {
            trail = (uint32_t)atol(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: fleet-bench [--vehicles N] [--updates U] [--queries Q] "
                            "[--dist country|cities|both] [--trail-points T]\n");
            return 2;
        }
    }
    if (n < 1000 || updates < 1 || queries < 10) {
        fprintf(stderr, "fleet-bench: --vehicles >= 1000, --updates >= 1, --queries >= 10\n");
        return 2;
    }
    printf("| distribution | what | figure | | |\n|---|---|---|---|---|\n");
    if (strcmp(dist, "both") == 0 || strcmp(dist, "country") == 0) {
        run("country", n, updates, queries, trail);
    }
    if (strcmp(dist, "both") == 0 || strcmp(dist, "cities") == 0) {
        run("cities", n, updates, queries, trail);
    }
    return 0;
}
