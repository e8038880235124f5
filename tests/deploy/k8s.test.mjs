// deploy/k8s/ against the Kubernetes API schemas (npm kubernetes-models,
// offline), plus what issue 14 asks of them: the API (lighttpd + mtm-api +
// mtm-events) with probes on /api/health and /api/ready, consumerd, the
// migration job, config and secrets, every MTM_* setting provided. Run by
// `make lint` (lint-deploy).
//
// kubernetes-models checks types, required fields and enums but accepts
// unknown fields (a misspelt `livenesProbe` would pass), so every object is
// also walked against the field names of the models' TypeScript interfaces:
// like `kubectl apply --validate=strict`.
//
//   node --test tests/deploy/
//   MTM_K8S_DIR=/tmp/broken node --test tests/deploy/k8s.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO, settingNames, IMAGE_INTERNAL, SECRET_SETTINGS, makefileVersion } from './common.mjs';

const DIR = process.env.MTM_K8S_DIR || path.join(REPO, 'deploy', 'k8s');
const NODE_MODULES = path.join(REPO, 'node_modules');

/** [{file, obj}] of every manifest (*.yaml, and the *.yaml.example templates). */
function manifests() {
  const out = [];
  for (const f of fs.readdirSync(DIR).sort()) {
    if (!/\.ya?ml(\.example)?$/.test(f)) continue;
    for (const d of YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8'))) {
      if (d.errors.length) throw new Error(`${f}: ${d.errors.map((e) => e.message).join('; ')}`);
      const obj = d.toJS({ maxAliasCount: 100 });
      if (obj) out.push({ file: f, obj });
    }
  }
  return out;
}

/** The kubernetes-models class of an apiVersion + kind. */
async function modelClass(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const dir = group ? `${group}/${version}` : version;
  const mod = await import(`kubernetes-models/${dir}/${kind}`);
  return { cls: mod[kind], dts: path.join(NODE_MODULES, 'kubernetes-models', dir, `${kind}.d.ts`) };
}

// ---- unknown fields, from the models' .d.ts interfaces ---------------------

const interfaces = new Map(); // .d.ts path -> {fields: Map(name -> type), imports: Map(alias -> .d.ts path)}

function parseDts(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const text = fs.readFileSync(file, 'utf8');
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    const spec = m[2];
    const target = spec.startsWith('.')
      ? path.resolve(path.dirname(file), spec.replace(/\.js$/, '') + '.d.ts')
      : path.join(NODE_MODULES, spec.replace(/\.js$/, '') + '.d.ts');
    for (const name of m[1].split(',').map((s) => s.trim())) imports.set(name, target);
  }
  const start = text.search(/^export interface I\w+( extends [\w, ]+)? \{$/m);
  const fields = new Map();
  if (start >= 0) {
    const body = text.slice(start, text.indexOf('\n}', start));
    for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) fields.set(m[1], m[2].replace(/;$/, ''));
    if (/ extends TypeMeta/.test(body.split('\n')[0])) { fields.set('apiVersion', 'string'); fields.set('kind', 'string'); }
  }
  const r = { fields, imports, isInterface: start >= 0 };
  interfaces.set(file, r);
  return r;
}

/** Paths in `value` whose field names the interface of `file` does not have. */
function unknownFields(value, file, where, out) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  const { fields, imports, isInterface } = parseDts(file);
  if (!isInterface) return out;
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) { out.push(`${where}.${k}`); continue; }
    const type = fields.get(k);
    const arr = /^Array<(\w+)>$/.exec(type);
    const one = /^(\w+)$/.exec(type);
    const ref = (arr || one || [])[1];
    if (!ref || !imports.has(ref) || !fs.existsSync(imports.get(ref))) continue;
    if (arr && Array.isArray(v)) v.forEach((e, i) => unknownFields(e, imports.get(ref), `${where}.${k}[${i}]`, out));
    else if (one) unknownFields(v, imports.get(ref), `${where}.${k}`, out);
  }
  return out;
}

// ---- the checks ------------------------------------------------------------

const all = manifests();
const find = (kind, name) => all.map((m) => m.obj).find((o) => o.kind === kind && o.metadata.name === name);

