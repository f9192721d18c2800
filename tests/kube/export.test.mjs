// `tandem export kubernetes` (docs/scale-out.md): the export of the repository's tandem.yaml and
// of a second, small manifest written here
//   - validates against the Kubernetes API schemas (k8s-schema.mjs: kubernetes-models' validators
//     and unknown fields), plus the API server's own rules on names, paths and keys that no
//     schema carries;
//   - matches the manifest it came from: every service's instance count, port, probes, drain,
//     env (its addresses rewritten for the cluster), keys, volume; the broker; and the routes: the
//     Ingress paths, matched the way ingress-nginx matches them, send each request path to the
//     service the gateway's nginx.conf sends it to;
//   - is deterministic, and `kubectl kustomize` builds it (an extra, offline check);
// and bad arguments get a clear error and exit 2 (a manifest the export cannot express: 1).
// Nothing here starts a server or opens a socket.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";

import { indexSize, validateObject } from "./k8s-schema.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const BIN = process.env.TANDEM_TEST_BIN ?? join(ROOT, "build", "bin");
const TANDEM = join(BIN, "tandem");

const tmp = mkdtempSync(join(tmpdir(), "tandem-kube-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A project directory holding `manifest` (text) with build/bin pointing at this build's binaries.
function project(name, manifest) {
  const dir = join(tmp, name);
  mkdirSync(join(dir, "build"), { recursive: true });
  symlinkSync(BIN, join(dir, "build", "bin"));
  writeFileSync(join(dir, "tandem.yaml"), manifest);
  return dir;
}

function run(dir, args) {
  const r = spawnSync(TANDEM, ["-f", join(dir, "tandem.yaml"), ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Every object of every file of an export, with the file it came from.
function load(out) {
  const objects = [];
  for (const file of readdirSync(out).sort()) {
    if (file === "kustomization.yaml") continue;
    for (const doc of parseAllDocuments(readFileSync(join(out, file), "utf8"))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      objects.push({ file, obj: doc.toJS() });
    }
  }
  return objects;
}

const find = (objects, kind, name) => {
  const o = objects.find((x) => x.obj.kind === kind && x.obj.metadata.name === name);
  assert.ok(o, `${kind} ${name} is exported`);
  return o.obj;
};

// The API server's rules that the OpenAPI schemas do not carry (k8s.io/apimachinery validation).
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function apiServerRules(obj) {
  const p = [];
  const name = obj.metadata.name;
  const id = `${obj.kind}/${name}`;
  if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) p.push(`${id}: name`);
  if (obj.kind === "Service" && !(DNS1035_LABEL.test(name) && name.length <= 63)) {
    p.push(`${id}: a Service name must be a DNS-1035 label`);
  }
  if (["StatefulSet", "Deployment"].includes(obj.kind) && name.length > 52) p.push(`${id}: long`);
  const labels = [obj.metadata.labels, obj.spec?.template?.metadata?.labels];
  for (const set of labels.filter(Boolean)) {
    for (const [k, v] of Object.entries(set)) {
      if (!QUALIFIED_NAME.test(k) || !LABEL_VALUE.test(v) || v.length > 63) p.push(`${id}: label ${k}`);
    }
  }
  for (const k of Object.keys(obj.metadata.annotations ?? {})) {
    if (!QUALIFIED_NAME.test(k)) p.push(`${id}: annotation ${k}`);
  }
  for (const k of Object.keys(obj.data ?? {})) {
    if (!CONFIG_KEY.test(k)) p.push(`${id}: data key ${k}`);
  }
  const tpl = obj.spec?.template;
  if (tpl) {
    const sel = obj.spec.selector.matchLabels;
    for (const [k, v] of Object.entries(sel)) {
      if (tpl.metadata.labels[k] !== v) p.push(`${id}: the selector does not select the template`);
    }
    const volumes = new Set((tpl.spec.volumes ?? []).map((v) => v.name));
    for (const t of obj.spec.volumeClaimTemplates ?? []) volumes.add(t.metadata.name);
    for (const c of tpl.spec.containers) {
      if (!DNS1123_LABEL.test(c.name)) p.push(`${id}: container name ${c.name}`);
      const ports = new Set((c.ports ?? []).map((x) => x.name));
      for (const x of c.ports ?? []) {
        if (!PORT_NAME.test(x.name) || x.name.length > 15) p.push(`${id}: port name ${x.name}`);
      }
      for (const e of c.env ?? []) if (!ENV_NAME.test(e.name)) p.push(`${id}: env ${e.name}`);
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
        const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (typeof port === "string" && !ports.has(port)) p.push(`${id}: probe port ${port}`);
      }
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name)) p.push(`${id}: mount of an unknown volume ${m.name}`);
      }
      if (c.livenessProbe && (c.livenessProbe.successThreshold ?? 1) !== 1) p.push(`${id}: liveness`);
    }
  }
  if (obj.kind === "Ingress") {
    for (const rule of obj.spec.rules) {
      for (const path of rule.http.paths) {
        if (!path.path.startsWith("/")) p.push(`${id}: path ${path.path} is not absolute`);
        if (path.pathType !== "ImplementationSpecific" && /\/\/|\/\.\.?(\/|$)|%2f/i.test(path.path)) {
          p.push(`${id}: path ${path.path}`);
        }
      }
    }
  }
  return p;
}

