/*
 * tandem-broker's core: start-up (storage, identity, listener), the frame -> handler path, the
 * broker's timers (retention, background flush) and a clean, bounded shutdown.
 *
 * Shutdown on SIGTERM/SIGINT: stop accepting; answer parked fetches with what they have; ask the
 * flusher to sync every partition so acks=-1 produces waiting on a sync are answered; then stop
 * the loop once nothing is pending (or after 5 s), sync and close storage, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/mem.h"
#include "tandem/error.h"

#define PRODUCER_ID_BLOCK 1000
#define STOP_GRACE_MS     5000

/* ---- small file helpers ------------------------------------------------------------------ */

/* Writes data to path atomically (PATH.tmp, fsync, rename, fsync of the directory, so producer
 * id blocks survive a power loss). */
static int write_file_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    return file_write_atomic(path, tmp, data, len);
}

static int read_small_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TANDEM_ENOENT : TANDEM_EIO;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return TANDEM_EIO;
    buf[n] = '\0';
    return 0;
}

/* meta.properties holds the cluster id, created once (as Kafka's does). */
static int load_identity(struct broker *b)
{
    char path[4096], buf[256];
    snprintf(path, sizeof(path), "%s/meta.properties", b->cfg->data_dir);
    int rc = read_small_file(path, buf, sizeof(buf));
    if (rc == 0) {
        const char *id = strstr(buf, "cluster.id=");
        if (id && sscanf(id + 11, "%31[A-Za-z0-9_-]", b->cluster_id) == 1)
            return 0;
        return TANDEM_ECORRUPT;
    }
    if (rc != TANDEM_ENOENT)
        return rc;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t rnd[22];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        if (fd >= 0)
            close(fd);
        return TANDEM_EIO;
    }
    close(fd);
    for (size_t i = 0; i < sizeof(rnd); i++)
        b->cluster_id[i] = alphabet[rnd[i] & 63];
    b->cluster_id[sizeof(rnd)] = '\0';
    int n = snprintf(buf, sizeof(buf), "version=1\ncluster.id=%s\nnode.id=%" PRId64 "\n",
                     b->cluster_id, b->cfg->node_id);
    return write_file_atomic(path, buf, (size_t)n);
}

/* Producer ids are handed out from blocks whose end is persisted before use, so ids are never
 * reused across restarts. */
static int producer_id_load(struct broker *b)
{
    char path[4096], buf[64];
    snprintf(path, sizeof(path), "%s/producer_id_block", b->cfg->data_dir);
    int rc = read_small_file(path, buf, sizeof(buf));
    if (rc == TANDEM_ENOENT) {
        b->next_producer_id = b->producer_id_block_end = 0;
        return 0;
    }
    if (rc)
        return rc;
    long long v = strtoll(buf, NULL, 10);
    if (v < 0)
        return TANDEM_ECORRUPT;
    b->next_producer_id = b->producer_id_block_end = v;
    return 0;
}

int broker_next_producer_id(struct broker *b, int64_t *out)
{
    if (b->next_producer_id >= b->producer_id_block_end) {
        char path[4096], buf[32];
        snprintf(path, sizeof(path), "%s/producer_id_block", b->cfg->data_dir);
        int64_t end = b->next_producer_id + PRODUCER_ID_BLOCK;
        int n = snprintf(buf, sizeof(buf), "%" PRId64 "\n", end);
        int rc = write_file_atomic(path, buf, (size_t)n);
        if (rc)
            return rc;
        b->producer_id_block_end = end;
    }
    *out = b->next_producer_id++;
    return 0;
}

/* ---- requests ---------------------------------------------------------------------------- */

void request_begin_response(struct request *req, struct kw *w)
{
    kw_init(w, 512);
    int hv = kafka_response_header_version(req->hdr.request_api_key, req->hdr.request_api_version);
    kafka_encode_response_header(w, hv, req->hdr.correlation_id);
}

