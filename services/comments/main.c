/*
 * tandem-comments: the blog's comments service (comments.h says what it owns, keeps and
 * publishes; README.md here has the routes, tables and events).
 *
 *   GET    /api/articles/{slug}/comments        a token optional
 *   POST   /api/articles/{slug}/comments        a token required
 *   DELETE /api/articles/{slug}/comments/{id}   a token required (the comment's author)
 *
 * Settings besides the runtime's (docs/libtandem.md): --jwt-public-key (verification only),
 * --db-file (comments.db under --data-dir), --articles-url (where articles answers its internal
 * lookups; TANDEM_ARTICLES_URL, http://127.0.0.1:8111). It listens on 127.0.0.1:8121 unless
 * --listen or TANDEM_LISTEN says otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comments.h"

extern const char SCHEMA_SQL[];

struct comments comments;

#define DEFAULT_LISTEN "127.0.0.1:8121"

static const struct {
    const char *method, *pattern;
    tandem_route_fn fn;
} ROUTES[] = {
    {"GET", "/api/articles/{slug}/comments", comments_list},
    {"POST", "/api/articles/{slug}/comments", comments_add},
    {"DELETE", "/api/articles/{slug}/comments/{id}", comments_delete},
};

/* Copies --articles-url into comments.articles_url without its trailing '/'. Returns 0 or
 * TANDEM_EINVAL (logged) when it is not an http(s) URL that fits. */
static int articles_url_setup(void)
{
    const char *u = tandem_service_config(comments.svc, "articles-url");
    size_t n = u != NULL ? strlen(u) : 0;
    while (n > 0 && u[n - 1] == '/') {
        n--;
    }
    bool http = u != NULL && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
    if (!http || n >= sizeof(comments.articles_url) || strpbrk(u, " \t\r\n?#\"\\") != NULL) {
        tandem_log_error(NULL, "comments: --articles-url must be an http:// or https:// URL", NULL);
        return TANDEM_EINVAL;
    }
    memcpy(comments.articles_url, u, n);
    comments.articles_url[n] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const TOPICS[] = {"users", "articles"};
    setenv("TANDEM_LISTEN", DEFAULT_LISTEN, 0); /* the runtime's default is 8101 (users') */
    if (tandem_service_new("comments", argc, argv, &comments.svc) != 0) {
        return 2; /* logged */
    }
    char *schema = blog_schema_with_profiles(SCHEMA_SQL);
    int rc = schema != NULL ? 0 : TANDEM_ENOMEM;
    if (rc == 0) {
        rc = tandem_service_option(comments.svc, "db-file", "comments.db",
                                   "the SQLite database file, under --data-dir, shared by the "
                                   "instances (TANDEM_DATABASE_URL, when set, names a "
                                   "PostgreSQL database instead)");
    }
    if (rc == 0) {
        rc = tandem_service_option(comments.svc, "articles-url", "http://127.0.0.1:8111",
                                   "base URL of the articles service, for the lookup of a slug "
                                   "whose event has not arrived (GET /internal/articles/{slug})");
    }
    if (rc == 0) {
        rc = articles_url_setup();
    }
    if (rc == 0) {
        rc = tandem_service_auth(comments.svc, NULL);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        rc = tandem_route(comments.svc, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, NULL);
    }
    if (rc == 0) {
        rc = blog_store_open(comments.svc, tandem_service_config(comments.svc, "db-file"), schema,
                             &comments.store);
    }
    if (rc == 0) {
        rc = comments_client_setup();
    }
    if (rc == 0) {
        rc = tandem_service_subscribe(comments.svc, COMMENTS_GROUP, TOPICS, 2, comments_on_event,
                                      NULL);
    }
    if (rc == 0) {
        tandem_service_on_stop(comments.svc, comments_events_close, NULL);
        rc = tandem_service_run(comments.svc); /* until SIGTERM; its drain frees the rest */
    }
    if (rc != 0 && comments.store != NULL) {
        /* never ran: the drain did not free them */
        tandem_http_client_free(comments.http);
        blog_store_free(comments.store);
    }
    free(schema);
    tandem_service_free(comments.svc);
    return rc == 0 ? 0 : 1;
}
