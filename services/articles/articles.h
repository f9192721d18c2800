/*
 * services/articles: the blog's articles, their tags and favorites (docs/blog.md, README.md
 * beside this file).
 *
 * articles owns the articles (slug, title, description, body, tags, author), who favorited which
 * article, and the tags' index. It keeps a read model of the users topic (services/common's
 * blog_authors and blog_follows, in its own database) so that every answer's author profile,
 * `author.following`, the feed and the author and favorited filters are served locally, never
 * by a call to users. Every state change is written through the group-commit writer together
 * with its event (the outbox) on the topic "articles", keyed by the article's id:
 * article.published, article.updated, article.deleted (the article's version: 1 at
 * publication, +1 per change) and article.favorited, article.unfavorited (the article's
 * favorites version: +1 per favorite change).
 *
 * Reads answer in one SQL statement (article, author, the viewer's favorite and follow, the
 * tags kept as their answer's JSON text in articles.tag_list) rendered straight into JSON text
 * (jsonw below): a read allocates at most its answer's buffer when it outgrows the stack.
 *
 * Files: main.c (routes, options, the users consumer), read.c (the GET routes and the
 * rendering of an article), write.c (create, update, delete), favorites.c, jsonw.c, tags.c
 * (the tags of a request: trimmed, deduplicated, sorted).
 */
#ifndef ARTICLES_H
#define ARTICLES_H

#include "blog.h"

struct articles {
    struct tandem_service *svc;
    struct blog_store *store;
    struct tandem_sql *consumer_db; /* the users consumer's own connection (blog_store_connect):
                                       its thread only, closed at stop */
};

extern struct articles articles;

#define ARTICLES_TOPIC "articles"
#define ARTICLES_GROUP "articles" /* the consumer group reading the users topic */

/* A writer job's outcomes besides 0 (kept) and TANDEM_E* (failed). */
enum { JOB_NOT_FOUND = 1, JOB_FORBIDDEN = 2 };

/* ---- jsonw.c: JSON text written straight into a buffer ------------------------------------ */

#define JSONW_STACK 16384 /* bytes kept inside the struct: a page of 20 articles fits */

/*
 * A growing buffer of JSON text. Starts in its own array (a struct on the stack costs no
 * allocation) and moves to the heap when it outgrows it. A failed allocation sets failed and
 * drops further writes; check it once at the end. Strings given to jsonw_str must be valid UTF-8
 * (everything here came through jansson, or the database from jansson): they are written as
 * they are, with '"', '\\' and the control characters escaped.
 */
struct jsonw {
    char *p;
    size_t len, cap;
    bool failed;
    char stack[JSONW_STACK];
};

void jsonw_init(struct jsonw *w);
void jsonw_free(struct jsonw *w);
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
void jsonw_lit(struct jsonw *w, const char *s); /* strlen(s) raw bytes */
void jsonw_str(struct jsonw *w, const char *s); /* a JSON string of s */
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_bool(struct jsonw *w, bool v);
/* unix_ms as a JSON string of RealWorld's date, exactly as blog_time_format writes it, without
 * its gmtime_r (glibc takes a process-wide lock in it) and snprintf: a page has 40 dates. */
void jsonw_time(struct jsonw *w, int64_t unix_ms);
/* The text as a malloc'd NUL-terminated copy (*len its length), or NULL (failed, out of memory). */
char *jsonw_take(struct jsonw *w, size_t *len);

/* ---- tags.c -------------------------------------------------------------------------------- */

/* The tags of a request, as stored: each trimmed of white space (Unicode's), duplicates dropped,
 * sorted by their bytes (UTF-8: by code point). */
struct tags {
    char **v;
    size_t n;
};

/* Reads the JSON array of strings list (checked by the validator: strings, none blank) into
 * *out. Returns 0 or TANDEM_ENOMEM. */
int tags_of(const json_t *list, struct tags *out);
void tags_free(struct tags *t);
/* The tags as a JSON array's text, as articles.tag_list keeps them (malloc'd; NULL: no memory). */
char *tags_json(const struct tags *t);

/* ---- read.c -------------------------------------------------------------------------------- */

void articles_list(struct tandem_http_request *req, void *arg);
void articles_feed(struct tandem_http_request *req, void *arg);
void articles_get(struct tandem_http_request *req, void *arg);
void articles_tags(struct tandem_http_request *req, void *arg);
void articles_internal(struct tandem_http_request *req, void *arg);

/* Renders {"article":{...}} of article id as viewer sees it (0: anonymous), read from db (a
 * reader, or the writer's connection inside a job). Returns 0, JOB_NOT_FOUND or TANDEM_EIO. */
int articles_render_id(struct tandem_sql *db, int64_t id, int64_t viewer, struct jsonw *w);

/* ---- write.c ------------------------------------------------------------------------------- */

/*
 * One write's way through the writer: the handler fills it on its worker, the job runs on the
 * writer thread, the completion answers on the worker and frees it. Strings are malloc'd.
 */
struct op {
    struct tandem_http_request *req;
    int64_t user;                     /* the token's user */
    char *username;                   /* the token's username */
    char *slug;                       /* of the article the route names (NULL: a creation) */
    char *title, *description, *body; /* given members (NULL: not given) */
    struct tags tags;                 /* given tagList */
    char *tag_list;                   /* ... as its JSON text (tags_json) */
    bool tags_given;                  /* tagList given (not absent, not null) */
    bool favorite;                    /* favorites.c: favorite (true) or unfavorite */
    int status;                       /* the HTTP status of a success */
    char *answer;                     /* the answer's JSON, rendered inside the job */
    size_t answer_len;                /* its length */
    char traceparent[64];             /* the request's, for the event */
};

/* A new op for req from its verified claims; NULL after answering (500; 401 when they do not
 * name a user: a numeric sub and a username). */
struct op *op_new(struct tandem_http_request *req, const struct tandem_claims *c);
/* The same with o->slug the route's {slug}; NULL after answering 404 as well when the slug is
 * not UTF-8 (no article has it). */
struct op *op_of_slug(struct tandem_http_request *req, const struct tandem_claims *c);
void op_free(struct op *o);
/* Queues job with op_done as its completion; answers 503/500 and frees o when refused. */
void op_write(struct op *o, tandem_sql_job_fn job);
/* Inside a job: makes sure o's user is in the read model (from the claims: version 0). */
int op_author_known(struct tandem_sql *db, const struct op *o);
/* Inside a job: renders the answer of article id for o's user into o->answer. */
int op_render(struct tandem_sql *db, struct op *o, int64_t id);
/* Inside a job: the text to read an article with, sql on SQLite, for_update (the same SELECT
 * ending FOR UPDATE) on PostgreSQL: there the instances' writers run at the same time, and the
 * lock keeps another one from changing the row between this read and the job's writes (SQLite's
 * writers take turns). Both must live for the whole run (blog_stmt's key). */
const char *locked_sql(struct tandem_sql *db, const char *sql, const char *for_update);
/* Adds an event of topic "articles" keyed by article id (data stolen). */
int op_event(struct tandem_sql *db, const struct op *o, int64_t id, const char *type, json_t *data);

void articles_create(struct tandem_http_request *req, void *arg);
void articles_update(struct tandem_http_request *req, void *arg);
void articles_delete(struct tandem_http_request *req, void *arg);

/* ---- favorites.c --------------------------------------------------------------------------- */

void articles_favorite(struct tandem_http_request *req, void *arg);
void articles_unfavorite(struct tandem_http_request *req, void *arg);

#endif
