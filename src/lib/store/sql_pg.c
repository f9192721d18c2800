/*
 * tandem sql: the PostgreSQL backend (libpq), chosen by tandem_sql_open for a postgres:// URL.
 *
 * Model. One PGconn per struct tandem_sql, used by one thread. A statement keeps its SQL with
 * the placeholders rewritten ("?N" -> "$N"), and its parameters as strings: integers in decimal
 * text and text as is, both with type 0 (the server infers it from the context, as SQLite would
 * take any value), blobs in binary format typed bytea. tandem_sql_step runs it with
 * PQexecParams at the first step and then walks the rows of the result (text format; a bytea
 * column is unescaped with PQunescapeBytea when read as a blob).
 *
 * Server-side prepared statements. A statement run once (most of the store's: prepared, stepped,
 * finalized) is sent with PQexecParams: one round trip, parsed and planned there. A statement
 * run again (reset and stepped: the services' cached statements) is prepared on the server at
 * its second run (PQprepare, named "t<n>" by a per-connection counter) and run with
 * PQexecPrepared from then on, so the server parses it once per connection instead of at every
 * request. A reconnection loses the server's statements: the connection's generation (its
 * reconnects) tells a statement to prepare again. Finalizing a prepared statement sends
 * DEALLOCATE when the connection is usable and no transaction failed (else the name is left to
 * the session's end: names are never reused).
 *
 * Lost connections. libpq marks a connection CONNECTION_BAD once the server is gone (the backend
 * killed, the server restarted, the network cut). Outside a transaction, the next statement or
 * BEGIN reconnects first (PQreset): a statement that failed that way is not run again here, its
 * outcome being unknown (tandem_sql_write runs a whole transaction again, safely). A session the
 * server ended while the connection sat idle (a terminated backend sends FATAL, then closes; a
 * killed one just closes) is found before the next statement is sent: pg_ensure reads and parses
 * what arrived (without blocking), so that statement runs on a new connection rather than fail.
 * Inside a transaction, the transaction is gone: the state reads FAILED until rollback, which
 * only forgets it. libpq's notices go to the log as JSON lines (pg_notice).
 *
 *   parameters   FORMAT  TYPE
 *   int64        text    0 (inferred)
 *   text         text    0 (inferred)
 *   blob         binary  17 (bytea)
 *   null         -       0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/log.h"
#include "common/mem.h"
#include "sql_int.h"

#define PG_BYTEA_OID 17

struct sql_pg {
    struct tandem_sql base;
    PGconn *conn;
    uint64_t names; /* server-side statements named so far ("t<n>") */
    bool in_txn;    /* BEGIN sent, no COMMIT or ROLLBACK since */
    bool fatal;     /* the server said FATAL outside a query: it ends the session (pg_notice) */
    bool generic;   /* the session forces generic plans (pg_session) */
    int64_t changes;
};

struct sql_pg_stmt {
    struct tandem_sql_stmt base;
    char *sql;
    int nparams;
    char *vals[SQL_MAX_PARAMS];
    int lens[SQL_MAX_PARAMS];
    int fmts[SQL_MAX_PARAMS];
    Oid types[SQL_MAX_PARAMS];
    PGresult *res; /* NULL: not run since the last reset */
    uint64_t runs; /* executions so far */
    char name[24]; /* the server-side statement's name; "" when not prepared there */
    uint64_t gen;  /* the connection's reconnects when it was prepared there */
    int row, nrows;
    unsigned char **blobs; /* the current row's unescaped bytea columns, by column */
    size_t *blob_lens;
    int nblobs;
};

static struct sql_pg *pg_of(struct tandem_sql *db)
{
    return (struct sql_pg *)db;
}

static struct sql_pg_stmt *pst(struct tandem_sql_stmt *st)
{
    return (struct sql_pg_stmt *)st;
}

static void pg_log(const char *msg, const char *err)
{
    char buf[512];
    log_error(msg, "\"postgres\":%s", log_json_str(buf, sizeof(buf), err ? err : "?"));
}

/* A session's settings, at connect and after a reconnection: warnings and worse only, and
 * (generic) plan_cache_mode = force_generic_plan. The statements libtandem prepares on the server
 * are a service's short OLTP queries; with the default (auto) PostgreSQL plans each of the first
 * five runs, then keeps planning at every run whenever the generic plan's estimate looks dearer,
 * which a page with LIMIT/OFFSET and subqueries always does: bench/blog measured a list page's
 * backend CPU at 314 us a request, and 136 with generic plans (docs/benchmarks.md). A URL that
 * names plan_cache_mode itself (options=-c plan_cache_mode=auto) keeps its own. */
