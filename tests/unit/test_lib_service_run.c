/*
 * libtandem runtime end to end inside one process (src/lib/service/): a service with its own
 * routes runs on a thread, requests go over real 127.0.0.1 sockets. Covers what example-hello
 * cannot show: {param} captures, JSON bodies (415 for another media type, 400 with jansson's
 * position for malformed JSON, echo of a valid one), a failing ready check (503 naming it),
 * the broker reachability check, a metrics source, tandem_service_option, and SIGTERM: on_stop
 * hooks in reverse order, run returns 0; and that the configuration is final before the first
 * thread starts ("listen" with port 0 resolved; handlers racing the start-up read a stable
 * string); /readyz answering from the probe thread's results, fast while the broker black-holes,
 * ready again once it accepts; the core's own 400/413/431 answers counted in /metrics; the
 * request id (X-Request-Id) in the access-log line and tandem_log_info's lines, and answered as a
 * borrowed string; the built-in probes' successful answers logged at debug; the answering set
 * (tandem_respond_*): exact bytes, content types and headers of each call, the 401 with
 * WWW-Authenticate and RealWorld's 422 with extension members, and misuse answered 500.
 * SIGTERM is blocked in this process so only the service's sigwait takes it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tandem/service.h"
#include "test_log_capture.h"
#include "test_service_util.h"

static int port;
static atomic_int db_down;
static char stops[8];
static int nstops;

static void get_item(struct tandem_http_request *req, void *arg)
{
    tandem_log_info(req, "item asked", "\"id\":\"%s\"", tandem_param(req, "id"));
    tandem_respond_json(req, 200, json_pack("{s:s}", "id", tandem_param(req, "id")));
}

static void echo(struct tandem_http_request *req, void *arg)
{
    json_t *in = tandem_json_body(req);
    if (in == NULL) {
        return;
    }
    tandem_respond_json(req, 201, in);
}

static int db_check(void *arg)
{
    return atomic_load(&db_down) ? -1 : 0;
}

static void emit(struct tandem_metrics_writer *w, void *arg)
{
    tandem_metrics_counter(w, "test_events_produced_total", "Events.", "topic=\"t\"", 42);
}

static void on_stop(void *arg)
{
    stops[nstops++] = *(const char *)arg;
}

static void *run_thread(void *arg)
{
    intptr_t rc = tandem_service_run(arg);
    return (void *)rc;
}

static int listen_fd(int fd)
{
    return listen(fd, 8);
}

/* One request on a fresh connection (Connection: close); the whole answer into out. */
static int request(const char *raw, char *out, size_t cap)
{
    return tsvc_raw(port, raw, out, cap, NULL);
}

static int call(const char *method, const char *path, const char *ctype, const char *body,
                char *out, size_t cap)
{
    char raw[2048];
    snprintf(
        raw, sizeof(raw),
        "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
        method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
        strlen(body), body);
    return request(raw, out, cap);
}

/* Polls GET /readyz every 10 ms until it answers want (at most 5 s); counts the 503s. */
static int ready_until(int want, char *out, size_t cap, int *n503)
{
    int code = 0;
    for (int i = 0; i < 500; i++) {
        code = call("GET", "/readyz", NULL, "", out, cap);
        *n503 += code == 503;
        if (code == want) {
            break;
        }
        usleep(10000);
    }
    return code;
}

