// Per-tenant publish rate limit (PUT /api/tenants/{id}/config/rate_limit):
// a token bucket kept in PostgreSQL (sql/0009_publish_rate.sql), so that
// every responder process draws from the same bucket; each process takes
// its tokens a chunk at a time and spends them locally (cgi-bin/allowance.h,
// sql/0020_take_token_chunk.sql). Shown here by hammering one tenant
// through TWO front ends — the stack's own lighttpd + mtm-api and a second
// lighttpd + mtm-api (tests/harness/frontend.mjs) — and counting the 202s
// against burst + rate × window (+ one chunk per process when the
// processes held tokens before the window began).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startStack } from '../harness/stack.mjs';
import { startFrontend } from '../harness/frontend.mjs';
import { sleep } from '../harness/util.mjs';
import { request, assertProblem, describe } from '../harness/http.mjs';
import { assertFieldError, assertStoredExactlyOnce, makeApi, metricValue } from '../harness/api.mjs';

const RATE = 20;
const BURST = 20;
const WINDOW_MS = 3000;
const CLIENTS_PER_FRONTEND = 8; // clients per mtm-api (MTM_API_THREADS is 16 by default)

let stack;
let fe2;
let admin;
let api; // makeApi(stack, {token: admin})

const rand = () => crypto.randomBytes(4).toString('hex');

before(async () => {
  stack = await startStack();
  admin = await stack.adminToken();
  api = makeApi(stack, { token: admin });
  await stack.waitReady({ timeoutMs: 30000 });
  fe2 = await startFrontend(stack, 'fe2');
});

after(async () => {
  if (fe2) await fe2.stop();
  if (stack) await stack.stop();
});

/** An admin's request (Api.req: `base` for fe2); never 5xx. */
async function call(method, path, opts = {}) {
  const res = await api.req(method, path, opts);
  assert.ok(res.status < 500, `no 5xx: ${describe(res)}`);
  return res;
}

const createTenant = () => api.createTenant(`rl-${rand()}`);

test('rate_limit body validation: 422 naming the field; 404 for an unknown tenant', async () => {
  const t = await createTenant();
  const put = (body) => call('PUT', `/api/tenants/${t.id}/config/rate_limit`, typeof body === 'string'
    ? { body, headers: { 'content-type': 'application/json' } } : { json: body });
  assertFieldError(await put({ burst: 5 }), 422, 'rate');
  assertFieldError(await put({ rate: -1 }), 422, 'rate');
  assertFieldError(await put({ rate: '20' }), 422, 'rate');
  assertFieldError(await put({ rate: 1.5 }), 422, 'rate');
  assertFieldError(await put({ rate: null, burst: 5 }), 422, 'burst'); // null rate = back to the defaults, with no burst
  assertFieldError(await put({ rate: 5, burst: null }), 422, 'burst');
  assertFieldError(await put({ rate: 1000001 }), 422, 'rate');
  assertFieldError(await put({ rate: 1e300 }), 422, 'rate');
  assertFieldError(await put({ rate: 5, burst: 0 }), 422, 'burst');
  assertFieldError(await put({ rate: 5, burst: -3 }), 422, 'burst');
  assertFieldError(await put({ rate: 5, burst: 'x' }), 422, 'burst');
  assertFieldError(await put({ rate: 5, bucket: 3 }), 422, 'bucket');
  assertProblem(await put('[1,2]'), 422);
  assertProblem(await put('{"rate":'), 400);
  assertProblem(await put(''), 400);
  const unknown = await call('PUT', `/api/tenants/${crypto.randomUUID()}/config/rate_limit`, { json: { rate: 5 } });
  assertProblem(unknown, 404);
  // nothing was stored by the refused bodies
  const got = await call('GET', `/api/tenants/${t.id}`);
  assert.deepEqual(got.json.publish_limit, { rate: null, burst: null }, `refused bodies must not change the limit: ${describe(got)}`);
  const ok = await put({ rate: 7, burst: 9 });
  assert.equal(ok.status, 200, describe(ok));
  assert.deepEqual(ok.json.publish_limit, { rate: 7, burst: 9 }, describe(ok));
  const reset = await put({ rate: null });
  assert.equal(reset.status, 200, describe(reset));
  assert.deepEqual(reset.json.publish_limit, { rate: null, burst: null }, `"rate": null returns to the installation's defaults: ${describe(reset)}`);
});