static void pg_session(PGconn *conn, bool generic)
{
    PQclear(PQexec(conn, generic ? "SET client_min_messages = warning;"
                                   " SET plan_cache_mode = force_generic_plan"
                                 : "SET client_min_messages = warning"));
}

/* Reconnects a lost connection outside a transaction. Returns 0 when connected. */
static int pg_ensure(struct sql_pg *p)
{
    if (!p->in_txn && PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) == PQTRANS_IDLE) {
        /* Read what the server sent while the connection sat idle (it does not block): a
         * backend terminated or killed leaves a FATAL message (logged by pg_notice) or an end of
         * file there, so a connection the server already dropped is found bad and made again
         * before a statement is sent on it, and that statement runs once, on the new one, instead
         * of failing. */
        if (PQconsumeInput(p->conn)) {
            PQisBusy(p->conn); /* parses what was read: a FATAL reaches pg_notice */
        }
    }
    if (PQstatus(p->conn) == CONNECTION_OK && !p->fatal) {
        return 0;
    }
    p->fatal = false;
    if (p->in_txn) {
        return TANDEM_EIO; /* the transaction is gone: roll back first */
    }
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        pg_log("sql: cannot reconnect to PostgreSQL", PQerrorMessage(p->conn));
        return TANDEM_EIO;
    }
    p->base.reconnects++;
    pg_session(p->conn, p->generic); /* a new session */
    log_info("sql: reconnected to PostgreSQL", NULL);
    return 0;
}

/* A result that is not what was wanted: logged, TANDEM_EEXIST for an integrity constraint
 * violation (SQLSTATE class 23), TANDEM_EIO otherwise. Clears res. */
static int pg_fail(struct sql_pg *p, PGresult *res, const char *msg)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int rc = state != NULL && strncmp(state, "23", 2) == 0 ? TANDEM_EEXIST : TANDEM_EIO;
    /* deadlock_detected, serialization_failure: the transaction lost a race, and running it
     * again is the remedy (tandem_sql_write, the writer): a warning, not an error */
    p->base.retryable =
        state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
    if (p->base.retryable) {
        char buf[512];
        log_warn(msg, "\"postgres\":%s", log_json_str(buf, sizeof(buf), PQresultErrorMessage(res)));
    } else if (rc == TANDEM_EIO) {
        pg_log(msg, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(p->conn));
    }
    PQclear(res);
    return rc;
}

static void pg_close(struct tandem_sql *db)
{
    PQfinish(pg_of(db)->conn);
    free(db);
}

static int pg_exec(struct tandem_sql *db, const char *sql)
{
    struct sql_pg *p = pg_of(db);
    p->base.retryable = false;
    if (pg_ensure(p) != 0) {
        return TANDEM_EIO;
    }
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        return pg_fail(p, res, "sql: exec");
    }
    PQclear(res);
    return 0;
}

static int pg_prepare(struct tandem_sql *db, const char *sql, struct tandem_sql_stmt **out)
{
    int n = 0;
    char *text = sql_placeholders_pg(sql, &n);
    if (text == NULL) {
        return TANDEM_EINVAL;
    }
    struct sql_pg_stmt *s = xcalloc(1, sizeof(*s));
    s->base.db = db;
    s->sql = text;
    s->nparams = n;
    *out = &s->base;
    return 0;
}

static void pg_clear_row(struct sql_pg_stmt *s)
{
    for (int i = 0; i < s->nblobs; i++) {
        PQfreemem(s->blobs[i]);
        s->blobs[i] = NULL;
    }
}

static void pg_reset(struct tandem_sql_stmt *st)
{
    struct sql_pg_stmt *s = pst(st);
    pg_clear_row(s);
    PQclear(s->res);
    s->res = NULL;
    s->row = s->nrows = 0;
}

static int pg_bind(struct tandem_sql_stmt *st, int i, int kind, int64_t v, const void *ptr,
                   size_t n)
{
    struct sql_pg_stmt *s = pst(st);
    if (i < 1 || i > s->nparams) {
        return TANDEM_ERANGE;
    }
    i--;
    free(s->vals[i]);
    s->vals[i] = NULL;
    s->lens[i] = 0;
    s->fmts[i] = 0;
    s->types[i] = 0;
    if (kind == 'i') {
        char buf[24];
        int len = snprintf(buf, sizeof(buf), "%" PRId64, v);
        s->vals[i] = xmalloc((size_t)len + 1);
        memcpy(s->vals[i], buf, (size_t)len + 1);
    } else if (kind == 't') {
        s->vals[i] = xmalloc(n + 1);
        memcpy(s->vals[i], ptr, n);
        s->vals[i][n] = '\0';
    } else if (kind == 'b') {
        s->vals[i] = xmalloc(n > 0 ? n : 1);
        if (n > 0) {
            memcpy(s->vals[i], ptr, n);
        }
        s->lens[i] = (int)n;
        s->fmts[i] = 1;
        s->types[i] = PG_BYTEA_OID;
    }
    return 0;
}

