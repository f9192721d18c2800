/*
 * Topic configuration (Kafka's topic-level config names) and small I/O helpers shared by the
 * storage files.
 *
 * Only the configs that change what this log does are accepted; everything else is refused with
 * TANDEM_EINVAL so a client never believes a setting took effect when it did not. Limits follow
 * Kafka's LogConfig (segment.bytes >= 14, segment.ms >= 1, the others >= 0 or -1 for "none").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/log_int.h"
#include "tandem/error.h"

void log_config_defaults(struct log_config *cfg)
{
    cfg->segment_bytes = 1073741824;
    cfg->segment_ms = 7LL * 24 * 3600 * 1000;
    cfg->retention_bytes = -1;
    cfg->retention_ms = 7LL * 24 * 3600 * 1000;
    cfg->index_interval_bytes = 4096;
    cfg->max_message_bytes = 1048576 + 12;
    cfg->log_append_time = false;
}

/* Parses a whole decimal int64 within [min, max]. */
static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return TANDEM_EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return TANDEM_EINVAL;
    *out = v;
    return 0;
}

int log_config_set(struct log_config *cfg, const char *key, const char *value)
{
    int64_t v = 0;
    if (!key || !value)
        return TANDEM_EINVAL;
    if (strcmp(key, "retention.ms") == 0) {
        if (parse_i64(value, -1, INT64_MAX, &v))
            return TANDEM_EINVAL;
        cfg->retention_ms = v;
    } else if (strcmp(key, "retention.bytes") == 0) {
        if (parse_i64(value, -1, INT64_MAX, &v))
            return TANDEM_EINVAL;
        cfg->retention_bytes = v;
    } else if (strcmp(key, "segment.bytes") == 0) {
        if (parse_i64(value, 14, INT32_MAX, &v))
            return TANDEM_EINVAL;
        cfg->segment_bytes = (uint64_t)v;
    } else if (strcmp(key, "segment.ms") == 0) {
        if (parse_i64(value, 1, INT64_MAX, &v))
            return TANDEM_EINVAL;
        cfg->segment_ms = v;
    } else if (strcmp(key, "max.message.bytes") == 0) {
        if (parse_i64(value, 0, INT32_MAX, &v))
            return TANDEM_EINVAL;
        cfg->max_message_bytes = (uint32_t)v;
    } else if (strcmp(key, "index.interval.bytes") == 0) {
        if (parse_i64(value, 0, INT32_MAX, &v))
            return TANDEM_EINVAL;
        cfg->index_interval_bytes = (uint32_t)v;
    } else if (strcmp(key, "message.timestamp.type") == 0) {
        if (strcmp(value, "CreateTime") == 0)
            cfg->log_append_time = false;
        else if (strcmp(value, "LogAppendTime") == 0)
            cfg->log_append_time = true;
        else
            return TANDEM_EINVAL;
    } else if (strcmp(key, "cleanup.policy") == 0) {
        if (strcmp(value, "delete") != 0)
            return TANDEM_EINVAL;
    } else {
        return TANDEM_EINVAL;
    }
    return 0;
}

int log_config_get(const struct log_config *cfg, const char *key, char *buf, size_t len)
{
    long long v;
    if (strcmp(key, "retention.ms") == 0)
        v = cfg->retention_ms;
    else if (strcmp(key, "retention.bytes") == 0)
        v = cfg->retention_bytes;
    else if (strcmp(key, "segment.bytes") == 0)
        v = (long long)cfg->segment_bytes;
    else if (strcmp(key, "segment.ms") == 0)
        v = cfg->segment_ms;
    else if (strcmp(key, "max.message.bytes") == 0)
        v = cfg->max_message_bytes;
    else if (strcmp(key, "index.interval.bytes") == 0)
        v = cfg->index_interval_bytes;
    else if (strcmp(key, "message.timestamp.type") == 0) {
        snprintf(buf, len, "%s", cfg->log_append_time ? "LogAppendTime" : "CreateTime");
        return 0;
    } else if (strcmp(key, "cleanup.policy") == 0) {
        snprintf(buf, len, "delete");
        return 0;
    } else {
        return TANDEM_EINVAL;
    }
    snprintf(buf, len, "%lld", v);
    return 0;
}

bool topic_name_valid(const char *name, size_t len)
{
    if (!name || len < 1 || len > 249)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* ---- helpers --------------------------------------------------------------------------------- */

int log_pread_all(int fd, void *p, size_t len, off_t pos)
{
    uint8_t *b = p;
    while (len > 0) {
        ssize_t n = pread(fd, b, len, pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return TANDEM_EIO;
        if (n == 0)
            return TANDEM_EAGAIN;
        b += n;
        len -= (size_t)n;
        pos += n;
    }
    return 0;
}
