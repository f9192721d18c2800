/*
 * The tandem supervisor: the process `tandem up` becomes. Private to src/cli.
 *
 * Model. The supervisor owns every process of a manifest: the broker, each service's instances
 * and nginx. Each is a `struct sup_proc` driven by one state machine:
 *
 *     STOPPED --spawn--> STARTING --probe ok--> READY <--probe--> RUNNING (probe failed)
 *        ^                  |  start deadline / exit                 |
 *        |                  v                                        v  exit not asked for
 *        |            RESTARTING (backoff 100 ms doubling to 5 s) <--+
 *        |                  | 5 crashes within 30 s
 *        |                  v
 *        |               FAILED (left down)
 *        +-- STOPPING (SIGTERM/SIGQUIT sent; SIGKILL at the stop deadline) <-- asked to stop
 *
 * Readiness: services answer GET /readyz with 200; nginx answers its probe server 204; the broker
 * accepts a TCP connection.
 * Probes are non-blocking sockets in the loop's poll set (probe.c), never a wait of their own.
 *
 * One thread, one loop. sup_pump() waits (poll) on a signalfd (SIGCHLD, SIGINT, SIGTERM, SIGHUP),
 * the control socket and its clients, and the next timer of any process, then reaps children,
 * probes, restarts and escalates stops. Operations that take time (up, scale, stop, start,
 * restart, down) run one at a time from the top of the loop and wait by calling sup_pump(), so
 * processes keep being supervised and `ps` keeps answering while an operation waits; control
 * requests that change something queue behind the running one.
 *
 * Invariants:
 *   - every process the supervisor starts is the leader of its own process group and gets
 *     SIGTERM if the supervisor dies (PR_SET_PDEATHSIG); every descriptor of the supervisor is
 *     close-on-exec, so no child holds the lock, the control socket or a client connection;
 *   - a proc has a pid exactly in states STARTING, READY, RUNNING and STOPPING;
 *   - `in_upstream` marks the instances written into nginx.conf; an instance leaves the
 *     upstream (re-render + reload) before it is asked to stop, and joins it only once ready.
 */
#ifndef TANDEM_CLI_SUPERVISOR_H
#define TANDEM_CLI_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/ctl_request.h"
#include "cli/manifest.h"

#define SUP_CRASH_LIMIT       5     /* crashes within SUP_CRASH_WINDOW_MS: failed */
#define SUP_CRASH_WINDOW_MS   30000 /* also: ready this long resets the backoff */
#define SUP_BACKOFF_MIN_MS    100   /* first restart delay */
#define SUP_BACKOFF_MAX_MS    5000  /* delays double up to this */
#define SUP_START_TIMEOUT_MS  30000 /* spawn to ready */
#define SUP_STOP_TIMEOUT_MS   10000 /* SIGTERM to SIGKILL */
#define SUP_RELOAD_TIMEOUT_MS 10000 /* nginx reload: new workers up, old ones gone */
#define SUP_PROBE_FAST_MS     20    /* probe period while starting */
#define SUP_PROBE_SLOW_MS     5000  /* probe period once ready */
#define SUP_PROBE_TIMEOUT_MS  700   /* a probe not answered by then failed */

enum sup_kind { SUP_BROKER, SUP_SERVICE, SUP_GATEWAY };

enum sup_state {
    SUP_STOPPED,
    SUP_STARTING,
    SUP_READY,
    SUP_RUNNING,
    SUP_STOPPING,
    SUP_RESTARTING,
    SUP_FAILED,
};

struct sup_proc {
    enum sup_kind kind;
    int svc, idx;  /* service index and instance number (SUP_SERVICE) */
    char name[64]; /* "hello.0", "broker", "gateway": also the log file's name */
    int port;      /* where it listens (probed on 127.0.0.1 unless the host is an address) */
    char host[64]; /* probe address */
    pid_t pid;     /* 0 when no process */
    enum sup_state state;
    bool want;        /* should be running: an exit is a crash */
    bool in_upstream; /* listed in nginx.conf */
    bool killed;      /* SIGKILL sent (stop or start deadline) */
    bool restarted;   /* started by a restart after a crash, not ready yet */
    int restarts;     /* automatic restarts after crashes */
    int backoff_ms;   /* delay of the next restart */
    int64_t started_ms, ready_ms, deadline_ms, next_probe_ms, restart_at_ms;
    int64_t crashes[SUP_CRASH_LIMIT]; /* monotonic ms of the last crashes, a ring */
    int n_crashes;                    /* total crashes (ring index = n % LIMIT) */
    int last_status;                  /* wait status of the last exit */
    /* The readiness probe in flight (probe.c): its socket (-1: none), whether the request went
     * out, the status line so far, and when it fails. */
    int probe_fd;
    bool probe_sent;
    size_t probe_len;
    char probe_buf[12];
    int64_t probe_deadline_ms;
};

