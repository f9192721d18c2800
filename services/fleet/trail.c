/*
 * trail.c: the vehicles' recent positions, in one ring shared by all of them.
 *
 * MODEL. A vehicle's latest position is its slot; its trail is its earlier positions among the
 * last N applied by this instance (N = --trail-points, a power of two). Every applied position is
 * written at the ring's next place (a counter taken with an atomic add) and points back to the
 * same vehicle's previous point, whose counter + 1 the slot keeps (0: none). So the trails cost
 * nothing per vehicle and a fixed 32 bytes per point, and their depth follows the load: at 1,000
 * vehicles reporting each second, a ring of 524,288 points holds the last 8.7 minutes of each;
 * at 500,000 positions a second, the last second (docs/fleet.md, "Trails").
 *
 * A point is valid while its place has not been written again: a reader following the chain
 * checks the point's tag (its counter + 1, written last with release; 0 while it is written),
 * that it is still the vehicle's, and that times go strictly back; the first point that fails
 * ends the trail. The writer of a vehicle's points holds its seqlock (table.c), so a chain is
 * only ever extended by one thread at a time.
 */
#include "fleet.h"

#define LD(p)    __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

uint32_t fleet_trail_add(struct fleet_table *t, uint32_t slot, uint32_t prev, int32_t lat,
                         int32_t lon, int64_t ts)
{
    uint32_t n = __atomic_fetch_add(&t->trail_next, 1, __ATOMIC_RELAXED);
    uint32_t tag = n + 1 != 0 ? n + 1 : 1; /* 0 means "being written" */
    struct fleet_trail_pt *pt = &t->trail[n & t->trail_mask];
    __atomic_store_n(&pt->tag, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE); /* the 0 is seen before any new field */
    ST(&pt->slot, slot);
    ST(&pt->prev, prev);
    ST(&pt->lat, lat);
    ST(&pt->lon, lon);
    ST(&pt->ts, ts);
    __atomic_store_n(&pt->tag, tag, __ATOMIC_RELEASE);
    return tag;
}

size_t fleet_trail_get(const struct fleet_table *t, uint64_t id, struct fleet_trail_point *out,
                       size_t cap)
{
    uint32_t s = fleet_lookup(t, id);
    if (s == UINT32_MAX || t->trail == NULL) {
        return 0;
    }
    const struct fleet_slot *sl = &t->slots[s];
    uint32_t tag;
    for (;;) { /* the newest point's tag, read under the slot's seqlock */
        uint32_t q = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
        tag = LD(&sl->trail);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ((q & 1) == 0 && LD(&sl->seq) == q) {
            break;
        }
    }
    size_t n = 0;
    int64_t after = INT64_MAX;
    while (tag != 0 && n < cap) {
        const struct fleet_trail_pt *pt = &t->trail[(tag - 1) & t->trail_mask];
        if (__atomic_load_n(&pt->tag, __ATOMIC_ACQUIRE) != tag) {
            break;
        }
        uint32_t slot = LD(&pt->slot), prev = LD(&pt->prev);
        struct fleet_trail_point p = {.lat = LD(&pt->lat), .lon = LD(&pt->lon), .ts = LD(&pt->ts)};
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (LD(&pt->tag) != tag || slot != s || p.ts >= after) {
            break; /* written over meanwhile, or not this vehicle's any more */
        }
        out[n++] = p;
        after = p.ts;
        tag = prev;
    }
    return n;
}
