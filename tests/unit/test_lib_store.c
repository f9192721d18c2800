/*
 * Unit tests of the SQLite reliability helpers (src/lib/store/, include/tandem/store.h) on temp
 * database files: the idempotent consumer calls its handler once per (group, source, id) and a
 * schema 1 database (no source) is migrated and still deduplicates, a RETRY or
 * FAIL leaves no trace, ids of non-CloudEvents records come from their coordinates, pruning by
 * age; tandem_outbox_add refuses to run outside a transaction, and its row commits or rolls
 * back together with the caller's state change. The relay is exercised against a real broker by
 * tests/integration/lib_store.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tandem/store.h"

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, n INT);";

struct fixture {
    char dir[64];
    char path[96];
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tandem-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    if (tandem_db_open(f->path, SCHEMA, &f->db) != 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[128];
    sqlite3_close(f->db);
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static int64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    }
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

struct handler_state {
    int calls;
    int answer;
};

/* Inserts one post (its writes must share the idempotent transaction) and answers h->answer. */
static int insert_post(sqlite3 *db, const struct tandem_event *ev, void *arg)
{
    struct handler_state *h = arg;
    h->calls++;
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT INTO posts (n) VALUES (%d)", h->calls);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return h->answer;
}

static void test_idempotent_once(void **state)
{
    struct fixture *f = *state;
    struct handler_state h = {0, TANDEM_EVENT_OK};
    struct tandem_event ev = {.topic = "posts", .partition = 0, .offset = 7, .id = "evt-1"};
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    ev.offset = 8; /* the same id, redelivered at another offset */
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 1);
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 1);
    /* another group handles it on its own */
    assert_int_equal(tandem_idempotent(f->db, "other", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_processed_events"), 2);
    assert_true(sqlite3_get_autocommit(f->db));
}

static void test_idempotent_rollback(void **state)
{
    struct fixture *f = *state;
    struct handler_state h = {0, TANDEM_EVENT_RETRY};
    struct tandem_event ev = {.topic = "posts", .id = "evt-2"};
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_RETRY);
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_processed_events"), 0);
    h.answer = TANDEM_EVENT_FAIL;
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_FAIL);
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 0);
    h.answer = TANDEM_EVENT_OK; /* the retry that works is applied, once */
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 3);
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 1);
    assert_true(sqlite3_get_autocommit(f->db));
}

/* A handler whose statement makes SQLite roll the transaction back by itself (here ON CONFLICT
 * ROLLBACK), but which still answers OK: the id must not be recorded alone (the redelivery would
 * then be skipped and the event's effects lost); the call asks for a retry instead. */
static int insert_dup_ignoring_error(sqlite3 *db, const struct tandem_event *ev, void *arg)
{
    int *calls = arg;
    (*calls)++;
    (void)sqlite3_exec(db, "INSERT INTO uniq (k) VALUES ('x')", NULL, NULL, NULL);
    return TANDEM_EVENT_OK;
}

static void test_idempotent_sqlite_rollback(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sqlite3_exec(f->db,
                                  "CREATE TABLE uniq (k TEXT UNIQUE ON CONFLICT ROLLBACK);"
                                  "INSERT INTO uniq (k) VALUES ('x');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    int calls = 0;
    struct tandem_event ev = {.topic = "posts", .id = "evt-rb"};
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_dup_ignoring_error, &calls),
                     TANDEM_EVENT_RETRY);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_processed_events"), 0);
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_dup_ignoring_error, &calls),
                     TANDEM_EVENT_RETRY); /* redelivered: tried again, not skipped */
    assert_int_equal(calls, 2);
    assert_true(sqlite3_get_autocommit(f->db));
}

static void test_idempotent_no_id(void **state)
{
    struct fixture *f = *state;
    struct handler_state h = {0, TANDEM_EVENT_OK};
    struct tandem_event ev = {.topic = "raw", .partition = 2, .offset = 41};
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    ev.offset = 42;
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_processed_events"
                                  " WHERE event_id = 'kafka:raw/2/41'"),
                     1);
}

