// GET /api/events, the server-sent event stream (mtm-events behind
// lighttpd): what an admin sees (tenant changes, workers during a resize,
// depths and rates, dead letters, deletion, the overview, heartbeats), what
// a tenant token sees (its tenant only, never another's), resuming with
// Last-Event-ID without gaps (and a reset when that is not possible),
// refusals (no token, a revoked one, a wrong method), a client that stops
// reading is cut off, and 500 streams at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startStack } from '../harness/stack.mjs';
import { amqpPublish } from '../harness/amqp.mjs';
import { makeApi, describe, queueNames } from '../harness/api.mjs';
import { openStream } from '../harness/sse.mjs';
import { sleep, waitFor } from '../harness/util.mjs';

let stack;
let api;
let admin;

before(async () => {
  stack = await startStack({ env: { MTM_MAX_ATTEMPTS: '1' } });
  await stack.waitReady();
  admin = await stack.adminToken();
  api = makeApi(stack, { token: admin });
});

after(async () => {
  if (stack) await stack.stop();
});

const logs = () => stack.describeLogs(['mtm-events', 'lighttpd-error']);
const ofTenant = (id, type) => (e) => e.event === type && (e.data.id === id || e.data.tenant_id === id);

async function tenantToken(id) {
  const res = await api.req('POST', `/api/tenants/${id}/tokens`);
  assert.equal(res.status, 201, describe(res));
  return res.json;
}

test('an admin stream: tenant created, its workers during a resize, messages stored with rates, a dead letter, the overview, deletion', async () => {
  const s = await openStream(stack.baseUrl, admin);
  try {
    assert.equal(s.status, 200, JSON.stringify(s.problem));
    assert.match(s.headers.get('content-type'), /^text\/event-stream/);
    const t = await api.createTenant(`ev-${Date.now().toString(36)}`, 1);
    const created = await s.next(ofTenant(t.id, 'tenant'));
    assert.equal(created.data.name, t.name);
    assert.match(created.id, /^\d+-\d+$/, 'every event has an id for Last-Event-ID');
    await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.workers.running === 1, { timeoutMs: 5000 });

    assert.equal((await api.setConcurrency(t.id, 3)).status, 200);
    await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.concurrency === 3, { timeoutMs: 3000 });
    await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.workers.running === 3, { timeoutMs: 5000 });

    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await api.publish(t.id, { payload: { i } })).json.id);
    const stored = await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.counters.stored >= 20, { timeoutMs: 10000 });
    assert.equal(typeof stored.data.rates.stored_per_s, 'number', JSON.stringify(stored.data));
    await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.rates.stored_per_s > 0, { timeoutMs: 5000 });
    assert.ok(s.events.filter(ofTenant(t.id, 'tenant')).every((e) => e.data.rates), 'every tenant event carries its rates');

    await amqpPublish(stack.amqpUrl, queueNames(t.id)[0], [{ body: 'not json', properties: { messageId: 'ev-poison' } }]);
    const dl = await s.next((e) => e.event === 'dead_letter' && e.data.id === 'ev-poison', { timeoutMs: 10000 });
    assert.equal(dl.data.tenant_id, t.id);
    assert.equal(dl.data.reason_code, 'body_not_json');
    await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.dlq_depth === 1, { timeoutMs: 5000 });
    const ov = await s.next((e) => e.event === 'overview' && e.data.tenants.total >= 1, { timeoutMs: 5000 });
    assert.deepEqual(Object.keys(ov.data).sort(), ['dlq_depth', 'queue_depth', 'rates', 'tenants', 'workers']);

    assert.equal((await api.deleteTenant(t.id)).status, 202);
    await s.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.status === 'deleting', { timeoutMs: 3000 });
    await s.next(ofTenant(t.id, 'tenant.deleted'), { timeoutMs: 15000 });
  } finally {
    s.close();
  }
});

