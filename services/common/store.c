/*
 * store.c: a blog service's database (one SQLite file under the service's data directory, or the
 * PostgreSQL database TANDEM_DATABASE_URL names), shared by its instances, with libtandem's
 * group-commit writer, per-worker readers and the outbox relay; the schema's two dialects; and a
 * per-thread cache of prepared statements.
 *
 * The statement cache. Preparing a statement costs more than running the small queries a read
 * makes, so each thread keeps the statements it prepared, keyed by (connection, SQL text
 * address): every connection here is used by one thread only (a reader by its worker, the
 * writer's by the writer thread, a consumer's by its thread), so the cache needs no lock. A
 * connection's cached statements are finalized by blog_stmt_forget before it is closed, or by
 * libtandem when it closes a reader or the writer (both finalize the statements left on them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blog.h"

#define STMT_SLOTS 128 /* per thread; a service has a few dozen statements */

/* How often the relay looks for rows another instance committed (its own instance wakes it at
 * once): the bound on an event's delay from a write on another instance. */
#define RELAY_POLL_MS 20

struct stmt_slot {
    struct tandem_sql *db;
    const char *sql;
    struct tandem_sql_stmt *st;
};

static _Thread_local struct stmt_slot stmt_cache[STMT_SLOTS];

static size_t slot_of(const struct tandem_sql *db, const char *sql)
{
    uintptr_t h = (uintptr_t)sql * 0x9E3779B97F4A7C15u ^ (uintptr_t)db;
    return (size_t)(h >> 7) % STMT_SLOTS;
}

static struct tandem_sql_stmt *stmt_prepare(struct tandem_sql *db, const char *sql)
{
    struct tandem_sql_stmt *st = NULL;
    int rc = tandem_sql_prepare(db, sql, &st);
    if (rc != 0) {
        tandem_log_error(NULL, "blog: cannot prepare a statement", "\"error\":\"%s\"",
                         tandem_strerror(rc));
        return NULL;
    }
    return st;
}

struct tandem_sql_stmt *blog_stmt(struct tandem_sql *db, const char *sql)
{
    size_t i = slot_of(db, sql);
    for (size_t k = 0; k < STMT_SLOTS; k++, i = (i + 1) % STMT_SLOTS) {
        struct stmt_slot *s = &stmt_cache[i];
        if (s->db == db && s->sql == sql) {
            tandem_sql_reset(s->st);
            return s->st;
        }
        if (s->db == NULL) {
            struct tandem_sql_stmt *st = stmt_prepare(db, sql);
            if (st != NULL) {
                *s = (struct stmt_slot){db, sql, st};
            }
            return st;
        }
    }
    /* full (more statements than slots: a bug in the sizing): prepare and leak nothing by
     * replacing the home slot */
    struct stmt_slot *s = &stmt_cache[slot_of(db, sql)];
    tandem_sql_finalize(s->st);
    s->db = NULL;
    struct tandem_sql_stmt *st = stmt_prepare(db, sql);
    if (st != NULL) {
        *s = (struct stmt_slot){db, sql, st};
    }
    return st;
}

void blog_stmt_forget(struct tandem_sql *db)
{
    /* rebuild the table without db's entries: open addressing needs no tombstones then */
    struct stmt_slot keep[STMT_SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        if (stmt_cache[i].db == db) {
            tandem_sql_finalize(stmt_cache[i].st);
        } else if (stmt_cache[i].db != NULL) {
            keep[n++] = stmt_cache[i];
        }
    }
    memset(stmt_cache, 0, sizeof(stmt_cache));
    for (size_t k = 0; k < n; k++) {
        size_t i = slot_of(keep[k].db, keep[k].sql);
        while (stmt_cache[i].db != NULL) {
            i = (i + 1) % STMT_SLOTS;
        }
        stmt_cache[i] = keep[k];
    }
}

void blog_db_close(struct tandem_sql *db)
{
    if (db == NULL) {
        return;
    }
    /* Another thread's cache may still name db (the consumer thread's, stopped): it is never
     * used again, and tandem_sql_close finalizes every statement, cached ones included. The
     * calling thread's own entries are dropped so that a later connection at the same address
     * does not meet them. */
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        if (stmt_cache[i].db == db) {
            stmt_cache[i].db = NULL;
        }
    }
    tandem_sql_close(db);
}

const char *blog_col_text(struct tandem_sql_stmt *st, int i)
{
    const char *t = tandem_sql_column_text(st, i);
    return t != NULL ? t : "";
}

/* ---- the schema's two dialects -------------------------------------------------------------- */

struct text {
    char *p;
    size_t len, cap;
};

