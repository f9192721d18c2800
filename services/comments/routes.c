/*
 * routes.c: the three routes of comments.
 *
 *   GET    /api/articles/{slug}/comments        a token optional: {"comments":[...]} newest first
 *   POST   /api/articles/{slug}/comments        a token required: 200 {"comment":{...}}
 *   DELETE /api/articles/{slug}/comments/{id}   the comment's author only: 204
 *
 * One struct op carries a request through its steps, all on its HTTP worker except the writer
 * job:
 *
 *   1. checks: the token (401), the body (400/415/422) or the id (404: an id that is not a
 *      positive integer names no comment);
 *   2. the article: the live row of the read model with that slug (the worker's reader), or,
 *      when there is none, the one call to articles (articles.c; the worker serves others while
 *      it is out): 404 when articles says so, 503 with Retry-After when it cannot tell (404 when
 *      the read model knows the slug only as deleted);
 *   3. a GET of a known article answers from the reader at once; everything else is a writer
 *      job (group commit): it stores an article the call returned, checks the article is still
 *      live INSIDE the transaction (a comment never lands on an article whose deletion, and so
 *      the deletion of its comments, committed first), then adds or deletes the comment with its
 *      event (the outbox, same transaction);
 *   4. the job's completion, back on the worker, answers (a GET that needed the call lists the
 *      comments from the reader then, seeing the article it just stored).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comments.h"
#include "tandem/validate.h"

/* Characters of a comment at most: its event must stay well below a Kafka record's size cap. */
#define BODY_MAX 20000

enum op_kind { OP_LIST, OP_ADD, OP_DELETE };

/* A writer job's outcomes besides 0 (kept) and TANDEM_E* (failed). */
enum { JOB_ARTICLE_GONE = 1, JOB_NO_COMMENT = 2, JOB_FORBIDDEN = 3 };

struct op {
    struct tandem_http_request *req;
    enum op_kind kind;
    const struct tandem_claims *claims; /* borrowed from req until it is answered; NULL: anon */
    int64_t viewer;                     /* the token's user id, 0 for anonymous */
    int64_t comment_id;                 /* DELETE */
    char *body;                         /* POST */
    struct comments_article art;        /* the article, once known */
    bool fetched;                       /* art came from articles: the job stores it */
    bool known_deleted;                 /* the read model has the slug, deleted only */
    json_t *answer;                     /* POST: {"comment":...} made by the job */
    char traceparent[64];
    char slug[COMMENTS_SLUG_MAX + 1];
};

static const struct tandem_field NEW_COMMENT[] = {
    {.path = "comment.body",
     .type = TANDEM_FIELD_STRING,
     .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK,
     .max = BODY_MAX},
    TANDEM_FIELD_END,
};

static void op_free(struct op *op)
{
    free(op->body);
    json_decref(op->answer);
    free(op);
}

/* A new op for req, or NULL after answering (404 for a slug no article can have, 500). */
static struct op *op_new(struct tandem_http_request *req, enum op_kind kind,
                         const struct tandem_claims *c)
{
    const char *slug = tandem_param(req, "slug");
    if (slug == NULL || slug[0] == '\0' || strlen(slug) > COMMENTS_SLUG_MAX ||
        !blog_utf8_valid(slug)) {
        blog_not_found(req, "article");
        return NULL;
    }
    struct op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        tandem_respond_problem(req, 500, "out of memory");
        return NULL;
    }
    op->req = req;
    op->kind = kind;
    op->claims = c;
    op->viewer = blog_user_id(c);
    snprintf(op->slug, sizeof(op->slug), "%s", slug);
    snprintf(op->traceparent, sizeof(op->traceparent), "%s", tandem_request_traceparent(req));
    return op;
}

/* ---- answers -------------------------------------------------------------------------------- */

static const char LIST[] =
    "SELECT c.id, c.created_at, c.updated_at, c.body, a.username, a.bio, a.image, "
    "COALESCE(f.following, 0) "
    "FROM comments c JOIN blog_authors a ON a.user_id = c.author_id "
    "LEFT JOIN blog_follows f ON f.follower_id = ?2 AND f.followee_id = c.author_id "
    "WHERE c.article_id = ?1 ORDER BY c.id DESC";

/* One comment as RealWorld's Comment. */
static json_t *comment_json(int64_t id, int64_t created, int64_t updated, const char *body,
                            json_t *author)
{
    return json_pack("{s:I,s:o,s:o,s:s,s:o}", "id", (json_int_t)id, "createdAt",
                     blog_time_json(created), "updatedAt", blog_time_json(updated), "body", body,
                     "author", author);
}

