/*
 * store.c: a blog service's database: one SQLite file under the service's data directory,
 * shared by its instances, with libtandem's group-commit writer, per-worker readers and the
 * outbox relay; and a per-thread cache of prepared statements.
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
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt *st;
};

static _Thread_local struct stmt_slot stmt_cache[STMT_SLOTS];

static size_t slot_of(const sqlite3 *db, const char *sql)
{
    uintptr_t h = (uintptr_t)sql * 0x9E3779B97F4A7C15u ^ (uintptr_t)db;
    return (size_t)(h >> 7) % STMT_SLOTS;
}

sqlite3_stmt *blog_stmt(sqlite3 *db, const char *sql)
{
    size_t i = slot_of(db, sql);
    for (size_t k = 0; k < STMT_SLOTS; k++, i = (i + 1) % STMT_SLOTS) {
        struct stmt_slot *s = &stmt_cache[i];
        if (s->db == db && s->sql == sql) {
            sqlite3_reset(s->st);
            sqlite3_clear_bindings(s->st);
            return s->st;
        }
        if (s->db == NULL) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
                SQLITE_OK) {
                tandem_log_error(NULL, "blog: cannot prepare a statement", "\"error\":\"%s\"",
                                 sqlite3_errmsg(db));
                return NULL;
            }
            s->db = db;
            s->sql = sql;
            s->st = st;
            return st;
        }
    }
    /* full (more statements than slots: a bug in the sizing): prepare and leak nothing by
     * replacing the home slot */
    struct stmt_slot *s = &stmt_cache[slot_of(db, sql)];
    sqlite3_finalize(s->st);
    s->db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        return NULL;
    }
    *s = (struct stmt_slot){db, sql, st};
    return st;
}

void blog_stmt_forget(sqlite3 *db)
{
    /* rebuild the table without db's entries: open addressing needs no tombstones then */
    struct stmt_slot keep[STMT_SLOTS];
    size_t n = 0;
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        if (stmt_cache[i].db == db) {
            sqlite3_finalize(stmt_cache[i].st);
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

void blog_db_close(sqlite3 *db)
{
    if (db == NULL) {
        return;
    }
    sqlite3_stmt *st;
    while ((st = sqlite3_next_stmt(db, NULL)) != NULL) {
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

const char *blog_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? (const char *)t : "";
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
        tandem_log_warn(NULL, "blog: outbox relay stopped with reports missing", "\"db\":\"%s\"",
                        st->path);
    }
    free(st->path);
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
    size_t n = strlen(dir) + strlen(file) + 2;
    int rc = TANDEM_ENOMEM;
    if (st == NULL || (st->path = malloc(n)) == NULL) {
        goto fail;
    }
    snprintf(st->path, n, "%s/%s", dir, file);
    rc = mkdirs(dir);
    if (rc != 0) {
        goto fail;
    }
    struct tandem_producer *p = tandem_service_producer(svc);
    if (p == NULL) {
        rc = TANDEM_EIO; /* logged */
        goto fail;
    }
    rc = tandem_outbox_relay_start(st->path, p, RELAY_POLL_MS, &st->relay);
    if (rc != 0) {
        goto fail;
    }
    struct tandem_db_writer_config wc = {
        .path = st->path, .schema_sql = schema, .relay = st->relay};
    rc = tandem_db_writer_new(&wc, &st->writer);
    if (rc != 0) {
        goto fail;
    }
    tandem_service_on_stop(svc, store_stop, st);
    *out = st;
    return 0;
fail:
    tandem_log_error(NULL, "blog: cannot open the database", "\"file\":\"%s\",\"error\":\"%s\"",
                     file, tandem_strerror(rc));
    if (st != NULL) {
        tandem_outbox_relay_stop(st->relay, 0);
        free(st->path);
        free(st);
    }
    return rc;
}

sqlite3 *blog_reader(struct tandem_http_request *req, struct blog_store *st)
{
    sqlite3 *db = NULL;
    int rc = tandem_db_reader(st->writer, &db);
    if (rc != 0) {
        blog_store_failed(req, rc == TANDEM_EIO ? TANDEM_EAGAIN : rc);
        return NULL;
    }
    return db;
}
