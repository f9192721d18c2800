/*
 * One supervised process: spawning it, probing its readiness, reacting to its exit.
 *
 * Spawning forks once; the child is made a process-group leader (by both sides of the fork, so
 * a signal to the group right after the fork cannot miss; a signal to the group reaches a
 * service's own children too, and the terminal's Ctrl-C reaches only the supervisor), asks for
 * SIGTERM when the supervisor dies (and exits at once if the supervisor died before that was
 * armed), resets every signal disposition and unblocks the signals the supervisor keeps for its
 * signalfd, points stdin at /dev/null and stdout+stderr at var/tandem/logs/NAME.log (appended,
 * so a restarted instance continues its file), closes every other descriptor, sets the TANDEM_*
 * environment (TANDEM_LISTEN, the service's shared TANDEM_DATA_DIR, TANDEM_INSTANCE and its
 * TANDEM_INSTANCE_DIR, TANDEM_BROKERS, the jwt: keys: data.c, jwt.c; for a service with
 * `control: true` the control socket and the console key's file: console.c) and the manifest's env
 * (which cannot name those) and execs. An exec that fails exits 127, which the supervisor sees as
 * a crash like any other.
 *
 * Readiness is probed every 20 ms while starting, every 5 s once ready, by probe.c: a TCP
 * connect for the broker and nginx, `GET /readyz` answered 200 for services, on 127.0.0.1 (or
 * the listen address when it is a literal), non-blocking inside the loop's poll.
 *
 * The exit of a process the supervisor still wants is a crash: it is counted, and restarted
 * after a backoff (100 ms doubling to 5 s, back to 100 ms once it stayed ready 30 s) unless it
 * crashed SUP_CRASH_LIMIT times within SUP_CRASH_WINDOW_MS: then it is FAILED and left down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/supervisor.h"
#include "common/clock.h"
#include "tandem/error.h"

static const char *const STATE_NAMES[] = {
    [SUP_STOPPED] = "stopped", [SUP_STARTING] = "starting", [SUP_READY] = "ready",
    [SUP_RUNNING] = "running", [SUP_STOPPING] = "stopping", [SUP_RESTARTING] = "restarting",
    [SUP_FAILED] = "failed",
};

const char *sup_state_name(enum sup_state st)
{
    return STATE_NAMES[st];
}

bool sup_proc_alive(const struct sup_proc *p)
{
    return p->pid > 0;
}

/* The address to probe for a listen host: the host itself when it is an IPv4 literal other
 * than 0.0.0.0, else 127.0.0.1. */
static void probe_host(char *out, size_t len, const char *host)
{
    struct in_addr a;
    if (host != NULL && inet_pton(AF_INET, host, &a) == 1 && a.s_addr != htonl(INADDR_ANY)) {
        snprintf(out, len, "%s", host);
    } else {
        snprintf(out, len, "127.0.0.1");
    }
}

void sup_proc_init(struct sup *s, struct sup_proc *p, enum sup_kind kind, int svc, int idx)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->svc = svc;
    p->idx = idx;
    p->backoff_ms = SUP_BACKOFF_MIN_MS;
    p->probe_fd = -1;
    switch (kind) {
    case SUP_BROKER:
        snprintf(p->name, sizeof(p->name), "broker");
        p->port = s->m.broker.listen.port;
        probe_host(p->host, sizeof(p->host), s->m.broker.listen.host);
        break;
    case SUP_GATEWAY:
        snprintf(p->name, sizeof(p->name), "gateway");
        p->port = s->m.gateway.listen.port;
        probe_host(p->host, sizeof(p->host), s->m.gateway.listen.host);
        break;
    case SUP_SERVICE:
        snprintf(p->name, sizeof(p->name), "%s.%d", s->m.services[svc].name, idx);
        p->port = s->m.services[svc].port + idx;
        probe_host(p->host, sizeof(p->host), NULL);
        break;
    }
}

/* The kernel's ephemeral port range (net.ipv4.ip_local_port_range): connect() takes its local
 * ports there. False when it cannot be read. */
static bool ephemeral_range(int *lo, int *hi)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    if (f == NULL) {
        return false;
    }
    bool ok = fscanf(f, "%d %d", lo, hi) == 2;
    fclose(f);
    return ok;
}

