/*
 * events.c: what comments consumes (the users and articles topics, group "comments") and the
 * comment.deleted event it publishes from more than one place.
 *
 * Every consumed event is applied with tandem_sql_idempotent on the consumer thread's own
 * connection (SQLite or PostgreSQL, blog_store_connect): its writes and the "processed" mark commit
 * together, and a redelivered event (same source and id) changes nothing. Read-model rows move only
 * forward by version, so a replayed or reordered event changes nothing either.
 *
 *   users     user.registered, user.updated, user.followed, user.unfollowed: the profiles read
 *             model of services/common (blog_profiles_apply)
 *   articles  article.published, article.updated: upsert (id, slug, author, version) when the
 *             event's version is above the row's (a new title, so a new slug, moves the row);
 *             article.deleted: the row becomes a tombstone whatever its version (deletion is
 *             final), and the article's comments are deleted, each with its comment.deleted
 *             event added to the outbox in that same transaction; the relay is woken once it
 *             committed (the writer wakes it for its own commits only)
 *             article.favorited, article.unfavorited and anything else: ignored
 *
 * The connection is opened at the first event, on the consumer's thread (the writer made the
 * schema at start), and closed by an on_stop hook after the consumers stopped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comments.h"

static struct tandem_sql *consumer_db; /* the consumer thread's connection */

static const char TOMBSTONE[] =
    "INSERT INTO articles(id, slug, author_id, version, deleted) VALUES(?1, ?2, ?3, ?4, 1) "
    "ON CONFLICT(id) DO UPDATE SET deleted = 1, version = CASE WHEN excluded.version > "
    "articles.version THEN excluded.version ELSE articles.version END";
static const char COMMENTS_OF[] = "SELECT id FROM comments WHERE article_id = ?1";
static const char DELETE_ALL[] = "DELETE FROM comments WHERE article_id = ?1";

int comments_event_deleted(struct tandem_sql *db, int64_t id, int64_t article_id,
                           const char *traceparent)
{
    json_t *data =
        json_pack("{s:I,s:I,s:i,s:o}", "id", (json_int_t)id, "articleId", (json_int_t)article_id,
                  "version", 2, "at", blog_time_json(blog_now_ms()));
    return blog_event_add(db, COMMENTS_TOPIC, article_id, "comment.deleted", data, traceparent);
}

/* article.deleted: the tombstone, then the comments with their events. *published tells whether
 * outbox rows were added. */
static int article_deleted(struct tandem_sql *db, const struct tandem_event *ev, const json_t *d,
                           bool *published)
{
    int64_t id = blog_json_int(d, "id");
    const char *slug = blog_json_str(d, "slug");
    struct tandem_sql_stmt *t = blog_stmt(db, TOMBSTONE), *of = blog_stmt(db, COMMENTS_OF);
    struct tandem_sql_stmt *del = blog_stmt(db, DELETE_ALL);
    if (id <= 0) {
        tandem_log_warn(NULL, "comments: an article.deleted event without an id", NULL);
        return TANDEM_EVENT_FAIL;
    }
    if (t == NULL || of == NULL || del == NULL) {
        return TANDEM_EVENT_RETRY;
    }
    tandem_sql_bind_int64(t, 1, id);
    tandem_sql_bind_text(t, 2, slug != NULL ? slug : "");
    tandem_sql_bind_int64(t, 3, blog_json_int(d, "authorId"));
    tandem_sql_bind_int64(t, 4, blog_json_int(d, "version"));
    int rc = tandem_sql_step(t);
    tandem_sql_reset(t);
    if (rc != TANDEM_SQL_DONE) {
        return TANDEM_EVENT_RETRY;
    }
    tandem_sql_bind_int64(of, 1, id);
    int added = 0;
    for (rc = tandem_sql_step(of); rc == TANDEM_SQL_ROW; rc = tandem_sql_step(of)) {
        if (comments_event_deleted(db, tandem_sql_column_int64(of, 0), id, ev->traceparent) != 0) {
            break;
        }
        added++;
    }
    tandem_sql_reset(of);
    if (rc != TANDEM_SQL_DONE) {
        return TANDEM_EVENT_RETRY;
    }
    tandem_sql_bind_int64(del, 1, id);
    rc = tandem_sql_step(del);
    tandem_sql_reset(del);
    if (rc != TANDEM_SQL_DONE) {
        return TANDEM_EVENT_RETRY;
    }
    *published = added > 0;
    if (added > 0) {
        tandem_log_info(NULL, "comments: an article's comments deleted with it",
                        "\"article\":%" PRId64 ",\"comments\":%d", id, added);
    }
    return TANDEM_EVENT_OK;
}

static int apply_article(struct tandem_sql *db, const struct tandem_event *ev, bool *published)
{
    bool upsert =
        strcmp(ev->type, "article.published") == 0 || strcmp(ev->type, "article.updated") == 0;
    bool deleted = strcmp(ev->type, "article.deleted") == 0;
    if (!upsert && !deleted) {
        return TANDEM_EVENT_OK;
    }
    json_t *d = blog_event_data(ev);
    if (d == NULL) {
        return TANDEM_EVENT_FAIL;
    }
    int rc = TANDEM_EVENT_FAIL;
    if (deleted) {
        rc = article_deleted(db, ev, d, published);
    } else {
        struct comments_article a = {
            .id = blog_json_int(d, "id"),
            .author_id = blog_json_int(d, "authorId"),
            .version = blog_json_int(d, "version"),
        };
        const char *slug = blog_json_str(d, "slug");
        if (a.id > 0 && a.author_id > 0 && a.version > 0 && slug != NULL && slug[0] != '\0' &&
            strlen(slug) <= COMMENTS_SLUG_MAX) {
            snprintf(a.slug, sizeof(a.slug), "%s", slug);
            rc = comments_article_store(db, &a) == 0 ? TANDEM_EVENT_OK : TANDEM_EVENT_RETRY;
        } else {
            tandem_log_warn(NULL, "comments: an article event with missing members",
                            "\"type\":\"%s\"", ev->type);
        }
    }
    json_decref(d);
    return rc;
}

static int apply(struct tandem_sql *db, const struct tandem_event *ev, void *arg)
{
    if (ev->type == NULL) {
        return TANDEM_EVENT_OK; /* not a CloudEvent: nothing of ours */
    }
    if (strcmp(ev->topic, "users") == 0) {
        return blog_profiles_apply(db, ev, NULL);
    }
    if (strcmp(ev->topic, "articles") == 0) {
        return apply_article(db, ev, arg);
    }
    return TANDEM_EVENT_OK;
}

int comments_on_event(const struct tandem_event *ev, void *arg)
{
    (void)arg;
    if (consumer_db == NULL && blog_store_connect(comments.store, &consumer_db) != 0) {
        consumer_db = NULL;
        return TANDEM_EVENT_RETRY; /* logged */
    }
    bool published = false;
    int rc = tandem_sql_idempotent(consumer_db, COMMENTS_GROUP, ev, apply, &published);
    if (rc == TANDEM_EVENT_OK && published) {
        tandem_outbox_relay_wake(comments.store->relay);
    }
    return rc;
}

void comments_events_close(void *arg)
{
    (void)arg;
    if (consumer_db == NULL) {
        return;
    }
    blog_db_close(consumer_db); /* the consumer thread's cached statements with it: the consumers
                                   have stopped */
    consumer_db = NULL;
}
