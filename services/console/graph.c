/*
 * The live map: the system as a graph drawn from what flows, not from a diagram.
 *
 * Nodes: the gateway, every service the supervisor runs, every topic, every consumer group, and
 * any publisher that is not one of the services (records written by kcat, say: an "external"
 * node named by its CloudEvents source, or "(no source)").
 *
 * Edges, each with the rate flowing now (per second, over the poller's window):
 *
 *   route      gateway -> service    requests the service answered on routes outside /internal/
 *                                    (the gateway is the only caller of those in a tandem
 *                                    system; calls between services use /internal/ routes)
 *   call       service -> service    calls its HTTP client made (tandem_http_client_calls_total
 *                                    {upstream}), the upstream's port naming the service
 *   publish    service -> topic      records whose ce_source names the service
 *   subscribe  topic -> group        the group has committed offsets of the topic; weight = its
 *                                    commits per second (records consumed)
 *
 * An edge appears once something has flowed along it (a subscription: once the group lists the
 * topic) and then stays, with rate 0 while nothing flows, so the map does not flicker with the
 * traffic; it goes when one of its ends goes (a topic deleted, a group removed). Where the map is
 * laid out (layers: gateway, services, topics, groups) is the page's business (web/src/console).
 *
 * Pure; tests/unit/test_console_graph.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

const char *graph_node_kind(enum gnode_kind k)
{
    static const char *const NAMES[] = {[GN_GATEWAY] = "gateway",
                                        [GN_SERVICE] = "service",
                                        [GN_TOPIC] = "topic",
                                        [GN_GROUP] = "group",
                                        [GN_EXTERNAL] = "external"};
    return NAMES[k];
}

const char *graph_edge_kind(enum gedge_kind k)
{
    static const char *const NAMES[] = {[GE_ROUTE] = "route",
                                        [GE_CALL] = "call",
                                        [GE_PUBLISH] = "publish",
                                        [GE_SUBSCRIBE] = "subscribe"};
    return NAMES[k];
}

static struct gnode *node_add(struct graph *g, enum gnode_kind kind, const char *prefix,
                              const char *name)
{
    char id[sizeof(g->nodes[0].id)];
    snprintf(id, sizeof(id), "%s%s", prefix, name);
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (strcmp(g->nodes[i].id, id) == 0) {
            return &g->nodes[i];
        }
    }
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 32;
        struct gnode *n = realloc(g->nodes, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        g->nodes = n;
        g->cap_nodes = cap;
    }
    struct gnode *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->up = true;
    return n;
}

static bool node_exists(const struct graph *g, const char *id)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (strcmp(g->nodes[i].id, id) == 0) {
            return true;
        }
    }
    return false;
}

static struct gedge *edge_find(struct graph *g, enum gedge_kind kind, const char *from,
                               const char *to)
{
    for (size_t i = 0; i < g->n_edges; i++) {
        struct gedge *e = &g->edges[i];
        if (e->kind == kind && strcmp(e->from, from) == 0 && strcmp(e->to, to) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Sets the edge's rate now (adding it first); a flow of 0 only keeps an edge already drawn,
 * unless `always` (a subscription exists whatever flows). */
static void edge_flow(struct graph *g, enum gedge_kind kind, const char *from, const char *to,
                      double rate, bool always, int64_t now)
{
    struct gedge *e = edge_find(g, kind, from, to);
    if (e == NULL) {
        if (!(rate > 0) && !always) {
            return;
        }
        if (g->n_edges == g->cap_edges) {
            size_t cap = g->cap_edges ? g->cap_edges * 2 : 32;
            struct gedge *n = realloc(g->edges, cap * sizeof(*n));
            if (n == NULL) {
                return;
            }
            g->edges = n;
            g->cap_edges = cap;
        }
        e = &g->edges[g->n_edges++];
        memset(e, 0, sizeof(*e));
        e->kind = kind;
        snprintf(e->from, sizeof(e->from), "%s", from);
        snprintf(e->to, sizeof(e->to), "%s", to);
    }
    e->rate += rate > 0 ? rate : 0;
    if (rate > 0 || always) {
        e->seen_ms = now;
    }
}

const char *graph_source_service(const char *source, const char *const *names, size_t n)
{
    if (source == NULL || source[0] == '\0') {
        return NULL;
    }
    const char *last = strrchr(source, '/');
    const char *tail = last != NULL ? last + 1 : source;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tail, names[i]) == 0) {
            return names[i];
        }
    }
    return NULL;
}