int sup_proc_port_check(struct sup *s, const struct sup_proc *p, char *err, size_t err_len)
{
    const char *host = p->kind == SUP_BROKER    ? s->m.broker.listen.host
                       : p->kind == SUP_GATEWAY ? s->m.gateway.listen.host
                                                : "127.0.0.1";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    if (host == NULL || inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        inet_pton(AF_INET, "127.0.0.1",
                  &a.sin_addr); /* a name: nginx resolves it, e.g. localhost */
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0; /* cannot tell: the process itself will say */
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == EADDRINUSE) {
        char addr[INET_ADDRSTRLEN], why[160] = "";
        inet_ntop(AF_INET, &a.sin_addr, addr, sizeof(addr));
        int lo, hi;
        if (ephemeral_range(&lo, &hi) && p->port >= lo && p->port <= hi) {
            snprintf(why, sizeof(why),
                     "; it is in the kernel's ephemeral range %d-%d, so an outgoing connection "
                     "(or its TIME_WAIT, for a minute) may hold it: use ports below %d",
                     lo, hi, lo);
        }
        snprintf(err, err_len,
                 "port %d (%s) is already in use by another process on %s "
                 "(see: ss -tanp 'sport = :%d'%s)",
                 p->port, p->name, addr, p->port, why);
        rc = TANDEM_EEXIST;
    }
    close(fd);
    return rc;
}

int sup_mkdirs(const char *path, bool set_mode)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        return TANDEM_EINVAL;
    }
    for (char *c = buf + 1; *c != '\0'; c++) {
        if (*c == '/') {
            *c = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                return TANDEM_EIO;
            }
            *c = '/';
        }
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        return TANDEM_EIO;
    }
    return set_mode && chmod(buf, 0700) != 0 ? TANDEM_EIO : 0; /* one an older run made 0755 */
}

