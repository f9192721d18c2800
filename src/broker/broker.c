/*
 * tandem-broker's start-up, timers and shutdown: the one place that knows every layer of the
 * core and wires them together (see core.h for the layers).
 *
 * Start-up: storage, identity, offsets log and coordinator, the loop, the listener (its frames go
 * to request_on_frame, with b->apis = api_table), the flusher (whose sync rounds complete held
 * responses), the signalfd, the before-sleep hook (parked requests) and the timers.
 *
 * Timers: retention and segment age for every partition, plus the offsets' expiry and compaction
 * (log.retention.check.interval.ms); the background flush (log.flush.interval.ms) marks every
 * partition with unsynced data.
 *
 * Shutdown on SIGTERM/SIGINT: stop accepting; answer parked fetches with what they have; ask the
 * flusher to sync every partition so acks=-1 produces waiting on a sync are answered; then stop
 * the loop once nothing is held (or after 5 s), sync and close storage, exit 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/api.h"
#include "broker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "flusher.h"
#include "identity.h"
#include "request.h"
#include "tandem/error.h"

#define STOP_GRACE_MS 5000

/* Splices in Fetch responses are heap-allocated file slices; the connection calls this once it
 * has sent (or dropped) one. */
static void release_slice(void *ext)
{
    log_slice_release(ext);
    free(ext);
}

/* The flusher finished a sync round: send what it made durable. */
static void on_synced(void *arg)
{
    struct broker *b = arg;
    durable_complete(&b->held);
}

/* ---- timers and signals ------------------------------------------------------------------ */

static void maintain_one(struct topic *t, void *arg)
{
    int64_t now = *(int64_t *)arg;
    for (int32_t p = 0; p < t->npartitions; p++) {
        int n = plog_maintain(t->partitions[p], now);
        if (n > 0)
            log_info("retention deleted segments", "\"topic\":\"%s\",\"partition\":%d,\"n\":%d",
                     t->name, p, n);
    }
}

static void on_maintain_timer(void *arg)
{
    struct broker *b = arg;
    int64_t now = clock_wall_ms();
    logmgr_foreach(b->logs, maintain_one, &now);
    groups_maintain(b);
    b->maintain_timer =
        loop_timer_add(b->loop, b->cfg->retention_check_interval_ms, on_maintain_timer, b);
}

static void mark_unsynced(struct topic *t, void *arg)
{
    struct broker *b = arg;
    for (int32_t p = 0; p < t->npartitions; p++)
        if (plog_durable_offset(t->partitions[p]) < plog_end_offset(t->partitions[p]))
            flusher_mark(b->flusher, t->partitions[p]);
}

static void on_flush_timer(void *arg)
{
    struct broker *b = arg;
    logmgr_foreach(b->logs, mark_unsynced, b);
    b->flush_timer = loop_timer_add(b->loop, b->cfg->flush_interval_ms, on_flush_timer, b);
}

static void on_stop_check(void *arg)
{
    struct broker *b = arg;
    bool held = durable_pending(&b->held);
    if (!held || loop_now_ms(b->loop) >= b->stop_deadline_ms) {
        if (held)
            log_warn("stopping with produce responses still waiting for a sync", NULL);
        loop_stop(b->loop);
        return;
    }
    loop_timer_add(b->loop, 5, on_stop_check, b);
}

static void on_signal(void *arg)
{
    struct broker *b = arg;
    struct signalfd_siginfo si;
    while (read(b->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (b->stopping)
            continue;
        b->stopping = true;
        log_info("stopping", "\"signal\":%u", si.ssi_signo);
        server_stop_accepting(b->server);
        request_wake_parked(b, true);
        logmgr_foreach(b->logs, mark_unsynced, b);
        b->stop_deadline_ms = loop_now_ms(b->loop) + STOP_GRACE_MS;
        loop_timer_add(b->loop, 0, on_stop_check, b);
    }
}

/* ---- life cycle -------------------------------------------------------------------------- */

/* "host:port" or "[v6]:port" -> host copy. */
static char *listen_host(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']')
        return xstrndup(listen + 1, n - 2);
    return xstrndup(listen, n);
}

