/*
 * Kafka message codecs, part 2: the data path, Produce (v0-9), Fetch (v0-12) and ListOffsets
 * (v0-6), as schema tables (schema.h) read and written by the one engine (schema.c). See
 * messages.c for the model and messages.h for the structs. Flexible from Produce v9, Fetch v12,
 * ListOffsets v6.
 *
 * Record data is never copied: a Produce request's records are a byte range into the frame, and
 * a Fetch response either copies a small in-memory range or, for log data, writes the length and
 * leaves a splice for the network loop to fill with sendfile (ST_RECORDS).
 *
 * Versions stop where Kafka starts to need topic ids: Fetch v13 names topics by TopicId only.
 * Produce v10-11 (tagged leader hints, KIP-951) and ListOffsets v7+ (max-timestamp and tiered
 * offsets) are not offered.
 */
#include <stddef.h>

#include "protocol/messages.h"
#include "protocol/schema_int.h"
#include "protocol/schema_msgs.h"

/* ---- Produce: ProduceRequest.json / ProduceResponse.json (flexibleVersions 9+) ----------------
 */

static const struct schema_field produce_req_partition_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct produce_req_partition, index, 0),   /* Index */
    FLD(ST_RECORDS, 0, V, 0, struct produce_req_partition, records, 0), /* Records */
};
static const struct schema_struct produce_req_partition_s =
    SCHEMA_STRUCT(struct produce_req_partition, produce_req_partition_f);

static const struct schema_field produce_req_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct produce_req_topic, name, 0), /* Name */
    ARR(0, V, NEVER, struct produce_req_topic, partitions, npartitions,
        produce_req_partition_s), /* PartitionData */
};
static const struct schema_struct produce_req_topic_s =
    SCHEMA_STRUCT(struct produce_req_topic, produce_req_topic_f);

static const struct schema_field produce_req_f[] = {
    FLD(ST_STRING, 3, V, 3, struct produce_req, transactional_id, 0), /* TransactionalId */
    FLD(ST_I16, 0, V, NEVER, struct produce_req, acks, 0),            /* Acks */
    FLD(ST_I32, 0, V, NEVER, struct produce_req, timeout_ms, 0),      /* TimeoutMs */
    ARR(0, V, NEVER, struct produce_req, topics, ntopics, produce_req_topic_s), /* TopicData */
};
const struct schema_message schema_produce_request = {
    "ProduceRequest", 0, 0, 9, 9, SCHEMA_STRUCT(struct produce_req, produce_req_f)};

static const struct schema_field produce_record_error_f[] = {
    FLD(ST_I32, 8, V, NEVER, struct produce_record_error, batch_index, 0), /* BatchIndex */
    FLD(ST_STRING, 8, V, 8, struct produce_record_error, batch_index_error_message,
        0), /* BatchIndexErrorMessage */
};
static const struct schema_struct produce_record_error_s =
    SCHEMA_STRUCT(struct produce_record_error, produce_record_error_f);

static const struct schema_field produce_resp_partition_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct produce_resp_partition, index, 0),       /* Index */
    FLD(ST_I16, 0, V, NEVER, struct produce_resp_partition, error_code, 0),  /* ErrorCode */
    FLD(ST_I64, 0, V, NEVER, struct produce_resp_partition, base_offset, 0), /* BaseOffset */
    FLD(ST_I64, 2, V, NEVER, struct produce_resp_partition, log_append_time_ms,
        -1), /* LogAppend..*/
    FLD(ST_I64, 5, V, NEVER, struct produce_resp_partition, log_start_offset,
        -1), /* LogStartOffset */
    ARR(8, V, NEVER, struct produce_resp_partition, record_errors, nrecord_errors,
        produce_record_error_s),                                              /* RecordErrors */
    FLD(ST_STRING, 8, V, 8, struct produce_resp_partition, error_message, 0), /* ErrorMessage */
};
static const struct schema_struct produce_resp_partition_s =
    SCHEMA_STRUCT(struct produce_resp_partition, produce_resp_partition_f);

