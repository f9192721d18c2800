/*
 * The client side of the codecs in protocol/messages.h: request encoders and response parsers for
 * the same APIs and versions, plus request framing. The broker never calls these, so they live
 * beside the tests (tests/common/kafka_client/, the static library tandem_kafka_client) and not in
 * tandem_broker_core: the unit tests use them for round trips and captured vectors, the fuzzers to
 * re-encode what they parsed, and the integration tests that speak raw Kafka to build frames. They
 * share the codecs' private helpers (protocol/messages_int.h), so both directions read and write
 * the primitive types the same way.
 *
 * Conventions mirror messages.h: kafka_encode_<api>_request(w, version, req) appends the request
 * body (after the request header) for that version, writing only the fields it has;
 * kafka_parse_<api>_response(r, version, arena, out) reads a whole response body, borrowing
 * strings and record bytes from the input and taking arrays from the arena, and returns 0,
 * TANDEM_EPROTO (truncated, malformed or trailing bytes), TANDEM_EUNSUPPORTED (version outside
 * the codec's range) or TANDEM_ETOOLARGE (arena cap). A parsed Fetch response has its records in
 * `records` (records_ext is NULL).
 *
 * A whole request frame is built as:
 *
 *   size_t at = kafka_frame_begin(w);                  INT32 size placeholder
 *   kafka_encode_request_header(w, &hdr);               header v0/1/2 from key and version
 *   kafka_encode_metadata_request(w, hdr.request_api_version, &req);
 *   kafka_frame_end(w, at);                            patches the size
 */
#ifndef TANDEM_KAFKA_CLIENT_MESSAGES_CLIENT_H
#define TANDEM_KAFKA_CLIENT_MESSAGES_CLIENT_H

#include "base/kbuf.h"
#include "protocol/messages.h"

/* Writes a 4-byte size placeholder and returns its offset. */
size_t kafka_frame_begin(struct kw *w);
/* Patches the size written by kafka_frame_begin to the bytes that follow it. */
void kafka_frame_end(struct kw *w, size_t at);

/* Writes a request header; the header version is derived from the api key and version
 * (kafka_request_header_version), h->header_version is ignored. */
void kafka_encode_request_header(struct kw *w, const struct kafka_req_header *h);
/* Reads a response header of the given version (0 or 1). Returns 0 or TANDEM_EPROTO. */
int kafka_parse_response_header(struct kr *r, int header_version, int32_t *correlation_id);

void kafka_encode_api_versions_request(struct kw *w, int16_t version,
                                       const struct api_versions_req *req);
int kafka_parse_api_versions_response(struct kr *r, int16_t version, struct arena *a,
                                      struct api_versions_resp *out);

/* ntopics -1 asks for all topics: an empty array in v0, a null array in v1+. */
void kafka_encode_metadata_request(struct kw *w, int16_t version, const struct metadata_req *req);
int kafka_parse_metadata_response(struct kr *r, int16_t version, struct arena *a,
                                  struct metadata_resp *out);

void kafka_encode_produce_request(struct kw *w, int16_t version, const struct produce_req *req);
int kafka_parse_produce_response(struct kr *r, int16_t version, struct arena *a,
                                 struct produce_resp *out);

void kafka_encode_fetch_request(struct kw *w, int16_t version, const struct fetch_req *req);
int kafka_parse_fetch_response(struct kr *r, int16_t version, struct arena *a,
                               struct fetch_resp *out);

void kafka_encode_list_offsets_request(struct kw *w, int16_t version,
                                       const struct list_offsets_req *req);
int kafka_parse_list_offsets_response(struct kr *r, int16_t version, struct arena *a,
                                      struct list_offsets_resp *out);

void kafka_encode_create_topics_request(struct kw *w, int16_t version,
                                        const struct create_topics_req *req);
int kafka_parse_create_topics_response(struct kr *r, int16_t version, struct arena *a,
                                       struct create_topics_resp *out);

void kafka_encode_delete_topics_request(struct kw *w, int16_t version,
                                        const struct delete_topics_req *req);
int kafka_parse_delete_topics_response(struct kr *r, int16_t version, struct arena *a,
                                       struct delete_topics_resp *out);

void kafka_encode_init_producer_id_request(struct kw *w, int16_t version,
                                           const struct init_producer_id_req *req);
int kafka_parse_init_producer_id_response(struct kr *r, int16_t version, struct arena *a,
                                          struct init_producer_id_resp *out);

void kafka_encode_create_partitions_request(struct kw *w, int16_t version,
                                            const struct create_partitions_req *req);
int kafka_parse_create_partitions_response(struct kr *r, int16_t version, struct arena *a,
                                           struct create_partitions_resp *out);

#endif
