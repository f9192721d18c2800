/*
 * apply.c: the analytics, applied from every event of the users, articles, comments and
 * activity topics (consumer group "activity").
 *
 * Each record runs in one database transaction through tandem_sql_idempotent: its CloudEvents
 * (source, id) is recorded with its effects, so a redelivered event (a consumer restart, a
 * rebalance, an outbox relay publishing a row again) changes nothing. Within the transaction:
 *
 *   1. the count of (its UTC day, its type) goes up by one, whatever the type (records that are
 *      not CloudEvents count nowhere); the day is that of the event's own time: its data's "at",
 *      else "updatedAt", else "createdAt", else its CloudEvents time, else now;
 *   2. the read model of its type moves, only forward:
 *
 *   user.*                  the users read model of services/common (blog_profiles_apply: rows
 *                           versioned per user and per follow edge); a follow that moved the edge
 *                           is an item of the follower's recent activity
 *   article.published/      slug, title, author (versioned by the article's version); the slug is
 *     updated               claimed for the article (activity_slugs) and reads that waited for it
 *                           are folded in; published: an item of the author's activity
 *   article.deleted         deleted (versioned: an older update never brings it back)
 *   article.favorited/      favorites = favoritesCount, versioned by the favorites version;
 *     unfavorited           favorited: an item of the user's activity
 *   comment.added/deleted   each comment's state (live or deleted, versioned 1 then 2) decides
 *                           the article's live count: +1 when a comment becomes live, -1 when a
 *                           live one is deleted, nothing otherwise; added: an item of its author's
 *   activity.page_viewed    with a slug: one read of the article holding the slug
 *   activity.article_read   one read of the article; an item of the reader's activity
 *   activity.clicked        counted (1.) only
 *
 * Order. One entity's events share a key, hence a partition, hence their order; events of
 * different topics (an article's comments and its deletion, a beacon and the article it reads)
 * come in any order. So: an article row may be made by a comment or favorite event before its
 * article.published (a placeholder, version 0, without slug or title, filled when the event
 * comes); a comment.deleted before its comment.added leaves a deleted comment the added event
 * cannot bring back (its version is lower); comments on a deleted article are counted as long as
 * they live (the comments service deletes them after the article, each with comment.deleted);
 * a read of a slug no article holds yet waits in activity_pending_reads (10,000 slugs at most:
 * beacons are anyone's input) for the article that takes it.
 *
 * A record of a type we apply whose data lacks what it needs is a permanent failure (FAIL: the
 * consumer dead-letters it); a busy or failing database is a RETRY.
 *
 * The two engines. On SQLite the writers of the database (every instance's consumer, the writer
 * of ?sync=1) take turns: one transaction writes at a time. On PostgreSQL they write at once, at
 * READ COMMITTED, so every counter moves by an upsert or an UPDATE of itself (never a value read
 * earlier and written back; a comment's state, read then written, is written only by the events
 * of its own key, one after the other), a row made by two transactions at once is an ON CONFLICT,
 * and what follows a slug (its claim, the reads waiting for it) is serialized per slug
 * (slug_lock). A statement that fails ends the event's work at once (PostgreSQL refuses all but
 * ROLLBACK then).
 *
 * activity_apply is also what POST /api/activity/events?sync=1 runs (beacons.c), in a writer job
 * on the writer's connection, for each beacon built as the event the 202 route would publish: the
 * synchronous write the ingest benchmark compares with the events, through the same code.
 *
 * The connection is the consumer thread's own, opened at its first event; its statements are
 * cached by blog_stmt on that thread. activity_consumer_close runs after the consumer has stopped
 * and finalizes them through the connection itself (blog_stmt_forget works on the calling
 * thread's cache only; the consumer thread's is never read again).
 */
#include <inttypes.h>
#include <string.h>

#include "activity.h"

#define PRUNE_EVERY_MS    (3600 * 1000LL)      /* processed ids pruned this often... */
#define PROCESSED_KEEP_MS (7 * 86400 * 1000LL) /* ...down to those of the last week */
#define TYPE_MAX          128                  /* longer CloudEvents types are not counted */
#define RECENT_MAX        "50"                 /* items kept per user */
#define PENDING_SLUGS_MAX "10000"              /* slugs waiting for their article */