test(`rate ${RATE}/s, burst ${BURST}: hammered for ${WINDOW_MS / 1000} s by ${2 * CLIENTS_PER_FRONTEND} clients through two responder processes, at most burst + rate × window are accepted`, async (t) => {
  const tenant = await createTenant();
  const res = await call('PUT', `/api/tenants/${tenant.id}/config/rate_limit`, { json: { rate: RATE, burst: BURST } });
  assert.equal(res.status, 200, describe(res));
  assert.deepEqual(res.json.publish_limit, { rate: RATE, burst: BURST }, describe(res));

  const fronts = [{ name: 'stack', base: stack.baseUrl }, { name: 'fe2', base: fe2.baseUrl }];
  const results = []; // {front, status, retryAfter, id, start, end, problem}
  const t0 = Date.now();
  const client = async (front, k) => {
    for (let i = 0; Date.now() - t0 < WINDOW_MS; i++) {
      const start = Date.now();
      const r = await request(front.base, 'POST', `/api/tenants/${tenant.id}/messages`, {
        token: admin, json: { payload: { front: front.name, k, i } }, timeoutMs: 10000,
      });
      results.push({
        front: front.name, status: r.status, retryAfter: r.headers.get('retry-after'),
        id: r.json && r.json.id, start, end: Date.now(),
        problem: /problem\+json/.test(r.headers.get('content-type') || ''), text: r.text.slice(0, 200),
      });
    }
  };
  await Promise.all(fronts.flatMap((f) => Array.from({ length: CLIENTS_PER_FRONTEND }, (_, k) => client(f, k))));
  const tEnd = Math.max(...results.map((r) => r.end));
  const windowS = (tEnd - t0) / 1000;

  const accepted = results.filter((r) => r.status === 202);
  const limited = results.filter((r) => r.status === 429);
  const other = results.filter((r) => r.status !== 202 && r.status !== 429);
  const byFront = Object.fromEntries(fronts.map((f) => [f.name, {
    sent: results.filter((r) => r.front === f.name).length,
    accepted: accepted.filter((r) => r.front === f.name).length,
  }]));
  // Every 202 was granted by the database between t0 and tEnd (each request
  // started at or after t0 and ended by tEnd), and the bucket, full at the
  // first grant, refills at RATE/s: at most BURST + RATE × window grants.
  // Tolerance +1: the window is measured on node's clock, the refill on
  // PostgreSQL's clock_timestamp(); the two (same host) can disagree by a
  // few ms per measurement, which at 20/s is worth less than one message.
  const bound = BURST + RATE * windowS;
  const TOLERANCE = 1;
  const summary = `accepted ${accepted.length} (bound ${bound.toFixed(1)} + ${TOLERANCE}), 429 ${limited.length}, other ${other.length}, ` +
    `window ${windowS.toFixed(3)} s, per front end ${JSON.stringify(byFront)}`;
  t.diagnostic(summary);

  await t.test('only 202 and 429 answers', () => {
    assert.deepEqual(other.map((r) => `${r.front}: ${r.status} ${r.text}`), [], summary);
  });

  await t.test('the load really was spread over both responder processes, each of which accepted some', () => {
    for (const f of fronts) {
      assert.ok(byFront[f.name].sent >= 20, `${f.name} sent only ${byFront[f.name].sent}: ${summary}`);
      assert.ok(byFront[f.name].accepted >= 1, `${f.name} accepted nothing: ${summary}`);
    }
    assert.ok(limited.length > accepted.length, `the clients must have pushed well past the limit to prove anything: ${summary}`);
  });

  await t.test(`total accepted <= burst + rate × window (+${TOLERANCE})`, () => {
    assert.ok(accepted.length <= bound + TOLERANCE,
      `accepted ${accepted.length} > allowed ${(bound + TOLERANCE).toFixed(1)} (= ${BURST} + ${RATE} × ${windowS.toFixed(3)} s + ${TOLERANCE}); ` +
      `a per-process bucket would allow about twice that: ${summary}`);
  });

  await t.test('and the limiter does not starve the tenant: at least burst + half of rate × window accepted', () => {
    const floor = BURST + (RATE * windowS) / 2;
    assert.ok(accepted.length >= floor, `accepted ${accepted.length} < ${floor.toFixed(1)}: ${summary}`);
  });

  await t.test('every 429 is problem+json with Retry-After (whole seconds, 1..60)', () => {
    const bad = limited.filter((r) => !r.problem || !/^\d+$/.test(r.retryAfter || '') || Number(r.retryAfter) < 1 || Number(r.retryAfter) > 60);
    assert.deepEqual(bad.slice(0, 5).map((r) => `${r.front}: Retry-After ${JSON.stringify(r.retryAfter)} ${r.text}`), [], `${bad.length} of ${limited.length} 429s lack a proper Retry-After`);
  });

  await t.test('every accepted message is stored exactly once', async () => {
    await assertStoredExactlyOnce(stack, tenant.id, accepted.map((r) => r.id), { timeoutMs: 30000 });
  });

  await t.test('after a pause of one second the bucket has refilled (a publish is accepted again)', async () => {
    // A deliberate pause, not a wait for a condition: the refill after one second is what is tested.
    await sleep(1000);
    const r = await call('POST', `/api/tenants/${tenant.id}/messages`, { base: fe2.baseUrl, json: { payload: 'again' } });
    assert.equal(r.status, 202, describe(r));
  });
});