static const struct schema_field produce_resp_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct produce_resp_topic, name, 0), /* Name */
    ARR(0, V, NEVER, struct produce_resp_topic, partitions, npartitions,
        produce_resp_partition_s), /* PartitionResponses */
};
static const struct schema_struct produce_resp_topic_s =
    SCHEMA_STRUCT(struct produce_resp_topic, produce_resp_topic_f);

static const struct schema_field produce_resp_f[] = {
    ARR(0, V, NEVER, struct produce_resp, topics, ntopics, produce_resp_topic_s), /* Responses */
    FLD(ST_I32, 1, V, NEVER, struct produce_resp, throttle_time_ms, 0), /* ThrottleTimeMs */
};
const struct schema_message schema_produce_response = {
    "ProduceResponse", 0, 0, 9, 9, SCHEMA_STRUCT(struct produce_resp, produce_resp_f)};

int kafka_parse_produce_request(struct kr *r, int16_t version, struct arena *a,
                                struct produce_req *out)
{
    return schema_decode(&schema_produce_request, r, version, a, out);
}

void kafka_encode_produce_response(struct kw *w, int16_t version, const struct produce_resp *resp)
{
    schema_encode(&schema_produce_response, w, version, resp);
}

/* ---- Fetch: FetchRequest.json / FetchResponse.json (flexibleVersions 12+) ---------------------
 */

static const struct schema_field fetch_req_partition_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct fetch_req_partition, partition, 0),             /* Partition */
    FLD(ST_I32, 9, V, NEVER, struct fetch_req_partition, current_leader_epoch, -1), /* CurrentL.. */
    FLD(ST_I64, 0, V, NEVER, struct fetch_req_partition, fetch_offset, 0), /* FetchOffset */
    DROP(ST_I32, 12, V, NEVER, -1),                                        /* LastFetchedEpoch */
    FLD(ST_I64, 5, V, NEVER, struct fetch_req_partition, log_start_offset, -1), /* LogStartOffset */
    FLD(ST_I32, 0, V, NEVER, struct fetch_req_partition, partition_max_bytes, 0), /* Partition.. */
};
static const struct schema_struct fetch_req_partition_s =
    SCHEMA_STRUCT(struct fetch_req_partition, fetch_req_partition_f);

static const struct schema_field fetch_req_topic_f[] = {
    FLD(ST_STRING, 0, 12, NEVER, struct fetch_req_topic, topic, 0), /* Topic (TopicId from 13) */
    ARR(0, V, NEVER, struct fetch_req_topic, partitions, npartitions,
        fetch_req_partition_s), /* Partitions */
};
static const struct schema_struct fetch_req_topic_s =
    SCHEMA_STRUCT(struct fetch_req_topic, fetch_req_topic_f);

static const struct schema_field fetch_req_forgotten_f[] = {
    FLD(ST_STRING, 7, 12, NEVER, struct fetch_req_forgotten, topic, 0), /* Topic */
    PARR(ST_ARRAY_I32, 7, V, NEVER, struct fetch_req_forgotten, partitions,
         npartitions), /* Partitions */
};
static const struct schema_struct fetch_req_forgotten_s =
    SCHEMA_STRUCT(struct fetch_req_forgotten, fetch_req_forgotten_f);

static const struct schema_field fetch_req_f[] = {
    TDROP(ST_STRING, 12, V, 12, 0, 0),                                      /* ClusterId, tag 0 */
    FLD(ST_I32, 0, 14, NEVER, struct fetch_req, replica_id, -1),            /* ReplicaId */
    FLD(ST_I32, 0, V, NEVER, struct fetch_req, max_wait_ms, 0),             /* MaxWaitMs */
    FLD(ST_I32, 0, V, NEVER, struct fetch_req, min_bytes, 0),               /* MinBytes */
    FLD(ST_I32, 3, V, NEVER, struct fetch_req, max_bytes, INT32_MAX),       /* MaxBytes */
    FLD(ST_I8, 4, V, NEVER, struct fetch_req, isolation_level, 0),          /* IsolationLevel */
    FLD(ST_I32, 7, V, NEVER, struct fetch_req, session_id, 0),              /* SessionId */
    FLD(ST_I32, 7, V, NEVER, struct fetch_req, session_epoch, -1),          /* SessionEpoch */
    ARR(0, V, NEVER, struct fetch_req, topics, ntopics, fetch_req_topic_s), /* Topics */
    ARR(7, V, NEVER, struct fetch_req, forgotten_topics_data, nforgotten,
        fetch_req_forgotten_s),                                 /* ForgottenTopicsData */
    FLD(ST_STRING, 11, V, NEVER, struct fetch_req, rack_id, 1), /* RackId, default "" */
};
const struct schema_message schema_fetch_request = {
    "FetchRequest", 1, 0, 12, 12, SCHEMA_STRUCT(struct fetch_req, fetch_req_f)};