static void test_service(void **state)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    port = tsvc_free_port();
    char listen[32], brokers[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    /* a fake broker: a listening socket (the check only connects); the first address is closed */
    int bfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in bsa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t bsl = sizeof(bsa);
    assert_int_equal(bind(bfd, (struct sockaddr *)&bsa, sizeof(bsa)), 0);
    assert_int_equal(listen_fd(bfd), 0);
    getsockname(bfd, (struct sockaddr *)&bsa, &bsl);
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%d,127.0.0.1:%d", tsvc_free_port(),
             ntohs(bsa.sin_port));
    char *argv[] = {
        "t",        "--listen", listen,      "--workers=2", "--data-dir", "/tmp/tandem-unit-svc",
        "--colour", "red",      "--brokers", brokers,       NULL};
    struct tandem_service *s = NULL;
    rmdir("/tmp/tandem-unit-svc/0"); /* the instance's directory: made again at start */
    assert_int_equal(tandem_service_new("unit", 10, argv, &s), 0);
    assert_int_equal(tandem_service_option(s, "colour", "blue", "a colour"), 0);
    assert_int_equal(tandem_service_option(s, "shape", "round", "a shape"), 0);
    assert_string_equal(tandem_service_config(s, "colour"), "red");
    assert_string_equal(tandem_service_config(s, "shape"), "round");
    assert_string_equal(tandem_service_config(s, "workers"), "2");
    assert_string_equal(tandem_service_config(s, "brokers"), brokers);
    assert_string_equal(tandem_service_config(s, "instance"), "0");
    assert_string_equal(tandem_service_config(s, "instance-dir"), "/tmp/tandem-unit-svc/0");
    assert_int_equal(tandem_route(s, "GET", "/items/{id}", get_item, NULL), 0);
    assert_int_equal(tandem_route(s, "POST", "/echo", echo, NULL), 0);
    assert_int_equal(tandem_route(s, "POST", "/echo", echo, NULL), TANDEM_EEXIST);
    assert_int_equal(tandem_route(s, "GET", "no-slash", echo, NULL), TANDEM_EINVAL);
    tandem_service_ready_check(s, "database", db_check, NULL);
    tandem_service_ready_brokers(s);
    tandem_service_metrics_source(s, emit, NULL);
    tandem_service_on_stop(s, on_stop, "a");
    tandem_service_on_stop(s, on_stop, "b");

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, s), 0);
    static char out[65536];

    assert_int_equal(call("GET", "/items/a%20b", NULL, "", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "\r\n\r\n{\"id\":\"a b\"}"));
    assert_int_equal(access("/tmp/tandem-unit-svc/0", F_OK), 0); /* made at start */
    assert_int_equal(
        call("POST", "/echo", "application/json; charset=utf-8", "{\"x\":[1,2]}", out, sizeof(out)),
        201);
    assert_non_null(strstr(out, "\r\n\r\n{\"x\":[1,2]}"));
    assert_int_equal(call("POST", "/echo", "application/merge-patch+json", "[]", out, sizeof(out)),
                     201);
    assert_int_equal(call("POST", "/echo", "text/plain", "{}", out, sizeof(out)), 415);
    assert_non_null(strstr(out, "application/problem+json"));
    assert_int_equal(call("POST", "/echo", "application/json", "{\"x\":", out, sizeof(out)), 400);
    assert_non_null(strstr(out, "\"status\":400"));
    assert_non_null(strstr(out, "malformed JSON"));
    assert_non_null(strstr(out, "line 1"));
    assert_int_equal(call("GET", "/echo", NULL, "", out, sizeof(out)), 405);
    assert_non_null(strstr(out, "Allow: POST\r\n"));

    int n503 = 0; /* the checks run on the probe thread: /readyz follows within a probe */
    assert_int_equal(ready_until(200, out, sizeof(out), &n503), 200);
    assert_non_null(strstr(out, "\"checks\":{\"database\":{\"ready\":true,\"age_ms\":"));
    atomic_store(&db_down, 1);
    assert_int_equal(ready_until(503, out, sizeof(out), &n503), 503);
    assert_non_null(strstr(out, "\"failing\":[\"database\"]"));
    close(bfd); /* the broker goes away */
    for (int i = 0; i < 300 && strstr(out, "\"failing\":[\"database\",\"broker\"]") == NULL; i++) {
        usleep(10000);
        assert_int_equal(ready_until(503, out, sizeof(out), &n503), 503);
    }
    assert_non_null(strstr(out, "\"failing\":[\"database\",\"broker\"]"));
    assert_non_null(strstr(out, "application/problem+json"));
    assert_non_null(strstr(out, "\"database\":{\"ready\":false"));

    assert_int_equal(call("GET", "/metrics", NULL, "", out, sizeof(out)), 200);
    assert_non_null(strstr(out, "test_events_produced_total{topic=\"t\"} 42\n"));
    assert_non_null(strstr(
        out, "tandem_http_requests_total{route=\"/echo\",method=\"POST\",status=\"415\"} 1"));
    assert_non_null(strstr(
        out, "tandem_http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"200\"} 1"));
    char want[128];
    snprintf(want, sizeof(want),
             "tandem_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"503\"} %d\n",
             n503);
    assert_non_null(strstr(out, want));

    kill(getpid(), SIGTERM);
    void *rc = NULL;
    pthread_join(th, &rc);
    assert_int_equal((intptr_t)rc, 0);
    assert_int_equal(nstops, 2);
    assert_memory_equal(stops, "ba", 2); /* reverse order of registration */
    tandem_service_free(s);
}

/* ---- the configuration is final before any thread starts ---------------------------------- */

static struct tandem_service *race_svc;
static char race_expect[32];
static atomic_int race_bad;

/* Reads the "listen" option it was handed at dispatch for ~20 ms, as a handler that logs or
 * forwards it might: the string must stay valid and unchanged all along. */
static void get_listen(struct tandem_http_request *req, void *arg)
{
    const char *v = tandem_service_config(race_svc, "listen");
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (strcmp(v, race_expect) != 0) {
            atomic_store(&race_bad, 1);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 20000000L);
    tandem_respond(req, 200, "text/plain", v, strlen(v));
}

struct race_client {
    int fds[32];
    int n;
};

/* Connects to the service's port as fast as it can, from before the service starts, and sends
 * one request per connection: the first ones are queued before the workers run, so handlers
 * start while the runtime is still starting the other workers. */
static void *race_connect(void *arg)
{
    struct race_client *rc = arg;
    static const char req[] = "GET /listen HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (rc->n < 32) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10) {
            break;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            continue;
        }
        if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
            close(fd);
            continue;
        }
        rc->fds[rc->n++] = fd;
    }
    return NULL;
}

