/*
 * Client-side codecs, part 2: Produce, Fetch and ListOffsets (request encoders, response
 * parsers), through the schema tables of messages_data.c. A parsed Fetch response borrows its
 * record bytes from the input (records), never records_ext.
 */
#include <string.h>

#include "kafka_client/messages_client.h"
#include "protocol/messages_int.h"
#include "protocol/schema_msgs.h"
#include "tandem/error.h"

/* ---- Produce ----------------------------------------------------------------------------------
 */

void kafka_encode_produce_request(struct kw *w, int16_t version, const struct produce_req *req)
{
    schema_encode(&schema_produce_request, w, version, req);
}

int kafka_parse_produce_response(struct kr *r, int16_t version, struct arena *a,
                                 struct produce_resp *out)
{
    return schema_decode(&schema_produce_response, r, version, a, out);
}

/* ---- Fetch ------------------------------------------------------------------------------------
 */

void kafka_encode_fetch_request(struct kw *w, int16_t version, const struct fetch_req *req)
{
    schema_encode(&schema_fetch_request, w, version, req);
}

int kafka_parse_fetch_response(struct kr *r, int16_t version, struct arena *a,
                               struct fetch_resp *out)
{
    return schema_decode(&schema_fetch_response, r, version, a, out);
}

/* ---- ListOffsets ------------------------------------------------------------------------------
 */

void kafka_encode_list_offsets_request(struct kw *w, int16_t version,
                                       const struct list_offsets_req *req)
{
    schema_encode(&schema_list_offsets_request, w, version, req);
}

int kafka_parse_list_offsets_response(struct kr *r, int16_t version, struct arena *a,
                                      struct list_offsets_resp *out)
{
    return schema_decode(&schema_list_offsets_response, r, version, a, out);
}
