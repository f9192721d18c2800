/*
 * write.c: creating, updating and deleting articles, and what every write shares (struct op).
 *
 * A write is validated on its HTTP worker, then runs as one job of the group-commit writer
 * (blog_write): inside the job's transaction it makes sure its user is in the read model
 * (from the token's claims, when their user.registered has not arrived: a version-0 row the
 * event overwrites), changes the tables, adds its event to the outbox and renders its answer
 * from the writer's connection, so the answer is exactly the state the event announces. The
 * completion answers on the worker.
 *
 * Slugs. blog_slugify(title); when another article has it, the slug gets "-" and six random
 * base-36 characters, tried again until the database accepts one (it is the judge, across the
 * instances sharing the database, whatever the timing): on SQLite the UNIQUE constraint of
 * article_slugs refuses a slug taken (the statement fails, alone), on PostgreSQL the trigger that
 * claims it skips the row (no id comes back: a failed statement would fail the job's whole
 * SAVEPOINT there). schema.sql has both. A new title gives a new slug, except when it slugifies
 * as the old one did ("Hello" to "hello!"): the article keeps its slug then, suffix included.
 * The old slug is gone at once (404).
 *
 * Several instances on one PostgreSQL database write at the same time (SQLite's writers take
 * turns, BEGIN IMMEDIATE): there an update, a deletion or a favorite reads its article with
 * FOR UPDATE, so that the version it computes is the latest, not one another instance is
 * replacing (locked_sql).
 *
 * Versions. An article is version 1 when published and +1 per update that changes something
 * (an update that changes nothing answers the article, writes nothing and publishes nothing);
 * its deletion's event carries the next one. Favorites have their own version (favorites.c).
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "articles.h"
#include "tandem/validate.h"

#define TITLE_MAX       300  /* characters */
#define DESCRIPTION_MAX 1000 /* characters; the body is bounded by the request's 1 MiB only */
#define TAGS_MAX        50   /* tags per article */
#define TAG_MAX         100  /* characters per tag */
#define SLUG_TRIES      8    /* random suffixes tried before giving up (36^6 each) */

static const struct tandem_field CREATE[] = {
    {.path = "article", .type = TANDEM_FIELD_OBJECT, .flags = TANDEM_FIELD_REQUIRED},
    {.path = "article.title",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = TITLE_MAX},
    {.path = "article.description",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = DESCRIPTION_MAX},
    {.path = "article.body",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK},
    {.path = "article.tagList",
     .type = TANDEM_FIELD_STRINGS,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = TAGS_MAX,
     .item_max = TAG_MAX},
    TANDEM_FIELD_END,
};

static const struct tandem_field UPDATE[] = {
    {.path = "article", .type = TANDEM_FIELD_OBJECT, .flags = TANDEM_FIELD_REQUIRED},
    {.path = "article.title",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = TITLE_MAX},
    {.path = "article.description",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = DESCRIPTION_MAX},
    {.path = "article.body", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_NOT_BLANK},
    {.path = "article.tagList",
     .type = TANDEM_FIELD_STRINGS,
     .flags = TANDEM_FIELD_NOT_BLANK,
     .max = TAGS_MAX,
     .item_max = TAG_MAX},
    TANDEM_FIELD_END,
};

/* ---- struct op ----------------------------------------------------------------------------- */

struct op *op_new(struct tandem_http_request *req, const struct tandem_claims *c)
{
    if (blog_user_id(c) == 0 || c->username == NULL) {
        /* signed with the key, but not as users signs (a numeric sub and a username): no write
         * in its name, whose author could not be made from it */
        tandem_respond_header(req, "WWW-Authenticate", "Token");
        tandem_respond_problem(req, 401, "the token does not name a user (sub, username)");
        return NULL;
    }
    struct op *o = calloc(1, sizeof(*o));
    char *username = o != NULL ? strdup(c->username) : NULL;
    if (username == NULL) {
        free(o);
        tandem_respond_problem(req, 500, "out of memory");
        return NULL;
    }
    o->req = req;
    o->username = username;
    o->user = blog_user_id(c);
    o->status = 200;
    const char *tp = tandem_request_traceparent(req);
    snprintf(o->traceparent, sizeof(o->traceparent), "%s", tp != NULL ? tp : "");
    return o;
}

struct op *op_of_slug(struct tandem_http_request *req, const struct tandem_claims *c)
{
    struct op *o = op_new(req, c);
    if (o != NULL && !blog_utf8_valid(tandem_param(req, "slug"))) {
        blog_not_found(req, "article");
        op_free(o);
        return NULL;
    }
    if (o != NULL) {
        o->slug = strdup(tandem_param(req, "slug"));
    }
    if (o != NULL && o->slug == NULL) {
        tandem_respond_problem(req, 500, "out of memory");
        op_free(o);
        return NULL;
    }
    return o;
}

