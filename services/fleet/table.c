/*
 * table.c: the vehicles, in memory, and THE apply function every position goes through.
 *
 * MODEL. A vehicle is a slot (struct fleet_slot, 48 bytes) in one array reserved for
 * --max-vehicles slots (mmap, MAP_NORESERVE: a page costs memory once a vehicle is written in it).
 * Slots are handed out in order and never freed: a vehicle whose partition is given up keeps its
 * slot (and its id's place in the id table) with no position (ts 0) until it comes back.
 *
 *   ids        id -> slot: open addressing with linear probing over a power-of-two array of
 *              slot + 1 (0: empty), at least twice max-vehicles places. Insert-only, so a lookup
 *              needs no lock: a place, once written, never changes; a new slot is filled in
 *              (its id) before its index is published with a release store, and readers load it
 *              with acquire. Inserts take insert_mu (a new vehicle is rare once the fleet is
 *              known: one per vehicle).
 *   seqlock    each slot's seq: a writer makes it odd (compare-and-swap from even: two writers of
 *              one vehicle, the consumer and a REST request, exclude each other), writes, and
 *              makes it even again (release). A reader loads seq (acquire), copies the fields,
 *              loads seq again after an acquire fence, and retries while it was odd or moved.
 *              Readers never block a writer and never write a shared line; fields are accessed
 *              with relaxed atomics (no data race in C11's sense).
 *   index      grid.c, under striped locks: a writer holding a slot's seqlock may take a stripe;
 *              a reader holding a stripe never waits for a seqlock (it copies the entries and
 *              lets go first), so the two orders never meet.
 *   partitions each vehicle belongs to the partition its positions come from. REST applies read-
 *              lock the partition's rwlock and apply only while it is held; giving a partition up
 *              write-locks it (so no REST apply is in progress), then takes its vehicles out.
 *
 * STALE. A position applies only when its ts is above the vehicle's (strictly): an older one, or
 * the same ts again, changes nothing. The state is then each vehicle's newest position (the first
 * one received among equal ts), whatever the order and the number of deliveries, which is what
 * makes snapshots and replays exact (docs/fleet.md, "Snapshots").
 *
 * METRICS. Each source has its counters and its visible-latency histogram (now - ts at the moment
 * the position can be read), relaxed atomic adds on lines of their own.
 */
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "fleet.h"
#include "tandem/error.h"

#define LD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

const double fleet_buckets[FLEET_NBUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015,
    0.02,   0.03,    0.05,   0.075, 0.1,   0.15,  0.2,   0.3,    0.5,  0.75,
    1,      1.5,     2,      3,     5,     10,    30,    60,
};

static void *reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33; /* the finalizer of MurmurHash3 (public domain) */
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static uint32_t pow2_at_least(uint64_t n)
{
    uint64_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return (uint32_t)p;
}

int fleet_table_init(struct fleet_table *t, uint32_t max_vehicles, uint32_t trail_points)
{
    memset(t, 0, sizeof(*t));
    if (max_vehicles == 0 || max_vehicles > (UINT32_C(1) << 30) ||
        trail_points > (UINT32_C(1) << 30)) {
        return TANDEM_EINVAL;
    }
    t->max = max_vehicles;
    t->mask = pow2_at_least((uint64_t)max_vehicles * 2) - 1;
    t->slots = reserve((size_t)max_vehicles * sizeof(struct fleet_slot));
    t->ids = reserve(((size_t)t->mask + 1) * sizeof(uint32_t));
    if (trail_points > 0) {
        uint32_t n = pow2_at_least(trail_points);
        t->trail = reserve((size_t)n * sizeof(struct fleet_trail_pt));
        t->trail_mask = n - 1;
    }
    pthread_mutex_init(&t->insert_mu, NULL);
    for (unsigned i = 0; i < FLEET_PARTITIONS_MAX; i++) {
        pthread_rwlock_init(&t->parts[i].lock, NULL);
        t->parts[i].next_offset = -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    t->start_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (t->slots == NULL || t->ids == NULL || (trail_points > 0 && t->trail == NULL) ||
        fleet_grid_init(t) != 0) {
        fleet_table_cleanup(t);
        return TANDEM_ENOMEM;
    }
    return 0;
}

void fleet_table_cleanup(struct fleet_table *t)
{
    fleet_grid_cleanup(t);
    if (t->slots != NULL) {
        munmap(t->slots, (size_t)t->max * sizeof(struct fleet_slot));
    }
    if (t->ids != NULL) {
        munmap(t->ids, ((size_t)t->mask + 1) * sizeof(uint32_t));
    }
    if (t->trail != NULL) {
        munmap(t->trail, ((size_t)t->trail_mask + 1) * sizeof(struct fleet_trail_pt));
    }
    pthread_mutex_destroy(&t->insert_mu);
    for (unsigned i = 0; i < FLEET_PARTITIONS_MAX; i++) {
        pthread_rwlock_destroy(&t->parts[i].lock);
    }
    t->slots = NULL;
    t->ids = NULL;
    t->trail = NULL;
}

uint32_t fleet_clock_ms(const struct fleet_table *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t->start_ms);
}

