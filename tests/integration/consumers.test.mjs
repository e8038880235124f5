// Several consumerd share the tenants by lease (sql/0019_consumer_leases.sql,
// docs/architecture.md "Running across hosts"): each tenant is consumed by
// exactly one consumerd at a time; one that dies loses its tenants to the
// others within 10 s, one that stops gracefully hands them over at once,
// one that joins takes a fair share without a storm of moves; and nothing
// is lost or stored twice while tenants move.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../harness/stack.mjs';
import fs from 'node:fs';
import { makeApi, describe, startPublisher, assertStoredExactlyOnce, metricValue } from '../harness/api.mjs';
import { waitFor } from '../harness/util.mjs';

const TENANTS = 6;
let stack;
let api;
const ids = [];
const sent = {}; // tenant id -> every id answered 202 so far, across tests

before(async () => {
  stack = await startStack();
  await stack.waitReady();
  api = makeApi(stack, { token: await stack.adminToken() });
  for (let i = 0; i < TENANTS; i++) ids.push((await api.createTenant(`lease-${i}`, 1)).id);
});

after(async () => {
  if (stack) await stack.stop();
});

/** {tenant id: consumer id or null} as GET /api/tenants/{id} shows it. */
async function owners() {
  const out = {};
  for (const id of ids) {
    const res = await api.getTenant(id);
    assert.equal(res.status, 200, describe(res));
    out[id] = res.json.consumer ? res.json.consumer.id : null;
  }
  return out;
}

/** GET /api/ready's list of consumerd. */
async function consumers() {
  const res = await api.get('/api/ready');
  return res.json && Array.isArray(res.json.consumers) ? res.json.consumers : [];
}

/** Waits until `n` consumerd share every tenant evenly (each holds ceil or floor of TENANTS / n) and every pool runs. */
async function waitEven(n, timeoutMs, what) {
  let last = null;
  return waitFor(what, async () => {
    const list = await consumers();
    last = list;
    if (list.length !== n) return false;
    const own = await owners();
    if (Object.values(own).some((o) => o === null)) return false;
    const counts = list.map((c) => Object.values(own).filter((o) => o === c.id).length);
    if (counts.some((k) => k < Math.floor(TENANTS / n) || k > Math.ceil(TENANTS / n))) return false;
    for (const id of ids) {
      const t = (await api.getTenant(id)).json;
      if (t.workers.running !== t.concurrency) return false;
    }
    return { list, own };
  }, { timeoutMs, intervalMs: 250, describe: () => `consumers: ${JSON.stringify(last)}` });
}

test('two consumerd share six tenants three and three; each tenant names its consumerd; /api/ready lists both with their heartbeats', async () => {
  const one = await waitEven(1, 15000, 'one consumerd holds every tenant');
  assert.equal(new Set(Object.values(one.own)).size, 1);
  await stack.addConsumerd();
  const { list, own } = await waitEven(2, 30000, 'a second consumerd takes its share');
  for (const c of list) {
    assert.ok(c.heartbeat_age_s <= 5, `heartbeat of ${c.id}: ${c.heartbeat_age_s} s`);
    assert.ok(c.hostname && c.pid > 0, JSON.stringify(c));
  }
  assert.equal(new Set(Object.values(own)).size, 2);
});

/** The harness name of the consumerd process with this pid. */
function procName(pid) {
  return Object.keys(stack.procs).find((n) => /^consumerd(-\d+)?$/.test(n) && stack.proc(n).pid === pid);
}

test('every consumerd writes its own textfile in the one metrics folder; GET /api/metrics merges them: each consumerd with its heartbeat, each tenant under the consumerd that holds it, each family once', async () => {
  const { list, own } = await waitEven(2, 30000, 'two consumerd share the tenants');
  const names = Object.fromEntries(list.map((c) => [c.id, procName(c.pid)]));
  assert.deepEqual(Object.values(names).sort(), ['consumerd', 'consumerd-2'], JSON.stringify(list));
  for (const name of Object.values(names)) assert.ok(fs.existsSync(stack.consumerdMetricsFile(name)), `${name}'s textfile`);
  // Both rewrite their files every second: wait until each shows the tenants it holds now.
  let text = '';
  await waitFor('GET /api/metrics shows every tenant under its holder', async () => {
    const res = await api.get('/api/metrics');
    assert.equal(res.status, 200, describe(res));
    text = res.text;
    return ids.every((id) => metricValue(text, 'mtm_workers_running', { tenant: id, consumerd: names[own[id]] }) === 1);
  }, { timeoutMs: 10000, intervalMs: 250, describe: () => text.split('\n').filter((l) => l.startsWith('mtm_workers_running')).join('\n') });
  const now = Date.now() / 1000;
  for (const name of Object.values(names)) {
    assert.equal(metricValue(text, 'mtm_consumerd_up', { consumerd: name }), 1, name);
    const beat = metricValue(text, 'mtm_consumerd_heartbeat_timestamp_seconds', { consumerd: name });
    assert.ok(beat > now - 5 && beat <= now + 1, `${name}'s heartbeat ${beat} (now ${now})`);
  }
  // Each tenant's sample appears once: under its holder only.
  for (const id of ids) {
    const lines = text.split('\n').filter((l) => l.startsWith(`mtm_workers_running{tenant="${id}"`));
    assert.equal(lines.length, 1, lines.join('\n'));
  }
  // The text format wants one HELP and TYPE per family, its samples together.
  for (const family of ['mtm_consumerd_up', 'mtm_workers_running', 'mtm_publish_to_stored_seconds']) {
    assert.equal(text.split('\n').filter((l) => l.startsWith(`# TYPE ${family} `)).length, 1, family);
    const at = text.split('\n').map((l, i) => (l.startsWith(`${family}{`) || l.startsWith(`${family}_`) ? i : -1)).filter((i) => i >= 0);
    assert.equal(at[at.length - 1] - at[0] + 1, at.length, `${family}'s samples are contiguous`);
  }
});