void op_free(struct op *o)
{
    free(o->username);
    free(o->slug);
    free(o->title);
    free(o->description);
    free(o->body);
    tags_free(&o->tags);
    free(o->tag_list);
    free(o->answer);
    free(o);
}

static void op_done(int status, void *arg)
{
    struct op *o = arg;
    if (status == 0 && o->answer != NULL) {
        tandem_respond(o->req, o->status, "application/json", o->answer, o->answer_len);
    } else if (status == 0) {
        tandem_respond(o->req, o->status, NULL, NULL, 0);
    } else if (status == JOB_NOT_FOUND) {
        blog_not_found(o->req, "article");
    } else if (status == JOB_FORBIDDEN) {
        tandem_respond_problem(o->req, 403, "only the article's author may change it");
    } else {
        blog_store_failed(o->req, status);
    }
    op_free(o);
}

void op_write(struct op *o, tandem_sql_job_fn job)
{
    int rc = blog_write(articles.store, job, op_done, o);
    if (rc != 0) {
        blog_store_failed(o->req, rc);
        op_free(o);
    }
}

int op_author_known(struct tandem_sql *db, const struct op *o)
{
    char sub[24];
    snprintf(sub, sizeof(sub), "%" PRId64, o->user);
    struct tandem_claims c = {.sub = sub, .username = o->username};
    return blog_profiles_from_claims(db, &c);
}

int op_render(struct tandem_sql *db, struct op *o, int64_t id)
{
    free(o->answer); /* a job may run twice (after a batch-mate aborted the transaction, or a
                        lost PostgreSQL connection) */
    o->answer = NULL;
    struct jsonw w;
    jsonw_init(&w);
    int rc = articles_render_id(db, id, o->user, &w);
    if (rc != 0) {
        jsonw_free(&w);
        return rc == JOB_NOT_FOUND ? TANDEM_EIO : rc;
    }
    o->answer = jsonw_take(&w, &o->answer_len);
    return o->answer != NULL ? 0 : TANDEM_ENOMEM;
}

int op_event(struct tandem_sql *db, const struct op *o, int64_t id, const char *type, json_t *data)
{
    return blog_event_add(db, ARTICLES_TOPIC, id, type, data,
                          o->traceparent[0] != '\0' ? o->traceparent : NULL);
}

/* The data of article.published / article.updated: the article's state without its body. */
static json_t *state_json(int64_t id, const char *slug, const char *title, const char *description,
                          const char *tag_list, int64_t author, int64_t created, int64_t updated,
                          int64_t version)
{
    json_t *tags = json_loads(tag_list, 0, NULL);
    return json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:o,s:o,s:I}", "id", (json_int_t)id, "slug", slug,
                     "title", title, "description", description, "tagList",
                     tags != NULL ? tags : json_array(), "authorId", (json_int_t)author,
                     "createdAt", blog_time_json(created), "updatedAt", blog_time_json(updated),
                     "version", (json_int_t)version);
}

/* ---- slugs and tags ------------------------------------------------------------------------ */

#define SLUG_SIZE (BLOG_SLUG_MAX + 8) /* a slug, '-', six characters, NUL */

/*
 * Steps st (an INSERT or UPDATE ... RETURNING id whose parameter param is the slug; the others
 * bound) with the slug of title, then with random suffixes while the slug is taken; keep (not
 * NULL) is a slug to use as it is instead. Taken is a UNIQUE refusal on SQLite (the statement
 * alone failed), no row back on PostgreSQL (schema.sql's trigger skipped it). The slug used is
 * left in slug, the row's id in *id. Returns 0 or TANDEM_EIO.
 */
static int step_with_slug(struct tandem_sql *db, struct tandem_sql_stmt *st, int param,
                          const char *title, const char *keep, char slug[SLUG_SIZE], int64_t *id)
{
    static const char B36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t base = keep != NULL ? (size_t)snprintf(slug, SLUG_SIZE, "%s", keep)
                               : blog_slugify(title, slug, BLOG_SLUG_MAX + 1);
    bool pg = tandem_sql_backend(db) == TANDEM_SQL_POSTGRES;
    for (int attempt = 0; attempt <= SLUG_TRIES; attempt++) {
        if (attempt > 0) {
            slug[base] = '-';
            for (size_t i = 1; i <= 6; i++) {
                slug[base + i] = B36[randombytes_uniform(36)];
            }
            slug[base + 7] = '\0';
        }
        tandem_sql_bind_text(st, param, slug);
        int rc = tandem_sql_step(st);
        if (rc == TANDEM_SQL_ROW) {
            *id = tandem_sql_column_int64(st, 0);
        }
        tandem_sql_reset(st);
        if (rc == TANDEM_SQL_ROW) {
            return 0;
        }
        bool taken = pg ? rc == TANDEM_SQL_DONE : rc == TANDEM_EEXIST;
        if (keep != NULL || !taken) {
            break;
        }
    }
    tandem_log_error(NULL, "articles: cannot store an article", "\"slug\":\"%s\"", slug);
    return TANDEM_EIO;
}

