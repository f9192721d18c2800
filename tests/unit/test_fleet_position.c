/*
 * The fleet's position codec (services/fleet/position.c): the 32-byte binary position and the
 * REST JSON, both checked by the same rules; what the consumer dead-letters and REST answers 422.
 *
 * The binary vector is written out by hand from the table in docs/fleet.md (little-endian), so a
 * change of the layout fails here before any producer notices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"

/* Field by field: the struct has padding. */
static bool pos_equal(const struct fleet_pos *a, const struct fleet_pos *b)
{
    return a->id == b->id && a->ts == b->ts && a->lat == b->lat && a->lon == b->lon &&
           a->speed_mm == b->speed_mm && a->heading_cd == b->heading_cd;
}

/* id 7 at 48.85 N 2.35 E, 8.3 m/s, heading 90, ts 1796500000000 */
static const uint8_t VEC[FLEET_POS_BYTES] = {
    0x01, 0x00, 0x28, 0x23,                         /* version 1, flags 0, heading 9000 cd */
    0x6c, 0x20, 0x00, 0x00,                         /* speed 8300 mm/s */
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* id 7 */
    0x20, 0xeb, 0x1d, 0x1d,                         /* lat 488,500,000 */
    0xe0, 0x94, 0x66, 0x01,                         /* lon 23,500,000 */
    0x00, 0x8d, 0xbe, 0x47, 0xa2, 0x01, 0x00, 0x00, /* ts 1796500000000 */
};

static void test_binary_vector(void **state)
{
    (void)state;
    struct fleet_pos p;
    assert_null(fleet_pos_decode(VEC, sizeof(VEC), &p));
    assert_int_equal(p.id, 7);
    assert_int_equal(p.lat, 488500000);
    assert_int_equal(p.lon, 23500000);
    assert_int_equal(p.speed_mm, 8300);
    assert_int_equal(p.heading_cd, 9000);
    assert_int_equal(p.ts, INT64_C(1796500000000));
    uint8_t again[FLEET_POS_BYTES];
    fleet_pos_encode(&p, again);
    assert_memory_equal(again, VEC, sizeof(VEC));
}

static void test_binary_refused(void **state)
{
    (void)state;
    struct fleet_pos p;
    uint8_t b[FLEET_POS_BYTES + 1];
    memcpy(b, VEC, sizeof(VEC));
    for (size_t len = 0; len < FLEET_POS_BYTES; len++) { /* every truncation */
        assert_string_equal(fleet_pos_decode(b, len, &p), "length");
    }
    b[FLEET_POS_BYTES] = 0;
    assert_string_equal(fleet_pos_decode(b, sizeof(b), &p), "length");
    assert_string_equal(fleet_pos_decode(NULL, 0, &p), "length");
    b[0] = 2;
    assert_string_equal(fleet_pos_decode(b, FLEET_POS_BYTES, &p), "version");
    memcpy(b, VEC, sizeof(VEC));
    b[1] = 0x80;
    assert_string_equal(fleet_pos_decode(b, FLEET_POS_BYTES, &p), "flags");
    static const struct {
        size_t at;
        uint8_t v;
        const char *bad;
    } CASES[] = {
        {19, 0x40, "lat"},    /* lat 0x401deb20: above 90 degrees */
        {23, 0x80, "lon"},    /* lon negative beyond -180 */
        {7, 0x01, "speed"},   /* speed above 1000 m/s */
        {3, 0x90, "heading"}, /* heading above 36000 cd */
        {15, 0x01, "id"},     /* id beyond 2^53 */
        {31, 0x10, "ts"},     /* ts in the far future */
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        memcpy(b, VEC, sizeof(VEC));
        b[CASES[i].at] = CASES[i].v;
        assert_string_equal(fleet_pos_decode(b, FLEET_POS_BYTES, &p), CASES[i].bad);
    }
    memcpy(b, VEC, sizeof(VEC));
    memset(b + 8, 0, 8); /* id 0 */
    assert_string_equal(fleet_pos_decode(b, FLEET_POS_BYTES, &p), "id");
}

