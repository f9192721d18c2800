/*
 * JSON-line logging to stderr.
 *
 * One line per event: {"ts":"2026-11-26T21:50:39.123Z","level":"info","comp":"broker",
 * "msg":"ready", ...fields}. The fields argument is a printf format producing zero or more
 * comma-separated JSON members (`"\"port\":%d"`); pass NULL for none. Strings that come from
 * outside must go through log_json_str() so the line stays valid JSON.
 */
#ifndef TANDEM_COMMON_LOG_H
#define TANDEM_COMMON_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the component name written in every line ("broker") and the minimum level. */
void log_setup(const char *component, enum log_level min_level);
/* Parses "debug", "info", "warn" or "error"; returns 0 or TANDEM_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

void log_write(enum log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s as a quoted, escaped JSON string into buf (always NUL-terminated, truncated to fit).
 * Returns buf so it can be used inline as a %s argument. */
const char *log_json_str(char *buf, size_t size, const char *s);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
