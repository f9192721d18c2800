/*
 * `tandem up`: start a manifest's processes in order, then supervise them until asked to stop.
 *
 * Before anything starts, every port the manifest needs is checked to be bindable, so a port
 * held by another process is one clear error rather than a crash loop or a stranger's answer to
 * a probe. The order is the manifest's dependencies: the broker (ready = its port accepts),
 * then each service in dependency order (every instance ready = GET /readyz 200, all instances
 * of a service at once), then nginx with a freshly written and `nginx -t`-checked
 * var/gateway/nginx.conf (ready = the gateway port accepts). Any process that does not get ready
 * within SUP_START_TIMEOUT_MS, or crash-loops into FAILED while starting, fails `up`: everything
 * already started is stopped and the exit code is 1. Stopping runs the same order backwards: nginx
 * (SIGQUIT, graceful), the services in reverse dependency order (SIGTERM: they drain), the broker
 * (SIGTERM).
 *
 * With --detach the command forks first; the child (a new session) does all of the above and
 * tells the parent through a pipe whether `up` succeeded, after pointing its own stdout and
 * stderr at var/tandem/supervisor.log, so the parent exits 0 or 1 only when the outcome is
 * known and a caller's pipe does not stay open.
 *
 * One supervisor per manifest directory: var/tandem/lock is held with flock() for the
 * supervisor's whole life (the lock dies with the process, so a crashed supervisor never leaves
 * a stale lock). Everything is relative to the manifest's directory: the supervisor chdir()s
 * there first, and so do its children.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/supervisor.h"
#include "common/clock.h"
#include "common/mem.h"
#include "tandem/error.h"

void sup_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    fprintf(stderr, "%02d:%02d:%02d tandem: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, line);
}

static void tick_all(struct sup *s, int64_t now, int64_t *next)
{
    sup_proc_tick(s, &s->broker, now, next);
    for (size_t i = 0; i < s->m.n_services; i++) {
        for (int j = 0; j < s->svcs[i].slots; j++) {
            sup_proc_tick(s, &s->svcs[i].inst[j], now, next);
        }
    }
    sup_proc_tick(s, &s->gateway, now, next);
}

/* Reaps every exited child. Whatever one of ours left in its process group (a service's own
 * children, nginx's workers) is killed first, while the unreaped zombie still pins its pid, so
 * the group id cannot have been reused by an unrelated process. */
static void reap_all(struct sup *s)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) {
            return;
        }
        pid_t pid = si.si_pid;
        if (sup_proc_find(s, pid) != NULL) {
            kill(-pid, SIGKILL);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            return;
        }
        sup_proc_reaped(s, pid, status);
    }
}

void sup_pump(struct sup *s, int timeout_ms)
{
    int64_t now = clock_mono_ms();
    int64_t next = now + timeout_ms;
    tick_all(s, now, &next);
    size_t cap = 2 + SUP_MAX_CLIENTS + 2 + s->m.n_services * CLI_MAX_INSTANCES;
    struct pollfd *pf = xcalloc(cap, sizeof(*pf));
    int *slot = xcalloc(cap, sizeof(*slot));
    struct sup_proc **probing = xcalloc(cap, sizeof(*probing));
    int n = 0;
    pf[n++] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
    if (s->lsock >= 0) {
        pf[n++] = (struct pollfd){.fd = s->lsock, .events = POLLIN};
    }
    int first_client = n;
    for (int i = 0; i < SUP_MAX_CLIENTS; i++) {
        if (s->clients[i].fd >= 0 && !s->clients[i].queued && !s->clients[i].down) {
            slot[n] = i;
            pf[n++] = (struct pollfd){.fd = s->clients[i].fd, .events = POLLIN};
        }
    }
    int first_probe = n;
    struct sup_proc *all[2] = {&s->broker, &s->gateway};
    for (int k = 0; k < 2; k++) {
        if (all[k]->probe_fd >= 0) {
            probing[n] = all[k];
            pf[n++] = (struct pollfd){.fd = all[k]->probe_fd, .events = sup_probe_events(all[k])};
        }
    }
    for (size_t i = 0; i < s->m.n_services; i++) {
        for (int j = 0; j < s->svcs[i].slots; j++) {
            struct sup_proc *p = &s->svcs[i].inst[j];
            if (p->probe_fd >= 0) {
                probing[n] = p;
                pf[n++] = (struct pollfd){.fd = p->probe_fd, .events = sup_probe_events(p)};
            }
        }
    }
    int64_t wait = next - clock_mono_ms();
    int r = poll(pf, (nfds_t)n, wait < 0 ? 0 : (int)wait);
    if (r > 0 && (pf[0].revents & POLLIN)) {
        struct signalfd_siginfo si;
        while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo != SIGCHLD && !s->quit) {
                sup_log("%s: stopping everything", strsignal((int)si.ssi_signo));
                s->quit = true;
            }
        }
    }
    reap_all(s); /* may cancel probes: checked below by fd */
    if (r > 0) {
        now = clock_mono_ms();
        for (int i = first_probe; i < n; i++) {
            if (pf[i].revents != 0 && probing[i]->probe_fd == pf[i].fd) {
                sup_probe_io(probing[i], pf[i].revents, now);
            }
        }
        if (s->lsock >= 0 && (pf[1].revents & POLLIN)) {
            ctl_accept(s);
        }
        for (int i = first_client; i < first_probe; i++) {
            if (pf[i].revents != 0) {
                ctl_client_input(s, slot[i]);
            }
        }
    }
    free(probing);
    free(slot);
    free(pf);
}

