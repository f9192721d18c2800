/*
 * ingest_io.h: the parts of tandem-ingest that do I/O (ingest.h has the pure ones and the map of
 * the files). The main thread runs one sender at a time (events.c or rest.c); the sampler thread
 * (sampler.c) reads what the sender counts through struct sender_stats (atomics), scrapes the
 * system once a second and, with --outage, stops and starts the fleet from a third thread.
 */
#ifndef TANDEM_INGEST_IO_H
#define TANDEM_INGEST_IO_H

#include <limits.h>
#include <pthread.h>

#include "ingest.h"

/* ---- what the bench talks to ---------------------------------------------------------------- */

/* The fleet's contract (docs/fleet.md): topic, routes, metric names. */
#define FLEET_TOPIC        "vehicle-positions"
#define FLEET_CONTENT_TYPE "application/vnd.tandem.position.v1"
#define FLEET_POST         "/api/fleet/positions"
#define FLEET_POST_BATCH   "/api/fleet/positions/batch"
#define FLEET_BATCH_MAX    1000
#define FLEET_VEHICLE      "/api/fleet/vehicles/"
#define FLEET_LATENCY      "fleet_visible_latency_seconds"
#define FLEET_APPLIED      "fleet_positions_applied_total"
#define FLEET_STALE        "fleet_positions_stale_total"
#define FLEET_REJECTED     "fleet_positions_rejected_total"
#define CONSUMER_LAG       "tandem_consumer_lag"
#define FLEET_GROUP        "fleet"

/* The activity service's (services/activity/README.md). */
#define ACTIVITY_POST      "/api/activity/events"
#define ACTIVITY_POST_SYNC "/api/activity/events?sync=1"
#define ACTIVITY_TOTALS    "/api/activity/totals"
#define ACTIVITY_BATCH_MAX 50

#define MAX_INSTANCES 64

/* The running system, from `tandem -f MANIFEST ps --json`. */
struct system {
    char tandem[PATH_MAX];   /* the tandem command */
    char manifest[PATH_MAX]; /* its -f */
    uint16_t gateway, broker;
    int gateway_pid, broker_pid;
    int n_fleet;
    uint16_t fleet_port[MAX_INSTANCES];
    int fleet_pid[MAX_INSTANCES]; /* 0: not running */
    int n_activity;
    uint16_t activity_port[MAX_INSTANCES];
    int activity_pid[MAX_INSTANCES];
};

/* Runs `tandem -f manifest ps --json` and fills s (tandem and manifest set by the caller).
 * Returns 0, or an error after saying why on stderr. */
int system_read(struct system *s);

/* Runs `tandem -f manifest ARGS...` (NULL-terminated), its output to stderr with a prefix.
 * Returns its exit code, or -1. */
int system_tandem(const struct system *s, const char *const *args);

/* CPU seconds (utime + stime) a process has used, or -1 when it is gone. */
double proc_cpu_s(int pid);

/* The children of pid (nginx's workers), up to cap; returns how many. */
int proc_children(int pid, int *out, int cap);

/* Socket byte counters of every TCP connection on 127.0.0.1 with one end on one of ports
 * (inet_diag): payload bytes sent (both ends, so both directions) and segments sent. */
struct wire_meter;
int wire_meter_new(struct wire_meter **out);
void wire_meter_free(struct wire_meter *w);
/* Sets the ports counted (the system's), replacing the previous set. */
void wire_meter_ports(struct wire_meter *w, const uint16_t *ports, int n);
/* Adds to *bytes and *segs what the sockets sent since the last call (a socket new since then:
 * all it sent). Returns 0 or an error. */
int wire_meter_read(struct wire_meter *w, double *bytes, double *segs);

/* Bytes and packets through lo since boot (/proc/net/dev, received side: every loopback byte is
 * sent once and received once). */
int lo_counters(double *bytes, double *packets);

/* ---- a blocking HTTP client (http.c) -------------------------------------------------------- */

#define HCONN_BODY_MAX (8u << 20)

struct hconn {
    int fd;
    uint16_t port;
    bool reused;
    int status; /* of the last answer */
    char *body; /* the last answer's body, NUL-terminated */
    size_t body_len;
};

void hconn_init(struct hconn *c, uint16_t port);
void hconn_cleanup(struct hconn *c);
void hconn_close(struct hconn *c);