/* tandem_service_run used to rewrite the "listen" option (free the old string, store a new one)
 * after tandem_http_server_start had started the workers, so a handler reading it could read
 * freed memory (ASan: heap-use-after-free). Many workers and requests queued before they start
 * make handlers run while the runtime is still starting. Port 0 is resolved before any thread
 * starts, and tandem_service_option is refused once the run started. */
static void test_listen_final_before_threads(void **state)
{
    port = tsvc_free_port();
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(race_expect, sizeof(race_expect), "%s", listen);
    char *argv[] = {"t", "--listen", listen, "--workers=16", "--data-dir", "/tmp/tandem-unit-svc",
                    NULL};
    assert_int_equal(tandem_service_new("race", 6, argv, &race_svc), 0);
    assert_int_equal(tandem_route(race_svc, "GET", "/listen", get_listen, NULL), 0);
    struct race_client rc = {.n = 0};
    pthread_t cl, th;
    assert_int_equal(pthread_create(&cl, NULL, race_connect, &rc), 0);
    assert_int_equal(pthread_create(&th, NULL, run_thread, race_svc), 0);
    pthread_join(cl, NULL);
    assert_int_equal(rc.n, 32);
    for (int i = 0; i < rc.n; i++) {
        char out[1024];
        size_t n = 0;
        ssize_t r;
        while (n + 1 < sizeof(out) && (r = recv(rc.fds[i], out + n, sizeof(out) - 1 - n, 0)) > 0) {
            n += (size_t)r;
        }
        out[n] = '\0';
        close(rc.fds[i]);
        assert_int_equal(atoi(out + 9), 200);
        assert_non_null(strstr(out, race_expect));
    }
    assert_int_equal(atomic_load(&race_bad), 0);
    assert_int_equal(tandem_service_option(race_svc, "late", "x", "too late"), TANDEM_EINVAL);
    kill(getpid(), SIGTERM);
    void *ret = NULL;
    pthread_join(th, &ret);
    assert_int_equal((intptr_t)ret, 0);
    tandem_service_free(race_svc);
}

/* ---- /readyz off the request path ---------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char probe_saw[32];
static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int slow_calls;

/* A slow database check (200 ms a call) that also notes the "listen" option, which it may read
 * from the probe thread (started after the option was resolved). */
static int slow_db_check(void *arg)
{
    pthread_mutex_lock(&probe_mu);
    snprintf(probe_saw, sizeof(probe_saw), "%s", tandem_service_config(arg, "listen"));
    pthread_mutex_unlock(&probe_mu);
    atomic_fetch_add(&slow_calls, 1);
    usleep(200000);
    return 0;
}

/*
 * The broker check against a black hole: a listening socket whose accept queue is full (backlog
 * 0, filled by connections never accepted), so a new connect gets no answer at all and only the
 * probe's timeout ends it. /readyz used to run the checks on the worker at every request (500 ms
 * per request and per broker address here, the worker stalled meanwhile); now it answers from the
 * probe thread's last results: fast, 503 "broker" (not probed yet, then failing), and 200 once
 * the broker accepts again. A closed port (refused at once) is listed too.
 */
static void test_readyz_black_hole(void **state)
{
    int hole = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(hole, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in hsa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t hsl = sizeof(hsa);
    assert_int_equal(bind(hole, (struct sockaddr *)&hsa, sizeof(hsa)), 0);
    assert_int_equal(listen(hole, 0), 0);
    getsockname(hole, (struct sockaddr *)&hsa, &hsl);
    int fillers[4], nfill = 0; /* fill the accept queue: the next SYN is dropped */
    for (; nfill < 4; nfill++) {
        fillers[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[nfill], (struct sockaddr *)&hsa, sizeof(hsa));
    }
    usleep(50000);
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(probe, (struct sockaddr *)&hsa, sizeof(hsa));
    struct pollfd pf = {.fd = probe, .events = POLLOUT};
    assert_int_equal(poll(&pf, 1, 300), 0); /* it is a black hole: no answer within 300 ms */
    close(probe);

    char brokers[64], listen_arg[32];
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%d,127.0.0.1:%d", tsvc_free_port(),
             ntohs(hsa.sin_port));
    port = tsvc_free_port();
    snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
    char *argv[] = {"t",         "--listen", listen_arg, "--data-dir", "/tmp/tandem-unit-svc",
                    "--brokers", brokers,    NULL};
    struct tandem_service *s = NULL;
    assert_int_equal(tandem_service_new("ready", 7, argv, &s), 0);
    tandem_service_ready_brokers(s);
    tandem_service_ready_check(s, "database", slow_db_check, s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, s), 0);

    /* 2 s of /readyz while the probes black-hole: every answer fast, 503 naming the broker */
    static char out[65536];
    int64_t t0 = mono_ms(), worst = 0;
    int n = 0;
    while (mono_ms() - t0 < 2000) {
        int64_t a = mono_ms();
        assert_int_equal(call("GET", "/readyz", NULL, "", out, sizeof(out)), 503);
        int64_t took = mono_ms() - a;
        worst = took > worst ? took : worst;
        assert_non_null(strstr(out, "\"failing\":[\"broker\""));
        n++;
        usleep(20000);
    }
    print_message("readyz with a black-holed broker: %d answers in 2 s, slowest %lld ms\n", n,
                  (long long)worst);
    /* the probe itself takes 500 ms (and the database check 200): 400 leaves a loaded machine
     * room without letting an answer that waited for them pass */
    assert_true(worst < 400);
    assert_true(n > 4);
    assert_non_null(strstr(out, "\"broker\":{\"ready\":false,\"age_ms\":"));

    /* the broker comes back: accept what is queued and keep accepting */
    close(hole);
    for (int i = 0; i < nfill; i++) {
        close(fillers[i]);
    }
    hole = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(hole, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(hole, (struct sockaddr *)&hsa, sizeof(hsa)), 0);
    assert_int_equal(listen(hole, 64), 0);
    int64_t back = mono_ms();
    int n503 = 0;
    assert_int_equal(ready_until(200, out, sizeof(out), &n503), 200);
    print_message("readyz 200 %lld ms after the broker came back\n", (long long)(mono_ms() - back));
    assert_true(mono_ms() - back < 3 * 1000);
    assert_non_null(strstr(out, "\"status\":\"ready\""));

    kill(getpid(), SIGTERM);
    void *rc = NULL;
    pthread_join(th, &rc);
    assert_int_equal((intptr_t)rc, 0);
    tandem_service_free(s);
    close(hole);
}

