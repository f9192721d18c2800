/*
 * The fleet's snapshots (services/fleet/snapshot.c): a partition written and loaded into a fresh
 * table answers the same (every vehicle, every box), other partitions are not in it, and a file
 * that is truncated, corrupted, of another partition or another partition count is refused whole
 * (nothing applied).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"
#include "tandem/error.h"

/* Field by field: the struct has padding. */
static bool pos_equal(const struct fleet_pos *a, const struct fleet_pos *b)
{
    return a->id == b->id && a->ts == b->ts && a->lat == b->lat && a->lon == b->lon &&
           a->speed_mm == b->speed_mm && a->heading_cd == b->heading_cd;
}

#define N     3000
#define PARTS 4

static char dir[] = "/tmp/tandem-fleet-snap-XXXXXX";

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void path_of(char *buf, size_t cap, unsigned p)
{
    snprintf(buf, cap, "%s/vehicle-positions-%u.snap", dir, p);
}

static void fill(struct fleet_table *t)
{
    assert_int_equal(fleet_table_init(t, N, 0), 0);
    for (uint64_t id = 1; id <= N; id++) {
        struct fleet_pos p = {.id = id * 7919,
                              .lat = (int32_t)((int64_t)(rnd() % 1800000001) - 900000000),
                              .lon = (int32_t)((int64_t)(rnd() % 3600000001) - 1800000000),
                              .speed_mm = (uint32_t)(rnd() % 40000),
                              .heading_cd = (uint16_t)(rnd() % 36001),
                              .ts = 1796500000000 + (int64_t)(rnd() % 100000)};
        assert_int_equal(fleet_apply(t, &p, fleet_partition_of(p.id, PARTS), FLEET_SRC_EVENTS),
                         FLEET_APPLIED);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    struct fleet_table a, b;
    fill(&a);
    size_t written[PARTS], total = 0;
    for (unsigned p = 0; p < PARTS; p++) {
        assert_int_equal(fleet_snapshot_write(&a, dir, p, PARTS, 1000 + p, &written[p]), 0);
        total += written[p];
    }
    assert_int_equal(total, N);
    assert_int_equal(fleet_table_init(&b, N, 0), 0);
    int64_t off;
    size_t count;
    assert_int_equal(fleet_snapshot_load(&b, dir, 1, PARTS, &off, &count), 0);
    assert_int_equal(off, 1001);
    assert_int_equal(count, written[1]);
    for (uint64_t id = 1; id <= N; id++) {
        struct fleet_pos x, y;
        assert_true(fleet_get(&a, id * 7919, &x));
        bool in_b = fleet_get(&b, id * 7919, &y);
        assert_true(in_b == (fleet_partition_of(id * 7919, PARTS) == 1));
        if (in_b) {
            assert_true(pos_equal(&x, &y));
        }
    }
    for (unsigned p = 0; p < PARTS; p++) {
        if (p != 1) {
            assert_int_equal(fleet_snapshot_load(&b, dir, p, PARTS, &off, &count), 0);
        }
    }
    /* everything loaded: every box answers the same */
    static struct fleet_pos ra[N], rb[N];
    for (int i = 0; i < 100; i++) {
        struct fleet_box box = {.min_lat = (int32_t)(rnd() % 900000000) - 900000000,
                                .min_lon = (int32_t)(rnd() % 1800000000) - 1800000000};
        box.max_lat = box.min_lat + (int32_t)(rnd() % 900000000);
        box.max_lon = box.min_lon + (int32_t)(rnd() % 1800000000);
        bool ma, mb;
        size_t na = fleet_query(&a, &box, 0, ra, N, &ma);
        size_t nb = fleet_query(&b, &box, 0, rb, N, &mb);
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++) {
            struct fleet_pos y;
            assert_true(fleet_get(&b, ra[k].id, &y));
            assert_true(pos_equal(&ra[k], &y));
        }
    }
    assert_int_equal(b.counters[FLEET_SRC_SNAPSHOT].applied, N);
    fleet_table_cleanup(&b);
    /* no position: the offset says "from the beginning" */
    assert_int_equal(fleet_table_init(&b, N, 0), 0);
    assert_int_equal(fleet_snapshot_write(&b, dir, 3, PARTS, -1, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(fleet_snapshot_load(&b, dir, 3, PARTS, &off, &count), 0);
    assert_true(off < 0);
    assert_int_equal(fleet_snapshot_load(&b, dir, 9, PARTS, &off, &count), TANDEM_ENOENT);
    fleet_table_cleanup(&b);
    fleet_table_cleanup(&a);
}

static void expect_refused(unsigned p, unsigned nparts)
{
    struct fleet_table b;
    assert_int_equal(fleet_table_init(&b, N, 0), 0);
    int64_t off = 77;
    size_t count = 77;
    assert_int_equal(fleet_snapshot_load(&b, dir, p, nparts, &off, &count), TANDEM_EINVAL);
    assert_int_equal(b.nslots, 0); /* nothing applied */
    assert_int_equal(off, 77);
    fleet_table_cleanup(&b);
}

static void test_bad_files(void **state)
{
    (void)state;
    struct fleet_table a;
    fill(&a);
    assert_int_equal(fleet_snapshot_write(&a, dir, 0, PARTS, 5, NULL), 0);
    fleet_table_cleanup(&a);
    char path[512];
    path_of(path, sizeof(path), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t data[64 + N * FLEET_POS_BYTES];
    size_t size = fread(data, 1, sizeof(data), f);
    fclose(f);
    assert_true(size > FLEET_SNAP_HEADER + FLEET_POS_BYTES);
    expect_refused(0, 8); /* another partition count */
    /* truncated, a flipped byte of a position, a bad magic */
    const struct {
        size_t len, flip;
    } CASES[] = {
        {size - 1, SIZE_MAX},
        {size - FLEET_POS_BYTES, SIZE_MAX},
        {10, SIZE_MAX},
        {size, FLEET_SNAP_HEADER + 40},
        {size, 0},
        {size, 24},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        f = fopen(path, "wb");
        assert_non_null(f);
        if (CASES[i].flip != SIZE_MAX) {
            data[CASES[i].flip] ^= 0x10;
        }
        assert_int_equal(fwrite(data, 1, CASES[i].len, f), CASES[i].len);
        fclose(f);
        if (CASES[i].flip != SIZE_MAX) {
            data[CASES[i].flip] ^= 0x10;
        }
        expect_refused(0, PARTS);
    }
    /* another partition's file under this name */
    f = fopen(path, "wb");
    data[8] = 2;
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
    expect_refused(0, PARTS);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[512];
    for (unsigned p = 0; p < PARTS; p++) {
        path_of(path, sizeof(path), p);
        unlink(path);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
