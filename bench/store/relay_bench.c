/*
 * relay-bench: events per second the outbox relay (tandem_outbox_relay_start) moves from a
 * database's outbox to a broker, on PostgreSQL or SQLite.
 *
 *   relay-bench --db URL|PATH --brokers HOST:PORT --topic T [--rows N] [--relays R] [--csv FILE]
 *
 * Fills the outbox with N rows (default 100000; ~100-byte JSON bodies, keys k0..k99) through
 * tandem_sql_outbox_add, 1000 per transaction, with no relay running; then starts R relays (default
 * 1; on PostgreSQL all but one stand by), each with its own producer, and measures the time from
 * the start until every row is marked sent (acknowledged by the broker, acks=all, and its mark
 * committed), polling a second connection every 20 ms. Prints one table row (backend, rows,
 * relays, seconds, events/s) and appends it to FILE as CSV. bench/store/relay.sh runs it against
 * a tandem-broker and a PostgreSQL 15 started for the run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tandem/events.h"
#include "tandem/sql.h"
#include "tandem/store.h"

static const char *db_loc, *brokers, *topic = "relay-bench", *csv;
static int rows = 100000, relays = 1;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t scalar(struct tandem_sql *db, const char *sql)
{
    struct tandem_sql_stmt *st = NULL;
    int64_t v = -1;
    if (tandem_sql_prepare(db, sql, &st) == 0 && tandem_sql_step(st) == TANDEM_SQL_ROW) {
        v = tandem_sql_column_int64(st, 0);
    }
    tandem_sql_finalize(st);
    return v;
}

struct fill {
    int from, to;
};

static int fill_txn(struct tandem_sql *db, void *arg)
{
    struct fill *f = arg;
    for (int i = f->from; i < f->to; i++) {
        char key[16], data[128];
        snprintf(key, sizeof(key), "k%d", i % 100);
        snprintf(data, sizeof(data),
                 "{\"seq\":%d,\"article\":\"how-to-train-your-dragon\",\"author\":%d,"
                 "\"body\":\"Thank you so much!\"}",
                 i, i % 977);
        struct tandem_event_out ev = {.topic = topic,
                                      .key = key,
                                      .key_len = strlen(key),
                                      .type = "com.example.bench",
                                      .subject = key,
                                      .data = data,
                                      .data_len = strlen(data)};
        if (tandem_sql_outbox_add(db, &ev, NULL) != 0) {
            return TANDEM_EIO;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--db") == 0) {
            db_loc = argv[i + 1];
        } else if (strcmp(argv[i], "--brokers") == 0) {
            brokers = argv[i + 1];
        } else if (strcmp(argv[i], "--topic") == 0) {
            topic = argv[i + 1];
        } else if (strcmp(argv[i], "--rows") == 0) {
            rows = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--relays") == 0) {
            relays = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--csv") == 0) {
            csv = argv[i + 1];
        }
    }
    if (db_loc == NULL || brokers == NULL || rows <= 0 || relays < 1 || relays > 8) {
        fprintf(stderr, "usage: relay-bench --db URL|PATH --brokers HOST:PORT [--topic T]"
                        " [--rows N] [--relays R] [--csv FILE]\n");
        return 2;
    }
    struct tandem_sql *db = NULL;
    if (tandem_sql_open(db_loc, NULL, NULL, &db) != 0) {
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < rows; i += 1000) {
        struct fill f = {.from = i, .to = i + 1000 < rows ? i + 1000 : rows};
        if (tandem_sql_write(db, fill_txn, &f) != 0) {
            fprintf(stderr, "relay-bench: fill failed\n");
            return 1;
        }
    }
    double filled = now_s() - t0;
    int64_t unsent = scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL");
    struct tandem_events_config cfg = {
        .brokers = brokers, .client_id = "relay-bench", .source = "/bench/relay"};
    struct tandem_producer *p[8] = {0};
    struct tandem_outbox_relay *r[8] = {0};
    for (int i = 0; i < relays; i++) {
        if (tandem_producer_new(&cfg, &p[i]) != 0) {
            return 1;
        }
    }
    double start = now_s();
    for (int i = 0; i < relays; i++) {
        if (tandem_outbox_relay_start(db_loc, p[i], 1000, &r[i]) != 0) {
            return 1;
        }
    }
    int64_t left = unsent;
    while (left > 0 && now_s() - start < 300) {
        usleep(20 * 1000);
        left = scalar(db, "SELECT count(*) FROM tandem_outbox WHERE sent_at IS NULL");
    }
    double secs = now_s() - start;
    uint64_t published = 0;
    for (int i = 0; i < relays; i++) {
        struct tandem_outbox_stats s;
        tandem_outbox_relay_stats(r[i], &s);
        published += s.published;
        tandem_outbox_relay_stop(r[i], 10000);
        tandem_producer_free(p[i]);
    }
    const char *backend = tandem_sql_is_postgres(db_loc) ? "postgresql" : "sqlite";
    printf("| %-10s | %8" PRId64 " | %6d | %7.2f | %9.0f | %9" PRIu64 " | %8.0f |\n", backend,
           unsent, relays, secs, (double)unsent / secs, published, (double)unsent / filled);
    if (csv != NULL) {
        FILE *f = fopen(csv, "a");
        if (f != NULL) {
            fprintf(f, "%s,%" PRId64 ",%d,%.3f,%.0f,%" PRIu64 ",%.0f\n", backend, unsent, relays,
                    secs, (double)unsent / secs, published, (double)unsent / filled);
            fclose(f);
        }
    }
    tandem_sql_close(db);
    return left == 0 ? 0 : 1;
}
