/*
 * Kafka request and response messages as C structs, and their codecs.
 *
 * Source of truth: Apache Kafka clients/src/main/resources/common/message/<Name>Request.json and
 * <Name>Response.json. Field names follow the spec (snake_case of the JSON names) so the code can
 * be read against it; a comment "vN+" marks a field present from version N. The versions handled
 * (kafka_codec_versions) include each API's first flexible versions (KIP-482); api/table.c
 * advertises them or fewer. Every codec below is a schema table run by one engine (schema.h).
 *
 * Decoding: kafka_parse_<api>_request(r, version, arena, out) reads the body that follows the
 * request header. Strings and byte ranges in `out` borrow from the frame; arrays are allocated
 * from `arena` (bounded: every count was checked against the bytes left, see kr_array). Returns 0
 * or TANDEM_EPROTO (truncated/malformed, including trailing garbage); also TANDEM_EUNSUPPORTED
 * for a version outside the range the codec implements (kafka_codec_versions), and
 * TANDEM_ETOOLARGE when the arena's cap is reached. On error `out` is partly filled: ignore it.
 * Arrays with a count of 0 are NULL in `out`. Defaults for fields a version lacks are the spec's
 * ("default" in the JSON), as noted per field below.
 *
 * Encoding: kafka_encode_<api>_response(w, version, resp) appends the body (after the response
 * header). Fetch records that live in segment files are emitted as splices (kw_splice), so they
 * are sent with sendfile.
 */
#ifndef TANDEM_PROTOCOL_MESSAGES_H
#define TANDEM_PROTOCOL_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/kbuf.h"

/* The version range that these codecs implement for api_key (the union over request and
 * response). Returns 0, or TANDEM_ENOENT for an API without a codec here. The broker's dispatch
 * table may advertise less, never more. */
int kafka_codec_versions(int16_t api_key, int16_t *min_version, int16_t *max_version);

/* ---- request header (RequestHeader.json) ------------------------------------------------------
 */

struct kafka_req_header {
    int16_t request_api_key;
    int16_t request_api_version;
    int32_t correlation_id;
    struct kstr client_id; /* header v1+ (nullable) */
    int header_version;    /* 0, 1 or 2 */
};

/* Header version for a request of this api/version: 2 for flexible versions, else 1 (0 for
 * ControlledShutdown v0, which tandem does not implement). */
int kafka_request_header_version(int16_t api_key, int16_t api_version);
/* Response header version: 1 for flexible, else 0; ApiVersions is always 0. */
int kafka_response_header_version(int16_t api_key, int16_t api_version);

/* Parses the header at the start of a frame; *used is its size. Needs api key and version first
 * to know the header version, so it reads them, then the rest.
 * Returns 0 or TANDEM_EPROTO. */
int kafka_parse_request_header(const uint8_t *p, size_t len, struct kafka_req_header *h,
                               size_t *used);
/* Writes a response header (correlation id, plus an empty tagged-field section for v1). */
void kafka_encode_response_header(struct kw *w, int header_version, int32_t correlation_id);

/* ---- ApiVersions (18), v0-3 -------------------------------------------------------------------
 */

struct api_versions_req {
    struct kstr client_software_name;    /* v3+ */
    struct kstr client_software_version; /* v3+ */
};

struct api_version_range {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
};

struct api_versions_resp {
    int16_t error_code;
    int32_t napi_keys;
    const struct api_version_range *api_keys;
    int32_t throttle_time_ms; /* v1+ */
};

int kafka_parse_api_versions_request(struct kr *r, int16_t version, struct arena *a,
                                     struct api_versions_req *out);
void kafka_encode_api_versions_response(struct kw *w, int16_t version,
                                        const struct api_versions_resp *resp);

/* ---- Metadata (3), v0-12 -----------------------------------------------------------------------
 */

