// make image-test, second part: the pods of deploy/k8s/ actually run, with
// `podman kube play` (no cluster here), against throwaway PostgreSQL and
// RabbitMQ: the migration job's pod exits 0, consumerd and the API pod
// (lighttpd, mtm-api, mtm-events sharing their sockets) come up with their
// read-only root, /api/health and then /api/ready answer 200 through the
// API pod, consumerd's liveness command passes.
//
// What podman 4.3 cannot play is adapted in a temporary copy: host
// networking (so no `ports:`, and probes on the number), one replica, the
// Secret's values inlined as env (its kube Secret support is broken), the
// Job's pod template as a Pod, no node-exporter sidecar (no registry), no
// Service. Skipped with docker (it has no kube play).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import YAML from 'yaml';
import { startStack, REPO } from '../harness/stack.mjs';
import { run } from '../harness/proc.mjs';
import { freePort, waitFor, randomSecret } from '../harness/util.mjs';

const IMAGE = process.env.MTM_IMAGE_TEST_IMAGE || 'mtm:latest';
const IMAGE_SH = path.join(REPO, 'deploy', 'image.sh');
const K8S = path.join(REPO, 'deploy', 'k8s');
const ENGINE = execFileSync(IMAGE_SH, ['engine'], { encoding: 'utf8' }).trim();

function podman(args, { timeoutMs = 120000 } = {}) {
  return run(IMAGE_SH, ['run', ...args], { env: { ...process.env, MTM_IMAGE_ENGINE: 'podman' }, timeoutMs });
}

async function podmanOk(args, opts) {
  const r = await podman(args, opts);
  assert.equal(r.code, 0, `podman ${args.join(' ')}: status ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

const load = (f) => YAML.parseAllDocuments(fs.readFileSync(path.join(K8S, f), 'utf8')).map((d) => d.toJS({ maxAliasCount: 100 }));

test('deploy/k8s pods run under podman kube play', { skip: ENGINE !== 'podman' && 'needs podman (kube play)' }, async (t) => {
  const stack = await startStack({ consumerd: false, api: false, lighttpd: false, allowMissingDeps: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtm-kube-'));
  const tag = crypto.randomBytes(3).toString('hex');
  const port = await freePort();
  const played = [];
  try {
    const secrets = {
      MTM_PG_URL: stack.env.MTM_PG_URL,
      MTM_AMQP_URL: stack.env.MTM_AMQP_URL,
      MTM_JWT_SECRET: randomSecret(48),
      MTM_ADMIN_PASSWORD: randomSecret(18),
      MTM_ALERTS_TOKEN: randomSecret(40),
      MTM_METRICS_TOKEN: randomSecret(40),
    };
    // The Secret template must name exactly these.
    const template = load('secret.yaml.example')[0];
    assert.deepEqual(Object.keys(template.stringData).sort(), Object.keys(secrets).sort());

    const adapt = (podSpec) => {
      for (const c of podSpec.containers) {
        c.image = c.image.startsWith('mtm:') ? IMAGE : c.image;
        delete c.ports;
        for (const p of [c.livenessProbe, c.readinessProbe]) if (p && p.httpGet) p.httpGet.port = port;
        const env = (c.env || []).filter((e) => e.name !== 'MTM_HTTP_PORT');
        env.push({ name: 'MTM_HTTP_PORT', value: String(port) });
        if (c.envFrom && c.envFrom.some((e) => e.secretRef)) {
          c.envFrom = c.envFrom.filter((e) => !e.secretRef);
          for (const [name, value] of Object.entries(secrets)) env.push({ name, value });
        }
        c.env = env;
      }
      return podSpec;
    };
    const write = (name, obj) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, YAML.stringify(obj));
      return f;
    };
    const job = load('migrate-job.yaml')[0];
    const migrate = write('migrate.yaml', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: `mtm-migrate-${tag}` }, spec: adapt(job.spec.template.spec),
    });
    const consumerd = load('consumerd.yaml')[0];
    consumerd.metadata.name += `-${tag}`;
    consumerd.spec.replicas = 1; // one pod is enough to see it run
    consumerd.spec.template.spec.containers = consumerd.spec.template.spec.containers.filter((c) => c.name !== 'node-exporter');
    adapt(consumerd.spec.template.spec);
    const consumerdFile = write('consumerd.yaml', consumerd);
    const api = load('api.yaml').find((o) => o.kind === 'Deployment');
    api.metadata.name += `-${tag}`;
    api.spec.replicas = 1;
    adapt(api.spec.template.spec);
    const apiFile = write('api.yaml', api);
    const configmap = path.join(K8S, 'configmap.yaml');

    const play = async (file) => {
      played.push(file);
      await podmanOk(['kube', 'play', '--network', 'host', '--configmap', configmap, file]);
    };

    await t.test('the migration job\'s pod applies the migrations and exits 0', async () => {
      await play(migrate);
      const name = `mtm-migrate-${tag}-mtm-migrate`;
      const code = await podmanOk(['wait', name], { timeoutMs: 120000 });
      const logs = await podman(['logs', name]);
      assert.equal(code, '0', logs.stdout + logs.stderr);
      assert.match(logs.stdout + logs.stderr, /migration\(s\) applied/);
    });

    await t.test('consumerd and the API pod come up; /api/health, then /api/ready answer 200', async () => {
      await play(consumerdFile);
      await play(apiFile);
      const base = `http://127.0.0.1:${port}`;
      let last = '';
      await waitFor('GET /api/ready through the API pod to answer 200', async () => {
        const res = await fetch(`${base}/api/ready`, { signal: AbortSignal.timeout(3000) });
        last = `${res.status} ${await res.text()}`;
        return res.status === 200;
      }, { timeoutMs: 60000, intervalMs: 500, describe: () => `  last answer: ${last}` });
      assert.equal((await fetch(`${base}/api/health`)).status, 200);
    });

    await t.test('consumerd\'s liveness command passes; the root is read-only', async () => {
      const c = load('consumerd.yaml')[0].spec.template.spec.containers.find((x) => x.name === 'consumerd');
      const pod = `${consumerd.metadata.name}-pod-0`;
      await waitFor('consumerd\'s metrics file to be written', async () => (await podman(['exec', `${pod}-consumerd`, ...c.livenessProbe.exec.command])).code === 0,
        { timeoutMs: 20000, intervalMs: 500 });
      const r = await podman(['exec', `${pod}-consumerd`, 'touch', '/opt/mtm/x']);
      assert.notEqual(r.code, 0, 'the root file system is writable');
    });
  } finally {
    for (const f of played.reverse()) await podman(['kube', 'down', f]);
    fs.rmSync(dir, { recursive: true, force: true });
    await stack.stop();
  }
});
