/*
 * run.c: tandem_service_run (serve until SIGTERM/SIGINT, then drain) and tandem_service_free.
 *
 * The order of a run:
 *   1. refuse unknown flags; --help prints the options and returns 0;
 *   2. resolve the listen address: with port 0 a port is reserved now (a socket bound with
 *      SO_REUSEPORT, not listening, held until the http core has bound the same port), and the
 *      "listen" option is rewritten to host:port. This is the last write to the configuration:
 *      from step 4 on, consumer and worker threads run and may read any option
 *      (tandem_service_config), so the option strings are frozen before the first thread starts
 *      (rewriting "listen" after the workers had started freed the string a handler might be
 *      reading);
 *   3. per-worker stats sized for the routes registered so far (no route may be added later);
 *      block SIGTERM and SIGINT (every thread started from here on inherits the mask);
 *   4. events (service_events.c, when built): ready check, metrics source, consumers started;
 *      then the ready probe thread (ready.c), over the checks registered so far;
 *   5. start the http core on the resolved port; drop the reservation; log "ready" with the
 *      bound address (tests read the port from this line). When step 4 or 5 fails, the probe
 *      thread and the consumers started so far are stopped before run returns the error, so
 *      no check or handler runs once the caller has it (it may close their database at once);
 *   6. sigwait; one deadline = now + drain-timeout; drain HTTP (until the deadline); drain the
 *      pool (service_pool.c: work still queued at the deadline is cancelled, its request
 *      answered 503 by its worker, which still runs; running work is waited for); stop HTTP
 *      and the probe thread;
 *      stop the consumers (what is left of the deadline; a handler in progress is waited for
 *      even past it); on_stop hooks in reverse; free the producer (flushed for what is left of
 *      the deadline, the rest dropped: an outbox relay stopped in a hook publishes into it
 *      before); log "stopped"; return 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "service_int.h"

static void usage(const struct svc_config *c, const char *name)
{
    printf("usage: %s [--option value]...\n\noptions (flag, environment, current value):\n", name);
    for (size_t i = 0; i < c->nopts; i++) {
        const struct svc_opt *o = &c->opts[i];
        printf("  --%-16s %-24s %s\n      %s\n", o->key, o->env, o->value ? o->value : "(unset)",
               o->help);
    }
}

/* mkdir -p path (the data directory); a failure is logged, the service still starts. */
static void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        char esc[512];
        log_warn("cannot create the data directory", "\"data_dir\":%s,\"errno\":%d",
                 log_json_str(esc, sizeof(esc), path), errno);
    }
}

/*
 * 0 when nothing listens on host:port, else TANDEM_EIO (logged). The http core's sockets set
 * SO_REUSEPORT (one per worker), and Linux lets any process of the same user join such a group:
 * a second service started on a port already served would silently share its connections. A
 * socket bound without SO_REUSEPORT cannot join the group, so its bind fails (EADDRINUSE) while
 * anyone listens there, and succeeds over connections in TIME_WAIT (SO_REUSEADDR). It is closed
 * at once: the window until the workers bind is a few microseconds.
 */
static int port_free(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return 0; /* not an address: the http core says so */
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int err = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        err = errno != 0 ? errno : EIO;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (err == 0) {
        return 0;
    }
    if (err == EADDRINUSE) {
        log_error("cannot serve HTTP: the port is in use by another process",
                  "\"listen\":\"%s:%d\"", host, port);
    } else {
        log_error("cannot serve HTTP", "\"listen\":\"%s:%d\",\"errno\":%d", host, port, err);
    }
    return TANDEM_EIO;
}

/*
 * Makes the "listen" option final before any thread starts: with port 0, binds a socket to
 * host:0 with SO_REUSEADDR and SO_REUSEPORT (what the http core's own sockets set, so they may
 * bind the same port) and rewrites the option to host:<the port>. The socket never listens, so
 * it takes no connection; *reserve_fd keeps the port ours until the core has bound it (-1 when
 * no reservation was needed). Returns 0 or TANDEM_EIO (logged).
 */