/* In the child: never returns. `parent` is the supervisor's pid. */
static void child_exec(struct sup *s, struct sup_proc *p, char **argv, pid_t parent)
{
    char path[256];
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(127); /* the supervisor died before PDEATHSIG was armed: nobody would stop us */
    }
    /* Dispositions: SIG_IGN survives exec, and the caller of `tandem up` may have left some
     * (a shell ignores SIGINT and SIGQUIT in background jobs; SIGPIPE is ignored here). */
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    snprintf(path, sizeof(path), "var/tandem/logs/%s.log", p->name);
    int log = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0 || fchmod(log, 0600) != 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 ||
        dup2(log, 2) < 0) {
        _exit(127); /* fchmod: a log an older tandem created 0644 */
    }
    close_range(3, ~0U, 0); /* whatever the caller of `tandem up` leaked to us */
    if (p->kind == SUP_GATEWAY) {
        setenv("TZ", "UTC0", 1); /* the access log's times in UTC, as the services' (gateway.c) */
    }
    /* The keys come from the jwt: section only, never from the caller's environment: a private
     * key exported in the shell that ran `tandem up` reaches no process but the signers. */
    unsetenv("TANDEM_JWT_PUBLIC_KEY");
    unsetenv("TANDEM_JWT_PRIVATE_KEY");
    unsetenv("TANDEM_CONTROL_SOCKET"); /* likewise: only a service with control: true */
    unsetenv("TANDEM_CONSOLE_SECRET_FILE");
    if (p->kind == SUP_SERVICE) {
        const struct cli_service *svc = &s->m.services[p->svc];
        char v[256];
        snprintf(v, sizeof(v), "127.0.0.1:%d", p->port);
        setenv("TANDEM_LISTEN", v, 1);
        sup_data_dir(s, p->svc, -1, v, sizeof(v));
        setenv("TANDEM_DATA_DIR", v, 1);
        sup_data_dir(s, p->svc, p->idx, v, sizeof(v));
        setenv("TANDEM_INSTANCE_DIR", v, 1);
        snprintf(v, sizeof(v), "%d", p->idx);
        setenv("TANDEM_INSTANCE", v, 1);
        if (s->m.jwt.present) {
            setenv("TANDEM_JWT_PUBLIC_KEY", s->m.jwt.public_key, 1);
        }
        if (s->m.jwt.present && svc->jwt_sign) {
            setenv("TANDEM_JWT_PRIVATE_KEY", s->m.jwt.private_key, 1);
        }
        if (s->brokers[0] != '\0') {
            setenv("TANDEM_BROKERS", s->brokers, 1);
        }
        if (svc->control) {
            char abs[1200];
            snprintf(abs, sizeof(abs), "%s/%s", s->m.dir, SUP_CTL_PATH);
            setenv("TANDEM_CONTROL_SOCKET", abs, 1);
            snprintf(abs, sizeof(abs), "%s/%s", s->m.dir, sup_console_key_path());
            setenv("TANDEM_CONSOLE_SECRET_FILE", abs, 1);
        }
        for (size_t i = 0; i < svc->n_env; i++) {
            setenv(svc->env[i].name, svc->env[i].value, 1);
        }
    }
    execv(argv[0], argv);
    dprintf(2, "tandem: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* argv for the proc; the strings are borrowed from the manifest or `bufs`. */
static int build_argv(struct sup *s, struct sup_proc *p, char **argv, size_t cap,
                      char bufs[2][1100])
{
    size_t n = 0;
    char *const *extra = NULL;
    size_t n_extra = 0;
    if (p->kind == SUP_SERVICE) {
        const struct cli_service *svc = &s->m.services[p->svc];
        argv[n++] = svc->binary;
        extra = svc->args;
        n_extra = svc->n_args;
    } else if (p->kind == SUP_BROKER) {
        const struct cli_broker *b = &s->m.broker;
        snprintf(bufs[0], 1100, "%s:%d", b->listen.host, b->listen.port);
        argv[n++] = b->binary;
        argv[n++] = "--listen";
        argv[n++] = bufs[0];
        argv[n++] = "--data-dir";
        argv[n++] = b->data_dir;
        extra = b->args;
        n_extra = b->n_args;
    } else {
        snprintf(bufs[0], 1100, "%s", s->m.dir);
        argv[n++] = s->nginx;
        argv[n++] = "-p";
        argv[n++] = bufs[0];
        argv[n++] = "-e";
        argv[n++] = "var/gateway/error.log";
        argv[n++] = "-c";
        argv[n++] = "var/gateway/nginx.conf";
    }
    if (n + n_extra + 1 > cap) {
        return TANDEM_ETOOLARGE;
    }
    for (size_t i = 0; i < n_extra; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return 0;
}

int sup_proc_spawn(struct sup *s, struct sup_proc *p)
{
    char *argv[80];
    char bufs[2][1100];
    int rc = build_argv(s, p, argv, sizeof(argv) / sizeof(argv[0]), bufs);
    if (rc != 0) {
        return rc;
    }
    if (p->kind == SUP_SERVICE) {
        char dir[2][256]; /* the shared data directory, then the instance's inside it */
        sup_data_dir(s, p->svc, -1, dir[0], sizeof(dir[0]));
        sup_data_dir(s, p->svc, p->idx, dir[1], sizeof(dir[1]));
        for (int i = 0; i < 2; i++) {
            if (sup_mkdirs(dir[i], true) != 0) {
                sup_log("%s: cannot create %s: %s", p->name, dir[i], strerror(errno));
                return TANDEM_EIO;
            }
        }
    } else if (p->kind == SUP_BROKER && sup_mkdirs(s->m.broker.data_dir, true) != 0) {
        sup_log("broker: cannot create %s: %s", s->m.broker.data_dir, strerror(errno));
        return TANDEM_EIO;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        return TANDEM_EIO;
    }
    if (pid == 0) {
        child_exec(s, p, argv, parent);
    }
    setpgid(pid, pid); /* also here, so a signal to the group right away cannot miss it */
    int64_t now = clock_mono_ms();
    p->pid = pid;
    p->want = true;
    p->killed = false;
    p->state = SUP_STARTING;
    p->started_ms = now;
    p->ready_ms = 0;
    p->deadline_ms = now + SUP_START_TIMEOUT_MS;
    p->next_probe_ms = now + SUP_PROBE_FAST_MS / 2;
    return 0;
}

/* Signals: nginx's master gets SIGQUIT (graceful) itself; others SIGTERM to the group. */
static void proc_signal(struct sup_proc *p, int sig)
{
    if (p->pid <= 0) {
        return;
    }
    if (p->kind == SUP_GATEWAY && sig != SIGKILL) {
        kill(p->pid, sig);
    } else if (kill(-p->pid, sig) != 0) {
        kill(p->pid, sig);
    }
}

void sup_proc_stop(struct sup_proc *p)
{
    p->want = false;
    if (p->pid <= 0) {
        p->state = SUP_STOPPED; /* also ends RESTARTING and FAILED */
        return;
    }
    if (p->state == SUP_STOPPING) {
        return;
    }
    sup_probe_cancel(p);
    proc_signal(p, p->kind == SUP_GATEWAY ? SIGQUIT : SIGTERM);
    p->state = SUP_STOPPING;
    p->deadline_ms = clock_mono_ms() + SUP_STOP_TIMEOUT_MS;
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status)) {
        snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, len, "signal %d", WTERMSIG(status));
    } else {
        snprintf(buf, len, "status %d", status);
    }
}