/* Port 0: "listen" holds the bound port before any thread runs: the first probe (the probe
 * thread starts before the workers) already reads it, and requests reach that port. */
static void test_listen_port0_resolved(void **state)
{
    char *argv[] = {"t", "--listen", "127.0.0.1:0", "--data-dir", "/tmp/tandem-unit-svc", NULL};
    struct tandem_service *s = NULL;
    assert_int_equal(tandem_service_new("port0", 5, argv, &s), 0);
    tandem_service_ready_check(s, "database", slow_db_check, s);
    atomic_store(&slow_calls, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_thread, s), 0);
    for (int i = 0; i < 500 && atomic_load(&slow_calls) == 0; i++) {
        usleep(10000);
    }
    assert_true(atomic_load(&slow_calls) > 0); /* probed off the request path */
    char addr[32];
    pthread_mutex_lock(&probe_mu);
    snprintf(addr, sizeof(addr), "%s", probe_saw);
    pthread_mutex_unlock(&probe_mu);
    port = atoi(strchr(addr, ':') + 1);
    assert_true(port > 0);
    assert_string_equal(tandem_service_config(s, "listen"), addr);
    static char out[4096];
    int n503 = 0;
    assert_int_equal(ready_until(200, out, sizeof(out), &n503), 200);
    kill(getpid(), SIGTERM);
    void *rc = NULL;
    pthread_join(th, &rc);
    assert_int_equal((intptr_t)rc, 0);
    tandem_service_free(s);
}

/* ---- errors the http core answers itself are counted ---------------------------------------- */

/* Sends raw on a fresh connection and returns the status of the answer (the core closes after
 * its error answers). */
