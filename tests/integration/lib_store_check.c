/*
 * lib-store-check: drives libtandem's reliability helpers (include/tandem/store.h) through the
 * tandem_sql interface (sql.h) against a real broker, for tests/integration/lib_store.sh (on
 * SQLite) and lib_store_pg.sh (on PostgreSQL): DB is an SQLite path or a postgres:// URL. Each
 * command exits 0 only when its checks passed; failures are printed as "FAIL ..." lines on
 * stderr. One connection per command; the consumer's thread and the main thread share it under
 * dbmu (a PostgreSQL connection is one thread's at a time).
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
 *   race   -b B -t T -d DB -n N -k K -m M  like write, for the state rows i in 1..N with
 *                                  i % M == K (M processes racing on one outbox, each with its
 *                                  own relay); no resuming; -H MS keeps the relay running MS ms
 *                                  after the last write
 *   kwrite -d DB -n N [-w MS]      N writes through tandem_sql_write, each: count += 1, kv row
 *                                  (i, 'a'), a pause of MS ms in the database (pg_sleep), kv row
 *                                  (i, 'b'), an outbox row; meant to have its PostgreSQL backend
 *                                  killed under it (lib_store_pg_kill.sh). Then, on a new
 *                                  connection: every write that returned 0 is there, every one
 *                                  that returned TANDEM_EIO is not, each write is whole or
 *                                  absent (a, b and its outbox row), none twice (count = writes
 *                                  there); prints "WRITES DONE" after the writes, then
 *                                  "KWRITE ok= failed= unknown= there="
 *   status -d DB                   prints "states S sent X applied A"
 *   unsent -d DB -a SEQ            prints "unsent U past P unsent_past Q": outbox rows not marked
 *                                  sent, state rows with seq > SEQ, and how many of those have
 *                                  their outbox row not marked sent
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
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
static int nevents = 200, wait_ms, after_seq = -1, race_k = -1, race_m = 1, hold_ms;
static pthread_mutex_t dbmu = PTHREAD_MUTEX_INITIALIZER;

/* sql_scalar under dbmu. */
static int64_t scalar_locked(struct tandem_sql *db, const char *sql)
{
    pthread_mutex_lock(&dbmu);
    int64_t v = sql_scalar(db, sql);
    pthread_mutex_unlock(&dbmu);
    return v;
}

static const char STATE_SCHEMA[] = "CREATE TABLE IF NOT EXISTS state ("
                                   " seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL);"
                                   "CREATE TABLE IF NOT EXISTS applied ("
                                   " event_id TEXT NOT NULL, seq INTEGER);";

static struct tandem_producer *producer(void)
{
    return store_producer(brokers, "lib-store-check");
}

struct write_arg {
    int seq;
    char id[37];
};

/* One state change and its event, in tandem_sql_write's transaction. */
static int write_txn(struct tandem_sql *db, void *arg)
{
    struct write_arg *w = arg;
    char key[16], data[64], sql[128];
    snprintf(key, sizeof(key), "k%d", w->seq % 10);
    snprintf(data, sizeof(data), "{\"seq\":%d}", w->seq);
    struct tandem_event_out ev = {.topic = topic,
                                  .key = key,
                                  .key_len = strlen(key),
                                  .type = "com.example.state.changed",
                                  .subject = key,
                                  .data = data,
                                  .data_len = strlen(data)};
    if (tandem_sql_outbox_add(db, &ev, w->id) != 0) {
        return TANDEM_EIO;
    }
    snprintf(sql, sizeof(sql), "INSERT INTO state VALUES (%d, '%s')", w->seq, w->id);
    return tandem_sql_exec(db, sql);
}

