/*
 * The settings table and its three sources (file, environment, flags). See config.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "config.h"
#include "tandem/error.h"

enum opt_type { OPT_STR, OPT_INT, OPT_BOOL, OPT_LOG };

struct opt {
    const char *key;
    enum opt_type type;
    size_t off; /* offset in struct broker_config (OPT_LOG: key handled by log_config_set) */
    const char *def;
    const char *doc;
};

#define OFF(f) offsetof(struct broker_config, f)

static const struct opt opts[] = {
    {"listen", OPT_STR, OFF(listen), "127.0.0.1:9092", "address to listen on; port 0 = any free"},
    {"data.dir", OPT_STR, OFF(data_dir), "var/broker", "directory holding the topics' logs"},
    {"port.file", OPT_STR, OFF(port_file), "", "write the bound port to this file when ready"},
    {"advertised.host", OPT_STR, OFF(advertised_host), "",
     "host name given to clients (default: the listen host)"},
    {"node.id", OPT_INT, OFF(node_id), "0", "this broker's node id"},
    {"num.partitions", OPT_INT, OFF(num_partitions), "1",
     "partitions of auto-created topics and of CreateTopics asking for the default"},
    {"auto.create.topics.enable", OPT_BOOL, OFF(auto_create_topics), "true",
     "create unknown topics on Metadata and Produce"},
    {"log.flush.interval.ms", OPT_INT, OFF(flush_interval_ms), "0",
     "background fdatasync of acks=0/1 data every N ms; 0 = leave it to the OS (as Kafka)"},
    {"log.retention.check.interval.ms", OPT_INT, OFF(retention_check_interval_ms), "30000",
     "how often retention and segment age are checked"},
    {"socket.request.max.bytes", OPT_INT, OFF(socket_request_max_bytes), "104857600",
     "largest request frame accepted; a larger one closes the connection"},
    {"connections.max.idle.ms", OPT_INT, OFF(connections_max_idle_ms), "600000",
     "close connections idle this long"},
    {"max.connections", OPT_INT, OFF(max_connections), "10000", "concurrent connections"},
    {"fetch.max.wait.cap.ms", OPT_INT, OFF(fetch_max_wait_cap_ms), "30000",
     "upper bound on how long a Fetch may long-poll"},
    {"log.level", OPT_STR, OFF(log_level), "info", "debug, info, warn or error"},
    {"group.initial.rebalance.delay.ms", OPT_INT, OFF(group_initial_rebalance_delay_ms), "100",
     "how long the first rebalance of an empty group waits for more members"},
    {"group.min.session.timeout.ms", OPT_INT, OFF(group_min_session_timeout_ms), "1000",
     "smallest session timeout a consumer may ask for"},
    {"group.max.session.timeout.ms", OPT_INT, OFF(group_max_session_timeout_ms), "1800000",
     "largest session timeout a consumer may ask for"},
    {"group.max.size", OPT_INT, OFF(group_max_size), "10000", "members per group"},
    {"offsets.retention.ms", OPT_INT, OFF(offsets_retention_ms), "604800000",
     "drop committed offsets of groups empty and idle this long; -1 = never"},
    {"offsets.retention.check.interval.ms", OPT_INT, OFF(offsets_retention_check_interval_ms),
     "600000", "an empty group without committed offsets is forgotten after this long"},
    {"offset.metadata.max.bytes", OPT_INT, OFF(offset_metadata_max_bytes), "4096",
     "largest metadata string of a committed offset"},
    {"transaction.max.timeout.ms", OPT_INT, OFF(transaction_max_timeout_ms), "900000",
     "largest transaction timeout a transactional producer may ask for"},
    {"transaction.abort.timed.out.transaction.cleanup.interval.ms", OPT_INT,
     OFF(transaction_abort_interval_ms), "10000",
     "how often transactions past their timeout are looked for and aborted"},
    {"log.segment.bytes", OPT_LOG, 0, "1073741824", "roll segments at this size"},
    {"log.roll.ms", OPT_LOG, 0, "604800000", "roll segments at this age"},
    {"log.retention.ms", OPT_LOG, 0, "604800000", "delete segments older than this; -1 = never"},
    {"log.retention.bytes", OPT_LOG, 0, "-1", "keep at most this many bytes per partition"},
    {"log.index.interval.bytes", OPT_LOG, 0, "4096", "bytes between offset index entries"},
    {"message.max.bytes", OPT_LOG, 0, "1048588", "largest record batch accepted"},
    {"log.message.timestamp.type", OPT_LOG, 0, "CreateTime", "CreateTime or LogAppendTime"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Broker-level keys map onto the topic-level names log_config_set() knows. */
static const char *log_key(const char *key)
{
    static const struct {
        const char *broker, *topic;
    } map[] = {
        {"log.segment.bytes", "segment.bytes"},
        {"log.roll.ms", "segment.ms"},
        {"log.retention.ms", "retention.ms"},
        {"log.retention.bytes", "retention.bytes"},
        {"log.index.interval.bytes", "index.interval.bytes"},
        {"message.max.bytes", "max.message.bytes"},
        {"log.message.timestamp.type", "message.timestamp.type"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].broker, key) == 0)
            return map[i].topic;
    return key;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return TANDEM_EINVAL;
    *out = v;
    return 0;
}

static int set_opt(struct broker_config *c, const struct opt *o, const char *value)
{
    char *base = (char *)c;
    switch (o->type) {
    case OPT_STR: {
        char **slot = (char **)(base + o->off);
        free(*slot);
        *slot = xstrndup(value, strlen(value));
        return 0;
    }
    case OPT_INT:
        return parse_int(value, (int64_t *)(base + o->off));
    case OPT_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            *(bool *)(base + o->off) = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            *(bool *)(base + o->off) = false;
        else
            return TANDEM_EINVAL;
        return 0;
    case OPT_LOG:
        return log_config_set(&c->log, log_key(o->key), value);
    }
    return TANDEM_EINVAL;
}

void broker_config_init(struct broker_config *c)
{
    memset(c, 0, sizeof(*c));
    log_config_defaults(&c->log);
    for (size_t i = 0; i < NOPTS; i++) {
        int rc = set_opt(c, &opts[i], opts[i].def);
        (void)rc; /* defaults are valid by construction; test_config checks it */
    }
}

void broker_config_cleanup(struct broker_config *c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts[i].type == OPT_STR) {
            char **slot = (char **)((char *)c + opts[i].off);
            free(*slot);
            *slot = NULL;
        }
}

