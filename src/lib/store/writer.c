/*
 * tandem store: the database writer (group commit) and the per-worker read connections.
 *
 * Model. SQLite has one writer at a time and, with synchronous=FULL, a COMMIT costs an fsync
 * (0.3 to several ms on a real disk): one transaction per request caps a service at a few
 * hundred writes a second. So every write of a database goes through one writer thread that
 * owns the write connection and a queue of jobs. Each turn it takes every queued job and runs
 * them in one transaction:
 *
 *     BEGIN IMMEDIATE
 *       SAVEPOINT tandem_job; job 1; RELEASE tandem_job          (kept)
 *       SAVEPOINT tandem_job; job 2; ROLLBACK TO ...; RELEASE ... (job 2 failed: only its writes
 * go)
 *       ...
 *     COMMIT                                                      (one fsync for the batch)
 *
 * then delivers the completions. While a batch commits, new jobs queue; the next turn takes them
 * all, so the batch grows with the load and the fsync is shared; a lone job is committed at once.
 *
 * Completions. A job submitted from an HTTP worker (tandem_loop_current() != NULL) completes on
 * that worker: the writer posts the batch's jobs of that worker, as one list, to its loop
 * (tandem_loop_post), where the handler answers its request. A job from any other thread
 * completes on the writer thread. The posted list holds only the jobs (callback, argument,
 * status), never the writer, so a post that runs after the writer is gone is harmless.
 *
 * Ports. The writer keeps one port per worker loop it has seen (made on the worker's first
 * tandem_db_write or tandem_db_reader): the worker's read-only connection, the count of its jobs
 * not yet posted (inflight), the jobs whose post the loop refused (orphans: the loop is
 * stopping), and a stop hook on the loop. A port ends on its worker's thread, in one of two
 * ways: (1) the loop stops (tandem_http_server_stop): the hook waits until inflight is 0 (the
 * writer finishes its batch: bounded by the busy timeout), runs the orphans' completions (their
 * requests still exist: the hooks run before the connections close), closes the reader; (2) the
 * writer is freed first: after the writer thread drained the queue, free posts the same teardown
 * to each port's loop and waits for every port to be gone (a refused post needs nothing: the
 * loop's stop hook is about to do it); a port of the loop free runs on is torn down in place.
 *
 * Backends. The write connection and the readers are struct tandem_sql (sql.h): an SQLite file or
 * a PostgreSQL database. On SQLite a batch is run as above, between BEGIN IMMEDIATE and COMMIT
 * done here. On PostgreSQL the same body (the SAVEPOINT per job) runs inside tandem_sql_write,
 * which runs it again on a new connection when the connection is lost before COMMIT answered,
 * and knows by the commit token whether an unanswered COMMIT committed: every job's status is
 * then that of the attempt that committed. sqlite3 jobs (tandem_db_write) exist on SQLite only;
 * tandem_sql jobs (tandem_db_write_sql) on both.
 *
 * Invariants (w->mu guards the queue, the ports list, each port's inflight and orphans, stats).
 *   - A job accepted by tandem_db_write completes exactly once: in a post, from a port's orphans,
 *     or on the writer thread.
 *   - A job of a port counts in its inflight from submit until it is posted or orphaned, so a
 *     port is never freed with a job that still refers to it.
 *   - Only the writer thread uses w->db; only a port's worker uses its reader.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "sql_int.h"
#include "store_int.h"
#include "tandem/http.h"
#include "tandem/store.h"

#define WRITER_QUEUE_DEFAULT 1024
#define WRITER_BUSY_MS       5000

struct wport;

struct wjob {
    tandem_db_job_fn fn;      /* an sqlite3 job (SQLite writers only), or */
    tandem_sql_job_fn sql_fn; /* a tandem_sql job */
    tandem_db_done_fn done;
    void *arg;
    struct wport *port; /* NULL: completes on the writer thread */
    int status;
    bool final; /* status settled (failed): not run again when the batch restarts */
    struct wjob *next;
};

