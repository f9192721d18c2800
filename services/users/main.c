/*
 * tandem-users: the blog's users service (users.h says what it owns and publishes).
 *
 *   POST /api/users                          registration (201)
 *   POST /api/users/login                    login (200; 401 on a bad e-mail or password)
 *   GET  /api/user, PUT /api/user            the current user (a token required)
 *   GET  /api/profiles/{username}            a profile (a token optional)
 *   POST/DELETE /api/profiles/{username}/follow
 *
 * Settings besides the runtime's (docs/libtandem.md): --jwt-private-key (this service signs),
 * --jwt-public-key, --jwt-lifetime (seconds, 86400), --db-file (users.db under --data-dir).
 */
#include <sodium.h>
#include <stdio.h>

#include "users.h"

extern const char SCHEMA_SQL[];

struct users users;

static const struct {
    const char *method, *pattern;
    tandem_route_fn fn;
} ROUTES[] = {
    {"POST", "/api/users", users_register},
    {"POST", "/api/users/login", users_login},
    {"GET", "/api/user", users_current},
    {"PUT", "/api/user", users_update},
    {"GET", "/api/profiles/{username}", users_profile},
    {"POST", "/api/profiles/{username}/follow", users_follow},
    {"DELETE", "/api/profiles/{username}/follow", users_unfollow},
};

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "tandem-users: libsodium cannot start\n");
        return 2;
    }
    if (tandem_service_new("users", argc, argv, &users.svc) != 0) {
        return 2; /* logged */
    }
    int rc = tandem_service_option(users.svc, "db-file", "users.db",
                                   "the SQLite database file, "
                                   "under --data-dir, shared by the instances "
                                   "(TANDEM_DATABASE_URL, when set, names a "
                                   "PostgreSQL database instead)");
    if (rc == 0) {
        rc = tandem_service_auth(users.svc, NULL);
    }
    users.auth = tandem_service_auth_get(users.svc);
    for (size_t i = 0; rc == 0 && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        rc = tandem_route(users.svc, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, NULL);
    }
    if (rc == 0) {
        rc = users_hash_setup();
    }
    if (rc == 0) {
        rc = blog_store_open(users.svc, tandem_service_config(users.svc, "db-file"), SCHEMA_SQL,
                             &users.store);
    }
    if (rc == 0) {
        rc = tandem_service_run(users.svc); /* until SIGTERM; its drain frees the store */
    }
    if (rc != 0) {
        blog_store_free(users.store); /* never ran: the drain did not */
    }
    tandem_service_free(users.svc);
    return rc == 0 ? 0 : 1;
}