struct metadata_req {
    int32_t ntopics;     /* -1: all topics (v1+ null array; v0 empty array means all too) */
    struct kstr *topics; /* names */
    bool allow_auto_topic_creation;             /* v4+; true for v0-3 */
    bool include_cluster_authorized_operations; /* v8+ */
    bool include_topic_authorized_operations;   /* v8+ */
};

struct metadata_broker {
    int32_t node_id;
    struct kstr host;
    int32_t port;
    struct kstr rack; /* v1+, nullable */
};

struct metadata_partition {
    int16_t error_code;
    int32_t partition_index;
    int32_t leader_id;
    int32_t leader_epoch; /* v7+ */
    int32_t nreplica_nodes;
    const int32_t *replica_nodes;
    int32_t nisr_nodes;
    const int32_t *isr_nodes;
    int32_t noffline_replicas; /* v5+ */
    const int32_t *offline_replicas;
};

struct metadata_topic {
    int16_t error_code;
    struct kstr name;
    bool is_internal; /* v1+ */
    int32_t npartitions;
    struct metadata_partition *partitions;
    int32_t topic_authorized_operations; /* v8+ */
};

struct metadata_resp {
    int32_t throttle_time_ms; /* v3+ */
    int32_t nbrokers;
    struct metadata_broker *brokers;
    struct kstr cluster_id; /* v2+, nullable */
    int32_t controller_id;  /* v1+ */
    int32_t ntopics;
    struct metadata_topic *topics;
    int32_t cluster_authorized_operations; /* v8+ */
};

int kafka_parse_metadata_request(struct kr *r, int16_t version, struct arena *a,
                                 struct metadata_req *out);
void kafka_encode_metadata_response(struct kw *w, int16_t version,
                                    const struct metadata_resp *resp);

/* ---- Produce (0), v0-9 ------------------------------------------------------------------------
 */

struct produce_req_partition {
    int32_t index;
    struct kbytes records; /* nullable; one or more record batches, borrowed from the frame */
};

struct produce_req_topic {
    struct kstr name;
    int32_t npartitions;
    struct produce_req_partition *partitions;
};

struct produce_req {
    struct kstr transactional_id; /* v3+, nullable */
    int16_t acks;
    int32_t timeout_ms;
    int32_t ntopics;
    struct produce_req_topic *topics;
};

struct produce_record_error {
    int32_t batch_index;
    struct kstr batch_index_error_message; /* nullable */
};

struct produce_resp_partition {
    int32_t index;
    int16_t error_code;
    int64_t base_offset;
    int64_t log_append_time_ms; /* v2+ */
    int64_t log_start_offset;   /* v5+ */
    int32_t nrecord_errors;     /* v8+ */
    struct produce_record_error *record_errors;
    struct kstr error_message; /* v8+, nullable */
};

struct produce_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct produce_resp_partition *partitions;
};

struct produce_resp {
    int32_t ntopics;
    struct produce_resp_topic *topics;
    int32_t throttle_time_ms; /* v1+ */
};

int kafka_parse_produce_request(struct kr *r, int16_t version, struct arena *a,
                                struct produce_req *out);
void kafka_encode_produce_response(struct kw *w, int16_t version, const struct produce_resp *resp);

/* ---- Fetch (1), v0-12 -------------------------------------------------------------------------
 */

struct fetch_req_partition {
    int32_t partition;
    int32_t current_leader_epoch; /* v9+, else -1 */
    int64_t fetch_offset;
    int64_t log_start_offset; /* v5+, else -1 */
    int32_t partition_max_bytes;
};

struct fetch_req_topic {
    struct kstr topic;
    int32_t npartitions;
    struct fetch_req_partition *partitions;
};

struct fetch_req_forgotten {
    struct kstr topic;
    int32_t npartitions;
    int32_t *partitions;
};

