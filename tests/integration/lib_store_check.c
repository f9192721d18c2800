/*
 * lib-store-check: drives libtandem's SQLite reliability helpers (include/tandem/store.h)
 * against a real broker for tests/integration/lib_store.sh. Each command exits 0 only when its
 * checks passed; failures are printed as "FAIL ..." lines on stderr.
 *
 *   write  -b B -t T -d DB -n N    state changes 1..N, each in one transaction with its outbox
 *                                  event (key k<i%10>, data {"seq":i}, a generated id stored in
 *                                  the state row), resuming after the last state row present; a
 *                                  relay publishes them; -w MS waits MS ms between writes. Ends
 *                                  with relay_stop, which must drain: no row left unsent after
 *                                  it; prints DONE with the relay's counters and rows sent
 *   verify -b B -t T -d DB -g G    consumes T from the start: every state row's event id is on
 *                                  the topic (none missing, no foreign id); duplicates of an id
 *                                  are counted and reported (allowed); per key, the first
 *                                  occurrences come in seq order; with -a SEQ, the id of every
 *                                  state row past SEQ is on the topic exactly once
 *   dedup  -b B -t T -d DB -g G -n N  publishes N events with ids e-0.., then the first N/2
 *                                  again (same ids), and consumes them with tandem_idempotent
 *                                  applying each to a table: N rows, one per id
 *   apply  -b B -t T -d DB -g G -n N [-w MS]  consumes T through tandem_idempotent (MS ms per
 *                                  record) until N distinct ids are applied: N rows, one per id
 *                                  (run, kill -9, run again: the redelivered records are skipped)
 *   status -d DB                   prints "states S sent X applied A"
 *   unsent -d DB -a SEQ            prints "unsent U past P unsent_past Q": outbox rows not marked
 *                                  sent, state rows with seq > SEQ, and how many of those have
 *                                  their outbox row not marked sent
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_check.h"
#include "tandem/events.h"
#include "tandem/store.h"

static const char *brokers, *topic, *group, *dbpath;
static int nevents = 200, wait_ms, after_seq = -1;

static const char STATE_SCHEMA[] = "CREATE TABLE IF NOT EXISTS state ("
                                   " seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL);"
                                   "CREATE TABLE IF NOT EXISTS applied ("
                                   " event_id TEXT NOT NULL, seq INTEGER);";

static struct tandem_producer *producer(void)
{
    return store_producer(brokers, "lib-store-check");
}

/* One state change and its event in one transaction. */
static int write_one(sqlite3 *db, int seq)
{
    char key[16], data[64], id[37], sql[128];
    snprintf(key, sizeof(key), "k%d", seq % 10);
    snprintf(data, sizeof(data), "{\"seq\":%d}", seq);
    struct tandem_event_out ev = {.topic = topic,
                                  .key = key,
                                  .key_len = strlen(key),
                                  .type = "com.example.state.changed",
                                  .subject = key,
                                  .data = data,
                                  .data_len = strlen(data)};
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        return -1;
    }
    if (tandem_outbox_add(db, &ev, id) != 0) {
        goto fail;
    }
    snprintf(sql, sizeof(sql), "INSERT INTO state VALUES (%d, '%s')", seq, id);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        goto fail;
    }
    return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int cmd_write(void)
{
    sqlite3 *db = NULL;
    struct tandem_outbox_relay *r = NULL;
    if (tandem_db_open(dbpath, STATE_SCHEMA, &db) != 0) {
        return 1;
    }
    struct tandem_producer *p = producer();
    CHECK(tandem_outbox_relay_start(dbpath, p, 200, &r) == 0, "relay start");
    int first = (int)scalar(db, "SELECT coalesce(max(seq), 0) FROM state") + 1;
    printf("RESUME at %d\n", first);
    fflush(stdout);
    for (int i = first; i <= nevents && r != NULL; i++) {
        CHECK(write_one(db, i) == 0, "write %d: %s", i, sqlite3_errmsg(db));
        tandem_outbox_relay_wake(r);
        if (wait_ms > 0) {
            usleep((useconds_t)wait_ms * 1000);
        }
    }
    /* no waiting here: relay_stop must drain (publish what is unsent, wait for the reports,
     * mark the rows) */
    struct tandem_outbox_stats s = {0};
    if (r != NULL) {
        tandem_outbox_relay_stats(r, &s); /* before the drain */
        CHECK(tandem_outbox_relay_stop(r, 20000) == 0, "relay stop");
    }
    CHECK(scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL") == 0,
          "rows left unsent");
    CHECK(scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at < 0") == 0, "rows refused");
    tandem_producer_free(p);
    printf("DONE before_stop: published=%" PRIu64 " marked=%" PRIu64 " failed=%" PRIu64
           "; sent=%" PRId64 "\n",
           s.published, s.marked, s.failed,
           scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at > 0"));
    sqlite3_close(db);
    return failures ? 1 : 0;
}

static int cmd_status(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("states 0 sent 0 applied 0\n");
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 2000);
    int64_t s = scalar(db, "SELECT count(*) FROM state");
    int64_t x = scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NOT NULL");
    int64_t a = scalar(db, "SELECT count(*) FROM applied");
    printf("states %" PRId64 " sent %" PRId64 " applied %" PRId64 "\n", s < 0 ? 0 : s,
           x < 0 ? 0 : x, a < 0 ? 0 : a);
    sqlite3_close(db);
    return 0;
}

static int cmd_unsent(void)
{
    sqlite3 *db = NULL;
    char past[96], unsent_past[192];
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "FAIL: open %s: %s\n", dbpath, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 2000);
    snprintf(past, sizeof(past), "SELECT count(*) FROM state WHERE seq > %d", after_seq);
    snprintf(unsent_past, sizeof(unsent_past),
             "SELECT count(*) FROM state s JOIN tandem_outbox o USING (event_id)"
             " WHERE s.seq > %d AND o.sent_at IS NULL",
             after_seq);
    int64_t u = scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL");
    int64_t p = scalar(db, past), q = scalar(db, unsent_past);
    sqlite3_close(db);
    if (u < 0 || p < 0 || q < 0) {
        fprintf(stderr, "FAIL: query %s\n", dbpath);
        return 1;
    }
    printf("unsent %" PRId64 " past %" PRId64 " unsent_past %" PRId64 "\n", u, p, q);
    return 0;
}