struct wport {
    struct tandem_db_writer *w;
    struct tandem_loop *loop;
    struct tandem_loop_hook *hook; /* NULL once the loop runs (and frees) it */
    struct tandem_sql *reader;     /* the worker's only; NULL until its first reader call */
    size_t inflight;               /* under mu */
    struct wjob *orphans;          /* under mu; in completion order */
    struct wjob **orphans_tail;
    struct wport *next;
};

struct tandem_db_writer {
    char *path;
    struct tandem_sql *db; /* the writer thread's only */
    bool pg;               /* db is PostgreSQL */
    struct tandem_outbox_relay *relay;
    int queue_max;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* the writer thread waits for jobs or closing */
    pthread_cond_t idle; /* a port's inflight fell, or a port went away */
    /* under mu */
    struct wjob *queue, **queue_tail;
    int nqueued;
    bool closing;
    struct wport *ports;
    struct tandem_db_writer_stats stats;
    /* the writer thread's */
    struct wjob **batch;
    size_t batch_cap;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs the completions of a list of jobs and frees them. */
static void jobs_complete(struct wjob *j)
{
    while (j != NULL) {
        struct wjob *next = j->next;
        if (j->done != NULL) {
            j->done(j->status, j->arg);
        }
        free(j);
        j = next;
    }
}

/* A posted list of one worker's completed jobs, on that worker. */
static void jobs_posted(void *arg)
{
    jobs_complete(arg);
}

/* ---- ports ---------------------------------------------------------------------------------- */

static void port_stopped(void *arg);

/* Closes a connection of the writer or a reader with every statement left prepared on it:
 * tandem_sql ones, and on SQLite the sqlite3 ones a caller of tandem_db_reader or a
 * tandem_db_write job kept across requests. NULL is a no-op. */
static void conn_close(struct tandem_sql *db)
{
    if (db == NULL) {
        return;
    }
    db->closing = true;
    while (db->stmts != NULL) {
        tandem_sql_finalize(db->stmts);
    }
    sqlite3 *lite = tandem_sql_sqlite(db);
    sqlite3_stmt *st;
    while (lite != NULL && (st = sqlite3_next_stmt(lite, NULL)) != NULL) {
        sqlite3_finalize(st);
    }
    tandem_sql_close(db);
}

/* The port of loop l, made when absent (on l's thread, which registers its stop hook). NULL when
 * the writer is closing and l has none. Caller holds mu. */
static struct wport *port_of(struct tandem_db_writer *w, struct tandem_loop *l)
{
    for (struct wport *p = w->ports; p != NULL; p = p->next) {
        if (p->loop == l) {
            return p;
        }
    }
    if (w->closing) {
        return NULL;
    }
    struct wport *p = xcalloc(1, sizeof(*p));
    p->w = w;
    p->loop = l;
    p->orphans_tail = &p->orphans;
    if (tandem_loop_on_stop(l, port_stopped, p, &p->hook) != 0) {
        free(p); /* l is the caller's own loop: cannot happen */
        return NULL;
    }
    p->next = w->ports;
    w->ports = p;
    return p;
}

/* Ends p on its worker's thread: waits for its jobs still in the writer, completes its orphans,
 * closes its reader, frees it. */
static void port_close(struct wport *p)
{
    struct tandem_db_writer *w = p->w;
    pthread_mutex_lock(&w->mu);
    while (p->inflight > 0) {
        pthread_cond_wait(&w->idle, &w->mu);
    }
    struct wjob *orphans = p->orphans;
    for (struct wport **pp = &w->ports; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->mu);
    jobs_complete(orphans);
    conn_close(p->reader); /* NULL: the worker only wrote (the reader opens at first use) */
    free(p);
}

/* The loop's stop hook. */
static void port_stopped(void *arg)
{
    struct wport *p = arg;
    p->hook = NULL; /* the loop frees it */
    port_close(p);
}

/* Posted by tandem_db_writer_free to the port's loop, or called in place on it. */
static void port_teardown(void *arg)
{
    struct wport *p = arg;
    if (p->hook != NULL) {
        tandem_loop_on_stop_cancel(p->loop, p->hook);
        p->hook = NULL;
    }
    port_close(p);
}

/* ---- the writer thread ----------------------------------------------------------------------- */

/* Resets every SQLite statement of db still running (a job that stopped stepping a query early,
 * or keeps its prepared statements): a running statement would make ROLLBACK TO or COMMIT fail.
 * PostgreSQL statements hold their whole result on the client: nothing to do. */
static void reset_statements(struct tandem_sql *db)
{
    sqlite3 *lite = tandem_sql_sqlite(db);
    if (lite == NULL) {
        return;
    }
    for (sqlite3_stmt *st = sqlite3_next_stmt(lite, NULL); st != NULL;
         st = sqlite3_next_stmt(lite, st)) {
        if (sqlite3_stmt_busy(st)) {
            sqlite3_reset(st);
        }
    }
}

enum { JOB_KEPT, JOB_UNDONE, JOB_STUCK };

/* Ends the current job's SAVEPOINT: kept (RELEASE), or rolled back (ROLLBACK TO, RELEASE) when
 * keep is false, a statement of the job failed the transaction (PostgreSQL) or the RELEASE
 * failed. Returns JOB_KEPT, JOB_UNDONE, or JOB_STUCK when the database refused to undo it (or
 * the connection is gone). */
static int job_end(struct tandem_sql *db, bool keep)
{
    if (keep && tandem_sql_txn_state(db) == TANDEM_SQL_ACTIVE &&
        tandem_sql_exec(db, "RELEASE tandem_job") == 0) {
        return JOB_KEPT;
    }
    if (tandem_sql_exec(db, "ROLLBACK TO tandem_job") != 0 ||
        tandem_sql_exec(db, "RELEASE tandem_job") != 0) {
        log_error("db writer: cannot undo a failed job's savepoint", NULL);
        return JOB_STUCK;
    }
    return JOB_UNDONE;
}

#define BATCH_ABORTED 1 /* SQLite rolled the whole transaction back inside a job */
#define BATCH_RACE    2 /* a job lost a deadlock (PostgreSQL): run the whole batch again */

/*
 * Runs the jobs of a batch inside the open transaction, each in its SAVEPOINT, setting each
 * job's status. Returns 0 (commit the batch), BATCH_ABORTED (the engine rolled the transaction
 * back inside a job: that job is final, the others run again in a new transaction), BATCH_RACE
 * (a job lost a deadlock: every job runs again in a new transaction), or TANDEM_EIO (a savepoint
 * failed or could not be undone: nothing of the batch may commit).
 */
static int batch_body(struct tandem_sql *db, struct wjob **jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct wjob *j = jobs[i];
        if (j->final) {
            continue;
        }
        if (tandem_sql_exec(db, "SAVEPOINT tandem_job") != 0) {
            return TANDEM_EIO;
        }
        int rc = j->fn != NULL ? j->fn(tandem_sql_sqlite(db), j->arg) : j->sql_fn(db, j->arg);
        reset_statements(db);
        if (rc != 0 && db->retryable) {
            /* A statement of the job lost a deadlock (or a serialization failure) against
             * another transaction: two instances' writers inserting the same new rows in
             * opposite orders, say. The locks the batch's earlier jobs hold are part of the
             * cycle, so running the job again in this transaction would meet it again: the whole
             * batch runs again, in a new transaction (tandem_sql_write), after the other. */
            log_info("db writer: a job lost a deadlock; its batch runs again", NULL);
            return BATCH_RACE;
        }
        bool aborted = tandem_sql_txn_state(db) == TANDEM_SQL_IDLE;
        int end = aborted ? JOB_STUCK : job_end(db, rc == 0);
        if (end != JOB_KEPT) {
            j->status = rc != 0 ? rc : TANDEM_EIO;
            j->final = true;
        } else {
            j->status = 0;
        }
        if (tandem_sql_txn_state(db) == TANDEM_SQL_IDLE) {
            /* SQLite aborted the whole transaction inside this job (or while ending it): its
             * batch-mates' writes are gone too. It fails; the others run again. */
            log_warn("db writer: a job aborted its batch's transaction; the batch runs again",
                     NULL);
            return BATCH_ABORTED;
        }
        if (end == JOB_STUCK) {
            return TANDEM_EIO; /* its writes could not be undone */
        }
    }
    return 0;
}

