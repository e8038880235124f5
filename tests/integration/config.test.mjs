// Configuration errors stop start-up with one clear line naming the variable
// (exit status 2), and MTM_CONFIG files are honoured with the environment
// winning over the file. Needs only PostgreSQL (for the "starts fine" cases).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, BIN_DIR, REPO, sanitizerEnv, sanitizerExcerpt } from '../harness/stack.mjs';
import { run } from '../harness/proc.mjs';
import { randomSecret, sleep } from '../harness/util.mjs';

const BINARIES = ['mtm-api', 'consumerd', 'mtm-migrate'];
const EXIT_TIMEOUT_MS = 15000;

let stack;
let dir;

before(async () => {
  stack = await startStack({ rabbitmq: false, consumerd: false, api: false, lighttpd: false });
  dir = path.join(stack.dir, 'config');
  fs.mkdirSync(path.join(dir, 'metrics'), { recursive: true });
});

after(async () => {
  if (stack) await stack.stop();
});

/** A complete, valid configuration whose servers are unreachable (port 1). */
function baseEnv(extra = {}) {
  const env = {
    ...stack.baseEnv,
    ...sanitizerEnv(),
    MTM_HOME: REPO,
    MTM_VAR_DIR: path.join(dir, 'var'),
    MTM_PG_URL: 'postgresql://mtm:mtm@127.0.0.1:1/mtm',
    MTM_AMQP_URL: 'amqp://mtm:mtm@127.0.0.1:1/',
    MTM_JWT_SECRET: randomSecret(40),
    MTM_FCGI_SOCKET: path.join(dir, `api-${Math.random().toString(36).slice(2)}.sock`),
    MTM_METRICS_DIR: path.join(dir, 'metrics'),
    MTM_SQL_DIR: path.join(REPO, 'sql'),
  };
  Object.assign(env, extra);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

function writeConfig(name, lines) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function show(r) {
  return `status ${r.code}${r.signal ? ' signal ' + r.signal : ''}${r.timedOut ? ' (timed out, killed)' : ''}\n  stderr: ${JSON.stringify(r.stderr.slice(0, 2000))}\n  stdout: ${JSON.stringify(r.stdout.slice(0, 500))}`;
}

/** Runs a binary that must refuse to start: status 2, one stderr line naming `variable`. */
async function expectConfigError(bin, env, variable) {
  const r = await run(path.join(BIN_DIR, bin), [], { env, cwd: dir, timeoutMs: EXIT_TIMEOUT_MS });
  assert.ok(!r.timedOut, `${bin} did not exit within ${EXIT_TIMEOUT_MS / 1000} s (expected a configuration error naming ${variable}): ${show(r)}`);
  const san = sanitizerExcerpt(r.stderr);
  assert.equal(san, null, `${bin} printed a sanitizer report:\n${san}`);
  assert.equal(r.code, 2, `${bin} must exit with status 2 on a bad ${variable}: ${show(r)}`);
  assert.ok(r.stderr.includes(variable), `${bin}'s stderr must name ${variable}: ${show(r)}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `${bin} must print exactly one line on stderr (contract): ${show(r)}`);
}

/**
 * Runs a binary whose configuration is valid: it must either exit 0 by
 * itself (mtm-migrate) or still be running after `graceMs`, and then exit 0
 * on SIGTERM. Never status 2.
 */
async function expectStarts(bin, env) {
  const oneShot = bin === 'mtm-migrate';
  const graceMs = oneShot ? 30000 : 2500;
  const child = spawn(path.join(BIN_DIR, bin), [], { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let r = await Promise.race([exited, sleep(graceMs).then(() => null)]);
  let terminated = false;
  if (!r) {
    terminated = true;
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    r = await Promise.race([exited, sleep(10000).then(() => null)]);
    if (!r) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      r = { ...(await exited), timedOut: true };
    }
  }
  const res = { ...r, stdout, stderr, timedOut: !!r.timedOut };
  const san = sanitizerExcerpt(stderr + stdout);
  assert.equal(san, null, `${bin} printed a sanitizer report:\n${san}`);
  assert.notEqual(res.code, 2, `${bin} refused a valid configuration: ${show(res)}`);
  assert.ok(!res.timedOut, `${bin} did not exit within 10 s of SIGTERM: ${show(res)}`);
  if (oneShot) assert.ok(!terminated, `${bin} did not finish within ${graceMs / 1000} s: ${show(res)}`);
  assert.equal(res.code, 0, `${bin} must ${terminated ? 'exit 0 on SIGTERM' : 'exit 0'}: ${show(res)}`);
  return res;
}

for (const bin of BINARIES) {
  test(`${bin}: MTM_JWT_SECRET of 10 bytes is refused`, async () => {
    await expectConfigError(bin, baseEnv({ MTM_JWT_SECRET: '0123456789' }), 'MTM_JWT_SECRET');
  });

  // Only the API signs and verifies tokens, so only mtm-api requires the
  // secret; the others still refuse a bad one (checked above).
  if (bin === 'mtm-api') {
    test(`${bin}: missing MTM_JWT_SECRET is refused`, async () => {
      await expectConfigError(bin, baseEnv({ MTM_JWT_SECRET: undefined }), 'MTM_JWT_SECRET');
    });
  }

  test(`${bin}: MTM_MAX_BODY=abc is refused`, async () => {
    await expectConfigError(bin, baseEnv({ MTM_MAX_BODY: 'abc' }), 'MTM_MAX_BODY');
  });

  test(`${bin}: MTM_LOG_LEVEL=loud is refused`, async () => {
    await expectConfigError(bin, baseEnv({ MTM_LOG_LEVEL: 'loud' }), 'MTM_LOG_LEVEL');
  });

  test(`${bin}: a bad value in the MTM_CONFIG file is refused (the file is read)`, async () => {
    const file = writeConfig(`bad-${bin}.conf`, ['# a comment', '', 'MTM_LOG_LEVEL=loud']);
    await expectConfigError(bin, baseEnv({ MTM_CONFIG: file }), 'MTM_LOG_LEVEL');
  });

  test(`${bin}: the environment wins over the MTM_CONFIG file (bad env value, good file value)`, async () => {
    const file = writeConfig(`good-${bin}.conf`, ['MTM_MAX_BODY=2048']);
    await expectConfigError(bin, baseEnv({ MTM_CONFIG: file, MTM_MAX_BODY: 'abc' }), 'MTM_MAX_BODY');
  });

  test(`${bin}: MTM_CONFIG naming a missing file is refused`, async () => {
    await expectConfigError(bin, baseEnv({ MTM_CONFIG: path.join(dir, 'does-not-exist.conf') }), 'MTM_CONFIG');
  });

  test(`${bin}: values from the MTM_CONFIG file are used (secret and database URL only in the file)`, async () => {
    const file = writeConfig(`values-${bin}.conf`, [
      '# written by config.test.mjs',
      `MTM_JWT_SECRET=${randomSecret(40)}`,
      `MTM_PG_URL=${stack.pgUrl}`,
      '',
    ]);
    await expectStarts(bin, baseEnv({ MTM_CONFIG: file, MTM_JWT_SECRET: undefined, MTM_PG_URL: undefined }));
  });

  test(`${bin}: the environment wins over the MTM_CONFIG file (good env value, bad file value)`, async () => {
    const file = writeConfig(`override-${bin}.conf`, ['MTM_LOG_LEVEL=loud', 'MTM_PG_URL=postgresql://mtm:mtm@127.0.0.1:1/mtm']);
    await expectStarts(bin, baseEnv({ MTM_CONFIG: file, MTM_LOG_LEVEL: 'info', MTM_PG_URL: stack.pgUrl }));
  });
}
