/*
 * sim.c: the city and its vehicles, for tandem-ingest. Pure: no I/O, no clock (the caller gives
 * the start), deterministic for a seed.
 *
 * The city is a square street grid: `streets` streets each way, `block_m` metres apart (81
 * streets of 120 m: a 9.6 km square, the size of a city centre), laid on WGS84 from its
 * south-west corner (lat0, lon0) with the local metres-per-degree (111,320 m a degree of
 * latitude, times cos(lat0) for longitude). Every 8th street is an avenue (50 km/h), the others
 * are streets (30 km/h).
 *
 * A vehicle is always on one block: it left intersection (x, y) in direction dir (0 north, 1 east,
 * 2 south, 3 west; its heading is dir * 90 degrees) and is `along` metres down the block. On each
 * block it cruises at 80 to 105 % of the block's limit, accelerating at 2 m/s^2 and braking at
 * 3 m/s^2. It decides at the start of a block what it will do at the next intersection: go
 * straight (70 %), turn left or right (15 % each), never out of the grid (it turns the other way,
 * or back, at the edge), and whether that intersection's light is red (20 %): a turn is taken at
 * 4 m/s at most, a red light means stopping at the line and waiting 5 to 40 s. Braking for either
 * starts when needed (the speed at distance d from the line is at most sqrt(v_end^2 + 2 a d)).
 * Its motion is integrated in steps of at most 0.5 s.
 *
 * Updates: the k-th update of a run goes to vehicle k mod N and is due k / rate seconds after
 * the start. Each vehicle therefore reports every N / rate seconds, and the vehicles' reports are
 * spread evenly over time. The fix's ts is its due time (unix ms), so a sender that falls behind
 * its schedule shows it as latency rather than hiding it.
 */
#include <math.h>
#include <stdlib.h>

#include "ingest.h"
#include "tandem/error.h"

#define AVENUE_EVERY  8
#define AVENUE_MS     (50.0 / 3.6)
#define STREET_MS     (30.0 / 3.6)
#define TURN_MS       4.0
#define ACCEL         2.0
#define BRAKE         3.0
#define STEP_S        0.5
#define DT_MAX_S      60.0 /* a vehicle idle longer (between two modes) drives 60 s */
#define M_PER_DEG_LAT 111320.0

enum plan { STRAIGHT, LEFT, RIGHT };

struct vehicle {
    uint64_t rng;
    uint64_t last_due; /* CLOCK_MONOTONIC ns of its previous update; 0: none */
    int64_t last_ts;   /* its previous ts (unix ms) */
    float along, speed, cruise, wait;
    int16_t x, y;
    uint8_t dir, plan, red, pad;
};

struct sim {
    struct sim_config c;
    struct vehicle *v;
    double m_per_deg_lon;
    double ns_per_update;
    uint64_t k;          /* updates made since the start */
    uint64_t start_mono; /* ns */
    int64_t start_unix;  /* ns */
};

