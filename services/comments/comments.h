/*
 * services/comments: the comments of the blog's articles (docs/blog.md, README.md here).
 *
 * comments owns the comments (id, article, author, body, dates) and keeps two read models from
 * other services' events, in its own database: the users read model of services/common (authors'
 * profiles and follows, from the users topic) and the articles it may comment on (id, slug,
 * author, version, deleted; from the articles topic). Reads never call another service, with ONE
 * exception: a request for a slug the read model has not heard of (an article published a
 * millisecond ago, whose event is still on its way) asks articles once, GET
 * {articles-url}/internal/articles/{slug}, from the worker's loop (tandem_http_call in loop mode:
 * the worker serves other requests meanwhile), bounded by a deadline, retried, behind a circuit
 * breaker; the answer is stored in the read model.
 *
 * Writes go through the group-commit writer with their events in the same transaction (the
 * outbox): comment.added and comment.deleted on the topic "comments", keyed by the article's id.
 * When an article is deleted, the consumer deletes its comments and publishes comment.deleted
 * for each, in the transaction that applies the article.deleted event.
 */
#ifndef COMMENTS_H
#define COMMENTS_H

#include "blog.h"
#include "tandem/http_client.h"

#define COMMENTS_TOPIC "comments"
#define COMMENTS_GROUP "comments" /* the consumer group of the users and articles topics */

/* The longest slug looked up (longer ones are no article's: 404 without asking articles). */
#define COMMENTS_SLUG_MAX 255

struct comments {
    struct tandem_service *svc;
    struct blog_store *store;
    struct tandem_http_client *http; /* the calls to articles */
    char articles_url[512];          /* --articles-url, without a trailing '/' */
};

extern struct comments comments;

/* ---- articles.c: the articles read model and the one internal call ------------------------- */

/* An article as comments knows it. */
struct comments_article {
    int64_t id, author_id, version;
    char slug[COMMENTS_SLUG_MAX + 1];
};

/* What the read model says about a slug (comments_article_find). */
enum comments_find {
    COMMENTS_FIND_LIVE,    /* a live article has it: *out */
    COMMENTS_FIND_DELETED, /* only deleted articles had it */
    COMMENTS_FIND_UNKNOWN, /* never heard of */
    COMMENTS_FIND_ERROR,   /* the database failed (logged) */
};

/* Looks slug up in db's read model (any connection of this thread): the live article with that
 * slug and the highest version (slugs of different articles may collide for a moment: their
 * events travel in different partitions). */
enum comments_find comments_article_find(struct tandem_sql *db, const char *slug,
                                         struct comments_article *out);

/* A writer job's step: stores a (from the internal call) unless the row holds a version as new
 * or newer. Returns 0 or TANDEM_EIO. */
int comments_article_store(struct tandem_sql *db, const struct comments_article *a);

/* A writer job's step: whether article id is in db's read model and not deleted: 1 yes, 0 no,
 * TANDEM_EIO. The answer holds until the job's transaction ends: an article.deleted applied
 * meanwhile commits before the read or after the transaction (articles.c). */
int comments_article_live(struct tandem_sql *db, int64_t id);

/* The outcome of asking articles about a slug. */
enum comments_fetch {
    COMMENTS_FETCH_FOUND,       /* 200: *article filled */
    COMMENTS_FETCH_NOT_FOUND,   /* 404 */
    COMMENTS_FETCH_UNAVAILABLE, /* no usable answer in time (down, slow, 5xx, breaker open,
                                   malformed): retry_after says when to try again (seconds) */
};

/* Called on the worker that asked, once; article is borrowed for the call. */
typedef void (*comments_fetch_fn)(enum comments_fetch outcome,
                                  const struct comments_article *article, int retry_after,
                                  void *arg);

/*
 * Asks articles about slug (GET {articles-url}/internal/articles/{slug}) for req, on req's
 * worker loop; cb(arg) runs later on that worker (never inside this call). Returns 0, or an
 * error (the client refused the call: cb never runs).
 */
int comments_article_fetch(struct tandem_http_request *req, const char *slug, comments_fetch_fn cb,
                           void *arg);

/* Sets up comments.http (the client's deadline, retry and breaker settings) and its metrics.
 * Returns 0 or an error (logged). */
int comments_client_setup(void);

/* ---- routes.c: the three routes ------------------------------------------------------------- */

void comments_list(struct tandem_http_request *req, void *arg);
void comments_add(struct tandem_http_request *req, void *arg);
void comments_delete(struct tandem_http_request *req, void *arg);

/* ---- events.c: the consumer of the users and articles topics ------------------------------ */

/* The handler of the group COMMENTS_GROUP (users and articles), on the consumer's thread. */
int comments_on_event(const struct tandem_event *ev, void *arg);

/* The on_stop hook that closes the consumer's connection (after the consumers stopped). */
void comments_events_close(void *arg);

/* The comment.deleted event of comment id of article article_id, added to the outbox inside the
 * caller's transaction. Returns 0 or an error. */
int comments_event_deleted(struct tandem_sql *db, int64_t id, int64_t article_id,
                           const char *traceparent);

#endif
