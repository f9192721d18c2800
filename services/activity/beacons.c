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
 * Who: the anonymous id the body always carries (the UI keeps one per browser), and the user of
 * the token when one is sent (a bad token is 401, as everywhere). The event's key is the user id,
 * else the anonymous id: one visitor's beacons stay in order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"

/* The event data of b: {"v":1,"userId","anonymousId","path","slug","at"}. */
static char *beacon_data(const struct activity_beacon *b, int64_t user_id, const char *anon)
{
    json_t *d = json_pack("{s:i,s:o,s:o,s:s,s:o,s:o}", "v", 1, "userId",
                          user_id > 0 ? json_integer(user_id) : json_null(), "anonymousId",
                          json_string(anon), "path", b->path, "slug",
                          b->slug != NULL ? json_string(b->slug) : json_null(), "at",
                          blog_time_json(b->at_ms));
    char *text = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return text;
}

/* Publishes beacons[0..n) keyed by key. Returns how many were queued; *rc the first error. */
static size_t publish(struct tandem_http_request *req, const struct activity_beacon *beacons,
                      size_t n, const char *key, int64_t user_id, const char *anon, int *rc)
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

/* Reads and checks the batch: its beacons into out, their count into *n. Returns the parsed body
 * (the beacons point into it), or NULL after answering (415, 400, 422). */
static json_t *batch_read(struct tandem_http_request *req,
                          struct activity_beacon out[ACTIVITY_BEACONS_MAX], size_t *n)
{
    json_t *in = tandem_json_body(req);
    if (in == NULL) {
        return NULL; /* answered 415 or 400 */
    }
    json_t *errors = json_object();
    if (activity_beacons_check(in, blog_now_ms(), out, n, errors) != 0) {
        json_decref(in);
        tandem_respond_invalid(req, errors);
        return NULL;
    }
    json_decref(errors);
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
    struct activity_beacon beacons[ACTIVITY_BEACONS_MAX];
    size_t n = 0;
    json_t *in = batch_read(req, beacons, &n);
    if (in == NULL) {
        return;
    }
    const char *anon = blog_json_str(in, "anonymousId");
    char key[ACTIVITY_ANON_ID_MAX + 1];
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
