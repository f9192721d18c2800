/*
 * traceparent tests (src/lib/core/traceparent.c): the W3C Trace Context examples (§3.2.3's
 * sampled/unsampled pair and the 4bf92f35... value the spec uses throughout), the invalid values
 * the spec names, forward compatibility with higher versions (§3.2.4), and id generation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tandem/trace.h"

#define T1 "0af7651916cd43dd8448eb211c80319c"
#define P1 "b7ad6b7169203331"

static const struct {
    const char *in;
    int rc;
    uint8_t version, flags;
    const char *trace_id, *parent_id, *out; /* out: what format writes back */
} cases[] = {
    {"00-" T1 "-" P1 "-01", 0, 0, 0x01, T1, P1, "00-" T1 "-" P1 "-01"},
    {"00-" T1 "-" P1 "-00", 0, 0, 0x00, T1, P1, "00-" T1 "-" P1 "-00"},
    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, 0, 0x01,
     "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    {" 00-" T1 "-" P1 "-01\t", 0, 0, 0x01, T1, P1, "00-" T1 "-" P1 "-01"}, /* OWS trimmed */
    {"00-" T1 "-" P1 "-ff", 0, 0, 0xff, T1, P1, "00-" T1 "-" P1 "-ff"},
    /* higher versions: parsed with the 00 layout, extra fields ignored, sent back as 00 */
    {"01-" T1 "-" P1 "-01", 0, 1, 0x01, T1, P1, "00-" T1 "-" P1 "-01"},
    {"cc-" T1 "-" P1 "-01-what-the-future-will-be-like", 0, 0xcc, 0x01, T1, P1,
     "00-" T1 "-" P1 "-01"},
    {"fe-" T1 "-" P1 "-09-", 0, 0xfe, 0x09, T1, P1, "00-" T1 "-" P1 "-09"},
    /* invalid */
    {"cc-" T1 "-" P1 "-01what", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "-" P1 "-01-", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL}, /* 00 is exactly 55 */
    {"00-" T1 "-" P1 "-01-extra", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"ff-" T1 "-" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-00000000000000000000000000000000-" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "-0000000000000000-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-0AF7651916CD43DD8448EB211C80319C-" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "-B7AD6B7169203331-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"0G-" T1 "-" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "-" P1 "-0x", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00_" T1 "-" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "_" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "-" P1 "_01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-" T1 "-" P1 "-1", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"00-0af7651916cd43dd8448eb211c80319-" P1 "-01", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
    {"", TANDEM_EINVAL, 0, 0, NULL, NULL, NULL},
};

static void test_parse_format(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tandem_traceparent tp;
        memset(&tp, 0xaa, sizeof(tp));
        print_message("traceparent %zu: '%s'\n", i, cases[i].in);
        int rc = tandem_traceparent_parse(cases[i].in, strlen(cases[i].in), &tp);
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(tandem_traceparent_valid(cases[i].in, strlen(cases[i].in)), rc == 0);
        if (rc != 0)
            continue;
        assert_int_equal(tp.version, cases[i].version);
        assert_int_equal(tp.flags, cases[i].flags);
        char t[33], p[17], out[TANDEM_TRACEPARENT_SIZE];
        tandem_trace_id_hex(tp.trace_id, t);
        tandem_span_id_hex(tp.parent_id, p);
        assert_string_equal(t, cases[i].trace_id);
        assert_string_equal(p, cases[i].parent_id);
        assert_int_equal(tandem_traceparent_format(&tp, out), 0);
        assert_string_equal(out, cases[i].out);
    }
}

static void test_format_rejects_zero_ids(void **state)
{
    struct tandem_traceparent tp = {0};
    char out[TANDEM_TRACEPARENT_SIZE];
    assert_int_equal(tandem_traceparent_format(&tp, out), TANDEM_EINVAL);
    tp.trace_id[15] = 1;
    assert_int_equal(tandem_traceparent_format(&tp, out), TANDEM_EINVAL);
    tp.parent_id[0] = 0x80;
    assert_int_equal(tandem_traceparent_format(&tp, out), 0);
    assert_string_equal(out, "00-00000000000000000000000000000001-8000000000000000-00");
}

