/*
 * test_lib_log: the JSON-line logger (src/common/log.c). Every line it writes must be one valid
 * JSON object (judged by jansson, which refuses bytes that are not UTF-8), whatever it is given:
 * strings with quotes, control characters and bytes that are not UTF-8 (U+FFFD in their place),
 * members a caller formatted into something that is not JSON (kept as "fields_invalid"), values
 * and lines longer than the limits (cut at a character boundary). stderr is redirected into a
 * temporary file while a test logs.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/log.h"
#include "test_log_capture.h"

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- log_json_str ---------------------------------------------------------------------------- */

static void expect_escaped(const char *in, const char *want)
{
    char buf[256];
    assert_string_equal(log_json_str(buf, sizeof(buf), in), want);
    json_error_t err;
    json_t *j = json_loads(buf, JSON_DECODE_ANY, &err);
    if (j == NULL) {
        fail_msg("%s is not JSON: %s", buf, err.text);
    }
    json_decref(j);
}

static void test_json_str(void **state)
{
    (void)state;
    expect_escaped("plain /path", "\"plain /path\"");
    expect_escaped("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_escaped("tab\tnl\ncr\r\x01\x1f", "\"tab\\u0009nl\\u000acr\\u000d\\u0001\\u001f\"");
    expect_escaped("/\xff", "\"/\\ufffd\"");                                /* not UTF-8 at all */
    expect_escaped("\xc0\xaf", "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
    expect_escaped("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* a surrogate */
    expect_escaped("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
    expect_escaped("\xe2\x82", "\"\\ufffd\\ufffd\"");                       /* cut sequence */
    expect_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect_escaped("\x7f", "\"\x7f\"");
    char buf[64];
    assert_string_equal(log_json_str(buf, sizeof(buf), NULL), "null");
    /* cut at a character boundary, never inside a sequence or an escape */
    char small[8]; /* "ab€" needs 7 bytes + NUL: fits; one more character does not */
    assert_string_equal(log_json_str(small, sizeof(small), "ab\xe2\x82\xac"), "\"ab\xe2\x82\xac\"");
    assert_string_equal(log_json_str(small, sizeof(small), "abc\xe2\x82\xac"), "\"abc\"");
    assert_string_equal(log_json_str(small, sizeof(small), "abcd\"e"), "\"abcd\"");
    assert_string_equal(log_json_str(small, sizeof(small), "\xff"), "\"\"");
}

/* ---- whole lines ----------------------------------------------------------------------------- */

static void test_lines_always_json(void **state)
{
    (void)state;
    log_setup("unit\"comp", LOG_DEBUG);
    capture_begin();
    log_info("plain", "\"port\":%d,\"ok\":true,\"list\":[1,-2.5e3,{\"a\":null}],\"s\":\"x\"", 80);
    log_info("no fields", NULL);
    log_info("bad \xff msg", "\"path\":\"%s\"", "/\xff\"x"); /* unescaped %s */
    log_info("nan", "\"v\":%f", NAN);                        /* not a JSON number */
    log_info("newline", "\"s\":\"%s\"", "a\nb");             /* a raw LF */
    log_info("trailing comma", "\"a\":1,");
    log_info("leading zero", "\"a\":01");
    log_info("escaped", "\"path\":%s", log_json_str((char[64]){0}, 64, "/\xff\"x"));
    static char big[6000];
    memset(big, 'a', sizeof(big) - 1);
    log_info("too long", "\"big\":\"%s\",\"after\":1", big); /* cut by the line */
    log_debug("debug shown", NULL);
    log_setup("unit", LOG_WARN);
    log_info("filtered", NULL);
    log_warn("warn shown", NULL);
    json_t *lines = capture_end();
    assert_int_equal(json_array_size(lines), 11);
    json_t *o = json_array_get(lines, 0);
    assert_string_equal(str_of(o, "comp"), "unit\"comp");
    assert_string_equal(str_of(o, "level"), "info");
    assert_int_equal(json_integer_value(json_object_get(o, "port")), 80);
    assert_true(json_is_array(json_object_get(o, "list")));
    assert_non_null(str_of(o, "ts"));
    assert_int_equal(strlen(str_of(o, "ts")), strlen("2026-11-26T21:50:39.123Z"));
    assert_null(json_object_get(json_array_get(lines, 1), "fields_invalid"));
    o = json_array_get(lines, 2);
    assert_string_equal(str_of(o, "msg"), "bad \xef\xbf\xbd msg");
    assert_string_equal(str_of(o, "fields_invalid"), "\"path\":\"/\xef\xbf\xbd\"x\"");
    for (size_t i = 3; i <= 5; i++) {
        assert_non_null(str_of(json_array_get(lines, i), "fields_invalid"));
    }
    assert_string_equal(str_of(json_array_get(lines, 4), "fields_invalid"), "\"s\":\"a\nb\"");
    o = json_array_get(lines, 7);
    assert_string_equal(str_of(o, "path"), "/\xef\xbf\xbd\"x");
    o = json_array_get(lines, 8);
    const char *cut = str_of(o, "fields_invalid");
    assert_non_null(cut);
    assert_true(strlen(cut) > 3000);
    assert_string_equal(str_of(json_array_get(lines, 9), "level"), "debug");
    assert_string_equal(str_of(json_array_get(lines, 10), "msg"), "warn shown");
    json_decref(lines);
    log_setup("tandem", LOG_INFO);
}

static void test_line_builder(void **state)
{
    (void)state;
    log_setup("b", LOG_INFO);
    capture_begin();
    struct log_line l;
    assert_false(log_line_begin(&l, LOG_DEBUG, "below the level"));
    assert_true(log_line_begin(&l, LOG_INFO, "built"));
    log_line_str(&l, "path", "/\xff\x01\"");
    log_line_str(&l, "none", NULL);
    log_line_int(&l, "neg", -42);
    log_line_int(&l, "zero", 0);
    log_line_ms(&l, "ms", 1234567); /* 1.234567 ms */
    log_line_ms(&l, "small", 499);  /* 0.000 */
    log_line_ms(&l, "round", 1500); /* 0.002 */
    log_line_ms(&l, "big", 12000000000ULL);
    log_line_end(&l);
    /* a line whose values do not all fit: each value is cut to LOG_VALUE_MAX, then members that
     * no longer fit are left out; the line stays valid */
    static char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    assert_true(log_line_begin(&l, LOG_INFO, "full"));
    static const char *const keys[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"};
    for (int i = 0; i < 8; i++) {
        log_line_str(&l, keys[i], big);
    }
    log_line_int(&l, "last", 7);
    log_line_end(&l);
    json_t *lines = capture_end();
    assert_int_equal(json_array_size(lines), 2);
    json_t *o = json_array_get(lines, 0);
    assert_string_equal(str_of(o, "path"), "/\xef\xbf\xbd\x01\"");
    assert_true(json_is_null(json_object_get(o, "none")));
    assert_int_equal(json_integer_value(json_object_get(o, "neg")), -42);
    assert_int_equal(json_integer_value(json_object_get(o, "zero")), 0);
    assert_float_equal(json_real_value(json_object_get(o, "ms")), 1.235, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "small")), 0.0, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "round")), 0.002, 1e-9);
    assert_float_equal(json_real_value(json_object_get(o, "big")), 12000.0, 1e-9);
    o = json_array_get(lines, 1);
    assert_int_equal(strlen(str_of(o, "v0")), LOG_VALUE_MAX - 2); /* quotes */
    assert_int_equal(strlen(str_of(o, "v1")), LOG_VALUE_MAX - 2);
    assert_int_equal(strlen(str_of(o, "v2")), LOG_VALUE_MAX - 2);
    assert_non_null(str_of(o, "v3")); /* what was left of the line */
    assert_null(json_object_get(o, "v4"));
    assert_null(json_object_get(o, "last"));
    json_decref(lines);
    log_setup("tandem", LOG_INFO);
}

