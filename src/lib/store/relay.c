/*
 * tandem store: the outbox relay, which moves committed outbox rows to Kafka. This file holds the
 * relay's life (start, wake, stats, stop), its delivery reports and the SQLite relay; a relay
 * given a postgres:// URL runs relay_pg.c's thread instead (an advisory lock, rows claimed with
 * FOR UPDATE SKIP LOCKED, no cursor).
 *
 * Model. One thread with its own SQLite connection (WAL: its reads never block the service's
 * writer). It keeps a cursor, the highest seq it has handed to tandem_publish, and each round
 * reads the unsent rows past the cursor in seq order and publishes them through the service's
 * producer (idempotent, acks=all: the records of one key reach the broker in seq order). The
 * delivery callback runs on the producer's delivery thread; it only queues the acknowledged seq
 * (or notes a failure) and wakes the relay thread, which writes sent_at for the queued seqs in one
 * transaction. So sent_at is set only for rows the broker has acknowledged.
 *
 * Several relays, one database. The instances of a service share one SQLite file, and each runs
 * a relay on it. Exactly one of them publishes: the one holding the outbox lock, an exclusive
 * flock(2) on the file "<db>-outbox.lock" beside the database. The others are standbys: every
 * RELAY_STANDBY_MS (or poll_ms when shorter) they try the lock without blocking, and publish
 * nothing meanwhile. The kernel, not a clock, decides who holds it:
 *   - a holder that stops (tandem_outbox_relay_stop) releases it after its drain, which covers
 *     the rows committed when the stop began (the others', committed meanwhile, are the next
 *     holder's: a stop ends even while other instances keep writing);
 *   - a holder that dies (kill -9, a crash) releases it when its process ends: the kernel closes
 *     its descriptors, so a standby takes over within RELAY_STANDBY_MS of the death;
 *   - a holder that is alive but slow (paused, swapping) keeps it: no second relay ever publishes
 *     beside a live one, however long the pause. A lease row with an expiry would instead let a
 *     standby take over from a paused holder that then wakes and publishes too (split brain,
 *     reordering); on one machine the kernel's lock has no such window and needs no clock.
 * flock locks belong to an open file description, so two relays of one process (two open()s)
 * exclude each other exactly like two processes. The lock file stays (removing a lock file
 * races with its next taker); it is empty. A forked child inherits the descriptor, and with it
 * the lock: the relay opens it O_CLOEXEC, and a service must not fork without exec while its
 * relay runs. SQLite's WAL needs one machine anyway (no network file system), and so does this.
 *
 * A new holder starts from cursor 0: it publishes every unsent row, oldest first. Rows the old
 * holder published but had not marked (its crash between publish and mark) go out again with
 * the same ids, the documented at-least-once case. Per-key order survives the handover: the old
 * holder's last records (if its socket still delivers them) and the new holder's are each in seq
 * order, and every old record is a copy of a row the new holder also publishes, so the first
 * occurrence of each id on a partition is still in seq order; later copies are duplicates that
 * tandem_idempotent drops. Seq order is commit order, whoever wrote the rows: every writer takes
 * SQLite's single write lock before its INSERT and keeps it to its COMMIT, so a row with a
 * smaller seq is always committed (visible) before a larger one.
 *
 * Invariants.
 *   - Only the lock holder calls tandem_publish or writes sent_at.
 *   - inflight = records published whose report has not come back; at most RELAY_MAX_INFLIGHT.
 *   - A failed report sets rewind; once inflight is 0 the cursor goes back to 0 and every row
 *     still unsent is published again (same ids; consumers using tandem_idempotent drop the
 *     duplicates).
 *   - The struct is reference counted: the owner holds one reference until stop returns, every
 *     in-flight record one until its report ran; the last reference frees it. A report arriving
 *     after stop gave up waiting is therefore harmless.
 *   - A crash anywhere leaves rows unsent or sent, never half: at the next start they are
 *     published again from the oldest unsent row.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "relay_int.h"
#include "sql_int.h"
#include "store_int.h"
#include "tandem/store.h"

void relay_unref(struct tandem_outbox_relay *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1) {
        return;
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->acked);
    free(r);
}

/* The delivery report of one row, on the producer's delivery thread. */
void relay_delivered(int err, const char *topic, int32_t partition, int64_t offset, void *opaque)
{
    struct relay_msg *m = opaque;
    struct tandem_outbox_relay *r = m->r;
    pthread_mutex_lock(&r->mu);
    r->inflight--;
    if (err == 0) {
        if (r->nacked == r->capacked) {
            r->capacked = r->capacked ? r->capacked * 2 : 64;
            r->acked = xrealloc(r->acked, r->capacked * sizeof(*r->acked));
        }
        r->acked[r->nacked++] = m->seq;
        r->stats.acked++;
    } else {
        r->stats.failed++;
        r->rewind = true;
    }
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (err != 0) {
        log_warn("outbox: delivery failed, will publish again", "\"seq\":%lld,\"err\":\"%s\"",
                 (long long)m->seq, tandem_strerror(err));
    }
    free(m);
    relay_unref(r);
}

