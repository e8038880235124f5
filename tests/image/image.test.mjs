// make image-test: the built image against throwaway PostgreSQL and RabbitMQ.
//
//   MTM_IMAGE_TEST_IMAGE=mtm:0.1.0 node --test tests/image/
//
// The harness (tests/harness/stack.mjs) starts PostgreSQL and RabbitMQ on
// free ports of 127.0.0.1 in a temporary folder; the container shares the
// host's network (--network host) and serves on a free port of its own. The
// test waits for the image's own HEALTHCHECK (GET /api/ready), logs in as the
// admin, creates a tenant, publishes a message, waits until it is stored,
// runs a second consumerd from the image the way the compose file's
// `consumerd` service does (command consumerd, the metrics volume shared),
// then stops the container and checks it ended cleanly (exit 0, every
// program stopped with status 0) well within the grace period.
//
// The engine is the one deploy/image.sh picks (docker when a docker engine
// answers, podman otherwise), run through `deploy/image.sh run` so podman
// gets this machine's containers.conf.
//
// Environment: MTM_IMAGE_TEST_IMAGE (default mtm:latest),
// MTM_IMAGE_TEST_VERSION / MTM_IMAGE_TEST_REVISION (expected OCI labels;
// checked when set), MTM_IMAGE_TEST_KEEP=1 keeps the container.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';
import YAML from 'yaml';
import { startStack, REPO } from '../harness/stack.mjs';
import { run } from '../harness/proc.mjs';
import { freePort, waitFor, randomSecret, sleep } from '../harness/util.mjs';

const IMAGE = process.env.MTM_IMAGE_TEST_IMAGE || 'mtm:latest';
const IMAGE_SH = path.join(REPO, 'deploy', 'image.sh');
// The grace period given to `stop`: supervisord stops lighttpd, mtm-api,
// mtm-events, then consumerd (up to 30 s for it to drain; stopwaitsecs).
const GRACE_S = 40;

const ENGINE = execFileSync(IMAGE_SH, ['engine'], { encoding: 'utf8' }).trim();

/** Runs the container engine; resolves {code, stdout, stderr}. */
function engine(args, { timeoutMs = 120000 } = {}) {
  return run(IMAGE_SH, ['run', ...args], { env: process.env, timeoutMs });
}