struct sup_svc {
    struct sup_proc inst[CLI_MAX_INSTANCES];
    int n;        /* instances wanted now (the manifest's, then what scale set) */
    int slots;    /* 1 + highest instance number with a process or a row in ps */
    bool stopped; /* by `tandem stop`, until `tandem start` */
};

struct sup_client {
    int fd;
    char buf[CTL_REQUEST_MAX];
    size_t len;
    struct ctl_request req; /* parsed from buf once a whole line came */
    int64_t since_ms;       /* accepted at (monotonic) */
    bool queued;            /* a full request waits in the queue */
    bool down;              /* asked for `down`: answered when everything has stopped */
};

#define SUP_MAX_CLIENTS 32

struct sup {
    struct cli_manifest m;
    struct sup_proc broker, gateway;
    struct sup_svc *svcs;                /* m.n_services */
    int *order;                          /* service indexes in dependency order */
    char brokers[CLI_MAX_BOOTSTRAP + 1]; /* TANDEM_BROKERS for the services ("": no broker) */
    char nginx[256];                     /* the nginx binary */
    int sigfd, lsock, lock_fd;
    struct sup_client clients[SUP_MAX_CLIENTS];
    int queue[SUP_MAX_CLIENTS]; /* client slots with a request waiting, FIFO */
    int n_queue;
    bool quit; /* SIGINT/SIGTERM/down: stop everything and exit */
    /* nginx's workers (perms.c): the `user` directive's text, and whether that user is not root,
     * with its ids */
    char gw_user[128];
    bool gw_apart;
    uid_t gw_uid;
    gid_t gw_gid;
};

/* Prints one supervisor event line on stderr ("tandem: ..."). */
void sup_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* proc.c: processes. */
void sup_proc_init(struct sup *s, struct sup_proc *p, enum sup_kind kind, int svc, int idx);
int sup_proc_spawn(struct sup *s, struct sup_proc *p);
void sup_proc_stop(struct sup_proc *p);
/* 0 when p's port can be bound now (SO_REUSEADDR, as nginx and the services bind); else
 * TANDEM_EEXIST with "port N (NAME) is already in use ..." in err. Run before a spawn so a port
 * held by a stranger (or an orphan of a killed supervisor) is a clear error, not a crash loop, a
 * probe answered by the stranger, or (SO_REUSEPORT) two servers sharing the port. */
int sup_proc_port_check(struct sup *s, const struct sup_proc *p, char *err, size_t err_len);
/* mkdir -p of a relative or absolute path, each directory it creates 0700; with set_mode the last
 * one is made 0700 also when it existed (tandem's own, which an older run may have left 0755).
 * 0, TANDEM_EINVAL (longer than 1023 bytes) or TANDEM_EIO (errno says why). */
int sup_mkdirs(const char *path, bool set_mode);
/* The proc whose process `pid` is, or NULL. */
struct sup_proc *sup_proc_find(struct sup *s, pid_t pid);
/* The state change for the exit of `pid` (already reaped), if it is one of ours: a crash or the
 * end of a stop. */
void sup_proc_reaped(struct sup *s, pid_t pid, int status);
void sup_proc_tick(struct sup *s, struct sup_proc *p, int64_t now, int64_t *next);
bool sup_proc_alive(const struct sup_proc *p);
/* A probe's outcome: STARTING becomes READY on success; READY/RUNNING follow the result. */
void sup_proc_probed(struct sup_proc *p, bool ok, int64_t now);

/* probe.c: readiness probes without blocking. start: connect (the outcome may be reported at
 * once); events: what to poll probe_fd for; io: poll reported it; timeout: fail it at its
 * deadline; cancel: close it without an outcome. */
void sup_probe_start(struct sup_proc *p, int64_t now);
short sup_probe_events(const struct sup_proc *p);
void sup_probe_io(struct sup_proc *p, short revents, int64_t now);
void sup_probe_timeout(struct sup_proc *p, int64_t now);
void sup_probe_cancel(struct sup_proc *p);
const char *sup_state_name(enum sup_state st);