static int cmd_write(void)
{
    struct tandem_sql *db = NULL;
    struct tandem_outbox_relay *r = NULL;
    if (tandem_sql_open(dbpath, STATE_SCHEMA, STATE_SCHEMA, &db) != 0) {
        return 1;
    }
    struct tandem_producer *p = producer();
    CHECK(tandem_outbox_relay_start(dbpath, p, 200, &r) == 0, "relay start");
    int first =
        race_k >= 0 ? 1 : (int)sql_scalar(db, "SELECT coalesce(max(seq), 0) FROM state") + 1;
    printf("RESUME at %d\n", first);
    fflush(stdout);
    for (int i = first; i <= nevents && r != NULL; i++) {
        if (race_k >= 0 && i % race_m != race_k) {
            continue;
        }
        struct write_arg w = {.seq = i};
        CHECK(tandem_sql_write(db, write_txn, &w) == 0, "write %d", i);
        tandem_outbox_relay_wake(r);
        if (wait_ms > 0) {
            usleep((useconds_t)wait_ms * 1000);
        }
    }
    if (hold_ms > 0) {
        usleep((useconds_t)hold_ms * 1000); /* race -H: keep the relay running that long */
    }
    /* no waiting here: relay_stop must drain (publish what is unsent, wait for the reports,
     * mark the rows); when racing, the other process's rows may be left to its relay */
    struct tandem_outbox_stats s = {0};
    if (r != NULL) {
        tandem_outbox_relay_stats(r, &s); /* before the drain */
        CHECK(tandem_outbox_relay_stop(r, 20000) == 0, "relay stop");
    }
    if (race_k < 0) {
        CHECK(sql_scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL") == 0,
              "rows left unsent");
    }
    CHECK(sql_scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at < 0") == 0,
          "rows refused");
    tandem_producer_free(p);
    printf("DONE before_stop: published=%" PRIu64 " marked=%" PRIu64 " failed=%" PRIu64
           " holder=%d; sent=%" PRId64 "\n",
           s.published, s.marked, s.failed, s.holder,
           sql_scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at > 0"));
    tandem_sql_close(db);
    return failures ? 1 : 0;
}

/* Opens DB for the status commands: SQLite read-only (no file created, no lock taken), or
 * PostgreSQL. NULL when it cannot. */
static struct tandem_sql *open_status(void)
{
    if (tandem_sql_is_postgres(dbpath)) {
        struct tandem_sql *db = NULL;
        return tandem_sql_open(dbpath, STATE_SCHEMA, STATE_SCHEMA, &db) == 0 ? db : NULL;
    }
    sqlite3 *lite = NULL;
    struct tandem_sql *db = NULL;
    if (sqlite3_open_v2(dbpath, &lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(lite);
        return NULL;
    }
    sqlite3_busy_timeout(lite, 2000);
    tandem_sql_wrap_sqlite(lite, &db);
    return db;
}

static void close_status(struct tandem_sql *db)
{
    sqlite3 *lite = tandem_sql_sqlite(db);
    tandem_sql_close(db);
    if (lite != NULL) {
        sqlite3_close(lite);
    }
}

static int cmd_status(void)
{
    struct tandem_sql *db = open_status();
    if (db == NULL) {
        printf("states 0 sent 0 applied 0\n");
        return 0;
    }
    int64_t s = sql_scalar(db, "SELECT count(*) FROM state");
    int64_t x = sql_scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NOT NULL");
    int64_t a = sql_scalar(db, "SELECT count(*) FROM applied");
    printf("states %" PRId64 " sent %" PRId64 " applied %" PRId64 "\n", s < 0 ? 0 : s,
           x < 0 ? 0 : x, a < 0 ? 0 : a);
    close_status(db);
    return 0;
}

static int cmd_unsent(void)
{
    char past[96], unsent_past[192];
    struct tandem_sql *db = open_status();
    if (db == NULL) {
        fprintf(stderr, "FAIL: open %s\n", dbpath);
        return 1;
    }
    snprintf(past, sizeof(past), "SELECT count(*) FROM state WHERE seq > %d", after_seq);
    snprintf(unsent_past, sizeof(unsent_past),
             "SELECT count(*) FROM state s JOIN tandem_outbox o USING (event_id)"
             " WHERE s.seq > %d AND o.sent_at IS NULL",
             after_seq);
    int64_t u = sql_scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL");
    int64_t p = sql_scalar(db, past), q = sql_scalar(db, unsent_past);
    close_status(db);
    if (u < 0 || p < 0 || q < 0) {
        fprintf(stderr, "FAIL: query %s\n", dbpath);
        return 1;
    }
    printf("unsent %" PRId64 " past %" PRId64 " unsent_past %" PRId64 "\n", u, p, q);
    return 0;
}

struct verify_state {
    struct tandem_sql *db;
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
    struct tandem_sql_stmt *st = NULL;
    pthread_mutex_lock(&dbmu);
    tandem_sql_prepare(v->db,
                       "INSERT INTO seen VALUES (?1, 1, ?2)"
                       " ON CONFLICT(event_id) DO UPDATE SET n = seen.n + 1",
                       &st);
    tandem_sql_bind_text(st, 1, ev->id);
    tandem_sql_bind_int64(st, 2, seq);
    CHECK(tandem_sql_step(st) == TANDEM_SQL_DONE, "seen insert");
    tandem_sql_finalize(st);
    int64_t n = -1;
    tandem_sql_prepare(v->db, "SELECT n FROM seen WHERE event_id = ?1", &st);
    tandem_sql_bind_text(st, 1, ev->id);
    if (tandem_sql_step(st) == TANDEM_SQL_ROW) {
        n = tandem_sql_column_int64(st, 0);
    }
    tandem_sql_finalize(st);
    pthread_mutex_unlock(&dbmu);
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
    if (tandem_sql_open(dbpath, STATE_SCHEMA, STATE_SCHEMA, &v.db) != 0) {
        return 1;
    }
    tandem_sql_exec(v.db,
                    "CREATE TEMP TABLE seen (event_id TEXT PRIMARY KEY, n INTEGER, seq INTEGER)");
    int64_t expected = sql_scalar(v.db, "SELECT count(*) FROM state");
    struct tandem_consumer *c = consumer(on_verify, &v);
    int64_t deadline = now_ms() + 40000;
    while (scalar_locked(v.db, "SELECT count(*) FROM seen") < expected && now_ms() < deadline) {
        usleep(100 * 1000);
    }
    usleep(1000 * 1000); /* late duplicates, if any */
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    int64_t seen = sql_scalar(v.db, "SELECT count(*) FROM seen");
    int64_t missing = sql_scalar(v.db, "SELECT count(*) FROM state WHERE event_id NOT IN"
                                       " (SELECT event_id FROM seen)");
    int64_t foreign = sql_scalar(v.db, "SELECT count(*) FROM seen WHERE event_id NOT IN"
                                       " (SELECT event_id FROM state)");
    int64_t wrong = sql_scalar(v.db, "SELECT count(*) FROM seen s JOIN state t USING (event_id)"
                                     " WHERE s.seq != t.seq");
    int64_t dups = sql_scalar(v.db, "SELECT coalesce(sum(n - 1), 0) FROM seen");
    int64_t dupids = sql_scalar(v.db, "SELECT count(*) FROM seen WHERE n > 1");
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
                 "SELECT count(*) FROM state t JOIN seen s USING (event_id)"
                 " WHERE t.seq > %d AND s.n != 1",
                 after_seq);
        int64_t not_once = sql_scalar(v.db, sql);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM state WHERE seq > %d", after_seq);
        int64_t past = sql_scalar(v.db, sql);
        printf("VERIFY past seq %d: %" PRId64 " state rows, %" PRId64 " ids not exactly once\n",
               after_seq, past, not_once);
        CHECK(not_once == 0, "%" PRId64 " ids past seq %d on the topic more than once", not_once,
              after_seq);
    }
    tandem_sql_close(v.db);
    return failures ? 1 : 0;
}