/* The event being applied. */
struct applying {
    struct tandem_sql *db;
    const struct tandem_event *ev;
    json_t *d;  /* its data (a JSON object) */
    int64_t at; /* its time, unix ms */
};

static const char DAILY_ADD[] =
    "INSERT INTO activity_daily(day, type, count) VALUES(?1, ?2, 1) "
    "ON CONFLICT(day, type) DO UPDATE SET count = activity_daily.count + 1";

static const char ARTICLE_SET[] =
    "INSERT INTO activity_articles(id, slug, title, author_id, version) VALUES(?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT(id) DO UPDATE SET slug = excluded.slug, title = excluded.title, "
    "author_id = excluded.author_id, version = excluded.version "
    "WHERE excluded.version > activity_articles.version";

static const char ARTICLE_DELETE[] =
    "INSERT INTO activity_articles(id, slug, author_id, version, deleted) "
    "VALUES(?1, ?2, ?3, ?4, 1) "
    "ON CONFLICT(id) DO UPDATE SET deleted = 1, version = excluded.version, "
    "slug = COALESCE(activity_articles.slug, excluded.slug) "
    "WHERE excluded.version > activity_articles.version";

static const char SLUG_CLAIM[] =
    "INSERT INTO activity_slugs(slug, article_id, claimed_at) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(slug) DO UPDATE SET article_id = excluded.article_id, "
    "claimed_at = excluded.claimed_at WHERE excluded.claimed_at >= activity_slugs.claimed_at";

static const char PENDING_FOLD[] =
    "UPDATE activity_articles SET reads = reads + "
    "(SELECT reads FROM activity_pending_reads WHERE slug = ?2) "
    "WHERE id = ?1 AND EXISTS (SELECT 1 FROM activity_pending_reads WHERE slug = ?2)";

static const char PENDING_DROP[] = "DELETE FROM activity_pending_reads WHERE slug = ?1";

static const char FAVORITES_SET[] =
    "INSERT INTO activity_articles(id, version, favorites, favorites_version) "
    "VALUES(?1, 0, ?2, ?3) "
    "ON CONFLICT(id) DO UPDATE SET favorites = excluded.favorites, "
    "favorites_version = excluded.favorites_version "
    "WHERE excluded.favorites_version > activity_articles.favorites_version";

static const char COMMENT_GET[] = "SELECT version, deleted FROM activity_comments WHERE id = ?1";

static const char COMMENT_SET[] =
    "INSERT INTO activity_comments(id, article_id, version, deleted) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted";

static const char COMMENTS_ADD[] =
    "INSERT INTO activity_articles(id, version, comments) VALUES(?1, 0, ?2) "
    "ON CONFLICT(id) DO UPDATE SET comments = activity_articles.comments + excluded.comments";

static const char SLUG_FIND[] = "SELECT article_id FROM activity_slugs WHERE slug = ?1";

static const char READ_ADD[] = "UPDATE activity_articles SET reads = reads + 1 WHERE id = ?1";

static const char PENDING_ADD[] =
    "UPDATE activity_pending_reads SET reads = reads + 1 WHERE slug = ?1";

static const char PENDING_NEW[] =
    "INSERT INTO activity_pending_reads(slug, reads) SELECT CAST(?1 AS TEXT), 1 "
    "WHERE (SELECT COUNT(*) FROM activity_pending_reads) < " PENDING_SLUGS_MAX " "
    "ON CONFLICT(slug) DO UPDATE SET reads = activity_pending_reads.reads + 1";

/* PostgreSQL only: the slug's lock until the transaction ends (two 32-bit keys: this service's
 * class, 'actv', and the slug's hash; a collision only makes two slugs wait for each other). */
static const char SLUG_LOCK[] = "SELECT pg_advisory_xact_lock(1633907830, hashtext(?1))";