static int pg_step(struct tandem_sql_stmt *st)
{
    struct sql_pg_stmt *s = pst(st);
    struct sql_pg *p = pg_of(st->db);
    if (s->res != NULL) {
        pg_clear_row(s);
        s->row++;
        return s->row < s->nrows ? TANDEM_SQL_ROW : TANDEM_SQL_DONE;
    }
    if (pg_ensure(p) != 0) {
        return TANDEM_EIO;
    }
    p->base.retryable = false;
    PGresult *res = NULL;
    if (s->runs++ == 0) {
        res = PQexecParams(p->conn, s->sql, s->nparams, s->types, (const char *const *)s->vals,
                           s->lens, s->fmts, 0);
    } else {
        if (s->name[0] == '\0' || s->gen != p->base.reconnects) {
            char name[sizeof(s->name)];
            snprintf(name, sizeof(name), "t%" PRIu64, ++p->names);
            PGresult *pr = PQprepare(p->conn, name, s->sql, s->nparams, s->types);
            if (PQresultStatus(pr) != PGRES_COMMAND_OK) {
                return pg_fail(p, pr, "sql: prepare");
            }
            PQclear(pr);
            memcpy(s->name, name, sizeof(name));
            s->gen = p->base.reconnects;
        }
        res = PQexecPrepared(p->conn, s->name, s->nparams, (const char *const *)s->vals, s->lens,
                             s->fmts, 0);
    }
    ExecStatusType rs = PQresultStatus(res);
    if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
        return pg_fail(p, res, "sql: step");
    }
    const char *n = PQcmdTuples(res);
    if (n[0] != '\0') {
        p->changes = strtoll(n, NULL, 10);
    }
    s->res = res;
    s->row = 0;
    s->nrows = rs == PGRES_TUPLES_OK ? PQntuples(res) : 0;
    int cols = PQnfields(res);
    if (cols > s->nblobs) {
        s->blobs = xrealloc(s->blobs, (size_t)cols * sizeof(*s->blobs));
        s->blob_lens = xrealloc(s->blob_lens, (size_t)cols * sizeof(*s->blob_lens));
        memset(s->blobs + s->nblobs, 0, (size_t)(cols - s->nblobs) * sizeof(*s->blobs));
        s->nblobs = cols;
    }
    return s->nrows > 0 ? TANDEM_SQL_ROW : TANDEM_SQL_DONE;
}

static bool pg_has(struct sql_pg_stmt *s, int i)
{
    return s->res != NULL && s->row < s->nrows && i >= 0 && i < PQnfields(s->res);
}

static int pg_column_null(struct tandem_sql_stmt *st, int i)
{
    struct sql_pg_stmt *s = pst(st);
    return !pg_has(s, i) || PQgetisnull(s->res, s->row, i);
}

static int64_t pg_column_int64(struct tandem_sql_stmt *st, int i)
{
    struct sql_pg_stmt *s = pst(st);
    if (pg_column_null(st, i)) {
        return 0;
    }
    const char *v = PQgetvalue(s->res, s->row, i);
    if (v[0] == 't' && v[1] == '\0') { /* a boolean */
        return 1;
    }
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct tandem_sql_stmt *st, int i)
{
    struct sql_pg_stmt *s = pst(st);
    return pg_column_null(st, i) ? NULL : PQgetvalue(s->res, s->row, i);
}

static const void *pg_column_blob(struct tandem_sql_stmt *st, int i, size_t *len)
{
    struct sql_pg_stmt *s = pst(st);
    *len = 0;
    if (pg_column_null(st, i)) {
        return NULL;
    }
    const char *v = PQgetvalue(s->res, s->row, i);
    if (PQftype(s->res, i) != PG_BYTEA_OID) {
        *len = (size_t)PQgetlength(s->res, s->row, i);
        return v;
    }
    if (s->blobs[i] == NULL) {
        s->blobs[i] = PQunescapeBytea((const unsigned char *)v, &s->blob_lens[i]);
        if (s->blobs[i] == NULL) {
            abort(); /* out of memory (PQunescapeBytea's only failure): the project's policy */
        }
    }
    *len = s->blob_lens[i];
    return s->blobs[i];
}

