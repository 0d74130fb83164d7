// tests/k8s/validate.mjs - deploy/k8s built and checked offline.
//
// No cluster and no kustomize binary here (Debian 12's kubectl 1.20 embeds
// kustomize 2.0.3, older than `resources:` folders, components and
// `labels:`), so this file builds each kustomization itself, for the
// fields deploy/k8s uses: resources (files and folders), components,
// namespace, images, replicas, labels, patches (strategic merge, by kind
// and name; lists of named items merge by name; `$patch: delete`) and
// secretGenerator (a content-hash suffix, references renamed). A field of
// kustomize it does not know stops the build.
//
// Every object of every build is then validated against the Kubernetes
// API's JSON schemas (kubernetes-models; the Prometheus Operator's for the
// ServiceMonitor), and walked against the API's field lists
// (@kubernetes/client-node's type maps) so that an unknown or misspelt
// field fails too. Then the checks of issue 16 on what the objects say.
// Every ums.conf of a ConfigMap passes `ums-fcgi --check` with stand-in
// secret files. Prints "ok   NAME" / "FAIL NAME" and "N passed, N failed".
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import * as k8s from "@kubernetes/client-node";

const ROOT = process.env.UMS_ROOT ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const K8S = path.join(ROOT, "deploy/k8s");
const BUILD = process.env.UMS_BUILD_DIR ?? path.join(ROOT, "build");

// ---- a kustomize subset -----------------------------------------------------

const KNOWN = new Set(["apiVersion", "kind", "resources", "components", "namespace", "images",
  "replicas", "patches", "secretGenerator", "labels"]);

function readDocs(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((o) => o !== null);
}

const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function merge(base, patch) {
  if (!isObj(base) || !isObj(patch)) return structuredClone(patch);
  const out = structuredClone(base);
  for (const [key, value] of Object.entries(patch)) {
    if (Array.isArray(value) && Array.isArray(out[key]) && value.every((v) => isObj(v) && "name" in v)) {
      for (const item of value) {
        const i = out[key].findIndex((x) => x.name === item.name);
        if (i < 0) out[key].push(structuredClone(item));
        else out[key][i] = merge(out[key][i], item);
      }
    } else {
      out[key] = merge(out[key], value);
    }
  }
  return out;
}

function podSpecs(o) {
  if (o.kind === "CronJob") return [o.spec.jobTemplate.spec.template.spec];
  if (["Deployment", "Job", "StatefulSet", "DaemonSet"].includes(o.kind)) return [o.spec.template.spec];
  return [];
}

const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]);

function build(dir, expectKind = "Kustomization") {
  const kfile = path.join(dir, "kustomization.yaml");
  const [kz] = readDocs(kfile);
  if (kz.kind !== expectKind) throw new Error(`${kfile}: kind ${kz.kind}, want ${expectKind}`);
  for (const key of Object.keys(kz)) {
    if (!KNOWN.has(key)) throw new Error(`${kfile}: ${key} is not a field this builder knows`);
  }
  let objs = [];
  for (const r of kz.resources ?? []) {
    const p = path.join(dir, r);
    objs.push(...(fs.statSync(p).isDirectory() ? build(p) : readDocs(p)));
  }
  const renames = {};
  for (const g of kz.secretGenerator ?? []) {
    const data = {};
    for (const f of g.files) data[path.basename(f)] = fs.readFileSync(path.join(dir, f)).toString("base64");
    const secret = { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: g.name }, data };
    const hash = createHash("sha256").update(JSON.stringify(secret)).digest("hex").slice(0, 10);
    renames[g.name] = `${g.name}-${hash}`;
    secret.metadata.name = renames[g.name];
    objs.push(secret);
  }
  const applyPatches = (list, patches, from) => {
    for (const p of patches ?? []) {
      const docs = p.path ? readDocs(path.join(from, p.path)) : YAML.parseAllDocuments(p.patch).map((d) => d.toJS());
      for (const patch of docs) {
        const i = list.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
        if (i < 0) throw new Error(`patch for ${patch.kind}/${patch.metadata.name}: no such object`);
        if (patch.$patch === "delete") list.splice(i, 1);
        else list[i] = merge(list[i], patch);
      }
    }
    return list;
  };
  objs = applyPatches(objs, kz.patches, dir);
  for (const c of kz.components ?? []) {
    const cdir = path.join(dir, c);
    const [cz] = readDocs(path.join(cdir, "kustomization.yaml"));
    if (cz.kind !== "Component") throw new Error(`${c}: not a Component`);
    for (const r of cz.resources ?? []) objs.push(...readDocs(path.join(cdir, r)));
    objs = applyPatches(objs, cz.patches, cdir);
  }
  for (const o of objs) {
    if (kz.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = kz.namespace;
    for (const l of kz.labels ?? []) {
      if (l.includeSelectors || l.includeTemplates) throw new Error("labels: only metadata labels are built");
      o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
    }
    for (const r of kz.replicas ?? []) if (o.metadata.name === r.name && o.spec?.replicas !== undefined) o.spec.replicas = r.count;
    for (const spec of podSpecs(o)) {
      for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        const [name, tag] = c.image.split(":");
        const img = (kz.images ?? []).find((i) => i.name === name);
        if (img) c.image = `${img.newName ?? name}:${img.newTag ?? tag}`;
      }
      for (const v of spec.volumes ?? []) if (v.secret && renames[v.secret.secretName]) v.secret.secretName = renames[v.secret.secretName];
    }
  }
  return objs;
}