static const char RECENT_ADD[] =
    "INSERT INTO activity_recent(user_id, type, at, article_id, slug, other_user_id, comment_id) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static const char RECENT_TRIM[] =
    "DELETE FROM activity_recent WHERE user_id = ?1 AND id NOT IN "
    "(SELECT id FROM activity_recent WHERE user_id = ?1 ORDER BY at DESC, id DESC "
    "LIMIT " RECENT_MAX ")";

/* ---- statements ----------------------------------------------------------------------------- */

/* The cached statement for sql on x's connection, or NULL (logged by blog_stmt). */
static struct tandem_sql_stmt *stmt(struct applying *x, const char *sql)
{
    return blog_stmt(x->db, sql);
}

/* A statement that failed (busy, I/O, a constraint: rc; the database's message is logged by
 * tandem_sql): logged with the record's place (its type is anyone's text, the topic a Kafka
 * name), retried. On PostgreSQL the transaction can then only roll back: nothing runs after. */
static int db_failed(struct applying *x, const char *msg, int rc)
{
    tandem_log_warn(NULL, msg,
                    "\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64 ",\"error\":\"%s\"",
                    x->ev->topic, (int)x->ev->partition, x->ev->offset, tandem_strerror(rc));
    return TANDEM_EVENT_RETRY;
}

/* Steps a write once and resets it: TANDEM_EVENT_OK (and *changed, may be NULL: whether a row
 * moved), or RETRY (logged). */
static int run(struct applying *x, struct tandem_sql_stmt *st, bool *changed)
{
    if (st == NULL) {
        return TANDEM_EVENT_RETRY;
    }
    int rc = tandem_sql_step(st);
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_DONE) {
        return db_failed(x, "activity: a read model write failed", rc < 0 ? rc : TANDEM_EIO);
    }
    if (changed != NULL) {
        *changed = tandem_sql_changes(x->db) > 0;
    }
    return TANDEM_EVENT_OK;
}

/* Binds v, or NULL when v is 0 (an id that is absent). */
static void bind_id(struct tandem_sql_stmt *st, int i, int64_t v)
{
    if (v > 0) {
        tandem_sql_bind_int64(st, i, v);
    } else {
        tandem_sql_bind_null(st, i);
    }
}

/* Binds s, or NULL. */
static void bind_str(struct tandem_sql_stmt *st, int i, const char *s)
{
    if (s != NULL) {
        tandem_sql_bind_text(st, i, s);
    } else {
        tandem_sql_bind_null(st, i);
    }
}

/* A record of a type we apply that lacks what it needs: logged, dead-lettered. */
static int malformed(struct applying *x)
{
    tandem_log_warn(NULL, "activity: an event without the members it needs",
                    "\"type\":\"%s\",\"topic\":\"%s\",\"partition\":%d,\"offset\":%" PRId64,
                    x->ev->type, x->ev->topic, (int)x->ev->partition, x->ev->offset);
    return TANDEM_EVENT_FAIL;
}

/* Adds an item to user's recent activity (the event's type and time) and keeps the last 50. */
static int recent_add(struct applying *x, int64_t user, int64_t article, const char *slug,
                      int64_t other_user, int64_t comment)
{
    if (user <= 0) {
        return TANDEM_EVENT_OK;
    }
    struct tandem_sql_stmt *st = stmt(x, RECENT_ADD);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, user);
        tandem_sql_bind_text(st, 2, x->ev->type);
        tandem_sql_bind_int64(st, 3, x->at);
        bind_id(st, 4, article);
        bind_str(st, 5, slug);
        bind_id(st, 6, other_user);
        bind_id(st, 7, comment);
    }
    int rc = run(x, st, NULL);
    if (rc != TANDEM_EVENT_OK) {
        return rc;
    }
    st = stmt(x, RECENT_TRIM);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, user);
    }
    return run(x, st, NULL);
}

/* Serializes the transactions that read or move what a slug leads to (its claim, its waiting
 * reads): on SQLite every writer holds the database's write lock (BEGIN IMMEDIATE) already; on
 * PostgreSQL (READ COMMITTED, consumers of other partitions writing at once) a read could
 * otherwise miss a claim not yet committed and wait as a pending read for ever. Taken before any
 * row of activity_articles, by an article's event as by a read, so that the two never wait for
 * each other in a cycle (a deadlock PostgreSQL would break by failing one after a second). */
