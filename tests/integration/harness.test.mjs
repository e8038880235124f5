// Self-test of the harness itself (no mtm binaries needed): the throwaway
// PostgreSQL and RabbitMQ come up on their own ports with role/user mtm,
// survive stop/start with their data, and leave nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, sanitizerExcerpt } from '../harness/stack.mjs';
import { amqpProbe } from '../harness/amqp.mjs';
import { spawn } from 'node:child_process';
import { run, pidAlive } from '../harness/proc.mjs';
import { REPO, canConnect, waitFor } from '../harness/util.mjs';

let stack;

before(async () => {
  stack = await startStack({ consumerd: false, api: false, lighttpd: false });
});

after(async () => {
  if (stack && !stack.stopped) await stack.stop();
});

test('PostgreSQL: role mtm logs in over TCP with the URL, owns database mtm, is not a superuser', async () => {
  const r = await run(path.join(stack.pgBin, 'psql'), ['-X', '-A', '-t', stack.pgUrl, '-c',
    "select current_user, (select rolsuper from pg_roles where rolname = current_user), pg_get_userbyid(datdba) from pg_database where datname = 'mtm'"],
  { env: stack.baseEnv });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'mtm|f|mtm');
});

test('RabbitMQ: user mtm logs in to vhost / on the private port; rabbitmqctl reaches the private node', async () => {
  await amqpProbe(stack.amqpUrl);
  await assert.rejects(amqpProbe(stack.amqpUrl.replace('mtm:mtm', 'mtm:wrong'), { timeoutMs: 10000 }), /login refused/);
  const r = await stack.rabbitmqctl('list_users');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^mtm\s/m);
});

test('PostgreSQL stop/start keeps data and port', async () => {
  await stack.psql('CREATE TABLE kept (v int); INSERT INTO kept VALUES (42);');
  await stack.stopPostgres();
  assert.equal(await canConnect(stack.pgPort), false, 'port still open after stopPostgres');
  await stack.startPostgres();
  assert.equal(await stack.psql('SELECT v FROM kept'), '42');
});

test('RabbitMQ stop/start keeps data (a vhost) and port', async () => {
  const add = await stack.rabbitmqctl('add_vhost', 'kept');
  assert.equal(add.code, 0, add.stderr);
  await stack.stopRabbit();
  await assert.rejects(amqpProbe(stack.amqpUrl, { timeoutMs: 1000 }));
  await stack.startRabbit();
  await amqpProbe(stack.amqpUrl);
  const r = await stack.rabbitmqctl('list_vhosts');
  assert.match(r.stdout, /^kept$/m);
});

test('sanitizer report detection', () => {
  assert.equal(sanitizerExcerpt('all fine\n'), null);
  assert.ok(sanitizerExcerpt('x\n==1==ERROR: AddressSanitizer: heap-use-after-free\n'));
  assert.ok(sanitizerExcerpt('==1==ERROR: LeakSanitizer: detected memory leaks\n'));
  assert.ok(sanitizerExcerpt('lib/x.c:3:5: runtime error: signed integer overflow\n'));
});

test('stop() fails on a sanitizer report, a non-zero exit on SIGTERM, or a crash (fake binaries)', async () => {
  const fake = fs.mkdtempSync(path.join(stack.dir, 'fakebin-'));
  // prints a sanitizer line, then exits 3 on SIGTERM (the contract says 0)
  fs.writeFileSync(path.join(fake, 'consumerd'),
    '#!/bin/sh\necho "==1==ERROR: AddressSanitizer: heap-buffer-overflow (fake)" >&2\ntrap "exit 3" TERM\nwhile :; do sleep 0.1; done\n', { mode: 0o755 });
  const s = await startStack({ postgres: false, rabbitmq: false, api: false, lighttpd: false, allowMissingDeps: true, binDir: fake });
  await assert.rejects(s.stop(), (e) => {
    assert.match(e.message, /consumerd printed a sanitizer report/);
    assert.match(e.message, /heap-buffer-overflow \(fake\)/);
    assert.match(e.message, /status 3 on SIGTERM/);
    return true;
  });
  assert.deepEqual(s.leftoverPids(), []);
  fs.rmSync(s.dir, { recursive: true, force: true }); // kept because of the problems

  // dies by itself while the "test" runs
  fs.writeFileSync(path.join(fake, 'consumerd'), '#!/bin/sh\nsleep 0.5\necho bye >&2\nexit 7\n', { mode: 0o755 });
  const s2 = await startStack({ postgres: false, rabbitmq: false, api: false, lighttpd: false, allowMissingDeps: true, binDir: fake });
  await waitFor('the fake consumerd to exit by itself', () => !s2.procs.consumerd.running, { timeoutMs: 5000 });
  await assert.rejects(s2.stop(), /exited by itself with status 7/);
  fs.rmSync(s2.dir, { recursive: true, force: true });
});