struct dedup_state {
    struct tandem_sql *db;
    atomic_int records, retried, applied;
};

static int apply(struct tandem_sql *db, const struct tandem_event *ev, void *arg)
{
    struct dedup_state *d = arg;
    int seq = seq_of(ev);
    struct tandem_sql_stmt *st = NULL;
    tandem_sql_prepare(db, "INSERT INTO applied VALUES (?1, ?2)", &st);
    tandem_sql_bind_text(st, 1, ev->id ? ev->id : "?");
    tandem_sql_bind_int64(st, 2, seq);
    int rc = tandem_sql_step(st) == TANDEM_SQL_DONE ? TANDEM_EVENT_OK : TANDEM_EVENT_RETRY;
    tandem_sql_finalize(st);
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
    pthread_mutex_lock(&dbmu);
    int rc = tandem_sql_idempotent(d->db, group, ev, apply, d);
    pthread_mutex_unlock(&dbmu);
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
    if (tandem_sql_open(dbpath, STATE_SCHEMA, STATE_SCHEMA, &d.db) != 0) {
        return 1;
    }
    struct tandem_consumer *c = consumer(on_dedup, &d);
    int64_t deadline = now_ms() + 40000;
    while (scalar_locked(d.db, "SELECT count(DISTINCT event_id) FROM applied") < nevents &&
           now_ms() < deadline) {
        usleep(100 * 1000);
    }
    usleep(500 * 1000); /* late redeliveries, if any */
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    int64_t rows = sql_scalar(d.db, "SELECT count(*) FROM applied");
    int64_t ids = sql_scalar(d.db, "SELECT count(DISTINCT event_id) FROM applied");
    int records = atomic_load(&d.records), applied = atomic_load(&d.applied);
    printf("APPLY records=%d applied_now=%d skipped_as_processed=%d rows=%" PRId64 " ids=%" PRId64
           "\n",
           records, applied, records - applied, rows, ids);
    CHECK(rows == nevents && ids == nevents, "applied %" PRId64 " rows, %" PRId64 " ids, not %d",
          rows, ids, nevents);
    tandem_sql_close(d.db);
    return failures ? 1 : 0;
}

