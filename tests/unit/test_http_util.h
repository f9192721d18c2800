/*
 * What the wire-level HTTP tests share: a blocking client socket to a tandem HTTP server, a
 * reader of one answer, and a problem answer made the way a program embedding the core alone
 * makes one. Static inline functions, included by each test (test_http_server.c,
 * test_http_loop.c, test_lib_client_loop.c); every socket is on 127.0.0.1.
 */
#ifndef TANDEM_TEST_HTTP_UTIL_H
#define TANDEM_TEST_HTTP_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tandem/http.h"
#include "tandem/problem.h"

/* A connected socket to s's port on 127.0.0.1 (asserts the connect). */
static inline int dial(struct tandem_http_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)tandem_http_server_port(s))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads one answer, whole by its Content-Length, into buf (NUL-terminated) within timeout_ms per
 * read. Returns the bytes read; *body points at the body once the answer is complete, else NULL
 * (nothing, or not all of it, came in time, or the peer closed). */
static inline size_t read_answer(int fd, char *buf, size_t cap, int timeout_ms, const char **body)
{
    size_t len = 0;
    buf[0] = '\0';
    *body = NULL;
    for (;;) {
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strstr(buf, "Content-Length: ");
        if (end != NULL && cl != NULL &&
            len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10)) {
            *body = end + 4;
            return len;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) {
            return len;
        }
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            return len;
        }
        len += (size_t)n;
        buf[len] = '\0';
    }
}

/* Answers req with the canned problem document of status and detail: tandem_problem_body's bytes
 * through tandem_http_respond (these tests run the bare core, without the runtime's
 * tandem_respond_problem). */
static inline void answer_problem(struct tandem_http_request *req, int status, const char *detail)
{
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(tandem_problem_body(status, detail, &body, &len), 0);
    tandem_http_respond(req, status, TANDEM_PROBLEM_CONTENT_TYPE, body, len);
    free(body);
}

#endif