// ---- the API's schemas --------------------------------------------------------

async function schemaValidate(o) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  const mod = o.apiVersion === "monitoring.coreos.com/v1"
    ? await import(`@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${o.kind}`)
    : await import(`kubernetes-models/${group ? `${group}/` : ""}${version}/${o.kind}`);
  new mod[o.kind](o).validate();
}

// Unknown fields: the API's own type of each field, from client-node.
function typeMap(name) {
  const cls = k8s[name];
  return cls?.getAttributeTypeMap ? cls.getAttributeTypeMap() : null;
}

function strict(value, type, where, errors) {
  if (value === null || value === undefined) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (!Array.isArray(value)) return errors.push(`${where}: not a list`);
    value.forEach((v, i) => strict(v, arr[1], `${where}[${i}]`, errors));
    return;
  }
  if (type.startsWith("{ [key: string]: ")) {
    const inner = type.slice("{ [key: string]: ".length, -"; }".length);
    if (isObj(value)) for (const [k, v] of Object.entries(value)) strict(v, inner, `${where}.${k}`, errors);
    return;
  }
  const map = typeMap(type);
  if (!map) return; // a scalar, IntOrString, or free-form
  if (!isObj(value)) return errors.push(`${where}: not an object`);
  const known = new Map(map.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!known.has(k)) errors.push(`${where}.${k}: no such field in ${type}`);
    else strict(v, known.get(k), `${where}.${k}`, errors);
  }
}

function topType(o) {
  const version = o.apiVersion.split("/").pop();
  const v = version[0].toUpperCase() + version.slice(1);
  return `${v}${o.kind}`;
}

// ---- the run ------------------------------------------------------------------

