/*
 * Control request tests (src/cli/ctl_request.c): every request line is either parsed to exactly
 * the expected request or refused with exactly the expected message; none is left waiting once
 * its '\n' (or a byte that cannot belong to a request) has arrived. A NUL byte used to hide the
 * newline from strchr(), so the supervisor waited for the rest of the line forever.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/ctl_request.h"
#include "tandem/error.h"

struct want {
    const char *line;
    size_t len; /* 0: strlen(line) */
    int rc;
    const char *text; /* rc 0: "KIND name=count ..." as format() prints it; else the message */
};

static const char *const KINDS[] = {"ps", "ps --json", "down", "scale", "stop", "start", "restart"};

static void format(const struct ctl_request *r, char *out, size_t len)
{
    size_t off = (size_t)snprintf(out, len, "%s", KINDS[r->kind]);
    for (size_t i = 0; i < r->n && off < len; i++) {
        if (r->kind == CTL_SCALE) {
            off += (size_t)snprintf(out + off, len - off, " %s=%d", r->name[i], r->count[i]);
        } else {
            off += (size_t)snprintf(out + off, len - off, " %s", r->name[i]);
        }
    }
}

static const struct want cases[] = {
    {"ps\n", 0, 0, "ps"},
    {"ps --json\n", 0, 0, "ps --json"},
    {"down\n", 0, 0, "down"},
    {"  scale   hello=3 other=0 \n", 0, 0, "scale hello=3 other=0"},
    {"stop hello\n", 0, 0, "stop hello"},
    {"start hello\nrest ignored", 0, 0, "start hello"},
    {"restart hello\n", 0, 0, "restart hello"},
    {"ps", 0, CTL_NEED_MORE, NULL},
    {"", 0, CTL_NEED_MORE, NULL},
    {"ps\0\n", 4, TANDEM_EINVAL,
     "tandem: bad request: byte 0x00 at offset 2 (only printable ASCII and a final \\n)"},
    {"\0", 1, TANDEM_EINVAL,
     "tandem: bad request: byte 0x00 at offset 0 (only printable ASCII and a final \\n)"},
    {"ps\r\n", 0, TANDEM_EINVAL,
     "tandem: bad request: byte 0x0d at offset 2 (only printable ASCII and a final \\n)"},
    {"stop h\xff\n", 0, TANDEM_EINVAL,
     "tandem: bad request: byte 0xff at offset 6 (only printable ASCII and a final \\n)"},
    {"\n", 0, TANDEM_EINVAL, "tandem: empty request"},
    {"   \n", 0, TANDEM_EINVAL, "tandem: empty request"},
    {"ps --yaml\n", 0, TANDEM_EINVAL, "tandem: ps: unexpected '--yaml'"},
    {"ps --json x\n", 0, TANDEM_EINVAL, "tandem: ps: unexpected 'x'"},
    {"down now\n", 0, TANDEM_EINVAL, "tandem: down: unexpected 'now'"},
    {"launch\n", 0, TANDEM_EINVAL, "tandem: unknown request 'launch'"},
    {"scale\n", 0, TANDEM_EINVAL, "tandem: scale: expected NAME=N"},
    {"scale hello\n", 0, TANDEM_EINVAL, "tandem: scale: expected NAME=N, found 'hello'"},
    {"scale =3\n", 0, TANDEM_EINVAL, "tandem: scale: expected NAME=N, found '=3'"},
    {"scale a=-1\n", 0, TANDEM_EINVAL, "tandem: scale: expected NAME=N, found 'a=-1'"},
    {"scale a=1234567\n", 0, TANDEM_EINVAL, "tandem: scale: expected NAME=N, found 'a=1234567'"},
    {"scale a=1x\n", 0, TANDEM_EINVAL, "tandem: scale: expected NAME=N, found 'a=1x'"},
    {"stop\n", 0, TANDEM_EINVAL, "tandem: stop: expected one service name"},
    {"restart a b\n", 0, TANDEM_EINVAL, "tandem: restart: expected one service name"},
};

static void test_cases(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[CTL_REQUEST_MAX], err[256] = "", got[512] = "";
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].line);
        memcpy(buf, cases[i].line, len);
        struct ctl_request r;
        size_t used = 0;
        int rc = ctl_request_parse(buf, len, &r, &used, err, sizeof(err));
        if (rc == 0) {
            format(&r, got, sizeof(got));
            if (used != strcspn(cases[i].line, "\n") + 1) {
                print_error("case %zu: used %zu\n", i, used);
                failures++;
            }
        } else if (rc != CTL_NEED_MORE) {
            snprintf(got, sizeof(got), "%s", err);
        }
        const char *want = cases[i].text != NULL ? cases[i].text : "";
        if (rc != cases[i].rc || strcmp(got, want) != 0) {
            print_error("case %zu: rc %d (want %d)\n got: %s\nwant: %s\n", i, rc, cases[i].rc, got,
                        want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* A line that fills the buffer without its '\n' is refused, not waited for; 33 pairs too. */
static void test_limits(void **state)
{
    (void)state;
    char buf[CTL_REQUEST_MAX], err[256];
    struct ctl_request r;
    size_t used;
    memset(buf, 'a', sizeof(buf));
    assert_int_equal(ctl_request_parse(buf, CTL_REQUEST_MAX - 2, &r, &used, err, sizeof(err)),
                     CTL_NEED_MORE);
    assert_int_equal(ctl_request_parse(buf, CTL_REQUEST_MAX - 1, &r, &used, err, sizeof(err)),
                     TANDEM_ETOOLARGE);
    assert_string_equal(err, "tandem: request too long");
    size_t off = (size_t)snprintf(buf, sizeof(buf), "scale");
    for (int i = 0; i < CTL_MAX_ARGS; i++) {
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, " s%d=%d", i, i);
    }
    buf[off] = '\n';
    assert_int_equal(ctl_request_parse(buf, off + 1, &r, &used, err, sizeof(err)), 0);
    assert_int_equal(r.n, CTL_MAX_ARGS);
    assert_string_equal(r.name[CTL_MAX_ARGS - 1], "s31");
    assert_int_equal(r.count[CTL_MAX_ARGS - 1], 31);
    off = (size_t)snprintf(buf, sizeof(buf), "scale");
    for (int i = 0; i <= CTL_MAX_ARGS; i++) {
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, " s%d=%d", i, i);
    }
    buf[off] = '\n';
    assert_int_equal(ctl_request_parse(buf, off + 1, &r, &used, err, sizeof(err)), TANDEM_EINVAL);
    assert_string_equal(err, "tandem: scale: more than 32 NAME=N");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
