/*
 * What the wire-level HTTP tests share: a blocking client socket to a tandem HTTP server, a
 * reader of one answer, a decoder of a chunked body, a problem answer made the way a program
 * embedding the core alone makes one, and the check that skips an io_uring run the kernel refuses.
 * Static inline functions, included by each test (test_http_server.c, test_http_loop.c,
 * test_lib_client_loop.c, test_http_drain.c, test_lib_store_writer.c, test_http_stream.c,
 * test_lib_service_sse.c); every socket is on 127.0.0.1.
 */
#ifndef TANDEM_TEST_HTTP_UTIL_H
#define TANDEM_TEST_HTTP_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tandem/http.h"
#include "tandem/problem.h"
#include "test_skip.h"

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

/* Decodes the chunks of a chunked body (RFC 9112 section 7.1, no extensions or trailers) that
 * are complete in p[0..n) into out (room for n bytes), *out_len bytes; *used (may be NULL): the
 * bytes of p they took. Returns 1 once the last chunk (0, CRLF, CRLF) is in, 0 when more may
 * come, -1 when the framing is broken. */
static inline int http_dechunk(const char *p, size_t n, char *out, size_t *out_len, size_t *used)
{
    size_t at = 0;
    *out_len = 0;
    for (;;) {
        if (used != NULL) {
            *used = at;
        }
        size_t i = at, size = 0;
        while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            size = size * 16 + (size_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
            i++;
        }
        if (i < n && i == at) {
            return -1; /* no size */
        }
        if (i + 2 + size + 2 > n) {
            return 0; /* not all here yet */
        }
        if (p[i] != '\r' || p[i + 1] != '\n' || p[i + 2 + size] != '\r' ||
            p[i + 3 + size] != '\n') {
            return -1;
        }
        memcpy(out + *out_len, p + i + 2, size);
        *out_len += size;
        at = i + 4 + size;
        if (size == 0) {
            if (used != NULL) {
                *used = at;
            }
            return 1;
        }
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

static inline void http_io_probe_handler(struct tandem_http_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

/* True, after printing a "SKIP:" line, when the environment (TANDEM_HTTP_IO=uring, the _uring
 * runs of tests/unit/CMakeLists.txt) asks for io_uring and the kernel refuses it: the library
 * then serves with epoll, so the run would pass as io_uring while testing epoll. Decided by the
 * library itself: a one-worker server started with the environment's backend, asked which one
 * it uses. main() returns TEST_SKIP when this is true. */
static inline bool http_io_uring_refused(void)
{
    const char *env = getenv("TANDEM_HTTP_IO");
    struct tandem_http_config cfg = {.workers = 1, .handler = http_io_probe_handler};
    struct tandem_http_server *s = NULL;
    if (env == NULL || strcmp(env, "uring") != 0) {
        return false;
    }
    if (tandem_http_server_start(&cfg, &s) != 0) {
        return false; /* the tests will fail on their own, and say why */
    }
    bool refused = tandem_http_server_io(s) != TANDEM_HTTP_IO_URING;
    tandem_http_server_stop(s);
    if (refused) {
        printf("SKIP: TANDEM_HTTP_IO=uring, but the kernel refuses io_uring (the server falls back "
               "to epoll, which the epoll run tests)\n");
    }
    return refused;
}

#endif