static void proc_crashed(struct sup_proc *p, int64_t now)
{
    char why[48];
    describe_status(p->last_status, why, sizeof(why));
    p->crashes[p->n_crashes % SUP_CRASH_LIMIT] = now;
    p->n_crashes++;
    if (p->ready_ms != 0 && now - p->ready_ms >= SUP_CRASH_WINDOW_MS) {
        p->backoff_ms = SUP_BACKOFF_MIN_MS; /* it had been fine for a while */
    }
    int64_t oldest = p->crashes[p->n_crashes % SUP_CRASH_LIMIT];
    if (p->n_crashes >= SUP_CRASH_LIMIT && now - oldest <= SUP_CRASH_WINDOW_MS) {
        p->state = SUP_FAILED;
        p->want = false;
        sup_log("%s exited (%s): failed, %d crashes within %d s; left down", p->name, why,
                SUP_CRASH_LIMIT, SUP_CRASH_WINDOW_MS / 1000);
        return;
    }
    p->state = SUP_RESTARTING;
    p->restart_at_ms = now + p->backoff_ms;
    sup_log("%s exited (%s): restart %d in %d ms", p->name, why, p->restarts + 1, p->backoff_ms);
    p->backoff_ms = p->backoff_ms * 2 > SUP_BACKOFF_MAX_MS ? SUP_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

struct sup_proc *sup_proc_find(struct sup *s, pid_t pid)
{
    if (s->broker.pid == pid) {
        return &s->broker;
    }
    if (s->gateway.pid == pid) {
        return &s->gateway;
    }
    for (size_t i = 0; i < s->m.n_services; i++) {
        for (int j = 0; j < s->svcs[i].slots; j++) {
            if (s->svcs[i].inst[j].pid == pid) {
                return &s->svcs[i].inst[j];
            }
        }
    }
    return NULL;
}

void sup_proc_reaped(struct sup *s, pid_t pid, int status)
{
    struct sup_proc *p = sup_proc_find(s, pid);
    if (p == NULL) {
        return;
    }
    sup_probe_cancel(p);
    p->pid = 0;
    p->last_status = status;
    if (!p->want || p->state == SUP_STOPPING) {
        p->state = SUP_STOPPED;
        return;
    }
    proc_crashed(p, clock_mono_ms());
}

void sup_proc_probed(struct sup_proc *p, bool ok, int64_t now)
{
    if (p->state == SUP_STARTING && !p->killed) {
        if (!ok) {
            p->next_probe_ms = now + SUP_PROBE_FAST_MS;
            return;
        }
        p->state = SUP_READY;
        p->ready_ms = now;
        p->next_probe_ms = now + SUP_PROBE_SLOW_MS;
        if (p->restarted) {
            p->restarted = false;
            sup_log("%s ready again (pid %d, restart %d)", p->name, (int)p->pid, p->restarts);
        }
    } else if (p->state == SUP_READY || p->state == SUP_RUNNING) {
        p->state = ok ? SUP_READY : SUP_RUNNING;
        p->next_probe_ms = now + SUP_PROBE_SLOW_MS;
    }
}

static void next_at(int64_t *next, int64_t t)
{
    if (t < *next) {
        *next = t;
    }
}

void sup_proc_tick(struct sup *s, struct sup_proc *p, int64_t now, int64_t *next)
{
    switch (p->state) {
    case SUP_RESTARTING:
        if (now >= p->restart_at_ms) {
            p->restarts++;
            p->restarted = true;
            if (sup_proc_spawn(s, p) != 0) {
                p->last_status = 127 << 8;
                proc_crashed(p, now);
            }
            next_at(next, now + SUP_PROBE_FAST_MS);
        } else {
            next_at(next, p->restart_at_ms);
        }
        return;
    case SUP_STARTING:
        if (p->killed) {
            return; /* waiting for the exit of a start that timed out */
        }
        if (now >= p->deadline_ms) {
            sup_log("%s not ready within %d s: killed", p->name, SUP_START_TIMEOUT_MS / 1000);
            sup_probe_cancel(p);
            proc_signal(p, SIGKILL);
            p->killed = true;
            return;
        }
        /* fall through: probing is the same once ready */
    case SUP_READY:
    case SUP_RUNNING:
        sup_probe_timeout(p, now);
        if (p->probe_fd < 0 && now >= p->next_probe_ms) {
            sup_probe_start(p, now);
        }
        next_at(next, p->probe_fd >= 0 ? p->probe_deadline_ms : p->next_probe_ms);
        return;
    case SUP_STOPPING:
        if (now >= p->deadline_ms && !p->killed) {
            sup_log("%s still running %d s after the stop signal: SIGKILL", p->name,
                    SUP_STOP_TIMEOUT_MS / 1000);
            proc_signal(p, SIGKILL);
            p->killed = true;
        }
        if (!p->killed) {
            next_at(next, p->deadline_ms);
        }
        return;
    case SUP_STOPPED:
    case SUP_FAILED:
        return;
    }
}
