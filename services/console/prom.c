/*
 * The Prometheus text exposition format (version 0.0.4), read: what every libtandem service
 * writes at /metrics (docs/libtandem.md, "Metrics"), and what the console scrapes every second.
 *
 * The grammar read here (the format's own description, prometheus/docs exposition_formats.md):
 *
 *   line     = comment | blank | sample
 *   comment  = '#' anything                       (# HELP and # TYPE included: not needed here)
 *   sample   = name [ '{' [ label { ',' label } [ ',' ] ] '}' ] value [ timestamp ]
 *   name     = [a-zA-Z_:][a-zA-Z0-9_:]*
 *   label    = lname '=' '"' { char | '\\' | '\"' | '\n' } '"'     lname = [a-zA-Z_][a-zA-Z0-9_]*
 *   value    = a float as Go's ParseFloat reads it: decimal, exponent, +Inf, -Inf, NaN
 *   timestamp = an integer (milliseconds): read and ignored
 *
 * separated by spaces or tabs. Lines end with '\n' (a last line without one is read too).
 *
 * The scraped text comes over the network, so the parser is written for any bytes: it never
 * reads past len, never allocates, bounds the labels of a sample (PROM_MAX_LABELS) and their
 * decoded values (4 KiB per line, in a buffer on the stack), and reports the first malformed line.
 * tests/fuzz/fuzz_console_prom.c runs it over arbitrary input.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

#define LABEL_BYTES 4096

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}

/* A float as the format writes it, [p, end): strtod on a bounded copy (strtod would read past a
 * line without a terminator). Go's ParseFloat forms are a subset of what strtod reads, bar the
 * spellings of infinity, which strtod reads case-insensitively too. */
static int parse_value(const char *p, const char *end, double *out)
{
    char buf[64];
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= sizeof(buf)) {
        return TANDEM_EINVAL;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        bool ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
                  c == '-' || c == 'I' || c == 'n' || c == 'f' || c == 'N' || c == 'a';
        if (!ok) {
            return TANDEM_EINVAL; /* strtod's hexadecimal floats, "infinity", ... */
        }
    }
    char *stop = NULL;
    errno = 0;
    double v = strtod(buf, &stop);
    if (stop != buf + n || (errno == ERANGE && !isinf(v) && v != 0)) {
        return TANDEM_EINVAL;
    }
    *out = v;
    return 0;
}

/* The labels of a sample, from just after '{'; *p_io is left after '}'. Decoded values go into
 * buf (LABEL_BYTES). */
static int parse_labels(const char **p_io, const char *end, struct prom_sample *s, char *buf)
{
    const char *p = *p_io;
    size_t used = 0;
    for (;;) {
        p = skip_blanks(p, end);
        if (p < end && *p == '}') {
            *p_io = p + 1;
            return 0;
        }
        if (p >= end || !name_start(*p) || *p == ':' || s->n_labels == PROM_MAX_LABELS) {
            return TANDEM_EINVAL;
        }
        struct prom_label *l = &s->labels[s->n_labels++];
        l->name = p;
        while (p < end && name_char(*p) && *p != ':') {
            p++;
        }
        l->name_len = (size_t)(p - l->name);
        p = skip_blanks(p, end);
        if (p >= end || *p != '=') {
            return TANDEM_EINVAL;
        }
        p = skip_blanks(p + 1, end);
        if (p >= end || *p != '"') {
            return TANDEM_EINVAL;
        }
        p++;
        l->value = buf + used;
        for (;;) {
            if (p >= end || *p == '\n') {
                return TANDEM_EINVAL; /* unterminated */
            }
            char c = *p++;
            if (c == '"') {
                break;
            }
            if (c == '\\') {
                if (p >= end) {
                    return TANDEM_EINVAL;
                }
                char e = *p++;
                c = e == 'n' ? '\n' : e;
                if (e != 'n' && e != '\\' && e != '"') {
                    return TANDEM_EINVAL;
                }
            }
            if (used + 1 >= LABEL_BYTES) {
                return TANDEM_EINVAL;
            }
            buf[used++] = c;
        }
        l->value_len = (size_t)(buf + used - l->value);
        buf[used++] = '\0';
        p = skip_blanks(p, end);
        if (p < end && *p == ',') {
            p++;
        } else if (p >= end || *p != '}') {
            return TANDEM_EINVAL;
        }
    }
}

/* One sample line [p, end) (no '\n'). */
static int parse_sample(const char *p, const char *end, struct prom_sample *s, char *buf)
{
    memset(s, 0, sizeof(*s));
    if (!name_start(*p)) {
        return TANDEM_EINVAL;
    }
    s->name = p;
    while (p < end && name_char(*p)) {
        p++;
    }
    s->name_len = (size_t)(p - s->name);
    p = skip_blanks(p, end);
    if (p < end && *p == '{') {
        p++;
        int rc = parse_labels(&p, end, s, buf);
        if (rc != 0) {
            return rc;
        }
        p = skip_blanks(p, end);
    }
    const char *v = p;
    while (p < end && *p != ' ' && *p != '\t') {
        p++;
    }
    int rc = parse_value(v, p, &s->value);
    if (rc != 0) {
        return rc;
    }
    p = skip_blanks(p, end);
    if (p < end) { /* a timestamp: an optional sign and digits */
        const char *t = p;
        if (*p == '-' || *p == '+') {
            p++;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == t || (p == t + 1 && (*t == '-' || *t == '+'))) {
            return TANDEM_EINVAL;
        }
        if (skip_blanks(p, end) != end) {
            return TANDEM_EINVAL;
        }
    }
    return 0;
}

int prom_parse(const char *text, size_t len, prom_sample_fn fn, void *arg, size_t *bad_line)
{
    const char *p = text, *end = text + len;
    size_t line = 0;
    char buf[LABEL_BYTES];
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol != NULL ? eol : end;
        const char *q = skip_blanks(p, stop);
        if (stop > q && stop[-1] == '\r') {
            stop--; /* CRLF line ends, as some exporters write */
        }
        if (q < stop && *q != '#') {
            struct prom_sample s;
            int rc = parse_sample(q, stop, &s, buf);
            if (rc != 0) {
                if (bad_line != NULL) {
                    *bad_line = line;
                }
                return rc;
            }
            rc = fn(&s, arg);
            if (rc != 0) {
                return rc;
            }
        }
        p = eol != NULL ? eol + 1 : end;
    }
    return 0;
}

const char *prom_label(const struct prom_sample *s, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct prom_label *l = &s->labels[i];
        if (l->name_len == n && memcmp(l->name, name, n) == 0) {
            size_t m = l->value_len < cap - 1 ? l->value_len : cap - 1;
            memcpy(buf, l->value, m);
            buf[m] = '\0';
            return buf;
        }
    }
    return NULL;
}