static int cmd_dedup(void)
{
    struct dedup_state d = {0};
    if (tandem_sql_open(dbpath, STATE_SCHEMA, STATE_SCHEMA, &d.db) != 0) {
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
    int64_t rows = sql_scalar(d.db, "SELECT count(*) FROM applied");
    int64_t ids = sql_scalar(d.db, "SELECT count(DISTINCT event_id) FROM applied");
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tandem_processed_events WHERE consumer_group = '%s'", group);
    int64_t processed = sql_scalar(d.db, sql);
    printf("DEDUP records=%d retried=%d applied_rows=%" PRId64 " ids=%" PRId64 " processed=%" PRId64
           "\n",
           atomic_load(&d.records), atomic_load(&d.retried), rows, ids, processed);
    CHECK(atomic_load(&d.records) >= total, "handled %d of %d records", atomic_load(&d.records),
          total);
    CHECK(rows == nevents && ids == nevents, "applied %" PRId64 " rows, %" PRId64 " ids, not %d",
          rows, ids, nevents);
    CHECK(processed == nevents, "%" PRId64 " processed ids", processed);
    CHECK(atomic_load(&d.retried) > 0, "no RETRY exercised");
    tandem_sql_close(d.db);
    return failures ? 1 : 0;
}

static const char KILL_SCHEMA[] = "CREATE TABLE IF NOT EXISTS kv (seq INTEGER NOT NULL, part TEXT);"
                                  "CREATE TABLE IF NOT EXISTS kcount (n INTEGER NOT NULL);"
                                  "INSERT INTO kcount SELECT 0 WHERE NOT EXISTS"
                                  " (SELECT 1 FROM kcount);";

struct kwrite_arg {
    int seq;
    int attempts;
};

static int kwrite_txn(struct tandem_sql *db, void *arg)
{
    struct kwrite_arg *k = arg;
    char sql[160], data[32], subject[16];
    k->attempts++;
    snprintf(sql, sizeof(sql),
             "UPDATE kcount SET n = n + 1; INSERT INTO kv VALUES (%d, 'a');"
             " SELECT pg_sleep(%f); INSERT INTO kv VALUES (%d, 'b')",
             k->seq, wait_ms / 1000.0, k->seq);
    if (tandem_sql_exec(db, sql) != 0) {
        return TANDEM_EIO;
    }
    snprintf(data, sizeof(data), "{\"seq\":%d}", k->seq);
    snprintf(subject, sizeof(subject), "%d", k->seq);
    struct tandem_event_out ev = {.topic = "kill",
                                  .type = "com.example.kill",
                                  .subject = subject,
                                  .data = data,
                                  .data_len = strlen(data)};
    return tandem_sql_outbox_add(db, &ev, NULL);
}

/* One row of a prepared statement that selects (?1 + 1, the backend's pid): the value, or -1. */
static int64_t prepared_run(struct tandem_sql_stmt *st, int64_t v, int64_t *pid)
{
    tandem_sql_bind_int64(st, 1, v);
    int rc = tandem_sql_step(st);
    int64_t out = rc == TANDEM_SQL_ROW ? tandem_sql_column_int64(st, 0) : -1;
    if (rc == TANDEM_SQL_ROW && pid != NULL) {
        *pid = tandem_sql_column_int64(st, 1);
    }
    tandem_sql_reset(st);
    return out;
}

/* deadlock: one writer of two that cross (see cmd_deadlock). */
struct crossing {
    const char *url, *first, *second, *who;
    int rc;
};

static int crossing_txn(struct tandem_sql *db, void *arg)
{
    struct crossing *c = arg;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO dl_keys VALUES ('%s') ON CONFLICT DO NOTHING; SELECT pg_sleep(0.3);"
             " INSERT INTO dl_keys VALUES ('%s') ON CONFLICT DO NOTHING;"
             " INSERT INTO dl_writers VALUES ('%s')",
             c->first, c->second, c->who);
    return tandem_sql_exec(db, sql);
}

