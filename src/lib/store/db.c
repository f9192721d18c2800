/*
 * tandem store: opening a service database, and the idempotent consumer.
 *
 * Model. A service owns one SQLite file in WAL mode: readers never block the single writer and
 * the outbox relay reads on its own connection while handlers write. synchronous=FULL makes a
 * COMMIT durable when it returns (with NORMAL a power cut could lose the last commits, i.e. a
 * state change whose event the relay may already have published). tandem_db_open also creates
 * tandem's two tables, next to the service's schema.
 *
 * The idempotent consumer and the prunes are written once, on tandem_sql (sql.h), and run on
 * SQLite or PostgreSQL; the sqlite3 functions of store.h call them over the caller's connection
 * (sql_lite_init). The rest of this essay is the SQLite case; sql.md has PostgreSQL's.
 *
 * Idempotent consumer. tandem_idempotent wraps a handler in BEGIN IMMEDIATE ... COMMIT; the
 * write lock is taken up front, so the "already processed?" read and the "processed" insert
 * cannot race with another connection doing the same. Invariant: a row (group, source, id)
 * exists in tandem_processed_events iff the handler's writes for that event have committed.
 *
 * The key is (source, id): CloudEvents 1.0 (spec.md, "id") makes an id unique only within its
 * source, so two producers may use the same id for different events. A record that is not a
 * CloudEvent has the empty source (a CloudEvent's source is never empty) and the id
 * kafka:<topic>/<partition>/<offset>.
 *
 *   tandem_processed_events (schema 2)
 *   COLUMN          TYPE     NOTE
 *   consumer_group  TEXT     the caller's consumer group
 *   event_source    TEXT     the CloudEvents source; "" for a non-CloudEvent record; NULL for a
 *                            row migrated from schema 1 (source unknown: it matches any source)
 *   event_id        TEXT     the CloudEvents id, or kafka:<topic>/<partition>/<offset>
 *   processed_at    INTEGER  unix ms of the commit (tandem_idempotent_prune's clock)
 *   UNIQUE (consumer_group, event_id, event_source); index on processed_at
 *
 * Schema 1 (before the source was part of the key) had no event_source column and the primary
 * key (consumer_group, event_id), WITHOUT ROWID. tandem_db_open migrates it in one transaction
 * (copy into the new table with event_source NULL, drop the old one, rename), under BEGIN
 * IMMEDIATE so that two connections opening at once (a service and its outbox relay) migrate
 * once. The column's presence is the version: no pragma user_version is taken from the service.
 * Migrated rows keep the old meaning (the id alone) until they are pruned, so an event handled
 * before the upgrade and redelivered after it is still skipped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "sql_int.h"
#include "store_int.h"
#include "tandem/store.h"

#define STORE_BUSY_MS 5000
#define STORE_ID_MAX  512

/* Schema 2 of the idempotent consumer's table (see above). */
#define PROCESSED_TABLE(name)                                                   \
    "CREATE TABLE IF NOT EXISTS " name " ("                                     \
    " consumer_group TEXT NOT NULL, event_source TEXT, event_id TEXT NOT NULL," \
    " processed_at INTEGER NOT NULL, UNIQUE (consumer_group, event_id, event_source));"

static const char STORE_SCHEMA[] = PROCESSED_TABLE(
    "tandem_processed_events") "CREATE INDEX IF NOT EXISTS tandem_processed_events_at"
                               " ON tandem_processed_events(processed_at);"
                               "CREATE TABLE IF NOT EXISTS tandem_outbox ("
                               " seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key "
                               "BLOB, type TEXT NOT NULL,"
                               " subject TEXT, event_id TEXT NOT NULL, traceparent TEXT, data BLOB,"
                               " created_at INTEGER NOT NULL, sent_at INTEGER);"
                               "CREATE INDEX IF NOT EXISTS tandem_outbox_unsent ON "
                               "tandem_outbox(seq) WHERE sent_at IS NULL;";

/* Schema 1 -> 2: the rows keep their group, id and time; their source is unknown (NULL). */
static const char STORE_MIGRATE_1_2[] =
    "DROP TABLE IF EXISTS tandem_processed_events_2;" PROCESSED_TABLE(
        "tandem_processed_events_2") "INSERT INTO tandem_processed_events_2 (consumer_group, "
                                     "event_source, event_id, processed_at)"
                                     " SELECT consumer_group, NULL, event_id, processed_at FROM "
                                     "tandem_processed_events;"
                                     "DROP TABLE tandem_processed_events;" /* its index goes with it
                                                                            */
                                     "ALTER TABLE tandem_processed_events_2 RENAME TO "
                                     "tandem_processed_events;";