void request_free(struct request *req)
{
    if (req->slot)
        conn_cancel(req->conn, req->slot);
    arena_cleanup(&req->arena);
    if (req->frame_owned)
        free(req->frame);
    if (req->conn_held)
        conn_unref(req->conn);
    free(req);
}

void request_respond(struct request *req, struct kw *w)
{
    conn_fill(req->conn, req->slot, w);
    req->slot = NULL;
    kw_cleanup(w);
    request_free(req);
}

void request_fail(struct request *req, const char *why)
{
    char peer[128];
    log_warn("closing connection: bad request",
             "\"peer\":%s,\"api_key\":%d,\"api_version\":%d,\"reason\":\"%s\"",
             log_json_str(peer, sizeof(peer), conn_peer(req->conn)), req->hdr.request_api_key,
             req->hdr.request_api_version, why);
    conn_close(req->conn);
    request_free(req);
}

void request_keep(struct request *req)
{
    if (req->frame_owned)
        return;
    uint8_t *copy = xmalloc(req->frame_len);
    memcpy(copy, req->frame, req->frame_len);
    req->frame = copy;
    req->frame_owned = true;
    req->hdr.client_id = KSTR_NULL; /* it pointed into the borrowed frame */
    kr_init(&req->body, copy + req->body_off, req->frame_len - req->body_off);
    request_hold_conn(req);
}

void request_hold_conn(struct request *req)
{
    if (!req->frame_owned)
        req->hdr.client_id = KSTR_NULL; /* the frame is only borrowed until on_frame returns */
    if (!req->conn_held) {
        conn_ref(req->conn);
        req->conn_held = true;
    }
}

/* An unsupported ApiVersions version is answered at v0 with UNSUPPORTED_VERSION and the list of
 * what is supported (KIP-511), so the client can retry at a version it shares with us. */
static void reject_api_versions(struct request *req)
{
    struct api_version_range ranges[KAFKA_API_KEY_MAX];
    struct api_versions_resp resp = {
        .error_code = KAFKA_UNSUPPORTED_VERSION,
        .napi_keys = dispatch_versions(ranges),
        .api_keys = ranges,
    };
    struct kw w;
    kw_init(&w, 256);
    kafka_encode_response_header(&w, 0, req->hdr.correlation_id);
    kafka_encode_api_versions_response(&w, 0, &resp);
    request_respond(req, &w);
}

static void on_frame(struct conn *c, uint8_t *frame, size_t len, void *arg)
{
    struct broker *b = arg;
    struct kafka_req_header h;
    size_t used;
    b->requests_total++;
    if (kafka_parse_request_header(frame, len, &h, &used)) {
        char peer[128];
        log_warn("closing connection: malformed request header", "\"peer\":%s,\"len\":%zu",
                 log_json_str(peer, sizeof(peer), conn_peer(c)), len);
        conn_close(c);
        return;
    }
    struct request *req = xcalloc(1, sizeof(*req));
    req->b = b;
    req->conn = c;
    req->hdr = h;
    req->frame = frame;
    req->frame_len = len;
    arena_init(&req->arena, 0);
    req->body_off = used;
    kr_init(&req->body, frame + used, len - used);

    const struct api_entry *e = dispatch_lookup(h.request_api_key);
    if (!e) {
        request_fail(req, "unknown api key");
        return;
    }
    req->slot = conn_reserve(c);
    if (h.request_api_version < e->min_version || h.request_api_version > e->max_version) {
        if (h.request_api_key == KAFKA_API_VERSIONS)
            reject_api_versions(req);
        else
            request_fail(req, "unsupported api version");
        return;
    }
    e->handler(req);
}

/* Splices in Fetch responses are heap-allocated log slices; the connection calls this once it
 * has sent (or dropped) one. */
static void release_slice(void *ext)
{
    log_slice_release(ext);
    free(ext);
}

