/*
 * Kubernetes manifests from a tandem manifest (kube.h says which files; docs/scale-out.md why
 * each object is what it is).
 *
 * Model. Each thing `tandem up` does on one machine has its Kubernetes counterpart:
 *
 *   tandem up                          Kubernetes
 *   instance i on port + i             replica i (its own pod IP), every replica on `port`
 *   TANDEM_LISTEN 127.0.0.1:PORT       $(POD_IP):PORT (the pod's address, which is also what the
 *                                      fleet's instances tell each other)
 *   var/services/NAME (shared)         the PersistentVolumeClaim NAME-data, mounted by every
 *                                      replica, which are all scheduled on the node that holds it
 *                                      (SQLite's locks are one kernel's)
 *   TANDEM_INSTANCE i                  the StatefulSet's pod index
 *   GET /readyz before routing         readinessProbe /readyz; livenessProbe /healthz
 *   SIGTERM, drain, SIGKILL after 10 s preStop sleep, SIGTERM, terminationGracePeriodSeconds
 *   the manifest's env                 the ConfigMap NAME-env (addresses rewritten: 127.0.0.1:PORT
 *                                      of a service becomes NAME:PORT, the broker's broker:PORT)
 *   var/keys/jwt.{key,pub}             the Secrets jwt-private and jwt-public, mounted read-only
 *   tandem-broker                      a StatefulSet of one with its own volume
 *   the nginx gateway                  Ingresses for ingress-nginx (ingressClassName nginx)
 *
 * A service whose env sets TANDEM_DATABASE_URL keeps its data in PostgreSQL: it is a Deployment
 * with scratch (emptyDir) directories, and its replicas spread over the nodes.
 *
 * Routes. ingress-nginx's Prefix and Exact paths say what tandem's prefix and exact routes say,
 * so a manifest without patterns is exported with them. A pattern (/api/articles/STAR/comments)
 * needs a regular expression, and ingress-nginx's use-regex turns every path of the host into a
 * case-insensitive regex, ordered longest first. So with a pattern every route is exported as
 * route.c's own regex (less the ^ that ingress-nginx adds), and the export refuses when that
 * order would let a prefix take a path from the pattern that takes it in nginx.conf.
 *
 * Determinism: objects and keys come out in manifest order, nothing depends on time or the
 * environment. Strings are double-quoted YAML (JSON escapes), so no value can break the text.
 */
#include "cli/kube.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/gateway.h"
#include "common/mem.h"
#include "tandem/error.h"

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = (o->cap + (size_t)n + 1) * 2;
        o->p = xrealloc(o->p, o->cap);
    }
}

static void out_init(struct out *o)
{
    o->cap = 4096;
    o->len = 0;
    o->p = xmalloc(o->cap);
    o->p[0] = '\0';
}

/* s as a YAML double-quoted scalar: JSON's escapes, which YAML's double-quoted style includes. */
static void put_q(struct out *o, const char *s)
{
    put(o, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            put(o, "\\%c", *c);
        } else if (*c == '\n') {
            put(o, "\\n");
        } else if (*c == '\t') {
            put(o, "\\t");
        } else if (*c < 0x20 || *c == 0x7f) {
            put(o, "\\u%04x", *c);
        } else {
            put(o, "%c", *c);
        }
    }
    put(o, "\"");
}

/* "KEY: \"value\"\n" at an indentation. */
static void put_kv(struct out *o, const char *indent, const char *key, const char *value)
{
    put(o, "%s%s: ", indent, key);
    put_q(o, value);
    put(o, "\n");
}

/* Base64 (RFC 4648 section 4, with padding) of len bytes, as a Secret's data wants it. */
static void put_base64(struct out *o, const unsigned char *p, size_t len)
{
    static const char ABC[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        v |= i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0;
        v |= i + 2 < len ? p[i + 2] : 0;
        put(o, "%c%c%c%c", ABC[(v >> 18) & 63], ABC[(v >> 12) & 63],
            i + 1 < len ? ABC[(v >> 6) & 63] : '=', i + 2 < len ? ABC[v & 63] : '=');
    }
}

static void put_labels(struct out *o, const char *indent, const char *name)
{
    put(o,
        "%sapp.kubernetes.io/name: \"%s\"\n"
        "%sapp.kubernetes.io/part-of: \"tandem\"\n"
        "%sapp.kubernetes.io/managed-by: \"tandem-export\"\n",
        indent, name, indent, indent);
}

/* The head of an object: apiVersion, kind, metadata with the labels of `app`. */
static void put_head(struct out *o, const char *api, const char *kind, const char *name,
                     const char *app)
{
    put(o,
        "apiVersion: %s\n"
        "kind: %s\n"
        "metadata:\n"
        "  name: \"%s\"\n"
        "  labels:\n",
        api, kind, name);
    put_labels(o, "    ", app);
}