static int resolve_listen(struct tandem_service *s, int *reserve_fd)
{
    char host[64], addr[96];
    int port = 0;
    *reserve_fd = -1;
    svc_parse_listen(svc_config_get(&s->cfg, "listen"), host, sizeof(host), &port);
    if (port != 0) {
        return 0; /* start_http checks that nothing listens there (port_free) */
    }
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t sl = sizeof(sa);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        log_error("cannot reserve a port to serve HTTP on", "\"host\":\"%s\",\"errno\":%d", host,
                  errno);
        if (fd >= 0) {
            close(fd);
        }
        return TANDEM_EIO;
    }
    snprintf(addr, sizeof(addr), "%s:%d", host, ntohs(sa.sin_port));
    svc_config_set(&s->cfg, "listen", addr);
    *reserve_fd = fd;
    return 0;
}

/* Starts the http core on the resolved "listen" address (read only from here on); a port the
 * caller did not reserve (given, not 0) must be free. */
static int start_http(struct tandem_service *s, bool reserved)
{
    char host[64];
    int port = 0;
    const char *listen = svc_config_get(&s->cfg, "listen");
    svc_parse_listen(listen, host, sizeof(host), &port);
    if (!reserved && port_free(host, port) != 0) {
        return TANDEM_EIO;
    }
    struct tandem_http_config hc = {
        .host = host,
        .port = port,
        .workers = s->workers,
        .handler = svc_dispatch,
        .on_done = svc_done,
        .on_error = svc_core_error,
        .arg = s,
    };
    int rc = tandem_http_server_start(&hc, &s->http);
    if (rc != 0) {
        char esc[128];
        log_error("cannot serve HTTP", "\"listen\":%s,\"error\":\"%s\"",
                  log_json_str(esc, sizeof(esc), listen), tandem_strerror(rc));
        return rc;
    }
    char e0[128], e1[256], e2[512];
    log_info("ready", "\"listen\":%s,\"port\":%d,\"workers\":%d,\"brokers\":%s,\"data_dir\":%s",
             log_json_str(e0, sizeof(e0), listen), tandem_http_server_port(s->http), s->workers,
             log_json_str(e1, sizeof(e1), svc_config_get(&s->cfg, "brokers")),
             log_json_str(e2, sizeof(e2), svc_config_get(&s->cfg, "data-dir")));
    return 0;
}

/* Sizes the per-worker stats for the routes registered so far. */
static void stats_setup(struct tandem_service *s)
{
    long workers = 1;
    svc_parse_int(svc_config_get(&s->cfg, "workers"), 0, 256, &workers);
    if (workers == 0) { /* one per online CPU */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 0 ? (cpus < 256 ? cpus : 256) : 1;
    }
    s->workers = (int)workers;
    s->route_names = xcalloc(s->nroutes + 2, sizeof(*s->route_names));
    for (size_t i = 0; i < s->nroutes; i++) {
        s->route_names[i] = s->routes[i]->pattern;
    }
    s->route_names[s->nroutes] = "unmatched";
    s->route_names[s->nroutes + 1] = "(none)"; /* the http core's own errors */
    s->stats = xcalloc((size_t)s->workers, sizeof(*s->stats));
    for (int i = 0; i < s->workers; i++) {
        svc_stats_init(&s->stats[i], s->nroutes);
    }
}

int64_t svc_drain_deadline(const struct tandem_service *s, long *seconds)
{
    long drain = 10;
    svc_parse_int(svc_config_get(&s->cfg, "drain-timeout"), 0, 3600, &drain);
    if (seconds != NULL) {
        *seconds = drain;
    }
    return clock_mono_ms() + (int64_t)drain * 1000;
}

