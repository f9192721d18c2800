/*
 * What control requests do to a running system: ps, scale, stop, start, restart; and the two
 * gateway steps they share, writing nginx.conf and reloading nginx.
 *
 * The rule that keeps requests flowing: an instance joins nginx's upstream only once it is
 * ready, and leaves it before it is asked to stop. Joining: start, wait for /readyz, re-render,
 * reload (SIGHUP to nginx's master, which starts new workers on the new configuration and lets
 * the old ones finish what they are serving), and wait until every old worker has stopped
 * accepting connections: nginx's master tells them only 100 ms after it started the new ones, and
 * until then a new connection may still land on the old configuration (a 502 "no live upstreams"
 * for a service started from zero). Leaving: re-render without it, reload, wait until the old
 * workers (the only ones that may still send it requests) have exited, then SIGTERM it, which
 * drains what it is still answering. Workers are nginx master's children, found in /proc.
 *
 * Every nginx.conf is first written beside the live one and checked with `nginx -t`; only a
 * configuration nginx accepts replaces var/gateway/nginx.conf and is reloaded. A rejected one
 * (nginx would keep its old workers, and a restart of nginx would then fail on the file) leaves
 * the live file and nginx as they were, and the request fails with nginx's message.
 *
 * Ports never move: instance i of a service listens on port + i, so scaling from 3 to 2 stops
 * instance 2. A scale that would make a service's ports overlap another service's, the
 * broker's or the gateway's is refused before anything changes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/gateway.h"
#include "cli/supervisor.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/mem.h"
#include "tandem/error.h"

/* `nginx -t` on `conf` (relative to the manifest's directory): 0 when nginx accepts it, else
 * TANDEM_EINVAL with nginx's first complaint in err. It parses the file and opens the logs and
 * cache paths it names, but binds nothing, so it runs beside the live nginx. Blocks the loop for
 * as long as nginx parses (tens of ms); killed after SUP_RELOAD_TIMEOUT_MS. */
static int gateway_test(struct sup *s, const char *conf, char *err, size_t err_len)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, err_len, "nginx -t: pipe: %s", strerror(errno));
        return TANDEM_EIO;
    }
    char *argv[] = {s->nginx, "-t",         "-q", "-p", s->m.dir, "-e", "var/gateway/error.log",
                    "-c",     (char *)conf, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0) {
            _exit(127);
        }
        close_range(3, ~0U, 0);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        snprintf(err, err_len, "nginx -t: fork: %s", strerror(errno));
        return TANDEM_EIO;
    }
    char out[2048];
    size_t len = 0;
    int64_t deadline = clock_mono_ms() + SUP_RELOAD_TIMEOUT_MS;
    bool timed_out = false;
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(pfd[0], out + len, sizeof(out) - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (len == sizeof(out) - 1) {
            len = 0; /* keep reading to EOF; only the first lines matter, and they are gone */
        }
    }
    close(pfd[0]);
    out[len] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    const char *line = strstr(out, "[emerg]");
    line = line != NULL ? line : out;
    size_t l = strcspn(line, "\n");
    snprintf(err, err_len, "nginx rejects the new configuration (%s): %.*s",
             timed_out ? "nginx -t timed out" : "nginx -t", (int)l, line);
    return TANDEM_EINVAL;
}

int sup_gateway_write(struct sup *s, char *err, size_t err_len)
{
    struct cli_instances *inst = xcalloc(s->m.n_services, sizeof(*inst));
    int *ports = xcalloc(s->m.n_services * CLI_MAX_INSTANCES, sizeof(int));
    for (size_t i = 0; i < s->m.n_services; i++) {
        int *mine = ports + i * CLI_MAX_INSTANCES;
        size_t n = 0;
        for (int j = 0; j < s->svcs[i].slots; j++) {
            if (s->svcs[i].inst[j].in_upstream) {
                mine[n++] = s->svcs[i].inst[j].port;
            }
        }
        inst[i] = (struct cli_instances){.ports = mine, .n = n};
    }
    char *conf = NULL;
    int rc = cli_gateway_render(&s->m, inst, &conf);
    if (rc == 0) {
        rc = file_write_atomic("var/gateway/nginx.conf.new", "var/gateway/nginx.conf.tmp", conf,
                               strlen(conf));
        if (rc != 0) {
            snprintf(err, err_len, "cannot write var/gateway/nginx.conf.new: %s", strerror(errno));
        }
    } else {
        snprintf(err, err_len, "cannot render nginx.conf: %s", tandem_strerror(rc));
    }
    if (rc == 0) {
        rc = gateway_test(s, "var/gateway/nginx.conf.new", err, err_len);
    }
    if (rc == 0 && rename("var/gateway/nginx.conf.new", "var/gateway/nginx.conf") != 0) {
        snprintf(err, err_len, "cannot replace var/gateway/nginx.conf: %s", strerror(errno));
        rc = TANDEM_EIO;
    }
    if (rc != 0) {
        unlink("var/gateway/nginx.conf.new");
    }
    free(conf);
    free(ports);
    free(inst);
    return rc;
}