/* Every job not already failed gets status. */
static void batch_fail(struct wjob **jobs, size_t n, int status)
{
    for (size_t i = 0; i < n; i++) {
        if (!jobs[i]->final) {
            jobs[i]->status = status;
        }
    }
}

/* SQLite: BEGIN IMMEDIATE, the body, COMMIT; again after an abort. Returns the COMMIT's
 * duration in microseconds, or -1 when the batch failed. */
static int64_t batch_run_sqlite(struct tandem_sql *db, struct wjob **jobs, size_t n)
{
    for (;;) {
        if (tandem_sql_begin(db) != 0) {
            break;
        }
        int rc = batch_body(db, jobs, n);
        if (rc == BATCH_ABORTED) {
            continue; /* (BATCH_RACE is PostgreSQL's only) */
        }
        if (rc != 0) {
            break;
        }
        int64_t t0 = now_us();
        if (tandem_sql_commit(db) != 0) {
            break;
        }
        return now_us() - t0;
    }
    tandem_sql_rollback(db);
    batch_fail(jobs, n, TANDEM_EIO);
    return -1;
}

struct pg_batch {
    struct wjob **jobs;
    size_t n;
    int64_t body_end_us;
};

/* tandem_sql_write's function: one attempt of the batch on PostgreSQL. */
static int pg_batch_attempt(struct tandem_sql *db, void *arg)
{
    struct pg_batch *b = arg;
    for (size_t i = 0; i < b->n; i++) { /* a new attempt runs every job again */
        b->jobs[i]->final = false;
        b->jobs[i]->status = 0;
    }
    int rc = batch_body(db, b->jobs, b->n);
    b->body_end_us = now_us();
    if (rc == BATCH_RACE) {
        db->retryable = true; /* tandem_sql_write runs the attempt again */
    }
    return rc == 0 ? 0 : TANDEM_EIO;
}

