/*
 * lib-store-pg-service: a tandem service whose one write goes to PostgreSQL, for
 * tests/integration/lib_store_pg_kill.sh (its backends are killed under it).
 *
 *   TANDEM_DATABASE_URL=postgres://... lib-store-pg-service [service flags]
 *
 * POST /writes/{n} runs one write through tandem_sql_write on a connection of a tandem_sql_pool
 * (as many connections as HTTP workers): count += 1, kv row (n, 'a'), a 20 ms pause inside the
 * database, kv row (n, 'b'), an outbox row with subject n, in one transaction. Answers 201
 * {"seq":n,"attempts":k} once it committed, 503 problem+json when it failed (nothing stored), 504
 * problem+json when the outcome is unknown (COMMIT sent, then the database stayed away).
 *
 * POST /batched/{n} makes the same write as a job of a tandem_db_writer on the same database
 * (group commit: jobs of concurrent requests share a transaction, each in its SAVEPOINT; a batch
 * cut by a lost connection runs again on a new one): 201 once its batch committed, 503 when it
 * failed (the batch could not commit: nothing of it is stored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/service.h"
#include "tandem/sql.h"
#include "tandem/store.h"

static const char SCHEMA_PG[] = "CREATE TABLE IF NOT EXISTS kv (seq INTEGER NOT NULL, part TEXT);"
                                "CREATE TABLE IF NOT EXISTS kcount (n INTEGER NOT NULL);"
                                "INSERT INTO kcount SELECT 0 WHERE NOT EXISTS"
                                " (SELECT 1 FROM kcount);";

static struct tandem_sql_pool *pool;
static struct tandem_db_writer *writer;

struct write_arg {
    int seq;
    int attempts;
};

static int write_txn(struct tandem_sql *db, void *arg)
{
    struct write_arg *w = arg;
    char sql[160], data[32], subject[16];
    w->attempts++;
    snprintf(sql, sizeof(sql),
             "UPDATE kcount SET n = n + 1; INSERT INTO kv VALUES (%d, 'a');"
             " SELECT pg_sleep(0.02); INSERT INTO kv VALUES (%d, 'b')",
             w->seq, w->seq);
    if (tandem_sql_exec(db, sql) != 0) {
        return TANDEM_EIO;
    }
    snprintf(data, sizeof(data), "{\"seq\":%d}", w->seq);
    snprintf(subject, sizeof(subject), "%d", w->seq);
    struct tandem_event_out ev = {.topic = "kill",
                                  .type = "com.example.kill",
                                  .subject = subject,
                                  .data = data,
                                  .data_len = strlen(data)};
    return tandem_sql_outbox_add(db, &ev, NULL);
}

static void post_write(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const char *n = tandem_param(req, "n");
    struct write_arg w = {.seq = n != NULL ? atoi(n) : 0};
    if (w.seq <= 0) {
        tandem_respond_problem(req, 400, "n must be a positive integer");
        return;
    }
    struct tandem_sql *db = NULL;
    int rc = tandem_sql_pool_take(pool, 5000, &db);
    if (rc == 0) {
        rc = tandem_sql_write(db, write_txn, &w);
        tandem_sql_pool_give(pool, db);
    }
    if (rc == 0) {
        tandem_respond_json(req, 201, json_pack("{s:i,s:i}", "seq", w.seq, "attempts", w.attempts));
    } else if (rc == TANDEM_ETIMEDOUT) {
        tandem_respond_problem(req, 504, "the database went away after COMMIT: outcome unknown");
    } else {
        tandem_respond_problem(req, 503, "the write failed; nothing was stored");
    }
}

struct batched {
    struct tandem_http_request *req;
    struct write_arg w;
};

static void batched_done(int status, void *arg)
{
    struct batched *b = arg;
    if (status == 0) {
        tandem_respond_json(b->req, 201,
                            json_pack("{s:i,s:i}", "seq", b->w.seq, "attempts", b->w.attempts));
    } else if (status == TANDEM_ETIMEDOUT) {
        tandem_respond_problem(b->req, 504, "the database went away after COMMIT: outcome unknown");
    } else {
        tandem_respond_problem(b->req, 503, "the write failed; nothing was stored");
    }
    free(b);
}

static int batched_job(struct tandem_sql *db, void *arg)
{
    struct batched *b = arg;
    return write_txn(db, &b->w);
}

static void writer_stop(void *arg)
{
    (void)arg;
    tandem_db_writer_free(writer); /* after HTTP stopped: drains the queue */
    writer = NULL;
}

static void post_batched(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    const char *n = tandem_param(req, "n");
    int seq = n != NULL ? atoi(n) : 0;
    if (seq <= 0) {
        tandem_respond_problem(req, 400, "n must be a positive integer");
        return;
    }
    struct batched *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        tandem_respond_problem(req, 503, "out of memory");
        return;
    }
    b->req = req;
    b->w.seq = seq;
    int rc = tandem_db_write_sql(writer, batched_job, batched_done, b);
    if (rc != 0) {
        free(b);
        tandem_respond_problem(req, 503, "the writer refused the write");
    }
}

int main(int argc, char **argv)
{
    struct tandem_service *svc = NULL;
    if (tandem_service_new("pgkill", argc, argv, &svc) != 0) {
        return 2;
    }
    const char *url = tandem_sql_location(NULL);
    if (url == NULL || !tandem_sql_is_postgres(url)) {
        fprintf(stderr, "lib-store-pg-service: set TANDEM_DATABASE_URL=postgres://...\n");
        tandem_service_free(svc);
        return 2;
    }
    int workers = atoi(tandem_service_config(svc, "workers"));
    int rc = tandem_sql_pool_new(url, NULL, SCHEMA_PG, workers > 0 ? workers : 2, &pool);
    struct tandem_db_writer_config wc = {.path = url, .schema_pg = SCHEMA_PG};
    if (rc == 0) {
        rc = tandem_db_writer_new(&wc, &writer);
    }
    if (rc == 0) {
        rc = tandem_route(svc, "POST", "/writes/{n}", post_write, NULL);
    }
    if (rc == 0) {
        tandem_service_on_stop(svc, writer_stop, NULL);
        rc = tandem_route(svc, "POST", "/batched/{n}", post_batched, NULL);
    }
    if (rc == 0) {
        rc = tandem_service_run(svc);
    }
    tandem_service_free(svc);
    tandem_db_writer_free(writer); /* NULL unless the service never ran */
    tandem_sql_pool_free(pool);
    return rc == 0 ? 0 : 1;
}