/* The pids whose parent is `parent` (nginx's workers, cache manager and loader). */
static int children_of(pid_t parent, pid_t *out, int cap)
{
    DIR *d = opendir("/proc");
    int n = 0;
    if (d == NULL) {
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        if (!isdigit((unsigned char)e->d_name[0])) {
            continue;
        }
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL) {
            continue;
        }
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        char state;
        int ppid;
        if (rp != NULL && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent &&
            state != 'Z') {
            out[n++] = (pid_t)atoi(e->d_name);
        }
    }
    closedir(d);
    return n;
}

static bool contains(const pid_t *set, int n, pid_t pid)
{
    for (int i = 0; i < n; i++) {
        if (set[i] == pid) {
            return true;
        }
    }
    return false;
}

/* Whether `pid` is an nginx worker that still accepts connections: its title is "nginx: worker
 * process" until it is told to stop, when it becomes "nginx: worker process is shutting down" in
 * the same step in which it closes its listening sockets (ngx_worker_process_cycle). */
static bool worker_accepting(pid_t pid)
{
    char path[64], title[96];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false; /* gone */
    }
    ssize_t n = read(fd, title, sizeof(title) - 1);
    close(fd);
    title[n > 0 ? n : 0] = '\0';
    return strncmp(title, "nginx: worker process", 21) == 0 &&
           strstr(title, "shutting down") == NULL;
}

int sup_gateway_reload(struct sup *s, bool wait_old)
{
    pid_t master = s->gateway.pid;
    if (master <= 0 || s->gateway.state == SUP_STOPPING) {
        return 0; /* nginx reads the new file when it starts again */
    }
    pid_t old[64], cur[64];
    int n_old = children_of(master, old, 64);
    if (kill(master, SIGHUP) != 0) {
        return TANDEM_EIO;
    }
    int64_t deadline = clock_mono_ms() + SUP_RELOAD_TIMEOUT_MS;
    while (!s->quit && s->gateway.pid == master && clock_mono_ms() < deadline) {
        int n_cur = children_of(master, cur, 64);
        bool fresh = false, stale = false, accepting = false;
        for (int i = 0; i < n_cur; i++) {
            bool was = contains(old, n_old, cur[i]);
            fresh = fresh || !was;
            stale = stale || was;
            accepting = accepting || (was && worker_accepting(cur[i]));
        }
        if (fresh && (wait_old ? !stale : !accepting)) {
            return 0;
        }
        sup_pump(s, wait_old ? 20 : 5);
    }
    sup_log("nginx reload not complete within %d s (see var/gateway/error.log)",
            SUP_RELOAD_TIMEOUT_MS / 1000);
    return TANDEM_ETIMEDOUT;
}

static void uptime(int64_t ms, char *buf, size_t len)
{
    int64_t sec = ms / 1000;
    if (sec < 60) {
        snprintf(buf, len, "%llds", (long long)sec);
    } else if (sec < 3600) {
        snprintf(buf, len, "%lldm%02llds", (long long)(sec / 60), (long long)(sec % 60));
    } else {
        snprintf(buf, len, "%lldh%02lldm", (long long)(sec / 3600), (long long)(sec / 60 % 60));
    }
}

static void ps_row(int out, const struct sup_proc *p, const char *svc, bool json, int64_t now)
{
    bool ready = p->state == SUP_READY;
    int64_t up = p->pid > 0 ? now - p->started_ms : 0;
    if (json) {
        ctl_say(out, 'o',
                "{\"service\":\"%s\",\"instance\":%d,\"name\":\"%s\",\"state\":\"%s\",\"pid\":%d,"
                "\"port\":%d,\"restarts\":%d,\"uptime_ms\":%lld,\"ready\":%s,"
                "\"in_upstream\":%s}",
                svc, p->idx, p->name, sup_state_name(p->state), (int)p->pid, p->port, p->restarts,
                (long long)up, ready ? "true" : "false", p->in_upstream ? "true" : "false");
        return;
    }
    char pid[16] = "-", t[24] = "-";
    if (p->pid > 0) {
        snprintf(pid, sizeof(pid), "%d", (int)p->pid);
        uptime(up, t, sizeof(t));
    }
    ctl_say(out, 'o', "%-16s %-8d %-10s %-8s %-6d %-8d %-8s %s", svc, p->idx,
            sup_state_name(p->state), pid, p->port, p->restarts, t, ready ? "yes" : "no");
}