/* supervisor.c: the loop. Waits up to timeout_ms for events and handles them. */
void sup_pump(struct sup *s, int timeout_ms);
/* Calls sup_pump until every given proc is ready (0), one failed or the deadline passed
 * (TANDEM_ETIMEDOUT, with a message in err), or quit was asked (TANDEM_ECLOSED). */
int sup_wait_ready(struct sup *s, struct sup_proc **ps, int n, int64_t deadline, char *err,
                   size_t err_len);
/* Stops the given procs (sup_proc_stop) and pumps until all are gone. */
void sup_stop_all(struct sup *s, struct sup_proc **ps, int n);
/* Runs `tandem up`; returns the process exit code. */
int sup_up(const char *manifest, bool detach);

/* ops.c: what control requests do. `out` is the client's socket (-1: nowhere). */
/* Renders nginx.conf from the instances in the upstream, checks it with `nginx -t` and only then
 * replaces var/gateway/nginx.conf; else the live file stays and err says why (nginx's words). */
int sup_gateway_write(struct sup *s, char *err, size_t err_len);
/* SIGHUP to nginx, then pumps the loop until the new configuration is the only one answering new
 * connections (every old worker has exited or is shutting down, which closes its listening
 * sockets), or with wait_old until every old worker has exited (no request can reach an instance
 * the new configuration dropped). 0, or TANDEM_ETIMEDOUT after SUP_RELOAD_TIMEOUT_MS. */
int sup_gateway_reload(struct sup *s, bool wait_old);
void sup_ps(struct sup *s, int out, bool json);
/* Runs a request that changes something (scale, stop, start, restart); returns its exit code. */
int sup_request(struct sup *s, int out, const struct ctl_request *req);

/* ctl.c: the control socket, relative to the manifest's directory. */
#define SUP_CTL_PATH "var/tandem/ctl.sock"
int ctl_listen(struct sup *s);
void ctl_accept(struct sup *s);
void ctl_client_input(struct sup *s, int slot);
void ctl_client_close(struct sup *s, int slot);
void ctl_run_queue(struct sup *s);
/* One line to a client: kind 'o' (stdout), 'e' (stderr); ctl_done sends the exit code. */
void ctl_say(int fd, char kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ctl_done(int fd, int code);
/* Client side: sends `request` to the supervisor of `dir`, prints its answer, returns its exit
 * code (1 with a message when no supervisor runs there). */
int ctl_call(const char *dir, const char *request);

/* perms.c: file modes and nginx's worker user (see its opening comment). identity: chooses the
 * workers' user and their open-file limit into s->m.gateway (before the first render); dirs:
 * creates var/ and its directories with their modes and tightens files an older run left
 * readable (0 or TANDEM_EIO, said on stderr); gateway: chowns the workers' directories under
 * var/gateway/ to their user, before nginx starts. */
void sup_perms_identity(struct sup *s);
int sup_perms_dirs(struct sup *s);
void sup_perms_gateway(struct sup *s);

/* data.c: a service's directories. dir: var/services/NAME (its instances' shared
 * TANDEM_DATA_DIR) when idx < 0, else var/services/NAME/IDX (instance idx's TANDEM_INSTANCE_DIR),
 * relative to the manifest's directory. layout: the one-time note about per-instance data
 * directories an older tandem left (data.c's opening comment), then var/tandem/layout. */
void sup_data_dir(const struct sup *s, int svc, int idx, char *out, size_t len);
void sup_data_layout(void);

/* jwt.c: the manifest's jwt: key pair made (first start) or reused, and checked; 0, or an error
 * already said on stderr ("tandem: up failed: jwt...") that fails `up`. Nothing to do without a
 * jwt: section. */
int sup_jwt_prepare(struct sup *s);

/* console.c: the console key. present: a service has control: true; prepare: writes a new random
 * key to var/tandem/console.secret (0600) at every up when one is present (0, or an error said on
 * stderr that fails up); key_path: that path, relative to the manifest's directory. */
bool sup_console_present(const struct sup *s);
int sup_console_prepare(struct sup *s);
const char *sup_console_key_path(void);

/* logs.c */
int logs_show(const char *dir, const char *service, bool follow);

/* topics.c: with broker.external, connects to the cluster, logs what it has, and creates the
 * manifest's broker.topics that are missing (partitions, replication factor: docs/scale-out.md).
 * Blocks for at most timeout_ms. Returns 0; TANDEM_ETIMEDOUT (the cluster did not answer);
 * TANDEM_EINVAL (a replication factor above the cluster's brokers, a topic the cluster refused);
 * with a message in err. */
int sup_topics_ensure(const struct cli_broker *b, int timeout_ms, char *err, size_t err_len);

#endif