test('every manifest is a valid Kubernetes object (kubernetes-models) with no unknown field', async () => {
  assert.ok(all.length >= 6, `manifests in ${DIR}: ${all.length}`);
  const problems = [];
  for (const { file, obj } of all) {
    const what = `${file}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    let model;
    try { model = await modelClass(obj.apiVersion, obj.kind); } catch (e) {
      problems.push(`${what}: no model for ${obj.apiVersion} ${obj.kind} (${e.message})`);
      continue;
    }
    try { new model.cls(obj).validate(); } catch (e) { problems.push(`${what}: ${e.message}`); }
    for (const f of unknownFields(obj, model.dts, obj.kind, [])) problems.push(`${what}: unknown field ${f}`);
  }
  assert.deepEqual(problems, []);
});

test('the API: lighttpd, mtm-api and mtm-events, probed on /api/health and /api/ready, behind a Service', () => {
  const d = find('Deployment', 'mtm-api');
  assert.ok(d, 'Deployment mtm-api');
  const containers = d.spec.template.spec.containers;
  assert.deepEqual(containers.map((c) => c.args[0]).sort(), ['lighttpd', 'mtm-api', 'mtm-events']);
  const web = containers.find((c) => c.args[0] === 'lighttpd');
  assert.equal(web.livenessProbe.httpGet.path, '/api/health');
  assert.equal(web.readinessProbe.httpGet.path, '/api/ready');
  const svc = find('Service', 'mtm-api');
  assert.ok(svc, 'Service mtm-api');
  assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
  // the three share the sockets' folder
  for (const c of containers) {
    const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
    assert.match(env.MTM_FCGI_SOCKET || '', /^\/run\/mtm\//, `${c.name}: MTM_FCGI_SOCKET`);
    assert.ok(c.volumeMounts.some((m) => m.mountPath === '/run/mtm' && m.name === 'sockets'), `${c.name}: sockets`);
  }
});

test('consumerd: several replicas sharing the tenants by lease, rolled one at a time; the migration job runs mtm-migrate', () => {
  const c = find('Deployment', 'mtm-consumerd');
  assert.ok(c, 'Deployment mtm-consumerd');
  assert.ok(c.spec.replicas >= 2, `replicas: ${c.spec.replicas}`);
  assert.equal(c.spec.strategy.type, 'RollingUpdate');
  assert.equal(c.spec.strategy.rollingUpdate.maxUnavailable, 0);
  assert.equal(c.spec.template.spec.containers[0].args[0], 'consumerd');
  const j = find('Job', 'mtm-migrate');
  assert.ok(j, 'Job mtm-migrate');
  assert.deepEqual(j.spec.template.spec.containers[0].args, ['mtm-migrate']);
});

test('every MTM_* setting is provided: plain ones by the ConfigMap, secrets by the Secret', () => {
  const cm = find('ConfigMap', 'mtm-config');
  const secret = find('Secret', 'mtm-secrets');
  assert.ok(cm && secret, 'ConfigMap mtm-config and Secret mtm-secrets');
  const secretKeys = Object.keys(secret.stringData || secret.data || {});
  for (const name of settingNames()) {
    if (IMAGE_INTERNAL[name]) continue;
    if (SECRET_SETTINGS.has(name)) {
      assert.ok(secretKeys.includes(name), `Secret lacks ${name}`);
      assert.ok(!(name in cm.data), `ConfigMap holds the secret ${name}`);
    } else {
      assert.ok(name in cm.data, `ConfigMap lacks ${name}`);
    }
  }
  for (const v of Object.values(secret.stringData || {})) assert.match(v, /REPLACE-ME/, 'the Secret template holds placeholders only');
  // the programs that read settings get both
  for (const { obj } of all) {
    for (const c of podContainers(obj)) {
      if (!['mtm-api', 'mtm-events', 'consumerd', 'mtm-migrate'].includes(c.args && c.args[0])) continue;
      const refs = (c.envFrom || []).map((e) => (e.configMapRef || e.secretRef).name).sort();
      assert.deepEqual(refs, ['mtm-config', 'mtm-secrets'], `${obj.metadata.name}/${c.name}: envFrom`);
    }
  }
});

function podContainers(obj) {
  const spec = obj.spec && obj.spec.template && obj.spec.template.spec;
  return spec ? spec.containers : [];
}

test('pods run as non-root with a read-only root; mtm images pinned to the Makefile VERSION', () => {
  const version = makefileVersion();
  for (const { file, obj } of all) {
    const spec = obj.spec && obj.spec.template && obj.spec.template.spec;
    if (!spec) continue;
    assert.equal(spec.securityContext.runAsNonRoot, true, `${file}: runAsNonRoot`);
    for (const c of spec.containers) {
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${file}/${c.name}: readOnlyRootFilesystem`);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, `${file}/${c.name}: allowPrivilegeEscalation`);
      assert.match(c.image, /:v?\d+\.\d+/, `${file}/${c.name}: image ${c.image} not pinned`);
      if (c.image.startsWith('mtm:')) assert.equal(c.image, `mtm:${version}`, `${file}/${c.name}`);
    }
  }
});
