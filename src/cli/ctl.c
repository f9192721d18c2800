/*
 * The control socket: how `tandem ps|scale|stop|start|restart|down` talk to a running supervisor.
 *
 * A unix stream socket at var/tandem/ctl.sock under the manifest's directory (always used by a
 * relative path after chdir(), so a deep directory never overflows sun_path). The protocol is
 * lines of text, one request per connection (the request line is parsed by ctl_request.c; a line
 * it refuses, a NUL or other control byte in it included, is answered "e ..." and "x 2"):
 *
 *     client -> supervisor   one line: "ps", "ps --json", "scale hello=3 other=1", "stop NAME",
 *                            "start NAME", "restart NAME", "down"
 *     supervisor -> client   any number of "o TEXT" (print on stdout) and "e TEXT" (stderr)
 *                            lines, then "x CODE": the exit code for the command
 *
 * The socket is created mode 0600. A client that connects and sends nothing (or half a line)
 * never blocks the loop: its socket is non-blocking and polled like any other; when all
 * SUP_MAX_CLIENTS slots are taken, the oldest client that has not sent a request is dropped to
 * make room.
 *
 * `ps` is answered at once, even while another operation runs. Requests that change something
 * are queued and run one at a time, in arrival order. `down` sets the quit flag at once (an
 * operation in progress is interrupted) and is answered "x 0" only when everything has stopped;
 * its connection is then left to close when the supervisor exits, so the client, reading up to
 * EOF, returns only once the supervisor is gone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/supervisor.h"
#include "common/clock.h"
#include "tandem/error.h"

#define CTL_PATH SUP_CTL_PATH

int ctl_listen(struct sup *s)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", CTL_PATH);
    unlink(CTL_PATH); /* a stale socket: we hold the lock, so nobody serves it */
    s->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* Connecting needs write permission on the socket file: created 0600 (the umask decides a
     * socket's mode at bind), so only its owner (and root) can stop or scale this system. */
    mode_t old = umask(0177);
    int rc = s->lsock < 0 ? -1 : bind(s->lsock, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (rc != 0 || listen(s->lsock, 16) != 0) {
        fprintf(stderr, "tandem: cannot listen on %s: %s\n", CTL_PATH, strerror(errno));
        return TANDEM_EIO;
    }
    return 0;
}

/* With every slot taken: the slot of the client that connected first among those that have not
 * sent a request yet (they cost nothing but a slot, and must not lock everyone out), or -1. */
static int ctl_evict_idle(struct sup *s)
{
    int victim = -1;
    for (int i = 0; i < SUP_MAX_CLIENTS; i++) {
        const struct sup_client *c = &s->clients[i];
        if (!c->queued && !c->down && (victim < 0 || c->since_ms < s->clients[victim].since_ms)) {
            victim = i;
        }
    }
    if (victim >= 0) {
        ctl_say(s->clients[victim].fd, 'e', "tandem: no request sent: connection closed");
        ctl_done(s->clients[victim].fd, 1);
        ctl_client_close(s, victim);
    }
    return victim;
}

void ctl_accept(struct sup *s)
{
    for (;;) {
        int fd = accept4(s->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        int slot = -1;
        for (int i = 0; i < SUP_MAX_CLIENTS && slot < 0; i++) {
            slot = s->clients[i].fd < 0 ? i : -1;
        }
        if (slot < 0) {
            slot = ctl_evict_idle(s);
        }
        if (slot < 0) {
            ctl_say(fd, 'e', "tandem: too many control connections");
            ctl_done(fd, 1);
            close(fd);
            continue;
        }
        s->clients[slot] = (struct sup_client){.fd = fd, .since_ms = clock_mono_ms()};
    }
}

void ctl_client_close(struct sup *s, int slot)
{
    close(s->clients[slot].fd);
    s->clients[slot] = (struct sup_client){.fd = -1};
}

void ctl_say(int fd, char kind, const char *fmt, ...)
{
    char line[1024];
    line[0] = kind;
    line[1] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 2, sizeof(line) - 3, fmt, ap);
    va_end(ap);
    if (n < 0 || fd < 0) {
        return;
    }
    size_t len = 2 + ((size_t)n < sizeof(line) - 3 ? (size_t)n : sizeof(line) - 4);
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* the client went away (or stopped reading): nothing more to tell it */
        }
        off += (size_t)w;
    }
}

