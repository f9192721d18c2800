/*
 * tandem-articles: the blog's articles service (articles.h says what it owns and publishes).
 *
 *   GET  /api/articles                       the list (?tag, ?author, ?favorited, ?limit, ?offset)
 *   POST /api/articles                       publish (201)
 *   GET  /api/articles/feed                  the followed authors' articles (a token required)
 *   GET/PUT/DELETE /api/articles/{slug}      one article (PUT and DELETE: its author only)
 *   POST/DELETE /api/articles/{slug}/favorite
 *   GET  /api/tags
 *   GET  /internal/articles/{slug}           for the comments service (never routed by the gateway)
 *
 * Consumes the users topic (group "articles") into the users read model. Listens on
 * 127.0.0.1:8111 unless --listen or TANDEM_LISTEN says otherwise. Settings besides the runtime's
 * (docs/libtandem.md): --jwt-public-key and the other token options of tandem_service_auth,
 * --db-file (articles.db under --data-dir), or TANDEM_DATABASE_URL: a PostgreSQL database of the
 * service's own instead (blog_store_open).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"

extern const char SCHEMA_SQL[];

struct articles articles;

#define DEFAULT_LISTEN "127.0.0.1:8111"

static const struct {
    const char *method, *pattern;
    tandem_route_fn fn;
} ROUTES[] = {
    {"GET", "/api/articles", articles_list},
    {"POST", "/api/articles", articles_create},
    {"GET", "/api/articles/feed", articles_feed},
    {"GET", "/api/articles/{slug}", articles_get},
    {"PUT", "/api/articles/{slug}", articles_update},
    {"DELETE", "/api/articles/{slug}", articles_delete},
    {"POST", "/api/articles/{slug}/favorite", articles_favorite},
    {"DELETE", "/api/articles/{slug}/favorite", articles_unfavorite},
    {"GET", "/api/tags", articles_tags},
    {"GET", "/internal/articles/{slug}", articles_internal},
};

/* ---- the users topic ----------------------------------------------------------------------- */

static int users_apply(struct tandem_sql *db, const struct tandem_event *ev, void *arg)
{
    (void)arg;
    return blog_profiles_apply(db, ev, NULL);
}

/* On the consumer's thread: applies one event of the users topic, once
 * (tandem_sql_idempotent), on the consumer's own connection (opened at its first event). */
static int users_event(const struct tandem_event *ev, void *arg)
{
    (void)arg;
    if (articles.consumer_db == NULL &&
        blog_store_connect(articles.store, &articles.consumer_db) != 0) {
        articles.consumer_db = NULL;
        return TANDEM_EVENT_RETRY; /* logged */
    }
    return tandem_sql_idempotent(articles.consumer_db, ARTICLES_GROUP, ev, users_apply, NULL);
}

/* The on_stop hook (the consumer has stopped: its thread no longer uses the connection). The
 * statements it cached are finalized through the connection itself: blog_stmt_forget only
 * reaches the calling thread's cache, and this is not the consumer's thread. */
static void consumer_close(void *arg)
{
    (void)arg;
    if (articles.consumer_db == NULL) {
        return;
    }
    blog_db_close(articles.consumer_db); /* the consumer thread's statements with it: stopped */
    articles.consumer_db = NULL;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) { /* the slugs' random suffixes */
        fprintf(stderr, "tandem-articles: libsodium cannot start\n");
        return 2;
    }
    /* articles listens on 8111 unless --listen or TANDEM_LISTEN says otherwise (the runtime's
     * default, 8101, is users'; it has no call to set a service's own default) */
    setenv("TANDEM_LISTEN", DEFAULT_LISTEN, 0);
    if (tandem_service_new("articles", argc, argv, &articles.svc) != 0) {
        return 2; /* logged */
    }
    char *schema = blog_schema_with_profiles(SCHEMA_SQL);
    int rc = schema != NULL ? 0 : TANDEM_ENOMEM;
    if (rc == 0) {
        rc = tandem_service_option(articles.svc, "db-file", "articles.db",
                                   "the SQLite database file, under --data-dir, shared by the "
                                   "instances (TANDEM_DATABASE_URL replaces it)");
    }
    if (rc == 0) {
        rc = tandem_service_auth(articles.svc, NULL);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        rc = tandem_route(articles.svc, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, NULL);
    }
    if (rc == 0) {
        rc = blog_store_open(articles.svc, tandem_service_config(articles.svc, "db-file"), schema,
                             &articles.store);
    }
    if (rc == 0) {
        static const char *const TOPICS[] = {"users"};
        tandem_service_on_stop(articles.svc, consumer_close, NULL);
        rc = tandem_service_subscribe(articles.svc, ARTICLES_GROUP, TOPICS, 1, users_event, NULL);
    }
    if (rc == 0) {
        rc = tandem_service_run(articles.svc); /* until SIGTERM; its drain frees the store */
    }
    if (rc != 0) {
        blog_store_free(articles.store); /* never ran: the drain did not */
    }
    tandem_service_free(articles.svc);
    free(schema);
    return rc == 0 ? 0 : 1;
}