/* ---- per-thread buffers ---------------------------------------------------------------------- */

#define NTHREADS 4
#define NLINES   3000

static void *log_many(void *arg)
{
    int t = (int)(intptr_t)arg;
    log_buffer_open();
    char pad[600];
    for (int i = 0; i < NLINES; i++) {
        size_t n = (size_t)(i * 37 + t * 11) % sizeof(pad); /* lines of 100..700 bytes */
        memset(pad, 'a' + t, n);
        pad[n] = '\0';
        log_info("line", "\"t\":%d,\"i\":%d,\"pad\":\"%s\"", t, i, pad);
        if (i % 500 == 0) {
            log_buffer_tick(INT64_MAX / 2); /* as a worker's loop does when a line is old */
        }
    }
    log_buffer_close();
    return NULL;
}

/* Four buffering threads and the main thread (unbuffered) log at once into one file: every line
 * whole and valid, none lost, each thread's in its order. */
static void test_buffers_never_interleave(void **state)
{
    (void)state;
    log_setup("buf", LOG_INFO);
    capture_begin();
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, log_many, (void *)(intptr_t)t), 0);
    }
    for (int i = 0; i < 200; i++) {
        log_info("main", "\"i\":%d", i);
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
    }
    json_t *lines = capture_end();
    int next[NTHREADS] = {0}, mains = 0;
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o)
    {
        if (strcmp(str_of(o, "msg"), "main") == 0) {
            mains++;
            continue;
        }
        int t = (int)json_integer_value(json_object_get(o, "t"));
        assert_true(t >= 0 && t < NTHREADS);
        assert_int_equal(json_integer_value(json_object_get(o, "i")), next[t]);
        next[t]++;
    }
    assert_int_equal(mains, 200);
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(next[t], NLINES);
    }
    json_decref(lines);
    log_setup("tandem", LOG_INFO);
}

