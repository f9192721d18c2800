/*
 * services/common/blog.h: what the blog's services (users, articles, comments, activity) share.
 *
 * The blog is the RealWorld ("Conduit") API served by four separately deployed services on
 * libtandem (docs/blog.md). Each service owns its database (an SQLite file shared by its
 * instances, or a PostgreSQL database), writes its state changes together with their events (the
 * outbox), and keeps read models of the others' data from their events. This library holds only
 * what several of them need: RealWorld's dates and slugs, the paging parameters, the author
 * profiles and follows that articles and comments keep from the users topic, the store set-up
 * (writer, relay, readers) and the domain events' envelope. Nothing here is specific to one
 * service, and nothing here belongs in libtandem (it is RealWorld's, not the platform's).
 *
 * Threads: every function is safe on any thread unless it says otherwise; a struct tandem_sql is
 * used by one thread at a time (libtandem's store rules: the writer's connection on the writer
 * thread, a reader on its HTTP worker, a consumer's connection on its consumer thread).
 */
#ifndef BLOG_H
#define BLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tandem/auth.h"
#include "tandem/pool.h"
#include "tandem/events.h"
#include "tandem/service.h"
#include "tandem/sql.h"
#include "tandem/store.h"

/* ---- time --------------------------------------------------------------------------------- */

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t blog_now_ms(void);

#define BLOG_TIME_SIZE 25 /* "2026-12-05T17:20:10.123Z" and its NUL */

/* Writes unix_ms as RealWorld's ISO 8601 UTC date with milliseconds into out. */
void blog_time_format(int64_t unix_ms, char out[BLOG_TIME_SIZE]);

/* The same as a new JSON string (NULL on out-of-memory). */
json_t *blog_time_json(int64_t unix_ms);

/* ---- slugs -------------------------------------------------------------------------------- */

#define BLOG_SLUG_MAX 96 /* bytes of the slug made from a title, before any suffix */

/*
 * The slug of a title: its ASCII letters (lower-cased) and digits, every other run of characters
 * (spaces, punctuation, non-ASCII) one '-', none at either end, cut at BLOG_SLUG_MAX bytes (at a
 * '-' when there is one in the last 16). "article" when nothing is left. Writes it NUL-terminated
 * into out (cap >= BLOG_SLUG_MAX + 1) and returns its length.
 */
size_t blog_slugify(const char *title, char *out, size_t cap);

/* ---- requests ----------------------------------------------------------------------------- */

/* Paging of the article lists: ?limit (1..100, default 20) and ?offset (>= 0, default 0). */
struct blog_page {
    int64_t limit, offset;
};

/* Reads req's paging. Returns 0, or -1 after answering 422 with the field's error. */
int blog_page_of(struct tandem_http_request *req, struct blog_page *out);

/* A query parameter decoded into buf (cap bytes): returns buf, or NULL when absent. A value that
 * is malformed or too long answers 422 and sets *answered. */
const char *blog_query(struct tandem_http_request *req, const char *name, char *buf, size_t cap,
                       bool *answered);

/* The user id of verified claims (sub is a decimal user id), or 0 when sub is not one. */
int64_t blog_user_id(const struct tandem_claims *c);

/* true when s (NUL-terminated) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). A path or query value that is not names nothing: PostgreSQL refuses
 * such text (SQLite would compare it), so a service checks before it asks. */
bool blog_utf8_valid(const char *s);

/* A positive decimal int64 (no sign, no leading zeros beyond "0", at most 18 digits): 0 and *out,
 * or -1. */
int blog_parse_id(const char *s, int64_t *out);

/* Answers 404 problem+json "<what> not found". */
void blog_not_found(struct tandem_http_request *req, const char *what);

/* Answers a failed storage job: 503 with Retry-After when the writer refused it (queue full or
 * closing: TANDEM_EAGAIN, TANDEM_ECLOSED), else 500. Logs it. */
void blog_store_failed(struct tandem_http_request *req, int rc);

/* ---- the store ---------------------------------------------------------------------------- */

/*
 * The database of a service: TANDEM_DATABASE_URL when the environment sets it (a PostgreSQL
 * database of the service's own: postgres://...), else the SQLite file <data-dir>/<file>; either
 * is shared by the service's instances. Opening it starts the writer (group commit) and the
 * outbox relay (one publishing relay among the instances), and registers the service's on_stop
 * hook that stops both in the right order (after HTTP and the consumers, before the producer is
 * freed). Handlers read through blog_reader (their worker's read connection) and write through
 * blog_write (a writer job).
 *
 * Schemas. A service's schema.sql is written once, for both engines, and translated for
 * PostgreSQL by blog_schema_dialect (the one place where the two differ; docs/blog.md).
 */
struct blog_store {
    char *location; /* the database: a PostgreSQL URL or the SQLite file's path */
    struct tandem_db_writer *writer;
    struct tandem_outbox_relay *relay;
};

/* Opens the store; schema is the service's SQL (schema.sql, run at every open: IF NOT EXISTS),
 * translated for the backend by blog_schema_dialect. Returns 0 and *out (freed by the stop hook;
 * blog_store_free only when the service never ran), or an error (logged). With --help, opens
 * nothing: 0 and *out NULL. */
int blog_store_open(struct tandem_service *svc, const char *file, const char *schema,
                    struct blog_store **out);
void blog_store_free(struct blog_store *st);

