/*
 * ingest.h: what the parts of tandem-ingest (`tandem bench ingest`) share.
 *
 * tandem-ingest measures one question on the user's own machine: N vehicles that keep sending
 * their position, at an aggregate rate R, into the fleet service, once over REST (one request per
 * update, or batches) and once over events (records on the topic vehicle-positions, produced
 * fire-and-forget in batches), against the running system of `tandem up`. The parts:
 *
 *   sim.c       the city and its vehicles: a street grid, vehicles driving it (pure)
 *   codec.c     the position's two encodings (32 bytes binary, JSON), Prometheus text and
 *               histogram quantiles (pure)
 *   events.c    the events sender: librdkafka, keyed records, delivery reports into the ledger
 *   rest.c      the REST sender: keep-alive connections, one request in flight each, a backlog,
 *               retries with backoff
 *   http.c      a small blocking HTTP/1.1 client (metrics scrapes, reads of the final state)
 *   system.c    the running system: `tandem ps --json`, CPU from /proc, bytes from the kernel's
 *               socket table (inet_diag), the fleet's /metrics
 *   sampler.c   once a second: progress line, time series, the outage (tandem stop/start)
 *   body.c      the REST request bodies: positions, batches, the activity service's beacons
 *   report.c    the table, the JSON file, the SVG chart
 *   main.c      options, the run of each mode (fleet positions, or the activity service's
 *               page-view beacons: the same comparison for user activity), the final check
 *
 * Time: CLOCK_MONOTONIC nanoseconds for everything measured here (ingest_now_ns); a position's
 * ts is CLOCK_REALTIME milliseconds, which the fleet compares with its own clock (one machine).
 */
#ifndef TANDEM_INGEST_H
#define TANDEM_INGEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the position --------------------------------------------------------------------------- */

/* One GPS fix of one vehicle (FLEET-CONTRACT / docs/fleet.md). */
struct pos {
    uint64_t id;         /* the vehicle */
    int64_t ts;          /* unix ms of the fix, set by the sender */
    int32_t lat, lon;    /* WGS84, 1e-7 degrees */
    uint32_t speed_mm;   /* mm/s */
    uint16_t heading_cd; /* centidegrees, 0..35999 */
    uint16_t pad;
};

#define POS_BIN_LEN  32  /* the binary record (codec.c has its layout) */
#define POS_JSON_MAX 160 /* one position as JSON, at most */

/* codec.c: the binary record of p into out[POS_BIN_LEN]. */
void pos_encode_bin(const struct pos *p, uint8_t out[POS_BIN_LEN]);

/* Decodes a binary record (any flags). Returns 0, or -1 when len or the version is wrong. */
int pos_decode_bin(const uint8_t *b, size_t len, struct pos *out);

/* Writes p as the JSON object of POST /api/fleet/positions into out (cap >= POS_JSON_MAX), no
 * NUL needed: returns its length. Numbers are exact: lat/lon with 7 decimals, speed (m/s) with
 * 3, heading with 2, so the fleet stores exactly p's integers. */
size_t pos_encode_json(const struct pos *p, char *out, size_t cap);

/* Writes the decimal of v into out (cap >= 21); returns its length. */
size_t fmt_u64(uint64_t v, char *out);

/* ---- the city ------------------------------------------------------------------------------- */

struct sim_config {
    uint64_t vehicles; /* N >= 1 */
    double rate;       /* aggregate updates per second, > 0 */
    uint64_t id_base;  /* vehicle i has id id_base + i */
    uint64_t seed;     /* the same seed drives the same vehicles the same way */
    double lat0, lon0; /* the south-west corner of the grid */
    double block_m;    /* distance between two streets (default 120 m) */
    int streets;       /* streets each way (default 81: a 9.6 km square) */
};

struct sim;

/* Places config->vehicles vehicles on the grid. Returns 0 and *out, TANDEM_EINVAL or
 * TANDEM_ENOMEM. */
int sim_new(const struct sim_config *config, struct sim **out);
void sim_free(struct sim *s);

/*
 * The k-th update of the run, for k = 0, 1, 2, ... in order: vehicle k mod N, due at
 * start + k / rate (start: the unix time in ns given to sim_start). The vehicle drives from its
 * previous update's due time to this one, and the fix's ts is the due time in ms (never equal to
 * or below the vehicle's previous ts: N / rate >= 1 ms is required by the caller). Returns the
 * due time in CLOCK_MONOTONIC ns (to pace the sender) and fills *out.
 */
uint64_t sim_next(struct sim *s, struct pos *out);

/* Sets the run's start: mono_ns (CLOCK_MONOTONIC) and the matching unix time in ns. Updates
 * number from 0 again; the vehicles keep where they are. */
void sim_start(struct sim *s, uint64_t mono_ns, int64_t unix_ns);

/* The due time (CLOCK_MONOTONIC ns) of the next update sim_next would make. */
uint64_t sim_due(const struct sim *s);

/* Updates made since sim_start. */
uint64_t sim_count(const struct sim *s);

/* Index of a vehicle id (id - id_base), or -1 when it is not one of the run's. */
int64_t sim_index(const struct sim *s, uint64_t id);

