/*
 * What the tests of log lines share: stderr redirected into a temporary file while the code
 * under test logs, then every line read back and judged by jansson (which refuses bytes that are
 * not UTF-8): each must be one JSON object, newline-terminated. Static inline functions, included
 * by test_lib_log.c, test_lib_service_run.c and test_lib_service_events.c (cmocka's asserts).
 */
#ifndef TANDEM_TEST_LOG_CAPTURE_H
#define TANDEM_TEST_LOG_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

static int capture_saved_fd = -1;
static FILE *capture_file;

/* From here on, stderr goes into a temporary file (until capture_end). */
static inline void capture_begin(void)
{
    capture_file = tmpfile();
    assert_non_null(capture_file);
    capture_saved_fd = dup(STDERR_FILENO);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

/* stderr back; returns the lines captured as a JSON array of objects (the caller decrefs it),
 * failing the test at the first line that is not one JSON object ending in a newline. */
static inline json_t *capture_end(void)
{
    dup2(capture_saved_fd, STDERR_FILENO);
    close(capture_saved_fd);
    rewind(capture_file);
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, capture_file)) > 0) {
        json_error_t err;
        json_t *j = line[n - 1] == '\n' ? json_loadb(line, (size_t)n - 1, 0, &err) : NULL;
        if (j == NULL || !json_is_object(j)) {
            fail_msg("a log line is not one JSON object: %.*s", (int)n, line);
        }
        json_array_append_new(all, j);
    }
    free(line);
    fclose(capture_file);
    return all;
}

/* The lines whose "msg" is msg and, when path is not NULL, whose "path" is path (a new array). */
static inline json_t *capture_lines_with(json_t *all, const char *msg, const char *path)
{
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const char *m = json_string_value(json_object_get(o, "msg"));
        const char *p = json_string_value(json_object_get(o, "path"));
        if (m != NULL && strcmp(m, msg) == 0 && (path == NULL || (p && strcmp(p, path) == 0))) {
            json_array_append(out, o);
        }
    }
    return out;
}

#endif
