/*
 * store-bench: durable small writes per second through libtandem's database writer (group
 * commit, include/tandem/store.h tandem_db_writer) against one transaction per write, on a real
 * disk with synchronous=FULL (tandem_db_open's setting: every COMMIT is an fsync).
 *
 *   store-bench --db PATH --mode batch|single --threads N [--procs P] [--seconds S] [--queue Q]
 *               [--csv FILE]
 *   store-bench --db PATH --serve PORTFILE [--mode M] [--workers W] [--seconds S] [--queue Q]
 *
 * N submitter threads each loop: submit one job (INSERT of one ~100-byte row, the size of a
 * blog comment's metadata), wait for its completion, measure submit -> completion, repeat, for S
 * seconds (default 5). batch: the jobs go through one tandem_db_writer (one writer thread, every
 * queued job in one transaction). single: each thread has its own connection (tandem_db_open) and
 * runs BEGIN IMMEDIATE; INSERT; COMMIT per job, what a service without a writer does; SQLite's
 * busy timeout serializes them. --procs P splits the N threads over P processes on the same
 * file (the instances of one service), each with its own writer (batch) or connections (single).
 * --serve PORTFILE instead serves HTTP on 127.0.0.1 (--workers W, default 2) for S seconds: each
 * POST is one insert job through the writer, answered 201 from its completion on its worker
 * (batch), or one transaction on the worker's own connection before it answers (single); a load
 * generator (bench/load, tandem-load) drives it. Prints the writer's counters at the end.
 * Prints one table row (mode, processes, threads, jobs, jobs/s, latency p50, p99, mean batch
 * size, mean COMMIT time) and appends it to FILE as CSV when --csv is given.
 * bench/store/run.sh runs the grid that docs/benchmarks.md reports.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tandem/http.h"
#include "tandem/problem.h"
#include "tandem/store.h"

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY,"
                             " article INTEGER, author INTEGER, created_at INTEGER, body TEXT);";
static const char BODY[] = "a comment of about a hundred bytes, like the metadata and text of a "
                           "short reply on the blog";

static const char *dbpath, *mode = "batch", *csv, *serve;
static int nthreads = 8, seconds = 5, queue_max, nprocs = 1, workers = 2;
static atomic_int running;
static struct tandem_db_writer *writer;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int insert(sqlite3 *db, int64_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO comments (article, author, created_at, body)"
                           " VALUES (?1, ?2, ?3, ?4)",
                           -1, &st, NULL) != SQLITE_OK) {
        return TANDEM_EIO;
    }
    sqlite3_bind_int64(st, 1, n % 1000);
    sqlite3_bind_int64(st, 2, n % 97);
    sqlite3_bind_int64(st, 3, n);
    sqlite3_bind_text(st, 4, BODY, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : TANDEM_EIO;
    sqlite3_finalize(st);
    return rc;
}

struct submitter {
    pthread_t thread;
    int id;
    sqlite3 *db;  /* single mode: this thread's own connection, opened before the clock starts */
    int64_t *lat; /* ns per job */
    size_t n, cap;
    int errors;
    /* batch mode: the completion hands the status back */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
};

static int job(sqlite3 *db, void *arg)
{
    struct submitter *s = arg;
    return insert(db, (int64_t)s->id * 1000000000 + (int64_t)s->n);
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

static int one_batched(struct submitter *s)
{
    s->done = 0;
    int rc = tandem_db_write(writer, job, job_done, s);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->done) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return s->status;
}

static int one_single(struct submitter *s, sqlite3 *db)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        return TANDEM_EIO;
    }
    if (job(db, s) != 0 || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return TANDEM_EIO;
    }
    return 0;
}

