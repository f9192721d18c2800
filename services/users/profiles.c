/*
 * profiles.c: profiles and follows, as the owner sees them (articles and comments keep their
 * own copies from the user.followed / user.unfollowed events).
 *
 * A follow is an edge (follower, followee) with a state and a version: following again what one
 * already follows changes nothing and publishes nothing; every real change bumps the edge's
 * version, which the event carries so that read models apply changes in order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users.h"

static const char PROFILE[] =
    "SELECT u.username, u.bio, u.image, "
    "COALESCE((SELECT following FROM follows WHERE follower_id = ?2 AND followee_id = u.id), 0) "
    "FROM users u WHERE u.username = ?1";

static json_t *profile_json(struct tandem_sql_stmt *st, int64_t viewer)
{
    return json_pack("{s:{s:s,s:s,s:s,s:b}}", "profile", "username", blog_col_text(st, 0), "bio",
                     blog_col_text(st, 1), "image", blog_col_text(st, 2), "following",
                     viewer > 0 && tandem_sql_column_int64(st, 3) != 0);
}

void users_profile(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = NULL;
    if (tandem_optional_auth(req, &c) != 0) {
        return; /* a token was sent but is not valid: 401 */
    }
    struct tandem_sql *db = blog_reader(req, users.store);
    struct tandem_sql_stmt *st = db != NULL ? blog_stmt(db, PROFILE) : NULL;
    if (st == NULL) {
        if (db != NULL) {
            tandem_respond_problem(req, 500, "storage failed");
        }
        return;
    }
    if (!blog_utf8_valid(tandem_param(req, "username"))) {
        tandem_sql_reset(st);
        blog_not_found(req, "profile");
        return;
    }
    int64_t viewer = blog_user_id(c);
    tandem_sql_bind_text(st, 1, tandem_param(req, "username"));
    tandem_sql_bind_int64(st, 2, viewer);
    int rc = tandem_sql_step(st);
    json_t *body = rc == TANDEM_SQL_ROW ? profile_json(st, viewer) : NULL;
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_ROW && rc != TANDEM_SQL_DONE) { /* a failed read is no unknown user */
        tandem_respond_problem(req, 500, "storage failed");
        return;
    }
    if (body == NULL) {
        blog_not_found(req, "profile");
        return;
    }
    tandem_respond_json(req, 200, body);
}

/* One follow or unfollow on its way through the writer. */
struct follow {
    struct tandem_http_request *req;
    int64_t follower;
    char *username;
    bool want; /* following afterwards */
    json_t *profile;
    char traceparent[64];
};

static const char TARGET[] = "SELECT id, username, bio, image FROM users WHERE username = ?1";
static const char EDGE[] =
    "SELECT following, version FROM follows WHERE follower_id = ?1 AND followee_id = ?2";
static const char SET_EDGE[] =
    "INSERT INTO follows(follower_id, followee_id, following, version) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(follower_id, followee_id) DO UPDATE SET following = excluded.following, "
    "version = excluded.version";

static int follow_job(struct tandem_sql *db, void *arg)
{
    struct follow *f = arg;
    json_decref(f->profile); /* a job may run again (a lost PostgreSQL connection): set, not add */
    f->profile = NULL;
    struct tandem_sql_stmt *t = blog_stmt(db, TARGET), *e = blog_stmt(db, EDGE);
    struct tandem_sql_stmt *s = blog_stmt(db, SET_EDGE);
    if (t == NULL || e == NULL || s == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_text(t, 1, f->username);
    int rc = tandem_sql_step(t);
    if (rc != TANDEM_SQL_ROW) {
        tandem_sql_reset(t);
        return rc == TANDEM_SQL_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
    }
    int64_t followee = tandem_sql_column_int64(t, 0);
    f->profile =
        json_pack("{s:{s:s,s:s,s:s,s:b}}", "profile", "username", blog_col_text(t, 1), "bio",
                  blog_col_text(t, 2), "image", blog_col_text(t, 3), "following", f->want);
    tandem_sql_reset(t);
    if (followee == f->follower) {
        return JOB_SELF;
    }
    tandem_sql_bind_int64(e, 1, f->follower);
    tandem_sql_bind_int64(e, 2, followee);
    bool was = false;
    int64_t version = 0;
    rc = tandem_sql_step(e);
    if (rc == TANDEM_SQL_ROW) {
        was = tandem_sql_column_int64(e, 0) != 0;
        version = tandem_sql_column_int64(e, 1);
    }
    tandem_sql_reset(e);
    if (rc != TANDEM_SQL_ROW && rc != TANDEM_SQL_DONE) {
        return TANDEM_EIO;
    }
    if (was == f->want) {
        return 0; /* nothing changes, nothing is published */
    }
    version++;
    tandem_sql_bind_int64(s, 1, f->follower);
    tandem_sql_bind_int64(s, 2, followee);
    tandem_sql_bind_int64(s, 3, f->want ? 1 : 0);
    tandem_sql_bind_int64(s, 4, version);
    rc = tandem_sql_step(s);
    tandem_sql_reset(s);
    if (rc != TANDEM_SQL_DONE) {
        return TANDEM_EIO;
    }
    json_t *data = json_pack("{s:I,s:I,s:b,s:I,s:o}", "followerId", (json_int_t)f->follower,
                             "followeeId", (json_int_t)followee, "following", f->want, "version",
                             (json_int_t)version, "at", blog_time_json(blog_now_ms()));
    return blog_event_add(db, USERS_TOPIC, f->follower,
                          f->want ? "user.followed" : "user.unfollowed", data,
                          f->traceparent[0] != '\0' ? f->traceparent : NULL);
}

static void follow_done(int status, void *arg)
{
    struct follow *f = arg;
    if (status == 0) {
        tandem_respond_json(f->req, 200, f->profile);
        f->profile = NULL;
    } else if (status == JOB_NOT_FOUND) {
        blog_not_found(f->req, "profile");
    } else if (status == JOB_SELF) {
        tandem_respond_invalid(f->req, json_pack("{s:[s]}", "username", "is your own"));
    } else {
        blog_store_failed(f->req, status);
    }
    json_decref(f->profile);
    free(f->username);
    free(f);
}

static void follow_set(struct tandem_http_request *req, bool want)
{
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    if (!blog_utf8_valid(tandem_param(req, "username"))) {
        blog_not_found(req, "profile");
        return;
    }
    struct follow *f = calloc(1, sizeof(*f));
    if (f == NULL || (f->username = strdup(tandem_param(req, "username"))) == NULL) {
        free(f);
        tandem_respond_problem(req, 500, "out of memory");
        return;
    }
    f->req = req;
    f->follower = blog_user_id(c);
    f->want = want;
    const char *tp = tandem_request_traceparent(req);
    snprintf(f->traceparent, sizeof(f->traceparent), "%s", tp != NULL ? tp : "");
    int rc = blog_write(users.store, follow_job, follow_done, f);
    if (rc != 0) {
        blog_store_failed(req, rc);
        free(f->username);
        free(f);
    }
}

void users_follow(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    follow_set(req, true);
}

void users_unfollow(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    follow_set(req, false);
}