uint32_t fleet_lookup(const struct fleet_table *t, uint64_t id)
{
    for (uint32_t h = (uint32_t)mix64(id) & t->mask;; h = (h + 1) & t->mask) {
        uint32_t e = __atomic_load_n(&t->ids[h], __ATOMIC_ACQUIRE);
        if (e == 0) {
            return UINT32_MAX;
        }
        if (LD(&t->slots[e - 1].id) == id) {
            return e - 1;
        }
    }
}

/* The slot of id, made when it is new; UINT32_MAX when the table is full. */
static uint32_t slot_of(struct fleet_table *t, uint64_t id, unsigned partition)
{
    uint32_t s = fleet_lookup(t, id);
    if (s != UINT32_MAX) {
        return s;
    }
    pthread_mutex_lock(&t->insert_mu);
    uint32_t h = (uint32_t)mix64(id) & t->mask;
    for (;; h = (h + 1) & t->mask) { /* again, under the lock: another insert may have come */
        uint32_t e = __atomic_load_n(&t->ids[h], __ATOMIC_ACQUIRE);
        if (e == 0) {
            break;
        }
        if (LD(&t->slots[e - 1].id) == id) {
            pthread_mutex_unlock(&t->insert_mu);
            return e - 1;
        }
    }
    uint32_t n = LD(&t->nslots);
    if (n >= t->max) {
        pthread_mutex_unlock(&t->insert_mu);
        return UINT32_MAX;
    }
    struct fleet_slot *sl = &t->slots[n];
    ST(&sl->id, id);
    ST(&sl->partition, (uint8_t)partition);
    __atomic_store_n(&t->nslots, n + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&t->ids[h], n + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&t->insert_mu);
    return n;
}

static void seq_lock(struct fleet_slot *s)
{
    for (unsigned spins = 0;; spins++) {
        uint32_t q = LD(&s->seq);
        if ((q & 1) == 0 && __atomic_compare_exchange_n(&s->seq, &q, q + 1, false, __ATOMIC_ACQUIRE,
                                                        __ATOMIC_RELAXED)) {
            return;
        }
        if (spins > 64) {
            sched_yield(); /* the other writer may have been preempted (2 cores) */
        }
    }
}

static void seq_unlock(struct fleet_slot *s)
{
    __atomic_store_n(&s->seq, LD(&s->seq) + 1, __ATOMIC_RELEASE);
}

static void count_latency(struct fleet_counters *c, int64_t ts_ms)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - ts_ms * 1000;
    if (us < 0) {
        us = 0; /* a sender's clock ahead of ours */
    }
    double secs = (double)us / 1e6;
    unsigned b = 0;
    while (b < FLEET_NBUCKETS && secs > fleet_buckets[b]) {
        b++;
    }
    ADD(&c->buckets[b], 1);
    ADD(&c->sum_us, (uint64_t)us);
}

enum fleet_result fleet_apply(struct fleet_table *t, const struct fleet_pos *p, unsigned partition,
                              enum fleet_source src)
{
    struct fleet_counters *c = &t->counters[src];
    uint32_t s = slot_of(t, p->id, partition);
    if (s == UINT32_MAX) {
        ADD(&c->rejected, 1);
        return FLEET_FULL;
    }
    struct fleet_slot *sl = &t->slots[s];
    seq_lock(sl);
    int64_t cur = LD(&sl->ts);
    if (p->ts <= cur) {
        seq_unlock(sl);
        ADD(&c->stale, 1);
        return FLEET_STALE;
    }
    int rc = LD(&sl->held) ? fleet_grid_move(t, s, LD(&sl->lat), LD(&sl->lon), p->lat, p->lon)
                           : fleet_grid_add(t, s, p->lat, p->lon);
    if (rc != 0) { /* out of memory for the index: the vehicle keeps its old state */
        seq_unlock(sl);
        ADD(&c->rejected, 1);
        return FLEET_FULL;
    }
    if (!LD(&sl->held)) {
        ST(&sl->held, 1);
        ADD(&t->held, 1);
    }
    ST(&sl->ts, p->ts);
    ST(&sl->lat, p->lat);
    ST(&sl->lon, p->lon);
    ST(&sl->speed_mm, p->speed_mm);
    ST(&sl->heading_cd, p->heading_cd);
    ST(&sl->partition, (uint8_t)partition);
    ST(&sl->stamp, fleet_clock_ms(t));
    if (t->trail != NULL) {
        ST(&sl->trail, fleet_trail_add(t, s, LD(&sl->trail), p->lat, p->lon, p->ts));
    }
    seq_unlock(sl);
    if (src != FLEET_SRC_SNAPSHOT) {
        count_latency(c, p->ts);
    }
    ADD(&c->applied, 1);
    return FLEET_APPLIED;
}

