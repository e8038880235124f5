// The responder's publisher (lib/publisher.c): every request thread of a
// process publishes through one broker connection, with the broker's
// confirms pipelined across requests. What must hold: each request still
// gets its own verdict (a message the broker returns is not taken for a
// neighbour's, nor a neighbour's for it), concurrent requests share
// rounds of writes, and a connection the broker closes is replaced
// without losing or refusing a request that could be published.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe, queueNames, assertStoredExactlyOnce, metricValue } from '../harness/api.mjs';
import { assertProblem } from '../harness/http.mjs';
import { shareQuiet } from '../harness/util.mjs';

let stack;
let api;

before(async () => {
  // Fair shares (fairness.test.mjs) would refuse the concurrent requests
  // of one tenant here; this file is about the publisher alone.
  stack = await startStack({ env: { MTM_TENANT_THREADS: '8' } });
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
});

after(async () => {
  if (stack) await stack.stop();
});

/** Publishes `n` single messages to `tenant` over `conns` concurrent loops; resolves every answer. */
async function publishMany(tenant, n, conns, tag) {
  const answers = [];
  let next = 0;
  await Promise.all(Array.from({ length: conns }, async () => {
    while (next < n) {
      const i = next++;
      answers.push(await api.publish(tenant, { payload: { tag, i } }, { timeoutMs: 15000 }));
    }
  }));
  return answers;
}

async function publisherCounts() {
  const res = await api.get('/api/metrics');
  assert.equal(res.status, 200, describe(res));
  return { calls: metricValue(res.text, 'mtm_api_publisher_calls_total'), writes: metricValue(res.text, 'mtm_api_publisher_writes_total') };
}

test('a tenant whose queue vanished is answered 503 "queue is missing" while another tenant publishing beside it on the same connection gets 202 for every message, each stored once', async () => {
  const healthy = (await api.createTenant('pub-healthy', 1)).id;
  const broken = (await api.createTenant('pub-broken', 1)).id;
  // Behind mtm's back: the broken tenant's queue goes away.
  const conn = await amqplib.connect(stack.amqpUrl);
  try {
    const ch = await conn.createChannel();
    await ch.deleteQueue(queueNames(broken)[0]);
  } finally {
    await conn.close();
  }
  // 8 connections: within the healthy tenant's fair share (half of the
  // responder's 16 request threads, cgi-bin/tenantshare.h), so no publish
  // of it may be refused while the broken tenant competes.
  const [good, bad] = await Promise.all([publishMany(healthy, 300, 8, 'good'), publishMany(broken, 60, 4, 'bad')]);
  const notAccepted = good.filter((r) => r.status !== 202);
  assert.deepEqual(notAccepted.map(describe).slice(0, 3), [], 'every publish to the healthy tenant is accepted');
  for (const res of bad) {
    assertProblem(res, 503);
    assert.match(res.json.detail, /queue is missing/, describe(res));
  }
  await assertStoredExactlyOnce(stack, healthy, good.map((r) => r.json.id), { what: 'healthy tenant: ' });
});

test('requests publishing at once share rounds of writes: the publisher counts fewer writes than calls', async () => {
  const tenant = (await api.createTenant('pub-rounds', 1)).id;
  // The test before published for two tenants; this one is about the
  // publisher's rounds, not the fair share.
  await shareQuiet();
  const before0 = await publisherCounts();
  const answers = await publishMany(tenant, 400, 16, 'rounds');
  assert.deepEqual(answers.filter((r) => r.status !== 202).map(describe).slice(0, 3), []);
  const after0 = await publisherCounts();
  const calls = after0.calls - before0.calls, writes = after0.writes - before0.writes;
  assert.equal(calls, 400, `one call per request (${JSON.stringify({ before0, after0 })})`);
  assert.ok(writes >= 1 && writes < calls, `16 requests at a time over the responder's threads share rounds: ${writes} writes for ${calls} calls`);
});

test('after the broker closes every connection, publishes are accepted again at once and stored once', async () => {
  const tenant = (await api.createTenant('pub-reconnect', 1)).id;
  const first = await publishMany(tenant, 20, 4, 'before');
  assert.deepEqual(first.filter((r) => r.status !== 202).map(describe), []);
  const r = await stack.rabbitmqctl('close_all_connections', 'closed by publisher.test.mjs');
  assert.equal(r.code, 0, r.stderr);
  // The publisher learns of it from the broker's connection.close, or at
  // its next write: either way the next calls go out on a fresh connection.
  const second = await publishMany(tenant, 100, 8, 'after');
  assert.deepEqual(second.filter((x) => x.status !== 202).map(describe).slice(0, 3), [], 'no publish refused after the close');
  await assertStoredExactlyOnce(stack, tenant, [...first, ...second].map((x) => x.json.id), { what: 'after the close: ' });
});