/* PostgreSQL: the body inside tandem_sql_write. Returns the COMMIT's duration (from the end of
 * the last attempt's body), or -1 when the batch failed. */
static int64_t batch_run_pg(struct tandem_sql *db, struct wjob **jobs, size_t n)
{
    struct pg_batch b = {.jobs = jobs, .n = n};
    int rc = tandem_sql_write(db, pg_batch_attempt, &b);
    if (rc != 0) {
        if (rc == TANDEM_ETIMEDOUT) {
            log_error("db writer: a batch's COMMIT went unanswered and PostgreSQL stayed away: "
                      "its jobs' outcome is unknown (TANDEM_ETIMEDOUT)",
                      "\"jobs\":%zu", n);
        }
        batch_fail(jobs, n, rc == TANDEM_ETIMEDOUT ? TANDEM_ETIMEDOUT : TANDEM_EIO);
        return -1;
    }
    return now_us() - b.body_end_us;
}

/* Runs jobs[0..n) in one transaction (see the essay), setting each job's status. Returns the
 * COMMIT's duration in microseconds, or -1 when the batch failed. */
static int64_t batch_run(struct tandem_db_writer *w, struct wjob **jobs, size_t n)
{
    return w->pg ? batch_run_pg(w->db, jobs, n) : batch_run_sqlite(w->db, jobs, n);
}

/* Delivers the completions of jobs[0..n): each worker's jobs in one post to its loop (or to its
 * port's orphans when the loop refuses), then the others' on this thread. */
