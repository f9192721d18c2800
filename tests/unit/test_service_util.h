/*
 * What the runtime's tests share (test_lib_service_run.c, test_lib_service_events.c,
 * test_lib_service_validate.c, test_lib_service_pool.c, test_lib_auth_service.c): a
 * tandem_service run on a thread of the test on a free 127.0.0.1 port, stopped with SIGTERM, and
 * one HTTP exchange per connection, timed. The test's main blocks
 * SIGTERM first (tsvc_block_signals) so that only the service's sigwait takes it.
 */
#ifndef TANDEM_TEST_SERVICE_UTIL_H
#define TANDEM_TEST_SERVICE_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tandem/service.h"

struct tsvc {
    struct tandem_service *s;
    pthread_t thread;
    int port;
    char listen[32];
};

static inline void tsvc_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static inline double tsvc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A port the kernel just handed out on 127.0.0.1 (free unless someone takes it meanwhile). */
static inline int tsvc_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A new service "name" with --listen on a free port and the extra flags (NULL-terminated). */
static inline void tsvc_new(struct tsvc *t, const char *name, const char *const *flags)
{
    t->port = tsvc_free_port();
    snprintf(t->listen, sizeof(t->listen), "127.0.0.1:%d", t->port);
    char *argv[32] = {"t", "--listen", t->listen, "--data-dir", "/tmp/tandem-unit-svc"};
    int argc = 5;
    for (; flags != NULL && flags[argc - 5] != NULL && argc < 31; argc++) {
        argv[argc] = (char *)flags[argc - 5];
    }
    argv[argc] = NULL;
    assert_int_equal(tandem_service_new(name, argc, argv, &t->s), 0);
}

static inline void *tsvc_run_thread(void *arg)
{
    return (void *)(intptr_t)tandem_service_run(arg);
}

static inline void tsvc_start(struct tsvc *t)
{
    assert_int_equal(pthread_create(&t->thread, NULL, tsvc_run_thread, t->s), 0);
}

/* SIGTERM, then the run's return (0) and the service freed. */
static inline void tsvc_stop(struct tsvc *t)
{
    kill(getpid(), SIGTERM);
    void *rc = NULL;
    pthread_join(t->thread, &rc);
    assert_int_equal((intptr_t)rc, 0);
    tandem_service_free(t->s);
    t->s = NULL;
}

/* A connection to 127.0.0.1:port, retried while the service starts (up to 4 s). */
static inline int tsvc_connect(int port)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return fd;
        }
        close(fd);
        usleep(20000); /* the service is still starting */
    }
    fail_msg("cannot connect to 127.0.0.1:%d", port);
    return -1;
}

/* Reads until the peer closes, into out (NUL-terminated); closes fd. Returns the status (0 when
 * nothing came). */
static inline int tsvc_read(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = recv(fd, out + n, cap - 1 - n, 0)) > 0) {
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fd);
    return n > 12 ? atoi(out + 9) : 0;
}

/* Sends raw (a whole request with Connection: close) to 127.0.0.1:port and reads the whole answer
 * into out. Returns the status; *ms (may be NULL) gets the time from the send to the end of the
 * answer. */
static inline int tsvc_raw(int port, const char *raw, char *out, size_t cap, double *ms)
{
    int fd = tsvc_connect(port);
    double t0 = tsvc_now_ms();
    assert_int_equal(send(fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
    int status = tsvc_read(fd, out, cap);
    if (ms != NULL) {
        *ms = tsvc_now_ms() - t0;
    }
    return status;
}

/* method path with the extra header lines (each ending "\r\n", or NULL) and a JSON body (NULL:
 * none). Returns as tsvc_raw. */
static inline int tsvc_http(int port, const char *method, const char *path, const char *headers,
                            const char *json, char *out, size_t cap, double *ms)
{
    size_t need = 256 + strlen(path) + (headers ? strlen(headers) : 0) + (json ? strlen(json) : 0);
    char *raw = malloc(need);
    snprintf(raw, need,
             "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%sContent-Length: %zu\r\n\r\n%s",
             method, path, headers ? headers : "", json ? "Content-Type: application/json\r\n" : "",
             json ? strlen(json) : 0, json ? json : "");
    int status = tsvc_raw(port, raw, out, cap, ms);
    free(raw);
    return status;
}

/* The body of an answer read by tsvc_raw ("" when it has none). */
static inline const char *tsvc_body(const char *out)
{
    const char *b = strstr(out, "\r\n\r\n");
    return b != NULL ? b + 4 : "";
}

#endif