static void test_new_and_child(void **state)
{
    struct tandem_traceparent a, b, c;
    char s[TANDEM_TRACEPARENT_SIZE];
    assert_int_equal(tandem_trace_new(true, &a), 0);
    assert_int_equal(tandem_trace_new(false, &b), 0);
    assert_int_equal(a.version, 0);
    assert_int_equal(a.flags, TANDEM_TRACE_FLAG_SAMPLED);
    assert_int_equal(b.flags, 0);
    assert_memory_not_equal(a.trace_id, b.trace_id, 16); /* 2^-128 chance of a false failure */
    assert_int_equal(tandem_traceparent_format(&a, s), 0);
    assert_true(tandem_traceparent_valid(s, strlen(s)));

    /* a child of a received higher-version context with unknown flags */
    const char *in = "cc-" T1 "-" P1 "-ff-more";
    struct tandem_traceparent parent;
    assert_int_equal(tandem_traceparent_parse(in, strlen(in), &parent), 0);
    assert_int_equal(tandem_trace_child(&parent, &c), 0);
    assert_int_equal(c.version, 0);
    assert_int_equal(c.flags, 0x01);
    assert_memory_equal(c.trace_id, parent.trace_id, 16);
    assert_memory_not_equal(c.parent_id, parent.parent_id, 8);
    assert_int_equal(tandem_traceparent_format(&c, s), 0);
    assert_memory_equal(s, "00-" T1 "-", 36);
    assert_string_equal(s + 52, "-01");

    /* in place */
    struct tandem_traceparent d = c;
    assert_int_equal(tandem_trace_child(&d, &d), 0);
    assert_memory_equal(d.trace_id, c.trace_id, 16);
}

/* Ids come from a per-thread generator: draws are distinct within a thread, across threads, and
 * between a parent and a forked child (which reseeds instead of repeating the parent's ids). */
#define DRAWS 2000
static uint8_t drawn[3][DRAWS][16];

static void *draw_thread(void *arg)
{
    uint8_t(*out)[16] = arg;
    for (int i = 0; i < DRAWS; i++) {
        struct tandem_traceparent tp;
        if (tandem_trace_new(true, &tp) != 0)
            return (void *)1;
        memcpy(out[i], tp.trace_id, 16);
    }
    return NULL;
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* X-Request-Id values: what the gateway makes (32 hex), UUIDs, base64 ids; nothing that could
 * break a log line or a header, nothing empty or longer than TANDEM_REQUEST_ID_MAX. */
static void test_request_id_valid(void **state)
{
    (void)state;
    const char *good[] = {"0af7651916cd43dd8448eb211c80319c",
                          "4f2c1b9e-7d3a-4e5f-9a8b-0c1d2e3f4a5b",
                          "it-cli-up-1",
                          "req_42.a:b",
                          "YWJj+ZGVm/Zw==",
                          "x@host"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(tandem_request_id_valid(good[i], strlen(good[i])));
    }
    const char *bad[] = {"",     "a b", "a\"b", "a\\b", "a\nb", "a\rb", "caf\xc3\xa9",
                         "\xff", "a,b", "a;b",  "<x>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(tandem_request_id_valid(bad[i], strlen(bad[i])));
    }
    assert_false(tandem_request_id_valid(NULL, 0));
    assert_false(tandem_request_id_valid("a\0b", 3)); /* a NUL inside */
    char longest[TANDEM_REQUEST_ID_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    assert_true(tandem_request_id_valid(longest, TANDEM_REQUEST_ID_MAX));
    assert_false(tandem_request_id_valid(longest, TANDEM_REQUEST_ID_MAX + 1));
}

static void test_ids_unique_across_threads_and_fork(void **state)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, draw_thread, drawn[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *rv;
        assert_int_equal(pthread_join(t[i], &rv), 0);
        assert_null(rv);
    }
    assert_null(draw_thread(drawn[2]));
    qsort(drawn, 3 * DRAWS, 16, cmp16);
    for (int i = 1; i < 3 * DRAWS; i++)
        assert_int_not_equal(memcmp(((uint8_t(*)[16])drawn)[i - 1], ((uint8_t(*)[16])drawn)[i], 16),
                             0);

    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    struct tandem_traceparent parent, child;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tandem_traceparent c;
        int ok = tandem_trace_new(true, &c) == 0 && write(pipefd[1], c.trace_id, 16) == 16;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(tandem_trace_new(true, &parent), 0);
    assert_int_equal(read(pipefd[0], child.trace_id, 16), 16);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_not_equal(memcmp(parent.trace_id, child.trace_id, 16), 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_format_rejects_zero_ids),
        cmocka_unit_test(test_new_and_child),
        cmocka_unit_test(test_ids_unique_across_threads_and_fork),
        cmocka_unit_test(test_request_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