static void batch_deliver(struct tandem_db_writer *w, struct wjob **jobs, size_t n)
{
    struct wjob *local = NULL, **local_tail = &local;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        struct wjob *j = jobs[i];
        if (j == NULL) {
            continue; /* already in an earlier job's list */
        }
        struct wport *p = j->port;
        struct wjob *list = NULL, **tail = &list;
        size_t count = 0;
        for (size_t k = i; k < n; k++) {
            if (jobs[k] != NULL && jobs[k]->port == p) {
                jobs[k]->next = NULL;
                *tail = jobs[k];
                tail = &jobs[k]->next;
                jobs[k] = NULL;
                count++;
            }
        }
        if (p == NULL) {
            *local_tail = list;
            local_tail = tail;
            continue;
        }
        if (tandem_loop_post(p->loop, jobs_posted, list) != 0) {
            *p->orphans_tail = list; /* the loop is stopping: its stop hook completes them */
            p->orphans_tail = tail;
        }
        p->inflight -= count;
    }
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->mu);
    jobs_complete(local);
}

static void *writer_main(void *arg)
{
    struct tandem_db_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->queue == NULL && !w->closing) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->queue == NULL) {
            break; /* closing, and drained */
        }
        size_t n = (size_t)w->nqueued;
        if (n > w->batch_cap) {
            w->batch_cap = n;
            w->batch = xrealloc(w->batch, n * sizeof(*w->batch));
        }
        struct wjob *j = w->queue;
        for (size_t i = 0; i < n; i++, j = j->next) {
            w->batch[i] = j;
        }
        w->queue = NULL;
        w->queue_tail = &w->queue;
        w->nqueued = 0;
        w->stats.queued = 0;
        pthread_mutex_unlock(&w->mu);

        uint64_t outbox_before = store_outbox_added;
        int64_t t0 = now_us();
        int64_t commit_us = batch_run(w, w->batch, n);
        int64_t batch_us = now_us() - t0;
        size_t failed = 0;
        for (size_t i = 0; i < n; i++) {
            failed += w->batch[i]->status != 0;
        }
        if (commit_us >= 0 && store_outbox_added != outbox_before) {
            tandem_outbox_relay_wake(w->relay);
        }

        pthread_mutex_lock(&w->mu);
        w->stats.jobs += n;
        w->stats.jobs_failed += failed;
        w->stats.batches++;
        w->stats.batch_errors += commit_us < 0;
        w->stats.batch_us += (uint64_t)batch_us;
        if (commit_us >= 0) {
            w->stats.commit_us += (uint64_t)commit_us;
            if ((uint64_t)commit_us > w->stats.commit_us_max) {
                w->stats.commit_us_max = (uint64_t)commit_us;
            }
        }
        if (n > w->stats.batch_max) {
            w->stats.batch_max = n;
        }
        pthread_mutex_unlock(&w->mu);

        batch_deliver(w, w->batch, n);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the public side ------------------------------------------------------------------------- */

int tandem_db_writer_new(const struct tandem_db_writer_config *cfg, struct tandem_db_writer **out)
{
    if (cfg == NULL || cfg->path == NULL || out == NULL || cfg->queue_max < 0) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    struct tandem_db_writer *w = xcalloc(1, sizeof(*w));
    int rc = tandem_sql_open(cfg->path, cfg->schema_sql, cfg->schema_pg, &w->db);
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->pg = tandem_sql_backend(w->db) == TANDEM_SQL_POSTGRES;
    w->path = xstrndup(cfg->path, strlen(cfg->path));
    w->relay = cfg->relay;
    w->queue_max = cfg->queue_max > 0 ? cfg->queue_max : WRITER_QUEUE_DEFAULT;
    w->queue_tail = &w->queue;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        log_error("db writer: cannot start its thread", NULL);
        tandem_sql_close(w->db);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        pthread_cond_destroy(&w->idle);
        free(w->path);
        free(w);
        return TANDEM_EIO;
    }
    *out = w;
    return 0;
}