async function validateAll(objects) {
  const problems = [];
  for (const { file, obj } of objects) {
    for (const x of await validateObject(obj)) problems.push(`${file}: ${x}`);
    for (const x of apiServerRules(obj)) problems.push(`${file}: ${x}`);
  }
  return problems;
}

// --- routing: the gateway's choice and ingress-nginx's -----------------------------------------

// Which route of a tandem manifest takes a request path (docs/tandem-cli.md, "A route"): an exact
// route, else a pattern, else the longest prefix. Written from the documentation, not from the C.
function tandemRoute(routes, path) {
  const segs = (p) => p.split("/").filter((s) => s !== "");
  const takes = (r) => {
    const rs = segs(r.path);
    const ps = segs(path);
    const dir = r.path.endsWith("/") && r.path !== "/";
    if (r.path === "/") return !r.exact || path === "/";
    if (ps.length < rs.length) return false;
    if (!rs.every((s, i) => s === "*" || s === ps[i])) return false;
    if (r.exact) return ps.length === rs.length && path.endsWith("/") === dir;
    return ps.length > rs.length || (dir ? path.endsWith("/") : true);
  };
  const exact = routes.find((r) => r.exact && takes(r));
  if (exact) return exact;
  const pattern = routes.find((r) => r.path.includes("*") && takes(r));
  if (pattern) return pattern;
  return routes
    .filter((r) => !r.exact && takes(r))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

// Which Ingress path ingress-nginx sends a request path to. With use-regex (any Ingress of the host
// has it): every path is a case-insensitive regex anchored at the start, tried longest first.
// Without: Exact, then the longest Prefix matching whole segments.
function ingressRoute(ingresses, path) {
  const all = ingresses.flatMap((ing) =>
    ing.spec.rules[0].http.paths.map((p) => ({ ...p, ingress: ing })),
  );
  const regex = ingresses.some(
    (i) => i.metadata.annotations?.["nginx.ingress.kubernetes.io/use-regex"] === "true",
  );
  if (regex) {
    const sorted = [...all].sort((a, b) => b.path.length - a.path.length);
    return sorted.find((p) => new RegExp(`^${p.path}`, "i").test(path));
  }
  const exact = all.find((p) => p.pathType === "Exact" && p.path === path);
  if (exact) return exact;
  const prefix = (p) => {
    const base = p.path.replace(/\/$/, "");
    return base === "" || path === base || path.startsWith(`${base}/`);
  };
  return all
    .filter((p) => p.pathType === "Prefix" && prefix(p))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

function manifestRoutes(m) {
  return Object.entries(m.services).flatMap(([svc, s]) =>
    (s.routes ?? []).map((r) => ({ ...r, service: svc, port: s.port })),
  );
}

// --- the checks of one service's objects against its manifest entry ----------------------------

function checkService(objects, m, name, { brokers }) {
  const s = m.services[name];
  const instances = s.instances ?? 1;
  const env = s.env ?? {};
  const stateless = Boolean(env.TANDEM_DATABASE_URL);

  const cm = find(objects, "ConfigMap", `${name}-env`);
  if (brokers) assert.equal(cm.data.TANDEM_BROKERS, brokers, `${name}: TANDEM_BROKERS`);
  for (const [k, v] of Object.entries(env)) {
    assert.ok(k in cm.data, `${name}: env ${k} is in its ConfigMap`);
    // 127.0.0.1:PORT of another part of the system becomes its cluster address
    const local = /(127\.0\.0\.1|localhost):(\d+)/.exec(v);
    if (!local) {
      assert.equal(cm.data[k], v, `${name}: env ${k} unchanged`);
      continue;
    }
    const port = Number(local[2]);
    const target = Object.entries(m.services).find(
      ([, t]) => port >= t.port && port < t.port + (t.instances || 1),
    );
    if (target) {
      assert.equal(cm.data[k], v.replace(local[0], `${target[0]}:${target[1].port}`), `${name}: ${k}`);
    } else {
      assert.ok(!cm.data[k].includes("127.0.0.1"), `${name}: ${k} has no 127.0.0.1 left`);
    }
  }

  const svc = find(objects, "Service", name);
  assert.equal(svc.spec.ports.length, 1);
  assert.equal(svc.spec.ports[0].port, s.port, `${name}: Service port`);
  assert.equal(svc.spec.ports[0].targetPort, "http");
  assert.equal(svc.spec.selector["app.kubernetes.io/name"], name);

  const kind = stateless ? "Deployment" : "StatefulSet";
  const w = find(objects, kind, name);
  assert.equal(w.spec.replicas, instances, `${name}: replicas = instances`);
  const pod = w.spec.template.spec;
  assert.equal(w.spec.template.metadata.labels["app.kubernetes.io/name"], name);
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  assert.equal(c.command[0], `/usr/local/bin/${s.binary.split("/").pop()}`, `${name}: binary`);
  assert.deepEqual(c.args ?? [], s.args ?? [], `${name}: args`);
  assert.deepEqual(c.ports, [{ name: "http", containerPort: s.port, protocol: "TCP" }]);
  assert.deepEqual(c.envFrom, [{ configMapRef: { name: `${name}-env` } }]);
  const e = Object.fromEntries(c.env.map((x) => [x.name, x]));
  assert.equal(e.POD_IP.valueFrom.fieldRef.fieldPath, "status.podIP");
  assert.equal(e.TANDEM_LISTEN.value, `$(POD_IP):${s.port}`, `${name}: listen on the pod's IP`);
  assert.ok(
    c.env.findIndex((x) => x.name === "POD_IP") < c.env.findIndex((x) => x.name === "TANDEM_LISTEN"),
    "POD_IP is defined before TANDEM_LISTEN refers to it",
  );
  assert.equal(c.readinessProbe.httpGet.path, "/readyz");
  assert.equal(c.readinessProbe.httpGet.port, "http");
  assert.equal(c.livenessProbe.httpGet.path, "/healthz");
  assert.equal(c.livenessProbe.httpGet.port, "http");
  // the drain: a preStop pause, then SIGTERM and libtandem's drain within the grace period
  const pause = Number(c.lifecycle.preStop.exec.command[1]);
  assert.equal(c.lifecycle.preStop.exec.command[0], "sleep");
  const drain = Number(env.TANDEM_DRAIN_TIMEOUT ?? 10);
  assert.ok(pause >= 1, `${name}: preStop pause`);
  assert.ok(
    pod.terminationGracePeriodSeconds > pause + drain,
    `${name}: grace ${pod.terminationGracePeriodSeconds} s covers the pause and the ${drain} s drain`,
  );
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory, `${name}: requests`);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);

  // the token keys: the public one everywhere, the private one only where the manifest signs
  const tokens = m.jwt !== undefined || Object.values(m.services).some((x) => x.jwt);
  const mounts = Object.fromEntries((c.volumeMounts ?? []).map((x) => [x.name, x]));
  const volumes = Object.fromEntries((pod.volumes ?? []).map((x) => [x.name, x]));
  if (tokens) {
    assert.equal(e.TANDEM_JWT_PUBLIC_KEY.value, `${mounts["jwt-public"].mountPath}/jwt.pub`);
    assert.equal(volumes["jwt-public"].secret.secretName, "jwt-public");
  } else {
    assert.ok(!e.TANDEM_JWT_PUBLIC_KEY && !volumes["jwt-public"], `${name}: no keys without jwt`);
  }
  if (tokens && s.jwt === "sign") {
    assert.equal(e.TANDEM_JWT_PRIVATE_KEY.value, `${mounts["jwt-private"].mountPath}/jwt.key`);
    assert.equal(volumes["jwt-private"].secret.secretName, "jwt-private");
  } else {
    assert.ok(!e.TANDEM_JWT_PRIVATE_KEY, `${name}: no private key`);
    assert.ok(!volumes["jwt-private"] && !mounts["jwt-private"], `${name}: no private key mounted`);
  }

  // the data: SQLite on a claim all replicas share (on one node), or scratch with PostgreSQL
  assert.equal(mounts.data.mountPath, e.TANDEM_DATA_DIR.value, `${name}: data dir mounted`);
  assert.equal(mounts.tmp.mountPath, "/tmp", `${name}: a writable /tmp`);
  assert.ok(volumes.tmp.emptyDir);
  if (stateless) assert.equal(mounts.instance.mountPath, e.TANDEM_INSTANCE_DIR.value);
  if (stateless) {
    assert.ok(volumes.data.emptyDir, `${name}: scratch data`);
    assert.ok(!objects.some((x) => x.obj.kind === "PersistentVolumeClaim" && x.obj.metadata.name === `${name}-data`));
  } else {
    const pvc = find(objects, "PersistentVolumeClaim", `${name}-data`);
    assert.deepEqual(pvc.spec.accessModes, ["ReadWriteOnce"]);
    assert.equal(volumes.data.persistentVolumeClaim.claimName, `${name}-data`);
    assert.equal(
      e.TANDEM_INSTANCE.valueFrom.fieldRef.fieldPath,
      "metadata.labels['apps.kubernetes.io/pod-index']",
    );
    const aff = pod.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    assert.equal(aff.topologyKey, "kubernetes.io/hostname");
    assert.equal(aff.labelSelector.matchLabels["app.kubernetes.io/name"], name);
    assert.equal(w.spec.serviceName, name);
  }
}