static void *crossing_main(void *arg)
{
    struct crossing *c = arg;
    struct tandem_sql *db = NULL;
    c->rc = tandem_sql_open(c->url, NULL, NULL, &db);
    if (c->rc == 0) {
        c->rc = tandem_sql_write(db, crossing_txn, c);
    }
    tandem_sql_close(db);
    return NULL;
}

/* A writer job's completion: its status, and a semaphore-like flag under dbmu. */
struct crossing_job {
    struct crossing c;
    int status;
    bool done;
};

static int crossing_job_run(struct tandem_sql *db, void *arg)
{
    return crossing_txn(db, &((struct crossing_job *)arg)->c);
}

static void crossing_job_done(int status, void *arg)
{
    struct crossing_job *j = arg;
    pthread_mutex_lock(&dbmu);
    j->status = status;
    j->done = true;
    pthread_mutex_unlock(&dbmu);
}

/* The same crossing through two group-commit writers (two instances' writers on one database):
 * the batch of the deadlock's victim runs again. 0 when both jobs committed. */
static int crossing_writers(void)
{
    struct tandem_db_writer *w[2] = {NULL, NULL};
    struct crossing_job j[2] = {{.c = {dbpath, "w1", "w2", "writer-a", 0}},
                                {.c = {dbpath, "w2", "w1", "writer-b", 0}}};
    for (int i = 0; i < 2; i++) {
        struct tandem_db_writer_config wc = {.path = dbpath};
        CHECK(tandem_db_writer_new(&wc, &w[i]) == 0, "writer %d", i);
    }
    for (int i = 0; i < 2 && w[i] != NULL; i++) {
        CHECK(tandem_db_write_sql(w[i], crossing_job_run, crossing_job_done, &j[i]) == 0,
              "submit %d", i);
    }
    for (int waited = 0; waited < 200; waited++) {
        pthread_mutex_lock(&dbmu);
        bool both = j[0].done && j[1].done;
        pthread_mutex_unlock(&dbmu);
        if (both) {
            break;
        }
        usleep(50 * 1000);
    }
    tandem_db_writer_free(w[0]);
    tandem_db_writer_free(w[1]);
    CHECK(j[0].done && j[1].done, "the writers' jobs did not complete within 10 s");
    CHECK(j[0].status == 0 && j[1].status == 0, "the crossing jobs: %s, %s",
          tandem_strerror(j[0].status), tandem_strerror(j[1].status));
    return j[0].status == 0 && j[1].status == 0 ? 0 : 1;
}

/*
 * deadlock: two tandem_sql_write transactions cross on PostgreSQL (each inserts its key, waits,
 * then inserts the other's: each waits for the other), so the server kills one as a deadlock's
 * victim; tandem_sql_write runs that one again, and both succeed, each once. Then the same with
 * two group-commit writers' jobs: the victim's batch runs again. Prints "DEADLOCK OK".
 */