/* The file's first line, saying where it came from. */
static void put_origin(struct out *o, const struct cli_manifest *m, const char *what)
{
    const char *base = strrchr(m->path, '/');
    put(o, "# Generated by `tandem export kubernetes` from %s: %s. Do not edit: export again.\n",
        base != NULL ? base + 1 : m->path, what);
}

/* Objects after the first of a file need "---": the origin comment starts the file, so the first
 * object follows it directly and every later one gets a separator. */
static void put_sep(struct out *o, bool *first)
{
    if (!*first) {
        put(o, "---\n");
    }
    *first = false;
}

static const char *env_get(const struct cli_service *s, const char *name)
{
    for (size_t i = 0; i < s->n_env; i++) {
        if (strcmp(s->env[i].name, name) == 0) {
            return s->env[i].value;
        }
    }
    return NULL;
}

/* Data in PostgreSQL: nothing of the service's own on disk to keep. */
static bool svc_stateless(const struct cli_service *s)
{
    const char *url = env_get(s, "TANDEM_DATABASE_URL");
    return url != NULL && url[0] != '\0';
}

/* The external Kafka cluster: the export's --brokers, else the manifest's broker.external; NULL
 * when the manifest runs tandem-broker (the export then writes its StatefulSet). The topics a
 * manifest lists under broker.topics are created by `tandem up`, not by these objects: on
 * Kubernetes they are created beforehand on the cluster (docs/scale-out.md). */
static const char *kube_brokers(const struct cli_manifest *m, const struct cli_kube_opts *o)
{
    return o->brokers != NULL ? o->brokers : m->broker.external;
}

/* What TANDEM_BROKERS is in the cluster: the external list, the broker's Service, or nothing. */
static void brokers_value(const struct cli_manifest *m, const struct cli_kube_opts *o, char *buf,
                          size_t len)
{
    const char *ext = kube_brokers(m, o);
    if (ext != NULL) {
        snprintf(buf, len, "%s", ext);
    } else if (m->broker.present) {
        snprintf(buf, len, "broker:%d", m->broker.listen.port);
    } else {
        buf[0] = '\0';
    }
}

/*
 * The cluster address for a port of this machine: a service's instance port becomes NAME:PORT
 * (its Service), the broker's broker:PORT, the gateway's the ingress controller. NULL: no part of
 * the manifest listens there.
 */
static const char *port_target(const struct cli_manifest *m, const struct cli_kube_opts *o,
                               int port, char *buf, size_t len)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const struct cli_service *s = &m->services[i];
        int n = s->instances > 0 ? s->instances : 1;
        if (port >= s->port && port < s->port + n) {
            snprintf(buf, len, "%s:%d", s->name, s->port);
            return buf;
        }
    }
    if (m->broker.present && kube_brokers(m, o) == NULL && port == m->broker.listen.port) {
        snprintf(buf, len, "broker:%d", port);
        return buf;
    }
    if (port == m->gateway.listen.port) {
        return o->gateway_addr;
    }
    return NULL;
}

/* A manifest env value with 127.0.0.1:PORT and localhost:PORT rewritten by port_target. */
static void put_env_value(struct out *o, const struct cli_manifest *m,
                          const struct cli_kube_opts *opts, const char *v)
{
    struct out r;
    out_init(&r);
    const char *p = v;
    while (*p != '\0') {
        size_t host = strncmp(p, "127.0.0.1:", 10) == 0   ? 10
                      : strncmp(p, "localhost:", 10) == 0 ? 10
                                                          : 0;
        const char *d = p + host;
        int port = 0;
        size_t nd = 0;
        while (host > 0 && d[nd] >= '0' && d[nd] <= '9' && nd < 5) {
            port = port * 10 + (d[nd] - '0');
            nd++;
        }
        char buf[160];
        const char *t = nd > 0 && (d[nd] < '0' || d[nd] > '9')
                            ? port_target(m, opts, port, buf, sizeof(buf))
                            : NULL;
        if (t != NULL) {
            put(&r, "%s", t);
            p = d + nd;
        } else {
            put(&r, "%c", *p);
            p++;
        }
    }
    put_q(o, r.p);
    free(r.p);
}

/* ---- per service --------------------------------------------------------------------------- */