static void pg_finalize(struct tandem_sql_stmt *st)
{
    struct sql_pg_stmt *s = pst(st);
    struct sql_pg *p = pg_of(st->db);
    pg_reset(st);
    if (s->name[0] != '\0' && !p->base.closing && s->gen == p->base.reconnects &&
        PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) != PQTRANS_INERROR) {
        char sql[40];
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
        PQclear(PQexec(p->conn, sql));
    }
    for (int i = 0; i < SQL_MAX_PARAMS; i++) {
        free(s->vals[i]);
    }
    free(s->blobs);
    free(s->blob_lens);
    free(s->sql);
    free(s);
}

static int64_t pg_changes(struct tandem_sql *db)
{
    return pg_of(db)->changes;
}

static int pg_begin(struct tandem_sql *db)
{
    struct sql_pg *p = pg_of(db);
    if (p->in_txn) {
        return TANDEM_EINVAL;
    }
    int rc = pg_exec(db, "BEGIN");
    if (rc == 0) {
        p->in_txn = true;
    }
    return rc;
}

static int pg_commit(struct tandem_sql *db, bool *unknown)
{
    struct sql_pg *p = pg_of(db);
    if (!p->in_txn) {
        return TANDEM_EINVAL;
    }
    p->in_txn = false;
    p->base.retryable = false;
    if (PQstatus(p->conn) != CONNECTION_OK) {
        return TANDEM_EIO; /* lost before COMMIT could be sent: not committed */
    }
    PGresult *res = PQexec(p->conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *unknown = PQstatus(p->conn) != CONNECTION_OK;
        return pg_fail(p, res, "sql: commit");
    }
    /* COMMIT of a failed transaction answers ROLLBACK */
    int rc = strcmp(PQcmdStatus(res), "COMMIT") == 0 ? 0 : TANDEM_EIO;
    PQclear(res);
    return rc;
}

static int pg_rollback(struct tandem_sql *db)
{
    struct sql_pg *p = pg_of(db);
    p->in_txn = false;
    if (PQstatus(p->conn) != CONNECTION_OK || PQtransactionStatus(p->conn) == PQTRANS_IDLE) {
        return 0; /* nothing to roll back (a lost connection took it) */
    }
    PGresult *res = PQexec(p->conn, "ROLLBACK");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : TANDEM_EIO;
    PQclear(res);
    return rc;
}

static int pg_txn_state(struct tandem_sql *db)
{
    struct sql_pg *p = pg_of(db);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        return p->in_txn ? TANDEM_SQL_FAILED : TANDEM_SQL_IDLE;
    }
    switch (PQtransactionStatus(p->conn)) {
    case PQTRANS_IDLE:
        return TANDEM_SQL_IDLE;
    case PQTRANS_INTRANS:
    case PQTRANS_ACTIVE:
        return TANDEM_SQL_ACTIVE;
    default:
        return TANDEM_SQL_FAILED;
    }
}

static int pg_lost(struct tandem_sql *db)
{
    return PQstatus(pg_of(db)->conn) != CONNECTION_OK;
}

static const struct sql_ops pg_ops = {
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind = pg_bind,
    .step = pg_step,
    .column_null = pg_column_null,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .changes = pg_changes,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .txn_state = pg_txn_state,
    .lost = pg_lost,
};

/* libpq's notices and the server's messages outside a query (a FATAL before it drops the
 * session) into the service's log, as JSON lines, instead of libpq's default: bare lines on
 * stderr. The message ends with a newline, which the JSON string escapes. */
static void pg_notice(void *arg, const char *message)
{
    struct sql_pg *p = arg;
    if (strncmp(message, "FATAL", 5) == 0) {
        p->fatal = true; /* the end of file follows: reconnect now rather than fail a statement */
    }
    char buf[512];
    log_warn("sql: PostgreSQL says", "\"postgres\":%s", log_json_str(buf, sizeof(buf), message));
}

int sql_pg_open(const char *url, struct tandem_sql **out)
{
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        pg_log("sql: cannot connect to PostgreSQL", PQerrorMessage(conn));
        PQfinish(conn);
        return TANDEM_EIO;
    }
    struct sql_pg *p = xcalloc(1, sizeof(*p));
    p->generic = strstr(url, "plan_cache_mode") == NULL;
    p->base.cacheable = true;
    pg_session(conn, p->generic);
    PQsetNoticeProcessor(conn, pg_notice, p);
    p->base.ops = &pg_ops;
    p->base.backend = TANDEM_SQL_POSTGRES;
    p->conn = conn;
    *out = &p->base;
    return 0;
}
