/*
 * Unit tests of the database writer and the per-worker readers (src/lib/store/writer.c): one
 * transaction per batch with a SAVEPOINT per job (a failing job, or one that makes SQLite abort
 * the whole transaction, loses only its own writes; a job's prepared statement kept and left
 * running is reset, and finalized at free), completions on the submitting HTTP worker (a real
 * tandem_http server with one worker, answered from the completion; and when the server stops
 * with a job still in the writer, from the loop's stop hook), a full queue refused with
 * TANDEM_EAGAIN, free draining the queue, readers per worker (lazy, read-only, kept across
 * requests, closed when the loop stops or the writer is freed: ASan's leak check), and the relay
 * woken by a commit that added outbox rows. Throughput: bench/store/.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tandem/store.h"
#include "test_http_util.h"

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT);";

struct fixture {
    char dir[64];
    char path[96];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tandem-writer-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int64_t count(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    }
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

/* A job: inserts row id, then returns fail (0: keep). */
struct ins {
    int id;
    int fail;
    int status; /* the completion's, -1000 before it */
    atomic_int done;
    pthread_t done_thread;
};

static int job_insert(sqlite3 *db, void *arg)
{
    struct ins *j = arg;
    char sql[96];
    snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d, 'x')", j->id);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return TANDEM_EIO;
    }
    return j->fail;
}

/* Aborts the whole transaction from inside the job: INSERT OR ROLLBACK over an existing id. */
static int job_abort(sqlite3 *db, void *arg)
{
    (void)arg;
    sqlite3_exec(db, "INSERT OR ROLLBACK INTO t VALUES (1, 'dup')", NULL, NULL, NULL);
    return 0; /* claims success: the writer must see the transaction is gone */
}

/* Keeps a prepared statement across calls and leaves it running (one row stepped of several),
 * then inserts row id and returns fail: the writer resets the statement, so the job's
 * ROLLBACK TO and the batch's COMMIT still work; free finalizes the statement. */
static sqlite3_stmt *kept;

static int job_keep_stmt(sqlite3 *db, void *arg)
{
    if (kept == NULL &&
        sqlite3_prepare_v2(db, "SELECT id FROM t UNION ALL SELECT 0", -1, &kept, NULL) != 0) {
        return TANDEM_EIO;
    }
    if (sqlite3_step(kept) != SQLITE_ROW) {
        return TANDEM_EIO;
    }
    return job_insert(db, arg);
}

static void done_record(int status, void *arg)
{
    struct ins *j = arg;
    j->status = status;
    j->done_thread = pthread_self();
    atomic_store(&j->done, 1);
}

/* Holds the writer thread until released, so that the jobs queued meanwhile form one batch. */
static atomic_int gate_open, gate_entered;

static int job_gate(sqlite3 *db, void *arg)
{
    (void)db;
    (void)arg;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open)) {
        usleep(1000);
    }
    return 0;
}

static void gate_close(struct tandem_db_writer *w)
{
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    assert_int_equal(tandem_db_write(w, job_gate, NULL, NULL), 0);
    while (!atomic_load(&gate_entered)) {
        usleep(1000);
    }
}

static void wait_done(struct ins *j)
{
    for (int i = 0; i < 5000 && !atomic_load(&j->done); i++) {
        usleep(1000);
    }
    assert_true(atomic_load(&j->done));
}

static struct tandem_db_writer *writer(struct fixture *f, int queue_max)
{
    struct tandem_db_writer_config cfg = {
        .path = f->path, .schema_sql = SCHEMA, .queue_max = queue_max};
    struct tandem_db_writer *w = NULL;
    assert_int_equal(tandem_db_writer_new(&cfg, &w), 0);
    return w;
}

/* ---- batches --------------------------------------------------------------------------------- */