static void *submit_main(void *arg)
{
    struct submitter *s = arg;
    sqlite3 *db = s->db;
    bool single = db != NULL;
    while (atomic_load(&running)) {
        int64_t t0 = now_ns();
        int rc = single ? one_single(s, db) : one_batched(s);
        int64_t t1 = now_ns();
        if (rc != 0) {
            s->errors++;
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->lat = realloc(s->lat, s->cap * sizeof(*s->lat));
            if (s->lat == NULL) {
                abort();
            }
        }
        s->lat[s->n++] = t1 - t0;
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- --serve: the HTTP path in front of the writer --------------------------------------- */

static atomic_long http_seq;

static int http_job(sqlite3 *db, void *arg)
{
    (void)arg;
    return insert(db, atomic_fetch_add(&http_seq, 1));
}

/* A problem answer through the bare HTTP core (no runtime here). */
static void bench_problem(struct tandem_http_request *req, int status, const char *detail)
{
    char *body = NULL;
    size_t len = 0;
    if (tandem_problem_body(status, detail, &body, &len) != 0) {
        tandem_http_respond(req, status, NULL, NULL, 0);
        return;
    }
    tandem_http_respond(req, status, TANDEM_PROBLEM_CONTENT_TYPE, body, len);
    free(body);
}

static void http_done(int status, void *arg)
{
    static const char created[] = "{\"comment\":{\"id\":1}}";
    struct tandem_http_request *req = arg;
    if (status == 0) {
        tandem_http_respond(req, 201, "application/json", created, sizeof(created) - 1);
    } else {
        bench_problem(req, 500, tandem_strerror(status));
    }
}

/* --mode single: the handler commits on its worker's own connection, blocking the worker for the
 * transaction (what a service without the writer does). Left open at exit: a benchmark. */
static _Thread_local sqlite3 *worker_db;

static void http_handler(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    if (writer == NULL) {
        if (worker_db == NULL && tandem_db_open(dbpath, SCHEMA, &worker_db) != 0) {
            bench_problem(req, 500, "open");
            return;
        }
        struct submitter one = {.id = 1000 + (int)atomic_fetch_add(&http_seq, 1)};
        http_done(one_single(&one, worker_db), req);
        return;
    }
    int rc = tandem_db_write(writer, http_job, http_done, req);
    if (rc != 0) {
        bench_problem(req, rc == TANDEM_EAGAIN ? 503 : 500, tandem_strerror(rc));
    }
}

/* Serves POST (any path) on 127.0.0.1, each request one insert job answered 201 from its
 * completion on its worker, for `seconds` seconds; writes the port to the file serve. */
static int run_serve(void)
{
    struct tandem_db_writer_config cfg = {
        .path = dbpath, .schema_sql = SCHEMA, .queue_max = queue_max};
    if (strcmp(mode, "batch") == 0 && tandem_db_writer_new(&cfg, &writer) != 0) {
        return 1;
    }
    struct tandem_http_config hc = {.workers = workers, .handler = http_handler};
    struct tandem_http_server *hs = NULL;
    if (tandem_http_server_start(&hc, &hs) != 0) {
        return 1;
    }
    FILE *f = fopen(serve, "w");
    if (f == NULL) {
        return 1;
    }
    fprintf(f, "%d\n", tandem_http_server_port(hs));
    fclose(f);
    sleep((unsigned)seconds);
    tandem_http_server_stop(hs);
    struct tandem_db_writer_stats st = {0};
    if (writer == NULL) {
        printf("SERVED mode=single\n");
        return 0;
    }
    tandem_db_writer_stats(writer, &st);
    tandem_db_writer_free(writer);
    printf("SERVED jobs=%llu failed=%llu rejected=%llu batches=%llu mean_batch=%.1f"
           " commit_ms=%.3f\n",
           (unsigned long long)st.jobs, (unsigned long long)st.jobs_failed,
           (unsigned long long)st.rejected, (unsigned long long)st.batches,
           st.batches ? (double)st.jobs / (double)st.batches : 0,
           st.batches ? (double)st.commit_us / (double)st.batches / 1000 : 0);
    return st.jobs_failed > 0 ? 1 : 0;
}

/* What one process measured. */
struct result {
    uint64_t n;      /* jobs completed */
    uint64_t errors; /* jobs failed */
    uint64_t batches, commit_us;
};

/* Runs nthr submitters in this process for the given seconds: fills *res, returns the latencies
 * (res->n of them; the caller frees). Returns NULL when the writer or a connection failed. */
static int64_t *run(int nthr, int id0, struct result *res)
{
    bool single = strcmp(mode, "single") == 0;
    memset(res, 0, sizeof(*res));
    if (!single) {
        struct tandem_db_writer_config cfg = {
            .path = dbpath, .schema_sql = SCHEMA, .queue_max = queue_max};
        if (tandem_db_writer_new(&cfg, &writer) != 0) {
            return NULL;
        }
    }
    struct submitter *subs = calloc((size_t)nthr, sizeof(*subs));
    for (int i = 0; i < nthr; i++) {
        subs[i].id = id0 + i;
        if (single && tandem_db_open(dbpath, SCHEMA, &subs[i].db) != 0) {
            return NULL;
        }
    }
    atomic_store(&running, 1);
    for (int i = 0; i < nthr; i++) {
        pthread_mutex_init(&subs[i].mu, NULL);
        pthread_cond_init(&subs[i].cv, NULL);
        pthread_create(&subs[i].thread, NULL, submit_main, &subs[i]);
    }
    sleep((unsigned)seconds);
    atomic_store(&running, 0);
    for (int i = 0; i < nthr; i++) {
        pthread_join(subs[i].thread, NULL);
        res->n += subs[i].n;
        res->errors += (uint64_t)subs[i].errors;
        sqlite3_close(subs[i].db);
    }
    int64_t *all = malloc((res->n ? res->n : 1) * sizeof(*all));
    size_t k = 0;
    for (int i = 0; i < nthr; i++) {
        memcpy(all + k, subs[i].lat, subs[i].n * sizeof(*all));
        k += subs[i].n;
        free(subs[i].lat);
    }
    if (writer != NULL) {
        struct tandem_db_writer_stats st;
        tandem_db_writer_stats(writer, &st);
        res->batches = st.batches;
        res->commit_us = st.commit_us;
        tandem_db_writer_free(writer);
        writer = NULL;
    }
    free(subs);
    return all;
}

/* --procs P: P processes of nthreads / P submitters each on the same database, as the instances
 * of one service; each writes its result and latencies to DB.res.<i> for the parent. */
static int64_t *run_procs(struct result *res)
{
    int per = nthreads / nprocs > 0 ? nthreads / nprocs : 1;
    pid_t *pids = calloc((size_t)nprocs, sizeof(*pids));
    char file[4096];
    for (int p = 0; p < nprocs; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            struct result r;
            int64_t *lat = run(per, p * per, &r);
            snprintf(file, sizeof(file), "%s.res.%d", dbpath, p);
            FILE *f = fopen(file, "wb");
            if (lat == NULL || f == NULL || fwrite(&r, sizeof(r), 1, f) != 1 ||
                fwrite(lat, sizeof(*lat), r.n, f) != r.n) {
                _exit(1);
            }
            fclose(f);
            _exit(0);
        }
    }
    memset(res, 0, sizeof(*res));
    int64_t *all = NULL;
    for (int p = 0; p < nprocs; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        snprintf(file, sizeof(file), "%s.res.%d", dbpath, p);
        FILE *f = fopen(file, "rb");
        struct result r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || f == NULL ||
            fread(&r, sizeof(r), 1, f) != 1) {
            fprintf(stderr, "store-bench: process %d failed\n", p);
            exit(1);
        }
        all = realloc(all, (res->n + r.n + 1) * sizeof(*all));
        if (all == NULL || fread(all + res->n, sizeof(*all), r.n, f) != r.n) {
            exit(1);
        }
        fclose(f);
        unlink(file);
        res->n += r.n;
        res->errors += r.errors;
        res->batches += r.batches;
        res->commit_us += r.commit_us;
    }
    free(pids);
    return all;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            dbpath = argv[i + 1];
        } else if (strcmp(argv[i], "--mode") == 0) {
            mode = argv[i + 1];
        } else if (strcmp(argv[i], "--threads") == 0) {
            nthreads = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--queue") == 0) {
            queue_max = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--serve") == 0) {
            serve = argv[i + 1];
        } else if (strcmp(argv[i], "--workers") == 0) {
            workers = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--procs") == 0) {
            nprocs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--csv") == 0) {
            csv = argv[i + 1];
        }
    }
    if (dbpath == NULL || nthreads < 1 || seconds < 1 ||
        (strcmp(mode, "batch") != 0 && strcmp(mode, "single") != 0)) {
        fprintf(stderr, "usage: store-bench --db PATH --mode batch|single --threads N"
                        " [--procs P] [--seconds S] [--queue Q] [--csv FILE] | --serve PORTFILE"
                        " [--mode M] [--workers W] [--seconds S]\n");
        return 2;
    }
    sqlite3 *db = NULL;
    if (tandem_db_open(dbpath, SCHEMA, &db) != 0) { /* the schema, before any thread */
        return 1;
    }
    sqlite3_close(db);
    if (serve != NULL) {
        return run_serve();
    }
    struct result res;
    int64_t t0 = now_ns();
    int64_t *all = nprocs > 1 ? run_procs(&res) : run(nthreads, 0, &res);
    double secs = (double)(now_ns() - t0) / 1e9;
    if (all == NULL) {
        fprintf(stderr, "store-bench: cannot open the database or start the writer\n");
        return 1;
    }
    size_t total = res.n;
    qsort(all, total, sizeof(*all), cmp64);
    double p50 = total ? (double)all[total / 2] / 1e6 : 0;
    double p99 = total ? (double)all[total * 99 / 100] / 1e6 : 0;
    double mean_batch = 1, commit_ms = 0;
    if (res.batches > 0) {
        mean_batch = (double)total / (double)res.batches;
        commit_ms = (double)res.commit_us / (double)res.batches / 1000;
    }
    char label[32];
    snprintf(label, sizeof(label), "%s%s", mode, nprocs > 1 ? "/procs" : "");
    printf("| %-12s | %5d | %7d | %8zu | %8.0f | %8.2f | %8.2f | %10.1f | %9.2f | %6d |\n", label,
           nprocs, nthreads, total, (double)total / secs, p50, p99, mean_batch, commit_ms,
           (int)res.errors);
    if (csv != NULL) {
        FILE *f = fopen(csv, "a");
        if (f != NULL) {
            fprintf(f, "%s,%d,%d,%zu,%.0f,%.3f,%.3f,%.2f,%.3f,%d\n", mode, nprocs, nthreads, total,
                    (double)total / secs, p50, p99, mean_batch, commit_ms, (int)res.errors);
            fclose(f);
        }
    }
    free(all);
    return res.errors > 0 ? 1 : 0;
}
