/*
 * The fleet's vehicle table and spatial index (services/fleet/table.c, grid.c, trail.c).
 *
 * The property test: a model (plain arrays of where each vehicle is) is driven with the table
 * through inserts, moves within and across cells and far away, stale positions and a partition
 * given up; after each round, hundreds of random boxes (tiny, huge, thin, edges on a vehicle's
 * exact coordinates, across the antimeridian's edge of the grid) are asked of the index and
 * compared with a brute-force scan of the model: with a limit above the count the sets are
 * equal; with a smaller one the answer is limit distinct vehicles, all inside, and truncated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"

#define N     6000
#define PARTS 4

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int32_t between(int32_t lo, int32_t hi)
{
    return (int32_t)((int64_t)lo + (int64_t)(rnd() % (uint64_t)((int64_t)hi - lo + 1)));
}

struct model {
    bool held[N + 1];
    int32_t lat[N + 1], lon[N + 1];
    int64_t ts[N + 1];
};

static struct model m;
static struct fleet_table t;

/* A place: a third in a dense city (cells with hundreds), a third in a country, the rest
 * anywhere on earth including the grid's edges. */
static void place(int32_t *lat, int32_t *lon)
{
    switch (rnd() % 3) {
    case 0:
        *lat = between(488000000, 489000000);
        *lon = between(23000000, 24000000);
        break;
    case 1:
        *lat = between(420000000, 510000000);
        *lon = between(-50000000, 80000000);
        break;
    default:
        *lat = between(-900000000, 900000000);
        *lon = between(-1800000000, 1800000000);
    }
}

static void apply(uint64_t id, int32_t lat, int32_t lon, int64_t ts)
{
    struct fleet_pos p = {.id = id, .lat = lat, .lon = lon, .ts = ts, .speed_mm = 1000};
    enum fleet_result r = fleet_apply(&t, &p, fleet_partition_of(id, PARTS), FLEET_SRC_EVENTS);
    if (ts > m.ts[id]) {
        assert_int_equal(r, FLEET_APPLIED);
        m.held[id] = true;
        m.lat[id] = lat;
        m.lon[id] = lon;
        m.ts[id] = ts;
    } else {
        assert_int_equal(r, FLEET_STALE);
    }
}

static bool inside(const struct fleet_box *b, int32_t lat, int32_t lon)
{
    return lat >= b->min_lat && lat <= b->max_lat && lon >= b->min_lon && lon <= b->max_lon;
}

static void random_box(struct fleet_box *b)
{
    int kind = (int)(rnd() % 6);
    int32_t lat, lon;
    uint64_t id = 1 + rnd() % N;
    if (kind == 0 && m.held[id]) { /* edges on a vehicle's exact coordinates */
        lat = m.lat[id];
        lon = m.lon[id];
        b->min_lat = lat;
        b->max_lat = lat + between(0, 3000000);
        b->min_lon = lon - between(0, 3000000);
        b->max_lon = lon;
        return;
    }
    place(&lat, &lon);
    int32_t h = kind == 1   ? between(0, 2000)      /* tiny */
                : kind == 2 ? between(0, 900000000) /* huge */
                : kind == 3 ? between(0, 20000)     /* thin */
                            : between(0, 5000000);  /* a city's */
    int32_t w = kind == 3 ? between(0, 1800000000) : kind == 2 ? between(0, 1800000000) : h;
    int64_t a = (int64_t)lat - h, z = (int64_t)lat + h, l = (int64_t)lon - w, r = (int64_t)lon + w;
    b->min_lat = (int32_t)(a < -900000000 ? -900000000 : a);
    b->max_lat = (int32_t)(z > 900000000 ? 900000000 : z);
    b->min_lon = (int32_t)(l < -1800000000 ? -1800000000 : l);
    b->max_lon = (int32_t)(r > 1800000000 ? 1800000000 : r);
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = ((const struct fleet_pos *)a)->id, y = ((const struct fleet_pos *)b)->id;
    return x < y ? -1 : x > y;
}

static void check_boxes(int rounds)
{
    static struct fleet_pos out[N + 1];
    for (int r = 0; r < rounds; r++) {
        struct fleet_box b;
        random_box(&b);
        size_t want = 0;
        for (uint64_t id = 1; id <= N; id++) {
            want += m.held[id] && inside(&b, m.lat[id], m.lon[id]);
        }
        bool more;
        size_t n = fleet_query(&t, &b, 0, out, N + 1, &more); /* all of them */
        assert_int_equal(n, want);
        assert_false(more);
        qsort(out, n, sizeof(out[0]), cmp_id);
        for (size_t i = 0; i < n; i++) {
            uint64_t id = out[i].id;
            assert_true(id >= 1 && id <= N && m.held[id]);
            assert_true(i == 0 || out[i - 1].id < id); /* distinct */
            assert_int_equal(out[i].lat, m.lat[id]);
            assert_int_equal(out[i].lon, m.lon[id]);
            assert_int_equal(out[i].ts, m.ts[id]);
        }
        size_t limit = 1 + rnd() % 50; /* a limit: that many, distinct, inside */
        n = fleet_query(&t, &b, 0, out, limit, &more);
        assert_int_equal(n, want < limit ? want : limit);
        assert_true(more == (want > limit));
        qsort(out, n, sizeof(out[0]), cmp_id);
        for (size_t i = 0; i < n; i++) {
            assert_true(inside(&b, out[i].lat, out[i].lon));
            assert_true(m.held[out[i].id]);
            assert_true(i == 0 || out[i - 1].id < out[i].id);
        }
    }
}