/* Sets sent_at = when for seqs[0..n) in one transaction. Returns 0 or TANDEM_EIO. */
static int mark_sent(sqlite3 *db, const int64_t *seqs, size_t n, int64_t when)
{
    sqlite3_stmt *st = NULL;
    if (store_exec(db, "BEGIN IMMEDIATE", "outbox: begin") != 0) {
        return TANDEM_EIO;
    }
    if (sqlite3_prepare_v2(db, "UPDATE tandem_outbox SET sent_at = ?1 WHERE seq = ?2", -1, &st,
                           NULL) != SQLITE_OK) {
        store_fail(db, "outbox: mark sent");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, when);
        sqlite3_bind_int64(st, 2, seqs[i]);
        if (sqlite3_step(st) != SQLITE_DONE) {
            store_fail(db, "outbox: mark sent");
            goto fail;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (store_exec(db, "COMMIT", "outbox: commit") != 0) {
        goto fail;
    }
    return 0;
fail:
    sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(db)) {
        store_exec(db, "ROLLBACK", "outbox: rollback");
    }
    return TANDEM_EIO;
}

static const void *col_blob(sqlite3_stmt *st, int i, size_t *len)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        *len = 0;
        return NULL;
    }
    const void *p = sqlite3_column_blob(st, i);
    *len = (size_t)sqlite3_column_bytes(st, i);
    return p != NULL ? p : "";
}

/*
 * Publishes up to room unsent rows past *cursor and up to seq last, advancing the cursor. Rows
 * tandem_publish refuses as invalid go to refused[] (at most room). Returns the number of rows
 * handled (published or refused), or TANDEM_EIO; stops early (no error) when the producer's queue
 * is full or closed.
 */
static int publish_round(struct tandem_outbox_relay *r, int64_t *cursor, int64_t last, int room,
                         int64_t *refused, size_t *nrefused)
{
    sqlite3_stmt *st = NULL;
    int handled = 0;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT seq, topic, key, type, subject, event_id, traceparent, data"
                           " FROM tandem_outbox WHERE sent_at IS NULL AND seq > ?1 AND seq <= ?3"
                           " ORDER BY seq LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        return store_fail(r->db, "outbox: read");
    }
    sqlite3_bind_int64(st, 1, *cursor);
    sqlite3_bind_int(st, 2, room);
    sqlite3_bind_int64(st, 3, last);
    int s = sqlite3_step(st);
    for (; s == SQLITE_ROW; s = sqlite3_step(st)) {
        struct tandem_event_out ev = {0};
        int64_t seq = sqlite3_column_int64(st, 0);
        ev.topic = (const char *)sqlite3_column_text(st, 1);
        ev.key = col_blob(st, 2, &ev.key_len);
        ev.type = (const char *)sqlite3_column_text(st, 3);
        ev.subject = (const char *)sqlite3_column_text(st, 4);
        ev.id = (const char *)sqlite3_column_text(st, 5);
        ev.traceparent = (const char *)sqlite3_column_text(st, 6);
        ev.data = col_blob(st, 7, &ev.data_len);
        struct relay_msg *m = xmalloc(sizeof(*m));
        m->r = r;
        m->seq = seq;
        atomic_fetch_add(&r->refs, 1);
        pthread_mutex_lock(&r->mu);
        r->inflight++;
        pthread_mutex_unlock(&r->mu);
        int rc = tandem_publish(r->p, &ev, relay_delivered, m);
        if (rc != 0) {
            pthread_mutex_lock(&r->mu);
            r->inflight--;
            pthread_mutex_unlock(&r->mu);
            atomic_fetch_sub(&r->refs, 1); /* the owner's reference is still held */
            free(m);
        }
        if (rc == TANDEM_EINVAL) {
            log_error("outbox: row refused by tandem_publish, marked sent_at -1", "\"seq\":%lld",
                      (long long)seq);
            refused[(*nrefused)++] = seq;
        } else if (rc != 0) {
            break; /* queue full or producer closing: try again next round */
        } else {
            pthread_mutex_lock(&r->mu);
            r->stats.published++;
            pthread_mutex_unlock(&r->mu);
        }
        *cursor = seq;
        handled++;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) {
        store_fail(r->db, "outbox: read");
        handled = TANDEM_EIO;
    }
    sqlite3_finalize(st);
    return handled;
}

