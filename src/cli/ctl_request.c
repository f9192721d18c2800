/*
 * The control protocol's request line (ctl_request.h): bytes in, a struct ctl_request out, no I/O
 * and no allocation. The line is checked byte by byte before it is split, so a NUL (which would
 * hide the rest of the line from every string function) or any other control byte is an error
 * the client is told about, never a line that waits forever for its end.
 */
#include "cli/ctl_request.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/error.h"

/* Splits the line into words at runs of spaces, in place; returns the count (at most max + 1: one
 * more than fits says "too many"). */
static size_t split(char *line, char **words, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0' || n > max) {
            return n;
        }
        words[n++] = p;
        while (*p != ' ' && *p != '\0') {
            p++;
        }
        if (*p == ' ') {
            *p++ = '\0';
        }
    }
}

/* "NAME=N": a non-empty name and 1 to 6 digits. */
static bool scale_arg(char *word, const char **name, int *count)
{
    char *eq = strchr(word, '=');
    if (eq == NULL || eq == word) {
        return false;
    }
    size_t digits = strspn(eq + 1, "0123456789");
    if (digits == 0 || digits > 6 || eq[1 + digits] != '\0') {
        return false;
    }
    *eq = '\0';
    *name = word;
    *count = (int)strtol(eq + 1, NULL, 10);
    return true;
}

static int refuse(char *err, size_t err_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the message for a refused line; returns rc. */
static int refuse(char *err, size_t err_len, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return rc;
}

static int parse_words(char **w, size_t n, struct ctl_request *req, char *err, size_t err_len)
{
    static const struct {
        const char *word;
        enum ctl_kind kind;
    } named[] = {{"stop", CTL_STOP}, {"start", CTL_START}, {"restart", CTL_RESTART}};
    if (n == 0) {
        return refuse(err, err_len, TANDEM_EINVAL, "tandem: empty request");
    }
    if (strcmp(w[0], "ps") == 0) {
        if (n > 2 || (n == 2 && strcmp(w[1], "--json") != 0)) {
            return refuse(err, err_len, TANDEM_EINVAL, "tandem: ps: unexpected '%.64s'", w[n - 1]);
        }
        req->kind = n == 1 ? CTL_PS : CTL_PS_JSON;
        return 0;
    }
    if (strcmp(w[0], "down") == 0) {
        if (n > 1) {
            return refuse(err, err_len, TANDEM_EINVAL, "tandem: down: unexpected '%.64s'", w[1]);
        }
        req->kind = CTL_DOWN;
        return 0;
    }
    if (strcmp(w[0], "scale") == 0) {
        if (n == 1) {
            return refuse(err, err_len, TANDEM_EINVAL, "tandem: scale: expected NAME=N");
        }
        if (n - 1 > CTL_MAX_ARGS) {
            return refuse(err, err_len, TANDEM_EINVAL, "tandem: scale: more than %d NAME=N",
                          CTL_MAX_ARGS);
        }
        req->kind = CTL_SCALE;
        for (size_t i = 1; i < n; i++) {
            if (!scale_arg(w[i], &req->name[i - 1], &req->count[i - 1])) {
                return refuse(err, err_len, TANDEM_EINVAL,
                              "tandem: scale: expected NAME=N, found '%.64s'", w[i]);
            }
        }
        req->n = n - 1;
        return 0;
    }
    for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
        if (strcmp(w[0], named[k].word) == 0) {
            if (n != 2) {
                return refuse(err, err_len, TANDEM_EINVAL, "tandem: %s: expected one service name",
                              named[k].word);
            }
            req->kind = named[k].kind;
            req->name[0] = w[1];
            req->n = 1;
            return 0;
        }
    }
    return refuse(err, err_len, TANDEM_EINVAL, "tandem: unknown request '%.64s'", w[0]);
}

int ctl_request_parse(char *buf, size_t len, struct ctl_request *req, size_t *used, char *err,
                      size_t err_len)
{
    memset(req, 0, sizeof(*req));
    size_t end = 0;
    while (end < len && buf[end] != '\n') {
        unsigned char c = (unsigned char)buf[end];
        if (c < 0x20 || c > 0x7e) {
            return refuse(err, err_len, TANDEM_EINVAL,
                          "tandem: bad request: byte 0x%02x at offset %zu (only printable ASCII "
                          "and a final \\n)",
                          (unsigned)c, end);
        }
        end++;
    }
    if (end == len) {
        if (len >= CTL_REQUEST_MAX - 1) {
            return refuse(err, err_len, TANDEM_ETOOLARGE, "tandem: request too long");
        }
        return CTL_NEED_MORE;
    }
    if (end >= CTL_REQUEST_MAX - 1) {
        return refuse(err, err_len, TANDEM_ETOOLARGE, "tandem: request too long");
    }
    buf[end] = '\0';
    *used = end + 1;
    char *words[CTL_MAX_ARGS + 2];
    size_t n = split(buf, words, CTL_MAX_ARGS + 1);
    return parse_words(words, n, req, err, err_len);
}