int store_fail(sqlite3 *db, const char *msg)
{
    char buf[512];
    log_error(msg, "\"sqlite\":%s", log_json_str(buf, sizeof(buf), sqlite3_errmsg(db)));
    return TANDEM_EIO;
}

int store_exec(sqlite3 *db, const char *sql, const char *what)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        char buf[512];
        log_error(what, "\"sqlite\":%s", log_json_str(buf, sizeof(buf), err ? err : "?"));
        sqlite3_free(err);
        return TANDEM_EIO;
    }
    return 0;
}

/* 1 when table has column, 0 when not (or no such table), TANDEM_EIO on error. */
static int has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st,
                           NULL) != SQLITE_OK) {
        return store_fail(db, "store: schema version");
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    int rc = s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : store_fail(db, "store: schema version");
    sqlite3_finalize(st);
    return rc;
}

/* 1 when tandem's tables and indexes are all there, at schema 2; 0 when not (or on error: the
 * write transaction below then does it, or reports it). A read: no write lock. */
static int store_schema_current(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('tandem_processed_events', 'tandem_processed_events_at',"
                           " 'tandem_outbox', 'tandem_outbox_unsent')",
                           -1, &st, NULL) != SQLITE_OK) {
        return 0;
    }
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return n == 4 && has_column(db, "tandem_processed_events", "event_source") == 1;
}

/* Creates tandem's tables, migrating a schema 1 tandem_processed_events first, all in one
 * BEGIN IMMEDIATE transaction (a concurrent open waits, then finds schema 2). An open of a
 * database that has them already only reads: starting an instance, a relay or a reader never
 * waits for the write lock that the running instances keep busy. */
static int store_schema(sqlite3 *db)
{
    if (store_schema_current(db)) {
        return 0;
    }
    if (store_exec(db, "BEGIN IMMEDIATE", "store: begin schema") != 0) {
        return TANDEM_EIO;
    }
    int rc = 0;
    int old = has_column(db, "tandem_processed_events", "consumer_group");
    int v2 = has_column(db, "tandem_processed_events", "event_source");
    if (old < 0 || v2 < 0) {
        rc = TANDEM_EIO;
    } else if (old == 1 && v2 == 0) {
        rc = store_exec(db, STORE_MIGRATE_1_2, "store: migrate tandem_processed_events");
        if (rc == 0) {
            log_info("store: tandem_processed_events migrated to schema 2 (source, id)",
                     "\"rows\":%lld", (long long)sqlite3_changes64(db));
        }
    }
    if (rc == 0) {
        rc = store_exec(db, STORE_SCHEMA, "store: tandem schema");
    }
    if (rc == 0) {
        rc = store_exec(db, "COMMIT", "store: commit schema");
    }
    if (rc != 0 && !sqlite3_get_autocommit(db)) {
        store_exec(db, "ROLLBACK", "store: rollback schema");
    }
    return rc;
}

/* PRAGMA journal_mode=WAL, retried while another connection keeps the file busy. SQLite answers
 * SQLITE_BUSY here without calling the busy handler when another process is opening the same
 * file at that moment (running the WAL's recovery, or changing the journal mode itself): two
 * instances of a service starting together met it. The busy timeout's length bounds the retries. */
static int set_wal(sqlite3 *db)
{
    int64_t deadline = clock_mono_ms() + STORE_BUSY_MS;
    for (;;) {
        int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            return 0;
        }
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || clock_mono_ms() >= deadline) {
            return store_fail(db, "store: journal_mode");
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int tandem_db_open(const char *path, const char *schema_sql, sqlite3 **out)
{
    sqlite3 *db = NULL;
    if (path == NULL || out == NULL) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        goto fail;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_MS);
    /* journal_mode answers a row ("wal"); exec ignores it. */
    if (set_wal(db) != 0 ||
        store_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "store: pragmas") != 0) {
        goto fail;
    }
    if (schema_sql != NULL && store_exec(db, schema_sql, "store: service schema") != 0) {
        goto fail;
    }
    if (store_schema(db) != 0) {
        goto fail;
    }
    *out = db;
    return 0;
fail:
    if (db != NULL) {
        char buf[512], p[256];
        log_error("store: cannot open database", "\"path\":%s,\"sqlite\":%s",
                  log_json_str(p, sizeof(p), path),
                  log_json_str(buf, sizeof(buf), sqlite3_errmsg(db)));
        sqlite3_close(db);
    }
    return TANDEM_EIO;
}

