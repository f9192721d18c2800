/*
 * ready.c: readiness. The ready checks run on a probe thread of their own; /readyz only reads
 * their last results.
 *
 * MODEL. tandem_service_run starts the probe thread once every check is registered (the events'
 * "broker" check included) and before the HTTP workers. The thread runs every check in order,
 * stores each answer with the monotonic time it came (relaxed atomics, one writer), then sleeps
 * SVC_PROBE_MS (or until stopped) and starts again. /readyz, on a worker thread, never calls a
 * check: it reads the stored answers, so a check that blocks (a black-holed broker, a database
 * that is busy) costs the request path nothing. A check is passing when its last answer was 0,
 * there has been one (not probed yet = not ready: a service is not ready before its first
 * successful probe) and it is not older than SVC_PROBE_STALE_MS (a check stuck in a call must
 * not keep an old "ready"). The answer shows each check's state and age.
 *
 * The probe thread logs each check's first answer and every change (passing at info, failing at
 * warn), so readiness stays visible in the log although successful /readyz probes (the
 * supervisor's, every second) are logged at debug.
 *
 * The probe thread is stopped right after the HTTP core (nothing reads the results any more)
 * and before the on_stop hooks, which may close what a check uses (the service's database).
 *
 * "broker": the service is ready to produce and consume only when one of its bootstrap brokers
 * (--brokers, "host:port,host:port", IPv4 addresses) accepts a TCP connection within
 * READY_CONNECT_MS. That is reachability, not a Kafka handshake: the events module's client does
 * the protocol, and reports its own state through its metrics. All the addresses are tried at
 * once (non-blocking connects polled together), so one probe takes at most READY_CONNECT_MS
 * however many brokers are listed and however they fail (refused at once, or black-holed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "service_int.h"

#define READY_CONNECT_MS  500
#define READY_MAX_BROKERS 16

/* One check's last answer; written by the probe thread only. */
struct svc_ready {
    _Atomic int result;    /* the check's last return value (0: ready) */
    _Atomic int64_t at_ms; /* monotonic ms when it answered; 0: not probed yet */
};

struct svc_prober {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stop;         /* under mu */
    struct svc_ready *st;
    size_t n;
    const struct svc_hook *checks; /* s->checks, fixed while the thread runs */
};

/* ---- the broker check ----------------------------------------------------------------------- */

/* Starts a non-blocking connect to host:port. Returns the socket (connected or in progress) or -1
 * (bad address, refused at once). *done is set when it connected already. */
static int connect_start(const char *host, int port, bool *done)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    *done = false;
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        *done = true;
        return fd;
    }
    if (errno == EINPROGRESS) {
        return fd;
    }
    close(fd);
    return -1;
}

int svc_brokers_reachable(const char *list, int timeout_ms)
{
    struct pollfd pf[READY_MAX_BROKERS];
    int n = 0;
    bool ok = false;
    const char *p = list;
    while (!ok && p != NULL && *p != '\0' && n < READY_MAX_BROKERS) {
        char one[128], host[64];
        int port = 0;
        size_t len = strcspn(p, ",");
        if (len > 0 && len < sizeof(one)) {
            memcpy(one, p, len);
            one[len] = '\0';
            if (svc_parse_listen(one, host, sizeof(host), &port) == 0 && port > 0) {
                int fd = connect_start(host, port, &ok);
                if (fd >= 0) {
                    pf[n++] = (struct pollfd){.fd = fd, .events = POLLOUT};
                }
            }
        }
        p = p[len] == ',' ? p + len + 1 : NULL;
    }
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int open = n;
    while (!ok && open > 0) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0 || poll(pf, (nfds_t)n, (int)left) <= 0) {
            break; /* timed out (black-holed), or poll failed */
        }
        for (int i = 0; i < n; i++) {
            if (pf[i].fd < 0 || pf[i].revents == 0) {
                continue;
            }
            int err = 0;
            socklen_t el = sizeof(err);
            if (getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) {
                ok = true;
            }
            close(pf[i].fd); /* answered either way: done with it */
            pf[i].fd = -1;
            open--;
        }
    }
    for (int i = 0; i < n; i++) {
        if (pf[i].fd >= 0) {
            close(pf[i].fd);
        }
    }
    return ok ? 0 : TANDEM_EIO;
}

static int broker_check(void *arg)
{
    const struct tandem_service *s = arg;
    return svc_brokers_reachable(tandem_service_config(s, "brokers"), READY_CONNECT_MS);
}

void tandem_service_ready_brokers(struct tandem_service *s)
{
    tandem_service_ready_check(s, "broker", broker_check, s);
}

