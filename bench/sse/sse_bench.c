/*
 * sse-bench: what server-sent event streams cost a libtandem service (docs/benchmarks.md,
 * "Server-sent events"): the memory of an idle stream, and the cost of a broadcast to all of them.
 *
 *   build/bin/sse-bench [STREAMS [ROUNDS [PAYLOAD]]]        defaults 10000 50 100
 *
 * The service runs in this process with ONE worker (--workers 1, heartbeats off: --sse-heartbeat
 * 3600), its only route GET /live answering tandem_respond_sse. A child process (forked before any
 * thread) is the clients: it opens STREAMS connections to it on 127.0.0.1, sends each a GET /live,
 * reads every head, then, round after round, reads until every stream has received the round's
 * event and says so on a pipe. Measured:
 *
 *   memory   the service's VmRSS before the clients and with every stream open and idle (after a
 *            second to settle), divided by STREAMS (the kernel's socket structures are not in it;
 *            an idle stream's socket buffers are empty);
 *   broadcast  ROUNDS times: tandem_sse_broadcast of one event with PAYLOAD bytes of data from
 *            this thread (as a consumer would), timed until the last stream has it (the child's
 *            word), and the service process's CPU time (getrusage: the worker's formatting,
 *            chunking and send(2)s, the poster) for it; medians printed.
 *
 * Prints one table; exits 1 if the service or the clients fail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tandem/service.h"

static atomic_int opened;

static void live(struct tandem_http_request *req, void *arg)
{
    (void)arg;
    if (tandem_respond_sse(req, NULL, NULL) != NULL) {
        atomic_fetch_add(&opened, 1);
    }
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The number after key in file (a "VmRSS:" line of /proc/self/status: kB). */
static long proc_value(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    char line[512];
    long v = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        const char *p = strstr(line, key);
        if (p != NULL) {
            v = strtol(p + strlen(key), NULL, 10);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- the clients (child process) ------------------------------------------------------------ */

struct conn {
    int fd;
    size_t head; /* bytes of "\r\n\r\n" matched, 4 once the head is in */
    size_t body; /* body bytes since */
};

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        return -1;
    }
    static const char req[] = "GET /live HTTP/1.1\r\nHost: b\r\n\r\n";
    if (send(fd, req, sizeof(req) - 1, 0) != (ssize_t)sizeof(req) - 1) {
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Reads what is there on c: the head, then counts body bytes. */
static void conn_read(struct conn *c)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "sse-bench: a stream ended\n");
                exit(1);
            }
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (c->head < 4) {
                c->head = buf[i] == "\r\n\r\n"[c->head] ? c->head + 1 : (buf[i] == '\r');
            } else {
                c->body += (size_t)(n - i);
                break;
            }
        }
    }
}

/* Waits until every stream has its head and at least body bytes of body, then writes one byte
 * on out. */
static void wait_all(int ep, struct conn *cs, int n, size_t body, int out)
{
    int behind = 0;
    for (int i = 0; i < n; i++) {
        behind += cs[i].head < 4 || cs[i].body < body;
    }
    struct epoll_event evs[256];
    while (behind > 0) {
        int k = epoll_wait(ep, evs, 256, 10000);
        if (k <= 0) {
            fprintf(stderr, "sse-bench: %d streams still waiting after 10 s\n", behind);
            exit(1);
        }
        for (int j = 0; j < k; j++) {
            struct conn *c = evs[j].data.ptr;
            bool was = c->head < 4 || c->body < body;
            conn_read(c);
            behind -= was && !(c->head < 4 || c->body < body);
        }
    }
    if (write(out, "x", 1) != 1) {
        exit(1);
    }
}

static void clients(int in, int out)
{
    int cfg[3]; /* port, streams, bytes of one event on the wire */
    if (read(in, cfg, sizeof(cfg)) != (ssize_t)sizeof(cfg)) {
        exit(1);
    }
    int n = cfg[1];
    struct conn *cs = calloc((size_t)n, sizeof(*cs));
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        cs[i].fd = dial(cfg[0]);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &cs[i]};
        if (cs[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e) != 0) {
            fprintf(stderr, "sse-bench: connection %d: %s\n", i, strerror(errno));
            exit(1);
        }
    }
    wait_all(ep, cs, n, 0, out);
    char go;
    for (size_t round = 1; read(in, &go, 1) == 1; round++) {
        wait_all(ep, cs, n, round * (size_t)cfg[2], out);
    }
    exit(0); /* the parent closed the pipe: done (the sockets close with the process) */
}