/* The highest seq committed now (0: none), or INT64_MAX when it cannot be read. A stopping relay
 * drains up to it: rows other instances commit during the drain are left to the next holder,
 * so a stop ends even while they keep writing. */
static int64_t last_seq(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t v = INT64_MAX;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(seq), 0) FROM tandem_outbox", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Takes the queued acknowledged seqs out of r (caller holds mu). */
int64_t *relay_take_acked(struct tandem_outbox_relay *r, size_t *n)
{
    int64_t *a = r->acked;
    *n = r->nacked;
    r->acked = NULL;
    r->nacked = r->capacked = 0;
    return a;
}

/* Puts seqs that could not be marked back in front of the queue (caller holds mu). */
void relay_requeue(struct tandem_outbox_relay *r, int64_t *a, size_t n)
{
    if (n == 0) {
        free(a);
        return;
    }
    a = xrealloc(a, (n + r->nacked) * sizeof(*a));
    if (r->nacked > 0) {
        memcpy(a + n, r->acked, r->nacked * sizeof(*a));
    }
    free(r->acked);
    r->acked = a;
    r->nacked = r->capacked = n + r->nacked;
}

/*
 * The standby: tries the outbox lock without blocking every RELAY_STANDBY_MS (poll_ms when
 * shorter) and at every wake, until it is this relay's (true) or the relay is stopping (false).
 * A stopping standby tries once more first: when the lock is free then, no other relay runs and
 * this one drains what is unsent (a relay stopped before its thread ever tried, or the last
 * instance to stop, still publishes). Called and returns with mu held.
 */