/*
 * The schema text for a backend (TANDEM_SQL_SQLITE or TANDEM_SQL_POSTGRES), a new string (NULL
 * when out of memory). The text is split into blocks by lines "-- dialect: sqlite",
 * "-- dialect: postgres" and "-- dialect: all" (the start is "all"): a backend gets the "all"
 * blocks and its own. In the "all" blocks PostgreSQL gets INTEGER PRIMARY KEY AUTOINCREMENT as
 * BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, and every other upper-case word INTEGER as
 * BIGINT and BLOB as BYTEA (SQLite's INTEGER is 64-bit; PostgreSQL's is 32). A column the
 * database numbers (inserted without a value) is declared INTEGER PRIMARY KEY AUTOINCREMENT.
 */
char *blog_schema_dialect(const char *schema, int backend);

/* The calling HTTP worker's read connection (tandem_db_reader_sql). Answers 503 and returns NULL
 * when there is none. */
struct tandem_sql *blog_reader(struct tandem_http_request *req, struct blog_store *st);

/* A writer job (tandem_db_write_sql on st's writer). Same returns. */
int blog_write(struct blog_store *st, tandem_sql_job_fn job, tandem_db_done_fn done, void *arg);

/* A connection of the caller's own (a consumer thread's) to st's database; its schema is there
 * already. Close it with blog_db_close. Returns 0 and *out, or an error (logged). */
int blog_store_connect(struct blog_store *st, struct tandem_sql **out);

/*
 * A prepared statement for sql on db, from the calling thread's cache (prepared once per
 * connection and text; sql must be a string literal or otherwise live for the whole run: its
 * address is the key). Reset, ready to bind and step; its previous bindings are kept, so bind
 * every parameter (tandem_sql_bind_null for none). Call tandem_sql_reset when done (before the
 * handler returns: an open SQLite read holds back the WAL checkpoint). NULL after logging when
 * the database refuses the text (a bug).
 */
struct tandem_sql_stmt *blog_stmt(struct tandem_sql *db, const char *sql);

/* Forgets the calling thread's cached statements of db (call before closing a connection this
 * thread opened; tandem_sql_close finalizes them). */
void blog_stmt_forget(struct tandem_sql *db);

/* Closes a connection a service opened itself (a consumer's, blog_store_connect), from any
 * thread: forgets the calling thread's cache of it and closes it (every statement with it). The
 * thread that used it must not use its cache again (it has stopped). NULL is a no-op. */
void blog_db_close(struct tandem_sql *db);

/* Text of column i, or "" for NULL. */
const char *blog_col_text(struct tandem_sql_stmt *st, int i);

/* ---- events ------------------------------------------------------------------------------- */

/*
 * Adds a domain event to the outbox inside the caller's transaction (a writer job): topic, key
 * = the entity's id in decimal, CloudEvents type, data = the payload object (stolen; "v":1 is
 * added), traceparent of the request that caused it (NULL: a new trace). Returns 0 or an error.
 */
int blog_event_add(struct tandem_sql *db, const char *topic, int64_t key_id, const char *type,
                   json_t *data, const char *traceparent);

/* The payload of a received event as a JSON object (a new reference), or NULL when it is not one
 * (logged). */
json_t *blog_event_data(const struct tandem_event *ev);

/* The members every read model reads: json_integer_value of name, or 0 when absent or not an
 * integer; the string, or NULL. */
int64_t blog_json_int(const json_t *o, const char *name);
const char *blog_json_str(const json_t *o, const char *name);

/* ---- profiles: the users read model of articles and comments ------------------------------ */

/*
 * Tables kept from the users topic (its SQL is BLOG_PROFILES_SQL, part of both services'
 * schemas):
 *   blog_authors(user_id PRIMARY KEY, username UNIQUE, bio, image, version)
 *   blog_follows(follower_id, followee_id, following, version, PRIMARY KEY(follower_id,
 * followee_id)) A row only moves forward: an event applies when its version is above the row's.
 */
extern const char BLOG_PROFILES_SQL[];

/* The schema of a service that keeps the users read model: BLOG_PROFILES_SQL, then own (the
 * service's SCHEMA_SQL), as one text for blog_store_open. Freed by the caller; NULL when out of
 * memory. */
char *blog_schema_with_profiles(const char *own);

/* Applies one event of the users topic (user.registered, user.updated, user.followed,
 * user.unfollowed; other types are ignored) inside the caller's transaction (tandem_idempotent).
 * Returns TANDEM_EVENT_OK, TANDEM_EVENT_RETRY (the database busy or failed) or TANDEM_EVENT_FAIL (a
 * payload that cannot be applied: dead-lettered). *changed (may be NULL) tells whether a row
 * moved. */
int blog_profiles_apply(struct tandem_sql *db, const struct tandem_event *ev, bool *changed);

/* A writer job's step: makes sure the author of a write is known, from the token's claims, when
 * the user.registered event has not arrived yet (a version-0 row the event will overwrite).
 * Returns 0 or an error. */
int blog_profiles_from_claims(struct tandem_sql *db, const struct tandem_claims *c);

/* RealWorld's profile object of author_id as seen by viewer_id (0: anonymous) read from db's
 * read model: {"username","bio","image","following"}; NULL when the author is unknown. */
json_t *blog_profile_json(struct tandem_sql *db, int64_t author_id, int64_t viewer_id);

/* The user id of a username in the read model, or 0. */
int64_t blog_profiles_id_of(struct tandem_sql *db, const char *username);

#endif
