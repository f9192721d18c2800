/*
 * tandem sql: the database interface (include/tandem/sql.h) and its SQLite backend.
 *
 * Model. A connection is a struct tandem_sql whose first member points at its backend's table
 * of operations (sql_int.h): the public functions check their arguments and go through it, so
 * the store and the services are written once against this file and run on SQLite or on
 * PostgreSQL (sql_pg.c) by the location they open. The SQLite backend is a thin coat over a
 * sqlite3 connection opened by tandem_db_open (WAL, synchronous=FULL, tandem's tables), or
 * borrowed from a caller of the sqlite3-based store.h functions (sql_lite_init, on the stack).
 *
 * Dialects. Statements use SQLite's placeholders; sql_placeholders_pg rewrites them for
 * PostgreSQL. What the two engines spell differently in the schemas (INTEGER PRIMARY KEY
 * AUTOINCREMENT against BIGSERIAL, BLOB against BYTEA) is given twice, once per backend, to
 * tandem_sql_open; queries are shared. tandem's own tables are in store_schema below (the one
 * place libtandem's SQL differs) and in the docs (docs/internals/sql.md).
 *
 * tandem_sql_write is the write path that survives a lost PostgreSQL connection: see its
 * contract in sql.h and the commit token below.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "events_int.h"
#include "sql_int.h"
#include "store_int.h"
#include "tandem/store.h"

/* ---- placeholders ------------------------------------------------------------------------- */

char *sql_placeholders_pg(const char *sql, int *nparams)
{
    size_t len = strlen(sql);
    char *out = xmalloc(len * 3 + 1); /* "?" -> "$NN": at most 3 bytes for 1 (numbers <= 64) */
    size_t o = 0;
    int max = 0;
    char quote = 0; /* ', " or 0 */
    for (size_t i = 0; i < len; i++) {
        char c = sql[i];
        if (quote != 0) {
            out[o++] = c;
            if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            out[o++] = c;
            continue;
        }
        if (c == '-' && sql[i + 1] == '-') { /* to the end of the line */
            while (i < len && sql[i] != '\n') {
                out[o++] = sql[i++];
            }
            if (i < len) {
                out[o++] = '\n';
            }
            continue;
        }
        if (c == '/' && sql[i + 1] == '*') {
            const char *end = strstr(sql + i + 2, "*/");
            size_t stop = end != NULL ? (size_t)(end - sql) + 2 : len;
            memcpy(out + o, sql + i, stop - i);
            o += stop - i;
            i = stop - 1;
            continue;
        }
        if (c != '?') {
            out[o++] = c;
            continue;
        }
        int n = 0;
        size_t j = i + 1;
        while (j < len && sql[j] >= '0' && sql[j] <= '9' && n <= SQL_MAX_PARAMS) {
            n = n * 10 + (sql[j] - '0');
            j++;
        }
        if (j == i + 1) {
            n = max + 1; /* a bare "?": SQLite numbers it after the largest so far */
        }
        if (n < 1 || n > SQL_MAX_PARAMS) {
            free(out);
            return NULL;
        }
        max = n > max ? n : max;
        o += (size_t)snprintf(out + o, 4, "$%d", n);
        i = j - 1;
    }
    out[o] = '\0';
    *nparams = max;
    return out;
}

/* ---- the SQLite backend ------------------------------------------------------------------- */

struct sql_lite_stmt {
    struct tandem_sql_stmt base;
    sqlite3_stmt *st;
};

static sqlite3 *lite_db(struct tandem_sql *db)
{
    return ((struct sql_lite *)db)->db;
}

static sqlite3_stmt *lite_st(struct tandem_sql_stmt *st)
{
    return ((struct sql_lite_stmt *)st)->st;
}

static void lite_close(struct tandem_sql *db)
{
    struct sql_lite *s = (struct sql_lite *)db;
    if (s->owned) {
        sqlite3_close(s->db);
    }
    if (s->heap) {
        free(s);
    }
}

static int lite_exec(struct tandem_sql *db, const char *sql)
{
    return store_exec(lite_db(db), sql, "sql: exec");
}

static int lite_prepare(struct tandem_sql *db, const char *sql, struct tandem_sql_stmt **out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(lite_db(db), sql, -1, &st, NULL) != SQLITE_OK) {
        return store_fail(lite_db(db), "sql: prepare");
    }
    struct sql_lite_stmt *s = xcalloc(1, sizeof(*s));
    s->base.db = db;
    s->st = st;
    *out = &s->base;
    return 0;
}