struct verify_state {
    sqlite3 *db;
    int last_first[10]; /* per key: seq of the last id seen for the first time */
    atomic_int records;
};

static int seq_of(const struct tandem_event *ev)
{
    char buf[64];
    int seq = -1;
    size_t n = ev->data_len < sizeof(buf) - 1 ? ev->data_len : sizeof(buf) - 1;
    if (ev->data == NULL) {
        return -1;
    }
    memcpy(buf, ev->data, n);
    buf[n] = '\0';
    if (sscanf(buf, "{\"seq\":%d}", &seq) != 1) {
        return -1;
    }
    return seq;
}

static int on_verify(const struct tandem_event *ev, void *arg)
{
    struct verify_state *v = arg;
    int seq = seq_of(ev);
    CHECK(ev->id != NULL && seq > 0, "a record without id or seq at offset %" PRId64, ev->offset);
    if (ev->id == NULL || seq <= 0) {
        atomic_fetch_add(&v->records, 1);
        return TANDEM_EVENT_OK;
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(v->db,
                       "INSERT INTO temp.seen VALUES (?1, 1, ?2)"
                       " ON CONFLICT(event_id) DO UPDATE SET n = n + 1",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, seq);
    CHECK(sqlite3_step(st) == SQLITE_DONE, "seen insert: %s", sqlite3_errmsg(v->db));
    sqlite3_finalize(st);
    int64_t n = -1;
    sqlite3_prepare_v2(v->db, "SELECT n FROM temp.seen WHERE event_id = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (n == 1) { /* the first occurrence of this id */
        int k = seq % 10;
        CHECK(seq > v->last_first[k], "key k%d: seq %d after %d", k, seq, v->last_first[k]);
        v->last_first[k] = seq;
    }
    atomic_fetch_add(&v->records, 1);
    return TANDEM_EVENT_OK;
}

static struct tandem_consumer *consumer(tandem_event_handler_fn fn, void *arg)
{
    return store_consumer(brokers, group, topic, "lib-store-check", fn, arg);
}

static int cmd_verify(void)
{
    struct verify_state v = {0};
    if (tandem_db_open(dbpath, STATE_SCHEMA, &v.db) != 0) {
        return 1;
    }
    sqlite3_exec(v.db, "CREATE TEMP TABLE seen (event_id TEXT PRIMARY KEY, n INTEGER, seq INTEGER)",
                 NULL, NULL, NULL);
    int64_t expected = scalar(v.db, "SELECT count(*) FROM state");
    struct tandem_consumer *c = consumer(on_verify, &v);
    int64_t deadline = now_ms() + 40000;
    while (scalar(v.db, "SELECT count(*) FROM temp.seen") < expected && now_ms() < deadline) {
        usleep(100 * 1000);
    }
    usleep(1000 * 1000); /* late duplicates, if any */
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    int64_t seen = scalar(v.db, "SELECT count(*) FROM temp.seen");
    int64_t missing = scalar(v.db, "SELECT count(*) FROM state WHERE event_id NOT IN"
                                   " (SELECT event_id FROM temp.seen)");
    int64_t foreign = scalar(v.db, "SELECT count(*) FROM temp.seen WHERE event_id NOT IN"
                                   " (SELECT event_id FROM state)");
    int64_t wrong = scalar(v.db, "SELECT count(*) FROM temp.seen s JOIN state t USING (event_id)"
                                 " WHERE s.seq != t.seq");
    int64_t dups = scalar(v.db, "SELECT coalesce(sum(n - 1), 0) FROM temp.seen");
    int64_t dupids = scalar(v.db, "SELECT count(*) FROM temp.seen WHERE n > 1");
    printf("VERIFY states=%" PRId64 " ids=%" PRId64 " records=%d missing=%" PRId64
           " foreign=%" PRId64 " duplicate_records=%" PRId64 " duplicated_ids=%" PRId64 "\n",
           expected, seen, atomic_load(&v.records), missing, foreign, dups, dupids);
    CHECK(missing == 0, "%" PRId64 " state changes without their event", missing);
    CHECK(foreign == 0, "%" PRId64 " events without their state change", foreign);
    CHECK(wrong == 0, "%" PRId64 " events with another state's seq", wrong);
    CHECK(expected == nevents, "%" PRId64 " state rows, expected %d", expected, nevents);
    if (after_seq >= 0) {
        char sql[192];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM state t JOIN temp.seen s USING (event_id)"
                 " WHERE t.seq > %d AND s.n != 1",
                 after_seq);
        int64_t not_once = scalar(v.db, sql);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM state WHERE seq > %d", after_seq);
        int64_t past = scalar(v.db, sql);
        printf("VERIFY past seq %d: %" PRId64 " state rows, %" PRId64 " ids not exactly once\n",
               after_seq, past, not_once);
        CHECK(not_once == 0, "%" PRId64 " ids past seq %d on the topic more than once", not_once,
              after_seq);
    }
    sqlite3_close(v.db);
    return failures ? 1 : 0;
}