static int slug_lock(struct applying *x, const char *slug)
{
    if (tandem_sql_backend(x->db) != TANDEM_SQL_POSTGRES) {
        return TANDEM_EVENT_OK;
    }
    struct tandem_sql_stmt *st = stmt(x, SLUG_LOCK);
    if (st == NULL) {
        return TANDEM_EVENT_RETRY;
    }
    tandem_sql_bind_text(st, 1, slug);
    int rc = tandem_sql_step(st);
    while (rc == TANDEM_SQL_ROW) {
        rc = tandem_sql_step(st);
    }
    tandem_sql_reset(st);
    return rc == TANDEM_SQL_DONE ? TANDEM_EVENT_OK
                                 : db_failed(x, "activity: a slug lock failed", rc);
}

/* ---- users ---------------------------------------------------------------------------------- */

static int apply_user(struct applying *x)
{
    bool changed = false;
    int rc = blog_profiles_apply(x->db, x->ev, &changed);
    if (rc == TANDEM_EVENT_OK && changed && strcmp(x->ev->type, "user.followed") == 0) {
        rc = recent_add(x, blog_json_int(x->d, "followerId"), 0, NULL,
                        blog_json_int(x->d, "followeeId"), 0);
    }
    return rc;
}

/* ---- articles ------------------------------------------------------------------------------- */

/* The article takes its slug (under slug_lock); reads that waited for the slug become its own. */
static int slug_claim(struct applying *x, int64_t id, const char *slug)
{
    int64_t claimed_at;
    if (activity_time_parse(blog_json_str(x->d, "updatedAt"), &claimed_at) != 0) {
        claimed_at = x->at;
    }
    struct tandem_sql_stmt *st = stmt(x, SLUG_CLAIM);
    if (st != NULL) {
        tandem_sql_bind_text(st, 1, slug);
        tandem_sql_bind_int64(st, 2, id);
        tandem_sql_bind_int64(st, 3, claimed_at);
    }
    bool taken = false;
    int rc = run(x, st, &taken);
    if (rc != TANDEM_EVENT_OK || !taken) {
        return rc; /* an article that claimed it later holds it */
    }
    st = stmt(x, PENDING_FOLD);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, id);
        tandem_sql_bind_text(st, 2, slug);
    }
    rc = run(x, st, NULL);
    st = rc == TANDEM_EVENT_OK ? stmt(x, PENDING_DROP) : NULL;
    if (rc == TANDEM_EVENT_OK && st != NULL) {
        tandem_sql_bind_text(st, 1, slug);
    }
    return rc == TANDEM_EVENT_OK ? run(x, st, NULL) : rc;
}

/* article.published, article.updated */
static int apply_article(struct applying *x)
{
    int64_t id = blog_json_int(x->d, "id"), version = blog_json_int(x->d, "version");
    int64_t author = blog_json_int(x->d, "authorId");
    const char *slug = blog_json_str(x->d, "slug"), *title = blog_json_str(x->d, "title");
    if (id <= 0 || version <= 0 || slug == NULL || slug[0] == '\0' || title == NULL) {
        return malformed(x);
    }
    /* the slug's lock before the article's row: a read of the slug takes them in this order */
    int rc = slug_lock(x, slug);
    if (rc != TANDEM_EVENT_OK) {
        return rc;
    }
    struct tandem_sql_stmt *st = stmt(x, ARTICLE_SET);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, id);
        tandem_sql_bind_text(st, 2, slug);
        tandem_sql_bind_text(st, 3, title);
        bind_id(st, 4, author);
        tandem_sql_bind_int64(st, 5, version);
    }
    bool changed = false;
    rc = run(x, st, &changed);
    if (rc != TANDEM_EVENT_OK || !changed) {
        return rc; /* an older version than the row's: nothing moves */
    }
    rc = slug_claim(x, id, slug);
    if (rc == TANDEM_EVENT_OK && strcmp(x->ev->type, "article.published") == 0) {
        rc = recent_add(x, author, id, NULL, 0, 0);
    }
    return rc;
}