int broker_init(struct broker *b, struct broker_config *cfg)
{
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->apis = api_table;
    b->signal_fd = -1;
    int rc;
    char err[256];

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts */
    signal(SIGPIPE, SIG_IGN);
    b->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (b->signal_fd < 0) {
        rc = TANDEM_EIO;
        goto fail;
    }

    rc = logmgr_open(cfg->data_dir, &cfg->log, &b->logs);
    if (rc) {
        snprintf(err, sizeof(err), "cannot open data dir: %s", tandem_strerror(rc));
        goto fail_msg;
    }
    rc = identity_load(b);
    if (rc) {
        snprintf(err, sizeof(err), "cannot read broker identity: %s", tandem_strerror(rc));
        goto fail_msg;
    }
    rc = groups_init(b);
    if (rc) {
        snprintf(err, sizeof(err), "cannot open the offsets log: %s", tandem_strerror(rc));
        goto fail_msg;
    }
    rc = txn_init(b);
    if (rc) {
        snprintf(err, sizeof(err), "cannot open the transaction log: %s", tandem_strerror(rc));
        goto fail_msg;
    }
    rc = loop_new(&b->loop);
    if (rc)
        goto fail;
    struct server_config sc;
    server_config_defaults(&sc);
    sc.listen = cfg->listen;
    sc.max_frame_bytes = (uint32_t)cfg->socket_request_max_bytes;
    sc.idle_timeout_ms = cfg->connections_max_idle_ms;
    sc.max_connections = (int)cfg->max_connections;
    sc.release = release_slice;
    struct server_handler sh = {.on_frame = request_on_frame};
    rc = server_new(b->loop, &sc, &sh, b, &b->server);
    if (rc) {
        snprintf(err, sizeof(err), "cannot listen on %s: %s", cfg->listen, tandem_strerror(rc));
        goto fail_msg;
    }
    b->port = server_port(b->server);
    b->host = *cfg->advertised_host ? xstrndup(cfg->advertised_host, strlen(cfg->advertised_host))
                                    : listen_host(cfg->listen);
    rc = flusher_start(b->loop, b->olog, on_synced, b, &b->flusher);
    if (rc)
        goto fail;
    durable_init(&b->held, b->flusher, b->olog);
    loop_watch_fd(b->loop, b->signal_fd, on_signal, b);
    loop_set_before_sleep(b->loop, request_before_sleep, b);
    b->maintain_timer =
        loop_timer_add(b->loop, cfg->retention_check_interval_ms, on_maintain_timer, b);
    txn_start_timer(b);
    if (cfg->flush_interval_ms > 0)
        b->flush_timer = loop_timer_add(b->loop, cfg->flush_interval_ms, on_flush_timer, b);
    if (*cfg->port_file) {
        rc = identity_write_port_file(cfg->port_file, b->port);
        if (rc) {
            snprintf(err, sizeof(err), "cannot write port file %s", cfg->port_file);
            goto fail_msg;
        }
    }
    return 0;

fail:
    snprintf(err, sizeof(err), "start-up failed: %s", tandem_strerror(rc));
fail_msg:
    log_error(err, NULL);
    broker_cleanup(b);
    return rc;
}

int broker_run(struct broker *b)
{
    return loop_run(b->loop);
}

void broker_cleanup(struct broker *b)
{
    if (b->flusher) {
        flusher_mark_offsets(b->flusher);
        flusher_stop(b->flusher);
        b->flusher = NULL;
    }
    durable_complete(&b->held); /* the final sync made them durable; their conns are closing */
    txn_cleanup(b);
    groups_cleanup(b);
    if (b->server) {
        server_free(b->server);
        b->server = NULL;
    }
    request_wake_parked(b, true);
    if (b->logs) {
        logmgr_close(b->logs);
        b->logs = NULL;
    }
    if (b->loop) {
        loop_free(b->loop);
        b->loop = NULL;
    }
    if (b->signal_fd >= 0) {
        close(b->signal_fd);
        b->signal_fd = -1;
    }
    free(b->host);
    b->host = NULL;
}