int broker_config_set(struct broker_config *c, const char *key, const char *value)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].key, key) == 0) {
            int rc = set_opt(c, &opts[i], value);
            if (rc == 0)
                c->set_mask |= 1ull << i;
            return rc;
        }
    }
    return TANDEM_ENOENT;
}

_Static_assert(sizeof(opts) / sizeof(opts[0]) <= 64, "set_mask has one bit per setting");

bool broker_config_entry(const struct broker_config *c, size_t i, struct broker_config_entry *e)
{
    if (i >= NOPTS)
        return false;
    const struct opt *o = &opts[i];
    const char *base = (const char *)c;
    memset(e, 0, sizeof(*e));
    e->key = o->key;
    e->doc = o->doc;
    e->def = o->def;
    e->is_set = (c->set_mask >> i) & 1;
    switch (o->type) {
    case OPT_STR: {
        const char *v = *(char *const *)(base + o->off);
        e->type = 's';
        snprintf(e->value, sizeof(e->value), "%s", v ? v : "");
        break;
    }
    case OPT_INT:
        e->type = 'l';
        snprintf(e->value, sizeof(e->value), "%lld", (long long)*(const int64_t *)(base + o->off));
        break;
    case OPT_BOOL:
        e->type = 'b';
        snprintf(e->value, sizeof(e->value), "%s",
                 *(const bool *)(base + o->off) ? "true" : "false");
        break;
    case OPT_LOG:
        e->topic_key = log_key(o->key);
        e->type = strcmp(e->topic_key, "message.timestamp.type") == 0 ? 's' : 'l';
        if (log_config_get(&c->log, e->topic_key, e->value, sizeof(e->value)))
            e->value[0] = '\0';
        break;
    }
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int broker_config_load_file(struct broker_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return TANDEM_EIO;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key=value", path, lineno);
            rc = TANDEM_EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        rc = broker_config_set(c, key, value);
        if (rc) {
            snprintf(err, errlen, "%s:%d: %s '%s'", path, lineno,
                     rc == TANDEM_ENOENT ? "unknown setting" : "bad value for", key);
            break;
        }
    }
    fclose(f);
    return rc;
}

/* "--log-retention-ms" -> "log.retention.ms" into buf; returns NULL if not a flag. */
static const char *flag_to_key(const char *flag, char *buf, size_t len)
{
    if (strncmp(flag, "--", 2) != 0)
        return NULL;
    size_t i = 0;
    for (flag += 2; *flag && *flag != '=' && i + 1 < len; flag++)
        buf[i++] = *flag == '-' ? '.' : *flag;
    buf[i] = '\0';
    return buf;
}

static void apply_env(struct broker_config *c)
{
    for (size_t i = 0; i < NOPTS; i++) {
        char name[128] = "TANDEM_BROKER_";
        size_t n = strlen(name);
        for (const char *k = opts[i].key; *k && n + 1 < sizeof(name); k++)
            name[n++] = *k == '.' ? '_' : (char)toupper((unsigned char)*k);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v && set_opt(c, &opts[i], v) == 0)
            c->set_mask |= 1ull << i;
    }
}

int broker_config_from_args(struct broker_config *c, int argc, char **argv, bool *help, char *err,
                            size_t errlen)
{
    *help = false;
    for (int i = 1; i < argc; i++) { /* --config first: the environment and flags override it */
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            int rc = broker_config_load_file(c, argv[i + 1], err, errlen);
            if (rc)
                return rc;
        }
    }
    apply_env(c);
    for (int i = 1; i < argc; i++) {
        char key[128];
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return 0;
        }
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (!flag_to_key(arg, key, sizeof(key))) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return TANDEM_EINVAL;
        }
        const char *eq = strchr(arg, '=');
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            snprintf(err, errlen, "%s needs a value", arg);
            return TANDEM_EINVAL;
        }
        int rc = broker_config_set(c, key, value);
        if (rc) {
            snprintf(err, errlen, "%s '%s'", rc == TANDEM_ENOENT ? "unknown flag" : "bad value for",
                     arg);
            return rc;
        }
    }
    return 0;
}

void broker_config_usage(FILE *out)
{
    fprintf(out, "usage: tandem-broker [--config FILE] [--SETTING VALUE ...]\n\n"
                 "Every setting is a flag (--log-retention-ms 60000), a config file line\n"
                 "(log.retention.ms=60000) and an environment variable\n"
                 "(TANDEM_BROKER_LOG_RETENTION_MS=60000); flags win over the environment,\n"
                 "which wins over the file.\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[128];
        size_t n = 0;
        for (const char *k = opts[i].key; *k && n + 1 < sizeof(flag); k++)
            flag[n++] = *k == '.' ? '-' : *k;
        flag[n] = '\0';
        fprintf(out, "  --%-32s %s (default: %s)\n", flag, opts[i].doc,
                *opts[i].def ? opts[i].def : "none");
    }
}
