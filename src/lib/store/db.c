/*
 * tandem store: opening a service database, and the idempotent consumer.
 *
 * Model. A service owns one SQLite file in WAL mode: readers never block the single writer and
 * the outbox relay reads on its own connection while handlers write. synchronous=FULL makes a
 * COMMIT durable when it returns (with NORMAL a power cut could lose the last commits, i.e. a
 * state change whose event the relay may already have published). tandem_db_open also creates
 * tandem's two tables, next to the service's schema.
 *
 * Idempotent consumer. tandem_idempotent wraps a handler in BEGIN IMMEDIATE ... COMMIT; the
 * write lock is taken up front, so the "already processed?" read and the "processed" insert
 * cannot race with another connection doing the same. Invariant: a row (group, id) exists in
 * tandem_processed_events iff the handler's writes for that id have committed.
 *
 *   tandem_processed_events
 *   COLUMN          TYPE     NOTE
 *   consumer_group  TEXT     the caller's consumer group
 *   event_id        TEXT     the CloudEvents id, or kafka:<topic>/<partition>/<offset>
 *   processed_at    INTEGER  unix ms of the commit (tandem_idempotent_prune's clock)
 *   PRIMARY KEY (consumer_group, event_id), WITHOUT ROWID
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "store_int.h"
#include "tandem/store.h"

#define STORE_BUSY_MS 5000
#define STORE_ID_MAX  512

static const char STORE_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS tandem_processed_events ("
    " consumer_group TEXT NOT NULL, event_id TEXT NOT NULL, processed_at INTEGER NOT NULL,"
    " PRIMARY KEY (consumer_group, event_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tandem_processed_events_at"
    " ON tandem_processed_events(processed_at);"
    "CREATE TABLE IF NOT EXISTS tandem_outbox ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key BLOB, type TEXT NOT NULL,"
    " subject TEXT, event_id TEXT NOT NULL, traceparent TEXT, data BLOB,"
    " created_at INTEGER NOT NULL, sent_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS tandem_outbox_unsent ON tandem_outbox(seq) WHERE sent_at IS NULL;";

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    if (store_exec(db, "PRAGMA journal_mode=WAL", "store: journal_mode") != 0 ||
        store_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "store: pragmas") != 0) {
        goto fail;
    }
    if (schema_sql != NULL && store_exec(db, schema_sql, "store: service schema") != 0) {
        goto fail;
    }
    if (store_exec(db, STORE_SCHEMA, "store: tandem schema") != 0) {
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

/* The deduplication key of ev: its CloudEvents id, or its record coordinates. */
static const char *event_key(const struct tandem_event *ev, char buf[STORE_ID_MAX])
{
    if (ev->id != NULL && ev->id[0] != '\0') {
        return ev->id;
    }
    snprintf(buf, STORE_ID_MAX, "kafka:%s/%" PRId32 "/%" PRId64, ev->topic ? ev->topic : "",
             ev->partition, ev->offset);
    return buf;
}

/* 1 when (group, id) is recorded, 0 when not, TANDEM_EIO on error. */
static int processed_lookup(sqlite3 *db, const char *group, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc = TANDEM_EIO;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM tandem_processed_events"
                           " WHERE consumer_group = ?1 AND event_id = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        return store_fail(db, "store: lookup");
    }
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        rc = 1;
    } else if (s == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = store_fail(db, "store: lookup");
    }
    sqlite3_finalize(st);
    return rc;
}

static int processed_insert(sqlite3 *db, const char *group, const char *id)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tandem_processed_events"
                           " (consumer_group, event_id, processed_at) VALUES (?1, ?2, ?3)",
                           -1, &st, NULL) != SQLITE_OK) {
        return store_fail(db, "store: record processed id");
    }
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, store_now_ms());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(db, "store: record processed id");
    sqlite3_finalize(st);
    return rc;
}

int tandem_idempotent(sqlite3 *db, const char *group, const struct tandem_event *ev,
                      tandem_idempotent_fn fn, void *arg)
{
    char buf[STORE_ID_MAX];
    if (db == NULL || group == NULL || ev == NULL || fn == NULL) {
        return TANDEM_EINVAL;
    }
    if (!sqlite3_get_autocommit(db)) {
        return TANDEM_EINVAL; /* the caller's transaction would swallow ours */
    }
    const char *id = event_key(ev, buf);
    if (store_exec(db, "BEGIN IMMEDIATE", "store: begin") != 0) {
        return TANDEM_EVENT_RETRY;
    }
    int rc = processed_lookup(db, group, id);
    if (rc < 0) {
        goto retry;
    }
    if (rc == 1) { /* a redelivery: nothing to do */
        if (sqlite3_get_autocommit(db) || store_exec(db, "COMMIT", "store: commit") != 0) {
            goto retry;
        }
        return TANDEM_EVENT_OK;
    }
    rc = fn(db, ev, arg);
    if (rc != TANDEM_EVENT_OK) {
        store_exec(db, "ROLLBACK", "store: rollback");
        return rc;
    }
    /* A statement inside fn may have made SQLite roll the whole transaction back on its own
     * (ON CONFLICT ROLLBACK, RAISE(ROLLBACK), SQLITE_FULL, ...) while fn still returned OK.
     * Recording the id now would commit it alone and lose the event's effects for good. */
    if (sqlite3_get_autocommit(db)) {
        log_warn("store: the handler's transaction was rolled back by SQLite; will retry", NULL);
        return TANDEM_EVENT_RETRY;
    }
    if (processed_insert(db, group, id) != 0 || store_exec(db, "COMMIT", "store: commit") != 0) {
        goto retry;
    }
    return TANDEM_EVENT_OK;
retry:
    if (!sqlite3_get_autocommit(db)) {
        store_exec(db, "ROLLBACK", "store: rollback");
    }
    return TANDEM_EVENT_RETRY;
}

/* Deletes rows of table whose column is set and older than now - max_age_ms. */
static int prune(sqlite3 *db, const char *sql, int64_t max_age_ms, int64_t *deleted)
{
    sqlite3_stmt *st = NULL;
    if (db == NULL || max_age_ms < 0) {
        return TANDEM_EINVAL;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        return store_fail(db, "store: prune");
    }
    sqlite3_bind_int64(st, 1, store_now_ms() - max_age_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(db, "store: prune");
    sqlite3_finalize(st);
    if (rc == 0 && deleted != NULL) {
        *deleted = sqlite3_changes64(db);
    }
    return rc;
}

int tandem_idempotent_prune(sqlite3 *db, int64_t max_age_ms, int64_t *deleted)
{
    return prune(db, "DELETE FROM tandem_processed_events WHERE processed_at < ?1", max_age_ms,
                 deleted);
}

int tandem_outbox_prune(sqlite3 *db, int64_t max_age_ms, int64_t *deleted)
{
    return prune(db, "DELETE FROM tandem_outbox WHERE sent_at IS NOT NULL AND sent_at < ?1",
                 max_age_ms, deleted);
}