static int lite_bind(struct tandem_sql_stmt *st, int i, int kind, int64_t v, const void *p,
                     size_t n)
{
    sqlite3_stmt *s = lite_st(st);
    int rc;
    if (kind == 'i') {
        rc = sqlite3_bind_int64(s, i, v);
    } else if (kind == 't') {
        rc = sqlite3_bind_text(s, i, p, -1, SQLITE_TRANSIENT);
    } else if (kind == 'b') {
        rc = sqlite3_bind_blob64(s, i, n > 0 ? p : "", n, SQLITE_TRANSIENT);
    } else {
        rc = sqlite3_bind_null(s, i);
    }
    return rc == SQLITE_OK ? 0 : TANDEM_ERANGE;
}

static int lite_step(struct tandem_sql_stmt *st)
{
    int rc = sqlite3_step(lite_st(st));
    if (rc == SQLITE_ROW) {
        return TANDEM_SQL_ROW;
    }
    if (rc == SQLITE_DONE) {
        return TANDEM_SQL_DONE;
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return TANDEM_EEXIST;
    }
    return store_fail(lite_db(st->db), "sql: step");
}

static int lite_column_null(struct tandem_sql_stmt *st, int i)
{
    return sqlite3_column_type(lite_st(st), i) == SQLITE_NULL;
}

static int64_t lite_column_int64(struct tandem_sql_stmt *st, int i)
{
    return sqlite3_column_int64(lite_st(st), i);
}

static const char *lite_column_text(struct tandem_sql_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(lite_st(st), i);
}

static const void *lite_column_blob(struct tandem_sql_stmt *st, int i, size_t *len)
{
    if (sqlite3_column_type(lite_st(st), i) == SQLITE_NULL) {
        *len = 0;
        return NULL;
    }
    const void *p = sqlite3_column_blob(lite_st(st), i);
    *len = (size_t)sqlite3_column_bytes(lite_st(st), i);
    return p != NULL ? p : "";
}

static void lite_reset(struct tandem_sql_stmt *st)
{
    sqlite3_reset(lite_st(st));
}

static void lite_finalize(struct tandem_sql_stmt *st)
{
    sqlite3_finalize(lite_st(st));
    free(st);
}

static int64_t lite_changes(struct tandem_sql *db)
{
    return sqlite3_changes64(lite_db(db));
}

static int lite_begin(struct tandem_sql *db)
{
    return store_exec(lite_db(db), "BEGIN IMMEDIATE", "sql: begin");
}

static int lite_commit(struct tandem_sql *db, bool *unknown)
{
    (void)unknown; /* SQLite answers every COMMIT */
    return store_exec(lite_db(db), "COMMIT", "sql: commit");
}

static int lite_rollback(struct tandem_sql *db)
{
    if (sqlite3_get_autocommit(lite_db(db))) {
        return 0;
    }
    return store_exec(lite_db(db), "ROLLBACK", "sql: rollback");
}

static int lite_txn_state(struct tandem_sql *db)
{
    return sqlite3_get_autocommit(lite_db(db)) ? TANDEM_SQL_IDLE : TANDEM_SQL_ACTIVE;
}

static int lite_lost(struct tandem_sql *db)
{
    (void)db;
    return 0;
}

static const struct sql_ops lite_ops = {
    .close = lite_close,
    .exec = lite_exec,
    .prepare = lite_prepare,
    .bind = lite_bind,
    .step = lite_step,
    .column_null = lite_column_null,
    .column_int64 = lite_column_int64,
    .column_text = lite_column_text,
    .column_blob = lite_column_blob,
    .reset = lite_reset,
    .finalize = lite_finalize,
    .changes = lite_changes,
    .begin = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .txn_state = lite_txn_state,
    .lost = lite_lost,
};

void sql_lite_init(struct sql_lite *s, sqlite3 *db, bool owned)
{
    s->base.ops = &lite_ops;
    s->base.stmts = NULL;
    s->base.reconnects = 0;
    s->base.closing = false;
    s->base.cacheable = false; /* set by the owners of connections that live on */
    s->base.retryable = false;
    memset(s->base.cache, 0, sizeof(s->base.cache));
    s->base.backend = TANDEM_SQL_SQLITE;
    s->db = db;
    s->owned = owned;
    s->heap = false;
}

