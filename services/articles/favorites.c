/*
 * favorites.c: POST and DELETE /api/articles/{slug}/favorite.
 *
 * A favorite is a row (user, article); favorites_count on the article counts them, changed in
 * the same job. Favoriting what one has favorited already (or unfavoriting what one has not)
 * changes nothing and publishes nothing: the answer is the article as it is. Every real change
 * bumps the article's favorites_version, which its event (article.favorited /
 * article.unfavorited) carries, so a read model of the counts moves only forward. This version
 * is not the article's version: favorites do not change the article itself (nor its
 * updatedAt).
 */
#include "articles.h"

static const char FIND[] =
    "SELECT id, favorites_count, favorites_version FROM articles WHERE slug = ?1";
static const char ADD[] =
    "INSERT INTO favorites(user_id, article_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING";
static const char REMOVE[] = "DELETE FROM favorites WHERE user_id = ?1 AND article_id = ?2";
static const char COUNT[] = "UPDATE articles SET favorites_count = favorites_count + ?2, "
                            "favorites_version = favorites_version + 1 WHERE id = ?1";

static int favorite_job(sqlite3 *db, void *arg)
{
    struct op *o = arg;
    int rc = op_author_known(db, o);
    sqlite3_stmt *find = blog_stmt(db, FIND), *set = blog_stmt(db, o->favorite ? ADD : REMOVE);
    sqlite3_stmt *count = blog_stmt(db, COUNT);
    if (rc != 0 || find == NULL || set == NULL || count == NULL) {
        return rc != 0 ? rc : TANDEM_EIO;
    }
    sqlite3_bind_text(find, 1, o->slug, -1, SQLITE_STATIC);
    rc = sqlite3_step(find);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(find);
        return rc == SQLITE_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
    }
    int64_t id = sqlite3_column_int64(find, 0), favorites = sqlite3_column_int64(find, 1);
    int64_t version = sqlite3_column_int64(find, 2);
    sqlite3_reset(find);
    sqlite3_bind_int64(set, 1, o->user);
    sqlite3_bind_int64(set, 2, id);
    rc = sqlite3_step(set);
    sqlite3_reset(set);
    if (rc != SQLITE_DONE) {
        return TANDEM_EIO;
    }
    if (sqlite3_changes(db) == 0) {
        return op_render(db, o, id); /* as it was: nothing written, nothing published */
    }
    int delta = o->favorite ? 1 : -1;
    sqlite3_bind_int64(count, 1, id);
    sqlite3_bind_int(count, 2, delta);
    rc = sqlite3_step(count);
    sqlite3_reset(count);
    if (rc != SQLITE_DONE) {
        return TANDEM_EIO;
    }
    json_t *data =
        json_pack("{s:I,s:I,s:I,s:I,s:o}", "articleId", (json_int_t)id, "userId",
                  (json_int_t)o->user, "favoritesCount", (json_int_t)(favorites + delta), "version",
                  (json_int_t)(version + 1), "at", blog_time_json(blog_now_ms()));
    rc = op_event(db, o, id, o->favorite ? "article.favorited" : "article.unfavorited", data);
    return rc != 0 ? rc : op_render(db, o, id);
}

static void favorite_set(struct tandem_http_request *req, bool favorite)
{
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    struct op *o = op_of_slug(req, c);
    if (o != NULL) {
        o->favorite = favorite;
        op_write(o, favorite_job);
    }
}

void articles_favorite(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    favorite_set(req, true);
}

void articles_unfavorite(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    favorite_set(req, false);
}
