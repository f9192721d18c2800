// Validation of Kubernetes objects against the Kubernetes API schemas, offline, from the npm
// package kubernetes-models (its models carry the API's OpenAPI schemas compiled by ajv).
//
// validateObject(obj) returns a list of problems (empty: valid):
//   - kubernetes-models' own validate(): required fields, types, enums, formats (int32, the
//     quantity and int-or-string formats) of every field it knows;
//   - unknown fields: those schemas allow fields they do not list (the API server's "strict"
//     field validation refuses them), so a typo such as `readinesProbe` would pass them. The
//     field names of every API type are read here from the package's type declarations (.d.ts:
//     one interface per type, `"field"?: Type;` per line) and every field of the object is looked
//     up in its type, recursively.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const MODELS = dirname(require.resolve("kubernetes-models/package.json"));
const MACHINERY = dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));

// kind -> [module path, class name, interface alias of the type declarations]
const KINDS = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "ConfigMap", "IIoK8sApiCoreV1ConfigMap"],
  "v1/Secret": ["kubernetes-models/v1/Secret", "Secret", "IIoK8sApiCoreV1Secret"],
  "v1/Service": ["kubernetes-models/v1/Service", "Service", "IIoK8sApiCoreV1Service"],
  "v1/PersistentVolumeClaim": [
    "kubernetes-models/v1/PersistentVolumeClaim",
    "PersistentVolumeClaim",
    "IIoK8sApiCoreV1PersistentVolumeClaim",
  ],
  "apps/v1/Deployment": [
    "kubernetes-models/apps/v1/Deployment",
    "Deployment",
    "IIoK8sApiAppsV1Deployment",
  ],
  "apps/v1/StatefulSet": [
    "kubernetes-models/apps/v1/StatefulSet",
    "StatefulSet",
    "IIoK8sApiAppsV1StatefulSet",
  ],
  "networking.k8s.io/v1/Ingress": [
    "kubernetes-models/networking.k8s.io/v1/Ingress",
    "Ingress",
    "IIoK8sApiNetworkingV1Ingress",
  ],
};

function* dtsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === "node_modules") continue;
    if (statSync(p).isDirectory()) yield* dtsFiles(p);
    else if (name.endsWith(".d.ts")) yield p;
  }
}

// alias -> Map(field -> {kind: "object"|"array"|"map"|"leaf", type})
let INDEX = null;

function fieldType(text) {
  const t = text.trim();
  let m = /^Array<(I\w+)>$/.exec(t);
  if (m) return { kind: "array", type: m[1] };
  if (/^Array</.test(t)) return { kind: "leaf" };
  if (t.startsWith("{")) return { kind: "map" };
  m = /^(I\w+)$/.exec(t);
  if (m) return { kind: "object", type: m[1] };
  return { kind: "leaf" };
}

function buildIndex() {
  const index = new Map();
  for (const root of [MODELS, MACHINERY]) {
    for (const file of dtsFiles(root)) {
      const text = readFileSync(file, "utf8");
      const alias = /export type \{ (I\w+) as (I\w+),/.exec(text);
      const body = /export interface (I\w+)(?: extends [^{]+)? \{\n([\s\S]*?)\n\}/.exec(text);
      if (!alias || !body || alias[1] !== body[1]) continue;
      const fields = new Map();
      for (const line of body[2].split("\n")) {
        const m = /^ {4}"([^"]+)"\??: (.*?);?$/.exec(line);
        if (m) fields.set(m[1], fieldType(m[2]));
      }
      index.set(alias[2], fields);
    }
  }
  return index;
}

function unknownFields(value, type, path, out) {
  const fields = INDEX.get(type);
  if (!fields || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const f = fields.get(k);
    if (!f) {
      out.push(`${path}/${k}: not a field of ${type.replace(/^IIoK8s/, "")}`);
      continue;
    }
    if (f.kind === "object") unknownFields(v, f.type, `${path}/${k}`, out);
    if (f.kind === "array" && Array.isArray(v)) {
      v.forEach((item, i) => unknownFields(item, f.type, `${path}/${k}/${i}`, out));
    }
  }
}

export async function validateObject(obj) {
  INDEX ??= buildIndex();
  const key = `${obj?.apiVersion}/${obj?.kind}`;
  const entry = KINDS[key];
  if (!entry) return [`${key}: a kind this test does not expect`];
  const mod = await import(entry[0]);
  const problems = [];
  try {
    new mod[entry[1]](obj).validate();
  } catch (e) {
    problems.push(`${key} ${obj.metadata?.name}: ${e.message}`);
  }
  unknownFields(obj, entry[2], `${obj.kind}/${obj.metadata?.name}`, problems);
  return problems;
}

// How many API types the declarations gave (a test checks the index is not empty).
export function indexSize() {
  INDEX ??= buildIndex();
  return INDEX.size;
}