static int raw_status(const char *raw, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    size_t off = 0;
    while (off < len) { /* the core may answer (and stop reading) before all is sent */
        ssize_t n = send(fd, raw + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    char out[2048];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof(out) && (r = recv(fd, out + n, sizeof(out) - 1 - n, 0)) > 0) {
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fd);
    return n > 12 ? atoi(out + 9) : 0;
}

/* 400 (malformed request line), 413 (Content-Length over the 1 MiB limit), 431 (a 9 KiB header)
 * never reach a route; the runtime counts them through the core's on_error hook with
 * route="(none)",method="(none)" (they were missing from /metrics). */
static void test_core_errors_counted(void **state)
{
    struct tsvc t;
    tsvc_new(&t, "errors", NULL);
    port = t.port;
    tsvc_start(&t);
    static char out[65536];
    assert_int_equal(call("GET", "/healthz", NULL, "", out, sizeof(out)), 200); /* serving */

    static const char bad[] = "GARBAGE\r\n\r\n";
    assert_int_equal(raw_status(bad, sizeof(bad) - 1), 400);
    assert_int_equal(raw_status(bad, sizeof(bad) - 1), 400);
    static const char big[] =
        "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n";
    assert_int_equal(raw_status(big, sizeof(big) - 1), 413);
    static char huge[10240];
    int n = snprintf(huge, sizeof(huge), "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(huge + n, 'a', 9000);
    memcpy(huge + n + 9000, "\r\n\r\n", 4);
    assert_int_equal(raw_status(huge, (size_t)n + 9004), 431);

    assert_int_equal(call("GET", "/metrics", NULL, "", out, sizeof(out)), 200);
    const char *want[] = {
        "tandem_http_requests_total{route=\"(none)\",method=\"(none)\",status=\"400\"} 2\n",
        "tandem_http_requests_total{route=\"(none)\",method=\"(none)\",status=\"413\"} 1\n",
        "tandem_http_requests_total{route=\"(none)\",method=\"(none)\",status=\"431\"} 1\n",
        "tandem_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(out, want[i]) == NULL) {
            fail_msg("missing %s in:\n%s", want[i], out);
        }
    }
    tsvc_stop(&t);
}

/* ---- request ids and the access log -----------------------------------------------------------
 */

static const char *field(json_t *arr, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

/* Answers its request id ("-": none), the borrowed string itself as the body (the runtime used to
 * free it before the core wrote the body), and logs a line of its own. */
static void get_rid(struct tandem_http_request *req, void *arg)
{
    const char *id = tandem_request_id(req);
    tandem_log_info(req, "handled", "\"n\":%d", 1);
    tandem_respond(req, 200, "text/plain", id ? id : "-", id ? strlen(id) : 1);
}

/* One key per request shared with the gateway: the X-Request-Id, when it is a safe value, is
 * tandem_request_id and is in the access-log line and tandem_log_info's lines as "request_id",
 * beside the trace id. Before, services logged only the trace id (the docs said otherwise). */
static void test_request_id_logged(void **state)
{
    capture_begin();
    static const char *const info[] = {"--log-level=info", NULL};
    struct tsvc t;
    tsvc_new(&t, "rid", info);
    port = t.port;
    assert_int_equal(tandem_route(t.s, "GET", "/rid", get_rid, NULL), 0);
    tsvc_start(&t);
    static char out[4096];
    static const char *const ids[] = {"0af7651916cd43dd8448eb211c80319c", "bad id", ""};
    const char *want[] = {"0af7651916cd43dd8448eb211c80319c", "-", "-"};
    for (int i = 0; i < 3; i++) {
        char raw[512];
        snprintf(raw, sizeof(raw),
                 "GET /rid HTTP/1.1\r\nHost: t\r\n%s%s%sConnection: close\r\n\r\n",
                 *ids[i] ? "X-Request-Id: " : "", ids[i], *ids[i] ? "\r\n" : "");
        assert_int_equal(request(raw, out, sizeof(out)), 200);
        char *body = strstr(out, "\r\n\r\n");
        assert_non_null(body);
        assert_string_equal(body + 4, want[i]);
    }
    /* the worker buffers its lines: they are out within LOG_FLUSH_MS (50 ms) of an idle loop,
     * while the service still runs (waited for up to 2 s here) */
    int found = 0;
    for (int i = 0; i < 200 && found < 3; i++) {
        static char seen[65536];
        ssize_t n = pread(fileno(capture_file), seen, sizeof(seen) - 1, 0);
        seen[n > 0 ? n : 0] = '\0';
        found = 0;
        for (const char *p = seen; (p = strstr(p, "\"path\":\"/rid\"")) != NULL; p++) {
            found++;
        }
        usleep(10000);
    }
    assert_int_equal(found, 3);
    tsvc_stop(&t);
    json_t *all = capture_end();
    json_t *access = capture_lines_with(all, "request", "/rid");
    json_t *handled = capture_lines_with(all, "handled", NULL);
    assert_int_equal(json_array_size(access), 3);
    assert_int_equal(json_array_size(handled), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(field(access, i, "trace_id"));
        assert_string_equal(field(access, i, "trace_id"), field(handled, i, "trace_id"));
    }
    assert_string_equal(field(access, 0, "request_id"), ids[0]);
    assert_string_equal(field(handled, 0, "request_id"), ids[0]);
    for (size_t i = 1; i < 3; i++) { /* unsafe or absent: not logged */
        assert_null(json_object_get(json_array_get(access, i), "request_id"));
        assert_null(json_object_get(json_array_get(handled, i), "request_id"));
    }
    json_decref(access);
    json_decref(handled);
    json_decref(all);
}

static atomic_int probe_fail;

static int flaky_check(void *arg)
{
    (void)arg;
    return atomic_load(&probe_fail) ? -7 : 0;
}

/* Runs a service at log level lvl with a ready check that fails, then passes; asks /healthz,
 * /readyz (503, then 200), /metrics and /nope twice each; returns its log lines. */
static json_t *probe_run(const char *lvl)
{
    capture_begin();
    char level[32];
    snprintf(level, sizeof(level), "--log-level=%s", lvl);
    const char *const flags[] = {level, NULL};
    struct tsvc t;
    tsvc_new(&t, "probes", flags);
    port = t.port;
    atomic_store(&probe_fail, 1);
    tandem_service_ready_check(t.s, "db", flaky_check, NULL);
    tsvc_start(&t);
    static char out[65536];
    int n503 = 0;
    assert_int_equal(ready_until(503, out, sizeof(out), &n503), 503);
    atomic_store(&probe_fail, 0);
    assert_int_equal(ready_until(200, out, sizeof(out), &n503), 200);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call("GET", "/healthz", NULL, "", out, sizeof(out)), 200);
        assert_int_equal(call("GET", "/readyz", NULL, "", out, sizeof(out)), 200);
        assert_int_equal(call("GET", "/metrics", NULL, "", out, sizeof(out)), 200);
        assert_int_equal(call("GET", "/nope", NULL, "", out, sizeof(out)), 404);
    }
    assert_int_equal(call("POST", "/healthz", NULL, "", out, sizeof(out)), 405);
    tsvc_stop(&t);
    return capture_end();
}