int sup_wait_ready(struct sup *s, struct sup_proc **ps, int n, int64_t deadline, char *err,
                   size_t err_len)
{
    for (;;) {
        int ready = 0;
        for (int i = 0; i < n; i++) {
            struct sup_proc *p = ps[i];
            if (p->state == SUP_FAILED || p->state == SUP_STOPPED) {
                snprintf(err, err_len, "%s %s (see var/tandem/logs/%s.log)", p->name,
                         p->state == SUP_FAILED ? "keeps crashing: failed" : "stopped", p->name);
                return TANDEM_EIO;
            }
            ready += p->state == SUP_READY || p->state == SUP_RUNNING;
        }
        if (ready == n) {
            return 0;
        }
        if (s->quit) {
            snprintf(err, err_len, "interrupted: tandem is stopping");
            return TANDEM_ECLOSED;
        }
        if (clock_mono_ms() >= deadline) {
            for (int i = 0; i < n; i++) {
                if (ps[i]->state != SUP_READY && ps[i]->state != SUP_RUNNING) {
                    snprintf(err, err_len, "%s not ready within %d s (see var/tandem/logs/%s.log)",
                             ps[i]->name, SUP_START_TIMEOUT_MS / 1000, ps[i]->name);
                    break;
                }
            }
            return TANDEM_ETIMEDOUT;
        }
        sup_pump(s, 50);
    }
}

void sup_stop_all(struct sup *s, struct sup_proc **ps, int n)
{
    for (int i = 0; i < n; i++) {
        sup_proc_stop(ps[i]);
    }
    int64_t give_up = clock_mono_ms() + SUP_STOP_TIMEOUT_MS + 5000;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++) {
            alive += sup_proc_alive(ps[i]);
        }
        if (alive == 0) {
            return;
        }
        if (clock_mono_ms() >= give_up) {
            sup_log("%d process(es) did not exit even after SIGKILL", alive);
            return;
        }
        sup_pump(s, 100);
    }
}

/* Every instance slot of service i, as a pointer list (n at most CLI_MAX_INSTANCES). */
static int svc_procs(struct sup *s, size_t i, struct sup_proc **ps)
{
    int n = 0;
    for (int j = 0; j < s->svcs[i].slots; j++) {
        ps[n++] = &s->svcs[i].inst[j];
    }
    return n;
}

/* Reverse order: the gateway, the services from the last started back, the broker. */
static void shutdown_all(struct sup *s)
{
    struct sup_proc *ps[CLI_MAX_INSTANCES];
    ps[0] = &s->gateway;
    sup_stop_all(s, ps, 1);
    for (size_t k = s->m.n_services; k-- > 0;) {
        sup_stop_all(s, ps, svc_procs(s, (size_t)s->order[k], ps));
    }
    ps[0] = &s->broker;
    sup_stop_all(s, ps, 1);
}

/* Every port the manifest needs, checked before anything starts. */
static int check_all_ports(struct sup *s, char *err, size_t err_len)
{
    if (cli_broker_runs(&s->m.broker) && sup_proc_port_check(s, &s->broker, err, err_len) != 0) {
        return TANDEM_EEXIST;
    }
    for (size_t i = 0; i < s->m.n_services; i++) {
        for (int j = 0; j < s->svcs[i].slots; j++) {
            if (sup_proc_port_check(s, &s->svcs[i].inst[j], err, err_len) != 0) {
                return TANDEM_EEXIST;
            }
        }
    }
    return sup_proc_port_check(s, &s->gateway, err, err_len);
}

