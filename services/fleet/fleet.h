/*
 * services/fleet: vehicle tracking at volume (docs/fleet.md, README.md beside this file).
 *
 * (Being written: the position codec first.)
 */
#ifndef FLEET_H
#define FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- position.c: a position on the wire ------------------------------------------------- */

#define FLEET_POS_BYTES    32
#define FLEET_POS_VERSION  1
#define FLEET_ID_MAX       ((UINT64_C(1) << 53) - 1)
#define FLEET_SPEED_MAX_MM 1000000u /* 1000 m/s */

/* One position as stored: WGS84 degrees in 1e-7 units, speed in mm/s, heading in centidegrees,
 * ts the sender's unix ms of the fix. */
struct fleet_pos {
    uint64_t id;
    int64_t ts;
    int32_t lat, lon;
    uint32_t speed_mm;
    uint16_t heading_cd;
};

/* NULL when p is valid, else the name of the first field out of range ("id", "lat", "lon",
 * "speed", "heading", "ts"). */
const char *fleet_pos_check(const struct fleet_pos *p);

/* Decodes the binary payload (FLEET_POS_BYTES, position.c's table) into *out and checks it.
 * Returns NULL, or what is wrong ("length", "version", "flags", or a field's name). */
const char *fleet_pos_decode(const void *data, size_t len, struct fleet_pos *out);

/* Encodes p (valid) as the binary payload. */
void fleet_pos_encode(const struct fleet_pos *p, uint8_t out[FLEET_POS_BYTES]);

/* The record key of id (its decimal digits) into buf, NUL-terminated; returns its length. */
size_t fleet_key_of(uint64_t id, char buf[24]);

/* Whether key[0..len) is id's record key. */
bool fleet_key_matches(const char *key, size_t len, uint64_t id);

/* A position from a JSON object (the REST body): NULL, or the name of the member that is missing
 * or wrong ("body" when o is not an object). */
const char *fleet_pos_from_json(const json_t *o, struct fleet_pos *out);

/* The same from JSON text ("json" when it is not one JSON text). */
const char *fleet_pos_parse_json(const void *data, size_t len, struct fleet_pos *out);

#endif
