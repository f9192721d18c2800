/*
 * favorites.c: POST and DELETE /api/articles/{slug}/favorite.
 *
 * A favorite is a row (user, article); favorites_count on the article counts them, changed in
 * the same job. Favoriting what one has favorited already (or unfavoriting what one has not)
 * changes nothing and publishes nothing: the answer is the article as it is. Every real change
 * bumps the article's favorites_version, which its event (article.favorited /
 * article.unfavorited) carries, so a read model of the counts moves only forward. This version
 * is not the article's version: favorites do not change the article itself (nor its
 * updatedAt). On PostgreSQL the article's row is read FOR UPDATE (locked_sql): the count and
 * version the event carries are then the latest, whatever another instance's writer does.
 */
#include "articles.h"

static const char FIND[] =
    "SELECT id, favorites_count, favorites_version FROM articles WHERE slug = ?1";
static const char FIND_LOCKED[] =
    "SELECT id, favorites_count, favorites_version FROM articles WHERE slug = ?1 FOR UPDATE";
static const char ADD[] =
    "INSERT INTO favorites(user_id, article_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING";
static const char REMOVE[] = "DELETE FROM favorites WHERE user_id = ?1 AND article_id = ?2";
static const char COUNT[] = "UPDATE articles SET favorites_count = favorites_count + "
                            "CAST(?2 AS BIGINT), favorites_version = favorites_version + 1 "
                            "WHERE id = ?1";

static int favorite_job(struct tandem_sql *db, void *arg)
{
    struct op *o = arg;
    int rc = op_author_known(db, o);
    struct tandem_sql_stmt *find = blog_stmt(db, locked_sql(db, FIND, FIND_LOCKED));
    struct tandem_sql_stmt *set = blog_stmt(db, o->favorite ? ADD : REMOVE);
    struct tandem_sql_stmt *count = blog_stmt(db, COUNT);
    if (rc != 0 || find == NULL || set == NULL || count == NULL) {
        return rc != 0 ? rc : TANDEM_EIO;
    }
    tandem_sql_bind_text(find, 1, o->slug);
    rc = tandem_sql_step(find);
    if (rc != TANDEM_SQL_ROW) {
        tandem_sql_reset(find);
        return rc == TANDEM_SQL_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
    }
    int64_t id = tandem_sql_column_int64(find, 0), favorites = tandem_sql_column_int64(find, 1);
    int64_t version = tandem_sql_column_int64(find, 2);
    tandem_sql_reset(find);
    tandem_sql_bind_int64(set, 1, o->user);
    tandem_sql_bind_int64(set, 2, id);
    rc = tandem_sql_step(set);
    tandem_sql_reset(set);
    if (rc != TANDEM_SQL_DONE) {
        return TANDEM_EIO;
    }
    if (tandem_sql_changes(db) == 0) {
        return op_render(db, o, id); /* as it was: nothing written, nothing published */
    }
    int delta = o->favorite ? 1 : -1;
    tandem_sql_bind_int64(count, 1, id);
    tandem_sql_bind_int64(count, 2, delta);
    rc = tandem_sql_step(count);
    tandem_sql_reset(count);
    if (rc != TANDEM_SQL_DONE) {
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
