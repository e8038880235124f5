// Queue types (issue 11, single node): MTM_QUEUE_TYPE chooses the queues of
// new tenants, each tenant keeps the type it was created with, and the
// whole pipeline (store exactly once, retry with a per-message TTL through
// the retry queue, dead-letter after MTM_MAX_ATTEMPTS, replay, delete) works
// on quorum queues as on classic ones. Also: MTM_AMQP_URL naming several
// URLs, the first of them a dead port.
//
// One stack: it starts with classic queues (the default), a tenant is made
// and used, then mtm-api and consumerd restart with MTM_QUEUE_TYPE=quorum,
// as an operator switching an installation would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import amqplib from 'amqplib';
import { startStack } from '../harness/stack.mjs';
import { waitFor } from '../harness/util.mjs';
import { amqpPublish } from '../harness/amqp.mjs';
import { makeApi, describe, assertFieldError, queueNames, storedIds, assertStoredExactlyOnce } from '../harness/api.mjs';

const MAX_ATTEMPTS = 3;
const RETRY_BASE_MS = 100;

let stack;
let api;

before(async () => {
  stack = await startStack({
    env: { MTM_MAX_ATTEMPTS: String(MAX_ATTEMPTS), MTM_RETRY_BASE_MS: String(RETRY_BASE_MS) },
  });
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['consumerd', 'mtm-api']);

/** name -> {type, arguments} of every queue, from rabbitmqctl. */
async function queueTypes() {
  const r = await stack.rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'type', 'arguments');
  assert.equal(r.code, 0, `rabbitmqctl list_queues: ${r.stderr}`);
  const out = new Map();
  for (const line of r.stdout.split('\n')) {
    const [name, type, args] = line.split('\t');
    if (name && type) out.set(name, { type, args: args || '' });
  }
  return out;
}

/** Both queues of tenant `id` exist with `type`; classic ones with x-queue-version `version`. */
async function assertQueues(id, type, version = 1) {
  const all = await queueTypes();
  for (const q of queueNames(id)) {
    assert.ok(all.has(q), `queue ${q} missing; the broker has ${JSON.stringify([...all.keys()])}`);
    const { args } = all.get(q);
    assert.equal(all.get(q).type, type, `${q}: type ${all.get(q).type}, arguments ${args}`);
    const declared = /\{"x-queue-version",(\d+)\}/.exec(args);
    if (type === 'classic') assert.equal(declared && Number(declared[1]), version, `${q}: arguments ${args}`);
    else assert.equal(declared, null, `${q}: a quorum queue has no version: ${args}`);
  }
  return all;
}

async function newTenant(name, extra = {}) {
  const res = await api.req('POST', '/api/tenants', { json: { name: `${name}-${Date.now().toString(36)}`, ...extra } });
  assert.equal(res.status, 201, describe(res));
  await api.waitWorkers(res.json.id, 1, { timeoutMs: 10000, describeExtra: logs });
  return res.json;
}

async function publishAndStore(id, n, tag) {
  const ids = await api.publishBatch(id, n, tag);
  const before_ = (await storedIds(stack, id)).ids;
  await assertStoredExactlyOnce(stack, id, [...before_.filter((x) => !ids.includes(x)), ...ids], { timeoutMs: 20000, what: `${tag}: ` });
  return ids;
}

/** Restarts mtm-api and consumerd with `env` added to their environment. */
async function restartWith(env) {
  await stack.stopServer('mtm-api');
  await stack.killConsumerd('SIGTERM');
  for (const name of ['mtm-api', 'consumerd']) Object.assign(stack.procs[name].env, env);
  await stack.startServer('mtm-api');
  await stack.startConsumerd();
  await stack.waitReady();
}

async function dlqAll(id) {
  const res = await api.get(`/api/tenants/${id}/dlq?limit=1000`);
  assert.equal(res.status, 200, describe(res));
  return res.json.data;
}

function deadPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

let classic; // made before the switch

test('classic (storage version 1) is the default; a bad queue_type is a 422 naming the field', async () => {
  classic = await newTenant('classic');
  assert.equal(classic.queue_type, 'classic', JSON.stringify(classic));
  await assertQueues(classic.id, 'classic');
  await publishAndStore(classic.id, 20, 'before');
  for (const bad of ['stream', 'Quorum', '', 5, null]) {
    assertFieldError(await api.req('POST', '/api/tenants', { json: { name: `bad-${Date.now()}`, queue_type: bad } }), 422, 'queue_type');
  }
});

test('after the switch to quorum, new tenants are quorum and the classic one keeps working; MTM_CLASSIC_QUEUE_VERSION=2 makes version 2 classic queues', async () => {
  await restartWith({ MTM_QUEUE_TYPE: 'quorum', MTM_CLASSIC_QUEUE_VERSION: '2' });
  const t = await newTenant('quorum');
  assert.equal(t.queue_type, 'quorum', JSON.stringify(t));
  await assertQueues(t.id, 'quorum');
  assert.equal((await api.tenant(classic.id)).queue_type, 'classic');
  await assertQueues(classic.id, 'classic');
  await publishAndStore(classic.id, 20, 'after');
  // queue_type in the body wins over the setting
  const c2 = await newTenant('classic-again', { queue_type: 'classic' });
  assert.equal(c2.queue_type, 'classic');
  await assertQueues(c2.id, 'classic', 2);
  await publishAndStore(c2.id, 20, 'v2');
  await assertQueues(classic.id, 'classic', 1); // the setting changes new tenants only
  assert.equal((await api.deleteTenant(c2.id)).status, 202);
  await api.waitGone(c2.id, { describeExtra: logs });
});