struct dedup_state {
    sqlite3 *db;
    atomic_int records, retried, applied;
};

static int apply(sqlite3 *db, const struct tandem_event *ev, void *arg)
{
    struct dedup_state *d = arg;
    int seq = seq_of(ev);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO applied VALUES (?1, ?2)", -1, &st, NULL);
    sqlite3_bind_text(st, 1, ev->id ? ev->id : "?", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, seq);
    int rc = sqlite3_step(st) == SQLITE_DONE ? TANDEM_EVENT_OK : TANDEM_EVENT_RETRY;
    sqlite3_finalize(st);
    if (rc == TANDEM_EVENT_OK && ev->attempt == 1 && seq % 7 == 0) {
        atomic_fetch_add(&d->retried, 1);
        return TANDEM_EVENT_RETRY; /* its insert must be rolled back */
    }
    if (rc == TANDEM_EVENT_OK) {
        atomic_fetch_add(&d->applied, 1);
    }
    return rc;
}

static int on_dedup(const struct tandem_event *ev, void *arg)
{
    struct dedup_state *d = arg;
    int rc = tandem_idempotent(d->db, group, ev, apply, d);
    if (rc == TANDEM_EVENT_OK) {
        atomic_fetch_add(&d->records, 1);
    }
    if (wait_ms > 0) {
        usleep((useconds_t)wait_ms * 1000);
    }
    return rc;
}

