/*
 * run.c: tandem_service_run (serve until SIGTERM/SIGINT, then drain) and tandem_service_free.
 *
 * The order of a run:
 *   1. refuse unknown flags; --help prints the options and returns 0;
 *   2. per-worker stats sized for the routes registered so far (no route may be added later);
 *   3. block SIGTERM and SIGINT (every thread started from here on inherits the mask);
 *   4. events (service_events.c, when built): ready check, metrics source, consumers started;
 *   5. start the http core; log "ready" with the bound address (port 0 resolved: tests read it
 *      from this line);
 *   6. sigwait; one deadline = now + drain-timeout; drain HTTP (until the deadline); stop HTTP;
 *      stop the consumers (what is left of the deadline; a handler in progress is waited for
 *      even past it); on_stop hooks in reverse; free the producer (flushed for what is left of
 *      the deadline, the rest dropped: an outbox relay stopped in a hook publishes into it
 *      before); log "stopped"; return 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static int start_http(struct tandem_service *s)
{
    char host[64], addr[96];
    int port = 0;
    long workers = 1, drain = 10;
    svc_parse_listen(svc_config_get(&s->cfg, "listen"), host, sizeof(host), &port);
    svc_parse_int(svc_config_get(&s->cfg, "workers"), 0, 256, &workers);
    if (workers == 0) { /* one per online CPU */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 0 ? (cpus < 256 ? cpus : 256) : 1;
    }
    svc_parse_int(svc_config_get(&s->cfg, "drain-timeout"), 0, 3600, &drain);
    s->workers = (int)workers;
    s->route_names = xcalloc(s->nroutes + 1, sizeof(*s->route_names));
    for (size_t i = 0; i < s->nroutes; i++) {
        s->route_names[i] = s->routes[i]->pattern;
    }
    s->route_names[s->nroutes] = "unmatched";
    s->stats = xcalloc((size_t)s->workers, sizeof(*s->stats));
    for (int i = 0; i < s->workers; i++) {
        svc_stats_init(&s->stats[i], s->nroutes);
    }
    struct tandem_http_config hc = {
        .host = host,
        .port = port,
        .workers = s->workers,
        .handler = svc_dispatch,
        .on_done = svc_done,
        .arg = s,
    };
    int rc = tandem_http_server_start(&hc, &s->http);
    if (rc != 0) {
        char esc[128];
        log_error("cannot serve HTTP", "\"listen\":%s,\"error\":\"%s\"",
                  log_json_str(esc, sizeof(esc), svc_config_get(&s->cfg, "listen")),
                  tandem_strerror(rc));
        return rc;
    }
    snprintf(addr, sizeof(addr), "%s:%d", host, tandem_http_server_port(s->http));
    svc_config_set(&s->cfg, "listen", addr);
    char e1[256], e2[512];
    log_info("ready", "\"listen\":\"%s\",\"port\":%d,\"workers\":%d,\"brokers\":%s,\"data_dir\":%s",
             addr, tandem_http_server_port(s->http), s->workers,
             log_json_str(e1, sizeof(e1), svc_config_get(&s->cfg, "brokers")),
             log_json_str(e2, sizeof(e2), svc_config_get(&s->cfg, "data-dir")));
    return 0;
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
    s->running = true;
    mkdirs(svc_config_get(&s->cfg, "data-dir"));
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
        rc = start_http(s);
    }
    if (rc != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    long drain = 10;
    svc_parse_int(svc_config_get(&s->cfg, "drain-timeout"), 0, 3600, &drain);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (int64_t)drain * 1000;
    log_info("draining", "\"signal\":%d,\"timeout_s\":%ld", sig, drain);
    rc = tandem_http_server_drain(s->http, (int64_t)drain * 1000);
    if (rc != 0) {
        log_warn("drain timeout: dropping the requests still open", NULL);
    }
    tandem_http_server_stop(s->http);
    s->http = NULL;
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
    tandem_http_server_stop(s->http);
#ifdef TANDEM_SERVICE_EVENTS
    svc_events_free(s);
#endif
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
