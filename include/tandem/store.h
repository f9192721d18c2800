/*
 * tandem store: the reliability helpers of a service that keeps its state in SQLite. See
 * docs/store.md.
 *
 * Idempotent consumer. Delivery is at-least-once (events.h): a record may be handed again after a
 * crash or a rebalance. tandem_idempotent runs a handler inside one SQLite transaction that also
 * records (consumer group, event source, event id) in tandem_processed_events (CloudEvents 1.0:
 * an id is unique only within its source), so the handler's writes and the
 * "processed" mark commit together or not at all; a redelivered id commits nothing and returns
 * TANDEM_EVENT_OK without calling the handler.
 *
 * Transactional outbox. tandem_outbox_add writes an event into tandem_outbox inside the caller's
 * own transaction, next to the state change it announces: both commit, or neither. A relay
 * (its own thread and its own connection) publishes unsent rows in seq order, each with its
 * stored CloudEvents id, and marks a row sent only after the broker acknowledged it (acks=all). A
 * crash between publish and mark re-publishes the row with the same id, which consumers using
 * tandem_idempotent drop. So: no state change without its event, no event without its state
 * change; an event may be published more than once, always with one id.
 *
 * Tables created by tandem_db_open (besides the service's schema):
 *
 *   tandem_processed_events(consumer_group TEXT, event_source TEXT, event_id TEXT,
 *                           processed_at INTEGER (unix ms),
 *                           UNIQUE(consumer_group, event_id, event_source))
 *   (schema 2; a schema 1 table, without event_source, is migrated at open: its rows get
 *   event_source NULL, "unknown", which matches any source; see docs/store.md)
 *   tandem_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, topic, key BLOB, type, subject,
 *                 event_id, traceparent, data BLOB, created_at INTEGER (unix ms),
 *                 sent_at INTEGER NULL (unix ms; -1: refused by tandem_publish, never sent))
 *
 * Errors are negative TANDEM_E* codes (error.h), unless said otherwise.
 */
#ifndef TANDEM_STORE_H
#define TANDEM_STORE_H

#include <stdint.h>

#include <sqlite3.h>

#include "tandem/error.h"
#include "tandem/events.h"
#include "tandem/sql.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Opens (creating it if needed) the database at path with: journal_mode=WAL, synchronous=FULL
 * (a commit is on disk when it returns, so an event acknowledged downstream is never lost on
 * power failure), busy_timeout 5000 ms, foreign_keys=ON. Then runs schema_sql (NULL: none; it
 * runs at every open, so write it with IF NOT EXISTS) and creates tandem's two tables (migrating
 * a schema 1 tandem_processed_events, in one transaction). Returns 0
 * and *out (close it with sqlite3_close); TANDEM_EINVAL (no path or out), TANDEM_EIO (SQLite
 * failed: the reason is logged).
 */
TANDEM_EXPORT int tandem_db_open(const char *path, const char *schema_sql, sqlite3 **out);

/* A handler run by tandem_idempotent inside its transaction: returns a tandem_event_result. */
typedef int (*tandem_idempotent_fn)(sqlite3 *db, const struct tandem_event *ev, void *arg);

/*
 * Handles ev at most once per consumer group. BEGIN IMMEDIATE; when (group, source, id) is in
 * tandem_processed_events, COMMIT and return TANDEM_EVENT_OK without calling fn. Otherwise call
 * fn(db, ev, arg) (its writes go into the same transaction; it must not BEGIN/COMMIT itself);
 * when it returns TANDEM_EVENT_OK, record (group, source, id, now) and COMMIT; any other value
 * ROLLBACKs everything fn wrote and is returned as is. The key is (ev->source, ev->id), or ("",
 * "kafka:<topic>/<partition>/<offset>") for a record that is not a CloudEvent. The result can be
 * returned straight from a consumer handler: a database that stays busy or fails (BEGIN, INSERT or
 * COMMIT) gives TANDEM_EVENT_RETRY (logged). TANDEM_EINVAL when an argument is missing or db is
 * already inside a transaction. Same thread as db's other users (an SQLite connection is not shared
 * across threads here).
 */