const results = [];
async function test(name, fn) {
  try {
    await fn();
    results.push(true);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}\n    ${e.message.split("\n").join("\n    ")}`);
  }
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}

// The overlay's secrets are files kept out of git: stand-ins in a copy.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ums-k8s-"));
fs.cpSync(K8S, path.join(tmp, "k8s"), { recursive: true });
const prodDir = path.join(tmp, "k8s/overlays/production");
const [prodKz] = readDocs(path.join(prodDir, "kustomization.yaml"));
fs.mkdirSync(path.join(prodDir, "secrets"), { recursive: true });
for (const g of prodKz.secretGenerator) for (const f of g.files) fs.writeFileSync(path.join(prodDir, f), "stand-in\n");
// A build with the CronJob component, the way README says to add it.
const cronDir = path.join(tmp, "k8s/overlays/cronjob");
fs.mkdirSync(cronDir);
fs.writeFileSync(path.join(cronDir, "kustomization.yaml"),
  "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n" +
  "components:\n  - ../../components/notifier-cronjob\n");

const builds = {};
for (const [name, dir] of [["base", path.join(tmp, "k8s/base")], ["production", prodDir], ["cronjob", cronDir]]) {
  await test(`k8s/build-${name}`, () => {
    builds[name] = build(dir);
    check(builds[name].length >= 10, `${name}: only ${builds[name].length} objects`);
  });
}
const all = Object.entries(builds);
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);

await test("k8s/schemas", async () => {
  const errors = [];
  for (const [b, objs] of all) {
    for (const o of objs) {
      try {
        await schemaValidate(o);
      } catch (e) {
        errors.push(`${b} ${o.kind}/${o.metadata.name}: ${e.message}`);
      }
    }
  }
  check(errors.length === 0, errors.join("\n"));
});

await test("k8s/no-unknown-fields", () => {
  const errors = [];
  for (const [b, objs] of all) {
    for (const o of objs) {
      if (o.apiVersion === "monitoring.coreos.com/v1") continue; // a CRD: its schema above
      const t = topType(o);
      check(typeMap(t), `no API type ${t} for ${o.kind}`);
      strict(o, t, `${b} ${o.kind}/${o.metadata.name}`, errors);
    }
  }
  check(errors.length === 0, errors.join("\n"));
});

await test("k8s/planted-mistakes-fail", async () => {
  // The two checks above must catch what they are for.
  const d = structuredClone(find(builds.base, "Deployment", "ums-api"));
  d.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem = true;
  const errors = [];
  strict(d, topType(d), "planted", errors);
  check(errors.length === 1 && errors[0].includes("readOnlyRootFilesytem"), `misspelt field: ${errors}`);
  d.spec.replicas = "2";
  let threw = false;
  try {
    await schemaValidate(d);
  } catch {
    threw = true;
  }
  check(threw, "a string replicas passed the schema");
});

function podChecks(objs, b) {
  for (const o of objs) {
    for (const spec of podSpecs(o)) {
      const where = `${b} ${o.kind}/${o.metadata.name}`;
      check(spec.securityContext?.runAsNonRoot === true, `${where}: no runAsNonRoot`);
      check(spec.securityContext?.seccompProfile?.type === "RuntimeDefault", `${where}: no RuntimeDefault seccomp`);
      check(spec.automountServiceAccountToken === false, `${where}: mounts a service account token`);
      for (const c of spec.containers) {
        const sc = c.securityContext ?? {};
        check(sc.readOnlyRootFilesystem === true, `${where} ${c.name}: writable root file system`);
        check(sc.allowPrivilegeEscalation === false, `${where} ${c.name}: privilege escalation allowed`);
        check(sc.capabilities?.drop?.includes("ALL"), `${where} ${c.name}: capabilities not dropped`);
        const uid = sc.runAsUser ?? spec.securityContext.runAsUser;
        check(uid > 0, `${where} ${c.name}: no non-root runAsUser`);
        check(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory,
          `${where} ${c.name}: no requests or memory limit`);
        check(!(c.env ?? []).some((e) => "value" in e), `${where} ${c.name}: an env literal`);
        check(!(c.envFrom ?? []).length, `${where} ${c.name}: envFrom`);
      }
    }
  }
}

await test("k8s/pods-hardened", () => {
  for (const [b, objs] of all) podChecks(objs, b);
});

await test("k8s/api-pod", () => {
  for (const [b, objs] of all) {
    const d = find(objs, "Deployment", "ums-api");
    check(d, `${b}: no Deployment ums-api`);
    const spec = d.spec.template.spec;
    const nginx = spec.containers.find((c) => c.name === "nginx");
    const fcgi = spec.containers.find((c) => c.name === "ums-fcgi");
    check(nginx && fcgi && spec.containers.length === 2, `${b}: containers ${spec.containers.map((c) => c.name)}`);
    const run = spec.volumes.find((v) => v.name === "run");
    check(run?.emptyDir, `${b}: the socket volume is not an emptyDir`);
    for (const c of [nginx, fcgi]) {
      check(c.volumeMounts.some((m) => m.name === "run" && m.mountPath === "/run/ums"), `${b} ${c.name}: no /run/ums`);
    }
    check(nginx.readinessProbe?.httpGet?.path === "/readyz", `${b}: readiness is not /readyz`);
    check(fcgi.livenessProbe?.httpGet?.path === "/healthz", `${b}: liveness is not /healthz`);
    const secretVols = spec.volumes.filter((v) => v.secret).map((v) => v.name);
    check(secretVols.length === 1, `${b}: secret volumes ${secretVols}`);
    check(!nginx.volumeMounts.some((m) => secretVols.includes(m.name)), `${b}: nginx mounts the secrets`);
    check(fcgi.volumeMounts.some((m) => secretVols.includes(m.name) && m.readOnly), `${b}: ums-fcgi has no secrets`);
    check(spec.volumes.find((v) => v.secret).secret.defaultMode === 0o440, `${b}: secret files not 0440`);
    check(fcgi.args.join(" ") === "ums-fcgi --config /etc/ums/ums.conf", `${b}: ums-fcgi args ${fcgi.args}`);
  }
  check(find(builds.production, "Deployment", "ums-api").spec.replicas === 3, "production replicas");
  check(find(builds.production, "Deployment", "ums-api").spec.template.spec.containers
    .every((c) => c.image.startsWith("registry.example.com/ums/") && /:\d+\.\d+\.\d+$/.test(c.image)),
  "production images are not pinned to the registry");
});

await test("k8s/notifier-migrate", () => {
  const n = find(builds.base, "Deployment", "ums-notifier");
  check(n && n.spec.replicas === 1, "base: no notifier Deployment with one replica");
  check(n.spec.template.spec.containers[0].args.join(" ") === "ums-notifier --config /etc/ums/ums.conf", "notifier args");
  check(!find(builds.cronjob, "Deployment", "ums-notifier"), "cronjob build: the Deployment is still there");
  const cj = find(builds.cronjob, "CronJob", "ums-notifier-once");
  check(cj && cj.spec.concurrencyPolicy === "Forbid", "cronjob build: no CronJob with Forbid");
  check(cj.spec.jobTemplate.spec.template.spec.containers[0].args.includes("--once"), "CronJob without --once");
  for (const [b, objs] of all) {
    const j = find(objs, "Job", "ums-migrate");
    check(j && j.spec.template.spec.containers[0].args.includes("migrate"), `${b}: no migrate Job`);
    check(j.spec.backoffLimit >= 1 && j.spec.activeDeadlineSeconds > 0, `${b}: migrate Job unbounded`);
  }
});

await test("k8s/service-pdb-hpa-monitor", () => {
  for (const [b, objs] of all) {
    const svc = find(objs, "Service", "ums-api");
    const sel = find(objs, "Deployment", "ums-api").spec.template.metadata.labels;
    check(svc && Object.entries(svc.spec.selector).every(([k, v]) => sel[k] === v), `${b}: the Service selects no API pod`);
    const pdb = find(objs, "PodDisruptionBudget", "ums-api");
    check(pdb && pdb.spec.minAvailable >= 1 && Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => sel[k] === v),
      `${b}: PDB`);
    const hpa = find(objs, "HorizontalPodAutoscaler", "ums-api");
    check(hpa && hpa.spec.scaleTargetRef.name === "ums-api" && hpa.spec.minReplicas >= 2 &&
      hpa.spec.maxReplicas > hpa.spec.minReplicas, `${b}: HPA`);
    const sm = find(objs, "ServiceMonitor", "ums-api");
    check(sm && sm.spec.endpoints.some((e) => e.path === "/metrics" && svc.spec.ports.some((p) => p.name === e.port)),
      `${b}: the ServiceMonitor names no port of the Service`);
  }
});

await test("k8s/network-policy", () => {
  for (const [b, objs] of all) {
    const pols = objs.filter((o) => o.kind === "NetworkPolicy");
    const api = pols.find((p) => p.spec.podSelector.matchLabels?.["app.kubernetes.io/name"] === "ums-api");
    check(api && api.spec.ingress.every((r) => r.from?.length && r.ports?.length), `${b}: API ingress open to all`);
    const egress = pols.find((p) => p.spec.policyTypes.includes("Egress"));
    check(egress, `${b}: no egress policy`);
    const comps = egress.spec.podSelector.matchExpressions[0].values;
    check(["api", "notifier", "migrate"].every((c) => comps.includes(c)), `${b}: egress covers ${comps}`);
    const ports = egress.spec.egress.flatMap((r) => r.ports.map((p) => p.port)).sort((x, y) => x - y);
    check(JSON.stringify([...new Set(ports)]) === JSON.stringify([53, 443, 587, 5432, 6379]), `${b}: egress ports ${ports}`);
    check(egress.spec.egress.every((r) => r.to?.length), `${b}: an egress rule to anywhere on any address`);
    const w = pols.find((p) => p.metadata.name === "ums-workers-ingress");
    check(w && w.spec.ingress.length === 0 && w.spec.policyTypes.includes("Ingress"), `${b}: workers take connections`);
  }
});

await test("k8s/ums-conf-checks", () => {
  const bin = path.join(BUILD, "fcgi/ums-fcgi");
  check(fs.existsSync(bin), `${bin} is not built`);
  let n = 0;
  for (const [b, objs] of all) {
    const cm = find(objs, "ConfigMap", "ums-config");
    check(cm?.data?.["ums.conf"], `${b}: no ums.conf`);
    const dir = fs.mkdtempSync(path.join(tmp, `conf-${b}-`));
    fs.mkdirSync(path.join(dir, "secrets"));
    fs.mkdirSync(path.join(dir, "run"));
    const secrets = new Set([...cm.data["ums.conf"].matchAll(/\/etc\/ums\/secrets\/([\w.-]+)/g)].map((m) => m[1]));
    for (const s of secrets) {
      const f = path.join(dir, "secrets", s);
      if (s.endsWith(".pem")) {
        const r = spawnSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", f]);
        check(r.status === 0, `openssl genpkey: ${r.stderr}`);
      } else {
        fs.writeFileSync(f, createHash("sha256").update(s).digest("hex"));
      }
      fs.chmodSync(f, 0o640);
    }
    // Every secret a pod mounts is named by the Secret the overlay makes.
    if (b === "production") {
      const sec = objs.find((o) => o.kind === "Secret");
      for (const s of secrets) check(sec.data[s], `production: the Secret has no ${s}`);
    }
    const conf = cm.data["ums.conf"].replaceAll("/etc/ums/secrets/", `${dir}/secrets/`).replaceAll("/run/ums/", `${dir}/run/`);
    fs.writeFileSync(path.join(dir, "ums.conf"), conf);
    const r = spawnSync(bin, ["--config", path.join(dir, "ums.conf"), "--check"], {
      encoding: "utf8",
      // The image's binaries find /usr/share/ums/templates; this build, the checkout's.
      env: { PATH: process.env.PATH, UMS_EMAIL_TEMPLATES_DIR: path.join(ROOT, "templates") },
    });
    check(r.status === 0, `${b}: ums-fcgi --check: ${r.stdout}${r.stderr}`);
    n++;
  }
  check(n === 3, `${n} configurations checked`);
});

// The GitHub workflows against GitHub's workflow schema (action-validator,
// offline), and a planted mistake that must fail the same way.
await test("ci/workflows", () => {
  const bin = path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules/.bin/action-validator");
  const wf = path.join(ROOT, ".github/workflows");
  const files = fs.readdirSync(wf).filter((f) => f.endsWith(".yml"));
  check(files.includes("ci.yml") && files.includes("release.yml"), `workflows: ${files}`);
  for (const f of files) {
    const r = spawnSync(bin, [path.join(wf, f)], { encoding: "utf8" });
    check(r.status === 0, `${f}: ${r.stdout}${r.stderr}`);
  }
  const ci = YAML.parse(fs.readFileSync(path.join(wf, "ci.yml"), "utf8"));
  check(ci.on.push !== undefined && ci.on.pull_request !== undefined, "ci.yml: not on push and pull_request");
  const steps = ci.jobs.check.steps;
  check(ci.jobs.check.container.image === "debian:bookworm", "ci.yml: not on Debian 12");
  check(steps.some((s) => /\.\/scripts\/check\b/.test(s.run ?? "")), "ci.yml: does not run ./scripts/check");
  check(steps.some((s) => (s.uses ?? "").startsWith("actions/upload-artifact") && s.if === "failure()"),
    "ci.yml: no log upload on failure");
  check(!JSON.stringify(ci).includes("actions/cache"), "ci.yml: caches something");
  const bad = path.join(tmp, "bad.yml");
  fs.writeFileSync(bad, "on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n");
  check(spawnSync(bin, [bad]).status !== 0, "a misspelt workflow passed the validator");
});

fs.rmSync(tmp, { recursive: true, force: true });
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
