/*
 * Names of Kafka ErrorCodes, for logs and error messages.
 */
#include "protocol/kafka.h"

const char *kafka_error_name(int16_t code)
{
    switch (code) {
#define KAFKA_ERROR_CASE(name, c) \
    case c:                       \
        return #name;
        KAFKA_ERROR_MAP(KAFKA_ERROR_CASE)
#undef KAFKA_ERROR_CASE
    }
    return "UNKNOWN";
}