void ctl_done(int fd, int code)
{
    ctl_say(fd, 'x', "%d", code);
}

void ctl_client_input(struct sup *s, int slot)
{
    struct sup_client *c = &s->clients[slot];
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        ctl_client_close(s, slot);
        return;
    }
    c->len += (size_t)n;
    char err[160];
    size_t used = 0;
    int rc = ctl_request_parse(c->buf, c->len, &c->req, &used, err, sizeof(err));
    if (rc == CTL_NEED_MORE) {
        return;
    }
    if (rc != 0) {
        ctl_say(c->fd, 'e', "%s", err);
        ctl_done(c->fd, CTL_EXIT_USAGE);
        ctl_client_close(s, slot);
        return;
    }
    if (c->req.kind == CTL_PS || c->req.kind == CTL_PS_JSON) {
        sup_ps(s, c->fd, c->req.kind == CTL_PS_JSON);
        ctl_done(c->fd, 0);
        ctl_client_close(s, slot);
    } else if (c->req.kind == CTL_DOWN) {
        if (!s->quit) {
            sup_log("down requested: stopping everything");
        }
        s->quit = true;
        c->down = true;
    } else if (s->quit) {
        ctl_say(c->fd, 'e', "tandem: shutting down");
        ctl_done(c->fd, 1);
        ctl_client_close(s, slot);
    } else {
        c->queued = true;
        s->queue[s->n_queue++] = slot;
    }
}

void ctl_run_queue(struct sup *s)
{
    while (s->n_queue > 0) {
        int slot = s->queue[0];
        s->n_queue--;
        memmove(s->queue, s->queue + 1, (size_t)s->n_queue * sizeof(s->queue[0]));
        int fd = s->clients[slot].fd;
        int code = 1;
        if (s->quit) {
            ctl_say(fd, 'e', "tandem: shutting down");
        } else {
            code = sup_request(s, fd, &s->clients[slot].req);
        }
        ctl_done(fd, code);
        ctl_client_close(s, slot);
    }
}

/* Prints one answer line; returns the exit code on "x CODE", -1 otherwise. */
static int client_line(const char *line)
{
    if (line[0] == 'o' && line[1] == ' ') {
        printf("%s\n", line + 2);
    } else if (line[0] == 'e' && line[1] == ' ') {
        fflush(stdout);
        fprintf(stderr, "%s\n", line + 2);
    } else if (line[0] == 'x' && line[1] == ' ') {
        return atoi(line + 2);
    }
    return -1;
}

int ctl_call(const char *dir, const char *request)
{
    if (chdir(dir) != 0) {
        fprintf(stderr, "tandem: cannot enter %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", CTL_PATH);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "tandem: not running in %s (no supervisor on %s)\n", dir, CTL_PATH);
        if (fd >= 0) {
            close(fd);
        }
        return 1;
    }
    char req[600];
    int n = snprintf(req, sizeof(req), "%s\n", request);
    if (n < 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        fprintf(stderr, "tandem: cannot send the request\n");
        close(fd);
        return 1;
    }
    char buf[8192];
    size_t len = 0;
    int code = -1;
    for (;;) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
        buf[len] = '\0';
        char *start = buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            int c = client_line(start);
            code = c >= 0 ? c : code;
            start = nl + 1;
        }
        len = strlen(start);
        memmove(buf, start, len + 1);
        if (len == sizeof(buf) - 1) {
            len = 0; /* a line longer than the buffer: dropped */
        }
    }
    close(fd);
    fflush(stdout);
    if (code < 0) {
        fprintf(stderr, "tandem: the supervisor closed the connection without an answer\n");
        return 1;
    }
    return code;
}
