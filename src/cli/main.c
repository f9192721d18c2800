/*
 * tandem: run, supervise and scale a whole system (broker, services, nginx gateway) described by
 * a manifest (tandem.yaml). The commands:
 *
 *     tandem [-f FILE] up [--detach]     start everything, supervise in the foreground (or not)
 *     tandem [-f FILE] down              stop everything (reverse order, each service drained)
 *     tandem [-f FILE] ps [--json]       every process: state, pid, port, restarts, uptime
 *     tandem [-f FILE] logs [SVC] [-f]   the processes' output, merged
 *     tandem [-f FILE] scale NAME=N...   start or stop instances behind the gateway
 *     tandem [-f FILE] stop|start|restart NAME
 *     tandem [-f FILE] check             validate the manifest
 *     tandem [-f FILE] bench ingest ...  REST against events, measured on the running system
 *     tandem [-f FILE] export kubernetes -o DIR   the system as Kubernetes objects (kube.c)
 *
 * `up` becomes the supervisor (supervisor.c); ps, scale, stop, start, restart and down are
 * requests to it over var/tandem/ctl.sock in the manifest's directory (ctl.c), which is all they
 * need to know, so they work even when the manifest has been edited into something invalid.
 * `bench ingest` execs tandem-ingest, the program beside this one (bench/ingest/), with this
 * command's path and the manifest, so a benchmark never grows the supervisor.
 * Exit codes: 0 done, 1 failed (or nothing runs), 2 bad usage. docs/tandem-cli.md has the rest.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/kube.h"
#include "cli/manifest.h"
#include "cli/supervisor.h"

static const char USAGE[] =
    "usage: tandem [-f FILE] COMMAND [ARGS]\n"
    "\n"
    "  up [--detach]        start the broker, the services and the gateway, and supervise them\n"
    "                       (--detach: return once everything is ready, keep running in the\n"
    "                       background)\n"
    "  down                 stop everything: gateway, services (reverse dependency order), broker\n"
    "  ps [--json]          each process: state, pid, port, restarts, uptime, ready\n"
    "  logs [SERVICE] [-f]  the processes' output, merged (-f: follow)\n"
    "  scale NAME=N ...     run N instances of a service (ports port..port+N-1)\n"
    "  stop NAME            take a service out of the gateway and stop it\n"
    "  start NAME           start a stopped service and put it back in the gateway\n"
    "  restart NAME         rolling restart, one instance at a time\n"
    "  check                validate the manifest (errors as FILE:LINE:COLUMN: problem)\n"
    "  bench ingest [...]   fleet tracking over REST and over events, side by side, against\n"
    "                       the running system (tandem bench ingest --help)\n"
    "  export kubernetes -o DIR [...]\n"
    "                       write the system as Kubernetes objects for ingress-nginx\n"
    "                       (tandem export --help; docs/scale-out.md)\n"
    "  help                 this text\n"
    "\n"
    "  -f FILE              the manifest (default ./tandem.yaml); everything tandem writes goes\n"
    "                       under var/ in its directory\n"
    "\n"
    "Exit codes: 0 done, 1 failed or not running, 2 bad usage. See docs/tandem-cli.md.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tandem: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(tandem --help for usage)\n");
    return 2;
}

/* The manifest's directory, absolute (it need not hold a valid manifest). */
static int manifest_dir(const char *file, char *out)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", file);
    if (realpath(dirname(copy), out) == NULL) {
        fprintf(stderr, "tandem: %s: %s\n", file, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_check(const char *file)
{
    struct cli_manifest m;
    char err[1200];
    if (cli_manifest_load(file, &m, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int n = 0;
    char signers[256] = "";
    for (size_t i = 0; i < m.n_services; i++) {
        n += m.services[i].instances;
        if (m.services[i].jwt_sign) {
            size_t len = strlen(signers);
            snprintf(signers + len, sizeof(signers) - len, "%s%s", len > 0 ? ", " : "",
                     m.services[i].name);
        }
    }
    printf("%s: ok (%zu service(s), %d instance(s)%s%s%s%s%s)\n", file, m.n_services, n,
           cli_broker_runs(&m.broker) ? ", a broker"
           : m.broker.present         ? ", the external broker "
                                      : "",
           m.broker.external != NULL ? m.broker.external : "",
           m.jwt.present ? ", tokens signed by " : "",
           m.jwt.present && signers[0] == '\0' ? "no service" : "", signers);
    cli_manifest_cleanup(&m);
    return 0;
}

static int cmd_logs(const char *dir, int argc, char **argv)
{
    const char *service = NULL;
    bool follow = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
            follow = true;
        } else if (argv[i][0] == '-' || service != NULL) {
            return usage_error("logs: unexpected '%s'", argv[i]);
        } else {
            service = argv[i];
        }
    }
    return logs_show(dir, service, follow);
}

/* ps, down, scale, stop, start, restart: one request line to the supervisor. */
static int cmd_request(const char *dir, const char *cmd, int argc, char **argv)
{
    char req[512];
    size_t len = (size_t)snprintf(req, sizeof(req), "%s", cmd);
    bool named =
        strcmp(cmd, "stop") == 0 || strcmp(cmd, "start") == 0 || strcmp(cmd, "restart") == 0;
    if (strcmp(cmd, "ps") == 0 && (argc > 1 || (argc == 1 && strcmp(argv[0], "--json") != 0))) {
        return usage_error("ps: unexpected '%s'", argv[argc - 1]);
    }
    if (strcmp(cmd, "down") == 0 && argc > 0) {
        return usage_error("down: unexpected '%s'", argv[0]);
    }
    if (named && argc != 1) {
        return usage_error("%s: expected one service name", cmd);
    }
    if (strcmp(cmd, "scale") == 0 && argc == 0) {
        return usage_error("%s: expected NAME=N", cmd);
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(cmd, "scale") == 0 && strchr(argv[i], '=') == NULL) {
            return usage_error("scale: expected NAME=N, found '%s'", argv[i]);
        }
        if (strpbrk(argv[i], " \n") != NULL || len + 1 + strlen(argv[i]) >= sizeof(req)) {
            return usage_error("bad argument '%s'", argv[i]);
        }
        len += (size_t)snprintf(req + len, sizeof(req) - len, " %s", argv[i]);
    }
    return ctl_call(dir, req);
}

/* bench ingest ARGS: execs tandem-ingest (beside this binary) with --tandem and -f. */
static int cmd_bench(const char *file, int argc, char **argv)
{
    if (argc == 0 || strcmp(argv[0], "ingest") != 0) {
        return usage_error("bench: expected 'ingest', found '%s'", argc > 0 ? argv[0] : "");
    }
    char self[PATH_MAX], prog[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "tandem: bench: cannot find this program's path: %s\n", strerror(errno));
        return 1;
    }
    self[n] = '\0';
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", self);
    snprintf(prog, sizeof(prog), "%s/tandem-ingest", dirname(dir));
    char **args = calloc((size_t)argc + 6, sizeof(*args));
    if (args == NULL) {
        return 1;
    }
    int k = 0;
    args[k++] = prog;
    args[k++] = "--tandem";
    args[k++] = self;
    args[k++] = "-f";
    args[k++] = (char *)file;
    for (int i = 1; i < argc; i++) {
        args[k++] = argv[i];
    }
    execv(prog, args);
    fprintf(stderr,
            "tandem: bench: cannot run %s: %s (built with librdkafka, jansson and "
            "http-parser: scripts/deps.sh)\n",
            prog, strerror(errno));
    free(args);
    return 1;
}

