/*
 * Unit tests of the outbox relay (src/lib/store/relay.c) without a broker: a producer whose
 * broker never answers keeps every record in flight, so stop must give up at its timeout with
 * TANDEM_ETIMEDOUT and leave the rows unsent (they go out again at the next start); the reports
 * that arrive after stop (TANDEM_ECLOSED, when the producer is freed) must find the relay's
 * memory still valid (ASan checks it). A row tandem_publish refuses is marked sent_at -1 instead
 * of blocking the outbox. Delivery against a real broker: tests/integration/lib_store.sh.
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

#include "tandem/store.h"

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

/* A database in a new directory (dir: a mkdtemp template), its file name in path, and a producer
 * whose broker never answers (nothing listens on 127.0.0.1:1): every record stays in flight. */
static struct tandem_producer *fixture(char *dir, char *path, size_t cap, sqlite3 **db)
{
    assert_non_null(mkdtemp(dir));
    snprintf(path, cap, "%s/db.sqlite", dir);
    assert_int_equal(tandem_db_open(path, NULL, db), 0);
    struct tandem_events_config cfg = {.brokers = "127.0.0.1:1", .source = "/tests/relay"};
    struct tandem_producer *p = NULL;
    assert_int_equal(tandem_producer_new(&cfg, &p), 0);
    return p;
}

static void test_relay_unreachable(void **state)
{
    char dir[] = "/tmp/tandem-relay-XXXXXX", path[96], p2[128];
    sqlite3 *db = NULL;
    struct tandem_producer *p = fixture(dir, path, sizeof(path), &db);
    struct tandem_outbox_relay *r = NULL;
    assert_int_equal(tandem_outbox_relay_start(NULL, p, 50, &r), TANDEM_EINVAL);
    assert_int_equal(tandem_outbox_relay_start(path, NULL, 50, &r), TANDEM_EINVAL);
    assert_int_equal(tandem_outbox_relay_start("/nonexistent-dir/db", p, 50, &r), TANDEM_EIO);
    assert_int_equal(tandem_outbox_relay_start(path, p, 50, &r), 0);

    struct tandem_event_out ev = {.topic = "t",
                                  .key = "k",
                                  .key_len = 1,
                                  .type = "com.example.x",
                                  .data = "1",
                                  .data_len = 1};
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tandem_outbox_add(db, &ev, NULL), 0);
    }
    /* a row that bypassed tandem_outbox_add's checks: tandem_publish refuses it */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO tandem_outbox (topic, type, event_id, traceparent,"
                                  " created_at) VALUES ('t', 'x', 'bad', '00-zz', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    tandem_outbox_relay_wake(r);

    struct tandem_outbox_stats s = {0};
    for (int i = 0; i < 100 && s.published < 5; i++) {
        usleep(20 * 1000);
        tandem_outbox_relay_stats(r, &s);
    }
    assert_int_equal(s.published, 5);
    assert_int_equal(s.acked, 0);
    for (int i = 0;
         i < 100 && count(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at = -1") == 0; i++) {
        usleep(20 * 1000);
    }
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at = -1"), 1);

    assert_int_equal(tandem_outbox_relay_stop(r, 200), TANDEM_ETIMEDOUT);
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL"), 5);
    tandem_producer_free(p); /* the five reports (ECLOSED) arrive after the relay has gone */
    assert_int_equal(tandem_outbox_relay_stop(NULL, 0), 0);
    tandem_outbox_relay_wake(NULL);

    sqlite3_close(db);
    const char *sfx[] = {"", "-wal", "-shm", "-outbox.lock"};
    for (int i = 0; i < 4; i++) {
        snprintf(p2, sizeof(p2), "%s%s", path, sfx[i]);
        unlink(p2);
    }
    rmdir(dir);
}

static int holder_of(struct tandem_outbox_relay *r)
{
    struct tandem_outbox_stats s = {0};
    tandem_outbox_relay_stats(r, &s);
    return s.holder;
}

/* Three relays on one database (separate connections, one process): exactly one holds the
 * outbox lock and publishes; when it stops, one standby takes over within its 200 ms retry and
 * publishes the rows the stopped one could not deliver (no broker: they stayed unsent). */
static void test_relay_lock(void **state)
{
    (void)state;
    char dir[] = "/tmp/tandem-relay-XXXXXX", path[96], cmd[128];
    sqlite3 *db = NULL;
    struct tandem_producer *p = fixture(dir, path, sizeof(path), &db);
    struct tandem_event_out ev = {.topic = "t", .type = "com.example.x"};
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tandem_outbox_add(db, &ev, NULL), 0);
    }
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);

    struct tandem_outbox_relay *r[3] = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tandem_outbox_relay_start(path, p, 50, &r[i]), 0);
    }
    int holders = 0, h = -1;
    for (int t = 0; t < 200 && holders == 0; t++) {
        usleep(10 * 1000);
        holders = 0;
        for (int i = 0; i < 3; i++) {
            if (holder_of(r[i])) {
                holders++;
                h = i;
            }
        }
    }
    usleep(300 * 1000); /* the standbys have retried meanwhile */
    holders = 0;
    for (int i = 0; i < 3; i++) {
        holders += holder_of(r[i]);
    }
    assert_int_equal(holders, 1);
    struct tandem_outbox_stats s = {0};
    for (int i = 0; i < 3; i++) {
        tandem_outbox_relay_stats(r[i], &s);
        assert_int_equal(s.published, i == h ? 3 : 0);
    }

    assert_int_equal(tandem_outbox_relay_stop(r[h], 100), TANDEM_ETIMEDOUT); /* no broker */
    r[h] = NULL;
    int next = -1;
    for (int t = 0; t < 100 && next < 0; t++) { /* 1 s: five times the standby's retry */
        usleep(10 * 1000);
        for (int i = 0; i < 3; i++) {
            if (r[i] != NULL && holder_of(r[i])) {
                next = i;
            }
        }
    }
    assert_true(next >= 0);
    for (int t = 0; t < 100 && s.published < 3; t++) { /* it publishes the unsent rows again */
        usleep(10 * 1000);
        tandem_outbox_relay_stats(r[next], &s);
    }
    assert_int_equal(s.published, 3);
    for (int i = 0; i < 3; i++) {
        if (r[i] != NULL && i != next) {
            assert_int_equal(holder_of(r[i]), 0);
            assert_int_equal(tandem_outbox_relay_stop(r[i], 100), 0); /* a standby just stops */
        }
    }
    assert_int_equal(tandem_outbox_relay_stop(r[next], 100), TANDEM_ETIMEDOUT);
    tandem_producer_free(p);
    sqlite3_close(db);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The last relay standing drains: a standby stopped right after the holder stopped (before its
 * 200 ms retry) finds the lock free at its stop, takes it and publishes what is unsent (no broker
 * here: the publish stays in flight, so its stop ends with TANDEM_ETIMEDOUT where a standby that
 * just stopped would answer 0 and leave the rows behind until some later start). */
