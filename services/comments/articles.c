/*
 * articles.c: what comments knows of the articles, and the one synchronous call it makes.
 *
 * The read model. Every article.published / article.updated event upserts (id, slug, author,
 * version) when its version is above the row's (events.c); article.deleted turns the row into a
 * tombstone. A request names an article by slug: the live row with that slug answers it (the
 * highest version when two articles hold the same slug for a moment: their events are in
 * different partitions, so one may take a slug before the other's rename is seen here).
 *
 * The internal call. A slug no live row has may belong to an article published a moment ago
 * whose event has not arrived. Then comments asks articles, once per request:
 *
 *   GET {articles-url}/internal/articles/{slug}
 *     200 {"id":3,"slug":"how-to","authorId":7,"version":1,"deleted":false}
 *     404 (no such article)
 *
 * with libtandem's HTTP client in loop mode (the worker serves other connections while the call
 * is out, and the answer comes back on it), each attempt bounded by ATTEMPT_MS, the whole call by
 * DEADLINE_MS, retried (the call is a GET) on connection errors, timeouts and 502/503/504, behind
 * the client's circuit breaker for the articles upstream (BREAKER_FAILURES failed attempts in a
 * row open it for BREAKER_COOLDOWN_MS: calls fail at once, without waiting for a dead upstream).
 * A 200 is stored in the read model by the request's writer job (comments_article_store: never
 * moving a newer row back), so the next request for that slug does not call again. No answer in
 * time (down, slow, 5xx, breaker open, a malformed 200) is COMMENTS_FETCH_UNAVAILABLE: the route
 * answers 503 with Retry-After, never hangs and never answers 500.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comments.h"

#define ATTEMPT_MS          400  /* one attempt, connect included */
#define CONNECT_MS          250  /* the TCP connect, within an attempt */
#define DEADLINE_MS         1000 /* the whole call, retries and their waits included */
#define RETRIES             2    /* attempts after the first */
#define BACKOFF_BASE_MS     50
#define BACKOFF_MAX_MS      200
#define BREAKER_FAILURES    5    /* failed attempts in a row that open the breaker */
#define BREAKER_COOLDOWN_MS 3000 /* how long it stays open (Retry-After while it is) */

/* (id breaks a tie of two rows: the same answer on both engines) */
static const char FIND[] = "SELECT id, author_id, version, deleted FROM articles WHERE slug = ?1 "
                           "ORDER BY deleted ASC, version DESC, id DESC LIMIT 1";

/* deleted is never written here: a tombstone stays one (only article.deleted makes it). */
static const char STORE[] =
    "INSERT INTO articles(id, slug, author_id, version, deleted) VALUES(?1, ?2, ?3, ?4, 0) "
    "ON CONFLICT(id) DO UPDATE SET slug = excluded.slug, author_id = excluded.author_id, "
    "version = excluded.version WHERE excluded.version > articles.version";

/*
 * The writer job's check that an article is live, which must exclude a comment landing on an
 * article whose deletion (and so the deletion of its comments, events.c) commits beside it. On
 * SQLite the writer's transaction holds the database's write lock, so the consumer's deletion
 * commits wholly before or wholly after it. On PostgreSQL both run at once in READ COMMITTED,
 * and a plain read would let each miss the other's uncommitted row (the job sees the article
 * live, the consumer sees no new comment: a comment left on a deleted article). So there the
 * check takes a share lock on the article's row, the one place where the two texts differ: the
 * consumer's tombstone (an update of that row) waits for the job's commit and then sees its
 * comment, or the job waits for the tombstone's commit and then reads deleted = 1. Share locks do
 * not exclude each other: the writers of several instances still run side by side.
 */
static const char LIVE[] = "SELECT deleted FROM articles WHERE id = ?1";
static const char LIVE_PG[] = "SELECT deleted FROM articles WHERE id = ?1 FOR SHARE";

