// docs/backup.md, run: a stack with tenants, messages, a paused tenant, a
// tenant token and a dead letter is backed up (pg_dump of the mtm database
// in custom format, as the application's own role; RabbitMQ's definitions
// with rabbitmqctl export_definitions), then restored into a second, fresh
// stack (pg_restore into an empty database before mtm's migrations run,
// rabbitmqctl import_definitions) and everything is found again: the same
// tenants with their settings, the same message ids, the dead letter, each
// tenant's queues (declared by the import, before consumerd runs), the
// token, and consumerd then stores new messages as before.
//
// The commands are those of docs/backup.md, with the throwaway stacks'
// URLs; the harness runs rabbitmqctl against each stack's own node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe, queueNames, assertStoredExactlyOnce, storedIds } from '../harness/api.mjs';
import { amqpPublish } from '../harness/amqp.mjs';
import { run } from '../harness/proc.mjs';
import { waitFor } from '../harness/util.mjs';

let a; // the stack that is backed up
let b; // the fresh stack it is restored into
let dir; // the backup files
const sent = {}; // tenant id -> ids answered 202

/** pg_dump / pg_restore of the stack's PostgreSQL version, as the role mtm (row security applies to it). */
function pgTool(stack, tool, args) {
  return run(path.join(stack.pgBin, tool), args, {
    // The tables force row-level security on their owner too: read and
    // write every tenant's rows with mtm's own scope setting.
    env: { ...process.env, PGOPTIONS: '-c mtm.scope=all' },
    timeoutMs: 120000,
  });
}

