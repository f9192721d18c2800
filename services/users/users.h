/*
 * services/users: accounts, login, tokens, profiles and follows of the blog (docs/blog.md).
 *
 * users owns the accounts: e-mail, argon2id password hash, username, bio, image, and the follows.
 * It is the one service holding the token key's private half: it signs an ES256 token at
 * registration and login; every service (users too) verifies tokens locally with the public
 * half. Password hashing is slow on purpose, so it runs on the service's pool (tandem_offload),
 * never on an HTTP worker: no other request waits behind a hash. Every state change is written
 * through the group-commit writer together with its event (the outbox): user.registered,
 * user.updated (the public profile only, never the e-mail or the hash), user.followed,
 * user.unfollowed, on the topic "users", keyed by the user (the follower for follows).
 */
#ifndef USERS_H
#define USERS_H

#include "blog.h"

struct users {
    struct tandem_service *svc;
    struct blog_store *store;
    struct tandem_auth *auth;
    char dummy_hash[128]; /* a hash of a random password: a login for an unknown e-mail verifies
                             against it, so it takes as long as one for a known e-mail */
};

extern struct users users;

#define USERS_TOPIC "users"

/* A writer job's outcomes besides 0 (kept) and TANDEM_E* (failed). */
enum { JOB_NOT_FOUND = 1, JOB_TAKEN = 2, JOB_SELF = 3 };

/* accounts.c */
void users_register(struct tandem_http_request *req, void *arg);
void users_login(struct tandem_http_request *req, void *arg);
void users_current(struct tandem_http_request *req, void *arg);
void users_update(struct tandem_http_request *req, void *arg);
int users_hash_setup(void);

/* profiles.c */
void users_profile(struct tandem_http_request *req, void *arg);
void users_follow(struct tandem_http_request *req, void *arg);
void users_unfollow(struct tandem_http_request *req, void *arg);

/* The public profile event data of a user row: {"id","username","bio","image","version","at"}. */
json_t *users_event_profile(int64_t id, const char *username, const char *bio, const char *image,
                            int64_t version, int64_t at_ms);

#endif
