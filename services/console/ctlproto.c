/*
 * The supervisor's control protocol as the console reads it (src/cli/ctl.c is the other side;
 * docs/internals/cli.md, "The control socket"): an answer is lines "o TEXT" (what the command
 * prints on stdout), "e TEXT" (stderr) and a last "x CODE" (its exit code); `ps --json` prints
 * one JSON object per process. And the console key's comparison.
 *
 * Pure; tests/unit/test_console_stats.c covers it with the rest of the pure parts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

static void copy_str(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v != NULL ? v : "");
}

int ps_row_parse(const char *line, size_t len, struct ps_row *out)
{
    memset(out, 0, sizeof(*out));
    json_t *o = json_loadb(line, len, 0, NULL);
    if (!json_is_object(o) || !json_is_string(json_object_get(o, "service")) ||
        !json_is_string(json_object_get(o, "state")) ||
        !json_is_integer(json_object_get(o, "port"))) {
        json_decref(o);
        return TANDEM_EINVAL;
    }
    copy_str(o, "service", out->service, sizeof(out->service));
    copy_str(o, "name", out->name, sizeof(out->name));
    copy_str(o, "state", out->state, sizeof(out->state));
    out->instance = (int)json_integer_value(json_object_get(o, "instance"));
    out->pid = (int)json_integer_value(json_object_get(o, "pid"));
    out->port = (int)json_integer_value(json_object_get(o, "port"));
    out->restarts = (int)json_integer_value(json_object_get(o, "restarts"));
    out->uptime_ms = json_integer_value(json_object_get(o, "uptime_ms"));
    out->ready = json_is_true(json_object_get(o, "ready"));
    out->in_upstream = json_is_true(json_object_get(o, "in_upstream"));
    json_decref(o);
    return 0;
}

/* Appends s[0..n) and a '\n' separator to dst (cap bytes, NUL-terminated, truncated). */
static void append(char *dst, size_t cap, const char *s, size_t n)
{
    if (dst == NULL || cap == 0) {
        return;
    }
    size_t have = strlen(dst);
    if (have > 0 && have + 1 < cap) {
        dst[have++] = '\n';
        dst[have] = '\0';
    }
    size_t room = cap - 1 - have;
    n = n < room ? n : room;
    memcpy(dst + have, s, n);
    dst[have + n] = '\0';
}

int ctl_answer_parse(const char *buf, size_t len, char *out, size_t out_cap, char *err,
                     size_t err_cap)
{
    if (out != NULL && out_cap > 0) {
        out[0] = '\0';
    }
    if (err != NULL && err_cap > 0) {
        err[0] = '\0';
    }
    int code = -1;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol != NULL ? eol : end;
        size_t n = (size_t)(stop - p);
        if (n >= 2 && p[1] == ' ') {
            if (p[0] == 'o') {
                append(out, out_cap, p + 2, n - 2);
            } else if (p[0] == 'e') {
                append(err, err_cap, p + 2, n - 2);
            } else if (p[0] == 'x') {
                char num[16];
                size_t m = n - 2 < sizeof(num) - 1 ? n - 2 : sizeof(num) - 1;
                memcpy(num, p + 2, m);
                num[m] = '\0';
                char *stop_num = NULL;
                long v = strtol(num, &stop_num, 10);
                if (stop_num != num && *stop_num == '\0' && v >= 0 && v < 256) {
                    code = (int)v;
                }
            }
        }
        p = eol != NULL ? eol + 1 : end;
    }
    return code;
}

bool console_key_equal(const char *given, const char *key)
{
    size_t lg = strlen(given), lk = strlen(key);
    unsigned char diff = (unsigned char)(lg != lk);
    /* Walk the key's length whatever was given, so the time says nothing of where they differ
     * (only of the key's length, which is fixed: 64 hex digits). */
    for (size_t i = 0; i < lk; i++) {
        unsigned char g = i < lg ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)key[i]);
    }
    return lk > 0 && diff == 0;
}