static const struct schema_field fetch_aborted_f[] = {
    FLD(ST_I64, 4, V, NEVER, struct fetch_aborted_txn, producer_id, 0),  /* ProducerId */
    FLD(ST_I64, 4, V, NEVER, struct fetch_aborted_txn, first_offset, 0), /* FirstOffset */
};
static const struct schema_struct fetch_aborted_s =
    SCHEMA_STRUCT(struct fetch_aborted_txn, fetch_aborted_f);

/* DivergingEpoch (tag 0), CurrentLeader (tag 1) and SnapshotId (tag 2) are tagged structs that a
 * single node never sets: not written, skipped when read. */
static const struct schema_field fetch_resp_partition_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct fetch_resp_partition, partition_index, 0), /* PartitionIndex */
    FLD(ST_I16, 0, V, NEVER, struct fetch_resp_partition, error_code, 0),      /* ErrorCode */
    FLD(ST_I64, 0, V, NEVER, struct fetch_resp_partition, high_watermark, 0),  /* HighWatermark */
    FLD(ST_I64, 4, V, NEVER, struct fetch_resp_partition, last_stable_offset,
        -1), /* LastStable.. */
    FLD(ST_I64, 5, V, NEVER, struct fetch_resp_partition, log_start_offset,
        -1), /* LogStartOffset */
    {.type = ST_ARRAY,
     .vmin = 4,
     .vmax = V,
     .nullable = 4,
     .tag = -1,
     .off = offsetof(struct fetch_resp_partition, aborted_transactions),
     .n_off = offsetof(struct fetch_resp_partition, naborted),
     .dflt = -1,
     .elem = &fetch_aborted_s}, /* AbortedTransactions (null before v4) */
    FLD(ST_I32, 11, V, NEVER, struct fetch_resp_partition, preferred_read_replica,
        -1), /* PreferredReadReplica */
    RECS(0, V, 0, struct fetch_resp_partition, records, records_ext, records_ext_len), /* Records */
};
static const struct schema_struct fetch_resp_partition_s =
    SCHEMA_STRUCT(struct fetch_resp_partition, fetch_resp_partition_f);

static const struct schema_field fetch_resp_topic_f[] = {
    FLD(ST_STRING, 0, 12, NEVER, struct fetch_resp_topic, topic, 0), /* Topic */
    ARR(0, V, NEVER, struct fetch_resp_topic, partitions, npartitions,
        fetch_resp_partition_s), /* Partitions */
};
static const struct schema_struct fetch_resp_topic_s =
    SCHEMA_STRUCT(struct fetch_resp_topic, fetch_resp_topic_f);

static const struct schema_field fetch_resp_f[] = {
    FLD(ST_I32, 1, V, NEVER, struct fetch_resp, throttle_time_ms, 0),         /* ThrottleTimeMs */
    FLD(ST_I16, 7, V, NEVER, struct fetch_resp, error_code, 0),               /* ErrorCode */
    FLD(ST_I32, 7, V, NEVER, struct fetch_resp, session_id, 0),               /* SessionId */
    ARR(0, V, NEVER, struct fetch_resp, topics, ntopics, fetch_resp_topic_s), /* Responses */
};
const struct schema_message schema_fetch_response = {
    "FetchResponse", 1, 0, 12, 12, SCHEMA_STRUCT(struct fetch_resp, fetch_resp_f)};

