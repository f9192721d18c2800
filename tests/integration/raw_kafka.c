/*
 * Raw Kafka over TCP for the integration programs (see raw_kafka.h): connect, send all, read
 * exactly n bytes or one size-prefixed frame before a deadline, wait for the peer to close.
 *
 * Reads poll() before every recv() so that a deadline holds even when the broker goes silent; an
 * interrupted poll/recv/send is retried. A reset (ECONNRESET, EPIPE) counts as the peer closing,
 * because a broker that drops a hostile connection with unread input in its socket makes the
 * kernel answer with RST instead of FIN.
 */
#include "raw_kafka.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/kbuf.h"

int64_t raw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int raw_connect(const struct sockaddr_in *addr, const char *who)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
        fprintf(stderr, "%s: connect: %s\n", who, strerror(errno));
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int raw_send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int raw_recv_exact(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int64_t left = deadline - raw_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0 || (k < 0 && (errno == ECONNRESET || errno == EPIPE)))
            return 1;
        if (k < 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int raw_recv_frame(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = raw_now_ms() + timeout_ms;
    uint8_t hdr[4];
    int r = raw_recv_exact(fd, hdr, 4, deadline);
    if (r)
        return r > 0 ? -2 : -1;
    uint32_t size = be32(hdr);
    if (size > cap)
        return -3;
    r = raw_recv_exact(fd, buf, size, deadline);
    if (r)
        return r > 0 ? -2 : -1;
    return (int)size;
}

int raw_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = raw_now_ms() + timeout_ms;
    uint8_t sink[1];
    for (;;) {
        int r = raw_recv_exact(fd, sink, 1, deadline);
        if (r == 1)
            return 0;
        if (r < 0)
            return -1;
    }
}