static const char INSERT_TAG[] = "INSERT INTO article_tags(article_id, tag) VALUES(?1, ?2)";
static const char DELETE_TAGS[] = "DELETE FROM article_tags WHERE article_id = ?1";

/* Writes t as article id's rows of article_tags (after its old ones, if any, were deleted). */
static int tags_store(struct tandem_sql *db, int64_t id, const struct tags *t)
{
    struct tandem_sql_stmt *st = blog_stmt(db, INSERT_TAG);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    for (size_t i = 0; i < t->n; i++) {
        tandem_sql_bind_int64(st, 1, id);
        tandem_sql_bind_text(st, 2, t->v[i]);
        int rc = tandem_sql_step(st);
        tandem_sql_reset(st);
        if (rc != TANDEM_SQL_DONE) {
            return TANDEM_EIO;
        }
    }
    return 0;
}

/* Fills o's tags from the request's tagList (when given and not null). 0 or TANDEM_ENOMEM. */
static int op_tags(struct op *o, const json_t *article)
{
    const json_t *list = json_object_get(article, "tagList");
    if (list == NULL || json_is_null(list)) {
        return 0;
    }
    o->tags_given = true;
    if (tags_of(list, &o->tags) != 0) {
        return TANDEM_ENOMEM;
    }
    o->tag_list = tags_json(&o->tags);
    return o->tag_list != NULL ? 0 : TANDEM_ENOMEM;
}

/* A given string member of article, copied (NULL when absent or null). *oom on a failed copy. */
static char *member(const json_t *article, const char *name, bool *oom)
{
    const char *s = blog_json_str(article, name);
    char *c = s != NULL ? strdup(s) : NULL;
    *oom = *oom || (s != NULL && c == NULL);
    return c;
}

/* Fills o from the validated body in; false after answering 500. */
static bool op_fill(struct op *o, const json_t *in)
{
    const json_t *article = json_object_get(in, "article");
    bool oom = false;
    o->title = member(article, "title", &oom);
    o->description = member(article, "description", &oom);
    o->body = member(article, "body", &oom);
    if (oom || op_tags(o, article) != 0) {
        tandem_respond_problem(o->req, 500, "out of memory");
        op_free(o);
        return false;
    }
    return true;
}

/* The validated body of a request that needs a user (*c their claims); NULL after answering
 * (401, 415, 400, 422). */
static json_t *body_of(struct tandem_http_request *req, const struct tandem_field *spec,
                       const struct tandem_claims **c)
{
    *c = tandem_require_auth(req);
    return *c != NULL ? tandem_json_body_valid(req, spec) : NULL;
}

/* ---- POST /api/articles -------------------------------------------------------------------- */

static const char INSERT[] =
    "INSERT INTO articles(slug, title, description, body, tag_list, author_id, created_at, "
    "updated_at, favorites_count, favorites_version, version) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0, 0, 1) RETURNING id";

static int create_job(struct tandem_sql *db, void *arg)
{
    struct op *o = arg;
    int rc = op_author_known(db, o);
    struct tandem_sql_stmt *st = rc == 0 ? blog_stmt(db, INSERT) : NULL;
    if (st == NULL) {
        return rc != 0 ? rc : TANDEM_EIO;
    }
    const char *tag_list = o->tag_list != NULL ? o->tag_list : "[]";
    int64_t now = blog_now_ms(), id = 0;
    tandem_sql_bind_text(st, 2, o->title);
    tandem_sql_bind_text(st, 3, o->description);
    tandem_sql_bind_text(st, 4, o->body);
    tandem_sql_bind_text(st, 5, tag_list);
    tandem_sql_bind_int64(st, 6, o->user);
    tandem_sql_bind_int64(st, 7, now);
    char slug[SLUG_SIZE];
    rc = step_with_slug(db, st, 1, o->title, NULL, slug, &id);
    if (rc != 0) {
        return rc;
    }
    rc = tags_store(db, id, &o->tags);
    if (rc == 0) {
        rc = op_event(
            db, o, id, "article.published",
            state_json(id, slug, o->title, o->description, tag_list, o->user, now, now, 1));
    }
    return rc != 0 ? rc : op_render(db, o, id);
}