/* Diagnostics for the tests: the grid's bounds in 1e-7 degrees and the fastest speed (mm/s). */
void sim_bounds(const struct sim *s, int32_t *lat_min, int32_t *lat_max, int32_t *lon_min,
                int32_t *lon_max, uint32_t *speed_max_mm);

/* ---- the ledger: what the simulator sent, per vehicle ---------------------------------------- */

/*
 * Per vehicle: the newest update the simulator made for it, the newest one the server
 * acknowledged (events: its delivery report said the broker has it; REST: a 2xx answer), and the
 * newest one whose outcome is unknown (sent, then the connection failed or the answer was a 502
 * or a timeout: the fleet may or may not have it). The final state of a vehicle must be `ok`, or
 * an unknown one newer than it; and it lacks the newest made update exactly when the ledger says
 * that update was lost (unless its fate is unknown).
 */
struct ledger_entry {
    struct pos ok;      /* ok.ts == 0: none acknowledged yet */
    int64_t unknown_ts; /* 0: none */
    int64_t made_ts;    /* 0: none made */
};

struct ledger {
    struct ledger_entry *v; /* one per vehicle */
    uint64_t n;
};

int ledger_init(struct ledger *l, uint64_t vehicles);
void ledger_cleanup(struct ledger *l);

/* Records p as acknowledged (kept when newer than what the vehicle has). */
void ledger_ok(struct ledger *l, uint64_t index, const struct pos *p);
void ledger_unknown(struct ledger *l, uint64_t index, int64_t ts);
/* Records that the simulator made an update of ts for the vehicle (kept when newer). */
void ledger_made(struct ledger *l, uint64_t index, int64_t ts);

/* ---- Prometheus text ------------------------------------------------------------------------ */

/*
 * Calls fn(name, labels, value, arg) for every sample of text (the Prometheus exposition format,
 * version 0.0.4): name and labels point into text with their lengths (labels without the braces,
 * "" when none); comments and malformed lines are skipped. fn returns nonzero to stop. Pure.
 */
typedef int (*prom_fn)(const char *name, size_t name_len, const char *labels, size_t labels_len,
                       double value, void *arg);
void prom_each(const char *text, size_t len, prom_fn fn, void *arg);

/* The value of label `key` in a sample's labels ("a=\"x\",b=\"y\""), unescaped into out (cap
 * bytes, NUL-terminated). Returns its length, or -1 when absent or too long. */
int prom_label(const char *labels, size_t len, const char *key, char *out, size_t cap);

#define HIST_MAX 40 /* buckets of a histogram, +Inf included */

/* One histogram: cumulative counts per upper bound, ascending, the last +Inf. */
struct hist {
    int n;
    double le[HIST_MAX];
    double count[HIST_MAX];
    double sum;
};

/*
 * Reads histogram `name` (its _bucket, _sum series) from text, only the samples whose labels
 * contain `match` (e.g. "source=\"events\"", NULL: all), summed over the other labels (the
 * instances of a service, or several label sets). Returns 0 (h->n 0: not found).
 */
int prom_hist(const char *text, size_t len, const char *name, const char *match, struct hist *h);

/* Sum of the samples of `name` whose labels contain match (NULL: all). *found: any at all. */
double prom_sum(const char *text, size_t len, const char *name, const char *match, bool *found);

/* after - before, bucket by bucket (same bounds; a bucket that went down means the process
 * restarted: the after value is taken as the delta, as Prometheus' increase() does). */
void hist_delta(const struct hist *after, const struct hist *before, struct hist *out);

/* Adds b into a (same bounds, or a empty). */
void hist_add(struct hist *a, const struct hist *b);

/* The upper bound of the bucket the q-quantile falls in (0 < q < 1): "at most"; +Inf when it
 * falls in +Inf; NaN when empty. For coarse histograms, where interpolating would invent
 * precision. */
double hist_quantile_bound(const struct hist *h, double q);

/* Total observations (the +Inf bucket). */
double hist_total(const struct hist *h);

/* The q-quantile (0 < q < 1), interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; the highest finite bound when it falls in +Inf; NaN when empty. */
double hist_quantile(const struct hist *h, double q);

/* ---- a latency histogram the sender fills and the sampler reads ----------------------------- */

#define LAT_PER_DECADE 20
#define LAT_BUCKETS    (8 * LAT_PER_DECADE) /* 1 us to 100 s, 12 % wide */

struct lat_hist {
    _Atomic uint64_t b[LAT_BUCKETS];
};

/* Counts one latency of ns nanoseconds (relaxed atomics: one writer, any readers). */
void lat_record(struct lat_hist *h, uint64_t ns);

/* Its q-quantile in ms (the bucket's upper bound: at most 12 % high); NaN when empty. */
double lat_quantile(const struct lat_hist *h, double q);
uint64_t lat_count(const struct lat_hist *h);

/* ---- time ------------------------------------------------------------------------------------ */

uint64_t ingest_now_ns(void); /* CLOCK_MONOTONIC */
int64_t ingest_unix_ns(void); /* CLOCK_REALTIME */

#endif
