/*
 * test_ingest_sim: tandem-ingest's city (bench/ingest/sim.c). The vehicles must be plausible,
 * since the fleet's maps show them: always on a street of the grid and inside it, never faster
 * than an avenue allows nor jumping between two fixes, heading along their street; they drive,
 * turn and stop at lights. The schedule must be exact: update k is vehicle k mod N, due at
 * start + k / rate, each vehicle's ts strictly increasing. And a seed replays the same run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../bench/ingest/sim.c"

#define START_UNIX 1796500000000000000ll /* ns */

static struct sim *make(uint64_t n, double rate, uint64_t seed)
{
    struct sim_config c = {
        .vehicles = n, .rate = rate, .id_base = 1, .seed = seed, .lat0 = 48.8156, .lon0 = 2.2241};
    struct sim *s = NULL;
    assert_int_equal(sim_new(&c, &s), 0);
    sim_start(s, 1000000000ull, START_UNIX);
    return s;
}

static void test_refuses(void **state)
{
    struct sim *s = NULL;
    struct sim_config c = {.vehicles = 0, .rate = 10};
    assert_int_equal(sim_new(&c, &s), TANDEM_EINVAL);
    c.vehicles = 10;
    c.rate = 0;
    assert_int_equal(sim_new(&c, &s), TANDEM_EINVAL);
    assert_int_equal(sim_new(NULL, &s), TANDEM_EINVAL);
}

static void test_schedule(void **state)
{
    struct sim *s = make(7, 1000, 1);
    for (uint64_t k = 0; k < 700; k++) {
        struct pos p;
        assert_int_equal(sim_due(s), 1000000000ull + k * 1000000ull);
        uint64_t due = sim_next(s, &p);
        assert_int_equal(due, 1000000000ull + k * 1000000ull);
        assert_int_equal(p.id, 1 + k % 7);
        assert_int_equal(p.ts, (START_UNIX + (int64_t)k * 1000000) / 1000000);
        assert_int_equal(sim_index(s, p.id), (int64_t)(k % 7));
    }
    assert_int_equal(sim_count(s), 700);
    assert_int_equal(sim_index(s, 0), -1);
    assert_int_equal(sim_index(s, 8), -1);
    /* a new start numbers from 0 again; the vehicles go on, their ts only grow */
    sim_start(s, 5000000000ull, START_UNIX);
    struct pos p;
    sim_next(s, &p);
    assert_int_equal(p.id, 1);
    assert_true(p.ts > START_UNIX / 1000000 + 693);
    sim_free(s);
}

static void test_same_seed_same_run(void **state)
{
    struct sim *a = make(100, 1000, 42), *b = make(100, 1000, 42), *c = make(100, 1000, 43);
    int differ = 0;
    for (int k = 0; k < 50000; k++) {
        struct pos pa, pb, pc;
        sim_next(a, &pa);
        sim_next(b, &pb);
        sim_next(c, &pc);
        assert_memory_equal(&pa, &pb, sizeof(pa));
        differ += pa.lat != pc.lat || pa.lon != pc.lon;
    }
    assert_true(differ > 40000);
    sim_free(a);
    sim_free(b);
    sim_free(c);
}

/* 500 vehicles at 1 Hz for 20 minutes. */
static void test_plausible(void **state)
{
    enum { N = 500, SECONDS = 1200 };
    struct sim *s = make(N, N, 7);
    int32_t lat_min, lat_max, lon_min, lon_max;
    uint32_t vmax;
    sim_bounds(s, &lat_min, &lat_max, &lon_min, &lon_max, &vmax);
    assert_true(vmax > 14000 && vmax < 15000); /* 50 km/h and 5 % */
    static struct pos last[N];
    double lat_per_block = s->c.block_m / M_PER_DEG_LAT * 1e7;
    double lon_per_block = s->c.block_m / s->m_per_deg_lon * 1e7;
    uint64_t stopped = 0, moving = 0, turns = 0, fixes = 0;
    double speed_sum = 0;
    for (int k = 0; k < N * SECONDS; k++) {
        struct pos p;
        sim_next(s, &p);
        size_t i = p.id - 1;
        /* inside the grid, on a street: one coordinate on a street line (within a centimetre:
         * 1e-7 degrees of rounding) */
        assert_true(p.lat >= lat_min - 1 && p.lat <= lat_max + 1);
        assert_true(p.lon >= lon_min - 1 && p.lon <= lon_max + 1);
        double fy = (p.lat - lat_min) / lat_per_block, fx = (p.lon - lon_min) / lon_per_block;
        bool on_ns = fabs(fx - round(fx)) < 0.001, on_ew = fabs(fy - round(fy)) < 0.001;
        assert_true(on_ns || on_ew);
        /* heading along the street it is on */
        assert_true(p.heading_cd % 9000 == 0 && p.heading_cd < 36000);
        bool ns = p.heading_cd == 0 || p.heading_cd == 18000;
        assert_true(ns ? on_ns : on_ew);
        assert_true(p.speed_mm <= vmax);
        if (last[i].ts != 0) {
            assert_true(p.ts > last[i].ts);
            /* no jump: at most the fastest speed for the time between two fixes, in metres */
            double dy = (p.lat - last[i].lat) / lat_per_block * s->c.block_m;
            double dx = (p.lon - last[i].lon) / lon_per_block * s->c.block_m;
            double dt = (double)(p.ts - last[i].ts) / 1000.0;
            assert_true(fabs(dx) + fabs(dy) <= vmax / 1000.0 * dt + 0.05);
            turns += p.heading_cd != last[i].heading_cd;
        }
        stopped += p.speed_mm == 0;
        moving += p.speed_mm > 0;
        speed_sum += p.speed_mm / 1000.0;
        fixes++;
        last[i] = p;
    }
    double mean = speed_sum / (double)fixes;
    /* a city: 15 to 35 km/h on average (measured: 22), stopped at lights a twentieth to a half
     * of the time (23 %), a turn every few blocks (30 % of the intersections: 18 turns a vehicle
     * in 20 minutes at 22 km/h) */
    assert_true(mean > 15 / 3.6 && mean < 35 / 3.6);
    assert_true(stopped > fixes / 20 && stopped < fixes / 2);
    assert_true(moving > fixes / 2);
    assert_true(turns > N * 10 && turns < N * 40);
    sim_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_plausible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