int kafka_parse_fetch_request(struct kr *r, int16_t version, struct arena *a, struct fetch_req *out)
{
    return schema_decode(&schema_fetch_request, r, version, a, out);
}

void kafka_encode_fetch_response(struct kw *w, int16_t version, const struct fetch_resp *resp)
{
    schema_encode(&schema_fetch_response, w, version, resp);
}

/* ---- ListOffsets: ListOffsetsRequest.json / ListOffsetsResponse.json (flexibleVersions 6+) ----
 */

static const struct schema_field lo_req_partition_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct list_offsets_req_partition, partition_index, 0),
    FLD(ST_I32, 4, V, NEVER, struct list_offsets_req_partition, current_leader_epoch, -1),
    FLD(ST_I64, 0, V, NEVER, struct list_offsets_req_partition, timestamp, 0),
    FLD(ST_I32, 0, 0, NEVER, struct list_offsets_req_partition, max_num_offsets, 1),
};
static const struct schema_struct lo_req_partition_s =
    SCHEMA_STRUCT(struct list_offsets_req_partition, lo_req_partition_f);

static const struct schema_field lo_req_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct list_offsets_req_topic, name, 0),
    ARR(0, V, NEVER, struct list_offsets_req_topic, partitions, npartitions, lo_req_partition_s),
};
static const struct schema_struct lo_req_topic_s =
    SCHEMA_STRUCT(struct list_offsets_req_topic, lo_req_topic_f);

static const struct schema_field lo_req_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct list_offsets_req, replica_id, 0),
    FLD(ST_I8, 2, V, NEVER, struct list_offsets_req, isolation_level, 0),
    ARR(0, V, NEVER, struct list_offsets_req, topics, ntopics, lo_req_topic_s),
};
const struct schema_message schema_list_offsets_request = {
    "ListOffsetsRequest", 2, 0, 6, 6, SCHEMA_STRUCT(struct list_offsets_req, lo_req_f)};

static const struct schema_field lo_resp_partition_f[] = {
    FLD(ST_I32, 0, V, NEVER, struct list_offsets_resp_partition, partition_index, 0),
    FLD(ST_I16, 0, V, NEVER, struct list_offsets_resp_partition, error_code, 0),
    PARR(ST_ARRAY_I64, 0, 0, NEVER, struct list_offsets_resp_partition, old_style_offsets,
         nold_style_offsets),
    FLD(ST_I64, 1, V, NEVER, struct list_offsets_resp_partition, timestamp, -1),
    FLD(ST_I64, 1, V, NEVER, struct list_offsets_resp_partition, offset, -1),
    FLD(ST_I32, 4, V, NEVER, struct list_offsets_resp_partition, leader_epoch, -1),
};
static const struct schema_struct lo_resp_partition_s =
    SCHEMA_STRUCT(struct list_offsets_resp_partition, lo_resp_partition_f);

static const struct schema_field lo_resp_topic_f[] = {
    FLD(ST_STRING, 0, V, NEVER, struct list_offsets_resp_topic, name, 0),
    ARR(0, V, NEVER, struct list_offsets_resp_topic, partitions, npartitions, lo_resp_partition_s),
};
static const struct schema_struct lo_resp_topic_s =
    SCHEMA_STRUCT(struct list_offsets_resp_topic, lo_resp_topic_f);

static const struct schema_field lo_resp_f[] = {
    FLD(ST_I32, 2, V, NEVER, struct list_offsets_resp, throttle_time_ms, 0),
    ARR(0, V, NEVER, struct list_offsets_resp, topics, ntopics, lo_resp_topic_s),
};
const struct schema_message schema_list_offsets_response = {
    "ListOffsetsResponse", 2, 0, 6, 6, SCHEMA_STRUCT(struct list_offsets_resp, lo_resp_f)};

int kafka_parse_list_offsets_request(struct kr *r, int16_t version, struct arena *a,
                                     struct list_offsets_req *out)
{
    return schema_decode(&schema_list_offsets_request, r, version, a, out);
}

void kafka_encode_list_offsets_response(struct kw *w, int16_t version,
                                        const struct list_offsets_resp *resp)
{
    schema_encode(&schema_list_offsets_response, w, version, resp);
}