/* The clock log.c ages its buffers by (the HTTP worker's coarse milliseconds). */
static int64_t coarse_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A buffered line goes out when it is LOG_FLUSH_MS old at a tick, or at close; not before. */
static void test_buffer_due(void **state)
{
    (void)state;
    log_setup("due", LOG_INFO);
    capture_begin();
    log_buffer_open();
    assert_int_equal(log_buffer_due(0), -1); /* empty */
    /* The line's time lies between before and after (the coarse clock may tick in between), so
     * its flush is due in LOG_FLUSH_MS minus what passed since the line, measured at after. */
    int64_t before = coarse_now_ms();
    log_info("first", NULL);
    int64_t after = coarse_now_ms();
    int64_t due = log_buffer_due(after);
    assert_true(due >= LOG_FLUSH_MS - (after - before) && due <= LOG_FLUSH_MS);
    log_buffer_tick(before); /* not due: the line is not older than before */
    fflush(capture_file);
    assert_int_equal(lseek(fileno(capture_file), 0, SEEK_END), 0); /* still buffered */
    log_buffer_tick(after + LOG_FLUSH_MS);
    assert_true(lseek(fileno(capture_file), 0, SEEK_END) > 0); /* written */
    assert_int_equal(log_buffer_due(before), -1);
    log_info("second", NULL);
    log_buffer_close();      /* written at close */
    log_info("third", NULL); /* unbuffered again */
    json_t *lines = capture_end();
    assert_int_equal(json_array_size(lines), 3);
    assert_string_equal(str_of(json_array_get(lines, 1), "msg"), "second");
    json_decref(lines);
    log_setup("tandem", LOG_INFO);
}

static pthread_mutex_t crash_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t crash_cv = PTHREAD_COND_INITIALIZER;
static int other_logged;

/* Another worker-like thread: buffers two lines, then waits for the end. */
static void *crash_other(void *arg)
{
    (void)arg;
    log_buffer_open();
    log_info("other thread", "\"n\":1");
    log_info("other thread", "\"n\":2");
    pthread_mutex_lock(&crash_mu);
    other_logged = 1;
    pthread_cond_signal(&crash_cv);
    pthread_mutex_unlock(&crash_mu);
    for (;;) {
        pause();
    }
    return NULL;
}

/* In a child whose stderr is out: buffers lines in two threads, then dies of how. The fatal
 * signals' handlers are reset first: cmocka's (which would take the child back into the test
 * runner) must not be the ones log.c hands the signal to. */
static void crash_child(int out, int how)
{
    dup2(out, STDERR_FILENO);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], SIG_DFL);
    }
    log_setup("crash", LOG_INFO);
    pthread_t th;
    pthread_create(&th, NULL, crash_other, NULL);
    pthread_mutex_lock(&crash_mu);
    while (!other_logged) {
        pthread_cond_wait(&crash_cv, &crash_mu);
    }
    pthread_mutex_unlock(&crash_mu);
    log_buffer_open();
    log_info("before the crash", "\"how\":%d", how);
    if (how == 0) {
        abort();
    } else if (how == 1) {
        raise(SIGSEGV);
    } else {
        volatile int *nowhere = (volatile int *)(uintptr_t)8;
        *nowhere = 1; /* a real fault */
    }
    _exit(0); /* not reached */
}

/* Lines still in the buffers when the process dies of a fatal signal are written by the
 * handler: the crashing thread's and another thread's, each line whole. (A SIGKILL would lose
 * them: at most LOG_FLUSH_MS of lines per thread.) */
static void test_crash_writes_buffers(void **state)
{
    (void)state;
    for (int how = 0; how < 3; how++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(p[1], how);
        }
        close(p[1]);
        FILE *in = fdopen(p[0], "r");
        char *line = NULL;
        size_t cap = 0;
        int own = 0, others = 0;
        while (getline(&line, &cap, in) > 0) {
            if (line[0] != '{') {
                continue; /* a sanitizer's report of the fault */
            }
            json_t *j = json_loads(line, 0, NULL);
            if (j == NULL) {
                fail_msg("not JSON: %s", line);
            }
            own += strcmp(str_of(j, "msg"), "before the crash") == 0;
            others += strcmp(str_of(j, "msg"), "other thread") == 0;
            json_decref(j);
        }
        free(line);
        fclose(in);
        int st = 0;
        waitpid(pid, &st, 0);
        int want = how == 0 ? SIGABRT : SIGSEGV;
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == want); /* not an exit: no atexit flush */
        print_message("crash %d: %s %d; own lines %d, other thread's %d\n", how,
                      WIFSIGNALED(st) ? "signal" : "exit",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), own, others);
        assert_int_equal(own, 1);
        assert_int_equal(others, 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),     cmocka_unit_test(test_lines_always_json),
        cmocka_unit_test(test_line_builder), cmocka_unit_test(test_buffers_never_interleave),
        cmocka_unit_test(test_buffer_due),   cmocka_unit_test(test_crash_writes_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
