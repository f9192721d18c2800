/*
 * The status document the console streams once a second: processes, services with their
 * figures, the broker and the gateway, topics, consumer groups and the map (docs/console.md).
 *
 * Figures are per second over the poller's window (RATE_WINDOW); durations in milliseconds; a
 * figure that cannot be known (a quantile of a window without requests) is null, never 0, so the
 * page can say "no requests" instead of "0 ms".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

json_t *status_num(double x)
{
    if (!isfinite(x)) {
        return json_null();
    }
    return json_real(round(x * 1000) / 1000);
}

static json_t *http_json(const struct http_window *h)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "rate", status_num(h->requests), "errors",
                     status_num(h->errors), "error_ratio",
                     status_num(h->requests > 0 ? h->errors / h->requests : NAN), "client_errors",
                     status_num(h->client_errors), "p50_ms",
                     status_num(http_quantile(h, 0.5) * 1000), "p99_ms",
                     status_num(http_quantile(h, 0.99) * 1000));
}

static json_t *row_json(const struct ps_row *r, bool scraped)
{
    return json_pack("{s:i,s:s,s:s,s:i,s:i,s:i,s:I,s:b,s:b,s:b}", "instance", r->instance, "name",
                     r->name, "state", r->state, "pid", r->pid, "port", r->port, "restarts",
                     r->restarts, "uptime_ms", (json_int_t)r->uptime_ms, "ready", r->ready,
                     "in_upstream", r->in_upstream, "scraped", scraped);
}

static int route_cmp(const void *x, const void *y)
{
    const struct route_window *a = x, *b = y;
    if (a->h.requests != b->h.requests) {
        return a->h.requests > b->h.requests ? -1 : 1;
    }
    return strcmp(a->route, b->route);
}

static json_t *service_json(const struct status_input *in, struct svc_status *s)
{
    json_t *insts = json_array();
    for (size_t i = 0; i < in->n_rows; i++) {
        if (strcmp(in->rows[i].service, s->name) == 0) {
            json_array_append_new(insts, row_json(&in->rows[i], in->scraped[i]));
        }
    }
    if (s->w.n_routes > 1) {
        qsort(s->w.routes, s->w.n_routes, sizeof(*s->w.routes), route_cmp);
    }
    json_t *routes = json_array();
    for (size_t i = 0; i < s->w.n_routes && i < 32; i++) {
        const struct route_window *r = &s->w.routes[i];
        json_t *rj = http_json(&r->h);
        json_object_set_new(rj, "route", json_string(r->route));
        json_array_append_new(routes, rj);
    }
    json_t *groups = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(in->groups, i, g)
    {
        const char *svc = json_string_value(json_object_get(g, "service"));
        if (svc != NULL && strcmp(svc, s->name) == 0) {
            json_array_append_new(
                groups, json_pack("{s:O,s:O,s:O}", "group", json_object_get(g, "group"), "lag",
                                  json_object_get(g, "lag"), "state", json_object_get(g, "state")));
        }
    }
    return json_pack("{s:s,s:b,s:b,s:o,s:o,s:o,s:{s:o,s:o,s:o,s:o},s:o,s:I}", "name", s->name,
                     "self", in->self != NULL && strcmp(in->self, s->name) == 0, "up", s->up,
                     "instances", insts, "http", http_json(&s->w.http), "routes", routes, "events",
                     "produced", status_num(s->w.produced), "consumed", status_num(s->w.consumed),
                     "dead_lettered", status_num(s->w.dead_lettered), "delivery_failed",
                     status_num(s->w.delivery_failed), "groups", groups, "lag", s->lag);
}

/* The ps row of broker or gateway, or NULL. */
static const struct ps_row *row_named(const struct status_input *in, const char *service,
                                      size_t *idx)
{
    for (size_t i = 0; i < in->n_rows; i++) {
        if (strcmp(in->rows[i].service, service) == 0) {
            *idx = i;
            return &in->rows[i];
        }
    }
    return NULL;
}

