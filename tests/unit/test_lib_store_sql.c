/*
 * Unit tests of tandem_sql (include/tandem/sql.h, src/lib/store/sql*.c) on its SQLite backend,
 * and of the placeholder rewriting its PostgreSQL backend uses (sql_placeholders_pg, a pure
 * function): bind, step, columns, NULLs and blobs, changes, transactions, tandem_sql_write
 * (commit, the function's refusal rolled back), tandem_sql_idempotent and tandem_sql_outbox_add
 * through the interface, the pool. The PostgreSQL backend runs against a real server in
 * tests/integration/lib_store_pg*.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sql_int.h"
#include "tandem/sql.h"
#include "tandem/store.h"

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, s TEXT,"
                             " b BLOB, n INTEGER);";

struct fixture {
    char dir[64];
    char path[96];
    struct tandem_sql *db;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tandem-sql-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    if (tandem_sql_open(f->path, SCHEMA, "unused on SQLite", &f->db) != 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    tandem_sql_close(f->db);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    free(f);
    return 0;
}

static void assert_rewrite(const char *in, const char *want, int want_n)
{
    int n = -1;
    char *out = sql_placeholders_pg(in, &n);
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(n, want_n);
    free(out);
}

static void test_placeholders(void **state)
{
    (void)state;
    assert_rewrite("SELECT 1", "SELECT 1", 0);
    assert_rewrite("SELECT ?1, ?2 WHERE a = ?1", "SELECT $1, $2 WHERE a = $1", 2);
    assert_rewrite("VALUES (?, ?, ?)", "VALUES ($1, $2, $3)", 3);
    /* a bare "?" takes the number after the largest so far, as in SQLite */
    assert_rewrite("?3 ?", "$3 $4", 4);
    assert_rewrite("SELECT '?', \"a?\", ? -- ?1\n, ?", "SELECT '?', \"a?\", $1 -- ?1\n, $2", 2);
    assert_rewrite("SELECT /* ? */ ?12", "SELECT /* ? */ $12", 12);
    assert_rewrite("'it''s ?' ?", "'it''s ?' $1", 1);
    int n = 0;
    assert_null(sql_placeholders_pg("SELECT ?65", &n));
    assert_null(sql_placeholders_pg("SELECT ?0", &n));
}

