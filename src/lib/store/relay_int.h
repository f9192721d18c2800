/*
 * tandem store, private: the outbox relay's state, shared by relay.c (the struct's life, the
 * delivery reports, the SQLite relay) and relay_pg.c (the PostgreSQL relay's thread).
 */
#ifndef TANDEM_RELAY_INT_H
#define TANDEM_RELAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "tandem/store.h"

#define RELAY_MAX_INFLIGHT 1000
#define RELAY_DEFAULT_POLL 1000
#define RELAY_STANDBY_MS   200 /* a standby tries the outbox lock this often */

struct tandem_outbox_relay {
    sqlite3 *db;           /* SQLite: the relay thread's only */
    struct tandem_sql *pg; /* PostgreSQL (relay_pg.c): the relay thread's only; db is NULL */
    int lockfd;            /* SQLite: "<db>-outbox.lock", open from start to the thread's end */
    struct tandem_producer *p;
    int poll_ms;
    pthread_t thread;
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* wakes the relay thread */
    /* under mu */
    bool wake, stopping, rewind;
    int64_t deadline_ms; /* monotonic; < 0: none */
    int64_t *acked;      /* seqs acknowledged, not yet marked */
    size_t nacked, capacked;
    uint64_t inflight;
    struct tandem_outbox_stats stats;
    int stop_rc;
};

struct relay_msg {
    struct tandem_outbox_relay *r;
    int64_t seq;
};

/* Drops a reference; the last one frees r. */
void relay_unref(struct tandem_outbox_relay *r);

/* The delivery report of one row (opaque: a struct relay_msg), on the producer's delivery
 * thread: queues the acknowledged seq, or counts a failure and sets rewind. */
void relay_delivered(int err, const char *topic, int32_t partition, int64_t offset, void *opaque);

/* Takes the queued acknowledged seqs out of r (caller holds mu). */
int64_t *relay_take_acked(struct tandem_outbox_relay *r, size_t *n);

/* Puts seqs that could not be marked back in front of the queue (caller holds mu). */
void relay_requeue(struct tandem_outbox_relay *r, int64_t *a, size_t n);

/* The PostgreSQL relay's thread (relay_pg.c). */
void *relay_pg_main(void *arg);

#endif
