/*
 * tandem sql: the one database interface of libtandem's store and of the services, with two
 * backends: SQLite (the default: one file per service) and PostgreSQL through libpq (chosen when
 * the location is a postgres:// or postgresql:// URL, as TANDEM_DATABASE_URL gives it). See
 * docs/internals/sql.md.
 *
 * Model. A struct tandem_sql is one connection, used by one thread at a time. Statements are
 * written once, in the SQL both engines accept, with SQLite's placeholders: "?NNN" (numbered) or
 * "?" (the next number after the largest so far). On PostgreSQL they are rewritten to "$NNN"
 * (outside quotes and comments). Values are bound by index (from 1) and read by column (from 0):
 * integers as int64, text as NUL-terminated UTF-8, blobs as bytes (BLOB on SQLite, BYTEA on
 * PostgreSQL). A statement is prepared, bound, stepped (TANDEM_SQL_ROW per row, then
 * TANDEM_SQL_DONE), reset (bindings kept) or finalized. What differs between the two dialects
 * (AUTOINCREMENT against BIGSERIAL, BLOB against BYTEA) lives in the schemas only, which a caller
 * gives per backend (tandem_sql_open's schema_sql and schema_pg).
 *
 * Transactions. tandem_sql_begin / commit / rollback, or tandem_sql_write, which runs a function
 * in a transaction and survives a lost PostgreSQL connection: it reconnects and runs the function
 * again, and when the connection went down during COMMIT (the outcome unknown) a commit token
 * written in the transaction tells whether it committed, so a write is never applied twice.
 *
 * Errors are negative TANDEM_E* codes (error.h); the database's message is logged.
 */
#ifndef TANDEM_SQL_H
#define TANDEM_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;
struct tandem_sql;
struct tandem_sql_stmt;

enum tandem_sql_backend { TANDEM_SQL_SQLITE = 1, TANDEM_SQL_POSTGRES = 2 };

/* tandem_sql_step's answers besides errors. */
#define TANDEM_SQL_DONE 0
#define TANDEM_SQL_ROW  1

/* tandem_sql_txn_state's answers. */
enum tandem_sql_txn { TANDEM_SQL_IDLE = 0, TANDEM_SQL_ACTIVE = 1, TANDEM_SQL_FAILED = 2 };

/* The location of a service's database: the environment's TANDEM_DATABASE_URL when it is set and
 * not empty, else sqlite_path. The string is borrowed (the environment's, or sqlite_path). */
TANDEM_EXPORT const char *tandem_sql_location(const char *sqlite_path);

/* 1 when location names a PostgreSQL database (postgres:// or postgresql://), else 0. */
TANDEM_EXPORT int tandem_sql_is_postgres(const char *location);

/*
 * Opens location: a PostgreSQL URL (libpq connection URI) or an SQLite file path (created if
 * needed; tandem_db_open: WAL, synchronous=FULL, busy timeout 5 s). Then runs the service's schema
 * for that backend (schema_sql on SQLite, schema_pg on PostgreSQL; NULL: none; it runs at every
 * open, so write it with IF NOT EXISTS) and creates tandem's tables (store.h) in that backend's
 * dialect. On PostgreSQL the schema runs under an advisory lock, so instances opening together
 * do not race on CREATE, and only once per database and schema text (its digest is recorded in
 * tandem_schemas): an open that finds it applied runs nothing, and takes no lock that running
 * writers could deadlock with. Returns 0 and *out (tandem_sql_close); TANDEM_EINVAL (no location or
 * out); TANDEM_EIO (cannot connect or the schema failed: logged).
 */
TANDEM_EXPORT int tandem_sql_open(const char *location, const char *schema_sql,
                                  const char *schema_pg, struct tandem_sql **out);

/* A tandem_sql over an SQLite connection the caller keeps (closing it does not close db): the
 * bridge from the sqlite3-based functions of store.h. Returns 0 and *out; TANDEM_EINVAL. */
TANDEM_EXPORT int tandem_sql_wrap_sqlite(struct sqlite3 *db, struct tandem_sql **out);