test('stop() ends every process, frees the ports and removes the folder', async () => {
  const { dir, pgPort, amqpPort } = stack;
  assert.ok(stack.leftoverPids().length >= 2, 'expected tagged processes while running');
  await stack.stop();
  assert.deepEqual(stack.leftoverPids(), []);
  assert.equal(fs.existsSync(dir), false, `${dir} still exists`);
  assert.equal(await canConnect(pgPort), false);
  assert.equal(await canConnect(amqpPort), false);
});

test('the warm pool: a stack takes its booted RabbitMQ node and its PostgreSQL data folder, and owns them from then on', async () => {
  const dir = fs.mkdtempSync(path.join(process.env.MTM_TEST_TMPDIR || '/tmp', 'mtm-warm-pool-test-'));
  const pool = spawn(process.execPath, [path.join(REPO, 'tests', 'harness', 'warmpool.mjs'), dir, '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  pool.stdout.on('data', (d) => { out += d; });
  pool.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => pool.on('exit', r));
  const before = process.env.MTM_TEST_WARM_POOL;
  let s;
  try {
    const ready = (sub) => { try { return fs.readdirSync(path.join(dir, sub)).filter((f) => !f.startsWith('.')); } catch { return []; } };
    await waitFor('the pool to offer a node and a data folder', () => ready('ready').length === 1 && ready('pg-ready').length === 1,
      { timeoutMs: 60000, describe: () => out });
    const offer = JSON.parse(fs.readFileSync(path.join(dir, 'ready', ready('ready')[0]), 'utf8'));
    process.env.MTM_TEST_WARM_POOL = dir;
    s = await startStack({ consumerd: false, api: false, lighttpd: false });
    assert.equal(s.amqpPort, offer.amqpPort, 'the stack uses the node the pool offered');
    assert.equal(s.procs.rabbitmq.pid, offer.pid);
    assert.match(s.logs('postgres'), /^=== a copy of .*pg-ready/m, 'no initdb of its own');
    await amqpProbe(s.amqpUrl);
    assert.equal(await s.psql('SELECT current_database()'), 'mtm');
    // the superuser's password is the stack's own, not the template's
    const r = await run(path.join(s.pgBin, 'psql'), ['-X', '-A', '-t', `postgresql://postgres:${encodeURIComponent(s.pgSuperPassword)}@127.0.0.1:${s.pgPort}/mtm`, '-c', 'select 1'], { env: s.baseEnv });
    assert.equal(r.code, 0, r.stderr);
    // the pool boots the next one meanwhile; the taken one is the stack's
    await waitFor('the pool to offer the next node', () => ready('ready').length === 1, { timeoutMs: 60000, describe: () => out });
    assert.equal(await canConnect(offer.amqpPort), true);
    await s.stop();
    assert.equal(pidAlive(offer.pid), false, 'the stack stopped the node it took');
    assert.equal(await canConnect(offer.amqpPort), false);
    assert.equal(fs.existsSync(offer.dir), false, 'the node\'s folder went with the stack');
  } finally {
    if (before === undefined) delete process.env.MTM_TEST_WARM_POOL; else process.env.MTM_TEST_WARM_POOL = before;
    if (s && !s.stopped) await s.stop({ check: false });
    pool.kill('SIGTERM');
    await exited;
  }
  assert.equal(fs.existsSync(dir), false, `the pool removes its folder: ${out}`);
  assert.match(out, /stopped \(SIGTERM\): RabbitMQ nodes taken: 1; processes ended: [1-9]\d*/);
});