static int start_all(struct sup *s, char *err, size_t err_len)
{
    struct sup_proc *ps[CLI_MAX_INSTANCES];
    int rc = check_all_ports(s, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (s->m.broker.external != NULL) {
        rc = sup_topics_ensure(&s->m.broker, SUP_START_TIMEOUT_MS, err, err_len);
        if (rc != 0) {
            return rc;
        }
    }
    if (cli_broker_runs(&s->m.broker)) {
        ps[0] = &s->broker;
        if (sup_proc_spawn(s, &s->broker) != 0) {
            snprintf(err, err_len, "cannot start the broker");
            return TANDEM_EIO;
        }
        rc = sup_wait_ready(s, ps, 1, clock_mono_ms() + SUP_START_TIMEOUT_MS, err, err_len);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t k = 0; k < s->m.n_services; k++) {
        size_t i = (size_t)s->order[k];
        int n = svc_procs(s, i, ps);
        for (int j = 0; j < n; j++) {
            if (sup_proc_spawn(s, ps[j]) != 0) {
                snprintf(err, err_len, "cannot start %s", ps[j]->name);
                return TANDEM_EIO;
            }
        }
        rc = sup_wait_ready(s, ps, n, clock_mono_ms() + SUP_START_TIMEOUT_MS, err, err_len);
        if (rc != 0) {
            return rc;
        }
        for (int j = 0; j < n; j++) {
            ps[j]->in_upstream = true;
        }
    }
    sup_perms_gateway(s);
    rc = sup_gateway_write(s, err, err_len);
    if (rc != 0) {
        return rc;
    }
    ps[0] = &s->gateway;
    if (sup_proc_spawn(s, &s->gateway) != 0) {
        snprintf(err, err_len, "cannot start nginx");
        return TANDEM_EIO;
    }
    return sup_wait_ready(s, ps, 1, clock_mono_ms() + SUP_START_TIMEOUT_MS, err, err_len);
}

/* Depth-first topological order of the services (the manifest has no cycle). */
static void order_visit(struct sup *s, size_t i, bool *seen, int *n)
{
    if (seen[i]) {
        return;
    }
    seen[i] = true;
    const struct cli_service *svc = &s->m.services[i];
    for (size_t d = 0; d < svc->n_depends_on; d++) {
        int j = cli_manifest_find(&s->m, svc->depends_on[d]);
        if (j >= 0) {
            order_visit(s, (size_t)j, seen, n);
        }
    }
    s->order[(*n)++] = (int)i;
}

/* The nginx binary: PATH, then /usr/sbin (not in a normal user's PATH on Debian). */
static int find_nginx(struct sup *s)
{
    const char *path = getenv("PATH");
    char dirs[2048];
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin", path != NULL ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        snprintf(s->nginx, sizeof(s->nginx), "%s/nginx", d);
        if (access(s->nginx, X_OK) == 0) {
            return 0;
        }
    }
    return TANDEM_ENOENT;
}

static int take_lock(struct sup *s)
{
    s->lock_fd = open("var/tandem/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0 || fchmod(s->lock_fd, 0600) != 0) {
        fprintf(stderr, "tandem: cannot open var/tandem/lock: %s\n", strerror(errno));
        return TANDEM_EIO;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr, "tandem: already running in %s (supervisor pid %s)\n", s->m.dir, pid);
        return TANDEM_EEXIST;
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, line, (size_t)n, 0) != n) {
        return TANDEM_EIO;
    }
    return 0;
}

static int setup(struct sup *s)
{
    int rc = sup_perms_dirs(s);
    if (rc == 0) {
        rc = take_lock(s);
    }
    if (rc == 0) {
        sup_data_layout();
        rc = sup_jwt_prepare(s);
    }
    if (rc == 0) {
        rc = sup_console_prepare(s);
    }
    if (rc != 0) {
        return rc;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sigfd < 0) {
        return TANDEM_EIO;
    }
    return ctl_listen(s);
}

static void init(struct sup *s)
{
    s->sigfd = s->lsock = s->lock_fd = -1;
    for (int i = 0; i < SUP_MAX_CLIENTS; i++) {
        s->clients[i].fd = -1;
    }
    sup_proc_init(s, &s->broker, SUP_BROKER, 0, 0);
    sup_proc_init(s, &s->gateway, SUP_GATEWAY, 0, 0);
    s->svcs = xcalloc(s->m.n_services, sizeof(*s->svcs));
    s->order = xcalloc(s->m.n_services, sizeof(*s->order));
    for (size_t i = 0; i < s->m.n_services; i++) {
        s->svcs[i].n = s->svcs[i].slots = s->m.services[i].instances;
        for (int j = 0; j < CLI_MAX_INSTANCES; j++) {
            sup_proc_init(s, &s->svcs[i].inst[j], SUP_SERVICE, (int)i, j);
        }
    }
    bool *seen = xcalloc(s->m.n_services + 1, sizeof(bool));
    int n = 0;
    for (size_t i = 0; i < s->m.n_services; i++) {
        order_visit(s, i, seen, &n);
    }
    free(seen);
    if (s->m.broker.external != NULL) {
        snprintf(s->brokers, sizeof(s->brokers), "%s", s->m.broker.external);
    } else if (s->m.broker.present) {
        snprintf(s->brokers, sizeof(s->brokers), "%s:%d", s->broker.host, s->broker.port);
    }
}