/* Answers {"comments":[...]} of op's article from the worker's reader, and frees op. */
static void answer_list(struct op *op)
{
    struct tandem_sql *db = blog_reader(op->req, comments.store);
    struct tandem_sql_stmt *st = db != NULL ? blog_stmt(db, LIST) : NULL;
    if (st == NULL) {
        if (db != NULL) {
            tandem_respond_problem(op->req, 500, "storage failed");
        }
        op_free(op);
        return;
    }
    tandem_sql_bind_int64(st, 1, op->art.id);
    tandem_sql_bind_int64(st, 2, op->viewer);
    json_t *list = json_array();
    int rc;
    for (rc = tandem_sql_step(st); rc == TANDEM_SQL_ROW; rc = tandem_sql_step(st)) {
        json_t *author = json_pack("{s:s,s:s,s:s,s:b}", "username", blog_col_text(st, 4), "bio",
                                   blog_col_text(st, 5), "image", blog_col_text(st, 6), "following",
                                   op->viewer > 0 && tandem_sql_column_int64(st, 7) != 0);
        json_array_append_new(
            list, comment_json(tandem_sql_column_int64(st, 0), tandem_sql_column_int64(st, 1),
                               tandem_sql_column_int64(st, 2), blog_col_text(st, 3), author));
    }
    if (rc != TANDEM_SQL_DONE) { /* (the database's message is logged by tandem_sql) */
        tandem_log_error(op->req, "comments: listing failed", "\"error\":\"%s\"",
                         tandem_strerror(rc));
    }
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_DONE) {
        json_decref(list);
        tandem_respond_problem(op->req, 500, "storage failed");
    } else {
        tandem_respond_json(op->req, 200, json_pack("{s:o}", "comments", list));
    }
    op_free(op);
}

/* ---- the writer job ------------------------------------------------------------------------- */

/* The database numbers the id (AUTOINCREMENT; an identity column on PostgreSQL). */
static const char INSERT[] = "INSERT INTO comments(article_id, author_id, body, created_at, "
                             "updated_at) VALUES(?1, ?2, ?3, ?4, ?4) RETURNING id";
static const char OWNER[] = "SELECT author_id, article_id FROM comments WHERE id = ?1";
static const char DELETE[] = "DELETE FROM comments WHERE id = ?1";

static int add_job(struct tandem_sql *db, struct op *op)
{
    if (blog_profiles_from_claims(db, op->claims) != 0) {
        return TANDEM_EIO;
    }
    struct tandem_sql_stmt *st = blog_stmt(db, INSERT);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    int64_t now = blog_now_ms();
    tandem_sql_bind_int64(st, 1, op->art.id);
    tandem_sql_bind_int64(st, 2, op->viewer);
    tandem_sql_bind_text(st, 3, op->body);
    tandem_sql_bind_int64(st, 4, now);
    int rc = tandem_sql_step(st);
    int64_t id = rc == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) : 0;
    tandem_sql_reset(st);
    if (rc != TANDEM_SQL_ROW || id <= 0) {
        return TANDEM_EIO;
    }
    json_t *author = blog_profile_json(db, op->viewer, op->viewer);
    if (author == NULL) {
        return TANDEM_EIO;
    }
    op->answer = json_pack("{s:o}", "comment", comment_json(id, now, now, op->body, author));
    json_t *data = json_pack("{s:I,s:I,s:I,s:s,s:o,s:i}", "id", (json_int_t)id, "articleId",
                             (json_int_t)op->art.id, "authorId", (json_int_t)op->viewer, "body",
                             op->body, "createdAt", blog_time_json(now), "version", 1);
    if (op->answer == NULL) {
        json_decref(data);
        return TANDEM_ENOMEM;
    }
    return blog_event_add(db, COMMENTS_TOPIC, op->art.id, "comment.added", data, op->traceparent);
}