// Every manifest route is one Ingress path to its service, and request paths reach the service
// the gateway would pick.
function checkRoutes(objects, m, samples) {
  const ingresses = objects.filter((x) => x.obj.kind === "Ingress").map((x) => x.obj);
  for (const ing of ingresses) {
    assert.equal(ing.spec.ingressClassName, "nginx", `${ing.metadata.name}: ingress-nginx`);
  }
  const routes = manifestRoutes(m);
  const paths = ingresses
    .filter((i) => i.metadata.name !== "internal-paths")
    .flatMap((i) => i.spec.rules[0].http.paths);
  assert.equal(paths.length, routes.length, "one Ingress path per route");
  for (const r of routes) {
    const p = paths.filter((x) => x.backend.service.name === r.service);
    assert.ok(p.length > 0, `${r.path}: routed to ${r.service}`);
    for (const x of p) assert.equal(x.backend.service.port.number, r.port);
  }
  for (const path of samples) {
    const want = tandemRoute(routes, path);
    const got = ingressRoute(ingresses, path);
    if (["/healthz", "/readyz", "/metrics"].includes(path) && !m.gateway?.expose_internal) {
      if (got) {
        assert.equal(got.ingress.metadata.name, "internal-paths", `${path}: refused`);
        assert.equal(
          got.ingress.metadata.annotations["nginx.ingress.kubernetes.io/denylist-source-range"],
          "0.0.0.0/0, ::/0",
        );
      }
      continue;
    }
    assert.equal(got?.backend.service.name, want?.service, `${path}: the gateway's service`);
  }
}