static int apply_article_deleted(struct applying *x)
{
    int64_t id = blog_json_int(x->d, "id"), version = blog_json_int(x->d, "version");
    if (id <= 0 || version <= 0) {
        return malformed(x);
    }
    struct tandem_sql_stmt *st = stmt(x, ARTICLE_DELETE);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, id);
        bind_str(st, 2, blog_json_str(x->d, "slug"));
        bind_id(st, 3, blog_json_int(x->d, "authorId"));
        tandem_sql_bind_int64(st, 4, version);
    }
    return run(x, st, NULL);
}

/* article.favorited, article.unfavorited */
static int apply_favorite(struct applying *x)
{
    int64_t article = blog_json_int(x->d, "articleId"), user = blog_json_int(x->d, "userId");
    int64_t version = blog_json_int(x->d, "version");
    const json_t *count = json_object_get(x->d, "favoritesCount");
    if (article <= 0 || version <= 0 || !json_is_integer(count) || json_integer_value(count) < 0) {
        return malformed(x);
    }
    struct tandem_sql_stmt *st = stmt(x, FAVORITES_SET);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, article);
        tandem_sql_bind_int64(st, 2, (int64_t)json_integer_value(count));
        tandem_sql_bind_int64(st, 3, version);
    }
    bool changed = false;
    int rc = run(x, st, &changed);
    if (rc == TANDEM_EVENT_OK && changed && strcmp(x->ev->type, "article.favorited") == 0) {
        rc = recent_add(x, user, article, NULL, 0, 0);
    }
    return rc;
}

/* ---- comments ------------------------------------------------------------------------------- */

/* comment.added, comment.deleted: the comment's new state, and the article's live count moved
 * by the difference it makes. */
static int apply_comment(struct applying *x)
{
    int64_t id = blog_json_int(x->d, "id"), article = blog_json_int(x->d, "articleId");
    int64_t version = blog_json_int(x->d, "version");
    bool added = strcmp(x->ev->type, "comment.added") == 0;
    if (id <= 0 || article <= 0 || version <= 0) {
        return malformed(x);
    }
    struct tandem_sql_stmt *st = stmt(x, COMMENT_GET);
    if (st == NULL) {
        return TANDEM_EVENT_RETRY;
    }
    tandem_sql_bind_int64(st, 1, id);
    int step = tandem_sql_step(st);
    bool known = step == TANDEM_SQL_ROW;
    int64_t held = known ? tandem_sql_column_int64(st, 0) : 0;
    bool live_before = known && tandem_sql_column_int64(st, 1) == 0;
    tandem_sql_reset(st);
    if (step != TANDEM_SQL_ROW && step != TANDEM_SQL_DONE) {
        return db_failed(x, "activity: a read model read failed", step < 0 ? step : TANDEM_EIO);
    }
    if (known && version <= held) {
        return TANDEM_EVENT_OK; /* redelivered, or older than what we hold */
    }
    st = stmt(x, COMMENT_SET);
    if (st != NULL) {
        tandem_sql_bind_int64(st, 1, id);
        tandem_sql_bind_int64(st, 2, article);
        tandem_sql_bind_int64(st, 3, version);
        tandem_sql_bind_int64(st, 4, !added);
    }
    int rc = run(x, st, NULL);
    int delta = (added ? 1 : 0) - (live_before ? 1 : 0);
    if (rc == TANDEM_EVENT_OK && delta != 0) {
        st = stmt(x, COMMENTS_ADD);
        if (st != NULL) {
            tandem_sql_bind_int64(st, 1, article);
            tandem_sql_bind_int64(st, 2, delta);
        }
        rc = run(x, st, NULL);
    }
    if (rc == TANDEM_EVENT_OK && added && !known) {
        rc = recent_add(x, blog_json_int(x->d, "authorId"), article, NULL, 0, id);
    }
    return rc;
}

