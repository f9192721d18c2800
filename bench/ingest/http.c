/*
 * http.c: a small blocking HTTP/1.1 client for tandem-ingest's side work: scraping /metrics once
 * a second, reading the final state of the vehicles, the activity service's totals. Not the
 * REST sender (rest.c), which keeps many connections busy at once.
 *
 * One keep-alive connection to 127.0.0.1:port, opened on first use; a request on a connection
 * that was kept idle and is found closed (nothing of the answer came back) is sent once more on
 * a new one, as every HTTP client does with the keep-alive race (every request made here is a
 * read, or a write the caller accepts twice). The answer is parsed by tandem-load's parser
 * (bench/load/resp.c) and its body kept, up to HCONN_BODY_MAX bytes. Every call is bounded by
 * its timeout.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest_io.h"
#include "resp.h"
#include "tandem/error.h"

static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = ingest_now_ns();
        if (now >= deadline) {
            return TANDEM_ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return TANDEM_EIO;
        }
    }
}

static int open_conn(struct hconn *c, uint64_t deadline)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return TANDEM_EIO;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return TANDEM_EIO;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (wait_fd(fd, POLLOUT, deadline) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close(fd);
        return err == ECONNREFUSED ? TANDEM_EIO : TANDEM_ETIMEDOUT;
    }
    c->fd = fd;
    c->reused = false;
    return 0;
}

void hconn_close(struct hconn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

void hconn_init(struct hconn *c, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->port = port;
}

void hconn_cleanup(struct hconn *c)
{
    hconn_close(c);
    free(c->body);
    c->body = NULL;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc != 0) {
                return rc;
            }
        } else {
            return TANDEM_ECLOSED;
        }
    }
    return 0;
}

/* One attempt on c's connection. *untouched: the connection ended before any byte came back. */
static int attempt(struct hconn *c, const char *req, size_t req_len, uint64_t deadline,
                   bool *untouched)
{
    *untouched = false;
    int rc = send_all(c->fd, req, req_len, deadline);
    if (rc == TANDEM_ECLOSED) {
        *untouched = true;
        return rc;
    }
    if (rc != 0) {
        return rc;
    }
    struct load_resp r;
    load_resp_begin(&r, false);
    r.body = c->body;
    r.body_cap = HCONN_BODY_MAX;
    char buf[16384];
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            rc = wait_fd(c->fd, POLLIN, deadline);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (n < 0 || (n == 0 && got == 0)) {
            *untouched = got == 0;
            return TANDEM_ECLOSED;
        }
        got += (size_t)n;
        size_t used = 0;
        rc = load_resp_feed(&r, buf, (size_t)n, &used);
        if (rc == TANDEM_EAGAIN) {
            continue;
        }
        if (rc != 0 || used != (size_t)n) {
            return TANDEM_EPROTO;
        }
        break;
    }
    if (r.body_bytes > HCONN_BODY_MAX) {
        return TANDEM_ERANGE;
    }
    c->status = r.status;
    c->body_len = r.body_bytes;
    c->body[c->body_len] = '\0';
    if (!r.keep_alive) {
        hconn_close(c);
    }
    return 0;
}

int hconn_request(struct hconn *c, const char *method, const char *path, const char *body,
                  size_t body_len, int timeout_ms)
{
    if (c->body == NULL) {
        c->body = malloc(HCONN_BODY_MAX + 1);
        if (c->body == NULL) {
            return TANDEM_ENOMEM;
        }
    }
    char head[1024];
    int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s%s%zu\r\n\r\n",
                      method, path, (unsigned)c->port,
                      body != NULL ? "Content-Type: application/json\r\n" : "",
                      "Content-Length: ", body != NULL ? body_len : 0);
    if (hl <= 0 || (size_t)hl >= sizeof(head)) {
        return TANDEM_EINVAL;
    }
    char *req = malloc((size_t)hl + body_len);
    if (req == NULL) {
        return TANDEM_ENOMEM;
    }
    memcpy(req, head, (size_t)hl);
    if (body_len > 0) {
        memcpy(req + hl, body, body_len);
    }
    uint64_t deadline = ingest_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    int rc = 0;
    for (int tries = 0; tries < 2; tries++) {
        bool fresh = c->fd < 0;
        if (fresh) {
            rc = open_conn(c, deadline);
            if (rc != 0) {
                break;
            }
        }
        bool untouched = false;
        rc = attempt(c, req, (size_t)hl + body_len, deadline, &untouched);
        if (rc == 0) {
            c->reused = true;
            break;
        }
        hconn_close(c);
        if (!(untouched && !fresh)) {
            break; /* only the keep-alive race is tried again */
        }
    }
    free(req);
    return rc;
}