static int text_put(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            return -1;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

static bool word_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The PostgreSQL form of a line of an "all" block: SQLite's type words as PostgreSQL's. */
static int line_pg(struct text *t, const char *s, size_t n)
{
    static const struct {
        const char *from, *to;
    } words[] = {
        {"INTEGER PRIMARY KEY AUTOINCREMENT",
         "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
        {"INTEGER", "BIGINT"},
        {"BLOB", "BYTEA"},
    };
    size_t i = 0;
    while (i < n) {
        bool done = false;
        for (size_t w = 0; w < sizeof(words) / sizeof(words[0]) && !done; w++) {
            size_t wl = strlen(words[w].from);
            if (i + wl <= n && memcmp(s + i, words[w].from, wl) == 0 &&
                (i == 0 || !word_char(s[i - 1])) && (i + wl == n || !word_char(s[i + wl]))) {
                if (text_put(t, words[w].to, strlen(words[w].to)) != 0) {
                    return -1;
                }
                i += wl;
                done = true;
            }
        }
        if (!done) {
            if (text_put(t, s + i, 1) != 0) {
                return -1;
            }
            i++;
        }
    }
    return 0;
}

char *blog_schema_dialect(const char *schema, int backend)
{
    enum { ALL, SQLITE, POSTGRES } block = ALL;
    bool pg = backend == TANDEM_SQL_POSTGRES;
    struct text t = {0};
    if (text_put(&t, "", 0) != 0) {
        return NULL;
    }
    for (const char *line = schema; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);
        const char *m = line;
        while (m < line + n && (*m == ' ' || *m == '\t')) {
            m++;
        }
        static const char MARK[] = "-- dialect: ";
        if (strncmp(m, MARK, sizeof(MARK) - 1) == 0) {
            const char *d = m + sizeof(MARK) - 1;
            block = strncmp(d, "sqlite", 6) == 0     ? SQLITE
                    : strncmp(d, "postgres", 8) == 0 ? POSTGRES
                                                     : ALL;
        } else if (block == ALL && pg) {
            if (line_pg(&t, line, n) != 0) {
                goto fail;
            }
        } else if (block == ALL || (block == SQLITE && !pg) || (block == POSTGRES && pg)) {
            if (text_put(&t, line, n) != 0) {
                goto fail;
            }
        }
        line += n;
    }
    return t.p;
fail:
    free(t.p);
    return NULL;
}

/* mkdir -p dir (owner-only: a service's data is its own). Returns 0 or TANDEM_EIO. */
static int mkdirs(const char *dir)
{
    char buf[4096];
    int n = snprintf(buf, sizeof(buf), "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        return TANDEM_EINVAL;
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return TANDEM_EIO;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0700) == 0 || errno == EEXIST ? 0 : TANDEM_EIO;
}

static void store_stop(void *arg)
{
    blog_store_free(arg);
}

void blog_store_free(struct blog_store *st)
{
    if (st == NULL) {
        return;
    }
    tandem_db_writer_free(st->writer); /* its last batches may add outbox rows */
    if (tandem_outbox_relay_stop(st->relay, 5000) != 0) {
        tandem_log_warn(NULL, "blog: outbox relay stopped with reports missing", NULL);
    }
    free(st->location);
    free(st);
}

int blog_store_open(struct tandem_service *svc, const char *file, const char *schema,
                    struct blog_store **out)
{
    if (tandem_service_help_asked(svc)) {
        *out = NULL; /* --help: tandem_service_run lists the options, nothing is opened */
        return 0;
    }
    const char *dir = tandem_service_config(svc, "data-dir");
    struct blog_store *st = calloc(1, sizeof(*st));
    char *path = NULL, *schema_sql = NULL, *schema_pg = NULL;
    size_t n = strlen(dir) + strlen(file) + 2;
    int rc = TANDEM_ENOMEM;
    if (st == NULL || (path = malloc(n)) == NULL) {
        goto fail;
    }
    snprintf(path, n, "%s/%s", dir, file);
    const char *location = tandem_sql_location(path);
    if ((st->location = strdup(location)) == NULL ||
        (schema_sql = blog_schema_dialect(schema, TANDEM_SQL_SQLITE)) == NULL ||
        (schema_pg = blog_schema_dialect(schema, TANDEM_SQL_POSTGRES)) == NULL) {
        goto fail;
    }
    if (!tandem_sql_is_postgres(location) && (rc = mkdirs(dir)) != 0) {
        goto fail;
    }
    struct tandem_producer *p = tandem_service_producer(svc);
    if (p == NULL) {
        rc = TANDEM_EIO; /* logged */
        goto fail;
    }
    rc = tandem_outbox_relay_start(location, p, RELAY_POLL_MS, &st->relay);
    if (rc != 0) {
        goto fail;
    }
    struct tandem_db_writer_config wc = {
        .path = location, .schema_sql = schema_sql, .schema_pg = schema_pg, .relay = st->relay};
    rc = tandem_db_writer_new(&wc, &st->writer);
    if (rc != 0) {
        goto fail;
    }
    tandem_service_on_stop(svc, store_stop, st);
    free(path);
    free(schema_sql);
    free(schema_pg);
    *out = st;
    return 0;
fail:
    tandem_log_error(NULL, "blog: cannot open the database",
                     "\"file\":\"%s\",\"postgres\":%s,\"error\":\"%s\"", file,
                     tandem_sql_is_postgres(tandem_sql_location(file)) ? "true" : "false",
                     tandem_strerror(rc));
    if (st != NULL) {
        tandem_outbox_relay_stop(st->relay, 0);
        free(st->location);
        free(st);
    }
    free(path);
    free(schema_sql);
    free(schema_pg);
    return rc;
}

struct tandem_sql *blog_reader(struct tandem_http_request *req, struct blog_store *st)
{
    struct tandem_sql *db = NULL;
    int rc = tandem_db_reader_sql(st->writer, &db);
    if (rc != 0) {
        blog_store_failed(req, rc == TANDEM_EIO ? TANDEM_EAGAIN : rc);
        return NULL;
    }
    return db;
}

int blog_write(struct blog_store *st, tandem_sql_job_fn job, tandem_db_done_fn done, void *arg)
{
    return tandem_db_write_sql(st->writer, job, done, arg);
}

int blog_store_connect(struct blog_store *st, struct tandem_sql **out)
{
    int rc = tandem_sql_open(st->location, NULL, NULL, out);
    if (rc != 0) {
        tandem_log_error(NULL, "blog: cannot connect to the database", "\"error\":\"%s\"",
                         tandem_strerror(rc));
    }
    return rc;
}