TANDEM_EXPORT int tandem_idempotent(sqlite3 *db, const char *group, const struct tandem_event *ev,
                                    tandem_idempotent_fn fn, void *arg);

/*
 * Deletes processed ids older than max_age_ms (all groups), 1000 rows per statement (each its own
 * transaction outside the caller's, so the write lock is held in short turns while other
 * connections and processes write). An id must be kept longer than any redelivery may take (a
 * week is ample with Kafka's default retention). Returns 0 and the number deleted in *deleted
 * (may be NULL); TANDEM_EINVAL; TANDEM_EIO.
 */
TANDEM_EXPORT int tandem_idempotent_prune(sqlite3 *db, int64_t max_age_ms, int64_t *deleted);

/*
 * Adds ev to the outbox. Must be called inside the caller's open transaction (BEGIN ... COMMIT;
 * checked with sqlite3_get_autocommit): the row commits or rolls back with the caller's state
 * change. ev is copied. When ev->id is NULL a random UUID (version 4) is generated and stored,
 * so every publication of the row carries the same CloudEvents id; it is written to id_out
 * (37 bytes, may be NULL; a longer given id is cut to 36 characters there, never in the row).
 * Returns 0; TANDEM_EINVAL (no transaction open, no topic or type, an empty id or subject, an
 * invalid traceparent); TANDEM_EIO (SQLite failed).
 */
TANDEM_EXPORT int tandem_outbox_add(sqlite3 *db, const struct tandem_event_out *ev,
                                    char id_out[37]);

/*
 * Deletes outbox rows sent more than max_age_ms ago, 1000 rows per statement like
 * tandem_idempotent_prune. Returns 0 and the count in *deleted (may be NULL); TANDEM_EINVAL;
 * TANDEM_EIO.
 */
TANDEM_EXPORT int tandem_outbox_prune(sqlite3 *db, int64_t max_age_ms, int64_t *deleted);

/* ---- the same on either backend, through tandem_sql (sql.h) ---------------------------------
 *
 * The functions above take an SQLite connection; these take a struct tandem_sql, SQLite or
 * PostgreSQL (tandem_sql_open), and behave the same, with these differences on PostgreSQL:
 *   - tandem_sql_idempotent runs in a READ COMMITTED transaction. Two consumers handling the same
 *     event at once (a rebalance's overlap) both may start the handler; the "processed" row is
 *     inserted first, so the second waits for the first and then rolls its work back, and
 *     the event counts as handled (TANDEM_EVENT_OK), or when the first rolled back goes on.
 *   - A statement that fails inside a handler fails the transaction (PostgreSQL refuses all but
 *     ROLLBACK then): the event is retried (TANDEM_EVENT_RETRY) even when the handler returned OK.
 * The sqlite3 functions above are these over the given connection.
 */

/* A handler run by tandem_sql_idempotent inside its transaction: returns a tandem_event_result. */
typedef int (*tandem_sql_idempotent_fn)(struct tandem_sql *db, const struct tandem_event *ev,
                                        void *arg);

/* tandem_idempotent on either backend (see above). */
TANDEM_EXPORT int tandem_sql_idempotent(struct tandem_sql *db, const char *group,
                                        const struct tandem_event *ev, tandem_sql_idempotent_fn fn,
                                        void *arg);

/* tandem_idempotent_prune on either backend. */
TANDEM_EXPORT int tandem_sql_idempotent_prune(struct tandem_sql *db, int64_t max_age_ms,
                                              int64_t *deleted);

/* tandem_outbox_add on either backend: inside the caller's transaction (tandem_sql_begin or
 * tandem_sql_write; checked with tandem_sql_txn_state). */
TANDEM_EXPORT int tandem_sql_outbox_add(struct tandem_sql *db, const struct tandem_event_out *ev,
                                        char id_out[37]);

/* tandem_outbox_prune on either backend. */
TANDEM_EXPORT int tandem_sql_outbox_prune(struct tandem_sql *db, int64_t max_age_ms,
                                          int64_t *deleted);

struct tandem_outbox_relay;

