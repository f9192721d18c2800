/*
 * The TCP server: listening, accepting, limits, the idle sweep and the flush hook.
 *
 * Accepting. The listening socket is level-triggered; each readable event accepts at most
 * ACCEPT_BUDGET connections (accept4, non-blocking, close-on-exec), so a connection storm cannot
 * starve the connections already open. Beyond max_connections a connection is accepted and
 * closed at once (the client sees a reset and retries elsewhere or later; an unaccepted one would
 * keep the listening socket readable and the loop spinning). Out of descriptors (EMFILE), the
 * server closes a spare descriptor it keeps for that, accepts, closes, and re-opens the spare:
 * the same reason, libev's and nginx's trick.
 *
 * Connections are kept on one list ordered by last activity (a byte read or written moves a conn
 * to the tail), so the idle sweep, a timer every min(idle_timeout / 8, 1 s), walks from the head
 * and stops at the first conn that is still fresh: O(closed + 1) per sweep. A conn with a slot
 * reserved but not yet filled is working, not idle: the sweep moves it to the tail.
 *
 * The flush hook runs before the loop sleeps: every conn on the pending list (it was filled,
 * cancelled, un-paused or asked to close since the last flush) gets conn_service(), which handles
 * buffered frames within a budget, writes within a budget and applies close requests. Conns that
 * still have work stay pending and the loop polls instead of sleeping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "net/net_int.h"
#include "tandem/error.h"

#define ACCEPT_BUDGET 256

void server_config_defaults(struct server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_frame_bytes = 100u << 20;
    cfg->idle_timeout_ms = 600000;
    cfg->max_connections = 10000;
    cfg->max_queued_bytes = (size_t)16 << 20;
    cfg->max_inflight = 64;
}

static void apply_defaults(struct server_config *cfg)
{
    struct server_config d;
    server_config_defaults(&d);
    if (cfg->max_frame_bytes == 0)
        cfg->max_frame_bytes = d.max_frame_bytes;
    if (cfg->idle_timeout_ms == 0)
        cfg->idle_timeout_ms = d.idle_timeout_ms;
    if (cfg->max_connections <= 0)
        cfg->max_connections = d.max_connections;
    if (cfg->max_queued_bytes == 0)
        cfg->max_queued_bytes = d.max_queued_bytes;
    if (cfg->max_inflight <= 0)
        cfg->max_inflight = d.max_inflight;
    if (cfg->max_frame_bytes > INT32_MAX)
        cfg->max_frame_bytes = INT32_MAX;
}

/* Splits "host:port" or "[v6]:port" into host and port strings. */
static int split_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return TANDEM_EINVAL;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return TANDEM_EINVAL;
        hl = (size_t)(colon - s);
    }
    size_t pl = strlen(colon + 1);
    if (hl >= hostsz || pl == 0 || pl >= portsz)
        return TANDEM_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return 0;
}

static int open_listener(const char *addr, int *port_out)
{
    char host[256], port[16], esc[40];
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1, one = 1;
    if (!addr || split_hostport(addr, host, sizeof(host), port, sizeof(port)) < 0)
        return TANDEM_EINVAL;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
        return TANDEM_EINVAL;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
        goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    return fd;
fail:
    log_error("listen failed", "\"errno\":%d,\"port\":%s", errno,
              log_json_str(esc, sizeof(esc), port));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return TANDEM_EIO;
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, outsz, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, outsz, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    }
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("cannot raise RLIMIT_NOFILE", "\"errno\":%d", errno);
    }
}

/* ---- accepting ------------------------------------------------------------------------------- */