static void put_configmap(struct out *o, const struct cli_manifest *m,
                          const struct cli_kube_opts *opts, const struct cli_service *s)
{
    char name[80], brokers[512];
    snprintf(name, sizeof(name), "%s-env", s->name);
    put_head(o, "v1", "ConfigMap", name, s->name);
    brokers_value(m, opts, brokers, sizeof(brokers));
    bool have_brokers = brokers[0] != '\0' && env_get(s, "TANDEM_BROKERS") == NULL;
    put(o, "data:%s\n", have_brokers || s->n_env > 0 ? "" : " {}");
    if (have_brokers) {
        put_kv(o, "  ", "TANDEM_BROKERS", brokers);
    }
    for (size_t i = 0; i < s->n_env; i++) {
        put(o, "  %s: ", s->env[i].name);
        put_env_value(o, m, opts, s->env[i].value);
        put(o, "\n");
    }
}

static void put_service(struct out *o, const char *name, int port, const char *port_name)
{
    put_head(o, "v1", "Service", name, name);
    put(o,
        "spec:\n"
        "  type: ClusterIP\n"
        "  selector:\n"
        "    app.kubernetes.io/name: \"%s\"\n"
        "  ports:\n"
        "    - name: %s\n"
        "      protocol: TCP\n"
        "      port: %d\n"
        "      targetPort: %s\n",
        name, port_name, port, port_name);
}

/* A claim of `size`: an object of its own (template false) or an item of a StatefulSet's
 * volumeClaimTemplates. */
static void put_pvc(struct out *o, const char *name, const char *app, const char *size,
                    bool template)
{
    const char *in = template ? "      " : "";
    if (template) {
        put(o, "    - metadata:\n        name: \"%s\"\n", name);
    } else {
        put_head(o, "v1", "PersistentVolumeClaim", name, app);
    }
    put(o,
        "%sspec:\n"
        "%s  accessModes: [\"ReadWriteOnce\"]\n"
        "%s  resources:\n"
        "%s    requests:\n"
        "%s      storage: \"%s\"\n",
        in, in, in, in, in, size);
}

/* Seconds a pod gets from its deletion to SIGKILL: the preStop sleep, the drain (the service's
 * TANDEM_DRAIN_TIMEOUT or libtandem's 10 s), and 5 s for what follows the drain (exit). */
static int grace_seconds(const struct cli_service *s)
{
    const char *d = env_get(s, "TANDEM_DRAIN_TIMEOUT");
    int drain = CLI_KUBE_DRAIN_S;
    if (d != NULL) {
        char *end;
        long v = strtol(d, &end, 10);
        if (end != d && *end == '\0' && v >= 0 && v <= 3600) {
            drain = (int)v;
        }
    }
    return CLI_KUBE_PRESTOP_S + drain + 5;
}

static void put_container_env(struct out *o, const struct cli_manifest *m,
                              const struct cli_service *s, bool stateful)
{
    put(o,
        "          env:\n"
        "            - name: POD_IP\n"
        "              valueFrom:\n"
        "                fieldRef:\n"
        "                  fieldPath: status.podIP\n"
        "            - name: TANDEM_LISTEN\n"
        "              value: \"$(POD_IP):%d\"\n",
        s->port);
    if (stateful) {
        put(o, "            - name: TANDEM_INSTANCE\n"
               "              valueFrom:\n"
               "                fieldRef:\n"
               "                  fieldPath: metadata.labels['apps.kubernetes.io/pod-index']\n"
               "            - name: TANDEM_DATA_DIR\n"
               "              value: \"/var/lib/tandem/data\"\n"
               "            - name: TANDEM_INSTANCE_DIR\n"
               "              value: \"/var/lib/tandem/data/$(TANDEM_INSTANCE)\"\n");
    } else {
        put(o, "            - name: TANDEM_DATA_DIR\n"
               "              value: \"/var/lib/tandem/data\"\n"
               "            - name: TANDEM_INSTANCE_DIR\n"
               "              value: \"/var/lib/tandem/instance\"\n");
    }
    if (m->jwt.present) {
        put(o, "            - name: TANDEM_JWT_PUBLIC_KEY\n"
               "              value: \"/etc/tandem/jwt/jwt.pub\"\n");
    }
    if (m->jwt.present && s->jwt_sign) {
        put(o, "            - name: TANDEM_JWT_PRIVATE_KEY\n"
               "              value: \"/etc/tandem/jwt-private/jwt.key\"\n");
    }
}