enum comments_find comments_article_find(struct tandem_sql *db, const char *slug,
                                         struct comments_article *out)
{
    struct tandem_sql_stmt *st = blog_stmt(db, FIND);
    if (st == NULL) {
        return COMMENTS_FIND_ERROR;
    }
    tandem_sql_bind_text(st, 1, slug);
    enum comments_find found = COMMENTS_FIND_UNKNOWN;
    int rc = tandem_sql_step(st);
    if (rc == TANDEM_SQL_ROW) {
        out->id = tandem_sql_column_int64(st, 0);
        out->author_id = tandem_sql_column_int64(st, 1);
        out->version = tandem_sql_column_int64(st, 2);
        snprintf(out->slug, sizeof(out->slug), "%s", slug);
        found = tandem_sql_column_int64(st, 3) != 0 ? COMMENTS_FIND_DELETED : COMMENTS_FIND_LIVE;
    } else if (rc != TANDEM_SQL_DONE) {
        /* (the database's message is logged by tandem_sql) */
        tandem_log_error(NULL, "comments: reading an article failed", "\"error\":\"%s\"",
                         tandem_strerror(rc));
        found = COMMENTS_FIND_ERROR;
    }
    tandem_sql_reset(st);
    return found;
}

int comments_article_store(struct tandem_sql *db, const struct comments_article *a)
{
    struct tandem_sql_stmt *st = blog_stmt(db, STORE);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(st, 1, a->id);
    tandem_sql_bind_text(st, 2, a->slug);
    tandem_sql_bind_int64(st, 3, a->author_id);
    tandem_sql_bind_int64(st, 4, a->version);
    int rc = tandem_sql_step(st);
    tandem_sql_reset(st);
    return rc == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
}

int comments_article_live(struct tandem_sql *db, int64_t id)
{
    struct tandem_sql_stmt *st =
        blog_stmt(db, tandem_sql_backend(db) == TANDEM_SQL_POSTGRES ? LIVE_PG : LIVE);
    if (st == NULL) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(st, 1, id);
    int rc = tandem_sql_step(st);
    int live = rc == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) == 0 : 0;
    tandem_sql_reset(st);
    return rc == TANDEM_SQL_ROW || rc == TANDEM_SQL_DONE ? live : TANDEM_EIO;
}

/* ---- the internal call ---------------------------------------------------------------------- */

struct fetch {
    comments_fetch_fn cb;
    void *arg;
};

/* Appends s percent-encoded as one path segment (everything but RFC 3986's unreserved
 * characters) to out[*n..cap). Returns 0, or -1 when it does not fit. */
static int path_segment(const char *s, char *out, size_t cap, size_t *n)
{
    static const char HEX[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (*n + 4 > cap) {
            return -1;
        }
        if (plain) {
            out[(*n)++] = (char)*p;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = HEX[*p >> 4];
            out[(*n)++] = HEX[*p & 15];
        }
    }
    out[*n] = '\0';
    return 0;
}

/* Reads a 200's body into *a: 0, or -1 when it is not the contract's shape (logged). A body
 * saying "deleted": true is reported through *deleted. */
static int parse_article(const char *body, size_t len, struct comments_article *a, bool *deleted)
{
    json_error_t err;
    json_t *o = json_loadb(body, len, 0, &err);
    const char *slug = blog_json_str(o, "slug");
    a->id = blog_json_int(o, "id");
    a->author_id = blog_json_int(o, "authorId");
    a->version = blog_json_int(o, "version");
    *deleted = json_is_true(json_object_get(o, "deleted"));
    bool ok = json_is_object(o) && a->id > 0 && a->author_id > 0 && a->version > 0 &&
              slug != NULL && slug[0] != '\0' && strlen(slug) <= COMMENTS_SLUG_MAX;
    if (ok) {
        snprintf(a->slug, sizeof(a->slug), "%s", slug);
    }
    json_decref(o);
    return ok ? 0 : -1;
}

static void fetched(const struct tandem_http_response *r, void *arg)
{
    struct fetch *f = arg;
    struct comments_article a = {0};
    bool deleted = false;
    enum comments_fetch outcome = COMMENTS_FETCH_UNAVAILABLE;
    int retry_after = r->err == TANDEM_EUNSUPPORTED ? (BREAKER_COOLDOWN_MS + 999) / 1000 : 1;
    if (r->err == 0 && r->status == 404) {
        outcome = COMMENTS_FETCH_NOT_FOUND;
    } else if (r->err == 0 && r->status == 200) {
        if (parse_article(r->body, r->body_len, &a, &deleted) == 0) {
            outcome = deleted ? COMMENTS_FETCH_NOT_FOUND : COMMENTS_FETCH_FOUND;
        } else {
            tandem_log_warn(NULL, "comments: articles answered a malformed article",
                            "\"url\":\"%s\"", r->url);
        }
    }
    /* (not for the breaker's refusals: one per request while it is open; its opening, after the
     * failures logged here, is the news, and /metrics shows its state) */
    if (outcome == COMMENTS_FETCH_UNAVAILABLE && r->err != TANDEM_ECLOSED &&
        r->err != TANDEM_EUNSUPPORTED) {
        tandem_log_warn(NULL, "comments: articles did not answer the lookup",
                        "\"url\":\"%s\",\"error\":\"%s\",\"status\":%d,\"attempts\":%d", r->url,
                        r->err != 0 ? tandem_strerror(r->err) : "unexpected status", r->status,
                        r->attempts);
    }
    f->cb(outcome, &a, retry_after, f->arg);
    free(f);
}