static void test_json(void **state)
{
    (void)state;
    struct fleet_pos p;
    const char *ok = "{\"id\":7,\"lat\":48.85,\"lon\":2.35,\"speed\":8.3,\"heading\":90,"
                     "\"ts\":1796500000000}";
    assert_null(fleet_pos_parse_json(ok, strlen(ok), &p));
    struct fleet_pos want;
    assert_null(fleet_pos_decode(VEC, sizeof(VEC), &want));
    assert_true(pos_equal(&p, &want));
    char out[256];
    size_t n = fleet_pos_json(&p, out, sizeof(out));
    assert_string_equal(out, ok); /* the answer's form is the request's */
    assert_int_equal(n, strlen(ok));
    static const struct {
        const char *json, *bad;
    } CASES[] = {
        {"{\"id\":7,", "json"},
        {"not json", "json"},
        {"[1,2]", "body"},
        {"{\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":1796500000000}", "id"},
        {"{\"id\":\"7\",\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":1796500000000}", "id"},
        {"{\"id\":0,\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":1796500000000}", "id"},
        {"{\"id\":9007199254740992,\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0,"
         "\"ts\":1796500000000}",
         "id"},
        {"{\"id\":7,\"lat\":90.5,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":1796500000000}", "lat"},
        {"{\"id\":7,\"lat\":-91,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":1796500000000}", "lat"},
        {"{\"id\":7,\"lat\":1,\"lon\":180.01,\"speed\":0,\"heading\":0,\"ts\":1796500000000}",
         "lon"},
        {"{\"id\":7,\"lat\":1,\"lon\":\"2\",\"speed\":0,\"heading\":0,\"ts\":1796500000000}",
         "lon"},
        {"{\"id\":7,\"lat\":1,\"lon\":2,\"speed\":-1,\"heading\":0,\"ts\":1796500000000}", "speed"},
        {"{\"id\":7,\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":361,\"ts\":1796500000000}",
         "heading"},
        {"{\"id\":7,\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0}", "ts"},
        {"{\"id\":7,\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":1.5}", "ts"},
        {"{\"id\":7,\"lat\":1,\"lon\":2,\"speed\":0,\"heading\":0,\"ts\":5}", "ts"},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const char *bad = fleet_pos_parse_json(CASES[i].json, strlen(CASES[i].json), &p);
        assert_non_null(bad);
        assert_string_equal(bad, CASES[i].bad);
    }
}

static void test_keys_and_partitions(void **state)
{
    (void)state;
    char key[24];
    assert_int_equal(fleet_key_of(7, key), 1);
    assert_string_equal(key, "7");
    assert_int_equal(fleet_key_of(FLEET_ID_MAX, key), 16);
    assert_string_equal(key, "9007199254740991");
    assert_true(fleet_key_matches("7", 1, 7));
    assert_false(fleet_key_matches("07", 2, 7));
    assert_false(fleet_key_matches(NULL, 0, 7));
    /* Kafka's Utils.murmur2 vectors (its UtilsTest.testMurmur2) */
    assert_int_equal((int32_t)fleet_murmur2("21", 2), -973932308);
    assert_int_equal((int32_t)fleet_murmur2("foobar", 6), -790332482);
    assert_int_equal((int32_t)fleet_murmur2("a-little-bit-long-string", 24), -985981536);
    assert_int_equal((int32_t)fleet_murmur2("a-little-bit-longer-string", 26), -1486304829);
    assert_int_equal((int32_t)fleet_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48),
                     -58897971);
    for (uint64_t id = 1; id < 1000; id++) {
        assert_true(fleet_partition_of(id, 4) < 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_vector),
        cmocka_unit_test(test_binary_refused),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_keys_and_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
