/*
 * tandem sql: the connection pool (tandem_sql_pool_*, include/tandem/sql.h).
 *
 * Model. A stack of idle connections and a count of open ones, under one mutex. take pops an
 * idle connection, or opens a new one (outside the mutex, its slot reserved by counting it
 * open first) when fewer than max are open, or waits on a condition for a give. give rolls back
 * what a handler left open and pushes the connection back. Invariant: idle + taken == open
 * <= max, where "taken" includes connections being opened.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "sql_int.h"

struct tandem_sql_pool {
    char *location, *schema_sql, *schema_pg;
    int max;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    struct tandem_sql **idle;
    int nidle;
    bool closing;
    struct tandem_sql_pool_stats stats;
};

static char *dup_or_null(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

int tandem_sql_pool_new(const char *location, const char *schema_sql, const char *schema_pg,
                        int max, struct tandem_sql_pool **out)
{
    if (location == NULL || max <= 0 || out == NULL) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    struct tandem_sql *first = NULL;
    int rc = tandem_sql_open(location, schema_sql, schema_pg, &first);
    if (rc != 0) {
        return rc;
    }
    struct tandem_sql_pool *p = xcalloc(1, sizeof(*p));
    p->location = dup_or_null(location);
    p->schema_sql = dup_or_null(schema_sql);
    p->schema_pg = dup_or_null(schema_pg);
    p->max = max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->idle = xcalloc((size_t)max, sizeof(*p->idle));
    p->idle[p->nidle++] = first;
    p->stats.open = 1;
    *out = p;
    return 0;
}

int tandem_sql_pool_take(struct tandem_sql_pool *p, int timeout_ms, struct tandem_sql **out)
{
    if (p == NULL || out == NULL) {
        return TANDEM_EINVAL;
    }
    *out = NULL;
    int64_t deadline = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    bool waited = false;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->closing) {
            pthread_mutex_unlock(&p->mu);
            return TANDEM_ECLOSED;
        }
        if (p->nidle > 0) {
            *out = p->idle[--p->nidle];
            p->stats.taken++;
            p->stats.waited += waited;
            pthread_mutex_unlock(&p->mu);
            return 0;
        }
        if (p->stats.open < (uint64_t)p->max) {
            p->stats.open++; /* the slot is ours while we open */
            p->stats.taken++;
            p->stats.waited += waited;
            pthread_mutex_unlock(&p->mu);
            int rc = tandem_sql_open(p->location, p->schema_sql, p->schema_pg, out);
            if (rc != 0) {
                pthread_mutex_lock(&p->mu);
                p->stats.open--;
                p->stats.taken--;
                pthread_cond_signal(&p->cv);
                pthread_mutex_unlock(&p->mu);
            }
            return rc;
        }
        int64_t now = clock_mono_ms();
        if (deadline >= 0 && now >= deadline) {
            p->stats.timeouts++;
            pthread_mutex_unlock(&p->mu);
            return TANDEM_ETIMEDOUT;
        }
        waited = true;
        struct timespec ts = clock_deadline(CLOCK_REALTIME, deadline < 0 ? 1000 : deadline - now);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
}

void tandem_sql_pool_give(struct tandem_sql_pool *p, struct tandem_sql *db)
{
    if (p == NULL || db == NULL) {
        return;
    }
    if (tandem_sql_txn_state(db) != TANDEM_SQL_IDLE) {
        log_warn("sql: a pooled connection came back inside a transaction; rolled back", NULL);
        tandem_sql_rollback(db);
    }
    pthread_mutex_lock(&p->mu);
    p->idle[p->nidle++] = db;
    p->stats.taken--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void tandem_sql_pool_stats(struct tandem_sql_pool *p, struct tandem_sql_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}

void tandem_sql_pool_free(struct tandem_sql_pool *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nidle; i++) {
        tandem_sql_close(p->idle[i]);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->idle);
    free(p->location);
    free(p->schema_sql);
    free(p->schema_pg);
    free(p);
}