async function engineOk(args, opts) {
  const r = await engine(args, opts);
  assert.equal(r.code, 0, `${ENGINE} ${args.join(' ')}: status ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

async function inspect(name, format) {
  return engineOk(['inspect', '--format', format, name]);
}

test(`the image ${IMAGE} (${ENGINE}) serves, stores a message and stops cleanly`, async (t) => {
  const image = JSON.parse(await engineOk(['image', 'inspect', IMAGE]))[0];
  const info = image.Config;
  await t.test('non-root, OCI labels, a healthcheck', () => {
    assert.ok(info.User && !/^(root|0)(:|$)/.test(info.User), `image user: ${JSON.stringify(info.User)}`);
    const labels = info.Labels || {};
    for (const k of ['version', 'revision', 'source', 'created', 'title']) {
      assert.ok(labels[`org.opencontainers.image.${k}`], `label org.opencontainers.image.${k}: ${JSON.stringify(labels)}`);
    }
    if (process.env.MTM_IMAGE_TEST_VERSION) assert.equal(labels['org.opencontainers.image.version'], process.env.MTM_IMAGE_TEST_VERSION);
    if (process.env.MTM_IMAGE_TEST_REVISION) assert.equal(labels['org.opencontainers.image.revision'], process.env.MTM_IMAGE_TEST_REVISION);
    // podman keeps HEALTHCHECK only with --format docker
    // (docker: Config.Healthcheck; podman: Healthcheck)
    const healthcheck = info.Healthcheck || image.Healthcheck;
    const hc = healthcheck && healthcheck.Test;
    assert.ok(Array.isArray(hc) && hc.join(' ').includes('healthcheck.sh'), `healthcheck: ${JSON.stringify(healthcheck)}`);
  });

  const stack = await startStack({ consumerd: false, api: false, lighttpd: false, allowMissingDeps: true });
  const name = `mtm-image-test-${crypto.randomBytes(4).toString('hex')}`;
  const extra = `${name}-consumerd`; // the compose file's consumerd service
  const volume = `${name}-metrics`; // the compose file's metrics volume
  const keep = !!process.env.MTM_IMAGE_TEST_KEEP;
  const removeSync = () => {
    if (keep) return;
    for (const args of [['rm', '-f', extra], ['rm', '-f', name], ['volume', 'rm', '-f', volume]]) {
      try { execFileSync(IMAGE_SH, ['run', ...args], { stdio: 'ignore', timeout: 60000 }); } catch { /* gone */ }
    }
  };
  process.on('exit', removeSync);
  const logs = async () => { const r = await engine(['logs', name]); return r.stdout + r.stderr; };
  try {
    const port = await freePort();
    const env = {
      MTM_PG_URL: stack.env.MTM_PG_URL,
      MTM_AMQP_URL: stack.env.MTM_AMQP_URL,
      MTM_JWT_SECRET: randomSecret(48),
      MTM_ADMIN_PASSWORD: randomSecret(18),
      MTM_HTTP_PORT: String(port),
      MTM_HTTP_BIND: '127.0.0.1',
    };
    const base = `http://127.0.0.1:${port}`;
    let adminToken;
    await engineOk(['volume', 'create', volume]);
    await engineOk(['run', '-d', '--name', name, '--network', 'host', '-v', `${volume}:/var/lib/mtm/metrics`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), IMAGE]);

    await t.test('runs as the unprivileged user', async () => {
      assert.notEqual(await engineOk(['exec', name, 'id', '-u']), '0');
    });

    await t.test('every binary says its version and revision, those of the labels', async () => {
      const labels = info.Labels || {};
      for (const bin of ['mtm-api', 'mtm-events', 'consumerd', 'mtm-migrate']) {
        assert.equal(await engineOk(['exec', name, bin, '--version']),
          `${bin} ${labels['org.opencontainers.image.version']} (revision ${labels['org.opencontainers.image.revision']})`);
      }
    });

    await t.test('its own healthcheck turns healthy', async () => {
      const start = Date.now();
      await waitFor('the container healthcheck to pass', async () => {
        const running = await inspect(name, '{{.State.Running}}');
        if (running !== 'true') throw new Error(`container not running:\n${await logs()}`);
        if (ENGINE === 'podman') {
          // podman runs healthchecks from systemd timers; without systemd, run it here
          return (await engine(['healthcheck', 'run', name])).code === 0;
        }
        return (await inspect(name, '{{.State.Health.Status}}')) === 'healthy';
      }, { timeoutMs: 90000, intervalMs: 1000, describe: () => '' });
      t.diagnostic(`healthy after ${((Date.now() - start) / 1000).toFixed(1)} s`);
      const ready = await fetch(`${base}/api/ready`);
      assert.equal(ready.status, 200, await ready.text());
    });

    await t.test('log in, create a tenant, publish, see it stored', async () => {
      const call = async (method, p, { token, json } = {}) => {
        const headers = { 'content-type': 'application/json' };
        if (token) headers.authorization = `Bearer ${token}`;
        const res = await fetch(base + p, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), signal: AbortSignal.timeout(10000) });
        const text = await res.text();
        return { status: res.status, text, json: text ? JSON.parse(text) : null };
      };
      const login = await call('POST', '/api/auth/login', { json: { username: 'admin', password: env.MTM_ADMIN_PASSWORD } });
      assert.equal(login.status, 200, login.text);
      const token = login.json.access_token;
      const tenant = await call('POST', '/api/tenants', { token, json: { name: 'image-test', concurrency: 1 } });
      assert.equal(tenant.status, 201, tenant.text);
      const id = tenant.json.id;
      const pub = await call('POST', `/api/tenants/${id}/messages`, { token, json: { payload: { order: 42 } } });
      assert.equal(pub.status, 202, pub.text);
      let last;
      await waitFor('the message to be stored', async () => {
        last = await call('GET', `/api/tenants/${id}/messages?limit=10`, { token });
        return last.status === 200 && last.json.data.length === 1;
      }, { timeoutMs: 20000, intervalMs: 250, describe: () => `  last answer: ${last && last.status} ${last && last.text}` });
      assert.deepEqual(last.json.data[0].payload, { order: 42 });
      adminToken = token;
    });

    await t.test('a second consumerd from the image, as compose\'s consumerd service runs it, shares the tenants and the metrics volume under its own name', async () => {
      assert.ok(adminToken, 'no admin token: the previous step failed');
      const service = YAML.parse(fs.readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }).services.consumerd;
      assert.deepEqual(service.command, ['consumerd']);
      await engineOk(['run', '-d', '--name', extra, '--network', 'host', '--hostname', 'extra-1', '-v', `${volume}:/var/lib/mtm/metrics`,
        '-e', `MTM_PG_URL=${env.MTM_PG_URL}`, '-e', `MTM_AMQP_URL=${env.MTM_AMQP_URL}`, IMAGE, ...service.command]);
      const get = async (p) => {
        const res = await fetch(base + p, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(10000) });
        return { status: res.status, text: await res.text() };
      };
      let ready;
      await waitFor('two consumerd in /api/ready', async () => {
        ready = await get('/api/ready');
        return ready.status === 200 && JSON.parse(ready.text).consumers.length === 2;
      }, { timeoutMs: 30000, intervalMs: 500, describe: () => `  ${ready && ready.text}` });
      // The compose healthcheck (its file is fresh), run inside the container.
      const [kind, script] = service.healthcheck.test;
      assert.equal(kind, 'CMD-SHELL');
      await waitFor('the consumerd service\'s healthcheck to pass', async () =>
        (await engine(['exec', extra, 'sh', '-c', script.replaceAll('$$', '$')])).code === 0, { timeoutMs: 20000, intervalMs: 500 });
      const files = (await engineOk(['exec', name, 'ls', '/var/lib/mtm/metrics'])).split('\n').filter((f) => f.startsWith('mtm-consumerd-'));
      assert.equal(files.length, 2, files.join(' '));
      assert.ok(files.includes('mtm-consumerd-extra-1.prom'), files.join(' '));
      let metrics;
      await waitFor('both consumerd in GET /api/metrics', async () => {
        metrics = await get('/api/metrics');
        return (metrics.text.match(/^mtm_consumerd_up\{consumerd="[^"]+"\} 1$/gm) || []).length === 2;
      }, { timeoutMs: 15000, intervalMs: 500, describe: () => metrics.text.split('\n').filter((l) => l.startsWith('mtm_consumerd_up')).join('\n') });
      assert.match(metrics.text, /^mtm_consumerd_up\{consumerd="extra-1"\} 1$/m);
      // Scaled down: it stops cleanly, hands its tenants over and takes its file away.
      await engineOk(['stop', '-t', '30', extra], { timeoutMs: 60000 });
      assert.equal(await inspect(extra, '{{.State.ExitCode}}'), '0', (await engine(['logs', extra])).stderr);
      const left = (await engineOk(['exec', name, 'ls', '/var/lib/mtm/metrics'])).split('\n').filter((f) => f.startsWith('mtm-consumerd-'));
      assert.equal(left.length, 1, left.join(' '));
      assert.ok(!left.includes('mtm-consumerd-extra-1.prom'));
    });

    await t.test(`stops cleanly within ${GRACE_S} s`, async () => {
      // An open event stream (mtm-events through lighttpd) must not hold the stop up.
      assert.ok(adminToken, 'no admin token: the previous step failed');
      const stream = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(stream.status, 200);
      const reader = stream.body.getReader();
      await reader.read();
      const streamEnded = reader.read().then(() => true, () => true);
      const start = Date.now();
      await engineOk(['stop', '-t', String(GRACE_S), name], { timeoutMs: (GRACE_S + 30) * 1000 });
      assert.ok(await Promise.race([streamEnded, sleep(2000).then(() => false)]), 'the event stream is still open after the stop');
      const took = (Date.now() - start) / 1000;
      t.diagnostic(`stopped in ${took.toFixed(1)} s`);
      const text = await logs();
      assert.ok(took < GRACE_S, `stop took ${took} s (grace ${GRACE_S} s): killed?\n${text}`);
      assert.equal(await inspect(name, '{{.State.ExitCode}}'), '0', text);
      for (const prog of ['consumerd', 'mtm-api', 'mtm-events', 'lighttpd']) {
        assert.match(text, new RegExp(`stopped: ${prog} \\(exit status 0\\)`), `${prog} did not stop with status 0:\n${text}`);
      }
    });
  } finally {
    if (!keep) {
      await engine(['rm', '-f', extra]);
      await engine(['rm', '-f', name]);
      await engine(['volume', 'rm', '-f', volume]);
    }
    process.off('exit', removeSync);
    await stack.stop();
    await sleep(0);
  }
});