static const int DX[4] = {0, 1, 0, -1};
static const int DY[4] = {1, 0, -1, 0};

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* xorshift64*: a uniform double in [0, 1). */
static double rnd(struct vehicle *v)
{
    v->rng ^= v->rng >> 12;
    v->rng ^= v->rng << 25;
    v->rng ^= v->rng >> 27;
    return (double)((v->rng * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
}

static bool inside(const struct sim *s, int x, int y)
{
    return x >= 0 && y >= 0 && x < s->c.streets && y < s->c.streets;
}

/* The limit of the block leaving (x, y) in direction dir: the street it runs along. */
static double limit_of(int x, int y, int dir)
{
    int street = (dir == 0 || dir == 2) ? x : y;
    return street % AVENUE_EVERY == 0 ? AVENUE_MS : STREET_MS;
}

static int turned(int dir, int plan)
{
    return plan == LEFT ? (dir + 3) % 4 : plan == RIGHT ? (dir + 1) % 4 : dir;
}

/* Decides what v does at the end of its block: a plan whose next block stays in the grid. */
static void plan_next(const struct sim *s, struct vehicle *v)
{
    double r = rnd(v);
    int want = r < 0.70 ? STRAIGHT : r < 0.85 ? LEFT : RIGHT;
    static const int ORDER[3][3] = {
        {STRAIGHT, RIGHT, LEFT}, {LEFT, RIGHT, STRAIGHT}, {RIGHT, LEFT, STRAIGHT}};
    int ex = v->x + DX[v->dir], ey = v->y + DY[v->dir]; /* the next intersection */
    v->plan = 3;                                        /* none fits: back */
    for (int i = 0; i < 3; i++) {
        int p = ORDER[want][i], d = turned(v->dir, p);
        if (inside(s, ex + DX[d], ey + DY[d])) {
            v->plan = (uint8_t)p;
            break;
        }
    }
    v->red = rnd(v) < 0.20;
}

/* v enters the block leaving (x, y) in its direction. */
static void block_enter(const struct sim *s, struct vehicle *v)
{
    v->cruise = (float)(limit_of(v->x, v->y, v->dir) * (0.80 + 0.25 * rnd(v)));
    plan_next(s, v);
}

/* v reached the end of its block. */
static void arrive(const struct sim *s, struct vehicle *v)
{
    v->x = (int16_t)(v->x + DX[v->dir]);
    v->y = (int16_t)(v->y + DY[v->dir]);
    v->dir = (uint8_t)(v->plan == 3 ? (v->dir + 2) % 4 : turned(v->dir, v->plan));
    if (v->red) {
        v->wait = (float)(5.0 + 35.0 * rnd(v));
        v->speed = 0;
    }
    block_enter(s, v);
}

static void drive(const struct sim *s, struct vehicle *v, double dt)
{
    double block = s->c.block_m;
    while (dt > 1e-9) {
        if (v->wait > 0) {
            double w = v->wait < dt ? v->wait : dt;
            v->wait = (float)(v->wait - w);
            dt -= w;
            continue;
        }
        double h = dt < STEP_S ? dt : STEP_S;
        double end = v->red ? 0.0 : v->plan != STRAIGHT ? TURN_MS : v->cruise;
        double dist = block - v->along;
        double cap = sqrt(end * end + 2.0 * BRAKE * (dist > 0 ? dist : 0));
        double want = v->cruise < cap ? v->cruise : cap;
        double dv = want - v->speed;
        dv = dv > ACCEL * h ? ACCEL * h : dv < -BRAKE * h ? -BRAKE * h : dv;
        double speed = v->speed + dv;
        speed = speed < 0.5 && v->red && dist > 0.5 ? 0.5 : speed; /* creep to the line */
        v->speed = (float)(speed < 0 ? 0 : speed);
        v->along = (float)(v->along + v->speed * h);
        dt -= h;
        if (v->along >= block) {
            v->along = (float)(v->red ? 0.0 : v->along - block);
            arrive(s, v);
        }
    }
}

int sim_new(const struct sim_config *config, struct sim **out)
{
    if (config == NULL || out == NULL || config->vehicles == 0 || !(config->rate > 0)) {
        return TANDEM_EINVAL;
    }
    struct sim *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return TANDEM_ENOMEM;
    }
    s->c = *config;
    if (!(s->c.block_m > 0)) {
        s->c.block_m = 120;
    }
    if (s->c.streets < 2 || s->c.streets > 10000) {
        s->c.streets = 81;
    }
    s->m_per_deg_lon = M_PER_DEG_LAT * cos(s->c.lat0 * M_PI / 180.0);
    s->ns_per_update = 1e9 / s->c.rate;
    s->v = calloc(s->c.vehicles, sizeof(*s->v));
    if (s->v == NULL) {
        free(s);
        return TANDEM_ENOMEM;
    }
    uint64_t seed = s->c.seed;
    for (uint64_t i = 0; i < s->c.vehicles; i++) {
        struct vehicle *v = &s->v[i];
        v->rng = splitmix64(&seed) | 1;
        v->x = (int16_t)(rnd(v) * (s->c.streets - 1));
        v->y = (int16_t)(rnd(v) * (s->c.streets - 1));
        v->dir = (uint8_t)(rnd(v) * 4) % 4;
        if (!inside(s, v->x + DX[v->dir], v->y + DY[v->dir])) {
            v->dir = (uint8_t)((v->dir + 2) % 4);
        }
        block_enter(s, v);
        v->along = (float)(rnd(v) * s->c.block_m * 0.9);
        v->speed = (float)(v->cruise * rnd(v));
    }
    *out = s;
    return 0;
}

void sim_free(struct sim *s)
{
    if (s != NULL) {
        free(s->v);
        free(s);
    }
}

void sim_start(struct sim *s, uint64_t mono_ns, int64_t unix_ns)
{
    s->k = 0;
    s->start_mono = mono_ns;
    s->start_unix = unix_ns;
}

static uint64_t offset_ns(const struct sim *s, uint64_t k)
{
    return (uint64_t)((double)k * s->ns_per_update);
}

uint64_t sim_due(const struct sim *s)
{
    return s->start_mono + offset_ns(s, s->k);
}

uint64_t sim_count(const struct sim *s)
{
    return s->k;
}

int64_t sim_index(const struct sim *s, uint64_t id)
{
    return id >= s->c.id_base && id - s->c.id_base < s->c.vehicles ? (int64_t)(id - s->c.id_base)
                                                                   : -1;
}

uint64_t sim_next(struct sim *s, struct pos *out)
{
    uint64_t off = offset_ns(s, s->k);
    uint64_t i = s->k % s->c.vehicles;
    s->k++;
    struct vehicle *v = &s->v[i];
    uint64_t due = s->start_mono + off;
    if (v->last_due != 0 && due > v->last_due) {
        double dt = (double)(due - v->last_due) / 1e9;
        drive(s, v, dt < DT_MAX_S ? dt : DT_MAX_S);
    }
    v->last_due = due;
    int64_t ts = (s->start_unix + (int64_t)off) / 1000000;
    if (ts <= v->last_ts) {
        ts = v->last_ts + 1;
    }
    v->last_ts = ts;

    double xm = v->x * s->c.block_m + DX[v->dir] * (double)v->along;
    double ym = v->y * s->c.block_m + DY[v->dir] * (double)v->along;
    out->id = s->c.id_base + i;
    out->ts = ts;
    out->lat = (int32_t)lround((s->c.lat0 + ym / M_PER_DEG_LAT) * 1e7);
    out->lon = (int32_t)lround((s->c.lon0 + xm / s->m_per_deg_lon) * 1e7);
    out->speed_mm = (uint32_t)lround(v->speed * 1000.0);
    out->heading_cd = (uint16_t)(v->dir * 9000);
    out->pad = 0;
    return due;
}

void sim_bounds(const struct sim *s, int32_t *lat_min, int32_t *lat_max, int32_t *lon_min,
                int32_t *lon_max, uint32_t *speed_max_mm)
{
    double side = (s->c.streets - 1) * s->c.block_m;
    *lat_min = (int32_t)lround(s->c.lat0 * 1e7);
    *lon_min = (int32_t)lround(s->c.lon0 * 1e7);
    *lat_max = (int32_t)lround((s->c.lat0 + side / M_PER_DEG_LAT) * 1e7);
    *lon_max = (int32_t)lround((s->c.lon0 + side / s->m_per_deg_lon) * 1e7);
    *speed_max_mm = (uint32_t)lround(AVENUE_MS * 1.05 * 1000.0) + 1;
}