struct fetch_req {
    int32_t replica_id;
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;      /* v3+, else INT32_MAX */
    int8_t isolation_level; /* v4+, else 0 */
    int32_t session_id;     /* v7+, else 0 */
    int32_t session_epoch;  /* v7+, else -1 */
    int32_t ntopics;
    struct fetch_req_topic *topics;
    int32_t nforgotten; /* v7+ */
    struct fetch_req_forgotten *forgotten_topics_data;
    struct kstr rack_id; /* v11+ */
};

struct fetch_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
};

struct fetch_resp_partition {
    int32_t partition_index;
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset; /* v4+ */
    int64_t log_start_offset;   /* v5+ */
    int32_t naborted;           /* v4+; -1 = null */
    struct fetch_aborted_txn *aborted_transactions;
    int32_t preferred_read_replica; /* v11+, -1 */
    /* Records: either in memory (records) or external (records_ext != NULL, the broker's
     * struct file_slice *: the encoder writes the INT32 length records_ext_len and then
     * kw_splice(w, records_ext, records_ext_len)). */
    struct kbytes records; /* nullable */
    const void *records_ext;
    uint32_t records_ext_len;
};

struct fetch_resp_topic {
    struct kstr topic;
    int32_t npartitions;
    struct fetch_resp_partition *partitions;
};

struct fetch_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;       /* v7+ */
    int32_t session_id;       /* v7+ */
    int32_t ntopics;
    struct fetch_resp_topic *topics;
};

int kafka_parse_fetch_request(struct kr *r, int16_t version, struct arena *a,
                              struct fetch_req *out);
void kafka_encode_fetch_response(struct kw *w, int16_t version, const struct fetch_resp *resp);

/* ---- ListOffsets (2), v0-6 --------------------------------------------------------------------
 */

#define KAFKA_TIMESTAMP_LATEST   (-1)
#define KAFKA_TIMESTAMP_EARLIEST (-2)

struct list_offsets_req_partition {
    int32_t partition_index;
    int32_t current_leader_epoch; /* v4+, else -1 */
    int64_t timestamp;
    int32_t max_num_offsets; /* v0 only */
};

struct list_offsets_req_topic {
    struct kstr name;
    int32_t npartitions;
    struct list_offsets_req_partition *partitions;
};

struct list_offsets_req {
    int32_t replica_id;
    int8_t isolation_level; /* v2+ */
    int32_t ntopics;
    struct list_offsets_req_topic *topics;
};

struct list_offsets_resp_partition {
    int32_t partition_index;
    int16_t error_code;
    int32_t nold_style_offsets; /* v0 only */
    const int64_t *old_style_offsets;
    int64_t timestamp;    /* v1+ */
    int64_t offset;       /* v1+ */
    int32_t leader_epoch; /* v4+ */
};

struct list_offsets_resp_topic {
    struct kstr name;
    int32_t npartitions;
    struct list_offsets_resp_partition *partitions;
};

struct list_offsets_resp {
    int32_t throttle_time_ms; /* v2+ */
    int32_t ntopics;
    struct list_offsets_resp_topic *topics;
};

int kafka_parse_list_offsets_request(struct kr *r, int16_t version, struct arena *a,
                                     struct list_offsets_req *out);
void kafka_encode_list_offsets_response(struct kw *w, int16_t version,
                                        const struct list_offsets_resp *resp);

/* ---- CreateTopics (19), v0-6 ------------------------------------------------------------------
 */

struct create_topics_assignment {
    int32_t partition_index;
    int32_t nbroker_ids;
    int32_t *broker_ids;
};

struct create_topics_config {
    struct kstr name;
    struct kstr value; /* nullable */
};

struct create_topics_req_topic {
    struct kstr name;
    int32_t num_partitions;     /* -1 = broker default (v4+) */
    int16_t replication_factor; /* -1 = broker default (v4+) */
    int32_t nassignments;
    struct create_topics_assignment *assignments;
    int32_t nconfigs;
    struct create_topics_config *configs;
};

