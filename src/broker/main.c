/*
 * tandem-broker: a single-node, durable broker speaking the Kafka wire protocol.
 *
 *   tandem-broker --listen 127.0.0.1:9092 --data-dir DIR [--config FILE] [--SETTING VALUE...]
 *
 * Logs JSON lines on stderr, one of them {"msg":"ready",...} once it accepts connections;
 * SIGTERM or SIGINT stops it cleanly (exit 0). See `tandem-broker --help` and docs/broker.md.
 */
#include <inttypes.h>
#include <stdio.h>

#include "broker.h"
#include "common/clock.h"
#include "common/log.h"
#include "tandem/error.h"

int main(int argc, char **argv)
{
    int64_t t0 = clock_mono_ns();
    struct broker_config cfg;
    broker_config_init(&cfg);
    char err[512];
    bool help;
    log_setup("broker", LOG_INFO);
    if (broker_config_from_args(&cfg, argc, argv, &help, err, sizeof(err))) {
        fprintf(stderr, "tandem-broker: %s\n", err);
        broker_config_cleanup(&cfg);
        return 2;
    }
    if (help) {
        broker_config_usage(stdout);
        broker_config_cleanup(&cfg);
        return 0;
    }
    enum log_level level;
    if (log_level_parse(cfg.log_level, &level)) {
        fprintf(stderr, "tandem-broker: bad log.level '%s'\n", cfg.log_level);
        broker_config_cleanup(&cfg);
        return 2;
    }
    log_setup("broker", level);

    struct broker b;
    if (broker_init(&b, &cfg)) {
        broker_config_cleanup(&cfg);
        return 1;
    }
    char listen[300], dir[4200];
    log_info("ready",
             "\"listen\":%s,\"host\":\"%s\",\"port\":%d,\"data_dir\":%s,\"topics\":%d,"
             "\"cluster_id\":\"%s\",\"startup_ms\":%.3f",
             log_json_str(listen, sizeof(listen), cfg.listen), b.host, b.port,
             log_json_str(dir, sizeof(dir), cfg.data_dir), logmgr_topic_count(b.logs), b.cluster_id,
             (double)(clock_mono_ns() - t0) / 1e6);
    int rc = broker_run(&b);
    broker_cleanup(&b);
    log_info("stopped", "\"requests\":%" PRIu64, b.requests_total);
    broker_config_cleanup(&cfg);
    return rc ? 1 : 0;
}
