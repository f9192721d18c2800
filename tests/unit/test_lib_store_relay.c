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

static void test_relay_unreachable(void **state)
{
    char dir[] = "/tmp/tandem-relay-XXXXXX", path[96], p2[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/db.sqlite", dir);
    sqlite3 *db = NULL;
    assert_int_equal(tandem_db_open(path, NULL, &db), 0);

    struct tandem_events_config cfg = {.brokers = "127.0.0.1:1", .source = "/tests/relay"};
    struct tandem_producer *p = NULL;
    assert_int_equal(tandem_producer_new(&cfg, &p), 0);
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
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p2, sizeof(p2), "%s%s", path, sfx[i]);
        unlink(p2);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