static void put_container(struct out *o, const struct cli_manifest *m,
                          const struct cli_kube_opts *opts, const struct cli_service *s,
                          bool stateful)
{
    const char *base = strrchr(s->binary, '/');
    base = base != NULL ? base + 1 : s->binary;
    put(o, "      containers:\n        - name: \"%s\"\n          image: ", s->name);
    put_q(o, opts->image);
    put(o, "\n          command: [\"%s/%s\"]\n", CLI_KUBE_BIN_DIR, base);
    if (s->n_args > 0) {
        put(o, "          args:\n");
        for (size_t i = 0; i < s->n_args; i++) {
            put(o, "            - ");
            put_q(o, s->args[i]);
            put(o, "\n");
        }
    }
    put(o,
        "          ports:\n"
        "            - name: http\n"
        "              containerPort: %d\n"
        "              protocol: TCP\n"
        "          envFrom:\n"
        "            - configMapRef:\n"
        "                name: \"%s-env\"\n",
        s->port, s->name);
    put_container_env(o, m, s, stateful);
    /* startup: up to 60 s to serve at all; then liveness restarts an instance that stops
     * answering /healthz for 30 s, and readiness takes it out of the Service while /readyz fails
     * (the broker or a dependency down) */
    put(o,
        "          startupProbe:\n"
        "            httpGet: { path: /healthz, port: http }\n"
        "            periodSeconds: 1\n"
        "            timeoutSeconds: 2\n"
        "            failureThreshold: 60\n"
        "          readinessProbe:\n"
        "            httpGet: { path: /readyz, port: http }\n"
        "            periodSeconds: 5\n"
        "            timeoutSeconds: 2\n"
        "            failureThreshold: 2\n"
        "          livenessProbe:\n"
        "            httpGet: { path: /healthz, port: http }\n"
        "            periodSeconds: 10\n"
        "            timeoutSeconds: 2\n"
        "            failureThreshold: 3\n"
        "          lifecycle:\n"
        "            preStop:\n"
        "              exec:\n"
        "                command: [\"sleep\", \"%d\"]\n"
        "          resources:\n"
        "            requests:\n"
        "              cpu: \"100m\"\n"
        "              memory: \"%s\"\n"
        "          securityContext:\n"
        "            allowPrivilegeEscalation: false\n"
        "            readOnlyRootFilesystem: true\n"
        "          volumeMounts:\n"
        "            - name: data\n"
        "              mountPath: /var/lib/tandem/data\n"
        "            - name: tmp\n"
        "              mountPath: /tmp\n",
        CLI_KUBE_PRESTOP_S, s->jwt_sign ? "256Mi" : "128Mi");
    if (!stateful) {
        put(o, "            - name: instance\n"
               "              mountPath: /var/lib/tandem/instance\n");
    }
    if (m->jwt.present) {
        put(o, "            - name: jwt-public\n"
               "              mountPath: /etc/tandem/jwt\n"
               "              readOnly: true\n");
    }
    if (m->jwt.present && s->jwt_sign) {
        put(o, "            - name: jwt-private\n"
               "              mountPath: /etc/tandem/jwt-private\n"
               "              readOnly: true\n");
    }
}

static void put_volumes(struct out *o, const struct cli_manifest *m, const struct cli_service *s,
                        bool stateful)
{
    /* the root file system is read-only: SQLite's temporary files go to /tmp */
    put(o, "      volumes:\n"
           "        - name: tmp\n"
           "          emptyDir: {}\n");
    if (stateful) {
        put(o,
            "        - name: data\n"
            "          persistentVolumeClaim:\n"
            "            claimName: \"%s-data\"\n",
            s->name);
    } else {
        put(o, "        - name: data\n"
               "          emptyDir: {}\n"
               "        - name: instance\n"
               "          emptyDir: {}\n");
    }
    /* 288 = 0440: read by the pod's group (fsGroup), which the files belong to */
    if (m->jwt.present) {
        put(o, "        - name: jwt-public\n"
               "          secret:\n"
               "            secretName: jwt-public\n"
               "            defaultMode: 288\n");
    }
    if (m->jwt.present && s->jwt_sign) {
        put(o, "        - name: jwt-private\n"
               "          secret:\n"
               "            secretName: jwt-private\n"
               "            defaultMode: 288\n");
    }
}

