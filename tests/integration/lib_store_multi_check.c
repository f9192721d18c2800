/*
 * lib-store-multi-check: several instances of a service on ONE SQLite file, for
 * tests/integration/lib_store_multi.sh: outbox relays sharing the outbox lock, writers committing
 * concurrently through tandem_db_writer, idempotent consumers in two processes. Each command
 * exits 0 only when its checks passed; failures are "FAIL ..." lines on stderr.
 *
 *   instance -b B -t T -d DB -i ID -n N [-w MS]
 *       one instance: a relay (poll 200 ms: a standby tries the lock every 200 ms) and a
 *       tandem_db_writer waking it; 4 threads submit N jobs in all, each a state row (event id,
 *       instance, n) and its outbox event (key k<n%10>), MS ms apart per thread. Prints
 *       "HOLDER <unix ms>" when its relay takes the outbox lock, "WRITTEN" after its last
 *       commit; then waits for DB.stop to exist and for no outbox row to be unsent (some relay
 *       published everything), stops (drain) and prints "DONE <relay counters>"
 *   inproc -b B -t T -d DB -n N
 *       one process: 3 relays on separate connections and 2 writers (separate connections,
 *       2 submitting threads each) committing N rows in all; mid-way the lock holder is stopped
 *       (a clean handover) and a new relay started. Checks one holder at a time, every row sent
 *   snapshot -d DB
 *       prints the seqs of the unsent outbox rows (read-only), taken while the lock holder is
 *       stopped with SIGSTOP just before its kill -9: the only rows allowed twice on the topic
 *   verify -b B -t T -d DB -g G [-s SNAPSHOT]
 *       consumes T from the start: every state row's event is there (none missing, none
 *       foreign), per key the first occurrences come in outbox seq order, and an id appears
 *       twice only if its row is in SNAPSHOT (published, not yet marked, when its relay was
 *       killed; after the clean handover of inproc, no id may appear twice)
 *   feed -b B -t T -n N
 *       publishes N events with ids e-0.., then the first N/2 again (same ids)
 *   apply -b B -t T -d DB -g G -k KG -n N
 *       consumes T in Kafka group KG through tandem_idempotent(group G) until N distinct ids are
 *       applied and 1.5 N records were seen; run twice at once with two KGs and one G, both
 *       processes handle every record: the table must hold N rows, one per id
 *   status -d DB
 *       prints "states S sent X unsent U applied A"
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_check.h"
#include "tandem/events.h"
#include "tandem/store.h"

static const char *brokers, *topic, *group, *kgroup, *dbpath, *snapfile;
static int nevents = 300, wait_ms, inst;

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS state ("
                             " event_id TEXT PRIMARY KEY, inst INTEGER, n INTEGER);"
                             "CREATE TABLE IF NOT EXISTS applied (event_id TEXT, pid INTEGER);";

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct tandem_producer *producer(void)
{
    return store_producer(brokers, "lib-store-multi");
}

/* ---- writing: jobs through tandem_db_writer ---------------------------------------------------
 */

struct submitter {
    struct tandem_db_writer *w;
    int inst, first, step, last; /* n = first, first + step, ... <= last */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, done, status, errors;
};

/* The job: one state row and its event, in the batch's transaction. */
static int job_state(sqlite3 *db, void *arg)
{
    struct submitter *s = arg;
    char key[16], data[64], id[37];
    snprintf(key, sizeof(key), "k%d", s->n % 10);
    snprintf(data, sizeof(data), "{\"i\":%d,\"n\":%d}", s->inst, s->n);
    struct tandem_event_out ev = {.topic = topic,
                                  .key = key,
                                  .key_len = strlen(key),
                                  .type = "com.example.state.changed",
                                  .data = data,
                                  .data_len = strlen(data)};
    int rc = tandem_outbox_add(db, &ev, id);
    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO state VALUES (?1, ?2, ?3)", -1, &st, NULL);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, s->inst);
    sqlite3_bind_int(st, 3, s->n);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : TANDEM_EIO;
    sqlite3_finalize(st);
    return rc;
}