static int cmd_deadlock(void)
{
    struct tandem_sql *db = NULL;
    if (!tandem_sql_is_postgres(dbpath) ||
        tandem_sql_open(dbpath, NULL,
                        "CREATE TABLE IF NOT EXISTS dl_keys (k TEXT PRIMARY KEY);"
                        "CREATE TABLE IF NOT EXISTS dl_writers (who TEXT NOT NULL)",
                        &db) != 0) {
        fprintf(stderr, "FAIL: deadlock needs a PostgreSQL database\n");
        return 1;
    }
    struct crossing a = {dbpath, "k1", "k2", "a", -1}, b = {dbpath, "k2", "k1", "b", -1};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, crossing_main, &a);
    pthread_create(&tb, NULL, crossing_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.rc == 0 && b.rc == 0, "the crossing writes: %s, %s", tandem_strerror(a.rc),
          tandem_strerror(b.rc));
    CHECK(sql_scalar(db, "SELECT count(*) FROM dl_writers") == 2, "each writer once");
    CHECK(sql_scalar(db, "SELECT count(DISTINCT who) FROM dl_writers") == 2, "both writers");
    CHECK(sql_scalar(db, "SELECT count(*) FROM dl_keys") == 2, "both keys");
    crossing_writers();
    CHECK(sql_scalar(db, "SELECT count(*) FROM dl_writers") == 4, "each writer's job once");
    CHECK(sql_scalar(db, "SELECT count(*) FROM dl_keys") == 4, "the writers' keys");
    tandem_sql_close(db);
    if (failures > 0) {
        return 1;
    }
    printf("DEADLOCK OK\n");
    return 0;
}

/* The session's plan_cache_mode (SHOW), into out. */
static void plan_cache_mode(struct tandem_sql *db, char *out, size_t cap)
{
    struct tandem_sql_stmt *st = NULL;
    snprintf(out, cap, "?");
    if (tandem_sql_prepare(db, "SHOW plan_cache_mode", &st) == 0 &&
        tandem_sql_step(st) == TANDEM_SQL_ROW) {
        snprintf(out, cap, "%s", tandem_sql_column_text(st, 0));
    }
    tandem_sql_finalize(st);
}

/*
 * prepared: a statement run again and again (reset, not finalized) is prepared on the server at
 * its second run and then executed by name; when its backend is terminated while the connection
 * is idle, the next run finds the connection dropped before sending, reconnects, prepares the
 * statement again on the new session and answers. Finalizing deallocates it. The session forces
 * generic plans, also after the reconnection. Prints "PREPARED OK".
 */
static int cmd_prepared(void)
{
    struct tandem_sql *db = NULL, *admin = NULL;
    struct tandem_sql_stmt *st = NULL;
    int64_t pid = 0, pid2 = 0;
    if (!tandem_sql_is_postgres(dbpath) || tandem_sql_open(dbpath, NULL, NULL, &db) != 0 ||
        tandem_sql_open(dbpath, NULL, NULL, &admin) != 0) {
        fprintf(stderr, "FAIL: prepared needs a PostgreSQL database\n");
        return 1;
    }
    CHECK(tandem_sql_prepare(db, "SELECT CAST(?1 AS BIGINT) + 1, pg_backend_pid()", &st) == 0,
          "prepare");
    if (st == NULL) {
        return 1;
    }
    for (int64_t i = 1; i <= 3; i++) {
        CHECK(prepared_run(st, i, &pid) == i + 1, "run %" PRId64, i);
    }
    CHECK(sql_scalar(db, "SELECT count(*) FROM pg_prepared_statements") == 1,
          "the statement is not prepared on the server after three runs");
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%" PRId64 ")", pid);
    CHECK(tandem_sql_exec(admin, sql) == 0, "terminate the backend");
    usleep(200 * 1000);
    CHECK(prepared_run(st, 10, &pid2) == 11, "the run after the loss did not answer");
    CHECK(pid2 != pid, "the same backend answered after it was terminated");
    CHECK(prepared_run(st, 20, NULL) == 21, "the second run on the new session");
    char mode[64];
    plan_cache_mode(db, mode, sizeof(mode));
    CHECK(strcmp(mode, "force_generic_plan") == 0, "plan_cache_mode %s after a reconnection", mode);
    CHECK(sql_scalar(db, "SELECT count(*) FROM pg_prepared_statements") == 1,
          "not prepared again on the new session");
    tandem_sql_finalize(st);
    CHECK(sql_scalar(db, "SELECT count(*) FROM pg_prepared_statements") == 0,
          "finalize did not deallocate the statement");
    tandem_sql_close(admin);
    tandem_sql_close(db);
    if (failures > 0) {
        return 1;
    }
    printf("PREPARED OK\n");
    return 0;
}