void sup_ps(struct sup *s, int out, bool json)
{
    int64_t now = clock_mono_ms();
    if (!json) {
        ctl_say(out, 'o', "%-16s %-8s %-10s %-8s %-6s %-8s %-8s %s", "SERVICE", "INSTANCE", "STATE",
                "PID", "PORT", "RESTARTS", "UPTIME", "READY");
    }
    if (cli_broker_runs(&s->m.broker)) {
        ps_row(out, &s->broker, "broker", json, now);
    }
    for (size_t i = 0; i < s->m.n_services; i++) {
        for (int j = 0; j < s->svcs[i].slots; j++) {
            ps_row(out, &s->svcs[i].inst[j], s->m.services[i].name, json, now);
        }
    }
    ps_row(out, &s->gateway, "gateway", json, now);
}

/* Refuses a count whose ports would overlap another service's, the broker's or the gateway's. */
static int check_ports(struct sup *s, int out, size_t svc, int n)
{
    int lo = s->m.services[svc].port, hi = lo + n - 1;
    if (n > 0 && hi > 65535) {
        ctl_say(out, 'e', "tandem: %s=%d needs ports up to %d (> 65535)", s->m.services[svc].name,
                n, hi);
        return TANDEM_ERANGE;
    }
    for (size_t i = 0; i < s->m.n_services && n > 0; i++) {
        int olo = s->m.services[i].port, ohi = olo + s->svcs[i].n - 1;
        if (i != svc && s->svcs[i].n > 0 && lo <= ohi && olo <= hi) {
            ctl_say(out, 'e', "tandem: %s=%d needs ports %d-%d: they clash with service %s (%d-%d)",
                    s->m.services[svc].name, n, lo, hi, s->m.services[i].name, olo, ohi);
            return TANDEM_EEXIST;
        }
    }
    int fixed[2] = {cli_broker_runs(&s->m.broker) ? s->broker.port : 0, s->gateway.port};
    for (int k = 0; k < 2 && n > 0; k++) {
        if (fixed[k] >= lo && fixed[k] <= hi) {
            ctl_say(out, 'e', "tandem: %s=%d needs ports %d-%d: %d is the %s's",
                    s->m.services[svc].name, n, lo, hi, fixed[k], k == 0 ? "broker" : "gateway");
            return TANDEM_EEXIST;
        }
    }
    return 0;
}

/* Starts instances [from, to) of service i, waits until ready, puts them in the upstream. */
static int start_range(struct sup *s, int out, size_t i, int from, int to)
{
    struct sup_svc *v = &s->svcs[i];
    struct sup_proc *ps[CLI_MAX_INSTANCES];
    int n = 0;
    char err[512];
    if (to > v->slots) {
        v->slots = to;
    }
    for (int j = from; j < to; j++) {
        struct sup_proc *p = &v->inst[j];
        if (sup_proc_alive(p)) {
            continue;
        }
        int restarts = p->restarts;
        sup_proc_init(s, p, SUP_SERVICE, (int)i, j);
        p->restarts = restarts;
        if (sup_proc_port_check(s, p, err, sizeof(err)) != 0) {
            ctl_say(out, 'e', "tandem: cannot start %s: %s", p->name, err);
            sup_stop_all(s, ps, n);
            return TANDEM_EEXIST;
        }
        if (sup_proc_spawn(s, p) != 0) {
            ctl_say(out, 'e', "tandem: cannot start %s", p->name);
            sup_stop_all(s, ps, n);
            return TANDEM_EIO;
        }
        ps[n++] = p;
    }
    int rc = sup_wait_ready(s, ps, n, clock_mono_ms() + SUP_START_TIMEOUT_MS, err, sizeof(err));
    if (rc != 0) {
        ctl_say(out, 'e', "tandem: %s", err);
        sup_stop_all(s, ps, n);
        return rc;
    }
    for (int j = from; j < to; j++) {
        v->inst[j].in_upstream = true;
    }
    rc = sup_gateway_write(s, err, sizeof(err));
    if (rc != 0) {
        /* nginx keeps its current configuration: the new instances cannot join, so they go */
        ctl_say(out, 'e', "tandem: %s", err);
        for (int j = from; j < to; j++) {
            v->inst[j].in_upstream = false;
        }
        sup_stop_all(s, ps, n);
        return rc;
    }
    return sup_gateway_reload(s, false);
}

