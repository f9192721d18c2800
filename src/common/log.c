/*
 * log.c: JSON lines on stderr (common/log.h).
 *
 * A line is built in a struct log_line (LOG_LINE_MAX bytes, on the caller's stack): the prefix
 *
 *     {"ts":"2026-11-26T21:50:39.123Z","level":"info","comp":"hello","msg":"request"
 *
 * then members, then "}\n", and it goes out whole in one write(2). The line is valid JSON by
 * construction, whatever the caller hands in:
 *   - every string between quotes is written by json_put_str, which escapes '"', '\' and control
 *     characters, writes each byte that does not start a well-formed UTF-8 sequence (RFC 3629
 *     section 4: no overlongs, no surrogates, nothing above U+10FFFF) as \ufffd, and cuts a value
 *     that does not fit at a character boundary, closing quote kept;
 *   - members formatted by a caller (log_write's printf format, tandem_log_info's) are checked
 *     by a small JSON validator (jv_*) first; when they are not valid (a "%s" of a string with a
 *     quote in it, "nan" from a %f, bytes that are not UTF-8, a raw newline, a cut at the line's
 *     end) they are written as one escaped string, "fields_invalid":"...", so the line stays one
 *     valid JSON object and nothing the caller wrote is lost.
 * Keys given to log_line_* are literals of the code and are not escaped.
 *
 * The timestamp's text up to the second is kept per thread and remade once a second (gmtime_r
 * takes a lock and is slow next to the rest); no printf runs on the log_line_* path.
 *
 * BUFFERS. A write(2) per line was most of what an access log cost a service (15-20 % of its CPU
 * per request in bench/http). A thread that calls log_buffer_open (each HTTP worker) appends its
 * lines to a buffer of its own instead; the buffer goes out in one write(2) of whole lines when
 * the next line would not fit, when the owner's loop finds its oldest line LOG_FLUSH_MS old
 * (log_buffer_due / log_buffer_tick), and at log_buffer_close. Lines never interleave inside a
 * line: when stderr is a pipe (or a terminal, a socket) the buffer holds at most PIPE_BUF bytes
 * (LOG_LINE_MAX), and a write of at most PIPE_BUF bytes to a pipe is atomic (pipe(7)); when it is
 * a regular file, where Linux takes each write whole under the inode's lock (and O_APPEND, as the
 * supervisor opens the logs, places it at the end), it holds up to LOG_BUF_FILE bytes, so one
 * write carries hundreds of lines. The kind of stderr is looked at (fstat) at each write.
 *
 * The buffers sit in a fixed table (log_bufs, LOG_MAX_BUFS slots, allocated at first use and
 * reused by the next thread that opens one, never freed), so that a fatal-signal handler can find
 * them all. log_crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT; installed at the first open)
 * writes every buffer with write(2), which is async-signal-safe, then gives the signal back to
 * the handler that was there before: a fault re-executes and faults again into it, a signal sent
 * (abort's) is raised again. Each buffer has a lock word: its owner holds it while it appends or
 * writes, the handler of another thread takes it before it writes that buffer (waiting at most
 * CRASH_WAIT_MS for an owner stuck in a write), and the crashing thread writes its own buffer
 * without it (it may have been interrupted holding it: `len` only ever counts whole lines, so
 * what it writes is whole lines). What a SIGKILL finds in the buffers is lost: at most
 * LOG_FLUSH_MS worth of lines, and at most PIPE_BUF bytes, per buffering thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "tandem/error.h"

#define LINE_RESERVE 2 /* "}\n" */

static char log_comp[80] = "\"tandem\""; /* the component, as an escaped JSON string */
static _Atomic int log_min = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* ","level":"<name>","comp": for each level: the part of the prefix after the milliseconds */
static const char *const level_parts[] = {
    "Z\",\"level\":\"debug\",\"comp\":",
    "Z\",\"level\":\"info\",\"comp\":",
    "Z\",\"level\":\"warn\",\"comp\":",
    "Z\",\"level\":\"error\",\"comp\":",
};

static size_t json_put_str(char *out, size_t cap, const char *s, size_t n);

