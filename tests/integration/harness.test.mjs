// Self-test of the harness itself (no mtm binaries needed): the throwaway
// PostgreSQL and RabbitMQ come up on their own ports with role/user mtm,
// survive stop/start with their data, and leave nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack, sanitizerExcerpt } from '../harness/stack.mjs';
import { amqpProbe } from '../harness/amqp.mjs';
import { run } from '../harness/proc.mjs';
import { canConnect, waitFor } from '../harness/util.mjs';

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
