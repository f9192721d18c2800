/*
 * librdkafka glue shared by the producer and the consumer (kafka_int.h): configuration with
 * logging, and librdkafka's log lines as tandem JSON lines. librdkafka calls the log callback
 * from its own threads; log_write is one write(2) per line, so lines never interleave.
 *
 *   syslog level (librdkafka)   tandem level
 *   0-3 emerg..err              error
 *   4   warning                 warn
 *   5-6 notice, info            info
 *   7   debug                   debug
 */
#include "common/log.h"
#include "kafka_int.h"
#include "tandem/error.h"

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level l = level <= 3   ? LOG_ERROR
                       : level == 4 ? LOG_WARN
                       : level <= 6 ? LOG_INFO
                                    : LOG_DEBUG;
    char name[128], f[64], text[512];
    log_write(l, "rdkafka", "\"client\":%s,\"fac\":%s,\"detail\":%s",
              log_json_str(name, sizeof(name), rd_kafka_name(rk)), log_json_str(f, sizeof(f), fac),
              log_json_str(text, sizeof(text), buf));
}

rd_kafka_conf_t *events_conf_new(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
}

int events_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        char a[128], b[300];
        log_error("events: bad librdkafka setting", "\"name\":%s,\"error\":%s",
                  log_json_str(a, sizeof(a), name), log_json_str(b, sizeof(b), errstr));
        return TANDEM_EINVAL;
    }
    return 0;
}
