/*
 * lib-lag-check: a tandem service for tests/integration/lib_lag.sh. It consumes the topic --topic
 * (default "lag") in the group "lag" with a handler that counts the records it handles and BLOCKS
 * on partition 0's record at offset --block-at (default 10) until POST /release. The record just
 * before it takes 300 ms, so the consumer's periodic commit (every 200 ms) is due when it returns:
 * every record before the blocking one is committed before the handler blocks. So, with E
 * records in partition 0, /metrics must then say lag E - (block_at + 1) (the blocking record has
 * been handed over) and committed lag E - block_at.
 *
 *   GET  /state    {"handled":N,"blocked":true|false}
 *   POST /release  lets the blocked handler return (and every later record pass)
 *
 * Everything else (listen, brokers, /metrics, SIGTERM) is the runtime's (tandem/service.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "tandem/service.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool blocked, released;
static atomic_long handled;
static long block_at = 10;

static int handle(const struct tandem_event *ev, void *arg)
{
    (void)arg;
    if (ev->partition == 0 && ev->offset == block_at - 1) {
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (ev->partition == 0 && ev->offset == block_at) {
        pthread_mutex_lock(&mu);
        blocked = true;
        while (!released) {
            pthread_cond_wait(&cv, &mu);
        }
        blocked = false;
        pthread_mutex_unlock(&mu);
    }
    atomic_fetch_add(&handled, 1);
    return TANDEM_EVENT_OK;
}

static void state(struct tandem_http_request *req, void *arg)
{
    pthread_mutex_lock(&mu);
    bool b = blocked;
    pthread_mutex_unlock(&mu);
    tandem_respond_json(
        req, 200,
        json_pack("{s:I,s:b}", "handled", (json_int_t)atomic_load(&handled), "blocked", b));
}

static void release(struct tandem_http_request *req, void *arg)
{
    pthread_mutex_lock(&mu);
    released = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    tandem_respond_json(req, 200, json_pack("{s:b}", "released", true));
}

int main(int argc, char **argv)
{
    struct tandem_service *svc = NULL;
    if (tandem_service_new("lag-check", argc, argv, &svc) != 0) {
        return 2;
    }
    int rc = tandem_service_option(svc, "topic", "lag", "the topic to consume");
    if (rc == 0) {
        rc = tandem_service_option(svc, "block-at", "10", "partition 0's offset that blocks");
    }
    if (rc == 0) {
        block_at = atol(tandem_service_config(svc, "block-at"));
        const char *topics[] = {tandem_service_config(svc, "topic")};
        rc = tandem_service_subscribe(svc, "lag", topics, 1, handle, NULL);
    }
    if (rc == 0) {
        rc = tandem_route(svc, "GET", "/state", state, NULL);
    }
    if (rc == 0) {
        rc = tandem_route(svc, "POST", "/release", release, NULL);
    }
    if (rc == 0) {
        rc = tandem_service_run(svc);
    }
    tandem_service_free(svc);
    return rc == 0 ? 0 : 1;
}