static void test_savepoints(void **state)
{
    struct fixture *f = *state;
    struct tandem_db_writer_config bad = {.path = f->path, .queue_max = -1};
    struct tandem_db_writer *w = NULL;
    assert_int_equal(tandem_db_writer_new(NULL, &w), TANDEM_EINVAL);
    assert_int_equal(tandem_db_writer_new(&bad, &w), TANDEM_EINVAL);
    w = writer(f, 0);
    assert_int_equal(tandem_db_write(w, NULL, NULL, NULL), TANDEM_EINVAL);
    assert_int_equal(tandem_db_write(NULL, job_insert, NULL, NULL), TANDEM_EINVAL);

    /* batch 1: a kept job, a failing one, a kept one */
    struct ins a = {.id = 1}, b = {.id = 2, .fail = -42}, c = {.id = 3};
    gate_close(w);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &a), 0);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &b), 0);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &c), 0);
    atomic_store(&gate_open, 1);
    wait_done(&a);
    wait_done(&b);
    wait_done(&c);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, -42);
    assert_int_equal(c.status, 0);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t WHERE id IN (1, 3)"), 2);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t WHERE id = 2"), 0);
    struct tandem_db_writer_stats s;
    tandem_db_writer_stats(w, &s);
    assert_int_equal(s.batch_max, 3);
    assert_int_equal(s.jobs, 4);
    assert_int_equal(s.jobs_failed, 1);

    /* batch 2: a job that makes SQLite roll the whole transaction back, between two good ones:
     * they are run again and committed; it fails with TANDEM_EIO (it claimed success) */
    struct ins d = {.id = 4}, e = {.id = 5}, x = {0};
    gate_close(w);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &d), 0);
    assert_int_equal(tandem_db_write(w, job_abort, done_record, &x), 0);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &e), 0);
    atomic_store(&gate_open, 1);
    wait_done(&d);
    wait_done(&x);
    wait_done(&e);
    assert_int_equal(d.status, 0);
    assert_int_equal(x.status, TANDEM_EIO);
    assert_int_equal(e.status, 0);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), 4); /* 1, 3, 4, 5 */
    assert_int_equal(count(f->path, "SELECT count(*) FROM t WHERE v = 'dup'"), 0);
    /* batch 3: jobs that leave a kept statement running, one kept and one failing */
    struct ins g = {.id = 7}, h = {.id = 8, .fail = -9}, k = {.id = 9};
    gate_close(w);
    assert_int_equal(tandem_db_write(w, job_keep_stmt, done_record, &g), 0);
    assert_int_equal(tandem_db_write(w, job_keep_stmt, done_record, &h), 0);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &k), 0);
    atomic_store(&gate_open, 1);
    wait_done(&g);
    wait_done(&h);
    wait_done(&k);
    assert_int_equal(g.status, 0);
    assert_int_equal(h.status, -9);
    assert_int_equal(k.status, 0);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t WHERE id IN (7, 9)"), 2);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t WHERE id = 8"), 0);
    /* the non-worker completions ran on the writer thread, not here */
    assert_false(pthread_equal(a.done_thread, pthread_self()));
    tandem_db_writer_free(w); /* finalizes the kept statement (ASan: no leak) */
    kept = NULL;
}

static void test_queue_full(void **state)
{
    struct fixture *f = *state;
    struct tandem_db_writer *w = writer(f, 2);
    gate_close(w); /* the gate job is out of the queue, running */
    struct ins a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &a), 0);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &b), 0);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &c), TANDEM_EAGAIN);
    struct tandem_db_writer_stats s;
    tandem_db_writer_stats(w, &s);
    assert_int_equal(s.rejected, 1);
    assert_int_equal(s.queued, 2);
    atomic_store(&gate_open, 1);
    wait_done(&b);
    assert_int_equal(tandem_db_write(w, job_insert, done_record, &c), 0); /* room again */
    wait_done(&c);
    assert_int_equal(c.status, 0);
    assert_false(atomic_load(&a.done) == 0);
    tandem_db_writer_free(w);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), 3);
}

#define DRAIN_JOBS 200

static void test_free_drains(void **state)
{
    struct fixture *f = *state;
    struct tandem_db_writer *w = writer(f, DRAIN_JOBS);
    static struct ins jobs[DRAIN_JOBS];
    gate_close(w);
    for (int i = 0; i < DRAIN_JOBS; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].id = i + 1;
        jobs[i].status = -1000;
        assert_int_equal(tandem_db_write(w, job_insert, done_record, &jobs[i]), 0);
    }
    atomic_store(&gate_open, 1);
    tandem_db_writer_free(w); /* every queued job runs and completes before it returns */
    for (int i = 0; i < DRAIN_JOBS; i++) {
        assert_true(atomic_load(&jobs[i].done));
        assert_int_equal(jobs[i].status, 0);
    }
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), DRAIN_JOBS);
}

/* ---- over a real HTTP server: completions on the worker, readers ------------------------------
 */

struct srv {
    struct tandem_db_writer *w;
    atomic_int slow;         /* jobs wait for the gate first */
    atomic_int completed;    /* completions run */
    pthread_t worker;        /* the one worker's thread (recorded by the handler) */
    atomic_int wrong_thread; /* completions that ran elsewhere */
    sqlite3 *first_reader;
    atomic_int next_id;
};

struct req_job {
    struct srv *s;
    struct tandem_http_request *req;
    int id;
};