static void test_relay_last_standby_drains(void **state)
{
    (void)state;
    char dir[] = "/tmp/tandem-relay-XXXXXX", path[96], cmd[128];
    sqlite3 *db = NULL;
    struct tandem_producer *p = fixture(dir, path, sizeof(path), &db);
    struct tandem_event_out ev = {.topic = "t", .type = "com.example.x"};
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(tandem_outbox_add(db, &ev, NULL), 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    struct tandem_outbox_relay *a = NULL, *b = NULL;
    assert_int_equal(tandem_outbox_relay_start(path, p, 1000, &a), 0);
    for (int t = 0; t < 200 && !holder_of(a); t++) {
        usleep(10 * 1000);
    }
    assert_true(holder_of(a));
    assert_int_equal(tandem_outbox_relay_start(path, p, 1000, &b), 0);
    usleep(50 * 1000);
    assert_int_equal(holder_of(b), 0);
    assert_int_equal(tandem_outbox_relay_stop(a, 100), TANDEM_ETIMEDOUT); /* releases the lock */
    assert_int_equal(tandem_outbox_relay_stop(b, 100), TANDEM_ETIMEDOUT); /* took it, published */
    assert_int_equal(count(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL"), 1);
    tandem_producer_free_timeout(p, 0); /* nothing will be delivered: drop at once */
    sqlite3_close(db);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_unreachable),
        cmocka_unit_test(test_relay_lock),
        cmocka_unit_test(test_relay_last_standby_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