void articles_create(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c;
    json_t *in = body_of(req, CREATE, &c);
    if (in == NULL) {
        return;
    }
    struct op *o = op_new(req, c);
    bool ok = o != NULL && op_fill(o, in);
    json_decref(in);
    if (ok) {
        o->status = 201;
        op_write(o, create_job);
    }
}

/* ---- PUT /api/articles/{slug} -------------------------------------------------------------- */

static const char CURRENT[] =
    "SELECT id, author_id, slug, title, description, body, tag_list, created_at, version "
    "FROM articles WHERE slug = ?1";
static const char CURRENT_LOCKED[] =
    "SELECT id, author_id, slug, title, description, body, tag_list, created_at, version "
    "FROM articles WHERE slug = ?1 FOR UPDATE";
static const char UPDATE_ARTICLE[] =
    "UPDATE articles SET slug = ?2, title = ?3, description = ?4, body = COALESCE(?5, body), "
    "tag_list = ?6, updated_at = ?7, version = ?8 WHERE id = ?1 RETURNING id";

const char *locked_sql(struct tandem_sql *db, const char *sql, const char *for_update)
{
    return tandem_sql_backend(db) == TANDEM_SQL_POSTGRES ? for_update : sql;
}

/* The article an update or deletion names, as it is now (copied out of the row). */
struct current {
    int64_t id, author, created, version;
    char *slug, *title, *description, *tag_list;
    bool body_differs; /* the given body differs from the stored one */
};

static void current_free(struct current *c)
{
    free(c->slug);
    free(c->title);
    free(c->description);
    free(c->tag_list);
}

/* Inside a job: makes sure o's user is known (op_author_known), then reads o->slug's article
 * into *cur (locked on PostgreSQL). Returns 0, JOB_NOT_FOUND, JOB_FORBIDDEN (another user's) or
 * TANDEM_E*. */
static int current_of(struct tandem_sql *db, const struct op *o, struct current *cur)
{
    int known = op_author_known(db, o);
    struct tandem_sql_stmt *st =
        known == 0 ? blog_stmt(db, locked_sql(db, CURRENT, CURRENT_LOCKED)) : NULL;
    if (st == NULL) {
        return known != 0 ? known : TANDEM_EIO;
    }
    tandem_sql_bind_text(st, 1, o->slug);
    int rc = tandem_sql_step(st);
    if (rc != TANDEM_SQL_ROW) {
        tandem_sql_reset(st);
        return rc == TANDEM_SQL_DONE ? JOB_NOT_FOUND : TANDEM_EIO;
    }
    *cur = (struct current){
        .id = tandem_sql_column_int64(st, 0),
        .author = tandem_sql_column_int64(st, 1),
        .slug = strdup(blog_col_text(st, 2)),
        .title = strdup(blog_col_text(st, 3)),
        .description = strdup(blog_col_text(st, 4)),
        .body_differs = o->body != NULL && strcmp(o->body, blog_col_text(st, 5)) != 0,
        .tag_list = strdup(blog_col_text(st, 6)),
        .created = tandem_sql_column_int64(st, 7),
        .version = tandem_sql_column_int64(st, 8),
    };
    tandem_sql_reset(st);
    if (cur->slug == NULL || cur->title == NULL || cur->description == NULL ||
        cur->tag_list == NULL) {
        current_free(cur);
        return TANDEM_ENOMEM;
    }
    if (cur->author != o->user) {
        current_free(cur);
        return JOB_FORBIDDEN;
    }
    return 0;
}

static bool differs(const char *given, const char *now)
{
    return given != NULL && strcmp(given, now) != 0;
}