// --- the repository's tandem.yaml ----------------------------------------------------------------

describe("the repository's tandem.yaml", () => {
  const manifestText = readFileSync(join(ROOT, "tandem.yaml"), "utf8");
  const m = parse(manifestText);
  const dir = project("blog", manifestText);
  // the key pair `tandem up` would have made (P-256 PEM files), for the Secrets
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pub = publicKey.export({ type: "spki", format: "pem" });
  const priv = privateKey.export({ type: "pkcs8", format: "pem" });
  mkdirSync(join(dir, "var", "keys"), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "var", "keys", "jwt.pub"), pub);
  writeFileSync(join(dir, "var", "keys", "jwt.key"), priv, { mode: 0o600 });
  const out = join(dir, "k8s");
  const r = run(dir, ["export", "kubernetes", "-o", out]);
  const objects = r.status === 0 ? load(out) : [];

  test("exports", () => {
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /files in .*k8s/);
    assert.match(r.stderr, /note: console: control: true needs tandem's supervisor/);
    const files = readdirSync(out).sort();
    const want = ["broker.yaml", "ingress.yaml", "jwt-secrets.yaml", "kustomization.yaml"];
    for (const s of Object.keys(m.services)) want.push(`${s}.yaml`);
    assert.deepEqual(files, want.sort());
    const k = parse(readFileSync(join(out, "kustomization.yaml"), "utf8"));
    assert.deepEqual([...k.resources].sort(), want.filter((f) => f !== "kustomization.yaml").sort());
  });

  test("validates against the Kubernetes API schemas", async () => {
    assert.ok(indexSize() > 500, "the schemas' field index was read");
    assert.ok(objects.length > 30);
    assert.deepEqual(await validateAll(objects), []);
  });

  test("every service matches its manifest entry", () => {
    for (const name of Object.keys(m.services)) checkService(objects, m, name, { brokers: "broker:9092" });
    // comments' one synchronous call reaches articles' Service
    assert.equal(find(objects, "ConfigMap", "comments-env").data.TANDEM_ARTICLES_URL, "http://articles:8111");
    assert.equal(
      find(objects, "ConfigMap", "web-env").data.TANDEM_GATEWAY,
      "http://ingress-nginx-controller.ingress-nginx.svc.cluster.local",
    );
    assert.equal(find(objects, "StatefulSet", "articles").spec.replicas, 2);
    assert.equal(find(objects, "StatefulSet", "fleet").spec.replicas, 2);
  });

  test("the broker is a StatefulSet of one with a volume", () => {
    const svc = find(objects, "Service", "broker");
    assert.equal(svc.spec.ports[0].port, 9092);
    const sts = find(objects, "StatefulSet", "broker");
    assert.equal(sts.spec.replicas, 1);
    const c = sts.spec.template.spec.containers[0];
    assert.equal(c.command[0], "/usr/local/bin/tandem-broker");
    const args = c.args.join(" ");
    assert.match(args, /--listen 0\.0\.0\.0:9092 --advertised-host broker --data-dir \/var\/lib\/tandem\/broker/);
    assert.ok(args.endsWith(m.broker.args.join(" ")), "the manifest's broker args");
    assert.equal(c.volumeMounts[0].mountPath, "/var/lib/tandem/broker");
    assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, c.volumeMounts[0].name);
    assert.equal(c.readinessProbe.tcpSocket.port, "kafka");
  });

  test("the Secrets hold the manifest's key pair, and the file is private", () => {
    assert.equal(Buffer.from(find(objects, "Secret", "jwt-public").data["jwt.pub"], "base64").toString(), pub);
    assert.equal(Buffer.from(find(objects, "Secret", "jwt-private").data["jwt.key"], "base64").toString(), priv);
    assert.equal(statSync(join(out, "jwt-secrets.yaml")).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, "users.yaml")).mode & 0o777, 0o644);
  });

  test("the Ingresses carry the gateway's routes, limits and CORS", () => {
    checkRoutes(objects, m, [
      "/api/users", "/api/users/login", "/api/user", "/api/user/x", "/api/userx",
      "/api/profiles/jake", "/api/profiles/jake/follow", "/api/articles", "/api/articles/feed",
      "/api/articles/how-to/favorite", "/api/articles/how-to/comments",
      "/api/articles/how-to/comments/12", "/api/articles/a/b/comments", "/api/tags",
      "/api/activity/beacons", "/api/console/status", "/api/fleet/vehicles", "/", "/index.html",
      "/console", "/healthz", "/readyz", "/metrics",
    ]);
    // the pattern makes this host regex: every path is an anchored, case-insensitive regex
    const ingresses = objects.filter((x) => x.obj.kind === "Ingress").map((x) => x.obj);
    const comments = find(objects, "Ingress", "comments").spec.rules[0].http.paths;
    assert.deepEqual(comments.map((p) => p.path), ["/api/articles/[^/]+/comments(?:/|$)"]);
    for (const ing of ingresses) {
      const a = ing.metadata.annotations;
      const name = ing.metadata.name;
      assert.equal(a["nginx.ingress.kubernetes.io/use-regex"], "true", name);
      assert.equal(a["nginx.ingress.kubernetes.io/proxy-body-size"], "1m", name);
      assert.equal(a["nginx.ingress.kubernetes.io/proxy-read-timeout"], "60", name);
      assert.equal(a["nginx.ingress.kubernetes.io/limit-connections"], "256", name);
      assert.equal(a["nginx.ingress.kubernetes.io/enable-cors"], "true", name);
      assert.equal(a["nginx.ingress.kubernetes.io/cors-allow-origin"], m.gateway.cors.origins.join(", "));
      assert.equal(a["nginx.ingress.kubernetes.io/cors-allow-credentials"], "false");
      assert.match(a["nginx.ingress.kubernetes.io/cors-allow-headers"], /^Authorization, Content-Type/);
      assert.equal(a["nginx.ingress.kubernetes.io/limit-rps"], undefined, "no route has a rate");
      for (const p of ing.spec.rules[0].http.paths) assert.equal(p.pathType, "ImplementationSpecific");
    }
  });

  test("the export is deterministic", () => {
    const again = join(dir, "k8s-again");
    const r2 = run(dir, ["export", "kubernetes", "-o", again]);
    assert.equal(r2.status, 0, r2.stderr);
    for (const f of readdirSync(out)) {
      assert.equal(readFileSync(join(again, f), "utf8"), readFileSync(join(out, f), "utf8"), f);
    }
  });

  test("--new-jwt-keys puts a fresh pair in the Secret", () => {
    const fresh = join(dir, "k8s-fresh");
    const r2 = run(dir, ["export", "kubernetes", "-o", fresh, "--new-jwt-keys"]);
    assert.equal(r2.status, 0, r2.stderr);
    const o = load(fresh);
    const p = Buffer.from(find(o, "Secret", "jwt-public").data["jwt.pub"], "base64").toString();
    const k = Buffer.from(find(o, "Secret", "jwt-private").data["jwt.key"], "base64").toString();
    assert.match(p, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.match(k, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.notEqual(p, pub);
  });

  test("kubectl kustomize builds it (offline)", (t) => {
    if (!existsSync("/usr/bin/kubectl")) {
      t.skip("kubectl is not installed");
      return;
    }
    const text = execFileSync("/usr/bin/kubectl", ["kustomize", out], { encoding: "utf8", timeout: 60000 });
    const kinds = parseAllDocuments(text).map((d) => d.toJS().kind);
    assert.equal(kinds.length, objects.length);
  });
});

