/*
 * libFuzzer target for the activity service's beacon checks (services/activity/checks.c) and its
 * date parser (services/activity/dates.c): the body of POST /api/activity/events is anyone's.
 *
 * The input is tried as a date (NUL-terminated) and, when it parses as JSON, as a batch of
 * beacons, at a fixed "now" (2026-05-28T20:26:40.000Z).
 * Invariants checked, beyond "no crash, no sanitizer report":
 *   - a date that parses is not before 1970 and survives a round trip through RealWorld's
 *     format (blog_time_format) to the same millisecond;
 *   - a batch is accepted (0) exactly when no error was added; an accepted batch has 1 to 50
 *     beacons, each with one of the three event types, a path starting with '/' without control
 *     characters, a slug of letters, digits and "-._~" (required for reads) or none, and a time
 *     at most 7 days before now and 5 minutes after;
 *   - a refused batch has errors, all lists of strings, and no beacons.
 * Seeds: tests/fuzz/corpus/activity_beacons/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS INT64_C(1780000000000)

static void check_date(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ms, again;
    if (activity_time_parse(s, &ms) == 0) {
        char back[BLOG_TIME_SIZE];
        if (ms < 0) {
            abort();
        }
        blog_time_format(ms, back);
        if (activity_time_parse(back, &again) != 0 || again != ms) {
            abort();
        }
    }
    free(s);
}

static bool slug_ok(const char *s)
{
    if (s[0] == '\0') {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", *p) ==
            NULL) {
            return false;
        }
    }
    return true;
}

static void check_beacon(const struct activity_beacon *b)
{
    bool read = b->event_type != NULL && strcmp(b->event_type, "activity.article_read") == 0;
    if (b->event_type == NULL || (!read && strcmp(b->event_type, "activity.page_viewed") != 0 &&
                                  strcmp(b->event_type, "activity.clicked") != 0)) {
        abort();
    }
    if (b->path == NULL || b->path[0] != '/') {
        abort();
    }
    for (const unsigned char *p = (const unsigned char *)b->path; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            abort();
        }
    }
    if ((b->slug == NULL && read) || (b->slug != NULL && !slug_ok(b->slug))) {
        abort();
    }
    if (b->at_ms < NOW_MS - 7 * 86400 * INT64_C(1000) || b->at_ms > NOW_MS + 300 * 1000) {
        abort();
    }
}

static void check_batch(const json_t *in)
{
    struct activity_beacon out[ACTIVITY_BEACONS_MAX];
    size_t n = 99;
    json_t *errors = json_object();
    int rc = activity_beacons_check(in, NOW_MS, out, &n, errors);
    if ((rc == 0) != (json_object_size(errors) == 0) || (rc != 0 && n != 0)) {
        abort();
    }
    if (rc == 0 && (n < 1 || n > ACTIVITY_BEACONS_MAX)) {
        abort();
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        check_beacon(&out[i]);
    }
    for (void *it = json_object_iter(errors); it != NULL; it = json_object_iter_next(errors, it)) {
        json_t *list = json_object_iter_value(it);
        if (!json_is_array(list) || json_array_size(list) == 0) {
            abort();
        }
        for (size_t k = 0; k < json_array_size(list); k++) {
            if (!json_is_string(json_array_get(list, k))) {
                abort();
            }
        }
    }
    json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_date(data, size);
    json_error_t err;
    json_t *in = json_loadb((const char *)data, size, 0, &err);
    if (in != NULL) {
        check_batch(in);
        json_decref(in);
    }
    return 0;
}
