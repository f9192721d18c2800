/*
 * JSON-line logger. Each line is formatted into one buffer and written with a single write(2),
 * so lines from several threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "tandem/error.h"

static const char *log_component = "tandem";
static enum log_level log_min = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(const char *component, enum log_level min_level)
{
    log_component = component;
    log_min = min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return TANDEM_EINVAL;
}

const char *log_json_str(char *buf, size_t size, const char *s)
{
    size_t o = 0;
    if (size < 3) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void log_write(enum log_level level, const char *msg, const char *fields, ...)
{
    if (level < log_min)
        return;
    char line[4096], esc[512];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                     "\"comp\":\"%s\",\"msg\":%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], log_component,
                     log_json_str(esc, sizeof(esc), msg));
    if (fields && *fields && n > 0 && (size_t)n < sizeof(line) - 2) {
        line[n++] = ',';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fields, ap);
        va_end(ap);
        if (m > 0)
            n += m < (int)(sizeof(line) - (size_t)n - 2) ? m : (int)(sizeof(line) - (size_t)n - 3);
    }
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
