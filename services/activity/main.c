/*
 * tandem-activity: the blog's activity service (activity.h says what it does, README.md how).
 *
 *   POST /api/activity/events                beacons (202; fire-and-forget on topic "activity")
 *   GET  /api/activity/daily?days=7          events per UTC day and type
 *   GET  /api/activity/top-articles?limit=10 the most read articles
 *   GET  /api/activity/users/{username}      a user's recent activity
 *   GET  /api/activity/totals                the totals the owners' data can be checked against
 *
 * Consumes users, articles, comments and activity in the group "activity".
 *
 * Settings besides the runtime's (docs/libtandem.md): --jwt-public-key (tokens are optional on
 * the beacons), --db-file (activity.db under --data-dir), --consumer-sync (full or normal: the
 * consumer's SQLite synchronous setting, README.md "Throughput"). The default --listen is
 * 127.0.0.1:8131.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"

extern const char SCHEMA_SQL[];

struct activity activity;

static const char *const TOPICS[] = {"users", "articles", "comments", ACTIVITY_TOPIC};

static const struct {
    const char *method, *pattern;
    tandem_route_fn fn;
} ROUTES[] = {
    {"POST", "/api/activity/events", activity_post_events},
    {"GET", "/api/activity/daily", activity_daily},
    {"GET", "/api/activity/top-articles", activity_top_articles},
    {"GET", "/api/activity/users/{username}", activity_user},
    {"GET", "/api/activity/totals", activity_totals},
};

static int setup(void)
{
    int rc = tandem_service_option(activity.svc, "db-file", "activity.db",
                                   "the SQLite database file, under --data-dir, shared by the "
                                   "instances");
    if (rc == 0) {
        rc = tandem_service_option(activity.svc, "consumer-sync", "full",
                                   "the consumer's SQLite synchronous setting: full (each event "
                                   "on disk before its offset is committed) or normal (faster; "
                                   "an OS crash may lose the last events applied)");
    }
    const char *sync = tandem_service_config(activity.svc, "consumer-sync");
    if (rc == 0 && strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0) {
        tandem_log_error(NULL, "activity: --consumer-sync must be full or normal", NULL);
        rc = TANDEM_EINVAL;
    }
    activity.sync_normal = rc == 0 && strcmp(sync, "normal") == 0;
    if (rc == 0) {
        rc = tandem_service_auth(activity.svc, NULL);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        rc = tandem_route(activity.svc, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, NULL);
    }
    char *schema = rc == 0 ? blog_schema_with_profiles(SCHEMA_SQL) : NULL;
    if (rc == 0 && schema == NULL) {
        rc = TANDEM_ENOMEM;
    }
    if (rc == 0) {
        rc = blog_store_open(activity.svc, tandem_service_config(activity.svc, "db-file"), schema,
                             &activity.store);
    }
    free(schema);
    if (rc == 0) {
        /* registered after the store's hook, so it runs before it: the consumer's connection
         * closes while the writer still runs */
        tandem_service_on_stop(activity.svc, activity_consumer_close, &activity);
        rc = tandem_service_subscribe(activity.svc, ACTIVITY_GROUP, TOPICS,
                                      (int)(sizeof(TOPICS) / sizeof(TOPICS[0])), activity_on_event,
                                      &activity);
    }
    return rc;
}

int main(int argc, char **argv)
{
    /* this service's port unless a flag or the environment says otherwise (a flag beats the
     * environment, which this does not overwrite) */
    setenv("TANDEM_LISTEN", "127.0.0.1:8131", 0);
    if (tandem_service_new("activity", argc, argv, &activity.svc) != 0) {
        return 2; /* logged */
    }
    int rc = setup();
    if (rc == 0) {
        rc = tandem_service_run(activity.svc); /* until SIGTERM; its drain frees the store */
    }
    if (rc != 0) {
        blog_store_free(activity.store); /* never ran: the drain did not */
    }
    tandem_service_free(activity.svc);
    return rc == 0 ? 0 : 1;
}