static void done_answer(int status, void *arg)
{
    struct req_job *j = arg;
    if (!pthread_equal(pthread_self(), j->s->worker)) {
        atomic_fetch_add(&j->s->wrong_thread, 1);
    }
    atomic_fetch_add(&j->s->completed, 1);
    char body[64];
    int n = snprintf(body, sizeof(body), "status=%d id=%d", status, j->id);
    tandem_http_respond(j->req, status == 0 ? 201 : 500, "text/plain", body, (size_t)n);
    free(j);
}

static int job_req(sqlite3 *db, void *arg)
{
    struct req_job *j = arg;
    if (atomic_load(&j->s->slow)) {
        job_gate(db, NULL);
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d, 'req')", j->id);
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : TANDEM_EIO;
}

static void handler(struct tandem_http_request *req, void *arg)
{
    struct srv *s = arg;
    s->worker = pthread_self();
    if (strcmp(req->method, "POST") == 0) {
        struct req_job *j = calloc(1, sizeof(*j));
        j->s = s;
        j->req = req;
        j->id = atomic_fetch_add(&s->next_id, 1);
        int rc = tandem_db_write(s->w, job_req, done_answer, j);
        if (rc != 0) {
            free(j);
            answer_problem(req, rc == TANDEM_EAGAIN ? 503 : 500, tandem_strerror(rc));
        }
        return;
    }
    /* GET: count the rows through this worker's reader */
    sqlite3 *db = NULL;
    int rc = tandem_db_reader(s->w, &db);
    if (rc != 0) {
        answer_problem(req, 500, tandem_strerror(rc));
        return;
    }
    if (s->first_reader == NULL) {
        s->first_reader = db;
    }
    int ro = sqlite3_exec(db, "INSERT INTO t VALUES (999, 'no')", NULL, NULL, NULL);
    /* kept prepared across requests, as services do: the reader's close finalizes it (ASan: no
     * leak when a reader closes with it) */
    static _Thread_local sqlite3_stmt *kept;
    static _Thread_local sqlite3 *kept_db;
    if (kept_db != db) {
        kept_db = db;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &kept, NULL);
    }
    int64_t n = sqlite3_step(kept) == SQLITE_ROW ? sqlite3_column_int64(kept, 0) : -1;
    sqlite3_reset(kept);
    char body[96];
    int len = snprintf(body, sizeof(body), "rows=%lld same=%d readonly=%d", (long long)n,
                       db == s->first_reader, ro == SQLITE_READONLY);
    tandem_http_respond(req, 200, "text/plain", body, (size_t)len);
}

static struct tandem_http_server *serve(struct srv *s)
{
    struct tandem_http_config cfg = {.workers = 1, .handler = handler, .arg = s};
    struct tandem_http_server *hs = NULL;
    assert_int_equal(tandem_http_server_start(&cfg, &hs), 0);
    return hs;
}

static void roundtrip(struct tandem_http_server *hs, const char *method, const char *want)
{
    char req[128], buf[2048];
    const char *body = NULL;
    int fd = dial(hs);
    int n = snprintf(req, sizeof(req), "%s /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
                     method);
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    read_answer(fd, buf, sizeof(buf), 5000, &body);
    assert_non_null(body);
    if (strstr(buf, want) == NULL) {
        fail_msg("%s: wanted %s in %s", method, want, buf);
    }
    close(fd);
}

static void test_worker_completion(void **state)
{
    struct fixture *f = *state;
    struct srv s = {.next_id = 1};
    s.w = writer(f, 0);
    struct tandem_http_server *hs = serve(&s);
    for (int i = 0; i < 20; i++) {
        roundtrip(hs, "POST", "HTTP/1.1 201");
    }
    assert_int_equal(atomic_load(&s.wrong_thread), 0);
    roundtrip(hs, "GET", "rows=20 same=1 readonly=1");
    roundtrip(hs, "POST", "HTTP/1.1 201");
    roundtrip(hs, "GET", "rows=21 same=1 readonly=1"); /* the same reader sees the new commit */
    sqlite3 *mine = NULL;
    assert_int_equal(tandem_db_reader(s.w, &mine), TANDEM_EINVAL); /* not a worker */
    /* the server stops first: the loop's stop hook closes the reader (ASan: no leak) */
    tandem_http_server_stop(hs);
    tandem_db_writer_free(s.w);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), 21);
}

/* A worker that only wrote (its port has no reader: it is opened at the first tandem_db_reader)
 * and then stops: the loop's stop hook closes the port without a reader. It crashed (NULL
 * connection into sqlite3_next_stmt) when a service instance that had served only writes since
 * its start was stopped (found by tests/blog/system-chaos: users.0 restarted, then SIGTERM). */