struct tandem_sql *sql_lite_new(sqlite3 *db, bool owned)
{
    struct sql_lite *s = xcalloc(1, sizeof(*s));
    sql_lite_init(s, db, owned);
    s->heap = true;
    s->base.cacheable = true;
    return &s->base;
}

/* ---- opening ------------------------------------------------------------------------------ */

const char *tandem_sql_location(const char *sqlite_path)
{
    const char *url = getenv("TANDEM_DATABASE_URL");
    return url != NULL && url[0] != '\0' ? url : sqlite_path;
}

int tandem_sql_is_postgres(const char *location)
{
    return location != NULL && (strncmp(location, "postgres://", 11) == 0 ||
                                strncmp(location, "postgresql://", 13) == 0);
}

/* tandem's tables on PostgreSQL: store.h's, in PostgreSQL's dialect (BIGSERIAL, BYTEA, BIGINT),
 * tandem_commits, the commit tokens of tandem_sql_write (see below), and tandem_schemas, the
 * digests of the schema texts applied (pg_schema). The SQLite ones are in db.c. Run in one
 * transaction under an advisory lock (instances opening at once), once per text (pg_schema). */
static const char STORE_SCHEMA_PG[] =
    "CREATE TABLE IF NOT EXISTS tandem_processed_events ("
    " consumer_group TEXT NOT NULL, event_source TEXT, event_id TEXT NOT NULL,"
    " processed_at BIGINT NOT NULL, UNIQUE (consumer_group, event_id, event_source));"
    "CREATE INDEX IF NOT EXISTS tandem_processed_events_at"
    " ON tandem_processed_events(processed_at);"
    "CREATE TABLE IF NOT EXISTS tandem_outbox ("
    " seq BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, key BYTEA, type TEXT NOT NULL,"
    " subject TEXT, event_id TEXT NOT NULL, traceparent TEXT, data BYTEA,"
    " created_at BIGINT NOT NULL, sent_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS tandem_outbox_unsent ON tandem_outbox(seq)"
    " WHERE sent_at IS NULL;"
    "CREATE TABLE IF NOT EXISTS tandem_commits (token TEXT PRIMARY KEY, at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tandem_schemas (digest TEXT PRIMARY KEY, at BIGINT NOT NULL);";

/* The advisory lock key of schema creation ("tandem" in ASCII). */
#define SQL_SCHEMA_LOCK "116971110100101109"

/* The digest of the schema text a connection would run: FNV-1a 64 of tandem's and the caller's,
 * in hex. */
static void schema_digest(const char *schema_pg, char out[17])
{
    uint64_t h = 0xcbf29ce484222325u;
    const char *parts[2] = {STORE_SCHEMA_PG, schema_pg != NULL ? schema_pg : ""};
    for (int k = 0; k < 2; k++) {
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p != '\0'; p++) {
            h = (h ^ *p) * 0x100000001b3u;
        }
        h = (h ^ 0xff) * 0x100000001b3u; /* between the parts */
    }
    snprintf(out, 17, "%016" PRIx64, h);
}

/* 1 when a schema of this digest was applied (tandem_schemas has it), else 0 (not applied, or
 * the table does not exist yet: a fresh database). Outside a transaction. */
static int schema_applied(struct tandem_sql *db, const char *digest)
{
    struct tandem_sql_stmt *st = NULL;
    if (tandem_sql_prepare(db, "SELECT 1 WHERE to_regclass('tandem_schemas') IS NOT NULL", &st) !=
        0) {
        return 0;
    }
    int exists = tandem_sql_step(st) == TANDEM_SQL_ROW;
    tandem_sql_finalize(st);
    st = NULL;
    if (!exists ||
        tandem_sql_prepare(db, "SELECT 1 FROM tandem_schemas WHERE digest = ?1", &st) != 0) {
        return 0;
    }
    tandem_sql_bind_text(st, 1, digest);
    int found = tandem_sql_step(st) == TANDEM_SQL_ROW;
    tandem_sql_finalize(st);
    return found;
}

