/*
 * Checks that need the whole manifest: ports and dependencies.
 *
 * Ports. Every service owns the range [port, port + instances); the broker and the gateway own
 * one port each. Any overlap is refused, naming both owners, at the later one's position. Ports
 * are compared regardless of host: two owners on 127.0.0.1 and 0.0.0.0 would clash too.
 *
 * Dependencies. depends_on entries name services or "broker". The graph must be acyclic so that
 * `tandem up` can start services in a topological order; a cycle is reported spelled out
 * ("a -> b -> c -> a") by a depth-first search that keeps the current path on a stack.
 */
#include "cli/manifest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "tandem/error.h"

struct owner {
    const char *what; /* "service 'x'", "the broker", "the gateway" */
    int lo, hi;       /* inclusive */
    struct cli_mark mark;
};

static int check_ports(const struct cli_manifest *m, struct manifest_err *e)
{
    size_t n = 0;
    struct owner *o = xcalloc(m->n_services + 2, sizeof(*o));
    char(*names)[64] = xcalloc(m->n_services + 1, sizeof(*names));
    int rc = 0;
    if (cli_broker_runs(&m->broker)) {
        o[n++] = (struct owner){"the broker", m->broker.listen.port, m->broker.listen.port,
                                m->broker.listen.mark};
    }
    o[n++] = (struct owner){"the gateway", m->gateway.listen.port, m->gateway.listen.port,
                            m->gateway.listen.mark};
    for (size_t i = 0; i < m->n_services; i++) {
        const struct cli_service *s = &m->services[i];
        if (s->instances == 0) {
            continue;
        }
        snprintf(names[i], sizeof(names[i]), "service '%s'", s->name);
        o[n++] = (struct owner){names[i], s->port, s->port + s->instances - 1, s->port_mark};
    }
    for (size_t i = 1; i < n && rc == 0; i++) {
        for (size_t j = 0; j < i && rc == 0; j++) {
            if (o[i].lo <= o[j].hi && o[j].lo <= o[i].hi) {
                int at = o[i].lo > o[j].lo ? o[i].lo : o[j].lo;
                rc = manifest_fail(e, o[i].mark, "port %d of %s (ports %d-%d) clashes with %s", at,
                                   o[i].what, o[i].lo, o[i].hi, o[j].what);
            }
        }
    }
    free(names);
    free(o);
    return rc;
}

enum { WHITE, GREY, BLACK };

struct dfs {
    const struct cli_manifest *m;
    int *color;
    int *stack;
    size_t depth;
};

/* Returns the index where the cycle starts in d->stack, or -1. */
static int dfs_visit(struct dfs *d, int v)
{
    d->color[v] = GREY;
    d->stack[d->depth++] = v;
    const struct cli_service *s = &d->m->services[v];
    for (size_t i = 0; i < s->n_depends_on; i++) {
        int w = cli_manifest_find(d->m, s->depends_on[i]);
        if (w < 0) {
            continue; /* the broker */
        }
        if (d->color[w] == GREY) {
            for (size_t k = 0; k < d->depth; k++) {
                if (d->stack[k] == w) {
                    return (int)k;
                }
            }
        }
        if (d->color[w] == WHITE) {
            int at = dfs_visit(d, w);
            if (at >= 0) {
                return at;
            }
        }
    }
    d->color[v] = BLACK;
    d->depth--;
    return -1;
}

static int check_cycles(const struct cli_manifest *m, struct manifest_err *e)
{
    struct dfs d = {m, xcalloc(m->n_services, sizeof(int)), xcalloc(m->n_services, sizeof(int)), 0};
    int rc = 0;
    for (size_t v = 0; v < m->n_services && rc == 0; v++) {
        if (d.color[v] != WHITE) {
            continue;
        }
        int at = dfs_visit(&d, (int)v);
        if (at < 0) {
            continue;
        }
        char cycle[512];
        size_t off = 0;
        for (size_t k = (size_t)at; k <= d.depth && off < sizeof(cycle); k++) {
            const char *name = m->services[d.stack[k < d.depth ? k : (size_t)at]].name;
            int w = snprintf(cycle + off, sizeof(cycle) - off, "%s%s", k > (size_t)at ? " -> " : "",
                             name);
            off += w > 0 ? (size_t)w : 0;
        }
        const struct cli_service *first = &m->services[d.stack[at]];
        rc = manifest_fail(e, first->deps_mark, "depends_on: dependency cycle: %s", cycle);
    }
    free(d.color);
    free(d.stack);
    return rc;
}

int manifest_check(const struct cli_manifest *m, struct manifest_err *e)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const struct cli_service *s = &m->services[i];
        for (size_t j = 0; j < s->n_depends_on; j++) {
            const char *dep = s->depends_on[j];
            if (strcmp(dep, "broker") == 0 && m->broker.present) {
                continue;
            }
            if (strcmp(dep, "broker") == 0) {
                return manifest_fail(e, s->deps_mark,
                                     "depends_on: service '%s' depends on the broker, but the "
                                     "manifest has no broker",
                                     s->name);
            }
            if (cli_manifest_find(m, dep) < 0) {
                return manifest_fail(e, s->deps_mark,
                                     "depends_on: service '%s' depends on unknown service '%s'",
                                     s->name, dep);
            }
        }
    }
    int rc = check_ports(m, e);
    if (rc == 0) {
        rc = check_cycles(m, e);
    }
    return rc;
}