static void test_writes_only_then_stop(void **state)
{
    struct fixture *f = *state;
    struct srv s = {.next_id = 1};
    s.w = writer(f, 0);
    struct tandem_http_server *hs = serve(&s);
    for (int i = 0; i < 3; i++) {
        roundtrip(hs, "POST", "HTTP/1.1 201");
    }
    tandem_http_server_stop(hs);
    tandem_db_writer_free(s.w);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), 3);
}

/* The writer freed while the server runs: the worker's port (its reader) is torn down on the
 * worker through a post; the server keeps answering, and new writes are refused. */
static void test_free_before_server(void **state)
{
    struct fixture *f = *state;
    struct srv s = {.next_id = 1};
    s.w = writer(f, 0);
    struct tandem_http_server *hs = serve(&s);
    roundtrip(hs, "POST", "HTTP/1.1 201");
    roundtrip(hs, "GET", "rows=1 same=1");
    tandem_db_writer_free(s.w);
    s.w = writer(f, 0);
    s.first_reader = NULL;
    roundtrip(hs, "GET", "rows=1 same=1"); /* a new writer: a new reader on the same worker */
    roundtrip(hs, "POST", "HTTP/1.1 201");
    tandem_db_writer_free(s.w);
    tandem_http_server_stop(hs);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), 2);
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    while (!atomic_load(&gate_entered)) {
        usleep(1000);
    }
    usleep(200 * 1000); /* the server's stop is under way, waiting in the worker's stop hook */
    atomic_store(&gate_open, 1);
    return NULL;
}

/* The server stops while a worker's job is still in the writer: the loop's stop hook waits for
 * it and runs its completion on the worker, which still holds the request (its answer may or
 * may not reach the client: the connection closes right after). */
static void test_server_stops_first(void **state)
{
    struct fixture *f = *state;
    struct srv s = {.next_id = 1};
    s.w = writer(f, 0);
    struct tandem_http_server *hs = serve(&s);
    roundtrip(hs, "GET", "rows=0"); /* the worker has a port (and a reader) */
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    atomic_store(&s.slow, 1);
    int fd = dial(hs);
    const char req[] = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof(req) - 1, 0), (ssize_t)(sizeof(req) - 1));
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
    while (!atomic_load(&gate_entered)) {
        usleep(1000);
    }
    tandem_http_server_stop(hs); /* returns once the hook ran the completion */
    assert_int_equal(atomic_load(&s.completed), 1);
    assert_int_equal(atomic_load(&s.wrong_thread), 0);
    pthread_join(opener, NULL);
    close(fd);
    tandem_db_writer_free(s.w);
    assert_int_equal(count(f->path, "SELECT count(*) FROM t"), 1);
}

/* ---- the relay is woken by a commit that added outbox rows ----------------------------------- */

static int job_outbox(sqlite3 *db, void *arg)
{
    (void)arg;
    struct tandem_event_out ev = {
        .topic = "t", .type = "com.example.x", .data = "1", .data_len = 1};
    return tandem_outbox_add(db, &ev, NULL);
}

static void test_relay_woken(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(tandem_db_open(f->path, NULL, &db), 0); /* creates tandem's tables */
    sqlite3_close(db);
    struct tandem_events_config ec = {.brokers = "127.0.0.1:1", .source = "/tests/writer"};
    struct tandem_producer *p = NULL;
    assert_int_equal(tandem_producer_new(&ec, &p), 0);
    struct tandem_outbox_relay *r = NULL;
    assert_int_equal(tandem_outbox_relay_start(f->path, p, 60000, &r), 0); /* polls once a minute */
    struct tandem_outbox_stats rs = {0};
    for (int i = 0; i < 500 && !rs.holder; i++) { /* its first round is behind it */
        usleep(10 * 1000);
        tandem_outbox_relay_stats(r, &rs);
    }
    assert_int_equal(rs.holder, 1);
    usleep(100 * 1000);
    struct tandem_db_writer_config cfg = {.path = f->path, .schema_sql = SCHEMA, .relay = r};
    struct tandem_db_writer *w = NULL;
    assert_int_equal(tandem_db_writer_new(&cfg, &w), 0);
    struct ins j = {0};
    assert_int_equal(tandem_db_write(w, job_outbox, done_record, &j), 0);
    wait_done(&j);
    assert_int_equal(j.status, 0);
    for (int i = 0; i < 300 && rs.published < 1; i++) { /* well before the next poll */
        usleep(10 * 1000);
        tandem_outbox_relay_stats(r, &rs);
    }
    assert_int_equal(rs.published, 1);
    tandem_db_writer_free(w);
    assert_int_equal(tandem_outbox_relay_stop(r, 200), TANDEM_ETIMEDOUT); /* no broker */
    tandem_producer_free(p);
}

int main(void)
{
    if (http_io_uring_refused()) {
        return TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_only_then_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_before_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_stops_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_woken, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
