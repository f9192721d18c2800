/*
 * libFuzzer target for the fleet's position codec (services/fleet/position.c): the topic's
 * records and the REST bodies are anyone's.
 *
 * The input is tried as a binary position and as a JSON body. Invariants checked, beyond "no
 * crash, no sanitizer report":
 *   - a binary position that decodes is 32 bytes, passes fleet_pos_check, and encodes back to the
 *     same bytes;
 *   - a JSON position that parses passes fleet_pos_check, and the API's JSON of it
 *     (fleet_pos_json) parses back to the same position.
 * Seeds: tests/fuzz/corpus/fleet_position/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field by field: the struct has padding. */
static bool pos_equal(const struct fleet_pos *a, const struct fleet_pos *b)
{
    return a->id == b->id && a->ts == b->ts && a->lat == b->lat && a->lon == b->lon &&
           a->speed_mm == b->speed_mm && a->heading_cd == b->heading_cd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fleet_pos p, q;
    if (fleet_pos_decode(data, size, &p) == NULL) {
        uint8_t again[FLEET_POS_BYTES];
        fleet_pos_encode(&p, again);
        if (size != FLEET_POS_BYTES || fleet_pos_check(&p) != NULL ||
            memcmp(again, data, size) != 0) {
            abort();
        }
    }
    if (fleet_pos_parse_json(data, size, &p) == NULL) {
        char text[256];
        size_t n = fleet_pos_json(&p, text, sizeof(text));
        if (fleet_pos_check(&p) != NULL || n == 0 || fleet_pos_parse_json(text, n, &q) != NULL ||
            !pos_equal(&p, &q)) {
            abort();
        }
    }
    return 0;
}