static bool relay_take_lock(struct tandem_outbox_relay *r)
{
    int64_t every = r->poll_ms < RELAY_STANDBY_MS ? r->poll_ms : RELAY_STANDBY_MS;
    bool told = false;
    for (;;) {
        bool last_try = r->stopping;
        pthread_mutex_unlock(&r->mu);
        int rc = flock(r->lockfd, LOCK_EX | LOCK_NB);
        int err = rc == 0 ? 0 : errno;
        pthread_mutex_lock(&r->mu);
        if (rc == 0) {
            r->stats.holder = 1;
            log_info("outbox: this relay holds the outbox lock and publishes", NULL);
            return true;
        }
        if (last_try) {
            return false;
        }
        if (!told) {
            if (err == EWOULDBLOCK) {
                log_info("outbox: another relay holds the outbox lock; standing by", NULL);
            } else {
                log_error("outbox: cannot take the outbox lock; standing by", "\"errno\":%d", err);
            }
            told = true;
        }
        if (!r->wake) {
            struct timespec ts = clock_deadline(CLOCK_REALTIME, every);
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        r->wake = false;
    }
}

static void *relay_main(void *arg)
{
    struct tandem_outbox_relay *r = arg;
    int64_t cursor = 0;
    int64_t *refused = xmalloc(RELAY_MAX_INFLIGHT * sizeof(*refused));
    bool drained = false;     /* stopping: a round found nothing more to publish */
    int64_t last = INT64_MAX; /* stopping: the last seq committed when the stop began */
    pthread_mutex_lock(&r->mu);
    if (!relay_take_lock(r)) {
        r->stop_rc = 0; /* stopped as a standby: nothing published, nothing to drain */
    }
    while (r->stats.holder) {
        size_t nacked = 0;
        int64_t *acked = relay_take_acked(r, &nacked);
        bool rewind = r->rewind && r->inflight == 0;
        if (rewind) {
            r->rewind = false;
        }
        bool stopping = r->stopping;
        int room = RELAY_MAX_INFLIGHT - (int)r->inflight;
        pthread_mutex_unlock(&r->mu);

        bool marked_ok = true;
        if (nacked > 0) {
            marked_ok = mark_sent(r->db, acked, nacked, clock_wall_ms()) == 0;
        }
        if (rewind) {
            cursor = 0;
            drained = false; /* a stop publishes the failed rows again too */
        }
        int got = 0;
        size_t nrefused = 0;
        if (stopping && last == INT64_MAX) {
            last = last_seq(r->db);
        }
        if (room > 0 && !(stopping && drained)) {
            got = publish_round(r, &cursor, last, room, refused, &nrefused);
            if (stopping && got <= 0) {
                drained = true;
            }
        }
        if (nrefused > 0) {
            mark_sent(r->db, refused, nrefused, -1);
        }

        pthread_mutex_lock(&r->mu);
        if (marked_ok) {
            r->stats.marked += nacked;
            free(acked);
        } else {
            relay_requeue(r, acked, nacked);
        }
        if (r->stopping && drained && r->inflight == 0 && r->nacked == 0) {
            r->stop_rc = 0;
            break;
        }
        int64_t now = clock_mono_ms();
        if (r->stopping && r->deadline_ms >= 0 && now >= r->deadline_ms) {
            r->stop_rc = r->nacked == 0 && r->inflight == 0 ? 0 : TANDEM_ETIMEDOUT;
            break;
        }
        if (got > 0 && got == room && marked_ok) {
            continue; /* a full round: there may be more */
        }
        if (!r->wake && r->nacked == 0 && !(r->rewind && r->inflight == 0) &&
            !(r->stopping && !drained && r->inflight < RELAY_MAX_INFLIGHT)) {
            int64_t wait = r->poll_ms;
            if (r->stopping && r->deadline_ms >= 0 && r->deadline_ms - now < wait) {
                wait = r->deadline_ms - now;
            }
            struct timespec ts = clock_deadline(CLOCK_REALTIME, wait);
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
        r->wake = false;
    }
    /* the last acknowledgements, best effort */
    size_t nacked = 0;
    int64_t *acked = relay_take_acked(r, &nacked);
    pthread_mutex_unlock(&r->mu);
    if (nacked > 0 && mark_sent(r->db, acked, nacked, clock_wall_ms()) == 0) {
        pthread_mutex_lock(&r->mu);
        r->stats.marked += nacked;
        pthread_mutex_unlock(&r->mu);
    }
    free(acked);
    free(refused);
    sqlite3_close(r->db);
    r->db = NULL;
    close(r->lockfd); /* releases the outbox lock: a standby takes over */
    r->lockfd = -1;
    return NULL;
}

/* Opens (creating it) the outbox lock file of the database at db_path. Returns the descriptor
 * or -1 (logged). */
static int relay_lock_open(const char *db_path)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s-outbox.lock", db_path);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        log_error("outbox: database path too long for its lock file", NULL);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        char p[512];
        log_error("outbox: cannot open the outbox lock file", "\"path\":%s,\"errno\":%d",
                  log_json_str(p, sizeof(p), path), errno);
    }
    return fd;
}

int tandem_outbox_relay_start(const char *db_path, struct tandem_producer *p, int poll_ms,
                              struct tandem_outbox_relay **out)
{
    if (db_path == NULL || p == NULL || out == NULL || poll_ms < 0) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    struct tandem_outbox_relay *r = xcalloc(1, sizeof(*r));
    r->lockfd = -1;
    bool pg = tandem_sql_is_postgres(db_path);
    int rc =
        pg ? tandem_sql_open(db_path, NULL, NULL, &r->pg) : tandem_db_open(db_path, NULL, &r->db);
    if (rc != 0) {
        free(r);
        return rc;
    }
    if (!pg) {
        r->lockfd = relay_lock_open(db_path);
        if (r->lockfd < 0) {
            sqlite3_close(r->db);
            free(r);
            return TANDEM_EIO;
        }
    }
    r->p = p;
    r->poll_ms = poll_ms > 0 ? poll_ms : RELAY_DEFAULT_POLL;
    r->deadline_ms = -1;
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, pg ? relay_pg_main : relay_main, r) != 0) {
        sqlite3_close(r->db);
        tandem_sql_close(r->pg);
        if (r->lockfd >= 0) {
            close(r->lockfd);
        }
        relay_unref(r);
        return TANDEM_EIO;
    }
    *out = r;
    return 0;
}

void tandem_outbox_relay_wake(struct tandem_outbox_relay *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->wake = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void tandem_outbox_relay_stats(struct tandem_outbox_relay *r, struct tandem_outbox_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    pthread_mutex_unlock(&r->mu);
}

int tandem_outbox_relay_stop(struct tandem_outbox_relay *r, int timeout_ms)
{
    if (r == NULL) {
        return 0;
    }
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    r->deadline_ms = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    int rc = r->stop_rc;
    relay_unref(r);
    return rc;
}