static int update_job(struct tandem_sql *db, void *arg)
{
    struct op *o = arg;
    struct current cur;
    int rc = current_of(db, o, &cur);
    if (rc != 0) {
        return rc;
    }
    const char *title = o->title != NULL ? o->title : cur.title;
    const char *description = o->description != NULL ? o->description : cur.description;
    const char *tag_list = o->tags_given ? o->tag_list : cur.tag_list;
    bool retitled = differs(o->title, cur.title);
    bool retagged = o->tags_given && strcmp(o->tag_list, cur.tag_list) != 0;
    if (!retitled && !retagged && !differs(o->description, cur.description) && !cur.body_differs) {
        rc = op_render(db, o, cur.id); /* nothing changes: nothing is written or published */
        current_free(&cur);
        return rc;
    }
    /* a new title keeps the slug when it slugifies as the old one did */
    char old_base[BLOG_SLUG_MAX + 1], new_base[BLOG_SLUG_MAX + 1];
    blog_slugify(cur.title, old_base, sizeof(old_base));
    blog_slugify(title, new_base, sizeof(new_base));
    const char *keep = !retitled || strcmp(old_base, new_base) == 0 ? cur.slug : NULL;
    int64_t now = blog_now_ms(), version = cur.version + 1;
    struct tandem_sql_stmt *st = blog_stmt(db, UPDATE_ARTICLE);
    struct tandem_sql_stmt *del = retagged ? blog_stmt(db, DELETE_TAGS) : NULL;
    char slug[SLUG_SIZE];
    int64_t id = 0;
    rc = st != NULL && (del != NULL || !retagged) ? 0 : TANDEM_EIO;
    if (rc == 0) {
        tandem_sql_bind_int64(st, 1, cur.id);
        tandem_sql_bind_text(st, 3, title);
        tandem_sql_bind_text(st, 4, description);
        if (cur.body_differs) {
            tandem_sql_bind_text(st, 5, o->body);
        } else {
            tandem_sql_bind_null(st, 5); /* the body as it is */
        }
        tandem_sql_bind_text(st, 6, tag_list);
        tandem_sql_bind_int64(st, 7, now);
        tandem_sql_bind_int64(st, 8, version);
        rc = step_with_slug(db, st, 2, title, keep, slug, &id);
    }
    if (rc == 0 && retagged) {
        tandem_sql_bind_int64(del, 1, cur.id);
        rc = tandem_sql_step(del) == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
        tandem_sql_reset(del);
        rc = rc != 0 ? rc : tags_store(db, cur.id, &o->tags);
    }
    if (rc == 0) {
        rc = op_event(db, o, cur.id, "article.updated",
                      state_json(cur.id, slug, title, description, tag_list, cur.author,
                                 cur.created, now, version));
    }
    if (rc == 0) {
        rc = op_render(db, o, cur.id);
    }
    current_free(&cur);
    return rc;
}

void articles_update(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c;
    json_t *in = body_of(req, UPDATE, &c);
    if (in == NULL) {
        return;
    }
    const json_t *article = json_object_get(in, "article");
    bool any = false;
    static const char *const FIELDS[] = {"title", "description", "body", "tagList"};
    for (size_t i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++) {
        const json_t *v = json_object_get(article, FIELDS[i]);
        any = any || (v != NULL && !json_is_null(v));
    }
    if (!any) {
        json_decref(in);
        tandem_respond_invalid(req, json_pack("{s:[s]}", "article",
                                              "must change at least one of title, description, "
                                              "body, tagList"));
        return;
    }
    struct op *o = op_of_slug(req, c);
    bool ok = o != NULL && op_fill(o, in);
    json_decref(in);
    if (ok) {
        op_write(o, update_job);
    }
}

/* ---- DELETE /api/articles/{slug} ----------------------------------------------------------- */

static const char DELETE_FAVORITES[] = "DELETE FROM favorites WHERE article_id = ?1";
static const char DELETE_ARTICLE[] = "DELETE FROM articles WHERE id = ?1";

static int delete_job(struct tandem_sql *db, void *arg)
{
    struct op *o = arg;
    struct current cur;
    int rc = current_of(db, o, &cur);
    if (rc != 0) {
        return rc;
    }
    static const char *const DELETES[] = {DELETE_TAGS, DELETE_FAVORITES, DELETE_ARTICLE};
    for (size_t i = 0; rc == 0 && i < sizeof(DELETES) / sizeof(DELETES[0]); i++) {
        struct tandem_sql_stmt *st = blog_stmt(db, DELETES[i]);
        if (st == NULL) {
            rc = TANDEM_EIO;
            break;
        }
        tandem_sql_bind_int64(st, 1, cur.id);
        rc = tandem_sql_step(st) == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
        tandem_sql_reset(st);
    }
    if (rc == 0) {
        json_t *data =
            json_pack("{s:I,s:s,s:I,s:I,s:o}", "id", (json_int_t)cur.id, "slug", cur.slug,
                      "authorId", (json_int_t)cur.author, "version", (json_int_t)(cur.version + 1),
                      "at", blog_time_json(blog_now_ms()));
        rc = op_event(db, o, cur.id, "article.deleted", data);
    }
    current_free(&cur);
    return rc;
}

void articles_delete(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    struct op *o = op_of_slug(req, c);
    if (o != NULL) {
        o->status = 204;
        op_write(o, delete_job);
    }
}