void log_setup(const char *component, enum log_level min_level)
{
    size_t n = strnlen(component, 63);
    size_t w = json_put_str(log_comp, sizeof(log_comp) - 1, component, n);
    log_comp[w] = '\0';
    atomic_store_explicit(&log_min, (int)min_level, memory_order_relaxed);
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

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

/* ---- UTF-8 and JSON strings ------------------------------------------------------------------ */

/* The length of the well-formed UTF-8 sequence at p[0..n) (n >= 1), 0 when none starts there
 * (RFC 3629 section 4: the second byte's range depends on the first). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : lo; /* no overlong forms */
        hi = c == 0xed ? 0x9f : hi; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : lo;
        hi = c == 0xf4 ? 0x8f : hi; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/* Writes s[0..n) as a JSON string, quotes included, into out[0..cap) (no NUL): '"', '\' and
 * control characters escaped, each byte that does not start well-formed UTF-8 as \ufffd, cut
 * after the last character that fits before the closing quote. Returns the bytes written, 0 when
 * cap < 2 (nothing written). */
static size_t json_put_str(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (cap < 2) {
        return 0;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, i = 0;
    out[o++] = '"';
    while (i < n) {
        /* a run of printable ASCII other than '"' and '\' goes in as it is, in one copy */
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') {
            run++;
        }
        if (run > i) {
            size_t take = run - i < cap - 1 - o ? run - i : cap - 1 - o;
            memcpy(out + o, p + i, take);
            o += take;
            i += take;
            if (i < run) {
                break; /* the closing quote's place reached */
            }
            continue;
        }
        unsigned char c = p[i];
        char esc[6];
        const char *w = (const char *)p + i;
        size_t wl = 1, adv = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            w = esc;
            wl = 2;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            w = esc;
            wl = 6;
        } else if (c >= 0x80) {
            adv = wl = utf8_len(p + i, n - i);
            if (adv == 0) {
                w = "\\ufffd";
                wl = 6;
                adv = 1;
            }
        }
        if (o + wl + 1 > cap) {
            break;
        }
        memcpy(out + o, w, wl);
        o += wl;
        i += adv;
    }
    out[o++] = '"';
    return o;
}

const char *log_json_str(char *buf, size_t size, const char *s)
{
    if (size < 5) {
        if (size > 0) {
            buf[0] = '\0';
        }
        return buf;
    }
    if (s == NULL) {
        memcpy(buf, "null", 5);
        return buf;
    }
    size_t n = json_put_str(buf, size - 1, s, strlen(s));
    buf[n] = '\0';
    return buf;
}

/* ---- checking members a caller formatted ------------------------------------------------------
 * RFC 8259's grammar, except that the only white space allowed is space and tab (a CR or LF
 * would end the log line), and nesting is bounded. Each function takes [p, e) and returns the
 * position after what it read, or NULL when that is not valid. */

#define JV_MAX_DEPTH 16

static const char *jv_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}

static bool jv_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *jv_string(const char *p, const char *e)
{
    if (p >= e || *p != '"') {
        return NULL;
    }
    p++;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            return p + 1;
        }
        if (c < 0x20) {
            return NULL;
        }
        if (c != '\\') {
            size_t l = utf8_len((const unsigned char *)p, (size_t)(e - p));
            if (l == 0) {
                return NULL;
            }
            p += l;
            continue;
        }
        if (e - p < 2) {
            return NULL;
        }
        if (p[1] == 'u') {
            if (e - p < 6 || !jv_hex(p[2]) || !jv_hex(p[3]) || !jv_hex(p[4]) || !jv_hex(p[5])) {
                return NULL;
            }
            p += 6;
        } else if (p[1] != '\0' && strchr("\"\\/bfnrt", p[1]) != NULL) {
            p += 2;
        } else {
            return NULL;
        }
    }
    return NULL;
}

static const char *jv_digits(const char *p, const char *e)
{
    const char *d = p;
    while (p < e && *p >= '0' && *p <= '9') {
        p++;
    }
    return p > d ? p : NULL;
}

static const char *jv_number(const char *p, const char *e)
{
    if (p < e && *p == '-') {
        p++;
    }
    if (p < e && *p == '0') {
        p++;
    } else if (p >= e || *p < '1' || *p > '9' || (p = jv_digits(p, e)) == NULL) {
        return NULL;
    }
    if (p < e && *p == '.' && (p = jv_digits(p + 1, e)) == NULL) {
        return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        p += p < e && (*p == '+' || *p == '-');
        p = jv_digits(p, e);
    }
    return p;
}

static const char *jv_items(const char *p, const char *e, char close, int depth);

static const char *jv_value(const char *p, const char *e, int depth)
{
    static const char *const words[] = {"true", "false", "null"};
    if (p >= e) {
        return NULL;
    }
    if (*p == '"') {
        return jv_string(p, e);
    }
    if (*p == '{' || *p == '[') {
        return depth < JV_MAX_DEPTH ? jv_items(p + 1, e, *p == '{' ? '}' : ']', depth + 1) : NULL;
    }
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i]);
        if ((size_t)(e - p) >= l && memcmp(p, words[i], l) == 0) {
            return p + l;
        }
    }
    return jv_number(p, e);
}