static void map_update(const struct status_input *in)
{
    struct gin_service *svcs = calloc(in->n_svcs + 1, sizeof(*svcs));
    struct gin_port *ports = calloc(in->n_rows + 1, sizeof(*ports));
    size_t n_calls = 0;
    for (size_t i = 0; i < in->n_svcs; i++) {
        n_calls += in->svcs[i].w.n_calls;
    }
    struct gin_call *calls = calloc(n_calls + 1, sizeof(*calls));
    size_t n_topics = json_array_size(in->topics), n_subs = 0;
    struct gin_topic *topics = calloc(n_topics + 1, sizeof(*topics));
    size_t i, j;
    json_t *g, *t;
    json_array_foreach(in->groups, i, g)
    {
        n_subs += json_array_size(json_object_get(g, "topics"));
    }
    struct gin_sub *subs = calloc(n_subs + 1, sizeof(*subs));
    if (svcs == NULL || ports == NULL || calls == NULL || topics == NULL || subs == NULL) {
        goto done;
    }
    struct graph_input gi = {.services = svcs,
                             .ports = ports,
                             .calls = calls,
                             .topics = topics,
                             .subs = subs,
                             .publishes = in->publishes,
                             .n_publishes = in->n_publishes};
    size_t gw_idx = 0;
    const struct ps_row *gw = row_named(in, "gateway", &gw_idx);
    gi.gateway = gw != NULL;
    gi.gateway_up = gw != NULL && gw->ready;
    for (i = 0; i < in->n_svcs; i++) {
        const struct svc_status *s = &in->svcs[i];
        svcs[gi.n_services++] = (struct gin_service){s->name, s->up, s->w.public.requests};
        for (j = 0; j < s->w.n_calls; j++) {
            calls[gi.n_calls++] =
                (struct gin_call){s->name, s->w.calls[j].upstream, s->w.calls[j].calls};
        }
    }
    for (i = 0; i < in->n_rows; i++) {
        ports[gi.n_ports++] = (struct gin_port){in->rows[i].service, in->rows[i].port};
    }
    json_array_foreach(in->topics, i, t)
    {
        topics[gi.n_topics++].name = json_string_value(json_object_get(t, "name"));
    }
    json_array_foreach(in->groups, i, g)
    {
        json_array_foreach(json_object_get(g, "topics"), j, t)
        {
            subs[gi.n_subs++] = (struct gin_sub){json_string_value(json_object_get(g, "group")),
                                                 json_string_value(json_object_get(t, "topic")),
                                                 json_string_value(json_object_get(g, "service")),
                                                 json_real_value(json_object_get(t, "rate"))};
        }
    }
    graph_update(in->graph, &gi, in->now_ms);
done:
    free(svcs);
    free(ports);
    free(calls);
    free(topics);
    free(subs);
}

static json_t *map_json(const struct graph *gr)
{
    json_t *nodes = json_array(), *edges = json_array();
    for (size_t i = 0; i < gr->n_nodes; i++) {
        const struct gnode *n = &gr->nodes[i];
        json_t *nj = json_pack("{s:s,s:s,s:s,s:b}", "id", n->id, "kind", graph_node_kind(n->kind),
                               "name", n->name, "up", n->up);
        if (n->service[0]) {
            json_object_set_new(nj, "service", json_string(n->service));
        }
        json_array_append_new(nodes, nj);
    }
    for (size_t i = 0; i < gr->n_edges; i++) {
        const struct gedge *e = &gr->edges[i];
        json_array_append_new(edges,
                              json_pack("{s:s,s:s,s:s,s:o}", "kind", graph_edge_kind(e->kind),
                                        "from", e->from, "to", e->to, "rate", status_num(e->rate)));
    }
    return json_pack("{s:o,s:o}", "nodes", nodes, "edges", edges);
}

char *status_build(const struct status_input *in)
{
    map_update(in);
    json_t *st = json_object();
    json_object_set_new(st, "window_s", json_integer(RATE_WINDOW));
    json_object_set_new(st, "supervisor",
                        !in->has_supervisor ? json_string("none")
                        : in->supervisor    ? json_string("ok")
                                            : json_string("unreachable"));
    json_t *services = json_array();
    double routed = 0;
    for (size_t i = 0; i < in->n_svcs; i++) {
        json_array_append_new(services, service_json(in, &in->svcs[i]));
        routed += in->svcs[i].w.public.requests;
    }
    json_object_set_new(st, "services", services);
    double published = 0;
    size_t i;
    json_t *t;
    json_array_foreach(in->topics, i, t)
    {
        published += json_real_value(json_object_get(t, "rate"));
    }
    size_t idx = 0;
    const struct ps_row *b = row_named(in, "broker", &idx);
    json_t *broker =
        json_pack("{s:o,s:I,s:I,s:o}", "instances", json_array(), "topics",
                  (json_int_t)json_array_size(in->topics), "groups",
                  (json_int_t)json_array_size(in->groups), "rate", status_num(published));
    if (b != NULL) {
        json_array_append_new(json_object_get(broker, "instances"), row_json(b, false));
    }
    json_object_set_new(st, "broker", broker);
    const struct ps_row *gw = row_named(in, "gateway", &idx);
    json_t *gateway = json_pack("{s:o,s:o}", "instances", json_array(), "rate", status_num(routed));
    if (gw != NULL) {
        json_array_append_new(json_object_get(gateway, "instances"), row_json(gw, false));
    }
    json_object_set_new(st, "gateway", gateway);
    json_object_set(st, "topics", in->topics);
    json_object_set_new(st, "groups", in->groups != NULL ? json_incref(in->groups) : json_array());
    if (in->groups_error != NULL) {
        json_object_set_new(st, "groups_error", json_string(in->groups_error));
    }
    json_object_set_new(st, "map", map_json(in->graph));
    char *text = json_dumps(st, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(st);
    return text;
}