int comments_article_fetch(struct tandem_http_request *req, const char *slug, comments_fetch_fn cb,
                           void *arg)
{
    char url[sizeof(comments.articles_url) + 3 * COMMENTS_SLUG_MAX + 32];
    int n = snprintf(url, sizeof(url), "%s/internal/articles/", comments.articles_url);
    size_t len = (size_t)n;
    if (n < 0 || len >= sizeof(url) || path_segment(slug, url, sizeof(url), &len) != 0) {
        return TANDEM_EINVAL;
    }
    struct fetch *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return TANDEM_ENOMEM;
    }
    f->cb = cb;
    f->arg = arg;
    static const char *const HEADERS[] = {"Accept: application/json", NULL};
    struct tandem_http_call_opts o = {
        .method = "GET",
        .url = url,
        .headers = HEADERS,
        .timeout_ms = ATTEMPT_MS,
        .deadline_ms = DEADLINE_MS,
        .max_retries = RETRIES,
        .traceparent = tandem_request_traceparent(req),
    };
    int rc = tandem_http_call(comments.http, &o, fetched, f);
    if (rc != 0) {
        free(f);
    }
    return rc;
}

/* ---- the client ------------------------------------------------------------------------------ */

#define STATS_MAX 8 /* upstreams reported (one: articles) */

static void emit_client(struct tandem_metrics_writer *w, void *arg)
{
    struct tandem_http_upstream_stats s[STATS_MAX];
    size_t n = 0;
    tandem_http_client_stats(arg, s, STATS_MAX, &n);
    n = n < STATS_MAX ? n : STATS_MAX;
    char labels[STATS_MAX][300];
    for (size_t i = 0; i < n; i++) {
        snprintf(labels[i], sizeof(labels[i]), "upstream=\"%s\"", s[i].upstream);
    }
    for (size_t i = 0; i < n; i++) {
        tandem_metrics_counter(w, "tandem_http_client_calls_total", "Calls finished.", labels[i],
                               (double)s[i].calls);
    }
    for (size_t i = 0; i < n; i++) {
        tandem_metrics_counter(w, "tandem_http_client_failures_total",
                               "Calls that got no answer or a 5xx.", labels[i],
                               (double)s[i].failures);
    }
    for (size_t i = 0; i < n; i++) {
        tandem_metrics_counter(w, "tandem_http_client_rejected_total",
                               "Calls the open breaker refused.", labels[i], (double)s[i].rejected);
    }
    for (size_t i = 0; i < n; i++) {
        tandem_metrics_gauge(w, "tandem_http_client_breaker_state",
                             "0 closed, 1 open, 2 half-open.", labels[i], (double)s[i].breaker);
    }
}

static void client_stop(void *arg)
{
    tandem_http_client_free(arg); /* after HTTP stopped: loop-mode calls have ended */
}

int comments_client_setup(void)
{
    struct tandem_http_client_config cfg = {
        .connect_timeout_ms = CONNECT_MS,
        .timeout_ms = ATTEMPT_MS,
        .backoff_base_ms = BACKOFF_BASE_MS,
        .backoff_max_ms = BACKOFF_MAX_MS,
        .breaker_failures = BREAKER_FAILURES,
        .breaker_cooldown_ms = BREAKER_COOLDOWN_MS,
        .max_response_bytes = 64 * 1024,
    };
    int rc = tandem_http_client_new(&cfg, &comments.http);
    if (rc != 0) {
        tandem_log_error(NULL, "comments: cannot start the HTTP client", "\"error\":\"%s\"",
                         tandem_strerror(rc));
        return rc;
    }
    tandem_service_on_stop(comments.svc, client_stop, comments.http);
    tandem_service_metrics_source(comments.svc, emit_client, comments.http);
    return 0;
}
