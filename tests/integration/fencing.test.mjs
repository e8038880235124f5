// Self-fencing (docs/architecture.md, "Running across hosts"): a consumerd
// cut off from PostgreSQL while the broker still reaches it cannot know
// that its leases are expiring, so it stops its pools before they do. Its
// workers give their unacknowledged deliveries back to the queues, where
// the consumerd that takes the tenants gets them: nothing waits for the
// cut-off one to come back, and each queue has one consumer, not two.
//
// The second consumerd reaches PostgreSQL through a TCP proxy in this test;
// "cutting" it closes every proxied connection and refuses new ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startStack } from '../harness/stack.mjs';
import { makeApi, describe, startPublisher, assertStoredExactlyOnce, queueNames, metricValue } from '../harness/api.mjs';
import { waitFor, sleep } from '../harness/util.mjs';

let stack;
let api;
let proxy;

/** A TCP proxy to 127.0.0.1:port that can be cut (every connection closed, new ones refused) and restored. */
function tcpProxy(port) {
  const open = new Set();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) { client.destroy(); return; }
    const up = net.connect(port, '127.0.0.1');
    open.add(client);
    open.add(up);
    const drop = () => { client.destroy(); up.destroy(); open.delete(client); open.delete(up); };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    client.pipe(up);
    up.pipe(client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    cut() { cut = true; for (const s of open) s.destroy(); open.clear(); },
    restore() { cut = false; },
    close() { for (const s of open) s.destroy(); return new Promise((r) => server.close(r)); },
  })));
}

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
  proxy = await tcpProxy(stack.pgPort);
});

after(async () => {
  if (stack) await stack.stop();
  if (proxy) await proxy.close();
});

async function ownerOf(id) {
  const res = await api.getTenant(id);
  assert.equal(res.status, 200, describe(res));
  return res.json.consumer ? res.json.consumer.id : null;
}

function fencedMetric(name) {
  try {
    return metricValue(fs.readFileSync(stack.consumerdMetricsFile(name), 'utf8'), 'mtm_consumerd_fenced', { consumerd: name });
  } catch { return undefined; }
}

/** Consumers the broker counts on a queue. */
async function queueConsumers(queue) {
  const r = await stack.rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'consumers');
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.split(/\s+/)[0] === queue);
  return line ? Number(line.trim().split(/\s+/)[1]) : null;
}

test('a consumerd cut off from PostgreSQL fences itself: its tenant moves, its queue keeps one consumer, and every message published meanwhile is stored once while it is still cut off', async (t) => {
  const a = (await api.createTenant('fence-a', 1)).id;
  const b = (await api.createTenant('fence-b', 1)).id;
  const name = await stack.addConsumerd({ env: { MTM_PG_URL: `postgresql://mtm:mtm@127.0.0.1:${proxy.port}/mtm` } });
  const pid = stack.procs[name].pid;
  // Two consumerd, two tenants: one each (the fair share).
  let cutOff = null;
  await waitFor('each consumerd holds one tenant', async () => {
    const list = (await api.get('/api/ready')).json?.consumers || [];
    const mine = list.find((c) => c.pid === pid);
    if (list.length !== 2 || !mine) return false;
    const own = { [a]: await ownerOf(a), [b]: await ownerOf(b) };
    cutOff = Object.keys(own).find((id) => own[id] === mine.id) || null;
    return cutOff && Object.values(own).every((o) => o) && own[a] !== own[b];
  }, { timeoutMs: 30000 });
  const queue = queueNames(cutOff)[0];
  await waitFor('the cut-off tenant is being consumed', async () => (await queueConsumers(queue)) === 1, { timeoutMs: 15000 });
  const before_ = await ownerOf(cutOff);

  const pubs = [a, b].map((id) => startPublisher(api, id, { batch: 10, gapMs: 30, tag: 'fence' }));
  let results = null;
  const stopPublishers = async () => { if (!results) results = await Promise.all(pubs.map((p) => p.stop())); return results; };
  t.after(stopPublishers);
  await sleep(1000);
  const cutAt = Date.now();
  proxy.cut();

  await waitFor(`${name} fences itself (mtm_consumerd_fenced 1)`, async () => fencedMetric(name) === 1, { timeoutMs: 20000 });
  const fencedAfter = Date.now() - cutAt;
  await waitFor('the tenant moves to the other consumerd', async () => {
    const o = await ownerOf(cutOff);
    return o && o !== before_;
  }, { timeoutMs: 20000 });
  const movedAfter = Date.now() - cutAt;
  t.diagnostic(`fenced ${fencedAfter} ms and moved ${movedAfter} ms after the cut`);
  // One consumer on the queue: the new holder's, none left of the old one.
  await waitFor('one consumer on the moved tenant\'s queue', async () => (await queueConsumers(queue)) === 1, { timeoutMs: 15000 });
  await sleep(1500); // a while longer, publishing: still one
  assert.equal(await queueConsumers(queue), 1, 'no second consumer appears');

  await stopPublishers();
  for (const r of results) assert.deepEqual(r.failures.map(describe).slice(0, 3), [], 'every publish accepted');
  // Still cut off: what the fenced consumerd had taken from the queue
  // went back to it and was stored by the other.
  await assertStoredExactlyOnce(stack, a, results[0].ids, { timeoutMs: 30000, what: 'tenant a: ' });
  await assertStoredExactlyOnce(stack, b, results[1].ids, { timeoutMs: 30000, what: 'tenant b: ' });
  assert.equal(fencedMetric(name), 1, 'still fenced while cut off');

  proxy.restore();
  await waitFor(`${name} takes its heartbeat again (mtm_consumerd_fenced 0) and a fair share`, async () => {
    if (fencedMetric(name) !== 0) return false;
    const list = (await api.get('/api/ready')).json?.consumers || [];
    const mine = list.find((c) => c.pid === pid);
    return mine && [await ownerOf(a), await ownerOf(b)].includes(mine.id);
  }, { timeoutMs: 30000 });
});