/* The inside of an object (close '}') or an array (']') after its opening bracket, its closing
 * bracket included; close '\0': object members up to e, without brackets (what log_write's
 * fields are). */
static const char *jv_items(const char *p, const char *e, char close, int depth)
{
    p = jv_ws(p, e);
    if (p < e && *p == close) {
        return p + 1;
    }
    if (p == e && close == '\0') {
        return p; /* no member at all */
    }
    for (;;) {
        if (close != ']') {
            p = jv_string(p, e);
            p = p != NULL ? jv_ws(p, e) : NULL;
            if (p == NULL || p == e || *p != ':') {
                return NULL;
            }
            p = jv_ws(p + 1, e);
        }
        p = jv_value(p, e, depth);
        if (p == NULL) {
            return NULL;
        }
        p = jv_ws(p, e);
        if (p == e) {
            return close == '\0' ? p : NULL;
        }
        if (*p == close) {
            return p + 1;
        }
        if (*p != ',') {
            return NULL;
        }
        p = jv_ws(p + 1, e);
    }
}

/* ---- building a line ------------------------------------------------------------------------- */

struct log_ts {
    time_t sec;
    char text[20]; /* "2026-11-26T21:50:39" */
};
static _Thread_local struct log_ts log_ts;

/* Writes the two-digit v at p. */
static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* Writes v's decimal digits ending before end; returns where they start. */
static char *put_u64(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

static void line_put(struct log_line *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

bool log_line_begin(struct log_line *l, enum log_level level, const char *msg)
{
    if (!log_enabled(level)) {
        return false;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != log_ts.sec || log_ts.text[0] == '\0') {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int y = tm.tm_year + 1900;
        put2(log_ts.text, y / 100);
        put2(log_ts.text + 2, y % 100);
        log_ts.text[4] = '-';
        put2(log_ts.text + 5, tm.tm_mon + 1);
        log_ts.text[7] = '-';
        put2(log_ts.text + 8, tm.tm_mday);
        log_ts.text[10] = 'T';
        put2(log_ts.text + 11, tm.tm_hour);
        log_ts.text[13] = ':';
        put2(log_ts.text + 14, tm.tm_min);
        log_ts.text[16] = ':';
        put2(log_ts.text + 17, tm.tm_sec);
        log_ts.sec = ts.tv_sec;
    }
    l->len = 0;
    line_put(l, "{\"ts\":\"", 7);
    line_put(l, log_ts.text, 19);
    long ms = ts.tv_nsec / 1000000;
    l->buf[l->len++] = '.';
    l->buf[l->len++] = (char)('0' + ms / 100);
    put2(l->buf + l->len, (int)(ms % 100));
    l->len += 2;
    const char *part = level_parts[level];
    line_put(l, part, strlen(part));
    line_put(l, log_comp, strlen(log_comp));
    line_put(l, ",\"msg\":", 7);
    l->len += json_put_str(l->buf + l->len, LOG_VALUE_MAX, msg, strlen(msg));
    return true;
}

/* Writes ,"key": when it fits with value_min more bytes and the line's end; false otherwise. */
static bool member_key(struct log_line *l, const char *key, size_t value_min)
{
    size_t kl = strlen(key);
    if (l->len + kl + 4 + value_min + LINE_RESERVE > LOG_LINE_MAX) {
        return false;
    }
    l->buf[l->len++] = ',';
    l->buf[l->len++] = '"';
    line_put(l, key, kl);
    l->buf[l->len++] = '"';
    l->buf[l->len++] = ':';
    return true;
}

void log_line_str(struct log_line *l, const char *key, const char *value)
{
    if (value == NULL) {
        if (member_key(l, key, 4)) {
            line_put(l, "null", 4);
        }
        return;
    }
    if (!member_key(l, key, 2)) {
        return;
    }
    size_t room = LOG_LINE_MAX - LINE_RESERVE - l->len;
    room = room < LOG_VALUE_MAX ? room : LOG_VALUE_MAX;
    l->len += json_put_str(l->buf + l->len, room, value, strlen(value));
}

void log_line_int(struct log_line *l, const char *key, long long v)
{
    char d[24], *end = d + sizeof(d);
    char *s = put_u64(end, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0) {
        *--s = '-';
    }
    if (member_key(l, key, (size_t)(end - s))) {
        line_put(l, s, (size_t)(end - s));
    }
}

void log_line_ms(struct log_line *l, const char *key, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    char d[32], *end = d + sizeof(d);
    char *s = end - 4;
    s[0] = '.';
    put2(s + 1, (int)(us % 1000 / 10));
    s[3] = (char)('0' + us % 10);
    s = put_u64(s, us / 1000);
    if (member_key(l, key, (size_t)(end - s))) {
        line_put(l, s, (size_t)(end - s));
    }
}

/* Appends members; bad: known not to be what the caller meant (cut by the formatting buffer). */
static void line_members(struct log_line *l, const char *m, size_t n, bool bad)
{
    const char *p = jv_ws(m, m + n);
    if (p == m + n) {
        return;
    }
    if (!bad && jv_items(m, m + n, '\0', 0) == m + n &&
        l->len + 1 + n + LINE_RESERVE <= LOG_LINE_MAX) {
        l->buf[l->len++] = ',';
        line_put(l, m, n);
        return;
    }
    if (!member_key(l, "fields_invalid", 2)) {
        return;
    }
    l->len += json_put_str(l->buf + l->len, LOG_LINE_MAX - LINE_RESERVE - l->len, m, n);
}

void log_line_vmembers(struct log_line *l, const char *fmt, va_list ap)
{
    if (fmt == NULL || *fmt == '\0') {
        return;
    }
    char f[LOG_LINE_MAX];
    int m = vsnprintf(f, sizeof(f), fmt, ap);
    if (m > 0) {
        bool cut = (size_t)m >= sizeof(f);
        line_members(l, f, cut ? sizeof(f) - 1 : (size_t)m, cut);
    }
}

/* Writes all of p[0..n), however many calls it takes. */
static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0) {
            return; /* stderr closed or full: the line is lost, the caller goes on */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- per-thread buffers ---------------------------------------------------------------------- */

#define LOG_MAX_BUFS  512   /* threads buffering at once (workers: at most 256 per service) */
#define CRASH_WAIT_MS 100   /* how long a crash handler waits for another thread's buffer */
#define LOG_BUF_FILE  65536 /* a buffer's size when stderr is a regular file */

struct log_buf {
    _Atomic int lock;   /* 1: the owner appends or writes, or a crash handler writes */
    _Atomic bool used;  /* a thread has it open */
    _Atomic size_t len; /* bytes of whole lines in data (atomic: read by handlers) */
    size_t cap;         /* LOG_LINE_MAX (= PIPE_BUF), or LOG_BUF_FILE when stderr is a file */
    int64_t since_ms;   /* CLOCK_MONOTONIC_COARSE ms of its oldest line */
    char data[LOG_BUF_FILE];
};

static struct log_buf *_Atomic log_bufs[LOG_MAX_BUFS];
static _Thread_local struct log_buf *log_mine;
static pthread_mutex_t log_crash_mu = PTHREAD_MUTEX_INITIALIZER;
static bool log_exit_set;
static const int log_fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static struct sigaction log_fatal_old[5];

/* The buffers' age is on the HTTP worker's clock (log_buffer_due gets its now_ms): coarse too. */
static int64_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void buf_lock(struct log_buf *b)
{
    while (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire) != 0) {
        /* held by another thread's crash handler (for a write at most): wait for it */
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

static void buf_unlock(struct log_buf *b)
{
    atomic_store_explicit(&b->lock, 0, memory_order_release);
}

/* How many bytes one write may carry without interleaving with other writers (above). */
static size_t stderr_chunk(void)
{
    struct stat st;
    return fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? LOG_BUF_FILE : LOG_LINE_MAX;
}

/* Writes b's lines and empties it; the caller holds b's lock (or is its owner in a handler: no
 * fstat there, the capacity stays). */
static void buf_write(struct log_buf *b, bool in_handler)
{
    size_t n = atomic_load_explicit(&b->len, memory_order_relaxed);
    if (n > 0) {
        write_all(b->data, n);
        atomic_store_explicit(&b->len, 0, memory_order_relaxed);
    }
    if (!in_handler) {
        b->cap = stderr_chunk(); /* stderr may have been redirected since */
    }
}

/* Every buffer written; from a fatal-signal handler (in_handler) only async-signal-safe calls. */
static void bufs_write_all(bool in_handler)
{
    for (int i = 0; i < LOG_MAX_BUFS; i++) {
        struct log_buf *b = atomic_load_explicit(&log_bufs[i], memory_order_acquire);
        if (b == NULL || atomic_load_explicit(&b->len, memory_order_relaxed) == 0) {
            continue;
        }
        if (in_handler && b == log_mine) {
            buf_write(b, true); /* this thread was interrupted, perhaps holding the lock */
            continue;
        }
        bool got = false;
        int64_t t0 = clock_mono_ms(); /* clock_gettime: async-signal-safe */
        do {
            got = atomic_exchange_explicit(&b->lock, 1, memory_order_acquire) == 0;
        } while (!got && in_handler && clock_mono_ms() - t0 < CRASH_WAIT_MS);
        if (!got && !in_handler) {
            buf_lock(b);
            got = true;
        }
        if (got) {
            buf_write(b, in_handler);
            buf_unlock(b);
        }
    }
}

static void log_crash(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    bufs_write_all(true);
    for (size_t i = 0; i < sizeof(log_fatal) / sizeof(log_fatal[0]); i++) {
        if (log_fatal[i] == sig) {
            sigaction(sig, &log_fatal_old[i], NULL);
        }
    }
    if (si == NULL || si->si_code <= 0) {
        raise(sig); /* sent (kill, abort): again, to the previous handler once this returns */
    } /* a fault: the instruction runs again on return and faults into the previous handler */
    errno = saved;
}

static void log_exit(void)
{
    bufs_write_all(false);
}

/* Installs log_crash for the fatal signals whose handler is not log_crash now (the first open;
 * again when something replaced it since: it is chained, as the handler before), and log_exit. */
static void crash_install(void)
{
    pthread_mutex_lock(&log_crash_mu);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = log_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* an alternate stack when the thread has one */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(log_fatal) / sizeof(log_fatal[0]); i++) {
        struct sigaction now;
        if (sigaction(log_fatal[i], NULL, &now) == 0 &&
            ((now.sa_flags & SA_SIGINFO) == 0 || now.sa_sigaction != log_crash)) {
            sigaction(log_fatal[i], &sa, &log_fatal_old[i]);
        }
    }
    if (!log_exit_set) {
        atexit(log_exit); /* exit() while a thread still buffers (its loop never closed it) */
        log_exit_set = true;
    }
    pthread_mutex_unlock(&log_crash_mu);
}

void log_buffer_open(void)
{
    if (log_mine != NULL) {
        return;
    }
    crash_install();
    for (int i = 0; i < LOG_MAX_BUFS; i++) {
        struct log_buf *b = atomic_load_explicit(&log_bufs[i], memory_order_acquire);
        if (b == NULL) {
            struct log_buf *nb = calloc(1, sizeof(*nb));
            if (nb == NULL) {
                return; /* unbuffered: each line written at once */
            }
            if (!atomic_compare_exchange_strong(&log_bufs[i], &b, nb)) {
                free(nb); /* another thread filled the slot: b is its buffer */
            } else {
                b = nb;
            }
        }
        bool free_slot = false;
        if (atomic_compare_exchange_strong(&b->used, &free_slot, true)) {
            b->cap = stderr_chunk();
            log_mine = b;
            return;
        }
    }
}

int64_t log_buffer_due(int64_t now_ms)
{
    struct log_buf *b = log_mine;
    if (b == NULL || atomic_load_explicit(&b->len, memory_order_relaxed) == 0) {
        return -1;
    }
    int64_t left = b->since_ms + LOG_FLUSH_MS - now_ms;
    return left > 0 ? left : 0;
}

void log_buffer_tick(int64_t now_ms)
{
    if (log_buffer_due(now_ms) == 0) {
        log_buffer_flush();
    }
}

void log_buffer_flush(void)
{
    struct log_buf *b = log_mine;
    if (b != NULL) {
        buf_lock(b);
        buf_write(b, false);
        buf_unlock(b);
    }
}

void log_buffer_close(void)
{
    struct log_buf *b = log_mine;
    if (b != NULL) {
        log_buffer_flush();
        log_mine = NULL;
        atomic_store_explicit(&b->used, false, memory_order_release);
    }
}

void log_line_end(struct log_line *l)
{
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    struct log_buf *b = log_mine;
    if (b == NULL) {
        write_all(l->buf, l->len);
        return;
    }
    buf_lock(b);
    size_t len = atomic_load_explicit(&b->len, memory_order_relaxed);
    if (len + l->len > b->cap) {
        buf_write(b, false);
        len = 0;
    }
    if (len == 0) {
        b->since_ms = coarse_ms();
    }
    memcpy(b->data + len, l->buf, l->len);
    /* release: the line's bytes are in before len counts them, also for a signal handler */
    atomic_store_explicit(&b->len, len + l->len, memory_order_release);
    buf_unlock(b);
}

void log_write(enum log_level level, const char *msg, const char *fields, ...)
{
    struct log_line l;
    if (!log_line_begin(&l, level, msg)) {
        return;
    }
    va_list ap;
    va_start(ap, fields);
    log_line_vmembers(&l, fields, ap);
    va_end(ap);
    log_line_end(&l);
}