static int cmd_kwrite(void)
{
    struct tandem_sql *db = NULL;
    if (!tandem_sql_is_postgres(dbpath) || tandem_sql_open(dbpath, NULL, KILL_SCHEMA, &db) != 0) {
        fprintf(stderr, "FAIL: kwrite needs a PostgreSQL database\n");
        return 1;
    }
    int *result = calloc((size_t)nevents + 1, sizeof(*result));
    int ok = 0, failed = 0, unknown = 0, retried = 0;
    for (int i = 1; i <= nevents; i++) {
        struct kwrite_arg k = {.seq = i};
        result[i] = tandem_sql_write(db, kwrite_txn, &k);
        ok += result[i] == 0;
        failed += result[i] == TANDEM_EIO;
        unknown += result[i] == TANDEM_ETIMEDOUT;
        retried += k.attempts > 1;
        CHECK(result[i] == 0 || result[i] == TANDEM_EIO || result[i] == TANDEM_ETIMEDOUT,
              "write %d: %s", i, tandem_strerror(result[i]));
    }
    tandem_sql_close(db);
    printf("WRITES DONE\n");
    fflush(stdout);
    /* checked on a connection of another application_name: the test kills only kwrite's */
    char url[1024];
    snprintf(url, sizeof(url), "%s%capplication_name=kwrite-verify", dbpath,
             strchr(dbpath, '?') != NULL ? '&' : '?');
    CHECK(tandem_sql_open(url, NULL, KILL_SCHEMA, &db) == 0, "reopen");
    if (db == NULL) {
        free(result);
        return 1;
    }
    int there = 0;
    for (int i = 1; i <= nevents; i++) {
        char sql[200];
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT count(*) FROM kv WHERE seq = %d AND part = 'a') * 100 +"
                 " (SELECT count(*) FROM kv WHERE seq = %d AND part = 'b') * 10 +"
                 " (SELECT count(*) FROM tandem_outbox WHERE subject = '%d')",
                 i, i, i);
        int64_t v = sql_scalar(db, sql);
        CHECK(v == 0 || v == 111, "write %d half applied or applied twice: a,b,outbox = %03d", i,
              (int)v);
        CHECK(result[i] == 0 || result[i] == TANDEM_ETIMEDOUT || v == 0,
              "write %d failed (%s) but is there", i, tandem_strerror(result[i]));
        CHECK(result[i] != 0 || v == 111, "write %d succeeded but is not there", i);
        there += v == 111;
    }
    int64_t count = sql_scalar(db, "SELECT n FROM kcount");
    CHECK(count == there, "count %" PRId64 " for %d writes there", count, there);
    printf("KWRITE writes=%d ok=%d failed=%d unknown=%d retried=%d there=%d count=%" PRId64 "\n",
           nevents, ok, failed, unknown, retried, there, count);
    tandem_sql_close(db);
    free(result);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        goto usage;
    }
    const struct store_flag flags[] = {
        {"-b", &brokers, NULL},   {"-t", &topic, NULL},   {"-g", &group, NULL},
        {"-d", &dbpath, NULL},    {"-n", NULL, &nevents}, {"-w", NULL, &wait_ms},
        {"-a", NULL, &after_seq}, {"-k", NULL, &race_k},  {"-m", NULL, &race_m},
        {"-H", NULL, &hold_ms},   {NULL, NULL, NULL}};
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
    if (strcmp(cmd, "kwrite") == 0) {
        return cmd_kwrite();
    }
    if (strcmp(cmd, "prepared") == 0) {
        return cmd_prepared();
    }
    if (strcmp(cmd, "deadlock") == 0) {
        return cmd_deadlock();
    }
    if (brokers == NULL || topic == NULL) {
        goto usage;
    }
    if (strcmp(cmd, "write") == 0) {
        race_k = -1;
        return cmd_write();
    }
    if (strcmp(cmd, "race") == 0 && race_k >= 0 && race_m > race_k) {
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
    fprintf(stderr, "usage: lib-store-check "
                    "write|race|kwrite|prepared|deadlock|status|unsent|verify|dedup|apply -d "
                    "DB [-b B -t T -g G "
                    "-n N -w MS -a SEQ -k K -m M]\n");
    return 2;
}
