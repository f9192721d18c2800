/*
 * hello_http: the benchmark's tandem side. Serves GET /hello (and /) with the 27-byte JSON
 * {"message":"Hello, World!"} through libtandem's HTTP core, everything else 404 problem+json.
 *
 *     hello_http [--port N] [--workers N]      (TANDEM_HTTP_IO=epoll|uring picks the I/O backend)
 *
 * Prints "listening on 127.0.0.1:PORT (epoll|io_uring)" once ready, runs until SIGTERM or SIGINT,
 * then prints the number of requests it answered.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tandem/http.h"
#include "tandem/problem.h"

static const char hello[] = "{\"message\":\"Hello, World!\"}";
static atomic_ulong served;

static void handle(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&served, 1, memory_order_relaxed);
    if (strcmp(req->path, "/hello") == 0 || strcmp(req->path, "/") == 0) {
        tandem_http_respond(req, 200, "application/json", hello, sizeof(hello) - 1);
        return;
    }
    char *body = NULL; /* the canned problem document (tandem/problem.h) */
    size_t len = 0;
    tandem_problem_body(404, "no such route", &body, &len);
    tandem_http_respond(req, 404, TANDEM_PROBLEM_CONTENT_TYPE, body, len);
    free(body);
}

int main(int argc, char **argv)
{
    struct tandem_http_config cfg = {.handler = handle};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            cfg.port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--workers") == 0) {
            cfg.workers = atoi(argv[i + 1]);
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* workers inherit the mask; main waits below */
    struct tandem_http_server *s = NULL;
    int rc = tandem_http_server_start(&cfg, &s);
    if (rc != 0) {
        fprintf(stderr, "hello_http: %s\n", tandem_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%d (%s)\n", tandem_http_server_port(s),
           tandem_http_server_io(s) == TANDEM_HTTP_IO_URING ? "io_uring" : "epoll");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    tandem_http_server_stop(s);
    printf("served %lu\n", (unsigned long)atomic_load(&served));
    return 0;
}
