/*
 * The gateway: nginx.conf generated from a manifest and the ports its instances listen on now.
 *
 * A pure function: no file is read or written. The text is meant for Debian's nginx run with
 * the manifest's directory as its prefix:
 *
 *     nginx -p <manifest dir> -c var/gateway/nginx.conf -e var/gateway/error.log
 *
 * Every path in the text (pid, error and access logs, temp and cache directories) is relative to
 * that prefix and lies under var/gateway/, which the caller creates before starting nginx.
 * docs/tandem-cli.md explains each directive.
 */
#ifndef TANDEM_CLI_GATEWAY_H
#define TANDEM_CLI_GATEWAY_H

#include <stddef.h>

#include "cli/manifest.h"

/* The Host of the supervisor's readiness probe: the generated config answers it 204 from nginx
 * itself, unlogged. Under .invalid (RFC 2606): never a real site's name. */
#define CLI_GATEWAY_PROBE_HOST "tandem-probe.invalid"

/* CORS: the request headers a page may always send, and the answer headers a script may read
 * (the Kubernetes export's Ingress says the same: kube.c). */
#define CLI_CORS_HEADERS \
    "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id, traceparent, tracestate"
#define CLI_CORS_EXPOSE "X-Request-Id, ETag, Location, Retry-After"

/* The ports of one service's running instances (what `tandem scale` changes). */
struct cli_instances {
    const int *ports;
    size_t n;
};

/*
 * Renders nginx.conf. `inst` has m->n_services entries, in manifest order; NULL means every
 * service runs its manifest's instances on port + i. A service with no instance keeps its
 * upstream with one `down` server, so its routes answer 502 rather than fall through.
 * Returns 0 and a NUL-terminated malloc'd text in *out (the caller frees it).
 */
int cli_gateway_render(const struct cli_manifest *m, const struct cli_instances *inst, char **out);

#endif