/*
 * Starts a relay on its own thread with its own connection to db_path (tandem_db_open with no
 * schema). Every poll_ms (0: 1000), or at once after tandem_outbox_relay_wake, it reads the
 * unsent rows in seq order and publishes each through p with its stored id, key, type, subject,
 * traceparent and data; at most 1000 are in flight. A row's sent_at is written only once its
 * delivery report said the broker has it (acks=all). A failed delivery makes the relay publish
 * again, from the oldest unsent row, once nothing is in flight. p must outlive the relay and may
 * be shared with other publishers.
 *
 * Several relays on one database (the instances of a service, in one process or several, on one
 * machine): only the one holding the outbox lock publishes, an exclusive flock(2) on the file
 * "<db_path>-outbox.lock" (created beside the database, never removed). The others stand by and
 * try the lock every 200 ms (poll_ms when shorter); the holder keeps it until it is stopped or
 * its process dies, and a standby takes over within those 200 ms, publishing every unsent row
 * from the oldest (rows the dead holder published but had not marked go out again, same ids).
 * The holder finds rows committed by other processes at its next poll: with several instances,
 * poll_ms bounds their events' delay. Do not fork without exec while a relay runs (the child
 * would share the lock). Returns 0 and *out; TANDEM_EINVAL; TANDEM_EIO (the database, the lock
 * file or the thread).
 *
 * db_path may instead be a PostgreSQL URL (postgres://..., tandem_sql_is_postgres): then the
 * relay has its own PostgreSQL connection, instances on any hosts elect the publisher with a
 * session advisory lock instead of the lock file, and each round claims its rows with
 * SELECT ... FOR UPDATE SKIP LOCKED, publishes them, waits for their reports and marks them in
 * the same transaction (docs/internals/sql.md). The contracts above hold, the "machine" being
 * the database server; a lost connection sends the relay back to standby.
 */
TANDEM_EXPORT int tandem_outbox_relay_start(const char *db_path, struct tandem_producer *p,
                                            int poll_ms, struct tandem_outbox_relay **out);

/* Makes the relay look for unsent rows now (call it after committing an outbox row). Any thread;
 * NULL is a no-op. */
TANDEM_EXPORT void tandem_outbox_relay_wake(struct tandem_outbox_relay *r);

/* Counters of a relay. */
struct tandem_outbox_stats {
    uint64_t published; /* tandem_publish calls accepted */
    uint64_t acked;     /* rows whose delivery report was a success */
    uint64_t marked;    /* rows marked sent */
    uint64_t failed;    /* delivery reports that were failures */
    int holder;         /* 1 once this relay holds the outbox lock (it keeps it until stopped);
                           0 while it stands by */
};
TANDEM_EXPORT void tandem_outbox_relay_stats(struct tandem_outbox_relay *r,
                                             struct tandem_outbox_stats *out);

/*
 * Drains and frees r: a standby tries the outbox lock once more and, when another relay holds
 * it, just stops; the lock holder (or a standby that found the lock free: the last relay
 * standing) publishes the rows unsent at this moment, waits for the reports of everything in flight
 * for at most timeout_ms (< 0: no limit), marks the acknowledged rows sent, closes the connection
 * and joins the thread. Returns 0, or TANDEM_ETIMEDOUT when reports were still missing (those rows
 * stay unsent and go out again at the next start: same ids). The late reports are still received
 * safely. The outbox lock is released last. NULL is a no-op returning 0.
 */
TANDEM_EXPORT int tandem_outbox_relay_stop(struct tandem_outbox_relay *r, int timeout_ms);