static int delete_job(struct tandem_sql *db, struct op *op)
{
    struct tandem_sql_stmt *owner = blog_stmt(db, OWNER), *del = blog_stmt(db, DELETE);
    if (owner == NULL || del == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(owner, 1, op->comment_id);
    int rc = tandem_sql_step(owner);
    int64_t author = rc == TANDEM_SQL_ROW ? tandem_sql_column_int64(owner, 0) : 0;
    int64_t article = rc == TANDEM_SQL_ROW ? tandem_sql_column_int64(owner, 1) : 0;
    tandem_sql_reset(owner);
    if (rc != TANDEM_SQL_ROW && rc != TANDEM_SQL_DONE) {
        return TANDEM_EIO;
    }
    if (rc == TANDEM_SQL_DONE || article != op->art.id) {
        return JOB_NO_COMMENT; /* none, or another article's */
    }
    if (author != op->viewer) {
        return JOB_FORBIDDEN;
    }
    tandem_sql_bind_int64(del, 1, op->comment_id);
    rc = tandem_sql_step(del);
    tandem_sql_reset(del);
    if (rc != TANDEM_SQL_DONE) {
        return TANDEM_EIO;
    }
    return comments_event_deleted(db, op->comment_id, op->art.id, op->traceparent);
}

static int op_job(struct tandem_sql *db, void *arg)
{
    struct op *op = arg;
    json_decref(op->answer); /* a job may run again (a batch-mate aborted the batch, a lost
                                PostgreSQL connection): set, not add */
    op->answer = NULL;
    if (op->fetched && comments_article_store(db, &op->art) != 0) {
        return TANDEM_EIO;
    }
    int live = comments_article_live(db, op->art.id);
    if (live <= 0) {
        return live < 0 ? live : JOB_ARTICLE_GONE;
    }
    switch (op->kind) {
    case OP_ADD:
        return add_job(db, op);
    case OP_DELETE:
        return delete_job(db, op);
    case OP_LIST:
        break;
    }
    return 0;
}

static void op_done(int status, void *arg)
{
    struct op *op = arg;
    struct tandem_http_request *req = op->req;
    if (status == 0 && op->kind == OP_LIST) {
        answer_list(op); /* frees op */
        return;
    }
    if (status == 0 && op->kind == OP_ADD) {
        tandem_respond_json(req, 200, op->answer);
        op->answer = NULL;
    } else if (status == 0) {
        tandem_respond(req, 204, NULL, NULL, 0);
    } else if (status == JOB_ARTICLE_GONE) {
        blog_not_found(req, "article");
    } else if (status == JOB_NO_COMMENT) {
        blog_not_found(req, "comment");
    } else if (status == JOB_FORBIDDEN) {
        tandem_respond_problem(req, 403, "only the comment's author may delete it");
    } else {
        blog_store_failed(req, status);
    }
    op_free(op);
}

/* ---- from the article to the answer --------------------------------------------------------- */

/* Step 3: op->art is a live article. */
static void op_proceed(struct op *op)
{
    if (op->kind == OP_LIST && !op->fetched) {
        answer_list(op);
        return;
    }
    int rc = blog_write(comments.store, op_job, op_done, op);
    if (rc != 0) {
        blog_store_failed(op->req, rc);
        op_free(op);
    }
}

/* The article cannot be looked up now: 404 when the read model knows the slug as deleted (the
 * best knowledge there is), else 503 with Retry-After. Frees op. */
static void answer_unavailable(struct op *op, int retry_after)
{
    if (op->known_deleted) {
        blog_not_found(op->req, "article");
    } else {
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", retry_after);
        tandem_respond_header(op->req, "Retry-After", secs);
        tandem_respond_problem(op->req, 503, "the article cannot be looked up now; try again");
    }
    op_free(op);
}

static void op_fetched(enum comments_fetch outcome, const struct comments_article *a,
                       int retry_after, void *arg)
{
    struct op *op = arg;
    if (outcome == COMMENTS_FETCH_FOUND) {
        op->art = *a;
        op->fetched = true;
        op_proceed(op);
    } else if (outcome == COMMENTS_FETCH_NOT_FOUND) {
        blog_not_found(op->req, "article");
        op_free(op);
    } else {
        answer_unavailable(op, retry_after);
    }
}

/* Step 2: finds op's article, then proceeds (now or from the call's completion). */
static void op_resolve(struct op *op)
{
    struct tandem_sql *db = blog_reader(op->req, comments.store);
    if (db == NULL) {
        op_free(op); /* answered 503 */
        return;
    }
    switch (comments_article_find(db, op->slug, &op->art)) {
    case COMMENTS_FIND_LIVE:
        op_proceed(op);
        return;
    case COMMENTS_FIND_ERROR:
        tandem_respond_problem(op->req, 500, "storage failed");
        op_free(op);
        return;
    case COMMENTS_FIND_DELETED:
        op->known_deleted = true;
        break;
    case COMMENTS_FIND_UNKNOWN:
        break;
    }
    int rc = comments_article_fetch(op->req, op->slug, op_fetched, op);
    if (rc != 0) {
        tandem_log_warn(op->req, "comments: cannot call articles", "\"error\":\"%s\"",
                        tandem_strerror(rc));
        answer_unavailable(op, 1);
    }
}

/* ---- the routes ----------------------------------------------------------------------------- */

void comments_list(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = NULL;
    if (tandem_optional_auth(req, &c) != 0) {
        return; /* a token was sent but is not valid: 401 */
    }
    struct op *op = op_new(req, OP_LIST, c);
    if (op != NULL) {
        op_resolve(op);
    }
}

void comments_add(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    if (blog_user_id(c) == 0 || c->username == NULL) {
        /* users signs neither; the author must be known from the claims if not yet otherwise */
        tandem_respond_header(req, "WWW-Authenticate", "Token");
        tandem_respond_problem(req, 401, "the token does not name a user (sub, username)");
        return;
    }
    json_t *in = tandem_json_body_valid(req, NEW_COMMENT);
    if (in == NULL) {
        return; /* answered 415, 400 or 422 */
    }
    struct op *op = op_new(req, OP_ADD, c);
    if (op != NULL) {
        op->body = strdup(blog_json_str(json_object_get(in, "comment"), "body"));
        if (op->body == NULL) {
            tandem_respond_problem(req, 500, "out of memory");
            op_free(op);
            op = NULL;
        }
    }
    json_decref(in);
    if (op != NULL) {
        op_resolve(op);
    }
}

void comments_delete(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const struct tandem_claims *c = tandem_require_auth(req);
    if (c == NULL) {
        return;
    }
    int64_t id = 0;
    if (blog_parse_id(tandem_param(req, "id"), &id) != 0) {
        blog_not_found(req, "comment"); /* not a positive integer: names no comment */
        return;
    }
    struct op *op = op_new(req, OP_DELETE, c);
    if (op != NULL) {
        op->comment_id = id;
        op_resolve(op);
    }
}
