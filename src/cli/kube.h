/*
 * Kubernetes manifests from a tandem manifest: what `tandem export kubernetes` writes
 * (docs/scale-out.md has the model, object by object, and what ingress-nginx cannot express).
 *
 * A pure function like the gateway's renderer: the caller passes the manifest and the key pair's
 * contents, and gets back a list of files (a name and its YAML text); nothing is read or written
 * here. The same input gives the same bytes, so the output can be kept under version control and
 * diffed (except the key Secret, which the caller writes with mode 0600 and nobody commits).
 *
 * The files:
 *   broker.yaml         tandem-broker as a StatefulSet of one with a volume, and its Service
 *                       (absent when the services use an external Kafka cluster)
 *   jwt-secrets.yaml    the Secrets jwt-public (the public key) and jwt-private (the private key)
 *   NAME.yaml           per service: a ConfigMap NAME-env (its settings), a Service NAME, a
 *                       PersistentVolumeClaim NAME-data and a StatefulSet NAME, or (a service whose
 *                       data is in PostgreSQL: TANDEM_DATABASE_URL in its env) a Deployment NAME
 *   ingress.yaml        the Ingresses for ingress-nginx that carry the gateway's routes
 *   kustomization.yaml  every file above, for `kubectl apply -k DIR`
 */
#ifndef TANDEM_CLI_KUBE_H
#define TANDEM_CLI_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/manifest.h"

/* Where the binaries are in the image (scripts/image.sh puts them there). */
#define CLI_KUBE_BIN_DIR "/usr/local/bin"
/* The uid and gid the containers run as (the image's user `tandem`). */
#define CLI_KUBE_UID 10001
/* Seconds between SIGTERM's decision and SIGTERM: the preStop sleep, so that the endpoint is out
 * of ingress-nginx's upstreams before the instance stops accepting. */
#define CLI_KUBE_PRESTOP_S 5
/* libtandem's --drain-timeout default (docs/libtandem.md). */
#define CLI_KUBE_DRAIN_S 10

struct cli_kube_opts {
    const char *image;          /* every container's image; required */
    const char *brokers;        /* an external Kafka cluster's bootstrap list ("h1:9092,h2:9092");
                                   NULL: the manifest's broker (broker.yaml) */
    const char *gateway_addr;   /* what 127.0.0.1:<gateway port> in a service's env becomes in the
                                   cluster (the ingress controller's Service, HOST[:PORT]) */
    const char *storage;        /* each service's PersistentVolumeClaim, "1Gi"; required */
    const char *broker_storage; /* the broker's, "10Gi"; required */
    const char *jwt_public;     /* PEM text of the key pair, both or neither (no jwt: section) */
    const char *jwt_private;
};

struct cli_kube_file {
    char *name; /* "users.yaml" */
    char *text;
    bool secret; /* holds a private key: write it 0600 */
};

/*
 * Renders every file. Returns 0 and a malloc'd array of *n files (free with cli_kube_files_free),
 * or TANDEM_EINVAL with a one-line reason in err when the manifest cannot be expressed (a service
 * name that is not a DNS label, tokens on without keys, routes whose order ingress-nginx would
 * change).
 */
int cli_kube_render(const struct cli_manifest *m, const struct cli_kube_opts *o,
                    struct cli_kube_file **files, size_t *n, char *err, size_t err_len);

void cli_kube_files_free(struct cli_kube_file *files, size_t n);

/* `tandem [-f FILE] export kubernetes -o DIR [options]` (export.c): argv after "export". Returns
 * the exit code (0 written, 1 failed, 2 bad usage), having said why on stderr. */
int cli_export_main(const char *manifest, int argc, char **argv);

#endif