static void put_workload(struct out *o, const struct cli_manifest *m,
                         const struct cli_kube_opts *opts, const struct cli_service *s)
{
    bool stateful = !svc_stateless(s);
    put_head(o, "apps/v1", stateful ? "StatefulSet" : "Deployment", s->name, s->name);
    put(o, "spec:\n  replicas: %d\n", s->instances);
    if (stateful) {
        /* every replica starts at once, as under `tandem up`; all on the volume's node */
        put(o,
            "  serviceName: \"%s\"\n"
            "  podManagementPolicy: Parallel\n"
            "  updateStrategy:\n"
            "    type: RollingUpdate\n",
            s->name);
    } else {
        put(o, "  strategy:\n"
               "    type: RollingUpdate\n"
               "    rollingUpdate: { maxUnavailable: 0, maxSurge: 1 }\n");
    }
    put(o, "  selector:\n    matchLabels:\n      app.kubernetes.io/name: \"%s\"\n", s->name);
    put(o, "  template:\n    metadata:\n      labels:\n");
    put_labels(o, "        ", s->name);
    put(o,
        "    spec:\n"
        "      terminationGracePeriodSeconds: %d\n"
        "      enableServiceLinks: false\n"
        "      securityContext:\n"
        "        runAsNonRoot: true\n"
        "        runAsUser: %d\n"
        "        runAsGroup: %d\n"
        "        fsGroup: %d\n",
        grace_seconds(s), CLI_KUBE_UID, CLI_KUBE_UID, CLI_KUBE_UID);
    if (stateful) {
        put(o,
            "      affinity:\n"
            "        podAffinity:\n"
            "          requiredDuringSchedulingIgnoredDuringExecution:\n"
            "            - topologyKey: kubernetes.io/hostname\n"
            "              labelSelector:\n"
            "                matchLabels:\n"
            "                  app.kubernetes.io/name: \"%s\"\n",
            s->name);
    }
    put_container(o, m, opts, s, stateful);
    put_volumes(o, m, s, stateful);
}

static char *render_service(const struct cli_manifest *m, const struct cli_kube_opts *opts,
                            const struct cli_service *s)
{
    struct out o;
    out_init(&o);
    char what[128], name[80];
    bool first = true;
    snprintf(what, sizeof(what), "the service %s", s->name);
    put_origin(&o, m, what);
    put_sep(&o, &first);
    put_configmap(&o, m, opts, s);
    put_sep(&o, &first);
    put_service(&o, s->name, s->port, "http");
    if (!svc_stateless(s)) {
        put_sep(&o, &first);
        snprintf(name, sizeof(name), "%s-data", s->name);
        put_pvc(&o, name, s->name, opts->storage, false);
    }
    put_sep(&o, &first);
    put_workload(&o, m, opts, s);
    return o.p;
}

/* ---- the broker ---------------------------------------------------------------------------- */

static char *render_broker(const struct cli_manifest *m, const struct cli_kube_opts *opts)
{
    struct out o;
    out_init(&o);
    bool first = true;
    int port = m->broker.listen.port;
    const char *base = strrchr(m->broker.binary, '/');
    put_origin(&o, m, "tandem-broker, one node with its own volume");
    put_sep(&o, &first);
    put_service(&o, "broker", port, "kafka");
    put_sep(&o, &first);
    put_head(&o, "apps/v1", "StatefulSet", "broker", "broker");
    put(&o, "spec:\n"
            "  replicas: 1\n"
            "  serviceName: broker\n"
            "  selector:\n"
            "    matchLabels:\n"
            "      app.kubernetes.io/name: \"broker\"\n"
            "  template:\n"
            "    metadata:\n"
            "      labels:\n");
    put_labels(&o, "        ", "broker");
    put(&o,
        "    spec:\n"
        "      terminationGracePeriodSeconds: 30\n"
        "      enableServiceLinks: false\n"
        "      securityContext:\n"
        "        runAsNonRoot: true\n"
        "        runAsUser: %d\n"
        "        runAsGroup: %d\n"
        "        fsGroup: %d\n"
        "      containers:\n"
        "        - name: broker\n"
        "          image: ",
        CLI_KUBE_UID, CLI_KUBE_UID, CLI_KUBE_UID);
    put_q(&o, opts->image);
    /* clients reach it by its Service's name, which it gives them in Metadata */
    put(&o,
        "\n          command: [\"%s/%s\"]\n"
        "          args:\n"
        "            - \"--listen\"\n"
        "            - \"0.0.0.0:%d\"\n"
        "            - \"--advertised-host\"\n"
        "            - \"broker\"\n"
        "            - \"--data-dir\"\n"
        "            - \"/var/lib/tandem/broker\"\n",
        CLI_KUBE_BIN_DIR, base != NULL ? base + 1 : "tandem-broker", port);
    for (size_t i = 0; i < m->broker.n_args; i++) {
        put(&o, "            - ");
        put_q(&o, m->broker.args[i]);
        put(&o, "\n");
    }
    put(&o,
        "          ports:\n"
        "            - name: kafka\n"
        "              containerPort: %d\n"
        "              protocol: TCP\n"
        "          readinessProbe:\n"
        "            tcpSocket: { port: kafka }\n"
        "            periodSeconds: 2\n"
        "          livenessProbe:\n"
        "            tcpSocket: { port: kafka }\n"
        "            periodSeconds: 10\n"
        "            failureThreshold: 6\n"
        "          resources:\n"
        "            requests:\n"
        "              cpu: \"250m\"\n"
        "              memory: \"256Mi\"\n"
        "          securityContext:\n"
        "            allowPrivilegeEscalation: false\n"
        "            readOnlyRootFilesystem: true\n"
        "          volumeMounts:\n"
        "            - name: data\n"
        "              mountPath: /var/lib/tandem/broker\n"
        "  volumeClaimTemplates:\n",
        port);
    put_pvc(&o, "data", "broker", opts->broker_storage, true);
    return o.p;
}