/* Takes instances [from, to) of service i out of the upstream, then stops them. If nginx
 * rejects the configuration without them, they are still stopped (that was asked for; nginx's
 * passive health then skips them) and the error is told to `out`. */
static int stop_range(struct sup *s, int out, size_t i, int from, int to)
{
    struct sup_svc *v = &s->svcs[i];
    struct sup_proc *ps[CLI_MAX_INSTANCES];
    int n = 0;
    bool listed = false;
    for (int j = from; j < to; j++) {
        listed = listed || v->inst[j].in_upstream;
        v->inst[j].in_upstream = false;
        ps[n++] = &v->inst[j];
    }
    int rc = 0;
    if (listed) {
        char err[512];
        rc = sup_gateway_write(s, err, sizeof(err));
        if (rc == 0) {
            sup_gateway_reload(s, true); /* late: the instances drain what still reaches them */
        } else {
            ctl_say(out, 'e', "tandem: %s", err);
        }
    }
    sup_stop_all(s, ps, n);
    return rc;
}

static int op_scale(struct sup *s, int out, const char *arg, int n)
{
    int i = cli_manifest_find(&s->m, arg);
    if (i < 0) {
        ctl_say(out, 'e', "tandem: scale: no service '%s' in the manifest", arg);
        return 1;
    }
    if (n < 0 || n > CLI_MAX_INSTANCES) {
        ctl_say(out, 'e', "tandem: scale: %s=%d is out of range 0..%d", arg, n, CLI_MAX_INSTANCES);
        return 1;
    }
    if (check_ports(s, out, (size_t)i, (int)n) != 0) {
        return 1;
    }
    struct sup_svc *v = &s->svcs[i];
    int was = v->n;
    v->n = (int)n;
    int rc = 0;
    if (!v->stopped && n > was) {
        rc = start_range(s, out, (size_t)i, was, (int)n);
        if (rc != 0) {
            v->n = was;
            v->slots = was;
            return 1;
        }
    } else if (!v->stopped && n < was) {
        rc = stop_range(s, out, (size_t)i, (int)n, was);
    }
    v->slots = (int)n;
    ctl_say(out, 'o', "%s: %d -> %d instance(s)%s", arg, was, n,
            v->stopped ? " (stopped: they start with `tandem start`)" : "");
    return rc == 0 ? 0 : 1;
}

static int op_restart(struct sup *s, int out, size_t i)
{
    struct sup_svc *v = &s->svcs[i];
    for (int j = 0; j < v->n; j++) {
        struct sup_proc *one = &v->inst[j];
        int rc = 0;
        if (v->n > 1) {
            rc = stop_range(s, out, i, j, j + 1);
        } else {
            sup_stop_all(s, &one, 1);
        }
        if (rc == 0) {
            rc = start_range(s, out, i, j, j + 1);
        }
        if (rc != 0 || s->quit) {
            return 1;
        }
        ctl_say(out, 'o', "%s restarted (pid %d)", one->name, (int)one->pid);
    }
    return 0;
}

int sup_request(struct sup *s, int out, const struct ctl_request *req)
{
    if (req->kind == CTL_SCALE) {
        int code = 0;
        for (size_t k = 0; k < req->n && code == 0 && !s->quit; k++) {
            code = op_scale(s, out, req->name[k], req->count[k]);
        }
        return code;
    }
    bool stop = req->kind == CTL_STOP, start = req->kind == CTL_START;
    const char *cmd = stop ? "stop" : start ? "start" : "restart";
    const char *arg = req->name[0];
    int i = cli_manifest_find(&s->m, arg);
    if (i < 0) {
        ctl_say(out, 'e', "tandem: %s: no service '%s' in the manifest (only services can be %s)",
                cmd, arg,
                stop    ? "stopped"
                : start ? "started"
                        : "restarted");
        return 1;
    }
    struct sup_svc *v = &s->svcs[i];
    if (stop) {
        stop_range(s, out, (size_t)i, 0, v->slots);
        v->stopped = true;
        ctl_say(out, 'o', "%s: stopped", arg);
        return 0;
    }
    if (start) {
        v->stopped = false;
        if (start_range(s, out, (size_t)i, 0, v->n) != 0) {
            return 1;
        }
        ctl_say(out, 'o', "%s: %d instance(s) ready", arg, v->n);
        return 0;
    }
    if (v->stopped) {
        ctl_say(out, 'e', "tandem: restart: %s is stopped (use tandem start)", arg);
        return 1;
    }
    return op_restart(s, out, (size_t)i);
}
