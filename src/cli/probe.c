/*
 * Readiness probes, run inside the supervisor's poll loop without ever blocking it.
 *
 * A probe is one non-blocking TCP connection from the supervisor to a process's port, on
 * 127.0.0.1 (or the listen address when it is a literal). For the broker the probe passes once
 * the connection is established; for a service the probe then sends `GET /readyz HTTP/1.1` and
 * passes when the status line says 200; for nginx it asks its probe server (Host
 * tandem-probe.invalid) and passes on 204, so nginx must actually serve, not just accept. Each step
 * happens when poll reports the socket (sup_pump asks sup_probe_events what to wait for and hands
 * the result to sup_probe_io), so a process that accepts connections but never answers (stopped
 * with SIGSTOP, hung, overloaded) costs the loop nothing: its probe just fails at
 * SUP_PROBE_TIMEOUT_MS, however many such processes there are, and `ps`, reaping and restarts go on
 * meanwhile.
 *
 * Invariants: a proc has at most one probe in flight (probe_fd >= 0); a probe exists only while
 * the proc has a process in STARTING, READY or RUNNING; every end of a probe (pass, fail,
 * timeout, cancel) closes its socket and, except a cancel, reports to sup_proc_probed().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/gateway.h"
#include "cli/supervisor.h"

void sup_probe_cancel(struct sup_proc *p)
{
    if (p->probe_fd >= 0) {
        close(p->probe_fd);
        p->probe_fd = -1;
    }
}

static void probe_end(struct sup_proc *p, bool ok, int64_t now)
{
    sup_probe_cancel(p);
    sup_proc_probed(p, ok, now);
}

/* The request is tiny: on a fresh connection it always fits the socket buffer at once. A service
 * is asked for /readyz; nginx for anything on its probe server (gateway.c: `server_name
 * tandem-probe.invalid`, answered 204 by nginx itself, not logged), so a gateway that accepts
 * connections but cannot serve them (out of worker connections) is not ready. */
static void probe_send(struct sup_proc *p, int64_t now)
{
    char req[160];
    int n = p->kind == SUP_GATEWAY
                ? snprintf(req, sizeof(req),
                           "GET / HTTP/1.1\r\nHost: " CLI_GATEWAY_PROBE_HOST
                           "\r\nConnection: close\r\n\r\n")
                : snprintf(req, sizeof(req),
                           "GET /readyz HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                           p->host, p->port);
    if (send(p->probe_fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        probe_end(p, false, now);
        return;
    }
    p->probe_sent = true;
}

void sup_probe_start(struct sup_proc *p, int64_t now)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    sup_probe_cancel(p);
    p->probe_sent = false;
    p->probe_len = 0;
    p->probe_deadline_ms = now + SUP_PROBE_TIMEOUT_MS;
    if (inet_pton(AF_INET, p->host, &a.sin_addr) != 1) {
        sup_proc_probed(p, false, now);
        return;
    }
    p->probe_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->probe_fd < 0) {
        sup_proc_probed(p, false, now);
        return;
    }
    if (connect(p->probe_fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        if (p->kind != SUP_BROKER) {
            probe_send(p, now);
        } else {
            probe_end(p, true, now);
        }
    } else if (errno != EINPROGRESS) {
        probe_end(p, false, now); /* refused: nothing listens yet */
    }
}

short sup_probe_events(const struct sup_proc *p)
{
    return p->probe_sent ? POLLIN : POLLOUT;
}

void sup_probe_io(struct sup_proc *p, short revents, int64_t now)
{
    if (p->probe_fd < 0 || revents == 0) {
        return;
    }
    if (!p->probe_sent) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(p->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            probe_end(p, false, now);
        } else if (p->kind != SUP_BROKER) {
            probe_send(p, now);
        } else {
            probe_end(p, true, now);
        }
        return;
    }
    ssize_t r = recv(p->probe_fd, p->probe_buf + p->probe_len, 12 - p->probe_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (r > 0) {
        p->probe_len += (size_t)r;
    }
    if (r <= 0 || p->probe_len == 12) {
        /* "HTTP/1.1 200" (a service), "HTTP/1.1 204" (nginx) */
        bool ok = p->probe_len == 12 && memcmp(p->probe_buf, "HTTP/1.", 7) == 0 &&
                  memcmp(p->probe_buf + 8, p->kind == SUP_GATEWAY ? " 204" : " 200", 4) == 0;
        probe_end(p, ok, now);
    }
}

void sup_probe_timeout(struct sup_proc *p, int64_t now)
{
    if (p->probe_fd >= 0 && now >= p->probe_deadline_ms) {
        probe_end(p, false, now);
    }
}