/* ---- the key pair -------------------------------------------------------------------------- */

static char *render_secrets(const struct cli_manifest *m, const struct cli_kube_opts *opts)
{
    struct out o;
    out_init(&o);
    bool first = true;
    put_origin(&o, m, "the token key pair (a private key: never commit this file)");
    put_sep(&o, &first);
    put_head(&o, "v1", "Secret", "jwt-public", "jwt");
    put(&o, "type: Opaque\ndata:\n  jwt.pub: ");
    put_base64(&o, (const unsigned char *)opts->jwt_public, strlen(opts->jwt_public));
    put(&o, "\n");
    put_sep(&o, &first);
    put_head(&o, "v1", "Secret", "jwt-private", "jwt");
    put(&o, "type: Opaque\ndata:\n  jwt.key: ");
    put_base64(&o, (const unsigned char *)opts->jwt_private, strlen(opts->jwt_private));
    put(&o, "\n");
    return o.p;
}

/* ---- the Ingresses ------------------------------------------------------------------------- */

static bool has_patterns(const struct cli_manifest *m)
{
    for (size_t i = 0; i < m->n_services; i++) {
        for (size_t j = 0; j < m->services[i].n_routes; j++) {
            if (cli_route_is_pattern(m->services[i].routes[j].path)) {
                return true;
            }
        }
    }
    return false;
}

/* route.c's regex without its leading ^ (ingress-nginx writes location ~* "^PATH"). */
static int route_ingress_regex(const struct cli_route *r, char *buf, size_t len)
{
    char re[1100];
    if (cli_route_regex(r, re, sizeof(re)) != 0 || strlen(re) >= len + 1) {
        return -1;
    }
    snprintf(buf, len, "%s", re + 1);
    return 0;
}

/* With regexes, ingress-nginx tries the longest first: a pattern must be longer than any prefix
 * it takes paths out of, or the prefix would take them. */
static int check_regex_order(const struct cli_manifest *m, char *err, size_t err_len)
{
    for (size_t i = 0; i < m->n_services; i++) {
        for (size_t j = 0; j < m->services[i].n_routes; j++) {
            const struct cli_route *p = &m->services[i].routes[j];
            if (!cli_route_is_pattern(p->path)) {
                continue;
            }
            char rp[1100], rr[1100];
            if (route_ingress_regex(p, rp, sizeof(rp)) != 0) {
                snprintf(err, err_len, "route %s: too long for a regex", p->path);
                return TANDEM_EINVAL;
            }
            for (size_t k = 0; k < m->n_services; k++) {
                for (size_t l = 0; l < m->services[k].n_routes; l++) {
                    const struct cli_route *r = &m->services[k].routes[l];
                    if (r == p || !cli_routes_overlap(p, r) ||
                        route_ingress_regex(r, rr, sizeof(rr)) != 0 || strlen(rp) > strlen(rr)) {
                        continue;
                    }
                    snprintf(err, err_len,
                             "routes %s and %s: ingress-nginx tries regex paths longest first, so "
                             "%s would take paths that %s takes in the gateway; ingress-nginx "
                             "cannot express this (docs/scale-out.md)",
                             p->path, r->path, r->path, p->path);
                    return TANDEM_EINVAL;
                }
            }
        }
    }
    return 0;
}

/* What makes two routes of one service need different Ingresses: the annotations they differ
 * in (CORS methods, rate limit). */
static bool same_group(const struct cli_route *a, const struct cli_route *b)
{
    return a->methods == b->methods && a->rate == b->rate && a->rate_per == b->rate_per &&
           a->burst == b->burst;
}

static void methods_text(unsigned methods, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    methods = methods == 0 ? ~0U : methods;
    methods |= (methods & CLI_GET) ? CLI_HEAD : 0;
    for (unsigned bit = 1; bit <= CLI_OPTIONS && off < len; bit <<= 1) {
        if (methods & bit) {
            int n =
                snprintf(buf + off, len - off, "%s%s", off > 0 ? ", " : "", cli_method_name(bit));
            off += n > 0 ? (size_t)n : 0;
        }
    }
}

#define ANN "    nginx.ingress.kubernetes.io/"