/*
 * Runs tandem's tables and schema_pg once per schema text and database. Running them at every
 * open, as on SQLite, deadlocks on PostgreSQL: CREATE INDEX IF NOT EXISTS takes a SHARE lock on
 * its table even when the index exists, so an instance starting beside running ones (a restart,
 * a scale-out) held one table's SHARE lock while waiting for another's, which a running writer
 * batch held while waiting for the first. So the digest of the text is recorded in
 * tandem_schemas with it, and an open that finds it there runs nothing: a first open (or a new
 * schema: an upgrade) is the only one that takes locks, under the advisory lock that keeps
 * instances from creating together.
 */
static int pg_schema(struct tandem_sql *db, const char *schema_pg)
{
    char digest[17];
    schema_digest(schema_pg, digest);
    if (schema_applied(db, digest)) {
        return 0;
    }
    struct tandem_sql_stmt *st = NULL;
    if (tandem_sql_begin(db) != 0 ||
        tandem_sql_exec(db, "SELECT pg_advisory_xact_lock(" SQL_SCHEMA_LOCK ")") != 0 ||
        tandem_sql_exec(db, STORE_SCHEMA_PG) != 0 ||
        (schema_pg != NULL && tandem_sql_exec(db, schema_pg) != 0) ||
        tandem_sql_prepare(db,
                           "INSERT INTO tandem_schemas (digest, at) VALUES (?1, ?2)"
                           " ON CONFLICT (digest) DO NOTHING",
                           &st) != 0) {
        tandem_sql_rollback(db);
        return TANDEM_EIO;
    }
    tandem_sql_bind_text(st, 1, digest);
    tandem_sql_bind_int64(st, 2, clock_wall_ms());
    int rc = tandem_sql_step(st) == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
    tandem_sql_finalize(st);
    if (rc != 0) {
        tandem_sql_rollback(db);
        return rc;
    }
    return tandem_sql_commit(db);
}

int tandem_sql_open(const char *location, const char *schema_sql, const char *schema_pg,
                    struct tandem_sql **out)
{
    if (location == NULL || out == NULL) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    if (tandem_sql_is_postgres(location)) {
        struct tandem_sql *db = NULL;
        int rc = sql_pg_open(location, &db);
        if (rc == 0 && (rc = pg_schema(db, schema_pg)) != 0) {
            tandem_sql_close(db);
        }
        if (rc == 0) {
            *out = db;
        }
        return rc;
    }
    sqlite3 *lite = NULL;
    int rc = tandem_db_open(location, schema_sql, &lite);
    if (rc != 0) {
        return rc;
    }
    *out = sql_lite_new(lite, true);
    return 0;
}

int tandem_sql_wrap_sqlite(struct sqlite3 *db, struct tandem_sql **out)
{
    if (db == NULL || out == NULL) {
        return TANDEM_EINVAL;
    }
    *out = sql_lite_new(db, false);
    return 0;
}

/* ---- the public functions ----------------------------------------------------------------- */

void tandem_sql_close(struct tandem_sql *db)
{
    if (db == NULL) {
        return;
    }
    db->closing = true; /* the server's statements go with the session: no DEALLOCATE */
    while (db->stmts != NULL) {
        tandem_sql_finalize(db->stmts);
    }
    db->ops->close(db);
}

int tandem_sql_backend(const struct tandem_sql *db)
{
    return db->backend;
}

struct sqlite3 *tandem_sql_sqlite(struct tandem_sql *db)
{
    return db != NULL && db->backend == TANDEM_SQL_SQLITE ? lite_db(db) : NULL;
}

int tandem_sql_exec(struct tandem_sql *db, const char *sql)
{
    if (db == NULL || sql == NULL) {
        return TANDEM_EINVAL;
    }
    return db->ops->exec(db, sql);
}

int tandem_sql_prepare(struct tandem_sql *db, const char *sql, struct tandem_sql_stmt **out)
{
    if (db == NULL || sql == NULL || out == NULL) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    int rc = db->ops->prepare(db, sql, out);
    if (rc == 0) {
        struct tandem_sql_stmt *st = *out;
        st->prev = NULL;
        st->next = db->stmts;
        if (db->stmts != NULL) {
            db->stmts->prev = st;
        }
        db->stmts = st;
    }
    return rc;
}

int tandem_sql_bind_int64(struct tandem_sql_stmt *st, int i, int64_t v)
{
    return st->db->ops->bind(st, i, 'i', v, NULL, 0);
}