/* Finalizes every statement still prepared on db and closes the connection. NULL is a no-op. */
TANDEM_EXPORT void tandem_sql_close(struct tandem_sql *db);

/* TANDEM_SQL_SQLITE or TANDEM_SQL_POSTGRES. */
TANDEM_EXPORT int tandem_sql_backend(const struct tandem_sql *db);

/* The SQLite connection under db, or NULL on PostgreSQL. */
TANDEM_EXPORT struct sqlite3 *tandem_sql_sqlite(struct tandem_sql *db);

/* Runs sql: one or more statements, no placeholders, rows ignored. Returns 0; TANDEM_EIO. */
TANDEM_EXPORT int tandem_sql_exec(struct tandem_sql *db, const char *sql);

/* Prepares one statement (placeholders as above). Returns 0 and *out (tandem_sql_finalize);
 * TANDEM_EINVAL (a placeholder number above 64); TANDEM_EIO. */
TANDEM_EXPORT int tandem_sql_prepare(struct tandem_sql *db, const char *sql,
                                     struct tandem_sql_stmt **out);

/* Binds parameter i (from 1). Values are copied. Returns 0; TANDEM_ERANGE (no such index). */
TANDEM_EXPORT int tandem_sql_bind_int64(struct tandem_sql_stmt *st, int i, int64_t v);
TANDEM_EXPORT int tandem_sql_bind_text(struct tandem_sql_stmt *st, int i, const char *s);
TANDEM_EXPORT int tandem_sql_bind_blob(struct tandem_sql_stmt *st, int i, const void *p, size_t n);
TANDEM_EXPORT int tandem_sql_bind_null(struct tandem_sql_stmt *st, int i);

/* Runs the statement, or moves to its next row: TANDEM_SQL_ROW (a row to read), TANDEM_SQL_DONE
 * (no more rows), or TANDEM_EIO (logged; on PostgreSQL the transaction, if any, is then FAILED).
 * A constraint violation is TANDEM_EEXIST. */
TANDEM_EXPORT int tandem_sql_step(struct tandem_sql_stmt *st);

/* The current row's column i (from 0): 1 when NULL; its integer value (0 when NULL); its text
 * (NULL when NULL; valid until the next step, reset or finalize); its bytes (NULL and *len 0
 * when NULL; same validity). */
TANDEM_EXPORT int tandem_sql_column_null(struct tandem_sql_stmt *st, int i);
TANDEM_EXPORT int64_t tandem_sql_column_int64(struct tandem_sql_stmt *st, int i);
TANDEM_EXPORT const char *tandem_sql_column_text(struct tandem_sql_stmt *st, int i);
TANDEM_EXPORT const void *tandem_sql_column_blob(struct tandem_sql_stmt *st, int i, size_t *len);

/* Rewinds st to run again (bindings kept). */
TANDEM_EXPORT void tandem_sql_reset(struct tandem_sql_stmt *st);
/* Frees st. NULL is a no-op. */
TANDEM_EXPORT void tandem_sql_finalize(struct tandem_sql_stmt *st);

/* Rows changed by the last INSERT, UPDATE or DELETE stepped on db. */
TANDEM_EXPORT int64_t tandem_sql_changes(struct tandem_sql *db);

/* BEGIN (SQLite: BEGIN IMMEDIATE, the write lock up front), COMMIT, ROLLBACK. On PostgreSQL,
 * begin first reconnects a connection found lost. Return 0; TANDEM_EIO. */
TANDEM_EXPORT int tandem_sql_begin(struct tandem_sql *db);
TANDEM_EXPORT int tandem_sql_commit(struct tandem_sql *db);
TANDEM_EXPORT int tandem_sql_rollback(struct tandem_sql *db);

/* TANDEM_SQL_IDLE (no transaction), TANDEM_SQL_ACTIVE (one is open and usable) or
 * TANDEM_SQL_FAILED (one is open but can only be rolled back: a statement failed on PostgreSQL,
 * or the connection was lost inside it). On SQLite a transaction the engine rolled back on its
 * own (ON CONFLICT ROLLBACK, SQLITE_FULL) reads IDLE. */