test('a batch larger than the burst can never be granted: refused as a whole (422 naming messages, or a 429 with Retry-After)', async () => {
  const tenant = await createTenant();
  let res = await call('PUT', `/api/tenants/${tenant.id}/config/rate_limit`, { json: { rate: 5, burst: 10 } });
  assert.equal(res.status, 200, describe(res));
  res = await call('POST', `/api/tenants/${tenant.id}/messages`, { json: { messages: Array.from({ length: 11 }, (_, i) => ({ payload: i })) } });
  assert.ok(res.status === 422 || res.status === 429, `expected 422/429: ${describe(res)}`);
  assertProblem(res, res.status);
  if (res.status === 422) assertFieldError(res, 422, 'messages');
  if (res.status === 429) {
    assert.ok(res.headers.get('retry-after'), `the spec's 429 carries Retry-After (this batch can never succeed, so 422 naming "messages" fits better): ${describe(res)}`);
  }
  // a batch of exactly the burst is granted
  res = await call('POST', `/api/tenants/${tenant.id}/messages`, { json: { messages: Array.from({ length: 10 }, (_, i) => ({ payload: i })) } });
  assert.equal(res.status, 202, describe(res));
});

test('rate 0 means unlimited: 60 rapid publishes all accepted', async () => {
  const tenant = await createTenant();
  let res = await call('PUT', `/api/tenants/${tenant.id}/config/rate_limit`, { json: { rate: 0, burst: 1 } });
  assert.equal(res.status, 200, describe(res));
  // In waves of 8, 4 to each front end: within the tenant's share of each
  // responder's threads (MTM_TENANT_THREADS, half of 8, which a tenant may
  // pass only while a thread stays free), so that only the publish limit
  // could refuse them (fairness.test.mjs covers the share).
  const all = [];
  for (let w = 0; w < 60; w += 8) {
    all.push(...await Promise.all(Array.from({ length: Math.min(8, 60 - w) }, (_, k) => call('POST', `/api/tenants/${tenant.id}/messages`, { base: (w + k) % 2 ? fe2.baseUrl : stack.baseUrl, json: { payload: w + k } }))));
  }
  const statuses = all.map((r) => r.status);
  assert.deepEqual([...new Set(statuses)], [202], `statuses: ${JSON.stringify(statuses)}`);
});

/** The chunk a responder process takes from the shared bucket (cgi-bin/allowance.h). */
const chunkOf = (rate, burst) => Math.min(burst, Math.max(1, Math.floor(rate / 10)));

