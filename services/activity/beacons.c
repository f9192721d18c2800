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
 *
 * ?sync=1 is the other way, for the ingest benchmark's comparison (tandem bench ingest
 * --workload activity): the same beacons, built into the same events, are applied by the
 * consumer's own code (activity_apply) in one job of the store's writer (group commit,
 * durable: SQLite's synchronous=FULL, PostgreSQL's commit) and answered 200 {"applied":n} once on
 * disk; 503 with Retry-After when the writer's queue is full or the database stays busy. Nothing is
 * published. What it skips is what only a consumer needs: the processed-event record of
 * tandem_sql_idempotent (a request is not redelivered).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "tandem/validate.h"

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

/* ---- ?sync=1 ------------------------------------------------------------------------------ */

struct sync_write {
    struct tandem_http_request *req;
    size_t n;
    char key[ACTIVITY_ANON_ID_MAX + 1];
    char time[BLOG_TIME_SIZE];
    const char *type[ACTIVITY_BEACONS_MAX];
    char *data[ACTIVITY_BEACONS_MAX];
};

static void sync_free(struct sync_write *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->data[i]);
    }
    free(w);
}

/* The writer job: every beacon as the event the 202 route would publish, through activity_apply
 * (one savepoint: all of the batch or nothing). It may run more than once (PostgreSQL, a lost
 * connection): it changes nothing but the database. */
static int sync_job(struct tandem_sql *db, void *arg)
{
    struct sync_write *w = arg;
    for (size_t i = 0; i < w->n; i++) {
        struct tandem_event ev = {
            .topic = ACTIVITY_TOPIC,
            .partition = -1,
            .offset = -1,
            .key = w->key,
            .key_len = strlen(w->key),
            .data = w->data[i],
            .data_len = strlen(w->data[i]),
            .type = w->type[i],
            .source = "/activity",
            .subject = w->key,
            .time = w->time,
            .attempt = 1,
        };
        int rc = activity_apply(db, &ev);
        if (rc != TANDEM_EVENT_OK) {
            return rc == TANDEM_EVENT_RETRY ? TANDEM_EAGAIN : TANDEM_EINVAL;
        }
    }
    return 0;
}

/* On the request's worker, once the batch committed (or not). */
static void sync_done(int status, void *arg)
{
    struct sync_write *w = arg;
    if (status == 0) {
        tandem_respond_json(w->req, 200, json_pack("{s:I}", "applied", (json_int_t)w->n));
    } else {
        blog_store_failed(w->req, status);
    }
    sync_free(w);
}

static void apply_now(struct tandem_http_request *req, const struct activity_beacon *beacons,
                      size_t n, const char *key, int64_t user_id, const char *anon)
{
    struct sync_write *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        tandem_respond_problem(req, 500, "out of memory");
        return;
    }
    w->req = req;
    snprintf(w->key, sizeof(w->key), "%s", key);
    blog_time_format(blog_now_ms(), w->time);
    for (; w->n < n; w->n++) {
        w->type[w->n] = beacons[w->n].event_type; /* static strings (checks.c) */
        w->data[w->n] = beacon_data(&beacons[w->n], user_id, anon);
        if (w->data[w->n] == NULL) {
            sync_free(w);
            tandem_respond_problem(req, 500, "out of memory");
            return;
        }
    }
    int rc = blog_write(activity.store, sync_job, sync_done, w);
    if (rc != 0) {
        blog_store_failed(req, rc);
        sync_free(w);
    }
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
    char sync[8];
    bool answered = false;
    const char *mode = blog_query(req, "sync", sync, sizeof(sync), &answered);
    if (answered || (mode != NULL && strcmp(mode, "1") != 0 && strcmp(mode, "0") != 0)) {
        if (!answered) {
            json_t *errors = json_object();
            tandem_errors_add(errors, "sync", "must be 0 or 1");
            tandem_respond_invalid(req, errors);
        }
        json_decref(in);
        return;
    }
    if (mode != NULL && strcmp(mode, "1") == 0) {
        apply_now(req, beacons, n, key, user_id, anon); /* the data is copied: in can go */
        json_decref(in);
        return;
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
