/*
 * libtandem events, private: what producer.c and consumer.c share about librdkafka itself.
 * Settings go through events_conf_set, which logs what librdkafka refuses; librdkafka's own log
 * lines are routed into tandem's JSON-line log (common/log.h) by events_conf_new's log callback,
 * so a service's stderr stays one JSON object per line.
 */
#ifndef TANDEM_EVENTS_KAFKA_INT_H
#define TANDEM_EVENTS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>

/* A new librdkafka configuration with the JSON-line log callback. */
rd_kafka_conf_t *events_conf_new(void);

/* Sets name = value; returns 0, or TANDEM_EINVAL (logged) when librdkafka refuses it. */
int events_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value);

struct tandem_consumer;

/* The consumer's librdkafka handle, for tests alone: lib-events-check's rewind scenario resumes
 * a partition that is not paused, which makes librdkafka before 2.4.0 fetch it again from an
 * older offset (consumer.c, already_handled). */
rd_kafka_t *events_consumer_kafka(struct tandem_consumer *c);

#endif
