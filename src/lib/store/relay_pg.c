/*
 * tandem store: the outbox relay on PostgreSQL (tandem_outbox_relay_start with a postgres://
 * URL). The struct, the delivery reports and the public functions are relay.c's.
 *
 * Model. The instances of a service, on any number of hosts, share one database and each runs a
 * relay. Two locks make them safe together:
 *   - one publisher at a time: a relay publishes only while its session holds the outbox's
 *     advisory lock (pg_try_advisory_lock, RELAY_PG_LOCK); the others stand by and try it every
 *     RELAY_STANDBY_MS. PostgreSQL releases it when the session ends (the relay stopped, its
 *     process or host died, its connection was cut or its backend killed), so a standby takes
 *     over within RELAY_STANDBY_MS of the server noticing. One publisher keeps the records of a
 *     key in order (two publishing side by side would interleave them).
 *   - rows claimed: each round runs in one transaction that selects the unsent rows with
 *     FOR UPDATE SKIP LOCKED, publishes them, waits for every delivery report, writes sent_at
 *     for the acknowledged ones and commits. A row is thus locked from its claim to its mark:
 *     should two relays ever publish at once (a holder whose session was cut while it still had
 *     records in flight, and its successor), they still never take the same unsent row, and a
 *     row marked by one is never selected by the other (READ COMMITTED rechecks sent_at on the
 *     locked row's newest version).
 * There is no cursor: every round selects all unsent rows in seq order. On PostgreSQL several
 * connections insert outbox rows at once and a smaller seq may commit after a larger one; a
 * cursor ("seq > last published") would skip it for good. Without one, such a row goes out in
 * the next round (per key, commits that write the same entity's rows are serialized by those
 * rows' locks, so the order of one key's events is their commit order).
 *
 * A reconnection is a new session, without the advisory lock: the relay compares the
 * connection's reconnect count with the one it had when it took the lock and goes back to
 * standby when they differ. Rows a lost holder published but could not mark go out again from
 * its successor with the same ids (at-least-once; tandem_idempotent drops the copies). Without
 * failures, every row is published exactly once, whichever relay holds the lock.
 *
 * Stop: a standby tries the lock once more and stops when it is held elsewhere; the holder (or a
 * standby that found it free) publishes the rows committed when the stop began (seq <= the
 * largest then), then closes its connection, which releases the lock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "relay_int.h"
#include "sql_int.h"

/* The outbox's advisory lock key (the ASCII of "tadoutbx"; any fixed value will do). */
#define RELAY_PG_LOCK  "8386094411015283320"
#define RELAY_PG_BATCH 5000

/* Tries the advisory lock once: 1 taken, 0 held by another session, TANDEM_EIO. */
static int pg_try_lock(struct tandem_sql *db)
{
    struct tandem_sql_stmt *st = NULL;
    if (tandem_sql_prepare(db, "SELECT pg_try_advisory_lock(" RELAY_PG_LOCK ")", &st) != 0) {
        return TANDEM_EIO;
    }
    int rc = tandem_sql_step(st);
    rc = rc == TANDEM_SQL_ROW ? (tandem_sql_column_int64(st, 0) ? 1 : 0) : TANDEM_EIO;
    tandem_sql_finalize(st);
    return rc;
}

/* The largest seq committed now, or INT64_MAX when it cannot be read. */
static int64_t pg_last_seq(struct tandem_sql *db)
{
    struct tandem_sql_stmt *st = NULL;
    int64_t v = INT64_MAX;
    if (tandem_sql_prepare(db, "SELECT coalesce(max(seq), 0) FROM tandem_outbox", &st) == 0 &&
        tandem_sql_step(st) == TANDEM_SQL_ROW) {
        v = tandem_sql_column_int64(st, 0);
    }
    tandem_sql_finalize(st);
    return v;
}