test('quorum tenant: stored exactly once, failures retried through the retry queue and dead-lettered after MTM_MAX_ATTEMPTS, replayed, deleted', async (t) => {
  const tenant = await newTenant('q-pipeline');
  const id = tenant.id;
  await publishAndStore(id, 200, 'q');

  const t0 = Date.now();
  await amqpPublish(stack.amqpUrl, queueNames(id)[0], [
    { body: 'not json {', properties: { messageId: 'poison-1' } },
    { body: '{"replay": "me"}' }, // no message_id: dead-lettered, storable once replayed under its dead-letter id
  ]);
  let entries = [];
  await waitFor('two dead letters with attempts == MTM_MAX_ATTEMPTS', async () => {
    entries = await dlqAll(id);
    return entries.length === 2 && entries.every((e) => e.attempts === MAX_ATTEMPTS);
  }, { timeoutMs: 30000, describe: () => `  dead letters: ${JSON.stringify(entries)}\n${logs()}` });
  for (const e of entries) {
    const first = Date.parse(e.first_failed_at), last = Date.parse(e.last_failed_at);
    assert.ok(first >= t0 - 1000, `${e.id}: first_failed_at ${e.first_failed_at}`);
    // two retries waited out their per-message TTL in the quorum retry queue
    assert.ok(last - first >= RETRY_BASE_MS, `${e.id}: only ${last - first} ms between the first and last failure`);
  }
  const poison = entries.find((e) => e.id === 'poison-1');
  assert.ok(poison, `poison-1 not among ${JSON.stringify(entries.map((e) => e.id))}`);
  assert.equal(poison.reason_code, 'body_not_json');
  const replayable = entries.find((e) => e.id !== 'poison-1');

  await t.test('replay', async () => {
    const res = await api.req('POST', `/api/tenants/${id}/dlq/replay`, { json: { ids: [replayable.id] } });
    assert.equal(res.status, 200, describe(res));
    assert.deepEqual(res.json, { replayed: 1, not_found: [] });
    await waitFor('the replayed message stored', async () => (await storedIds(stack, id)).ids.includes(replayable.id),
      { timeoutMs: 15000, describe: logs });
    assert.deepEqual((await dlqAll(id)).map((e) => e.id), ['poison-1']);
  });

  await t.test('both quorum queues are empty, then gone after DELETE', async () => {
    const q = await stack.listQueues();
    for (const name of queueNames(id)) assert.equal(q.get(name), 0, `${name}: ${q.get(name)} messages left`);
    assert.equal((await api.deleteTenant(id)).status, 202);
    await api.waitGone(id, { describeExtra: logs });
    const left = await queueTypes();
    for (const name of queueNames(id)) assert.ok(!left.has(name), `${name} still exists after the tenant was deleted`);
  });
});

// What docs/architecture.md ("Queue types") says of this broker version: a
// quorum queue without x-delivery-limit redelivers a requeued message
// without end (so mtm sets none: its own attempt count decides), counting
// the redeliveries in x-delivery-count.
test('this broker: a quorum queue without x-delivery-limit never drops a message requeued 30 times', async () => {
  const conn = await amqplib.connect(stack.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const q = `probe_delivery_limit_${Date.now()}`;
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    ch.sendToQueue(q, Buffer.from('{}'), { persistent: true });
    let m = false;
    for (let i = 0; i <= 30; i++) {
      const deadline = Date.now() + 5000;
      while (!(m = await ch.get(q, { noAck: false })) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(m, `the message is gone after ${i} requeues`);
      if (i < 30) ch.nack(m, false, true);
    }
    assert.equal(m.properties.headers['x-delivery-count'], 30, JSON.stringify(m.properties.headers));
    ch.ack(m);
    await ch.deleteQueue(q);
  } finally {
    await conn.close();
  }
});

test('MTM_AMQP_URL with two URLs, the first a dead port: the API and consumerd use the second', async () => {
  const url = `amqp://mtm:mtm@127.0.0.1:${await deadPort()}/,${stack.amqpUrl}`;
  await restartWith({ MTM_AMQP_URL: url });
  const t = await newTenant('two-urls');
  assert.equal(t.queue_type, 'quorum');
  await assertQueues(t.id, 'quorum');
  await publishAndStore(t.id, 50, 'failover');
  await publishAndStore(classic.id, 10, 'failover-classic');
});

// How a highly available PostgreSQL is reached (docs/architecture.md,
// "PostgreSQL's own availability"): a libpq multi-host URL tries each host
// in turn and, with target_session_attrs=read-write, keeps only a primary.
test('MTM_PG_URL with two hosts and target_session_attrs=read-write, the first a dead port: the API and consumerd use the second', async () => {
  const u = new URL(stack.env.MTM_PG_URL);
  const url = `postgresql://${u.username}:${u.password}@127.0.0.1:${await deadPort()},${u.host}${u.pathname}?target_session_attrs=read-write`;
  await restartWith({ MTM_PG_URL: url });
  const t = await newTenant('two-pg-hosts');
  await publishAndStore(t.id, 50, 'pg-hosts');
  const list = await api.get(`/api/tenants/${t.id}/messages?limit=5`);
  assert.equal(list.status, 200, describe(list));
  assert.equal(list.json.data.length, 5);
});