int tandem_service_run(struct tandem_service *s)
{
    const char *unknown = svc_config_unknown(&s->cfg);
    if (unknown != NULL) {
        char esc[128];
        log_error("unknown flag (see --help)", "\"flag\":%s",
                  log_json_str(esc, sizeof(esc), unknown));
        return TANDEM_EINVAL;
    }
    if (s->cfg.help) {
        usage(&s->cfg, s->name);
        return 0;
    }
    if (s->running) {
        return TANDEM_EINVAL;
    }
    int reserve_fd = -1;
    if (resolve_listen(s, &reserve_fd) != 0) {
        return TANDEM_EIO;
    }
    s->running = true; /* the configuration is final: tandem_service_option refuses from here */
    mkdirs(svc_config_get(&s->cfg, "data-dir"));
    mkdirs(svc_config_get(&s->cfg, "instance-dir"));
    stats_setup(s);
    svc_pool_run(s);
    long beat = 15;
    svc_parse_int(svc_config_get(&s->cfg, "sse-heartbeat"), 1, 3600, &beat);
    svc_sse_run(s, (int64_t)beat * 1000);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int rc = 0;
#ifdef TANDEM_SERVICE_EVENTS
    rc = svc_events_run(s); /* consumer threads inherit the mask */
#endif
    if (rc == 0) {
        rc = svc_ready_start(s); /* every check is registered now, the events' one included */
    }
    if (rc == 0) {
        rc = start_http(s, reserve_fd >= 0);
    }
    if (rc == 0) {
        svc_sse_serving(s, s->http); /* broadcasts reach the workers from here */
    }
    if (reserve_fd >= 0) {
        close(reserve_fd); /* the workers' sockets hold the port now */
    }
    if (rc != 0) {
        /* Nothing of the service runs once run has failed: the caller may release what a check
         * or a handler uses (its database) before tandem_service_free. */
        svc_ready_stop(s);
#ifdef TANDEM_SERVICE_EVENTS
        svc_events_stop_consumers(s, svc_drain_deadline(s, NULL));
#endif
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    long drain;
    int64_t deadline = svc_drain_deadline(s, &drain);
    log_info("draining", "\"signal\":%d,\"timeout_s\":%ld", sig, drain);
    rc = tandem_http_server_drain(s->http, (int64_t)drain * 1000);
    svc_pool_drain(s, deadline); /* the workers still run: cancelled work is answered 503 */
    if (rc != 0) {
        log_warn("drain timeout: dropping the requests still open", NULL);
    }
    svc_sse_serving(s, NULL); /* no broadcast reaches for the workers' loops after this */
    tandem_http_server_stop(s->http);
    s->http = NULL;
    svc_ready_stop(s); /* before the hooks: they may close what a check uses */
#ifdef TANDEM_SERVICE_EVENTS
    svc_events_stop_consumers(s, deadline); /* before the hooks: they may close what handlers use */
#endif
    for (size_t i = s->nstops; i > 0; i--) {
        void (*fn)(void *) = (void (*)(void *))s->stops[i - 1].fn;
        fn(s->stops[i - 1].arg);
    }
#ifdef TANDEM_SERVICE_EVENTS
    svc_events_close_producer(s, deadline); /* last: a hook (an outbox relay) may publish */
#endif
    (void)deadline;
    log_info("stopped", NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static void hooks_free(struct svc_hook *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
    }
    free(h);
}

void tandem_service_free(struct tandem_service *s)
{
    if (s == NULL) {
        return;
    }
    svc_sse_serving(s, NULL);
    tandem_http_server_stop(s->http);
    svc_ready_stop(s);
#ifdef TANDEM_SERVICE_EVENTS
    svc_events_free(s);
#endif
#ifdef TANDEM_SERVICE_AUTH
    svc_auth_free(s);
#endif
    svc_pool_free(s); /* after HTTP: every worker's loop has let go of it */
    svc_sse_free(s);  /* likewise: the streams ended when the workers stopped */
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i]->method);
        free(s->routes[i]->pattern);
        free(s->routes[i]);
    }
    free(s->routes);
    free(s->route_names);
    for (int i = 0; s->stats != NULL && i < s->workers; i++) {
        svc_stats_cleanup(&s->stats[i]);
    }
    free(s->stats);
    tandem_router_free(s->router);
    hooks_free(s->checks, s->nchecks);
    hooks_free(s->stops, s->nstops);
    hooks_free(s->sources, s->nsources);
    svc_config_cleanup(&s->cfg);
    log_setup("tandem", LOG_INFO); /* the logger kept a pointer to the name */
    free(s->name);
    free(s);
}
