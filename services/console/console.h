/*
 * tandem-console: the live console of a running tandem system (docs/console.md).
 *
 * Model. The console is a libtandem service that WATCHES the system and relays what it sees to
 * browsers as server-sent events; it owns no data. Three sources, each read by a thread of its
 * own so that none waits for another:
 *
 *   poller (poller.c)   every second: the supervisor's `ps --json` over its control socket
 *                       (supervisor.c), every instance's /metrics (scrape.c), the broker's
 *                       consumer groups and committed offsets (admin.c); it computes rates,
 *                       error rates, p99 and lag over a sliding window (stats.c), builds the map
 *                       (graph.c) and broadcasts the whole status as one event (status.c).
 *   tail (tail.c)       a Kafka consumer assigned to every partition of every topic at its end
 *                       (no group membership, never commits): the recent events per topic, the
 *                       rate per topic and per publishing service (CloudEvents ce_source), and the
 *                       records of the live tails browsers have open.
 *   handlers (api.c)    the REST and SSE routes under /api/console; the blocking ones (the topic
 *                       browser, the actions) run on the service's pool.
 *
 * Pure parts, unit-tested and fuzzed without a network: the Prometheus text parser (prom.c), the
 * metric snapshots and their windowed rates and quantiles (stats.c), the map's edges (graph.c),
 * the control protocol's answer and ps rows (ctlproto.c).
 *
 * Actions (stop, start, scale, group offset resets) need the console key: a random secret that
 * `tandem up` writes to var/tandem/console.secret (0600) and names to this service alone
 * (TANDEM_CONSOLE_SECRET_FILE), sent by the page in the X-Console-Key header.
 */
#ifndef TANDEM_CONSOLE_H
#define TANDEM_CONSOLE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/error.h"

/* ---- prom.c: the Prometheus text exposition format (version 0.0.4) ------------------------- */

#define PROM_MAX_LABELS 8

/* One label of a sample: name as it appears, value decoded (\\ \" \n resolved). Borrowed for
 * the callback's duration. */