/* The deduplication key of ev: its CloudEvents (source, id), or ("", its record coordinates). */
static const char *event_key(const struct tandem_event *ev, char buf[STORE_ID_MAX],
                             const char **source)
{
    if (ev->id != NULL && ev->id[0] != '\0') {
        *source = ev->source != NULL ? ev->source : "";
        return ev->id;
    }
    *source = "";
    snprintf(buf, STORE_ID_MAX, "kafka:%s/%" PRId32 "/%" PRId64, ev->topic ? ev->topic : "",
             ev->partition, ev->offset);
    return buf;
}

/* 1 when (group, source, id) is recorded, or (group, id) by a schema 1 row (source NULL);
 * 0 when not; TANDEM_EIO on error. */
static int processed_lookup(struct tandem_sql *db, const char *group, const char *source,
                            const char *id)
{
    struct tandem_sql_stmt *st = NULL;
    if (sql_stmt_get(db, SQL_CACHED_PROCESSED_LOOKUP,
                     "SELECT 1 FROM tandem_processed_events"
                     " WHERE consumer_group = ?1 AND event_id = ?3"
                     " AND (event_source = ?2 OR event_source IS NULL) LIMIT 1",
                     &st) != 0) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_text(st, 1, group);
    tandem_sql_bind_text(st, 2, source);
    tandem_sql_bind_text(st, 3, id);
    int s = tandem_sql_step(st);
    int rc = s == TANDEM_SQL_ROW ? 1 : s == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
    sql_stmt_put(st);
    return rc;
}

/* Records (group, source, id): 0; TANDEM_EEXIST (another connection recorded it meanwhile: on
 * PostgreSQL the insert waited for that transaction to commit); TANDEM_EIO. */
static int processed_insert(struct tandem_sql *db, const char *group, const char *source,
                            const char *id)
{
    struct tandem_sql_stmt *st = NULL;
    if (sql_stmt_get(db, SQL_CACHED_PROCESSED_INSERT,
                     "INSERT INTO tandem_processed_events"
                     " (consumer_group, event_source, event_id, processed_at)"
                     " VALUES (?1, ?2, ?3, ?4)",
                     &st) != 0) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_text(st, 1, group);
    tandem_sql_bind_text(st, 2, source);
    tandem_sql_bind_text(st, 3, id);
    tandem_sql_bind_int64(st, 4, clock_wall_ms());
    int rc = tandem_sql_step(st);
    sql_stmt_put(st);
    return rc;
}

/*
 * The idempotent consumer on either backend. On SQLite, BEGIN IMMEDIATE serializes it with every
 * other writer. On PostgreSQL (READ COMMITTED) two consumers may run the same event at once (a
 * rebalance's overlap): the "processed" row is inserted before the handler runs, so the second
 * insert waits for the first transaction and then conflicts (TANDEM_EEXIST): the second rolls
 * back everything and the event counts as handled (the first committed it), or, when the first
 * rolled back, goes on as the only one.
 */
int tandem_sql_idempotent(struct tandem_sql *db, const char *group, const struct tandem_event *ev,
                          tandem_sql_idempotent_fn fn, void *arg)
{
    char buf[STORE_ID_MAX];
    if (db == NULL || group == NULL || ev == NULL || fn == NULL) {
        return TANDEM_EINVAL;
    }
    if (tandem_sql_txn_state(db) != TANDEM_SQL_IDLE) {
        return TANDEM_EINVAL; /* the caller's transaction would swallow ours */
    }
    const char *source = NULL;
    const char *id = event_key(ev, buf, &source);
    if (tandem_sql_begin(db) != 0) {
        return TANDEM_EVENT_RETRY;
    }
    int rc = processed_lookup(db, group, source, id);
    if (rc < 0) {
        goto retry;
    }
    if (rc == 0) {
        rc = processed_insert(db, group, source, id);
        if (rc == TANDEM_EEXIST) {
            rc = 1; /* another consumer committed it meanwhile */
        } else if (rc != 0) {
            goto retry;
        }
    }
    if (rc == 1) { /* a redelivery: nothing was written, nothing to do */
        tandem_sql_rollback(db);
        return TANDEM_EVENT_OK;
    }
    rc = fn(db, ev, arg);
    if (rc != TANDEM_EVENT_OK) {
        tandem_sql_rollback(db);
        return rc;
    }
    /* A statement inside fn may have made SQLite roll the whole transaction back on its own
     * (ON CONFLICT ROLLBACK, RAISE(ROLLBACK), SQLITE_FULL, ...), or failed on PostgreSQL (which
     * then refuses everything but ROLLBACK), while fn still returned OK. Committing now would
     * record the id alone and lose the event's effects for good. */
    if (tandem_sql_txn_state(db) != TANDEM_SQL_ACTIVE) {
        log_warn("store: the handler's transaction was rolled back or failed; will retry", NULL);
        goto retry;
    }
    if (tandem_sql_commit(db) != 0) {
        goto retry;
    }
    return TANDEM_EVENT_OK;
retry:
    tandem_sql_rollback(db);
    return TANDEM_EVENT_RETRY;
}