test('overshoot bound: with each responder process holding a chunk and the bucket full, a flood gets at most burst + rate × window + 2 chunks', async (t) => {
  // Low enough that 16 clients exceed it even on a busy machine with the ASan build.
  const rate = 30, burst = 10, chunk = chunkOf(rate, burst); // chunk 3
  const tenant = await createTenant();
  const res = await call('PUT', `/api/tenants/${tenant.id}/config/rate_limit`, { json: { rate, burst } });
  assert.equal(res.status, 200, describe(res));
  const fronts = [{ name: 'stack', base: stack.baseUrl }, { name: 'fe2', base: fe2.baseUrl }];
  const publishVia = (front, payload) => request(front.base, 'POST', `/api/tenants/${tenant.id}/messages`,
    { token: admin, json: { payload }, timeoutMs: 10000 });
  // The worst case: each process takes a chunk (one publish draws 1 + chunk
  // and keeps chunk) and the bucket refills before the flood. Deliberate
  // pauses: the refill takes burst / rate = 0.33 s; nothing observable marks it.
  for (const f of fronts) {
    await sleep(500);
    const r = await publishVia(f, 'prime');
    assert.equal(r.status, 202, describe(r));
  }
  await sleep(500);
  const WINDOW = 1500;
  const results = [];
  const t0 = Date.now();
  await Promise.all(fronts.flatMap((f) => Array.from({ length: CLIENTS_PER_FRONTEND }, async () => {
    while (Date.now() - t0 < WINDOW) {
      const r = await publishVia(f, 'flood');
      results.push({ front: f.name, status: r.status, end: Date.now(), text: r.text.slice(0, 200) });
    }
  })));
  const windowS = (Math.max(...results.map((r) => r.end)) - t0) / 1000;
  const accepted = results.filter((r) => r.status === 202).length;
  const other = results.filter((r) => r.status !== 202 && r.status !== 429);
  const shared = burst + rate * windowS;
  const bound = shared + fronts.length * chunk;
  const summary = `accepted ${accepted} in ${windowS.toFixed(3)} s: the shared bucket alone gives at most ${shared.toFixed(1)}, ` +
    `the bound with ${fronts.length} processes × chunk ${chunk} is ${bound.toFixed(1)} (+1 for the clocks); ` +
    `429 ${results.filter((r) => r.status === 429).length}`;
  t.diagnostic(summary);
  assert.deepEqual(other.map((r) => `${r.front}: ${r.status} ${r.text}`), [], summary);
  assert.ok(accepted <= bound + 1, summary);
  const refused = results.length - accepted;
  if (refused > 0) // the flood exceeded the limit: it must still get a fair share
    assert.ok(accepted >= burst + (rate * windowS) / 2, `the flood must not be starved: ${summary}`);
});

test('a publish under a limit that does not bind costs no database round trip: the process spends its local allowance', async () => {
  const tenant = await createTenant();
  const res = await call('PUT', `/api/tenants/${tenant.id}/config/rate_limit`, { json: { rate: 1000, burst: 1000 } }); // chunk 100
  assert.equal(res.status, 200, describe(res));
  const counts = async () => {
    const m = await call('GET', '/api/metrics', { base: fe2.baseUrl });
    assert.equal(m.status, 200, describe(m));
    return {
      local: metricValue(m.text, 'mtm_api_publish_limit_checks_total', { granted_by: 'local' }),
      shared: metricValue(m.text, 'mtm_api_publish_limit_checks_total', { granted_by: 'shared' }),
    };
  };
  const before = await counts();
  for (let i = 0; i < 30; i++) {
    const r = await call('POST', `/api/tenants/${tenant.id}/messages`, { base: fe2.baseUrl, json: { payload: i } });
    assert.equal(r.status, 202, describe(r));
  }
  const after = await counts();
  const got = { local: after.local - before.local, shared: after.shared - before.shared };
  assert.deepEqual(got, { local: 29, shared: 1 }, `30 sequential publishes: one draw of a chunk, then local: ${JSON.stringify({ before, after })}`);
});

test('Retry-After counts what the shared bucket lacks for the whole request', async () => {
  const tenant = await createTenant();
  // rate 2/s, burst 10: chunk 1. A batch of 10 empties the bucket; the next
  // batch of 10 needs 5 s of refill.
  let res = await call('PUT', `/api/tenants/${tenant.id}/config/rate_limit`, { json: { rate: 2, burst: 10 } });
  assert.equal(res.status, 200, describe(res));
  const batch = { messages: Array.from({ length: 10 }, (_, i) => ({ payload: i })) };
  res = await call('POST', `/api/tenants/${tenant.id}/messages`, { json: batch });
  assert.equal(res.status, 202, describe(res));
  for (const base of [stack.baseUrl, fe2.baseUrl]) {
    res = await call('POST', `/api/tenants/${tenant.id}/messages`, { base, json: batch });
    assertProblem(res, 429);
    const ra = Number(res.headers.get('retry-after'));
    assert.ok(ra === 5 || ra === 6, `Retry-After ${res.headers.get('retry-after')}, expected 5 (or 6 within the first ms): ${describe(res)}`);
  }
  // a single message needs half a second: Retry-After 1
  res = await call('POST', `/api/tenants/${tenant.id}/messages`, { base: fe2.baseUrl, json: { payload: 'one' } });
  assertProblem(res, 429);
  assert.equal(res.headers.get('retry-after'), '1', describe(res));
});
