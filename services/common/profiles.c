/*
 * profiles.c: the users read model that articles and comments keep (event-carried state
 * transfer): every author's public profile and every follow, from the users topic, so that
 * `author.following`, the feed and the author filter are answered without calling users.
 *
 * A row only moves forward: user.registered/updated carry the user's version (1 at
 * registration, +1 per change), user.followed/unfollowed the version of the (follower, followee)
 * edge, and an event is applied only when its version is above the row's. Redelivered, replayed
 * or reordered events therefore change nothing. Usernames are not unique here: two users
 * swapping names may be seen half-way (their events are keyed by user, in different
 * partitions); the owner (users) keeps them unique.
 *
 * A user who writes before their user.registered arrived is known from their token's claims: a
 * row with version 0, which any event of theirs overwrites.
 *
 * The SQL is plain (upserts with ON CONFLICT ... DO UPDATE ... WHERE, as SQLite and PostgreSQL
 * both have them).
 */
#include <stdlib.h>
#include <string.h>

#include "blog.h"

const char BLOG_PROFILES_SQL[] =
    "CREATE TABLE IF NOT EXISTS blog_authors (\n"
    "  user_id INTEGER PRIMARY KEY,\n"
    "  username TEXT NOT NULL,\n"
    "  bio TEXT NOT NULL DEFAULT '',\n"
    "  image TEXT NOT NULL DEFAULT '',\n"
    "  version INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS blog_authors_username ON blog_authors(username);\n"
    "CREATE TABLE IF NOT EXISTS blog_follows (\n"
    "  follower_id INTEGER NOT NULL,\n"
    "  followee_id INTEGER NOT NULL,\n"
    "  following INTEGER NOT NULL,\n"
    "  version INTEGER NOT NULL,\n"
    "  PRIMARY KEY (follower_id, followee_id)\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS blog_follows_followee ON blog_follows(followee_id);\n";

char *blog_schema_with_profiles(const char *own)
{
    size_t a = strlen(BLOG_PROFILES_SQL), b = strlen(own);
    char *s = malloc(a + b + 2);
    if (s != NULL) {
        memcpy(s, BLOG_PROFILES_SQL, a);
        s[a] = '\n';
        memcpy(s + a + 1, own, b + 1);
    }
    return s;
}

static const char UPSERT_AUTHOR[] =
    "INSERT INTO blog_authors(user_id, username, bio, image, version) VALUES(?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT(user_id) DO UPDATE SET username = excluded.username, bio = excluded.bio, "
    "image = excluded.image, version = excluded.version "
    "WHERE excluded.version > blog_authors.version";

static const char UPSERT_FOLLOW[] =
    "INSERT INTO blog_follows(follower_id, followee_id, following, version) "
    "VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(follower_id, followee_id) DO UPDATE SET following = excluded.following, "
    "version = excluded.version WHERE excluded.version > blog_follows.version";

static const char AUTHOR_FROM_CLAIMS[] =
    "INSERT INTO blog_authors(user_id, username, bio, image, version) VALUES(?1, ?2, '', '', 0) "
    "ON CONFLICT(user_id) DO NOTHING";

static const char PROFILE[] =
    "SELECT username, bio, image, "
    "COALESCE((SELECT following FROM blog_follows WHERE follower_id = ?2 AND followee_id = ?1), 0) "
    "FROM blog_authors WHERE user_id = ?1";

static const char ID_OF[] =
    "SELECT user_id FROM blog_authors WHERE username = ?1 ORDER BY version DESC LIMIT 1";

/* Steps a write statement once; TANDEM_EVENT_OK, or RETRY (busy or failed, logged). */
static int step_write(struct tandem_sql *db, struct tandem_sql_stmt *st, bool *changed)
{
    int rc = tandem_sql_step(st);
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_DONE) {
        tandem_log_warn(NULL, "blog: read model write failed", "\"error\":\"%s\"",
                        tandem_strerror(rc));
        return TANDEM_EVENT_RETRY;
    }
    if (changed != NULL) {
        *changed = tandem_sql_changes(db) > 0;
    }
    return TANDEM_EVENT_OK;
}

