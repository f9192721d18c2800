/*
 * server.c: tandem_http_server_start/stop.
 *
 * Every worker gets its own listening socket, all bound to one address and port with
 * SO_REUSEPORT: the kernel hashes each new connection to one of them, so workers never contend
 * on an accept queue or a lock (the model nginx uses with `reuseport`). With port 0 the first
 * socket gets a port from the kernel and the others bind to that port.
 *
 * Draining asks each worker (through the same eventfd, with a flag saying which) to close its
 * listening socket and idle connections, then polls the workers' published connection counts
 * every 10 ms until they are all zero or the timeout passes.
 *
 * Stopping writes each worker's eventfd, joins the threads, then frees the workers (closing
 * their connections) on the calling thread.
 *
 * I/O BACKEND. cfg.io, or when it is TANDEM_HTTP_IO_DEFAULT the environment variable
 * TANDEM_HTTP_IO ("epoll" or "uring"), or else epoll (docs/internals/http.md has the measurement
 * behind that default). When io_uring is asked for and the kernel refuses it (seccomp,
 * kernel.io_uring_disabled, a kernel before 6.1), the first worker logs one line and every
 * worker of the server uses epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "http_int.h"

struct tandem_http_server {
    struct hserver_shared sh;
    const struct hio_ops *io;
    int port;
    int nworkers;
    struct hworker **workers;
    pthread_t *threads;
    int nthreads; /* started */
};

static int listen_on(const char *host, int port, int *out_fd, int *out_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return TANDEM_EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return TANDEM_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("http: cannot listen", "\"port\":%d,\"errno\":%d", port, errno);
        close(fd);
        return TANDEM_EIO;
    }
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *out_fd = fd;
    *out_port = ntohs(sa.sin_port);
    return 0;
}

static void config_defaults(struct tandem_http_config *c)
{
    c->host = c->host ? c->host : "127.0.0.1";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    c->workers = c->workers > 0 ? c->workers : (cpus > 0 ? (int)cpus : 1);
    c->max_header_bytes = c->max_header_bytes ? c->max_header_bytes : 8192;
    c->max_body_bytes = c->max_body_bytes ? c->max_body_bytes : (1u << 20);
    c->request_timeout_ms = c->request_timeout_ms > 0 ? c->request_timeout_ms : 10000;
    c->idle_timeout_ms = c->idle_timeout_ms > 0 ? c->idle_timeout_ms : 60000;
    c->max_connections = c->max_connections > 0 ? c->max_connections : 10000;
    c->max_stream_queue = c->max_stream_queue > 0 ? c->max_stream_queue : 64 * 1024;
}

/* The backend cfg->io asks for; NULL for an unknown value. */
static const struct hio_ops *io_choose(int io)
{
    if (io == TANDEM_HTTP_IO_DEFAULT) {
        const char *env = getenv("TANDEM_HTTP_IO");
        if (env == NULL || *env == '\0') {
            return &hio_epoll;
        }
        io = strcmp(env, "epoll") == 0   ? TANDEM_HTTP_IO_EPOLL
             : strcmp(env, "uring") == 0 ? TANDEM_HTTP_IO_URING
                                         : -1;
        if (io < 0) {
            log_error("http: TANDEM_HTTP_IO must be epoll or uring", "\"value\":\"%.32s\"", env);
        }
    }
    return io == TANDEM_HTTP_IO_EPOLL ? &hio_epoll : io == TANDEM_HTTP_IO_URING ? &hio_uring : NULL;
}

int tandem_http_server_start(const struct tandem_http_config *cfg, struct tandem_http_server **out)
{
    if (cfg == NULL || cfg->handler == NULL || cfg->port < 0 || cfg->port > 65535) {
        return TANDEM_EINVAL;
    }
    const struct hio_ops *io = io_choose(cfg->io);
    if (io == NULL) {
        return TANDEM_EINVAL;
    }
    struct tandem_http_server *s = xcalloc(1, sizeof(*s));
    s->io = io;
    s->sh.cfg = *cfg;
    config_defaults(&s->sh.cfg);
    s->sh.lim.max_header_bytes = s->sh.cfg.max_header_bytes;
    s->sh.lim.max_body_bytes = s->sh.cfg.max_body_bytes;
    s->nworkers = s->sh.cfg.workers;
    s->workers = xcalloc((size_t)s->nworkers, sizeof(*s->workers));
    s->threads = xcalloc((size_t)s->nworkers, sizeof(*s->threads));
    s->port = s->sh.cfg.port;
    int rc = 0;
    for (int i = 0; i < s->nworkers; i++) {
        int fd = -1;
        rc = listen_on(s->sh.cfg.host, s->port, &fd, &s->port);
        if (rc != 0) {
            goto fail;
        }
        rc = hworker_new(&s->sh, i, fd, s->io, &s->workers[i]);
        if (rc == TANDEM_EUNSUPPORTED && s->io != &hio_epoll) {
            s->io = &hio_epoll; /* logged by the backend; every worker of a server is alike */
            rc = hworker_new(&s->sh, i, fd, s->io, &s->workers[i]);
        }
        if (rc != 0) {
            close(fd);
            goto fail;
        }
    }
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->threads[i], NULL, hworker_main, s->workers[i]) != 0) {
            rc = TANDEM_EIO;
            goto fail;
        }
        s->nthreads++;
    }
    *out = s;
    return 0;
fail:
    tandem_http_server_stop(s);
    return rc;
}

int tandem_http_server_port(const struct tandem_http_server *s)
{
    return s->port;
}

int tandem_http_server_io(const struct tandem_http_server *s)
{
    return s->io == &hio_uring ? TANDEM_HTTP_IO_URING : TANDEM_HTTP_IO_EPOLL;
}

struct tandem_loop *tandem_http_server_loop(struct tandem_http_server *s, int index)
{
    if (index < 0 || index >= s->nthreads) {
        return NULL;
    }
    return &s->workers[index]->loop;
}

int tandem_http_server_drain(struct tandem_http_server *s, int64_t timeout_ms)
{
    for (int i = 0; i < s->nthreads; i++) {
        hworker_wake_drain(s->workers[i]);
    }
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
    for (int64_t waited = 0;; waited += 10) {
        int open = 0;
        for (int i = 0; i < s->nthreads; i++) {
            open += hworker_conns(s->workers[i]);
        }
        if (open == 0 && waited >= 20) { /* 20 ms: every loop has seen the drain request */
            return 0;
        }
        if (waited >= timeout_ms) {
            return TANDEM_ETIMEDOUT;
        }
        nanosleep(&nap, NULL);
    }
}

void tandem_http_server_stop(struct tandem_http_server *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < s->nthreads; i++) {
        hworker_wake_stop(s->workers[i]);
    }
    for (int i = 0; i < s->nthreads; i++) {
        pthread_join(s->threads[i], NULL);
    }
    for (int i = 0; i < s->nworkers; i++) {
        hworker_free(s->workers[i]);
    }
    free(s->workers);
    free(s->threads);
    free(s);
}
