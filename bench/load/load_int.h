/*
 * load_int.h: what tandem-load's two halves share: the options (load.c reads them from the
 * command line and prints the summary) and the run (load_loop.c drives the connections).
 *
 * The counters' meaning, which the summary and docs/benchmarks.md repeat:
 *   responses   answers received, whatever their status (5xx included);
 *   failed[k]   requests that ended without a usable answer, by kind (see enum load_fail), plus
 *               the 5xx answers (kind LOAD_F_5XX, also counted in responses);
 *   retried     requests resent on a new connection after a keep-alive connection closed or
 *               reset before any byte of their answer came back (idempotent methods only; each
 *               request at most once); not failures;
 *   reopened    connections re-opened after the server closed them while idle or after an
 *               answer with "Connection: close";
 *   unsent      fixed-rate mode: requests the schedule wanted that found no free connection
 *               before the end.
 */
#ifndef TANDEM_LOAD_INT_H
#define TANDEM_LOAD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum load_fail {
    LOAD_F_CONNECT,   /* connect() refused or failed */
    LOAD_F_RESET,     /* ECONNRESET/EPIPE on a request that may not be resent */
    LOAD_F_CLOSED,    /* end of stream before the answer was complete */
    LOAD_F_TIMEOUT,   /* no complete answer within --timeout */
    LOAD_F_MALFORMED, /* not an HTTP/1 answer, or bytes nobody asked for */
    LOAD_F_5XX,       /* an answer with status 500..599 */
    LOAD_F_COUNT
};

extern const char *const load_fail_names[LOAD_F_COUNT];

struct load_opts {
    uint16_t port;         /* target 127.0.0.1:port */
    const char *method;    /* "GET" ... */
    const char *path;      /* "/hello" */
    char *request;         /* the full request bytes, built once */
    size_t request_len;    /* its length */
    bool idempotent;       /* GET HEAD PUT DELETE OPTIONS: may be resent after a keep-alive race */
    bool head;             /* HEAD: answers carry no body */
    int conns;             /* connections */
    double duration_s;     /* run length */
    double rate;           /* 0: closed loop; else requests per second over all connections */
    uint64_t max_requests; /* 0: no limit */
    int timeout_ms;        /* per request */
};

struct load_stats {
    uint64_t responses;
    uint64_t failed[LOAD_F_COUNT];
    uint64_t retried;
    uint64_t reopened;
    uint64_t unsent;
    uint64_t status[600]; /* by status code 100..599 */
    uint32_t *lat_us;     /* one latency per response, microseconds (saturating) */
    size_t nlat, lat_cap;
    double elapsed_s; /* from the first request to the end of the run */
};

/* Runs the load described by o and fills st (zeroed by the caller). Returns 0, or a negative
 * TANDEM_E* code when the run could not be set up (epoll, memory, file descriptor limit); every
 * network problem is a counted failure, never an error. Stops early, cleanly, on SIGINT/SIGTERM
 * (the handlers are installed here). */
int load_run(const struct load_opts *o, struct load_stats *st);

#endif