/* ---- the database writer: group commit of request writes, per-worker readers ---------------
 *
 * A service's writes go through ONE writer per database: a thread with the database's write
 * connection and a bounded queue of jobs. Handlers (on HTTP workers, or any thread) submit jobs;
 * the writer takes every queued job, runs each inside its own SAVEPOINT within one
 * BEGIN IMMEDIATE ... COMMIT, commits once (one fsync for the batch, synchronous=FULL), then
 * delivers each job's completion: on the HTTP worker that submitted it (posted to that worker's
 * loop, so the handler answers its request from there), or on the writer thread for a job
 * submitted from any other thread. A job that fails rolls back its own SAVEPOINT only: its
 * batch-mates commit. Under load a batch holds many jobs and the fsync is shared; alone, a job
 * commits at once (no waiting for company).
 *
 * Reads go through read-only connections, one per HTTP worker (tandem_db_reader): WAL lets them
 * run beside the writer. A job may read too, when it must see the latest writes.
 *
 * Shut down in this order: tandem_http_server_stop (or the service's run returning), then
 * tandem_db_writer_free (drains the queue), then tandem_outbox_relay_stop (publishes what the
 * last batches added).
 */
struct tandem_db_writer;

/* A job, run on the writer thread inside its SAVEPOINT: plain SQL on db (it may call
 * tandem_outbox_add; it must not BEGIN, COMMIT or ROLLBACK). db is always the same connection,
 * so a job may keep prepared statements for it (tandem_db_writer_free finalizes them); a
 * statement left running is reset when the job returns. Returns 0 to keep its writes, anything else
 * to roll them back (the value is handed to the completion). A job is run once, except after a
 * batch-mate made SQLite abort the whole transaction (a statement with ON CONFLICT ROLLBACK or
 * RAISE(ROLLBACK), SQLITE_FULL, an I/O error): the jobs run before it in that batch are run again
 * in a new transaction; the aborting job completes with its own value, or TANDEM_EIO when it
 * returned 0. */
typedef int (*tandem_db_job_fn)(sqlite3 *db, void *arg);

/* A completion, run once per accepted job, after its batch committed or failed: status 0 when
 * the job's writes are durable; the job's own nonzero value when it rolled them back; TANDEM_EIO
 * when the batch could not begin or commit (nothing of the job is stored; logged). On the
 * submitting HTTP worker's thread (it may answer its request there), else on the writer thread
 * (it must not block: the next batch waits for it). */
typedef void (*tandem_db_done_fn)(int status, void *arg);

struct tandem_db_writer_config {
    const char *path;       /* the database (required): an SQLite file (tandem_db_open) or a
                               PostgreSQL URL (tandem_sql_open; tandem_sql_location gives it) */
    const char *schema_sql; /* the service's schema on SQLite, run at open (NULL: none) */
    const char *schema_pg;  /* the same on PostgreSQL (NULL: none) */
    int queue_max;          /* jobs waiting at most (0: 1024); beyond, tandem_db_write answers
                               TANDEM_EAGAIN (the handler answers 503) */
    struct tandem_outbox_relay *relay; /* woken after each commit that added outbox rows (NULL:
                                          none); must outlive the writer */
};

/*
 * Opens cfg->path (tandem_db_open: WAL, synchronous=FULL, the schemas) as the write connection
 * and starts the writer thread. cfg is copied (path too). Returns 0 and *out; TANDEM_EINVAL (no
 * cfg, path or out, queue_max < 0); TANDEM_EIO (the database or the thread; logged).
 */
TANDEM_EXPORT int tandem_db_writer_new(const struct tandem_db_writer_config *cfg,
                                       struct tandem_db_writer **out);

/*
 * Queues job(db, arg) and, once its batch is over, done(status, arg) (done may be NULL). Never
 * runs either inside this call. From an HTTP worker, done runs on that worker (even when its loop
 * is stopping: then from the loop's stop hook, before its connections close). Any thread.
 * Returns 0 (done will run exactly once); TANDEM_EINVAL (no w or job); TANDEM_EAGAIN (the queue
 * holds queue_max jobs: refuse the request, 503); TANDEM_ECLOSED (the writer is being freed).
 * Neither runs when this returns an error.
 */
TANDEM_EXPORT int tandem_db_write(struct tandem_db_writer *w, tandem_db_job_fn job,
                                  tandem_db_done_fn done, void *arg);