/* One request (body NULL: none) on c's keep-alive connection to 127.0.0.1:c->port, within
 * timeout_ms. Returns 0 with c->status and c->body, or an error (TANDEM_EIO: refused;
 * TANDEM_ECLOSED: reset; TANDEM_ETIMEDOUT; TANDEM_EPROTO: not HTTP, a body above HCONN_BODY_MAX).
 */
int hconn_request(struct hconn *c, const char *method, const char *path, const char *body,
                  size_t body_len, int timeout_ms);

/* ---- the senders ----------------------------------------------------------------------------- */

enum workload { WL_FLEET, WL_ACTIVITY };

/* rest, rest-batch: through the gateway; -direct: to the fleet's instances (round robin), to show
 * the gateway's share; events: records on the topic (fleet), or beacons POSTed to the 202 route
 * (activity, where events-batch sends 50 a request). */
enum mode {
    M_REST,
    M_REST_BATCH,
    M_EVENTS,
    M_REST_DIRECT,
    M_REST_BATCH_DIRECT,
    M_EVENTS_BATCH,
    M_COUNT
};

extern const char *const mode_names[M_COUNT];

/* What a sender counts; the sampler reads it while the sender runs. */
struct sender_stats {
    _Atomic uint64_t generated; /* updates the simulator made */
    _Atomic uint64_t sent;      /* updates handed to the transport, first attempts */
    _Atomic uint64_t acked;     /* acknowledged: delivery report (events), 2xx (REST) */
    _Atomic uint64_t requests;  /* REST requests answered or failed */
    _Atomic uint64_t failed;    /* REST requests that failed (refused, reset, timeout, 5xx,
                                   429); events: delivery reports that were errors */
    _Atomic uint64_t retried;   /* updates sent again after a failure */
    _Atomic uint64_t lost;      /* given up: retry window over, backlog full, refused 4xx */
    _Atomic uint64_t rejected;  /* of lost: answered 4xx (not 429): the server refused them */
    _Atomic uint64_t dropped;   /* of lost: the client's backlog was full */
    _Atomic uint64_t left;      /* still in the client when the drain ended (not sent) */
    _Atomic uint64_t unknown;   /* sent, no answer: may have been applied */
    _Atomic uint64_t backlog;   /* waiting in the client now (REST: queue and retries;
                                   events: librdkafka's queue) */
    _Atomic uint64_t backlog_max;
    _Atomic uint64_t stalls; /* events: producev said its queue is full */
    _Atomic int phase;       /* 0 sending, 1 draining, 2 done */
    struct lat_hist answer;  /* REST: from a request's first byte written to its answer */
};

struct run_config {
    enum workload workload;
    enum mode mode;
    struct sim *sim;
    struct ledger *ledger;
    struct sender_stats *st;
    double duration_s; /* the send window */
    double drain_s;    /* after it, at most this long to send what is left */
    /* events */
    const char *brokers; /* "127.0.0.1:PORT" */
    int linger_ms;
    bool headers; /* the content-type header on every record */
    /* REST */
    const uint16_t *ports; /* targets: the gateway, or the instances (round robin) */
    int nports;
    int conns;
    int batch;            /* updates per request (1: POST one) */
    double retry_for_s;   /* an update is retried until this long after its first try */
    uint64_t backlog_max; /* updates waiting at most; newer ones are dropped (lost) */
    int timeout_ms;
};

/* Runs the events sender: produces the simulator's updates at its rate for duration_s, then
 * flushes for at most drain_s. Returns 0, or an error (the producer could not start). */
int events_run(const struct run_config *c);

/* Makes sure the topic vehicle-positions exists: asks the broker for its metadata, which creates
 * it with the broker's default partition count when it does not exist (the fleet does not create
 * it: docs/fleet.md), within timeout_ms. Returns 0 and *partitions, or an error. */
int events_topic_ensure(const char *brokers, int timeout_ms, int *partitions);

/*
 * The consumer group's lag as the broker sees it: the sum over the topic's partitions of the log
 * end offset minus the group's committed offset (the figure of kafka-consumer-groups), read with
 * a consumer of the group that never joins it. Unlike the fleet's own tandem_consumer_lag it is
 * known while the fleet is down, which is when it grows. group_lag_read: 0 and *lag, or an error
 * (*lag -1).
 */