static size_t count_with(json_t *all, const char *msg, const char *path, const char *level,
                         int status)
{
    json_t *arr = capture_lines_with(all, msg, path);
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        const char *l = json_string_value(json_object_get(o, "level"));
        json_t *st = json_object_get(o, "status");
        n += (level == NULL || (l && strcmp(l, level) == 0)) &&
             (status == 0 || json_integer_value(st) == status);
    }
    json_decref(arr);
    return n;
}

/* The supervisor probes every instance's /readyz about every second; each probe was an info line.
 * Successful /healthz, /readyz and /metrics answers are logged at debug; their failures (a 503
 * /readyz, a 405) and every other route stay at info; the probe thread logs readiness changes
 * (failing at warn, passing at info) so readiness stays visible at info. */
static void test_probe_logs_at_debug(void **state)
{
    json_t *all = probe_run("info");
    assert_int_equal(count_with(all, "request", "/healthz", NULL, 200), 0);
    assert_int_equal(count_with(all, "request", "/readyz", NULL, 200), 0);
    assert_int_equal(count_with(all, "request", "/metrics", NULL, 200), 0);
    assert_true(count_with(all, "request", "/readyz", "info", 503) >= 1);
    assert_int_equal(count_with(all, "request", "/healthz", "info", 405), 1);
    assert_int_equal(count_with(all, "request", "/nope", "info", 404), 2);
    assert_int_equal(count_with(all, "ready check failing", NULL, "warn", 0), 1);
    assert_int_equal(count_with(all, "ready check passing", NULL, "info", 0), 1);
    json_decref(all);

    all = probe_run("debug"); /* still there for whoever asks for debug */
    assert_int_equal(count_with(all, "request", "/healthz", "debug", 200), 2);
    assert_true(count_with(all, "request", "/readyz", "debug", 200) >= 2);
    assert_int_equal(count_with(all, "request", "/metrics", "debug", 200), 2);
    json_decref(all);
}

/* ---- a run that cannot serve leaves nothing running --------------------------------------- */

static atomic_int fail_checks;

static int counting_check(void *arg)
{
    (void)arg;
    atomic_fetch_add(&fail_checks, 1);
    return 0;
}

/* A socket listening on a free 127.0.0.1 port, with SO_REUSEPORT when reuseport; its address
 * ("127.0.0.1:PORT") in listen_at. The caller closes it. */