TANDEM_EXPORT int tandem_sql_txn_state(struct tandem_sql *db);

/* A function run by tandem_sql_write inside its transaction (it must not BEGIN, COMMIT or
 * ROLLBACK): 0 to commit, anything else to roll back (that value is returned). It may be run
 * more than once (after a lost connection): it must only write through db and keep no other
 * effect of an attempt. */
typedef int (*tandem_sql_write_fn)(struct tandem_sql *db, void *arg);

/*
 * Runs fn(db, arg) in one transaction and commits it, exactly once. On PostgreSQL a lost
 * connection (the backend killed, restarted, the network cut) before COMMIT answered is
 * reconnected and the whole transaction run again, for up to 10 s; when COMMIT itself was sent
 * but not answered, the commit token (a random id inserted into tandem_commits first thing in
 * every attempt) decides: the next attempt's token insert conflicts with a committed one (so
 * the write is done: 0 is returned without running fn again), or waits for and outlives an
 * aborted one. A transaction that loses a deadlock or a serialization failure (PostgreSQL's
 * SQLSTATE 40P01, 40001: fn failed, or COMMIT did) is rolled back and run again at once, within
 * the same 10 s. Returns 0 (committed); fn's nonzero value (rolled back); TANDEM_EIO (a database
 * error, or the database unreachable for 10 s: nothing is stored); TANDEM_ETIMEDOUT (COMMIT was
 * sent, then the database stayed unreachable: the outcome is unknown to this call, and the
 * write is either wholly there or wholly absent); TANDEM_EINVAL (a transaction is already
 * open).
 */
TANDEM_EXPORT int tandem_sql_write(struct tandem_sql *db, tandem_sql_write_fn fn, void *arg);

/* ---- a pool of connections ----------------------------------------------------------------
 *
 * A service's HTTP workers (and its other threads) share a pool: a handler takes a connection
 * for the length of its request and gives it back, so a pool of as many connections as workers
 * gives each worker its own without opening one per request. Connections are opened on demand,
 * up to max, and kept open (a lost PostgreSQL connection is made again at its next use, see
 * tandem_sql_begin). On SQLite the pool's connections are readers and writers of one file like
 * any other (WAL).
 */
struct tandem_sql_pool;

/* A pool of at most max (> 0) connections to location, each opened with tandem_sql_open
 * (schema_sql, schema_pg: the first open runs them; the strings are copied). Opens one at once
 * to check the location and the schema. Returns 0 and *out; TANDEM_EINVAL; TANDEM_EIO. */
TANDEM_EXPORT int tandem_sql_pool_new(const char *location, const char *schema_sql,
                                      const char *schema_pg, int max, struct tandem_sql_pool **out);

/* Takes an idle connection, opening one when none is idle and fewer than max are open, else
 * waiting up to timeout_ms (< 0: no limit) for one to come back. Any thread. Returns 0 and *out;
 * TANDEM_ETIMEDOUT (all busy: answer 503); TANDEM_EIO (an open failed; logged); TANDEM_ECLOSED
 * (the pool is being freed). */
TANDEM_EXPORT int tandem_sql_pool_take(struct tandem_sql_pool *pool, int timeout_ms,
                                       struct tandem_sql **out);

/* Gives db back (statements finalized). A transaction left open is rolled back. */
TANDEM_EXPORT void tandem_sql_pool_give(struct tandem_sql_pool *pool, struct tandem_sql *db);

/* Counters: connections open now, taken now, takes that waited, takes that timed out. */
struct tandem_sql_pool_stats {
    uint64_t open, taken, waited, timeouts;
};
TANDEM_EXPORT void tandem_sql_pool_stats(struct tandem_sql_pool *pool,
                                         struct tandem_sql_pool_stats *out);

/* Closes every connection and frees pool; every taken connection must have been given back.
 * NULL is a no-op. */
TANDEM_EXPORT void tandem_sql_pool_free(struct tandem_sql_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
