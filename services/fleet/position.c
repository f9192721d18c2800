/*
 * position.c: a vehicle position on the wire, both ways (docs/fleet.md, "The position").
 *
 * Two encodings decode into the same struct fleet_pos, and both are checked by the same rules
 * (fleet_pos_check), so a position is valid or not whatever way it came:
 *
 *   - the event payload, binary, 32 bytes little-endian (the topic's records, chosen by
 *     measurement: docs/fleet.md "Why binary"):
 *
 *       OFFSET SIZE FIELD
 *       0      1    version          1
 *       1      1    flags            0 (reserved: a record with any bit set is refused)
 *       2      2    heading          u16, centidegrees 0..36000
 *       4      4    speed            u32, mm/s 0..1,000,000
 *       8      8    id               u64, 1..2^53-1 (every JSON client reads it exactly)
 *       16     4    lat              i32, 1e-7 degrees -900,000,000..900,000,000
 *       20     4    lon              i32, 1e-7 degrees -1,800,000,000..1,800,000,000
 *       24     8    ts               i64, unix ms of the fix, 2000-01-01..2100-01-01
 *
 *     The record's key must be the id in decimal (the producer partitions by it, and the fleet
 *     finds a vehicle's owner by the same key): a record whose key differs is refused too.
 *
 *   - JSON, the REST body (and the measured alternative for events):
 *     {"id":7,"lat":48.85,"lon":2.35,"speed":8.3,"heading":90,"ts":1796500000000}, every member
 *     required, numbers (id and ts integers), degrees and m/s rounded to the stored units.
 *
 * Pure: no allocation but jansson's, no state. Fuzzed by tests/fuzz/fuzz_fleet_position.c.
 */
#include <math.h>
#include <string.h>

#include "fleet.h"

#define TS_MIN 946684800000LL  /* 2000-01-01T00:00:00Z */
#define TS_MAX 4102444800000LL /* 2100-01-01T00:00:00Z */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

const char *fleet_pos_check(const struct fleet_pos *p)
{
    if (p->id == 0 || p->id > FLEET_ID_MAX) {
        return "id";
    }
    if (p->lat < -900000000 || p->lat > 900000000) {
        return "lat";
    }
    if (p->lon < -1800000000 || p->lon > 1800000000) {
        return "lon";
    }
    if (p->speed_mm > FLEET_SPEED_MAX_MM) {
        return "speed";
    }
    if (p->heading_cd > 36000) {
        return "heading";
    }
    if (p->ts < TS_MIN || p->ts >= TS_MAX) {
        return "ts";
    }
    return NULL;
}

const char *fleet_pos_decode(const void *data, size_t len, struct fleet_pos *out)
{
    const uint8_t *b = data;
    if (b == NULL || len != FLEET_POS_BYTES) {
        return "length";
    }
    if (b[0] != FLEET_POS_VERSION) {
        return "version";
    }
    if (b[1] != 0) {
        return "flags";
    }
    out->heading_cd = rd16(b + 2);
    out->speed_mm = rd32(b + 4);
    out->id = rd64(b + 8);
    out->lat = (int32_t)rd32(b + 16);
    out->lon = (int32_t)rd32(b + 20);
    out->ts = (int64_t)rd64(b + 24);
    return fleet_pos_check(out);
}

void fleet_pos_encode(const struct fleet_pos *p, uint8_t out[FLEET_POS_BYTES])
{
    out[0] = FLEET_POS_VERSION;
    out[1] = 0;
    wr16(out + 2, p->heading_cd);
    wr32(out + 4, p->speed_mm);
    wr64(out + 8, p->id);
    wr32(out + 16, (uint32_t)p->lat);
    wr32(out + 20, (uint32_t)p->lon);
    wr64(out + 24, (uint64_t)p->ts);
}

bool fleet_key_matches(const char *key, size_t len, uint64_t id)
{
    char buf[24];
    size_t n = fleet_key_of(id, buf);
    return key != NULL && len == n && memcmp(key, buf, n) == 0;
}

size_t fleet_key_of(uint64_t id, char buf[24])
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id > 0);
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    buf[n] = '\0';
    return n;
}

/* A JSON number member as a double; false when absent or not a number. */
static bool num_of(const json_t *o, const char *name, double *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_number(v)) {
        return false;
    }
    *out = json_number_value(v);
    return isfinite(*out);
}

/* Rounds v * scale into [lo, hi]; false when outside. */
static bool scaled(double v, double scale, double lo, double hi, int64_t *out)
{
    double s = v * scale;
    if (!(s >= lo - 0.5 && s <= hi + 0.5)) {
        return false;
    }
    int64_t r = (int64_t)llround(s);
    *out = r < (int64_t)lo ? (int64_t)lo : (r > (int64_t)hi ? (int64_t)hi : r);
    return true;
}

const char *fleet_pos_from_json(const json_t *o, struct fleet_pos *out)
{
    if (!json_is_object(o)) {
        return "body";
    }
    const json_t *id = json_object_get(o, "id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0 ||
        (uint64_t)json_integer_value(id) > FLEET_ID_MAX) {
        return "id";
    }
    out->id = (uint64_t)json_integer_value(id);
    double v;
    int64_t r;
    if (!num_of(o, "lat", &v) || !scaled(v, 1e7, -900000000.0, 900000000.0, &r)) {
        return "lat";
    }
    out->lat = (int32_t)r;
    if (!num_of(o, "lon", &v) || !scaled(v, 1e7, -1800000000.0, 1800000000.0, &r)) {
        return "lon";
    }
    out->lon = (int32_t)r;
    if (!num_of(o, "speed", &v) || !scaled(v, 1000.0, 0.0, FLEET_SPEED_MAX_MM, &r)) {
        return "speed";
    }
    out->speed_mm = (uint32_t)r;
    if (!num_of(o, "heading", &v) || !scaled(v, 100.0, 0.0, 36000.0, &r)) {
        return "heading";
    }
    out->heading_cd = (uint16_t)r;
    const json_t *ts = json_object_get(o, "ts");
    if (!json_is_integer(ts)) {
        return "ts";
    }
    out->ts = json_integer_value(ts);
    return fleet_pos_check(out);
}

const char *fleet_pos_parse_json(const void *data, size_t len, struct fleet_pos *out)
{
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL) {
        return "json";
    }
    const char *bad = fleet_pos_from_json(o, out);
    json_decref(o);
    return bad;
}