test('a joining consumerd moves only its share: from two to three, exactly two tenants move, once', async () => {
  // Each of the two gives up exactly its excess (one); nothing else moves.
  const before_ = await owners();
  const name = await stack.addConsumerd();
  const { own } = await waitEven(3, 30000, 'a third consumerd takes its share');
  const moved = ids.filter((id) => before_[id] !== own[id]);
  assert.equal(moved.length, TENANTS / 3, `tenants moved: ${moved.length} (${JSON.stringify({ before_, own })})`);
  // Stop it again gracefully for the next tests: its tenants go back at once.
  const t0 = Date.now();
  await stack.killConsumerd('SIGTERM', { name });
  await waitEven(2, 5000, 'the two left take the third one\'s tenants back');
  assert.ok(Date.now() - t0 < 5000);
  // It stopped on purpose: its figures go with it (no stale heartbeat to
  // keep MtmConsumerdDown firing).
  assert.equal(fs.existsSync(stack.consumerdMetricsFile(name)), false, `${name}'s textfile removed at its clean stop`);
  const res = await api.get('/api/metrics');
  assert.equal(res.status, 200, describe(res));
  assert.ok(!res.text.includes(`consumerd="${name}"`), `no sample of ${name} left in GET /api/metrics`);
});

test('SIGKILL of one consumerd under load: its tenants move to the other within 10 s; every message is stored exactly once', async (t) => {
  await waitEven(2, 30000, 'two consumerd share the tenants');
  const pubs = ids.map((id) => startPublisher(api, id, { batch: 10, gapMs: 30, tag: 'kill' }));
  await new Promise((r) => setTimeout(r, 1500)); // load under way
  const own = await owners();
  const victim = Object.keys(stack.procs).filter((n) => /^consumerd-\d+$/.test(n) && stack.proc(n).running)[0];
  assert.ok(victim, 'an added consumerd is running');
  const killedAt = Date.now();
  await stack.killConsumerd('SIGKILL', { name: victim });
  const after_ = await waitEven(1, 15000, 'the survivor holds every tenant');
  const took = Date.now() - killedAt;
  t.diagnostic(`every tenant consumed again ${took} ms after SIGKILL`);
  assert.ok(took <= 10000, `tenants moved after ${took} ms (at most 10 s)`);
  assert.ok(Object.keys(own).some((id) => own[id] !== after_.own[id]), 'some tenants moved');
  const results = await Promise.all(pubs.map((p) => p.stop()));
  for (const [i, r] of results.entries()) {
    assert.deepEqual(r.failures.slice(0, 3), [], `publishes to ${ids[i]} failed`);
    sent[ids[i]] = [...(sent[ids[i]] || []), ...r.ids];
    await assertStoredExactlyOnce(stack, ids[i], sent[ids[i]], { what: `tenant ${i}: ` });
  }
});

test('graceful stop (SIGTERM) of the consumerd holding everything hands every tenant to a new one at once, under load, nothing lost or stored twice', async (t) => {
  const name = await stack.addConsumerd();
  await waitEven(2, 30000, 'two consumerd again');
  const pubs = ids.map((id) => startPublisher(api, id, { batch: 10, gapMs: 30, tag: 'term' }));
  await new Promise((r) => setTimeout(r, 1500));
  const stoppedAt = Date.now();
  const run = await stack.killConsumerd('SIGTERM', { name: 'consumerd' });
  assert.equal(run.code, 0, `consumerd exits 0 on SIGTERM: ${JSON.stringify(run)}`);
  await waitEven(1, 10000, `${name} holds every tenant`);
  const took = Date.now() - stoppedAt;
  t.diagnostic(`handed over ${took} ms after SIGTERM (stop included)`);
  assert.ok(took <= 5000, `graceful handover took ${took} ms`);
  const results = await Promise.all(pubs.map((p) => p.stop()));
  for (const [i, r] of results.entries()) {
    assert.deepEqual(r.failures.slice(0, 3), [], `publishes to ${ids[i]} failed`);
    sent[ids[i]] = [...(sent[ids[i]] || []), ...r.ids];
    await assertStoredExactlyOnce(stack, ids[i], sent[ids[i]], { what: `tenant ${i}: ` });
  }
  await stack.startConsumerd(); // as the stack expects at its end
});