static void on_close(struct conn *c, void *arg)
{
    (void)c;
    (void)arg;
}

/* ---- topics ------------------------------------------------------------------------------ */

struct topic *broker_topic(struct broker *b, struct kstr name, bool auto_create, int16_t *err)
{
    if (name.len <= 0 || !topic_name_valid(name.p, (size_t)name.len)) {
        *err = KAFKA_INVALID_TOPIC_EXCEPTION;
        return NULL;
    }
    struct topic *t = logmgr_find(b->logs, name.p, (size_t)name.len);
    if (t)
        return t;
    if (!auto_create || !b->cfg->auto_create_topics) {
        *err = KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    char nm[256];
    memcpy(nm, name.p, (size_t)name.len);
    nm[name.len] = '\0';
    int rc = logmgr_create_topic(b->logs, nm, (int32_t)b->cfg->num_partitions, NULL, NULL, 0, &t);
    if (rc) {
        *err = rc == TANDEM_EINVAL ? KAFKA_INVALID_TOPIC_EXCEPTION : KAFKA_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    log_info("topic auto-created", "\"topic\":\"%s\",\"partitions\":%" PRId64, nm,
             b->cfg->num_partitions);
    return t;
}

void broker_note_append(struct broker *b)
{
    b->data_appended = true;
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
    if (!b->pending_head || loop_now_ms(b->loop) >= b->stop_deadline_ms) {
        if (b->pending_head)
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
        fetch_wake_parked(b, true);
        logmgr_foreach(b->logs, mark_unsynced, b);
        b->stop_deadline_ms = loop_now_ms(b->loop) + STOP_GRACE_MS;
        loop_timer_add(b->loop, 0, on_stop_check, b);
    }
}

static void before_sleep(void *arg)
{
    struct broker *b = arg;
    if (b->data_appended) {
        b->data_appended = false;
        fetch_wake_parked(b, false);
    }
}

/* ---- life cycle -------------------------------------------------------------------------- */

static int write_port_file(const char *path, int port)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d\n", port);
    return write_file_atomic(path, buf, (size_t)n);
}

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
    rc = load_identity(b);
    if (rc == 0)
        rc = producer_id_load(b);
    if (rc) {
        snprintf(err, sizeof(err), "cannot read broker identity: %s", tandem_strerror(rc));
        goto fail_msg;
    }
    rc = groups_init(b);
    if (rc) {
        snprintf(err, sizeof(err), "cannot open the offsets log: %s", tandem_strerror(rc));
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
    struct server_handler sh = {.on_frame = on_frame, .on_close = on_close};
    rc = server_new(b->loop, &sc, &sh, b, &b->server);
    if (rc) {
        snprintf(err, sizeof(err), "cannot listen on %s: %s", cfg->listen, tandem_strerror(rc));
        goto fail_msg;
    }
    b->port = server_port(b->server);
    b->host = *cfg->advertised_host ? xstrndup(cfg->advertised_host, strlen(cfg->advertised_host))
                                    : listen_host(cfg->listen);
    rc = flusher_start(b, &b->flusher);
    if (rc)
        goto fail;
    loop_watch_fd(b->loop, b->signal_fd, on_signal, b);
    loop_set_before_sleep(b->loop, before_sleep, b);
    b->maintain_timer =
        loop_timer_add(b->loop, cfg->retention_check_interval_ms, on_maintain_timer, b);
    if (cfg->flush_interval_ms > 0)
        b->flush_timer = loop_timer_add(b->loop, cfg->flush_interval_ms, on_flush_timer, b);
    if (*cfg->port_file) {
        rc = write_port_file(cfg->port_file, b->port);
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
    broker_complete_durable(b); /* the final sync made them durable; their conns are closing */
    groups_cleanup(b);
    if (b->server) {
        server_free(b->server);
        b->server = NULL;
    }
    fetch_wake_parked(b, true);
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