struct group_lag;
int group_lag_new(const char *brokers, const char *group, struct group_lag **out);
int group_lag_read(struct group_lag *g, double *lag);
void group_lag_free(struct group_lag *g);

/* Runs the REST sender likewise. Returns 0 or an error (epoll, memory). */
int rest_run(const struct run_config *c);

/* One update waiting in the REST sender (or in a request). */
struct item {
    struct pos p;
    uint64_t first_ns; /* when it was made (CLOCK_MONOTONIC): its retry window starts there */
    uint64_t due_ns;   /* a retry: not before this */
    uint32_t attempts; /* requests that carried it and failed */
    uint32_t pad;
};

/* Writes the request body of items[0..n) into out (cap bytes): the fleet's position (n == 1 and
 * !batch) or {"positions":[...]}; the activity service's beacons {"anonymousId", "events":[...]}
 * (one page view per item). Returns its length, or 0 when it does not fit. */
size_t rest_body(enum workload wl, bool batch, const struct item *items, int n, char *out,
                 size_t cap);

/* The request path of a mode. */
const char *rest_path(enum workload wl, enum mode m);

/* ---- the sampler (sampler.c) ---------------------------------------------------------------- */

/* One second of a mode's run. Counters are per interval; latency quantiles in ms (NaN: none). */
struct sample {
    double t; /* seconds since the mode started (end of the interval) */
    double sent, acked, failed, retried, lost;
    double applied;        /* the fleet's applied + stale, this mode's source */
    double backlog;        /* the client's, at the end of the interval */
    double lag;            /* sum of the fleet's tandem_consumer_lag; -1 unknown */
    double glag;           /* the group\'s committed lag at the broker; -1 unknown */
    double p50, p99, p999; /* visible latency of the updates applied in the interval */
    double cpu_client, cpu_service, cpu_broker, cpu_gateway; /* seconds used in the interval
                                                                (service: the fleet's instances,
                                                                or activity's) */
    double wire_bytes, wire_segs;
    double lo_bytes;
    int fleet_up; /* instances whose /metrics answered */
};

struct series {
    struct sample *s;
    size_t n, cap;
};

/* The outage (--outage): when, how long, and what happened. Times in s since the mode's start. */
struct outage {
    double at_s, length_s;                               /* asked */
    double stop_begin, stop_end, start_begin, start_end; /* measured; < 0: did not happen */
    int stop_rc, start_rc;
};

struct sampler;

/*
 * Starts sampling one mode every interval_ms: the service's /metrics (the fleet's instances of
 * sys; for the activity workload its totals through the gateway, every 50 ms), the CPU of the
 * client, the service, the broker and the gateway, the wire. source: the fleet metrics' label
 * value of this mode ("events", "rest", "rest-batch"); progress: a line a second on stderr.
 * With outage->length_s > 0, a third thread stops the service (`tandem stop`) at outage->at_s
 * and starts it length_s after the stop returned. Returns 0 and *out.
 */
int sampler_start(struct system *sys, enum workload wl, const char *source, struct sender_stats *st,
                  const char *mode_name, int interval_ms, bool progress, struct outage *outage,
                  struct sampler **out);

/* Waits until the outage (if any) is over: the service started again and sys re-read. After it,
 * only the sampler's thread and the caller read sys, and nothing writes it. */
void sampler_outage_join(struct sampler *s);

/* Stops it (joins the outage first) and hands over the series and the mode's totals: the
 * visible-latency histogram and the applied count summed over the whole run, the CPU seconds
 * per part, the wire counters. */
struct totals {
    struct hist latency;
    double applied, stale, rejected;
    double cpu_client, cpu_service, cpu_broker, cpu_gateway;
    double wire_bytes, wire_segs, lo_bytes, lo_packets;
    double lag_peak;  /* of the fleet's metric */
    double glag_peak; /* of the group's committed lag at the broker */
};
void sampler_stop(struct sampler *s, struct series *series, struct totals *totals);

/* Scrapes the fleet now (from the main thread, between modes): the summed lag of every instance
 * (-1 when one does not answer) and the summed applied + stale count of source. */
int fleet_scrape(struct system *sys, const char *source, double *lag, double *applied);

#endif
