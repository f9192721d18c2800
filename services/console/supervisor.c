/*
 * The supervisor's control socket, the client side: one request per connection, the answer read
 * to its end (the supervisor closes the connection after "x CODE"; docs/internals/cli.md).
 *
 * `tandem up` names the socket to the console by its absolute path (TANDEM_CONTROL_SOCKET). A
 * unix socket's path must fit sockaddr_un's 108 bytes; a project in a deep directory does not,
 * so a longer path is reached through its directory opened with O_PATH:
 * /proc/self/fd/<fd>/ctl.sock (Linux resolves it like any path, the socket's permission check
 * included). The socket is 0600, so only the user that runs the system connects: the console
 * runs as that user, as every process of `tandem up` does.
 *
 * The call blocks its thread (the poller's, or a pool thread for an action) for at most its
 * timeout: poll on a non-blocking socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "console.h"

#define ANSWER_MAX (1 << 20)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline: 0, or TANDEM_ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            return TANDEM_ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return TANDEM_EIO;
        }
    }
}

static int connect_path(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int dirfd = -1;
    if (strlen(path) >= sizeof(a.sun_path)) {
        const char *slash = strrchr(path, '/');
        char dir[4096];
        if (slash == NULL || (size_t)(slash - path) >= sizeof(dir)) {
            return -1;
        }
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        dirfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            return -1;
        }
        int n = snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dirfd, slash + 1);
        if (n < 0 || (size_t)n >= sizeof(a.sun_path)) {
            close(dirfd);
            return -1;
        }
    } else {
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
}

int ctl_request(const char *path, const char *request, int64_t timeout_ms, char **answer,
                size_t *len)
{
    *answer = NULL;
    *len = 0;
    int64_t deadline = now_ms() + timeout_ms;
    int fd = connect_path(path);
    if (fd < 0) {
        return TANDEM_EIO;
    }
    char line[600];
    int n = snprintf(line, sizeof(line), "%s\n", request);
    int rc = n > 0 && (size_t)n < sizeof(line) ? 0 : TANDEM_EINVAL;
    size_t sent = 0;
    while (rc == 0 && sent < (size_t)n) {
        ssize_t w = send(fd, line + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            rc = wait_fd(fd, POLLOUT, deadline);
        } else {
            rc = TANDEM_EIO;
        }
    }
    size_t cap = 4096, have = 0;
    char *buf = rc == 0 ? malloc(cap) : NULL;
    if (rc == 0 && buf == NULL) {
        rc = TANDEM_ENOMEM;
    }
    while (rc == 0) {
        if (have + 1 == cap) {
            char *b = cap < ANSWER_MAX ? realloc(buf, cap * 2) : NULL;
            if (b == NULL) {
                rc = TANDEM_ETOOLARGE;
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + have, cap - 1 - have, 0);
        if (r > 0) {
            have += (size_t)r;
        } else if (r == 0) {
            break; /* the supervisor closed it: the whole answer is here */
        } else if (errno == EAGAIN || errno == EINTR) {
            rc = wait_fd(fd, POLLIN, deadline);
        } else {
            rc = TANDEM_EIO;
        }
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[have] = '\0';
    *answer = buf;
    *len = have;
    return 0;
}
