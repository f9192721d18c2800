/*
 * checks.c: a batch of beacons checked, the pure part of POST /api/activity/events (no I/O, no
 * service state: tests/fuzz/fuzz_activity_beacons.c runs it over arbitrary JSON).
 *
 * libtandem's table checks (tandem_validate: presence, types, lengths) come first, then the
 * beacon's own rules on the fields that passed them, so one answer names every problem of every
 * beacon, each under "events[i].field".
 */
#include <stdio.h>
#include <string.h>

#include "activity.h"
#include "tandem/validate.h"

#define SLUG_MAX       128
#define PATH_MAX_CHARS 2000
#define AT_PAST_MS     (7 * 86400 * 1000LL) /* a beacon's "at" may be this old... */
#define AT_FUTURE_MS   (5 * 60 * 1000LL)    /* ...or this far ahead (clock skew) */

static const struct tandem_field BATCH[] = {
    {.path = "anonymousId",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = ACTIVITY_ANON_ID_MAX},
    TANDEM_FIELD_END,
};

static const struct tandem_field BEACON[] = {
    {.path = "type",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = 32},
    {.path = "path",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = PATH_MAX_CHARS},
    {.path = "slug", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_NOT_BLANK, .max = SLUG_MAX},
    {.path = "at", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_NOT_BLANK, .max = 40},
    TANDEM_FIELD_END,
};

/* A beacon's "type" and the CloudEvents type it becomes. */
static const struct {
    const char *beacon, *event;
} TYPES[] = {
    {"page_view", "activity.page_viewed"},
    {"click", "activity.clicked"},
    {"article_read", "activity.article_read"},
};

/* An identifier made for URLs and keys: letters, digits and "-._~" (RFC 3986's unreserved). */
static bool token_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool alnum =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!alnum && strchr("-._~", *p) == NULL) {
            return false;
        }
    }
    return true;
}

/* A path of the site: starts with '/', no control characters (nor DEL). */
static bool path_ok(const char *s)
{
    if (s[0] != '/') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Adds message under "events[i].field". */
static void item_error(json_t *errors, size_t i, const char *field, const char *message)
{
    char key[64];
    snprintf(key, sizeof(key), "events[%zu]%s%s", i, field[0] != '\0' ? "." : "", field);
    tandem_errors_add(errors, key, message);
}

/* Copies the validator's messages (own: {"field":[...]}) under "events[i].field". */
static void item_errors(json_t *errors, size_t i, json_t *own)
{
    for (void *it = json_object_iter(own); it != NULL; it = json_object_iter_next(own, it)) {
        json_t *list = json_object_iter_value(it);
        for (size_t k = 0; k < json_array_size(list); k++) {
            item_error(errors, i, json_object_iter_key(it),
                       json_string_value(json_array_get(list, k)));
        }
    }
}

/* Checks item i of the batch into *b, adding its problems to errors (every field's: the table's
 * checks first, then ours on the fields that passed them). now: the server's time. */
static void beacon_check(const json_t *item, size_t i, int64_t now, struct activity_beacon *b,
                         json_t *errors)
{
    if (!json_is_object(item)) {
        item_error(errors, i, "", "must be an object");
        return;
    }
    json_t *own = json_object();
    tandem_validate(item, BEACON, own);
    item_errors(errors, i, own);
    const char *type = json_object_get(own, "type") == NULL ? blog_json_str(item, "type") : NULL;
    b->event_type = NULL;
    for (size_t k = 0; type != NULL && k < sizeof(TYPES) / sizeof(TYPES[0]); k++) {
        if (strcmp(type, TYPES[k].beacon) == 0) {
            b->event_type = TYPES[k].event;
        }
    }
    if (type != NULL && b->event_type == NULL) {
        item_error(errors, i, "type", "must be one of page_view, click, article_read");
    }
    b->path = blog_json_str(item, "path");
    if (json_object_get(own, "path") == NULL && !path_ok(b->path)) {
        item_error(errors, i, "path", "must be a path starting with /");
    }
    b->slug = json_object_get(own, "slug") == NULL ? blog_json_str(item, "slug") : NULL;
    if (b->slug != NULL && !token_chars(b->slug)) {
        item_error(errors, i, "slug", "is invalid");
    }
    if (json_object_get(own, "slug") == NULL && b->slug == NULL && type != NULL &&
        strcmp(type, "article_read") == 0) {
        item_error(errors, i, "slug", "can't be blank");
    }
    const char *at = json_object_get(own, "at") == NULL ? blog_json_str(item, "at") : NULL;
    b->at_ms = now;
    if (at != NULL && activity_time_parse(at, &b->at_ms) != 0) {
        item_error(errors, i, "at", "is invalid");
    } else if (b->at_ms < now - AT_PAST_MS || b->at_ms > now + AT_FUTURE_MS) {
        item_error(errors, i, "at", "is out of range (at most 7 days ago, 5 minutes ahead)");
    }
    json_decref(own);
}

int activity_beacons_check(const json_t *in, int64_t now,
                           struct activity_beacon out[ACTIVITY_BEACONS_MAX], size_t *n,
                           json_t *errors)
{
    *n = 0;
    if (tandem_validate(in, BATCH, errors) == TANDEM_EINVAL && !json_is_object(in)) {
        return -1; /* {"body":["must be a JSON object"]} */
    }
    const char *anon =
        json_object_get(errors, "anonymousId") == NULL ? blog_json_str(in, "anonymousId") : NULL;
    if (anon != NULL && !token_chars(anon)) {
        tandem_errors_add(errors, "anonymousId", "can only hold letters, digits and -._~");
    }
    json_t *events = json_object_get(in, "events");
    size_t count = json_is_array(events) ? json_array_size(events) : 0;
    if (events == NULL || json_is_null(events) || (json_is_array(events) && count == 0)) {
        tandem_errors_add(errors, "events", "can't be blank");
    } else if (!json_is_array(events)) {
        tandem_errors_add(errors, "events", "must be an array of objects");
    } else if (count > ACTIVITY_BEACONS_MAX) {
        tandem_errors_add(errors, "events", "is too long (maximum is 50 events)");
    } else {
        for (size_t i = 0; i < count; i++) {
            beacon_check(json_array_get(events, i), i, now, &out[i], errors);
        }
    }
    if (json_object_size(errors) > 0) {
        return -1;
    }
    *n = count;
    return 0;
}