static void test_bbox_equals_brute_force(void **state)
{
    (void)state;
    memset(&m, 0, sizeof(m));
    assert_int_equal(fleet_table_init(&t, N, 1024), 0);
    for (unsigned p = 0; p < PARTS; p++) {
        fleet_partition_hold(&t, p);
    }
    int64_t ts = INT64_C(1796500000000);
    for (uint64_t id = 1; id <= N; id++) {
        int32_t lat, lon;
        place(&lat, &lon);
        apply(id, lat, lon, ++ts);
    }
    check_boxes(300);
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4 * N; k++) {
            uint64_t id = 1 + rnd() % N;
            int32_t lat = m.lat[id], lon = m.lon[id];
            switch (rnd() % 4) {
            case 0: /* a few metres: same cell mostly */
                lat += between(-200, 200);
                lon += between(-200, 200);
                break;
            case 1: /* a few km: another cell */
                lat += between(-300000, 300000);
                lon += between(-300000, 300000);
                break;
            case 2:
                place(&lat, &lon);
                break;
            default: /* an older position: stale, changes nothing */
                place(&lat, &lon);
                apply(id, lat, lon, m.ts[id] - (int64_t)(rnd() % 2));
                continue;
            }
            lat = lat < -900000000 ? -900000000 : lat > 900000000 ? 900000000 : lat;
            lon = lon < -1800000000 ? -1800000000 : lon > 1800000000 ? 1800000000 : lon;
            if (!m.held[id]) {
                continue; /* its partition was given up: it comes back with its partition */
            }
            apply(id, lat, lon, ++ts);
        }
        if (round == 1) { /* a partition given up: its vehicles leave the index */
            fleet_partition_release(&t, 2);
            for (uint64_t id = 1; id <= N; id++) {
                if (fleet_partition_of(id, PARTS) == 2) {
                    m.held[id] = false;
                    m.ts[id] = 0;
                    struct fleet_pos p;
                    assert_false(fleet_get(&t, id, &p));
                }
            }
        }
        check_boxes(200);
    }
    uint64_t held = 0;
    for (uint64_t id = 1; id <= N; id++) {
        held += m.held[id];
    }
    assert_int_equal(t.held, held);
    fleet_table_cleanup(&t);
}

static void test_stale_and_trail(void **state)
{
    (void)state;
    assert_int_equal(fleet_table_init(&t, 16, 64), 0);
    struct fleet_pos p = {.id = 42, .lat = 100, .lon = 200, .ts = 1796500000000, .speed_mm = 5};
    assert_int_equal(fleet_apply(&t, &p, 1, FLEET_SRC_REST), FLEET_APPLIED);
    struct fleet_pos older = p;
    older.ts--;
    older.lat = 999;
    assert_int_equal(fleet_apply(&t, &older, 1, FLEET_SRC_EVENTS), FLEET_STALE);
    assert_int_equal(fleet_apply(&t, &p, 1, FLEET_SRC_EVENTS), FLEET_STALE); /* the same again */
    for (int i = 1; i <= 5; i++) {
        struct fleet_pos q = p;
        q.ts += i;
        q.lat += i;
        assert_int_equal(fleet_apply(&t, &q, 1, FLEET_SRC_EVENTS), FLEET_APPLIED);
    }
    struct fleet_pos got;
    assert_true(fleet_get(&t, 42, &got));
    assert_int_equal(got.lat, 105);
    assert_int_equal(got.ts, p.ts + 5);
    struct fleet_trail_point tr[10];
    size_t n = fleet_trail_get(&t, 42, tr, 10);
    assert_int_equal(n, 6); /* newest first */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tr[i].ts, p.ts + 5 - (int64_t)i);
        assert_int_equal(tr[i].lat, 105 - (int)i);
    }
    assert_int_equal(fleet_trail_get(&t, 42, tr, 2), 2);
    assert_int_equal(t.counters[FLEET_SRC_EVENTS].applied, 5);
    assert_int_equal(t.counters[FLEET_SRC_EVENTS].stale, 2);
    assert_int_equal(t.counters[FLEET_SRC_REST].applied, 1);
    /* REST applies only to a held partition */
    assert_int_equal(fleet_apply_held(&t, &p, 3, FLEET_SRC_REST), FLEET_NOT_HELD);
    fleet_partition_hold(&t, 3);
    struct fleet_pos r = {.id = 43, .lat = 1, .lon = 1, .ts = 1796500000000};
    assert_int_equal(fleet_apply_held(&t, &r, 3, FLEET_SRC_REST), FLEET_APPLIED);
    fleet_partition_close(&t, 3);
    r.ts++;
    assert_int_equal(fleet_apply_held(&t, &r, 3, FLEET_SRC_REST), FLEET_NOT_HELD);
    assert_true(fleet_get(&t, 43, &got)); /* closed, not yet released: still readable */
    fleet_partition_release(&t, 3);
    assert_false(fleet_get(&t, 43, &got));
    /* a full table refuses new vehicles, not known ones */
    for (uint64_t id = 100; id < 114; id++) {
        struct fleet_pos q = {.id = id, .lat = 0, .lon = 0, .ts = 1796500000000};
        assert_int_equal(fleet_apply(&t, &q, 0, FLEET_SRC_EVENTS), FLEET_APPLIED);
    }
    struct fleet_pos q = {.id = 999, .lat = 0, .lon = 0, .ts = 1796500000000};
    assert_int_equal(fleet_apply(&t, &q, 0, FLEET_SRC_EVENTS), FLEET_FULL);
    fleet_table_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bbox_equals_brute_force),
        cmocka_unit_test(test_stale_and_trail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