test('a tenant token sees its own tenant and never another\'s', async () => {
  const a = await api.createTenant(`ev-a-${Date.now().toString(36)}`, 1);
  const b = await api.createTenant(`ev-b-${Date.now().toString(36)}`, 1);
  const tokA = (await tenantToken(a.id)).token;
  const sa = await openStream(stack.baseUrl, tokA);
  const sAdmin = await openStream(stack.baseUrl, admin);
  try {
    assert.equal(sa.status, 200, JSON.stringify(sa.problem));
    for (const id of [a.id, b.id]) {
      assert.equal((await api.setConcurrency(id, 2)).status, 200);
      await api.publish(id, { payload: { to: id } });
      await amqpPublish(stack.amqpUrl, queueNames(id)[0], [{ body: 'nope', properties: { messageId: `p-${id}` } }]);
    }
    // The admin stream shows both; A's stream shows A's.
    await sAdmin.next((e) => e.event === 'dead_letter' && e.data.tenant_id === b.id, { timeoutMs: 10000 });
    await sa.next((e) => e.event === 'dead_letter' && e.data.tenant_id === a.id, { timeoutMs: 10000 });
    await sa.next((e) => ofTenant(a.id, 'tenant')(e) && e.data.workers.running === 2, { timeoutMs: 5000 });
    // A deliberate window, not a wait for a condition: every status event
    // of this round goes out meanwhile, and none about B may reach A.
    await sleep(1500);
    const leaked = sa.events.filter((e) => JSON.stringify(e.data).includes(b.id) || e.event === 'overview');
    assert.deepEqual(leaked, [], 'no event about tenant B, and no global event, reaches A\'s token');
    assert.ok(sa.events.every((e) => e.event === 'heartbeat' || e.data.id === a.id || e.data.tenant_id === a.id),
      `every event A sees is about A: ${JSON.stringify(sa.events.map((e) => e.event))}`);
  } finally {
    sa.close();
    sAdmin.close();
  }
});

test('Last-Event-ID resumes without gaps; an id that cannot be resumed gets a reset event', async () => {
  const t = await api.createTenant(`ev-r-${Date.now().toString(36)}`, 1);
  const s1 = await openStream(stack.baseUrl, admin);
  const watch = await openStream(stack.baseUrl, admin); // tells when mtm-events has sent the changes below
  await api.setConcurrency(t.id, 2);
  const seen = await s1.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.concurrency === 2);
  s1.close();
  // While s1 is gone: three more changes, which mtm-events has sent (to
  // watch) before s2 asks to resume after `seen`.
  for (const c of [3, 4, 5]) assert.equal((await api.setConcurrency(t.id, c)).status, 200);
  try {
    await watch.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.concurrency === 5);
  } finally {
    watch.close();
  }
  const s2 = await openStream(stack.baseUrl, admin, { lastEventId: seen.id });
  try {
    const five = await s2.next((e) => ofTenant(t.id, 'tenant')(e) && e.data.concurrency === 5);
    const mine = s2.events.slice(0, s2.events.indexOf(five) + 1).filter(ofTenant(t.id, 'tenant')).map((e) => e.data.concurrency);
    for (const c of [3, 4, 5]) assert.ok(mine.includes(c), `concurrency ${c} was missed: ${JSON.stringify(mine)}`);
    const seqs = s2.events.filter((e) => e.id).map((e) => Number(e.id.split('-')[1]));
    assert.equal(seqs[0], Number(seen.id.split('-')[1]) + 1, 'it starts right after the last one seen');
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'no gap');
  } finally {
    s2.close();
  }
  for (const bad of ['1-1', 'garbage', `${seen.id.split('-')[0]}-999999999`]) {
    const s = await openStream(stack.baseUrl, admin, { lastEventId: bad });
    try {
      const e = await s.next((x) => x.event === 'reset', { timeoutMs: 3000 });
      assert.match(e.data.reason, /no longer kept/);
    } finally {
      s.close();
    }
  }
});