/* The annotations every Ingress carries: the gateway's limits, timeouts, retries and CORS. */
static void put_common_annotations(struct out *o, const struct cli_manifest *m, bool regex,
                                   unsigned methods)
{
    put(o, "  annotations:\n");
    if (regex) {
        put(o, ANN "use-regex: \"true\"\n");
    }
    put(o,
        ANN "proxy-body-size: \"1m\"\n" ANN "proxy-connect-timeout: \"1\"\n" ANN
            "proxy-read-timeout: \"%d\"\n" ANN
            "proxy-next-upstream: \"error timeout http_502 http_503\"\n" ANN
            "proxy-next-upstream-tries: \"3\"\n" ANN "proxy-next-upstream-timeout: \"10\"\n" ANN
            "limit-connections: \"%d\"\n",
        m->gateway.read_timeout, m->gateway.max_conns_per_client);
    const struct cli_cors *c = &m->gateway.cors;
    if (!c->present) {
        return;
    }
    char list[2048], meth[96];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; i < c->n_origins && off < sizeof(list); i++) {
        int n = snprintf(list + off, sizeof(list) - off, "%s%s", i > 0 ? ", " : "", c->origins[i]);
        off += n > 0 ? (size_t)n : 0;
    }
    methods_text(methods, meth, sizeof(meth));
    put(o, ANN "enable-cors: \"true\"\n");
    put_kv(o, ANN, "cors-allow-origin", list);
    put_kv(o, ANN, "cors-allow-methods", meth);
    put(o, ANN "cors-allow-headers: \"%s", CLI_CORS_HEADERS);
    for (size_t i = 0; i < c->n_headers; i++) {
        put(o, ", %s", c->headers[i]);
    }
    put(o, "\"\n");
    put(o,
        ANN "cors-expose-headers: \"%s\"\n" ANN "cors-max-age: \"%d\"\n" ANN
            "cors-allow-credentials: \"false\"\n",
        CLI_CORS_EXPOSE, c->max_age);
}

static void put_path(struct out *o, const struct cli_route *r, bool regex, const char *svc,
                     int port)
{
    char re[1100];
    if (regex && route_ingress_regex(r, re, sizeof(re)) == 0) {
        put(o, "          - path: ");
        put_q(o, re);
        put(o, "\n            pathType: ImplementationSpecific\n");
    } else {
        put(o, "          - path: ");
        put_q(o, r->path);
        put(o, "\n            pathType: %s\n", r->exact ? "Exact" : "Prefix");
    }
    put(o,
        "            backend:\n"
        "              service:\n"
        "                name: \"%s\"\n"
        "                port: { number: %d }\n",
        svc, port);
}

static void put_ingress_head(struct out *o, const char *name, const char *app)
{
    put(o,
        "apiVersion: networking.k8s.io/v1\n"
        "kind: Ingress\n"
        "metadata:\n"
        "  name: \"%s\"\n"
        "  labels:\n",
        name);
    put_labels(o, "    ", app);
}

static void put_ingress_spec(struct out *o)
{
    put(o, "spec:\n"
           "  ingressClassName: nginx\n"
           "  rules:\n"
           "    - http:\n"
           "        paths:\n");
}

/* One Ingress per service and group of routes with the same annotations: NAME, NAME-2, ... */
static void put_service_ingresses(struct out *o, const struct cli_manifest *m,
                                  const struct cli_service *s, bool regex, bool *first)
{
    int group = 0;
    for (size_t j = 0; j < s->n_routes; j++) {
        const struct cli_route *r = &s->routes[j];
        bool seen = false;
        for (size_t k = 0; k < j && !seen; k++) {
            seen = same_group(&s->routes[k], r);
        }
        if (seen) {
            continue;
        }
        char name[80];
        if (group++ == 0) {
            snprintf(name, sizeof(name), "%s", s->name);
        } else {
            snprintf(name, sizeof(name), "%s-%d", s->name, group);
        }
        put_sep(o, first);
        put_ingress_head(o, name, s->name);
        put_common_annotations(o, m, regex, r->methods);
        if (r->rate > 0) {
            /* ingress-nginx's burst is rate x multiplier: the smallest that holds the burst */
            unsigned mult = (r->burst + r->rate - 1) / r->rate;
            put(o, ANN "%s: \"%u\"\n" ANN "limit-burst-multiplier: \"%u\"\n",
                r->rate_per == 'm' ? "limit-rpm" : "limit-rps", r->rate, mult > 0 ? mult : 1);
        }
        put_ingress_spec(o);
        for (size_t k = j; k < s->n_routes; k++) {
            if (same_group(&s->routes[k], r)) {
                put_path(o, &s->routes[k], regex, s->name, s->port);
            }
        }
    }
}

