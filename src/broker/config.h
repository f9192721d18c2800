/*
 * tandem-broker configuration.
 *
 * One table (config.c) lists every setting once: its Kafka-style key ("log.retention.ms"), type,
 * default and meaning. The same key is accepted three ways, later ones winning:
 *   1. a config file (--config FILE): `key=value` lines, `#` comments;
 *   2. an environment variable: TANDEM_BROKER_ + key upper-cased with dots as underscores
 *      (TANDEM_BROKER_LOG_RETENTION_MS);
 *   3. a flag: `--` + key with dots as dashes (--log-retention-ms 3600000, or --key=value).
 * `tandem-broker --help` prints the table, so the help can never disagree with the parser.
 */
#ifndef TANDEM_BROKER_CONFIG_H
#define TANDEM_BROKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "log/log.h"

struct broker_config {
    char *listen;          /* host:port, port 0 = kernel-chosen */
    char *data_dir;        /* where topics live */
    char *port_file;       /* if set, the bound port is written there once listening */
    char *advertised_host; /* host given to clients in Metadata; default: the listen host */
    int64_t node_id;
    int64_t num_partitions; /* for auto-created topics and CreateTopics with -1 */
    bool auto_create_topics;
    int64_t flush_interval_ms;           /* background fdatasync period; 0 = never */
    int64_t retention_check_interval_ms; /* how often retention and segment age run */
    int64_t socket_request_max_bytes;    /* frame size cap */
    int64_t connections_max_idle_ms;
    int64_t max_connections;
    int64_t fetch_max_wait_cap_ms; /* upper bound on a Fetch's MaxWaitMs */
    char *log_level;
    int64_t group_initial_rebalance_delay_ms;
    int64_t group_min_session_timeout_ms;
    int64_t group_max_session_timeout_ms;
    int64_t group_max_size;
    int64_t offsets_retention_ms;
    int64_t offsets_retention_check_interval_ms; /* Empty groups without offsets linger so long */
    int64_t offset_metadata_max_bytes;
    int64_t transaction_max_timeout_ms;    /* largest TransactionTimeoutMs (InitProducerId) */
    int64_t transaction_abort_interval_ms; /* how often timed-out transactions are aborted */
    struct log_config log;                 /* topic defaults: segment, retention, message size */
    uint64_t set_mask; /* bit i: setting i of the table was given (file, environment, flag) */
};

/* One setting as DescribeConfigs reports it for the broker resource. */
struct broker_config_entry {
    const char *key;       /* Kafka's name ("log.retention.ms") */
    const char *doc;       /* the --help line */
    const char *def;       /* the default, as text */
    const char *topic_key; /* the topic-level name it is the default of ("retention.ms"), or NULL */
    char type;             /* 's' string, 'l' long, 'b' boolean */
    bool is_set;     /* given by the config file, the environment or a flag, not the default */
    char value[512]; /* the value the broker runs with, as text */
};

/* Fills e with setting i of the table (0, 1, ... in --help order); returns false past the end. */
bool broker_config_entry(const struct broker_config *c, size_t i, struct broker_config_entry *e);

/* Fills defaults. */
void broker_config_init(struct broker_config *c);
void broker_config_cleanup(struct broker_config *c);

/* Sets one key; returns 0, TANDEM_ENOENT (unknown key) or TANDEM_EINVAL (bad value). */
int broker_config_set(struct broker_config *c, const char *key, const char *value);

/* Reads a config file. On error writes "FILE:LINE: message" into err and returns < 0. */
int broker_config_load_file(struct broker_config *c, const char *path, char *err, size_t errlen);

/* Applies TANDEM_BROKER_* environment variables, then argv flags (argv[0] skipped). Handles
 * --config FILE first so flags override it. Sets *help when --help was given.
 * On error writes a message into err and returns < 0. */
int broker_config_from_args(struct broker_config *c, int argc, char **argv, bool *help, char *err,
                            size_t errlen);

/* Prints the settings table (flag, default, meaning). */
void broker_config_usage(FILE *out);

#endif