int tandem_sql_bind_text(struct tandem_sql_stmt *st, int i, const char *s)
{
    if (s == NULL) {
        return st->db->ops->bind(st, i, 'n', 0, NULL, 0);
    }
    return st->db->ops->bind(st, i, 't', 0, s, strlen(s));
}

int tandem_sql_bind_blob(struct tandem_sql_stmt *st, int i, const void *p, size_t n)
{
    if (p == NULL) {
        return st->db->ops->bind(st, i, 'n', 0, NULL, 0);
    }
    return st->db->ops->bind(st, i, 'b', 0, p, n);
}

int tandem_sql_bind_null(struct tandem_sql_stmt *st, int i)
{
    return st->db->ops->bind(st, i, 'n', 0, NULL, 0);
}

int tandem_sql_step(struct tandem_sql_stmt *st)
{
    return st->db->ops->step(st);
}

int tandem_sql_column_null(struct tandem_sql_stmt *st, int i)
{
    return st->db->ops->column_null(st, i);
}

int64_t tandem_sql_column_int64(struct tandem_sql_stmt *st, int i)
{
    return st->db->ops->column_int64(st, i);
}

const char *tandem_sql_column_text(struct tandem_sql_stmt *st, int i)
{
    return st->db->ops->column_text(st, i);
}

const void *tandem_sql_column_blob(struct tandem_sql_stmt *st, int i, size_t *len)
{
    return st->db->ops->column_blob(st, i, len);
}

void tandem_sql_reset(struct tandem_sql_stmt *st)
{
    st->db->ops->reset(st);
}

int sql_stmt_get(struct tandem_sql *db, enum sql_cached slot, const char *sql,
                 struct tandem_sql_stmt **out)
{
    if (db->cacheable && db->cache[slot] != NULL) {
        *out = db->cache[slot];
        tandem_sql_reset(*out);
        return 0;
    }
    int rc = tandem_sql_prepare(db, sql, out);
    if (rc == 0 && db->cacheable) {
        db->cache[slot] = *out;
    }
    return rc;
}

void sql_stmt_put(struct tandem_sql_stmt *st)
{
    if (st == NULL) {
        return;
    }
    if (st->db->cacheable) {
        tandem_sql_reset(st);
    } else {
        tandem_sql_finalize(st);
    }
}

void tandem_sql_finalize(struct tandem_sql_stmt *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(st->db->cache) / sizeof(st->db->cache[0]); i++) {
        if (st->db->cache[i] == st) {
            st->db->cache[i] = NULL;
        }
    }
    if (st->prev != NULL) {
        st->prev->next = st->next;
    } else {
        st->db->stmts = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    st->db->ops->finalize(st);
}

int64_t tandem_sql_changes(struct tandem_sql *db)
{
    return db->ops->changes(db);
}

int tandem_sql_begin(struct tandem_sql *db)
{
    return db->ops->begin(db);
}

int tandem_sql_commit(struct tandem_sql *db)
{
    bool unknown = false;
    return db->ops->commit(db, &unknown);
}

int tandem_sql_rollback(struct tandem_sql *db)
{
    return db->ops->rollback(db);
}

int tandem_sql_txn_state(struct tandem_sql *db)
{
    return db->ops->txn_state(db);
}

/* ---- tandem_sql_write --------------------------------------------------------------------- */

/*
 * The commit token. PostgreSQL can lose a connection after it received COMMIT and before its
 * answer arrived: the transaction may have committed or not, and running it again blindly could
 * apply a write twice. So every attempt inserts the same random token into tandem_commits
 * (PRIMARY KEY) first. The next attempt's insert of that token then tells: a unique violation
 * means an earlier attempt committed (done, without running fn again); when the earlier
 * transaction is still finishing (its backend alive, its client gone), the insert waits for it,
 * as every insert of a duplicate key waits for the transaction holding it. Tokens older than an
 * hour (any retry is over within WRITE_RETRY_MS) are deleted every WRITE_PRUNE_EVERY writes.
 */
#define WRITE_RETRY_MS    10000
#define WRITE_PAUSE_MS    100
#define WRITE_PRUNE_EVERY 1024
#define TOKEN_TTL_MS      (3600 * 1000)

static _Thread_local uint64_t write_count;