/* Appends "{a,b,...}" of seqs to a malloc'd string (PostgreSQL's array literal). */
static char *seq_array(const int64_t *seqs, size_t n)
{
    size_t cap = 2 + n * 21 + 1, o = 0;
    char *s = xmalloc(cap);
    s[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(s + o, cap - o, "%s%" PRId64, i ? "," : "", seqs[i]);
    }
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* sent_at = when for seqs[0..n), inside the round's transaction. 0 or TANDEM_EIO. */
static int pg_mark(struct tandem_sql *db, const int64_t *seqs, size_t n, int64_t when)
{
    struct tandem_sql_stmt *st = NULL;
    if (n == 0) {
        return 0;
    }
    if (tandem_sql_prepare(
            db, "UPDATE tandem_outbox SET sent_at = ?1 WHERE seq = ANY(?2::bigint[])", &st) != 0) {
        return TANDEM_EIO;
    }
    char *arr = seq_array(seqs, n);
    tandem_sql_bind_int64(st, 1, when);
    tandem_sql_bind_text(st, 2, arr);
    int rc = tandem_sql_step(st) == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
    tandem_sql_finalize(st);
    free(arr);
    return rc;
}

/* Publishes the claimed row under st; refused rows go to refused[]. Returns 0, 1 when the
 * producer refused it for now (queue full, closing). */
static int pg_publish_row(struct tandem_outbox_relay *r, struct tandem_sql_stmt *st,
                          int64_t *refused, size_t *nrefused)
{
    struct tandem_event_out ev = {0};
    int64_t seq = tandem_sql_column_int64(st, 0);
    ev.topic = tandem_sql_column_text(st, 1);
    ev.key = tandem_sql_column_blob(st, 2, &ev.key_len);
    ev.type = tandem_sql_column_text(st, 3);
    ev.subject = tandem_sql_column_text(st, 4);
    ev.id = tandem_sql_column_text(st, 5);
    ev.traceparent = tandem_sql_column_text(st, 6);
    ev.data = tandem_sql_column_blob(st, 7, &ev.data_len);
    struct relay_msg *m = xmalloc(sizeof(*m));
    m->r = r;
    m->seq = seq;
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_lock(&r->mu);
    r->inflight++;
    pthread_mutex_unlock(&r->mu);
    int rc = tandem_publish(r->p, &ev, relay_delivered, m);
    if (rc == 0) {
        pthread_mutex_lock(&r->mu);
        r->stats.published++;
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    pthread_mutex_lock(&r->mu);
    r->inflight--;
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_sub(&r->refs, 1); /* the owner's reference is still held */
    free(m);
    if (rc == TANDEM_EINVAL) {
        log_error("outbox: row refused by tandem_publish, marked sent_at -1", "\"seq\":%lld",
                  (long long)seq);
        refused[(*nrefused)++] = seq;
        return 0;
    }
    return 1;
}

/*
 * One round: claims up to RELAY_PG_BATCH unsent rows (seq <= last), publishes them, waits for
 * their reports (until the stop's deadline, if any), marks the acknowledged rows (and refused
 * ones -1) and commits. Returns the rows claimed, or TANDEM_EIO (the transaction is rolled back:
 * the rows stay unsent; acknowledged ones go out again later, same ids).
 */
/* 1 when an unsent row up to last is committed, 0 when none, TANDEM_EIO. One autocommit
 * statement on the partial index of unsent rows: an idle outbox costs a round trip a poll, not a
 * claim transaction's three. */
static int pg_pending(struct tandem_sql *db, int64_t last)
{
    struct tandem_sql_stmt *st = NULL;
    if (tandem_sql_prepare(db,
                           "SELECT 1 FROM tandem_outbox WHERE sent_at IS NULL AND seq <= ?1"
                           " LIMIT 1",
                           &st) != 0) {
        return TANDEM_EIO;
    }
    tandem_sql_bind_int64(st, 1, last);
    int rc = tandem_sql_step(st);
    tandem_sql_finalize(st);
    return rc == TANDEM_SQL_ROW ? 1 : rc == TANDEM_SQL_DONE ? 0 : TANDEM_EIO;
}

static int pg_round(struct tandem_outbox_relay *r, int64_t last, uint64_t epoch, int64_t *refused)
{
    struct tandem_sql *db = r->pg;
    struct tandem_sql_stmt *st = NULL;
    size_t nrefused = 0;
    int claimed = 0;
    int pending = pg_pending(db, last);
    if (pending <= 0 || db->reconnects != epoch) {
        return pending == 0 && db->reconnects == epoch ? 0 : TANDEM_EIO;
    }
    if (tandem_sql_begin(db) != 0) {
        return TANDEM_EIO;
    }
    if (db->reconnects != epoch) {
        goto fail; /* a new session: the advisory lock is not ours any more */
    }
    if (tandem_sql_prepare(db,
                           "SELECT seq, topic, key, type, subject, event_id, traceparent, data"
                           " FROM tandem_outbox WHERE sent_at IS NULL AND seq <= ?2"
                           " ORDER BY seq LIMIT ?1 FOR UPDATE SKIP LOCKED",
                           &st) != 0) {
        goto fail;
    }
    tandem_sql_bind_int64(st, 1, RELAY_PG_BATCH);
    tandem_sql_bind_int64(st, 2, last);
    int s = tandem_sql_step(st);
    bool full = false;
    for (; s == TANDEM_SQL_ROW; s = tandem_sql_step(st)) {
        claimed++;
        if (!full && pg_publish_row(r, st, refused, &nrefused) != 0) {
            full = true; /* the rest stay unsent: the next round takes them */
        }
    }
    tandem_sql_finalize(st);
    if (s != TANDEM_SQL_DONE) {
        goto fail;
    }
    /* every report, or the stop's deadline */
    pthread_mutex_lock(&r->mu);
    while (r->inflight > 0 &&
           !(r->stopping && r->deadline_ms >= 0 && clock_mono_ms() >= r->deadline_ms)) {
        struct timespec ts = clock_deadline(CLOCK_REALTIME, 100);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    size_t nacked = 0;
    int64_t *acked = relay_take_acked(r, &nacked);
    pthread_mutex_unlock(&r->mu);
    int64_t now = clock_wall_ms();
    if (pg_mark(db, acked, nacked, now) != 0 || pg_mark(db, refused, nrefused, -1) != 0 ||
        tandem_sql_commit(db) != 0) {
        free(acked);
        goto fail;
    }
    free(acked);
    pthread_mutex_lock(&r->mu);
    r->stats.marked += nacked;
    pthread_mutex_unlock(&r->mu);
    return claimed;
fail:
    tandem_sql_rollback(db);
    return TANDEM_EIO;
}

void *relay_pg_main(void *arg)
{
    struct tandem_outbox_relay *r = arg;
    int64_t *refused = xmalloc(RELAY_PG_BATCH * sizeof(*refused));
    int64_t last = INT64_MAX; /* stopping: the last seq committed when the stop began */
    uint64_t epoch = 0;       /* r->pg->reconnects when the lock was taken */
    bool told = false;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        bool stopping = r->stopping;
        bool holder = r->stats.holder != 0;
        pthread_mutex_unlock(&r->mu);
        int got = 0;
        if (!holder) {
            int rc = pg_try_lock(r->pg);
            if (rc == 1) {
                holder = true;
                epoch = r->pg->reconnects;
                log_info("outbox: this relay holds the outbox lock and publishes", NULL);
            } else if (!told) {
                log_info("outbox: another relay holds the outbox lock (or the database is away);"
                         " standing by",
                         NULL);
                told = true;
            }
        }
        if (holder) {
            if (stopping && last == INT64_MAX) {
                last = pg_last_seq(r->pg);
            }
            got = pg_round(r, last, epoch, refused);
            if (got < 0 && (sql_lost(r->pg) || r->pg->reconnects != epoch)) {
                log_warn("outbox: lost the database connection; standing by", NULL);
                holder = false;
                told = false;
            }
        }
        pthread_mutex_lock(&r->mu);
        r->stats.holder = holder ? 1 : 0;
        if (r->stopping && holder && got < 0) {
            r->stop_rc = TANDEM_ETIMEDOUT; /* the database failed: rows stay for the next start */
            break;
        }
        if (r->stopping && (!holder || got == 0)) {
            r->stop_rc = 0; /* a standby stops; a holder has drained */
            break;
        }
        if (r->stopping && r->deadline_ms >= 0 && clock_mono_ms() >= r->deadline_ms) {
            r->stop_rc = r->inflight == 0 ? 0 : TANDEM_ETIMEDOUT;
            break;
        }
        if (holder && got >= RELAY_PG_BATCH) {
            continue; /* a full round: there may be more */
        }
        if (!r->wake && !r->stopping) {
            int wait = holder ? r->poll_ms : RELAY_STANDBY_MS;
            wait = got < 0 ? RELAY_STANDBY_MS : wait;
            wait = !holder && r->poll_ms < wait ? r->poll_ms : wait;
            struct timespec ts = clock_deadline(CLOCK_REALTIME, wait);
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        r->wake = false;
    }
    pthread_mutex_unlock(&r->mu);
    free(refused);
    tandem_sql_close(r->pg); /* ends the session: releases the advisory lock */
    r->pg = NULL;
    return NULL;
}
