/*
 * system.c: what tandem-ingest reads of the running system.
 *
 *   - The processes and ports: `tandem -f MANIFEST ps --json` (docs/tandem-cli.md), one JSON
 *     object a line: the broker, every instance of every service, the gateway. So the bench needs
 *     no manifest parser, and it runs against whatever `tandem up` started.
 *   - CPU: utime + stime of /proc/PID/stat (proc(5), fields 14 and 15, in clock ticks), of the
 *     fleet's instances, the broker, nginx's master and its workers (/proc/PID/task/PID/children)
 *     and the bench itself (every thread: the simulator, librdkafka's).
 *   - Bytes on the wire: the kernel's own per-socket counters, read through NETLINK_SOCK_DIAG
 *     (inet_diag, the interface of `ss -ti`): for every TCP socket with an end on one of the
 *     system's ports, tcp_info's bytes_sent (payload, retransmissions included) and segs_out
 *     (segments, pure ACKs included). Both ends of a loopback connection are sockets of this
 *     host, so the sum of bytes_sent is every payload byte in both directions: client to gateway,
 *     gateway to fleet, client to broker, broker to the fleet's consumers, and back. A socket
 *     closed between two reads loses its last second; connections here are kept alive, so that is
 *     rare. /proc/net/dev's lo counters are read too, as a cross-check that counts everything on
 *     the machine (other programs' loopback traffic included).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest_io.h"
#include "tandem/error.h"

extern char **environ;

/* ---- tandem ps --json ----------------------------------------------------------------------- */

/* Runs argv with stdout into a pipe (out != NULL: read up to cap - 1 bytes into it) or onto our
 * stderr. Returns the exit code, or -1. */