// --- a second, small manifest: no patterns, limits, PostgreSQL, an external Kafka -------------------

const SMALL = `
broker: { listen: 127.0.0.1:9092 }
gateway: { listen: 127.0.0.1:8080, max_conns_per_client: 50, read_timeout: 30 }
services:
  hello:
    binary: build/bin/example-hello
    port: 8101
    instances: 3
    args: [--workers, "2"]
    env:
      TANDEM_DATABASE_URL: "postgres://tandem@db:5432/hello"
      TANDEM_DRAIN_TIMEOUT: "20"
      QUOTED: "a \\"quoted\\" value: with # and \\\\ in it"
    depends_on: [broker]
    routes:
      - { path: /hello, methods: [GET], cache: true }
      - { path: /greetings, methods: [POST], rate_limit: 10r/s, burst: 25 }
      - { path: /slow/, rate_limit: 6r/m }
  echo:
    binary: build/bin/example-hello
    port: 8201
    env: { HELLO_URL: "http://127.0.0.1:8102/hello" }
    routes:
      - { path: /echo, exact: true }
`;

describe("a second manifest", () => {
  const m = parse(SMALL);
  const dir = project("small", SMALL);
  const out = join(dir, "k8s");
  const brokers = "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092";
  const r = run(dir, ["export", "kubernetes", "-o", out, "--brokers", brokers, "--image", "registry.example/tandem:1.2"]);
  const objects = r.status === 0 ? load(out) : [];

  test("exports, validates and matches it", async () => {
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ["echo.yaml", "hello.yaml", "ingress.yaml", "kustomization.yaml"]);
    assert.deepEqual(await validateAll(objects), []);
    for (const name of Object.keys(m.services)) checkService(objects, m, name, { brokers });
    const hello = find(objects, "Deployment", "hello");
    assert.equal(hello.spec.replicas, 3);
    assert.equal(hello.spec.template.spec.terminationGracePeriodSeconds, 30, "5 + 20 + 5");
    assert.equal(hello.spec.template.spec.containers[0].image, "registry.example/tandem:1.2");
    assert.equal(find(objects, "ConfigMap", "hello-env").data.QUOTED, m.services.hello.env.QUOTED);
    assert.equal(find(objects, "ConfigMap", "echo-env").data.HELLO_URL, "http://hello:8101/hello");
    assert.equal(find(objects, "StatefulSet", "echo").spec.replicas, 1);
    assert.ok(!objects.some((x) => x.obj.metadata.name === "broker"), "an external Kafka: no broker");
    assert.ok(!objects.some((x) => x.obj.kind === "Secret"), "no jwt: no Secrets");
    // what ingress-nginx cannot do is said, route by route
    assert.match(r.stderr, /note: route \/hello: not cached/);
    assert.match(r.stderr, /note: route \/hello: other methods reach hello/);
    assert.match(r.stderr, /note: route \/greetings: other methods reach hello/);
    assert.doesNotMatch(r.stderr, /route \/slow\/|route \/echo/);
  });

  test("routes as Prefix and Exact paths, with their limits", () => {
    checkRoutes(objects, m, ["/hello", "/hello/x", "/hellox", "/greetings", "/slow/a", "/echo", "/echo/x", "/", "/healthz"]);
    const ing = (name) => find(objects, "Ingress", name);
    const a = (name) => ing(name).metadata.annotations;
    const paths = (name) => ing(name).spec.rules[0].http.paths.map((p) => [p.path, p.pathType]);
    // one Ingress per set of annotations: GET /hello; POST /greetings at 10r/s burst 25; /slow/
    assert.deepEqual(paths("hello"), [["/hello", "Prefix"]]);
    assert.deepEqual(paths("hello-2"), [["/greetings", "Prefix"]]);
    assert.deepEqual(paths("hello-3"), [["/slow/", "Prefix"]]);
    assert.deepEqual(paths("echo"), [["/echo", "Exact"]]);
    assert.equal(a("hello-2")["nginx.ingress.kubernetes.io/limit-rps"], "10");
    assert.equal(a("hello-2")["nginx.ingress.kubernetes.io/limit-burst-multiplier"], "3", "25 / 10, up");
    assert.equal(a("hello-3")["nginx.ingress.kubernetes.io/limit-rpm"], "6");
    assert.equal(a("hello-3")["nginx.ingress.kubernetes.io/limit-burst-multiplier"], "1");
    for (const name of ["hello", "hello-2", "hello-3", "echo"]) {
      assert.equal(a(name)["nginx.ingress.kubernetes.io/use-regex"], undefined);
      assert.equal(a(name)["nginx.ingress.kubernetes.io/limit-connections"], "50");
      assert.equal(a(name)["nginx.ingress.kubernetes.io/proxy-read-timeout"], "30");
      assert.equal(a(name)["nginx.ingress.kubernetes.io/enable-cors"], undefined, "no cors: section");
    }
    assert.ok(!objects.some((x) => x.obj.metadata.name === "internal-paths"), "no route takes /healthz");
  });
});

