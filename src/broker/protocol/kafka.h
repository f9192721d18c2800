/*
 * Kafka protocol constants: API keys and ErrorCodes.
 *
 * Source: Apache Kafka clients/src/main/resources/common/message/{Name}Request.json (the "apiKey"
 * of each request) and org.apache.kafka.common.protocol.Errors (the error codes). ErrorCodes are
 * wire data (int16) and are kept apart from tandem's C error codes (include/tandem/error.h).
 */
#ifndef TANDEM_PROTOCOL_KAFKA_H
#define TANDEM_PROTOCOL_KAFKA_H

#include <stdint.h>

enum kafka_api_key {
    KAFKA_PRODUCE = 0,
    KAFKA_FETCH = 1,
    KAFKA_LIST_OFFSETS = 2,
    KAFKA_METADATA = 3,
    KAFKA_OFFSET_COMMIT = 8,
    KAFKA_OFFSET_FETCH = 9,
    KAFKA_FIND_COORDINATOR = 10,
    KAFKA_JOIN_GROUP = 11,
    KAFKA_HEARTBEAT = 12,
    KAFKA_LEAVE_GROUP = 13,
    KAFKA_SYNC_GROUP = 14,
    KAFKA_DESCRIBE_GROUPS = 15,
    KAFKA_LIST_GROUPS = 16,
    KAFKA_SASL_HANDSHAKE = 17,
    KAFKA_API_VERSIONS = 18,
    KAFKA_CREATE_TOPICS = 19,
    KAFKA_DELETE_TOPICS = 20,
    KAFKA_DELETE_RECORDS = 21,
    KAFKA_INIT_PRODUCER_ID = 22,
    KAFKA_ADD_PARTITIONS_TO_TXN = 24,
    KAFKA_ADD_OFFSETS_TO_TXN = 25,
    KAFKA_END_TXN = 26,
    KAFKA_TXN_OFFSET_COMMIT = 28,
    KAFKA_DESCRIBE_ACLS = 29,
    KAFKA_CREATE_ACLS = 30,
    KAFKA_DELETE_ACLS = 31,
    KAFKA_DESCRIBE_CONFIGS = 32,
    KAFKA_ALTER_CONFIGS = 33,
    KAFKA_SASL_AUTHENTICATE = 36,
    KAFKA_CREATE_PARTITIONS = 37,
    KAFKA_DELETE_GROUPS = 42,
    KAFKA_INCREMENTAL_ALTER_CONFIGS = 44,
    KAFKA_OFFSET_DELETE = 47,
    KAFKA_API_KEY_MAX = 68, /* exclusive bound of the dispatch table */
};

/* X(name, code) from org.apache.kafka.common.protocol.Errors. */
#define KAFKA_ERROR_MAP(X)                \
    X(UNKNOWN_SERVER_ERROR, -1)           \
    X(NONE, 0)                            \
    X(OFFSET_OUT_OF_RANGE, 1)             \
    X(CORRUPT_MESSAGE, 2)                 \
    X(UNKNOWN_TOPIC_OR_PARTITION, 3)      \
    X(INVALID_FETCH_SIZE, 4)              \
    X(LEADER_NOT_AVAILABLE, 5)            \
    X(NOT_LEADER_OR_FOLLOWER, 6)          \
    X(REQUEST_TIMED_OUT, 7)               \
    X(MESSAGE_TOO_LARGE, 10)              \
    X(OFFSET_METADATA_TOO_LARGE, 12)      \
    X(COORDINATOR_LOAD_IN_PROGRESS, 14)   \
    X(COORDINATOR_NOT_AVAILABLE, 15)      \
    X(NOT_COORDINATOR, 16)                \
    X(INVALID_TOPIC_EXCEPTION, 17)        \
    X(RECORD_LIST_TOO_LARGE, 18)          \
    X(NOT_ENOUGH_REPLICAS, 19)            \
    X(INVALID_REQUIRED_ACKS, 21)          \
    X(ILLEGAL_GENERATION, 22)             \
    X(INCONSISTENT_GROUP_PROTOCOL, 23)    \
    X(INVALID_GROUP_ID, 24)               \
    X(UNKNOWN_MEMBER_ID, 25)              \
    X(INVALID_SESSION_TIMEOUT, 26)        \
    X(REBALANCE_IN_PROGRESS, 27)          \
    X(INVALID_COMMIT_OFFSET_SIZE, 28)     \
    X(INVALID_TIMESTAMP, 32)              \
    X(UNSUPPORTED_SASL_MECHANISM, 33)     \
    X(ILLEGAL_SASL_STATE, 34)             \
    X(UNSUPPORTED_VERSION, 35)            \
    X(TOPIC_ALREADY_EXISTS, 36)           \
    X(INVALID_PARTITIONS, 37)             \
    X(INVALID_REPLICATION_FACTOR, 38)     \
    X(INVALID_REPLICA_ASSIGNMENT, 39)     \
    X(INVALID_CONFIG, 40)                 \
    X(NOT_CONTROLLER, 41)                 \
    X(INVALID_REQUEST, 42)                \
    X(UNSUPPORTED_FOR_MESSAGE_FORMAT, 43) \
    X(POLICY_VIOLATION, 44)               \
    X(OUT_OF_ORDER_SEQUENCE_NUMBER, 45)   \
    X(DUPLICATE_SEQUENCE_NUMBER, 46)      \
    X(INVALID_PRODUCER_EPOCH, 47)         \
    X(INVALID_TXN_STATE, 48)              \
    X(INVALID_PRODUCER_ID_MAPPING, 49)    \
    X(INVALID_TRANSACTION_TIMEOUT, 50)    \
    X(CONCURRENT_TRANSACTIONS, 51)        \
    X(SECURITY_DISABLED, 54)              \
    X(OPERATION_NOT_ATTEMPTED, 55)        \
    X(KAFKA_STORAGE_ERROR, 56)            \
    X(UNKNOWN_PRODUCER_ID, 59)            \
    X(NON_EMPTY_GROUP, 68)                \
    X(GROUP_ID_NOT_FOUND, 69)             \
    X(TOPIC_DELETION_DISABLED, 73)        \
    X(UNSUPPORTED_COMPRESSION_TYPE, 76)   \
    X(MEMBER_ID_REQUIRED, 79)             \
    X(GROUP_MAX_SIZE_REACHED, 81)         \
    X(FENCED_INSTANCE_ID, 82)             \
    X(GROUP_SUBSCRIBED_TO_TOPIC, 86)      \
    X(INVALID_RECORD, 87)                 \
    X(PRODUCER_FENCED, 90)                \
    X(UNKNOWN_TOPIC_ID, 100)

enum kafka_error {
#define KAFKA_ERROR_ENUM(name, code) KAFKA_##name = (code),
    KAFKA_ERROR_MAP(KAFKA_ERROR_ENUM)
#undef KAFKA_ERROR_ENUM
};

/* Returns the Kafka name of an ErrorCode ("CORRUPT_MESSAGE"), or "UNKNOWN". */
const char *kafka_error_name(int16_t code);

#endif