/*
 * The calling HTTP worker's own read-only connection to w's database, opened at its first call
 * (busy_timeout 5000 ms) and kept until the worker's loop stops or w is freed; WAL lets it read
 * beside the writer (it sees every batch committed before the read began). Reset or finalize
 * every statement before the handler returns: an open read keeps the WAL from being
 * checkpointed. Statements may be kept prepared across requests (reset, not finalized): those
 * still prepared when the reader closes are finalized then. Returns 0 and *out; TANDEM_EINVAL (no w
 * or out, or not on an HTTP worker: other threads open their own connection); TANDEM_ECLOSED (w is
 * being freed); TANDEM_EIO (the open failed; logged; the next call tries again).
 */
TANDEM_EXPORT int tandem_db_reader(struct tandem_db_writer *w, sqlite3 **out);

/* ---- the same writer on either backend (tandem_sql) ------------------------------------------
 *
 * A writer opened on a PostgreSQL URL runs the same batches (BEGIN, a SAVEPOINT per job, one
 * COMMIT) on its own PostgreSQL connection, inside tandem_sql_write: a batch interrupted by a lost
 * connection is run again on a new one (every job of it, from the first: a job may be run more
 * than once and must keep no effect of an attempt outside db), and a batch whose COMMIT went
 * unanswered is never applied twice (the commit token); when the database stays away after such a
 * COMMIT, the batch's completions get TANDEM_ETIMEDOUT (each job whole or absent, unknown which).
 * Its jobs are tandem_sql jobs; the
 * sqlite3 ones above are refused there (TANDEM_EINVAL). On PostgreSQL a statement that fails
 * inside a job fails the job's SAVEPOINT: the job must return nonzero at once (its writes are
 * rolled back, its batch-mates' kept).
 */

/* A job on either backend: as tandem_db_job_fn, on db (tandem_sql_sqlite(db) is the SQLite
 * connection of an SQLite writer). */
typedef int (*tandem_sql_job_fn)(struct tandem_sql *db, void *arg);

/* tandem_db_write for a tandem_sql job: same contract, on either backend. */
TANDEM_EXPORT int tandem_db_write_sql(struct tandem_db_writer *w, tandem_sql_job_fn job,
                                      tandem_db_done_fn done, void *arg);

/* tandem_db_reader on either backend: the calling HTTP worker's own connection (SQLite:
 * read-only; PostgreSQL: a connection of its own, reconnected at its next use when lost).
 * Statements prepared on it (kept across requests or not) are finalized when it closes. Same
 * returns as tandem_db_reader. */
TANDEM_EXPORT int tandem_db_reader_sql(struct tandem_db_writer *w, struct tandem_sql **out);

/* Counters of a writer (for /metrics): mean batch size = jobs / batches, mean commit latency =
 * commit_us / batches. */
struct tandem_db_writer_stats {
    uint64_t jobs;          /* jobs completed */
    uint64_t jobs_failed;   /* of which with a status other than 0 */
    uint64_t rejected;      /* tandem_db_write answers TANDEM_EAGAIN (queue full) */
    uint64_t batches;       /* transactions run (BEGIN IMMEDIATE ... COMMIT) */
    uint64_t batch_errors;  /* of which failed to begin or commit (their jobs: TANDEM_EIO) */
    uint64_t batch_us;      /* sum over batches of BEGIN to the end of COMMIT, microseconds */
    uint64_t commit_us;     /* sum of the COMMITs alone (the fsync), microseconds */
    uint64_t commit_us_max; /* the longest COMMIT */
    uint64_t batch_max;     /* the most jobs in one batch */
    uint64_t queued;        /* jobs waiting now */
};
TANDEM_EXPORT void tandem_db_writer_stats(struct tandem_db_writer *w,
                                          struct tandem_db_writer_stats *out);

/*
 * Stops and frees w: refuses new jobs (TANDEM_ECLOSED), runs every queued job and delivers every
 * completion (those of workers are posted to their loops), closes the readers (each on its
 * worker, through a post, or by the loop's stop hook when the server stopped first) and the write
 * connection, joins the thread. Call it after the HTTP server stopped (or at least once no
 * handler will touch w again), never from a completion that runs on the writer thread. Blocks
 * until done. NULL is a no-op.
 */
TANDEM_EXPORT void tandem_db_writer_free(struct tandem_db_writer *w);

#ifdef __cplusplus
}
#endif
#endif