/* ---- the probe thread ------------------------------------------------------------------------ */

static void *probe_main(void *arg)
{
    struct svc_prober *pr = arg;
    pthread_mutex_lock(&pr->mu);
    while (!pr->stop) {
        pthread_mutex_unlock(&pr->mu);
        for (size_t i = 0; i < pr->n; i++) {
            int (*check)(void *) = (int (*)(void *))pr->checks[i].fn;
            int r = check(pr->checks[i].arg);
            bool first = atomic_load_explicit(&pr->st[i].at_ms, memory_order_relaxed) == 0;
            int was = atomic_load_explicit(&pr->st[i].result, memory_order_relaxed);
            if (first || (r == 0) != (was == 0)) { /* /readyz's own lines are debug when 200 */
                char name[160];
                log_json_str(name, sizeof(name), pr->checks[i].name);
                if (r == 0) {
                    log_info("ready check passing", "\"check\":%s", name);
                } else {
                    log_warn("ready check failing", "\"check\":%s,\"result\":%d", name, r);
                }
            }
            atomic_store_explicit(&pr->st[i].result, r, memory_order_relaxed);
            atomic_store_explicit(&pr->st[i].at_ms, clock_mono_ms(), memory_order_release);
        }
        struct timespec dl = clock_deadline(CLOCK_MONOTONIC, SVC_PROBE_MS);
        pthread_mutex_lock(&pr->mu);
        while (!pr->stop && pthread_cond_timedwait(&pr->cv, &pr->mu, &dl) == 0) {
        }
    }
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

int svc_ready_start(struct tandem_service *s)
{
    struct svc_prober *pr = xcalloc(1, sizeof(*pr));
    pr->n = s->nchecks;
    pr->checks = s->checks;
    pr->st = xcalloc(pr->n ? pr->n : 1, sizeof(*pr->st));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pr->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&pr->mu, NULL);
    s->prober = pr; /* before the thread: tandem_service_ready_check refuses from here */
    if (pr->n > 0 && pthread_create(&pr->thread, NULL, probe_main, pr) != 0) {
        log_error("cannot start the ready probe thread", NULL);
        pr->n = 0; /* nothing to join; the run fails */
        return TANDEM_EIO;
    }
    return 0;
}

void svc_ready_stop(struct tandem_service *s)
{
    struct svc_prober *pr = s->prober;
    if (pr == NULL) {
        return;
    }
    pthread_mutex_lock(&pr->mu);
    pr->stop = true;
    pthread_cond_broadcast(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    if (pr->n > 0) {
        pthread_join(pr->thread, NULL);
    }
    pthread_cond_destroy(&pr->cv);
    pthread_mutex_destroy(&pr->mu);
    free(pr->st);
    free(pr);
    s->prober = NULL;
}

/* ---- /readyz --------------------------------------------------------------------------------- */

void svc_readyz(struct tandem_http_request *req, void *arg)
{
    struct tandem_service *s = arg;
    const struct svc_prober *pr = s->prober;
    json_t *failing = json_array();
    json_t *checks = json_object();
    int64_t now = clock_mono_ms();
    char detail[256] = "not ready:";
    size_t dn = strlen(detail);
    for (size_t i = 0; pr != NULL && i < s->nchecks; i++) {
        int64_t at = i < pr->n ? atomic_load_explicit(&pr->st[i].at_ms, memory_order_acquire) : 0;
        int r = at ? atomic_load_explicit(&pr->st[i].result, memory_order_relaxed) : -1;
        const char *why = at == 0                         ? " (not probed yet)"
                          : now - at > SVC_PROBE_STALE_MS ? " (stale)"
                          : r != 0                        ? ""
                                                          : NULL;
        json_object_set_new(checks, s->checks[i].name,
                            json_pack("{s:b,s:o}", "ready", why == NULL, "age_ms",
                                      at ? json_integer(now - at) : json_null()));
        if (why != NULL) {
            int w = snprintf(detail + dn, sizeof(detail) - dn, "%s %s%s",
                             json_array_size(failing) ? "," : "", s->checks[i].name, why);
            dn = w > 0 && (size_t)w < sizeof(detail) - dn ? dn + (size_t)w : dn;
            json_array_append_new(failing, json_string(s->checks[i].name));
        }
    }
    if (json_array_size(failing) == 0) {
        json_decref(failing);
        tandem_respond_json(req, 200, json_pack("{s:s,s:o}", "status", "ready", "checks", checks));
        return;
    }
    tandem_respond_problem_ext(req, 503, detail,
                               json_pack("{s:o,s:o}", "failing", failing, "checks", checks));
}
