/*
 * JSON-line logging to stderr.
 *
 * One line per event: {"ts":"2026-11-26T21:50:39.123Z","level":"info","comp":"broker",
 * "msg":"ready", ...fields}. Every line is one valid JSON object on one line, whatever it is
 * given: strings are escaped here (log_json_str, log_line_str), bytes that are not UTF-8 become
 * U+FFFD, and fields that a caller formatted by hand into something that is not JSON are kept as
 * one escaped string ("fields_invalid") instead of breaking the line.
 *
 * Two ways to write a line:
 *   - log_write(level, msg, fields, ...): fields is a printf format producing zero or more
 *     comma-separated JSON members (`"\"port\":%d"`), or NULL for none. A string from outside goes
 *     in through log_json_str() (`"\"path\":%s"`, quotes included in what it returns);
 *   - log_line_begin / log_line_str / _int / _ms / log_line_end: member by member, no printf;
 *     what the per-request paths (the access log) use.
 *
 * A line is at most LOG_LINE_MAX bytes (longer values are cut at a character boundary) and goes
 * out in one write(2) of whole lines of at most PIPE_BUF bytes, so lines from several threads or
 * processes sharing stderr never interleave inside a line. A thread may buffer its lines
 * (log_buffer_open: the HTTP workers do); see the functions below.
 */
#ifndef TANDEM_COMMON_LOG_H
#define TANDEM_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

#define LOG_LINE_MAX  4096 /* bytes of one line, its newline included (= PIPE_BUF on Linux) */
#define LOG_VALUE_MAX 1024 /* bytes of one escaped string value written by log_line_str */

/* Sets the component name written in every line ("broker") and the minimum level. Call before
 * other threads log (the name is escaped and copied here, up to 63 bytes). */
void log_setup(const char *component, enum log_level min_level);
/* Parses "debug", "info", "warn" or "error"; returns 0 or TANDEM_EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
/* True when a line of this level would be written. */
bool log_enabled(enum log_level level);

void log_write(enum log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s as a quoted, escaped JSON string into buf (always NUL-terminated, truncated to fit at
 * a character boundary; bytes that are not UTF-8 become \ufffd; s NULL gives null). Returns buf
 * so it can be used inline as a %s argument. */
const char *log_json_str(char *buf, size_t size, const char *s);

/* A line built member by member. keys are literals the caller writes (not escaped). */
struct log_line {
    size_t len;
    char buf[LOG_LINE_MAX];
};
/* Starts a line with ts, level, comp and msg. Returns false (and the line must not be used) when
 * level is below the minimum. */
bool log_line_begin(struct log_line *l, enum log_level level, const char *msg);
/* "key":"value" with value escaped as log_json_str does and cut to LOG_VALUE_MAX bytes; NULL
 * writes null. */
void log_line_str(struct log_line *l, const char *key, const char *value);
void log_line_int(struct log_line *l, const char *key, long long v);
/* "key":<ns as milliseconds with three decimals> (1234567 -> 1.234). */
void log_line_ms(struct log_line *l, const char *key, uint64_t ns);
/* Appends the members a printf format makes ("\"a\":%d,\"b\":%s"; NULL or "": none): checked,
 * and kept as one escaped string "fields_invalid" when they are not valid JSON members. */
void log_line_vmembers(struct log_line *l, const char *fmt, va_list ap);
/* Closes the line and writes it (or appends it to the thread's buffer). */
void log_line_end(struct log_line *l);

/*
 * Per-thread buffering, for threads that log on every request (the HTTP workers): from
 * log_buffer_open on, the calling thread's lines are appended to a buffer of its own (PIPE_BUF
 * bytes) instead of being written one by one; the buffer is written, whole lines in one write(2),
 * when the next line does not fit, when the thread calls log_buffer_tick and its oldest line is
 * LOG_FLUSH_MS old, and at log_buffer_close. The first open installs a handler for SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE and SIGABRT that writes every thread's buffer (write(2) is
 * async-signal-safe), then restores the previous handler and raises the signal again. A SIGKILL
 * (or a power cut) loses what the buffers hold: at most LOG_FLUSH_MS of lines, and at most
 * PIPE_BUF bytes, per buffering thread.
 */
#define LOG_FLUSH_MS 50
void log_buffer_open(void);
/* Milliseconds from now_ms (CLOCK_MONOTONIC_COARSE) until the calling thread's buffer is due, 0
 * when it is due, -1 when it is empty or the thread does not buffer. */
int64_t log_buffer_due(int64_t now_ms);
/* Writes the calling thread's buffer when it is due at now_ms. */
void log_buffer_tick(int64_t now_ms);
/* Writes the calling thread's buffer now. */
void log_buffer_flush(void);
/* Writes the buffer and stops buffering the calling thread's lines. */
void log_buffer_close(void);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
