/*
 * report.h: one mode's results, and the three ways tandem-ingest shows them (report.c): a table
 * on stdout, a JSON file of the raw results, an SVG chart.
 */
#ifndef TANDEM_INGEST_REPORT_H
#define TANDEM_INGEST_REPORT_H

#include <stdio.h>

#include "ingest_io.h"

/* What the final state said (the ledger against GET /api/fleet/vehicles/{id}). */
struct verify {
    bool done;
    uint64_t checked;       /* vehicles read */
    uint64_t match;         /* exactly the last acknowledged update */
    uint64_t newer_unknown; /* newer than it, one whose answer never came (allowed) */
    uint64_t behind;        /* older than the last acknowledged update: an update lost */
    uint64_t ahead;         /* newer than anything that may have been applied */
    uint64_t differ;        /* the right ts with other coordinates */
    uint64_t missing;       /* 404 (or unreadable) although an update was acknowledged */
    uint64_t skipped;       /* nothing made for it in this mode */
    /* the newest update made for each vehicle, whose fate is known: */
    uint64_t lost_last;    /* the ledger says it never reached the fleet (lost, left) */
    uint64_t behind_made;  /* the fleet's state is older than it */
    uint64_t last_unknown; /* its fate is unknown (counted in neither) */
    double expected, seen; /* activity: beacons acknowledged, and counted by the totals */
};

struct result {
    enum mode mode;
    const char *name;   /* "rest", "events", ... */
    const char *source; /* the fleet's metric label */
    const char *path;   /* REST: the route; events: the topic */
    double window_s;    /* the send window asked */
    double settled_s;   /* from the start until everything sent was applied (or the wait ended) */
    bool settled;
    /* the sender's counters at the end */
    uint64_t generated, sent, acked, requests, failed, retried, lost, rejected, dropped, left,
        unknown, backlog_max, stalls;
    double answer_p50, answer_p99; /* REST: ms from request to answer */
    struct totals tot;
    struct series series;
    bool had_outage;
    struct outage outage;
    double catchup_s; /* events with an outage: from the start's return until lag was back to 0 */
    struct verify v;
    bool coarse; /* the latency histogram is coarse (activity): quantiles are "at most" bounds */
    /* derived (report_derive) */
    double sent_rate, applied_rate;
    double p50, p99, p999; /* visible latency, ms */
    double cpu_client_pm, cpu_service_pm, cpu_broker_pm, cpu_gateway_pm, cpu_total_pm;
    double wire_per_update, segs_per_update, wire_hdr_per_update, lo_per_update;
};

struct report_config {
    enum workload workload;
    uint64_t vehicles;
    double rate, duration_s;
    int conns, batch, linger_ms;
    double outage_s, outage_at_s;
    const char *command; /* the command line, for the record */
};

/* Fills the derived fields of r. */
void report_derive(struct result *r);

/* The table (columns: modes) on f. */
void report_table(FILE *f, const struct report_config *c, const struct result *r, int n);

/* The raw results as one JSON document into path. Returns 0 or an error (said on stderr). */
int report_json(const char *path, const struct report_config *c, const struct result *r, int n);

/* The chart (updates/s and visible latency over time per mode, the outage shaded) into path. */
int report_svg(const char *path, const struct report_config *c, const struct result *r, int n);

#endif