static void test_idempotent_misuse_and_prune(void **state)
{
    struct fixture *f = *state;
    struct handler_state h = {0, TANDEM_EVENT_OK};
    struct tandem_event ev = {.topic = "posts", .id = "evt-3"};
    assert_int_equal(tandem_idempotent(NULL, "g", &ev, insert_post, &h), TANDEM_EINVAL);
    assert_int_equal(tandem_idempotent(f->db, NULL, &ev, insert_post, &h), TANDEM_EINVAL);
    assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EINVAL);
    assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(h.calls, 0);

    assert_int_equal(tandem_idempotent(f->db, "g", &ev, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(
        sqlite3_exec(f->db,
                     "INSERT INTO tandem_processed_events (consumer_group, event_source,"
                     " event_id, processed_at) VALUES ('g', '/a', 'old', 1000)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    int64_t n = -1;
    assert_int_equal(tandem_idempotent_prune(f->db, 3600 * 1000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_processed_events"), 1);
}

/* CloudEvents 1.0: an id is unique only within its source. Two producers using the same id
 * are two events, each applied once; the same (source, id) again is a redelivery. */
static void test_idempotent_source(void **state)
{
    struct fixture *f = *state;
    struct handler_state h = {0, TANDEM_EVENT_OK};
    struct tandem_event a = {.topic = "posts", .offset = 1, .id = "1", .source = "/users"};
    struct tandem_event b = {.topic = "posts", .offset = 2, .id = "1", .source = "/billing"};
    assert_int_equal(tandem_idempotent(f->db, "g", &a, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(tandem_idempotent(f->db, "g", &b, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 2);
    a.offset = b.offset = 3; /* both redelivered */
    assert_int_equal(tandem_idempotent(f->db, "g", &a, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(tandem_idempotent(f->db, "g", &b, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 2);
    assert_int_equal(count(f->db,
                           "SELECT count(*) FROM tandem_processed_events WHERE event_id = '1'"
                           " AND event_source IN ('/users', '/billing')"),
                     2);
    /* a non-CloudEvent record is keyed by its coordinates with the empty source, so a CloudEvent
     * whose id looks like those coordinates is another event */
    struct tandem_event raw = {.topic = "raw", .partition = 0, .offset = 5};
    struct tandem_event look = {.topic = "raw", .id = "kafka:raw/0/5", .source = "/x"};
    assert_int_equal(tandem_idempotent(f->db, "g", &raw, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(tandem_idempotent(f->db, "g", &look, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 4);
}

/* A database made by schema 1 (key: group and id; no source) opens, is migrated, and keeps
 * deduplicating what it recorded: an id handled before the upgrade is skipped whatever its
 * source (the old row cannot say which it was); new ids are keyed by (source, id). */
static void test_migrate_schema1(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/old.sqlite", f->dir);
    sqlite3 *old = NULL;
    assert_int_equal(sqlite3_open(path, &old), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            old,
            "CREATE TABLE tandem_processed_events (consumer_group TEXT NOT NULL,"
            " event_id TEXT NOT NULL, processed_at INTEGER NOT NULL,"
            " PRIMARY KEY (consumer_group, event_id)) WITHOUT ROWID;"
            "CREATE INDEX tandem_processed_events_at"
            " ON tandem_processed_events(processed_at);"
            "INSERT INTO tandem_processed_events VALUES ('g', 'e1', 1000), ('g', 'e2', 2000),"
            " ('h', 'e1', 3000);",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(old);

    sqlite3 *db = NULL;
    assert_int_equal(tandem_db_open(path, SCHEMA, &db), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_processed_events"), 3);
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_processed_events"
                               " WHERE event_source IS NULL"),
                     3);
    assert_int_equal(count(db, "SELECT count(*) FROM sqlite_schema WHERE name ="
                               " 'tandem_processed_events_at'"),
                     1);
    struct handler_state h = {0, TANDEM_EVENT_OK};
    struct tandem_event e1 = {.topic = "posts", .id = "e1", .source = "/users"};
    struct tandem_event e3 = {.topic = "posts", .id = "e3", .source = "/users"};
    assert_int_equal(tandem_idempotent(db, "g", &e1, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 0); /* handled before the upgrade */
    assert_int_equal(tandem_idempotent(db, "g", &e3, insert_post, &h), TANDEM_EVENT_OK);
    e3.source = "/billing";
    assert_int_equal(tandem_idempotent(db, "g", &e3, insert_post, &h), TANDEM_EVENT_OK);
    assert_int_equal(h.calls, 2);
    sqlite3_close(db);

    /* a second open finds schema 2 and changes nothing; pruning reaches the migrated rows */
    assert_int_equal(tandem_db_open(path, SCHEMA, &db), 0);
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_processed_events"), 5);
    int64_t n = -1;
    assert_int_equal(tandem_idempotent_prune(db, 3600 * 1000, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_processed_events"), 2);
    sqlite3_close(db);
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/old.sqlite%s", f->dir, sfx[i]);
        unlink(path);
    }
}

static const struct tandem_event_out OUT = {
    .topic = "posts",
    .key = "42",
    .key_len = 2,
    .type = "com.example.post.created",
    .subject = "posts/42",
    .data = "{\"id\":42}",
    .data_len = 9,
};

static void test_outbox_needs_transaction(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(tandem_outbox_add(f->db, &OUT, NULL), TANDEM_EINVAL);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 0);

    assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    struct tandem_event_out bad = OUT;
    bad.type = NULL;
    assert_int_equal(tandem_outbox_add(f->db, &bad, NULL), TANDEM_EINVAL);
    bad = OUT;
    bad.traceparent = "00-nonsense";
    assert_int_equal(tandem_outbox_add(f->db, &bad, NULL), TANDEM_EINVAL);
    bad = OUT;
    bad.id = "";
    assert_int_equal(tandem_outbox_add(f->db, &bad, NULL), TANDEM_EINVAL);
    bad = OUT; /* data tandem_publish would refuse: the relay could never send it */
    bad.data = "not json";
    bad.data_len = 8;
    assert_int_equal(tandem_outbox_add(f->db, &bad, NULL), TANDEM_EINVAL);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 0);
    assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
}

static void test_outbox_atomic(void **state)
{
    struct fixture *f = *state;
    char id[37];
    /* rolled back: neither the state change nor the event */
    assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->db, "INSERT INTO posts VALUES (42, 1)", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(tandem_outbox_add(f->db, &OUT, id), 0);
    assert_int_equal(sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 0);

    /* committed: both, with a generated version-4 UUID and the event's fields */
    assert_int_equal(sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(f->db, "INSERT INTO posts VALUES (42, 1)", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(tandem_outbox_add(f->db, &OUT, id), 0);
    struct tandem_event_out given = OUT;
    given.id = "fixed-id";
    given.key = NULL;
    given.key_len = 0;
    assert_int_equal(tandem_outbox_add(f->db, &given, NULL), 0);
    assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');
    assert_int_equal(count(f->db, "SELECT count(*) FROM posts"), 1);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tandem_outbox WHERE seq = 1 AND event_id = '%s' AND"
             " topic = 'posts' AND key = CAST('42' AS BLOB) AND subject = 'posts/42' AND"
             " data = CAST('{\"id\":42}' AS BLOB) AND sent_at IS NULL AND traceparent IS NULL",
             id);
    assert_int_equal(count(f->db, sql), 1);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox WHERE seq = 2 AND"
                                  " event_id = 'fixed-id' AND key IS NULL"),
                     1);

    /* pruning removes only rows sent long enough ago */
    assert_int_equal(
        sqlite3_exec(f->db, "UPDATE tandem_outbox SET sent_at = 5 WHERE seq = 1", NULL, NULL, NULL),
        SQLITE_OK);
    int64_t n = -1;
    assert_int_equal(tandem_outbox_prune(f->db, 1000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 1);
}

static void test_open_pragmas(void **state)
{
    struct fixture *f = *state;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(count(f->db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(count(f->db, "PRAGMA foreign_keys"), 1);
    /* reopening runs the schema again without harm */
    sqlite3 *db2 = NULL;
    assert_int_equal(tandem_db_open(f->path, SCHEMA, &db2), 0);
    sqlite3_close(db2);
    assert_int_equal(tandem_db_open(NULL, NULL, &db2), TANDEM_EINVAL);
    assert_int_equal(tandem_db_open("/nonexistent-dir/x.db", NULL, &db2), TANDEM_EIO);
}

/* Instances of a service start together: processes opening one fresh file at the same moment all
 * succeed (SQLite may answer the WAL switch SQLITE_BUSY without its busy handler while another
 * process opens the file; tandem_db_open retries it). 3 rounds of 6 processes released at once. */
static void test_open_concurrent(void **state)
{
    struct fixture *f = *state;
    for (int round = 0; round < 3; round++) {
        char path[160];
        snprintf(path, sizeof(path), "%s/together-%d.db", f->dir, round);
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t kids[6];
        for (int i = 0; i < 6; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) < 0) { /* released when the parent closes its end */
                    _exit(3);
                }
                sqlite3 *db = NULL;
                int rc = tandem_db_open(path, SCHEMA, &db);
                sqlite3_close(db);
                _exit(rc == 0 ? 0 : 1);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int i = 0; i < 6; i++) {
            int st = 0;
            assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
        }
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p2[192];
            snprintf(p2, sizeof(p2), "%s%s", path, sfx[i]);
            unlink(p2);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idempotent_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_sqlite_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_no_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_misuse_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_schema1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_needs_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