static void test_bind_step_columns(void **state)
{
    struct fixture *f = *state;
    struct tandem_sql_stmt *st = NULL;
    assert_int_equal(tandem_sql_backend(f->db), TANDEM_SQL_SQLITE);
    assert_non_null(tandem_sql_sqlite(f->db));
    assert_int_equal(tandem_sql_prepare(f->db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4)", &st), 0);
    for (int i = 1; i <= 3; i++) {
        char s[8];
        snprintf(s, sizeof(s), "s%d", i);
        tandem_sql_bind_int64(st, 1, i);
        tandem_sql_bind_text(st, 2, i == 2 ? NULL : s);
        tandem_sql_bind_blob(st, 3, i == 3 ? NULL : "\0\1\2", 3);
        tandem_sql_bind_int64(st, 4, INT64_C(1) << 40);
        assert_int_equal(tandem_sql_step(st), TANDEM_SQL_DONE);
        assert_int_equal(tandem_sql_changes(f->db), 1);
        tandem_sql_reset(st);
    }
    /* a duplicate key is TANDEM_EEXIST */
    tandem_sql_bind_int64(st, 1, 1);
    assert_int_equal(tandem_sql_step(st), TANDEM_EEXIST);
    tandem_sql_finalize(st);

    assert_int_equal(tandem_sql_prepare(f->db, "SELECT id, s, b, n FROM t ORDER BY id", &st), 0);
    size_t len = 99;
    assert_int_equal(tandem_sql_step(st), TANDEM_SQL_ROW);
    assert_int_equal(tandem_sql_column_int64(st, 0), 1);
    assert_string_equal(tandem_sql_column_text(st, 1), "s1");
    const unsigned char *b = tandem_sql_column_blob(st, 2, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(b, "\0\1\2", 3);
    assert_int_equal(tandem_sql_column_int64(st, 3), INT64_C(1) << 40);
    assert_int_equal(tandem_sql_step(st), TANDEM_SQL_ROW);
    assert_true(tandem_sql_column_null(st, 1));
    assert_null(tandem_sql_column_text(st, 1));
    assert_int_equal(tandem_sql_step(st), TANDEM_SQL_ROW);
    assert_null(tandem_sql_column_blob(st, 2, &len));
    assert_int_equal(len, 0);
    assert_int_equal(tandem_sql_step(st), TANDEM_SQL_DONE);
    tandem_sql_finalize(st);
    assert_int_equal(tandem_sql_exec(f->db, "DELETE FROM t WHERE id > 1"), 0);
    assert_int_equal(tandem_sql_changes(f->db), 2);
    assert_int_equal(tandem_sql_exec(f->db, "SELECT nonsense FROM nowhere"), TANDEM_EIO);
}

static int64_t count(struct tandem_sql *db, const char *sql)
{
    struct tandem_sql_stmt *st = NULL;
    int64_t v = -1;
    if (tandem_sql_prepare(db, sql, &st) == 0 && tandem_sql_step(st) == TANDEM_SQL_ROW) {
        v = tandem_sql_column_int64(st, 0);
    }
    tandem_sql_finalize(st);
    return v;
}

static int write_two(struct tandem_sql *db, void *arg)
{
    int *refuse = arg;
    if (tandem_sql_exec(db, "INSERT INTO t (id, n) VALUES (10, 1); INSERT INTO t (id, n)"
                            " VALUES (11, 1)") != 0) {
        return TANDEM_EIO;
    }
    struct tandem_event_out ev = {.topic = "t", .type = "com.example.t"};
    char id[37];
    if (tandem_sql_outbox_add(db, &ev, id) != 0) {
        return TANDEM_EIO;
    }
    return *refuse ? TANDEM_ENOENT : 0;
}

static void test_transactions_and_write(void **state)
{
    struct fixture *f = *state;
    struct tandem_event_out ev = {.topic = "t", .type = "com.example.t"};
    assert_int_equal(tandem_sql_txn_state(f->db), TANDEM_SQL_IDLE);
    /* outside a transaction the outbox refuses */
    assert_int_equal(tandem_sql_outbox_add(f->db, &ev, NULL), TANDEM_EINVAL);
    assert_int_equal(tandem_sql_begin(f->db), 0);
    assert_int_equal(tandem_sql_txn_state(f->db), TANDEM_SQL_ACTIVE);
    assert_int_equal(tandem_sql_exec(f->db, "INSERT INTO t (id) VALUES (5)"), 0);
    assert_int_equal(tandem_sql_rollback(f->db), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM t WHERE id = 5"), 0);

    int refuse = 1;
    assert_int_equal(tandem_sql_write(f->db, write_two, &refuse), TANDEM_ENOENT);
    assert_int_equal(count(f->db, "SELECT count(*) FROM t WHERE id >= 10"), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 0);
    refuse = 0;
    assert_int_equal(tandem_sql_write(f->db, write_two, &refuse), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM t WHERE id >= 10"), 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 1);
    /* a write inside a transaction is refused */
    assert_int_equal(tandem_sql_begin(f->db), 0);
    assert_int_equal(tandem_sql_write(f->db, write_two, &refuse), TANDEM_EINVAL);
    assert_int_equal(tandem_sql_rollback(f->db), 0);
    /* the same key again fails whole */
    assert_int_equal(tandem_sql_write(f->db, write_two, &refuse), TANDEM_EIO);
    assert_int_equal(count(f->db, "SELECT count(*) FROM tandem_outbox"), 1);
}

static int handled;

static int handler(struct tandem_sql *db, const struct tandem_event *ev, void *arg)
{
    (void)ev;
    (void)arg;
    handled++;
    return tandem_sql_exec(db, "UPDATE t SET n = coalesce(n, 0) + 1 WHERE id = 1") == 0
               ? TANDEM_EVENT_OK
               : TANDEM_EVENT_RETRY;
}

static void test_idempotent(void **state)
{
    struct fixture *f = *state;
    struct tandem_event ev = {.id = "e-1", .source = "/s", .topic = "x"};
    assert_int_equal(tandem_sql_exec(f->db, "INSERT INTO t (id, n) VALUES (1, 0)"), 0);
    handled = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tandem_sql_idempotent(f->db, "g", &ev, handler, NULL), TANDEM_EVENT_OK);
    }
    assert_int_equal(handled, 1);
    assert_int_equal(count(f->db, "SELECT n FROM t WHERE id = 1"), 1);
    ev.source = "/other"; /* another source: another event */
    assert_int_equal(tandem_sql_idempotent(f->db, "g", &ev, handler, NULL), TANDEM_EVENT_OK);
    assert_int_equal(count(f->db, "SELECT n FROM t WHERE id = 1"), 2);
    int64_t deleted = -1;
    assert_int_equal(tandem_sql_idempotent_prune(f->db, 0, &deleted), 0);
    assert_true(deleted >= 0);
}

static void test_pool(void **state)
{
    struct fixture *f = *state;
    struct tandem_sql_pool *pool = NULL;
    struct tandem_sql *a = NULL, *b = NULL, *c = NULL;
    struct tandem_sql_pool_stats s;
    assert_int_equal(tandem_sql_pool_new(f->path, SCHEMA, NULL, 2, &pool), 0);
    assert_int_equal(tandem_sql_pool_take(pool, 0, &a), 0);
    assert_int_equal(tandem_sql_pool_take(pool, 0, &b), 0);
    assert_ptr_not_equal(a, b);
    assert_int_equal(tandem_sql_pool_take(pool, 50, &c), TANDEM_ETIMEDOUT);
    tandem_sql_pool_stats(pool, &s);
    assert_int_equal(s.open, 2);
    assert_int_equal(s.taken, 2);
    assert_int_equal(s.timeouts, 1);
    /* a transaction left open is rolled back on the way in */
    assert_int_equal(tandem_sql_begin(a), 0);
    tandem_sql_pool_give(pool, a);
    assert_int_equal(tandem_sql_pool_take(pool, 0, &c), 0);
    assert_ptr_equal(c, a);
    assert_int_equal(tandem_sql_txn_state(c), TANDEM_SQL_IDLE);
    tandem_sql_pool_give(pool, c);
    tandem_sql_pool_give(pool, b);
    tandem_sql_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test_setup_teardown(test_bind_step_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_and_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