/* The instances' own endpoints, which the gateway answers 404: a route that would take one
 * (a route for /) gets an Exact path for it that ingress-nginx refuses to every address (403). */
static void put_internal_ingress(struct out *o, const struct cli_manifest *m, bool regex,
                                 bool *first)
{
    bool any = false;
    for (size_t p = 0; cli_internal_paths[p] != NULL; p++) {
        const struct cli_service *taker = NULL;
        for (size_t i = 0; i < m->n_services && taker == NULL; i++) {
            for (size_t j = 0; j < m->services[i].n_routes && taker == NULL; j++) {
                if (cli_route_takes(&m->services[i].routes[j], cli_internal_paths[p])) {
                    taker = &m->services[i];
                }
            }
        }
        if (taker == NULL) {
            continue;
        }
        if (!any) {
            put_sep(o, first);
            put_ingress_head(o, "internal-paths", "gateway");
            put_common_annotations(o, m, regex, 0);
            put(o, ANN "denylist-source-range: \"0.0.0.0/0, ::/0\"\n");
            put_ingress_spec(o);
            any = true;
        }
        char path[64];
        snprintf(path, sizeof(path), "%s", cli_internal_paths[p]);
        struct cli_route exact = {.path = path, .exact = true};
        put_path(o, &exact, regex, taker->name, taker->port);
    }
}

static char *render_ingress(const struct cli_manifest *m, bool regex)
{
    struct out o;
    out_init(&o);
    bool first = true;
    put_origin(&o, m, "the gateway's routes, for ingress-nginx");
    for (size_t i = 0; i < m->n_services; i++) {
        put_service_ingresses(&o, m, &m->services[i], regex, &first);
    }
    if (!m->gateway.expose_internal) {
        put_internal_ingress(&o, m, regex, &first);
    }
    return o.p;
}

/* ---- all of it ----------------------------------------------------------------------------- */

/* [a-z]([-a-z0-9]*[a-z0-9])?: what a Service's name must be (RFC 1035 label). */
static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48 || s[0] < 'a' || s[0] > 'z' || s[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        bool ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static void add_file(struct cli_kube_file **files, size_t *n, const char *name, char *text,
                     bool secret)
{
    *files = xrealloc(*files, (*n + 1) * sizeof(**files));
    (*files)[*n].name = xstrndup(name, strlen(name));
    (*files)[*n].text = text;
    (*files)[*n].secret = secret;
    (*n)++;
}

static int check(const struct cli_manifest *m, const struct cli_kube_opts *o, char *err,
                 size_t err_len)
{
    for (size_t i = 0; i < m->n_services; i++) {
        const char *name = m->services[i].name;
        if (!dns_label(name) || strcmp(name, "internal-paths") == 0 || strcmp(name, "jwt") == 0) {
            snprintf(err, err_len,
                     "service %s: Kubernetes names a Service with a DNS label ([a-z], then "
                     "[a-z0-9-], not ending in '-'; not jwt or internal-paths): rename it",
                     name);
            return TANDEM_EINVAL;
        }
    }
    if (m->jwt.present && (o->jwt_public == NULL || o->jwt_private == NULL)) {
        snprintf(err, err_len, "jwt: the key pair is needed for its Secrets");
        return TANDEM_EINVAL;
    }
    return has_patterns(m) ? check_regex_order(m, err, err_len) : 0;
}

int cli_kube_render(const struct cli_manifest *m, const struct cli_kube_opts *o,
                    struct cli_kube_file **files, size_t *n, char *err, size_t err_len)
{
    *files = NULL;
    *n = 0;
    int rc = check(m, o, err, err_len);
    if (rc != 0) {
        return rc;
    }
    if (m->broker.present && kube_brokers(m, o) == NULL) {
        add_file(files, n, "broker.yaml", render_broker(m, o), false);
    }
    if (m->jwt.present) {
        add_file(files, n, "jwt-secrets.yaml", render_secrets(m, o), true);
    }
    for (size_t i = 0; i < m->n_services; i++) {
        char name[80];
        snprintf(name, sizeof(name), "%s.yaml", m->services[i].name);
        add_file(files, n, name, render_service(m, o, &m->services[i]), false);
    }
    add_file(files, n, "ingress.yaml", render_ingress(m, has_patterns(m)), false);
    struct out k;
    out_init(&k);
    put_origin(&k, m, "every file, for `kubectl apply -k`");
    put(&k, "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\n"
            "resources:\n");
    for (size_t i = 0; i < *n; i++) {
        put(&k, "  - %s\n", (*files)[i].name);
    }
    add_file(files, n, "kustomization.yaml", k.p, false);
    return 0;
}

void cli_kube_files_free(struct cli_kube_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].name);
        free(files[i].text);
    }
    free(files);
}