// --- the manifest's own external Kafka cluster (broker.external), without --brokers ---------------

describe("a manifest whose broker is external", () => {
  const external = "k1.example:9092,k2.example:9092,k3.example:9092";
  const text = SMALL.replace("broker: { listen: 127.0.0.1:9092 }", `broker: { external: "${external}", replication_factor: 3 }`);
  const m = parse(text);
  const dir = project("external", text);
  const out = join(dir, "k8s");
  const r = run(dir, ["export", "kubernetes", "-o", out]);
  const objects = r.status === 0 ? load(out) : [];

  test("points every service at the cluster and writes no broker", async () => {
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(await validateAll(objects), []);
    for (const name of Object.keys(m.services)) checkService(objects, m, name, { brokers: external });
    assert.ok(!objects.some((x) => x.obj.metadata.name === "broker"), "an external Kafka: no broker");
    assert.ok(!existsSync(join(out, "broker.yaml")));
  });
});

// --- what the export refuses -----------------------------------------------------------------------

describe("bad arguments and manifests", () => {
  const dir = project("bad", SMALL);
  const cases = [
    [["export"], 2, /usage: tandem \[-f FILE\] export kubernetes -o DIR/],
    [["export", "docker", "-o", "x"], 2, /expected 'kubernetes', found 'docker'/],
    [["export", "kubernetes"], 2, /-o DIR is required/],
    [["export", "kubernetes", "-o"], 2, /a value is missing after '-o'/],
    [["export", "kubernetes", "-o", "x", "--bogus"], 2, /unknown option '--bogus'/],
    [["export", "kubernetes", "-o", "x", "--brokers", "kafka"], 2, /--brokers: expected host:port/],
    [["export", "kubernetes", "-o", "x", "--brokers", "a:1,b:99999"], 2, /--brokers/],
    [["export", "kubernetes", "-o", "x", "--storage", "lots"], 2, /--storage: expected a size/],
    [["export", "kubernetes", "-o", "x", "--image", "a b"], 2, /--image: not an image reference/],
    [["export", "kubernetes", "-o", "x", "--gateway", "http://x/"], 2, /--gateway: expected HOST/],
  ];
  for (const [args, status, message] of cases) {
    test(args.join(" "), () => {
      const r = run(dir, args);
      assert.equal(r.status, status, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(!existsSync(join(dir, "x")), "nothing written");
    });
  }

  test("a service name Kubernetes cannot take", () => {
    const d = project("bad-name", SMALL.replace("  echo:", "  echo_2:"));
    const r = run(d, ["export", "kubernetes", "-o", join(d, "out")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /service echo_2: Kubernetes names a Service with a DNS label/);
    assert.ok(!existsSync(join(d, "out")));
  });

  test("tokens on but no key pair", () => {
    const d = project("no-keys", `jwt: {}\n${SMALL}`);
    const r = run(d, ["export", "kubernetes", "-o", join(d, "out")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /jwt: cannot read .*jwt\.pub.*--new-jwt-keys/);
  });

  test("routes whose order ingress-nginx would change", () => {
    // /a/*/b takes /a/verylongname/b from the prefix /a/verylongname in nginx.conf; ingress-nginx
    // would try the longer regex of the prefix first
    const d = project(
      "order",
      SMALL.replace("      - { path: /echo, exact: true }", "      - { path: /a/verylongname }\n      - { path: /a/*/b }"),
    );
    assert.equal(run(d, ["check"]).status, 0, "tandem itself takes the manifest");
    const r = run(d, ["export", "kubernetes", "-o", join(d, "out")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /routes \/a\/\*\/b and \/a\/verylongname: ingress-nginx tries regex paths longest first/);
  });

  test("a manifest that does not load", () => {
    const d = project("invalid", "services: {}\n");
    const r = run(d, ["export", "kubernetes", "-o", join(d, "out")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /tandem\.yaml/);
  });

  test("the key file is never readable by others", () => {
    const d = project("keys-mode", `jwt: {}\n${SMALL}`);
    const out = join(d, "out");
    assert.equal(run(d, ["export", "kubernetes", "-o", out, "--new-jwt-keys"]).status, 0);
    chmodSync(join(out, "jwt-secrets.yaml"), 0o644); // an old copy, made readable by hand
    assert.equal(run(d, ["export", "kubernetes", "-o", out, "--new-jwt-keys"]).status, 0);
    assert.equal(statSync(join(out, "jwt-secrets.yaml")).mode & 0o777, 0o600);
  });
});