/* ---- the service ---------------------------------------------------------------------------- */

static void *run(void *arg)
{
    return (void *)(intptr_t)tandem_service_run(arg);
}

int main(int argc, char **argv)
{
    int streams = argc > 1 ? atoi(argv[1]) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 50;
    int payload = argc > 3 ? atoi(argv[3]) : 100;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (streams < 1 || rounds < 1 || payload < 1 || (rlim_t)streams + 64 > rl.rlim_cur) {
        fprintf(stderr, "usage: sse-bench [STREAMS [ROUNDS [PAYLOAD]]] (open files: %llu)\n",
                (unsigned long long)rl.rlim_cur);
        return 2;
    }
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        close(to_child[1]);
        close(from_child[0]);
        clients(to_child[0], from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char listen[32];
    int port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    char *sargv[] = {"sse-bench",
                     "--listen",
                     listen,
                     "--workers",
                     "1",
                     "--log-level",
                     "warn",
                     "--sse-heartbeat",
                     "3600",
                     "--data-dir",
                     "/tmp/tandem-sse-bench",
                     NULL};
    struct tandem_service *svc = NULL;
    if (tandem_service_new("ssebench", 11, sargv, &svc) != 0 ||
        tandem_route(svc, "GET", "/live", live, NULL) != 0) {
        return 1;
    }
    pthread_t th;
    pthread_create(&th, NULL, run, svc);
    for (int i = 0; i < 200; i++) { /* until it listens */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok) {
            break;
        }
        usleep(20000);
    }
    usleep(200000);
    long rss0 = proc_value("/proc/self/status", "VmRSS:");

    /* one event on the wire: its chunk-size line, "data: " PAYLOAD "\n\n", CRLF */
    char *data = malloc((size_t)payload);
    memset(data, 'x', (size_t)payload);
    int frame = payload + 8, hex = 0;
    for (int v = frame; v > 0; v >>= 4) {
        hex++;
    }
    int cfg[3] = {port, streams, hex + 2 + frame + 2};
    double t0 = now_ms();
    char ack;
    if (write(to_child[1], cfg, sizeof(cfg)) != (ssize_t)sizeof(cfg) ||
        read(from_child[0], &ack, 1) != 1) {
        fprintf(stderr, "sse-bench: the clients failed\n");
        return 1;
    }
    double open_ms = now_ms() - t0;
    while (atomic_load(&opened) < streams) {
        usleep(10000);
    }
    sleep(1);
    long rss1 = proc_value("/proc/self/status", "VmRSS:");

    double *lat = calloc((size_t)rounds, sizeof(double)),
           *cpu = calloc((size_t)rounds, sizeof(double));
    for (int r = 0; r < rounds; r++) {
        double c0 = cpu_ms(), w0 = now_ms();
        if (tandem_sse_broadcast(svc, "/live", NULL, NULL, data, (size_t)payload) != 0 ||
            write(to_child[1], "g", 1) != 1 || read(from_child[0], &ack, 1) != 1) {
            fprintf(stderr, "sse-bench: round %d failed\n", r);
            return 1;
        }
        lat[r] = now_ms() - w0;
        cpu[r] = cpu_ms() - c0;
    }
    qsort(lat, (size_t)rounds, sizeof(double), cmp_double);
    qsort(cpu, (size_t)rounds, sizeof(double), cmp_double);
    printf("streams %d (one worker), opened in %.0f ms\n", streams, open_ms);
    printf("service RSS %ld kB idle -> %ld kB with the streams: %.1f kB per stream\n", rss0, rss1,
           (double)(rss1 - rss0) / streams);
    printf("broadcast of %d bytes to all, %d rounds: to the last client median %.2f ms "
           "(min %.2f, max %.2f); service CPU median %.2f ms = %.2f us per stream\n",
           payload, rounds, lat[rounds / 2], lat[0], lat[rounds - 1], cpu[rounds / 2],
           cpu[rounds / 2] * 1000.0 / streams);

    close(to_child[1]); /* the clients exit */
    int st;
    waitpid(child, &st, 0);
    kill(getpid(), SIGTERM);
    void *rc;
    pthread_join(th, &rc);
    tandem_service_free(svc);
    free(lat);
    free(cpu);
    free(data);
    return (intptr_t)rc == 0 ? 0 : 1;
}