struct create_topics_req {
    int32_t ntopics;
    struct create_topics_req_topic *topics;
    int32_t timeout_ms;
    bool validate_only; /* v1+ */
};

struct create_topics_resp_config { /* v5+ (KIP-525) */
    struct kstr name;
    struct kstr value; /* nullable */
    bool read_only;
    int8_t config_source; /* -1 unknown, 1 DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG, ... */
    bool is_sensitive;
};

struct create_topics_resp_topic {
    struct kstr name;
    int16_t error_code;
    struct kstr error_message;       /* v1+, nullable */
    int16_t topic_config_error_code; /* v5+, tagged (0): written only when not 0 */
    int32_t num_partitions;          /* v5+, -1 unknown */
    int16_t replication_factor;      /* v5+, -1 unknown */
    int32_t nconfigs;                /* v5+, -1 = null (configs not described) */
    struct create_topics_resp_config *configs;
};

struct create_topics_resp {
    int32_t throttle_time_ms; /* v2+ */
    int32_t ntopics;
    struct create_topics_resp_topic *topics;
};

int kafka_parse_create_topics_request(struct kr *r, int16_t version, struct arena *a,
                                      struct create_topics_req *out);
void kafka_encode_create_topics_response(struct kw *w, int16_t version,
                                         const struct create_topics_resp *resp);

/* ---- DeleteTopics (20), v0-5 ------------------------------------------------------------------
 */

struct delete_topics_req {
    int32_t ntopic_names;
    struct kstr *topic_names;
    int32_t timeout_ms;
};

struct delete_topics_resp_topic {
    struct kstr name;
    int16_t error_code;
    struct kstr error_message; /* v5+, nullable */
};

struct delete_topics_resp {
    int32_t throttle_time_ms; /* v1+ */
    int32_t nresponses;
    struct delete_topics_resp_topic *responses;
};

int kafka_parse_delete_topics_request(struct kr *r, int16_t version, struct arena *a,
                                      struct delete_topics_req *out);
void kafka_encode_delete_topics_response(struct kw *w, int16_t version,
                                         const struct delete_topics_resp *resp);

/* ---- InitProducerId (22), v0-4 ----------------------------------------------------------------
 */

struct init_producer_id_req {
    struct kstr transactional_id; /* nullable */
    int32_t transaction_timeout_ms;
    int64_t producer_id;    /* v3+ (KIP-360: resume with this id), else -1 */
    int16_t producer_epoch; /* v3+, else -1 */
};

struct init_producer_id_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    int64_t producer_id;
    int16_t producer_epoch;
};

int kafka_parse_init_producer_id_request(struct kr *r, int16_t version, struct arena *a,
                                         struct init_producer_id_req *out);
void kafka_encode_init_producer_id_response(struct kw *w, int16_t version,
                                            const struct init_producer_id_resp *resp);

/* ---- CreatePartitions (37), v0-3 --------------------------------------------------------------
 */

struct create_partitions_assignment {
    int32_t nbroker_ids;
    int32_t *broker_ids;
};

struct create_partitions_req_topic {
    struct kstr name;
    int32_t count;        /* the new total partition count */
    int32_t nassignments; /* -1: null (the broker places the new partitions) */
    struct create_partitions_assignment *assignments; /* one per new partition */
};

struct create_partitions_req {
    int32_t ntopics;
    struct create_partitions_req_topic *topics;
    int32_t timeout_ms;
    bool validate_only;
};

struct create_partitions_resp_result {
    struct kstr name;
    int16_t error_code;
    struct kstr error_message; /* nullable */
};

struct create_partitions_resp {
    int32_t throttle_time_ms;
    int32_t nresults;
    struct create_partitions_resp_result *results;
};

int kafka_parse_create_partitions_request(struct kr *r, int16_t version, struct arena *a,
                                          struct create_partitions_req *out);
void kafka_encode_create_partitions_response(struct kw *w, int16_t version,
                                             const struct create_partitions_resp *resp);

#endif