/* ---- beacons -------------------------------------------------------------------------------- */

/* One read of the article holding slug, or of the slug until an article takes it. *article: the
 * article's id, 0 when none holds the slug. */
static int read_add(struct applying *x, const char *slug, int64_t *article)
{
    *article = 0;
    int rc = slug_lock(x, slug);
    if (rc != TANDEM_EVENT_OK) {
        return rc;
    }
    struct tandem_sql_stmt *st = stmt(x, SLUG_FIND);
    if (st == NULL) {
        return TANDEM_EVENT_RETRY;
    }
    tandem_sql_bind_text(st, 1, slug);
    int step = tandem_sql_step(st);
    *article = step == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) : 0;
    tandem_sql_reset(st);
    if (step != TANDEM_SQL_ROW && step != TANDEM_SQL_DONE) {
        return db_failed(x, "activity: a read model read failed", step < 0 ? step : TANDEM_EIO);
    }
    st = stmt(x, *article > 0 ? READ_ADD : PENDING_ADD);
    if (st != NULL && *article > 0) {
        tandem_sql_bind_int64(st, 1, *article);
    } else if (st != NULL) {
        tandem_sql_bind_text(st, 1, slug);
    }
    bool counted = false;
    rc = run(x, st, &counted);
    if (rc != TANDEM_EVENT_OK || counted) {
        return rc;
    }
    st = stmt(x, PENDING_NEW); /* the slug's first read (dropped when 10,000 slugs wait) */
    if (st != NULL) {
        tandem_sql_bind_text(st, 1, slug);
    }
    return run(x, st, NULL);
}

/* activity.page_viewed, activity.article_read */
static int apply_beacon(struct applying *x)
{
    const json_t *slug = json_object_get(x->d, "slug");
    bool read = strcmp(x->ev->type, "activity.article_read") == 0;
    if (!json_is_string(json_object_get(x->d, "path")) || (read && !json_is_string(slug)) ||
        (slug != NULL && !json_is_null(slug) && !json_is_string(slug))) {
        return malformed(x);
    }
    if (!json_is_string(slug)) {
        return TANDEM_EVENT_OK; /* a page that is no article's */
    }
    int64_t article = 0;
    int rc = read_add(x, json_string_value(slug), &article);
    if (rc == TANDEM_EVENT_OK && read) {
        rc = recent_add(x, blog_json_int(x->d, "userId"), article, json_string_value(slug), 0, 0);
    }
    return rc;
}

/* ---- the handler ---------------------------------------------------------------------------- */

/* What each (topic, type) does besides being counted. */
static const struct {
    const char *topic, *type;
    int (*fn)(struct applying *x);
} APPLY[] = {
    {"users", "user.registered", apply_user},
    {"users", "user.updated", apply_user},
    {"users", "user.followed", apply_user},
    {"users", "user.unfollowed", apply_user},
    {"articles", "article.published", apply_article},
    {"articles", "article.updated", apply_article},
    {"articles", "article.deleted", apply_article_deleted},
    {"articles", "article.favorited", apply_favorite},
    {"articles", "article.unfavorited", apply_favorite},
    {"comments", "comment.added", apply_comment},
    {"comments", "comment.deleted", apply_comment},
    {ACTIVITY_TOPIC, "activity.page_viewed", apply_beacon},
    {ACTIVITY_TOPIC, "activity.article_read", apply_beacon},
};

/* The event's own time (see the top of the file). */
static int64_t event_time(const json_t *d, const struct tandem_event *ev)
{
    static const char *const MEMBERS[] = {"at", "updatedAt", "createdAt"};
    int64_t ms;
    for (size_t i = 0; i < sizeof(MEMBERS) / sizeof(MEMBERS[0]); i++) {
        if (activity_time_parse(blog_json_str(d, MEMBERS[i]), &ms) == 0) {
            return ms;
        }
    }
    return activity_time_parse(ev->time, &ms) == 0 ? ms : blog_now_ms();
}