/* Consumes T through tandem_idempotent until N distinct ids are applied (or 40 s). */
static int cmd_apply(void)
{
    struct dedup_state d = {0};
    if (tandem_db_open(dbpath, STATE_SCHEMA, &d.db) != 0) {
        return 1;
    }
    struct tandem_consumer *c = consumer(on_dedup, &d);
    int64_t deadline = now_ms() + 40000;
    while (scalar(d.db, "SELECT count(DISTINCT event_id) FROM applied") < nevents &&
           now_ms() < deadline) {
        usleep(100 * 1000);
    }
    usleep(500 * 1000); /* late redeliveries, if any */
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    int64_t rows = scalar(d.db, "SELECT count(*) FROM applied");
    int64_t ids = scalar(d.db, "SELECT count(DISTINCT event_id) FROM applied");
    int records = atomic_load(&d.records), applied = atomic_load(&d.applied);
    printf("APPLY records=%d applied_now=%d skipped_as_processed=%d rows=%" PRId64 " ids=%" PRId64
           "\n",
           records, applied, records - applied, rows, ids);
    CHECK(rows == nevents && ids == nevents, "applied %" PRId64 " rows, %" PRId64 " ids, not %d",
          rows, ids, nevents);
    sqlite3_close(d.db);
    return failures ? 1 : 0;
}

static int cmd_dedup(void)
{
    struct dedup_state d = {0};
    if (tandem_db_open(dbpath, STATE_SCHEMA, &d.db) != 0) {
        return 1;
    }
    struct tandem_producer *p = producer();
    int total = nevents + nevents / 2;
    store_publish_dups(p, topic, nevents);
    tandem_producer_free(p);
    struct tandem_consumer *c = consumer(on_dedup, &d);
    int64_t deadline = now_ms() + 40000;
    while (atomic_load(&d.records) < total && now_ms() < deadline) {
        usleep(100 * 1000);
    }
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    int64_t rows = scalar(d.db, "SELECT count(*) FROM applied");
    int64_t ids = scalar(d.db, "SELECT count(DISTINCT event_id) FROM applied");
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tandem_processed_events WHERE consumer_group = '%s'", group);
    int64_t processed = scalar(d.db, sql);
    printf("DEDUP records=%d retried=%d applied_rows=%" PRId64 " ids=%" PRId64 " processed=%" PRId64
           "\n",
           atomic_load(&d.records), atomic_load(&d.retried), rows, ids, processed);
    CHECK(atomic_load(&d.records) >= total, "handled %d of %d records", atomic_load(&d.records),
          total);
    CHECK(rows == nevents && ids == nevents, "applied %" PRId64 " rows, %" PRId64 " ids, not %d",
          rows, ids, nevents);
    CHECK(processed == nevents, "%" PRId64 " processed ids", processed);
    CHECK(atomic_load(&d.retried) > 0, "no RETRY exercised");
    sqlite3_close(d.db);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        goto usage;
    }
    const struct store_flag flags[] = {{"-b", &brokers, NULL},   {"-t", &topic, NULL},
                                       {"-g", &group, NULL},     {"-d", &dbpath, NULL},
                                       {"-n", NULL, &nevents},   {"-w", NULL, &wait_ms},
                                       {"-a", NULL, &after_seq}, {NULL, NULL, NULL}};
    if (store_flags(argc, argv, 2, flags) != 0) {
        goto usage;
    }
    const char *cmd = argv[1];
    if (dbpath == NULL) {
        goto usage;
    }
    if (strcmp(cmd, "status") == 0) {
        return cmd_status();
    }
    if (strcmp(cmd, "unsent") == 0 && after_seq >= 0) {
        return cmd_unsent();
    }
    if (brokers == NULL || topic == NULL) {
        goto usage;
    }
    if (strcmp(cmd, "write") == 0) {
        return cmd_write();
    }
    if (strcmp(cmd, "verify") == 0 && group != NULL) {
        return cmd_verify();
    }
    if (strcmp(cmd, "dedup") == 0 && group != NULL) {
        return cmd_dedup();
    }
    if (strcmp(cmd, "apply") == 0 && group != NULL) {
        return cmd_apply();
    }
usage:
    fprintf(stderr,
            "usage: lib-store-check write|status|unsent|verify|dedup|apply -d DB [-b B -t T -g G "
            "-n N -w MS -a SEQ]\n");
    return 2;
}