static void finish(struct sup *s)
{
    /* Everything has stopped: give the project back before a `down` caller is let go. Its
     * client returns at EOF on the control socket, which the exit closes together with the
     * lock; closed in the exit's own order, the lock could still be held for a moment after the
     * caller saw EOF, and an `up` run at once would find the project "already running". */
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
        s->lock_fd = -1;
    }
    if (s->lsock >= 0) {
        close(s->lsock);
        unlink("var/tandem/ctl.sock");
        s->lsock = -1;
    }
    for (int i = 0; i < SUP_MAX_CLIENTS; i++) {
        if (s->clients[i].fd >= 0 && s->clients[i].down) {
            ctl_done(s->clients[i].fd, 0); /* closed by exit: the caller waits for EOF */
        } else if (s->clients[i].fd >= 0) {
            ctl_say(s->clients[i].fd, 'e', "tandem: the supervisor stopped");
            ctl_done(s->clients[i].fd, 1);
        }
    }
    free(s->svcs);
    free(s->order);
    cli_manifest_cleanup(&s->m);
}

/* The detached parent: waits for the child's verdict. */
static int detach_wait(int rd)
{
    char c = '1';
    ssize_t n;
    do {
        n = read(rd, &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 && c == '0' ? 0 : 1;
}

static void detach_ready(int wr)
{
    fflush(stdout);
    int log = open("var/tandem/supervisor.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (log >= 0 && null >= 0) {
        fchmod(log, 0600); /* one an older tandem created 0644 */
        dup2(null, 0);
        dup2(log, 1);
        dup2(log, 2);
    }
    if (log >= 0) {
        close(log);
    }
    if (null >= 0) {
        close(null);
    }
    if (write(wr, "0", 1) != 1) {
        sup_log("the parent of --detach went away");
    }
    close(wr);
}

int sup_up(const char *manifest, bool detach)
{
    int64_t t0 = clock_mono_ms();
    struct sup s;
    char err[1200];
    memset(&s, 0, sizeof(s));
    if (cli_manifest_load(manifest, &s.m, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (chdir(s.m.dir) != 0) {
        fprintf(stderr, "tandem: cannot enter %s: %s\n", s.m.dir, strerror(errno));
        cli_manifest_cleanup(&s.m);
        return 1;
    }
    if (cli_broker_runs(&s.m.broker) && access(s.m.broker.binary, X_OK) != 0) {
        fprintf(stderr, "tandem: broker binary %s not found (build it: make)\n", s.m.broker.binary);
        cli_manifest_cleanup(&s.m);
        return 1;
    }
    if (find_nginx(&s) != 0) {
        fprintf(stderr, "tandem: nginx not found (apt-get install nginx, or make deps)\n");
        cli_manifest_cleanup(&s.m);
        return 1;
    }
    umask(077); /* everything tandem and its processes create is the owner's (perms.c) */
    sup_perms_identity(&s);
    init(&s);
    int notify = -1;
    if (detach) {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) != 0) {
            return 1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            return 1;
        }
        if (pid > 0) {
            close(pfd[1]);
            int code = detach_wait(pfd[0]);
            finish(&s); /* nothing but init()'s memory and the manifest yet */
            return code;
        }
        close(pfd[0]);
        notify = pfd[1];
        setsid();
        /* Keep no descriptor of the caller's (a pipe it waits on) beyond stdio, redirected once
         * ready; the only one of ours open yet is the pipe to the parent. */
        if (notify > 3) {
            close_range(3, (unsigned)notify - 1, 0);
        }
        close_range((unsigned)notify + 1, ~0U, 0);
    }
    int code = 1;
    if (setup(&s) == 0) {
        int rc = start_all(&s, err, sizeof(err));
        if (rc == 0) {
            printf("tandem: up in %lld ms: http://%s:%d\n", (long long)(clock_mono_ms() - t0),
                   s.gateway.host, s.gateway.port);
            if (sup_console_present(&s)) {
                printf("tandem: console: http://%s:%d/console (actions need the key in %s)\n",
                       s.gateway.host, s.gateway.port, sup_console_key_path());
            }
            fflush(stdout);
            if (notify >= 0) {
                detach_ready(notify);
                notify = -1;
            }
            while (!s.quit) {
                ctl_run_queue(&s);
                if (!s.quit) {
                    sup_pump(&s, 1000);
                }
            }
            code = 0;
        } else {
            fprintf(stderr, "tandem: up failed: %s\n", err);
        }
        shutdown_all(&s);
        if (code == 0) {
            sup_log("stopped");
        }
    }
    finish(&s);
    if (notify >= 0) {
        ssize_t w = write(notify, "1", 1);
        (void)w;
        close(notify);
    }
    return code;
}