int activity_apply(struct tandem_sql *db, const struct tandem_event *ev)
{
    json_error_t err;
    json_t *d = ev->data != NULL ? json_loadb(ev->data, ev->data_len, 0, &err) : NULL;
    struct applying x = {.db = db, .ev = ev, .d = json_is_object(d) ? d : NULL};
    x.at = event_time(x.d, ev);
    int rc = TANDEM_EVENT_OK;
    if (strlen(ev->type) <= TYPE_MAX) {
        char day[ACTIVITY_DAY_SIZE];
        activity_day(x.at, day);
        struct tandem_sql_stmt *st = stmt(&x, DAILY_ADD);
        if (st != NULL) {
            tandem_sql_bind_text(st, 1, day);
            tandem_sql_bind_text(st, 2, ev->type);
        }
        rc = run(&x, st, NULL);
    }
    for (size_t i = 0; rc == TANDEM_EVENT_OK && i < sizeof(APPLY) / sizeof(APPLY[0]); i++) {
        if (strcmp(ev->type, APPLY[i].type) == 0 && strcmp(ev->topic, APPLY[i].topic) == 0) {
            rc = x.d != NULL ? APPLY[i].fn(&x) : malformed(&x);
            break;
        }
    }
    json_decref(d);
    return rc;
}

/* tandem_sql_idempotent's function: activity_apply. */
static int apply_event(struct tandem_sql *db, const struct tandem_event *ev, void *arg)
{
    (void)arg;
    return activity_apply(db, ev);
}

/* Opens the consumer thread's connection (the writer made the schema at start). With
 * --consumer-sync normal, commits stop waiting for the disk: SQLite's synchronous=NORMAL (WAL),
 * PostgreSQL's synchronous_commit=off for this session (the same trade: a crash of the machine,
 * or of the server, may lose the last events applied, never half of one; a connection tandem_sql
 * makes again after a loss has the server's default back, the safe side). */
static int consumer_open(struct activity *a)
{
    int rc = blog_store_connect(a->store, &a->db);
    if (rc != 0) {
        a->db = NULL;
        return rc; /* logged */
    }
    if (a->sync_normal) {
        const char *sql = tandem_sql_backend(a->db) == TANDEM_SQL_POSTGRES
                              ? "SET synchronous_commit = off"
                              : "PRAGMA synchronous=NORMAL";
        rc = tandem_sql_exec(a->db, sql);
        if (rc != 0) {
            tandem_log_warn(NULL, "activity: cannot set --consumer-sync normal", "\"error\":\"%s\"",
                            tandem_strerror(rc));
        }
    }
    return 0;
}

/* Drops the processed ids older than a week, once an hour (each its own short transactions:
 * called outside tandem_sql_idempotent's). */
static void prune(struct activity *a)
{
    int64_t now = blog_now_ms(), deleted = 0;
    if (now - a->last_prune_ms < PRUNE_EVERY_MS) {
        return;
    }
    a->last_prune_ms = now;
    int rc = tandem_sql_idempotent_prune(a->db, PROCESSED_KEEP_MS, &deleted);
    if (rc != 0) {
        tandem_log_warn(NULL, "activity: cannot prune processed event ids", "\"error\":\"%s\"",
                        tandem_strerror(rc));
    } else if (deleted > 0) {
        tandem_log_info(NULL, "activity: processed event ids pruned", "\"deleted\":%" PRId64,
                        deleted);
    }
}

int activity_on_event(const struct tandem_event *ev, void *arg)
{
    struct activity *a = arg;
    if (ev->type == NULL || ev->topic == NULL) {
        return TANDEM_EVENT_OK; /* not a CloudEvent: nothing to count or apply */
    }
    if (a->db == NULL && consumer_open(a) != 0) {
        return TANDEM_EVENT_RETRY;
    }
    prune(a);
    return tandem_sql_idempotent(a->db, ACTIVITY_GROUP, ev, apply_event, a);
}

void activity_consumer_close(void *arg)
{
    struct activity *a = arg;
    if (a->db == NULL) {
        return;
    }
    blog_db_close(a->db); /* the consumer thread's statements with it: it has stopped */
    a->db = NULL;
}
