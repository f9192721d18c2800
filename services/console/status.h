/*
 * The console's status: what the poller computed in a tick, as the JSON document the page draws
 * (its members are listed in docs/console.md, "The status"). status.c; the poller calls it once a
 * tick, on its thread.
 */
#ifndef TANDEM_CONSOLE_STATUS_H
#define TANDEM_CONSOLE_STATUS_H

#include "console.h"

/* A service's figures over the window (rates per second). */
struct svc_status {
    char name[64];
    struct svc_window w;
    bool up;        /* one of its instances is ready */
    json_int_t lag; /* the lag of its consumer groups, summed */
};

struct status_input {
    const struct ps_row *rows; /* the supervisor's rows, in its order */
    size_t n_rows;
    const bool *scraped; /* per row: its /metrics answered this tick */
    bool has_supervisor; /* the console knows a control socket */
    bool supervisor;     /* and `ps` answered */
    const char *self;    /* the console's own service ("" when not listed) */
    struct svc_status *svcs;
    size_t n_svcs;
    json_t *topics; /* tail_topics with "rate" (borrowed) */
    json_t *groups; /* admin_groups after groups_compute (borrowed), NULL when not read */
    const char *groups_error;
    const struct gin_publish *publishes;
    size_t n_publishes;
    struct graph *graph; /* updated here */
    int64_t now_ms;
};

/* Updates the map and returns the status as compact JSON text (malloc'd), or NULL. */
char *status_build(const struct status_input *in);

/* A JSON number for x, or null when x is not finite. */
json_t *status_num(double x);

#endif