static void job_done(int status, void *arg)
{
    struct submitter *s = arg;
    pthread_mutex_lock(&s->mu);
    s->status = status;
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *submit_main(void *arg)
{
    struct submitter *s = arg;
    for (int n = s->first; n <= s->last; n += s->step) {
        s->n = n;
        s->done = 0;
        int rc = tandem_db_write(s->w, job_state, job_done, s);
        while (rc == TANDEM_EAGAIN) {
            usleep(1000);
            rc = tandem_db_write(s->w, job_state, job_done, s);
        }
        if (rc == 0) {
            pthread_mutex_lock(&s->mu);
            while (!s->done) {
                pthread_cond_wait(&s->cv, &s->mu);
            }
            rc = s->status;
            pthread_mutex_unlock(&s->mu);
        }
        if (rc != 0) {
            s->errors++;
        }
        if (wait_ms > 0) {
            usleep((useconds_t)wait_ms * 1000);
        }
    }
    return NULL;
}

/* Starts nsub threads writing rows n = 1..total of instance id through w. */
static void submitters_start(struct submitter *subs, int nsub, struct tandem_db_writer *w, int id,
                             int total)
{
    for (int i = 0; i < nsub; i++) {
        subs[i] =
            (struct submitter){.w = w, .inst = id, .first = i + 1, .step = nsub, .last = total};
        pthread_mutex_init(&subs[i].mu, NULL);
        pthread_cond_init(&subs[i].cv, NULL);
        pthread_create(&subs[i].thread, NULL, submit_main, &subs[i]);
    }
}

static int submitters_join(struct submitter *subs, int nsub)
{
    int errors = 0;
    for (int i = 0; i < nsub; i++) {
        pthread_join(subs[i].thread, NULL);
        errors += subs[i].errors;
        pthread_mutex_destroy(&subs[i].mu);
        pthread_cond_destroy(&subs[i].cv);
    }
    return errors;
}

static struct tandem_db_writer *writer(struct tandem_outbox_relay *r)
{
    struct tandem_db_writer_config cfg = {.path = dbpath, .schema_sql = SCHEMA, .relay = r};
    struct tandem_db_writer *w = NULL;
    if (tandem_db_writer_new(&cfg, &w) != 0) {
        fprintf(stderr, "FAIL: writer\n");
        exit(1);
    }
    return w;
}

static int holder(struct tandem_outbox_relay *r)
{
    struct tandem_outbox_stats s = {0};
    tandem_outbox_relay_stats(r, &s);
    return s.holder;
}

/* ---- instance: one process of a service with several instances ------------------------------- */

static atomic_int watching;

/* Prints HOLDER once this instance's relay holds the outbox lock. */
static void *watch_main(void *arg)
{
    struct tandem_outbox_relay *r = arg;
    while (atomic_load(&watching)) {
        if (holder(r)) {
            printf("HOLDER %" PRId64 "\n", wall_ms());
            fflush(stdout);
            return NULL;
        }
        usleep(2000);
    }
    return NULL;
}

static int cmd_instance(void)
{
    sqlite3 *db = NULL;
    struct tandem_outbox_relay *r = NULL;
    char stopfile[4096];
    snprintf(stopfile, sizeof(stopfile), "%s.stop", dbpath);
    if (tandem_db_open(dbpath, SCHEMA, &db) != 0) {
        return 1;
    }
    struct tandem_producer *p = producer();
    CHECK(tandem_outbox_relay_start(dbpath, p, 200, &r) == 0, "relay start");
    if (r == NULL) {
        return 1;
    }
    pthread_t watcher;
    atomic_store(&watching, 1);
    pthread_create(&watcher, NULL, watch_main, r);
    struct tandem_db_writer *w = writer(r);
    struct submitter subs[4];
    submitters_start(subs, 4, w, inst, nevents);
    int errors = submitters_join(subs, 4);
    CHECK(errors == 0, "%d jobs failed", errors);
    tandem_db_writer_free(w);
    printf("WRITTEN\n");
    fflush(stdout);
    int64_t deadline = now_ms() + 90000;
    while ((access(stopfile, F_OK) != 0 ||
            scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL") != 0) &&
           now_ms() < deadline) {
        usleep(20 * 1000);
    }
    CHECK(now_ms() < deadline, "the outbox was not emptied in 90 s");
    atomic_store(&watching, 0);
    pthread_join(watcher, NULL);
    struct tandem_outbox_stats s = {0};
    tandem_outbox_relay_stats(r, &s);
    CHECK(tandem_outbox_relay_stop(r, 20000) == 0, "relay stop");
    tandem_producer_free(p);
    printf("DONE instance=%d holder=%d published=%" PRIu64 " marked=%" PRIu64 " failed=%" PRIu64
           "\n",
           inst, s.holder, s.published, s.marked, s.failed);
    sqlite3_close(db);
    return failures ? 1 : 0;
}

/* ---- inproc: three relays and two writers in one process ---------------------------------------
 */

static int cmd_inproc(void)
{
    sqlite3 *db = NULL;
    if (tandem_db_open(dbpath, SCHEMA, &db) != 0) {
        return 1;
    }
    struct tandem_producer *p = producer();
    struct tandem_outbox_relay *r[3] = {0};
    for (int i = 0; i < 3; i++) {
        CHECK(tandem_outbox_relay_start(dbpath, p, 50, &r[i]) == 0, "relay %d", i);
    }
    /* two writers on their own connections; they wake no relay (the holder is stopped below, and
     * a writer's relay must outlive it): the relays find the rows at their 50 ms poll */
    struct tandem_db_writer *w1 = writer(NULL), *w2 = writer(NULL);
    struct submitter s1[2], s2[2];
    submitters_start(s1, 2, w1, 1, nevents / 2);
    submitters_start(s2, 2, w2, 2, nevents - nevents / 2);

    /* wait until some rows are sent, then stop the holder: a clean handover */
    int64_t deadline = now_ms() + 30000;
    while (scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NOT NULL") <
               nevents / 4 &&
           now_ms() < deadline) {
        usleep(5000);
    }
    int h = -1, holders = 0;
    for (int i = 0; i < 3; i++) {
        if (holder(r[i])) {
            h = i;
            holders++;
        }
    }
    CHECK(holders == 1, "%d relays hold the outbox lock", holders);
    struct tandem_outbox_stats st[3] = {0};
    uint64_t published = 0;
    if (h >= 0) {
        tandem_outbox_relay_stats(r[h], &st[h]);
        int64_t t0 = now_ms();
        CHECK(tandem_outbox_relay_stop(r[h], 20000) == 0, "holder stop");
        int64_t t1 = now_ms();
        published += st[h].published;
        r[h] = NULL;
        int next = -1;
        while (next < 0 && now_ms() - t1 < 5000) {
            for (int i = 0; i < 3; i++) {
                if (r[i] != NULL && holder(r[i])) {
                    next = i;
                }
            }
            usleep(1000);
        }
        CHECK(next >= 0, "no standby took over in 5 s");
        printf("HANDOVER stop_ms=%" PRId64 " takeover_ms=%" PRId64 "\n", t1 - t0, now_ms() - t1);
        CHECK(tandem_outbox_relay_start(dbpath, p, 50, &r[h]) == 0, "relay restart");
    }
    int errors = submitters_join(s1, 2) + submitters_join(s2, 2);
    CHECK(errors == 0, "%d jobs failed", errors);
    tandem_db_writer_free(w1);
    tandem_db_writer_free(w2);
    deadline = now_ms() + 60000;
    while (scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL") != 0 &&
           now_ms() < deadline) {
        usleep(20 * 1000);
    }
    holders = 0;
    for (int i = 0; i < 3; i++) {
        if (r[i] != NULL) {
            holders += holder(r[i]);
        }
    }
    CHECK(holders == 1, "%d relays hold the outbox lock after the handover", holders);
    for (int i = 0; i < 3; i++) {
        if (r[i] != NULL) {
            tandem_outbox_relay_stats(r[i], &st[i]);
            CHECK(tandem_outbox_relay_stop(r[i], 20000) == 0, "relay %d stop", i);
            published += st[i].published;
        }
    }
    int64_t rows = scalar(db, "SELECT count(*) FROM tandem_outbox");
    CHECK(scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL") == 0,
          "rows left unsent");
    CHECK(rows == nevents, "%" PRId64 " outbox rows, not %d", rows, nevents);
    /* the holder's counters are read before its stop, whose drain publishes more: a lower
     * bound; verify checks on the topic that no row came twice */
    CHECK((int64_t)published <= rows, "published %" PRIu64 " times for %" PRId64 " rows", published,
          rows);
    printf("INPROC rows=%" PRId64 " published=%" PRIu64 "\n", rows, published);
    tandem_producer_free(p);
    sqlite3_close(db);
    return failures ? 1 : 0;
}

/* ---- snapshot, verify ------------------------------------------------------------------------ */

/* Prints the seq of every unsent outbox row, one a line, through a read-only connection (the
 * lock holder is stopped with SIGSTOP at this moment, maybe inside a transaction: this must not
 * wait for its write lock). */
static int cmd_snapshot(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT seq FROM tandem_outbox WHERE sent_at IS NULL", -1, &st,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "FAIL snapshot: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        printf("%lld\n", (long long)sqlite3_column_int64(st, 0));
    }
    CHECK(s == SQLITE_DONE, "snapshot: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return failures ? 1 : 0;
}

/* Loads the seqs of snapfile (snapshot's output) into temp.unsent_at_kill. */
static void load_snapshot(sqlite3 *db, const char *file)
{
    sqlite3_exec(db, "CREATE TEMP TABLE unsent_at_kill (seq INTEGER PRIMARY KEY)", NULL, NULL,
                 NULL);
    FILE *f = file != NULL ? fopen(file, "r") : NULL;
    if (f == NULL) {
        return;
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO temp.unsent_at_kill VALUES (?1)", -1, &st, NULL);
    long long seq;
    while (fscanf(f, "%lld", &seq) == 1) {
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    fclose(f);
}

struct verify_state {
    sqlite3 *db;
    sqlite3_stmt *seen, *seq;
    int64_t last_first[10]; /* per key: the outbox seq of the last id seen for the first time */
    atomic_int records;
};

static int on_verify(const struct tandem_event *ev, void *arg)
{
    struct verify_state *v = arg;
    atomic_fetch_add(&v->records, 1);
    CHECK(ev->id != NULL && ev->key_len >= 2, "a record without id or key at %" PRId64, ev->offset);
    if (ev->id == NULL || ev->key_len < 2) {
        return TANDEM_EVENT_OK;
    }
    sqlite3_bind_text(v->seen, 1, ev->id, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(v->seen);
    CHECK(s == SQLITE_ROW, "seen: %s", sqlite3_errmsg(v->db));
    bool first = s == SQLITE_ROW && sqlite3_column_int64(v->seen, 0) == 1;
    sqlite3_reset(v->seen);
    sqlite3_bind_text(v->seq, 1, ev->id, -1, SQLITE_TRANSIENT);
    int64_t seq = sqlite3_step(v->seq) == SQLITE_ROW ? sqlite3_column_int64(v->seq, 0) : -1;
    sqlite3_reset(v->seq);
    int k = ((const char *)ev->key)[1] - '0';
    if (first && seq > 0 && k >= 0 && k < 10) {
        CHECK(seq > v->last_first[k], "key k%d: seq %" PRId64 " after %" PRId64, k, seq,
              v->last_first[k]);
        v->last_first[k] = seq;
    }
    return TANDEM_EVENT_OK;
}

static int cmd_verify(void)
{
    struct verify_state v = {0};
    if (tandem_db_open(dbpath, SCHEMA, &v.db) != 0) {
        return 1;
    }
    sqlite3_exec(v.db, "CREATE TEMP TABLE seen (event_id TEXT PRIMARY KEY, n INTEGER)", NULL, NULL,
                 NULL);
    load_snapshot(v.db, snapfile);
    sqlite3_prepare_v2(v.db,
                       "INSERT INTO temp.seen VALUES (?1, 1) ON CONFLICT(event_id)"
                       " DO UPDATE SET n = n + 1 RETURNING n",
                       -1, &v.seen, NULL);
    sqlite3_prepare_v2(v.db, "SELECT seq FROM tandem_outbox WHERE event_id = ?1", -1, &v.seq, NULL);
    int64_t expected = scalar(v.db, "SELECT count(*) FROM state");
    struct tandem_consumer *c =
        store_consumer(brokers, group, topic, "lib-store-multi", on_verify, &v);
    int64_t deadline = now_ms() + 60000;
    while (scalar(v.db, "SELECT count(*) FROM temp.seen") < expected && now_ms() < deadline) {
        usleep(100 * 1000);
    }
    usleep(1000 * 1000); /* late duplicates, if any */
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    sqlite3_finalize(v.seen);
    sqlite3_finalize(v.seq);
    int64_t seen = scalar(v.db, "SELECT count(*) FROM temp.seen");
    int64_t missing = scalar(v.db, "SELECT count(*) FROM state WHERE event_id NOT IN"
                                   " (SELECT event_id FROM temp.seen)");
    int64_t foreign = scalar(v.db, "SELECT count(*) FROM temp.seen WHERE event_id NOT IN"
                                   " (SELECT event_id FROM state)");
    int64_t dupids = scalar(v.db, "SELECT count(*) FROM temp.seen WHERE n > 1");
    int64_t bad_dups = scalar(v.db, "SELECT count(*) FROM temp.seen s JOIN tandem_outbox o"
                                    " USING (event_id) WHERE s.n > 1 AND o.seq NOT IN"
                                    " (SELECT seq FROM temp.unsent_at_kill)");
    int64_t window = scalar(v.db, "SELECT count(*) FROM temp.unsent_at_kill");
    printf("VERIFY states=%" PRId64 " ids=%" PRId64 " records=%d missing=%" PRId64
           " foreign=%" PRId64 " duplicated_ids=%" PRId64 " (allowed: %" PRId64
           " rows unsent at the kill) outside_that=%" PRId64 "\n",
           expected, seen, atomic_load(&v.records), missing, foreign, dupids, window, bad_dups);
    CHECK(missing == 0, "%" PRId64 " state changes without their event", missing);
    CHECK(foreign == 0, "%" PRId64 " events without their state change", foreign);
    CHECK(bad_dups == 0, "%" PRId64 " ids published twice outside the kill's window", bad_dups);
    CHECK(expected > 0, "no state rows");
    sqlite3_close(v.db);
    return failures ? 1 : 0;
}

/* ---- the consumer side: two processes, one database ------------------------------------------ */

static int cmd_feed(void)
{
    struct tandem_producer *p = producer();
    store_publish_dups(p, topic, nevents);
    tandem_producer_free(p);
    return failures ? 1 : 0;
}

struct apply_state {
    sqlite3 *db;
    atomic_int records, applied, retries;
};

static int apply_one(sqlite3 *db, const struct tandem_event *ev, void *arg)
{
    struct apply_state *a = arg;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO applied VALUES (?1, ?2)", -1, &st, NULL);
    sqlite3_bind_text(st, 1, ev->id ? ev->id : "?", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int)getpid());
    int rc = sqlite3_step(st) == SQLITE_DONE ? TANDEM_EVENT_OK : TANDEM_EVENT_RETRY;
    sqlite3_finalize(st);
    usleep(500); /* hold the write lock a little: the other process waits in BEGIN IMMEDIATE */
    if (rc == TANDEM_EVENT_OK) {
        atomic_fetch_add(&a->applied, 1);
    }
    return rc;
}

static int on_apply(const struct tandem_event *ev, void *arg)
{
    struct apply_state *a = arg;
    int rc = tandem_idempotent(a->db, group, ev, apply_one, a);
    if (rc == TANDEM_EVENT_OK) {
        atomic_fetch_add(&a->records, 1);
    } else {
        atomic_fetch_add(&a->retries, 1);
    }
    return rc;
}

static int cmd_apply(void)
{
    struct apply_state a = {0};
    if (tandem_db_open(dbpath, SCHEMA, &a.db) != 0) {
        return 1;
    }
    struct tandem_consumer *c =
        store_consumer(brokers, kgroup, topic, "lib-store-multi", on_apply, &a);
    int total = nevents + nevents / 2;
    int64_t deadline = now_ms() + 60000;
    while ((atomic_load(&a.records) < total ||
            scalar(a.db, "SELECT count(DISTINCT event_id) FROM applied") < nevents) &&
           now_ms() < deadline) {
        usleep(50 * 1000);
    }
    CHECK(tandem_consumer_stop(c, 10000) == 0, "consumer stop");
    int64_t rows = scalar(a.db, "SELECT count(*) FROM applied");
    int64_t ids = scalar(a.db, "SELECT count(DISTINCT event_id) FROM applied");
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM applied WHERE pid = %d", (int)getpid());
    printf("APPLY pid=%d records=%d applied_here=%d retries=%d rows=%" PRId64 " ids=%" PRId64
           " rows_by_this_process=%" PRId64 "\n",
           (int)getpid(), atomic_load(&a.records), atomic_load(&a.applied), atomic_load(&a.retries),
           rows, ids, scalar(a.db, sql));
    CHECK(atomic_load(&a.records) >= total, "handled %d of %d records", atomic_load(&a.records),
          total);
    CHECK(rows == nevents && ids == nevents, "%" PRId64 " rows, %" PRId64 " ids, not %d", rows, ids,
          nevents);
    sqlite3_close(a.db);
    return failures ? 1 : 0;
}

static int cmd_status(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        printf("states 0 sent 0 unsent 0 applied 0\n");
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 2000);
    int64_t s = scalar(db, "SELECT count(*) FROM state");
    int64_t x = scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NOT NULL");
    int64_t u = scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL");
    int64_t a = scalar(db, "SELECT count(*) FROM applied");
    printf("states %" PRId64 " sent %" PRId64 " unsent %" PRId64 " applied %" PRId64 "\n",
           s < 0 ? 0 : s, x < 0 ? 0 : x, u < 0 ? 0 : u, a < 0 ? 0 : a);
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        goto usage;
    }
    const struct store_flag flags[] = {{"-b", &brokers, NULL}, {"-t", &topic, NULL},
                                       {"-g", &group, NULL},   {"-k", &kgroup, NULL},
                                       {"-d", &dbpath, NULL},  {"-s", &snapfile, NULL},
                                       {"-n", NULL, &nevents}, {"-w", NULL, &wait_ms},
                                       {"-i", NULL, &inst},    {NULL, NULL, NULL}};
    if (store_flags(argc, argv, 2, flags) != 0) {
        goto usage;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "status") == 0 && dbpath != NULL) {
        return cmd_status();
    }
    if (strcmp(cmd, "snapshot") == 0 && dbpath != NULL) {
        return cmd_snapshot();
    }
    if (brokers == NULL || topic == NULL) {
        goto usage;
    }
    if (strcmp(cmd, "feed") == 0) {
        return cmd_feed();
    }
    if (dbpath == NULL) {
        goto usage;
    }
    if (strcmp(cmd, "instance") == 0) {
        return cmd_instance();
    }
    if (strcmp(cmd, "inproc") == 0) {
        return cmd_inproc();
    }
    if (strcmp(cmd, "verify") == 0 && group != NULL) {
        return cmd_verify();
    }
    if (strcmp(cmd, "apply") == 0 && group != NULL && kgroup != NULL) {
        return cmd_apply();
    }
usage:
    fprintf(stderr, "usage: lib-store-multi-check instance|inproc|snapshot|verify|feed|apply|status"
                    " -d DB [-b B -t T -g G -k KG -n N -i ID -w MS -s SNAPSHOT]\n");
    return 2;
}
