/*
 * tandem sql, private: the backend vtable behind include/tandem/sql.h. sql.c holds the public
 * functions (they check their arguments and dispatch), the placeholder rewriting and the SQLite
 * backend; sql_pg.c the PostgreSQL one. A backend's connection and statement structs begin with
 * struct tandem_sql / struct tandem_sql_stmt.
 */
#ifndef TANDEM_SQL_INT_H
#define TANDEM_SQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "tandem/sql.h"

#define SQL_MAX_PARAMS 64

struct sql_ops {
    void (*close)(struct tandem_sql *db);
    int (*exec)(struct tandem_sql *db, const char *sql);
    int (*prepare)(struct tandem_sql *db, const char *sql, struct tandem_sql_stmt **out);
    /* kind: 'i' int64, 't' text, 'b' blob, 'n' null */
    int (*bind)(struct tandem_sql_stmt *st, int i, int kind, int64_t v, const void *p, size_t n);
    int (*step)(struct tandem_sql_stmt *st);
    int (*column_null)(struct tandem_sql_stmt *st, int i);
    int64_t (*column_int64)(struct tandem_sql_stmt *st, int i);
    const char *(*column_text)(struct tandem_sql_stmt *st, int i);
    const void *(*column_blob)(struct tandem_sql_stmt *st, int i, size_t *len);
    void (*reset)(struct tandem_sql_stmt *st);
    void (*finalize)(struct tandem_sql_stmt *st);
    int64_t (*changes)(struct tandem_sql *db);
    int (*begin)(struct tandem_sql *db);
    /* *unknown = true when COMMIT was sent and the connection went down before its answer */
    int (*commit)(struct tandem_sql *db, bool *unknown);
    int (*rollback)(struct tandem_sql *db);
    int (*txn_state)(struct tandem_sql *db);
    /* 1 when the connection is lost (PostgreSQL), 0 otherwise */
    int (*lost)(struct tandem_sql *db);
};

struct tandem_sql {
    const struct sql_ops *ops;
    /* prepared and not finalized (tandem_sql_close finalizes them) */
    struct tandem_sql_stmt *stmts;
    int backend;         /* enum tandem_sql_backend */
    bool closing;        /* tandem_sql_close is finalizing the statements left */
    uint64_t reconnects; /* PostgreSQL: times the connection was made again (a new session: its
                            advisory locks are gone) */
    bool retryable;      /* the last statement failed as a deadlock's victim or a serialization
                            failure (PostgreSQL): running the work again is the remedy */
    bool cacheable;      /* a connection that lives on (not one borrowed for a call): libtandem's
                            own statements are kept prepared on it (sql_stmt_get) */
    struct tandem_sql_stmt *cache[4]; /* enum sql_cached */
};

/* libtandem's statements run at every write or event: kept prepared per connection. */
enum sql_cached {
    SQL_CACHED_OUTBOX_ADD,
    SQL_CACHED_COMMIT_TOKEN,
    SQL_CACHED_PROCESSED_LOOKUP,
    SQL_CACHED_PROCESSED_INSERT,
};

/* libtandem's statement of that slot and text on db, ready to bind (bindings of the last run
 * kept: bind every parameter): kept prepared on a cacheable connection (so PostgreSQL prepares it
 * on the server at its second run; tandem_sql_close finalizes it), prepared anew on one borrowed
 * for a call. Give it back with sql_stmt_put. 0 and *out, or an error. */
int sql_stmt_get(struct tandem_sql *db, enum sql_cached slot, const char *sql,
                 struct tandem_sql_stmt **out);
/* Resets st (kept) or finalizes it (borrowed connection). */
void sql_stmt_put(struct tandem_sql_stmt *st);

struct tandem_sql_stmt {
    struct tandem_sql *db;
    struct tandem_sql_stmt *prev, *next; /* db->stmts */
};

/* The SQLite backend over db; owned: tandem_sql_close closes db. The struct may live on the
 * stack (sql_lite_init) for the sqlite3-based wrappers of store.h. */
struct sql_lite {
    struct tandem_sql base;
    sqlite3 *db;
    bool owned; /* close db with the struct */
    bool heap;  /* free the struct at close (not one on a caller's stack) */
};
void sql_lite_init(struct sql_lite *s, sqlite3 *db, bool owned);

/* The same on the heap, for a connection that lives on (closed by tandem_sql_close; its
 * statements cacheable). */
struct tandem_sql *sql_lite_new(sqlite3 *db, bool owned);

/*
 * Rewrites SQLite placeholders ("?NNN", "?") into PostgreSQL's ("$NNN") outside '...' strings,
 * "..." identifiers and -- or / * comments. Returns a malloc'd string and the highest parameter
 * number in *nparams, or NULL when a number is above SQL_MAX_PARAMS (or 0).
 */
char *sql_placeholders_pg(const char *sql, int *nparams);

/* Connects to a PostgreSQL URL. Returns 0 and *out; TANDEM_EIO (logged). */
int sql_pg_open(const char *url, struct tandem_sql **out);

/* 1 when db's connection is lost (PostgreSQL; the write may be run again on a new one). */
static inline int sql_lost(struct tandem_sql *db)
{
    return db->ops->lost(db);
}

/* COMMIT, telling an unknown outcome apart (see sql_ops.commit). */
static inline int sql_commit(struct tandem_sql *db, bool *unknown)
{
    *unknown = false;
    return db->ops->commit(db, unknown);
}

#endif