/* Queues a job: fn or sql_fn. See tandem_db_write. */
static int writer_submit(struct tandem_db_writer *w, tandem_db_job_fn fn, tandem_sql_job_fn sql_fn,
                         tandem_db_done_fn done, void *arg)
{
    struct tandem_loop *l = tandem_loop_current();
    pthread_mutex_lock(&w->mu);
    if (w->closing) {
        pthread_mutex_unlock(&w->mu);
        return TANDEM_ECLOSED;
    }
    if (w->nqueued >= w->queue_max) {
        w->stats.rejected++;
        pthread_mutex_unlock(&w->mu);
        return TANDEM_EAGAIN;
    }
    struct wport *p = NULL;
    if (l != NULL) {
        p = port_of(w, l);
        if (p == NULL) {
            pthread_mutex_unlock(&w->mu);
            return TANDEM_ECLOSED;
        }
        p->inflight++;
    }
    struct wjob *j = xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->sql_fn = sql_fn;
    j->done = done;
    j->arg = arg;
    j->port = p;
    *w->queue_tail = j;
    w->queue_tail = &j->next;
    w->nqueued++;
    w->stats.queued = (uint64_t)w->nqueued;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int tandem_db_write(struct tandem_db_writer *w, tandem_db_job_fn job, tandem_db_done_fn done,
                    void *arg)
{
    if (w == NULL || job == NULL || w->pg) {
        return TANDEM_EINVAL;
    }
    return writer_submit(w, job, NULL, done, arg);
}

int tandem_db_write_sql(struct tandem_db_writer *w, tandem_sql_job_fn job, tandem_db_done_fn done,
                        void *arg)
{
    if (w == NULL || job == NULL) {
        return TANDEM_EINVAL;
    }
    return writer_submit(w, NULL, job, done, arg);
}

/* Opens a reader: SQLite read-only with the busy timeout, or a PostgreSQL connection of its own
 * (no schema: the writer ran it). The SQLite one has no mutex (NOMUTEX: SQLite's multi-thread
 * mode for this connection alone): it is its worker's only, and under the default serialized
 * mode a list page of the articles service spent an eighth of its time locking and unlocking it
 * around each column read (that service used to set the mode process-wide with sqlite3_config). */
static int reader_open(struct tandem_db_writer *w, struct tandem_sql **out)
{
    if (w->pg) {
        return sql_pg_open(w->path, out);
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        int rc = store_fail(db, "db reader: open");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, WRITER_BUSY_MS);
    *out = sql_lite_new(db, true);
    return 0;
}

int tandem_db_reader_sql(struct tandem_db_writer *w, struct tandem_sql **out)
{
    struct tandem_loop *l = tandem_loop_current();
    if (w == NULL || out == NULL || l == NULL) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    pthread_mutex_lock(&w->mu);
    struct wport *p = port_of(w, l);
    pthread_mutex_unlock(&w->mu);
    if (p == NULL) {
        return TANDEM_ECLOSED;
    }
    if (p->reader == NULL) { /* this worker's own field: no lock */
        int rc = reader_open(w, &p->reader);
        if (rc != 0) {
            return rc;
        }
    }
    *out = p->reader;
    return 0;
}

int tandem_db_reader(struct tandem_db_writer *w, sqlite3 **out)
{
    if (w == NULL || out == NULL || w->pg) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    struct tandem_sql *db = NULL;
    int rc = tandem_db_reader_sql(w, &db);
    if (rc == 0) {
        *out = tandem_sql_sqlite(db);
    }
    return rc;
}

void tandem_db_writer_stats(struct tandem_db_writer *w, struct tandem_db_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void tandem_db_writer_free(struct tandem_db_writer *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* the queue is drained, every completion posted or run */

    struct tandem_loop *here = tandem_loop_current();
    struct wport *mine = NULL;
    pthread_mutex_lock(&w->mu);
    for (struct wport *p = w->ports; p != NULL; p = p->next) {
        if (p->loop == here) {
            mine = p;
        } else {
            tandem_loop_post(p->loop, port_teardown, p); /* ECLOSED: its stop hook does it */
        }
    }
    pthread_mutex_unlock(&w->mu);
    if (mine != NULL) {
        port_teardown(mine);
    }
    pthread_mutex_lock(&w->mu);
    while (w->ports != NULL) {
        pthread_cond_wait(&w->idle, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);

    conn_close(w->db); /* with the jobs' kept statements */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle);
    free(w->batch);
    free(w->path);
    free(w);
}