/* Inserts token: 0, TANDEM_EEXIST (an earlier attempt committed), TANDEM_EIO. */
static int token_insert(struct tandem_sql *db, const char *token)
{
    struct tandem_sql_stmt *st = NULL;
    int rc = sql_stmt_get(db, SQL_CACHED_COMMIT_TOKEN,
                          "INSERT INTO tandem_commits (token, at) VALUES (?1, ?2)", &st);
    if (rc != 0) {
        return rc;
    }
    tandem_sql_bind_text(st, 1, token);
    tandem_sql_bind_int64(st, 2, clock_wall_ms());
    rc = tandem_sql_step(st);
    sql_stmt_put(st);
    return rc;
}

static void tokens_prune(struct tandem_sql *db)
{
    struct tandem_sql_stmt *st = NULL;
    if (tandem_sql_prepare(db, "DELETE FROM tandem_commits WHERE at < ?1", &st) == 0) {
        tandem_sql_bind_int64(st, 1, clock_wall_ms() - TOKEN_TTL_MS);
        tandem_sql_step(st);
    }
    tandem_sql_finalize(st);
}

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int tandem_sql_write(struct tandem_sql *db, tandem_sql_write_fn fn, void *arg)
{
    if (db == NULL || fn == NULL) {
        return TANDEM_EINVAL;
    }
    if (tandem_sql_txn_state(db) != TANDEM_SQL_IDLE) {
        return TANDEM_EINVAL;
    }
    bool pg = db->backend == TANDEM_SQL_POSTGRES;
    char token[EVENTS_UUID_SIZE];
    if (pg) {
        uint8_t rnd[16];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            return TANDEM_EIO;
        }
        events_uuid_format(rnd, token);
    }
    int64_t deadline = clock_mono_ms() + WRITE_RETRY_MS;
    bool sent_commit = false; /* an attempt's COMMIT went unanswered */
    bool raced = false;       /* the last attempt lost a deadlock or a serialization failure */
    for (int attempt = 1;; attempt++) {
        if (attempt > 1) {
            if (clock_mono_ms() >= deadline) {
                log_error("sql: write abandoned, the database stayed unreachable",
                          "\"attempts\":%d,\"outcome_known\":%s", attempt - 1,
                          sent_commit ? "false" : "true");
                return sent_commit ? TANDEM_ETIMEDOUT : TANDEM_EIO;
            }
            if (!raced) {
                log_warn("sql: connection lost during a write; running it again",
                         "\"attempt\":%d,\"commit_sent\":%s", attempt,
                         sent_commit ? "true" : "false");
            }
            pause_ms(attempt == 2 || raced ? 0 : WRITE_PAUSE_MS);
            raced = false;
        }
        int rc = tandem_sql_begin(db);
        if (rc != 0) {
            if (sql_lost(db)) {
                continue;
            }
            return TANDEM_EIO;
        }
        if (pg) {
            rc = token_insert(db, token);
            if (rc == TANDEM_EEXIST) { /* an earlier attempt committed */
                tandem_sql_rollback(db);
                log_info("sql: a write whose COMMIT went unanswered had committed", NULL);
                return 0;
            }
            if (rc != 0) {
                tandem_sql_rollback(db);
                if (sql_lost(db)) {
                    continue;
                }
                return TANDEM_EIO;
            }
        }
        rc = fn(db, arg);
        if (rc != 0 || tandem_sql_txn_state(db) != TANDEM_SQL_ACTIVE) {
            bool race = db->retryable;
            tandem_sql_rollback(db);
            if (sql_lost(db)) {
                continue;
            }
            if (race) { /* lost a deadlock: nothing of it stays; again, after the winner */
                log_info("sql: a write lost a deadlock; running it again", NULL);
                raced = true;
                continue;
            }
            return rc != 0 ? rc : TANDEM_EIO;
        }
        bool unknown = false;
        rc = sql_commit(db, &unknown);
        if (rc == 0) {
            if (pg && ++write_count % WRITE_PRUNE_EVERY == 0) {
                tokens_prune(db);
            }
            return 0;
        }
        if (unknown) {
            sent_commit = true;
        }
        if (!sql_lost(db) && !db->retryable) {
            return TANDEM_EIO;
        }
        raced = !sql_lost(db); /* a serialization failure at COMMIT: again */
    }
}