/* The service whose instance listens on the port of url ("http://127.0.0.1:8111/..."), or NULL. */
static const char *service_of_url(const struct graph_input *in, const char *url)
{
    const char *host = strstr(url, "://");
    host = host != NULL ? host + 3 : url;
    const char *colon = strchr(host, ':');
    if (colon == NULL) {
        return NULL;
    }
    int port = atoi(colon + 1);
    for (size_t i = 0; i < in->n_ports; i++) {
        if (in->ports[i].port == port) {
            return in->ports[i].service;
        }
    }
    return NULL;
}

void graph_update(struct graph *g, const struct graph_input *in, int64_t now_ms)
{
    /* Nodes: rebuilt from what exists now. */
    g->n_nodes = 0;
    if (in->gateway) {
        struct gnode *gw = node_add(g, GN_GATEWAY, "", "gateway");
        if (gw != NULL) {
            gw->up = in->gateway_up;
        }
    }
    const char *names[256];
    size_t n_names = 0;
    for (size_t i = 0; i < in->n_services; i++) {
        struct gnode *s = node_add(g, GN_SERVICE, "svc:", in->services[i].name);
        if (s != NULL) {
            s->up = in->services[i].up;
        }
        if (n_names < sizeof(names) / sizeof(names[0])) {
            names[n_names++] = in->services[i].name;
        }
    }
    for (size_t i = 0; i < in->n_topics; i++) {
        node_add(g, GN_TOPIC, "topic:", in->topics[i].name);
    }
    for (size_t i = 0; i < in->n_subs; i++) {
        struct gnode *gr = node_add(g, GN_GROUP, "group:", in->subs[i].group);
        if (gr != NULL && in->subs[i].service != NULL) {
            snprintf(gr->service, sizeof(gr->service), "%s", in->subs[i].service);
        }
    }
    /* Publishers that are not services: nodes of their own, named by their source. */
    for (size_t i = 0; i < in->n_publishes; i++) {
        const struct gin_publish *p = &in->publishes[i];
        if (graph_source_service(p->source, names, n_names) == NULL) {
            node_add(g, GN_EXTERNAL, "ext:", p->source[0] ? p->source : "(no source)");
        }
    }

    /* Edges: what flows now; then the ones drawn before lose their rate, or go with an end. */
    for (size_t i = 0; i < g->n_edges; i++) {
        g->edges[i].rate = 0;
    }
    char from[sizeof(g->edges[0].from)], to[sizeof(g->edges[0].to)];
    for (size_t i = 0; i < in->n_services && in->gateway; i++) {
        snprintf(to, sizeof(to), "svc:%s", in->services[i].name);
        edge_flow(g, GE_ROUTE, "gateway", to, in->services[i].public_rate, false, now_ms);
    }
    for (size_t i = 0; i < in->n_calls; i++) {
        const char *target = service_of_url(in, in->calls[i].to_url);
        if (target != NULL) {
            snprintf(from, sizeof(from), "svc:%s", in->calls[i].from);
            snprintf(to, sizeof(to), "svc:%s", target);
            edge_flow(g, GE_CALL, from, to, in->calls[i].rate, false, now_ms);
        }
    }
    for (size_t i = 0; i < in->n_publishes; i++) {
        const struct gin_publish *p = &in->publishes[i];
        const char *svc = graph_source_service(p->source, names, n_names);
        if (svc != NULL) {
            snprintf(from, sizeof(from), "svc:%s", svc);
        } else {
            snprintf(from, sizeof(from), "ext:%s", p->source[0] ? p->source : "(no source)");
        }
        snprintf(to, sizeof(to), "topic:%s", p->topic);
        /* a publisher listed at all has been seen (the tail keeps history): drawn at rate 0 */
        edge_flow(g, GE_PUBLISH, from, to, p->rate, true, now_ms);
    }
    for (size_t i = 0; i < in->n_subs; i++) {
        snprintf(from, sizeof(from), "topic:%s", in->subs[i].topic);
        snprintf(to, sizeof(to), "group:%s", in->subs[i].group);
        edge_flow(g, GE_SUBSCRIBE, from, to, in->subs[i].rate, true, now_ms);
    }
    size_t kept = 0;
    for (size_t i = 0; i < g->n_edges; i++) {
        struct gedge *e = &g->edges[i];
        bool ends = node_exists(g, e->from) && node_exists(g, e->to);
        bool listed = e->kind != GE_SUBSCRIBE || e->seen_ms == now_ms;
        if (ends && listed) {
            g->edges[kept++] = *e;
        }
    }
    g->n_edges = kept;
}

void graph_cleanup(struct graph *g)
{
    free(g->nodes);
    free(g->edges);
    memset(g, 0, sizeof(*g));
}