/* The sqlite3 handler of tandem_idempotent, called through tandem_sql_idempotent. */
struct lite_handler {
    tandem_idempotent_fn fn;
    void *arg;
};

static int lite_handler_call(struct tandem_sql *db, const struct tandem_event *ev, void *arg)
{
    struct lite_handler *h = arg;
    return h->fn(tandem_sql_sqlite(db), ev, h->arg);
}

int tandem_idempotent(sqlite3 *db, const char *group, const struct tandem_event *ev,
                      tandem_idempotent_fn fn, void *arg)
{
    if (db == NULL || fn == NULL) {
        return TANDEM_EINVAL;
    }
    struct sql_lite s;
    sql_lite_init(&s, db, false);
    struct lite_handler h = {.fn = fn, .arg = arg};
    return tandem_sql_idempotent(&s.base, group, ev, lite_handler_call, &h);
}

/* Rows deleted per statement by the prune functions. */
#define PRUNE_CHUNK 1000

/*
 * Runs sql (a DELETE of at most ?2 rows older than ?1) until it deletes fewer than PRUNE_CHUNK.
 * Outside a transaction each statement commits on its own, so a large prune takes SQLite's write
 * lock in short turns: the service's writer, and the other instances of the service on the same
 * file, get it between chunks instead of waiting behind one long DELETE.
 */
static int prune(struct tandem_sql *db, const char *sql, int64_t max_age_ms, int64_t *deleted)
{
    struct tandem_sql_stmt *st = NULL;
    int64_t total = 0;
    if (db == NULL || max_age_ms < 0) {
        return TANDEM_EINVAL;
    }
    if (tandem_sql_prepare(db, sql, &st) != 0) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(st, 1, clock_wall_ms() - max_age_ms);
    tandem_sql_bind_int64(st, 2, PRUNE_CHUNK);
    int rc = 0;
    for (;;) {
        if (tandem_sql_step(st) != TANDEM_SQL_DONE) {
            rc = TANDEM_EIO;
            break;
        }
        int64_t n = tandem_sql_changes(db);
        total += n;
        tandem_sql_reset(st);
        if (n < PRUNE_CHUNK) {
            break;
        }
    }
    tandem_sql_finalize(st);
    if (rc == 0 && deleted != NULL) {
        *deleted = total;
    }
    return rc;
}

/* The one statement of the store whose SQL differs: a row's physical id is rowid on SQLite,
 * ctid on PostgreSQL (neither has DELETE ... LIMIT in its default build). */
int tandem_sql_idempotent_prune(struct tandem_sql *db, int64_t max_age_ms, int64_t *deleted)
{
    if (db == NULL) {
        return TANDEM_EINVAL;
    }
    if (tandem_sql_backend(db) == TANDEM_SQL_POSTGRES) {
        return prune(db,
                     "DELETE FROM tandem_processed_events WHERE ctid = ANY(ARRAY(SELECT ctid"
                     " FROM tandem_processed_events WHERE processed_at < ?1 LIMIT ?2))",
                     max_age_ms, deleted);
    }
    return prune(db,
                 "DELETE FROM tandem_processed_events WHERE rowid IN (SELECT rowid FROM"
                 " tandem_processed_events WHERE processed_at < ?1 LIMIT ?2)",
                 max_age_ms, deleted);
}

int tandem_sql_outbox_prune(struct tandem_sql *db, int64_t max_age_ms, int64_t *deleted)
{
    return prune(db,
                 "DELETE FROM tandem_outbox WHERE seq IN (SELECT seq FROM tandem_outbox"
                 " WHERE sent_at IS NOT NULL AND sent_at < ?1 LIMIT ?2)",
                 max_age_ms, deleted);
}

int tandem_idempotent_prune(sqlite3 *db, int64_t max_age_ms, int64_t *deleted)
{
    if (db == NULL) {
        return TANDEM_EINVAL;
    }
    struct sql_lite s;
    sql_lite_init(&s, db, false);
    return tandem_sql_idempotent_prune(&s.base, max_age_ms, deleted);
}

int tandem_outbox_prune(sqlite3 *db, int64_t max_age_ms, int64_t *deleted)
{
    if (db == NULL) {
        return TANDEM_EINVAL;
    }
    struct sql_lite s;
    sql_lite_init(&s, db, false);
    return tandem_sql_outbox_prune(&s.base, max_age_ms, deleted);
}
