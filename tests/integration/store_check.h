/*
 * What the store checkers (lib_store_check.c, lib_store_multi_check.c) share: the CHECK macro
 * that counts failures as "FAIL file:line: ..." lines on stderr, the monotonic clock in ms,
 * one-number SQL queries, their producer and consumer, the duplicated-ids feed and the "-x VALUE"
 * flags. Static functions: each checker includes it once.
 */
#ifndef TANDEM_STORE_CHECK_H
#define TANDEM_STORE_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "tandem/events.h"
#include "tandem/sql.h"

#include "it_check.h"

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first column of the first row of sql, or -1 (no row, an error). */
static inline int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* scalar on either backend (tandem_sql). */
static inline int64_t sql_scalar(struct tandem_sql *db, const char *sql)
{
    struct tandem_sql_stmt *st = NULL;
    int64_t v = -1;
    if (tandem_sql_prepare(db, sql, &st) == 0 && tandem_sql_step(st) == TANDEM_SQL_ROW) {
        v = tandem_sql_column_int64(st, 0);
    }
    tandem_sql_finalize(st);
    return v;
}

/* A producer to brokers (exits on failure). */
static inline struct tandem_producer *store_producer(const char *brokers, const char *client_id)
{
    struct tandem_events_config cfg = {
        .brokers = brokers, .client_id = client_id, .source = "/tests/store"};
    struct tandem_producer *p = NULL;
    if (tandem_producer_new(&cfg, &p) != 0) {
        fprintf(stderr, "FAIL: producer\n");
        exit(1);
    }
    return p;
}

/* A consumer of topic in group, handing records to fn(ev, arg) (exits on failure). */
static inline struct tandem_consumer *store_consumer(const char *brokers, const char *group,
                                                     const char *topic, const char *client_id,
                                                     tandem_event_handler_fn fn, void *arg)
{
    const char *topics[] = {topic};
    struct tandem_consumer_config cc = {.brokers = brokers,
                                        .group_id = group,
                                        .topics = topics,
                                        .ntopics = 1,
                                        .handler = fn,
                                        .arg = arg,
                                        .client_id = client_id};
    struct tandem_consumer *c = NULL;
    if (tandem_consumer_start(&cc, &c) != 0) {
        fprintf(stderr, "FAIL: consumer\n");
        exit(1);
    }
    return c;
}

/* Publishes n events with ids e-0..e-<n-1> (key k<i%10>, data {"seq":i}), then the first n/2
 * again with the same ids, and flushes. */
static inline void store_publish_dups(struct tandem_producer *p, const char *topic, int n)
{
    int total = n + n / 2;
    for (int j = 0; j < total; j++) {
        int i = j < n ? j : j - n;
        char key[16], data[64], id[32];
        snprintf(key, sizeof(key), "k%d", i % 10);
        snprintf(data, sizeof(data), "{\"seq\":%d}", i);
        snprintf(id, sizeof(id), "e-%d", i);
        struct tandem_event_out ev = {.topic = topic,
                                      .key = key,
                                      .key_len = strlen(key),
                                      .type = "com.example.dup",
                                      .id = id,
                                      .data = data,
                                      .data_len = strlen(data)};
        CHECK(tandem_publish(p, &ev, NULL, NULL) == 0, "publish %d", j);
    }
    CHECK(tandem_producer_flush(p, 20000) == 0, "flush");
}

/* A "-x VALUE" flag: its value goes to *str, or atoi of it to *num. */
struct store_flag {
    const char *name;
    const char **str;
    int *num;
};

/* Reads argv[first..] as flag-value pairs of the table (ended by a NULL name). Returns 0, or -1
 * for an unknown flag or one without a value. */
static inline int store_flags(int argc, char **argv, int first, const struct store_flag *flags)
{
    for (int i = first; i < argc; i += 2) {
        const struct store_flag *f = flags;
        while (f->name != NULL && strcmp(f->name, argv[i]) != 0) {
            f++;
        }
        if (f->name == NULL || i + 1 >= argc) {
            return -1;
        }
        if (f->str != NULL) {
            *f->str = argv[i + 1];
        } else {
            *f->num = atoi(argv[i + 1]);
        }
    }
    return 0;
}

#endif
