/*
 * services/activity: the blog's user activity and analytics (docs/blog.md, README.md here).
 *
 * Two halves that never meet on a request's path:
 *
 *   beacons   POST /api/activity/events: page views, clicks and article reads sent by the web
 *             UI. Validated, published fire-and-forget (tandem_publish through the service's
 *             producer: no outbox, no database) on the topic "activity", keyed by the user id
 *             or the anonymous id, and answered 202 at once; 503 with Retry-After when the
 *             producer's local queue is full. With ?sync=1 the beacons are applied instead, in
 *             one writer job (group commit) through the consumer's own code, and answered 200
 *             once on disk: the synchronous write the ingest benchmark compares with.
 *   analytics one consumer (group "activity") of every domain topic and of "activity" that
 *             applies each event once (tandem_sql_idempotent) to read models kept in the
 *             service's own database (SQLite, or PostgreSQL with TANDEM_DATABASE_URL): counts
 *             per UTC day and event type, per article (slug, title, reads, favorites, live
 *             comments, deleted), per user (the last 50 things they did) and the users read
 *             model of services/common (blog_profiles_apply). Read models only move forward:
 *             each row holds the version of the entity it was built from. The GET routes
 *             answer from the database through the workers' read connections.
 *
 * Threads: handlers on the HTTP workers (their read connections), the consumer's handler on the
 * consumer thread (its own write connection, struct activity.db, opened there at the first
 * event), ?sync=1's jobs on the store's writer thread (the writer's connection).
 */
#ifndef ACTIVITY_H
#define ACTIVITY_H

#include "blog.h"

#define ACTIVITY_TOPIC "activity"
#define ACTIVITY_GROUP "activity"

struct activity {
    struct tandem_service *svc;
    struct blog_store *store;
    /* the consumer thread's own: */
    struct tandem_sql *db; /* its write connection (NULL until the first event) */
    bool sync_normal;      /* --consumer-sync normal: commits that do not wait for the disk */
    int64_t last_prune_ms; /* when processed event ids were last pruned */
};

extern struct activity activity;

/* beacons.c: POST /api/activity/events */
void activity_post_events(struct tandem_http_request *req, void *arg);

/* checks.c: a batch of beacons checked (pure) */

#define ACTIVITY_BEACONS_MAX 50 /* beacons in one batch */
#define ACTIVITY_ANON_ID_MAX 64 /* characters of an anonymous id (ASCII: bytes too) */

/* One checked beacon; the strings point into the batch's JSON. */
struct activity_beacon {
    const char
        *event_type;  /* "activity.page_viewed", "activity.clicked", "activity.article_read" */
    const char *path; /* "/..." */
    const char *slug; /* NULL when none */
    int64_t at_ms;    /* the beacon's "at", or now */
};

/*
 * Checks the body of POST /api/activity/events (README.md: the rules) with the server's time
 * now. Returns 0 with the beacons
 * in out[0..*n) (1 <= *n <= 50), or -1 with every problem added to errors (a JSON object the
 * caller owns) as RealWorld's {"field":["message"]}, a beacon's under "events[i].field". Pure:
 * no I/O, any thread.
 */
int activity_beacons_check(const json_t *in, int64_t now,
                           struct activity_beacon out[ACTIVITY_BEACONS_MAX], size_t *n,
                           json_t *errors);

/* apply.c: the consumer's handler (tandem_event_handler_fn) and its connection's end (an
 * on_stop hook: the runtime has stopped the consumer when it runs). */
int activity_on_event(const struct tandem_event *ev, void *arg);

/* Counts ev and applies it to the read models on db, inside the caller's transaction (the
 * consumer's tandem_sql_idempotent, or a writer job of ?sync=1). Returns TANDEM_EVENT_OK,
 * TANDEM_EVENT_RETRY (the database is busy or failed) or TANDEM_EVENT_FAIL (data it cannot
 * apply). Uses blog_stmt's cache of the calling thread. */
int activity_apply(struct tandem_sql *db, const struct tandem_event *ev);
void activity_consumer_close(void *arg);

/* reads.c: the GET routes */
void activity_daily(struct tandem_http_request *req, void *arg);
void activity_top_articles(struct tandem_http_request *req, void *arg);
void activity_user(struct tandem_http_request *req, void *arg);
void activity_totals(struct tandem_http_request *req, void *arg);

/* dates.c */

/* Parses RealWorld's date form, ISO 8601 in UTC, "2026-12-05T17:20:10.123Z" (the fraction
 * optional, 1 to 9 digits, cut to milliseconds; 'Z' required; years 1970..9999) into unix
 * milliseconds. Returns 0 and *ms, or -1. */
int activity_time_parse(const char *s, int64_t *ms);

#define ACTIVITY_DAY_SIZE 11 /* "2026-12-05" and its NUL */

/* The UTC day of unix_ms as "YYYY-MM-DD". */
void activity_day(int64_t unix_ms, char out[ACTIVITY_DAY_SIZE]);

#endif