static int hold_port(bool reuseport, char listen_at[32])
{
    int hold = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (reuseport) {
        assert_int_equal(setsockopt(hold, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(hold, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(hold, 1), 0);
    assert_int_equal(getsockname(hold, (struct sockaddr *)&sa, &sl), 0);
    snprintf(listen_at, 32, "127.0.0.1:%d", ntohs(sa.sin_port));
    return hold;
}

/* The port is held by a plain listening socket (no SO_REUSEPORT), so the service refuses it (the
 * port check before the core binds) and run returns TANDEM_EIO. The probe thread it had started
 * must be gone by then: the caller may release what a check uses (close its database) as soon as
 * run has failed, before free. */
static void test_failed_run_stops_probe(void **state)
{
    (void)state;
    char listen_at[32];
    int hold = hold_port(false, listen_at);
    char *argv[] = {"t", "--listen", listen_at, "--data-dir", "/tmp/tandem-unit-svc", NULL};
    struct tandem_service *s = NULL;
    assert_int_equal(tandem_service_new("busy", 5, argv, &s), 0);
    atomic_store(&fail_checks, 0);
    tandem_service_ready_check(s, "database", counting_check, NULL);
    assert_int_equal(tandem_service_run(s), TANDEM_EIO);
    int after_run = atomic_load(&fail_checks);
    struct timespec ts = {1, 300 * 1000000}; /* more than one probe period */
    nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&fail_checks), after_run); /* no check ran after the return */
    tandem_service_free(s);
    close(hold);
}

/* A port another listener serves with SO_REUSEPORT (what a second instance of a libtandem service
 * on the same port would be): the service refuses it instead of joining the group and sharing
 * its connections. */
static void test_port_shared_refused(void **state)
{
    (void)state;
    char listen_at[32];
    int hold = hold_port(true, listen_at);
    char *argv[] = {"t", "--listen", listen_at, "--data-dir", "/tmp/tandem-unit-svc", NULL};
    struct tandem_service *s = NULL;
    assert_int_equal(tandem_service_new("shared", 5, argv, &s), 0);
    capture_begin();
    int rc = tandem_service_run(s);
    json_t *all = capture_end();
    assert_int_equal(rc, TANDEM_EIO);
    json_t *lines =
        capture_lines_with(all, "cannot serve HTTP: the port is in use by another process", NULL);
    assert_int_equal(json_array_size(lines), 1);
    json_decref(lines);
    json_decref(all);
    tandem_service_free(s);
    close(hold);
}

/* ---- the answering set (service.h): bytes, content types, headers, misuse ---------------- */

static atomic_int answer_rc; /* what the last /answer handler's call returned; 1: not yet */

static void answer(struct tandem_http_request *req, void *arg)
{
    const char *kind = tandem_param(req, "kind");
    int rc = -999;
    if (strcmp(kind, "plain") == 0) {
        rc = tandem_respond(req, 200, "text/plain", "hi", 2);
    } else if (strcmp(kind, "header") == 0) {
        int ok = tandem_respond_header(req, "X-Answer", "42") == 0 &&
                 tandem_respond_header(req, "X-Bad", "a\r\nInjected: 1") == TANDEM_EINVAL &&
                 tandem_respond_header(req, "X:Bad", "v") == TANDEM_EINVAL;
        rc = tandem_respond_json(req, 201, json_pack("{s:i}", "n", 1));
        rc = ok ? rc : -998;
    } else if (strcmp(kind, "422") == 0) { /* RealWorld's validation answer */
        rc = tandem_respond_problem_ext(req, 422, "invalid fields",
                                        json_pack("{s:{s:[s,s],s:[s]}}", "errors", "email",
                                                  "can't be blank", "is invalid", "username",
                                                  "has already been taken"));
    } else if (strcmp(kind, "401") == 0) {
        tandem_respond_header(req, "WWW-Authenticate", "Token");
        rc = tandem_respond_problem(req, 401, "missing or invalid token");
    } else if (strcmp(kind, "big") == 0) { /* more than the stack buffer: the heap pass */
        char long_msg[3001];
        memset(long_msg, 'a', 3000);
        long_msg[3000] = '\0';
        rc = tandem_respond_problem_ext(req, 422, NULL,
                                        json_pack("{s:{s:[s]}}", "errors", "body", long_msg));
    } else if (strcmp(kind, "bad-members") == 0) {
        rc = tandem_respond_problem_ext(req, 422, "x", json_pack("{s:s}", "status", "x"));
    } else if (strcmp(kind, "not-object") == 0) {
        rc = tandem_respond_problem_ext(req, 422, "x", json_pack("[s]", "x"));
    } else if (strcmp(kind, "problem-302") == 0) {
        rc = tandem_respond_problem(req, 302, "a redirect is not a problem");
    } else if (strcmp(kind, "status-99") == 0) {
        rc = tandem_respond(req, 99, "text/plain", "x", 1);
    } else if (strcmp(kind, "bad-utf8") == 0) {
        rc = tandem_respond_problem(req, 400, "bad \xff byte");
    } else if (strcmp(kind, "cached") == 0) {
        rc = tandem_respond_cached(req, "application/json", "{\"a\":1}", 7, "public, max-age=60");
    }
    atomic_store(&answer_rc, rc);
}

/* GET or POST /answer/<kind> (Connection: close, extra headers); *body is the answer's body.
 * Returns the status; waits (at most 2 s) for the handler's return code into *rc. */
static int answer_call(const char *method, const char *kind, const char *headers, char *out,
                       size_t cap, const char **body, int *rc)
{
    char raw[512];
    atomic_store(&answer_rc, 1);
    snprintf(raw, sizeof(raw), "%s /answer/%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n",
             method, kind, headers);
    int status = request(raw, out, cap);
    const char *end = strstr(out, "\r\n\r\n");
    assert_non_null(end);
    *body = end + 4;
    for (int i = 0; i < 200 && atomic_load(&answer_rc) == 1; i++) {
        usleep(10000);
    }
    *rc = atomic_load(&answer_rc);
    return status;
}

/* A header line "Name: value\r\n" is in the answer's header section. */
static void assert_header(const char *out, const char *line)
{
    const char *end = strstr(out, "\r\n\r\n");
    const char *at = strstr(out, line);
    assert_non_null(at);
    assert_true(at < end);
}

static void test_answers(void **state)
{
    struct tsvc t;
    tsvc_new(&t, "answers", NULL);
    port = t.port;
    assert_int_equal(tandem_route(t.s, "GET", "/answer/{kind}", answer, NULL), 0);
    assert_int_equal(tandem_route(t.s, "POST", "/answer/{kind}", answer, NULL), 0);
    tsvc_start(&t);
    static char out[16384];
    const char *body;
    int rc;

    assert_int_equal(answer_call("GET", "plain", "", out, sizeof(out), &body, &rc), 200);
    assert_int_equal(rc, 0);
    assert_header(out, "\r\nContent-Type: text/plain\r\n");
    assert_header(out, "\r\nContent-Length: 2\r\n");
    assert_header(out, "\r\ntraceparent: 00-"); /* every answer passes the runtime */
    assert_string_equal(body, "hi");

    assert_int_equal(answer_call("GET", "header", "", out, sizeof(out), &body, &rc), 201);
    assert_int_equal(rc, 0);
    assert_header(out, "\r\nX-Answer: 42\r\n");
    assert_null(strstr(out, "Injected"));
    assert_header(out, "\r\nContent-Type: application/json\r\n");
    assert_string_equal(body, "{\"n\":1}");

    static const char want422[] =
        "{\"type\":\"about:blank\",\"title\":\"Unprocessable Content\",\"status\":422,"
        "\"detail\":\"invalid fields\",\"errors\":{\"email\":[\"can't be blank\",\"is invalid\"],"
        "\"username\":[\"has already been taken\"]}}";
    char cl[64];
    assert_int_equal(answer_call("POST", "422", "", out, sizeof(out), &body, &rc), 422);
    assert_int_equal(rc, 0);
    assert_header(out, "HTTP/1.1 422 Unprocessable Content\r\n");
    assert_header(out, "\r\nContent-Type: application/problem+json\r\n");
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", sizeof(want422) - 1);
    assert_header(out, cl);
    assert_string_equal(body, want422);

    static const char want401[] = "{\"type\":\"about:blank\",\"title\":\"Unauthorized\","
                                  "\"status\":401,\"detail\":\"missing or invalid token\"}";
    assert_int_equal(answer_call("GET", "401", "", out, sizeof(out), &body, &rc), 401);
    assert_int_equal(rc, 0);
    assert_header(out, "\r\nWWW-Authenticate: Token\r\n");
    assert_header(out, "\r\nContent-Type: application/problem+json\r\n");
    assert_string_equal(body, want401);

    assert_int_equal(answer_call("POST", "big", "", out, sizeof(out), &body, &rc), 422);
    assert_int_equal(rc, 0);
    char want_big[3200];
    int n = snprintf(want_big, sizeof(want_big),
                     "{\"type\":\"about:blank\",\"title\":\"Unprocessable Content\","
                     "\"status\":422,\"errors\":{\"body\":[\"");
    memset(want_big + n, 'a', 3000);
    snprintf(want_big + n + 3000, sizeof(want_big) - (size_t)n - 3000, "\"]}}");
    assert_string_equal(body, want_big);

    /* misuse: answered 500, never left hanging */
    static const char *const misuse[] = {"bad-members", "not-object", "problem-302", "status-99"};
    for (size_t i = 0; i < sizeof(misuse) / sizeof(misuse[0]); i++) {
        print_message("misuse: %s\n", misuse[i]);
        assert_int_equal(answer_call("GET", misuse[i], "", out, sizeof(out), &body, &rc), 500);
        assert_int_equal(rc, TANDEM_EINVAL);
        assert_header(out, "\r\nContent-Type: application/problem+json\r\n");
        assert_non_null(strstr(body, "\"title\":\"Internal Server Error\",\"status\":500"));
    }

    /* a detail that is not UTF-8 is dropped, the answer stands */
    assert_int_equal(answer_call("GET", "bad-utf8", "", out, sizeof(out), &body, &rc), 400);
    assert_int_equal(rc, 0);
    assert_string_equal(body,
                        "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400}");

    /* cached: 200 with ETag and Cache-Control; the ETag again: 304 to GET, 412 to POST */
    assert_int_equal(answer_call("GET", "cached", "", out, sizeof(out), &body, &rc), 200);
    assert_int_equal(rc, 0);
    assert_header(out, "\r\nCache-Control: public, max-age=60\r\n");
    assert_string_equal(body, "{\"a\":1}");
    const char *et = strstr(out, "\r\nETag: ");
    assert_non_null(et);
    char inm[128];
    int etl = (int)strcspn(et + 8, "\r");
    snprintf(inm, sizeof(inm), "If-None-Match: %.*s\r\n", etl, et + 8);
    assert_int_equal(answer_call("GET", "cached", inm, out, sizeof(out), &body, &rc), 304);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "Content-Length"));
    assert_header(out, "\r\nCache-Control: public, max-age=60\r\n");
    assert_int_equal(answer_call("POST", "cached", inm, out, sizeof(out), &body, &rc), 412);
    assert_header(out, "\r\nContent-Type: application/problem+json\r\n");
    tsvc_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_listen_final_before_threads),
        cmocka_unit_test(test_readyz_black_hole),
        cmocka_unit_test(test_listen_port0_resolved),
        cmocka_unit_test(test_core_errors_counted),
        cmocka_unit_test(test_request_id_logged),
        cmocka_unit_test(test_probe_logs_at_debug),
        cmocka_unit_test(test_failed_run_stops_probe),
        cmocka_unit_test(test_port_shared_refused),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