enum fleet_result fleet_apply_held(struct fleet_table *t, const struct fleet_pos *p,
                                   unsigned partition, enum fleet_source src)
{
    struct fleet_partition *pt = &t->parts[partition % FLEET_PARTITIONS_MAX];
    pthread_rwlock_rdlock(&pt->lock);
    enum fleet_result r = FLEET_NOT_HELD;
    if (pt->held) {
        r = fleet_apply(t, p, partition, src);
    } else {
        ADD(&t->counters[src].not_held, 1);
    }
    pthread_rwlock_unlock(&pt->lock);
    return r;
}

void fleet_count_rejected(struct fleet_table *t, enum fleet_source src)
{
    ADD(&t->counters[src].rejected, 1);
}

bool fleet_read_slot(const struct fleet_table *t, uint32_t slot, struct fleet_pos *out,
                     unsigned *partition, uint32_t *stamp)
{
    const struct fleet_slot *sl = &t->slots[slot];
    for (unsigned spins = 0;; spins++) {
        uint32_t q = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
        if (q & 1) {
            if (spins > 64) {
                sched_yield();
            }
            continue;
        }
        bool held = LD(&sl->held) != 0;
        out->id = LD(&sl->id);
        out->ts = LD(&sl->ts);
        out->lat = LD(&sl->lat);
        out->lon = LD(&sl->lon);
        out->speed_mm = LD(&sl->speed_mm);
        out->heading_cd = LD(&sl->heading_cd);
        unsigned part = LD(&sl->partition);
        uint32_t st = LD(&sl->stamp);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (LD(&sl->seq) == q) {
            if (partition != NULL) {
                *partition = part;
            }
            if (stamp != NULL) {
                *stamp = st;
            }
            return held;
        }
    }
}

bool fleet_get(const struct fleet_table *t, uint64_t id, struct fleet_pos *out)
{
    uint32_t s = fleet_lookup(t, id);
    return s != UINT32_MAX && fleet_read_slot(t, s, out, NULL, NULL);
}

void fleet_partition_hold(struct fleet_table *t, unsigned p)
{
    struct fleet_partition *pt = &t->parts[p % FLEET_PARTITIONS_MAX];
    pthread_rwlock_wrlock(&pt->lock);
    pt->held = true;
    pthread_rwlock_unlock(&pt->lock);
}

void fleet_partition_close(struct fleet_table *t, unsigned p)
{
    struct fleet_partition *pt = &t->parts[p % FLEET_PARTITIONS_MAX];
    pthread_rwlock_wrlock(&pt->lock); /* waits for the REST applies in progress on p */
    pt->held = false;
    pthread_rwlock_unlock(&pt->lock);
}

void fleet_partition_release(struct fleet_table *t, unsigned p)
{
    struct fleet_partition *pt = &t->parts[p % FLEET_PARTITIONS_MAX];
    pthread_rwlock_wrlock(&pt->lock); /* no REST apply on p from here */
    pt->held = false;
    uint32_t n = __atomic_load_n(&t->nslots, __ATOMIC_ACQUIRE);
    for (uint32_t s = 0; s < n; s++) {
        struct fleet_slot *sl = &t->slots[s];
        if (LD(&sl->partition) != p || !LD(&sl->held)) {
            continue;
        }
        seq_lock(sl);
        if (LD(&sl->partition) == p && LD(&sl->held)) {
            fleet_grid_remove(t, s, LD(&sl->lat), LD(&sl->lon));
            ST(&sl->held, 0);
            ST(&sl->ts, 0);
            ST(&sl->trail, 0);
            ADD(&t->held, (uint64_t)-1);
        }
        seq_unlock(sl);
    }
    __atomic_store_n(&pt->next_offset, -1, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&pt->lock);
}

bool fleet_partition_held(const struct fleet_table *t, unsigned p)
{
    return LD(&t->parts[p % FLEET_PARTITIONS_MAX].held);
}

uint32_t fleet_murmur2(const void *key, size_t len)
{
    /* MurmurHash2 (Austin Appleby, public domain) with the seed and the tail handling of Kafka's
     * Utils.murmur2, which Kafka's default partitioner and librdkafka's murmur2 partitioner use. */
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    const uint8_t *d = key;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 |
                     (uint32_t)d[i + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len - i) {
    case 3:
        h ^= (uint32_t)d[i + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)d[i + 1] << 8;
        /* fall through */
    case 1:
        h ^= d[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

unsigned fleet_partition_of(uint64_t id, unsigned n)
{
    char key[24];
    size_t len = fleet_key_of(id, key);
    return n == 0 ? 0 : (fleet_murmur2(key, len) & 0x7fffffff) % n;
}