test('refusals: no token 401, a garbage token 401, a revoked tenant token 401 (and its open stream ends), POST 405', async () => {
  const none = await openStream(stack.baseUrl, null);
  assert.equal(none.status, 401);
  assert.equal(none.problem.status, 401);
  const bad = await openStream(stack.baseUrl, 'a.b.c');
  assert.equal(bad.status, 401);
  const res = await fetch(`${stack.baseUrl}/api/events`, { method: 'POST', headers: { authorization: `Bearer ${admin}` }, body: '' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET');

  const t = await api.createTenant(`ev-x-${Date.now().toString(36)}`, 1);
  const tok = await tenantToken(t.id);
  const s = await openStream(stack.baseUrl, tok.token);
  assert.equal(s.status, 200);
  assert.equal((await api.req('DELETE', `/api/tenants/${t.id}/tokens/${tok.jti}`)).status, 204);
  const again = await openStream(stack.baseUrl, tok.token);
  assert.equal(again.status, 401, 'a revoked token gets no new stream');
  // The open one is re-checked within 15 s and ended.
  await Promise.race([s.closed, sleep(25000).then(() => assert.fail(`the revoked token's stream is still open\n${logs()}`))]);
});

test('a client that stops reading is cut off; the others keep their events', async () => {
  // A raw connection that reads its headers and then nothing.
  const sock = net.connect({ host: '127.0.0.1', port: stack.httpPort });
  await new Promise((r) => sock.on('connect', r));
  sock.write(`GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n\r\n`);
  await new Promise((r) => sock.once('data', r));
  sock.pause();
  let serverClosed = false;
  sock.on('end', () => { serverClosed = true; });
  sock.on('close', () => { serverClosed = true; });
  const reader = await openStream(stack.baseUrl, admin);
  try {
    // About 20,000 events of ~700 bytes: far more than the 1 MiB mtm-events
    // keeps for a client, and the socket buffers on the way.
    const ts = [];
    for (let i = 0; i < 40; i++) ts.push((await api.createTenant(`ev-flood-${i}-${Date.now().toString(36)}`, 1)).id);
    const list = ts.map((id) => `'${id}'`).join(',');
    const metrics = path.join(stack.varDir, 'metrics', 'mtm-events.prom');
    const cut = () => { try { return Number((fs.readFileSync(metrics, 'utf8').match(/^mtm_events_cut_off_total (\d+)/m) || [])[1] || 0); } catch { return 0; } };
    // Rounds of changes until mtm-events counts the cut-off.
    await waitFor('mtm_events_cut_off_total >= 1', async () => {
      if (cut() >= 1) return true;
      // One transaction each: NOTIFYs repeated within one are folded into one.
      await stack.psql(`DO $$ BEGIN FOR i IN 1..10 LOOP UPDATE tenants SET concurrency = 1 + (concurrency % 3) WHERE id IN (${list}); COMMIT; END LOOP; END $$`);
      return false;
    }, { timeoutMs: 60000, intervalMs: 500, describe: logs });
    // The reading client still gets events after the flood.
    const last = reader.events.length;
    assert.equal((await api.setConcurrency(ts[0], 4)).status, 200);
    await reader.next((e) => ofTenant(ts[0], 'tenant')(e) && e.data.concurrency === 4, { from: last, timeoutMs: 15000 });
    sock.resume(); // drain what is buffered: then the end of the stream comes
    await waitFor('the stalled connection to be closed by the server', () => serverClosed, { timeoutMs: 10000 });
  } finally {
    reader.close();
    sock.destroy();
  }
});

test('500 streams at once all receive an event', async () => {
  const streams = [];
  try {
    for (let i = 0; i < 500; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => openStream(stack.baseUrl, admin, { timeoutMs: 30000 })));
      streams.push(...batch);
    }
    assert.ok(streams.every((s) => s.status === 200), `statuses: ${[...new Set(streams.map((s) => s.status))]}`);
    const t = await api.createTenant(`ev-500-${Date.now().toString(36)}`, 1);
    await Promise.all(streams.map((s) => s.next(ofTenant(t.id, 'tenant'), { timeoutMs: 20000 })));
    const health = await api.get('/api/health');
    assert.equal(health.status, 200, 'the API answers with 500 streams open');
    const text = fs.readFileSync(path.join(stack.varDir, 'metrics', 'mtm-events.prom'), 'utf8');
    assert.match(text, /^mtm_events_streams \d+/m);
  } finally {
    for (const s of streams) s.close();
  }
});