static int run(char *const argv[], char *out, size_t cap)
{
    int pfd[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out != NULL) {
        if (pipe2(pfd, O_CLOEXEC) != 0) {
            posix_spawn_file_actions_destroy(&fa);
            return -1;
        }
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    } else {
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out != NULL) {
        close(pfd[1]);
    }
    if (rc != 0) {
        if (out != NULL) {
            close(pfd[0]);
        }
        fprintf(stderr, "tandem-ingest: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    size_t n = 0;
    while (out != NULL) {
        ssize_t r = read(pfd[0], out + n, cap - 1 - n);
        if (r > 0) {
            n += (size_t)r;
        }
        if (r == 0 || (r < 0 && errno != EINTR) || n == cap - 1) {
            break;
        }
    }
    if (out != NULL) {
        out[n] = '\0';
        close(pfd[0]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int system_tandem(const struct system *s, const char *const *args)
{
    char *argv[16] = {(char *)s->tandem, "-f", (char *)s->manifest};
    int n = 3;
    for (int i = 0; args[i] != NULL && n < 15; i++) {
        argv[n++] = (char *)args[i];
    }
    argv[n] = NULL;
    return run(argv, NULL, 0);
}

int system_read(struct system *s)
{
    static char out[1 << 16];
    char *argv[] = {s->tandem, "-f", s->manifest, "ps", "--json", NULL};
    int rc = run(argv, out, sizeof(out));
    if (rc != 0) {
        fprintf(stderr,
                "tandem-ingest: `%s -f %s ps --json` failed (exit %d): is the system up "
                "(tandem up)?\n",
                s->tandem, s->manifest, rc);
        return TANDEM_EIO;
    }
    s->gateway = s->broker = 0;
    s->gateway_pid = s->broker_pid = 0;
    s->n_fleet = s->n_activity = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *row = json_loads(line, 0, NULL);
        const char *svc = json_string_value(json_object_get(row, "service"));
        int pid = (int)json_integer_value(json_object_get(row, "pid"));
        int port = (int)json_integer_value(json_object_get(row, "port"));
        int inst = (int)json_integer_value(json_object_get(row, "instance"));
        if (svc == NULL || port <= 0 || port > 65535 || inst < 0 || inst >= MAX_INSTANCES) {
            json_decref(row);
            continue;
        }
        if (strcmp(svc, "broker") == 0) {
            s->broker = (uint16_t)port;
            s->broker_pid = pid;
        } else if (strcmp(svc, "gateway") == 0) {
            s->gateway = (uint16_t)port;
            s->gateway_pid = pid;
        } else if (strcmp(svc, "fleet") == 0) {
            s->fleet_port[inst] = (uint16_t)port;
            s->fleet_pid[inst] = pid;
            s->n_fleet = inst + 1 > s->n_fleet ? inst + 1 : s->n_fleet;
        } else if (strcmp(svc, "activity") == 0) {
            s->activity_port[inst] = (uint16_t)port;
            s->activity_pid[inst] = pid;
            s->n_activity = inst + 1 > s->n_activity ? inst + 1 : s->n_activity;
        }
        json_decref(row);
    }
    return 0;
}

/* ---- CPU ------------------------------------------------------------------------------------ */

double proc_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    if (p == NULL) {
        return -1;
    }
    /* after ") ": state(3) ppid(4) ... utime(14) stime(15) */
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2) {
        return -1;
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

int proc_children(int pid, int *out, int cap)
{
    char path[96], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    int k = 0;
    for (char *t = strtok(buf, " \n"); t != NULL && k < cap; t = strtok(NULL, " \n")) {
        out[k++] = atoi(t);
    }
    return k;
}

/* ---- loopback ------------------------------------------------------------------------------- */

int lo_counters(double *bytes, double *packets)
{
    FILE *f = fopen("/proc/net/dev", "re");
    if (f == NULL) {
        return TANDEM_EIO;
    }
    char line[512];
    int rc = TANDEM_ENOENT;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line;
        while (*p == ' ') {
            p++;
        }
        unsigned long long b, pk;
        if (strncmp(p, "lo:", 3) == 0 && sscanf(p + 3, "%llu %llu", &b, &pk) == 2) {
            *bytes = (double)b;
            *packets = (double)pk;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* ---- the wire: inet_diag -------------------------------------------------------------------- */

struct sock_count {
    uint64_t cookie; /* 0: empty slot */
    uint64_t bytes, segs;
};

struct wire_meter {
    int fd;
    uint16_t ports[4 * MAX_INSTANCES];
    int nports;
    struct sock_count *tab, *next; /* open addressing on the socket cookie */
    size_t cap, next_n;
};

int wire_meter_new(struct wire_meter **out)
{
    struct wire_meter *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return TANDEM_ENOMEM;
    }
    w->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    w->cap = 4096;
    w->tab = calloc(w->cap, sizeof(*w->tab));
    w->next = calloc(w->cap, sizeof(*w->next));
    if (w->fd < 0 || w->tab == NULL || w->next == NULL) {
        wire_meter_free(w);
        return TANDEM_EIO;
    }
    *out = w;
    return 0;
}

void wire_meter_free(struct wire_meter *w)
{
    if (w != NULL) {
        if (w->fd >= 0) {
            close(w->fd);
        }
        free(w->tab);
        free(w->next);
        free(w);
    }
}

void wire_meter_ports(struct wire_meter *w, const uint16_t *ports, int n)
{
    w->nports = 0;
    for (int i = 0; i < n && w->nports < (int)(sizeof(w->ports) / sizeof(w->ports[0])); i++) {
        if (ports[i] != 0) {
            w->ports[w->nports++] = ports[i];
        }
    }
}

static bool counted_port(const struct wire_meter *w, uint16_t p)
{
    for (int i = 0; i < w->nports; i++) {
        if (w->ports[i] == p) {
            return true;
        }
    }
    return false;
}

static struct sock_count *slot(struct sock_count *tab, size_t cap, uint64_t cookie)
{
    size_t i = (size_t)(cookie * 0x9e3779b97f4a7c15ull) & (cap - 1);
    while (tab[i].cookie != 0 && tab[i].cookie != cookie) {
        i = (i + 1) & (cap - 1);
    }
    return &tab[i];
}

/* One socket of the dump: counted into next, its delta added. */
static void wire_sock(struct wire_meter *w, const struct inet_diag_msg *m, size_t len,
                      double *bytes, double *segs)
{
    if (!counted_port(w, ntohs(m->id.idiag_sport)) && !counted_port(w, ntohs(m->id.idiag_dport))) {
        return;
    }
    const void *ti_data = NULL; /* netlink attributes are 4-byte aligned: tcp_info's 64-bit
                                   counters are read through a copy, never in place */
    size_t ti_len = 0;
    size_t off = NLMSG_ALIGN(sizeof(*m));
    while (off + sizeof(struct rtattr) <= len) {
        const struct rtattr *a = (const struct rtattr *)((const char *)m + off);
        if (a->rta_len < sizeof(*a) || off + a->rta_len > len) {
            break;
        }
        if (a->rta_type == INET_DIAG_INFO) {
            ti_data = RTA_DATA(a);
            ti_len = RTA_PAYLOAD(a);
        }
        off += RTA_ALIGN(a->rta_len);
    }
    if (ti_data == NULL || ti_len < offsetof(struct tcp_info, tcpi_bytes_sent) + 8) {
        return; /* a time-wait socket, or a kernel before 4.19 */
    }
    struct tcp_info info = {0};
    memcpy(&info, ti_data, ti_len < sizeof(info) ? ti_len : sizeof(info));
    const struct tcp_info *ti = &info;
    uint64_t cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
    if (cookie == 0 || w->next_n * 2 >= w->cap) {
        return; /* the table is full: grown at the end of this read */
    }
    struct sock_count *now = slot(w->next, w->cap, cookie);
    if (now->cookie == 0) {
        w->next_n++;
    }
    now->cookie = cookie;
    now->bytes = ti->tcpi_bytes_sent;
    now->segs = ti->tcpi_segs_out;
    const struct sock_count *was = slot(w->tab, w->cap, cookie);
    *bytes += (double)(now->bytes - (was->cookie != 0 ? was->bytes : 0));
    *segs += (double)(now->segs - (was->cookie != 0 ? was->segs : 0));
}

int wire_meter_read(struct wire_meter *w, double *bytes, double *segs)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req = {
        .nlh = {.nlmsg_len = sizeof(req),
                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .r = {.sdiag_family = AF_INET,
              .sdiag_protocol = IPPROTO_TCP,
              .idiag_ext = 1 << (INET_DIAG_INFO - 1),
              .idiag_states = ~0u},
    };
    if (send(w->fd, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
        return TANDEM_EIO;
    }
    memset(w->next, 0, w->cap * sizeof(*w->next));
    w->next_n = 0;
    static char buf[1 << 16];
    bool done = false;
    while (!done) {
        ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return TANDEM_EIO;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            wire_sock(w, NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN, bytes, segs);
        }
    }
    struct sock_count *t = w->tab;
    w->tab = w->next;
    w->next = t;
    if (w->next_n * 2 >= w->cap) { /* grow for the next read (this one missed some sockets) */
        size_t cap = w->cap * 4;
        struct sock_count *a = calloc(cap, sizeof(*a)), *b = calloc(cap, sizeof(*b));
        if (a != NULL && b != NULL) {
            for (size_t i = 0; i < w->cap; i++) {
                if (w->tab[i].cookie != 0) {
                    *slot(a, cap, w->tab[i].cookie) = w->tab[i];
                }
            }
            free(w->tab);
            free(w->next);
            w->tab = a;
            w->next = b;
            w->cap = cap;
        } else {
            free(a);
            free(b);
        }
    }
    return 0;
}