int main(int argc, char **argv)
{
    const char *file = "tandem.yaml";
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc) {
            file = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else {
            return usage_error("unknown option '%s'", argv[i]);
        }
    }
    if (i == argc) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    int rest = argc - i;
    char **args = argv + i;
    if (strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(cmd, "check") == 0) {
        return rest == 0 ? cmd_check(file) : usage_error("check: unexpected '%s'", args[0]);
    }
    if (strcmp(cmd, "bench") == 0) {
        return cmd_bench(file, rest, args);
    }
    if (strcmp(cmd, "export") == 0) {
        return cli_export_main(file, rest, args);
    }
    if (strcmp(cmd, "up") == 0) {
        bool detach = false;
        for (int k = 0; k < rest; k++) {
            if (strcmp(args[k], "--detach") == 0 || strcmp(args[k], "-d") == 0) {
                detach = true;
            } else {
                return usage_error("up: unexpected '%s'", args[k]);
            }
        }
        return sup_up(file, detach);
    }
    static const char *const requests[] = {"down", "ps", "scale", "stop", "start", "restart"};
    bool known = strcmp(cmd, "logs") == 0;
    for (size_t k = 0; k < sizeof(requests) / sizeof(requests[0]) && !known; k++) {
        known = strcmp(cmd, requests[k]) == 0;
    }
    if (!known) {
        return usage_error("unknown command '%s'", cmd);
    }
    char dir[PATH_MAX];
    if (manifest_dir(file, dir) != 0) {
        return 1;
    }
    if (strcmp(cmd, "logs") == 0) {
        return cmd_logs(dir, rest, args);
    }
    return cmd_request(dir, cmd, rest, args);
}