static void bind_text(struct tandem_sql_stmt *st, int i, const char *s)
{
    tandem_sql_bind_text(st, i, s != NULL ? s : "");
}

int blog_profiles_apply(struct tandem_sql *db, const struct tandem_event *ev, bool *changed)
{
    if (changed != NULL) {
        *changed = false;
    }
    if (ev->type == NULL) {
        return TANDEM_EVENT_OK; /* not a CloudEvent: nothing of ours */
    }
    bool user = strcmp(ev->type, "user.registered") == 0 || strcmp(ev->type, "user.updated") == 0;
    bool follow =
        strcmp(ev->type, "user.followed") == 0 || strcmp(ev->type, "user.unfollowed") == 0;
    if (!user && !follow) {
        return TANDEM_EVENT_OK;
    }
    json_t *d = blog_event_data(ev);
    if (d == NULL) {
        return TANDEM_EVENT_FAIL;
    }
    int rc = TANDEM_EVENT_FAIL;
    struct tandem_sql_stmt *st = blog_stmt(db, user ? UPSERT_AUTHOR : UPSERT_FOLLOW);
    int64_t version = blog_json_int(d, "version");
    if (st == NULL) {
        rc = TANDEM_EVENT_RETRY;
    } else if (user) {
        int64_t id = blog_json_int(d, "id");
        const char *username = blog_json_str(d, "username");
        if (id > 0 && username != NULL && version > 0) {
            tandem_sql_bind_int64(st, 1, id);
            bind_text(st, 2, username);
            bind_text(st, 3, blog_json_str(d, "bio"));
            bind_text(st, 4, blog_json_str(d, "image"));
            tandem_sql_bind_int64(st, 5, version);
            rc = step_write(db, st, changed);
        }
    } else {
        int64_t follower = blog_json_int(d, "followerId"),
                followee = blog_json_int(d, "followeeId");
        if (follower > 0 && followee > 0 && version > 0) {
            tandem_sql_bind_int64(st, 1, follower);
            tandem_sql_bind_int64(st, 2, followee);
            tandem_sql_bind_int64(st, 3, strcmp(ev->type, "user.followed") == 0);
            tandem_sql_bind_int64(st, 4, version);
            rc = step_write(db, st, changed);
        }
    }
    if (rc == TANDEM_EVENT_FAIL) {
        tandem_log_warn(NULL, "blog: a users event with missing members", "\"type\":\"%s\"",
                        ev->type);
    }
    json_decref(d);
    return rc;
}

int blog_profiles_from_claims(struct tandem_sql *db, const struct tandem_claims *c)
{
    int64_t id = blog_user_id(c);
    struct tandem_sql_stmt *st =
        id > 0 && c->username != NULL ? blog_stmt(db, AUTHOR_FROM_CLAIMS) : NULL;
    if (st == NULL) {
        return TANDEM_EINVAL;
    }
    tandem_sql_bind_int64(st, 1, id);
    bind_text(st, 2, c->username);
    int rc = tandem_sql_step(st);
    tandem_sql_reset(st);
    return rc == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
}

json_t *blog_profile_json(struct tandem_sql *db, int64_t author_id, int64_t viewer_id)
{
    struct tandem_sql_stmt *st = blog_stmt(db, PROFILE);
    if (st == NULL) {
        return NULL;
    }
    tandem_sql_bind_int64(st, 1, author_id);
    tandem_sql_bind_int64(st, 2, viewer_id);
    json_t *p = NULL;
    if (tandem_sql_step(st) == TANDEM_SQL_ROW) {
        p = json_pack("{s:s,s:s,s:s,s:b}", "username", blog_col_text(st, 0), "bio",
                      blog_col_text(st, 1), "image", blog_col_text(st, 2), "following",
                      viewer_id > 0 && tandem_sql_column_int64(st, 3) != 0);
    }
    tandem_sql_reset(st);
    return p;
}

int64_t blog_profiles_id_of(struct tandem_sql *db, const char *username)
{
    struct tandem_sql_stmt *st = blog_stmt(db, ID_OF);
    if (st == NULL) {
        return 0;
    }
    bind_text(st, 1, username);
    int64_t id = tandem_sql_step(st) == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) : 0;
    tandem_sql_reset(st);
    return id;
}