static void accept_and_drop(struct server *s)
{
    if (s->spare_fd >= 0) {
        close(s->spare_fd);
        s->spare_fd = -1;
    }
    int fd = accept4(s->lio.fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_warn("out of file descriptors, connection refused", NULL);
}

static void on_accept(struct loop_io *io, uint32_t revents)
{
    struct server *s = NET_CONTAINER_OF(io, struct server, lio);
    for (int i = 0; i < ACCEPT_BUDGET && s->lio.registered; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                accept_and_drop(s);
            else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                log_warn("accept failed", "\"errno\":%d", errno);
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        char peer[64];
        format_peer(&ss, peer, sizeof(peer));
        if (s->nconns >= s->cfg.max_connections) {
            char esc[80];
            log_warn("max_connections reached, connection refused", "\"peer\":%s,\"max\":%d",
                     log_json_str(esc, sizeof(esc), peer), s->cfg.max_connections);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!conn_new(s, fd, peer))
            close(fd);
    }
}

/* ---- idle sweep and flush hook --------------------------------------------------------------- */

static void sweep(void *arg)
{
    struct server *s = arg;
    int64_t now = loop_now_ms(s->loop);
    s->sweep_timer = 0;
    while (!nlist_empty(&s->conns)) {
        struct conn *c = NET_CONTAINER_OF(s->conns.next, struct conn, all);
        if (now - c->last_active < s->cfg.idle_timeout_ms)
            break;
        if (c->unfilled > 0 && !c->closing) {
            conn_touch(c); /* waiting on the broker, not on the client */
            continue;
        }
        conn_kill(c, "idle timeout");
    }
    s->sweep_timer = loop_timer_add(s->loop, s->sweep_every, sweep, s);
}

static void flush_hook(void *arg)
{
    struct server *s = arg;
    /* Detach the list first: conns re-marked while being serviced go on the fresh list and are
     * serviced in the next iteration (bounded work per iteration). */
    struct nlist work;
    nlist_init(&work);
    if (nlist_empty(&s->pending))
        return;
    work.next = s->pending.next;
    work.prev = s->pending.prev;
    work.next->prev = &work;
    work.prev->next = &work;
    nlist_init(&s->pending);
    while (!nlist_empty(&work)) {
        struct conn *c = NET_CONTAINER_OF(work.next, struct conn, pending);
        nlist_del(&c->pending);
        c->is_pending = false;
        conn_ref(c);
        conn_service(c);
        conn_unref(c);
    }
    if (!nlist_empty(&s->pending))
        loop_nowait(s->loop);
}

/* ---- API ------------------------------------------------------------------------------------- */

int server_new(struct loop *l, const struct server_config *cfg, const struct server_handler *h,
               void *arg, struct server **out)
{
    struct server *s = xcalloc(1, sizeof(*s));
    int rc;
    s->loop = l;
    s->cfg = *cfg;
    apply_defaults(&s->cfg);
    s->cfg.listen = NULL; /* not kept: the caller's string */
    s->h = *h;
    s->arg = arg;
    s->next_id = 1;
    s->spare_fd = -1;
    s->lio.fd = -1;
    nlist_init(&s->conns);
    nlist_init(&s->dead);
    nlist_init(&s->pending);
    raise_nofile();
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    rc = open_listener(cfg->listen, &s->port);
    if (rc < 0)
        goto fail;
    s->lio.fd = rc;
    s->lio.cb = on_accept;
    rc = loop_io_add(l, &s->lio, EPOLLIN);
    if (rc < 0)
        goto fail;
    rc = loop_hook_add(l, flush_hook, s);
    if (rc < 0)
        goto fail;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->cfg.idle_timeout_ms > 0) {
        s->sweep_every = s->cfg.idle_timeout_ms / 8;
        if (s->sweep_every > 1000)
            s->sweep_every = 1000;
        if (s->sweep_every < 1)
            s->sweep_every = 1;
        s->sweep_timer = loop_timer_add(l, s->sweep_every, sweep, s);
    }
    *out = s;
    return 0;
fail:
    if (s->lio.fd >= 0) {
        loop_io_del(l, &s->lio);
        close(s->lio.fd);
    }
    free(s);
    return rc;
}

int server_port(const struct server *s)
{
    return s->port;
}

int server_conn_count(const struct server *s)
{
    return s->nconns;
}

void server_stop_accepting(struct server *s)
{
    if (s->lio.fd < 0)
        return;
    loop_io_del(s->loop, &s->lio);
    close(s->lio.fd);
    s->lio.fd = -1;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    server_stop_accepting(s);
    loop_hook_del(s->loop, flush_hook, s);
    loop_timer_cancel(s->loop, s->sweep_timer);
    while (!nlist_empty(&s->conns)) {
        struct conn *c = NET_CONTAINER_OF(s->conns.next, struct conn, all);
        conn_kill(c, "server shutting down");
    }
    /* Conns still referenced by the handler outlive the server: they free themselves at their
     * last conn_unref. */
    while (!nlist_empty(&s->dead)) {
        struct conn *c = NET_CONTAINER_OF(s->dead.next, struct conn, all);
        nlist_del(&c->all);
        c->srv = NULL;
    }
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    free(s);
}
