/*
 * beacons.c: POST /api/activity/events, the web UI's page views, clicks and article reads.
 *
 * High-volume activity goes over events, fire-and-forget: a batch of 1..50 beacons is validated,
 * each becomes one event on the topic "activity" handed to the service's producer
 * (tandem_publish: copied into librdkafka's queue, sent in batches, acks=all) and the request is
 * answered 202 at once. Nothing waits for the broker and nothing touches the database here; the
 * service's own consumer counts the events later like any other. The price is the usual one of
 * fire-and-forget: a beacon accepted while the broker stays away longer than librdkafka's
 * message timeout (5 minutes) is dropped (and counted in tandem_events_delivery_failed_total).
 *
 * When the producer's local queue is full (librdkafka's queue.buffering.max.messages: the broker
 * is away or slower than the beacons come) the answer is 503 with Retry-After and "accepted":
 * the number of the batch's first events that were queued all the same, so a client resends
 * only the others.
 *
 * Who: the user of the token when one is sent (a bad token is 401, as everywhere), else the
 * anonymous id the body carries (the UI keeps one per browser). The event's key is the user id,
 * or the anonymous id: one visitor's beacons stay in order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "tandem/validate.h"

#define BEACONS_MAX    50
#define ANON_ID_MAX    64
#define SLUG_MAX       128
#define PATH_MAX_CHARS 2000
#define AT_PAST_MS     (7 * 86400 * 1000LL) /* a beacon's "at" may be this old... */
#define AT_FUTURE_MS   (5 * 60 * 1000LL)    /* ...or this far ahead (clock skew) */

static const struct tandem_field BATCH[] = {
    {.path = "anonymousId",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = ANON_ID_MAX},
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

/* One validated beacon, pointing into the parsed body. */
struct beacon {
    const char *event_type, *path, *slug;
    int64_t at_ms;
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
static void beacon_check(const json_t *item, size_t i, int64_t now, struct beacon *b,
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

/* The event data of b: {"v":1,"userId","anonymousId","path","slug","at"}. */
static char *beacon_data(const struct beacon *b, int64_t user_id, const char *anon)
{
    json_t *d = json_pack("{s:i,s:o,s:o,s:s,s:o,s:o}", "v", 1, "userId",
                          user_id > 0 ? json_integer(user_id) : json_null(), "anonymousId",
                          anon != NULL ? json_string(anon) : json_null(), "path", b->path, "slug",
                          b->slug != NULL ? json_string(b->slug) : json_null(), "at",
                          blog_time_json(b->at_ms));
    char *text = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return text;
}

/* Publishes beacons[0..n) keyed by key. Returns how many were queued; *rc the first error. */
static size_t publish(struct tandem_http_request *req, const struct beacon *beacons, size_t n,
                      const char *key, int64_t user_id, const char *anon, int *rc)
{
    struct tandem_producer *p = tandem_service_producer(activity.svc);
    *rc = p != NULL ? 0 : TANDEM_ECLOSED;
    size_t i = 0;
    for (; *rc == 0 && i < n; i++) {
        char *data = beacon_data(&beacons[i], user_id, anon);
        if (data == NULL) {
            *rc = TANDEM_ENOMEM;
            break;
        }
        struct tandem_event_out ev = {
            .topic = ACTIVITY_TOPIC,
            .key = key,
            .key_len = strlen(key),
            .type = beacons[i].event_type,
            .subject = key,
            .traceparent = tandem_request_traceparent(req),
            .data = data,
            .data_len = strlen(data),
        };
        *rc = tandem_publish(p, &ev, NULL, NULL);
        free(data);
        if (*rc != 0) {
            break;
        }
    }
    return i;
}

/* Reads and checks the batch: its beacons into out (BEACONS_MAX), their count into *n. Returns
 * the parsed body (the beacons point into it), or NULL after answering. */
static json_t *batch_read(struct tandem_http_request *req, bool anonymous, struct beacon *out,
                          size_t *n)
{
    json_t *in = tandem_json_body_valid(req, BATCH);
    if (in == NULL) {
        return NULL; /* answered 415, 400 or 422 */
    }
    json_t *errors = json_object();
    const char *anon = blog_json_str(in, "anonymousId");
    if (anon != NULL && !token_chars(anon)) {
        tandem_errors_add(errors, "anonymousId", "can only hold letters, digits and -._~");
    } else if (anon == NULL && anonymous) {
        tandem_errors_add(errors, "anonymousId", "can't be blank (without a token)");
    }
    json_t *events = json_object_get(in, "events");
    size_t count = json_is_array(events) ? json_array_size(events) : 0;
    if (events == NULL || json_is_null(events) || (json_is_array(events) && count == 0)) {
        tandem_errors_add(errors, "events", "can't be blank");
    } else if (!json_is_array(events)) {
        tandem_errors_add(errors, "events", "must be an array of objects");
    } else if (count > BEACONS_MAX) {
        tandem_errors_add(errors, "events", "is too long (maximum is 50 events)");
    } else {
        int64_t now = blog_now_ms();
        for (size_t i = 0; i < count; i++) {
            beacon_check(json_array_get(events, i), i, now, &out[i], errors);
        }
    }
    if (json_object_size(errors) > 0) {
        json_decref(in);
        tandem_respond_invalid(req, errors);
        return NULL;
    }
    json_decref(errors);
    *n = count;
    return in;
}

void activity_post_events(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = NULL;
    if (tandem_optional_auth(req, &c) != 0) {
        return; /* a token was sent but is not valid: 401 */
    }
    int64_t user_id = blog_user_id(c);
    struct beacon beacons[BEACONS_MAX];
    size_t n = 0;
    json_t *in = batch_read(req, user_id == 0, beacons, &n);
    if (in == NULL) {
        return;
    }
    const char *anon = blog_json_str(in, "anonymousId");
    char key[ANON_ID_MAX * 4 + 1];
    if (user_id > 0) {
        snprintf(key, sizeof(key), "%" PRId64, user_id);
    } else {
        snprintf(key, sizeof(key), "%s", anon);
    }
    int rc = 0;
    size_t queued = publish(req, beacons, n, key, user_id, anon, &rc);
    json_decref(in);
    if (rc == 0) {
        tandem_respond_json(req, 202, json_pack("{s:I}", "accepted", (json_int_t)queued));
    } else if (rc == TANDEM_EAGAIN || rc == TANDEM_ECLOSED) {
        tandem_respond_header(req, "Retry-After", "1");
        tandem_respond_problem_ext(req, 503, "the event queue is full; send the rest again",
                                   json_pack("{s:I}", "accepted", (json_int_t)queued));
    } else {
        tandem_log_error(req, "activity: cannot publish a beacon", "\"error\":\"%s\"",
                         tandem_strerror(rc));
        tandem_respond_problem_ext(req, 500, "cannot publish the events",
                                   json_pack("{s:I}", "accepted", (json_int_t)queued));
    }
}