struct prom_label {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct prom_sample {
    const char *name;
    size_t name_len;
    struct prom_label labels[PROM_MAX_LABELS];
    size_t n_labels;
    double value; /* +Inf, -Inf and NaN included */
};

/* Called once per sample line; a non-zero return stops the parse and is returned by it. */
typedef int (*prom_sample_fn)(const struct prom_sample *s, void *arg);

/*
 * Parses text[0..len): comment (# ...) and blank lines are skipped, every other line is one sample
 * `name{label="value",...} value [timestamp]`. Returns 0; the callback's non-zero value; or
 * TANDEM_EINVAL for a malformed line (its 1-based number in *bad_line when bad_line is not NULL):
 * a bad name, an unterminated or bad label, more than PROM_MAX_LABELS labels, label values over
 * 4 KiB in all, a value that is not a number. Never allocates; reads nothing past len.
 */
int prom_parse(const char *text, size_t len, prom_sample_fn fn, void *arg, size_t *bad_line);

/* The value of label `name` of s, NUL-terminated into buf (cap bytes, truncated), or NULL. */
const char *prom_label(const struct prom_sample *s, const char *name, char *buf, size_t cap);

/* ---- stats.c: snapshots of an instance's metrics, windowed rates and quantiles --------------- */

/* The series the console reads from a libtandem service's /metrics (docs/libtandem.md). */
enum msample_kind {
    MK_REQ,             /* tandem_http_requests_total{route=a,method=b,status=c} */
    MK_BUCKET,          /* tandem_http_request_duration_seconds_bucket{route=a,le} */
    MK_PRODUCED,        /* tandem_events_produced_total */
    MK_DELIVERY_FAILED, /* tandem_events_delivery_failed_total */
    MK_CONSUMED,        /* tandem_events_consumed_total{group=a} */
    MK_DEAD_LETTERED,   /* tandem_events_dead_lettered_total{group=a} */
    MK_LAG,             /* tandem_consumer_lag{group=a,topic=b,partition=c}: a gauge */
    MK_CLIENT_CALLS,    /* tandem_http_client_calls_total{upstream=a} */
    MK_SSE_STREAMS,     /* tandem_sse_streams: a gauge */
};

struct msample {
    enum msample_kind kind;
    char a[128], b[96], c[16];
    double le; /* MK_BUCKET's upper bound (+Inf for the last) */
    double v;
};

/* One scrape of one instance: its samples sorted by (kind, a, b, c, le), at_ms when taken. */
struct msnap {
    struct msample *s;
    size_t n, cap;
    int64_t at_ms;
};

/* Reads a /metrics answer into out (emptied first); series the console does not use are
 * skipped. Returns 0, or TANDEM_EINVAL for text that is not the exposition format (out is then
 * empty). */
int msnap_parse(const char *text, size_t len, int64_t at_ms, struct msnap *out);
void msnap_cleanup(struct msnap *s);
/* Moves src into dst (dst's old samples freed); src is left empty. */
void msnap_move(struct msnap *dst, struct msnap *src);

#define HIST_MAX_BUCKETS 24

/* HTTP traffic over a window: requests, 5xx and 4xx answers, and the duration histogram's bucket
 * increases (cumulative per bucket, as Prometheus keeps them). */
struct http_window {
    double requests, errors, client_errors;
    double le[HIST_MAX_BUCKETS];
    double bucket[HIST_MAX_BUCKETS];
    int nb;
};

/* A route's traffic (summed over a service's instances). */
struct route_window {
    char route[128];
    struct http_window h;
};

/* What one service did over the window, summed over its instances. */
struct svc_window {
    struct http_window http;   /* every route but the instances' own endpoints */
    struct http_window public; /* the same without routes under /internal/ (the gateway's) */
    struct route_window *routes;
    size_t n_routes;
    double produced, delivery_failed, consumed, dead_lettered;
    struct {
        char upstream[128];
        double calls;
    } calls[16]; /* calls made to other services (the HTTP client's metrics) */
    size_t n_calls;
    double sse_streams; /* a gauge: the newest value, summed */
};

/* Routes whose requests are not the service's own traffic: the instances' endpoints, which the
 * supervisor and the console call, and the console's own event streams (a stream's duration is
 * its life). */
bool stats_route_ignored(const char *route);

/* Adds what happened between old and cur (two scrapes of ONE process: a counter that went down
 * was reset, so its whole new value counts), times scale, to w: scale 1000 / (cur->at_ms -
 * old->at_ms) makes every figure of w a rate per second. Gauges add cur's value as it is. old
 * NULL: only the gauges (nothing is known to have happened yet). */
void svc_window_add(struct svc_window *w, const struct msnap *old, const struct msnap *cur,
                    double scale);
void svc_window_cleanup(struct svc_window *w);

/* The q-quantile (0..1) of a window's histogram as Prometheus' histogram_quantile computes it:
 * linear inside the bucket holding the rank, the lowest bucket starting at 0; a rank in the +Inf
 * bucket answers the highest finite bound. NaN when the window has no request. */
double http_quantile(const struct http_window *h, double q);

/* Windowed rate of a cumulative counter sampled once a second: samples (t ms, value) pushed into
 * a ring of RATE_WINDOW + 1; rate() is (newest - oldest) / elapsed over the ring, a decrease
 * counting as a reset. */
#define RATE_WINDOW 5 /* seconds */

struct rate_ring {
    int64_t t[RATE_WINDOW + 1];
    double v[RATE_WINDOW + 1];
    int n, head; /* samples held; index of the newest */
};

void rate_push(struct rate_ring *r, int64_t t_ms, double v);
/* Per second; 0 with fewer than two samples. */
double rate_per_s(const struct rate_ring *r);

/* ---- graph.c: the live map ------------------------------------------------------------------ */

enum gnode_kind { GN_GATEWAY, GN_SERVICE, GN_TOPIC, GN_GROUP, GN_EXTERNAL };
enum gedge_kind { GE_ROUTE, GE_CALL, GE_PUBLISH, GE_SUBSCRIBE };

struct gnode {
    enum gnode_kind kind;
    char id[160];     /* "gateway", "svc:users", "topic:users", "group:articles", "ext:/kcat" */
    char name[128];   /* the service's, topic's, group's name, or the publisher's source */
    char service[64]; /* a group's consuming service when known ("" otherwise) */
    bool up;          /* services: an instance is ready; the gateway: ready; others: true */
};

struct gedge {
    enum gedge_kind kind;
    char from[160], to[160];
    double rate;     /* per second, now (0 when it was seen before but nothing flows now) */
    int64_t seen_ms; /* when something last flowed (or, for a subscription, was listed) */
};

struct graph {
    struct gnode *nodes;
    size_t n_nodes, cap_nodes;
    struct gedge *edges;
    size_t n_edges, cap_edges;
};

/* What is flowing now, from the poller's sources. */
struct graph_input {
    bool gateway, gateway_up;
    const struct gin_service {
        const char *name;
        bool up;
        double public_rate; /* requests/s through the gateway (stats: routes not /internal/) */
    } * services;
    size_t n_services;
    const struct gin_call {
        const char *from;   /* service name */
        const char *to_url; /* "http://127.0.0.1:8111": matched to a service by its ports */
        double rate;
    } * calls;
    size_t n_calls;
    const struct gin_port {
        const char *service;
        int port;
    } * ports; /* every instance's port, for calls */
    size_t n_ports;
    const struct gin_topic {
        const char *name;
    } * topics;
    size_t n_topics;
    const struct gin_publish {
        const char *source; /* the events' ce_source: "/users" */
        const char *topic;
        double rate;
    } * publishes;
    size_t n_publishes;
    const struct gin_sub {
        const char *group, *topic;
        const char *service; /* the consuming service, or NULL when not known */
        double rate;         /* records committed per second */
    } * subs;
    size_t n_subs;
};

/*
 * Rebuilds g's nodes from in, and its edges: an edge that flows now gets its rate and now as
 * seen_ms; an edge of g that does not flow now keeps its place with rate 0 (a route or a publish
 * seen once stays drawn), unless one of its ends is gone. A subscription is an edge while the
 * group lists the topic, whatever flows. Publishers are matched to services by their source
 * ("/users" or ".../users" is the service users), else they become an external node.
 */
void graph_update(struct graph *g, const struct graph_input *in, int64_t now_ms);
void graph_cleanup(struct graph *g);
/* The service a CloudEvents source names, among names[0..n), or NULL. */
const char *graph_source_service(const char *source, const char *const *names, size_t n);
const char *graph_node_kind(enum gnode_kind k);
const char *graph_edge_kind(enum gedge_kind k);

/* ---- ctlproto.c: the supervisor's control protocol (docs/internals/cli.md) ------------------ */

/* One row of `ps --json`. */
struct ps_row {
    char service[64], name[80], state[16];
    int instance, pid, port, restarts;
    int64_t uptime_ms;
    bool ready, in_upstream;
};

/* Parses one `ps --json` line; 0 or TANDEM_EINVAL. */
int ps_row_parse(const char *line, size_t len, struct ps_row *out);

/* An answer of the supervisor: "o TEXT" and "e TEXT" lines, then "x CODE". out and err receive
 * the texts joined by '\n' (truncated to their caps, NUL-terminated; either may be NULL).
 * Returns the exit code, or -1 when the answer has no "x" line. */
int ctl_answer_parse(const char *buf, size_t len, char *out, size_t out_cap, char *err,
                     size_t err_cap);

/* A console key compared in time independent of where they differ: true when equal. */
bool console_key_equal(const char *given, const char *key);

/* ---- supervisor.c: the control socket, client side ------------------------------------------ */

/*
 * Sends request (one line without '\n': "ps --json", "stop comments") to the supervisor at
 * socket `path` and reads its whole answer into a new NUL-terminated buffer (*answer, freed by
 * the caller; at most 1 MiB). Waits at most timeout_ms. 0, TANDEM_EIO (no supervisor), or
 * TANDEM_ETIMEDOUT.
 */
int ctl_request(const char *path, const char *request, int64_t timeout_ms, char **answer,
                size_t *len);

/* ---- the running console (main.c) ------------------------------------------------------------ */

struct tandem_service;
struct poller;
struct tail;

struct console {
    struct tandem_service *svc;
    const char *ctl_path;  /* the supervisor's control socket, or NULL (not under tandem up) */
    char key[129];         /* the console key, "" when none: actions refused */
    const char *brokers;   /* TANDEM_BROKERS */
    int self_port;         /* this instance's port: its row in ps names the console's service */
    struct poller *poller; /* poller.c */
    struct tail *tail;     /* tail.c */
    struct admin *admin;   /* admin.c */
};

#define CONSOLE_STREAM "/api/console/stream"
#define CONSOLE_TAIL   "/api/console/topics/{topic}/tail"

/* poller.c */
int poller_start(struct console *c, struct poller **out);
void poller_stop(struct poller *p);
/* The newest status as compact JSON text (a new string, freed by the caller), or NULL before the
 * first. */
char *poller_status_text(struct poller *p);
/* The newest ps row of service `name` instance 0's service (true when the supervisor lists it as
 * a service, not broker or gateway), and whether it is the console's own service. */
bool poller_is_service(struct poller *p, const char *name, bool *is_self);
/* A copy of the newest group description (JSON object, new reference) or NULL. */
json_t *poller_group(struct poller *p, const char *group);
json_t *poller_groups(struct poller *p);

/* tail.c */
int tail_start(struct console *c, struct tail **out);
void tail_stop(struct tail *t);
/* Recent events (newest last), as a JSON array of {topic,partition,offset,time,type,key,source},
 * at most per_topic per topic. */
json_t *tail_recent(struct tail *t, size_t per_topic);
/* Fills the poller's view: per topic the partitions' low/high watermarks, and cumulative counts
 * of live records per topic and per (topic, source). Called once a second. */
json_t *tail_topics(struct tail *t);
/* Cumulative live records per (topic, source): calls fn for each. */
void tail_publishes(struct tail *t,
                    void (*fn)(const char *topic, const char *source, double n, void *arg),
                    void *arg);
/* A browser's live tail of topic (partition -1: all): the stream's state, counted so that the
 * consumer formats whole records only while someone watches. Open on the stream's worker; close
 * in its on_close (or when the stream could not be opened). */
struct tail_watch;
struct tail_watch *tail_watch_open(struct tail *t, const char *topic, int32_t partition);
void tail_watch_close(struct tail_watch *w);

/* admin.c: the broker's view through librdkafka's admin API */
struct admin;
int admin_new(const char *brokers, struct admin **out);
void admin_free(struct admin *a);
/* Every consumer group: state, members (client id, host, assignment), committed offsets; a JSON
 * array (new reference) or NULL with the reason in err. Waits at most timeout_ms. */
json_t *admin_groups(struct admin *a, int timeout_ms, char *err, size_t err_len);
/* Resets group's committed offsets (only an empty group: Kafka refuses it otherwise). spec is
 * {"to":"earliest|latest|offset|time", "topic":..., "partition":..., "offset":N, "time":ms}.
 * Returns an HTTP status; *body the answer (new reference). */
int admin_reset(struct admin *a, const char *group, json_t *spec, json_t **body);
/* Records of topic (partition -1: every partition) from `from` ("oldest", "newest", "offset",
 * "time") for the topic browser; HTTP status and *body as above. */
int admin_browse(struct admin *a, const char *topic, int32_t partition, const char *from,
                 int64_t offset, int64_t time_ms, int limit, json_t **body);

/* record.c: one Kafka record as the console shows it */
struct rd_kafka_message_s;
/* {partition, offset, timestamp, key, headers, ce, value, size}; values over max_value bytes are
 * cut (value_truncated). New reference. */
json_t *record_json(const struct rd_kafka_message_s *m, size_t max_value);

/* api.c */
int api_routes(struct console *c);

#endif