function ok(r, what) {
  assert.equal(r.code, 0, `${what} failed (status ${r.code}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function rows(stack, sql) {
  const text = await stack.psql(sql);
  return text ? text.split('\n').sort() : [];
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtm-backup-'));
  fs.chmodSync(dir, 0o755); // rabbitmqctl runs as the rabbitmq user
  // One delivery, then the dead-letter store: a foreign message reaches it at once.
  a = await startStack({ env: { MTM_MAX_ATTEMPTS: '1', MTM_RETRY_BASE_MS: '10' } });
  await a.waitReady();
});

after(async () => {
  const stops = [a, b].filter(Boolean).map((s) => s.stop());
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  for (const r of await Promise.allSettled(stops)) if (r.status === 'rejected') throw r.reason;
});

test('back up a stack with messages and dead letters, restore it into a fresh one, find everything', async () => {
  // ---- the data
  const api = makeApi(a, { token: await a.adminToken() });
  const busy = await api.createTenant('backup busy', 2);
  const quiet = await api.createTenant('backup quiet', 1);
  for (const t of [busy, quiet]) sent[t.id] = await api.publishBatch(t.id, 40, `before-${t.name}`);
  const keyed = await api.publish(busy.id, { payload: { order: 43 } }, { idempotencyKey: 'order-43' });
  assert.equal(keyed.status, 202, describe(keyed));
  sent[busy.id].push(keyed.json.id);
  for (const t of [busy, quiet]) await assertStoredExactlyOnce(a, t.id, sent[t.id], { timeoutMs: 30000, what: `stack A ${t.name}: ` });
  await amqpPublish(a.amqpUrl, queueNames(busy.id)[0], [{ body: 'not json', properties: { messageId: 'poison-1' } }]);
  await waitFor('the dead letter', async () => Number(await a.psql('SELECT count(*) FROM dead_letters')) === 1, { timeoutMs: 15000 });
  assert.equal((await api.pause(quiet.id)).status, 200);
  const rate = await api.req('PUT', `/api/tenants/${busy.id}/config/rate_limit`, { json: { rate: 500, burst: 50 } });
  assert.equal(rate.status, 200, describe(rate));
  const tok = await api.req('POST', `/api/tenants/${quiet.id}/tokens`, { json: { ttl: 3600 } });
  assert.equal(tok.status, 201, describe(tok));
  const tenantToken = tok.json.token;
  assert.equal(typeof tenantToken, 'string', describe(tok));

  const tenantsSql = 'SELECT id, name, status, concurrency, publish_rate, publish_burst FROM tenants';
  const before_ = {
    tenants: await rows(a, tenantsSql),
    messages: await rows(a, 'SELECT tenant_id, id, seq, md5(payload::text) FROM messages'),
    deadLetters: await rows(a, 'SELECT tenant_id, id, reason, attempts, md5(body) FROM dead_letters'),
    tokens: await rows(a, 'SELECT jti, tenant_id, expires_at FROM tenant_tokens'),
  };
  assert.equal(before_.tenants.length, 2);
  assert.equal(before_.messages.length, 81);

  // ---- the backup (docs/backup.md, "Back up")
  const dump = path.join(dir, 'mtm.dump');
  ok(await pgTool(a, 'pg_dump', ['--format=custom', '--enable-row-security', `--file=${dump}`, a.pgUrl]), 'pg_dump');
  const defs = path.join(dir, 'rabbitmq-definitions.json');
  const exp = await a.rabbitmqctl('export_definitions', '-');
  ok(exp, 'rabbitmqctl export_definitions');
  fs.writeFileSync(defs, exp.stdout, { mode: 0o644 });
  const exported = JSON.parse(exp.stdout);
  for (const t of [busy, quiet]) {
    for (const q of queueNames(t.id)) assert.ok(exported.queues.some((x) => x.name === q), `${q} is in the export`);
  }
  const list = ok(await run(path.join(a.pgBin, 'pg_restore'), ['--list', dump]), 'pg_restore --list');
  for (const t of [busy, quiet]) assert.match(list, new RegExp(`TABLE DATA public messages_${t.id.replace(/-/g, '')} `), 'a partition per tenant in the dump');

  // ---- the restore (docs/backup.md, "Restore"): same secrets, empty database, then mtm
  b = await startStack({ env: { MTM_JWT_SECRET: a.env.MTM_JWT_SECRET, MTM_ADMIN_PASSWORD: a.env.MTM_ADMIN_PASSWORD } });
  for (const name of ['mtm-api', 'mtm-events']) await b.stopServer(name);
  await b.killConsumerd('SIGTERM');
  ok(await run(path.join(b.pgBin, 'psql'), ['-h', b.pgSock, '-p', String(b.pgPort), '-U', 'postgres', '-d', 'postgres',
    '-c', 'DROP DATABASE IF EXISTS mtm', '-c', 'CREATE DATABASE mtm OWNER mtm'], { timeoutMs: 60000 }), 'psql DROP/CREATE DATABASE');
  ok(await pgTool(b, 'pg_restore', ['--no-owner', '--exit-on-error', '--single-transaction', '--enable-row-security',
    `--dbname=${b.pgUrl}`, dump]), 'pg_restore');
  ok(await b.rabbitmqctl('import_definitions', defs), 'rabbitmqctl import_definitions');
  const queues = await b.listQueues();
  for (const t of [busy, quiet]) {
    for (const q of queueNames(t.id)) assert.ok(queues.has(q), `${q} exists after the import, before consumerd runs: ${[...queues.keys()]}`);
  }
  await b.startConsumerd();
  for (const name of ['mtm-api', 'mtm-events']) await b.startServer(name);
  await b.waitReady({ timeoutMs: 30000 });

  // ---- everything is there
  assert.deepEqual(await rows(b, tenantsSql), before_.tenants, 'tenants');
  assert.deepEqual(await rows(b, 'SELECT tenant_id, id, seq, md5(payload::text) FROM messages'), before_.messages, 'messages: same ids, order and payloads');
  assert.deepEqual(await rows(b, 'SELECT tenant_id, id, reason, attempts, md5(body) FROM dead_letters'), before_.deadLetters, 'dead letters');
  assert.deepEqual(await rows(b, 'SELECT jti, tenant_id, expires_at FROM tenant_tokens'), before_.tokens, 'tenant tokens');
  const migrations = await rows(b, 'SELECT name FROM schema_migrations');
  assert.deepEqual(migrations, fs.readdirSync(path.join(a.env.MTM_SQL_DIR)).filter((f) => f.endsWith('.sql')).sort(), 'every migration recorded once');

  const apiB = makeApi(b, { token: await b.adminToken() });
  const listed = (await apiB.listAll()).map((t) => `${t.id} ${t.name} ${t.status}`).sort();
  assert.deepEqual(listed, [`${busy.id} backup busy active`, `${quiet.id} backup quiet paused`].sort());
  const dlq = await apiB.get(`/api/tenants/${busy.id}/dlq`);
  assert.equal(dlq.status, 200, describe(dlq));
  assert.deepEqual(dlq.json.data.map((d) => d.id), ['poison-1'], describe(dlq));
  // A token issued before the backup still works: same secret, its row restored.
  const asTenant = makeApi(b, { token: tenantToken });
  const page = await asTenant.get(`/api/tenants/${quiet.id}/messages?limit=100`);
  assert.equal(page.status, 200, describe(page));
  assert.deepEqual(page.json.data.map((m) => m.id).sort(), [...sent[quiet.id]].sort());

  // ---- consumerd consumes as before: new messages are stored beside the old ones
  await apiB.waitWorkers(busy.id, 2, { timeoutMs: 20000 });
  const after_ = await apiB.publishBatch(busy.id, 10, 'after-restore');
  await assertStoredExactlyOnce(b, busy.id, [...sent[busy.id], ...after_], { timeoutMs: 30000, what: 'stack B after the restore: ' });
  assert.equal((await apiB.resume(quiet.id)).status, 200);
  const later = await apiB.publishBatch(quiet.id, 5, 'after-resume');
  await assertStoredExactlyOnce(b, quiet.id, [...sent[quiet.id], ...later], { timeoutMs: 30000, what: 'stack B, the resumed tenant: ' });
  const { total } = await storedIds(b, busy.id);
  assert.equal(total, 51);
});
