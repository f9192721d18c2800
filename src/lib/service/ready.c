/*
 * ready.c: ready checks the runtime offers ready-made.
 *
 * "broker": the service is ready to produce and consume only when one of its bootstrap brokers
 * (--brokers, "host:port,host:port", IPv4 addresses) accepts a TCP connection within
 * READY_CONNECT_MS. That is reachability, not a Kafka handshake: the events module's client does
 * the protocol, and reports its own state through its metrics. The check runs on a worker thread
 * at each /readyz, so its cost is bounded by the timeout times the number of brokers listed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service_int.h"

#define READY_CONNECT_MS 500

/* 0 when host:port accepts a TCP connection within timeout_ms. */
static int tcp_reachable(const char *host, int port, int timeout_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return TANDEM_EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return TANDEM_EIO;
    }
    int rc = TANDEM_EIO;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        rc = 0;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t el = sizeof(err);
        if (poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
            err == 0) {
            rc = 0;
        } else {
            rc = TANDEM_ETIMEDOUT;
        }
    }
    close(fd);
    return rc;
}

int svc_brokers_reachable(const char *list, int timeout_ms)
{
    char one[128];
    const char *p = list;
    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, ",");
        if (n > 0 && n < sizeof(one)) {
            memcpy(one, p, n);
            one[n] = '\0';
            char host[64];
            int port = 0;
            if (svc_parse_listen(one, host, sizeof(host), &port) == 0 && port > 0 &&
                tcp_reachable(host, port, timeout_ms) == 0) {
                return 0;
            }
        }
        p = p[n] == ',' ? p + n + 1 : NULL;
    }
    return TANDEM_EIO;
}

static int broker_check(void *arg)
{
    const struct tandem_service *s = arg;
    return svc_brokers_reachable(tandem_service_config(s, "brokers"), READY_CONNECT_MS);
}

void tandem_service_ready_brokers(struct tandem_service *s)
{
    tandem_service_ready_check(s, "broker", broker_check, s);
}
